// The steady tick state shared by tick_bench.cc (the registry's tick) and
// tick_pass_bench.cc (the store's pass alone): see tick_bench.cc.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>

#include "bench/cpu/operations.h"

namespace heatkit::bench {

inline constexpr std::int64_t kTickStep = kHalfLife / 20 + kHalfLife / 2000;
inline constexpr std::int64_t kPeriodicStep = kHalfLife / 20;
inline constexpr std::int64_t kRefreshAfter = 40 * kHalfLife;

// Counter i's last emission 2^u, u uniform in [0,1) at rate ~1: it first
// qualifies (rate <= last/2) after (1-u) half-lives.
inline double staggered_emission(std::size_t i) {
  return std::exp2(unit_double(counter_random(kSeed, kStaggerStream, i)));
}

template <class S>
struct TickWorkload {
  using Key = typename S::Key;
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t step;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  typename S::Emissions emissions;  // every tick's result, its memory reused

  TickWorkload(const Factory<S>& make, std::size_t counters, std::int64_t tick_step)
      : subject(make(counters)), n(counters), step(tick_step) {
    fill(*subject, n);
    now = kStart + static_cast<std::int64_t>(n);
    stagger();
  }

  void stagger() {
    for (std::size_t i = 0; i < n; ++i) {
      subject->set_last_emitted(as_key<Key>(resident_key(i)), staggered_emission(i), now);
    }
    refreshed_at = now;
  }
  void refresh() {
    for (std::size_t i = 0; i < n; ++i) subject->touch(as_key<Key>(resident_key(i)), now);
    stagger();
  }
  // One tick and its commit; returns the candidates' count.
  std::size_t untimed_tick(const Policy& policy) {
    now += step;
    subject->tick(policy, now, emissions);
    subject->commit(emissions);
    return emissions.size();
  }
  // One half-life of untimed ticks: every candidate after it re-qualifies.
  void settle_on_threshold(const Policy& policy) {
    for (int k = 0; k < 20; ++k) untimed_tick(policy);
  }
};

}  // namespace heatkit::bench
