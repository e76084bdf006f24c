// heatkit_snapshot_bench: saving and loading a registry of N counters beside
// `dd` writing and reading a file of the snapshot's size in the same run
// (the machine's sequential bandwidth, fsync included for writes), and the
// memory each needs beyond the registry (peak RSS, reset before each).
//
//   heatkit_snapshot_bench [--counters N] [--dir D] [--rounds R] [--backend B] [--json F]
//   heatkit_snapshot_bench --load-only FILE [--backend B]   (a load alone, to profile;
//   HEATKIT_BENCH_KEEP=1 keeps the file a run wrote)
//
// Rounds alternate dd write, save, dd read, load; the best of each is kept.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <heatkit/heatkit.h>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The process's resident and peak resident bytes (/proc/self/status).
std::size_t status_bytes(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field, 0) == 0) return std::stoull(line.substr(std::string(field).size())) * 1024;
  }
  return 0;
}
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Empties the page cache where allowed (root), so reads come from the disk,
// as a restarted process's would. Whether it could.
bool drop_page_cache() {
  if (std::system("sync") != 0) return false;
  std::ofstream drop("/proc/sys/vm/drop_caches");
  drop << "3";
  drop.flush();
  return static_cast<bool>(drop);
}

double run_dd(const std::string& args) {
  const auto start = Clock::now();
  const std::string command = "dd " + args + " status=none";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("failed: " + command);
  return seconds_since(start);
}

// Seconds to map `bytes` of fresh memory (huge pages asked for, as the
// registry's arrays are) and write every byte once: what building a
// registry of that size costs before a single key is placed, as the kernel
// zeroes each page it hands out.
double fresh_memory_seconds(std::size_t bytes) {
  const auto start = Clock::now();
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
  ::madvise(p, bytes, MADV_HUGEPAGE);
  std::memset(p, 1, bytes);
  const double seconds = seconds_since(start);
  ::munmap(p, bytes);
  return seconds;
}

struct Options {
  std::size_t counters = 10'000'000;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  int rounds = 3;
  std::string backend = "highway";
  std::string json;
  std::string load_only;  // just load this file (for profiling)
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--counters") o.counters = std::stoull(value);
    else if (flag == "--dir") o.dir = value;
    else if (flag == "--rounds") o.rounds = std::stoi(value);
    else if (flag == "--backend") o.backend = value;
    else if (flag == "--json") o.json = value;
    else if (flag == "--load-only") o.load_only = value;
    else throw std::invalid_argument("unknown flag " + flag);
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace std::chrono_literals;
  const Options o = parse(argc, argv);
  heatkit::RegistryOptions options;
  options.backend = o.backend;
  options.cap = 0;
  if (!o.load_only.empty()) {
    const auto start = Clock::now();
    const heatkit::HeatRegistry loaded = heatkit::HeatRegistry::load(o.load_only, options);
    std::cout << loaded.size() << " counters loaded in " << seconds_since(start) << " s\n";
    return 0;
  }
  std::vector<std::uint64_t> keys(o.counters);
  for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = 0x9E3779B97F4A7C15ULL * (i + 1);
  const auto snapshot = o.dir / "heatkit_snapshot_bench.snap";
  const auto dd_file = o.dir / "heatkit_snapshot_bench.dd";
  double best_save = 1e300, best_load = 1e300, best_dd_write = 1e300, best_dd_read = 1e300;
  std::size_t save_extra = 0, load_extra = 0, registry_bytes = 0, file_bytes = 0;
  bool cold = false;  // reads from the disk, the page cache dropped before each
  double best_fresh_memory = 1e300;
  std::size_t loaded_resident = 0;  // what a load adds to the resident set
  for (int round = 0; round < o.rounds; ++round) {
    {
      heatkit::HeatRegistry registry(options);
      const heatkit::Instant t = heatkit::instant_from_ns(1'000'000'000'000);
      registry.bump_batch(keys, 60s, t);
      registry_bytes = registry.memory_usage().total();
      if (round == 0) {  // a file of the snapshot's size, for dd
        registry.save(snapshot);
        file_bytes = std::filesystem::file_size(snapshot);
      }
      const std::size_t mib = (file_bytes + (1 << 20) - 1) >> 20;
      best_dd_write = std::min(best_dd_write, run_dd("if=/dev/zero of=" + dd_file.string() + " bs=1M count=" +
                                                     std::to_string(mib) + " conv=fsync"));
      std::filesystem::remove(dd_file);
      const std::size_t before = status_bytes("VmRSS:");
      reset_peak();
      const auto start = Clock::now();
      registry.save(snapshot);
      best_save = std::min(best_save, seconds_since(start));
      save_extra = std::max(save_extra, status_bytes("VmHWM:") - before);
    }
    cold = drop_page_cache();
    best_dd_read = std::min(best_dd_read, run_dd("if=" + snapshot.string() + " of=/dev/null bs=1M"));
    cold = drop_page_cache() && cold;
    const std::size_t before = status_bytes("VmRSS:");
    reset_peak();
    const auto start = Clock::now();
    const heatkit::HeatRegistry loaded = heatkit::HeatRegistry::load(snapshot, options);
    best_load = std::min(best_load, seconds_since(start));
    // Beyond the registry: the peak over what stays resident once it is built.
    const std::size_t peak = status_bytes("VmHWM:"), after = status_bytes("VmRSS:");
    load_extra = std::max(load_extra, peak - std::min(peak, after));
    loaded_resident = after - std::min(after, before);
    best_fresh_memory = std::min(best_fresh_memory, fresh_memory_seconds(loaded_resident));
    if (loaded.size() != o.counters) throw std::runtime_error("loaded a different count");
  }
  if (std::getenv("HEATKIT_BENCH_KEEP") == nullptr) std::filesystem::remove(snapshot);
  const double mb = static_cast<double>(file_bytes) / 1e6;
  const double column = 8.0 * static_cast<double>(o.counters);
  char json[1536];
  std::snprintf(json, sizeof json,
                "{\"counters\": %zu, \"backend\": \"%s\", \"file_bytes\": %zu, \"registry_bytes\": %zu, \"loaded_resident_bytes\": %zu,\n"
                " \"save_s\": %.4f, \"dd_write_s\": %.4f, \"save_MBps\": %.1f, \"dd_write_MBps\": %.1f, "
                "\"save_over_dd\": %.3f,\n"
                " \"load_s\": %.4f, \"dd_read_s\": %.4f, \"load_MBps\": %.1f, \"dd_read_MBps\": %.1f, "
                "\"load_over_dd\": %.3f,\n"
                " \"fresh_memory_s\": %.4f, \"load_over_fresh_memory\": %.3f,\n \"save_extra_bytes\": %zu, \"load_extra_bytes\": %zu, \"one_column_bytes\": %.0f, "
                "\"reads_from_disk\": %s}\n",
                o.counters, o.backend.c_str(), file_bytes, registry_bytes, loaded_resident, best_save, best_dd_write,
                mb / best_save, mb / best_dd_write, best_dd_write / best_save, best_load, best_dd_read,
                mb / best_load, mb / best_dd_read, best_dd_read / best_load, best_fresh_memory,
                best_fresh_memory / best_load, save_extra, load_extra, column,
                cold ? "true" : "false");
  std::cout << json;
  if (!o.json.empty()) std::ofstream(o.json) << json;
  return 0;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
