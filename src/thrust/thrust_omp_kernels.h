// The Thrust passes (thrust/thrust_passes.h) on the OpenMP device system,
// compiled by the host compiler: the `thrust-omp` backend's bulk passes, run
// on CPU cores. Same contract as kernels/scalar_kernels.h; `threads` sets the
// OpenMP team size through resolve_threads (0 = every hardware thread, never
// more than the hardware threads).
//
// Columns with a frame (CounterColumns::frame, a host pointer) hold forward
// encodings (math/forward_math.h): `tick` is then the fast tick, which the
// store runs only while forward_tick_allowed(*frame, params.now) holds
// (std::logic_error otherwise: the store relayouts itself), and `tick`
// leaves the frame as it was (the store runs forward_after_tick);
// `collect_prunable` is forward_prunable. Columns without one hold literal
// rates.
#pragma once

#include <cstdint>
#include <vector>

#include "math/counter_math.h"

namespace heatkit::thrust_omp {

// Throws only before it changes a column; returns false when `out` could
// not hold every candidate (HostKernels, store/counter_store.h): the pass
// has then run over every counter.
bool tick(const CounterColumns& columns, const TickParams& params, std::vector<Candidate>& out,
          unsigned threads);
void collect_prunable(const CounterColumns& columns, std::vector<std::uint32_t>& out,
                      unsigned threads);

}  // namespace heatkit::thrust_omp
