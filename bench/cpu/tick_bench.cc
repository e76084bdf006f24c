// tick, tick_periodic and blob_tick: the registry's tick in steady state.
//
// Every counter has emitted; its emission phase is staggered uniformly over
// one half-life, so as rates decay a steady kTickStep / kHalfLife (about 5%)
// of counters cross the 2x ratio per tick. The candidates are committed
// outside the clock, so each counter re-qualifies about one half-life later
// and the fraction stays put. Rates reach zero after about 52 half-lives;
// before that the workload re-bumps every counter (untimed).
//
// The step is not a whole fraction of the half-life: a committed counter next
// qualifies 20 steps (1.01 half-lives) later at a ratio of 2.014, clear of
// the threshold. tick_periodic uses exactly half-life / 20 instead: then every
// re-qualification lands on the threshold itself (a ratio of 2 up to the
// rounding of 20 decays), as it does for quiet counters under a tick period
// that divides the half-life; the Highway kernel hands such lanes to the
// scalar gate. It starts after one half-life of untimed ticks, so that every
// candidate is such a re-qualification. blob_tick is `tick` with 32-byte keys.
#include <cmath>
#include <memory>
#include <string>

#include "bench/cpu/operations.h"
#include "bench/cpu/tick_workload.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

template <class S>
void bench_tick(benchmark::State& state, const std::string& op, const RowInfo& row, const Factory<S>& make,
                bool periodic) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Policy policy = default_policy();
  auto& w = workbench().get<TickWorkload<S>>(op + "/" + row.workload + "/" + std::to_string(n), [&] {
    auto built = std::make_unique<TickWorkload<S>>(make, n, periodic ? kPeriodicStep : kTickStep);
    if (periodic) built->settle_on_threshold(policy);
    return built;
  });
  w.subject->set_threads(row.threads);
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    if (w.now - w.refreshed_at > kRefreshAfter) {
      w.refresh();
      if (periodic) w.settle_on_threshold(policy);
    }
    w.now += w.step;
    const Clock::time_point start = Clock::now();
    w.subject->tick(policy, w.now, w.emissions);
    benchmark::DoNotOptimize(w.emissions.data());
    times.add(state, seconds_since(start));
    candidates += static_cast<double>(w.emissions.size());
    w.subject->commit(w.emissions);
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = times.report(state, "ns_per_counter", items);
  state.counters["emit_fraction"] = candidates / items;
  state.counters["threads"] = row.threads;
  report_memory(state, w.subject->memory());
  // The port's gate has no vector fast path to fall out of: its `tick` is the
  // reference for both.
  if (!periodic || !row.is_port) relate(state, periodic ? "tick" : op, row, n, ns, true);
}

}  // namespace

BenchFn tick_benchmark(const RowInfo& row, std::string_view op, bool periodic) {
  return with_any_subject(row, [&]<class S>(const Factory<S>& make) -> BenchFn {
    return [=, op = std::string(op)](benchmark::State& s) { bench_tick<S>(s, op, row, make, periodic); };
  });
}

}  // namespace heatkit::bench
