// The workload of `heatkit simulate` (sim/simulation.h): every read, every
// commit failure, as a pure function of (seed, tick, read index) over
// kernels/ headers only, marked HEATKIT_HD. The host engine and the device
// workload (sim/device_workload.cu) call these very functions, so both
// generate exactly the same reads.
#pragma once

#include <cstdint>

#include "math/counter_math.h"  // HEATKIT_HD
#include "math/random.h"
#include "sim/zipf.h"

namespace heatkit::sim {

// Streams of counter_random, one per kind of draw, so no two kinds share numbers.
inline constexpr std::uint64_t kReadStream = 0;
inline constexpr std::uint64_t kCommitFailureStream = 1;

// The counter_random index of read `read_index` of tick `tick`. Both fit in 32
// bits (the engine validates it), so the index is unique per read.
HEATKIT_HD constexpr std::uint64_t read_counter(std::uint64_t tick, std::uint64_t read_index) noexcept {
  return (tick << 32) | (read_index & 0xffffffffULL);
}

// The 64 random bits read `read_index` of tick `tick` draws its rank from.
HEATKIT_HD constexpr std::uint64_t read_bits(std::uint64_t seed, std::uint64_t tick,
                                             std::uint64_t read_index) noexcept {
  return counter_random(seed, kReadStream, read_counter(tick, read_index));
}

// The popularity rank (0 = hottest) that read `read_index` of tick `tick` draws.
HEATKIT_HD inline std::uint32_t read_rank(const ZipfTableView& table, std::uint64_t seed,
                                          std::uint64_t tick, std::uint64_t read_index) noexcept {
  return zipf_sample(table, read_bits(seed, tick, read_index));
}

// The registry key of rank `rank`: the rank itself (the registry hashes keys).
HEATKIT_HD constexpr std::uint64_t key_of_rank(std::uint32_t rank) noexcept { return rank; }
// Its inverse, for keys the workload made (key_of_rank of a rank < 2^32).
HEATKIT_HD constexpr std::uint32_t rank_of_key(std::uint64_t key) noexcept {
  return static_cast<std::uint32_t>(key);
}

// The simulated time, in ns from the start, of read `read_index` of tick
// `tick`: the reads of tick k spread evenly over [k * interval, (k+1) * interval),
// read i at offset floor(i * interval / reads_per_tick), computed without
// overflow for reads_per_tick < 2^32. Tick k itself runs at (k+1) * interval.
HEATKIT_HD constexpr std::int64_t read_time_ns(std::uint64_t tick, std::uint64_t read_index,
                                               std::uint64_t reads_per_tick,
                                               std::int64_t tick_interval_ns) noexcept {
  const auto interval = static_cast<std::uint64_t>(tick_interval_ns);
  const std::uint64_t whole = interval / reads_per_tick;
  const std::uint64_t rest = interval % reads_per_tick;  // i * rest < reads_per_tick^2 < 2^64
  const std::uint64_t offset = read_index * whole + (read_index * rest) / reads_per_tick;
  return static_cast<std::int64_t>(tick * interval + offset);
}

// The simulated time of tick `tick` (0-based): the end of its read interval.
HEATKIT_HD constexpr std::int64_t tick_time_ns(std::uint64_t tick, std::int64_t tick_interval_ns) noexcept {
  return static_cast<std::int64_t>((tick + 1) * static_cast<std::uint64_t>(tick_interval_ns));
}

// Whether committing `key`'s candidate at tick `tick` fails. A pure function of
// (seed, tick, key), so the same candidates fail on every backend. A rate of 0
// never fails, 1 always does (unit_double is in [0, 1)).
HEATKIT_HD inline bool commit_fails(std::uint64_t seed, std::uint64_t tick, std::uint64_t key,
                                    double failure_rate) noexcept {
  const std::uint64_t tick_seed = counter_random(seed, kCommitFailureStream, tick);
  return unit_double(counter_random(tick_seed, kCommitFailureStream, key)) < failure_rate;
}

}  // namespace heatkit::sim
