// Parsing `heatkit simulate`'s options, and its memory checks
// (tools/simulate_options.h).
#include "tools/simulate_options.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include <heatkit/policy.h>
#include "tools/simulate_report.h"
#include "util/thread_pool.h"

namespace heatkit::cli {
namespace {

using sim::ConfigField;
using sim::SimulationConfig;

std::optional<double> parse_double(std::string_view text) {
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
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

constexpr std::string_view kMaxMemory = "--max-memory";

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

}  // namespace

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

std::optional<MemoryLimit> memory_limit(const SimulateOptions& o) {
  if (o.max_memory.empty()) return available_memory();
  const auto bytes = parse_byte_size(o.max_memory);
  if (!bytes || *bytes == 0) {
    throw UsageError("--max-memory must be a byte count > 0, such as 512M or 4G (K, M, G, T: powers of "
                     "1024), got '" + o.max_memory + "'");
  }
  return MemoryLimit{*bytes, std::string(kMaxMemory)};
}

std::string limit_words(const MemoryLimit& limit) {
  if (limit.source == kMaxMemory) return "the " + about_bytes(limit.bytes) + " allowed (--max-memory)";
  return "the " + about_bytes(limit.bytes) + " available (" + limit.source +
         "; --max-memory to set another limit)";
}

void refuse_over_limit(const sim::MemoryEstimate& e, const SimulateOptions& options,
                       const SimulationConfig& config, const MemoryLimit& limit, std::string_view per) {
  if (e.peak() <= limit.bytes) return;
  throw UsageError(largest_option(e, options, config) + " needs about " + about_bytes(e.peak()) +
                   std::string(per) + " (workload tables " + about_bytes(e.tables) + ", " +
                   about_bytes(e.tables + e.tables_build) + " while built; registry " +
                   about_bytes(e.registry) + "), more than " + limit_words(limit));
}

void check_memory(const SimulationConfig& config, const SimulateOptions& options,
                  const std::optional<MemoryLimit>& limit) {
  if (!limit) return;  // nothing known to check against
  refuse_over_limit(sim::estimate_memory(config), options, config, *limit, "");
}

SimulateOptions default_simulate_options() {
  const sim::SimulationConfig defaults;
  SimulateOptions o;
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
  return o;
}

sim::SimulationSummary run_checked_simulation(const SimulateOptions& options, sim::ProgressFn progress) {
  const sim::SimulationConfig config = to_config(options);
  const std::optional<MemoryLimit> limit = memory_limit(options);
  sim::SimulationSummary summary;
  with_cli_errors(
      [&] {
        check_memory(config, options, limit);
        summary = sim::run_simulation(config, std::move(progress));
      },
      [&] { return sim::estimate_memory(config).peak(); }, limit);
  return summary;
}

}  // namespace heatkit::cli
