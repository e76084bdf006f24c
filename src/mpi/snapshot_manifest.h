// The manifest of a distributed snapshot (docs/SNAPSHOT_FORMAT.md,
// "Distributed snapshots"): which rank files make one snapshot, and what
// every rank must agree on to load them. Its bytes, the checks a reader makes
// and the file's atomic replacement; the collective steps are in
// distributed_snapshot.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace heatkit::mpi {

inline constexpr std::uint32_t kManifestVersion = 1;
inline constexpr std::size_t kManifestHeaderBytes = 64;
inline constexpr std::size_t kMaxRankFileName = 1024;  // bytes
inline constexpr std::uint32_t kMaxManifestRanks = 1u << 20;  // so a manifest stays below 2^31 bytes

// The key types, numbered as in a snapshot's header.
inline constexpr std::uint32_t kU64Keys = 1;
inline constexpr std::uint32_t kBlobKeys = 2;

struct RankFile {
  std::string name;         // in the manifest's folder
  std::uint64_t bytes = 0;  // the file's size
};

struct Manifest {
  std::uint32_t key_type = kU64Keys;
  std::uint64_t ownership_seed = 0;
  std::uint64_t cap = 0;  // global, as given (0 = unbounded)
  std::uint64_t generation = 0;
  std::vector<RankFile> ranks;  // in rank order
};

std::vector<std::byte> encode_manifest(const Manifest& manifest);
// XXH3-64 of `bytes`, as a snapshot's checksums.
std::uint64_t manifest_checksum(std::span<const std::byte> bytes) noexcept;

// Checks every rule of the format (SnapshotError naming `source` and the
// field: kNotASnapshot, kChecksum, kVersion, kKeyType, kTruncated or
// kInconsistent, in the order a snapshot's reader checks them).
Manifest decode_manifest(std::span<const std::byte> bytes, const std::string& source);

// The manifest file's bytes, read no further than its header says it
// reaches (SnapshotError: kIo, kTruncated, kInconsistent for trailing bytes,
// and what the header's checks give); not decoded past the header.
std::vector<std::byte> read_manifest_file(const std::filesystem::path& path);

// Replaces `path` atomically: a temporary file `.<name>.XXXXXX` in the same
// folder, written, flushed to disk and renamed over `path`, then the folder
// flushed. Throws SnapshotError (kIo); `*renamed` says whether `path` names
// the new bytes by then (only the folder's flush failed), so that the files
// it names are kept.
void write_manifest_file(const std::filesystem::path& path, std::span<const std::byte> bytes, bool* renamed);

// 'path', as messages name files.
std::string quoted_path(const std::filesystem::path& path);

// `<manifest's name>.<generation, 16 hex digits>.rank<rank>`.
std::string rank_file_name(const std::filesystem::path& manifest, std::uint64_t generation, int rank);

}  // namespace heatkit::mpi
