// heatkit_bench's own flags: which backends at which thread counts.
#include "bench/cpu/variants.h"

#include <cstdlib>
#include <stdexcept>

#include <heatkit/heatkit.h>
#include "util/thread_pool.h"

namespace heatkit::bench {
namespace {

std::vector<std::string> split_names(std::string_view list) {
  std::vector<std::string> names;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view name = list.substr(0, comma);
    if (!name.empty()) names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return names;
}

// The value of --NAME=VALUE in argv, else of environment variable ENV, else nothing.
std::optional<std::string> setting(int argc, char** argv, std::string_view name, const char* env) {
  const std::string flag = "--" + std::string(name) + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(flag)) return std::string(arg.substr(flag.size()));
  }
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') return std::string(value);
  return std::nullopt;
}

// "highway/t2" -> {highway, 2}; "tN" means every hardware thread.
Variant parse_variant(const std::string& text) {
  const std::size_t slash = text.rfind("/t");
  if (slash == std::string::npos) return {text, 1};
  const std::string count = text.substr(slash + 2);
  if (count == "N") return {text.substr(0, slash), resolve_threads(0)};
  unsigned threads = 0;
  for (const char ch : count) {
    if (ch < '0' || ch > '9') throw std::invalid_argument("bad thread count in variant '" + text + "'");
    threads = threads * 10 + static_cast<unsigned>(ch - '0');
  }
  if (threads == 0) throw std::invalid_argument("variant '" + text + "' needs at least 1 thread");
  return {text.substr(0, slash), threads};
}

}  // namespace

std::vector<Variant> selected_variants(int argc, char** argv) {
  std::vector<Variant> variants;
  if (const auto list = setting(argc, argv, "heatkit_variants", "HEATKIT_BENCH_VARIANTS")) {
    for (const std::string& v : split_names(*list)) variants.push_back(parse_variant(v));
    return variants;
  }
  std::vector<std::string> backends;
  if (const auto list = setting(argc, argv, "heatkit_backends", "HEATKIT_BENCH_BACKENDS")) {
    backends = split_names(*list);
  } else {
    for (const BackendInfo& b : list_backends()) {
      if (b.available) backends.push_back(b.name);
    }
  }
  const unsigned all = resolve_threads(0);
  for (const std::string& backend : backends) {
    variants.push_back({backend, 1});
    if (all > 1 && backend != kReferenceBackend) variants.push_back({backend, all});
  }
  return variants;
}

void drop_variant_flags(int& argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--heatkit_backends=") && !arg.starts_with("--heatkit_variants=")) {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
}

bool huge_run() {
  const char* env = std::getenv("HEATKIT_BENCH_HUGE");
  return env != nullptr && std::string_view(env) == "1";
}

}  // namespace heatkit::bench
