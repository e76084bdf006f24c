// settings.h: our --heatkit_* flags, removed before Google Benchmark parses.
#include "bench/gpu/settings.h"

#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace heatkit::gpu_bench {
namespace {

std::vector<std::int64_t> parse_sizes(std::string_view list) {
  std::vector<std::int64_t> sizes;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string item(list.substr(0, comma));
    std::size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value <= 0 ||
        value > static_cast<long long>(std::numeric_limits<std::uint32_t>::max())) {
      throw std::invalid_argument("bad size '" + item + "' in --heatkit_sizes (1 .. 2^32-1)");
    }
    sizes.push_back(value);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (sizes.empty()) throw std::invalid_argument("--heatkit_sizes names no size");
  return sizes;
}

}  // namespace

void take_settings(int& argc, char** argv) {
  Settings& s = settings();
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value_of = [&](std::string_view flag) -> std::optional<std::string_view> {
      if (!arg.starts_with(flag)) return std::nullopt;
      return arg.substr(flag.size());
    };
    if (const auto v = value_of("--heatkit_sizes=")) {
      s.sizes = parse_sizes(*v);
    } else if (const auto r = value_of("--heatkit_repetitions=")) {
      const std::string text(*r);
      std::size_t used = 0;
      int value = 0;
      try {
        value = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || value < 1) {
        throw std::invalid_argument("bad --heatkit_repetitions '" + text + "' (at least 1)");
      }
      s.repetitions = value;
    } else if (const auto l = value_of("--heatkit_l2=")) {
      if (*l == "cleared") {
        s.flush_l2 = true;
      } else if (*l == "warm") {
        s.flush_l2 = false;
      } else {
        throw std::invalid_argument("bad --heatkit_l2 '" + std::string(*l) + "' (cleared or warm)");
      }
    } else if (const auto h = value_of("--heatkit_hold=")) {
      if (*h == "on") {
        s.hold = true;
      } else if (*h == "off") {
        s.hold = false;
      } else {
        throw std::invalid_argument("bad --heatkit_hold '" + std::string(*h) + "' (on or off)");
      }
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
}

}  // namespace heatkit::gpu_bench
