// The memory-bandwidth floor of a tick: one read+write pass over exactly the
// bytes the tick kernel must move, with a trivial per-element operation, so
// that a tick can be reported as a multiple of "just moving its bytes".
//
// A tick reads the five counter columns (rate, last_update, last_emitted,
// half_life: 8 bytes each; flags: 1 byte) and writes two (rate and
// last_update): 33 bytes read and 16 written per counter. A tick told that
// every counter shares one half-life (TickParams::shared_half_life, which
// the registry passes and the Highway kernel uses) does not read half_life:
// 25 read and 16 written. The floor comes in both forms. The floor pass reads
// and writes the same columns in place (the writes hit lines the pass has just
// read, as the tick's do), on 1 or N threads, split like HostCounterStore
// splits a tick (chunks on whole cache lines, one per thread, small columns on
// one thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace heatkit::bench {

inline constexpr double kFloorBytesRead = 8 + 8 + 8 + 8 + 1;
inline constexpr double kFloorBytesWritten = 8 + 8;
inline constexpr double kFloorBytesPerCounter = kFloorBytesRead + kFloorBytesWritten;
inline constexpr double kFloorSharedHalfLifeBytesPerCounter = kFloorBytesPerCounter - 8;
// The bytes per counter of the floor with or without the half-life column.
inline constexpr double floor_bytes_per_counter(bool reads_half_life) {
  return reads_half_life ? kFloorBytesPerCounter : kFloorSharedHalfLifeBytesPerCounter;
}

class BandwidthFloor {
 public:
  // Columns of n counters, every page touched (so no pass pays a first-touch
  // fault). `reads_half_life` false: the pass leaves out the half-life column.
  explicit BandwidthFloor(std::size_t n, bool reads_half_life = true);

  std::size_t size() const noexcept { return rate_.size(); }
  // One pass over every element on up to `threads` threads (0 = all hardware threads).
  void pass(unsigned threads);

 private:
  std::vector<double> rate_;
  std::vector<std::int64_t> last_update_;
  std::vector<double> last_emitted_;
  std::vector<std::int64_t> half_life_;
  std::vector<std::uint8_t> flags_;
  std::int64_t now_ = 0;
  bool reads_half_life_ = true;
  std::int64_t shared_half_life_ = 1;  // the run-time half-life of the pass without the column
};

}  // namespace heatkit::bench
