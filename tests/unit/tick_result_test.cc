// emissions_of (registry/tick_result.h) on its own: each candidate with its
// slot's key, in order, on one thread and on several.
#include <gtest/gtest.h>

#include <cstdint>
#include <utility>
#include <vector>

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

}  // namespace
}  // namespace heatkit::test
