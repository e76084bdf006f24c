// tick_workload.h: the steady tick state's passes and untimed commits.
#include "bench/gpu/tick_workload.h"

#include <thrust/system/cuda/execution_policy.h>

#include <cstdio>
#include <stdexcept>

#include "bench/gpu/device_context.h"
#include "cuda/grid_stride.cuh"
#include "thrust/forward_tick.h"
#include "thrust/thrust_passes.h"

namespace heatkit::gpu_bench {
namespace {

using gpu::blocks_for;
using gpu::first_index;
using gpu::grid_stride;
using gpu::kBlockSize;

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
    gpu::apply_op(c, ForwardFrame{}, op);  // a record reads no frame
  }
}

}  // namespace

TickWorkload::TickWorkload(Representation r, std::size_t counters)
    : representation(r), n(prepare(counters)), columns(counters) {
  refresh();
  // The first tick, untimed: grows the scratch and checks the share.
  const TickParams p = next_params();
  if (representation == Representation::kForward) {
    enqueue_cuda_forward_tick(p, ctx().s());
  } else {
    enqueue_cuda_one_pass_tick(p, ctx().s());
  }
  const std::size_t count = commit_device_count();
  std::fprintf(stderr,
               "heatkit_gpu_bench: %s tick workload of %zu counters: the first tick selected %zu "
               "candidates (%.2f%%)\n",
               representation == Representation::kForward ? "forward" : "literal", n, count,
               100.0 * static_cast<double>(count) / static_cast<double>(n));
}

void TickWorkload::enqueue_cuda_one_pass_tick(const TickParams& p, cudaStream_t s,
                                              std::optional<TickTile> tile) {
  gpu_bench::enqueue_one_pass_tick(columns.view(), p, forward_pass::TickInputs{}, scratch, s,
                                   tile.value_or(TickTile::k256x4), gpu::TickStep::kLiteral);
}

void TickWorkload::enqueue_cuda_forward_tick(const TickParams& p, cudaStream_t s,
                                             std::optional<TickTile> tile) {
  const forward_pass::TickInputs in = forward_pass::tick_inputs(frame, p);
  if (tile) {
    gpu_bench::enqueue_one_pass_tick(columns.view(), p, in, scratch, s, *tile,
                                     gpu::TickStep::kForward);
  } else {
    gpu::enqueue_one_pass_tick(columns.view(), p, in, scratch, s);
  }
  forward_after_tick(frame, p.now, false);
}

void TickWorkload::enqueue_cuda_relayout_tick(const TickParams& p, cudaStream_t s) {
  gpu::enqueue_relayout_tick(columns.view(), p, frame, scratch, s);
  forward_after_tick(frame, p.now, true);
}

std::size_t TickWorkload::thrust_forward_tick(const TickParams& p, cudaStream_t s) {
  scratch.decisions.reserve_discarding(n);
  scratch.candidates.reserve_discarding(n);
  const auto policy = thrust::cuda::par.on(s);
  const forward_pass::TickInputs in = forward_pass::tick_inputs(frame, p);
  const std::size_t count =
      thrust_passes::decide_forward(policy, columns.view(), p, in, scratch.decisions.data());
  if (count > n) throw std::logic_error("thrust decide_forward counted more candidates than counters");
  if (count > 0) {
    thrust_passes::compact_forward_candidates(policy, columns.view(), p, in,
                                              scratch.decisions.data(), scratch.candidates.data());
  }
  forward_after_tick(frame, p.now, false);
  return count;
}

void TickWorkload::enqueue_cuda_two_pass_tick(const TickParams& p, cudaStream_t s) {
  enqueue_decide_and_select(columns.view(), p, scratch, s);
  enqueue_gather_candidates(columns.view(), scratch, n, s);
}

std::size_t TickWorkload::thrust_tick(const TickParams& p, cudaStream_t s) {
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

std::size_t TickWorkload::commit_device_count() {
  commit_candidates_kernel<<<blocks_for(n), kBlockSize, 0, ctx().s()>>>(
      columns.view(), scratch.candidates.data(), scratch.count.data(), 0);
  HEATKIT_CUDA_CHECK_LAUNCH("commit_candidates_kernel");
  return gpu::read_selected_count(scratch, ctx().s(), n);  // waits
}

void TickWorkload::commit_host_count(std::size_t count) {
  if (count > 0) {
    commit_candidates_kernel<<<blocks_for(count), kBlockSize, 0, ctx().s()>>>(
        columns.view(), scratch.candidates.data(), nullptr, count);
    HEATKIT_CUDA_CHECK_LAUNCH("commit_candidates_kernel");
  }
  ctx().stream.synchronize();
}

}  // namespace heatkit::gpu_bench
