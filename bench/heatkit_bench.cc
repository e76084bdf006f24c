// heatkit_bench: heatkit's backends beside the straightforward port
// (bench/straightforward_port.h), in one binary so every ratio comes from one
// run on one machine state.
//
// Benchmarks, each as <operation>/<impl>/<counters> for 8,192, 1,000,000 and
// 10,000,000 counters:
//   tick           steady-state tick of every counter; about 1% qualify per tick
//   bump_uniform   bump resident keys, uniform key choice
//   bump_zipf      bump resident keys, Zipf(1.1) key choice
//   insert_at_cap  new keys into a full registry, each evicting one
//   commit_prune   commit after a quiet gap in which 90% of counters withdraw,
//                  including the prune pass that drops them
//   fill           fill an empty registry to its cap (bytes per counter here)
// <impl> is `port` or a heatkit backend. The backends come from
// HEATKIT_BENCH_BACKENDS (comma-separated names; default: every backend
// list_backends() reports available) or --heatkit_backends=a,b; adding a
// backend to host/backend.cc adds it here.
//
// Every benchmark times only its operation (manual time); setup and the
// commits that keep a tick in steady state run outside the clock. Counters:
//   ns_per_counter / ns_per_bump / ns_per_insert   the operation's cost per item
//   bytes_per_counter  all bytes the structure holds / counters it holds
//                      (heatkit: memory_usage().total(); port: what its map
//                      allocated, nodes and buckets, counted by its allocator)
//   *_B                the same split by part (per counter)
// Workloads are prepared once per benchmark and reused by Google Benchmark's
// repeated calls (iteration sizing, repetitions): rebuilding 10M counters per
// call would dominate the run. Each stays in steady state across calls.
//
// Results and commands: docs/PERFORMANCE.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/straightforward_port.h"
#include "host/heatkit.h"
#include "kernels/random.h"
#include "kernels/zipf.h"

namespace heatkit::bench {
namespace {

using Emissions = std::vector<std::pair<std::uint64_t, HeatEmission>>;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kHalfLife = std::chrono::nanoseconds(std::chrono::minutes(30)).count();
constexpr std::int64_t kStart = 1'000'000'000;  // first instant of every workload (ns)
constexpr std::int64_t kBumpStep = 1'000;       // 1 us between consecutive bumps/inserts
constexpr std::uint64_t kSeed = 0x6865'6174'6b69'7421ULL;
constexpr std::uint64_t kResidentStream = 1;  // keys a workload starts with
constexpr std::uint64_t kFreshStream = 2;     // keys inserted at the cap
constexpr std::uint64_t kChoiceStream = 3;    // which key a bump picks
constexpr std::uint64_t kStaggerStream = 4;   // emission phase of each counter

// The i-th resident key: random 64-bit keys, as hashed origin ids are.
std::uint64_t resident_key(std::uint64_t i) { return counter_random(kSeed, kResidentStream, i); }
std::uint64_t fresh_key(std::uint64_t i) { return counter_random(kSeed, kFreshStream, i); }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Policy default_policy() { return Policy{}; }

// ---------------------------------------------------------------------------
// The two kinds of subject, behind one interface the benchmarks template on.

// Bytes per counter, in total and by part.
struct MemoryReport {
  double total = 0.0;
  std::vector<std::pair<std::string, double>> parts;
};

class HeatkitSubject {
 public:
  static constexpr std::size_t kInsertBatch = 256;  // inserts per timed iteration

  HeatkitSubject(const std::string& backend, std::size_t cap)
      : registry_(RegistryOptions{cap, false, backend}) {}

  void touch(std::uint64_t key, std::int64_t now) {
    const Instant t = instant_from_ns(now);
    registry_.entry(key, Duration(kHalfLife), t).bump(t);
  }
  void set_last_emitted(std::uint64_t key, double rate, std::int64_t now) {
    registry_.entry(key, Duration(kHalfLife), instant_from_ns(now)).record_emission(rate);
  }
  Emissions tick(const Policy& policy, std::int64_t now) {
    return registry_.tick(policy, instant_from_ns(now));
  }
  void commit(const Emissions& emissions) { registry_.commit(emissions); }
  std::size_t size() const { return registry_.size(); }

  MemoryReport memory() const {
    const MemoryUsage m = registry_.memory_usage();
    const double n = static_cast<double>(std::max<std::size_t>(1, size()));
    return {static_cast<double>(m.total()) / n,
            {{"columns_B", static_cast<double>(m.columns) / n},
             {"keys_B", static_cast<double>(m.keys) / n},
             {"index_B", static_cast<double>(m.index) / n},
             {"lru_B", static_cast<double>(m.lru) / n},
             {"scratch_B", static_cast<double>(m.other) / n}}};
  }

 private:
  HeatRegistry registry_;
};

class PortSubject {
 public:
  static constexpr std::size_t kInsertBatch = 1;  // each insert scans every counter

  explicit PortSubject(std::size_t cap) : registry_(cap) {}

  void touch(std::uint64_t key, std::int64_t now) { registry_.entry(key, kHalfLife, now).bump(now); }
  void set_last_emitted(std::uint64_t key, double rate, std::int64_t now) {
    registry_.entry(key, kHalfLife, now).last_emitted = rate;
  }
  Emissions tick(const Policy& policy, std::int64_t now) { return registry_.tick(policy, now); }
  void commit(const Emissions& emissions) { registry_.commit(emissions); }
  std::size_t size() const { return registry_.size(); }

  MemoryReport memory() const {
    const double n = static_cast<double>(std::max<std::size_t>(1, size()));
    const auto requested = static_cast<double>(registry_.requested_bytes());
    const auto buckets = static_cast<double>(registry_.bucket_bytes());
    const auto heap = static_cast<double>(registry_.heap_bytes());
    return {requested / n,
            {{"nodes_B", (requested - buckets) / n},
             {"buckets_B", buckets / n},
             {"malloc_overhead_B", (heap - requested) / n}}};
  }

 private:
  StraightforwardRegistry registry_;
};

template <class S>
using Factory = std::function<std::unique_ptr<S>(std::size_t cap)>;

// ---------------------------------------------------------------------------
// Workload cache: one prepared workload alive at a time.

class Workbench {
 public:
  template <class W, class Make>
  W& get(const std::string& id, Make&& make) {
    if (id != id_ || !held_) {
      release();  // free the previous workload before building the next
      std::unique_ptr<W> built = make();
      held_ = std::shared_ptr<void>(built.release(), [](void* p) { delete static_cast<W*>(p); });
      id_ = id;
    }
    return *static_cast<W*>(held_.get());
  }
  void release() {
    held_.reset();
    id_.clear();
  }

 private:
  std::string id_;
  std::shared_ptr<void> held_;
};

Workbench& workbench() {
  static Workbench bench;
  return bench;
}

// N counters with resident keys 0..n-1, bumped once each at kStart + i.
template <class S>
void fill(S& subject, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) subject.touch(resident_key(i), kStart + static_cast<std::int64_t>(i));
}

template <class S>
void report(benchmark::State& state, const char* per_item, double seconds, double items,
            const S& subject) {
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters[per_item] = items > 0 ? seconds * 1e9 / items : 0.0;
  const MemoryReport m = subject.memory();
  state.counters["bytes_per_counter"] = m.total;
  for (const auto& [name, value] : m.parts) state.counters[name] = value;
}

// ---------------------------------------------------------------------------
// tick: steady state. Every counter has emitted; its emission phase is
// staggered uniformly over one half-life, so as rates decay a steady
// kTickStep / kHalfLife (1%) of counters cross the 2x ratio per tick. The
// candidates are committed outside the clock, so each counter re-qualifies one
// half-life later and the fraction stays put. Rates reach zero after about 52
// half-lives; before that the workload re-bumps every counter (untimed).

constexpr std::int64_t kTickStep = kHalfLife / 100;
constexpr std::int64_t kRefreshAfter = 40 * kHalfLife;

template <class S>
struct TickWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;

  TickWorkload(const Factory<S>& make, std::size_t counters) : subject(make(counters)), n(counters) {
    fill(*subject, n);
    now = kStart + static_cast<std::int64_t>(n);
    stagger();
  }

  // Rate ~1 and last emission 2^u (u uniform in [0,1)): the counter first
  // qualifies (rate <= last/2) after (1-u) half-lives.
  void stagger() {
    for (std::size_t i = 0; i < n; ++i) {
      const double u = unit_double(counter_random(kSeed, kStaggerStream, i));
      subject->set_last_emitted(resident_key(i), std::exp2(u), now);
    }
    refreshed_at = now;
  }
  void refresh() {
    for (std::size_t i = 0; i < n; ++i) subject->touch(resident_key(i), now);
    stagger();
  }
};

template <class S>
void bench_tick(benchmark::State& state, const std::string& id, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<TickWorkload<S>>(id, [&] { return std::make_unique<TickWorkload<S>>(make, n); });
  const Policy policy = default_policy();
  double seconds = 0.0;
  double candidates = 0.0;
  for (auto _ : state) {
    if (w.now - w.refreshed_at > kRefreshAfter) w.refresh();
    w.now += kTickStep;
    const Clock::time_point start = Clock::now();
    Emissions emissions = w.subject->tick(policy, w.now);
    benchmark::DoNotOptimize(emissions.data());
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    candidates += static_cast<double>(emissions.size());
    w.subject->commit(emissions);
  }
  const double ticks = static_cast<double>(state.iterations());
  report(state, "ns_per_counter", seconds, ticks * static_cast<double>(n), *w.subject);
  state.counters["emit_fraction"] = candidates / (ticks * static_cast<double>(n));
}

// ---------------------------------------------------------------------------
// bump_uniform / bump_zipf: bumps of resident keys at 1 us steps. The key
// sequence is drawn before the clock starts, so both sides read the same
// precomputed keys and no RNG cost is timed.

constexpr std::size_t kSequenceLength = std::size_t{1} << 22;
constexpr std::size_t kBumpBatch = 4096;  // bumps per timed iteration
constexpr double kZipfExponent = 1.1;

enum class KeyChoice { kUniform, kZipf };

std::vector<std::uint64_t> key_sequence(KeyChoice choice, std::size_t n) {
  std::vector<std::uint64_t> keys(kSequenceLength);
  const auto n32 = static_cast<std::uint32_t>(n);
  if (choice == KeyChoice::kUniform) {
    for (std::size_t j = 0; j < keys.size(); ++j) {
      const std::uint64_t bits = counter_random(kSeed, kChoiceStream, j);
      keys[j] = resident_key(((bits >> 32) * n32) >> 32);
    }
    return keys;
  }
  const ZipfTable table(n32, kZipfExponent);
  // Rank r lives at resident index r * m mod n (m odd and not a multiple of
  // 5, so coprime with every size here): hot keys are scattered over the
  // slots and nodes, as real hot keys are, not packed into the first ones.
  constexpr std::uint64_t kScatter = 0x9E3779B1ULL;
  for (std::size_t j = 0; j < keys.size(); ++j) {
    const std::uint32_t rank = zipf_sample(table.view(), counter_random(kSeed, kChoiceStream, j));
    keys[j] = resident_key((rank * kScatter) % n);
  }
  return keys;
}

template <class S>
struct BumpWorkload {
  std::unique_ptr<S> subject;
  std::vector<std::uint64_t> sequence;
  std::size_t cursor = 0;
  std::int64_t now;

  BumpWorkload(const Factory<S>& make, std::size_t n, KeyChoice choice)
      : subject(make(n)), sequence(key_sequence(choice, n)), now(kStart + static_cast<std::int64_t>(n)) {
    fill(*subject, n);
  }
};

template <class S>
void bench_bump(benchmark::State& state, const std::string& id, const Factory<S>& make,
                KeyChoice choice) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<BumpWorkload<S>>(
      id, [&] { return std::make_unique<BumpWorkload<S>>(make, n, choice); });
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    for (std::size_t k = 0; k < kBumpBatch; ++k) {
      w.subject->touch(w.sequence[w.cursor], w.now);
      w.cursor = (w.cursor + 1) & (kSequenceLength - 1);
      w.now += kBumpStep;
    }
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  if (w.subject->size() != n) state.SkipWithError("a bump of a resident key changed the size");
  report(state, "ns_per_bump", seconds, static_cast<double>(state.iterations() * kBumpBatch), *w.subject);
}

// ---------------------------------------------------------------------------
// insert_at_cap: the registry holds cap = n counters; each insert is a new
// key (bumped, as a first read would) that evicts the oldest.

template <class S>
struct InsertWorkload {
  std::unique_ptr<S> subject;
  std::uint64_t next_fresh = 0;
  std::int64_t now;

  InsertWorkload(const Factory<S>& make, std::size_t n)
      : subject(make(n)), now(kStart + static_cast<std::int64_t>(n)) {
    fill(*subject, n);
  }
};

template <class S>
void bench_insert_at_cap(benchmark::State& state, const std::string& id, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<InsertWorkload<S>>(id, [&] { return std::make_unique<InsertWorkload<S>>(make, n); });
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    for (std::size_t k = 0; k < S::kInsertBatch; ++k) {
      w.subject->touch(fresh_key(w.next_fresh++), w.now);
      w.now += kBumpStep;
    }
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  if (w.subject->size() != n) state.SkipWithError("an insert at the cap changed the size");
  report(state, "ns_per_insert", seconds, static_cast<double>(state.iterations() * S::kInsertBatch),
         *w.subject);
}

// ---------------------------------------------------------------------------
// commit_prune: every counter has emitted; then a quiet gap of 100 half-lives
// in which only one key in ten is bumped. The tick after the gap returns a
// Withdraw for the other 90%; the timed commit records them and prunes them.
// Each iteration first restores the full set (untimed).

constexpr std::int64_t kQuietGap = 100 * kHalfLife;
constexpr std::size_t kSurvivorEvery = 10;

template <class S>
struct CommitWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t now = kStart;
  Emissions pending;

  CommitWorkload(const Factory<S>& make, std::size_t counters) : subject(make(counters)), n(counters) {}

  // Leaves `pending` holding the tick after the quiet gap.
  void prepare(const Policy& policy) {
    for (std::size_t i = 0; i < n; ++i) subject->touch(resident_key(i), now + static_cast<std::int64_t>(i));
    now += static_cast<std::int64_t>(n) + 1;
    subject->commit(subject->tick(policy, now));
    now += kQuietGap;
    for (std::size_t i = 0; i < n; i += kSurvivorEvery) subject->touch(resident_key(i), now);
    now += 1;
    pending = subject->tick(policy, now);
  }
};

template <class S>
void bench_commit_prune(benchmark::State& state, const std::string& id, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<CommitWorkload<S>>(id, [&] { return std::make_unique<CommitWorkload<S>>(make, n); });
  const Policy policy = default_policy();
  double seconds = 0.0;
  double pruned = 0.0;
  MemoryReport before_commit;
  for (auto _ : state) {
    w.prepare(policy);
    const std::size_t size_before = w.subject->size();
    before_commit = w.subject->memory();
    const Clock::time_point start = Clock::now();
    w.subject->commit(w.pending);
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    pruned += static_cast<double>(size_before - w.subject->size());
  }
  const double counters = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(counters));
  state.counters["ns_per_counter"] = seconds * 1e9 / counters;
  state.counters["pruned_fraction"] = pruned / counters;
  // Measured before the commit, while the registry holds all n counters (the
  // scratch includes the tick's candidate buffer, here 90% of n).
  state.counters["bytes_per_counter"] = before_commit.total;
  for (const auto& [name, value] : before_commit.parts) state.counters[name] = value;
}

// ---------------------------------------------------------------------------
// fill: an empty registry with cap n, filled with n keys. Reports where the
// bytes go at exactly the cap.

template <class S>
void bench_fill(benchmark::State& state, const Factory<S>& make) {
  workbench().release();
  const auto n = static_cast<std::size_t>(state.range(0));
  double seconds = 0.0;
  MemoryReport full;
  for (auto _ : state) {
    std::unique_ptr<S> subject = make(n);
    const Clock::time_point start = Clock::now();
    fill(*subject, n);
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    if (subject->size() != n) state.SkipWithError("fill did not reach the cap");
    full = subject->memory();
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_insert"] = seconds * 1e9 / items;
  state.counters["bytes_per_counter"] = full.total;
  for (const auto& [name, value] : full.parts) state.counters[name] = value;
}

// ---------------------------------------------------------------------------
// Registration.

constexpr std::int64_t kSizes[] = {8'192, 1'000'000, 10'000'000};

// Fixed iteration counts for the benchmarks that rebuild their workload every
// iteration (commit_prune, fill): enough for a stable median at 8,192 and
// bounded at 10M, where one port rebuild takes seconds.
std::int64_t rebuild_iterations(std::int64_t n) { return n <= 8'192 ? 100 : n <= 1'000'000 ? 3 : 1; }

enum class Operation { kTick, kBumpUniform, kBumpZipf, kInsertAtCap, kCommitPrune, kFill };
constexpr Operation kOperations[] = {Operation::kTick,        Operation::kBumpUniform,
                                     Operation::kBumpZipf,    Operation::kInsertAtCap,
                                     Operation::kCommitPrune, Operation::kFill};

const char* operation_name(Operation op) {
  switch (op) {
    case Operation::kTick: return "tick";
    case Operation::kBumpUniform: return "bump_uniform";
    case Operation::kBumpZipf: return "bump_zipf";
    case Operation::kInsertAtCap: return "insert_at_cap";
    case Operation::kCommitPrune: return "commit_prune";
    case Operation::kFill: return "fill";
  }
  return "?";
}

// Registers <op>/<impl>/<n> for subject S.
template <class S>
void register_benchmark(const std::string& impl, const Factory<S>& make, Operation op, std::int64_t n) {
  const std::string name = std::string(operation_name(op)) + "/" + impl;
  const std::string id = name + "/" + std::to_string(n);  // workload cache key
  std::function<void(benchmark::State&)> run;
  switch (op) {
    case Operation::kTick: run = [=](benchmark::State& s) { bench_tick<S>(s, id, make); }; break;
    case Operation::kBumpUniform:
      run = [=](benchmark::State& s) { bench_bump<S>(s, id, make, KeyChoice::kUniform); };
      break;
    case Operation::kBumpZipf:
      run = [=](benchmark::State& s) { bench_bump<S>(s, id, make, KeyChoice::kZipf); };
      break;
    case Operation::kInsertAtCap: run = [=](benchmark::State& s) { bench_insert_at_cap<S>(s, id, make); }; break;
    case Operation::kCommitPrune: run = [=](benchmark::State& s) { bench_commit_prune<S>(s, id, make); }; break;
    case Operation::kFill: run = [=](benchmark::State& s) { bench_fill<S>(s, make); }; break;
  }
  auto* b = benchmark::RegisterBenchmark(name.c_str(), std::move(run))
                ->Arg(n)
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond);
  if (op == Operation::kCommitPrune || op == Operation::kFill) b->Iterations(rebuild_iterations(n));
}

// Registers one subject's benchmarks for (operation, size).
using Registrar = std::function<void(Operation, std::int64_t)>;

template <class S>
Registrar registrar(std::string impl, Factory<S> make) {
  return [impl = std::move(impl), make = std::move(make)](Operation op, std::int64_t n) {
    register_benchmark<S>(impl, make, op, n);
  };
}

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

// --heatkit_backends=a,b, else HEATKIT_BENCH_BACKENDS, else every available backend.
std::vector<std::string> selected_backends(int argc, char** argv) {
  constexpr std::string_view kFlag = "--heatkit_backends=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(kFlag)) return split_names(arg.substr(kFlag.size()));
  }
  if (const char* env = std::getenv("HEATKIT_BENCH_BACKENDS"); env != nullptr && *env != '\0') {
    return split_names(env);
  }
  std::vector<std::string> names;
  for (const BackendInfo& b : list_backends()) {
    if (b.available) names.push_back(b.name);
  }
  return names;
}

// ---------------------------------------------------------------------------
// Before timing anything: both sides of every ratio must do the same work.
// Replays one schedule on the port and on a backend (evictions without ties,
// bumps, ticks with commits, a quiet gap that prunes everything) and compares
// every tick's candidates and the sizes.

bool same_emissions(Emissions a, Emissions b) {
  auto by_key = [](const auto& x, const auto& y) { return x.first < y.first; };
  std::sort(a.begin(), a.end(), by_key);
  std::sort(b.begin(), b.end(), by_key);
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.kind != b[i].second.kind) return false;
    const double x = a[i].second.rate, y = b[i].second.rate;
    if (std::abs(x - y) > 1e-12 * std::max(std::abs(x), std::abs(y))) return false;
  }
  return true;
}

std::string port_disagreement(const std::string& backend) {
  constexpr std::size_t kCap = 1000;
  HeatkitSubject heatkit(backend, kCap);
  PortSubject port(kCap);
  const Policy policy = default_policy();
  std::int64_t now = kStart;
  // 1500 inserts at distinct instants: the first 500 are evicted, no ties.
  for (std::uint64_t i = 0; i < 1500; ++i) {
    heatkit.touch(resident_key(i), now);
    port.touch(resident_key(i), now);
    now += kBumpStep;
  }
  for (std::uint64_t j = 0; j < 3000; ++j) {
    const std::uint64_t i = 500 + counter_random(kSeed, kChoiceStream, j) % 1000;
    heatkit.touch(resident_key(i), now);
    port.touch(resident_key(i), now);
    now += kBumpStep;
  }
  if (heatkit.size() != port.size()) return "sizes differ after inserts";
  for (int t = 0; t < 12; ++t) {
    now += kHalfLife * 37 / 100;  // irregular steps keep ratios off the 2x threshold
    const Emissions a = heatkit.tick(policy, now);
    const Emissions b = port.tick(policy, now);
    if (!same_emissions(a, b)) return "tick " + std::to_string(t) + " candidates differ";
    heatkit.commit(a);
    port.commit(b);
  }
  now += kQuietGap;
  const Emissions a = heatkit.tick(policy, now);
  const Emissions b = port.tick(policy, now);
  if (!same_emissions(a, b)) return "candidates after the quiet gap differ";
  heatkit.commit(a);
  port.commit(b);
  if (heatkit.size() != 0 || port.size() != 0) return "the quiet gap did not prune everything";
  return {};
}

}  // namespace
}  // namespace heatkit::bench

int main(int argc, char** argv) {
  using namespace heatkit::bench;
  const std::vector<std::string> backends = selected_backends(argc, argv);
  // Drop our flag before Google Benchmark sees argv (it rejects unknown flags).
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (!std::string_view(argv[i]).starts_with("--heatkit_backends=")) argv[kept++] = argv[i];
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  for (const std::string& backend : backends) {
    try {
      if (const std::string why = port_disagreement(backend); !why.empty()) {
        std::fprintf(stderr, "heatkit_bench: the port and backend '%s' disagree: %s\n", backend.c_str(),
                     why.c_str());
        return 1;
      }
    } catch (const std::exception& e) {  // UnknownBackend, BackendUnavailable
      std::fprintf(stderr, "heatkit_bench: %s\n", e.what());
      return 1;
    }
  }

  // One line per subject: the port, then each selected backend. Registered by
  // size, then operation, then subject, so both sides of a ratio run back to back.
  std::vector<Registrar> subjects;
  subjects.push_back(registrar<PortSubject>(
      "port", [](std::size_t cap) { return std::make_unique<PortSubject>(cap); }));
  for (const std::string& backend : backends) {
    subjects.push_back(registrar<HeatkitSubject>(
        backend, [backend](std::size_t cap) { return std::make_unique<HeatkitSubject>(backend, cap); }));
  }
  for (const std::int64_t n : kSizes) {
    for (const Operation op : kOperations) {
      for (const Registrar& add : subjects) add(op, n);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
