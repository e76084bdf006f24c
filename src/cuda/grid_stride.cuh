// The launch shape of heatkit's grid-stride kernels (device passes, the
// device workload, the GPU benchmarks): 256-thread blocks, at most 8,192 of
// them (enough to fill any current GPU several times; the loops cover the
// rest), 64-bit indices.
#pragma once

#include <algorithm>
#include <cstddef>

namespace heatkit::gpu {

inline constexpr unsigned kBlockSize = 256;
inline constexpr std::size_t kMaxBlocks = 8192;

// Blocks for a grid-stride pass over n items (at least one block).
inline unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>(
      std::clamp<std::size_t>((n + kBlockSize - 1) / kBlockSize, 1, kMaxBlocks));
}

__device__ inline std::size_t first_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::size_t grid_stride() {
  return static_cast<std::size_t>(blockDim.x) * gridDim.x;
}

}  // namespace heatkit::gpu
