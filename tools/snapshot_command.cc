// `heatkit snapshot info PATH [--json]`: what a snapshot holds, verified
// (inspect_snapshot reads every byte and checks every checksum and rule a
// load checks). When its application section is a `heatkit simulate`
// record (sim/simulation_snapshot.h), the run's progress too. Exit 0 for a
// whole snapshot; otherwise `error: PATH: PROBLEM: ...` and exit 2 (3 when
// the file cannot be read).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <heatkit/snapshot.h>
#include "sim/simulation_snapshot.h"
#include "tools/command.h"
#include "tools/simulate_report.h"
#include "tools/snapshot_errors.h"

namespace heatkit::cli {
namespace {

struct InfoOptions {
  std::string path;
  bool json = false;
};

// What the application section is.
struct Application {
  std::optional<sim::SimulationRecord> record;  // a simulate record
  std::string record_error;                     // a simulate record this build cannot read: why
};

[[noreturn]] void refuse(const std::string& path, const SnapshotError& e) {
  const std::string message = path + ": " + snapshot_error_words(path, e);
  if (e.problem() == SnapshotProblem::kIo) throw InputError(message);
  throw UsageError(message);
}

// A file that cannot be opened is the user's mistake (exit 2), as with
// `heatkit replay`; one that fails while it is read is the system's (exit 3).
void check_openable(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(path + ": cannot open: " + std::strerror(errno));
  ::close(fd);
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw UsageError(path + ": cannot open: Is a directory");
}

// A simulate snapshot is one registry of u64 keys; only such a snapshot's
// application section is read as a simulate record.
Application read_application(const SnapshotInfo& info) {
  Application out;
  if (info.application_bytes == 0 || info.key_type != "u64" || info.shards != 1) return out;
  const std::vector<std::byte>& bytes = info.application;
  if (!sim::looks_like_record(bytes)) return out;
  try {
    out.record = sim::decode_record(bytes);
  } catch (const sim::InvalidSimulationRecord& e) {
    out.record_error = e.what();
  }
  return out;
}

std::string application_words(const SnapshotInfo& info, const Application& app) {
  if (info.application_bytes == 0) return "none";
  const std::string bytes = grouped(info.application_bytes) + " bytes";
  if (app.record) return bytes + ": a heatkit simulate run";
  if (!app.record_error.empty()) return bytes + ": a heatkit simulate run this build cannot read";
  return bytes + ": not a heatkit simulate run";
}

void print_info(std::ostream& out, const std::string& path, const SnapshotInfo& info, const Application& app) {
  constexpr int kLabel = 16;
  auto line = [&](std::string_view label, const std::string& value) {
    out << label << std::string(kLabel - label.size(), ' ') << value << '\n';
  };
  line("snapshot", path);
  line("format", "version " + std::to_string(info.version) + ", " + info.key_type + " keys, " +
                     (info.shards == 1 ? std::string("one registry")
                                       : grouped(info.shards) + " shards (a concurrent registry)"));
  line("size", grouped(info.bytes) + " bytes, every checksum verified");
  line("counters", grouped(info.counters) + " live in " + grouped(info.slots) + " slots, cap " +
                       (info.cap == 0 ? std::string("unbounded") : grouped(info.cap)));
  line("in flight", info.tracks_in_flight ? "tracked (none saved in flight)" : "not tracked");
  line("stats", grouped(info.stats.evictions) + " evictions, " + grouped(info.stats.pruned) + " pruned, " +
                    grouped(info.stats.hash_reseeds) + " index rehashes");
  line("updates", info.counters == 0 ? std::string("none")
                                     : "earliest " + std::to_string(info.earliest_update) + " ns, latest " +
                                           std::to_string(info.latest_update) + " ns");
  line("application", application_words(info, app));
  if (!app.record) return;
  const sim::SimulationRecord& r = *app.record;
  const sim::SimulationConfig& c = r.config;
  const sim::SimulationCounts& n = r.progress.counts;
  auto run_line = [&](std::string_view label, const std::string& value) { line("  " + std::string(label), value); };
  out << "\nheatkit simulate run (record version " << sim::kSimulationRecordVersion << ")\n";
  run_line("workload", grouped(c.keys) + " keys, Zipf " + shortest(c.zipf_exponent) + ", " +
                           grouped(c.reads_per_second) + " reads/s, seed " + std::to_string(c.seed));
  run_line("schedule", grouped(r.progress.ticks_done) + " of " + grouped(sim::tick_count(c)) +
                           " ticks done, one every " + seconds_text(c.tick_interval) + " s, " +
                           grouped(sim::reads_per_tick(c)) + " reads per tick");
  run_line("policy", "half-life " + seconds_text(c.half_life) + " s, ratio " + shortest(c.emit_threshold_ratio) +
                         ", cap " + (c.cap == 0 ? std::string("unbounded") : grouped(c.cap)) +
                         ", commit failure rate " + shortest(c.commit_failure_rate));
  run_line("saved by", "the " + c.backend + " backend");
  run_line("peak", grouped(r.progress.counters_peak) + " counters live");
  run_line("bumps", grouped(n.reads));
  run_line("emits", grouped(n.emits_committed) + " committed, " + grouped(n.emits_rolled_back) + " rolled back");
  run_line("withdrawals", grouped(n.withdrawals_committed) + " committed, " +
                              grouped(n.withdrawals_rolled_back) + " rolled back");
  run_line("prunes", grouped(n.prunes));
  run_line("evictions", grouped(n.evictions));
  run_line("ticked", grouped(n.counters_ticked) + " counters, summed over ticks");
}

// The record's run with the names `heatkit simulate --json` gives the same values.
JsonObject record_object(const sim::SimulationRecord& r) {
  const sim::SimulationConfig& c = r.config;
  const sim::SimulationCounts& n = r.progress.counts;
  const auto seconds = [](Duration d) { return std::chrono::duration<double>(d).count(); };
  JsonObject config;
  config.field("keys", c.keys)
      .field("zipf", c.zipf_exponent)
      .field("reads_per_second", c.reads_per_second)
      .field("tick_interval_s", seconds(c.tick_interval))
      .field("duration_s", seconds(c.duration))
      .field("half_life_s", seconds(c.half_life))
      .field("ratio", c.emit_threshold_ratio)
      .field("cap", c.cap)
      .field("commit_failure_rate", c.commit_failure_rate)
      .field("seed", c.seed);
  JsonObject out;
  out.field("record_version", static_cast<std::uint64_t>(sim::kSimulationRecordVersion))
      .field("backend", c.backend)
      .field("config", config)
      .field("ticks_done", r.progress.ticks_done)
      .field("ticks", sim::tick_count(c))
      .field("reads_per_tick", sim::reads_per_tick(c))
      .field("counters_peak", static_cast<std::uint64_t>(r.progress.counters_peak));
  add_count_fields(out, n).field("wall_s", r.progress.wall_seconds);
  return out;
}

std::string info_json(const std::string& path, const SnapshotInfo& info, const Application& app) {
  JsonObject stats;
  stats.field("evictions", info.stats.evictions)
      .field("pruned", info.stats.pruned)
      .field("hash_reseeds", info.stats.hash_reseeds);
  JsonObject out;
  out.field("path", path)
      .field("version", static_cast<std::uint64_t>(info.version))
      .field("key_type", info.key_type)
      .field("shards", info.shards)
      .field("counters", info.counters)
      .field("slots", info.slots)
      .field("cap", info.cap)
      .field("tracks_in_flight", info.tracks_in_flight)
      .field("stats", stats)
      .field("earliest_update_ns", info.earliest_update)
      .field("latest_update_ns", info.latest_update)
      .field("application_bytes", info.application_bytes)
      .field("bytes", info.bytes)
      .field("verified", true);
  if (app.record) {
    out.field("simulate", record_object(*app.record));
  } else {
    out.raw("simulate", "null");
  }
  return out.str();
}

int run_info(const InfoOptions& options) {
  const std::string& path = options.path;
  check_openable(path);
  SnapshotInfo info;
  try {
    info = inspect_snapshot(std::filesystem::path(path));
  } catch (const SnapshotError& e) {
    refuse(path, e);
  }
  const Application app = read_application(info);
  if (options.json) {
    std::cout << info_json(path, info, app) << '\n';
  } else {
    print_info(std::cout, path, info, app);
  }
  // The snapshot is whole, but a simulate record in it that this build
  // cannot read would stop --resume: say so as an error too.
  if (!app.record_error.empty()) throw UsageError(path + ": " + app.record_error);
  return kExitSuccess;
}

}  // namespace

RunFn add_snapshot_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("snapshot", "inspect snapshot files (docs/SNAPSHOT_FORMAT.md)");
  cmd->require_subcommand(1);
  auto options = std::make_shared<InfoOptions>();
  CLI::App* info = cmd->add_subcommand(
      "info", "print what a snapshot holds (and a heatkit simulate run's progress) and verify every checksum");
  info->add_option("PATH", options->path, "the snapshot file")->required();
  info->add_flag("--json", options->json, "print one JSON object on stdout");
  info->footer(
      "Reads the whole file and checks every checksum and every rule a load checks.\n"
      "Exit 0 when the snapshot is whole; otherwise `error: PATH: PROBLEM: ...` on stderr\n"
      "(PROBLEM: not a snapshot, version, key type, truncated, checksum, inconsistent) and\n"
      "exit 2, or 3 when the file cannot be read.");
  return [options, info] {
    if (!info->parsed()) throw UsageError("snapshot: no subcommand given (see heatkit snapshot --help)");
    return run_info(*options);
  };
}

}  // namespace heatkit::cli
