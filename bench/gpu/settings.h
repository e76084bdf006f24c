// heatkit_gpu_bench's settings from its command line (settings.cu).
#pragma once

#include <cstdint>
#include <iterator>
#include <vector>

namespace heatkit::gpu_bench {

constexpr std::int64_t kDefaultSizes[] = {1'000'000, 10'000'000, 100'000'000};
constexpr int kDefaultRepetitions = 5;

// Settings from the command line (main).
struct Settings {
  std::vector<std::int64_t> sizes{std::begin(kDefaultSizes), std::end(kDefaultSizes)};
  int repetitions = kDefaultRepetitions;
  bool flush_l2 = true;
  bool hold = true;  // hold the stream around work that only enqueues
};
inline Settings& settings() {
  static Settings s;
  return s;
}

// Parses and removes --heatkit_sizes=, --heatkit_repetitions=, --heatkit_l2=,
// --heatkit_hold= (main.cu's header comment); throws std::invalid_argument
// on a bad value.
void take_settings(int& argc, char** argv);

}  // namespace heatkit::gpu_bench
