// columns.h: transfers of whole columns, the device memory check, the
// steady state on the device.
#include "bench/gpu/columns.h"

#include <cstdio>
#include <string>

#include "bench/gpu/device_context.h"
#include "cuda/grid_stride.cuh"

namespace heatkit::gpu_bench {
namespace {

using gpu::blocks_for;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;

__global__ void fill_steady_state_kernel(CounterColumns c, std::int64_t now) {
  for (std::size_t i = first_index(); i < c.size; i += grid_stride()) steady_state_counter(c, i, now);
}

std::string gigabytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", bytes / 1e9);
  return text;
}

}  // namespace

ForwardFrame steady_frame(std::int64_t now) {
  ForwardFrame f;
  f.landmark = now;
  f.started = true;
  f.tick_instant = now;
  f.latest = now;
  f.shortest_half_life = kHalfLife;
  return f;
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

}  // namespace heatkit::gpu_bench
