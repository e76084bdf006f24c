// Compiled with THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP and OpenMP (see
// cuda/CMakeLists.txt): thrust::omp::par runs each pass on an OpenMP team.
#include "thrust/thrust_omp_kernels.h"

#include <omp.h>

#include <new>
#include <stdexcept>

#include <thrust/system/omp/execution_policy.h>

#include "math/forward_math.h"
#include "thrust/forward_tick.h"
#include "thrust/thrust_passes.h"
#include "util/thread_pool.h"

namespace heatkit::thrust_omp {
namespace {

// The decision bytes of the last pass, kept per calling thread so a steady
// stream of ticks does not map fresh pages each time.
std::vector<Decision>& decision_scratch(std::size_t n) {
  thread_local std::vector<Decision> scratch;
  if (scratch.size() < n) {
    scratch.clear();
    scratch.shrink_to_fit();
    scratch.resize(n);
  }
  return scratch;
}

// Team size for the next parallel regions started by this thread: the
// registry's rule (resolve_threads), so never more than the hardware threads.
// An OpenMP team is started as asked, and a larger one only oversubscribes
// the cores, or cannot start under a memory limit (libgomp then exits).
void use_threads(unsigned threads) { omp_set_num_threads(static_cast<int>(resolve_threads(threads))); }

}  // namespace

// After the decision pass has changed the columns, a failure (no memory for
// the candidates, or for Thrust's own temporaries) must not stop the tick:
// it has run over every counter, and only its list is lost.
bool tick(const CounterColumns& c, const TickParams& params, std::vector<Candidate>& out,
          unsigned threads) {
  if (c.size == 0) return true;
  std::vector<Decision>& decisions = decision_scratch(c.size);  // nothing changed if it throws
  const std::size_t base = out.size();
  if (c.frame == nullptr) {
    use_threads(threads);
    try {
      const std::size_t count = thrust_passes::decide(thrust::omp::par, c, params, decisions.data());
      out.resize(base + count);
      thrust_passes::compact_candidates(thrust::omp::par, c, decisions.data(), out.data() + base);
    } catch (const std::bad_alloc&) {
      out.erase(out.begin() + static_cast<std::ptrdiff_t>(base), out.end());
      return false;
    }
    return true;
  }
  // The frame is read, never changed: the store runs forward_after_tick.
  const ForwardFrame frame = *c.frame;
  if (!forward_tick_allowed(frame, params.now)) {
    throw std::logic_error(
        "thrust-omp tick: the fast forward tick is not allowed at this instant (the store "
        "relayouts instead)");
  }
  use_threads(threads);
  const forward_pass::TickInputs in = forward_pass::tick_inputs(frame, params);
  try {
    const std::size_t count =
        thrust_passes::decide_forward(thrust::omp::par, c, params, in, decisions.data());
    out.resize(base + count);
    thrust_passes::compact_forward_candidates(thrust::omp::par, c, params, in, decisions.data(),
                                              out.data() + base);
  } catch (const std::bad_alloc&) {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(base), out.end());
    return false;
  }
  return true;
}

void collect_prunable(const CounterColumns& c, std::vector<std::uint32_t>& out, unsigned threads) {
  if (c.size == 0) return;
  use_threads(threads);
  const std::size_t base = out.size();
  if (c.frame == nullptr) {
    const std::size_t count = thrust_passes::count_prunable(thrust::omp::par, c);
    out.resize(base + count);
    thrust_passes::compact_prunable(thrust::omp::par, c, out.data() + base);
  } else {
    const ForwardFrame frame = *c.frame;
    const std::size_t count = thrust_passes::count_forward_prunable(thrust::omp::par, c, frame);
    out.resize(base + count);
    thrust_passes::compact_forward_prunable(thrust::omp::par, c, frame, out.data() + base);
  }
}

}  // namespace heatkit::thrust_omp
