// One heat counter as a value (the seed's `HeatCounter`): the standalone
// counter, and what a registry's `get` returns as a snapshot; and what a tick
// asks the caller to do with a counter (HeatEmission).
#pragma once

#include <cstdint>
#include <optional>

#include <heatkit/decision.h>
#include <heatkit/time.h>

namespace heatkit {

struct CounterState;  // a store slot's state (internal)

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

class HeatCounter {
 public:
  // A fresh counter: zero rate, no prior emission, last_update = now. Throws
  // std::invalid_argument naming `half_life` when it is negative.
  HeatCounter(Duration half_life, Instant now);

  // The counter a store slot holds (for the library and its tests: the
  // state type is internal).
  static HeatCounter from_state(const CounterState& s);

  // Applies decay through `now` without observing a read.
  void decay_to(Instant now) noexcept;
  // Observes a read at `now`: decay, then add one.
  void bump(Instant now) noexcept;
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
