// Eviction order of SEMANTICS.md: the victim is the entry with the smallest
// last_update; ties go to the entry whose last bump (or creation) came first.
//
// Why this shape. The key (last_update, bump order) moves in three ways: a bump
// gives an entry the newest bump order and last_update = now; a direct
// decay_to moves last_update alone; a tick sets every last_update to the same
// instant, which leaves bump order as the only key. A heap over all entries
// would need a rebuild per tick and a sift per bump. Instead:
//  - every entry sits in one doubly linked list in bump order (a bump moves
//    it to the tail, O(1));
//  - an entry is "in order" when its key is at least the key of every in-order
//    entry before it; the in-order entries then form a sorted sequence, whose
//    first element is found by a cursor that only moves forward between ticks;
//  - the rest ("out of order": a direct decay_to, or a bump whose time went
//    backwards) go into a small heap keyed by (last_update, bump order), with
//    stale records dropped lazily;
//  - a tick makes every key (T, bump order), i.e. the list order itself, so
//    it clears the heap and resets the cursor: O(out-of-order entries).
// With monotonic time every operation is O(1); out-of-order ones are
// O(log k) in the number k of such entries since the last tick.
//
// Layout: an entry's `prev`, `next` and `order` sit together in one 12-byte
// record, so a bump touches one cache line for the entry (plus one per
// neighbour) instead of one per field. The per-bump operations are inline:
// the registry's bump path calls them for every read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace heatkit {

class LruOrder {
 public:
  using Slot = std::uint32_t;
  static constexpr Slot kNone = UINT32_MAX;

  // `order_limit` bounds the bump-order counter before it is renumbered;
  // tests lower it to exercise renumbering.
  explicit LruOrder(std::uint32_t order_limit = kMaxOrder) : order_limit_(order_limit) {}

  // Makes per-slot state for slots [0, n).
  void ensure_slots(std::size_t n);

  // A new entry in `slot`, created at `now` (creation counts as a bump).
  void on_insert(Slot slot, std::int64_t now) { append(slot, now); }
  // `slot` was bumped at `now` (its last_update is now `now`).
  void on_bump(Slot slot, std::int64_t now) {
    if (links_[slot].order == kAbsent) return;
    unlink(slot);
    links_[slot].order = kAbsent;
    --size_;
    append(slot, now);
  }
  // `slot` decayed to `now` without a bump. `last_update` is the column.
  void on_decay(Slot slot, std::int64_t now, const std::int64_t* last_update);
  // `slot` left the registry (removed, evicted or pruned).
  void on_erase(Slot slot) {
    if (links_[slot].order == kAbsent) return;
    unlink(slot);
    links_[slot].order = kAbsent;
    --size_;
  }
  // A tick set every entry's last_update to `now`.
  void on_tick(std::int64_t now);

  // The entry to evict, or kNone when there is none. `last_update` is the
  // column, exact for every entry.
  Slot victim(const std::int64_t* last_update);

  // Cache hints for a batch that will bump `slot` soon: its record, and (once
  // that has arrived) its neighbours' records, which the unlink writes. Any
  // slot below the slot count may be passed; nothing changes.
  void prefetch(Slot slot) const noexcept {
    if (slot < links_.size()) __builtin_prefetch(&links_[slot], 1);
  }
  void prefetch_neighbours(Slot slot) const noexcept {
    if (slot >= links_.size()) return;
    const Link& l = links_[slot];
    if (l.order == kAbsent) return;
    if (l.prev != kNone) __builtin_prefetch(&links_[l.prev], 1);
    if (l.next != kNone) __builtin_prefetch(&links_[l.next], 1);
  }

  bool contains(Slot slot) const noexcept {
    return slot < links_.size() && links_[slot].order != kAbsent;
  }
  std::size_t size() const noexcept { return size_; }
  std::size_t memory_bytes() const noexcept;

 private:
  // order: bump order in the low 31 bits, kOutOfOrder flag on top; kAbsent
  // when the slot holds no entry.
  static constexpr std::uint32_t kAbsent = UINT32_MAX;
  static constexpr std::uint32_t kOutOfOrder = 1u << 31;
  static constexpr std::uint32_t kMaxOrder = kOutOfOrder - 2;

  struct Link {  // one slot's place in the bump-order list
    Slot prev = kNone;
    Slot next = kNone;
    std::uint32_t order = kAbsent;
  };
  static_assert(sizeof(Link) == 12, "the eviction order costs 12 bytes per slot");

  struct Record {  // a heap entry for an out-of-order slot
    std::int64_t last_update;
    std::uint32_t order;
    Slot slot;
  };
  struct RecordAfter {  // min-heap comparator on (last_update, order)
    bool operator()(const Record& a, const Record& b) const noexcept {
      return a.last_update != b.last_update ? a.last_update > b.last_update : a.order > b.order;
    }
  };

  static std::uint32_t order_of(std::uint32_t v) noexcept { return v & ~kOutOfOrder; }
  bool out_of_order(Slot s) const noexcept { return (links_[s].order & kOutOfOrder) != 0; }
  bool record_valid(const Record& r, const std::int64_t* last_update) const noexcept;

  void append(Slot slot, std::int64_t now) {
    if (next_order_ >= order_limit_) renumber();
    const bool in_order = !have_in_order_ || now >= in_order_max_;
    Link& l = links_[slot];
    l.order = next_order_++ | (in_order ? 0u : kOutOfOrder);
    l.prev = tail_;
    l.next = kNone;
    if (tail_ != kNone) {
      links_[tail_].next = slot;
    } else {
      head_ = slot;
    }
    tail_ = slot;
    ++size_;
    if (in_order) {
      in_order_max_ = now;
      have_in_order_ = true;
      if (cursor_ == kNone) cursor_ = slot;
    } else {
      push_record(slot, now);
    }
  }

  void unlink(Slot slot) noexcept {
    const Slot p = links_[slot].prev;
    const Slot n = links_[slot].next;
    if (cursor_ == slot) cursor_ = n;
    if (p != kNone) {
      links_[p].next = n;
    } else {
      head_ = n;
    }
    if (n != kNone) {
      links_[n].prev = p;
    } else {
      tail_ = p;
    }
  }

  void push_record(Slot slot, std::int64_t last_update);
  void drop_stale_records(const std::int64_t* last_update);
  void renumber();

  std::uint32_t order_limit_;
  std::vector<Link> links_;
  Slot head_ = kNone;
  Slot tail_ = kNone;
  Slot cursor_ = kNone;         // no in-order entry lies before it
  bool have_in_order_ = false;  // some in-order entry was appended this epoch
  std::int64_t in_order_max_ = 0;  // largest last_update appended in order
  std::uint32_t next_order_ = 0;
  std::size_t size_ = 0;
  std::vector<Record> heap_;  // out-of-order records, min-heap, lazily pruned
};

}  // namespace heatkit
