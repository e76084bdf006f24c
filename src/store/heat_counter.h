// The library's side of <heatkit/heat_counter.h>: the half-life check every
// entry point shares. HeatCounter's members that decay are defined in
// api/heat_counter.cc.
#pragma once

#include <stdexcept>
#include <string>

#include "store/counter_store.h"
#include <heatkit/heat_counter.h>
#include <heatkit/time.h>

namespace heatkit {

// The error check_half_life throws (out of line: every entry() and bump
// checks, and only the test belongs on that path).
[[noreturn, gnu::noinline, gnu::cold]] inline void throw_negative_half_life(Duration half_life) {
  throw std::invalid_argument("half_life must not be negative, got " +
                              std::to_string(half_life.count()) + " ns");
}

// Throws std::invalid_argument naming `half_life` when it is negative.
inline void check_half_life(Duration half_life) {
  if (half_life.count() < 0) [[unlikely]] throw_negative_half_life(half_life);
}

}  // namespace heatkit
