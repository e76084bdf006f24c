// inspect_snapshot (<heatkit/snapshot.h>): reads a whole snapshot, checking
// everything a load checks, by loading each registry (one shard at a time)
// into a scalar registry that is then dropped.
#include <heatkit/snapshot.h>

#include <algorithm>
#include <istream>

#include "snapshot/registry_snapshot.h"

namespace heatkit {
namespace {

using namespace snapshot;

void add_body(SnapshotInfo& info, const RegistryFields& fields, const BodySummary& summary) {
  if (fields.counters > 0) {
    info.earliest_update = info.counters == 0 ? summary.earliest_update
                                              : std::min(info.earliest_update, summary.earliest_update);
    info.latest_update = info.counters == 0 ? summary.latest_update
                                            : std::max(info.latest_update, summary.latest_update);
  }
  info.counters += fields.counters;
  info.slots += fields.slots;
  info.tracks_in_flight = fields.tracks_in_flight;
  info.stats.evictions += fields.stats.evictions;
  info.stats.pruned += fields.stats.pruned;
  info.stats.hash_reseeds += fields.stats.hash_reseeds;
}

template <class Key>
BodySummary load_and_drop(ByteSource& source, const RegistryFields& fields) {
  RegistryOptions options;
  options.backend = "scalar";
  options.cap = fields.cap;
  options.track_in_flight = fields.tracks_in_flight;
  options.threads = 1;
  BasicHeatRegistry<Key> r(std::move(options));
  return RegistryAccess::load(r, fields, source);
}

template <class Key>
void inspect_bodies(ByteSource& source, const FileHeader& header, SnapshotInfo& info) {
  std::uint64_t bodies = 1;
  std::uint64_t body_sections = 4;
  if (header.kind == RegistryKind::kSharded) {
    const ShardFields shards = read_shard_fields(source);
    bodies = shards.shards;
    body_sections = 1 + 4 * bodies;
    info.cap = shards.cap;
  }
  const bool has_application = application_follows(header, body_sections, source.origin());
  info.shards = bodies;
  for (std::uint64_t b = 0; b < bodies; ++b) {
    const RegistryFields fields = read_registry_fields(source);
    if (header.kind == RegistryKind::kSingle) info.cap = fields.cap;
    add_body(info, fields, load_and_drop<Key>(source, fields));
  }
  if (has_application) info.application_bytes = read_application(source).size();
}

SnapshotInfo inspect(ByteSource& source) {
  const FileHeader header = read_file_header(source);
  SnapshotInfo info;
  info.version = kVersion;
  info.key_type = key_type_name(header.key_type);
  if (header.key_type == KeyType::kU64) {
    inspect_bodies<std::uint64_t>(source, header, info);
  } else {
    inspect_bodies<BlobKey>(source, header, info);
  }
  info.bytes = source.offset();
  return info;
}

}  // namespace

SnapshotInfo inspect_snapshot(const std::filesystem::path& path) {
  FileSource source(path);
  SnapshotInfo info = inspect(source);
  source.expect_end();
  return info;
}

SnapshotInfo inspect_snapshot(std::istream& in) {
  StreamSource source(in);
  return inspect(source);
}

}  // namespace heatkit
