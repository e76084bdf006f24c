// What a tick returned, as the Python Candidates object holds it: the
// registry's own candidate list, moved out of the tick, never copied. It
// owns its data, so it outlives the registry; its numpy views are strided
// views of the list that keep the Candidates object alive.
#pragma once

#include <cstdint>
#include <variant>

#include <heatkit/registry.h>

namespace heatkit::python {

struct Candidates {
  std::variant<HeatRegistry::Emissions, BlobHeatRegistry::Emissions> emissions;
};

}  // namespace heatkit::python
