#include "mpi/distributed_snapshot.h"

#include <climits>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <heatkit/snapshot.h>

#include "mpi/mpi_call.h"
#include "mpi/snapshot_manifest.h"
#include "registry/key_hash.h"  // random_hash_seed

namespace heatkit::mpi {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSave = "DistributedHeatRegistry::save";
constexpr const char* kLoad = "DistributedHeatRegistry::load";

std::string quoted(const fs::path& path) { return quoted_path(path); }

const char* key_type_name(std::uint32_t key_type) { return key_type == kU64Keys ? "u64" : "blob32"; }

// Rank 0's bytes on every rank (a manifest: below 2^31 bytes).
void broadcast_bytes(const RankGroup& g, std::vector<std::byte>& bytes) {
  std::uint64_t n = bytes.size();
  check(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, g.comm), "MPI_Bcast", g.rank);
  bytes.resize(n);
  if (n != 0) check(MPI_Bcast(bytes.data(), static_cast<int>(n), MPI_BYTE, 0, g.comm), "MPI_Bcast", g.rank);
}

// The manifest a save replaces, or nothing when there is none or it cannot
// be read or is damaged: the save replaces it all the same, and the files
// it named stay where they are.
std::vector<std::byte> previous_manifest(const fs::path& path) {
  try {
    std::vector<std::byte> bytes = read_manifest_file(path);
    decode_manifest(bytes, quoted(path));
    return bytes;
  } catch (const SnapshotError&) {
    return {};
  }
}

std::uint64_t saved_size(const fs::path& file) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(file, error);
  if (error) {
    throw SnapshotError(SnapshotProblem::kIo,
                        "snapshot " + quoted(file) + ": saved, but its size cannot be read: " + error.message());
  }
  return size;
}

void remove_quietly(const fs::path& file) noexcept {
  std::error_code ignored;
  fs::remove(file, ignored);
}

// Each rank removes the file the previous manifest named for it; rank 0
// also those of ranks this job does not have. A name of the new generation
// is never removed (a manifest written by hand may name anything).
void remove_previous_files(const RankGroup& g, const Manifest& previous, const fs::path& manifest,
                           std::uint64_t generation) {
  const std::string current = rank_file_name(manifest, generation, 0);
  const std::string current_prefix = current.substr(0, current.size() - 1);  // up to "rank"
  const auto remove = [&](std::size_t r) {
    const std::string& name = previous.ranks[r].name;
    if (name.rfind(current_prefix, 0) != 0) remove_quietly(manifest.parent_path() / name);
  };
  const auto mine = static_cast<std::size_t>(g.rank);
  if (mine < previous.ranks.size()) remove(mine);
  if (g.rank == 0) {
    for (std::size_t r = static_cast<std::size_t>(g.size); r < previous.ranks.size(); ++r) remove(r);
  }
}

// A duplicate of the caller's communicator whose errors come back as codes.
class OwnedComm {
 public:
  explicit OwnedComm(MPI_Comm parent) {
    if (parent == MPI_COMM_NULL) {
      throw std::invalid_argument(std::string(kLoad) + ": the communicator is MPI_COMM_NULL");
    }
    int parent_rank = -1;
    if (MPI_Comm_rank(parent, &parent_rank) != MPI_SUCCESS) parent_rank = -1;
    check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup", parent_rank);
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", parent_rank);
  }
  ~OwnedComm() { MPI_Comm_free(&comm_); }
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  MPI_Comm get() const noexcept { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

}  // namespace

void save_distributed(const RankGroup& g, const DistributedIdentity& identity, const fs::path& manifest,
                      const std::function<void(const fs::path&)>& save_rank) {
  // 1. Rank 0 reads the manifest being replaced and draws a generation that
  //    differs from its, so that no new file has an old file's name.
  std::uint64_t generation = 0;
  std::vector<std::byte> previous_bytes;
  on_every_rank(g.comm, g.rank, kSave, [&] {
    if (manifest.filename().empty()) {
      throw SnapshotError(SnapshotProblem::kIo,
                          std::string(kSave) + ": " + quoted(manifest) + " names a folder, not a file");
    }
    if (g.rank != 0) return;
    previous_bytes = previous_manifest(manifest);
    std::optional<std::uint64_t> previous_generation;
    if (!previous_bytes.empty()) previous_generation = decode_manifest(previous_bytes, quoted(manifest)).generation;
    do {
      generation = random_hash_seed();
    } while (generation == previous_generation);
  });
  check(MPI_Bcast(&generation, 1, MPI_UINT64_T, 0, g.comm), "MPI_Bcast", g.rank);
  broadcast_bytes(g, previous_bytes);
  std::optional<Manifest> previous;
  if (!previous_bytes.empty()) previous = decode_manifest(previous_bytes, quoted(manifest));

  // 2. Every rank writes its file (atomically, as any snapshot); the new
  //    generation's files go again unless the manifest comes to name them.
  const fs::path file = manifest.parent_path() / rank_file_name(manifest, generation, g.rank);
  bool manifest_names_new_files = false;
  try {
    std::uint64_t bytes = 0;
    on_every_rank(g.comm, g.rank, kSave, [&] {
      save_rank(file);
      bytes = saved_size(file);
    });
    std::vector<std::uint64_t> sizes(g.rank == 0 ? static_cast<std::size_t>(g.size) : 0);
    check(MPI_Gather(&bytes, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, 0, g.comm), "MPI_Gather", g.rank);

    // 3. Every rank's file is whole: rank 0 replaces the manifest.
    int renamed = 0;
    std::exception_ptr manifest_error;
    if (g.rank == 0) {
      Manifest next{identity.key_type, identity.ownership_seed, identity.cap, generation, {}};
      for (int r = 0; r < g.size; ++r) {
        next.ranks.push_back({rank_file_name(manifest, generation, r), sizes[static_cast<std::size_t>(r)]});
      }
      bool done = false;
      try {
        write_manifest_file(manifest, encode_manifest(next), &done);
      } catch (...) {
        manifest_error = std::current_exception();
      }
      renamed = done ? 1 : 0;
    }
    check(MPI_Bcast(&renamed, 1, MPI_INT, 0, g.comm), "MPI_Bcast", g.rank);
    manifest_names_new_files = renamed != 0;
    on_every_rank(g.comm, g.rank, kSave, [&] {
      if (manifest_error) std::rethrow_exception(manifest_error);
    });
  } catch (const MpiError&) {
    if (!manifest_names_new_files) remove_quietly(file);
    throw;  // the ranks may be out of step: no other collective
  } catch (...) {
    // Every rank learnt of the failure alike: each waits for the others'
    // new files to be gone, so that none is left when save returns.
    if (!manifest_names_new_files) remove_quietly(file);
    MPI_Barrier(g.comm);
    throw;
  }

  // 4. The new manifest is on disk: the previous generation's files go (one
  //    that cannot be removed is a stray file, not a broken snapshot), all
  //    of them before save returns on any rank.
  if (previous) remove_previous_files(g, *previous, manifest, generation);
  check(MPI_Barrier(g.comm), "MPI_Barrier", g.rank);
}

RankSnapshot agree_on_manifest(MPI_Comm parent, const fs::path& manifest, std::uint32_t key_type) {
  const OwnedComm comm(parent);
  RankGroup g{comm.get(), 0, 1};
  check(MPI_Comm_rank(g.comm, &g.rank), "MPI_Comm_rank", -1);
  check(MPI_Comm_size(g.comm, &g.size), "MPI_Comm_size", g.rank);
  std::vector<std::byte> bytes;
  on_every_rank(g.comm, g.rank, kLoad, [&] {
    if (g.rank != 0) return;
    bytes = read_manifest_file(manifest);
    decode_manifest(bytes, quoted(manifest));
  });
  broadcast_bytes(g, bytes);
  const Manifest m = decode_manifest(bytes, quoted(manifest));  // as rank 0 checked it
  if (m.key_type != key_type) {
    throw SnapshotError(SnapshotProblem::kKeyType, std::string(kLoad) + ": manifest " + quoted(manifest) + " holds " +
                                                       key_type_name(m.key_type) + " keys; this registry's are " +
                                                       key_type_name(key_type));
  }
  if (m.ranks.size() != static_cast<std::size_t>(g.size)) {
    throw SnapshotError(SnapshotProblem::kInconsistent,
                        std::string(kLoad) + ": manifest " + quoted(manifest) + " was saved by " +
                            std::to_string(m.ranks.size()) + " ranks, this communicator has " +
                            std::to_string(g.size) + " (load it with " + std::to_string(m.ranks.size()) + ")");
  }
  const RankFile& mine = m.ranks[static_cast<std::size_t>(g.rank)];
  return {manifest.parent_path() / mine.name, mine.bytes, m.ownership_seed, m.cap};
}

void check_rank_file_size(const RankSnapshot& rank) {
  std::error_code error;
  const std::uintmax_t size = fs::file_size(rank.file, error);
  if (error) {
    throw SnapshotError(SnapshotProblem::kIo, "snapshot " + quoted(rank.file) + ": cannot open: " + error.message());
  }
  if (size != rank.bytes) {
    throw SnapshotError(size < rank.bytes ? SnapshotProblem::kTruncated : SnapshotProblem::kInconsistent,
                        "snapshot " + quoted(rank.file) + ": " + std::to_string(size) +
                            " bytes, the manifest says " + std::to_string(rank.bytes));
  }
}

}  // namespace heatkit::mpi
