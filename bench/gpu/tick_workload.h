// The tick rows' steady state (main.cu's header comment), shared by
// tick_kernels and tick_transfer at one size: columns on the device, in the
// literal representation or in the forward one (with its frame), the
// passes' scratch, and the untimed commit of each tick before the next.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "bench/gpu/columns.h"
#include "bench/gpu/tick_shapes.h"
#include "cuda/device_passes.h"
#include "math/forward_math.h"

namespace heatkit::gpu_bench {

// How the rate column holds a counter (math/forward_math.h).
enum class Representation {
  kLiteral,  // the rate at last_update: the literal ticks
  kForward,  // s against the workload's frame (steady_frame): the forward store's ticks
};

struct TickWorkload {
  Representation representation;
  std::size_t n;
  DeviceColumns columns;
  PassScratch scratch;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  ForwardFrame frame;  // kForward: the columns' frame, changed after each tick
  PinnedBuffer<Candidate> pinned_candidates;

  TickWorkload(Representation r, std::size_t counters);
  static std::size_t prepare(std::size_t n) {
    // Columns, decisions (1 B), selected slots (4 B), candidates at capacity n (16 B).
    require_device_memory((kColumnBytesPerCounter + 1 + 4 + 16) * static_cast<double>(n),
                          "the tick workload");
    return n;
  }

  void refresh() {
    fill_steady_state(columns, now);
    frame = steady_frame(now);
    refreshed_at = now;
  }
  // The next tick's parameters (no shared half-life). Refills the columns,
  // untimed, every kRefreshAfter, and before a forward tick that the frame
  // would not allow (the fast tick's rows time the fast tick only).
  TickParams next_params() {
    const std::int64_t next = now + kTickStep;
    if (now - refreshed_at > kRefreshAfter ||
        (representation == Representation::kForward && !forward_tick_allowed(frame, next))) {
      refresh();
    }
    now = next;
    return tick_params(now);
  }

  // kLiteral: the literal one-pass tick in the library's shape or another
  // (tick_shapes.h).
  void enqueue_cuda_one_pass_tick(const TickParams& p, cudaStream_t s,
                                  std::optional<TickTile> tile = std::nullopt);
  // kLiteral: capacity n for the candidates: nothing reads the count back in
  // between.
  void enqueue_cuda_two_pass_tick(const TickParams& p, cudaStream_t s);
  // kLiteral: thrust/thrust_passes.h's literal tick; waits for the count.
  std::size_t thrust_tick(const TickParams& p, cudaStream_t s);

  // kForward: the fast tick as the `cuda` store runs it (no tile: the
  // library's enqueue_one_pass_tick) or in another shape; then the frame
  // after it.
  void enqueue_cuda_forward_tick(const TickParams& p, cudaStream_t s,
                                 std::optional<TickTile> tile = std::nullopt);
  // kForward: the relayout tick as the store runs it (enqueue_relayout_tick);
  // then the frame after it.
  void enqueue_cuda_relayout_tick(const TickParams& p, cudaStream_t s);
  // kForward: the fast tick as the `thrust` store runs it; waits for the count.
  std::size_t thrust_forward_tick(const TickParams& p, cudaStream_t s);

  // Untimed commits of the last tick's candidates; return their count.
  std::size_t commit_device_count();
  void commit_host_count(std::size_t count);
};

}  // namespace heatkit::gpu_bench
