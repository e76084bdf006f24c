// The per-slot operations of a device store, queued on the host and applied
// on the device in one pass (cuda/device_store.cu), in forward form
// (math/forward_math.h): the rate column holds s, the last_update column the
// instant of the counter's last write, and the frame stays on the host,
// which passes a copy to every pass. Plain C++ so the host tests check the
// same functions the kernels run: apply_op runs math/slot_ops.h's function
// for what forward decay leaves alone (clear, record, set_in_flight) and
// forward_math.h's for the rest (init, bump, decay_to).
//
// The frame changes only on the host: when an operation is queued
// (note_queued: the first write sets the landmark) and at ticks, which flush
// the queue first. So every operation of one flush sees the frame the flush
// passes, the frame its queueing left.
//
// Order: operations on one slot must apply in the order they were queued
// (a bump after a decay_to is not the same as before it); operations on
// different slots touch disjoint column elements, so any interleaving of
// slots gives the same columns. The flush therefore groups the queue by slot
// with a stable sort and applies each slot's operations in order on one
// thread. Within a slot, consecutive bumps at one instant form one group,
// applied as one forward_bump with the group's size as its count: the bumps
// after the first decay by 0.5^0 = 1, so this is bumping in turn up to the
// rounding of the additions, and a million duplicate bumps cost one step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "math/counter_math.h"
#include "math/forward_math.h"
#include "math/slot_ops.h"
#include "store/counter_store.h"

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

// The frame's bookkeeping of a queued operation, on the host when it is
// queued: init, bump and decay_to write their slot at op.now
// (ForwardFrame::note_write); a counter created with a half-life may lower
// the shortest one.
inline void note_queued(ForwardFrame& frame, const PendingOp& op) noexcept {
  switch (op.kind) {
    case OpKind::kInit:
      frame.note_write(op.now);
      if (op.half_life > 0 && op.half_life < frame.shortest_half_life) {
        frame.shortest_half_life = op.half_life;
      }
      break;
    case OpKind::kBump:
    case OpKind::kDecayTo:
      frame.note_write(op.now);
      break;
    case OpKind::kClear:
    case OpKind::kRecord:
    case OpKind::kSetInFlight:
      break;
  }
}

// `count` bumps of slot `s` at `now` (forward_bump).
HEATKIT_HD inline void apply_bumps(const CounterColumns& c, const ForwardFrame& f, std::uint32_t s,
                                   std::int64_t now, double count) {
  forward_bump(c.rate[s], c.last_update[s], c.half_life[s], now, count, f);
}

// Applies `op` to its slot of `c` (op.slot < c.size, checked by the caller
// when it queued the op) under the frame `f`.
HEATKIT_HD inline void apply_op(const CounterColumns& c, const ForwardFrame& f,
                                const PendingOp& op) {
  const std::uint32_t s = op.slot;
  switch (op.kind) {
    case OpKind::kInit:
      init_slot(c, s, op.half_life, op.now);
      forward_init(c.rate[s], c.last_update[s], op.now, f);
      break;
    case OpKind::kClear:
      clear_slot(c, s);
      break;
    case OpKind::kBump:
      apply_bumps(c, f, s, op.now, 1.0);
      break;
    case OpKind::kDecayTo:
      forward_decay_to(c.rate[s], c.last_update[s], c.half_life[s], op.now, f);
      break;
    case OpKind::kRecord:
      record_slot(c, s, op.decision, op.rate);
      break;
    case OpKind::kSetInFlight:
      set_slot_in_flight(c, s, op.in_flight);
      break;
  }
}

// A counter's state in forward form from its literal one (rate at `at`):
// forward where the frame holds it (`at` no earlier than the last tick and
// within the landmark's range), literal otherwise; last_write = at. What a
// batch of device bumps stores once it has the literal result
// (cuda/device_passes.h apply_timed_bumps).
HEATKIT_HD inline void store_literal_state(double& s, std::int64_t& last_write,
                                           std::int64_t half_life, double rate, std::int64_t at,
                                           const ForwardFrame& f) {
  last_write = at;
  if (f.started && at >= f.tick_instant) {
    if (half_life == 0) {
      s = rate;
      return;
    }
    const double x = forward_exponent(at, f.landmark, half_life);
    if (x >= 0.0) {
      s = rate * exp2_within_64(x);
      return;
    }
  }
  s = -rate;
}

// One slot's state as read() returns it: rate and last_update decoded
// (forward_decode), the rest as stored.
inline CounterState decoded_state(double s, std::int64_t last_write, double last_emitted,
                                  std::int64_t half_life, std::uint8_t flags,
                                  const ForwardFrame& f) noexcept {
  const LiteralState d = forward_decode(s, last_write, half_life, f);
  return counter_state(d.rate, d.last_update, last_emitted, half_life, flags);
}

// Literal columns (rate, last_update) into a forward store, for uploads:
// every counter stored literally (s = -rate), which any frame reads back
// exactly and the next tick converts. Rates must not be negative (no counter
// holds one; -rate would read as a forward s), and a finite rate times 2^64
// must stay finite (the conversion's scale; bumps never come near). The frame learns each
// counter as a write at its last_update (the latest one: note_write) and
// its half-life.
inline void note_literal_upload(ForwardFrame& frame, const CounterColumns& literal) noexcept {
  if (literal.size == 0) return;
  std::int64_t latest = literal.last_update[0];
  for (std::size_t i = 0; i < literal.size; ++i) {
    if (literal.last_update[i] > latest) latest = literal.last_update[i];
    const std::int64_t h = literal.half_life[i];
    if (h > 0 && h < frame.shortest_half_life) frame.shortest_half_life = h;
  }
  frame.note_write(latest);
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

// One thread's share of the flush under the frame `f`: heads[0, groups) are
// the sorted positions that start a group (is_group_head), in increasing
// order, and `count` ops were queued. Group g applies every group of its slot, in order, when it is
// the slot's first group and does nothing otherwise, so calling it once for
// every g in [0, groups), in any order or all at once, applies each slot's
// operations exactly once and in order; no two threads touch the same slot.
HEATKIT_HD inline void apply_groups_at(const CounterColumns& c, const ForwardFrame& f,
                                       const PendingOp* ops, const std::uint32_t* sorted_slots,
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
      apply_bumps(c, f, slot, op.now, static_cast<double>(end - heads[k]));
    } else {
      apply_op(c, f, op);  // groups of other kinds hold one op
    }
  }
}

}  // namespace heatkit::gpu
