// A tick's result: the store's candidates (slot, decision, rate) turned into
// (key, emission) pairs, in slot order, on several threads when large.
#pragma once

#include <algorithm>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "math/counter_math.h"
#include "registry/scratch.h"
#include "store/heat_counter.h"
#include "util/thread_pool.h"

namespace heatkit {

// How far ahead the conversion prefetches keys: about a microsecond of
// candidates here, over one memory latency (160 and 320 did alike).
inline constexpr std::size_t kEmissionKeysAhead = 160;
// Below this many candidates per thread, waking the pool costs more than it saves.
inline constexpr std::size_t kMinEmissionsPerThread = std::size_t{1} << 14;

// Each candidate with its key, in `out` (replacing its contents, reusing its
// memory). `keys` is a copyable reader of the slots' keys (KeyRecords::Reader:
// keys[slot], keys.prefetch(slot)); `threads` as for the passes (0 = every
// hardware thread). Looking up the keys is most of the cost (a read of the
// key column at every twentieth slot or so, which the hardware prefetcher
// cannot follow), so a large result is converted on the pass threads, each
// its own range.
template <class Key, class KeyReader>
void emissions_of(std::span<const Candidate> candidates, KeyReader keys, unsigned threads,
                  std::vector<std::pair<Key, HeatEmission>>& out) {
  const std::size_t n = candidates.size();
  const std::size_t parts = std::min<std::size_t>(resolve_threads(threads), n / kMinEmissionsPerThread);
  // Writing through plain pointers (rather than push_back, whose end
  // pointer might alias the keys) lets the loads of the next keys go ahead
  // of the stores.
  resize_for_overwrite(out, n);
  const Candidate* from = candidates.data();
  auto* to = out.data();
  const auto convert = [=](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      // The keys are read ascending but sparsely, which the hardware
      // prefetcher does not follow: ask for them kEmissionKeysAhead candidates early.
      if (i + kEmissionKeysAhead < end) keys.prefetch(from[i + kEmissionKeysAhead].slot);
      const Candidate& c = from[i];
      to[i].first = keys[c.slot];
      to[i].second = c.kind == Decision::kEmit ? HeatEmission::emit(c.rate) : HeatEmission::withdraw();
    }
  };
  if (parts <= 1) {
    convert(0, n);
    return;
  }
  const std::size_t per_part = (n + parts - 1) / parts;
  ThreadPool::shared().run(parts, static_cast<unsigned>(parts), [&](std::size_t k) {
    convert(k * per_part, std::min(n, (k + 1) * per_part));
  });
}

}  // namespace heatkit
