// How the facades (api/heat_registry_members.h, api/concurrent_registry.cc) hold the
// internal registry's Entry inside the public one: by value, in its opaque
// bytes. The internal Entry is a few plain fields (the registry, the slot,
// the queue ticket, the key), so copying the bytes copies the handle.
#pragma once

#include <cstring>
#include <new>
#include <type_traits>

#include "registry/registry.h"
#include <heatkit/registry.h>

namespace heatkit {

template <RegistryKey Key>
struct HeatRegistryOf<Key>::Entry::Access {
  using Internal = typename BasicHeatRegistry<Key>::Entry;
  static_assert(std::is_trivially_copyable_v<Internal> && std::is_trivially_destructible_v<Internal>,
                "the public Entry copies the internal one as bytes");
  static_assert(sizeof(Internal) == sizeof(Entry::state_) && alignof(Internal) <= alignof(Entry),
                "the public Entry's bytes must hold the internal Entry exactly");

  static Entry wrap(const Internal& internal) noexcept {
    Entry e;
    ::new (static_cast<void*>(e.state_)) Internal(internal);
    return e;
  }
  static Internal& internal(Entry& e) noexcept {
    return *std::launder(reinterpret_cast<Internal*>(e.state_));
  }
  static const Internal& internal(const Entry& e) noexcept {
    return *std::launder(reinterpret_cast<const Internal*>(e.state_));
  }
};

}  // namespace heatkit
