// Eviction order of SEMANTICS.md: the victim is the entry with the smallest
// last_update; ties go to the entry whose last bump (or creation) came first.
//
// Why this shape. The key (last_update, bump order) moves in three ways: a bump
// gives an entry the newest bump order and last_update = now; a direct
// decay_to moves last_update alone; a tick sets every last_update to the same
// instant, which leaves bump order as the only key. A heap over all entries
// would need a rebuild per tick and a sift per bump. Instead:
//  - every bump (or creation) appends the slot to a log, so the log lists the
//    entries in bump order; each slot remembers the position of its latest
//    record, and an older record of the slot is stale (dropped lazily). A
//    record's position is its bump order;
//  - an entry is "in order" when its key is at least the key of every in-order
//    entry before it; the in-order entries then form a sorted sequence, whose
//    first element is found by a cursor that only moves forward between ticks;
//  - the rest ("out of order": a direct decay_to, or a bump whose time went
//    backwards) go into a small heap keyed by (last_update, bump order), with
//    stale records dropped lazily;
//  - a tick makes every key (T, bump order), i.e. the log order itself, so it
//    clears the heap and moves the cursor back to the first out-of-order
//    entry: O(out-of-order entries).
// With monotonic time every operation is O(1) amortized; out-of-order ones are
// O(log k) in the number k of such entries since the last tick.
//
// Why a log rather than a linked list: a bump then writes one random line (the
// slot's position) and appends to a line that is already cached, where moving
// a list node writes the node and both its neighbours, three random lines.
// The price is a compaction pass when the log is full, which drops the stale
// records and renumbers the rest, keeping their order. The log has 8 bytes
// per slot: 2 records of 4 bytes, or, while every slot number fits in 3
// bytes (below 2^24 slots), 8/3 records of 3 bytes, so that compactions come
// at most once per 5/3 slot-count appends instead of once per slot count
// (each costs a few passes over the positions and the log). Memory: 4 bytes
// of position per slot and 8 bytes of log, 12 in all.
//
// The positions may live in the caller's own per-slot records (the registry
// keeps each slot's position beside its key, a line every look-up reads
// anyway, so a bump writes no line of its own for the order): a 4-byte field
// every `stride` bytes. Standing alone, the order keeps them in an array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "util/huge_page_allocator.h"
#include "store/last_updates.h"

namespace heatkit {

// Per-slot LRU positions held in someone else's records: slot s's position
// is the 4-byte field at first + s * stride (4-byte aligned).
struct LruPositions {
  std::byte* first = nullptr;
  std::size_t stride = sizeof(std::uint32_t);
  std::size_t size = 0;  // slots [0, size)

  std::uint32_t& operator[](std::size_t slot) const noexcept {
    return *reinterpret_cast<std::uint32_t*>(first + slot * stride);
  }
};

// The log's records: slot numbers of `width` bytes (3 or 4), in one
// allocation of 8 bytes per slot that is never touched before it is used.
// A record is read and appended as 4 bytes (a byte of padding ends the
// allocation); set() writes exactly `width` bytes, so it can overwrite a
// record in front of others.
class SlotLog {
 public:
  using Slot = std::uint32_t;
  SlotLog() = default;
  SlotLog(std::size_t capacity, unsigned width);
  SlotLog(SlotLog&& other) noexcept { swap(other); }
  SlotLog& operator=(SlotLog&& other) noexcept {
    SlotLog(std::move(other)).swap(*this);
    return *this;
  }
  ~SlotLog();

  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  unsigned width() const noexcept { return width_; }
  std::size_t bytes() const noexcept { return bytes_; }

  Slot operator[](std::size_t i) const noexcept {
    std::uint32_t word;
    std::memcpy(&word, data_ + i * width_, sizeof word);
    return word & mask_;
  }
  void set(std::size_t i, Slot slot) noexcept {
    if (width_ == 3) {
      std::memcpy(data_ + i * 3, &slot, 3);  // little-endian: the low three bytes
    } else {
      std::memcpy(data_ + i * 4, &slot, 4);
    }
  }
  // Needs size() < capacity(). Its fourth byte lands past the new end.
  void push_back(Slot slot) noexcept {
    std::memcpy(data_ + size_ * width_, &slot, sizeof slot);
    ++size_;
  }
  // Appends every record of `from` (whose size fits): one copy of the
  // bytes when the widths agree.
  void append_all(const SlotLog& from) noexcept;
  void shrink(std::size_t n) noexcept { size_ = n; }  // n <= size()
  void drop_front(std::size_t n) noexcept;           // n <= size(): records [n, size) move to 0

 private:
  void swap(SlotLog& other) noexcept;

  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  unsigned width_ = 4;
  std::uint32_t mask_ = UINT32_MAX;
};

class LruOrder {
 public:
  using Slot = std::uint32_t;
  static constexpr Slot kNone = UINT32_MAX;
  // Positions are 31 bits and the log holds more records than slots: at most
  // this many slots (past 2^30 the log's slack, and so the spacing of
  // compactions, shrinks towards this limit).
  static constexpr std::size_t kMaxSlots = (std::size_t{1} << 31) - 2;
  // The position of a slot that holds no entry; an owner of the positions
  // gives its new slots this one.
  static constexpr std::uint32_t kAbsentPosition = UINT32_MAX;

  // The log holds slot_count + min(slack, `max_stale`) records before it
  // compacts, the slack being what 8 bytes per slot leave (slot_count for
  // 4-byte records, 5/3 of it for 3-byte ones); tests lower `max_stale` to
  // compact every few appends.
  explicit LruOrder(std::size_t max_stale = SIZE_MAX) : max_stale_(max_stale == 0 ? 1 : max_stale) {}
  // Movable (the arrays keep their storage), not copyable: a copy's view
  // of its positions would still point at the original's.
  LruOrder(const LruOrder&) = delete;
  LruOrder& operator=(const LruOrder&) = delete;
  LruOrder(LruOrder&&) noexcept = default;
  LruOrder& operator=(LruOrder&&) noexcept = default;

  // Makes per-slot state for slots [0, n), the positions in an array of its
  // own. Throws std::length_error past kMaxSlots. On failure (that, or
  // std::bad_alloc) the order is as it was; what grew before it stays, as
  // spare room, and a later call for the same n grows only the rest.
  void ensure_slots(std::size_t n);
  // The same with the positions in the caller's records, `positions` (at
  // least n slots; the slots the order had keep their positions, copied by
  // the caller, and the new ones hold kAbsentPosition). Call it again
  // whenever the records move: the order takes `positions` even when it
  // fails to grow its log.
  void ensure_slots(std::size_t n, LruPositions positions);

  // Makes sure the next `records` changes (on_insert, on_bump, on_decay)
  // cannot fail: each may add a record of an out-of-order entry, and this
  // grows their heap ahead. On failure (std::bad_alloc) nothing changed.
  void reserve_records(std::size_t records) {
    if (heap_.capacity() - heap_.size() < records) grow_heap(records);
  }
  // The records on_insert(slot, now) and an on_bump(slot, bump_at) right
  // after it add: one each that is out of order (none in the common case,
  // time moving forward).
  std::size_t records_for_insert(std::int64_t now, std::int64_t bump_at) const noexcept {
    const std::int64_t bound = now > in_order_max_ ? now : in_order_max_;  // after the creation
    return (now < in_order_max_ ? 1 : 0) + (bump_at < bound ? 1 : 0);
  }

  // Each change below either applies in full or (std::bad_alloc, only where
  // reserve_records was not called for it) leaves the order as it was. The
  // log's compaction never fails: without memory for its bitmap it works in
  // place.
  //
  // A new entry in `slot`, created at `now` (creation counts as a bump).
  void on_insert(Slot slot, std::int64_t now) {
    append(slot, now);
    ++size_;
  }
  // `slot` was bumped at `now` (its last_update is now `now`). Its previous
  // record goes stale by itself: the slot's position moves on. When that
  // record is the log's last and in order (a bump right after the entry's
  // creation or its previous bump) and `now` keeps it in order, it already
  // stands where a new one would: only the in-order bound moves.
  void on_bump(Slot slot, std::int64_t now) {
    const std::uint32_t v = positions_[slot];
    if (v == kAbsent) return;
    if (v + std::size_t{1} == log_.size() && now >= in_order_max_) {
      in_order_max_ = now;
      return;
    }
    append(slot, now);
  }
  // `slot` decayed to `now` without a bump. `last_update` is the column.
  void on_decay(Slot slot, std::int64_t now, LastUpdates last_update);
  // `slot` left the registry (removed, evicted or pruned).
  void on_erase(Slot slot) {
    if (positions_[slot] == kAbsent) return;
    positions_[slot] = kAbsent;
    --size_;
  }
  // A tick set every entry's last_update to `now`.
  void on_tick(std::int64_t now);

  // The entry to evict, or kNone when there is none. `last_update` is the
  // column, exact for every entry.
  Slot victim(LastUpdates last_update);

  bool contains(Slot slot) const noexcept {
    return slot < positions_.size && positions_[slot] != kAbsent;
  }
  // Calls f(slot) for every entry in the order of its last bump (or
  // creation), the least recent first: with each entry's last_update, all
  // that victim() decides by (a snapshot saves it; on_insert in this order
  // builds an order that picks the same victims).
  template <class F>
  void for_each_in_bump_order(F&& f) const {
    for (std::size_t at = 0; at < log_.size(); ++at) {
      const Slot slot = log_[at];
      const std::uint32_t v = positions_[slot];
      if (v != kAbsent && order_of(v) == at) f(slot);
    }
  }
  std::size_t size() const noexcept { return size_; }
  // Bytes held: the log, the heap and the positions when they are its own.
  std::size_t memory_bytes() const noexcept;

 private:
  // positions_[slot]: the position of the slot's latest log record in the low
  // 31 bits, kOutOfOrder flag on top; kAbsent when the slot holds no entry.
  static constexpr std::uint32_t kAbsent = kAbsentPosition;
  static constexpr std::uint32_t kOutOfOrder = 1u << 31;
  static constexpr std::int64_t kNoInstant = INT64_MIN;

  struct Record {  // a heap entry for an out-of-order slot
    std::int64_t last_update;
    std::uint32_t order;  // the slot's log position when pushed
    Slot slot;
  };
  struct RecordAfter {  // min-heap comparator on (last_update, order)
    bool operator()(const Record& a, const Record& b) const noexcept {
      return a.last_update != b.last_update ? a.last_update > b.last_update : a.order > b.order;
    }
  };

  static std::uint32_t order_of(std::uint32_t v) noexcept { return v & ~kOutOfOrder; }
  // Whether the log record at `at` is the latest of a live slot that is in order.
  bool in_order_at(std::size_t at) const noexcept { return positions_[log_[at]] == at; }
  bool record_valid(const Record& r, LastUpdates last_update) const noexcept;

  void append(Slot slot, std::int64_t now) {
    const bool in_order = now >= in_order_max_;
    if (!in_order) reserve_records(1);  // the only step that may fail: first
    if (log_.size() == log_.capacity()) compact();
    const auto at = static_cast<std::uint32_t>(log_.size());
    positions_[slot] = at | (in_order ? 0u : kOutOfOrder);
    log_.push_back(slot);
    if (in_order) {
      in_order_max_ = now;
    } else {
      push_record(slot, now);
    }
  }

  void push_record(Slot slot, std::int64_t last_update) noexcept;  // after reserve_records
  void grow_heap(std::size_t records);
  void drop_stale_records(LastUpdates last_update) noexcept;
  void compact() noexcept;
  void compact_in_place() noexcept;  // compact()'s way without memory for its bitmap
  void grow_log(std::size_t n);
  void drop_head(std::size_t head);  // drops records [0, head), all stale

  std::size_t max_stale_;
  // Per slot: where the positions are (owned_positions_, or the caller's).
  LruPositions positions_;
  HugePageVector<std::uint32_t> owned_positions_;  // huge pages: a bump writes a random one
  SlotLog log_;                             // bump order; capacity fixed by ensure_slots
  std::size_t log_slots_ = 0;               // the slot count the log was sized for
  std::size_t cursor_ = 0;       // no in-order entry has a record before it
  // Largest last_update appended in order since the last tick (the tick's
  // instant when entries remain); the lowest instant while there is none, so
  // that any append is in order.
  std::int64_t in_order_max_ = kNoInstant;
  std::size_t size_ = 0;
  std::vector<Record> heap_;  // out-of-order records, min-heap, lazily pruned
};

}  // namespace heatkit
