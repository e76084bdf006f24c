// Writes the snapshots the CLI's snapshot tests read (tests/simulate/CMakeLists.txt):
//   make_test_snapshots DIR RUN
// where RUN is a snapshot `heatkit simulate --snapshot` wrote. In DIR:
//   truncated.snap           RUN's first half
//   flipped.snap             RUN with one byte of its middle changed
//   not_a_snapshot.snap      text
//   no_application.snap      a u64 registry saved without application bytes
//   foreign_application.snap a u64 registry whose application bytes are another program's
//   blob_keys.snap           a registry of 32-byte keys
//   sharded.snap             a concurrent registry of 4 shards
//   future_record.snap       a simulate record of version 2
//   wrong_registry.snap      a valid simulate record beside a registry whose cap is not the record's
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <heatkit/concurrent_registry.h>
#include <heatkit/registry.h>
#include <heatkit/snapshot.h>
#include "sim/simulation_snapshot.h"
#include "snapshot/registry_snapshot.h"

namespace {

using namespace heatkit;
namespace fs = std::filesystem;

std::vector<char> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const char* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, static_cast<std::streamsize>(size));
  if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::vector<std::byte> bytes_of(const std::string& text) {
  std::vector<std::byte> out;
  for (const char c : text) out.push_back(static_cast<std::byte>(c));
  return out;
}

// A small record that passes every check but its version.
sim::SimulationRecord small_record() {
  sim::SimulationRecord r;
  r.config.keys = 100;
  r.config.reads_per_second = 1000;
  r.config.duration = std::chrono::seconds(4);
  r.config.cap = 100;
  r.config.backend = "scalar";
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_test_snapshots DIR RUN\n";
    return 2;
  }
  try {
    const fs::path dir = argv[1];
    fs::create_directories(dir);
    const std::vector<char> run = read_file(argv[2]);
    write_file(dir / "truncated.snap", run.data(), run.size() / 2);
    std::vector<char> flipped = run;
    flipped[flipped.size() / 2] ^= 0x40;
    write_file(dir / "flipped.snap", flipped.data(), flipped.size());
    const std::string text = "bump 1 0\ntick 1\n";
    write_file(dir / "not_a_snapshot.snap", text.data(), text.size());

    RegistryOptions options;
    options.backend = "scalar";
    HeatRegistry registry(options);
    for (std::uint64_t key = 0; key < 10; ++key) registry.entry(key, std::chrono::seconds(1), Instant{}).bump(Instant{});
    registry.save(dir / "no_application.snap");
    registry.save(dir / "foreign_application.snap", bytes_of("another program's bytes"));

    BlobHeatRegistry blobs(options);
    blobs.entry(BlobKey{}, std::chrono::seconds(1), Instant{}).bump(Instant{});
    blobs.save(dir / "blob_keys.snap");

    RegistryOptions sharded_options = options;
    sharded_options.hash_seed = 7;
    ConcurrentHeatRegistry sharded(sharded_options, 4);
    for (std::uint64_t key = 0; key < 10; ++key) sharded.bump(key, std::chrono::seconds(1), Instant{});
    sharded.save(dir / "sharded.snap");

    std::vector<std::byte> future = sim::encode_record(small_record());
    future[8] = std::byte{2};  // the version's low byte
    registry.save(dir / "future_record.snap", future);

    // The record's cap is 100; this registry's is 5.
    RegistryOptions small_cap = options;
    small_cap.cap = 5;
    small_cap.track_in_flight = true;
    BasicHeatRegistry<std::uint64_t> wrong(small_cap);
    save_snapshot(wrong, dir / "wrong_registry.snap", sim::encode_record(small_record()));
  } catch (const std::exception& e) {
    std::cerr << "make_test_snapshots: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
