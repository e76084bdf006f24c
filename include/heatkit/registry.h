// The heat registry (SEMANTICS.md "Registry"): key -> counter, with a cap and
// exact LRU eviction, tick/commit/rollback and in-flight tracking, for two
// kinds of keys: `HeatRegistry` (u64) and `BlobHeatRegistry` (32-byte keys).
// The counters live in the columns of the backend named at construction
// (<heatkit/backend.h>).
//
// Not thread-safe: wrap it in a mutex to share it, or use
// ConcurrentHeatRegistry (<heatkit/concurrent_registry.h>), sharded by key.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <heatkit/backend.h>
#include <heatkit/heat_counter.h>
#include <heatkit/policy.h>
#include <heatkit/time.h>

namespace heatkit {

// A 32-byte key (a content hash).
using BlobKey = std::array<std::uint8_t, 32>;

// The key types a registry takes.
template <class Key>
concept RegistryKey = std::same_as<Key, std::uint64_t> || std::same_as<Key, BlobKey>;

// Default cap on tracked counters (the seed's DEFAULT_HEAT_REGISTRY_CAP).
inline constexpr std::size_t kDefaultCap = 8 * 1024;

struct RegistryOptions {
  std::size_t cap = kDefaultCap;         // 0 = unbounded
  std::optional<bool> track_in_flight;   // unset: on for blob keys, off for u64
  std::string backend = std::string(default_backend());
  // Threads for the tick and prune passes: 0 = every hardware thread; more
  // than the hardware threads run on them, on every backend.
  unsigned threads = 0;
  // Reads (entry() calls, each with its bump) that may wait in a queue to be
  // applied together, with bump_batch's prefetching: 0 applies each at once.
  // See HeatRegistryOf::set_bump_queue.
  std::size_t bump_queue = 0;
  // The secret of the keys' hash. Unset, the default: drawn from the OS for
  // each registry, so that nobody can choose keys that collide. Set it only
  // for runs that must repeat exactly: answers never depend on it, but a
  // ConcurrentHeatRegistry's shard of a key, and so the order of its tick's
  // candidates and of for_each, does.
  std::optional<std::uint64_t> hash_seed;
};

// A bump queue length that pays: on 1M resident keys here, 256 reads were as
// fast as 1,024 and faster than 64; 12 KiB for u64 keys.
inline constexpr std::size_t kSuggestedBumpQueue = 256;

// Where a registry's bytes go.
struct MemoryUsage {
  std::size_t columns = 0;  // the store's counter columns
  std::size_t keys = 0;     // the slot -> key column
  std::size_t index = 0;    // the key -> slot hash index
  std::size_t lru = 0;      // eviction order
  std::size_t other = 0;    // scratch buffers, the bump queue
  std::size_t total() const noexcept { return columns + keys + index + lru + other; }
};

// Counts of what the registry did, for summaries.
struct RegistryStats {
  std::uint64_t evictions = 0;
  std::uint64_t pruned = 0;
  // Times the key index was rehashed under a fresh secret because a key
  // landed unusually far from its home bucket: not once in a lifetime for
  // keys the hash spreads, so a count above zero means someone found keys
  // that collide.
  std::uint64_t hash_reseeds = 0;
};

// The key index's look-up cost (summed over shards): `probes` buckets read
// by looking up each of `keys` keys once; `longest` the most buckets past
// its home any key sits.
struct IndexStats {
  std::size_t keys = 0;
  std::uint64_t probes = 0;
  std::size_t longest = 0;
};

namespace detail {

// A non-owning reference to a callable, so that a member that takes any
// callable can call an out-of-line one. Refers to the callable it was made
// from: use it only while that lives.
template <class Signature>
class FunctionRef;

// Defined only inside the library's source tree (api/registry_impl.h), never
// installed: how its benchmarks and tests reach a registry's columns.
struct RegistryInternals;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
    requires(!std::same_as<std::remove_cvref_t<F>, FunctionRef> && std::invocable<F&, Args...>)
  FunctionRef(F& f) noexcept  // NOLINT(google-explicit-constructor): a reference, as F& is
      : callable_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_(&call<F>) {}

  R operator()(Args... args) const { return call_(callable_, std::forward<Args>(args)...); }

 private:
  template <class F>
  static R call(void* callable, Args... args) {
    if constexpr (std::is_void_v<R>) {
      (*static_cast<F*>(callable))(std::forward<Args>(args)...);
    } else {
      return (*static_cast<F*>(callable))(std::forward<Args>(args)...);
    }
  }

  void* callable_;
  R (*call_)(void*, Args...);
};

}  // namespace detail

template <RegistryKey Key>
class ConcurrentHeatRegistryOf;

// The registry of one key type: HeatRegistry or BlobHeatRegistry (below).
//
// Out of memory (std::bad_alloc), a registry stays consistent and usable,
// with the answers of the calls that completed: each read (an entry(), its
// bump, each read of a batch or of the bump queue, a decay_to) applies in
// full or not at all, so a batch that throws has applied exactly the reads
// before the one that failed; a tick that throws has changed nothing, or
// ticked every counter and marked none of its candidates in flight (none is
// returned; the next tick returns them again); commit, remove and rollback
// do not fail for want of memory.
template <RegistryKey Key>
class HeatRegistryOf {
 public:
  using key_type = Key;
  using Emissions = std::vector<std::pair<Key, HeatEmission>>;

  // A live counter in the registry. Valid until the registry next inserts,
  // removes, evicts, ticks or commits.
  //
  // With a bump queue (RegistryOptions::bump_queue) the entry's read may
  // still wait in the queue: bump() right after entry() joins it to that
  // read, and anything else applies the queue first and finds the key again
  // (std::logic_error if it has left the registry since, where an entry used
  // past its validity would otherwise touch another key's counter).
  class Entry {
   public:
    void bump(Instant now);
    void decay_to(Instant now);
    void record_emission(double rate);
    void record_withdrawal();

    HeatCounter counter() const;
    double rate() const;
    std::optional<double> last_emitted() const;
    Instant last_update() const;
    Duration half_life() const;
    bool in_flight() const;

   private:
    friend class HeatRegistryOf;
    friend class ConcurrentHeatRegistryOf<Key>;
    struct Access;  // the library's way in (api/registry_access.h)
    Entry() = default;
    // The library's own handle, held by value: its registry, the counter's
    // slot, the read's place in the bump queue and the key.
    alignas(8) unsigned char state_[24 + sizeof(Key)];
  };

  HeatRegistryOf();
  // Throws UnknownBackend or BackendUnavailable for RegistryOptions::backend.
  explicit HeatRegistryOf(RegistryOptions options);
  // A registry with an explicit cap; 0 disables the bound (prefer unbounded()).
  static HeatRegistryOf with_cap(std::size_t cap);
  // A registry whose cap is disabled on purpose.
  static HeatRegistryOf unbounded();

  HeatRegistryOf(HeatRegistryOf&&) noexcept;
  HeatRegistryOf& operator=(HeatRegistryOf&&) noexcept;
  ~HeatRegistryOf();

  std::size_t cap() const noexcept;
  // Every member that reads or changes keys or counters (these two, and
  // get, tick, commit, the batches, memory_usage, ...) applies the queued
  // reads first, if any: const members too, see set_bump_queue.
  std::size_t size() const;
  bool empty() const;
  bool tracks_in_flight() const noexcept;
  void set_track_in_flight(bool on) noexcept;
  std::string_view backend() const noexcept;
  // Threads for the tick and prune passes (0 = every hardware thread). The
  // candidates and their order are the same for any thread count.
  void set_threads(unsigned threads);
  const RegistryStats& stats() const;
  // The key index's look-up cost now (a scan of the index: for tests and
  // reports, not for a hot path).
  IndexStats index_stats() const;
  // The secret the keys are hashed with now: RegistryOptions::hash_seed or
  // the OS's draw, until the index is rehashed under a fresh one.
  std::uint64_t hash_seed() const noexcept;

  // The bump queue: with `limit` > 0, entry() does not look its key up at
  // once but queues the read (and a bump() called on the entry right away
  // joins it), and the queued reads are applied together, by bump_batch's
  // pipeline, when `limit` are waiting or before any other member runs. A
  // look-up waits on two dependent cache misses (the index, then the key and
  // counter lines), which one read at a time cannot overlap with the next
  // read's; queued, they can: single bumps then cost what batched ones do.
  // The results are exactly those of applying each read at its call.
  //
  // What changes: the work of a read (and its errors, such as a failed
  // allocation) happens at a later call. A read that throws while the queue
  // is applied is dropped (it changed nothing, as when entry() throws), the
  // reads before it are applied and the later ones stay queued. Const
  // members apply the queue too, so while reads may be queued not even
  // const members may be called concurrently (a registry is not
  // thread-safe anyway; ConcurrentHeatRegistry does not queue). `limit` 0
  // (the default) applies every read at its call. Applies the queued reads.
  void set_bump_queue(std::size_t limit);
  std::size_t bump_queue() const noexcept;
  // Reads waiting in the queue.
  std::size_t queued_reads() const noexcept;
  // Applies the queued reads now (every other member does so first anyway).
  void apply_queue() const;

  // Get-or-create the counter for `key`. A new key at the cap first evicts the
  // entry with the oldest last_update (earliest bump on ties). An existing
  // key keeps its half-life. Throws std::invalid_argument on a negative
  // half-life.
  Entry entry(const Key& key, Duration half_life, Instant now);

  // Bumps every key at `now`, in order: exactly
  //   for (const Key& k : keys) entry(k, half_life, now).bump(now);
  // duplicates, creations, evictions at the cap and the eviction tie-break
  // included, only faster: the look-ups of the keys a few places ahead are
  // prefetched while the current one is bumped. Throws
  // std::invalid_argument on a negative half-life, before anything changes.
  void bump_batch(std::span<const Key> keys, Duration half_life, Instant now);
  // Bumps each key at its own instant, in order: exactly
  //   for (const auto& [k, at] : reads) entry(k, half_life, at).bump(at);
  // (instants may go backwards). Throws like the batch above.
  void bump_batch(std::span<const std::pair<Key, Instant>> reads, Duration half_life);

  // A snapshot of `key`'s counter, or nothing.
  std::optional<HeatCounter> get(const Key& key) const;
  bool contains(const Key& key) const;
  // Whether `key` is present and marked in flight.
  bool in_flight(const Key& key) const;
  // Drops `key`'s counter and its in-flight mark. No-op when absent.
  void remove(const Key& key);

  // Calls f(key, counter) for every entry, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for_each_entry(detail::FunctionRef<void(const Key&, const HeatCounter&)>(f));
  }

  // Decays every counter to `now` and returns the Emit/Withdraw candidates in
  // slot order. Mutates no last_emitted. With in-flight tracking on, skips
  // counters in flight and marks every returned one. Throws InvalidPolicy.
  Emissions tick(const Policy& policy, Instant now);
  // The same into `out`, replacing its contents: a caller that ticks in a
  // loop with one vector reuses its memory instead of faulting in a fresh
  // result every tick. `out` is untouched when the policy is invalid.
  void tick(const Policy& policy, Instant now, Emissions& out);

  // Records each emission on its counter (if still present) and clears its
  // in-flight mark, then prunes every fully decayed, withdrawn counter.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions);
  // Clears `key`'s in-flight mark without committing (the sink failed).
  void rollback(const Key& key);

  MemoryUsage memory_usage() const;

  // Snapshots (<heatkit/snapshot.h>, docs/SNAPSHOT_FORMAT.md). save writes
  // the registry's state, with `application` bytes of the caller's own (at
  // most kMaxApplicationBytes), to `path`, replacing it atomically, or to a
  // stream. It changes nothing (it applies the queued reads) and needs a
  // buffer of about 1 MiB beyond the registry. Throws SnapshotError (kIo:
  // the old file is then as it was).
  void save(const std::filesystem::path& path, std::span<const std::byte> application = {}) const;
  void save(std::ostream& out, std::span<const std::byte> application = {}) const;
  // A registry with a snapshot's counters, eviction order, free slots and
  // statistics, none of them in flight. Its cap and in-flight tracking are
  // the saved registry's (options.cap and options.track_in_flight are not
  // used); the backend, threads, bump queue and hash secret come from
  // `options`. The application bytes go to `*application` when given.
  // Throws SnapshotError for a file that is not a whole, consistent snapshot
  // of this key type, and what the constructor throws; nothing is loaded
  // then. The stream form reads exactly the snapshot's bytes.
  static HeatRegistryOf load(const std::filesystem::path& path, RegistryOptions options = {},
                             std::vector<std::byte>* application = nullptr);
  static HeatRegistryOf load(std::istream& in, RegistryOptions options = {},
                             std::vector<std::byte>* application = nullptr);

 private:
  void for_each_entry(detail::FunctionRef<void(const Key&, const HeatCounter&)> f) const;

  friend struct detail::RegistryInternals;  // in-tree benchmarks and tests (api/registry_impl.h)
  struct Impl;  // the library's registry
  explicit HeatRegistryOf(std::unique_ptr<Impl> impl) noexcept;  // load's
  std::unique_ptr<Impl> impl_;
};

extern template class HeatRegistryOf<std::uint64_t>;
extern template class HeatRegistryOf<BlobKey>;

// u64 keys; in-flight tracking off by default.
using HeatRegistry = HeatRegistryOf<std::uint64_t>;
// 32-byte keys; in-flight tracking on by default.
using BlobHeatRegistry = HeatRegistryOf<BlobKey>;

}  // namespace heatkit
