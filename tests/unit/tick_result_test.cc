// emissions_of and tick_into_emissions (registry/tick_result.h) on their
// own: each candidate with its slot's key, in order, on one thread and on
// several.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "math/tick_params.h"
#include "registry/key_records.h"
#include "registry/tick_result.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

template <class Key>
struct Fixture {
  KeyRecords<Key> keys;
  std::vector<Candidate> candidates;

  // `slots` slots, each keyed random_key(slot); every third slot a
  // candidate, emissions and withdrawals alternating.
  explicit Fixture(std::size_t slots) {
    keys.ensure_slots(slots);
    for (std::size_t s = 0; s < slots; ++s) keys.set_key(s, random_key<Key>(s, 1));
    for (std::size_t s = 0; s < slots; s += 3) {
      const bool emit = (s / 3) % 2 == 0;
      candidates.push_back(Candidate{static_cast<std::uint32_t>(s),
                                     emit ? Decision::kEmit : Decision::kWithdraw,
                                     emit ? 0.5 * static_cast<double>(s) : 0.0});
    }
  }

  void expect_converted(const std::vector<std::pair<Key, HeatEmission>>& out) const {
    ASSERT_EQ(out.size(), candidates.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const Candidate& c = candidates[i];
      ASSERT_EQ(out[i].first, random_key<Key>(c.slot, 1)) << "candidate " << i;
      const HeatEmission want =
          c.kind == Decision::kEmit ? HeatEmission::emit(c.rate) : HeatEmission::withdraw();
      ASSERT_EQ(out[i].second, want) << "candidate " << i;
    }
  }
};

template <class Key>
class TickResultTest : public ::testing::Test {};
using KeyKinds = ::testing::Types<std::uint64_t, BlobKey>;
TYPED_TEST_SUITE(TickResultTest, KeyKinds);

TYPED_TEST(TickResultTest, pairs_each_candidate_with_its_key_in_order) {
  const Fixture<TypeParam> f(1000);
  std::vector<std::pair<TypeParam, HeatEmission>> out;
  emissions_of(std::span<const Candidate>(f.candidates), f.keys.reader(), 1, out);
  f.expect_converted(out);
}

// Large enough for every thread to take a range (kMinEmissionsPerThread each).
TYPED_TEST(TickResultTest, gives_the_same_result_on_every_thread) {
  const Fixture<TypeParam> f(3 * 4 * kMinEmissionsPerThread + 5);
  for (const unsigned threads : {1u, 2u, 4u, 0u}) {
    std::vector<std::pair<TypeParam, HeatEmission>> out;
    emissions_of(std::span<const Candidate>(f.candidates), f.keys.reader(), threads, out);
    SCOPED_TRACE(threads);
    f.expect_converted(out);
  }
}

TYPED_TEST(TickResultTest, replaces_what_the_result_held) {
  const Fixture<TypeParam> f(30);
  std::vector<std::pair<TypeParam, HeatEmission>> out(500, {TypeParam{}, HeatEmission::emit(9.0)});
  emissions_of(std::span<const Candidate>(f.candidates), f.keys.reader(), 1, out);
  f.expect_converted(out);
  emissions_of(std::span<const Candidate>(), f.keys.reader(), 1, out);
  EXPECT_TRUE(out.empty());
}

// A store of `n` counters, every one at rate 1 with an emission that makes
// about a third of them candidates at the tick below.
std::unique_ptr<CounterStore> store_with_candidates(std::size_t n) {
  auto store = make_store("highway");
  store->ensure_slots(n);
  for (std::size_t s = 0; s < n; ++s) {
    const auto slot = static_cast<Slot>(s);
    store->init(slot, 1'000'000'000, 0);
    store->bump(slot, 0);
    store->record(slot, Decision::kEmit, s % 3 == 0 ? 4.0 : 1.0);
  }
  return store;
}

// tick_into_emissions is the store's tick followed by emissions_of: the same
// pairs in the same order, whatever the thread count, with or without the
// keys' addresses for the pass.
TYPED_TEST(TickResultTest, a_tick_in_parts_gives_what_tick_then_emissions_of_gives) {
  constexpr std::size_t kSlots = 3 * 32768 + 4097;  // several pass threads, several runs each
  const Fixture<TypeParam> f(kSlots);
  for (const unsigned threads : {1u, 2u, 0u}) {
    for (const bool with_keys : {false, true}) {
      SCOPED_TRACE(std::to_string(threads) + (with_keys ? " threads, keys given" : " threads"));
      auto reference = store_with_candidates(kSlots);
      auto parted = store_with_candidates(kSlots);
      reference->set_threads(threads);
      parted->set_threads(threads);
      TickParams params = tick_params(Policy{}, 500'000'000, false);
      std::vector<Candidate> candidates;
      reference->tick(params, candidates);
      std::vector<std::pair<TypeParam, HeatEmission>> want;
      emissions_of(std::span<const Candidate>(candidates), f.keys.reader(), threads, want);
      ASSERT_GT(want.size(), kSlots / 4);

      if (with_keys) {
        params.keys = f.keys.key_base();
        params.key_stride = KeyRecords<TypeParam>::kKeyStride;
        params.key_bytes = sizeof(TypeParam);
      }
      std::vector<std::pair<TypeParam, HeatEmission>> got(7, {TypeParam{}, HeatEmission::emit(9.0)});
      std::vector<std::vector<std::pair<TypeParam, HeatEmission>>> parts;
      ASSERT_TRUE(tick_into_emissions(*parted, params, f.keys.reader(), threads, got, parts));
      ASSERT_EQ(got.size(), want.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(got[i].first, want[i].first) << "pair " << i;
        ASSERT_EQ(got[i].second, want[i].second) << "pair " << i;
      }
    }
  }
}

TYPED_TEST(TickResultTest, a_store_that_does_not_tick_in_parts_leaves_the_tick_to_the_caller) {
  const Fixture<TypeParam> f(10);
  if (!backend_info("thrust-omp").available) GTEST_SKIP() << backend_info("thrust-omp").unavailable_reason;
  auto store = make_store("scalar");  // literal columns, yet per-chunk kernels: it ticks in parts
  auto threaded = make_store("thrust-omp");  // one kernel call over every thread: it does not
  std::vector<std::pair<TypeParam, HeatEmission>> out;
  std::vector<std::vector<std::pair<TypeParam, HeatEmission>>> parts;
  const TickParams params = tick_params(Policy{}, 0, false);
  EXPECT_TRUE(tick_into_emissions(*store, params, f.keys.reader(), 1, out, parts));
  EXPECT_FALSE(tick_into_emissions(*threaded, params, f.keys.reader(), 1, out, parts));
}

}  // namespace
}  // namespace heatkit::test
