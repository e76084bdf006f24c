// Writes the seed corpus of fuzz_snapshot_load (tests/fuzz/corpus_snapshots):
// small, valid snapshots of every registry type, one per region of the
// format the fuzzer would take long to reach from nothing. Run it again
// after a change of the format:
//   cmake --build build --target make_snapshot_seeds
//   build/tests/fuzz/make_snapshot_seeds tests/fuzz/corpus_snapshots
#include <cstdio>
#include <filesystem>
#include <string>

#include "snapshot_test_util.h"

namespace {

using namespace heatkit;
using namespace heatkit::test::snapshot_samples;
using heatkit::test::snapshot_format::write_file;

constexpr std::size_t kCounters = 24;  // a few records per section keeps each seed near 2 KB

template <class Registry>
std::string saved(const Registry& registry, bool application) {
  std::ostringstream out(std::ios::binary);
  const Bytes bytes = application ? sample_application() : Bytes();
  registry.save(out, as_byte_span(bytes));
  return std::move(out).str();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out);

  // Every key type and kind, with and without an application section (the
  // shapes the unit tests damage).
  for (const SnapshotShape& shape : small_snapshot_shapes()) {
    write_file(out / (shape.name() + ".heat"), save_small_snapshot(shape, kCounters));
  }
  // Empty registries: sections without blocks.
  write_file(out / "U64SingleEmpty.heat", saved(HeatRegistry(exact_options()), false));
  write_file(out / "BlobShardedEmpty.heat",
             saved(ConcurrentBlobHeatRegistry(exact_options(), 2), false));
  // In-flight tracking on and counters in flight at the save (a load marks none).
  {
    RegistryOptions options = exact_options();
    options.track_in_flight = true;
    HeatRegistry registry(options);
    fill_sample(registry, kCounters);
    registry.tick(Policy{}, sample_start() + std::chrono::hours(1));
    write_file(out / "U64SingleInFlight.heat", saved(registry, false));
  }
  // Instants and half-lives at their extremes.
  {
    HeatRegistry registry(exact_options());
    const std::uint64_t keys[] = {1, 2, 3, 4};
    registry.bump_batch(std::span(keys, 1), Duration(0), instant_from_ns(INT64_MIN + 1));
    registry.bump_batch(std::span(keys + 1, 1), Duration(INT64_MAX), instant_from_ns(INT64_MAX));
    registry.bump_batch(std::span(keys + 2, 1), Duration(1), instant_from_ns(0));
    registry.bump_batch(std::span(keys + 3, 1), std::chrono::hours(24 * 365), instant_from_ns(-1));
    write_file(out / "U64SingleExtremes.heat", saved(registry, false));
  }
  std::printf("wrote the seeds to %s\n", out.c_str());
  return 0;
}
