// Key -> slot index: open addressing with linear probing over 4-byte buckets
// that hold only the slot. The key itself lives in the registry's key column,
// so the index costs 4 / load bytes per key (load kept in (3/8, 3/4]) instead
// of a node or a (key, value) pair per entry. Deletion shifts the probe run
// back (no tombstones), so removing keys never degrades or rehashes the table.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace heatkit {

template <class Key, class Traits>
class SlotIndex {
 public:
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;

  // The slot holding `key`, or kNoSlot. `keys[slot]` is the key of each slot.
  std::uint32_t find(const Key& key, std::uint64_t hash, const Key* keys) const noexcept {
    if (buckets_.empty()) return kNoSlot;
    for (std::size_t b = hash & mask_;; b = (b + 1) & mask_) {
      const std::uint32_t slot = buckets_[b];
      if (slot == kNoSlot) return kNoSlot;
      if (keys[slot] == key) return slot;
    }
  }

  // Cache hints for a batch of look-ups: first the key's home bucket; then,
  // once that line has arrived, the keys of the slots a find will compare:
  // the probe run from the home bucket to the first empty one (rarely more
  // than two at the load kept), at most four, and within the home bucket's
  // block of 16 (a run past it is left to the find itself).
  void prefetch(std::uint64_t hash) const noexcept {
    if (!buckets_.empty()) __builtin_prefetch(&buckets_[hash & mask_]);
  }
  void prefetch_keys(std::uint64_t hash, const Key* keys) const noexcept {
    if (buckets_.empty()) return;
    constexpr std::size_t kPerLine = 64 / sizeof(std::uint32_t);
    const std::size_t home = hash & mask_;
    const std::size_t line_end = std::min(buckets_.size(), (home | (kPerLine - 1)) + 1);
    for (std::size_t b = home; b < line_end && b < home + kMaxKeyPrefetches; ++b) {
      const std::uint32_t slot = buckets_[b];
      if (slot == kNoSlot) return;
      __builtin_prefetch(&keys[slot]);
    }
  }

  // Makes room for `n` keys without further growth.
  void reserve(std::size_t n, const Key* keys) {
    const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(16, n + n / 3 + 1));
    if (wanted > buckets_.size()) rehash(wanted, keys);
  }

  // Adds `slot`, whose key (hashing to `hash`) is not present yet.
  void insert(std::uint64_t hash, std::uint32_t slot, const Key* keys) {
    if ((size_ + 1) * 4 > buckets_.size() * 3) reserve(size_ + 1, keys);
    place(hash, slot);
    ++size_;
  }

  // Removes `slot`, whose key hashes to `hash`. No-op when absent.
  void erase(std::uint64_t hash, std::uint32_t slot, const Key* keys) noexcept {
    if (buckets_.empty()) return;
    std::size_t hole = hash & mask_;
    while (buckets_[hole] != slot) {
      if (buckets_[hole] == kNoSlot) return;
      hole = (hole + 1) & mask_;
    }
    // Backward shift: pull later members of the probe run into the hole when
    // their home bucket does not lie (cyclically) between the hole and them.
    for (std::size_t next = (hole + 1) & mask_;; next = (next + 1) & mask_) {
      const std::uint32_t moved = buckets_[next];
      if (moved == kNoSlot) break;
      const std::size_t home = Traits::hash(keys[moved]) & mask_;
      const bool stays = ((next - home) & mask_) < ((next - hole) & mask_);
      if (!stays) {
        buckets_[hole] = moved;
        hole = next;
      }
    }
    buckets_[hole] = kNoSlot;
    --size_;
  }

  std::size_t size() const noexcept { return size_; }
  std::size_t bucket_count() const noexcept { return buckets_.size(); }
  std::size_t memory_bytes() const noexcept { return buckets_.capacity() * sizeof(std::uint32_t); }

 private:
  void place(std::uint64_t hash, std::uint32_t slot) noexcept {
    std::size_t b = hash & mask_;
    while (buckets_[b] != kNoSlot) b = (b + 1) & mask_;
    buckets_[b] = slot;
  }

  void rehash(std::size_t bucket_count, const Key* keys) {
    std::vector<std::uint32_t> old(bucket_count, kNoSlot);
    old.swap(buckets_);
    mask_ = bucket_count - 1;
    for (std::uint32_t slot : old) {
      if (slot != kNoSlot) place(Traits::hash(keys[slot]), slot);
    }
  }

  static constexpr std::size_t kMaxKeyPrefetches = 4;

  std::vector<std::uint32_t> buckets_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace heatkit
