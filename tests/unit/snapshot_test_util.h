// What the snapshot fault tests and the loader's fuzz target share:
//  - snapshot_format: a second, independent reading of
//    docs/SNAPSHOT_FORMAT.md, to split a snapshot into its header and
//    sections, change a field and put it back together with correct
//    checksums, so that a test can hand the library a file damaged in
//    exactly one chosen way. Written from the format page, not from the
//    library's reader, so that both must agree with the page.
//  - snapshot_samples: small registries that have been through everything
//    a snapshot holds, and one call that reads bytes with any reader.
//  - ChildProcess, ScratchFolder: forked children (killed, limited or
//    another user) and throw-away folders.
//
// No GoogleTest here: the fuzz target includes this header too. Malformed
// input to decode() throws std::runtime_error (the test then fails).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <fstream>
#include <iterator>
#include <filesystem>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <heatkit/heatkit.h>

// The checksum the format names, compiled into the test itself (the library
// links its own copy; inlining keeps the two apart and needs no link flag).
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace heatkit::test::snapshot_format {

// Bytes of a snapshot are held as std::string: they go straight into
// std::istringstream and files.
using Bytes = std::string;

inline constexpr std::size_t kFileHeaderBytes = 32;
inline constexpr std::size_t kSectionHeaderBytes = 24;  // tag, reserved, length, checksum
inline constexpr std::size_t kChecksumBytes = 8;
inline constexpr std::size_t kBlockBytes = std::size_t{1} << 20;
inline constexpr std::string_view kMagic = "HEATSNAP";

// The file header's fields and their offsets.
inline constexpr std::size_t kVersionOffset = 8;
inline constexpr std::size_t kKeyTypeOffset = 12;
inline constexpr std::size_t kKindOffset = 16;
inline constexpr std::size_t kSectionCountOffset = 20;
inline constexpr std::size_t kHeaderChecksumOffset = 24;

inline constexpr std::uint32_t kKeyTypeU64 = 1;
inline constexpr std::uint32_t kKeyTypeBlob32 = 2;
inline constexpr std::uint32_t kKindSingle = 1;
inline constexpr std::uint32_t kKindSharded = 2;

// REGI's fields (64 bytes).
inline constexpr std::size_t kRegiLive = 0;
inline constexpr std::size_t kRegiSlots = 8;
inline constexpr std::size_t kRegiCap = 16;
inline constexpr std::size_t kRegiEvictions = 24;
inline constexpr std::size_t kRegiPruned = 32;
inline constexpr std::size_t kRegiReseeds = 40;
inline constexpr std::size_t kRegiFlags = 48;
inline constexpr std::size_t kRegiReserved = 52;
inline constexpr std::size_t kRegiBytes = 64;

// SHRD's fields (24 bytes).
inline constexpr std::size_t kShrdCount = 0;
inline constexpr std::size_t kShrdReserved = 4;
inline constexpr std::size_t kShrdSecret = 8;
inline constexpr std::size_t kShrdCap = 16;

inline std::uint64_t checksum(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

template <class T>
T read_le(std::string_view bytes, std::size_t offset) {
  if (offset + sizeof(T) > bytes.size()) throw std::runtime_error("read past the end of the bytes");
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));  // x86-64 and aarch64: little-endian
  return value;
}

template <class T>
void write_le(Bytes& bytes, std::size_t offset, T value) {
  if (offset + sizeof(T) > bytes.size()) throw std::runtime_error("write past the end of the bytes");
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template <class T>
void append_le(Bytes& bytes, T value) {
  bytes.append(reinterpret_cast<const char*>(&value), sizeof(T));
}

struct Section {
  std::string tag;  // 4 ASCII characters
  std::uint32_t reserved = 0;
  Bytes payload;
};

struct Snapshot {
  std::uint32_t version = 1;
  std::uint32_t key_type = kKeyTypeU64;
  std::uint32_t kind = kKindSingle;
  std::optional<std::uint32_t> section_count;  // unset: sections.size()
  std::vector<Section> sections;

  std::size_t key_bytes() const { return key_type == kKeyTypeBlob32 ? 32 : 8; }
  std::size_t record_bytes() const { return key_bytes() + 40; }

  // The nth section tagged `tag` (shards repeat REGI, FREE, CNTR, ORDR).
  Section& section(std::string_view tag, std::size_t nth = 0) {
    for (Section& s : sections) {
      if (s.tag == tag && nth-- == 0) return s;
    }
    throw std::runtime_error("no such section: " + std::string(tag));
  }
};

inline Bytes encode_file_header(const Snapshot& snapshot) {
  Bytes header(kMagic);
  append_le<std::uint32_t>(header, snapshot.version);
  append_le<std::uint32_t>(header, snapshot.key_type);
  append_le<std::uint32_t>(header, snapshot.kind);
  append_le<std::uint32_t>(header, snapshot.section_count.value_or(
                                       static_cast<std::uint32_t>(snapshot.sections.size())));
  append_le<std::uint64_t>(header, checksum(header));
  return header;
}

// A section's bytes with the checksums the format asks for; `length`
// overrides the payload's length in its header (a crafted length).
inline Bytes encode_section(const Section& section, std::optional<std::uint64_t> length = {}) {
  if (section.tag.size() != 4) throw std::runtime_error("a tag is 4 bytes");
  Bytes bytes(section.tag);
  append_le<std::uint32_t>(bytes, section.reserved);
  append_le<std::uint64_t>(bytes, length.value_or(section.payload.size()));
  append_le<std::uint64_t>(bytes, checksum(bytes));
  for (std::size_t at = 0; at < section.payload.size(); at += kBlockBytes) {
    const std::string_view block =
        std::string_view(section.payload).substr(at, kBlockBytes);
    bytes.append(block);
    append_le<std::uint64_t>(bytes, checksum(block));
  }
  return bytes;
}

inline Bytes encode(const Snapshot& snapshot) {
  Bytes bytes = encode_file_header(snapshot);
  for (const Section& section : snapshot.sections) bytes += encode_section(section);
  return bytes;
}

// Where one section lies in a file.
struct SectionLayout {
  std::string tag;
  std::size_t header_offset = 0;
  std::uint64_t length = 0;
  // Each block's first byte; its checksum follows its bytes.
  std::vector<std::size_t> block_offsets;
  std::vector<std::size_t> block_lengths;
  std::size_t end = 0;  // one past the last block's checksum
};

// The sections of a whole, well-formed file, by its header's section count.
inline std::vector<SectionLayout> layout(std::string_view file) {
  if (file.size() < kFileHeaderBytes || file.substr(0, 8) != kMagic) {
    throw std::runtime_error("not a snapshot file header");
  }
  const auto count = read_le<std::uint32_t>(file, kSectionCountOffset);
  std::vector<SectionLayout> sections;
  std::size_t at = kFileHeaderBytes;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (at + kSectionHeaderBytes > file.size()) throw std::runtime_error("section header cut");
    SectionLayout s;
    s.tag = std::string(file.substr(at, 4));
    s.header_offset = at;
    s.length = read_le<std::uint64_t>(file, at + 8);
    at += kSectionHeaderBytes;
    for (std::uint64_t done = 0; done < s.length; done += kBlockBytes) {
      const std::size_t block = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockBytes, s.length - done));
      if (at + block + kChecksumBytes > file.size()) throw std::runtime_error("section payload cut");
      s.block_offsets.push_back(at);
      s.block_lengths.push_back(block);
      at += block + kChecksumBytes;
    }
    s.end = at;
    sections.push_back(std::move(s));
  }
  return sections;
}

// A whole, well-formed file split into its parts (checksums not verified:
// the library's saves are the input; the tests check the library's reader).
inline Snapshot decode(std::string_view file) {
  Snapshot snapshot;
  snapshot.version = read_le<std::uint32_t>(file, kVersionOffset);
  snapshot.key_type = read_le<std::uint32_t>(file, kKeyTypeOffset);
  snapshot.kind = read_le<std::uint32_t>(file, kKindOffset);
  const std::vector<SectionLayout> sections = layout(file);
  if (sections.empty() ? file.size() != kFileHeaderBytes : sections.back().end != file.size()) {
    throw std::runtime_error("bytes after the last section");
  }
  for (const SectionLayout& s : sections) {
    Section section;
    section.tag = s.tag;
    section.reserved = read_le<std::uint32_t>(file, s.header_offset + 4);
    for (std::size_t b = 0; b < s.block_offsets.size(); ++b) {
      section.payload.append(file.substr(s.block_offsets[b], s.block_lengths[b]));
    }
    snapshot.sections.push_back(std::move(section));
  }
  return snapshot;
}

// One CNTR record, as the format lays it out.
struct CounterRecord {
  Bytes key;  // 8 or 32 bytes
  std::uint32_t slot = 0;
  std::uint32_t flags = 0;
  double rate = 0;
  std::int64_t last_update = 0;
  double last_emitted = 0;
  std::int64_t half_life = 0;
};

inline std::vector<CounterRecord> counter_records(const Snapshot& snapshot, const Section& cntr) {
  const std::size_t k = snapshot.key_bytes(), size = snapshot.record_bytes();
  if (cntr.payload.size() % size != 0) throw std::runtime_error("CNTR is not whole records");
  std::vector<CounterRecord> records;
  const std::string_view p = cntr.payload;
  for (std::size_t at = 0; at < p.size(); at += size) {
    CounterRecord r;
    r.key = Bytes(p.substr(at, k));
    r.slot = read_le<std::uint32_t>(p, at + k);
    r.flags = read_le<std::uint32_t>(p, at + k + 4);
    r.rate = read_le<double>(p, at + k + 8);
    r.last_update = read_le<std::int64_t>(p, at + k + 16);
    r.last_emitted = read_le<double>(p, at + k + 24);
    r.half_life = read_le<std::int64_t>(p, at + k + 32);
    records.push_back(std::move(r));
  }
  return records;
}

inline Bytes encode_counter_records(const std::vector<CounterRecord>& records) {
  Bytes payload;
  for (const CounterRecord& r : records) {
    payload += r.key;
    append_le(payload, r.slot);
    append_le(payload, r.flags);
    append_le(payload, r.rate);
    append_le(payload, r.last_update);
    append_le(payload, r.last_emitted);
    append_le(payload, r.half_life);
  }
  return payload;
}

// ORDR's and FREE's payload: u32 slots.
inline std::vector<std::uint32_t> slot_list(const Section& section) {
  if (section.payload.size() % 4 != 0) throw std::runtime_error(section.tag + " is not whole u32s");
  std::vector<std::uint32_t> slots(section.payload.size() / 4);
  std::memcpy(slots.data(), section.payload.data(), section.payload.size());
  return slots;
}

inline Bytes encode_slot_list(const std::vector<std::uint32_t>& slots) {
  Bytes payload(slots.size() * 4, '\0');
  std::memcpy(payload.data(), slots.data(), payload.size());
  return payload;
}

inline Bytes read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// Recomputes every checksum the bytes hold room for, following the lengths
// they declare, as far as the bytes go: any input becomes one whose
// checksums match, so that changes reach the checks behind the checksums.
inline void repair_checksums(Bytes& bytes) {
  if (bytes.size() < kFileHeaderBytes) return;
  write_le(bytes, kHeaderChecksumOffset, checksum(std::string_view(bytes).substr(0, 24)));
  const auto count = read_le<std::uint32_t>(bytes, kSectionCountOffset);
  std::size_t at = kFileHeaderBytes;
  for (std::uint32_t i = 0; i < count && at + kSectionHeaderBytes <= bytes.size(); ++i) {
    write_le(bytes, at + 16, checksum(std::string_view(bytes).substr(at, 16)));
    const auto length = read_le<std::uint64_t>(bytes, at + 8);
    at += kSectionHeaderBytes;
    for (std::uint64_t done = 0; done < length; done += kBlockBytes) {
      const auto block = static_cast<std::size_t>(std::min<std::uint64_t>(kBlockBytes, length - done));
      if (at + block + kChecksumBytes > bytes.size()) return;
      write_le(bytes, at + block, checksum(std::string_view(bytes).substr(at, block)));
      at += block + kChecksumBytes;
    }
  }
}

}  // namespace heatkit::test::snapshot_format

namespace heatkit::test::snapshot_samples {

using snapshot_format::Bytes;

// A well-spread key of either type for index i.
template <class Key>
Key sample_key(std::uint64_t i) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return XXH3_64bits_withSeed(&i, sizeof i, 0x6b6579);
  } else {
    Key key{};
    for (std::uint64_t word = 0; word < 4; ++word) {
      const std::uint64_t bits = XXH3_64bits_withSeed(&i, sizeof i, word + 1);
      std::memcpy(key.data() + 8 * word, &bits, 8);
    }
    return key;
  }
}

inline Instant sample_start() { return instant_from_ns(1'000'000'000'000); }

// Options whose registries never start the shared thread pool (threads = 1),
// so they may be used in a forked child, and whose counters are kept
// literally (scalar), so a loaded registry reads exactly what was saved.
inline RegistryOptions exact_options(std::size_t cap = 0) {
  RegistryOptions options;
  options.cap = cap;
  options.backend = "scalar";
  options.threads = 1;
  options.hash_seed = 0x5eed'5eed;
  return options;
}

// A registry that has been through everything a snapshot holds: `counters`
// creations at a cap of 3/4 of them (evictions), three half-lives, a tick
// whose emissions are committed (last_emitted set), re-bumps of every
// other key (an eviction order other than the slot order) and removals of
// every fifth (free slots).
template <class Registry>
void fill_sample(Registry& registry, std::size_t counters) {
  using Key = typename Registry::key_type;
  const Instant start = sample_start();
  auto bump = [&](std::uint64_t i, Instant at) {
    const Key key = sample_key<Key>(i);
    registry.bump_batch(std::span<const Key>(&key, 1), std::chrono::seconds(1 + i % 3), at);
  };
  for (std::uint64_t i = 0; i < counters; ++i) bump(i, start + std::chrono::milliseconds(i));
  const Instant tick_at = start + std::chrono::milliseconds(counters + 10);
  const auto emissions = registry.tick(Policy{}, tick_at);
  registry.commit(emissions);
  for (std::uint64_t i = counters / 2; i < counters; i += 2) {
    bump(i, tick_at + std::chrono::milliseconds(i));
  }
  for (std::uint64_t i = 0; i < counters; i += 5) registry.remove(sample_key<Key>(i));
}

// The caller's bytes of the samples that carry an application section.
inline Bytes sample_application() {
  Bytes bytes;
  for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<char>(i * 37));
  return bytes;
}

inline std::span<const std::byte> as_byte_span(std::string_view bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()};
}

// Which registry a snapshot is of, and whether it carries an APPL section.
struct SnapshotShape {
  bool blob = false;
  bool sharded = false;
  bool application = false;

  std::size_t shards() const { return sharded ? (blob ? 4 : 2) : 1; }
  std::string name() const {
    return std::string(blob ? "Blob" : "U64") + (sharded ? "Sharded" : "Single") +
           (application ? "WithApplication" : "");
  }
};

inline std::vector<SnapshotShape> small_snapshot_shapes() {
  std::vector<SnapshotShape> shapes;
  for (bool blob : {false, true}) {
    for (bool sharded : {false, true}) {
      for (bool application : {false, true}) shapes.push_back({blob, sharded, application});
    }
  }
  return shapes;
}

inline constexpr std::size_t kSmallSnapshotCounters = 48;

// Calls f.template operator()<Key, Sharded>() for the registry type of `shape`.
template <class F>
decltype(auto) with_registry_type(const SnapshotShape& shape, F&& f) {
  if (shape.blob) {
    return shape.sharded ? f.template operator()<BlobKey, true>() : f.template operator()<BlobKey, false>();
  }
  return shape.sharded ? f.template operator()<std::uint64_t, true>()
                       : f.template operator()<std::uint64_t, false>();
}

// A small snapshot of `shape` (a few dozen counters), saved to a stream.
inline Bytes save_small_snapshot(const SnapshotShape& shape,
                                 std::size_t counters = kSmallSnapshotCounters) {
  const Bytes application = shape.application ? sample_application() : Bytes();
  std::ostringstream out(std::ios::binary);
  with_registry_type(shape, [&]<class Key, bool Sharded>() {
    RegistryOptions options = exact_options(counters * 3 / 4);
    if constexpr (Sharded) {
      ConcurrentHeatRegistryOf<Key> registry(options, shape.shards());
      fill_sample(registry, counters);
      registry.save(out, as_byte_span(application));
    } else {
      HeatRegistryOf<Key> registry(options);
      fill_sample(registry, counters);
      registry.save(out, as_byte_span(application));
    }
  });
  return std::move(out).str();
}

// How a test hands a snapshot to the library.
enum class Reader { kLoadFile, kLoadStream, kInspectFile, kInspectStream };

inline constexpr Reader kAllReaders[] = {Reader::kLoadFile, Reader::kLoadStream,
                                         Reader::kInspectFile, Reader::kInspectStream};

inline const char* reader_name(Reader reader) {
  switch (reader) {
    case Reader::kLoadFile: return "load(path)";
    case Reader::kLoadStream: return "load(stream)";
    case Reader::kInspectFile: return "inspect_snapshot(path)";
    case Reader::kInspectStream: return "inspect_snapshot(stream)";
  }
  return "?";
}

// What one read gave: a registry (its counters) or a SnapshotError.
struct ReadOutcome {
  bool loaded = false;
  std::size_t counters = 0;
  std::optional<SnapshotProblem> problem;
  std::string message;

  std::string describe() const {
    if (loaded) return "loaded " + std::to_string(counters) + " counters";
    return "SnapshotError(" + std::string(problem_name(*problem)) + "): " + message;
  }
};

// Reads `bytes` as a snapshot of `shape`'s registry type through `reader`;
// the file forms write the bytes to `scratch` first. Any exception other
// than SnapshotError goes to the caller.
inline ReadOutcome read_snapshot(const SnapshotShape& shape, std::string_view bytes, Reader reader,
                                 const std::filesystem::path& scratch,
                                 RegistryOptions options = RegistryOptions{}) {
  const bool from_file = reader == Reader::kLoadFile || reader == Reader::kInspectFile;
  if (from_file) snapshot_format::write_file(scratch, bytes);
  std::istringstream in{std::string(bytes), std::ios::binary};
  ReadOutcome outcome;
  try {
    if (reader == Reader::kInspectFile || reader == Reader::kInspectStream) {
      const SnapshotInfo info = from_file ? inspect_snapshot(scratch) : inspect_snapshot(in);
      outcome.counters = info.counters;
    } else {
      outcome.counters = with_registry_type(shape, [&]<class Key, bool Sharded>() -> std::size_t {
        if constexpr (Sharded) {
          using Registry = ConcurrentHeatRegistryOf<Key>;
          auto registry = from_file ? Registry::load(scratch, options) : Registry::load(in, options);
          return registry->size();
        } else {
          using Registry = HeatRegistryOf<Key>;
          auto registry = from_file ? Registry::load(scratch, options) : Registry::load(in, options);
          return registry.size();
        }
      });
    }
    outcome.loaded = true;
  } catch (const SnapshotError& error) {
    outcome.problem = error.problem();
    outcome.message = error.what();
  }
  return outcome;
}

// A counter as for_each gives it, with the key as bytes: registries of
// either kind compare as vectors of these.
struct CounterValue {
  Bytes key;
  double rate = 0;
  std::int64_t last_update = 0;
  std::optional<double> last_emitted;
  std::int64_t half_life = 0;
  friend bool operator==(const CounterValue&, const CounterValue&) = default;
};

template <class Registry>
std::vector<CounterValue> counter_values(const Registry& registry) {
  std::vector<CounterValue> values;
  registry.for_each([&](const auto& key, const HeatCounter& counter) {
    CounterValue v;
    v.key = Bytes(reinterpret_cast<const char*>(&key), sizeof key);
    v.rate = counter.rate();
    v.last_update = to_ns(counter.last_update());
    v.last_emitted = counter.last_emitted();
    v.half_life = to_ns(counter.half_life());
    values.push_back(std::move(v));
  });
  return values;
}

}  // namespace heatkit::test::snapshot_samples

namespace heatkit::test {

// A forked child running body(report_fd) and exiting with what it returns
// (an uncaught exception: 99). The child writes what it has to tell to
// report_fd, a pipe the parent reads once the child has ended. The body
// must not use GoogleTest (the child is a copy of the test process) and its
// registries must not start the thread pool (threads = 1): only the forking
// thread lives on in the child.
class ChildProcess {
 public:
  template <class Body>
  static ChildProcess start(Body&& body) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::close(fds[0]);
      int code = 99;
      try {
        code = body(fds[1]);
      } catch (...) {
      }
      ::_exit(code);  // no atexit handlers, no GoogleTest teardown in the copy
    }
    ::close(fds[1]);
    return ChildProcess(pid, fds[0]);
  }

  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), report_fd_(std::exchange(other.report_fd_, -1)) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (report_fd_ >= 0) ::close(report_fd_);
  }

  void kill(int signal) const { ::kill(pid_, signal); }

  // Waits for the child to end and reads its whole report; returns the wait
  // status (WIFEXITED and friends).
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    char buffer[4096];
    for (;;) {
      const ssize_t got = ::read(report_fd_, buffer, sizeof buffer);
      if (got > 0) {
        report_.append(buffer, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        break;
      }
    }
    return status;
  }

  const std::string& report() const { return report_; }

 private:
  ChildProcess(pid_t pid, int report_fd) : pid_(pid), report_fd_(report_fd) {}
  pid_t pid_;
  int report_fd_;
  std::string report_;
};

// For a child's body: writes all of `text` to `fd`.
inline void write_report(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t wrote = ::write(fd, text.data(), text.size());
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return;
    }
    text.remove_prefix(static_cast<std::size_t>(wrote));
  }
}

// A fresh, empty folder under the test's temporary folder, removed with it.
class ScratchFolder {
 public:
  explicit ScratchFolder(std::string_view name) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/heatkit-" + std::string(name) + ".XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
    path_ = pattern;
  }
  ~ScratchFolder() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchFolder(const ScratchFolder&) = delete;
  ScratchFolder& operator=(const ScratchFolder&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

  // Every name in the folder.
  std::vector<std::string> names() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

// Whether `name` is a save's temporary file for `target`: ".<target>.XXXXXX".
inline bool is_temporary_name(std::string_view name, std::string_view target) {
  const std::string prefix = "." + std::string(target) + ".";
  return name.size() == prefix.size() + 6 && name.substr(0, prefix.size()) == prefix;
}

}  // namespace heatkit::test
