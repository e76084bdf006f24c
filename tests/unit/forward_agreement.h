// Forward decay's columns (math/forward_math.h) for the tests of the device
// store and its kernels (cuda_test, tick_shapes_test): kernel_agreement.h's
// random literal columns in the domain a forward store holds, in forward
// form under a frame, and the tick of such columns against the scalar
// reference on the literal ones (SEMANTICS.md "Numbers": rates within
// 1e-12, everything else exact).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cuda/device_ops.h"
#include "kernel_agreement.h"
#include "kernels/scalar_kernels.h"
#include "math/forward_math.h"

namespace heatkit::test {

// The largest finite rate the tests give a forward store: its encoding, up
// to 2^64 times larger, stays finite (kernel_agreement.h's rates near the
// double's overflow are scaled down to it). No counter comes near: a bump
// adds one.
inline constexpr double kForwardDomainRate = 1e280;

// Literal columns a forward store can hold: a negative rate (which no
// counter holds, and whose -rate would read as a forward s) becomes its
// absolute value; a finite rate past kForwardDomainRate is scaled down, its
// last emission with it. With `writes_by`, a last_update past it is moved
// to it (the fast tick runs only when every write lies at or before its
// instant).
inline void to_forward_domain(Columns& c, std::optional<std::int64_t> writes_by = std::nullopt) {
  for (std::size_t i = 0; i < c.size; ++i) {
    if (c.rate[i] < 0.0) c.rate[i] = -c.rate[i];
    if (std::isfinite(c.rate[i]) && c.rate[i] > kForwardDomainRate) {
      c.rate[i] *= 1e-30;
      c.last_emitted[i] *= 1e-30;
    }
    if (writes_by && c.last_update[i] > *writes_by) c.last_update[i] = *writes_by;
  }
}

// Random columns whose counters at a non-zero rate all have kHalfLife; those
// at rate 0 keep other half-lives, which a tick told the shared half-life
// may not tell apart (s = 0 is 0 under any half-life).
inline Columns shared_half_life_columns(std::size_t n, std::uint64_t seed) {
  Columns c = random_columns(n, seed);
  Rng rng(seed + 0x5EED);
  const std::int64_t at_rate_zero[] = {0, kHalfLife, 3 * kHalfLife};
  for (std::size_t i = 0; i < n; ++i) {
    c.half_life[i] = c.rate[i] == 0.0 ? at_rate_zero[rng.below(3)] : kHalfLife;
  }
  return c;
}

inline Columns forward_domain_columns(std::size_t n, std::uint64_t seed, bool shared_half_life,
                                      std::optional<std::int64_t> writes_by = std::nullopt) {
  Columns c = shared_half_life ? shared_half_life_columns(n, seed) : random_columns(n, seed);
  to_forward_domain(c, writes_by);
  return c;
}

// A forward encoding of a counter written after `instant` (a write later
// than the relayout tick at `instant`) reads back within an ulp of its rate,
// where the literal tick keeps it exact: a last emission at exactly half or
// twice such a rate is a tie (SEMANTICS.md "Numbers"). Moves those last
// emissions off the threshold, for both sides of a comparison.
inline void move_off_ties_after(Columns& c, std::int64_t instant) {
  for (std::size_t i = 0; i < c.size; ++i) {
    if (c.last_update[i] > instant) c.last_emitted[i] *= 1.0 + 1e-9;
  }
}

// Literal columns [0, c.size) in forward form, in place: the frame of a
// store with landmark `landmark` and no tick yet, whose writes were the
// counters' last_update; each counter forward where that frame holds it
// (store_literal_state), literal otherwise. Returns the frame.
inline ForwardFrame encode_forward(Columns& c, std::int64_t landmark) {
  ForwardFrame f;
  f.landmark = landmark;
  f.started = true;
  for (std::size_t i = 0; i < c.size; ++i) {
    f.note_write(c.last_update[i]);
    if (c.half_life[i] > 0 && c.half_life[i] < f.shortest_half_life) f.shortest_half_life = c.half_life[i];
  }
  for (std::size_t i = 0; i < c.size; ++i) {
    gpu::store_literal_state(c.rate[i], c.last_update[i], c.half_life[i], c.rate[i], c.last_update[i], f);
  }
  return f;
}

// Forward columns [0, c.size) back to literal ones (forward_decode), in place.
inline void decode_forward(Columns& c, const ForwardFrame& f) {
  for (std::size_t i = 0; i < c.size; ++i) {
    const LiteralState d = forward_decode(c.rate[i], c.last_update[i], c.half_life[i], f);
    c.rate[i] = d.rate;
    c.last_update[i] = d.last_update;
  }
}

// Which tick of a forward store: the fast one (reading each half-life, or
// told TickParams::shared_half_life on columns that keep its promise), or
// the relayout.
enum class ForwardTickKind { kFast, kFastShared, kRelayout };

inline const char* name_of(ForwardTickKind k) {
  return k == ForwardTickKind::kFast ? "fast" : k == ForwardTickKind::kFastShared ? "fast shared" : "relayout";
}

// A forward store's tick under test: forward columns (in place), the frame
// before the tick (the test has chosen: forward_tick_allowed holds for the
// fast kinds, not for the relayout), the parameters; appends the
// candidates. The frame after it is the test's to compute.
using ForwardTickUnderTest =
    std::function<void(Columns&, const ForwardFrame&, const TickParams&, std::vector<Candidate>&)>;

// The tick under test against scalar::tick on random columns of every size
// in `sizes`, under every parameter variant (only enabled, ratio 2 above
// 100,000 slots): the literal columns ticked by the reference, the same in
// forward form (landmark 20 half-lives before the tick: the counters written
// earlier stay literal) by the tick under test, decoded under the frame
// after it. The relayout kind keeps writes after the tick's instant; the
// fast kinds move them to it.
inline void expect_forward_tick_matches_scalar(const ForwardTickUnderTest& tick,
                                               const std::vector<std::size_t>& sizes,
                                               ForwardTickKind kind) {
  const bool shared = kind == ForwardTickKind::kFastShared;
  const bool relayout = kind == ForwardTickKind::kRelayout;
  std::uint64_t seed = 7000 + 1000 * static_cast<std::uint64_t>(kind);
  for (const std::size_t n : sizes) {
    for (const TickParams& p : param_variants()) {
      if (n > 100'000 && (!p.enabled || p.ratio != 2.0)) continue;  // keep the big sizes few
      SCOPED_TRACE(std::string(name_of(kind)) + " n=" + std::to_string(n) +
                   " enabled=" + std::to_string(p.enabled) + " in_flight=" +
                   std::to_string(p.skip_in_flight) + " ratio=" + std::to_string(p.ratio));
      Columns want = forward_domain_columns(n, seed, shared,
                                            relayout ? std::nullopt : std::optional(p.now));
      ++seed;
      move_off_ties_after(want, p.now);
      Columns got = want;
      ForwardFrame before = encode_forward(got, p.now - 20 * kHalfLife);
      if (relayout && before.latest <= p.now) before.latest = p.now + 1;  // a write after the tick
      ASSERT_EQ(forward_tick_allowed(before, p.now), !relayout);
      TickParams told = p;
      if (shared) told.shared_half_life = kHalfLife;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      tick(got, before, told, got_out);
      ForwardFrame after = before;
      forward_after_tick(after, p.now, relayout);
      decode_forward(got, after);
      expect_columns_agree(want, got);
      expect_candidates_agree(want_out, got_out);
    }
  }
}

// A tick under test that takes literal columns and gives them back literal
// (a store's upload, tick and download) against scalar::tick, on random
// columns of every size in `sizes` in the forward domain (writes after the
// tick's instant kept: a store relayouts), under every parameter variant.
inline void expect_store_tick_matches_scalar(const TickUnderTest& tick,
                                             const std::vector<std::size_t>& sizes,
                                             bool writes_after_the_tick) {
  std::uint64_t seed = writes_after_the_tick ? 300 : 400;
  for (const std::size_t n : sizes) {
    for (const TickParams& p : param_variants()) {
      if (n > 100'000 && (!p.enabled || p.ratio != 2.0)) continue;
      SCOPED_TRACE("n=" + std::to_string(n) + " enabled=" + std::to_string(p.enabled) +
                   " in_flight=" + std::to_string(p.skip_in_flight) +
                   " ratio=" + std::to_string(p.ratio));
      Columns want = forward_domain_columns(
          n, seed++, false, writes_after_the_tick ? std::nullopt : std::optional(p.now));
      Columns got = want;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      tick(got, p, got_out);
      expect_columns_agree(want, got);
      expect_candidates_agree(want_out, got_out);
    }
  }
}

}  // namespace heatkit::test
