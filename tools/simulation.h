// The simulation behind `heatkit simulate`: a synthetic read workload (Zipf
// popularity over u64 keys) driven through a HeatRegistry, ticked at a fixed
// simulated interval, with a share of commits failing and rolled back.
//
// Two layers:
//  - the workload itself, as pure functions of (seed, tick, read index) over
//    kernels/ headers only, marked HEATKIT_HD: a device backend can generate
//    and apply exactly the reads the host engine applies;
//  - the engine (`Simulation`), which drives a registry with those reads and
//    counts and times what it does. It knows nothing of the command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "host/registry.h"
#include "kernels/counter_math.h"  // HEATKIT_HD
#include "kernels/random.h"
#include "kernels/time.h"
#include "kernels/zipf.h"

namespace heatkit::sim {

// ---------------------------------------------------------------------------
// The workload: pure functions, host and device.

// Streams of counter_random, one per kind of draw, so no two kinds share numbers.
inline constexpr std::uint64_t kReadStream = 0;
inline constexpr std::uint64_t kCommitFailureStream = 1;

// The counter_random index of read `read_index` of tick `tick`. Both fit in 32
// bits (the engine validates it), so the index is unique per read.
HEATKIT_HD constexpr std::uint64_t read_counter(std::uint64_t tick, std::uint64_t read_index) noexcept {
  return (tick << 32) | (read_index & 0xffffffffULL);
}

// The 64 random bits read `read_index` of tick `tick` draws its rank from.
HEATKIT_HD constexpr std::uint64_t read_bits(std::uint64_t seed, std::uint64_t tick,
                                             std::uint64_t read_index) noexcept {
  return counter_random(seed, kReadStream, read_counter(tick, read_index));
}

// The popularity rank (0 = hottest) that read `read_index` of tick `tick` draws.
HEATKIT_HD inline std::uint32_t read_rank(const ZipfTableView& table, std::uint64_t seed,
                                          std::uint64_t tick, std::uint64_t read_index) noexcept {
  return zipf_sample(table, read_bits(seed, tick, read_index));
}

// The registry key of rank `rank`: the rank itself (the registry hashes keys).
HEATKIT_HD constexpr std::uint64_t key_of_rank(std::uint32_t rank) noexcept { return rank; }

// The simulated time, in ns from the start, of read `read_index` of tick
// `tick`: the reads of tick k spread evenly over [k * interval, (k+1) * interval),
// read i at offset floor(i * interval / reads_per_tick), computed without
// overflow for reads_per_tick < 2^32. Tick k itself runs at (k+1) * interval.
HEATKIT_HD constexpr std::int64_t read_time_ns(std::uint64_t tick, std::uint64_t read_index,
                                               std::uint64_t reads_per_tick,
                                               std::int64_t tick_interval_ns) noexcept {
  const auto interval = static_cast<std::uint64_t>(tick_interval_ns);
  const std::uint64_t whole = interval / reads_per_tick;
  const std::uint64_t rest = interval % reads_per_tick;  // i * rest < reads_per_tick^2 < 2^64
  const std::uint64_t offset = read_index * whole + (read_index * rest) / reads_per_tick;
  return static_cast<std::int64_t>(tick * interval + offset);
}

// The simulated time of tick `tick` (0-based): the end of its read interval.
HEATKIT_HD constexpr std::int64_t tick_time_ns(std::uint64_t tick, std::int64_t tick_interval_ns) noexcept {
  return static_cast<std::int64_t>((tick + 1) * static_cast<std::uint64_t>(tick_interval_ns));
}

// Whether committing `key`'s candidate at tick `tick` fails. A pure function of
// (seed, tick, key), so the same candidates fail on every backend. A rate of 0
// never fails, 1 always does (unit_double is in [0, 1)).
HEATKIT_HD inline bool commit_fails(std::uint64_t seed, std::uint64_t tick, std::uint64_t key,
                                    double failure_rate) noexcept {
  const std::uint64_t tick_seed = counter_random(seed, kCommitFailureStream, tick);
  return unit_double(counter_random(tick_seed, kCommitFailureStream, key)) < failure_rate;
}

// ---------------------------------------------------------------------------
// The engine.

// Everything a run depends on. The defaults are the default workload.
struct SimulationConfig {
  std::uint64_t keys = 1'000'000;             // distinct keys (Zipf ranks), in [1, 2^32 - 1]
  double zipf_exponent = 1.1;                 // finite, >= 0 (0 = uniform)
  std::uint64_t reads_per_second = 2'000'000;  // simulated reads per simulated second
  Duration tick_interval = std::chrono::seconds(1);
  Duration duration = std::chrono::seconds(60);  // a whole multiple of tick_interval
  Duration half_life = std::chrono::seconds(10);
  float emit_threshold_ratio = 2.0f;          // as Policy validates it
  std::uint64_t cap = 1'000'000;              // registry cap, 0 = unbounded
  double commit_failure_rate = 0.01;          // in [0, 1]
  std::uint64_t seed = 0x68656174;            // "heat"
  std::string backend = std::string(default_backend());
  unsigned threads = 0;                       // tick/prune threads, 0 = every hardware thread
};

// The config field a validation error is about (the CLI maps each to its flag).
enum class ConfigField {
  kKeys,
  kZipfExponent,
  kReadsPerSecond,
  kTickInterval,
  kDuration,
  kHalfLife,
  kEmitThresholdRatio,
  kCap,
  kCommitFailureRate,
};

// A config field name as written in SimulationConfig ("keys", "tick_interval").
std::string_view field_name(ConfigField field) noexcept;

// Thrown by Simulation for an invalid config. `requirement()` is the message
// without the field name ("must be >= 1"), so callers can name the field their
// own way; what() is "simulation config: <field> <requirement>".
class InvalidSimulationConfig : public std::invalid_argument {
 public:
  InvalidSimulationConfig(ConfigField field, std::string requirement);
  ConfigField field() const noexcept { return field_; }
  const std::string& requirement() const noexcept { return requirement_; }

 private:
  ConfigField field_;
  std::string requirement_;
};

// Throws InvalidSimulationConfig for the first invalid field (backend names
// are checked when the registry is made: UnknownBackend, BackendUnavailable).
void validate(const SimulationConfig& config);

// Reads per tick the config implies: reads_per_second * tick_interval, rounded
// to the nearest integer. Validation requires it in [1, 2^32 - 1].
std::uint64_t reads_per_tick(const SimulationConfig& config);
// Number of ticks: duration / tick_interval.
std::uint64_t tick_count(const SimulationConfig& config);

// Outcome counts. Candidates are counted once per tick they are returned in: a
// rolled-back candidate that is returned again next tick counts again.
struct SimulationCounts {
  std::uint64_t reads = 0;                 // == bumps: every read bumps one counter
  std::uint64_t emits_committed = 0;
  std::uint64_t emits_rolled_back = 0;
  std::uint64_t withdrawals_committed = 0;
  std::uint64_t withdrawals_rolled_back = 0;
  std::uint64_t prunes = 0;                // RegistryStats::pruned
  std::uint64_t evictions = 0;             // RegistryStats::evictions
  std::uint64_t counters_ticked = 0;       // sum over ticks of live counters at the tick
  friend bool operator==(const SimulationCounts&, const SimulationCounts&) = default;
};

// Wall-clock seconds spent in each phase.
struct SimulationTimes {
  double read_generation = 0.0;  // drawing ranks and read times
  double bump = 0.0;             // registry.entry(key, ...).bump(t) for every read
  double tick = 0.0;             // registry.tick
  double commit = 0.0;           // rollbacks of failed candidates + one commit
  double total() const noexcept { return read_generation + bump + tick + commit; }
};

// What one step (one tick's reads, the tick, its commit) did.
struct TickReport {
  std::uint64_t tick = 0;        // 0-based
  std::uint64_t ticks = 0;       // of the run
  std::int64_t now_ns = 0;       // simulated time of the tick
  std::size_t counters_ticked = 0;  // live counters when the tick ran
  std::size_t counters_live = 0;    // after the commit
  SimulationCounts counts;       // this step only
  SimulationTimes times;         // this step only
};

struct SimulationSummary {
  SimulationConfig config;
  std::uint64_t ticks = 0;
  std::uint64_t reads_per_tick = 0;
  std::string backend;            // as the registry reports it
  std::size_t counters_live = 0;  // at the end
  std::size_t counters_peak = 0;  // most live counters after any step's reads
  SimulationCounts counts;
  SimulationTimes times;
  double wall_seconds = 0.0;      // the whole run, setup excluded
  MemoryUsage memory;             // the registry's, at the end

  // Mean tick wall time per tick, in seconds (0 before any tick).
  double seconds_per_tick() const noexcept;
  // Tick wall time over live counters ticked, over all ticks, in ns (0 when none).
  double ns_per_counter_tick() const noexcept;
  // Registry bytes per live counter at the end (0 when none are live).
  double bytes_per_counter() const noexcept;
};

using ProgressFn = std::function<void(const TickReport&)>;

// One simulation run, step by step. The registry has in-flight tracking ON:
// tick marks each candidate in flight, failed commits are rolled back (which
// clears the mark), so a failed candidate is returned again by the next tick
// exactly as a real sink's retry would see it. Every candidate is resolved
// within its own tick, so the counts equal a run with tracking off; tracking
// is on so the run exercises the mark/skip/rollback path a real sink uses.
class Simulation {
 public:
  // Validates the config, builds the Zipf table and the registry. Throws
  // InvalidSimulationConfig, UnknownBackend or BackendUnavailable.
  explicit Simulation(SimulationConfig config);
  ~Simulation();
  Simulation(Simulation&&) noexcept;
  Simulation& operator=(Simulation&&) noexcept;

  const SimulationConfig& config() const noexcept;
  std::uint64_t ticks() const noexcept;
  std::uint64_t ticks_done() const noexcept;
  bool finished() const noexcept { return ticks_done() == ticks(); }

  // Applies the next tick's reads, ticks, rolls back the failed candidates
  // and commits the rest. Precondition: !finished().
  TickReport step();

  // Totals so far.
  SimulationSummary summary() const;
  const HeatRegistry& registry() const noexcept;
  ZipfTableView zipf_table() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs every step; calls `progress` (when set) after each.
SimulationSummary run_simulation(const SimulationConfig& config, const ProgressFn& progress = {});

}  // namespace heatkit::sim
