// The device passes (cuda/device_passes.h) over forward columns: the one-pass
// fast and relayout ticks (their kernel in cuda/one_pass_tick.cuh), the prune
// selection, the flush of queued per-slot operations, and timed bump batches. Compiled with --fmad=false (cuda/CMakeLists.txt):
// decay and gate must round like the scalar reference.
//
// Kernels are grid-stride loops over 64-bit indices and never throw; every
// launch and runtime call is checked (cuda/cuda_error.h).
#include "cuda/device_passes.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/device/device_select.cuh>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/cuda_error.h"
#include "cuda/grid_stride.cuh"
#include "cuda/one_pass_tick.cuh"

namespace heatkit::gpu {
namespace {

// Bits a radix sort needs for slots below `slot_count` (at least one).
int slot_key_bits(std::size_t slot_count) {
  const auto highest = static_cast<std::uint64_t>(slot_count > 0 ? slot_count - 1 : 0);
  return std::clamp(static_cast<int>(std::bit_width(highest)), 1, 32);
}

// CUB's temporary storage of `bytes` (never null: a null pointer would make
// CUB answer a size query instead of running).
void* temp_storage(DeviceBuffer<std::byte>& temp, std::size_t bytes) {
  temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
  return temp.data();
}

// Runs a CUB device algorithm the documented way: a size query with null
// storage, then the run with that much scratch. `run(storage, bytes)` makes
// the call and returns its cudaError_t.
template <class Run>
void run_cub(const char* what, DeviceBuffer<std::byte>& temp, Run&& run, const char* file,
             int line) {
  std::size_t bytes = 0;
  check_cuda(run(nullptr, bytes), what, file, line);
  check_cuda(run(temp_storage(temp, bytes), bytes), what, file, line);
}
#define HEATKIT_RUN_CUB(what, temp, ...) \
  run_cub(what, temp, [&](void* storage, std::size_t& bytes) { return __VA_ARGS__; }, __FILE__, __LINE__)

// ---------------------------------------------------------------------------
// Tick and prune.

struct IsPrunableSlot {
  CounterColumns columns;
  ForwardFrame frame;
  __device__ bool operator()(std::uint32_t i) const {
    return forward_pass::prunable(columns, i, frame);
  }
};

__global__ void fill_kernel(double* p, std::size_t n, double value) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) p[i] = value;
}

__global__ void negate_kernel(double* p, std::size_t n) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) p[i] = -p[i];
}

// ---------------------------------------------------------------------------
// The flush of queued operations.

__global__ void split_ops_kernel(const PendingOp* ops, std::size_t count, std::uint32_t* slots,
                                 std::uint32_t* positions) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    slots[i] = ops[i].slot;
    positions[i] = static_cast<std::uint32_t>(i);
  }
}

struct IsGroupHead {
  const PendingOp* ops;
  const std::uint32_t* positions;
  __device__ bool operator()(std::uint32_t i) const { return is_group_head(ops, positions, i); }
};

__global__ void apply_groups_kernel(CounterColumns c, ForwardFrame frame, const PendingOp* ops,
                                    const std::uint32_t* sorted_slots,
                                    const std::uint32_t* positions, const std::uint32_t* heads,
                                    const std::int64_t* group_count, std::size_t count) {
  const auto groups = static_cast<std::size_t>(*group_count);
  for (std::size_t g = first_index(); g < groups; g += grid_stride()) {
    apply_groups_at(c, frame, ops, sorted_slots, positions, heads, groups, count, g);
  }
}

// ---------------------------------------------------------------------------
// Timed bumps.

// The sequential bump's decay factor between two reads of one run, or
// whether this gap needs the exact serial path: past 52 half-lives a factor
// below f64 epsilon can meet the epsilon clamp of apply_decay_factor, which is
// not affine (past 64 the rate is exactly 0, which is).
__device__ inline AffineStep later_read_step(std::int64_t previous, std::int64_t now,
                                             std::int64_t half_life_ns, std::uint32_t* needs_serial) {
  if (half_life_ns == 0) return AffineStep{1.0, 1.0};
  const double h = half_lives(previous, now, half_life_ns);
  if (h > kMaxHalfLives) return AffineStep{0.0, 1.0};
  if (h >= 52.0) atomicOr(needs_serial, 1u);
  return AffineStep{decay_factor(h), 1.0};
}

__global__ void order_kernel(std::size_t n, std::uint32_t* order) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    order[i] = static_cast<std::uint32_t>(i);
  }
}

// Each sorted read's step: a run's first read decays the stored rate (its
// literal state under the frame) as bump() does and sets the result (a = 0);
// later reads decay by their gap.
__global__ void timed_steps_kernel(CounterColumns c, ForwardFrame frame,
                                   const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   std::size_t n, AffineStep* steps, std::uint32_t* needs_serial) {
  for (std::size_t j = first_index(); j < n; j += grid_stride()) {
    const std::uint32_t s = slots_sorted[j];
    if (s >= c.size) {
      steps[j] = AffineStep{};
      continue;
    }
    const std::int64_t now = times[order_sorted[j]];
    if (j == 0 || slots_sorted[j - 1] != s) {
      const std::int64_t half_life = c.half_life[s];
      const LiteralState d = forward_decode(c.rate[s], c.last_update[s], half_life, frame);
      steps[j] = AffineStep{0.0, bumped_rate(d.rate, d.last_update, now, half_life)};
    } else {
      steps[j] = later_read_step(times[order_sorted[j - 1]], now, c.half_life[s], needs_serial);
    }
  }
}

// Apply `left`, then `right`.
struct ComposeSteps {
  __device__ AffineStep operator()(const AffineStep& left, const AffineStep& right) const {
    return AffineStep{left.a * right.a, right.a * left.b + right.b};
  }
};

struct IsRunTail {
  const std::uint32_t* slots_sorted;
  std::size_t n;
  __device__ bool operator()(std::uint32_t j) const {
    return j + 1 == n || slots_sorted[j + 1] != slots_sorted[j];
  }
};

// Each run's tail holds the run's composed map: its b is the final rate, at
// the run's last read.
__global__ void store_tails_kernel(CounterColumns c, ForwardFrame frame,
                                   const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   const AffineStep* scanned, const std::uint32_t* tails,
                                   std::size_t tail_count, std::uint32_t* touched_slots,
                                   std::int64_t* touched_times) {
  for (std::size_t k = first_index(); k < tail_count; k += grid_stride()) {
    const std::uint32_t j = tails[k];
    const std::uint32_t s = slots_sorted[j];
    const std::int64_t last = times[order_sorted[j]];
    if (s < c.size) {
      store_literal_state(c.rate[s], c.last_update[s], c.half_life[s], scanned[j].b, last, frame);
    }
    touched_slots[k] = s;
    touched_times[k] = last;
  }
}

// The exact fallback: each run applied in order by one thread.
__global__ void serial_runs_kernel(CounterColumns c, ForwardFrame frame,
                                   const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   const std::uint32_t* tails, std::size_t tail_count,
                                   std::uint32_t* touched_slots, std::int64_t* touched_times) {
  for (std::size_t k = first_index(); k < tail_count; k += grid_stride()) {
    const std::uint32_t end = tails[k];
    const std::uint32_t s = slots_sorted[end];
    std::size_t j = end;
    while (j > 0 && slots_sorted[j - 1] == s) --j;  // the run's head
    if (s < c.size) {
      for (; j <= end; ++j) apply_bumps(c, frame, s, times[order_sorted[j]], 1.0);
    }
    touched_slots[k] = s;
    touched_times[k] = times[order_sorted[end]];
  }
}

}  // namespace

void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           const forward_pass::TickInputs& in, PassScratch& scratch,
                           cudaStream_t stream) {
  enqueue_one_pass_tick_shape<TickStep::kForward, 256, 4>(c, params, in, scratch, stream);
}

void enqueue_relayout_tick(const CounterColumns& c, const TickParams& params,
                           const ForwardFrame& before, PassScratch& scratch, cudaStream_t stream) {
  forward_pass::TickInputs in;
  in.frame = before;
  enqueue_one_pass_tick_shape<TickStep::kRelayout, 256, 4>(c, params, in, scratch, stream);
}

void enqueue_select_prunable(const CounterColumns& c, const ForwardFrame& frame,
                             PassScratch& scratch, cudaStream_t stream) {
  const std::size_t n = c.size;
  scratch.selected.reserve_discarding(n);
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  const thrust::counting_iterator<std::uint32_t> all_slots(0);
  const auto items = static_cast<std::int64_t>(n);
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (prunable slots)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_slots, scratch.selected.data(),
                                        scratch.count.data(), items, IsPrunableSlot{c, frame},
                                        stream));
}

void enqueue_fill_literal_zero(double* p, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  fill_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(p, n, -0.0);
  HEATKIT_CUDA_CHECK_LAUNCH("fill_kernel");
}

void enqueue_store_literal(double* p, std::size_t n, cudaStream_t stream) {
  if (n == 0) return;
  negate_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(p, n);
  HEATKIT_CUDA_CHECK_LAUNCH("negate_kernel");
}

std::size_t read_selected_count(PassScratch& scratch, cudaStream_t stream, std::size_t at_most) {
  std::int64_t selected = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&selected, scratch.count.data(), sizeof selected,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (selected < 0 || static_cast<std::uint64_t>(selected) > at_most) {
    throw std::logic_error("device passes: compaction selected " + std::to_string(selected) +
                           " of " + std::to_string(at_most) + " items");
  }
  return static_cast<std::size_t>(selected);
}

void enqueue_apply_ops(const CounterColumns& c, const ForwardFrame& frame, std::size_t count,
                       OpScratch& scratch, cudaStream_t stream) {
  if (count == 0) return;
  if (count > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 - 1 queued ops");
  scratch.slots.reserve_discarding(count);
  scratch.slots_sorted.reserve_discarding(count);
  scratch.positions.reserve_discarding(count);
  scratch.positions_sorted.reserve_discarding(count);
  scratch.group_heads.reserve_discarding(count);
  split_ops_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(
      scratch.ops.data(), count, scratch.slots.data(), scratch.positions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("split_ops_kernel");

  // Radix sort is stable: equal slots keep their queue order.
  const auto items = static_cast<std::uint32_t>(count);
  const int end_bit = slot_key_bits(c.size);
  HEATKIT_RUN_CUB("cub::DeviceRadixSort::SortPairs (queued ops by slot)", scratch.temp,
                  cub::DeviceRadixSort::SortPairs(
                      storage, bytes, scratch.slots.data(), scratch.slots_sorted.data(),
                      scratch.positions.data(), scratch.positions_sorted.data(), items, 0,
                      end_bit, stream));
  const thrust::counting_iterator<std::uint32_t> all_positions(0);
  const IsGroupHead is_head{scratch.ops.data(), scratch.positions_sorted.data()};
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (op groups)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_positions, scratch.group_heads.data(),
                                        scratch.group_count.data(), items, is_head, stream));
  apply_groups_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(
      c, frame, scratch.ops.data(), scratch.slots_sorted.data(), scratch.positions_sorted.data(),
      scratch.group_heads.data(), scratch.group_count.data(), count);
  HEATKIT_CUDA_CHECK_LAUNCH("apply_groups_kernel");
}

std::size_t apply_timed_bumps(const CounterColumns& c, const ForwardFrame& frame,
                              const std::uint32_t* slots,
                              const std::int64_t* times, std::size_t n, BumpScratch& scratch,
                              DeviceBuffer<std::uint32_t>& touched_slots,
                              DeviceBuffer<std::int64_t>& touched_times, cudaStream_t stream) {
  if (n == 0) return 0;
  if (n > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 - 1 timed bumps");
  const auto items = static_cast<std::uint32_t>(n);
  scratch.slots_sorted.reserve_discarding(n);
  scratch.order.reserve_discarding(n);
  scratch.order_sorted.reserve_discarding(n);
  scratch.steps.reserve_discarding(n);
  scratch.touched.reserve_discarding(n);

  order_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(n, scratch.order.data());
  HEATKIT_CUDA_CHECK_LAUNCH("order_kernel");
  // Slots >= c.size are ignored: sort on every bit so they stay apart.
  constexpr int end_bit = 32;
  HEATKIT_RUN_CUB("cub::DeviceRadixSort::SortPairs (timed bumps by slot)", scratch.temp,
                  cub::DeviceRadixSort::SortPairs(storage, bytes, slots,
                                                  scratch.slots_sorted.data(), scratch.order.data(),
                                                  scratch.order_sorted.data(), items, 0, end_bit,
                                                  stream));
  HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.flags.data(), 0, sizeof(std::uint32_t), stream));
  timed_steps_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(
      c, frame, scratch.slots_sorted.data(), scratch.order_sorted.data(), times, n, scratch.steps.data(),
      scratch.flags.data());
  HEATKIT_CUDA_CHECK_LAUNCH("timed_steps_kernel");

  const thrust::counting_iterator<std::uint32_t> all_positions(0);
  const IsRunTail is_tail{scratch.slots_sorted.data(), n};
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (run tails)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_positions, scratch.touched.data(),
                                        scratch.touched_count.data(), items, is_tail, stream));
  std::int64_t tails = 0;
  std::uint32_t needs_serial = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&tails, scratch.touched_count.data(), sizeof tails,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&needs_serial, scratch.flags.data(), sizeof needs_serial,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (tails <= 0 || static_cast<std::uint64_t>(tails) > n) {
    throw std::logic_error("device passes: " + std::to_string(tails) + " runs in " +
                           std::to_string(n) + " timed bumps");
  }
  const auto tail_count = static_cast<std::size_t>(tails);
  touched_slots.reserve_discarding(tail_count);
  touched_times.reserve_discarding(tail_count);

  if (needs_serial != 0) {
    serial_runs_kernel<<<blocks_for(tail_count), kBlockSize, 0, stream>>>(
        c, frame, scratch.slots_sorted.data(), scratch.order_sorted.data(), times,
        scratch.touched.data(), tail_count, touched_slots.data(), touched_times.data());
    HEATKIT_CUDA_CHECK_LAUNCH("serial_runs_kernel");
    return tail_count;
  }
  // Compose each run's steps in order: a segmented inclusive scan, in place.
  HEATKIT_RUN_CUB("cub::DeviceScan::InclusiveScanByKey (timed bump runs)", scratch.temp,
                  cub::DeviceScan::InclusiveScanByKey(storage, bytes, scratch.slots_sorted.data(),
                                                      scratch.steps.data(), scratch.steps.data(),
                                                      ComposeSteps{}, items, ::cuda::std::equal_to<>{},
                                                      stream));
  store_tails_kernel<<<blocks_for(tail_count), kBlockSize, 0, stream>>>(
      c, frame, scratch.slots_sorted.data(), scratch.order_sorted.data(), times, scratch.steps.data(),
      scratch.touched.data(), tail_count, touched_slots.data(), touched_times.data());
  HEATKIT_CUDA_CHECK_LAUNCH("store_tails_kernel");
  return tail_count;
}

}  // namespace heatkit::gpu
