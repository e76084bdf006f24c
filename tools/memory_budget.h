// How much memory a run of `heatkit simulate` may use, and the words for
// it: the memory available now (the least of the kernel's MemAvailable, the
// room left under the process's cgroup limit and under its address-space
// limit, `ulimit -v`), or a limit given with --max-memory ("512M", "4G").
// Header-only: the CLI and the tests use it.
#pragma once

#include <sys/resource.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace heatkit::cli {

struct MemoryLimit {
  std::uint64_t bytes = 0;
  std::string source;  // where it comes from, as the error message names it
};

namespace memory_budget_detail {

inline std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::optional<std::uint64_t> parse_u64(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  return value;
}

// The value of the line "<field>: <n> kB" of a /proc file, in bytes.
inline std::optional<std::uint64_t> kb_field(std::string_view text, std::string_view field) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() > field.size() && line.substr(0, field.size()) == field && line[field.size()] == ':') {
      const auto kb = parse_u64(line.substr(field.size() + 1));
      if (!kb || *kb > std::numeric_limits<std::uint64_t>::max() / 1024) return std::nullopt;
      return *kb * 1024;
    }
  }
  return std::nullopt;
}

inline void keep_least(std::optional<MemoryLimit>& least, std::optional<std::uint64_t> bytes,
                       std::string_view source) {
  if (bytes && (!least || *bytes < least->bytes)) least = MemoryLimit{*bytes, std::string(source)};
}

// Room under the cgroup v2 limits of this process's cgroup and its
// ancestors (memory.max less memory.current); none without a limit.
inline std::optional<std::uint64_t> cgroup_room() {
  const auto self = read_text("/proc/self/cgroup");
  if (!self) return std::nullopt;
  const std::size_t at = self->find("0::");
  if (at == std::string::npos) return std::nullopt;
  std::string path = self->substr(at + 3, self->find('\n', at) - (at + 3));
  std::optional<std::uint64_t> room;
  for (;;) {
    const std::string dir = "/sys/fs/cgroup" + (path == "/" ? std::string() : path);
    const auto max = read_text(dir + "/memory.max");
    const auto current = read_text(dir + "/memory.current");
    if (max && current) {
      const auto limit = parse_u64(*max);  // "max" (no limit) does not parse
      const auto used = parse_u64(*current);
      if (limit && used) {
        const std::uint64_t left = *limit > *used ? *limit - *used : 0;
        if (!room || left < *room) room = left;
      }
    }
    if (path.empty() || path == "/") break;
    const std::size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return room;
}

// Room under RLIMIT_AS (`ulimit -v`): the limit less the address space the
// process holds already.
inline std::optional<std::uint64_t> address_space_room() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  std::uint64_t used = 0;
  if (const auto status = read_text("/proc/self/status")) used = kb_field(*status, "VmSize").value_or(0);
  const auto cap = static_cast<std::uint64_t>(limit.rlim_cur);
  return cap > used ? cap - used : 0;
}

}  // namespace memory_budget_detail

// MemAvailable of a /proc/meminfo text, in bytes.
inline std::optional<std::uint64_t> mem_available(std::string_view meminfo) {
  return memory_budget_detail::kb_field(meminfo, "MemAvailable");
}

// The memory available to this process now: the least of MemAvailable, the
// room under its cgroup's memory.max and under `ulimit -v`; nullopt where
// none of them can be read (not Linux).
inline std::optional<MemoryLimit> available_memory() {
  namespace d = memory_budget_detail;
  std::optional<MemoryLimit> least;
  if (const auto meminfo = d::read_text("/proc/meminfo")) {
    d::keep_least(least, mem_available(*meminfo), "MemAvailable");
  }
  d::keep_least(least, d::cgroup_room(), "the cgroup's memory.max");
  d::keep_least(least, d::address_space_room(), "ulimit -v");
  return least;
}

// A byte count: digits, optionally followed by K, M, G or T (powers of
// 1024, either case, optionally with "B" or "iB" after: 512M, 4GiB, 1tb).
// nullopt for anything else, and for counts past 2^64 - 1.
inline std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (unit.empty()) return value;
  unsigned shift = 0;
  switch (unit.front()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: return std::nullopt;
  }
  unit.remove_prefix(1);
  if (!(unit.empty() || unit == "B" || unit == "b" || unit == "iB" || unit == "ib")) return std::nullopt;
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

// A byte count to three significant digits in binary units: "310 GiB",
// "20.1 GiB", "64.0 MiB", "512 B".
inline std::string about_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 999.5 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  if (unit == 0) {
    std::snprintf(buffer, sizeof buffer, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    const char* format = value < 9.995 ? "%.2f %s" : value < 99.95 ? "%.1f %s" : "%.0f %s";
    std::snprintf(buffer, sizeof buffer, format, value, kUnits[unit]);
  }
  return buffer;
}

}  // namespace heatkit::cli
