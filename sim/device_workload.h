// The reads of `heatkit simulate` (sim/workload.h) generated and applied on
// the device, for a registry whose counters live in a DeviceCounterStore.
// Plain C++ (no CUDA types), so the host-compiled simulation engine uses it;
// the CUDA parts live in device_workload.cu.
//
// The registry keeps owning the keys on the host; slots are what crosses the
// bus. Per batch of reads:
//   1. draw: a kernel computes every read's rank (zipf_sample of read_bits)
//      and time (read_time_ns), the same functions the host engine calls, and
//      keeps them on the device. Ranks that have no slot yet are found there
//      with their first read (an atomic max of a (tick, ~read) stamp per
//      rank), compacted in read order, and only that list comes back: the
//      whole key set in the first tick, a handful per tick later on;
//   2. the caller creates those keys in the registry, in that order (the
//      order the host engine creates them in), and learns their slots;
//   3. apply: the (rank, slot) pairs go up, every read is mapped to its slot
//      (slot_of_rank) and DeviceCounterStore::bump_on_device applies the batch
//      in read order.
// When the registry prunes a key, forget() its rank: its next read creates it
// anew. Exact only while the registry cannot evict (cap 0 or >= the key
// count): sim/simulation.cc checks that before choosing this path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "cuda/device_store.h"
#include "sim/zipf.h"

namespace heatkit::gpu {

class DeviceReadWorkload {
 public:
  // Reads drawn and applied per batch at most: a tick with more reads is
  // applied in several batches, in order (the device buffers hold one batch:
  // 16 bytes a read).
  static constexpr std::size_t kMaxBatchReads = std::size_t{1} << 24;

  // What the reads are drawn from: the host engine's parameters.
  struct Params {
    ZipfTableView table;                // host arrays, copied to the device; n ranks
    std::uint64_t seed = 0;
    std::uint64_t reads_per_tick = 0;   // in [1, 2^32 - 1]
    std::int64_t tick_interval_ns = 0;  // > 0
  };

  // A rank read in the last batch that had no slot, and the index (within its
  // tick) of its first read there.
  struct NewRank {
    std::uint32_t rank = 0;
    std::uint32_t first_read = 0;
  };

  // Allocates the device state on `store`'s device and copies the alias table
  // up; every rank starts without a slot. `store` must outlive this object.
  // Throws std::invalid_argument for parameters out of range, CudaError when
  // CUDA fails.
  DeviceReadWorkload(DeviceCounterStore& store, const Params& params);
  ~DeviceReadWorkload();
  DeviceReadWorkload(DeviceReadWorkload&&) noexcept;
  DeviceReadWorkload& operator=(DeviceReadWorkload&&) noexcept;

  // Draws reads [first_read, first_read + count) of tick `tick` on the device
  // (count <= kMaxBatchReads, first_read + count <= reads_per_tick) and
  // returns the ranks among them that have no slot, each once, in the order
  // of their first read. Valid until the next draw().
  const std::vector<NewRank>& draw(std::uint64_t tick, std::uint64_t first_read, std::size_t count);

  // Gives the new ranks of the last draw() their slots (slots[j] for rank j
  // of the list), then bumps every read of that batch at its time
  // (bump_on_device) and returns once the store has applied them. Throws
  // std::invalid_argument when slots.size() is not the list's length,
  // std::logic_error when called twice for one draw.
  void apply(std::span<const Slot> slots);

  // Gives ranks[j] the slot slots[j] outside a draw: the counters a resumed
  // run's registry already holds. Their reads are then not new. Throws
  // std::invalid_argument for spans of different lengths, std::out_of_range
  // for a rank not below the table's n.
  void adopt(std::span<const std::uint32_t> ranks, std::span<const Slot> slots);

  // Forgets the slots of `ranks` (their counters were pruned or removed): the
  // next read of each is new again.
  void forget(std::span<const std::uint32_t> ranks);

  // Device bytes held (alias table, per-rank state, batch buffers).
  std::size_t memory_bytes() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace heatkit::gpu
