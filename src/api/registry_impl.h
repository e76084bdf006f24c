// What a public HeatRegistryOf<Key> holds (<heatkit/registry.h>): the
// internal BasicHeatRegistry. Internal: the facade's members use it, and
// in-tree benchmarks and tests reach a registry's store through
// RegistryInternals, which users of the installed headers cannot.
#pragma once

#include <utility>

#include "registry/registry.h"
#include <heatkit/registry.h>

namespace heatkit {

template <RegistryKey Key>
struct HeatRegistryOf<Key>::Impl {
  explicit Impl(RegistryOptions options) : registry(std::move(options)) {}
  explicit Impl(BasicHeatRegistry<Key>&& loaded) : registry(std::move(loaded)) {}
  BasicHeatRegistry<Key> registry;
};

namespace detail {

struct RegistryInternals {
  template <RegistryKey Key>
  static BasicHeatRegistry<Key>& of(HeatRegistryOf<Key>& registry) noexcept {
    return registry.impl_->registry;
  }
};

}  // namespace detail
}  // namespace heatkit
