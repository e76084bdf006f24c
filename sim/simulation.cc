#include "sim/simulation.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "backends/backend.h"
#include "registry/memory_estimate.h"

#if HEATKIT_HAVE_CUDA
#include "cuda/device_store.h"
#include "sim/device_workload.h"
#endif

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
  // Starts at read `first` of the tick (first * rest < reads_per_tick^2 < 2^64).
  ReadClock(std::uint64_t tick, std::uint64_t first, std::uint64_t reads_per_tick, std::int64_t interval_ns)
      : n_(reads_per_tick),
        whole_(static_cast<std::uint64_t>(interval_ns) / reads_per_tick),
        rest_(static_cast<std::uint64_t>(interval_ns) % reads_per_tick),
        now_(read_time_ns(tick, first, reads_per_tick, interval_ns)),
        remainder_(first * rest_ % reads_per_tick) {}

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
  std::uint64_t remainder_;
};

}  // namespace

void draw_reads(const ZipfTableView& table, std::uint64_t seed, std::uint64_t tick, std::uint64_t first,
                std::uint64_t reads_per_tick, std::int64_t tick_interval_ns, std::span<std::uint64_t> keys,
                std::span<Instant> times) {
  ReadClock read_clock(tick, first, reads_per_tick, tick_interval_ns);
  const std::size_t len = std::min(keys.size(), times.size());
  // read_rank(table, seed, tick, first + i) in two passes a chunk at a time
  // (the chunk stays in L2): draw every read's bits (into `keys`), then
  // sample with the alias-table entries prefetched a few reads ahead. The
  // table competes with the registry for cache; this halves the time to
  // draw ranks once the registry is large.
  for (std::size_t begin = 0; begin < len; begin += kChunk) {
    const std::size_t end = std::min(len, begin + kChunk);
    for (std::size_t i = begin; i < end; ++i) {
      keys[i] = read_bits(seed, tick, first + i);
      times[i] = instant_from_ns(read_clock.next());
    }
    for (std::size_t i = begin; i < std::min(end, begin + kPrefetchDistance); ++i) prefetch_zipf(table, keys[i]);
    for (std::size_t i = begin; i < end; ++i) {
      if (i + kPrefetchDistance < end) prefetch_zipf(table, keys[i + kPrefetchDistance]);
      keys[i] = key_of_rank(zipf_sample(table, keys[i]));
    }
  }
}

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

SimulationCounts& SimulationCounts::operator+=(const SimulationCounts& step) noexcept {
  reads += step.reads;
  emits_committed += step.emits_committed;
  emits_rolled_back += step.emits_rolled_back;
  withdrawals_committed += step.withdrawals_committed;
  withdrawals_rolled_back += step.withdrawals_rolled_back;
  prunes += step.prunes;
  evictions += step.evictions;
  counters_ticked += step.counters_ticked;
  return *this;
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

BasicHeatRegistry<std::uint64_t> make_registry(const SimulationConfig& config) {
  RegistryOptions options;
  options.cap = static_cast<std::size_t>(config.cap);
  options.track_in_flight = true;  // see the Simulation class comment
  options.backend = config.backend;
  options.threads = config.threads;
  return BasicHeatRegistry<std::uint64_t>(std::move(options));
}

void add(SimulationCounts& total, const SimulationCounts& step) { total += step; }

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

// A resumed run's registry must be one this config's run could have left:
// the same cap, in-flight tracking on, and only keys the workload makes
// (the device read path maps each key's rank to its slot).
BasicHeatRegistry<std::uint64_t> checked_resumed_registry(const SimulationConfig& config,
                                                          BasicHeatRegistry<std::uint64_t> registry) {
  if (registry.cap() != config.cap) {
    throw std::invalid_argument("the registry's cap " + std::to_string(registry.cap()) +
                                " is not the run's cap " + std::to_string(config.cap));
  }
  if (!registry.tracks_in_flight()) {
    throw std::invalid_argument("the registry does not track in-flight counters, as a run's does");
  }
  std::optional<std::uint64_t> foreign;
  registry.for_each([&](std::uint64_t key, const HeatCounter&) {
    if (key >= config.keys && !foreign) foreign = key;
  });
  if (foreign) {
    throw std::invalid_argument("the registry holds key " + std::to_string(*foreign) +
                                ", which is not a rank below the run's " + std::to_string(config.keys) +
                                " keys");
  }
  return registry;
}

// The device read path's state (sim/device_workload.h), beside the registry
// it feeds. Empty in a build without CUDA, where no store is a device store.
#if HEATKIT_HAVE_CUDA
constexpr Slot kNoRankSlot = std::numeric_limits<Slot>::max();

struct DeviceReads {
  DeviceReads(gpu::DeviceCounterStore& store, const SimulationConfig& config, const ZipfTable& table,
              std::uint64_t reads_per_tick)
      : workload(store, gpu::DeviceReadWorkload::Params{table.view(), config.seed, reads_per_tick,
                                                        config.tick_interval.count()}),
        slot_of_rank(table.size(), kNoRankSlot) {}

  gpu::DeviceReadWorkload workload;
  // The host copy of the device's rank -> slot map: kNoRankSlot where the
  // rank has no counter. Read only to find pruned ranks.
  std::vector<Slot> slot_of_rank;
  std::vector<Slot> new_slots;          // scratch: slots of a batch's new ranks
  std::vector<std::uint32_t> pruned;    // scratch: ranks to forget
};

gpu::DeviceCounterStore* device_store_of(BasicHeatRegistry<std::uint64_t>& registry) {
  return dynamic_cast<gpu::DeviceCounterStore*>(&registry.store());
}
#else
struct DeviceReads {};
#endif

}  // namespace

ReadsPath choose_reads_path(const SimulationConfig& config, bool device_store) {
  if (!config.device_reads) return {false, "device reads are turned off"};
  if (!device_store) return {false, "the " + config.backend + " backend keeps its counters in host memory"};
  if (config.cap != 0 && config.cap < config.keys) {
    return {false, "cap " + std::to_string(config.cap) + " < " + std::to_string(config.keys) +
                       " keys: evictions between reads need the host's per-read LRU order"};
  }
#if HEATKIT_HAVE_CUDA
  return {true, ""};
#else
  return {false, "this build has no device workload (CUDA)"};
#endif
}

namespace {

// An upper bound on the expected number of distinct ranks that `reads`
// draws from Zipf(n, s) reach: the sum over ranks of 1 - (1 - p_k)^reads.
// The first ranks are summed one by one; past them, ranks come in blocks
// 1/2000 of their rank long, each counted at its first rank's (largest)
// term, with p_k over a lower bound of the normalizing sum: about 30,000
// terms for 2^32 keys, and at most a few tenths of a percent over.
double expected_distinct_ranks_bound(std::uint64_t n, double s, std::uint64_t reads) {
  constexpr std::uint64_t kExact = 4096;
  const auto for_blocks = [&](auto&& add) {  // add(first rank, ranks in the block)
    for (std::uint64_t k = 0; k < n;) {
      const std::uint64_t len = k < kExact ? 1 : std::min(n - k, std::max<std::uint64_t>(1, k / 2000));
      add(k, len);
      k += len;
    }
  };
  const auto weight = [&](std::uint64_t k) { return std::pow(static_cast<double>(k) + 1.0, -s); };
  double total = 0.0;  // <= the sum of the weights: each block at its last (smallest) weight
  for_blocks([&](std::uint64_t k, std::uint64_t len) {
    total += static_cast<double>(len) * weight(k + len - 1);
  });
  double distinct = 0.0;
  const auto r = static_cast<double>(reads);
  for_blocks([&](std::uint64_t k, std::uint64_t len) {
    const double p = std::min(1.0, weight(k) / total);
    distinct += static_cast<double>(len) * (p >= 1.0 ? 1.0 : -std::expm1(r * std::log1p(-p)));
  });
  return distinct;
}

}  // namespace

MemoryEstimate estimate_memory(const SimulationConfig& config) {
  validate(config);
  const BackendInfo backend = backend_info(config.backend);
  if (!backend.available) throw BackendUnavailable(config.backend, backend.unavailable_reason);

  MemoryEstimate e;
  const std::uint64_t keys = config.keys;
  const std::uint64_t reads = sim::reads_per_tick(config) * tick_count(config);  // both < 2^32
  e.counters = keys;
  if (config.cap != 0 && config.cap < e.counters) {
    e.counters = config.cap;
    e.counters_bound = ConfigField::kCap;
  }
  // Every live counter is a key read at least once. How many distinct keys
  // the reads reach is a sum of nearly independent events, so it stays
  // within a few square roots of its expectation.
  const double expected = expected_distinct_ranks_bound(keys, config.zipf_exponent, reads);
  const double reached = std::ceil(expected + 8.0 * std::sqrt(expected) + 64.0);
  if (reached < static_cast<double>(e.counters)) {
    e.counters = static_cast<std::uint64_t>(reached);
    e.counters_bound = ConfigField::kReadsPerSecond;
  }

  // ZipfTable: threshold and alias (4 bytes each a key) kept; while built, a
  // double weight per key and the two work lists, whose capacities together
  // hold at most twice the keys, and for a moment, while one of them
  // reallocates, half of that again (zipf.cc; 23 bytes a key measured).
  e.tables = keys * 2 * sizeof(std::uint32_t);
  e.tables_build = keys * (sizeof(double) + 3 * sizeof(std::uint32_t));
  if (choose_reads_path(config, backend.device_columns).on_device) {
    // DeviceReads: slot_of_rank per key; per batch the new ranks (and their
    // (rank, slot) pairs going up, sim/device_workload.cu) and their slots.
    const std::uint64_t batch =
        std::min<std::uint64_t>({keys, sim::reads_per_tick(config), std::uint64_t{1} << 24});
    e.tables += keys * sizeof(Slot) + batch * (2 * 8 + sizeof(Slot)) + e.counters * sizeof(std::uint32_t);
  }

  const auto counters = static_cast<std::size_t>(e.counters);
  const RegistryMemoryEstimate registry = estimate_registry_memory<std::uint64_t>(
      counters, static_cast<std::size_t>(config.cap), backend.device_columns);
  // The tick's result is sized to fit (resize_for_overwrite); the committed
  // list grows by push_back, to a power of two at most.
  constexpr std::size_t kEmission = sizeof(BasicHeatRegistry<std::uint64_t>::Emissions::value_type);
  e.registry = registry.total() + counters * kEmission + std::bit_ceil(counters) * kEmission +
               kSuggestedBumpQueue * 64;
  return e;
}

struct Simulation::State {
  // A new run when `resumed` is empty, else the run that left that registry.
  State(SimulationConfig c, std::optional<BasicHeatRegistry<std::uint64_t>> resumed)
      : config(validated(std::move(c))),
        ticks(tick_count(config)),
        reads_per_tick(sim::reads_per_tick(config)),
        table(static_cast<std::uint32_t>(config.keys), config.zipf_exponent),
        registry(resumed ? checked_resumed_registry(config, std::move(*resumed)) : make_registry(config)) {
    policy.emit_threshold_ratio = config.emit_threshold_ratio;
    policy.decay_half_life = config.half_life;
#if HEATKIT_HAVE_CUDA
    gpu::DeviceCounterStore* const device_store = device_store_of(registry);
    reads_path = choose_reads_path(config, device_store != nullptr);
    if (reads_path.on_device) {
      device = std::make_unique<DeviceReads>(*device_store, config, table, reads_per_tick);
      if (resumed) adopt_live_keys_on_device();
      return;
    }
#else
    reads_path = choose_reads_path(config, false);
#endif
    // Reads on the host go through the registry's bump queue: the same
    // entry(key).bump(t) calls, applied in batches (the results are those of
    // applying each at its call; docs/ARCHITECTURE.md, "The bump queue").
    registry.set_bump_queue(kSuggestedBumpQueue);
    keys.resize(kChunk);
    read_times.resize(kChunk);
  }

  SimulationConfig config;
  std::uint64_t ticks;
  std::uint64_t reads_per_tick;
  Policy policy;
  ZipfTable table;
  BasicHeatRegistry<std::uint64_t> registry;
  ReadsPath reads_path;
  std::unique_ptr<DeviceReads> device;  // set when reads_path.on_device; after `registry`: destroyed first

  std::uint64_t next_tick = 0;
  std::size_t counters_peak = 0;
  SimulationCounts counts;
  SimulationTimes times;
  double wall_seconds = 0.0;

  void apply_reads_on_host(TickReport& report);
  void apply_reads_on_device(TickReport& report);
  void forget_pruned_on_device(std::uint64_t pruned);
  void adopt_live_keys_on_device();

  // Scratch reused by every step: no allocation per read.
  std::vector<std::uint64_t> keys;
  std::vector<Instant> read_times;
  BasicHeatRegistry<std::uint64_t>::Emissions candidates;  // each tick's result, its memory reused
  BasicHeatRegistry<std::uint64_t>::Emissions committed;
};

Simulation::Simulation(SimulationConfig config)
    : state_(std::make_unique<State>(std::move(config), std::nullopt)) {}

Simulation::Simulation(SimulationConfig config, BasicHeatRegistry<std::uint64_t> registry,
                       const SimulationProgress& progress) {
  validate(config);
  if (progress.ticks_done > tick_count(config)) {
    throw InvalidSimulationConfig(ConfigField::kDuration,
                                  "(" + seconds_text(config.duration) + ") must be at least the " +
                                      std::to_string(progress.ticks_done) + " ticks already done (" +
                                      seconds_text(config.tick_interval * static_cast<std::int64_t>(progress.ticks_done)) + ")");
  }
  state_ = std::make_unique<State>(std::move(config), std::move(registry));
  State& s = *state_;
  s.next_tick = progress.ticks_done;
  s.counters_peak = progress.counters_peak;
  s.counts = progress.counts;
  s.times = progress.times;
  s.wall_seconds = progress.wall_seconds;
}
Simulation::~Simulation() = default;
Simulation::Simulation(Simulation&&) noexcept = default;
Simulation& Simulation::operator=(Simulation&&) noexcept = default;

const SimulationConfig& Simulation::config() const noexcept { return state_->config; }
std::uint64_t Simulation::ticks() const noexcept { return state_->ticks; }
std::uint64_t Simulation::ticks_done() const noexcept { return state_->next_tick; }
const BasicHeatRegistry<std::uint64_t>& Simulation::registry() const noexcept {
  return state_->registry;
}
ZipfTableView Simulation::zipf_table() const noexcept { return state_->table.view(); }
const ReadsPath& Simulation::reads_path() const noexcept { return state_->reads_path; }

// The reads of this tick on the host, a chunk at a time: draw, then apply
// each as entry(key).bump(t), through the bump queue, applied before the
// chunk's bump time is taken.
void Simulation::State::apply_reads_on_host(TickReport& report) {
  const std::uint64_t tick = report.tick;
  const std::uint64_t n = reads_per_tick;
  const ZipfTableView view = table.view();
  const std::uint64_t seed = config.seed;
  const Duration half_life = config.half_life;
  for (std::uint64_t first = 0; first < n; first += kChunk) {
    const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, n - first));
    const auto t0 = Clock::now();
    draw_reads(view, seed, tick, first, n, config.tick_interval.count(), std::span(keys).first(len),
               std::span(read_times).first(len));
    const auto t1 = Clock::now();
    for (std::size_t i = 0; i < len; ++i) registry.entry(keys[i], half_life, read_times[i]).bump(read_times[i]);
    registry.apply_queue();
    const auto t2 = Clock::now();
    report.times.read_generation += seconds_between(t0, t1);
    report.times.bump += seconds_between(t1, t2);
  }
}

#if HEATKIT_HAVE_CUDA
// The reads of this tick on the device (sim/device_workload.h), a batch at a
// time: the device draws them and names the ranks read for the first time;
// their keys are created here in first-read order, each at its first read's
// instant (entry() without bump: the batch bumps it), so keys, slots and
// creation order are the host path's; then the device applies the batch.
// With no eviction possible, applying a tick's bumps after its creations
// gives every counter the bumps of the host path, in the same order.
void Simulation::State::apply_reads_on_device(TickReport& report) {
  DeviceReads& d = *device;
  const std::uint64_t tick = report.tick;
  const std::uint64_t n = reads_per_tick;
  const std::int64_t interval_ns = config.tick_interval.count();
  for (std::uint64_t first = 0; first < n; first += gpu::DeviceReadWorkload::kMaxBatchReads) {
    const auto len = static_cast<std::size_t>(
        std::min<std::uint64_t>(gpu::DeviceReadWorkload::kMaxBatchReads, n - first));
    const auto t0 = Clock::now();
    const std::vector<gpu::DeviceReadWorkload::NewRank>& fresh = d.workload.draw(tick, first, len);
    const auto t1 = Clock::now();
    d.new_slots.clear();
    for (const gpu::DeviceReadWorkload::NewRank& rank : fresh) {
      const std::uint64_t key = key_of_rank(rank.rank);
      const Instant at = instant_from_ns(read_time_ns(tick, rank.first_read, n, interval_ns));
      registry.entry(key, config.half_life, at);
      const std::optional<Slot> slot = registry.slot_of(key);
      if (!slot) {
        throw std::logic_error("Simulation: key " + std::to_string(key) + " has no slot after entry()");
      }
      d.slot_of_rank[rank.rank] = *slot;
      d.new_slots.push_back(*slot);
    }
    d.workload.apply(d.new_slots);  // returns once the store has applied the batch
    const auto t2 = Clock::now();
    report.times.read_generation += seconds_between(t0, t1);
    report.times.bump += seconds_between(t1, t2);
  }
}

// After a commit that pruned `pruned` counters: the device forgets their
// ranks' slots (the slots go back to the registry's free list). A counter is
// pruned at the commit that records its withdrawal (it decayed to zero, and
// nothing bumps it between tick and commit), so the committed withdrawals
// whose keys are gone are usually all of them; when they are fewer, every
// rank with a slot is checked.
void Simulation::State::forget_pruned_on_device(std::uint64_t pruned) {
  DeviceReads& d = *device;
  d.pruned.clear();
  auto forget_if_gone = [&](std::uint32_t rank) {
    if (d.slot_of_rank[rank] != kNoRankSlot && !registry.contains(key_of_rank(rank))) {
      d.slot_of_rank[rank] = kNoRankSlot;
      d.pruned.push_back(rank);
    }
  };
  for (const auto& [key, emission] : committed) {
    if (emission.is_withdraw()) forget_if_gone(rank_of_key(key));
  }
  if (d.pruned.size() != pruned) {
    for (std::uint32_t rank = 0; rank < d.slot_of_rank.size(); ++rank) forget_if_gone(rank);
  }
  if (d.pruned.size() != pruned) {
    throw std::logic_error("Simulation: the commit pruned " + std::to_string(pruned) + " counters, " +
                           std::to_string(d.pruned.size()) + " of them known to the device");
  }
  d.workload.forget(d.pruned);
}
// A resumed run's counters were created before this process: the device
// learns every live key's rank and slot, as if it had created them.
void Simulation::State::adopt_live_keys_on_device() {
  DeviceReads& d = *device;
  std::vector<std::uint32_t> ranks;
  d.new_slots.clear();
  registry.for_each([&](std::uint64_t key, const HeatCounter&) {
    const std::optional<Slot> slot = registry.slot_of(key);
    if (!slot) throw std::logic_error("Simulation: live key " + std::to_string(key) + " has no slot");
    d.slot_of_rank[rank_of_key(key)] = *slot;
    ranks.push_back(rank_of_key(key));
    d.new_slots.push_back(*slot);
  });
  d.workload.adopt(ranks, d.new_slots);
}
#else
void Simulation::State::adopt_live_keys_on_device() {
  throw std::logic_error("Simulation: device reads in a build without CUDA");
}
void Simulation::State::apply_reads_on_device(TickReport&) {
  throw std::logic_error("Simulation: device reads in a build without CUDA");
}
void Simulation::State::forget_pruned_on_device(std::uint64_t) {
  throw std::logic_error("Simulation: device reads in a build without CUDA");
}
#endif

TickReport Simulation::step() {
  State& s = *state_;
  if (s.next_tick >= s.ticks) throw std::logic_error("Simulation::step: the run is finished");
  const auto step_start = Clock::now();
  const std::uint64_t tick = s.next_tick;
  const std::uint64_t seed = s.config.seed;
  const RegistryStats stats_before = s.registry.stats();

  TickReport report;
  report.tick = tick;
  report.ticks = s.ticks;
  report.now_ns = tick_time_ns(tick, s.config.tick_interval.count());

  if (s.reads_path.on_device) {
    s.apply_reads_on_device(report);
  } else {
    s.apply_reads_on_host(report);
  }
  report.counts.reads = s.reads_per_tick;

  // The tick, then the commit: failed candidates roll back, the rest commit at once.
  report.counters_ticked = s.registry.size();
  report.counts.counters_ticked = report.counters_ticked;
  s.counters_peak = std::max(s.counters_peak, report.counters_ticked);
  const auto t0 = Clock::now();
  s.registry.tick(s.policy, instant_from_ns(report.now_ns), s.candidates);
  const auto t1 = Clock::now();
  s.committed.clear();
  for (const auto& candidate : s.candidates) {
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
  const RegistryStats& stats = s.registry.stats();
  report.counts.prunes = stats.pruned - stats_before.pruned;
  report.counts.evictions = stats.evictions - stats_before.evictions;
  if (s.reads_path.on_device && report.counts.prunes > 0) s.forget_pruned_on_device(report.counts.prunes);
  const auto t2 = Clock::now();
  report.times.tick = seconds_between(t0, t1);
  report.times.commit = seconds_between(t1, t2);
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
  out.reads_path = s.reads_path;
  out.counters_live = s.registry.size();
  out.counters_peak = s.counters_peak;
  out.counts = s.counts;
  out.times = s.times;
  out.wall_seconds = s.wall_seconds;
  out.memory = s.registry.memory_usage();
  return out;
}

SimulationProgress Simulation::progress() const {
  const State& s = *state_;
  SimulationProgress out;
  out.ticks_done = s.next_tick;
  out.counters_peak = s.counters_peak;
  out.counts = s.counts;
  out.times = s.times;
  out.wall_seconds = s.wall_seconds;
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
