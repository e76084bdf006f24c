// A heat registry for many threads: bumps from N threads at once while
// another thread ticks, with no global lock on the bump path. The public
// ConcurrentHeatRegistry and ConcurrentBlobHeatRegistry
// (<heatkit/concurrent_registry.h>, defined in api/concurrent_registry.cc)
// are facades over this template, and the shard constants are theirs.
//
// The keys are split into S shards (a power of two) by the high bits of the
// key's keyed hash (registry/key_hash.h; the slot index uses the low bits, so the
// two stay independent). Every shard starts with the registry's secret, so
// a key is hashed once per read; a shard whose index is rehashed under a
// fresh secret (registry.h, kLongProbe) hashes its keys again, while the
// shard of a key never changes.
// Each shard is a BasicHeatRegistry behind its own lock (a SpinMutex: a
// waiter spins briefly before it sleeps, since a bump holds the lock for a few
// hundred nanoseconds at most): a bump locks one shard, so bumps to different
// shards never wait for each other. A tick or commit walks the shards,
// locking one at a time (on several threads when allowed), so bumps to the
// other shards go on meanwhile.
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
// BasicHeatRegistry.
//
// In every other respect a BasicConcurrentHeatRegistry is S independent
// BasicHeatRegistry objects, key k living in shard_of(k): single-threaded use
// gives exactly their results, tick returns their candidates in shard order
// (and slot order within a shard), and with S = 1 it is one BasicHeatRegistry.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "registry/batch_pipeline.h"
#include "registry/registry.h"
#include "registry/scratch.h"
#include "util/spin_mutex.h"
#include "util/thread_pool.h"
#include <heatkit/concurrent_registry.h>

namespace heatkit {

template <class Key>
class BasicConcurrentHeatRegistry {
  using Shard = BasicHeatRegistry<Key>;

 public:
  using key_type = Key;
  using Entry = typename Shard::Entry;
  using Emissions = typename Shard::Emissions;

  BasicConcurrentHeatRegistry() : BasicConcurrentHeatRegistry(RegistryOptions{}) {}

  // `options` as for BasicHeatRegistry, except: `cap` is split over the
  // shards (see above) and `threads` is how many threads tick and commit walk
  // the shards with (0 = every hardware thread; each shard's own passes run
  // on the walking thread). `shards`: 0 = default_shard_count(cap), otherwise
  // a power of two in [1, kMaxShards]; throws std::invalid_argument naming
  // `shards` when it is not.
  explicit BasicConcurrentHeatRegistry(RegistryOptions options, std::size_t shards = 0)
      : cap_(options.cap),
        threads_(options.threads),
        hash_(options.hash_seed ? *options.hash_seed : random_hash_seed()) {
    if (shards == 0) shards = default_shard_count(options.cap);
    if (!std::has_single_bit(shards) || shards > kMaxShards) {
      throw std::invalid_argument("shards must be a power of two in [1, " +
                                  std::to_string(kMaxShards) + "], got " +
                                  std::to_string(shards));
    }
    shard_count_ = shards;
    shard_shift_ = shards == 1 ? 0 : 64 - std::countr_zero(shards);
    shard_cap_ = cap_ == 0 ? 0 : (cap_ - 1) / shards + 1;  // ceil, without overflow near SIZE_MAX
    if (options.bump_queue != 0) {
      throw std::invalid_argument(
          "bump_queue: the concurrent registry applies every read at its call (it must be 0, got " +
          std::to_string(options.bump_queue) + ")");
    }
    RegistryOptions per_shard = std::move(options);
    per_shard.cap = shard_cap_;
    per_shard.threads = 1;  // shards are walked in parallel instead
    per_shard.hash_seed = hash_.seed();
    shards_ = std::make_unique<Locked[]>(shards);
    for (std::size_t s = 0; s < shards; ++s) shards_[s].registry = Shard(per_shard);
  }

  // Shared by reference between threads: neither copied nor moved.
  BasicConcurrentHeatRegistry(const BasicConcurrentHeatRegistry&) = delete;
  BasicConcurrentHeatRegistry& operator=(const BasicConcurrentHeatRegistry&) = delete;

  // The cap as given (0 = unbounded) and what it allows each shard.
  std::size_t cap() const noexcept { return cap_; }
  std::size_t shard_cap() const noexcept { return shard_cap_; }
  std::size_t shard_count() const noexcept { return shard_count_; }
  // The shard that holds `key`.
  std::size_t shard_of(const Key& key) const noexcept { return shard_of_hash(hash_(key)); }
  // The secret of the shard selector's hash (RegistryOptions::hash_seed).
  std::uint64_t hash_seed() const noexcept { return hash_.seed(); }
  std::string_view backend() const noexcept { return shards_[0].registry.backend(); }
  // Read under a shard's lock, as set_track_in_flight writes it.
  bool tracks_in_flight() const {
    const std::lock_guard lock(shards_[0].mutex);
    return shards_[0].registry.tracks_in_flight();
  }
  // Threads tick and commit walk the shards with (0 = every hardware thread).
  void set_threads(unsigned threads) noexcept {
    threads_.store(threads, std::memory_order_relaxed);
  }

  // Counters held: the sum of each shard's count, each read at some moment
  // (exact when no other thread is changing the registry). Takes no lock.
  std::size_t size() const noexcept {
    std::size_t n = 0;
    for (std::size_t s = 0; s < shard_count_; ++s) {
      n += shards_[s].size.load(std::memory_order_relaxed);
    }
    return n;
  }
  bool empty() const noexcept { return size() == 0; }

  // entry(key, half_life, now).bump(now) under the key's shard lock. Throws
  // std::invalid_argument on a negative half-life.
  void bump(const Key& key, Duration half_life, Instant now) {
    check_half_life(half_life);
    const std::uint64_t hash = hash_(key);
    Locked& shard = shard_for_hash(hash);
    const std::lock_guard lock(shard.mutex);
    const SizeUpdate update{shard};
    Shard::Prehashed::bump(shard.registry, key, hash, hash_.seed(), to_ns(half_life), to_ns(now));
  }

  // Bumps every key at `now`: the keys are grouped by shard (keeping their
  // order within a shard) and each group is bumped as one batch under its
  // shard's lock, taken once. The result is that of bumping the keys one by
  // one in order (shards are independent); other threads may interleave
  // between groups. Throws std::invalid_argument on a negative half-life,
  // before anything changes.
  void bump_batch(std::span<const Key> keys, Duration half_life, Instant now) {
    check_half_life(half_life);
    const std::int64_t at = to_ns(now);
    bump_grouped(
        keys.size(), [&](std::size_t i) -> const Key& { return keys[i]; },
        [at](std::size_t) { return at; }, to_ns(half_life));
  }
  // Bumps each key at its own instant, grouped by shard as above.
  void bump_batch(std::span<const std::pair<Key, Instant>> reads, Duration half_life) {
    check_half_life(half_life);
    bump_grouped(
        reads.size(), [&](std::size_t i) -> const Key& { return reads[i].first; },
        [&](std::size_t i) { return to_ns(reads[i].second); }, to_ns(half_life));
  }

  // Runs f(entry) on `key`'s entry (created if absent, as entry() does) under
  // its shard's lock and returns what f returns. The Entry must not outlive
  // the call, and f must not call back into this registry.
  template <class F>
  decltype(auto) with_entry(const Key& key, Duration half_life, Instant now, F&& f) {
    Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    const SizeUpdate update{shard};
    Entry entry = shard.registry.entry(key, half_life, now);
    return std::forward<F>(f)(entry);
  }

  std::optional<HeatCounter> get(const Key& key) const {
    const Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    return shard.registry.get(key);
  }
  bool contains(const Key& key) const {
    const Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    return shard.registry.contains(key);
  }
  bool in_flight(const Key& key) const {
    const Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    return shard.registry.in_flight(key);
  }
  void remove(const Key& key) {
    Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    const SizeUpdate update{shard};
    shard.registry.remove(key);
  }
  void rollback(const Key& key) {
    Locked& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    shard.registry.rollback(key);
  }
  void set_track_in_flight(bool on) {
    for_each_shard_locked([on](Shard& r) { r.set_track_in_flight(on); });
  }

  // Calls f(key, counter) for every entry: shard by shard, each under its
  // lock, in slot order within a shard. f must not call back into this
  // registry.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t s = 0; s < shard_count_; ++s) {
      const std::lock_guard lock(shards_[s].mutex);
      shards_[s].registry.for_each(f);
    }
  }

  // BasicHeatRegistry::tick on every shard, each under its lock (so bumps to
  // the other shards go on), on up to set_threads() threads. The candidates
  // come in shard order, then slot order: the same for any thread count.
  // Throws InvalidPolicy before any shard changes. Ticks from several threads
  // at once take turns (each still sees every shard as it is then).
  Emissions tick(const Policy& policy, Instant now) {
    Emissions out;
    tick(policy, now, out);
    return out;
  }
  // The same into `out`, replacing its contents and reusing its memory, as
  // BasicHeatRegistry's. `out` is untouched when the policy is invalid.
  //
  // Each shard converts its candidates into its own part under its lock (its
  // keys may change once the lock is released), then the parts are copied
  // into `out` at their offsets, on the walking threads for a large result.
  // The parts are kept across ticks: fresh ones would fault in pages as
  // large as the result on every tick. That scratch is why ticks take turns.
  //
  // A tick that throws (std::bad_alloc) returns no candidates, so it leaves
  // none marked in flight: each shard is untouched or ticked without marks,
  // as BasicHeatRegistry::tick leaves it (the shards that ticked in full
  // have their candidates' marks cleared again).
  void tick(const Policy& policy, Instant now, Emissions& out) {
    validate_or_throw(policy);
    const std::lock_guard turn(tick_mutex_);
    std::vector<Emissions>& parts = tick_parts_;
    if (parts.size() != shard_count_) parts.resize(shard_count_);
    std::vector<std::size_t>& offsets = tick_offsets_;
    offsets.assign(shard_count_ + 1, 0);
    std::vector<unsigned char>& ticked = tick_done_;
    ticked.assign(shard_count_, 0);
    try {
      walk_shards([&](std::size_t s, Shard& r) {
        r.tick(policy, now, parts[s]);
        ticked[s] = 1;
      });
      for (std::size_t s = 0; s < shard_count_; ++s) offsets[s + 1] = offsets[s] + parts[s].size();
      const std::size_t total = offsets[shard_count_];
      resize_for_overwrite(out, total);
      const auto copy_part = [&](std::size_t s) {
        std::copy(parts[s].begin(), parts[s].end(), out.begin() + static_cast<std::ptrdiff_t>(offsets[s]));
      };
      const unsigned threads = resolve_threads(threads_.load(std::memory_order_relaxed));
      if (threads > 1 && shard_count_ > 1 && total >= kMinEmissionsForThreads) {
        ThreadPool::shared().run(shard_count_, threads, copy_part);
      } else {
        for (std::size_t s = 0; s < shard_count_; ++s) copy_part(s);
      }
    } catch (...) {
      unmark_candidates(parts, ticked);
      throw;
    }
    // A part grown by a rare mass emission is given back once ticks use
    // little of it again.
    std::size_t bytes = parts.capacity() * sizeof(Emissions) + offsets.capacity() * sizeof(std::size_t);
    for (Emissions& part : parts) {
      if (part.capacity() > 4096 && part.size() < part.capacity() / 8) Emissions().swap(part);
      bytes += part.capacity() * sizeof(typename Emissions::value_type);
    }
    tick_scratch_bytes_.store(bytes, std::memory_order_relaxed);
  }

  // Routes each emission to its key's shard (keeping their order there), then
  // commits every shard under its lock, which also prunes each shard's fully
  // decayed, withdrawn counters, as BasicHeatRegistry::commit does. Fails
  // (std::bad_alloc) only while routing, before any shard changes.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    std::vector<std::vector<std::pair<Key, HeatEmission>>> routed(shard_count_);
    for (const auto& item : emissions) routed[shard_of(item.first)].push_back(item);
    walk_shards([&](std::size_t s, Shard& r) { r.commit(routed[s]); });
  }

  // Sums over the shards, each read under its lock.
  RegistryStats stats() const {
    RegistryStats total;
    for (std::size_t s = 0; s < shard_count_; ++s) {
      const std::lock_guard lock(shards_[s].mutex);
      const RegistryStats& st = shards_[s].registry.stats();
      total.evictions += st.evictions;
      total.pruned += st.pruned;
      total.hash_reseeds += st.hash_reseeds;
    }
    return total;
  }
  // The shards' index look-up costs, summed (longest: the longest of any).
  IndexStats index_stats() const {
    IndexStats total;
    for (std::size_t s = 0; s < shard_count_; ++s) {
      const std::lock_guard lock(shards_[s].mutex);
      const IndexStats st = shards_[s].registry.index_stats();
      total.keys += st.keys;
      total.probes += st.probes;
      total.longest = std::max(total.longest, st.longest);
    }
    return total;
  }
  MemoryUsage memory_usage() const {
    MemoryUsage total;
    total.other = shard_count_ * sizeof(Locked) + tick_scratch_bytes_.load(std::memory_order_relaxed);
    for (std::size_t s = 0; s < shard_count_; ++s) {
      const std::lock_guard lock(shards_[s].mutex);
      const MemoryUsage m = shards_[s].registry.memory_usage();
      total.columns += m.columns;
      total.keys += m.keys;
      total.index += m.index;
      total.lru += m.lru;
      total.other += m.other;
    }
    return total;
  }

  // Snapshots (snapshot/registry_snapshot.h). f(shard), where shard(s) is
  // shard s's registry, with every shard's lock held throughout (taken in
  // shard order, as nothing else holds two), so the shards are read at one
  // moment.
  template <class F>
  void with_every_shard_locked(F&& f) const {
    std::size_t locked = 0;
    struct Unlock {
      const BasicConcurrentHeatRegistry& r;
      std::size_t& locked;
      ~Unlock() {
        while (locked > 0) r.shards_[--locked].mutex.unlock();
      }
    } unlock{*this, locked};
    for (; locked < shard_count_; ++locked) shards_[locked].mutex.lock();
    f([this](std::size_t s) -> const Shard& { return shards_[s].registry; });
  }
  // f(shard s's registry) under its lock, then its size published: how a
  // snapshot fills a registry no other thread uses yet.
  template <class F>
  void fill_shard(std::size_t s, F&& f) {
    const std::lock_guard lock(shards_[s].mutex);
    const SizeUpdate publish{shards_[s]};
    f(shards_[s].registry);
  }

 private:
  using HashedRead = batch::HashedRead<Key>;

  // One shard: its lock, its registry, and its size for the lock-free size().
  // Starts a cache line of its own, so bumps on neighbouring shards do not
  // contend for the lock's line.
  struct alignas(64) Locked {
    mutable SpinMutex mutex;
    std::atomic<std::size_t> size{0};
    Shard registry;
  };

  // Publishes the shard's size when the scope (a locked operation) ends.
  struct SizeUpdate {
    Locked& shard;
    ~SizeUpdate() { shard.size.store(shard.registry.size(), std::memory_order_relaxed); }
  };

  std::size_t shard_of_hash(std::uint64_t hash) const noexcept {
    return shard_shift_ == 0 ? 0 : static_cast<std::size_t>(hash >> shard_shift_);
  }
  Locked& shard_for_hash(std::uint64_t hash) noexcept { return shards_[shard_of_hash(hash)]; }
  Locked& shard_for(const Key& key) noexcept { return shards_[shard_of(key)]; }
  const Locked& shard_for(const Key& key) const noexcept { return shards_[shard_of(key)]; }

  template <class F>
  void for_each_shard_locked(F&& f) {
    for (std::size_t s = 0; s < shard_count_; ++s) {
      const std::lock_guard lock(shards_[s].mutex);
      f(shards_[s].registry);
    }
  }

  // A failed tick's candidates, which it cannot return: the marks of those
  // of shards that ticked in full are cleared (each shard that failed left
  // none). Takes no memory.
  void unmark_candidates(const std::vector<Emissions>& parts, const std::vector<unsigned char>& ticked) {
    for (std::size_t s = 0; s < shard_count_; ++s) {
      if (!ticked[s]) continue;
      Locked& shard = shards_[s];
      const std::lock_guard lock(shard.mutex);
      if (!shard.registry.tracks_in_flight()) continue;
      for (const auto& candidate : parts[s]) shard.registry.rollback(candidate.first);
    }
  }

  // Runs f(s, registry of shard s) for every shard under its lock, on up to
  // threads_ threads, and rethrows the first exception once all are done.
  template <class F>
  void walk_shards(F&& f) {
    std::exception_ptr error;
    std::mutex error_mutex;
    const auto visit = [&](std::size_t s) {
      try {
        Locked& shard = shards_[s];
        const std::lock_guard lock(shard.mutex);
        const SizeUpdate update{shard};
        f(s, shard.registry);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    };
    // A pass over few counters is cheaper on one thread than waking others.
    const unsigned threads = resolve_threads(threads_.load(std::memory_order_relaxed));
    if (threads <= 1 || shard_count_ == 1 || size() < kMinCountersForThreads) {
      for (std::size_t s = 0; s < shard_count_; ++s) visit(s);
    } else {
      ThreadPool::shared().run(shard_count_, threads, visit);
    }
    if (error) std::rethrow_exception(error);
  }

  // The batch: hash every key, group the reads by shard with a stable
  // counting sort, then bump each group under its shard's lock. All the
  // memory it needs of its own comes first; a read that fails (std::bad_alloc)
  // stops the batch there: the shards before its shard have every read of
  // theirs applied, its shard the reads before it, the shards after none.
  template <class KeyAt, class NowAt>
  void bump_grouped(std::size_t n, KeyAt key_at, NowAt now_at, std::int64_t half_life) {
    if (n == 0) return;
    std::vector<std::uint64_t>& hashes = scratch_hashes();
    std::vector<std::size_t>& starts = scratch_starts();
    std::vector<HashedRead>& grouped = scratch_reads();
    hashes.resize(n);
    starts.assign(shard_count_ + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
      hashes[i] = hash_(key_at(i));
      ++starts[shard_of_hash(hashes[i]) + 1];
    }
    for (std::size_t s = 0; s < shard_count_; ++s) starts[s + 1] += starts[s];
    grouped.resize(n);
    {
      std::vector<std::size_t>& next = scratch_next();
      next.assign(starts.begin(), starts.end() - 1);
      for (std::size_t i = 0; i < n; ++i) {
        grouped[next[shard_of_hash(hashes[i])]++] = HashedRead{key_at(i), hashes[i], now_at(i)};
      }
    }
    for (std::size_t s = 0; s < shard_count_; ++s) {
      if (starts[s] == starts[s + 1]) continue;
      Locked& shard = shards_[s];
      const std::lock_guard lock(shard.mutex);
      const SizeUpdate update{shard};
      Shard::Prehashed::bump_batch(shard.registry,
                                   std::span<const HashedRead>(grouped).subspan(starts[s], starts[s + 1] - starts[s]),
                                   hash_.seed(), half_life);
    }
    release_if_large(hashes);
    release_if_large(grouped);
  }

  // Per-thread scratch for batches: reused across calls, given back after a
  // batch far larger than usual.
  static std::vector<std::uint64_t>& scratch_hashes() {
    thread_local std::vector<std::uint64_t> v;
    return v;
  }
  static std::vector<std::size_t>& scratch_starts() {
    thread_local std::vector<std::size_t> v;
    return v;
  }
  static std::vector<std::size_t>& scratch_next() {
    thread_local std::vector<std::size_t> v;
    return v;
  }
  static std::vector<HashedRead>& scratch_reads() {
    thread_local std::vector<HashedRead> v;
    return v;
  }
  template <class T>
  static void release_if_large(std::vector<T>& v) {
    if (v.capacity() * sizeof(T) > (std::size_t{1} << 20)) std::vector<T>().swap(v);
  }

  static constexpr std::size_t kMinCountersForThreads = std::size_t{1} << 15;
  // Below this many emissions a tick copies its parts on the calling thread.
  static constexpr std::size_t kMinEmissionsForThreads = std::size_t{1} << 15;

  std::size_t cap_;
  std::atomic<unsigned> threads_;
  KeyHash hash_;  // picks a key's shard; each shard's index starts with it
  std::size_t shard_count_ = 1;
  int shard_shift_ = 0;  // 64 - log2(shard_count_); 0 for a single shard
  std::size_t shard_cap_ = 0;
  std::unique_ptr<Locked[]> shards_;
  // tick's scratch, kept across ticks; tick_mutex_ gives it to one tick at a time.
  std::mutex tick_mutex_;
  std::vector<Emissions> tick_parts_;        // per shard: its candidates with their keys
  std::vector<std::size_t> tick_offsets_;    // where each part starts in the result
  std::vector<unsigned char> tick_done_;     // per shard: ticked, its part filled
  std::atomic<std::size_t> tick_scratch_bytes_{0};  // for memory_usage(), which takes no tick turn
};

}  // namespace heatkit
