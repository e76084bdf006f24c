// The columns of heatkit_gpu_bench's workloads on both sides, the steady
// tick state they start from, and the device memory each workload checks
// before allocating. The workload constants of every row.
#pragma once

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"
#include "cuda/device_ops.h"
#include "cuda/device_passes.h"
#include "math/counter_math.h"
#include "math/forward_math.h"
#include "math/random.h"

namespace heatkit::gpu_bench {

using gpu::BumpScratch;
using gpu::CudaStream;
using gpu::DeviceBuffer;
using gpu::OpKind;
using gpu::OpScratch;
using gpu::PassScratch;
using gpu::PendingOp;
using gpu::PinnedBuffer;

// Candidates and ops are copied byte for byte between host and device.
static_assert(sizeof(Candidate) == 16);
static_assert(sizeof(PendingOp) == 32);

// ---------------------------------------------------------------------------
// Workload constants.

constexpr std::int64_t kHalfLife = 10'000'000'000;  // 10 s
constexpr std::int64_t kStart = 1'000'000'000;      // first instant of every workload (ns)
// 1.01/20 half-life: ~5% candidates per tick, re-crossings 20 ticks later at 2^1.01.
constexpr std::int64_t kTickStep = kHalfLife / 20 + kHalfLife / 2000;
constexpr std::int64_t kRefreshAfter = 40 * kHalfLife;
// The literal tick: rate and last_update read and written (32 B), last_emitted,
// half_life and flags read (17 B). The copy floor moves this much.
constexpr double kTickBytesPerCounter = 49.0;
// The forward fast tick: s, last_emitted and flags read; the half-life too
// unless the caller shares one.
constexpr double kForwardTickBytesPerCounter = 17.0;
constexpr double kHalfLifeBytesPerCounter = 8.0;
// The relayout tick: every column read (33 B), s written (8 B).
constexpr double kRelayoutTickBytesPerCounter = 41.0;
constexpr double kColumnBytesPerCounter = 33.0;
constexpr double kMinCandidateShare = 0.03;
constexpr double kMaxCandidateShare = 0.07;

constexpr std::size_t kBumpBatch = std::size_t{1} << 20;  // ops / reads per bump row iteration
constexpr std::int64_t kBumpBatchStep = 1'000'000;        // 1 ms between bump_batch batches
constexpr std::int64_t kTimedReadStep = 500;              // 2M reads per simulated second
constexpr double kZipfExponent = 1.1;
constexpr std::uint64_t kScatter = 0x9E3779B1ULL;  // odd, no factor 5: a bijection mod 10^k

constexpr std::size_t kSurvivorEvery = 10;  // commit_prune: 1 in 10 counters was bumped in the gap

constexpr std::size_t kGuardCounters = 100'003;

constexpr std::uint64_t kSeed = 0x6865'6174'6b69'7421ULL;
constexpr std::uint64_t kRateStream = 21;
constexpr std::uint64_t kPhaseStream = 22;
constexpr std::uint64_t kUniformSlotStream = 23;
constexpr std::uint64_t kZipfSlotStream = 24;
constexpr std::uint64_t kGuardStream = 25;  // .. kGuardStream + 7

// Steady tick state of counter i at `now` (main.cu's header comment): rate in [1, 2),
// last emission rate * 2^u, u uniform in [0, 1). Same on host and device.
HEATKIT_HD inline void steady_state_counter(const CounterColumns& c, std::size_t i,
                                            std::int64_t now) {
  const double rate = 1.0 + unit_double(counter_random(kSeed, kRateStream, i));
  const double phase = unit_double(counter_random(kSeed, kPhaseStream, i));
  c.rate[i] = rate;
  c.last_update[i] = now;
  c.last_emitted[i] = rate * std::exp2(phase);
  c.half_life[i] = kHalfLife;
  c.flags[i] = static_cast<std::uint8_t>(kLive | kHasEmitted);
}

// The forward frame of columns filled with steady_state_counter at `now`
// (or any state whose every counter was last written at `now`): landmark and
// last tick at `now`, so each counter's rate column is its s.
ForwardFrame steady_frame(std::int64_t now);

struct HostColumns {
  explicit HostColumns(std::size_t n)
      : rate(n), last_update(n), last_emitted(n), half_life(n), flags(n) {}
  std::vector<double> rate;
  std::vector<std::int64_t> last_update;
  std::vector<double> last_emitted;
  std::vector<std::int64_t> half_life;
  std::vector<std::uint8_t> flags;
  std::size_t size() const noexcept { return rate.size(); }
  CounterColumns view() {
    return {rate.data(), last_update.data(), last_emitted.data(), half_life.data(), flags.data(),
            rate.size()};
  }
};

struct DeviceColumns {
  explicit DeviceColumns(std::size_t n)
      : rate(n), last_update(n), last_emitted(n), half_life(n), flags(n), size(n) {}
  DeviceBuffer<double> rate;
  DeviceBuffer<std::int64_t> last_update;
  DeviceBuffer<double> last_emitted;
  DeviceBuffer<std::int64_t> half_life;
  DeviceBuffer<std::uint8_t> flags;
  std::size_t size;
  CounterColumns view() {
    return {rate.data(), last_update.data(), last_emitted.data(), half_life.data(), flags.data(),
            size};
  }
};

template <class T>
void copy_to_device(DeviceBuffer<T>& to, const std::vector<T>& from, cudaStream_t s) {
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(to.data(), from.data(), from.size() * sizeof(T), cudaMemcpyHostToDevice, s));
}
template <class T>
void copy_to_host(std::vector<T>& to, const T* from, std::size_t count, cudaStream_t s) {
  to.resize(count);
  if (count == 0) return;
  HEATKIT_CUDA_CHECK(
      cudaMemcpyAsync(to.data(), from, count * sizeof(T), cudaMemcpyDeviceToHost, s));
}

void upload(DeviceColumns& to, HostColumns& from, cudaStream_t s);
HostColumns download(DeviceColumns& from, cudaStream_t s);

class NotEnoughMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws NotEnoughMemory if `bytes` (and a margin) do not fit the device's free memory.
void require_device_memory(double bytes, std::string_view what);

// Tick parameters of the default policy at `now`, no in-flight tracking.
TickParams tick_params(std::int64_t now);

// Refills every counter of `columns` with the steady state at `now`, on the
// benchmark stream.
void fill_steady_state(DeviceColumns& columns, std::int64_t now);

}  // namespace heatkit::gpu_bench
