// The C++ side of bench/python/binding_overhead.py: the same registry calls
// timed inside C++, with no Python conversion around them, so the bench can
// say what the binding adds. Private to the package (underscored names).
#include <chrono>
#include <cstdint>
#include <span>
#include <utility>

#include <nanobind/ndarray.h>
#include <nanobind/stl/pair.h>

#include "bindings.h"
#include "candidates.h"
#include "registry.h"
#include <heatkit/policy.h>

namespace heatkit::python {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds one bump_batch of `keys` at `now_ns` takes, timed in C++.
double bump_batch_seconds(Registry& r, nb::ndarray<const std::uint64_t, nb::ndim<1>, nb::c_contig> keys,
                          std::int64_t now_ns) {
  if (r.blob_keys()) throw nb::type_error("registry: a u64 registry is timed");
  const std::span<const std::uint64_t> span(keys.data(), keys.shape(0));
  nb::gil_scoped_release release;
  const std::lock_guard lock(r.mutex());
  return r.visit([&](auto& registry) {
    const auto start = Clock::now();
    if constexpr (std::is_same_v<typename std::decay_t<decltype(registry)>::key_type, std::uint64_t>) {
      registry.bump_batch(span, r.half_life(), instant_from_ns(now_ns));
    }
    return seconds_since(start);
  });
}

// (seconds, candidates) of one tick at `now_ns`, timed in C++ up to the
// candidate list in hand, as Registry.tick has it before wrapping it.
std::pair<double, std::size_t> tick_seconds(Registry& r, const Policy& policy, std::int64_t now_ns) {
  nb::gil_scoped_release release;
  const std::lock_guard lock(r.mutex());
  return r.visit([&](auto& registry) {
    const auto start = Clock::now();
    const auto candidates = registry.tick(policy, instant_from_ns(now_ns));
    return std::pair(seconds_since(start), candidates.size());
  });
}

}  // namespace

void bind_native_timing(nb::module_& m) {
  m.def("_bump_batch_seconds", &bump_batch_seconds, nb::arg("registry"), nb::arg("keys"), nb::arg("now_ns"),
        "Seconds one C++ bump_batch of a contiguous uint64 array takes (for the bench).");
  m.def("_tick_seconds", &tick_seconds, nb::arg("registry"), nb::arg("policy"), nb::arg("now_ns"),
        "(seconds, candidates) of one C++ tick (for the bench).");
}

}  // namespace heatkit::python
