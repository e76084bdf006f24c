// DeviceReadWorkload (sim/device_workload.h): the simulation's reads drawn,
// mapped to slots and bumped on the device. Every kernel is a grid-stride loop
// over 64-bit indices that never throws; every launch and runtime call is
// checked (cuda/cuda_error.h). All work runs on the store's stream, so it is
// ordered with the store's own flushes and passes without extra waits.
#include "sim/device_workload.h"

#include <cuda_runtime_api.h>

#include <cub/device/device_select.cuh>
#include <cuda/atomic>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "cuda/cuda_error.h"
#include "cuda/grid_stride.cuh"
#include "cuda/device_buffer.h"
#include "sim/workload.h"

namespace heatkit::gpu {
namespace {

using NewRank = DeviceReadWorkload::NewRank;

// Pairs go up and down byte for byte.
static_assert(std::is_trivially_copyable_v<NewRank> && sizeof(NewRank) == 8);

// slot_of_rank of a rank with no counter.
constexpr std::uint32_t kNoSlot = std::numeric_limits<std::uint32_t>::max();


// A rank's first read of a tick as one number that only grows: the tick in the
// high half, the complement of the read index in the low half. The largest
// stamp of a rank is then its first read of the latest tick, so the per-rank
// stamps never need a reset (0 is below every stamp: read indices are below
// 2^32 - 1, so the low half is at least 1).
HEATKIT_HD inline std::uint64_t first_read_stamp(std::uint64_t tick, std::uint64_t read) {
  return (tick << 32) | (0xffffffffULL - read);
}

// Step 1: every read's rank and time, and the first read of each rank that
// has no slot.
__global__ void draw_reads_kernel(ZipfTableView table, std::uint64_t seed, std::uint64_t tick,
                                  std::uint64_t first_read, std::size_t count,
                                  std::uint64_t reads_per_tick, std::int64_t interval_ns,
                                  const std::uint32_t* slot_of_rank, std::uint64_t* stamps,
                                  std::uint32_t* ranks, std::int64_t* times) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    const std::uint64_t read = first_read + i;
    const std::uint32_t rank = sim::read_rank(table, seed, tick, read);
    ranks[i] = rank;
    times[i] = sim::read_time_ns(tick, read, reads_per_tick, interval_ns);
    if (slot_of_rank[rank] == kNoSlot) {
      // A hot new rank is read by many threads: most see a larger stamp
      // already and skip the atomic.
      const cuda::atomic_ref<std::uint64_t, cuda::thread_scope_device> stamp(stamps[rank]);
      const std::uint64_t mine = first_read_stamp(tick, read);
      if (stamp.load(cuda::std::memory_order_relaxed) < mine) {
        stamp.fetch_max(mine, cuda::std::memory_order_relaxed);
      }
    }
  }
}

// Read i of the batch as a (rank, read index in the tick) pair.
struct ReadAsPair {
  const std::uint32_t* ranks;
  std::uint64_t first_read;
  HEATKIT_HD NewRank operator()(std::uint32_t i) const {
    return NewRank{ranks[i], static_cast<std::uint32_t>(first_read + i)};
  }
};

// Step 1, compaction: the reads that are their rank's first and find no slot.
struct IsFirstReadOfNewRank {
  const std::uint32_t* slot_of_rank;
  const std::uint64_t* stamps;
  std::uint64_t tick;
  HEATKIT_HD bool operator()(const NewRank& read) const {
    return slot_of_rank[read.rank] == kNoSlot &&
           stamps[read.rank] == first_read_stamp(tick, read.first_read);
  }
};

// Step 3: the new ranks' slots (pairs[j].first_read holds the slot here).
__global__ void assign_slots_kernel(const NewRank* pairs, std::size_t count, std::uint32_t* slot_of_rank) {
  for (std::size_t j = first_index(); j < count; j += grid_stride()) {
    slot_of_rank[pairs[j].rank] = pairs[j].first_read;
  }
}

// Step 3: every read's slot.
__global__ void map_reads_kernel(const std::uint32_t* ranks, std::size_t count,
                                 const std::uint32_t* slot_of_rank, std::uint32_t* slots) {
  for (std::size_t i = first_index(); i < count; i += grid_stride()) slots[i] = slot_of_rank[ranks[i]];
}

__global__ void forget_ranks_kernel(const std::uint32_t* ranks, std::size_t count,
                                    std::uint32_t* slot_of_rank) {
  for (std::size_t j = first_index(); j < count; j += grid_stride()) slot_of_rank[ranks[j]] = kNoSlot;
}


void check_params(const DeviceReadWorkload::Params& p) {
  if (p.table.n == 0 || p.table.threshold == nullptr || p.table.alias == nullptr) {
    throw std::invalid_argument("device read workload: the Zipf table is empty");
  }
  if (p.reads_per_tick == 0 || p.reads_per_tick > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("device read workload: reads per tick must be in [1, 2^32 - 1], got " +
                                std::to_string(p.reads_per_tick));
  }
  if (p.tick_interval_ns <= 0) {
    throw std::invalid_argument("device read workload: the tick interval must be > 0 ns");
  }
}

}  // namespace

struct DeviceReadWorkload::Impl {
  Impl(DeviceCounterStore& s, const Params& p)
      : store(s),
        device(s.device()),
        stream(static_cast<cudaStream_t>(s.stream_handle())),
        params(p),
        batch_capacity(static_cast<std::size_t>(std::min<std::uint64_t>(p.reads_per_tick, kMaxBatchReads))) {}

  DeviceCounterStore& store;
  int device;
  cudaStream_t stream;  // the store's
  Params params;        // params.table points at host memory: only read at construction
  std::size_t batch_capacity;

  DeviceBuffer<std::uint32_t> threshold, alias;   // the alias table
  DeviceBuffer<std::uint32_t> slot_of_rank;       // kNoSlot: no counter
  DeviceBuffer<std::uint64_t> stamps;             // first_read_stamp, per rank
  DeviceBuffer<std::uint32_t> ranks, slots;       // per read of the batch
  DeviceBuffer<std::int64_t> times;
  DeviceBuffer<NewRank> new_ranks;                // compacted; reused for (rank, slot) going up
  DeviceBuffer<std::int64_t> new_count{1};
  DeviceBuffer<std::uint32_t> forgotten;
  DeviceBuffer<std::byte> cub_temp;

  std::vector<NewRank> fresh;         // the last draw's new ranks, on the host
  std::vector<NewRank> assignments;   // (rank, slot) pairs going up
  std::size_t batch_count = 0;        // reads of the last draw
  bool batch_pending = false;         // drawn, not yet applied

  ZipfTableView device_table() const { return {threshold.data(), alias.data(), params.table.n}; }

  // CUB's temporary storage of `bytes` (never null: a null pointer makes CUB
  // answer a size query instead of running).
  void* temp_storage(std::size_t bytes) {
    cub_temp.reserve_discarding(std::max<std::size_t>(bytes, 1));
    return cub_temp.data();
  }

  void synchronize() { HEATKIT_CUDA_CHECK(cudaStreamSynchronize(stream)); }
};

DeviceReadWorkload::DeviceReadWorkload(DeviceCounterStore& store, const Params& params) {
  check_params(params);
  auto impl = std::make_unique<Impl>(store, params);
  Impl& w = *impl;
  const DeviceScope scope(w.device);
  const std::size_t n = params.table.n;
  w.threshold = DeviceBuffer<std::uint32_t>(n);
  w.alias = DeviceBuffer<std::uint32_t>(n);
  w.slot_of_rank = DeviceBuffer<std::uint32_t>(n);
  w.stamps = DeviceBuffer<std::uint64_t>(n);
  w.ranks = DeviceBuffer<std::uint32_t>(w.batch_capacity);
  w.slots = DeviceBuffer<std::uint32_t>(w.batch_capacity);
  w.times = DeviceBuffer<std::int64_t>(w.batch_capacity);
  w.new_ranks = DeviceBuffer<NewRank>(std::min(w.batch_capacity, n));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(w.threshold.data(), params.table.threshold, n * sizeof(std::uint32_t),
                                     cudaMemcpyHostToDevice, w.stream));
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(w.alias.data(), params.table.alias, n * sizeof(std::uint32_t),
                                     cudaMemcpyHostToDevice, w.stream));
  // 0xff bytes: every slot kNoSlot. Zero bytes: below every stamp.
  HEATKIT_CUDA_CHECK(cudaMemsetAsync(w.slot_of_rank.data(), 0xff, w.slot_of_rank.bytes(), w.stream));
  HEATKIT_CUDA_CHECK(cudaMemsetAsync(w.stamps.data(), 0, w.stamps.bytes(), w.stream));
  // The table lives in the caller's memory: done with it before returning.
  w.synchronize();
  impl_ = std::move(impl);
}

DeviceReadWorkload::~DeviceReadWorkload() = default;
DeviceReadWorkload::DeviceReadWorkload(DeviceReadWorkload&&) noexcept = default;
DeviceReadWorkload& DeviceReadWorkload::operator=(DeviceReadWorkload&&) noexcept = default;

const std::vector<DeviceReadWorkload::NewRank>& DeviceReadWorkload::draw(std::uint64_t tick,
                                                                         std::uint64_t first_read,
                                                                         std::size_t count) {
  Impl& w = *impl_;
  if (count == 0 || count > w.batch_capacity || first_read > w.params.reads_per_tick ||
      count > w.params.reads_per_tick - first_read) {
    throw std::invalid_argument("device read workload: reads [" + std::to_string(first_read) + ", +" +
                                std::to_string(count) + ") of a tick of " +
                                std::to_string(w.params.reads_per_tick) + " in batches of at most " +
                                std::to_string(w.batch_capacity));
  }
  if (tick > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("device read workload: tick " + std::to_string(tick) + " is past 2^32 - 1");
  }
  const DeviceScope scope(w.device);
  w.batch_pending = false;
  w.fresh.clear();

  draw_reads_kernel<<<blocks_for(count), kBlockSize, 0, w.stream>>>(
      w.device_table(), w.params.seed, tick, first_read, count, w.params.reads_per_tick,
      w.params.tick_interval_ns, w.slot_of_rank.data(), w.stamps.data(), w.ranks.data(), w.times.data());
  HEATKIT_CUDA_CHECK_LAUNCH("draw_reads_kernel");

  // Stable compaction: the first reads of new ranks in read order, which is
  // the order the host engine creates their keys in.
  const auto reads = thrust::make_transform_iterator(thrust::counting_iterator<std::uint32_t>(0),
                                                     ReadAsPair{w.ranks.data(), first_read});
  const IsFirstReadOfNewRank is_new{w.slot_of_rank.data(), w.stamps.data(), tick};
  const auto items = static_cast<std::int64_t>(count);
  std::size_t temp_bytes = 0;
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::If(nullptr, temp_bytes, reads, w.new_ranks.data(),
                                           w.new_count.data(), items, is_new, w.stream));
  HEATKIT_CUDA_CHECK(cub::DeviceSelect::If(w.temp_storage(temp_bytes), temp_bytes, reads,
                                           w.new_ranks.data(), w.new_count.data(), items, is_new,
                                           w.stream));

  std::int64_t selected = 0;
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(&selected, w.new_count.data(), sizeof selected,
                                     cudaMemcpyDeviceToHost, w.stream));
  w.synchronize();
  // Each rank is selected at most once, so the count fits new_ranks.
  if (selected < 0 || static_cast<std::uint64_t>(selected) > w.new_ranks.size()) {
    throw std::logic_error("device read workload: " + std::to_string(selected) + " new ranks among " +
                           std::to_string(count) + " reads of " + std::to_string(w.params.table.n) +
                           " ranks");
  }
  if (selected > 0) {
    w.fresh.resize(static_cast<std::size_t>(selected));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(w.fresh.data(), w.new_ranks.data(), w.fresh.size() * sizeof(NewRank),
                                       cudaMemcpyDeviceToHost, w.stream));
    w.synchronize();
  }
  w.batch_count = count;
  w.batch_pending = true;
  return w.fresh;
}

void DeviceReadWorkload::apply(std::span<const Slot> slots) {
  Impl& w = *impl_;
  if (!w.batch_pending) {
    throw std::logic_error("device read workload: apply() without a draw() to apply");
  }
  if (slots.size() != w.fresh.size()) {
    throw std::invalid_argument("device read workload: " + std::to_string(slots.size()) +
                                " slots for " + std::to_string(w.fresh.size()) + " new ranks");
  }
  const DeviceScope scope(w.device);
  if (!slots.empty()) {
    w.assignments.resize(slots.size());
    for (std::size_t j = 0; j < slots.size(); ++j) {
      if (slots[j] == kNoSlot) {
        throw std::invalid_argument("device read workload: new rank " + std::to_string(w.fresh[j].rank) +
                                    " given no slot");
      }
      w.assignments[j] = NewRank{w.fresh[j].rank, slots[j]};
    }
    // new_ranks was copied back in draw(); it now carries the pairs up.
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(w.new_ranks.data(), w.assignments.data(),
                                       w.assignments.size() * sizeof(NewRank), cudaMemcpyHostToDevice,
                                       w.stream));
    assign_slots_kernel<<<blocks_for(slots.size()), kBlockSize, 0, w.stream>>>(
        w.new_ranks.data(), slots.size(), w.slot_of_rank.data());
    HEATKIT_CUDA_CHECK_LAUNCH("assign_slots_kernel");
  }
  map_reads_kernel<<<blocks_for(w.batch_count), kBlockSize, 0, w.stream>>>(
      w.ranks.data(), w.batch_count, w.slot_of_rank.data(), w.slots.data());
  HEATKIT_CUDA_CHECK_LAUNCH("map_reads_kernel");
  w.batch_pending = false;
  // In read order after the keys' creations (queued inits); reads back what
  // keeps the store's last_update mirror exact, so it returns once applied.
  w.store.bump_on_device(w.slots.data(), w.times.data(), w.batch_count);
}

void DeviceReadWorkload::adopt(std::span<const std::uint32_t> ranks, std::span<const Slot> slots) {
  Impl& w = *impl_;
  if (ranks.size() != slots.size()) {
    throw std::invalid_argument("device read workload: " + std::to_string(slots.size()) + " slots for " +
                                std::to_string(ranks.size()) + " ranks to adopt");
  }
  if (ranks.empty()) return;
  w.assignments.resize(ranks.size());
  for (std::size_t j = 0; j < ranks.size(); ++j) {
    if (ranks[j] >= w.params.table.n || slots[j] == kNoSlot) {
      throw std::out_of_range("device read workload: rank " + std::to_string(ranks[j]) + " (below " +
                              std::to_string(w.params.table.n) + ") adopted with slot " +
                              std::to_string(slots[j]));
    }
    w.assignments[j] = NewRank{ranks[j], slots[j]};
  }
  const DeviceScope scope(w.device);
  DeviceBuffer<NewRank> pairs(w.assignments.size());
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(pairs.data(), w.assignments.data(), w.assignments.size() * sizeof(NewRank),
                                     cudaMemcpyHostToDevice, w.stream));
  assign_slots_kernel<<<blocks_for(w.assignments.size()), kBlockSize, 0, w.stream>>>(
      pairs.data(), w.assignments.size(), w.slot_of_rank.data());
  HEATKIT_CUDA_CHECK_LAUNCH("assign_slots_kernel");
  w.synchronize();  // `pairs` goes away on return
}

void DeviceReadWorkload::forget(std::span<const std::uint32_t> ranks) {
  Impl& w = *impl_;
  if (ranks.empty()) return;
  for (const std::uint32_t rank : ranks) {
    if (rank >= w.params.table.n) {
      throw std::out_of_range("device read workload: rank " + std::to_string(rank) + " is not below " +
                              std::to_string(w.params.table.n));
    }
  }
  const DeviceScope scope(w.device);
  w.forgotten.reserve_discarding(ranks.size());
  HEATKIT_CUDA_CHECK(cudaMemcpyAsync(w.forgotten.data(), ranks.data(), ranks.size_bytes(),
                                     cudaMemcpyHostToDevice, w.stream));
  forget_ranks_kernel<<<blocks_for(ranks.size()), kBlockSize, 0, w.stream>>>(
      w.forgotten.data(), ranks.size(), w.slot_of_rank.data());
  HEATKIT_CUDA_CHECK_LAUNCH("forget_ranks_kernel");
  // The caller's span may go away on return.
  w.synchronize();
}

std::size_t DeviceReadWorkload::memory_bytes() const noexcept {
  const Impl& w = *impl_;
  return w.threshold.bytes() + w.alias.bytes() + w.slot_of_rank.bytes() + w.stamps.bytes() +
         w.ranks.bytes() + w.slots.bytes() + w.times.bytes() + w.new_ranks.bytes() +
         w.new_count.bytes() + w.forgotten.bytes() + w.cub_temp.bytes();
}

}  // namespace heatkit::gpu
