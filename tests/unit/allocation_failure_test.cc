// A failed allocation in the middle of a registry operation. This executable
// replaces the global operator new (every form the library uses, the aligned
// and nothrow ones included, with the matching deletes) by one that, once
// armed, fails the k-th allocation of the arming thread: it throws
// std::bad_alloc (a nothrow form returns nullptr), once, or from then on
// until disarmed ("persistent": memory that stays exhausted). Disarmed, it is
// malloc. Allocations of 2 MiB and more are mapped by the huge page
// allocator instead, so the registries here stay small (below a few
// thousand slots) and every allocation of theirs goes through it.
//
// For each operation (bump_batch at one instant and with an instant per
// read, entry().bump() one read at a time, creations at the cap that evict,
// removes, decay_to, the bump queue, an index rehash under a fresh secret,
// tick, commit with prunes, and the concurrent registry's batch and tick),
// both key kinds, and the scalar, highway and thrust-omp backends: for
// k = 1, 2, ... until the operation completes without reaching its k-th
// allocation, the operation runs with that allocation failing, and then
//  - the registry is consistent: size() is the number of entries for_each
//    visits, and get() finds each of them with the counter for_each saw;
//  - it holds exactly what a prefix of the operation leaves: for a sequence
//    of reads, those before the failing one applied and the failing one
//    fully or not at all, in slot order (a slot taken and not used shows);
//    a tick either untouched or ticked with none of its candidates marked in
//    flight (what a tick whose candidates are all rolled back leaves: the
//    candidates cannot be returned); a commit either untouched or complete;
//  - the rest of a workload (a batch that grows or evicts, single reads
//    earlier and later, ticks, commits, prunes, a refill past the cap) gives
//    the same keys, slots, rates, last_update, last_emitted, in-flight marks
//    and tick candidates on it as on a fresh `scalar` registry that saw the
//    same prefix (rates within SEMANTICS.md "Numbers": 1e-12 relative).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "registry/concurrent_registry.h"
#include "registry/key_hash.h"
#include "registry/registry.h"
#include "tests/unit/test_support.h"
#include "util/thread_pool.h"

// ---------------------------------------------------------------------------
// The failing operator new.

namespace {

struct Injector {
  long countdown = 0;       // > 0: the countdown-th allocation from now fails
  bool persistent = false;  // ... and every one after it, until disarmed
  bool failing = false;     // persistent, and the first has failed
  bool fired = false;       // an allocation failed since arming
  long seen = 0;            // allocations asked for since arming
};
// Per thread: only the test's thread fails (the registries here run their
// passes on the calling thread; gtest's and the pools' threads never fail).
thread_local Injector t_injector;

// Armed for every thread (arm_all_threads): the k-th allocation of any
// thread fails, a pool worker's included.
std::atomic<long> g_countdown{0};
std::atomic<bool> g_persistent{false};
std::atomic<bool> g_failing{false};
std::atomic<bool> g_fired{false};

bool fail_on_any_thread() noexcept {
  if (g_failing.load(std::memory_order_relaxed)) return true;
  long left = g_countdown.load(std::memory_order_relaxed);
  while (left > 0) {
    if (g_countdown.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
      if (left != 1) return false;
      g_fired.store(true);
      if (g_persistent.load()) g_failing.store(true);
      return true;
    }
  }
  return false;
}

bool fail_this_allocation() noexcept {
  if (fail_on_any_thread()) return true;
  Injector& in = t_injector;
  if (in.countdown == 0 && !in.failing) return false;
  ++in.seen;
  if (in.failing) return true;
  if (--in.countdown == 0) {
    in.fired = true;
    in.failing = in.persistent;
    return true;
  }
  return false;
}

void* allocate(std::size_t n, std::size_t align) noexcept {
  if (fail_this_allocation()) return nullptr;
  if (n == 0) n = 1;
  if (align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__) return std::malloc(n);
  return std::aligned_alloc(align, (n + align - 1) / align * align);
}

void* allocate_or_throw(std::size_t n, std::size_t align) {
  void* p = allocate(n, align);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Out of line: GCC, seeing a free() of what `new` returned through an inlined
// operator delete, warns of a mismatch (-Wmismatched-new-delete).
[[gnu::noinline]] void deallocate(void* p) noexcept { std::free(p); }

void arm(long k, bool persistent) {
  t_injector = Injector{};
  t_injector.persistent = persistent;
  t_injector.countdown = k;
}

void arm_all_threads(long k, bool persistent) {
  g_fired.store(false);
  g_failing.store(false);
  g_persistent.store(persistent);
  g_countdown.store(k);
}

// Disarms; returns whether the armed allocation was reached (and failed).
bool disarm() {
  g_countdown.store(0);
  g_failing.store(false);
  const bool fired = t_injector.fired || g_fired.exchange(false);
  t_injector = Injector{};
  return fired;
}

}  // namespace

void* operator new(std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new[](std::size_t n) { return allocate_or_throw(n, 0); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return allocate_or_throw(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { deallocate(p); }
void operator delete[](void* p) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { deallocate(p); }
void operator delete(void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::align_val_t) noexcept { deallocate(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { deallocate(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { deallocate(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { deallocate(p); }

namespace heatkit {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// The injector itself.

TEST(AllocationFailureInjector, fails_the_kth_allocation_once_or_from_then_on) {
  arm(3, false);
  std::vector<std::unique_ptr<int>> kept;
  kept.reserve(8);  // allocation 1
  kept.push_back(std::make_unique<int>(1));  // 2
  EXPECT_THROW(kept.push_back(std::make_unique<int>(2)), std::bad_alloc);  // 3
  kept.push_back(std::make_unique<int>(3));  // 4: a single failure
  EXPECT_TRUE(disarm());

  arm(2, true);
  void* first = ::operator new(16, std::align_val_t{64});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 64, 0u);
  EXPECT_EQ(::operator new(8, std::nothrow), nullptr);
  EXPECT_THROW((void)::operator new(8), std::bad_alloc);  // persistent
  EXPECT_EQ(::operator new[](8, std::align_val_t{32}, std::nothrow), nullptr);
  EXPECT_TRUE(disarm());
  ::operator delete(first, std::align_val_t{64});

  arm(1000, false);
  kept.clear();
  EXPECT_FALSE(disarm()) << "not reached";
  auto after = std::make_unique<int>(4);  // disarmed: never fails
  EXPECT_EQ(*after, 4);
}

// ---------------------------------------------------------------------------
// Registries, keys, instants.

constexpr Duration kHalfLife = 2s;
constexpr long kMaxAllocations = 200'000;  // a bound on k; no operation here comes near it
const std::int64_t kT0 = to_ns(test::t0());
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kHashSeed = 0x5eed'0f'a110c;

template <class Key>
Key key_of(std::uint64_t i) {
  return test::random_key<Key>(i, 11);
}

Instant at(std::int64_t ns) { return instant_from_ns(ns); }

RegistryOptions options_for(const std::string& backend, std::size_t cap) {
  RegistryOptions o;
  o.backend = backend;
  o.cap = cap;
  o.threads = 1;  // every pass on the test's thread, where allocations fail
  o.hash_seed = kHashSeed;
  return o;
}

Policy test_policy() {
  Policy p;
  p.emit_threshold_ratio = 1.5f;  // away from the 2x steps of bumps at one instant
  return p;
}

std::vector<std::string> backends() {
  std::vector<std::string> out;
  for (const char* name : {"scalar", "highway", "thrust-omp"}) {
    if (backend_info(name).available) out.emplace_back(name);
  }
  return out;
}

bool rates_agree(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
}

// ---------------------------------------------------------------------------
// What a registry holds, in slot order, and the comparisons.

template <class Key>
struct Item {
  Key key;
  HeatCounter counter;
  bool in_flight;
};

template <class Key>
struct Snapshot {
  std::size_t size = 0;            // size()
  std::vector<Item<Key>> items;    // for_each, in slot order
  std::string inconsistency;       // empty when size(), for_each and get() agree
};

std::string counter_text(const HeatCounter& c, bool in_flight) {
  std::ostringstream out;
  out.precision(17);
  out << "rate " << c.rate() << ", last_update " << to_ns(c.last_update()) << ", half_life "
      << c.half_life().count() << ", last_emitted ";
  if (c.last_emitted()) {
    out << *c.last_emitted();
  } else {
    out << "none";
  }
  out << (in_flight ? ", in flight" : "");
  return out.str();
}

template <class Registry>
auto snapshot(const Registry& r) {
  using Key = typename Registry::key_type;
  Snapshot<Key> s;
  s.size = r.size();
  r.for_each([&](const Key& k, const HeatCounter& c) { s.items.push_back(Item<Key>{k, c, false}); });
  for (std::size_t i = 0; i < s.items.size(); ++i) {
    Item<Key>& item = s.items[i];
    item.in_flight = r.in_flight(item.key);
    const auto found = r.get(item.key);
    if (s.inconsistency.empty() && (!found || !test::same_counter(found, item.counter))) {
      s.inconsistency = "entry #" + std::to_string(i) + " (" + test::key_text(item.key) +
                        "): for_each saw " + counter_text(item.counter, item.in_flight) +
                        ", get() " + (found ? counter_text(*found, item.in_flight) : "nothing");
    }
  }
  if (s.inconsistency.empty() && s.size != s.items.size()) {
    s.inconsistency = "size() is " + std::to_string(s.size) + " but for_each visits " +
                      std::to_string(s.items.size());
  }
  return s;
}

// Empty when `got` holds what `want` holds: the same keys in the same slot
// order, with agreeing counters and the same in-flight marks.
template <class Key>
std::string difference(const Snapshot<Key>& got, const Snapshot<Key>& want) {
  if (!got.inconsistency.empty()) return "inconsistent: " + got.inconsistency;
  if (got.items.size() != want.items.size()) {
    return std::to_string(got.items.size()) + " entries, want " + std::to_string(want.items.size());
  }
  for (std::size_t i = 0; i < got.items.size(); ++i) {
    const Item<Key>& a = got.items[i];
    const Item<Key>& b = want.items[i];
    const auto where = [&] { return "entry #" + std::to_string(i) + " (" + test::key_text(b.key) + "): "; };
    if (a.key != b.key) return where() + "holds key " + test::key_text(a.key) + " (slot order differs)";
    const HeatCounter& x = a.counter;
    const HeatCounter& y = b.counter;
    const bool emitted_agree =
        x.last_emitted().has_value() == y.last_emitted().has_value() &&
        (!x.last_emitted() || rates_agree(*x.last_emitted(), *y.last_emitted()));
    if (!rates_agree(x.rate(), y.rate()) || x.last_update() != y.last_update() ||
        x.half_life() != y.half_life() || !emitted_agree || a.in_flight != b.in_flight) {
      return where() + counter_text(x, a.in_flight) + ", want " + counter_text(y, b.in_flight);
    }
  }
  return {};
}

template <class Emissions>
std::string emissions_difference(const Emissions& got, const Emissions& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " candidates, want " + std::to_string(want.size());
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].first != want[i].first || got[i].second.kind != want[i].second.kind ||
        !rates_agree(got[i].second.rate, want[i].second.rate)) {
      std::ostringstream out;
      out.precision(17);
      out << "candidate #" << i << ": " << test::key_text(got[i].first) << " "
          << static_cast<int>(got[i].second.kind) << " " << got[i].second.rate << ", want "
          << test::key_text(want[i].first) << " " << static_cast<int>(want[i].second.kind) << " "
          << want[i].second.rate;
      return out.str();
    }
  }
  return {};
}

// ---------------------------------------------------------------------------
// Steps: what a workload does, one atomic change at a time.

enum class StepKind { kBump, kDecay, kRemove, kTick, kTickCommit };
struct Step {
  StepKind kind;
  std::uint64_t key;  // kBump, kDecay, kRemove
  std::int64_t at;    // kBump, kDecay, kTick, kTickCommit
};

Step bump(std::uint64_t key, std::int64_t ns) { return {StepKind::kBump, key, ns}; }

template <class Registry>
void apply(Registry& r, const Step& s) {
  using Key = typename Registry::key_type;
  const Key key = key_of<Key>(s.key);
  switch (s.kind) {
    case StepKind::kBump:
      r.entry(key, kHalfLife, at(s.at)).bump(at(s.at));
      break;
    case StepKind::kDecay:
      r.entry(key, kHalfLife, at(s.at)).decay_to(at(s.at));
      break;
    case StepKind::kRemove:
      r.remove(key);
      break;
    case StepKind::kTick:
      (void)r.tick(test_policy(), at(s.at));
      break;
    case StepKind::kTickCommit:
      r.commit(r.tick(test_policy(), at(s.at)));
      break;
  }
}

template <class Registry>
void apply_all(Registry& r, const std::vector<Step>& steps) {
  for (const Step& s : steps) apply(r, s);
}

// A registry's usual history: `n` keys bumped a millisecond apart from kT0,
// a tick whose candidates are committed, a tenth of the keys bumped again,
// and a tick whose candidates are not (in flight where tracked). Ends
// before kT0 + n ms + 1 s.
std::vector<Step> history(std::uint64_t n) {
  std::vector<Step> steps;
  const std::int64_t end = kT0 + static_cast<std::int64_t>(n) * kMs;
  for (std::uint64_t i = 0; i < n; ++i) steps.push_back(bump(i, kT0 + static_cast<std::int64_t>(i) * kMs));
  steps.push_back({StepKind::kTickCommit, 0, end + 100 * kMs});
  for (std::uint64_t i = 0; i < n; i += 10) steps.push_back(bump(i, end + 300 * kMs + static_cast<std::int64_t>(i)));
  steps.push_back({StepKind::kTick, 0, end + 700 * kMs});
  return steps;
}
std::int64_t history_end(std::uint64_t n) { return kT0 + static_cast<std::int64_t>(n) * kMs + kSecond; }

// ---------------------------------------------------------------------------
// The rest of the workload, on the registry that failed and on the
// reference; empty when both give the same answers throughout.

template <class Registry>
std::string continue_and_compare(Registry& got, Registry& want, std::int64_t after, std::size_t cap) {
  using Key = typename Registry::key_type;
  const Policy policy = test_policy();
  std::uint64_t fresh = 1'000'000;
  std::int64_t t = after + 1'234'567;
  const auto compare = [&](const char* when) -> std::string {
    const std::string d = difference(snapshot(got), snapshot(want));
    return d.empty() ? d : std::string(when) + ": " + d;
  };
  // A batch at one instant: every third key present, then new ones (the
  // columns grow, or the cap evicts).
  {
    const auto present = snapshot(want);
    std::vector<Key> keys;
    for (std::size_t i = 0; i < present.items.size(); i += 3) keys.push_back(present.items[i].key);
    for (int j = 0; j < 60; ++j) keys.push_back(key_of<Key>(fresh++));
    got.bump_batch(std::span<const Key>(keys), kHalfLife, at(t));
    want.bump_batch(std::span<const Key>(keys), kHalfLife, at(t));
    if (auto d = compare("after a batch"); !d.empty()) return d;
  }
  // Reads one at a time, some earlier than the batch, then a decay.
  {
    const auto present = snapshot(want);
    for (std::size_t j = 0; j < 40; ++j) {
      const Key key = j % 2 == 0 && !present.items.empty()
                          ? present.items[(j * 7) % present.items.size()].key
                          : key_of<Key>(fresh++);
      const std::int64_t when = t + (j % 5 == 0 ? -700 * kMs : static_cast<std::int64_t>(j) * 13 * kMs);
      got.entry(key, kHalfLife, at(when)).bump(at(when));
      want.entry(key, kHalfLife, at(when)).bump(at(when));
    }
    if (!present.items.empty()) {
      const Key key = present.items.front().key;
      if (want.contains(key)) {
        got.entry(key, kHalfLife, at(t + kSecond)).decay_to(at(t + kSecond));
        want.entry(key, kHalfLife, at(t + kSecond)).decay_to(at(t + kSecond));
      }
    }
    if (auto d = compare("after single reads"); !d.empty()) return d;
  }
  // A tick, its candidates committed; a later one, half committed, the
  // rest rolled back.
  t += 1700 * kMs;
  const auto a = got.tick(policy, at(t));
  const auto b = want.tick(policy, at(t));
  if (auto d = emissions_difference(a, b); !d.empty()) return "first tick: " + d;
  got.commit(a);
  want.commit(b);
  if (auto d = compare("after the first commit"); !d.empty()) return d;
  t += 2300 * kMs;
  const auto c = got.tick(policy, at(t));
  const auto e = want.tick(policy, at(t));
  if (auto d = emissions_difference(c, e); !d.empty()) return "second tick: " + d;
  using Emissions = std::remove_cvref_t<decltype(c)>;
  Emissions c_half, e_half;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (i % 2 == 0) {
      c_half.push_back(c[i]);
      e_half.push_back(e[i]);
    } else {
      got.rollback(c[i].first);
      want.rollback(e[i].first);
    }
  }
  got.commit(c_half);
  want.commit(e_half);
  if (auto d = compare("after the second commit"); !d.empty()) return d;
  // A refill past the cap (or a few hundred keys), each read at its own
  // instant, a few going back in time: at the cap most keys present are
  // evicted, by the eviction order, and each new key takes its victim's
  // slot (so the slot order shows the victims' order).
  const auto refill = [&](const char* when) -> std::string {
    std::vector<std::pair<Key, Instant>> reads;
    const std::size_t n = cap > 0 ? cap + cap / 2 : 300;
    for (std::size_t j = 0; j < n; ++j) {
      const std::int64_t read_at = t + static_cast<std::int64_t>(j) * kMs - (j % 9 == 4 ? 50 * kMs : 0);
      reads.emplace_back(key_of<Key>(fresh + j / 2), at(read_at));  // each key twice
    }
    fresh += n;
    t += static_cast<std::int64_t>(n) * kMs;
    got.bump_batch(std::span<const std::pair<Key, Instant>>(reads), kHalfLife);
    want.bump_batch(std::span<const std::pair<Key, Instant>>(reads), kHalfLife);
    return compare(when);
  };
  if (auto d = refill("after a refill"); !d.empty()) return d;
  // A long quiet gap: every counter withdraws, and the commit prunes them.
  t += 300 * kSecond;
  const auto w = got.tick(policy, at(t));
  const auto x = want.tick(policy, at(t));
  if (auto d = emissions_difference(w, x); !d.empty()) return "tick after a gap: " + d;
  got.commit(w);
  want.commit(x);
  if (auto d = compare("after the prune"); !d.empty()) return d;
  if (auto d = refill("after a refill of the emptied registry"); !d.empty()) return d;
  t += 900 * kMs;
  const auto y = got.tick(policy, at(t));
  const auto z = want.tick(policy, at(t));
  if (auto d = emissions_difference(y, z); !d.empty()) return "last tick: " + d;
  return compare("at the end");
}

// ---------------------------------------------------------------------------
// Operations made of reads: each k, the read that fails must leave the
// registry as the reads before it left it, or as it and those before it.

enum class Runner {
  kBatchAtOneInstant,  // bump_batch(keys, half_life, now): every step a bump at one instant
  kBatchTimed,         // bump_batch(reads, half_life): every step a bump
  kOneByOne,           // each step by its own call (entry().bump(), decay_to, remove)
  kQueue,              // the steps queued (RegistryOptions::bump_queue), then apply_queue()
};

struct ReadScenario {
  std::string name;
  std::size_t cap = 0;
  std::vector<Step> prefix;
  std::vector<Step> op;
  Runner runner;
  std::int64_t end;  // later than every step
};

template <class Registry>
void run_op(Registry& r, const ReadScenario& sc,
            const std::vector<typename Registry::key_type>& keys,
            const std::vector<std::pair<typename Registry::key_type, Instant>>& reads) {
  using Key = typename Registry::key_type;
  switch (sc.runner) {
    case Runner::kBatchAtOneInstant:
      r.bump_batch(std::span<const Key>(keys), kHalfLife, at(sc.op.front().at));
      break;
    case Runner::kBatchTimed:
      r.bump_batch(std::span<const std::pair<Key, Instant>>(reads), kHalfLife);
      break;
    case Runner::kOneByOne:
      apply_all(r, sc.op);
      break;
    case Runner::kQueue:
      r.apply_queue();
      break;
  }
}

// Runs `sc` on `backend` for every k; returns the number of allocations
// the operation made when none failed.
template <class Registry>
long check_reads(const std::string& backend, const ReadScenario& sc, bool persistent) {
  using Key = typename Registry::key_type;
  std::vector<Key> keys;
  std::vector<std::pair<Key, Instant>> reads;
  for (const Step& s : sc.op) {
    keys.push_back(key_of<Key>(s.key));
    reads.emplace_back(key_of<Key>(s.key), at(s.at));
  }
  for (long k = 1; k <= kMaxAllocations; ++k) {
    SCOPED_TRACE(sc.name + " on " + backend + (persistent ? ", allocation " : ", only allocation ") +
                 std::to_string(k) + (persistent ? " on failing" : " failing"));
    Registry got(options_for(backend, sc.cap));
    Registry want(options_for("scalar", sc.cap));
    apply_all(got, sc.prefix);
    apply_all(want, sc.prefix);
    if (sc.runner == Runner::kQueue) {
      got.set_bump_queue(sc.op.size() + 1);
      apply_all(got, sc.op);  // queued, none applied
      EXPECT_EQ(got.queued_reads(), sc.op.size());
    }

    arm(k, persistent);
    bool threw = false;
    try {
      run_op(got, sc, keys, reads);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    const bool fired = disarm();
    if (!fired) {
      EXPECT_FALSE(threw) << "std::bad_alloc with no failed allocation";
    }

    if (sc.runner == Runner::kQueue) {
      // The read that threw is dropped, those after it stay queued: apply
      // them and compare with every read but that one.
      std::size_t dropped = sc.op.size();
      if (threw) {
        const std::size_t left = got.queued_reads();
        if (left >= sc.op.size()) {
          ADD_FAILURE() << "no read left the queue (" << left << " queued)";
          return k;
        }
        dropped = sc.op.size() - 1 - left;
      } else {
        EXPECT_EQ(got.queued_reads(), 0u);
      }
      got.apply_queue();
      for (std::size_t i = 0; i < sc.op.size(); ++i) {
        if (i != dropped) apply(want, sc.op[i]);
      }
      const std::string d = difference(snapshot(got), snapshot(want));
      if (!d.empty()) {
        ADD_FAILURE() << "the queued reads but #" << dropped << " applied: " << d;
        return k;
      }
    } else if (!threw) {
      apply_all(want, sc.op);
      const std::string d = difference(snapshot(got), snapshot(want));
      if (!d.empty()) {
        ADD_FAILURE() << "completed" << (fired ? " (past a failed allocation)" : "") << ": " << d;
        return k;
      }
    } else {
      // The first prefix of the reads that leaves what `got` holds.
      const auto held = snapshot(got);
      if (!held.inconsistency.empty()) {
        ADD_FAILURE() << "inconsistent after the failure: " << held.inconsistency;
        return k;
      }
      const std::string before = difference(held, snapshot(want));
      bool found = before.empty();
      std::size_t applied = 0;
      while (!found && applied < sc.op.size()) {
        apply(want, sc.op[applied++]);
        found = want.size() == held.size && difference(held, snapshot(want)).empty();
      }
      if (!found) {
        ADD_FAILURE() << "no prefix of the " << sc.op.size()
                      << " reads leaves what the registry holds; against none of them: " << before
                      << "; against all of them: " << difference(held, snapshot(want));
        return k;
      }
    }
    const std::string rest = continue_and_compare(got, want, sc.end, sc.cap);
    if (!rest.empty()) {
      ADD_FAILURE() << "the workload after the failure: " << rest;
      return k;
    }
    if (!fired) return k - 1;
  }
  ADD_FAILURE() << "the operation never completed";
  return kMaxAllocations;
}

// The scenarios. `n` keys in the history; new keys from 10,000.
std::vector<ReadScenario> read_scenarios() {
  std::vector<ReadScenario> out;
  constexpr std::uint64_t kNew = 10'000;
  // 500 reads over 300 present keys and about 250 new ones (a quarter of
  // them read twice in a row): the columns grow from 512 slots to 1,024
  // while the batch runs.
  const auto mixed_keys = [&](std::uint64_t present, std::size_t reads) {
    std::vector<std::uint64_t> keys;
    for (std::size_t i = 0; i < reads; ++i) {
      switch (i % 4) {
        case 0: keys.push_back((i * 7) % present); break;
        case 3: keys.push_back(keys.back()); break;
        default: keys.push_back(kNew + i); break;
      }
    }
    return keys;
  };
  {
    ReadScenario sc{"bump_batch at one instant, growing", 0, history(300), {}, Runner::kBatchAtOneInstant, 0};
    const std::int64_t now = history_end(300);
    for (const std::uint64_t key : mixed_keys(300, 500)) sc.op.push_back(bump(key, now));
    sc.end = now + kSecond;
    out.push_back(sc);
  }
  // The same reads each at its own instant, every tenth 900 ms back in time
  // (before the last tick: out of order for the eviction order and literal
  // for a forward store).
  const auto timed = [&](const std::vector<std::uint64_t>& keys, std::int64_t from) {
    std::vector<Step> steps;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::int64_t when = from + static_cast<std::int64_t>(i) * 3 * kMs - (i % 10 == 9 ? 900 * kMs : 0);
      steps.push_back(bump(keys[i], when));
    }
    return steps;
  };
  {
    ReadScenario sc{"bump_batch with an instant per read, growing", 0, history(300), {}, Runner::kBatchTimed, 0};
    sc.op = timed(mixed_keys(300, 500), history_end(300));
    sc.end = history_end(300) + 3 * kSecond;
    out.push_back(sc);
  }
  {
    ReadScenario sc{"entry().bump() one read at a time, growing", 0, history(300), {}, Runner::kOneByOne, 0};
    sc.op = timed(mixed_keys(300, 500), history_end(300));
    sc.end = history_end(300) + 3 * kSecond;
    out.push_back(sc);
  }
  {
    // 256 keys fill 256 slots: the next new key grows every array.
    ReadScenario sc{"entry().bump() of the key that grows the columns", 0, history(256), {}, Runner::kOneByOne, 0};
    sc.op = {bump(kNew, history_end(256))};
    sc.end = history_end(256) + kSecond;
    out.push_back(sc);
  }
  {
    // Full at the cap, never evicted yet: each new key evicts.
    ReadScenario sc{"bump_batch at the cap, evicting", 256, history(256), {}, Runner::kBatchTimed, 0};
    sc.op = timed(mixed_keys(256, 300), history_end(256));
    sc.end = history_end(256) + 2 * kSecond;
    out.push_back(sc);
  }
  {
    ReadScenario sc{"entry().bump() at the cap, evicting", 256, history(256), {}, Runner::kOneByOne, 0};
    sc.op = timed(mixed_keys(256, 300), history_end(256));
    sc.end = history_end(256) + 2 * kSecond;
    out.push_back(sc);
  }
  {
    // Removes, and new keys taking the freed slots.
    ReadScenario sc{"remove, and new keys in the freed slots", 0, history(300), {}, Runner::kOneByOne, 0};
    const std::int64_t from = history_end(300);
    for (std::uint64_t i = 0; i < 120; ++i) {
      sc.op.push_back({StepKind::kRemove, (i * 11) % 300, 0});
      if (i % 3 == 2) sc.op.push_back(bump(kNew + i, from + static_cast<std::int64_t>(i) * kMs));
    }
    sc.end = from + kSecond;
    out.push_back(sc);
  }
  for (const std::size_t cap : {std::size_t{0}, std::size_t{300}}) {
    // decay_to on present keys, forwards and backwards in time (each a
    // record of the eviction order's heap; at the cap, the rest of the
    // workload evicts by that order).
    ReadScenario sc{cap == 0 ? "decay_to" : "decay_to at the cap", cap, history(300), {}, Runner::kOneByOne, 0};
    const std::int64_t from = history_end(300);
    for (std::uint64_t i = 0; i < 200; ++i) {
      const std::int64_t when = from + static_cast<std::int64_t>(i) * kMs - (i % 3 == 0 ? 1500 * kMs : 0);
      sc.op.push_back({StepKind::kDecay, (i * 13) % 300, when});
      if (i % 4 == 0) sc.op.push_back(bump((i * 5) % 300, when + kMs));
    }
    sc.end = from + kSecond;
    out.push_back(sc);
  }
  {
    // Present keys read one at a time, every third back in time: each such
    // bump adds a record to the eviction order's heap (growing it), and the
    // rest of the workload evicts by that order.
    ReadScenario sc{"entry().bump() back and forth in time, at the cap", 256, history(256), {}, Runner::kOneByOne, 0};
    const std::int64_t from = history_end(256);
    for (std::uint64_t i = 0; i < 400; ++i) {
      const std::int64_t when = from + static_cast<std::int64_t>(i) * kMs - (i % 3 == 0 ? 2 * kSecond : 0);
      sc.op.push_back(bump((i * 31) % 256, when));
    }
    sc.end = from + kSecond;
    out.push_back(sc);
  }
  {
    ReadScenario sc{"the bump queue, applied", 0, history(300), {}, Runner::kQueue, 0};
    sc.op = timed(mixed_keys(300, 400), history_end(300));
    sc.end = history_end(300) + 2 * kSecond;
    out.push_back(sc);
  }
  {
    ReadScenario sc{"the bump queue at the cap", 256, history(256), {}, Runner::kQueue, 0};
    sc.op = timed(mixed_keys(256, 300), history_end(256));
    sc.end = history_end(256) + 2 * kSecond;
    out.push_back(sc);
  }
  for (const std::size_t cap : {std::size_t{0}, std::size_t{100}}) {
    // 1,500 reads of 100 present keys in a scrambled order: the eviction
    // order's log fills and compacts several times during the batch (at the
    // cap, the rest of the workload evicts by that order).
    ReadScenario sc{cap == 0 ? "bump_batch compacting the eviction order"
                             : "bump_batch compacting the eviction order, at the cap",
                    cap, history(100), {}, Runner::kBatchTimed, 0};
    std::vector<std::uint64_t> keys;
    for (std::uint64_t i = 0; i < 1500; ++i) keys.push_back((i * 37 + i / 100) % 100);
    sc.op = timed(keys, history_end(100));
    sc.end = history_end(100) + 5 * kSecond;
    out.push_back(sc);
  }
  return out;
}

// ---------------------------------------------------------------------------
// A hash that puts every key in bucket 0 under one secret (kBadSeed) and
// spreads them under any other: the index rehashes under a fresh secret
// once a key lands more than kLongProbe buckets from home.
class CollidingHash {
 public:
  static constexpr std::uint64_t kBadSeed = 42;
  explicit CollidingHash(std::uint64_t seed) noexcept : hash_(seed), seed_(seed) {}
  std::uint64_t seed() const noexcept { return seed_; }
  template <class Key>
  std::uint64_t operator()(const Key& key) const noexcept {
    const std::uint64_t h = hash_(key);
    return seed_ == kBadSeed ? h & 0xFFFF'FFFF'0000'0000ULL : h;  // home bucket 0, tags kept
  }

 private:
  KeyHash hash_;
  std::uint64_t seed_;
};

template <class Key>
class WithCollidingHash : public BasicHeatRegistry<Key, CollidingHash> {
 public:
  explicit WithCollidingHash(RegistryOptions o)
      : BasicHeatRegistry<Key, CollidingHash>((o.hash_seed = CollidingHash::kBadSeed, std::move(o))) {}
};

// ---------------------------------------------------------------------------
// The test bodies, for both key kinds.

template <class Key>
class AllocationFailure : public ::testing::Test {};
using KeyTypes = ::testing::Types<std::uint64_t, BlobKey>;
struct KeyNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, std::uint64_t> ? "U64" : "Blob";
  }
};
TYPED_TEST_SUITE(AllocationFailure, KeyTypes, KeyNames);

TYPED_TEST(AllocationFailure, every_read_operation_is_all_or_nothing_per_read) {
  for (const std::string& backend : backends()) {
    for (const ReadScenario& sc : read_scenarios()) {
      for (const bool persistent : {false, true}) {
        const long allocations = check_reads<BasicHeatRegistry<TypeParam>>(backend, sc, persistent);
        if (this->HasFailure()) return;
        if (!persistent) {
          std::printf("[ %-10s ] %s: %ld allocations, each failed in turn\n", backend.c_str(),
                      sc.name.c_str(), allocations);
        }
      }
    }
  }
}

TYPED_TEST(AllocationFailure, a_rehash_under_a_fresh_secret_is_all_or_nothing) {
  // 1,000 keys in one probe run; the batch's 26th new key lands more than
  // kLongProbe buckets from home, and the columns grow at 1,024.
  ReadScenario sc{"bump_batch rehashing the index", 0, {}, {}, Runner::kBatchAtOneInstant, 0};
  for (std::uint64_t i = 0; i < 1000; ++i) sc.prefix.push_back(bump(i, kT0 + static_cast<std::int64_t>(i) * kMs));
  for (std::uint64_t i = 0; i < 100; ++i) sc.op.push_back(bump(10'000 + i, kT0 + 2 * kSecond));
  sc.end = kT0 + 3 * kSecond;
  for (const std::string& backend : backends()) {
    for (const bool persistent : {false, true}) {
      check_reads<WithCollidingHash<TypeParam>>(backend, sc, persistent);
      if (this->HasFailure()) return;
    }
  }
  WithCollidingHash<TypeParam> r(options_for("scalar", 0));
  apply_all(r, sc.prefix);
  apply_all(r, sc.op);
  EXPECT_GE(r.stats().hash_reseeds, 1u) << "the scenario must rehash";
}

// tick: a failed tick leaves the registry untouched, or ticked with none of
// its candidates marked in flight.
TYPED_TEST(AllocationFailure, tick_is_untouched_or_ticked_without_candidates) {
  using Registry = BasicHeatRegistry<TypeParam>;
  struct Case {
    const char* name;
    std::int64_t tick_at;  // after the history of 300 keys
  };
  const std::int64_t end = history_end(300);
  const Case cases[] = {
      {"a tick", end + 1300 * kMs},                   // the fast forward tick
      {"a tick past 32 half-lives", end + 100 * kSecond},  // a forward store relayouts
      {"a tick back in time", end - 400 * kMs},            // relayouts too
  };
  std::vector<Step> prefix = history(300);
  // Reads since the last tick (at end - 300 ms), some of them earlier than
  // it: literal counters on a forward store, and out of order for the
  // eviction order (records in its heap, which a tick clears).
  for (std::uint64_t i = 0; i < 300; i += 7) prefix.push_back(bump(i, end - 500 * kMs - static_cast<std::int64_t>(i)));
  for (std::uint64_t i = 1; i < 300; i += 5) prefix.push_back(bump(i, end + static_cast<std::int64_t>(i)));
  // New keys, more than any earlier tick had candidates: the candidates'
  // list grows while the tick runs.
  for (std::uint64_t i = 0; i < 400; ++i) prefix.push_back(bump(20'000 + i, end + 10 * kMs + static_cast<std::int64_t>(i)));
  // Full: the rest of the workload evicts, by the order the tick leaves.
  constexpr std::size_t kCap = 700;
  for (const std::string& backend : backends()) {
    for (const Case& c : cases) {
      for (const bool persistent : {false, true}) {
        for (long k = 1;; ++k) {
          SCOPED_TRACE(std::string(c.name) + " on " + backend + ", allocation " + std::to_string(k) +
                       (persistent ? " on" : "") + " failing");
          ASSERT_LE(k, kMaxAllocations);
          Registry got(options_for(backend, kCap));
          Registry want(options_for("scalar", kCap));
          apply_all(got, prefix);
          apply_all(want, prefix);
          ASSERT_EQ(got.size(), kCap);
          typename Registry::Emissions result;
          arm(k, persistent);
          bool threw = false;
          try {
            got.tick(test_policy(), at(c.tick_at), result);
          } catch (const std::bad_alloc&) {
            threw = true;
          }
          const bool fired = disarm();
          const auto held = snapshot(got);
          ASSERT_TRUE(held.inconsistency.empty()) << held.inconsistency;
          if (!threw) {
            const auto expected = want.tick(test_policy(), at(c.tick_at));
            ASSERT_EQ(emissions_difference(result, expected), "");
          } else {
            // Ticked (every counter's last_update is the tick's instant, which
            // no read had) or not at all.
            std::size_t ticked = 0;
            for (const auto& item : held.items) ticked += to_ns(item.counter.last_update()) == c.tick_at;
            ASSERT_TRUE(ticked == 0 || ticked == held.items.size())
                << ticked << " of " << held.items.size() << " counters ticked";
            if (ticked > 0) {
              for (const auto& e : want.tick(test_policy(), at(c.tick_at))) want.rollback(e.first);
            }
          }
          ASSERT_EQ(difference(held, snapshot(want)), "");
          ASSERT_EQ(continue_and_compare(got, want, end + 101 * kSecond, kCap), "");
          if (!fired) {
            if (!persistent && backend == "scalar") {
              EXPECT_GT(k, 1) << "the tick allocated nothing";
            }
            break;
          }
        }
      }
    }
  }
}

// commit: untouched, or every emission recorded and every prunable counter
// pruned.
TYPED_TEST(AllocationFailure, commit_with_prunes_is_all_or_nothing) {
  using Registry = BasicHeatRegistry<TypeParam>;
  const std::int64_t end = history_end(300);
  std::vector<Step> prefix = history(300);
  prefix.push_back({StepKind::kTickCommit, 0, end + 500 * kMs});
  // A quiet gap, except for every eighth key read just before the tick:
  // the tick withdraws most counters (all decayed to 0) and emits those.
  const std::int64_t tick_at = end + 300 * kSecond;
  for (std::uint64_t i = 0; i < 300; i += 8) prefix.push_back(bump(i, tick_at - kSecond));
  for (const std::string& backend : backends()) {
    for (const std::size_t cap : {std::size_t{0}, std::size_t{256}}) {
      for (const bool persistent : {false, true}) {
        for (long k = 1;; ++k) {
          SCOPED_TRACE("commit on " + backend + ", cap " + std::to_string(cap) + ", allocation " +
                       std::to_string(k) + (persistent ? " on" : "") + " failing");
          ASSERT_LE(k, kMaxAllocations);
          Registry got(options_for(backend, cap));
          Registry want(options_for("scalar", cap));
          apply_all(got, prefix);
          apply_all(want, prefix);
          const auto got_emissions = got.tick(test_policy(), at(tick_at));
          const auto want_emissions = want.tick(test_policy(), at(tick_at));
          ASSERT_EQ(emissions_difference(got_emissions, want_emissions), "");
          ASSERT_GT(got_emissions.size(), 200u);
          arm(k, persistent);
          bool threw = false;
          try {
            got.commit(got_emissions);
          } catch (const std::bad_alloc&) {
            threw = true;
          }
          const bool fired = disarm();
          const auto held = snapshot(got);
          ASSERT_TRUE(held.inconsistency.empty()) << held.inconsistency;
          const std::string untouched = difference(held, snapshot(want));
          if (!threw || !untouched.empty()) {
            want.commit(want_emissions);
            ASSERT_EQ(difference(held, snapshot(want)), "")
                << (threw ? "threw, and not untouched: " + untouched : std::string("completed"));
          }
          ASSERT_EQ(continue_and_compare(got, want, tick_at + kSecond, cap), "");
          if (!fired) break;
        }
      }
    }
  }
}

// A tick and a commit whose passes are split over the pool's threads (more
// than 2 x 32,768 slots, two threads): the k-th allocation of any thread
// fails, a worker's included (a pool task that threw would end the process).
TYPED_TEST(AllocationFailure, a_tick_and_a_commit_split_over_threads) {
  using Registry = BasicHeatRegistry<TypeParam>;
  if (resolve_threads(2) < 2) GTEST_SKIP() << "one hardware thread: the passes are not split";
  constexpr std::uint64_t kKeys = 70'000;  // 131,072 slots; every array below 2 MiB
  std::vector<TypeParam> keys;
  for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(key_of<TypeParam>(i));
  const auto make = [&](const std::string& backend) {
    RegistryOptions o = options_for(backend, 0);
    o.threads = 2;
    auto r = std::make_unique<Registry>(o);
    r->bump_batch(std::span<const TypeParam>(keys), kHalfLife, at(kT0));
    return r;
  };
  const std::int64_t tick_at = kT0 + kSecond;  // every counter emits
  const std::int64_t gap_at = tick_at + 300 * kSecond;  // every counter withdraws
  // What the scalar registry leaves: untouched, or ticked with its
  // candidates rolled back; and what a next tick returns on each.
  const auto untouched = make("scalar");
  const auto untouched_state = snapshot(*untouched);
  const auto untouched_next = untouched->tick(test_policy(), at(tick_at + kSecond));
  const auto ticked = make("scalar");
  const auto expected = ticked->tick(test_policy(), at(tick_at));  // (the pool starts here, unarmed)
  for (const auto& e : expected) ticked->rollback(e.first);
  const auto ticked_state = snapshot(*ticked);
  const auto ticked_next = ticked->tick(test_policy(), at(tick_at + kSecond));
  for (const char* backend : {"scalar", "highway"}) {
    // The tick.
    for (long k = 1;; ++k) {
      SCOPED_TRACE(std::string("split tick on ") + backend + ", allocation " + std::to_string(k) + " failing");
      ASSERT_LE(k, kMaxAllocations);
      auto got = make(backend);
      typename Registry::Emissions result;
      arm_all_threads(k, false);
      bool threw = false;
      try {
        got->tick(test_policy(), at(tick_at), result);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      const bool fired = disarm();
      const auto held = snapshot(*got);
      ASSERT_TRUE(held.inconsistency.empty()) << held.inconsistency;
      std::size_t ticked_counters = 0, marked = 0;
      for (const auto& item : held.items) {
        ticked_counters += to_ns(item.counter.last_update()) == tick_at;
        marked += item.in_flight;
      }
      ASSERT_TRUE(ticked_counters == 0 || ticked_counters == held.items.size())
          << ticked_counters << " of " << held.items.size() << " counters ticked";
      if (!threw) {
        ASSERT_EQ(emissions_difference(result, expected), "");
        ASSERT_EQ(got->size(), kKeys);
      } else {
        ASSERT_EQ(marked, 0u) << "candidates marked in flight, none returned";
        ASSERT_EQ(difference(held, ticked_counters > 0 ? ticked_state : untouched_state), "");
        const auto next = got->tick(test_policy(), at(tick_at + kSecond));
        ASSERT_EQ(emissions_difference(next, ticked_counters > 0 ? ticked_next : untouched_next), "");
      }
      if (!fired) break;
    }
    // The commit of a mass withdrawal, which prunes every counter.
    for (long k = 1;; ++k) {
      SCOPED_TRACE(std::string("split commit on ") + backend + ", allocation " + std::to_string(k) + " failing");
      ASSERT_LE(k, kMaxAllocations);
      auto got = make(backend);
      got->commit(got->tick(test_policy(), at(tick_at)));
      const auto withdrawals = got->tick(test_policy(), at(gap_at));
      ASSERT_EQ(withdrawals.size(), kKeys);
      arm_all_threads(k, false);
      bool threw = false;
      try {
        got->commit(withdrawals);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      const bool fired = disarm();
      EXPECT_FALSE(threw) << "a commit does not fail for want of memory";
      const auto held = snapshot(*got);
      ASSERT_TRUE(held.inconsistency.empty()) << held.inconsistency;
      ASSERT_EQ(held.size, 0u) << "every counter withdrawn at rate 0 is pruned";
      ASSERT_EQ(got->stats().pruned, kKeys);
      // The slots come back, last pruned first, as after any prune.
      got->bump_batch(std::span<const TypeParam>(keys).first(3), kHalfLife, at(gap_at + kSecond));
      std::vector<TypeParam> order;
      got->for_each([&](const TypeParam& key, const HeatCounter&) { order.push_back(key); });
      ASSERT_EQ(order, (std::vector<TypeParam>{keys[2], keys[1], keys[0]}));
      if (!fired) break;
    }
  }
}

// ---------------------------------------------------------------------------
// The concurrent registry: S shards, each a BasicHeatRegistry. A failed
// batch has applied, shard by shard in order, every read of the shards
// before the failing one's, a prefix of that shard's, and none of the
// later shards'; a failed tick leaves each shard untouched or ticked
// without candidates. The reference is S scalar registries.

template <class Key>
struct ShardModel {
  std::vector<BasicHeatRegistry<Key>> shards;
  explicit ShardModel(std::size_t count) {
    for (std::size_t s = 0; s < count; ++s) shards.emplace_back(options_for("scalar", 0));
  }
};

template <class Key>
Snapshot<Key> shard_snapshot(const BasicConcurrentHeatRegistry<Key>& r, std::size_t shard) {
  Snapshot<Key> s;
  r.for_each([&](const Key& k, const HeatCounter& c) {
    if (r.shard_of(k) == shard) s.items.push_back(Item<Key>{k, c, false});
  });
  // (for_each holds the shard's lock, which in_flight takes too)
  for (Item<Key>& item : s.items) item.in_flight = r.in_flight(item.key);
  s.size = s.items.size();
  return s;
}

template <class Key>
std::string concurrent_difference(const BasicConcurrentHeatRegistry<Key>& r, ShardModel<Key>& model) {
  std::size_t visited = 0;
  r.for_each([&](const Key&, const HeatCounter&) { ++visited; });
  if (visited != r.size()) {
    return "size() is " + std::to_string(r.size()) + " but for_each visits " + std::to_string(visited);
  }
  for (std::size_t s = 0; s < model.shards.size(); ++s) {
    const std::string d = difference(shard_snapshot(r, s), snapshot(model.shards[s]));
    if (!d.empty()) return "shard " + std::to_string(s) + ": " + d;
  }
  return {};
}

template <class Key>
std::string concurrent_continue(BasicConcurrentHeatRegistry<Key>& r, ShardModel<Key>& model,
                                std::int64_t t) {
  const Policy policy = test_policy();
  std::vector<Key> keys;
  for (std::uint64_t i = 0; i < 200; ++i) keys.push_back(key_of<Key>(i % 3 == 0 ? i : 500'000 + i));
  r.bump_batch(std::span<const Key>(keys), kHalfLife, at(t));
  for (const Key& k : keys) model.shards[r.shard_of(k)].entry(k, kHalfLife, at(t)).bump(at(t));
  if (auto d = concurrent_difference(r, model); !d.empty()) return "after a batch: " + d;
  for (const std::int64_t when : {t + 1300 * kMs, t + 400 * kSecond}) {
    const auto got = r.tick(policy, at(when));
    typename BasicHeatRegistry<Key>::Emissions want;
    for (auto& shard : model.shards) {
      for (const auto& e : shard.tick(policy, at(when))) want.push_back(e);
    }
    if (auto d = emissions_difference(got, want); !d.empty()) return "tick: " + d;
    // The concurrent commit routes the emissions and commits every shard
    // once (which prunes it, emissions or not).
    r.commit(got);
    std::vector<typename BasicHeatRegistry<Key>::Emissions> routed(model.shards.size());
    for (const auto& e : want) routed[r.shard_of(e.first)].push_back(e);
    for (std::size_t s = 0; s < model.shards.size(); ++s) model.shards[s].commit(routed[s]);
    if (auto d = concurrent_difference(r, model); !d.empty()) return "after a commit: " + d;
  }
  return {};
}

TYPED_TEST(AllocationFailure, concurrent_registry_batch_and_tick) {
  using Key = TypeParam;
  using Concurrent = BasicConcurrentHeatRegistry<Key>;
  constexpr std::size_t kShards = 4;
  const std::int64_t start = kT0 + kSecond;
  // The history, then a batch of 600 reads at their own instants over 200
  // present and 300 new keys.
  std::vector<std::pair<Key, Instant>> history_reads, op_reads;
  for (std::uint64_t i = 0; i < 200; ++i) history_reads.emplace_back(key_of<Key>(i), at(kT0 + static_cast<std::int64_t>(i) * kMs));
  for (std::uint64_t i = 0; i < 600; ++i) {
    const std::uint64_t key = i % 2 == 0 ? (i * 7) % 200 : 10'000 + i / 2;
    op_reads.emplace_back(key_of<Key>(key), at(start + static_cast<std::int64_t>(i) * kMs - (i % 10 == 9 ? 300 * kMs : 0)));
  }
  const auto make = [&](const std::string& backend) {
    return std::make_unique<Concurrent>(options_for(backend, 0), kShards);
  };
  const auto model_bump = [](ShardModel<Key>& model, const Concurrent& r, const std::pair<Key, Instant>& read) {
    model.shards[r.shard_of(read.first)].entry(read.first, kHalfLife, read.second).bump(read.second);
  };
  for (const std::string& backend : backends()) {
    for (const bool persistent : {false, true}) {
      // The batch.
      for (long k = 1;; ++k) {
        SCOPED_TRACE("concurrent bump_batch on " + backend + ", allocation " + std::to_string(k) +
                     (persistent ? " on" : "") + " failing");
        ASSERT_LE(k, kMaxAllocations);
        auto got = make(backend);
        ShardModel<Key> model(kShards);
        got->bump_batch(std::span<const std::pair<Key, Instant>>(history_reads), kHalfLife);
        for (const auto& read : history_reads) model_bump(model, *got, read);
        (void)got->tick(test_policy(), at(start - 100 * kMs));
        for (auto& shard : model.shards) (void)shard.tick(test_policy(), at(start - 100 * kMs));
        arm(k, persistent);
        bool threw = false;
        try {
          got->bump_batch(std::span<const std::pair<Key, Instant>>(op_reads), kHalfLife);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        const bool fired = disarm();
        // Each shard's reads, in order; find how many each applied.
        std::vector<std::vector<std::pair<Key, Instant>>> routed(kShards);
        for (const auto& read : op_reads) routed[got->shard_of(read.first)].push_back(read);
        std::vector<std::size_t> applied(kShards, 0);
        for (std::size_t s = 0; s < kShards; ++s) {
          const auto held = shard_snapshot(*got, s);
          bool found = difference(held, snapshot(model.shards[s])).empty();
          while (!found && applied[s] < routed[s].size()) {
            model_bump(model, *got, routed[s][applied[s]++]);
            found = difference(held, snapshot(model.shards[s])).empty();
          }
          ASSERT_TRUE(found) << "shard " << s << ": no prefix of its reads leaves what it holds";
        }
        // Shards in order: complete, then one partial at most, then none.
        std::size_t s = 0;
        while (s < kShards && applied[s] == routed[s].size()) ++s;
        if (s < kShards) ++s;
        for (; s < kShards; ++s) EXPECT_EQ(applied[s], 0u) << "shard " << s << " applied reads after the failure";
        if (!threw) {
          for (std::size_t t = 0; t < kShards; ++t) ASSERT_EQ(applied[t], routed[t].size());
        }
        ASSERT_EQ(concurrent_difference(*got, model), "");
        ASSERT_EQ(concurrent_continue(*got, model, start + 2 * kSecond), "");
        if (!fired) break;
      }
      // The tick.
      for (long k = 1;; ++k) {
        SCOPED_TRACE("concurrent tick on " + backend + ", allocation " + std::to_string(k) +
                     (persistent ? " on" : "") + " failing");
        ASSERT_LE(k, kMaxAllocations);
        auto got = make(backend);
        ShardModel<Key> model(kShards);
        got->bump_batch(std::span<const std::pair<Key, Instant>>(op_reads), kHalfLife);
        for (const auto& read : op_reads) model_bump(model, *got, read);
        const std::int64_t tick_at = start + kSecond;
        typename Concurrent::Emissions result;
        arm(k, persistent);
        bool threw = false;
        try {
          got->tick(test_policy(), at(tick_at), result);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        const bool fired = disarm();
        typename Concurrent::Emissions want;
        for (std::size_t s = 0; s < kShards; ++s) {
          const auto held = shard_snapshot(*got, s);
          std::size_t ticked = 0;
          for (const auto& item : held.items) ticked += to_ns(item.counter.last_update()) == tick_at;
          ASSERT_TRUE(ticked == 0 || ticked == held.items.size()) << "shard " << s;
          if (!threw || ticked > 0) {
            for (const auto& e : model.shards[s].tick(test_policy(), at(tick_at))) {
              want.push_back(e);
              if (threw) model.shards[s].rollback(e.first);
            }
          }
        }
        if (!threw) {
          ASSERT_EQ(emissions_difference(result, want), "");
        }
        ASSERT_EQ(concurrent_difference(*got, model), "");
        ASSERT_EQ(concurrent_continue(*got, model, tick_at + kSecond), "");
        if (!fired) break;
      }
    }
  }
}

}  // namespace
}  // namespace heatkit
