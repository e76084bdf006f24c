// The highway store against the scalar store, on every target compiled into
// this binary that the CPU supports (HWY_COMPILE_ALL_ATTAINABLE builds SSSE3,
// SSE4, AVX2, AVX-512 and scalar where the compiler can): through the
// CounterStore interface (store_agreement.h: random operations, read back
// after each, ticks and prunes compared) and through the registry
// (kernel_agreement.h's registry_agrees_with_scalar). What the store keeps in
// its columns is its own: only what it reads back and returns is compared.
//
// Agreement means SEMANTICS.md "Numbers": rates within 1e-12 relative (or
// n x 2^-52 after n decay steps), everything else equal, decisions equal but
// at ties.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/highway_kernels.h"
#include "kernel_agreement.h"
#include "store_agreement.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

class HighwayStore : public ::testing::TestWithParam<std::int64_t> {
 protected:
  void SetUp() override {
    hwy::SetSupportedTargetsForTest(GetParam());
    ASSERT_STREQ(highway::dispatched_target(), hwy::TargetName(GetParam()));
  }
  void TearDown() override { hwy::SetSupportedTargetsForTest(0); }
};

TEST_P(HighwayStore, agrees_with_scalar_store_with_mixed_half_lives) {
  expect_store_agrees_with_scalar("highway", mixed_half_life_runs());
}

TEST_P(HighwayStore, agrees_with_scalar_store_with_one_shared_half_life_told_to_the_tick) {
  expect_store_agrees_with_scalar("highway", shared_half_life_runs());
}

TEST_P(HighwayStore, agrees_with_scalar_store_at_instants_far_apart) {
  expect_store_agrees_with_scalar("highway", far_apart_instant_runs());
}

TEST_P(HighwayStore, agrees_with_scalar_store_at_slot_counts_around_vector_widths) {
  expect_store_agrees_with_scalar("highway", slot_count_runs());
}

TEST_P(HighwayStore, agrees_with_scalar_store_on_many_slots_split_over_threads) {
  expect_store_agrees_with_scalar("highway", many_slot_runs(0));
}

TEST_P(HighwayStore, u64_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {1u, 2u, 3u}) registry_agrees_with_scalar<std::uint64_t>("highway", seed, 20'000);
}

TEST_P(HighwayStore, blob_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {4u, 5u}) registry_agrees_with_scalar<BlobKey>("highway", seed, 20'000);
}

// The registry tells the kernel the half-life its counters share (and the
// kernel then does not read the column) only while none differs: counters
// with one half-life, then a second one, then all removed and the slots
// reused by counters with a third (the free slots left over keep the first
// two in their column at rate 0). Every tick agrees with the scalar backend.
TEST_P(HighwayStore, registry_ticks_agree_as_its_half_lives_go_shared_mixed_and_shared_again) {
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

INSTANTIATE_TEST_SUITE_P(EveryTarget, HighwayStore,
                         ::testing::ValuesIn(hwy::SupportedAndGeneratedTargets()), target_name);

TEST(HighwayBackend, is_listed_available_and_compiled_for_several_targets) {
  const BackendInfo info = backend_info("highway");
  EXPECT_TRUE(info.available);
  // Its tick uses TickParams::shared_half_life (the store runs above tell
  // it); the benchmark sets its ticks beside the floor without the
  // half-life column.
  EXPECT_TRUE(info.tick_uses_shared_half_life);
  // Scalar fallback plus at least one SIMD target on any x86-64 build.
  EXPECT_GE(highway::compiled_targets().size(), 2u);
}

}  // namespace
}  // namespace heatkit::test
