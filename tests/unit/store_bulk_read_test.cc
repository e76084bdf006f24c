// CounterStore::read_range against read() slot by slot, on every backend
// built here (the device ones skip with "no CUDA device: <reason>" where none
// can run them), and the registry's for_each, which reads through it in
// chunks: every live key once, in slot order, with get()'s counter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "registry/registry.h"
#include "store/counter_store.h"
#include "test_support.h"

namespace heatkit::test {
namespace {

const char* const kBackends[] = {"scalar", "highway", "thrust-omp", "cuda", "thrust"};

// Skips a backend this build lacks or this machine cannot run.
class BulkReadTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::vector<BackendInfo> all = list_backends();
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const BackendInfo& b) { return b.name == GetParam(); });
    if (it == all.end()) GTEST_SKIP() << "backend " << GetParam() << " is not built";
    if (!it->available) {
      const std::string name = GetParam();
      if (name == "cuda" || name == "thrust") {
        GTEST_SKIP() << "no CUDA device: " << it->unavailable_reason;
      }
      GTEST_SKIP() << name << " unavailable: " << it->unavailable_reason;
    }
  }
};

void expect_same(const CounterState& got, const CounterState& want, std::size_t slot) {
  EXPECT_EQ(got.rate, want.rate) << "slot " << slot;
  EXPECT_EQ(got.last_update, want.last_update) << "slot " << slot;
  EXPECT_EQ(got.has_emitted, want.has_emitted) << "slot " << slot;
  EXPECT_EQ(got.last_emitted, want.last_emitted) << "slot " << slot;
  EXPECT_EQ(got.half_life, want.half_life) << "slot " << slot;
  EXPECT_EQ(got.in_flight, want.in_flight) << "slot " << slot;
}

// A store of `n` slots with every kind of state: never used, live with
// several half-lives, bumped, decayed, emitted, withdrawn, in flight,
// cleared; per-slot operations still queued on a device store.
void fill(CounterStore& store, std::size_t n) {
  store.ensure_slots(n);
  for (Slot s = 0; s < n; ++s) {
    if (s % 7 == 3) continue;  // never used
    store.init(s, 1'000'000 + 1000 * (s % 5), 1'000 + s);
    for (Slot b = 0; b < s % 4; ++b) store.bump(s, 2'000 + 10 * b + s);
    if (s % 6 == 1) store.decay_to(s, 5'000'000);
    if (s % 5 == 2) store.record(s, Decision::kEmit, 0.25 * s);
    if (s % 9 == 4) store.record(s, Decision::kWithdraw, 0.0);
    if (s % 8 == 5) store.set_in_flight(s, true);
    if (s % 11 == 10) store.clear(s);
  }
}

// The constructed states, distinct from any read: a slot left unwritten shows.
constexpr CounterState kSentinel{-1.0, -1, true, -1.0, -1, true};

TEST_P(BulkReadTest, equals_reading_each_slot_over_every_range) {
  const std::unique_ptr<CounterStore> store = make_store(GetParam());
  constexpr std::size_t n = 1037;  // not a multiple of any vector or chunk
  fill(*store, n);
  ASSERT_EQ(store->slot_count(), n);

  // The whole store first, while a device store still has operations queued.
  std::vector<CounterState> all(n + 3, kSentinel);
  store->read_range(0, std::span(all).first(n));
  for (std::size_t s = n; s < all.size(); ++s) {
    EXPECT_EQ(all[s].last_update, -1) << "past the range, index " << s << " was written";
  }
  for (Slot s = 0; s < n; ++s) expect_same(all[s], store->read(s), s);

  struct Range {
    Slot first;
    std::size_t count;
  };
  const Range ranges[] = {{0, 1},     {0, 64},     {1, 63},        {500, 37},
                          {n - 1, 1}, {n - 5, 5},  {n - 200, 200}, {0, 0},
                          {17, 0},    {n, 0}};
  for (const Range r : ranges) {
    std::vector<CounterState> out(r.count + 1, kSentinel);
    store->read_range(r.first, std::span(out).first(r.count));
    for (std::size_t i = 0; i < r.count; ++i) {
      const auto slot = static_cast<Slot>(r.first + i);
      expect_same(out[i], store->read(slot), slot);
    }
    EXPECT_EQ(out[r.count].last_update, -1)
        << "range [" << r.first << ", +" << r.count << ") wrote past its end";
  }
}

TEST_P(BulkReadTest, of_an_empty_store_reads_nothing) {
  const std::unique_ptr<CounterStore> store = make_store(GetParam());
  std::vector<CounterState> none;
  EXPECT_NO_THROW(store->read_range(0, none));
}

TEST_P(BulkReadTest, refuses_a_range_past_the_last_slot) {
  const std::unique_ptr<CounterStore> store = make_store(GetParam());
  fill(*store, 100);
  std::vector<CounterState> out(10, kSentinel);
  EXPECT_THROW(store->read_range(95, out), std::out_of_range);
  EXPECT_THROW(store->read_range(101, std::span(out).first(0)), std::out_of_range);
  EXPECT_THROW(store->read_range(UINT32_MAX, out), std::out_of_range);
  for (const CounterState& st : out) EXPECT_EQ(st.last_update, -1) << "a refused read wrote";
}

// Past several of for_each's chunks, with holes (removed keys), a partly
// used last chunk and counters in flight.
TEST_P(BulkReadTest, for_each_visits_every_live_key_once_in_slot_order_with_its_counter) {
  using Registry = BasicHeatRegistry<std::uint64_t>;
  RegistryOptions options;
  options.cap = 0;
  options.backend = GetParam();
  Registry r(options);
  const std::size_t keys = 2 * Registry::kForEachChunk + 777;
  for (std::uint64_t k = 0; k < keys; ++k) {
    auto e = r.entry(channel(k), Duration(1'000'000'000 + 1000 * (k % 3)), t0() + Duration(k));
    for (std::uint64_t b = 0; b < k % 3; ++b) e.bump(t0() + Duration(k + b));
  }
  for (std::uint64_t k = 0; k < keys; k += 5) r.remove(channel(k));
  r.set_track_in_flight(true);
  const auto emissions = r.tick(Policy{}, t0() + Duration(keys + 10));
  ASSERT_FALSE(emissions.empty());
  // Half of them committed (emissions only: nothing becomes prunable), the
  // others left in flight.
  std::vector<std::pair<std::uint64_t, HeatEmission>> committed;
  for (std::size_t i = 0; i < emissions.size(); i += 2) {
    if (emissions[i].second.is_emit()) committed.push_back(emissions[i]);
  }
  ASSERT_FALSE(committed.empty());
  r.commit(committed);

  std::vector<std::uint64_t> seen;
  std::vector<Slot> slots;
  r.for_each([&](std::uint64_t key, const HeatCounter& c) {
    seen.push_back(key);
    const auto slot = r.slot_of(key);
    ASSERT_TRUE(slot.has_value()) << key;
    slots.push_back(*slot);
    const std::optional<HeatCounter> want = r.get(key);
    ASSERT_TRUE(want.has_value()) << key;
    EXPECT_EQ(c.rate(), want->rate()) << key;
    EXPECT_EQ(c.last_update(), want->last_update()) << key;
    EXPECT_EQ(c.half_life(), want->half_life()) << key;
    EXPECT_EQ(c.last_emitted(), want->last_emitted()) << key;
  });
  EXPECT_EQ(seen.size(), r.size());
  EXPECT_TRUE(std::is_sorted(slots.begin(), slots.end())) << "for_each is in slot order";
  EXPECT_EQ(std::adjacent_find(slots.begin(), slots.end()), slots.end()) << "a slot visited twice";
  std::sort(seen.begin(), seen.end());
  std::vector<std::uint64_t> live;
  for (std::uint64_t k = 0; k < keys; ++k) {
    if (k % 5 != 0) live.push_back(channel(k));
  }
  std::sort(live.begin(), live.end());
  EXPECT_EQ(seen, live) << "each live key once, no removed one";
}

TEST_P(BulkReadTest, for_each_over_an_empty_registry_calls_nothing) {
  RegistryOptions options;
  options.backend = GetParam();
  HeatRegistry r(options);
  int calls = 0;
  r.for_each([&](std::uint64_t, const HeatCounter&) { ++calls; });
  EXPECT_EQ(calls, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, BulkReadTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name = p.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace heatkit::test
