// The tick and prune passes written once with Thrust algorithms over raw
// column pointers, for any Thrust execution policy: thrust::omp::par with the
// host compiler (the `thrust-omp` backend, CPU cores) and thrust::cuda::par
// with nvcc (the `thrust` backend, compared with the hand-written CUDA
// kernel). The per-counter work is counter_math.h's tick_one and is_prunable,
// as in every backend.
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

namespace heatkit::thrust_passes {

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

}  // namespace heatkit::thrust_passes
