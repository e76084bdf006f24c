// A registry's contents and counts as Python values: to_numpy's columns,
// memory_usage and stats.
#pragma once

#include "bindings.h"
#include "registry.h"

namespace heatkit::python {

// {"keys", "rate", "last_update_ns", "last_emitted", "in_flight",
// "half_life_ns"}: numpy arrays that own copies, in the registry's slot order.
nb::dict registry_columns(Registry& r);
nb::dict memory_usage(Registry& r);
nb::dict registry_stats(Registry& r);

}  // namespace heatkit::python
