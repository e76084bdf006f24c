// The device passes of the `cuda` backend as free functions over device
// column pointers (CounterColumns whose pointers are device memory). They own
// no columns and know nothing of keys; DeviceCounterStore (cuda/device_store.cu)
// calls them on its stream, and the GPU benchmarks time them with CUDA events.
//
// Every function only enqueues work on `stream` (no synchronization) unless
// its comment says it reads something back. Every launch and CUDA call is
// checked (CudaError). Scratch buffers grow on demand and are then reused.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "cuda/device_buffer.h"
#include "cuda/device_ops.h"
#include "math/counter_math.h"

namespace heatkit::gpu {

// Scratch of the tick and prune passes.
struct PassScratch {
  DeviceBuffer<Decision> decisions;      // one byte per slot (the Thrust passes)
  DeviceBuffer<std::uint32_t> selected;  // compacted slots, up to one per slot
  DeviceBuffer<Candidate> candidates;    // gathered candidates
  DeviceBuffer<std::int64_t> count{1};   // how many slots were selected
  DeviceBuffer<std::byte> temp;          // CUB's temporary storage
  DeviceBuffer<std::byte> tile_status;   // the one-pass tick's look-back states

  std::size_t bytes() const noexcept {
    return decisions.bytes() + selected.bytes() + candidates.bytes() + count.bytes() + temp.bytes() +
           tile_status.bytes();
  }
};

// The tick in one pass (what the store runs): one kernel decays every slot,
// applies the gate, marks in flight where asked, and writes the candidates
// straight to scratch.candidates in slot order (count in scratch.count),
// each tile placing its candidates after the tiles before it by decoupled
// look-back, as CUB's DeviceSelect does. Bytes through device memory: the
// tick's own (rate and last_update read and written, last_emitted, half_life
// and flags read; flags written where marked in flight) and 16 per
// candidate. The price is candidate room for every slot (16 bytes per
// counter), since the count is not known before the pass. The kernel is a
// template over its shape (cuda/one_pass_tick.cuh): this runs 256 threads x
// 4 rows; the GPU benchmarks compare other shapes and a two-pass tick.
void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           PassScratch& scratch, cudaStream_t stream);

// Prune: the slots with is_prunable, in slot order, into scratch.selected
// (count in scratch.count).
void enqueue_select_prunable(const CounterColumns& c, PassScratch& scratch, cudaStream_t stream);

// Copies scratch.count back and waits for the stream: the number of selected
// slots. Throws std::logic_error if it exceeds `at_most`.
std::size_t read_selected_count(PassScratch& scratch, cudaStream_t stream, std::size_t at_most);

// Scratch of the per-slot operation flush.
struct OpScratch {
  DeviceBuffer<PendingOp> ops;
  DeviceBuffer<std::uint32_t> slots, slots_sorted, positions, positions_sorted;
  DeviceBuffer<std::uint32_t> group_heads;  // sorted positions starting a group
  DeviceBuffer<std::int64_t> group_count{1};
  DeviceBuffer<std::byte> temp;

  std::size_t bytes() const noexcept {
    return ops.bytes() + slots.bytes() + slots_sorted.bytes() + positions.bytes() +
           positions_sorted.bytes() + group_heads.bytes() + group_count.bytes() + temp.bytes();
  }
};

// Applies ops[0, count) (already in scratch.ops on the device, count <= 2^32 - 1)
// to `c`: the result equals applying them one by one in queue order (apply_op).
// Ops are stably sorted by slot; within a slot, consecutive bumps at the same
// instant form one group applied as one decay and one addition of the group's
// size (a million duplicate bumps of one slot at one `now` cost one step, not a
// million); each slot's groups are then applied in order by one thread.
// Ops on slots >= c.size are ignored (callers check slots when queueing).
void enqueue_apply_ops(const CounterColumns& c, std::size_t count, OpScratch& scratch,
                       cudaStream_t stream);

// One read of a timed bump batch as a map of the rate, x -> a * x + b: the
// run's first read sets the rate (a = 0), each later one decays by the factor
// of its gap and adds one. Composing the maps of a run in order gives its rate.
struct AffineStep {
  double a = 1.0;
  double b = 0.0;
};

// Scratch of timed bump batches.
struct BumpScratch {
  DeviceBuffer<std::uint32_t> slots_sorted, order, order_sorted;
  DeviceBuffer<AffineStep> steps;       // per sorted read, then scanned per slot
  DeviceBuffer<std::uint32_t> touched;  // sorted positions ending a slot's run
  DeviceBuffer<std::int64_t> touched_count{1};
  DeviceBuffer<std::uint32_t> flags{2};  // [0] the serial fallback is needed, [1] max slot
  DeviceBuffer<std::byte> temp;

  std::size_t bytes() const noexcept {
    return slots_sorted.bytes() + order.bytes() + order_sorted.bytes() + steps.bytes() +
           touched.bytes() + touched_count.bytes() + flags.bytes() + temp.bytes();
  }
};

// Bumps slots[i] at times[i] for i in [0, n) (device arrays; n <= 2^32 - 1),
// with the result of bump(slots[i], times[i]) called in order i = 0, 1, ...
// (SEMANTICS.md), computed in parallel: the reads are stably sorted by slot;
// each slot's run is the affine recurrence x -> x * 0.5^(dt/half_life) + 1,
// composed with a segmented scan, so a slot read a million times costs a
// scan, not a million dependent steps. Results agree with the sequential
// order up to rounding (far inside SEMANTICS.md's 1e-12). Where a step of
// more than 52 half-lives could meet the epsilon clamp the recurrence is not
// affine: such batches are applied run by run in order instead (exact).
// Reads of slots >= c.size are ignored.
// Reads back (and waits for) the number of distinct slots touched; their
// (slot, last time) pairs are then in `touched_slots` / `touched_times`
// (device, grown to fit), for callers that mirror last_update on the host.
std::size_t apply_timed_bumps(const CounterColumns& c, const std::uint32_t* slots,
                              const std::int64_t* times, std::size_t n, BumpScratch& scratch,
                              DeviceBuffer<std::uint32_t>& touched_slots,
                              DeviceBuffer<std::int64_t>& touched_times, cudaStream_t stream);

}  // namespace heatkit::gpu
