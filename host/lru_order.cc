#include "host/lru_order.h"

#include <algorithm>

namespace heatkit {

void LruOrder::ensure_slots(std::size_t n) {
  if (n <= links_.size()) return;
  // Exactly n records (no doubling slack): the registry grows geometrically.
  std::vector<Link> grown;
  grown.reserve(n);
  grown.assign(links_.begin(), links_.end());
  grown.resize(n);
  links_.swap(grown);
}

void LruOrder::on_decay(Slot slot, std::int64_t now, const std::int64_t* last_update) {
  if (links_[slot].order == kAbsent) return;
  links_[slot].order |= kOutOfOrder;
  push_record(slot, now);
  // Repeated decays of the same entries leave stale records behind; keep the
  // heap proportional to the entries.
  if (heap_.size() > 2 * size_ + 64) drop_stale_records(last_update);
}

void LruOrder::on_tick(std::int64_t now) {
  for (const Record& r : heap_) {
    if (links_[r.slot].order != kAbsent) links_[r.slot].order &= ~kOutOfOrder;
  }
  heap_.clear();
  cursor_ = head_;
  in_order_max_ = now;
  have_in_order_ = size_ > 0;
}

LruOrder::Slot LruOrder::victim(const std::int64_t* last_update) {
  while (cursor_ != kNone && out_of_order(cursor_)) cursor_ = links_[cursor_].next;
  while (!heap_.empty() && !record_valid(heap_.front(), last_update)) {
    std::pop_heap(heap_.begin(), heap_.end(), RecordAfter{});
    heap_.pop_back();
  }
  if (heap_.empty()) return cursor_;
  const Record& top = heap_.front();
  if (cursor_ == kNone) return top.slot;
  const Record in_order{last_update[cursor_], order_of(links_[cursor_].order), cursor_};
  return RecordAfter{}(in_order, top) ? top.slot : cursor_;
}

std::size_t LruOrder::memory_bytes() const noexcept {
  return links_.capacity() * sizeof(Link) + heap_.capacity() * sizeof(Record);
}

bool LruOrder::record_valid(const Record& r, const std::int64_t* last_update) const noexcept {
  const std::uint32_t v = links_[r.slot].order;
  return v != kAbsent && (v & kOutOfOrder) != 0 && order_of(v) == r.order &&
         last_update[r.slot] == r.last_update;
}

void LruOrder::push_record(Slot slot, std::int64_t last_update) {
  heap_.push_back(Record{last_update, order_of(links_[slot].order), slot});
  std::push_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

void LruOrder::drop_stale_records(const std::int64_t* last_update) {
  std::erase_if(heap_, [&](const Record& r) { return !record_valid(r, last_update); });
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

void LruOrder::renumber() {
  // Records are matched to entries by order; keep those that still match, then
  // give every entry its rank in list order and the records the new numbers.
  std::erase_if(heap_, [&](const Record& r) {
    const std::uint32_t v = links_[r.slot].order;
    return v == kAbsent || (v & kOutOfOrder) == 0 || order_of(v) != r.order;
  });
  std::uint32_t rank = 0;
  for (Slot s = head_; s != kNone; s = links_[s].next) {
    links_[s].order = rank++ | (links_[s].order & kOutOfOrder);
  }
  for (Record& r : heap_) r.order = order_of(links_[r.slot].order);
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
  next_order_ = rank;
}

}  // namespace heatkit
