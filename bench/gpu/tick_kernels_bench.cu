// tick_kernels/*: the tick's device passes alone on the steady state
// (tick_workload.h), timed with CUDA events, beside copy_floor:
//   cuda                 the library's one-pass tick (what the `cuda` store runs)
//   cuda_tile<T>x<R>[_pairs][_streaming]   the same kernel in other shapes
//                        (tick_shapes.h), to choose the library's
//   cuda_two_pass        decide + CUB compaction + gather (tick_shapes.h)
//   thrust               thrust/thrust_passes.h as the `thrust` backend runs it
#include <optional>
#include <string>

#include "bench/gpu/rows.h"
#include "bench/gpu/tick_workload.h"

namespace heatkit::gpu_bench {
namespace {

// The common counters of a tick row; checks the candidate share.
void report_tick(benchmark::State& state, std::size_t n, const IterationTimes& times, double candidates) {
  const double counters = iterations_of(state) * static_cast<double>(n);
  times.report(state, "ns_per_counter", counters);
  state.counters["GBps"] = kTickBytesPerCounter * counters / times.seconds() / 1e9;
  state.counters["bytes_per_counter"] = kTickBytesPerCounter;
  state.counters["candidate_share"] = candidates / counters;
  if (const auto copy = references().median(ref_key("copy_floor", n)); copy && times.seconds() > 0) {
    state.counters["copy_ratio"] = *copy / times.per_iteration(state);
  }
  const double share = candidates / counters;
  if (share < kMinCandidateShare || share > kMaxCandidateShare) {
    state.SkipWithError("the candidate share left [3%, 7%]: the steady state is broken");
  }
}

// The cuda rows: the library's tick (no tile), a tile shape, or two passes.
void bench_tick_cuda(benchmark::State& state, const std::string& row, bool two_pass,
                     std::optional<TickTile> tile = std::nullopt) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n);
  auto tick = [&](const TickParams& p, cudaStream_t s) {
    if (two_pass) {
      w.enqueue_cuda_two_pass_tick(p, s);
    } else {
      w.enqueue_cuda_one_pass_tick(p, s, tile);
    }
  };
  tick(w.next_params(), ctx().s());  // warm-up
  w.commit_device_count();
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    times.add(state, time_on_stream(kAsyncKernels, [&](cudaStream_t s) { tick(p, s); }));
    candidates += static_cast<double>(w.commit_device_count());
  }
  report_tick(state, n, times, candidates);
  references().add(ref_key(row, n), state.iterations(), times.per_iteration(state));
}

void bench_tick_thrust(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n);
  w.commit_host_count(w.thrust_tick(w.next_params(), ctx().s()));  // warm-up
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    std::size_t count = 0;
    times.add(state, time_on_stream(kWaitingKernels, [&](cudaStream_t s) { count = w.thrust_tick(p, s); }));
    candidates += static_cast<double>(count);
    w.commit_host_count(count);
  }
  report_tick(state, n, times, candidates);
  const double per_tick = times.per_iteration(state);
  if (const auto cuda = references().median(ref_key("tick_kernels/cuda", n)); cuda && *cuda > 0) {
    state.counters["cuda_speedup"] = per_tick / *cuda;
  }
  if (const auto two_pass = references().median(ref_key("tick_kernels/cuda_two_pass", n));
      two_pass && *two_pass > 0) {
    state.counters["cuda_two_pass_speedup"] = per_tick / *two_pass;
  }
  references().add(ref_key("tick_kernels/thrust", n), state.iterations(), per_tick);
}

void add_tile_row(const std::string& row, std::int64_t n, TickTile tile) {
  add_row(row, n, [row, tile](benchmark::State& s) { bench_tick_cuda(s, row, false, tile); });
}

}  // namespace

void add_tick_kernel_rows(std::int64_t n) {
  add_row("tick_kernels/cuda", n, [](benchmark::State& s) { bench_tick_cuda(s, "tick_kernels/cuda", false); });
  add_row("tick_kernels/cuda_two_pass", n,
          [](benchmark::State& s) { bench_tick_cuda(s, "tick_kernels/cuda_two_pass", true); });
  // The one-pass tick's other tile shapes (threads x rows; `cuda` is 256x4).
  add_tile_row("tick_kernels/cuda_tile256x8", n, TickTile::k256x8);
  add_tile_row("tick_kernels/cuda_tile128x8", n, TickTile::k128x8);
  add_tile_row("tick_kernels/cuda_tile512x2", n, TickTile::k512x2);
  add_tile_row("tick_kernels/cuda_tile256x2_pairs", n, TickTile::k256x2_pairs);
  add_tile_row("tick_kernels/cuda_tile256x4_streaming", n, TickTile::k256x4_streaming);
  add_tile_row("tick_kernels/cuda_tile256x2_pairs_streaming", n, TickTile::k256x2_pairs_streaming);
  add_row("tick_kernels/thrust", n, bench_tick_thrust);
}

}  // namespace heatkit::gpu_bench
