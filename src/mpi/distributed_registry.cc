// DistributedHeatRegistryOf (include/heatkit/distributed_registry.h): ownership
// by a keyed hash, reads and commits routed to their owners with
// MPI_Alltoallv, one HeatRegistryOf per rank (docs/ARCHITECTURE.md, "Past one
// machine").
#include <heatkit/distributed_registry.h>

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "backends/backend.h"  // use_gpu
#include "mpi/distributed_snapshot.h"
#include "mpi/mpi_call.h"
#include "mpi/routed_exchange.h"
#include "mpi/snapshot_manifest.h"
#include "registry/key_hash.h"

namespace heatkit {
namespace {

// What travels: plain structs, the same bytes on every rank of one build. A
// read travels as the pair HeatRegistryOf::bump_batch takes (key, instant:
// two plain members), so the owner applies what arrived where it landed.
template <class Key>
using WireRead = std::pair<Key, Instant>;

template <class Key>
struct WireEmission {
  Key key;
  double rate;
  std::uint8_t kind;  // Decision
};

// A key type as a snapshot's header numbers it.
template <class Key>
constexpr std::uint32_t manifest_key_type = std::is_same_v<Key, BlobKey> ? mpi::kBlobKeys : mpi::kU64Keys;

// The options every rank must share, as one row each rank sends to all.
struct SharedOptions {
  std::uint64_t cap;
  std::uint64_t track_in_flight;  // 0 off, 1 on, 2 unset
  std::uint64_t has_hash_seed;
  std::uint64_t hash_seed;
  std::uint64_t key_bytes;
};

SharedOptions shared_options_of(const RegistryOptions& o, std::size_t key_bytes) {
  return {o.cap, o.track_in_flight ? std::uint64_t{*o.track_in_flight} : 2, o.hash_seed.has_value(),
          o.hash_seed.value_or(0), key_bytes};
}

// Names the first shared option that differs between ranks, with the ranks.
void require_same_options(const std::vector<SharedOptions>& rows) {
  const auto differ = [&](const char* field, auto get) {
    for (std::size_t r = 1; r < rows.size(); ++r) {
      if (get(rows[r]) != get(rows[0])) {
        throw std::invalid_argument(std::string("DistributedHeatRegistry: RegistryOptions::") + field +
                                    " differs between ranks: " + std::to_string(get(rows[0])) +
                                    " on rank 0, " + std::to_string(get(rows[r])) + " on rank " +
                                    std::to_string(r) + " (every rank must pass the same)");
      }
    }
  };
  differ("cap", [](const SharedOptions& s) { return s.cap; });
  differ("track_in_flight (0 off, 1 on, 2 unset)", [](const SharedOptions& s) { return s.track_in_flight; });
  differ("hash_seed (set on some ranks only)", [](const SharedOptions& s) { return s.has_hash_seed; });
  differ("hash_seed", [](const SharedOptions& s) { return s.hash_seed; });
  differ("key type (bytes per key)", [](const SharedOptions& s) { return s.key_bytes; });
}

}  // namespace

template <RegistryKey Key>
struct DistributedHeatRegistryOf<Key>::Impl {
  // Builds the rank's registry from the options it gets (its share of the
  // cap, its index secret): a fresh one, or one loaded from a snapshot.
  using MakeLocal = std::function<HeatRegistryOf<Key>(const RegistryOptions&)>;

  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  std::uint64_t seed = 0;
  KeyHash hash{0};
  std::size_t cap = 0;
  std::size_t local_cap = 0;
  std::optional<HeatRegistryOf<Key>> local;
  ExchangeStats stats;

  std::optional<mpi::RoutedExchange> exchange;  // over `comm`, once it is made
  mpi::Routed<WireRead<Key>> reads_routed;
  mpi::Routed<WireEmission<Key>> emissions_routed;

  template <class TimeOf>
  void bump(std::span<const Key> keys, std::size_t times, TimeOf time_of, Duration half_life);

  // `making` names the call in errors of make_local.
  Impl(MPI_Comm parent, RegistryOptions options, const MakeLocal& make_local, const char* making);
  ~Impl() {
    // A registry that outlives MPI_Finalize (a global, a caller's order)
    // has nothing left to free: MPI forbids the call then.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  int owner_of(const Key& key) const noexcept {
    if (size == 1) return 0;  // no hash to compute
    __extension__ using Wide = unsigned __int128;
    return static_cast<int>((static_cast<Wide>(hash(key)) * static_cast<unsigned>(size)) >> 64);
  }

  void check(int code, const char* call) const { mpi::check(code, call, rank); }

};

template <RegistryKey Key>
DistributedHeatRegistryOf<Key>::Impl::Impl(MPI_Comm parent, RegistryOptions options, const MakeLocal& make_local,
                                           const char* making) {
  if (parent == MPI_COMM_NULL) {
    throw std::invalid_argument("DistributedHeatRegistry: the communicator is MPI_COMM_NULL");
  }
  int parent_rank = -1;
  if (MPI_Comm_rank(parent, &parent_rank) != MPI_SUCCESS) parent_rank = -1;
  mpi::check(MPI_Comm_dup(parent, &comm), "MPI_Comm_dup", parent_rank);
  check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  exchange.emplace(comm, rank, size);

  std::vector<SharedOptions> rows(static_cast<std::size_t>(size));
  const SharedOptions mine = shared_options_of(options, sizeof(Key));
  check(MPI_Allgather(&mine, sizeof mine, MPI_BYTE, rows.data(), sizeof mine, MPI_BYTE, comm),
        "MPI_Allgather");
  require_same_options(rows);  // the same rows on every rank: every rank throws alike
  cap = options.cap;
  if (cap != 0 && cap < static_cast<std::size_t>(size)) {
    throw std::invalid_argument("DistributedHeatRegistry: RegistryOptions::cap " + std::to_string(cap) +
                                " is below the " + std::to_string(size) +
                                " ranks: each rank keeps at least one counter (0 = unbounded)");
  }
  const auto ranks = static_cast<std::size_t>(size);
  local_cap = cap == 0 ? 0 : cap / ranks + (static_cast<std::size_t>(rank) < cap % ranks ? 1 : 0);

  // The ownership secret: the caller's, or rank 0's draw sent to all.
  mpi::on_every_rank(comm, rank, "DistributedHeatRegistry (hash seed)", [&] {
    seed = options.hash_seed ? *options.hash_seed : (rank == 0 ? random_hash_seed() : 0);
  });
  check(MPI_Bcast(&seed, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
  hash = KeyHash(seed);

  // One GPU per rank: the rank's place on its node picks it. Asked on every
  // rank (the call is collective), whatever backend each rank runs.
  int local_rank = 0;
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  const int code = MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  check(code, "MPI_Comm_rank");

  RegistryOptions shard = options;
  shard.cap = local_cap;
  // A fixed seed makes runs repeat: each rank's index secret derives from it.
  if (options.hash_seed) shard.hash_seed = mix64(seed ^ (0x9e3779b97f4a7c15ULL * (rank + 1)));
  // Backends may differ between ranks; an unknown name throws here, agreed on.
  mpi::on_every_rank(comm, rank, making, [&] {
    if (backend_info(options.backend).device_columns) use_gpu(local_rank);
    local.emplace(make_local(shard));
  });
}


template <RegistryKey Key>
DistributedHeatRegistryOf<Key>::DistributedHeatRegistryOf(MPI_Comm comm, RegistryOptions options)
    : impl_(std::make_unique<Impl>(comm, std::move(options),
                                   [](const RegistryOptions& shard) { return HeatRegistryOf<Key>(shard); },
                                   "DistributedHeatRegistry (the rank's registry)")) {}

template <RegistryKey Key>
DistributedHeatRegistryOf<Key>::DistributedHeatRegistryOf(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

template <RegistryKey Key>
DistributedHeatRegistryOf<Key>::DistributedHeatRegistryOf(DistributedHeatRegistryOf&&) noexcept = default;
template <RegistryKey Key>
DistributedHeatRegistryOf<Key>& DistributedHeatRegistryOf<Key>::operator=(DistributedHeatRegistryOf&&) noexcept =
    default;
template <RegistryKey Key>
DistributedHeatRegistryOf<Key>::~DistributedHeatRegistryOf() = default;

template <RegistryKey Key>
int DistributedHeatRegistryOf<Key>::rank() const noexcept { return impl_->rank; }
template <RegistryKey Key>
int DistributedHeatRegistryOf<Key>::ranks() const noexcept { return impl_->size; }
template <RegistryKey Key>
MPI_Comm DistributedHeatRegistryOf<Key>::communicator() const noexcept { return impl_->comm; }
template <RegistryKey Key>
int DistributedHeatRegistryOf<Key>::owner(const Key& key) const noexcept { return impl_->owner_of(key); }
template <RegistryKey Key>
std::uint64_t DistributedHeatRegistryOf<Key>::ownership_seed() const noexcept { return impl_->seed; }
template <RegistryKey Key>
std::size_t DistributedHeatRegistryOf<Key>::cap() const noexcept { return impl_->cap; }
template <RegistryKey Key>
std::size_t DistributedHeatRegistryOf<Key>::local_cap() const noexcept { return impl_->local_cap; }
template <RegistryKey Key>
HeatRegistryOf<Key>& DistributedHeatRegistryOf<Key>::local() noexcept { return *impl_->local; }
template <RegistryKey Key>
const HeatRegistryOf<Key>& DistributedHeatRegistryOf<Key>::local() const noexcept { return *impl_->local; }
template <RegistryKey Key>
const ExchangeStats& DistributedHeatRegistryOf<Key>::exchange_stats() const noexcept { return impl_->stats; }

// Both bump_batch forms: the read of keys[i] is at time_of(i), with
// `times` instants given (keys.size() for one instant).
template <RegistryKey Key>
template <class TimeOf>
void DistributedHeatRegistryOf<Key>::Impl::bump(std::span<const Key> keys, std::size_t times, TimeOf time_of,
                                                Duration half_life) {
  Impl& m = *this;
  const std::size_t n = keys.size();
  const std::int64_t half_life_ns = half_life.count();
  const auto validate = [&] {
    if (keys.size() != times) {
      throw std::invalid_argument("DistributedHeatRegistry::bump_batch: " + std::to_string(keys.size()) +
                                  " keys but " + std::to_string(times) + " times on rank " +
                                  std::to_string(m.rank));
    }
    if (half_life_ns < 0) {
      throw std::invalid_argument("DistributedHeatRegistry::bump_batch: half_life must be >= 0, got " +
                                  std::to_string(half_life_ns) + " ns on rank " + std::to_string(m.rank));
    }
  };
  m.exchange->template route<WireRead<Key>>(
      "DistributedHeatRegistry::bump_batch", n, half_life_ns, validate,
      [&](std::size_t i) { return m.owner_of(keys[i]); },
      [&](std::size_t i) { return WireRead<Key>{keys[i], time_of(i)}; }, m.reads_routed, m.stats);
  m.stats.reads_routed += n;
  // Source by source, rank 0's first: the order of the ranks' batches
  // concatenated rank by rank.
  for (int source = 0; source < m.size; ++source) {
    const std::span<const WireRead<Key>> reads = m.exchange->segment(m.reads_routed, source);
    if (reads.empty()) continue;
    m.local->bump_batch(reads, Duration(m.exchange->word_from(source)));  // the sender's half-life
    m.stats.reads_applied += reads.size();
  }
}

template <RegistryKey Key>
void DistributedHeatRegistryOf<Key>::bump_batch(std::span<const Key> keys, std::span<const Instant> times,
                                                Duration half_life) {
  impl_->bump(keys, times.size(), [&](std::size_t i) { return times[i]; }, half_life);
}

template <RegistryKey Key>
void DistributedHeatRegistryOf<Key>::bump_batch(std::span<const Key> keys, Duration half_life, Instant now) {
  impl_->bump(keys, keys.size(), [now](std::size_t) { return now; }, half_life);
}

template <RegistryKey Key>
auto DistributedHeatRegistryOf<Key>::tick(const Policy& policy, Instant now) -> Emissions {
  return impl_->local->tick(policy, now);
}

template <RegistryKey Key>
void DistributedHeatRegistryOf<Key>::tick(const Policy& policy, Instant now, Emissions& out) {
  impl_->local->tick(policy, now, out);
}

template <RegistryKey Key>
void DistributedHeatRegistryOf<Key>::commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
  Impl& m = *impl_;
  m.exchange->template route<WireEmission<Key>>(
      "DistributedHeatRegistry::commit", emissions.size(), 0, [] {},
      [&](std::size_t i) { return m.owner_of(emissions[i].first); },
      [&](std::size_t i) {
        return WireEmission<Key>{emissions[i].first, emissions[i].second.rate,
                                 static_cast<std::uint8_t>(emissions[i].second.kind)};
      },
      m.emissions_routed, m.stats);
  Emissions mine;
  for (int source = 0; source < m.size; ++source) {
    for (const WireEmission<Key>& e : m.exchange->segment(m.emissions_routed, source)) {
      mine.emplace_back(e.key, HeatEmission{static_cast<Decision>(e.kind), e.rate});
    }
  }
  m.local->commit(mine);
}

template <RegistryKey Key>
auto DistributedHeatRegistryOf<Key>::gather(std::span<const std::pair<Key, HeatEmission>> emissions,
                                            int root) const -> Emissions {
  const Impl& m = *impl_;
  using Wire = WireEmission<Key>;
  std::vector<Wire> send;
  std::vector<Wire> recv;
  std::vector<long long> counts(static_cast<std::size_t>(m.size), 0);
  std::vector<int> recv_counts;
  std::vector<int> displs;
  mpi::on_every_rank(m.comm, m.rank, "DistributedHeatRegistry::gather", [&] {
    if (root < 0 || root >= m.size) {
      throw std::invalid_argument("DistributedHeatRegistry::gather: root " + std::to_string(root) +
                                  " is not a rank (0 to " + std::to_string(m.size - 1) + ")");
    }
    if (emissions.size() > static_cast<std::size_t>(INT_MAX)) {
      throw std::invalid_argument("DistributedHeatRegistry::gather: more than 2^31 - 1 emissions on rank " +
                                  std::to_string(m.rank));
    }
    send.resize(emissions.size());
    for (std::size_t i = 0; i < emissions.size(); ++i) {
      send[i] = Wire{emissions[i].first, emissions[i].second.rate,
                     static_cast<std::uint8_t>(emissions[i].second.kind)};
    }
  });
  const long long mine = static_cast<long long>(send.size());
  m.check(MPI_Gather(&mine, 1, MPI_LONG_LONG, counts.data(), 1, MPI_LONG_LONG, root, m.comm), "MPI_Gather");
  mpi::on_every_rank(m.comm, m.rank, "DistributedHeatRegistry::gather", [&] {
    if (m.rank != root) return;
    long long total = 0;
    recv_counts.resize(counts.size());
    displs.resize(counts.size());
    for (std::size_t s = 0; s < counts.size(); ++s) {
      displs[s] = static_cast<int>(std::min<long long>(total, INT_MAX));
      recv_counts[s] = static_cast<int>(counts[s]);
      total += counts[s];
    }
    if (total > INT_MAX) {
      throw std::invalid_argument("DistributedHeatRegistry::gather: " + std::to_string(total) +
                                  " emissions in all, more than 2^31 - 1");
    }
    recv.resize(static_cast<std::size_t>(total));
  });
  MPI_Datatype item = MPI_DATATYPE_NULL;
  m.check(MPI_Type_contiguous(sizeof(Wire), MPI_BYTE, &item), "MPI_Type_contiguous");
  m.check(MPI_Type_commit(&item), "MPI_Type_commit");
  const int code = MPI_Gatherv(send.data(), static_cast<int>(send.size()), item, recv.data(),
                               recv_counts.data(), displs.data(), item, root, m.comm);
  MPI_Type_free(&item);
  m.check(code, "MPI_Gatherv");
  Emissions out(recv.size());
  for (std::size_t i = 0; i < recv.size(); ++i) {
    out[i] = {recv[i].key, HeatEmission{static_cast<Decision>(recv[i].kind), recv[i].rate}};
  }
  return out;
}

template <RegistryKey Key>
std::size_t DistributedHeatRegistryOf<Key>::size() const {
  const Impl& m = *impl_;
  const std::uint64_t mine = m.local->size();
  std::uint64_t total = 0;
  m.check(MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, m.comm), "MPI_Allreduce");
  return static_cast<std::size_t>(total);
}

template <RegistryKey Key>
std::optional<HeatCounter> DistributedHeatRegistryOf<Key>::get(const Key& key) const {
  const Impl& m = *impl_;
  static_assert(std::is_trivially_copyable_v<HeatCounter>);
  struct Answer {
    std::uint8_t present = 0;
    alignas(HeatCounter) unsigned char counter[sizeof(HeatCounter)] = {};
  } answer;
  const int owner = m.owner_of(key);
  if (owner == m.rank) {
    if (const std::optional<HeatCounter> found = m.local->get(key)) {
      answer.present = 1;
      std::memcpy(answer.counter, &*found, sizeof(HeatCounter));
    }
  }
  m.check(MPI_Bcast(&answer, sizeof answer, MPI_BYTE, owner, m.comm), "MPI_Bcast");
  if (answer.present == 0) return std::nullopt;
  return std::bit_cast<HeatCounter>(answer.counter);
}

template <RegistryKey Key>
bool DistributedHeatRegistryOf<Key>::rollback(const Key& key) {
  if (!owns(key)) return false;
  impl_->local->rollback(key);
  return true;
}

template <RegistryKey Key>
bool DistributedHeatRegistryOf<Key>::remove(const Key& key) {
  if (!owns(key)) return false;
  impl_->local->remove(key);
  return true;
}

template <RegistryKey Key>
bool DistributedHeatRegistryOf<Key>::touch(const Key& key, Duration half_life, Instant now) {
  if (!owns(key)) return false;
  impl_->local->entry(key, half_life, now);
  return true;
}

template <RegistryKey Key>
bool DistributedHeatRegistryOf<Key>::decay(const Key& key, Instant now) {
  if (!owns(key)) return false;
  HeatRegistryOf<Key>& local = *impl_->local;
  if (const auto counter = local.get(key)) local.entry(key, counter->half_life(), now).decay_to(now);
  return true;
}

template <RegistryKey Key>
void DistributedHeatRegistryOf<Key>::save(const std::filesystem::path& path) const {
  const Impl& m = *impl_;
  const mpi::DistributedIdentity identity{manifest_key_type<Key>, m.seed, m.cap};
  mpi::save_distributed({m.comm, m.rank, m.size}, identity, path,
                        [&](const std::filesystem::path& file) { m.local->save(file); });
}

template <RegistryKey Key>
DistributedHeatRegistryOf<Key> DistributedHeatRegistryOf<Key>::load(MPI_Comm comm, const std::filesystem::path& path,
                                                                     RegistryOptions options) {
  const mpi::RankSnapshot mine = mpi::agree_on_manifest(comm, path, manifest_key_type<Key>);
  // What the ranks must share is the manifest's; each rank's file holds its
  // share of the cap and its in-flight tracking.
  options.cap = static_cast<std::size_t>(mine.cap);
  options.hash_seed = mine.ownership_seed;
  options.track_in_flight.reset();
  const auto load_local = [&](const RegistryOptions& shard) {
    mpi::check_rank_file_size(mine);
    return HeatRegistryOf<Key>::load(mine.file, shard);
  };
  return DistributedHeatRegistryOf(
      std::make_unique<Impl>(comm, std::move(options), load_local, "DistributedHeatRegistry::load"));
}

template class DistributedHeatRegistryOf<std::uint64_t>;
template class DistributedHeatRegistryOf<BlobKey>;

}  // namespace heatkit
