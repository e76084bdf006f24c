// The tick's inputs (TickParams) that a policy implies.
#pragma once

#include <cstdint>

#include <heatkit/policy.h>
#include "math/counter_math.h"

namespace heatkit {

// The tick inputs a policy implies at `now_ns`.
inline TickParams tick_params(const Policy& policy, std::int64_t now_ns, bool track_in_flight) {
  TickParams p;
  p.now = now_ns;
  p.enabled = policy.enabled;
  p.ratio = static_cast<double>(policy.emit_threshold_ratio);
  p.skip_in_flight = track_in_flight;
  p.mark_in_flight = track_in_flight;
  return p;
}

}  // namespace heatkit
