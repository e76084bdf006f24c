// `heatkit simulate`: runs the simulation engine (sim/simulation.h) and
// prints what it did, for a person or (--json) as one JSON object. Under
// mpirun the run is sharded over the ranks instead (tools/simulate_sharded.cc).
// With --snapshot or --resume it saves or resumes the run
// (tools/simulate_snapshot.h).
// The options and their checks: tools/simulate_options.h; the output:
// tools/simulate_report.h.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "backends/backend.h"
#include "sim/simulation.h"
#include "tools/command.h"
#include "tools/mpi_session.h"
#include "tools/simulate_options.h"
#include "tools/simulate_report.h"
#include "tools/simulate_snapshot.h"

namespace heatkit::cli {
namespace {

using sim::SimulationSummary;

// One progress line on stderr, rewritten in place at most ten times a second;
// only on a terminal.
class ProgressLine {
 public:
  void operator()(const sim::TickReport& r) {
    const auto now = std::chrono::steady_clock::now();
    const bool last = r.tick + 1 == r.ticks;
    if (!last && now - last_print_ < std::chrono::milliseconds(100)) return;
    last_print_ = now;
    const double step = r.times.total();
    std::fprintf(stderr, "\rsimulating: tick %llu/%llu, %s live, %s per tick   ",
                 static_cast<unsigned long long>(r.tick + 1), static_cast<unsigned long long>(r.ticks),
                 grouped(r.counters_live).c_str(), human_seconds(step).c_str());
    if (last) std::fputs("\r\033[K", stderr);  // leave a clean line behind
    std::fflush(stderr);
  }

 private:
  std::chrono::steady_clock::time_point last_print_{};
};

int run_simulate(const SimulateOptions& options, const SnapshotOptions& snapshots) {
#if HEATKIT_HAVE_MPI
  if (mpi_running()) {
    // Each rank holds a shard of the registry: one file per rank, and a
    // resume on as many ranks, is not done yet.
    if (snapshots.any()) {
      throw UsageError("--snapshot, --snapshot-every and --resume are for a single process; a run under "
                       "mpirun (sharded) cannot save or resume one");
    }
    return run_simulate_sharded(options);
  }
#endif
  const bool progress = isatty(STDERR_FILENO) != 0;
  const sim::ProgressFn progress_fn = progress ? sim::ProgressFn(ProgressLine()) : sim::ProgressFn();
  if (!snapshots.any()) {
    const SimulationSummary summary = run_checked_simulation(options, progress_fn);
    if (options.json) {
      std::cout << summary_json(summary) << '\n';
    } else {
      print_summary(std::cout, summary);
    }
    std::cout.flush();
    return 0;
  }
  const SnapshotRun run = run_with_snapshots(options, snapshots, progress_fn);
  if (options.json) {
    JsonObject out = summary_object(run.summary, sim::estimate_memory(run.summary.config).peak());
    out.field("snapshot", snapshot_activity_object(run.activity));
    std::cout << out.str() << '\n';
  } else {
    print_summary(std::cout, run.summary);
    print_snapshot_activity(std::cout, run.activity);
  }
  std::cout.flush();
  return 0;
}

}  // namespace

RunFn add_simulate_command(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>(default_simulate_options());
  SimulateOptions& o = *options;
  CLI::App* cmd = app.add_subcommand(
      "simulate", "run a synthetic read workload and report counts, timings and memory");
  cmd->footer(
      "Each tick first applies the reads of the interval before it (keys drawn by Zipf\n"
      "popularity), then ticks the registry and commits the candidates; a share of commits\n"
      "fails and is rolled back, so those candidates come back next tick. Reads and failures\n"
      "are pure functions of the seed: one seed gives the same workload on every backend.\n"
      "On a device backend (cuda, thrust) with no eviction possible (cap 0 or cap >= keys)\n"
      "the reads are generated and applied on the device; --host-reads keeps them on the host.\n"
      "The defaults are the reference workload: 120,000,000 reads over 60 ticks.\n"
      "Before it starts, a run's host memory is estimated from its options: the Zipf table\n"
      "(28 bytes a key while built, 8 after) and the registry at the most counters the keys,\n"
      "the cap and the reads allow (200 to 300 bytes a counter, scratch and slack included).\n"
      "A run that needs more than --max-memory, by default the memory available now, is\n"
      "refused (exit 2).\n"
      "Under mpirun (`mpirun -np N heatkit simulate ...`) the run is sharded: each rank draws\n"
      "its slice of every tick's reads and routes them to their keys' owners, ticks its own\n"
      "counters and commits; rank 0 prints the job's totals and a line per rank (--json: a\n"
      "`ranks` array). The cap is the job's, split over the ranks; where no rank's share can\n"
      "evict (cap 0, or cap / N >= keys) the totals equal one process's. Reads are made on\n"
      "the host; --max-memory limits each rank, and the memory available is shared by a\n"
      "node's ranks.\n"
      "Snapshots (single process only): --snapshot PATH saves the registry and the run's\n"
      "progress after the last tick, and --snapshot-every N after every N ticks too; a\n"
      "crash leaves the last whole snapshot. --resume PATH goes on from one and ends with\n"
      "the totals of a run never stopped. The workload comes from the snapshot: a workload\n"
      "option given again must equal it (exit 2 otherwise), except --duration-s, which may\n"
      "extend the run; --backend, --threads, --host-reads, --max-memory and --json are the\n"
      "resumed run's own. A save that fails stops the run (exit 4) and keeps the previous\n"
      "snapshot. `heatkit snapshot info PATH` shows what a snapshot holds.");
  cmd->add_option("--keys", o.keys, "distinct u64 keys, ranked by Zipf popularity")
      ->type_name("COUNT")->capture_default_str();
  cmd->add_option("--zipf", o.zipf, "Zipf exponent s: P(rank k) ~ 1/(k+1)^s; 0 = uniform")
      ->type_name("S")->capture_default_str();
  cmd->add_option("--reads-per-second", o.reads_per_second, "reads per simulated second")
      ->type_name("COUNT")->capture_default_str();
  cmd->add_option("--tick-interval-s", o.tick_interval_s, "simulated seconds between ticks")
      ->type_name("SECONDS")->capture_default_str();
  cmd->add_option("--duration-s", o.duration_s, "simulated seconds to run (a whole number of ticks)")
      ->type_name("SECONDS")->capture_default_str();
  cmd->add_option("--half-life-s", o.half_life_s, "counter half-life in simulated seconds")
      ->type_name("SECONDS")->capture_default_str();
  cmd->add_option("--ratio", o.ratio, "emit threshold ratio, in [1.01, 10]")
      ->type_name("RATIO")->capture_default_str();
  cmd->add_option("--cap", o.cap, "most live counters before LRU eviction; 0 = unbounded")
      ->type_name("COUNT")->capture_default_str();
  cmd->add_option("--commit-failure-rate", o.commit_failure_rate,
                  "share of commits that fail and roll back, in [0, 1]")
      ->type_name("P")->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the workload's random numbers")
      ->type_name("U64")->capture_default_str();
  cmd->add_option("--backend", o.backend, "counter backend (see `heatkit backends`)")
      ->type_name("NAME")->capture_default_str();
  cmd->add_option("--threads", o.threads,
                  "threads for the tick and prune passes, on every backend: 0 = all hardware threads; "
                  "more than the hardware threads runs on the hardware threads; at most " +
                      std::to_string(kMaxThreads))
      ->type_name("COUNT")->capture_default_str();
  cmd->add_option("--max-memory", o.max_memory,
                  "refuse (exit 2) a run estimated to need more host memory than BYTES (suffix K, M, G or T: "
                  "powers of 1024); default: the memory available now (MemAvailable, the cgroup's "
                  "memory.max, ulimit -v)")
      ->type_name("BYTES");
  cmd->add_flag("--host-reads", o.host_reads,
                "generate and apply the reads on the host even on a device backend (cuda, thrust)");
  cmd->add_flag("--json", o.json, "print one JSON object on stdout instead of the summary");
  auto snapshots = std::make_shared<SnapshotOptions>();
  cmd->add_option("--snapshot", snapshots->snapshot,
                  "save the run (registry and progress) to PATH after its last tick, replacing the file "
                  "atomically (docs/SNAPSHOT_FORMAT.md)")
      ->type_name("PATH");
  cmd->add_option("--snapshot-every", snapshots->snapshot_every,
                  "with --snapshot: save after every N ticks too")
      ->type_name("N");
  cmd->add_option("--resume", snapshots->resume,
                  "go on with the run saved in PATH (its workload; --duration-s may extend it) to the "
                  "totals of a run never stopped")
      ->type_name("PATH");
  return [options, snapshots, cmd] {
    snapshots->flags_given.clear();
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->count() > 0) snapshots->flags_given.push_back(option->get_name());
    }
    return run_simulate(*options, *snapshots);
  };
}

}  // namespace heatkit::cli
