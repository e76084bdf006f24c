// What heatkit_bench measures: a heatkit registry on one backend and thread
// count, or the straightforward port, behind one small interface the
// benchmarks template on, for u64 keys and for 32-byte keys. Also the
// workload constants and keys they share.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "bench/results.h"
#include "bench/straightforward_port.h"
#include <heatkit/heatkit.h>
#include "api/registry_impl.h"
#include "store/counter_store.h"
#include "math/random.h"

namespace heatkit::bench {

template <class Key>
using EmissionsOf = std::vector<std::pair<Key, HeatEmission>>;
using Emissions = EmissionsOf<std::uint64_t>;

inline constexpr std::int64_t kHalfLife =
    std::chrono::nanoseconds(std::chrono::minutes(30)).count();
inline constexpr std::int64_t kStart = 1'000'000'000;  // first instant of every workload (ns)
inline constexpr std::int64_t kBumpStep = 1'000;       // 1 us between consecutive bumps/inserts
inline constexpr std::uint64_t kSeed = 0x6865'6174'6b69'7421ULL;
inline constexpr std::uint64_t kResidentStream = 1;  // keys a workload starts with
inline constexpr std::uint64_t kFreshStream = 2;     // keys inserted at the cap
inline constexpr std::uint64_t kChoiceStream = 3;    // which key a bump picks
inline constexpr std::uint64_t kStaggerStream = 4;   // emission phase of each counter
inline constexpr std::uint64_t kBlobStream = 5;      // the rest of a 32-byte key

// The i-th resident key: random 64-bit keys, as hashed origin ids are.
inline std::uint64_t resident_key(std::uint64_t i) { return counter_random(kSeed, kResidentStream, i); }
inline std::uint64_t fresh_key(std::uint64_t i) { return counter_random(kSeed, kFreshStream, i); }

// The key of kind Key for the u64 key `id`: the id itself, or 32 bytes
// that start with the id (so distinct ids stay distinct) and go on with
// random bytes drawn from it, as a digest's are.
template <class Key>
Key as_key(std::uint64_t id);
template <>
inline std::uint64_t as_key<std::uint64_t>(std::uint64_t id) {
  return id;
}
template <>
inline BlobKey as_key<BlobKey>(std::uint64_t id) {
  BlobKey key;
  std::memcpy(key.data(), &id, sizeof id);
  for (std::uint64_t word = 1; word < 4; ++word) {
    const std::uint64_t bits = counter_random(kSeed ^ id, kBlobStream, word);
    std::memcpy(key.data() + 8 * word, &bits, sizeof bits);
  }
  return key;
}

// A heatkit registry's memory_usage() per counter, part by part.
inline MemoryReport memory_report(const MemoryUsage& m, std::size_t size) {
  const double n = static_cast<double>(std::max<std::size_t>(1, size));
  return {static_cast<double>(m.total()) / n,
          {{"columns_B", static_cast<double>(m.columns) / n},
           {"keys_B", static_cast<double>(m.keys) / n},
           {"index_B", static_cast<double>(m.index) / n},
           {"lru_B", static_cast<double>(m.lru) / n},
           {"scratch_B", static_cast<double>(m.other) / n}}};
}

// Whether this build's registry has the batched bump (it arrives with the
// concurrent registry); the batch benchmarks are registered only if so.
template <class R, class Key = std::uint64_t>
concept HasBumpBatch = requires(R& r, std::span<const Key> keys) {
  r.bump_batch(keys, Duration{}, Instant{});
};
inline constexpr bool kHaveBumpBatch = HasBumpBatch<HeatRegistry>;

// A benchmark registry: cap = the workload's size, one thread, no in-flight
// tracking (for 32-byte keys too, as the port has none), the OS's secret.
inline RegistryOptions bench_options(std::size_t cap, const std::string& backend) {
  RegistryOptions options;
  options.cap = cap;
  options.track_in_flight = false;
  options.backend = backend;
  options.threads = 1;
  return options;
}

// A heatkit registry (HeatRegistry, BlobHeatRegistry) on one backend, its
// passes on `threads` threads.
template <class Registry, class K>
class BasicHeatkitSubject {
 public:
  using Key = K;
  using Emissions = EmissionsOf<Key>;
  static constexpr std::size_t kInsertBatch = 256;  // inserts per timed iteration

  BasicHeatkitSubject(const std::string& backend, std::size_t cap)
      : registry_(bench_options(cap, backend)) {}

  void set_threads(unsigned threads) { registry_.set_threads(threads); }
  void set_bump_queue(std::size_t limit) { registry_.set_bump_queue(limit); }
  void apply_queue() { registry_.apply_queue(); }
  void touch(const Key& key, std::int64_t now) {
    const Instant t = instant_from_ns(now);
    registry_.entry(key, Duration(kHalfLife), t).bump(t);
  }
  // All keys at one instant, as one batch.
  void touch_batch(std::span<const Key> keys, std::int64_t now) {
    if constexpr (HasBumpBatch<Registry, Key>) {
      registry_.bump_batch(keys, Duration(kHalfLife), instant_from_ns(now));
    } else {
      for (const Key& key : keys) touch(key, now);
    }
  }
  void set_last_emitted(const Key& key, double rate, std::int64_t now) {
    registry_.entry(key, Duration(kHalfLife), instant_from_ns(now)).record_emission(rate);
  }
  Emissions tick(const Policy& policy, std::int64_t now) {
    return registry_.tick(policy, instant_from_ns(now));
  }
  // A tick into the caller's vector, reusing its memory (how a loop that
  // ticks every second would call it).
  void tick(const Policy& policy, std::int64_t now, Emissions& out) {
    registry_.tick(policy, instant_from_ns(now), out);
  }
  void commit(const Emissions& emissions) { registry_.commit(emissions); }
  std::size_t size() const { return registry_.size(); }

  // Sets every counter's rate to `rate`, keeping last_update and the emission
  // state (restores a workload between timed ticks). On host columns directly;
  // for any other store, re-bumps every key `keys(i)` at its own last_update.
  template <class KeyOf>
  void restore_rates(double rate, std::size_t n, KeyOf keys) {
    if (auto* host = dynamic_cast<HostCounterStore*>(&store())) {
      const CounterColumns c = host->columns();
      for (std::size_t s = 0; s < c.size; ++s) {
        if (c.flags[s] & kLive) c.rate[s] = rate;
      }
      return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto e = registry_.entry(keys(i), Duration(kHalfLife), instant_from_ns(0));
      e.bump(e.last_update());  // rate r -> r + 1 at no elapsed time
    }
  }

  MemoryReport memory() const { return memory_report(registry_.memory_usage(), size()); }

  Registry& registry() noexcept { return registry_; }

 private:
  // The registry's store, reached from inside the source tree (users of the
  // installed API cannot): restore_rates rewrites host columns in place.
  CounterStore& store() { return detail::RegistryInternals::of(registry_).store(); }

  Registry registry_;
};

using HeatkitSubject = BasicHeatkitSubject<HeatRegistry, std::uint64_t>;
using BlobHeatkitSubject = BasicHeatkitSubject<BlobHeatRegistry, BlobKey>;

// bench/straightforward_port.h, single-threaded whatever the thread count.
template <class PortRegistry, class K>
class BasicPortSubject {
 public:
  using Key = K;
  using Emissions = EmissionsOf<Key>;
  static constexpr std::size_t kInsertBatch = 1;  // each insert scans every counter

  explicit BasicPortSubject(std::size_t cap) : registry_(cap) {}

  void set_threads(unsigned) {}
  void touch(const Key& key, std::int64_t now) { registry_.entry(key, kHalfLife, now).bump(now); }
  void touch_batch(std::span<const Key> keys, std::int64_t now) {
    for (const Key& key : keys) touch(key, now);
  }
  void set_last_emitted(const Key& key, double rate, std::int64_t now) {
    registry_.entry(key, kHalfLife, now).last_emitted = rate;
  }
  Emissions tick(const Policy& policy, std::int64_t now) { return registry_.tick(policy, now); }
  // The port returns a fresh vector per tick, as the seed does.
  void tick(const Policy& policy, std::int64_t now, Emissions& out) { out = registry_.tick(policy, now); }
  void commit(const Emissions& emissions) { registry_.commit(emissions); }
  std::size_t size() const { return registry_.size(); }

  template <class KeyOf>
  void restore_rates(double rate, std::size_t, KeyOf) {
    registry_.for_each([rate](PortCounter& c) { c.rate = rate; });
  }

  MemoryReport memory() const {
    const double n = static_cast<double>(std::max<std::size_t>(1, size()));
    const auto requested = static_cast<double>(registry_.requested_bytes());
    const auto buckets = static_cast<double>(registry_.bucket_bytes());
    const auto heap = static_cast<double>(registry_.heap_bytes());
    return {requested / n,
            {{"nodes_B", (requested - buckets) / n},
             {"buckets_B", buckets / n},
             {"malloc_overhead_B", (heap - requested) / n}}};
  }

  PortRegistry& registry() noexcept { return registry_; }

 private:
  PortRegistry registry_;
};

using PortSubject = BasicPortSubject<StraightforwardRegistry, std::uint64_t>;
using BlobPortSubject = BasicPortSubject<BlobStraightforwardRegistry, BlobKey>;

}  // namespace heatkit::bench
