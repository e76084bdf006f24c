// The seed's concurrency stress tests: the registry is not thread-safe and is
// shared under an outer mutex, as the seed shares it under Arc<Mutex<..>>.
//
// Under the mutex each thread does its operation, reads the registry's answer
// (the rate after a bump, a tick's emissions, the keys held after an insert)
// and takes the next number of one global sequence. Afterwards the logs are
// merged by that number and replayed serially, in that order, on a fresh
// registry: every answer, the totals and the final state must be those of
// the replay. So the outer-mutex wiring must make the racing threads
// equivalent to one thread doing the same operations one after another (no
// bump lost or counted twice, no tick or eviction seeing a torn registry).
// CI also runs this binary under ThreadSanitizer, so each test takes well
// under a second.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "registry/registry.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::hash;
using test::same_counter;
using test::same_double;
using test::same_emissions;

// Real monotonic time, as the seed's Instant::now().
Instant now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

// One operation on the shared registry, numbered in the order the threads
// got the mutex, with what the registry answered.
struct Op {
  enum Kind { kBump, kInsert, kTick, kCommit } kind;
  std::uint64_t seq;
  BlobKey key{};
  Instant at{};
  double rate = 0.0;                         // kBump: the counter's rate after it
  std::vector<BlobKey> held;                 // kInsert: every key held after it, sorted
  BlobHeatRegistry::Emissions emissions;     // kTick: returned; kCommit: committed
};

// The keys `registry` holds, sorted.
std::vector<BlobKey> held_keys(const BlobHeatRegistry& registry) {
  std::vector<BlobKey> keys;
  registry.for_each([&](const BlobKey& k, const HeatCounter&) { keys.push_back(k); });
  std::sort(keys.begin(), keys.end());
  return keys;
}

// The threads' logs merged in sequence order; fails unless the numbers are
// exactly 0, 1, 2, ... (each operation logged once).
std::vector<Op> merge(std::vector<std::vector<Op>> logs) {
  std::vector<Op> all;
  for (auto& log : logs) all.insert(all.end(), log.begin(), log.end());
  std::sort(all.begin(), all.end(), [](const Op& a, const Op& b) { return a.seq < b.seq; });
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].seq, i) << "the sequence numbers have a gap or a repeat";
    if (all[i].seq != i) break;
  }
  return all;
}

// Replays `ops` in order on `fresh` (a registry made as the shared one was)
// with half-life `half` and `policy`, expecting each operation's logged
// answer (up to the first that differs); returns the replayed registry for
// its final state.
BlobHeatRegistry replay(BlobHeatRegistry fresh, const std::vector<Op>& ops, Duration half,
                        const Policy& policy) {
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::kBump: {
        auto entry = fresh.entry(op.key, half, op.at);
        entry.bump(op.at);
        if (!same_double(entry.rate(), op.rate)) {
          ADD_FAILURE() << "op " << op.seq << ": rate " << op.rate << " under the mutex, "
                        << entry.rate() << " replayed";
          return fresh;
        }
        break;
      }
      case Op::kInsert:
        fresh.entry(op.key, half, op.at);
        if (held_keys(fresh) != op.held) {
          ADD_FAILURE() << "op " << op.seq << ": other keys held than in the replay";
          return fresh;
        }
        break;
      case Op::kTick:
        if (!same_emissions(fresh.tick(policy, op.at), op.emissions)) {
          ADD_FAILURE() << "op " << op.seq << ": the tick returned other emissions than in the replay";
          return fresh;
        }
        break;
      case Op::kCommit:
        fresh.commit(op.emissions);
        break;
    }
  }
  return fresh;
}

// The registry's whole state against the replay's: the same keys, each
// counter and in-flight mark the same, the same stats.
void expect_same_state(const BlobHeatRegistry& got, const BlobHeatRegistry& replayed) {
  EXPECT_EQ(held_keys(got), held_keys(replayed));
  got.for_each([&](const BlobKey& k, const HeatCounter& c) {
    EXPECT_TRUE(same_counter(c, replayed.get(k))) << "a counter differs from the replay's";
    EXPECT_EQ(got.in_flight(k), replayed.in_flight(k));
  });
  EXPECT_EQ(got.stats().evictions, replayed.stats().evictions);
  EXPECT_EQ(got.stats().pruned, replayed.stats().pruned);
}

TEST(Concurrency, blob_heat_concurrent_bump_accumulates_under_outer_mutex) {
  BlobHeatRegistry registry;
  std::mutex mutex;
  std::uint64_t next_seq = 0;  // guarded by mutex
  const Duration half = 1h;  // negligible decay over the test
  const BlobKey target = hash(0xAB);
  constexpr std::size_t kThreads = 8;
  constexpr std::size_t kPerThread = 1000;
  std::vector<std::vector<Op>> logs(kThreads);

  test::run_together(kThreads, [&](std::size_t thread) {
    for (std::size_t i = 0; i < kPerThread; ++i) {
      const Instant at = now();
      const std::lock_guard lock(mutex);
      auto entry = registry.entry(target, half, at);
      entry.bump(at);
      logs[thread].push_back(Op{Op::kBump, next_seq++, target, at, entry.rate(), {}, {}});
    }
  });

  const std::lock_guard lock(mutex);
  const std::vector<Op> ops = merge(std::move(logs));
  ASSERT_EQ(ops.size(), kThreads * kPerThread);
  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "entry must exist";
  const double expected = static_cast<double>(kThreads * kPerThread);
  // An hour's half-life over a sub-second run decays well under 1 %.
  EXPECT_GT(counter->rate(), expected * 0.99) << "bumps lost";
  EXPECT_LE(counter->rate(), expected) << "bumps double-counted";
  EXPECT_EQ(registry.size(), 1u);
  // Exactly: the rate after every bump, and at the end, is that of the same
  // bumps made one after another in the order the mutex admitted them.
  const BlobHeatRegistry replayed = replay(BlobHeatRegistry(), ops, half, Policy{});
  expect_same_state(registry, replayed);
}

TEST(Concurrency, blob_heat_tick_concurrent_with_bumps_is_panic_free) {
  BlobHeatRegistry registry;
  std::mutex mutex;
  std::uint64_t next_seq = 0;  // guarded by mutex
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const BlobKey target = hash(0xCD);
  std::atomic<bool> stop{false};
  std::barrier start(2);
  std::vector<std::vector<Op>> logs(3);  // the pre-seed, the bumper, the ticker

  // Pre-seeded: the ticker may finish before the bumper ever gets the lock.
  {
    const Instant at = now();
    const std::lock_guard lock(mutex);
    auto entry = registry.entry(target, half, at);
    entry.bump(at);
    logs[0].push_back(Op{Op::kBump, next_seq++, target, at, entry.rate(), {}, {}});
  }

  std::thread bumper([&] {
    start.arrive_and_wait();
    while (!stop.load(std::memory_order_relaxed)) {
      const Instant at = now();
      const std::lock_guard lock(mutex);
      auto entry = registry.entry(target, half, at);
      entry.bump(at);
      logs[1].push_back(Op{Op::kBump, next_seq++, target, at, entry.rate(), {}, {}});
    }
  });
  // Each tick's emissions are committed as the seed's sink would, so the
  // counter keeps re-emitting as the bumps double its rate.
  std::thread ticker([&] {
    start.arrive_and_wait();
    for (int i = 0; i < 200; ++i) {
      const Instant at = now();
      BlobHeatRegistry::Emissions emitted;
      {
        const std::lock_guard lock(mutex);
        emitted = registry.tick(policy, at);
        logs[2].push_back(Op{Op::kTick, next_seq++, {}, at, 0.0, {}, emitted});
      }
      const std::lock_guard lock(mutex);
      registry.commit(emitted);
      logs[2].push_back(Op{Op::kCommit, next_seq++, {}, at, 0.0, {}, emitted});
    }
    stop.store(true, std::memory_order_relaxed);
  });
  bumper.join();
  ticker.join();

  const std::lock_guard lock(mutex);
  const std::vector<Op> ops = merge(std::move(logs));
  std::size_t emissions = 0;
  for (const Op& op : ops) emissions += op.kind == Op::kTick ? op.emissions.size() : 0;
  // The pre-seeded counter has never emitted: the first tick emits it,
  // however the threads were scheduled.
  EXPECT_GE(emissions, 1u);
  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "target entry should survive the storm";
  EXPECT_EQ(registry.size(), 1u);
  // Every tick returned what a tick at its place in the serial order returns,
  // and the registry ends as the replay does.
  const BlobHeatRegistry replayed = replay(BlobHeatRegistry(), ops, half, policy);
  expect_same_state(registry, replayed);
  EXPECT_NO_THROW((void)registry.tick(policy, now()));
}

TEST(Concurrency, blob_heat_lru_cap_holds_under_concurrent_inserts) {
  constexpr std::size_t kCap = 16;
  auto registry = BlobHeatRegistry::with_cap(kCap);
  std::mutex mutex;
  std::uint64_t next_seq = 0;  // guarded by mutex
  const Duration half = 60s;
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kInsertsPerThread = 64;  // distinct keys, far past the cap
  std::vector<std::vector<Op>> logs(kThreads);

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t i = 0; i < kInsertsPerThread; ++i) {
      const BlobKey k = hash(static_cast<std::uint8_t>(t * kInsertsPerThread + i));
      const Instant at = now();
      const std::lock_guard lock(mutex);
      registry.entry(k, half, at);
      logs[t].push_back(Op{Op::kInsert, next_seq++, k, at, 0.0, held_keys(registry), {}});
    }
  });

  const std::lock_guard lock(mutex);
  const std::vector<Op> ops = merge(std::move(logs));
  ASSERT_EQ(ops.size(), kThreads * kInsertsPerThread);
  for (const Op& op : ops) {
    EXPECT_LE(op.held.size(), kCap) << "op " << op.seq << ": size exceeded the cap";
  }
  // 256 distinct keys through a cap of 16: full, with every other one evicted.
  EXPECT_EQ(registry.size(), kCap);
  EXPECT_EQ(registry.stats().evictions, kThreads * kInsertsPerThread - kCap);
  // Each insert evicted what a serial run of the same inserts in the same
  // order evicts: the keys held after every insert are the replay's.
  const BlobHeatRegistry replayed = replay(BlobHeatRegistry::with_cap(kCap), ops, half, Policy{});
  expect_same_state(registry, replayed);
}

}  // namespace
}  // namespace heatkit
