// The heat registry (SEMANTICS.md "Registry"): key -> counter, with a cap and
// exact LRU eviction, tick/commit/rollback and in-flight tracking. One template
// serves both key kinds (u64 and 32-byte keys); the public HeatRegistry and
// BlobHeatRegistry (<heatkit/registry.h>, defined in api/heat_registry_members.h) are
// facades over it, and its options, stats and key types are theirs. The
// counters live in a CounterStore of the backend named at construction; the
// registry owns the keys, the LRU order and the free slots.
//
// Not thread-safe: wrap it in a mutex to share it (as the seed does), or use
// BasicConcurrentHeatRegistry (registry/concurrent_registry.h), sharded by key.
//
// Failures (std::bad_alloc above all) leave the registry consistent and
// usable, its answers those of the calls that completed. Each read (an
// entry(), its bump, a read of a batch or of the bump queue, a decay_to)
// applies in full or not at all: whatever may fail (growing the arrays, the
// index's room, the eviction order's records) is done before anything
// changes, and the arrays count their new slots only once every one has
// them. So a batch that throws has applied exactly the reads before the one
// that failed. A tick that throws has changed nothing or, when its
// candidates could not all be kept, ticked every counter (decayed to its
// instant, as a tick does) and marked none in flight: what a tick whose
// candidates are all rolled back leaves; none is lost, the next tick
// returns them again. commit, remove, rollback and the records of an Entry
// cannot fail once they start (freeing a slot allocates nothing; a commit
// without memory for its list of prunable counters finds them one by one).
// This holds for the host stores; a store whose columns live on a device
// may also fail in its own operations (device memory, the device itself).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "registry/batch_pipeline.h"
#include "registry/bump_queue.h"
#include "registry/key_hash.h"
#include "registry/key_records.h"
#include "registry/lru_order.h"
#include "registry/scratch.h"
#include "registry/slot_index.h"
#include "registry/tick_result.h"
#include "math/tick_params.h"
#include "math/random.h"
#include <heatkit/registry.h>
#include <heatkit/time.h>

namespace heatkit {

namespace snapshot {
struct RegistryAccess;  // snapshot/registry_sections.h: a snapshot's way at the registry's parts
}

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
      if (ticket_ != kNoTicket && reg_->queue_.join_bump(ticket_, to_ns(now))) return;
      reg_->bump_slot(slot(), to_ns(now));
    }
    void decay_to(Instant now) {
      const Slot s = slot();
      reg_->lru_.reserve_records(1);  // before anything changes: on_decay cannot fail then
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
    // The read's ticket in the bump queue while it may be queued; kNoTicket
    // once slot_ holds the slot.
    mutable std::uint64_t ticket_ = kNoTicket;
    Key key_{};  // the key, to find it once the queue is applied
  };

  BasicHeatRegistry() : BasicHeatRegistry(RegistryOptions{}) {}
  explicit BasicHeatRegistry(RegistryOptions options)
      : cap_(options.cap),
        track_in_flight_(options.track_in_flight.value_or(KeyTraits<Key>::kTrackInFlightByDefault)),
        threads_(options.threads),
        queue_(options.bump_queue),
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
  // is applied is dropped (it changed nothing, as when entry() throws), the
  // reads before it are applied and the later ones stay queued. Const
  // members apply the queue too, so while reads may be queued not even
  // const members may be called concurrently (a registry is not
  // thread-safe anyway; ConcurrentHeatRegistry does not queue). `limit` 0
  // (the default) applies every read at its call. Applies the queued reads.
  void set_bump_queue(std::size_t limit) {
    apply_queue();
    queue_.set_limit(limit);
  }
  std::size_t bump_queue() const noexcept { return queue_.limit(); }
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
    if (queue_.enabled()) {
      if (queue_.full()) apply_queue();
      return Entry(this, key, queue_.push(key, index_.hash(key), to_ns(half_life), to_ns(now)));
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
    bump_each(batch::KeysAt<Key>{keys, to_ns(now), to_ns(half_life)});
  }
  // Bumps each key at its own instant, in order: exactly
  //   for (const auto& [k, at] : reads) entry(k, half_life, at).bump(at);
  // (instants may go backwards). Throws like the batch above.
  void bump_batch(std::span<const std::pair<Key, Instant>> reads, Duration half_life) {
    check_half_life(half_life);
    apply_queue();
    bump_each(batch::TimedReads<Key>{reads, to_ns(half_life)});
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

  // Calls f(key, counter) for every entry, in slot order. f must not change
  // the registry. The counters are read kForEachChunk slots at a time
  // (CounterStore::read_range: on a device store one transfer per chunk, not
  // one per counter).
  template <class F>
  void for_each(F&& f) const {
    apply_queue();
    std::vector<CounterState> states(std::min<std::size_t>(high_water_, kForEachChunk));
    for (std::size_t first = 0; first < high_water_; first += states.size()) {
      const std::span<CounterState> chunk =
          std::span(states).first(std::min(states.size(), high_water_ - first));
      store_->read_range(static_cast<Slot>(first), chunk);
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const auto s = static_cast<Slot>(first + i);
        if (lru_.contains(s)) f(keys_[s], HeatCounter::from_state(chunk[i]));
      }
    }
  }
  // Slots for_each reads at a time: 192 KiB of states.
  static constexpr std::size_t kForEachChunk = 4096;

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
  //
  // Throws std::bad_alloc with nothing changed, or, where the candidates or
  // `out` could not be held, with every counter ticked and none of the
  // candidates marked in flight (see the header); `out` then holds nothing
  // to use.
  void tick(const Policy& policy, Instant now, Emissions& out) {
    validate_or_throw(policy);
    apply_queue();
    candidates_.clear();
    TickParams params = tick_params(policy, to_ns(now), track_in_flight_);
    // Every counter holds the common half-life while none differs (cleared
    // slots are at rate 0): the kernel need not read the column.
    if (!mixed_half_lives_) params.shared_half_life = common_half_life_;
    try {
      store_->tick(params, candidates_);
    } catch (const TickCandidatesLost&) {
      lru_.on_tick(to_ns(now));  // every counter was ticked; none was marked
      candidates_.clear();
      throw;
    }
    lru_.on_tick(to_ns(now));
    try {
      emissions_of(std::span<const Candidate>(candidates_), keys_.reader(), threads_, out);
    } catch (...) {
      // The candidates cannot be returned: none stays marked.
      if (params.mark_in_flight) {
        for (const Candidate& c : candidates_) store_->set_in_flight(c.slot, false);
      }
      candidates_.clear();
      throw;
    }
    trim_scratch(candidates_, candidates_idle_, store_->slot_count());
  }

  // Records each emission on its counter (if still present) and clears its
  // in-flight mark, then prunes every fully decayed, withdrawn counter.
  // Cannot fail once the queued reads are applied: without memory for the
  // list of prunable counters, it finds them one slot at a time.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    apply_queue();
    for (const auto& [key, emission] : emissions) {
      const Slot slot = find(key);
      if (slot == kNoSlot) continue;
      store_->record(slot, emission.kind, emission.rate);
      store_->set_in_flight(slot, false);
    }
    prune();
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
    m.other = candidates_.capacity() * sizeof(Candidate) + prunable_.capacity() * sizeof(Slot) +
              queue_.memory_bytes();
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

  // The concurrent registry's way in (registry/concurrent_registry.h), not
  // part of the registry's interface: bumps of keys hashed already, under
  // the secret `seed` (it hashes each key once to pick its shard, and every
  // shard's index starts with its secret). A hash is used while the index
  // still hashes with `seed`; the key is hashed again once the index has
  // been rehashed under a fresh one. Each is entry(key, half_life,
  // now).bump(now) in order, on a registry with no reads queued (the
  // concurrent registry queues none).
  struct Prehashed {
    static void bump(BasicHeatRegistry& r, const Key& key, std::uint64_t hash, std::uint64_t seed,
                     std::int64_t half_life, std::int64_t now) {
      r.bump_slot(r.find_or_insert(key, hash_under(r.index_.hasher(), key, hash, seed), half_life, now),
                  now);
    }
    static void bump_batch(BasicHeatRegistry& r, std::span<const batch::HashedRead<Key>> reads,
                           std::uint64_t seed, std::int64_t half_life) {
      r.bump_each(batch::HashedReads<Key>{reads, seed, half_life});
    }
  };

 private:
  friend struct snapshot::RegistryAccess;
  using Index = SlotIndex<Key, Hasher>;
  static constexpr Slot kNoSlot = Index::kNoSlot;

  // What the batch loop (registry/batch_pipeline.h) needs of the registry.
  // The bump is forced inline into the loop, as the loop's own steps are
  // (see batch::bump_each).
  struct BatchTarget {
    BasicHeatRegistry* registry;
    const Index& index() const noexcept { return registry->index_; }
    const KeyRecords<Key>& keys() const noexcept { return registry->keys_; }
    const std::optional<CounterColumns>& host_columns() const noexcept {
      return registry->host_columns_;
    }
    // Bumps skip the half-life column while every counter shares one.
    bool shared_half_life() const noexcept { return !registry->mixed_half_lives_; }
    Slot insert(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now,
                std::int64_t then_bump_at) const {
      return registry->insert_new(key, hash, half_life, now, then_bump_at);
    }
    [[gnu::always_inline]] void bump(Slot slot, std::int64_t now) const {
      registry->bump_slot(slot, now);
    }
  };
  template <class Source>
  void bump_each(const Source& src) {
    batch::bump_each(src, BatchTarget{this});
  }

  // entry() without the checks: the slot of `key` (hashing to `hash`),
  // created (evicting first at the cap) when absent. A creation makes room
  // for a bump at `now` right after it (entry(key, half_life, now).bump(now)).
  Slot find_or_insert(const Key& key, std::uint64_t hash, std::int64_t half_life,
                      std::int64_t now) {
    const Slot slot = index_.find(key, hash, keys_);
    return slot != kNoSlot ? slot : insert_new(key, hash, half_life, now, now);
  }

  // Creates the counter of `key` (absent, hashing to `hash`), evicting first
  // at the cap. All or nothing: what may fail (growing the arrays, room in
  // the index, the eviction order's records of this creation and of a bump
  // right after it at `then_bump_at`, which bump_slot then applies without
  // failing) is done first, while nothing has changed.
  Slot insert_new(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now,
                  std::int64_t then_bump_at) {
    const bool evicts = cap_ > 0 && index_.size() >= cap_;
    if (!evicts && free_head_ == kNoSlot && high_water_ == room_) grow();
    index_.prepare_insert(keys_, evicts);
    lru_.reserve_records(lru_.records_for_insert(now, then_bump_at));
    // Nothing below allocates.
    if (evicts) evict_one();
    const Slot slot = allocate_slot();  // a free slot (the victim's) or one grown above
    if (index_.size() == 0) {
      common_half_life_ = half_life;
      mixed_half_lives_ = false;
    } else if (half_life != common_half_life_) {
      mixed_half_lives_ = true;
    }
    keys_.set_key(slot, key);
    const std::size_t distance = index_.insert(hash, slot, keys_);
    store_->init(slot, half_life, now);
    lru_.on_insert(slot, now);
    if (distance > kLongProbe) [[unlikely]] reseed_index();
    return slot;
  }

  // The defence against keys that collide under the secret (it leaked, or
  // was fixed by hash_seed and is known): rehash under fresh secrets from
  // the OS until no key sits more than kLongProbe buckets from home. Ordinary
  // keys never get here (see kLongProbe); keys crafted against the old
  // secret scatter under the new one. The keys' slots, and so every answer
  // and order, stay as they were. A defence, not part of the insert that
  // calls it: without memory for a fresh table (or a secret from the OS)
  // the index stays as it is, correct and only slower, and the next key
  // that lands far from home tries again.
  void reseed_index() noexcept {
    if (index_.size() < reseed_from_size_) return;
    try {
      for (int attempt = 0; attempt < kReseedAttempts; ++attempt) {
        const std::size_t longest = index_.rehash_with(Hasher(random_hash_seed()), keys_);
        ++stats_.hash_reseeds;
        if (longest <= kLongProbe) return;
      }
    } catch (...) {
      return;
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
  // into the batch loop (GCC would call it there). The eviction order goes
  // first: it alone may fail (room for the record of a bump back in time),
  // and then nothing has changed; a bump of host columns cannot fail.
  [[gnu::always_inline]] void bump_slot(Slot slot, std::int64_t now) {
    if (host_columns_) {
      lru_.on_bump(slot, now);
      if (!mixed_half_lives_) {
        bump_columns(*host_columns_, slot, now, common_half_life_);
      } else {
        bump_columns(*host_columns_, slot, now);
      }
    } else {
      lru_.reserve_records(1);  // on_bump cannot fail after the store's bump
      store_->bump(slot, now);
      lru_.on_bump(slot, now);
    }
  }

  void apply_queued_reads() {
    queue_.apply(index_.hasher().seed(), [this](const auto& reads) { bump_each(reads); });
  }

  Slot find(const Key& key) const { return index_.find(key, index_.hash(key), keys_); }

  void evict_one() {
    const Slot victim = lru_.victim(store_->last_update_host());
    if (victim == LruOrder::kNone) return;
    erase_slot(victim);
    ++stats_.evictions;
  }

  // Allocates nothing: the slot joins the free list through its key record.
  void erase_slot(Slot slot) {
    store_->clear(slot);
    index_.erase(index_.hash(keys_[slot]), slot, keys_);
    lru_.on_erase(slot);
    keys_.set_next_free(slot, free_head_);  // after the index has read the key
    free_head_ = slot;
  }

  // The last slot freed, or a new one (growing the arrays when every slot
  // they have room for is handed out).
  Slot allocate_slot() {
    if (free_head_ != kNoSlot) {
      const Slot slot = free_head_;
      free_head_ = keys_.next_free(slot);
      return slot;
    }
    if (high_water_ == room_) grow();
    return high_water_++;
  }

  // Prunes every fully decayed, withdrawn counter, in slot order. Without
  // memory for the store's list of them, asks the store slot by slot.
  void prune() {
    prunable_.clear();
    try {
      store_->collect_prunable(prunable_);
    } catch (const std::bad_alloc&) {
      std::vector<Slot>().swap(prunable_);
      for (Slot slot = 0; slot < high_water_; ++slot) {
        if (!lru_.contains(slot) || !store_->prunable(slot)) continue;
        erase_slot(slot);
        ++stats_.pruned;
      }
      return;
    }
    for (const Slot slot : prunable_) erase_slot(slot);
    stats_.pruned += prunable_.size();
    trim_scratch(prunable_, prunable_idle_, store_->slot_count());
  }

  // Doubles the slot count: columns, keys, LRU, index. Where doubling would
  // pass the cap it grows by sixteenths instead (to the cap at most): a jump
  // straight to the cap can leave nearly half the slots unused (a registry
  // holding just over a power of two, every shard of a sharded one), at 53
  // bytes per slot. The price is about eleven more copies of the arrays
  // between half the cap and the cap, paid once while filling.
  //
  // Each array grows on its own and, when it cannot (std::bad_alloc), stays
  // as it was; one grown before another failed keeps its new slots as spare
  // room and does nothing the next time. The registry counts the new slots
  // (room_) only once every array has them.
  void grow() {
    const std::size_t n = grown_slot_count(high_water_, cap_);
    if (n > LruOrder::kMaxSlots) throw std::length_error("heat registry: more than 2^31-2 slots");
    try {
      store_->ensure_slots(n);
    } catch (...) {
      host_columns_ = store_->host_columns();  // the columns grown before the failure moved
      throw;
    }
    host_columns_ = store_->host_columns();
    keys_.ensure_slots(n);
    lru_.ensure_slots(n, keys_.lru_positions());  // takes the moved records before it may fail
    index_.reserve(n, keys_);
    room_ = n;
  }

  std::size_t cap_;
  bool track_in_flight_;
  unsigned threads_;  // for the bulk passes; 0 = every hardware thread
  BumpQueue<Key> queue_;  // reads not applied yet (RegistryOptions::bump_queue)
  std::unique_ptr<CounterStore> store_;
  std::optional<CounterColumns> host_columns_;  // store_->host_columns(), refreshed on growth
  KeyRecords<Key> keys_;  // each slot's key and LRU position
  Index index_;
  std::size_t reseed_from_size_ = 0;  // reseed_index waits for this many keys
  LruOrder lru_;
  Slot free_head_ = kNoSlot;  // the last slot freed; each free slot's key record holds the next
  std::size_t room_ = 0;      // slots every array has (grow() counts them once all have grown)
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
