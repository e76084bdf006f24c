// heatkit_gpu_bench: the `cuda` backend's device passes on one GPU, timed with
// CUDA events, beside the device-to-device copy bandwidth measured in the same
// run (the floor every tick ratio is taken against), the Thrust version of the
// same tick, and the host<->device transfers around the kernels, counted apart.
//
// Benchmarks are named <operation>/<impl>/<counters>, at 1,000,000, 10,000,000
// and 100,000,000 counters (--heatkit_sizes=a,b,...), registered by size, and
// within a size in this order (the references first):
//   copy_floor/d2d                   cudaMemcpyAsync device to device of 24.5 B per
//                                    counter: 49 B read + written per counter, the
//                                    bytes a tick must move
//   tick_kernels/cuda                enqueue_one_pass_tick, what the `cuda` store runs: one
//                                    kernel decays, gates and writes the candidates in slot
//                                    order (decoupled look-back between tiles), steady
//                                    state with ~5% candidates per tick
//   tick_kernels/cuda_tile<T>x<R>[_pairs][_streaming]   the same kernel in other
//                                    shapes (T threads, R rows; _pairs: two adjacent slots
//                                    per row with 16-byte accesses; _streaming: evict-first
//                                    cache hints; `cuda` is 256x4), to choose the default
//   tick_kernels/cuda_two_pass       enqueue_decide_and_select + enqueue_gather_candidates
//                                    (decay+gate kernel writing a decision byte per slot,
//                                    CUB compaction of those bytes, gather)
//   tick_kernels/thrust              the same tick as thrust/thrust_passes.h runs it on
//                                    thrust::cuda::par.on(stream): transform, count_if
//                                    (waits for the count), copy_if
//   tick_transfer/d2h_pageable       the tick's candidate list (count x 16 B) device to
//   tick_transfer/d2h_pinned         host, into a std::vector / into cudaMallocHost memory
//   tick_store/cuda, tick_store/thrust   DeviceCounterStore::tick end to end (queue flush,
//                                    kernels, count read-back, candidates into a
//                                    std::vector); host clock, it waits for itself
//   bump_batch_upload/h2d_pageable   1,048,576 queued ops (PendingOp, 32 B) host to device,
//   bump_batch_upload/h2d_pinned     from a std::vector / from cudaMallocHost memory
//   bump_batch/cuda                  enqueue_apply_ops of those 1,048,576 kBump ops at one
//                                    instant, uniform random slots, ops already on the device
//   bump_timed_uniform/cuda          apply_timed_bumps of 1,048,576 reads at increasing
//   bump_timed_zipf/cuda             times, slots uniform / Zipf(1.1) (hot ranks scattered);
//                                    it reads back a count, so it waits inside
//   commit_prune/cuda                after a quiet gap in which 90% of counters withdrew:
//                                    enqueue_apply_ops of their kRecord(Withdraw) ops, then
//                                    enqueue_select_prunable (selects exactly those 90%)
//
// Counters (every one a mean over the iterations of one repetition; the
// aggregates give medians over the repetitions):
//   ns_per_counter     time / counters resident (commit_prune: before the prune)
//   ns_per_bump        bump rows: time / 1,048,576
//   ns_per_op          commit_prune: time / record ops applied
//   GBps               bytes that must move / time, in 1e9 B/s. Ticks: 49 B per counter
//                      (rate and last_update read and written, 32 B; last_emitted and
//                      half_life read, 16 B; flags read, 1 B); the decision byte, the
//                      compaction and the candidates are not counted, so this is what
//                      the tick achieves against what it must do. copy_floor: bytes read
//                      + written. Transfers: bytes copied.
//   bytes_per_counter  the 49 B above (tick and copy_floor rows)
//   copy_ratio         tick GBps / copy_floor GBps at the same size in this run (median
//                      of the floor's repetitions): 1.0 = the tick moves its bytes at
//                      the pace of the device's own copy. Target: >= 0.8 at 100M.
//   cuda_speedup       tick_kernels/thrust only: thrust time / tick_kernels/cuda time
//                      (medians, same size, this run). Target: >= 5.
//   cuda_two_pass_speedup   and / tick_kernels/cuda_two_pass time
//   kernels_share      tick_store rows: the tick_kernels time of the same passes
//                      (median) / this end-to-end time
//   candidate_share    candidates / counters per tick (checked to lie in [3%, 7%])
//   candidates         transfers: candidates copied per iteration
//   distinct_share     bump_timed: distinct slots touched / reads
//   pruned_share       commit_prune: selected slots / counters (checked: exactly 90%)
//
// Timing. Every row but tick_store is manual time from a cudaEvent pair on one
// non-blocking stream, after one untimed warm-up call of the same work (it
// also grows every scratch buffer, so nothing allocates inside the events).
// Rows whose work only enqueues (copy_floor, tick_kernels/cuda[_two_pass], bump_batch,
// commit_prune, the pinned transfers) hold the stream with a spinning
// one-thread kernel until everything is enqueued: the events then time the
// device alone, not the host's launch gaps (at 1M counters a tick is tens of
// microseconds, as long as a few launches). Rows that wait inside (Thrust,
// bump_timed, pageable copies) cannot be held; their host gaps are part of
// their design and are timed (--heatkit_hold=off turns the hold off: needed
// under ncu or nsys, which serialize launches). Before every timed kernel row the L2 cache is
// cleared of the columns by reading 3x its size of unrelated data (untimed;
// --heatkit_l2=warm turns that off), so 1M counters (33 MB of columns, under
// an H100's 50 MB of L2) are timed from device memory like the larger sizes.
// Repetitions: 5 (--heatkit_repetitions=N; --benchmark_repetitions does not
// override a count set in code).
//
// Steady state of the tick rows (as heatkit_bench's tick_pass): every counter
// has emitted; rate r in [1, 2), last emission r * 2^u with u uniform in
// [0, 1), so a counter first crosses the 2x ratio (rate <= last / 2) after
// 1 - u half-lives; ticks are 1.01/20 half-life apart (half-life 10 s), so
// about 5% of the counters are candidates per tick. After each timed tick its
// candidates are committed on the device, untimed (kRecord through apply_op:
// last emission = the emitted rate), so each counter crosses again 20 ticks
// later at a ratio of 2^1.01, clear of the threshold, and the share stays at
// 5% with no restore. Every 40 half-lives of simulated time (rates near
// 2^-40, still above the epsilon clamp) the columns are refilled, untimed.
//
// Before registering anything the binary runs a tick pair and a prune on a
// random state of 100,003 counters with the cuda passes (both ticks), with
// the Thrust passes and with the scalar reference, and exits 1 if any candidate list,
// prune list or column differs (slot and kind exact, rates within 1e-12
// relative). Without a CUDA device it prints "heatkit_gpu_bench: no CUDA
// device: <reason>" and exits 0. Sizes whose workload does not fit the
// device's free memory are skipped with an error row. Results: docs/PERFORMANCE.md,
// bench/gpu_bench_table.py.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <thrust/system/cuda/execution_policy.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/workload_cache.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"
#include "cuda/device_ops.h"
#include "cuda/device_passes.h"
#include "cuda/device_store.h"
#include "cuda/grid_stride.cuh"
#include "thrust/thrust_passes.h"
#include "math/counter_math.h"
#include "math/random.h"
#include "kernels/scalar_kernels.h"
#include "sim/zipf.h"

namespace heatkit::gpu_bench {
namespace {

using gpu::BumpScratch;
using gpu::CudaStream;
using gpu::DeviceBuffer;
using gpu::OpKind;
using gpu::OpScratch;
using gpu::PassScratch;
using gpu::PendingOp;

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
constexpr double kTickBytesPerCounter = 49.0;  // 32 B read+written, 17 B read
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

constexpr std::int64_t kDefaultSizes[] = {1'000'000, 10'000'000, 100'000'000};
constexpr int kDefaultRepetitions = 5;

// Settings from the command line (main).
struct Settings {
  std::vector<std::int64_t> sizes{std::begin(kDefaultSizes), std::end(kDefaultSizes)};
  int repetitions = kDefaultRepetitions;
  bool flush_l2 = true;
  bool hold = true;  // hold the stream around work that only enqueues
};
Settings& settings() {
  static Settings s;
  return s;
}

// ---------------------------------------------------------------------------
// Small owners: events and the host-released stream hold (pinned memory:
// cuda/device_buffer.h PinnedBuffer).

class CudaEvent {
 public:
  CudaEvent() { HEATKIT_CUDA_CHECK(cudaEventCreate(&event_)); }
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  ~CudaEvent() { (void)cudaEventDestroy(event_); }
  cudaEvent_t get() const noexcept { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// ---------------------------------------------------------------------------
// Kernels of the benchmark itself (setup, untimed commits, L2 clearing, the
// stream hold). Grid-stride loops over 64-bit indices.

using gpu::blocks_for;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;
using gpu::PinnedBuffer;

// Steady tick state of counter i at `now` (header comment): rate in [1, 2),
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

// commit_prune's state: every counter emitted at some level, then a quiet gap
// of far more than 64 half-lives in which only every 10th counter was read
// (rate back to its level): the other 90% decayed to exactly 0 and the tick
// after the gap returned a Withdraw for each of them.
HEATKIT_HD inline void after_quiet_gap_counter(const CounterColumns& c, std::size_t i,
                                               std::int64_t now) {
  const double level = 1.0 + unit_double(counter_random(kSeed, kRateStream, i));
  c.rate[i] = i % kSurvivorEvery == 0 ? level : 0.0;
  c.last_update[i] = now;
  c.last_emitted[i] = level;
  c.half_life[i] = kHalfLife;
  c.flags[i] = static_cast<std::uint8_t>(kLive | kHasEmitted);
}

// The slot of the j-th withdrawn counter (the j-th i with i % 10 != 0).
HEATKIT_HD inline std::uint32_t withdrawn_slot(std::size_t j) {
  return static_cast<std::uint32_t>(j / (kSurvivorEvery - 1) * kSurvivorEvery +
                                    j % (kSurvivorEvery - 1) + 1);
}

__global__ void fill_steady_state_kernel(CounterColumns c, std::int64_t now) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) steady_state_counter(c, i, now);
}

__global__ void fill_after_quiet_gap_kernel(CounterColumns c, std::int64_t now) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) {
    after_quiet_gap_counter(c, i, now);
  }
}

// The commit of a tick's candidates: kRecord of each, as the store queues it.
// The count comes from the device (the cuda tick's) or from the host.
__global__ void commit_candidates_kernel(CounterColumns c, const Candidate* candidates,
                                         const std::int64_t* device_count,
                                         std::size_t host_count) {
  const std::size_t count =
      device_count != nullptr ? static_cast<std::size_t>(*device_count) : host_count;
  for (std::size_t i = first_index(); i < count; i += grid_stride()) {
    const Candidate candidate = candidates[i];
    if (candidate.slot >= c.size) continue;
    PendingOp op;
    op.slot = candidate.slot;
    op.kind = OpKind::kRecord;
    op.decision = candidate.kind;
    op.rate = candidate.rate;
    gpu::apply_op(c, op);
  }
}

__global__ void make_bump_ops_kernel(PendingOp* ops, const std::uint32_t* slots, std::size_t n,
                                     std::int64_t now) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    PendingOp op;
    op.slot = slots[i];
    op.kind = OpKind::kBump;
    op.now = now;
    ops[i] = op;
  }
}

__global__ void make_withdraw_ops_kernel(PendingOp* ops, std::size_t n) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    PendingOp op;
    op.slot = withdrawn_slot(i);
    op.kind = OpKind::kRecord;
    op.decision = Decision::kWithdraw;
    op.rate = 0.0;
    ops[i] = op;
  }
}

__global__ void stamp_times_kernel(std::int64_t* times, std::size_t n, std::int64_t first,
                                   std::int64_t step) {
  for (std::size_t i = first_index(); i < n; i += grid_stride()) {
    times[i] = first + static_cast<std::int64_t>(i) * step;
  }
}

// Reads `words` 16-byte words, evicting whatever L2 held. The store is never
// taken (the buffer holds one repeated byte), but the compiler cannot know.
__global__ void read_through_kernel(const uint4* data, std::size_t words, unsigned* sink) {
  unsigned acc = 0;
  for (std::size_t i = first_index(); i < words; i += grid_stride()) {
    const uint4 v = data[i];
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

__device__ inline unsigned long long global_timer_ns() {
  unsigned long long t = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

// Spins until the host sets flags[0] (mapped pinned memory), or gives up
// after `timeout_ns` and sets flags[1].
__global__ void hold_stream_kernel(volatile int* flags, unsigned long long timeout_ns) {
  const unsigned long long start = global_timer_ns();
  while (flags[0] == 0) {
    if (global_timer_ns() - start > timeout_ns) {
      flags[1] = 1;
      return;
    }
    __nanosleep(200);
  }
}

// ---------------------------------------------------------------------------
// The device, its one benchmark stream, the timer and the L2 clearing buffer.

// Holds a stream on the device until the host has enqueued the timed work
// (see the header comment). Never used around work that waits for the
// stream: that would wait for the hold, which gives up after a second and
// makes the row fail instead of hanging.
class StreamHold {
 public:
  static constexpr unsigned long long kTimeoutNs = 1'000'000'000;

  StreamHold() {
    void* host = nullptr;
    HEATKIT_CUDA_CHECK(cudaHostAlloc(&host, 2 * sizeof(int), cudaHostAllocMapped));
    flags_ = static_cast<volatile int*>(host);
    flags_[0] = 0;
    flags_[1] = 0;
    void* device = nullptr;
    HEATKIT_CUDA_CHECK(cudaHostGetDevicePointer(&device, host, 0));
    device_flags_ = static_cast<int*>(device);
  }
  StreamHold(const StreamHold&) = delete;
  StreamHold& operator=(const StreamHold&) = delete;
  ~StreamHold() { (void)cudaFreeHost(const_cast<int*>(flags_)); }

  void hold(cudaStream_t stream) {
    flags_[0] = 0;
    flags_[1] = 0;
    std::atomic_thread_fence(std::memory_order_seq_cst);
    hold_stream_kernel<<<1, 1, 0, stream>>>(device_flags_, kTimeoutNs);
    HEATKIT_CUDA_CHECK_LAUNCH("hold_stream_kernel");
  }
  void release() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    flags_[0] = 1;
  }
  // After the held work completed: whether the hold gave up waiting.
  bool timed_out() const noexcept { return flags_[1] != 0; }

 private:
  volatile int* flags_ = nullptr;
  int* device_flags_ = nullptr;
};

struct DeviceContext {
  int device = 0;
  cudaDeviceProp props{};
  CudaStream stream;
  CudaEvent start, stop;
  StreamHold hold;
  DeviceBuffer<uint4> l2_clear;  // 3x the L2 size
  DeviceBuffer<unsigned> l2_sink{1};

  DeviceContext() {
    HEATKIT_CUDA_CHECK(cudaGetDevice(&device));
    HEATKIT_CUDA_CHECK(cudaGetDeviceProperties(&props, device));
    const std::size_t l2_bytes = std::max<std::size_t>(static_cast<std::size_t>(props.l2CacheSize),
                                                       std::size_t{8} << 20);
    l2_clear = DeviceBuffer<uint4>(3 * l2_bytes / sizeof(uint4));
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(l2_clear.data(), 0x5a, l2_clear.bytes(), stream.get()));
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(l2_sink.data(), 0, l2_sink.bytes(), stream.get()));
    stream.synchronize();
  }

  cudaStream_t s() const noexcept { return stream.get(); }

  // Untimed: evicts the columns from L2 (unless --heatkit_l2=warm).
  void clear_l2() {
    if (!settings().flush_l2) return;
    read_through_kernel<<<blocks_for(l2_clear.size()), kBlockSize, 0, s()>>>(
        l2_clear.data(), l2_clear.size(), l2_sink.data());
    HEATKIT_CUDA_CHECK_LAUNCH("read_through_kernel");
  }
};

std::unique_ptr<DeviceContext>& context_slot() {
  static std::unique_ptr<DeviceContext> context;
  return context;
}
DeviceContext& ctx() { return *context_slot(); }

// How a timed region runs (header comment).
struct Timing {
  bool clear_l2;  // evict the columns from L2 first (untimed)
  bool hold;      // hold the stream until all is enqueued: only for work that never waits
};
constexpr Timing kAsyncKernels{true, true};
constexpr Timing kWaitingKernels{true, false};
constexpr Timing kAsyncTransfer{false, true};
constexpr Timing kWaitingTransfer{false, false};

// Seconds between an event pair around the work `enqueue(stream)` puts on the
// benchmark stream.
template <class Enqueue>
double time_on_stream(Timing timing, Enqueue&& enqueue) {
  DeviceContext& d = ctx();
  const cudaStream_t s = d.s();
  if (timing.clear_l2) d.clear_l2();
  // Releases the hold however the enqueueing ends, so an exception never
  // leaves the stream spinning until the timeout.
  struct HoldScope {
    StreamHold* hold = nullptr;
    void release() noexcept {
      if (hold != nullptr) hold->release();
      hold = nullptr;
    }
    ~HoldScope() { release(); }
  } scope;
  const bool hold = timing.hold && settings().hold;
  if (hold) {
    d.hold.hold(s);
    scope.hold = &d.hold;
  }
  HEATKIT_CUDA_CHECK(cudaEventRecord(d.start.get(), s));
  enqueue(s);
  HEATKIT_CUDA_CHECK(cudaEventRecord(d.stop.get(), s));
  scope.release();
  HEATKIT_CUDA_CHECK(cudaEventSynchronize(d.stop.get()));
  if (hold && d.hold.timed_out()) {
    throw std::runtime_error(
        "the stream hold timed out: the timed work waited for the stream while it was held");
  }
  float ms = 0.0f;
  HEATKIT_CUDA_CHECK(cudaEventElapsedTime(&ms, d.start.get(), d.stop.get()));
  return static_cast<double>(ms) * 1e-3;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---------------------------------------------------------------------------
// References measured earlier in the same run (copy_floor, tick_kernels), by
// key and size. Google Benchmark calls a function several times while it
// sizes the iteration count; only the calls with the most iterations (the
// reported repetitions) count.

class References {
 public:
  void add(const std::string& key, std::int64_t iterations, double seconds_per_iteration) {
    samples_[key].push_back({iterations, seconds_per_iteration});
  }
  std::optional<double> median(const std::string& key) const {
    const auto it = samples_.find(key);
    if (it == samples_.end() || it->second.empty()) return std::nullopt;
    std::int64_t most = 0;
    for (const Sample& s : it->second) most = std::max(most, s.iterations);
    std::vector<double> v;
    for (const Sample& s : it->second) {
      if (s.iterations == most) v.push_back(s.seconds);
    }
    std::sort(v.begin(), v.end());
    const std::size_t mid = v.size() / 2;
    return v.size() % 2 == 1 ? v[mid] : 0.5 * (v[mid - 1] + v[mid]);
  }

 private:
  struct Sample {
    std::int64_t iterations;
    double seconds;
  };
  std::map<std::string, std::vector<Sample>> samples_;
};

References& references() {
  static References refs;
  return refs;
}

std::string ref_key(std::string_view row, std::size_t n) {
  return std::string(row) + "/" + std::to_string(n);
}

// ---------------------------------------------------------------------------
// Columns on both sides.

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

void upload(DeviceColumns& to, HostColumns& from, cudaStream_t s) {
  copy_to_device(to.rate, from.rate, s);
  copy_to_device(to.last_update, from.last_update, s);
  copy_to_device(to.last_emitted, from.last_emitted, s);
  copy_to_device(to.half_life, from.half_life, s);
  copy_to_device(to.flags, from.flags, s);
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
}

HostColumns download(DeviceColumns& from, cudaStream_t s) {
  HostColumns to(from.size);
  copy_to_host(to.rate, from.rate.data(), from.size, s);
  copy_to_host(to.last_update, from.last_update.data(), from.size, s);
  copy_to_host(to.last_emitted, from.last_emitted.data(), from.size, s);
  copy_to_host(to.half_life, from.half_life.data(), from.size, s);
  copy_to_host(to.flags, from.flags.data(), from.size, s);
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
  return to;
}

// ---------------------------------------------------------------------------
// Device memory: each workload checks it fits before allocating.

class NotEnoughMemory : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", bytes / 1e9);
  return text;
}

void require_device_memory(double bytes, std::string_view what) {
  constexpr double kMargin = 512.0 * 1024 * 1024;  // CUB/Thrust temporaries, fragmentation
  std::size_t free_bytes = 0, total_bytes = 0;
  HEATKIT_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (bytes + kMargin > static_cast<double>(free_bytes)) {
    throw NotEnoughMemory(std::string(what) + " needs about " + gigabytes(bytes) +
                          " of device memory; " + gigabytes(static_cast<double>(free_bytes)) +
                          " of " + gigabytes(static_cast<double>(total_bytes)) + " are free");
  }
}


bench::Workbench& workbench() {
  static bench::Workbench bench;
  return bench;
}

// ---------------------------------------------------------------------------
// Workloads.

// copy_floor: a device-to-device copy moving 49 B per counter (read + written).
struct CopyWorkload {
  std::size_t bytes;  // copied; moved = 2 * bytes
  DeviceBuffer<std::byte> from, to;

  explicit CopyWorkload(std::size_t n)
      : bytes(static_cast<std::size_t>(std::ceil(kTickBytesPerCounter / 2 * static_cast<double>(n)))),
        from(prepare(bytes)),
        to(bytes) {
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(from.data(), 0x5a, bytes, ctx().s()));
    HEATKIT_CUDA_CHECK(cudaMemsetAsync(to.data(), 0, bytes, ctx().s()));
    ctx().stream.synchronize();
  }
  static std::size_t prepare(std::size_t bytes) {
    require_device_memory(2.0 * static_cast<double>(bytes), "copy_floor");
    return bytes;
  }
  void enqueue(cudaStream_t s) {
    HEATKIT_CUDA_CHECK(
        cudaMemcpyAsync(to.data(), from.data(), bytes, cudaMemcpyDeviceToDevice, s));
  }
};

TickParams tick_params(std::int64_t now) {
  TickParams p;
  p.now = now;
  p.enabled = true;
  p.ratio = 2.0;  // the default policy's f32 ratio, widened
  p.skip_in_flight = false;
  p.mark_in_flight = false;
  return p;
}

// Refills every counter of `columns` with the steady state at `now`.
void fill_steady_state(DeviceColumns& columns, std::int64_t now) {
  fill_steady_state_kernel<<<blocks_for(columns.size), kBlockSize, 0, ctx().s()>>>(columns.view(),
                                                                                    now);
  HEATKIT_CUDA_CHECK_LAUNCH("fill_steady_state_kernel");
}

// The tick rows' steady state (header comment), shared by tick_kernels and
// tick_transfer at one size. Each tick is committed before the next.
struct TickWorkload {
  std::size_t n;
  DeviceColumns columns;
  PassScratch scratch;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  PinnedBuffer<Candidate> pinned_candidates;

  explicit TickWorkload(std::size_t counters) : n(prepare(counters)), columns(counters) {
    refresh();
    // The first tick, untimed: grows the scratch and checks the share.
    const TickParams p = next_params();
    enqueue_cuda_one_pass_tick(p, ctx().s());
    const std::size_t count = commit_device_count();
    std::fprintf(stderr,
                 "heatkit_gpu_bench: tick workload of %zu counters: the first tick selected %zu "
                 "candidates (%.2f%%)\n",
                 n, count, 100.0 * static_cast<double>(count) / static_cast<double>(n));
  }
  static std::size_t prepare(std::size_t n) {
    // Columns, decisions (1 B), selected slots (4 B), candidates at capacity n (16 B).
    require_device_memory((kColumnBytesPerCounter + 1 + 4 + 16) * static_cast<double>(n),
                          "the tick workload");
    return n;
  }

  void refresh() {
    fill_steady_state(columns, now);
    refreshed_at = now;
  }
  TickParams next_params() {
    if (now - refreshed_at > kRefreshAfter) refresh();
    now += kTickStep;
    return tick_params(now);
  }

  // Capacity n for the candidates: nothing reads the count back in between.
  void enqueue_cuda_two_pass_tick(const TickParams& p, cudaStream_t s) {
    gpu::enqueue_decide_and_select(columns.view(), p, scratch, s);
    gpu::enqueue_gather_candidates(columns.view(), scratch, n, s);
  }
  void enqueue_cuda_one_pass_tick(const TickParams& p, cudaStream_t s,
                                  gpu::TickTile tile = gpu::kDefaultTickTile) {
    gpu::enqueue_one_pass_tick(columns.view(), p, scratch, s, tile);
  }
  // thrust/thrust_passes.h as the `thrust` backend runs it; waits for the count.
  std::size_t thrust_tick(const TickParams& p, cudaStream_t s) {
    scratch.decisions.reserve_discarding(n);
    scratch.candidates.reserve_discarding(n);
    const auto policy = thrust::cuda::par.on(s);
    const std::size_t count = thrust_passes::decide(policy, columns.view(), p, scratch.decisions.data());
    if (count > n) throw std::logic_error("thrust decide counted more candidates than counters");
    if (count > 0) {
      thrust_passes::compact_candidates(policy, columns.view(), scratch.decisions.data(),
                                        scratch.candidates.data());
    }
    return count;
  }

  // Untimed commits of the last tick's candidates; return their count.
  std::size_t commit_device_count() {
    commit_candidates_kernel<<<blocks_for(n), kBlockSize, 0, ctx().s()>>>(
        columns.view(), scratch.candidates.data(), scratch.count.data(), 0);
    HEATKIT_CUDA_CHECK_LAUNCH("commit_candidates_kernel");
    return gpu::read_selected_count(scratch, ctx().s(), n);  // waits
  }
  void commit_host_count(std::size_t count) {
    if (count > 0) {
      commit_candidates_kernel<<<blocks_for(count), kBlockSize, 0, ctx().s()>>>(
          columns.view(), scratch.candidates.data(), nullptr, count);
      HEATKIT_CUDA_CHECK_LAUNCH("commit_candidates_kernel");
    }
    ctx().stream.synchronize();
  }
};

// tick_store: a DeviceCounterStore holding the same steady state.
struct StoreWorkload {
  std::size_t n;
  gpu::DeviceCounterStore store;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  std::vector<Candidate> out;

  StoreWorkload(gpu::DevicePasses passes, std::size_t counters)
      : n(prepare(counters)), store(passes) {
    store.ensure_slots(n);
    refresh();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns and the one-pass tick's candidate room (16 B per counter).
    require_device_memory((kColumnBytesPerCounter + 16) * static_cast<double>(n) +
                              64.0 * static_cast<double>(gpu::DeviceCounterStore::kMaxPendingOps),
                          "the tick_store workload");
    return n;
  }
  // Through the store's own upload (keeps its host mirror of last_update exact).
  void refresh() {
    HostColumns host(n);
    const CounterColumns view = host.view();
    for (std::size_t i = 0; i < n; ++i) steady_state_counter(view, i, now);
    store.upload(view);
    refreshed_at = now;
  }
  TickParams next_params() {
    if (now - refreshed_at > kRefreshAfter) refresh();
    now += kTickStep;
    return tick_params(now);
  }
  // Untimed: records every candidate, as the registry's commit does, and
  // applies the queue now so the timed tick finds it empty.
  void commit() {
    for (const Candidate& c : out) store.record(c.slot, c.kind, c.rate);
    store.flush();
  }
};

// The bump rows at one size: steady columns, 1,048,576 uniform and Zipf slot
// draws on the device, the same uniform batch as host ops for the upload rows.
struct BumpWorkload {
  std::size_t n;
  DeviceColumns columns;
  OpScratch op_scratch;
  BumpScratch bump_scratch;
  DeviceBuffer<std::uint32_t> uniform_slots, zipf_slots;
  DeviceBuffer<std::int64_t> times;
  DeviceBuffer<std::uint32_t> touched_slots;
  DeviceBuffer<std::int64_t> touched_times;
  std::vector<PendingOp> host_ops;      // pageable, as the store queues them
  PinnedBuffer<PendingOp> pinned_ops;   // the same ops, pinned
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;

  explicit BumpWorkload(std::size_t counters)
      : n(prepare(counters)),
        columns(counters),
        uniform_slots(kBumpBatch),
        zipf_slots(kBumpBatch),
        times(kBumpBatch),
        host_ops(kBumpBatch),
        pinned_ops(kBumpBatch) {
    const cudaStream_t s = ctx().s();
    std::vector<std::uint32_t> slots(kBumpBatch);
    const auto n64 = static_cast<std::uint64_t>(n);
    for (std::size_t j = 0; j < kBumpBatch; ++j) {
      slots[j] = static_cast<std::uint32_t>(((counter_random(kSeed, kUniformSlotStream, j) >> 32) * n64) >> 32);
      PendingOp op;
      op.slot = slots[j];
      op.kind = OpKind::kBump;
      op.now = kStart;
      host_ops[j] = op;
      pinned_ops.data()[j] = op;
    }
    copy_to_device(uniform_slots, slots, s);
    ctx().stream.synchronize();  // `slots` is reused below
    // Zipf ranks drawn once on the host; rank r lives at slot r * m mod n, so
    // hot slots are scattered over the columns, as real hot keys are.
    const ZipfTable table(static_cast<std::uint32_t>(n), kZipfExponent);
    for (std::size_t j = 0; j < kBumpBatch; ++j) {
      const std::uint32_t rank = zipf_sample(table.view(), counter_random(kSeed, kZipfSlotStream, j));
      slots[j] = static_cast<std::uint32_t>(rank * kScatter % n64);
    }
    copy_to_device(zipf_slots, slots, s);
    refresh();
    ctx().stream.synchronize();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns; per read/op: slots x2, times, ops (32 B), op and bump scratch (~80 B).
    require_device_memory(kColumnBytesPerCounter * static_cast<double>(n) +
                              160.0 * static_cast<double>(kBumpBatch),
                          "the bump workload");
    return n;
  }
  void refresh() {
    fill_steady_state(columns, now);
    refreshed_at = now;
  }
};

// commit_prune at one size: the state after the quiet gap, kept pristine for
// what the commit changes (last_emitted and flags).
struct CommitWorkload {
  std::size_t n;
  std::size_t withdrawn;  // n minus the survivors (every 10th slot)
  DeviceColumns columns;
  DeviceBuffer<double> pristine_last_emitted;
  DeviceBuffer<std::uint8_t> pristine_flags;
  OpScratch op_scratch;
  PassScratch pass_scratch;

  explicit CommitWorkload(std::size_t counters)
      : n(prepare(counters)),
        withdrawn(counters - (counters + kSurvivorEvery - 1) / kSurvivorEvery),
        columns(counters),
        pristine_last_emitted(counters),
        pristine_flags(counters) {
    const cudaStream_t s = ctx().s();
    fill_after_quiet_gap_kernel<<<blocks_for(n), kBlockSize, 0, s>>>(columns.view(), kStart);
    HEATKIT_CUDA_CHECK_LAUNCH("fill_after_quiet_gap_kernel");
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(pristine_last_emitted.data(), columns.last_emitted.data(),
                                       columns.last_emitted.bytes(), cudaMemcpyDeviceToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(pristine_flags.data(), columns.flags.data(),
                                       columns.flags.bytes(), cudaMemcpyDeviceToDevice, s));
    op_scratch.ops.reserve_discarding(withdrawn);
    ctx().stream.synchronize();
  }
  static std::size_t prepare(std::size_t n) {
    // Columns, pristine copies (9 B), selected slots (4 B); per withdraw op:
    // the op (32 B) and the flush's slot/position/group arrays and sort
    // temporaries (about 36 B).
    require_device_memory((kColumnBytesPerCounter + 9 + 4 + 0.9 * 68) * static_cast<double>(n),
                          "the commit_prune workload");
    return n;
  }
  // Untimed: the columns as after the gap, the withdraw ops in the queue.
  void restore() {
    const cudaStream_t s = ctx().s();
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(columns.last_emitted.data(), pristine_last_emitted.data(),
                                       pristine_last_emitted.bytes(), cudaMemcpyDeviceToDevice, s));
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(columns.flags.data(), pristine_flags.data(),
                                       pristine_flags.bytes(), cudaMemcpyDeviceToDevice, s));
    op_scratch.ops.reserve_discarding(withdrawn);
    make_withdraw_ops_kernel<<<blocks_for(withdrawn), kBlockSize, 0, s>>>(op_scratch.ops.data(),
                                                                           withdrawn);
    HEATKIT_CUDA_CHECK_LAUNCH("make_withdraw_ops_kernel");
  }
  void enqueue(cudaStream_t s) {
    gpu::enqueue_apply_ops(columns.view(), withdrawn, op_scratch, s);
    gpu::enqueue_select_prunable(columns.view(), pass_scratch, s);
  }
};

template <class W, class... Args>
W& workload(std::string_view kind, std::size_t n, Args... args) {
  return workbench().get<W>(std::string(kind) + "/" + std::to_string(n),
                            [&] { return std::make_unique<W>(args..., n); });
}

// ---------------------------------------------------------------------------
// Benchmarks.

std::size_t counters_of(const benchmark::State& state) {
  return static_cast<std::size_t>(state.range(0));
}

double iterations_of(const benchmark::State& state) {
  return static_cast<double>(state.iterations());
}

// The common counters of a tick row; checks the candidate share.
void report_tick(benchmark::State& state, std::size_t n, double seconds, double candidates) {
  const double ticks = iterations_of(state);
  const double counters = ticks * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(counters));
  state.counters["ns_per_counter"] = seconds * 1e9 / counters;
  state.counters["GBps"] = kTickBytesPerCounter * counters / seconds / 1e9;
  state.counters["bytes_per_counter"] = kTickBytesPerCounter;
  state.counters["candidate_share"] = candidates / counters;
  if (const auto copy = references().median(ref_key("copy_floor", n)); copy && seconds > 0) {
    state.counters["copy_ratio"] = *copy / (seconds / ticks);
  }
  const double share = candidates / counters;
  if (share < kMinCandidateShare || share > kMaxCandidateShare) {
    state.SkipWithError("the candidate share left [3%, 7%]: the steady state is broken");
  }
}

void bench_copy_floor(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<CopyWorkload>("copy", n);
  w.enqueue(ctx().s());  // warm-up
  ctx().stream.synchronize();
  double seconds = 0.0;
  for (auto _ : state) {
    const double t = time_on_stream(kAsyncKernels, [&](cudaStream_t s) { w.enqueue(s); });
    state.SetIterationTime(t);
    seconds += t;
  }
  const double iterations = iterations_of(state);
  const double moved = 2.0 * static_cast<double>(w.bytes) * iterations;
  state.SetItemsProcessed(static_cast<std::int64_t>(iterations * static_cast<double>(n)));
  state.counters["ns_per_counter"] = seconds * 1e9 / (iterations * static_cast<double>(n));
  state.counters["GBps"] = moved / seconds / 1e9;
  state.counters["bytes_per_counter"] = kTickBytesPerCounter;
  references().add(ref_key("copy_floor", n), state.iterations(), seconds / iterations);
}

void bench_tick_cuda(benchmark::State& state, bool two_pass,
                     gpu::TickTile tile = gpu::kDefaultTickTile, const char* row = nullptr) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n);
  auto tick = [&](const TickParams& p, cudaStream_t s) {
    if (two_pass) {
      w.enqueue_cuda_two_pass_tick(p, s);
    } else {
      w.enqueue_cuda_one_pass_tick(p, s, tile);
    }
  };
  tick(w.next_params(), ctx().s());  // warm-up
  w.commit_device_count();
  double seconds = 0.0, candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    const double t = time_on_stream(kAsyncKernels, [&](cudaStream_t s) { tick(p, s); });
    state.SetIterationTime(t);
    seconds += t;
    candidates += static_cast<double>(w.commit_device_count());
  }
  report_tick(state, n, seconds, candidates);
  references().add(ref_key(row != nullptr ? row : two_pass ? "tick_kernels/cuda_two_pass" : "tick_kernels/cuda", n),
                   state.iterations(), seconds / iterations_of(state));
}

void bench_tick_thrust(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n);
  w.commit_host_count(w.thrust_tick(w.next_params(), ctx().s()));  // warm-up
  double seconds = 0.0, candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    std::size_t count = 0;
    const double t = time_on_stream(kWaitingKernels, [&](cudaStream_t s) { count = w.thrust_tick(p, s); });
    state.SetIterationTime(t);
    seconds += t;
    candidates += static_cast<double>(count);
    w.commit_host_count(count);
  }
  report_tick(state, n, seconds, candidates);
  const double per_tick = seconds / iterations_of(state);
  if (const auto cuda = references().median(ref_key("tick_kernels/cuda", n)); cuda && *cuda > 0) {
    state.counters["cuda_speedup"] = per_tick / *cuda;
  }
  if (const auto two_pass = references().median(ref_key("tick_kernels/cuda_two_pass", n));
      two_pass && *two_pass > 0) {
    state.counters["cuda_two_pass_speedup"] = per_tick / *two_pass;
  }
  references().add(ref_key("tick_kernels/thrust", n), state.iterations(), per_tick);
}

// Times copy(stream), one transfer, once per iteration after an untimed
// warm-up; returns the seconds timed. A pageable copy first waits for the
// stream and returns only once done, so its stream is not held (holding it
// would stall the copy); a pinned one is asynchronous and timed held.
template <class Copy>
double time_transfers(benchmark::State& state, bool pinned, Copy&& copy) {
  copy(ctx().s());  // warm-up
  ctx().stream.synchronize();
  double seconds = 0.0;
  for (auto _ : state) {
    const double t = time_on_stream(pinned ? kAsyncTransfer : kWaitingTransfer, copy);
    state.SetIterationTime(t);
    seconds += t;
  }
  return seconds;
}

// tick_transfer: the candidates of one fresh tick, copied back again and again.
void bench_tick_transfer(benchmark::State& state, bool pinned) {
  const std::size_t n = counters_of(state);
  auto& w = workload<TickWorkload>("tick", n);
  w.enqueue_cuda_one_pass_tick(w.next_params(), ctx().s());
  const std::size_t count = w.commit_device_count();  // the candidates stay in scratch
  const std::size_t bytes = count * sizeof(Candidate);
  std::vector<Candidate> pageable;
  Candidate* host = nullptr;
  if (pinned) {
    w.pinned_candidates.reserve_discarding(count);
    host = w.pinned_candidates.data();
  } else {
    pageable.resize(count);  // touched now: no first-touch page faults in the timing
    host = pageable.data();
  }
  const Candidate* device = w.scratch.candidates.data();
  auto copy = [&](cudaStream_t s) {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, s));
  };
  const double seconds = time_transfers(state, pinned, copy);
  const double iterations = iterations_of(state);
  state.counters["ns_per_counter"] = seconds * 1e9 / (iterations * static_cast<double>(n));
  state.counters["GBps"] = static_cast<double>(bytes) * iterations / seconds / 1e9;
  state.counters["candidates"] = static_cast<double>(count);
}

void bench_tick_store(benchmark::State& state, gpu::DevicePasses passes) {
  const std::size_t n = counters_of(state);
  const bool cuda = passes == gpu::DevicePasses::kCudaKernels;
  auto& w = workload<StoreWorkload>(cuda ? "store_cuda" : "store_thrust", n, passes);
  w.out.clear();
  w.store.tick(w.next_params(), w.out);  // warm-up; sizes `out`
  w.commit();
  double seconds = 0.0, candidates = 0.0;
  for (auto _ : state) {
    const TickParams p = w.next_params();
    w.out.clear();
    ctx().clear_l2();
    ctx().stream.synchronize();
    const auto start = std::chrono::steady_clock::now();
    w.store.tick(p, w.out);
    const double t = seconds_since(start);
    state.SetIterationTime(t);
    seconds += t;
    candidates += static_cast<double>(w.out.size());
    w.commit();
  }
  const double counters = iterations_of(state) * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(counters));
  state.counters["ns_per_counter"] = seconds * 1e9 / counters;
  state.counters["candidate_share"] = candidates / counters;
  const double per_tick = seconds / iterations_of(state);
  if (const auto kernels = references().median(ref_key(cuda ? "tick_kernels/cuda" : "tick_kernels/thrust", n));
      kernels && per_tick > 0) {
    state.counters["kernels_share"] = *kernels / per_tick;
  }
  const double share = candidates / counters;
  if (share < kMinCandidateShare || share > kMaxCandidateShare) {
    state.SkipWithError("the candidate share left [3%, 7%]: the steady state is broken");
  }
}

void report_bumps(benchmark::State& state, double seconds) {
  const double bumps = iterations_of(state) * static_cast<double>(kBumpBatch);
  state.SetItemsProcessed(static_cast<std::int64_t>(bumps));
  state.counters["ns_per_bump"] = seconds * 1e9 / bumps;
}

void bench_bump_batch_upload(benchmark::State& state, bool pinned) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  w.op_scratch.ops.reserve_discarding(kBumpBatch);
  const PendingOp* host = pinned ? w.pinned_ops.data() : w.host_ops.data();
  const std::size_t bytes = kBumpBatch * sizeof(PendingOp);
  auto copy = [&](cudaStream_t s) {
    HEATKIT_CUDA_CHECK(
        cudaMemcpyAsync(w.op_scratch.ops.data(), host, bytes, cudaMemcpyHostToDevice, s));
  };
  const double seconds = time_transfers(state, pinned, copy);
  report_bumps(state, seconds);
  state.counters["GBps"] = static_cast<double>(bytes) * iterations_of(state) / seconds / 1e9;
}

void bench_bump_batch(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  w.op_scratch.ops.reserve_discarding(kBumpBatch);
  // Untimed: this batch's ops, at the next instant, written into the queue
  // buffer on the device (what the store's flush uploads).
  auto stage = [&] {
    w.now += kBumpBatchStep;
    make_bump_ops_kernel<<<blocks_for(kBumpBatch), kBlockSize, 0, ctx().s()>>>(
        w.op_scratch.ops.data(), w.uniform_slots.data(), kBumpBatch, w.now);
    HEATKIT_CUDA_CHECK_LAUNCH("make_bump_ops_kernel");
  };
  auto apply = [&](cudaStream_t s) { gpu::enqueue_apply_ops(w.columns.view(), kBumpBatch, w.op_scratch, s); };
  stage();
  apply(ctx().s());  // warm-up
  ctx().stream.synchronize();
  double seconds = 0.0;
  for (auto _ : state) {
    stage();
    const double t = time_on_stream(kAsyncKernels, apply);
    state.SetIterationTime(t);
    seconds += t;
  }
  report_bumps(state, seconds);
}

void bench_bump_timed(benchmark::State& state, bool zipf) {
  const std::size_t n = counters_of(state);
  auto& w = workload<BumpWorkload>("bump", n);
  const std::uint32_t* slots = zipf ? w.zipf_slots.data() : w.uniform_slots.data();
  // Untimed: the next 1,048,576 read times. Refilled every 40 half-lives, so
  // no slot's gap reaches the 52 half-lives that force the serial path.
  auto stage = [&] {
    if (w.now - w.refreshed_at > kRefreshAfter) w.refresh();
    stamp_times_kernel<<<blocks_for(kBumpBatch), kBlockSize, 0, ctx().s()>>>(
        w.times.data(), kBumpBatch, w.now + kTimedReadStep, kTimedReadStep);
    HEATKIT_CUDA_CHECK_LAUNCH("stamp_times_kernel");
    w.now += static_cast<std::int64_t>(kBumpBatch) * kTimedReadStep;
  };
  std::size_t touched = 0;
  auto apply = [&](cudaStream_t s) {
    touched = gpu::apply_timed_bumps(w.columns.view(), slots, w.times.data(), kBumpBatch,
                                     w.bump_scratch, w.touched_slots, w.touched_times, s);
  };
  stage();
  apply(ctx().s());  // warm-up
  double seconds = 0.0, distinct = 0.0;
  for (auto _ : state) {
    stage();
    const double t = time_on_stream(kWaitingKernels, apply);  // it reads back a count
    state.SetIterationTime(t);
    seconds += t;
    distinct += static_cast<double>(touched);
  }
  report_bumps(state, seconds);
  state.counters["distinct_share"] = distinct / (iterations_of(state) * static_cast<double>(kBumpBatch));
}

void bench_commit_prune(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<CommitWorkload>("commit", n);
  w.restore();
  w.enqueue(ctx().s());  // warm-up
  std::size_t pruned = gpu::read_selected_count(w.pass_scratch, ctx().s(), n);
  if (pruned != w.withdrawn) {
    state.SkipWithError("commit_prune did not select exactly the withdrawn 90% of counters");
    return;
  }
  double seconds = 0.0;
  for (auto _ : state) {
    w.restore();
    const double t = time_on_stream(kAsyncKernels, [&](cudaStream_t s) { w.enqueue(s); });
    state.SetIterationTime(t);
    seconds += t;
    pruned = gpu::read_selected_count(w.pass_scratch, ctx().s(), n);  // untimed
    if (pruned != w.withdrawn) {
      state.SkipWithError("commit_prune did not select exactly the withdrawn 90% of counters");
      break;
    }
  }
  const double iterations = iterations_of(state);
  state.SetItemsProcessed(static_cast<std::int64_t>(iterations * static_cast<double>(n)));
  state.counters["ns_per_counter"] = seconds * 1e9 / (iterations * static_cast<double>(n));
  state.counters["ns_per_op"] = seconds * 1e9 / (iterations * static_cast<double>(w.withdrawn));
  state.counters["pruned_share"] = static_cast<double>(pruned) / static_cast<double>(n);
}

// ---------------------------------------------------------------------------
// Registration. Every row runs inside run_row: a failure (CUDA error, not
// enough memory) marks that row as skipped with its message and frees the
// workload, and the run goes on.

const char* keep_message(std::string message) {
  static std::deque<std::string> messages;  // SkipWithError may keep the pointer
  messages.push_back(std::move(message));
  return messages.back().c_str();
}

void run_row(benchmark::State& state, const std::function<void(benchmark::State&)>& body) {
  try {
    body(state);
  } catch (const std::exception& e) {
    workbench().release();
    state.SkipWithError(keep_message(e.what()));
  }
}

void add_row(const std::string& name, std::int64_t n, std::function<void(benchmark::State&)> body) {
  benchmark::RegisterBenchmark(name.c_str(),
                               [body = std::move(body)](benchmark::State& s) { run_row(s, body); })
      ->Arg(n)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->Repetitions(settings().repetitions);
}

void register_benchmarks() {
  using gpu::DevicePasses;
  for (const std::int64_t n : settings().sizes) {
    add_row("copy_floor/d2d", n, bench_copy_floor);
    add_row("tick_kernels/cuda", n, [](benchmark::State& s) { bench_tick_cuda(s, false); });
    add_row("tick_kernels/cuda_two_pass", n, [](benchmark::State& s) { bench_tick_cuda(s, true); });
    // The one-pass tick's other tile shapes (threads x rows; `cuda` is 256x4).
    add_row("tick_kernels/cuda_tile256x8", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k256x8, "tick_kernels/cuda_tile256x8");
    });
    add_row("tick_kernels/cuda_tile128x8", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k128x8, "tick_kernels/cuda_tile128x8");
    });
    add_row("tick_kernels/cuda_tile512x2", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k512x2, "tick_kernels/cuda_tile512x2");
    });
    add_row("tick_kernels/cuda_tile256x2_pairs", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k256x2_pairs, "tick_kernels/cuda_tile256x2_pairs");
    });
    add_row("tick_kernels/cuda_tile256x4_streaming", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k256x4_streaming,
                      "tick_kernels/cuda_tile256x4_streaming");
    });
    add_row("tick_kernels/cuda_tile256x2_pairs_streaming", n, [](benchmark::State& s) {
      bench_tick_cuda(s, false, gpu::TickTile::k256x2_pairs_streaming,
                      "tick_kernels/cuda_tile256x2_pairs_streaming");
    });
    add_row("tick_kernels/thrust", n, bench_tick_thrust);
    add_row("tick_transfer/d2h_pageable", n, [](benchmark::State& s) { bench_tick_transfer(s, false); });
    add_row("tick_transfer/d2h_pinned", n, [](benchmark::State& s) { bench_tick_transfer(s, true); });
    add_row("tick_store/cuda", n,
            [](benchmark::State& s) { bench_tick_store(s, DevicePasses::kCudaKernels); });
    add_row("tick_store/thrust", n,
            [](benchmark::State& s) { bench_tick_store(s, DevicePasses::kThrust); });
    add_row("bump_batch_upload/h2d_pageable", n,
            [](benchmark::State& s) { bench_bump_batch_upload(s, false); });
    add_row("bump_batch_upload/h2d_pinned", n,
            [](benchmark::State& s) { bench_bump_batch_upload(s, true); });
    add_row("bump_batch/cuda", n, bench_bump_batch);
    add_row("bump_timed_uniform/cuda", n, [](benchmark::State& s) { bench_bump_timed(s, false); });
    add_row("bump_timed_zipf/cuda", n, [](benchmark::State& s) { bench_bump_timed(s, true); });
    add_row("commit_prune/cuda", n, bench_commit_prune);
  }
}

// ---------------------------------------------------------------------------
// The correctness guard: the cuda and Thrust passes against the scalar
// reference on one random state, before anything is timed.

// Every row of the gate and the decay: zero, clamped, infinite and negative
// rates, gaps beyond 64 half-lives and in the future, zero half-lives, never
// emitted, emitted at zero, in flight.
HostColumns random_guard_state(std::size_t n, std::int64_t now) {
  HostColumns h(n);
  auto draw = [](std::uint64_t stream, std::size_t i) {
    return unit_double(counter_random(kSeed, kGuardStream + stream, i));
  };
  for (std::size_t i = 0; i < n; ++i) {
    const double kind = draw(0, i);
    double rate = 100.0 * draw(1, i);
    if (kind < 0.10) rate = 0.0;
    else if (kind < 0.13) rate = 1e-17;
    else if (kind < 0.14) rate = std::numeric_limits<double>::infinity();
    else if (kind < 0.15) rate = -1.0;
    h.rate[i] = rate;

    const double when = draw(2, i);
    const double ago = when < 0.03 ? -0.5 : 70.0 * draw(3, i);  // half-lives; < 0: in the future
    const double which = draw(4, i);
    const std::int64_t half_life = which < 0.05   ? 0
                                   : which < 0.15 ? 1'000'000'000
                                   : which < 0.20 ? 3'600'000'000'000
                                                  : kHalfLife;
    const double unit = static_cast<double>(half_life != 0 ? half_life : kHalfLife);
    h.last_update[i] = now - static_cast<std::int64_t>(ago * unit);
    h.half_life[i] = half_life;

    const double emitted = draw(5, i);
    h.last_emitted[i] = emitted < 0.3 ? 0.0 : rate * std::exp2(4.0 * draw(6, i) - 2.0) + 1e-3;
    const double flags = draw(7, i);
    std::uint8_t f = kLive;
    if (flags < 0.6) f |= kHasEmitted;
    if (flags > 0.45 && flags < 0.6) f |= kInFlight;
    h.flags[i] = f;
  }
  return h;
}

bool nearly_equal(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;  // infinities
  return std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b));
}

std::string compare_candidates(const std::vector<Candidate>& got, const std::vector<Candidate>& want) {
  if (got.size() != want.size()) {
    return std::to_string(got.size()) + " candidates, the reference has " + std::to_string(want.size());
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].slot != want[i].slot || got[i].kind != want[i].kind || !nearly_equal(got[i].rate, want[i].rate)) {
      return "candidate " + std::to_string(i) + " differs (slot " + std::to_string(got[i].slot) +
             " vs " + std::to_string(want[i].slot) + ")";
    }
  }
  return {};
}

std::string compare_columns(HostColumns& got, HostColumns& want) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!nearly_equal(got.rate[i], want.rate[i]) || got.last_update[i] != want.last_update[i] ||
        got.last_emitted[i] != want.last_emitted[i] || got.half_life[i] != want.half_life[i] ||
        got.flags[i] != want.flags[i]) {
      return "column values of slot " + std::to_string(i) + " differ";
    }
  }
  return {};
}

// Why the device passes disagree with the scalar reference, or empty.
std::string guard_disagreement() {
  const std::size_t n = kGuardCounters;
  const std::int64_t now = kStart + 100 * kHalfLife;
  TickParams tracked = tick_params(now);
  tracked.skip_in_flight = true;
  tracked.mark_in_flight = true;
  const TickParams plain = tick_params(now + kHalfLife * 37 / 100);

  HostColumns initial = random_guard_state(n, now);
  HostColumns reference = initial;
  std::vector<Candidate> want_tracked, want_plain;
  std::vector<std::uint32_t> want_prunable;
  scalar::tick(reference.view(), tracked, want_tracked);
  scalar::tick(reference.view(), plain, want_plain);
  scalar::collect_prunable(reference.view(), want_prunable);
  if (want_tracked.empty() || want_plain.empty() || want_prunable.empty()) {
    return "the guard's random state selects nothing (fix the guard)";
  }

  const cudaStream_t s = ctx().s();
  DeviceColumns device(n);
  PassScratch scratch;
  std::vector<Candidate> got;

  // cuda, both ticks (capacity n, as the benchmark runs them); then the prune.
  for (const bool one_pass : {true, false}) {
    const std::string name = one_pass ? "cuda one-pass tick" : "cuda two-pass tick";
    upload(device, initial, s);
    for (const auto& [params, want, tracking] :
         {std::tuple{tracked, &want_tracked, " with in-flight tracking"},
          std::tuple{plain, &want_plain, " without in-flight tracking"}}) {
      if (one_pass) {
        gpu::enqueue_one_pass_tick(device.view(), params, scratch, s);
      } else {
        gpu::enqueue_decide_and_select(device.view(), params, scratch, s);
        gpu::enqueue_gather_candidates(device.view(), scratch, n, s);
      }
      const std::size_t count = gpu::read_selected_count(scratch, s, n);
      copy_to_host(got, scratch.candidates.data(), count, s);
      HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
      if (std::string why = compare_candidates(got, *want); !why.empty()) {
        return name + tracking + ": " + why;
      }
    }
    HostColumns after = download(device, s);
    if (std::string why = compare_columns(after, reference); !why.empty()) return name + "s: " + why;
  }
  gpu::enqueue_select_prunable(device.view(), scratch, s);
  std::vector<std::uint32_t> got_prunable;
  copy_to_host(got_prunable, scratch.selected.data(), gpu::read_selected_count(scratch, s, n), s);
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
  if (got_prunable != want_prunable) {
    return "cuda prune selection: " + std::to_string(got_prunable.size()) +
           " slots, the reference has " + std::to_string(want_prunable.size()) + " (or others)";
  }

  // Thrust, as the `thrust` backend runs it.
  upload(device, initial, s);
  scratch.decisions.reserve_discarding(n);
  scratch.candidates.reserve_discarding(n);
  const auto policy = thrust::cuda::par.on(s);
  for (const auto& [params, want, label] :
       {std::tuple{tracked, &want_tracked, "thrust tick with in-flight tracking"},
        std::tuple{plain, &want_plain, "thrust tick without in-flight tracking"}}) {
    const std::size_t count = thrust_passes::decide(policy, device.view(), params, scratch.decisions.data());
    if (count > n) return std::string(label) + ": more candidates than counters";
    thrust_passes::compact_candidates(policy, device.view(), scratch.decisions.data(),
                                      scratch.candidates.data());
    copy_to_host(got, scratch.candidates.data(), count, s);
    HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
    if (std::string why = compare_candidates(got, *want); !why.empty()) {
      return std::string(label) + ": " + why;
    }
  }
  HostColumns after = download(device, s);
  if (std::string why = compare_columns(after, reference); !why.empty()) return "thrust ticks: " + why;
  return {};
}

// ---------------------------------------------------------------------------
// The device in the benchmark context, so the JSON names it.

void add_device_context() {
  const DeviceContext& d = ctx();
  const cudaDeviceProp& p = d.props;
  int memory_clock_khz = 0, bus_width_bits = 0;
  HEATKIT_CUDA_CHECK(cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, d.device));
  HEATKIT_CUDA_CHECK(cudaDeviceGetAttribute(&bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, d.device));
  int runtime_version = 0, driver_version = 0;
  HEATKIT_CUDA_CHECK(cudaRuntimeGetVersion(&runtime_version));
  HEATKIT_CUDA_CHECK(cudaDriverGetVersion(&driver_version));
  // Double data rate: two transfers per memory clock on each bus bit.
  const double theoretical_gbps =
      2.0 * memory_clock_khz * 1e3 * (bus_width_bits / 8.0) / 1e9;
  auto fixed = [](double v, int digits) {
    char text[64];
    std::snprintf(text, sizeof text, "%.*f", digits, v);
    return std::string(text);
  };
  benchmark::AddCustomContext("gpu_name", p.name);
  benchmark::AddCustomContext("gpu_compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor));
  benchmark::AddCustomContext("gpu_sm_count", std::to_string(p.multiProcessorCount));
  benchmark::AddCustomContext("gpu_memory_GB", fixed(static_cast<double>(p.totalGlobalMem) / 1e9, 1));
  benchmark::AddCustomContext("gpu_l2_MB", fixed(p.l2CacheSize / 1e6, 1));
  benchmark::AddCustomContext("gpu_memory_clock_MHz", fixed(memory_clock_khz / 1e3, 0));
  benchmark::AddCustomContext("gpu_memory_bus_bits", std::to_string(bus_width_bits));
  benchmark::AddCustomContext("gpu_theoretical_GBps", fixed(theoretical_gbps, 0));
  benchmark::AddCustomContext("cuda_runtime_version", std::to_string(runtime_version));
  benchmark::AddCustomContext("cuda_driver_version", std::to_string(driver_version));
  benchmark::AddCustomContext("heatkit_l2_before_timing", settings().flush_l2 ? "cleared" : "warm");
  benchmark::AddCustomContext("heatkit_stream_hold", settings().hold ? "on" : "off");
  benchmark::AddCustomContext("heatkit_tick_bytes_per_counter", fixed(kTickBytesPerCounter, 0));
  std::fprintf(stderr,
               "heatkit_gpu_bench: %s (compute capability %d.%d, %d SMs, %.1f GB, L2 %.1f MB), "
               "theoretical memory bandwidth %.0f GB/s\n",
               p.name, p.major, p.minor, p.multiProcessorCount,
               static_cast<double>(p.totalGlobalMem) / 1e9, p.l2CacheSize / 1e6, theoretical_gbps);
}

// ---------------------------------------------------------------------------
// Command line: our --heatkit_* flags, removed before Google Benchmark parses.

std::vector<std::int64_t> parse_sizes(std::string_view list) {
  std::vector<std::int64_t> sizes;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string item(list.substr(0, comma));
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value <= 0 ||
        value > static_cast<long long>(std::numeric_limits<std::uint32_t>::max())) {
      throw std::invalid_argument("bad size '" + item + "' in --heatkit_sizes (1 .. 2^32-1)");
    }
    sizes.push_back(value);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (sizes.empty()) throw std::invalid_argument("--heatkit_sizes names no size");
  return sizes;
}

// Parses and removes --heatkit_sizes=, --heatkit_repetitions=, --heatkit_l2=,
// --heatkit_hold=.
void take_settings(int& argc, char** argv) {
  Settings& s = settings();
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value_of = [&](std::string_view flag) -> std::optional<std::string_view> {
      if (!arg.starts_with(flag)) return std::nullopt;
      return arg.substr(flag.size());
    };
    if (const auto v = value_of("--heatkit_sizes=")) {
      s.sizes = parse_sizes(*v);
    } else if (const auto r = value_of("--heatkit_repetitions=")) {
      const std::string text(*r);
      std::size_t used = 0;
      int value = 0;
      try {
        value = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || value < 1) {
        throw std::invalid_argument("bad --heatkit_repetitions '" + text + "' (at least 1)");
      }
      s.repetitions = value;
    } else if (const auto l = value_of("--heatkit_l2=")) {
      if (*l == "cleared") {
        s.flush_l2 = true;
      } else if (*l == "warm") {
        s.flush_l2 = false;
      } else {
        throw std::invalid_argument("bad --heatkit_l2 '" + std::string(*l) + "' (cleared or warm)");
      }
    } else if (const auto h = value_of("--heatkit_hold=")) {
      if (*h == "on") {
        s.hold = true;
      } else if (*h == "off") {
        s.hold = false;
      } else {
        throw std::invalid_argument("bad --heatkit_hold '" + std::string(*h) + "' (on or off)");
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
}

}  // namespace
}  // namespace heatkit::gpu_bench

int main(int argc, char** argv) {
  using namespace heatkit::gpu_bench;
  // Load every kernel when the context is made: with lazy loading, the first
  // launch of a kernel behind a held stream could wait for the hold.
  setenv("CUDA_MODULE_LOADING", "EAGER", 0);
  try {
    take_settings(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heatkit_gpu_bench: %s\n", e.what());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // No GPU (CI): say why and succeed.
  int device_count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&device_count); e != cudaSuccess || device_count == 0) {
    const std::string reason =
        e != cudaSuccess ? std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(e) + " (" +
                               cudaGetErrorString(e) + ")"
                         : std::string("cudaGetDeviceCount found no CUDA device");
    (void)cudaGetLastError();
    std::fprintf(stderr, "heatkit_gpu_bench: no CUDA device: %s\n", reason.c_str());
    return 0;
  }
  // A device this build cannot run (no code for its architecture) is a failure.
  if (const std::string& why = heatkit::gpu::unavailable_reason(); !why.empty()) {
    std::fprintf(stderr, "heatkit_gpu_bench: the CUDA device cannot run heatkit: %s\n", why.c_str());
    return 1;
  }

  int status = 0;
  try {
    context_slot() = std::make_unique<DeviceContext>();
    add_device_context();
    if (const std::string why = guard_disagreement(); !why.empty()) {
      std::fprintf(stderr, "heatkit_gpu_bench: the device passes disagree with the scalar reference: %s\n",
                   why.c_str());
      status = 1;
    } else {
      register_benchmarks();
      benchmark::RunSpecifiedBenchmarks();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heatkit_gpu_bench: %s\n", e.what());
    status = 1;
  }
  // Device memory goes back before the runtime shuts down.
  workbench().release();
  context_slot().reset();
  benchmark::Shutdown();
  return status;
}
