// The C++ side of bench/python/binding_overhead.py: the same registry calls
// timed inside C++, with no Python conversion around them, so the bench can
// say what the binding adds. Private to the package (underscored names).
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
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

// Seconds one bump_batch of `keys` takes, timed in C++: at one instant, or
// (`times` given) each key at its own, from the (key, instant) pairs the
// C++ call takes, made before the timing starts.
double bump_batch_seconds(Registry& r, nb::ndarray<const std::uint64_t, nb::ndim<1>, nb::c_contig> keys,
                          std::int64_t now_ns,
                          std::optional<nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig>> times) {
  if (r.blob_keys()) throw nb::type_error("registry: a u64 registry is timed");
  const std::span<const std::uint64_t> span(keys.data(), keys.shape(0));
  if (times && times->shape(0) != span.size()) throw nb::value_error("times: one per key");
  std::vector<std::pair<std::uint64_t, Instant>> reads;
  if (times) {
    reads.reserve(span.size());
    for (std::size_t i = 0; i < span.size(); ++i) reads.emplace_back(span[i], instant_from_ns(times->data()[i]));
  }
  nb::gil_scoped_release release;
  const std::lock_guard lock(r.mutex());
  return r.visit([&](auto& registry) {
    const auto start = Clock::now();
    if constexpr (std::is_same_v<typename std::decay_t<decltype(registry)>::key_type, std::uint64_t>) {
      if (times) {
        registry.bump_batch(std::span<const std::pair<std::uint64_t, Instant>>(reads), r.half_life());
      } else {
        registry.bump_batch(span, r.half_life(), instant_from_ns(now_ns));
      }
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
        nb::arg("times").none() = nb::none(),
        "Seconds one C++ bump_batch of a contiguous uint64 array takes, at now_ns or at `times` (for the bench).");
  m.def("_tick_seconds", &tick_seconds, nb::arg("registry"), nb::arg("policy"), nb::arg("now_ns"),
        "(seconds, candidates) of one C++ tick (for the bench).");
}

}  // namespace heatkit::python
