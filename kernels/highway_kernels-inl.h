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
// exponent add), about 1e-15 relative error.
// The gate in vector form decides only what it can decide with a margin:
// vectors whose counters all emitted before and whose rates all lie well
// inside the quiet band (the common case) are suppressed with two products and
// three comparisons; in the others, sure emissions (ratio exceeded by 1e-12
// relative) and withdrawals are taken as they are, and every remaining lane
// that might be a candidate is decided by emission_decision itself, so the
// decisions are those of the reference, threshold ties included.

// Per-target include guard (Highway's HWY_TARGET_TOGGLE idiom).
#if defined(HEATKIT_KERNELS_HIGHWAY_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef HEATKIT_KERNELS_HIGHWAY_INL_H_
#undef HEATKIT_KERNELS_HIGHWAY_INL_H_
#else
#define HEATKIT_KERNELS_HIGHWAY_INL_H_
#endif

#include <cstdint>
#include <cstring>
#include <limits>
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

// Candidates go to a small buffer on the stack first and to `out` in blocks:
// the hot loop keeps the write position in a register instead of updating
// the vector's end pointer through memory for every candidate.
class CandidateSink {
 public:
  explicit CandidateSink(std::vector<Candidate>& out) : out_(out) {}
  CandidateSink(const CandidateSink&) = delete;
  CandidateSink& operator=(const CandidateSink&) = delete;

  HWY_INLINE void push(std::uint32_t slot, Decision kind, double rate) {
    if (HWY_UNLIKELY(used_ == kBlock)) flush();
    buffer_[used_++] = Candidate{slot, kind, rate};
  }
  // Withdrawals of slots [first, first + count), count <= kBlock: the mass
  // withdrawal after a quiet gap, without a branch per lane.
  HWY_INLINE void push_withdrawals(std::uint32_t first, std::size_t count) {
    if (HWY_UNLIKELY(used_ + count > kBlock)) flush();
    for (std::size_t j = 0; j < count; ++j) {
      buffer_[used_ + j] = Candidate{first + static_cast<std::uint32_t>(j), Decision::kWithdraw, 0.0};
    }
    used_ += count;
  }
  // Appends what is buffered to `out`; call once at the end of the pass.
  void flush() {
    out_.insert(out_.end(), buffer_, buffer_ + used_);
    used_ = 0;
  }

 private:
  static constexpr std::size_t kBlock = 256;
  std::vector<Candidate>& out_;
  std::size_t used_ = 0;
  Candidate buffer_[kBlock];
};

// Appends the lanes set in emit_bits / withdraw_bits (lane j -> slot i + j)
// with that decision, and decides the lanes in undecided_bits with the scalar
// gate (the tick is enabled here). In-flight lanes are skipped when
// the tick skips them.
HWY_INLINE void AppendLanes(const CounterColumns& c, std::size_t i, std::uint64_t emit_bits,
                            std::uint64_t withdraw_bits, std::uint64_t undecided_bits,
                            const TickParams& p, CandidateSink& out) {
  std::uint64_t bits = emit_bits | withdraw_bits | undecided_bits;
  while (bits != 0) {
    const unsigned j = static_cast<unsigned>(__builtin_ctzll(bits));
    bits &= bits - 1;
    const std::size_t slot = i + j;
    if (p.skip_in_flight && (c.flags[slot] & kInFlight)) continue;
    Decision dec = Decision::kWithdraw;
    if ((emit_bits >> j) & 1u) {
      dec = Decision::kEmit;
    } else if ((undecided_bits >> j) & 1u) {
      dec = emission_decision(c.rate[slot], (c.flags[slot] & kHasEmitted) != 0,
                              c.last_emitted[slot], true, p.ratio);
      if (dec == Decision::kSuppress) continue;
    }
    if (p.mark_in_flight) c.flags[slot] |= kInFlight;
    out.push(static_cast<std::uint32_t>(slot), dec, dec == Decision::kEmit ? c.rate[slot] : 0.0);
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

// Whether every one of the kLanes counters from `flags` has emitted before
// (one scalar load: the flags of a whole vector fit in 8 bytes).
template <std::size_t kLanes>
HWY_INLINE bool AllHaveEmitted(const std::uint8_t* flags) {
  static_assert(kLanes >= 1 && kLanes <= 8, "flags of one f64 vector fit in a u64");
  std::uint64_t word = 0;
  std::memcpy(&word, flags, kLanes);
  constexpr std::uint64_t kWant = 0x0101010101010101ull >> (64 - 8 * kLanes);
  static_assert(kHasEmitted == 1, "kWant assumes the has-emitted bit is bit 0");
  return (word & kWant) == kWant;
}

// Whether none of the kLanes counters from `flags` is in flight.
template <std::size_t kLanes>
HWY_INLINE bool NoneInFlight(const std::uint8_t* flags) {
  std::uint64_t word = 0;
  std::memcpy(&word, flags, kLanes);
  constexpr std::uint64_t kBits = (0x0101010101010101ull * kInFlight) >> (64 - 8 * kLanes);
  return (word & kBits) == 0;
}

// Marks the kLanes counters from `flags` in flight.
template <std::size_t kLanes>
HWY_INLINE void MarkInFlight(std::uint8_t* flags) {
  std::uint64_t word = 0;
  std::memcpy(&word, flags, kLanes);
  word |= (0x0101010101010101ull * kInFlight) >> (64 - 8 * kLanes);
  std::memcpy(flags, &word, kLanes);
}

inline void TickColumns(const CounterColumns& columns, const TickParams& p,
                        std::vector<Candidate>& out) {
  // A local copy: the rare paths store flags through a u8 pointer (which may
  // alias anything) and grow `out`, and must not force reloads of the columns.
  const CounterColumns c = columns;
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
  const auto v_inf = hn::Set(d, HUGE_VAL);
  const auto v_has = hn::Set(du, std::uint64_t{kHasEmitted});
  // The quiet band: a counter that has emitted, whose decayed rate lies in
  // (last_emitted * quiet_low, last_emitted * quiet_high), is suppressed by
  // every row of the gate: both quotients of the ratio test are below the
  // ratio by a margin of 1e-12 relative, far above the rounding of the
  // products, quotients and of these bounds themselves. prev > v_normal_min
  // keeps prev * quiet_low a normal number (no lost precision). A ratio <= 1
  // gives an empty band (every positive rate emits), NaN bounds never match.
  const auto v_quiet_low = hn::Set(d, (1.0 + 1e-12) / p.ratio);
  const auto v_quiet_high = hn::Set(d, p.ratio * (1.0 - 1e-12));
  // Operands above v_normal_min keep their products with the bounds normal
  // (no precision lost to underflow); products that overflow to infinity
  // compare the right way.
  const auto v_normal_min =
      hn::Set(d, 4.0 * std::numeric_limits<double>::min() * std::max(1.0, p.ratio));
  // A sure emission: one quotient of the ratio test is above the ratio by a
  // margin of 1e-12 relative.
  const auto v_emit_high = hn::Set(d, p.ratio * (1.0 + 1e-12));
  CandidateSink sink(out);

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
        // Every lane within 64 half-lives, half-life > 0: only the epsilon
        // clamp and rate 0 (kept as it is, sign included) remain.
        const auto r = hn::Mul(rate, v_shared_factor);
        decayed = hn::IfThenElse(hn::Eq(rate, v_zero), rate, hn::IfThenZeroElse(hn::Lt(r, v_eps), r));
      } else {
        const auto elapsed = hn::IfThenElseZero(later, diff);
        const auto h = hn::Div(hn::ConvertTo(d, elapsed), hn::ConvertTo(d, hl));
        const auto too_old = hn::Gt(h, v_max_h);  // false for NaN (half_life 0, no elapsed)
        // Clamp into [0, 64] (NaN and inf lanes are replaced below anyway).
        const auto h_clamped = hn::Min(hn::Max(hn::IfThenElseZero(hn::Eq(h, h), h), v_zero), v_max_h);
        const auto factor = Exp2Neg(d, h_clamped);
        auto r = hn::Mul(rate, factor);
        r = hn::IfThenZeroElse(hn::Lt(r, v_eps), r);
        r = hn::IfThenZeroElse(too_old, r);
        // Half-life 0 or rate 0: the rate is kept as it is.
        const auto keep = hn::Or(hn::RebindMask(d, hn::Eq(hl, hn::Zero(di))), hn::Eq(rate, v_zero));
        decayed = hn::IfThenElse(keep, rate, r);
      }
      hn::StoreU(decayed, d, c.rate + i);
    }
    hn::StoreU(v_now, di, c.last_update + i);
    if (!p.enabled) continue;

    // Steady state: most vectors are quiet, decided by two products and
    // three comparisons (in-flight lanes need no test: they are skipped).
    const auto prev = hn::LoadU(d, c.last_emitted + i);
    if (HWY_LIKELY(AllHaveEmitted<hn::MaxLanes(decltype(d)())>(c.flags + i))) {
      const auto prev_normal = hn::Gt(prev, v_normal_min);
      const auto quiet = hn::And(hn::And(hn::Gt(decayed, hn::Mul(prev, v_quiet_low)),
                                         hn::Lt(decayed, hn::Mul(prev, v_quiet_high))),
                                 prev_normal);
      if (HWY_LIKELY(hn::AllTrue(d, quiet))) continue;
      // Every lane has emitted: sure emissions and withdrawals are decided
      // here, the rest (near the threshold, NaN, negative, tiny) by the
      // scalar gate, lane by lane.
      const auto decayed_normal = hn::And(hn::Gt(decayed, v_normal_min), hn::Lt(decayed, v_inf));
      const auto emit = hn::And(hn::And(prev_normal, decayed_normal),
                                hn::Or(hn::Ge(decayed, hn::Mul(prev, v_emit_high)),
                                       hn::Ge(prev, hn::Mul(decayed, v_emit_high))));
      const auto withdraw = hn::And(hn::Eq(decayed, v_zero), hn::Gt(prev, v_zero));
      const auto undecided = hn::Not(hn::Or(hn::Or(quiet, emit), withdraw));
      if (hn::AllTrue(d, withdraw) && NoneInFlight<hn::MaxLanes(decltype(d)())>(c.flags + i)) {
        // Every lane withdraws (after a quiet gap, all of them do).
        sink.push_withdrawals(static_cast<std::uint32_t>(i), N);
        if (p.mark_in_flight) MarkInFlight<hn::MaxLanes(decltype(d)())>(c.flags + i);
        continue;
      }
      AppendLanes(c, i, MaskBits(d, emit), MaskBits(d, withdraw), MaskBits(d, undecided), p, sink);
      continue;
    }

    // Some lane has not emitted yet (new or empty slots): it emits when its
    // rate is positive and finite. Lanes that might be candidates go to the
    // scalar gate; quiet lanes that have emitted and lanes at rate <= 0 that
    // have not are suppressed.
    const auto has = hn::RebindMask(d, hn::Ne(hn::And(LoadFlags(d, c.flags + i), v_has), hn::Zero(du)));
    const auto quiet = hn::And(hn::And(hn::Gt(decayed, hn::Mul(prev, v_quiet_low)),
                                       hn::Lt(decayed, hn::Mul(prev, v_quiet_high))),
                               hn::Gt(prev, v_normal_min));
    const auto possible = hn::Or(hn::AndNot(has, hn::Gt(decayed, v_zero)), hn::AndNot(quiet, has));
    if (hn::AllFalse(d, possible)) continue;
    AppendLanes(c, i, 0, 0, MaskBits(d, possible), p, sink);
  }
  // Tail: fewer than one vector left; the scalar step itself, in place.
  for (; i < n; ++i) {
    const Decision dec = tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i],
                                  c.flags[i], p);
    if (dec != Decision::kSuppress) {
      sink.push(static_cast<std::uint32_t>(i), dec, dec == Decision::kEmit ? c.rate[i] : 0.0);
    }
  }
  sink.flush();
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
