// Highway vector form of the forward tick and prune passes (per target):
// math/forward_math.h's forward_tick_rate, the gate, and forward_prunable,
// lane by lane. The tick reads s, last_emitted and flags (and the half-life
// where counters do not share one) and writes nothing but literal counters
// (converted by the scalar step) and its candidates' in-flight marks:
//   rate:   s / 2^((now - L)/h), below epsilon -> 0; half-life 0 -> s.
//   gate:   emission_decision on that rate.
// With a shared half-life the divisor is one number, computed once by the
// scalar forward_scale; otherwise 2^x per lane comes from a short polynomial
// (round, degree-11 polynomial, exponent add), about 1e-15 relative error.
// The gate in vector form only sorts lanes: a lane whose counter emitted
// before and whose rate lies well inside the quiet band (two products, three
// comparisons) is suppressed by every row of the gate; every other lane that
// might be a candidate is marked in a bit mask, and the scalar
// emission_decision decides it, so the decisions are those of the reference,
// threshold ties included. The tick runs in blocks of 256 counters: pass 1
// computes rates and stores the masks without branching on them, pass 2
// walks the set bits while the block's lines are still in L1.

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
#include "math/counter_math.h"
#include "math/forward_math.h"
#include "util/prefetch.h"
#include "util/try_append.h"

HWY_BEFORE_NAMESPACE();
namespace heatkit {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 2^-h for h in [-64, 64] (callers clamp h into that range first).
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
// the vector's end pointer through memory for every candidate. When `out`
// cannot grow (no memory) the sink drops what it holds and whatever comes
// after, and says so (lost()): the pass goes on over every counter.
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
    if (!lost_) lost_ = !try_append(out_, buffer_, buffer_ + used_);
    used_ = 0;
  }
  bool lost() const { return lost_; }

 private:
  static constexpr std::size_t kBlock = 256;
  std::vector<Candidate>& out_;
  std::size_t used_ = 0;
  bool lost_ = false;
  Candidate buffer_[kBlock];
};

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

// The lane offsets of the bits set in `word`, which holds the mask bytes of
// eight vectors of kLanes lanes (bit j of byte b: lane b * kLanes + j),
// `first` being the offset of the word's first lane; written to `to`, their
// count returned. Branch-free up to eight bits (at 5% candidates a word of
// eight AVX-512 vectors holds three on average): eight offsets are written
// whatever the count, so `to` must have room for eight past the last one.
template <std::size_t kLanes>
HWY_INLINE std::size_t LaneOffsets(std::uint64_t word, std::uint32_t first, std::uint32_t* to) {
  const auto count = static_cast<std::size_t>(__builtin_popcountll(word));
  const auto offset_of_lowest = [first](std::uint64_t w) {
    // The top bit keeps ctz defined on an empty word; its offset is never counted.
    const auto b = static_cast<std::uint32_t>(__builtin_ctzll(w | (std::uint64_t{1} << 63)));
    return first + (b >> 3) * static_cast<std::uint32_t>(kLanes) + (b & 7u);
  };
  for (std::size_t k = 0; k < 8; ++k) {
    to[k] = offset_of_lowest(word);
    word &= word - 1;
  }
  for (std::size_t k = 8; HWY_UNLIKELY(k < count); ++k) {
    to[k] = offset_of_lowest(word);
    word &= word - 1;
  }
  return count;
}

// The fast forward tick (math/forward_math.h, forward_tick_rate and the gate)
// over columns whose frame allows it (the store checks forward_tick_allowed
// and moves the frame on afterwards). kSharedHalfLife: p.shared_half_life
// stands for the half-life column (see TickParams), which is then not read.
template <bool kSharedHalfLife>
bool TickColumnsWith(const CounterColumns& columns, const TickParams& p,
                     std::vector<Candidate>& out) {
  // A local copy: the rare paths store through a u8 pointer (which may alias
  // anything) and grow `out`, and must not force reloads of the columns.
  const CounterColumns c = columns;
  const ForwardFrame f = *c.frame;
  const hn::ScalableTag<double> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::RebindToUnsigned<decltype(d)> du;
  constexpr std::size_t N = hn::MaxLanes(decltype(d)());
  static_assert(N >= 1 && N <= 8, "a vector's mask fits in one byte");
  const std::size_t n = c.size;

  // With a shared half-life, every lane's value divides by one scale: the
  // scalar forward_scale, as the store's reads decode it.
  const double shared_scale = kSharedHalfLife ? forward_scale(p.now, f.landmark, p.shared_half_life) : 0.0;
  const auto v_shared_inverse = hn::Set(d, 1.0 / shared_scale);
  // (now - landmark), exact while below 2^53 ns; x = it / half-life <= 32
  // for every half-life > 0 (forward_tick_allowed).
  const auto v_since_landmark = hn::Set(d, static_cast<double>(elapsed_ns(f.landmark, p.now)));
  const auto v_zero = hn::Zero(d);
  const auto v_eps = hn::Set(d, kRateEpsilon);
  const auto v_max_x = hn::Set(d, kMaxForwardHalfLives);
  const auto v_has = hn::Set(du, std::uint64_t{kHasEmitted});
  // The quiet band: a counter that has emitted, whose rate lies in
  // (last_emitted * quiet_low, last_emitted * quiet_high), is suppressed by
  // every row of the gate: both quotients of the ratio test are below the
  // ratio by a margin of 1e-12 relative, far above the rounding of the
  // products, quotients and of these bounds themselves. prev > v_normal_min
  // keeps prev * quiet_low a normal number (no lost precision). A ratio <= 1
  // gives an empty band (every positive rate emits), NaN bounds never match.
  const auto v_quiet_low = hn::Set(d, (1.0 + 1e-12) / p.ratio);
  const auto v_quiet_high = hn::Set(d, p.ratio * (1.0 - 1e-12));
  const auto v_normal_min =
      hn::Set(d, 4.0 * std::numeric_limits<double>::min() * std::max(1.0, p.ratio));
  CandidateSink sink(out);

  // Blocks of kBlockLanes counters (4.3 KB of columns: they stay in L1 until
  // the block's candidates are decided); the block's rates at `now` go to
  // `rates` (nothing is written back to the columns). One mask byte per
  // vector, read back eight at a time as words; StoreMaskBits writes 8
  // bytes, LaneOffsets writes 8 offsets whatever it finds: the arrays have
  // slack.
  constexpr std::size_t kBlockLanes = 256;
  constexpr std::size_t kBlockVectors = kBlockLanes / N;
  std::uint64_t mask_words[kBlockVectors / 8 + 2];
  auto* const masks = reinterpret_cast<std::uint8_t*>(mask_words);
  std::uint32_t offsets[kBlockLanes + 8];
  HWY_ALIGN double rates[kBlockLanes];
  constexpr std::size_t kPrefetchLanes = 2 * kBlockLanes;

  std::size_t i = 0;
  while (i + N <= n) {
    const std::size_t block = i;
    const std::size_t vectors = std::min(kBlockVectors, (n - i) / N);
    // Pass 1 over the block: rates, and one byte per vector with a bit for
    // every lane that may be a candidate, stored without a branch on it.
    for (std::size_t v = 0; v < vectors; ++v, i += N) {
      // Two blocks ahead: the hardware prefetcher alone lets the stream
      // stall while pass 2 decides a block's candidates.
      prefetch_for_read(c.rate + i + kPrefetchLanes);
      prefetch_for_read(c.last_emitted + i + kPrefetchLanes);
      auto s = hn::LoadU(d, c.rate + i);
      // Literal counters (sign bit set, -0.0 included): decayed and stored
      // forward by the scalar step, their only write. Rare.
      if (HWY_UNLIKELY(!hn::AllFalse(di, hn::Lt(hn::BitCast(di, s), hn::Zero(di))))) {
        for (std::size_t j = i; j < i + N; ++j) {
          if (!is_literal(c.rate[j])) continue;
          const std::int64_t half_life = kSharedHalfLife ? p.shared_half_life : c.half_life[j];
          forward_tick_rate(c.rate[j], c.last_update[j], half_life, p.now, shared_scale, f);
        }
        s = hn::LoadU(d, c.rate + i);
      }
      hn::Vec<decltype(d)> r;
      if constexpr (kSharedHalfLife) {
        r = hn::Mul(s, v_shared_inverse);
      } else {
        // 2^x per lane (a half-life 0 lane keeps s: no decay).
        const auto hl = hn::LoadU(di, c.half_life + i);
        const auto x = hn::Min(hn::Div(v_since_landmark, hn::ConvertTo(d, hl)), v_max_x);
        const auto no_decay = hn::RebindMask(d, hn::Eq(hl, hn::Zero(di)));
        r = hn::IfThenElse(no_decay, s, hn::Div(s, Exp2Neg(d, hn::Neg(x))));
      }
      r = hn::IfThenZeroElse(hn::Lt(r, v_eps), r);
      hn::Store(r, d, rates + v * N);

      // A lane that has emitted is a possible candidate unless quiet; one
      // that has not, when its rate is positive. In steady state every lane
      // has emitted.
      const auto prev = hn::LoadU(d, c.last_emitted + i);
      const auto quiet = hn::And(hn::And(hn::Gt(r, hn::Mul(prev, v_quiet_low)),
                                         hn::Lt(r, hn::Mul(prev, v_quiet_high))),
                                 hn::Gt(prev, v_normal_min));
      hn::Mask<decltype(d)> possible;
      if (HWY_LIKELY(AllHaveEmitted<N>(c.flags + i))) {
        possible = hn::Not(quiet);
      } else {
        const auto has = hn::RebindMask(d, hn::Ne(hn::And(LoadFlags(d, c.flags + i), v_has), hn::Zero(du)));
        possible = hn::Or(hn::AndNot(has, hn::Gt(r, v_zero)), hn::AndNot(quiet, has));
      }
      hn::StoreMaskBits(d, possible, masks + v);
    }
    if (!p.enabled) continue;

    // Pass 2 over the block's possible candidates, their lines still in L1:
    // the scalar gate decides each one (so decisions are the reference's,
    // threshold ties included). A branch per vector on "any candidate here"
    // instead mispredicts on a third of the vectors at 5% candidates, and
    // each mispredict also throws away the loads in flight.
    std::memset(masks + vectors, 0, 8);  // the last word's bytes past the block
    const std::size_t words = (vectors + 7) / 8;
    std::size_t possible_lanes = 0;
    for (std::size_t w = 0; w < words; ++w) {
      possible_lanes += static_cast<std::size_t>(__builtin_popcountll(mask_words[w]));
    }
    // The gate for one possible candidate.
    const auto decide = [&](std::size_t slot) {
      const std::uint8_t flags = c.flags[slot];
      if (p.skip_in_flight && (flags & kInFlight)) return;
      const double r = rates[slot - block];
      const Decision dec =
          emission_decision(r, (flags & kHasEmitted) != 0, c.last_emitted[slot], true, p.ratio);
      if (dec == Decision::kSuppress) return;
      if (p.mark_in_flight) c.flags[slot] = static_cast<std::uint8_t>(flags | kInFlight);
      sink.push(static_cast<std::uint32_t>(slot), dec, dec == Decision::kEmit ? r : 0.0);
    };
    if (HWY_UNLIKELY(possible_lanes == vectors * N)) {
      // Every lane may be a candidate: after a quiet gap every counter
      // withdraws, and whole vectors of sure withdrawals go in one run.
      for (std::size_t v = 0, at = block; v < vectors; ++v, at += N) {
        const auto withdraw = hn::And(hn::Eq(hn::Load(d, rates + v * N), v_zero),
                                      hn::Gt(hn::LoadU(d, c.last_emitted + at), v_zero));
        if (hn::AllTrue(d, withdraw) && AllHaveEmitted<N>(c.flags + at) &&
            (!p.skip_in_flight || NoneInFlight<N>(c.flags + at))) {
          sink.push_withdrawals(static_cast<std::uint32_t>(at), N);
          if (p.mark_in_flight) MarkInFlight<N>(c.flags + at);
        } else {
          for (std::size_t j = at; j < at + N; ++j) decide(j);
        }
      }
      continue;
    }
    std::size_t count = 0;
    for (std::size_t w = 0; w < words; ++w) {
      count += LaneOffsets<N>(mask_words[w], static_cast<std::uint32_t>(w * 8 * N), offsets + count);
    }
    for (std::size_t k = 0; k < count; ++k) decide(block + offsets[k]);
  }
  // Tail: fewer than one vector left; the scalar step itself.
  for (; i < n; ++i) {
    const std::int64_t half_life = kSharedHalfLife ? p.shared_half_life : c.half_life[i];
    double r = 0.0;
    const Decision dec =
        forward_tick_one(c.rate[i], c.last_update[i], half_life, c.last_emitted[i], c.flags[i], r, p, shared_scale, f);
    if (dec == Decision::kSuppress) continue;
    sink.push(static_cast<std::uint32_t>(i), dec, dec == Decision::kEmit ? r : 0.0);
  }
  sink.flush();
  return !sink.lost();
}

// False when `out` could not hold every candidate; every counter is ticked.
inline bool TickColumns(const CounterColumns& columns, const TickParams& p,
                        std::vector<Candidate>& out) {
  if (p.shared_half_life > 0) return TickColumnsWith<true>(columns, p, out);
  return TickColumnsWith<false>(columns, p, out);
}

// forward_prunable over the columns: lanes that have emitted at <= 0 are
// tested one by one (rare in steady state; every lane after a mass
// withdrawal, when the scale of the last tick, cached per half-life, makes
// each a division).
inline void CollectPrunableColumns(const CounterColumns& c, std::vector<std::uint32_t>& out) {
  const ForwardFrame f = *c.frame;
  const hn::ScalableTag<double> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const std::size_t N = hn::Lanes(d);
  const std::size_t n = c.size;
  const auto v_zero = hn::Zero(d);
  const auto v_has = hn::Set(du, std::uint64_t{kHasEmitted});
  std::int64_t cached_half_life = -1;
  double cached_scale = 0.0;
  const auto test = [&](std::size_t j) {
    const std::int64_t half_life = c.half_life[j];
    if (half_life != cached_half_life) {
      cached_half_life = half_life;
      cached_scale = prune_scale(half_life, f);
    }
    if (forward_prunable_scaled(c.rate[j], (c.flags[j] & kHasEmitted) != 0, c.last_emitted[j],
                                cached_scale)) {
      out.push_back(static_cast<std::uint32_t>(j));
    }
  };
  std::size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto prev = hn::LoadU(d, c.last_emitted + i);
    const auto has = hn::RebindMask(d, hn::Ne(hn::And(LoadFlags(d, c.flags + i), v_has), hn::Zero(du)));
    const auto maybe = hn::And(has, hn::Le(prev, v_zero));
    if (HWY_LIKELY(hn::AllFalse(d, maybe))) continue;
    std::uint64_t bits = MaskBits(d, maybe);
    while (bits != 0) {
      test(i + static_cast<std::size_t>(__builtin_ctzll(bits)));
      bits &= bits - 1;
    }
  }
  for (; i < n; ++i) test(i);
}

}  // namespace HWY_NAMESPACE
}  // namespace heatkit
HWY_AFTER_NAMESPACE();

#endif  // HEATKIT_KERNELS_HIGHWAY_INL_H_
