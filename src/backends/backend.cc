#include "backends/backend.h"

#include "kernels/highway_kernels.h"
#include "kernels/scalar_kernels.h"
#if HEATKIT_HAVE_THRUST_OMP
#include "thrust/thrust_omp_kernels.h"
#endif
#if HEATKIT_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace heatkit {
namespace {

struct BackendEntry {
  std::string_view name;
  std::string_view description;
  // Empty when the backend can run here; otherwise why not.
  std::string (*unavailable_reason)();
  std::unique_ptr<CounterStore> (*make)();
  bool tick_uses_shared_half_life = false;  // BackendInfo's
  bool device_columns = false;              // BackendInfo's
  bool forward_decay = false;               // BackendInfo's
};

std::string always_available() { return {}; }

#if HEATKIT_HAVE_THRUST_OMP
std::unique_ptr<CounterStore> make_thrust_omp() {
  HostKernels kernels;
  kernels.tick_threaded = &thrust_omp::tick;
  kernels.collect_prunable_threaded = &thrust_omp::collect_prunable;
  return std::make_unique<HostCounterStore>("thrust-omp", kernels, Representation::kForward);
}
#else
std::string thrust_omp_not_built() {
  return "heatkit was built without it (HEATKIT_ENABLE_THRUST_OMP=OFF: no CCCL headers or no OpenMP "
         "at configure time)";
}
std::unique_ptr<CounterStore> make_thrust_omp() { return nullptr; }
#endif

#if HEATKIT_HAVE_CUDA
// Probed once per process: no driver, no device, or no code for this device.
std::string cuda_unavailable_reason() { return gpu::unavailable_reason(); }
std::unique_ptr<CounterStore> make_cuda() { return gpu::make_cuda_store(); }
std::unique_ptr<CounterStore> make_thrust() { return gpu::make_thrust_store(); }
#else
std::string cuda_unavailable_reason() {
  return "heatkit was built without it (HEATKIT_ENABLE_CUDA=OFF, the default when no nvcc is "
         "found)";
}
std::unique_ptr<CounterStore> make_cuda() { return nullptr; }
std::unique_ptr<CounterStore> make_thrust() { return nullptr; }
#endif

// Adding a backend is adding a row here (and its implementation files).
constexpr BackendEntry kBackends[] = {
    {"scalar", "plain C++ reference loops over host columns", &always_available,
     []() -> std::unique_ptr<CounterStore> {
       return std::make_unique<HostCounterStore>(
           "scalar", HostKernels{&scalar::tick, &scalar::collect_prunable});
     }},
    {"highway", "Google Highway SIMD kernels over forward-decayed host columns (best target of this CPU)",
     &always_available, []() -> std::unique_ptr<CounterStore> {
       return std::make_unique<HostCounterStore>(
           "highway", HostKernels{&highway::tick, &highway::collect_prunable},
           Representation::kForward);
     },
     true, false, true},
    {"thrust-omp",
     "Thrust algorithms on the OpenMP device system over forward-decayed host columns (several passes, CPU cores)",
#if HEATKIT_HAVE_THRUST_OMP
     &always_available,
#else
     &thrust_omp_not_built,
#endif
     &make_thrust_omp, true, false, true},
    {"cuda", "hand-written CUDA kernels over forward-decayed device columns (one pass: rate, gate, compaction)",
     &cuda_unavailable_reason, &make_cuda, true, true, true},
    {"thrust", "Thrust algorithms on the CUDA device system over forward-decayed device columns (several passes)",
     &cuda_unavailable_reason, &make_thrust, true, true, true},
};

std::string known_names() {
  std::string names;
  for (const auto& b : kBackends) {
    if (!names.empty()) names += ", ";
    names += b.name;
  }
  return names;
}

}  // namespace

UnknownBackend::UnknownBackend(std::string_view name)
    : std::invalid_argument("unknown backend '" + std::string(name) + "' (known: " +
                            known_names() + ")") {}

BackendUnavailable::BackendUnavailable(std::string_view name, std::string_view reason)
    : std::runtime_error("backend '" + std::string(name) + "' cannot run here: " +
                         std::string(reason)) {}

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> out;
  for (const auto& b : kBackends) {
    std::string reason = b.unavailable_reason();
    out.push_back(BackendInfo{std::string(b.name), std::string(b.description), reason.empty(),
                              std::move(reason), b.tick_uses_shared_half_life, b.device_columns,
                              b.forward_decay});
  }
  return out;
}

BackendInfo backend_info(std::string_view name) {
  for (BackendInfo& b : list_backends()) {
    if (b.name == name) return std::move(b);
  }
  throw UnknownBackend(name);
}

// The fastest CPU backend; `scalar` stays the reference the others are tested against.
std::string_view default_backend() noexcept { return "highway"; }

void use_gpu([[maybe_unused]] int ordinal) {
#if HEATKIT_HAVE_CUDA
  gpu::use_device(ordinal);
#endif
}

std::unique_ptr<CounterStore> make_store(std::string_view name) {
  for (const auto& b : kBackends) {
    if (b.name != name) continue;
    if (std::string reason = b.unavailable_reason(); !reason.empty()) {
      throw BackendUnavailable(name, reason);
    }
    return b.make();
  }
  throw UnknownBackend(name);
}

}  // namespace heatkit
