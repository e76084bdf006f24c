#include "host/counter_store.h"

namespace heatkit {
namespace {

// Grows a column to exactly `n` elements (no doubling slack: the registry
// already grows geometrically and the cap is often the final size).
template <class T>
void grow_exact(std::vector<T>& column, std::size_t n) {
  if (n <= column.size()) return;
  if (n > column.capacity()) {
    std::vector<T> grown;
    grown.reserve(n);
    grown.assign(column.begin(), column.end());
    column.swap(grown);
  }
  column.resize(n, T{});
}

}  // namespace

void HostCounterStore::ensure_slots(std::size_t n) {
  grow_exact(rate_, n);
  grow_exact(last_update_, n);
  grow_exact(last_emitted_, n);
  grow_exact(half_life_, n);
  grow_exact(flags_, n);
}

void HostCounterStore::init(Slot slot, std::int64_t half_life, std::int64_t now) {
  rate_[slot] = 0.0;
  last_update_[slot] = now;
  last_emitted_[slot] = 0.0;
  half_life_[slot] = half_life;
  flags_[slot] = kLive;
}

void HostCounterStore::clear(Slot slot) {
  rate_[slot] = 0.0;
  last_emitted_[slot] = 0.0;
  flags_[slot] = 0;
}

void HostCounterStore::decay_to(Slot slot, std::int64_t now) {
  rate_[slot] = decayed_rate(rate_[slot], last_update_[slot], now, half_life_[slot]);
  last_update_[slot] = now;
}

void HostCounterStore::bump(Slot slot, std::int64_t now) {
  decay_to(slot, now);
  rate_[slot] += 1.0;
}

void HostCounterStore::record(Slot slot, Decision kind, double rate) {
  if (kind == Decision::kSuppress) return;
  last_emitted_[slot] = kind == Decision::kEmit ? rate : 0.0;
  flags_[slot] |= kHasEmitted;
}

void HostCounterStore::set_in_flight(Slot slot, bool in_flight) {
  if (in_flight) {
    flags_[slot] |= kInFlight;
  } else {
    flags_[slot] &= static_cast<std::uint8_t>(~kInFlight);
  }
}

CounterState HostCounterStore::read(Slot slot) const {
  const std::uint8_t f = flags_[slot];
  return CounterState{rate_[slot],         last_update_[slot], (f & kHasEmitted) != 0,
                      last_emitted_[slot], half_life_[slot],   (f & kInFlight) != 0};
}

CounterColumns HostCounterStore::columns() noexcept {
  return CounterColumns{rate_.data(),      last_update_.data(), last_emitted_.data(),
                        half_life_.data(), flags_.data(),       rate_.size()};
}

void HostCounterStore::tick(const TickParams& params, std::vector<Candidate>& out) {
  kernels_.tick(columns(), params, out);
}

void HostCounterStore::collect_prunable(std::vector<Slot>& out) {
  kernels_.collect_prunable(columns(), out);
}

std::size_t HostCounterStore::memory_bytes() const noexcept {
  return rate_.capacity() * sizeof(double) + last_update_.capacity() * sizeof(std::int64_t) +
         last_emitted_.capacity() * sizeof(double) + half_life_.capacity() * sizeof(std::int64_t) +
         flags_.capacity() * sizeof(std::uint8_t);
}

}  // namespace heatkit
