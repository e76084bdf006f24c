// Time on the host API: durations and instants of one monotonic clock, in
// nanoseconds. Columns and kernels store the raw int64 nanosecond counts.
#pragma once

#include <chrono>
#include <cstdint>

namespace heatkit {

using Duration = std::chrono::nanoseconds;
using Instant = std::chrono::time_point<std::chrono::steady_clock, Duration>;

constexpr std::int64_t to_ns(Instant t) noexcept { return t.time_since_epoch().count(); }
constexpr std::int64_t to_ns(Duration d) noexcept { return d.count(); }
constexpr Instant instant_from_ns(std::int64_t ns) noexcept { return Instant(Duration(ns)); }

}  // namespace heatkit
