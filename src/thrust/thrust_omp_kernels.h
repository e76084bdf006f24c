// The Thrust passes (thrust/thrust_passes.h) on the OpenMP device system,
// compiled by the host compiler: the `thrust-omp` backend's bulk passes, run
// on CPU cores. Same contract as kernels/scalar_kernels.h; `threads` sets the
// OpenMP team size through resolve_threads (0 = every hardware thread, never
// more than the hardware threads).
#pragma once

#include <cstdint>
#include <vector>

#include "math/counter_math.h"

namespace heatkit::thrust_omp {

void tick(const CounterColumns& columns, const TickParams& params, std::vector<Candidate>& out,
          unsigned threads);
void collect_prunable(const CounterColumns& columns, std::vector<std::uint32_t>& out,
                      unsigned threads);

}  // namespace heatkit::thrust_omp
