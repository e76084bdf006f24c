// The policy, its validation and the emission gate (SEMANTICS.md "Policy" and
// "Emission gate"), row by row, plus tick_one's in-flight handling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "registry/registry.h"
#include "math/counter_math.h"
#include <heatkit/policy.h>
#include "math/tick_params.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr float kInfF = std::numeric_limits<float>::infinity();
const double kNaN = std::nan("");

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

Policy with_ratio(float ratio) {
  Policy p;
  p.emit_threshold_ratio = ratio;
  return p;
}

Policy with_half_life(Duration half_life) {
  Policy p;
  p.decay_half_life = half_life;
  return p;
}

// ---- Policy ----

TEST(Policy, defaults_are_enabled_ratio_two_and_thirty_minutes) {
  const Policy p;
  EXPECT_TRUE(p.enabled);
  EXPECT_EQ(p.emit_threshold_ratio, 2.0f);
  EXPECT_EQ(p.decay_half_life, Duration(30min));
  EXPECT_EQ(validate(p), std::nullopt);
}

TEST(Policy, non_finite_ratio_is_its_own_error_with_value_and_bounds) {
  struct Case {
    float ratio;
    const char* text;
  };
  for (const Case c : {Case{std::nanf(""), "nan"}, Case{kInfF, "inf"}, Case{-kInfF, "-inf"}}) {
    SCOPED_TRACE(c.text);
    const auto error = validate(with_ratio(c.ratio));
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->kind, PolicyErrorKind::kRatioNotFinite);
    EXPECT_STREQ(error->field, "emit_threshold_ratio");
    if (std::isnan(c.ratio)) {
      EXPECT_TRUE(std::isnan(error->value));
    } else {
      EXPECT_EQ(error->value, static_cast<double>(c.ratio));
    }
    const std::string message = error->message();
    EXPECT_TRUE(contains(message, "emit_threshold_ratio")) << message;
    EXPECT_TRUE(contains(message, std::string("got ") + c.text)) << message;
    EXPECT_TRUE(contains(message, "[1.01, 10]")) << message;
  }
}

TEST(Policy, out_of_range_ratio_names_value_and_bounds) {
  struct Case {
    float ratio;
    const char* text;
  };
  for (const Case c : {Case{1.0f, "1"}, Case{1.0099f, "1.0099"}, Case{10.01f, "10.01"},
                       Case{0.0f, "0"}, Case{-2.0f, "-2"}}) {
    SCOPED_TRACE(c.text);
    const auto error = validate(with_ratio(c.ratio));
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->kind, PolicyErrorKind::kRatioOutOfRange);
    EXPECT_STREQ(error->field, "emit_threshold_ratio");
    EXPECT_EQ(error->value, static_cast<double>(c.ratio));
    const std::string message = error->message();
    EXPECT_EQ(message,
              std::string("emit_threshold_ratio ") + c.text + " is out of range [1.01, 10]");
  }
}

TEST(Policy, ratio_bounds_are_inclusive) {
  EXPECT_EQ(validate(with_ratio(1.01f)), std::nullopt);
  EXPECT_EQ(validate(with_ratio(10.0f)), std::nullopt);
  EXPECT_EQ(validate(with_ratio(3.0f)), std::nullopt);
  // One f32 step outside either bound is rejected.
  EXPECT_NE(validate(with_ratio(std::nextafter(1.01f, 0.0f))), std::nullopt);
  EXPECT_NE(validate(with_ratio(std::nextafter(10.0f, 100.0f))), std::nullopt);
}

TEST(Policy, zero_half_life_is_its_own_error) {
  const auto error = validate(with_half_life(Duration::zero()));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, PolicyErrorKind::kHalfLifeZero);
  EXPECT_STREQ(error->field, "decay_half_life");
  EXPECT_TRUE(contains(error->message(), "decay_half_life")) << error->message();
  EXPECT_TRUE(contains(error->message(), "non-zero")) << error->message();
}

TEST(Policy, negative_half_life_is_its_own_error_with_value) {
  const auto error = validate(with_half_life(-5s));
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind, PolicyErrorKind::kHalfLifeNegative);
  EXPECT_STREQ(error->field, "decay_half_life");
  EXPECT_EQ(error->value, -5e9);
  EXPECT_TRUE(contains(error->message(), "decay_half_life")) << error->message();
  EXPECT_TRUE(contains(error->message(), "-5000000000 ns")) << error->message();
}

TEST(Policy, one_nanosecond_half_life_is_valid) {
  EXPECT_EQ(validate(with_half_life(1ns)), std::nullopt);
}

TEST(Policy, disabled_policy_is_still_validated) {
  Policy p = with_ratio(kInfF);
  p.enabled = false;
  EXPECT_NE(validate(p), std::nullopt);
}

TEST(Policy, validate_or_throw_throws_invalid_policy_carrying_the_error) {
  EXPECT_NO_THROW(validate_or_throw(Policy{}));
  const Policy bad = with_ratio(1.0f);
  try {
    validate_or_throw(bad);
    FAIL() << "an invalid policy must throw";
  } catch (const InvalidPolicy& e) {
    EXPECT_EQ(e.error(), *validate(bad));
    EXPECT_TRUE(contains(e.what(), "emit_threshold_ratio")) << e.what();
    EXPECT_TRUE(contains(e.what(), "[1.01, 10]")) << e.what();
  }
  // InvalidPolicy is an invalid_argument, so generic handlers catch it too.
  EXPECT_THROW(validate_or_throw(with_half_life(Duration::zero())), std::invalid_argument);
}

template <class Registry>
void expect_tick_rejects_without_touching_state(Registry registry,
                                                const typename Registry::key_type& key) {
  const Instant base = test::t0();
  registry.entry(key, 60s, base).bump(base);
  for (const Policy& bad : {with_ratio(std::nanf("")), with_ratio(0.5f),
                            with_half_life(Duration::zero()), with_half_life(-1s)}) {
    EXPECT_THROW(registry.tick(bad, base + 60s), InvalidPolicy);
  }
  // The rejected ticks decayed nothing and marked nothing.
  const auto counter = registry.get(key);
  ASSERT_TRUE(counter.has_value());
  EXPECT_EQ(counter->rate(), 1.0);
  EXPECT_EQ(counter->last_update(), base);
  EXPECT_FALSE(registry.in_flight(key));
  EXPECT_EQ(registry.tick(Policy{}, base).size(), 1u);
}

TEST(Policy, registry_tick_throws_invalid_policy) {
  expect_tick_rejects_without_touching_state(HeatRegistry(), test::channel(1));
  expect_tick_rejects_without_touching_state(BlobHeatRegistry(), test::hash(1));
}

TEST(Policy, tick_params_widen_the_ratio_and_copy_the_switches) {
  Policy p = with_ratio(1.1f);
  p.enabled = false;
  const TickParams params = tick_params(p, 42, true);
  EXPECT_EQ(params.now, 42);
  EXPECT_FALSE(params.enabled);
  EXPECT_EQ(params.ratio, static_cast<double>(1.1f));
  EXPECT_TRUE(params.skip_in_flight);
  EXPECT_TRUE(params.mark_in_flight);
  const TickParams off = tick_params(Policy{}, 7, false);
  EXPECT_FALSE(off.skip_in_flight);
  EXPECT_FALSE(off.mark_in_flight);
  EXPECT_TRUE(off.enabled);
}

// ---- The emission gate, in SEMANTICS.md row order ----

constexpr bool kEnabled = true;
constexpr bool kPrior = true;     // has_emitted
constexpr bool kNoPrior = false;  // last_emitted is absent
constexpr double kRatio = 2.0;

Decision gate(double rate, bool has_emitted, double prev, bool enabled = kEnabled,
              double ratio = kRatio) {
  return emission_decision(rate, has_emitted, prev, enabled, ratio);
}

TEST(EmissionGate, row1_disabled_policy_suppresses_everything) {
  EXPECT_EQ(gate(5.0, kNoPrior, 0.0, false), Decision::kSuppress) << "would emit if enabled";
  EXPECT_EQ(gate(0.0, kPrior, 3.0, false), Decision::kSuppress) << "would withdraw if enabled";
  EXPECT_EQ(gate(8.0, kPrior, 1.0, false), Decision::kSuppress) << "would re-emit if enabled";
}

TEST(EmissionGate, row2_non_finite_or_negative_rate_suppresses) {
  for (const double rate : {kNaN, kInf, -kInf, -1.0, -1e-300}) {
    SCOPED_TRACE(rate);
    EXPECT_EQ(gate(rate, kNoPrior, 0.0), Decision::kSuppress);
    EXPECT_EQ(gate(rate, kPrior, 1.0), Decision::kSuppress) << "not a withdrawal";
    EXPECT_EQ(gate(rate, kPrior, 0.0), Decision::kSuppress) << "not an emission";
  }
}

TEST(EmissionGate, row3_no_prior_emission_emits_any_positive_rate) {
  EXPECT_EQ(gate(1.0, kNoPrior, 0.0), Decision::kEmit);
  EXPECT_EQ(gate(std::numeric_limits<double>::denorm_min(), kNoPrior, 0.0), Decision::kEmit);
  EXPECT_EQ(gate(1e300, kNoPrior, 0.0), Decision::kEmit);
  // The last_emitted value is ignored when there is no prior emission.
  EXPECT_EQ(gate(1.0, kNoPrior, 1.0), Decision::kEmit);
}

TEST(EmissionGate, row3_no_prior_emission_suppresses_zero_rate) {
  EXPECT_EQ(gate(0.0, kNoPrior, 0.0), Decision::kSuppress);
  EXPECT_EQ(gate(-0.0, kNoPrior, 0.0), Decision::kSuppress);
  EXPECT_EQ(gate(0.0, kNoPrior, 5.0), Decision::kSuppress);
}

TEST(EmissionGate, row4_zero_rate_withdraws_a_positive_prior) {
  EXPECT_EQ(gate(0.0, kPrior, 1.0), Decision::kWithdraw);
  EXPECT_EQ(gate(0.0, kPrior, std::numeric_limits<double>::denorm_min()), Decision::kWithdraw);
  EXPECT_EQ(gate(-0.0, kPrior, 1.0), Decision::kWithdraw) << "-0.0 == 0.0";
}

TEST(EmissionGate, row4_zero_rate_suppresses_a_non_positive_prior) {
  EXPECT_EQ(gate(0.0, kPrior, 0.0), Decision::kSuppress) << "already withdrawn";
  EXPECT_EQ(gate(0.0, kPrior, -0.0), Decision::kSuppress);
  EXPECT_EQ(gate(0.0, kPrior, -2.0), Decision::kSuppress);
}

TEST(EmissionGate, row5_positive_rate_after_a_non_positive_prior_emits) {
  EXPECT_EQ(gate(0.5, kPrior, 0.0), Decision::kEmit) << "re-heat after withdrawal";
  EXPECT_EQ(gate(0.5, kPrior, -3.0), Decision::kEmit);
}

TEST(EmissionGate, row5_ratio_is_checked_both_ways_and_is_inclusive) {
  EXPECT_EQ(gate(4.0, kPrior, 2.0), Decision::kEmit) << "up exactly by the ratio";
  EXPECT_EQ(gate(1.0, kPrior, 2.0), Decision::kEmit) << "down exactly by the ratio";
  EXPECT_EQ(gate(9.0, kPrior, 2.0), Decision::kEmit) << "up past the ratio";
  EXPECT_EQ(gate(0.25, kPrior, 2.0), Decision::kEmit) << "down past the ratio";
  EXPECT_EQ(gate(std::nextafter(4.0, 0.0), kPrior, 2.0), Decision::kSuppress) << "just below up";
  EXPECT_EQ(gate(std::nextafter(1.0, 2.0), kPrior, 2.0), Decision::kSuppress) << "just below down";
  EXPECT_EQ(gate(2.0, kPrior, 2.0), Decision::kSuppress) << "unchanged";
  EXPECT_EQ(gate(3.0, kPrior, 2.0), Decision::kSuppress);
  EXPECT_EQ(gate(1.5, kPrior, 2.0), Decision::kSuppress);
}

TEST(EmissionGate, ratio_three_does_not_treat_a_doubling_as_a_change) {
  EXPECT_EQ(gate(2.0, kPrior, 1.0, kEnabled, 2.0), Decision::kEmit);
  EXPECT_EQ(gate(2.0, kPrior, 1.0, kEnabled, 3.0), Decision::kSuppress);
  EXPECT_EQ(gate(0.5, kPrior, 1.0, kEnabled, 3.0), Decision::kSuppress) << "halving";
  EXPECT_EQ(gate(3.0, kPrior, 1.0, kEnabled, 3.0), Decision::kEmit);
  EXPECT_EQ(gate(1.0, kPrior, 3.0, kEnabled, 3.0), Decision::kEmit);
}

TEST(EmissionGate, ratio_is_the_f32_value_widened_not_the_decimal) {
  // 1.1f widens to 1.10000002384185791015625, just above the f64 1.1.
  const double widened = tick_params(with_ratio(1.1f), 0, false).ratio;
  ASSERT_NE(widened, 1.1);
  ASSERT_GT(widened, 1.1);
  // 11/10 is the f64 1.1: emits against the decimal, not against the f32.
  EXPECT_EQ(gate(11.0, kPrior, 10.0, kEnabled, 1.1), Decision::kEmit);
  EXPECT_EQ(gate(11.0, kPrior, 10.0, kEnabled, widened), Decision::kSuppress);
  EXPECT_EQ(gate(10.0, kPrior, 11.0, kEnabled, widened), Decision::kSuppress);
  EXPECT_EQ(gate(widened, kPrior, 1.0, kEnabled, widened), Decision::kEmit);
}

TEST(EmissionGate, registry_tick_uses_the_widened_ratio) {
  const Instant now = test::t0();
  HeatRegistry r;
  auto e = r.entry(test::channel(1), 60s, now);
  for (int i = 0; i < 11; ++i) e.bump(now);
  e.record_emission(10.0);
  EXPECT_TRUE(r.tick(with_ratio(1.1f), now).empty()) << "11/10 is below 1.1f widened";
  const auto at_lower_ratio = r.tick(with_ratio(1.05f), now);
  ASSERT_EQ(at_lower_ratio.size(), 1u);
  EXPECT_EQ(at_lower_ratio[0].second, HeatEmission::emit(11.0));
}

// ---- tick_one: decay, gate and in-flight handling of one counter ----

struct OneCounter {
  double rate = 4.0;
  std::int64_t last_update = 0;
  double last_emitted = 0.0;
  std::int64_t half_life = 1000;
  std::uint8_t flags = kLive;

  Decision tick(const TickParams& p) {
    return tick_one(rate, last_update, last_emitted, half_life, flags, p);
  }
};

TickParams params_at(std::int64_t now, bool skip, bool mark) {
  TickParams p;
  p.now = now;
  p.skip_in_flight = skip;
  p.mark_in_flight = mark;
  return p;
}

TEST(TickOne, decays_then_asks_the_gate) {
  OneCounter c;
  EXPECT_EQ(c.tick(params_at(1000, false, false)), Decision::kEmit);
  EXPECT_EQ(c.rate, 2.0);
  EXPECT_EQ(c.last_update, 1000);
  EXPECT_EQ(c.flags, kLive) << "not marked when marking is off";
}

TEST(TickOne, reads_has_emitted_from_the_flags) {
  OneCounter c;
  c.flags |= kHasEmitted;
  c.last_emitted = 2.0;
  EXPECT_EQ(c.tick(params_at(1000, false, false)), Decision::kSuppress) << "2.0 vs 2.0";
  c.last_emitted = 4.0;
  c.rate = 4.0;
  c.last_update = 0;
  EXPECT_EQ(c.tick(params_at(1000, false, false)), Decision::kEmit) << "2.0 vs 4.0 halves";
}

TEST(TickOne, skips_an_in_flight_counter_but_still_decays_it) {
  OneCounter c;
  c.flags |= kInFlight;
  EXPECT_EQ(c.tick(params_at(1000, true, true)), Decision::kSuppress);
  EXPECT_EQ(c.rate, 2.0);
  EXPECT_EQ(c.last_update, 1000);
  EXPECT_EQ(c.flags, kLive | kInFlight);
}

TEST(TickOne, ignores_the_mark_when_not_skipping) {
  OneCounter c;
  c.flags |= kInFlight;
  EXPECT_EQ(c.tick(params_at(1000, false, false)), Decision::kEmit);
}

TEST(TickOne, marks_emits_and_withdrawals_in_flight) {
  OneCounter emit;
  EXPECT_EQ(emit.tick(params_at(0, true, true)), Decision::kEmit);
  EXPECT_EQ(emit.flags, kLive | kInFlight);

  OneCounter withdraw;
  withdraw.rate = 0.0;
  withdraw.flags |= kHasEmitted;
  withdraw.last_emitted = 3.0;
  EXPECT_EQ(withdraw.tick(params_at(0, true, true)), Decision::kWithdraw);
  EXPECT_EQ(withdraw.flags, kLive | kHasEmitted | kInFlight);
}

TEST(TickOne, does_not_mark_a_suppressed_counter) {
  OneCounter c;
  c.rate = 0.0;
  EXPECT_EQ(c.tick(params_at(0, true, true)), Decision::kSuppress);
  EXPECT_EQ(c.flags, kLive);
}

TEST(TickOne, disabled_policy_marks_nothing) {
  OneCounter c;
  TickParams p = params_at(0, true, true);
  p.enabled = false;
  EXPECT_EQ(c.tick(p), Decision::kSuppress);
  EXPECT_EQ(c.flags, kLive);
}

}  // namespace
}  // namespace heatkit
