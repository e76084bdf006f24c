// ConcurrentHeatRegistry: the seed's three concurrency stress tests without an
// outer mutex (the registry's shard locks are the only synchronisation), and
// the single-threaded contract against the model of SEMANTICS.md in
// tests/unit/contract_model.h: S independent registries of cap ceil(cap / S),
// key k in shard_of(k), tick output in shard order, commit routed to each
// key's shard; the default shard count rule; and the shard
// lock (SpinMutex: exclusion, try_lock, sleeping waiters woken). CI runs this
// binary under ThreadSanitizer, so each test takes well under a second.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "registry/concurrent_registry.h"
#include "util/spin_mutex.h"
#include "math/random.h"
#include "tests/unit/contract_model.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::hash;
using test::key_text;
using test::Rng;
using test::same_double;
using test::same_emissions;
using test::t0;
namespace contract = test::contract;

// Real monotonic time, as the seed's Instant::now().
Instant now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

RegistryOptions capped(std::size_t cap) {
  RegistryOptions o;
  o.cap = cap;
  return o;
}

// ======== The seed's stress tests, no outer mutex ========

TEST(ConcurrentRegistry, concurrent_bump_accumulates_without_outer_mutex) {
  ConcurrentBlobHeatRegistry registry;
  const Duration half = 1h;  // negligible decay over the test
  const BlobKey target = hash(0xAB);
  constexpr std::size_t kThreads = 8;
  constexpr std::size_t kPerThread = 1000;

  test::run_together(kThreads, [&](std::size_t /*thread*/) {
    for (std::size_t i = 0; i < kPerThread; ++i) registry.bump(target, half, now());
  });

  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "entry must exist";
  const double expected = static_cast<double>(kThreads * kPerThread);
  // Threads read the clock before taking the lock, so a bump may carry an
  // instant before the counter's last_update: no decay then, still +1. An
  // hour's half-life over a sub-second run decays well under 1 %.
  EXPECT_GT(counter->rate(), expected * 0.99) << "bumps lost";
  EXPECT_LE(counter->rate(), expected) << "bumps double-counted";
  EXPECT_EQ(registry.size(), 1u);
}

// The same through batches that span every shard, with duplicates.
TEST(ConcurrentRegistry, concurrent_batches_accumulate_without_outer_mutex) {
  ConcurrentHeatRegistry registry(capped(0), 8);
  constexpr std::size_t kKeys = 64;
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kRounds = 200;
  std::vector<std::uint64_t> batch;
  for (std::size_t i = 0; i < kKeys; ++i) batch.push_back(test::channel(i));
  batch.push_back(test::channel(0));  // key 0 twice per batch

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t i = 0; i < kRounds; ++i) {
      if (t % 2 == 0) {
        registry.bump_batch(batch, 1h, now());
      } else {
        std::vector<std::pair<std::uint64_t, Instant>> reads;
        for (const std::uint64_t k : batch) reads.emplace_back(k, now());
        registry.bump_batch(reads, 1h);
      }
    }
  });

  ASSERT_EQ(registry.size(), kKeys);
  for (std::size_t i = 0; i < kKeys; ++i) {
    const double expected = static_cast<double>(kThreads * kRounds * (i == 0 ? 2 : 1));
    const auto counter = registry.get(test::channel(i));
    ASSERT_TRUE(counter.has_value()) << "key " << i;
    EXPECT_GT(counter->rate(), expected * 0.99) << "key " << i << ": bumps lost";
    EXPECT_LE(counter->rate(), expected) << "key " << i << ": bumps double-counted";
  }
}

TEST(ConcurrentRegistry, tick_concurrent_with_bumps_is_panic_free) {
  ConcurrentBlobHeatRegistry registry(capped(kDefaultCap), 4);
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const BlobKey target = hash(0xCD);
  std::atomic<bool> stop{false};
  constexpr std::size_t kBumpers = 2;
  std::barrier start(static_cast<std::ptrdiff_t>(kBumpers + 1));

  // Pre-seeded: the ticker may finish before a bumper ever gets a lock.
  registry.bump(target, half, now());

  std::vector<std::thread> bumpers;
  for (std::size_t b = 0; b < kBumpers; ++b) {
    bumpers.emplace_back([&, b] {
      start.arrive_and_wait();
      std::uint8_t other = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        registry.bump(target, half, now());
        // Other keys in other shards, so ticks and bumps meet everywhere.
        registry.bump(hash(static_cast<std::uint8_t>(b * 100 + other++ % 50)), half, now());
      }
    });
  }
  std::thread ticker([&] {
    start.arrive_and_wait();
    for (int i = 0; i < 200; ++i) {
      const auto emissions = registry.tick(policy, now());
      // Commit half the ticks, roll the others back.
      if (i % 2 == 0) {
        registry.commit(emissions);
      } else {
        for (const auto& e : emissions) registry.rollback(e.first);
      }
    }
    stop.store(true, std::memory_order_relaxed);
  });
  for (auto& b : bumpers) b.join();
  ticker.join();

  // Emission counts are not asserted (the bumpers may be starved); the
  // registry must still be whole and usable.
  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "target entry should survive the storm";
  EXPECT_GE(counter->rate(), 0.0);
  EXPECT_GE(registry.size(), 1u);
  EXPECT_LE(registry.size(), 1u + 2 * 50);
  EXPECT_NO_THROW((void)registry.tick(policy, now()));
}

// Ticks that walk the shards on several threads while batches run: every
// shard lock is taken by pool workers and bumping threads alike.
TEST(ConcurrentRegistry, parallel_tick_while_batches_run_keeps_every_counter) {
  constexpr std::size_t kKeys = 40'000;  // enough for the walk to use threads
  RegistryOptions options = capped(0);
  options.threads = 2;
  ConcurrentHeatRegistry registry(options, 8);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(mix64(i));
  registry.bump_batch(keys, 1h, now());
  std::atomic<bool> stop{false};
  std::barrier start(3);

  std::vector<std::thread> bumpers;
  for (std::size_t b = 0; b < 2; ++b) {
    bumpers.emplace_back([&, b] {
      start.arrive_and_wait();
      std::size_t at = b * 997;
      while (!stop.load(std::memory_order_relaxed)) {
        registry.bump_batch(std::span(keys).subspan(at, 256), 1h, now());
        at = (at + 256) % (kKeys - 256);
      }
    });
  }
  std::size_t candidates = 0;
  start.arrive_and_wait();
  for (int i = 0; i < 10; ++i) {
    const auto emissions = registry.tick(Policy{}, now());
    candidates += emissions.size();
    registry.commit(emissions);
  }
  stop.store(true, std::memory_order_relaxed);
  for (auto& b : bumpers) b.join();

  EXPECT_GE(candidates, kKeys) << "the first tick emits every key";
  EXPECT_EQ(registry.size(), kKeys) << "nothing decays away within an hour's half-life";
  EXPECT_EQ(registry.stats().evictions + registry.stats().pruned, 0u);
}

// Two threads tick at once (ticks take turns on the registry's scratch): with
// in-flight tracking, the first tick marks every key it returns, so each key
// comes out of exactly one of the two ticks, each output whole and in shard
// order. Under ThreadSanitizer this also checks the turns themselves.
TEST(ConcurrentRegistry, ticks_from_two_threads_at_once_each_return_whole_results) {
  constexpr std::size_t kKeys = 40'000;  // enough for the walk and the copy to use threads
  RegistryOptions options = capped(0);
  options.threads = 2;
  options.track_in_flight = true;
  ConcurrentHeatRegistry registry(options, 8);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(mix64(i));
  registry.bump_batch(keys, 1h, t0());
  ConcurrentHeatRegistry::Emissions outputs[2];
  std::barrier start(2);
  std::vector<std::thread> tickers;
  for (int t = 0; t < 2; ++t) {
    tickers.emplace_back([&, t] {
      start.arrive_and_wait();
      registry.tick(Policy{}, t0(), outputs[t]);
    });
  }
  for (auto& t : tickers) t.join();
  std::vector<std::uint64_t> returned;
  for (const auto& out : outputs) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      returned.push_back(out[i].first);
      ASSERT_TRUE(out[i].second.is_emit());
      if (i > 0) {
        ASSERT_LE(registry.shard_of(out[i - 1].first), registry.shard_of(out[i].first)) << i;
      }
    }
  }
  std::sort(returned.begin(), returned.end());
  std::vector<std::uint64_t> expected = keys;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(returned, expected) << "every key exactly once over the two ticks";
}

// The seed's cap test with the default shard count: a cap this small gets one
// shard, so the cap is exact for the whole registry, as in the seed.
TEST(ConcurrentRegistry, lru_cap_holds_under_concurrent_inserts) {
  constexpr std::size_t kCap = 16;
  ConcurrentBlobHeatRegistry registry(capped(kCap));
  ASSERT_EQ(registry.shard_count(), 1u);
  const Duration half = 60s;
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kInsertsPerThread = 64;  // distinct keys, far past the cap
  std::atomic<std::size_t> over_cap{0};

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t i = 0; i < kInsertsPerThread; ++i) {
      const BlobKey k = hash(static_cast<std::uint8_t>(t * kInsertsPerThread + i));
      registry.with_entry(k, half, now(), [](auto&) {});
      if (registry.size() > kCap) over_cap.fetch_add(1, std::memory_order_relaxed);
    }
  });

  EXPECT_EQ(over_cap.load(), 0u) << "size exceeded the cap during the inserts";
  // 256 distinct keys through a cap of 16: full, with every other one evicted.
  EXPECT_EQ(registry.size(), kCap);
  EXPECT_EQ(registry.stats().evictions, kThreads * kInsertsPerThread - kCap);
}

// The same with four shards: the cap is per shard (ceil(16 / 4) = 4 each).
TEST(ConcurrentRegistry, lru_cap_holds_per_shard_under_concurrent_inserts) {
  constexpr std::size_t kCap = 16;
  constexpr std::size_t kShards = 4;
  ConcurrentBlobHeatRegistry registry(capped(kCap), kShards);
  ASSERT_EQ(registry.shard_cap(), kCap / kShards);
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kInsertsPerThread = 64;
  std::atomic<std::size_t> over_cap{0};

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t i = 0; i < kInsertsPerThread; ++i) {
      const BlobKey k = hash(static_cast<std::uint8_t>(t * kInsertsPerThread + i));
      registry.bump(k, 60s, now());
      if (registry.size() > kCap) over_cap.fetch_add(1, std::memory_order_relaxed);
    }
  });
  EXPECT_EQ(over_cap.load(), 0u) << "size exceeded the cap during the inserts";

  // Each shard ends full or with every key routed to it; the rest were
  // evicted, each shard by itself.
  std::vector<std::size_t> routed(kShards, 0);
  for (std::size_t i = 0; i < kThreads * kInsertsPerThread; ++i) {
    ++routed[registry.shard_of(hash(static_cast<std::uint8_t>(i)))];
  }
  std::size_t expected_size = 0;
  std::vector<std::size_t> held(kShards, 0);
  for (std::size_t s = 0; s < kShards; ++s) expected_size += std::min(routed[s], kCap / kShards);
  registry.for_each([&](const BlobKey& k, const HeatCounter&) { ++held[registry.shard_of(k)]; });
  for (std::size_t s = 0; s < kShards; ++s) {
    EXPECT_EQ(held[s], std::min(routed[s], kCap / kShards)) << "shard " << s;
  }
  EXPECT_EQ(registry.size(), expected_size);
  EXPECT_EQ(registry.stats().evictions, kThreads * kInsertsPerThread - expected_size);
}

// Many threads on one shard among many: single bumps, batches and with_entry
// on keys that all live in shard 0 meet on its lock, and every bump counts.
// All at one instant, so nothing decays and each bump adds exactly 1.
TEST(ConcurrentRegistry, threads_hammering_one_shard_keep_exact_counts) {
  constexpr std::size_t kShards = 64;
  ConcurrentHeatRegistry registry(capped(0), kShards);
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; keys.size() < 4; ++i) {
    if (registry.shard_of(mix64(i)) == 0) keys.push_back(mix64(i));
  }
  constexpr std::size_t kThreads = 6;  // more than the cores: holders get preempted
  constexpr std::size_t kRounds = 3000;
  const Instant at = t0();

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t round = 0; round < kRounds; ++round) {
      switch ((t + round) % 3) {
        case 0:
          for (const std::uint64_t k : keys) registry.bump(k, 1h, at);
          break;
        case 1:
          registry.bump_batch(keys, 1h, at);
          break;
        default:
          for (const std::uint64_t k : keys) {
            registry.with_entry(k, 1h, at, [&](auto& entry) { entry.bump(at); });
          }
      }
    }
  });

  EXPECT_EQ(registry.size(), keys.size());
  for (const std::uint64_t k : keys) {
    const auto counter = registry.get(k);
    ASSERT_TRUE(counter.has_value());
    EXPECT_EQ(counter->rate(), static_cast<double>(kThreads * kRounds)) << "key " << k;
  }
}

// The in-flight switch flipped on one thread while others read it and tick:
// the flag is read under the lock it is written under (a race ThreadSanitizer
// reports otherwise), and the last setting holds.
TEST(ConcurrentRegistry, track_in_flight_switch_is_read_and_written_under_the_lock) {
  ConcurrentBlobHeatRegistry registry(capped(0), 4);
  for (std::uint8_t i = 0; i < 16; ++i) registry.bump(hash(i), 1h, t0());
  constexpr int kFlips = 2000;
  std::atomic<int> reads_on{0};  // keeps the reads from being optimized away
  test::run_together(3, [&](std::size_t t) {
    for (int i = 0; i < kFlips; ++i) {
      if (t == 0) {
        registry.set_track_in_flight(i % 2 == 0);
      } else if (t == 1) {
        if (registry.tracks_in_flight()) reads_on.fetch_add(1, std::memory_order_relaxed);
      } else if (i % 64 == 0) {
        registry.commit(registry.tick(Policy{}, t0()));
      }
    }
  });
  registry.set_track_in_flight(true);
  EXPECT_TRUE(registry.tracks_in_flight());
  registry.set_track_in_flight(false);
  EXPECT_FALSE(registry.tracks_in_flight());
}

// ======== The shard lock ========

// Critical sections never overlap, and each sees the writes of those before
// it: a read-pause-write increment of a plain (non-atomic) counter, which
// loses updates whenever two threads are inside at once, comes out exact.
// More threads than cores, so holders get preempted and waiters sleep. (Under
// ThreadSanitizer a missing happens-before is also reported.)
TEST(SpinMutex, critical_sections_exclude_each_other) {
  SpinMutex mutex;
  std::uint64_t counter = 0;  // plain: only the lock orders these accesses
  std::atomic<int> inside{0};
  std::atomic<std::size_t> overlaps{0};
  constexpr std::size_t kThreads = 6;
  constexpr std::size_t kPerThread = 20'000;

  test::run_together(kThreads, [&](std::size_t) {
    for (std::size_t i = 0; i < kPerThread; ++i) {
      const std::lock_guard lock(mutex);
      if (inside.fetch_add(1, std::memory_order_relaxed) != 0) {
        overlaps.fetch_add(1, std::memory_order_relaxed);
      }
      const std::uint64_t read = counter;
      for (int k = 0; k < 4; ++k) cpu_relax();  // widen the window a race needs
      counter = read + 1;
      inside.fetch_sub(1, std::memory_order_relaxed);
    }
  });

  EXPECT_EQ(overlaps.load(), 0u) << "two threads held the lock at once";
  EXPECT_EQ(counter, kThreads * kPerThread) << "increments lost";
}

TEST(SpinMutex, try_lock_fails_only_while_held) {
  SpinMutex mutex;
  ASSERT_TRUE(mutex.try_lock());
  bool other_got_it = true;
  std::thread([&] { other_got_it = mutex.try_lock(); }).join();
  EXPECT_FALSE(other_got_it) << "taken twice";
  mutex.unlock();
  std::thread([&] {
    other_got_it = mutex.try_lock();
    if (other_got_it) mutex.unlock();
  }).join();
  EXPECT_TRUE(other_got_it) << "still held after unlock";
}

// Waiters held off far longer than their spin go to sleep; each unlock must
// wake one, so every one of them gets the lock in the end (a lost wake-up
// hangs here), and each sees what the holder wrote before unlocking.
TEST(SpinMutex, sleeping_waiters_are_all_woken) {
  SpinMutex mutex;
  constexpr std::size_t kWaiters = 4;
  int payload = 0;           // written under the lock only
  std::size_t acquired = 0;  // likewise
  mutex.lock();
  std::vector<std::thread> waiters;
  std::vector<int> seen(kWaiters, -1);
  for (std::size_t w = 0; w < kWaiters; ++w) {
    waiters.emplace_back([&, w] {
      const std::lock_guard lock(mutex);
      seen[w] = payload;
      ++acquired;
    });
  }
  std::this_thread::sleep_for(30ms);  // thousands of spin rounds: they sleep now
  payload = 42;
  EXPECT_EQ(acquired, 0u) << "a waiter got in while the lock was held";
  mutex.unlock();
  for (auto& w : waiters) w.join();
  EXPECT_EQ(acquired, kWaiters);
  for (std::size_t w = 0; w < kWaiters; ++w) EXPECT_EQ(seen[w], 42) << "waiter " << w;
  EXPECT_TRUE(mutex.try_lock()) << "free once every waiter is done";
  mutex.unlock();
}

// ======== Single-threaded contract ========

template <class Key>
Key key_of(std::uint64_t i) {
  return test::random_key<Key>(i, 2);
}

// Random operations on a ConcurrentHeatRegistry and on the contract's model
// (tests/unit/contract_model.h) of a sharded registry: one model registry per
// shard with cap ceil(cap / shards), each evicting by SEMANTICS.md's rule
// within itself, each key sent to registry.shard_of(key). After every
// operation both must agree on every key's counter (rates within 1e-12), its
// in-flight mark, the size and the stats. A tick's candidates come in shard
// order; within a shard the registry's slot order is not the contract's, so
// they are compared as sets. Each side commits the candidates it returned.
//
// The shards run on `scalar`, which keeps the contract's literal arithmetic:
// what is under test is the sharding. A forward-decayed backend rounds
// within SEMANTICS.md "Numbers", enough to tip the exact ties these draws
// can hit (whole-number rates, such as 4 against a last emission of 2 at
// ratio 2), after which the two sides' last emissions part; fuzz_registries holds a sharded registry
// on a fast backend to the scalar one within those bounds.
template <class Key>
void run_against_contract_model(std::size_t shards, std::size_t cap, std::uint64_t seed, int ops) {
  RegistryOptions options;
  options.cap = cap;
  options.backend = "scalar";
  ConcurrentHeatRegistryOf<Key> registry(options, shards);
  ASSERT_EQ(registry.shard_count(), shards);
  const std::size_t shard_cap = (cap + shards - 1) / shards;
  ASSERT_EQ(registry.shard_cap(), shard_cap);
  std::vector<contract::Registry<Key>> model(shards,
                                             contract::Registry<Key>(shard_cap, registry.tracks_in_flight()));
  const auto model_of = [&](const Key& k) -> contract::Registry<Key>& {
    return model[registry.shard_of(k)];
  };

  Rng rng(seed);
  std::vector<Key> universe;
  for (std::size_t i = 0; i < 3 * cap; ++i) universe.push_back(key_of<Key>(seed * 10'000 + i));
  const auto random_key = [&]() -> const Key& { return universe[rng.below(universe.size())]; };
  static const Duration kHalfLives[] = {60s, 60s, 1s, 3600s};
  Instant t = t0();
  std::uint64_t ticks_with_output = 0;
  std::uint64_t shards_with_candidates = 0;  // over all ticks: (tick, shard) pairs

  for (int op = 0; op < ops; ++op) {
    const std::uint64_t move = rng.below(10);
    if (move < 5) {
      t += Duration(static_cast<std::int64_t>(rng.below(2'000'000'000)));
    } else if (move < 6) {
      t -= Duration(static_cast<std::int64_t>(rng.below(500'000'000)));
    } else if (move < 7) {
      t += 60s * static_cast<std::int64_t>(rng.below(70));
    }
    const Duration half_life = rng.pick(kHalfLives);
    const std::uint64_t kind = rng.below(100);
    std::string name;
    const auto where = [&] {
      return "seed " + std::to_string(seed) + ", op " + std::to_string(op) + " (" + name + ")";
    };
    if (kind < 30) {
      name = "bump";
      const Key& k = random_key();
      registry.bump(k, half_life, t);
      model_of(k).bump(k, half_life, t);
    } else if (kind < 45) {
      name = "bump_batch";
      std::vector<Key> keys;
      for (std::size_t i = rng.below(40); i > 0; --i) keys.push_back(random_key());
      registry.bump_batch(keys, half_life, t);
      for (const Key& k : keys) model_of(k).bump(k, half_life, t);
    } else if (kind < 55) {
      name = "bump_batch(reads)";
      std::vector<std::pair<Key, Instant>> reads;
      for (std::size_t i = rng.below(40); i > 0; --i) {
        const Duration back(static_cast<std::int64_t>(rng.below(1'000'000'000)));
        reads.emplace_back(random_key(), t - back);
      }
      registry.bump_batch(reads, half_life);
      for (const auto& [k, at] : reads) model_of(k).bump(k, half_life, at);
    } else if (kind < 62) {
      name = "with_entry(decay_to)";
      const Key& k = random_key();
      const Instant at = t - Duration(static_cast<std::int64_t>(rng.below(3'000'000'000)));
      const double rate = registry.with_entry(k, half_life, t, [&](auto& e) {
        e.decay_to(at);
        return e.rate();
      });
      contract::Counter& c = model_of(k).entry(k, half_life, t).counter;
      c.decay_to(to_ns(at));
      ASSERT_TRUE(contract::rates_agree(rate, c.rate))
          << where() << ": with_entry returned " << rate << ", model " << c.rate;
    } else if (kind < 67) {
      name = "remove";
      const Key& k = random_key();
      registry.remove(k);
      model_of(k).remove(k);
    } else if (kind < 70) {
      name = "rollback";
      const Key& k = random_key();
      registry.rollback(k);
      model_of(k).rollback(k);
    } else if (kind < 85) {
      name = "tick+commit";
      Policy policy;
      const auto got = registry.tick(policy, t);
      // Shard order along the output; each shard's part as a set.
      std::vector<std::vector<std::pair<Key, HeatEmission>>> got_by_shard(shards);
      for (std::size_t i = 0; i < got.size(); ++i) {
        const std::size_t s = registry.shard_of(got[i].first);
        if (i > 0) {
          ASSERT_LE(registry.shard_of(got[i - 1].first), s) << where() << ": candidate " << i
                                                            << " out of shard order";
        }
        got_by_shard[s].push_back(got[i]);
      }
      std::map<Key, HeatEmission> model_candidates;
      for (std::size_t s = 0; s < shards; ++s) {
        auto& part = got_by_shard[s];
        std::sort(part.begin(), part.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        const auto want = model[s].tick(policy, t);  // key order
        shards_with_candidates += !want.empty();
        ASSERT_EQ(part.size(), want.size()) << where() << ": shard " << s << " candidates";
        for (std::size_t i = 0; i < want.size(); ++i) {
          const Key& k = want[i].first;
          ASSERT_EQ(part[i].first, k) << where() << ": shard " << s << ", candidate " << i;
          ASSERT_EQ(part[i].second.kind, want[i].second.kind) << where() << ", key " << key_text(k);
          ASSERT_TRUE(contract::rates_agree(part[i].second.rate, want[i].second.rate))
              << where() << ", key " << key_text(k) << ": rate " << part[i].second.rate << ", model "
              << want[i].second.rate;
          model_candidates[k] = want[i].second;
        }
      }
      if (!got.empty()) ++ticks_with_output;
      std::vector<std::pair<Key, HeatEmission>> committed;
      std::vector<std::vector<std::pair<Key, HeatEmission>>> model_committed(shards);
      for (const auto& item : got) {
        if (!rng.chance(85)) continue;
        committed.push_back(item);
        model_committed[registry.shard_of(item.first)].emplace_back(item.first,
                                                                     model_candidates.at(item.first));
      }
      registry.commit(committed);
      for (std::size_t s = 0; s < shards; ++s) model[s].commit(model_committed[s]);
    } else {
      name = "commit(nothing)";  // prunes every shard
      registry.commit({});
      for (auto& m : model) m.commit({});
    }

    std::size_t size = 0;
    std::uint64_t evictions = 0, pruned = 0;
    for (const auto& m : model) {
      size += m.size();
      evictions += m.evictions();
      pruned += m.pruned();
    }
    ASSERT_EQ(registry.size(), size) << where();
    ASSERT_EQ(registry.stats().evictions, evictions) << where();
    ASSERT_EQ(registry.stats().pruned, pruned) << where();
    for (std::size_t i = 0; i < universe.size(); ++i) {
      const Key& k = universe[i];
      const auto got = registry.get(k);
      const auto* want = model_of(k).find(k);
      ASSERT_EQ(got.has_value(), want != nullptr) << where() << ", key #" << i << " present";
      ASSERT_EQ(registry.contains(k), want != nullptr) << where() << ", key #" << i;
      if (want == nullptr) continue;
      const std::string diff = contract::counter_mismatch(*got, want->counter);
      ASSERT_TRUE(diff.empty()) << where() << ", key #" << i << ": " << diff;
      ASSERT_EQ(registry.in_flight(k), want->in_flight) << where() << ", key #" << i;
    }
  }
  EXPECT_GT(registry.stats().evictions, 0u) << "no evictions";
  EXPECT_GT(registry.stats().pruned, 0u) << "no prunes";
  EXPECT_GT(ticks_with_output, 0u) << "no tick had candidates";
  if (shards > 1) {
    EXPECT_GT(shards_with_candidates, ticks_with_output) << "no tick had candidates in two shards";
  }
}

TEST(ConcurrentRegistryModel, one_shard_is_one_registry_of_the_contract) {
  run_against_contract_model<std::uint64_t>(1, 24, 1, 1500);
  run_against_contract_model<BlobKey>(1, 24, 2, 1500);
}

TEST(ConcurrentRegistryModel, shards_are_independent_registries_with_their_share_of_the_cap) {
  run_against_contract_model<std::uint64_t>(4, 40, 3, 1500);
  run_against_contract_model<BlobKey>(4, 40, 4, 1500);
  // A cap that does not divide: ceil(30 / 8) = 4 per shard.
  run_against_contract_model<std::uint64_t>(8, 30, 5, 1500);
}

// The output order is fixed by shard and slot, not by which thread walked
// which shard: a tick on several threads returns what one thread returns.
// One registry ticked twice at each instant, once on one thread and once on
// four (a second tick at the same instant decays nothing, and without
// in-flight tracking returns the same candidates), so both see the same
// shards whatever the registry's hash secret.
TEST(ConcurrentRegistryModel, tick_order_does_not_depend_on_threads) {
  constexpr std::size_t kKeys = 40'000;  // enough for the walk to use threads
  ConcurrentHeatRegistry registry(capped(0), 8);
  ASSERT_FALSE(registry.tracks_in_flight());
  std::vector<std::uint64_t> keys;
  for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(mix64(i));
  registry.bump_batch(keys, 60s, t0());
  for (int round = 1; round <= 3; ++round) {
    const Instant at = t0() + 60s * round;
    const bool one_first = round % 2 == 1;
    registry.set_threads(one_first ? 1 : 4);
    const auto first = registry.tick(Policy{}, at);
    registry.set_threads(one_first ? 4 : 1);
    const auto second = registry.tick(Policy{}, at);
    if (round == 1) {
      ASSERT_EQ(first.size(), kKeys) << "the first tick emits every key";
    }
    ASSERT_TRUE(same_emissions(first, second)) << "round " << round;
    // Shard order: shard numbers never decrease along the output.
    for (std::size_t i = 1; i < first.size(); ++i) {
      ASSERT_LE(registry.shard_of(first[i - 1].first), registry.shard_of(first[i].first)) << i;
    }
    registry.commit(first);
  }
}

TEST(ConcurrentRegistryModel, commit_routes_each_emission_to_its_shard) {
  ConcurrentBlobHeatRegistry registry(capped(0), 8);
  ASSERT_TRUE(registry.tracks_in_flight());
  std::vector<BlobKey> keys;
  for (std::uint64_t i = 0; i < 64; ++i) keys.push_back(key_of<BlobKey>(i));
  registry.bump_batch(keys, 60s, t0());
  const auto emitted = registry.tick(Policy{}, t0());
  ASSERT_EQ(emitted.size(), keys.size());
  for (const BlobKey& k : keys) EXPECT_TRUE(registry.in_flight(k));
  registry.commit(emitted);
  for (const BlobKey& k : keys) {
    EXPECT_FALSE(registry.in_flight(k)) << "commit cleared the mark in the key's shard";
    ASSERT_EQ(registry.get(k)->last_emitted(), std::optional<double>(1.0));
  }
  // Withdrawn after full decay, then pruned by the same commit, in every shard.
  const auto withdrawn = registry.tick(Policy{}, t0() + 60s * 65);
  ASSERT_EQ(withdrawn.size(), keys.size());
  for (const auto& [k, e] : withdrawn) EXPECT_TRUE(e.is_withdraw());
  registry.commit(withdrawn);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.stats().pruned, keys.size());
}

TEST(ConcurrentRegistryModel, rollback_lets_the_next_tick_reissue) {
  ConcurrentBlobHeatRegistry registry(capped(0), 4);
  const BlobKey k = hash(1);
  registry.bump(k, 60s, t0());
  ASSERT_EQ(registry.tick(Policy{}, t0()).size(), 1u);
  EXPECT_TRUE(registry.tick(Policy{}, t0()).empty()) << "in flight: skipped";
  registry.rollback(k);
  EXPECT_EQ(registry.tick(Policy{}, t0()).size(), 1u);
}

// ======== Options ========

TEST(ConcurrentRegistryOptions, shard_count_must_be_a_power_of_two) {
  try {
    ConcurrentHeatRegistry r(capped(100), 6);
    FAIL() << "6 shards accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("shards"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("6"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)ConcurrentHeatRegistry(capped(100), kMaxShards * 2), std::invalid_argument);
}

TEST(ConcurrentRegistryOptions, shard_cap_is_the_cap_split_and_rounded_up) {
  EXPECT_EQ(ConcurrentHeatRegistry(capped(100), 8).shard_cap(), 13u);
  EXPECT_EQ(ConcurrentHeatRegistry(capped(64), 8).shard_cap(), 8u);
  EXPECT_EQ(ConcurrentHeatRegistry(capped(0), 8).shard_cap(), 0u) << "unbounded stays unbounded";
  EXPECT_EQ(ConcurrentHeatRegistry(capped(3), 8).shard_cap(), 1u);
}

// The unbounded default: kDefaultShardsPerThread per hardware thread, rounded
// up to a power of two, at most kMaxShards.
TEST(ConcurrentRegistryOptions, default_shard_count_is_shards_per_thread_as_a_power_of_two) {
  for (const unsigned threads : {1u, 2u, 3u, 6u, 16u, 96u}) {
    const std::size_t shards = default_shard_count(0, threads);
    EXPECT_TRUE(std::has_single_bit(shards)) << threads << " threads";
    EXPECT_GE(shards, kDefaultShardsPerThread * threads) << threads << " threads";
    EXPECT_LT(shards, 2 * kDefaultShardsPerThread * threads)
        << threads << " threads: not the smallest such power of two";
  }
  EXPECT_EQ(default_shard_count(0, 0), kDefaultShardsPerThread) << "no thread count counts as one";
  EXPECT_EQ(default_shard_count(0, 1u << 20), kMaxShards) << "clamped to kMaxShards";
  EXPECT_EQ(default_shard_count(0), default_shard_count(0, resolve_threads(0)));
  EXPECT_EQ(ConcurrentHeatRegistry(capped(0)).shard_count(), default_shard_count(0));
}

// Capped: that count halved just until a shard's cap holds kMinShardCap
// counters, or down to one shard.
TEST(ConcurrentRegistryOptions, default_shard_count_keeps_capped_shards_large) {
  constexpr std::size_t kCaps[] = {1,
                                   16,
                                   kMinShardCap,
                                   2 * kMinShardCap - 1,
                                   2 * kMinShardCap,
                                   kDefaultCap,
                                   100'000,
                                   1'125'000,
                                   std::size_t{1} << 40};
  for (const unsigned threads : {1u, 2u, 16u}) {
    const std::size_t unbounded = default_shard_count(0, threads);
    for (const std::size_t cap : kCaps) {
      const std::size_t shards = default_shard_count(cap, threads);
      EXPECT_TRUE(std::has_single_bit(shards)) << "cap " << cap;
      EXPECT_LE(shards, unbounded) << "cap " << cap;
      if (shards > 1) {
        EXPECT_GE(cap / shards, kMinShardCap) << "cap " << cap << ": shards too small";
      }
      if (shards < unbounded) {
        EXPECT_LT(cap / (2 * shards), kMinShardCap) << "cap " << cap << ": halved once too often";
      }
    }
  }
  EXPECT_EQ(default_shard_count(2 * kMinShardCap - 1, 64), 1u) << "a small cap keeps one exact shard";
  EXPECT_EQ(default_shard_count(kDefaultCap, 2), kDefaultCap / kMinShardCap);
  EXPECT_EQ(default_shard_count(kDefaultCap), default_shard_count(kDefaultCap, resolve_threads(0)));
  EXPECT_EQ(ConcurrentHeatRegistry(capped(16)).shard_count(), 1u);
  EXPECT_EQ(ConcurrentHeatRegistry(capped(kDefaultCap)).shard_count(),
            default_shard_count(kDefaultCap));
}

// The memory budget of the sharded registry as the benchmarks size it (cap
// n + n/8, the default 8 shards for that cap): about 1,024 keys per shard,
// just past a power of two in about half the shards. Growing such a shard
// straight to its cap left an eighth of its slots unused (66 bytes per key).
// How many keys each shard gets, and so the bytes, depends on the hash's
// secret: over 1,000 secrets 61.98 to 64.05 bytes per key, 63.24 on average.
TEST(ConcurrentRegistryMemory, sharded_registry_at_its_benchmark_cap_fits_64_bytes_per_key) {
  constexpr std::size_t kKeys = 8192;
  ASSERT_EQ(default_shard_count(kKeys + kKeys / 8, 2), 8u);
  std::vector<std::uint64_t> keys(kKeys);
  for (std::uint64_t k = 0; k < kKeys; ++k) keys[k] = k;
  double sum = 0;
  constexpr int kSecrets = 16;
  for (int secret = 1; secret <= kSecrets; ++secret) {
    RegistryOptions options = capped(kKeys + kKeys / 8);
    options.hash_seed = static_cast<std::uint64_t>(secret);
    ConcurrentHeatRegistry r(options, 8);
    r.bump_batch(keys, 60s, t0());
    ASSERT_EQ(r.size(), kKeys) << "no shard reached its cap";
    const MemoryUsage m = r.memory_usage();
    const double per_key = static_cast<double>(m.total()) / kKeys;
    EXPECT_LE(per_key, 64.5) << "secret " << secret << ": columns " << m.columns << ", keys " << m.keys
                             << ", index " << m.index << ", lru " << m.lru << ", other " << m.other;
    sum += per_key;
  }
  EXPECT_LE(sum / kSecrets, 64.0);
}

TEST(ConcurrentRegistryOptions, unknown_backend_is_reported) {
  RegistryOptions o;
  o.backend = "no-such-backend";
  EXPECT_THROW((void)ConcurrentHeatRegistry(o), UnknownBackend);
}

TEST(ConcurrentRegistryOptions, negative_half_life_throws) {
  ConcurrentHeatRegistry r(capped(0), 2);
  EXPECT_THROW(r.bump(1, -1s, t0()), std::invalid_argument);
  const std::vector<std::uint64_t> keys{1, 2};
  EXPECT_THROW(r.bump_batch(keys, -1s, t0()), std::invalid_argument);
  EXPECT_EQ(r.size(), 0u);
}

}  // namespace
}  // namespace heatkit
