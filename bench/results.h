// The counters and medians of a benchmark row, shared by heatkit_bench and
// heatkit_gpu_bench: every row sums its iterations' manual times, reports
// its cost per item the same way, and relates itself to rows measured
// earlier in the run (floors, the port, the copy) through their medians.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace heatkit::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The median of `values` (the mean of the middle two for an even count).
inline double median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// The manual times of one call of a benchmark function.
class IterationTimes {
 public:
  // One iteration took `seconds`: its manual time, and part of the total.
  void add(benchmark::State& state, double seconds) {
    state.SetIterationTime(seconds);
    seconds_ += seconds;
  }
  double seconds() const noexcept { return seconds_; }
  double per_iteration(const benchmark::State& state) const {
    return state.iterations() > 0 ? seconds_ / static_cast<double>(state.iterations()) : 0.0;
  }
  // Sets items processed to `items` (over all iterations) and `counter` to
  // the nanoseconds per item; returns them.
  double report(benchmark::State& state, const char* counter, double items) const {
    const double ns = items > 0 ? seconds_ * 1e9 / items : 0.0;
    state.SetItemsProcessed(static_cast<std::int64_t>(items));
    state.counters[counter] = ns;
    return ns;
  }

 private:
  double seconds_ = 0.0;
};

// Values of rows measured earlier in the run, by key. Google Benchmark calls
// a function several times while it sizes the iteration count; only the
// calls with the most iterations (the reported repetitions) count.
class References {
 public:
  void add(const std::string& key, std::int64_t iterations, double value) {
    samples_[key].push_back({iterations, value});
  }
  std::optional<double> median(const std::string& key) const {
    const auto it = samples_.find(key);
    if (it == samples_.end() || it->second.empty()) return std::nullopt;
    std::int64_t most = 0;
    for (const auto& [iterations, value] : it->second) most = std::max(most, iterations);
    std::vector<double> kept;
    for (const auto& [iterations, value] : it->second) {
      if (iterations == most) kept.push_back(value);
    }
    return bench::median(std::move(kept));
  }

 private:
  std::map<std::string, std::vector<std::pair<std::int64_t, double>>> samples_;
};

inline References& references() {
  static References refs;
  return refs;
}

// Bytes per counter, in total (counter bytes_per_counter) and by part.
struct MemoryReport {
  double total = 0.0;
  std::vector<std::pair<std::string, double>> parts;
};

inline void report_memory(benchmark::State& state, const MemoryReport& m) {
  state.counters["bytes_per_counter"] = m.total;
  for (const auto& [name, value] : m.parts) state.counters[name] = value;
}

}  // namespace heatkit::bench
