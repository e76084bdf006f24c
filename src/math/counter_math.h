// The per-counter math of SEMANTICS.md: decay, bump, the emission gate and the
// prune predicate. One source of truth for every backend: the scalar reference,
// the CUDA kernels and the Thrust functors call these functions as they are;
// the Highway kernels are the vector form of the same steps.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include <heatkit/decision.h>

#if defined(__CUDACC__)
#define HEATKIT_HD __host__ __device__
#define HEATKIT_HD_FORCE_INLINE __host__ __device__ __forceinline__
#else
#define HEATKIT_HD
#define HEATKIT_HD_FORCE_INLINE [[gnu::always_inline]] inline
#endif
// HEATKIT_HD_FORCE_INLINE: the decay every bump runs. GCC inlines it on its
// own in small translation units but, past its growth limits in a large one
// (the benchmark's), called it out of line inside the batch bump loop.

namespace heatkit {

// f64 epsilon (2^-52): decayed rates below it snap to zero.
inline constexpr double kRateEpsilon = 2.220446049250313e-16;
// Past this many half-lives the rate is zero (0.5^64 is about 5.4e-20).
inline constexpr double kMaxHalfLives = 64.0;

// Bits of the per-counter flags column.
enum CounterFlag : std::uint8_t {
  kHasEmitted = 1u << 0,  // last_emitted holds a value (Rust's Some)
  kInFlight = 1u << 1,    // a tick returned it; commit/rollback not yet seen
  kLive = 1u << 2,        // the slot holds a counter (host bookkeeping only)
};

// Elapsed nanoseconds from `last` to `now`, saturating at zero when `now` is
// earlier. Unsigned arithmetic so any pair of int64 instants is defined.
HEATKIT_HD inline std::uint64_t elapsed_ns(std::int64_t last, std::int64_t now) {
  return now > last ? static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(last) : 0u;
}

// Number of half-lives between `last` and `now` (half_life_ns > 0).
HEATKIT_HD inline double half_lives(std::int64_t last, std::int64_t now, std::int64_t half_life_ns) {
  return static_cast<double>(elapsed_ns(last, now)) / static_cast<double>(half_life_ns);
}

// Applies a decay factor 0.5^h to `rate` with the epsilon clamp. Split out so
// vector and device code that computes the factor once per (dt, half-life)
// shares the clamp with the scalar path.
HEATKIT_HD inline double apply_decay_factor(double rate, double factor) {
  const double decayed = rate * factor;
  return decayed < kRateEpsilon ? 0.0 : decayed;
}

// 2^(j/64) for j = 0 .. 63, correctly rounded: decay_factor's table.
inline constexpr double kExp2Sixtyfourths[64] = {
    0x1.0000000000000p+0, 0x1.02c9a3e778061p+0, 0x1.059b0d3158574p+0, 0x1.0874518759bc8p+0,
    0x1.0b5586cf9890fp+0, 0x1.0e3ec32d3d1a2p+0, 0x1.11301d0125b51p+0, 0x1.1429aaea92de0p+0,
    0x1.172b83c7d517bp+0, 0x1.1a35beb6fcb75p+0, 0x1.1d4873168b9aap+0, 0x1.2063b88628cd6p+0,
    0x1.2387a6e756238p+0, 0x1.26b4565e27cddp+0, 0x1.29e9df51fdee1p+0, 0x1.2d285a6e4030bp+0,
    0x1.306fe0a31b715p+0, 0x1.33c08b26416ffp+0, 0x1.371a7373aa9cbp+0, 0x1.3a7db34e59ff7p+0,
    0x1.3dea64c123422p+0, 0x1.4160a21f72e2ap+0, 0x1.44e086061892dp+0, 0x1.486a2b5c13cd0p+0,
    0x1.4bfdad5362a27p+0, 0x1.4f9b2769d2ca7p+0, 0x1.5342b569d4f82p+0, 0x1.56f4736b527dap+0,
    0x1.5ab07dd485429p+0, 0x1.5e76f15ad2148p+0, 0x1.6247eb03a5585p+0, 0x1.6623882552225p+0,
    0x1.6a09e667f3bcdp+0, 0x1.6dfb23c651a2fp+0, 0x1.71f75e8ec5f74p+0, 0x1.75feb564267c9p+0,
    0x1.7a11473eb0187p+0, 0x1.7e2f336cf4e62p+0, 0x1.82589994cce13p+0, 0x1.868d99b4492edp+0,
    0x1.8ace5422aa0dbp+0, 0x1.8f1ae99157736p+0, 0x1.93737b0cdc5e5p+0, 0x1.97d829fde4e50p+0,
    0x1.9c49182a3f090p+0, 0x1.a0c667b5de565p+0, 0x1.a5503b23e255dp+0, 0x1.a9e6b5579fdbfp+0,
    0x1.ae89f995ad3adp+0, 0x1.b33a2b84f15fbp+0, 0x1.b7f76f2fb5e47p+0, 0x1.bcc1e904bc1d2p+0,
    0x1.c199bdd85529cp+0, 0x1.c67f12e57d14bp+0, 0x1.cb720dcef9069p+0, 0x1.d072d4a07897cp+0,
    0x1.d5818dcfba487p+0, 0x1.da9e603db3285p+0, 0x1.dfc97337b9b5fp+0, 0x1.e502ee78b3ff6p+0,
    0x1.ea4afa2a490dap+0, 0x1.efa1bee615a27p+0, 0x1.f50765b6e4540p+0, 0x1.fa7c1819e90d8p+0,
};

// 0.5^h for h in [0, 64] (callers check h first). On the host, in a few instructions instead of a
// call of exp2 (which took a sixth of a batched bump's instructions and, being
// a call, made the caller reload what it keeps in memory): -h = k/64 + r with
// k an integer and |r| <= 1/128, so 2^-h = 2^(k>>6) * 2^((k&63)/64) * e^(r ln2),
// a table entry scaled by an exponent add, times a degree-5 Taylor series
// whose remainder is below 4e-17. Exact at whole h (r = 0, table entry 1),
// within 1.5 ulp of the exact value elsewhere, and never increasing in h
// (tests/unit/counter_test.cc); glibc's exp2 is within 0.51 ulp, far inside
// SEMANTICS.md's 1e-12. Devices keep their exp2 (the table would need device
// memory of its own).
HEATKIT_HD_FORCE_INLINE double decay_factor(double h) {
#if defined(__CUDA_ARCH__)
  return exp2(-h);
#else
  constexpr double kRoundToInteger = 0x1.8p52;  // x + this - this rounds x to an integer (|x| < 2^51)
  constexpr double kLn2Over64 = 0x1.62e42fefa39efp-7;
  const double scaled = h * -64.0;  // exact
  const double k_real = (scaled + kRoundToInteger) - kRoundToInteger;
  const double r = (scaled - k_real) * kLn2Over64;  // the subtraction is exact
  // e^(r ln2) - 1, applied last as a small correction of the table entry
  // (entry + entry * series rounds closer than entry * (1 + series)).
  const double series = r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))));
  const auto k = static_cast<std::int64_t>(k_real);  // in [-4096, 0]
  const double entry = kExp2Sixtyfourths[k & 63];
  const double mantissa = entry + entry * series;
  // Times 2^(k >> 6) (k >> 6 in [-64, 0]): add to the exponent field; the
  // result stays a normal number.
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(mantissa) +
                               (static_cast<std::uint64_t>(k >> 6) << 52));
#endif
}

// The decay of decayed_rate and bumped_rate once a non-zero half-life is
// known: 64 half-lives or more clear the rate, otherwise the factor applies.
HEATKIT_HD_FORCE_INLINE double decay_by_half_life(double rate, std::int64_t last, std::int64_t now,
                                                  std::int64_t half_life_ns) {
  const double h = half_lives(last, now, half_life_ns);
  if (h > kMaxHalfLives) return 0.0;
  return apply_decay_factor(rate, decay_factor(h));
}

// The rate `rate` decays to between `last` and `now` (SEMANTICS.md "decay_to").
// The caller sets last_update = now afterwards, whatever this returns.
HEATKIT_HD_FORCE_INLINE double decayed_rate(double rate, std::int64_t last, std::int64_t now,
                                            std::int64_t half_life_ns) {
  if (half_life_ns == 0 || rate == 0.0) return rate;
  return decay_by_half_life(rate, last, now, half_life_ns);
}

// The rate after a bump (SEMANTICS.md "bump"): decayed_rate(...) + 1, the same
// value with one test fewer on the path every bump takes. A zero rate needs
// no test of its own here: it decays to zero all the same.
HEATKIT_HD_FORCE_INLINE double bumped_rate(double rate, std::int64_t last, std::int64_t now,
                                           std::int64_t half_life_ns) {
  return (half_life_ns == 0 ? rate : decay_by_half_life(rate, last, now, half_life_ns)) + 1.0;
}

// The emission gate (net-mesh `should_emit_heat`), rows in SEMANTICS.md order.
// `ratio` is the policy's f32 ratio widened to f64.
HEATKIT_HD inline Decision emission_decision(double rate, bool has_emitted, double last_emitted,
                                             bool enabled, double ratio) {
  if (!enabled) return Decision::kSuppress;
  if (!std::isfinite(rate) || rate < 0.0) return Decision::kSuppress;
  if (!has_emitted) return rate > 0.0 ? Decision::kEmit : Decision::kSuppress;
  const double prev = last_emitted;
  if (rate == 0.0) return prev > 0.0 ? Decision::kWithdraw : Decision::kSuppress;
  if (prev <= 0.0) return Decision::kEmit;
  return (rate / prev >= ratio || prev / rate >= ratio) ? Decision::kEmit : Decision::kSuppress;
}

// A counter that can never change state again: fully decayed and already
// withdrawn (or emitted at <= 0). Commit prunes these.
HEATKIT_HD inline bool is_prunable(double rate, bool has_emitted, double last_emitted) {
  return rate <= 0.0 && has_emitted && last_emitted <= 0.0;
}

struct ForwardFrame;  // math/forward_math.h

// Raw column pointers of a counter store, valid on the side (host or device)
// that owns them. Kernels read and write through these; they own nothing.
// `frame` is set (on the host) for a store whose rate column holds forward
// encodings (math/forward_math.h); nullptr: the literal rate.
struct CounterColumns {
  double* rate = nullptr;
  std::int64_t* last_update = nullptr;
  double* last_emitted = nullptr;
  std::int64_t* half_life = nullptr;
  std::uint8_t* flags = nullptr;
  std::size_t size = 0;
  ForwardFrame* frame = nullptr;
};

// Inputs of one tick pass.
struct TickParams {
  std::int64_t now = 0;
  bool enabled = true;
  double ratio = 2.0;            // emit_threshold_ratio widened to f64
  bool skip_in_flight = false;   // in-flight tracking on: skip marked counters
  bool mark_in_flight = false;   // ... and mark every returned one
  // > 0: the half-life of every counter in the store, known to the caller
  // (a registry whose counters all share one), cleared slots aside: they
  // are at rate 0 (s = 0), which stays 0 under any half-life. A kernel may
  // use it instead of reading the half-life column: the same results, 8 of
  // the bytes per counter a tick moves. 0: read the column. (A counter at
  // rate 0 may not be left out: a forward counter whose rate snapped to 0
  // keeps a non-zero s.) The Highway kernel and the Thrust and CUDA forward
  // passes use it; the scalar reference reads the column.
  std::int64_t shared_half_life = 0;
};

// One tick candidate: the slot, what to do, and the rate to carry (Emit only).
struct Candidate {
  std::uint32_t slot = 0;
  Decision kind = Decision::kSuppress;
  double rate = 0.0;
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

// The tick's gate for a counter already decayed to p.now: Suppress when it is
// in flight and tracking skips those, else the emission gate. Pure: it marks
// nothing, so a device pass may evaluate it twice.
HEATKIT_HD inline Decision tick_gate(double rate, std::uint8_t flags, double last_emitted,
                                     const TickParams& p) {
  if (p.skip_in_flight && (flags & kInFlight)) return Decision::kSuppress;
  return emission_decision(rate, (flags & kHasEmitted) != 0, last_emitted, p.enabled, p.ratio);
}

// The whole per-counter step of a tick: decay to `now`, then (unless skipped
// for being in flight) the gate. Returns the decision and leaves the decayed
// rate in `rate`; marks in flight when asked and the decision is not Suppress.
HEATKIT_HD inline Decision tick_one(double& rate, std::int64_t& last_update, double last_emitted,
                                    std::int64_t half_life_ns, std::uint8_t& flags,
                                    const TickParams& p) {
  rate = decayed_rate(rate, last_update, p.now, half_life_ns);
  last_update = p.now;
  const Decision d = tick_gate(rate, flags, last_emitted, p);
  if (d != Decision::kSuppress && p.mark_in_flight) flags |= kInFlight;
  return d;
}

}  // namespace heatkit
