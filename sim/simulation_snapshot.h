// A simulation run in a snapshot (docs/SNAPSHOT_FORMAT.md, "The simulate
// record"): the run's registry as the library saves it, and in the
// snapshot's application section (APPL) a small record of the run itself:
// the workload config that decides its answers, the ticks done and the
// totals so far. With both, `heatkit simulate --resume` goes on and ends
// with the totals of a run never stopped.
//
// The record is versioned and little-endian, written and read field by
// field here; nothing else in the snapshot depends on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <heatkit/snapshot.h>
#include "registry/registry.h"
#include "sim/simulation.h"

namespace heatkit::sim {

// The record's first bytes, and the version this build writes and reads.
inline constexpr char kSimulationRecordMagic[8] = {'H', 'K', 'S', 'I', 'M', 'R', 'U', 'N'};
inline constexpr std::uint32_t kSimulationRecordVersion = 1;
// The longest backend name the record holds.
inline constexpr std::size_t kMaxRecordBackendName = 64;

struct SimulationRecord {
  // The workload fields (keys to seed); `backend` is the one that saved the
  // run, for information (a run may resume on any); threads and
  // device_reads are not saved (the defaults).
  SimulationConfig config;
  SimulationProgress progress;
};

// The record as the APPL section holds it.
std::vector<std::byte> encode_record(const SimulationRecord& record);

// An application section that is not a simulate record this build reads;
// what() says why ("simulate record: version 2, this build reads 1").
class InvalidSimulationRecord : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether `bytes` start like a simulate record (its magic), whatever its
// version: a snapshot another program wrote has other bytes there.
bool looks_like_record(std::span<const std::byte> bytes) noexcept;

// The record in `bytes`. Throws InvalidSimulationRecord for bytes that are
// not a whole, consistent version-1 record (its config valid, its totals
// those of its ticks done).
SimulationRecord decode_record(std::span<const std::byte> bytes);

// Saves `simulation`'s registry and record to `path`, atomically (the
// library's save: the old file stays whole when it fails). Throws
// SnapshotError.
void save_simulation(const Simulation& simulation, const std::filesystem::path& path);

struct SavedSimulation {
  SimulationRecord record;
  BasicHeatRegistry<std::uint64_t> registry;
};

// A snapshot `save_simulation` wrote: its registry, loaded with `options`'
// backend and threads, and its record. Throws SnapshotError for a file
// that is not a whole snapshot of one u64 registry, InvalidSimulationRecord
// for one without a simulate record.
SavedSimulation load_simulation(const std::filesystem::path& path, const RegistryOptions& options);

}  // namespace heatkit::sim
