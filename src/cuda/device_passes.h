// The device passes of the `cuda` backend as free functions over device
// column pointers (CounterColumns whose pointers are device memory). They own
// no columns and know nothing of keys; DeviceCounterStore (cuda/device_store.cu)
// calls them on its stream, and the GPU benchmarks time them with CUDA events.
//
// The columns hold forward encodings (math/forward_math.h). The frame lives
// on the host: each pass takes a copy by value (ForwardFrame, or the fast
// tick's forward_pass::TickInputs), never CounterColumns::frame, a host
// pointer, and none changes it: the caller applies what a pass means to the
// frame (forward_after_tick after a tick, note_write for bumps).
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
#include "math/forward_math.h"
#include "thrust/forward_tick.h"

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

// What one pass of the one-pass tick kernel (cuda/one_pass_tick.cuh) does
// to each counter, and what it reads.
enum class TickStep {
  // The fast tick of a forward store (forward_pass::tick_one): reads s,
  // last_emitted and flags, the half-life unless TickParams::shared_half_life
  // stands for it, last_update only where s is literal; writes s only where
  // it was literal, flags where marked in flight.
  kForward,
  // The relayout tick (forward_pass::relayout_one) under the frame before
  // it: reads every column; writes s, last_update where it lay past now,
  // flags where marked.
  kRelayout,
  // tick_one on literal columns: reads every column, writes rate and
  // last_update, flags where marked.
  kLiteral,
};

// The fast tick in one pass (what the store runs while
// forward_tick_allowed(frame, params.now) holds; `in` from
// forward_pass::tick_inputs): one kernel computes every slot's rate at
// params.now from its s (forward_pass::tick_one), applies the gate, marks in
// flight where asked, and writes the candidates straight to
// scratch.candidates in slot order (count in scratch.count), each tile
// placing its candidates after the tiles before it by decoupled look-back,
// as CUB's DeviceSelect does. Bytes through device memory: s, last_emitted
// and flags read (17 per counter), the half-life too unless
// params.shared_half_life stands for it (8), last_update read and s written
// only for literal counters, flags written where marked in flight, and 16
// per candidate. The price is candidate room for every slot (16 bytes per
// counter), since the count is not known before the pass. The kernel is a
// template over its step and shape (cuda/one_pass_tick.cuh): this runs 256
// threads x 4 rows; the GPU benchmarks compare other shapes, the literal
// tick and a two-pass tick.
void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           const forward_pass::TickInputs& in, PassScratch& scratch,
                           cudaStream_t stream);

// The relayout tick in one pass (forward_pass::relayout_one under `before`,
// the frame before the tick), otherwise as enqueue_one_pass_tick: every
// column read, s written, last_update where it lay past params.now. Rare:
// once per kRescaleHalfLives shortest half-lives, or after writes later than
// the tick.
void enqueue_relayout_tick(const CounterColumns& c, const TickParams& params,
                           const ForwardFrame& before, PassScratch& scratch, cudaStream_t stream);

// Prune: the slots with forward_prunable under `frame`, in slot order, into
// scratch.selected (count in scratch.count). s and half-life are read only
// for counters withdrawn or emitted at <= 0 (forward_pass::prunable).
void enqueue_select_prunable(const CounterColumns& c, const ForwardFrame& frame,
                             PassScratch& scratch, cudaStream_t stream);

// Fills p[0, n) with -0.0: empty slots of a forward store (rate 0 stored
// literally, so they read last_update 0, the column's, until the next tick
// converts them, as an empty slot of the literal store reads).
void enqueue_fill_literal_zero(double* p, std::size_t n, cudaStream_t stream);

// p[i] = -p[i] for i < n: literal rates (non-negative) stored as literal
// counters of a forward store (an upload of literal columns).
void enqueue_store_literal(double* p, std::size_t n, cudaStream_t stream);

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
// to `c` under `frame` (the frame their queueing left, note_queued): the
// result equals applying them one by one in queue order (apply_op).
// Ops are stably sorted by slot; within a slot, consecutive bumps at the same
// instant form one group applied as one decay and one addition of the group's
// size (a million duplicate bumps of one slot at one `now` cost one step, not a
// million); each slot's groups are then applied in order by one thread.
// Ops on slots >= c.size are ignored (callers check slots when queueing).
void enqueue_apply_ops(const CounterColumns& c, const ForwardFrame& frame, std::size_t count,
                       OpScratch& scratch, cudaStream_t stream);

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
// each slot's run is the affine recurrence x -> x * 0.5^(dt/half_life) + 1
// on its literal rate (forward_decode under `frame` at the run's first
// read), composed with a segmented scan, so a slot read a million times
// costs a scan, not a million dependent steps; the result is stored at the
// run's last read, forward where the frame holds it (store_literal_state).
// Results agree with the sequential order up to rounding (far inside
// SEMANTICS.md's 1e-12). Where a step of more than 52 half-lives could meet
// the epsilon clamp the recurrence is not affine: such batches are applied
// run by run in order instead (forward_bump, exact). Reads of slots >=
// c.size are ignored. The frame is not changed: the caller notes each
// touched slot's last time as a write (ForwardFrame::note_write).
// Reads back (and waits for) the number of distinct slots touched; their
// (slot, last time) pairs are then in `touched_slots` / `touched_times`
// (device, grown to fit), for callers that mirror last_update on the host.
std::size_t apply_timed_bumps(const CounterColumns& c, const ForwardFrame& frame,
                              const std::uint32_t* slots,
                              const std::int64_t* times, std::size_t n, BumpScratch& scratch,
                              DeviceBuffer<std::uint32_t>& touched_slots,
                              DeviceBuffer<std::int64_t>& touched_times, cudaStream_t stream);

}  // namespace heatkit::gpu
