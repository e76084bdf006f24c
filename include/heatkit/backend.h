// Backends by name. Each backend is a way to store the counters' columns and
// run the bulk passes (tick, prune); the registry above it is the same for
// all. A registry names its backend in RegistryOptions::backend.
//
// Threads: every backend runs its passes on the threads asked for (0: every
// hardware thread), and a request above the hardware threads is capped at
// them, whether the passes run on a thread pool (scalar, highway), on an
// OpenMP team (thrust-omp) or only the host's share of them (cuda, thrust).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace heatkit {

struct BackendInfo {
  std::string name;
  std::string description;
  bool available = false;
  std::string unavailable_reason;  // empty when available
  // Its tick is told the half-life every counter shares, when they do,
  // instead of reading the half-life column (so moves 41 bytes per counter,
  // not 49).
  bool tick_uses_shared_half_life = false;
  // Its columns live in device memory (the host keeps a mirror of
  // last_update).
  bool device_columns = false;
  // Its counters are forward-decayed (kept against a landmark, so a tick
  // reads them and writes nothing but its candidates' in-flight marks);
  // otherwise literal, as SEMANTICS.md words them (the `scalar` reference).
  bool forward_decay = false;
};

// Every backend this build knows, in a stable order, with whether it can run
// on this machine (and why not).
std::vector<BackendInfo> list_backends();

// The entry of list_backends() named `name`; throws UnknownBackend when none is.
BackendInfo backend_info(std::string_view name);

// The backend used when none is named.
std::string_view default_backend() noexcept;

// Thrown for a backend name no backend has (a registry's options, backend_info).
class UnknownBackend : public std::invalid_argument {
 public:
  explicit UnknownBackend(std::string_view name);
};

// Thrown for a known backend that cannot run here (a registry's options).
class BackendUnavailable : public std::runtime_error {
 public:
  BackendUnavailable(std::string_view name, std::string_view reason);
};

}  // namespace heatkit
