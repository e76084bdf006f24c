// The one-pass tick kernel (cuda/device_passes.h enqueue_one_pass_tick and
// enqueue_relayout_tick) as a template over its step and its shape. Steps:
// the forward store's fast tick and relayout tick (thrust/forward_tick.h's
// per-counter steps), and the literal tick (counter_math.h tick_one) of
// columns without a frame, which only the GPU benchmarks run, as the
// reference the forward tick is measured against. Shapes: threads per
// block, rows per thread, one or two adjacent slots per access, streaming
// cache hints. The library runs one shape (256 x 4) of the forward steps;
// the GPU benchmarks instantiate the others to compare them.
// Device code: include only from .cu files compiled with heatkit's numeric
// options (--fmad=false), so decay and gate round like the scalar reference.
#pragma once

#include <cub/agent/single_pass_scan_operators.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda/std/functional>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "cuda/cuda_error.h"
#include "cuda/device_passes.h"
#include "cuda/grid_stride.cuh"
#include "math/counter_math.h"
#include "math/forward_math.h"
#include "thrust/forward_tick.h"

namespace heatkit::gpu {

// The one-pass tick (its steps: TickStep, cuda/device_passes.h). A tile is
// Rows rows of Threads consecutive slots; thread t owns slot t of every row,
// so each row's loads and stores are
// coalesced. The candidates of a tile are numbered in slot order (row by row,
// and within a row by a block scan), and the tile's place in the output
// comes from the tiles before it by CUB's decoupled look-back
// (ScanTileState + TilePrefixCallbackOp), as in CUB's own DeviceSelect. The
// rows' scans run as one block scan of 16-bit fields packed four to a u64
// (a row holds at most Threads < 2^16 candidates, so no field carries into
// the next).
using TileCounts = cub::ScanTileState<std::uint32_t>;
using TilePrefix = cub::TilePrefixCallbackOp<std::uint32_t, ::cuda::std::plus<>, TileCounts>;

template <int Rows>
struct RowCounts {
  static constexpr int kWords = (Rows + 3) / 4;
  std::uint64_t word[kWords] = {};
  __device__ std::uint32_t row(int r) const {
    return static_cast<std::uint32_t>((word[r / 4] >> (16 * (r % 4))) & 0xffffu);
  }
  __device__ void add_to_row(int r, std::uint32_t n) {
    word[r / 4] += std::uint64_t{n} << (16 * (r % 4));
  }
};
struct AddRowCounts {
  template <class Counts>
  __device__ Counts operator()(const Counts& a, const Counts& b) const {
    Counts sum;
#pragma unroll
    for (int w = 0; w < Counts::kWords; ++w) sum.word[w] = a.word[w] + b.word[w];
    return sum;
  }
};

// A template, like every kernel here: this header is compiled into the
// library and into the benchmarks, whose host stubs must not collide.
template <class TileState>
__global__ void init_tile_counts_kernel(TileState tile_counts, int tiles) {
  tile_counts.InitializeStatus(tiles);
}

// Column access of the one-pass tick: plain, or with streaming cache hints
// (every column byte is read and written once per tick: evict-first).
// int64_t goes through long long, the type the intrinsics take.
template <bool Streaming, class T>
__device__ inline T load_column(const T* p) {
  if constexpr (!Streaming) {
    return *p;
  } else if constexpr (sizeof(T) == 8 && !std::is_floating_point_v<T>) {
    return static_cast<T>(__ldcs(reinterpret_cast<const long long*>(p)));
  } else {
    return __ldcs(p);
  }
}
template <bool Streaming, class T>
__device__ inline void store_column(T* p, T value) {
  if constexpr (!Streaming) {
    *p = value;
  } else if constexpr (sizeof(T) == 8 && !std::is_floating_point_v<T>) {
    __stcs(reinterpret_cast<long long*>(p), static_cast<long long>(value));
  } else {
    __stcs(p, value);
  }
}
// Two adjacent 8-byte elements at an even slot (16-byte aligned) in one access.
template <bool Streaming, class T>
__device__ inline void load_pair(const T* p, T& a, T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    const double2 v = Streaming ? __ldcs(reinterpret_cast<const double2*>(p))
                                : *reinterpret_cast<const double2*>(p);
    a = v.x;
    b = v.y;
  } else {
    const longlong2 v = Streaming ? __ldcs(reinterpret_cast<const longlong2*>(p))
                                  : *reinterpret_cast<const longlong2*>(p);
    a = static_cast<T>(v.x);
    b = static_cast<T>(v.y);
  }
}
template <bool Streaming, class T>
__device__ inline void store_pair(T* p, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    const double2 v{a, b};
    if constexpr (Streaming) __stcs(reinterpret_cast<double2*>(p), v);
    else *reinterpret_cast<double2*>(p) = v;
  } else {
    const longlong2 v{static_cast<long long>(a), static_cast<long long>(b)};
    if constexpr (Streaming) __stcs(reinterpret_cast<longlong2*>(p), v);
    else *reinterpret_cast<longlong2*>(p) = v;
  }
}

// Threads x Rows x Pairs: thread t owns slots t*Pairs .. t*Pairs+Pairs-1 of
// every row of Threads*Pairs consecutive slots (Pairs = 2: 16-byte accesses).
// `in`: the fast tick's inputs (kForward), the frame before the tick
// (kRelayout: in.frame), nothing (kLiteral).
template <TickStep Step, int Threads, int Rows, int Pairs, bool Streaming>
__global__ void __launch_bounds__(Threads)
    one_pass_tick_kernel(CounterColumns c, TickParams params, forward_pass::TickInputs in,
                         TileCounts tile_counts, Candidate* candidates, std::int64_t* count) {
  static_assert(Threads * Pairs < (1 << 16) && Threads % 32 == 0 && (Pairs == 1 || Pairs == 2));
  constexpr std::size_t kRowSlots = std::size_t{Threads} * Pairs;
  constexpr std::size_t kTileSlots = kRowSlots * Rows;
  using RowScan = cub::BlockScan<RowCounts<Rows>, Threads>;
  __shared__ typename RowScan::TempStorage scan_storage;
  __shared__ typename TilePrefix::TempStorage prefix_storage;
  __shared__ std::uint32_t tile_offset;
  const int tile = static_cast<int>(blockIdx.x);
  const std::size_t first = static_cast<std::size_t>(tile) * kTileSlots + std::size_t{threadIdx.x} * Pairs;
  // The forward fast tick reads the half-life column only when no shared
  // half-life stands for it, and last_update only for literal counters.
  const bool load_half_life = Step != TickStep::kForward || forward_pass::reads_half_life(params);
  constexpr bool kLoadLastUpdate = Step != TickStep::kForward;

  // Every row's loads first, so they are in flight together. `rate` holds
  // the rate column's values (s for the forward steps); `value` the rate at
  // params.now each step computes.
  double rate[Rows][Pairs], last_emitted[Rows][Pairs], value[Rows][Pairs];
  std::int64_t last_update[Rows][Pairs], half_life[Rows][Pairs];
  std::uint8_t flags[Rows][Pairs];
#pragma unroll
  for (int k = 0; k < Rows; ++k) {
    const std::size_t i = first + kRowSlots * k;
#pragma unroll
    for (int p = 0; p < Pairs; ++p) {
      last_update[k][p] = 0;
      half_life[k][p] = params.shared_half_life;
    }
    if (Pairs == 2 && i + 1 < c.size) {
      load_pair<Streaming>(c.rate + i, rate[k][0], rate[k][Pairs - 1]);
      if constexpr (kLoadLastUpdate) {
        load_pair<Streaming>(c.last_update + i, last_update[k][0], last_update[k][Pairs - 1]);
      }
      load_pair<Streaming>(c.last_emitted + i, last_emitted[k][0], last_emitted[k][Pairs - 1]);
      if (load_half_life) {
        load_pair<Streaming>(c.half_life + i, half_life[k][0], half_life[k][Pairs - 1]);
      }
      const uchar2 f = *reinterpret_cast<const uchar2*>(c.flags + i);
      flags[k][0] = f.x;
      flags[k][Pairs - 1] = f.y;
    } else {
#pragma unroll
      for (int p = 0; p < Pairs; ++p) {
        if (i + p < c.size) {
          rate[k][p] = load_column<Streaming>(c.rate + i + p);
          if constexpr (kLoadLastUpdate) {
            last_update[k][p] = load_column<Streaming>(c.last_update + i + p);
          }
          last_emitted[k][p] = load_column<Streaming>(c.last_emitted + i + p);
          if (load_half_life) half_life[k][p] = load_column<Streaming>(c.half_life + i + p);
          flags[k][p] = c.flags[i + p];
        }
      }
    }
  }
  if constexpr (!kLoadLastUpdate) {
    // A literal counter's last write: rare (a write back in time, a decay_to).
#pragma unroll
    for (int k = 0; k < Rows; ++k) {
      const std::size_t i = first + kRowSlots * k;
#pragma unroll
      for (int p = 0; p < Pairs; ++p) {
        if (i + p < c.size && is_literal(rate[k][p])) last_update[k][p] = c.last_update[i + p];
      }
    }
  }
  Decision decision[Rows][Pairs];
  RowCounts<Rows> selected;
#pragma unroll
  for (int k = 0; k < Rows; ++k) {
    const std::size_t i = first + kRowSlots * k;
#pragma unroll
    for (int p = 0; p < Pairs; ++p) {
      decision[k][p] = Decision::kSuppress;
      if (i + p < c.size) {
        const std::uint8_t flags_before = flags[k][p];
        if constexpr (Step == TickStep::kForward) {
          const bool literal = is_literal(rate[k][p]);
          decision[k][p] = forward_pass::tick_one(rate[k][p], last_update[k][p], half_life[k][p],
                                                  last_emitted[k][p], flags[k][p], value[k][p],
                                                  params, in);
          if (literal) store_column<Streaming>(c.rate + i + p, rate[k][p]);  // now forward
        } else if constexpr (Step == TickStep::kRelayout) {
          const std::int64_t last_update_before = last_update[k][p];
          decision[k][p] = forward_pass::relayout_one(rate[k][p], last_update[k][p],
                                                      half_life[k][p], last_emitted[k][p],
                                                      flags[k][p], value[k][p], params, in.frame);
          if (last_update[k][p] != last_update_before) c.last_update[i + p] = last_update[k][p];
        } else {
          decision[k][p] = tick_one(rate[k][p], last_update[k][p], last_emitted[k][p],
                                    half_life[k][p], flags[k][p], params);
          value[k][p] = rate[k][p];
        }
        if (flags[k][p] != flags_before) c.flags[i + p] = flags[k][p];  // marked in flight
        if (decision[k][p] != Decision::kSuppress) selected.add_to_row(k, 1);
      }
    }
    // The relayout writes every s; the literal tick every rate and last_update.
    if constexpr (Step != TickStep::kForward) {
      if (Pairs == 2 && i + 1 < c.size) {
        store_pair<Streaming>(c.rate + i, rate[k][0], rate[k][Pairs - 1]);
        if constexpr (Step == TickStep::kLiteral) {
          store_pair<Streaming>(c.last_update + i, last_update[k][0], last_update[k][Pairs - 1]);
        }
      } else {
#pragma unroll
        for (int p = 0; p < Pairs; ++p) {
          if (i + p < c.size) {
            store_column<Streaming>(c.rate + i + p, rate[k][p]);
            if constexpr (Step == TickStep::kLiteral) {
              store_column<Streaming>(c.last_update + i + p, last_update[k][p]);
            }
          }
        }
      }
    }
  }

  RowCounts<Rows> before_in_row, in_rows;
  RowScan(scan_storage).ExclusiveScan(selected, before_in_row, RowCounts<Rows>{}, AddRowCounts{},
                                      in_rows);
  std::uint32_t in_tile = 0;
#pragma unroll
  for (int k = 0; k < Rows; ++k) in_tile += in_rows.row(k);
  if (tile == 0) {
    if (threadIdx.x == 0) {
      tile_counts.SetInclusive(0, in_tile);
      tile_offset = 0;
    }
  } else if (threadIdx.x < 32) {
    TilePrefix prefix(tile_counts, prefix_storage, ::cuda::std::plus<>{}, tile);
    const std::uint32_t before_tile = prefix(in_tile);
    if (threadIdx.x == 0) tile_offset = before_tile;
  }
  __syncthreads();

  std::uint32_t row_start = tile_offset;
#pragma unroll
  for (int k = 0; k < Rows; ++k) {
    std::uint32_t at = row_start + before_in_row.row(k);
#pragma unroll
    for (int p = 0; p < Pairs; ++p) {
      const Decision d = decision[k][p];
      if (d != Decision::kSuppress) {
        const auto slot = static_cast<std::uint32_t>(first + kRowSlots * k + p);
        candidates[at++] = Candidate{slot, d, d == Decision::kEmit ? value[k][p] : 0.0};
      }
    }
    row_start += in_rows.row(k);
  }
  if (tile + 1 == static_cast<int>(gridDim.x) && threadIdx.x == 0) {
    *count = static_cast<std::int64_t>(tile_offset) + in_tile;
  }
}

// Enqueues the one-pass tick's `Step` in the shape Threads x Rows x Pairs,
// Streaming (cuda/device_passes.h enqueue_one_pass_tick and
// enqueue_relayout_tick run the library's shape). `in` as the kernel takes it.
template <TickStep Step, int Threads, int Rows, int Pairs = 1, bool Streaming = false>
void enqueue_one_pass_tick_shape(const CounterColumns& c, const TickParams& params,
                                 const forward_pass::TickInputs& in, PassScratch& scratch,
                                 cudaStream_t stream) {
  constexpr std::size_t kTile = std::size_t{Threads} * Rows * Pairs;
  const std::size_t n = c.size;
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  if (n > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 slots");
  const auto tiles = static_cast<int>((n + kTile - 1) / kTile);
  std::size_t status_bytes = 0;
  HEATKIT_CUDA_CHECK(TileCounts::AllocationSize(tiles, status_bytes));
  scratch.tile_status.reserve_discarding(std::max<std::size_t>(status_bytes, 1));
  TileCounts tile_counts;
  HEATKIT_CUDA_CHECK(tile_counts.Init(tiles, scratch.tile_status.data(), status_bytes));
  scratch.candidates.reserve_discarding(n);  // every slot may be a candidate
  init_tile_counts_kernel<<<blocks_for(static_cast<std::size_t>(tiles)), kBlockSize, 0, stream>>>(
      tile_counts, tiles);
  HEATKIT_CUDA_CHECK_LAUNCH("init_tile_counts_kernel");
  one_pass_tick_kernel<Step, Threads, Rows, Pairs, Streaming>
      <<<static_cast<unsigned>(tiles), Threads, 0, stream>>>(
      c, params, in, tile_counts, scratch.candidates.data(), scratch.count.data());
  HEATKIT_CUDA_CHECK_LAUNCH("one_pass_tick_kernel");
}

}  // namespace heatkit::gpu
