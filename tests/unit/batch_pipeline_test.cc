// The batch pipeline (registry/batch_pipeline.h) on its own, over a small
// target (an index, key records and a log of what was created and bumped):
// for every source, applying a batch gives exactly what applying its reads
// one at a time does, through creations, evictions that reuse slots, and
// the index rehashed under fresh secrets in the middle of a batch.
#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <tuple>
#include <utility>
#include <vector>

#include "registry/batch_pipeline.h"
#include "registry/bump_queue.h"
#include "registry/key_hash.h"
#include "registry/key_records.h"
#include "registry/slot_index.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

constexpr std::uint64_t kFirstSeed = 0x5eed;

// A registry reduced to what the pipeline touches. A new key at the cap
// evicts the oldest created key (its slot is reused first); every
// `reseed_every` creations the index is rehashed under a fresh secret.
template <class Key>
struct Toy {
  using Index = SlotIndex<Key, KeyHash>;
  Index index{KeyHash(kFirstSeed)};
  KeyRecords<Key> keys;
  std::size_t cap = 0;
  std::size_t reseed_every = 0;
  std::deque<Slot> created;  // live slots, oldest creation first
  std::vector<Slot> free;
  Slot next = 0;
  std::uint64_t next_seed = kFirstSeed + 1;
  std::vector<std::tuple<Slot, Key, std::int64_t, std::int64_t>> creations;  // slot, key, half-life, now
  std::vector<std::pair<Slot, std::int64_t>> bumps;
  std::optional<CounterColumns> columns;  // the toy's counters, only prefetched
  std::vector<double> rate;
  std::vector<std::int64_t> last_update;

  explicit Toy(std::size_t max_slots) : rate(max_slots), last_update(max_slots) {
    keys.ensure_slots(max_slots);
    columns = CounterColumns{rate.data(), last_update.data(), nullptr, nullptr, nullptr, max_slots};
  }
  Toy(const Toy&) = delete;

  Slot insert(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now) {
    if (cap > 0 && index.size() >= cap) {
      const Slot victim = created.front();
      created.pop_front();
      index.erase(index.hash(keys[victim]), victim, keys);
      free.push_back(victim);
    }
    Slot slot = next;
    if (!free.empty()) {
      slot = free.back();
      free.pop_back();
    } else {
      ++next;
    }
    keys.set_key(slot, key);
    index.insert(hash, slot, keys);
    created.push_back(slot);
    creations.emplace_back(slot, key, half_life, now);
    if (reseed_every > 0 && creations.size() % reseed_every == 0) {
      index.rehash_with(KeyHash(next_seed++), keys);
    }
    return slot;
  }

  struct Target {
    Toy* toy;
    const Index& index() const noexcept { return toy->index; }
    const KeyRecords<Key>& keys() const noexcept { return toy->keys; }
    const std::optional<CounterColumns>& host_columns() const noexcept { return toy->columns; }
    bool shared_half_life() const noexcept { return true; }
    Slot insert(const Key& key, std::uint64_t hash, std::int64_t half_life, std::int64_t now,
                std::int64_t /*then_bump_at*/) const {
      return toy->insert(key, hash, half_life, now);
    }
    void bump(Slot slot, std::int64_t now) const { toy->bumps.emplace_back(slot, now); }
  };

  // The definition: each read in turn, looked up (created if absent), then
  // bumped if it asks.
  template <class Source>
  void apply_one_by_one(const Source& src) {
    for (std::size_t i = 0; i < src.size(); ++i) {
      const std::uint64_t hash = index.hash(src.key(i));
      Slot slot = index.find(src.key(i), hash, keys);
      if (slot == Index::kNoSlot) slot = insert(src.key(i), hash, src.half_life(i), src.now(i));
      if (src.bumps(i)) bumps.emplace_back(slot, src.bump_at(i));
      src.applied(i + 1);
    }
  }
};

struct Scenario {
  const char* name;
  std::size_t cap;
  std::size_t reseed_every;
};
const Scenario kScenarios[] = {
    {"unbounded", 0, 0},
    {"evicting", 60, 0},
    {"reseeding", 0, 7},
    {"evicting_and_reseeding", 60, 5},
};

// 3,000 reads over 250 keys, hot ones repeated, times going back now and then.
template <class Key>
std::vector<std::pair<Key, std::int64_t>> reads() {
  std::vector<std::pair<Key, std::int64_t>> out;
  std::mt19937_64 rng(42);
  for (std::int64_t i = 0; i < 3000; ++i) {
    const std::uint64_t k = rng() % 4 == 0 ? rng() % 8 : rng() % 250;
    out.emplace_back(random_key<Key>(k, 7), 1000 + i - static_cast<std::int64_t>(rng() % 3));
  }
  return out;
}

template <class Key, class MakeSource>
void expect_batch_equals_one_by_one(MakeSource make_source) {
  for (const Scenario& sc : kScenarios) {
    SCOPED_TRACE(sc.name);
    Toy<Key> batched(4096), single(4096);
    for (Toy<Key>* t : {&batched, &single}) {
      t->cap = sc.cap;
      t->reseed_every = sc.reseed_every;
    }
    // In several batches, so later ones start on a populated index.
    for (int round = 0; round < 3; ++round) {
      const auto made = make_source(round);
      batch::bump_each(made.source(), typename Toy<Key>::Target{&batched});
      single.apply_one_by_one(made.source());
    }
    ASSERT_EQ(batched.creations, single.creations);
    ASSERT_EQ(batched.bumps, single.bumps);
    if (sc.reseed_every > 0) {
      EXPECT_NE(batched.index.hasher().seed(), kFirstSeed) << "the index was never rehashed";
    }
  }
}

template <class Key>
class BatchPipelineTest : public ::testing::Test {};
using KeyKinds = ::testing::Types<std::uint64_t, BlobKey>;
TYPED_TEST_SUITE(BatchPipelineTest, KeyKinds);

TYPED_TEST(BatchPipelineTest, keys_at_one_instant_apply_as_one_by_one) {
  using Key = TypeParam;
  struct Made {
    std::vector<Key> keys;
    std::int64_t at;
    batch::KeysAt<Key> source() const { return {keys, at, 5'000}; }
  };
  expect_batch_equals_one_by_one<Key>([](int round) {
    Made m{{}, 100 * round};
    for (const auto& [k, at] : reads<Key>()) m.keys.push_back(k);
    return m;
  });
}

TYPED_TEST(BatchPipelineTest, timed_reads_apply_as_one_by_one) {
  using Key = TypeParam;
  struct Made {
    std::vector<std::pair<Key, Instant>> reads;
    batch::TimedReads<Key> source() const { return {reads, 6'000}; }
  };
  expect_batch_equals_one_by_one<Key>([](int round) {
    Made m;
    for (const auto& [k, at] : reads<Key>()) m.reads.emplace_back(k, instant_from_ns(at + round));
    return m;
  });
}

// Hashed under the first secret: once the index is rehashed, the source
// must hash its keys again.
TYPED_TEST(BatchPipelineTest, prehashed_reads_apply_as_one_by_one_after_a_rehash) {
  using Key = TypeParam;
  struct Made {
    std::vector<batch::HashedRead<Key>> reads;
    batch::HashedReads<Key> source() const { return {reads, kFirstSeed, 7'000}; }
  };
  expect_batch_equals_one_by_one<Key>([](int round) {
    Made m;
    const KeyHash first(kFirstSeed);
    for (const auto& [k, at] : reads<Key>()) m.reads.push_back({k, first(k), at + round});
    return m;
  });
}

// Reads with their own half-lives, some without a bump; the source hears
// the progress.
TYPED_TEST(BatchPipelineTest, queued_reads_apply_as_one_by_one_and_report_progress) {
  using Key = TypeParam;
  struct Made {
    std::vector<typename BumpQueue<Key>::Read> reads;
    std::size_t* done;
    typename BumpQueue<Key>::Source source() const { return {reads, kFirstSeed, done}; }
  };
  std::size_t done = 0;
  expect_batch_equals_one_by_one<Key>([&](int round) {
    Made m{{}, &done};
    const KeyHash first(kFirstSeed);
    std::int64_t i = 0;
    for (const auto& [k, at] : reads<Key>()) {
      m.reads.push_back({k, first(k), 1000 * (i % 3), at, at + round, i % 4 != 0});
      ++i;
    }
    return m;
  });
  EXPECT_EQ(done, reads<Key>().size());
}

TYPED_TEST(BatchPipelineTest, an_empty_batch_does_nothing) {
  using Key = TypeParam;
  Toy<Key> toy(16);
  const std::vector<Key> none;
  batch::bump_each(batch::KeysAt<Key>{none, 0, 1}, typename Toy<Key>::Target{&toy});
  EXPECT_TRUE(toy.creations.empty());
  EXPECT_TRUE(toy.bumps.empty());
}

}  // namespace
}  // namespace heatkit::test
