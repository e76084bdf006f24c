// The contract (SEMANTICS.md) on every backend this build has, through the
// registry's ordinary members only. Each test runs once per backend (the
// INSTANTIATE lines at the end: adding a backend is one more line there, and
// ConformanceBackends checks that none the build lists is missing), and on
// both key kinds where the key kind could matter.
//
// Expected values come from the contract, never from another backend: exact
// rates after whole half-lives (0.5^h is exact there), the epsilon snap and
// the 64-half-life cutoff on either side, the gate's rows, the eviction rule
// with its tie-break, and, for random operations, the model of
// tests/unit/contract_model.h, which is SEMANTICS.md written out with its own
// decay. Rates are compared within SEMANTICS.md "Numbers" (1e-12 relative);
// inputs sit far from the ties it allows.
//
// A backend that cannot run here (cuda and thrust without a GPU, any backend
// this build was configured without) skips every test, naming the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <heatkit/heatkit.h>
#include "tests/unit/contract_model.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::key_text;
using test::t0;
namespace contract = test::contract;

constexpr Duration kHalf = 60s;

template <class Registry>
using KeyOf = typename Registry::key_type;

template <class Registry>
KeyOf<Registry> key(std::uint64_t n) {
  return test::make_key<KeyOf<Registry>>(n);
}

template <class Registry>
using EmissionList = std::vector<std::pair<KeyOf<Registry>, HeatEmission>>;

// A policy whose tick decays every counter and offers none (gate row 1).
Policy decay_only() {
  Policy p;
  p.enabled = false;
  return p;
}

// `got` equals the contract's `want` within SEMANTICS.md "Numbers".
::testing::AssertionResult rate_is(double got, double want) {
  if (contract::rates_agree(got, want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::setprecision(17) << "rate " << got
                                       << ", the contract's " << want;
}

std::string emission_text(const HeatEmission& e) {
  std::ostringstream out;
  out << std::setprecision(17);
  if (e.is_emit()) {
    out << "Emit(" << e.rate << ")";
  } else if (e.is_withdraw()) {
    out << "Withdraw";
  } else {
    out << "Suppress";
  }
  return out.str();
}

// A tick's result against the expected candidates, as a set: the same keys,
// kinds, and rates within the contract's tolerance.
template <class Key>
::testing::AssertionResult same_candidates(std::vector<std::pair<Key, HeatEmission>> got,
                                           std::vector<std::pair<Key, HeatEmission>> want) {
  const auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(got.begin(), got.end(), by_key);
  std::sort(want.begin(), want.end(), by_key);
  std::ostringstream diff;
  for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    const bool same = i < got.size() && i < want.size() && got[i].first == want[i].first &&
                      got[i].second.kind == want[i].second.kind &&
                      contract::rates_agree(got[i].second.rate, want[i].second.rate);
    if (same) continue;
    diff << "; at " << i << ": got "
         << (i < got.size() ? key_text(got[i].first) + " " + emission_text(got[i].second) : "nothing")
         << ", expected "
         << (i < want.size() ? key_text(want[i].first) + " " + emission_text(want[i].second)
                             : "nothing");
  }
  if (diff.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << got.size() << " candidates, expected " << want.size()
                                       << diff.str();
}

template <class Registry>
std::vector<KeyOf<Registry>> for_each_order(const Registry& r) {
  std::vector<KeyOf<Registry>> keys;
  r.for_each([&](const KeyOf<Registry>& k, const HeatCounter&) { keys.push_back(k); });
  return keys;
}

template <class Emissions>
bool offers(const Emissions& emissions, const typename Emissions::value_type::first_type& k) {
  return std::any_of(emissions.begin(), emissions.end(), [&](const auto& e) { return e.first == k; });
}

// Runs body.template operator()<Registry>() for HeatRegistry, then for
// BlobHeatRegistry, each under a trace naming it.
template <class Body>
void for_both_key_kinds(Body&& body) {
  {
    SCOPED_TRACE("HeatRegistry (u64 keys)");
    body.template operator()<HeatRegistry>();
  }
  if (::testing::Test::HasFatalFailure()) return;
  {
    SCOPED_TRACE("BlobHeatRegistry (32-byte keys)");
    body.template operator()<BlobHeatRegistry>();
  }
}

// The parameter is the backend's name, as RegistryOptions::backend takes it.
class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const BackendInfo info = backend_info(GetParam());
    if (!info.available) {
      GTEST_SKIP() << "backend '" << info.name << "' cannot run here: " << info.unavailable_reason;
    }
  }

  // A registry of this backend; in-flight tracking left to its key kind's
  // default unless `tracking` says.
  template <class Registry>
  Registry make(std::size_t cap = kDefaultCap, std::optional<bool> tracking = std::nullopt,
                std::optional<std::uint64_t> hash_seed = std::nullopt) const {
    RegistryOptions o;
    o.cap = cap;
    o.track_in_flight = tracking;
    o.backend = GetParam();
    o.hash_seed = hash_seed;
    return Registry(std::move(o));
  }
};

// ======== A counter (SEMANTICS.md "Counter") ========

TEST_P(Conformance, a_new_registry_is_empty_with_the_default_cap_of_8192) {
  for_both_key_kinds([&]<class R>() {
    const auto r = make<R>();
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.cap(), 8192u);
    EXPECT_EQ(r.stats().evictions, 0u);
    EXPECT_EQ(r.stats().pruned, 0u);
    std::size_t visited = 0;
    r.for_each([&](const KeyOf<R>&, const HeatCounter&) { ++visited; });
    EXPECT_EQ(visited, 0u);
  });
}

TEST_P(Conformance, a_new_entry_has_rate_zero_no_emission_and_its_creation_instant) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0() + 5s);
    const auto c = r.get(k);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->rate(), 0.0);
    EXPECT_EQ(c->last_update(), t0() + 5s);
    EXPECT_EQ(c->half_life(), kHalf);
    EXPECT_FALSE(c->last_emitted().has_value());
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_EQ(r.size(), 1u);
    EXPECT_TRUE(r.contains(k));
    EXPECT_FALSE(r.contains(key<R>(2)));
    EXPECT_FALSE(r.get(key<R>(2)).has_value());
  });
}

TEST_P(Conformance, bumps_at_one_instant_add_one_each) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    for (int n = 1; n <= 3; ++n) {
      r.entry(k, kHalf, t0()).bump(t0());
      EXPECT_TRUE(rate_is(r.get(k)->rate(), n)) << n << " bumps";
      EXPECT_EQ(r.get(k)->last_update(), t0());
    }
  });
}

TEST_P(Conformance, each_whole_half_life_halves_the_rate) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    for (int i = 0; i < 4; ++i) r.entry(k, kHalf, t0()).bump(t0());
    const double want[] = {2.0, 1.0, 0.5};
    for (int h = 1; h <= 3; ++h) {
      EXPECT_TRUE(r.tick(decay_only(), t0() + kHalf * h).empty()) << "a disabled policy offers nothing";
      const auto c = r.get(k);
      EXPECT_TRUE(rate_is(c->rate(), want[h - 1])) << h << " half-lives";
      EXPECT_EQ(c->last_update(), t0() + kHalf * h);
    }
  });
}

TEST_P(Conformance, a_bump_decays_first_then_adds_one) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0()).bump(t0());
    r.entry(k, kHalf, t0()).bump(t0());
    r.entry(k, kHalf, t0()).bump(t0() + kHalf);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 2.0)) << "2 halved to 1, plus 1";
    r.entry(k, kHalf, t0()).bump(t0() + kHalf + kHalf / 2);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 2.0 * std::exp2(-0.5) + 1.0)) << "half a half-life";
    EXPECT_EQ(r.get(k)->last_update(), t0() + kHalf + kHalf / 2);
  });
}

// 2^-51 is twice epsilon and stays; 2^-53 is half of it and snaps to 0.
TEST_P(Conformance, a_rate_below_epsilon_snaps_to_zero_and_one_above_stays) {
  for_both_key_kinds([&]<class R>() {
    auto kept = make<R>();
    kept.entry(key<R>(1), kHalf, t0()).bump(t0());
    kept.tick(decay_only(), t0() + kHalf * 51);
    EXPECT_TRUE(rate_is(kept.get(key<R>(1))->rate(), std::ldexp(1.0, -51)));

    auto snapped = make<R>();
    snapped.entry(key<R>(1), kHalf, t0()).bump(t0());
    snapped.tick(decay_only(), t0() + kHalf * 53);
    EXPECT_EQ(snapped.get(key<R>(1))->rate(), 0.0) << "2^-53 is below epsilon";
  });
}

// 10,000 * 2^-64 (5.4e-16) is above epsilon: exactly 64 half-lives keep it,
// a nanosecond more clears it.
TEST_P(Conformance, more_than_sixty_four_half_lives_clear_the_rate) {
  for_both_key_kinds([&]<class R>() {
    const auto k = key<R>(1);
    const std::vector<KeyOf<R>> reads(10'000, k);
    auto at_64 = make<R>();
    at_64.bump_batch(std::span<const KeyOf<R>>(reads), kHalf, t0());
    ASSERT_TRUE(rate_is(at_64.get(k)->rate(), 10'000.0));
    at_64.tick(decay_only(), t0() + kHalf * 64);
    EXPECT_TRUE(rate_is(at_64.get(k)->rate(), 10'000.0 * std::ldexp(1.0, -64)));

    auto past_64 = make<R>();
    past_64.bump_batch(std::span<const KeyOf<R>>(reads), kHalf, t0());
    past_64.tick(decay_only(), t0() + kHalf * 64 + 1ns);
    EXPECT_EQ(past_64.get(k)->rate(), 0.0);
  });
}

TEST_P(Conformance, time_going_backwards_decays_nothing_and_moves_last_update_back) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0() + 10s).bump(t0() + 10s);
    r.tick(decay_only(), t0());  // 10 s earlier
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 1.0)) << "no decay backwards";
    EXPECT_EQ(r.get(k)->last_update(), t0()) << "last_update follows now back";
    // Decay now counts from t0, not from t0 + 10 s.
    r.tick(decay_only(), t0() + kHalf);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 0.5));
    // A bump in the past: no decay, one more, last_update back again.
    r.entry(k, kHalf, t0()).bump(t0() + 30s);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 1.5));
    EXPECT_EQ(r.get(k)->last_update(), t0() + 30s);
  });
}

TEST_P(Conformance, a_zero_half_life_never_decays) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, 0s, t0()).bump(t0());
    r.entry(k, 0s, t0()).bump(t0() + 1s);
    r.tick(decay_only(), t0() + kHalf * 1000);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 2.0));
    EXPECT_EQ(r.get(k)->last_update(), t0() + kHalf * 1000);
  });
}

TEST_P(Conformance, an_existing_key_keeps_its_half_life_and_a_lookup_does_not_touch_it) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0()).bump(t0());
    r.entry(k, 1s, t0() + 30s);  // get, not create: both arguments ignored
    EXPECT_EQ(r.get(k)->half_life(), kHalf);
    EXPECT_EQ(r.get(k)->last_update(), t0());
    r.tick(decay_only(), t0() + kHalf);
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 0.5)) << "decayed by its own 60 s, not 1 s";
  });
}

TEST_P(Conformance, bump_batch_is_bumping_each_read_in_turn) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto a = key<R>(1);
    const auto b = key<R>(2);
    const std::vector<KeyOf<R>> keys = {a, b, a, a};
    r.bump_batch(std::span<const KeyOf<R>>(keys), kHalf, t0());
    EXPECT_TRUE(rate_is(r.get(a)->rate(), 3.0));
    EXPECT_TRUE(rate_is(r.get(b)->rate(), 1.0));
    // Each read at its own instant, time going back in between.
    const std::vector<std::pair<KeyOf<R>, Instant>> timed = {
        {a, t0() + kHalf}, {b, t0() + 2 * kHalf}, {a, t0()}, {b, t0() + 3 * kHalf}};
    r.bump_batch(std::span<const std::pair<KeyOf<R>, Instant>>(timed), kHalf);
    EXPECT_TRUE(rate_is(r.get(a)->rate(), 3.0 / 2 + 1 + 1)) << "halved, +1, then +1 in the past";
    EXPECT_EQ(r.get(a)->last_update(), t0());
    EXPECT_TRUE(rate_is(r.get(b)->rate(), (1.0 / 4 + 1) / 2 + 1));
  });
}

// ======== The gate, as a tick applies it (SEMANTICS.md "Emission gate") ========

TEST_P(Conformance, a_first_observation_is_emitted_at_its_decayed_rate_and_nothing_recorded) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    const auto idle = key<R>(2);  // rate 0, never emitted: Suppress
    for (int i = 0; i < 3; ++i) r.entry(k, kHalf, t0()).bump(t0());
    r.entry(idle, kHalf, t0());
    const auto emissions = r.tick(Policy{}, t0() + kHalf);
    EXPECT_TRUE(same_candidates<KeyOf<R>>(emissions, {{k, HeatEmission::emit(1.5)}}));
    EXPECT_FALSE(r.get(k)->last_emitted().has_value()) << "tick records nothing";
  });
}

// Each counter's last emission set by committing an emission of our choosing
// (commit records any Emit or Withdraw it is given), then one tick.
TEST_P(Conformance, the_gate_compares_the_rate_with_the_last_emission_by_the_ratio_both_ways) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, false);
    struct Row {
      int bumps;
      HeatEmission committed;
      std::optional<HeatEmission> expected;
    };
    const Row rows[] = {
        {3, HeatEmission::emit(1.0), HeatEmission::emit(3.0)},  // 3/1 >= 2
        {3, HeatEmission::emit(2.0), std::nullopt},             // 1.5 either way
        {1, HeatEmission::emit(4.0), HeatEmission::emit(1.0)},  // 4/1 >= 2, downwards
        {2, HeatEmission::emit(3.0), std::nullopt},             // 1.5 either way
        {1, HeatEmission::withdraw(), HeatEmission::emit(1.0)}, // prev 0: heat returns
        {2, HeatEmission::emit(-1.0), HeatEmission::emit(2.0)}, // prev <= 0
        {0, HeatEmission::emit(5.0), HeatEmission::withdraw()}, // rate 0, prev > 0
    };
    EmissionList<R> commits, want;
    for (std::uint64_t i = 0; i < std::size(rows); ++i) {
      const auto k = key<R>(i);
      auto e = r.entry(k, kHalf, t0());
      for (int b = 0; b < rows[i].bumps; ++b) e.bump(t0());
      commits.emplace_back(k, rows[i].committed);
      if (rows[i].expected) want.emplace_back(k, *rows[i].expected);
    }
    r.commit(commits);
    EXPECT_EQ(r.get(key<R>(0))->last_emitted(), 1.0);
    EXPECT_EQ(r.get(key<R>(4))->last_emitted(), 0.0) << "a withdrawal records 0";
    EXPECT_TRUE(same_candidates(r.tick(Policy{}, t0()), want));
  });
}

// The f32 ratio 1.1f is 1.100000023841858 as a double: a rate 1.1 times the
// last emission is below it (Suppress), one 1.1000001 times is above (Emit).
// Comparing in f32 would round 1.1 up to 1.1f and emit.
TEST_P(Conformance, the_ratio_is_the_f32_value_widened_to_f64) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, false);
    Policy policy;
    policy.emit_threshold_ratio = 1.1f;
    const auto up = key<R>(1), up_more = key<R>(2), down = key<R>(3);
    for (const auto& k : {up, up_more, down}) r.entry(k, kHalf, t0()).bump(t0());  // rate 1
    const EmissionList<R> commits = {{up, HeatEmission::emit(1.0 / 1.1)},
                                     {up_more, HeatEmission::emit(1.0 / 1.1000001)},
                                     {down, HeatEmission::emit(1.1)}};
    r.commit(commits);
    EXPECT_TRUE(same_candidates<KeyOf<R>>(r.tick(policy, t0()), {{up_more, HeatEmission::emit(1.0)}}));
  });
}

TEST_P(Conformance, a_disabled_policy_offers_nothing_but_still_decays) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto fresh = key<R>(1), withdrawing = key<R>(2);
    r.entry(fresh, kHalf, t0()).bump(t0());
    r.entry(withdrawing, kHalf, t0());
    const EmissionList<R> commits = {{withdrawing, HeatEmission::emit(3.0)}};
    r.commit(commits);
    EXPECT_TRUE(r.tick(decay_only(), t0() + kHalf).empty());
    EXPECT_FALSE(r.in_flight(fresh)) << "nothing offered, nothing marked";
    EXPECT_TRUE(rate_is(r.get(fresh)->rate(), 0.5));
    EXPECT_TRUE(same_candidates<KeyOf<R>>(
        r.tick(Policy{}, t0() + kHalf),
        {{fresh, HeatEmission::emit(0.5)}, {withdrawing, HeatEmission::withdraw()}}))
        << "the same counters under an enabled policy";
  });
}

// ======== The tick's result: order, commit, rollback, in flight ========

// SEMANTICS.md "Orders": slot order, the order of for_each, the same
// whatever secret the keys are hashed with; a freed slot goes to the next
// new key.
TEST_P(Conformance, a_tick_lists_its_candidates_in_for_each_order_whatever_the_hash_secret) {
  for_both_key_kinds([&]<class R>() {
    auto a = make<R>(kDefaultCap, false, 0x1111);
    auto b = make<R>(kDefaultCap, false, 0x2222'3333'4444);
    for (auto* r : {&a, &b}) {
      for (std::uint64_t i = 0; i < 40; ++i) {
        for (std::uint64_t n = 0; n <= i % 3; ++n) r->entry(key<R>(i), kHalf, t0()).bump(t0());
      }
      for (std::uint64_t i = 5; i < 40; i += 7) r->remove(key<R>(i));
      for (std::uint64_t i = 100; i < 110; ++i) r->entry(key<R>(i), kHalf, t0() + 1s).bump(t0() + 1s);
    }
    const auto order = for_each_order(a);
    EXPECT_EQ(order, for_each_order(b));
    const auto ta = a.tick(Policy{}, t0() + 2s);
    const auto tb = b.tick(Policy{}, t0() + 2s);
    ASSERT_EQ(ta.size(), order.size()) << "every counter emits its first observation";
    for (std::size_t i = 0; i < ta.size(); ++i) {
      EXPECT_EQ(ta[i].first, order[i]) << "candidate " << i;
      EXPECT_EQ(tb[i].first, order[i]) << "candidate " << i;
    }
  });
}

TEST_P(Conformance, a_new_key_takes_the_place_of_the_last_removed_one_in_the_order) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, false);
    for (std::uint64_t i = 0; i < 6; ++i) r.entry(key<R>(i), kHalf, t0()).bump(t0());
    auto order = for_each_order(r);
    const auto gone = order[2];
    r.remove(gone);
    r.entry(key<R>(77), kHalf, t0()).bump(t0());
    std::replace(order.begin(), order.end(), gone, key<R>(77));
    EXPECT_EQ(for_each_order(r), order);
    const auto emissions = r.tick(Policy{}, t0());
    ASSERT_EQ(emissions.size(), order.size());
    for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(emissions[i].first, order[i]);
  });
}

TEST_P(Conformance, commit_records_the_emission_and_the_next_tick_compares_against_it) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    for (int i = 0; i < 4; ++i) r.entry(k, kHalf, t0()).bump(t0());
    const auto first = r.tick(Policy{}, t0());
    ASSERT_TRUE(same_candidates<KeyOf<R>>(first, {{k, HeatEmission::emit(4.0)}}));
    r.commit(first);
    EXPECT_EQ(r.get(k)->last_emitted(), 4.0);
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_TRUE(r.tick(Policy{}, t0() + kHalf / 2).empty()) << "4 * 2^-0.5 is within the ratio";
    const auto second = r.tick(Policy{}, t0() + 2 * kHalf);
    EXPECT_TRUE(same_candidates<KeyOf<R>>(second, {{k, HeatEmission::emit(1.0)}}));
    r.commit(second);
    EXPECT_TRUE(rate_is(r.get(k)->last_emitted().value_or(-1.0), 1.0)) << "the emitted rate recorded";
  });
}

// The seed's HeatRegistry (and any registry without in-flight tracking): an
// uncommitted tick is offered again.
TEST_P(Conformance, without_tracking_an_uncommitted_tick_is_offered_again) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, false);
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0()).bump(t0());
    const EmissionList<R> want = {{k, HeatEmission::emit(1.0)}};
    EXPECT_TRUE(same_candidates(r.tick(Policy{}, t0()), want));
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_TRUE(same_candidates(r.tick(Policy{}, t0()), want)) << "a failed sink must not silence it";
  });
}

TEST_P(Conformance, in_flight_tracking_is_on_for_blob_keys_and_off_for_u64_keys_by_default) {
  auto u64 = make<HeatRegistry>();
  auto blob = make<BlobHeatRegistry>();
  u64.entry(1, kHalf, t0()).bump(t0());
  blob.entry(test::hash(1), kHalf, t0()).bump(t0());
  (void)u64.tick(Policy{}, t0());
  (void)blob.tick(Policy{}, t0());
  EXPECT_EQ(u64.tick(Policy{}, t0()).size(), 1u);
  EXPECT_TRUE(blob.tick(Policy{}, t0()).empty());
}

TEST_P(Conformance, with_tracking_a_tick_skips_keys_in_flight_but_still_decays_them) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto k = key<R>(1);
    const auto idle = key<R>(2);
    for (int i = 0; i < 4; ++i) r.entry(k, kHalf, t0()).bump(t0());
    r.entry(idle, kHalf, t0());
    const auto first = r.tick(Policy{}, t0());
    ASSERT_TRUE(same_candidates<KeyOf<R>>(first, {{k, HeatEmission::emit(4.0)}}));
    EXPECT_TRUE(r.in_flight(k)) << "every returned key is marked";
    EXPECT_FALSE(r.in_flight(idle)) << "only returned keys are marked";
    EXPECT_TRUE(r.tick(Policy{}, t0() + 2 * kHalf).empty()) << "in flight: not offered again";
    EXPECT_TRUE(rate_is(r.get(k)->rate(), 1.0)) << "but decayed";
    r.commit(first);
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_TRUE(same_candidates<KeyOf<R>>(r.tick(Policy{}, t0() + 2 * kHalf),
                                          {{k, HeatEmission::emit(1.0)}}));
  });
}

TEST_P(Conformance, rollback_clears_the_mark_without_recording_so_the_next_tick_offers_it_again) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto k = key<R>(1);
    for (int i = 0; i < 2; ++i) r.entry(k, kHalf, t0()).bump(t0());
    const EmissionList<R> want = {{k, HeatEmission::emit(2.0)}};
    EXPECT_TRUE(same_candidates(r.tick(Policy{}, t0()), want));
    r.rollback(k);
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_FALSE(r.get(k)->last_emitted().has_value());
    EXPECT_TRUE(same_candidates(r.tick(Policy{}, t0()), want));
    r.rollback(key<R>(99));  // absent: nothing happens
    EXPECT_EQ(r.size(), 1u);
  });
}

TEST_P(Conformance, commit_clears_the_mark_of_every_listed_key_and_ignores_absent_keys) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto k = key<R>(1);
    const auto absent = key<R>(2);
    r.entry(k, kHalf, t0()).bump(t0());
    (void)r.tick(Policy{}, t0());
    ASSERT_TRUE(r.in_flight(k));
    const EmissionList<R> commits = {{k, HeatEmission::suppress()},
                                     {absent, HeatEmission::emit(9.0)},
                                     {absent, HeatEmission::withdraw()}};
    r.commit(commits);
    EXPECT_FALSE(r.in_flight(k)) << "a listed Suppress clears the mark too";
    EXPECT_FALSE(r.get(k)->last_emitted().has_value()) << "and records nothing";
    EXPECT_FALSE(r.contains(absent));
    EXPECT_EQ(r.size(), 1u);
  });
}

TEST_P(Conformance, remove_drops_the_counter_and_its_mark_so_a_recreated_key_is_offered) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto k = key<R>(1);
    for (int i = 0; i < 3; ++i) r.entry(k, kHalf, t0()).bump(t0());
    const auto emitted = r.tick(Policy{}, t0());
    ASSERT_TRUE(r.in_flight(k));
    r.remove(k);
    EXPECT_FALSE(r.contains(k));
    EXPECT_TRUE(r.size() == 0u);
    r.commit(emitted);  // the removed key: ignored
    EXPECT_TRUE(r.size() == 0u);
    r.entry(k, kHalf, t0() + 1s).bump(t0() + 1s);
    const auto c = r.get(k);
    EXPECT_TRUE(rate_is(c->rate(), 1.0)) << "a fresh counter";
    EXPECT_FALSE(c->last_emitted().has_value());
    EXPECT_FALSE(r.in_flight(k));
    EXPECT_TRUE(same_candidates<KeyOf<R>>(r.tick(Policy{}, t0() + 1s), {{k, HeatEmission::emit(1.0)}}));
    r.remove(key<R>(99));  // absent: nothing happens
    EXPECT_EQ(r.size(), 1u);
  });
}

// ======== Prune (SEMANTICS.md "commit") ========

TEST_P(Conformance, commit_prunes_exactly_the_counters_at_rate_zero_whose_last_emission_is_not_above_zero) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, false);
    const auto withdrawn_cold = key<R>(1);  // rate 0, last 0: pruned
    const auto negative_cold = key<R>(2);   // rate 0, last -1: pruned
    const auto emitted_cold = key<R>(3);    // rate 0, last 4: kept (a withdrawal is due)
    const auto never_emitted = key<R>(4);   // rate 0, nothing emitted: kept
    const auto withdrawn_warm = key<R>(5);  // rate 1, last 0: kept
    for (const auto& k : {withdrawn_cold, negative_cold, emitted_cold, never_emitted}) {
      r.entry(k, kHalf, t0());
    }
    r.entry(withdrawn_warm, kHalf, t0()).bump(t0());
    const EmissionList<R> commits = {{withdrawn_cold, HeatEmission::withdraw()},
                                     {negative_cold, HeatEmission::emit(-1.0)},
                                     {emitted_cold, HeatEmission::emit(4.0)},
                                     {withdrawn_warm, HeatEmission::withdraw()}};
    r.commit(commits);
    EXPECT_FALSE(r.contains(withdrawn_cold));
    EXPECT_FALSE(r.contains(negative_cold));
    EXPECT_TRUE(r.contains(emitted_cold));
    EXPECT_TRUE(r.contains(never_emitted));
    EXPECT_TRUE(r.contains(withdrawn_warm));
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.stats().pruned, 2u);
  });
}

TEST_P(Conformance, the_commit_that_records_a_withdrawal_of_a_cold_counter_prunes_it) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>();
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0()).bump(t0());
    r.commit(r.tick(Policy{}, t0()));
    ASSERT_EQ(r.size(), 1u);
    const auto withdrawal = r.tick(Policy{}, t0() + 100 * kHalf);
    ASSERT_TRUE(same_candidates<KeyOf<R>>(withdrawal, {{k, HeatEmission::withdraw()}}));
    EXPECT_TRUE(r.contains(k)) << "a tick prunes nothing";
    r.commit(withdrawal);
    EXPECT_FALSE(r.contains(k));
    EXPECT_EQ(r.stats().pruned, 1u);
    EXPECT_TRUE(r.tick(Policy{}, t0() + 101 * kHalf).empty());
  });
}

TEST_P(Conformance, a_counter_pruned_while_in_flight_comes_back_unmarked) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(kDefaultCap, true);
    const auto k = key<R>(1);
    r.entry(k, kHalf, t0()).bump(t0());
    const EmissionList<R> withdrawn = {{k, HeatEmission::withdraw()}};
    r.commit(withdrawn);  // rate 1, last 0: kept
    ASSERT_TRUE(r.contains(k));
    (void)r.tick(Policy{}, t0());  // Emit(1): in flight
    ASSERT_TRUE(r.in_flight(k));
    (void)r.tick(Policy{}, t0() + 100 * kHalf);  // decays to 0, still in flight
    r.commit({});  // rate 0, last 0: pruned, mark and all
    EXPECT_FALSE(r.contains(k));
    r.entry(k, kHalf, t0() + 101 * kHalf).bump(t0() + 101 * kHalf);
    EXPECT_FALSE(r.in_flight(k)) << "a re-created key starts unmarked";
    EXPECT_TRUE(same_candidates<KeyOf<R>>(r.tick(Policy{}, t0() + 101 * kHalf),
                                          {{k, HeatEmission::emit(1.0)}}));
  });
}

// ======== Eviction (SEMANTICS.md "Registry", the tie-break) ========

TEST_P(Conformance, a_new_key_at_the_cap_evicts_the_smallest_last_update) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(3);
    const auto a = key<R>(1), b = key<R>(2), c = key<R>(3), d = key<R>(4);
    r.entry(a, kHalf, t0() + 1s).bump(t0() + 1s);
    r.entry(b, kHalf, t0() + 2s).bump(t0() + 2s);
    r.entry(c, kHalf, t0() + 3s).bump(t0() + 3s);
    r.entry(a, kHalf, t0()).bump(t0() + 4s);  // a is now the newest
    r.entry(b, kHalf, t0() + 9s);            // a lookup refreshes nothing
    r.entry(d, kHalf, t0() + 5s);
    EXPECT_FALSE(r.contains(b)) << "b has the smallest last_update";
    EXPECT_TRUE(r.contains(a));
    EXPECT_TRUE(r.contains(c));
    EXPECT_TRUE(r.contains(d));
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.stats().evictions, 1u);
    r.entry(a, kHalf, t0() + 6s).bump(t0() + 6s);  // an existing key evicts nothing
    EXPECT_EQ(r.size(), 3u);
    EXPECT_EQ(r.stats().evictions, 1u);
  });
}

TEST_P(Conformance, among_equal_last_updates_the_earliest_bump_or_creation_is_evicted_first) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(3);
    const auto a = key<R>(1), b = key<R>(2), c = key<R>(3);
    r.entry(a, kHalf, t0()).bump(t0());
    r.entry(b, kHalf, t0());  // created, not bumped: creation counts as its bump
    r.entry(c, kHalf, t0()).bump(t0());
    r.entry(a, kHalf, t0()).bump(t0());  // order of last bumps: b, c, a
    r.entry(b, kHalf, t0());             // a lookup is no bump
    std::vector<KeyOf<R>> evicted;
    for (std::uint64_t n = 10; n < 13; ++n) {
      const auto before = for_each_order(r);
      r.entry(key<R>(n), kHalf, t0());
      for (const auto& k : before) {
        if (!r.contains(k)) evicted.push_back(k);
      }
    }
    EXPECT_EQ(evicted, (std::vector<KeyOf<R>>{b, c, a}));
  });
}

TEST_P(Conformance, after_a_tick_ties_every_last_update_the_least_recently_bumped_goes_first) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(3);
    const auto a = key<R>(1), b = key<R>(2), c = key<R>(3);
    r.entry(c, kHalf, t0() + 1s).bump(t0() + 1s);  // created first
    r.entry(a, kHalf, t0() + 2s).bump(t0() + 2s);
    r.entry(b, kHalf, t0() + 3s).bump(t0() + 3s);
    r.entry(c, kHalf, t0() + 3s).bump(t0() + 3s);  // bumped last
    r.commit(r.tick(Policy{}, t0() + 10s));         // every last_update is t0 + 10 s
    r.entry(key<R>(4), kHalf, t0() + 11s);
    EXPECT_FALSE(r.contains(a)) << "a was bumped least recently";
    r.entry(key<R>(5), kHalf, t0() + 11s);
    EXPECT_FALSE(r.contains(b));
    EXPECT_TRUE(r.contains(c));
  });
}

TEST_P(Conformance, a_counter_moved_back_in_time_is_evicted_before_older_ones) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(3);
    const auto a = key<R>(1), b = key<R>(2), c = key<R>(3);
    r.entry(a, kHalf, t0() + 1s).bump(t0() + 1s);
    r.entry(b, kHalf, t0() + 2s).bump(t0() + 2s);
    r.entry(c, kHalf, t0() + 3s).bump(t0() + 3s);
    r.entry(c, kHalf, t0()).bump(t0());  // the latest bump, at the earliest instant
    r.entry(key<R>(4), kHalf, t0() + 4s);
    EXPECT_FALSE(r.contains(c)) << "the victim is the smallest last_update, not the oldest bump";
    EXPECT_TRUE(r.contains(a));
    EXPECT_TRUE(r.contains(b));
  });
}

TEST_P(Conformance, eviction_clears_the_victims_mark_so_it_comes_back_unmarked) {
  for_both_key_kinds([&]<class R>() {
    auto r = make<R>(2, true);
    const auto a = key<R>(1), b = key<R>(2), c = key<R>(3);
    for (int i = 0; i < 8; ++i) r.entry(a, kHalf, t0()).bump(t0());
    (void)r.tick(Policy{}, t0());
    ASSERT_TRUE(r.in_flight(a));
    r.entry(b, kHalf, t0() + 10ms).bump(t0() + 10ms);
    r.entry(c, kHalf, t0() + 20ms).bump(t0() + 20ms);
    EXPECT_FALSE(r.contains(a));
    r.entry(a, kHalf, t0() + 30ms).bump(t0() + 30ms);
    EXPECT_FALSE(r.in_flight(a));
    EXPECT_TRUE(offers(r.tick(Policy{}, t0() + 30ms), a));
  });
}

// Thousands of evictions at a cap of 50, with instants that mostly repeat
// (ties), sometimes go back, and ticks that tie every last_update: after
// each operation the registry holds exactly the model's keys, so every
// victim was the model's (smallest last_update, then earliest bump).
TEST_P(Conformance, every_eviction_of_a_long_run_takes_the_contracts_victim) {
  for_both_key_kinds([&]<class R>() {
    constexpr std::size_t kCap = 50;
    auto r = make<R>(kCap, false);
    contract::Registry<KeyOf<R>> model(kCap, false);
    test::Rng rng(9);
    Instant now = t0();
    std::uint64_t next_key = 0;
    for (int op = 0; op < 5000; ++op) {
      const std::uint64_t dice = rng.below(100);
      if (dice < 30) {
        now += std::chrono::milliseconds(1 + rng.below(3));
      } else if (dice < 35) {
        now -= std::chrono::milliseconds(1 + rng.below(3));
      }
      if (dice >= 92) {
        r.tick(decay_only(), now);
        model.tick(decay_only(), now);
      } else if (dice < 55 || model.size() < kCap) {
        const auto k = key<R>(next_key++);
        r.entry(k, kHalf, now).bump(now);
        model.bump(k, kHalf, now);
      } else {
        auto it = model.entries().begin();
        std::advance(it, static_cast<std::ptrdiff_t>(rng.below(model.size())));
        const auto k = it->first;
        r.entry(k, kHalf, now).bump(now);
        model.bump(k, kHalf, now);
      }
      ASSERT_EQ(r.size(), model.size()) << "op " << op;
      for (const auto& [k, e] : model.entries()) {
        ASSERT_TRUE(r.contains(k)) << "op " << op << ": " << key_text(k) << " evicted instead of the model's victim";
      }
    }
    EXPECT_GT(model.evictions(), 1000u);
    EXPECT_EQ(r.stats().evictions, model.evictions());
  });
}

TEST_P(Conformance, a_cap_is_never_exceeded_and_the_oldest_keys_go_while_cap_zero_is_unbounded) {
  for_both_key_kinds([&]<class R>() {
    auto capped = make<R>(100);
    auto unbounded = make<R>(0);
    EXPECT_EQ(capped.cap(), 100u);
    EXPECT_EQ(unbounded.cap(), 0u);
    for (std::uint64_t i = 0; i < 3000; ++i) {
      const Instant at = t0() + std::chrono::milliseconds(i);
      capped.entry(key<R>(i), kHalf, at).bump(at);
      unbounded.entry(key<R>(i), kHalf, at).bump(at);
      ASSERT_LE(capped.size(), 100u);
    }
    EXPECT_EQ(capped.size(), 100u);
    EXPECT_EQ(capped.stats().evictions, 2900u);
    for (std::uint64_t i = 2900; i < 3000; ++i) EXPECT_TRUE(capped.contains(key<R>(i))) << i;
    EXPECT_EQ(unbounded.size(), 3000u);
    EXPECT_EQ(unbounded.stats().evictions, 0u);
  });
}

// ======== Growth ========

// Thousands of counters: the registry grows its columns many times (and, at
// a cap not a power of two, by smaller steps near it); every counter keeps
// its state, and a tick decays each by its own elapsed time.
TEST_P(Conformance, growth_keeps_every_counter) {
  for_both_key_kinds([&]<class R>() {
    for (const std::size_t cap : {std::size_t{0}, std::size_t{3000}}) {
      SCOPED_TRACE("cap " + std::to_string(cap));
      constexpr std::uint64_t kKeys = 3500;
      auto r = make<R>(cap, false);
      contract::Registry<KeyOf<R>> model(cap, false);
      for (std::uint64_t i = 0; i < kKeys; ++i) {
        const Instant at = t0() + std::chrono::milliseconds(10 * i);
        for (std::uint64_t n = 0; n <= i % 4; ++n) {
          r.entry(key<R>(i), kHalf, at).bump(at);
          model.bump(key<R>(i), kHalf, at);
        }
      }
      ASSERT_EQ(r.size(), model.size());
      EXPECT_EQ(r.stats().evictions, model.evictions());
      for (const auto& [k, e] : model.entries()) {
        const auto got = r.get(k);
        ASSERT_TRUE(got.has_value()) << key_text(k);
        ASSERT_EQ(contract::counter_mismatch(*got, e.counter), "") << key_text(k);
      }
      const Instant later = t0() + kHalf * 3;
      EXPECT_TRUE(same_candidates(r.tick(Policy{}, later), model.tick(Policy{}, later)));
    }
  });
}

// More counters than the host backends give one thread (32K slots): the
// passes split over threads and the result is still every counter, in
// for_each order, then every withdrawal, then every prune.
TEST_P(Conformance, a_tick_over_every_counter_of_a_large_registry_offers_each_once_in_order) {
  for_both_key_kinds([&]<class R>() {
    constexpr std::uint64_t kKeys = 70'000;
    auto r = make<R>(0, false);
    std::vector<KeyOf<R>> keys;
    for (std::uint64_t i = 0; i < kKeys; ++i) keys.push_back(test::random_key<KeyOf<R>>(i, 7));
    r.bump_batch(std::span<const KeyOf<R>>(keys), kHalf, t0());
    const auto order = for_each_order(r);
    ASSERT_EQ(order.size(), kKeys);
    const auto emitted = r.tick(Policy{}, t0() + kHalf);
    ASSERT_EQ(emitted.size(), kKeys);
    for (std::size_t i = 0; i < kKeys; ++i) {
      ASSERT_EQ(emitted[i].first, order[i]) << "candidate " << i;
      ASSERT_TRUE(emitted[i].second.is_emit()) << "candidate " << i;
      ASSERT_TRUE(rate_is(emitted[i].second.rate, 0.5)) << "candidate " << i;
    }
    r.commit(emitted);
    const auto withdrawn = r.tick(Policy{}, t0() + 100 * kHalf);
    ASSERT_EQ(withdrawn.size(), kKeys);
    for (std::size_t i = 0; i < kKeys; ++i) {
      ASSERT_EQ(withdrawn[i].first, order[i]) << "candidate " << i;
      ASSERT_TRUE(withdrawn[i].second.is_withdraw()) << "candidate " << i;
    }
    r.commit(withdrawn);
    EXPECT_TRUE(r.size() == 0u);
    EXPECT_EQ(r.stats().pruned, kKeys);
  });
}

// ======== Random operations against the contract's model ========

// Random entries, bumps, batches, ticks under random policies, full and
// partial commits (with keys not present), rollbacks and removes, over a
// small key universe at a small cap, with time repeating, going back and
// jumping past 64 half-lives; the whole registry must equal the model
// (contract_model.h) after every few operations and every tick.
template <class Registry>
class ModelRun {
 public:
  using Key = KeyOf<Registry>;
  using Emissions = EmissionList<Registry>;

  ModelRun(Registry registry, std::size_t cap, bool tracking, std::uint64_t seed)
      : registry_(std::move(registry)), model_(cap, tracking), rng_(seed) {
    for (std::uint64_t i = 0; i < 2 * cap + 3; ++i) universe_.push_back(test::random_key<Key>(i, seed));
  }

  void run(int ops) {
    for (op_index_ = 0; op_index_ < ops; ++op_index_) {
      move_time();
      const bool ticked = step();
      if (!error_.empty()) break;
      if (ticked || op_index_ % 8 == 0) compare();
      if (!error_.empty()) break;
    }
    ASSERT_EQ(error_, "") << "op #" << op_index_ << " (" << op_ << ")";
    EXPECT_EQ(registry_.stats().evictions, model_.evictions());
    EXPECT_EQ(registry_.stats().pruned, model_.pruned());
    // The run must have exercised what it claims to.
    EXPECT_GT(model_.evictions(), 0u);
    EXPECT_GT(model_.pruned(), 0u);
    EXPECT_GT(emits_, 0u);
    EXPECT_GT(withdrawals_, 0u);
  }

 private:
  void move_time() {
    const std::uint64_t r = rng_.below(100);
    if (r < 35) return;  // repeated instant
    if (r < 65) {
      now_ += Duration(static_cast<std::int64_t>(rng_.below(2'000'000'000)));
    } else if (r < 80) {
      now_ -= Duration(static_cast<std::int64_t>(rng_.below(500'000'000)));  // back
    } else if (r < 92) {
      static const std::int64_t kHalfLives[] = {1, 2, 10, 63, 65, 100};
      now_ += kHalf * rng_.pick(kHalfLives);
    } else {
      now_ -= kHalf * static_cast<std::int64_t>(rng_.below(70));  // far back
    }
  }

  const Key& some_key() { return universe_[rng_.below(universe_.size())]; }

  // One random operation on both; true for a tick.
  bool step() {
    const std::uint64_t r = rng_.below(100);
    const Key k = some_key();
    if (r < 35) {
      op_ = "entry+bump " + key_text(k);
      const Duration half = rng_.half_life();
      const Instant created = now_ - Duration(static_cast<std::int64_t>(rng_.below(3)) * 1'000'000);
      registry_.entry(k, half, created).bump(now_);
      model_.bump(k, half, created, now_);
    } else if (r < 40) {
      op_ = "entry " + key_text(k);
      const Duration half = rng_.half_life();
      registry_.entry(k, half, now_);
      model_.entry(k, half, now_);
    } else if (r < 45) {
      op_ = "bump_batch";
      std::vector<Key> keys;
      for (std::uint64_t n = rng_.below(6); n > 0; --n) keys.push_back(some_key());
      registry_.bump_batch(std::span<const Key>(keys), kHalf, now_);
      for (const Key& each : keys) model_.bump(each, kHalf, now_);
    } else if (r < 58) {
      op_ = "tick";
      const Policy p = rng_.policy();
      Emissions got = registry_.tick(p, now_);
      Emissions want = model_.tick(p, now_);
      if (auto same = same_candidates(got, want); !same) error_ = same.message();
      for (const auto& [key, e] : want) {
        emits_ += e.is_emit();
        withdrawals_ += e.is_withdraw();
      }
      // Each side commits what it returned, as a caller would (the rates
      // may differ in the last bits); sorted by key so that the partial
      // commits below pick the same keys from both.
      const auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::sort(got.begin(), got.end(), by_key);
      std::sort(want.begin(), want.end(), by_key);
      last_tick_ = {std::move(got), std::move(want)};
      return true;
    } else if (r < 68) {
      op_ = "commit (full)";
      commit(last_tick_);
    } else if (r < 74) {
      op_ = "commit (partial, with keys that may be absent)";
      Commit some;
      for (std::size_t i = 0; i < last_tick_.model.size(); ++i) {
        if (!rng_.chance(50)) continue;
        some.registry.push_back(last_tick_.registry[i]);
        some.model.push_back(last_tick_.model[i]);
      }
      const Key stranger = some_key();
      some.registry.emplace_back(stranger, HeatEmission::withdraw());
      some.model.emplace_back(stranger, HeatEmission::withdraw());
      commit(some);
    } else if (r < 82) {
      op_ = "rollback " + key_text(k);
      registry_.rollback(k);
      model_.rollback(k);
    } else if (r < 90) {
      op_ = "remove " + key_text(k);
      registry_.remove(k);
      model_.remove(k);
    } else {
      op_ = "get " + key_text(k);
      if (registry_.get(k).has_value() != (model_.find(k) != nullptr)) error_ = "get disagrees";
    }
    return false;
  }

  struct Commit {
    Emissions registry, model;
  };
  void commit(const Commit& c) {
    registry_.commit(c.registry);
    model_.commit(c.model);
  }

  void compare() {
    std::ostringstream out;
    if (registry_.size() != model_.size()) {
      out << "size " << registry_.size() << ", model " << model_.size();
    } else {
      for (const auto& [k, e] : model_.entries()) {
        const auto got = registry_.get(k);
        if (!got) {
          out << key_text(k) << " missing (the wrong entry evicted?)";
          break;
        }
        if (const std::string diff = contract::counter_mismatch(*got, e.counter); !diff.empty()) {
          out << key_text(k) << ": " << diff;
          break;
        }
        if (registry_.in_flight(k) != e.in_flight) {
          out << key_text(k) << " in flight " << registry_.in_flight(k) << ", model " << e.in_flight;
          break;
        }
      }
    }
    error_ = out.str();
  }

  Registry registry_;
  contract::Registry<Key> model_;
  test::Rng rng_;
  std::vector<Key> universe_;
  Commit last_tick_;
  Instant now_ = t0();
  int op_index_ = 0;
  std::string op_;
  std::string error_;
  std::uint64_t emits_ = 0, withdrawals_ = 0;
};

TEST_P(Conformance, random_operations_agree_with_the_contract_model) {
  for_both_key_kinds([&]<class R>() {
    for (const std::size_t cap : {std::size_t{3}, std::size_t{40}}) {
      for (const bool tracking : {false, true}) {
        for (const std::uint64_t seed : {1u, 2u}) {
          SCOPED_TRACE(::testing::Message() << "cap " << cap << ", tracking " << tracking << ", seed " << seed);
          ModelRun<R>(make<R>(cap, tracking), cap, tracking, seed).run(3000);
          if (HasFatalFailure()) return;
        }
      }
    }
  });
}

// ======== The backends ========

std::string backend_test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// One line per backend list_backends() names; the name before the comma is
// the backend's name with '-' as '_'. Every backend is listed in every build,
// so every line stays: one this build lacks (thrust-omp without CCCL or
// OpenMP, cuda and thrust without nvcc) or that cannot run here (no GPU)
// skips, with the reason backend_info gives.
INSTANTIATE_TEST_SUITE_P(scalar, Conformance, ::testing::Values("scalar"), backend_test_name);
INSTANTIATE_TEST_SUITE_P(highway, Conformance, ::testing::Values("highway"), backend_test_name);
INSTANTIATE_TEST_SUITE_P(thrust_omp, Conformance, ::testing::Values("thrust-omp"), backend_test_name);
INSTANTIATE_TEST_SUITE_P(cuda, Conformance, ::testing::Values("cuda"), backend_test_name);
INSTANTIATE_TEST_SUITE_P(thrust, Conformance, ::testing::Values("thrust"), backend_test_name);

// Every backend the build lists has its instantiation above.
TEST(ConformanceBackends, every_backend_the_build_lists_is_instantiated) {
  std::set<std::string> instantiated;
  const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
  for (int i = 0; i < unit.total_test_suite_count(); ++i) {
    const std::string suite = unit.GetTestSuite(i)->name();
    const std::string tail = "/Conformance";
    if (suite.size() > tail.size() && suite.ends_with(tail)) {
      instantiated.insert(suite.substr(0, suite.size() - tail.size()));
    }
  }
  for (const BackendInfo& b : list_backends()) {
    std::string id = b.name;
    std::replace(id.begin(), id.end(), '-', '_');
    EXPECT_TRUE(instantiated.count(id)) << "backend '" << b.name
                                        << "' has no INSTANTIATE_TEST_SUITE_P line in conformance_test.cc";
  }
  EXPECT_GE(instantiated.size(), 2u);
}

}  // namespace
}  // namespace heatkit
