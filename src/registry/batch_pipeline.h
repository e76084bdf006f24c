// The prefetching batch loop behind bump_batch and the bump queue: it applies
// a source's reads in order, each exactly as entry(key, half_life, now) and,
// if asked, a bump, while prefetch stages work a few reads ahead of it.
//
// A source says what read i is:
//   size()                  the number of reads
//   key(i), now(i)          entry(key(i), half_life(i), now(i)) ...
//   half_life(i)
//   hash(i, h)              ... whose key hashes to this under the index's
//                           hash h (a source that hashed its keys ahead gives
//                           those hashes while h has the seed they were made
//                           with)
//   bumps(i), bump_at(i)    then, if bumps(i), a bump at bump_at(i)
//   applied(k)              hears that the first k reads are done
// The sources of the batches are below; the bump queue's is BumpQueue::Source
// (registry/bump_queue.h).
//
// A target is the registry the reads apply to, seen through what the loop
// needs of it (BasicHeatRegistry::BatchTarget):
//   index()                 its SlotIndex (hasher, prefetch, guess, find)
//   keys()                  its KeyRecords (prefetch, operator[])
//   host_columns()          the counter columns a bump writes, when they are
//                           in host memory (std::optional<CounterColumns>)
//   shared_half_life()      whether every counter has one half-life (a bump
//                           then reads no half-life column)
//   insert(key, hash, half_life, now, then_bump_at) -> Slot
//                           creates the absent key, as entry() would (it may
//                           evict, grow, and rehash the index); the read's
//                           bump, if any, follows at then_bump_at (else it
//                           is `now`), and a target may make the room that
//                           bump needs beforehand, so that a read applies in
//                           full or not at all
//   bump(slot, now)         the bump
// bump runs once per read: a target forces it inline (see bump_each).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include <heatkit/time.h>
#include "store/counter_store.h"
#include "registry/key_hash.h"

namespace heatkit::batch {

// The batches below bump every read at its entry's instant with one
// half-life, and need no progress.
struct OneHalfLife {
  std::int64_t half_life_ns;
  std::int64_t half_life(std::size_t) const noexcept { return half_life_ns; }
  static constexpr bool bumps(std::size_t) noexcept { return true; }
  static constexpr void applied(std::size_t) noexcept {}
};

// bump_batch(keys, half_life, now): every key at one instant.
template <class Key>
struct KeysAt : OneHalfLife {
  std::span<const Key> keys;
  std::int64_t at;
  KeysAt(std::span<const Key> k, std::int64_t now, std::int64_t half_life)
      : OneHalfLife{half_life}, keys(k), at(now) {}
  std::size_t size() const noexcept { return keys.size(); }
  const Key& key(std::size_t i) const noexcept { return keys[i]; }
  template <class Hasher>
  std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
    return h(keys[i]);
  }
  std::int64_t now(std::size_t) const noexcept { return at; }
  std::int64_t bump_at(std::size_t) const noexcept { return at; }
};

// bump_batch(reads, half_life): each key at its own instant.
template <class Key>
struct TimedReads : OneHalfLife {
  std::span<const std::pair<Key, Instant>> reads;
  TimedReads(std::span<const std::pair<Key, Instant>> r, std::int64_t half_life)
      : OneHalfLife{half_life}, reads(r) {}
  std::size_t size() const noexcept { return reads.size(); }
  const Key& key(std::size_t i) const noexcept { return reads[i].first; }
  template <class Hasher>
  std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
    return h(reads[i].first);
  }
  std::int64_t now(std::size_t i) const noexcept { return to_ns(reads[i].second); }
  std::int64_t bump_at(std::size_t i) const noexcept { return now(i); }
};

// A read whose key is already hashed, under the hash whose secret is `seed`
// (the concurrent registry's batches: its shards start with its secret, and
// keep it unless an index is rehashed under a fresh one).
template <class Key>
struct HashedRead {
  Key key;
  std::uint64_t hash;
  std::int64_t now;
};
template <class Key>
struct HashedReads : OneHalfLife {
  std::span<const HashedRead<Key>> reads;
  std::uint64_t seed;
  HashedReads(std::span<const HashedRead<Key>> r, std::uint64_t hash_seed, std::int64_t half_life)
      : OneHalfLife{half_life}, reads(r), seed(hash_seed) {}
  std::size_t size() const noexcept { return reads.size(); }
  const Key& key(std::size_t i) const noexcept { return reads[i].key; }
  template <class Hasher>
  std::uint64_t hash(std::size_t i, const Hasher& h) const noexcept {
    return hash_under(h, reads[i].key, reads[i].hash, seed);
  }
  std::int64_t now(std::size_t i) const noexcept { return reads[i].now; }
  std::int64_t bump_at(std::size_t i) const noexcept { return reads[i].now; }
};

// How far ahead of the read being looked up each prefetch stage works, in
// reads. Each stage needs the lines the one before asked for, so they are
// spaced by a few reads (about one memory latency of look-ups).
inline constexpr std::size_t kHashAhead = 32;   // hash; prefetch the home bucket line
inline constexpr std::size_t kSlotAhead = 16;   // guess the slot; prefetch its key record and columns
inline constexpr std::size_t kRetryAhead = 8;   // guess again over two bucket lines (see below)
inline constexpr std::size_t kRing = 64;        // > kHashAhead + 1, a power of two

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
//
// `target` is a small handle (a pointer to the registry), taken by value.
template <class Source, class Target>
void bump_each(const Source& src, Target target) {
  constexpr Slot kNoSlot = std::remove_cvref_t<decltype(target.index())>::kNoSlot;
  const std::size_t n = src.size();
  std::array<std::uint64_t, kRing> hashes;
  std::array<Slot, kRing> guesses;  // kNoSlot: no guess
  // Reads whose probe run left the home line, to guess again, ascending.
  std::array<std::size_t, kRing> unfinished;
  std::size_t unfinished_begin = 0, unfinished_end = 0;  // positions in `unfinished`
  constexpr std::size_t kMask = kRing - 1;
  // The stages are lambdas forced inline, as are the index's guess, the
  // prefetches, the target's bump and the decay: left to itself, GCC inlined them in a small translation unit but called
  // guess_read and the decay out of line in a large one (the benchmark's),
  // 27.5 ns per key there against 25.
  //
  // Keeps the guess for read r and asks for the lines its bump will touch
  // (the key record, the columns). Written out here, not in a
  // function of its own: GCC deems a function that only prefetches free of
  // effects and deletes the calls to it.
  const auto keep_guess = [&](std::size_t r, Slot slot) __attribute__((always_inline)) {
    guesses[r & kMask] = slot;
    if (slot == kNoSlot) return;
    target.keys().prefetch(slot);  // the key, and the LRU position the bump writes
    if (const auto& columns = target.host_columns()) {
      prefetch_for_bump(*columns, slot, target.shared_half_life());
    }
  };
  const auto hash_read = [&](std::size_t r) __attribute__((always_inline)) {
    hashes[r & kMask] = src.hash(r, target.index().hasher());
    target.index().prefetch(hashes[r & kMask]);
  };
  const auto guess_read = [&](std::size_t r) __attribute__((always_inline)) {
    const auto guess = target.index().guess(hashes[r & kMask]);
    keep_guess(r, guess.slot);
    if (guess.run_goes_on) {
      target.index().prefetch(hashes[r & kMask], 1);
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
      keep_guess(r, target.index().guess(hashes[r & kMask], 2).slot);
    }
    const auto& key = src.key(i);
    const std::int64_t now = src.now(i);
    Slot slot = guesses[i & kMask];
    if (slot == kNoSlot || !(target.keys()[slot] == key)) {
      slot = target.index().find(key, hashes[i & kMask], target.keys());
      if (slot == kNoSlot) {
        const std::uint64_t seed = target.index().hasher().seed();
        slot = target.insert(key, hashes[i & kMask], src.half_life(i), now,
                             src.bumps(i) ? src.bump_at(i) : now);
        // Rehashed under a fresh secret: the reads hashed ahead, again.
        if (target.index().hasher().seed() != seed) {
          for (std::size_t r = i + 1; r < std::min(n, i + kHashAhead + 1); ++r) hash_read(r);
        }
        // The index changed (a creation, maybe an eviction): guess the
        // reads already guessed again.
        unfinished_begin = unfinished_end;
        for (std::size_t r = i + 1; r < std::min(n, i + kSlotAhead + 1); ++r) guess_read(r);
      }
    }
    if (src.bumps(i)) target.bump(slot, src.bump_at(i));
    src.applied(i + 1);
  }
}

}  // namespace heatkit::batch
