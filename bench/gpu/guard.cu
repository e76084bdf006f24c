// The correctness guard: the cuda and Thrust passes against the scalar
// reference on one random state, before anything is timed. Tick and prune
// lists and columns must agree (slot and kind exact, rates within 1e-12
// relative).
#include <thrust/system/cuda/execution_policy.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "bench/gpu/rows.h"
#include "bench/gpu/tick_shapes.h"
#include "cuda/device_passes.h"
#include "kernels/scalar_kernels.h"
#include "thrust/thrust_passes.h"

namespace heatkit::gpu_bench {
namespace {

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

}  // namespace heatkit::gpu_bench
