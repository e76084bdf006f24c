// libFuzzer target: the fuzzer's bytes as a program of registry operations,
// run side by side on
//   - a model of SEMANTICS.md "Registry" written here (ordered maps of
//     HeatCounter, eviction by the smallest (last_update, last bump) found by
//     search, prune by the predicate),
//   - the scalar reference registry (BasicHeatRegistry, backend `scalar`),
//   - the same registry on a fast backend (`highway`, or `thrust-omp` where
//     it is built and can run),
//   - the same registry with a bump queue (on `scalar` or the fast backend),
//   - a ConcurrentHeatRegistry of 1 to 8 shards, used from one thread,
//     against a model of as many independent shards, each with its share of
//     the cap.
// The scalar registry must answer exactly what the model answers; the fast
// backends what the scalar registry answers, in the same order, rates within
// SEMANTICS.md "Numbers" (exactly, where both sides are scalar code); the
// queued registry exactly what direct application gives. The contract's
// invariants are checked directly as well: size <= cap, rates finite and
// >= 0, len equal to what for_each visits, no key in flight after the commit
// of its candidate, no candidate in flight before its tick when tracking is
// on, candidates' rates equal to their counters', no prunable counter left
// after a commit. Any mismatch prints what differed and aborts.
//
// Input layout: a few header bytes choose the registries (key kind, cap,
// in-flight tracking, hash seed, shards, backends, queue limit, policy,
// default half-life, how many "small" keys, the start instant); every byte
// after that starts an operation (bump, entry + bump at another instant,
// touch, decay, both bump_batch overloads, tick, commit of all or some of the
// last tick's candidates or of made-up emissions, rollback, remove, get,
// tracking on/off, a new queue limit, time moving in any direction, a flood
// of colliding keys). Keys come from a small set (repeats, evictions,
// removes), from a pool whose index hashes share their low bits (one home
// bucket: long probe runs, wrap-around at the table's end, tag scans), or
// from the input.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "registry/concurrent_registry.h"
#include "store/heat_counter.h"
#include "registry/key_hash.h"
#include "registry/registry.h"
#include "math/counter_math.h"
#include <heatkit/policy.h>
#include "math/random.h"
#include <heatkit/time.h>

namespace {

using heatkit::BlobKey;
using heatkit::Decision;
using heatkit::Duration;
using heatkit::HeatCounter;
using heatkit::HeatEmission;
using heatkit::Instant;
using heatkit::Policy;
using heatkit::RegistryOptions;

// Bounds that keep one input's run to milliseconds.
constexpr std::size_t kMaxOperations = 4096;
constexpr std::size_t kMaxBatch = 64;        // reads per bump_batch
constexpr std::size_t kMaxReads = 1u << 16;  // reads per input, all batches together
constexpr std::size_t kFullCheckEvery = 32;  // operations between full comparisons
constexpr std::size_t kMaxSmallKeys = 32;

// SEMANTICS.md "Numbers": rates of different backends agree within 1e-12
// relative. A literal decay multiplies factor by factor; two backends whose
// factors differ in the last bits drift apart by a few ulp per decay step,
// which the same section allows for n steps (8 ulp per tick here).
constexpr double kRateTolerance = 1e-12;
constexpr double kDriftPerTick = 8 * 0x1p-52;

// ---------------------------------------------------------------- failing

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_registries: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

std::string key_text(std::uint64_t key) { return std::to_string(key); }
std::string key_text(const BlobKey& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : key) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::string number_text(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

// ---------------------------------------------------------------- input

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  bool empty() const noexcept { return pos_ >= size_; }
  std::uint8_t byte() noexcept { return pos_ < size_ ? data_[pos_++] : 0; }
  // Little-endian. The low part is read first, in a statement of its own:
  // the operands of | are unsequenced, and every compiler must decode an
  // input alike (the corpus replays under GCC too).
  std::uint16_t u16() noexcept {
    const std::uint16_t low = byte();
    return static_cast<std::uint16_t>(low | byte() << 8);
  }
  std::uint32_t u32() noexcept {
    const std::uint32_t low = u16();
    return low | static_cast<std::uint32_t>(u16()) << 16;
  }
  std::uint64_t u64() noexcept {
    const std::uint64_t low = u32();
    return low | static_cast<std::uint64_t>(u32()) << 32;
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

// Instants on the full int64 range: sums wrap (defined through uint64), so
// time may jump from near the largest instant to near the smallest.
std::int64_t wrapping_add(std::int64_t t, std::int64_t d) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(t) + static_cast<std::uint64_t>(d));
}

constexpr std::int64_t kMaxNs = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMinNs = std::numeric_limits<std::int64_t>::min();

// A half-life: mostly the input's default, sometimes an awkward one (0, 1 ns,
// huge, negative: every registry must refuse a negative one alike).
std::int64_t read_half_life(Input& in, std::int64_t fallback) {
  const std::uint8_t b = in.byte();
  if (b < 176) return fallback;
  switch (b % 12) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return 2;
    case 3:
      return 1000;
    case 4:
      return 1'000'000'000;
    case 5:
      return 1'800'000'000'000;
    case 6:
      return kMaxNs;
    case 7:
      return static_cast<std::int64_t>(in.u32());
    case 8:
      return static_cast<std::int64_t>(in.u64() & static_cast<std::uint64_t>(kMaxNs));
    case 9:
      return -1;
    case 10:
      return kMinNs;
    default:
      return 3'000'000'000;
  }
}

// A signed step of time: small, seconds, minutes, huge, backwards.
std::int64_t read_step(Input& in) {
  const std::uint8_t b = in.byte();
  switch (b >> 5) {
    case 0:
      return b & 31;  // ns
    case 1:
      return static_cast<std::int64_t>(b & 31) * 1'000'000'000;  // s
    case 2:
      return static_cast<std::int64_t>(in.u16()) * 1'000'000;  // ms
    case 3:
      return -static_cast<std::int64_t>(b & 31);  // ns back
    case 4:
      return -static_cast<std::int64_t>(in.u16()) * 1'000'000;  // ms back
    case 5:
      return static_cast<std::int64_t>(in.u32()) * 1'000;  // up to 71 min
    case 6:
      return static_cast<std::int64_t>(in.u64());  // anywhere
    default:
      return static_cast<std::int64_t>(b & 31) * 600'000'000'000;  // 10 min steps
  }
}

// The instant an operation happens at: now, or near it.
std::int64_t read_instant(Input& in, std::int64_t now) {
  const std::uint8_t b = in.byte();
  if (b < 192) return now;
  switch (b & 7) {
    case 0:
      return kMaxNs - (b >> 3 & 7);
    case 1:
      return kMinNs + (b >> 3 & 7);
    case 2:
      return 0;
    default:
      return wrapping_add(now, read_step(in));
  }
}

// ---------------------------------------------------------------- keys

// The hash seed under which the flood pools below collide.
constexpr std::uint64_t kFloodSeed = 0x9e3779b97f4a7c15ULL;

// The hash the registry's index and the concurrent registry's shards use,
// under kFloodSeed.
template <class Key>
std::uint64_t flood_hash(const Key& key) {
  return heatkit::KeyHash(kFloodSeed)(key);
}

template <class Key>
Key key_from_word(std::uint64_t w, std::uint8_t variant) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    (void)variant;
    return w;
  } else {
    // Spread the word over the key's 32 bytes in a few ways, so every word
    // of the blob hash sees input.
    Key k{};
    switch (variant & 3) {
      case 0:
        std::memcpy(k.data(), &w, 8);
        break;
      case 1:
        std::memcpy(k.data() + 24, &w, 8);
        break;
      case 2:
        for (std::size_t i = 0; i < 4; ++i) std::memcpy(k.data() + 8 * i, &w, 8);
        break;
      default:
        for (std::size_t i = 0; i < 4; ++i) {
          const std::uint64_t word = heatkit::mix64(w + i);
          std::memcpy(k.data() + 8 * i, &word, 8);
        }
        break;
    }
    return k;
  }
}

// The small set: a few keys every input reuses, extremes included.
template <class Key>
Key small_key(std::size_t i) {
  static constexpr std::uint64_t kWords[] = {1, 2, 0, std::numeric_limits<std::uint64_t>::max(), 3};
  const std::uint64_t w = i < 5 ? kWords[i] : i;
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return w;
  } else {
    Key k{};
    if (w == std::numeric_limits<std::uint64_t>::max()) {
      k.fill(0xff);
    } else {
      std::memcpy(k.data(), &w, 8);
    }
    return k;
  }
}

// Keys whose flood_hash agree in the low kFloodBits bits: under kFloodSeed
// they share one home bucket in any index of up to 2^kFloodBits buckets
// (6,144 keys), with every bucket's wanted bits all 0 (`at_end` false: the
// table's first bucket) or all 1 (the last, where probe runs wrap around).
// Found by trying words in turn, grown on demand and kept for the process.
// read_key hands out the first kFreshFloodKeys: runs long enough to cross
// cache lines and wrap, short enough that walking them stays cheap. The
// flood operation adds kFloodOpKeys more, past kLongProbe, so the index
// rehashes under a fresh secret.
constexpr unsigned kFloodBits = 13;
constexpr std::size_t kFreshFloodKeys = 192;
constexpr std::size_t kFloodOpKeys = 1040;
static_assert(kFloodOpKeys > heatkit::kLongProbe + 8);
constexpr std::uint8_t kFloodMagic = 0xF1;

template <class Key>
const Key& flood_key(std::size_t i, bool at_end) {
  struct Pool {
    std::vector<Key> keys;
    std::uint64_t next_word = 0;
  };
  static Pool pools[2];
  Pool& pool = pools[at_end ? 1 : 0];
  constexpr std::uint64_t mask = (std::uint64_t{1} << kFloodBits) - 1;
  const std::uint64_t want = at_end ? mask : 0;
  while (pool.keys.size() <= i) {
    const Key k = key_from_word<Key>(pool.next_word++ * 0x9e3779b97f4a7c15ULL + 0x5eed, 0);
    if ((flood_hash(k) & mask) == want) pool.keys.push_back(k);
  }
  return pool.keys[i];
}

// A key: from the small set (most), the first 64 keys of the flood pool or
// the 16 at its end, the flood pool's next fresh key (a run's keys pile up
// in one bucket), or the input's 8 bytes.
template <class Key>
Key read_key(Input& in, std::size_t small_keys, std::size_t& next_flood) {
  const std::uint8_t b = in.byte();
  if (b < 144) return small_key<Key>(b % small_keys);
  if (b < 192) return flood_key<Key>(b - 144, false);
  if (b < 208) return flood_key<Key>(b - 192, true);
  if (b < 224) {
    next_flood = std::min(next_flood + 1, kFreshFloodKeys);
    return flood_key<Key>(next_flood - 1, false);
  }
  const std::uint8_t variant = in.byte();
  return key_from_word<Key>(in.u64(), variant);
}

// ---------------------------------------------------------------- config

struct Config {
  bool blob = false;
  std::size_t cap = 0;
  std::optional<bool> track_in_flight;
  bool track = false;  // what the registries resolve it to
  std::optional<std::uint64_t> hash_seed;
  std::size_t shards = 1;
  std::string fast_backend = "highway";
  std::string queue_backend = "scalar";
  std::size_t queue_limit = heatkit::kSuggestedBumpQueue;
  std::string concurrent_backend = "scalar";
  Policy policy;
  std::int64_t half_life = 1'000'000'000;
  std::size_t small_keys = 8;
  std::int64_t start = 0;
};

// The host backends other than the reference that can run here.
const std::vector<std::string>& fast_backends() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const heatkit::BackendInfo& b : heatkit::list_backends()) {
      if (b.available && (b.name == "highway" || b.name == "thrust-omp")) out.push_back(b.name);
    }
    if (out.empty()) fail("no fast host backend available (highway should always be)");
    return out;
  }();
  return names;
}

Policy read_policy_base(Input& in) {
  Policy p;
  p.decay_half_life = Duration(1'000'000'000);
  const std::uint8_t b = in.byte();
  static constexpr float kRatios[] = {2.0f, 1.5f, 1.01f, 10.0f, 3.0f, 1.25f, 4.0f, 2.5f};
  p.emit_threshold_ratio = kRatios[b & 7];
  if ((b >> 3 & 3) == 3) {
    // Any ratio in [1.01, 10].
    p.emit_threshold_ratio = 1.01f + 8.99f * static_cast<float>(in.u16()) / 65535.0f;
    p.emit_threshold_ratio =
        std::clamp(p.emit_threshold_ratio, Policy::kMinRatio, Policy::kMaxRatio);
  }
  p.enabled = (b >> 5) != 7;
  return p;
}

Config read_config(Input& in) {
  Config c;
  const std::uint8_t b0 = in.byte();
  c.blob = (b0 & 1) != 0;
  switch (b0 >> 1 & 3) {
    case 1:
      c.track_in_flight = true;
      break;
    case 2:
      c.track_in_flight = false;
      break;
    default:
      break;
  }
  c.track = c.track_in_flight.value_or(c.blob);
  switch (b0 >> 3 & 3) {
    case 0:
      break;  // each registry draws its own secret
    case 3:
      c.hash_seed = in.u64();
      break;
    default:
      c.hash_seed = kFloodSeed;
      break;
  }
  c.shards = std::size_t{1} << (b0 >> 5 & 3);

  static constexpr std::size_t kCaps[] = {
      0,  1,  2,  3,   4,   5,    8,    16,
      17, 31, 64, 100, 257, 1000, 4096, std::numeric_limits<std::size_t>::max()};
  const std::uint8_t b1 = in.byte();
  c.cap = b1 < 128 ? kCaps[b1 & 15] : in.u16() % 5000;

  const std::uint8_t b2 = in.byte();
  const auto& fast = fast_backends();
  c.fast_backend = fast[b2 % fast.size()];
  c.queue_backend = (b2 & 2) != 0 ? c.fast_backend : "scalar";
  static constexpr std::size_t kQueueLimits[] = {heatkit::kSuggestedBumpQueue, 1, 2, 3};
  c.queue_limit = kQueueLimits[b2 >> 2 & 3];
  c.concurrent_backend = (b2 & 16) != 0 ? c.fast_backend : "scalar";

  c.policy = read_policy_base(in);
  c.half_life = read_half_life(in, 1'000'000'000);
  if (c.half_life < 0) c.half_life = 1'000'000'000;  // the default must be usable
  c.small_keys = 1 + in.byte() % kMaxSmallKeys;
  const std::uint8_t b3 = in.byte();
  switch (b3 & 3) {
    case 0:
      c.start = 1'000'000'000'000'000;
      break;
    case 1:
      c.start = 0;
      break;
    case 2:
      c.start = kMaxNs - (b3 >> 2);
      break;
    default:
      c.start = static_cast<std::int64_t>(in.u64());
      break;
  }
  return c;
}

RegistryOptions options_for(const Config& c, const std::string& backend) {
  RegistryOptions o;
  o.cap = c.cap;
  o.track_in_flight = c.track_in_flight;
  o.backend = backend;
  o.threads = 1;
  o.hash_seed = c.hash_seed;  // unset: each registry draws its own secret
  return o;
}

// ---------------------------------------------------------------- comparing

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool rates_close(double a, double b, double tolerance) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= tolerance * std::max(std::fabs(a), std::fabs(b));
}

bool optional_close(const std::optional<double>& a, const std::optional<double>& b, double tol) {
  if (a.has_value() != b.has_value()) return false;
  return !a || rates_close(*a, *b, tol);
}

// One counter as a registry shows it.
struct Seen {
  double rate = 0;
  std::int64_t last_update = 0;
  std::optional<double> last_emitted;
  std::int64_t half_life = 0;
  bool in_flight = false;
};

Seen seen_of(const HeatCounter& c, bool in_flight) {
  return Seen{c.rate(), heatkit::to_ns(c.last_update()), c.last_emitted(),
              heatkit::to_ns(c.half_life()), in_flight};
}

std::string seen_text(const std::optional<Seen>& s) {
  if (!s) return "absent";
  return "rate " + number_text(s->rate) + " last_update " + std::to_string(s->last_update) +
         " last_emitted " +
         (s->last_emitted ? number_text(*s->last_emitted) : std::string("none")) + " half_life " +
         std::to_string(s->half_life) + (s->in_flight ? " in flight" : "");
}

// How a subject's view of a counter compares with the reference's.
enum class Agreement { kSame, kTie, kDiffer };

// Exact: every field equal. Otherwise rates and last emissions within
// `tol`; and a rate that one side snapped to 0 while the other kept just
// above f64 epsilon is a tie (SEMANTICS.md "Numbers"), after which the two
// may part ways legitimately.
Agreement compare_seen(const std::optional<Seen>& want, const std::optional<Seen>& got, bool exact,
                       double tol) {
  if (want.has_value() != got.has_value()) return Agreement::kDiffer;
  if (!want) return Agreement::kSame;
  if (want->last_update != got->last_update || want->half_life != got->half_life ||
      want->in_flight != got->in_flight ||
      want->last_emitted.has_value() != got->last_emitted.has_value()) {
    return Agreement::kDiffer;
  }
  if (exact) {
    const bool same = same_double(want->rate, got->rate) &&
                      (!want->last_emitted || same_double(*want->last_emitted, *got->last_emitted));
    return same ? Agreement::kSame : Agreement::kDiffer;
  }
  if (!optional_close(want->last_emitted, got->last_emitted, tol)) return Agreement::kDiffer;
  if (rates_close(want->rate, got->rate, tol)) return Agreement::kSame;
  const double lo = std::min(want->rate, got->rate), hi = std::max(want->rate, got->rate);
  if (lo == 0.0 && hi <= heatkit::kRateEpsilon * (1 + tol)) return Agreement::kTie;
  return Agreement::kDiffer;
}

// Thrown to stop driving a subject whose answers parted from the
// reference's at a tie: both are right, and they may differ from then on.
struct Tie {};

// ---------------------------------------------------------------- the model

// SEMANTICS.md "Registry" in the plainest terms: an ordered map per shard,
// eviction by searching the smallest (last_update, last bump), prune by the
// predicate. With several shards it is the contract of "Sharded and
// distributed registries": independent registries with cap / shards each.
template <class Key>
class Model {
 public:
  using Emissions = std::vector<std::pair<Key, HeatEmission>>;
  struct Counter {
    HeatCounter counter;
    bool in_flight = false;
    std::uint64_t order = 0;  // call order of its creation or last bump
  };

  Model(std::size_t shards, std::size_t shard_cap, bool track) : shards_(shards), track_(track) {
    for (Shard& s : shards_) s.cap = shard_cap;
  }
  void set_route(std::function<std::size_t(const Key&)> route) { route_ = std::move(route); }
  void set_track(bool on) { track_ = on; }

  const Counter* find(const Key& key) const {
    const Shard& s = shards_[route_(key)];
    const auto it = s.counters.find(key);
    return it == s.counters.end() ? nullptr : &it->second;
  }
  std::optional<Seen> seen(const Key& key) const {
    const Counter* c = find(key);
    if (!c) return std::nullopt;
    return seen_of(c->counter, c->in_flight);
  }
  std::size_t size() const {
    std::size_t n = 0;
    for (const Shard& s : shards_) n += s.counters.size();
    return n;
  }
  std::size_t shard_size(std::size_t s) const { return shards_[s].counters.size(); }
  std::uint64_t evictions() const { return evictions_; }
  std::uint64_t pruned() const { return pruned_; }

  // Every counter, by key.
  std::map<Key, Seen> all() const {
    std::map<Key, Seen> out;
    for (const Shard& s : shards_) {
      for (const auto& [key, c] : s.counters) out.emplace(key, seen_of(c.counter, c.in_flight));
    }
    return out;
  }

  void entry(const Key& key, std::int64_t half_life, std::int64_t now) {
    Shard& s = shards_[route_(key)];
    if (s.counters.count(key)) return;
    if (s.cap > 0 && s.counters.size() >= s.cap) {
      // The victim: smallest last_update, then earliest bump or creation.
      const auto victim = s.lru.begin();
      s.counters.erase(std::get<2>(*victim));
      s.lru.erase(victim);
      ++evictions_;
    }
    const Counter c{HeatCounter(Duration(half_life), heatkit::instant_from_ns(now)), false,
                    ++order_};
    s.counters.emplace(key, c);
    s.lru.emplace(now, c.order, key);
  }
  void bump(const Key& key, std::int64_t half_life, std::int64_t at, std::int64_t bump_at) {
    entry(key, half_life, at);
    change(key, [&](Counter& c) {
      c.counter.bump(heatkit::instant_from_ns(bump_at));
      c.order = ++order_;
    });
  }
  void decay(const Key& key, std::int64_t half_life, std::int64_t at, std::int64_t decay_at) {
    entry(key, half_life, at);
    change(key, [&](Counter& c) { c.counter.decay_to(heatkit::instant_from_ns(decay_at)); });
  }

  // The candidates, sorted by key.
  Emissions tick(const Policy& policy, std::int64_t now) {
    Emissions out;
    for (Shard& s : shards_) {
      s.lru.clear();
      for (auto& [key, c] : s.counters) {
        c.counter.decay_to(heatkit::instant_from_ns(now));
        s.lru.emplace(now, c.order, key);
        if (track_ && c.in_flight) continue;
        const auto last = c.counter.last_emitted();
        const Decision d = heatkit::emission_decision(
            c.counter.rate(), last.has_value(), last.value_or(0.0), policy.enabled,
            static_cast<double>(policy.emit_threshold_ratio));
        if (d == Decision::kSuppress) continue;
        out.emplace_back(key, d == Decision::kEmit ? HeatEmission::emit(c.counter.rate())
                                                   : HeatEmission::withdraw());
        if (track_) c.in_flight = true;
      }
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    for (const auto& [key, e] : emissions) {
      Shard& s = shards_[route_(key)];
      const auto it = s.counters.find(key);
      if (it == s.counters.end()) continue;
      if (e.kind == Decision::kEmit) it->second.counter.record_emission(e.rate);
      if (e.kind == Decision::kWithdraw) it->second.counter.record_withdrawal();
      it->second.in_flight = false;
    }
    for (Shard& s : shards_) {
      for (auto it = s.counters.begin(); it != s.counters.end();) {
        const HeatCounter& c = it->second.counter;
        const auto last = c.last_emitted();
        if (heatkit::is_prunable(c.rate(), last.has_value(), last.value_or(0.0))) {
          s.lru.erase({heatkit::to_ns(c.last_update()), it->second.order, it->first});
          it = s.counters.erase(it);
          ++pruned_;
        } else {
          ++it;
        }
      }
    }
  }
  void rollback(const Key& key) {
    Shard& s = shards_[route_(key)];
    if (const auto it = s.counters.find(key); it != s.counters.end()) it->second.in_flight = false;
  }
  void remove(const Key& key) {
    Shard& s = shards_[route_(key)];
    const auto it = s.counters.find(key);
    if (it == s.counters.end()) return;
    s.lru.erase({heatkit::to_ns(it->second.counter.last_update()), it->second.order, key});
    s.counters.erase(it);
  }

 private:
  struct Shard {
    std::size_t cap = 0;
    std::map<Key, Counter> counters;
    std::set<std::tuple<std::int64_t, std::uint64_t, Key>> lru;  // (last_update, order, key)
  };
  template <class F>
  void change(const Key& key, F&& f) {
    Shard& s = shards_[route_(key)];
    Counter& c = s.counters.at(key);
    s.lru.erase({heatkit::to_ns(c.counter.last_update()), c.order, key});
    f(c);
    s.lru.emplace(heatkit::to_ns(c.counter.last_update()), c.order, key);
  }

  std::vector<Shard> shards_;
  std::function<std::size_t(const Key&)> route_ = [](const Key&) { return std::size_t{0}; };
  bool track_;
  std::uint64_t order_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t pruned_ = 0;
};

// ---------------------------------------------------------------- one run

template <class Key>
class Run {
 public:
  using Registry = heatkit::BasicHeatRegistry<Key>;
  using Concurrent = heatkit::ConcurrentHeatRegistryOf<Key>;
  using Emissions = typename Registry::Emissions;

  explicit Run(const Config& c)
      : config_(c),
        model_(1, c.cap, c.track),
        scalar_(options_for(c, "scalar")),
        fast_(options_for(c, c.fast_backend)),
        queued_(queued_options(c)),
        concurrent_(options_for(c, c.concurrent_backend), c.shards),
        sharded_model_(c.shards, concurrent_.shard_cap(), c.track),
        ever_tracked_(c.track),
        now_(c.start) {
    sharded_model_.set_route([this](const Key& k) { return concurrent_.shard_of(k); });
    if (scalar_.tracks_in_flight() != c.track || fast_.tracks_in_flight() != c.track ||
        concurrent_.tracks_in_flight() != c.track) {
      fail("in-flight tracking is not what the options asked for");
    }
    if (c.hash_seed &&
        (scalar_.hash_seed() != *c.hash_seed || concurrent_.hash_seed() != *c.hash_seed)) {
      fail("the hash seed is not what the options asked for");
    }
    // The shard cap is ceil(cap / shards); a cap so large that the sum
    // overflows may come out unbounded, which holds the same keys here.
    const std::size_t want_shard_cap = c.cap / c.shards + (c.cap % c.shards != 0);
    if (concurrent_.shard_cap() != want_shard_cap &&
        !(concurrent_.shard_cap() == 0 && want_shard_cap > (std::size_t{1} << 40))) {
      fail("shard_cap " + std::to_string(concurrent_.shard_cap()) + ", expected ceil(" +
           std::to_string(c.cap) + " / " + std::to_string(c.shards) + ")");
    }
  }

  void run(Input& in) {
    for (op_ = 0; op_ < kMaxOperations && !in.empty(); ++op_) {
      step(in);
      if (op_ % kFullCheckEvery == kFullCheckEvery - 1) full_check();
    }
    full_check();
  }

 private:
  static RegistryOptions queued_options(const Config& c) {
    RegistryOptions o = options_for(c, c.queue_backend);
    o.bump_queue = c.queue_limit;
    return o;
  }

  double tolerance() const { return kRateTolerance + static_cast<double>(ticks_) * kDriftPerTick; }
  bool fast_exact() const { return config_.fast_backend == "scalar"; }
  bool queued_exact() const { return config_.queue_backend == "scalar"; }
  bool concurrent_exact() const { return config_.concurrent_backend == "scalar"; }

  [[noreturn]] void fail_at(const std::string& what) const {
    fail("operation " + std::to_string(op_) + " (" + op_name_ + "): " + what);
  }

  // Runs f on the scalar registry and on each BasicHeatRegistry subject
  // still driven (one dropped at a tie is left alone from then on).
  template <class F>
  void on_basic_registries(F&& f) {
    f(scalar_, "scalar");
    if (fast_alive_) f(fast_, "fast");
    if (queued_alive_) f(queued_, "queued");
  }

  // Each of f's calls must throw E, and nothing may change.
  template <class E, class F>
  void expect_throw(const char* what, F&& f) {
    try {
      f();
    } catch (const E&) {
      return;
    }
    fail_at(std::string("expected a throw: ") + what);
  }

  std::optional<Seen> seen_in(const Registry& r, const Key& key) const {
    const auto c = r.get(key);
    if (!c) {
      if (r.in_flight(key)) fail_at("an absent key is in flight");
      return std::nullopt;
    }
    return seen_of(*c, r.in_flight(key));
  }
  std::optional<Seen> seen_in(const Concurrent& r, const Key& key) const {
    const auto c = r.get(key);
    if (c.has_value() != r.contains(key)) fail_at("concurrent get and contains disagree");
    if (!c) {
      if (r.in_flight(key)) fail_at("an absent key is in flight");
      return std::nullopt;
    }
    return seen_of(*c, r.in_flight(key));
  }

  void check_counter_invariants(const Key& key, const std::optional<Seen>& s,
                                const char* who) const {
    if (!s) return;
    if (!std::isfinite(s->rate) || s->rate < 0) {
      fail_at(std::string(who) + ": key " + key_text(key) + " has rate " + number_text(s->rate));
    }
    if (s->half_life < 0) fail_at(std::string(who) + ": negative half-life");
    if (s->in_flight && !config_.track && !ever_tracked_) {
      fail_at(std::string(who) + ": key " + key_text(key) + " in flight with tracking never on");
    }
  }

  // Compares one key everywhere. `queue_may_wait`: the operation was an
  // entry() on the queued registry, whose read may still wait: leave it
  // alone (a get would apply its queue, and every read would then run
  // alone, which is not what a queue is for).
  void check_key(const Key& key, bool queue_may_wait) {
    const auto want = model_.seen(key);
    const auto got = seen_in(scalar_, key);
    check_counter_invariants(key, got, "scalar");
    if (compare_seen(want, got, true, 0) != Agreement::kSame) {
      fail_at("key " + key_text(key) + ": model " + seen_text(want) + ", scalar " + seen_text(got));
    }
    compare_subject(fast_, fast_alive_, fast_exact(), key, got, "fast");
    if (!queue_may_wait)
      compare_subject(queued_, queued_alive_, queued_exact(), key, got, "queued");
    if (concurrent_alive_) {
      const auto want_c = sharded_model_.seen(key);
      const auto got_c = seen_in(concurrent_, key);
      check_counter_invariants(key, got_c, "concurrent");
      switch (compare_seen(want_c, got_c, concurrent_exact(), tolerance())) {
        case Agreement::kSame:
          break;
        case Agreement::kTie:
          concurrent_alive_ = false;
          break;
        case Agreement::kDiffer:
          fail_at("key " + key_text(key) + ": sharded model " + seen_text(want_c) +
                  ", concurrent (" + config_.concurrent_backend + ") " + seen_text(got_c));
      }
    }
  }
  void compare_subject(const Registry& r, bool& alive, bool exact, const Key& key,
                       const std::optional<Seen>& want, const char* who) {
    if (!alive) return;
    const auto got = seen_in(r, key);
    check_counter_invariants(key, got, who);
    switch (compare_seen(want, got, exact, tolerance())) {
      case Agreement::kSame:
        return;
      case Agreement::kTie:
        alive = false;
        return;
      case Agreement::kDiffer:
        fail_at("key " + key_text(key) + ": scalar " + seen_text(want) + ", " + who + " (" +
                std::string(r.backend()) + ") " + seen_text(got));
    }
  }

  void check_sizes(bool queue_may_wait) {
    const std::size_t n = model_.size();
    if (scalar_.size() != n)
      fail_at("scalar size " + std::to_string(scalar_.size()) + ", model " + std::to_string(n));
    if (config_.cap > 0 && n > config_.cap) fail_at("model above the cap");
    if (fast_alive_ && fast_.size() != n)
      fail_at("fast size " + std::to_string(fast_.size()) + ", model " + std::to_string(n));
    if (queued_alive_ && !queue_may_wait && queued_.size() != n) {
      fail_at("queued size " + std::to_string(queued_.size()) + ", model " + std::to_string(n));
    }
    if (queued_.queued_reads() > queued_.bump_queue()) fail_at("more reads queued than the limit");
    if (scalar_.stats().evictions != model_.evictions() ||
        scalar_.stats().pruned != model_.pruned()) {
      fail_at("scalar stats (evictions " + std::to_string(scalar_.stats().evictions) + ", pruned " +
              std::to_string(scalar_.stats().pruned) + ") differ from the model's (" +
              std::to_string(model_.evictions()) + ", " + std::to_string(model_.pruned()) + ")");
    }
    if (concurrent_alive_) {
      if (concurrent_.size() != sharded_model_.size()) {
        fail_at("concurrent size " + std::to_string(concurrent_.size()) + ", sharded model " +
                std::to_string(sharded_model_.size()));
      }
      const auto stats = concurrent_.stats();
      if (stats.evictions != sharded_model_.evictions() ||
          stats.pruned != sharded_model_.pruned()) {
        fail_at("concurrent stats differ from the sharded model's");
      }
    }
  }

  // Every counter everywhere, and the invariants over all of them.
  void full_check() {
    const auto want = model_.all();
    const auto scalar = all_of(scalar_, "scalar");
    compare_all(want, scalar, true, "model", "scalar");
    if (fast_alive_)
      fast_alive_ = compare_all(scalar, all_of(fast_, "fast"), fast_exact(), "scalar", "fast");
    if (queued_alive_) {
      queued_alive_ =
          compare_all(scalar, all_of(queued_, "queued"), queued_exact(), "scalar", "queued");
      if (queued_.queued_reads() != 0) fail_at("for_each left reads queued");
    }
    if (concurrent_alive_) {
      const auto want_c = sharded_model_.all();
      std::map<Key, Seen> got_c;
      std::vector<std::size_t> per_shard(config_.shards);
      concurrent_.for_each([&](const Key& key, const HeatCounter& c) {
        if (!got_c.emplace(key, seen_of(c, false)).second)
          fail_at("concurrent for_each visits a key twice");
        ++per_shard[concurrent_.shard_of(key)];
      });
      for (auto& [key, s] : got_c) s.in_flight = concurrent_.in_flight(key);
      if (got_c.size() != concurrent_.size())
        fail_at("concurrent for_each count differs from size()");
      for (std::size_t s = 0; s < config_.shards; ++s) {
        if (concurrent_.shard_cap() > 0 && per_shard[s] > concurrent_.shard_cap()) {
          fail_at("shard " + std::to_string(s) + " holds more than its cap");
        }
        if (per_shard[s] != sharded_model_.shard_size(s))
          fail_at("shard sizes differ from the model's");
      }
      concurrent_alive_ =
          compare_all(want_c, got_c, concurrent_exact(), "sharded model", "concurrent");
    }
    check_sizes(false);
  }

  std::map<Key, Seen> all_of(const Registry& r, const char* who) {
    std::map<Key, Seen> out;
    r.for_each([&](const Key& key, const HeatCounter& c) {
      if (!out.emplace(key, seen_of(c, false)).second)
        fail_at(std::string(who) + ": for_each visits a key twice");
    });
    for (auto& [key, s] : out) {
      s.in_flight = r.in_flight(key);
      check_counter_invariants(key, s, who);
      const auto again = r.get(key);
      if (!again || !same_double(again->rate(), s.rate))
        fail_at(std::string(who) + ": for_each and get disagree");
    }
    if (out.size() != r.size()) {
      fail_at(std::string(who) + ": len " + std::to_string(r.size()) + " but for_each visits " +
              std::to_string(out.size()));
    }
    if (config_.cap > 0 && out.size() > config_.cap) fail_at(std::string(who) + ": above the cap");
    if (r.index_stats().keys != out.size()) {
      fail_at(std::string(who) + ": the index holds " + std::to_string(r.index_stats().keys) +
              " keys, for_each visits " + std::to_string(out.size()));
    }
    const heatkit::MemoryUsage m = r.memory_usage();
    if (!out.empty() && (m.columns == 0 || m.keys == 0 || m.index == 0)) {
      fail_at(std::string(who) + ": memory_usage misses parts of a non-empty registry");
    }
    return out;
  }

  // False when the two part at a tie (drop the subject); aborts on a real
  // difference.
  bool compare_all(const std::map<Key, Seen>& want, const std::map<Key, Seen>& got, bool exact,
                   const char* want_name, const char* got_name) {
    auto w = want.begin();
    auto g = got.begin();
    bool tie = false;
    for (; w != want.end() && g != got.end(); ++w, ++g) {
      if (w->first != g->first) break;
      switch (compare_seen(w->second, g->second, exact, exact ? 0 : tolerance())) {
        case Agreement::kSame:
          break;
        case Agreement::kTie:
          tie = true;
          break;
        case Agreement::kDiffer:
          fail_at(std::string("key ") + key_text(w->first) + ": " + want_name + " " +
                  seen_text(w->second) + ", " + got_name + " " + seen_text(g->second));
      }
    }
    if (w != want.end() || g != got.end()) {
      fail_at(std::string(want_name) + " and " + got_name + " hold different keys (" +
              (w != want.end() ? want_name + std::string(" has ") + key_text(w->first)
                               : got_name + std::string(" has ") + key_text(g->first)) +
              ")");
    }
    return !tie;
  }

  // ---------------------------------------------------------- operations

  // An operation's code: its low 5 bits pick it (the common ones own
  // several values), the top 3 are flags some operations read.
  enum class Op : std::uint8_t {
    kBump,
    kTouch,
    kDecay,
    kBatch,
    kTimedBatch,
    kTick,
    kCommitAll,
    kCommitSome,
    kCommitMadeUp,
    kRollback,
    kRemove,
    kGet,
    kTime,
    kTrack,
    kQueueLimit,
    kFlood,
  };
  static constexpr Op kOps[32] = {
      Op::kBump,       Op::kBump,         Op::kBump,       Op::kBump,      Op::kBump,
      Op::kTouch,      Op::kTouch,        Op::kDecay,      Op::kDecay,     Op::kBatch,
      Op::kBatch,      Op::kTimedBatch,   Op::kTimedBatch, Op::kTick,      Op::kTick,
      Op::kTick,       Op::kTick,         Op::kCommitAll,  Op::kCommitAll, Op::kCommitSome,
      Op::kCommitSome, Op::kCommitMadeUp, Op::kRollback,   Op::kRollback,  Op::kRemove,
      Op::kRemove,     Op::kGet,          Op::kTime,       Op::kTime,      Op::kTrack,
      Op::kQueueLimit, Op::kFlood,
  };

  void step(Input& in) {
    const std::uint8_t code = in.byte();
    switch (kOps[code & 31]) {
      case Op::kBump:
        bump(in, code);
        break;
      case Op::kTouch:
        touch(in);
        break;
      case Op::kDecay:
        decay(in);
        break;
      case Op::kBatch:
        batch_at_now(in);
        break;
      case Op::kTimedBatch:
        batch_timed(in);
        break;
      case Op::kTick:
        tick(in);
        break;
      case Op::kCommitAll:
        commit_all();
        break;
      case Op::kCommitSome:
        commit_some(in);
        break;
      case Op::kCommitMadeUp:
        commit_made_up(in);
        break;
      case Op::kRollback:
        rollback(in);
        break;
      case Op::kRemove:
        remove(in);
        break;
      case Op::kGet:
        get(in);
        break;
      case Op::kTime:
        now_ = wrapping_add(now_, read_step(in));
        op_name_ = "time";
        break;
      case Op::kTrack:
        track(in);
        break;
      case Op::kQueueLimit:
        queue_limit(in);
        break;
      case Op::kFlood:
        flood(in);
        break;
    }
  }

  // kFloodOpKeys fresh keys of the flood pool, each read once: the
  // reference by entry().bump(), the fast registry and the concurrent one
  // by bump_batch, the queued one through its queue. Under kFloodSeed they
  // share a home bucket until a probe run passes kLongProbe and the index
  // rehashes under a fresh secret: inside a batch, inside the application
  // of the queue, inside a single read; nothing any registry answers may
  // change. Only once, after a magic byte (so that random inputs seldom
  // pay for a thousand colliding inserts), with one shard and room for
  // every key: otherwise the keys would stay colliding, and every later
  // look-up would walk their run.
  void flood(Input& in) {
    op_name_ = "flood";
    if (in.byte() != kFloodMagic || flooded_ || config_.shards != 1) return;
    if (config_.cap != 0 && config_.cap - std::min(config_.cap, model_.size()) < kFloodOpKeys)
      return;
    flooded_ = true;
    std::vector<Key> keys;
    keys.reserve(kFloodOpKeys);
    for (std::size_t i = 0; i < kFloodOpKeys; ++i)
      keys.push_back(flood_key<Key>(kFreshFloodKeys + i, false));
    const Instant t = heatkit::instant_from_ns(now_);
    const Duration h(config_.half_life);
    for (const Key& k : keys) {
      model_.bump(k, config_.half_life, now_, now_);
      sharded_model_.bump(k, config_.half_life, now_, now_);
      scalar_.entry(k, h, t).bump(t);
      if (queued_alive_) queued_.entry(k, h, t).bump(t);
    }
    if (fast_alive_) fast_.bump_batch(keys, h, t);
    if (concurrent_alive_) concurrent_.bump_batch(keys, h, t);
    // The pool's keys share their low kFloodBits bits: one bucket while the
    // index has at most 2^kFloodBits buckets, which it does while it has
    // slots for at most 4,096 keys (entries_ bounds the keys ever created).
    entries_ += kFloodOpKeys;
    if (config_.hash_seed == kFloodSeed && entries_ <= 4096 && scalar_.stats().hash_reseeds == 0) {
      fail_at("a flood of colliding keys did not make the index rehash: do they still collide?");
    }
    check_batch_keys(keys);
    full_check();
  }

  // entry(key).bump(at), on every registry. The reference (scalar) and the
  // subjects take different but equivalent calls (bump_batch of one read,
  // the concurrent registry's bump or with_entry).
  void bump(Input& in, std::uint8_t code) {
    op_name_ = "bump";
    ++entries_;
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    const std::int64_t hl = read_half_life(in, config_.half_life);
    const std::int64_t at = read_instant(in, now_);
    const std::int64_t bump_at = (code & 32) != 0 ? read_instant(in, at) : at;
    const Instant t = heatkit::instant_from_ns(at), tb = heatkit::instant_from_ns(bump_at);
    const Duration h(hl);
    if (hl < 0) {
      on_basic_registries([&](Registry& r, const char*) {
        expect_throw<std::invalid_argument>("entry, negative half-life",
                                            [&] { r.entry(key, h, t).bump(tb); });
      });
      if (concurrent_alive_) {
        expect_throw<std::invalid_argument>("concurrent bump, negative half-life",
                                            [&] { concurrent_.bump(key, h, t); });
      }
      check_key(key, false);
      return;
    }
    model_.bump(key, hl, at, bump_at);
    on_basic_registries([&](Registry& r, const char*) {
      if (at == bump_at && (code & 64) != 0) {
        r.bump_batch(std::span<const Key>(&key, 1), h, t);
      } else {
        r.entry(key, h, t).bump(tb);
      }
    });
    sharded_model_.bump(key, hl, at, bump_at);
    if (concurrent_alive_) {
      if (at == bump_at && (code & 128) != 0) {
        concurrent_.bump(key, h, t);
      } else {
        concurrent_.with_entry(key, h, t, [&](typename Concurrent::Entry& e) { e.bump(tb); });
      }
    }
    check_key(key, true);
    check_sizes(true);
  }

  void touch(Input& in) {
    op_name_ = "touch";
    ++entries_;
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    std::int64_t hl = read_half_life(in, config_.half_life);
    if (hl < 0) hl = config_.half_life;
    const std::int64_t at = read_instant(in, now_);
    const Instant t = heatkit::instant_from_ns(at);
    model_.entry(key, hl, at);
    on_basic_registries([&](Registry& r, const char*) { (void)r.entry(key, Duration(hl), t); });
    sharded_model_.entry(key, hl, at);
    if (concurrent_alive_) concurrent_.with_entry(key, Duration(hl), t, [](auto&) {});
    check_key(key, true);
    check_sizes(true);
  }

  // entry(key).decay_to(at): creates an absent key, as entry() does.
  void decay(Input& in) {
    op_name_ = "decay";
    ++entries_;
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    std::int64_t hl = read_half_life(in, config_.half_life);
    if (hl < 0) hl = config_.half_life;
    const std::int64_t at = read_instant(in, now_);
    const std::int64_t decay_at = read_instant(in, at);
    const Instant t = heatkit::instant_from_ns(at), td = heatkit::instant_from_ns(decay_at);
    model_.decay(key, hl, at, decay_at);
    on_basic_registries(
        [&](Registry& r, const char*) { r.entry(key, Duration(hl), t).decay_to(td); });
    sharded_model_.decay(key, hl, at, decay_at);
    if (concurrent_alive_) {
      concurrent_.with_entry(key, Duration(hl), t,
                             [&](typename Concurrent::Entry& e) { e.decay_to(td); });
    }
    check_key(key, false);
    check_sizes(false);
  }

  // The first and last few keys of a batch (every key is compared at the
  // next full check: a flooded index makes each look-up long).
  void check_batch_keys(std::span<const Key> keys) {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i < 4 || i + 4 >= keys.size()) check_key(keys[i], false);
    }
  }

  std::vector<Key> read_keys(Input& in) {
    std::size_t n = in.byte() % (kMaxBatch + 1);
    n = std::min(n, kMaxReads - std::min(kMaxReads, reads_));
    reads_ += n;
    entries_ += n;
    std::vector<Key> keys;
    keys.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      keys.push_back(read_key<Key>(in, config_.small_keys, next_flood_));
    return keys;
  }

  void batch_at_now(Input& in) {
    op_name_ = "bump_batch";
    const std::vector<Key> keys = read_keys(in);
    const std::int64_t hl = read_half_life(in, config_.half_life);
    const std::int64_t at = read_instant(in, now_);
    const Instant t = heatkit::instant_from_ns(at);
    const Duration h(hl);
    if (hl < 0) {
      on_basic_registries([&](Registry& r, const char*) {
        expect_throw<std::invalid_argument>("bump_batch, negative half-life",
                                            [&] { r.bump_batch(keys, h, t); });
      });
      if (concurrent_alive_) {
        expect_throw<std::invalid_argument>("concurrent bump_batch",
                                            [&] { concurrent_.bump_batch(keys, h, t); });
      }
    } else {
      for (const Key& k : keys) {
        model_.bump(k, hl, at, at);
        sharded_model_.bump(k, hl, at, at);
      }
      on_basic_registries([&](Registry& r, const char*) { r.bump_batch(keys, h, t); });
      if (concurrent_alive_) concurrent_.bump_batch(keys, h, t);
    }
    check_batch_keys(keys);
    check_sizes(false);
  }

  void batch_timed(Input& in) {
    op_name_ = "bump_batch (timed)";
    const std::vector<Key> keys = read_keys(in);
    const std::int64_t hl = read_half_life(in, config_.half_life);
    std::vector<std::pair<Key, Instant>> reads;
    reads.reserve(keys.size());
    std::int64_t at = now_;
    for (const Key& k : keys) {
      // Each read near the one before: forwards, backwards, or jumping.
      const std::uint8_t b = in.byte();
      if (b >= 128)
        at = wrapping_add(at, b < 240 ? static_cast<std::int64_t>(b) - 184 : read_step(in));
      reads.emplace_back(k, heatkit::instant_from_ns(at));
    }
    const Duration h(hl);
    if (hl < 0) {
      on_basic_registries([&](Registry& r, const char*) {
        expect_throw<std::invalid_argument>("timed bump_batch, negative half-life",
                                            [&] { r.bump_batch(reads, h); });
      });
      if (concurrent_alive_) {
        expect_throw<std::invalid_argument>("concurrent timed bump_batch",
                                            [&] { concurrent_.bump_batch(reads, h); });
      }
    } else {
      for (const auto& [k, t] : reads) {
        model_.bump(k, hl, heatkit::to_ns(t), heatkit::to_ns(t));
        sharded_model_.bump(k, hl, heatkit::to_ns(t), heatkit::to_ns(t));
      }
      on_basic_registries([&](Registry& r, const char*) { r.bump_batch(reads, h); });
      if (concurrent_alive_) concurrent_.bump_batch(reads, h);
    }
    check_batch_keys(keys);
    check_sizes(false);
  }

  Policy read_tick_policy(Input& in) {
    Policy p = config_.policy;
    const std::uint8_t b = in.byte();
    if (b < 192) return p;
    switch (b & 15) {
      case 0:
        p.enabled = !p.enabled;
        break;
      case 1:
        p.emit_threshold_ratio = Policy::kMinRatio;
        break;
      case 2:
        p.emit_threshold_ratio = Policy::kMaxRatio;
        break;
      case 3:
        p.emit_threshold_ratio = 2.0f;
        break;
      // Invalid policies: every registry refuses them alike.
      case 4:
        p.emit_threshold_ratio = 1.0f;
        break;
      case 5:
        p.emit_threshold_ratio = std::numeric_limits<float>::quiet_NaN();
        break;
      case 6:
        p.emit_threshold_ratio = std::numeric_limits<float>::infinity();
        break;
      case 7:
        p.decay_half_life = Duration(0);
        break;
      case 8:
        p.decay_half_life = Duration(-5);
        break;
      case 9:
        p.emit_threshold_ratio = 10.5f;
        break;
      default:
        p.emit_threshold_ratio = 1.01f + static_cast<float>(b & 7);
        break;
    }
    return p;
  }

  void tick(Input& in) {
    op_name_ = "tick";
    const Policy policy = read_tick_policy(in);
    const std::int64_t at = read_instant(in, now_);
    const Instant t = heatkit::instant_from_ns(at);
    if (heatkit::validate(policy)) {
      // The result vector is left as it was.
      const Emissions sentinel{{small_key<Key>(0), HeatEmission::withdraw()}};
      on_basic_registries([&](Registry& r, const char*) {
        Emissions out = sentinel;
        expect_throw<heatkit::InvalidPolicy>("tick, invalid policy",
                                             [&] { r.tick(policy, t, out); });
        if (out.size() != 1 || out[0].first != sentinel[0].first)
          fail_at("an invalid policy changed tick's result");
      });
      if (concurrent_alive_) {
        Emissions out = sentinel;
        expect_throw<heatkit::InvalidPolicy>("concurrent tick, invalid policy",
                                             [&] { concurrent_.tick(policy, t, out); });
        if (out.size() != 1) fail_at("an invalid policy changed the concurrent tick's result");
      }
      check_sizes(false);
      return;
    }
    ++ticks_;
    // In flight before the tick: with tracking on, none of these may be a candidate.
    std::set<Key> in_flight_before;
    if (config_.track) {
      for (const auto& [key, s] : model_.all()) {
        if (s.in_flight) in_flight_before.insert(key);
      }
    }
    const Emissions want = model_.tick(policy, at);
    // Reusing a vector (tick into `out`) and a fresh one must not differ.
    if ((op_ & 1) != 0) {
      scalar_.tick(policy, t, last_scalar_);
    } else {
      last_scalar_ = scalar_.tick(policy, t);
    }
    check_candidates(last_scalar_, in_flight_before, "scalar");
    Emissions sorted = last_scalar_;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    compare_emissions(want, sorted, true, "model", "scalar (sorted by key)");
    if (fast_alive_) {
      fast_.tick(policy, t, last_fast_);
      fast_alive_ = compare_tick(last_scalar_, last_fast_, fast_, fast_exact(), "fast", policy);
    }
    if (queued_alive_) {
      last_queued_ = queued_.tick(policy, t);
      if (queued_.queued_reads() != 0) fail_at("tick left reads queued");
      queued_alive_ =
          compare_tick(last_scalar_, last_queued_, queued_, queued_exact(), "queued", policy);
    }
    if (concurrent_alive_) {
      const Emissions want_c = sharded_model_.tick(policy, at);
      concurrent_.tick(policy, t, last_concurrent_);
      for (std::size_t i = 1; i < last_concurrent_.size(); ++i) {
        if (concurrent_.shard_of(last_concurrent_[i - 1].first) >
            concurrent_.shard_of(last_concurrent_[i].first)) {
          fail_at("concurrent tick's candidates are not in shard order");
        }
      }
      Emissions got_c = last_concurrent_;
      std::sort(got_c.begin(), got_c.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      concurrent_alive_ = compare_sorted_with_ties(want_c, got_c, concurrent_exact(), policy);
      last_sharded_model_ = want_c;
    }
    full_check();
  }

  // Each candidate: a key present once, its kind Emit or Withdraw, an Emit's
  // rate its counter's (decayed) rate, a Withdraw's counter at rate 0 with a
  // positive last emission, and (tracking) in flight now but not before.
  void check_candidates(const Emissions& got, const std::set<Key>& in_flight_before,
                        const char* who) {
    std::set<Key> keys;
    for (const auto& [key, e] : got) {
      if (!keys.insert(key).second)
        fail_at(std::string(who) + ": key " + key_text(key) + " is a candidate twice");
      const auto c = scalar_.get(key);
      if (!c) fail_at(std::string(who) + ": candidate " + key_text(key) + " is absent");
      if (e.kind == Decision::kEmit) {
        if (!same_double(e.rate, c->rate()) || !(e.rate > 0) || !std::isfinite(e.rate)) {
          fail_at(std::string(who) + ": Emit " + number_text(e.rate) + " for a counter at " +
                  number_text(c->rate()));
        }
      } else if (e.kind == Decision::kWithdraw) {
        if (c->rate() != 0 || !c->last_emitted() || !(*c->last_emitted() > 0)) {
          fail_at(std::string(who) + ": Withdraw of " + key_text(key) + " at rate " +
                  number_text(c->rate()));
        }
      } else {
        fail_at(std::string(who) + ": a Suppress candidate");
      }
      if (config_.track) {
        if (in_flight_before.count(key))
          fail_at(std::string(who) + ": candidate " + key_text(key) + " was in flight");
        if (!scalar_.in_flight(key))
          fail_at(std::string(who) + ": candidate " + key_text(key) + " not marked in flight");
      }
    }
  }

  void compare_emissions(const Emissions& want, const Emissions& got, bool exact,
                         const char* want_name, const char* got_name) {
    if (want.size() != got.size()) {
      fail_at(std::string(want_name) + " has " + std::to_string(want.size()) + " candidates, " +
              got_name + " " + std::to_string(got.size()) + first_difference(want, got));
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].first != got[i].first || want[i].second.kind != got[i].second.kind ||
          !(exact ? same_double(want[i].second.rate, got[i].second.rate)
                  : rates_close(want[i].second.rate, got[i].second.rate, tolerance()))) {
        fail_at(std::string(want_name) + " and " + got_name + " differ at candidate " +
                std::to_string(i) + first_difference(want, got));
      }
    }
  }

  static std::string emission_text(const std::pair<Key, HeatEmission>& e) {
    return key_text(e.first) + (e.second.kind == Decision::kEmit
                                    ? " emit " + number_text(e.second.rate)
                                : e.second.kind == Decision::kWithdraw ? std::string(" withdraw")
                                                                       : std::string(" suppress"));
  }
  static std::string first_difference(const Emissions& want, const Emissions& got) {
    for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
      const std::string w = i < want.size() ? emission_text(want[i]) : "(none)";
      const std::string g = i < got.size() ? emission_text(got[i]) : "(none)";
      if (w != g) return " (first difference at " + std::to_string(i) + ": " + w + " vs " + g + ")";
    }
    return "";
  }

  // A subject's tick against the scalar one, in the same order. Where the
  // candidates differ, each differing key must be a tie: the two counters
  // within the tolerance, each side's decision the gate's on its own
  // counter. Then the subject is dropped (false).
  bool compare_tick(const Emissions& want, const Emissions& got, const Registry& r, bool exact,
                    const char* who, const Policy& policy) {
    if (want.size() == got.size()) {
      bool same = true;
      for (std::size_t i = 0; i < want.size() && same; ++i) {
        same = want[i].first == got[i].first && want[i].second.kind == got[i].second.kind &&
               (exact ? same_double(want[i].second.rate, got[i].second.rate)
                      : rates_close(want[i].second.rate, got[i].second.rate, tolerance()));
      }
      if (same) return true;
    }
    const std::string what = std::string(who) + " (" + std::string(r.backend()) +
                             ") tick differs from scalar's" + first_difference(want, got);
    if (exact) fail_at(what);
    // The keys on which they differ, whatever the order.
    std::map<Key, HeatEmission> w(want.begin(), want.end()), g(got.begin(), got.end());
    std::set<Key> differing;
    for (const auto& [k, e] : w) {
      const auto it = g.find(k);
      if (it == g.end() || it->second.kind != e.kind ||
          !rates_close(it->second.rate, e.rate, tolerance())) {
        differing.insert(k);
      }
    }
    for (const auto& [k, e] : g) {
      if (!w.count(k)) differing.insert(k);
    }
    if (differing.empty()) fail_at(what + " (same candidates, another order)");
    for (const Key& k : differing) {
      if (!is_tie(seen_in(scalar_, k), seen_in(r, k), policy))
        fail_at(what + "; key " + key_text(k) + " is no tie");
    }
    return false;
  }

  // The concurrent registry's candidates (sorted by key) against the sharded
  // model's.
  bool compare_sorted_with_ties(const Emissions& want, const Emissions& got, bool exact,
                                const Policy& policy) {
    if (exact) {
      compare_emissions(want, got, true, "sharded model", "concurrent (sorted by key)");
      return true;
    }
    std::map<Key, HeatEmission> w(want.begin(), want.end()), g(got.begin(), got.end());
    bool tie = false;
    std::set<Key> keys;
    for (const auto& e : want) keys.insert(e.first);
    for (const auto& e : got) keys.insert(e.first);
    for (const Key& k : keys) {
      const auto a = w.find(k), b = g.find(k);
      if (a != w.end() && b != g.end() && a->second.kind == b->second.kind &&
          rates_close(a->second.rate, b->second.rate, tolerance())) {
        continue;
      }
      if (!is_tie(sharded_model_.seen(k), seen_in(concurrent_, k), policy)) {
        fail_at("concurrent tick differs from the sharded model's at key " + key_text(k) +
                first_difference(want, got));
      }
      tie = true;
    }
    return !tie;
  }

  // Counters after a tick on which two backends decided differently: a tie
  // when both hold the same state up to the tolerance (in flight excepted:
  // only the side that returned the key marked it) and each decision is the
  // gate's on its own rate. Then only rounding at a threshold set them apart.
  bool is_tie(const std::optional<Seen>& a, const std::optional<Seen>& b,
              const Policy& policy) const {
    if (!a || !b) return false;
    Seen b_flight = *b;
    b_flight.in_flight = a->in_flight;
    if (compare_seen(a, b_flight, false, tolerance()) == Agreement::kDiffer) return false;
    const double ratio = static_cast<double>(policy.emit_threshold_ratio);
    const auto decide = [&](const Seen& s) {
      return heatkit::emission_decision(s.rate, s.last_emitted.has_value(),
                                        s.last_emitted.value_or(0.0), policy.enabled, ratio);
    };
    return decide(*a) != decide(*b);
  }

  // Commits `chosen` (indices into each registry's last tick, which agree)
  // everywhere, then checks what commit promises.
  template <class Pick>
  void commit_with(Pick&& pick) {
    const auto chosen = [&](const Emissions& last) {
      Emissions out;
      for (std::size_t i = 0; i < last.size(); ++i) {
        if (pick(i)) out.push_back(last[i]);
      }
      return out;
    };
    const Emissions from_scalar = chosen(last_scalar_);
    model_.commit(from_scalar);
    scalar_.commit(from_scalar);
    if (fast_alive_) fast_.commit(chosen(last_fast_));
    if (queued_alive_) queued_.commit(chosen(last_queued_));
    if (concurrent_alive_) {
      const Emissions from_concurrent = chosen(last_concurrent_);
      // The sharded model records its own candidates for those keys.
      std::map<Key, HeatEmission> own(last_sharded_model_.begin(), last_sharded_model_.end());
      Emissions for_model;
      for (const auto& [k, e] : from_concurrent) {
        const auto it = own.find(k);
        for_model.emplace_back(k, it != own.end() ? it->second : e);
      }
      sharded_model_.commit(for_model);
      concurrent_.commit(from_concurrent);
      check_committed(
          from_concurrent, [&](const Key& k) { return seen_in(concurrent_, k); }, "concurrent");
    }
    check_committed(
        from_scalar, [&](const Key& k) { return seen_in(scalar_, k); }, "scalar");
    full_check();
  }

  template <class SeenOf>
  void check_committed(const Emissions& committed, SeenOf&& seen_of_key, const char* who) {
    for (const auto& [k, e] : committed) {
      const auto s = seen_of_key(k);
      if (!s) continue;  // pruned, evicted or removed
      if (s->in_flight)
        fail_at(std::string(who) + ": key " + key_text(k) + " still in flight after its commit");
    }
  }

  void commit_all() {
    op_name_ = "commit all";
    commit_with([](std::size_t) { return true; });
  }
  void commit_some(Input& in) {
    op_name_ = "commit some";
    const std::uint64_t mask = in.u64();
    commit_with([mask](std::size_t i) { return (mask >> (i % 64) & 1) != 0; });
  }

  // Emissions no tick produced: any kind, any recorded value (negative,
  // zero, NaN, infinite, subnormal), for present and absent keys.
  void commit_made_up(Input& in) {
    op_name_ = "commit (made up)";
    const std::size_t n = in.byte() % 9;
    Emissions list;
    for (std::size_t i = 0; i < n; ++i) {
      const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
      const std::uint8_t b = in.byte();
      static constexpr double kValues[] = {1.0,
                                           0.5,
                                           2.0,
                                           0.0,
                                           -0.0,
                                           -1.0,
                                           std::numeric_limits<double>::quiet_NaN(),
                                           std::numeric_limits<double>::infinity(),
                                           -std::numeric_limits<double>::infinity(),
                                           4.9e-324,
                                           2.2250738585072014e-308,
                                           1.7976931348623157e308,
                                           2.220446049250313e-16,
                                           1e-300,
                                           3.0};
      HeatEmission e;
      switch (b % 3) {
        case 0:
          e = HeatEmission::emit(b < 240 ? kValues[(b / 3) % std::size(kValues)]
                                         : std::bit_cast<double>(in.u64()));
          break;
        case 1:
          e = HeatEmission::withdraw();
          break;
        default:
          e = HeatEmission::suppress();
          break;
      }
      list.emplace_back(key, e);
    }
    model_.commit(list);
    on_basic_registries([&](Registry& r, const char*) { r.commit(list); });
    if (concurrent_alive_) {
      sharded_model_.commit(list);
      concurrent_.commit(list);
    }
    for (const auto& [k, e] : list) check_key(k, false);
    full_check();
    // Nothing left that commit should have pruned.
    for (const auto& [k, s] : model_.all()) {
      if (heatkit::is_prunable(s.rate, s.last_emitted.has_value(), s.last_emitted.value_or(0.0))) {
        fail_at("key " + key_text(k) + " is prunable after a commit");
      }
    }
  }

  void rollback(Input& in) {
    op_name_ = "rollback";
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    model_.rollback(key);
    on_basic_registries([&](Registry& r, const char*) { r.rollback(key); });
    sharded_model_.rollback(key);
    if (concurrent_alive_) concurrent_.rollback(key);
    check_key(key, false);
    if (scalar_.in_flight(key)) fail_at("in flight after rollback");
  }

  void remove(Input& in) {
    op_name_ = "remove";
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    model_.remove(key);
    on_basic_registries([&](Registry& r, const char*) { r.remove(key); });
    sharded_model_.remove(key);
    if (concurrent_alive_) concurrent_.remove(key);
    if (scalar_.contains(key)) fail_at("present after remove");
    check_key(key, false);
    check_sizes(false);
  }

  void get(Input& in) {
    op_name_ = "get";
    const Key key = read_key<Key>(in, config_.small_keys, next_flood_);
    check_key(key, false);
    if (scalar_.contains(key) != model_.seen(key).has_value())
      fail_at("contains disagrees with the model");
    if (scalar_.slot_of(key).has_value() != scalar_.contains(key))
      fail_at("slot_of disagrees with contains");
    check_sizes(false);
  }

  void track(Input& in) {
    op_name_ = "set_track_in_flight";
    const bool on = (in.byte() & 1) != 0;
    config_.track = on;
    ever_tracked_ = ever_tracked_ || on;
    model_.set_track(on);
    sharded_model_.set_track(on);
    on_basic_registries([&](Registry& r, const char*) { r.set_track_in_flight(on); });
    concurrent_.set_track_in_flight(on);
  }

  // A new queue limit (the pending reads are applied first); 0 turns the
  // queue off, and the results must not change either way.
  void queue_limit(Input& in) {
    op_name_ = "set_bump_queue";
    static constexpr std::size_t kLimits[] = {0, 1, 2, 3, 7, heatkit::kSuggestedBumpQueue};
    if (!queued_alive_) return;
    queued_.set_bump_queue(kLimits[in.byte() % std::size(kLimits)]);
    if (queued_.queued_reads() != 0) fail_at("set_bump_queue left reads queued");
  }

  Config config_;
  Model<Key> model_;
  Registry scalar_, fast_, queued_;
  Concurrent concurrent_;
  Model<Key> sharded_model_;
  bool fast_alive_ = true, queued_alive_ = true, concurrent_alive_ = true;
  bool ever_tracked_;
  std::int64_t now_;
  std::size_t op_ = 0;
  std::string op_name_ = "start";
  std::size_t reads_ = 0;
  std::size_t entries_ = 0;     // entry() calls so far: at least the keys ever created
  std::size_t next_flood_ = 0;  // the flood pool's next fresh key
  bool flooded_ = false;
  std::uint64_t ticks_ = 0;
  Emissions last_scalar_, last_fast_, last_queued_, last_concurrent_, last_sharded_model_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  const Config config = read_config(in);
  if (config.blob) {
    Run<BlobKey>(config).run(in);
  } else {
    Run<std::uint64_t>(config).run(in);
  }
  return 0;
}
