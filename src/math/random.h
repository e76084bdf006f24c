// Counter-based random numbers: every value is a pure function of (seed,
// stream, index), so a workload draws the same numbers on every backend,
// thread count and device, in any order.
#pragma once

#include <cstdint>

#include "math/counter_math.h"  // HEATKIT_HD

namespace heatkit {

// SplitMix64's finalizer: a full-avalanche 64-bit mix.
HEATKIT_HD constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// 64 random bits for draw `index` of stream `stream` under `seed`.
HEATKIT_HD constexpr std::uint64_t counter_random(std::uint64_t seed, std::uint64_t stream,
                                                  std::uint64_t index) noexcept {
  constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  return mix64(mix64(seed + kGolden * (stream + 1)) ^ (index * kGolden + 0x632be59bd9b4e019ULL));
}

// A double in [0, 1) from the top 53 bits.
HEATKIT_HD constexpr double unit_double(std::uint64_t bits) noexcept {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace heatkit
