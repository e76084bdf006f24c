// How `heatkit simulate` prints its summary (tools/simulate_report.h).
#include "tools/simulate_report.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "util/thread_pool.h"

namespace heatkit::cli {

using sim::SimulationConfig;
using sim::SimulationSummary;

std::string seconds_text(Duration d) { return shortest(std::chrono::duration<double>(d).count()); }

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
// JSON output.

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

JsonObject& add_count_fields(JsonObject& out, const sim::SimulationCounts& n) {
  return out.field("bumps", n.reads)
      .field("emits_committed", n.emits_committed)
      .field("emits_rolled_back", n.emits_rolled_back)
      .field("withdrawals_committed", n.withdrawals_committed)
      .field("withdrawals_rolled_back", n.withdrawals_rolled_back)
      .field("prunes", n.prunes)
      .field("evictions", n.evictions)
      .field("counters_ticked", n.counters_ticked);
}

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
      .field("counters_peak", r.counters_peak);
  add_count_fields(out, n)
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

}  // namespace heatkit::cli
