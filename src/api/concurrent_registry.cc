// ConcurrentHeatRegistry and ConcurrentBlobHeatRegistry
// (<heatkit/concurrent_registry.h>): each member calls the internal
// BasicConcurrentHeatRegistry (registry/concurrent_registry.h), instantiated
// here for both key types by the facades' explicit instantiations at the end,
// so its bump path (shard, lock, look-up, bump) is compiled and inlined in
// this file: one call per operation. As in api/heat_registry_members.h, the internal
// template is not explicitly instantiated (GCC would stop inlining it here).
#include <heatkit/concurrent_registry.h>

#include <utility>

#include "api/entry_access.h"
#include "registry/concurrent_registry.h"
#include "snapshot/registry_snapshot.h"
#include "util/thread_pool.h"

namespace heatkit {

std::size_t default_shard_count(std::size_t cap) noexcept {
  return default_shard_count(cap, resolve_threads(0));
}

template <RegistryKey Key>
struct ConcurrentHeatRegistryOf<Key>::Impl {
  Impl(RegistryOptions options, std::size_t shards) : registry(std::move(options), shards) {}
  BasicConcurrentHeatRegistry<Key> registry;
};

template <RegistryKey Key>
ConcurrentHeatRegistryOf<Key>::ConcurrentHeatRegistryOf()
    : ConcurrentHeatRegistryOf(RegistryOptions{}) {}
template <RegistryKey Key>
ConcurrentHeatRegistryOf<Key>::ConcurrentHeatRegistryOf(RegistryOptions options, std::size_t shards)
    : impl_(std::make_unique<Impl>(std::move(options), shards)) {}
template <RegistryKey Key>
ConcurrentHeatRegistryOf<Key>::~ConcurrentHeatRegistryOf() = default;

template <RegistryKey Key>
std::size_t ConcurrentHeatRegistryOf<Key>::cap() const noexcept {
  return impl_->registry.cap();
}
template <RegistryKey Key>
std::size_t ConcurrentHeatRegistryOf<Key>::shard_cap() const noexcept {
  return impl_->registry.shard_cap();
}
template <RegistryKey Key>
std::size_t ConcurrentHeatRegistryOf<Key>::shard_count() const noexcept {
  return impl_->registry.shard_count();
}
template <RegistryKey Key>
std::size_t ConcurrentHeatRegistryOf<Key>::shard_of(const Key& key) const noexcept {
  return impl_->registry.shard_of(key);
}
template <RegistryKey Key>
std::uint64_t ConcurrentHeatRegistryOf<Key>::hash_seed() const noexcept {
  return impl_->registry.hash_seed();
}
template <RegistryKey Key>
std::string_view ConcurrentHeatRegistryOf<Key>::backend() const noexcept {
  return impl_->registry.backend();
}
template <RegistryKey Key>
bool ConcurrentHeatRegistryOf<Key>::tracks_in_flight() const {
  return impl_->registry.tracks_in_flight();
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::set_threads(unsigned threads) noexcept {
  impl_->registry.set_threads(threads);
}
template <RegistryKey Key>
std::size_t ConcurrentHeatRegistryOf<Key>::size() const noexcept {
  return impl_->registry.size();
}
template <RegistryKey Key>
bool ConcurrentHeatRegistryOf<Key>::empty() const noexcept {
  return impl_->registry.empty();
}

template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::bump(const Key& key, Duration half_life, Instant now) {
  impl_->registry.bump(key, half_life, now);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::bump_batch(std::span<const Key> keys, Duration half_life,
                                               Instant now) {
  impl_->registry.bump_batch(keys, half_life, now);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::bump_batch(std::span<const std::pair<Key, Instant>> reads,
                                               Duration half_life) {
  impl_->registry.bump_batch(reads, half_life);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::with_entry_ref(const Key& key, Duration half_life, Instant now,
                                                   detail::FunctionRef<void(Entry&)> f) {
  impl_->registry.with_entry(key, half_life, now, [&](typename Entry::Access::Internal& internal) {
    Entry entry = Entry::Access::wrap(internal);
    f(entry);
  });
}

template <RegistryKey Key>
std::optional<HeatCounter> ConcurrentHeatRegistryOf<Key>::get(const Key& key) const {
  return impl_->registry.get(key);
}
template <RegistryKey Key>
bool ConcurrentHeatRegistryOf<Key>::contains(const Key& key) const {
  return impl_->registry.contains(key);
}
template <RegistryKey Key>
bool ConcurrentHeatRegistryOf<Key>::in_flight(const Key& key) const {
  return impl_->registry.in_flight(key);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::remove(const Key& key) {
  impl_->registry.remove(key);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::rollback(const Key& key) {
  impl_->registry.rollback(key);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::set_track_in_flight(bool on) {
  impl_->registry.set_track_in_flight(on);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::for_each_entry(
    detail::FunctionRef<void(const Key&, const HeatCounter&)> f) const {
  impl_->registry.for_each(f);
}

template <RegistryKey Key>
typename ConcurrentHeatRegistryOf<Key>::Emissions ConcurrentHeatRegistryOf<Key>::tick(
    const Policy& policy, Instant now) {
  return impl_->registry.tick(policy, now);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::tick(const Policy& policy, Instant now, Emissions& out) {
  impl_->registry.tick(policy, now, out);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
  impl_->registry.commit(emissions);
}
template <RegistryKey Key>
RegistryStats ConcurrentHeatRegistryOf<Key>::stats() const {
  return impl_->registry.stats();
}
template <RegistryKey Key>
IndexStats ConcurrentHeatRegistryOf<Key>::index_stats() const {
  return impl_->registry.index_stats();
}
template <RegistryKey Key>
MemoryUsage ConcurrentHeatRegistryOf<Key>::memory_usage() const {
  return impl_->registry.memory_usage();
}

// Snapshots

template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::save(const std::filesystem::path& path,
                                         std::span<const std::byte> application) const {
  snapshot::check_application_size(application);
  auto write = [&](snapshot::ByteSink& sink) { snapshot::write_sharded(impl_->registry, sink, application); };
  snapshot::write_file_atomically(path, write);
}
template <RegistryKey Key>
void ConcurrentHeatRegistryOf<Key>::save(std::ostream& out, std::span<const std::byte> application) const {
  snapshot::check_application_size(application);
  snapshot::StreamSink sink(out);
  snapshot::write_sharded(impl_->registry, sink, application);
}

// Reads a sharded snapshot into a registry made for it.
template <RegistryKey Key>
struct ConcurrentHeatRegistryOf<Key>::Internals {
  static std::unique_ptr<ConcurrentHeatRegistryOf> load(snapshot::ByteSource& source, RegistryOptions options,
                                                        std::vector<std::byte>& application) {
    std::unique_ptr<ConcurrentHeatRegistryOf> loaded;
    snapshot::read_sharded<Key>(
        source, std::move(options), application,
        [&](RegistryOptions o, std::size_t shards) -> BasicConcurrentHeatRegistry<Key>& {
          loaded = std::make_unique<ConcurrentHeatRegistryOf>(std::move(o), shards);
          return loaded->impl_->registry;
        });
    return loaded;
  }
};

template <RegistryKey Key>
std::unique_ptr<ConcurrentHeatRegistryOf<Key>> ConcurrentHeatRegistryOf<Key>::load(
    const std::filesystem::path& path, RegistryOptions options, std::vector<std::byte>* application) {
  snapshot::FileSource source(path);
  std::vector<std::byte> bytes;
  auto loaded = Internals::load(source, std::move(options), bytes);
  source.expect_end();
  if (application != nullptr) *application = std::move(bytes);
  return loaded;
}
template <RegistryKey Key>
std::unique_ptr<ConcurrentHeatRegistryOf<Key>> ConcurrentHeatRegistryOf<Key>::load(
    std::istream& in, RegistryOptions options, std::vector<std::byte>* application) {
  snapshot::StreamSource source(in);
  std::vector<std::byte> bytes;
  auto loaded = Internals::load(source, std::move(options), bytes);
  if (application != nullptr) *application = std::move(bytes);
  return loaded;
}

// Every member is defined above: an explicit instantiation emits only those
// defined before it (clang-14 left the snapshot members out otherwise).
template class ConcurrentHeatRegistryOf<std::uint64_t>;
template class ConcurrentHeatRegistryOf<BlobKey>;

}  // namespace heatkit
