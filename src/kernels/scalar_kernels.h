// The scalar reference kernels: one plain loop per pass over the columns,
// built directly on counter_math.h. Every fast backend is tested against these.
#pragma once

#include <cstdint>
#include <vector>

#include "math/counter_math.h"

namespace heatkit::scalar {

// Decays every counter in `columns` to `params.now`, applies the gate and
// appends the Emit/Withdraw candidates to `out` in slot order. Returns
// false when `out` could not hold them all (no memory): every counter is
// decayed regardless (HostKernels, store/counter_store.h).
bool tick(const CounterColumns& columns, const TickParams& params, std::vector<Candidate>& out);

// Appends, in slot order, every slot whose counter is prunable (fully decayed
// and already withdrawn).
void collect_prunable(const CounterColumns& columns, std::vector<std::uint32_t>& out);

}  // namespace heatkit::scalar
