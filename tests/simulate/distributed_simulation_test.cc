// sim::DistributedSimulation (sim/distributed_simulation.h), run as N MPI
// ranks (tests/simulate/CMakeLists.txt: 1, 2 and 4): where no rank evicts,
// the sharded run's counts are the single-process run's; the ranks' figures
// add up to the totals; a bad config fails on every rank alike.
#include <mpi.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>

#include <heatkit/backend.h>
#include "sim/distributed_simulation.h"
#include "sim/simulation.h"
#include "tests/mpi/mpi_test_main.h"

namespace heatkit::sim {
namespace {

using test::world_rank;
using test::world_size;

SimulationConfig small_config() {
  SimulationConfig c;
  c.keys = 3000;
  c.reads_per_second = 30000;
  c.duration = std::chrono::seconds(6);
  c.half_life = std::chrono::seconds(2);  // withdrawals and prunes happen
  c.cap = 0;
  c.commit_failure_rate = 0.1;
  c.seed = 99;
  c.threads = 1;
  return c;
}

void expect_counts_of_one_process(const SimulationConfig& config) {
  const SimulationSummary single = run_simulation(config);
  const DistributedSimulationSummary sharded = run_distributed_simulation(MPI_COMM_WORLD, config);
  EXPECT_EQ(sharded.total.counts, single.counts);
  EXPECT_EQ(sharded.total.counters_live, single.counters_live);
  EXPECT_EQ(sharded.total.counters_peak, single.counters_peak);
  EXPECT_EQ(sharded.total.ticks, single.ticks);
  EXPECT_FALSE(sharded.total.reads_path.on_device);
  EXPECT_GT(single.counts.emits_committed, 0u);
}

TEST(ReadSlice, RanksCoverTheWindowInOrder) {
  for (const std::uint64_t reads : {1u, 3u, 7u, 1000u, 1048576u}) {
    for (const int ranks : {1, 2, 3, 4, 64}) {
      std::uint64_t next = 500;
      for (int r = 0; r < ranks; ++r) {
        const ReadSlice slice = read_slice(500, reads, r, ranks);
        EXPECT_EQ(slice.first, next) << reads << " reads, rank " << r << " of " << ranks;
        EXPECT_LE(slice.count, reads / static_cast<std::uint64_t>(ranks) + 1);
        next += slice.count;
      }
      EXPECT_EQ(next, 500 + reads) << reads << " reads, " << ranks << " ranks";
    }
  }
}

TEST(DistributedSimulation, CountsAreOneProcessesWithoutEviction) {
  expect_counts_of_one_process(small_config());
}

TEST(DistributedSimulation, CapNoRankFillsEvictsNothing) {
  SimulationConfig c = small_config();
  c.cap = c.keys * static_cast<std::uint64_t>(world_size());  // every rank's share holds every key
  EXPECT_FALSE(eviction_possible(c, world_size()));
  expect_counts_of_one_process(c);
}

TEST(DistributedSimulation, EvictionPossibleWhereAShareIsBelowTheKeys) {
  SimulationConfig c = small_config();
  c.cap = 0;
  EXPECT_FALSE(eviction_possible(c, 4));
  c.cap = c.keys;
  EXPECT_FALSE(eviction_possible(c, 1));
  EXPECT_TRUE(eviction_possible(c, 2));  // a rank may own more than half the keys
  c.cap = 2 * c.keys;
  EXPECT_FALSE(eviction_possible(c, 2));
  EXPECT_TRUE(eviction_possible(c, 3));
}

TEST(DistributedSimulation, TicksOfSeveralWindows) {
  SimulationConfig c = small_config();
  c.keys = 50000;
  c.reads_per_second = kReadsPerExchange + 12345;  // two windows a tick
  c.duration = std::chrono::seconds(2);
  expect_counts_of_one_process(c);
}

TEST(DistributedSimulation, RanksAddUpToTheTotals) {
  SimulationConfig c = small_config();
  c.cap = 1000;  // eviction on: the figures still add up
  const DistributedSimulationSummary s = run_distributed_simulation(MPI_COMM_WORLD, c);
  ASSERT_EQ(s.ranks.size(), static_cast<std::size_t>(world_size()));
  EXPECT_TRUE(s.eviction_possible);
  std::uint64_t generated = 0, applied = 0, live = 0, cap = 0;
  for (std::size_t r = 0; r < s.ranks.size(); ++r) {
    const RankSummary& rank = s.ranks[r];
    EXPECT_EQ(rank.rank, static_cast<int>(r));
    EXPECT_EQ(rank.counts.reads, rank.reads_applied);
    EXPECT_LE(rank.counters_live, rank.local_cap);
    generated += rank.reads_generated;
    applied += rank.reads_applied;
    live += rank.counters_live;
    cap += rank.local_cap;
    if (s.ranks.size() > 1) {
      EXPECT_GT(rank.bytes_sent, 0u);
    }
  }
  const std::uint64_t reads = reads_per_tick(c) * tick_count(c);
  EXPECT_EQ(generated, reads);
  EXPECT_EQ(applied, reads);
  EXPECT_EQ(s.total.counts.reads, reads);
  EXPECT_EQ(live, s.total.counters_live);
  EXPECT_EQ(cap, c.cap);
  EXPECT_LE(s.total.counters_live, c.cap);
  EXPECT_LE(s.total.counters_live, s.total.counters_peak);
}

TEST(DistributedSimulation, InvalidConfigThrowsOnEveryRank) {
  SimulationConfig c = small_config();
  c.keys = 0;
  EXPECT_THROW(DistributedSimulation(MPI_COMM_WORLD, c), InvalidSimulationConfig);
  if (world_size() > 1) {
    c = small_config();
    c.cap = 1;
    try {
      DistributedSimulation simulation(MPI_COMM_WORLD, c);
      ADD_FAILURE() << "a cap below the ranks was accepted";
    } catch (const InvalidSimulationConfig& e) {
      EXPECT_EQ(e.field(), ConfigField::kCap);
    }
  }
}

// Every rank fails alike: rank 0 throws the reason, the others name rank 0.
TEST(DistributedSimulation, UnavailableBackendThrowsOnEveryRank) {
  const BackendInfo cuda = backend_info("cuda");
  if (cuda.available) GTEST_SKIP() << "cuda runs here";
  SimulationConfig c = small_config();
  c.backend = "cuda";
  if (world_rank() == 0) {
    EXPECT_THROW(DistributedSimulation(MPI_COMM_WORLD, c), BackendUnavailable);
  } else {
    try {
      DistributedSimulation simulation(MPI_COMM_WORLD, c);
      ADD_FAILURE() << "an unavailable backend ran";
    } catch (const PeerRankFailed& e) {
      EXPECT_EQ(e.failed_rank(), 0);
    }
  }
}

TEST(EstimateMemoryPerRank, ShrinksWithTheRanksButKeepsTheTables) {
  SimulationConfig c = small_config();
  c.keys = 10'000'000;
  c.reads_per_second = 20'000'000;
  c.duration = std::chrono::seconds(1);
  const MemoryEstimate one = estimate_memory_per_rank(c, 1);
  const MemoryEstimate four = estimate_memory_per_rank(c, 4);
  EXPECT_EQ(one.tables, four.tables);
  EXPECT_LT(four.registry, one.registry / 2);
  EXPECT_GT(four.registry, one.registry / 8);
}

}  // namespace
}  // namespace heatkit::sim

int main(int argc, char** argv) { return heatkit::test::run_mpi_tests(argc, argv); }
