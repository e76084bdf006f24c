// tick_kernels/*: the tick's device passes alone on the steady state
// (tick_workload.h), timed with CUDA events, beside copy_floor. The forward
// store's passes (what the `cuda` and `thrust` stores run):
//   cuda_forward         the fast tick, gpu::enqueue_one_pass_tick (the
//                        half-life column read: 25 B per counter)
//   cuda_forward_shared  the same with TickParams::shared_half_life (17 B per
//                        counter: s, last_emitted, flags)
//   cuda_forward_tile<T>x<R>[_pairs][_streaming]_shared   the fast tick in
//                        the other shapes (tick_shapes.h)
//   cuda_relayout        the relayout tick, gpu::enqueue_relayout_tick (rare
//                        in a store: once per 32 half-lives)
//   thrust_forward       the fast tick as the `thrust` store runs it
// The literal representation's passes, the reference the forward tick is
// measured against (49 B per counter):
//   cuda                 the literal one-pass tick in the library's shape
//   cuda_tile<T>x<R>[_pairs][_streaming]   the same kernel in other shapes
//   cuda_two_pass        decide + CUB compaction + gather (tick_shapes.h)
//   thrust               thrust/thrust_passes.h's literal tick
#include <optional>
#include <string>
#include <utility>

#include "bench/gpu/rows.h"
#include "bench/gpu/tick_workload.h"

namespace heatkit::gpu_bench {
namespace {

// The bytes a forward tick must move per counter: s, last_emitted and flags
// read, and the half-life unless the caller shares one.
double forward_bytes(bool shared) {
  return kForwardTickBytesPerCounter + (shared ? 0.0 : kHalfLifeBytesPerCounter);
}

// The common counters of a tick row that must move `bytes` per counter;
// checks the candidate share.
void report_tick(benchmark::State& state, std::size_t n, const IterationTimes& times,
                 double candidates, double bytes) {
  const double counters = iterations_of(state) * static_cast<double>(n);
  times.report(state, "ns_per_counter", counters);
  state.counters["GBps"] = bytes * counters / times.seconds() / 1e9;
  state.counters["bytes_per_counter"] = bytes;
  state.counters["candidate_share"] = candidates / counters;
  if (const auto copy = references().median(ref_key("copy_floor", n)); copy && times.seconds() > 0) {
    const double per_tick = times.per_iteration(state);
    state.counters["copy_ratio"] = bytes / kTickBytesPerCounter * *copy / per_tick;
    state.counters["copy_time_ratio"] = per_tick / *copy;
  }
  const double share = candidates / counters;
  if (share < kMinCandidateShare || share > kMaxCandidateShare) {
    state.SkipWithError("the candidate share left [3%, 7%]: the steady state is broken");
  }
}

// The literal cuda rows: the library's shape (no tile), a tile shape, or two passes.
void bench_tick_cuda(benchmark::State& state, const std::string& row, bool two_pass,
                     std::optional<TickTile> tile = std::nullopt) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n, Representation::kLiteral);
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
  report_tick(state, n, times, candidates, kTickBytesPerCounter);
  references().add(ref_key(row, n), state.iterations(), times.per_iteration(state));
}

// The forward cuda rows: the fast tick in the library's shape (no tile) or
// another, with or without a shared half-life; or the relayout tick.
void bench_tick_forward(benchmark::State& state, const std::string& row, bool shared,
                        bool relayout, std::optional<TickTile> tile = std::nullopt) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick_forward", n, Representation::kForward);
  auto params = [&] {
    TickParams p = w.next_params();
    if (shared) p.shared_half_life = kHalfLife;
    return p;
  };
  auto tick = [&](const TickParams& p, cudaStream_t s) {
    if (relayout) {
      w.enqueue_cuda_relayout_tick(p, s);
    } else {
      w.enqueue_cuda_forward_tick(p, s, tile);
    }
  };
  tick(params(), ctx().s());  // warm-up
  w.commit_device_count();
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = params();
    times.add(state, time_on_stream(kAsyncKernels, [&](cudaStream_t s) { tick(p, s); }));
    candidates += static_cast<double>(w.commit_device_count());
  }
  report_tick(state, n, times, candidates,
              relayout ? kRelayoutTickBytesPerCounter : forward_bytes(shared));
  references().add(ref_key(row, n), state.iterations(), times.per_iteration(state));
}

// The Thrust rows (each waits for its count): the literal tick, or the
// forward fast tick as the `thrust` store runs it.
void bench_tick_thrust(benchmark::State& state, bool forward) {
  const std::size_t n = counters_of(state);
  auto& w = forward ? workload<TickWorkload>("tick_forward", n, Representation::kForward)
                    : workload<TickWorkload>("tick", n, Representation::kLiteral);
  auto tick = [&](const TickParams& p, cudaStream_t s) {
    return forward ? w.thrust_forward_tick(p, s) : w.thrust_tick(p, s);
  };
  w.commit_host_count(tick(w.next_params(), ctx().s()));  // warm-up
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    std::size_t count = 0;
    times.add(state, time_on_stream(kWaitingKernels, [&](cudaStream_t s) { count = tick(p, s); }));
    candidates += static_cast<double>(count);
    w.commit_host_count(count);
  }
  report_tick(state, n, times, candidates, forward ? forward_bytes(false) : kTickBytesPerCounter);
  const double per_tick = times.per_iteration(state);
  const std::string cuda_row = forward ? "tick_kernels/cuda_forward" : "tick_kernels/cuda";
  if (const auto cuda = references().median(ref_key(cuda_row, n)); cuda && *cuda > 0) {
    state.counters["cuda_speedup"] = per_tick / *cuda;
  }
  if (!forward) {
    if (const auto two_pass = references().median(ref_key("tick_kernels/cuda_two_pass", n));
        two_pass && *two_pass > 0) {
      state.counters["cuda_two_pass_speedup"] = per_tick / *two_pass;
    }
  }
  references().add(ref_key(forward ? "tick_kernels/thrust_forward" : "tick_kernels/thrust", n),
                   state.iterations(), per_tick);
}

void add_tile_row(const std::string& row, std::int64_t n, TickTile tile) {
  add_row(row, n, [row, tile](benchmark::State& s) { bench_tick_cuda(s, row, false, tile); });
}

void add_forward_row(const std::string& row, std::int64_t n, bool shared, bool relayout,
                     std::optional<TickTile> tile = std::nullopt) {
  add_row(row, n, [row, shared, relayout, tile](benchmark::State& s) {
    bench_tick_forward(s, row, shared, relayout, tile);
  });
}

}  // namespace

void add_tick_kernel_rows(std::int64_t n) {
  // The forward store's passes.
  add_forward_row("tick_kernels/cuda_forward", n, false, false);
  add_forward_row("tick_kernels/cuda_forward_shared", n, true, false);
  const std::pair<const char*, TickTile> forward_tiles[] = {
      {"tick_kernels/cuda_forward_tile256x8_shared", TickTile::k256x8},
      {"tick_kernels/cuda_forward_tile128x8_shared", TickTile::k128x8},
      {"tick_kernels/cuda_forward_tile512x2_shared", TickTile::k512x2},
      {"tick_kernels/cuda_forward_tile256x2_pairs_shared", TickTile::k256x2_pairs},
      {"tick_kernels/cuda_forward_tile256x4_streaming_shared", TickTile::k256x4_streaming},
      {"tick_kernels/cuda_forward_tile256x2_pairs_streaming_shared", TickTile::k256x2_pairs_streaming},
  };
  for (const auto& [row, tile] : forward_tiles) add_forward_row(row, n, true, false, tile);
  add_forward_row("tick_kernels/cuda_relayout", n, false, true);
  add_row("tick_kernels/thrust_forward", n, [](benchmark::State& s) { bench_tick_thrust(s, true); });

  // The literal representation: the reference.
  add_row("tick_kernels/cuda", n, [](benchmark::State& s) { bench_tick_cuda(s, "tick_kernels/cuda", false); });
  add_row("tick_kernels/cuda_two_pass", n,
          [](benchmark::State& s) { bench_tick_cuda(s, "tick_kernels/cuda_two_pass", true); });
  // The literal one-pass tick's other tile shapes (threads x rows; `cuda` is 256x4).
  add_tile_row("tick_kernels/cuda_tile256x8", n, TickTile::k256x8);
  add_tile_row("tick_kernels/cuda_tile128x8", n, TickTile::k128x8);
  add_tile_row("tick_kernels/cuda_tile512x2", n, TickTile::k512x2);
  add_tile_row("tick_kernels/cuda_tile256x2_pairs", n, TickTile::k256x2_pairs);
  add_tile_row("tick_kernels/cuda_tile256x4_streaming", n, TickTile::k256x4_streaming);
  add_tile_row("tick_kernels/cuda_tile256x2_pairs_streaming", n, TickTile::k256x2_pairs_streaming);
  add_row("tick_kernels/thrust", n, [](benchmark::State& s) { bench_tick_thrust(s, false); });
}

}  // namespace heatkit::gpu_bench
