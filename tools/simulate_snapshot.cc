// `heatkit simulate` with --snapshot, --snapshot-every and --resume
// (tools/simulate_snapshot.h).
#include "tools/simulate_snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ostream>
#include <stdexcept>
#include <utility>

#include <heatkit/snapshot.h>
#include "sim/simulation_snapshot.h"
#include "tools/cli_errors.h"
#include "tools/snapshot_errors.h"

namespace heatkit::cli {
namespace {

using sim::SimulationConfig;

struct SnapshotPlan {
  std::filesystem::path path;
  std::uint64_t every = 0;  // save after every `every` ticks; 0: after the last tick only
};

std::optional<SnapshotPlan> snapshot_plan(const SnapshotOptions& s) {
  if (s.given("--snapshot") && s.snapshot.empty()) throw UsageError("--snapshot needs a file path, got ''");
  if (!s.snapshot_every.empty() && s.snapshot.empty()) {
    throw UsageError("--snapshot-every needs --snapshot PATH, the file to save to");
  }
  if (s.snapshot.empty()) return std::nullopt;
  SnapshotPlan plan{s.snapshot, 0};
  if (!s.snapshot_every.empty()) {
    plan.every = parse_count("--snapshot-every", s.snapshot_every);
    if (plan.every == 0) throw UsageError("--snapshot-every must be at least 1 tick, got " + s.snapshot_every);
  }
  // A save replaces the file through a temporary file beside it: a folder
  // that is not there is refused now, not after the run's first ticks.
  const std::filesystem::path folder =
      plan.path.has_parent_path() ? plan.path.parent_path() : std::filesystem::path(".");
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error)) {
    throw UsageError("--snapshot " + plan.path.string() + ": the folder " + folder.string() +
                     " does not exist");
  }
  if (std::filesystem::is_directory(plan.path, error)) {
    throw UsageError("--snapshot " + plan.path.string() + " is a folder; give a file path");
  }
  return plan;
}

// A file that cannot be opened is the user's mistake (exit 2), as with
// `heatkit replay`; a read that fails later is the system's (exit 3).
void refuse_unopenable(const std::string& flag, const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(flag + " " + path.string() + ": cannot open: " + std::strerror(errno));
  ::close(fd);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    throw UsageError(flag + " " + path.string() + ": cannot open: Is a directory");
  }
}

// A workload option's value as text that two equal values share.
std::string workload_value(const SimulationConfig& c, std::string_view flag) {
  if (flag == "--keys") return std::to_string(c.keys);
  if (flag == "--zipf") return shortest(c.zipf_exponent);
  if (flag == "--reads-per-second") return std::to_string(c.reads_per_second);
  if (flag == "--tick-interval-s") return seconds_text(c.tick_interval);
  if (flag == "--half-life-s") return seconds_text(c.half_life);
  if (flag == "--ratio") return shortest(c.emit_threshold_ratio);
  if (flag == "--cap") return std::to_string(c.cap);
  if (flag == "--commit-failure-rate") return shortest(c.commit_failure_rate);
  if (flag == "--seed") return std::to_string(c.seed);
  throw std::logic_error("workload_value: no option " + std::string(flag));
}

// The resumed run's config: the saved workload, the duration asked for (if
// any), this command line's backend, threads and read path.
SimulationConfig resumed_config(const SimulationConfig& asked, const SimulationConfig& saved,
                                const SnapshotOptions& s) {
  for (const char* flag : kWorkloadFlags) {
    if (!s.given(flag)) continue;
    const std::string mine = workload_value(asked, flag);
    const std::string theirs = workload_value(saved, flag);
    if (mine != theirs) {
      throw UsageError(std::string(flag) + " " + mine + " differs from the snapshot's " + flag + " " + theirs +
                       ": a resumed run keeps its workload (only --duration-s may change)");
    }
  }
  SimulationConfig config = saved;
  if (s.given("--duration-s")) config.duration = asked.duration;
  config.backend = asked.backend;
  config.threads = asked.threads;
  config.device_reads = asked.device_reads;
  return config;
}

// Loads --resume's snapshot and builds the run that goes on from it. The
// memory check comes after the load: the registry was a run's that fit, and
// the config to estimate is in the snapshot.
sim::Simulation resume(const SimulateOptions& options, const SnapshotOptions& s, const SimulationConfig& asked,
                       const std::optional<MemoryLimit>& limit, SnapshotActivity& activity,
                       SimulationConfig& config) {
  const std::filesystem::path path = s.resume;
  const std::string where = "--resume " + path.string() + ": ";
  refuse_unopenable("--resume", path);
  RegistryOptions registry_options;
  registry_options.backend = asked.backend;
  registry_options.threads = asked.threads;
  std::optional<sim::SavedSimulation> saved;
  try {
    saved.emplace(sim::load_simulation(path, registry_options));
  } catch (const SnapshotError& e) {
    const std::string message = where + snapshot_error_words(path, e);
    if (e.problem() == SnapshotProblem::kIo) throw InputError(message);
    throw UsageError(message);
  } catch (const sim::InvalidSimulationRecord& e) {
    throw UsageError(where + e.what());
  }
  config = resumed_config(asked, saved->record.config, s);
  check_memory(config, options, limit);
  activity.resumed_from = path.string();
  activity.resumed_at_tick = saved->record.progress.ticks_done;
  try {
    return sim::Simulation(config, std::move(saved->registry), saved->record.progress);
  } catch (const sim::InvalidSimulationConfig&) {
    throw;  // the options' own (--duration-s shorter than the ticks done): with_cli_errors names it
  } catch (const std::invalid_argument& e) {
    throw UsageError(where + "not the registry of its simulate record: " + e.what());
  }
}

void save(const sim::Simulation& simulation, const SnapshotPlan& plan, SnapshotActivity& activity) {
  const auto start = std::chrono::steady_clock::now();
  try {
    sim::save_simulation(simulation, plan.path);
  } catch (const SnapshotError& e) {
    throw OutputError("cannot save snapshot " + plan.path.string() + " after tick " +
                      std::to_string(simulation.ticks_done()) + ": " + snapshot_error_words(plan.path, e) +
                      (activity.saves > 0 ? " (the snapshot after tick " +
                                                std::to_string(activity.last_saved_tick) + " is kept)"
                                          : ""));
  }
  activity.save_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++activity.saves;
  activity.last_saved_tick = simulation.ticks_done();
}

}  // namespace

bool SnapshotOptions::given(std::string_view flag) const {
  return std::find(flags_given.begin(), flags_given.end(), flag) != flags_given.end();
}

SnapshotRun run_with_snapshots(const SimulateOptions& options, const SnapshotOptions& snapshots,
                               const sim::ProgressFn& progress) {
  if (snapshots.given("--resume") && snapshots.resume.empty()) {
    throw UsageError("--resume needs a snapshot file path, got ''");
  }
  const std::optional<SnapshotPlan> plan = snapshot_plan(snapshots);
  const SimulationConfig asked = to_config(options);
  const std::optional<MemoryLimit> limit = memory_limit(options);
  SimulationConfig config = asked;
  SnapshotRun run;
  if (plan) run.activity.saved_to = plan->path.string();
  std::optional<sim::Simulation> simulation;
  with_cli_errors(
      [&] {
        if (snapshots.resume.empty()) {
          check_memory(config, options, limit);
          simulation.emplace(config);
        } else {
          simulation.emplace(resume(options, snapshots, asked, limit, run.activity, config));
        }
        while (!simulation->finished()) {
          const sim::TickReport report = simulation->step();
          if (progress) progress(report);
          if (plan && plan->every != 0 && simulation->ticks_done() % plan->every == 0) {
            save(*simulation, *plan, run.activity);
          }
        }
        if (plan && (run.activity.saves == 0 || run.activity.last_saved_tick != simulation->ticks_done())) {
          save(*simulation, *plan, run.activity);
        }
        run.summary = simulation->summary();
      },
      [&] { return sim::estimate_memory(config).peak(); }, limit);
  return run;
}

void print_snapshot_activity(std::ostream& out, const SnapshotActivity& a) {
  constexpr int kLabel = 16;
  auto line = [&](std::string_view label, const std::string& value) {
    out << "  " << label << std::string(kLabel - label.size(), ' ') << value << '\n';
  };
  out << '\n';
  if (!a.resumed_from.empty()) {
    line("resumed", "from " + a.resumed_from + " after tick " + grouped(a.resumed_at_tick));
  }
  if (!a.saved_to.empty()) {
    line("snapshot", "saved " + grouped(a.saves) + (a.saves == 1 ? " time" : " times") + " to " + a.saved_to +
                         ", the last after tick " + grouped(a.last_saved_tick) + " (saves took " +
                         human_seconds(a.save_seconds) + ")");
  }
}

JsonObject snapshot_activity_object(const SnapshotActivity& a) {
  JsonObject out;
  if (a.resumed_from.empty()) {
    out.raw("resumed_from", "null");
  } else {
    out.field("resumed_from", a.resumed_from);
  }
  out.field("resumed_at_tick", a.resumed_at_tick);
  if (a.saved_to.empty()) {
    out.raw("saved_to", "null");
  } else {
    out.field("saved_to", a.saved_to);
  }
  out.field("saves", a.saves).field("last_saved_tick", a.last_saved_tick).field("save_s", a.save_seconds);
  return out;
}

}  // namespace heatkit::cli
