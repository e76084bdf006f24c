// LastUpdateMirror (store/last_updates.h), the device store's host copy of
// the last_update column: reads like the column it mirrors through writes,
// ticks (its stamps wrapping), growth and copies, on every thread count, and
// LruOrder reading it matches the full scan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "store/last_updates.h"
#include "tests/unit/lru_full_scan.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::Rng;
using test::run_lru_against_model;

TEST(LastUpdateMirror, reads_like_the_column_it_mirrors) {
  // Writes, ticks (over 255 of them: the stamps wrap and are cleared several
  // times), growth and whole-column copies, each mirrored in a plain column.
  Rng rng(31);
  LastUpdateMirror mirror;
  std::vector<std::int64_t> column;
  std::int64_t now = 100;
  int ticks = 0;
  for (int step = 0; step < 6000; ++step) {
    const std::uint64_t kind = rng.below(100);
    const char* op = "";
    if (kind < 2 || column.empty()) {
      op = "resize";
      const std::size_t n = column.size() + 1 + rng.below(40);
      mirror.resize(n);
      column.resize(n, 0);
      mirror.resize(n / 2);  // never shrinks
    } else if (kind < 55) {
      op = "set";
      const std::size_t s = rng.below(column.size());
      const std::int64_t at = now - static_cast<std::int64_t>(rng.below(5));  // may go back
      mirror.set(s, at);
      column[s] = at;
    } else if (kind < 58) {
      op = "assign";
      std::vector<std::int64_t> from(1 + rng.below(column.size()));
      for (std::int64_t& v : from) v = static_cast<std::int64_t>(rng.below(1000)) - 500;
      mirror.assign(from.data(), from.size());
      std::copy(from.begin(), from.end(), column.begin());
    } else {
      op = "tick";
      now += static_cast<std::int64_t>(rng.below(3));  // repeated instants too
      mirror.tick(now);
      std::fill(column.begin(), column.end(), now);
      ++ticks;
    }
    ASSERT_EQ(mirror.size(), column.size());
    const LastUpdates view = mirror.view();
    for (std::size_t s = 0; s < column.size(); ++s) {
      ASSERT_EQ(view[s], column[s]) << "slot " << s << " step " << step << " after " << op;
    }
  }
  EXPECT_GT(ticks, 3 * 255) << "the stamps wrapped several times";
  EXPECT_EQ(mirror.memory_bytes(), mirror.size() * 9) << "8 bytes of value and 1 of stamp";
}

TEST(LastUpdateMirror, new_slots_read_zero_after_ticks) {
  // A store's new slots are empty (last_update 0), whatever earlier ticks set.
  LastUpdateMirror mirror;
  mirror.resize(4);
  mirror.tick(50);
  mirror.resize(8);
  const LastUpdates view = mirror.view();
  for (std::size_t s = 0; s < 4; ++s) EXPECT_EQ(view[s], 50) << "slot " << s;
  for (std::size_t s = 4; s < 8; ++s) EXPECT_EQ(view[s], 0) << "slot " << s;
}

TEST(LastUpdateMirror, a_large_mirror_clears_its_stamps_on_every_thread_count) {
  // Past 4 Mi slots the clear of the stamps runs in chunks on the shared
  // pool. Slots written once, before the first tick, carry the stamp that
  // comes back after the clear: every one of them (both ends of every chunk)
  // must still read the last tick's instant then. Slots written before every
  // tick must read their own values until it.
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  constexpr std::size_t kSlots = 2 * kChunk + 4097;  // 3 chunks, the last short
  const std::vector<std::size_t> once = {0,          kChunk - 1,     kChunk, 2 * kChunk - 1,
                                         2 * kChunk, kSlots - 1};
  const std::vector<std::size_t> every = {1, kChunk + 5, kSlots - 2};
  auto value_of = [](std::size_t s, std::int64_t now) {
    return now - 7 - static_cast<std::int64_t>(s % 5);
  };
  for (const unsigned threads : {1u, 2u, 0u}) {
    SCOPED_TRACE(::testing::Message() << "threads " << threads);
    LastUpdateMirror mirror;
    mirror.resize(kSlots);
    std::int64_t now = 1000;
    for (const std::size_t s : once) mirror.set(s, value_of(s, now));
    for (int tick = 1; tick <= 2 * 255 + 3; ++tick) {
      for (const std::size_t s : every) mirror.set(s, value_of(s, now));
      for (const std::size_t s : every) {
        ASSERT_EQ(mirror.view()[s], value_of(s, now)) << "slot " << s << " before tick " << tick;
      }
      mirror.tick(++now, threads);
      for (const std::size_t s : once) {
        ASSERT_EQ(mirror.view()[s], now) << "slot " << s << " after tick " << tick;
      }
      for (const std::size_t s : every) {
        ASSERT_EQ(mirror.view()[s], now) << "slot " << s << " after tick " << tick;
      }
      ASSERT_EQ(mirror.view()[kSlots / 3], now) << "a slot never written, after tick " << tick;
    }
  }
}

TEST(LastUpdateMirror, lru_order_reading_the_mirror_matches_the_full_scan) {
  // The device store's arrangement: the order reads the mirror, whose ticks
  // are one instant and stamps (wrapping many times over 20,000 steps).
  for (const std::size_t max_stale : {0u, 3u}) {
    for (const std::uint64_t seed : {21u, 22u}) {
      SCOPED_TRACE(::testing::Message() << "max_stale " << max_stale << " seed " << seed);
      LastUpdateMirror mirror;
      run_lru_against_model(max_stale, 24, seed, 20'000, nullptr, &mirror);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace heatkit
