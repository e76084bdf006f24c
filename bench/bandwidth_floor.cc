#include "bench/bandwidth_floor.h"

#include <algorithm>
#include <vector>

#include "util/thread_pool.h"

namespace heatkit::bench {
namespace {

// The same split as HostCounterStore's passes (store/counter_store.cc): at least
// 32K slots per thread, chunk bounds on whole cache lines.
constexpr std::size_t kMinSlotsPerThread = std::size_t{1} << 15;
constexpr std::size_t kChunkAlign = 64;

// The half-life of element i: from the column, or the one run-time value of
// the pass without that column.
inline std::int64_t half_life_at(const std::int64_t* __restrict column, std::size_t i) { return column[i]; }
inline std::int64_t half_life_at(std::int64_t shared, std::size_t) { return shared; }

template <class HalfLife>
[[gnu::always_inline]] inline void floor_loop(double* __restrict rate, std::int64_t* __restrict last_update,
                                              const double* __restrict last_emitted, HalfLife half_life,
                                              const std::uint8_t* __restrict flags, std::size_t n,
                                              double factor, double zero, std::int64_t mask,
                                              std::int64_t now) {
  for (std::size_t i = 0; i < n; ++i) {
    rate[i] = rate[i] * factor + last_emitted[i] * zero;
    const std::int64_t lower =
        (now - half_life_at(half_life, i)) | (static_cast<std::int64_t>(flags[i]) & mask);
    last_update[i] = last_update[i] > lower ? last_update[i] : lower;
  }
}

// Reads all five columns, writes rate and last_update. Every load feeds the
// arithmetic unconditionally (a select would let the compiler skip a column:
// a branch, or a masked load), and `factor`, `zero`, `mask` and `now` are
// run-time values (1.0, 0.0, 0, the pass number), so nothing folds away. It
// vectorizes; cloned per ISA, because the library builds at the x86-64
// baseline and the Highway kernels dispatch to the best target at run time.
__attribute__((target_clones("avx512f", "avx2", "default"))) void floor_chunk(
    double* __restrict rate, std::int64_t* __restrict last_update,
    const double* __restrict last_emitted, const std::int64_t* __restrict half_life,
    const std::uint8_t* __restrict flags, std::size_t n, double factor, double zero,
    std::int64_t mask, std::int64_t now) {
  floor_loop(rate, last_update, last_emitted, half_life, flags, n, factor, zero, mask, now);
}

// The same without the half-life column (a run-time `half_life` instead).
__attribute__((target_clones("avx512f", "avx2", "default"))) void floor_chunk_shared_half_life(
    double* __restrict rate, std::int64_t* __restrict last_update,
    const double* __restrict last_emitted, std::int64_t half_life,
    const std::uint8_t* __restrict flags, std::size_t n, double factor, double zero,
    std::int64_t mask, std::int64_t now) {
  floor_loop(rate, last_update, last_emitted, half_life, flags, n, factor, zero, mask, now);
}

// Reads s, last_emitted and flags; writes nothing. Every load feeds an
// integer sum that is returned (so no load can be skipped; integer, so the
// reduction vectorizes without reassociating floating point).
__attribute__((target_clones("avx512f", "avx2", "default"))) std::uint64_t forward_read_chunk(
    const std::uint64_t* __restrict s, const std::uint64_t* __restrict last_emitted,
    const std::uint8_t* __restrict flags, std::size_t n) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += (s[i] ^ last_emitted[i]) + flags[i];
  return sum;
}

}  // namespace

BandwidthFloor::BandwidthFloor(std::size_t n, FloorKind kind)
    : rate_(n, 1.0), last_update_(kind == FloorKind::kForwardRead ? 0 : n, 0), last_emitted_(n, 1.0),
      half_life_(kind == FloorKind::kFiveColumns ? n : 0, 1), flags_(n, 1), kind_(kind) {}

void BandwidthFloor::pass(unsigned threads) {
  const std::size_t n = size();
  now_ += 1;
  // Chunk k's share of the pass; the read-only pass leaves its sum in sums[k].
  std::vector<std::uint64_t> sums(1, 0);
  const auto run = [&](std::size_t k, std::size_t begin, std::size_t end) {
    switch (kind_) {
      case FloorKind::kForwardRead:
        sums[k] = forward_read_chunk(reinterpret_cast<const std::uint64_t*>(rate_.data() + begin),
                                     reinterpret_cast<const std::uint64_t*>(last_emitted_.data() + begin),
                                     flags_.data() + begin, end - begin);
        break;
      case FloorKind::kFiveColumns:
        floor_chunk(rate_.data() + begin, last_update_.data() + begin, last_emitted_.data() + begin,
                    half_life_.data() + begin, flags_.data() + begin, end - begin, 1.0, 0.0, 0, now_);
        break;
      case FloorKind::kSharedHalfLife:
        floor_chunk_shared_half_life(rate_.data() + begin, last_update_.data() + begin,
                                     last_emitted_.data() + begin, shared_half_life_,
                                     flags_.data() + begin, end - begin, 1.0, 0.0, 0, now_);
        break;
    }
  };
  const std::size_t wanted = std::min<std::size_t>(resolve_threads(threads), n / kMinSlotsPerThread);
  if (wanted <= 1) {
    run(0, 0, n);
  } else {
    std::size_t chunk = (n + wanted - 1) / wanted;
    chunk = (chunk + kChunkAlign - 1) / kChunkAlign * kChunkAlign;
    const std::size_t chunks = (n + chunk - 1) / chunk;
    sums.assign(chunks, 0);
    ThreadPool::shared().run(chunks, resolve_threads(threads), [&](std::size_t k) {
      run(k, k * chunk, std::min(n, (k + 1) * chunk));
    });
  }
  for (const std::uint64_t sum : sums) sink_ += sum;
}

}  // namespace heatkit::bench
