// The byte level of a snapshot (docs/SNAPSHOT_FORMAT.md): where bytes go and
// come from (a file descriptor or a stream), little-endian fields, the file
// header, and sections written and read in checksummed blocks. Knows nothing
// of registries (registry_snapshot.h does).
//
// Every error is a SnapshotError naming `origin` (the file, or "stream"), the
// section and what was wrong.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <heatkit/snapshot.h>

namespace heatkit::snapshot {

inline constexpr std::array<char, 8> kMagic = {'H', 'E', 'A', 'T', 'S', 'N', 'A', 'P'};
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kFileHeaderBytes = 32;
inline constexpr std::size_t kSectionHeaderBytes = 24;
inline constexpr std::size_t kBlockBytes = std::size_t{1} << 20;

enum class KeyType : std::uint32_t { kU64 = 1, kBlob32 = 2 };
enum class RegistryKind : std::uint32_t { kSingle = 1, kSharded = 2 };

// Section tags, as the four ASCII bytes read little-endian.
constexpr std::uint32_t tag(const char (&name)[5]) noexcept {
  return std::uint32_t(std::uint8_t(name[0])) | std::uint32_t(std::uint8_t(name[1])) << 8 |
         std::uint32_t(std::uint8_t(name[2])) << 16 | std::uint32_t(std::uint8_t(name[3])) << 24;
}
inline constexpr std::uint32_t kRegistryTag = tag("REGI");
inline constexpr std::uint32_t kFreeTag = tag("FREE");
inline constexpr std::uint32_t kCountersTag = tag("CNTR");
inline constexpr std::uint32_t kOrderTag = tag("ORDR");
inline constexpr std::uint32_t kShardsTag = tag("SHRD");
inline constexpr std::uint32_t kApplicationTag = tag("APPL");
std::string tag_name(std::uint32_t tag);

[[noreturn]] void fail(SnapshotProblem problem, std::string_view origin, const std::string& what);

std::uint64_t checksum(const void* data, std::size_t n) noexcept;  // XXH3-64, seed 0

// Little-endian fields in and out of byte buffers.
template <class T>
inline void put(std::byte* at, T value) noexcept {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  if constexpr (std::endian::native == std::endian::big) {
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    U u = std::bit_cast<U>(value);
    u = sizeof(T) == 4 ? U(__builtin_bswap32(std::uint32_t(u))) : U(__builtin_bswap64(std::uint64_t(u)));
    value = std::bit_cast<T>(u);
  }
  std::memcpy(at, &value, sizeof value);
}
template <class T>
inline T get(const std::byte* at) noexcept {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  T value;
  std::memcpy(&value, at, sizeof value);
  if constexpr (std::endian::native == std::endian::big) {
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    U u = std::bit_cast<U>(value);
    u = sizeof(T) == 4 ? U(__builtin_bswap32(std::uint32_t(u))) : U(__builtin_bswap64(std::uint64_t(u)));
    value = std::bit_cast<T>(u);
  }
  return value;
}

// Where a snapshot's bytes go. write() writes all of them or throws
// SnapshotError (kIo).
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(const std::byte* data, std::size_t n) = 0;
  virtual std::string_view origin() const noexcept = 0;
};

// Where they come from. read() returns what it got (0 at the end) or throws
// SnapshotError (kIo). `size()` is the bytes left, when known (a file).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::size_t read(std::byte* data, std::size_t n) = 0;
  virtual std::optional<std::uint64_t> size_left() const noexcept { return std::nullopt; }
  virtual std::string_view origin() const noexcept = 0;
  virtual std::uint64_t offset() const noexcept = 0;  // bytes read so far
  // Reads exactly n bytes or throws kTruncated naming `what`.
  void read_exact(std::byte* data, std::size_t n, std::string_view what);
};

class StreamSink final : public ByteSink {
 public:
  explicit StreamSink(std::ostream& out) : out_(out) {}
  void write(const std::byte* data, std::size_t n) override;
  std::string_view origin() const noexcept override { return "stream"; }

 private:
  std::ostream& out_;
};

class StreamSource final : public ByteSource {
 public:
  explicit StreamSource(std::istream& in) : in_(in) {}
  std::size_t read(std::byte* data, std::size_t n) override;
  std::string_view origin() const noexcept override { return "stream"; }
  std::uint64_t offset() const noexcept override { return offset_; }

 private:
  std::istream& in_;
  std::uint64_t offset_ = 0;
};

// The file header's fields.
struct FileHeader {
  KeyType key_type = KeyType::kU64;
  RegistryKind kind = RegistryKind::kSingle;
  std::uint32_t sections = 0;
};
void write_file_header(ByteSink& sink, const FileHeader& header);
// Checks magic, checksum, version, then returns the fields (the caller
// checks key type and kind against what it wants).
FileHeader read_file_header(ByteSource& source);
// The key type's name ("u64", "blob32") and the SnapshotProblem::kKeyType
// check against the wanted one.
std::string_view key_type_name(KeyType type) noexcept;
void expect_key_type(const FileHeader& header, KeyType wanted, std::string_view origin);
void expect_kind(const FileHeader& header, RegistryKind wanted, std::string_view origin);

// One section's payload, written through a block buffer. The length is
// declared up front (the header carries it) and must be met exactly.
class SectionWriter {
 public:
  SectionWriter(ByteSink& sink, std::uint32_t tag, std::uint64_t length);
  SectionWriter(const SectionWriter&) = delete;
  SectionWriter& operator=(const SectionWriter&) = delete;
  void write(const void* data, std::size_t n) {
    if (n <= kBlockBytes - buffer_.size() && written_ + n <= length_) [[likely]] {
      const auto* bytes = static_cast<const std::byte*>(data);
      buffer_.insert(buffer_.end(), bytes, bytes + n);
      written_ += n;
      if (buffer_.size() == kBlockBytes) flush_block();
      return;
    }
    write_slow(data, n);
  }
  // Writes the last block; throws std::logic_error if the length was not met.
  void finish();

 private:
  void write_slow(const void* data, std::size_t n);
  void flush_block();
  ByteSink& sink_;
  std::uint32_t tag_;
  std::uint64_t length_;
  std::uint64_t written_ = 0;
  std::vector<std::byte> buffer_;
};

// One section's payload, read and checked block by block: no byte is handed
// out before its block's checksum matched.
class SectionReader {
 public:
  // Reads and checks the section header: its checksum, the tag (`tag`,
  // kInconsistent otherwise). The caller checks length() before reading.
  SectionReader(ByteSource& source, std::uint32_t tag);
  SectionReader(const SectionReader&) = delete;
  SectionReader& operator=(const SectionReader&) = delete;
  std::uint64_t length() const noexcept { return length_; }
  std::string_view name() const noexcept { return name_; }
  // Throws kInconsistent naming the section unless the length is `expected`.
  void expect_length(std::uint64_t expected, std::string_view why) const;
  void read(void* data, std::size_t n) {
    if (n == 0) return;  // (memcpy takes no null pointer, even for 0 bytes)
    if (n <= buffer_.size() - at_) [[likely]] {
      std::memcpy(data, buffer_.data() + at_, n);
      at_ += n;
      return;
    }
    read_slow(data, n);
  }
  // Checks that the whole payload was read.
  void finish() const;
  [[noreturn]] void inconsistent(const std::string& what) const;

 private:
  void read_slow(void* data, std::size_t n);
  void next_block();
  ByteSource& source_;
  std::string name_;
  std::uint64_t length_ = 0;
  std::uint64_t consumed_ = 0;  // payload bytes taken into blocks so far
  std::uint64_t block_ = 0;
  std::vector<std::byte> buffer_;
  std::size_t at_ = 0;
};

// A whole small section: writes `payload` (REGI, SHRD, APPL).
void write_section(ByteSink& sink, std::uint32_t tag, std::span<const std::byte> payload);

}  // namespace heatkit::snapshot
