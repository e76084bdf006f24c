// The GPU benchmarks' tick shapes (bench/gpu/tick_shapes.h) against the
// scalar reference: the one-pass kernel in every shape the benchmarks time,
// and the two-pass tick (decide and select, then gather). The store runs only
// the library's shape (cuda_test). Skipped with "no CUDA device: <reason>"
// where none can run the kernels.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "bench/gpu/tick_shapes.h"
#include "cuda/cuda_backend.h"
#include "cuda/device_passes.h"
#include "cuda/device_store.h"
#include "kernel_agreement.h"

namespace heatkit::test {
namespace {

using gpu::DeviceCounterStore;
using gpu::DevicePasses;
using gpu_bench::TickTile;

class TickShapesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string& reason = gpu::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << "no CUDA device: " << reason;
    }
  }
};

// Uploads host columns `c` to a store, runs `enqueue(columns, stream,
// scratch)`, appends the candidates to `out` and downloads the columns back.
template <class Enqueue>
void on_device(Columns& c, std::vector<Candidate>& out, Enqueue&& enqueue) {
  DeviceCounterStore store(DevicePasses::kCudaKernels);
  store.upload(c.view());
  const CounterColumns columns = store.device_columns();
  auto stream = static_cast<cudaStream_t>(store.stream_handle());
  gpu::PassScratch scratch;
  enqueue(columns, stream, scratch);
  const std::size_t count = gpu::read_selected_count(scratch, stream, c.size);
  const std::size_t base = out.size();
  out.resize(base + count);
  if (count > 0) {
    ASSERT_EQ(cudaMemcpy(out.data() + base, scratch.candidates.data(), count * sizeof(Candidate),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
  }
  store.download(c.view());
}

void two_pass_tick(Columns& c, const TickParams& p, std::vector<Candidate>& out) {
  on_device(c, out, [&](const CounterColumns& columns, cudaStream_t stream, gpu::PassScratch& scratch) {
    gpu_bench::enqueue_decide_and_select(columns, p, scratch, stream);
    gpu_bench::enqueue_gather_candidates(columns, scratch, c.size, stream);
  });
}

TEST_F(TickShapesTest, two_pass_tick_matches_scalar_reference) {
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const std::size_t n : {255u, 256u, 257u, 1023u, 1024u, 1025u, 2'100'003u}) sizes.push_back(n);
  expect_tick_matches_scalar_on_random_columns(two_pass_tick, sizes);
  expect_candidates_when_none_and_all_qualify(4097, two_pass_tick);
  expect_tick_matches_scalar_on_many_counters(1'000'003, two_pass_tick);
}

TEST_F(TickShapesTest, one_pass_tick_with_every_tile_shape_matches_scalar_reference) {
  for (const TickTile tile :
       {TickTile::k256x4, TickTile::k256x8, TickTile::k128x8, TickTile::k512x2, TickTile::k256x2_pairs,
        TickTile::k256x4_streaming, TickTile::k256x2_pairs_streaming}) {
    SCOPED_TRACE("tile shape " + std::to_string(static_cast<int>(tile)));
    const auto tick = [tile](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
      on_device(c, out, [&](const CounterColumns& columns, cudaStream_t stream, gpu::PassScratch& scratch) {
        gpu_bench::enqueue_one_pass_tick(columns, p, scratch, stream, tile);
      });
    };
    std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
    for (const std::size_t n :
         {1u, 2u, 3u, 127u, 128u, 511u, 512u, 513u, 1023u, 1024u, 1025u, 2047u, 2048u, 2049u, 300'007u}) {
      sizes.push_back(n);
    }
    expect_tick_matches_scalar_on_random_columns(tick, sizes);
    expect_candidates_when_none_and_all_qualify(4097, tick);
  }
}

}  // namespace
}  // namespace heatkit::test
