// An allocator for the registry's big arrays (counter columns, key column,
// index buckets, eviction order) that asks the kernel for transparent huge
// pages. Every bump reads a few random lines spread over tens of MiB; with
// 4 KiB pages nearly each of them also misses the TLB, and under nested
// paging (VMs) a TLB miss can cost as much as the cache miss itself. Linux's
// default THP mode `madvise` gives huge pages only to regions that ask.
//
// Allocations of at least kHugePageBytes are mapped on their own with a
// 2 MiB-aligned start (over-mapped, then the head and tail trimmed) and
// advised MADV_HUGEPAGE; the length is the request rounded up to whole 4 KiB
// pages only, so what a caller counts (capacity * sizeof(T)) is what is held,
// to within one base page. Smaller ones come from operator new. Stateless:
// containers move and swap storage freely, as with std::allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace heatkit {

// Size of a transparent huge page on x86-64 and (with 4 KiB base pages) arm64.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

namespace detail {

#if defined(__linux__)
inline std::size_t base_page_bytes() noexcept {
  static const std::size_t bytes = [] {
    const long page = ::sysconf(_SC_PAGESIZE);
    return page > 0 ? static_cast<std::size_t>(page) : std::size_t{4096};
  }();
  return bytes;
}

inline std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

// `bytes` (>= kHugePageBytes) of zeroed memory starting on a huge-page
// boundary, advised for huge pages. Throws std::bad_alloc.
inline void* map_huge(std::size_t bytes) {
  const std::size_t length = round_up(bytes, base_page_bytes());
  if (length < bytes || length > std::numeric_limits<std::size_t>::max() - kHugePageBytes) {
    throw std::bad_alloc();
  }
  const std::size_t over = length + kHugePageBytes;
  void* raw = ::mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto begin = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = round_up(begin, kHugePageBytes);
  // Trim the unaligned head and whatever lies past `length`: both are whole
  // base pages, as mmap returned a page-aligned start.
  if (aligned > begin) ::munmap(raw, aligned - begin);
  const std::uintptr_t end = begin + over;
  if (end > aligned + length) ::munmap(reinterpret_cast<void*>(aligned + length), end - (aligned + length));
  // A hint: without THP support (EINVAL) the memory is as good, only slower.
  ::madvise(reinterpret_cast<void*>(aligned), length, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

inline void unmap_huge(void* p, std::size_t bytes) noexcept {
  ::munmap(p, round_up(bytes, base_page_bytes()));
}
#endif

}  // namespace detail

// Asks for huge pages under [p, p + bytes), memory some other allocator
// handed out and not yet touched (a large result vector): the 2 MiB-aligned
// part of it, when there is one. Only a hint; contents are unaffected.
inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__)
  if (p == nullptr || bytes < 2 * kHugePageBytes) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = detail::round_up(begin, kHugePageBytes);
  const std::uintptr_t last = (begin + bytes) / kHugePageBytes * kHugePageBytes;
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

template <class T>
class HugePageAllocator {
 public:
  using value_type = T;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;

  HugePageAllocator() noexcept = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly

  T* allocate(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
#if defined(__linux__)
    if (bytes >= kHugePageBytes) return static_cast<T*>(detail::map_huge(bytes));
#endif
    return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
  }

  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
#if defined(__linux__)
    if (bytes >= kHugePageBytes) {
      detail::unmap_huge(p, bytes);
      return;
    }
#endif
    ::operator delete(p, std::align_val_t{alignof(T)});
  }

  template <class U>
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator<U>&) noexcept {
    return true;
  }
};

// A vector whose storage, once it reaches kHugePageBytes, sits on huge pages.
template <class T>
using HugePageVector = std::vector<T, HugePageAllocator<T>>;

// Grows a per-slot array to exactly `n` elements, the new ones `fill`,
// keeping its contents (no doubling slack: the registry already grows
// geometrically and the cap is often the final size). Never shrinks.
template <class T, class Alloc>
void grow_exact(std::vector<T, Alloc>& column, std::size_t n, const T& fill = T{}) {
  if (n <= column.size()) return;
  if (n > column.capacity()) {
    std::vector<T, Alloc> grown;
    grown.reserve(n);
    grown.assign(column.begin(), column.end());
    column.swap(grown);
  }
  column.resize(n, fill);
}

}  // namespace heatkit
