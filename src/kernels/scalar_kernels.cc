#include "kernels/scalar_kernels.h"

#include "util/try_append.h"

namespace heatkit::scalar {

bool tick(const CounterColumns& c, const TickParams& params, std::vector<Candidate>& out) {
  bool kept = true;
  for (std::size_t i = 0; i < c.size; ++i) {
    const Decision d =
        tick_one(c.rate[i], c.last_update[i], c.last_emitted[i], c.half_life[i], c.flags[i], params);
    if (d != Decision::kSuppress && kept) {
      kept = try_push_back(out, Candidate{static_cast<std::uint32_t>(i), d, d == Decision::kEmit ? c.rate[i] : 0.0});
    }
  }
  return kept;
}

void collect_prunable(const CounterColumns& c, std::vector<std::uint32_t>& out) {
  for (std::size_t i = 0; i < c.size; ++i) {
    if (is_prunable(c.rate[i], (c.flags[i] & kHasEmitted) != 0, c.last_emitted[i])) {
      out.push_back(static_cast<std::uint32_t>(i));
    }
  }
}

}  // namespace heatkit::scalar
