// The thrust-omp backend (cuda/thrust_passes.h on the OpenMP device system)
// against the scalar reference: the same randomized kernel and registry
// checks as the Highway backend, at several OpenMP team sizes, plus the
// device-style edge cases of issue 4 (none / all candidates, prune of
// everything, sizes around every power of two).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda/thrust_omp_kernels.h"
#include "host/backend.h"
#include "kernel_agreement.h"
#include "kernels/scalar_kernels.h"

namespace heatkit::test {
namespace {

class ThrustOmpKernels : public ::testing::TestWithParam<unsigned> {};

TEST_P(ThrustOmpKernels, tick_matches_scalar_reference_on_random_columns) {
  std::uint64_t seed = 1;
  for (const std::size_t n : kSizes) {
    for (const TickParams& p : param_variants()) {
      SCOPED_TRACE("n=" + std::to_string(n) + " enabled=" + std::to_string(p.enabled) +
                   " in_flight=" + std::to_string(p.skip_in_flight) +
                   " ratio=" + std::to_string(p.ratio));
      Columns want = random_columns(n, seed);
      Columns got = random_columns(n, seed);
      ++seed;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      thrust_omp::tick(got.view(), p, got_out, GetParam());
      expect_columns_agree(want, got);
      expect_candidates_agree(want_out, got_out);
    }
  }
}

TEST_P(ThrustOmpKernels, tick_appends_after_what_out_holds_and_matches_on_a_million) {
  constexpr std::size_t n = 1'000'000;
  TickParams p;
  p.now = kNow;
  p.skip_in_flight = p.mark_in_flight = true;
  Columns want = random_columns(n, 4242);
  Columns got = want;
  const Candidate earlier{7, Decision::kWithdraw, 0.0};
  std::vector<Candidate> want_out{earlier}, got_out{earlier};
  scalar::tick(want.view(), p, want_out);
  thrust_omp::tick(got.view(), p, got_out, GetParam());
  expect_columns_agree(want, got);
  expect_candidates_agree(want_out, got_out);
}

TEST_P(ThrustOmpKernels, collect_prunable_matches_scalar_reference) {
  std::uint64_t seed = 1000;
  for (const std::size_t n : kSizes) {
    Columns c = random_columns(n, seed++);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
      if (rng.chance(30)) c.rate[i] = rng.chance(50) ? 0.0 : -0.0;
    }
    std::vector<std::uint32_t> want{3}, got{3};
    scalar::collect_prunable(c.view(), want);
    thrust_omp::collect_prunable(c.view(), got, GetParam());
    ASSERT_EQ(want, got) << "n=" << n;
  }
}

TEST_P(ThrustOmpKernels, candidates_when_none_and_all_qualify_and_prune_of_everything) {
  for (const bool all : {false, true}) {
    const std::size_t n = 4097;
    Columns c(n);
    for (std::size_t i = 0; i < n; ++i) {
      c.rate[i] = 8.0;
      c.last_update[i] = kNow;
      c.half_life[i] = kHalfLife;
      c.flags[i] = all ? kLive : (kLive | kHasEmitted);
      c.last_emitted[i] = 8.0;
    }
    TickParams p;
    p.now = kNow;
    std::vector<Candidate> out;
    thrust_omp::tick(c.view(), p, out, GetParam());
    ASSERT_EQ(out.size(), all ? n : 0u);
    for (std::size_t k = 0; k < out.size(); ++k) {
      ASSERT_EQ(out[k].slot, k);
      ASSERT_EQ(out[k].kind, Decision::kEmit);
      ASSERT_EQ(out[k].rate, 8.0);
    }
  }
  // Every counter withdrawn and decayed to zero: all of them prune.
  const std::size_t n = 3001;
  Columns c(n);
  for (std::size_t i = 0; i < n; ++i) {
    c.rate[i] = 0.0;
    c.flags[i] = kLive | kHasEmitted;
    c.last_emitted[i] = 0.0;
  }
  std::vector<std::uint32_t> pruned;
  thrust_omp::collect_prunable(c.view(), pruned, GetParam());
  ASSERT_EQ(pruned.size(), n);
  for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(pruned[k], k);
}

TEST_P(ThrustOmpKernels, u64_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {1u, 2u}) {
    registry_agrees_with_scalar<std::uint64_t>("thrust-omp", seed, 20'000);
  }
}

TEST_P(ThrustOmpKernels, blob_registry_agrees_with_scalar_backend) {
  registry_agrees_with_scalar<BlobKey>("thrust-omp", 4, 20'000);
}

std::string team_name(const ::testing::TestParamInfo<unsigned>& info) {
  return info.param == 0 ? "all_threads" : std::to_string(info.param) + "_threads";
}

// 0 = every hardware thread; 3 = more threads than this CI machine has cores.
INSTANTIATE_TEST_SUITE_P(Teams, ThrustOmpKernels, ::testing::Values(1u, 2u, 3u, 0u), team_name);

TEST(ThrustOmpBackend, is_listed_available_and_makes_a_host_store) {
  const auto backends = list_backends();
  const auto it = std::find_if(backends.begin(), backends.end(),
                               [](const BackendInfo& b) { return b.name == "thrust-omp"; });
  ASSERT_NE(it, backends.end());
  EXPECT_TRUE(it->available) << it->unavailable_reason;
  const auto store = make_store("thrust-omp");
  EXPECT_EQ(store->backend(), "thrust-omp");
  EXPECT_TRUE(store->host_columns().has_value());
}

}  // namespace
}  // namespace heatkit::test
