// tick_quiet: every counter has emitted; then nothing happens for 100
// half-lives, and the tick decays every rate to zero and returns a Withdraw
// for every counter. Not committed (that would prune them all): between timed
// ticks every rate is set back to 1 (untimed), so the next tick, 100
// half-lives later, withdraws them all again.
#include <algorithm>
#include <memory>
#include <string>

#include "bench/cpu/operations.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

template <class S>
struct QuietWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t now;
  typename S::Emissions emissions;  // every tick's result, its memory reused

  QuietWorkload(const Factory<S>& make, std::size_t counters, const Policy& policy)
      : subject(make(counters)), n(counters), now(kStart + static_cast<std::int64_t>(counters)) {
    fill(*subject, n);
    subject->commit(subject->tick(policy, now));  // every counter emits once
  }
  void restore() {
    subject->restore_rates(1.0, n, [](std::size_t i) { return resident_key(i); });
  }
};

template <class S>
void bench_tick_quiet(benchmark::State& state, const RowInfo& row, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Policy policy = default_policy();
  auto& w = workbench().get<QuietWorkload<S>>(
      "quiet/" + row.workload + "/" + std::to_string(n),
      [&] { return std::make_unique<QuietWorkload<S>>(make, n, policy); });
  w.subject->set_threads(row.threads);
  IterationTimes times;
  double withdrawn = 0.0;
  for (auto _ : state) {
    w.restore();
    w.now += kQuietGap;
    const Clock::time_point start = Clock::now();
    w.subject->tick(policy, w.now, w.emissions);
    benchmark::DoNotOptimize(w.emissions.data());
    times.add(state, seconds_since(start));
    withdrawn += static_cast<double>(std::count_if(w.emissions.begin(), w.emissions.end(),
                                                   [](const auto& e) { return e.second.is_withdraw(); }));
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  if (withdrawn != items) state.SkipWithError("the tick after the quiet gap did not withdraw every counter");
  const double ns = times.report(state, "ns_per_counter", items);
  state.counters["withdraw_fraction"] = withdrawn / items;
  state.counters["threads"] = row.threads;
  relate(state, "tick_quiet", row, n, ns, true);
}

}  // namespace

BenchFn tick_quiet_benchmark(const RowInfo& row) {
  return with_subject<std::uint64_t>(row, [&]<class S>(const Factory<S>& make) -> BenchFn {
    return [=](benchmark::State& s) { bench_tick_quiet<S>(s, row, make); };
  });
}

}  // namespace heatkit::bench
