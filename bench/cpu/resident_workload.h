// Bumps of resident keys (single and batched), then inserts at the cap, all on
// one registry of n resident keys per row, built once: the bump benchmarks
// leave it at n resident keys; inserts replace them, so they run last and
// mark the registry spent. Bytes per counter: this registry holds exactly its
// cap.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/cpu/operations.h"

namespace heatkit::bench {

template <class S>
struct ResidentWorkload {
  std::unique_ptr<S> subject;
  std::int64_t now;
  std::size_t cursor = 0;         // next position in the key sequence
  std::uint64_t next_fresh = 0;   // next new key for insert_at_cap
  bool evicted = false;           // inserts have replaced resident keys

  ResidentWorkload(const Factory<S>& make, std::size_t n)
      : subject(make(n)), now(kStart + static_cast<std::int64_t>(n)) {
    fill(*subject, n);
  }
};

template <class S>
ResidentWorkload<S>& resident_workload(const RowInfo& row, std::size_t n, const Factory<S>& make,
                                       bool for_bumps) {
  const std::string keys = row.keys == KeyKind::kBlob ? "blob/" : "";
  const std::string id = "resident/" + keys + row.workload + "/" + std::to_string(n);
  auto build = [&] { return std::make_unique<ResidentWorkload<S>>(make, n); };
  auto* w = &workbench().get<ResidentWorkload<S>>(id, build);
  if (for_bumps && w->evicted) {
    workbench().release();
    w = &workbench().get<ResidentWorkload<S>>(id, build);
  }
  return *w;
}

}  // namespace heatkit::bench
