// inspect_snapshot (<heatkit/snapshot.h>): reads a whole snapshot, checking
// exactly what a load checks, by loading it on `scalar` (as much memory as
// that load) and describing what was loaded.
#include <heatkit/snapshot.h>

#include <algorithm>
#include <istream>
#include <memory>

#include "snapshot/registry_snapshot.h"

namespace heatkit {
namespace {

using namespace snapshot;

RegistryOptions scalar_options() {
  RegistryOptions options;
  options.backend = "scalar";
  options.threads = 1;
  return options;
}

// One registry's counts, statistics and range of last updates.
template <class Key>
void describe(SnapshotInfo& info, const BasicHeatRegistry<Key>& r) {
  const RegistryFields fields = RegistryAccess::fields_of(r);
  info.counters += fields.counters;
  info.slots += fields.slots;
  info.tracks_in_flight = fields.tracks_in_flight;
  info.stats.evictions += fields.stats.evictions;
  info.stats.pruned += fields.stats.pruned;
  info.stats.hash_reseeds += fields.stats.hash_reseeds;
  r.for_each([&](const Key&, const HeatCounter& c) {
    const std::int64_t t = to_ns(c.last_update());
    const bool first = info.earliest_update == 0 && info.latest_update == 0;
    info.earliest_update = first ? t : std::min(info.earliest_update, t);
    info.latest_update = first ? t : std::max(info.latest_update, t);
  });
}

template <class Key>
void inspect_registry(ByteSource& source, const FileHeader& header, SnapshotInfo& info) {
  std::vector<std::byte> application;
  if (header.kind == RegistryKind::kSingle) {
    const BasicHeatRegistry<Key> r = read_single<Key>(source, scalar_options(), application, header);
    info.shards = 1;
    info.cap = r.cap();
    describe(info, r);
  } else {
    std::unique_ptr<BasicConcurrentHeatRegistry<Key>> r;
    read_sharded<Key>(source, scalar_options(), application, header,
                      [&](RegistryOptions o, std::size_t shards) -> BasicConcurrentHeatRegistry<Key>& {
                        r = std::make_unique<BasicConcurrentHeatRegistry<Key>>(std::move(o), shards);
                        return *r;
                      });
    info.shards = r->shard_count();
    info.cap = r->cap();
    r->with_every_shard_locked([&](auto shard) {
      for (std::size_t s = 0; s < info.shards; ++s) describe(info, shard(s));
    });
  }
  info.application_bytes = application.size();
  info.application = std::move(application);
}

SnapshotInfo inspect(ByteSource& source) {
  const FileHeader header = read_file_header(source);
  SnapshotInfo info;
  info.version = kVersion;
  info.key_type = key_type_name(header.key_type);
  if (header.key_type == KeyType::kU64) {
    inspect_registry<std::uint64_t>(source, header, info);
  } else {
    inspect_registry<BlobKey>(source, header, info);
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
