// HeatCounter's members that run the decay math (math/counter_math.h), out of
// line so that the public header needs none of it.
#include <heatkit/heat_counter.h>

#include "math/counter_math.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"

namespace heatkit {

HeatCounter::HeatCounter(Duration half_life, Instant now)
    : half_life_(to_ns(half_life)), last_update_(to_ns(now)) {
  check_half_life(half_life);
}

HeatCounter HeatCounter::from_state(const CounterState& s) {
  HeatCounter c(Duration(s.half_life), instant_from_ns(s.last_update));
  c.rate_ = s.rate;
  if (s.has_emitted) c.last_emitted_ = s.last_emitted;
  return c;
}

void HeatCounter::decay_to(Instant now) noexcept {
  rate_ = decayed_rate(rate_, last_update_, to_ns(now), half_life_);
  last_update_ = to_ns(now);
}

void HeatCounter::bump(Instant now) noexcept {
  decay_to(now);
  rate_ += 1.0;
}

}  // namespace heatkit
