#include "snapshot/snapshot_io.h"

#include <algorithm>
#include <istream>
#include <ostream>
#include <stdexcept>

#define XXH_INLINE_ALL  // header-only: nothing to link, for the library or its users
#include <xxhash.h>

namespace heatkit {

std::string_view problem_name(SnapshotProblem problem) noexcept {
  switch (problem) {
    case SnapshotProblem::kIo: return "io";
    case SnapshotProblem::kNotASnapshot: return "not a snapshot";
    case SnapshotProblem::kVersion: return "version";
    case SnapshotProblem::kKeyType: return "key type";
    case SnapshotProblem::kRegistryKind: return "registry kind";
    case SnapshotProblem::kTruncated: return "truncated";
    case SnapshotProblem::kChecksum: return "checksum";
    case SnapshotProblem::kInconsistent: return "inconsistent";
  }
  return "unknown";
}

SnapshotError::SnapshotError(SnapshotProblem problem, const std::string& message)
    : std::runtime_error(message), problem_(problem) {}

namespace snapshot {

std::string tag_name(std::uint32_t tag) {
  std::string name(4, ' ');
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<char>((tag >> (8 * i)) & 0xFF);
    name[i] = c >= 0x20 && c < 0x7F ? c : '?';
  }
  return name;
}

void fail(SnapshotProblem problem, std::string_view origin, const std::string& what) {
  throw SnapshotError(problem, "snapshot " + std::string(origin) + ": " + what);
}

std::uint64_t checksum(const void* data, std::size_t n) noexcept { return XXH3_64bits(data, n); }

void ByteSource::read_exact(std::byte* data, std::size_t n, std::string_view what) {
  std::size_t got = 0;
  while (got < n) {
    const std::size_t r = read(data + got, n - got);
    if (r == 0) {
      fail(SnapshotProblem::kTruncated, origin(),
           "ends inside " + std::string(what) + " (" + std::to_string(got) + " of " +
               std::to_string(n) + " bytes)");
    }
    got += r;
  }
}

void StreamSink::write(const std::byte* data, std::size_t n) {
  out_.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out_) fail(SnapshotProblem::kIo, origin(), "write failed");
}

std::size_t StreamSource::read(std::byte* data, std::size_t n) {
  if (in_.bad()) fail(SnapshotProblem::kIo, origin(), "read failed");
  if (in_.eof()) return 0;
  in_.read(reinterpret_cast<char*>(data), static_cast<std::streamsize>(n));
  if (in_.bad()) fail(SnapshotProblem::kIo, origin(), "read failed");
  const auto got = static_cast<std::size_t>(in_.gcount());
  offset_ += got;
  return got;
}

// The file header: magic, version, key type, kind, section count, checksum.
void write_file_header(ByteSink& sink, const FileHeader& header) {
  std::array<std::byte, kFileHeaderBytes> bytes{};
  std::memcpy(bytes.data(), kMagic.data(), kMagic.size());
  put<std::uint32_t>(bytes.data() + 8, kVersion);
  put<std::uint32_t>(bytes.data() + 12, static_cast<std::uint32_t>(header.key_type));
  put<std::uint32_t>(bytes.data() + 16, static_cast<std::uint32_t>(header.kind));
  put<std::uint32_t>(bytes.data() + 20, header.sections);
  put<std::uint64_t>(bytes.data() + 24, checksum(bytes.data(), 24));
  sink.write(bytes.data(), bytes.size());
}

FileHeader read_file_header(ByteSource& source) {
  std::array<std::byte, kFileHeaderBytes> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    const std::size_t r = source.read(bytes.data() + got, bytes.size() - got);
    if (r == 0) break;
    got += r;
  }
  // The magic first: a file that is not a snapshot is named so, whatever its length.
  if (std::memcmp(bytes.data(), kMagic.data(), std::min(got, kMagic.size())) != 0) {
    fail(SnapshotProblem::kNotASnapshot, source.origin(), "no heatkit snapshot magic (HEATSNAP)");
  }
  if (got < bytes.size()) {
    fail(SnapshotProblem::kTruncated, source.origin(),
         "ends inside the file header (" + std::to_string(got) + " of 32 bytes)");
  }
  if (get<std::uint64_t>(bytes.data() + 24) != checksum(bytes.data(), 24)) {
    fail(SnapshotProblem::kChecksum, source.origin(), "the file header's checksum does not match");
  }
  const auto version = get<std::uint32_t>(bytes.data() + 8);
  if (version != kVersion) {
    fail(SnapshotProblem::kVersion, source.origin(),
         "format version " + std::to_string(version) + ", this build reads version " +
             std::to_string(kVersion));
  }
  FileHeader header;
  const auto key_type = get<std::uint32_t>(bytes.data() + 12);
  if (key_type != 1 && key_type != 2) {
    fail(SnapshotProblem::kKeyType, source.origin(),
         "key type " + std::to_string(key_type) + " (known: 1 = u64, 2 = blob32)");
  }
  header.key_type = static_cast<KeyType>(key_type);
  const auto kind = get<std::uint32_t>(bytes.data() + 16);
  if (kind != 1 && kind != 2) {
    fail(SnapshotProblem::kRegistryKind, source.origin(),
         "registry kind " + std::to_string(kind) + " (known: 1 = single, 2 = sharded)");
  }
  header.kind = static_cast<RegistryKind>(kind);
  header.sections = get<std::uint32_t>(bytes.data() + 20);
  return header;
}

std::string_view key_type_name(KeyType type) noexcept {
  return type == KeyType::kU64 ? "u64" : "blob32";
}

void expect_key_type(const FileHeader& header, KeyType wanted, std::string_view origin) {
  if (header.key_type == wanted) return;
  fail(SnapshotProblem::kKeyType, origin,
       "holds " + std::string(key_type_name(header.key_type)) + " keys, not " +
           std::string(key_type_name(wanted)) + " keys");
}

void expect_kind(const FileHeader& header, RegistryKind wanted, std::string_view origin) {
  if (header.kind == wanted) return;
  const auto name = [](RegistryKind k) {
    return k == RegistryKind::kSingle ? std::string("a single registry") : std::string("a sharded registry");
  };
  fail(SnapshotProblem::kRegistryKind, origin,
       "holds " + name(header.kind) + ", not " + name(wanted));
}

// Sections

namespace {

void write_section_header(ByteSink& sink, std::uint32_t tag, std::uint64_t length) {
  std::array<std::byte, kSectionHeaderBytes> bytes{};
  put<std::uint32_t>(bytes.data(), tag);
  put<std::uint32_t>(bytes.data() + 4, 0);
  put<std::uint64_t>(bytes.data() + 8, length);
  put<std::uint64_t>(bytes.data() + 16, checksum(bytes.data(), 16));
  sink.write(bytes.data(), bytes.size());
}

}  // namespace

SectionWriter::SectionWriter(ByteSink& sink, std::uint32_t tag, std::uint64_t length)
    : sink_(sink), tag_(tag), length_(length) {
  write_section_header(sink, tag, length);
  buffer_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, kBlockBytes)));
}

void SectionWriter::write_slow(const void* data, std::size_t n) {
  if (written_ + n > length_) {
    throw std::logic_error("snapshot section " + tag_name(tag_) + ": more bytes than declared");
  }
  const auto* bytes = static_cast<const std::byte*>(data);
  while (n > 0) {
    const std::size_t take = std::min(n, kBlockBytes - buffer_.size());
    buffer_.insert(buffer_.end(), bytes, bytes + take);
    bytes += take;
    n -= take;
    written_ += take;
    if (buffer_.size() == kBlockBytes) flush_block();
  }
}

void SectionWriter::flush_block() {
  std::array<std::byte, 8> sum{};
  put<std::uint64_t>(sum.data(), checksum(buffer_.data(), buffer_.size()));
  sink_.write(buffer_.data(), buffer_.size());
  sink_.write(sum.data(), sum.size());
  buffer_.clear();
}

void SectionWriter::finish() {
  if (written_ != length_) {
    throw std::logic_error("snapshot section " + tag_name(tag_) + ": " + std::to_string(written_) +
                           " bytes written of " + std::to_string(length_) + " declared");
  }
  if (!buffer_.empty()) flush_block();
}

void write_section(ByteSink& sink, std::uint32_t tag, std::span<const std::byte> payload) {
  SectionWriter section(sink, tag, payload.size());
  section.write(payload.data(), payload.size());
  section.finish();
}

SectionReader::SectionReader(ByteSource& source, std::uint32_t tag)
    : source_(source), name_("section " + tag_name(tag)) {
  std::array<std::byte, kSectionHeaderBytes> bytes{};
  source.read_exact(bytes.data(), bytes.size(), "the header of " + name_);
  if (get<std::uint64_t>(bytes.data() + 16) != checksum(bytes.data(), 16)) {
    fail(SnapshotProblem::kChecksum, source.origin(),
         "the header of " + name_ + " (where it was expected) has a checksum that does not match");
  }
  const auto found = get<std::uint32_t>(bytes.data());
  if (found != tag) inconsistent("expected here, found section " + tag_name(found));
  if (get<std::uint32_t>(bytes.data() + 4) != 0) inconsistent("reserved header bytes are not 0");
  length_ = get<std::uint64_t>(bytes.data() + 8);
}

void SectionReader::inconsistent(const std::string& what) const {
  fail(SnapshotProblem::kInconsistent, source_.origin(), name_ + ": " + what);
}

void SectionReader::expect_length(std::uint64_t expected, std::string_view why) const {
  if (length_ == expected) return;
  inconsistent("length " + std::to_string(length_) + " bytes, but " + std::string(why) + " give " +
               std::to_string(expected));
}

void SectionReader::next_block() {
  const std::uint64_t left = length_ - consumed_;
  if (left == 0) inconsistent("read past its end (a count disagrees with its length)");
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kBlockBytes));
  const std::string what = name_ + ", block " + std::to_string(block_);
  buffer_.resize(n);
  source_.read_exact(buffer_.data(), n, what);
  std::array<std::byte, 8> sum{};
  source_.read_exact(sum.data(), sum.size(), "the checksum of " + what);
  if (get<std::uint64_t>(sum.data()) != checksum(buffer_.data(), n)) {
    fail(SnapshotProblem::kChecksum, source_.origin(), what + ": the checksum does not match");
  }
  consumed_ += n;
  ++block_;
  at_ = 0;
}

void SectionReader::read_slow(void* data, std::size_t n) {
  auto* out = static_cast<std::byte*>(data);
  while (n > 0) {
    if (at_ == buffer_.size()) next_block();
    const std::size_t take = std::min(n, buffer_.size() - at_);
    std::memcpy(out, buffer_.data() + at_, take);
    at_ += take;
    out += take;
    n -= take;
  }
}

void SectionReader::finish() const {
  if (consumed_ != length_ || at_ != buffer_.size()) {
    inconsistent("has bytes its counts do not account for");
  }
}

}  // namespace snapshot
}  // namespace heatkit
