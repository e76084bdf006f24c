// Appending a device pass's result (the tick's candidates, the prunable
// slots) to a caller's std::vector through two page-locked staging buffers.
//
// Why. A copy from device memory straight into a pageable std::vector runs
// at about 11 GB/s (the driver stages it itself), and the vector must first
// be resized, which writes every element once more. Measured on an H100
// host, 80 MB of candidates (a 100M-counter tick) took 7.3 ms pageable and
// 1.5 ms into pinned memory. So the result comes down in chunks into two
// pinned buffers, and each chunk is appended to the vector (a plain copy, no
// resize) while the next one is in flight.
//
// Plain C++ (no CUDA): the copies are the caller's callables, so the order
// of copies, waits and appends is tested on the host (cuda_test).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace heatkit::gpu {

// The most bytes of one chunk (of one staging buffer): large enough that a
// chunk's copy costs far more than starting it, small enough that the two
// buffers are no burden (8 MB of pinned memory per store at most).
inline constexpr std::size_t kStagingChunkBytes = std::size_t{4} << 20;

// Appends `count` items to `out`. `copy_chunk(b, first, n)` starts an
// asynchronous copy of items [first, first + n) into staging[b] (b is 0 or
// 1; n <= chunk); `wait()` returns once every copy started has landed.
// Chunk k + 1's copy starts as soon as chunk k has landed, into the other
// buffer, and runs while chunk k is appended. On an exception (from the
// callables or the reservation) `out` is as before.
template <class T, class CopyChunk, class Wait>
void append_through_staging(std::vector<T>& out, std::size_t count, T* const (&staging)[2],
                            std::size_t chunk, CopyChunk&& copy_chunk, Wait&& wait) {
  if (count == 0) return;
  const std::size_t base = out.size();
  out.reserve(base + count);  // the appends below then never reallocate
  try {
    copy_chunk(0, std::size_t{0}, std::min(chunk, count));
    for (std::size_t first = 0, k = 0; first < count; first += chunk, ++k) {
      const std::size_t n = std::min(chunk, count - first);
      wait();  // chunk k has landed in staging[k % 2]; nothing else is in flight
      const std::size_t next = first + n;
      if (next < count) copy_chunk((k + 1) % 2, next, std::min(chunk, count - next));
      const T* const from = staging[k % 2];
      out.insert(out.end(), from, from + n);
    }
  } catch (...) {
    out.resize(base);
    throw;
  }
}

}  // namespace heatkit::gpu
