// The per-slot operations of a device store, queued on the host and applied
// on the device in one pass (cuda/device_store.cu). Plain C++ so the host
// tests check the same functions the kernels run: apply_op runs the
// math/slot_ops.h function HostCounterStore runs for the same operation.
//
// Order: operations on one slot must apply in the order they were queued
// (a bump after a decay_to is not the same as before it); operations on
// different slots touch disjoint column elements, so any interleaving of
// slots gives the same columns. The flush therefore groups the queue by slot
// with a stable sort and applies each slot's operations in order on one
// thread. Within a slot, consecutive bumps at one instant form one group,
// applied as one decay and one addition of the group's size: the bumps after
// the first decay by 0.5^0 = 1, so this is bumping in turn up to the rounding
// of the additions, and a million duplicate bumps cost one step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/counter_math.h"
#include "math/slot_ops.h"

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

// `count` bumps of slot `s` at `now`: one decay to `now`, then + count.
HEATKIT_HD inline void apply_bumps(const CounterColumns& c, std::uint32_t s, std::int64_t now,
                                   double count) {
  c.rate[s] = decayed_rate(c.rate[s], c.last_update[s], now, c.half_life[s]) + count;
  c.last_update[s] = now;
}

// Applies `op` to its slot of `c` (op.slot < c.size, checked by the caller
// when it queued the op): HostCounterStore's operation of the same name, the
// same math/slot_ops.h function except for the bump (apply_bumps above).
HEATKIT_HD inline void apply_op(const CounterColumns& c, const PendingOp& op) {
  const std::uint32_t s = op.slot;
  switch (op.kind) {
    case OpKind::kInit:
      init_slot(c, s, op.half_life, op.now);
      break;
    case OpKind::kClear:
      clear_slot(c, s);
      break;
    case OpKind::kBump:
      apply_bumps(c, s, op.now, 1.0);
      break;
    case OpKind::kDecayTo:
      decay_slot_to(c, s, op.now);
      break;
    case OpKind::kRecord:
      record_slot(c, s, op.decision, op.rate);
      break;
    case OpKind::kSetInFlight:
      set_slot_in_flight(c, s, op.in_flight);
      break;
  }
}

// Whether two ops, adjacent in one slot's queue order, are bumps of that slot
// at the same instant (one group).
HEATKIT_HD inline bool same_bump_group(const PendingOp& earlier, const PendingOp& later) {
  return earlier.slot == later.slot && earlier.kind == OpKind::kBump &&
         later.kind == OpKind::kBump && earlier.now == later.now;
}

// `positions` is the queue stably sorted by slot (positions index `ops`).
// Whether sorted position i starts a group: a slot's first op, any op other
// than a bump, or a bump at another instant than the op before it.
HEATKIT_HD inline bool is_group_head(const PendingOp* ops, const std::uint32_t* positions,
                                     std::size_t i) {
  return i == 0 || !same_bump_group(ops[positions[i - 1]], ops[positions[i]]);
}

// One thread's share of the flush: heads[0, groups) are the sorted positions
// that start a group (is_group_head), in increasing order, and `count` ops
// were queued. Group g applies every group of its slot, in order, when it is
// the slot's first group and does nothing otherwise, so calling it once for
// every g in [0, groups), in any order or all at once, applies each slot's
// operations exactly once and in order; no two threads touch the same slot.
HEATKIT_HD inline void apply_groups_at(const CounterColumns& c, const PendingOp* ops,
                                       const std::uint32_t* sorted_slots,
                                       const std::uint32_t* positions,
                                       const std::uint32_t* heads, std::size_t groups,
                                       std::size_t count, std::size_t g) {
  const std::uint32_t slot = sorted_slots[heads[g]];
  if (g > 0 && sorted_slots[heads[g - 1]] == slot) return;  // its slot's first group applies it
  if (slot >= c.size) return;  // never queued (checked on the host); stay in bounds
  for (std::size_t k = g; k < groups && sorted_slots[heads[k]] == slot; ++k) {
    const PendingOp& op = ops[positions[heads[k]]];
    const std::size_t end = k + 1 < groups ? heads[k + 1] : count;
    if (op.kind == OpKind::kBump) {
      apply_bumps(c, slot, op.now, static_cast<double>(end - heads[k]));
    } else {
      apply_op(c, op);  // groups of other kinds hold one op
    }
  }
}

}  // namespace heatkit::gpu
