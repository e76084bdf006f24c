#include "sim/distributed_simulation.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "backends/backend.h"
#include "mpi/mpi_call.h"  // on_every_rank
#include "registry/memory_estimate.h"

namespace heatkit::sim {
namespace {

using Clock = std::chrono::steady_clock;
using Emissions = DistributedHeatRegistry::Emissions;

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

int size_of(MPI_Comm comm) {
  int rank = -1;
  MPI_Comm_rank(comm, &rank);
  int size = 0;
  mpi::check(MPI_Comm_size(comm, &size), "MPI_Comm_size", rank);
  return size;
}

// Validation every rank makes alike, before any collective: the config's,
// and the distributed registry's own rule that each rank holds at least one
// counter, named as the config field it is about.
SimulationConfig validated(SimulationConfig config, int ranks) {
  validate(config);
  if (config.cap != 0 && config.cap < static_cast<std::uint64_t>(ranks)) {
    throw InvalidSimulationConfig(ConfigField::kCap,
                                  "must be 0 (unbounded) or at least the " + std::to_string(ranks) +
                                      " ranks (each rank keeps at least one counter), got " +
                                      std::to_string(config.cap));
  }
  config.device_reads = false;  // the sharded run draws its reads on the host
  return config;
}

RegistryOptions registry_options(const SimulationConfig& config) {
  RegistryOptions options;
  options.cap = static_cast<std::size_t>(config.cap);
  options.track_in_flight = true;  // as Simulation: a real sink's mark/rollback path
  options.backend = config.backend;
  options.threads = config.threads;
  return options;
}

}  // namespace

ReadSlice read_slice(std::uint64_t window_first, std::uint64_t window_reads, int rank, int ranks) noexcept {
  // window_reads <= 2^32 and ranks < 2^31: the products fit in 64 bits.
  const auto n = static_cast<std::uint64_t>(ranks);
  const auto r = static_cast<std::uint64_t>(rank);
  const std::uint64_t begin = r * window_reads / n;
  const std::uint64_t end = (r + 1) * window_reads / n;
  return {window_first + begin, end - begin};
}

bool eviction_possible(const SimulationConfig& config, int ranks) noexcept {
  return config.cap != 0 && config.cap / static_cast<std::uint64_t>(std::max(ranks, 1)) < config.keys;
}

struct DistributedSimulation::State {
  State(MPI_Comm comm, SimulationConfig c)
      : config(validated(std::move(c), size_of(comm))),
        ticks(tick_count(config)),
        reads_per_tick(sim::reads_per_tick(config)),
        registry(comm, registry_options(config)) {
    policy.emit_threshold_ratio = config.emit_threshold_ratio;
    policy.decay_half_life = config.half_life;
    // The rank's own allocations, agreed on so that a rank that cannot make
    // them stops every rank here, before any read moves.
    mpi::on_every_rank(registry.communicator(), registry.rank(), "DistributedSimulation (the rank's tables)",
                       [&] { make_tables(); });
  }

  void make_tables() {
    start_clock_at_zero();
    table.emplace(static_cast<std::uint32_t>(config.keys), config.zipf_exponent);
    const std::uint64_t window = std::min(reads_per_tick, kReadsPerExchange);
    const auto slice = static_cast<std::size_t>(window / static_cast<std::uint64_t>(ranks()) + 1);
    keys.reserve(slice);
    read_times.reserve(slice);
  }

  int ranks() const noexcept { return registry.ranks(); }

  // A forward-decayed store (highway, thrust-omp, cuda, thrust: ARCHITECTURE
  // "forward decay") encodes its counters against a landmark instant set at
  // its first creation. The single-process run's first read, and so its
  // landmark, is at 0; a shard's first read comes later, and a different
  // landmark rounds differently, enough to tip ties at a threshold
  // (SEMANTICS.md "Numbers"). Creating and removing a key the workload never
  // reads (ranks are below 2^32) at 0 gives every shard that landmark, so the
  // counts agree exactly. No count changes: a removal is neither a prune
  // nor an eviction.
  void start_clock_at_zero() {
    constexpr std::uint64_t kOutsideTheWorkload = ~std::uint64_t{0};
    HeatRegistryOf<std::uint64_t>& shard = registry.local();
    shard.entry(kOutsideTheWorkload, config.half_life, instant_from_ns(0));
    shard.remove(kOutsideTheWorkload);
  }

  SimulationConfig config;
  std::uint64_t ticks;
  std::uint64_t reads_per_tick;
  Policy policy;
  DistributedHeatRegistry registry;
  std::optional<ZipfTable> table;

  std::uint64_t next_tick = 0;
  std::size_t counters_peak = 0;  // global
  std::uint64_t reads_generated = 0;
  SimulationCounts counts;        // this rank's
  RankTimes times;
  double wall_seconds = 0.0;

  void apply_reads(TickReport& report);

  // Scratch reused by every step.
  std::vector<std::uint64_t> keys;
  std::vector<Instant> read_times;
  Emissions candidates;
  Emissions committed;
};

// The tick's reads, one window per bump_batch: this rank draws its slice of
// the window, then the exchange routes every rank's slice to the owners.
void DistributedSimulation::State::apply_reads(TickReport& report) {
  const std::uint64_t tick = report.tick;
  const std::uint64_t n = reads_per_tick;
  const std::int64_t interval_ns = config.tick_interval.count();
  const ZipfTableView view = table->view();
  const ExchangeStats& exchange = registry.exchange_stats();
  const std::uint64_t applied_before = exchange.reads_applied;
  for (std::uint64_t first = 0; first < n; first += kReadsPerExchange) {
    const std::uint64_t window = std::min(kReadsPerExchange, n - first);
    const ReadSlice slice = read_slice(first, window, registry.rank(), ranks());
    const auto t0 = Clock::now();
    keys.resize(static_cast<std::size_t>(slice.count));
    read_times.resize(static_cast<std::size_t>(slice.count));
    draw_reads(view, config.seed, tick, slice.first, n, interval_ns, keys, read_times);
    const auto t1 = Clock::now();
    const double exchange_before = exchange.seconds;
    registry.bump_batch(keys, read_times, config.half_life);
    const auto t2 = Clock::now();
    const double in_mpi = exchange.seconds - exchange_before;
    report.times.read_generation += seconds_between(t0, t1);
    report.times.bump += seconds_between(t1, t2);
    times.reads += seconds_between(t0, t1);
    times.bump_exchange += in_mpi;
    times.bumps += seconds_between(t1, t2) - in_mpi;
    reads_generated += slice.count;
  }
  report.counts.reads = exchange.reads_applied - applied_before;
}

DistributedSimulation::DistributedSimulation(MPI_Comm comm, SimulationConfig config)
    : state_(std::make_unique<State>(comm, std::move(config))) {}
DistributedSimulation::~DistributedSimulation() = default;
DistributedSimulation::DistributedSimulation(DistributedSimulation&&) noexcept = default;
DistributedSimulation& DistributedSimulation::operator=(DistributedSimulation&&) noexcept = default;

const SimulationConfig& DistributedSimulation::config() const noexcept { return state_->config; }
std::uint64_t DistributedSimulation::ticks() const noexcept { return state_->ticks; }
std::uint64_t DistributedSimulation::ticks_done() const noexcept { return state_->next_tick; }
const DistributedHeatRegistry& DistributedSimulation::registry() const noexcept { return state_->registry; }

TickReport DistributedSimulation::step() {
  State& s = *state_;
  if (s.next_tick >= s.ticks) throw std::logic_error("DistributedSimulation::step: the run is finished");
  const auto step_start = Clock::now();
  const std::uint64_t tick = s.next_tick;
  HeatRegistryOf<std::uint64_t>& shard = s.registry.local();
  const RegistryStats stats_before = shard.stats();

  TickReport report;
  report.tick = tick;
  report.ticks = s.ticks;
  report.now_ns = tick_time_ns(tick, s.config.tick_interval.count());
  s.apply_reads(report);

  // The job's live counters after the reads (an MPI_Allreduce): the peak
  // the single-process run takes at the same point.
  s.counters_peak = std::max(s.counters_peak, s.registry.size());
  report.counters_ticked = shard.size();
  report.counts.counters_ticked = report.counters_ticked;

  // Each rank ticks its own counters and resolves its own candidates: the
  // rollbacks act on this rank (the owner), the commit sends only counts.
  const auto t0 = Clock::now();
  s.registry.tick(s.policy, instant_from_ns(report.now_ns), s.candidates);
  const auto t1 = Clock::now();
  s.committed.clear();
  for (const auto& candidate : s.candidates) {
    const bool emit = candidate.second.is_emit();
    if (commit_fails(s.config.seed, tick, candidate.first, s.config.commit_failure_rate)) {
      s.registry.rollback(candidate.first);
      ++(emit ? report.counts.emits_rolled_back : report.counts.withdrawals_rolled_back);
    } else {
      s.committed.push_back(candidate);
      ++(emit ? report.counts.emits_committed : report.counts.withdrawals_committed);
    }
  }
  const double exchange_before = s.registry.exchange_stats().seconds;
  s.registry.commit(s.committed);
  const double in_mpi = s.registry.exchange_stats().seconds - exchange_before;
  const RegistryStats& stats = shard.stats();
  report.counts.prunes = stats.pruned - stats_before.pruned;
  report.counts.evictions = stats.evictions - stats_before.evictions;
  const auto t2 = Clock::now();
  report.times.tick = seconds_between(t0, t1);
  report.times.commit = seconds_between(t1, t2);
  report.counters_live = shard.size();

  s.counts += report.counts;
  s.times.tick += report.times.tick;
  s.times.commit_exchange += in_mpi;
  s.times.commit += report.times.commit - in_mpi;
  s.wall_seconds += seconds_between(step_start, Clock::now());
  ++s.next_tick;
  return report;
}

DistributedSimulationSummary DistributedSimulation::summary() const {
  const State& s = *state_;
  const HeatRegistryOf<std::uint64_t>& shard = s.registry.local();
  const ExchangeStats& exchange = s.registry.exchange_stats();
  RankSummary mine;
  mine.rank = s.registry.rank();
  mine.reads_generated = s.reads_generated;
  mine.reads_applied = exchange.reads_applied;
  mine.counters_live = shard.size();
  mine.local_cap = s.registry.local_cap();
  mine.bytes_sent = exchange.bytes_sent;
  mine.bytes_received = exchange.bytes_received;
  mine.counts = s.counts;
  mine.times = s.times;
  mine.wall_seconds = s.wall_seconds;
  mine.memory = shard.memory_usage();

  static_assert(std::is_trivially_copyable_v<RankSummary>);
  DistributedSimulationSummary out;
  out.ranks.resize(static_cast<std::size_t>(s.ranks()));
  mpi::check(MPI_Allgather(&mine, sizeof mine, MPI_BYTE, out.ranks.data(), sizeof mine, MPI_BYTE,
                           s.registry.communicator()),
             "MPI_Allgather", mine.rank);

  SimulationSummary& total = out.total;
  total.config = s.config;
  total.ticks = s.ticks;
  total.reads_per_tick = s.reads_per_tick;
  total.backend = std::string(shard.backend());
  total.reads_path = {false, "sharded over " + std::to_string(s.ranks()) +
                                 " MPI ranks, each drawing its share and routing it to the keys' owners"};
  total.counters_peak = s.counters_peak;
  for (const RankSummary& rank : out.ranks) {
    total.counters_live += rank.counters_live;
    total.counts += rank.counts;
    const RankTimes& t = rank.times;
    total.times.read_generation = std::max(total.times.read_generation, t.reads);
    total.times.bump = std::max(total.times.bump, t.bumps + t.bump_exchange);
    total.times.tick = std::max(total.times.tick, t.tick);
    total.times.commit = std::max(total.times.commit, t.commit + t.commit_exchange);
    total.wall_seconds = std::max(total.wall_seconds, rank.wall_seconds);
    total.memory.columns += rank.memory.columns;
    total.memory.keys += rank.memory.keys;
    total.memory.index += rank.memory.index;
    total.memory.lru += rank.memory.lru;
    total.memory.other += rank.memory.other;
  }
  out.eviction_possible = eviction_possible(s.config, s.ranks());
  return out;
}

DistributedSimulationSummary run_distributed_simulation(MPI_Comm comm, const SimulationConfig& config) {
  DistributedSimulation simulation(comm, config);
  while (!simulation.finished()) simulation.step();
  return simulation.summary();
}

MemoryEstimate estimate_memory_per_rank(const SimulationConfig& config, int ranks) {
  SimulationConfig host = config;
  host.device_reads = false;
  MemoryEstimate e = estimate_memory(host);  // validates; the tables are every rank's
  const BackendInfo backend = backend_info(config.backend);

  // The hash spreads the counters evenly: a share within a few square roots.
  const auto n = static_cast<double>(std::max(ranks, 1));
  const double share = static_cast<double>(e.counters) / n;
  const auto counters = static_cast<std::size_t>(
      std::min(static_cast<double>(e.counters), std::ceil(share + 8.0 * std::sqrt(share) + 64.0)));
  const std::size_t local_cap =
      config.cap == 0 ? 0 : static_cast<std::size_t>(config.cap / static_cast<std::uint64_t>(n)) + 1;
  const RegistryMemoryEstimate registry =
      estimate_registry_memory<std::uint64_t>(counters, local_cap, backend.device_columns);

  // A tick's candidates, the committed list (grown by push_back) and the
  // commit's routing (24-byte wire records out and in, the received list).
  constexpr std::size_t kEmission = sizeof(Emissions::value_type);
  constexpr std::size_t kWireEmission = 24;
  const std::size_t commits = counters * kEmission + std::bit_ceil(counters) * kEmission +
                              counters * (2 * kWireEmission + kEmission);
  // A window: the rank's keys and times, its owners and packed reads
  // (16-byte (key, instant) records), and, at worst (one rank owning every
  // key read), the whole window received, applied where it lands.
  const std::uint64_t window = std::min(sim::reads_per_tick(config), kReadsPerExchange);
  const std::uint64_t slice = window / static_cast<std::uint64_t>(n) + 1;
  const auto reads = static_cast<std::size_t>(slice * (8 + 8 + 4 + 16) + window * 16);
  e.registry = registry.total() + commits + reads;
  return e;
}

}  // namespace heatkit::sim
