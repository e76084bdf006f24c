// A registry saved and loaded answers every later operation as the original
// would have (docs/SNAPSHOT_FORMAT.md), in-flight marks aside: random
// operation sequences on both key types, with and without a cap, on every
// backend, through a stream and a file, for one registry and a sharded one.
//
// The original's in-flight marks are rolled back before the comparison: a
// loaded registry has none (a restarted process lost its announcements).
// The loaded counters read exactly what the original's read (a store keeps
// a loaded counter literally); later answers are bit-equal on `scalar`, and
// within SEMANTICS.md "Numbers" on the forward backends, whose original keeps
// the counter forward while the loaded one starts literal.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace heatkit {
namespace {

using test::Rng;
using namespace std::chrono_literals;

std::vector<std::string> runnable_backends() {
  std::vector<std::string> names;
  for (const BackendInfo& b : list_backends()) {
    if (b.available) names.push_back(b.name);
  }
  return names;
}

bool close_rates(double a, double b) {
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
}

// Two tick results: the same keys and decisions in the same order, rates
// equal (exact) or within 1e-12.
template <class Key>
void expect_same_ticks(const typename HeatRegistryOf<Key>::Emissions& a,
                       const typename HeatRegistryOf<Key>::Emissions& b, bool exact, const std::string& at) {
  ASSERT_EQ(a.size(), b.size()) << at;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first) << at << ", candidate " << i;
    ASSERT_EQ(a[i].second.kind, b[i].second.kind) << at << ", candidate " << i;
    if (exact) {
      ASSERT_TRUE(test::same_double(a[i].second.rate, b[i].second.rate)) << at << ", candidate " << i;
    } else {
      ASSERT_TRUE(close_rates(a[i].second.rate, b[i].second.rate)) << at << ", candidate " << i;
    }
  }
}

// Every counter, in slot order (for_each's order).
template <class Registry, class Key = typename Registry::key_type>
std::vector<std::pair<Key, HeatCounter>> contents(const Registry& r) {
  std::vector<std::pair<Key, HeatCounter>> all;
  r.for_each([&](const Key& k, const HeatCounter& c) { all.emplace_back(k, c); });
  return all;
}

template <class Key>
void expect_same_contents(const std::vector<std::pair<Key, HeatCounter>>& a,
                          const std::vector<std::pair<Key, HeatCounter>>& b, bool exact,
                          const std::string& at) {
  ASSERT_EQ(a.size(), b.size()) << at;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first) << at << ", entry " << i;
    const HeatCounter& x = a[i].second;
    const HeatCounter& y = b[i].second;
    ASSERT_EQ(x.last_update(), y.last_update()) << at << ", entry " << i;
    ASSERT_EQ(x.half_life(), y.half_life()) << at << ", entry " << i;
    ASSERT_EQ(x.last_emitted().has_value(), y.last_emitted().has_value()) << at << ", entry " << i;
    if (x.last_emitted()) {  // a committed tick rate: as close as the rates
      ASSERT_TRUE(exact ? test::same_double(*x.last_emitted(), *y.last_emitted())
                        : close_rates(*x.last_emitted(), *y.last_emitted()))
          << at << ", entry " << i;
    }
    if (exact) {
      ASSERT_TRUE(test::same_double(x.rate(), y.rate())) << at << ", entry " << i << ": " << x.rate()
                                                         << " vs " << y.rate();
    } else {
      ASSERT_TRUE(close_rates(x.rate(), y.rate())) << at << ", entry " << i;
    }
  }
}

// entry(key).bump / decay_to on either kind of registry.
template <class Registry, class Key>
void bump(Registry& r, const Key& key, Duration half_life, Instant at) {
  if constexpr (requires { r.entry(key, half_life, at); }) {
    r.entry(key, half_life, at).bump(at);
  } else {
    r.bump(key, half_life, at);
  }
}
template <class Registry, class Key>
void decay(Registry& r, const Key& key, Duration half_life, Instant at) {
  if constexpr (requires { r.entry(key, half_life, at); }) {
    r.entry(key, half_life, at).decay_to(at);
  } else {
    r.with_entry(key, half_life, at, [&](auto& entry) { entry.decay_to(at); });
  }
}

// A random workload over a small key universe: bumps (a tenth back in time),
// single and batched, direct decays, removals, ticks with commits and
// rollbacks, creations with other half-lives.
template <class Registry>
class Workload {
 public:
  using Key = typename Registry::key_type;
  Workload(std::uint64_t seed, std::uint64_t universe) : rng_(seed), universe_(universe) {}

  // One step on each registry given (the same step on all).
  template <class... Rs>
  void step(std::int64_t& now_ns, bool exact, const std::string& at, Rs&... registries) {
    const std::uint64_t r = rng_.below(100);
    now_ns += static_cast<std::int64_t>(rng_.below(3'000'000'000));
    const Instant now = instant_from_ns(now_ns);
    const Instant when = rng_.chance(10) ? now - std::chrono::seconds(rng_.below(90)) : now;
    const Key key = test::random_key<Key>(rng_.below(universe_), 7);
    const Duration half_life = rng_.chance(5) ? Duration(5s) : Duration(60s);
    if (r < 60) {
      (bump(registries, key, half_life, when), ...);
    } else if (r < 70) {
      std::vector<Key> keys;
      for (int i = 0; i < 20; ++i) keys.push_back(test::random_key<Key>(rng_.below(universe_), 7));
      (registries.bump_batch(keys, half_life, now), ...);
    } else if (r < 74) {
      (decay(registries, key, half_life, when), ...);
    } else if (r < 78) {
      (registries.remove(key), ...);
    } else {
      const bool fail_some = rng_.chance(30);
      std::vector<typename Registry::Emissions> ticks;
      (ticks.push_back(registries.tick(Policy{}, now)), ...);
      for (std::size_t i = 1; i < ticks.size(); ++i) expect_same_ticks<Key>(ticks[0], ticks[i], exact, at);
      // Commit all but (sometimes) every third, which is rolled back.
      std::size_t i = 0;
      (
          [&] {
            auto& emissions = ticks[i++];
            typename Registry::Emissions committed;
            for (std::size_t k = 0; k < emissions.size(); ++k) {
              if (fail_some && k % 3 == 0) {
                registries.rollback(emissions[k].first);
              } else {
                committed.push_back(emissions[k]);
              }
            }
            registries.commit(committed);
          }(),
          ...);
    }
  }

 private:
  Rng rng_;
  std::uint64_t universe_;
};

// What the original has in flight, rolled back: the state a restart gives.
template <class Registry>
void roll_back_in_flight(Registry& r) {
  using Key = typename Registry::key_type;
  std::vector<Key> keys;  // (for_each may hold a lock that in_flight takes)
  r.for_each([&](const Key& k, const HeatCounter&) { keys.push_back(k); });
  for (const Key& k : keys) {
    if (r.in_flight(k)) r.rollback(k);
  }
}

struct Case {
  std::string backend;
  std::size_t cap;
  bool track_in_flight;
  std::uint64_t seed;
  bool through_file;
};

template <class Key>
void run_single(const Case& c) {
  using Registry = HeatRegistryOf<Key>;
  RegistryOptions options;
  options.backend = c.backend;
  options.cap = c.cap;
  options.track_in_flight = c.track_in_flight;
  Registry original(options);
  Workload<Registry> before(c.seed, c.cap == 0 ? 400 : 3 * c.cap);
  std::int64_t now_ns = to_ns(test::t0());
  const bool exact = c.backend == "scalar";
  for (int i = 0; i < 600; ++i) before.step(now_ns, exact, "before", original);

  RegistryOptions load_options;
  load_options.backend = c.backend;
  const std::vector<std::byte> note = {std::byte{1}, std::byte{2}, std::byte{3}};
  std::vector<std::byte> note_back;
  std::optional<Registry> loaded;
  if (c.through_file) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("heatkit-roundtrip-" + std::to_string(::getpid()) + ".snap");
    original.save(path, note);
    loaded.emplace(Registry::load(path, load_options, &note_back));
    std::filesystem::remove(path);
  } else {
    std::stringstream stream;
    original.save(stream, note);
    loaded.emplace(Registry::load(stream, load_options, &note_back));
  }
  EXPECT_EQ(note_back, note);
  EXPECT_EQ(loaded->cap(), original.cap());
  EXPECT_EQ(loaded->tracks_in_flight(), original.tracks_in_flight());
  EXPECT_EQ(loaded->stats().evictions, original.stats().evictions);
  EXPECT_EQ(loaded->stats().pruned, original.stats().pruned);
  roll_back_in_flight(original);
  // At load, every counter reads exactly what the original's reads.
  expect_same_contents<Key>(contents(original), contents(*loaded), true, "after load");

  Workload<Registry> after(c.seed + 1000, c.cap == 0 ? 400 : 3 * c.cap);
  for (int i = 0; i < 600; ++i) {
    after.step(now_ns, exact, "after load, step " + std::to_string(i), original, *loaded);
    if (::testing::Test::HasFatalFailure()) return;
  }
  expect_same_contents<Key>(contents(original), contents(*loaded), exact, "at the end");
  EXPECT_EQ(loaded->stats().evictions, original.stats().evictions);
  if (c.cap > 0) {
    EXPECT_GT(original.stats().evictions, 0u) << "the workload never reached the cap";
  }
}

class SnapshotRoundTrip : public ::testing::TestWithParam<std::string> {};

INSTANTIATE_TEST_SUITE_P(Backends, SnapshotRoundTrip, ::testing::ValuesIn(runnable_backends()),
                         [](const auto& param) {
                           std::string name = param.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

TEST_P(SnapshotRoundTrip, u64_keys_answer_as_the_original_with_and_without_a_cap) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    run_single<std::uint64_t>({GetParam(), 0, seed == 2, seed, seed == 3});
    run_single<std::uint64_t>({GetParam(), 64, seed != 2, seed + 10, seed == 1});
  }
}

TEST_P(SnapshotRoundTrip, blob_keys_answer_as_the_original_with_and_without_a_cap) {
  for (std::uint64_t seed = 21; seed <= 23; ++seed) {
    run_single<BlobKey>({GetParam(), 0, true, seed, seed == 21});
    run_single<BlobKey>({GetParam(), 48, seed != 22, seed + 10, seed == 23});
  }
}

// A snapshot is independent of the backend: saved from one, loaded into
// another, later answers agree within SEMANTICS.md "Numbers".
TEST(SnapshotAcrossBackends, every_backend_loads_what_scalar_saved_and_scalar_loads_theirs) {
  for (const std::string& backend : runnable_backends()) {
    for (const bool from_scalar : {true, false}) {
      RegistryOptions options;
      options.backend = from_scalar ? "scalar" : backend;
      options.cap = 80;
      HeatRegistry original(options);
      Workload<HeatRegistry> before(99, 240);
      std::int64_t now_ns = to_ns(test::t0());
      for (int i = 0; i < 500; ++i) before.step(now_ns, true, "before", original);
      std::stringstream stream;
      original.save(stream);
      RegistryOptions load_options;
      load_options.backend = from_scalar ? backend : "scalar";
      HeatRegistry loaded = HeatRegistry::load(stream, load_options);
      roll_back_in_flight(original);
      expect_same_contents<std::uint64_t>(contents(original), contents(loaded), true, backend + " at load");
      Workload<HeatRegistry> after(100, 240);
      for (int i = 0; i < 500; ++i) {
        after.step(now_ns, false, backend + " after load", original, loaded);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// The sharded registry: every key back in its shard, the same answers.
TEST(SnapshotRoundTripSharded, a_concurrent_registry_loads_with_its_shards_and_answers_as_before) {
  for (const std::size_t shards : {1u, 4u}) {
    RegistryOptions options;
    options.backend = "scalar";
    options.cap = 4 * 40;
    options.track_in_flight = true;
    ConcurrentBlobHeatRegistry original(options, shards);
    Workload<ConcurrentBlobHeatRegistry> before(5, 400);
    std::int64_t now_ns = to_ns(test::t0());
    for (int i = 0; i < 800; ++i) before.step(now_ns, true, "before", original);
    std::stringstream stream;
    original.save(stream);
    RegistryOptions load_options;
    load_options.backend = "scalar";
    const auto loaded = ConcurrentBlobHeatRegistry::load(stream, load_options);
    EXPECT_EQ(loaded->shard_count(), shards);
    EXPECT_EQ(loaded->hash_seed(), original.hash_seed());
    EXPECT_EQ(loaded->shard_cap(), original.shard_cap());
    roll_back_in_flight(original);
    expect_same_contents<BlobKey>(contents(original), contents(*loaded), true, "at load");
    Workload<ConcurrentBlobHeatRegistry> after(6, 400);
    for (int i = 0; i < 800; ++i) {
      after.step(now_ns, true, "after load", original, *loaded);
      if (HasFatalFailure()) return;
    }
    expect_same_contents<BlobKey>(contents(original), contents(*loaded), true, "at the end");
    EXPECT_GT(original.stats().evictions, 0u);
  }
}

// In flight is not saved: what the original had in flight, the loaded
// registry's next tick returns again.
TEST(SnapshotInFlight, the_next_tick_after_a_load_reissues_what_was_in_flight) {
  BlobHeatRegistry original;
  const Instant t = test::t0();
  for (std::uint8_t i = 1; i <= 5; ++i) original.entry(test::hash(i), 60s, t).bump(t);
  const auto first = original.tick(Policy{}, t + 1s);
  ASSERT_EQ(first.size(), 5u);
  ASSERT_TRUE(original.in_flight(test::hash(1)));
  EXPECT_TRUE(original.tick(Policy{}, t + 2s).empty()) << "in flight: skipped";
  std::stringstream stream;
  original.save(stream);
  BlobHeatRegistry loaded = BlobHeatRegistry::load(stream);
  EXPECT_FALSE(loaded.in_flight(test::hash(1)));
  const auto again = loaded.tick(Policy{}, t + 3s);
  ASSERT_EQ(again.size(), 5u);
  for (std::size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].first, first[i].first);
    EXPECT_EQ(again[i].second.kind, Decision::kEmit);
  }
}

TEST(SnapshotKinds, a_snapshot_is_refused_by_the_wrong_key_type_or_registry_kind) {
  HeatRegistry u64;
  u64.entry(1, 60s, test::t0()).bump(test::t0());
  std::stringstream single;
  u64.save(single);
  const std::string bytes = single.str();
  std::stringstream as_blob(bytes);
  try {
    (void)BlobHeatRegistry::load(as_blob);
    FAIL() << "loaded u64 keys as blobs";
  } catch (const SnapshotError& e) {
    EXPECT_EQ(e.problem(), SnapshotProblem::kKeyType) << e.what();
  }
  std::stringstream as_sharded(bytes);
  try {
    (void)ConcurrentHeatRegistry::load(as_sharded);
    FAIL() << "loaded a single registry as a sharded one";
  } catch (const SnapshotError& e) {
    EXPECT_EQ(e.problem(), SnapshotProblem::kRegistryKind) << e.what();
  }
  std::stringstream info_stream(bytes);
  const SnapshotInfo info = inspect_snapshot(info_stream);
  EXPECT_EQ(info.counters, 1u);
  EXPECT_EQ(info.key_type, "u64");
  EXPECT_EQ(info.bytes, bytes.size());
}

}  // namespace
}  // namespace heatkit
