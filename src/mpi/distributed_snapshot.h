// The collective steps of DistributedHeatRegistryOf::save and load
// (docs/SNAPSHOT_FORMAT.md, "Distributed snapshots"), apart from the key
// type: the registry hands in how to save or load its own rank's file.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <functional>

namespace heatkit::mpi {

// The ranks of the registry's own communicator.
struct RankGroup {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
};

// What every rank's file belongs to, besides the files.
struct DistributedIdentity {
  std::uint32_t key_type = 0;  // as a snapshot header's
  std::uint64_t ownership_seed = 0;
  std::uint64_t cap = 0;
};

// Collective. Every rank saves its file through `save_rank` (named with a
// fresh generation), the ranks agree that all did, rank 0 replaces the
// manifest at `manifest`, and then each rank removes the file the previous
// manifest named for it. On a failure anywhere every rank throws (a
// SnapshotError naming the rank, MpiError, PeerRankFailed) and the new
// generation's files are removed; the previous manifest and files stay.
void save_distributed(const RankGroup& group, const DistributedIdentity& identity,
                      const std::filesystem::path& manifest,
                      const std::function<void(const std::filesystem::path&)>& save_rank);

// This rank's part of a distributed snapshot.
struct RankSnapshot {
  std::filesystem::path file;
  std::uint64_t bytes = 0;  // the file's size, as the manifest says
  std::uint64_t ownership_seed = 0;
  std::uint64_t cap = 0;
};

// Collective over `parent` (a duplicate of it). Rank 0 reads and checks the
// manifest and sends it to every rank; each rank refuses another key type or
// rank count alike. Throws SnapshotError on every rank.
RankSnapshot agree_on_manifest(MPI_Comm parent, const std::filesystem::path& manifest, std::uint32_t key_type);

// SnapshotError unless `rank`'s file has the size the manifest gave it.
void check_rank_file_size(const RankSnapshot& rank);

}  // namespace heatkit::mpi
