// `heatkit simulate` with its reads generated and applied on the device
// (sim/simulation.cc over sim/device_workload.h). Two groups:
//  - tests that run everywhere (no GPU needed): when the device path is
//    chosen and why not, and that the configs below are free of threshold
//    ties on the host backends;
//  - device tests, skipped with "no CUDA device: <reason>" where none can run
//    the kernels: on both device backends the device path gives, tick by
//    tick, the counts of the host path on the same backend (and the same
//    counters, rates within 1e-12) and of the scalar backend; a cap below the
//    key count falls back to host reads; pruned keys come back; a tick larger
//    than one device batch; and, on a workload with ties on purpose, every
//    decision that differs from the scalar backend is a tie (also on the
//    default workload, over its first twelve ticks).
//
// Ties: the paths compute the same decays with different rounding (the device
// applies a key's reads of a tick as one scan, the host one by one; CUDA's
// exp2 is not glibc's), so a decision may differ where a ratio or a rate lies
// within 1e-12 of its threshold (SEMANTICS.md "Numbers"). The configs whose
// counts are compared (tie_free_configs) are built so that no decision lands
// there, and the counts are compared exactly: the half-lives are no whole multiple of the tick interval (a
// counter left alone for k ticks has decayed by 2^(k * interval /
// half-life), never by exactly the ratio 2), and 52 half-lives (where a lone
// read's rate meets f64 epsilon) is no distance between a read instant and a
// tick instant (the reads sit on a grid of interval / reads_per_tick ns, the
// half-lives end in 7 ns). Any other tie would need two unrelated sums of
// powers to agree to 12 digits. The host-only test TieFreeConfigs checks the
// claim where it can: scalar and highway (whose exp2 also rounds differently)
// agree exactly on every config. Where ties are wanted, expect_only_ties
// compares decisions key by key instead.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/device_store.h"
#include "sim/device_workload.h"
#include "backends/backend.h"
#include "sim/simulation.h"

namespace heatkit::sim {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;

const char* const kDeviceBackends[] = {"cuda", "thrust"};

#define HEATKIT_SKIP_WITHOUT_DEVICE()                                         \
  do {                                                                        \
    const std::string& reason = gpu::unavailable_reason();                    \
    if (!reason.empty()) GTEST_SKIP() << "no CUDA device: " << reason;        \
  } while (false)

// Hot and cold keys that stay resident: emits committed and rolled back every
// tick, no withdrawals (8 half-lives in all: no rate gets near epsilon).
SimulationConfig steady_config() {
  SimulationConfig c;
  c.keys = 20'000;
  c.reads_per_second = 200'000;
  c.duration = seconds(20);
  c.half_life = nanoseconds(2'500'000'007);
  c.cap = c.keys;
  c.commit_failure_rate = 0.05;
  c.seed = 2024;
  return c;
}

// Cold keys read about once in ten ticks with a half-life of 0.1 s: they
// decay to zero, are withdrawn and pruned, and are read (created) again later.
SimulationConfig pruning_config() {
  SimulationConfig c;
  c.keys = 2'000;
  c.reads_per_second = 2'000;
  c.duration = seconds(40);
  c.half_life = nanoseconds(100'000'007);
  c.cap = 0;
  c.commit_failure_rate = 0.2;
  c.seed = 77;
  return c;
}

// A half-life of 10 ms: two reads of one key within a tick are often more
// than 52 half-lives apart, where a bump batch on the device cannot use its
// scan (cuda/device_passes.h apply_timed_bumps) and applies reads in turn.
SimulationConfig collapsing_config() {
  SimulationConfig c = pruning_config();
  c.duration = seconds(12);
  c.half_life = nanoseconds(10'000'007);
  c.cap = c.keys;
  c.seed = 78;
  return c;
}

struct NamedConfig {
  const char* name;
  SimulationConfig config;
};

std::vector<NamedConfig> tie_free_configs() {
  return {{"steady", steady_config()}, {"pruning", pruning_config()}, {"collapsing", collapsing_config()}};
}

struct CounterSnapshot {
  double rate = 0.0;
  std::int64_t last_update = 0;
  std::optional<double> last_emitted;
};

struct RunResult {
  std::vector<TickReport> ticks;
  SimulationSummary summary;
  std::map<std::uint64_t, CounterSnapshot> counters;  // when asked for
};

RunResult run_on(SimulationConfig config, const std::string& backend, bool device_reads,
                 bool with_counters = false) {
  config.backend = backend;
  config.device_reads = device_reads;
  Simulation sim(config);
  RunResult out;
  while (!sim.finished()) out.ticks.push_back(sim.step());
  out.summary = sim.summary();
  if (with_counters) {
    sim.registry().for_each([&](std::uint64_t key, const HeatCounter& c) {
      out.counters[key] = {c.rate(), to_ns(c.last_update()), c.last_emitted()};
    });
  }
  return out;
}

void expect_same_ticks(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.ticks.size(), b.ticks.size());
  for (std::size_t k = 0; k < a.ticks.size(); ++k) {
    const TickReport& x = a.ticks[k];
    const TickReport& y = b.ticks[k];
    EXPECT_EQ(x.counts, y.counts)
        << "tick " << k << ": emits " << x.counts.emits_committed << "+" << x.counts.emits_rolled_back
        << " vs " << y.counts.emits_committed << "+" << y.counts.emits_rolled_back << ", withdrawals "
        << x.counts.withdrawals_committed << "+" << x.counts.withdrawals_rolled_back << " vs "
        << y.counts.withdrawals_committed << "+" << y.counts.withdrawals_rolled_back << ", prunes "
        << x.counts.prunes << " vs " << y.counts.prunes << ", evictions " << x.counts.evictions << " vs "
        << y.counts.evictions;
    EXPECT_EQ(x.counters_ticked, y.counters_ticked) << "tick " << k;
    EXPECT_EQ(x.counters_live, y.counters_live) << "tick " << k;
  }
  EXPECT_EQ(a.summary.counts, b.summary.counts);
  EXPECT_EQ(a.summary.counters_peak, b.summary.counters_peak);
}

bool close(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
}

void expect_same_counters(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.counters.size(), b.counters.size());
  for (const auto& [key, x] : a.counters) {
    const auto it = b.counters.find(key);
    ASSERT_NE(it, b.counters.end()) << "key " << key;
    const CounterSnapshot& y = it->second;
    EXPECT_TRUE(close(x.rate, y.rate)) << "key " << key << ": rate " << x.rate << " vs " << y.rate;
    EXPECT_EQ(x.last_update, y.last_update) << "key " << key;
    ASSERT_EQ(x.last_emitted.has_value(), y.last_emitted.has_value()) << "key " << key;
    if (x.last_emitted) {
      EXPECT_TRUE(close(*x.last_emitted, *y.last_emitted))
          << "key " << key << ": last_emitted " << *x.last_emitted << " vs " << *y.last_emitted;
    }
  }
}

// ---------------------------------------------------------------------------
// Without a GPU.

TEST(DeviceReadsPath, is_chosen_on_a_device_store_when_nothing_can_be_evicted) {
  SimulationConfig config = steady_config();
  for (const std::uint64_t cap : {std::uint64_t{0}, config.keys, config.keys + 1}) {
    config.cap = cap;
    const ReadsPath path = choose_reads_path(config, true);
    EXPECT_TRUE(path.on_device) << "cap " << cap << ": " << path.host_reason;
    EXPECT_EQ(path.host_reason, "");
  }
}

TEST(DeviceReadsPath, falls_back_to_the_host_and_says_why) {
  SimulationConfig config = steady_config();
  config.cap = config.keys - 1;
  ReadsPath path = choose_reads_path(config, true);
  EXPECT_FALSE(path.on_device);
  EXPECT_EQ(path.host_reason,
            "cap 19999 < 20000 keys: evictions between reads need the host's per-read LRU order");

  config.cap = 0;
  config.backend = "scalar";
  path = choose_reads_path(config, false);
  EXPECT_FALSE(path.on_device);
  EXPECT_EQ(path.host_reason, "the scalar backend keeps its counters in host memory");

  config.device_reads = false;
  path = choose_reads_path(config, true);
  EXPECT_FALSE(path.on_device);
  EXPECT_EQ(path.host_reason, "device reads are turned off");
}

TEST(DeviceReadsPath, a_device_backend_without_a_device_fails_with_the_reason) {
  const std::string& reason = gpu::unavailable_reason();
  if (reason.empty()) GTEST_SKIP() << "a CUDA device is here";
  for (const char* backend : kDeviceBackends) {
    SimulationConfig config = steady_config();
    config.backend = backend;
    try {
      Simulation sim(config);
      ADD_FAILURE() << backend << " was selected without a device";
    } catch (const BackendUnavailable& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

// The configs do what their comments say, and are free of ties where two
// host backends round differently.
TEST(TieFreeConfigs, give_identical_counts_on_the_host_backends) {
  for (const NamedConfig& named : tie_free_configs()) {
    SCOPED_TRACE(named.name);
    const RunResult scalar = run_on(named.config, "scalar", true);
    EXPECT_FALSE(scalar.summary.reads_path.on_device);
    const SimulationCounts& n = scalar.summary.counts;
    EXPECT_GT(n.emits_committed, 0u);
    EXPECT_GT(n.emits_rolled_back, 0u);
    EXPECT_EQ(n.evictions, 0u);
    if (std::string(named.name) == "steady") {
      EXPECT_EQ(n.withdrawals_committed + n.withdrawals_rolled_back, 0u);
    } else {
      EXPECT_GT(n.withdrawals_committed, 0u);
      EXPECT_GT(n.withdrawals_rolled_back, 0u);
      EXPECT_GT(n.prunes, 0u);
      // More counters were created than there are keys: pruned keys came back.
      EXPECT_GT(n.prunes + scalar.summary.counters_live, named.config.keys);
    }
    for (const BackendInfo& backend : list_backends()) {
      const bool host = backend.name != "cuda" && backend.name != "thrust";
      if (!backend.available || !host || backend.name == "scalar") continue;
      SCOPED_TRACE(backend.name);
      expect_same_ticks(scalar, run_on(named.config, backend.name, true));
    }
  }
}

// ---------------------------------------------------------------------------
// On a device.

TEST(DeviceReads, match_host_reads_on_the_same_backend) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  for (const char* backend : kDeviceBackends) {
    for (const NamedConfig& named : tie_free_configs()) {
      SCOPED_TRACE(std::string(backend) + ", " + named.name);
      const RunResult device = run_on(named.config, backend, true, /*with_counters=*/true);
      const RunResult host = run_on(named.config, backend, false, /*with_counters=*/true);
      EXPECT_TRUE(device.summary.reads_path.on_device) << device.summary.reads_path.host_reason;
      EXPECT_FALSE(host.summary.reads_path.on_device);
      EXPECT_EQ(host.summary.reads_path.host_reason, "device reads are turned off");
      EXPECT_EQ(device.summary.backend, backend);
      expect_same_ticks(device, host);
      // Same keys live, same instants; rates as the two bump paths round them.
      expect_same_counters(device, host);
    }
  }
}

TEST(DeviceReads, match_the_scalar_backend) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  for (const NamedConfig& named : tie_free_configs()) {
    const RunResult scalar = run_on(named.config, "scalar", true, /*with_counters=*/true);
    for (const char* backend : kDeviceBackends) {
      SCOPED_TRACE(std::string(backend) + ", " + named.name);
      const RunResult device = run_on(named.config, backend, true, /*with_counters=*/true);
      EXPECT_TRUE(device.summary.reads_path.on_device);
      expect_same_ticks(device, scalar);
      expect_same_counters(device, scalar);
    }
  }
}

TEST(DeviceReads, a_cap_below_the_keys_falls_back_to_host_reads) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  SimulationConfig config = steady_config();
  config.cap = config.keys / 2;
  const RunResult scalar = run_on(config, "scalar", true);
  EXPECT_GT(scalar.summary.counts.evictions, 0u);
  for (const char* backend : kDeviceBackends) {
    SCOPED_TRACE(backend);
    const RunResult device_backend = run_on(config, backend, true);
    EXPECT_FALSE(device_backend.summary.reads_path.on_device);
    EXPECT_EQ(device_backend.summary.reads_path.host_reason,
              "cap 10000 < 20000 keys: evictions between reads need the host's per-read LRU order");
    expect_same_ticks(device_backend, scalar);
  }
}

TEST(DeviceReads, pruned_keys_are_forgotten_and_come_back) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  const SimulationConfig config = pruning_config();
  for (const char* backend : kDeviceBackends) {
    SCOPED_TRACE(backend);
    const RunResult device = run_on(config, backend, true, /*with_counters=*/true);
    const RunResult host = run_on(config, backend, false, /*with_counters=*/true);
    ASSERT_TRUE(device.summary.reads_path.on_device);
    const SimulationCounts& n = device.summary.counts;
    EXPECT_GT(n.prunes, 0u);
    EXPECT_GT(n.prunes + device.summary.counters_live, config.keys);  // some keys were created twice
    expect_same_ticks(device, host);
    expect_same_counters(device, host);
  }
}

// Runs `c` (cap >= keys, nothing pruned) in lockstep on the scalar backend
// with host reads and on `backend` with device reads (sim/device_workload.h
// driven as the engine drives it), compares each tick's candidates key by key
// and expects every decision that differs to be a tie: the ratio of the
// decayed rate to the last emission within 1e-12 of the threshold, on both
// sides. Both registries then commit the scalar side's decisions, so one tie
// does not make the runs drift apart. Returns the number of ties.
std::uint64_t expect_only_ties(const SimulationConfig& c, const char* backend) {
  const std::uint64_t n = reads_per_tick(c);
  const std::int64_t interval = c.tick_interval.count();
  const ZipfTable table(static_cast<std::uint32_t>(c.keys), c.zipf_exponent);
  Policy policy;
  policy.emit_threshold_ratio = c.emit_threshold_ratio;
  policy.decay_half_life = c.half_life;
  const double ratio = static_cast<double>(c.emit_threshold_ratio);

  RegistryOptions options;
  options.cap = c.cap;
  options.track_in_flight = false;  // every candidate is resolved in its tick
  options.backend = "scalar";
  HeatRegistry reference(options);
  options.backend = backend;
  BasicHeatRegistry<std::uint64_t> device(options);
  auto* const store = dynamic_cast<gpu::DeviceCounterStore*>(&device.store());
  if (store == nullptr) {
    ADD_FAILURE() << backend << " has no device store";
    return 0;
  }
  gpu::DeviceReadWorkload workload(*store, {table.view(), c.seed, n, interval});

  std::uint64_t decisions = 0;
  std::uint64_t ties = 0;
  double farthest = 0.0;  // of a differing decision's ratio from the threshold, relative
  for (std::uint64_t tick = 0; tick < tick_count(c); ++tick) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const Instant at = instant_from_ns(read_time_ns(tick, i, n, interval));
      reference.entry(key_of_rank(read_rank(table.view(), c.seed, tick, i)), c.half_life, at).bump(at);
    }
    for (std::uint64_t first = 0; first < n; first += gpu::DeviceReadWorkload::kMaxBatchReads) {
      constexpr std::uint64_t kBatch = gpu::DeviceReadWorkload::kMaxBatchReads;
      const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - first));
      std::vector<Slot> slots;
      for (const gpu::DeviceReadWorkload::NewRank& fresh : workload.draw(tick, first, len)) {
        const Instant at = instant_from_ns(read_time_ns(tick, fresh.first_read, n, interval));
        device.entry(key_of_rank(fresh.rank), c.half_life, at);
        slots.push_back(*device.slot_of(key_of_rank(fresh.rank)));
      }
      workload.apply(slots);
    }
    if (device.size() != reference.size()) {
      ADD_FAILURE() << "tick " << tick << ": " << device.size() << " counters, scalar " << reference.size();
      return ties;
    }

    const Instant now = instant_from_ns(tick_time_ns(tick, interval));
    const HeatRegistry::Emissions expected = reference.tick(policy, now);
    const HeatRegistry::Emissions got = device.tick(policy, now);
    std::map<std::uint64_t, Decision> expected_kind, got_kind;
    for (const auto& [key, e] : expected) expected_kind[key] = e.kind;
    for (const auto& [key, e] : got) got_kind[key] = e.kind;
    decisions += reference.size();
    std::set<std::uint64_t> differing;
    for (const auto& [key, kind] : expected_kind) {
      const auto it = got_kind.find(key);
      if (it == got_kind.end() || it->second != kind) differing.insert(key);
    }
    for (const auto& [key, kind] : got_kind) {
      if (!expected_kind.contains(key)) differing.insert(key);
    }
    for (const std::uint64_t key : differing) {
      const HeatCounter r = *reference.get(key);
      const HeatCounter d = *device.get(key);
      if (!(r.last_emitted().has_value() && *r.last_emitted() > 0.0 && r.rate() > 0.0 && d.rate() > 0.0)) {
        ADD_FAILURE() << "tick " << tick << ", key " << key
                      << ": a differing decision away from the ratio test";
        continue;
      }
      const double prev = *r.last_emitted();
      for (const double rate : {r.rate(), d.rate()}) {
        const double distance = std::fabs(std::max(rate / prev, prev / rate) / ratio - 1.0);
        farthest = std::max(farthest, distance);
        EXPECT_LE(distance, 1e-12) << "tick " << tick << ", key " << key << ": rate " << rate
                                   << ", prev " << prev << " (scalar " << r.rate() << ", device "
                                   << d.rate() << ")";
      }
      ++ties;
    }

    // Both commit the reference's decisions (rates as the reference has them).
    HeatRegistry::Emissions committed;
    for (const auto& candidate : expected) {
      if (!commit_fails(c.seed, tick, candidate.first, c.commit_failure_rate)) committed.push_back(candidate);
    }
    reference.commit(committed);
    device.commit(committed);
    EXPECT_EQ(reference.stats().pruned, 0u) << "tick " << tick << ": the comparison assumes no prunes";
    EXPECT_EQ(device.stats().pruned, 0u) << "tick " << tick;
  }
  std::cout << "[ info     ] " << backend << ": " << ties << " of " << decisions
            << " decisions differ from the scalar backend's, each a tie (ratio within " << farthest
            << " of the threshold, relative)\n";
  return ties;
}

// A workload with ties on purpose: the default's half-life of 10 ticks, so a
// key left alone for 10 ticks after an emission has decayed by 2, the ratio,
// up to rounding; cold keys often are.
TEST(DeviceReads, differ_from_the_scalar_backend_only_at_threshold_ties) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  SimulationConfig c;
  c.keys = 50'000;
  c.reads_per_second = 100'000;
  c.duration = seconds(30);  // 3 half-lives: no rate gets near epsilon, nothing is pruned
  c.cap = c.keys;
  c.seed = 31337;
  for (const char* backend : kDeviceBackends) {
    SCOPED_TRACE(backend);
    expect_only_ties(c, backend);
  }
}

// The same on the default workload (a million keys, two million reads a
// tick, the default half-life, cap and seed), over its first twelve ticks
// rather than sixty so that the run takes seconds: past ten ticks, one
// half-life, where a key left alone since an emission meets the ratio.
TEST(DeviceReads, default_workload_differs_from_the_scalar_backend_only_at_ties) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  SimulationConfig c;
  c.duration = seconds(12);
  ASSERT_EQ(tick_count(c), 12u);
  ASSERT_GT(c.duration, c.half_life) << "ties need a key left alone for a half-life";
  expect_only_ties(c, "cuda");
}

TEST(DeviceReads, a_tick_larger_than_one_device_batch_is_applied_in_batches) {
  HEATKIT_SKIP_WITHOUT_DEVICE();
  SimulationConfig config;
  config.keys = 1'000'000;
  config.zipf_exponent = 0.5;  // new keys keep turning up in the second batch
  config.reads_per_second = gpu::DeviceReadWorkload::kMaxBatchReads + 12'345;
  config.duration = seconds(2);
  config.half_life = nanoseconds(2'500'000'007);
  config.cap = config.keys;
  config.seed = 9;
  const RunResult device = run_on(config, "cuda", true);
  const RunResult host = run_on(config, "cuda", false);
  ASSERT_TRUE(device.summary.reads_path.on_device);
  EXPECT_EQ(device.summary.counts.reads, 2 * config.reads_per_second);
  expect_same_ticks(device, host);
}

}  // namespace
}  // namespace heatkit::sim
