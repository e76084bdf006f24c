// The thrust-omp backend (thrust/thrust_passes.h on the OpenMP device system)
// against the scalar reference: the same randomized kernel and registry
// checks as the Highway backend, at several OpenMP team sizes, plus the
// device-style edge cases of the GPU backends (none / all candidates, prune of
// everything, sizes around every power of two).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <omp.h>

#include "thrust/thrust_omp_kernels.h"
#include "backends/backend.h"
#include "util/thread_pool.h"
#include "kernel_agreement.h"
#include "kernels/scalar_kernels.h"

namespace heatkit::test {
namespace {

class ThrustOmpKernels : public ::testing::TestWithParam<unsigned> {};

TEST_P(ThrustOmpKernels, tick_matches_scalar_reference_on_random_columns) {
  expect_tick_matches_scalar_on_random_columns(
      [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        thrust_omp::tick(c.view(), p, out, GetParam());
      },
      std::vector<std::size_t>(std::begin(kSizes), std::end(kSizes)));
}

TEST_P(ThrustOmpKernels, tick_appends_after_what_out_holds_and_matches_on_a_million) {
  expect_tick_matches_scalar_on_many_counters(
      1'000'000, [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        thrust_omp::tick(c.view(), p, out, GetParam());
      });
}

TEST_P(ThrustOmpKernels, collect_prunable_matches_scalar_reference) {
  expect_prune_matches_scalar_on_random_columns([&](Columns& c, std::vector<std::uint32_t>& out) {
    thrust_omp::collect_prunable(c.view(), out, GetParam());
  });
}

TEST_P(ThrustOmpKernels, candidates_when_none_and_all_qualify_and_prune_of_everything) {
  expect_candidates_when_none_and_all_qualify(
      4097, [&](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
        thrust_omp::tick(c.view(), p, out, GetParam());
      });
  expect_prune_of_everything(3001, [&](Columns& c, std::vector<std::uint32_t>& out) {
    thrust_omp::collect_prunable(c.view(), out, GetParam());
  });
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
  const BackendInfo info = backend_info("thrust-omp");
  EXPECT_TRUE(info.available) << info.unavailable_reason;
  const auto store = make_store("thrust-omp");
  EXPECT_EQ(store->backend(), "thrust-omp");
  EXPECT_TRUE(store->host_columns().has_value());
}

// The team a pass starts follows the rule of every backend (resolve_threads):
// a request above the hardware threads starts one thread per hardware
// thread, not thousands (which libgomp fails to start under a memory limit,
// and then exits). The pass sets the calling thread's team size, which
// omp_get_max_threads reads back.
TEST(ThrustOmpBackend, a_pass_never_starts_more_threads_than_the_hardware_has) {
  const unsigned all = hardware_threads();
  Columns c(4097);  // as in the edge cases above
  Rng rng(7);
  for (std::size_t i = 0; i < c.size; ++i) fill_slot(c, i, rng);
  std::vector<Candidate> expected;
  thrust_omp::tick(c.view(), param_variants().front(), expected, 0);
  EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all));
  for (const unsigned asked : {all + 1, 4096u}) {
    for (std::size_t i = 0; i < c.size; ++i) fill_slot(c, i, rng);
    std::vector<Candidate> out;
    thrust_omp::tick(c.view(), param_variants().front(), out, asked);
    EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all)) << "tick asked for " << asked;
    std::vector<std::uint32_t> prunable;
    thrust_omp::collect_prunable(c.view(), prunable, asked);
    EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all)) << "prune asked for " << asked;
  }
  thrust_omp::tick(c.view(), param_variants().front(), expected, 1);
  EXPECT_EQ(omp_get_max_threads(), 1);
}

}  // namespace
}  // namespace heatkit::test
