// libFuzzer target: the fuzzer's bytes as a snapshot stream, read by
// inspect_snapshot and by the load of every registry type (HeatRegistry,
// BlobHeatRegistry, ConcurrentHeatRegistry, ConcurrentBlobHeatRegistry).
// Each must load or throw SnapshotError; any other exception, a crash, a
// leak, a hang or a huge allocation is a finding (the last three through the
// sanitizers and libFuzzer's -timeout, -rss_limit_mb and -malloc_limit_mb).
//
// Each input is read twice: as it is (the framing and the checksums), and
// with every checksum recomputed over what the bytes hold
// (snapshot_format::repair_checksums), so that mutations reach the checks of
// the contents behind the checksums instead of dying at the first one.
//
// What must agree, or the input is a finding:
//   - inspect_snapshot accepts the input exactly when one of the four loads
//     does (the one of the header's key type and kind), and counts its
//     counters and application bytes;
//   - where inspect refuses, the load of the header's type refuses with the
//     same problem, and every load refuses;
//   - a loaded registry is usable: for_each visits size() counters, each of
//     which get() finds with the same values, and a tick and its commit run.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "snapshot_test_util.h"

namespace {

using heatkit::SnapshotError;
using heatkit::SnapshotProblem;
namespace format = heatkit::test::snapshot_format;

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_snapshot_load: %s\n", what.c_str());
  std::abort();
}

std::string name_of(const std::optional<SnapshotProblem>& problem) {
  return problem ? std::string(heatkit::problem_name(*problem)) : std::string("loaded");
}

// What one reader did: loaded (no problem) or the SnapshotError's problem.
struct Read {
  std::optional<SnapshotProblem> problem;
  std::size_t counters = 0;
  std::size_t application_bytes = 0;
};

template <class Fn>
Read read_with(const char* reader, Fn&& fn) {
  Read read;
  try {
    fn(read);
  } catch (const SnapshotError& error) {
    read.problem = error.problem();
  } catch (const std::exception& error) {
    finding(std::string(reader) + " threw something other than SnapshotError: " + error.what());
  } catch (...) {
    finding(std::string(reader) + " threw something that is not a std::exception");
  }
  return read;
}

// A loaded registry must answer for every counter it holds, and tick. (The
// keys are looked up after for_each: a sharded registry's for_each holds a
// shard's lock and must not call back into it.)
template <class Registry>
void check_usable(Registry& registry, const char* reader, std::int64_t latest_update) {
  using Key = typename Registry::key_type;
  std::vector<std::pair<Key, heatkit::HeatCounter>> visited;
  registry.for_each([&](const Key& key, const heatkit::HeatCounter& counter) { visited.emplace_back(key, counter); });
  if (visited.size() != registry.size()) finding(std::string(reader) + ": for_each visits other than size() counters");
  for (const auto& [key, counter] : visited) {
    const auto found = registry.get(key);
    if (!found || found->rate() != counter.rate() || found->last_update() != counter.last_update() ||
        found->half_life() != counter.half_life()) {
      finding(std::string(reader) + ": a counter for_each visits is not what get() finds for its key");
    }
  }
  const std::int64_t now = latest_update < INT64_MAX - 1'000'000'000 ? latest_update + 1'000'000'000 : latest_update;
  const auto emissions = registry.tick(heatkit::Policy{}, heatkit::instant_from_ns(now));
  registry.commit(emissions);
}

template <class Key, bool Sharded>
Read load_as(const std::string& bytes, const char* reader, std::int64_t latest_update) {
  return read_with(reader, [&](Read& read) {
    std::istringstream in(bytes, std::ios::binary);
    std::vector<std::byte> application;
    heatkit::RegistryOptions options;
    options.threads = 1;
    if constexpr (Sharded) {
      auto registry = heatkit::ConcurrentHeatRegistryOf<Key>::load(in, options, &application);
      read.counters = registry->size();
      check_usable(*registry, reader, latest_update);
    } else {
      auto registry = heatkit::HeatRegistryOf<Key>::load(in, options, &application);
      read.counters = registry.size();
      check_usable(registry, reader, latest_update);
    }
    read.application_bytes = application.size();
  });
}

void check_readers(const std::string& bytes) {
  heatkit::SnapshotInfo info;
  const Read inspected = read_with("inspect_snapshot", [&](Read& read) {
    std::istringstream in(bytes, std::ios::binary);
    info = heatkit::inspect_snapshot(in);
    read.counters = info.counters;
    read.application_bytes = info.application_bytes;
  });
  const std::int64_t latest = inspected.problem ? 0 : info.latest_update;
  const Read loads[4] = {
      load_as<std::uint64_t, false>(bytes, "HeatRegistry::load", latest),
      load_as<heatkit::BlobKey, false>(bytes, "BlobHeatRegistry::load", latest),
      load_as<std::uint64_t, true>(bytes, "ConcurrentHeatRegistry::load", latest),
      load_as<heatkit::BlobKey, true>(bytes, "ConcurrentBlobHeatRegistry::load", latest),
  };
  const char* names[4] = {"HeatRegistry", "BlobHeatRegistry", "ConcurrentHeatRegistry",
                          "ConcurrentBlobHeatRegistry"};

  // The loader the header asks for, where it names one.
  std::optional<int> own;
  if (bytes.size() >= format::kFileHeaderBytes) {
    const auto key_type = format::read_le<std::uint32_t>(bytes, format::kKeyTypeOffset);
    const auto kind = format::read_le<std::uint32_t>(bytes, format::kKindOffset);
    if ((key_type == 1 || key_type == 2) && (kind == 1 || kind == 2)) {
      own = static_cast<int>(key_type - 1) + 2 * static_cast<int>(kind - 1);
    }
  }
  for (int i = 0; i < 4; ++i) {
    const bool is_own = own && *own == i;
    if (!loads[i].problem && !(is_own && !inspected.problem)) {
      finding(std::string(names[i]) + " loaded what inspect_snapshot gave " + name_of(inspected.problem) +
              (is_own ? "" : " and the header names another registry type"));
    }
    if (is_own && loads[i].problem != inspected.problem) {
      finding(std::string(names[i]) + " gave " + name_of(loads[i].problem) + " where inspect_snapshot gave " +
              name_of(inspected.problem));
    }
    if (is_own && !loads[i].problem &&
        (loads[i].counters != inspected.counters || loads[i].application_bytes != inspected.application_bytes)) {
      finding(std::string(names[i]) + " loaded other counts than inspect_snapshot read");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (std::size_t{4} << 20)) return 0;  // a few blocks is all any check needs
  const std::string raw(reinterpret_cast<const char*>(data), size);
  check_readers(raw);
  std::string repaired = raw;
  format::repair_checksums(repaired);
  if (repaired != raw) check_readers(repaired);
  return 0;
}
