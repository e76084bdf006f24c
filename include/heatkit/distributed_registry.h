// A heat registry sharded across the ranks of an MPI communicator
// (docs/ARCHITECTURE.md "Past one machine"): each key belongs to one rank,
// chosen by a keyed hash whose secret every rank agrees on at construction;
// each rank keeps its keys in a HeatRegistryOf<Key> of its own (any backend).
// Link heatkit::mpi (built when CMake finds MPI: HEATKIT_ENABLE_MPI).
//
// Which members are collective (every rank of the communicator calls them, in
// the same order, or the job hangs as with any MPI collective) is said at
// each. A failure on one rank before a collective's data moves (a bad
// argument, a failed allocation) is seen by every rank: that rank throws its
// own error, the others PeerRankFailed naming it (where several ranks fail,
// the lowest of them throws its own error and the rest PeerRankFailed). A failure after the data
// moved (while a rank applies what it received) leaves the ranks out of step:
// end the job (abort_job; `heatkit` does).
//
// Not thread-safe, like HeatRegistryOf; MPI needs only MPI_THREAD_SERIALIZED
// or less when one thread drives the registry.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <heatkit/heat_counter.h>
#include <heatkit/policy.h>
#include <heatkit/registry.h>
#include <heatkit/snapshot.h>
#include <heatkit/time.h>

namespace heatkit {

// An MPI call returned an error: names the call, the rank that made it and
// MPI's own text for the code.
class MpiError : public std::runtime_error {
 public:
  MpiError(std::string call, int rank, int code);
  const std::string& call() const noexcept { return call_; }
  int rank() const noexcept { return rank_; }
  int code() const noexcept { return code_; }

 private:
  std::string call_;
  int rank_;
  int code_;
};

// A collective call failed on another rank before any data moved (that rank
// throws the reason itself; this rank may have failed too, for a reason the
// lower rank's error most likely shares); no rank's registry was changed.
class PeerRankFailed : public std::runtime_error {
 public:
  PeerRankFailed(std::string_view call, int rank, int failed_rank);
  int failed_rank() const noexcept { return failed_rank_; }

 private:
  int failed_rank_;
};

// What this rank's exchanges moved, for reports. Bytes are counted on the
// wire between ranks (what a rank sends itself is not), headers included.
struct ExchangeStats {
  std::uint64_t exchanges = 0;       // collective calls that routed data
  std::uint64_t reads_routed = 0;    // reads this rank gave bump_batch
  std::uint64_t reads_applied = 0;   // reads this rank applied as their owner
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  double seconds = 0.0;              // wall time inside the exchanges' MPI calls
};

template <RegistryKey Key>
class DistributedHeatRegistryOf {
 public:
  using key_type = Key;
  using Emissions = std::vector<std::pair<Key, HeatEmission>>;

  // Collective. Duplicates `comm` (the registry's messages never meet the
  // caller's). `options` is the same on every rank (checked: cap, in-flight
  // tracking, hash_seed and the key type; std::invalid_argument on every
  // rank naming the field and the ranks that differ):
  //  - cap is global: rank r keeps at most cap / N counters, one more when
  //    r < cap % N, with exact LRU among its own keys (a rank at its cap
  //    evicts its own least recently updated key, not the job's); 0 is
  //    unbounded; a cap below the rank count is refused;
  //  - hash_seed is the ownership secret; unset, rank 0 draws one and sends
  //    it to the others. Each rank's own index has a secret of its own
  //    (derived from hash_seed when that is set, so runs repeat);
  //  - backend, threads, bump_queue act per rank (they may differ). A device
  //    backend uses the GPU of the rank's local rank (its rank among the
  //    ranks of its node) modulo the node's GPUs: run one rank per GPU.
  // Throws what HeatRegistryOf's constructor throws, MpiError, PeerRankFailed.
  DistributedHeatRegistryOf(MPI_Comm comm, RegistryOptions options = {});
  DistributedHeatRegistryOf(DistributedHeatRegistryOf&&) noexcept;
  DistributedHeatRegistryOf& operator=(DistributedHeatRegistryOf&&) noexcept;
  // Frees the duplicated communicator (MPI_Comm_free is collective in
  // principle; Open MPI and MPICH do not block on it); after MPI_Finalize,
  // frees nothing.
  ~DistributedHeatRegistryOf();

  int rank() const noexcept;
  int ranks() const noexcept;
  // The registry's own duplicate of the communicator it was made with.
  MPI_Comm communicator() const noexcept;
  // The rank that owns `key`, the same on every rank.
  int owner(const Key& key) const noexcept;
  bool owns(const Key& key) const noexcept { return owner(key) == rank(); }
  std::uint64_t ownership_seed() const noexcept;
  std::size_t cap() const noexcept;        // the global cap
  std::size_t local_cap() const noexcept;  // this rank's share

  // This rank's shard: the keys it owns. Read it freely (get, for_each,
  // stats, memory_usage); a change made through it bypasses ownership, so
  // bump only keys this rank owns.
  HeatRegistryOf<Key>& local() noexcept;
  const HeatRegistryOf<Key>& local() const noexcept;

  // Collective. Bumps keys[i] at times[i] (any keys, any number, any
  // instants; keys.size() == times.size()), each at its owner, in one
  // MPI_Alltoallv. The order: a key's owner applies the reads it receives
  // rank by rank (rank 0's first), each rank's in its own order, as a
  // single HeatRegistryOf would apply the concatenation of every rank's
  // batch, rank by rank: where no rank evicts, every counter ends as it
  // would there. Creations use each calling rank's own half_life. Throws
  // std::invalid_argument (negative half-life, sizes differ, more than
  // 2^31 - 1 reads for one rank) on that rank, PeerRankFailed elsewhere.
  void bump_batch(std::span<const Key> keys, std::span<const Instant> times, Duration half_life);
  // The same with every read at `now`.
  void bump_batch(std::span<const Key> keys, Duration half_life, Instant now);

  // Collective in that every rank calls it, but sends nothing: each rank
  // decays and gates its own counters (the tick's state is per counter) and
  // gets its own candidates, in its shard's slot order. Throws InvalidPolicy.
  Emissions tick(const Policy& policy, Instant now);
  void tick(const Policy& policy, Instant now, Emissions& out);

  // Collective. Each emission goes to its key's owner (one MPI_Alltoallv),
  // which records them (rank 0's first) and then prunes, as
  // HeatRegistryOf::commit. A rank that commits only its own candidates
  // sends nothing to the others but the counts.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions);

  // Collective. Every rank's `emissions`, concatenated rank by rank, on
  // `root` (empty elsewhere).
  Emissions gather(std::span<const std::pair<Key, HeatEmission>> emissions, int root) const;

  // Collective: live counters on every rank (an MPI_Allreduce).
  std::size_t size() const;
  // Collective: every rank passes the same key and gets its counter, read
  // by its owner (an MPI_Bcast from it).
  std::optional<HeatCounter> get(const Key& key) const;

  // Not collective: each acts where `key` is owned and does nothing on any
  // other rank, so every rank may call it with the same key, or the owner
  // alone. Each returns whether this rank owns the key.
  bool rollback(const Key& key);                              // clears the in-flight mark
  bool remove(const Key& key);                                // drops the counter
  bool touch(const Key& key, Duration half_life, Instant now);  // get-or-create, no bump
  bool decay(const Key& key, Instant now);                    // decays a present counter to now

  const ExchangeStats& exchange_stats() const noexcept;

  // Snapshots (docs/SNAPSHOT_FORMAT.md, "Distributed snapshots").
  //
  // Collective. Each rank saves local() to a file of its own beside `path`
  // (`<path>.<generation>.rank<r>`, a fresh generation per save), and once
  // every rank's is whole rank 0 replaces the manifest at `path`, which
  // names them with the ownership secret and the cap; then the files of the
  // save before go. A crash at any moment leaves the previous manifest with
  // its files or the new one with its files. Where ranks do not share a
  // file system, each rank's file is on its own and rank 0 holds the
  // manifest. Changes nothing. Throws, on every rank, SnapshotError naming
  // the rank that failed and why (the new files are then removed and the
  // previous snapshot stays as it was), MpiError, PeerRankFailed. The files
  // hold the ownership secret: keep them as private as the job.
  void save(const std::filesystem::path& path) const;
  // Collective. The registry a save left at `path`, over `comm`: rank 0
  // reads and checks the manifest and sends it to every rank, and each rank
  // loads its own file, as HeatRegistryOf::load (nothing in flight; its
  // share of the cap and in-flight tracking as saved). The ownership secret
  // and the cap are the manifest's (options.cap, track_in_flight and
  // hash_seed are not used); backend, threads and bump_queue are the
  // options', per rank. The communicator must have as many ranks as saved
  // (SnapshotError kInconsistent naming both counts). Throws, on every rank,
  // SnapshotError naming the rank whose file is missing, damaged or not
  // the manifest's, and what the constructor throws.
  static DistributedHeatRegistryOf load(MPI_Comm comm, const std::filesystem::path& path,
                                        RegistryOptions options = {});

 private:
  struct Impl;
  explicit DistributedHeatRegistryOf(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

extern template class DistributedHeatRegistryOf<std::uint64_t>;
extern template class DistributedHeatRegistryOf<BlobKey>;

using DistributedHeatRegistry = DistributedHeatRegistryOf<std::uint64_t>;
using DistributedBlobHeatRegistry = DistributedHeatRegistryOf<BlobKey>;

// Ends every rank of `comm`'s job: prints "error: rank R of N: WHAT" on
// standard error and calls MPI_Abort(comm, status). For an error on one
// rank that the others cannot learn of (the ranks are out of step).
[[noreturn]] void abort_job(MPI_Comm comm, std::string_view what, int status);

}  // namespace heatkit
