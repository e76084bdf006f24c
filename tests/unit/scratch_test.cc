// The registry's scratch vectors (registry/scratch.h): resize_for_overwrite
// and the trimming of scratch a rare mass tick or prune grew.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "registry/scratch.h"

namespace heatkit::test {
namespace {

TEST(ResizeForOverwrite, keeps_the_buffer_and_its_elements_within_capacity) {
  std::vector<int> v{1, 2, 3, 4};
  v.reserve(100);
  const int* before = v.data();
  resize_for_overwrite(v, 50);
  EXPECT_EQ(v.data(), before);
  EXPECT_EQ(v.size(), 50u);
  EXPECT_EQ(v[3], 4);
  resize_for_overwrite(v, 2);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v.data(), before);
}

TEST(ResizeForOverwrite, grows_past_capacity_to_the_size_asked) {
  std::vector<int> v(3, 7);
  resize_for_overwrite(v, 100'000);
  EXPECT_EQ(v.size(), 100'000u);
  EXPECT_GE(v.capacity(), 100'000u);
}

// An oversized scratch: far above 4096 elements and a sixteenth of the slots.
std::vector<std::uint32_t> oversized() {
  std::vector<std::uint32_t> v;
  v.reserve(100'000);
  return v;
}
constexpr std::size_t kSlots = 160'000;  // a sixteenth: 10,000

TEST(TrimScratch, gives_back_oversized_scratch_after_patience_idle_calls) {
  std::vector<std::uint32_t> v = oversized();
  std::uint32_t idle = 0;
  for (std::uint32_t call = 1; call < kScratchPatience; ++call) {
    trim_scratch(v, idle, kSlots);
    ASSERT_EQ(v.capacity(), 100'000u) << "given back after " << call << " idle calls";
  }
  trim_scratch(v, idle, kSlots);
  EXPECT_EQ(v.capacity(), 0u);
  EXPECT_EQ(idle, 0u);
}

TEST(TrimScratch, restarts_the_count_when_a_call_uses_it) {
  std::vector<std::uint32_t> v = oversized();
  std::uint32_t idle = 0;
  for (std::uint32_t call = 1; call < kScratchPatience; ++call) trim_scratch(v, idle, kSlots);
  v.resize(30'000);  // more than a quarter used
  trim_scratch(v, idle, kSlots);
  EXPECT_EQ(idle, 0u);
  v.clear();
  for (std::uint32_t call = 1; call < kScratchPatience; ++call) trim_scratch(v, idle, kSlots);
  EXPECT_EQ(v.capacity(), 100'000u);
}

TEST(TrimScratch, keeps_scratch_in_proportion_to_the_slots) {
  std::vector<std::uint32_t> v = oversized();
  std::uint32_t idle = 0;
  // 100,000 elements are a sixteenth of 1.6M slots: not oversized.
  for (std::uint32_t call = 0; call < 2 * kScratchPatience; ++call) trim_scratch(v, idle, 1'600'000);
  EXPECT_EQ(v.capacity(), 100'000u);
  std::vector<std::uint32_t> small;
  small.reserve(4096);
  for (std::uint32_t call = 0; call < 2 * kScratchPatience; ++call) trim_scratch(small, idle, 16);
  EXPECT_EQ(small.capacity(), 4096u) << "4096 elements or fewer are always kept";
}

}  // namespace
}  // namespace heatkit::test
