// Keys chosen by an attacker. Keys arrive from peers, so a set whose hashes
// collide would turn every look-up into a walk of one long probe run (or
// pile every key into one shard). The index hashes with a secret per
// registry, and rehashes under a fresh one when a run grows long anyway:
// crafted keys cost what random keys cost, counted in probes (the buckets a
// look-up reads), for both key kinds and both registries, and whatever the
// index does, the answers are those of the same reads on any other secret.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "registry/concurrent_registry.h"
#include "registry/registry.h"
#include "tests/unit/crafted_keys.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::t0;

constexpr std::size_t kKeys = 20'000;

// Buckets a look-up of every key once reads, per key.
double probes_per_key(const IndexStats& stats) {
  return static_cast<double>(stats.probes) / static_cast<double>(std::max<std::size_t>(1, stats.keys));
}

template <class Key>
std::vector<Key> random_keys(std::size_t n) {
  std::vector<Key> keys;
  for (std::uint64_t i = 0; i < n; ++i) keys.push_back(test::random_key<Key>(i, 7));
  return keys;
}

template <class Key>
std::vector<Key> colliding_under_mix64(std::size_t n) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return test::keys_colliding_under_mix64(n);
  } else {
    return test::blobs_colliding_under_mix64(n);
  }
}

template <class Key>
void bump(ConcurrentHeatRegistryOf<Key>& registry, const Key& key) {
  registry.bump(key, 60s, t0());
}
template <class Key, class Hasher>
void bump(BasicHeatRegistry<Key, Hasher>& registry, const Key& key) {
  registry.entry(key, 60s, t0()).bump(t0());
}

// Bumps every key once into a fresh registry of type R (cap 0: nothing
// evicted, so every key stays to be looked up) and reports the index.
template <class R, class Key>
IndexStats index_after_bumping(const std::vector<Key>& keys, std::optional<std::uint64_t> seed,
                               std::size_t shards = 0) {
  RegistryOptions options;
  options.cap = 0;
  options.hash_seed = seed;
  auto registry = [&] {
    if constexpr (std::is_same_v<R, ConcurrentHeatRegistryOf<Key>>) {
      return std::make_unique<R>(options, shards);
    } else {
      return std::make_unique<R>(options);
    }
  }();
  for (const Key& key : keys) bump(*registry, key);
  EXPECT_EQ(registry->size(), keys.size());
  return registry->index_stats();
}

template <class Key>
class HostileKeys : public ::testing::Test {};
using KeyKinds = ::testing::Types<std::uint64_t, BlobKey>;
TYPED_TEST_SUITE(HostileKeys, KeyKinds);

// The crafted set is what it claims: under the unkeyed function every key
// of it has one home bucket, and a look-up walks the whole pile.
TYPED_TEST(HostileKeys, crafted_keys_pile_up_under_the_unkeyed_hash) {
  using Key = TypeParam;
  // Fewer keys: each insert walks the pile (quadratic), which is the point.
  const auto crafted = colliding_under_mix64<Key>(5'000);
  const auto random = random_keys<Key>(5'000);
  using Unkeyed = BasicHeatRegistry<Key, test::UnkeyedMix64>;
  const IndexStats piled = index_after_bumping<Unkeyed>(crafted, 1);
  const IndexStats spread = index_after_bumping<Unkeyed>(random, 1);
  EXPECT_GT(probes_per_key(piled), 100 * probes_per_key(spread))
      << "the crafted keys do not collide under mix64";
}

TYPED_TEST(HostileKeys, keys_crafted_against_the_unkeyed_hash_cost_what_random_keys_cost) {
  using Key = TypeParam;
  const auto crafted = colliding_under_mix64<Key>(kKeys);
  const auto random = random_keys<Key>(kKeys);
  // The OS's secret, and fixed ones (0 among them: no secret is weak).
  for (const std::optional<std::uint64_t> seed :
       {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{0}, std::optional<std::uint64_t>{42}}) {
    SCOPED_TRACE(seed ? std::to_string(*seed) : std::string("from the OS"));
    const IndexStats hostile = index_after_bumping<BasicHeatRegistry<Key>>(crafted, seed);
    const IndexStats baseline = index_after_bumping<BasicHeatRegistry<Key>>(random, seed);
    EXPECT_LT(probes_per_key(hostile), 2 * probes_per_key(baseline));
    EXPECT_LT(hostile.longest, 200u);
  }
}

TYPED_TEST(HostileKeys, concurrent_registry_spreads_crafted_keys_over_its_shards) {
  using Key = TypeParam;
  const auto crafted = colliding_under_mix64<Key>(kKeys);
  const auto random = random_keys<Key>(kKeys);
  constexpr std::size_t kShards = 16;
  RegistryOptions options;
  options.cap = 0;
  ConcurrentHeatRegistryOf<Key> registry(options, kShards);
  std::vector<std::size_t> per_shard(kShards, 0);
  for (const Key& key : crafted) ++per_shard[registry.shard_of(key)];
  // kKeys / kShards = 1,250 a shard, give or take a few dozen: nowhere near
  // all of them in one.
  EXPECT_LT(*std::max_element(per_shard.begin(), per_shard.end()), 2 * kKeys / kShards);

  using Concurrent = ConcurrentHeatRegistryOf<Key>;
  const IndexStats hostile = index_after_bumping<Concurrent>(crafted, std::nullopt, kShards);
  const IndexStats baseline = index_after_bumping<Concurrent>(random, std::nullopt, kShards);
  EXPECT_LT(probes_per_key(hostile), 2 * probes_per_key(baseline));
  EXPECT_LT(hostile.longest, 200u);
}

// An attacker who knows the secret (fixed by hash_seed, say) can make keys
// that share a home bucket under it. The index then rehashes under a fresh
// secret instead of walking ever longer runs.
TYPED_TEST(HostileKeys, keys_crafted_against_a_known_secret_make_the_index_rehash) {
  using Key = TypeParam;
  constexpr std::uint64_t kKnown = 0x5ec2e7;
  // Sharing the low 12 bits: at most 8,192 buckets for 6,000 keys, so at
  // most two homes, and runs of thousands before the defence.
  const auto crafted = test::keys_colliding_under<Key>(KeyHash(kKnown), 12, 6'000);
  const auto random = random_keys<Key>(crafted.size());

  RegistryOptions options;
  options.cap = 0;
  options.hash_seed = kKnown;
  BasicHeatRegistry<Key> registry(options);
  for (const Key& key : crafted) bump(registry, key);
  EXPECT_GE(registry.stats().hash_reseeds, 1u);
  EXPECT_NE(registry.hash_seed(), kKnown) << "still hashing with the secret the keys were made for";
  const IndexStats baseline = index_after_bumping<BasicHeatRegistry<Key>>(random, kKnown);
  EXPECT_LT(probes_per_key(registry.index_stats()), 2 * probes_per_key(baseline));
  EXPECT_LE(registry.index_stats().longest, kLongProbe);
  for (const Key& key : crafted) ASSERT_TRUE(registry.contains(key));

  // The same in a concurrent registry's shard (one shard: all the keys).
  ConcurrentHeatRegistryOf<Key> concurrent(options, 1);
  for (const Key& key : crafted) bump(concurrent, key);
  EXPECT_GE(concurrent.stats().hash_reseeds, 1u);
  EXPECT_LE(concurrent.index_stats().longest, kLongProbe);
  EXPECT_EQ(concurrent.hash_seed(), kKnown) << "the shard of a key never changes";
}

// The rehash may come in the middle of a batch (the reads hashed ahead are
// hashed again), of the bump queue, or of a concurrent registry's batch
// (whose reads were hashed with the registry's secret): each gives exactly
// the answers of a registry that never rehashed, bumping the same reads.
TYPED_TEST(HostileKeys, answers_do_not_depend_on_the_secret_or_a_rehash) {
  using Key = TypeParam;
  constexpr std::uint64_t kKnown = 0xfeed;
  std::vector<Key> reads = test::keys_colliding_under<Key>(KeyHash(kKnown), 12, 5'000);
  const std::vector<Key> others = random_keys<Key>(500);
  reads.insert(reads.end(), others.begin(), others.end());
  // Each key read, then again 40 reads later (after the reads a batch
  // hashes ahead, and before the index next grows), then all of them again a
  // half-life later.
  std::vector<std::pair<Key, Instant>> timed;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    timed.emplace_back(reads[i], t0());
    if (i >= 40) timed.emplace_back(reads[i - 40], t0() + 1s);
  }
  for (const Key& key : reads) timed.emplace_back(key, t0() + 60s);

  RegistryOptions options;
  options.cap = 4'000;  // evictions too
  BasicHeatRegistry<Key> reference(options);  // the OS's secret: never rehashes (kLongProbe)
  for (const auto& [key, at] : timed) reference.entry(key, 60s, at).bump(at);
  ASSERT_EQ(reference.stats().hash_reseeds, 0u);

  options.hash_seed = kKnown;
  BasicHeatRegistry<Key> batched(options);
  batched.bump_batch(timed, 60s);
  RegistryOptions queue_options = options;
  queue_options.bump_queue = kSuggestedBumpQueue;
  BasicHeatRegistry<Key> queued(queue_options);
  for (const auto& [key, at] : timed) queued.entry(key, 60s, at).bump(at);
  ConcurrentHeatRegistryOf<Key> concurrent(options, 1);
  concurrent.bump_batch(timed, 60s);

  const auto same_counters = [&](auto& registry, const char* name) {
    SCOPED_TRACE(name);
    EXPECT_GE(registry.stats().hash_reseeds, 1u) << "the crafted keys did not make it rehash";
    EXPECT_EQ(registry.stats().evictions, reference.stats().evictions);
    ASSERT_EQ(registry.size(), reference.size());
    for (const Key& key : reads) {
      const auto got = registry.get(key);
      const auto expected = reference.get(key);
      ASSERT_EQ(got.has_value(), expected.has_value());
      if (got) {
        ASSERT_EQ(got->rate(), expected->rate());
        ASSERT_EQ(got->last_update(), expected->last_update());
      }
    }
  };
  same_counters(batched, "bump_batch");
  same_counters(queued, "bump queue");
  same_counters(concurrent, "concurrent bump_batch");

  const Policy policy{true, 2.0f, 60s};
  const auto want = reference.tick(policy, t0() + 90s);
  const auto same_candidates = [&](auto& registry, const char* name) {
    SCOPED_TRACE(name);
    const auto got = registry.tick(policy, t0() + 90s);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(got[i].first, want[i].first) << i;
      ASSERT_EQ(got[i].second.kind, want[i].second.kind) << i;
      ASSERT_EQ(got[i].second.rate, want[i].second.rate) << i;
    }
  };
  same_candidates(batched, "bump_batch");
  same_candidates(queued, "bump queue");
  same_candidates(concurrent, "concurrent bump_batch");
}

}  // namespace
}  // namespace heatkit
