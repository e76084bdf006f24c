// Highway dynamic dispatch for the tick and prune passes: foreach_target.h
// compiles highway_kernels-inl.h once per target; HWY_EXPORT builds the table.
#include "kernels/highway_kernels.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/highway_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "kernels/highway_kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace heatkit {
namespace HWY_NAMESPACE {

bool TickTarget(const CounterColumns& c, const TickParams& p, std::vector<Candidate>& out) {
  return TickColumns(c, p, out);
}
void CollectPrunableTarget(const CounterColumns& c, std::vector<std::uint32_t>& out) {
  CollectPrunableColumns(c, out);
}
const char* TargetNameHere() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace heatkit
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace heatkit::highway {

HWY_EXPORT(TickTarget);
HWY_EXPORT(CollectPrunableTarget);
HWY_EXPORT(TargetNameHere);

const char* dispatched_target() { return HWY_DYNAMIC_DISPATCH(TargetNameHere)(); }

bool tick(const CounterColumns& columns, const TickParams& params, std::vector<Candidate>& out) {
  return HWY_DYNAMIC_DISPATCH(TickTarget)(columns, params, out);
}

void collect_prunable(const CounterColumns& columns, std::vector<std::uint32_t>& out) {
  HWY_DYNAMIC_DISPATCH(CollectPrunableTarget)(columns, out);
}

std::vector<const char*> compiled_targets() {
  std::vector<const char*> names;
  for (std::int64_t t : hwy::SupportedAndGeneratedTargets()) names.push_back(hwy::TargetName(t));
  return names;
}

const char* chosen_target() {
  // Lower bits are better targets; dispatch picks the best supported one compiled.
  const std::int64_t usable = hwy::SupportedTargets() & HWY_TARGETS;
  return hwy::TargetName(usable & -usable);
}

}  // namespace heatkit::highway
#endif  // HWY_ONCE
