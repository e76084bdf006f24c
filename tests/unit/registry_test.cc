// Both registries (SEMANTICS.md "Registry"): every HeatRegistry and
// BlobHeatRegistry test of the seed under its own name, each run on both key
// kinds, plus the contract's details the seed does not pin.
#include "registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::t0;

template <class Registry>
class BothRegistries : public ::testing::Test {
 protected:
  using Key = typename Registry::key_type;
  static Key key(std::uint64_t seed) { return test::make_key<Key>(seed); }

  template <class Emissions>
  static bool has_key(const Emissions& emissions, const Key& k) {
    return std::any_of(emissions.begin(), emissions.end(),
                       [&](const auto& e) { return e.first == k; });
  }

  // The seed's BlobHeatRegistry tracks in-flight emissions; tests written for
  // it switch tracking on, so they mean the same on the u64 registry.
  static Registry tracking(Registry r) {
    r.set_track_in_flight(true);
    return r;
  }
};

using Registries = ::testing::Types<HeatRegistry, BlobHeatRegistry>;
TYPED_TEST_SUITE(BothRegistries, Registries, test::RegistryNames);

// ======== The seed's HeatRegistry tests ========

TYPED_TEST(BothRegistries, new_registry_is_empty) {
  const TypeParam r;
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.size(), 0u);
}

TYPED_TEST(BothRegistries, entry_mut_creates_on_first_access) {
  TypeParam r;
  auto counter = r.entry(this->key(0xA), 60s, t0());
  counter.bump(t0());
  EXPECT_NEAR(counter.rate(), 1.0, 1e-9);
  EXPECT_EQ(r.size(), 1u);
}

TYPED_TEST(BothRegistries, remove_drops_entry) {
  TypeParam r;
  r.entry(this->key(0xA), 60s, t0());
  r.remove(this->key(0xA));
  EXPECT_TRUE(r.empty());
}

TYPED_TEST(BothRegistries, entry_mut_at_cap_evicts_lru_on_new_insert) {
  // Cap 2; B is bumped past A, so A is the LRU entry when C arrives.
  const Instant base = t0();
  auto r = TypeParam::with_cap(2);
  r.entry(this->key(0xA), 60s, base);
  r.entry(this->key(0xB), 60s, base + 1s);
  EXPECT_EQ(r.size(), 2u);
  r.entry(this->key(0xB), 60s, base + 2s).bump(base + 2s);
  r.entry(this->key(0xC), 60s, base + 3s);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_FALSE(r.get(this->key(0xA)).has_value()) << "LRU entry A evicted";
  EXPECT_TRUE(r.get(this->key(0xB)).has_value());
  EXPECT_TRUE(r.get(this->key(0xC)).has_value());
}

TYPED_TEST(BothRegistries, entry_mut_cap_zero_is_unbounded) {
  auto r = TypeParam::with_cap(0);
  for (std::uint64_t i = 0; i < 100; ++i) r.entry(this->key(i), 60s, t0());
  EXPECT_EQ(r.size(), 100u);
  EXPECT_EQ(TypeParam::unbounded().cap(), 0u);
}

TYPED_TEST(BothRegistries, tick_prunes_fully_decayed_withdrawn_entries) {
  const Instant base = t0();
  TypeParam r;
  const Policy policy;
  const Duration half = policy.decay_half_life;
  r.entry(this->key(0xA), half, base).bump(base);
  const auto e0 = r.tick(policy, base);
  r.commit(e0);
  EXPECT_EQ(r.size(), 1u);

  // 100 half-lives: the rate clamps to zero; the tick withdraws and the
  // commit prunes the now-quiescent entry.
  const Instant later = base + half * 100;
  const auto emissions = r.tick(policy, later);
  EXPECT_TRUE(std::any_of(emissions.begin(), emissions.end(),
                          [](const auto& e) { return e.second.is_withdraw(); }));
  r.commit(emissions);
  const auto after = r.tick(policy, later + 1s);
  EXPECT_TRUE(after.empty()) << "no further emissions";
  r.commit(after);
  EXPECT_EQ(r.size(), 0u) << "fully-decayed withdrawn entry pruned";
  EXPECT_EQ(r.stats().pruned, 1u);
}

TYPED_TEST(BothRegistries, tick_emits_first_observation) {
  const Instant base = t0();
  TypeParam r;
  const Policy policy;
  r.entry(this->key(0xA), policy.decay_half_life, base).bump(base);
  const auto emissions = r.tick(policy, base);
  ASSERT_EQ(emissions.size(), 1u);
  ASSERT_TRUE(emissions[0].second.is_emit());
  EXPECT_GT(emissions[0].second.rate, 0.0);
  r.commit(emissions);
  EXPECT_TRUE(r.tick(policy, base).empty()) << "rate has not moved since the commit";
}

TYPED_TEST(BothRegistries, tick_emits_withdrawal_after_decay) {
  const Instant base = t0();
  TypeParam r;
  const Policy policy;
  r.entry(this->key(0xA), policy.decay_half_life, base).bump(base);
  r.commit(r.tick(policy, base));
  const auto emissions = r.tick(policy, base + policy.decay_half_life * 100);
  ASSERT_EQ(emissions.size(), 1u);
  EXPECT_EQ(emissions[0].second, HeatEmission::withdraw());
}

TYPED_TEST(BothRegistries, tick_doubled_rate_re_emits) {
  const Instant base = t0();
  TypeParam r;
  const Policy policy;
  const auto k = this->key(0xA);
  r.entry(k, policy.decay_half_life, base).bump(base);
  const auto first = r.tick(policy, base);
  ASSERT_EQ(first.size(), 1u);
  r.commit(first);
  for (int i = 0; i < 3; ++i) r.entry(k, policy.decay_half_life, base).bump(base);
  const auto second = r.tick(policy, base);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_TRUE(second[0].second.is_emit());
  EXPECT_GE(second[0].second.rate, 4.0 * 0.99);
}

// Without in-flight tracking (the seed's HeatRegistry), a tick whose emissions
// were never committed reissues them. Tracking is switched off here so the
// blob registry shows the same; with it on, rollback reissues (below).
TYPED_TEST(BothRegistries, tick_without_commit_reissues_on_next_tick) {
  const Instant base = t0();
  TypeParam r;
  r.set_track_in_flight(false);
  const Policy policy;
  r.entry(this->key(0xA), policy.decay_half_life, base).bump(base);
  const auto candidates = r.tick(policy, base);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_TRUE(candidates[0].second.is_emit());
  const auto candidates2 = r.tick(policy, base);
  ASSERT_EQ(candidates2.size(), 1u) << "a failed sink (no commit) must not silence the next tick";
  EXPECT_TRUE(candidates2[0].second.is_emit());
}

// ======== The seed's BlobHeatRegistry tests ========

TYPED_TEST(BothRegistries, blob_heat_registry_is_empty_by_default) {
  const TypeParam r;
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.cap(), kDefaultCap);
  EXPECT_EQ(kDefaultCap, 8u * 1024u);
}

TYPED_TEST(BothRegistries, blob_heat_entry_mut_creates_then_bumps) {
  TypeParam r;
  const auto h = this->key(0x01);
  r.entry(h, 60s, t0()).bump(t0());
  const auto counter = r.get(h);
  ASSERT_TRUE(counter.has_value()) << "entry should exist";
  EXPECT_GT(counter->rate(), 0.0);
}

TYPED_TEST(BothRegistries, blob_heat_entry_mut_at_cap_evicts_lru) {
  const Instant base = t0();
  auto r = TypeParam::with_cap(2);
  r.entry(this->key(0x01), 60s, base).bump(base);
  r.entry(this->key(0x02), 60s, base + 10ms).bump(base + 10ms);
  r.entry(this->key(0x03), 60s, base + 20ms).bump(base + 20ms);
  EXPECT_FALSE(r.get(this->key(0x01)).has_value());
  EXPECT_TRUE(r.get(this->key(0x02)).has_value());
  EXPECT_TRUE(r.get(this->key(0x03)).has_value());
  EXPECT_EQ(r.stats().evictions, 1u);
}

TYPED_TEST(BothRegistries, blob_heat_tick_emits_above_threshold) {
  TypeParam r;
  const Policy policy;
  const auto h = this->key(0x42);
  const Instant now = t0();
  for (int i = 0; i < 8; ++i) r.entry(h, policy.decay_half_life, now).bump(now);
  const auto emissions = r.tick(policy, now);
  EXPECT_TRUE(std::any_of(emissions.begin(), emissions.end(), [&](const auto& e) {
    return e.first == h && e.second.is_emit() && e.second.rate > 0.0;
  }));
}

TYPED_TEST(BothRegistries, blob_heat_concurrent_tick_skips_in_flight_candidates) {
  auto r = this->tracking(TypeParam());
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const auto h = this->key(0x42);
  const Instant now = t0();
  for (int i = 0; i < 8; ++i) r.entry(h, half, now).bump(now);

  const auto emissions = r.tick(policy, now);
  EXPECT_TRUE(this->has_key(emissions, h));
  // A second tick before the commit must not re-emit the in-flight key.
  const auto emissions2 = r.tick(policy, now);
  EXPECT_FALSE(this->has_key(emissions2, h)) << "in-flight key re-emitted before commit";

  r.commit(emissions);
  for (int i = 0; i < 8; ++i) r.entry(h, half, now).bump(now);
  const auto emissions3 = r.tick(policy, now);
  EXPECT_TRUE(this->has_key(emissions3, h)) << "post-commit + further heat must re-enter emission";
}

TYPED_TEST(BothRegistries, blob_heat_rollback_emission_lets_next_tick_reissue) {
  auto r = this->tracking(TypeParam());
  const Policy policy;
  const auto h = this->key(0x55);
  const Instant now = t0();
  for (int i = 0; i < 8; ++i) r.entry(h, policy.decay_half_life, now).bump(now);
  EXPECT_TRUE(this->has_key(r.tick(policy, now), h));
  r.rollback(h);  // the sink failed
  EXPECT_TRUE(this->has_key(r.tick(policy, now), h)) << "rollback must re-enable emission";
}

TYPED_TEST(BothRegistries, blob_heat_remove_clears_in_flight_so_reintroduced_hash_emits) {
  auto r = this->tracking(TypeParam());
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const auto h = this->key(0x77);
  const Instant now = t0();
  for (int i = 0; i < 8; ++i) r.entry(h, half, now).bump(now);
  (void)r.tick(policy, now);  // h in flight
  r.remove(h);
  EXPECT_TRUE(r.empty());
  for (int i = 0; i < 8; ++i) r.entry(h, half, now).bump(now);
  EXPECT_TRUE(this->has_key(r.tick(policy, now), h)) << "reintroduced key must emit again";
}

TYPED_TEST(BothRegistries, blob_heat_evict_clears_in_flight) {
  auto r = this->tracking(TypeParam::with_cap(2));
  const Policy policy;
  const Duration half = policy.decay_half_life;
  const Instant t_a = t0();
  const Instant t_b = t_a + 10ms;
  const Instant t_c = t_a + 20ms;
  const auto h_a = this->key(0xA1);
  const auto h_b = this->key(0xB2);
  const auto h_c = this->key(0xC3);

  for (int i = 0; i < 8; ++i) r.entry(h_a, half, t_a).bump(t_a);
  (void)r.tick(policy, t_a);  // h_a in flight
  for (int i = 0; i < 8; ++i) r.entry(h_b, half, t_b).bump(t_b);
  for (int i = 0; i < 8; ++i) r.entry(h_c, half, t_c).bump(t_c);
  EXPECT_FALSE(r.get(h_a).has_value()) << "h_a must have been evicted (LRU by last_update)";

  const Instant t_d = t_a + 30ms;
  for (int i = 0; i < 8; ++i) r.entry(h_a, half, t_d).bump(t_d);
  EXPECT_TRUE(this->has_key(r.tick(policy, t_d), h_a))
      << "reintroduced-after-eviction key must emit";
}

TYPED_TEST(BothRegistries, blob_heat_remove_drops_entry) {
  TypeParam r;
  const auto h = this->key(0x42);
  r.entry(h, 60s, t0()).bump(t0());
  r.remove(h);
  EXPECT_TRUE(r.empty());
}

// ======== The contract beyond the seed's tests ========

TEST(RegistryInFlight, defaults_on_for_blob_keys_and_off_for_u64) {
  EXPECT_TRUE(BlobHeatRegistry().tracks_in_flight());
  EXPECT_FALSE(HeatRegistry().tracks_in_flight());
  EXPECT_TRUE(BlobHeatRegistry::with_cap(3).tracks_in_flight());
  EXPECT_FALSE(HeatRegistry::unbounded().tracks_in_flight());
}

TEST(RegistryInFlight, options_and_setter_switch_tracking) {
  RegistryOptions on;
  on.track_in_flight = true;
  EXPECT_TRUE(HeatRegistry(on).tracks_in_flight());
  RegistryOptions off;
  off.track_in_flight = false;
  EXPECT_FALSE(BlobHeatRegistry(off).tracks_in_flight());

  HeatRegistry r;
  r.set_track_in_flight(true);
  EXPECT_TRUE(r.tracks_in_flight());
  r.set_track_in_flight(false);
  EXPECT_FALSE(r.tracks_in_flight());
}

TYPED_TEST(BothRegistries, tracking_off_neither_marks_nor_skips) {
  TypeParam r;
  r.set_track_in_flight(false);
  const auto k = this->key(1);
  r.entry(k, 60s, t0()).bump(t0());
  EXPECT_EQ(r.tick(Policy{}, t0()).size(), 1u);
  EXPECT_FALSE(r.in_flight(k));
  EXPECT_EQ(r.tick(Policy{}, t0()).size(), 1u);
}

TYPED_TEST(BothRegistries, tracking_on_marks_every_returned_key_only) {
  auto r = this->tracking(TypeParam());
  const Instant base = t0();
  const auto hot = this->key(1);
  const auto withdrawn = this->key(2);
  const auto quiet = this->key(3);
  r.entry(hot, 60s, base).bump(base);
  r.entry(withdrawn, 60s, base).record_emission(5.0);  // rate 0, prior 5: withdraw
  r.entry(quiet, 60s, base);                           // rate 0, no prior: suppress
  auto emissions = r.tick(Policy{}, base);
  std::sort(emissions.begin(), emissions.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_EQ(emissions.size(), 2u);
  EXPECT_EQ(emissions[0].first, std::min(hot, withdrawn));
  EXPECT_TRUE(r.in_flight(hot));
  EXPECT_TRUE(r.in_flight(withdrawn));
  EXPECT_FALSE(r.in_flight(quiet));
  EXPECT_TRUE(r.entry(hot, 60s, base).in_flight());
}

TYPED_TEST(BothRegistries, commit_clears_in_flight_and_records) {
  auto r = this->tracking(TypeParam());
  const auto k = this->key(7);
  for (int i = 0; i < 3; ++i) r.entry(k, 60s, t0()).bump(t0());
  const auto emissions = r.tick(Policy{}, t0());
  ASSERT_TRUE(r.in_flight(k));
  EXPECT_EQ(r.get(k)->last_emitted(), std::nullopt) << "tick mutates no last_emitted";
  r.commit(emissions);
  EXPECT_FALSE(r.in_flight(k));
  EXPECT_EQ(r.get(k)->last_emitted(), 3.0);
}

TYPED_TEST(BothRegistries, commit_of_a_suppress_clears_in_flight_without_recording) {
  auto r = this->tracking(TypeParam());
  const auto k = this->key(7);
  r.entry(k, 60s, t0()).bump(t0());
  (void)r.tick(Policy{}, t0());
  ASSERT_TRUE(r.in_flight(k));
  const std::vector<std::pair<typename TypeParam::key_type, HeatEmission>> suppress = {
      {k, HeatEmission::suppress()}};
  r.commit(suppress);
  EXPECT_FALSE(r.in_flight(k));
  EXPECT_EQ(r.get(k)->last_emitted(), std::nullopt);
}

TYPED_TEST(BothRegistries, commit_of_a_key_not_present_is_ignored) {
  TypeParam r;
  const auto present = this->key(1);
  const auto absent = this->key(2);
  r.entry(present, 60s, t0()).bump(t0());
  const std::vector<std::pair<typename TypeParam::key_type, HeatEmission>> emissions = {
      {absent, HeatEmission::emit(9.0)}, {absent, HeatEmission::withdraw()}};
  r.commit(emissions);
  EXPECT_EQ(r.size(), 1u);
  EXPECT_FALSE(r.contains(absent));
  EXPECT_EQ(r.get(present)->last_emitted(), std::nullopt);
}

TYPED_TEST(BothRegistries, commit_after_remove_ignores_the_removed_key) {
  auto r = this->tracking(TypeParam());
  const auto k = this->key(1);
  r.entry(k, 60s, t0()).bump(t0());
  const auto emissions = r.tick(Policy{}, t0());
  r.remove(k);
  r.commit(emissions);
  EXPECT_TRUE(r.empty());
}

TYPED_TEST(BothRegistries, prune_clears_in_flight_of_the_pruned_key) {
  auto r = this->tracking(TypeParam());
  const Policy policy;
  const Duration half = 60s;
  const Instant base = t0();
  const auto k = this->key(1);
  r.entry(k, half, base).bump(base);
  // Emitted, not committed: in flight. Then withdrawn and fully decayed by
  // direct calls, so the next commit prunes it while it is marked.
  (void)r.tick(policy, base);
  ASSERT_TRUE(r.in_flight(k));
  auto e = r.entry(k, half, base);
  e.record_withdrawal();
  e.decay_to(base + half * 100);
  r.commit({});
  EXPECT_FALSE(r.contains(k)) << "pruned";

  r.entry(k, half, base + half * 101).bump(base + half * 101);
  EXPECT_FALSE(r.in_flight(k)) << "a re-created key starts unmarked";
  EXPECT_TRUE(this->has_key(r.tick(policy, base + half * 101), k));
}

TYPED_TEST(BothRegistries, committed_withdrawal_prunes_and_the_key_can_come_back) {
  auto r = this->tracking(TypeParam());
  const Policy policy;
  const Duration half = 60s;
  const Instant base = t0();
  const auto k = this->key(1);
  r.entry(k, half, base).bump(base);
  r.commit(r.tick(policy, base));
  const auto withdraw = r.tick(policy, base + half * 100);
  ASSERT_EQ(withdraw.size(), 1u);
  ASSERT_TRUE(withdraw[0].second.is_withdraw());
  ASSERT_TRUE(r.in_flight(k));
  r.commit(withdraw);
  EXPECT_FALSE(r.contains(k));
  r.entry(k, half, base + half * 101).bump(base + half * 101);
  const auto again = r.tick(policy, base + half * 101);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].second, HeatEmission::emit(1.0));
}

TYPED_TEST(BothRegistries, commit_prunes_only_decayed_and_withdrawn_entries) {
  TypeParam r;
  const Instant base = t0();
  const auto withdrawn_cold = this->key(1);  // rate 0, last_emitted 0: pruned
  const auto emitted_cold = this->key(2);    // rate 0, last_emitted 4: kept (withdraw pending)
  const auto never_emitted = this->key(3);   // rate 0, no emission: kept
  const auto withdrawn_warm = this->key(4);  // rate 1, last_emitted 0: kept
  r.entry(withdrawn_cold, 60s, base).record_withdrawal();
  r.entry(emitted_cold, 60s, base).record_emission(4.0);
  r.entry(never_emitted, 60s, base);
  auto warm = r.entry(withdrawn_warm, 60s, base);
  warm.bump(base);
  warm.record_withdrawal();
  r.commit({});
  EXPECT_FALSE(r.contains(withdrawn_cold));
  EXPECT_TRUE(r.contains(emitted_cold));
  EXPECT_TRUE(r.contains(never_emitted));
  EXPECT_TRUE(r.contains(withdrawn_warm));
  EXPECT_EQ(r.size(), 3u);
}

TYPED_TEST(BothRegistries, rollback_of_an_absent_key_is_a_no_op) {
  TypeParam r;
  r.rollback(this->key(1));
  r.remove(this->key(1));
  EXPECT_TRUE(r.empty());
}

TYPED_TEST(BothRegistries, existing_key_keeps_its_half_life) {
  TypeParam r;
  const Instant base = t0();
  const auto k = this->key(1);
  r.entry(k, 60s, base).bump(base);
  auto again = r.entry(k, 1s, base + 60s);
  EXPECT_EQ(again.half_life(), Duration(60s));
  EXPECT_EQ(again.last_update(), base) << "get-or-create of an existing key does not touch it";
  again.decay_to(base + 60s);
  EXPECT_EQ(again.rate(), 0.5) << "decayed with its own 60 s half-life, not 1 s";
  EXPECT_EQ(r.get(k)->half_life(), Duration(60s));
}

TYPED_TEST(BothRegistries, negative_half_life_is_rejected_before_any_change) {
  auto r = TypeParam::with_cap(1);
  const auto k = this->key(1);
  r.entry(k, 60s, t0());
  EXPECT_THROW(r.entry(this->key(2), -1s, t0()), std::invalid_argument);
  EXPECT_TRUE(r.contains(k)) << "no eviction for a rejected insert";
  EXPECT_EQ(r.size(), 1u);
}

TYPED_TEST(BothRegistries, entry_view_reads_and_writes_the_counter) {
  TypeParam r;
  const Instant base = t0();
  const auto k = this->key(1);
  auto e = r.entry(k, 60s, base);
  e.bump(base);
  e.bump(base);
  e.record_emission(2.0);
  EXPECT_EQ(e.rate(), 2.0);
  EXPECT_EQ(e.last_emitted(), 2.0);
  EXPECT_EQ(e.last_update(), base);
  EXPECT_FALSE(e.in_flight());
  e.decay_to(base + 60s);
  const HeatCounter c = e.counter();
  EXPECT_EQ(c.rate(), 1.0);
  EXPECT_EQ(c.last_update(), base + 60s);
  e.record_withdrawal();
  EXPECT_EQ(r.get(k)->last_emitted(), 0.0);
}

TYPED_TEST(BothRegistries, tick_returns_emit_rates_and_decays_every_counter) {
  TypeParam r;
  const Instant base = t0();
  std::map<typename TypeParam::key_type, double> bumps;
  for (std::uint64_t i = 1; i <= 5; ++i) {
    auto e = r.entry(this->key(i), 60s, base);
    for (std::uint64_t b = 0; b < i; ++b) e.bump(base);
    bumps[this->key(i)] = static_cast<double>(i);
  }
  // One half-life later every rate has halved, and each Emit carries it.
  const auto emissions = r.tick(Policy{}, base + 60s);
  ASSERT_EQ(emissions.size(), 5u);
  for (const auto& [k, emission] : emissions) {
    ASSERT_TRUE(bumps.count(k));
    EXPECT_EQ(emission, HeatEmission::emit(bumps[k] / 2));
    const auto counter = r.get(k);
    ASSERT_TRUE(counter.has_value());
    EXPECT_EQ(counter->rate(), bumps[k] / 2);
    EXPECT_EQ(counter->last_update(), base + 60s);
    EXPECT_EQ(counter->last_emitted(), std::nullopt) << "tick mutates no last_emitted";
  }
}

TYPED_TEST(BothRegistries, for_each_visits_every_live_entry_exactly_once) {
  auto r = TypeParam::with_cap(50);
  const Instant base = t0();
  std::map<typename TypeParam::key_type, double> expected;
  for (std::uint64_t i = 0; i < 80; ++i) {  // 30 evictions
    const auto k = this->key(i);
    const Instant at = base + std::chrono::seconds(i);
    r.entry(k, 60s, at).bump(at);
    expected[k] = 1.0;
    if (expected.size() > 50) expected.erase(this->key(i - 50));
  }
  for (std::uint64_t i = 40; i < 45; ++i) {
    r.remove(this->key(i));
    expected.erase(this->key(i));
  }
  ASSERT_EQ(r.size(), expected.size());

  std::map<typename TypeParam::key_type, int> visits;
  r.for_each([&](const auto& k, const HeatCounter& c) {
    ++visits[k];
    EXPECT_EQ(c.rate(), 1.0);
  });
  EXPECT_EQ(visits.size(), expected.size());
  for (const auto& [k, n] : visits) {
    EXPECT_EQ(n, 1);
    EXPECT_TRUE(expected.count(k));
  }
}

TYPED_TEST(BothRegistries, bumps_decay_with_each_counters_own_half_life) {
  // One half-life everywhere, then a second one: a bump must use each
  // counter's own, also once a registry emptied and refilled with another.
  TypeParam r;
  const Instant base = t0();
  const auto slow = this->key(1);
  const auto fast = this->key(2);
  r.entry(slow, 60s, base).bump(base);
  r.entry(this->key(3), 60s, base).bump(base);
  r.entry(slow, 60s, base + 60s).bump(base + 60s);
  EXPECT_EQ(r.get(slow)->rate(), 1.5) << "one 60 s half-life, then one more";

  r.entry(fast, 1s, base + 60s).bump(base + 60s);
  r.entry(fast, 60s, base + 62s).bump(base + 62s);
  EXPECT_EQ(r.get(fast)->rate(), 1.25) << "two 1 s half-lives, not 2/60 of a 60 s one";
  r.entry(slow, 1s, base + 120s).bump(base + 120s);
  EXPECT_EQ(r.get(slow)->rate(), 1.75) << "the slow counter keeps 60 s";

  r.remove(slow);
  r.remove(fast);
  r.remove(this->key(3));
  ASSERT_TRUE(r.empty());
  const auto k = this->key(4);
  r.entry(k, 1s, base + 200s).bump(base + 200s);
  r.entry(k, 60s, base + 201s).bump(base + 201s);
  EXPECT_EQ(r.get(k)->rate(), 1.5) << "the refilled registry's 1 s half-life";
  std::vector<typename TypeParam::key_type> batch{k, k};
  r.bump_batch(std::span<const typename TypeParam::key_type>(batch), 60s, base + 203s);
  EXPECT_EQ(r.get(k)->rate(), 1.5 / 4 + 2) << "a batch too";
}

// A tick whose candidates are every counter (a mass emission) needs scratch
// as large as the registry; a registry whose ticks are ordinary again (a few
// candidates each) gives it back, so its memory returns to what it was
// before, proportional to its counters.
TYPED_TEST(BothRegistries, mass_tick_scratch_is_given_back_once_ticks_are_ordinary_again) {
  using K = typename TestFixture::Key;
  constexpr std::uint64_t kCounters = 20'000;
  constexpr std::uint64_t kHot = 50;   // keys read between two ordinary ticks
  constexpr int kOrdinaryTicks = 100;  // "many": what "once ticks are ordinary" means here
  auto r = TypeParam::with_cap(kCounters);
  r.set_track_in_flight(false);
  std::vector<K> keys;
  for (std::uint64_t i = 0; i < kCounters; ++i) keys.push_back(this->key(i));
  Instant now = t0();
  // An hour's half-life: over these seconds rates only grow with the reads.
  r.bump_batch(std::span<const K>(keys), 3600s, now);
  std::uint64_t next_hot = 0;
  std::size_t candidates = 0;
  // Each ordinary tick: kHot keys read four times since the last, so each
  // of them (and few others) emits.
  const auto ordinary_ticks = [&](int ticks) {
    for (int t = 0; t < ticks; ++t) {
      now += 1s;
      for (std::uint64_t h = 0; h < kHot; ++h, ++next_hot) {
        const K& k = keys[next_hot % kCounters];
        for (int read = 0; read < 4; ++read) r.entry(k, 3600s, now).bump(now);
      }
      const auto emitted = r.tick(Policy{}, now);
      candidates = emitted.size();
      r.commit(emitted);
    }
  };
  // The first tick emits every counter (a mass tick too); the ordinary
  // ticks after it bring the registry to its steady level.
  ordinary_ticks(kOrdinaryTicks);
  ASSERT_GT(candidates, 0u);
  ASSERT_LE(candidates, 2 * kHot) << "ordinary ticks have few candidates";
  const std::size_t steady = r.memory_usage().other;
  // A few bytes per ordinary candidate, where the first tick's scratch held
  // bytes for every counter.
  EXPECT_LE(steady, 64 * kHot) << "the first tick's scratch was not given back";

  // Every counter read twice more: those that last emitted 1 triple their
  // rate and emit (most of them; the ones read on the ordinary ticks do not).
  now += 1s;
  r.bump_batch(std::span<const K>(keys), 3600s, now);
  r.bump_batch(std::span<const K>(keys), 3600s, now);
  const auto mass = r.tick(Policy{}, now);
  ASSERT_GE(mass.size(), kCounters / 2) << "a mass emission";
  r.commit(mass);
  const std::size_t after_mass = r.memory_usage().other;
  EXPECT_GE(after_mass, steady + kCounters) << "the mass tick's scratch is counted";

  ordinary_ticks(kOrdinaryTicks);
  ASSERT_EQ(r.size(), kCounters);
  const std::size_t after = r.memory_usage().other;
  // Back near the steady level.
  EXPECT_LE(after, steady + 64 * kHot) << "steady " << steady << ", after the mass tick " << after_mass;
}

TEST(RegistryBackend, backend_info_is_the_listed_entry_and_names_an_unknown_backend) {
  for (const BackendInfo& listed : list_backends()) {
    const BackendInfo info = backend_info(listed.name);
    EXPECT_EQ(info.name, listed.name);
    EXPECT_EQ(info.available, listed.available) << listed.name;
    EXPECT_EQ(info.device_columns, listed.device_columns) << listed.name;
  }
  EXPECT_THROW(backend_info("no-such-backend"), UnknownBackend);
}

TEST(RegistryBackend, unknown_backend_name_throws_naming_it) {
  RegistryOptions o;
  o.backend = "no-such-backend";
  try {
    HeatRegistry r(o);
    FAIL() << "an unknown backend must throw";
  } catch (const UnknownBackend& e) {
    EXPECT_NE(std::string(e.what()).find("'no-such-backend'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("scalar"), std::string::npos)
        << "lists the known backends: " << e.what();
  }
  EXPECT_THROW(BlobHeatRegistry{o}, UnknownBackend);
  EXPECT_THROW(make_store(""), std::invalid_argument);
}

TEST(RegistryBackend, default_backend_is_highway_and_scalar_reference_is_listed_first) {
  EXPECT_EQ(default_backend(), "highway");
  EXPECT_EQ(HeatRegistry().backend(), "highway");
  const auto backends = list_backends();
  ASSERT_GE(backends.size(), 2u);
  EXPECT_EQ(backends.front().name, "scalar");
  for (const BackendInfo& b : backends) {
    if (b.name != "scalar" && b.name != "highway") continue;
    EXPECT_TRUE(b.available) << b.name;
    EXPECT_TRUE(b.unavailable_reason.empty()) << b.name;
  }
}

// Memory follows the counters while a registry fills towards its cap: the
// columns grow by doubling, so at any count the registry holds at most about
// twice the bytes per counter it holds at the cap; and once doubling would
// overshoot the cap (past the largest power of two below it), a count just
// past that power of two does not pay for the whole cap: the bytes per
// counter stay within an eighth of the at-cap figure all the way there. At
// the cap, evictions keep the memory where it is.
template <class Registry>
void expect_memory_follows_the_counters_to_the_cap(std::size_t cap) {
  using Key = typename Registry::key_type;
  SCOPED_TRACE("cap " + std::to_string(cap));
  auto r = Registry::with_cap(cap);
  const Instant base = t0();
  std::vector<double> per_counter(cap + 1, 0.0);  // [n]: bytes per counter at n counters
  for (std::uint64_t n = 1; n <= cap; ++n) {
    r.entry(test::make_key<Key>(n), 60s, base + std::chrono::seconds(n));
    ASSERT_EQ(r.size(), n);
    per_counter[n] = static_cast<double>(r.memory_usage().total()) / static_cast<double>(n);
  }
  const double at_cap = per_counter[cap];
  const std::size_t last_doubling = std::bit_floor(cap - 1);  // doubling past it passes the cap
  for (std::uint64_t n = 256; n <= cap; ++n) {
    ASSERT_LE(per_counter[n], 2.25 * at_cap) << n << " counters";
    if (n > last_doubling) {
      ASSERT_LE(per_counter[n], 1.125 * at_cap)
          << n << " counters: " << per_counter[n] << " bytes each, " << at_cap << " at the cap";
    }
  }
  const std::size_t full = r.memory_usage().total();
  for (std::uint64_t n = cap + 1; n <= 2 * cap; ++n) {
    r.entry(test::make_key<Key>(n), 60s, base + std::chrono::seconds(n));
  }
  EXPECT_EQ(r.size(), cap);
  // (A freed slot may pass through the free list: a few bytes.)
  EXPECT_LE(r.memory_usage().total(), full + 64) << "evictions at the cap grew the registry";
  EXPECT_FALSE(r.contains(test::make_key<Key>(cap))) << "every key from before evicted, oldest first";
  EXPECT_TRUE(r.contains(test::make_key<Key>(cap + 1)));
}

TEST(RegistryMemory, memory_follows_the_counters_on_the_way_to_the_cap) {
  expect_memory_follows_the_counters_to_the_cap<HeatRegistry>(5000);
  expect_memory_follows_the_counters_to_the_cap<BlobHeatRegistry>(3000);
}

// The memory budget (not a timing): 64 bytes per counter at a cap of
// one million, everything the registry owns included.
TEST(RegistryMemory, u64_registry_at_a_million_fits_64_bytes_per_counter) {
  constexpr std::size_t kCap = 1'000'000;
  auto r = HeatRegistry::with_cap(kCap);
  const Instant base = t0();
  for (std::uint64_t i = 0; i < kCap; ++i) r.entry(i, 60s, base);
  ASSERT_EQ(r.size(), kCap);
  const MemoryUsage m = r.memory_usage();
  EXPECT_LE(m.total() / r.size(), 64u)
      << "columns " << m.columns << ", keys " << m.keys << ", index " << m.index << ", lru "
      << m.lru << ", other " << m.other;
  EXPECT_GE(m.columns, kCap * (4 * 8 + 1)) << "the store's columns are counted";
  EXPECT_GE(m.keys, kCap * sizeof(std::uint64_t));
}

// The eviction order reads each slot's position through a view of the key
// records; moving a registry must carry both along, and growth after the
// move must keep them together.
TYPED_TEST(BothRegistries, a_moved_registry_keeps_its_keys_and_eviction_order) {
  const Instant base = t0();
  auto a = TypeParam::with_cap(3);
  for (std::uint64_t i = 0; i < 3; ++i) a.entry(this->key(i), 60s, base + std::chrono::seconds(i));
  TypeParam b(std::move(a));
  b.entry(this->key(0), 60s, base + 10s).bump(base + 10s);  // key 1 is now the oldest
  b.entry(this->key(7), 60s, base + 11s);
  EXPECT_FALSE(b.contains(this->key(1))) << "the oldest, evicted";
  EXPECT_TRUE(b.contains(this->key(0)));
  EXPECT_TRUE(b.contains(this->key(2)));
  auto c = TypeParam::with_cap(3);
  c.entry(this->key(100), 60s, base);
  c = std::move(b);
  EXPECT_FALSE(c.contains(this->key(100))) << "assignment replaced the contents";
  c.entry(this->key(8), 60s, base + 12s);
  EXPECT_FALSE(c.contains(this->key(2))) << "the oldest after the assignment, evicted";
  EXPECT_EQ(c.size(), 3u);

  auto small = TypeParam::with_cap(5000);
  small.entry(this->key(0), 60s, base);
  TypeParam moved(std::move(small));
  for (std::uint64_t i = 1; i < 5000; ++i) moved.entry(this->key(i), 60s, base + std::chrono::seconds(i));
  moved.entry(this->key(0), 60s, base + 10000s).bump(base + 10000s);  // key 1 is now the oldest
  moved.entry(this->key(5000), 60s, base + 10001s);
  EXPECT_FALSE(moved.contains(this->key(1))) << "grown many times after the move, the oldest evicted";
  EXPECT_TRUE(moved.contains(this->key(0)));
  EXPECT_TRUE(moved.contains(this->key(2)));
  std::size_t seen = 0;
  moved.for_each([&](const auto&, const HeatCounter&) { ++seen; });
  EXPECT_EQ(seen, 5000u);
}

}  // namespace
}  // namespace heatkit
