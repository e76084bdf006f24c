// What a registry's host memory comes to at a given number of counters,
// worked out before any is created: for tools that must refuse a run that
// cannot fit (`heatkit simulate`) instead of failing part way with
// std::bad_alloc.
//
// It follows how the registry sizes its arrays: BasicHeatRegistry::grow (the
// slot count), the store's five columns, KeyRecords (key and LRU position per
// slot), SlotIndex::reserve (buckets for 4/3 of the slots, a power of two),
// LruOrder::grow_log (8 bytes of log per slot) and, for a store whose columns
// live in device memory, its host mirror of last_update (store/last_updates.h)
// and fixed staging. tests/simulate/limits_test.cc holds it against
// memory_usage() of real registries, so a change there that this file misses
// fails a test.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "registry/lru_order.h"
#include "registry/registry.h"

namespace heatkit {

struct RegistryMemoryEstimate {
  std::size_t slots = 0;  // the slot count the registry grows to
  // The arrays at that slot count, as memory_usage() counts them (a device
  // store's columns only by their host share; no scratch).
  MemoryUsage arrays;
  // Scratch of a tick whose every counter is a candidate and of a commit
  // that prunes them all: the candidates, the per-thread parts of a split
  // pass and the prunable slots.
  std::size_t tick_scratch = 0;
  // Held besides, by the growths: the old copy of the array being copied,
  // and old copies the allocator keeps (three quarters of the arrays, an
  // allowance).
  std::size_t growth = 0;
  std::size_t total() const noexcept { return arrays.total() + tick_scratch + growth; }
};

// The slot count a registry with cap `cap` (0 = unbounded) has once it has
// held `counters` live counters at once: grown_slot_count's sequence (the
// one BasicHeatRegistry::grow follows), doubling from 16 and by sixteenths
// near the cap. At most
// LruOrder::kMaxSlots: no registry holds more (it throws std::length_error).
inline std::size_t registry_slot_count(std::size_t counters, std::size_t cap) noexcept {
  counters = std::min(counters, LruOrder::kMaxSlots);
  if (cap > 0) counters = std::min(counters, cap);
  std::size_t slots = 0;
  while (slots < counters) slots = grown_slot_count(slots, cap);
  return std::min(slots, LruOrder::kMaxSlots);
}

namespace memory_estimate_detail {

// Bytes per slot of the store's five columns (rate, last_update,
// last_emitted, half_life, flags).
inline constexpr std::size_t kColumnBytes = 8 + 8 + 8 + 8 + 1;
// A device store's host share: the last_update mirror (8 bytes and a stamp)
// per slot, and at most its queue of per-slot operations (32-byte records,
// DeviceCounterStore::kMaxPendingOps of them) and two 4 MB pinned staging
// buffers whatever the slot count.
inline constexpr std::size_t kMirrorBytes = 8 + 1;
inline constexpr std::size_t kDeviceFixedBytes = (std::size_t{1} << 20) * 32 + 2 * (std::size_t{4} << 20);

inline std::size_t index_bytes(std::size_t slots) noexcept {
  if (slots == 0) return 0;
  return std::bit_ceil(std::max<std::size_t>(16, slots + slots / 3 + 1)) * sizeof(std::uint32_t);
}

inline std::size_t lru_log_bytes(std::size_t slots) noexcept {
  if (slots == 0) return 0;
  constexpr std::size_t kPositions = std::size_t{1} << 31;
  const std::size_t width = slots <= (std::size_t{1} << 24) ? 3 : 4;
  const std::size_t slack = width == 3 ? slots * 5 / 3 : slots;
  return std::min(slots + std::max<std::size_t>(1, slack), kPositions - 1) * width + 1;
}

}  // namespace memory_estimate_detail

// The host memory of a BasicHeatRegistry<Key> that holds up to `counters`
// live counters at once, with cap `cap` (0 = unbounded); `device_columns`
// for a store whose columns live in device memory (BackendInfo::device_columns),
// whose device bytes are not counted. An upper bound where the registry's
// use depends on the run (scratch, free list), exact for the arrays.
template <class Key>
RegistryMemoryEstimate estimate_registry_memory(std::size_t counters, std::size_t cap,
                                                bool device_columns) noexcept {
  namespace d = memory_estimate_detail;
  RegistryMemoryEstimate e;
  const std::size_t s = e.slots = registry_slot_count(counters, cap);
  if (s == 0) return e;
  e.arrays.columns = device_columns ? s * d::kMirrorBytes + d::kDeviceFixedBytes : s * d::kColumnBytes;
  e.arrays.keys = s * sizeof(Key);
  e.arrays.index = d::index_bytes(s);
  e.arrays.lru = s * sizeof(std::uint32_t) + d::lru_log_bytes(s);  // positions in the key records, the log
  // Per live counter at most: a candidate (16 bytes) in the registry's list
  // and in the store's per-thread parts, and a prunable slot (4 bytes) in
  // each. (Free slots are listed in their key records: no memory of their own.)
  const std::size_t live = std::min(counters, s);
  e.tick_scratch = live * (2 * sizeof(Candidate) + 2 * sizeof(Slot));
  // Growing copies each array in turn, the old copy held until the new one
  // is made; the copies given back may stay with the allocator, in holes
  // that later growths are too big to reuse (glibc keeps arrays below its
  // mmap threshold, up to 32 MB, in its heap). Three quarters of the arrays
  // covers it: half measured after growing by sixteenths to a cap of 1M.
  e.growth = e.arrays.total() / 4 * 3;
  return e;
}

}  // namespace heatkit
