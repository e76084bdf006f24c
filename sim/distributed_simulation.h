// The simulation of sim/simulation.h sharded over the ranks of an MPI
// communicator (`mpirun -np N heatkit simulate`): one DistributedHeatRegistry
// (include/heatkit/distributed_registry.h), each rank generating its share
// of the global read stream with the same counter-based workload
// (sim/workload.h), the reads routed to their keys' owners.
//
// The global stream is cut into windows of kReadsPerExchange reads (a tick's
// reads in order; a tick with fewer reads is one window). Rank r of N draws
// reads [lo + r * len / N, lo + (r + 1) * len / N) of the window [lo, lo + len),
// and the window goes through one bump_batch, which applies the ranks'
// reads rank by rank: the concatenation is the window in order, and the
// windows go in order, so every owner sees its keys' reads in the global
// order. Where no rank can evict (cap 0, or each rank's share of the cap,
// about cap / N, at least the keys) every counter ends exactly as in the
// single-process run, and the counts are the same. Otherwise each rank
// evicts among its own keys at its share of the cap, which the keys it owns
// may exceed even where cap >= keys (the hash spreads them only about
// evenly), so the counts may differ.
//
// Reads are generated and applied on the host on every backend (no device
// read path); a device backend keeps each rank's counters on its GPU.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <heatkit/distributed_registry.h>
#include "sim/simulation.h"

namespace heatkit::sim {

// Global reads per bump_batch: each rank's scratch for a window (its keys and
// times, what it sends and, at worst, the whole window received) stays
// within a few tens of MiB whatever the rank count.
inline constexpr std::uint64_t kReadsPerExchange = std::uint64_t{1} << 20;

// The reads [first, first + count) of the window [window_first, window_first +
// window_reads) that rank `rank` of `ranks` draws (see the header comment).
struct ReadSlice {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};
ReadSlice read_slice(std::uint64_t window_first, std::uint64_t window_reads, int rank, int ranks) noexcept;

// Whether a rank of `ranks` may evict: the cap is set and the least share
// of it (cap / ranks, rounded down) is below the keys, any of which the
// rank might own.
bool eviction_possible(const SimulationConfig& config, int ranks) noexcept;

// A rank's wall-clock seconds by phase. Disjoint: together they are the
// rank's time in its steps.
struct RankTimes {
  double reads = 0.0;            // drawing the rank's reads (ranks, times)
  double bumps = 0.0;            // bump_batch outside MPI: packing by owner, applying what arrived
  double bump_exchange = 0.0;    // bump_batch inside MPI (ExchangeStats::seconds)
  double tick = 0.0;             // the rank's own tick
  double commit = 0.0;           // rollbacks and commit outside MPI
  double commit_exchange = 0.0;  // commit inside MPI
  double exchange() const noexcept { return bump_exchange + commit_exchange; }
};

// What one rank did. Trivially copyable: gathered to the root as bytes.
struct RankSummary {
  int rank = 0;
  std::uint64_t reads_generated = 0;  // reads of the global stream the rank drew
  std::uint64_t reads_applied = 0;    // reads it applied as their keys' owner (== counts.reads)
  std::uint64_t counters_live = 0;    // in its shard, at the end
  std::uint64_t local_cap = 0;        // its share of the cap (0 = unbounded)
  std::uint64_t bytes_sent = 0;       // ExchangeStats: on the wire to other ranks, headers included
  std::uint64_t bytes_received = 0;
  SimulationCounts counts;            // of the counters it owns
  RankTimes times;
  double wall_seconds = 0.0;          // its steps, setup excluded
  MemoryUsage memory;                 // its shard's, at the end
};

struct DistributedSimulationSummary {
  // The run as a whole, in the single-process summary's terms: counts and
  // counters summed over ranks (counters_peak is the most live counters in
  // the job after any tick's reads); each phase's time and the wall time the
  // slowest rank's (the ranks meet at every exchange, so the slowest sets
  // the pace); memory the shards' sum. reads_path says the reads were made
  // on the host.
  SimulationSummary total;
  // One per rank, in rank order.
  std::vector<RankSummary> ranks;
  bool eviction_possible = false;
};

// One sharded run, step by step. Every member but the accessors is
// collective over the communicator given to the constructor.
class DistributedSimulation {
 public:
  // Validates the config (every rank alike: InvalidSimulationConfig; a cap
  // below the rank count names the cap), makes the registry, then the
  // rank's Zipf table. A failure on some ranks is seen on all, before any
  // read moves: those ranks throw their own error (BackendUnavailable,
  // std::bad_alloc, ...), the others PeerRankFailed.
  DistributedSimulation(MPI_Comm comm, SimulationConfig config);
  ~DistributedSimulation();
  DistributedSimulation(DistributedSimulation&&) noexcept;
  DistributedSimulation& operator=(DistributedSimulation&&) noexcept;

  const SimulationConfig& config() const noexcept;
  std::uint64_t ticks() const noexcept;
  std::uint64_t ticks_done() const noexcept;
  bool finished() const noexcept { return ticks_done() == ticks(); }

  // Applies the next tick's reads (this rank's share, routed), ticks this
  // rank's counters, rolls back the failed candidates and commits the rest.
  // Returns this rank's part of the step (counters_ticked: its shard's).
  // Precondition: !finished().
  TickReport step();

  // Collective: the summary, the same on every rank (the ranks' figures
  // gathered to all with one MPI_Allgather, so any rank can print it).
  DistributedSimulationSummary summary() const;

  const DistributedHeatRegistry& registry() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs every step, then summary().
DistributedSimulationSummary run_distributed_simulation(MPI_Comm comm, const SimulationConfig& config);

// The host memory one rank of `ranks` needs at its largest (estimate_memory's
// terms): the whole Zipf table (every rank draws from every key), its share
// of the counters (counters / ranks, with slack for how the hash spreads
// them) in a registry at its share of the cap, and the scratch of one window
// (kReadsPerExchange). Throws as estimate_memory.
MemoryEstimate estimate_memory_per_rank(const SimulationConfig& config, int ranks);

}  // namespace heatkit::sim
