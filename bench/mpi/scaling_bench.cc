// heatkit_mpi_bench: reads routed through DistributedHeatRegistry::bump_batch,
// timed under mpirun, for weak and strong scaling (bench/mpi/scaling.sh).
//
//   mpirun -np N heatkit_mpi_bench weak|strong [READS [KEYS [BATCHES [u64|blob]]]]
//
// weak: every rank reads READS keys a batch, out of KEYS per rank; strong:
// READS and KEYS are the job's, split over the ranks. Every key is created
// first (untimed); then BATCHES batches of uniform reads over all keys, each
// at its own instant. Rank 0 prints one JSON object: reads per second (the
// job's, from the slowest rank's time), seconds in the exchange (the
// slowest rank's MPI calls, waits included), bytes each read costs on the
// wire, and with one rank the same reads through a plain HeatRegistry.
#include <mpi.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <cstring>
#include <type_traits>
#include <utility>

#include <heatkit/distributed_registry.h>

namespace {

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t arg(int argc, char** argv, int i, std::uint64_t fallback) {
  if (argc <= i) return fallback;
  std::uint64_t v = 0;
  const std::string_view s = argv[i];
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (error != std::errc() || end != s.data() + s.size() || v == 0) {
    std::fprintf(stderr, "heatkit_mpi_bench: argument %d must be a positive integer, got '%s'\n", i, argv[i]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  return v;
}

double max_over_ranks(double mine) {
  double most = 0.0;
  MPI_Allreduce(&mine, &most, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return most;
}

std::uint64_t sum_over_ranks(std::uint64_t mine) {
  std::uint64_t total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

// Key number k as a key of either type (a 32-byte key: k's bytes, then zeros).
template <class Key>
Key key_of(std::uint64_t k) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return k;
  } else {
    Key key{};
    std::memcpy(key.data(), &k, sizeof k);
    return key;
  }
}

struct Shape {
  std::string mode;
  std::uint64_t reads;    // this rank's, a batch
  std::uint64_t keys;     // the job's
  std::uint64_t batches;
};

template <class Key>
void run(const Shape& shape, int rank, int ranks) {
  const auto n = static_cast<std::uint64_t>(ranks);
  heatkit::RegistryOptions options;
  options.cap = 0;
  options.hash_seed = 42;
  heatkit::DistributedHeatRegistryOf<Key> registry(MPI_COMM_WORLD, options);
  const heatkit::Duration half_life = std::chrono::seconds(10);
  const auto at = [](std::uint64_t b, std::uint64_t i) {
    return heatkit::instant_from_ns(static_cast<std::int64_t>(1'000'000 * (b + 1) + i));
  };

  // Create every key: each rank its slice of them.
  std::vector<Key> batch;
  for (std::uint64_t k = static_cast<std::uint64_t>(rank); k < shape.keys; k += n) batch.push_back(key_of<Key>(k));
  registry.bump_batch(batch, half_life, heatkit::instant_from_ns(1));

  std::uint64_t state = 0x5eed + static_cast<std::uint64_t>(rank);
  std::vector<heatkit::Instant> times(shape.reads);
  batch.resize(shape.reads);
  const heatkit::ExchangeStats before = registry.exchange_stats();
  double seconds = 0.0;
  for (std::uint64_t b = 0; b < shape.batches; ++b) {
    for (std::uint64_t i = 0; i < shape.reads; ++i) {
      batch[i] = key_of<Key>(splitmix(state) % shape.keys);
      times[i] = at(b, i);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    registry.bump_batch(batch, times, half_life);
    seconds += MPI_Wtime() - start;
  }
  const heatkit::ExchangeStats& after = registry.exchange_stats();
  const double slowest = max_over_ranks(seconds);
  const double exchange = max_over_ranks(after.seconds - before.seconds);
  const std::uint64_t routed = sum_over_ranks(after.reads_routed - before.reads_routed);
  const std::uint64_t bytes = sum_over_ranks(after.bytes_sent - before.bytes_sent);
  const std::uint64_t live = registry.size();

  // One rank: the same reads through a plain registry, for the cost of routing.
  double plain = 0.0;
  if (ranks == 1) {
    heatkit::HeatRegistryOf<Key> alone(options);
    for (std::uint64_t k = 0; k < shape.keys; ++k) {
      alone.entry(key_of<Key>(k), half_life, heatkit::instant_from_ns(1)).bump(heatkit::instant_from_ns(1));
    }
    std::vector<std::pair<Key, heatkit::Instant>> pairs(shape.reads);
    state = 0x5eed;
    for (std::uint64_t b = 0; b < shape.batches; ++b) {
      for (std::uint64_t i = 0; i < shape.reads; ++i) pairs[i] = {key_of<Key>(splitmix(state) % shape.keys), at(b, i)};
      const double start = MPI_Wtime();
      alone.bump_batch(pairs, half_life);
      plain += MPI_Wtime() - start;
    }
  }

  if (rank == 0) {
    const double per_second = static_cast<double>(routed) / slowest;
    std::printf(
        "{\"mode\": \"%s\", \"key\": \"%s\", \"ranks\": %d, \"backend\": \"%s\", \"keys\": %llu, "
        "\"counters_live\": %llu, \"reads\": %llu, \"batches\": %llu, \"seconds\": %.6f, "
        "\"reads_per_second\": %.0f, \"reads_per_second_per_rank\": %.0f, \"exchange_seconds\": %.6f, "
        "\"exchange_share\": %.4f, \"bytes_per_read\": %.3f, \"plain_seconds\": %.6f}\n",
        shape.mode.c_str(), std::is_same_v<Key, std::uint64_t> ? "u64" : "blob", ranks,
        std::string(registry.local().backend()).c_str(), static_cast<unsigned long long>(shape.keys),
        static_cast<unsigned long long>(live), static_cast<unsigned long long>(routed),
        static_cast<unsigned long long>(shape.batches), slowest, per_second, per_second / ranks, exchange,
        exchange / slowest, static_cast<double>(bytes) / static_cast<double>(routed), plain);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string key = argc > 5 ? argv[5] : "u64";
  if ((mode != "weak" && mode != "strong") || (key != "u64" && key != "blob")) {
    if (rank == 0) {
      std::fprintf(stderr, "usage: heatkit_mpi_bench weak|strong [READS [KEYS [BATCHES [u64|blob]]]]\n");
    }
    MPI_Finalize();
    return 2;
  }
  const auto n = static_cast<std::uint64_t>(ranks);
  const std::uint64_t reads = arg(argc, argv, 2, 1'000'000);
  const std::uint64_t keys = arg(argc, argv, 3, 1'000'000);
  const Shape shape{mode, mode == "weak" ? reads : reads / n, mode == "weak" ? keys * n : keys,
                    arg(argc, argv, 4, 10)};
  if (key == "u64") {
    run<std::uint64_t>(shape, rank, ranks);
  } else {
    run<heatkit::BlobKey>(shape, rank, ranks);
  }
  MPI_Finalize();
  return 0;
}
