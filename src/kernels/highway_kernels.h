// The Highway (SIMD) tick and prune passes over a forward store's columns
// (columns.frame set; math/forward_math.h), dispatched once per call to the
// best target this CPU supports. The tick runs only where
// forward_tick_allowed holds (the store relayouts otherwise) and leaves the
// frame to the store. Candidates and prunable slots as kernels/scalar_kernels.h
// gives them for the literal columns.
#pragma once

#include <cstdint>
#include <vector>

#include "math/counter_math.h"

namespace heatkit::highway {

// False when `out` could not hold every candidate (HostKernels,
// store/counter_store.h): the pass still runs over every counter.
bool tick(const CounterColumns& columns, const TickParams& params, std::vector<Candidate>& out);
void collect_prunable(const CounterColumns& columns, std::vector<std::uint32_t>& out);

// Names of the targets compiled into this binary and the one dispatch picks
// here, for tests and `heatkit backends`.
std::vector<const char*> compiled_targets();
const char* chosen_target();
// The target the dispatch table actually runs (follows
// hwy::SetSupportedTargetsForTest, which the tests use to visit each target).
const char* dispatched_target();

}  // namespace heatkit::highway
