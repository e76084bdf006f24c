// Snapshots: a registry's state in a file or a stream, to restart without
// losing heat (docs/SNAPSHOT_FORMAT.md holds the format).
//
// HeatRegistry::save(path) writes every live counter (its key, rate at its
// last update, last update, last emission, half-life), the eviction order,
// the free slots and the statistics; HeatRegistry::load(path, options)
// builds a registry that answers every later operation as the saved one
// would have, on any backend, except that no counter is in flight: a
// restarted process has lost the announcements it had in flight, so the
// next tick returns them again.
//
// A file is replaced atomically (a temporary file in the same folder,
// written, flushed to disk and renamed over the old one, then the folder
// flushed): a crash at any moment leaves the old snapshot or the new one,
// whole. Every byte is checksummed (XXH3-64 per block of at most 1 MiB) and
// checked before it is used; a damaged, truncated or foreign file is refused
// with a SnapshotError and nothing is loaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <heatkit/registry.h>

namespace heatkit {

// What is wrong with a snapshot (SnapshotError::problem()).
enum class SnapshotProblem {
  kIo,              // the file or stream could not be opened, read, written or flushed
  kNotASnapshot,    // the magic bytes are not heatkit's
  kVersion,         // a format version this build does not read
  kKeyType,         // the snapshot's keys are not the registry's key type
  kRegistryKind,    // a single registry's snapshot where a sharded one is wanted, or the reverse
  kTruncated,       // the data ends before the snapshot does
  kChecksum,        // a block or header whose checksum does not match: damaged
  kInconsistent,    // checksums match but the contents contradict each other or the format
};

// The name of a problem ("checksum", "truncated", ...).
std::string_view problem_name(SnapshotProblem problem) noexcept;

// A snapshot could not be written or read. what() names the file (or
// "stream"), the section or field at fault and what was expected.
class SnapshotError : public std::runtime_error {
 public:
  SnapshotError(SnapshotProblem problem, const std::string& message);
  SnapshotProblem problem() const noexcept { return problem_; }

 private:
  SnapshotProblem problem_;
};

// What a snapshot holds, read by inspect_snapshot (which verifies every
// checksum on the way).
struct SnapshotInfo {
  std::uint32_t version = 0;
  std::string key_type;          // "u64" or "blob32"
  std::size_t shards = 0;        // 1 for a single registry
  std::size_t counters = 0;      // live counters, all shards
  std::size_t slots = 0;         // slots handed out (live and free), all shards
  std::size_t cap = 0;           // the saved registry's cap (0 = unbounded)
  bool tracks_in_flight = false;
  RegistryStats stats;           // summed over shards
  std::int64_t earliest_update = 0;  // smallest last_update (0 when no counters)
  std::int64_t latest_update = 0;    // largest last_update
  std::size_t application_bytes = 0;  // the caller's own section (0: none)
  std::vector<std::byte> application;  // its bytes (at most kMaxApplicationBytes)
  std::uint64_t bytes = 0;       // the snapshot's size
};

// Reads a whole snapshot, verifying every checksum and every rule a load
// checks except those of the options (cap, backend). Throws SnapshotError.
SnapshotInfo inspect_snapshot(const std::filesystem::path& path);
SnapshotInfo inspect_snapshot(std::istream& in);

// The application section of a snapshot: bytes of the caller's own (up to
// kMaxApplicationBytes, std::length_error past it), saved and checksummed
// with the registry and given back by load. `heatkit simulate` keeps its
// run's progress there.
inline constexpr std::size_t kMaxApplicationBytes = std::size_t{1} << 20;

}  // namespace heatkit
