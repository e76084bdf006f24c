// A simulation run saved to a snapshot and resumed (sim/simulation_snapshot.h):
// the record's encoding and every refusal of its reader, and that a run
// stopped after some ticks, saved, loaded and resumed ends with the totals
// and the counters of a run never stopped, on every backend this build can
// run (the device read path included, where a GPU is there), and resumed on
// another backend.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <heatkit/backend.h>
#include "sim/simulation.h"
#include "sim/simulation_snapshot.h"
#include "snapshot/registry_snapshot.h"

namespace heatkit::sim {
namespace {

namespace fs = std::filesystem;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// Evictions (cap below the keys) and commit failures. The half-life ends in
// 7 ns, so no decision is a threshold tie (tests/unit/cuda_simulation_test.cc)
// and backends agree.
SimulationConfig evicting_config(const std::string& backend) {
  SimulationConfig c;
  c.keys = 5'000;
  c.reads_per_second = 20'000;
  c.duration = seconds(24);
  c.half_life = nanoseconds(100'000'007);
  c.cap = 3'000;
  c.commit_failure_rate = 0.1;
  c.seed = 99;
  c.backend = backend;
  c.threads = 2;
  return c;
}

// No eviction possible (on cuda and thrust the reads are made on the
// device): cold keys decay to zero (a lone read reaches epsilon after about
// 5 s), are withdrawn, pruned and read again later.
SimulationConfig resident_config(const std::string& backend) {
  SimulationConfig c = evicting_config(backend);
  c.cap = 0;
  return c;
}

std::vector<std::string> runnable_backends() {
  std::vector<std::string> out;
  for (const BackendInfo& b : list_backends()) {
    if (b.available) out.push_back(b.name);
  }
  return out;
}

class TempDir {
 public:
  TempDir() : path_(fs::temp_directory_path() / ("heatkit_sim_snapshot_" + std::to_string(::getpid()))) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path file(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

struct Finished {
  SimulationSummary summary;
  std::map<std::uint64_t, HeatCounter> counters;
};

Finished finish(Simulation& simulation) {
  while (!simulation.finished()) simulation.step();
  Finished out{simulation.summary(), {}};
  simulation.registry().for_each([&](std::uint64_t key, const HeatCounter& c) { out.counters.emplace(key, c); });
  return out;
}

// Runs `stop_after` ticks of `config`, saves, loads on `resume_backend` and
// finishes the run there.
Finished stopped_and_resumed(const SimulationConfig& config, std::uint64_t stop_after,
                             const std::string& resume_backend, const fs::path& path) {
  {
    Simulation first(config);
    for (std::uint64_t t = 0; t < stop_after; ++t) first.step();
    save_simulation(first, path);
  }
  RegistryOptions options;
  options.backend = resume_backend;
  options.threads = config.threads;
  SavedSimulation saved = load_simulation(path, options);
  EXPECT_EQ(saved.record.progress.ticks_done, stop_after);
  SimulationConfig resumed = saved.record.config;
  resumed.backend = resume_backend;
  resumed.threads = config.threads;
  Simulation second(resumed, std::move(saved.registry), saved.record.progress);
  return finish(second);
}

void expect_same_run(const Finished& resumed, const Finished& whole) {
  EXPECT_EQ(resumed.summary.counts, whole.summary.counts);
  EXPECT_EQ(resumed.summary.counters_peak, whole.summary.counters_peak);
  EXPECT_EQ(resumed.summary.counters_live, whole.summary.counters_live);
  ASSERT_EQ(resumed.counters.size(), whole.counters.size());
  for (const auto& [key, counter] : whole.counters) {
    const auto it = resumed.counters.find(key);
    ASSERT_NE(it, resumed.counters.end()) << "key " << key;
    const HeatCounter& mine = it->second;
    const double scale = std::max(1.0, counter.rate());
    EXPECT_NEAR(mine.rate(), counter.rate(), 1e-12 * scale) << "key " << key;
    EXPECT_EQ(mine.last_update(), counter.last_update()) << "key " << key;
    ASSERT_EQ(mine.last_emitted().has_value(), counter.last_emitted().has_value()) << "key " << key;
    if (counter.last_emitted()) {
      EXPECT_NEAR(*mine.last_emitted(), *counter.last_emitted(), 1e-12 * std::max(1.0, *counter.last_emitted()))
          << "key " << key;
    }
  }
}

TEST(SimulationRecord, RoundTrips) {
  SimulationRecord r;
  r.config = evicting_config("highway");
  r.config.zipf_exponent = 0.75;
  r.config.emit_threshold_ratio = 1.5f;
  r.progress.ticks_done = 3;
  r.progress.counters_peak = 2'999;
  r.progress.counts = {60'000, 1, 2, 3, 4, 5, 6, 7};
  r.progress.times = {0.5, 0.25, 0.125, 0.0625};
  r.progress.wall_seconds = 1.5;
  const std::vector<std::byte> bytes = encode_record(r);
  EXPECT_EQ(bytes.size(), 220u + r.config.backend.size());
  EXPECT_TRUE(looks_like_record(bytes));
  const SimulationRecord back = decode_record(bytes);
  EXPECT_EQ(back.config.keys, r.config.keys);
  EXPECT_EQ(back.config.zipf_exponent, r.config.zipf_exponent);
  EXPECT_EQ(back.config.reads_per_second, r.config.reads_per_second);
  EXPECT_EQ(back.config.tick_interval, r.config.tick_interval);
  EXPECT_EQ(back.config.duration, r.config.duration);
  EXPECT_EQ(back.config.half_life, r.config.half_life);
  EXPECT_EQ(back.config.emit_threshold_ratio, r.config.emit_threshold_ratio);
  EXPECT_EQ(back.config.cap, r.config.cap);
  EXPECT_EQ(back.config.commit_failure_rate, r.config.commit_failure_rate);
  EXPECT_EQ(back.config.seed, r.config.seed);
  EXPECT_EQ(back.config.backend, "highway");
  EXPECT_EQ(back.progress.ticks_done, 3u);
  EXPECT_EQ(back.progress.counters_peak, 2'999u);
  EXPECT_EQ(back.progress.counts, r.progress.counts);
  EXPECT_EQ(back.progress.times.tick, 0.125);
  EXPECT_EQ(back.progress.wall_seconds, 1.5);
  // Little-endian, field by field: the keys (5,000) at offset 16.
  EXPECT_EQ(bytes[16], std::byte{0x88});
  EXPECT_EQ(bytes[17], std::byte{0x13});
}

TEST(SimulationRecord, RefusesWhatItCannotResume) {
  SimulationRecord good;
  good.config = evicting_config("scalar");
  good.progress.ticks_done = 2;
  good.progress.counts.reads = 40'000;
  const std::vector<std::byte> bytes = encode_record(good);
  ASSERT_NO_THROW(decode_record(bytes));

  const auto refused = [](std::vector<std::byte> b, const std::string& words) {
    try {
      decode_record(b);
      ADD_FAILURE() << "accepted; expected: " << words;
    } catch (const InvalidSimulationRecord& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  auto changed = [&](std::size_t at, std::uint8_t value) {
    std::vector<std::byte> b = bytes;
    b[at] = std::byte{value};
    return b;
  };
  refused(changed(0, 'X'), "does not start with HKSIMRUN");
  EXPECT_FALSE(looks_like_record(changed(0, 'X')));
  refused(changed(8, 2), "version 2, this build reads version 1");
  refused(changed(12, 1), "reserved");
  refused(changed(68, 1), "reserved");
  refused(std::vector<std::byte>(bytes.begin(), bytes.begin() + 100), "fewer than the 220");
  std::vector<std::byte> longer = bytes;
  longer.push_back(std::byte{0});
  refused(longer, "bytes with a backend name");
  std::vector<std::byte> no_keys = bytes;
  no_keys[16] = no_keys[17] = std::byte{0};
  refused(no_keys, "keys must be in");
  refused(changed(96, 200), "ticks done, more than the 24");
  refused(changed(104, 1), "reads in 2 ticks");
  refused(changed(183, 0xff) /* read_generation's sign and exponent */, "a time is negative or not finite");
}

TEST(SimulationSnapshot, ResumedRunEqualsTheRunNeverStopped) {
  TempDir dir;
  for (const std::string& backend : runnable_backends()) {
    for (const SimulationConfig& config : {evicting_config(backend), resident_config(backend)}) {
      SCOPED_TRACE(backend + (config.cap == 0 ? ", no cap" : ", cap below the keys"));
      Simulation whole_run(config);
      const Finished whole = finish(whole_run);
      const SimulationCounts& n = whole.summary.counts;
      ASSERT_GT(n.emits_rolled_back, 0u);
      if (config.cap == 0) {
        ASSERT_GT(n.withdrawals_rolled_back, 0u);
        ASSERT_GT(n.prunes, 0u);
      } else {
        ASSERT_GT(n.evictions, 0u);
      }
      for (const std::uint64_t stop_after : {std::uint64_t{1}, std::uint64_t{11}, std::uint64_t{24}}) {
        SCOPED_TRACE("stopped after tick " + std::to_string(stop_after));
        expect_same_run(stopped_and_resumed(config, stop_after, backend, dir.file(backend + ".snap")), whole);
      }
    }
  }
}

// The counters a snapshot holds are SEMANTICS.md's, whatever backend saved
// them: scalar's run goes on on every other backend to scalar's totals.
TEST(SimulationSnapshot, ResumesOnAnotherBackend) {
  TempDir dir;
  for (const SimulationConfig& config : {evicting_config("scalar"), resident_config("scalar")}) {
    Simulation whole_run(config);
    const Finished whole = finish(whole_run);
    for (const std::string& backend : runnable_backends()) {
      SCOPED_TRACE("resumed on " + backend + (config.cap == 0 ? ", no cap" : ", cap below the keys"));
      expect_same_run(stopped_and_resumed(config, 9, backend, dir.file("scalar.snap")), whole);
    }
  }
}

TEST(SimulationSnapshot, RefusesARegistryThatIsNotTheRuns) {
  const SimulationConfig config = evicting_config("scalar");
  SimulationProgress none;
  RegistryOptions options;
  options.backend = "scalar";
  options.track_in_flight = true;
  options.cap = 10;
  EXPECT_THROW(Simulation(config, BasicHeatRegistry<std::uint64_t>(options), none), std::invalid_argument);
  options.cap = config.cap;
  options.track_in_flight = false;
  EXPECT_THROW(Simulation(config, BasicHeatRegistry<std::uint64_t>(options), none), std::invalid_argument);
  options.track_in_flight = true;
  BasicHeatRegistry<std::uint64_t> foreign(options);
  foreign.entry(config.keys, seconds(1), Instant{}).bump(Instant{});
  EXPECT_THROW(Simulation(config, std::move(foreign), none), std::invalid_argument);
  SimulationProgress too_far;
  too_far.ticks_done = 25;
  try {
    Simulation(config, BasicHeatRegistry<std::uint64_t>(options), too_far);
    ADD_FAILURE() << "resumed past its duration";
  } catch (const InvalidSimulationConfig& e) {
    EXPECT_EQ(e.field(), ConfigField::kDuration);
  }
}

TEST(SimulationSnapshot, LoadRefusesASnapshotWithoutASimulateRecord) {
  TempDir dir;
  RegistryOptions options;
  options.backend = "scalar";
  BasicHeatRegistry<std::uint64_t> registry(options);
  save_snapshot(registry, dir.file("none.snap"));
  EXPECT_THROW(load_simulation(dir.file("none.snap"), options), InvalidSimulationRecord);
  const std::byte other[] = {std::byte{1}, std::byte{2}, std::byte{3}};
  save_snapshot(registry, dir.file("other.snap"), other);
  EXPECT_THROW(load_simulation(dir.file("other.snap"), options), InvalidSimulationRecord);
  EXPECT_THROW(load_simulation(dir.file("missing.snap"), options), SnapshotError);
}

}  // namespace
}  // namespace heatkit::sim
