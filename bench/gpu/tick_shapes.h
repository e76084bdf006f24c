// Tick shapes the GPU benchmarks compare with the library's one-pass tick
// (cuda/device_passes.h enqueue_one_pass_tick, 256 threads x 4 rows): the
// same kernel in other shapes and in each of its steps (the forward store's
// fast and relayout ticks, and the literal tick the forward tick is measured
// against), and the literal tick in two passes. Same results as the
// scalar reference (tests/unit/tick_shapes_test.cc); only the benchmarks run
// them.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "cuda/device_passes.h"
#include "math/counter_math.h"
#include "thrust/forward_tick.h"

namespace heatkit::gpu_bench {

// Shapes of the one-pass tick: threads x rows (slots per thread); `pairs`:
// two adjacent slots per thread and row, read and written with 16-byte
// accesses; `streaming`: evict-first cache hints on the columns. k256x4 is
// the library's.
enum class TickTile {
  k256x4,
  k256x8,
  k128x8,
  k512x2,
  k256x2_pairs,
  k256x4_streaming,
  k256x2_pairs_streaming,
};
// The one-pass tick's `step` in shape `tile` over columns of that step's
// representation: `in` from forward_pass::tick_inputs (kForward), its frame
// the frame before the tick (kRelayout), unused (kLiteral).
void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           const forward_pass::TickInputs& in, gpu::PassScratch& scratch,
                           cudaStream_t stream, TickTile tile, gpu::TickStep step);

// The literal tick in two passes. Part 1: decays every slot of `c` to params.now and
// applies the gate (counter_math.h tick_one, one fused kernel writing one
// decision byte per slot), then compacts the slots whose decision is not
// Suppress, in slot order, into scratch.selected (count in scratch.count, on
// the device) with CUB's DeviceSelect::Flagged. Bytes through device memory:
// the tick's own plus one decision byte written and read.
void enqueue_decide_and_select(const CounterColumns& c, const TickParams& params,
                               gpu::PassScratch& scratch, cudaStream_t stream);

// Part 2: scratch.candidates[i] = (slot, decision, rate) of the i-th selected
// slot, for i < the device count. `capacity` bounds the count (scratch.candidates
// is grown to it): a caller that must not synchronize passes c.size.
void enqueue_gather_candidates(const CounterColumns& c, gpu::PassScratch& scratch, std::size_t capacity,
                               cudaStream_t stream);

}  // namespace heatkit::gpu_bench
