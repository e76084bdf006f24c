// `heatkit simulate --snapshot PATH [--snapshot-every N]` and `--resume
// PATH`: a single-process run saved to a snapshot as it goes, and a run
// resumed from one (sim/simulation_snapshot.h holds what is saved).
//
// A resumed run takes its workload from the snapshot: a workload flag given
// again must equal the saved value, except --duration-s, which may extend
// the run (or end it earlier, but not before the ticks already done).
// --backend (by default the one that saved the run), --threads,
// --host-reads, --max-memory and --json are the resumed run's own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "sim/simulation.h"
#include "tools/simulate_options.h"
#include "tools/simulate_report.h"

namespace heatkit::cli {

// The snapshot options as typed, and which of the other options the command
// line gave (a resumed run checks those against the snapshot).
struct SnapshotOptions {
  std::string snapshot;        // --snapshot PATH; empty: none
  std::string snapshot_every;  // --snapshot-every N; empty: none
  std::string resume;          // --resume PATH; empty: a new run
  std::vector<std::string> flags_given;  // "--keys", "--backend", ... as given

  bool given(std::string_view flag) const;
  // Whether --snapshot, --snapshot-every or --resume was given (even empty).
  bool any() const { return given("--snapshot") || given("--snapshot-every") || given("--resume"); }
};

// The options a resumed run must leave as saved (all but --duration-s).
inline constexpr const char* kWorkloadFlags[] = {
    "--keys", "--zipf", "--reads-per-second", "--tick-interval-s", "--half-life-s",
    "--ratio", "--cap", "--commit-failure-rate", "--seed"};

// What a run did with snapshots, for its summary.
struct SnapshotActivity {
  std::string resumed_from;            // empty: a new run
  std::uint64_t resumed_at_tick = 0;   // ticks done when it was resumed
  std::string saved_to;                // empty: no --snapshot
  std::uint64_t saves = 0;
  std::uint64_t last_saved_tick = 0;   // ticks done at the last save
  double save_seconds = 0.0;           // wall time spent saving (not in the run's times)
};

struct SnapshotRun {
  sim::SimulationSummary summary;
  SnapshotActivity activity;
};

// Runs (or resumes) the simulation with the snapshot options. Throws
// UsageError for bad options, a snapshot that cannot be resumed (naming
// --resume, the path and the problem) or a workload flag that differs from
// the snapshot's; InputError when the snapshot cannot be read; OutputError
// when a save fails (the run stops; the previous snapshot stays).
SnapshotRun run_with_snapshots(const SimulateOptions& options, const SnapshotOptions& snapshots,
                               const sim::ProgressFn& progress = {});

// The summary lines and the JSON object (`snapshot`) that say what a run
// did with snapshots.
void print_snapshot_activity(std::ostream& out, const SnapshotActivity& activity);
JsonObject snapshot_activity_object(const SnapshotActivity& activity);

}  // namespace heatkit::cli
