// The fork-join pool and multi-threaded passes: every task runs exactly once,
// and the tick's candidates and columns do not depend on the thread count.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "host/thread_pool.h"
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
  EXPECT_EQ(resolve_threads(3), 3u);
  EXPECT_GE(resolve_threads(0), 1u);
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
    auto first = r.tick(policy, now + 1s);
    r.commit(first);
    ticks.push_back(r.tick(policy, now + 400s));  // most withdraw
    r.commit(ticks.back());
    std::vector<double> seen;
    r.for_each([&](const Key&, const HeatCounter& c) { seen.push_back(c.rate()); });
    seen.push_back(static_cast<double>(r.size()));
    rates.push_back(std::move(seen));
  }
  ASSERT_GT(ticks.front().size(), kKeys / 2);
  for (std::size_t k = 1; k < ticks.size(); ++k) {
    EXPECT_EQ(ticks[k], ticks.front()) << "threads " << k + 1;
    EXPECT_EQ(rates[k], rates.front()) << "threads " << k + 1;
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

}  // namespace
}  // namespace heatkit::test
