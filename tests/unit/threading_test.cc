// The fork-join pool and multi-threaded passes: every task runs exactly once,
// and the tick's candidates and columns do not depend on the thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "registry/concurrent_registry.h"
#include <heatkit/policy.h>
#include "util/thread_pool.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

TEST(ThreadPool, runs_every_task_exactly_once_across_many_jobs) {
  ThreadPool pool(4);
  EXPECT_EQ(pool.threads(), 4u);
  for (std::size_t tasks : {0u, 1u, 2u, 3u, 5u, 64u, 1000u}) {
    for (unsigned max_threads : {0u, 1u, 2u, 4u, 9u}) {
      std::vector<std::atomic<int>> hits(tasks);
      pool.run(tasks, max_threads, [&](std::size_t i) { hits[i].fetch_add(1); });
      for (std::size_t i = 0; i < tasks; ++i) ASSERT_EQ(hits[i].load(), 1) << "task " << i;
    }
  }
}

TEST(ThreadPool, concurrent_callers_take_turns) {
  ThreadPool pool(3);
  std::atomic<long> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int job = 0; job < 50; ++job) {
        pool.run(16, 3, [&](std::size_t i) { sum.fetch_add(static_cast<long>(i)); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 4L * 50 * (15 * 16 / 2));
}

TEST(ThreadPool, resolve_threads_zero_means_every_hardware_thread) {
  EXPECT_GE(hardware_threads(), 1u);
  EXPECT_EQ(resolve_threads(0), hardware_threads());
  EXPECT_EQ(resolve_threads(1), 1u);
}

// One rule for every backend: a request above the hardware threads runs on
// the hardware threads, never on more.
TEST(ThreadPool, resolve_threads_caps_a_request_at_the_hardware_threads) {
  const unsigned all = hardware_threads();
  EXPECT_EQ(resolve_threads(all), all);
  EXPECT_EQ(resolve_threads(all + 1), all);
  EXPECT_EQ(resolve_threads(4096), all);
  EXPECT_EQ(resolve_threads(UINT_MAX), all);
  for (unsigned n = 1; n <= all; ++n) EXPECT_EQ(resolve_threads(n), n);
}

TEST(ThreadPool, shared_pool_has_a_thread_per_hardware_thread_at_most) {
  EXPECT_GE(ThreadPool::shared().threads(), 1u);
  EXPECT_LE(ThreadPool::shared().threads(), hardware_threads());
}

// A job asking for more threads than the pool has runs on the pool's threads.
TEST(ThreadPool, a_job_asking_for_more_threads_than_the_pool_has_runs_on_its_threads) {
  ThreadPool pool(3);
  std::mutex mutex;
  std::set<std::thread::id> seen;
  pool.run(2000, 4096, [&](std::size_t) {
    std::this_thread::sleep_for(std::chrono::microseconds(20));
    const std::lock_guard lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  EXPECT_GE(seen.size(), 1u);
  EXPECT_LE(seen.size(), 3u);
}

// A registry big enough to be split, ticked with several thread counts.
template <class Key>
void tick_is_independent_of_thread_count(const char* backend) {
  constexpr std::size_t kKeys = 150'000;
  std::vector<typename BasicHeatRegistry<Key>::Emissions> ticks;
  std::vector<std::vector<double>> rates;
  for (unsigned threads : {1u, 2u, 3u, 4u}) {
    RegistryOptions o;
    o.cap = 0;
    o.backend = backend;
    o.threads = threads;
    o.track_in_flight = true;
    BasicHeatRegistry<Key> r(o);
    Rng rng(42);
    Instant now = t0();
    for (std::size_t i = 0; i < kKeys; ++i) {
      const Key key = make_key<Key>(i);
      auto e = r.entry(key, 10s, now);
      for (std::uint64_t b = rng.below(4); b > 0; --b) e.bump(now + std::chrono::milliseconds(i % 997));
    }
    Policy policy;
    // A mass emission, a quiet tick, a few bumps and a tick with few
    // candidates, then a mass withdrawal: the per-chunk scratch kept between
    // passes must never leak one pass's candidates into the next.
    std::vector<typename BasicHeatRegistry<Key>::Emissions> seen_ticks;
    seen_ticks.push_back(r.tick(policy, now + 1s));
    r.commit(seen_ticks.back());
    seen_ticks.push_back(r.tick(policy, now + 2s));
    r.commit(seen_ticks.back());
    for (std::size_t i = 0; i < kKeys; i += 97) r.entry(make_key<Key>(i), 10s, now + 3s).bump(now + 3s);
    seen_ticks.push_back(r.tick(policy, now + 4s));
    r.commit(seen_ticks.back());
    seen_ticks.push_back(r.tick(policy, now + 400s));  // most withdraw
    r.commit(seen_ticks.back());
    for (auto& t : seen_ticks) ticks.push_back(std::move(t));
    std::vector<double> seen;
    r.for_each([&](const Key&, const HeatCounter& c) { seen.push_back(c.rate()); });
    seen.push_back(static_cast<double>(r.size()));
    rates.push_back(std::move(seen));
  }
  constexpr std::size_t kTicksPerRun = 4;
  ASSERT_EQ(ticks.size(), 4 * kTicksPerRun);
  ASSERT_GT(ticks[0].size(), kKeys / 2);
  ASSERT_GT(ticks[2].size(), 0u);
  ASSERT_LT(ticks[2].size(), kKeys / 20);
  ASSERT_GT(ticks[3].size(), kKeys / 2);
  for (std::size_t k = kTicksPerRun; k < ticks.size(); ++k) {
    EXPECT_EQ(ticks[k], ticks[k % kTicksPerRun]) << "run " << k / kTicksPerRun << " tick " << k % kTicksPerRun;
  }
  for (std::size_t k = 1; k < rates.size(); ++k) {
    EXPECT_EQ(rates[k], rates.front()) << "run " << k;
  }
}

TEST(MultiThreadedTick, scalar_u64_candidates_and_prune_independent_of_threads) {
  tick_is_independent_of_thread_count<std::uint64_t>("scalar");
}
TEST(MultiThreadedTick, highway_u64_candidates_and_prune_independent_of_threads) {
  tick_is_independent_of_thread_count<std::uint64_t>("highway");
}
TEST(MultiThreadedTick, highway_blob_candidates_and_prune_independent_of_threads) {
  tick_is_independent_of_thread_count<BlobKey>("highway");
}
TEST(MultiThreadedTick, thrust_omp_u64_candidates_and_prune_independent_of_threads) {
  const bool built = std::ranges::any_of(
      list_backends(), [](const BackendInfo& b) { return b.name == "thrust-omp" && b.available; });
  if (!built) GTEST_SKIP() << "thrust-omp is not built here (HEATKIT_ENABLE_THRUST_OMP=OFF)";
  tick_is_independent_of_thread_count<std::uint64_t>("thrust-omp");
}

// Every CPU backend answers a request above the hardware threads (one more,
// and the CLI's largest, 4096) exactly as one for every hardware thread.
void threads_above_hardware_run_as_every_hardware_thread(const char* backend) {
  constexpr std::size_t kKeys = 100'000;
  const auto run = [&](unsigned threads) {
    RegistryOptions o;
    o.cap = 0;
    o.backend = backend;
    o.threads = threads;
    HeatRegistry r(o);
    for (std::size_t i = 0; i < kKeys; ++i) {
      const Instant at = t0() + std::chrono::milliseconds(i % 991);
      r.entry(i, 10s, at).bump(at);
    }
    std::vector<HeatRegistry::Emissions> ticks;
    ticks.push_back(r.tick(Policy{}, t0() + 1s));
    r.commit(ticks.back());
    ticks.push_back(r.tick(Policy{}, t0() + 600s));  // mass withdrawal and prune
    r.commit(ticks.back());
    EXPECT_EQ(r.size(), 0u);
    return ticks;
  };
  const auto expected = run(0);
  ASSERT_GT(expected.front().size(), kKeys / 2);
  EXPECT_EQ(run(hardware_threads() + 1), expected) << backend;
  EXPECT_EQ(run(4096), expected) << backend;
}

TEST(MultiThreadedTick, every_cpu_backend_runs_threads_above_the_hardware_as_the_hardware_threads) {
  for (const BackendInfo& b : list_backends()) {
    if (!b.available || b.name == "cuda" || b.name == "thrust") continue;  // CPU backends here
    SCOPED_TRACE(b.name);
    threads_above_hardware_run_as_every_hardware_thread(b.name.c_str());
  }
}

// tick(policy, now, out) gives exactly tick(policy, now) whatever `out`
// held before (here: a stale tick's result, bigger or smaller than the new
// one), with the keys looked up on one thread or split across several, and
// leaves `out` as it was when the policy is invalid. `Registry` is
// BasicHeatRegistry or ConcurrentHeatRegistry.
template <class Registry, class Key>
void bump_one(Registry& r, const Key& key, Instant now) {
  r.bump_batch(std::span<const Key>(&key, 1), 10s, now);
}

template <class Registry>
void tick_into_reused_vector_matches_a_fresh_tick(unsigned threads) {
  using Key = typename Registry::key_type;
  constexpr std::size_t kKeys = 100'000;
  const auto build = [&] {
    RegistryOptions o;
    o.cap = 0;
    o.backend = "highway";
    o.threads = threads;
    o.hash_seed = 7;  // one secret: a sharded registry's candidates come in shard order
    auto r = std::make_unique<Registry>(o);
    for (std::size_t i = 0; i < kKeys; ++i) bump_one(*r, make_key<Key>(i), t0() + std::chrono::milliseconds(i % 991));
    return r;
  };
  auto fresh = build();
  auto reused = build();
  const Policy policy;
  typename Registry::Emissions out(3);  // stale contents that must not survive
  out[1].first = make_key<Key>(kKeys + 1);
  const auto step = [&](Instant now) {
    const auto expected = fresh->tick(policy, now);
    reused->tick(policy, now, out);
    EXPECT_EQ(out, expected) << "tick at +" << (now - t0()).count() << " ns";
    fresh->commit(expected);
    reused->commit(out);
    return expected.size();
  };
  EXPECT_GT(step(t0() + 1s), kKeys / 2);  // every key emits: `out` grows
  EXPECT_EQ(step(t0() + 2s), 0u);         // nothing: `out` empties
  for (std::size_t i = 0; i < kKeys; i += 3) {  // rate ~0.8 -> ~3.8: twice the last emission
    for (int b = 0; b < 3; ++b) {
      bump_one(*fresh, make_key<Key>(i), t0() + 3s);
      bump_one(*reused, make_key<Key>(i), t0() + 3s);
    }
  }
  const std::size_t some = step(t0() + 4s);  // a third re-emits: `out` shrinks from its capacity
  EXPECT_GT(some, kKeys / 4);
  EXPECT_LT(some, kKeys / 2);
  EXPECT_GT(step(t0() + 600s), kKeys / 2);  // mass withdrawal: `out` grows past its old size

  const auto before = out;
  Policy bad;
  bad.emit_threshold_ratio = 0.5f;
  EXPECT_THROW(reused->tick(bad, t0() + 700s, out), InvalidPolicy);
  EXPECT_EQ(out, before);
}

TEST(MultiThreadedTick, tick_into_reused_vector_u64_one_thread) {
  tick_into_reused_vector_matches_a_fresh_tick<HeatRegistry>(1);
}
TEST(MultiThreadedTick, tick_into_reused_vector_u64_three_threads) {
  tick_into_reused_vector_matches_a_fresh_tick<HeatRegistry>(3);
}
TEST(MultiThreadedTick, tick_into_reused_vector_blob_three_threads) {
  tick_into_reused_vector_matches_a_fresh_tick<BlobHeatRegistry>(3);
}
TEST(MultiThreadedTick, tick_into_reused_vector_sharded_u64_three_threads) {
  tick_into_reused_vector_matches_a_fresh_tick<ConcurrentHeatRegistryOf<std::uint64_t>>(3);
}

}  // namespace
}  // namespace heatkit::test
