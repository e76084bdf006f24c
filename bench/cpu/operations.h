// What heatkit_bench's operation files share: the row a benchmark runs for,
// the subject it builds, and how a row relates itself to the floor and the
// port measured earlier in the run (bench/results.h).
#pragma once

#include "bench/bandwidth_floor.h"
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bench/subjects.h"
#include "bench/workbench.h"

namespace heatkit::bench {

using BenchFn = std::function<void(benchmark::State&)>;

inline Policy default_policy() { return Policy{}; }

enum class KeyKind { kU64, kBlob };  // 8-byte keys, 32-byte keys

// What a benchmark function needs to know about the row it runs for.
struct RowInfo {
  std::string workload;  // rows with the same workload share prepared state ("port", "highway")
  std::string backend;   // the heatkit backend ("" for the port)
  unsigned threads = 1;  // pass threads (resolved, >= 1)
  bool is_port = false;
  // The floor of today's literal columns its ticks are set beside
  // (floor_ratio): the five-column floor where its tick reads the half-life
  // column even when told the shared half-life
  // (BackendInfo::tick_uses_shared_half_life false), else the floor without
  // that column. A forward-decayed backend's ticks are also set beside the
  // read-only floor over the bytes they read (own_floor_ratio).
  FloorKind floor = FloorKind::kFiveColumns;
  bool forward_decay = false;
  KeyKind keys = KeyKind::kU64;
};

template <class S>
using Factory = std::function<std::unique_ptr<S>(std::size_t cap)>;

// f.operator()<S>(make) for the row's subject S, with keys of kind Key.
template <class Key, class F>
BenchFn with_subject(const RowInfo& row, F&& f) {
  using Heatkit = std::conditional_t<std::is_same_v<Key, BlobKey>, BlobHeatkitSubject, HeatkitSubject>;
  using Port = std::conditional_t<std::is_same_v<Key, BlobKey>, BlobPortSubject, PortSubject>;
  if (row.is_port) {
    const Factory<Port> make = [](std::size_t cap) { return std::make_unique<Port>(cap); };
    return f.template operator()<Port>(make);
  }
  const Factory<Heatkit> make = [backend = row.backend](std::size_t cap) {
    return std::make_unique<Heatkit>(backend, cap);
  };
  return f.template operator()<Heatkit>(make);
}

// The same for either key kind, as the row asks.
template <class F>
BenchFn with_any_subject(const RowInfo& row, F&& f) {
  return row.keys == KeyKind::kBlob ? with_subject<BlobKey>(row, f) : with_subject<std::uint64_t>(row, f);
}

// N counters with resident keys 0..n-1, bumped once each at kStart + i.
template <class S>
void fill(S& subject, std::size_t n) {
  using Key = typename S::Key;
  for (std::size_t i = 0; i < n; ++i) {
    subject.touch(as_key<Key>(resident_key(i)), kStart + static_cast<std::int64_t>(i));
  }
}

// The floor's operation name (bench/bandwidth_floor.h).
std::string floor_name(FloorKind kind);
// Records a floor row's ns per counter, for the ticks after it.
void record_floor(const benchmark::State& state, std::size_t n, unsigned threads, FloorKind kind,
                  double ns);
// Adds port_speedup (the port's `port_op` at n over this time) and, with
// `against_floor`, floor_ratio and floor_bytes (and own_floor_ratio for a
// forward-decayed backend) to a row's counters; a port
// row records itself as the reference of `port_op` instead.
void relate(benchmark::State& state, std::string_view port_op, const RowInfo& row, std::size_t n,
            double ns, bool against_floor);

inline constexpr std::int64_t kQuietGap = 100 * kHalfLife;
inline constexpr std::size_t kBatchSize = 1024;  // keys per bump_batch call

// Each operation's benchmark for one row (the op files).
BenchFn floor_benchmark(unsigned threads, FloorKind kind);
BenchFn tick_pass_benchmark(const RowInfo& row);
BenchFn tick_benchmark(const RowInfo& row, std::string_view op, bool periodic);
BenchFn tick_quiet_benchmark(const RowInfo& row);
BenchFn commit_prune_benchmark(const RowInfo& row);
enum class BumpMode { kSingle, kBatched, kQueued };
// `port_op`: the port row it is compared with (batched and queued bumps:
// the port's single bumps, it has neither).
BenchFn bump_benchmark(const RowInfo& row, std::string_view port_op, KeyChoice choice, BumpMode mode);
BenchFn insert_at_cap_benchmark(const RowInfo& row, std::string_view op);

// Why the port and the row's subject disagree on one schedule, or empty.
std::string port_disagreement(const std::string& backend, unsigned threads, KeyKind keys);

}  // namespace heatkit::bench
