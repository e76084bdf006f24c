// The object behind heatkit.Registry: a HeatRegistry or a BlobHeatRegistry,
// the half-life bumps give new counters, and the mutex that serializes the
// Python object's calls (the registry itself is not thread-safe, and tick,
// bump_batch and commit run with the GIL released).
#pragma once

#include <cstdint>
#include <mutex>
#include <utility>
#include <variant>

#include <heatkit/registry.h>

namespace heatkit::python {

// What heatkit.Registry() and Registry.load() take when not told.
inline constexpr std::int64_t kDefaultHalfLifeNs = 1'800'000'000'000;
inline constexpr std::uint64_t kMaxThreads = 4096;  // as the CLI's --threads

class Registry {
 public:
  using Variant = std::variant<HeatRegistry, BlobHeatRegistry>;

  Registry(bool blob_keys, const RegistryOptions& options, Duration half_life)
      : registry_(blob_keys ? Variant(std::in_place_type<BlobHeatRegistry>, options)
                            : Variant(std::in_place_type<HeatRegistry>, options)),
        half_life_(half_life) {}
  // A registry made elsewhere (Registry.load): either key type.
  Registry(Variant registry, Duration half_life) : registry_(std::move(registry)), half_life_(half_life) {}

  bool blob_keys() const noexcept { return registry_.index() == 1; }
  Duration half_life() const noexcept { return half_life_; }
  std::mutex& mutex() noexcept { return mutex_; }

  // Calls f(registry) with the registry of the key type this one has.
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), registry_);
  }

 private:
  Variant registry_;
  Duration half_life_;
  std::mutex mutex_;
};

}  // namespace heatkit::python
