#include "tools/simulation.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

namespace heatkit::sim {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Reads are drawn and applied in chunks this long: the scratch buffers
// (80 KiB) stay in L2, and the timers run once per chunk, not per read.
constexpr std::size_t kChunk = 4096;

// How many reads ahead the rank loop prefetches: enough to overlap a few
// cache misses, few enough that the lines are still cached when used.
constexpr std::size_t kPrefetchDistance = 16;

// Prefetches the alias-table entries zipf_sample(table, bits) will read. The
// column formula is zipf_sample's; a mismatch would only cost speed.
inline void prefetch_zipf(const ZipfTableView& table, std::uint64_t bits) noexcept {
  const auto column = static_cast<std::uint32_t>(((bits >> 32) * static_cast<std::uint64_t>(table.n)) >> 32);
  __builtin_prefetch(table.threshold + column);
  __builtin_prefetch(table.alias + column);
}

constexpr std::uint64_t kMaxKeys = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxReadsPerTick = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kMaxTicks = std::numeric_limits<std::uint32_t>::max();

// The shortest text that reads back as `value` (a float stays a float: 1.01f
// prints as "1.01", not as its double widening).
template <class T>
std::string to_text(T value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string seconds_text(Duration d) { return to_text(std::chrono::duration<double>(d).count()) + " s"; }

// read_time_ns(tick, 0, 1, 2, ...) without a division per read: floor(i *
// interval / n) advances by interval / n, plus one whenever the remainder
// (interval % n per read) accumulates past n.
class ReadClock {
 public:
  ReadClock(std::uint64_t tick, std::uint64_t reads_per_tick, std::int64_t interval_ns)
      : n_(reads_per_tick),
        whole_(static_cast<std::uint64_t>(interval_ns) / reads_per_tick),
        rest_(static_cast<std::uint64_t>(interval_ns) % reads_per_tick),
        now_(read_time_ns(tick, 0, reads_per_tick, interval_ns)) {}

  // The time of the current read; then moves to the next one.
  std::int64_t next() noexcept {
    const std::int64_t t = now_;
    now_ += static_cast<std::int64_t>(whole_);
    remainder_ += rest_;
    if (remainder_ >= n_) {
      remainder_ -= n_;
      ++now_;
    }
    return t;
  }

 private:
  std::uint64_t n_, whole_, rest_;
  std::int64_t now_;
  std::uint64_t remainder_ = 0;
};

}  // namespace

std::string_view field_name(ConfigField field) noexcept {
  switch (field) {
    case ConfigField::kKeys: return "keys";
    case ConfigField::kZipfExponent: return "zipf_exponent";
    case ConfigField::kReadsPerSecond: return "reads_per_second";
    case ConfigField::kTickInterval: return "tick_interval";
    case ConfigField::kDuration: return "duration";
    case ConfigField::kHalfLife: return "half_life";
    case ConfigField::kEmitThresholdRatio: return "emit_threshold_ratio";
    case ConfigField::kCap: return "cap";
    case ConfigField::kCommitFailureRate: return "commit_failure_rate";
  }
  return "?";
}

InvalidSimulationConfig::InvalidSimulationConfig(ConfigField field, std::string requirement)
    : std::invalid_argument("simulation config: " + std::string(field_name(field)) + " " +
                            requirement),
      field_(field),
      requirement_(std::move(requirement)) {}

std::uint64_t reads_per_tick(const SimulationConfig& config) {
  if (config.tick_interval.count() <= 0) return 0;
  const double per_tick = static_cast<double>(config.reads_per_second) *
                          static_cast<double>(config.tick_interval.count()) / 1e9;
  // Past the validated range, report one more than the maximum so validation
  // can name the problem without an overflowing conversion.
  if (!(per_tick < static_cast<double>(kMaxReadsPerTick) + 0.5)) return kMaxReadsPerTick + 1;
  return static_cast<std::uint64_t>(std::llround(per_tick));
}

std::uint64_t tick_count(const SimulationConfig& config) {
  if (config.tick_interval.count() <= 0 || config.duration.count() <= 0) return 0;
  return static_cast<std::uint64_t>(config.duration.count() / config.tick_interval.count());
}

void validate(const SimulationConfig& c) {
  using F = ConfigField;
  if (c.keys < 1 || c.keys > kMaxKeys) {
    throw InvalidSimulationConfig(F::kKeys, "must be in [1, " + std::to_string(kMaxKeys) +
                                                "], got " + std::to_string(c.keys));
  }
  if (!std::isfinite(c.zipf_exponent) || c.zipf_exponent < 0.0) {
    throw InvalidSimulationConfig(F::kZipfExponent,
                                  "must be finite and >= 0, got " + to_text(c.zipf_exponent));
  }
  if (c.tick_interval.count() <= 0) {
    throw InvalidSimulationConfig(F::kTickInterval,
                                  "must be > 0, got " + std::to_string(c.tick_interval.count()) + " ns");
  }
  if (c.duration.count() <= 0) {
    throw InvalidSimulationConfig(F::kDuration,
                                  "must be > 0, got " + std::to_string(c.duration.count()) + " ns");
  }
  if (c.duration.count() % c.tick_interval.count() != 0) {
    throw InvalidSimulationConfig(F::kDuration, "(" + seconds_text(c.duration) +
                                                    ") must be a whole multiple of the tick interval (" +
                                                    seconds_text(c.tick_interval) + ")");
  }
  if (tick_count(c) > kMaxTicks) {
    throw InvalidSimulationConfig(F::kDuration, "gives " + std::to_string(tick_count(c)) +
                                                    " ticks, more than " + std::to_string(kMaxTicks));
  }
  if (c.reads_per_second < 1) {
    throw InvalidSimulationConfig(F::kReadsPerSecond, "must be >= 1");
  }
  if (const std::uint64_t n = reads_per_tick(c); n < 1 || n > kMaxReadsPerTick) {
    throw InvalidSimulationConfig(
        F::kReadsPerSecond, "times the tick interval (" + seconds_text(c.tick_interval) +
                                ") must give between 1 and " + std::to_string(kMaxReadsPerTick) +
                                " reads per tick, got " +
                                to_text(static_cast<double>(c.reads_per_second) *
                                        static_cast<double>(c.tick_interval.count()) / 1e9));
  }
  // The ratio and the half-life are the policy's: Policy validation decides.
  Policy policy;
  policy.emit_threshold_ratio = c.emit_threshold_ratio;
  policy.decay_half_life = c.half_life;
  if (const auto error = heatkit::validate(policy)) {
    const ConfigField field =
        error->kind == PolicyErrorKind::kRatioNotFinite || error->kind == PolicyErrorKind::kRatioOutOfRange
            ? F::kEmitThresholdRatio
            : F::kHalfLife;
    switch (error->kind) {
      case PolicyErrorKind::kRatioNotFinite:
        throw InvalidSimulationConfig(field, "must be finite, got " + to_text(c.emit_threshold_ratio));
      case PolicyErrorKind::kRatioOutOfRange:
        throw InvalidSimulationConfig(field, "must be in [" + to_text(Policy::kMinRatio) + ", " +
                                                 to_text(Policy::kMaxRatio) + "], got " +
                                                 to_text(c.emit_threshold_ratio));
      case PolicyErrorKind::kHalfLifeZero:
      case PolicyErrorKind::kHalfLifeNegative:
        throw InvalidSimulationConfig(field, "must be > 0, got " +
                                                 std::to_string(c.half_life.count()) + " ns");
    }
  }
  if (!(c.commit_failure_rate >= 0.0 && c.commit_failure_rate <= 1.0)) {  // NaN fails too
    throw InvalidSimulationConfig(F::kCommitFailureRate,
                                  "must be in [0, 1], got " + to_text(c.commit_failure_rate));
  }
}

double SimulationSummary::seconds_per_tick() const noexcept {
  return ticks == 0 ? 0.0 : times.tick / static_cast<double>(ticks);
}

double SimulationSummary::ns_per_counter_tick() const noexcept {
  return counts.counters_ticked == 0 ? 0.0
                                     : times.tick * 1e9 / static_cast<double>(counts.counters_ticked);
}

double SimulationSummary::bytes_per_counter() const noexcept {
  return counters_live == 0 ? 0.0
                            : static_cast<double>(memory.total()) / static_cast<double>(counters_live);
}

namespace {

HeatRegistry make_registry(const SimulationConfig& config) {
  RegistryOptions options;
  options.cap = static_cast<std::size_t>(config.cap);
  options.track_in_flight = true;  // see the Simulation class comment
  options.backend = config.backend;
  options.threads = config.threads;
  return HeatRegistry(std::move(options));
}

void add(SimulationCounts& total, const SimulationCounts& step) {
  total.reads += step.reads;
  total.emits_committed += step.emits_committed;
  total.emits_rolled_back += step.emits_rolled_back;
  total.withdrawals_committed += step.withdrawals_committed;
  total.withdrawals_rolled_back += step.withdrawals_rolled_back;
  total.prunes += step.prunes;
  total.evictions += step.evictions;
  total.counters_ticked += step.counters_ticked;
}

void add(SimulationTimes& total, const SimulationTimes& step) {
  total.read_generation += step.read_generation;
  total.bump += step.bump;
  total.tick += step.tick;
  total.commit += step.commit;
}

SimulationConfig validated(SimulationConfig config) {
  validate(config);
  return config;
}

}  // namespace

struct Simulation::State {
  explicit State(SimulationConfig c)
      : config(validated(std::move(c))),
        ticks(tick_count(config)),
        reads_per_tick(sim::reads_per_tick(config)),
        table(static_cast<std::uint32_t>(config.keys), config.zipf_exponent),
        registry(make_registry(config)) {
    policy.emit_threshold_ratio = config.emit_threshold_ratio;
    policy.decay_half_life = config.half_life;
    bits.resize(kChunk);
    ranks.resize(kChunk);
    read_times.resize(kChunk);
  }

  SimulationConfig config;
  std::uint64_t ticks;
  std::uint64_t reads_per_tick;
  Policy policy;
  ZipfTable table;
  HeatRegistry registry;

  std::uint64_t next_tick = 0;
  std::size_t counters_peak = 0;
  SimulationCounts counts;
  SimulationTimes times;
  double wall_seconds = 0.0;

  // Scratch reused by every step: no allocation per read.
  std::vector<std::uint64_t> bits;
  std::vector<std::uint32_t> ranks;
  std::vector<std::int64_t> read_times;
  HeatRegistry::Emissions committed;
};

Simulation::Simulation(SimulationConfig config) : state_(std::make_unique<State>(std::move(config))) {}
Simulation::~Simulation() = default;
Simulation::Simulation(Simulation&&) noexcept = default;
Simulation& Simulation::operator=(Simulation&&) noexcept = default;

const SimulationConfig& Simulation::config() const noexcept { return state_->config; }
std::uint64_t Simulation::ticks() const noexcept { return state_->ticks; }
std::uint64_t Simulation::ticks_done() const noexcept { return state_->next_tick; }
const HeatRegistry& Simulation::registry() const noexcept { return state_->registry; }
ZipfTableView Simulation::zipf_table() const noexcept { return state_->table.view(); }

TickReport Simulation::step() {
  State& s = *state_;
  if (s.next_tick >= s.ticks) throw std::logic_error("Simulation::step: the run is finished");
  const auto step_start = Clock::now();
  const std::uint64_t tick = s.next_tick;
  const std::uint64_t n = s.reads_per_tick;
  const std::int64_t interval_ns = s.config.tick_interval.count();
  const ZipfTableView table = s.table.view();
  const std::uint64_t seed = s.config.seed;
  const Duration half_life = s.config.half_life;
  const RegistryStats stats_before = s.registry.stats();

  TickReport report;
  report.tick = tick;
  report.ticks = s.ticks;
  report.now_ns = tick_time_ns(tick, interval_ns);

  // The reads of this tick, a chunk at a time: draw, then apply.
  ReadClock read_clock(tick, n, interval_ns);
  std::uint64_t* const bits = s.bits.data();
  std::uint32_t* const ranks = s.ranks.data();
  std::int64_t* const read_times = s.read_times.data();
  for (std::uint64_t first = 0; first < n; first += kChunk) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - first));
    const auto t0 = Clock::now();
    // read_rank(table, seed, tick, first + i) in two passes: draw every
    // read's bits, then sample with the alias-table entries prefetched a few
    // reads ahead. The table competes with the registry for cache; this
    // halves the time to draw ranks once the registry is large.
    for (std::size_t i = 0; i < len; ++i) {
      bits[i] = read_bits(seed, tick, first + i);
      read_times[i] = read_clock.next();
    }
    for (std::size_t i = 0; i < std::min(len, kPrefetchDistance); ++i) prefetch_zipf(table, bits[i]);
    for (std::size_t i = 0; i < len; ++i) {
      if (i + kPrefetchDistance < len) prefetch_zipf(table, bits[i + kPrefetchDistance]);
      ranks[i] = zipf_sample(table, bits[i]);
    }
    const auto t1 = Clock::now();
    for (std::size_t i = 0; i < len; ++i) {
      const Instant at = instant_from_ns(read_times[i]);
      s.registry.entry(key_of_rank(ranks[i]), half_life, at).bump(at);
    }
    const auto t2 = Clock::now();
    report.times.read_generation += seconds_between(t0, t1);
    report.times.bump += seconds_between(t1, t2);
  }
  report.counts.reads = n;

  // The tick, then the commit: failed candidates roll back, the rest commit at once.
  report.counters_ticked = s.registry.size();
  report.counts.counters_ticked = report.counters_ticked;
  s.counters_peak = std::max(s.counters_peak, report.counters_ticked);
  const auto t0 = Clock::now();
  const HeatRegistry::Emissions candidates = s.registry.tick(s.policy, instant_from_ns(report.now_ns));
  const auto t1 = Clock::now();
  s.committed.clear();
  for (const auto& candidate : candidates) {
    const bool emit = candidate.second.is_emit();
    if (commit_fails(seed, tick, candidate.first, s.config.commit_failure_rate)) {
      s.registry.rollback(candidate.first);
      ++(emit ? report.counts.emits_rolled_back : report.counts.withdrawals_rolled_back);
    } else {
      s.committed.push_back(candidate);
      ++(emit ? report.counts.emits_committed : report.counts.withdrawals_committed);
    }
  }
  s.registry.commit(s.committed);
  const auto t2 = Clock::now();
  report.times.tick = seconds_between(t0, t1);
  report.times.commit = seconds_between(t1, t2);

  const RegistryStats& stats = s.registry.stats();
  report.counts.prunes = stats.pruned - stats_before.pruned;
  report.counts.evictions = stats.evictions - stats_before.evictions;
  report.counters_live = s.registry.size();

  add(s.counts, report.counts);
  add(s.times, report.times);
  s.wall_seconds += seconds_between(step_start, Clock::now());
  ++s.next_tick;
  return report;
}

SimulationSummary Simulation::summary() const {
  const State& s = *state_;
  SimulationSummary out;
  out.config = s.config;
  out.ticks = s.ticks;
  out.reads_per_tick = s.reads_per_tick;
  out.backend = std::string(s.registry.backend());
  out.counters_live = s.registry.size();
  out.counters_peak = s.counters_peak;
  out.counts = s.counts;
  out.times = s.times;
  out.wall_seconds = s.wall_seconds;
  out.memory = s.registry.memory_usage();
  return out;
}

SimulationSummary run_simulation(const SimulationConfig& config, const ProgressFn& progress) {
  Simulation simulation(config);
  while (!simulation.finished()) {
    const TickReport report = simulation.step();
    if (progress) progress(report);
  }
  return simulation.summary();
}

}  // namespace heatkit::sim
