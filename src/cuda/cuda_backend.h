// The `cuda` and `thrust` backends as backends/backend.cc sees them: whether a
// CUDA device here can run this build's kernels, and the store factories.
// Plain C++ (no CUDA headers), so the host compiler builds the backend table.
#pragma once

#include <memory>
#include <string>

#include "store/counter_store.h"

namespace heatkit::gpu {

// Empty when the current CUDA device can run heatkit's kernels; otherwise why
// not (no driver, no device, or a device this build has no code for). Probes
// once per process (a tiny kernel launch) and never throws.
const std::string& unavailable_reason();

// Makes device `ordinal` modulo the devices here current for the calling
// thread; does nothing when there is no device. Throws CudaError.
void use_device(int ordinal);

// Fresh, empty device stores. Throw CudaError when CUDA fails (call
// unavailable_reason() first; make_store does).
std::unique_ptr<CounterStore> make_cuda_store();    // hand-written kernels + CUB
std::unique_ptr<CounterStore> make_thrust_store();  // Thrust on the CUDA device system

}  // namespace heatkit::gpu
