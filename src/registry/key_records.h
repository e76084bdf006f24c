// The registry's per-slot records: each slot's key and, beside it, the slot's
// position in the eviction order (LruOrder's, see lru_order.h). Every bump
// reads the key line (the look-up compares the key) and writes the position;
// with both in one record that is one random line per bump instead of two,
// which is what a bump of a resident key waits on (docs/PERFORMANCE.md).
//
// The key is kept as 4-byte words so that a record is sizeof(Key) + 4 bytes
// with no padding (12 for a u64 key, 36 for a 32-byte key), the same memory as
// separate key and position arrays. Keys are copied in and out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "util/huge_page_allocator.h"
#include "registry/lru_order.h"
#include "util/prefetch.h"

namespace heatkit {

template <class Key>
class KeyRecords {
  static_assert(std::is_trivially_copyable_v<Key> && sizeof(Key) % sizeof(std::uint32_t) == 0,
                "a key is copied in and out of 4-byte words");

  struct Record {
    std::uint32_t key_words[sizeof(Key) / sizeof(std::uint32_t)];
    std::uint32_t lru_position;
  };
  static_assert(sizeof(Record) == sizeof(Key) + sizeof(std::uint32_t), "records are unpadded");
  static_assert(std::is_standard_layout_v<Record>, "offsetof(Record, lru_position)");

 public:
  // The key of `slot` (whatever was last stored there; zero bytes if never;
  // not a key while the slot is free, see next_free).
  Key operator[](std::size_t slot) const noexcept { return reader()[slot]; }
  void set_key(std::size_t slot, const Key& key) noexcept {
    std::memcpy(records_[slot].key_words, &key, sizeof key);
  }

  // A free slot's record holds the next free slot in its first key word:
  // the registry's list of free slots costs no memory of its own, so
  // freeing a slot never allocates.
  std::uint32_t next_free(std::size_t slot) const noexcept { return records_[slot].key_words[0]; }
  void set_next_free(std::size_t slot, std::uint32_t next) noexcept { records_[slot].key_words[0] = next; }

  // Grows to `n` slots (never shrinks), keeping the records; new ones hold a
  // zero key and LruOrder::kAbsentPosition. Moves the records, unless it
  // fails (std::bad_alloc): the records are then as they were.
  void ensure_slots(std::size_t n) { grow_exact(records_, n, Record{{}, LruOrder::kAbsentPosition}); }

  // The position fields, for LruOrder::ensure_slots. Invalidated by ensure_slots.
  LruPositions lru_positions() noexcept {
    return LruPositions{reinterpret_cast<std::byte*>(records_.data()) + offsetof(Record, lru_position),
                        sizeof(Record), records_.size()};
  }

  // Cache hint for a bump of `slot` soon: its record, read and written (both
  // lines where the record straddles two).
  [[gnu::always_inline]] void prefetch(std::size_t slot) const noexcept {
    const auto* first = reinterpret_cast<const std::byte*>(&records_[slot]);
    prefetch_for_write(first);
    prefetch_for_write(first + sizeof(Record) - 1);
  }

  // A copyable reader of the keys (a pointer): for loops that store to other
  // memory and must not reload the records' address after every store.
  class Reader {
   public:
    Key operator[](std::size_t slot) const noexcept {
      Key key;
      std::memcpy(&key, records_[slot].key_words, sizeof key);
      return key;
    }
    // Cache hint for a read of `slot`'s key: both lines where the key
    // straddles two (one u64 key in sixteen; a miss on the second line
    // would stall the reader as if nothing had been prefetched).
    [[gnu::always_inline]] void prefetch(std::size_t slot) const noexcept {
      const auto* first = reinterpret_cast<const std::byte*>(records_[slot].key_words);
      prefetch_for_read(first);
      prefetch_for_read(first + sizeof(Key) - 1);
    }

   private:
    friend class KeyRecords;
    explicit Reader(const Record* records) : records_(records) {}
    const Record* records_;
  };
  Reader reader() const noexcept { return Reader(records_.data()); }

  std::size_t size() const noexcept { return records_.size(); }
  // Bytes held for keys and for positions.
  std::size_t key_bytes() const noexcept { return records_.capacity() * sizeof(Key); }
  std::size_t position_bytes() const noexcept { return records_.capacity() * sizeof(std::uint32_t); }

 private:
  HugePageVector<Record> records_;  // huge pages: every look-up reads a random one
};

}  // namespace heatkit
