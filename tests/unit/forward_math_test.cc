// math/forward_math.h against the contract (SEMANTICS.md "Counter" and
// "Numbers"), driven as a store drives it: ForwardStore below keeps the
// columns and the ForwardFrame, notes every write on the frame, and ticks
// with forward_tick_rate where forward_tick_allowed says so (then
// forward_after_tick(frame, now, false)) and with relayout_tick_rate
// otherwise (then forward_after_tick(frame, now, true)). What it reads back
// is compared with a counter written from the contract's text
// (ContractCounter), with exact values worked out by hand or in long double,
// and, through store_agreement.h, with the scalar store.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <stdexcept>
#include <vector>

#include "contract_model.h"
#include "math/counter_math.h"
#include "math/forward_math.h"
#include "math/slot_ops.h"
#include "store/counter_store.h"
#include "store_agreement.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// A host store whose rate column holds forward encodings, built from
// forward_math.h's functions as its header describes.
class ForwardStore final : public CounterStore {
 public:
  std::string_view backend() const noexcept override { return "forward-math"; }
  void ensure_slots(std::size_t n) override {
    if (n <= s_.size()) return;
    s_.resize(n, 0.0);
    last_write_.resize(n, 0);
    last_emitted_.resize(n, 0.0);
    half_life_.resize(n, 0);
    flags_.insert(flags_.end(), n - flags_.size(), std::uint8_t{0});
  }
  std::size_t slot_count() const noexcept override { return s_.size(); }

  void init(Slot i, std::int64_t half_life, std::int64_t now) override {
    forward_init(s_[i], last_write_[i], now, frame_);
    half_life_[i] = half_life;
    last_emitted_[i] = 0.0;
    flags_[i] = kLive;
    if (half_life > 0) frame_.shortest_half_life = std::min(frame_.shortest_half_life, half_life);
    frame_.note_write(now);
  }
  void clear(Slot i) override { clear_slot(columns(), i); }
  void bump(Slot i, std::int64_t now) override { bump_by(i, now, 1.0); }
  // `count` bumps at one instant (a rate no number of single bumps reaches).
  void bump_by(Slot i, std::int64_t now, double count) {
    forward_bump(s_[i], last_write_[i], half_life_[i], now, count, frame_);
    frame_.note_write(now);
  }
  void decay_to(Slot i, std::int64_t now) override {
    forward_decay_to(s_[i], last_write_[i], half_life_[i], now, frame_);
    frame_.note_write(now);
  }
  void record(Slot i, Decision kind, double rate) override {
    record_slot(columns(), i, kind, rate);
  }
  void set_in_flight(Slot i, bool in_flight) override {
    set_slot_in_flight(columns(), i, in_flight);
  }

  CounterState read(Slot i) const override {
    const LiteralState d = forward_decode(s_[i], last_write_[i], half_life_[i], frame_);
    return counter_state(d.rate, d.last_update, last_emitted_[i], half_life_[i], flags_[i]);
  }
  void read_range(Slot first, std::span<CounterState> out) const override {
    check_read_range(backend(), first, out.size(), slot_count());
    for (std::size_t k = 0; k < out.size(); ++k) out[k] = read(static_cast<Slot>(first + k));
  }
  void write_range(Slot, std::span<const CounterState>) override {
    throw std::logic_error("this test's store is driven by operations only");
  }

  void tick(const TickParams& p, std::vector<Candidate>& out) override {
    const bool fast = forward_tick_allowed(frame_, p.now);
    ++(fast ? fast_ticks_ : relayouts_);
    const ForwardFrame before = frame_;
    const double shared_scale = fast && p.shared_half_life > 0
                                    ? forward_scale(p.now, frame_.landmark, p.shared_half_life)
                                    : 0.0;
    for (std::size_t i = 0; i < s_.size(); ++i) {
      const double r =
          fast
              ? forward_tick_rate(s_[i], last_write_[i], half_life_[i], p.now, shared_scale, frame_)
              : relayout_tick_rate(s_[i], last_write_[i], half_life_[i], p.now, before);
      const Decision d = tick_gate(r, flags_[i], last_emitted_[i], p);
      if (d == Decision::kSuppress) continue;
      if (p.mark_in_flight) flags_[i] = static_cast<std::uint8_t>(flags_[i] | kInFlight);
      out.push_back({static_cast<std::uint32_t>(i), d, d == Decision::kEmit ? r : 0.0});
    }
    forward_after_tick(frame_, p.now, !fast);
  }
  void collect_prunable(std::vector<Slot>& out) override {
    for (std::size_t i = 0; i < s_.size(); ++i) {
      if (forward_prunable(s_[i], half_life_[i], (flags_[i] & kHasEmitted) != 0, last_emitted_[i],
                           frame_)) {
        out.push_back(static_cast<Slot>(i));
      }
    }
  }
  LastUpdates last_update_host() const noexcept override {
    mirror_.resize(s_.size());
    for (std::size_t i = 0; i < s_.size(); ++i) mirror_[i] = read(static_cast<Slot>(i)).last_update;
    return mirror_.data();
  }
  std::size_t memory_bytes() const noexcept override { return s_.size() * 41; }

  const ForwardFrame& frame() const { return frame_; }
  int relayouts() const { return relayouts_; }
  int fast_ticks() const { return fast_ticks_; }

  // One tick at `now` (no in-flight tracking) and the rate it gave slot `i`:
  // never emitted, so any rate above 0 is an Emit candidate carrying it.
  double tick_rate(Slot i, std::int64_t now, std::int64_t shared_half_life = 0) {
    TickParams p;
    p.now = now;
    p.shared_half_life = shared_half_life;
    std::vector<Candidate> out;
    tick(p, out);
    for (const Candidate& c : out) {
      if (c.slot == i) return c.kind == Decision::kEmit ? c.rate : 0.0;
    }
    return 0.0;
  }

 private:
  CounterColumns columns() {
    return {s_.data(),         last_write_.data(), last_emitted_.data(),
            half_life_.data(), flags_.data(),      s_.size()};
  }

  std::vector<double> s_;
  std::vector<std::int64_t> last_write_;
  std::vector<double> last_emitted_;
  std::vector<std::int64_t> half_life_;
  std::vector<std::uint8_t> flags_;
  mutable std::vector<std::int64_t> mirror_;
  ForwardFrame frame_;
  int relayouts_ = 0;
  int fast_ticks_ = 0;
};

// The contract's counter (contract_model.h, written from SEMANTICS.md's
// text), fresh at `created` with `half_life`.
using ContractCounter = contract::Counter;
ContractCounter contract_counter(std::int64_t created, std::int64_t half_life) {
  return ContractCounter{0.0, created, std::nullopt, half_life};
}

// SEMANTICS.md "Numbers": within 1e-12 relative, or n x 2^-52 after n steps.
double numbers_tolerance(std::int64_t steps) {
  return std::max(1e-12, static_cast<double>(steps) * 0x1p-52);
}

bool within(double got, long double want, long double relative) {
  if (want == 0.0L) return got == 0.0;
  return std::fabs(static_cast<long double>(got) - want) <= relative * std::fabs(want);
}

// t + d, or nothing when it leaves the int64 range.
std::optional<std::int64_t> add(std::int64_t t, std::int64_t d) {
  std::int64_t out;
  if (__builtin_add_overflow(t, d, &out)) return std::nullopt;
  return out;
}

const std::int64_t kHalfLives[] = {
    1, 3, 1000, 1'000'000'007, std::int64_t{1} << 40, std::int64_t{1} << 62, kMax};

// ---- a bump ----

TEST(ForwardMath, a_counter_bumped_once_reads_exactly_one) {
  const std::int64_t landmarks[] = {0, -4'000'000'000'000'000'000, 1'000'000'000'000'000'123};
  const long double offsets[] = {0.0L,  1.0L / 3.0L, 1.0L,  7.77L,
                                 31.9L, 40.5L,       63.99L};  // half-lives
  int checked = 0;
  for (const std::int64_t half_life : kHalfLives) {
    for (const std::int64_t landmark : landmarks) {
      for (const long double offset : offsets) {
        const long double ns = offset * static_cast<long double>(half_life);
        if (ns > static_cast<long double>(kMax / 2)) continue;
        const auto t = add(landmark, static_cast<std::int64_t>(ns));
        if (!t) continue;
        SCOPED_TRACE(::testing::Message() << "half-life " << half_life << " landmark " << landmark
                                          << " bumped at " << *t);
        for (const int variant : {0, 1, 2}) {
          ForwardStore store;
          store.ensure_slots(2);
          store.init(0, half_life, landmark);  // the first creation sets the landmark
          store.init(1, half_life, landmark);
          if (variant == 1) store.tick_rate(0, landmark + (*t - landmark) / 2);  // a tick first
          store.bump(0, *t);
          const CounterState s = store.read(0);
          ASSERT_EQ(s.rate, 1.0) << "variant " << variant;
          ASSERT_EQ(s.last_update, *t);
          // A tick at the bump's own instant sees exactly 1 too, told the
          // shared half-life or not.
          ASSERT_EQ(store.tick_rate(0, *t, variant == 2 ? half_life : 0), 1.0)
              << "variant " << variant;
          ASSERT_EQ(store.read(0).rate, 1.0);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 250);
}

// Bumps at one instant add exact ones, as the literal rate does: a fresh
// counter bumped a million times at one instant reads exactly a million,
// and one that has decayed agrees with the scalar store after a million
// more (adding the scale a million times drifted by 6e-12).
TEST(ForwardMath, a_million_bumps_at_one_instant_add_exact_ones) {
  constexpr int kBumps = 1'000'000;
  constexpr std::int64_t kHalfLife = 1'000'000'007;
  ForwardStore store;
  store.ensure_slots(2);
  auto reference = make_store("scalar");
  reference->ensure_slots(2);
  store.init(0, kHalfLife, 0);
  store.init(1, kHalfLife, 0);
  reference->init(1, kHalfLife, 0);
  const std::int64_t t = 3 * kHalfLife + 12345;
  for (int k = 0; k < kBumps; ++k) store.bump(0, t);
  EXPECT_EQ(store.read(0).rate, static_cast<double>(kBumps));
  // Counter 1: bumped, decayed by a tick, then bumped a million times at once.
  store.bump(1, 10), reference->bump(1, 10);
  store.tick_rate(1, kHalfLife / 3);
  std::vector<Candidate> ignored;
  reference->tick(tick_params(Policy{}, kHalfLife / 3, false), ignored);
  for (int k = 0; k < kBumps; ++k) store.bump(1, t), reference->bump(1, t);
  const double want = reference->read(1).rate;
  EXPECT_NEAR(store.read(1).rate, want, 1e-12 * want);
}

// ---- last_update and time going backwards ----

TEST(ForwardMath, last_update_is_the_later_of_the_last_write_and_the_last_tick_in_call_order) {
  constexpr std::int64_t kH = 10'000;
  ForwardStore store;
  store.ensure_slots(3);
  std::vector<ContractCounter> model(3);
  for (Slot i = 0; i < 3; ++i) {
    store.init(i, kH, 1000);
    model[i] = contract_counter(1000, kH);
  }
  const auto tick = [&](std::int64_t now) {
    store.tick_rate(0, now);
    for (ContractCounter& c : model) c.decay_to(now);
  };
  const auto expect = [&](const char* step, std::int64_t a, std::int64_t b, std::int64_t c) {
    SCOPED_TRACE(step);
    const std::int64_t want[] = {a, b, c};
    for (Slot i = 0; i < 3; ++i) {
      const CounterState s = store.read(i);
      EXPECT_EQ(s.last_update, want[i]) << "slot " << i;
      EXPECT_EQ(model[i].last_update, want[i]) << "slot " << i << " (the model)";
      EXPECT_TRUE(within(s.rate, model[i].rate, 1e-14))
          << "slot " << i << ": " << s.rate << " vs " << model[i].rate;
    }
  };
  store.bump(0, 2000), model[0].bump(2000);
  expect("a bump", 2000, 1000, 1000);
  store.bump(2, 2600), model[2].bump(2600);
  tick(3000);
  expect("a tick after the writes", 3000, 3000, 3000);
  store.bump(1, 2500), model[1].bump(2500);
  expect("a bump earlier than the tick, after it in call order", 3000, 2500, 3000);
  store.decay_to(2, 5000), model[2].decay_to(5000);
  expect("a decay_to later than the tick", 3000, 2500, 5000);
  tick(4000);
  expect("a tick earlier than a write before it", 4000, 4000, 4000);
  store.bump(0, 4500), model[0].bump(4500);
  store.init(1, kH, 4200), model[1] = contract_counter(4200, kH);
  expect("a bump and an init after the tick", 4500, 4200, 4000);
  tick(4500);
  expect("a tick at the last write's instant", 4500, 4500, 4500);
  tick(4400);
  expect("a tick earlier than the last tick", 4400, 4400, 4400);
  store.decay_to(0, 4300), model[0].decay_to(4300);
  expect("a decay_to earlier than the last tick", 4300, 4400, 4400);
  tick(40'000'000);
  expect("a tick far later", 40'000'000, 40'000'000, 40'000'000);
}

TEST(ForwardMath, a_backwards_bump_decays_nothing_and_a_later_step_decays_again_from_its_instant) {
  constexpr std::int64_t kH = 1000;
  {
    SCOPED_TRACE("earlier than the last tick");
    ForwardStore store;
    store.ensure_slots(1);
    store.init(0, kH, 0);
    store.bump(0, 1000);
    EXPECT_EQ(store.tick_rate(0, 2000), 0.5);
    store.bump(0, 1500);  // 500 ns before the tick: no decay, +1
    EXPECT_EQ(store.read(0).rate, 1.5);
    EXPECT_EQ(store.read(0).last_update, 1500);
    // One half-life from 1500, not from the tick at 2000 (that would be 1.06).
    EXPECT_EQ(store.tick_rate(0, 2500), 0.75);
    EXPECT_TRUE(within(store.read(0).rate, 0.75L, 1e-15L)) << store.read(0).rate;
    EXPECT_EQ(store.read(0).last_update, 2500);
    store.bump(0, 2500);
    EXPECT_TRUE(within(store.read(0).rate, 1.75L, 1e-15L)) << store.read(0).rate;
  }
  {
    SCOPED_TRACE("earlier than the last bump, no tick between");
    ForwardStore store;
    store.ensure_slots(1);
    store.init(0, kH, 0);
    store.bump(0, 1000);
    store.bump(0, 900);
    EXPECT_EQ(store.read(0).rate, 2.0);
    EXPECT_EQ(store.read(0).last_update, 900);
    store.bump(0, 1900);  // one half-life from 900: 2 x 0.5 + 1
    EXPECT_TRUE(within(store.read(0).rate, 2.0L, 1e-15L)) << store.read(0).rate;
    EXPECT_EQ(store.tick_rate(0, 2900), 1.0);
  }
  {
    SCOPED_TRACE("a decay_to and an init earlier than the last tick");
    ForwardStore store;
    store.ensure_slots(2);
    store.init(0, kH, 0);
    store.bump(0, 0);
    store.tick_rate(0, 3000);  // 0.125
    store.decay_to(0, 2000);
    EXPECT_EQ(store.read(0).rate, 0.125);
    EXPECT_EQ(store.read(0).last_update, 2000);
    store.init(1, kH, 1000);
    EXPECT_EQ(store.read(1).last_update, 1000);
    store.bump(1, 2000);  // decays nothing (rate 0), +1
    EXPECT_EQ(store.read(1).rate, 1.0);
    EXPECT_EQ(store.tick_rate(0, 4000), 0.03125);  // two half-lives from 2000
    EXPECT_EQ(store.read(1).rate, 0.25);           // from 2000
  }
}

// ---- the clamp and the snap ----

TEST(ForwardMath,
     sixty_four_half_lives_leave_rate_times_2_to_the_minus_64_and_one_ns_more_clears_it) {
  const double rate = 0x1p200;
  // Half-lives short enough that 64 of them and one nanosecond is a
  // different double from 64 of them (2^46 ns and more are not).
  for (const std::int64_t half_life : {std::int64_t{1}, std::int64_t{7},
                                       std::int64_t{1'000'000'007}, (std::int64_t{1} << 40) + 1}) {
    for (const std::int64_t extra : {0, 1}) {
      for (const char* path : {"tick", "bump", "decay_to", "bump at a moved landmark"}) {
        SCOPED_TRACE(::testing::Message() << "half-life " << half_life << ", 64 half-lives + "
                                          << extra << " ns, " << path);
        const std::int64_t start = 123'456'789;
        ForwardStore store;
        store.ensure_slots(1);
        store.init(0, half_life, start);
        store.bump_by(0, start + 3, rate);
        std::int64_t from = start + 3;
        if (std::string(path) == "bump at a moved landmark") {
          // A relayout at `from` (the landmark moves there), so that 64
          // half-lives on the bump is still a forward write.
          from += 40 * half_life;
          store.tick_rate(0, from);
          ASSERT_EQ(store.frame().landmark, from);
          ASSERT_EQ(store.read(0).rate, 0x1p160);
        }
        const std::int64_t at = from + 64 * half_life + extra;
        const double before = std::string(path) == "bump at a moved landmark" ? 0x1p160 : rate;
        const bool bump = std::string(path).starts_with("bump");
        // Past 64 half-lives: 0 exactly (1 after a bump); at 64: rate x
        // 2^-64 exactly (+ 1, which rounds away at 2^96 and 2^136).
        const double want = extra == 0 ? before * 0x1p-64 : (bump ? 1.0 : 0.0);
        if (std::string(path) == "tick") {
          EXPECT_EQ(store.tick_rate(0, at), want);
        } else if (bump) {
          store.bump(0, at);
        } else {
          store.decay_to(0, at);
        }
        EXPECT_EQ(store.read(0).rate, want);
        EXPECT_EQ(store.read(0).last_update, at);
      }
    }
  }
}

TEST(ForwardMath,
     below_epsilon_reads_zero_for_the_gate_and_prune_and_the_next_bump_reads_exactly_one) {
  constexpr std::int64_t kH = 1'000'000'000;
  TickParams p;
  for (const char* path : {"fast tick", "relayout tick", "decay_to"}) {
    SCOPED_TRACE(path);
    ForwardStore store;
    store.ensure_slots(1);
    store.init(0, kH, 0);
    store.bump(0, 0);
    store.record(0, Decision::kEmit, 1.0);
    std::vector<Candidate> out;
    std::int64_t snap;
    if (std::string(path) == "fast tick") {
      p.now = 33 * kH;  // past 32 half-lives: a relayout, the landmark moves to 33
      store.tick(p, out);
      ASSERT_EQ(store.frame().landmark, 33 * kH);
      p.now = 52 * kH;  // 2^-52: epsilon itself, kept
      out.clear();
      const int relayouts = store.relayouts();
      store.tick(p, out);
      ASSERT_EQ(store.relayouts(), relayouts) << "a fast tick";
      EXPECT_EQ(store.read(0).rate, kRateEpsilon);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].kind, Decision::kEmit);  // 1 / 2^-52 >= 2
      EXPECT_EQ(out[0].rate, kRateEpsilon);
      store.record(0, Decision::kEmit, 1.0);
      snap = 52 * kH + 1;  // just below epsilon
      p.now = snap;
      out.clear();
      store.tick(p, out);
      ASSERT_EQ(store.relayouts(), relayouts) << "a fast tick";
    } else if (std::string(path) == "relayout tick") {
      snap = 53 * kH;
      p.now = snap;
      store.tick(p, out);
      ASSERT_EQ(store.frame().landmark, snap);
    } else {
      snap = 52 * kH + 1;
      store.decay_to(0, snap);
      p.now = snap;
      store.tick(p, out);
    }
    EXPECT_EQ(store.read(0).rate, 0.0);
    EXPECT_EQ(store.read(0).last_update, snap);
    // The gate saw 0: Withdraw (it last emitted 1).
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, Decision::kWithdraw);
    std::vector<Slot> prunable;
    store.collect_prunable(prunable);
    EXPECT_TRUE(prunable.empty()) << "still emitted at 1";
    store.record(0, Decision::kWithdraw, 0.0);
    store.collect_prunable(prunable);
    EXPECT_EQ(prunable, std::vector<Slot>{0});
    // At the tick's instant and later: exactly 1, no longer prunable.
    for (const std::int64_t at : {snap, snap + 5}) {
      ForwardStore copy = store;
      copy.bump(0, at);
      EXPECT_EQ(copy.read(0).rate, 1.0) << "bumped at " << at;
      prunable.clear();
      copy.collect_prunable(prunable);
      EXPECT_TRUE(prunable.empty());
    }
  }
}

// ---- the landmark ----

// Counters with one half-life, bumped between ticks, against the contract's
// counter: with time moving forward 0 to 6 half-lives a tick (the landmark
// moves every 32 half-lives) and now and then backwards (a relayout too);
// where 32 half-lives do not fit in int64, at random instants of a window
// of 2^63 ns (half the ticks going backwards).
TEST(ForwardMath,
     the_landmark_moves_across_thousands_of_relayouts_for_half_lives_from_1_ns_to_int64_max) {
  for (const std::int64_t half_life :
       {std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, std::int64_t{1000},
        std::int64_t{1'000'000'007}, std::int64_t{1} << 40, std::int64_t{1} << 62, kMax}) {
    SCOPED_TRACE(::testing::Message() << "half-life " << half_life);
    const bool window = half_life > (std::int64_t{1} << 50);
    constexpr Slot kCounters = 4;
    ForwardStore store;
    store.ensure_slots(kCounters);
    std::vector<ContractCounter> model(kCounters);
    std::vector<std::int64_t> steps(kCounters, 0);
    Rng rng(static_cast<std::uint64_t>(half_life));
    std::int64_t now = window ? 0 : -(std::int64_t{1} << 62);
    for (Slot i = 0; i < kCounters; ++i) {
      store.init(i, half_life, now);
      model[i] = contract_counter(now, half_life);
    }
    const auto below = [&](std::int64_t n) {
      return static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
    };
    const auto next_instant = [&] {
      if (window) return below(kMax) - (std::int64_t{1} << 62);
      if (rng.chance(8)) return now - 1 - below(half_life);
      return now + below(6 * half_life + 1);
    };
    std::int64_t landmark = store.frame().landmark;
    int moves = 0;
    for (int tick = 0; tick < 12'000; ++tick) {
      // Bumps at instants between this tick and the next (some earlier).
      for (int k = 0; k < 3; ++k) {
        const Slot i = static_cast<Slot>(rng.below(kCounters));
        const std::int64_t at = rng.chance(80) ? now : next_instant();
        store.bump(i, at);
        model[i].bump(at);
        ++steps[i];
      }
      now = next_instant();
      TickParams p;
      p.now = now;
      if (rng.chance(50)) p.shared_half_life = half_life;
      std::vector<Candidate> out;
      store.tick(p, out);
      std::size_t next = 0;
      for (Slot i = 0; i < kCounters; ++i) {
        model[i].decay_to(now);
        ++steps[i];
        const CounterState s = store.read(i);
        const double tolerance = numbers_tolerance(steps[i]);
        ASSERT_EQ(s.last_update, now) << "tick " << tick << " slot " << i;
        ASSERT_TRUE(rates_agree_within(s.rate, model[i].rate, tolerance))
            << "tick " << tick << " slot " << i << ": " << s.rate << " vs " << model[i].rate;
        // Never emitted: an Emit of its rate exactly when that is above 0.
        const bool emitted = next < out.size() && out[next].slot == i;
        ASSERT_EQ(emitted, model[i].rate > 0.0) << "tick " << tick << " slot " << i;
        if (emitted) {
          ASSERT_EQ(out[next].kind, Decision::kEmit);
          ASSERT_TRUE(rates_agree_within(out[next].rate, model[i].rate, tolerance));
          ++next;
        }
        if (model[i].rate == 0.0) steps[i] = 0;
      }
      if (store.frame().landmark != landmark) ++moves;
      landmark = store.frame().landmark;
    }
    EXPECT_GE(moves, 1000) << "relayouts " << store.relayouts() << ", fast ticks "
                           << store.fast_ticks();
    EXPECT_GE(store.fast_ticks(), 300);
  }
}

// ---- rounding over long runs ----

// One counter at `rate` (bumped by that count at once), then `ticks` ticks
// `step` ns apart: every tick's rate (the Emit candidate's, and read()'s)
// within 1e-13 relative of rate x 2^-(elapsed / half-life) in long double,
// and agreeing with the scalar reference's literal decay (counter_math.h's
// decayed_rate, tick after tick) as SEMANTICS.md "Numbers" has it: within
// 1e-12, or n x 2^-52 after n ticks (the literal drifts about 0.2 x 2^-52 a
// tick here; the forward rate, two exp2 roundings from its bump, can be a
// little over 2^-52 from it after one tick).
void expect_long_run_stays_exact(double rate, std::int64_t half_life, std::int64_t step, int ticks,
                                 int min_relayouts) {
  const std::int64_t created = 1'000'000'000'000'000;
  const std::int64_t bumped = created + 777;  // the bump's scale is not 1
  ForwardStore store;
  store.ensure_slots(1);
  store.init(0, half_life, created);
  store.bump_by(0, bumped, rate);
  double literal = rate;
  std::int64_t last = bumped;
  long double worst = 0.0L;
  for (int n = 1; n <= ticks; ++n) {
    const std::int64_t now = bumped + static_cast<std::int64_t>(n) * step;
    const double got = store.tick_rate(0, now);
    literal = decayed_rate(literal, last, now, half_life);
    last = now;
    const long double exact =
        static_cast<long double>(rate) *
        std::exp2l(-static_cast<long double>(now - bumped) / static_cast<long double>(half_life));
    ASSERT_GT(exact, 1e-300L);
    const long double error = std::fabs(static_cast<long double>(got) - exact) / exact;
    worst = std::max(worst, error);
    ASSERT_LE(error, 1e-13L) << "tick " << n << ": " << got << " vs exact "
                             << static_cast<double>(exact);
    ASSERT_EQ(store.read(0).rate, got) << "tick " << n;
    ASSERT_TRUE(rates_agree_within(got, literal, numbers_tolerance(n)))
        << "tick " << n << ": " << got << " vs the literal " << literal;
  }
  EXPECT_GE(store.relayouts(), min_relayouts);
  ::testing::Test::RecordProperty("worst_relative_error",
                                  std::to_string(static_cast<double>(worst)));
}

TEST(ForwardMath,
     a_hundred_thousand_ticks_of_1e_minus_5_half_lives_stay_within_1e_minus_13_of_exact) {
  // 1e-5 half-lives a tick, one half-life in all: no relayout.
  expect_long_run_stays_exact(1.0, 100'000'000'000, 1'000'000, 100'000, 0);
}

TEST(ForwardMath,
     seven_thousand_ticks_of_a_7_point_3rd_half_life_stay_within_1e_minus_13_of_exact) {
  // 10/73 of a half-life a tick, 959 half-lives in all (a rate of 2^950 stays
  // far from epsilon), a relayout every 233 ticks or so.
  expect_long_run_stays_exact(0x1p950, 730'000'000, 100'000'000, 7'000, 25);
}

// ---- as a store, against the scalar store ----

TEST(ForwardMath, a_store_over_it_agrees_with_the_scalar_store) {
  const auto make = [] { return std::make_unique<ForwardStore>(); };
  std::vector<StoreRun> runs = mixed_half_life_runs();
  for (auto more : {shared_half_life_runs(), far_apart_instant_runs(), slot_count_runs()}) {
    runs.insert(runs.end(), more.begin(), more.end());
  }
  expect_store_agrees_with_scalar(make, runs);
}

}  // namespace
}  // namespace heatkit::test
