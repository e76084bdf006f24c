// heatkit_bench: every heatkit backend available here beside the
// straightforward port (bench/straightforward_port.h) and beside this
// machine's memory-bandwidth floor, in one binary, so every ratio comes from
// one run on one machine state.
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
//   bump_mt_uniform, bump_mt_zipf, bump_mt_batch_uniform, bump_mt_batch_zipf
//                        single and batched bumps from 1 and N threads at once into
//                        one shared registry (bench/concurrent_bench.h)
// <impl> is `port`, `<backend>/t<threads>` (e.g. `highway/t1`, `highway/t2`:
// the registry's tick and prune passes on that many threads), or for the
// floors `t<threads>`. Operations whose work does not depend on the pass
// threads (bumps, inserts) run for the /t1 variants and the port only, and
// not for the reference backend `scalar` (same per-slot code as the others).
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
//   floor_bytes     of the columns the backend's tick reads: 41 bytes
//                   (floor_shared_hl) where its tick uses the shared half-life
//                   (BackendInfo::tick_uses_shared_half_life), else 49 (floor)
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
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bandwidth_floor.h"
#include "bench/concurrent_bench.h"
#include "bench/subjects.h"
#include "bench/workbench.h"
#include "api/heatkit.h"
#include "util/thread_pool.h"
#include "math/random.h"

namespace heatkit::bench {
namespace {

Policy default_policy() { return Policy{}; }

// ---------------------------------------------------------------------------
// References measured earlier in the same run: the floor per (size, threads)
// and the port per (operation, size). Registration puts them first.

class References {
 public:
  void add(const std::string& key, double ns) { samples_[key].push_back(ns); }
  std::optional<double> median(const std::string& key) const {
    const auto it = samples_.find(key);
    if (it == samples_.end() || it->second.empty()) return std::nullopt;
    std::vector<double> v = it->second;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  }

 private:
  std::map<std::string, std::vector<double>> samples_;
};

References& references() {
  static References refs;
  return refs;
}

// The floor's operation name: `reads_half_life` false, the floor without the
// half-life column, the bytes of a tick told the shared half-life
// (bench/bandwidth_floor.h).
std::string floor_name(bool reads_half_life) { return reads_half_life ? "floor" : "floor_shared_hl"; }
std::string floor_key(std::size_t n, unsigned threads, bool reads_half_life = true) {
  return floor_name(reads_half_life) + "/" + std::to_string(n) + "/" + std::to_string(threads);
}
std::string port_key(std::string_view op, std::size_t n) {
  return "port/" + std::string(op) + "/" + std::to_string(n);
}

// Adds port_speedup (and for ticks floor_ratio) to a benchmark's counters;
// a port run records itself as the reference instead.
void relate(benchmark::State& state, std::string_view op, bool is_port, std::size_t n,
            unsigned threads, double ns, bool against_floor, bool reads_half_life = true) {
  if (is_port) {
    references().add(port_key(op, n), ns);
  } else if (const auto port = references().median(port_key(op, n)); port && ns > 0) {
    state.counters["port_speedup"] = *port / ns;
  }
  if (against_floor) {
    state.counters["floor_bytes"] = floor_bytes_per_counter(reads_half_life);
    const auto floor = references().median(floor_key(n, threads, reads_half_life));
    if (floor && *floor > 0) state.counters["floor_ratio"] = ns / *floor;
  }
}

template <class S>
using Factory = std::function<std::unique_ptr<S>(std::size_t cap)>;

// N counters with resident keys 0..n-1, bumped once each at kStart + i.
template <class S>
void fill(S& subject, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) subject.touch(resident_key(i), kStart + static_cast<std::int64_t>(i));
}

void report_memory(benchmark::State& state, const MemoryReport& m) {
  state.counters["bytes_per_counter"] = m.total;
  for (const auto& [name, value] : m.parts) state.counters[name] = value;
}

// What a benchmark function needs to know about the row it runs for.
struct RowInfo {
  std::string workload;  // rows with the same workload share prepared state ("port", "highway")
  unsigned threads = 1;  // pass threads (resolved, >= 1)
  bool is_port = false;
  // The backend's tick reads the half-life column even when told the shared
  // half-life (BackendInfo::tick_uses_shared_half_life false): its ticks are
  // set beside the five-column floor, the others' beside the floor without
  // that column. Each tick row records its floor's bytes (floor_bytes).
  bool tick_reads_half_life = true;
};

// ---------------------------------------------------------------------------
// floor: one read+write pass over the columns a tick moves.

void bench_floor(benchmark::State& state, unsigned threads, bool reads_half_life) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& floor = workbench().get<BandwidthFloor>(
      floor_name(reads_half_life) + "/" + std::to_string(n),
      [&] { return std::make_unique<BandwidthFloor>(n, reads_half_life); });
  const double bytes = floor_bytes_per_counter(reads_half_life);
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    floor.pass(threads);
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_counter"] = ns;
  state.counters["GBps"] = bytes / ns;
  state.counters["bytes_moved_per_counter"] = bytes;
  state.counters["threads"] = threads;
  references().add(floor_key(n, threads, reads_half_life), ns);
}

// ---------------------------------------------------------------------------
// tick: steady state. Every counter has emitted; its emission phase is
// staggered uniformly over one half-life, so as rates decay a steady
// kTickStep / kHalfLife (about 5%) of counters cross the 2x ratio per tick.
// The candidates are committed outside the clock, so each counter re-qualifies
// about one half-life later and the fraction stays put. Rates reach zero after
// about 52 half-lives; before that the workload re-bumps every counter
// (untimed).
//
// The step is not a whole fraction of the half-life: a committed counter next
// qualifies 20 steps (1.01 half-lives) later at a ratio of 2.014, clear of
// the threshold. tick_periodic uses exactly half-life / 20 instead: then every
// re-qualification lands on the threshold itself (a ratio of 2 up to the
// rounding of 20 decays), as it does for quiet counters under a tick period
// that divides the half-life; the Highway kernel hands such lanes to the
// scalar gate. It starts after one half-life of untimed ticks, so that every
// candidate is such a re-qualification.

constexpr std::int64_t kTickStep = kHalfLife / 20 + kHalfLife / 2000;
constexpr std::int64_t kPeriodicStep = kHalfLife / 20;
constexpr std::int64_t kRefreshAfter = 40 * kHalfLife;

template <class S>
struct TickWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t step;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  Emissions emissions;  // every tick's result, its memory reused

  TickWorkload(const Factory<S>& make, std::size_t counters, std::int64_t tick_step)
      : subject(make(counters)), n(counters), step(tick_step) {
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
  // One tick and its commit; returns the candidates' count.
  std::size_t untimed_tick(const Policy& policy) {
    now += step;
    subject->tick(policy, now, emissions);
    subject->commit(emissions);
    return emissions.size();
  }
};

template <class S>
void bench_tick(benchmark::State& state, const RowInfo& row, const Factory<S>& make, bool periodic) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Policy policy = default_policy();
  const std::string kind = periodic ? "tick_periodic/" : "tick/";
  auto& w = workbench().get<TickWorkload<S>>(kind + row.workload + "/" + std::to_string(n), [&] {
    auto built = std::make_unique<TickWorkload<S>>(make, n, periodic ? kPeriodicStep : kTickStep);
    if (periodic) {
      for (int k = 0; k < 20; ++k) built->untimed_tick(policy);
    }
    return built;
  });
  w.subject->set_threads(row.threads);
  double seconds = 0.0;
  double candidates = 0.0;
  for (auto _ : state) {
    if (w.now - w.refreshed_at > kRefreshAfter) {
      w.refresh();
      if (periodic) {
        for (int k = 0; k < 20; ++k) w.untimed_tick(policy);
      }
    }
    w.now += w.step;
    const Clock::time_point start = Clock::now();
    w.subject->tick(policy, w.now, w.emissions);
    benchmark::DoNotOptimize(w.emissions.data());
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    candidates += static_cast<double>(w.emissions.size());
    w.subject->commit(w.emissions);
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_counter"] = ns;
  state.counters["emit_fraction"] = candidates / items;
  state.counters["threads"] = row.threads;
  report_memory(state, w.subject->memory());
  // The port's gate has no vector fast path to fall out of: its `tick` is the
  // reference for both.
  if (!periodic || !row.is_port) {
    relate(state, "tick", row.is_port, n, row.threads, ns, true, row.tick_reads_half_life);
  }
}

// ---------------------------------------------------------------------------
// tick_pass: the backend's bulk tick pass alone, CounterStore::tick over the
// columns into a reused candidate buffer: no key lookup of the candidates, no
// returned vector, no LRU. The same steady state as `tick` (same step, same
// stagger; candidates recorded outside the clock), so `tick` - `tick_pass` is
// what the registry adds around the kernel.

struct PassWorkload {
  std::unique_ptr<CounterStore> store;
  std::size_t n;
  std::int64_t now = kStart;
  std::int64_t refreshed_at = kStart;
  std::vector<Candidate> out;

  PassWorkload(const std::string& backend, std::size_t counters) : store(make_store(backend)), n(counters) {
    store->ensure_slots(n);
    refresh();
  }
  // Every counter at rate 1 with last emission 2^u, as TickWorkload::stagger.
  void refresh() {
    for (std::size_t i = 0; i < n; ++i) {
      const auto slot = static_cast<Slot>(i);
      store->init(slot, kHalfLife, now);
      store->bump(slot, now);
      store->record(slot, Decision::kEmit, std::exp2(unit_double(counter_random(kSeed, kStaggerStream, i))));
    }
    refreshed_at = now;
  }
};

void bench_tick_pass(benchmark::State& state, const RowInfo& row) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<PassWorkload>("pass/" + row.workload + "/" + std::to_string(n),
                                          [&] { return std::make_unique<PassWorkload>(row.workload, n); });
  w.store->set_threads(row.threads);
  const Policy policy = default_policy();
  double seconds = 0.0;
  double candidates = 0.0;
  for (auto _ : state) {
    if (w.now - w.refreshed_at > kRefreshAfter) w.refresh();
    w.now += kTickStep;
    // As a registry over these counters (one half-life) calls the store.
    TickParams params = tick_params(policy, w.now, false);
    params.shared_half_life = kHalfLife;
    w.out.clear();
    const Clock::time_point start = Clock::now();
    w.store->tick(params, w.out);
    benchmark::DoNotOptimize(w.out.data());
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    candidates += static_cast<double>(w.out.size());
    for (const Candidate& c : w.out) w.store->record(c.slot, c.kind, c.rate);
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_counter"] = ns;
  state.counters["emit_fraction"] = candidates / items;
  state.counters["threads"] = row.threads;
  relate(state, "tick", false, n, row.threads, ns, true, row.tick_reads_half_life);
}

// ---------------------------------------------------------------------------
// tick_quiet: every counter has emitted; then nothing happens for 100
// half-lives, and the tick decays every rate to zero and returns a Withdraw
// for every counter. Not committed (that would prune them all): between timed
// ticks every rate is set back to 1 (untimed), so the next tick, 100
// half-lives later, withdraws them all again.

constexpr std::int64_t kQuietGap = 100 * kHalfLife;

template <class S>
struct QuietWorkload {
  std::unique_ptr<S> subject;
  std::size_t n;
  std::int64_t now;
  Emissions emissions;  // every tick's result, its memory reused

  QuietWorkload(const Factory<S>& make, std::size_t counters, const Policy& policy)
      : subject(make(counters)), n(counters), now(kStart + static_cast<std::int64_t>(counters)) {
    fill(*subject, n);
    subject->commit(subject->tick(policy, now));  // every counter emits once
  }
  void restore() {
    subject->restore_rates(1.0, n, [](std::size_t i) { return resident_key(i); });
  }
};

template <class S>
void bench_tick_quiet(benchmark::State& state, const RowInfo& row, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const Policy policy = default_policy();
  auto& w = workbench().get<QuietWorkload<S>>(
      "quiet/" + row.workload + "/" + std::to_string(n),
      [&] { return std::make_unique<QuietWorkload<S>>(make, n, policy); });
  w.subject->set_threads(row.threads);
  double seconds = 0.0;
  double withdrawn = 0.0;
  for (auto _ : state) {
    w.restore();
    w.now += kQuietGap;
    const Clock::time_point start = Clock::now();
    w.subject->tick(policy, w.now, w.emissions);
    benchmark::DoNotOptimize(w.emissions.data());
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    withdrawn += static_cast<double>(std::count_if(w.emissions.begin(), w.emissions.end(),
                                                   [](const auto& e) { return e.second.is_withdraw(); }));
  }
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  if (withdrawn != items) state.SkipWithError("the tick after the quiet gap did not withdraw every counter");
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_counter"] = ns;
  state.counters["withdraw_fraction"] = withdrawn / items;
  state.counters["threads"] = row.threads;
  relate(state, "tick_quiet", row.is_port, n, row.threads, ns, true, row.tick_reads_half_life);
}

// ---------------------------------------------------------------------------
// commit_prune: every counter has emitted; then a quiet gap of 100 half-lives
// in which only one key in ten is bumped. The tick after the gap returns a
// Withdraw for the other 90%; the timed commit records them and prunes them.
// Each iteration first restores the full set (untimed).

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
void bench_commit_prune(benchmark::State& state, const RowInfo& row, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = workbench().get<CommitWorkload<S>>("commit/" + row.workload + "/" + std::to_string(n),
                                               [&] { return std::make_unique<CommitWorkload<S>>(make, n); });
  w.subject->set_threads(row.threads);
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
  const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_counter"] = ns;
  state.counters["pruned_fraction"] = pruned / items;
  state.counters["threads"] = row.threads;
  // Measured before the commit, while the registry holds all n counters (the
  // scratch includes the tick's candidate buffer, here 90% of n).
  report_memory(state, before_commit);
  relate(state, "commit_prune", row.is_port, n, row.threads, ns, false);
}

// ---------------------------------------------------------------------------
// Bumps of resident keys (single and batched), then inserts at the cap, all on
// one registry of n resident keys per row, built once: the bump benchmarks
// leave it at n resident keys; inserts replace them, so they run last and
// mark the registry spent.

template <class S>
struct ResidentWorkload {
  std::unique_ptr<S> subject;
  std::int64_t now;
  std::size_t cursor = 0;         // next position in the key sequence
  std::uint64_t next_fresh = 0;   // next new key for insert_at_cap
  bool evicted = false;           // inserts have replaced resident keys

  ResidentWorkload(const Factory<S>& make, std::size_t n)
      : subject(make(n)), now(kStart + static_cast<std::int64_t>(n)) {
    fill(*subject, n);
  }
};

template <class S>
ResidentWorkload<S>& resident_workload(const RowInfo& row, std::size_t n, const Factory<S>& make,
                                       bool for_bumps) {
  const std::string id = "resident/" + row.workload + "/" + std::to_string(n);
  auto build = [&] { return std::make_unique<ResidentWorkload<S>>(make, n); };
  auto* w = &workbench().get<ResidentWorkload<S>>(id, build);
  if (for_bumps && w->evicted) {
    workbench().release();
    w = &workbench().get<ResidentWorkload<S>>(id, build);
  }
  return *w;
}

constexpr std::size_t kBumpsPerIteration = 4096;
constexpr std::size_t kBatchSize = 1024;  // keys per bump_batch call

enum class BumpMode { kSingle, kBatched, kQueued };

// Subjects with a bump queue (heatkit's, not the port): only they run the
// queued rows.
template <class S>
concept HasBumpQueue = requires(S& s) {
  s.set_bump_queue(std::size_t{});
  s.apply_queue();
};

template <class S>
void bench_bump(benchmark::State& state, std::string_view op, const RowInfo& row, const Factory<S>& make,
                KeyChoice choice, BumpMode mode) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const std::vector<std::uint64_t>& sequence = key_sequence(choice, n);
  auto& w = resident_workload(row, n, make, true);
  const bool batched = mode == BumpMode::kBatched;
  // The queued rows bump the same resident registry with its queue on; each
  // timed iteration ends by applying the reads still queued.
  const bool queued = mode == BumpMode::kQueued;
  if constexpr (HasBumpQueue<S>) {
    if (queued) w.subject->set_bump_queue(kSuggestedBumpQueue);
  } else if (queued) {
    state.SkipWithError("this subject has no bump queue");
    return;
  }
  double seconds = 0.0;
  for (auto _ : state) {
    const Clock::time_point start = Clock::now();
    if (batched) {
      for (std::size_t k = 0; k < kBumpsPerIteration; k += kBatchSize) {
        w.subject->touch_batch(std::span(sequence).subspan(w.cursor, kBatchSize), w.now);
        w.cursor = (w.cursor + kBatchSize) & (kSequenceLength - 1);
        w.now += kBumpStep;
      }
    } else {
      for (std::size_t k = 0; k < kBumpsPerIteration; ++k) {
        w.subject->touch(sequence[w.cursor], w.now);
        w.cursor = (w.cursor + 1) & (kSequenceLength - 1);
        w.now += kBumpStep;
      }
    }
    if constexpr (HasBumpQueue<S>) {
      if (queued) w.subject->apply_queue();
    }
    const double elapsed = seconds_since(start);
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  if (w.subject->size() != n) state.SkipWithError("a bump of a resident key changed the size");
  const double items = static_cast<double>(state.iterations() * kBumpsPerIteration);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_bump"] = ns;
  report_memory(state, w.subject->memory());  // the queue's included
  if constexpr (HasBumpQueue<S>) {
    if (queued) w.subject->set_bump_queue(0);
  }
  // Batched and queued bumps are compared with the port's single bumps (it
  // has neither).
  const std::string_view single_op = choice == KeyChoice::kUniform ? "bump_uniform" : "bump_zipf";
  relate(state, mode != BumpMode::kSingle ? single_op : op, row.is_port, n, 1, ns, false);
}

// insert_at_cap: the registry holds cap = n counters; each insert is a new
// key (bumped, as a first read would) that evicts the oldest.
template <class S>
void bench_insert_at_cap(benchmark::State& state, const RowInfo& row, const Factory<S>& make) {
  const auto n = static_cast<std::size_t>(state.range(0));
  auto& w = resident_workload(row, n, make, false);
  w.evicted = true;
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
  const double items = static_cast<double>(state.iterations() * S::kInsertBatch);
  const double ns = seconds * 1e9 / items;
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["ns_per_insert"] = ns;
  report_memory(state, w.subject->memory());
  relate(state, "insert_at_cap", row.is_port, n, 1, ns, false);
}

// ---------------------------------------------------------------------------
// Registration.

constexpr std::int64_t kSizes[] = {8'192, 1'000'000, 10'000'000};
constexpr std::int64_t kHugeSize = 100'000'000;

// Fixed iteration counts for commit_prune, which rebuilds its workload every
// iteration: enough for a stable median at 8,192 and
// bounded at 10M, where one port rebuild takes seconds.
std::int64_t rebuild_iterations(std::int64_t n) { return n <= 8'192 ? 100 : n <= 1'000'000 ? 3 : 1; }

enum class Operation {
  kTickPass,
  kTick,
  kTickPeriodic,
  kTickQuiet,
  kCommitPrune,
  kBumpUniform,
  kBumpZipf,
  kBumpBatchUniform,
  kBumpBatchZipf,
  kBumpQueuedUniform,
  kBumpQueuedZipf,
  kInsertAtCap,
};

struct OperationInfo {
  Operation op;
  const char* name;
  bool uses_pass_threads;      // runs for every thread variant, not just /t1
  bool port_runs = true;       // false: compared with another port benchmark instead
  bool reference_runs = true;  // false: `scalar` adds nothing here (see below)
};

// In registration order per size. Inserts follow the bumps (they share a
// registry and spend it). The reference backend `scalar` runs only what its
// kernels decide: its per-slot operations (bumps, inserts) are the very same
// HostCounterStore code as every other host backend's, and its gate has no
// vector fast path for tick_periodic to fall out of.
constexpr OperationInfo kOperations[] = {
    {Operation::kTickPass, "tick_pass", true, false},
    {Operation::kTick, "tick", true},
    {Operation::kTickPeriodic, "tick_periodic", true, false, false},
    {Operation::kTickQuiet, "tick_quiet", true},
    {Operation::kCommitPrune, "commit_prune", true},
    {Operation::kBumpUniform, "bump_uniform", false, true, false},
    {Operation::kBumpZipf, "bump_zipf", false, true, false},
    {Operation::kBumpBatchUniform, "bump_batch_uniform", false, false, false},
    {Operation::kBumpBatchZipf, "bump_batch_zipf", false, false, false},
    {Operation::kBumpQueuedUniform, "bump_queued_uniform", false, false, false},
    {Operation::kBumpQueuedZipf, "bump_queued_zipf", false, false, false},
    {Operation::kInsertAtCap, "insert_at_cap", false, true, false},
};

// The key choice and the way of bumping of each bump operation.
struct BumpOperation {
  Operation op;
  KeyChoice choice;
  BumpMode mode;
};
constexpr BumpOperation kBumpOperations[] = {
    {Operation::kBumpUniform, KeyChoice::kUniform, BumpMode::kSingle},
    {Operation::kBumpZipf, KeyChoice::kZipf, BumpMode::kSingle},
    {Operation::kBumpBatchUniform, KeyChoice::kUniform, BumpMode::kBatched},
    {Operation::kBumpBatchZipf, KeyChoice::kZipf, BumpMode::kBatched},
    {Operation::kBumpQueuedUniform, KeyChoice::kUniform, BumpMode::kQueued},
    {Operation::kBumpQueuedZipf, KeyChoice::kZipf, BumpMode::kQueued},
};
const BumpOperation& bump_operation(Operation op) {
  for (const BumpOperation& b : kBumpOperations) {
    if (b.op == op) return b;
  }
  throw std::logic_error("heatkit_bench: not a bump operation");
}

benchmark::internal::Benchmark* add_benchmark(const std::string& name, std::int64_t n,
                                              std::function<void(benchmark::State&)> run) {
  return benchmark::RegisterBenchmark(name.c_str(), std::move(run))
      ->Arg(n)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

// Registers <op>/<impl>/<n> for subject S.
template <class S>
void register_operation(const std::string& impl, const RowInfo& row, const Factory<S>& make,
                        const OperationInfo& info, std::int64_t n) {
  const std::string name = std::string(info.name) + "/" + impl;
  const std::string_view op = info.name;
  std::function<void(benchmark::State&)> run;
  switch (info.op) {
    case Operation::kTickPass: run = [=](benchmark::State& s) { bench_tick_pass(s, row); }; break;
    case Operation::kTick: run = [=](benchmark::State& s) { bench_tick<S>(s, row, make, false); }; break;
    case Operation::kTickPeriodic: run = [=](benchmark::State& s) { bench_tick<S>(s, row, make, true); }; break;
    case Operation::kTickQuiet: run = [=](benchmark::State& s) { bench_tick_quiet<S>(s, row, make); }; break;
    case Operation::kCommitPrune: run = [=](benchmark::State& s) { bench_commit_prune<S>(s, row, make); }; break;
    case Operation::kBumpUniform:
    case Operation::kBumpZipf:
    case Operation::kBumpBatchUniform:
    case Operation::kBumpBatchZipf:
    case Operation::kBumpQueuedUniform:
    case Operation::kBumpQueuedZipf: {
      const BumpOperation& bump = bump_operation(info.op);
      run = [=](benchmark::State& s) { bench_bump<S>(s, op, row, make, bump.choice, bump.mode); };
      break;
    }
    case Operation::kInsertAtCap: run = [=](benchmark::State& s) { bench_insert_at_cap<S>(s, row, make); }; break;
  }
  auto* b = add_benchmark(name, n, std::move(run));
  if (info.op == Operation::kCommitPrune) b->Iterations(rebuild_iterations(n));
}

// The reference backend: the others are tested against it.
constexpr std::string_view kReferenceBackend = "scalar";

// One row of the comparison: the port, or a backend at a thread count.
struct Row {
  std::string impl;  // "port", "highway/t2"
  RowInfo info;
  // Registers this row's benchmark of one operation at one size.
  std::function<void(const OperationInfo&, std::int64_t)> add;
};

Row port_row() {
  Row row{"port", RowInfo{"port", 1, true}, {}};
  const Factory<PortSubject> make = [](std::size_t cap) { return std::make_unique<PortSubject>(cap); };
  row.add = [impl = row.impl, info = row.info, make](const OperationInfo& op, std::int64_t n) {
    register_operation<PortSubject>(impl, info, make, op, n);
  };
  return row;
}

Row backend_row(const std::string& backend, unsigned threads) {
  const bool tick_reads_half_life = !backend_info(backend).tick_uses_shared_half_life;
  Row row{backend + "/t" + std::to_string(threads), RowInfo{backend, threads, false, tick_reads_half_life}, {}};
  const Factory<HeatkitSubject> make = [backend](std::size_t cap) {
    return std::make_unique<HeatkitSubject>(backend, cap);
  };
  row.add = [impl = row.impl, info = row.info, make](const OperationInfo& op, std::int64_t n) {
    register_operation<HeatkitSubject>(impl, info, make, op, n);
  };
  return row;
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

// The value of --NAME=VALUE in argv, else of environment variable ENV, else nothing.
std::optional<std::string> setting(int argc, char** argv, std::string_view name, const char* env) {
  const std::string flag = "--" + std::string(name) + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(flag)) return std::string(arg.substr(flag.size()));
  }
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') return std::string(value);
  return std::nullopt;
}

struct Variant {
  std::string backend;
  unsigned threads;
};

// "highway/t2" -> {highway, 2}; "tN" means every hardware thread.
Variant parse_variant(const std::string& text) {
  const std::size_t slash = text.rfind("/t");
  if (slash == std::string::npos) return {text, 1};
  const std::string count = text.substr(slash + 2);
  if (count == "N") return {text.substr(0, slash), resolve_threads(0)};
  unsigned threads = 0;
  for (const char ch : count) {
    if (ch < '0' || ch > '9') throw std::invalid_argument("bad thread count in variant '" + text + "'");
    threads = threads * 10 + static_cast<unsigned>(ch - '0');
  }
  if (threads == 0) throw std::invalid_argument("variant '" + text + "' needs at least 1 thread");
  return {text.substr(0, slash), threads};
}

std::vector<Variant> selected_variants(int argc, char** argv) {
  std::vector<Variant> variants;
  if (const auto list = setting(argc, argv, "heatkit_variants", "HEATKIT_BENCH_VARIANTS")) {
    for (const std::string& v : split_names(*list)) variants.push_back(parse_variant(v));
    return variants;
  }
  std::vector<std::string> backends;
  if (const auto list = setting(argc, argv, "heatkit_backends", "HEATKIT_BENCH_BACKENDS")) {
    backends = split_names(*list);
  } else {
    for (const BackendInfo& b : list_backends()) {
      if (b.available) backends.push_back(b.name);
    }
  }
  const unsigned all = resolve_threads(0);
  for (const std::string& backend : backends) {
    variants.push_back({backend, 1});
    if (all > 1 && backend != kReferenceBackend) variants.push_back({backend, all});
  }
  return variants;
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

std::string port_disagreement(const Variant& variant) {
  constexpr std::size_t kCap = 1000;
  HeatkitSubject heatkit(variant.backend, kCap);
  heatkit.set_threads(variant.threads);
  PortSubject port(kCap);
  const Policy policy = default_policy();
  std::int64_t now = kStart;
  // 1500 inserts at distinct instants: the first 500 are evicted, no ties.
  for (std::uint64_t i = 0; i < 1500; ++i) {
    heatkit.touch(resident_key(i), now);
    port.touch(resident_key(i), now);
    now += kBumpStep;
  }
  for (std::uint64_t j = 0; j < 3000; j += 100) {
    // Half single bumps, half batches: both must match the port.
    std::vector<std::uint64_t> batch;
    for (std::uint64_t k = j; k < j + 100; ++k) {
      batch.push_back(resident_key(500 + counter_random(kSeed, kChoiceStream, k) % 1000));
    }
    if (j % 200 == 0) {
      heatkit.touch_batch(batch, now);
    } else {
      for (const std::uint64_t key : batch) heatkit.touch(key, now);
    }
    port.touch_batch(batch, now);
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

bool huge_run() {
  const char* env = std::getenv("HEATKIT_BENCH_HUGE");
  return env != nullptr && std::string_view(env) == "1";
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
  // Drop our flags before Google Benchmark sees argv (it rejects unknown flags).
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--heatkit_backends=") && !arg.starts_with("--heatkit_variants=")) {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  for (const Variant& variant : variants) {
    try {
      if (const std::string why = port_disagreement(variant); !why.empty()) {
        std::fprintf(stderr, "heatkit_bench: the port and backend '%s' (%u threads) disagree: %s\n",
                     variant.backend.c_str(), variant.threads, why.c_str());
        return 1;
      }
    } catch (const std::exception& e) {  // UnknownBackend, BackendUnavailable
      std::fprintf(stderr, "heatkit_bench: %s\n", e.what());
      return 1;
    }
  }

  // The port first, then each variant. Registered by size, then operation,
  // then row, so both sides of a ratio run back to back, the floor first.
  std::vector<Row> rows;
  rows.push_back(port_row());
  for (const Variant& v : variants) rows.push_back(backend_row(v.backend, v.threads));
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
      for (const bool reads_half_life : {true, false}) {
        add_benchmark(floor_name(reads_half_life) + "/t" + std::to_string(t), n,
                      [t, reads_half_life](benchmark::State& s) { bench_floor(s, t, reads_half_life); });
      }
    }
  };
  for (const std::int64_t n : kSizes) {
    register_cpu_probe(n);
    add_floor(n);
    for (const OperationInfo& op : kOperations) {
      if (!kHaveBumpBatch && (op.op == Operation::kBumpBatchUniform || op.op == Operation::kBumpBatchZipf)) {
        continue;
      }
      for (const Row& row : rows) {
        if (row.info.is_port && !op.port_runs) continue;
        if (row.info.workload == kReferenceBackend && !op.reference_runs) continue;
        if (row.info.threads == 1 || op.uses_pass_threads) row.add(op, n);
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
      if (!row.info.is_port) {
        row.add(kOperations[0], kHugeSize);  // tick_pass
        row.add(kOperations[1], kHugeSize);  // tick
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
