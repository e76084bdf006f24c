// heatkit_gpu_bench: the `cuda` backend's device passes on one GPU, timed with
// CUDA events, beside the device-to-device copy bandwidth measured in the same
// run (the floor every tick ratio is taken against), the Thrust version of the
// same tick, and the host<->device transfers around the kernels, counted apart.
// The stores hold forward decay's encodings (math/forward_math.h); the
// literal representation's ticks are timed too, as the reference.
//
// Benchmarks are named <operation>/<impl>/<counters>, at 1,000,000, 10,000,000
// and 100,000,000 counters (--heatkit_sizes=a,b,...), registered by size, and
// within a size in this order (the references first):
//   copy_floor/d2d                   cudaMemcpyAsync device to device of 24.5 B per
//                                    counter: 49 B read + written per counter, the
//                                    bytes the literal tick must move
//   tick_kernels/cuda_forward        gpu::enqueue_one_pass_tick, what the `cuda` store runs
//                                    while the frame allows: the fast forward tick, one
//                                    kernel computing each rate from s, gating and writing
//                                    the candidates in slot order (decoupled look-back
//                                    between tiles), steady state with ~5% candidates per
//                                    tick; the half-life column read (25 B per counter)
//   tick_kernels/cuda_forward_shared the same told TickParams::shared_half_life (17 B per
//                                    counter: s, last_emitted, flags). Target at 100M:
//                                    copy_time_ratio <= 0.45
//   tick_kernels/cuda_forward_tile<T>x<R>[_pairs][_streaming]_shared   the fast tick in
//                                    other shapes (T threads, R rows; _pairs: two adjacent
//                                    slots per row with 16-byte accesses; _streaming:
//                                    evict-first cache hints; the library's is 256x4)
//   tick_kernels/cuda_relayout       gpu::enqueue_relayout_tick, the store's rare tick
//                                    (once per 32 half-lives): every column read, s written
//                                    (41 B per counter)
//   tick_kernels/thrust_forward      the fast tick as the `thrust` store runs it:
//                                    thrust/thrust_passes.h's transform, count_if (waits
//                                    for the count), copy_if
//   tick_kernels/cuda                the literal one-pass tick (tick_one: rate and
//                                    last_update read and written), 256x4
//   tick_kernels/cuda_tile<T>x<R>[_pairs][_streaming]   the literal tick in the other
//                                    shapes (tick_shapes.h: the shapes only the benchmarks
//                                    run)
//   tick_kernels/cuda_two_pass       enqueue_decide_and_select + enqueue_gather_candidates
//                                    (literal decay+gate kernel writing a decision byte per
//                                    slot, CUB compaction of those bytes, gather)
//   tick_kernels/thrust              the literal tick as thrust/thrust_passes.h runs it on
//                                    thrust::cuda::par.on(stream)
//   tick_transfer/d2h_pageable       the tick's candidate list (count x 16 B) device to
//   tick_transfer/d2h_pinned         host, into a std::vector / into cudaMallocHost memory
//   tick_store/cuda, tick_store/thrust   DeviceCounterStore::tick end to end (queue flush,
//                                    kernels, count read-back, candidates into a
//                                    std::vector); host clock, it waits for itself. The
//                                    first tick after each refill converts the uploaded
//                                    literal counters; once per 32 half-lives a relayout
//   bump_batch_upload/h2d_pageable   1,048,576 queued ops (PendingOp, 32 B) host to device,
//   bump_batch_upload/h2d_pinned     from a std::vector / from cudaMallocHost memory
//   bump_batch/cuda                  enqueue_apply_ops of those 1,048,576 kBump ops at one
//                                    instant, uniform random slots, ops already on the device
//                                    (forward_bump on forward columns)
//   bump_timed_uniform/cuda          apply_timed_bumps of 1,048,576 reads at increasing
//   bump_timed_zipf/cuda             times, slots uniform / Zipf(1.1) (hot ranks scattered);
//                                    it reads back a count, so it waits inside
//   commit_prune/cuda                after a quiet gap in which 90% of counters withdrew:
//                                    enqueue_apply_ops of their kRecord(Withdraw) ops, then
//                                    enqueue_select_prunable (selects exactly those 90%)
//
// One file per operation in this folder (rows.h lists them); the rows'
// per-item counters and the medians of earlier rows come from
// bench/results.h, as heatkit_bench's do.
//
// Counters (every one a mean over the iterations of one repetition; the
// aggregates give medians over the repetitions):
//   ns_per_counter     time / counters resident (commit_prune: before the prune)
//   ns_per_bump        bump rows: time / 1,048,576
//   ns_per_op          commit_prune: time / record ops applied
//   GBps               bytes that must move / time, in 1e9 B/s. The literal tick: 49 B per
//                      counter (rate and last_update read and written, 32 B; last_emitted
//                      and half_life read, 16 B; flags read, 1 B); the fast forward tick:
//                      17 B (s, last_emitted and flags read), 25 B with the half-life; the
//                      relayout: 41 B. The decision byte, the compaction, the candidates
//                      and the rare writes (literal counters, in-flight marks) are not
//                      counted, so this is what the tick achieves against what it must do.
//                      copy_floor: bytes read + written. Transfers: bytes copied.
//   bytes_per_counter  those bytes (tick and copy_floor rows)
//   copy_ratio         tick GBps / copy_floor GBps at the same size in this run (median
//                      of the floor's repetitions): 1.0 = the tick moves its bytes at
//                      the pace of the device's own copy. Target for the literal tick:
//                      >= 0.8 at 100M.
//   copy_time_ratio    tick time / copy_floor time (the copy of the literal tick's 49 B
//                      per counter), same size, this run. Target for the forward tick
//                      (tick_kernels/cuda_forward_shared): <= 0.45 at 100M.
//   cuda_speedup       tick_kernels/thrust[_forward] only: thrust time / the cuda time of
//                      the same representation (tick_kernels/cuda[_forward]; medians,
//                      same size, this run). Target: >= 5.
//   cuda_two_pass_speedup   tick_kernels/thrust only: and / tick_kernels/cuda_two_pass time
//   kernels_share      tick_store rows: the tick_kernels time of the same passes
//                      (cuda_forward, thrust_forward; median) / this end-to-end time
//   candidate_share    candidates / counters per tick (checked to lie in [3%, 7%])
//   candidates         transfers: candidates copied per iteration
//   distinct_share     bump_timed: distinct slots touched / reads
//   pruned_share       commit_prune: selected slots / counters (checked: exactly 90%)
//
// Timing. Every row but tick_store is manual time from a cudaEvent pair on one
// non-blocking stream, after one untimed warm-up call of the same work (it
// also grows every scratch buffer, so nothing allocates inside the events).
// Rows whose work only enqueues (copy_floor, tick_kernels/cuda[_two_pass], bump_batch,
// commit_prune, the pinned transfers) hold the stream with a spinning
// one-thread kernel until everything is enqueued: the events then time the
// device alone, not the host's launch gaps (at 1M counters a tick is tens of
// microseconds, as long as a few launches). Rows that wait inside (Thrust,
// bump_timed, pageable copies) cannot be held; their host gaps are part of
// their design and are timed (--heatkit_hold=off turns the hold off: needed
// under ncu or nsys, which serialize launches). Before every timed kernel row the L2 cache is
// cleared of the columns by reading 3x its size of unrelated data (untimed;
// --heatkit_l2=warm turns that off), so 1M counters (33 MB of columns, under
// an H100's 50 MB of L2) are timed from device memory like the larger sizes.
// Repetitions: 5 (--heatkit_repetitions=N; --benchmark_repetitions does not
// override a count set in code).
//
// Steady state of the tick rows (as heatkit_bench's tick_pass): every counter
// has emitted; rate r in [1, 2), last emission r * 2^u with u uniform in
// [0, 1), so a counter first crosses the 2x ratio (rate <= last / 2) after
// 1 - u half-lives; ticks are 1.01/20 half-life apart (half-life 10 s), so
// about 5% of the counters are candidates per tick. After each timed tick its
// candidates are committed on the device, untimed (kRecord through apply_op:
// last emission = the emitted rate), so each counter crosses again 20 ticks
// later at a ratio of 2^1.01, clear of the threshold, and the share stays at
// 5% with no restore. Every 40 half-lives of simulated time (rates near
// 2^-40, still above the epsilon clamp) the columns are refilled, untimed.
// The forward rows keep the same state in forward form: at a refill each s
// is its rate, the frame's landmark and last tick the refill's instant
// (steady_frame); they are refilled, untimed, also before a fast tick the
// frame would not allow (32 half-lives past the landmark).
//
// Before registering anything the binary checks the passes against the
// scalar reference on a random state of 100,003 counters (guard.cu): the
// forward ones (kernels and Thrust: a relayout tick, queued operations
// through the flush, two fast ticks, the prune, on the state stored
// literally as an upload stores it) and the literal ones (the one-pass and
// two-pass kernels, Thrust: a tick pair), and exits 1 if any candidate list,
// prune list or column differs (slot and kind exact, rates within 1e-12
// relative). Without a CUDA device it prints "heatkit_gpu_bench: no CUDA
// device: <reason>" and exits 0. Sizes whose workload does not fit the
// device's free memory are skipped with an error row. Results: docs/PERFORMANCE.md,
// bench/gpu_bench_table.py.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bench/gpu/rows.h"
#include "cuda/cuda_backend.h"

namespace heatkit::gpu_bench {
namespace {

// Registered by size, and within a size in the header comment's order (the
// references first).
void register_benchmarks() {
  for (const std::int64_t n : settings().sizes) {
    add_copy_floor_rows(n);
    add_tick_kernel_rows(n);
    add_tick_transfer_rows(n);
    add_tick_store_rows(n);
    add_bump_rows(n);
    add_commit_prune_rows(n);
  }
}

// ---------------------------------------------------------------------------
// The device in the benchmark context, so the JSON names it.

void add_device_context() {
  const DeviceContext& d = ctx();
  const cudaDeviceProp& p = d.props;
  int memory_clock_khz = 0, bus_width_bits = 0;
  HEATKIT_CUDA_CHECK(cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, d.device));
  HEATKIT_CUDA_CHECK(cudaDeviceGetAttribute(&bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, d.device));
  int runtime_version = 0, driver_version = 0;
  HEATKIT_CUDA_CHECK(cudaRuntimeGetVersion(&runtime_version));
  HEATKIT_CUDA_CHECK(cudaDriverGetVersion(&driver_version));
  // Double data rate: two transfers per memory clock on each bus bit.
  const double theoretical_gbps =
      2.0 * memory_clock_khz * 1e3 * (bus_width_bits / 8.0) / 1e9;
  auto fixed = [](double v, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, v);
    return std::string(text);
  };
  benchmark::AddCustomContext("gpu_name", p.name);
  benchmark::AddCustomContext("gpu_compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor));
  benchmark::AddCustomContext("gpu_sm_count", std::to_string(p.multiProcessorCount));
  benchmark::AddCustomContext("gpu_memory_GB", fixed(static_cast<double>(p.totalGlobalMem) / 1e9, 1));
  benchmark::AddCustomContext("gpu_l2_MB", fixed(p.l2CacheSize / 1e6, 1));
  benchmark::AddCustomContext("gpu_memory_clock_MHz", fixed(memory_clock_khz / 1e3, 0));
  benchmark::AddCustomContext("gpu_memory_bus_bits", std::to_string(bus_width_bits));
  benchmark::AddCustomContext("gpu_theoretical_GBps", fixed(theoretical_gbps, 0));
  benchmark::AddCustomContext("cuda_runtime_version", std::to_string(runtime_version));
  benchmark::AddCustomContext("cuda_driver_version", std::to_string(driver_version));
  benchmark::AddCustomContext("heatkit_l2_before_timing", settings().flush_l2 ? "cleared" : "warm");
  benchmark::AddCustomContext("heatkit_stream_hold", settings().hold ? "on" : "off");
  benchmark::AddCustomContext("heatkit_tick_bytes_per_counter", fixed(kTickBytesPerCounter, 0));
  std::fprintf(stderr,
               "heatkit_gpu_bench: %s (compute capability %d.%d, %d SMs, %.1f GB, L2 %.1f MB), "
               "theoretical memory bandwidth %.0f GB/s\n",
               p.name, p.major, p.minor, p.multiProcessorCount,
               static_cast<double>(p.totalGlobalMem) / 1e9, p.l2CacheSize / 1e6, theoretical_gbps);
}

}  // namespace
}  // namespace heatkit::gpu_bench

int main(int argc, char** argv) {
  using namespace heatkit::gpu_bench;
  // Load every kernel when the context is made: with lazy loading, the first
  // launch of a kernel behind a held stream could wait for the hold.
  setenv("CUDA_MODULE_LOADING", "EAGER", 0);
  try {
    take_settings(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heatkit_gpu_bench: %s\n", e.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // No GPU (CI): say why and succeed.
  int device_count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&device_count); e != cudaSuccess || device_count == 0) {
    const std::string reason =
        e != cudaSuccess ? std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + " (" +
                               cudaGetErrorString(e) + ")"
                         : std::string("cudaGetDeviceCount found no CUDA device");
    (void)cudaGetLastError();
    std::fprintf(stderr, "heatkit_gpu_bench: no CUDA device: %s\n", reason.c_str());
    return 0;
  }
  // A device this build cannot run (no code for its architecture) is a failure.
  if (const std::string& why = heatkit::gpu::unavailable_reason(); !why.empty()) {
    std::fprintf(stderr, "heatkit_gpu_bench: the CUDA device cannot run heatkit: %s\n", why.c_str());
    return 1;
  }

  int status = 0;
  try {
    context_slot() = std::make_unique<DeviceContext>();
    add_device_context();
    if (const std::string why = guard_disagreement(); !why.empty()) {
      std::fprintf(stderr, "heatkit_gpu_bench: the device passes disagree with the scalar reference: %s\n",
                   why.c_str());
      status = 1;
    } else {
      register_benchmarks();
      benchmark::RunSpecifiedBenchmarks();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heatkit_gpu_bench: %s\n", e.what());
    status = 1;
  }
  // Device memory goes back before the runtime shuts down.
  workbench().release();
  context_slot().reset();
  benchmark::Shutdown();
  return status;
}