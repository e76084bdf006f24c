// The correctness guard: the cuda and Thrust passes against the scalar
// reference on one random state, before anything is timed. Tick and prune
// lists and columns must agree (slot and kind exact, rates within 1e-12
// relative). The forward store's passes (each tick kind, the flush of queued
// operations, the prune) on the state stored literally, as an upload stores
// it; the literal passes (the reference rows) on the state as it is.
#include <thrust/system/cuda/execution_policy.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench/gpu/rows.h"
#include "bench/gpu/tick_shapes.h"
#include "cuda/device_ops.h"
#include "cuda/device_passes.h"
#include "kernels/scalar_kernels.h"
#include "math/forward_math.h"
#include "math/slot_ops.h"
#include "thrust/forward_tick.h"
#include "thrust/thrust_passes.h"

namespace heatkit::gpu_bench {
namespace {

// Every row of the gate and the decay: zero, clamped, near-epsilon and
// infinite rates, gaps beyond 64 half-lives and in the future, zero
// half-lives, never emitted, emitted at zero, in flight. No negative rates:
// no counter holds one, and a forward store cannot.
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
    else if (kind < 0.15) rate = 3e-16;
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


// A counter's columns after a decode under `frame` (forward to literal).
void decode_columns(HostColumns& h, const ForwardFrame& frame) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    const LiteralState d = forward_decode(h.rate[i], h.last_update[i], h.half_life[i], frame);
    h.rate[i] = d.rate;
    h.last_update[i] = d.last_update;
  }
}

// Operations queued between two ticks of the forward check: every 7th
// counter decays to an instant before the last tick (stored literally),
// every 11th is bumped after it (forward) and every 13th before it
// (literal).
std::vector<PendingOp> guard_ops(std::size_t n, std::int64_t tick) {
  std::vector<PendingOp> ops;
  for (std::size_t i = 0; i < n; ++i) {
    PendingOp op;
    op.slot = static_cast<std::uint32_t>(i);
    if (i % 7 == 0) {
      op.kind = OpKind::kDecayTo;
      op.now = tick - kHalfLife * 3 / 10;
      ops.push_back(op);
    }
    if (i % 11 == 0) {
      op.kind = OpKind::kBump;
      op.now = tick + kHalfLife / 10;
      ops.push_back(op);
    }
    if (i % 13 == 0) {
      op.kind = OpKind::kBump;
      op.now = tick - kHalfLife / 5;
      ops.push_back(op);
    }
  }
  return ops;
}

// The literal reference of an op (HostCounterStore's, on literal columns).
void apply_literal(const CounterColumns& c, const PendingOp& op) {
  if (op.kind == OpKind::kDecayTo) {
    decay_slot_to(c, op.slot, op.now);
  } else {
    c.rate[op.slot] = bumped_rate(c.rate[op.slot], c.last_update[op.slot], op.now, c.half_life[op.slot]);
    c.last_update[op.slot] = op.now;
  }
}

// The forward store's passes (`thrust`: the Thrust ones, else the kernels)
// against the scalar reference: a relayout tick (some counters were written
// after it), the queued ops, two fast ticks, the prune; candidates after
// each tick, the prune list and the decoded columns at the end.
std::string forward_disagreement(bool thrust, const HostColumns& initial, std::int64_t now) {
  const std::string name = thrust ? "thrust forward" : "cuda forward";
  const std::size_t n = initial.size();
  const cudaStream_t s = ctx().s();
  HostColumns reference = initial;
  HostColumns stored = initial;  // every counter literal: s = -rate
  for (double& r : stored.rate) r = -r;
  ForwardFrame frame;
  gpu::note_literal_upload(frame, reference.view());
  DeviceColumns device(n);
  upload(device, stored, s);
  PassScratch scratch;
  OpScratch op_scratch;
  std::vector<Candidate> want, got;
  const auto policy = thrust::cuda::par.on(s);

  TickParams tracked = tick_params(now);
  tracked.skip_in_flight = tracked.mark_in_flight = true;
  TickParams later = tick_params(now + kHalfLife * 37 / 100);
  TickParams last = tick_params(now + kHalfLife * 59 / 100);
  last.skip_in_flight = last.mark_in_flight = true;
  const TickParams ticks[] = {tracked, later, last};
  for (std::size_t k = 0; k < 3; ++k) {
    const TickParams& params = ticks[k];
    const std::string label = "tick " + std::to_string(k + 1);
    const bool relayout = !forward_tick_allowed(frame, params.now);
    want.clear();
    scalar::tick(reference.view(), params, want);
    std::size_t count = 0;
    if (!thrust) {
      if (relayout) {
        gpu::enqueue_relayout_tick(device.view(), params, frame, scratch, s);
      } else {
        gpu::enqueue_one_pass_tick(device.view(), params, forward_pass::tick_inputs(frame, params),
                                   scratch, s);
      }
      count = gpu::read_selected_count(scratch, s, n);
    } else {
      scratch.decisions.reserve_discarding(n);
      scratch.candidates.reserve_discarding(n);
      const forward_pass::TickInputs in =
          relayout ? forward_pass::TickInputs{frame, 0.0} : forward_pass::tick_inputs(frame, params);
      count = relayout ? thrust_passes::decide_relayout(policy, device.view(), params, frame,
                                                        scratch.decisions.data())
                       : thrust_passes::decide_forward(policy, device.view(), params, in,
                                                       scratch.decisions.data());
      if (count > n) return name + " " + label + ": more candidates than counters";
      if (relayout) {
        thrust_passes::compact_candidates(policy, device.view(), scratch.decisions.data(),
                                          scratch.candidates.data());
      } else {
        thrust_passes::compact_forward_candidates(policy, device.view(), params, in,
                                                  scratch.decisions.data(),
                                                  scratch.candidates.data());
      }
    }
    copy_to_host(got, scratch.candidates.data(), count, s);
    HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
    if (std::string why = compare_candidates(got, want); !why.empty()) {
      return name + " " + label + (relayout ? " (relayout)" : " (fast)") + ": " + why;
    }
    if (relayout != (k == 0)) {
      return name + " " + label + (k == 0 ? ": the first tick should be a relayout (writes after it)"
                                          : ": a relayout where the fast tick should run");
    }
    forward_after_tick(frame, params.now, relayout);
    if (k == 0) {
      // Queued operations between ticks 1 and 2, applied by the flush.
      const std::vector<PendingOp> ops = guard_ops(n, params.now);
      for (const PendingOp& op : ops) {
        apply_literal(reference.view(), op);
        gpu::note_queued(frame, op);
      }
      op_scratch.ops.reserve_discarding(ops.size());
      HEATKIT_CUDA_CHECK(cudaMemcpyAsync(op_scratch.ops.data(), ops.data(),
                                         ops.size() * sizeof(PendingOp), cudaMemcpyHostToDevice, s));
      gpu::enqueue_apply_ops(device.view(), frame, ops.size(), op_scratch, s);
      HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
    }
  }

  std::vector<std::uint32_t> want_prunable, got_prunable;
  scalar::collect_prunable(reference.view(), want_prunable);
  if (!thrust) {
    gpu::enqueue_select_prunable(device.view(), frame, scratch, s);
    copy_to_host(got_prunable, scratch.selected.data(), gpu::read_selected_count(scratch, s, n), s);
  } else {
    const std::size_t count = thrust_passes::count_forward_prunable(policy, device.view(), frame);
    if (count > n) return name + " prune: more slots than counters";
    scratch.selected.reserve_discarding(std::max<std::size_t>(count, 1));
    thrust_passes::compact_forward_prunable(policy, device.view(), frame, scratch.selected.data());
    copy_to_host(got_prunable, scratch.selected.data(), count, s);
  }
  HEATKIT_CUDA_CHECK(cudaStreamSynchronize(s));
  if (want_prunable.empty()) return "the guard's forward check prunes nothing (fix the guard)";
  if (got_prunable != want_prunable) {
    return name + " prune selection: " + std::to_string(got_prunable.size()) +
           " slots, the reference has " + std::to_string(want_prunable.size()) + " (or others)";
  }
  HostColumns after = download(device, s);
  decode_columns(after, frame);
  if (std::string why = compare_columns(after, reference); !why.empty()) return name + ": " + why;
  return {};
}

}  // namespace

// Why the device passes disagree with the scalar reference, or empty.
std::string guard_disagreement() {
  const std::size_t n = kGuardCounters;
  const std::int64_t now = kStart + 100 * kHalfLife;
  TickParams tracked = tick_params(now);
  tracked.skip_in_flight = true;
  tracked.mark_in_flight = true;
  const TickParams plain = tick_params(now + kHalfLife * 37 / 100);

  HostColumns initial = random_guard_state(n, now);
  for (const bool thrust : {false, true}) {
    if (std::string why = forward_disagreement(thrust, initial, now); !why.empty()) return why;
  }

  // The literal passes (the reference rows) on the state as it is.
  HostColumns reference = initial;
  std::vector<Candidate> want_tracked, want_plain;
  scalar::tick(reference.view(), tracked, want_tracked);
  scalar::tick(reference.view(), plain, want_plain);
  if (want_tracked.empty() || want_plain.empty()) {
    return "the guard's random state selects nothing (fix the guard)";
  }

  const cudaStream_t s = ctx().s();
  DeviceColumns device(n);
  PassScratch scratch;
  std::vector<Candidate> got;

  // cuda, both ticks (capacity n, as the benchmark runs them).
  for (const bool one_pass : {true, false}) {
    const std::string name = one_pass ? "cuda literal one-pass tick" : "cuda literal two-pass tick";
    upload(device, initial, s);
    for (const auto& [params, want, tracking] :
         {std::tuple{tracked, &want_tracked, " with in-flight tracking"},
          std::tuple{plain, &want_plain, " without in-flight tracking"}}) {
      if (one_pass) {
        enqueue_one_pass_tick(device.view(), params, forward_pass::TickInputs{}, scratch, s,
                              TickTile::k256x4, gpu::TickStep::kLiteral);
      } else {
        enqueue_decide_and_select(device.view(), params, scratch, s);
        enqueue_gather_candidates(device.view(), scratch, n, s);
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

  // Thrust's literal tick.
  upload(device, initial, s);
  scratch.decisions.reserve_discarding(n);
  scratch.candidates.reserve_discarding(n);
  const auto policy = thrust::cuda::par.on(s);
  for (const auto& [params, want, label] :
       {std::tuple{tracked, &want_tracked, "thrust literal tick with in-flight tracking"},
        std::tuple{plain, &want_plain, "thrust literal tick without in-flight tracking"}}) {
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
  if (std::string why = compare_columns(after, reference); !why.empty()) return "thrust literal ticks: " + why;
  return {};
}

}  // namespace heatkit::gpu_bench
