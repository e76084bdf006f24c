// HostCounterStore (store/counter_store.h): growth keeps contents, and its
// per-slot operations (init, clear, bump, decay_to, record, set_in_flight)
// against HeatCounter objects.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/scalar_kernels.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using test::same_double;

std::unique_ptr<HostCounterStore> scalar_store() {
  return std::make_unique<HostCounterStore>("scalar",
                                            HostKernels{&scalar::tick, &scalar::collect_prunable});
}

void expect_state(const CounterState& got, const HeatCounter& want, bool in_flight) {
  EXPECT_TRUE(same_double(got.rate, want.rate())) << got.rate << " vs " << want.rate();
  EXPECT_EQ(got.last_update, to_ns(want.last_update()));
  EXPECT_EQ(got.half_life, to_ns(want.half_life()));
  EXPECT_EQ(got.has_emitted, want.last_emitted().has_value());
  if (want.last_emitted()) {
    EXPECT_EQ(got.last_emitted, *want.last_emitted());
  }
  EXPECT_EQ(got.in_flight, in_flight);
}

TEST(HostCounterStore, new_slots_are_empty_and_growth_keeps_contents) {
  auto store = scalar_store();
  EXPECT_EQ(store->backend(), "scalar");
  EXPECT_EQ(store->slot_count(), 0u);
  store->ensure_slots(4);
  ASSERT_EQ(store->slot_count(), 4u);
  for (Slot s = 0; s < 4; ++s) {
    const CounterState st = store->read(s);
    EXPECT_EQ(st.rate, 0.0);
    EXPECT_FALSE(st.has_emitted);
    EXPECT_FALSE(st.in_flight);
  }
  store->init(2, 1000, 50);
  store->bump(2, 50);
  store->ensure_slots(2);
  EXPECT_EQ(store->slot_count(), 4u) << "never shrinks";
  store->ensure_slots(100);
  EXPECT_EQ(store->slot_count(), 100u);
  EXPECT_EQ(store->read(2).rate, 1.0);
  EXPECT_EQ(store->read(2).half_life, 1000);
  EXPECT_EQ(store->last_update_host()[2], 50);
  EXPECT_GE(store->memory_bytes(), 100u * (4 * 8 + 1));
}

TEST(HostCounterStore, per_slot_ops_match_heat_counter) {
  auto store = scalar_store();
  store->ensure_slots(3);
  const std::int64_t half = 1'000'000;
  store->init(1, half, 100);
  HeatCounter want(Duration(half), instant_from_ns(100));
  expect_state(store->read(1), want, false);

  for (const std::int64_t t : {100, 100, 600'100, 400, 2'000'000, 70'000'000}) {
    store->bump(1, t);
    want.bump(instant_from_ns(t));
    expect_state(store->read(1), want, false);
    store->decay_to(1, t + 250'000);
    want.decay_to(instant_from_ns(t + 250'000));
    expect_state(store->read(1), want, false);
  }
  EXPECT_EQ(store->last_update_host()[1], to_ns(want.last_update()));
  // The neighbours were never touched.
  EXPECT_EQ(store->read(0).rate, 0.0);
  EXPECT_EQ(store->read(2).rate, 0.0);
}

TEST(HostCounterStore, record_sets_last_emitted_by_kind) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->record(0, Decision::kSuppress, 7.0);
  EXPECT_FALSE(store->read(0).has_emitted) << "Suppress records nothing";
  store->record(0, Decision::kEmit, 3.5);
  EXPECT_TRUE(store->read(0).has_emitted);
  EXPECT_EQ(store->read(0).last_emitted, 3.5);
  store->record(0, Decision::kWithdraw, 9.0);
  EXPECT_EQ(store->read(0).last_emitted, 0.0) << "a withdrawal records 0 whatever the rate";
  store->record(0, Decision::kSuppress, 7.0);
  EXPECT_EQ(store->read(0).last_emitted, 0.0);
}

TEST(HostCounterStore, in_flight_mark_is_independent_of_emission_state) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->record(0, Decision::kEmit, 2.0);
  store->set_in_flight(0, true);
  EXPECT_TRUE(store->read(0).in_flight);
  EXPECT_TRUE(store->read(0).has_emitted);
  store->set_in_flight(0, false);
  EXPECT_FALSE(store->read(0).in_flight);
  EXPECT_TRUE(store->read(0).has_emitted);
  EXPECT_EQ(store->read(0).last_emitted, 2.0);
}

TEST(HostCounterStore, init_resets_and_clear_empties_a_slot) {
  auto store = scalar_store();
  store->ensure_slots(1);
  store->init(0, 1000, 0);
  store->bump(0, 0);
  store->record(0, Decision::kWithdraw, 0.0);
  store->set_in_flight(0, true);
  store->init(0, 2000, 5);
  expect_state(store->read(0), HeatCounter(Duration(2000), instant_from_ns(5)), false);

  store->bump(0, 5);
  store->record(0, Decision::kWithdraw, 0.0);
  store->set_in_flight(0, true);
  store->clear(0);
  const CounterState st = store->read(0);
  EXPECT_EQ(st.rate, 0.0);
  EXPECT_FALSE(st.has_emitted);
  EXPECT_FALSE(st.in_flight);
  // A cleared slot is ignored by both bulk passes.
  std::vector<Candidate> candidates;
  TickParams p;
  p.now = 10;
  store->tick(p, candidates);
  EXPECT_TRUE(candidates.empty());
  std::vector<Slot> prunable;
  store->collect_prunable(prunable);
  EXPECT_TRUE(prunable.empty());
}

}  // namespace
}  // namespace heatkit
