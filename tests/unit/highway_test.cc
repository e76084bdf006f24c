// The Highway kernels against the scalar reference, on every target compiled
// into this binary that the CPU supports (HWY_COMPILE_ALL_ATTAINABLE builds
// SSSE3, SSE4, AVX2, AVX-512 and scalar where the compiler can).
//
// Agreement means (SEMANTICS.md "Numbers"): rates within 1e-12 relative,
// last_update and flags identical, identical candidates. Threshold ties are
// only built with zero elapsed time, where both sides decay by exactly 1.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/highway_kernels.h"
#include "kernels/scalar_kernels.h"
#include "kernel_agreement.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

class HighwayKernels : public ::testing::TestWithParam<std::int64_t> {
 protected:
  void SetUp() override {
    hwy::SetSupportedTargetsForTest(GetParam());
    ASSERT_STREQ(highway::dispatched_target(), hwy::TargetName(GetParam()));
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(HighwayKernels, tick_matches_scalar_reference_on_random_columns) {
  expect_tick_matches_scalar_on_random_columns(
      [](Columns& c, const TickParams& p, std::vector<Candidate>& out) { highway::tick(c.view(), p, out); },
      std::vector<std::size_t>(std::begin(kSizes), std::end(kSizes)));
}

TEST_P(HighwayKernels, tick_told_a_shared_half_life_matches_scalar_reference) {
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  sizes.push_back(1'000'000);
  expect_tick_matches_scalar_on_random_columns(
      [](Columns& c, const TickParams& p, std::vector<Candidate>& out) { highway::tick(c.view(), p, out); },
      sizes, /*told_shared_half_life=*/true);
}

TEST_P(HighwayKernels, tick_matches_scalar_reference_on_a_million_counters) {
  expect_tick_matches_scalar_on_many_counters(
      1'000'000,
      [](Columns& c, const TickParams& p, std::vector<Candidate>& out) { highway::tick(c.view(), p, out); });
}

TEST_P(HighwayKernels, steady_state_column_uses_shared_factor_and_agrees) {
  // Every counter last updated at the previous tick with one half-life, about
  // 5% above the ratio: the common case the shared factor serves.
  const std::size_t n = 100'003;
  Columns want(n);
  Rng rng(77);
  for (std::size_t i = 0; i < n; ++i) {
    want.rate[i] = 1.0 + static_cast<double>(rng.below(10'000));
    want.last_update[i] = kNow - 1'000'000'000;
    want.half_life[i] = kHalfLife;
    want.flags[i] = kLive | kHasEmitted;
    want.last_emitted[i] = rng.chance(5) ? want.rate[i] / 2.5 : want.rate[i];
  }
  Columns got = want;
  TickParams p;
  p.now = kNow;
  std::vector<Candidate> want_out, got_out;
  scalar::tick(want.view(), p, want_out);
  highway::tick(got.view(), p, got_out);
  EXPECT_GT(want_out.size(), n / 40);
  expect_columns_agree(want, got);
  expect_candidates_agree(want_out, got_out);
  // The shared factor is the scalar exp2 itself: rates are bit-identical.
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(want.rate[i], got.rate[i]) << "slot " << i;
}

TEST_P(HighwayKernels, gate_bands_and_threshold_edges_decided_like_the_reference) {
  // Steady-state vectors (every counter emitted before, one last_update and
  // half-life, so the rates are bit-identical to the reference's) whose
  // quotients rate / last_emitted sit on and around the edges the vector
  // gate uses: the ratio itself (ties), 1e-12 inside and outside it, a few
  // ulps either way, at subnormal, tiny, ordinary and huge magnitudes (tiny
  // ones kept by half-life 0 lanes), beside lanes that
  // withdraw, are NaN, negative, in flight or subnormal.
  const double ratios[] = {2.0, 3.0, static_cast<double>(1.01f), 1.0, 0.5,
                           static_cast<double>(1e30f)};
  const double magnitudes[] = {1.0, 1e-300, 4e-308, 3e-310, 1e-320, 1e300, 1.7e308, 3e-16};
  for (const double ratio : ratios) {
    for (const std::int64_t elapsed : {std::int64_t{0}, std::int64_t{1'000'000'000}}) {
      const std::size_t n = 4099;
      Columns want(n);
      Rng rng(static_cast<std::uint64_t>(ratio * 1000) + static_cast<std::uint64_t>(elapsed));
      for (std::size_t i = 0; i < n; ++i) {
        const double rate = magnitudes[rng.below(std::size(magnitudes))] *
                            (1.0 + static_cast<double>(rng.below(1000)) / 1000.0);
        double q = ratio;  // the quotient aimed at
        switch (rng.below(8)) {
          case 0: break;  // exactly the ratio
          case 1: q = ratio * (1.0 + 1e-12); break;
          case 2: q = ratio * (1.0 - 1e-12); break;
          case 3: q = std::nextafter(ratio, 0.0); break;
          case 4: q = std::nextafter(ratio, HUGE_VAL); break;
          case 5: q = 1.0 + static_cast<double>(rng.below(100)) / 100.0 * (ratio - 1.0); break;
          default: q = ratio * (1.0 + static_cast<double>(rng.below(3)) * 1e-13); break;
        }
        // Rising (rate = q * last_emitted) or falling (last_emitted = q * rate).
        const double prev = rng.chance(50) ? rate / q : rate * q;
        want.rate[i] = rate;
        want.last_emitted[i] = prev;
        want.last_update[i] = kNow - elapsed;
        // Half-life 0 keeps even tiny rates (any other clamps them below
        // epsilon to 0); with no time elapsed every decay path is exact.
        want.half_life[i] = elapsed == 0 && rng.chance(25) ? 0 : kHalfLife;
        want.flags[i] = kLive | kHasEmitted;
        switch (rng.below(40)) {
          case 0: want.rate[i] = 0.0; break;  // withdraws
          case 1: want.rate[i] = std::numeric_limits<double>::quiet_NaN(); break;
          case 2: want.rate[i] = -rate; break;
          case 3: want.flags[i] |= kInFlight; break;
          case 4: want.last_emitted[i] = 5e-324; break;
          case 5: want.last_emitted[i] = 0.0; break;
          case 6: want.flags[i] = kLive; break;  // never emitted
          default: break;
        }
      }
      for (const bool in_flight : {false, true}) {
        Columns before = want;
        Columns got = want;
        TickParams p;
        p.now = kNow;
        p.ratio = ratio;
        p.skip_in_flight = p.mark_in_flight = in_flight;
        std::vector<Candidate> want_out, got_out;
        scalar::tick(before.view(), p, want_out);
        highway::tick(got.view(), p, got_out);
        SCOPED_TRACE(::testing::Message() << "ratio " << ratio << " elapsed " << elapsed
                                          << " in_flight " << in_flight);
        for (std::size_t i = 0; i < n; ++i) ASSERT_TRUE(same_double(before.rate[i], got.rate[i])) << i;
        expect_columns_agree(before, got);
        expect_candidates_agree(want_out, got_out);
        EXPECT_GT(want_out.size(), 0u);
        EXPECT_LT(want_out.size(), n);
      }
    }
  }
}

TEST_P(HighwayKernels, mass_withdrawal_with_scattered_emissions_matches_scalar_reference) {
  // After a quiet gap whole vectors withdraw at once (a bulk path), with the
  // odd lane that emits or is in flight in between: candidate runs of every
  // length cross the kernel's output blocks at every offset. Quiet lanes come
  // only in every third run of 300 slots, so that many of the kernel's
  // 256-counter blocks hold nothing but candidates (its mass-withdrawal path)
  // and the others a few quiet lanes.
  for (const std::size_t n : {std::size_t{1029}, std::size_t{4096}, std::size_t{65'537}}) {
    for (const bool in_flight : {false, true}) {
      Columns want(n);
      Rng rng(n + (in_flight ? 1 : 0));
      for (std::size_t i = 0; i < n; ++i) {
        want.rate[i] = 0.5;
        want.last_update[i] = kNow - 100 * kHalfLife;  // decays to 0: withdraws
        want.half_life[i] = kHalfLife;
        want.flags[i] = kLive | kHasEmitted;
        want.last_emitted[i] = 0.5;
        if ((i / 300) % 3 == 0 && rng.chance(3)) want.last_update[i] = kNow;  // 0.5 vs 0.5: quiet
        if (rng.chance(3)) want.last_emitted[i] = 0.1;  // 0.5 vs 0.1 (when not decayed): emits
        if (rng.chance(3)) want.flags[i] |= kInFlight;
      }
      Columns got = want;
      TickParams p;
      p.now = kNow;
      p.skip_in_flight = p.mark_in_flight = in_flight;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      highway::tick(got.view(), p, got_out);
      SCOPED_TRACE(::testing::Message() << "n " << n << " in_flight " << in_flight);
      expect_columns_agree(want, got);
      expect_candidates_agree(want_out, got_out);
      EXPECT_GT(want_out.size(), n * 8 / 10);
    }
  }
}

TEST_P(HighwayKernels, instants_far_apart_decay_like_the_reference) {
  // last_update and now near the ends of the int64 range, where now -
  // last_update overflows int64 (the kernel's vector subtraction does; the
  // reference's unsigned one does not) or is negative (time going backwards).
  // Runs of one instant make whole vectors share it, so both the vector that
  // would cache the instant's factor and the ones that would reuse it meet
  // the overflow. Half-lives long enough that such a gap is only a few of
  // them keep the expected rates away from 0. With and without the kernel
  // told the half-life the counters share.
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  const std::int64_t instants[] = {kMin, kMin + 1, kMin / 2, -kNow, 0, kNow - 1'000'000'000,
                                   kNow, kMax / 2, kMax};
  const std::int64_t shared_half_lives[] = {kMax, kMax / 3, kHalfLife};
  for (const std::int64_t now : {kMax, kMin, kNow, kMin / 2 - 1}) {
    for (const std::int64_t half_life : shared_half_lives) {
      for (const bool told_shared : {false, true}) {
        const std::size_t n = 2053;
        Columns want(n);
        Rng rng(static_cast<std::uint64_t>(now) ^ static_cast<std::uint64_t>(half_life));
        std::int64_t instant = kNow;
        for (std::size_t i = 0; i < n; ++i) {
          if (rng.chance(10)) instant = instants[rng.below(std::size(instants))];
          want.rate[i] = 1.0 + static_cast<double>(rng.below(1000));
          want.last_update[i] = instant;
          want.half_life[i] = half_life;
          want.flags[i] = kLive | kHasEmitted;
          want.last_emitted[i] = want.rate[i] * (rng.chance(50) ? 1.0 : 0.3);
        }
        Columns got = want;
        TickParams p;
        p.now = now;
        if (told_shared) p.shared_half_life = half_life;
        std::vector<Candidate> want_out, got_out;
        scalar::tick(want.view(), p, want_out);
        highway::tick(got.view(), p, got_out);
        SCOPED_TRACE(::testing::Message() << "now " << now << " half-life " << half_life << " told "
                                          << told_shared);
        expect_columns_agree(want, got);
        expect_candidates_agree(want_out, got_out);
      }
    }
  }
}

TEST_P(HighwayKernels, collect_prunable_matches_scalar_reference) {
  expect_prune_matches_scalar_on_random_columns(
      [](Columns& c, std::vector<std::uint32_t>& out) { highway::collect_prunable(c.view(), out); });
}

TEST_P(HighwayKernels, candidates_when_none_and_all_qualify_and_prune_of_everything) {
  expect_candidates_when_none_and_all_qualify(
      1029, [](Columns& c, const TickParams& p, std::vector<Candidate>& out) { highway::tick(c.view(), p, out); });
  expect_prune_of_everything(
      3001, [](Columns& c, std::vector<std::uint32_t>& out) { highway::collect_prunable(c.view(), out); });
}

TEST_P(HighwayKernels, u64_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {1u, 2u, 3u}) registry_agrees_with_scalar<std::uint64_t>("highway", seed, 20'000);
}

TEST_P(HighwayKernels, blob_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {4u, 5u}) registry_agrees_with_scalar<BlobKey>("highway", seed, 20'000);
}

// The registry tells the kernel the half-life its counters share (and the
// kernel then does not read the column) only while none differs: counters
// with one half-life, then a second one, then all removed and the slots
// reused by counters with a third (the free slots left over keep the first
// two in their column at rate 0). Every tick agrees with the scalar backend.
TEST_P(HighwayKernels, registry_ticks_agree_as_its_half_lives_go_shared_mixed_and_shared_again) {
  using namespace std::chrono_literals;
  RegistryOptions highway_options;
  highway_options.backend = "highway";
  RegistryOptions scalar_options;
  scalar_options.backend = "scalar";
  HeatRegistry got(highway_options), want(scalar_options);
  Rng rng(2024);
  std::int64_t now = 1'000'000'000;
  const auto both = [&](auto&& op) { op(want); op(got); };
  const auto tick_and_compare = [&](const char* phase) {
    SCOPED_TRACE(phase);
    now += 700'000'000;
    const Instant t = instant_from_ns(now);
    const auto a = want.tick(Policy{}, t);
    const auto b = got.tick(Policy{}, t);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a[k].first, b[k].first);
      ASSERT_EQ(a[k].second.kind, b[k].second.kind);
      ASSERT_TRUE(rates_agree(a[k].second.rate, b[k].second.rate));
    }
    both([&](HeatRegistry& r) { r.commit(&r == &got ? b : a); });
  };
  const auto bump_some = [&](std::uint64_t first_key, std::size_t count, Duration half_life) {
    for (std::size_t k = 0; k < 3 * count; ++k) {
      const std::uint64_t key = first_key + rng.below(count);
      now += static_cast<std::int64_t>(rng.below(5'000'000));
      const Instant t = instant_from_ns(now);
      both([&](HeatRegistry& r) { r.entry(key, half_life, t).bump(t); });
    }
  };
  bump_some(0, 2'000, 3s);
  tick_and_compare("one half-life");
  bump_some(10'000, 500, 7s);
  tick_and_compare("two half-lives");
  for (std::uint64_t key = 0; key < 20'000; ++key) both([&](HeatRegistry& r) { r.remove(key); });
  ASSERT_EQ(got.size(), 0u);
  bump_some(50'000, 300, 11s);
  tick_and_compare("a third half-life in reused slots");
  tick_and_compare("a third half-life, a tick later");
}

std::string target_name(const ::testing::TestParamInfo<std::int64_t>& info) {
  return hwy::TargetName(info.param);
}

INSTANTIATE_TEST_SUITE_P(EveryTarget, HighwayKernels,
                         ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()), target_name);

TEST(HighwayBackend, is_listed_available_and_compiled_for_several_targets) {
  const BackendInfo info = backend_info("highway");
  EXPECT_TRUE(info.available);
  // Its tick uses TickParams::shared_half_life (the tests above); the
  // benchmark sets its ticks beside the floor without the half-life column.
  EXPECT_TRUE(info.tick_uses_shared_half_life);
  // Scalar fallback plus at least one SIMD target on any x86-64 build.
  EXPECT_GE(highway::compiled_targets().size(), 2u);
}

}  // namespace
}  // namespace heatkit::test
