#include "sim/simulation_snapshot.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string_view>
#include <utility>

#include "snapshot/registry_snapshot.h"

namespace heatkit::sim {
namespace {

// The record's size before the backend name's bytes (docs/SNAPSHOT_FORMAT.md).
constexpr std::size_t kFixedBytes = 220;

class RecordWriter {
 public:
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::byte*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void u32(std::uint32_t v) { little_endian(v); }
  void u64(std::uint64_t v) { little_endian(v); }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f32(float v) { u32(std::bit_cast<std::uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  template <class T>
  void little_endian(T v) {
    std::byte b[sizeof(T)];
    snapshot::put<T>(b, v);  // the snapshot format's own byte order
    bytes(b, sizeof b);
  }
  std::vector<std::byte> out_;
};

// Reads a record the caller has checked is long enough.
class RecordReader {
 public:
  explicit RecordReader(std::span<const std::byte> in) : in_(in) {}
  std::uint32_t u32() { return little_endian<std::uint32_t>(); }
  std::uint64_t u64() { return little_endian<std::uint64_t>(); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  float f32() { return std::bit_cast<float>(u32()); }
  double f64() { return std::bit_cast<double>(u64()); }
  std::string text(std::size_t n) {
    std::string out(n, '\0');
    std::memcpy(out.data(), in_.data() + at_, n);
    at_ += n;
    return out;
  }

 private:
  template <class T>
  T little_endian() {
    const T v = snapshot::get<T>(in_.data() + at_);
    at_ += sizeof(T);
    return v;
  }
  std::span<const std::byte> in_;
  std::size_t at_ = 0;
};

[[noreturn]] void refuse(const std::string& why) { throw InvalidSimulationRecord("simulate record: " + why); }

bool nonnegative(double seconds) { return std::isfinite(seconds) && seconds >= 0.0; }

// The totals must be those a run of the record's config reaches in its
// ticks done: a record that passes can be resumed.
void check_consistent(const SimulationRecord& r) {
  try {
    validate(r.config);
  } catch (const InvalidSimulationConfig& e) {
    refuse(std::string(field_name(e.field())) + " " + e.requirement());
  }
  const SimulationProgress& p = r.progress;
  if (p.ticks_done > tick_count(r.config)) {
    refuse(std::to_string(p.ticks_done) + " ticks done, more than the " + std::to_string(tick_count(r.config)) +
           " of its duration");
  }
  if (p.counts.reads != p.ticks_done * reads_per_tick(r.config)) {
    refuse(std::to_string(p.counts.reads) + " reads in " + std::to_string(p.ticks_done) + " ticks of " +
           std::to_string(reads_per_tick(r.config)) + " reads");
  }
  const std::uint64_t most_live = r.config.cap == 0 ? r.config.keys : std::min(r.config.keys, r.config.cap);
  if (p.counters_peak > most_live) {
    refuse("counters_peak " + std::to_string(p.counters_peak) + " is more than the keys and the cap allow (" +
           std::to_string(most_live) + ")");
  }
  const SimulationTimes& t = p.times;
  if (!nonnegative(t.read_generation) || !nonnegative(t.bump) || !nonnegative(t.tick) ||
      !nonnegative(t.commit) || !nonnegative(p.wall_seconds)) {
    refuse("a time is negative or not finite");
  }
}

}  // namespace

std::vector<std::byte> encode_record(const SimulationRecord& record) {
  const SimulationConfig& c = record.config;
  const SimulationProgress& p = record.progress;
  const std::string_view backend =
      std::string_view(c.backend).substr(0, std::min(c.backend.size(), kMaxRecordBackendName));
  RecordWriter out;
  out.bytes(kSimulationRecordMagic, sizeof kSimulationRecordMagic);
  out.u32(kSimulationRecordVersion);
  out.u32(0);  // reserved
  out.u64(c.keys);
  out.f64(c.zipf_exponent);
  out.u64(c.reads_per_second);
  out.i64(c.tick_interval.count());
  out.i64(c.duration.count());
  out.i64(c.half_life.count());
  out.f32(c.emit_threshold_ratio);
  out.u32(0);  // reserved
  out.u64(c.cap);
  out.f64(c.commit_failure_rate);
  out.u64(c.seed);
  out.u64(p.ticks_done);
  for (const std::uint64_t count : {p.counts.reads, p.counts.emits_committed, p.counts.emits_rolled_back,
                                    p.counts.withdrawals_committed, p.counts.withdrawals_rolled_back,
                                    p.counts.prunes, p.counts.evictions, p.counts.counters_ticked}) {
    out.u64(count);
  }
  out.u64(p.counters_peak);
  for (const double seconds : {p.times.read_generation, p.times.bump, p.times.tick, p.times.commit,
                               p.wall_seconds}) {
    out.f64(seconds);
  }
  out.u32(static_cast<std::uint32_t>(backend.size()));
  out.bytes(backend.data(), backend.size());
  return out.take();
}

bool looks_like_record(std::span<const std::byte> bytes) noexcept {
  return bytes.size() >= sizeof kSimulationRecordMagic &&
         std::memcmp(bytes.data(), kSimulationRecordMagic, sizeof kSimulationRecordMagic) == 0;
}

SimulationRecord decode_record(std::span<const std::byte> bytes) {
  if (!looks_like_record(bytes)) refuse("the application section does not start with HKSIMRUN");
  if (bytes.size() < 16) refuse(std::to_string(bytes.size()) + " bytes end inside the header");
  RecordReader in(bytes.subspan(sizeof kSimulationRecordMagic));
  if (const std::uint32_t version = in.u32(); version != kSimulationRecordVersion) {
    refuse("version " + std::to_string(version) + ", this build reads version " +
           std::to_string(kSimulationRecordVersion));
  }
  if (in.u32() != 0) refuse("reserved bytes 12-15 are not 0");
  if (bytes.size() < kFixedBytes) {
    refuse(std::to_string(bytes.size()) + " bytes, fewer than the " + std::to_string(kFixedBytes) +
           " of its fixed fields");
  }
  SimulationRecord r;
  SimulationConfig& c = r.config;
  SimulationProgress& p = r.progress;
  c.keys = in.u64();
  c.zipf_exponent = in.f64();
  c.reads_per_second = in.u64();
  c.tick_interval = Duration(in.i64());
  c.duration = Duration(in.i64());
  c.half_life = Duration(in.i64());
  c.emit_threshold_ratio = in.f32();
  if (in.u32() != 0) refuse("reserved bytes 68-71 are not 0");
  c.cap = in.u64();
  c.commit_failure_rate = in.f64();
  c.seed = in.u64();
  p.ticks_done = in.u64();
  for (std::uint64_t* count : {&p.counts.reads, &p.counts.emits_committed, &p.counts.emits_rolled_back,
                               &p.counts.withdrawals_committed, &p.counts.withdrawals_rolled_back,
                               &p.counts.prunes, &p.counts.evictions, &p.counts.counters_ticked}) {
    *count = in.u64();
  }
  p.counters_peak = static_cast<std::size_t>(in.u64());
  for (double* seconds : {&p.times.read_generation, &p.times.bump, &p.times.tick, &p.times.commit,
                          &p.wall_seconds}) {
    *seconds = in.f64();
  }
  const std::uint32_t name_bytes = in.u32();
  if (name_bytes > kMaxRecordBackendName || bytes.size() != kFixedBytes + name_bytes) {
    refuse(std::to_string(bytes.size()) + " bytes with a backend name of " + std::to_string(name_bytes) +
           " (the record is " + std::to_string(kFixedBytes) + " bytes and a name of at most " +
           std::to_string(kMaxRecordBackendName) + ")");
  }
  c.backend = in.text(name_bytes);
  if (!std::all_of(c.backend.begin(), c.backend.end(), [](char ch) { return ch > ' ' && ch < 0x7f; })) {
    refuse("the backend name is not printable ASCII");
  }
  check_consistent(r);
  return r;
}

void save_simulation(const Simulation& simulation, const std::filesystem::path& path) {
  SimulationRecord record;
  record.config = simulation.config();
  record.config.backend = std::string(simulation.registry().backend());
  record.progress = simulation.progress();
  save_snapshot(simulation.registry(), path, encode_record(record));
}

SavedSimulation load_simulation(const std::filesystem::path& path, const RegistryOptions& options) {
  std::vector<std::byte> application;
  BasicHeatRegistry<std::uint64_t> registry = load_snapshot<std::uint64_t>(path, options, &application);
  if (application.empty()) {
    throw InvalidSimulationRecord("not a heatkit simulate snapshot: it has no application section");
  }
  if (!looks_like_record(application)) {
    throw InvalidSimulationRecord("not a heatkit simulate snapshot: its application section (" +
                                  std::to_string(application.size()) + " bytes) is not a simulate record");
  }
  return {decode_record(application), std::move(registry)};
}

}  // namespace heatkit::sim
