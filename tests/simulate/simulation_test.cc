// The simulation engine (sim/simulation.h): the workload is a pure function
// of (seed, tick, read index), the engine is deterministic, and its counts
// and counters match a replay of the same reads through the model of
// SEMANTICS.md (tests/unit/contract_model.h) and through a plain HeatRegistry
// loop.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "tests/unit/contract_model.h"

namespace heatkit::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A small config that exercises every count within a few ticks: a short
// half-life makes keys read once decay to zero (withdraw, then prune), a cap
// below the key count makes evictions, and a failure rate well inside (0, 1)
// makes both committed and rolled-back candidates.
SimulationConfig busy_config() {
  SimulationConfig c;
  c.keys = 1000;
  c.zipf_exponent = 1.1;
  c.reads_per_second = 5'000;
  c.tick_interval = seconds(1);
  c.duration = seconds(8);
  c.half_life = milliseconds(20);
  c.cap = 800;
  c.commit_failure_rate = 0.3;
  c.seed = 12345;
  return c;
}

SimulationConfig small_config() {
  SimulationConfig c;
  c.keys = 1000;
  c.reads_per_second = 20'000;
  c.duration = seconds(5);
  return c;
}

// ---------------------------------------------------------------------------
// The workload's pure functions.

TEST(ReadStream, SameSeedTickAndIndexGiveTheSameRank) {
  const ZipfTable table(1000, 1.1);
  for (std::uint64_t tick = 0; tick < 3; ++tick) {
    for (std::uint64_t i = 0; i < 1000; ++i) {
      EXPECT_EQ(read_rank(table.view(), 7, tick, i), read_rank(table.view(), 7, tick, i));
    }
  }
  // A table rebuilt from the same parameters draws the same ranks.
  const ZipfTable again(1000, 1.1);
  for (std::uint64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(read_rank(table.view(), 7, 2, i), read_rank(again.view(), 7, 2, i));
  }
}

TEST(ReadStream, SeedsAndTicksGiveDifferentReads) {
  const ZipfTable table(1'000'000, 0.0);  // uniform: collisions are rare
  int same_across_seeds = 0;
  int same_across_ticks = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    same_across_seeds += read_rank(table.view(), 1, 0, i) == read_rank(table.view(), 2, 0, i);
    same_across_ticks += read_rank(table.view(), 1, 0, i) == read_rank(table.view(), 1, 1, i);
  }
  // Independent uniform draws over 10^6 ranks agree about 0.001 times per 1000.
  EXPECT_LE(same_across_seeds, 5);
  EXPECT_LE(same_across_ticks, 5);
}

TEST(ReadStream, RanksStayInRangeAndFollowPopularity) {
  const ZipfTable table(100, 1.1);
  std::vector<int> hits(100, 0);
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    const std::uint32_t rank = read_rank(table.view(), 3, 0, i);
    ASSERT_LT(rank, 100u);
    ++hits[rank];
  }
  // P(0) / P(9) = 10^1.1, about 12.6: rank 0 is clearly the hottest.
  EXPECT_GT(hits[0], 8 * hits[9]);
  EXPECT_GT(hits[9], 0);
}

TEST(ReadStream, ReadsOfATickSpreadEvenlyOverTheIntervalBeforeIt) {
  constexpr std::int64_t kInterval = 1'000'000'000;
  constexpr std::uint64_t kReads = 7;  // does not divide the interval
  for (std::uint64_t tick = 0; tick < 3; ++tick) {
    const std::int64_t start = static_cast<std::int64_t>(tick) * kInterval;
    EXPECT_EQ(read_time_ns(tick, 0, kReads, kInterval), start);
    std::int64_t previous = start;
    for (std::uint64_t i = 1; i < kReads; ++i) {
      const std::int64_t t = read_time_ns(tick, i, kReads, kInterval);
      // Gaps are interval / reads rounded down or up.
      const std::int64_t gap = t - previous;
      EXPECT_TRUE(gap == kInterval / 7 || gap == kInterval / 7 + 1) << "gap " << gap;
      previous = t;
    }
    EXPECT_LT(previous, tick_time_ns(tick, kInterval));
    EXPECT_EQ(tick_time_ns(tick, kInterval), start + kInterval);
  }
}

TEST(ReadStream, ReadTimesDoNotOverflowAtTheLargestTick) {
  // floor((n - 1) * I / n) = I - ceil(I / n); (n - 1) * I overflows 64 bits.
  constexpr std::uint64_t n = std::numeric_limits<std::uint32_t>::max();
  constexpr std::int64_t interval = 1'000'000'000'000;  // 1000 s
  const std::int64_t ceil_i_over_n = (interval + static_cast<std::int64_t>(n) - 1) / static_cast<std::int64_t>(n);
  EXPECT_EQ(read_time_ns(0, n - 1, n, interval), interval - ceil_i_over_n);
  EXPECT_EQ(read_time_ns(5, n - 1, n, interval), 6 * interval - ceil_i_over_n);
}

TEST(CommitFailures, AreAPureFunctionOfSeedTickAndKey) {
  int failed = 0;
  for (std::uint64_t key = 0; key < 100'000; ++key) {
    EXPECT_FALSE(commit_fails(9, 4, key, 0.0));
    EXPECT_TRUE(commit_fails(9, 4, key, 1.0));
    const bool fails = commit_fails(9, 4, key, 0.3);
    EXPECT_EQ(fails, commit_fails(9, 4, key, 0.3));
    failed += fails;
  }
  // 100,000 draws at p = 0.3: the standard deviation is about 145.
  EXPECT_NEAR(failed, 30'000, 1'000);
  // Another tick fails another set of keys.
  int same = 0;
  for (std::uint64_t key = 0; key < 1000; ++key) {
    same += commit_fails(9, 4, key, 0.5) == commit_fails(9, 5, key, 0.5);
  }
  EXPECT_NEAR(same, 500, 100);
}

// ---------------------------------------------------------------------------
// The engine.

struct CounterSnapshot {
  double rate;
  std::int64_t last_update;
  std::optional<double> last_emitted;
  bool in_flight;
  friend bool operator==(const CounterSnapshot&, const CounterSnapshot&) = default;
};

std::map<std::uint64_t, CounterSnapshot> snapshot(const BasicHeatRegistry<std::uint64_t>& registry) {
  std::map<std::uint64_t, CounterSnapshot> out;
  registry.for_each([&](std::uint64_t key, const HeatCounter& c) {
    out[key] = {c.rate(), to_ns(c.last_update()), c.last_emitted(), registry.in_flight(key)};
  });
  return out;
}

TEST(Simulation, RunsTheConfiguredNumberOfTicksAndReads) {
  const SimulationConfig config = small_config();
  EXPECT_EQ(tick_count(config), 5u);
  EXPECT_EQ(reads_per_tick(config), 20'000u);
  std::vector<std::uint64_t> ticks_seen;
  std::uint64_t reads_reported = 0;
  std::uint64_t emits_reported = 0;
  const SimulationSummary s = run_simulation(config, [&](const TickReport& r) {
    ticks_seen.push_back(r.tick);
    EXPECT_EQ(r.ticks, 5u);
    EXPECT_EQ(r.now_ns, static_cast<std::int64_t>(r.tick + 1) * 1'000'000'000);
    reads_reported += r.counts.reads;
    emits_reported += r.counts.emits_committed;
  });
  EXPECT_EQ(ticks_seen, (std::vector<std::uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(reads_reported, s.counts.reads);
  EXPECT_EQ(emits_reported, s.counts.emits_committed);
  EXPECT_EQ(s.ticks, 5u);
  EXPECT_EQ(s.counts.reads, 5u * 20'000u);  // every read is one bump
  EXPECT_EQ(s.backend, default_backend());
  EXPECT_GT(s.counters_live, 0u);
  EXPECT_LE(s.counters_live, config.keys);
  EXPECT_GE(s.counters_peak, s.counters_live);
  EXPECT_GT(s.counts.counters_ticked, 0u);
  EXPECT_GT(s.memory.total(), 0u);
  EXPECT_GT(s.bytes_per_counter(), 0.0);
  EXPECT_GE(s.times.bump, 0.0);
  EXPECT_GE(s.wall_seconds, s.times.tick);
}

TEST(Simulation, ReadsPerTickFollowTheTickInterval) {
  SimulationConfig config = small_config();
  config.tick_interval = milliseconds(250);
  config.duration = seconds(1);
  EXPECT_EQ(tick_count(config), 4u);
  EXPECT_EQ(reads_per_tick(config), 5'000u);
  const SimulationSummary s = run_simulation(config);
  EXPECT_EQ(s.counts.reads, 20'000u);
}

TEST(Simulation, OneSeedGivesIdenticalRuns) {
  Simulation a(busy_config());
  Simulation b(busy_config());
  while (!a.finished()) {
    const TickReport ra = a.step();
    const TickReport rb = b.step();
    EXPECT_EQ(ra.counts, rb.counts) << "tick " << ra.tick;
    EXPECT_EQ(ra.counters_live, rb.counters_live);
  }
  EXPECT_EQ(a.summary().counts, b.summary().counts);
  EXPECT_EQ(snapshot(a.registry()), snapshot(b.registry()));

  SimulationConfig other = busy_config();
  other.seed += 1;
  Simulation c(other);
  while (!c.finished()) c.step();
  EXPECT_NE(snapshot(a.registry()), snapshot(c.registry()));
}

TEST(Simulation, StepAfterTheLastTickThrows) {
  SimulationConfig config = small_config();
  config.duration = seconds(1);
  Simulation s(config);
  s.step();
  EXPECT_TRUE(s.finished());
  EXPECT_THROW(s.step(), std::logic_error);
}

TEST(Simulation, NoFailuresMeansNothingIsRolledBack) {
  SimulationConfig config = busy_config();
  config.commit_failure_rate = 0.0;
  const SimulationSummary s = run_simulation(config);
  EXPECT_EQ(s.counts.emits_rolled_back, 0u);
  EXPECT_EQ(s.counts.withdrawals_rolled_back, 0u);
  EXPECT_GT(s.counts.emits_committed, 0u);
  EXPECT_GT(s.counts.withdrawals_committed, 0u);
}

TEST(Simulation, AllFailuresMeansNothingIsCommittedAndCandidatesComeBack) {
  SimulationConfig config = small_config();  // half-life 10 s: no rate reaches zero in 5 s
  config.commit_failure_rate = 1.0;
  Simulation sim(config);
  while (!sim.finished()) {
    const TickReport r = sim.step();
    EXPECT_EQ(r.counts.emits_committed, 0u);
    EXPECT_EQ(r.counts.withdrawals_committed, 0u);
    // Never emitted, every live counter has rate > 0 and is a candidate again:
    // the rollback cleared the in-flight mark the previous tick set.
    EXPECT_EQ(r.counts.emits_rolled_back, r.counters_ticked) << "tick " << r.tick;
    EXPECT_EQ(r.counts.prunes, 0u);
    sim.registry().for_each([&](std::uint64_t key, const HeatCounter& c) {
      EXPECT_FALSE(c.last_emitted().has_value()) << key;
      EXPECT_FALSE(sim.registry().in_flight(key)) << key;
    });
  }
  EXPECT_GT(sim.summary().counts.emits_rolled_back, 0u);
}

TEST(Simulation, EvictsOnlyWhenKeysExceedTheCap) {
  SimulationConfig config = small_config();
  config.zipf_exponent = 0.0;  // uniform: 100,000 reads touch all 1000 keys
  config.cap = config.keys;
  const SimulationSummary at_cap = run_simulation(config);
  EXPECT_EQ(at_cap.counts.evictions, 0u);
  EXPECT_EQ(at_cap.counters_live, config.keys);

  config.cap = config.keys + 1;
  EXPECT_EQ(run_simulation(config).counts.evictions, 0u);
  config.cap = 0;  // unbounded
  EXPECT_EQ(run_simulation(config).counts.evictions, 0u);

  config.cap = config.keys - 1;
  const SimulationSummary below = run_simulation(config);
  EXPECT_GT(below.counts.evictions, 0u);
  EXPECT_EQ(below.counters_live, config.cap);
  EXPECT_EQ(below.counters_peak, config.cap);
}

// The same reads, replayed one at a time through a plain registry loop with the
// workload's pure functions, as the contract states them.
struct NaiveResult {
  SimulationCounts counts;
  std::size_t live = 0;
  std::map<std::uint64_t, CounterSnapshot> counters;
};

NaiveResult naive_replay(const SimulationConfig& c, bool track_in_flight) {
  RegistryOptions options;
  options.cap = c.cap;
  options.track_in_flight = track_in_flight;
  options.backend = c.backend;
  BasicHeatRegistry<std::uint64_t> registry(options);
  Policy policy;
  policy.emit_threshold_ratio = c.emit_threshold_ratio;
  policy.decay_half_life = c.half_life;
  const ZipfTable table(static_cast<std::uint32_t>(c.keys), c.zipf_exponent);
  const std::int64_t interval = c.tick_interval.count();
  const auto ticks = static_cast<std::uint64_t>(c.duration.count() / interval);
  const auto n = static_cast<std::uint64_t>(
      std::llround(static_cast<double>(c.reads_per_second) * static_cast<double>(interval) / 1e9));

  NaiveResult out;
  for (std::uint64_t tick = 0; tick < ticks; ++tick) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const Instant t = instant_from_ns(read_time_ns(tick, i, n, interval));
      registry.entry(key_of_rank(read_rank(table.view(), c.seed, tick, i)), c.half_life, t).bump(t);
      ++out.counts.reads;
    }
    out.counts.counters_ticked += registry.size();
    HeatRegistry::Emissions committed;
    for (const auto& [key, emission] : registry.tick(policy, instant_from_ns(tick_time_ns(tick, interval)))) {
      if (commit_fails(c.seed, tick, key, c.commit_failure_rate)) {
        registry.rollback(key);
        ++(emission.is_emit() ? out.counts.emits_rolled_back : out.counts.withdrawals_rolled_back);
      } else {
        committed.emplace_back(key, emission);
        ++(emission.is_emit() ? out.counts.emits_committed : out.counts.withdrawals_committed);
      }
    }
    registry.commit(committed);
  }
  out.counts.prunes = registry.stats().pruned;
  out.counts.evictions = registry.stats().evictions;
  out.live = registry.size();
  out.counters = snapshot(registry);
  return out;
}

// The same reads (the workload's definition: ranks, keys, read and tick
// instants, which commits fail) replayed without the engine or any registry:
// plain loops over the model of SEMANTICS.md in tests/unit/contract_model.h,
// its own decay, gate, eviction and prune, in-flight tracking on as in the
// engine; each tick's failed candidates rolled back, the others committed.
struct ContractReplay {
  SimulationCounts counts;
  test::contract::Registry<std::uint64_t> model{0, true};
};

ContractReplay contract_replay(const SimulationConfig& c) {
  ContractReplay out{{}, test::contract::Registry<std::uint64_t>(c.cap, /*track_in_flight=*/true)};
  Policy policy;
  policy.emit_threshold_ratio = c.emit_threshold_ratio;
  policy.decay_half_life = c.half_life;
  const ZipfTable table(static_cast<std::uint32_t>(c.keys), c.zipf_exponent);
  const std::int64_t half_life = c.half_life.count();
  const std::int64_t interval = c.tick_interval.count();
  const auto ticks = static_cast<std::uint64_t>(c.duration.count() / interval);
  const auto n = static_cast<std::uint64_t>(
      std::llround(static_cast<double>(c.reads_per_second) * static_cast<double>(interval) / 1e9));
  for (std::uint64_t tick = 0; tick < ticks; ++tick) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::int64_t t = read_time_ns(tick, i, n, interval);
      out.model.bump(key_of_rank(read_rank(table.view(), c.seed, tick, i)), half_life, t, t);
      ++out.counts.reads;
    }
    out.counts.counters_ticked += out.model.size();
    std::vector<std::pair<std::uint64_t, HeatEmission>> committed;
    for (const auto& [key, emission] : out.model.tick(policy, tick_time_ns(tick, interval))) {
      if (commit_fails(c.seed, tick, key, c.commit_failure_rate)) {
        out.model.rollback(key);
        ++(emission.is_emit() ? out.counts.emits_rolled_back : out.counts.withdrawals_rolled_back);
      } else {
        committed.emplace_back(key, emission);
        ++(emission.is_emit() ? out.counts.emits_committed : out.counts.withdrawals_committed);
      }
    }
    out.model.commit(committed);
  }
  out.counts.prunes = out.model.pruned();
  out.counts.evictions = out.model.evictions();
  return out;
}

std::string counts_text(const SimulationCounts& c) {
  return "reads " + std::to_string(c.reads) + ", emits " + std::to_string(c.emits_committed) + "+" +
         std::to_string(c.emits_rolled_back) + " rolled back, withdrawals " +
         std::to_string(c.withdrawals_committed) + "+" + std::to_string(c.withdrawals_rolled_back) +
         " rolled back, prunes " + std::to_string(c.prunes) + ", evictions " +
         std::to_string(c.evictions) + ", counters ticked " + std::to_string(c.counters_ticked);
}

TEST(Simulation, MatchesANaiveReplayOfTheSameReads) {
  const SimulationConfig config = busy_config();
  const ContractReplay naive = contract_replay(config);
  // The config exercises every count, so the comparison below means something.
  EXPECT_GT(naive.counts.emits_committed, 0u);
  EXPECT_GT(naive.counts.emits_rolled_back, 0u);
  EXPECT_GT(naive.counts.withdrawals_committed, 0u);
  EXPECT_GT(naive.counts.withdrawals_rolled_back, 0u);
  EXPECT_GT(naive.counts.prunes, 0u);
  EXPECT_GT(naive.counts.evictions, 0u);

  Simulation sim(config);
  while (!sim.finished()) sim.step();
  const SimulationSummary s = sim.summary();
  EXPECT_EQ(s.counts, naive.counts) << "engine: " << counts_text(s.counts)
                                    << "\nreplay: " << counts_text(naive.counts);
  EXPECT_EQ(s.counters_live, naive.model.size());
  // Every counter as the contract has it: rates within SEMANTICS.md
  // "Numbers" (the engine's backend rounds 0.5^h its own way), the rest exactly.
  std::size_t seen = 0, differing = 0;
  sim.registry().for_each([&](std::uint64_t key, const HeatCounter& c) {
    ++seen;
    const auto* want = naive.model.find(key);
    std::string diff = want == nullptr ? "not in the replay"
                                       : test::contract::counter_mismatch(c, want->counter);
    if (want != nullptr && sim.registry().in_flight(key) != want->in_flight) diff += "in flight differs";
    if (!diff.empty() && ++differing <= 5) ADD_FAILURE() << "key " << key << ": " << diff;
  });
  EXPECT_EQ(differing, 0u) << "counters that differ from the replay's (the first 5 above)";
  EXPECT_EQ(seen, naive.model.size());
}

TEST(Simulation, MatchesANaiveReplayWithAReadCountThatDoesNotDivideTheInterval) {
  SimulationConfig config = busy_config();
  config.reads_per_second = 9'999;  // several chunks, the last one partial; uneven read gaps
  config.tick_interval = milliseconds(700);
  config.duration = milliseconds(4900);
  Simulation sim(config);
  while (!sim.finished()) sim.step();
  const NaiveResult naive = naive_replay(config, true);
  EXPECT_EQ(sim.summary().counts, naive.counts);
  EXPECT_EQ(snapshot(sim.registry()), naive.counters);
}

TEST(Simulation, InFlightTrackingDoesNotChangeTheCounts) {
  // Every candidate is committed or rolled back within its tick, so tracking
  // (on in the engine) never skips one: the counts equal a run without it.
  const SimulationConfig config = busy_config();
  EXPECT_EQ(naive_replay(config, true).counts, naive_replay(config, false).counts);
}

// ---------------------------------------------------------------------------
// Where the reads are made (the device path itself: tests/unit/cuda_simulation_test.cc).

TEST(ReadsPath, HostBackendsReadOnTheHostAndSayWhy) {
  for (const BackendInfo& backend : list_backends()) {
    if (!backend.available || backend.name == "cuda" || backend.name == "thrust") continue;
    SCOPED_TRACE(backend.name);
    SimulationConfig config = small_config();
    config.duration = seconds(1);
    config.backend = backend.name;
    EXPECT_EQ(choose_reads_path(config, false).host_reason,
              "the " + backend.name + " backend keeps its counters in host memory");
    const SimulationSummary s = run_simulation(config);
    EXPECT_FALSE(s.reads_path.on_device);
    EXPECT_EQ(s.reads_path.host_reason, "the " + backend.name + " backend keeps its counters in host memory");
  }
}

TEST(ReadsPath, TurnedOffReadsOnTheHostOnAnyStore) {
  SimulationConfig config = small_config();
  config.device_reads = false;
  for (const bool device_store : {false, true}) {
    const ReadsPath path = choose_reads_path(config, device_store);
    EXPECT_FALSE(path.on_device);
    EXPECT_EQ(path.host_reason, "device reads are turned off");
  }
}

TEST(ReadsPath, ACapBelowTheKeysReadsOnTheHostEvenOnADeviceStore) {
  SimulationConfig config = small_config();  // 1000 keys
  config.cap = 999;
  const ReadsPath path = choose_reads_path(config, true);
  EXPECT_FALSE(path.on_device);
  EXPECT_EQ(path.host_reason,
            "cap 999 < 1000 keys: evictions between reads need the host's per-read LRU order");
}

TEST(ReadsPath, NoEvictionPossibleOnADeviceStoreReadsOnTheDeviceWhereTheBuildHasCuda) {
  SimulationConfig config = small_config();
  for (const std::uint64_t cap : {std::uint64_t{0}, config.keys, config.keys + 1}) {
    config.cap = cap;
    const ReadsPath path = choose_reads_path(config, true);
    // This test binary does not know whether the library has CUDA; either
    // answer must be the right one for its build.
    if (path.on_device) {
      EXPECT_EQ(path.host_reason, "") << "cap " << cap;
    } else {
      EXPECT_EQ(path.host_reason, "this build has no device workload (CUDA)") << "cap " << cap;
    }
  }
}

// ---------------------------------------------------------------------------
// Validation: each bad field is named.

void expect_invalid(const SimulationConfig& config, ConfigField field) {
  try {
    Simulation sim(config);
    ADD_FAILURE() << "accepted an invalid " << field_name(field);
  } catch (const InvalidSimulationConfig& e) {
    EXPECT_EQ(e.field(), field) << e.what();
    EXPECT_FALSE(e.requirement().empty());
    EXPECT_NE(std::string(e.what()).find(std::string(field_name(field))), std::string::npos) << e.what();
  }
}

template <class Change>
void expect_invalid_when(Change change, ConfigField field) {
  SimulationConfig config = small_config();
  change(config);
  expect_invalid(config, field);
}

TEST(SimulationValidation, DefaultConfigIsValid) { EXPECT_NO_THROW(validate(SimulationConfig{})); }

TEST(SimulationValidation, Keys) {
  expect_invalid_when([](SimulationConfig& c) { c.keys = 0; }, ConfigField::kKeys);
  expect_invalid_when([](SimulationConfig& c) { c.keys = 1ULL << 32; }, ConfigField::kKeys);
}

TEST(SimulationValidation, ZipfExponent) {
  expect_invalid_when([](SimulationConfig& c) { c.zipf_exponent = -0.5; }, ConfigField::kZipfExponent);
  expect_invalid_when([](SimulationConfig& c) { c.zipf_exponent = std::nan(""); },
                      ConfigField::kZipfExponent);
  expect_invalid_when([](SimulationConfig& c) { c.zipf_exponent = INFINITY; }, ConfigField::kZipfExponent);
}

TEST(SimulationValidation, ReadsPerSecond) {
  expect_invalid_when([](SimulationConfig& c) { c.reads_per_second = 0; }, ConfigField::kReadsPerSecond);
  // 1 read per second at a 100 ms interval rounds to 0 reads per tick.
  expect_invalid_when(
      [](SimulationConfig& c) {
        c.reads_per_second = 1;
        c.tick_interval = milliseconds(100);
      },
      ConfigField::kReadsPerSecond);
  expect_invalid_when([](SimulationConfig& c) { c.reads_per_second = 1ULL << 33; },
                      ConfigField::kReadsPerSecond);
}

TEST(SimulationValidation, TickIntervalAndDuration) {
  expect_invalid_when([](SimulationConfig& c) { c.tick_interval = Duration(0); }, ConfigField::kTickInterval);
  expect_invalid_when([](SimulationConfig& c) { c.tick_interval = Duration(-5); }, ConfigField::kTickInterval);
  expect_invalid_when([](SimulationConfig& c) { c.duration = Duration(0); }, ConfigField::kDuration);
  expect_invalid_when([](SimulationConfig& c) { c.duration = milliseconds(2500); }, ConfigField::kDuration);
  // 2^32 ticks: more than the read counter holds.
  expect_invalid_when(
      [](SimulationConfig& c) {
        c.reads_per_second = 1'000'000'000;
        c.tick_interval = Duration(1);
        c.duration = Duration(1LL << 32);
      },
      ConfigField::kDuration);
}

TEST(SimulationValidation, HalfLifeAndRatioGoThroughPolicyValidation) {
  expect_invalid_when([](SimulationConfig& c) { c.half_life = Duration(0); }, ConfigField::kHalfLife);
  expect_invalid_when([](SimulationConfig& c) { c.half_life = Duration(-1); }, ConfigField::kHalfLife);
  expect_invalid_when([](SimulationConfig& c) { c.emit_threshold_ratio = 1.0f; },
                      ConfigField::kEmitThresholdRatio);
  expect_invalid_when([](SimulationConfig& c) { c.emit_threshold_ratio = 10.5f; },
                      ConfigField::kEmitThresholdRatio);
  expect_invalid_when([](SimulationConfig& c) { c.emit_threshold_ratio = std::nanf(""); },
                      ConfigField::kEmitThresholdRatio);
}

TEST(SimulationValidation, CommitFailureRate) {
  expect_invalid_when([](SimulationConfig& c) { c.commit_failure_rate = -0.01; },
                      ConfigField::kCommitFailureRate);
  expect_invalid_when([](SimulationConfig& c) { c.commit_failure_rate = 1.01; },
                      ConfigField::kCommitFailureRate);
  expect_invalid_when([](SimulationConfig& c) { c.commit_failure_rate = std::nan(""); },
                      ConfigField::kCommitFailureRate);
}

TEST(SimulationValidation, UnknownBackendIsReported) {
  SimulationConfig config = small_config();
  config.backend = "no-such-backend";
  EXPECT_THROW(Simulation{config}, UnknownBackend);
}

}  // namespace
}  // namespace heatkit::sim
