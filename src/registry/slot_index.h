// Key -> slot index: open addressing with linear probing over 4-byte buckets.
// The key itself lives in the registry's key column, so the index costs
// 4 / load bytes per key (load kept in (3/8, 3/4]) instead of a node or a
// (key, value) pair per entry. Deletion shifts the probe run back (no
// tombstones), so removing keys never degrades or rehashes the table.
//
// A bucket holds the slot in its low `slot_bits` bits and, in the bits the
// slot does not need, a tag: the same bits of the key's hash (from its top
// half, independent of the home bucket). A probe compares the key only where
// the tag matches, so a look-up rarely reads a key line it does not want
// (with a million keys, 10 tag bits: one probe in 1,024), and a batch can
// guess a key's slot from its bucket line alone.
//
// The index owns its hash function (`Hasher`: a callable from key to 64 bits,
// the registry's KeyHash) and can rehash under another one: the registry's
// defence when a probe run grows past kLongProbe (registry.h).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "util/huge_page_allocator.h"
#include "util/prefetch.h"

namespace heatkit {

template <class Key, class Hasher>
class SlotIndex {
 public:
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;

  SlotIndex() = default;
  explicit SlotIndex(Hasher hasher) : hasher_(std::move(hasher)) {}

  const Hasher& hasher() const noexcept { return hasher_; }
  std::uint64_t hash(const Key& key) const noexcept { return hasher_(key); }

  // The slot holding `key`, or kNoSlot. `keys[slot]` is the key of each slot
  // (`keys`: a pointer to them, or the registry's KeyRecords).
  template <class Keys>
  std::uint32_t find(const Key& key, std::uint64_t hash, const Keys& keys) const noexcept {
    if (buckets_.empty()) return kNoSlot;
    const std::uint32_t tag = tag_of(hash);
    for (std::size_t b = hash & mask_;; b = (b + 1) & mask_) {
      const std::uint32_t word = buckets_[b];
      if (word == kEmpty) return kNoSlot;
      if ((word & ~slot_mask_) == tag && keys[word & slot_mask_] == key) return word & slot_mask_;
    }
  }

  // Cache hints for a batch of look-ups. `prefetch`: the key's home bucket
  // line (`line` 0), or the line `line` lines after it. `guess`, once those
  // lines have arrived: the first slot of the probe run whose tag matches,
  // scanning the first `lines` lines from the home bucket's; that is the slot
  // `find` will almost surely return for a present key, so its key and
  // columns can be fetched before the key is compared. No slot when there is
  // no match in those lines; `run_goes_on` then says whether the run leaves
  // them (a later line may hold the key: worth fetching and guessing again)
  // or ends in them (the key is absent).
  struct Guess {
    std::uint32_t slot = kNoSlot;
    bool run_goes_on = false;
  };
  [[gnu::always_inline]] void prefetch(std::uint64_t hash, std::size_t line = 0) const noexcept {
    if (!buckets_.empty()) prefetch_for_read(&buckets_[((hash & mask_) + line * kPerLine) & mask_]);
  }
  [[gnu::always_inline]] Guess guess(std::uint64_t hash, std::size_t lines = 1) const noexcept {
    if (buckets_.empty()) return {};
    const std::uint32_t tag = tag_of(hash);
    std::size_t b = hash & mask_;
    for (std::size_t line = 0; line < lines; ++line) {
      for (const std::size_t line_end = (b | (kPerLine - 1)) + 1; b < line_end; ++b) {
        const std::uint32_t word = buckets_[b];
        if (word == kEmpty) return {};
        if ((word & ~slot_mask_) == tag) return {word & slot_mask_, false};
      }
      b &= mask_;  // after the table's last line comes its first
    }
    return {kNoSlot, true};
  }

  // Makes room for `n` keys without further growth. On failure
  // (std::bad_alloc) the index is as it was.
  template <class Keys>
  void reserve(std::size_t n, const Keys& keys) {
    const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(16, n + n / 3 + 1));
    if (wanted > buckets_.size()) rehash(wanted, keys);
  }

  // Makes the room the next insert needs, so that it cannot fail: the
  // caller's way to allocate before it changes anything. `removed_first`:
  // a key leaves before that insert (an eviction), so none is needed.
  template <class Keys>
  void prepare_insert(const Keys& keys, bool removed_first = false) {
    const std::size_t after = removed_first ? size_ : size_ + 1;
    if (after * 4 > buckets_.size() * 3) reserve(after, keys);
  }

  // Adds `slot` (below kNoSlot), whose key (hashing to `hash`) is not present
  // yet. Returns how many buckets past its home bucket it landed: the probes
  // a look-up of it will take, less one. Allocates (and so may throw, with
  // nothing changed) only where prepare_insert would have.
  template <class Keys>
  std::size_t insert(std::uint64_t hash, std::uint32_t slot, const Keys& keys) {
    prepare_insert(keys);
    if (slot >= slot_mask_) widen_slots(slot);
    ++size_;
    return place(hash, slot);
  }

  // Hashes every key again with `hasher`, which the index keeps from then on.
  // Returns the longest distance from home of a key placed, as insert does.
  // On failure (std::bad_alloc) the index, its hash included, is as it was.
  template <class Keys>
  std::size_t rehash_with(Hasher hasher, const Keys& keys) {
    HugePageVector<std::uint32_t> fresh(buckets_.size(), kEmpty);
    hasher_ = std::move(hasher);
    return place_all(std::move(fresh), keys);
  }

  // What look-ups cost now: the keys, the buckets a look-up of every key
  // once reads in all (each key's distance from its home, plus one), and the
  // longest of those distances. A scan of the table, for tests and reports.
  struct ProbeStats {
    std::size_t keys = 0;
    std::uint64_t probes = 0;
    std::size_t longest = 0;
  };
  template <class Keys>
  ProbeStats probe_stats(const Keys& keys) const {
    ProbeStats stats;
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      const std::uint32_t word = buckets_[b];
      if (word == kEmpty) continue;
      const std::size_t distance = (b - (hasher_(keys[word & slot_mask_]) & mask_)) & mask_;
      ++stats.keys;
      stats.probes += distance + 1;
      stats.longest = std::max(stats.longest, distance);
    }
    return stats;
  }

  // Removes `slot`, whose key hashes to `hash`. No-op when absent.
  template <class Keys>
  void erase(std::uint64_t hash, std::uint32_t slot, const Keys& keys) noexcept {
    if (buckets_.empty() || slot >= slot_mask_) return;
    const std::uint32_t word = slot | tag_of(hash);
    std::size_t hole = hash & mask_;
    while (buckets_[hole] != word) {
      if (buckets_[hole] == kEmpty) return;
      hole = (hole + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole when
    // their home bucket does not lie (cyclically) between the hole and them.
    for (std::size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
      const std::uint32_t moved = buckets_[next];
      if (moved == kEmpty) break;
      const std::size_t home = hasher_(keys[moved & slot_mask_]) & mask_;
      const bool stays = ((next - home) & mask_) < ((next - hole) & mask_);
      if (!stays) {
        buckets_[hole] = moved;
        hole = next;
      }
    }
    buckets_[hole] = kEmpty;
    --size_;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t bucket_count() const noexcept { return buckets_.size(); }
  std::size_t memory_bytes() const noexcept { return buckets_.capacity() * sizeof(std::uint32_t); }

 private:
  static constexpr std::uint32_t kEmpty = UINT32_MAX;  // a slot is never all ones in its bits
  static constexpr std::size_t kPerLine = 64 / sizeof(std::uint32_t);  // buckets per cache line

  // The tag bits of `hash`, in place above the slot bits.
  std::uint32_t tag_of(std::uint64_t hash) const noexcept {
    return static_cast<std::uint32_t>(hash >> 32) & ~slot_mask_;
  }

  // Puts `slot` in the first empty bucket from its home on; returns how far
  // from home that is.
  std::size_t place(std::uint64_t hash, std::uint32_t slot) noexcept {
    const std::size_t home = hash & mask_;
    std::size_t b = home;
    while (buckets_[b] != kEmpty) b = (b + 1) & mask_;
    buckets_[b] = slot | tag_of(hash);
    return (b - home) & mask_;
  }

  // Slot fields wide enough for slots below twice the bucket count (the
  // registry keeps its slot count below the bucket count), or for `slot`.
  static std::uint32_t slot_mask_for(std::size_t bound) noexcept {
    const auto bits = std::bit_width(bound);  // all ones in `bits` bits exceeds `bound`
    return bits >= 32 ? UINT32_MAX : (std::uint32_t{1} << bits) - 1;
  }

  // Gives the slot field more bits (fewer to the tag) so that `slot` fits.
  // The tag keeps its top bits: the narrower tag is the wider one shifted.
  void widen_slots(std::uint32_t slot) noexcept {
    const std::uint32_t wider = slot_mask_for(std::size_t{slot} + 1);
    for (std::uint32_t& word : buckets_) {
      if (word != kEmpty) word = (word & slot_mask_) | (word & ~wider);
    }
    slot_mask_ = wider;
  }

  // Returns the longest distance from home of a key placed.
  template <class Keys>
  std::size_t rehash(std::size_t bucket_count, const Keys& keys) {
    return place_all(HugePageVector<std::uint32_t>(bucket_count, kEmpty), keys);
  }

  // Places every key of the table in `fresh` (empty buckets, a power of two
  // of them), which becomes the table. Cannot fail: whatever may is done.
  template <class Keys>
  std::size_t place_all(HugePageVector<std::uint32_t> fresh, const Keys& keys) noexcept {
    const std::size_t bucket_count = fresh.size();
    const HugePageVector<std::uint32_t> old = std::exchange(buckets_, std::move(fresh));
    mask_ = bucket_count - 1;
    const std::uint32_t old_slot_mask = slot_mask_;
    slot_mask_ = std::max(slot_mask_, slot_mask_for(bucket_count));
    std::size_t longest = 0;
    for (const std::uint32_t word : old) {
      if (word == kEmpty) continue;
      const std::uint32_t slot = word & old_slot_mask;
      longest = std::max(longest, place(hasher_(keys[slot]), slot));
    }
    return longest;
  }

  Hasher hasher_{};
  HugePageVector<std::uint32_t> buckets_;  // huge pages: each look-up reads a random one
  std::size_t mask_ = 0;
  std::uint32_t slot_mask_ = 0;  // low bits of a bucket that hold the slot
  std::size_t size_ = 0;
};

}  // namespace heatkit
