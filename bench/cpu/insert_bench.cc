// insert_at_cap, blob_insert_at_cap: the registry holds cap = n counters;
// each insert is a new key (bumped, as a first read would) that evicts the
// oldest. Runs after the bumps on their registry (resident_workload.h).
#include <string>

#include "bench/cpu/operations.h"
#include "bench/cpu/resident_workload.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

template <class S>
void bench_insert_at_cap(benchmark::State& state, const std::string& op, const RowInfo& row,
                         const Factory<S>& make) {
  using Key = typename S::Key;
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = resident_workload(row, n, make, false);
  w.evicted = true;
  IterationTimes times;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    for (std::size_t k = 0; k < S::kInsertBatch; ++k) {
      w.subject->touch(as_key<Key>(fresh_key(w.next_fresh++)), w.now);
      w.now += kBumpStep;
    }
    times.add(state, seconds_since(start));
  }
  if (w.subject->size() != n) state.SkipWithError("an insert at the cap changed the size");
  const double ns = times.report(state, "ns_per_insert", static_cast<double>(state.iterations() * S::kInsertBatch));
  report_memory(state, w.subject->memory());
  relate(state, op, row, n, ns, false);
}

}  // namespace

BenchFn insert_at_cap_benchmark(const RowInfo& row, std::string_view op) {
  return with_any_subject(row, [&]<class S>(const Factory<S>& make) -> BenchFn {
    return [=, op = std::string(op)](benchmark::State& s) { bench_insert_at_cap<S>(s, op, row, make); };
  });
}

}  // namespace heatkit::bench
