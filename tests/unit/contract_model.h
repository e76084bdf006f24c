// SEMANTICS.md written out as plainly as it reads, for tests that hold the
// library to it: a counter of plain fields with its own decay (std::exp2, not
// the library's decay_factor), the emission gate row by row, and a registry
// that is a std::map of such counters with a bump-order number, a full scan
// for the eviction victim, an explicit in-flight flag and the prune rule.
// Nothing here calls the library's math or registry code; only its plain
// value types (Policy, HeatEmission, Duration, Instant) carry the answers.
//
// Backends compute 0.5^h with their own rounding, so the model's rates agree
// with a registry's within SEMANTICS.md "Numbers" (rates_agree), not bit for
// bit; a decision may differ only at a tie (at_a_tie says where).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "store/heat_counter.h"
#include <heatkit/policy.h>
#include <heatkit/time.h>

namespace heatkit::test::contract {

// SEMANTICS.md "Counter": decayed rates below f64 epsilon snap to zero.
inline constexpr double kEpsilon = 2.220446049250313e-16;
// SEMANTICS.md "Numbers": the relative difference that is still agreement.
inline constexpr double kTolerance = 1e-12;

// Two rates agree: equal, or within kTolerance of each other, relative.
inline bool rates_agree(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b || std::fabs(a - b) <= kTolerance * std::max(std::fabs(a), std::fabs(b));
}

// SEMANTICS.md "Counter".
struct Counter {
  double rate = 0.0;
  std::int64_t last_update = 0;  // ns
  std::optional<double> last_emitted;
  std::int64_t half_life = 0;  // ns

  void decay_to(std::int64_t now) {
    if (half_life != 0 && rate != 0.0) {
      // Saturating: an earlier `now` is zero elapsed. Unsigned, so that any
      // two instants have a defined difference.
      const std::uint64_t elapsed =
          now > last_update ? static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(last_update)
                            : 0;
      const double h = static_cast<double>(elapsed) / static_cast<double>(half_life);
      if (h > 64.0) {
        rate = 0.0;
      } else {
        rate *= std::exp2(-h);
        if (rate < kEpsilon) rate = 0.0;
      }
    }
    last_update = now;
  }
  void bump(std::int64_t now) {
    decay_to(now);
    rate += 1.0;
  }
};

// SEMANTICS.md "Emission gate", in its order; nothing for Suppress.
inline std::optional<HeatEmission> gate(double rate, std::optional<double> prev, const Policy& policy) {
  if (!policy.enabled) return std::nullopt;
  if (!std::isfinite(rate) || rate < 0.0) return std::nullopt;
  if (!prev) {
    if (rate > 0.0) return HeatEmission::emit(rate);
    return std::nullopt;
  }
  if (rate == 0.0) {
    if (*prev > 0.0) return HeatEmission::withdraw();
    return std::nullopt;
  }
  if (*prev <= 0.0) return HeatEmission::emit(rate);
  const double ratio = static_cast<double>(policy.emit_threshold_ratio);
  if (rate / *prev >= ratio || *prev / rate >= ratio) return HeatEmission::emit(rate);
  return std::nullopt;
}

// Whether SEMANTICS.md "Numbers" lets a backend decide this counter either
// way: its rate within kTolerance of epsilon, or its ratio to the last
// emission within kTolerance of the policy's ratio. For failure messages: a
// mismatch there is a tie the test's draws ran into, not a bug.
inline bool at_a_tie(double rate, std::optional<double> prev, const Policy& policy) {
  if (std::fabs(rate - kEpsilon) <= kTolerance * kEpsilon) return true;
  if (!prev || !(*prev > 0.0) || !(rate > 0.0) || !std::isfinite(rate)) return false;
  const double ratio = static_cast<double>(policy.emit_threshold_ratio);
  return std::fabs(std::max(rate / *prev, *prev / rate) / ratio - 1.0) <= kTolerance;
}

// SEMANTICS.md "Registry", one registry (or one shard of a sharded one, with
// that shard's cap). Ticks return their candidates in key order: the model
// knows nothing of slots.
template <class Key>
class Registry {
 public:
  struct Entry {
    Counter counter;
    std::uint64_t last_use = 0;  // call order of the last bump, or of the creation
    bool in_flight = false;
  };
  using Emissions = std::vector<std::pair<Key, HeatEmission>>;

  Registry(std::size_t cap, bool track_in_flight) : cap_(cap), tracking_(track_in_flight) {}

  // entry(key, half_life, now): get-or-create. A new key at the cap first
  // evicts the smallest (last_update, last_use). An existing key keeps its
  // half-life.
  Entry& entry(const Key& key, std::int64_t half_life, std::int64_t now) {
    if (const auto it = entries_.find(key); it != entries_.end()) return it->second;
    if (cap_ > 0 && entries_.size() >= cap_) {
      auto victim = entries_.begin();
      for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const Entry& e = it->second;
        const Entry& v = victim->second;
        if (e.counter.last_update < v.counter.last_update ||
            (e.counter.last_update == v.counter.last_update && e.last_use < v.last_use)) {
          victim = it;
        }
      }
      entries_.erase(victim);  // its in-flight mark goes with it
      ++evictions_;
    }
    Entry fresh;
    fresh.counter.last_update = now;
    fresh.counter.half_life = half_life;
    fresh.last_use = next_use_++;
    return entries_.emplace(key, fresh).first->second;
  }
  Entry& entry(const Key& key, Duration half_life, Instant now) {
    return entry(key, to_ns(half_life), to_ns(now));
  }

  // entry(key, half_life, created).bump(at).
  Entry& bump(const Key& key, std::int64_t half_life, std::int64_t created, std::int64_t at) {
    Entry& e = entry(key, half_life, created);
    e.counter.bump(at);
    e.last_use = next_use_++;
    return e;
  }
  Entry& bump(const Key& key, Duration half_life, Instant created, Instant at) {
    return bump(key, to_ns(half_life), to_ns(created), to_ns(at));
  }
  Entry& bump(const Key& key, Duration half_life, Instant at) { return bump(key, half_life, at, at); }

  // Decays every counter to `now`, then asks the gate; with in-flight
  // tracking, skips counters in flight and marks every returned one.
  Emissions tick(const Policy& policy, std::int64_t now) {
    Emissions out;
    for (auto& [key, e] : entries_) {
      e.counter.decay_to(now);
      if (tracking_ && e.in_flight) continue;
      if (const auto emission = gate(e.counter.rate, e.counter.last_emitted, policy)) {
        out.emplace_back(key, *emission);
        if (tracking_) e.in_flight = true;
      }
    }
    return out;
  }
  Emissions tick(const Policy& policy, Instant now) { return tick(policy, to_ns(now)); }

  // Records each Emit/Withdraw on its counter (if present) and clears its
  // in-flight mark, then prunes every counter with rate <= 0 and a last
  // emission <= 0.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    for (const auto& [key, emission] : emissions) {
      const auto it = entries_.find(key);
      if (it == entries_.end()) continue;
      if (emission.kind == Decision::kEmit) it->second.counter.last_emitted = emission.rate;
      if (emission.kind == Decision::kWithdraw) it->second.counter.last_emitted = 0.0;
      it->second.in_flight = false;
    }
    for (auto it = entries_.begin(); it != entries_.end();) {
      const Counter& c = it->second.counter;
      if (c.rate <= 0.0 && c.last_emitted && *c.last_emitted <= 0.0) {
        it = entries_.erase(it);
        ++pruned_;
      } else {
        ++it;
      }
    }
  }

  void rollback(const Key& key) {
    if (const auto it = entries_.find(key); it != entries_.end()) it->second.in_flight = false;
  }
  void remove(const Key& key) { entries_.erase(key); }

  const Entry* find(const Key& key) const {
    const auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : &it->second;
  }
  bool in_flight(const Key& key) const {
    const Entry* e = find(key);
    return e != nullptr && e->in_flight;
  }
  const std::map<Key, Entry>& entries() const noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t cap() const noexcept { return cap_; }
  bool tracks_in_flight() const noexcept { return tracking_; }
  std::uint64_t evictions() const noexcept { return evictions_; }
  std::uint64_t pruned() const noexcept { return pruned_; }

 private:
  std::size_t cap_;
  bool tracking_;
  std::map<Key, Entry> entries_;
  std::uint64_t next_use_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t pruned_ = 0;
};

// Whether a registry's snapshot of a counter (HeatCounter, from get or
// for_each) holds the model's counter: last_update, half-life and the
// presence of a last emission exactly, the rate and the last emission within
// kTolerance. Empty when they agree, otherwise what differs.
inline std::string counter_mismatch(const HeatCounter& got, const Counter& want) {
  std::string out;
  const auto text = [](double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  if (!rates_agree(got.rate(), want.rate)) {
    out += "rate " + text(got.rate()) + ", model " + text(want.rate) + "; ";
  }
  if (to_ns(got.last_update()) != want.last_update) {
    out += "last_update " + std::to_string(to_ns(got.last_update())) + ", model " +
           std::to_string(want.last_update) + "; ";
  }
  if (to_ns(got.half_life()) != want.half_life) {
    out += "half_life " + std::to_string(to_ns(got.half_life())) + ", model " +
           std::to_string(want.half_life) + "; ";
  }
  if (got.last_emitted().has_value() != want.last_emitted.has_value()) {
    out += std::string("last_emitted ") + (got.last_emitted() ? "present" : "absent") + ", model " +
           (want.last_emitted ? "present" : "absent") + "; ";
  } else if (got.last_emitted() && !rates_agree(*got.last_emitted(), *want.last_emitted)) {
    out += "last_emitted " + text(*got.last_emitted()) + ", model " + text(*want.last_emitted) + "; ";
  }
  return out;
}

}  // namespace heatkit::test::contract
