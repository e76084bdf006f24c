// HeatCounter (SEMANTICS.md "Counter"): the seed's tests under their own names,
// the contract's edge cases, and the per-counter math of math/counter_math.h.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "store/heat_counter.h"
#include "math/counter_math.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::t0;
using namespace std::chrono_literals;

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// A counter holding `rate` at `at`, built through the store-snapshot path
// (there is no other way to reach rates like 2^60 without 2^60 bumps).
HeatCounter counter_with_rate(double rate, Duration half_life, Instant at) {
  CounterState s;
  s.rate = rate;
  s.last_update = to_ns(at);
  s.half_life = to_ns(half_life);
  return HeatCounter::from_state(s);
}

// ---- The seed's HeatCounter tests ----

TEST(HeatCounter, fresh_counter_is_zero) {
  const HeatCounter c(60s, t0());
  EXPECT_EQ(c.rate(), 0.0);
  EXPECT_EQ(c.last_emitted(), std::nullopt);
}

TEST(HeatCounter, bump_adds_one_when_no_decay) {
  const Instant base = t0();
  HeatCounter c(60s, base);
  c.bump(base);
  EXPECT_NEAR(c.rate(), 1.0, 1e-9);
  c.bump(base);
  EXPECT_NEAR(c.rate(), 2.0, 1e-9);
}

TEST(HeatCounter, one_half_life_decays_rate_by_half) {
  const Instant base = t0();
  const Duration half = 60s;
  HeatCounter c(half, base);
  for (int i = 0; i < 4; ++i) c.bump(base);
  c.decay_to(base + half);
  EXPECT_NEAR(c.rate(), 2.0, 1e-6) << "rate after one half-life";
  c.decay_to(base + half * 2);
  EXPECT_NEAR(c.rate(), 1.0, 1e-6);
  c.decay_to(base + half * 3);
  EXPECT_NEAR(c.rate(), 0.5, 1e-6);
}

TEST(HeatCounter, long_elapse_clamps_to_zero) {
  const Instant base = t0();
  const Duration half = 60s;
  HeatCounter c(half, base);
  c.bump(base);
  c.decay_to(base + half * 100);  // past the 64 half-life clamp
  EXPECT_EQ(c.rate(), 0.0);
}

TEST(HeatCounter, bump_decays_then_adds) {
  const Instant base = t0();
  const Duration half = 60s;
  HeatCounter c(half, base);
  c.bump(base);
  c.bump(base);
  c.bump(base + half);  // 2.0 decays to 1.0, then +1
  EXPECT_NEAR(c.rate(), 2.0, 1e-6);
}

TEST(HeatCounter, record_emission_tracks_last) {
  const Instant base = t0();
  HeatCounter c(60s, base);
  c.bump(base);
  c.record_emission(1.5);
  EXPECT_EQ(c.last_emitted(), 1.5);
  c.record_withdrawal();
  EXPECT_EQ(c.last_emitted(), 0.0);
}

// ---- Edge cases of the contract ----

TEST(HeatCounter, fresh_counter_starts_at_creation_time_with_its_half_life) {
  const HeatCounter c(90s, t0());
  EXPECT_EQ(c.last_update(), t0());
  EXPECT_EQ(c.half_life(), Duration(90s));
}

TEST(HeatCounter, zero_half_life_never_decays_but_moves_last_update) {
  const Instant base = t0();
  HeatCounter c(Duration::zero(), base);
  c.bump(base);
  c.bump(base);
  c.decay_to(base + 1000h);
  EXPECT_EQ(c.rate(), 2.0);
  EXPECT_EQ(c.last_update(), base + 1000h);
  c.bump(base + 2000h);
  EXPECT_EQ(c.rate(), 3.0);
  EXPECT_EQ(c.last_update(), base + 2000h);
}

TEST(HeatCounter, zero_rate_only_moves_last_update) {
  const Instant base = t0();
  HeatCounter c(60s, base);
  c.decay_to(base + 5s);
  EXPECT_EQ(c.rate(), 0.0);
  EXPECT_EQ(c.last_update(), base + 5s);
  c.decay_to(base + 60s * 1000);
  EXPECT_EQ(c.rate(), 0.0);
  EXPECT_EQ(c.last_update(), base + 60s * 1000);
}

TEST(HeatCounter, exactly_64_half_lives_decays_without_clamping) {
  const Instant base = t0();
  const Duration half = 60s;
  // 2^60 * 0.5^64 = 2^-4: far above epsilon, so the value survives.
  HeatCounter big = counter_with_rate(std::ldexp(1.0, 60), half, base);
  big.decay_to(base + half * 64);
  EXPECT_EQ(big.rate(), std::ldexp(1.0, 60) * std::pow(0.5, 64));
  EXPECT_EQ(big.rate(), 0.0625);
  EXPECT_EQ(big.last_update(), base + half * 64);

  // A rate of 1 decays to 2^-64, under f64 epsilon: snapped to zero.
  HeatCounter one(half, base);
  one.bump(base);
  one.decay_to(base + half * 64);
  EXPECT_EQ(one.rate(), 0.0);
}

TEST(HeatCounter, just_over_64_half_lives_clamps_to_zero_whatever_the_rate) {
  const Instant base = t0();
  const Duration half = 60s;
  // 1e300 * 0.5^64 would be about 5e280; the clamp makes it zero anyway.
  for (const double rate : {1.0, std::ldexp(1.0, 60), 1e300}) {
    HeatCounter c = counter_with_rate(rate, half, base);
    c.decay_to(base + half * 64 + 1ns);
    EXPECT_EQ(c.rate(), 0.0) << "initial rate " << rate;
    EXPECT_EQ(c.last_update(), base + half * 64 + 1ns);
  }
}

TEST(HeatCounter, decayed_rate_under_epsilon_snaps_to_zero) {
  const Instant base = t0();
  const Duration half = 60s;
  // One half-life halves exactly: 2*eps -> eps (kept), just under -> zero.
  HeatCounter under = counter_with_rate(std::nextafter(2 * kEpsilon, 0.0), half, base);
  under.decay_to(base + half);
  EXPECT_EQ(under.rate(), 0.0);

  HeatCounter at = counter_with_rate(2 * kEpsilon, half, base);
  at.decay_to(base + half);
  EXPECT_EQ(at.rate(), kEpsilon);

  HeatCounter above = counter_with_rate(std::nextafter(2 * kEpsilon, 1.0), half, base);
  above.decay_to(base + half);
  EXPECT_EQ(above.rate(), std::nextafter(2 * kEpsilon, 1.0) / 2);
  EXPECT_GT(above.rate(), kEpsilon);
}

TEST(HeatCounter, epsilon_constant_is_f64_epsilon) {
  EXPECT_EQ(kRateEpsilon, kEpsilon);
  EXPECT_EQ(kRateEpsilon, 2.220446049250313e-16);
}

TEST(HeatCounter, earlier_now_is_zero_elapsed_and_moves_last_update_back) {
  const Instant base = t0();
  HeatCounter c(60s, base + 10s);
  c.bump(base + 10s);
  c.bump(base + 10s);
  c.decay_to(base);
  EXPECT_EQ(c.rate(), 2.0);
  EXPECT_EQ(c.last_update(), base);
  // Decay then counts from the earlier instant.
  c.decay_to(base + 60s);
  EXPECT_EQ(c.rate(), 1.0);
  // A bump at an earlier instant adds one without decaying.
  c.bump(base);
  EXPECT_EQ(c.rate(), 2.0);
  EXPECT_EQ(c.last_update(), base);
}

TEST(HeatCounter, negative_half_life_is_rejected_naming_half_life) {
  try {
    const HeatCounter c(-1ns, t0());
    FAIL() << "a negative half-life must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("half_life"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_half_life(-5s), std::invalid_argument);
  EXPECT_NO_THROW(check_half_life(Duration::zero()));
}

TEST(HeatCounter, from_state_round_trips_every_field) {
  CounterState s;
  s.rate = 3.25;
  s.last_update = 1234;
  s.has_emitted = true;
  s.last_emitted = -0.5;
  s.half_life = 777;
  const HeatCounter c = HeatCounter::from_state(s);
  EXPECT_EQ(c.rate(), 3.25);
  EXPECT_EQ(c.last_update(), instant_from_ns(1234));
  EXPECT_EQ(c.last_emitted(), -0.5);
  EXPECT_EQ(c.half_life(), Duration(777));
  s.has_emitted = false;
  EXPECT_EQ(HeatCounter::from_state(s).last_emitted(), std::nullopt);
}

// ---- math/counter_math.h directly ----

constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

TEST(CounterMath, elapsed_ns_is_the_forward_difference) {
  EXPECT_EQ(elapsed_ns(5, 12), 7u);
  EXPECT_EQ(elapsed_ns(-5, 5), 10u);
  EXPECT_EQ(elapsed_ns(7, 7), 0u);
}

TEST(CounterMath, elapsed_ns_saturates_at_zero_when_now_is_earlier) {
  EXPECT_EQ(elapsed_ns(12, 5), 0u);
  EXPECT_EQ(elapsed_ns(kMax, kMin), 0u);
  EXPECT_EQ(elapsed_ns(0, kMin), 0u);
}

TEST(CounterMath, elapsed_ns_spans_the_whole_int64_range_without_overflow) {
  EXPECT_EQ(elapsed_ns(kMin, kMax), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(elapsed_ns(kMin, 0), std::uint64_t{1} << 63);
  EXPECT_EQ(elapsed_ns(0, kMax), static_cast<std::uint64_t>(kMax));
  EXPECT_EQ(elapsed_ns(-1, kMax), std::uint64_t{1} << 63);
}

TEST(CounterMath, decayed_rate_leaves_zero_rate_and_zero_half_life_alone) {
  EXPECT_EQ(decayed_rate(0.0, 0, 1'000'000'000'000, 1), 0.0);
  EXPECT_EQ(decayed_rate(5.0, 0, kMax, 0), 5.0);
}

TEST(CounterMath, decayed_rate_halves_per_half_life) {
  EXPECT_EQ(decayed_rate(8.0, 100, 100 + 3 * 1000, 1000), 1.0);
  EXPECT_EQ(decayed_rate(8.0, 100, 100, 1000), 8.0);
  EXPECT_EQ(decayed_rate(8.0, 100, 50, 1000), 8.0) << "earlier now: no decay";
  EXPECT_DOUBLE_EQ(decayed_rate(1.0, 0, 500, 1000), std::sqrt(0.5));
}

TEST(CounterMath, decayed_rate_at_extreme_instants) {
  // 2^64-1 ns over 2^63-1 ns is 2.0 half-lives in f64: a quarter remains.
  EXPECT_EQ(decayed_rate(1e300, kMin, kMax, kMax), 0.25e300);
  // The same span over 1 ns half-lives is far past the clamp.
  EXPECT_EQ(decayed_rate(1e300, kMin, kMax, 1), 0.0);
  // Backwards across the whole range: nothing elapsed.
  EXPECT_EQ(decayed_rate(3.0, kMax, kMin, 1), 3.0);
}

TEST(CounterMath, decayed_rate_clamp_boundary) {
  const double big = std::ldexp(1.0, 60);
  EXPECT_EQ(decayed_rate(big, 0, 64, 1), std::ldexp(1.0, -4)) << "h == 64 is not clamped";
  EXPECT_EQ(decayed_rate(big, 0, 641, 10), 0.0) << "h == 64.1 is clamped";
  EXPECT_EQ(half_lives(0, 640, 10), kMaxHalfLives);
}

TEST(CounterMath, apply_decay_factor_snaps_below_epsilon) {
  EXPECT_EQ(apply_decay_factor(kEpsilon, 1.0), kEpsilon);
  EXPECT_EQ(apply_decay_factor(std::nextafter(kEpsilon, 0.0), 1.0), 0.0);
  EXPECT_EQ(apply_decay_factor(4.0, 0.25), 1.0);
}

TEST(CounterMath, decay_factor_is_half_to_the_h) {
  EXPECT_EQ(decay_factor(0.0), 1.0);
  EXPECT_EQ(decay_factor(1.0), 0.5);
  EXPECT_EQ(decay_factor(64.0), std::ldexp(1.0, -64));
  EXPECT_NEAR(decay_factor(0.5), std::sqrt(0.5), 1e-15);
  for (int whole = 0; whole <= 64; ++whole) {
    EXPECT_EQ(decay_factor(whole), std::ldexp(1.0, -whole)) << "h = " << whole;
  }
}

// decay_factor is a table and a short series, not exp2: within 1.5 ulp of
// the exact 0.5^h (long double's exp2l as the exact value) on random h over
// [0, 64], on tiny h, and at and around every table step ((j + 1/2) / 64,
// where the rounding of -64h changes entry), and never increasing in h.
TEST(CounterMath, decay_factor_is_within_one_and_a_half_ulp_and_never_increases) {
  double worst_ulps = 0.0;
  double worst_h = 0.0;
  const auto check = [&](double h) {
    const long double exact = exp2l(-static_cast<long double>(h));
    const double rounded = static_cast<double>(exact);
    const double ulp = std::nextafter(rounded, 2.0) - rounded;
    const auto ulps = static_cast<double>(std::fabs((static_cast<long double>(decay_factor(h)) - exact) / ulp));
    if (ulps > worst_ulps) {
      worst_ulps = ulps;
      worst_h = h;
    }
  };
  test::Rng rng(0xDECAF);
  const auto unit = [&] { return static_cast<double>(rng.engine() >> 11) * 0x1p-53; };  // [0, 1)
  for (int i = 0; i < 2'000'000; ++i) check(64.0 * unit());
  for (int i = 0; i < 200'000; ++i) check(1e-3 * unit());
  double previous = decay_factor(0.0);
  for (int step = 0; step < 64 * 64; ++step) {
    const double edge = (step + 0.5) / 64.0;
    for (const double h : {std::nextafter(edge, 0.0), edge, std::nextafter(edge, 64.0)}) check(h);
  }
  for (int i = 1; i <= 64 * 4096; ++i) {
    const double h = i / 4096.0;
    const double factor = decay_factor(h);
    ASSERT_LE(factor, previous) << "h = " << h;
    previous = factor;
    check(h);
  }
  EXPECT_LE(worst_ulps, 1.5) << "at h = " << worst_h;
}

// bumped_rate is the bump path's decayed_rate(...) + 1 with the zero-rate
// test left out: the same value on every input, zeros, NaN, infinities,
// zero half-lives, time going backwards and past 64 half-lives included.
TEST(CounterMath, bumped_rate_is_decayed_rate_plus_one_on_every_input) {
  const double rates[] = {0.0,  -0.0, 1.0, 0.5, 3e-16, kEpsilon, 1e300, 7.25,
                          std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::quiet_NaN(), -2.0};
  const std::int64_t half_lives[] = {0, 1, 1'000, 1'800'000'000'000, INT64_MAX};
  const std::int64_t instants[] = {INT64_MIN, -5, 0, 1, 999, 1'000, 64'000, 65'000, INT64_MAX};
  for (const double rate : rates) {
    for (const std::int64_t half_life : half_lives) {
      for (const std::int64_t last : instants) {
        for (const std::int64_t now : instants) {
          ASSERT_TRUE(test::same_double(bumped_rate(rate, last, now, half_life),
                                  decayed_rate(rate, last, now, half_life) + 1.0))
              << rate << " " << last << " " << now << " " << half_life;
        }
      }
    }
  }
  test::Rng rng(0xb0b);
  for (int i = 0; i < 100000; ++i) {
    const double rate = static_cast<double>(rng.below(1u << 20)) / 1024.0;
    const auto half_life = static_cast<std::int64_t>(rng.below(1'000'000) + 1);
    const auto last = static_cast<std::int64_t>(rng.below(1u << 30));
    const auto now = static_cast<std::int64_t>(rng.below(1u << 30));
    ASSERT_TRUE(test::same_double(bumped_rate(rate, last, now, half_life),
                            decayed_rate(rate, last, now, half_life) + 1.0))
        << rate << " " << last << " " << now << " " << half_life;
  }
}

TEST(CounterMath, is_prunable_needs_zero_rate_and_a_non_positive_emission) {
  EXPECT_TRUE(is_prunable(0.0, true, 0.0));
  EXPECT_TRUE(is_prunable(-0.0, true, -0.0));
  EXPECT_TRUE(is_prunable(0.0, true, -1.0));
  EXPECT_FALSE(is_prunable(0.0, false, 0.0)) << "never emitted";
  EXPECT_FALSE(is_prunable(0.0, true, 1.0)) << "withdrawal not yet committed";
  EXPECT_FALSE(is_prunable(kEpsilon, true, 0.0)) << "still warm";
  EXPECT_FALSE(is_prunable(std::nan(""), true, 0.0));
}

}  // namespace
}  // namespace heatkit
