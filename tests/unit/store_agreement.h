// A store against the scalar store, through the CounterStore interface only:
// both are driven with the same random sequence of per-slot operations, ticks
// and commits, and read back after every operation. What a backend keeps in
// its columns is its own affair (the literal rate, or forward decay's scaled
// rate against a landmark); what read, read_range, tick and collect_prunable
// return is the contract (SEMANTICS.md "Counter" and "Numbers"):
//  - has_emitted, last_emitted and in_flight equal on every slot (an empty
//    slot has none of them: CounterStore::clear, ensure_slots), last_update
//    and half_life equal on every slot that holds a counter (an empty slot's
//    are no part of the contract);
//  - rates within 1e-12 relative, or within n x 2^-52 after n decay steps
//    (n counts every bump, decay_to and tick since the scalar rate was last
//    exactly 0: a bump adds an exact 1 to an inexact rate, so it does not
//    take away the drift before it);
//  - the same tick candidates (slot, kind, agreeing rate) and the same slots
//    to prune, except at a tie: a ratio within that tolerance of the
//    threshold, or a decayed rate within it of f64 epsilon (reckoned from the
//    scalar store's state before the operation, in long double). Where a tie
//    makes the stores differ, the slot is cleared and initialised again in
//    both, so that the difference does not cascade; a run that needs that
//    often fails (ties must stay rare for the comparison to mean anything).
//
// Time mostly moves forward in small steps, and also: quiet gaps of exactly
// 64 half-lives of a counter, one nanosecond either side, and far more;
// backwards ticks, bumps, inits and decay_to; bursts of bumps at one instant
// (up to 5,000 on one counter, so a rate survives 64 half-lives); ticks at
// the same instant again with last_emitted set around the ratio; thousands of
// ticks, so that a store that moves a landmark every 32 shortest half-lives
// moves it many times. Half-lives come from a mix: one shared, 0, 1 ns,
// around the tick step, up to 2^62 ns. A tick is told the half-life every
// live counter shares (TickParams::shared_half_life) when they share one,
// and sometimes not.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "math/counter_math.h"
#include "math/tick_params.h"
#include "store/counter_store.h"
#include "test_support.h"

namespace heatkit::test {

// Where a run draws its counters' half-lives from.
enum class HalfLifeMix {
  kShared,        // every counter: the run's shared half-life
  kMostlyShared,  // nine in ten the shared one, the rest from the mix
  kMixed,         // the whole mix
  kFarApart,      // 2^59 .. 2^62 ns, for instants spread over the int64 range
};

struct StoreRun {
  std::string label;
  std::uint64_t seed = 1;
  int ops = 4000;
  std::size_t max_slots = 64;
  HalfLifeMix mix = HalfLifeMix::kMixed;
  std::int64_t start = 1'000'000'000'000;  // the first instant
  std::int64_t step = 1'000'000'000;       // a tick's usual step
  std::int64_t shared_half_life = 8'000'000'000;
  // Instants jump between the ends of the int64 range (and stay near them).
  bool far_instants = false;
  bool track_in_flight = true;  // the ticks skip and mark counters in flight
  float ratio = 0.0f;           // the policy's ratio; 0: drawn
  unsigned threads = 1;         // CounterStore::set_threads
  // Inits and bumps of up to this many slots at once (a batch insert), for
  // runs over many slots.
  std::size_t batch = 1;
};

// The runs every backend meets. Each names what it stresses; together they
// take a few hundred milliseconds on a host store.
inline std::vector<StoreRun> mixed_half_life_runs() {
  std::vector<StoreRun> runs;
  StoreRun r;
  r.label = "mixed half-lives, 1 s steps, 64 slots";
  r.seed = 11;
  r.ops = 20'000;
  runs.push_back(r);
  r.label = "mixed half-lives, 37 ns steps (1 ns half-lives span many steps), 48 slots";
  r.seed = 12;
  r.step = 37;
  r.shared_half_life = 300;
  r.max_slots = 48;
  r.ops = 12'000;
  runs.push_back(r);
  r = StoreRun{};
  r.label = "mixed half-lives, no in-flight tracking, start below zero";
  r.seed = 13;
  r.ops = 8'000;
  r.track_in_flight = false;
  r.start = -4'000'000'000'000'000'000;
  runs.push_back(r);
  return runs;
}

inline std::vector<StoreRun> shared_half_life_runs() {
  std::vector<StoreRun> runs;
  StoreRun r;
  r.label = "one half-life of 8 steps, 40 slots";
  r.seed = 21;
  r.mix = HalfLifeMix::kShared;
  r.ops = 20'000;
  r.max_slots = 40;
  runs.push_back(r);
  r.label = "one half-life of 3 steps (a landmark moved every 96 steps), 100 slots";
  r.seed = 22;
  r.shared_half_life = 3'000'000'000;
  r.max_slots = 100;
  r.ops = 16'000;
  runs.push_back(r);
  r.label = "mostly one half-life, the odd other counter, 80 slots";
  r.seed = 23;
  r.mix = HalfLifeMix::kMostlyShared;
  r.shared_half_life = 5'000'000'000;
  r.max_slots = 80;
  r.ops = 16'000;
  runs.push_back(r);
  return runs;
}

inline std::vector<StoreRun> far_apart_instant_runs() {
  std::vector<StoreRun> runs;
  StoreRun r;
  r.label = "instants at the ends of the int64 range, half-lives 2^59 .. 2^62 ns";
  r.seed = 31;
  r.mix = HalfLifeMix::kFarApart;
  r.far_instants = true;
  r.shared_half_life = std::int64_t{1} << 61;
  // Not 2: jumps of exactly a half-life (2^62 ns) between these instants
  // make quotients of exactly 2, ties at that ratio.
  r.ratio = 3.0f;
  r.ops = 6'000;
  r.max_slots = 40;
  runs.push_back(r);
  return runs;
}

// Slot counts on and around vector widths and the Highway tick's blocks of
// 256 counters.
inline std::vector<StoreRun> slot_count_runs() {
  std::vector<StoreRun> runs;
  std::uint64_t seed = 41;
  for (const std::size_t n : {1u, 2u, 3u, 5u, 8u, 9u, 17u, 33u, 255u, 257u, 600u}) {
    StoreRun r;
    r.label = "up to " + std::to_string(n) + " slots";
    r.seed = seed++;
    r.max_slots = n;
    r.ops = n > 100 ? 3'000 : 1'500;
    r.batch = n > 100 ? 64 : 1;
    r.mix = n % 2 == 0 ? HalfLifeMix::kMostlyShared : HalfLifeMix::kMixed;
    runs.push_back(r);
  }
  return runs;
}

// Enough slots that host passes split over threads (32,768 a chunk), with
// whole quiet gaps that withdraw nearly every counter at once.
inline std::vector<StoreRun> many_slot_runs(unsigned threads) {
  StoreRun r;
  r.label = "up to 70,000 slots in batches";
  r.seed = 51;
  r.max_slots = 70'000;
  r.batch = 6'000;
  r.ops = 260;
  r.threads = threads;
  r.mix = HalfLifeMix::kMostlyShared;
  return {r};
}

// Rates agree (SEMANTICS.md "Numbers") within `tolerance` relative.
inline bool rates_agree_within(double a, double b, double tolerance) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= tolerance * std::max(std::fabs(a), std::fabs(b));
}

inline std::string describe(const CounterState& s) {
  std::ostringstream out;
  out.precision(17);
  out << "{rate " << s.rate << ", last_update " << s.last_update << ", half_life " << s.half_life
      << ", emitted " << (s.has_emitted ? "yes" : "no") << " " << s.last_emitted << ", in_flight "
      << s.in_flight << "}";
  return out.str();
}

inline const char* decision_name(Decision d) {
  switch (d) {
    case Decision::kEmit: return "Emit";
    case Decision::kWithdraw: return "Withdraw";
    default: return "Suppress";
  }
}

// t + d, held inside the int64 range.
inline std::int64_t saturating_add(std::int64_t t, std::int64_t d) {
  std::int64_t out;
  if (!__builtin_add_overflow(t, d, &out)) return out;
  return d > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

struct StoreRunStats {
  int ops = 0;
  int ticks = 0;
  int backwards_ticks = 0;
  int quiet_gaps = 0;
  std::size_t candidates = 0;
  std::size_t pruned = 0;
  int shared_ticks = 0;     // ticks told a shared half-life
  int ties = 0;             // slots set again after a tie, but for the ones below
  int ratio_edge_ties = 0;  // ... after a tie set up on purpose (ratio_edges_and_tick_again)
};

// One run: `got` against the scalar store `want`.
class StoreAgreement {
 public:
  StoreAgreement(std::unique_ptr<CounterStore> want, std::unique_ptr<CounterStore> got,
                 StoreRun run)
      : want_(std::move(want)),
        got_(std::move(got)),
        run_(std::move(run)),
        rng_(run_.seed),
        now_(run_.start) {
    want_->set_threads(run_.threads);
    got_->set_threads(run_.threads);
    static const float kRatios[] = {2.0f, 2.0f, 1.01f, 1.5f, 3.0f, 10.0f};
    policy_.emit_threshold_ratio = run_.ratio > 0.0f ? run_.ratio : rng_.pick(kRatios);
  }

  // Runs every operation; stops at the first disagreement (a gtest failure
  // naming the run, the operation and the last ones before it).
  void run() {
    grow(std::min<std::size_t>(run_.max_slots, 16));
    for (op_ = 0; op_ < run_.ops && !failed_; ++op_) {
      one_operation();
      ++stats_.ops;
    }
    if (failed_) return;
    // Ties are rare: a run that leans on them compares nothing.
    EXPECT_LE(stats_.ties, std::max(3, run_.ops / 200)) << where();
  }

  const StoreRunStats& stats() const { return stats_; }
  bool failed() const { return failed_; }

 private:
  struct SlotModel {
    bool live = false;
    std::int64_t steps = 0;    // decay steps since the scalar rate was exactly 0
    bool epsilon_tie = false;  // its last decay ended within tolerance of epsilon
  };

  // ---- the operations ----

  void one_operation() {
    // Time moves on a little before every operation.
    if (run_.far_instants) {
      now_ = rng_.chance(15)
                 ? far_instant()
                 : saturating_add(now_, static_cast<std::int64_t>(rng_.below(1'000'000)));
    } else {
      now_ = saturating_add(now_, below(run_.step / 4 + 1));
    }
    const std::uint64_t r = rng_.below(100);
    if (r < 24) return bump_op();
    if (r < 30) return burst_op();
    if (r < 38) return init_op();
    if (r < 44) return decay_op();
    if (r < 49) return record_op();
    if (r < 53) return in_flight_op();
    if (r < 56) return clear_op();
    if (r < 58) return quiet_gap_op();
    if (r < 93) return tick_op();
    return prune_op();
  }

  void bump_op() {
    const auto slot = live_slot();
    if (!slot) return init_op();
    const std::int64_t t = write_instant();
    if (run_.batch > 1 && rng_.chance(30)) {
      // A batch of bumps over many slots, one instant.
      std::vector<Slot> slots;
      const std::size_t n = 1 + rng_.below(run_.batch);
      for (std::size_t k = 0; k < n; ++k) {
        if (const auto s = live_slot()) slots.push_back(*s);
      }
      note("bump " + std::to_string(slots.size()) + " slots at " + std::to_string(t));
      begin_op();
      for (const Slot s : slots) {
        count_step(s, t);
        want_->bump(s, t);
        got_->bump(s, t);
      }
      compare(t, slots.empty() ? std::nullopt : std::optional<Slot>(slots.front()));
      return;
    }
    note("bump " + std::to_string(*slot) + " at " + std::to_string(t));
    begin_op();
    count_step(*slot, t);
    want_->bump(*slot, t);
    got_->bump(*slot, t);
    compare(t, slot);
  }

  // Several bumps at one instant: on one counter (rarely 5,000 of them), or
  // spread over a few.
  void burst_op() {
    const auto slot = live_slot();
    if (!slot) return init_op();
    const std::int64_t t = write_instant();
    std::size_t count = 2 + rng_.below(19);
    if (rng_.chance(4)) count = 5'000;
    const bool one = rng_.chance(60);
    note("burst of " + std::to_string(count) + (one ? " bumps on slot " : " bumps from slot ") +
         std::to_string(*slot) + " at " + std::to_string(t));
    begin_op();
    for (std::size_t k = 0; k < count; ++k) {
      Slot s = *slot;
      if (!one) {
        if (const auto other = live_slot()) s = *other;
      }
      count_step(s, t);
      want_->bump(s, t);
      got_->bump(s, t);
    }
    compare(t, slot);
  }

  void init_op() {
    const std::int64_t t = write_instant();
    const std::size_t n = run_.batch > 1 && rng_.chance(40) ? 1 + rng_.below(run_.batch) : 1;
    std::vector<Slot> slots;
    for (std::size_t k = 0; k < n; ++k) {
      auto slot = free_slot();
      if (!slot) {
        // Full: evict a counter first, as a registry at its cap does.
        slot = live_slot();
        if (!slot) break;
        want_->clear(*slot);
        got_->clear(*slot);
        model_[*slot].live = false;
      }
      const std::int64_t half_life = draw_half_life();
      want_->init(*slot, half_life, t);
      got_->init(*slot, half_life, t);
      model_[*slot] = SlotModel{true, 0, false};
      slots.push_back(*slot);
    }
    note("init " + std::to_string(slots.size()) + " slots from " +
         (slots.empty() ? std::string("-") : std::to_string(slots.front())) + " at " +
         std::to_string(t));
    begin_op();
    compare(t, slots.empty() ? std::nullopt : std::optional<Slot>(slots.front()));
  }

  void decay_op() {
    const auto slot = live_slot();
    if (!slot) return;
    const std::int64_t t = write_instant();
    note("decay_to " + std::to_string(*slot) + " at " + std::to_string(t));
    begin_op();
    count_step(*slot, t);
    want_->decay_to(*slot, t);
    got_->decay_to(*slot, t);
    compare(t, slot);
  }

  void record_op() {
    const auto slot = live_slot();
    if (!slot) return;
    const double rate = want_states_[*slot].rate;
    static const double kFactors[] = {1.0, 0.5, 2.0, 0.3, 3.0, 1.7, 0.9, 1e-300};
    double value = rate * rng_.pick(kFactors);
    Decision kind = Decision::kEmit;
    switch (rng_.below(12)) {
      case 0:
        kind = Decision::kWithdraw;
        value = 0.0;
        break;
      case 1: kind = Decision::kSuppress; break;
      case 2: value = 0.0; break;
      case 3: value = -1.0; break;
      case 4: value = std::numeric_limits<double>::quiet_NaN(); break;
      case 5: value = 4e-310; break;  // subnormal
      case 6: value = static_cast<double>(1 + rng_.below(100)); break;
      default: break;
    }
    std::ostringstream text;
    text << "record " << *slot << " " << decision_name(kind) << " " << value;
    note(text.str());
    begin_op();
    want_->record(*slot, kind, value);
    got_->record(*slot, kind, value);
    compare(now_, slot);
  }

  void in_flight_op() {
    const auto slot = live_slot();
    if (!slot) return;
    const bool mark = rng_.chance(40);
    note(std::string(mark ? "set" : "clear") + " in flight " + std::to_string(*slot));
    begin_op();
    want_->set_in_flight(*slot, mark);
    got_->set_in_flight(*slot, mark);
    compare(now_, slot);
  }

  void clear_op() {
    const auto slot = live_slot();
    if (!slot) return;
    note("clear " + std::to_string(*slot));
    begin_op();
    want_->clear(*slot);
    got_->clear(*slot);
    model_[*slot].live = false;
    compare(now_, slot);
  }

  // A counter's last_update plus exactly 64 of its half-lives, one
  // nanosecond either side, or far more; then a tick, a bump or a decay_to
  // there. The counter is often the one with the highest rate, which a
  // burst may have taken past 4,096 (so that 64 half-lives leave it above
  // epsilon).
  void quiet_gap_op() {
    std::optional<Slot> slot;
    if (rng_.chance(50)) {
      double best = 0.0;
      for (Slot s = 0; s < model_.size(); ++s) {
        if (model_[s].live && want_states_[s].half_life > 0 && want_states_[s].rate > best) {
          best = want_states_[s].rate;
          slot = s;
        }
      }
    }
    if (!slot) slot = live_slot();
    if (!slot || want_states_[*slot].half_life == 0) return tick_op();
    const CounterState& s = want_states_[*slot];
    static const std::int64_t kExtra[] = {0, 0, -1, 1, -2, 2};
    std::int64_t half_lives = 64;
    std::int64_t extra = rng_.pick(kExtra);
    if (rng_.chance(15)) half_lives = 65 + static_cast<std::int64_t>(rng_.below(200)), extra = 0;
    std::int64_t gap, t;
    if (__builtin_mul_overflow(s.half_life, half_lives, &gap) ||
        __builtin_add_overflow(s.last_update, gap, &t) || __builtin_add_overflow(t, extra, &t)) {
      return tick_op();
    }
    now_ = t;
    ++stats_.quiet_gaps;
    switch (rng_.below(3)) {
      case 0: return tick_at(now_, "quiet gap on slot " + std::to_string(*slot) + ": ");
      case 1:
        note("quiet gap, bump " + std::to_string(*slot) + " at " + std::to_string(now_));
        begin_op();
        count_step(*slot, now_);
        want_->bump(*slot, now_);
        got_->bump(*slot, now_);
        return compare(now_, slot);
      default:
        note("quiet gap, decay_to " + std::to_string(*slot) + " at " + std::to_string(now_));
        begin_op();
        count_step(*slot, now_);
        want_->decay_to(*slot, now_);
        got_->decay_to(*slot, now_);
        return compare(now_, slot);
    }
  }

  void tick_op() {
    std::int64_t t;
    if (run_.far_instants) {
      t = rng_.chance(20) ? far_instant() : now_;
    } else if (rng_.chance(8)) {
      t = saturating_add(now_, -below(4 * run_.step + 1));
    } else if (rng_.chance(4) && last_tick_) {
      t = *last_tick_;  // the same instant again
    } else {
      t = saturating_add(now_, below(2 * run_.step + 1));
    }
    now_ = t;
    tick_at(t, "");
  }

  // A tick at `t`, then the commit a registry makes of its candidates: most
  // recorded (the scalar store's rate in both, so last_emitted stays equal)
  // and out of flight, some left in flight; sometimes last_emitted set around
  // the ratio and a tick at the same instant again; sometimes a prune.
  void tick_at(std::int64_t t, const std::string& why) {
    if (last_tick_ && t < *last_tick_) ++stats_.backwards_ticks;
    ++stats_.ticks;
    TickParams p = tick_params(policy_, t, run_.track_in_flight);
    if (rng_.chance(4)) p.enabled = false;
    if (const auto shared = shared_half_life(); shared && rng_.chance(75)) {
      p.shared_half_life = *shared;
      ++stats_.shared_ticks;
    }
    note(why + "tick at " + std::to_string(t) +
         (p.shared_half_life > 0 ? " told half-life " + std::to_string(p.shared_half_life)
                                 : std::string()) +
         (p.enabled ? "" : " disabled"));
    begin_op();
    // Ties are reckoned from the scalar state before the tick.
    for (Slot s = 0; s < model_.size(); ++s) {
      if (want_states_[s].rate != 0.0) count_step(s, t);
    }
    // Sometimes the outputs hold a candidate already: a tick appends.
    const bool prefilled = rng_.chance(20);
    const Candidate earlier{7, Decision::kWithdraw, 0.0};
    std::vector<Candidate> want_out, got_out;
    if (prefilled) want_out.push_back(earlier), got_out.push_back(earlier);
    want_->tick(p, want_out);
    got_->tick(p, got_out);
    if (prefilled) {
      if (got_out.empty() || !(got_out.front() == earlier)) {
        return fail("the tick did not append after what its output held");
      }
      want_out.erase(want_out.begin());
      got_out.erase(got_out.begin());
    }
    // The scalar store's rates after the tick decide ratio ties.
    std::vector<CounterState> after(model_.size());
    want_->read_range(0, after);
    std::vector<Candidate> agreed;
    std::size_t i = 0, j = 0;
    while (i < want_out.size() || j < got_out.size()) {
      const Slot a = i < want_out.size() ? want_out[i].slot : std::numeric_limits<Slot>::max();
      const Slot b = j < got_out.size() ? got_out[j].slot : std::numeric_limits<Slot>::max();
      if ((i > 0 && want_out[i - 1].slot >= a && a != std::numeric_limits<Slot>::max()) ||
          (j > 0 && got_out[j - 1].slot >= b && b != std::numeric_limits<Slot>::max())) {
        return fail("tick candidates out of slot order");
      }
      const Slot s = std::min(a, b);
      if (s >= model_.size()) {
        return fail("a tick candidate past the store's slots: " + std::to_string(s));
      }
      const bool same = a == b && want_out[i].kind == got_out[j].kind &&
                        rates_agree_within(want_out[i].rate, got_out[j].rate, tolerance(s));
      if (same) {
        agreed.push_back(want_out[i]);
      } else if (tie_slots_.count(s) || ratio_tie(s, after[s], p.ratio)) {
        tie_slots_.insert(s);
      } else {
        std::ostringstream m;
        m.precision(17);
        const auto candidate = [](const std::vector<Candidate>& out, std::size_t k, Slot slot) {
          if (k >= out.size() || out[k].slot != slot) return std::string("none");
          std::ostringstream text;
          text.precision(17);
          text << decision_name(out[k].kind) << " " << out[k].rate;
          return text.str();
        };
        m << "tick candidates differ at slot " << s << ": scalar " << candidate(want_out, i, s)
          << ", " << got_->backend() << " " << candidate(got_out, j, s)
          << "; scalar before the tick " << describe(want_states_[s]) << ", after "
          << describe(after[s]) << ", tolerance " << tolerance(s);
        return fail(m.str());
      }
      if (a == s) ++i;
      if (b == s) ++j;
    }
    stats_.candidates += agreed.size();
    compare(t, std::nullopt);
    if (failed_) return;
    last_tick_ = t;

    std::vector<Slot> committed;
    for (const Candidate& c : agreed) {
      if (tie_slots_resynced_.count(c.slot) || !rng_.chance(85)) continue;
      want_->record(c.slot, c.kind, c.rate);
      got_->record(c.slot, c.kind, c.rate);
      want_->set_in_flight(c.slot, false);
      got_->set_in_flight(c.slot, false);
      committed.push_back(c.slot);
    }
    note("commit " + std::to_string(committed.size()) + " of " + std::to_string(agreed.size()) +
         " candidates");
    begin_op();
    compare(t, std::nullopt);
    if (failed_) return;

    if (rng_.chance(8)) ratio_edges_and_tick_again(t);
    if (!failed_ && rng_.chance(50)) prune_op();
  }

  // last_emitted set on and around rate x ratio and rate / ratio, then a
  // tick at the same instant: nothing decays, so the quotients the gate sees
  // are the ones set (on the scalar store). Those 1e-12 or less from the
  // ratio are ties; the others must be decided alike.
  void ratio_edges_and_tick_again(std::int64_t t) {
    const double ratio = static_cast<double>(policy_.emit_threshold_ratio);
    const double quotients[] = {ratio,
                                ratio * (1.0 + 1e-13),
                                std::nextafter(ratio, 0.0),
                                ratio * (1.0 + 1e-10),
                                ratio * (1.0 - 1e-10),
                                ratio * (1.0 + 1e-8),
                                ratio * (1.0 - 1e-8),
                                1.0 + (ratio - 1.0) / 2.0};
    int set = 0;
    for (Slot s = 0; s < model_.size() && set < 12; ++s) {
      const double rate = want_states_[s].rate;
      if (!model_[s].live || !(rate > 0.0) || !std::isfinite(rate) || rng_.chance(50)) continue;
      const double q = rng_.pick(quotients);
      const double prev = rng_.chance(50) ? rate / q : rate * q;
      want_->record(s, Decision::kEmit, prev);
      got_->record(s, Decision::kEmit, prev);
      ratio_edge_slots_.insert(s);
      want_->set_in_flight(s, false);
      got_->set_in_flight(s, false);
      ++set;
    }
    note("last_emitted around the ratio on " + std::to_string(set) + " counters");
    begin_op();
    compare(t, std::nullopt);
    if (!failed_) tick_at(t, "again: ");
    ratio_edge_slots_.clear();
  }

  // collect_prunable on both, then the slots cleared, as a registry's commit
  // does.
  void prune_op() {
    note("prune");
    begin_op();
    const bool prefilled = rng_.chance(20);
    std::vector<Slot> want_out, got_out;
    if (prefilled) want_out.push_back(3), got_out.push_back(3);
    want_->collect_prunable(want_out);
    got_->collect_prunable(got_out);
    if (prefilled) {
      if (got_out.empty() || got_out.front() != 3) {
        return fail("collect_prunable did not append after what its output held");
      }
      want_out.erase(want_out.begin());
      got_out.erase(got_out.begin());
    }
    if (!std::is_sorted(got_out.begin(), got_out.end()) ||
        std::adjacent_find(got_out.begin(), got_out.end()) != got_out.end()) {
      return fail("prunable slots out of slot order");
    }
    std::vector<Slot> both, differ;
    std::set_intersection(want_out.begin(), want_out.end(), got_out.begin(), got_out.end(),
                          std::back_inserter(both));
    std::set_symmetric_difference(want_out.begin(), want_out.end(), got_out.begin(), got_out.end(),
                                  std::back_inserter(differ));
    for (const Slot s : differ) {
      if (s >= model_.size() || !model_[s].epsilon_tie) {
        return fail("prunable slots differ at slot " + std::to_string(s) + ": scalar " +
                    (std::binary_search(want_out.begin(), want_out.end(), s) ? "prunes" : "keeps") +
                    " " + (s < model_.size() ? describe(want_states_[s]) : std::string()));
      }
      ++stats_.ties;  // pruned in one store: gone from both
    }
    for (const Slot s : both) {
      if (!model_[s].live) return fail("an empty slot is prunable: " + std::to_string(s));
    }
    stats_.pruned += both.size();
    for (const auto& list : {both, differ}) {
      for (const Slot s : list) {
        want_->clear(s);
        got_->clear(s);
        model_[s].live = false;
      }
    }
    compare(now_, std::nullopt);
  }

  // ---- comparing ----

  void begin_op() {
    tie_slots_.clear();
    tie_slots_resynced_.clear();
  }

  // Both stores read back whole; ties in tie_slots_ set again, anything else
  // that differs fails the run.
  void compare(std::int64_t at, std::optional<Slot> touched) {
    if (failed_) return;
    if (want_->slot_count() != got_->slot_count()) return fail("slot counts differ");
    const std::size_t n = want_->slot_count();
    std::vector<CounterState> want(n), got(n);
    want_->read_range(0, want);
    got_->read_range(0, got);
    if (touched && *touched < n) {
      const CounterState one = got_->read(*touched);
      const CounterState& range = got[*touched];
      if (!same_double(one.rate, range.rate) || one.last_update != range.last_update ||
          one.has_emitted != range.has_emitted ||
          !same_double(one.last_emitted, range.last_emitted) || one.half_life != range.half_life ||
          one.in_flight != range.in_flight) {
        return fail("read and read_range differ at slot " + std::to_string(*touched) + ": " +
                    describe(one) + " vs " + describe(range));
      }
    }
    // The column the registry's LRU order reads agrees with read().
    const LastUpdates lru_view = got_->last_update_host();
    for (Slot s = 0; s < n; ++s) {
      if (s < model_.size() && model_[s].live && lru_view[s] != got[s].last_update) {
        return fail("last_update_host()[" + std::to_string(s) +
                    "] = " + std::to_string(lru_view[s]) + ", read() says " + describe(got[s]));
      }
    }
    bool resynced = false;
    for (Slot s = 0; s < n; ++s) {
      const CounterState& a = want[s];
      const CounterState& b = got[s];
      const bool live = s < model_.size() && model_[s].live;
      const std::string what = !rates_agree_within(a.rate, b.rate, tolerance(s)) ? "rate"
                               : live && a.last_update != b.last_update          ? "last_update"
                               : live && a.half_life != b.half_life              ? "half_life"
                               : a.has_emitted != b.has_emitted                  ? "has_emitted"
                               : !same_double(a.last_emitted, b.last_emitted)    ? "last_emitted"
                               : a.in_flight != b.in_flight                      ? "in_flight"
                                                                                 : "";
      if (what.empty()) continue;
      if (tie_slots_.count(s)) {
        resync(s, at, a.half_life);
        resynced = true;
        continue;
      }
      std::ostringstream m;
      m << what << " differs at slot " << s << ": scalar " << describe(a) << ", " << got_->backend()
        << " " << describe(b) << "; scalar before "
        << describe(want_states_.size() > s ? want_states_[s] : CounterState{}) << ", tolerance "
        << tolerance(s);
      return fail(m.str());
    }
    if (resynced) {
      want_->read_range(0, want);
      got_->read_range(0, got);
    }
    for (Slot s = 0; s < n; ++s) {
      if (want[s].rate == 0.0) model_[s].steps = 0;
    }
    want_states_ = std::move(want);
  }

  // A slot where a tie made the stores differ: cleared and initialised
  // again in both (a live counter stays live, at rate 0).
  void resync(Slot s, std::int64_t at, std::int64_t half_life) {
    ++(ratio_edge_slots_.count(s) ? stats_.ratio_edge_ties : stats_.ties);
    want_->clear(s);
    got_->clear(s);
    if (model_[s].live) {
      want_->init(s, half_life, at);
      got_->init(s, half_life, at);
    }
    model_[s].steps = 0;
    model_[s].epsilon_tie = false;
    tie_slots_resynced_.insert(s);
    note("  slot " + std::to_string(s) + " set again after a tie");
  }

  double tolerance(Slot s) const {
    return std::max(1e-12, static_cast<double>(model_[s].steps) * 0x1p-52);
  }

  // A decaying operation on `s` at `t`: one more step; one that ends within
  // tolerance of epsilon is a tie (a rate on either side of the snap).
  void count_step(Slot s, std::int64_t t) {
    model_[s].epsilon_tie = near_epsilon(s, t);
    if (model_[s].epsilon_tie) tie_slots_.insert(s);
    ++model_[s].steps;
  }

  // Whether the scalar counter at `s`, decayed exactly (long double) from its
  // state before this operation to `t`, lands within tolerance of epsilon.
  bool near_epsilon(Slot s, std::int64_t t) const {
    if (s >= want_states_.size()) return false;
    const CounterState& c = want_states_[s];
    if (c.half_life == 0 || !(c.rate > 0.0)) return false;
    const std::uint64_t elapsed = elapsed_ns(c.last_update, t);
    const long double h = static_cast<long double>(elapsed) / static_cast<long double>(c.half_life);
    if (h > 64.0L) return false;
    const long double v = static_cast<long double>(c.rate) * std::exp2l(-h);
    const long double eps = kRateEpsilon;
    return std::fabs(v - eps) <= static_cast<long double>(tolerance(s)) * eps;
  }

  // Whether the gate's quotient for the scalar counter after a tick lies
  // within tolerance of the ratio.
  bool ratio_tie(Slot s, const CounterState& after, double ratio) const {
    const double r = after.rate;
    const double prev = after.last_emitted;
    if (!after.has_emitted || !(prev > 0.0) || !(r > 0.0) || !std::isfinite(r)) return false;
    const double tol = tolerance(s);
    return std::fabs(r / prev - ratio) <= tol * ratio || std::fabs(prev / r - ratio) <= tol * ratio;
  }

  // ---- drawing ----

  std::int64_t draw_half_life() {
    const std::int64_t shared = run_.shared_half_life;
    switch (run_.mix) {
      case HalfLifeMix::kShared: return shared;
      case HalfLifeMix::kMostlyShared:
        if (rng_.chance(90)) return shared;
        break;
      case HalfLifeMix::kFarApart: {
        static const std::int64_t kLong[] = {std::int64_t{1} << 62, (std::int64_t{1} << 62) - 1,
                                             std::int64_t{1} << 60,
                                             (std::int64_t{1} << 59) + 12345};
        return rng_.chance(50) ? shared : rng_.pick(kLong);
      }
      case HalfLifeMix::kMixed: break;
    }
    const std::int64_t step = run_.step;
    switch (rng_.below(10)) {
      case 0: return 0;
      case 1: return 1;
      case 2: return std::max<std::int64_t>(1, step / 2);
      case 3: return step;
      case 4: return 3 * step + 7;
      case 5: return rng_.chance(50) ? std::int64_t{1} << 40 : std::int64_t{1} << 62;
      case 6: return 1 + static_cast<std::int64_t>(rng_.below(std::uint64_t{1} << 62));
      default: return shared;
    }
  }

  // The instant of a write: now, or (one in eight) earlier, sometimes before
  // the last tick.
  std::int64_t write_instant() {
    if (run_.far_instants) return rng_.chance(10) ? far_instant() : now_;
    if (!rng_.chance(12)) return now_;
    if (last_tick_ && rng_.chance(30)) return saturating_add(*last_tick_, -below(run_.step + 1));
    return saturating_add(now_, -below(3 * run_.step + 1));
  }

  // A draw in [0, n), n > 0.
  std::int64_t below(std::int64_t n) {
    return static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(n)));
  }

  std::int64_t far_instant() {
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
    static const std::int64_t kInstants[] = {kMin, kMin + 1,          kMin / 2, -5'000'000'000'000,
                                             0,    5'000'000'000'000, kMax / 2, kMax - 1000,
                                             kMax};
    return rng_.pick(kInstants);
  }

  // The half-life every live counter shares (TickParams::shared_half_life:
  // cleared slots aside), or the run's when no counter is live; nothing when
  // they differ.
  std::optional<std::int64_t> shared_half_life() const {
    std::optional<std::int64_t> shared;
    for (std::size_t slot = 0; slot < want_states_.size(); ++slot) {
      if (!model_[slot].live) continue;
      const CounterState& s = want_states_[slot];
      if (shared && *shared != s.half_life) return std::nullopt;
      shared = s.half_life;
    }
    if (!shared) return run_.shared_half_life;
    if (*shared == 0) return std::nullopt;
    return shared;
  }

  std::optional<Slot> live_slot() {
    for (int tries = 0; tries < 64; ++tries) {
      const Slot s = static_cast<Slot>(rng_.below(model_.size()));
      if (model_[s].live) return s;
    }
    for (Slot s = 0; s < model_.size(); ++s) {
      if (model_[s].live) return s;
    }
    return std::nullopt;
  }

  // A slot to initialise: a free one (the first or a random one), or a new
  // one while the run may grow the stores.
  std::optional<Slot> free_slot() {
    for (int tries = 0; tries < 8; ++tries) {
      const Slot s = static_cast<Slot>(rng_.below(model_.size()));
      if (!model_[s].live) return s;
    }
    for (Slot s = 0; s < model_.size(); ++s) {
      if (!model_[s].live) return s;
    }
    if (model_.size() < run_.max_slots) {
      grow(std::min(run_.max_slots, model_.size() + std::max<std::size_t>(1, model_.size() / 2)));
      return free_slot();
    }
    return std::nullopt;
  }

  void grow(std::size_t n) {
    want_->ensure_slots(n);
    got_->ensure_slots(n);
    model_.resize(n);
    want_states_.resize(n);
  }

  // ---- reporting ----

  void note(std::string text) {
    log_.push_back("op " + std::to_string(op_) + ": " + std::move(text));
    if (log_.size() > 24) log_.pop_front();
  }

  std::string where() const {
    std::string out = std::string(got_->backend()) + " against scalar, run '" + run_.label +
                      "' (seed " + std::to_string(run_.seed) + ", threads " +
                      std::to_string(run_.threads) + "), the last operations:";
    for (const std::string& line : log_) out += "\n  " + line;
    return out;
  }

  void fail(const std::string& what) {
    failed_ = true;
    ADD_FAILURE() << what << "\n" << where();
  }

  std::unique_ptr<CounterStore> want_, got_;
  StoreRun run_;
  Rng rng_;
  Policy policy_;
  std::int64_t now_;
  std::optional<std::int64_t> last_tick_;
  std::vector<SlotModel> model_;
  std::vector<CounterState> want_states_;  // the scalar store after the last operation
  std::set<Slot> tie_slots_;               // where this operation may differ
  std::set<Slot> tie_slots_resynced_;      // set again during this operation
  std::set<Slot> ratio_edge_slots_;        // last_emitted set around the ratio on purpose
  std::deque<std::string> log_;
  StoreRunStats stats_;
  int op_ = 0;
  bool failed_ = false;
};

// Why `backend` cannot run here, or nothing when it can.
inline std::optional<std::string> why_backend_unavailable(std::string_view backend) {
  const BackendInfo info = backend_info(backend);
  if (!info.available) return info.unavailable_reason;
  try {
    (void)make_store(backend);
  } catch (const BackendUnavailable& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// Every run of `runs`: a store from `make` against the scalar store. Each run
// also checks that it exercised what it is for (ticks, candidates, prunes,
// and for the longer runs backwards ticks, quiet gaps and shared half-lives).
template <class MakeStore>
requires std::invocable<MakeStore&>
void expect_store_agrees_with_scalar(MakeStore make, const std::vector<StoreRun>& runs,
                                     unsigned threads = 1) {
  for (StoreRun run : runs) {
    if (run.threads == 1) run.threads = threads;
    SCOPED_TRACE(run.label);
    StoreAgreement agreement(make_store("scalar"), make(), run);
    agreement.run();
    if (agreement.failed()) return;
    const StoreRunStats& s = agreement.stats();
    EXPECT_GT(s.ticks, run.ops / 10);
    EXPECT_GT(s.candidates, 0u);
    if (run.ops >= 4'000) {
      EXPECT_GT(s.pruned, 0u);
      EXPECT_GT(s.backwards_ticks, 0);
      EXPECT_GT(s.shared_ticks, 0);
      // Gaps of 64 half-lives do not fit between instants far apart.
      if (!run.far_instants) {
        EXPECT_GT(s.quiet_gaps, 0);
      }
    }
  }
}

// The same for backend `backend` (make_store). Skips the test, naming why,
// where the backend cannot run here.
inline void expect_store_agrees_with_scalar(std::string_view backend,
                                            const std::vector<StoreRun>& runs,
                                            unsigned threads = 1) {
  if (const auto why = why_backend_unavailable(backend)) {
    GTEST_SKIP() << backend << " cannot run here: " << *why;
  }
  expect_store_agrees_with_scalar([&] { return make_store(backend); }, runs, threads);
}

}  // namespace heatkit::test
