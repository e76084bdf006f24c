// tick_transfer/d2h_pageable, tick_transfer/d2h_pinned: the tick's
// candidate list (count x 16 B) device to host, into a std::vector / into
// cudaMallocHost memory; the candidates of one fresh tick, copied back again
// and again.
#include <vector>

#include "bench/gpu/rows.h"
#include "bench/gpu/tick_workload.h"

namespace heatkit::gpu_bench {
namespace {

void bench_tick_transfer(benchmark::State& state, bool pinned) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n, Representation::kLiteral);
  w.enqueue_cuda_one_pass_tick(w.next_params(), ctx().s());
  const std::size_t count = w.commit_device_count();  // the candidates stay in scratch
  const std::size_t bytes = count * sizeof(Candidate);
  std::vector<Candidate> pageable;
  Candidate* host = nullptr;
  if (pinned) {
    w.pinned_candidates.reserve_discarding(count);
    host = w.pinned_candidates.data();
  } else {
    pageable.resize(count);  // touched now: no first-touch page faults in the timing
    host = pageable.data();
  }
  const Candidate* device = w.scratch.candidates.data();
  auto copy = [&](cudaStream_t s) {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, s));
  };
  const IterationTimes times = time_transfers(state, pinned, copy);
  const double iterations = iterations_of(state);
  state.counters["ns_per_counter"] = times.seconds() * 1e9 / (iterations * static_cast<double>(n));
  state.counters["GBps"] = static_cast<double>(bytes) * iterations / times.seconds() / 1e9;
  state.counters["candidates"] = static_cast<double>(count);
}

}  // namespace

void add_tick_transfer_rows(std::int64_t n) {
  add_row("tick_transfer/d2h_pageable", n, [](benchmark::State& s) { bench_tick_transfer(s, false); });
  add_row("tick_transfer/d2h_pinned", n, [](benchmark::State& s) { bench_tick_transfer(s, true); });
}

}  // namespace heatkit::gpu_bench
