// heatkit_gpu_bench's device: its one benchmark stream, the CUDA-event timer,
// the stream hold and the L2 clearing (main.cu's header comment: Timing).
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <memory>
#include <stdexcept>

#include "bench/gpu/settings.h"
#include "cuda/cuda_error.h"
#include "cuda/device_buffer.h"

namespace heatkit::gpu_bench {

using gpu::CudaStream;
using gpu::DeviceBuffer;

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

// Holds a stream on the device until the host has enqueued the timed work
// (main.cu's header comment). Never used around work that waits for the
// stream: that would wait for the hold, which gives up after a second and
// makes the row fail instead of hanging.
class StreamHold {
 public:
  static constexpr unsigned long long kTimeoutNs = 1'000'000'000;

  StreamHold();
  StreamHold(const StreamHold&) = delete;
  StreamHold& operator=(const StreamHold&) = delete;
  ~StreamHold() { (void)cudaFreeHost(const_cast<int*>(flags_)); }

  void hold(cudaStream_t stream);
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

  DeviceContext();

  cudaStream_t s() const noexcept { return stream.get(); }

  // Untimed: evicts the columns from L2 (unless --heatkit_l2=warm).
  void clear_l2();
};

// The context of the run (main makes it once the device is known to work).
std::unique_ptr<DeviceContext>& context_slot();
inline DeviceContext& ctx() { return *context_slot(); }

// How a timed region runs (main.cu's header comment).
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

}  // namespace heatkit::gpu_bench
