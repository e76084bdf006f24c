// What `heatkit simulate` prints: numbers, byte counts and wall times as
// text, the summary for a person, and the summary as one JSON object
// (numbers as numbers). Shared by the single-process run
// (tools/simulate_command.cc) and the sharded one (tools/simulate_sharded.cc).
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

#include <heatkit/time.h>
#include "sim/simulation.h"

namespace heatkit::cli {

// Shortest text that reads back as the same value.
template <class T>
std::string shortest(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// A duration as its seconds, shortest().
std::string seconds_text(Duration d);

// 1234567 -> "1,234,567".
std::string grouped(std::uint64_t value);

// `value` with `decimals` digits after the point.
std::string fixed(double value, int decimals);

// A wall time with a unit that keeps three significant digits readable.
std::string human_seconds(double s);

// "512 B", "1.5 KiB", "20.1 MiB", "1.25 GiB".
std::string human_bytes(std::size_t bytes);

// `s` right-aligned in `width` columns.
std::string padded_left(const std::string& s, std::size_t width);

// The summary for a person.
void print_summary(std::ostream& out, const sim::SimulationSummary& r);

// ---------------------------------------------------------------------------
// JSON output, written by hand.

std::string json_string(std::string_view s);

// A number as JSON; a float that is not finite is null.
template <class T>
std::string json_number(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) return "null";
  }
  return shortest(value);
}

// A JSON object built field by field, in the order they are added.
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

// The outcome counts' fields (bumps, emits_committed, ... counters_ticked),
// in the order every report prints them.
JsonObject& add_count_fields(JsonObject& out, const sim::SimulationCounts& n);

// The summary as a JSON object; `estimate_bytes` is the memory estimate the
// run was checked against (memory.estimate_bytes).
JsonObject summary_object(const sim::SimulationSummary& r, std::size_t estimate_bytes);

// The single-process run's summary as JSON text, checked against its estimate.
std::string summary_json(const sim::SimulationSummary& r);

}  // namespace heatkit::cli
