// floor, floor_shared_hl and floor_forward_read: one pass over the bytes a
// tick moves (bench/bandwidth_floor.h), the references every tick is set
// beside.
#include <memory>
#include <string>

#include "bench/bandwidth_floor.h"
#include "bench/cpu/operations.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

void bench_floor(benchmark::State& state, unsigned threads, FloorKind kind) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& floor = workbench().get<BandwidthFloor>(
      floor_name(kind) + "/" + std::to_string(n), [&] { return std::make_unique<BandwidthFloor>(n, kind); });
  const double bytes = floor_bytes_per_counter(kind);
  IterationTimes times;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    floor.pass(threads);
    times.add(state, seconds_since(start));
  }
  benchmark::DoNotOptimize(floor.checksum());
  const double ns = times.report(state, "ns_per_counter", static_cast<double>(state.iterations()) * static_cast<double>(n));
  state.counters["GBps"] = bytes / ns;
  state.counters["bytes_moved_per_counter"] = bytes;
  state.counters["threads"] = threads;
  record_floor(state, n, threads, kind, ns);
}

}  // namespace

BenchFn floor_benchmark(unsigned threads, FloorKind kind) {
  return [=](benchmark::State& s) { bench_floor(s, threads, kind); };
}

}  // namespace heatkit::bench
