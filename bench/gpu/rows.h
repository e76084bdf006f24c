// What every heatkit_gpu_bench row shares: the one workload alive at a time,
// the references of earlier rows and the per-item counters (bench/results.h),
// registration inside a guard that turns a failure into an error row, and
// each operation file's rows (registered in main.cu's order).
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bench/gpu/columns.h"
#include "bench/gpu/device_context.h"
#include "bench/results.h"
#include "bench/workload_cache.h"

namespace heatkit::gpu_bench {

using bench::IterationTimes;
using bench::references;
using bench::seconds_since;

bench::Workbench& workbench();

// The workload W of `kind` at n counters, built from (args..., n) unless it is
// the one alive.
template <class W, class... Args>
W& workload(std::string_view kind, std::size_t n, Args... args) {
  return workbench().get<W>(std::string(kind) + "/" + std::to_string(n),
                            [&] { return std::make_unique<W>(args..., n); });
}

inline std::string ref_key(std::string_view row, std::size_t n) {
  return std::string(row) + "/" + std::to_string(n);
}

inline std::size_t counters_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

inline double iterations_of(const benchmark::State& state) {
  return static_cast<double>(state.iterations());
}

// Times copy(stream), one transfer, once per iteration after an untimed
// warm-up. A pageable copy first waits for the stream and returns only once
// done, so its stream is not held (holding it would stall the copy); a
// pinned one is asynchronous and timed held.
template <class Copy>
IterationTimes time_transfers(benchmark::State& state, bool pinned, Copy&& copy) {
  copy(ctx().s());  // warm-up
  ctx().stream.synchronize();
  IterationTimes times;
  for (auto _ : state) times.add(state, time_on_stream(pinned ? kAsyncTransfer : kWaitingTransfer, copy));
  return times;
}

// Registers <name>/<n> with manual time and the set repetitions. A failure
// (CUDA error, not enough memory) marks the row as skipped with its message
// and frees the workload, and the run goes on.
void add_row(const std::string& name, std::int64_t n, std::function<void(benchmark::State&)> body);

// Each operation file's rows at n counters, in registration order.
void add_copy_floor_rows(std::int64_t n);
void add_tick_kernel_rows(std::int64_t n);
void add_tick_transfer_rows(std::int64_t n);
void add_tick_store_rows(std::int64_t n);
void add_bump_rows(std::int64_t n);
void add_commit_prune_rows(std::int64_t n);

// Why the device passes disagree with the scalar reference, or empty
// (guard.cu; before anything is registered).
std::string guard_disagreement();

}  // namespace heatkit::gpu_bench
