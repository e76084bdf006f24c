// heatkit_host_share_bench: the host's share of a device store's tick, which
// runs on the CPU and so can be measured without a GPU.
//
// After a tick every counter's last_update is the tick's instant, and the
// host mirror of that column (which the LRU reads) must say so:
//   mirror_tick/fill/t<threads>/<n>   the baseline: every slot of a plain host
//       copy written with the instant, in 1 Mi-slot chunks on the shared pool
//       (what DeviceCounterStore did before store/last_updates.h)
//   mirror_tick/stamps/<n>            LastUpdateMirror::tick: one instant and a
//       new stamp, and every 255th tick a clear of 1 byte per slot; each
//       iteration runs 255 ticks, so exactly one clear is in every iteration
// Counters: ns_per_tick, bytes_per_counter (what the mirror holds per slot),
// and for the stamps row fill_speedup: the fill row's time (same n, all
// threads, median of this run's repetitions) / this time.
//
// The tick's candidates (5% of n here, 16 bytes each) then come back into
// the registry's reused std::vector. What the host does for that:
//   result_append/resize/<n>   the vector resized to the count (every element
//       value-initialized), which a copy straight into it needed first; the
//       copy itself (pageable, by the driver) is not in this row
//   result_append/staged/<n>   append_through_staging (cuda/staged_append.h)
//       with copies that cost nothing: the appends of 4 MB chunks from the
//       two staging buffers, the host's whole part (the copies into the
//       staging buffers are the GPU's copy engine's)
// Counter: ns_per_result.
// Results and the command: docs/PERFORMANCE.md (GPU section).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/results.h"
#include "cuda/staged_append.h"
#include "store/last_updates.h"
#include "util/thread_pool.h"
#include "math/counter_math.h"

namespace {

using heatkit::bench::Clock;
using heatkit::bench::IterationTimes;
using heatkit::bench::references;
using heatkit::bench::seconds_since;

// Runs `op` under the clock once per iteration (`untimed` before it, off the
// clock) and returns the iterations' manual times.
template <class Untimed, class Op>
IterationTimes time_iterations(benchmark::State& state, Untimed untimed, Op op) {
  IterationTimes times;
  for (auto _ : state) {
    untimed();
    const Clock::time_point start = Clock::now();
    op();
    times.add(state, seconds_since(start));
  }
  return times;
}

// Sets `counter` to the ns per item of `items_per_iteration` items per iteration.
double report(benchmark::State& state, const IterationTimes& times, const char* counter,
              std::size_t items_per_iteration) {
  return times.report(state, counter,
                      static_cast<double>(state.iterations()) * static_cast<double>(items_per_iteration));
}

std::string fill_key(std::size_t n) { return "fill/" + std::to_string(n); }  // the all-threads fill

void bench_fill(benchmark::State& state, unsigned threads) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::int64_t> mirror(n, 0);
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  std::int64_t now = 1;
  const IterationTimes times = time_iterations(state, [] {}, [&] {
    ++now;
    heatkit::ThreadPool::shared().run((n + kChunk - 1) / kChunk, threads, [&](std::size_t chunk) {
      const std::size_t begin = chunk * kChunk;
      std::fill(mirror.data() + begin, mirror.data() + std::min(n, begin + kChunk), now);
    });
  });
  benchmark::DoNotOptimize(mirror.data());
  const double ns = report(state, times, "ns_per_tick", 1);
  state.counters["bytes_per_counter"] = sizeof(std::int64_t);
  state.counters["threads"] = threads;
  if (threads == heatkit::resolve_threads(0)) references().add(fill_key(n), state.iterations(), ns);
}

void bench_stamps(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  heatkit::LastUpdateMirror mirror;
  mirror.resize(n);
  std::int64_t now = 1;
  constexpr std::size_t kTicksPerIteration = 255;  // one full cycle of stamps: one clear
  const IterationTimes times = time_iterations(state, [] {}, [&] {
    for (std::size_t k = 0; k < kTicksPerIteration; ++k) mirror.tick(++now);
  });
  benchmark::DoNotOptimize(mirror.view()[n - 1]);
  const double ns = report(state, times, "ns_per_tick", kTicksPerIteration);
  state.counters["bytes_per_counter"] =
      static_cast<double>(mirror.memory_bytes()) / static_cast<double>(n);
  if (const auto fill = references().median(fill_key(n)); fill && ns > 0) {
    state.counters["fill_speedup"] = *fill / ns;
  }
}

std::size_t candidates_of(std::size_t n) { return n / 20; }

void bench_append_resize(benchmark::State& state) {
  const std::size_t count = candidates_of(static_cast<std::size_t>(state.range(0)));
  std::vector<heatkit::Candidate> out;
  out.reserve(count);  // the registry's vector is reused from tick to tick
  const IterationTimes times = time_iterations(state, [&] { out.clear(); }, [&] {
    out.resize(count);
    benchmark::DoNotOptimize(out.data());
  });
  report(state, times, "ns_per_result", count);
}

void bench_append_staged(benchmark::State& state) {
  const std::size_t count = candidates_of(static_cast<std::size_t>(state.range(0)));
  const std::size_t chunk =
      std::min(count, heatkit::gpu::kStagingChunkBytes / sizeof(heatkit::Candidate));
  std::vector<heatkit::Candidate> a(chunk), b(chunk);  // the pinned buffers' stand-ins
  for (std::size_t i = 0; i < chunk; ++i) a[i].slot = b[i].slot = static_cast<std::uint32_t>(i);
  heatkit::Candidate* const staging[2] = {a.data(), b.data()};
  std::vector<heatkit::Candidate> out;
  out.reserve(count);
  const IterationTimes times = time_iterations(state, [&] { out.clear(); }, [&] {
    heatkit::gpu::append_through_staging(
        out, count, staging, chunk, [](std::size_t, std::size_t, std::size_t) {}, [] {});
    benchmark::DoNotOptimize(out.data());
  });
  report(state, times, "ns_per_result", count);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const unsigned all = heatkit::resolve_threads(0);
  for (const std::int64_t n : {1'000'000, 10'000'000, 100'000'000}) {
    std::vector<unsigned> threads{1};
    if (all > 1) threads.push_back(all);
    for (const unsigned t : threads) {
      benchmark::RegisterBenchmark(
          ("mirror_tick/fill/t" + std::to_string(t)).c_str(),
          [t](benchmark::State& s) { bench_fill(s, t); })
          ->Arg(n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
    benchmark::RegisterBenchmark("mirror_tick/stamps", bench_stamps)
        ->Arg(n)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    for (const bool staged : {false, true}) {
      benchmark::RegisterBenchmark(staged ? "result_append/staged" : "result_append/resize",
                                   staged ? bench_append_staged : bench_append_resize)
          ->Arg(n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
