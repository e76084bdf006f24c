// copy_floor/d2d: cudaMemcpyAsync device to device of 24.5 B per counter,
// 49 B read + written per counter: the bytes a tick must move, at the pace
// of the device's own copy. Every tick row's copy_ratio is taken against it.
#include <cmath>

#include "bench/gpu/rows.h"

namespace heatkit::gpu_bench {
namespace {

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

void bench_copy_floor(benchmark::State& state) {
  const std::size_t n = counters_of(state);
  auto& w = workload<CopyWorkload>("copy", n);
  w.enqueue(ctx().s());  // warm-up
  ctx().stream.synchronize();
  IterationTimes times;
  for (auto _ : state) times.add(state, time_on_stream(kAsyncKernels, [&](cudaStream_t s) { w.enqueue(s); }));
  const double iterations = iterations_of(state);
  times.report(state, "ns_per_counter", iterations * static_cast<double>(n));
  state.counters["GBps"] = 2.0 * static_cast<double>(w.bytes) * iterations / times.seconds() / 1e9;
  state.counters["bytes_per_counter"] = kTickBytesPerCounter;
  references().add(ref_key("copy_floor", n), state.iterations(), times.per_iteration(state));
}

}  // namespace

void add_copy_floor_rows(std::int64_t n) { add_row("copy_floor/d2d", n, bench_copy_floor); }

}  // namespace heatkit::gpu_bench
