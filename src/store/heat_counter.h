// One heat counter as a value (the seed's `HeatCounter`): the standalone
// counter, and what the registry's `get` returns as a snapshot.
#pragma once

#include <optional>
#include <stdexcept>

#include "store/counter_store.h"
#include "math/counter_math.h"
#include <heatkit/time.h>

namespace heatkit {

// What a tick asks the caller to do with one counter.
struct HeatEmission {
  Decision kind = Decision::kSuppress;
  double rate = 0.0;  // the rate to announce (kEmit only)

  static constexpr HeatEmission suppress() noexcept { return {}; }
  static constexpr HeatEmission emit(double rate) noexcept { return {Decision::kEmit, rate}; }
  static constexpr HeatEmission withdraw() noexcept { return {Decision::kWithdraw, 0.0}; }
  constexpr bool is_emit() const noexcept { return kind == Decision::kEmit; }
  constexpr bool is_withdraw() const noexcept { return kind == Decision::kWithdraw; }
  friend bool operator==(const HeatEmission&, const HeatEmission&) = default;
};

// Throws std::invalid_argument naming `half_life` when it is negative.
inline void check_half_life(Duration half_life) {
  if (half_life.count() < 0) {
    throw std::invalid_argument("half_life must not be negative, got " +
                                std::to_string(half_life.count()) + " ns");
  }
}

class HeatCounter {
 public:
  // A fresh counter: zero rate, no prior emission, last_update = now.
  HeatCounter(Duration half_life, Instant now)
      : half_life_(to_ns(half_life)), last_update_(to_ns(now)) {
    check_half_life(half_life);
  }

  // The counter a store slot holds.
  static HeatCounter from_state(const CounterState& s) {
    HeatCounter c(Duration(s.half_life), instant_from_ns(s.last_update));
    c.rate_ = s.rate;
    if (s.has_emitted) c.last_emitted_ = s.last_emitted;
    return c;
  }

  // Applies decay through `now` without observing a read.
  void decay_to(Instant now) noexcept {
    rate_ = decayed_rate(rate_, last_update_, to_ns(now), half_life_);
    last_update_ = to_ns(now);
  }
  // Observes a read at `now`: decay, then add one.
  void bump(Instant now) noexcept {
    decay_to(now);
    rate_ += 1.0;
  }
  void record_emission(double rate) noexcept { last_emitted_ = rate; }
  void record_withdrawal() noexcept { last_emitted_ = 0.0; }

  double rate() const noexcept { return rate_; }
  std::optional<double> last_emitted() const noexcept { return last_emitted_; }
  Duration half_life() const noexcept { return Duration(half_life_); }
  Instant last_update() const noexcept { return instant_from_ns(last_update_); }

 private:
  double rate_ = 0.0;
  std::int64_t half_life_;
  std::int64_t last_update_;
  std::optional<double> last_emitted_;
};

}  // namespace heatkit
