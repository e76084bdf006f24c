#include "registry/lru_order.h"

#include <algorithm>
#include <bit>
#include <new>
#include <stdexcept>

namespace heatkit {
namespace {

// Set bits of `x`, without a library call: std::popcount is one on baseline
// x86-64, where POPCNT is not guaranteed.
inline std::uint32_t count_ones(std::uint64_t x) noexcept {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return static_cast<std::uint32_t>((x * 0x0101010101010101ULL) >> 56);
}

// What compaction renumbers: positions in the low 31 bits, a flag on top,
// UINT32_MAX for none (LruOrder's encoding). Each position becomes the number
// of records kept before it: `kept_before` per 64-record word of the `latest`
// bitmap, plus the bits below it in its word.
struct Renumbering {
  LruPositions positions;
  const std::uint64_t* latest;
  const std::uint32_t* kept_before;
};

template <class CountOnes>
[[gnu::always_inline]] inline void renumber_positions(const Renumbering& r, CountOnes count) {
  constexpr std::uint32_t kNone = UINT32_MAX;
  constexpr std::uint32_t kFlag = 1u << 31;
  for (std::size_t s = 0; s < r.positions.size; ++s) {
    const std::uint32_t v = r.positions[s];
    if (v == kNone) continue;
    const std::uint32_t at = v & ~kFlag;
    const std::uint64_t below = r.latest[at / 64] & ((std::uint64_t{1} << (at % 64)) - 1);
    r.positions[s] = (r.kept_before[at / 64] + count(below)) | (v & kFlag);
  }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// The same with the POPCNT instruction, for CPUs that have it (every x86-64
// since 2008 but the oldest): half the time of the portable count.
[[gnu::target("popcnt")]] void renumber_positions_popcnt(const Renumbering& r) {
  renumber_positions(r, [](std::uint64_t x) {
    return static_cast<std::uint32_t>(__builtin_popcountll(x));
  });
}
#endif

void renumber_positions(const Renumbering& r) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const bool have_popcnt = __builtin_cpu_supports("popcnt");
  if (have_popcnt) {
    renumber_positions_popcnt(r);
    return;
  }
#endif
  renumber_positions(r, count_ones);
}

}  // namespace

SlotLog::SlotLog(std::size_t capacity, unsigned width)
    : bytes_(capacity * width + 1), capacity_(capacity), width_(width),
      mask_(width == 3 ? 0xFFFFFFu : UINT32_MAX) {
  data_ = HugePageAllocator<std::byte>().allocate(bytes_);
}

SlotLog::~SlotLog() {
  if (data_ != nullptr) HugePageAllocator<std::byte>().deallocate(data_, bytes_);
}

void SlotLog::swap(SlotLog& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(bytes_, other.bytes_);
  std::swap(size_, other.size_);
  std::swap(capacity_, other.capacity_);
  std::swap(width_, other.width_);
  std::swap(mask_, other.mask_);
}

void SlotLog::append_all(const SlotLog& from) noexcept {
  if (from.width_ == width_) {
    if (from.size_ > 0) std::memcpy(data_ + size_ * width_, from.data_, from.size_ * width_);
    size_ += from.size_;
    return;
  }
  for (std::size_t i = 0; i < from.size(); ++i) push_back(from[i]);
}

void SlotLog::drop_front(std::size_t n) noexcept {
  std::memmove(data_, data_ + n * width_, (size_ - n) * width_);
  size_ -= n;
}

void LruOrder::ensure_slots(std::size_t n) {
  if (n <= positions_.size && n <= log_slots_) return;
  if (n > kMaxSlots) throw std::length_error("LruOrder: more than 2^31-2 slots");
  if (n > log_slots_) {
    grow_log(n);
    log_slots_ = n;
  }
  grow_exact(owned_positions_, n, kAbsent);
  positions_ = LruPositions{reinterpret_cast<std::byte*>(owned_positions_.data()), sizeof(std::uint32_t), n};
}

void LruOrder::ensure_slots(std::size_t n, LruPositions positions) {
  if (n > kMaxSlots) throw std::length_error("LruOrder: more than 2^31-2 slots");
  // The caller's records have moved already: take them before anything can
  // throw, so that the order never points at freed ones. A log that fails
  // to grow leaves the order as it was, with the same positions; the log
  // is sized by its own count, so that a later call grows it still.
  positions_ = positions;
  HugePageVector<std::uint32_t>().swap(owned_positions_);
  if (n > log_slots_) {
    grow_log(n);
    log_slots_ = n;
  }
}

void LruOrder::grow_log(std::size_t n) {
  // n + slack log records, positions staying below 2^31. The log's capacity
  // is its compaction point; it exceeds n, so a compaction always leaves room
  // for the record being appended.
  // Slot numbers below 2^24 fit in 3 bytes, which gives 8/3 records per slot
  // in the same 8 bytes.
  constexpr std::size_t kPositions = std::size_t{1} << 31;  // position values 0 .. 2^31-1
  const unsigned width = n <= (std::size_t{1} << 24) ? 3 : 4;
  const std::size_t slack = width == 3 ? n * 5 / 3 : n;
  SlotLog log(std::min(n + std::max<std::size_t>(1, std::min(slack, max_stale_)), kPositions - 1), width);
  log.append_all(log_);
  log_ = std::move(log);
}

void LruOrder::on_decay(Slot slot, std::int64_t now, LastUpdates last_update) {
  if (positions_[slot] == kAbsent) return;
  reserve_records(1);
  positions_[slot] |= kOutOfOrder;
  push_record(slot, now);
  // Repeated decays of the same entries leave stale records behind; keep the
  // heap proportional to the entries.
  if (heap_.size() > 2 * size_ + 64) drop_stale_records(last_update);
}

void LruOrder::on_tick(std::int64_t now) {
  // Every out-of-order entry has a record here; once in order again, the
  // first of them may precede the cursor.
  for (const Record& r : heap_) {
    const std::uint32_t v = positions_[r.slot];
    if (v == kAbsent) continue;
    positions_[r.slot] = order_of(v);
    cursor_ = std::min<std::size_t>(cursor_, order_of(v));
  }
  heap_.clear();
  in_order_max_ = size_ > 0 ? now : kNoInstant;
}

LruOrder::Slot LruOrder::victim(LastUpdates last_update) {
  while (cursor_ < log_.size() && !in_order_at(cursor_)) ++cursor_;
  while (!heap_.empty() && !record_valid(heap_.front(), last_update)) {
    std::pop_heap(heap_.begin(), heap_.end(), RecordAfter{});
    heap_.pop_back();
  }
  const Slot in_order = cursor_ < log_.size() ? log_[cursor_] : kNone;
  if (heap_.empty()) return in_order;
  const Record& top = heap_.front();
  if (in_order == kNone) return top.slot;
  const Record first{last_update[in_order], static_cast<std::uint32_t>(cursor_), in_order};
  return RecordAfter{}(first, top) ? top.slot : in_order;
}

std::size_t LruOrder::memory_bytes() const noexcept {
  return owned_positions_.capacity() * sizeof(std::uint32_t) + log_.bytes() +
         heap_.capacity() * sizeof(Record);
}

bool LruOrder::record_valid(const Record& r, LastUpdates last_update) const noexcept {
  const std::uint32_t v = positions_[r.slot];
  return v != kAbsent && (v & kOutOfOrder) != 0 && order_of(v) == r.order &&
         last_update[r.slot] == r.last_update;
}

void LruOrder::push_record(Slot slot, std::int64_t last_update) noexcept {
  heap_.push_back(Record{last_update, order_of(positions_[slot]), slot});  // within capacity
  std::push_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

void LruOrder::grow_heap(std::size_t records) {
  heap_.reserve(std::max({std::size_t{16}, 2 * heap_.capacity(), heap_.size() + records}));
}

void LruOrder::drop_stale_records(LastUpdates last_update) noexcept {
  std::erase_if(heap_, [&](const Record& r) { return !record_valid(r, last_update); });
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

void LruOrder::compact() noexcept {
  // Heap records are matched to entries by position: keep those that still
  // match, renumber them with their entries below.
  std::erase_if(heap_, [&](const Record& r) {
    const std::uint32_t v = positions_[r.slot];
    return v == kAbsent || (v & kOutOfOrder) == 0 || order_of(v) != r.order;
  });
  // Without out-of-order entries, every record before the cursor is stale.
  // When those are a good share of the stale records (entries leave in
  // eviction order, as at the cap), dropping just them is a shift: the rest
  // keep their order and their positions move down by the same amount.
  // (It must drop one at least: the log never grows past its capacity.)
  if (heap_.empty() && cursor_ > 0 && cursor_ >= (log_.size() - size_) / 4) {
    drop_head(cursor_);
    return;
  }
  // Which records are the latest of a live slot: one bit per record, set from
  // the positions. Sequential passes over the positions and the log, with the
  // bitmap (1/32 of the log) as the only random access, instead of a random
  // read of a position per record.
  const std::size_t end = log_.size();
  const std::size_t words = (end + 63) / 64;
  std::vector<std::uint64_t> latest;
  std::vector<std::uint32_t> kept_before;
  try {
    latest.assign(words, 0);
    kept_before.resize(words);
  } catch (const std::bad_alloc&) {
    compact_in_place();
    return;
  }
  for (std::size_t s = 0; s < positions_.size; ++s) {
    const std::uint32_t v = positions_[s];
    if (v == kAbsent) continue;
    const std::uint32_t at = order_of(v);
    latest[at / 64] |= std::uint64_t{1} << (at % 64);
  }
  // Keep those records, in order; kept_before[w]: records kept before word w.
  std::uint32_t kept = 0;
  for (std::size_t w = 0; w < words; ++w) {
    kept_before[w] = kept;
    for (std::uint64_t bits = latest[w]; bits != 0; bits &= bits - 1) {
      log_.set(kept++, log_[w * 64 + static_cast<std::size_t>(std::countr_zero(bits))]);
    }
  }
  // A record's new position is the number of records kept before it.
  static_assert(kAbsent == UINT32_MAX && kOutOfOrder == 1u << 31, "Renumbering's encoding");
  renumber_positions(Renumbering{positions_, latest.data(), kept_before.data()});
  // The cursor moves to the first kept record at or after it.
  if (cursor_ < end) {
    const std::uint64_t below = latest[cursor_ / 64] & ((std::uint64_t{1} << (cursor_ % 64)) - 1);
    cursor_ = kept_before[cursor_ / 64] + count_ones(below);
  } else {
    cursor_ = kept;
  }
  log_.shrink(kept);
  for (Record& r : heap_) r.order = order_of(positions_[r.slot]);
  // Renumbering kept the order of the records; the erase above broke the heap.
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

// The same records kept and renumbered, without the bitmap: a pass over the
// log that reads each record's slot position (random reads, where the
// bitmap's passes are sequential). A record is kept where it is the one its
// slot's position names; its slot's position then moves to where it goes.
// Records move only towards the front, and each live slot's latest record is
// its last, so a position is renumbered after every record that compares
// with it.
void LruOrder::compact_in_place() noexcept {
  const std::size_t end = log_.size();
  std::size_t kept = 0;
  std::size_t cursor = SIZE_MAX;
  for (std::size_t at = 0; at < end; ++at) {
    if (at == cursor_) cursor = kept;
    const Slot slot = log_[at];
    const std::uint32_t v = positions_[slot];
    if (v == kAbsent || order_of(v) != at) continue;
    log_.set(kept, slot);
    positions_[slot] = static_cast<std::uint32_t>(kept) | (v & kOutOfOrder);
    ++kept;
  }
  cursor_ = cursor == SIZE_MAX ? kept : cursor;
  log_.shrink(kept);
  for (Record& r : heap_) r.order = order_of(positions_[r.slot]);
  std::make_heap(heap_.begin(), heap_.end(), RecordAfter{});
}

void LruOrder::drop_head(std::size_t head) {
  log_.drop_front(head);
  const auto shift = static_cast<std::uint32_t>(head);
  for (std::size_t s = 0; s < positions_.size; ++s) {
    std::uint32_t& v = positions_[s];
    if (v != kAbsent) v -= shift;  // no flags: nothing is out of order
  }
  cursor_ -= head;
}

}  // namespace heatkit
