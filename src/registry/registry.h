// The heat registry (SEMANTICS.md "Registry"): key -> counter, with a cap and
// exact LRU eviction, tick/commit/rollback and in-flight tracking. One template
// serves both key kinds (u64 and 32-byte keys); the public HeatRegistry and
// BlobHeatRegistry (<heatkit/registry.h>, defined in api/heat_registry.cc) are
// facades over it, and its options, stats and key types are theirs. The
// counters live in a CounterStore of the backend named at construction; the
// registry owns the keys, the LRU order and the free slots.
//
// Not thread-safe: wrap it in a mutex to share it (as the seed does), or use
// BasicConcurrentHeatRegistry (registry/concurrent_registry.h), sharded by key.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "util/huge_page_allocator.h"
#include "registry/key_hash.h"
#include "registry/key_records.h"
#include "registry/lru_order.h"
#include "util/prefetch.h"
#include "registry/slot_index.h"
#include "util/thread_pool.h"
#include "math/tick_params.h"
#include "math/random.h"
#include <heatkit/registry.h>
#include <heatkit/time.h>

namespace heatkit {

template <class Key>
class BasicConcurrentHeatRegistry;

// The slot count a registry holding `used` slots grows to when it needs one
// more (BasicHeatRegistry::grow): double, but where doubling would pass the
// cap grow by sixteenths instead (to the cap at most).
constexpr std::size_t grown_slot_count(std::size_t used, std::size_t cap) noexcept {
  std::size_t n = std::max<std::size_t>(16, 2 * used);
  if (cap > 0 && n > cap) {
    n = std::max(used + 1, std::min(cap, used + std::max<std::size_t>(16, used / 16)));
  }
  return n;
}

template <class Key>
struct KeyTraits;

template <>
struct KeyTraits<std::uint64_t> {
  static constexpr bool kTrackInFlightByDefault = false;
};

template <>
struct KeyTraits<BlobKey> {
  static constexpr bool kTrackInFlightByDefault = true;
};

// A key placed more than this many buckets from its home rehashes the index
// under a fresh secret. Under the keyed hash, at the index's highest load
// (3/4), a key lands 192 or more buckets from home with a chance of 3e-7
// (measured over 5e7 inserts) and each further 64 buckets divide that by
// about 30: past 1,024 it is below 1e-20. Keys crafted to collide get there
// after about a thousand inserts (half a million probes in all), and then
// scatter.
inline constexpr std::size_t kLongProbe = 1024;

// Resizes `out` to `n` elements, every one of which the caller overwrites
// next (a tick's result). Growing past its capacity reallocates it empty (the
// old elements are not copied) and asks for huge pages before it is first
// written: a mass withdrawal's result is as big as the columns, and with base
// pages faulting it in costs more than filling it. Otherwise the elements it
// has are kept, so only growth writes defaults.
template <class T>
void resize_for_overwrite(std::vector<T>& out, std::size_t n) {
  if (out.capacity() < n) {
    std::vector<T>().swap(out);
    out.reserve(n);
    advise_huge_pages(out.data(), out.capacity() * sizeof(T));
  }
  out.resize(n);
}

// `Hasher` hashes keys for the slot index: constructed from a 64-bit secret,
// it gives it back by seed() and maps a key to 64 bits. KeyHash, the
// default, is the one to use; tests put in functions of their own to place
// keys where they want them.
template <class Key, class Hasher = KeyHash>
class BasicHeatRegistry {
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
    void bump(Instant now) {
      if (ticket_ != kNoTicket && reg_->bump_in_queue(ticket_, to_ns(now))) return;
      reg_->bump_slot(slot(), to_ns(now));
    }
    void decay_to(Instant now) {
      const Slot s = slot();
      reg_->store_->decay_to(s, to_ns(now));
      reg_->lru_.on_decay(s, to_ns(now), reg_->store_->last_update_host());
    }
    void record_emission(double rate) { reg_->store_->record(slot(), Decision::kEmit, rate); }
    void record_withdrawal() { reg_->store_->record(slot(), Decision::kWithdraw, 0.0); }

    HeatCounter counter() const { return HeatCounter::from_state(reg_->store_->read(slot())); }
    double rate() const { return reg_->store_->read(slot()).rate; }
    std::optional<double> last_emitted() const { return counter().last_emitted(); }
    Instant last_update() const { return instant_from_ns(reg_->store_->read(slot()).last_update); }
    Duration half_life() const { return Duration(reg_->store_->read(slot()).half_life); }
    bool in_flight() const { return reg_->store_->read(slot()).in_flight; }

   private:
    friend class BasicHeatRegistry;
    static constexpr std::uint64_t kNoTicket = UINT64_MAX;
    Entry(BasicHeatRegistry* reg, Slot slot) : reg_(reg), slot_(slot) {}
    Entry(BasicHeatRegistry* reg, const Key& key, std::uint64_t ticket)
        : reg_(reg), ticket_(ticket), key_(key) {}
    // The counter's slot; for an entry made while reads were queued, once
    // the queue has been applied.
    // Only the common case (no read queued) is inline: the public Entry's
    // members call this, and GCC left the whole function out of line there.
    [[gnu::always_inline]] Slot slot() const {
      if (ticket_ != kNoTicket) [[unlikely]] return slot_after_queue();
      return slot_;
    }
    [[gnu::noinline]] Slot slot_after_queue() const {
      reg_->apply_queue();
      const Slot s = reg_->find(key_);
      if (s == kNoSlot) {
        throw std::logic_error("heat registry: an Entry was used after its key left the registry");
      }
      slot_ = s;
      ticket_ = kNoTicket;
      return slot_;
    }
    BasicHeatRegistry* reg_;
    mutable Slot slot_ = 0;
    // The read's number (reads_queued_ when it was queued) while it may be
    // queued; kNoTicket once slot_ holds the slot.
    mutable std::uint64_t ticket_ = kNoTicket;
    Key key_{};  // the key, to find it once the queue is applied
  };

  BasicHeatRegistry() : BasicHeatRegistry(RegistryOptions{}) {}
  explicit BasicHeatRegistry(RegistryOptions options)
      : cap_(options.cap),
        track_in_flight_(options.track_in_flight.value_or(KeyTraits<Key>::kTrackInFlightByDefault)),
        threads_(options.threads),
        queue_limit_(options.bump_queue),
        store_(make_store(options.backend)),
        index_(Hasher(options.hash_seed ? *options.hash_seed : random_hash_seed())) {
    store_->set_threads(options.threads);
    host_columns_ = store_->host_columns();
  }

  // A registry with an explicit cap; 0 disables the bound (prefer unbounded()).
  static BasicHeatRegistry with_cap(std::size_t cap) {
    RegistryOptions o;
    o.cap = cap;
    return BasicHeatRegistry(std::move(o));
  }
  // A registry whose cap is disabled on purpose.
  static BasicHeatRegistry unbounded() { return with_cap(0); }

  BasicHeatRegistry(BasicHeatRegistry&&) noexcept = default;
  BasicHeatRegistry& operator=(BasicHeatRegistry&&) noexcept = default;

  std::size_t cap() const noexcept { return cap_; }
  // Every member that reads or changes keys or counters (these two, and
  // get, tick, commit, the batches, memory_usage, ...) applies the queued
  // reads first, if any: const members too, see set_bump_queue.
  std::size_t size() const {
    apply_queue();
    return index_.size();
  }
  bool empty() const { return size() == 0; }
  bool tracks_in_flight() const noexcept { return track_in_flight_; }
  void set_track_in_flight(bool on) noexcept { track_in_flight_ = on; }
  std::string_view backend() const noexcept { return store_->backend(); }
  // Threads for the tick and prune passes (0 = every hardware thread). The
  // candidates and their order are the same for any thread count.
  void set_threads(unsigned threads) {
    store_->set_threads(threads);
    threads_ = threads;
  }
  const RegistryStats& stats() const {
    apply_queue();
    return stats_;
  }
  // The slot index's look-up cost now (a scan of the index: for tests and
  // reports, not for a hot path).
  IndexStats index_stats() const {
    apply_queue();
    const auto probes = index_.probe_stats(keys_);
    return {probes.keys, probes.probes, probes.longest};
  }
  // The secret the keys are hashed with now: RegistryOptions::hash_seed or
  // the OS's draw, until the index is rehashed under a fresh one.
  std::uint64_t hash_seed() const noexcept { return index_.hasher().seed(); }

  // The bump queue: with `limit` > 0, entry() does not look its key up at
  // once but queues the read (and a bump() called on the entry right away
  // joins it), and the queued reads are applied together, by bump_batch's
  // pipeline, when `limit` are waiting or before any other member runs. A
  // look-up waits on two dependent cache misses (the index, then the key and
  // counter lines), which one read at a time cannot overlap with the next
  // read's; queued, they can: single bumps then cost what batched ones do
  // (docs/PERFORMANCE.md). The results are exactly those of applying each
  // read at its call.
  //
  // What changes: the work of a read (and its errors, such as a failed
  // allocation) happens at a later call. A read that throws while the queue
  // is applied is dropped (its changes may be partial, as when entry()
  // throws), the reads before it are applied and the later ones stay
  // queued. Const members apply the queue too, so while reads may be queued
  // not even const members may be called concurrently (a registry is not
  // thread-safe anyway; ConcurrentHeatRegistry does not queue). `limit` 0
  // (the default) applies every read at its call. Applies the queued reads.
  void set_bump_queue(std::size_t limit) {
    apply_queue();
    queue_limit_ = limit;
    if (limit == 0) std::vector<QueuedRead>().swap(queue_);
  }
  std::size_t bump_queue() const noexcept { return queue_limit_; }
  // Reads waiting in the queue.
  std::size_t queued_reads() const noexcept { return queue_.size(); }
  // Applies the queued reads now (every other member does so first anyway).
  // Const, as the members that call it: a registry with reads queued got
  // them through entry(), so it is not a const object.
  void apply_queue() const {
    if (!queue_.empty()) const_cast<BasicHeatRegistry*>(this)->apply_queued_reads();
  }

  // Get-or-create the counter for `key`. A new key at the cap first evicts the
  // entry with the oldest last_update (earliest bump on ties). An existing
  // key keeps its half-life. Throws std::invalid_argument on a negative
  // half-life.
  Entry entry(const Key& key, Duration half_life, Instant now) {
    check_half_life(half_life);
    if (queue_limit_ > 0) {
      if (queue_.size() >= queue_limit_) apply_queue();
      queue_.push_back(QueuedRead{key, index_.hash(key), to_ns(half_life), to_ns(now), 0, false});
      return Entry(this, key, reads_queued_++);
    }
    return Entry(this, find_or_insert(key, index_.hash(key), to_ns(half_life), to_ns(now)));
  }

  // Bumps every key at `now`, in order: exactly
  //   for (const Key& k : keys) entry(k, half_life, now).bump(now);
  // duplicates, creations, evictions at the cap and the eviction tie-break
  // included, only faster: the index, key record and column lines of
  // the keys a few places ahead are prefetched while the current one is
  // bumped. Throws std::invalid_argument on a negative half-life, before
  // anything changes.
  void bump_batch(std::span<const Key> keys, Duration half_life, Instant now) {
    check_half_life(half_life);
    apply_queue();
    bump_each(KeysAt{keys, to_ns(now), to_ns(half_life)});
  }
  // Bumps each key at its own instant, in order: exactly
  //   for (const auto& [k, at] : reads) entry(k, half_life, at).bump(at);
  // (instants may go backwards). Throws like the batch above.
  void bump_batch(std::span<const std::pair<Key, Instant>> reads, Duration half_life) {
    check_half_life(half_life);
    apply_queue();
    bump_each(TimedReads{reads, to_ns(half_life)});
  }

  // A snapshot of `key`'s counter, or nothing.
  std::optional<HeatCounter> get(const Key& key) const {
    apply_queue();
    const Slot slot = find(key);
    if (slot == kNoSlot) return std::nullopt;
    return HeatCounter::from_state(store_->read(slot));
  }
  bool contains(const Key& key) const {
    apply_queue();
    return find(key) != kNoSlot;
  }
  // The store slot of `key`'s counter, or nothing: for callers that address
  // the store directly (device workloads, benchmarks). Valid until the key is
  // removed, evicted or pruned.
  std::optional<Slot> slot_of(const Key& key) const {
    apply_queue();
    const Slot slot = find(key);
    if (slot == kNoSlot) return std::nullopt;
    return slot;
  }
  // Whether `key` is present and marked in flight.
  bool in_flight(const Key& key) const {
    apply_queue();
    const Slot slot = find(key);
    return slot != kNoSlot && store_->read(slot).in_flight;
  }

  // Drops `key`'s counter and its in-flight mark. No-op when absent.
  void remove(const Key& key) {
    apply_queue();
    if (const Slot slot = find(key); slot != kNoSlot) erase_slot(slot);
  }

  // Calls f(key, counter) for every entry, in slot order.
  template <class F>
  void for_each(F&& f) const {
    apply_queue();
    for (Slot s = 0; s < high_water_; ++s) {
      if (lru_.contains(s)) f(keys_[s], HeatCounter::from_state(store_->read(s)));
    }
  }

  // Decays every counter to `now` and returns the Emit/Withdraw candidates in
  // slot order. Mutates no last_emitted. With in-flight tracking on, skips
  // counters in flight and marks every returned one. Throws InvalidPolicy.
  Emissions tick(const Policy& policy, Instant now) {
    Emissions out;
    tick(policy, now, out);
    return out;
  }
  // The same into `out`, replacing its contents: a caller that ticks in a
  // loop with one vector reuses its memory instead of faulting in a fresh
  // result every tick. `out` is untouched when the policy is invalid.
  void tick(const Policy& policy, Instant now, Emissions& out) {
    validate_or_throw(policy);
    apply_queue();
    candidates_.clear();
    TickParams params = tick_params(policy, to_ns(now), track_in_flight_);
    // Every counter holds the common half-life while none differs (cleared
    // slots are at rate 0): the kernel need not read the column.
    if (!mixed_half_lives_) params.shared_half_life = common_half_life_;
    store_->tick(params, candidates_);
    lru_.on_tick(to_ns(now));
    emissions_of(candidates_, out);
    trim_scratch(candidates_, candidates_idle_);
  }

  // Records each emission on its counter (if still present) and clears its
  // in-flight mark, then prunes every fully decayed, withdrawn counter.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    apply_queue();
    for (const auto& [key, emission] : emissions) {
      const Slot slot = find(key);
      if (slot == kNoSlot) continue;
      store_->record(slot, emission.kind, emission.rate);
      store_->set_in_flight(slot, false);
    }
    prunable_.clear();
    store_->collect_prunable(prunable_);
    for (const Slot slot : prunable_) erase_slot(slot);
    stats_.pruned += prunable_.size();
    trim_scratch(prunable_, prunable_idle_);
  }

  // Clears `key`'s in-flight mark without committing (the sink failed).
  void rollback(const Key& key) {
    apply_queue();
    if (const Slot slot = find(key); slot != kNoSlot) store_->set_in_flight(slot, false);
  }

  MemoryUsage memory_usage() const {
    apply_queue();
    MemoryUsage m;
    m.columns = store_->memory_bytes();
    m.keys = keys_.key_bytes();
    m.index = index_.memory_bytes();
    m.lru = lru_.memory_bytes() + keys_.position_bytes();
    m.other = free_.capacity() * sizeof(Slot) + candidates_.capacity() * sizeof(Candidate) +
              prunable_.capacity() * sizeof(Slot) + queue_.capacity() * sizeof(QueuedRead);
    return m;
  }

  // The store, for tests and benchmarks that drive the columns directly.
  // Do not grow it (ensure_slots): the registry caches its host columns; nor
  // give a live slot another half-life (init): bumps may use the one every
  // counter shares instead of reading the column.
  CounterStore& store() {
    apply_queue();
    return *store_;
  }

 private:
  friend class BasicConcurrentHeatRegistry<Key>;
  using Index = SlotIndex<Key, Hasher>;
  static constexpr Slot kNoSlot = Index::kNoSlot;

  // Batch sources: read i is entry(key(i), half_life(i), now(i)), hashing
  // to hash(i, h) under the index's hash h (a source that hashed its keys
  // ahead gives those hashes while h has the seed they were made with), then,
  // if bumps(i), a bump at bump_at(i); applied(k) hears that the first k
  // reads are done. The batches below bump every read at
  // its entry's instant with one half-life, and need no progress.
  struct OneHalfLife {
    std::int64_t half_life_ns;
    std::int64_t half_life(std::size_t) const noexcept { return half_life_ns; }
    static constexpr bool bumps(std::size_t) noexcept { return true; }
    static constexpr void applied(std::size_t) noexcept {}
  };
  struct KeysAt : OneHalfLife {
    std::span<const Key> keys;
    std::int64_t at;
    KeysAt(std::span<const Key> k, std::int64_t now, std::int64_t half_life)
        : OneHalfLife{half_life}, keys(k), at(now) {}
    std::size_t size() const noexcept { return keys.size(); }
    const Key& key(std::size_t i) const noexcept { return keys[i]; }
    std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept { return h(keys[i]); }
    std::int64_t now(std::size_t) const noexcept { return at; }
    std::int64_t bump_at(std::size_t) const noexcept { return at; }
  };
  struct TimedReads : OneHalfLife {
    std::span<const std::pair<Key, Instant>> reads;
    TimedReads(std::span<const std::pair<Key, Instant>> r, std::int64_t half_life)
        : OneHalfLife{half_life}, reads(r) {}
    std::size_t size() const noexcept { return reads.size(); }
    const Key& key(std::size_t i) const noexcept { return reads[i].first; }
    std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept { return h(reads[i].first); }
    std::int64_t now(std::size_t i) const noexcept { return to_ns(reads[i].second); }
    std::int64_t bump_at(std::size_t i) const noexcept { return now(i); }
  };
  // A read waiting in the bump queue: entry(key, half_life, created_at), hashing
  // to `hash` (under the index's hash when it was queued: the index is not
  // rehashed while reads wait), and its bump at bumped_at if `bumps`.
  struct QueuedRead {
    Key key;
    std::uint64_t hash;
    std::int64_t half_life;
    std::int64_t created_at;
    std::int64_t bumped_at;
    bool bumps;
  };
  struct QueuedReads {
    std::span<const QueuedRead> reads;
    std::uint64_t seed;  // of the hash the reads were queued under
    std::size_t* done;   // reads applied so far, for a read that throws
    std::size_t size() const noexcept { return reads.size(); }
    const Key& key(std::size_t i) const noexcept { return reads[i].key; }
    std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
      return h.seed() == seed ? reads[i].hash : h(reads[i].key);
    }
    std::int64_t now(std::size_t i) const noexcept { return reads[i].created_at; }
    std::int64_t half_life(std::size_t i) const noexcept { return reads[i].half_life; }
    bool bumps(std::size_t i) const noexcept { return reads[i].bumps; }
    std::int64_t bump_at(std::size_t i) const noexcept { return reads[i].bumped_at; }
    void applied(std::size_t k) const noexcept { *done = k; }
  };
  // A read whose key is already hashed, under the hash whose secret is
  // `seed` (the concurrent registry's batches: its shards start with its
  // secret, and keep it unless an index is rehashed under a fresh one).
  struct HashedRead {
    Key key;
    std::uint64_t hash;
    std::int64_t now;
  };
  struct HashedReads : OneHalfLife {
    std::span<const HashedRead> reads;
    std::uint64_t seed;
    HashedReads(std::span<const HashedRead> r, std::uint64_t hash_seed, std::int64_t half_life)
        : OneHalfLife{half_life}, reads(r), seed(hash_seed) {}
    std::size_t size() const noexcept { return reads.size(); }
    const Key& key(std::size_t i) const noexcept { return reads[i].key; }
    std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
      return h.seed() == seed ? reads[i].hash : h(reads[i].key);
    }
    std::int64_t now(std::size_t i) const noexcept { return reads[i].now; }
    std::int64_t bump_at(std::size_t i) const noexcept { return reads[i].now; }
  };

  // How far ahead of the read being looked up each prefetch stage works, in
  // reads. Each stage needs the lines the one before asked for, so they are
  // spaced by a few reads (about one memory latency of look-ups).
  static constexpr std::size_t kHashAhead = 32;   // hash; prefetch the home bucket line
  static constexpr std::size_t kSlotAhead = 16;   // guess the slot; prefetch its key record and columns
  static constexpr std::size_t kRetryAhead = 8;   // guess again over two bucket lines (see below)
  static constexpr std::size_t kRing = 64;        // > kHashAhead + 1, a power of two

  // The batch loop: read i is bumped while the stages work ahead of it.
  // The slot stage scans the home bucket's line for the first tag match and
  // keeps that guess; read i then needs one comparison of its key with the
  // guessed slot's (a line already fetched) instead of a look-up. A probe run
  // that leaves the home line without a match (3% of present keys at a
  // million, 5% at ten million, mostly keys whose home bucket is near the
  // line's end) gets the next line fetched and is guessed again over both
  // lines a few reads later; without that, each such read waited for its
  // key line at bump time. The guess is exact whenever the key comparison
  // holds: keys are unique among live slots, and every guess was made on the
  // index as it is now (a creation, which may evict, makes the later reads
  // be guessed again). When the guess fails (no tag match, a tag collision,
  // a key created since) read i takes the full look-up, and a key still
  // absent is created, as entry() would. So this is exactly bumping each key
  // in turn; the prefetches are hints only. Scanning the bucket line once,
  // not once to guess and again to look up, took a quarter of the
  // instructions per key off (27 to 21 ns per key with all lines cached here).
  template <class Source>
  void bump_each(const Source& src) {
    const std::size_t n = src.size();
    std::array<std::uint64_t, kRing> hashes;
    std::array<Slot, kRing> guesses;  // kNoSlot: no guess
    // Reads whose probe run left the home line, to guess again, ascending.
    std::array<std::size_t, kRing> unfinished;
    std::size_t unfinished_begin = 0, unfinished_end = 0;  // positions in `unfinished`
    constexpr std::size_t kMask = kRing - 1;
    // The stages are lambdas forced inline, as are the index's guess, the
    // prefetches and the decay: left to itself, GCC inlined them in a small
    // translation unit but called guess_read and the decay out of line in a
    // large one (the benchmark's), 27.5 ns per key there against 25.
    //
    // Keeps the guess for read r and asks for the lines its bump will touch
    // (the key record, the columns). Written out here, not in a
    // function of its own: GCC deems a function that only prefetches free of
    // effects and deletes the calls to it.
    const auto keep_guess = [&](std::size_t r, Slot slot) __attribute__((always_inline)) {
      guesses[r & kMask] = slot;
      if (slot == kNoSlot) return;
      keys_.prefetch(slot);  // the key, and the LRU position the bump writes
      if (host_columns_) prefetch_for_bump(*host_columns_, slot, !mixed_half_lives_);
    };
    const auto hash_read = [&](std::size_t r) __attribute__((always_inline)) {
      hashes[r & kMask] = src.hash(r, index_.hasher());
      index_.prefetch(hashes[r & kMask]);
    };
    const auto guess_read = [&](std::size_t r) __attribute__((always_inline)) {
      const auto guess = index_.guess(hashes[r & kMask]);
      keep_guess(r, guess.slot);
      if (guess.run_goes_on) {
        index_.prefetch(hashes[r & kMask], 1);
        unfinished[unfinished_end++ & kMask] = r;
      }
    };
    // Each stage works a fixed distance ahead of read i, one read per i
    // (plus a prologue): the loop control of a stage is one predictable
    // branch per read, where loops catching up to a moving bound took 36 of
    // 250 instructions per key.
    for (std::size_t r = 0; r < std::min(n, kHashAhead); ++r) hash_read(r);
    for (std::size_t r = 0; r < std::min(n, kSlotAhead); ++r) guess_read(r);
    for (std::size_t i = 0; i < n; ++i) {
      if (i + kHashAhead < n) hash_read(i + kHashAhead);
      if (i + kSlotAhead < n) guess_read(i + kSlotAhead);
      // Guessed again over two lines: the first unfinished read once it is
      // kRetryAhead or fewer reads ahead. One per i is enough: the queue is
      // ascending and its head never falls behind read i (reads enter it
      // ahead of i), so each is guessed again by its own turn at the latest;
      // past the prologue and a creation's re-guessing, at most one falls
      // due per read.
      if (unfinished_begin != unfinished_end && unfinished[unfinished_begin & kMask] <= i + kRetryAhead) {
        const std::size_t r = unfinished[unfinished_begin++ & kMask];
        keep_guess(r, index_.guess(hashes[r & kMask], 2).slot);
      }
      const Key& key = src.key(i);
      const std::int64_t now = src.now(i);
      Slot slot = guesses[i & kMask];
      if (slot == kNoSlot || !(keys_[slot] == key)) {
        slot = index_.find(key, hashes[i & kMask], keys_);
        if (slot == kNoSlot) {
          const std::uint64_t seed = index_.hasher().seed();
          slot = insert_new(key, hashes[i & kMask], src.half_life(i), now);
          // Rehashed under a fresh secret: the reads hashed ahead, again.
          if (index_.hasher().seed() != seed) {
            for (std::size_t r = i + 1; r < std::min(n, i + kHashAhead + 1); ++r) hash_read(r);
          }
          // The index changed (a creation, maybe an eviction): guess the
          // reads already guessed again.
          unfinished_begin = unfinished_end;
          for (std::size_t r = i + 1; r < std::min(n, i + kSlotAhead + 1); ++r) guess_read(r);
        }
      }
      if (src.bumps(i)) bump_slot(slot, src.bump_at(i));
      src.applied(i + 1);
    }
  }

  // entry() without the checks: the slot of `key` (hashing to `hash`),
  // created (evicting first at the cap) when absent.
  Slot find_or_insert(const Key& key, std::uint64_t hash, std::int64_t half_life,
                      std::int64_t now) {
    const Slot slot = index_.find(key, hash, keys_);
    return slot != kNoSlot ? slot : insert_new(key, hash, half_life, now);
  }

  // Creates the counter of `key` (absent, hashing to `hash`), evicting first
  // at the cap.
  Slot insert_new(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now) {
    if (cap_ > 0 && index_.size() >= cap_) evict_one();
    if (index_.size() == 0) {
      common_half_life_ = half_life;
      mixed_half_lives_ = false;
    } else if (half_life != common_half_life_) {
      mixed_half_lives_ = true;
    }
    const Slot slot = allocate_slot();
    keys_.set_key(slot, key);
    if (index_.insert(hash, slot, keys_) > kLongProbe) [[unlikely]] reseed_index();
    store_->init(slot, half_life, now);
    lru_.on_insert(slot, now);
    return slot;
  }

  // The defence against keys that collide under the secret (it leaked, or
  // was fixed by hash_seed and is known): rehash under fresh secrets from
  // the OS until no key sits more than kLongProbe buckets from home. Ordinary
  // keys never get here (see kLongProbe); keys crafted against the old
  // secret scatter under the new one. The keys' slots, and so every answer
  // and order, stay as they were.
  void reseed_index() {
    if (index_.size() < reseed_from_size_) return;
    for (int attempt = 0; attempt < kReseedAttempts; ++attempt) {
      ++stats_.hash_reseeds;
      if (index_.rehash_with(Hasher(random_hash_seed()), keys_) <= kLongProbe) return;
    }
    // Fresh secrets did not help (each fails with a chance below 1e-20 a
    // key): not again before the index has doubled, so rehashing stays
    // amortized whatever the hash.
    reseed_from_size_ = 2 * index_.size();
  }
  // Fresh secrets tried in a row before the index keeps the last.
  static constexpr int kReseedAttempts = 4;

  // Entry::bump: on host columns without a virtual call, and without reading
  // the half-life column while every counter has the same half-life. Inlined
  // into the batch loop (GCC would call it there).
  [[gnu::always_inline]] void bump_slot(Slot slot, std::int64_t now) {
    if (host_columns_) {
      if (!mixed_half_lives_) {
        bump_columns(*host_columns_, slot, now, common_half_life_);
      } else {
        bump_columns(*host_columns_, slot, now);
      }
    } else {
      store_->bump(slot, now);
    }
    lru_.on_bump(slot, now);
  }

  void apply_queued_reads() {
    std::size_t applied = 0;
    try {
      bump_each(QueuedReads{queue_, index_.hasher().seed(), &applied});
    } catch (...) {
      // The reads before the one that threw are done; that one is dropped
      // (as if its entry() had thrown); the later ones stay queued.
      queue_.erase(queue_.begin(),
                   queue_.begin() + static_cast<std::ptrdiff_t>(std::min(applied + 1, queue_.size())));
      throw;
    }
    queue_.clear();
  }
  // Entry::bump right after its entry(): joins the read `ticket` if it is
  // the last queued one and has no bump yet.
  bool bump_in_queue(std::uint64_t ticket, std::int64_t now) noexcept {
    if (queue_.empty() || ticket + 1 != reads_queued_ || queue_.back().bumps) return false;
    queue_.back().bumped_at = now;
    queue_.back().bumps = true;
    return true;
  }

  Slot find(const Key& key) const { return index_.find(key, index_.hash(key), keys_); }
  // `hash`, made under the secret `seed`, if the index still hashes with
  // it; otherwise the key hashed again (the concurrent registry's reads).
  std::uint64_t index_hash(const Key& key, std::uint64_t hash, std::uint64_t seed) const noexcept {
    return index_.hasher().seed() == seed ? hash : index_.hash(key);
  }

  // The tick's result: each candidate with its key, in slot order, in `out`.
  // Looking up the keys is most of the cost (a read of the key column at
  // every twentieth slot or so, which the hardware prefetcher cannot follow),
  // so a large result is converted on the pass threads, each its own range.
  void emissions_of(const std::vector<Candidate>& candidates, Emissions& out) const {
    const std::size_t n = candidates.size();
    const std::size_t parts =
        std::min<std::size_t>(resolve_threads(threads_), n / kMinEmissionsPerThread);
    // Writing through plain pointers (rather than push_back, whose end
    // pointer might alias the keys) lets the loads of the next keys go ahead
    // of the stores.
    resize_for_overwrite(out, n);
    const Candidate* from = candidates.data();
    const auto keys = keys_.reader();
    auto* to = out.data();
    const auto convert = [=](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        // The keys are read ascending but sparsely, which the hardware
        // prefetcher does not follow: ask for them kKeysAhead candidates early.
        if (i + kKeysAhead < end) keys.prefetch(from[i + kKeysAhead].slot);
        const Candidate& c = from[i];
        to[i].first = keys[c.slot];
        to[i].second = c.kind == Decision::kEmit ? HeatEmission::emit(c.rate) : HeatEmission::withdraw();
      }
    };
    if (parts <= 1) {
      convert(0, n);
      return;
    }
    const std::size_t per_part = (n + parts - 1) / parts;
    ThreadPool::shared().run(parts, static_cast<unsigned>(parts), [&](std::size_t k) {
      convert(k * per_part, std::min(n, (k + 1) * per_part));
    });
  }
  // How far ahead the conversion prefetches keys: about a microsecond of
  // candidates here, over one memory latency (160 and 320 did alike).
  static constexpr std::size_t kKeysAhead = 160;
  // Below this many candidates per thread, waking the pool costs more than it saves.
  static constexpr std::size_t kMinEmissionsPerThread = std::size_t{1} << 14;

  // Scratch grown by a rare mass emission or prune is given back once it has
  // stayed mostly unused for kScratchPatience calls in a row, so the
  // registry's memory returns to proportional to its counters (where few
  // counters are candidates), while a run of mass ticks reuses it instead of
  // faulting it in again on every tick.
  static constexpr std::uint32_t kScratchPatience = 8;
  template <class T>
  void trim_scratch(std::vector<T>& scratch, std::uint32_t& idle_calls) const {
    const bool oversized =
        scratch.capacity() > 4096 && scratch.capacity() > store_->slot_count() / 16;
    if (!oversized || scratch.size() > scratch.capacity() / 4) {
      idle_calls = 0;
    } else if (++idle_calls >= kScratchPatience) {
      std::vector<T>().swap(scratch);
      idle_calls = 0;
    }
  }

  void evict_one() {
    const Slot victim = lru_.victim(store_->last_update_host());
    if (victim == LruOrder::kNone) return;
    erase_slot(victim);
    ++stats_.evictions;
  }

  void erase_slot(Slot slot) {
    index_.erase(index_.hash(keys_[slot]), slot, keys_);
    lru_.on_erase(slot);
    store_->clear(slot);
    free_.push_back(slot);
  }

  Slot allocate_slot() {
    if (!free_.empty()) {
      const Slot slot = free_.back();
      free_.pop_back();
      return slot;
    }
    if (high_water_ == store_->slot_count()) grow();
    return high_water_++;
  }

  // Doubles the slot count: columns, keys, LRU, index. Where doubling would
  // pass the cap it grows by sixteenths instead (to the cap at most): a jump
  // straight to the cap can leave nearly half the slots unused (a registry
  // holding just over a power of two, every shard of a sharded one), at 53
  // bytes per slot. The price is about eleven more copies of the arrays
  // between half the cap and the cap, paid once while filling.
  void grow() {
    const std::size_t n = grown_slot_count(high_water_, cap_);
    if (n > LruOrder::kMaxSlots) throw std::length_error("heat registry: more than 2^31-2 slots");
    store_->ensure_slots(n);
    host_columns_ = store_->host_columns();
    keys_.ensure_slots(n);
    lru_.ensure_slots(n, keys_.lru_positions());
    index_.reserve(n, keys_);
  }

  std::size_t cap_;
  bool track_in_flight_;
  unsigned threads_;  // for the bulk passes; 0 = every hardware thread
  std::size_t queue_limit_;         // RegistryOptions::bump_queue
  std::vector<QueuedRead> queue_;   // reads not applied yet, in call order
  std::uint64_t reads_queued_ = 0;  // reads ever queued: the next one's ticket
  std::unique_ptr<CounterStore> store_;
  std::optional<CounterColumns> host_columns_;  // store_->host_columns(), refreshed on growth
  KeyRecords<Key> keys_;  // each slot's key and LRU position
  Index index_;
  std::size_t reseed_from_size_ = 0;  // reseed_index waits for this many keys
  LruOrder lru_;
  std::vector<Slot> free_;
  // The half-life of every counter since the registry was last empty, unless
  // mixed: then bumps read each counter's own from its column.
  std::int64_t common_half_life_ = 0;
  bool mixed_half_lives_ = false;
  Slot high_water_ = 0;  // slots [0, high_water_) have been handed out
  RegistryStats stats_;
  std::vector<Candidate> candidates_;  // scratch, reused across ticks
  std::vector<Slot> prunable_;         // scratch, reused across commits
  std::uint32_t candidates_idle_ = 0;  // trim_scratch's count of calls that barely used them
  std::uint32_t prunable_idle_ = 0;
};

}  // namespace heatkit
