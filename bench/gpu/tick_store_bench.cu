// tick_store/cuda, tick_store/thrust: DeviceCounterStore::tick end to end
// (queue flush, kernels, count read-back, candidates into a std::vector) on
// the steady state, host clock (it waits for itself); kernels_share is the
// tick_kernels time of the same passes (cuda_forward, thrust_forward) over
// this one. The store holds forward encodings: the first tick after each
// refill converts the uploaded literal counters, and once per 32 half-lives
// a tick is a relayout; both are timed, as a store runs them.
#include <vector>

#include "bench/gpu/rows.h"
#include "cuda/device_store.h"

namespace heatkit::gpu_bench {
namespace {

// tick_store: a DeviceCounterStore holding the same steady state.
struct StoreWorkload {
  std::size_t n;
  gpu::DeviceCounterStore store;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  std::vector<Candidate> out;

  StoreWorkload(gpu::DevicePasses passes, std::size_t counters)
      : n(prepare(counters)), store(passes) {
    store.ensure_slots(n);
    refresh();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns and the one-pass tick's candidate room (16 B per counter).
    require_device_memory((kColumnBytesPerCounter + 16) * static_cast<double>(n) +
                              64.0 * static_cast<double>(gpu::DeviceCounterStore::kMaxPendingOps),
                          "the tick_store workload");
    return n;
  }
  // Through the store's own upload of literal columns (keeps its host mirror
  // of last_update exact; stored literally, converted by the next tick).
  void refresh() {
    HostColumns host(n);
    const CounterColumns view = host.view();
    for (std::size_t i = 0; i < n; ++i) steady_state_counter(view, i, now);
    store.upload(view);
    refreshed_at = now;
  }
  TickParams next_params() {
    if (now - refreshed_at > kRefreshAfter) refresh();
    now += kTickStep;
    return tick_params(now);
  }
  // Untimed: records every candidate, as the registry's commit does, and
  // applies the queue now so the timed tick finds it empty.
  void commit() {
    for (const Candidate& c : out) store.record(c.slot, c.kind, c.rate);
    store.flush();
  }
};


void bench_tick_store(benchmark::State& state, gpu::DevicePasses passes) {
  const std::size_t n = counters_of(state);
  const bool cuda = passes == gpu::DevicePasses::kCudaKernels;
  auto& w = workload<StoreWorkload>(cuda ? "store_cuda" : "store_thrust", n, passes);
  w.out.clear();
  w.store.tick(w.next_params(), w.out);  // warm-up; sizes `out`
  w.commit();
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    w.out.clear();
    ctx().clear_l2();
    ctx().stream.synchronize();
    const auto start = bench::Clock::now();
    w.store.tick(p, w.out);
    times.add(state, seconds_since(start));
    candidates += static_cast<double>(w.out.size());
    w.commit();
  }
  const double counters = iterations_of(state) * static_cast<double>(n);
  times.report(state, "ns_per_counter", counters);
  state.counters["candidate_share"] = candidates / counters;
  const double per_tick = times.per_iteration(state);
  if (const auto kernels = references().median(
          ref_key(cuda ? "tick_kernels/cuda_forward" : "tick_kernels/thrust_forward", n));
      kernels && per_tick > 0) {
    state.counters["kernels_share"] = *kernels / per_tick;
  }
  const double share = candidates / counters;
  if (share < kMinCandidateShare || share > kMaxCandidateShare) {
    state.SkipWithError("the candidate share left [3%, 7%]: the steady state is broken");
  }
}

}  // namespace

void add_tick_store_rows(std::int64_t n) {
  add_row("tick_store/cuda", n, [](benchmark::State& s) { bench_tick_store(s, gpu::DevicePasses::kCudaKernels); });
  add_row("tick_store/thrust", n, [](benchmark::State& s) { bench_tick_store(s, gpu::DevicePasses::kThrust); });
}

}  // namespace heatkit::gpu_bench
