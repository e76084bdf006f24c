// Distributed snapshots (run under mpirun with 1 to 4 ranks): a loaded
// registry continues as the saved one would (same owners, same ticks), a
// save that fails on one rank leaves the previous snapshot loadable, and a
// manifest or rank file that is damaged, missing or of another job size is
// refused on every rank, naming the rank.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <heatkit/distributed_registry.h>
#include <heatkit/heatkit.h>

#include "mpi/snapshot_manifest.h"
#include "tests/mpi/mpi_test_main.h"

namespace heatkit::test {
namespace {

namespace fs = std::filesystem;

constexpr Duration kHalfLife{1'000'000};
const Policy kPolicy{true, 2.0f, kHalfLife};

// A folder every rank sees (rank 0 makes it, the others learn its name),
// removed after the test.
class SharedFolder {
 public:
  SharedFolder() {
    std::string name(4096, '\0');
    if (world_rank() == 0) {
      std::string pattern = (fs::temp_directory_path() / "heatkit-mpi-snapshot-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) std::abort();
      name = pattern;
    }
    name.resize(4096);
    MPI_Bcast(name.data(), 4096, MPI_CHAR, 0, MPI_COMM_WORLD);
    path_ = name.c_str();
  }
  ~SharedFolder() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) fs::remove_all(path_);
  }
  SharedFolder(const SharedFolder&) = delete;
  SharedFolder& operator=(const SharedFolder&) = delete;
  const fs::path& path() const { return path_; }
  // The names in the folder, sorted (rank 0 lists them; every rank gets them).
  std::vector<std::string> names() const {
    std::string joined;
    if (world_rank() == 0) {
      std::vector<std::string> names;
      for (const auto& entry : fs::directory_iterator(path_)) names.push_back(entry.path().filename().string());
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) joined += n + "\n";
    }
    std::uint64_t size = joined.size();
    MPI_Bcast(&size, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    joined.resize(size);
    MPI_Bcast(joined.data(), static_cast<int>(size), MPI_CHAR, 0, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (std::size_t at = 0; at < joined.size();) {
      const std::size_t end = joined.find('\n', at);
      out.push_back(joined.substr(at, end - at));
      at = end + 1;
    }
    return out;
  }
  // The file of `rank` the folder holds (the one whose name ends so).
  fs::path rank_file(int rank) const {
    const std::string suffix = ".rank" + std::to_string(rank);
    for (const std::string& n : names()) {
      if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) return path_ / n;
    }
    return {};
  }

 private:
  fs::path path_;
};

template <class Key>
Key key_number(std::uint64_t n) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return n * 0x9e3779b97f4a7c15ULL;
  } else {
    Key k{};
    std::memcpy(k.data(), &n, sizeof n);
    k[31] = static_cast<std::uint8_t>(n * 7);
    return k;
  }
}

RegistryOptions options_for(const std::string& backend, std::size_t cap) {
  RegistryOptions o;
  o.cap = cap;
  o.backend = backend;
  o.hash_seed = 77;
  o.threads = 1;
  return o;
}

// One step of a run every rank takes part in: reads from every rank (its own
// random keys), a tick, and a commit of some of this rank's candidates.
template <class Key>
typename DistributedHeatRegistryOf<Key>::Emissions step(DistributedHeatRegistryOf<Key>& r, std::uint64_t seed,
                                                        int index) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<std::uint64_t>(index) * 131 +
                      static_cast<std::uint64_t>(r.rank()));
  std::vector<Key> keys(100);
  for (Key& k : keys) k = key_number<Key>(rng() % 3000);
  const Instant now = instant_from_ns(index * 300'000 + static_cast<std::int64_t>(rng() % 1000));
  r.bump_batch(keys, kHalfLife, now);
  auto candidates = r.tick(kPolicy, now);
  typename DistributedHeatRegistryOf<Key>::Emissions committed;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i % 3 != 0) committed.push_back(candidates[i]);  // the rest stay in flight, or uncommitted
  }
  r.commit(committed);
  for (std::size_t i = 0; i < candidates.size(); i += 3) r.rollback(candidates[i].first);
  return candidates;
}

struct CounterRow {
  double rate;
  std::int64_t last_update;
  std::optional<double> last_emitted;
  std::int64_t half_life;
};

template <class Key>
std::vector<std::pair<Key, CounterRow>> rows_of(const HeatRegistryOf<Key>& r) {
  std::vector<std::pair<Key, CounterRow>> rows;
  r.for_each([&](const Key& k, const HeatCounter& c) {
    rows.push_back({k, {c.rate(), to_ns(c.last_update()), c.last_emitted(), c.half_life().count()}});
  });
  return rows;
}

bool close(double a, double b, bool exact) {
  return exact ? a == b : std::abs(a - b) <= 1e-12 * std::max(std::abs(a), std::abs(b));
}

template <class Key>
void expect_same_rows(const HeatRegistryOf<Key>& loaded, const HeatRegistryOf<Key>& saved, bool exact) {
  const auto a = rows_of(loaded);
  const auto b = rows_of(saved);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].first == b[i].first) << "slot order differs at " << i;
    EXPECT_TRUE(close(a[i].second.rate, b[i].second.rate, exact)) << a[i].second.rate << " vs " << b[i].second.rate;
    EXPECT_EQ(a[i].second.last_update, b[i].second.last_update);
    EXPECT_EQ(a[i].second.last_emitted.has_value(), b[i].second.last_emitted.has_value());
    if (a[i].second.last_emitted && b[i].second.last_emitted) {
      EXPECT_TRUE(close(*a[i].second.last_emitted, *b[i].second.last_emitted, exact));
    }
    EXPECT_EQ(a[i].second.half_life, b[i].second.half_life);
  }
}

template <class Key>
void expect_same_ticks(const typename DistributedHeatRegistryOf<Key>::Emissions& a,
                       const typename DistributedHeatRegistryOf<Key>::Emissions& b, bool exact) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(a[i].first == b[i].first) << "candidate " << i << " differs";
    EXPECT_EQ(a[i].second.kind, b[i].second.kind);
    EXPECT_TRUE(close(a[i].second.rate, b[i].second.rate, exact)) << a[i].second.rate << " vs " << b[i].second.rate;
  }
}

// Saves a worked registry, loads it, and runs both on: every rank must give
// the same answers from both.
template <class Key>
void round_trip_then_continue(const std::string& backend) {
  const SharedFolder folder;
  const std::size_t cap = 400 * static_cast<std::size_t>(world_size());  // evicts: 3000 keys
  DistributedHeatRegistryOf<Key> original(MPI_COMM_WORLD, options_for(backend, cap));
  for (int i = 0; i < 20; ++i) step(original, 1, i);
  // Nothing in flight when saved (a load has none): both then tick the same.
  std::vector<Key> keys;
  original.local().for_each([&](const Key& k, const HeatCounter&) { keys.push_back(k); });
  for (const Key& k : keys) {
    if (original.local().in_flight(k)) original.rollback(k);
  }

  original.save(folder.path() / "snap");
  RegistryOptions other = options_for(backend, 1);  // cap and secret come from the manifest
  other.hash_seed = 5;
  DistributedHeatRegistryOf<Key> loaded =
      DistributedHeatRegistryOf<Key>::load(MPI_COMM_WORLD, folder.path() / "snap", other);

  EXPECT_EQ(loaded.ownership_seed(), original.ownership_seed());
  EXPECT_EQ(loaded.cap(), cap);
  EXPECT_EQ(loaded.local_cap(), original.local_cap());
  EXPECT_EQ(loaded.local().cap(), original.local().cap());
  EXPECT_EQ(loaded.local().tracks_in_flight(), original.local().tracks_in_flight());
  EXPECT_EQ(loaded.local().backend(), backend);
  EXPECT_EQ(loaded.size(), original.size());
  EXPECT_EQ(loaded.local().stats().evictions, original.local().stats().evictions);
  for (std::uint64_t n = 0; n < 3000; ++n) {
    EXPECT_EQ(loaded.owner(key_number<Key>(n)), original.owner(key_number<Key>(n)));
  }
  const bool exact = backend == "scalar";
  expect_same_rows(loaded.local(), original.local(), exact);
  EXPECT_GT(original.local().stats().evictions, 0u);  // the order of eviction was saved too
  std::size_t candidates = 0;
  for (int i = 20; i < 40; ++i) {
    const auto from_loaded = step(loaded, 2, i);
    const auto from_original = step(original, 2, i);
    expect_same_ticks<Key>(from_loaded, from_original, exact);
    candidates += from_original.size();
  }
  EXPECT_GT(candidates, 100u);
  expect_same_rows(loaded.local(), original.local(), exact);
  EXPECT_EQ(folder.names().size(), static_cast<std::size_t>(world_size()) + 1);  // the manifest and a file a rank
}

TEST(DistributedSnapshot, U64RoundTripContinuesExactlyOnScalar) { round_trip_then_continue<std::uint64_t>("scalar"); }
TEST(DistributedSnapshot, BlobRoundTripContinuesExactlyOnScalar) { round_trip_then_continue<BlobKey>("scalar"); }
TEST(DistributedSnapshot, U64RoundTripContinuesOnTheDefaultBackend) {
  round_trip_then_continue<std::uint64_t>(std::string(default_backend()));
}

template <class F>
std::optional<SnapshotError> snapshot_error_of(F&& f) {
  try {
    f();
  } catch (const SnapshotError& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a SnapshotError: " << e.what();
  }
  return std::nullopt;
}

bool mentions(const std::optional<SnapshotError>& e, const std::string& text) {
  return e && std::string(e->what()).find(text) != std::string::npos;
}

std::string rank_of(int rank) { return "rank " + std::to_string(rank) + " of " + std::to_string(world_size()); }

TEST(DistributedSnapshot, ARankCountOtherThanTheSavedOneIsRefusedOnEveryRank) {
  if (world_size() == 1) GTEST_SKIP() << "needs a communicator of another size than the job's";
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  registry.bump_batch(std::vector<std::uint64_t>{1, 2, 3}, kHalfLife, instant_from_ns(0));
  registry.save(folder.path() / "snap");
  // Rank 0 alone, the others together: neither has the job's size.
  MPI_Comm part = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() == 0 ? 0 : 1, world_rank(), &part);
  int part_size = 0;
  MPI_Comm_size(part, &part_size);
  const auto error = snapshot_error_of([&] { DistributedHeatRegistry::load(part, folder.path() / "snap"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->problem(), SnapshotProblem::kInconsistent);
  EXPECT_TRUE(mentions(error, "saved by " + std::to_string(world_size()) + " ranks")) << error->what();
  EXPECT_TRUE(mentions(error, "has " + std::to_string(part_size))) << error->what();
  MPI_Comm_free(&part);
}

TEST(DistributedSnapshot, AnotherKeyTypeIsRefusedOnEveryRank) {
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  registry.save(folder.path() / "snap");
  const auto error =
      snapshot_error_of([&] { DistributedBlobHeatRegistry::load(MPI_COMM_WORLD, folder.path() / "snap"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->problem(), SnapshotProblem::kKeyType) << error->what();
}

// Damages one rank's file in one way; every rank must refuse the load with
// `problem`, naming that rank.
void expect_damaged_rank_file_refused(const std::string& how, SnapshotProblem problem) {
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  std::vector<std::uint64_t> keys(5000);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = i;
  registry.bump_batch(keys, kHalfLife, instant_from_ns(0));
  registry.save(folder.path() / "snap");
  const int victim = world_size() - 1;
  const fs::path file = folder.rank_file(victim);
  ASSERT_FALSE(file.empty());
  if (world_rank() == 0) {
    if (how == "flip") {
      std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
      f.put('\x5a');
    } else if (how == "truncate") {
      fs::resize_file(file, fs::file_size(file) - 100);
    } else if (how == "remove") {
      fs::remove(file);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const auto error = snapshot_error_of([&] { DistributedHeatRegistry::load(MPI_COMM_WORLD, folder.path() / "snap"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->problem(), problem) << error->what();
  EXPECT_TRUE(mentions(error, rank_of(victim))) << error->what();
  EXPECT_TRUE(mentions(error, file.filename().string())) << error->what();
}

TEST(DistributedSnapshot, ADamagedRankFileIsRefusedOnEveryRankNamingTheRank) {
  expect_damaged_rank_file_refused("flip", SnapshotProblem::kChecksum);
}
TEST(DistributedSnapshot, AShortRankFileIsRefusedOnEveryRankNamingTheRank) {
  expect_damaged_rank_file_refused("truncate", SnapshotProblem::kTruncated);
}
TEST(DistributedSnapshot, AMissingRankFileIsRefusedOnEveryRankNamingTheRank) {
  expect_damaged_rank_file_refused("remove", SnapshotProblem::kIo);
}

TEST(DistributedSnapshot, ADamagedOrForeignManifestIsRefusedOnEveryRank) {
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  registry.save(folder.path() / "snap");
  if (world_rank() == 0) {
    fs::copy_file(folder.path() / "snap", folder.path() / "damaged");
    std::fstream f(folder.path() / "damaged", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);  // the ownership secret, under the header's checksum
    f.put('\x01');
    f.close();
    registry.local().save(folder.path() / "single");  // a registry's snapshot, not a manifest
    fs::copy_file(folder.path() / "snap", folder.path() / "short");
    fs::resize_file(folder.path() / "short", fs::file_size(folder.path() / "snap") - 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::pair<const char*, SnapshotProblem> cases[] = {{"damaged", SnapshotProblem::kChecksum},
                                                           {"single", SnapshotProblem::kNotASnapshot},
                                                           {"short", SnapshotProblem::kTruncated},
                                                           {"missing", SnapshotProblem::kIo}};
  for (const auto& [name, problem] : cases) {
    const auto error = snapshot_error_of([&] { DistributedHeatRegistry::load(MPI_COMM_WORLD, folder.path() / name); });
    ASSERT_TRUE(error.has_value()) << name;
    EXPECT_EQ(error->problem(), problem) << error->what();
    EXPECT_TRUE(mentions(error, rank_of(0))) << error->what();  // rank 0 reads the manifest
  }
}

// Limits the size of the files this rank writes (ignoring the signal that
// would end it), so that its next save fails with EFBIG.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
};

TEST(DistributedSnapshot, ASaveThatFailsOnOneRankLeavesThePreviousSnapshotLoadable) {
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  for (int i = 0; i < 5; ++i) step(registry, 3, i);
  registry.save(folder.path() / "snap");
  const auto saved_rows = rows_of(registry.local());
  const std::vector<std::string> saved_names = folder.names();
  for (int i = 5; i < 10; ++i) step(registry, 3, i);

  const int victim = world_size() - 1;
  std::optional<SnapshotError> error;
  {
    std::optional<FileSizeLimit> limit;
    if (world_rank() == victim) limit.emplace(4096);
    error = snapshot_error_of([&] { registry.save(folder.path() / "snap"); });
  }
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->problem(), SnapshotProblem::kIo) << error->what();
  EXPECT_TRUE(mentions(error, "DistributedHeatRegistry::save: " + rank_of(victim))) << error->what();
  EXPECT_EQ(folder.names(), saved_names) << "the new generation's files (or temporary ones) were left";

  DistributedHeatRegistry loaded = DistributedHeatRegistry::load(MPI_COMM_WORLD, folder.path() / "snap",
                                                                 options_for("scalar", 0));
  const auto loaded_rows = rows_of(loaded.local());
  ASSERT_EQ(loaded_rows.size(), saved_rows.size());
  for (std::size_t i = 0; i < saved_rows.size(); ++i) {
    EXPECT_EQ(loaded_rows[i].first, saved_rows[i].first);
    EXPECT_EQ(loaded_rows[i].second.rate, saved_rows[i].second.rate);
  }
  // The next save that succeeds replaces it, old files and all.
  registry.save(folder.path() / "snap");
  const std::vector<std::string> names = folder.names();
  EXPECT_EQ(names.size(), static_cast<std::size_t>(world_size()) + 1);
  for (const std::string& n : names) {
    EXPECT_TRUE(std::find(saved_names.begin(), saved_names.end(), n) == saved_names.end() || n == "snap") << n;
  }
}

TEST(DistributedSnapshot, EachSaveRemovesThePreviousGenerationsFiles) {
  const SharedFolder folder;
  DistributedBlobHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  std::vector<std::vector<std::string>> generations;
  for (int i = 0; i < 3; ++i) {
    step(registry, 4, i);
    registry.save(folder.path() / "snap");
    generations.push_back(folder.names());
    EXPECT_EQ(generations.back().size(), static_cast<std::size_t>(world_size()) + 1);
    EXPECT_EQ(DistributedBlobHeatRegistry::load(MPI_COMM_WORLD, folder.path() / "snap").size(), registry.size());
  }
  EXPECT_NE(generations[0], generations[1]);
  EXPECT_NE(generations[1], generations[2]);
}

TEST(DistributedSnapshot, ASaveIntoAMissingFolderFailsOnEveryRank) {
  const SharedFolder folder;
  DistributedHeatRegistry registry(MPI_COMM_WORLD, options_for("scalar", 0));
  const auto error = snapshot_error_of([&] { registry.save(folder.path() / "no-such-folder" / "snap"); });
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->problem(), SnapshotProblem::kIo) << error->what();
  EXPECT_TRUE(mentions(error, rank_of(0))) << error->what();  // the lowest rank that failed
  EXPECT_TRUE(folder.names().empty());
}

// The manifest's bytes on their own (every rank runs these alike).

mpi::Manifest sample_manifest() {
  return {mpi::kBlobKeys, 0x0123456789abcdefULL, 1000, 42, {{"snap.000000000000002a.rank0", 1234},
                                                              {"snap.000000000000002a.rank1", 99}}};
}

std::optional<SnapshotProblem> decode_problem(const std::vector<std::byte>& bytes) {
  try {
    mpi::decode_manifest(bytes, "'test'");
  } catch (const SnapshotError& e) {
    EXPECT_TRUE(std::string(e.what()).find("manifest 'test'") != std::string::npos) << e.what();
    return e.problem();
  }
  return std::nullopt;
}

// Recomputes both checksums, so that a field's own check is what refuses it.
std::vector<std::byte> resealed(std::vector<std::byte> bytes) {
  const auto put64 = [&](std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes[at + i] = std::byte(v >> (8 * i));
  };
  std::uint64_t table = 0;
  for (int i = 0; i < 8; ++i) table |= std::uint64_t(bytes[48 + i]) << (8 * i);
  put64(56, mpi::manifest_checksum(std::span(bytes).first(56)));
  put64(64 + table, mpi::manifest_checksum(std::span(bytes).subspan(64, table)));
  return bytes;
}

TEST(SnapshotManifest, RoundTrips) {
  const mpi::Manifest m = sample_manifest();
  const std::vector<std::byte> bytes = mpi::encode_manifest(m);
  EXPECT_EQ(bytes.size(), 64 + 2 * (16 + 27) + 8u);
  const mpi::Manifest back = mpi::decode_manifest(bytes, "'test'");
  EXPECT_EQ(back.key_type, m.key_type);
  EXPECT_EQ(back.ownership_seed, m.ownership_seed);
  EXPECT_EQ(back.cap, m.cap);
  EXPECT_EQ(back.generation, m.generation);
  ASSERT_EQ(back.ranks.size(), 2u);
  EXPECT_EQ(back.ranks[1].name, m.ranks[1].name);
  EXPECT_EQ(back.ranks[1].bytes, 99u);
  EXPECT_EQ(mpi::rank_file_name("/a/snap", 42, 1), m.ranks[1].name);
}

TEST(SnapshotManifest, EveryDamagedByteIsRefused) {
  const std::vector<std::byte> good = mpi::encode_manifest(sample_manifest());
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::vector<std::byte> bad = good;
    bad[i] ^= std::byte{0x04};
    const auto problem = decode_problem(bad);
    ASSERT_TRUE(problem.has_value()) << "byte " << i;
    EXPECT_EQ(*problem, i < 8 ? SnapshotProblem::kNotASnapshot : SnapshotProblem::kChecksum) << "byte " << i;
  }
}

TEST(SnapshotManifest, ShortOrLongIsRefused) {
  const std::vector<std::byte> good = mpi::encode_manifest(sample_manifest());
  for (std::size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(decode_problem(std::vector<std::byte>(good.begin(), good.begin() + n)), SnapshotProblem::kTruncated)
        << n << " bytes";
  }
  std::vector<std::byte> longer = good;
  longer.push_back(std::byte{0});
  EXPECT_EQ(decode_problem(longer), SnapshotProblem::kInconsistent);
}

TEST(SnapshotManifest, FieldsOutOfRangeAreRefusedThoughSealed) {
  const auto with = [](auto change) {
    mpi::Manifest m = sample_manifest();
    change(m);
    return mpi::encode_manifest(m);
  };
  EXPECT_EQ(decode_problem(with([](mpi::Manifest& m) { m.ranks[1].name = "../elsewhere"; })),
            SnapshotProblem::kInconsistent);
  EXPECT_EQ(decode_problem(with([](mpi::Manifest& m) { m.ranks[1].name = "a/b"; })), SnapshotProblem::kInconsistent);
  EXPECT_EQ(decode_problem(with([](mpi::Manifest& m) { m.ranks[1].name = ".."; })), SnapshotProblem::kInconsistent);
  EXPECT_EQ(decode_problem(with([](mpi::Manifest& m) { m.ranks[1].name = m.ranks[0].name; })),
            SnapshotProblem::kInconsistent);
  EXPECT_EQ(decode_problem(with([](mpi::Manifest& m) { m.key_type = 3; })), SnapshotProblem::kKeyType);
  std::vector<std::byte> version = mpi::encode_manifest(sample_manifest());
  version[8] = std::byte{2};
  EXPECT_EQ(decode_problem(resealed(version)), SnapshotProblem::kVersion);
  std::vector<std::byte> reserved = mpi::encode_manifest(sample_manifest());
  reserved[64 + 12] = std::byte{1};  // rank 0's reserved word
  EXPECT_EQ(decode_problem(resealed(reserved)), SnapshotProblem::kInconsistent);
  std::vector<std::byte> ranks = mpi::encode_manifest(sample_manifest());
  ranks[16] = std::byte{3};  // three ranks in a table of two
  EXPECT_EQ(decode_problem(resealed(ranks)), SnapshotProblem::kInconsistent);
}

}  // namespace
}  // namespace heatkit::test

int main(int argc, char** argv) { return heatkit::test::run_mpi_tests(argc, argv); }
