// The GPU benchmarks' tick shapes (bench/gpu/tick_shapes.h) against the
// scalar reference: the one-pass kernel in every shape the benchmarks time,
// in each of its steps (the forward store's fast tick, with and without a
// shared half-life, and its relayout tick, on forward columns with literal
// counters among them; the literal tick on literal columns), and the
// literal two-pass tick (decide and select, then gather). The store runs
// only the library's shape (cuda_test). Skipped with "no CUDA device:
// <reason>" where none can run the kernels.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "bench/gpu/tick_shapes.h"
#include "cuda/cuda_backend.h"
#include "cuda/device_buffer.h"
#include "cuda/device_passes.h"
#include "forward_agreement.h"
#include "kernel_agreement.h"
#include "thrust/forward_tick.h"

namespace heatkit::test {
namespace {

using gpu::TickStep;
using gpu_bench::TickTile;

class TickShapesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string& reason = gpu::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << "no CUDA device: " << reason;
    }
  }
};

const TickTile kTiles[] = {TickTile::k256x4,         TickTile::k256x8,
                           TickTile::k128x8,         TickTile::k512x2,
                           TickTile::k256x2_pairs,   TickTile::k256x4_streaming,
                           TickTile::k256x2_pairs_streaming};

template <class T>
void copy_up(gpu::DeviceBuffer<T>& to, const std::vector<T>& from, std::size_t n, cudaStream_t s) {
  if (n > 0) {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(to.data(), from.data(), n * sizeof(T), cudaMemcpyHostToDevice, s));
  }
}
template <class T>
void copy_down(std::vector<T>& to, const gpu::DeviceBuffer<T>& from, std::size_t n, cudaStream_t s) {
  if (n > 0) {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(to.data(), from.data(), n * sizeof(T), cudaMemcpyDeviceToHost, s));
  }
}

// Copies host columns [0, c.size) to device columns as they are (literal or
// forward encodings alike), runs `enqueue(columns, stream, scratch)`,
// appends the candidates to `out` and copies the columns back.
template <class Enqueue>
void on_device(Columns& c, std::vector<Candidate>& out, Enqueue&& enqueue) {
  const std::size_t n = c.size;
  gpu::CudaStream stream;
  const cudaStream_t s = stream.get();
  gpu::DeviceBuffer<double> rate(n), last_emitted(n);
  gpu::DeviceBuffer<std::int64_t> last_update(n), half_life(n);
  gpu::DeviceBuffer<std::uint8_t> flags(n);
  copy_up(rate, c.rate, n, s);
  copy_up(last_update, c.last_update, n, s);
  copy_up(last_emitted, c.last_emitted, n, s);
  copy_up(half_life, c.half_life, n, s);
  copy_up(flags, c.flags, n, s);
  const CounterColumns columns{rate.data(),      last_update.data(), last_emitted.data(),
                               half_life.data(), flags.data(),       n};
  gpu::PassScratch scratch;
  enqueue(columns, s, scratch);
  const std::size_t count = gpu::read_selected_count(scratch, s, n);
  const std::size_t base = out.size();
  out.resize(base + count);
  if (count > 0) {
    HEATKIT_CUDA_CHECK(cudaMemcpyAsync(out.data() + base, scratch.candidates.data(),
                                       count * sizeof(Candidate), cudaMemcpyDeviceToHost, s));
  }
  copy_down(c.rate, rate, n, s);
  copy_down(c.last_update, last_update, n, s);
  copy_down(c.last_emitted, last_emitted, n, s);
  copy_down(c.half_life, half_life, n, s);
  copy_down(c.flags, flags, n, s);
  stream.synchronize();
}

void two_pass_tick(Columns& c, const TickParams& p, std::vector<Candidate>& out) {
  on_device(c, out, [&](const CounterColumns& columns, cudaStream_t stream, gpu::PassScratch& scratch) {
    gpu_bench::enqueue_decide_and_select(columns, p, scratch, stream);
    gpu_bench::enqueue_gather_candidates(columns, scratch, c.size, stream);
  });
}

std::vector<std::size_t> shape_sizes() {
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const std::size_t n :
       {1u, 2u, 3u, 127u, 128u, 511u, 512u, 513u, 1023u, 1024u, 1025u, 2047u, 2048u, 2049u, 300'007u}) {
    sizes.push_back(n);
  }
  return sizes;
}

TEST_F(TickShapesTest, literal_two_pass_tick_matches_scalar_reference) {
  std::vector<std::size_t> sizes(std::begin(kSizes), std::end(kSizes));
  for (const std::size_t n : {255u, 256u, 257u, 1023u, 1024u, 1025u, 2'100'003u}) sizes.push_back(n);
  expect_tick_matches_scalar_on_random_columns(two_pass_tick, sizes);
  expect_candidates_when_none_and_all_qualify(4097, two_pass_tick);
  expect_tick_matches_scalar_on_many_counters(1'000'003, two_pass_tick);
}

TEST_F(TickShapesTest, literal_one_pass_tick_with_every_tile_shape_matches_scalar_reference) {
  for (const TickTile tile : kTiles) {
    SCOPED_TRACE("tile shape " + std::to_string(static_cast<int>(tile)));
    const auto tick = [tile](Columns& c, const TickParams& p, std::vector<Candidate>& out) {
      on_device(c, out, [&](const CounterColumns& columns, cudaStream_t stream, gpu::PassScratch& scratch) {
        gpu_bench::enqueue_one_pass_tick(columns, p, forward_pass::TickInputs{}, scratch, stream, tile,
                                         TickStep::kLiteral);
      });
    };
    expect_tick_matches_scalar_on_random_columns(tick, shape_sizes());
    expect_candidates_when_none_and_all_qualify(4097, tick);
  }
}

TEST_F(TickShapesTest, forward_one_pass_ticks_with_every_tile_shape_match_scalar_reference) {
  for (const TickTile tile : kTiles) {
    SCOPED_TRACE("tile shape " + std::to_string(static_cast<int>(tile)));
    for (const ForwardTickKind kind :
         {ForwardTickKind::kFast, ForwardTickKind::kFastShared, ForwardTickKind::kRelayout}) {
      expect_forward_tick_matches_scalar(
          [tile](Columns& c, const ForwardFrame& before, const TickParams& p, std::vector<Candidate>& out) {
            const bool relayout = !forward_tick_allowed(before, p.now);
            forward_pass::TickInputs in;
            if (relayout) {
              in.frame = before;
            } else {
              in = forward_pass::tick_inputs(before, p);
            }
            on_device(c, out, [&](const CounterColumns& columns, cudaStream_t stream, gpu::PassScratch& scratch) {
              gpu_bench::enqueue_one_pass_tick(columns, p, in, scratch, stream, tile,
                                               relayout ? TickStep::kRelayout : TickStep::kForward);
            });
          },
          shape_sizes(), kind);
    }
  }
}

}  // namespace
}  // namespace heatkit::test
