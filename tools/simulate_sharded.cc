// `heatkit simulate` under mpirun: the run sharded over the ranks
// (sim/distributed_simulation.h). Every rank parses the same options, so
// option errors are alike; checks a rank makes alone (its memory) and the
// collective setup are agreed on, so every rank reports the same one error
// (rank 0 prints it, exit 2 for a usage or backend error); once the ranks
// work on data a rank that fails reports itself and ends the job
// (tools/mpi_session.h).
#include <mpi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <heatkit/policy.h>
#include "sim/distributed_simulation.h"
#include "tools/command.h"
#include "tools/memory_budget.h"
#include "tools/mpi_session.h"
#include "tools/simulate_options.h"
#include "tools/simulate_report.h"

namespace heatkit::cli {
namespace {

using sim::SimulationConfig;

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

}  // namespace

int run_simulate_sharded(const SimulateOptions& options) {
  const MPI_Comm comm = world();
  const int ranks = world_size();
  const SimulationConfig config = to_config(options);  // the same on every rank: errors alike
  const int node_ranks = ranks_on_this_node(comm);
  const auto estimate = [&] { return sim::estimate_memory_per_rank(config, ranks).peak(); };
  std::optional<MemoryLimit> limit;
  std::optional<sim::DistributedSimulation> simulation;
  agree_on_every_rank(comm, [&] {
    with_cli_errors(
        [&] {
          limit = rank_memory_limit(options, node_ranks);
          check_memory_per_rank(config, options, ranks, limit);
        },
        estimate, limit);
  });
  agree_on_every_rank(comm, [&] {
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

}  // namespace heatkit::cli
