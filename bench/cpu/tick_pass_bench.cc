// tick_pass: the backend's bulk tick pass alone, CounterStore::tick over the
// columns into a reused candidate buffer: no key lookup of the candidates, no
// returned vector, no LRU. The same steady state as `tick` (same step, same
// stagger; candidates recorded outside the clock), so `tick` - `tick_pass` is
// what the registry adds around the kernel. heatkit rows only.
#include <memory>
#include <string>
#include <vector>

#include "bench/cpu/operations.h"
#include "bench/cpu/tick_workload.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

struct PassWorkload {
  std::unique_ptr<CounterStore> store;
  std::size_t n;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  std::vector<Candidate> out;

  PassWorkload(const std::string& backend, std::size_t counters) : store(make_store(backend)), n(counters) {
    store->ensure_slots(n);
    refresh();
  }
  // Every counter at rate 1 with its staggered last emission.
  void refresh() {
    for (std::size_t i = 0; i < n; ++i) {
      const auto slot = static_cast<Slot>(i);
      store->init(slot, kHalfLife, now);
      store->bump(slot, now);
      store->record(slot, Decision::kEmit, staggered_emission(i));
    }
    refreshed_at = now;
  }
};

void bench_tick_pass(benchmark::State& state, const RowInfo& row) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<PassWorkload>("pass/" + row.workload + "/" + std::to_string(n),
                                          [&] { return std::make_unique<PassWorkload>(row.backend, n); });
  w.store->set_threads(row.threads);
  const Policy policy = default_policy();
  IterationTimes times;
  double candidates = 0.0;
  for (auto _ : state) {
    if (w.now - w.refreshed_at > kRefreshAfter) w.refresh();
    w.now += kTickStep;
    // As a registry over these counters (one half-life) calls the store.
    TickParams params = tick_params(policy, w.now, false);
    params.shared_half_life = kHalfLife;
    w.out.clear();
    const Clock::time_point start = Clock::now();
    w.store->tick(params, w.out);
    benchmark::DoNotOptimize(w.out.data());
    times.add(state, seconds_since(start));
    candidates += static_cast<double>(w.out.size());
    for (const Candidate& c : w.out) w.store->record(c.slot, c.kind, c.rate);
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = times.report(state, "ns_per_counter", items);
  state.counters["emit_fraction"] = candidates / items;
  state.counters["threads"] = row.threads;
  relate(state, "tick", row, n, ns, true);
}

}  // namespace

BenchFn tick_pass_benchmark(const RowInfo& row) {
  return [row](benchmark::State& s) { bench_tick_pass(s, row); };
}

}  // namespace heatkit::bench
