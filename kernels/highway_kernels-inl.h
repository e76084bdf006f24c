// Highway vector form of the tick and prune passes (per target). The steps are
// those of counter_math.h's tick_one and is_prunable, lane by lane:
//   decay:  h = max(0, now - last_update) / half_life; h > 64 -> 0;
//           rate *= 0.5^h; rate < eps -> 0; rate 0 or half_life 0 -> keep;
//           last_update = now.
//   gate:   emission_decision on the decayed rate.
// 0.5^h comes from one of two places: the factor shared by a whole vector
// (steady state: every lane last updated at the same instant with the same
// half-life, so the scalar exp2 computed once per (dt, half-life) is cached
// and reused, with no division or polynomial),
// or a short polynomial 2^-h for h in [0, 64] (round, degree-11 polynomial,
// exponent add), about 1e-15 relative error. Lanes whose ratio test sits
// within 1e-13 of the threshold, and vectors with unusual inputs, are decided
// by the scalar functions themselves, so decisions match the reference.

// Per-target include guard (Highway's HWY_TARGET_TOGGLE idiom).
#if defined(HEATKIT_KERNELS_HIGHWAY_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef HEATKIT_KERNELS_HIGHWAY_INL_H_
#undef HEATKIT_KERNELS_HIGHWAY_INL_H_
#else
#define HEATKIT_KERNELS_HIGHWAY_INL_H_
#endif

#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "kernels/counter_math.h"

HWY_BEFORE_NAMESPACE();
namespace heatkit {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 2^-h for h in [0, 64] (callers clamp h into that range first).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Exp2Neg(D d, V h) {
  const hn::RebindToSigned<D> di;
  const V x = hn::Neg(h);
  const V n = hn::Round(x);                                // x = n + f
  const V f = hn::Mul(hn::Sub(x, n), hn::Set(d, 0.6931471805599453));  // f*ln2 in [-0.35, 0.35]
  // e^f, Taylor to degree 11 (remainder < 7e-15 relative).
  V p = hn::Set(d, 1.0 / 39916800.0);
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 3628800.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 362880.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 40320.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 5040.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 720.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 120.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 24.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0 / 6.0));
  p = hn::MulAdd(p, f, hn::Set(d, 0.5));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0));
  // 2^n for n in [-64, 0]: build the exponent bits directly.
  const auto bits = hn::ShiftLeft<52>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 1023)));
  return hn::Mul(p, hn::BitCast(d, bits));
}

// The per-lane decision by the scalar functions (rare paths).
HWY_INLINE void DecideScalar(const CounterColumns& c, std::size_t i, std::size_t lanes,
                             const TickParams& p, std::vector<Candidate>& out) {
  for (std::size_t j = i; j < i + lanes; ++j) {
    if (p.skip_in_flight && (c.flags[j] & kInFlight)) continue;
    const Decision dec = emission_decision(c.rate[j], (c.flags[j] & kHasEmitted) != 0,
                                           c.last_emitted[j], p.enabled, p.ratio);
    if (dec == Decision::kSuppress) continue;
    if (p.mark_in_flight) c.flags[j] |= kInFlight;
    out.push_back({static_cast<std::uint32_t>(j), dec, dec == Decision::kEmit ? c.rate[j] : 0.0});
  }
}

// Appends the lanes set in `bits` (lane j -> slot i + j) with their decision.
HWY_INLINE void AppendLanes(const CounterColumns& c, std::size_t i, std::uint64_t emit_bits,
                            std::uint64_t withdraw_bits, const TickParams& p,
                            std::vector<Candidate>& out) {
  std::uint64_t bits = emit_bits | withdraw_bits;
  while (bits != 0) {
    const unsigned j = static_cast<unsigned>(__builtin_ctzll(bits));
    bits &= bits - 1;
    const std::size_t slot = i + j;
    const bool emit = ((emit_bits >> j) & 1u) != 0;
    if (p.mark_in_flight) c.flags[slot] |= kInFlight;
    out.push_back({static_cast<std::uint32_t>(slot), emit ? Decision::kEmit : Decision::kWithdraw,
                   emit ? c.rate[slot] : 0.0});
  }
}

template <class D>
HWY_INLINE std::uint64_t MaskBits(D d, hn::Mask<D> m) {
  uint8_t bytes[8] = {0};
  hn::StoreMaskBits(d, m, bytes);
  std::uint64_t v = 0;
  for (std::size_t k = 0; k < (hn::Lanes(d) + 7) / 8; ++k) v |= std::uint64_t{bytes[k]} << (8 * k);
  return v;
}

// Flags of `lanes` counters widened to one 64-bit lane each.
template <class D>
HWY_INLINE hn::Vec<hn::RebindToUnsigned<D>> LoadFlags(D /*d*/, const std::uint8_t* flags) {
  const hn::RebindToUnsigned<D> du;
  const hn::Rebind<std::uint32_t, D> du32;
  const hn::Rebind<std::uint8_t, D> du8;
  return hn::PromoteTo(du, hn::PromoteTo(du32, hn::LoadU(du8, flags)));
}

inline void TickColumns(const CounterColumns& c, const TickParams& p, std::vector<Candidate>& out) {
  const hn::ScalableTag<double> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::RebindToUnsigned<decltype(d)> du;
  const std::size_t N = hn::Lanes(d);
  const std::size_t n = c.size;

  // The factor shared by every lane of a vector whose counters were all last
  // updated at one instant with one half-life, computed by the scalar
  // function itself and cached until a uniform vector with another pair
  // comes along. Starts empty (half-life -1 matches no counter).
  auto v_shared_lu = hn::Zero(di);
  auto v_shared_hl = hn::Set(di, std::int64_t{-1});
  auto v_shared_factor = hn::Set(d, 1.0);

  const auto v_now = hn::Set(di, p.now);
  const auto v_zero = hn::Zero(d);
  const auto v_eps = hn::Set(d, kRateEpsilon);
  const auto v_max_h = hn::Set(d, kMaxHalfLives);
  const auto v_ratio = hn::Set(d, p.ratio);
  const auto v_inf = hn::Set(d, HUGE_VAL);
  const auto v_near = hn::Set(d, 1e-13);
  const auto v_huge = hn::Set(d, 1e300);
  const auto v_has = hn::Set(du, std::uint64_t{kHasEmitted});
  const auto v_in_flight = hn::Set(du, std::uint64_t{kInFlight});

  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto rate = hn::LoadU(d, c.rate + i);
    const auto lu = hn::LoadU(di, c.last_update + i);
    const auto hl = hn::LoadU(di, c.half_life + i);

    // Elapsed time, saturating at 0. A difference that overflows int64 (only
    // with instants far apart near the ends of the range) goes to the scalar path.
    const auto later = hn::Gt(v_now, lu);
    const auto diff = hn::Sub(v_now, lu);
    const auto overflow = hn::And(later, hn::Lt(diff, hn::Zero(di)));
    hn::Vec<decltype(d)> decayed;
    if (HWY_UNLIKELY(!hn::AllFalse(di, overflow))) {
      for (std::size_t j = i; j < i + N; ++j) {
        c.rate[j] = decayed_rate(c.rate[j], c.last_update[j], p.now, c.half_life[j]);
      }
      decayed = hn::LoadU(d, c.rate + i);
    } else {
      hn::Vec<decltype(d)> factor;
      auto too_old = hn::FirstN(d, 0);
      bool all_shared = hn::AllTrue(di, hn::And(hn::Eq(lu, v_shared_lu), hn::Eq(hl, v_shared_hl)));
      if (!all_shared) {
        const std::int64_t lu0 = hn::GetLane(lu);
        const std::int64_t hl0 = hn::GetLane(hl);
        const auto v_lu0 = hn::Set(di, lu0);
        const auto v_hl0 = hn::Set(di, hl0);
        if (hl0 > 0 && hn::AllTrue(di, hn::And(hn::Eq(lu, v_lu0), hn::Eq(hl, v_hl0)))) {
          const double h0 = half_lives(lu0, p.now, hl0);
          if (h0 <= kMaxHalfLives) {
            v_shared_lu = v_lu0;
            v_shared_hl = v_hl0;
            v_shared_factor = hn::Set(d, decay_factor(h0));
            all_shared = true;
          }
        }
      }
      if (all_shared) {
        factor = v_shared_factor;  // every lane within 64 half-lives
      } else {
        const auto elapsed = hn::IfThenElseZero(later, diff);
        const auto h = hn::Div(hn::ConvertTo(d, elapsed), hn::ConvertTo(d, hl));
        too_old = hn::Gt(h, v_max_h);  // false for NaN (half_life 0, no elapsed)
        // Clamp into [0, 64] (NaN and inf lanes are replaced below anyway).
        const auto h_clamped = hn::Min(hn::Max(hn::IfThenElseZero(hn::Eq(h, h), h), v_zero), v_max_h);
        factor = Exp2Neg(d, h_clamped);
      }
      auto r = hn::Mul(rate, factor);
      r = hn::IfThenZeroElse(hn::Lt(r, v_eps), r);
      r = hn::IfThenZeroElse(too_old, r);
      // Half-life 0 or rate 0: the rate is kept as it is.
      const auto keep = hn::Or(hn::RebindMask(d, hn::Eq(hl, hn::Zero(di))), hn::Eq(rate, v_zero));
      decayed = hn::IfThenElse(keep, rate, r);
      hn::StoreU(decayed, d, c.rate + i);
    }
    hn::StoreU(v_now, di, c.last_update + i);
    if (!p.enabled) continue;

    // The gate, vectorized (rows of SEMANTICS.md in order).
    const auto flags = LoadFlags(d, c.flags + i);
    const auto has = hn::RebindMask(d, hn::Ne(hn::And(flags, v_has), hn::Zero(du)));
    const auto prev = hn::LoadU(d, c.last_emitted + i);
    const auto valid = hn::Lt(hn::Abs(decayed), v_inf);  // finite (NaN fails)
    const auto positive = hn::And(valid, hn::Gt(decayed, v_zero));
    const auto is_zero = hn::Eq(decayed, v_zero);
    const auto prev_pos = hn::Gt(prev, v_zero);
    const auto prev_nonpos = hn::Le(prev, v_zero);  // not !prev_pos: NaN is neither
    // Ratio test in multiply form; lanes near the threshold go to the scalar path.
    const auto up = hn::Mul(v_ratio, prev);
    const auto down = hn::Mul(v_ratio, decayed);
    const auto crosses = hn::Or(hn::Ge(decayed, up), hn::Ge(prev, down));
    const auto near = hn::Or(hn::Le(hn::Abs(hn::Sub(decayed, up)), hn::Mul(v_near, decayed)),
                             hn::Le(hn::Abs(hn::Sub(prev, down)), hn::Mul(v_near, prev)));
    auto emit = hn::Or(hn::AndNot(has, positive),
                       hn::And(has, hn::And(positive, hn::Or(prev_nonpos, crosses))));
    auto withdraw = hn::And(has, hn::And(is_zero, prev_pos));
    auto candidate = hn::Or(emit, withdraw);
    // Near the threshold, or so large that ratio * x could overflow.
    const auto huge = hn::Or(hn::Gt(prev, v_huge), hn::Gt(decayed, v_huge));
    auto ambiguous = hn::And(has, hn::And(positive, hn::And(prev_pos, hn::Or(near, huge))));
    if (p.skip_in_flight) {
      const auto in_flight = hn::RebindMask(d, hn::Ne(hn::And(flags, v_in_flight), hn::Zero(du)));
      candidate = hn::AndNot(in_flight, candidate);
      ambiguous = hn::AndNot(in_flight, ambiguous);
    }
    if (HWY_LIKELY(hn::AllFalse(d, hn::Or(candidate, ambiguous)))) continue;
    if (HWY_UNLIKELY(!hn::AllFalse(d, ambiguous))) {
      DecideScalar(c, i, N, p, out);
      continue;
    }
    emit = hn::And(emit, candidate);
    withdraw = hn::And(withdraw, candidate);
    AppendLanes(c, i, MaskBits(d, emit), MaskBits(d, withdraw), p, out);
  }
  // Tail: fewer than one vector left; the scalar step itself, in place.
  for (; i < n; ++i) {
    const Decision dec = tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i],
                                  c.flags[i], p);
    if (dec != Decision::kSuppress) {
      out.push_back({static_cast<std::uint32_t>(i), dec, dec == Decision::kEmit ? c.rate[i] : 0.0});
    }
  }
}

inline void CollectPrunableColumns(const CounterColumns& c, std::vector<std::uint32_t>& out) {
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const std::size_t N = hn::Lanes(d);
  const std::size_t n = c.size;
  const auto v_zero = hn::Zero(d);
  const auto v_has = hn::Set(du, std::uint64_t{kHasEmitted});
  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto rate = hn::LoadU(d, c.rate + i);
    const auto prev = hn::LoadU(d, c.last_emitted + i);
    const auto has = hn::RebindMask(d, hn::Ne(hn::And(LoadFlags(d, c.flags + i), v_has), hn::Zero(du)));
    const auto prune = hn::And(has, hn::And(hn::Le(rate, v_zero), hn::Le(prev, v_zero)));
    if (HWY_LIKELY(hn::AllFalse(d, prune))) continue;
    std::uint64_t bits = MaskBits(d, prune);
    while (bits != 0) {
      out.push_back(static_cast<std::uint32_t>(i + static_cast<std::size_t>(__builtin_ctzll(bits))));
      bits &= bits - 1;
    }
  }
  for (; i < n; ++i) {
    if (is_prunable(c.rate[i], (c.flags[i] & kHasEmitted) != 0, c.last_emitted[i])) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace heatkit
HWY_AFTER_NAMESPACE();

#endif  // HEATKIT_KERNELS_HIGHWAY_INL_H_
