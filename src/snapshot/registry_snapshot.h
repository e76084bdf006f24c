// Saving and loading registries (docs/SNAPSHOT_FORMAT.md): a single
// registry (BasicHeatRegistry) or a sharded one (BasicConcurrentHeatRegistry),
// to and from files (atomically) and streams, with the caller's application
// bytes. The public members (api/) and in-tree code holding the internal
// registry (the simulation) call these.
#pragma once

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "registry/concurrent_registry.h"
#include "registry/registry.h"
#include "snapshot/registry_sections.h"
#include "snapshot/snapshot_file.h"
#include "snapshot/snapshot_io.h"

namespace heatkit {
namespace snapshot {

// std::length_error past kMaxApplicationBytes, before anything is written.
void check_application_size(std::span<const std::byte> application);
// Whether an APPL section follows the `body_sections`, from the header's
// section count (kInconsistent when it is neither).
bool application_follows(const FileHeader& header, std::uint64_t body_sections, std::string_view origin);
std::vector<std::byte> read_application(ByteSource& source);

template <class Key, class Hasher>
void write_single(const BasicHeatRegistry<Key, Hasher>& r, ByteSink& sink,
                  std::span<const std::byte> application) {
  write_file_header(sink, {kKeyTypeOf<Key>, RegistryKind::kSingle, application.empty() ? 4u : 5u});
  RegistryAccess::save(r, sink);
  if (!application.empty()) write_section(sink, kApplicationTag, application);
}

// A single registry's snapshot whose file header was read already.
template <class Key>
BasicHeatRegistry<Key> read_single(ByteSource& source, RegistryOptions options,
                                   std::vector<std::byte>& application, const FileHeader& header) {
  expect_key_type(header, kKeyTypeOf<Key>, source.origin());
  expect_kind(header, RegistryKind::kSingle, source.origin());
  const bool has_application = application_follows(header, 4, source.origin());
  const RegistryFields fields = read_registry_fields(source);
  options.cap = fields.cap;
  options.track_in_flight = fields.tracks_in_flight;
  BasicHeatRegistry<Key> r(std::move(options));
  RegistryAccess::load(r, fields, source);
  if (has_application) application = read_application(source);
  return r;
}

template <class Key>
BasicHeatRegistry<Key> read_single(ByteSource& source, RegistryOptions options,
                                   std::vector<std::byte>& application) {
  const FileHeader header = read_file_header(source);
  return read_single<Key>(source, std::move(options), application, header);
}

// SHRD.
struct ShardFields {
  std::uint32_t shards = 1;
  std::uint64_t hash_seed = 0;
  std::uint64_t cap = 0;
};
void write_shard_fields(ByteSink& sink, const ShardFields& fields);
ShardFields read_shard_fields(ByteSource& source);

template <class Key>
void write_sharded(const BasicConcurrentHeatRegistry<Key>& r, ByteSink& sink,
                   std::span<const std::byte> application) {
  r.with_every_shard_locked([&](auto shard) {
    const auto shards = static_cast<std::uint32_t>(r.shard_count());
    write_file_header(sink, {kKeyTypeOf<Key>, RegistryKind::kSharded,
                             1 + 4 * shards + (application.empty() ? 0u : 1u)});
    write_shard_fields(sink, {shards, r.hash_seed(), r.cap()});
    for (std::size_t s = 0; s < shards; ++s) RegistryAccess::save(shard(s), sink);
  });
  if (!application.empty()) write_section(sink, kApplicationTag, application);
}

// Reads a sharded snapshot into the registry `make(options, shards)` builds
// (with the snapshot's cap, secret and in-flight tracking in `options`).
template <class Key, class Make>
void read_sharded(ByteSource& source, RegistryOptions options, std::vector<std::byte>& application,
                  const FileHeader& header, Make&& make) {
  expect_key_type(header, kKeyTypeOf<Key>, source.origin());
  expect_kind(header, RegistryKind::kSharded, source.origin());
  const ShardFields shards = read_shard_fields(source);
  const bool has_application = application_follows(header, 1 + 4 * std::uint64_t{shards.shards}, source.origin());
  BasicConcurrentHeatRegistry<Key>* r = nullptr;
  bool tracks_in_flight = false;
  for (std::size_t s = 0; s < shards.shards; ++s) {
    const RegistryFields fields = read_registry_fields(source);
    if (s == 0) {
      options.cap = shards.cap;
      options.hash_seed = shards.hash_seed;
      options.track_in_flight = tracks_in_flight = fields.tracks_in_flight;
      r = &make(std::move(options), shards.shards);
    }
    const std::string shard = "shard " + std::to_string(s) + "'s REGI: ";
    if (fields.cap != r->shard_cap()) {
      fail(SnapshotProblem::kInconsistent, source.origin(),
           shard + "cap " + std::to_string(fields.cap) + ", but SHRD's cap gives each shard " +
               std::to_string(r->shard_cap()));
    }
    if (fields.tracks_in_flight != tracks_in_flight) {
      fail(SnapshotProblem::kInconsistent, source.origin(), shard + "in-flight tracking differs from shard 0's");
    }
    r->fill_shard(s, [&](BasicHeatRegistry<Key>& empty) {
      RegistryAccess::load(empty, fields, source,
                           [r, s](const Key& key) { return r->shard_of(key) == s; });
    });
  }
  if (has_application) application = read_application(source);
}

template <class Key, class Make>
void read_sharded(ByteSource& source, RegistryOptions options, std::vector<std::byte>& application,
                  Make&& make) {
  const FileHeader header = read_file_header(source);
  read_sharded<Key>(source, std::move(options), application, header, std::forward<Make>(make));
}

}  // namespace snapshot

template <class Key, class Hasher>
void save_snapshot(const BasicHeatRegistry<Key, Hasher>& registry, const std::filesystem::path& path,
                   std::span<const std::byte> application = {}) {
  snapshot::check_application_size(application);
  auto write = [&](snapshot::ByteSink& sink) { snapshot::write_single(registry, sink, application); };
  snapshot::write_file_atomically(path, write);
}

template <class Key, class Hasher>
void save_snapshot(const BasicHeatRegistry<Key, Hasher>& registry, std::ostream& out,
                   std::span<const std::byte> application = {}) {
  snapshot::check_application_size(application);
  snapshot::StreamSink sink(out);
  snapshot::write_single(registry, sink, application);
}

// `application` is assigned only when the whole snapshot loaded.
template <class Key>
BasicHeatRegistry<Key> load_snapshot(const std::filesystem::path& path, RegistryOptions options,
                                     std::vector<std::byte>* application = nullptr) {
  snapshot::FileSource source(path);
  std::vector<std::byte> bytes;
  BasicHeatRegistry<Key> r = snapshot::read_single<Key>(source, std::move(options), bytes);
  source.expect_end();
  if (application != nullptr) *application = std::move(bytes);
  return r;
}

template <class Key>
BasicHeatRegistry<Key> load_snapshot(std::istream& in, RegistryOptions options,
                                     std::vector<std::byte>* application = nullptr) {
  snapshot::StreamSource source(in);
  std::vector<std::byte> bytes;
  BasicHeatRegistry<Key> r = snapshot::read_single<Key>(source, std::move(options), bytes);
  if (application != nullptr) *application = std::move(bytes);
  return r;
}

}  // namespace heatkit
