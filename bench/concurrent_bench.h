// Bumps from several threads at once into one shared registry:
//   bump_mt_uniform/<impl>/t<k>/<n>, bump_mt_zipf/...         single bumps
//   bump_mt_batch_uniform/<impl>/t<k>/<n>, bump_mt_batch_zipf  batches of 1,024
// for k = 1 and every hardware thread. <impl>:
//   port+mutex      the straightforward port behind one std::mutex (the seed's way)
//   <backend>+mutex a HeatRegistry behind one std::mutex
//   sharded         heatkit's ConcurrentHeatRegistry (registry/concurrent_registry.h),
//                   default shard count (counter `shards`), cap n + n/8 (its
//                   cap is per shard)
// Each thread bumps its own stretch of the same precomputed key sequence; all
// bumps of one timed iteration happen at one instant (threads interleave
// arbitrarily, so per-bump instants would run backwards between threads).
// The time is the wall time from releasing the threads together to the last
// one finishing; ns_per_bump is that time / all bumps, i.e. 1 / throughput.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/results.h"
#include "bench/subjects.h"
#include "bench/workbench.h"
#include "util/thread_pool.h"

#if __has_include("registry/concurrent_registry.h")
#include "registry/concurrent_registry.h"
#define HEATKIT_BENCH_HAVE_CONCURRENT 1
#else
#define HEATKIT_BENCH_HAVE_CONCURRENT 0
#endif

namespace heatkit::bench {

inline constexpr std::size_t kMtBumpsPerThread = 16'384;  // per timed iteration
inline constexpr std::size_t kMtBatchSize = 1'024;

// A single-threaded subject behind one mutex.
template <class S>
class Locked {
 public:
  template <class... Args>
  explicit Locked(Args&&... args) : subject_(std::forward<Args>(args)...) {}
  void touch(std::uint64_t key, std::int64_t now) {
    std::lock_guard lock(mutex_);
    subject_.touch(key, now);
  }
  void touch_batch(std::span<const std::uint64_t> keys, std::int64_t now) {
    std::lock_guard lock(mutex_);
    subject_.touch_batch(keys, now);
  }
  std::size_t size() const { return subject_.size(); }
  MemoryReport memory() const { return subject_.memory(); }

 private:
  std::mutex mutex_;
  S subject_;
};

#if HEATKIT_BENCH_HAVE_CONCURRENT
// heatkit's sharded registry.
class ShardedSubject {
 public:
  // The cap is split over the shards, and keys spread over them by hash: with
  // 1/8 headroom no shard fills up with the workload's n keys.
  ShardedSubject(const std::string& backend, std::size_t n)
      : registry_(bench_options(n + n / 8, backend)) {}
  void touch(std::uint64_t key, std::int64_t now) {
    const Instant t = instant_from_ns(now);
    registry_.bump(key, Duration(kHalfLife), t);
  }
  void touch_batch(std::span<const std::uint64_t> keys, std::int64_t now) {
    registry_.bump_batch(keys, Duration(kHalfLife), instant_from_ns(now));
  }
  std::size_t size() const { return registry_.size(); }
  std::size_t shard_count() const { return registry_.shard_count(); }
  MemoryReport memory() const { return memory_report(registry_.memory_usage(), size()); }

 private:
  ConcurrentHeatRegistry registry_;
};
#endif

template <class C>
struct MtWorkload {
  std::unique_ptr<C> subject;
  std::int64_t now;
  std::vector<std::size_t> cursors;  // per thread, into the key sequence

  MtWorkload(std::unique_ptr<C> made, std::size_t n, unsigned max_threads)
      : subject(std::move(made)), now(kStart + static_cast<std::int64_t>(n)), cursors(max_threads) {
    for (std::size_t i = 0; i < n; ++i) subject->touch(resident_key(i), kStart + static_cast<std::int64_t>(i));
    for (unsigned t = 0; t < max_threads; ++t) cursors[t] = t * (kSequenceLength / max_threads);
  }
};

// Runs body(t) on `threads` threads released together; returns the seconds
// from the release to the last one's end (thread start-up is not timed). The
// calling thread is thread 0, so k threads need k cores, not k + 1: with a
// spinning caller beside k spinning workers on k cores, the scheduler could
// leave two workers on one core for a whole timed run (seen here as 2 threads
// taking exactly twice as long as 1).
inline double run_together(unsigned threads, const std::function<void(unsigned)>& body) {
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<Clock::time_point> ends(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned t = 1; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) {
      }
      body(t);
      ends[t] = Clock::now();
    });
  }
  while (ready.load() + 1 < threads) {
  }
  const Clock::time_point start = Clock::now();
  go.store(true, std::memory_order_release);
  body(0);
  ends[0] = Clock::now();
  for (std::thread& th : workers) th.join();
  Clock::time_point last = start;
  for (const Clock::time_point& e : ends) last = std::max(last, e);
  return std::chrono::duration<double>(last - start).count();
}

template <class C>
void bench_bump_mt(benchmark::State& state, const std::string& workload_id, unsigned threads,
                   unsigned max_threads, KeyChoice choice, bool batched,
                   const std::function<std::unique_ptr<C>(std::size_t)>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<std::uint64_t>& sequence = key_sequence(choice, n);
  auto& w = workbench().get<MtWorkload<C>>(workload_id + "/" + std::to_string(n), [&] {
    return std::make_unique<MtWorkload<C>>(make(n), n, max_threads);
  });
  IterationTimes times;
  for (auto _ : state) {
    w.now += kBumpStep;
    const std::int64_t now = w.now;
    const double elapsed = run_together(threads, [&](unsigned t) {
      std::size_t cursor = w.cursors[t];
      if (batched) {
        for (std::size_t k = 0; k < kMtBumpsPerThread; k += kMtBatchSize) {
          w.subject->touch_batch(std::span(sequence).subspan(cursor, kMtBatchSize), now);
          cursor = (cursor + kMtBatchSize) & (kSequenceLength - 1);
        }
      } else {
        for (std::size_t k = 0; k < kMtBumpsPerThread; ++k) {
          w.subject->touch(sequence[cursor], now);
          cursor = (cursor + 1) & (kSequenceLength - 1);
        }
      }
      w.cursors[t] = cursor;
    });
    times.add(state, elapsed);
  }
  if (w.subject->size() != n) state.SkipWithError("a bump of a resident key changed the size");
  times.report(state, "ns_per_bump", static_cast<double>(state.iterations()) * threads * kMtBumpsPerThread);
  state.counters["threads"] = threads;
  state.counters["bytes_per_counter"] = w.subject->memory().total;
  if constexpr (requires { w.subject->shard_count(); }) {
    state.counters["shards"] = static_cast<double>(w.subject->shard_count());
  }
}

// cpu_probe/t<k>/<n>: how much compute k threads get here, measured just
// before the benchmarks at size n (the share a VM gets may change during a
// run). Each thread runs the same dependent chain of 2^24 floating-point
// steps; the throughput of k threads over that of one says how many cores the
// machine really gives the process (a VM may show 2 CPUs yet give the time of
// one).
inline double cpu_probe_chain(std::size_t steps) {
  double x = 1.0;
  for (std::size_t i = 0; i < steps; ++i) x = x * 1.0000001 + 1e-9;
  return x;
}

inline constexpr std::size_t kCpuProbeSteps = std::size_t{1} << 24;

inline void bench_cpu_probe(benchmark::State& state, unsigned threads) {
  const std::size_t steps = kCpuProbeSteps;
  IterationTimes times;
  std::vector<double> sink(threads);
  for (auto _ : state) {
    const double elapsed = run_together(threads, [&](unsigned t) { sink[t] = cpu_probe_chain(steps); });
    benchmark::DoNotOptimize(sink.data());
    times.add(state, elapsed);
  }
  times.report(state, "ns_per_step", static_cast<double>(state.iterations()) * threads * static_cast<double>(steps));
  state.counters["threads"] = threads;
}

inline void register_cpu_probe(std::int64_t n) {
  const unsigned all = resolve_threads(0);
  for (const unsigned t : all > 1 ? std::vector<unsigned>{1, all} : std::vector<unsigned>{1}) {
    benchmark::RegisterBenchmark(("cpu_probe/t" + std::to_string(t)).c_str(),
                                 [t](benchmark::State& s) { bench_cpu_probe(s, t); })
        ->Arg(n)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// Registers the multi-threaded bump benchmarks at size n; `backend` is the
// backend of the heatkit rows.
inline void register_concurrent_benchmarks(std::int64_t n, const std::string& backend) {
  const unsigned all = resolve_threads(0);
  std::vector<unsigned> thread_counts{1};
  if (all > 1) thread_counts.push_back(all);

  struct Mode {
    const char* op;
    KeyChoice choice;
    bool batched;
  };
  constexpr Mode kModes[] = {{"bump_mt_uniform", KeyChoice::kUniform, false},
                             {"bump_mt_zipf", KeyChoice::kZipf, false},
                             {"bump_mt_batch_uniform", KeyChoice::kUniform, true},
                             {"bump_mt_batch_zipf", KeyChoice::kZipf, true}};

  const auto add = [&]<class C>(const std::string& impl, const Mode& mode,
                                std::function<std::unique_ptr<C>(std::size_t)> make) {
    for (const unsigned t : thread_counts) {
      const std::string name = std::string(mode.op) + "/" + impl + "/t" + std::to_string(t);
      const std::string id = "mt/" + impl;  // shared by thread counts and modes
      benchmark::RegisterBenchmark(name.c_str(),
                                   [=](benchmark::State& s) {
                                     bench_bump_mt<C>(s, id, t, all, mode.choice, mode.batched, make);
                                   })
          ->Arg(n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  };
  // Row by row, so each row's registry is built once for all its modes.
  for (const Mode& mode : kModes) {
    if (mode.batched) continue;  // the port has no batch
    add.template operator()<Locked<PortSubject>>(
        "port+mutex", mode, [](std::size_t cap) { return std::make_unique<Locked<PortSubject>>(cap); });
  }
  for (const Mode& mode : kModes) {
    add.template operator()<Locked<HeatkitSubject>>(backend + "+mutex", mode, [backend](std::size_t cap) {
      return std::make_unique<Locked<HeatkitSubject>>(backend, cap);
    });
  }
#if HEATKIT_BENCH_HAVE_CONCURRENT
  for (const Mode& mode : kModes) {
    add.template operator()<ShardedSubject>("sharded", mode, [backend](std::size_t cap) {
      return std::make_unique<ShardedSubject>(backend, cap);
    });
  }
#endif
}

}  // namespace heatkit::bench
