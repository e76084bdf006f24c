// One counter's step in the tick passes of a forward store (math/forward_math.h),
// over values the caller has loaded: the Thrust passes (thrust/thrust_passes.h,
// on OpenMP and CUDA) and the device store's one-pass kernel
// (cuda/one_pass_tick.cuh) run these, each with its own loads and stores.
// Plain C++ (host and device), so host tests check the code the kernels run.
//
// Two ticks (forward_math.h's header comment):
//  - the fast tick, while forward_tick_allowed(frame, now) holds: a counter's
//    rate is its s over one scale per half-life (one per pass when the caller
//    shares a half-life); only literal counters are written (converted to
//    forward), and the in-flight marks of candidates;
//  - the relayout tick otherwise: every counter decayed literally to `now`
//    and stored at landmark `now` (s = rate).
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/counter_math.h"
#include "math/forward_math.h"

namespace heatkit::forward_pass {

// What a fast tick pass takes beside its columns and TickParams, by value:
// the frame (it lives on the host; a device pass gets this copy) and the
// shared half-life's scale at params.now.
struct TickInputs {
  ForwardFrame frame;
  // forward_scale(now, landmark, params.shared_half_life) when the caller
  // shares a half-life (TickParams::shared_half_life > 0), else 0: each
  // counter's own half-life is read.
  double shared_scale = 0.0;
};

// The fast tick's inputs at params.now, computed once on the host. The
// caller has checked forward_tick_allowed(frame, params.now).
inline TickInputs tick_inputs(const ForwardFrame& frame, const TickParams& params) {
  TickInputs in;
  in.frame = frame;
  in.shared_scale = params.shared_half_life > 0
                        ? forward_scale(params.now, frame.landmark, params.shared_half_life)
                        : 0.0;
  return in;
}

// Whether the fast tick reads the half-life column: not when the caller
// shares a half-life (params.shared_half_life stands for it).
HEATKIT_HD_FORCE_INLINE bool reads_half_life(const TickParams& p) { return p.shared_half_life <= 0; }

// The fast tick of one counter with a pass's TickInputs: forward_tick_one.
// `s` and `flags` from its columns, `last_write` read only where
// is_literal(s) (any value otherwise), `half_life` from its column or
// params.shared_half_life (reads_half_life).
HEATKIT_HD_FORCE_INLINE Decision tick_one(double& s, std::int64_t last_write,
                                          std::int64_t half_life, double last_emitted,
                                          std::uint8_t& flags, double& rate, const TickParams& p,
                                          const TickInputs& in) {
  return forward_tick_one(s, last_write, half_life, last_emitted, flags, rate, p, in.shared_scale, in.frame);
}

// The relayout tick of one counter at params.now, under the frame before
// the tick: every column value read; `s` always and `last_write` where it
// lay past params.now are written (relayout_tick_rate). Afterwards s is the
// rate (landmark params.now) and `rate` the same value. Returns the gate's
// decision; marks in flight as tick_one does.
HEATKIT_HD_FORCE_INLINE Decision relayout_one(double& s, std::int64_t& last_write,
                                              std::int64_t half_life, double last_emitted,
                                              std::uint8_t& flags, double& rate,
                                              const TickParams& p, const ForwardFrame& before) {
  rate = relayout_tick_rate(s, last_write, half_life, p.now, before);
  const Decision d = tick_gate(rate, flags, last_emitted, p);
  if (d != Decision::kSuppress && p.mark_in_flight) flags |= kInFlight;
  return d;
}

// The rate an Emit of the fast tick carries, recomputed from the counter's s
// after the tick (forward: a literal one was converted), for passes that
// compact the candidates apart from deciding them. A forward counter's is
// tick_one's rate exactly (an Emit's rate lies at or above epsilon, where
// forward_value does not snap); a converted one's is within an ulp of it
// (r x scale / scale), never 0. `half_life` as for tick_one.
HEATKIT_HD_FORCE_INLINE double emitted_rate(double s, std::int64_t half_life, std::int64_t now,
                                            const TickInputs& in) {
  const double scale = in.shared_scale > 0.0 ? in.shared_scale
                                             : forward_scale(now, in.frame.landmark, half_life);
  return s / scale;
}

// The cheap half of commit's prune predicate on a forward store: withdrawn
// or emitted at <= 0 (flags and last_emitted). Only counters that pass it
// need forward_prunable, and so their s and half-life columns.
HEATKIT_HD_FORCE_INLINE bool may_prune(std::uint8_t flags, double last_emitted) {
  return (flags & kHasEmitted) != 0 && last_emitted <= 0.0;
}

// forward_prunable of slot i of forward columns, the s and half-life
// columns read only where may_prune holds.
HEATKIT_HD_FORCE_INLINE bool prunable(const CounterColumns& c, std::size_t i,
                                      const ForwardFrame& frame) {
  const double last_emitted = c.last_emitted[i];
  if (!may_prune(c.flags[i], last_emitted)) return false;
  return forward_prunable(c.rate[i], c.half_life[i], true, last_emitted, frame);
}

}  // namespace heatkit::forward_pass
