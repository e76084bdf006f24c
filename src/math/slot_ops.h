// The per-slot operations of a counter store over its columns, written once
// for host and device: HostCounterStore (store/counter_store.cc) calls them on
// its host columns, the device store's flush kernel (cuda/device_ops.h,
// apply_op) on device columns. Each is one counter's change and nothing more:
// the caller checks `s < c.size`.
//
// A bump is not here: the host bumps with bump_columns (store/counter_store.h,
// bumped_rate, the registry's inlined path) and the device applies a group of
// bumps at one instant as one decay and one addition (cuda/device_ops.h,
// apply_bumps); both decay with counter_math.h.
#pragma once

#include <cstdint>

#include "math/counter_math.h"

namespace heatkit {

// A fresh counter (SEMANTICS.md "Counter"): rate 0, last_update = now, no
// emission, the given half-life; live, not in flight.
HEATKIT_HD inline void init_slot(const CounterColumns& c, std::uint32_t s, std::int64_t half_life,
                                 std::int64_t now) {
  c.rate[s] = 0.0;
  c.last_update[s] = now;
  c.last_emitted[s] = 0.0;
  c.half_life[s] = half_life;
  c.flags[s] = kLive;
}

// An empty slot again: rate 0, no flags, so tick suppresses it and prune
// skips it. last_update and half_life are left as they were (nothing reads
// them at rate 0).
HEATKIT_HD inline void clear_slot(const CounterColumns& c, std::uint32_t s) {
  c.rate[s] = 0.0;
  c.last_emitted[s] = 0.0;
  c.flags[s] = 0;
}

// SEMANTICS.md "decay_to": the decayed rate, and last_update = now even when
// now is earlier.
HEATKIT_HD inline void decay_slot_to(const CounterColumns& c, std::uint32_t s, std::int64_t now) {
  c.rate[s] = decayed_rate(c.rate[s], c.last_update[s], now, c.half_life[s]);
  c.last_update[s] = now;
}

// Records an Emit (last_emitted = rate) or a Withdraw (last_emitted = 0);
// a Suppress records nothing.
HEATKIT_HD inline void record_slot(const CounterColumns& c, std::uint32_t s, Decision kind,
                                   double rate) {
  if (kind == Decision::kSuppress) return;
  c.last_emitted[s] = kind == Decision::kEmit ? rate : 0.0;
  c.flags[s] = static_cast<std::uint8_t>(c.flags[s] | kHasEmitted);
}

// Sets or clears the in-flight mark, leaving the other flags alone.
HEATKIT_HD inline void set_slot_in_flight(const CounterColumns& c, std::uint32_t s, bool in_flight) {
  c.flags[s] = in_flight ? static_cast<std::uint8_t>(c.flags[s] | kInFlight)
                         : static_cast<std::uint8_t>(c.flags[s] & ~kInFlight);
}

}  // namespace heatkit
