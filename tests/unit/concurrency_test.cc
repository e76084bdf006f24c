// The seed's concurrency stress tests: the registry is not thread-safe and is
// shared under an outer mutex, as the seed shares it under Arc<Mutex<..>>.
// They pin that the outer-mutex wiring keeps every invariant. CI also runs
// this binary under ThreadSanitizer, so each test takes well under a second.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "host/registry.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::hash;

// Real monotonic time, as the seed's Instant::now().
Instant now() { return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now()); }

TEST(Concurrency, blob_heat_concurrent_bump_accumulates_under_outer_mutex) {
  BlobHeatRegistry registry;
  std::mutex mutex;
  const Duration half = 1h;  // negligible decay over the test
  const BlobKey target = hash(0xAB);
  constexpr std::size_t kThreads = 8;
  constexpr std::size_t kPerThread = 1000;

  test::run_together(kThreads, [&](std::size_t /*thread*/) {
    for (std::size_t i = 0; i < kPerThread; ++i) {
      const Instant at = now();
      const std::lock_guard lock(mutex);
      registry.entry(target, half, at).bump(at);
    }
  });

  const std::lock_guard lock(mutex);
  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "entry must exist";
  const double expected = static_cast<double>(kThreads * kPerThread);
  // An hour's half-life over a sub-second run decays well under 1 %.
  EXPECT_GT(counter->rate(), expected * 0.99) << "bumps lost";
  EXPECT_LE(counter->rate(), expected) << "bumps double-counted";
  EXPECT_EQ(registry.size(), 1u);
}

TEST(Concurrency, blob_heat_tick_concurrent_with_bumps_is_panic_free) {
  BlobHeatRegistry registry;
  std::mutex mutex;
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const BlobKey target = hash(0xCD);
  std::atomic<bool> stop{false};
  std::barrier start(2);

  // Pre-seeded: the ticker may finish before the bumper ever gets the lock.
  {
    const Instant at = now();
    const std::lock_guard lock(mutex);
    registry.entry(target, half, at).bump(at);
  }

  std::thread bumper([&] {
    start.arrive_and_wait();
    while (!stop.load(std::memory_order_relaxed)) {
      const Instant at = now();
      const std::lock_guard lock(mutex);
      registry.entry(target, half, at).bump(at);
    }
  });
  std::thread ticker([&] {
    start.arrive_and_wait();
    for (int i = 0; i < 200; ++i) {
      const Instant at = now();
      const std::lock_guard lock(mutex);
      (void)registry.tick(policy, at);
    }
    stop.store(true, std::memory_order_relaxed);
  });
  bumper.join();
  ticker.join();

  // Emission counts are not asserted (the bumper may be starved); the
  // registry must still be whole and usable.
  const std::lock_guard lock(mutex);
  const auto counter = registry.get(target);
  ASSERT_TRUE(counter.has_value()) << "target entry should survive the storm";
  EXPECT_GE(counter->rate(), 0.0);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_NO_THROW((void)registry.tick(policy, now()));
}

TEST(Concurrency, blob_heat_lru_cap_holds_under_concurrent_inserts) {
  constexpr std::size_t kCap = 16;
  auto registry = BlobHeatRegistry::with_cap(kCap);
  std::mutex mutex;
  const Duration half = 60s;
  constexpr std::size_t kThreads = 4;
  constexpr std::size_t kInsertsPerThread = 64;  // distinct keys, far past the cap
  std::atomic<std::size_t> over_cap{0};

  test::run_together(kThreads, [&](std::size_t t) {
    for (std::size_t i = 0; i < kInsertsPerThread; ++i) {
      const BlobKey k = hash(static_cast<std::uint8_t>(t * kInsertsPerThread + i));
      const Instant at = now();
      const std::lock_guard lock(mutex);
      registry.entry(k, half, at);
      if (registry.size() > kCap) over_cap.fetch_add(1, std::memory_order_relaxed);
    }
  });

  const std::lock_guard lock(mutex);
  EXPECT_EQ(over_cap.load(), 0u) << "size exceeded the cap during the inserts";
  EXPECT_LE(registry.size(), kCap);
  // 256 distinct keys through a cap of 16: full, with every other one evicted.
  EXPECT_EQ(registry.size(), kCap);
  EXPECT_EQ(registry.stats().evictions, kThreads * kInsertsPerThread - kCap);
}

}  // namespace
}  // namespace heatkit
