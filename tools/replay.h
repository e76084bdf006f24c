// The replay engine of `heatkit replay`: runs a heat trace's operations
// against a HeatRegistry (or BlobHeatRegistry) and prints what the registry answered, in the
// output format of docs/TRACE_FORMAT.md. A library so that tests and the fuzz
// target drive it without the executable.
//
// `bump` and `touch` get-or-create with the policy's half-life; the registry
// takes its cap and in-flight tracking from the header, its backend from the
// options. `tick` prints its candidates sorted by key (u64 keys numerically,
// blob keys bytewise, which is the order of their lowercase hex).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "tools/trace.h"
#include <heatkit/backend.h>
#include <heatkit/heat_counter.h>
#include <heatkit/registry.h>

namespace heatkit::trace {

struct ReplayOptions {
  // The registry's backend (<heatkit/backend.h>).
  std::string backend = std::string(default_backend());
  // When non-zero, the largest cap a trace gets: bigger and unbounded caps are
  // lowered to it. The fuzz target uses it to keep registries small; `heatkit
  // replay` leaves it at 0.
  std::size_t max_cap = 0;
};

// Replays the trace read from `in`, writing each operation's answer to `out`
// as that operation runs. Throws UnknownBackend or BackendUnavailable before
// reading anything, TraceError at the first malformed line and TraceReadError
// at a failed read; that line has not run, and `out` holds the answers of
// every line before it. Once `out` fails (a write error: a full disk, a
// closed descriptor) it returns without reading another line: the caller
// checks `out`, as after any write.
void replay(std::istream& in, std::ostream& out, const ReplayOptions& options = {});

// A rate, a last emission or any other number as output prints it: the
// shortest form that reads back to the same double.
std::string format_number(double value);

// The pieces a replay shares with tools/distributed_replay.h, so that both
// print the same bytes.

// The registry a trace asks for: its header's cap (lowered to
// options.max_cap) and in-flight tracking, the options' backend.
RegistryOptions registry_options(const TraceHeader& header, const ReplayOptions& options);

// Prints `tick T N` and one line per candidate, after sorting `candidates`
// by key (keys are unique within one tick, so the order is total).
template <class Key>
void print_tick(std::ostream& out, std::int64_t time,
                std::vector<std::pair<Key, HeatEmission>>& candidates);
extern template void print_tick(std::ostream&, std::int64_t,
                                std::vector<std::pair<std::uint64_t, HeatEmission>>&);
extern template void print_tick(std::ostream&, std::int64_t,
                                std::vector<std::pair<BlobKey, HeatEmission>>&);

// What `commit` and `commit KEY...` commit: every candidate of `last_tick`
// when no key is named, else those whose keys are `named` (keys with no
// candidate are ignored), in the order of `last_tick`.
template <class Key>
std::vector<std::pair<Key, HeatEmission>> named_candidates(
    const std::vector<std::pair<Key, HeatEmission>>& last_tick, const std::vector<TraceKey>& named) {
  if (named.empty()) return last_tick;
  std::vector<Key> keys;
  keys.reserve(named.size());
  for (const TraceKey& k : named) keys.push_back(std::get<Key>(k));
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<Key, HeatEmission>> selected;
  for (const auto& candidate : last_tick) {
    if (std::binary_search(keys.begin(), keys.end(), candidate.first)) selected.push_back(candidate);
  }
  return selected;
}

// Prints `get KEY absent` or `get KEY RATE LAST T_UPDATE`.
void print_get(std::ostream& out, const TraceKey& key, const std::optional<HeatCounter>& counter);

}  // namespace heatkit::trace
