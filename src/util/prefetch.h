// Software prefetches of the host paths (batch bumps, the tick's key
// conversion). They ask for lines into L2, not L1 (locality 2: x86's
// prefetcht1): a prefetch into L1 holds one of the core's few L1 miss
// buffers until its line arrives, which capped the misses in flight. Into L2
// the batch bump of 1M uniform keys took 40 ns per key instead of 56-67, and
// the conversion of a 10M tick's candidates 2.8 ms instead of 4.5
// (docs/PERFORMANCE.md).
//
// Forced inline: GCC takes a function whose only statement is a prefetch for
// one without effects, and where it does not inline a call to one it may
// delete the call, prefetch and all. Seen when the batch loop's other steps
// were forced inline around plain-inline helpers: 17 of its 25 prefetches
// were gone and a batched key took 76 ns instead of 25.
#pragma once

namespace heatkit {

[[gnu::always_inline]] inline void prefetch_for_read(const void* p) noexcept {
  __builtin_prefetch(p, 0, 2);
}
[[gnu::always_inline]] inline void prefetch_for_write(const void* p) noexcept {
  __builtin_prefetch(p, 1, 2);
}

}  // namespace heatkit
