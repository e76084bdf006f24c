// A heat registry for many threads: bumps from N threads at once while
// another thread ticks, with no global lock on the bump path.
//
// The keys are split into S shards (a power of two) by the high bits of the
// key's keyed hash. Each shard is a registry (<heatkit/registry.h>) behind
// its own lock: a bump locks one shard, so bumps to different shards never
// wait for each other. A tick or commit walks the shards, locking one at a
// time (on several threads when allowed), so bumps to the other shards go on
// meanwhile.
//
// The cap is per shard. With cap C > 0 and S shards, every shard holds at most
// shard_cap() = ceil(C / S) counters, and a new key in a full shard evicts
// that shard's victim by the exact rule of SEMANTICS.md (oldest last_update,
// earliest bump on ties) among that shard's counters. The whole registry so
// never holds more than S * ceil(C / S) < C + S counters; since keys spread
// over the shards by hash, a shard may fill (and evict) a little before the
// total reaches C, so give the cap some headroom (a few times sqrt(C / S) per
// shard) when every key of a known set must stay. The default shard count
// keeps capped shards at least kMinShardCap large, so a cap below
// 2 * kMinShardCap gets one shard and means exactly what it means for
// HeatRegistry.
//
// In every other respect a ConcurrentHeatRegistry is S independent registries,
// key k living in shard_of(k): single-threaded use gives exactly their
// results, tick returns their candidates in shard order (and slot order
// within a shard), and with S = 1 it is one HeatRegistry.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>

#include <heatkit/heat_counter.h>
#include <heatkit/policy.h>
#include <heatkit/registry.h>
#include <heatkit/time.h>

namespace heatkit {

// Shards the default shard count keeps at least this large (when capped).
inline constexpr std::size_t kMinShardCap = 1024;
// The most shards a registry may have.
inline constexpr std::size_t kMaxShards = std::size_t{1} << 16;
// Default shards per hardware thread. With T threads bumping uniformly spread
// keys, a bump finds its shard held by another thread with a chance of about
// (T - 1) / (32 T) < 1/32; with the spinning shard lock such a meeting costs
// about one critical section. More would cost more than they save: each
// shard is a registry of about 0.4 KB before its first key, a tick visits
// every shard, and a batch is split into one group per shard.
inline constexpr std::size_t kDefaultShardsPerThread = 32;

// The shard count used when none is given for `cap` on a machine with
// `hardware_threads` threads: kDefaultShardsPerThread per thread rounded up to
// a power of two (at most kMaxShards), halved while a capped shard would hold
// fewer than kMinShardCap counters.
constexpr std::size_t default_shard_count(std::size_t cap, unsigned hardware_threads) noexcept {
  const std::size_t wanted = kDefaultShardsPerThread * std::max<std::size_t>(1, hardware_threads);
  std::size_t shards = std::min(std::bit_ceil(wanted), kMaxShards);
  if (cap > 0) {
    while (shards > 1 && cap / shards < kMinShardCap) shards /= 2;
  }
  return shards;
}
// The same on this machine.
std::size_t default_shard_count(std::size_t cap) noexcept;

// The sharded registry of one key type: ConcurrentHeatRegistry or
// ConcurrentBlobHeatRegistry (below).
template <RegistryKey Key>
class ConcurrentHeatRegistryOf {
 public:
  using key_type = Key;
  using Entry = typename HeatRegistryOf<Key>::Entry;
  using Emissions = typename HeatRegistryOf<Key>::Emissions;

  ConcurrentHeatRegistryOf();
  // `options` as for HeatRegistry, except: `cap` is split over the shards
  // (see above), `threads` is how many threads tick and commit walk the
  // shards with (0 = every hardware thread; each shard's own passes run on
  // the walking thread) and `bump_queue` must be 0 (std::invalid_argument
  // otherwise: every read is applied at its call). `shards`: 0 =
  // default_shard_count(cap), otherwise a power of two in [1, kMaxShards];
  // throws std::invalid_argument naming `shards` when it is not.
  explicit ConcurrentHeatRegistryOf(RegistryOptions options, std::size_t shards = 0);
  ~ConcurrentHeatRegistryOf();

  // Shared by reference between threads: neither copied nor moved.
  ConcurrentHeatRegistryOf(const ConcurrentHeatRegistryOf&) = delete;
  ConcurrentHeatRegistryOf& operator=(const ConcurrentHeatRegistryOf&) = delete;

  // The cap as given (0 = unbounded) and what it allows each shard.
  std::size_t cap() const noexcept;
  std::size_t shard_cap() const noexcept;
  std::size_t shard_count() const noexcept;
  // The shard that holds `key`.
  std::size_t shard_of(const Key& key) const noexcept;
  // The secret of the shard selector's hash (RegistryOptions::hash_seed).
  std::uint64_t hash_seed() const noexcept;
  std::string_view backend() const noexcept;
  // Read under a shard's lock, as set_track_in_flight writes it.
  bool tracks_in_flight() const;
  // Threads tick and commit walk the shards with (0 = every hardware thread).
  void set_threads(unsigned threads) noexcept;

  // Counters held: the sum of each shard's count, each read at some moment
  // (exact when no other thread is changing the registry). Takes no lock.
  std::size_t size() const noexcept;
  bool empty() const noexcept;

  // entry(key, half_life, now).bump(now) under the key's shard lock. Throws
  // std::invalid_argument on a negative half-life.
  void bump(const Key& key, Duration half_life, Instant now);

  // Bumps every key at `now`: the keys are grouped by shard (keeping their
  // order within a shard) and each group is bumped as one batch under its
  // shard's lock, taken once. The result is that of bumping the keys one by
  // one in order (shards are independent); other threads may interleave
  // between groups. Throws std::invalid_argument on a negative half-life,
  // before anything changes. Out of memory (std::bad_alloc) the groups
  // before the failing read's are applied, its group up to that read, and
  // none after it.
  void bump_batch(std::span<const Key> keys, Duration half_life, Instant now);
  // Bumps each key at its own instant, grouped by shard as above.
  void bump_batch(std::span<const std::pair<Key, Instant>> reads, Duration half_life);

  // Runs f(entry) on `key`'s entry (created if absent, as entry() does) under
  // its shard's lock and returns what f returns. The Entry must not outlive
  // the call, and f must not call back into this registry.
  template <class F>
  decltype(auto) with_entry(const Key& key, Duration half_life, Instant now, F&& f) {
    using Result = std::invoke_result_t<F&, Entry&>;
    if constexpr (std::is_void_v<Result>) {
      auto call = [&f](Entry& entry) { f(entry); };
      with_entry_ref(key, half_life, now, detail::FunctionRef<void(Entry&)>(call));
    } else if constexpr (std::is_lvalue_reference_v<Result>) {
      std::add_pointer_t<Result> result = nullptr;
      auto call = [&f, &result](Entry& entry) { result = std::addressof(f(entry)); };
      with_entry_ref(key, half_life, now, detail::FunctionRef<void(Entry&)>(call));
      return static_cast<Result>(*result);
    } else {
      using Value = std::remove_cvref_t<Result>;
      std::optional<Value> result;
      auto call = [&f, &result](Entry& entry) { result.emplace(f(entry)); };
      with_entry_ref(key, half_life, now, detail::FunctionRef<void(Entry&)>(call));
      return Value(std::move(*result));
    }
  }

  std::optional<HeatCounter> get(const Key& key) const;
  bool contains(const Key& key) const;
  bool in_flight(const Key& key) const;
  void remove(const Key& key);
  void rollback(const Key& key);
  void set_track_in_flight(bool on);

  // Calls f(key, counter) for every entry: shard by shard, each under its
  // lock, in slot order within a shard. f must not call back into this
  // registry.
  template <class F>
  void for_each(F&& f) const {
    for_each_entry(detail::FunctionRef<void(const Key&, const HeatCounter&)>(f));
  }

  // HeatRegistry::tick on every shard, each under its lock (so bumps to the
  // other shards go on), on up to set_threads() threads. The candidates come
  // in shard order, then slot order: the same for any thread count. Throws
  // InvalidPolicy before any shard changes. Ticks from several threads at
  // once take turns (each still sees every shard as it is then). A tick
  // that runs out of memory (std::bad_alloc) returns nothing and leaves no
  // candidate marked in flight; each shard is as HeatRegistry::tick leaves
  // it then (untouched, or ticked).
  Emissions tick(const Policy& policy, Instant now);
  // The same into `out`, replacing its contents and reusing its memory, as
  // HeatRegistry's. `out` is untouched when the policy is invalid.
  void tick(const Policy& policy, Instant now, Emissions& out);

  // Routes each emission to its key's shard (keeping their order there), then
  // commits every shard under its lock, which also prunes each shard's fully
  // decayed, withdrawn counters, as HeatRegistry::commit does.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions);

  // Sums over the shards, each read under its lock.
  RegistryStats stats() const;
  // The shards' index look-up costs, summed (longest: the longest of any).
  IndexStats index_stats() const;
  MemoryUsage memory_usage() const;

  // Snapshots (<heatkit/snapshot.h>), as HeatRegistry's: save holds every
  // shard's lock for the whole save (a snapshot of one moment; bumps wait),
  // and writes each shard with the shard selector's secret, so that load
  // puts every key back in the shard it was saved from. Treat the file as
  // private as the process: it holds that secret. load's registry has the
  // snapshot's shard count, secret, cap and in-flight tracking; the
  // backend and threads come from `options` (bump_queue must be 0).
  void save(const std::filesystem::path& path, std::span<const std::byte> application = {}) const;
  void save(std::ostream& out, std::span<const std::byte> application = {}) const;
  static std::unique_ptr<ConcurrentHeatRegistryOf> load(const std::filesystem::path& path,
                                                        RegistryOptions options = {},
                                                        std::vector<std::byte>* application = nullptr);
  static std::unique_ptr<ConcurrentHeatRegistryOf> load(std::istream& in, RegistryOptions options = {},
                                                        std::vector<std::byte>* application = nullptr);

 private:
  void with_entry_ref(const Key& key, Duration half_life, Instant now,
                      detail::FunctionRef<void(Entry&)> f);
  void for_each_entry(detail::FunctionRef<void(const Key&, const HeatCounter&)> f) const;

  struct Impl;  // the library's sharded registry
  struct Internals;  // load's way at Impl (api/concurrent_registry.cc)
  std::unique_ptr<Impl> impl_;
};

extern template class ConcurrentHeatRegistryOf<std::uint64_t>;
extern template class ConcurrentHeatRegistryOf<BlobKey>;

// u64 keys; in-flight tracking off by default.
using ConcurrentHeatRegistry = ConcurrentHeatRegistryOf<std::uint64_t>;
// 32-byte keys; in-flight tracking on by default.
using ConcurrentBlobHeatRegistry = ConcurrentHeatRegistryOf<BlobKey>;

}  // namespace heatkit
