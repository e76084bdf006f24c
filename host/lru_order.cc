#include "host/lru_order.h"

#include <algorithm>

namespace heatkit {

void LruOrder::ensure_slots(std::size_t n) {
  if (n <= order_.size()) return;
  for (auto* column : {&prev_, &next_, &order_}) {
    std::vector<std::uint32_t> grown;
    grown.reserve(n);
    grown.assign(column->begin(), column->end());
    grown.resize(n, kAbsent);
    column->swap(grown);
  }
}

void LruOrder::on_bump(Slot slot, std::int64_t now) {
  if (order_[slot] == kAbsent) return;
  unlink(slot);
  order_[slot] = kAbsent;
  --size_;
  append(slot, now);
}

void LruOrder::on_decay(Slot slot, std::int64_t now, const std::int64_t* last_update) {
  if (order_[slot] == kAbsent) return;
  order_[slot] |= kOutOfOrder;
  push_record(slot, now);
  // Repeated decays of the same entries leave stale records behind; keep the
  // heap proportional to the entries.
  if (heap_.size() > 2 * size_ + 64) drop_stale_records(last_update);
}

void LruOrder::on_erase(Slot slot) {
  if (order_[slot] == kAbsent) return;
  unlink(slot);
  order_[slot] = kAbsent;
  --size_;
}

void LruOrder::on_tick(std::int64_t now) {
  for (const Record& r : heap_) {
    if (order_[r.slot] != kAbsent) order_[r.slot] &= ~kOutOfOrder;
  }
  heap_.clear();
  cursor_ = head_;
  in_order_max_ = now;
  have_in_order_ = size_ > 0;
}

LruOrder::Slot LruOrder::victim(const std::int64_t* last_update) {
  while (cursor_ != kNone && out_of_order(cursor_)) cursor_ = next_[cursor_];
  while (!heap_.empty() && !record_valid(heap_.front(), last_update)) {
    std::pop_heap(heap_.begin(), heap_.end(), RecordAfter{});
    heap_.pop_back();
  }
  if (heap_.empty()) return cursor_;
  const Record& top = heap_.front();
  if (cursor_ == kNone) return top.slot;
  const Record in_order{last_update[cursor_], order_of(order_[cursor_]), cursor_};
  return RecordAfter{}(in_order, top) ? top.slot : cursor_;
}

std::size_t LruOrder::memory_bytes() const noexcept {
  return (prev_.capacity() + next_.capacity() + order_.capacity()) * sizeof(std::uint32_t) +
         heap_.capacity() * sizeof(Record);
}

bool LruOrder::record_valid(const Record& r, const std::int64_t* last_update) const noexcept {
  const std::uint32_t v = order_[r.slot];
  return v != kAbsent && (v & kOutOfOrder) != 0 && order_of(v) == r.order &&
         last_update[r.slot] == r.last_update;
}

void LruOrder::append(Slot slot, std::int64_t now) {
  if (next_order_ >= order_limit_) renumber();
  const bool in_order = !have_in_order_ || now >= in_order_max_;
  order_[slot] = next_order_++ | (in_order ? 0u : kOutOfOrder);
  prev_[slot] = tail_;
  next_[slot] = kNone;
  if (tail_ != kNone) {
    next_[tail_] = slot;
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

void LruOrder::unlink(Slot slot) noexcept {
  const Slot p = prev_[slot];
  const Slot n = next_[slot];
  if (cursor_ == slot) cursor_ = n;
  if (p != kNone) {
    next_[p] = n;
  } else {
    head_ = n;
  }
  if (n != kNone) {
    prev_[n] = p;
  } else {
    tail_ = p;
  }
}

void LruOrder::push_record(Slot slot, std::int64_t last_update) {
  heap_.push_back(Record{last_update, order_of(order_[slot]), slot});
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
    const std::uint32_t v = order_[r.slot];
    return v == kAbsent || (v & kOutOfOrder) == 0 || order_of(v) != r.order;
  });
  std::uint32_t rank = 0;
  for (Slot s = head_; s != kNone; s = next_[s]) {
    order_[s] = rank++ | (order_[s] & kOutOfOrder);
  }
  for (Record& r : heap_) r.order = order_of(order_[r.slot]);
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
  next_order_ = rank;
}

}  // namespace heatkit
