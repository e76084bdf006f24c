// The per-counter math of SEMANTICS.md: decay, bump, the emission gate and the
// prune predicate. One source of truth for every backend: the scalar reference,
// the CUDA kernels and the Thrust functors call these functions as they are;
// the Highway kernels are the vector form of the same steps.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__CUDACC__)
#define HEATKIT_HD __host__ __device__
#else
#define HEATKIT_HD
#endif

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

// What the gate decided for one counter. Values are stable: candidate lists
// and device buffers store them as bytes.
enum class Decision : std::uint8_t { kSuppress = 0, kEmit = 1, kWithdraw = 2 };

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

// 0.5^h for h in [0, 64].
HEATKIT_HD inline double decay_factor(double h) { return std::exp2(-h); }

// The decay of decayed_rate and bumped_rate once a non-zero half-life is
// known: 64 half-lives or more clear the rate, otherwise the factor applies.
HEATKIT_HD inline double decay_by_half_life(double rate, std::int64_t last, std::int64_t now,
                                            std::int64_t half_life_ns) {
  const double h = half_lives(last, now, half_life_ns);
  if (h > kMaxHalfLives) return 0.0;
  return apply_decay_factor(rate, decay_factor(h));
}

// The rate `rate` decays to between `last` and `now` (SEMANTICS.md "decay_to").
// The caller sets last_update = now afterwards, whatever this returns.
HEATKIT_HD inline double decayed_rate(double rate, std::int64_t last, std::int64_t now,
                                      std::int64_t half_life_ns) {
  if (half_life_ns == 0 || rate == 0.0) return rate;
  return decay_by_half_life(rate, last, now, half_life_ns);
}

// The rate after a bump (SEMANTICS.md "bump"): decayed_rate(...) + 1, the same
// value with one test fewer on the path every bump takes. A zero rate needs
// no test of its own here: it decays to zero all the same.
HEATKIT_HD inline double bumped_rate(double rate, std::int64_t last, std::int64_t now,
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

// Raw column pointers of a counter store, valid on the side (host or device)
// that owns them. Kernels read and write through these; they own nothing.
struct CounterColumns {
  double* rate = nullptr;
  std::int64_t* last_update = nullptr;
  double* last_emitted = nullptr;
  std::int64_t* half_life = nullptr;
  std::uint8_t* flags = nullptr;
  std::size_t size = 0;
};

// Inputs of one tick pass.
struct TickParams {
  std::int64_t now = 0;
  bool enabled = true;
  double ratio = 2.0;            // emit_threshold_ratio widened to f64
  bool skip_in_flight = false;   // in-flight tracking on: skip marked counters
  bool mark_in_flight = false;   // ... and mark every returned one
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
