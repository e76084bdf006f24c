// The limits a run of `heatkit simulate` is checked against before it starts:
// the memory estimate (registry/memory_estimate.h, sim::estimate_memory) against
// what real registries and runs use, and the words of the memory budget
// (tools/memory_budget.h). The CLI's refusals are checked end to end in
// CMakeLists.txt.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "registry/memory_estimate.h"
#include "registry/registry.h"
#include "tools/memory_budget.h"
#include "sim/simulation.h"

namespace heatkit::sim {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<std::string> cpu_backends() {
  std::vector<std::string> out;
  for (const BackendInfo& b : list_backends()) {
    if (b.available && !b.device_columns) out.push_back(b.name);
  }
  return out;
}

Instant at_ms(std::int64_t ms) { return Instant(milliseconds(ms)); }

// ---------------------------------------------------------------------------
// The registry's estimate.

TEST(RegistryMemoryEstimate, SlotCountFollowsTheRegistrysGrowth) {
  EXPECT_EQ(registry_slot_count(0, 0), 0u);
  EXPECT_EQ(registry_slot_count(1, 0), 16u);
  EXPECT_EQ(registry_slot_count(17, 0), 32u);
  EXPECT_EQ(registry_slot_count(1'000'000, 0), std::size_t{1} << 20);
  EXPECT_EQ(registry_slot_count(1'000'000, 1'000'000), 1'000'000u);  // sixteenths end at the cap
  EXPECT_EQ(registry_slot_count(5'000'000, 1'000'000), 1'000'000u);
  EXPECT_EQ(registry_slot_count(std::size_t{1} << 40, 0), LruOrder::kMaxSlots);  // no registry holds more
}

// Filled with `counters` keys (no tick yet, so no scratch), every CPU
// backend's registry holds exactly the arrays the estimate names.
TEST(RegistryMemoryEstimate, ArraysAreExactlyThoseOfFilledRegistries) {
  struct Case {
    std::size_t counters, cap;
  };
  for (const std::string& backend : cpu_backends()) {
    for (const Case c : {Case{1, 0}, Case{1000, 0}, Case{100'000, 0}, Case{100'000, 65'536},
                         Case{300'000, 1'000'000}, Case{5'000, 4'096}}) {
      SCOPED_TRACE(backend + ", " + std::to_string(c.counters) + " counters, cap " + std::to_string(c.cap));
      RegistryOptions o;
      o.cap = c.cap;
      o.backend = backend;
      BasicHeatRegistry<std::uint64_t> r(o);
      for (std::size_t i = 0; i < c.counters; ++i) {
        r.entry(i * 7919, seconds(10), at_ms(static_cast<std::int64_t>(i)));
      }
      const RegistryMemoryEstimate e = estimate_registry_memory<std::uint64_t>(c.counters, c.cap, false);
      const MemoryUsage m = r.memory_usage();
      EXPECT_EQ(e.slots, r.store().slot_count());
      EXPECT_EQ(e.arrays.columns, m.columns);
      EXPECT_EQ(e.arrays.keys, m.keys);
      EXPECT_EQ(e.arrays.index, m.index);
      EXPECT_EQ(e.arrays.lru, m.lru);
    }
  }
}

// The worst a tick and a commit do to the scratch: every counter a
// candidate, then every one withdrawn and pruned, on several threads.
TEST(RegistryMemoryEstimate, BoundsTheRegistryThroughAMassEmissionAndAMassPrune) {
  constexpr std::size_t kCounters = 200'000;
  for (const std::string& backend : cpu_backends()) {
    SCOPED_TRACE(backend);
    RegistryOptions o;
    o.cap = 0;
    o.backend = backend;
    o.threads = 0;
    HeatRegistry r(o);
    for (std::size_t i = 0; i < kCounters; ++i) r.entry(i, seconds(10), at_ms(0)).bump(at_ms(0));
    const RegistryMemoryEstimate e = estimate_registry_memory<std::uint64_t>(kCounters, 0, false);
    std::size_t most = 0;
    HeatRegistry::Emissions out;
    for (const std::int64_t ms : {1'000, 2'000, 900'000}) {
      r.tick(Policy{}, at_ms(ms), out);
      r.commit(out);
      most = std::max(most, r.memory_usage().total());
    }
    EXPECT_EQ(r.size(), 0u);
    EXPECT_LE(most, e.total());
    EXPECT_GE(most * 3, e.total()) << "the estimate is far above what the registry used";
  }
}

// ---------------------------------------------------------------------------
// The run's estimate.

// The number of distinct keys a run reads, counted read by read.
std::size_t distinct_keys_read(const SimulationConfig& c) {
  const ZipfTable table(static_cast<std::uint32_t>(c.keys), c.zipf_exponent);
  std::set<std::uint32_t> seen;
  for (std::uint64_t tick = 0; tick < tick_count(c); ++tick) {
    for (std::uint64_t i = 0; i < reads_per_tick(c); ++i) {
      seen.insert(read_rank(table.view(), c.seed, tick, i));
    }
  }
  return seen.size();
}

TEST(MemoryEstimate, CountersBoundTheKeysTheReadsReachAndNotByMuch) {
  for (const double s : {0.0, 0.5, 1.1, 2.0}) {
    for (const std::uint64_t reads_per_second : {1'000u, 20'000u, 200'000u}) {
      SimulationConfig c;
      c.keys = 50'000;
      c.zipf_exponent = s;
      c.reads_per_second = reads_per_second;
      c.duration = seconds(3);
      c.cap = 0;
      const MemoryEstimate e = estimate_memory(c);
      const auto distinct = static_cast<double>(distinct_keys_read(c));
      SCOPED_TRACE("zipf " + std::to_string(s) + ", " + std::to_string(reads_per_second) + " reads/s: " +
                   std::to_string(distinct) + " distinct keys read, bound " + std::to_string(e.counters));
      EXPECT_GE(static_cast<double>(e.counters), distinct);
      EXPECT_LE(static_cast<double>(e.counters), distinct * 1.01 + 10.0 * std::sqrt(distinct) + 100.0);
      if (e.counters < c.keys) {
        EXPECT_EQ(e.counters_bound, ConfigField::kReadsPerSecond);
      }
    }
  }
  SimulationConfig capped;
  capped.cap = 1000;
  EXPECT_EQ(estimate_memory(capped).counters, 1000u);
  EXPECT_EQ(estimate_memory(capped).counters_bound, ConfigField::kCap);
}

TEST(MemoryEstimate, TheTablesGrowWithTheKeysAndTheRegistryWithTheCounters) {
  SimulationConfig c;
  c.keys = 4'294'967'295;
  c.cap = 1'000'000;
  const MemoryEstimate e = estimate_memory(c);
  EXPECT_EQ(e.tables, c.keys * 8);
  EXPECT_GT(e.tables_build, e.tables);
  EXPECT_EQ(e.largest_field(), ConfigField::kKeys);
  EXPECT_GT(e.peak(), std::uint64_t{100} << 30);  // the table alone is 32 GiB, 100 GiB while built
  EXPECT_LT(e.registry, std::uint64_t{1} << 30);

  c.keys = 1'000'000'000;
  c.cap = 500'000'000;
  c.reads_per_second = 1'000'000'000;
  const MemoryEstimate capped = estimate_memory(c);
  EXPECT_EQ(capped.counters, 500'000'000u);
  EXPECT_EQ(capped.largest_field(), ConfigField::kCap);
}

TEST(MemoryEstimate, ReportsTheConfigsAndTheBackendsErrors) {
  SimulationConfig c;
  c.keys = 0;
  EXPECT_THROW(estimate_memory(c), InvalidSimulationConfig);
  c = SimulationConfig{};
  c.backend = "no-such-backend";
  EXPECT_THROW(estimate_memory(c), UnknownBackend);
}

// What this process holds and has held at most, from /proc/self/status.
std::uint64_t status_bytes(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cli::memory_budget_detail::kb_field(text, field).value_or(0);
}

// Resident memory measures the run only without AddressSanitizer, whose
// shadow and quarantine grow with every allocation.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitized = true;
#else
constexpr bool kAddressSanitized = false;
#endif
#else
constexpr bool kAddressSanitized = false;
#endif

// A run the estimate accepts stays within it: the registry's own count and
// the growth of the process's peak resident memory (each test runs in a
// process of its own under ctest). And the estimate is not far above what
// the run used where the keys bound its counters.
void expect_run_within_estimate(const SimulationConfig& c, double most_over) {
  if (kAddressSanitized) GTEST_SKIP() << "resident memory under AddressSanitizer counts its shadow too";
  const std::uint64_t before = status_bytes("VmRSS");
  const MemoryEstimate e = estimate_memory(c);
  const SimulationSummary summary = run_simulation(c);
  const std::uint64_t peak = status_bytes("VmHWM");
  ASSERT_GT(peak, 0u) << "no /proc/self/status";
  const std::uint64_t grown = peak - std::min(peak, before);
  EXPECT_LE(summary.counters_peak, e.counters);
  EXPECT_LE(summary.memory.total(), e.registry);
  // 4 MiB: thread stacks and the allocator's own.
  EXPECT_LE(grown, e.peak() + (std::uint64_t{4} << 20))
      << "estimate " << e.peak() << ", resident memory grew by " << grown;
  EXPECT_LE(static_cast<double>(e.peak()), most_over * static_cast<double>(grown))
      << "estimate " << e.peak() << ", resident memory grew by " << grown;
}

TEST(MemoryEstimate, AnUnboundedRunOfUniformKeysStaysWithinIt) {
  SimulationConfig c;
  c.keys = 1'000'000;
  c.zipf_exponent = 0.0;
  c.reads_per_second = 4'000'000;
  c.duration = seconds(2);
  c.cap = 0;
  c.backend = "highway";
  expect_run_within_estimate(c, 1.6);
}

TEST(MemoryEstimate, ARunAtItsCapStaysWithinIt) {
  SimulationConfig c;
  c.keys = 3'000'000;
  c.zipf_exponent = 0.0;
  c.reads_per_second = 2'000'000;
  c.duration = seconds(2);
  c.cap = 1'000'000;
  c.backend = "scalar";
  expect_run_within_estimate(c, 1.6);
}

TEST(MemoryEstimate, AZipfRunWithPrunesStaysWithinIt) {
  SimulationConfig c;
  c.keys = 2'000'000;
  c.zipf_exponent = 1.1;
  c.reads_per_second = 2'000'000;
  c.duration = seconds(3);
  c.half_life = milliseconds(100);
  c.cap = 0;
  expect_run_within_estimate(c, 2.5);
}

// ---------------------------------------------------------------------------
// The budget's words.

TEST(MemoryBudget, ByteSizesTakeBinarySuffixes) {
  using cli::parse_byte_size;
  EXPECT_EQ(parse_byte_size("0"), 0u);
  EXPECT_EQ(parse_byte_size("123456"), 123456u);
  EXPECT_EQ(parse_byte_size("512M"), 512u << 20);
  EXPECT_EQ(parse_byte_size("4G"), std::uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("4g"), std::uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("4GiB"), std::uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("4GB"), std::uint64_t{4} << 30);
  EXPECT_EQ(parse_byte_size("64k"), 64u << 10);
  EXPECT_EQ(parse_byte_size("2T"), std::uint64_t{2} << 40);
  EXPECT_EQ(parse_byte_size("16777215T"), std::uint64_t{16777215} << 40);
  for (const char* bad : {"", "M", "-1", "1.5G", "4X", "4GX", "4 G", "16777216T", "99999999999999999999"}) {
    EXPECT_EQ(parse_byte_size(bad), std::nullopt) << bad;
  }
}

TEST(MemoryBudget, MemAvailableIsReadFromMeminfo) {
  const char* meminfo = "MemTotal:       32000000 kB\nMemFree:  100 kB\nMemAvailable:   21000000 kB\n";
  EXPECT_EQ(cli::mem_available(meminfo), std::uint64_t{21000000} * 1024);
  EXPECT_EQ(cli::mem_available("MemTotal: 1 kB\n"), std::nullopt);
  EXPECT_EQ(cli::mem_available("MemAvailableX: 5 kB\n"), std::nullopt);
}

TEST(MemoryBudget, TheMemoryAvailableHereIsKnownAndNamed) {
  const auto limit = cli::available_memory();
  ASSERT_TRUE(limit.has_value());  // Linux: /proc/meminfo at least
  EXPECT_GT(limit->bytes, 0u);
  EXPECT_TRUE(limit->source == "MemAvailable" || limit->source == "the cgroup's memory.max" ||
              limit->source == "ulimit -v")
      << limit->source;
}

TEST(MemoryBudget, SizesReadWithThreeDigits) {
  using cli::about_bytes;
  EXPECT_EQ(about_bytes(0), "0 B");
  EXPECT_EQ(about_bytes(512), "512 B");
  EXPECT_EQ(about_bytes(64u << 20), "64.0 MiB");
  EXPECT_EQ(about_bytes(std::uint64_t{4} << 30), "4.00 GiB");
  EXPECT_EQ(about_bytes(std::uint64_t{310} << 30), "310 GiB");
  EXPECT_EQ(about_bytes(static_cast<std::uint64_t>(20.1 * (1 << 30))), "20.1 GiB");
}

}  // namespace
}  // namespace heatkit::sim
