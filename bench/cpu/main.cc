// heatkit_bench: every heatkit backend available here beside the
// straightforward port (bench/straightforward_port.h) and beside this
// machine's memory-bandwidth floor, in one binary, so every ratio comes from
// one run on one machine state. One file per operation in this folder; the
// rows' counters and medians come from bench/results.h.
//
// Benchmarks are named <operation>/<impl>/<counters>, at 8,192, 1,000,000 and
// 10,000,000 counters (100,000,000 too with HEATKIT_BENCH_HUGE=1: cpu_probe,
// floor, tick_pass and tick only, heatkit only):
//   cpu_probe            compute throughput of 1 and N threads just before size n's
//                        benchmarks (how many cores this machine really gives)
//   floor                read+write pass over the bytes a tick moves (bench/bandwidth_floor.h)
//   floor_shared_hl      the same without the half-life column: the bytes of a tick
//                        that uses the shared half-life (every workload here has
//                        one half-life)
//   floor_forward_read   a read-only pass over the 17 bytes a forward-decayed
//                        tick reads (s, last_emitted, flags)
//   tick_pass            the backend's tick pass alone (CounterStore::tick), heatkit only
//   tick                 steady-state tick; about 5% of counters are candidates per tick
//   tick_periodic        the same with a tick period that divides the half-life, so
//                        every candidate sits on the 2x threshold (heatkit only)
//   tick_quiet           the tick after a quiet gap of 100 half-lives: every counter withdraws
//   commit_prune         commit after a quiet gap in which 90% of counters withdraw,
//                        including the prune pass that drops them
//   bump_uniform         single bumps of resident keys, uniform key choice
//   bump_zipf            the same, Zipf(1.1) key choice
//   bump_batch_uniform   bump_batch of 1,024 resident keys at one instant, uniform
//   bump_batch_zipf      the same, Zipf(1.1)
//   bump_queued_uniform  single bumps (entry(key).bump(now), as bump_uniform) on a
//                        registry with a bump queue of 256 reads (heatkit only)
//   bump_queued_zipf     the same, Zipf(1.1)
//   insert_at_cap        new keys into a full registry, each evicting one
//   blob_tick, blob_bump_uniform, blob_bump_zipf, blob_bump_batch_uniform,
//   blob_bump_batch_zipf, blob_insert_at_cap
//                        the same with 32-byte keys (BlobHeatRegistry; the port
//                        keyed by std::array<std::uint8_t, 32>)
//   bump_mt_uniform, bump_mt_zipf, bump_mt_batch_uniform, bump_mt_batch_zipf
//                        single and batched bumps from 1 and N threads at once into
//                        one shared registry (bench/concurrent_bench.h)
// <impl> is `port`, `<backend>/t<threads>` (e.g. `highway/t1`, `highway/t2`:
// the registry's tick and prune passes on that many threads), or for the
// floors `t<threads>`. Operations whose work does not depend on the pass
// threads (bumps, inserts) run for the /t1 variants and the port only, and
// not for the reference backend `scalar` (same per-slot code as the others;
// nor blob_tick, whose pass is tick's).
// Bytes per counter: the bump and insert benchmarks' registry holds exactly
// its cap.
//
// Variants come from --heatkit_variants=a/t1,b/t4 (or HEATKIT_BENCH_VARIANTS);
// else from --heatkit_backends=a,b (or HEATKIT_BENCH_BACKENDS), else from
// every backend list_backends() reports available: each backend at 1 thread,
// and at all hardware threads except `scalar` (the reference). Adding a
// backend to backends/backend.cc adds its rows here.
//
// Every benchmark times only its operation (manual time); setup and the
// commits that keep a tick in steady state run outside the clock. The ticks
// return their candidates into one vector per workload, reused from tick to
// tick, as a loop that ticks every second would (the port returns a fresh
// one, as the seed does). Counters:
//   ns_per_counter / ns_per_bump / ns_per_insert   the operation's cost per item
//   floor_ratio     tick time / the floor's time at the same size and threads
//                   (median of the floor's repetitions in this run), the floor
//   floor_bytes     of today's literal columns the floor_ratio's floor moves: 41
//                   bytes (floor_shared_hl) where the backend's tick uses the
//                   shared half-life (BackendInfo::tick_uses_shared_half_life),
//                   else 49 (floor)
//   own_floor_ratio forward-decayed backends (BackendInfo::forward_decay): tick
//                   time / floor_forward_read's time, the floor of the bytes
//                   their tick reads
//   port_speedup    the port's time (median, this run) / this time
//   GBps            floor only: bytes moved per second
//   bytes_per_counter, *_B   all bytes the structure holds per counter, and by part
// Workloads are prepared once per benchmark and reused by Google Benchmark's
// repeated calls (iteration sizing, repetitions), and by the thread variants of
// one backend: rebuilding 10M counters per call would dominate the run.
//
// Results, commands and the chart: docs/PERFORMANCE.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "bench/concurrent_bench.h"
#include "bench/cpu/operations.h"
#include "bench/cpu/variants.h"

namespace heatkit::bench {
namespace {

constexpr std::int64_t kSizes[] = {8'192, 1'000'000, 10'000'000};
constexpr std::int64_t kHugeSize = 100'000'000;

// Fixed iteration counts for commit_prune, which rebuilds its workload every
// iteration: enough for a stable median at 8,192 and bounded at 10M, where
// one port rebuild takes seconds.
std::int64_t rebuild_iterations(std::int64_t n) { return n <= 8'192 ? 100 : n <= 1'000'000 ? 3 : 1; }

enum class Kind { kTickPass, kTick, kTickPeriodic, kTickQuiet, kCommitPrune, kBump, kInsertAtCap };

struct OperationInfo {
  const char* name;
  Kind kind;
  bool uses_pass_threads = false;  // runs for every thread variant, not just /t1
  bool port_runs = true;           // false: compared with another port benchmark instead
  bool reference_runs = true;      // false: `scalar` adds nothing here (see below)
  KeyKind keys = KeyKind::kU64;
  KeyChoice choice = KeyChoice::kUniform;  // bumps
  BumpMode mode = BumpMode::kSingle;       // bumps
  const char* port_op = nullptr;           // the port's row it is set beside (default: its own)
  bool batched() const { return kind == Kind::kBump && mode == BumpMode::kBatched; }
};

constexpr KeyKind kBlob = KeyKind::kBlob;
constexpr KeyChoice kZipf = KeyChoice::kZipf;

// In registration order per size. Inserts follow the bumps (they share a
// registry and spend it). The reference backend `scalar` runs only what its
// kernels decide: its per-slot operations (bumps, inserts) are the very same
// HostCounterStore code as every other host backend's, and its gate has no
// vector fast path for tick_periodic to fall out of.
constexpr OperationInfo kOperations[] = {
    {.name = "tick_pass", .kind = Kind::kTickPass, .uses_pass_threads = true, .port_runs = false},
    {.name = "tick", .kind = Kind::kTick, .uses_pass_threads = true},
    {.name = "tick_periodic", .kind = Kind::kTickPeriodic, .uses_pass_threads = true, .port_runs = false,
     .reference_runs = false},
    {.name = "tick_quiet", .kind = Kind::kTickQuiet, .uses_pass_threads = true},
    {.name = "commit_prune", .kind = Kind::kCommitPrune, .uses_pass_threads = true},
    {.name = "bump_uniform", .kind = Kind::kBump, .reference_runs = false},
    {.name = "bump_zipf", .kind = Kind::kBump, .reference_runs = false, .choice = kZipf},
    {.name = "bump_batch_uniform", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .mode = BumpMode::kBatched, .port_op = "bump_uniform"},
    {.name = "bump_batch_zipf", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .choice = kZipf, .mode = BumpMode::kBatched, .port_op = "bump_zipf"},
    {.name = "bump_queued_uniform", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .mode = BumpMode::kQueued, .port_op = "bump_uniform"},
    {.name = "bump_queued_zipf", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .choice = kZipf, .mode = BumpMode::kQueued, .port_op = "bump_zipf"},
    {.name = "insert_at_cap", .kind = Kind::kInsertAtCap, .reference_runs = false},
    {.name = "blob_tick", .kind = Kind::kTick, .uses_pass_threads = true, .reference_runs = false,
     .keys = kBlob},
    {.name = "blob_bump_uniform", .kind = Kind::kBump, .reference_runs = false, .keys = kBlob},
    {.name = "blob_bump_zipf", .kind = Kind::kBump, .reference_runs = false, .keys = kBlob, .choice = kZipf},
    {.name = "blob_bump_batch_uniform", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .keys = kBlob, .mode = BumpMode::kBatched, .port_op = "blob_bump_uniform"},
    {.name = "blob_bump_batch_zipf", .kind = Kind::kBump, .port_runs = false, .reference_runs = false,
     .keys = kBlob, .choice = kZipf, .mode = BumpMode::kBatched, .port_op = "blob_bump_zipf"},
    {.name = "blob_insert_at_cap", .kind = Kind::kInsertAtCap, .reference_runs = false, .keys = kBlob},
};

const OperationInfo& operation(std::string_view name) {
  for (const OperationInfo& op : kOperations) {
    if (op.name == name) return op;
  }
  std::terminate();  // a name of this file's table
}

BenchFn benchmark_of(const OperationInfo& op, RowInfo row) {
  row.keys = op.keys;
  const std::string_view port_op = op.port_op != nullptr ? op.port_op : op.name;
  switch (op.kind) {
    case Kind::kTickPass: return tick_pass_benchmark(row);
    case Kind::kTick: return tick_benchmark(row, op.name, false);
    case Kind::kTickPeriodic: return tick_benchmark(row, op.name, true);
    case Kind::kTickQuiet: return tick_quiet_benchmark(row);
    case Kind::kCommitPrune: return commit_prune_benchmark(row);
    case Kind::kBump: return bump_benchmark(row, port_op, op.choice, op.mode);
    case Kind::kInsertAtCap: return insert_at_cap_benchmark(row, op.name);
  }
  std::terminate();
}

benchmark::internal::Benchmark* add_benchmark(const std::string& name, std::int64_t n, BenchFn run) {
  return benchmark::RegisterBenchmark(name.c_str(), std::move(run))
      ->Arg(n)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

// Registers <op>/<impl>/<n> for one row.
void add_operation(const std::string& impl, const RowInfo& row, const OperationInfo& op, std::int64_t n) {
  auto* b = add_benchmark(std::string(op.name) + "/" + impl, n, benchmark_of(op, row));
  if (op.kind == Kind::kCommitPrune) b->Iterations(rebuild_iterations(n));
}

// One row of the comparison: the port, or a backend at a thread count.
struct Row {
  std::string impl;  // "port", "highway/t2"
  RowInfo info;
};

Row backend_row(const Variant& v) {
  const BackendInfo info = backend_info(v.backend);
  const FloorKind floor = info.tick_uses_shared_half_life ? FloorKind::kSharedHalfLife : FloorKind::kFiveColumns;
  return {v.backend + "/t" + std::to_string(v.threads),
          RowInfo{v.backend, v.backend, v.threads, false, floor, info.forward_decay}};
}

// Whether the build's registries have bump_batch for the operation's keys.
bool batch_available(const OperationInfo& op) {
  return op.keys == kBlob ? HasBumpBatch<BlobHeatRegistry, BlobKey> : kHaveBumpBatch;
}

}  // namespace
}  // namespace heatkit::bench

int main(int argc, char** argv) {
  using namespace heatkit::bench;
  std::vector<Variant> variants;
  try {
    variants = selected_variants(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heatkit_bench: %s\n", e.what());
    return 1;
  }
  drop_variant_flags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  for (const Variant& variant : variants) {
    for (const KeyKind keys : {KeyKind::kU64, KeyKind::kBlob}) {
      try {
        if (const std::string why = port_disagreement(variant.backend, variant.threads, keys); !why.empty()) {
          std::fprintf(stderr, "heatkit_bench: the port and backend '%s' (%u threads, %s keys) disagree: %s\n",
                       variant.backend.c_str(), variant.threads, keys == KeyKind::kBlob ? "32-byte" : "u64",
                       why.c_str());
          return 1;
        }
      } catch (const std::exception& e) {  // UnknownBackend, BackendUnavailable
        std::fprintf(stderr, "heatkit_bench: %s\n", e.what());
        return 1;
      }
    }
  }

  // The port first, then each variant. Registered by size, then operation,
  // then row, so both sides of a ratio run back to back, the floor first.
  std::vector<Row> rows{{"port", RowInfo{"port", "", 1, true}}};
  for (const Variant& v : variants) rows.push_back(backend_row(v));
  std::vector<unsigned> floor_threads{1};
  for (const Variant& v : variants) {
    if (std::find(floor_threads.begin(), floor_threads.end(), v.threads) == floor_threads.end()) {
      floor_threads.push_back(v.threads);
    }
  }

  // The multi-threaded bumps use the default backend if it was selected.
  std::string concurrent_backend(heatkit::default_backend());
  if (!variants.empty() && std::none_of(variants.begin(), variants.end(), [&](const Variant& v) {
        return v.backend == concurrent_backend;
      })) {
    concurrent_backend = variants.front().backend;
  }
  const auto add_floor = [&](std::int64_t n) {
    for (const unsigned t : floor_threads) {
      for (const FloorKind kind : {FloorKind::kFiveColumns, FloorKind::kSharedHalfLife, FloorKind::kForwardRead}) {
        add_benchmark(floor_name(kind) + "/t" + std::to_string(t), n, floor_benchmark(t, kind));
      }
    }
  };
  for (const std::int64_t n : kSizes) {
    register_cpu_probe(n);
    add_floor(n);
    for (const OperationInfo& op : kOperations) {
      if (op.batched() && !batch_available(op)) continue;
      for (const Row& row : rows) {
        if (row.info.is_port && !op.port_runs) continue;
        if (row.info.workload == kReferenceBackend && !op.reference_runs) continue;
        if (row.info.threads == 1 || op.uses_pass_threads) add_operation(row.impl, row.info, op, n);
      }
    }
    register_concurrent_benchmarks(n, concurrent_backend);
  }
  if (huge_run()) {
    // 100M counters: the floor and the steady-state tick of heatkit only
    // (about 6.1 GB per registry; the port would need 7.5 GB and minutes).
    register_cpu_probe(kHugeSize);
    add_floor(kHugeSize);
    for (const Row& row : rows) {
      if (row.info.is_port) continue;
      add_operation(row.impl, row.info, operation("tick_pass"), kHugeSize);
      add_operation(row.impl, row.info, operation("tick"), kHugeSize);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
