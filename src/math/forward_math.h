// Forward decay (Cormode, Shkapenyuk, Srivastava, Xu, ICDE 2009): the
// counter representation of the `highway`, `thrust-omp`, `thrust` and `cuda`
// stores. One source of truth for every one of them, host and device.
//
// A counter's rate column holds s = rate x 2^((t - L)/h), its rate at its
// last update t scaled by how far t lies past the store's landmark L. The
// rate at any instant T is then s / 2^((T - L)/h): where counters share a
// half-life that divisor is one number per tick, so a tick reads s,
// last_emitted and flags (17 bytes) and writes nothing but its candidates'
// in-flight marks. A bump at t adds 2^((t - L)/h).
//
// The literal form's observable side effects (SEMANTICS.md "Counter") come
// out the same:
//  - last_update: the column holds the instant of the counter's last write
//    (bump, creation, decay_to); a forward counter's last_update is the later
//    of that and the store's last tick (ForwardFrame::tick_instant). A tick
//    with every counter's write at or before its instant needs no write.
//  - time going backwards: a bump, creation or decay_to earlier than the
//    counter's last_update, or any write a forward encoding cannot hold (and
//    a repeat bump at the instant of the last write, so that bumps at one
//    instant add exact ones as the reference's do), stores the counter
//    literally: the sign bit set, -rate at the column's
//    last_update, decayed with counter_math.h as the scalar reference does.
//    The next tick converts it back. A tick earlier than some write since the
//    last tick is a relayout pass (below).
//  - the 64-half-life clamp and the epsilon snap: a forward tick is run only
//    while T - L is at most kRescaleHalfLives shortest half-lives, so no
//    forward counter's step since its last update can pass 64 half-lives;
//    the snap applies to every value read (forward_value). A bump clamps and
//    snaps from its counter's last_update as the literal bump does.
//  - the landmark: a tick whose T - L passes kRescaleHalfLives shortest
//    half-lives (or that goes backwards, or follows writes the fast tick
//    cannot take) is a relayout pass: every counter decayed literally to T
//    and stored at landmark T (s = rate), which keeps 2^((t - L)/h) within
//    [1, 2^64] for every forward encoding. Rare: once per 32 half-lives.
#pragma once

#include <cmath>
#include <cstdint>

#include "math/counter_math.h"

namespace heatkit {

// Most half-lives an encoding may lie past the landmark: 2^64, within
// decay_factor's domain, far inside the double range.
inline constexpr double kMaxForwardHalfLives = 64.0;
// A tick past this many shortest half-lives from the landmark relayouts the
// store at its own instant: bumps up to 32 half-lives after a tick stay
// forward, and no forward step since a last update can reach the clamp.
inline constexpr double kRescaleHalfLives = 32.0;

// What a forward store knows beside its columns. Changed on the host only:
// the device gets a copy with every pass.
struct ForwardFrame {
  std::int64_t landmark = 0;
  bool started = false;  // landmark set (at the first creation)
  // The last tick's instant: every forward counter's last_update is at least
  // this. INT64_MIN before the first tick.
  std::int64_t tick_instant = INT64_MIN;
  // The latest instant any counter was written at since the last tick.
  std::int64_t latest = INT64_MIN;
  // The shortest non-zero half-life a counter may have (INT64_MAX: none).
  std::int64_t shortest_half_life = INT64_MAX;

  // A write at `now`: the bookkeeping every store does when it changes a slot.
  HEATKIT_HD void note_write(std::int64_t now) {
    if (!started) {
      landmark = now;
      started = true;
    }
    note_bump(now);
  }
  // The same for a bump, which follows the slot's creation (so the landmark
  // is set): one comparison on the path every bump takes.
  HEATKIT_HD void note_bump(std::int64_t now) {
    if (now > latest) latest = now;
  }
};

// 2^x for x in [-64, 64]: decay_factor(-x) (its table and polynomial hold on
// the whole range; the exponent add stays a normal number).
HEATKIT_HD_FORCE_INLINE double exp2_within_64(double x) { return decay_factor(-x); }

// Sign bit set: a literal counter (-rate, last_update = the column).
HEATKIT_HD_FORCE_INLINE bool is_literal(double s) { return std::signbit(s); }

// (t - landmark) / half_life (half_life > 0) when t lies at or after the
// landmark and within kMaxForwardHalfLives of it; -1 otherwise (no forward
// encoding at t).
HEATKIT_HD_FORCE_INLINE double forward_exponent(std::int64_t t, std::int64_t landmark,
                                                std::int64_t half_life) {
  if (t < landmark) return -1.0;
  const double x = static_cast<double>(elapsed_ns(landmark, t)) / static_cast<double>(half_life);
  return x <= kMaxForwardHalfLives ? x : -1.0;
}

// The scale 2^((t - L)/h) of a counter's encoding at `t`, which the caller
// knows lies in range (x >= 0); 1 for half-life 0 (no decay).
HEATKIT_HD_FORCE_INLINE double forward_scale(std::int64_t t, std::int64_t landmark,
                                             std::int64_t half_life) {
  return half_life == 0 ? 1.0 : exp2_within_64(forward_exponent(t, landmark, half_life));
}

// The rate a forward s stands for where its scale is `scale`, snapped to 0
// below epsilon as every literal decay is. A division, not a product with
// the reciprocal: a counter bumped once from 0 reads exactly 1.
HEATKIT_HD_FORCE_INLINE double forward_value(double s, double scale) {
  const double r = s / scale;
  return r < kRateEpsilon ? 0.0 : r;
}

// A counter's literal state: its rate at its last_update, and that instant.
struct LiteralState {
  double rate;
  std::int64_t last_update;
};

HEATKIT_HD inline LiteralState forward_decode(double s, std::int64_t last_write,
                                              std::int64_t half_life, const ForwardFrame& f) {
  if (is_literal(s)) return {-s, last_write};
  const std::int64_t at = last_write > f.tick_instant ? last_write : f.tick_instant;
  if (s == 0.0 || half_life == 0) return {s, at};
  return {forward_value(s, forward_scale(at, f.landmark, half_life)), at};
}

// A fresh counter at `now`: rate 0; literal when created before the last
// tick (its last_update is then earlier than the tick's).
HEATKIT_HD inline void forward_init(double& s, std::int64_t& last_write, std::int64_t now,
                                    const ForwardFrame& f) {
  s = now >= f.tick_instant ? 0.0 : -0.0;
  last_write = now;
}

// `count` bumps at `now` (SEMANTICS.md "bump", count times at one instant:
// the later ones decay by 0.5^0). Forward when the counter is forward, `now`
// is not before its last_update and lies in the landmark's range; literal
// otherwise, and for a bump at the instant of the counter's last write
// (unless its rate is 0): adding the scale again and again would round at
// every addition (6e-12 relative after a million bumps of one key at one
// instant), where the literal rate adds exact ones, as the reference does.
HEATKIT_HD_FORCE_INLINE void forward_bump(double& s, std::int64_t& last_write,
                                          std::int64_t half_life, std::int64_t now, double count,
                                          const ForwardFrame& f) {
  const bool literal = is_literal(s);
  const std::int64_t at = literal || last_write > f.tick_instant ? last_write : f.tick_instant;
  if (literal && now == at) {  // no decay: -(rate + count)
    s -= count;
    return;
  }
  if (!literal && now >= at) {
    if (half_life == 0) {
      s += count;
      last_write = now;
      return;
    }
    const double x = forward_exponent(now, f.landmark, half_life);
    if (x >= 0.0) {
      const double scale = exp2_within_64(x);
      if (now == last_write && s != 0.0) {  // again at its last write (at == now): literal
        s = -(s / scale + count);
        return;
      }
      // The literal decay from `at`: past 64 half-lives (elapsed > 64 h, in
      // integers: (elapsed - 1) / 64 >= h), or below epsilon, 0.
      const std::uint64_t elapsed = elapsed_ns(at, now);
      const bool cleared = (elapsed != 0 && ((elapsed - 1) >> 6) >= static_cast<std::uint64_t>(half_life)) ||
                           s < kRateEpsilon * scale;
      s = (cleared ? 0.0 : s) + count * scale;
      last_write = now;
      return;
    }
  }
  const LiteralState d = forward_decode(s, last_write, half_life, f);
  s = -(decayed_rate(d.rate, d.last_update, now, half_life) + count);
  last_write = now;
}

// SEMANTICS.md "decay_to": stored literally (the next tick converts it).
HEATKIT_HD inline void forward_decay_to(double& s, std::int64_t& last_write,
                                        std::int64_t half_life, std::int64_t now,
                                        const ForwardFrame& f) {
  const LiteralState d = forward_decode(s, last_write, half_life, f);
  s = -decayed_rate(d.rate, d.last_update, now, half_life);
  last_write = now;
}

// Whether the fast tick (forward_tick_rate) may run at `now`: the frame has
// counters, no write since the last tick is later than `now`, and `now` lies
// within kRescaleHalfLives shortest half-lives of the landmark.
HEATKIT_HD inline bool forward_tick_allowed(const ForwardFrame& f, std::int64_t now) {
  if (!f.started || now < f.latest || now < f.tick_instant || now < f.landmark) return false;
  if (f.shortest_half_life == INT64_MAX) return true;
  return static_cast<double>(elapsed_ns(f.landmark, now)) <=
         kRescaleHalfLives * static_cast<double>(f.shortest_half_life);
}

// The rate at the fast tick's instant `now` of one counter (forward_tick_allowed
// holds). `shared_scale` is forward_scale(now, ...) of the half-life every
// counter whose rate is not 0 shares, or 0 when they do not share one (the
// counter's own is then used). A literal counter is decayed as the reference
// decays it and stored forward (its only write).
HEATKIT_HD_FORCE_INLINE double forward_tick_rate(double& s, std::int64_t last_write,
                                                 std::int64_t half_life, std::int64_t now,
                                                 double shared_scale, const ForwardFrame& f) {
  if (is_literal(s)) {
    const double r = decayed_rate(-s, last_write, now, half_life);
    s = r == 0.0 ? 0.0 : r * (shared_scale > 0.0 ? shared_scale : forward_scale(now, f.landmark, half_life));
    return r;
  }
  if (s == 0.0) return 0.0;
  if (shared_scale > 0.0) return forward_value(s, shared_scale);
  return half_life == 0 ? s : forward_value(s, forward_scale(now, f.landmark, half_life));
}

// The fast tick of one counter (tick_one's forward form): its rate at
// p.now (forward_tick_rate: `s` is written where it was literal; the caller
// stores it back), left in `rate`, then the gate; kInFlight is set in
// `flags` when asked and the decision is not Suppress. `last_write` is read
// only where is_literal(s); `half_life` is the counter's or the shared one.
// Every fast tick runs it: the Thrust passes, the device kernel and the
// Highway kernel's scalar lanes.
HEATKIT_HD_FORCE_INLINE Decision forward_tick_one(double& s, std::int64_t last_write, std::int64_t half_life,
                                                  double last_emitted, std::uint8_t& flags, double& rate,
                                                  const TickParams& p, double shared_scale,
                                                  const ForwardFrame& f) {
  rate = forward_tick_rate(s, last_write, half_life, p.now, shared_scale, f);
  const Decision d = tick_gate(rate, flags, last_emitted, p);
  if (d != Decision::kSuppress && p.mark_in_flight) flags |= kInFlight;
  return d;
}

// The relayout tick of one counter: decayed literally to `now` from its
// literal state under the frame before the tick, and stored at landmark
// `now` (s = rate; last_write no later than `now`). Returns the rate.
HEATKIT_HD inline double relayout_tick_rate(double& s, std::int64_t& last_write,
                                            std::int64_t half_life, std::int64_t now,
                                            const ForwardFrame& before) {
  const std::int64_t at =
      is_literal(s) || last_write > before.tick_instant ? last_write : before.tick_instant;
  double r = 0.0;
  // A step past 64 half-lives (the test decayed_rate makes) clears the rate
  // without decoding it: after a quiet gap, every counter.
  if (s != 0.0 && (half_life == 0 || half_lives(at, now, half_life) <= kMaxHalfLives)) {
    const LiteralState d = forward_decode(s, last_write, half_life, before);
    r = decayed_rate(d.rate, d.last_update, now, half_life);
  }
  s = r;
  if (last_write > now) last_write = now;
  return r;
}

// The frame after a tick at `now`: fast, or a relayout (landmark `now`).
HEATKIT_HD inline void forward_after_tick(ForwardFrame& f, std::int64_t now, bool relayout) {
  if (relayout) {
    f.landmark = now;
    f.started = true;
  }
  f.tick_instant = now;
  f.latest = now;
}

// Commit's prune predicate (is_prunable) on the literal rate. A forward
// counter's rate at its last_update is 0 exactly when its value at the last
// tick is below epsilon: one written since the tick was bumped (rate >= 1
// then, and higher still at the earlier tick) or is literal.
// `tick_scale` is prune_scale(half_life, frame) (passes cache it per
// half-life); forward_prunable computes it.
HEATKIT_HD inline double prune_scale(std::int64_t half_life, const ForwardFrame& f) {
  // 0: a value that cannot be 0 unless s is (no decay, or no tick yet).
  if (half_life == 0 || f.tick_instant < f.landmark) return 0.0;
  return forward_scale(f.tick_instant, f.landmark, half_life);
}
HEATKIT_HD inline bool forward_prunable_scaled(double s, bool has_emitted, double last_emitted,
                                               double tick_scale) {
  if (!has_emitted || !(last_emitted <= 0.0)) return false;
  if (s == 0.0) return true;  // either sign: rate 0
  if (is_literal(s) || tick_scale == 0.0) return false;
  return forward_value(s, tick_scale) == 0.0;
}
HEATKIT_HD inline bool forward_prunable(double s, std::int64_t half_life, bool has_emitted,
                                        double last_emitted, const ForwardFrame& f) {
  return forward_prunable_scaled(s, has_emitted, last_emitted, prune_scale(half_life, f));
}

}  // namespace heatkit
