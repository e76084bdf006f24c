// commit_prune: every counter has emitted; then a quiet gap of 100 half-lives
// in which only one key in ten is bumped. The tick after the gap returns a
// Withdraw for the other 90%; the timed commit records them and prunes them.
// Each iteration first restores the full set (untimed).
#include <memory>
#include <string>

#include "bench/cpu/operations.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

constexpr std::size_t kSurvivorEvery = 10;

template <class S>
struct CommitWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t now = kStart;
  typename S::Emissions pending;

  CommitWorkload(const Factory<S>& make, std::size_t counters) : subject(make(counters)), n(counters) {}

  // Leaves `pending` holding the tick after the quiet gap.
  void prepare(const Policy& policy) {
    for (std::size_t i = 0; i < n; ++i) subject->touch(resident_key(i), now + static_cast<std::int64_t>(i));
    now += static_cast<std::int64_t>(n) + 1;
    subject->commit(subject->tick(policy, now));
    now += kQuietGap;
    for (std::size_t i = 0; i < n; i += kSurvivorEvery) subject->touch(resident_key(i), now);
    now += 1;
    pending = subject->tick(policy, now);
  }
};

template <class S>
void bench_commit_prune(benchmark::State& state, const RowInfo& row, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<CommitWorkload<S>>("commit/" + row.workload + "/" + std::to_string(n),
                                               [&] { return std::make_unique<CommitWorkload<S>>(make, n); });
  w.subject->set_threads(row.threads);
  const Policy policy = default_policy();
  IterationTimes times;
  double pruned = 0.0;
  MemoryReport before_commit;
  for (auto _ : state) {
    w.prepare(policy);
    const std::size_t size_before = w.subject->size();
    before_commit = w.subject->memory();
    const Clock::time_point start = Clock::now();
    w.subject->commit(w.pending);
    times.add(state, seconds_since(start));
    pruned += static_cast<double>(size_before - w.subject->size());
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = times.report(state, "ns_per_counter", items);
  state.counters["pruned_fraction"] = pruned / items;
  state.counters["threads"] = row.threads;
  // Measured before the commit, while the registry holds all n counters (the
  // scratch includes the tick's candidate buffer, here 90% of n).
  report_memory(state, before_commit);
  relate(state, "commit_prune", row, n, ns, false);
}

}  // namespace

BenchFn commit_prune_benchmark(const RowInfo& row) {
  return with_subject<std::uint64_t>(row, [&]<class S>(const Factory<S>& make) -> BenchFn {
    return [=](benchmark::State& s) { bench_commit_prune<S>(s, row, make); };
  });
}

}  // namespace heatkit::bench
