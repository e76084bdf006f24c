#include "cuda/cuda_backend.h"

#include <cuda_runtime_api.h>

#include <exception>
#include <string>

#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"
#include "cuda/device_store.h"

#ifndef HEATKIT_CUDA_ARCHITECTURES
#define HEATKIT_CUDA_ARCHITECTURES "unknown"
#endif

namespace heatkit::gpu {
namespace {

constexpr int kProbeValue = 0x4ea7;

__global__ void probe_kernel(int* out) { *out = kProbeValue; }

std::string error_text(cudaError_t code) {
  return std::string(cudaGetErrorName(code)) + " (" + cudaGetErrorString(code) + ")";
}

// Why the current device cannot run heatkit's kernels, or empty.
std::string probe_device() {
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    (void)cudaGetLastError();
    return "cudaGetDeviceCount failed: " + error_text(e) + "; no NVIDIA GPU or driver here?";
  }
  if (count == 0) return "cudaGetDeviceCount found no CUDA device";
  try {
    int device = 0;
    HEATKIT_CUDA_CHECK(cudaGetDevice(&device));
    cudaDeviceProp props{};
    HEATKIT_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
    const std::string which = "CUDA device " + std::to_string(device) + " (" + props.name +
                              ", compute capability " + std::to_string(props.major) + "." +
                              std::to_string(props.minor) + ")";
    DeviceBuffer<int> result(1);
    probe_kernel<<<1, 1>>>(result.data());
    if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) {
      return which + " cannot run this build's kernels (built for CUDA architectures " +
             HEATKIT_CUDA_ARCHITECTURES + "): launching a probe kernel failed with " +
             error_text(e);
    }
    int value = 0;
    HEATKIT_CUDA_CHECK(cudaMemcpy(&value, result.data(), sizeof value, cudaMemcpyDeviceToHost));
    if (value != kProbeValue) {
      return which + " ran a probe kernel but it wrote " + std::to_string(value) + ", not " +
             std::to_string(kProbeValue);
    }
    return {};
  } catch (const std::exception& e) {
    return std::string("the CUDA device probe failed: ") + e.what();
  }
}

}  // namespace

const std::string& unavailable_reason() {
  static const std::string reason = probe_device();
  return reason;
}

void use_device(int ordinal) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    (void)cudaGetLastError();  // no GPU: unavailable_reason() says so when a store is made
    return;
  }
  HEATKIT_CUDA_CHECK(cudaSetDevice((ordinal % count + count) % count));
}

std::unique_ptr<CounterStore> make_cuda_store() {
  return std::make_unique<DeviceCounterStore>(DevicePasses::kCudaKernels);
}

std::unique_ptr<CounterStore> make_thrust_store() {
  return std::make_unique<DeviceCounterStore>(DevicePasses::kThrust);
}

}  // namespace heatkit::gpu
