// Snapshots from Python: Registry.save, Registry.load, inspect_snapshot and
// heatkit.SnapshotError. Reading and writing files run with the GIL
// released; a save holds the registry's mutex, as tick does.
#include "snapshot.h"

#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>

#include <heatkit/snapshot.h>

namespace heatkit::python {
namespace {

// heatkit.SnapshotError and heatkit.SnapshotIOError, made at import; never freed.
PyObject* snapshot_error_type = nullptr;
PyObject* snapshot_io_error_type = nullptr;

constexpr const char* kSnapshotErrorDoc = R"(A snapshot could not be written or read; nothing was loaded.

str(error) names the file, the section or field at fault and what was
expected. `problem` says which rule failed: "io", "not a snapshot",
"version", "key type", "registry kind", "truncated", "checksum" or
"inconsistent" (docs/SNAPSHOT_FORMAT.md). Problems of "io" are raised as
SnapshotIOError, which is also an OSError.)";

constexpr const char* kSnapshotIOErrorDoc = R"(A SnapshotError whose problem is "io": the file could not be opened, read,
written or flushed. Also an OSError.)";

constexpr const char* kInspectDoc = R"(What the snapshot at `path` holds, read in full with every checksum verified.

Returns a dict: version, key ("u64" or "bytes32"), shards (1 for a
Registry's snapshot), counters, slots, cap, tracks_in_flight, stats (a dict
as Registry.stats()), earliest_update_ns and latest_update_ns (0 when
there are no counters), application_bytes (0: none) and bytes (the file's
size). Raises SnapshotError for a file that is not a whole, consistent
snapshot. The GIL is released while it reads.)";

void raise_snapshot_error(const SnapshotError& e) {
  PyObject* type = e.problem() == SnapshotProblem::kIo ? snapshot_io_error_type : snapshot_error_type;
  try {
    nb::object error = nb::handle(type)(nb::str(e.what()));
    const std::string_view problem = problem_name(e.problem());
    error.attr("problem") = nb::str(problem.data(), problem.size());
    PyErr_SetObject(type, error.ptr());
  } catch (nb::python_error& failed) {
    failed.restore();  // the error making the error (no memory): raise that
  }
}

// The caller's bytes, copied while the GIL is held so that the save can
// run without it.
std::vector<std::byte> application_bytes(nb::handle application) {
  if (application.is_none()) return {};
  Py_buffer view;
  if (PyObject_GetBuffer(application.ptr(), &view, PyBUF_SIMPLE) != 0) {
    PyErr_Clear();
    throw nb::type_error((std::string("application: expected bytes, bytearray or a contiguous memoryview, got ") +
                          python_type(application)).c_str());
  }
  const auto size = static_cast<std::size_t>(view.len);
  std::vector<std::byte> bytes;
  if (size <= kMaxApplicationBytes) {
    bytes.resize(size);
    if (size != 0) std::memcpy(bytes.data(), view.buf, size);
  }
  PyBuffer_Release(&view);
  if (size > kMaxApplicationBytes) {
    throw nb::value_error(("application: " + std::to_string(size) + " bytes, more than the " +
                           std::to_string(kMaxApplicationBytes) + " a snapshot holds").c_str());
  }
  return bytes;
}

// The file's own key type: a u64 load refuses another key type at the
// header, before it reads anything else.
Registry::Variant load_either_key_type(const std::filesystem::path& path, const RegistryOptions& options,
                                       std::vector<std::byte>* application) {
  try {
    return Registry::Variant(std::in_place_type<HeatRegistry>, HeatRegistry::load(path, options, application));
  } catch (const SnapshotError& e) {
    if (e.problem() != SnapshotProblem::kKeyType) throw;
  }
  return Registry::Variant(std::in_place_type<BlobHeatRegistry>, BlobHeatRegistry::load(path, options, application));
}

nb::dict inspect(const std::filesystem::path& path) {
  SnapshotInfo info;
  {
    nb::gil_scoped_release release;
    info = inspect_snapshot(path);
  }
  nb::dict stats;
  stats["evictions"] = info.stats.evictions;
  stats["pruned"] = info.stats.pruned;
  stats["hash_reseeds"] = info.stats.hash_reseeds;
  nb::dict d;
  d["version"] = info.version;
  d["key"] = info.key_type == "u64" ? "u64" : "bytes32";  // the Python names of key types
  d["shards"] = info.shards;
  d["counters"] = info.counters;
  d["slots"] = info.slots;
  d["cap"] = info.cap;
  d["tracks_in_flight"] = info.tracks_in_flight;
  d["stats"] = stats;
  d["earliest_update_ns"] = info.earliest_update;
  d["latest_update_ns"] = info.latest_update;
  d["application_bytes"] = info.application_bytes;
  d["bytes"] = info.bytes;
  return d;
}

}  // namespace

void save_registry(Registry& r, const std::filesystem::path& path, nb::handle application) {
  const std::vector<std::byte> bytes = application_bytes(application);
  r.visit([&](auto& registry) {
    nb::gil_scoped_release release;
    const std::lock_guard lock(r.mutex());
    registry.save(path, bytes);
  });
}

nb::object load_registry(const std::filesystem::path& path, const std::string& backend, nb::handle threads,
                         nb::handle hash_seed, nb::handle half_life_ns, bool with_application) {
  RegistryOptions options;  // cap and in-flight tracking are the file's
  options.backend = backend;
  options.threads = static_cast<unsigned>(to_count(threads, "threads", kMaxThreads));
  if (!hash_seed.is_none()) options.hash_seed = to_u64_key(hash_seed, "hash_seed");
  const Duration half_life = to_half_life(half_life_ns, Duration(kDefaultHalfLifeNs), "half_life_ns");
  std::vector<std::byte> application;
  std::optional<Registry::Variant> loaded;
  {
    nb::gil_scoped_release release;
    loaded.emplace(load_either_key_type(path, options, with_application ? &application : nullptr));
  }
  nb::object registry = nb::cast(std::make_unique<Registry>(std::move(*loaded), half_life));
  if (!with_application) return registry;
  return nb::make_tuple(registry, nb::bytes(application.data(), application.size()));
}

void bind_snapshot(nb::module_& m) {
  snapshot_error_type =
      PyErr_NewExceptionWithDoc("heatkit.SnapshotError", kSnapshotErrorDoc, PyExc_RuntimeError, nullptr);
  if (snapshot_error_type == nullptr) throw nb::python_error();
  nb::object bases = nb::make_tuple(nb::handle(snapshot_error_type), nb::handle(PyExc_OSError));
  snapshot_io_error_type =
      PyErr_NewExceptionWithDoc("heatkit.SnapshotIOError", kSnapshotIOErrorDoc, bases.ptr(), nullptr);
  if (snapshot_io_error_type == nullptr) throw nb::python_error();
  m.attr("SnapshotError") = nb::handle(snapshot_error_type);
  m.attr("SnapshotIOError") = nb::handle(snapshot_io_error_type);
  // Tried before nanobind's own translators, which would raise RuntimeError.
  nb::register_exception_translator([](const std::exception_ptr& error, void*) {
    try {
      std::rethrow_exception(error);
    } catch (const SnapshotError& e) {
      raise_snapshot_error(e);
    }
  });
  m.def("inspect_snapshot", &inspect, nb::arg("path"), kInspectDoc);
}

}  // namespace heatkit::python
