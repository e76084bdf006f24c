// The tick rows' steady state (main.cu's header comment), shared by
// tick_kernels and tick_transfer at one size: columns on the device, the
// passes' scratch, and the untimed commit of each tick before the next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bench/gpu/columns.h"
#include "bench/gpu/tick_shapes.h"
#include "cuda/device_passes.h"

namespace heatkit::gpu_bench {

struct TickWorkload {
  std::size_t n;
  DeviceColumns columns;
  PassScratch scratch;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  PinnedBuffer<Candidate> pinned_candidates;

  explicit TickWorkload(std::size_t counters);
  static std::size_t prepare(std::size_t n) {
    // Columns, decisions (1 B), selected slots (4 B), candidates at capacity n (16 B).
    require_device_memory((kColumnBytesPerCounter + 1 + 4 + 16) * static_cast<double>(n),
                          "the tick workload");
    return n;
  }

  void refresh() {
    fill_steady_state(columns, now);
    refreshed_at = now;
  }
  TickParams next_params() {
    if (now - refreshed_at > kRefreshAfter) refresh();
    now += kTickStep;
    return tick_params(now);
  }

  // The library's one-pass tick (what the `cuda` store runs), or the same
  // kernel in another shape (tick_shapes.h).
  void enqueue_cuda_one_pass_tick(const TickParams& p, cudaStream_t s,
                                  std::optional<TickTile> tile = std::nullopt);
  // Capacity n for the candidates: nothing reads the count back in between.
  void enqueue_cuda_two_pass_tick(const TickParams& p, cudaStream_t s);
  // thrust/thrust_passes.h as the `thrust` backend runs it; waits for the count.
  std::size_t thrust_tick(const TickParams& p, cudaStream_t s);

  // Untimed commits of the last tick's candidates; return their count.
  std::size_t commit_device_count();
  void commit_host_count(std::size_t count);
};

}  // namespace heatkit::gpu_bench
