// The distributed registry's own rules (run under mpirun with 1 to 4 ranks):
// ownership agreed by every rank, the cap split over ranks, options that must
// match, failures on one rank seen by all before anything moves, and the
// bytes the exchange reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <heatkit/distributed_registry.h>
#include <heatkit/heatkit.h>

#include "tests/mpi/mpi_test_main.h"

namespace heatkit::test {
namespace {

RegistryOptions seeded(std::uint64_t seed, std::size_t cap = 0) {
  RegistryOptions o;
  o.cap = cap;
  o.hash_seed = seed;
  return o;
}

TEST(DistributedRegistry, EveryRankNamesTheSameOwnerAndOwnersSpread) {
  RegistryOptions unseeded;  // rank 0 draws the secret
  unseeded.cap = 0;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, unseeded);
  const int ranks = world_size();
  constexpr int kKeys = 4000;
  std::vector<int> mine(kKeys);
  for (int k = 0; k < kKeys; ++k) mine[static_cast<std::size_t>(k)] = registry.owner(static_cast<std::uint64_t>(k));
  std::vector<int> root(kKeys);
  std::copy(mine.begin(), mine.end(), root.begin());
  MPI_Bcast(root.data(), kKeys, MPI_INT, 0, MPI_COMM_WORLD);
  EXPECT_EQ(mine, root) << "rank " << world_rank() << " disagrees with rank 0 on owners";
  std::vector<int> per_rank(static_cast<std::size_t>(ranks), 0);
  for (const int owner : mine) {
    ASSERT_GE(owner, 0);
    ASSERT_LT(owner, ranks);
    ++per_rank[static_cast<std::size_t>(owner)];
  }
  // Sequential keys spread like random ones: within 20% of an even share.
  for (const int n : per_rank) EXPECT_NEAR(n, kKeys / ranks, 0.2 * kKeys / ranks);
  std::uint64_t root_seed = registry.ownership_seed();
  MPI_Bcast(&root_seed, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  EXPECT_EQ(registry.ownership_seed(), root_seed);
}

TEST(DistributedRegistry, CapIsSplitEvenlyAndEachRankEvictsItsOwnOldest) {
  const int ranks = world_size();
  const int rank = world_rank();
  const std::size_t cap = 10 * static_cast<std::size_t>(ranks) + 1;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, seeded(3, cap));
  EXPECT_EQ(registry.cap(), cap);
  EXPECT_EQ(registry.local_cap(), rank == 0 ? 11u : 10u);
  EXPECT_EQ(registry.local().cap(), registry.local_cap());
  // Rank 0 reads 40 keys per rank's worth, one instant each: every rank ends
  // full, holding its own most recent keys.
  std::vector<std::uint64_t> keys(40 * static_cast<std::size_t>(ranks));
  std::iota(keys.begin(), keys.end(), 1);
  std::vector<Instant> times;
  for (std::size_t i = 0; i < keys.size(); ++i) times.push_back(instant_from_ns(static_cast<std::int64_t>(i + 1)));
  const bool sends = rank == 0;
  registry.bump_batch(sends ? std::span<const std::uint64_t>(keys) : std::span<const std::uint64_t>(),
                      sends ? std::span<const Instant>(times) : std::span<const Instant>(), std::chrono::seconds(1));
  EXPECT_EQ(registry.local().size(), registry.local_cap());
  EXPECT_EQ(registry.size(), cap);
  // What a rank keeps is the newest local_cap() of the keys it owns.
  std::vector<std::uint64_t> owned;
  for (const std::uint64_t k : keys) {
    if (registry.owns(k)) owned.push_back(k);
  }
  ASSERT_GE(owned.size(), registry.local_cap());
  for (std::size_t i = 0; i < owned.size(); ++i) {
    const bool newest = i + registry.local_cap() >= owned.size();
    EXPECT_EQ(registry.local().contains(owned[i]), newest) << "key " << owned[i] << " on rank " << rank;
  }
}

TEST(DistributedRegistry, RefusesACapBelowTheRankCountOnEveryRank) {
  const int ranks = world_size();
  if (ranks == 1) GTEST_SKIP() << "one rank: every cap >= 1 fits";
  try {
    DistributedHeatRegistry registry(MPI_COMM_WORLD, seeded(3, static_cast<std::size_t>(ranks) - 1));
    ADD_FAILURE() << "a cap below the rank count was taken";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("cap"), std::string::npos) << e.what();
  }
}

TEST(DistributedRegistry, OptionsThatDifferBetweenRanksAreNamedOnEveryRank) {
  const int rank = world_rank();
  if (world_size() == 1) GTEST_SKIP() << "one rank has nothing to differ from";
  try {
    DistributedHeatRegistry registry(MPI_COMM_WORLD, seeded(3, rank == 1 ? 100 : 200));
    ADD_FAILURE() << "ranks with different caps made a registry";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("RegistryOptions::cap differs between ranks: 200 on rank 0, 100 on rank 1"),
              std::string::npos)
        << what;
  }
}

TEST(DistributedRegistry, ABadBatchOnOneRankFailsOnEveryRankAndChangesNothing) {
  const int rank = world_rank();
  const int ranks = world_size();
  const int bad = ranks - 1;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, seeded(9));
  const std::vector<std::uint64_t> keys = {1, 2, 3, 4, 5, 6, 7, 8};
  const Duration half_life = rank == bad ? Duration(-1) : std::chrono::seconds(1);
  try {
    registry.bump_batch(keys, half_life, instant_from_ns(10));
    ADD_FAILURE() << "a negative half-life on rank " << bad << " was taken";
  } catch (const PeerRankFailed& e) {
    EXPECT_NE(rank, bad);
    EXPECT_EQ(e.failed_rank(), bad);
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(rank, bad) << e.what();
    EXPECT_NE(std::string(e.what()).find("half_life"), std::string::npos) << e.what();
  }
  EXPECT_EQ(registry.size(), 0u) << "a failed batch applied reads";
  // Sizes that differ are refused the same way; then the registry goes on.
  const std::vector<Instant> one_time = {instant_from_ns(10)};
  EXPECT_ANY_THROW(registry.bump_batch(keys, rank == bad ? std::span<const Instant>(one_time)
                                                          : std::span<const Instant>(std::vector<Instant>(8, instant_from_ns(10))),
                                       std::chrono::seconds(1)));
  registry.bump_batch(keys, std::chrono::seconds(1), instant_from_ns(20));
  EXPECT_EQ(registry.size(), keys.size());
  EXPECT_DOUBLE_EQ(registry.get(3)->rate(), static_cast<double>(ranks));
}

TEST(DistributedRegistry, ABackendOneRankLacksFailsOnEveryRank) {
  const int rank = world_rank();
  const int bad = world_size() - 1;
  RegistryOptions options = seeded(4);
  options.backend = rank == bad ? "warp-drive" : "scalar";
  try {
    DistributedHeatRegistry registry(MPI_COMM_WORLD, options);
    ADD_FAILURE() << "a registry was made with an unknown backend on rank " << bad;
  } catch (const UnknownBackend& e) {
    EXPECT_EQ(rank, bad) << e.what();
  } catch (const PeerRankFailed& e) {
    EXPECT_NE(rank, bad);
    EXPECT_EQ(e.failed_rank(), bad);
  }
  // The ranks are still in step: a collective call works.
  DistributedHeatRegistry after(MPI_COMM_WORLD, seeded(4));
  EXPECT_EQ(after.size(), 0u);
}

TEST(DistributedRegistry, ReportsTheBytesItSendsToOtherRanks) {
  const int rank = world_rank();
  const int ranks = world_size();
  DistributedHeatRegistry registry(MPI_COMM_WORLD, seeded(17));
  std::vector<std::uint64_t> keys(1000);
  std::iota(keys.begin(), keys.end(), static_cast<std::uint64_t>(rank) * 1000);
  std::uint64_t to_others = 0;
  for (const std::uint64_t k : keys) to_others += registry.owner(k) != rank ? 1 : 0;
  registry.bump_batch(keys, std::chrono::seconds(1), instant_from_ns(1));
  const ExchangeStats& s = registry.exchange_stats();
  EXPECT_EQ(s.exchanges, 1u);
  EXPECT_EQ(s.reads_routed, keys.size());
  EXPECT_EQ(s.reads_applied, registry.local().size());
  // 16 bytes a read (key and instant), 16 a header to each other rank.
  const std::uint64_t header_bytes = 16 * static_cast<std::uint64_t>(ranks - 1);
  EXPECT_EQ(s.bytes_sent, 16 * to_others + header_bytes);
  std::uint64_t sent = s.bytes_sent;
  std::uint64_t received = s.bytes_received;
  std::uint64_t all_sent = 0;
  std::uint64_t all_received = 0;
  MPI_Allreduce(&sent, &all_sent, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&received, &all_received, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(all_sent, all_received);
  EXPECT_GE(s.seconds, 0.0);
}

TEST(DistributedRegistry, MpiErrorsNameTheCallTheRankAndMpisReason) {
  const MpiError e("MPI_Alltoallv", 3, MPI_ERR_TRUNCATE);
  EXPECT_EQ(e.call(), "MPI_Alltoallv");
  EXPECT_EQ(e.rank(), 3);
  EXPECT_EQ(e.code(), MPI_ERR_TRUNCATE);
  char reason[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(MPI_ERR_TRUNCATE, reason, &length);
  EXPECT_EQ(std::string(e.what()), "MPI_Alltoallv failed on rank 3: " + std::string(reason, static_cast<std::size_t>(length)));
  EXPECT_THROW(DistributedHeatRegistry(MPI_COMM_NULL, seeded(1)), std::invalid_argument);
}

}  // namespace
}  // namespace heatkit::test

int main(int argc, char** argv) { return heatkit::test::run_mpi_tests(argc, argv); }
