// The bump rows, 1,048,576 reads per iteration on steady columns (forward
// encodings, steady_frame of the last refill):
//   bump_batch_upload/h2d_pageable, /h2d_pinned   the queued ops (PendingOp, 32 B)
//                        host to device, from a std::vector / from cudaMallocHost memory
//   bump_batch/cuda      enqueue_apply_ops of those kBump ops at one instant, uniform
//                        random slots, ops already on the device
//   bump_timed_uniform/cuda, bump_timed_zipf/cuda   apply_timed_bumps of reads at
//                        increasing times, slots uniform / Zipf(1.1) (hot ranks
//                        scattered); it reads back a count, so it waits inside
#include <vector>

#include "bench/gpu/rows.h"
#include "cuda/device_passes.h"
#include "cuda/grid_stride.cuh"
#include "sim/zipf.h"

namespace heatkit::gpu_bench {
namespace {

using gpu::blocks_for;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;

__global__ void make_bump_ops_kernel(PendingOp* ops, const std::uint32_t* slots, std::size_t n,
                                     std::int64_t now) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    PendingOp op;
    op.slot = slots[i];
    op.kind = OpKind::kBump;
    op.now = now;
    ops[i] = op;
  }
}

__global__ void stamp_times_kernel(std::int64_t* times, std::size_t n, std::int64_t first,
                                   std::int64_t step) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    times[i] = first + static_cast<std::int64_t>(i) * step;
  }
}

// The bump rows at one size: steady columns, 1,048,576 uniform and Zipf slot
// draws on the device, the same uniform batch as host ops for the upload rows.
struct BumpWorkload {
  std::size_t n;
  DeviceColumns columns;
  OpScratch op_scratch;
  BumpScratch bump_scratch;
  DeviceBuffer<std::uint32_t> uniform_slots, zipf_slots;
  DeviceBuffer<std::int64_t> times;
  DeviceBuffer<std::uint32_t> touched_slots;
  DeviceBuffer<std::int64_t> touched_times;
  std::vector<PendingOp> host_ops;      // pageable, as the store queues them
  PinnedBuffer<PendingOp> pinned_ops;   // the same ops, pinned
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  ForwardFrame frame = steady_frame(kStart);

  explicit BumpWorkload(std::size_t counters)
      : n(prepare(counters)),
        columns(counters),
        uniform_slots(kBumpBatch),
        zipf_slots(kBumpBatch),
        times(kBumpBatch),
        host_ops(kBumpBatch),
        pinned_ops(kBumpBatch) {
    const cudaStream_t s = ctx().s();
    std::vector<std::uint32_t> slots(kBumpBatch);
    const auto n64 = static_cast<std::uint64_t>(n);
    for (std::size_t j = 0; j < kBumpBatch; ++j) {
      slots[j] = static_cast<std::uint32_t>(((counter_random(kSeed, kUniformSlotStream, j) >> 32) * n64) >> 32);
      PendingOp op;
      op.slot = slots[j];
      op.kind = OpKind::kBump;
      op.now = kStart;
      host_ops[j] = op;
      pinned_ops.data()[j] = op;
    }
    copy_to_device(uniform_slots, slots, s);
    ctx().stream.synchronize();  // `slots` is reused below
    // Zipf ranks drawn once on the host; rank r lives at slot r * m mod n, so
    // hot slots are scattered over the columns, as real hot keys are.
    const ZipfTable table(static_cast<std::uint32_t>(n), kZipfExponent);
    for (std::size_t j = 0; j < kBumpBatch; ++j) {
      const std::uint32_t rank = zipf_sample(table.view(), counter_random(kSeed, kZipfSlotStream, j));
      slots[j] = static_cast<std::uint32_t>(rank * kScatter % n64);
    }
    copy_to_device(zipf_slots, slots, s);
    refresh();
    ctx().stream.synchronize();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns; per read/op: slots x2, times, ops (32 B), op and bump scratch (~80 B).
    require_device_memory(kColumnBytesPerCounter * static_cast<double>(n) +
                              160.0 * static_cast<double>(kBumpBatch),
                          "the bump workload");
    return n;
  }
  void refresh() {
    fill_steady_state(columns, now);
    frame = steady_frame(now);
    refreshed_at = now;
  }
};


void report_bumps(benchmark::State& state, const IterationTimes& times) {
  times.report(state, "ns_per_bump", iterations_of(state) * static_cast<double>(kBumpBatch));
}

void bench_bump_batch_upload(benchmark::State& state, bool pinned) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  w.op_scratch.ops.reserve_discarding(kBumpBatch);
  const PendingOp* host = pinned ? w.pinned_ops.data() : w.host_ops.data();
  const std::size_t bytes = kBumpBatch * sizeof(PendingOp);
  auto copy = [&](cudaStream_t s) {
    HEATKIT_CUDA_CHECK(
        cudaMemcpyAsync(w.op_scratch.ops.data(), host, bytes, cudaMemcpyHostToDevice, s));
  };
  const IterationTimes times = time_transfers(state, pinned, copy);
  report_bumps(state, times);
  state.counters["GBps"] = static_cast<double>(bytes) * iterations_of(state) / times.seconds() / 1e9;
}

void bench_bump_batch(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  w.op_scratch.ops.reserve_discarding(kBumpBatch);
  // Untimed: this batch's ops, at the next instant, written into the queue
  // buffer on the device (what the store's flush uploads).
  auto stage = [&] {
    w.now += kBumpBatchStep;
    w.frame.note_write(w.now);  // as the store notes a queued bump
    make_bump_ops_kernel<<<blocks_for(kBumpBatch), kBlockSize, 0, ctx().s()>>>(
        w.op_scratch.ops.data(), w.uniform_slots.data(), kBumpBatch, w.now);
    HEATKIT_CUDA_CHECK_LAUNCH("make_bump_ops_kernel");
  };
  auto apply = [&](cudaStream_t s) {
    gpu::enqueue_apply_ops(w.columns.view(), w.frame, kBumpBatch, w.op_scratch, s);
  };
  stage();
  apply(ctx().s());  // warm-up
  ctx().stream.synchronize();
  IterationTimes times;
  for (auto _ : state) {
    stage();
    times.add(state, time_on_stream(kAsyncKernels, apply));
  }
  report_bumps(state, times);
}

void bench_bump_timed(benchmark::State& state, bool zipf) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  const std::uint32_t* slots = zipf ? w.zipf_slots.data() : w.uniform_slots.data();
  // Untimed: the next 1,048,576 read times. Refilled every 40 half-lives, so
  // no slot's gap reaches the 52 half-lives that force the serial path.
  auto stage = [&] {
    if (w.now - w.refreshed_at > kRefreshAfter) w.refresh();
    stamp_times_kernel<<<blocks_for(kBumpBatch), kBlockSize, 0, ctx().s()>>>(
        w.times.data(), kBumpBatch, w.now + kTimedReadStep, kTimedReadStep);
    HEATKIT_CUDA_CHECK_LAUNCH("stamp_times_kernel");
    w.now += static_cast<std::int64_t>(kBumpBatch) * kTimedReadStep;
    w.frame.note_write(w.now);  // the batch's last read, as the store notes it
  };
  std::size_t touched = 0;
  auto apply = [&](cudaStream_t s) {
    touched = gpu::apply_timed_bumps(w.columns.view(), w.frame, slots, w.times.data(), kBumpBatch,
                                     w.bump_scratch, w.touched_slots, w.touched_times, s);
  };
  stage();
  apply(ctx().s());  // warm-up
  IterationTimes times;
  double distinct = 0.0;
  for (auto _ : state) {
    stage();
    times.add(state, time_on_stream(kWaitingKernels, apply));  // it reads back a count
    distinct += static_cast<double>(touched);
  }
  report_bumps(state, times);
  state.counters["distinct_share"] = distinct / (iterations_of(state) * static_cast<double>(kBumpBatch));
}

}  // namespace

void add_bump_rows(std::int64_t n) {
  add_row("bump_batch_upload/h2d_pageable", n, [](benchmark::State& s) { bench_bump_batch_upload(s, false); });
  add_row("bump_batch_upload/h2d_pinned", n, [](benchmark::State& s) { bench_bump_batch_upload(s, true); });
  add_row("bump_batch/cuda", n, bench_bump_batch);
  add_row("bump_timed_uniform/cuda", n, [](benchmark::State& s) { bench_bump_timed(s, false); });
  add_row("bump_timed_zipf/cuda", n, [](benchmark::State& s) { bench_bump_timed(s, true); });
}

}  // namespace heatkit::gpu_bench
