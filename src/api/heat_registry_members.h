// The members of HeatRegistry and BlobHeatRegistry (<heatkit/registry.h>):
// each calls the internal BasicHeatRegistry (registry/registry.h). Included
// by one file per key type (heat_registry_u64.cc, heat_registry_blob.cc),
// whose explicit instantiation compiles the internal registry's hot paths
// (the look-up, the bump, the batch loop) inline there: one call per
// operation.
//
// The internal template itself is not explicitly instantiated: that makes
// GCC emit every member out of line and then call entry() and Entry::bump
// from the facade instead of inlining them (a second call per operation, in
// the object code of this file).
#pragma once

#include <heatkit/registry.h>

#include <utility>

#include "api/entry_access.h"
#include "api/registry_impl.h"
#include "registry/registry.h"
#include "snapshot/registry_snapshot.h"

namespace heatkit {


// Entry

template <RegistryKey Key>
void HeatRegistryOf<Key>::Entry::bump(Instant now) {
  Access::internal(*this).bump(now);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::Entry::decay_to(Instant now) {
  Access::internal(*this).decay_to(now);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::Entry::record_emission(double rate) {
  Access::internal(*this).record_emission(rate);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::Entry::record_withdrawal() {
  Access::internal(*this).record_withdrawal();
}
template <RegistryKey Key>
HeatCounter HeatRegistryOf<Key>::Entry::counter() const {
  return Access::internal(*this).counter();
}
template <RegistryKey Key>
double HeatRegistryOf<Key>::Entry::rate() const {
  return Access::internal(*this).rate();
}
template <RegistryKey Key>
std::optional<double> HeatRegistryOf<Key>::Entry::last_emitted() const {
  return Access::internal(*this).last_emitted();
}
template <RegistryKey Key>
Instant HeatRegistryOf<Key>::Entry::last_update() const {
  return Access::internal(*this).last_update();
}
template <RegistryKey Key>
Duration HeatRegistryOf<Key>::Entry::half_life() const {
  return Access::internal(*this).half_life();
}
template <RegistryKey Key>
bool HeatRegistryOf<Key>::Entry::in_flight() const {
  return Access::internal(*this).in_flight();
}

// The registry

template <RegistryKey Key>
HeatRegistryOf<Key>::HeatRegistryOf() : HeatRegistryOf(RegistryOptions{}) {}
template <RegistryKey Key>
HeatRegistryOf<Key>::HeatRegistryOf(RegistryOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
template <RegistryKey Key>
HeatRegistryOf<Key> HeatRegistryOf<Key>::with_cap(std::size_t cap) {
  RegistryOptions o;
  o.cap = cap;
  return HeatRegistryOf(std::move(o));
}
template <RegistryKey Key>
HeatRegistryOf<Key> HeatRegistryOf<Key>::unbounded() {
  return with_cap(0);
}
template <RegistryKey Key>
HeatRegistryOf<Key>::HeatRegistryOf(HeatRegistryOf&&) noexcept = default;
template <RegistryKey Key>
HeatRegistryOf<Key>& HeatRegistryOf<Key>::operator=(HeatRegistryOf&&) noexcept = default;
template <RegistryKey Key>
HeatRegistryOf<Key>::~HeatRegistryOf() = default;
template <RegistryKey Key>
HeatRegistryOf<Key>::HeatRegistryOf(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

template <RegistryKey Key>
std::size_t HeatRegistryOf<Key>::cap() const noexcept {
  return impl_->registry.cap();
}
template <RegistryKey Key>
std::size_t HeatRegistryOf<Key>::size() const {
  return impl_->registry.size();
}
template <RegistryKey Key>
bool HeatRegistryOf<Key>::empty() const {
  return impl_->registry.empty();
}
template <RegistryKey Key>
bool HeatRegistryOf<Key>::tracks_in_flight() const noexcept {
  return impl_->registry.tracks_in_flight();
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::set_track_in_flight(bool on) noexcept {
  impl_->registry.set_track_in_flight(on);
}
template <RegistryKey Key>
std::string_view HeatRegistryOf<Key>::backend() const noexcept {
  return impl_->registry.backend();
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::set_threads(unsigned threads) {
  impl_->registry.set_threads(threads);
}
template <RegistryKey Key>
const RegistryStats& HeatRegistryOf<Key>::stats() const {
  return impl_->registry.stats();
}
template <RegistryKey Key>
IndexStats HeatRegistryOf<Key>::index_stats() const {
  return impl_->registry.index_stats();
}
template <RegistryKey Key>
std::uint64_t HeatRegistryOf<Key>::hash_seed() const noexcept {
  return impl_->registry.hash_seed();
}

template <RegistryKey Key>
void HeatRegistryOf<Key>::set_bump_queue(std::size_t limit) {
  impl_->registry.set_bump_queue(limit);
}
template <RegistryKey Key>
std::size_t HeatRegistryOf<Key>::bump_queue() const noexcept {
  return impl_->registry.bump_queue();
}
template <RegistryKey Key>
std::size_t HeatRegistryOf<Key>::queued_reads() const noexcept {
  return impl_->registry.queued_reads();
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::apply_queue() const {
  impl_->registry.apply_queue();
}

template <RegistryKey Key>
typename HeatRegistryOf<Key>::Entry HeatRegistryOf<Key>::entry(const Key& key, Duration half_life,
                                                              Instant now) {
  return Entry::Access::wrap(impl_->registry.entry(key, half_life, now));
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::bump_batch(std::span<const Key> keys, Duration half_life, Instant now) {
  impl_->registry.bump_batch(keys, half_life, now);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::bump_batch(std::span<const std::pair<Key, Instant>> reads,
                                     Duration half_life) {
  impl_->registry.bump_batch(reads, half_life);
}

template <RegistryKey Key>
std::optional<HeatCounter> HeatRegistryOf<Key>::get(const Key& key) const {
  return impl_->registry.get(key);
}
template <RegistryKey Key>
bool HeatRegistryOf<Key>::contains(const Key& key) const {
  return impl_->registry.contains(key);
}
template <RegistryKey Key>
bool HeatRegistryOf<Key>::in_flight(const Key& key) const {
  return impl_->registry.in_flight(key);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::remove(const Key& key) {
  impl_->registry.remove(key);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::for_each_entry(
    detail::FunctionRef<void(const Key&, const HeatCounter&)> f) const {
  impl_->registry.for_each(f);
}

template <RegistryKey Key>
typename HeatRegistryOf<Key>::Emissions HeatRegistryOf<Key>::tick(const Policy& policy, Instant now) {
  return impl_->registry.tick(policy, now);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::tick(const Policy& policy, Instant now, Emissions& out) {
  impl_->registry.tick(policy, now, out);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
  impl_->registry.commit(emissions);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::rollback(const Key& key) {
  impl_->registry.rollback(key);
}
template <RegistryKey Key>
MemoryUsage HeatRegistryOf<Key>::memory_usage() const {
  return impl_->registry.memory_usage();
}

// Snapshots

template <RegistryKey Key>
void HeatRegistryOf<Key>::save(const std::filesystem::path& path,
                               std::span<const std::byte> application) const {
  save_snapshot(impl_->registry, path, application);
}
template <RegistryKey Key>
void HeatRegistryOf<Key>::save(std::ostream& out, std::span<const std::byte> application) const {
  save_snapshot(impl_->registry, out, application);
}
template <RegistryKey Key>
HeatRegistryOf<Key> HeatRegistryOf<Key>::load(const std::filesystem::path& path, RegistryOptions options,
                                              std::vector<std::byte>* application) {
  return HeatRegistryOf(std::make_unique<Impl>(load_snapshot<Key>(path, std::move(options), application)));
}
template <RegistryKey Key>
HeatRegistryOf<Key> HeatRegistryOf<Key>::load(std::istream& in, RegistryOptions options,
                                              std::vector<std::byte>* application) {
  return HeatRegistryOf(std::make_unique<Impl>(load_snapshot<Key>(in, std::move(options), application)));
}

}  // namespace heatkit
