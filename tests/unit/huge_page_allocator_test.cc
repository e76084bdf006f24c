// HugePageAllocator (util/huge_page_allocator.h): vectors on it behave as
// std::vector, large blocks start on a 2 MiB boundary and are advised for
// huge pages, what is mapped is what was asked for (to the base page), and an
// impossible request throws std::bad_alloc.
#include "util/huge_page_allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <new>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace heatkit {
namespace {

constexpr std::size_t kLarge = 3 * kHugePageBytes / sizeof(std::uint64_t);  // 6 MiB of u64

bool huge_page_aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % kHugePageBytes == 0;
}

// The /proc/self/smaps entry of the mapping holding `p`: its size in KiB and
// its VmFlags line. Empty when there is no such file (not Linux).
struct Mapping {
  std::size_t size_kib = 0;
  std::string vm_flags;
};

Mapping mapping_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  std::string line;
  bool inside = false;
  Mapping m;
  while (std::getline(smaps, line)) {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    char dash = 0;
    std::istringstream range(line);
    if (range >> std::hex >> begin >> dash >> end && dash == '-') {
      if (inside) break;  // the next mapping's header
      inside = begin <= addr && addr < end;
      continue;
    }
    if (!inside) continue;
    if (line.rfind("Size:", 0) == 0) std::istringstream(line.substr(5)) >> m.size_kib;
    if (line.rfind("VmFlags:", 0) == 0) m.vm_flags = line;
  }
  return m;
}

bool kernel_has_thp() {
  return std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good();
}

TEST(HugePageAllocator, vector_grows_keeping_contents_across_the_large_threshold) {
  HugePageVector<std::uint64_t> v;
  for (std::uint64_t i = 0; i < kLarge; ++i) v.push_back(i * 3);  // small blocks, then large
  ASSERT_EQ(v.size(), kLarge);
  for (std::uint64_t i = 0; i < kLarge; ++i) ASSERT_EQ(v[i], i * 3) << i;
  EXPECT_TRUE(huge_page_aligned(v.data()));
}

TEST(HugePageAllocator, vector_shrinks_resizes_and_value_initializes_like_std_vector) {
  HugePageVector<std::uint32_t> v(kLarge, 7u);
  std::vector<std::uint32_t> want(kLarge, 7u);
  v.resize(10);
  want.resize(10);
  v.shrink_to_fit();
  EXPECT_EQ(std::vector<std::uint32_t>(v.begin(), v.end()), want);
  v.resize(kLarge);  // grows back: new elements are zero
  want.resize(kLarge);
  EXPECT_EQ(std::vector<std::uint32_t>(v.begin(), v.end()), want);
  v.clear();
  EXPECT_TRUE(v.empty());
}

TEST(HugePageAllocator, move_copy_and_swap_carry_the_storage) {
  HugePageVector<std::uint64_t> a(kLarge);
  std::iota(a.begin(), a.end(), std::uint64_t{1});
  const std::uint64_t* storage = a.data();

  HugePageVector<std::uint64_t> moved(std::move(a));
  EXPECT_EQ(moved.data(), storage) << "a move takes the block, no copy";
  HugePageVector<std::uint64_t> assigned;
  assigned = std::move(moved);
  EXPECT_EQ(assigned.data(), storage);

  const HugePageVector<std::uint64_t> copy = assigned;
  EXPECT_NE(copy.data(), storage);
  EXPECT_TRUE(huge_page_aligned(copy.data()));
  EXPECT_EQ(copy, assigned);

  HugePageVector<std::uint64_t> small{5, 6};
  small.swap(assigned);
  EXPECT_EQ(small.data(), storage);
  EXPECT_EQ(assigned, (HugePageVector<std::uint64_t>{5, 6}));
  EXPECT_EQ(small.back(), kLarge);
}

TEST(HugePageAllocator, large_blocks_start_on_a_huge_page_and_map_only_what_was_asked) {
  HugePageAllocator<std::uint8_t> alloc;
  // Not a multiple of 2 MiB nor of 4 KiB: the mapping is the request rounded
  // up to the base page, not to a huge page.
  const std::size_t bytes = kHugePageBytes + 12345;
  std::uint8_t* p = alloc.allocate(bytes);
  EXPECT_TRUE(huge_page_aligned(p));
  p[0] = 1;
  p[bytes - 1] = 2;  // the whole block is usable
  // With THP in the kernel the advice marks the mapping (VmFlags "hg"), which
  // also keeps it from merging with a neighbour, so its size is ours alone.
  const Mapping m = mapping_of(p);
  if (kernel_has_thp() && !m.vm_flags.empty()) {
    EXPECT_NE(m.vm_flags.find(" hg"), std::string::npos) << "advised MADV_HUGEPAGE: " << m.vm_flags;
    EXPECT_EQ(m.size_kib, (bytes + 4095) / 4096 * 4) << "nothing mapped beyond the request";
  }
  alloc.deallocate(p, bytes);
}

TEST(HugePageAllocator, small_blocks_come_from_the_ordinary_allocator) {
  HugePageAllocator<double> alloc;
  double* p = alloc.allocate(100);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(double), 0u);
  for (int i = 0; i < 100; ++i) p[i] = i;
  EXPECT_EQ(p[99], 99.0);
  alloc.deallocate(p, 100);
}

TEST(HugePageAllocator, impossible_requests_throw_bad_alloc) {
  HugePageAllocator<std::uint64_t> alloc;
  // 2^60 bytes: far past any address space the kernel will map.
  EXPECT_THROW((void)alloc.allocate(std::size_t{1} << 57), std::bad_alloc);
  EXPECT_THROW((void)alloc.allocate(std::numeric_limits<std::size_t>::max() / 4), std::bad_alloc);
}

TEST(HugePageAllocator, allocators_of_any_type_compare_equal) {
  EXPECT_TRUE(HugePageAllocator<int>() == HugePageAllocator<double>());
  EXPECT_FALSE(HugePageAllocator<int>() != HugePageAllocator<int>());
}

TEST(AdviseHugePages, leaves_contents_alone_and_accepts_any_range) {
  std::vector<std::uint64_t> v(kLarge);
  std::iota(v.begin(), v.end(), std::uint64_t{0});
  advise_huge_pages(v.data(), v.size() * sizeof(std::uint64_t));
  advise_huge_pages(v.data(), 100);     // below one huge page: nothing to do
  advise_huge_pages(nullptr, 1 << 30);  // nothing
  for (std::uint64_t i = 0; i < kLarge; ++i) ASSERT_EQ(v[i], i);
}

}  // namespace
}  // namespace heatkit
