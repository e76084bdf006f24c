// BumpQueue (registry/bump_queue.h) on its own: tickets, a bump joining its
// read, the source the pipeline gets, and what stays queued when applying
// throws.
#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "registry/bump_queue.h"

namespace heatkit::test {
namespace {

using Queue = BumpQueue<std::uint64_t>;

// A hash under secret `seed`: key + seed, so a test can tell which was used.
struct AddSeed {
  std::uint64_t s;
  std::uint64_t seed() const noexcept { return s; }
  std::uint64_t operator()(std::uint64_t key) const noexcept { return key + s; }
};

// The keys of the reads a source holds, in order.
std::vector<std::uint64_t> keys_of(const Queue::Source& src) {
  std::vector<std::uint64_t> keys;
  for (std::size_t i = 0; i < src.size(); ++i) keys.push_back(src.key(i));
  return keys;
}

TEST(BumpQueue, numbers_its_reads_in_call_order_across_applications) {
  Queue q(4);
  EXPECT_TRUE(q.enabled());
  EXPECT_EQ(q.push(10, 0, 1, 100), 0u);
  EXPECT_EQ(q.push(11, 0, 1, 101), 1u);
  EXPECT_EQ(q.size(), 2u);
  q.apply(7, [](const Queue::Source&) {});
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.push(12, 0, 1, 102), 2u) << "tickets go on after the queue is applied";
}

TEST(BumpQueue, is_full_at_its_limit) {
  Queue q(2);
  q.push(1, 0, 1, 0);
  EXPECT_FALSE(q.full());
  q.push(2, 0, 1, 0);
  EXPECT_TRUE(q.full());
}

TEST(BumpQueue, joins_a_bump_only_to_the_last_read_and_only_once) {
  Queue q(8);
  const Queue::Ticket first = q.push(1, 0, 1, 100);
  const Queue::Ticket second = q.push(2, 0, 1, 200);
  EXPECT_FALSE(q.join_bump(first, 150)) << "another read was queued since";
  EXPECT_TRUE(q.join_bump(second, 250));
  EXPECT_FALSE(q.join_bump(second, 260)) << "the read already has its bump";
  q.apply(0, [&](const Queue::Source& src) {
    ASSERT_EQ(src.size(), 2u);
    EXPECT_FALSE(src.bumps(0));
    EXPECT_TRUE(src.bumps(1));
    EXPECT_EQ(src.bump_at(1), 250);
  });
  EXPECT_FALSE(q.join_bump(second, 270)) << "the read was applied";
}

TEST(BumpQueue, hands_the_pipeline_each_read_as_queued) {
  Queue q(8);
  q.push(5, 1005, 7'000, 100);
  q.push(6, 1006, 8'000, 200);
  q.join_bump(1, 300);
  int calls = 0;
  q.apply(1000, [&](const Queue::Source& src) {
    ++calls;
    ASSERT_EQ(src.size(), 2u);
    EXPECT_EQ(keys_of(src), (std::vector<std::uint64_t>{5, 6}));
    EXPECT_EQ(src.now(0), 100);
    EXPECT_EQ(src.now(1), 200);
    EXPECT_EQ(src.half_life(0), 7'000);
    EXPECT_EQ(src.half_life(1), 8'000);
    // Under the secret they were queued with, the stored hashes; under
    // another, the keys hashed again.
    EXPECT_EQ(src.hash(0, AddSeed{1000}), 1005u);
    EXPECT_EQ(src.hash(1, AddSeed{1000}), 1006u);
    EXPECT_EQ(src.hash(0, AddSeed{50}), 55u);
    src.applied(2);
  });
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(q.empty());
}

TEST(BumpQueue, drops_the_read_that_throws_and_keeps_the_later_ones) {
  Queue q(8);
  for (std::uint64_t k = 0; k < 5; ++k) q.push(k, 0, 1, 0);
  EXPECT_THROW(q.apply(0,
                       [](const Queue::Source& src) {
                         src.applied(2);  // reads 0 and 1 done, read 2 throws
                         throw std::runtime_error("read 2");
                       }),
               std::runtime_error);
  ASSERT_EQ(q.size(), 2u);
  q.apply(0, [](const Queue::Source& src) {
    EXPECT_EQ(keys_of(src), (std::vector<std::uint64_t>{3, 4}));
  });
}

TEST(BumpQueue, drops_only_the_first_read_when_it_throws) {
  Queue q(8);
  for (std::uint64_t k = 0; k < 3; ++k) q.push(k, 0, 1, 0);
  EXPECT_THROW(q.apply(0, [](const Queue::Source&) { throw std::runtime_error("read 0"); }),
               std::runtime_error);
  q.apply(0, [](const Queue::Source& src) {
    EXPECT_EQ(keys_of(src), (std::vector<std::uint64_t>{1, 2}));
  });
}

TEST(BumpQueue, with_limit_zero_is_off_and_holds_no_memory) {
  Queue q(8);
  for (std::uint64_t k = 0; k < 8; ++k) q.push(k, 0, 1, 0);
  q.apply(0, [](const Queue::Source&) {});
  EXPECT_GT(q.memory_bytes(), 0u) << "kept for the next reads";
  q.set_limit(0);
  EXPECT_FALSE(q.enabled());
  EXPECT_EQ(q.limit(), 0u);
  EXPECT_EQ(q.memory_bytes(), 0u);
}

}  // namespace
}  // namespace heatkit::test
