// The GPU benchmarks' tick shapes (tick_shapes.h): the library's one-pass
// kernel (cuda/one_pass_tick.cuh) in every step and shape, and the literal
// two-pass tick.
// Compiled with heatkit's numeric options (--fmad=false, bench/CMakeLists.txt).
#include "bench/gpu/tick_shapes.h"

#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cstdint>

#include "cuda/cuda_error.h"
#include "cuda/grid_stride.cuh"
#include "cuda/one_pass_tick.cuh"

namespace heatkit::gpu_bench {
namespace {

using gpu::blocks_for;
using gpu::enqueue_one_pass_tick_shape;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;

// The fused literal tick: decay and gate of every slot (tick_one), one decision byte each.
__global__ void decide_kernel(CounterColumns c, TickParams params, Decision* decisions) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) {
    decisions[i] = tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i],
                            c.flags[i], params);
  }
}

// candidates[i] for the i-th selected slot, i < *count (<= capacity).
__global__ void gather_candidates_kernel(const double* rate, const Decision* decisions,
                                         const std::uint32_t* selected, const std::int64_t* count,
                                         std::size_t capacity, Candidate* candidates) {
  const auto n = static_cast<std::size_t>(*count) < capacity ? static_cast<std::size_t>(*count)
                                                             : capacity;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::uint32_t slot = selected[i];
    const Decision d = decisions[slot];
    candidates[i] = Candidate{slot, d, d == Decision::kEmit ? rate[slot] : 0.0};
  }
}

}  // namespace

namespace {

template <gpu::TickStep Step>
void enqueue_tile(const CounterColumns& c, const TickParams& params,
                  const forward_pass::TickInputs& in, gpu::PassScratch& scratch,
                  cudaStream_t stream, TickTile tile) {
  switch (tile) {
    case TickTile::k256x4:
      enqueue_one_pass_tick_shape<Step, 256, 4>(c, params, in, scratch, stream);
      break;
    case TickTile::k256x8:
      enqueue_one_pass_tick_shape<Step, 256, 8>(c, params, in, scratch, stream);
      break;
    case TickTile::k128x8:
      enqueue_one_pass_tick_shape<Step, 128, 8>(c, params, in, scratch, stream);
      break;
    case TickTile::k512x2:
      enqueue_one_pass_tick_shape<Step, 512, 2>(c, params, in, scratch, stream);
      break;
    case TickTile::k256x2_pairs:
      enqueue_one_pass_tick_shape<Step, 256, 2, 2>(c, params, in, scratch, stream);
      break;
    case TickTile::k256x4_streaming:
      enqueue_one_pass_tick_shape<Step, 256, 4, 1, true>(c, params, in, scratch, stream);
      break;
    case TickTile::k256x2_pairs_streaming:
      enqueue_one_pass_tick_shape<Step, 256, 2, 2, true>(c, params, in, scratch, stream);
      break;
  }
}

}  // namespace

void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           const forward_pass::TickInputs& in, gpu::PassScratch& scratch,
                           cudaStream_t stream, TickTile tile, gpu::TickStep step) {
  switch (step) {
    case gpu::TickStep::kForward:
      enqueue_tile<gpu::TickStep::kForward>(c, params, in, scratch, stream, tile);
      break;
    case gpu::TickStep::kRelayout:
      enqueue_tile<gpu::TickStep::kRelayout>(c, params, in, scratch, stream, tile);
      break;
    case gpu::TickStep::kLiteral:
      enqueue_tile<gpu::TickStep::kLiteral>(c, params, in, scratch, stream, tile);
      break;
  }
}

void enqueue_decide_and_select(const CounterColumns& c, const TickParams& params,
                               gpu::PassScratch& scratch, cudaStream_t stream) {
  const std::size_t n = c.size;
  scratch.decisions.reserve_discarding(n);
  scratch.selected.reserve_discarding(n);
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  decide_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(c, params, scratch.decisions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("decide_kernel");
  // Stable compaction of the slots whose decision byte is not Suppress (0):
  // only the flags are read, so the pass moves one byte per slot.
  const thrust::counting_iterator<std::uint32_t> all_slots(0);
  const auto* flags = reinterpret_cast<const std::uint8_t*>(scratch.decisions.data());
  const auto items = static_cast<std::int64_t>(n);
  // CUB's documented way: a size query with null storage, then the run.
  const auto select = [&](void* storage, std::size_t& bytes) {
    return cub::DeviceSelect::Flagged(storage, bytes, all_slots, flags, scratch.selected.data(),
                                      scratch.count.data(), items, stream);
  };
  std::size_t bytes = 0;
  HEATKIT_CUDA_CHECK(select(nullptr, bytes));
  scratch.temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
  HEATKIT_CUDA_CHECK(select(scratch.temp.data(), bytes));
}

void enqueue_gather_candidates(const CounterColumns& c, gpu::PassScratch& scratch,
                               std::size_t capacity, cudaStream_t stream) {
  if (capacity == 0) return;
  scratch.candidates.reserve_discarding(capacity);
  gather_candidates_kernel<<<blocks_for(capacity), kBlockSize, 0, stream>>>(
      c.rate, scratch.decisions.data(), scratch.selected.data(), scratch.count.data(), capacity,
      scratch.candidates.data());
  HEATKIT_CUDA_CHECK_LAUNCH("gather_candidates_kernel");
}

}  // namespace heatkit::gpu_bench
