// The tick and prune passes written once with Thrust algorithms over raw
// column pointers, for any Thrust execution policy: thrust::omp::par with the
// host compiler (the `thrust-omp` backend, CPU cores) and thrust::cuda::par
// with nvcc (the `thrust` backend, compared with the hand-written CUDA
// kernel). Two representations of the rate column:
//  - forward (math/forward_math.h), what the `thrust-omp` and `thrust`
//    stores hold: the fast tick (decide_forward, compact_forward_candidates)
//    while forward_tick_allowed holds, the relayout tick (decide_relayout,
//    then compact_candidates) otherwise, and the forward prune; the
//    per-counter steps are thrust/forward_tick.h's, which the device store's
//    one-pass kernel runs too. The frame and the shared scale go to every
//    functor by value (a device pass must not read the host's frame);
//  - literal (counter_math.h's tick_one and is_prunable): decide,
//    compact_candidates, count_prunable, compact_prunable, for columns
//    without a frame (the GPU benchmarks' reference rows).
//
// Several passes, as a portable library composes them: transform (decay and
// gate, one decision byte per slot), count_if, then copy_if through a
// gathering iterator (the compacted candidates in slot order). The caller
// owns every buffer, so the same code serves host and device memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/transform.h>

#include "math/counter_math.h"
#include "math/forward_math.h"
#include "thrust/forward_tick.h"

namespace heatkit::thrust_passes {

// ---------------------------------------------------------------------------
// Literal columns.

// Decays slot i to params.now and applies the gate: tick_one itself.
struct TickStep {
  CounterColumns columns;
  TickParams params;
  HEATKIT_HD Decision operator()(std::uint32_t i) const {
    return tick_one(columns.rate[i], columns.last_update[i], columns.last_emitted[i],
                    columns.half_life[i], columns.flags[i], params);
  }
};

struct IsCandidate {
  HEATKIT_HD bool operator()(Decision d) const { return d != Decision::kSuppress; }
};

// The candidate of slot i, from its decision and decayed rate.
struct ToCandidate {
  const double* rate;
  const Decision* decisions;
  HEATKIT_HD Candidate operator()(std::uint32_t slot) const {
    const Decision d = decisions[slot];
    return Candidate{slot, d, d == Decision::kEmit ? rate[slot] : 0.0};
  }
};

struct IsPrunable {
  CounterColumns columns;
  HEATKIT_HD bool operator()(std::uint32_t i) const {
    return is_prunable(columns.rate[i], (columns.flags[i] & kHasEmitted) != 0,
                       columns.last_emitted[i]);
  }
};

inline thrust::counting_iterator<std::uint32_t> slot_iterator(std::size_t i) {
  return thrust::counting_iterator<std::uint32_t>(static_cast<std::uint32_t>(i));
}

// Pass 1: decays every counter and writes its decision to decisions[0, n).
// Returns how many are candidates (pass 2).
template <class Exec>
std::size_t decide(Exec&& exec, const CounterColumns& c, const TickParams& p,
                   Decision* decisions) {
  thrust::transform(exec, slot_iterator(0), slot_iterator(c.size), decisions, TickStep{c, p});
  return static_cast<std::size_t>(
      thrust::count_if(exec, decisions, decisions + c.size, IsCandidate{}));
}

// Pass 3: the candidates, in slot order, to out[0, count) (count from decide).
template <class Exec>
void compact_candidates(Exec&& exec, const CounterColumns& c, const Decision* decisions,
                        Candidate* out) {
  const auto candidates =
      thrust::make_transform_iterator(slot_iterator(0), ToCandidate{c.rate, decisions});
  thrust::copy_if(exec, candidates, candidates + c.size, decisions, out, IsCandidate{});
}

// How many slots commit must prune.
template <class Exec>
std::size_t count_prunable(Exec&& exec, const CounterColumns& c) {
  return static_cast<std::size_t>(
      thrust::count_if(exec, slot_iterator(0), slot_iterator(c.size), IsPrunable{c}));
}

// The slots commit must prune, in slot order, to out[0, count_prunable).
template <class Exec>
void compact_prunable(Exec&& exec, const CounterColumns& c, std::uint32_t* out) {
  thrust::copy_if(exec, slot_iterator(0), slot_iterator(c.size), out, IsPrunable{c});
}

// ---------------------------------------------------------------------------
// Forward columns.

// The fast tick of slot i (forward_pass::tick_one): reads s, last_emitted
// and flags, the half-life unless the caller shares one, last_update only
// where s is literal; writes s only where it was literal, flags only where
// marked in flight.
struct ForwardTickStep {
  CounterColumns columns;
  TickParams params;
  forward_pass::TickInputs inputs;
  HEATKIT_HD Decision operator()(std::uint32_t i) const {
    double s = columns.rate[i];
    const bool literal = is_literal(s);
    const std::int64_t last_write = literal ? columns.last_update[i] : 0;
    const std::int64_t half_life = forward_pass::reads_half_life(params) ? columns.half_life[i]
                                                                         : params.shared_half_life;
    std::uint8_t flags = columns.flags[i];
    const std::uint8_t flags_before = flags;
    double rate = 0.0;
    const Decision d = forward_pass::tick_one(s, last_write, half_life, columns.last_emitted[i],
                                              flags, rate, params, inputs);
    if (literal) columns.rate[i] = s;
    if (flags != flags_before) columns.flags[i] = flags;
    return d;
  }
};

// The candidate of slot i after the fast tick: its decision, and for an Emit
// the rate recomputed from its (now forward) s (forward_pass::emitted_rate).
struct ToForwardCandidate {
  CounterColumns columns;
  TickParams params;
  forward_pass::TickInputs inputs;
  const Decision* decisions;
  HEATKIT_HD Candidate operator()(std::uint32_t slot) const {
    const Decision d = decisions[slot];
    if (d != Decision::kEmit) return Candidate{slot, d, 0.0};
    const std::int64_t half_life = forward_pass::reads_half_life(params) ? columns.half_life[slot]
                                                                         : params.shared_half_life;
    return Candidate{slot, d,
                     forward_pass::emitted_rate(columns.rate[slot], half_life, params.now, inputs)};
  }
};

// The relayout tick of slot i (forward_pass::relayout_one) under the frame
// before the tick: reads every column, writes s, last_update where it lay
// past params.now, flags where marked. Afterwards s is the rate, so
// compact_candidates (ToCandidate) gathers the candidates.
struct RelayoutTickStep {
  CounterColumns columns;
  TickParams params;
  ForwardFrame before;
  HEATKIT_HD Decision operator()(std::uint32_t i) const {
    double s = columns.rate[i];
    std::int64_t last_write = columns.last_update[i];
    const std::int64_t last_write_before = last_write;
    std::uint8_t flags = columns.flags[i];
    const std::uint8_t flags_before = flags;
    double rate = 0.0;
    const Decision d = forward_pass::relayout_one(s, last_write, columns.half_life[i],
                                                  columns.last_emitted[i], flags, rate, params,
                                                  before);
    columns.rate[i] = s;
    if (last_write != last_write_before) columns.last_update[i] = last_write;
    if (flags != flags_before) columns.flags[i] = flags;
    return d;
  }
};

struct IsForwardPrunable {
  CounterColumns columns;
  ForwardFrame frame;
  HEATKIT_HD bool operator()(std::uint32_t i) const {
    return forward_pass::prunable(columns, i, frame);
  }
};

// Pass 1 of the fast tick (forward_tick_allowed(in.frame, p.now) holds, `in`
// from forward_pass::tick_inputs): every slot's decision into
// decisions[0, n). Returns how many are candidates. The frame is not
// changed: the caller then runs forward_after_tick(frame, p.now, false).
template <class Exec>
std::size_t decide_forward(Exec&& exec, const CounterColumns& c, const TickParams& p,
                           const forward_pass::TickInputs& in, Decision* decisions) {
  thrust::transform(exec, slot_iterator(0), slot_iterator(c.size), decisions,
                    ForwardTickStep{c, p, in});
  return static_cast<std::size_t>(
      thrust::count_if(exec, decisions, decisions + c.size, IsCandidate{}));
}

// Pass 3 of the fast tick: the candidates, in slot order, to out[0, count)
// (count from decide_forward; same p and in).
template <class Exec>
void compact_forward_candidates(Exec&& exec, const CounterColumns& c, const TickParams& p,
                                const forward_pass::TickInputs& in, const Decision* decisions,
                                Candidate* out) {
  const auto candidates =
      thrust::make_transform_iterator(slot_iterator(0), ToForwardCandidate{c, p, in, decisions});
  thrust::copy_if(exec, candidates, candidates + c.size, decisions, out, IsCandidate{});
}

// Pass 1 of the relayout tick (under `before`, the frame before the tick):
// decisions as decide_forward's; the candidates then come from
// compact_candidates. The caller then runs forward_after_tick(frame, p.now,
// true).
template <class Exec>
std::size_t decide_relayout(Exec&& exec, const CounterColumns& c, const TickParams& p,
                            const ForwardFrame& before, Decision* decisions) {
  thrust::transform(exec, slot_iterator(0), slot_iterator(c.size), decisions,
                    RelayoutTickStep{c, p, before});
  return static_cast<std::size_t>(
      thrust::count_if(exec, decisions, decisions + c.size, IsCandidate{}));
}

// How many slots of forward columns commit must prune.
template <class Exec>
std::size_t count_forward_prunable(Exec&& exec, const CounterColumns& c, const ForwardFrame& f) {
  return static_cast<std::size_t>(
      thrust::count_if(exec, slot_iterator(0), slot_iterator(c.size), IsForwardPrunable{c, f}));
}

// Those slots, in slot order, to out[0, count_forward_prunable).
template <class Exec>
void compact_forward_prunable(Exec&& exec, const CounterColumns& c, const ForwardFrame& f,
                              std::uint32_t* out) {
  thrust::copy_if(exec, slot_iterator(0), slot_iterator(c.size), out, IsForwardPrunable{c, f});
}

}  // namespace heatkit::thrust_passes
