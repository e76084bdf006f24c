// The thrust-omp store (thrust/thrust_passes.h on the OpenMP device system)
// against the scalar store, at several OpenMP team sizes: through the
// CounterStore interface (store_agreement.h: random operations, read back
// after each, ticks and prunes compared, slot counts around every power of
// two the passes split on, passes over 70,000 slots) and through the registry
// (kernel_agreement.h's registry_agrees_with_scalar). What the store keeps in
// its columns is its own: only what it reads back and returns is compared.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <omp.h>

#include "backends/backend.h"
#include "util/thread_pool.h"
#include "kernel_agreement.h"
#include "store_agreement.h"

namespace heatkit::test {
namespace {

class ThrustOmpStore : public ::testing::TestWithParam<unsigned> {
 protected:
  // Every pass starts an OpenMP team: on a machine with fewer free cores
  // than the team has threads, passes wait on descheduled threads. A team
  // other than one thread runs a quarter of each run's operations.
  std::vector<StoreRun> for_team(std::vector<StoreRun> runs) const {
    if (GetParam() != 1) {
      for (StoreRun& run : runs) run.ops /= 4;
    }
    return runs;
  }
};

TEST_P(ThrustOmpStore, agrees_with_scalar_store_with_mixed_half_lives) {
  expect_store_agrees_with_scalar("thrust-omp", for_team(mixed_half_life_runs()), GetParam());
}

TEST_P(ThrustOmpStore, agrees_with_scalar_store_with_one_shared_half_life_told_to_the_tick) {
  expect_store_agrees_with_scalar("thrust-omp", for_team(shared_half_life_runs()), GetParam());
}

TEST_P(ThrustOmpStore, agrees_with_scalar_store_at_instants_far_apart) {
  expect_store_agrees_with_scalar("thrust-omp", for_team(far_apart_instant_runs()), GetParam());
}

TEST_P(ThrustOmpStore, agrees_with_scalar_store_at_slot_counts_around_vector_widths) {
  expect_store_agrees_with_scalar("thrust-omp", for_team(slot_count_runs()), GetParam());
}

TEST_P(ThrustOmpStore, agrees_with_scalar_store_on_many_slots) {
  expect_store_agrees_with_scalar("thrust-omp", for_team(many_slot_runs(GetParam())), GetParam());
}

TEST_P(ThrustOmpStore, u64_registry_agrees_with_scalar_backend) {
  for (std::uint64_t seed : {1u, 2u}) {
    registry_agrees_with_scalar<std::uint64_t>("thrust-omp", seed, 20'000);
  }
}

TEST_P(ThrustOmpStore, blob_registry_agrees_with_scalar_backend) {
  registry_agrees_with_scalar<BlobKey>("thrust-omp", 4, 20'000);
}

std::string team_name(const ::testing::TestParamInfo<unsigned>& info) {
  return info.param == 0 ? "all_threads" : std::to_string(info.param) + "_threads";
}

// 0 = every hardware thread; 3 = more threads than this CI machine has cores.
INSTANTIATE_TEST_SUITE_P(Teams, ThrustOmpStore, ::testing::Values(1u, 2u, 3u, 0u), team_name);

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
  const auto store = make_store("thrust-omp");
  constexpr Slot kSlots = 4097;
  store->ensure_slots(kSlots);
  for (Slot i = 0; i < kSlots; ++i) {
    store->init(i, 1'000'000'000, 0);
    if (i % 3 != 0) store->bump(i, i);
  }
  TickParams p;
  p.now = 2'000'000'000;
  std::vector<Candidate> out;
  store->set_threads(0);
  store->tick(p, out);
  EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all));
  for (const unsigned asked : {all + 1, 4096u}) {
    store->set_threads(asked);
    p.now += 1'000'000'000;
    out.clear();
    store->tick(p, out);
    EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all)) << "tick asked for " << asked;
    std::vector<Slot> prunable;
    store->collect_prunable(prunable);
    EXPECT_EQ(omp_get_max_threads(), static_cast<int>(all)) << "prune asked for " << asked;
  }
  store->set_threads(1);
  store->tick(p, out);
  EXPECT_EQ(omp_get_max_threads(), 1);
}

}  // namespace
}  // namespace heatkit::test
