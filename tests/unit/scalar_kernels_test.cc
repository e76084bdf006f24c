// The scalar kernels (kernels/scalar_kernels.h), the reference every other
// backend is held to: tick against a loop over HeatCounter objects on random
// columns with every edge the contract names, collect_prunable against the
// seed's predicate; neither touches a sentinel slot past the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/scalar_kernels.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::Rng;
using test::same_double;

// Columns of `n` counters plus one sentinel slot past the end that the
// kernels must leave alone.
struct Columns {
  std::vector<double> rate, last_emitted;
  std::vector<std::int64_t> last_update, half_life;
  std::vector<std::uint8_t> flags;
  std::size_t n = 0;

  explicit Columns(std::size_t count)
      : rate(count + 1, 123.0),
        last_emitted(count + 1, 456.0),
        last_update(count + 1, 789),
        half_life(count + 1, 1),
        flags(count + 1, 0xF0),
        n(count) {}

  CounterColumns view() {
    return CounterColumns{rate.data(),      last_update.data(), last_emitted.data(),
                          half_life.data(), flags.data(),       n};
  }
  CounterState state(std::size_t i) const {
    return CounterState{rate[i],         last_update[i], (flags[i] & kHasEmitted) != 0,
                        last_emitted[i], half_life[i],   (flags[i] & kInFlight) != 0};
  }
  bool sentinel_intact() const {
    return rate[n] == 123.0 && last_emitted[n] == 456.0 && last_update[n] == 789 &&
           half_life[n] == 1 && flags[n] == 0xF0;
  }
};

constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr double kEps = std::numeric_limits<double>::epsilon();

// Random columns mixing ordinary values with every edge the contract names.
Columns random_columns(std::size_t n, std::int64_t now, Rng& rng) {
  static const double kRates[] = {0.0,  -0.0,         std::numeric_limits<double>::denorm_min(),
                                  kEps, kEps / 2,     2 * kEps,
                                  1.0,  2.0,          1e300,
                                  -1.0, std::nan(""), std::numeric_limits<double>::infinity()};
  static const std::int64_t kHalfLives[] = {0, 1, 1000, 60'000'000'000, 1'800'000'000'000, kI64Max};
  static const double kEmitted[] = {0.0, -0.0, -1.0, 0.5, 1.0, 2.0, 4.0, 1e300};
  Columns c(n);
  for (std::size_t i = 0; i < n; ++i) {
    c.rate[i] = rng.chance(50) ? rng.pick(kRates) : static_cast<double>(rng.below(1000)) / 7.0;
    c.half_life[i] =
        rng.chance(70) ? rng.pick(kHalfLives) : static_cast<std::int64_t>(rng.below(5'000'000'000));
    // How far back last_update lies: none, one half-life, exactly 64 of
    // them, a little in the future, or a random span.
    const std::int64_t h = std::max<std::int64_t>(c.half_life[i], 1);
    const bool fits = h <= kI64Max / 65;
    const std::int64_t h64 = fits ? 64 * h : h;  // exactly 64 half-lives where it fits
    const std::int64_t offsets[] = {
        0, 1, h, h64, fits ? h64 + 1 : h, -5, static_cast<std::int64_t>(rng.below(1u << 30))};
    std::int64_t last = 0;
    if (rng.chance(5) || __builtin_sub_overflow(now, rng.pick(offsets), &last)) last = kI64Min;
    c.last_update[i] = last;
    if (rng.chance(60)) {
      c.flags[i] |= kHasEmitted;
      c.last_emitted[i] = rng.chance(50) ? rng.pick(kEmitted) : c.rate[i] * 2.0;
    } else {
      c.last_emitted[i] = 0.0;
    }
    c.flags[i] = static_cast<std::uint8_t>((c.flags[i] & kHasEmitted) | kLive |
                                           (rng.chance(30) ? kInFlight : 0));
  }
  return c;
}

TEST(ScalarKernels, tick_matches_a_loop_over_heat_counters) {
  Rng rng(2024);
  static const float kRatios[] = {1.01f, 1.1f, 2.0f, 3.0f, 10.0f};
  int runs = 0;
  for (const std::size_t n : {0u, 1u, 7u, 1000u}) {
    for (int rep = 0; rep < 40; ++rep, ++runs) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " rep " << rep);
      const std::int64_t nows[] = {0, 1'000'000'000'000'000, kI64Max, -77};
      TickParams p;
      p.now = rng.pick(nows);
      p.enabled = !rng.chance(10);
      p.ratio = static_cast<double>(rng.pick(kRatios));
      p.skip_in_flight = rng.chance(50);
      p.mark_in_flight = rng.chance(50);
      Columns c = random_columns(n, p.now, rng);

      // The reference: one HeatCounter per slot, decayed, then the gate.
      std::vector<Candidate> want;
      std::vector<CounterState> want_state;
      for (std::size_t i = 0; i < n; ++i) {
        CounterState s = c.state(i);
        HeatCounter counter = HeatCounter::from_state(s);
        counter.decay_to(instant_from_ns(p.now));
        s.rate = counter.rate();
        s.last_update = to_ns(counter.last_update());
        if (!(p.skip_in_flight && s.in_flight)) {
          const Decision d =
              emission_decision(counter.rate(), counter.last_emitted().has_value(),
                                counter.last_emitted().value_or(0.0), p.enabled, p.ratio);
          if (d != Decision::kSuppress) {
            want.push_back(Candidate{static_cast<std::uint32_t>(i), d,
                                     d == Decision::kEmit ? counter.rate() : 0.0});
            if (p.mark_in_flight) s.in_flight = true;
          }
        }
        want_state.push_back(s);
      }

      std::vector<Candidate> got = {Candidate{99, Decision::kEmit, 1.0}};  // appended to
      scalar::tick(c.view(), p, got);
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got.front(), (Candidate{99, Decision::kEmit, 1.0})) << "tick appends";
      got.erase(got.begin());
      EXPECT_EQ(got, want);
      for (std::size_t i = 0; i < n; ++i) {
        const CounterState g = c.state(i);
        const CounterState& w = want_state[i];
        ASSERT_TRUE(same_double(g.rate, w.rate))
            << "slot " << i << ": " << g.rate << " vs " << w.rate;
        ASSERT_EQ(g.last_update, w.last_update) << "slot " << i;
        ASSERT_EQ(g.in_flight, w.in_flight) << "slot " << i;
        ASSERT_EQ(g.has_emitted, w.has_emitted) << "slot " << i;
        ASSERT_TRUE(same_double(g.last_emitted, w.last_emitted)) << "slot " << i;
        ASSERT_EQ(g.half_life, w.half_life) << "slot " << i;
        ASSERT_TRUE(c.flags[i] & kLive) << "slot " << i;
      }
      EXPECT_TRUE(c.sentinel_intact());
    }
  }
  EXPECT_EQ(runs, 160);
}

TEST(ScalarKernels, collect_prunable_matches_the_seed_predicate) {
  Rng rng(77);
  for (const std::size_t n : {0u, 1u, 7u, 1000u}) {
    for (int rep = 0; rep < 20; ++rep) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " rep " << rep);
      Columns c = random_columns(n, 0, rng);
      // A third of the slots forced into the fully-decayed, withdrawn state.
      for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(33)) {
          c.rate[i] = rng.chance(50) ? 0.0 : -0.0;
          c.flags[i] |= kHasEmitted;
          c.last_emitted[i] = rng.chance(50) ? 0.0 : -0.0;
        }
      }
      std::vector<std::uint32_t> want;
      for (std::size_t i = 0; i < n; ++i) {
        const HeatCounter counter = HeatCounter::from_state(c.state(i));
        // The seed's retain predicate, negated.
        if (counter.rate() <= 0.0 && counter.last_emitted().has_value() &&
            *counter.last_emitted() <= 0.0) {
          want.push_back(static_cast<std::uint32_t>(i));
        }
      }
      std::vector<std::uint32_t> got;
      scalar::collect_prunable(c.view(), got);
      EXPECT_EQ(got, want);
      EXPECT_TRUE(c.sentinel_intact());
    }
  }
}

}  // namespace
}  // namespace heatkit
