// SlotIndex (registry/slot_index.h), the key -> slot hash index, against
// std::unordered_map: random inserts, erases and finds with growth, runs that
// wrap around the table's end, keys sharing a home bucket and a tag, the
// guessed slot of the batch bump, and slot numbers wider than the bucket count.
#include <gtest/gtest.h>

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "registry/key_hash.h"
#include "registry/slot_index.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::Rng;

// The real u64 key hash, under a fixed secret.
const KeyHash kU64Hash(0x5eed'1234'abcd'0001);

// Home bucket = key >> 16, so a test can put keys where it wants them.
struct ClusterHash {
  std::uint64_t operator()(std::uint64_t key) const noexcept { return key >> 16; }
};

// Drives a SlotIndex and an unordered_map<key, slot> through the same random
// inserts, erases and finds over `universe`, checking after every step.
template <class Hasher>
class SlotIndexHarness {
 public:
  SlotIndexHarness(std::vector<std::uint64_t> universe, std::uint64_t seed, Hasher hasher = Hasher{})
      : universe_(std::move(universe)), rng_(seed), keys_(universe_.size()), index_(std::move(hasher)) {
    for (std::uint32_t s = 0; s < keys_.size(); ++s) free_.push_back(s);
  }

  // `insert_percent` of the insert-or-erase steps insert.
  void run(int steps, std::uint64_t insert_percent, bool check_all_each_step) {
    for (int step = 0; step < steps; ++step) {
      const std::uint64_t key = universe_[rng_.below(universe_.size())];
      const auto it = model_.find(key);
      const std::uint32_t found = index_.find(key, index_.hash(key), keys_.data());
      ASSERT_EQ(found, it == model_.end() ? Index::kNoSlot : it->second)
          << "find(" << key << ") at step " << step;
      if (rng_.chance(15)) continue;  // a find-only step
      if (rng_.chance(insert_percent)) {
        if (it != model_.end()) continue;
        const std::uint32_t slot = free_.back();
        free_.pop_back();
        keys_[slot] = key;
        index_.insert(index_.hash(key), slot, keys_.data());
        model_.emplace(key, slot);
      } else {
        if (it == model_.end()) continue;
        index_.erase(index_.hash(key), it->second, keys_.data());
        free_.push_back(it->second);
        model_.erase(it);
      }
      ASSERT_EQ(index_.size(), model_.size()) << "step " << step;
      if (check_all_each_step || step % 1024 == 0) {
        check_all();
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    check_all();
  }

  void check_all() {
    for (const std::uint64_t key : universe_) {
      const auto it = model_.find(key);
      ASSERT_EQ(index_.find(key, index_.hash(key), keys_.data()),
                it == model_.end() ? Index::kNoSlot : it->second)
          << "key " << key;
    }
  }

  using Index = SlotIndex<std::uint64_t, Hasher>;
  Index& index() { return index_; }
  const std::uint64_t* keys() const { return keys_.data(); }
  std::size_t model_size() const { return model_.size(); }

 private:
  std::vector<std::uint64_t> universe_;
  Rng rng_;
  std::vector<std::uint64_t> keys_;  // slot -> key, as the registry's key column
  std::vector<std::uint32_t> free_;
  Index index_;
  std::unordered_map<std::uint64_t, std::uint32_t> model_;
};

TEST(SlotIndex, empty_index_finds_nothing_and_erase_is_a_no_op) {
  SlotIndex<std::uint64_t, KeyHash> index(kU64Hash);
  const std::uint64_t keys[1] = {42};
  EXPECT_EQ(index.find(42, kU64Hash(42), keys), index.kNoSlot);
  index.erase(kU64Hash(42), 0, keys);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.memory_bytes(), 0u);
}

TEST(SlotIndex, randomized_against_unordered_map_with_growth) {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    Rng keys_rng(seed * 977);
    std::vector<std::uint64_t> universe;
    for (int i = 0; i < 3000; ++i) universe.push_back(keys_rng.engine());
    for (std::uint64_t k = 0; k < 64; ++k) universe.push_back(k);  // small, dense keys too
    SlotIndexHarness<KeyHash> h(universe, seed, kU64Hash);
    // Fill (the table grows through several rehashes), churn, then drain.
    h.run(20'000, 85, false);
    if (HasFatalFailure()) return;
    EXPECT_GT(h.model_size(), 2000u) << "the fill phase filled";
    EXPECT_GE(h.index().bucket_count(), 4096u) << "and grew the table";
    h.run(40'000, 50, false);
    h.run(40'000, 0, false);
    if (HasFatalFailure()) return;
    EXPECT_LT(h.model_size(), 20u) << "the drain phase drained";
  }
}

TEST(SlotIndex, erase_chains_wrap_around_the_table_end) {
  // 128 buckets; homes 124..127 and 0..2 make probe runs that cross the end.
  std::vector<std::uint64_t> universe;
  for (const std::uint64_t home : {124u, 125u, 126u, 127u, 0u, 1u, 2u}) {
    for (std::uint64_t v = 0; v < 12; ++v) universe.push_back(home << 16 | v);
  }
  for (const std::uint64_t seed : {11u, 12u, 13u, 14u}) {
    SCOPED_TRACE(seed);
    SlotIndexHarness<ClusterHash> h(universe, seed);
    h.index().reserve(64, h.keys());
    ASSERT_EQ(h.index().bucket_count(), 128u);
    h.run(30'000, 55, true);
    if (HasFatalFailure()) return;
    EXPECT_EQ(h.index().bucket_count(), 128u) << "never grew: every run stayed in one table";
  }
}

TEST(SlotIndex, erase_shifts_a_wrapped_run_back) {
  using Index = SlotIndex<std::uint64_t, ClusterHash>;
  // Slots 0..2 home at bucket 15 (the last of 16), slot 3 homes at bucket 0:
  // buckets 15, 0, 1 hold slots 0, 1, 2 and slot 3 sits in bucket 2.
  const std::uint64_t keys[] = {15u << 16 | 0, 15u << 16 | 1, 15u << 16 | 2, 0u << 16 | 3};
  Index index;
  index.reserve(4, keys);
  ASSERT_EQ(index.bucket_count(), 16u);
  for (std::uint32_t s = 0; s < 4; ++s) index.insert(ClusterHash{}(keys[s]), s, keys);
  index.erase(ClusterHash{}(keys[0]), 0, keys);
  for (std::uint32_t s = 1; s < 4; ++s) {
    EXPECT_EQ(index.find(keys[s], ClusterHash{}(keys[s]), keys), s);
  }
  EXPECT_EQ(index.find(keys[0], ClusterHash{}(keys[0]), keys), Index::kNoSlot);
  index.erase(ClusterHash{}(keys[3]), 3, keys);
  EXPECT_EQ(index.find(keys[1], ClusterHash{}(keys[1]), keys), 1u);
  EXPECT_EQ(index.find(keys[2], ClusterHash{}(keys[2]), keys), 2u);
  EXPECT_EQ(index.size(), 2u);
}

// Home bucket = bits 16.. of the key, tag bits = the key's top half: keys
// that share a home but differ in their tag, or share both.
struct TagHash {
  std::uint64_t operator()(std::uint64_t key) const noexcept { return key; }
};

TEST(SlotIndex, keys_sharing_home_and_tag_are_told_apart_by_the_key) {
  using Index = SlotIndex<std::uint64_t, TagHash>;
  // Same home (low bits 0) and the same top half: only the key differs.
  const std::uint64_t keys[] = {0xABCD'0000'0000'0000, 0xABCD'0000'0001'0000,
                                0xABCD'0000'0002'0000, 0x1234'0000'0000'0000};
  Index index;
  index.reserve(4, keys);
  for (std::uint32_t s = 0; s < 4; ++s) index.insert(TagHash{}(keys[s]), s, keys);
  for (std::uint32_t s = 0; s < 4; ++s) EXPECT_EQ(index.find(keys[s], keys[s], keys), s);
  // An absent key with a present key's home and tag is still absent.
  const std::uint64_t absent = 0xABCD'0000'0003'0000;
  EXPECT_EQ(index.find(absent, absent, keys), Index::kNoSlot);
  index.erase(keys[1], 1, keys);
  EXPECT_EQ(index.find(keys[1], keys[1], keys), Index::kNoSlot);
  EXPECT_EQ(index.find(keys[2], keys[2], keys), 2u);
}

TEST(SlotIndex, guessed_slot_is_the_slot_found_when_the_tag_is_unique) {
  using Index = SlotIndex<std::uint64_t, KeyHash>;
  std::vector<std::uint64_t> keys;
  Rng rng(21);
  for (int i = 0; i < 5000; ++i) keys.push_back(rng.engine());
  Index index(kU64Hash);
  index.reserve(2 * keys.size(), keys.data());  // 16,384 buckets: a load under 1/3
  for (std::uint32_t s = 0; s < keys.size(); ++s) index.insert(kU64Hash(keys[s]), s, keys.data());
  std::size_t agree = 0;
  for (std::uint32_t s = 0; s < keys.size(); ++s) {
    const std::uint32_t guess = index.guess(kU64Hash(keys[s])).slot;
    if (guess == s) ++agree;
    // A guess is always a slot of the index (safe to prefetch), or none.
    EXPECT_TRUE(guess == Index::kNoSlot || guess < keys.size()) << guess;
  }
  // A guess misses only on a tag collision (17 tag bits here) or for a key
  // whose probe run leaves its home bucket's cache line (few at this load):
  // a hint that is almost always right.
  EXPECT_GT(agree, keys.size() * 98 / 100);
  EXPECT_EQ(Index(kU64Hash).guess(kU64Hash(1)).slot, Index::kNoSlot) << "empty index";
}

TEST(SlotIndex, guess_scans_the_lines_asked_for_and_says_whether_the_run_goes_on) {
  using Index = SlotIndex<std::uint64_t, TagHash>;  // the key is its own hash
  Index index;
  std::vector<std::uint64_t> keys;
  index.reserve(40, keys.data());
  ASSERT_EQ(index.bucket_count(), 64u) << "four lines of 16 buckets";
  // Six keys homed at bucket 13 (distinct tags, in the hash's top half) fill
  // buckets 13 to 18: the last three spill into the second line. Four homed
  // at bucket 62 fill 62, 63, 0 and 1: the table's first line follows its last.
  const auto key_at = [](std::uint64_t tag, std::uint64_t home) { return tag << 40 | home; };
  for (std::uint64_t j = 0; j < 6; ++j) keys.push_back(key_at(j + 1, 13));
  for (std::uint64_t j = 0; j < 4; ++j) keys.push_back(key_at(j + 101, 62));
  for (std::uint32_t s = 0; s < keys.size(); ++s) index.insert(keys[s], s, keys.data());
  ASSERT_EQ(index.bucket_count(), 64u);
  for (std::uint32_t s = 0; s < keys.size(); ++s) {
    SCOPED_TRACE(s);
    const bool in_home_line = s < 3 || (s >= 6 && s < 8);
    const Index::Guess one = index.guess(keys[s]);
    EXPECT_EQ(one.slot, in_home_line ? s : Index::kNoSlot);
    EXPECT_EQ(one.run_goes_on, !in_home_line) << "no match in the home line, and no empty bucket";
    const Index::Guess two = index.guess(keys[s], 2);
    EXPECT_EQ(two.slot, s) << "found in the next line";
    EXPECT_FALSE(two.run_goes_on);
  }
  // An absent key: its run ends at an empty bucket (the key is surely absent)
  // unless it leaves the lines scanned first.
  const std::uint64_t absent_long_run = key_at(77, 13);
  EXPECT_TRUE(index.guess(absent_long_run).run_goes_on);
  EXPECT_EQ(index.guess(absent_long_run, 2).slot, Index::kNoSlot);
  EXPECT_FALSE(index.guess(absent_long_run, 2).run_goes_on) << "bucket 19 is empty";
  const std::uint64_t absent_empty_home = key_at(77, 40);
  EXPECT_EQ(index.guess(absent_empty_home).slot, Index::kNoSlot);
  EXPECT_FALSE(index.guess(absent_empty_home).run_goes_on);
  EXPECT_FALSE(Index().guess(5, 2).run_goes_on) << "empty index";
}

TEST(SlotIndex, slots_beyond_the_bucket_count_widen_the_slot_field) {
  // A small table holding large slot numbers: every insert may take tag bits
  // away, and every key must stay findable through each widening.
  using Index = SlotIndex<std::uint64_t, KeyHash>;
  std::vector<std::uint64_t> keys(1u << 20);
  Index index(kU64Hash);
  std::vector<std::uint32_t> slots;
  for (std::uint32_t i = 0; i < 12; ++i) {
    const std::uint32_t slot = (std::uint32_t{1} << (i + 8)) + i;  // 257, 513, ... ~2^19
    keys[slot] = 0x5EED'0000 + i;
    index.insert(kU64Hash(keys[slot]), slot, keys.data());
    slots.push_back(slot);
    for (const std::uint32_t s : slots) {
      ASSERT_EQ(index.find(keys[s], kU64Hash(keys[s]), keys.data()), s) << "after slot " << slot;
    }
  }
  EXPECT_EQ(index.bucket_count(), 16u) << "the table itself never grew";
  // The largest slot there is leaves no tag bits, and is not the empty mark.
  const std::uint32_t top = 0xFFFF'FFFEu;
  Index wide(kU64Hash);
  wide.insert(kU64Hash(77), top, static_cast<const std::uint64_t*>(nullptr));
  EXPECT_EQ(wide.size(), 1u);
  EXPECT_EQ(wide.guess(kU64Hash(77)).slot, top);
}

}  // namespace
}  // namespace heatkit
