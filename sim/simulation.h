// The simulation behind `heatkit simulate`: a synthetic read workload (Zipf
// popularity over u64 keys) driven through a heat registry, ticked at a fixed
// simulated interval, with a share of commits failing and rolled back.
//
// Two layers:
//  - the workload itself (sim/workload.h), as pure functions of (seed,
//    tick, read index) over kernels/ headers only, marked HEATKIT_HD: a
//    device backend can generate and apply exactly the reads the host engine
//    applies;
//  - the engine (`Simulation`), which drives a registry with those reads and
//    counts and times what it does. It knows nothing of the command line.
//
// Where the reads are made: on the host, one entry(key).bump(t) per read
// (through the registry's bump queue, so they are applied in batches); or,
// on a device backend (`cuda`, `thrust`) where no eviction can happen, on the
// device (sim/device_workload.h): a kernel draws the tick's ranks and times,
// the host creates only the keys read for the first time (in first-read
// order, as the host path creates them) and the reads are applied there as
// one bump batch. The counts are the same either way (up to threshold ties,
// SEMANTICS.md "Numbers").
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "registry/registry.h"
#include <heatkit/time.h>
#include "sim/zipf.h"
#include "sim/workload.h"

namespace heatkit::sim {

// ---------------------------------------------------------------------------
// The engine.

// Everything a run depends on. The defaults are the default workload (README).
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
  // Generate and apply the reads on the device where that is exact
  // (choose_reads_path); false keeps them on the host on every backend.
  bool device_reads = true;
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

// Reads [first, first + keys.size()) of tick `tick` (workload.h): each
// read's key and instant, drawn as fast as the host can (the alias table
// prefetched a few reads ahead). keys and times are the same length.
void draw_reads(const ZipfTableView& table, std::uint64_t seed, std::uint64_t tick, std::uint64_t first,
                std::uint64_t reads_per_tick, std::int64_t tick_interval_ns, std::span<std::uint64_t> keys,
                std::span<Instant> times);

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
  // Adds `step`'s counts, field by field (a run's totals, the ranks' sum).
  SimulationCounts& operator+=(const SimulationCounts& step) noexcept;
};

// Wall-clock seconds spent in each phase.
struct SimulationTimes {
  // Drawing ranks and read times; on the device also finding the keys read
  // for the first time and copying them back.
  double read_generation = 0.0;
  // registry.entry(key, ...).bump(t) for every read, the bump queue applied
  // at the end of each chunk of 4,096 reads; on the device: creating
  // the new keys on the host, mapping every read to its slot and the bump
  // batch, until it is applied.
  double bump = 0.0;
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

// Where a run generates and applies its reads.
struct ReadsPath {
  bool on_device = false;
  std::string host_reason;  // why on the host ("" on the device)
};

// The reads go to the device only when all of these hold, else the first that
// fails is the reason:
//  - config.device_reads;
//  - the registry's store is a device store (`device_store`: the `cuda` and
//    `thrust` backends);
//  - no eviction can happen: cap 0 or cap >= keys. The host path may evict at
//    the cap between two reads of one tick, choosing by the LRU order of
//    every read before it; a batch applied on the device has no such order;
//  - this build has the device workload (CUDA).
ReadsPath choose_reads_path(const SimulationConfig& config, bool device_store);

// ---------------------------------------------------------------------------
// Memory, before the run.

// The host memory a run needs at its largest, worked out from the config
// alone, so that a run which cannot fit is refused before anything big is
// allocated (`heatkit simulate`, --max-memory). Device memory (a device
// backend's columns, the device workload's tables) is not counted.
struct MemoryEstimate {
  // The most live counters the run can hold at once: no more than the keys,
  // the cap (when not 0) and the reads of the whole run (each may be a new
  // key); `counters_bound` names the least of the three (kKeys, kCap or
  // kReadsPerSecond).
  std::uint64_t counters = 0;
  ConfigField counters_bound = ConfigField::kKeys;
  // The workload's tables, kept for the whole run: the Zipf alias table (8
  // bytes a key) and, with the reads on the device, the host's rank -> slot
  // map (4 bytes a key) and its lists of new ranks.
  std::size_t tables = 0;
  // More while the alias table is built (its weights as doubles and its
  // work lists); given back before the registry is made.
  std::size_t tables_build = 0;
  // The registry at `counters` (registry/memory_estimate.h: its arrays, a tick
  // whose every counter is a candidate, a growth) and the engine's two lists
  // of a tick's candidates (returned, committed).
  std::size_t registry = 0;

  // The most the run holds at once: the tables and the larger of their
  // build and the registry.
  std::size_t peak() const noexcept { return tables + std::max(tables_build, registry); }
  // The config field whose value the peak grows with: kKeys where the
  // tables make it, else counters_bound.
  ConfigField largest_field() const noexcept {
    return tables_build >= registry ? ConfigField::kKeys : counters_bound;
  }
};

// The estimate for `config`. Throws InvalidSimulationConfig for an invalid
// config, UnknownBackend or BackendUnavailable for a backend the run could
// not use (the estimate depends on where the backend keeps its columns).
MemoryEstimate estimate_memory(const SimulationConfig& config);

struct SimulationSummary {
  SimulationConfig config;
  std::uint64_t ticks = 0;
  std::uint64_t reads_per_tick = 0;
  std::string backend;            // as the registry reports it
  ReadsPath reads_path;           // where the reads were generated and applied
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

// What a run carries from one tick to the next besides its registry: with
// the config and the registry, all a run needs to go on and end with the
// totals of a run never stopped (sim/simulation_snapshot.h saves it). The
// workload's reads and commit failures are pure functions of (seed, tick,
// ...), so no random state is carried; every candidate is resolved within
// its own tick, so no counter is in flight between ticks.
struct SimulationProgress {
  std::uint64_t ticks_done = 0;
  std::size_t counters_peak = 0;
  SimulationCounts counts;
  SimulationTimes times;      // summed over every process of the run
  double wall_seconds = 0.0;  // likewise
};

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
  // Goes on with a run that has done `progress.ticks_done` ticks, from its
  // registry as they left it (a loaded snapshot's). Throws what the
  // constructor above throws, InvalidSimulationConfig (kDuration) when the
  // config has fewer ticks than were done, and std::invalid_argument when
  // the registry cannot be the run's (its cap differs from config.cap, it
  // does not track in-flight counters, a counter is in flight, or a key is
  // not a rank below config.keys).
  Simulation(SimulationConfig config, BasicHeatRegistry<std::uint64_t> registry,
             const SimulationProgress& progress);
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

  // Where this run's reads are generated and applied (fixed at construction).
  const ReadsPath& reads_path() const noexcept;

  // Totals so far.
  SimulationSummary summary() const;
  // What the run carries to its next tick (with registry() and config()).
  SimulationProgress progress() const;
  // The registry the run drives: the internal one, whose store the device
  // read path addresses by slot.
  const BasicHeatRegistry<std::uint64_t>& registry() const noexcept;
  ZipfTableView zipf_table() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs every step; calls `progress` (when set) after each.
SimulationSummary run_simulation(const SimulationConfig& config, const ProgressFn& progress = {});

}  // namespace heatkit::sim
