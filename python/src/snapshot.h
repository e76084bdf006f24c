// Registry.save and Registry.load (snapshot_binding.cc), bound as members of
// heatkit.Registry in registry_binding.cc.
#pragma once

#include <filesystem>
#include <string>

#include "bindings.h"
#include "registry.h"

namespace heatkit::python {

void save_registry(Registry& r, const std::filesystem::path& path, nb::handle application);
// A heatkit.Registry, or (Registry, bytes) with `with_application`.
nb::object load_registry(const std::filesystem::path& path, const std::string& backend, nb::handle threads,
                         nb::handle hash_seed, nb::handle half_life_ns, bool with_application);

}  // namespace heatkit::python
