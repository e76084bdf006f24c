// A counter store whose five columns live in device memory (the `cuda` and
// `thrust` backends). Plain C++: the CUDA parts live in device_store.cu.
//
// The columns hold forward decay's encodings (math/forward_math.h): the rate
// column s, the last_update column each counter's last write; the frame
// (landmark, last tick, latest write, shortest half-life) stays on the host
// and goes to every pass by value. A tick is the fast one while
// forward_tick_allowed holds (it reads s, last_emitted and flags, the
// half-life unless the caller shares one, and writes only literal counters
// and in-flight marks), the relayout tick otherwise (rare).
//
// What stays on the host: the key index, LRU and in-flight bookkeeping of the
// registry above, the frame, plus an exact mirror of the literal last_update
// (the LRU reads it on every eviction, so it must not cost a transfer; a tick
// costs the mirror O(1), store/last_updates.h). What crosses the bus:
//   - per-slot operations (init, clear, bump, decay_to, record,
//     set_in_flight) are queued on the host as 32-byte records and uploaded
//     in one copy when a bulk pass, a read or a growth needs the columns;
//     one flush kernel applies them, each slot's operations in queue order;
//   - tick: nothing goes up but the queue; the columns stay on the device
//     and only the count and the compacted (slot, kind, rate) candidates
//     come back;
//   - collect_prunable: the count and the compacted slot list come back;
//   - read: the five values of one slot come back, decoded on the host.
// Every CUDA call is checked (cuda/cuda_error.h): failures throw CudaError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "math/forward_math.h"
#include "store/counter_store.h"

namespace heatkit::gpu {

// Which code runs the bulk passes over the device columns.
enum class DevicePasses {
  kCudaKernels,  // `cuda`: cuda/device_passes.h, one kernel: decay, gate, compaction
  kThrust,       // `thrust`: thrust/thrust_passes.h on thrust::cuda::par.on(stream)
};

// Uses the CUDA device current on the constructing thread, for its whole life
// (every call switches to it and back if the caller's thread has another).
// Not thread-safe, like every CounterStore: one registry owns it.
class DeviceCounterStore final : public CounterStore {
 public:
  // Queued per-slot operations are flushed at the latest when this many wait.
  static constexpr std::size_t kMaxPendingOps = std::size_t{1} << 20;

  explicit DeviceCounterStore(DevicePasses passes);
  ~DeviceCounterStore() override;
  DeviceCounterStore(const DeviceCounterStore&) = delete;
  DeviceCounterStore& operator=(const DeviceCounterStore&) = delete;

  std::string_view backend() const noexcept override;
  void ensure_slots(std::size_t n) override;
  std::size_t slot_count() const noexcept override;

  // Queued: they cost no transfer until the next flush. Throw
  // std::out_of_range for a slot >= slot_count().
  void init(Slot slot, std::int64_t half_life, std::int64_t now) override;
  void clear(Slot slot) override;
  void bump(Slot slot, std::int64_t now) override;
  void decay_to(Slot slot, std::int64_t now) override;
  void record(Slot slot, Decision kind, double rate) override;
  void set_in_flight(Slot slot, bool in_flight) override;
  // Flushes the queue, then copies the slot's five values back and decodes
  // them (forward_decode).
  CounterState read(Slot slot) const override;
  // Flushes the queue, then copies the range of each column back (five
  // copies, one synchronization) and decodes each slot.
  void read_range(Slot first, std::span<CounterState> out) const override;
  // Flushes the queue, then copies the range's columns up (five copies, one
  // synchronization), each counter literal as upload() stores them.
  void write_range(Slot first, std::span<const CounterState> states) override;

  void tick(const TickParams& params, std::vector<Candidate>& out) override;
  void collect_prunable(std::vector<Slot>& out) override;

  LastUpdates last_update_host() const noexcept override;
  // Threads for the host's share of a tick (the last_update mirror's clear of
  // its stamps, once every 255 ticks); 0 = every hardware thread.
  void set_threads(unsigned threads) override;
  std::size_t memory_bytes() const noexcept override;

  // Applies every queued operation now (and waits for it).
  void flush() const;

  // Device-side inputs (tools/simulation's device workload, benchmarks).
  // The CUDA device the columns live on, and the store's stream as an opaque
  // handle (a cudaStream_t): device inputs made on that stream are ordered
  // before the store's own work without a synchronization.
  int device() const noexcept;
  void* stream_handle() const noexcept;
  // Flushes the queue and returns the device column pointers (valid until the
  // store grows), in forward form: `frame` points at the store's frame, on
  // the host (valid while the store lives; device code gets a copy).
  CounterColumns device_columns();
  // Bumps device_slots[i] at device_times[i] for i in [0, n) (device arrays on
  // this store's device, written on its stream or before this call), exactly
  // as bump(device_slots[i], device_times[i]) in order after every queued op
  // (up to rounding: cuda/device_passes.h apply_timed_bumps), without moving
  // the reads across the bus; only the (slot, last time) of each distinct
  // touched slot comes back, to keep last_update_host() exact. Throws
  // std::out_of_range (and changes nothing) if any slot >= slot_count().
  void bump_on_device(const Slot* device_slots, const std::int64_t* device_times, std::size_t n);
  std::size_t pending_ops() const noexcept;

  // For tests and tools: copies host columns [0, host.size) into slots
  // [0, host.size) (growing to fit; queued operations apply first), and the
  // device columns back into `host` (host.size <= slot_count()).
  // Host columns without a frame are literal: upload stores each counter
  // literally (rates must not be negative; the next tick converts them) and
  // notes them in the frame (note_literal_upload); download decodes rate and
  // last_update. Host columns with a frame are forward encodings, copied as
  // they are: upload adopts *host.frame as the store's frame (slots past
  // host.size are then read under it), download writes the store's frame
  // to *host.frame.
  void upload(const CounterColumns& host);
  void download(const CounterColumns& host) const;
  // The frame (a copy).
  ForwardFrame frame() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace heatkit::gpu
