// Errors at the CUDA boundary: every runtime call and kernel launch goes
// through HEATKIT_CUDA_CHECK / HEATKIT_CUDA_CHECK_LAUNCH, which throw a
// CudaError naming the call, where it was made and what CUDA said. Kernels
// never throw; the host code that launched them does.
#pragma once

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace heatkit::gpu {

class CudaError : public std::runtime_error {
 public:
  CudaError(cudaError_t code, std::string_view call, std::string_view file, int line)
      : std::runtime_error(describe(code, call, file, line)), code_(code), call_(call) {}

  cudaError_t code() const noexcept { return code_; }
  // The call as written at the check, e.g. "cudaMalloc(&data, bytes)".
  const std::string& call() const noexcept { return call_; }

 private:
  static std::string describe(cudaError_t code, std::string_view call, std::string_view file,
                              int line) {
    std::string out = "CUDA call ";
    out += call;
    out += " failed at ";
    out += file;
    out += ':';
    out += std::to_string(line);
    out += ": ";
    out += cudaGetErrorName(code);
    out += " (";
    out += cudaGetErrorString(code);
    out += ')';
    return out;
  }

  cudaError_t code_;
  std::string call_;
};

// Throws CudaError for anything but cudaSuccess. Resets the runtime's
// last-error state first, so a later unrelated check does not report this
// (non-sticky) error again.
inline void check_cuda(cudaError_t code, std::string_view call, std::string_view file, int line) {
  if (code == cudaSuccess) return;
  (void)cudaGetLastError();
  throw CudaError(code, call, file, line);
}

}  // namespace heatkit::gpu

// Checks one CUDA runtime call: HEATKIT_CUDA_CHECK(cudaMalloc(&p, bytes)).
#define HEATKIT_CUDA_CHECK(call) ::heatkit::gpu::check_cuda((call), #call, __FILE__, __LINE__)

// Checks the launch just made (bad configuration, no kernel image for this
// device): HEATKIT_CUDA_CHECK_LAUNCH("decide_kernel"). Faults inside the
// kernel surface at the next checked synchronizing call.
#define HEATKIT_CUDA_CHECK_LAUNCH(kernel_name) \
  ::heatkit::gpu::check_cuda(cudaGetLastError(), "launch of " kernel_name, __FILE__, __LINE__)
