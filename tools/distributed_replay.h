// `heatkit replay` under mpirun: the trace replayed on a
// DistributedHeatRegistryOf sharded over the ranks of a communicator, printing
// (on rank 0) what tools/replay.h prints for the same trace, as long as no
// rank evicts: byte for byte on the scalar backend. A forward-decayed
// backend's store keeps one frame (landmark, ticks) for all its keys, so a
// shard may round a rate differently in the last bits from one process's
// store, within SEMANTICS.md "Numbers" (1e-12, as between backends).
//
// Every rank reads the same trace and runs every line:
//  - a run of consecutive `bump` lines goes through one bump_batch, split
//    into contiguous slices in trace order (the first slice on the lowest
//    rank): the owners apply each rank's reads in rank order, so every
//    owner sees its keys' reads in trace order, and the reads come from
//    every rank and cross the exchange;
//  - `touch`, `decay`, `rollback`, `remove` act at the key's owner (every
//    rank calls with the same key, the others do nothing);
//  - `tick` ticks every rank, gathers the candidates on rank 0, which prints
//    them sorted; each rank keeps its own as the last tick, and `commit`
//    commits (the named ones of) them through the collective commit;
//  - `get` and `len` are the registry's collective get and size.
// The cap is split over the ranks, each evicting among its own keys, so with
// evictions the answers can differ from one process's: rank 0 then warns once,
// at the end.
#pragma once

#if HEATKIT_HAVE_MPI

#include <mpi.h>

#include <functional>
#include <istream>
#include <ostream>
#include <stdexcept>

#include "tools/replay.h"

namespace heatkit::trace {

// The trace's cap is below the number of ranks: each rank needs a share of
// at least one counter. Every rank throws it alike, before any collective.
class CapBelowRanks : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct DistributedReplayOptions {
  ReplayOptions replay;  // backend (per rank) and max_cap, as for one process
  // Told whether a failure from here on is met by every rank alike (true:
  // reading and parsing a line, which every rank does on the same bytes) or
  // may be one rank's alone (false: running a line, which runs collectives
  // and per-rank backends). `heatkit` passes cli::set_errors_alike.
  std::function<void(bool alike)> errors_alike = [](bool) {};
  // Where rank 0 writes its warning about evictions; none: not written.
  std::ostream* warnings = nullptr;
};

// Collective over `comm`: replays the trace read from `in` on every rank;
// rank 0 writes the answers to `out` (the other ranks write nothing there).
// Throws like replay() (tools/replay.h): TraceError at the first malformed
// line and TraceReadError at a failed read, every rank alike, after running
// every line before it; CapBelowRanks before any line runs; what the
// registry throws (PeerRankFailed on the ranks that did not fail). Once
// rank 0's `out` fails, every rank stops reading.
void replay_distributed(std::istream& in, std::ostream& out, MPI_Comm comm,
                        const DistributedReplayOptions& options);

}  // namespace heatkit::trace

#endif  // HEATKIT_HAVE_MPI
