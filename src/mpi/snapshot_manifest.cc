#include "mpi/snapshot_manifest.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <set>
#include <string_view>

#include <heatkit/snapshot.h>

#include "snapshot/snapshot_file.h"
#include "snapshot/snapshot_io.h"

namespace heatkit::mpi {
namespace {

using snapshot::checksum;
using snapshot::get;
using snapshot::put;

constexpr std::array<char, 8> kManifestMagic = {'H', 'E', 'A', 'T', 'D', 'I', 'S', 'T'};
constexpr std::size_t kRankRecordBytes = 16;  // before the name
constexpr std::size_t kChecksumBytes = 8;

std::string origin_of(const std::string& source) { return "manifest " + source; }

[[noreturn]] void fail(SnapshotProblem problem, const std::string& source, const std::string& what) {
  snapshot::fail(problem, origin_of(source), what);
}

// The header's checks, in a snapshot reader's order (magic, checksum,
// version, key type, then the fields); returns the rank table's length.
std::uint64_t check_header(const std::byte* header, const std::string& source) {
  if (std::memcmp(header, kManifestMagic.data(), kManifestMagic.size()) != 0) {
    fail(SnapshotProblem::kNotASnapshot, source, "magic is not HEATDIST (not a distributed snapshot's manifest)");
  }
  if (get<std::uint64_t>(header + 56) != checksum(header, 56)) {
    fail(SnapshotProblem::kChecksum, source, "header checksum does not match (bytes 0-55 are damaged)");
  }
  if (const auto version = get<std::uint32_t>(header + 8); version != kManifestVersion) {
    fail(SnapshotProblem::kVersion, source,
         "version " + std::to_string(version) + "; this build reads version " + std::to_string(kManifestVersion));
  }
  if (const auto key_type = get<std::uint32_t>(header + 12); key_type != kU64Keys && key_type != kBlobKeys) {
    fail(SnapshotProblem::kKeyType, source,
         "key type " + std::to_string(key_type) + " is neither 1 (u64) nor 2 (blob32)");
  }
  const auto ranks = get<std::uint32_t>(header + 16);
  if (ranks == 0 || ranks > kMaxManifestRanks) {
    fail(SnapshotProblem::kInconsistent, source,
         "rank count " + std::to_string(ranks) + " is outside [1, " + std::to_string(kMaxManifestRanks) + "]");
  }
  if (get<std::uint32_t>(header + 20) != 0) {
    fail(SnapshotProblem::kInconsistent, source, "reserved bytes 20-23 are not 0");
  }
  const auto table = get<std::uint64_t>(header + 48);
  const std::uint64_t least = std::uint64_t{ranks} * (kRankRecordBytes + 1);
  const std::uint64_t most = std::uint64_t{ranks} * (kRankRecordBytes + kMaxRankFileName);
  if (table < least || table > most) {
    fail(SnapshotProblem::kInconsistent, source,
         "rank table length " + std::to_string(table) + " is outside [" + std::to_string(least) + ", " +
             std::to_string(most) + "] for " + std::to_string(ranks) + " ranks");
  }
  return table;
}

void check_name(const std::string& name, std::uint32_t rank, const std::string& source) {
  const bool bad = name == "." || name == ".." || name.find('/') != std::string::npos ||
                   name.find('\0') != std::string::npos;
  if (bad) {
    fail(SnapshotProblem::kInconsistent, source,
         "rank " + std::to_string(rank) + "'s file name is not a name in the manifest's folder");
  }
}

}  // namespace

std::uint64_t manifest_checksum(std::span<const std::byte> bytes) noexcept {
  return checksum(bytes.data(), bytes.size());
}

std::vector<std::byte> encode_manifest(const Manifest& m) {
  std::uint64_t table = 0;
  for (const RankFile& r : m.ranks) table += kRankRecordBytes + r.name.size();
  std::vector<std::byte> out(kManifestHeaderBytes + table + kChecksumBytes);
  std::byte* h = out.data();
  std::memcpy(h, kManifestMagic.data(), kManifestMagic.size());
  put<std::uint32_t>(h + 8, kManifestVersion);
  put<std::uint32_t>(h + 12, m.key_type);
  put<std::uint32_t>(h + 16, static_cast<std::uint32_t>(m.ranks.size()));
  put<std::uint32_t>(h + 20, 0);
  put<std::uint64_t>(h + 24, m.ownership_seed);
  put<std::uint64_t>(h + 32, m.cap);
  put<std::uint64_t>(h + 40, m.generation);
  put<std::uint64_t>(h + 48, table);
  put<std::uint64_t>(h + 56, checksum(h, 56));
  std::byte* at = h + kManifestHeaderBytes;
  for (const RankFile& r : m.ranks) {
    put<std::uint64_t>(at, r.bytes);
    put<std::uint32_t>(at + 8, static_cast<std::uint32_t>(r.name.size()));
    put<std::uint32_t>(at + 12, 0);
    std::memcpy(at + kRankRecordBytes, r.name.data(), r.name.size());
    at += kRankRecordBytes + r.name.size();
  }
  put<std::uint64_t>(at, checksum(h + kManifestHeaderBytes, table));
  return out;
}

Manifest decode_manifest(std::span<const std::byte> bytes, const std::string& source) {
  if (bytes.size() < kManifestHeaderBytes) {
    if (bytes.size() >= kManifestMagic.size() &&
        std::memcmp(bytes.data(), kManifestMagic.data(), kManifestMagic.size()) != 0) {
      fail(SnapshotProblem::kNotASnapshot, source, "magic is not HEATDIST (not a distributed snapshot's manifest)");
    }
    fail(SnapshotProblem::kTruncated, source,
         "ends inside the header (" + std::to_string(bytes.size()) + " of 64 bytes)");
  }
  const std::byte* h = bytes.data();
  const std::uint64_t table = check_header(h, source);
  const std::uint64_t whole = kManifestHeaderBytes + table + kChecksumBytes;
  if (bytes.size() < whole) {
    fail(SnapshotProblem::kTruncated, source,
         "ends inside the rank table (" + std::to_string(bytes.size()) + " of " + std::to_string(whole) + " bytes)");
  }
  if (bytes.size() > whole) {
    fail(SnapshotProblem::kInconsistent, source,
         std::to_string(bytes.size() - whole) + " bytes follow the rank table's checksum");
  }
  const std::byte* at = h + kManifestHeaderBytes;
  if (get<std::uint64_t>(at + table) != checksum(at, table)) {
    fail(SnapshotProblem::kChecksum, source, "rank table checksum does not match (the table is damaged)");
  }
  Manifest m;
  m.key_type = get<std::uint32_t>(h + 12);
  m.ownership_seed = get<std::uint64_t>(h + 24);
  m.cap = get<std::uint64_t>(h + 32);
  m.generation = get<std::uint64_t>(h + 40);
  const auto ranks = get<std::uint32_t>(h + 16);
  const std::byte* end = at + table;
  std::set<std::string> names;
  for (std::uint32_t r = 0; r < ranks; ++r) {
    if (static_cast<std::size_t>(end - at) < kRankRecordBytes) {
      fail(SnapshotProblem::kInconsistent, source, "rank table ends before rank " + std::to_string(r) + "'s record");
    }
    RankFile file;
    file.bytes = get<std::uint64_t>(at);
    const auto length = get<std::uint32_t>(at + 8);
    if (get<std::uint32_t>(at + 12) != 0) {
      fail(SnapshotProblem::kInconsistent, source, "rank " + std::to_string(r) + "'s reserved bytes are not 0");
    }
    if (length == 0 || length > kMaxRankFileName ||
        static_cast<std::size_t>(end - at) - kRankRecordBytes < length) {
      fail(SnapshotProblem::kInconsistent, source,
           "rank " + std::to_string(r) + "'s file name length " + std::to_string(length) +
               " is 0, past 1024 or past the table's end");
    }
    file.name.assign(reinterpret_cast<const char*>(at + kRankRecordBytes), length);
    check_name(file.name, r, source);
    if (!names.insert(file.name).second) {
      fail(SnapshotProblem::kInconsistent, source, "rank " + std::to_string(r) + "'s file name is another rank's");
    }
    at += kRankRecordBytes + length;
    m.ranks.push_back(std::move(file));
  }
  if (at != end) {
    fail(SnapshotProblem::kInconsistent, source,
         std::to_string(end - at) + " bytes of the rank table follow the last rank's record");
  }
  return m;
}

std::vector<std::byte> read_manifest_file(const std::filesystem::path& path) {
  snapshot::FileSource file(path);
  const std::string source = quoted_path(path);
  std::vector<std::byte> bytes(kManifestHeaderBytes);
  std::size_t got = 0;
  while (got < bytes.size()) {
    const std::size_t n = file.read(bytes.data() + got, bytes.size() - got);
    if (n == 0) break;
    got += n;
  }
  if (got < bytes.size()) {
    bytes.resize(got);
    decode_manifest(bytes, source);  // short of a header: throws (not a manifest, or truncated)
  }
  const std::uint64_t table = check_header(bytes.data(), source);
  const std::uint64_t whole = kManifestHeaderBytes + table + kChecksumBytes;
  if (file.size() != whole) {
    fail(file.size() < whole ? SnapshotProblem::kTruncated : SnapshotProblem::kInconsistent, source,
         std::to_string(file.size()) + " bytes; its header says " + std::to_string(whole));
  }
  bytes.resize(whole);
  file.read_exact(bytes.data() + kManifestHeaderBytes, whole - kManifestHeaderBytes, "the rank table");
  return bytes;
}

void write_manifest_file(const std::filesystem::path& path, std::span<const std::byte> bytes, bool* renamed) {
  *renamed = false;
  try {
    const auto write = [&](snapshot::ByteSink& sink) { sink.write(bytes.data(), bytes.size()); };
    snapshot::write_file_atomically(path, write);
  } catch (const SnapshotError&) {
    // The library's write fails after the rename only when the folder's flush
    // does: then `path` holds these bytes. Where it cannot be read to tell,
    // the new files are kept (a few stray files rather than a manifest
    // naming none).
    std::vector<std::byte> now;
    try {
      now = read_manifest_file(path);
      *renamed = now.size() == bytes.size() && std::memcmp(now.data(), bytes.data(), bytes.size()) == 0;
    } catch (const SnapshotError& unread) {
      std::error_code ignored;
      *renamed = unread.problem() == SnapshotProblem::kIo && std::filesystem::is_regular_file(path, ignored);
    }
    throw;
  }
}

std::string quoted_path(const std::filesystem::path& path) {
  std::string out = "'";  // appended, not "'" + ...: GCC 12 warns of that falsely (-Wrestrict)
  out += path.string();
  out += '\'';
  return out;
}

std::string rank_file_name(const std::filesystem::path& manifest, std::uint64_t generation, int rank) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(generation));
  return manifest.filename().string() + "." + hex + ".rank" + std::to_string(rank);
}

}  // namespace heatkit::mpi
