// LruOrder (registry/lru_order.h), the eviction order, against a full scan
// for the smallest (last_update, last bump): ties, compactions of the log,
// a full order replacing its oldest, positions kept in the key records,
// slot numbers past three bytes, and its memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "registry/key_records.h"
#include "registry/lru_order.h"
#include "tests/unit/lru_full_scan.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::Rng;
using test::run_lru_against_model;

TEST(LruOrder, empty_order_has_no_victim) {
  LruOrder lru;
  const std::int64_t column[1] = {0};
  EXPECT_EQ(lru.victim(column), LruOrder::kNone);
  lru.ensure_slots(1);
  EXPECT_EQ(lru.victim(column), LruOrder::kNone);
  EXPECT_FALSE(lru.contains(0));
}

TEST(LruOrder, ties_on_last_update_go_to_the_earliest_bump) {
  LruOrder lru;
  lru.ensure_slots(3);
  std::vector<std::int64_t> lu(3, 10);
  lru.on_insert(2, 10);
  lru.on_insert(0, 10);
  lru.on_insert(1, 10);
  EXPECT_EQ(lru.victim(lu.data()), 2u);
  lru.on_bump(2, 10);
  EXPECT_EQ(lru.victim(lu.data()), 0u);
  lru.on_tick(50);
  std::fill(lu.begin(), lu.end(), 50);
  EXPECT_EQ(lru.victim(lu.data()), 0u) << "after a tick bump order alone decides";
  lu[1] = 5;
  lru.on_decay(1, 5, lu.data());
  EXPECT_EQ(lru.victim(lu.data()), 1u) << "a decay to an earlier instant moves it first";
}

// What an order of n slots (below 2^24, so 3-byte log records) holds: a
// 4-byte position per slot unless the caller keeps them, and 8 bytes of log
// per slot: n + 5n/3 records of 3 bytes and a byte of padding.
std::size_t lru_bytes(std::size_t n, bool own_positions) {
  return (own_positions ? 4 * n : 0) + 3 * (n + n * 5 / 3) + 1;
}

TEST(LruOrder, memory_is_twelve_bytes_per_slot_and_bounded) {
  LruOrder lru;
  lru.ensure_slots(1000);
  EXPECT_EQ(lru.memory_bytes(), lru_bytes(1000, true)) << "4-byte position, 8/3 records of 3 bytes";
  EXPECT_LE(lru.memory_bytes(), 1000u * 12);
  EXPECT_THROW(lru.ensure_slots(LruOrder::kMaxSlots + 1), std::length_error);
  EXPECT_EQ(lru.memory_bytes(), lru_bytes(1000, true)) << "nothing changed";
}

TEST(LruOrder, eviction_order_survives_compactions_of_a_large_log) {
  // 5000 entries bumped in a scrambled order, many times over: each full log
  // compacts; the victims must still come in bump order.
  constexpr std::uint32_t kSlots = 5000;
  LruOrder lru;
  lru.ensure_slots(kSlots);
  std::vector<std::int64_t> lu(kSlots);
  std::int64_t now = 0;
  for (std::uint32_t s = 0; s < kSlots; ++s) {
    lu[s] = ++now;
    lru.on_insert(s, now);
  }
  Rng rng(77);
  std::vector<std::uint32_t> order(kSlots);  // slots by last bump, oldest first
  for (std::uint32_t s = 0; s < kSlots; ++s) order[s] = s;
  for (int round = 0; round < 7; ++round) {  // 35,000 bumps: several compactions
    for (std::uint32_t k = 0; k < kSlots; ++k) {
      const std::uint32_t s = static_cast<std::uint32_t>(rng.below(kSlots));
      lu[s] = ++now;
      lru.on_bump(s, now);
      order.erase(std::find(order.begin(), order.end(), s));
      order.push_back(s);
    }
  }
  for (std::uint32_t k = 0; k < kSlots; ++k) {
    const std::uint32_t v = lru.victim(lu.data());
    ASSERT_EQ(v, order[k]) << "victim " << k;
    lru.on_erase(v);
  }
  EXPECT_EQ(lru.victim(lu.data()), LruOrder::kNone);
  EXPECT_EQ(lru.size(), 0u);
}

TEST(LruOrder, a_full_order_replacing_its_oldest_keeps_first_in_first_out) {
  // As at a registry's cap: every insert first evicts the victim. The log
  // fills with records of evicted entries ahead of the cursor, and compacts
  // by dropping them; the victims must come in insertion order throughout.
  constexpr std::uint32_t kSlots = 1000;
  LruOrder lru;
  lru.ensure_slots(kSlots);
  std::vector<std::int64_t> lu(kSlots);
  std::vector<std::uint32_t> inserted;  // slots in insertion order
  std::int64_t now = 0;
  for (std::uint32_t s = 0; s < kSlots; ++s) {
    lu[s] = ++now;
    lru.on_insert(s, now);
    inserted.push_back(s);
  }
  for (std::size_t k = 0; k < 10 * kSlots; ++k) {
    const std::uint32_t v = lru.victim(lu.data());
    ASSERT_EQ(v, inserted[k]) << "eviction " << k;
    lru.on_erase(v);
    lu[v] = ++now;
    lru.on_insert(v, now);
    inserted.push_back(v);
    if (k % 7 == 3) {  // a bump now and then moves an entry to the back
      const std::uint32_t b = inserted[k + 1 + k % 50];
      lu[b] = ++now;
      lru.on_bump(b, now);
      inserted.erase(std::find(inserted.begin() + static_cast<std::ptrdiff_t>(k) + 1, inserted.end(), b));
      inserted.push_back(b);
    }
  }
  EXPECT_EQ(lru.size(), kSlots);
  EXPECT_EQ(lru.memory_bytes(), lru_bytes(kSlots, true)) << "compaction never grows the log";
}

TEST(LruOrder, randomized_against_full_scan_with_default_limit) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    run_lru_against_model(0, 24, seed, 20'000);
    if (HasFatalFailure()) return;
  }
}

TEST(LruOrder, randomized_against_full_scan_across_many_compactions) {
  // A small stale allowance compacts the log every few appends (1: whenever
  // all 24 slots are live, on every append; 40 exceeds the slot count, so the
  // default allowance of one slot count applies).
  for (const std::size_t max_stale : {1u, 2u, 3u, 8u, 40u}) {
    for (const std::uint64_t seed : {5u, 6u}) {
      SCOPED_TRACE(::testing::Message() << "max_stale " << max_stale << " seed " << seed);
      run_lru_against_model(max_stale, 24, seed, 20'000);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(LruOrder, positions_in_key_records_match_the_full_scan_across_growth) {
  // The registry's arrangement: positions beside the keys, a 12-byte stride,
  // the records moved by growth midway. Keys stored there stay untouched.
  for (const std::size_t max_stale : {0u, 1u, 3u}) {
    for (const std::uint64_t seed : {11u, 12u}) {
      SCOPED_TRACE(::testing::Message() << "max_stale " << max_stale << " seed " << seed);
      KeyRecords<std::uint64_t> records;
      records.ensure_slots(12);
      for (std::uint32_t s = 0; s < 12; ++s) records.set_key(s, 0xC0FFEE'0000'0000ULL + s);
      run_lru_against_model(max_stale, 24, seed, 20'000, &records);
      if (HasFatalFailure()) return;
      for (std::uint32_t s = 0; s < 12; ++s) {
        ASSERT_EQ(records[s], 0xC0FFEE'0000'0000ULL + s) << "the order wrote over key " << s;
      }
    }
  }
}

// Past 2^24 slots a slot number needs 4 bytes: the log widens its records,
// keeping every record and its order, and its bytes stay 8 per slot (two
// records). Slot numbers on both sides of 2^24, bumped and decayed across the
// widening, with compactions before and after it (max_stale 3).
TEST(LruOrder, slot_numbers_past_three_bytes_widen_the_log_and_keep_the_order) {
  constexpr std::uint32_t kWide = (1u << 24) + 5;  // needs the fourth byte
  LruOrder lru(3);
  lru.ensure_slots(64);
  std::vector<std::int64_t> lu(std::size_t{1} << 24 | 64, 0);
  std::vector<std::uint32_t> expected;  // victims to come, oldest first
  std::int64_t now = 100;
  for (std::uint32_t s = 0; s < 40; ++s) {
    lu[s] = ++now;
    lru.on_insert(s, now);
    expected.push_back(s);
  }
  const auto bump = [&](std::uint32_t s) {
    lu[s] = ++now;
    lru.on_bump(s, now);
    expected.erase(std::find(expected.begin(), expected.end(), s));
    expected.push_back(s);
  };
  for (std::uint32_t s = 0; s < 40; s += 3) bump(s);  // compacts: 40 + 3 records fill the 3-slack log
  lru.ensure_slots(lu.size());
  EXPECT_EQ(lru.memory_bytes(), lu.size() * 4 + (lu.size() + 3) * 4 + 1)
      << "4-byte positions, n + max_stale 4-byte records and the padding byte";
  lu[kWide] = ++now;
  lru.on_insert(kWide, now);
  expected.push_back(kWide);
  lu[kWide - 1] = ++now;
  lru.on_insert(kWide - 1, now);
  expected.push_back(kWide - 1);
  for (std::uint32_t s = 1; s < 40; s += 4) bump(s);
  bump(kWide);
  for (const std::uint32_t want : expected) {
    ASSERT_EQ(lru.victim(lu.data()), want);
    lru.on_erase(want);
  }
  EXPECT_EQ(lru.victim(lu.data()), LruOrder::kNone);
}

TEST(LruOrder, with_positions_in_records_holds_only_its_log) {
  KeyRecords<std::uint64_t> records;
  records.ensure_slots(1000);
  LruOrder lru;
  lru.ensure_slots(1000, records.lru_positions());
  EXPECT_EQ(lru.memory_bytes(), lru_bytes(1000, false)) << "8/3 log records of 3 bytes per slot, no positions";
  EXPECT_EQ(records.key_bytes() + records.position_bytes(), 1000u * 12);
}

}  // namespace
}  // namespace heatkit
