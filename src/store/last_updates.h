// Every slot's last_update as the registry's LRU order reads it: a literal
// host store's column, a forward host store's column read against its last
// tick (LastUpdates::forward), and the host mirror that a store whose
// columns live elsewhere (device memory) keeps of it.
//
// Why a mirror with stamps. A tick sets every slot's last_update to the same
// instant. Writing that instant into a plain host copy costs 8 bytes per slot
// per tick: 800 MB at 100M slots, tens of milliseconds of host time around a
// GPU tick kernel of about 2 ms. The LRU reads only a few slots per eviction,
// so the mirror records a tick as one instant and stamps each slot it writes
// between ticks: a slot whose stamp is not the current one reads the last
// tick's instant. One byte of stamp per slot; a tick bumps the current stamp,
// and once every 255 ticks clears the stamps (1 byte per slot instead of 8
// per tick).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace heatkit {

// A read-only view of the last_update column: slot s reads (*this)[s]. Valid
// until the store it came from changes.
class LastUpdates {
 public:
  // The column itself, exact for every slot (host stores, tests). Implicit: a
  // plain column is the common case.
  LastUpdates(const std::int64_t* column) noexcept : values_(column) {}  // NOLINT

  // A forward store's columns (math/forward_math.h): a slot whose rate
  // column holds a forward encoding reads the later of its last write and
  // the last tick's instant; a literal one (sign bit set) its last write.
  static LastUpdates forward(const std::int64_t* last_write, const double* encoded,
                             std::int64_t tick_instant) noexcept {
    LastUpdates view(last_write);
    view.encoded_ = encoded;
    view.tick_instant_ = tick_instant;
    return view;
  }

  std::int64_t operator[](std::size_t slot) const noexcept {
    if (stamps_ != nullptr && stamps_[slot] != stamp_) return tick_instant_;
    if (encoded_ != nullptr && !std::signbit(encoded_[slot]) && values_[slot] < tick_instant_) {
      return tick_instant_;
    }
    return values_[slot];
  }

 private:
  friend class LastUpdateMirror;
  LastUpdates(const std::int64_t* values, const std::uint8_t* stamps, std::uint8_t stamp,
              std::int64_t tick_instant) noexcept
      : values_(values), stamps_(stamps), stamp_(stamp), tick_instant_(tick_instant) {}

  const std::int64_t* values_;
  const std::uint8_t* stamps_ = nullptr;  // nullptr: values_ is exact for every slot
  std::uint8_t stamp_ = 0;                // slots stamped so were written since the last tick
  std::int64_t tick_instant_ = 0;         // what every other slot reads
  const double* encoded_ = nullptr;       // a forward store's rate column, or nullptr
};

// The host's copy of a last_update column that lives elsewhere: exact for
// every slot at every moment, as view() reads it. Not thread-safe.
class LastUpdateMirror {
 public:
  std::size_t size() const noexcept { return values_.size(); }

  // Slots [size(), n) are added and read 0 (an empty slot's last_update).
  // Never shrinks. On failure (std::bad_alloc) the mirror is as before.
  void resize(std::size_t n);
  // Slots [0, n) read column[0, n); n <= size().
  void assign(const std::int64_t* column, std::size_t n);

  void set(std::size_t slot, std::int64_t last_update) noexcept {
    values_[slot] = last_update;
    stamps_[slot] = stamp_;
  }
  // A tick set every slot's last_update to `now`. O(1), except once every 255
  // ticks, when the stamps are cleared on up to `threads` threads of the
  // shared pool (0 = every hardware thread).
  void tick(std::int64_t now, unsigned threads = 0);

  LastUpdates view() const noexcept {
    return LastUpdates(values_.data(), stamps_.data(), stamp_, tick_instant_);
  }
  std::size_t memory_bytes() const noexcept {
    return values_.capacity() * sizeof(std::int64_t) + stamps_.capacity();
  }

 private:
  std::vector<std::int64_t> values_;  // exact where the slot's stamp is stamp_
  // Per slot: stamp_ if written since the last tick, else an older stamp or
  // 0. Stamps run 1..255 between clears, so an old stamp never comes back.
  std::vector<std::uint8_t> stamps_;
  std::uint8_t stamp_ = 1;
  std::int64_t tick_instant_ = 0;
};

}  // namespace heatkit
