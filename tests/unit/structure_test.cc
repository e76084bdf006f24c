// The registry's building blocks against naive references: SlotIndex against
// std::unordered_map, HostCounterStore's per-slot operations and the scalar
// kernels against HeatCounter objects, and LruOrder against a full scan.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "registry/key_records.h"
#include "store/last_updates.h"
#include "registry/lru_order.h"
#include "registry/registry.h"
#include "registry/slot_index.h"
#include "kernels/scalar_kernels.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::Rng;
using test::same_double;

// ======== SlotIndex ========

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

// ======== HostCounterStore ========

std::unique_ptr<HostCounterStore> scalar_store() {
  return std::make_unique<HostCounterStore>("scalar",
                                            HostKernels{&scalar::tick, &scalar::collect_prunable});
}

void expect_state(const CounterState& got, const HeatCounter& want, bool in_flight) {
  EXPECT_TRUE(same_double(got.rate, want.rate())) << got.rate << " vs " << want.rate();
  EXPECT_EQ(got.last_update, to_ns(want.last_update()));
  EXPECT_EQ(got.half_life, to_ns(want.half_life()));
  EXPECT_EQ(got.has_emitted, want.last_emitted().has_value());
  if (want.last_emitted()) {
    EXPECT_EQ(got.last_emitted, *want.last_emitted());
  }
  EXPECT_EQ(got.in_flight, in_flight);
}

TEST(HostCounterStore, new_slots_are_empty_and_growth_keeps_contents) {
  auto store = scalar_store();
  EXPECT_EQ(store->backend(), "scalar");
  EXPECT_EQ(store->slot_count(), 0u);
  store->ensure_slots(4);
  ASSERT_EQ(store->slot_count(), 4u);
  for (Slot s = 0; s < 4; ++s) {
    const CounterState st = store->read(s);
    EXPECT_EQ(st.rate, 0.0);
    EXPECT_FALSE(st.has_emitted);
    EXPECT_FALSE(st.in_flight);
  }
  store->init(2, 1000, 50);
  store->bump(2, 50);
  store->ensure_slots(2);
  EXPECT_EQ(store->slot_count(), 4u) << "never shrinks";
  store->ensure_slots(100);
  EXPECT_EQ(store->slot_count(), 100u);
  EXPECT_EQ(store->read(2).rate, 1.0);
  EXPECT_EQ(store->read(2).half_life, 1000);
  EXPECT_EQ(store->last_update_host()[2], 50);
  EXPECT_GE(store->memory_bytes(), 100u * (4 * 8 + 1));
}

TEST(HostCounterStore, per_slot_ops_match_heat_counter) {
  auto store = scalar_store();
  store->ensure_slots(3);
  const std::int64_t half = 1'000'000;
  store->init(1, half, 100);
  HeatCounter want(Duration(half), instant_from_ns(100));
  expect_state(store->read(1), want, false);

  for (const std::int64_t t : {100, 100, 600'100, 400, 2'000'000, 70'000'000}) {
    store->bump(1, t);
    want.bump(instant_from_ns(t));
    expect_state(store->read(1), want, false);
    store->decay_to(1, t + 250'000);
    want.decay_to(instant_from_ns(t + 250'000));
    expect_state(store->read(1), want, false);
  }
  EXPECT_EQ(store->last_update_host()[1], to_ns(want.last_update()));
  // The neighbours were never touched.
  EXPECT_EQ(store->read(0).rate, 0.0);
  EXPECT_EQ(store->read(2).rate, 0.0);
}

TEST(HostCounterStore, record_sets_last_emitted_by_kind) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->record(0, Decision::kSuppress, 7.0);
  EXPECT_FALSE(store->read(0).has_emitted) << "Suppress records nothing";
  store->record(0, Decision::kEmit, 3.5);
  EXPECT_TRUE(store->read(0).has_emitted);
  EXPECT_EQ(store->read(0).last_emitted, 3.5);
  store->record(0, Decision::kWithdraw, 9.0);
  EXPECT_EQ(store->read(0).last_emitted, 0.0) << "a withdrawal records 0 whatever the rate";
  store->record(0, Decision::kSuppress, 7.0);
  EXPECT_EQ(store->read(0).last_emitted, 0.0);
}

TEST(HostCounterStore, in_flight_mark_is_independent_of_emission_state) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->record(0, Decision::kEmit, 2.0);
  store->set_in_flight(0, true);
  EXPECT_TRUE(store->read(0).in_flight);
  EXPECT_TRUE(store->read(0).has_emitted);
  store->set_in_flight(0, false);
  EXPECT_FALSE(store->read(0).in_flight);
  EXPECT_TRUE(store->read(0).has_emitted);
  EXPECT_EQ(store->read(0).last_emitted, 2.0);
}

TEST(HostCounterStore, init_resets_and_clear_empties_a_slot) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->bump(0, 0);
  store->record(0, Decision::kWithdraw, 0.0);
  store->set_in_flight(0, true);
  store->init(0, 2000, 5);
  expect_state(store->read(0), HeatCounter(Duration(2000), instant_from_ns(5)), false);

  store->bump(0, 5);
  store->record(0, Decision::kWithdraw, 0.0);
  store->set_in_flight(0, true);
  store->clear(0);
  const CounterState st = store->read(0);
  EXPECT_EQ(st.rate, 0.0);
  EXPECT_FALSE(st.has_emitted);
  EXPECT_FALSE(st.in_flight);
  // A cleared slot is ignored by both bulk passes.
  std::vector<Candidate> candidates;
  TickParams p;
  p.now = 10;
  store->tick(p, candidates);
  EXPECT_TRUE(candidates.empty());
  std::vector<Slot> prunable;
  store->collect_prunable(prunable);
  EXPECT_TRUE(prunable.empty());
}

// ======== scalar::tick and scalar::collect_prunable ========

// Columns of `n` counters plus one sentinel slot past the end that the
// kernels must leave alone.
struct Columns {
  std::vector<double> rate, last_emitted;
  std::vector<std::int64_t> last_update, half_life;
  std::vector<std::uint8_t> flags;
  std::size_t n = 0;

  explicit Columns(std::size_t count)
      : rate(count + 1, 123.0),
        last_emitted(count + 1, 456.0),
        last_update(count + 1, 789),
        half_life(count + 1, 1),
        flags(count + 1, 0xF0),
        n(count) {}

  CounterColumns view() {
    return CounterColumns{rate.data(),      last_update.data(), last_emitted.data(),
                          half_life.data(), flags.data(),       n};
  }
  CounterState state(std::size_t i) const {
    return CounterState{rate[i],         last_update[i], (flags[i] & kHasEmitted) != 0,
                        last_emitted[i], half_life[i],   (flags[i] & kInFlight) != 0};
  }
  bool sentinel_intact() const {
    return rate[n] == 123.0 && last_emitted[n] == 456.0 && last_update[n] == 789 &&
           half_life[n] == 1 && flags[n] == 0xF0;
  }
};

constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr double kEps = std::numeric_limits<double>::epsilon();

// Random columns mixing ordinary values with every edge the contract names.
Columns random_columns(std::size_t n, std::int64_t now, Rng& rng) {
  static const double kRates[] = {0.0,  -0.0,         std::numeric_limits<double>::denorm_min(),
                                  kEps, kEps / 2,     2 * kEps,
                                  1.0,  2.0,          1e300,
                                  -1.0, std::nan(""), std::numeric_limits<double>::infinity()};
  static const std::int64_t kHalfLives[] = {0, 1, 1000, 60'000'000'000, 1'800'000'000'000, kI64Max};
  static const double kEmitted[] = {0.0, -0.0, -1.0, 0.5, 1.0, 2.0, 4.0, 1e300};
  Columns c(n);
  for (std::size_t i = 0; i < n; ++i) {
    c.rate[i] = rng.chance(50) ? rng.pick(kRates) : static_cast<double>(rng.below(1000)) / 7.0;
    c.half_life[i] =
        rng.chance(70) ? rng.pick(kHalfLives) : static_cast<std::int64_t>(rng.below(5'000'000'000));
    // How far back last_update lies: none, one half-life, exactly 64 of
    // them, a little in the future, or a random span.
    const std::int64_t h = std::max<std::int64_t>(c.half_life[i], 1);
    const bool fits = h <= kI64Max / 65;
    const std::int64_t h64 = fits ? 64 * h : h;  // exactly 64 half-lives where it fits
    const std::int64_t offsets[] = {
        0, 1, h, h64, fits ? h64 + 1 : h, -5, static_cast<std::int64_t>(rng.below(1u << 30))};
    std::int64_t last = 0;
    if (rng.chance(5) || __builtin_sub_overflow(now, rng.pick(offsets), &last)) last = kI64Min;
    c.last_update[i] = last;
    if (rng.chance(60)) {
      c.flags[i] |= kHasEmitted;
      c.last_emitted[i] = rng.chance(50) ? rng.pick(kEmitted) : c.rate[i] * 2.0;
    } else {
      c.last_emitted[i] = 0.0;
    }
    c.flags[i] = static_cast<std::uint8_t>((c.flags[i] & kHasEmitted) | kLive |
                                           (rng.chance(30) ? kInFlight : 0));
  }
  return c;
}

TEST(ScalarKernels, tick_matches_a_loop_over_heat_counters) {
  Rng rng(2024);
  static const float kRatios[] = {1.01f, 1.1f, 2.0f, 3.0f, 10.0f};
  int runs = 0;
  for (const std::size_t n : {0u, 1u, 7u, 1000u}) {
    for (int rep = 0; rep < 40; ++rep, ++runs) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " rep " << rep);
      const std::int64_t nows[] = {0, 1'000'000'000'000'000, kI64Max, -77};
      TickParams p;
      p.now = rng.pick(nows);
      p.enabled = !rng.chance(10);
      p.ratio = static_cast<double>(rng.pick(kRatios));
      p.skip_in_flight = rng.chance(50);
      p.mark_in_flight = rng.chance(50);
      Columns c = random_columns(n, p.now, rng);

      // The reference: one HeatCounter per slot, decayed, then the gate.
      std::vector<Candidate> want;
      std::vector<CounterState> want_state;
      for (std::size_t i = 0; i < n; ++i) {
        CounterState s = c.state(i);
        HeatCounter counter = HeatCounter::from_state(s);
        counter.decay_to(instant_from_ns(p.now));
        s.rate = counter.rate();
        s.last_update = to_ns(counter.last_update());
        if (!(p.skip_in_flight && s.in_flight)) {
          const Decision d =
              emission_decision(counter.rate(), counter.last_emitted().has_value(),
                                counter.last_emitted().value_or(0.0), p.enabled, p.ratio);
          if (d != Decision::kSuppress) {
            want.push_back(Candidate{static_cast<std::uint32_t>(i), d,
                                     d == Decision::kEmit ? counter.rate() : 0.0});
            if (p.mark_in_flight) s.in_flight = true;
          }
        }
        want_state.push_back(s);
      }

      std::vector<Candidate> got = {Candidate{99, Decision::kEmit, 1.0}};  // appended to
      scalar::tick(c.view(), p, got);
      ASSERT_FALSE(got.empty());
      EXPECT_EQ(got.front(), (Candidate{99, Decision::kEmit, 1.0})) << "tick appends";
      got.erase(got.begin());
      EXPECT_EQ(got, want);
      for (std::size_t i = 0; i < n; ++i) {
        const CounterState g = c.state(i);
        const CounterState& w = want_state[i];
        ASSERT_TRUE(same_double(g.rate, w.rate))
            << "slot " << i << ": " << g.rate << " vs " << w.rate;
        ASSERT_EQ(g.last_update, w.last_update) << "slot " << i;
        ASSERT_EQ(g.in_flight, w.in_flight) << "slot " << i;
        ASSERT_EQ(g.has_emitted, w.has_emitted) << "slot " << i;
        ASSERT_TRUE(same_double(g.last_emitted, w.last_emitted)) << "slot " << i;
        ASSERT_EQ(g.half_life, w.half_life) << "slot " << i;
        ASSERT_TRUE(c.flags[i] & kLive) << "slot " << i;
      }
      EXPECT_TRUE(c.sentinel_intact());
    }
  }
  EXPECT_EQ(runs, 160);
}

TEST(ScalarKernels, collect_prunable_matches_the_seed_predicate) {
  Rng rng(77);
  for (const std::size_t n : {0u, 1u, 7u, 1000u}) {
    for (int rep = 0; rep < 20; ++rep) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " rep " << rep);
      Columns c = random_columns(n, 0, rng);
      // A third of the slots forced into the fully-decayed, withdrawn state.
      for (std::size_t i = 0; i < n; ++i) {
        if (rng.chance(33)) {
          c.rate[i] = rng.chance(50) ? 0.0 : -0.0;
          c.flags[i] |= kHasEmitted;
          c.last_emitted[i] = rng.chance(50) ? 0.0 : -0.0;
        }
      }
      std::vector<std::uint32_t> want;
      for (std::size_t i = 0; i < n; ++i) {
        const HeatCounter counter = HeatCounter::from_state(c.state(i));
        // The seed's retain predicate, negated.
        if (counter.rate() <= 0.0 && counter.last_emitted().has_value() &&
            *counter.last_emitted() <= 0.0) {
          want.push_back(static_cast<std::uint32_t>(i));
        }
      }
      std::vector<std::uint32_t> got;
      scalar::collect_prunable(c.view(), got);
      EXPECT_EQ(got, want);
      EXPECT_TRUE(c.sentinel_intact());
    }
  }
}

// ======== LruOrder ========

// Full-scan model: the victim is the live slot with the smallest
// (last_update, order of its last bump or creation).
struct LruModel {
  struct Slot {
    bool live = false;
    std::uint64_t order = 0;
  };
  std::vector<Slot> slots;
  std::vector<std::int64_t> last_update;  // the column LruOrder reads
  std::uint64_t next_order = 0;

  explicit LruModel(std::size_t n) : slots(n), last_update(n, 0) {}

  std::uint32_t victim() const {
    std::uint32_t best = LruOrder::kNone;
    for (std::uint32_t s = 0; s < slots.size(); ++s) {
      if (!slots[s].live) continue;
      if (best == LruOrder::kNone || last_update[s] < last_update[best] ||
          (last_update[s] == last_update[best] && slots[s].order < slots[best].order)) {
        best = s;
      }
    }
    return best;
  }
  std::size_t size() const {
    return static_cast<std::size_t>(
        std::count_if(slots.begin(), slots.end(), [](const Slot& s) { return s.live; }));
  }
};

// `max_stale` 0 means LruOrder's default (compact once the log holds twice
// the slot count). With `records`, the positions live in those (12-byte
// records beside u64 keys, as in the registry) instead of the order's own
// array, and the records are first sized to half the slots and grown to all
// of them midway, moving them, as registry growth does. With `mirror`, the
// order reads last_update from that mirror (the device store's), which is
// given every write and tick of the model's column and must read like it.
void run_lru_against_model(std::size_t max_stale, std::size_t slot_count, std::uint64_t seed,
                           int steps, KeyRecords<std::uint64_t>* records = nullptr,
                           LastUpdateMirror* mirror = nullptr) {
  Rng rng(seed);
  LruOrder lru = max_stale == 0 ? LruOrder() : LruOrder(max_stale);
  std::size_t usable = slot_count;  // slots the order has been given so far
  if (records != nullptr) {
    usable = slot_count / 2;
    records->ensure_slots(usable);
    lru.ensure_slots(usable, records->lru_positions());
  } else {
    lru.ensure_slots(slot_count);
  }
  LruModel model(slot_count);
  std::int64_t now = 1000;
  if (mirror != nullptr) mirror->resize(slot_count);
  auto set_last_update = [&](std::uint32_t s, std::int64_t at) {
    model.last_update[s] = at;
    if (mirror != nullptr) mirror->set(s, at);
  };
  auto last_update = [&]() -> LastUpdates {
    return mirror != nullptr ? mirror->view() : LastUpdates(model.last_update.data());
  };

  auto pick_slot = [&](bool live) -> std::optional<std::uint32_t> {
    std::vector<std::uint32_t> candidates;
    for (std::uint32_t s = 0; s < usable; ++s) {
      if (model.slots[s].live == live) candidates.push_back(s);
    }
    if (candidates.empty()) return std::nullopt;
    return candidates[rng.below(candidates.size())];
  };

  for (int step = 0; step < steps; ++step) {
    if (records != nullptr && step == steps / 2) {
      usable = slot_count;
      records->ensure_slots(usable);
      lru.ensure_slots(usable, records->lru_positions());
    }
    // Time: mostly forward in small steps, often repeated, sometimes back.
    const std::uint64_t move = rng.below(10);
    if (move < 4) {
      now += static_cast<std::int64_t>(rng.below(3));
    } else if (move < 6) {
      now -= static_cast<std::int64_t>(rng.below(4));
    }
    const char* op = "";
    const std::uint64_t kind = rng.below(100);
    if (kind < 25) {
      op = "insert";
      if (auto s = pick_slot(false)) {
        set_last_update(*s, now);
        model.slots[*s] = {true, model.next_order++};
        lru.on_insert(*s, now);
      }
    } else if (kind < 50) {
      op = "bump";
      if (auto s = pick_slot(true)) {
        set_last_update(*s, now);
        model.slots[*s].order = model.next_order++;
        lru.on_bump(*s, now);
      }
    } else if (kind < 70) {
      op = "decay";
      if (auto s = pick_slot(true)) {
        const std::int64_t at = now - static_cast<std::int64_t>(rng.below(3));
        set_last_update(*s, at);
        lru.on_decay(*s, at, last_update());
      }
    } else if (kind < 78) {
      op = "erase";
      if (auto s = pick_slot(true)) {
        model.slots[*s].live = false;
        lru.on_erase(*s);
      }
    } else if (kind < 84) {
      op = "tick";
      std::fill(model.last_update.begin(), model.last_update.end(), now);
      if (mirror != nullptr) mirror->tick(now);
      lru.on_tick(now);
    } else {
      op = "evict";
      const std::uint32_t v = lru.victim(last_update());
      ASSERT_EQ(v, model.victim()) << "seed " << seed << " step " << step;
      if (v != LruOrder::kNone) {
        model.slots[v].live = false;
        lru.on_erase(v);
      }
    }
    ASSERT_EQ(lru.size(), model.size()) << "seed " << seed << " step " << step << " " << op;
    ASSERT_EQ(lru.victim(last_update()), model.victim())
        << "seed " << seed << " step " << step << " after " << op;
    for (std::uint32_t s = 0; s < usable; ++s) {
      ASSERT_EQ(lru.contains(s), model.slots[s].live) << "slot " << s << " step " << step;
      ASSERT_EQ(last_update()[s], model.last_update[s])
          << "last_update of slot " << s << " step " << step << " after " << op;
    }
  }
}

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

// ======== LastUpdateMirror (the device store's host copy of last_update) ========

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

// ======== KeyRecords ========

TEST(KeyRecords, a_record_is_the_key_and_four_bytes_of_position) {
  KeyRecords<std::uint64_t> u64;
  u64.ensure_slots(5);
  EXPECT_EQ(u64.lru_positions().stride, 12u);
  KeyRecords<BlobKey> blob;
  blob.ensure_slots(5);
  EXPECT_EQ(blob.lru_positions().stride, 36u);
  EXPECT_EQ(blob.key_bytes(), 5u * 32);
  EXPECT_EQ(blob.position_bytes(), 5u * 4);
}

TEST(KeyRecords, growth_keeps_keys_and_positions_and_new_slots_are_absent) {
  KeyRecords<BlobKey> records;
  records.ensure_slots(3);
  for (std::uint32_t s = 0; s < 3; ++s) {
    EXPECT_EQ(records.lru_positions()[s], LruOrder::kAbsentPosition) << "slot " << s;
  }
  BlobKey key{};
  for (std::uint32_t s = 0; s < 3; ++s) {
    key.fill(static_cast<std::uint8_t>(0xA0 + s));
    records.set_key(s, key);
    records.lru_positions()[s] = 100 + s;
  }
  records.ensure_slots(2);  // never shrinks
  EXPECT_EQ(records.size(), 3u);
  records.ensure_slots(40'000);  // 1.4 MiB: the huge-page path's neighbour
  records.ensure_slots(70'000);  // 2.5 MiB: mapped on huge pages
  ASSERT_EQ(records.size(), 70'000u);
  for (std::uint32_t s = 0; s < 3; ++s) {
    key.fill(static_cast<std::uint8_t>(0xA0 + s));
    EXPECT_EQ(records[s], key) << "slot " << s;
    EXPECT_EQ(records.reader()[s], key) << "slot " << s;
    EXPECT_EQ(records.lru_positions()[s], 100 + s) << "slot " << s;
  }
  EXPECT_EQ(records.lru_positions()[3], LruOrder::kAbsentPosition);
  EXPECT_EQ(records.lru_positions()[69'999], LruOrder::kAbsentPosition);
  EXPECT_EQ(records[69'999], BlobKey{}) << "a new slot's key is zero";
  records.prefetch(69'999);  // hints only: the last record, both of its lines
  records.reader().prefetch(69'999);
}

TEST(KeyRecords, position_writes_leave_the_neighbouring_keys_alone) {
  KeyRecords<std::uint64_t> records;
  records.ensure_slots(64);
  for (std::uint32_t s = 0; s < 64; ++s) records.set_key(s, ~std::uint64_t{0} - s);
  const LruPositions positions = records.lru_positions();
  for (std::uint32_t s = 0; s < 64; ++s) positions[s] = 0;
  for (std::uint32_t s = 0; s < 64; ++s) {
    EXPECT_EQ(records[s], ~std::uint64_t{0} - s) << "slot " << s;
    EXPECT_EQ(positions[s], 0u) << "slot " << s;
  }
}

}  // namespace
}  // namespace heatkit
