// The registry's scratch vectors (a tick's candidates and result, a commit's
// prunable slots): sized for overwriting, and given back after a rare mass
// tick or prune once later calls barely use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "util/huge_page_allocator.h"

namespace heatkit {

// Resizes `out` to `n` elements, every one of which the caller overwrites
// next (a tick's result). Growing past its capacity reallocates it empty (the
// old elements are not copied) and asks for huge pages before it is first
// written: a mass withdrawal's result is as big as the columns, and with base
// pages faulting it in costs more than filling it. Otherwise the elements it
// has are kept, so only growth writes defaults.
template <class T>
void resize_for_overwrite(std::vector<T>& out, std::size_t n) {
  if (out.capacity() < n) {
    std::vector<T>().swap(out);
    out.reserve(n);
    advise_huge_pages(out.data(), out.capacity() * sizeof(T));
  }
  out.resize(n);
}

// Scratch grown by a rare mass emission or prune is given back once it has
// stayed mostly unused for kScratchPatience calls in a row, so the
// registry's memory returns to proportional to its counters (where few
// counters are candidates), while a run of mass ticks reuses it instead of
// faulting it in again on every tick.
inline constexpr std::uint32_t kScratchPatience = 8;

// Called after each use of `scratch` in a store of `slot_count` slots:
// oversized means above 4096 elements and a sixteenth of the slots, mostly
// unused means a quarter or less of its capacity. `idle_calls` counts the
// calls in a row that found it both (one counter per scratch vector).
template <class T>
void trim_scratch(std::vector<T>& scratch, std::uint32_t& idle_calls, std::size_t slot_count) {
  const bool oversized = scratch.capacity() > 4096 && scratch.capacity() > slot_count / 16;
  if (!oversized || scratch.size() > scratch.capacity() / 4) {
    idle_calls = 0;
  } else if (++idle_calls >= kScratchPatience) {
    std::vector<T>().swap(scratch);
    idle_calls = 0;
  }
}

}  // namespace heatkit
