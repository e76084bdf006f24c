// Which backends and thread counts heatkit_bench runs: its own command-line
// flags and environment variables (main.cc's header comment).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heatkit::bench {

struct Variant {
  std::string backend;
  unsigned threads;
};

// The reference backend: the others are tested against it.
inline constexpr std::string_view kReferenceBackend = "scalar";

// --heatkit_variants=a/t1,b/t4 (or HEATKIT_BENCH_VARIANTS); else every backend
// of --heatkit_backends=a,b (or HEATKIT_BENCH_BACKENDS), else every available
// one, at 1 thread and (but the reference) at all hardware threads. Throws
// std::invalid_argument on a bad variant.
std::vector<Variant> selected_variants(int argc, char** argv);

// Removes our flags from argv (Google Benchmark rejects unknown flags).
void drop_variant_flags(int& argc, char** argv);

// HEATKIT_BENCH_HUGE=1: the 100,000,000-counter rows too.
bool huge_run();

}  // namespace heatkit::bench
