// The memory-bandwidth floor of a tick: one read+write pass over exactly the
// bytes the tick kernel must move, with a trivial per-element operation, so
// that a tick can be reported as a multiple of "just moving its bytes".
//
// A tick reads the five counter columns (rate, last_update, last_emitted,
// half_life: 8 bytes each; flags: 1 byte) and writes two (rate and
// last_update): 33 bytes read and 16 written per counter. A tick told that
// every counter shares one half-life (TickParams::shared_half_life, which
// the registry passes and the Highway kernel uses) does not read half_life:
// 25 read and 16 written. The floor comes in both forms, and in a third for
// the forward-decayed tick, which reads 17 bytes and writes none: a read-only
// pass over s, last_emitted and flags. The floor pass reads
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
// A forward-decayed tick (math/forward_math.h) with a shared half-life reads
// s, last_emitted and flags and writes nothing per counter.
inline constexpr double kForwardReadBytesPerCounter = 8 + 8 + 1;

enum class FloorKind {
  kFiveColumns,     // `floor`: read+write over the literal columns, half-life included
  kSharedHalfLife,  // `floor_shared_hl`: the same without the half-life column
  kForwardRead,     // `floor_forward_read`: a read-only pass over s, last_emitted, flags
};

inline constexpr double floor_bytes_per_counter(FloorKind kind) {
  switch (kind) {
    case FloorKind::kFiveColumns: return kFloorBytesPerCounter;
    case FloorKind::kSharedHalfLife: return kFloorSharedHalfLifeBytesPerCounter;
    case FloorKind::kForwardRead: return kForwardReadBytesPerCounter;
  }
  return 0.0;
}

class BandwidthFloor {
 public:
  // Columns of n counters, every page touched (so no pass pays a first-touch
  // fault), for a pass of the given kind.
  explicit BandwidthFloor(std::size_t n, FloorKind kind = FloorKind::kFiveColumns);

  std::size_t size() const noexcept { return rate_.size(); }
  // The read-only passes' running sum (what keeps their loads).
  std::uint64_t checksum() const noexcept { return sink_; }
  // One pass over every element on up to `threads` threads (0 = all hardware threads).
  void pass(unsigned threads);

 private:
  std::vector<double> rate_;
  std::vector<std::int64_t> last_update_;
  std::vector<double> last_emitted_;
  std::vector<std::int64_t> half_life_;
  std::vector<std::uint8_t> flags_;
  std::int64_t now_ = 0;
  FloorKind kind_ = FloorKind::kFiveColumns;
  std::uint64_t sink_ = 0;  // the read-only pass's sum, kept so the loads stay
  std::int64_t shared_half_life_ = 1;  // the run-time half-life of the pass without the column
};

}  // namespace heatkit::bench
