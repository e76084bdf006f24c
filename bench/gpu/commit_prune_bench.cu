// commit_prune/cuda: after a quiet gap in which 90% of counters withdrew,
// enqueue_apply_ops of their kRecord(Withdraw) ops, then
// enqueue_select_prunable (checked to select exactly those 90%), on forward
// columns (each counter's s is its rate at the tick after the gap, the
// frame's landmark and last tick).
#include "bench/gpu/rows.h"
#include "cuda/device_passes.h"
#include "cuda/grid_stride.cuh"

namespace heatkit::gpu_bench {
namespace {

using gpu::blocks_for;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;

// commit_prune's state: every counter emitted at some level, then a quiet gap
// of far more than 64 half-lives in which only every 10th counter was read
// (rate back to its level): the other 90% decayed to exactly 0 and the tick
// after the gap returned a Withdraw for each of them.
HEATKIT_HD inline void after_quiet_gap_counter(const CounterColumns& c, std::size_t i,
                                               std::int64_t now) {
  const double level = 1.0 + unit_double(counter_random(kSeed, kRateStream, i));
  c.rate[i] = i % kSurvivorEvery == 0 ? level : 0.0;
  c.last_update[i] = now;
  c.last_emitted[i] = level;
  c.half_life[i] = kHalfLife;
  c.flags[i] = static_cast<std::uint8_t>(kLive | kHasEmitted);
}

// The slot of the j-th withdrawn counter (the j-th i with i % 10 != 0).
HEATKIT_HD inline std::uint32_t withdrawn_slot(std::size_t j) {
  return static_cast<std::uint32_t>(j / (kSurvivorEvery - 1) * kSurvivorEvery +
                                    j % (kSurvivorEvery - 1) + 1);
}

__global__ void fill_after_quiet_gap_kernel(CounterColumns c, std::int64_t now) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) {
    after_quiet_gap_counter(c, i, now);
  }
}

__global__ void make_withdraw_ops_kernel(PendingOp* ops, std::size_t n) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    PendingOp op;
    op.slot = withdrawn_slot(i);
    op.kind = OpKind::kRecord;
    op.decision = Decision::kWithdraw;
    op.rate = 0.0;
    ops[i] = op;
  }
}

// what the commit changes (last_emitted and flags).
struct CommitWorkload {
  std::size_t n;
  std::size_t withdrawn;  // n minus the survivors (every 10th slot)
  DeviceColumns columns;
  DeviceBuffer<double> pristine_last_emitted;
  DeviceBuffer<std::uint8_t> pristine_flags;
  OpScratch op_scratch;
  PassScratch pass_scratch;
  ForwardFrame frame = steady_frame(kStart);

  explicit CommitWorkload(std::size_t counters)
      : n(prepare(counters)),
        withdrawn(counters - (counters + kSurvivorEvery - 1) / kSurvivorEvery),
        columns(counters),
        pristine_last_emitted(counters),
        pristine_flags(counters) {
    const cudaStream_t s = ctx().s();
    fill_after_quiet_gap_kernel<<<blocks_for(n), kBlockSize, 0, s>>>(columns.view(), kStart);
    HEATKIT_CUDA_CHECK_LAUNCH("fill_after_quiet_gap_kernel");
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(pristine_last_emitted.data(), columns.last_emitted.data(),
                                       columns.last_emitted.bytes(), cudaMemcpyDeviceToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(pristine_flags.data(), columns.flags.data(),
                                       columns.flags.bytes(), cudaMemcpyDeviceToDevice, s));
    op_scratch.ops.reserve_discarding(withdrawn);
    ctx().stream.synchronize();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns, pristine copies (9 B), selected slots (4 B); per withdraw op:
    // the op (32 B) and the flush's slot/position/group arrays and sort
    // temporaries (about 36 B).
    require_device_memory((kColumnBytesPerCounter + 9 + 4 + 0.9 * 68) * static_cast<double>(n),
                          "the commit_prune workload");
    return n;
  }
  // Untimed: the columns as after the gap, the withdraw ops in the queue.
  void restore() {
    const cudaStream_t s = ctx().s();
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(columns.last_emitted.data(), pristine_last_emitted.data(),
                                       pristine_last_emitted.bytes(), cudaMemcpyDeviceToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(columns.flags.data(), pristine_flags.data(),
                                       pristine_flags.bytes(), cudaMemcpyDeviceToDevice, s));
    op_scratch.ops.reserve_discarding(withdrawn);
    make_withdraw_ops_kernel<<<blocks_for(withdrawn), kBlockSize, 0, s>>>(op_scratch.ops.data(),
                                                                           withdrawn);
    HEATKIT_CUDA_CHECK_LAUNCH("make_withdraw_ops_kernel");
  }
  void enqueue(cudaStream_t s) {
    gpu::enqueue_apply_ops(columns.view(), frame, withdrawn, op_scratch, s);
    gpu::enqueue_select_prunable(columns.view(), frame, pass_scratch, s);
  }
};

void bench_commit_prune(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<CommitWorkload>("commit", n);
  w.restore();
  w.enqueue(ctx().s());  // warm-up
  std::size_t pruned = gpu::read_selected_count(w.pass_scratch, ctx().s(), n);
  if (pruned != w.withdrawn) {
    state.SkipWithError("commit_prune did not select exactly the withdrawn 90% of counters");
    return;
  }
  IterationTimes times;
  for (auto _ : state) {
    w.restore();
    times.add(state, time_on_stream(kAsyncKernels, [&](cudaStream_t s) { w.enqueue(s); }));
    pruned = gpu::read_selected_count(w.pass_scratch, ctx().s(), n);  // untimed
    if (pruned != w.withdrawn) {
      state.SkipWithError("commit_prune did not select exactly the withdrawn 90% of counters");
      break;
    }
  }
  const double iterations = iterations_of(state);
  times.report(state, "ns_per_counter", iterations * static_cast<double>(n));
  state.counters["ns_per_op"] = times.seconds() * 1e9 / (iterations * static_cast<double>(w.withdrawn));
  state.counters["pruned_share"] = static_cast<double>(pruned) / static_cast<double>(n);
}

}  // namespace

void add_commit_prune_rows(std::int64_t n) { add_row("commit_prune/cuda", n, bench_commit_prune); }

}  // namespace heatkit::gpu_bench
