// The pieces of the heatkit._heatkit module, one per file, and the
// conversions they share: Python values to keys, times and counts, with
// errors that name the argument (TypeError for a wrong type, ValueError for
// a value out of range), and keys back to Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

#include <nanobind/nanobind.h>

#include <heatkit/registry.h>
#include <heatkit/time.h>

namespace heatkit::python {

namespace nb = nanobind;

// An int (or a numpy integer) in [0, 2**64 - 1]; not a bool.
std::uint64_t to_u64_key(nb::handle value, const char* name);
// 32 bytes: bytes, bytearray, memoryview or a uint8 array of 32 elements.
BlobKey to_blob_key(nb::handle value, const char* name);

template <class Key>
Key to_key(nb::handle value, const char* name) {
  if constexpr (std::is_same_v<Key, BlobKey>) {
    return to_blob_key(value, name);
  } else {
    return to_u64_key(value, name);
  }
}

// Nanoseconds in [0, 2**63 - 1] (the trace format's times).
std::int64_t to_time_ns(nb::handle value, const char* name);
// A half-life in nanoseconds, >= 0; None gives `fallback`.
Duration to_half_life(nb::handle value, Duration fallback, const char* name);
// A count in [0, `most`].
std::uint64_t to_count(nb::handle value, const char* name, std::uint64_t most);

nb::object key_object(std::uint64_t key);
nb::object key_object(const BlobKey& key);

// The name of `value`'s type, for messages.
const char* python_type(nb::handle value);

// Locks a registry's mutex from a thread that holds the GIL. It only tries
// while holding the GIL and waits with it released, so a thread that holds
// the mutex and waits for the GIL (a tick returning) never deadlocks with it.
std::unique_lock<std::mutex> lock_holding_gil(std::mutex& mutex);

void bind_policy(nb::module_& m);        // policy_binding.cc
void bind_candidates(nb::module_& m);    // candidates_binding.cc
void bind_registry(nb::module_& m);      // registry_binding.cc
void bind_snapshot(nb::module_& m);      // snapshot_binding.cc
void bind_cli(nb::module_& m);           // cli_binding.cc
void bind_native_timing(nb::module_& m); // native_timing.cc

}  // namespace heatkit::python
