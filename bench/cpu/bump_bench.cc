// bump_uniform, bump_zipf: entry(key).bump(now) of resident keys;
// bump_batch_*: bump_batch of 1,024 of them at one instant; bump_queued_*:
// the single bumps on a registry with a bump queue of 256 reads (heatkit
// only); blob_bump_*: the same with 32-byte keys. Keys come from precomputed
// sequences (bench/workbench.h), uniform or Zipf(1.1).
#include <span>
#include <string>
#include <vector>

#include "bench/cpu/operations.h"
#include "bench/cpu/resident_workload.h"
#include "bench/results.h"

namespace heatkit::bench {
namespace {

constexpr std::size_t kBumpsPerIteration = 4096;

// Subjects with a bump queue (heatkit's, not the port): only they run the
// queued rows.
template <class S>
concept HasBumpQueue = requires(S& s) {
  s.set_bump_queue(std::size_t{});
  s.apply_queue();
};

template <class S>
void bench_bump(benchmark::State& state, const std::string& port_op, const RowInfo& row,
                const Factory<S>& make, KeyChoice choice, BumpMode mode) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto& sequence = key_sequence<typename S::Key>(choice, n);
  auto& w = resident_workload(row, n, make, true);
  // The queued rows bump the same resident registry with its queue on; each
  // timed iteration ends by applying the reads still queued.
  const bool queued = mode == BumpMode::kQueued;
  if constexpr (HasBumpQueue<S>) {
    if (queued) w.subject->set_bump_queue(kSuggestedBumpQueue);
  } else if (queued) {
    state.SkipWithError("this subject has no bump queue");
    return;
  }
  IterationTimes times;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    if (mode == BumpMode::kBatched) {
      for (std::size_t k = 0; k < kBumpsPerIteration; k += kBatchSize) {
        w.subject->touch_batch(std::span(sequence).subspan(w.cursor, kBatchSize), w.now);
        w.cursor = (w.cursor + kBatchSize) & (kSequenceLength - 1);
        w.now += kBumpStep;
      }
    } else {
      for (std::size_t k = 0; k < kBumpsPerIteration; ++k) {
        w.subject->touch(sequence[w.cursor], w.now);
        w.cursor = (w.cursor + 1) & (kSequenceLength - 1);
        w.now += kBumpStep;
      }
    }
    if constexpr (HasBumpQueue<S>) {
      if (queued) w.subject->apply_queue();
    }
    times.add(state, seconds_since(start));
  }
  if (w.subject->size() != n) state.SkipWithError("a bump of a resident key changed the size");
  const double ns = times.report(state, "ns_per_bump", static_cast<double>(state.iterations() * kBumpsPerIteration));
  report_memory(state, w.subject->memory());  // the queue's included
  if constexpr (HasBumpQueue<S>) {
    if (queued) w.subject->set_bump_queue(0);
  }
  relate(state, port_op, row, n, ns, false);
}

}  // namespace

BenchFn bump_benchmark(const RowInfo& row, std::string_view port_op, KeyChoice choice, BumpMode mode) {
  return with_any_subject(row, [&]<class S>(const Factory<S>& make) -> BenchFn {
    return [=, port_op = std::string(port_op)](benchmark::State& s) {
      bench_bump<S>(s, port_op, row, make, choice, mode);
    };
  });
}

}  // namespace heatkit::bench
