#include "snapshot/registry_snapshot.h"

#include <bit>
#include <stdexcept>
#include <string>

namespace heatkit::snapshot {

void check_application_size(std::span<const std::byte> application) {
  if (application.size() > kMaxApplicationBytes) {
    throw std::length_error("snapshot: application bytes " + std::to_string(application.size()) +
                            " are more than kMaxApplicationBytes (" +
                            std::to_string(kMaxApplicationBytes) + ")");
  }
}

bool application_follows(const FileHeader& header, std::uint64_t body_sections, std::string_view origin) {
  if (header.sections == body_sections) return false;
  if (header.sections == body_sections + 1) return true;
  fail(SnapshotProblem::kInconsistent, origin,
       "the file header counts " + std::to_string(header.sections) + " sections, where its registry has " +
           std::to_string(body_sections) + " (" + std::to_string(body_sections + 1) + " with APPL)");
}

std::vector<std::byte> read_application(ByteSource& source) {
  SectionReader section(source, kApplicationTag);
  if (section.length() > kMaxApplicationBytes) {
    section.inconsistent("length " + std::to_string(section.length()) + " is more than the " +
                         std::to_string(kMaxApplicationBytes) + " bytes allowed");
  }
  std::vector<std::byte> bytes(static_cast<std::size_t>(section.length()));
  if (!bytes.empty()) section.read(bytes.data(), bytes.size());  // (an empty vector's data() may be null)
  section.finish();
  return bytes;
}

void write_shard_fields(ByteSink& sink, const ShardFields& fields) {
  std::array<std::byte, 24> b{};
  put<std::uint32_t>(b.data(), fields.shards);
  put<std::uint64_t>(b.data() + 8, fields.hash_seed);
  put<std::uint64_t>(b.data() + 16, fields.cap);
  write_section(sink, kShardsTag, b);
}

ShardFields read_shard_fields(ByteSource& source) {
  SectionReader section(source, kShardsTag);
  section.expect_length(24, "its fields");
  std::array<std::byte, 24> b{};
  section.read(b.data(), b.size());
  section.finish();
  ShardFields f;
  f.shards = get<std::uint32_t>(b.data());
  if (get<std::uint32_t>(b.data() + 4) != 0) section.inconsistent("reserved bytes are not 0");
  f.hash_seed = get<std::uint64_t>(b.data() + 8);
  f.cap = get<std::uint64_t>(b.data() + 16);
  if (!std::has_single_bit(f.shards) || f.shards > kMaxShards) {
    section.inconsistent("shard count " + std::to_string(f.shards) + " is not a power of two in [1, " +
                         std::to_string(kMaxShards) + "]");
  }
  return f;
}

}  // namespace heatkit::snapshot
