// The per-slot operations of a device store, queued on the host and applied
// on the device in one pass (cuda/device_store.cu). Plain C++ so the host
// tests check the same function the kernel runs: apply_op is the
// HostCounterStore operation of the same name, step for step.
//
// Order: operations on one slot must apply in the order they were queued
// (a bump after a decay_to is not the same as before it); operations on
// different slots touch disjoint column elements, so any interleaving of
// slots gives the same columns. The flush therefore groups the queue by slot
// with a stable sort and applies each slot's run in order on one thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/counter_math.h"

namespace heatkit::gpu {

enum class OpKind : std::uint8_t {
  kInit = 0,         // half_life, now
  kClear = 1,        // -
  kBump = 2,         // now
  kDecayTo = 3,      // now
  kRecord = 4,       // decision (Emit or Withdraw), rate
  kSetInFlight = 5,  // in_flight
};

// One queued operation. 32 bytes; every field has a fixed meaning per kind.
struct PendingOp {
  std::uint32_t slot = 0;
  OpKind kind = OpKind::kClear;
  Decision decision = Decision::kSuppress;  // kRecord
  bool in_flight = false;                   // kSetInFlight
  std::int64_t now = 0;                     // kInit, kBump, kDecayTo
  std::int64_t half_life = 0;               // kInit
  double rate = 0.0;                        // kRecord (Emit)
};

// Applies `op` to its slot of `c` (op.slot < c.size, checked by the caller
// when it queued the op). Mirrors HostCounterStore: init, clear, bump
// (bump_columns), decay_to, record, set_in_flight.
HEATKIT_HD inline void apply_op(const CounterColumns& c, const PendingOp& op) {
  const std::uint32_t s = op.slot;
  switch (op.kind) {
    case OpKind::kInit:
      c.rate[s] = 0.0;
      c.last_update[s] = op.now;
      c.last_emitted[s] = 0.0;
      c.half_life[s] = op.half_life;
      c.flags[s] = kLive;
      break;
    case OpKind::kClear:
      c.rate[s] = 0.0;
      c.last_emitted[s] = 0.0;
      c.flags[s] = 0;
      break;
    case OpKind::kBump:
      c.rate[s] = decayed_rate(c.rate[s], c.last_update[s], op.now, c.half_life[s]) + 1.0;
      c.last_update[s] = op.now;
      break;
    case OpKind::kDecayTo:
      c.rate[s] = decayed_rate(c.rate[s], c.last_update[s], op.now, c.half_life[s]);
      c.last_update[s] = op.now;
      break;
    case OpKind::kRecord:
      if (op.decision == Decision::kSuppress) break;
      c.last_emitted[s] = op.decision == Decision::kEmit ? op.rate : 0.0;
      c.flags[s] = static_cast<std::uint8_t>(c.flags[s] | kHasEmitted);
      break;
    case OpKind::kSetInFlight:
      c.flags[s] = op.in_flight ? static_cast<std::uint8_t>(c.flags[s] | kInFlight)
                                : static_cast<std::uint8_t>(c.flags[s] & ~kInFlight);
      break;
  }
}

// One thread's share of the flush: `sorted_slots` / `positions` are the queue
// stably sorted by slot (positions index `ops`), so each slot's operations
// form one run in queue order. Index i applies the whole run when it is the
// run's head and does nothing otherwise, so calling it once for every i in
// [0, count), in any order or all at once, applies every run exactly once and
// each in order; no two heads touch the same slot.
HEATKIT_HD inline void apply_run_at(const CounterColumns& c, const PendingOp* ops,
                                    const std::uint32_t* sorted_slots,
                                    const std::uint32_t* positions, std::size_t count,
                                    std::size_t i) {
  const std::uint32_t slot = sorted_slots[i];
  if (i > 0 && sorted_slots[i - 1] == slot) return;  // inside a run: its head applies it
  if (slot >= c.size) return;  // never queued (checked on the host); stay in bounds
  for (std::size_t j = i; j < count && sorted_slots[j] == slot; ++j) apply_op(c, ops[positions[j]]);
}

}  // namespace heatkit::gpu
