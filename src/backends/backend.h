// Run-time backend selection by name. Each backend is a way to store the
// columns and run the bulk passes; the registry above it is the same for all.
//
// Threads: every backend runs its passes on resolve_threads(threads) threads
// (util/thread_pool.h): 0 is every hardware thread, and a request above the
// hardware threads is capped at them, whether the passes run on the shared
// pool (scalar, highway), on an OpenMP team (thrust-omp) or only the host's
// share of them (cuda, thrust).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/counter_store.h"

namespace heatkit {

struct BackendInfo {
  std::string name;
  std::string description;
  bool available = false;
  std::string unavailable_reason;  // empty when available
  // Its tick uses TickParams::shared_half_life instead of reading the
  // half-life column (so moves 41 bytes per counter, not 49).
  bool tick_uses_shared_half_life = false;
  // Its columns live in device memory (the host keeps a mirror of
  // last_update: registry/memory_estimate.h).
  bool device_columns = false;
};

// Every backend this build knows, in a stable order, with whether it can run
// on this machine (and why not).
std::vector<BackendInfo> list_backends();

// The entry of list_backends() named `name`; throws UnknownBackend when none is.
BackendInfo backend_info(std::string_view name);

// The backend used when none is named.
std::string_view default_backend() noexcept;

// Thrown by make_store for a name no backend has.
class UnknownBackend : public std::invalid_argument {
 public:
  explicit UnknownBackend(std::string_view name);
};

// Thrown by make_store for a known backend that cannot run here.
class BackendUnavailable : public std::runtime_error {
 public:
  BackendUnavailable(std::string_view name, std::string_view reason);
};

// A fresh, empty store of backend `name`.
std::unique_ptr<CounterStore> make_store(std::string_view name);

}  // namespace heatkit
