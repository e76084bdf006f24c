// The distributed registry gives one registry's answers (run under mpirun
// with 1 to 4 ranks): random batches from every rank, with instants that go
// backwards, ticks, rollbacks and commits, on both key types, with a cap no
// rank reaches; the reference is one `scalar` HeatRegistryOf fed the
// concatenation of the ranks' batches, rank by rank, which every rank runs
// itself. After every tick the union of the ranks' candidates equals the
// reference's (keys, decisions, rates within 1e-12) and each rank holds
// exactly the candidates of the keys it owns; get, size and the owner-only
// members agree too. The ranks use different backends.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <heatkit/distributed_registry.h>
#include <heatkit/heatkit.h>

#include "tests/mpi/mpi_test_main.h"

namespace heatkit::test {
namespace {

// The backends the ranks take turns with: answers must not depend on them.
std::string backend_of_rank(int rank) {
  std::vector<std::string> usable;
  for (const BackendInfo& b : list_backends()) {
    if (b.available && !b.device_columns) usable.push_back(b.name);
  }
  std::sort(usable.begin(), usable.end());
  return usable[static_cast<std::size_t>(rank) % usable.size()];
}

template <class Key>
Key key_number(std::uint64_t n) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return n * 0x9e3779b97f4a7c15ULL;
  } else {
    Key k{};
    std::memcpy(k.data(), &n, sizeof n);
    k[31] = static_cast<std::uint8_t>(n * 7);
    return k;
  }
}

template <class Key>
using Candidates = std::map<Key, HeatEmission>;

template <class Key>
Candidates<Key> as_map(const std::vector<std::pair<Key, HeatEmission>>& list) {
  Candidates<Key> out;
  for (const auto& [key, emission] : list) {
    EXPECT_TRUE(out.emplace(key, emission).second) << "a key is a candidate twice";
  }
  return out;
}

template <class Key>
void expect_same(const Candidates<Key>& got, const Candidates<Key>& want, const std::string& where) {
  EXPECT_EQ(got.size(), want.size()) << where;
  for (const auto& [key, emission] : want) {
    const auto it = got.find(key);
    if (it == got.end()) {
      ADD_FAILURE() << where << ": a candidate of the reference is missing";
      continue;
    }
    EXPECT_EQ(it->second.kind, emission.kind) << where;
    EXPECT_NEAR(it->second.rate, emission.rate, 1e-12 * std::max(1.0, std::fabs(emission.rate))) << where;
  }
}

// One rank's batch for one step: drawn from (seed, step, rank) alone, so
// every rank can make every rank's batch.
template <class Key>
struct Batch {
  std::vector<Key> keys;
  std::vector<Instant> times;
};

template <class Key>
Batch<Key> batch_of(std::uint64_t seed, int step, int rank, std::int64_t now_ns, std::uint64_t key_pool) {
  std::mt19937_64 rng(seed ^ (static_cast<std::uint64_t>(step) << 20) ^ static_cast<std::uint64_t>(rank));
  Batch<Key> b;
  const std::size_t n = rng() % 200;
  for (std::size_t i = 0; i < n; ++i) {
    // Reads cluster on a few hot keys, so counters cross the gate.
    const std::uint64_t k = rng() % 4 == 0 ? rng() % 8 : rng() % key_pool;
    b.keys.push_back(key_number<Key>(k));
    // Mostly just before now, some before the counter's last update.
    const auto back = static_cast<std::int64_t>(rng() % 3'000'000'000ULL);
    b.times.push_back(instant_from_ns(now_ns - back));
  }
  return b;
}

struct Scenario {
  std::size_t cap;           // global; never reached
  bool track_in_flight;
  std::uint64_t seed;
};

template <class Key>
void run_scenario(const Scenario& s) {
  const int rank = world_rank();
  const int ranks = world_size();
  constexpr std::uint64_t kKeyPool = 600;
  constexpr int kSteps = 60;
  const Duration half_life = std::chrono::seconds(5);
  Policy policy;
  policy.decay_half_life = half_life;
  policy.emit_threshold_ratio = 1.5f;

  RegistryOptions options;
  options.cap = s.cap;
  options.track_in_flight = s.track_in_flight;
  options.hash_seed = s.seed;
  options.backend = backend_of_rank(rank);
  DistributedHeatRegistryOf<Key> distributed(MPI_COMM_WORLD, options);

  RegistryOptions reference_options;
  reference_options.cap = 0;
  reference_options.track_in_flight = s.track_in_flight;
  reference_options.backend = "scalar";
  HeatRegistryOf<Key> reference(reference_options);

  std::int64_t now_ns = 1'000'000'000'000;
  for (int step = 0; step < kSteps; ++step) {
    now_ns += 700'000'000;
    for (int r = 0; r < ranks; ++r) {
      const Batch<Key> b = batch_of<Key>(s.seed, step, r, now_ns, kKeyPool);
      for (std::size_t i = 0; i < b.keys.size(); ++i) {
        reference.entry(b.keys[i], half_life, b.times[i]).bump(b.times[i]);
      }
      if (r == rank) distributed.bump_batch(b.keys, b.times, half_life);
    }
    if (step % 3 != 2) continue;

    // Tick, roll some back, commit the rest (every few ticks through rank 0).
    const Instant now = instant_from_ns(now_ns);
    const auto want_all = reference.tick(policy, now);
    const auto mine = distributed.tick(policy, now);
    const std::string where = "step " + std::to_string(step) + " on rank " + std::to_string(rank);
    Candidates<Key> want_mine;
    for (const auto& [key, emission] : want_all) {
      if (distributed.owner(key) == rank) want_mine.emplace(key, emission);
    }
    expect_same(as_map(mine), want_mine, where + " (this rank's candidates)");
    const auto gathered = distributed.gather(mine, 0);
    if (rank == 0) expect_same(as_map(gathered), as_map(want_all), where + " (the union on rank 0)");

    const auto fails = [&](const Key& key) {
      std::uint64_t word = 0;
      std::memcpy(&word, &key, sizeof word);
      return (word ^ static_cast<std::uint64_t>(step)) % 5 == 0;
    };
    typename HeatRegistryOf<Key>::Emissions kept_all;
    for (const auto& c : want_all) {
      if (fails(c.first)) {
        reference.rollback(c.first);
      } else {
        kept_all.push_back(c);
      }
    }
    reference.commit(kept_all);
    typename HeatRegistryOf<Key>::Emissions kept_mine;
    for (const auto& c : mine) {
      // Every rank names every candidate's key: only its owner acts.
      if (fails(c.first)) {
        EXPECT_TRUE(distributed.rollback(c.first));
      } else {
        kept_mine.push_back(c);
      }
    }
    const bool through_root = step % 2 == 0;
    const auto kept_gathered = distributed.gather(kept_mine, 0);
    if (through_root) {
      distributed.commit(rank == 0 ? std::span(kept_gathered) : std::span<const std::pair<Key, HeatEmission>>());
    } else {
      distributed.commit(kept_mine);
    }

    EXPECT_EQ(distributed.size(), reference.size()) << where;
    for (std::uint64_t k = 0; k < 12; ++k) {
      const Key key = key_number<Key>((k * 53 + static_cast<std::uint64_t>(step)) % kKeyPool);
      const auto got = distributed.get(key);
      const auto want = reference.get(key);
      EXPECT_EQ(got.has_value(), want.has_value()) << where;
      if (got && want) {
        EXPECT_NEAR(got->rate(), want->rate(), 1e-12 * std::max(1.0, want->rate())) << where;
        EXPECT_EQ(got->last_update(), want->last_update()) << where;
        EXPECT_EQ(got->last_emitted().has_value(), want->last_emitted().has_value()) << where;
        if (got->last_emitted() && want->last_emitted()) {
          EXPECT_NEAR(*got->last_emitted(), *want->last_emitted(), 1e-12 * std::max(1.0, *want->last_emitted()));
        }
      }
    }
  }
  EXPECT_EQ(distributed.local().stats().evictions, 0u);
}

TEST(DistributedRegistry, U64KeysGiveOneRegistrysAnswers) {
  run_scenario<std::uint64_t>({0, false, 11});
  run_scenario<std::uint64_t>({4096, true, 12});
}

TEST(DistributedRegistry, BlobKeysGiveOneRegistrysAnswers) {
  run_scenario<BlobKey>({0, true, 21});
  run_scenario<BlobKey>({2048, false, 22});
}

// touch, decay and remove act on the owner alone; every rank may name the key.
TEST(DistributedRegistry, OwnerOnlyMembersMatchOneRegistry) {
  const int rank = world_rank();
  RegistryOptions options;
  options.cap = 0;
  options.hash_seed = 5;
  DistributedHeatRegistry distributed(MPI_COMM_WORLD, options);
  RegistryOptions reference_options;
  reference_options.cap = 0;
  reference_options.backend = "scalar";
  HeatRegistry reference(reference_options);
  const Duration h = std::chrono::seconds(2);
  const Instant t = instant_from_ns(5'000'000'000);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t k = 1; k <= 40; ++k) keys.push_back(k);
  distributed.bump_batch(rank == 0 ? std::span<const std::uint64_t>(keys) : std::span<const std::uint64_t>(),
                         h, t);
  for (const std::uint64_t k : keys) reference.entry(k, h, t).bump(t);
  for (std::uint64_t k = 1; k <= 40; ++k) {
    const Instant later = t + std::chrono::milliseconds(k * 100);
    if (k % 4 == 0) {
      EXPECT_EQ(distributed.remove(k), distributed.owns(k));
      reference.remove(k);
    } else if (k % 4 == 1) {
      EXPECT_EQ(distributed.decay(k, later), distributed.owns(k));
      reference.entry(k, h, later).decay_to(later);
    } else if (k % 4 == 2) {
      EXPECT_EQ(distributed.touch(k + 100, h, later), distributed.owns(k + 100));
      reference.entry(k + 100, h, later);
    }
  }
  EXPECT_EQ(distributed.size(), reference.size());
  for (std::uint64_t k = 1; k <= 140; ++k) {
    const auto got = distributed.get(k);
    const auto want = reference.get(k);
    ASSERT_EQ(got.has_value(), want.has_value()) << "key " << k;  // the same on every rank: safe
    if (got) {
      EXPECT_DOUBLE_EQ(got->rate(), want->rate()) << "key " << k;
      EXPECT_EQ(got->last_update(), want->last_update()) << "key " << k;
    }
  }
}

}  // namespace
}  // namespace heatkit::test

int main(int argc, char** argv) { return heatkit::test::run_mpi_tests(argc, argv); }
