// The device passes (cuda/device_passes.h): the fused tick kernel and its
// compaction, the prune selection, the flush of queued per-slot operations,
// and timed bump batches. Compiled with --fmad=false (cuda/CMakeLists.txt):
// decay and gate must round like the scalar reference.
//
// Kernels are grid-stride loops over 64-bit indices and never throw; every
// launch and runtime call is checked (cuda/cuda_error.h).
#include "cuda/device_passes.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_scan.cuh>
#include <cub/agent/single_pass_scan_operators.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_select.cuh>
#include <cuda/std/functional>
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/cuda_error.h"
#include "cuda/grid_stride.cuh"

namespace heatkit::gpu {
namespace {

// Bits a radix sort needs for slots below `slot_count` (at least one).
int slot_key_bits(std::size_t slot_count) {
  const auto highest = static_cast<std::uint64_t>(slot_count > 0 ? slot_count - 1 : 0);
  return std::clamp(static_cast<int>(std::bit_width(highest)), 1, 32);
}

// CUB's temporary storage of `bytes` (never null: a null pointer would make
// CUB answer a size query instead of running).
void* temp_storage(DeviceBuffer<std::byte>& temp, std::size_t bytes) {
  temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
  return temp.data();
}

// Runs a CUB device algorithm the documented way: a size query with null
// storage, then the run with that much scratch. `run(storage, bytes)` makes
// the call and returns its cudaError_t.
template <class Run>
void run_cub(const char* what, DeviceBuffer<std::byte>& temp, Run&& run, const char* file,
             int line) {
  std::size_t bytes = 0;
  check_cuda(run(nullptr, bytes), what, file, line);
  check_cuda(run(temp_storage(temp, bytes), bytes), what, file, line);
}
#define HEATKIT_RUN_CUB(what, temp, ...) \
  run_cub(what, temp, [&](void* storage, std::size_t& bytes) { return __VA_ARGS__; }, __FILE__, __LINE__)

// ---------------------------------------------------------------------------
// Tick and prune.

// The fused tick: decay and gate of every slot (tick_one), one decision byte each.
__global__ void decide_kernel(CounterColumns c, TickParams params, Decision* decisions) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) {
    decisions[i] = tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i],
                            c.flags[i], params);
  }
}

// candidates[i] for the i-th selected slot, i < *count (<= capacity).
__global__ void gather_candidates_kernel(const double* rate, const Decision* decisions,
                                         const std::uint32_t* selected, const std::int64_t* count,
                                         std::size_t capacity, Candidate* candidates) {
  const auto n = static_cast<std::size_t>(*count) < capacity ? static_cast<std::size_t>(*count)
                                                             : capacity;
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    const std::uint32_t slot = selected[i];
    const Decision d = decisions[slot];
    candidates[i] = Candidate{slot, d, d == Decision::kEmit ? rate[slot] : 0.0};
  }
}

// The one-pass tick. A tile is Rows rows of Threads consecutive slots;
// thread t owns slot t of every row, so each row's loads and stores are
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

__global__ void init_tile_counts_kernel(TileCounts tile_counts, int tiles) {
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
template <int Threads, int Rows, int Pairs, bool Streaming>
__global__ void __launch_bounds__(Threads)
    one_pass_tick_kernel(CounterColumns c, TickParams params, TileCounts tile_counts,
                         Candidate* candidates, std::int64_t* count) {
  static_assert(Threads * Pairs < (1 << 16) && Threads % 32 == 0 && (Pairs == 1 || Pairs == 2));
  constexpr std::size_t kRowSlots = std::size_t{Threads} * Pairs;
  constexpr std::size_t kTileSlots = kRowSlots * Rows;
  using RowScan = cub::BlockScan<RowCounts<Rows>, Threads>;
  __shared__ typename RowScan::TempStorage scan_storage;
  __shared__ typename TilePrefix::TempStorage prefix_storage;
  __shared__ std::uint32_t tile_offset;
  const int tile = static_cast<int>(blockIdx.x);
  const std::size_t first = static_cast<std::size_t>(tile) * kTileSlots + std::size_t{threadIdx.x} * Pairs;

  // Every row's loads first, so they are in flight together.
  double rate[Rows][Pairs], last_emitted[Rows][Pairs];
  std::int64_t last_update[Rows][Pairs], half_life[Rows][Pairs];
  std::uint8_t flags[Rows][Pairs];
#pragma unroll
  for (int k = 0; k < Rows; ++k) {
    const std::size_t i = first + kRowSlots * k;
    if (Pairs == 2 && i + 1 < c.size) {
      load_pair<Streaming>(c.rate + i, rate[k][0], rate[k][Pairs - 1]);
      load_pair<Streaming>(c.last_update + i, last_update[k][0], last_update[k][Pairs - 1]);
      load_pair<Streaming>(c.last_emitted + i, last_emitted[k][0], last_emitted[k][Pairs - 1]);
      load_pair<Streaming>(c.half_life + i, half_life[k][0], half_life[k][Pairs - 1]);
      const uchar2 f = *reinterpret_cast<const uchar2*>(c.flags + i);
      flags[k][0] = f.x;
      flags[k][Pairs - 1] = f.y;
    } else {
#pragma unroll
      for (int p = 0; p < Pairs; ++p) {
        if (i + p < c.size) {
          rate[k][p] = load_column<Streaming>(c.rate + i + p);
          last_update[k][p] = load_column<Streaming>(c.last_update + i + p);
          last_emitted[k][p] = load_column<Streaming>(c.last_emitted + i + p);
          half_life[k][p] = load_column<Streaming>(c.half_life + i + p);
          flags[k][p] = c.flags[i + p];
        }
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
        decision[k][p] = tick_one(rate[k][p], last_update[k][p], last_emitted[k][p],
                                  half_life[k][p], flags[k][p], params);
        if (flags[k][p] != flags_before) c.flags[i + p] = flags[k][p];  // marked in flight
        if (decision[k][p] != Decision::kSuppress) selected.add_to_row(k, 1);
      }
    }
    if (Pairs == 2 && i + 1 < c.size) {
      store_pair<Streaming>(c.rate + i, rate[k][0], rate[k][Pairs - 1]);
      store_pair<Streaming>(c.last_update + i, last_update[k][0], last_update[k][Pairs - 1]);
    } else {
#pragma unroll
      for (int p = 0; p < Pairs; ++p) {
        if (i + p < c.size) {
          store_column<Streaming>(c.rate + i + p, rate[k][p]);
          store_column<Streaming>(c.last_update + i + p, last_update[k][p]);
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
        candidates[at++] = Candidate{slot, d, d == Decision::kEmit ? rate[k][p] : 0.0};
      }
    }
    row_start += in_rows.row(k);
  }
  if (tile + 1 == static_cast<int>(gridDim.x) && threadIdx.x == 0) {
    *count = static_cast<std::int64_t>(tile_offset) + in_tile;
  }
}

struct IsPrunableSlot {
  CounterColumns columns;
  __device__ bool operator()(std::uint32_t i) const {
    return is_prunable(columns.rate[i], (columns.flags[i] & kHasEmitted) != 0,
                       columns.last_emitted[i]);
  }
};

// ---------------------------------------------------------------------------
// The flush of queued operations.

__global__ void split_ops_kernel(const PendingOp* ops, std::size_t count, std::uint32_t* slots,
                                 std::uint32_t* positions) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    slots[i] = ops[i].slot;
    positions[i] = static_cast<std::uint32_t>(i);
  }
}

struct IsGroupHead {
  const PendingOp* ops;
  const std::uint32_t* positions;
  __device__ bool operator()(std::uint32_t i) const { return is_group_head(ops, positions, i); }
};

__global__ void apply_groups_kernel(CounterColumns c, const PendingOp* ops,
                                    const std::uint32_t* sorted_slots,
                                    const std::uint32_t* positions, const std::uint32_t* heads,
                                    const std::int64_t* group_count, std::size_t count) {
  const auto groups = static_cast<std::size_t>(*group_count);
  for (std::size_t g = first_index(); g < groups; g += grid_stride()) {
    apply_groups_at(c, ops, sorted_slots, positions, heads, groups, count, g);
  }
}

// ---------------------------------------------------------------------------
// Timed bumps.

// The sequential bump's decay factor between two reads of one run, or
// whether this gap needs the exact serial path: past 52 half-lives a factor
// below f64 epsilon can meet the epsilon clamp of apply_decay_factor, which is
// not affine (past 64 the rate is exactly 0, which is).
__device__ inline AffineStep later_read_step(std::int64_t previous, std::int64_t now,
                                             std::int64_t half_life_ns, std::uint32_t* needs_serial) {
  if (half_life_ns == 0) return AffineStep{1.0, 1.0};
  const double h = half_lives(previous, now, half_life_ns);
  if (h > kMaxHalfLives) return AffineStep{0.0, 1.0};
  if (h >= 52.0) atomicOr(needs_serial, 1u);
  return AffineStep{decay_factor(h), 1.0};
}

__global__ void order_kernel(std::size_t n, std::uint32_t* order) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    order[i] = static_cast<std::uint32_t>(i);
  }
}

// Each sorted read's step: a run's first read decays the stored rate exactly
// as bump() does and sets the result (a = 0); later reads decay by their gap.
__global__ void timed_steps_kernel(CounterColumns c, const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   std::size_t n, AffineStep* steps, std::uint32_t* needs_serial) {
  for (std::size_t j = first_index(); j < n; j += grid_stride()) {
    const std::uint32_t s = slots_sorted[j];
    if (s >= c.size) {
      steps[j] = AffineStep{};
      continue;
    }
    const std::int64_t now = times[order_sorted[j]];
    if (j == 0 || slots_sorted[j - 1] != s) {
      steps[j] = AffineStep{0.0, bumped_rate(c.rate[s], c.last_update[s], now, c.half_life[s])};
    } else {
      steps[j] = later_read_step(times[order_sorted[j - 1]], now, c.half_life[s], needs_serial);
    }
  }
}

// Apply `left`, then `right`.
struct ComposeSteps {
  __device__ AffineStep operator()(const AffineStep& left, const AffineStep& right) const {
    return AffineStep{left.a * right.a, right.a * left.b + right.b};
  }
};

struct IsRunTail {
  const std::uint32_t* slots_sorted;
  std::size_t n;
  __device__ bool operator()(std::uint32_t j) const {
    return j + 1 == n || slots_sorted[j + 1] != slots_sorted[j];
  }
};

// Each run's tail holds the run's composed map: its b is the final rate.
__global__ void store_tails_kernel(CounterColumns c, const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   const AffineStep* scanned, const std::uint32_t* tails,
                                   std::size_t tail_count, std::uint32_t* touched_slots,
                                   std::int64_t* touched_times) {
  for (std::size_t k = first_index(); k < tail_count; k += grid_stride()) {
    const std::uint32_t j = tails[k];
    const std::uint32_t s = slots_sorted[j];
    const std::int64_t last = times[order_sorted[j]];
    if (s < c.size) {
      c.rate[s] = scanned[j].b;
      c.last_update[s] = last;
    }
    touched_slots[k] = s;
    touched_times[k] = last;
  }
}

// The exact fallback: each run applied in order by one thread.
__global__ void serial_runs_kernel(CounterColumns c, const std::uint32_t* slots_sorted,
                                   const std::uint32_t* order_sorted, const std::int64_t* times,
                                   const std::uint32_t* tails, std::size_t tail_count,
                                   std::uint32_t* touched_slots, std::int64_t* touched_times) {
  for (std::size_t k = first_index(); k < tail_count; k += grid_stride()) {
    const std::uint32_t end = tails[k];
    const std::uint32_t s = slots_sorted[end];
    std::size_t j = end;
    while (j > 0 && slots_sorted[j - 1] == s) --j;  // the run's head
    if (s < c.size) {
      for (; j <= end; ++j) apply_bumps(c, s, times[order_sorted[j]], 1.0);
    }
    touched_slots[k] = s;
    touched_times[k] = times[order_sorted[end]];
  }
}

}  // namespace

void enqueue_decide_and_select(const CounterColumns& c, const TickParams& params,
                               PassScratch& scratch, cudaStream_t stream) {
  const std::size_t n = c.size;
  scratch.decisions.reserve_discarding(n);
  scratch.selected.reserve_discarding(n);
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  decide_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(c, params, scratch.decisions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("decide_kernel");
  // Stable compaction of the slots whose decision byte is not Suppress (0):
  // only the flags are read, so the pass moves one byte per slot.
  const thrust::counting_iterator<std::uint32_t> all_slots(0);
  const auto* flags = reinterpret_cast<const std::uint8_t*>(scratch.decisions.data());
  const auto items = static_cast<std::int64_t>(n);
  HEATKIT_RUN_CUB("cub::DeviceSelect::Flagged (tick candidates)", scratch.temp,
                  cub::DeviceSelect::Flagged(storage, bytes, all_slots, flags,
                                             scratch.selected.data(), scratch.count.data(), items,
                                             stream));
}

void enqueue_gather_candidates(const CounterColumns& c, PassScratch& scratch,
                               std::size_t capacity, cudaStream_t stream) {
  if (capacity == 0) return;
  scratch.candidates.reserve_discarding(capacity);
  gather_candidates_kernel<<<blocks_for(capacity), kBlockSize, 0, stream>>>(
      c.rate, scratch.decisions.data(), scratch.selected.data(), scratch.count.data(), capacity,
      scratch.candidates.data());
  HEATKIT_CUDA_CHECK_LAUNCH("gather_candidates_kernel");
}

namespace {
template <int Threads, int Rows, int Pairs = 1, bool Streaming = false>
void launch_one_pass_tick(const CounterColumns& c, const TickParams& params,
                          PassScratch& scratch, cudaStream_t stream) {
  constexpr std::size_t kTile = std::size_t{Threads} * Rows * Pairs;
  const std::size_t n = c.size;
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
  one_pass_tick_kernel<Threads, Rows, Pairs, Streaming>
      <<<static_cast<unsigned>(tiles), Threads, 0, stream>>>(
      c, params, tile_counts, scratch.candidates.data(), scratch.count.data());
  HEATKIT_CUDA_CHECK_LAUNCH("one_pass_tick_kernel");
}
}  // namespace

void enqueue_one_pass_tick(const CounterColumns& c, const TickParams& params,
                           PassScratch& scratch, cudaStream_t stream, TickTile tile) {
  const std::size_t n = c.size;
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  if (n > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 slots");
  switch (tile) {
    case TickTile::k256x4: launch_one_pass_tick<256, 4>(c, params, scratch, stream); break;
    case TickTile::k256x8: launch_one_pass_tick<256, 8>(c, params, scratch, stream); break;
    case TickTile::k128x8: launch_one_pass_tick<128, 8>(c, params, scratch, stream); break;
    case TickTile::k512x2: launch_one_pass_tick<512, 2>(c, params, scratch, stream); break;
    case TickTile::k256x2_pairs: launch_one_pass_tick<256, 2, 2>(c, params, scratch, stream); break;
    case TickTile::k256x4_streaming:
      launch_one_pass_tick<256, 4, 1, true>(c, params, scratch, stream);
      break;
    case TickTile::k256x2_pairs_streaming:
      launch_one_pass_tick<256, 2, 2, true>(c, params, scratch, stream);
      break;
  }
}

void enqueue_select_prunable(const CounterColumns& c, PassScratch& scratch, cudaStream_t stream) {
  const std::size_t n = c.size;
  scratch.selected.reserve_discarding(n);
  if (n == 0) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.count.data(), 0, sizeof(std::int64_t), stream));
    return;
  }
  const thrust::counting_iterator<std::uint32_t> all_slots(0);
  const auto items = static_cast<std::int64_t>(n);
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (prunable slots)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_slots, scratch.selected.data(),
                                        scratch.count.data(), items, IsPrunableSlot{c}, stream));
}

std::size_t read_selected_count(PassScratch& scratch, cudaStream_t stream, std::size_t at_most) {
  std::int64_t selected = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&selected, scratch.count.data(), sizeof selected,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (selected < 0 || static_cast<std::uint64_t>(selected) > at_most) {
    throw std::logic_error("device passes: compaction selected " + std::to_string(selected) +
                           " of " + std::to_string(at_most) + " items");
  }
  return static_cast<std::size_t>(selected);
}

void enqueue_apply_ops(const CounterColumns& c, std::size_t count, OpScratch& scratch,
                       cudaStream_t stream) {
  if (count == 0) return;
  if (count > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 - 1 queued ops");
  scratch.slots.reserve_discarding(count);
  scratch.slots_sorted.reserve_discarding(count);
  scratch.positions.reserve_discarding(count);
  scratch.positions_sorted.reserve_discarding(count);
  scratch.group_heads.reserve_discarding(count);
  split_ops_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(
      scratch.ops.data(), count, scratch.slots.data(), scratch.positions.data());
  HEATKIT_CUDA_CHECK_LAUNCH("split_ops_kernel");

  // Radix sort is stable: equal slots keep their queue order.
  const auto items = static_cast<std::uint32_t>(count);
  const int end_bit = slot_key_bits(c.size);
  HEATKIT_RUN_CUB("cub::DeviceRadixSort::SortPairs (queued ops by slot)", scratch.temp,
                  cub::DeviceRadixSort::SortPairs(
                      storage, bytes, scratch.slots.data(), scratch.slots_sorted.data(),
                      scratch.positions.data(), scratch.positions_sorted.data(), items, 0,
                      end_bit, stream));
  const thrust::counting_iterator<std::uint32_t> all_positions(0);
  const IsGroupHead is_head{scratch.ops.data(), scratch.positions_sorted.data()};
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (op groups)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_positions, scratch.group_heads.data(),
                                        scratch.group_count.data(), items, is_head, stream));
  apply_groups_kernel<<<blocks_for(count), kBlockSize, 0, stream>>>(
      c, scratch.ops.data(), scratch.slots_sorted.data(), scratch.positions_sorted.data(),
      scratch.group_heads.data(), scratch.group_count.data(), count);
  HEATKIT_CUDA_CHECK_LAUNCH("apply_groups_kernel");
}

std::size_t apply_timed_bumps(const CounterColumns& c, const std::uint32_t* slots,
                              const std::int64_t* times, std::size_t n, BumpScratch& scratch,
                              DeviceBuffer<std::uint32_t>& touched_slots,
                              DeviceBuffer<std::int64_t>& touched_times, cudaStream_t stream) {
  if (n == 0) return 0;
  if (n > 0xffffffffULL) throw std::length_error("device passes: more than 2^32 - 1 timed bumps");
  const auto items = static_cast<std::uint32_t>(n);
  scratch.slots_sorted.reserve_discarding(n);
  scratch.order.reserve_discarding(n);
  scratch.order_sorted.reserve_discarding(n);
  scratch.steps.reserve_discarding(n);
  scratch.touched.reserve_discarding(n);

  order_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(n, scratch.order.data());
  HEATKIT_CUDA_CHECK_LAUNCH("order_kernel");
  // Slots >= c.size are ignored: sort on every bit so they stay apart.
  constexpr int end_bit = 32;
  HEATKIT_RUN_CUB("cub::DeviceRadixSort::SortPairs (timed bumps by slot)", scratch.temp,
                  cub::DeviceRadixSort::SortPairs(storage, bytes, slots,
                                                  scratch.slots_sorted.data(), scratch.order.data(),
                                                  scratch.order_sorted.data(), items, 0, end_bit,
                                                  stream));
  HEATKIT_CUDA_CHECK(cudaMemsetAsync(scratch.flags.data(), 0, sizeof(std::uint32_t), stream));
  timed_steps_kernel<<<blocks_for(n), kBlockSize, 0, stream>>>(
      c, scratch.slots_sorted.data(), scratch.order_sorted.data(), times, n, scratch.steps.data(),
      scratch.flags.data());
  HEATKIT_CUDA_CHECK_LAUNCH("timed_steps_kernel");

  const thrust::counting_iterator<std::uint32_t> all_positions(0);
  const IsRunTail is_tail{scratch.slots_sorted.data(), n};
  HEATKIT_RUN_CUB("cub::DeviceSelect::If (run tails)", scratch.temp,
                  cub::DeviceSelect::If(storage, bytes, all_positions, scratch.touched.data(),
                                        scratch.touched_count.data(), items, is_tail, stream));
  std::int64_t tails = 0;
  std::uint32_t needs_serial = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&tails, scratch.touched_count.data(), sizeof tails,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&needs_serial, scratch.flags.data(), sizeof needs_serial,
                                     cudaMemcpyDeviceToHost, stream));
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  if (tails <= 0 || static_cast<std::uint64_t>(tails) > n) {
    throw std::logic_error("device passes: " + std::to_string(tails) + " runs in " +
                           std::to_string(n) + " timed bumps");
  }
  const auto tail_count = static_cast<std::size_t>(tails);
  touched_slots.reserve_discarding(tail_count);
  touched_times.reserve_discarding(tail_count);

  if (needs_serial != 0) {
    serial_runs_kernel<<<blocks_for(tail_count), kBlockSize, 0, stream>>>(
        c, scratch.slots_sorted.data(), scratch.order_sorted.data(), times,
        scratch.touched.data(), tail_count, touched_slots.data(), touched_times.data());
    HEATKIT_CUDA_CHECK_LAUNCH("serial_runs_kernel");
    return tail_count;
  }
  // Compose each run's steps in order: a segmented inclusive scan, in place.
  HEATKIT_RUN_CUB("cub::DeviceScan::InclusiveScanByKey (timed bump runs)", scratch.temp,
                  cub::DeviceScan::InclusiveScanByKey(storage, bytes, scratch.slots_sorted.data(),
                                                      scratch.steps.data(), scratch.steps.data(),
                                                      ComposeSteps{}, items, ::cuda::std::equal_to<>{},
                                                      stream));
  store_tails_kernel<<<blocks_for(tail_count), kBlockSize, 0, stream>>>(
      c, scratch.slots_sorted.data(), scratch.order_sorted.data(), times, scratch.steps.data(),
      scratch.touched.data(), tail_count, touched_slots.data(), touched_times.data());
  HEATKIT_CUDA_CHECK_LAUNCH("store_tails_kernel");
  return tail_count;
}

}  // namespace heatkit::gpu
