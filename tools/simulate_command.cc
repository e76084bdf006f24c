// `heatkit simulate`: runs the simulation engine (sim/simulation.h) and
// prints what it did, for a person or (--json) as one JSON object.
//
// Option values are taken as text and parsed here, so every bad value, from
// "abc" to "nan" to "-1", becomes a UsageError that names its option.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include "backends/backend.h"
#include "util/thread_pool.h"
#include <heatkit/policy.h>
#include "tools/command.h"
#include "tools/memory_budget.h"
#include "sim/simulation.h"
#include "tools/mpi_session.h"
#if HEATKIT_HAVE_MPI
#include <climits>
#include <vector>

#include <heatkit/distributed_registry.h>  // PeerRankFailed
#include "sim/distributed_simulation.h"
#endif

namespace heatkit::cli {
namespace {

// More threads than this is a typo, not a machine (up to it, a request above
// the hardware threads runs on the hardware threads: resolve_threads).
constexpr std::uint64_t kMaxThreads = 4096;

using sim::ConfigField;
using sim::SimulationConfig;
using sim::SimulationSummary;

// The option text as the user typed it, defaults filled in from SimulationConfig.
struct SimulateOptions {
  std::string keys;
  std::string zipf;
  std::string reads_per_second;
  std::string tick_interval_s;
  std::string duration_s;
  std::string half_life_s;
  std::string ratio;
  std::string cap;
  std::string commit_failure_rate;
  std::string seed;
  std::string backend;
  std::string threads;
  std::string max_memory;  // empty: the memory available now
  bool host_reads = false;
  bool json = false;
};

std::string flag_of(ConfigField field) {
  switch (field) {
    case ConfigField::kKeys: return "--keys";
    case ConfigField::kZipfExponent: return "--zipf";
    case ConfigField::kReadsPerSecond: return "--reads-per-second";
    case ConfigField::kTickInterval: return "--tick-interval-s";
    case ConfigField::kDuration: return "--duration-s";
    case ConfigField::kHalfLife: return "--half-life-s";
    case ConfigField::kEmitThresholdRatio: return "--ratio";
    case ConfigField::kCap: return "--cap";
    case ConfigField::kCommitFailureRate: return "--commit-failure-rate";
  }
  return "?";
}

// Shortest text that reads back as the same value.
template <class T>
std::string shortest(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string seconds_text(Duration d) { return shortest(std::chrono::duration<double>(d).count()); }

std::optional<double> parse_double(std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A non-negative integer; "2e6" is accepted when it is exactly an integer.
std::uint64_t parse_count(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc() && end == text.data() + text.size()) return value;
  if (const auto d = parse_double(text);
      d && std::isfinite(*d) && *d >= 0.0 && *d < 0x1p64 && std::floor(*d) == *d) {
    return static_cast<std::uint64_t>(*d);
  }
  throw UsageError(std::string(flag) + " must be a non-negative integer, got '" + std::string(text) + "'");
}

double parse_number(std::string_view flag, std::string_view text) {
  if (const auto d = parse_double(text)) return *d;
  throw UsageError(std::string(flag) + " must be a number, got '" + std::string(text) + "'");
}

// Seconds > 0, at most a billion (so nanoseconds fit in 64 bits), at least 1 ns.
Duration parse_seconds(std::string_view flag, std::string_view text) {
  const double s = parse_number(flag, text);
  if (!std::isfinite(s) || s <= 0.0) {
    throw UsageError(std::string(flag) + " must be finite and > 0, got " + std::string(text));
  }
  if (s > 1e9) throw UsageError(std::string(flag) + " must be at most 1e9 seconds, got " + std::string(text));
  const auto ns = std::llround(s * 1e9);
  if (ns < 1) throw UsageError(std::string(flag) + " must be at least 1 ns, got " + std::string(text) + " s");
  return Duration(ns);
}

SimulationConfig to_config(const SimulateOptions& o) {
  SimulationConfig c;
  c.keys = parse_count("--keys", o.keys);
  c.zipf_exponent = parse_number("--zipf", o.zipf);
  c.reads_per_second = parse_count("--reads-per-second", o.reads_per_second);
  c.tick_interval = parse_seconds("--tick-interval-s", o.tick_interval_s);
  c.duration = parse_seconds("--duration-s", o.duration_s);
  c.half_life = parse_seconds("--half-life-s", o.half_life_s);
  const double ratio = parse_number("--ratio", o.ratio);
  // The policy's ratio is a float; a finite double beyond float range has no
  // float value (converting it is undefined), and is out of range anyway.
  if (std::isfinite(ratio) && std::fabs(ratio) > std::numeric_limits<float>::max()) {
    throw UsageError("--ratio must be in [" + shortest(Policy::kMinRatio) + ", " +
                     shortest(Policy::kMaxRatio) + "], got " + o.ratio);
  }
  c.emit_threshold_ratio = static_cast<float>(ratio);
  c.cap = parse_count("--cap", o.cap);
  c.commit_failure_rate = parse_number("--commit-failure-rate", o.commit_failure_rate);
  c.seed = parse_count("--seed", o.seed);
  c.backend = o.backend;
  const std::uint64_t threads = parse_count("--threads", o.threads);
  if (threads > kMaxThreads) {
    throw UsageError("--threads must be at most " + std::to_string(kMaxThreads) + " (a request above the " +
                     std::to_string(hardware_threads()) + " hardware threads runs on them), got " +
                     o.threads);
  }
  c.threads = static_cast<unsigned>(threads);
  c.device_reads = !o.host_reads;
  return c;
}

// ---------------------------------------------------------------------------
// Human output.

// 1234567 -> "1,234,567".
std::string grouped(std::uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string fixed(double value, int decimals) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(decimals);
  out << value;
  return out.str();
}

// A wall time with a unit that keeps three significant digits readable.
std::string human_seconds(double s) {
  if (s >= 1.0) return fixed(s, 2) + " s";
  if (s >= 1e-3) return fixed(s * 1e3, 2) + " ms";
  return fixed(s * 1e6, 1) + " us";
}

std::string human_bytes(std::size_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fixed(b / (1024.0 * 1024 * 1024), 2) + " GiB";
  if (b >= 1024.0 * 1024) return fixed(b / (1024.0 * 1024), 1) + " MiB";
  if (b >= 1024.0) return fixed(b / 1024.0, 1) + " KiB";
  return std::to_string(bytes) + " B";
}

std::string padded_left(const std::string& s, std::size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

void print_summary(std::ostream& out, const SimulationSummary& r) {
  const SimulationConfig& c = r.config;
  const auto& n = r.counts;
  constexpr int kLabel = 16;
  auto line = [&](std::string_view label, const std::string& value) {
    out << "  " << label << std::string(kLabel - label.size(), ' ') << value << '\n';
  };
  // The counts share one right-aligned column.
  std::size_t width = 0;
  for (const std::uint64_t v : {static_cast<std::uint64_t>(r.counters_live), n.reads, n.emits_committed,
                                n.withdrawals_committed, n.prunes, n.evictions}) {
    width = std::max(width, grouped(v).size());
  }
  auto count = [&](std::uint64_t v) { return padded_left(grouped(v), width); };

  out << "heatkit simulate\n";
  line("workload", grouped(c.keys) + " keys, Zipf " + shortest(c.zipf_exponent) + ", " +
                       grouped(c.reads_per_second) + " reads/s, seed " + std::to_string(c.seed));
  line("schedule", grouped(r.ticks) + " ticks, one every " + seconds_text(c.tick_interval) + " s, " +
                       grouped(r.reads_per_tick) + " reads per tick");
  line("policy", "half-life " + seconds_text(c.half_life) + " s, ratio " +
                     shortest(c.emit_threshold_ratio) + ", cap " +
                     (c.cap == 0 ? std::string("unbounded") : grouped(c.cap)) +
                     ", commit failure rate " + shortest(c.commit_failure_rate));
  const unsigned threads = resolve_threads(c.threads);
  std::string threads_text =
      c.threads == 0 ? std::string("all hardware threads")
                     : std::to_string(threads) + " thread" + (threads == 1 ? "" : "s");
  if (c.threads > threads) {
    threads_text += " (" + std::to_string(c.threads) + " asked: capped at the hardware threads)";
  }
  line("backend", r.backend + ", " + threads_text + " for tick and prune");
  line("reads", r.reads_path.on_device ? "generated and applied on the device (" + r.backend + ")"
                                       : "generated on the host (" + r.reads_path.host_reason + ")");
  out << '\n';
  line("counters live", count(r.counters_live) + "  (peak " + grouped(r.counters_peak) + ")");
  line("bumps", count(n.reads));
  line("emits", count(n.emits_committed) + "  committed, " + grouped(n.emits_rolled_back) +
                    " rolled back");
  line("withdrawals", count(n.withdrawals_committed) + "  committed, " +
                          grouped(n.withdrawals_rolled_back) + " rolled back");
  line("prunes", count(n.prunes));
  line("evictions", count(n.evictions));
  out << '\n';
  const auto& t = r.times;
  line("wall time", human_seconds(r.wall_seconds) + "  (reads " + human_seconds(t.read_generation) +
                        ", bumps " + human_seconds(t.bump) + ", ticks " + human_seconds(t.tick) +
                        ", commits " + human_seconds(t.commit) + ")");
  line("per bump", fixed(n.reads == 0 ? 0.0 : t.bump * 1e9 / static_cast<double>(n.reads), 1) + " ns");
  line("per tick", human_seconds(r.seconds_per_tick()) + " wall, " + fixed(r.ns_per_counter_tick(), 2) +
                       " ns per counter");
  const auto& m = r.memory;
  if (r.counters_live == 0) {
    line("memory", human_bytes(m.total()) + " (no live counters)");
  } else {
    const double live = static_cast<double>(r.counters_live);
    auto per = [&](std::size_t bytes) { return fixed(static_cast<double>(bytes) / live, 1); };
    line("memory", per(m.total()) + " bytes per counter, " + human_bytes(m.total()) + " in all");
    line("", "(columns " + per(m.columns) + ", keys " + per(m.keys) + ", index " + per(m.index) +
                 ", lru " + per(m.lru) + ", other " + per(m.other) + ")");
  }
}

// ---------------------------------------------------------------------------
// JSON output, written by hand: one object, numbers as numbers.

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

template <class T>
std::string json_number(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return "null";
  }
  return shortest(value);
}

class JsonObject {
 public:
  template <class T>
    requires(std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
  JsonObject& field(std::string_view name, T value) {
    return raw(name, json_number(value));
  }
  JsonObject& field(std::string_view name, bool value) { return raw(name, value ? "true" : "false"); }
  JsonObject& field(std::string_view name, std::string_view value) { return raw(name, json_string(value)); }
  JsonObject& field(std::string_view name, const JsonObject& value) { return raw(name, value.str()); }
  JsonObject& raw(std::string_view name, const std::string& json) {
    body_ += body_.empty() ? "" : ",";
    body_ += json_string(name) + ":" + json;
    return *this;
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

// The summary as a JSON object; `estimate_bytes` is the memory estimate the
// run was checked against (memory.estimate_bytes).
JsonObject summary_object(const SimulationSummary& r, std::size_t estimate_bytes) {
  const SimulationConfig& c = r.config;
  const auto& n = r.counts;
  const auto& t = r.times;
  const auto& m = r.memory;
  JsonObject config;
  config.field("keys", c.keys)
      .field("zipf", c.zipf_exponent)
      .field("reads_per_second", c.reads_per_second)
      .field("tick_interval_s", std::chrono::duration<double>(c.tick_interval).count())
      .field("duration_s", std::chrono::duration<double>(c.duration).count())
      .field("half_life_s", std::chrono::duration<double>(c.half_life).count())
      .field("ratio", c.emit_threshold_ratio)
      .field("cap", c.cap)
      .field("commit_failure_rate", c.commit_failure_rate)
      .field("seed", c.seed)
      .field("device_reads", c.device_reads);
  JsonObject memory;
  memory.field("total_bytes", m.total())
      .field("columns_bytes", m.columns)
      .field("keys_bytes", m.keys)
      .field("index_bytes", m.index)
      .field("lru_bytes", m.lru)
      .field("other_bytes", m.other)
      .field("estimate_bytes", estimate_bytes);
  if (r.counters_live == 0) {
    memory.raw("bytes_per_counter", "null");
  } else {
    memory.field("bytes_per_counter", r.bytes_per_counter());
  }
  JsonObject out;
  out.field("backend", r.backend)
      .field("threads", static_cast<std::uint64_t>(resolve_threads(c.threads)))
      .field("threads_requested", static_cast<std::uint64_t>(c.threads))
      .field("config", config)
      .field("reads_on_device", r.reads_path.on_device);
  if (r.reads_path.on_device) {
    out.raw("reads_host_reason", "null");
  } else {
    out.field("reads_host_reason", r.reads_path.host_reason);
  }
  out.field("ticks", r.ticks)
      .field("reads_per_tick", r.reads_per_tick)
      .field("counters_live", r.counters_live)
      .field("counters_peak", r.counters_peak)
      .field("bumps", n.reads)
      .field("emits_committed", n.emits_committed)
      .field("emits_rolled_back", n.emits_rolled_back)
      .field("withdrawals_committed", n.withdrawals_committed)
      .field("withdrawals_rolled_back", n.withdrawals_rolled_back)
      .field("prunes", n.prunes)
      .field("evictions", n.evictions)
      .field("counters_ticked", n.counters_ticked)
      .field("wall_s", r.wall_seconds)
      .field("read_generation_s", t.read_generation)
      .field("bump_s", t.bump)
      .field("tick_s", t.tick)
      .field("commit_s", t.commit)
      .field("tick_s_per_tick", r.seconds_per_tick())
      .field("ns_per_counter_tick", r.ns_per_counter_tick())
      .field("memory", memory);
  return out;
}

std::string summary_json(const SimulationSummary& r) {
  return summary_object(r, sim::estimate_memory(r.config).peak()).str();
}

// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Memory: a run that cannot fit is refused before it allocates anything big.

constexpr std::string_view kMaxMemory = "--max-memory";

std::optional<MemoryLimit> memory_limit(const SimulateOptions& o) {
  if (o.max_memory.empty()) return available_memory();
  const auto bytes = parse_byte_size(o.max_memory);
  if (!bytes || *bytes == 0) {
    throw UsageError("--max-memory must be a byte count > 0, such as 512M or 4G (K, M, G, T: powers of "
                     "1024), got '" + o.max_memory + "'");
  }
  return MemoryLimit{*bytes, std::string(kMaxMemory)};
}

// "the 64.0 MiB allowed (--max-memory)", "the 20.1 GiB available (MemAvailable; ...)".
std::string limit_words(const MemoryLimit& limit) {
  if (limit.source == kMaxMemory) return "the " + about_bytes(limit.bytes) + " allowed (--max-memory)";
  return "the " + about_bytes(limit.bytes) + " available (" + limit.source +
         "; --max-memory to set another limit)";
}

// "--keys 4294967295": the option the estimate grows with, as typed.
std::string largest_option(const sim::MemoryEstimate& e, const SimulateOptions& o,
                           const SimulationConfig& c) {
  const std::uint64_t ticks = sim::tick_count(c);
  switch (e.largest_field()) {
    case ConfigField::kCap: return "--cap " + o.cap;
    case ConfigField::kReadsPerSecond:
      return "--reads-per-second " + o.reads_per_second + " (" + grouped(sim::reads_per_tick(c) * ticks) +
             " reads in " + grouped(ticks) + " ticks, reaching up to " + grouped(e.counters) + " keys)";
    default: return "--keys " + o.keys;
  }
}

// Throws UsageError when the estimate `e` exceeds the limit; `per` follows
// the amount ("" for the whole run, " per rank").
void refuse_over_limit(const sim::MemoryEstimate& e, const SimulateOptions& options,
                       const SimulationConfig& config, const MemoryLimit& limit, std::string_view per) {
  if (e.peak() <= limit.bytes) return;
  throw UsageError(largest_option(e, options, config) + " needs about " + about_bytes(e.peak()) +
                   std::string(per) + " (workload tables " + about_bytes(e.tables) + ", " +
                   about_bytes(e.tables + e.tables_build) + " while built; registry " +
                   about_bytes(e.registry) + "), more than " + limit_words(limit));
}

// Throws UsageError when the run's estimate exceeds the limit; the estimate's
// own errors (an invalid config, an unknown backend) propagate.
void check_memory(const SimulationConfig& config, const SimulateOptions& options,
                  const std::optional<MemoryLimit>& limit) {
  if (!limit) return;  // nothing known to check against
  refuse_over_limit(sim::estimate_memory(config), options, config, *limit, "");
}

// Runs `work` with the engine's errors turned into the CLI's: a config or
// backend error becomes a UsageError naming the option, std::bad_alloc a
// failure that names the estimate (`estimate_bytes()`) the run started under.
template <class Work, class Estimate>
void with_cli_errors(Work&& work, Estimate&& estimate_bytes, const std::optional<MemoryLimit>& limit) {
  try {
    work();
  } catch (const std::bad_alloc&) {
    // The estimate let the run start: say so, it is the estimate's to mend.
    std::string message =
        "out of memory (std::bad_alloc) in a run estimated at about " + about_bytes(estimate_bytes());
    if (limit) message += ", within " + limit_words(*limit);
    throw std::runtime_error(message);
  } catch (const sim::InvalidSimulationConfig& e) {
    throw UsageError(flag_of(e.field()) + " " + e.requirement());
  } catch (const UnknownBackend& e) {
    throw UsageError(std::string("--backend: ") + e.what());
  } catch (const BackendUnavailable& e) {
    throw UsageError(std::string("--backend: ") + e.what());
  }
}

#if HEATKIT_HAVE_MPI
int run_simulate_sharded(const SimulateOptions& options);
#endif

int run_simulate(const SimulateOptions& options) {
#if HEATKIT_HAVE_MPI
  if (mpi_running()) return run_simulate_sharded(options);
#endif
  const SimulationConfig config = to_config(options);
  const std::optional<MemoryLimit> limit = memory_limit(options);
  SimulationSummary summary;
  with_cli_errors(
      [&] {
        check_memory(config, options, limit);
        const bool progress = isatty(STDERR_FILENO) != 0;
        summary = sim::run_simulation(config, progress ? sim::ProgressFn(ProgressLine()) : sim::ProgressFn());
      },
      [&] { return sim::estimate_memory(config).peak(); }, limit);
  if (options.json) {
    std::cout << summary_json(summary) << '\n';
  } else {
    print_summary(std::cout, summary);
  }
  std::cout.flush();
  return 0;
}

#if HEATKIT_HAVE_MPI
// ---------------------------------------------------------------------------
// Under mpirun: the run sharded over the ranks (sim/distributed_simulation.h).
// Every rank parses the same options, so option errors are alike; checks a
// rank makes alone (its memory) and the collective setup are agreed on, so
// every rank reports the same one error (rank 0 prints it, exit 2 for a
// usage or backend error); once the ranks work on data a rank that fails
// reports itself and ends the job (tools/mpi_session.h).

// Runs `step` on every rank of `comm` and agrees on how it went (one
// MPI_Allreduce, two MPI_Bcast when it failed). When it threw anywhere, every
// rank throws the error of the lowest rank whose error was its own (not
// PeerRankFailed): a UsageError where main would exit 2 for it, else
// std::runtime_error, prefixed "rank R of N: " unless every rank failed on
// its own.
template <class Step>
void on_every_rank_alike(MPI_Comm comm, Step&& step) {
  enum Kind : int { kOk, kUsage, kFailure, kPeerFailed };
  Kind kind = kOk;
  std::string message;
  try {
    step();
  } catch (const UsageError& e) {
    kind = kUsage, message = e.what();
  } catch (const InvalidPolicy& e) {
    kind = kUsage, message = e.what();
  } catch (const PeerRankFailed& e) {
    kind = kPeerFailed, message = e.what();
  } catch (const std::exception& e) {
    kind = kFailure, message = e.what();
  } catch (...) {
    kind = kFailure, message = "unexpected failure";
  }
  const int rank = world_rank();
  const int ranks = world_size();
  const bool own = kind == kUsage || kind == kFailure;
  // The lowest rank whose failure is its own, the lowest that failed at all,
  // and whether every rank failed on its own (the least of the flags).
  int mine[3] = {own ? rank : INT_MAX, kind != kOk ? rank : INT_MAX, own ? 1 : 0};
  int first[3] = {};
  MPI_Allreduce(mine, first, 3, MPI_INT, MPI_MIN, comm);
  if (first[1] == INT_MAX) return;
  const int from = first[0] != INT_MAX ? first[0] : first[1];
  int head[2] = {kind, static_cast<int>(message.size())};
  MPI_Bcast(head, 2, MPI_INT, from, comm);
  message.resize(static_cast<std::size_t>(head[1]));
  MPI_Bcast(message.data(), head[1], MPI_CHAR, from, comm);
  if (first[2] == 0) message = "rank " + std::to_string(from) + " of " + std::to_string(ranks) + ": " + message;
  if (head[0] == kUsage) throw UsageError(message);
  throw std::runtime_error(message);
}

// Ranks on this node, which share its memory (collective).
int ranks_on_this_node(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 1;
  int size = 1;
  MPI_Comm_size(node, &size);
  MPI_Comm_free(&node);
  return size;
}

// The limit a rank is checked against alone (it holds the whole Zipf table
// and its share of the counters: sim::estimate_memory_per_rank):
// --max-memory is a limit per rank; without it, the least of the memory
// available now and the cgroup's room, both shared by the ranks on this node
// and split evenly among them, and the room under this process's own
// `ulimit -v`.
std::optional<MemoryLimit> rank_memory_limit(const SimulateOptions& options, int node_ranks) {
  if (!options.max_memory.empty() || node_ranks <= 1) return memory_limit(options);
  namespace d = memory_budget_detail;
  const auto share = [&](std::optional<std::uint64_t> bytes) {
    return bytes ? std::optional(*bytes / static_cast<std::uint64_t>(node_ranks)) : bytes;
  };
  const std::string split = ", split over the " + std::to_string(node_ranks) + " ranks on this node";
  std::optional<MemoryLimit> least;
  if (const auto meminfo = d::read_text("/proc/meminfo")) {
    d::keep_least(least, share(mem_available(*meminfo)), "MemAvailable" + split);
  }
  d::keep_least(least, share(d::cgroup_room()), "the cgroup's memory.max" + split);
  d::keep_least(least, d::address_space_room(), "ulimit -v");
  return least;
}

void check_memory_per_rank(const SimulationConfig& config, const SimulateOptions& options, int ranks,
                           const std::optional<MemoryLimit>& limit) {
  if (!limit) return;
  refuse_over_limit(sim::estimate_memory_per_rank(config, ranks), options, config, *limit, " per rank");
}

// A table of right-aligned columns under a header, two spaces apart.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) out << "  " << padded_left(row[c], widths[c]);
    out << '\n';
  }
}

void print_sharded_summary(std::ostream& out, const sim::DistributedSimulationSummary& s) {
  print_summary(out, s.total);
  const SimulationConfig& c = s.total.config;
  const std::size_t ranks = s.ranks.size();
  out << '\n';
  out << "  ranks           " << ranks << " MPI rank" << (ranks == 1 ? "" : "s")
      << ": counts summed over the ranks, times above the slowest rank's\n";
  if (s.eviction_possible) {
    out << "  note: with eviction, each rank evicts among its own keys (cap " << grouped(c.cap) << " split over "
        << ranks << " rank" << (ranks == 1 ? "" : "s") << "), so the counts may differ from one process's\n";
  }
  out << '\n';
  std::vector<std::vector<std::string>> rows{{"rank", "reads applied", "counters live", "reads", "bumps",
                                              "exchange", "ticks", "commits", "sent", "received"}};
  for (const sim::RankSummary& r : s.ranks) {
    const sim::RankTimes& t = r.times;
    rows.push_back({std::to_string(r.rank), grouped(r.reads_applied), grouped(r.counters_live),
                    human_seconds(t.reads), human_seconds(t.bumps), human_seconds(t.exchange()),
                    human_seconds(t.tick), human_seconds(t.commit), human_bytes(r.bytes_sent),
                    human_bytes(r.bytes_received)});
  }
  print_table(out, rows);
}

// The single-process object (summary_object) with the job's totals, plus
// `ranks`: one object per rank, in rank order:
//   rank, reads_generated (reads of the global stream it drew),
//   reads_applied (reads it applied as their keys' owner; they sum to
//   bumps), counters_live (in its shard at the end; they sum to
//   counters_live), cap (its share of --cap, 0 = unbounded), bytes_sent and
//   bytes_received (on the wire to and from the other ranks, headers
//   included), memory_bytes (its shard's registry), and seconds: {reads
//   (drawing its reads), bumps (bump_batch outside MPI), exchange (inside
//   the MPI calls of the reads and commits), tick, commit (outside MPI),
//   wall (its steps)}, disjoint but for wall.
// The totals' times and wall_s are the slowest rank's per phase, memory the
// shards' sum; memory.estimate_bytes is the per-rank estimate times the ranks.
std::string sharded_summary_json(const sim::DistributedSimulationSummary& s, std::size_t estimate_per_rank) {
  JsonObject out = summary_object(s.total, estimate_per_rank * s.ranks.size());
  std::string ranks = "[";
  for (const sim::RankSummary& r : s.ranks) {
    const sim::RankTimes& t = r.times;
    JsonObject seconds;
    seconds.field("reads", t.reads)
        .field("bumps", t.bumps)
        .field("exchange", t.exchange())
        .field("tick", t.tick)
        .field("commit", t.commit)
        .field("wall", r.wall_seconds);
    JsonObject rank;
    rank.field("rank", r.rank)
        .field("reads_generated", r.reads_generated)
        .field("reads_applied", r.reads_applied)
        .field("counters_live", r.counters_live)
        .field("cap", r.local_cap)
        .field("bytes_sent", r.bytes_sent)
        .field("bytes_received", r.bytes_received)
        .field("memory_bytes", r.memory.total())
        .field("seconds", seconds);
    ranks += (ranks.size() > 1 ? "," : "") + rank.str();
  }
  out.raw("ranks", ranks + "]");
  return out.str();
}

int run_simulate_sharded(const SimulateOptions& options) {
  const MPI_Comm comm = world();
  const int ranks = world_size();
  const SimulationConfig config = to_config(options);  // the same on every rank: errors alike
  const int node_ranks = ranks_on_this_node(comm);
  const auto estimate = [&] { return sim::estimate_memory_per_rank(config, ranks).peak(); };
  std::optional<MemoryLimit> limit;
  std::optional<sim::DistributedSimulation> simulation;
  on_every_rank_alike(comm, [&] {
    with_cli_errors(
        [&] {
          limit = rank_memory_limit(options, node_ranks);
          check_memory_per_rank(config, options, ranks, limit);
        },
        estimate, limit);
  });
  on_every_rank_alike(comm, [&] {
    with_cli_errors([&] { simulation.emplace(comm, config); }, estimate, limit);
  });

  // From here a rank can fail alone (say, an allocation while it applies
  // reads): it reports its own error and ends the job.
  set_errors_alike(false);
  sim::DistributedSimulationSummary summary;
  with_cli_errors(
      [&] {
        // No progress line: under a launcher standard error is a pipe.
        while (!simulation->finished()) simulation->step();
        summary = simulation->summary();
      },
      estimate, limit);
  if (world_rank() == 0) {  // the other ranks' standard output is discarded anyway
    if (options.json) {
      std::cout << sharded_summary_json(summary, estimate()) << '\n';
    } else {
      print_sharded_summary(std::cout, summary);
    }
    std::cout.flush();
  }
  return 0;
}
#endif  // HEATKIT_HAVE_MPI

}  // namespace

RunFn add_simulate_command(CLI::App& app) {
  auto options = std::make_shared<SimulateOptions>();
  const SimulationConfig defaults;
  SimulateOptions& o = *options;
  o.keys = std::to_string(defaults.keys);
  o.zipf = shortest(defaults.zipf_exponent);
  o.reads_per_second = std::to_string(defaults.reads_per_second);
  o.tick_interval_s = seconds_text(defaults.tick_interval);
  o.duration_s = seconds_text(defaults.duration);
  o.half_life_s = seconds_text(defaults.half_life);
  o.ratio = shortest(defaults.emit_threshold_ratio);
  o.cap = std::to_string(defaults.cap);
  o.commit_failure_rate = shortest(defaults.commit_failure_rate);
  o.seed = std::to_string(defaults.seed);
  o.backend = std::string(default_backend());
  o.threads = "0";

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
      "refused (exit 2).");
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
  return [options] { return run_simulate(*options); };
}

}  // namespace heatkit::cli
