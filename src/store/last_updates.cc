#include "store/last_updates.h"

#include <algorithm>
#include <cstring>

#include "util/thread_pool.h"

namespace heatkit {

void LastUpdateMirror::resize(std::size_t n) {
  if (n <= values_.size()) return;
  // Both reserved first: the resizes after them cannot throw.
  values_.reserve(n);
  stamps_.reserve(n);
  values_.resize(n, 0);
  stamps_.resize(n, stamp_);
}

void LastUpdateMirror::assign(const std::int64_t* column, std::size_t n) {
  std::copy(column, column + n, values_.begin());
  std::fill(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(n), stamp_);
}

void LastUpdateMirror::tick(std::int64_t now, unsigned threads) {
  tick_instant_ = now;
  if (stamp_ < UINT8_MAX) {
    ++stamp_;
    return;
  }
  // Stamps 1..255 are used up: every slot back to 0 (older than any stamp).
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  const std::size_t n = stamps_.size();
  std::uint8_t* const stamps = stamps_.data();
  if (n <= kChunk) {
    std::memset(stamps, 0, n);
  } else {
    ThreadPool::shared().run((n + kChunk - 1) / kChunk, resolve_threads(threads),
                             [&](std::size_t chunk) {
                               const std::size_t begin = chunk * kChunk;
                               std::memset(stamps + begin, 0, std::min(n - begin, kChunk));
                             });
  }
  stamp_ = 1;
}

}  // namespace heatkit
