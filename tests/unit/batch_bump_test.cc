// The batch bump API against its definition: bump_batch(keys, half_life, now)
// is `for k: entry(k, half_life, now).bump(now)` and the (key, instant) batch
// is the same with each read at its own instant. Two registries see the same
// random operations, one through batches and one key by key; after every
// step they must hold the same keys in the same slots with bit-equal
// counters, the same statistics, and give the same tick output. Small caps
// make batches evict (the eviction order and its tie-break are part of the
// result), universes larger than a batch make them create, repeated keys in a
// batch make duplicates, and unbounded runs make a batch grow the columns
// while it prefetches. Both key kinds, every host backend.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "registry/concurrent_registry.h"
#include "registry/registry.h"
#include "math/random.h"
#include "tests/unit/crafted_keys.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::Rng;
using test::same_counter;
using test::same_double;
using test::t0;

template <class Key>
Key key_of(std::uint64_t i) {
  return test::random_key<Key>(i, 1);
}

std::string counter_text(const std::optional<HeatCounter>& c) {
  if (!c) return "absent";
  std::ostringstream out;
  out.precision(17);
  out << "rate " << c->rate() << ", last_update " << to_ns(c->last_update()) << ", half_life "
      << c->half_life().count() << ", last_emitted ";
  if (c->last_emitted()) {
    out << *c->last_emitted();
  } else {
    out << "none";
  }
  return out.str();
}

// Everything observable about two registries, compared; empty when equal.
template <class Key, class Hasher>
std::string difference(const BasicHeatRegistry<Key, Hasher>& batched,
                       const BasicHeatRegistry<Key, Hasher>& sequential, const std::vector<Key>& universe) {
  std::ostringstream out;
  if (batched.size() != sequential.size()) {
    out << "size " << batched.size() << " vs " << sequential.size();
    return out.str();
  }
  if (batched.stats().evictions != sequential.stats().evictions ||
      batched.stats().pruned != sequential.stats().pruned) {
    out << "evictions " << batched.stats().evictions << " vs " << sequential.stats().evictions
        << ", pruned " << batched.stats().pruned << " vs " << sequential.stats().pruned;
    return out.str();
  }
  for (std::size_t i = 0; i < universe.size(); ++i) {
    const auto a = batched.get(universe[i]);
    const auto b = sequential.get(universe[i]);
    if (!same_counter(a, b)) {
      out << "key #" << i << ": " << counter_text(a) << " vs " << counter_text(b);
      return out.str();
    }
    if (batched.in_flight(universe[i]) != sequential.in_flight(universe[i])) {
      out << "key #" << i << ": in flight differs";
      return out.str();
    }
  }
  // Same keys in the same slots (for_each walks slot order): creation, the
  // free list and evictions happened in the same order.
  std::vector<Key> slots_a, slots_b;
  batched.for_each([&](const Key& k, const HeatCounter&) { slots_a.push_back(k); });
  sequential.for_each([&](const Key& k, const HeatCounter&) { slots_b.push_back(k); });
  if (slots_a != slots_b) return "keys sit in different slots";
  return {};
}

// A tick of both registries at `now`, then a commit of most candidates and a
// rollback of the rest (the same on both). Empty when the ticks agree, else
// what differed.
template <class Key>
std::string tick_and_commit_both(BasicHeatRegistry<Key>& a, BasicHeatRegistry<Key>& b, Instant now, Rng& rng) {
  const auto from_a = a.tick(Policy{}, now);
  const auto from_b = b.tick(Policy{}, now);
  if (!test::same_emissions(from_a, from_b)) return "tick output differs";
  std::vector<std::pair<Key, HeatEmission>> committed;
  for (const auto& item : from_a) {
    if (rng.chance(80)) {
      committed.push_back(item);
    } else {
      a.rollback(item.first);
      b.rollback(item.first);
    }
  }
  a.commit(committed);
  b.commit(committed);
  return {};
}

enum class BatchKind { kOneInstant, kTimed };

struct RunConfig {
  std::string backend;
  std::size_t cap;         // 0 = unbounded
  std::size_t universe;    // distinct keys drawn from
  std::size_t max_batch;   // batch lengths are drawn from [0, max_batch]
  BatchKind kind;
  std::uint64_t seed;
  int rounds;
};

// Batches on one registry, key-by-key bumps on the other, ticks and commits
// on both; compares after every round.
template <class Key>
void run_batches_against_sequential(const RunConfig& config) {
  RegistryOptions options;
  options.cap = config.cap;
  options.backend = config.backend;
  options.track_in_flight = (config.seed & 1) != 0;
  BasicHeatRegistry<Key> batched(options);
  BasicHeatRegistry<Key> sequential(options);
  Rng rng(config.seed);
  std::vector<Key> universe;
  for (std::size_t i = 0; i < config.universe; ++i) {
    universe.push_back(key_of<Key>(config.seed * 100'000 + i));
  }
  // A few keys far more often than the rest, so batches repeat keys.
  const auto draw_key = [&]() -> const Key& {
    return rng.chance(30) ? universe[rng.below(std::min<std::size_t>(8, universe.size()))]
                          : universe[rng.below(universe.size())];
  };
  static const Duration kHalfLives[] = {60s, 60s, 1s, 0s, 3600s};
  Instant now = t0();
  std::uint64_t evictions_seen = 0;

  for (int round = 0; round < config.rounds; ++round) {
    // Time moves forward, stays, or goes back.
    const std::uint64_t move = rng.below(10);
    if (move < 5) {
      now += Duration(static_cast<std::int64_t>(rng.below(3'000'000'000)));
    } else if (move < 7) {
      now -= Duration(static_cast<std::int64_t>(rng.below(1'000'000'000)));
    } else if (move == 7) {
      now += 60s * static_cast<std::int64_t>(rng.below(70));
    }
    const Duration half_life = rng.pick(kHalfLives);
    const std::size_t length = rng.below(config.max_batch + 1);
    const char* op = "";

    if (config.kind == BatchKind::kOneInstant) {
      op = "bump_batch(keys, now)";
      std::vector<Key> keys;
      for (std::size_t i = 0; i < length; ++i) keys.push_back(draw_key());
      batched.bump_batch(keys, half_life, now);
      for (const Key& k : keys) sequential.entry(k, half_life, now).bump(now);
    } else {
      op = "bump_batch(reads)";
      std::vector<std::pair<Key, Instant>> reads;
      Instant at = now;
      for (std::size_t i = 0; i < length; ++i) {
        // Each read at its own instant, wandering both ways.
        const std::uint64_t step = rng.below(10);
        if (step < 4) {
          at += Duration(static_cast<std::int64_t>(rng.below(100'000'000)));
        } else if (step < 7) {
          at -= Duration(static_cast<std::int64_t>(rng.below(100'000'000)));
        }
        reads.emplace_back(draw_key(), at);
      }
      batched.bump_batch(reads, half_life);
      for (const auto& [k, t] : reads) sequential.entry(k, half_life, t).bump(t);
    }
    if (const std::string d = difference(batched, sequential, universe); !d.empty()) {
      FAIL() << "seed " << config.seed << ", round " << round << " after " << op << " of "
             << length << ": " << d;
    }

    // Now and then a tick and a commit of most of its candidates.
    if (rng.chance(20)) {
      const std::string ticked = tick_and_commit_both(batched, sequential, now, rng);
      ASSERT_TRUE(ticked.empty()) << "seed " << config.seed << ", round " << round << ": " << ticked;
      if (const std::string d = difference(batched, sequential, universe); !d.empty()) {
        FAIL() << "seed " << config.seed << ", round " << round << " after tick+commit: " << d;
      }
    }
    evictions_seen = sequential.stats().evictions;
  }
  // The run exercised what it claims to.
  if (config.cap > 0 && config.universe > config.cap) {
    EXPECT_GT(evictions_seen, 0u) << "no evictions";
  }
  // And a last tick agrees.
  const auto a = batched.tick(Policy{}, now + 1s);
  const auto b = sequential.tick(Policy{}, now + 1s);
  EXPECT_TRUE(test::same_emissions(a, b)) << "final tick output differs";
}

class BatchBump : public ::testing::TestWithParam<std::string> {};

std::vector<std::string> host_backends() {
  std::vector<std::string> names;
  for (const BackendInfo& b : list_backends()) {
    if (b.available && (b.name == "scalar" || b.name == "highway")) names.push_back(b.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(Backends, BatchBump, ::testing::ValuesIn(host_backends()),
                         [](const auto& backend) { return backend.param; });

TEST_P(BatchBump, batch_at_one_instant_equals_bumping_each_in_turn_u64) {
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    run_batches_against_sequential<std::uint64_t>(
        {GetParam(), 48, 160, 100, BatchKind::kOneInstant, seed, 300});
  }
}

TEST_P(BatchBump, batch_at_one_instant_equals_bumping_each_in_turn_blob) {
  for (std::uint64_t seed = 5; seed <= 8; ++seed) {
    run_batches_against_sequential<BlobKey>(
        {GetParam(), 48, 160, 100, BatchKind::kOneInstant, seed, 300});
  }
}

TEST_P(BatchBump, timed_batch_equals_bumping_each_in_turn_with_time_going_backwards_u64) {
  for (std::uint64_t seed = 11; seed <= 14; ++seed) {
    run_batches_against_sequential<std::uint64_t>(
        {GetParam(), 48, 160, 100, BatchKind::kTimed, seed, 300});
  }
}

TEST_P(BatchBump, timed_batch_equals_bumping_each_in_turn_with_time_going_backwards_blob) {
  for (std::uint64_t seed = 15; seed <= 18; ++seed) {
    run_batches_against_sequential<BlobKey>(
        {GetParam(), 48, 160, 100, BatchKind::kTimed, seed, 300});
  }
}

// Keys that are nearly all resident: with the universe within the cap, after
// the first rounds nearly every read is bumped on the slot its stage guessed
// (registry.h, bump_each); a universe a bit over the cap mixes in keys to
// create (and evict for), after which the later reads are guessed again.
TEST_P(BatchBump, batch_of_mostly_resident_keys_equals_bumping_each_in_turn) {
  run_batches_against_sequential<std::uint64_t>(
      {GetParam(), 200, 200, 100, BatchKind::kOneInstant, 41, 150});
  run_batches_against_sequential<std::uint64_t>({GetParam(), 200, 200, 100, BatchKind::kTimed, 42, 150});
  run_batches_against_sequential<BlobKey>({GetParam(), 200, 200, 100, BatchKind::kTimed, 43, 150});
  run_batches_against_sequential<std::uint64_t>({GetParam(), 190, 200, 100, BatchKind::kTimed, 44, 150});
}

// A cap of one: every new key of a batch evicts the previous one.
TEST_P(BatchBump, batch_at_cap_one_evicts_like_single_bumps) {
  run_batches_against_sequential<std::uint64_t>(
      {GetParam(), 1, 5, 40, BatchKind::kOneInstant, 21, 200});
  run_batches_against_sequential<BlobKey>({GetParam(), 1, 5, 40, BatchKind::kTimed, 22, 200});
}

// Unbounded and long batches of mostly new keys: the columns, keys and index
// grow (and move) in the middle of a batch.
TEST_P(BatchBump, batch_that_grows_the_registry_equals_bumping_each_in_turn) {
  run_batches_against_sequential<std::uint64_t>(
      {GetParam(), 0, 20'000, 3'000, BatchKind::kOneInstant, 31, 12});
  run_batches_against_sequential<BlobKey>(
      {GetParam(), 0, 20'000, 3'000, BatchKind::kTimed, 32, 12});
}

// Keys whose hashes agree in their low 16 bits (the home bucket of any index
// up to 65,536 buckets) and their top 32 (the tag, whatever the slot width),
// under an index hashing with mix64 (undone to make them):
// the index tells them apart only by comparing keys, and the batch's guess
// from the bucket line (the first tag match) is the same slot for all of
// them. Each key must still bump its own counter, as single bumps do.
TEST_P(BatchBump, keys_sharing_home_bucket_and_tag_bump_their_own_counters) {
  std::vector<std::uint64_t> universe;
  for (std::uint64_t j = 0; j < 40; ++j) {
    universe.push_back(test::unmix64(0x5eedc0de00000000ULL | (j + 1) << 16 | 0x2a));
  }
  for (std::uint64_t j = 0; j < 40; ++j) universe.push_back(key_of<std::uint64_t>(j));
  for (const std::size_t cap : {std::size_t{0}, std::size_t{24}}) {
    RegistryOptions options;
    options.cap = cap;
    options.backend = GetParam();
    BasicHeatRegistry<std::uint64_t, test::UnkeyedMix64> batched(options);
    BasicHeatRegistry<std::uint64_t, test::UnkeyedMix64> sequential(options);
    Rng rng(cap + 5);
    Instant now = t0();
    for (int round = 0; round < 60; ++round) {
      now += Duration(static_cast<std::int64_t>(rng.below(2'000'000'000)));
      std::vector<std::uint64_t> keys;
      for (std::uint64_t i = rng.below(50); i > 0; --i) {
        // Mostly the colliding keys, some of them repeatedly.
        keys.push_back(universe[rng.chance(70) ? rng.below(40) : rng.below(universe.size())]);
      }
      batched.bump_batch(keys, 30s, now);
      for (const std::uint64_t k : keys) sequential.entry(k, 30s, now).bump(now);
      const std::string d = difference(batched, sequential, universe);
      ASSERT_TRUE(d.empty()) << "cap " << cap << ", round " << round << ": " << d;
    }
    EXPECT_GT(batched.size(), 20u) << "cap " << cap << ": the colliding keys were not resident";
  }
}

TEST(BatchBumpEdges, empty_batch_changes_nothing) {
  HeatRegistry r = HeatRegistry::with_cap(4);
  r.entry(7, 60s, t0()).bump(t0());
  r.bump_batch(std::span<const std::uint64_t>{}, 60s, t0() + 5s);
  r.bump_batch(std::span<const std::pair<std::uint64_t, Instant>>{}, 60s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.get(7)->last_update(), t0()) << "an empty batch touched a counter";
  EXPECT_EQ(r.get(7)->rate(), 1.0);
}

TEST(BatchBumpEdges, negative_half_life_throws_before_anything_changes) {
  HeatRegistry r = HeatRegistry::with_cap(4);
  const std::vector<std::uint64_t> keys{1, 2, 3};
  EXPECT_THROW(r.bump_batch(keys, -1ns, t0()), std::invalid_argument);
  const std::vector<std::pair<std::uint64_t, Instant>> reads{{1, t0()}, {2, t0()}};
  EXPECT_THROW(r.bump_batch(reads, -1ns), std::invalid_argument);
  EXPECT_EQ(r.size(), 0u);
}

TEST(BatchBumpEdges, duplicates_in_one_batch_each_count) {
  HeatRegistry r = HeatRegistry::with_cap(4);
  const std::vector<std::uint64_t> keys{9, 9, 9, 4, 9};
  r.bump_batch(keys, 3600s, t0());
  ASSERT_TRUE(r.get(9).has_value());
  EXPECT_EQ(r.get(9)->rate(), 4.0) << "same instant: no decay between duplicates";
  EXPECT_EQ(r.get(4)->rate(), 1.0);
  EXPECT_EQ(r.size(), 2u);
}

// The batch keeps the counter's half-life of its creation, as entry() does.
TEST(BatchBumpEdges, existing_keys_keep_their_half_life) {
  BlobHeatRegistry r = BlobHeatRegistry::with_cap(8);
  const BlobKey k = test::hash(3);
  r.entry(k, 10s, t0()).bump(t0());
  const std::vector<BlobKey> keys{k, test::hash(4)};
  r.bump_batch(keys, 99s, t0() + 10s);
  EXPECT_EQ(r.get(k)->half_life(), 10s);
  EXPECT_EQ(r.get(k)->rate(), 1.5) << "decayed one half-life, then bumped";
  EXPECT_EQ(r.get(test::hash(4))->half_life(), 99s);
}


// ---------------------------------------------------------------------------
// The bump queue (RegistryOptions::bump_queue): a registry that queues reads
// against one that applies each at its call, under the same random calls:
// entry() alone and with its bump, bumps at another instant than the
// entry's, an entry kept while other keys are read and bumped later (and
// twice), reads of an entry (which apply the queue), decay_to, emissions
// recorded, removes, batches, ticks and commits. The two are compared only
// now and then, so the queue also fills up and applies itself in between.

template <class Key>
void run_queue_against_direct(const std::string& backend, std::size_t cap, std::size_t universe_size,
                              std::size_t queue, std::uint64_t seed, int steps) {
  RegistryOptions options;
  options.cap = cap;
  options.backend = backend;
  options.track_in_flight = (seed & 1) != 0;
  BasicHeatRegistry<Key> direct(options);
  options.bump_queue = queue;
  BasicHeatRegistry<Key> queued(options);
  ASSERT_EQ(queued.bump_queue(), queue);
  Rng rng(seed);
  std::vector<Key> universe;
  for (std::size_t i = 0; i < universe_size; ++i) universe.push_back(key_of<Key>(seed * 100'000 + i));
  const auto draw_key = [&]() -> const Key& {
    return rng.chance(30) ? universe[rng.below(std::min<std::size_t>(8, universe.size()))]
                          : universe[rng.below(universe.size())];
  };
  static const Duration kHalfLives[] = {60s, 60s, 60s, 1s, 0s, 3600s};
  Instant now = t0();
  const auto wander = [&]() {
    const std::uint64_t move = rng.below(10);
    if (move < 5) {
      now += Duration(static_cast<std::int64_t>(rng.below(300'000'000)));
    } else if (move < 7) {
      now -= Duration(static_cast<std::int64_t>(rng.below(100'000'000)));
    } else if (move == 7) {
      now += 60s * static_cast<std::int64_t>(rng.below(70));
    }
  };
  const auto context = [&](int step, const char* op) {
    std::ostringstream out;
    out << "queue " << queue << ", cap " << cap << ", seed " << seed << ", step " << step << " after " << op;
    return out.str();
  };
  std::uint64_t operations[12] = {};

  for (int step = 0; step < steps; ++step) {
    wander();
    const Duration half_life = rng.pick(kHalfLives);
    const Key& k = draw_key();
    const std::uint64_t choice = rng.below(100);
    const char* op = "";
    // The same call on both registries.
    const auto on_both = [&](auto&& call) {
      call(direct);
      call(queued);
    };
    if (choice < 45) {
      op = "entry(k).bump(now)";
      ++operations[0];
      on_both([&](auto& r) { r.entry(k, half_life, now).bump(now); });
    } else if (choice < 55) {
      op = "entry(k) alone";
      ++operations[1];
      on_both([&](auto& r) { r.entry(k, half_life, now); });
    } else if (choice < 62) {
      op = "entry(k, t).bump(later)";
      ++operations[2];
      const Instant later = now + Duration(static_cast<std::int64_t>(rng.below(2'000'000'000)));
      on_both([&](auto& r) { r.entry(k, half_life, now).bump(later); });
    } else if (choice < 67) {
      op = "entry(k).bump(); .bump() again";
      ++operations[3];
      on_both([&](auto& r) {
        auto e = r.entry(k, half_life, now);
        e.bump(now);
        e.bump(now + 1s);
      });
    } else if (choice < 72) {
      // An entry kept while a resident key is read: no insert, so the entry
      // stays valid (in the direct registry, by the Entry contract).
      op = "entry(k) kept, entry(resident) with or without bump(), kept.bump()";
      ++operations[4];
      const Key& other = draw_key();
      auto a = direct.entry(k, half_life, now);
      auto b = queued.entry(k, half_life, now);
      // Asked after k's entry (which may have evicted `other`): reading a
      // resident key inserts nothing.
      const bool read_other = direct.contains(other);
      const bool bump_other = rng.chance(50);  // else the last queued read has no bump
      if (read_other) {
        on_both([&](auto& r) {
          auto o = r.entry(other, half_life, now);
          if (bump_other) o.bump(now);
        });
      }
      a.bump(now + 2s);
      b.bump(now + 2s);
    } else if (choice < 78) {
      op = "entry(k).counter()";
      ++operations[5];
      const HeatCounter a = direct.entry(k, half_life, now).counter();
      const HeatCounter b = queued.entry(k, half_life, now).counter();
      ASSERT_TRUE(same_counter(a, b)) << context(step, op) << ": " << counter_text(a) << " vs " << counter_text(b);
    } else if (choice < 82) {
      op = "entry(k).decay_to(now)";
      ++operations[6];
      on_both([&](auto& r) { r.entry(k, half_life, now).decay_to(now); });
    } else if (choice < 85) {
      op = "entry(k).record_emission()";
      ++operations[7];
      const double rate = static_cast<double>(rng.below(1000)) / 100.0;
      on_both([&](auto& r) { r.entry(k, half_life, now).record_emission(rate); });
    } else if (choice < 88) {
      op = "remove(k)";
      ++operations[8];
      on_both([&](auto& r) { r.remove(k); });
    } else if (choice < 91) {
      op = "bump_batch";
      ++operations[9];
      std::vector<Key> keys;
      for (std::uint64_t i = rng.below(40); i > 0; --i) keys.push_back(draw_key());
      on_both([&](auto& r) { r.bump_batch(keys, half_life, now); });
    } else if (choice < 95) {
      op = "tick+commit";
      ++operations[10];
      const std::string ticked = tick_and_commit_both(direct, queued, now, rng);
      ASSERT_TRUE(ticked.empty()) << context(step, op) << ": " << ticked;
    } else {
      op = "compare";
      ++operations[11];
      if (const std::string d = difference(queued, direct, universe); !d.empty()) {
        FAIL() << context(step, op) << ": " << d;
      }
    }
  }
  if (const std::string d = difference(queued, direct, universe); !d.empty()) FAIL() << "at the end: " << d;
  for (const std::uint64_t count : operations) EXPECT_GT(count, 0u) << "an operation never ran";
  if (cap > 0 && universe_size > cap) {
    EXPECT_GT(direct.stats().evictions, 0u) << "no evictions";
  }
}

TEST_P(BatchBump, bump_queue_equals_applying_each_read_at_its_call_u64) {
  for (const std::size_t queue : {std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{256}}) {
    run_queue_against_direct<std::uint64_t>(GetParam(), 48, 160, queue, 100 + queue, 4000);
  }
}

TEST_P(BatchBump, bump_queue_equals_applying_each_read_at_its_call_blob) {
  for (const std::size_t queue : {std::size_t{2}, std::size_t{64}}) {
    run_queue_against_direct<BlobKey>(GetParam(), 48, 160, queue, 200 + queue, 4000);
  }
}

TEST_P(BatchBump, bump_queue_at_cap_one_and_unbounded_equals_applying_each_read) {
  run_queue_against_direct<std::uint64_t>(GetParam(), 1, 5, 16, 301, 3000);
  run_queue_against_direct<std::uint64_t>(GetParam(), 0, 5'000, 256, 302, 6000);
  run_queue_against_direct<BlobKey>(GetParam(), 0, 5'000, 100, 303, 6000);
}

TEST(BumpQueue, reads_wait_until_the_queue_is_full_or_something_else_is_called) {
  RegistryOptions options;
  options.bump_queue = 4;
  HeatRegistry r(options);
  for (std::uint64_t k = 1; k <= 4; ++k) r.entry(k, 60s, t0()).bump(t0());
  EXPECT_EQ(r.queued_reads(), 4u) << "bump() right after entry() joins its read";
  r.entry(5, 60s, t0()).bump(t0());
  EXPECT_EQ(r.queued_reads(), 1u) << "a full queue is applied before the next read joins it";
  const HeatRegistry& view = r;
  EXPECT_EQ(view.size(), 5u) << "a const member must apply the queue";
  EXPECT_EQ(r.queued_reads(), 0u);
  r.entry(4, 60s, t0() + 60s).bump(t0() + 60s);
  EXPECT_EQ(r.get(4)->rate(), 1.5) << "decayed one half-life, then bumped";
  EXPECT_EQ(r.bump_queue(), 4u);
  r.entry(6, 60s, t0());
  r.set_bump_queue(0);
  EXPECT_EQ(r.queued_reads(), 0u) << "set_bump_queue applies the queue";
  EXPECT_EQ(r.bump_queue(), 0u);
  r.entry(7, 60s, t0()).bump(t0());
  EXPECT_EQ(r.queued_reads(), 0u);
  EXPECT_EQ(r.size(), 7u);
}

TEST(BumpQueue, queue_counts_in_memory_usage) {
  RegistryOptions options;
  options.bump_queue = 1000;
  HeatRegistry r(options);
  const std::size_t before = r.memory_usage().other;
  for (std::uint64_t k = 0; k < 500; ++k) r.entry(k, 60s, t0()).bump(t0());
  EXPECT_GT(r.memory_usage().other, before) << "the queue's storage is not counted";
  EXPECT_EQ(r.size(), 500u);
}

TEST(BumpQueue, negative_half_life_throws_at_the_call_and_queues_nothing) {
  RegistryOptions options;
  options.bump_queue = 8;
  HeatRegistry r(options);
  r.entry(1, 60s, t0()).bump(t0());
  EXPECT_THROW(r.entry(2, -1ns, t0()), std::invalid_argument);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_FALSE(r.contains(2));
}

TEST(BumpQueue, entry_used_after_its_key_was_evicted_throws_instead_of_touching_another_key) {
  RegistryOptions options;
  options.cap = 1;
  options.bump_queue = 8;
  HeatRegistry r(options);
  auto first = r.entry(1, 60s, t0());
  r.entry(2, 60s, t0() + 1s).bump(t0() + 1s);  // evicts key 1 when applied
  EXPECT_THROW(first.bump(t0() + 2s), std::logic_error);
  EXPECT_EQ(r.get(2)->rate(), 1.0) << "key 2's counter was touched through key 1's entry";
  EXPECT_FALSE(r.contains(1));
}

TEST(BumpQueue, concurrent_registry_refuses_a_bump_queue_by_name) {
  RegistryOptions options;
  options.bump_queue = 16;
  try {
    ConcurrentHeatRegistryOf<std::uint64_t> r(options);
    FAIL() << "a bump queue was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bump_queue"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace heatkit
