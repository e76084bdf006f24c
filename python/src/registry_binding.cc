// heatkit.Registry: a HeatRegistry or BlobHeatRegistry behind one Python
// class. Bulk calls (bump_batch, tick, commit, save, load) run with the GIL
// released; every call holds the registry's mutex, so threads may share one.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>

#include "batch_input.h"
#include "bindings.h"
#include "candidates.h"
#include "columns.h"
#include "docstrings.h"
#include "registry.h"
#include "snapshot.h"
#include <heatkit/policy.h>

namespace heatkit::python {
namespace {

template <class Registry>
using KeyOf = typename std::decay_t<Registry>::key_type;

// heatkit.CounterState, made at import (a named tuple); never freed.
PyObject* counter_state_type = nullptr;

struct RegistrySpec {
  bool blob_keys = false;
  RegistryOptions options;
  Duration half_life;
};

RegistrySpec registry_spec(const std::string& key, nb::handle cap, const std::string& backend, nb::handle threads,
                        nb::handle track_in_flight, nb::handle hash_seed, nb::handle half_life_ns) {
  if (key != "u64" && key != "bytes32") {
    throw nb::value_error(("key: \"" + key + "\" is not a key type; use \"u64\" or \"bytes32\"").c_str());
  }
  RegistryOptions options;
  options.cap = to_count(cap, "cap", std::numeric_limits<std::size_t>::max());
  options.backend = backend;
  options.threads = static_cast<unsigned>(to_count(threads, "threads", kMaxThreads));
  if (!track_in_flight.is_none()) {
    if (!PyBool_Check(track_in_flight.ptr())) {
      throw nb::type_error((std::string("track_in_flight: expected True, False or None, got ") +
                            python_type(track_in_flight)).c_str());
    }
    options.track_in_flight = track_in_flight.ptr() == Py_True;
  }
  if (!hash_seed.is_none()) options.hash_seed = to_u64_key(hash_seed, "hash_seed");
  const Duration half_life = to_half_life(half_life_ns, Duration(kDefaultHalfLifeNs), "half_life_ns");
  return {key == "bytes32", options, half_life};
}

// Runs f(registry, key) with `key` converted to the registry's key type and
// the registry locked; the GIL stays held (single-key calls are short). `f`
// makes no Python objects: that may run a finalizer that calls this
// registry, which would wait for the lock this thread holds.
template <class F>
decltype(auto) with_key(Registry& r, nb::handle key, F&& f) {
  return r.visit([&](auto& registry) -> decltype(auto) {
    const auto k = to_key<KeyOf<decltype(registry)>>(key, "key");
    const auto lock = lock_holding_gil(r.mutex());
    return f(registry, k);
  });
}

void bump_batch(Registry& r, nb::handle keys, nb::handle now_ns, nb::handle half_life_ns) {
  const Duration half_life = to_half_life(half_life_ns, r.half_life(), "half_life_ns");
  r.visit([&](auto& registry) {
    using Key = KeyOf<decltype(registry)>;
    const KeyBatch<Key> batch = key_batch<Key>(keys);
    const TimeBatch times = time_batch(now_ns, batch.keys.size());
    nb::gil_scoped_release release;
    if (times.one) {
      const std::lock_guard lock(r.mutex());
      registry.bump_batch(batch.keys, half_life, instant_from_ns(*times.one));
      return;
    }
    // The C++ call takes (key, instant) pairs: they are made a chunk at a
    // time, in a buffer that stays in cache and is reused from call to call,
    // rather than all at once in fresh memory (16 bytes a read, page-faulted
    // in: 1.25x the C++ call's time per key at 1M keys, against 1.0x).
    // Chunks in order are the same reads in the same order.
    constexpr std::size_t kChunk = std::max<std::size_t>(1, (64 << 10) / sizeof(std::pair<Key, Instant>));
    std::vector<std::pair<Key, Instant>> reads(std::min(batch.keys.size(), kChunk));
    const std::lock_guard lock(r.mutex());
    for (std::size_t start = 0; start < batch.keys.size(); start += kChunk) {
      const std::size_t count = std::min(kChunk, batch.keys.size() - start);
      for (std::size_t i = 0; i < count; ++i) {
        reads[i] = {batch.keys[start + i], instant_from_ns(times.each[start + i])};
      }
      registry.bump_batch(std::span<const std::pair<Key, Instant>>(reads.data(), count), half_life);
    }
  });
}

Candidates tick(Registry& r, const Policy& policy, nb::handle now_ns) {
  const Instant now = instant_from_ns(to_time_ns(now_ns, "now_ns"));
  return r.visit([&](auto& registry) {
    Candidates candidates;
    nb::gil_scoped_release release;
    const std::lock_guard lock(r.mutex());
    candidates.emissions = registry.tick(policy, now);
    return candidates;
  });
}

void commit(Registry& r, const Candidates& candidates, nb::handle only) {
  r.visit([&](auto& registry) {
    using Key = KeyOf<decltype(registry)>;
    const auto* list = std::get_if<typename HeatRegistryOf<Key>::Emissions>(&candidates.emissions);
    if (list == nullptr) {
      throw nb::type_error(r.blob_keys() ? "candidates: from a u64 registry; this one has bytes32 keys"
                                         : "candidates: from a bytes32 registry; this one has u64 keys");
    }
    typename HeatRegistryOf<Key>::Emissions selected;
    std::span<const std::pair<Key, HeatEmission>> chosen = *list;
    if (!only.is_none()) {
      std::vector<Key> named;
      for (nb::handle key : nb::iter(only)) named.push_back(to_key<Key>(key, "only"));
      std::sort(named.begin(), named.end());
      for (const auto& candidate : *list) {
        if (std::binary_search(named.begin(), named.end(), candidate.first)) selected.push_back(candidate);
      }
      chosen = selected;
    }
    nb::gil_scoped_release release;
    const std::lock_guard lock(r.mutex());
    registry.commit(chosen);
  });
}

nb::object get(Registry& r, nb::handle key) {
  // Read under the lock, build Python objects after it: making them may run
  // a finalizer that calls this registry.
  const auto state = with_key(r, key, [](auto& registry, const auto& k) {
    return std::pair(registry.get(k), registry.in_flight(k));
  });
  const auto& [counter, in_flight] = state;
  if (!counter) return nb::none();
  const auto last = counter->last_emitted();
  return nb::borrow(counter_state_type)(counter->rate(), to_ns(counter->last_update()),
                                        last ? nb::cast(*last) : nb::none(), in_flight);
}

std::string repr(Registry& r) {
  return r.visit([&](auto& registry) {
    const auto lock = lock_holding_gil(r.mutex());
    return std::string("<heatkit.Registry key=") + (r.blob_keys() ? "bytes32" : "u64") +
           " backend=" + std::string(registry.backend()) + " cap=" + std::to_string(registry.cap()) +
           " len=" + std::to_string(registry.size()) + ">";
  });
}

}  // namespace

void bind_registry(nb::module_& m) {
  nb::object state = nb::module_::import_("collections").attr("namedtuple")(
      "CounterState", nb::make_tuple("rate", "last_update_ns", "last_emitted", "in_flight"));
  state.attr("__module__") = "heatkit";
  state.attr("__doc__") =
      "A counter as Registry.get returns it: its rate, the instant (ns) it was last decayed or bumped to, "
      "the rate last announced (None when never), and whether a tick's candidate awaits commit or rollback.";
  counter_state_type = state.release().ptr();
  m.attr("CounterState") = nb::handle(counter_state_type);

  nb::class_<Registry>(m, "Registry", nb::is_weak_referenceable(), kRegistryDoc)
      .def("__init__",
           [](Registry* self, const std::string& key, nb::handle cap, const std::string& backend, nb::handle threads,
              nb::handle track_in_flight, nb::handle hash_seed, nb::handle half_life_ns) {
             const RegistrySpec spec =
                 registry_spec(key, cap, backend, threads, track_in_flight, hash_seed, half_life_ns);
             new (self) Registry(spec.blob_keys, spec.options, spec.half_life);
           },
           nb::arg("key") = "u64", nb::arg("cap") = 8192, nb::arg("backend") = "highway", nb::arg("threads") = 0,
           nb::arg("track_in_flight").none() = nb::none(), nb::arg("hash_seed").none() = nb::none(),
           nb::arg("half_life_ns") = kDefaultHalfLifeNs)
      .def("bump",
           [](Registry& r, nb::handle key, nb::handle now_ns, nb::handle half_life_ns) {
             const Instant now = instant_from_ns(to_time_ns(now_ns, "now_ns"));
             const Duration half_life = to_half_life(half_life_ns, r.half_life(), "half_life_ns");
             with_key(r, key, [&](auto& registry, const auto& k) { registry.entry(k, half_life, now).bump(now); });
           },
           nb::arg("key"), nb::arg("now_ns"), nb::arg("half_life_ns").none() = nb::none(), kBumpDoc)
      .def("bump_batch", &bump_batch, nb::arg("keys"), nb::arg("now_ns"),
           nb::arg("half_life_ns").none() = nb::none(), kBumpBatchDoc)
      .def("touch",
           [](Registry& r, nb::handle key, nb::handle now_ns, nb::handle half_life_ns) {
             const Instant now = instant_from_ns(to_time_ns(now_ns, "now_ns"));
             const Duration half_life = to_half_life(half_life_ns, r.half_life(), "half_life_ns");
             with_key(r, key, [&](auto& registry, const auto& k) { registry.entry(k, half_life, now); });
           },
           nb::arg("key"), nb::arg("now_ns"), nb::arg("half_life_ns").none() = nb::none(), kTouchDoc)
      .def("decay",
           [](Registry& r, nb::handle key, nb::handle now_ns) {
             const Instant now = instant_from_ns(to_time_ns(now_ns, "now_ns"));
             with_key(r, key, [&](auto& registry, const auto& k) {
               // entry() only finds here: the key is known to be present.
               if (registry.contains(k)) registry.entry(k, r.half_life(), now).decay_to(now);
             });
           },
           nb::arg("key"), nb::arg("now_ns"), kDecayDoc)
      .def("tick", &tick, nb::arg("policy"), nb::arg("now_ns"), kTickDoc)
      .def("commit", &commit, nb::arg("candidates"), nb::arg("only").none() = nb::none(), kCommitDoc)
      .def("rollback",
           [](Registry& r, nb::handle key) { with_key(r, key, [](auto& registry, const auto& k) { registry.rollback(k); }); },
           nb::arg("key"), kRollbackDoc)
      .def("remove",
           [](Registry& r, nb::handle key) { with_key(r, key, [](auto& registry, const auto& k) { registry.remove(k); }); },
           nb::arg("key"), kRemoveDoc)
      .def("get", &get, nb::arg("key"), kGetDoc)
      .def("__contains__",
           [](Registry& r, nb::handle key) {
             return with_key(r, key, [](auto& registry, const auto& k) { return registry.contains(k); });
           },
           nb::arg("key"), "Whether `key` has a counter (a key of the wrong type raises TypeError).")
      .def("__len__",
           [](Registry& r) {
             return r.visit([&](auto& registry) {
               const auto lock = lock_holding_gil(r.mutex());
               return registry.size();
             });
           },
           "The number of counters.")
      .def("to_numpy", &registry_columns, kToNumpyDoc)
      .def("memory_usage", &memory_usage, kMemoryUsageDoc)
      .def("stats", &registry_stats, kStatsDoc)
      .def("save", &save_registry, nb::arg("path"), nb::arg("application").none() = nb::none(), kSaveDoc)
      .def_static("load", &load_registry, nb::arg("path"), nb::arg("backend") = "highway", nb::arg("threads") = 0,
                  nb::arg("hash_seed").none() = nb::none(), nb::arg("half_life_ns") = kDefaultHalfLifeNs,
                  nb::arg("with_application") = false, kLoadDoc)
      .def_prop_ro("key", [](Registry& r) { return r.blob_keys() ? "bytes32" : "u64"; },
                   "\"u64\" or \"bytes32\".")
      .def_prop_ro("cap", [](Registry& r) { return r.visit([](auto& registry) { return registry.cap(); }); },
                   "The most counters kept (0: unbounded); past it the least recently updated is evicted.")
      .def_prop_ro("backend",
                   [](Registry& r) { return r.visit([](auto& registry) { return std::string(registry.backend()); }); },
                   "The backend's name (see heatkit.backends()).")
      .def_prop_ro("tracks_in_flight",
                   [](Registry& r) { return r.visit([](auto& registry) { return registry.tracks_in_flight(); }); },
                   "Whether ticked candidates are marked in flight until commit or rollback.")
      .def_prop_ro("half_life_ns", [](Registry& r) { return to_ns(r.half_life()); },
                   "The half-life (ns) a bump, touch or bump_batch gives the counters it creates by default.")
      .def("__repr__", &repr);
}

}  // namespace heatkit::python
