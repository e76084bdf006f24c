#include "columns.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <nanobind/ndarray.h>

namespace heatkit::python {
namespace {

// numpy cannot take a null data pointer: empty columns point here.
alignas(64) const unsigned char kNoData[64] = {};

// A numpy array that owns `column` (moved to the heap, freed with the array),
// seen as `shape` elements of T.
template <class T, class Column>
nb::object owning_array(Column&& column, std::initializer_list<std::size_t> shape) {
  auto* heap = new Column(std::forward<Column>(column));
  nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<Column*>(p); });
  const void* data = heap->empty() ? static_cast<const void*>(&kNoData) : static_cast<const void*>(heap->data());
  return nb::cast(nb::ndarray<nb::numpy, T>(const_cast<void*>(data), shape, owner));
}

}  // namespace

nb::dict registry_columns(Registry& r) {
  return r.visit([&](auto& registry) {
    using Key = typename std::decay_t<decltype(registry)>::key_type;
    std::vector<Key> keys;
    std::vector<double> rate, last_emitted;
    std::vector<std::int64_t> last_update, half_life;
    std::vector<std::uint8_t> in_flight;
    {
      const auto lock = lock_holding_gil(r.mutex());
      const std::size_t n = registry.size();
      keys.reserve(n);
      rate.reserve(n);
      last_emitted.reserve(n);
      last_update.reserve(n);
      half_life.reserve(n);
      registry.for_each([&](const Key& key, const HeatCounter& c) {
        keys.push_back(key);
        rate.push_back(c.rate());
        last_emitted.push_back(c.last_emitted().value_or(std::numeric_limits<double>::quiet_NaN()));
        last_update.push_back(to_ns(c.last_update()));
        half_life.push_back(to_ns(c.half_life()));
      });
      in_flight.reserve(n);
      for (const Key& key : keys) in_flight.push_back(registry.in_flight(key) ? 1 : 0);
    }
    nb::dict columns;
    const std::size_t n = keys.size();
    if constexpr (std::is_same_v<Key, BlobKey>) {
      columns["keys"] = owning_array<std::uint8_t>(std::move(keys), {n, 32});
    } else {
      columns["keys"] = owning_array<std::uint64_t>(std::move(keys), {n});
    }
    columns["rate"] = owning_array<double>(std::move(rate), {n});
    columns["last_update_ns"] = owning_array<std::int64_t>(std::move(last_update), {n});
    columns["last_emitted"] = owning_array<double>(std::move(last_emitted), {n});
    columns["in_flight"] = owning_array<bool>(std::move(in_flight), {n});
    columns["half_life_ns"] = owning_array<std::int64_t>(std::move(half_life), {n});
    return columns;
  });
}

nb::dict memory_usage(Registry& r) {
  // Python objects are made after the lock is released (registry_binding.cc, with_key).
  const MemoryUsage usage = r.visit([&](auto& registry) {
    const auto lock = lock_holding_gil(r.mutex());
    return registry.memory_usage();
  });
  nb::dict d;
  d["columns"] = usage.columns;
  d["keys"] = usage.keys;
  d["index"] = usage.index;
  d["lru"] = usage.lru;
  d["other"] = usage.other;
  d["total"] = usage.total();
  return d;
}

nb::dict registry_stats(Registry& r) {
  const RegistryStats stats = r.visit([&](auto& registry) {
    const auto lock = lock_holding_gil(r.mutex());
    return registry.stats();
  });
  nb::dict d;
  d["evictions"] = stats.evictions;
  d["pruned"] = stats.pruned;
  d["hash_reseeds"] = stats.hash_reseeds;
  return d;
}

}  // namespace heatkit::python
