// Shared by the tests that check a backend's kernels against the scalar
// kernels column by column (cuda_test, tick_shapes_test: the device passes
// over literal columns), and a backend's registry against the scalar
// backend's (registry_agrees_with_scalar: highway_test, thrust_omp_test,
// cuda_test): randomized columns with awkward cases, sizes around every
// vector width, and the comparisons SEMANTICS.md "Numbers" allows: rates
// within 1e-12 relative, last_update, flags and last_emitted identical,
// identical candidates. A store whose columns are not literal is compared
// through the CounterStore interface instead (store_agreement.h).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "math/counter_math.h"
#include "kernels/scalar_kernels.h"
#include "test_support.h"

namespace heatkit::test {

inline constexpr double kTolerance = 1e-12;
inline constexpr std::int64_t kNow = 5'000'000'000'000;  // 5000 s
inline constexpr std::int64_t kHalfLife = 10'000'000'000;  // 10 s
inline constexpr std::size_t kSentinel = 9;  // slots past the end that must stay untouched

inline bool rates_agree(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= kTolerance * std::max(std::fabs(a), std::fabs(b));
}

// Columns with kSentinel extra slots past `size`.
struct Columns {
  std::vector<double> rate, last_emitted;
  std::vector<std::int64_t> last_update, half_life;
  std::vector<std::uint8_t> flags;
  std::size_t size = 0;

  explicit Columns(std::size_t n)
      : rate(n + kSentinel, -7.5),
        last_emitted(n + kSentinel, -7.5),
        last_update(n + kSentinel, -7),
        half_life(n + kSentinel, -7),
        flags(n + kSentinel, 0xEE),
        size(n) {}
  CounterColumns view() {
    return {rate.data(), last_update.data(), last_emitted.data(), half_life.data(), flags.data(),
            size};
  }
};

// One counter drawn from a mix of steady-state and awkward cases.
inline void fill_slot(Columns& c, std::size_t i, Rng& rng) {
  const std::int64_t steady_lu = kNow - 1'000'000'000;  // the previous tick, 1 s ago
  c.half_life[i] = kHalfLife;
  c.last_update[i] = steady_lu;
  c.rate[i] = static_cast<double>(rng.below(1'000'000)) / 1000.0 + 0.001;
  c.flags[i] = kLive;
  c.last_emitted[i] = c.rate[i] * (0.4 + static_cast<double>(rng.below(1200)) / 1000.0);
  if (rng.chance(80)) c.flags[i] |= kHasEmitted;
  if (rng.chance(10)) c.flags[i] |= kInFlight;
  switch (rng.below(16)) {
    case 0: c.last_update[i] = kNow - static_cast<std::int64_t>(rng.below(700'000'000'000)); break;
    case 1: c.last_update[i] = kNow + static_cast<std::int64_t>(rng.below(1'000'000'000)); break;
    case 2: c.half_life[i] = 0; break;
    case 3: c.rate[i] = 0.0; break;
    case 4: c.last_update[i] = kNow - 64 * kHalfLife; break;      // exactly 64 half-lives
    case 5: c.last_update[i] = kNow - 64 * kHalfLife - 1; break;  // just over
    case 6: c.rate[i] = 3e-16 * (1.0 + static_cast<double>(rng.below(100)) / 50.0); break;  // near eps
    case 7: c.rate[i] = rng.chance(50) ? std::numeric_limits<double>::quiet_NaN()
                                       : std::numeric_limits<double>::infinity(); break;
    case 8: c.rate[i] = -c.rate[i]; break;
    case 9: c.last_emitted[i] = rng.chance(50) ? 0.0 : -1.0; break;
    case 10: c.last_emitted[i] = std::numeric_limits<double>::quiet_NaN(); break;
    case 11:  // an exact tie with the default ratio, no time elapsed (factor exactly 1)
      c.last_update[i] = kNow;
      c.flags[i] |= kHasEmitted;
      c.last_emitted[i] = rng.chance(50) ? c.rate[i] / 2.0 : c.rate[i] * 2.0;
      break;
    case 12: c.last_emitted[i] = 1e305; c.rate[i] = 1e306; break;  // ratio * x near overflow
    case 13: c.last_update[i] = kNow - static_cast<std::int64_t>(rng.below(3)) * kHalfLife; break;
    default: break;  // steady state
  }
}

inline Columns random_columns(std::size_t n, std::uint64_t seed) {
  Columns c(n);
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) fill_slot(c, i, rng);
  return c;
}

inline void expect_columns_agree(const Columns& want, const Columns& got) {
  for (std::size_t i = 0; i < want.rate.size(); ++i) {
    ASSERT_TRUE(rates_agree(want.rate[i], got.rate[i]))
        << "slot " << i << ": " << want.rate[i] << " vs " << got.rate[i];
    ASSERT_EQ(want.last_update[i], got.last_update[i]) << "slot " << i;
    ASSERT_EQ(want.flags[i], got.flags[i]) << "slot " << i;
    ASSERT_TRUE(same_double(want.last_emitted[i], got.last_emitted[i])) << "slot " << i;
    ASSERT_EQ(want.half_life[i], got.half_life[i]) << "slot " << i;
  }
}

inline void expect_candidates_agree(const std::vector<Candidate>& want, const std::vector<Candidate>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t k = 0; k < want.size(); ++k) {
    ASSERT_EQ(want[k].slot, got[k].slot) << "candidate " << k;
    ASSERT_EQ(want[k].kind, got[k].kind) << "candidate " << k << " slot " << want[k].slot;
    ASSERT_TRUE(rates_agree(want[k].rate, got[k].rate)) << "candidate " << k;
  }
}

inline std::vector<TickParams> param_variants() {
  std::vector<TickParams> out;
  for (bool enabled : {true, false}) {
    for (bool in_flight : {false, true}) {
      for (double ratio : {2.0, 3.0, static_cast<double>(1.01f)}) {
        TickParams p;
        p.now = kNow;
        p.enabled = enabled;
        p.ratio = ratio;
        p.skip_in_flight = in_flight;
        p.mark_in_flight = in_flight;
        out.push_back(p);
      }
    }
  }
  return out;
}

// Awkward sizes: empty, one, one less/equal/more than each vector width, a
// few vectors plus a tail, around the Highway tick's blocks of 256 counters,
// and a large column.
inline const std::size_t kSizes[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33,
                                     255, 256, 257, 1000, 65'537};

// A backend's passes under test, over host columns it may copy elsewhere and
// back (the device stores upload, run and download).
using TickUnderTest = std::function<void(Columns&, const TickParams&, std::vector<Candidate>&)>;
using PruneUnderTest = std::function<void(Columns&, std::vector<std::uint32_t>&)>;

// The tick against scalar::tick on random columns of every size in `sizes`,
// under every parameter variant (only enabled, ratio 2 above 100,000 slots).
inline void expect_tick_matches_scalar_on_random_columns(const TickUnderTest& tick,
                                                         const std::vector<std::size_t>& sizes) {
  std::uint64_t seed = 1;
  for (const std::size_t n : sizes) {
    for (const TickParams& p : param_variants()) {
      if (n > 100'000 && (!p.enabled || p.ratio != 2.0)) continue;  // keep the big sizes few
      SCOPED_TRACE("n=" + std::to_string(n) + " enabled=" + std::to_string(p.enabled) +
                   " in_flight=" + std::to_string(p.skip_in_flight) +
                   " ratio=" + std::to_string(p.ratio));
      Columns want = random_columns(n, seed);
      Columns got = random_columns(n, seed);
      ++seed;
      std::vector<Candidate> want_out, got_out;
      scalar::tick(want.view(), p, want_out);
      tick(got, p, got_out);
      expect_columns_agree(want, got);
      expect_candidates_agree(want_out, got_out);
    }
  }
}

// The tick against scalar::tick on n random columns with in-flight tracking
// on, appended after a candidate the output already holds.
inline void expect_tick_matches_scalar_on_many_counters(std::size_t n, const TickUnderTest& tick) {
  TickParams p;
  p.now = kNow;
  p.skip_in_flight = p.mark_in_flight = true;
  Columns want = random_columns(n, 4242);
  Columns got = want;
  const Candidate earlier{7, Decision::kWithdraw, 0.0};
  std::vector<Candidate> want_out{earlier}, got_out{earlier};
  scalar::tick(want.view(), p, want_out);
  tick(got, p, got_out);
  expect_columns_agree(want, got);
  expect_candidates_agree(want_out, got_out);
}

// Prune against scalar::collect_prunable on random columns of every kSize,
// appended after what the output already holds.
inline void expect_prune_matches_scalar_on_random_columns(const PruneUnderTest& prune) {
  std::uint64_t seed = 1000;
  for (const std::size_t n : kSizes) {
    Columns c = random_columns(n, seed++);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
      if (rng.chance(30)) c.rate[i] = rng.chance(50) ? 0.0 : -0.0;
    }
    std::vector<std::uint32_t> want{3}, got{3};
    scalar::collect_prunable(c.view(), want);
    prune(c, got);
    ASSERT_EQ(want, got) << "n=" << n;
  }
}

// n counters at rate 8 with no time elapsed: none is a candidate when all
// last emitted 8, all emit when none has emitted yet.
inline void expect_candidates_when_none_and_all_qualify(std::size_t n, const TickUnderTest& tick) {
  for (const bool all : {false, true}) {
    Columns c(n);
    for (std::size_t i = 0; i < n; ++i) {
      c.rate[i] = 8.0;
      c.last_update[i] = kNow;
      c.half_life[i] = kHalfLife;
      c.flags[i] = all ? kLive : (kLive | kHasEmitted);
      c.last_emitted[i] = 8.0;
    }
    TickParams p;
    p.now = kNow;
    std::vector<Candidate> out;
    tick(c, p, out);
    ASSERT_EQ(out.size(), all ? n : 0u);
    for (std::size_t k = 0; k < out.size(); ++k) {
      ASSERT_EQ(out[k].slot, k);
      ASSERT_EQ(out[k].kind, Decision::kEmit);
      ASSERT_EQ(out[k].rate, 8.0);
    }
  }
}

// n counters decayed to zero and withdrawn: every one prunes, in slot order.
inline void expect_prune_of_everything(std::size_t n, const PruneUnderTest& prune) {
  Columns c(n);
  for (std::size_t i = 0; i < n; ++i) {
    c.rate[i] = 0.0;
    c.flags[i] = kLive | kHasEmitted;
    c.last_emitted[i] = 0.0;
  }
  std::vector<std::uint32_t> pruned;
  prune(c, pruned);
  ASSERT_EQ(pruned.size(), n);
  for (std::size_t k = 0; k < n; ++k) ASSERT_EQ(pruned[k], k);
}

// A randomized workload through two registries, scalar and `backend`: every
// tick returns the same keys and kinds with agreeing rates, and every counter
// reads back the same: rate within 1e-12, last_update, half-life, in-flight
// mark and last_emitted (presence and value) identical (bumps, decays, ticks,
// partial commits, rollbacks, removes, evictions at a cap of 64, time
// sometimes going backwards).
template <class Key>
void registry_agrees_with_scalar(const std::string& backend, std::uint64_t seed, int ops) {
  RegistryOptions scalar_options;
  scalar_options.cap = 64;
  scalar_options.backend = "scalar";
  RegistryOptions backend_options = scalar_options;
  backend_options.backend = backend;
  BasicHeatRegistry<Key> want(scalar_options), got(backend_options);
  Rng rng(seed);
  Policy policy;
  policy.emit_threshold_ratio = 1.5f;
  const Duration half_life = 2s;
  std::int64_t now = 1'000'000'000;
  typename BasicHeatRegistry<Key>::Emissions last;
  for (int op = 0; op < ops; ++op) {
    now += static_cast<std::int64_t>(rng.below(400'000'000)) - 50'000'000;  // sometimes backwards
    const Instant t = instant_from_ns(now);
    const Key key = make_key<Key>(rng.below(100));
    switch (rng.below(10)) {
      case 0: case 1: case 2: case 3:
        want.entry(key, half_life, t).bump(t);
        got.entry(key, half_life, t).bump(t);
        break;
      case 4:
        if (want.contains(key)) {
          want.entry(key, half_life, t).decay_to(t);
          got.entry(key, half_life, t).decay_to(t);
        }
        break;
      case 5: {
        now += static_cast<std::int64_t>(rng.below(20)) * 1'000'000'000;
        const Instant tick_at = instant_from_ns(now);
        last = want.tick(policy, tick_at);
        const auto other = got.tick(policy, tick_at);
        ASSERT_EQ(last.size(), other.size()) << "op " << op;
        for (std::size_t k = 0; k < last.size(); ++k) {
          ASSERT_EQ(last[k].first, other[k].first) << "op " << op;
          ASSERT_EQ(last[k].second.kind, other[k].second.kind) << "op " << op;
          ASSERT_TRUE(rates_agree(last[k].second.rate, other[k].second.rate)) << "op " << op;
        }
        break;
      }
      case 6: {
        typename BasicHeatRegistry<Key>::Emissions part;
        for (const auto& e : last) {
          if (rng.chance(70)) part.push_back(e);
        }
        want.commit(part);
        got.commit(part);
        break;
      }
      case 7:
        want.rollback(key);
        got.rollback(key);
        break;
      case 8:
        if (rng.chance(20)) {
          want.remove(key);
          got.remove(key);
        }
        break;
      default:
        want.entry(key, half_life, t);
        got.entry(key, half_life, t);
        break;
    }
    ASSERT_EQ(want.size(), got.size()) << "op " << op;
    const auto a = want.get(key);
    const auto b = got.get(key);
    ASSERT_EQ(a.has_value(), b.has_value()) << "op " << op;
    if (a) {
      ASSERT_TRUE(rates_agree(a->rate(), b->rate())) << "op " << op;
      ASSERT_EQ(a->last_update(), b->last_update()) << "op " << op;
      ASSERT_EQ(a->half_life(), b->half_life()) << "op " << op;
      // Both commit the same emissions (the scalar registry's), so what they
      // record is the same number.
      ASSERT_EQ(a->last_emitted().has_value(), b->last_emitted().has_value()) << "op " << op;
      if (a->last_emitted()) {
        ASSERT_TRUE(same_double(*a->last_emitted(), *b->last_emitted()))
            << "op " << op << ": last_emitted " << *a->last_emitted() << " vs " << *b->last_emitted();
      }
      ASSERT_EQ(want.in_flight(key), got.in_flight(key)) << "op " << op;
    }
  }
  EXPECT_GT(want.stats().evictions, 0u);
  EXPECT_GT(want.stats().pruned, 0u);
}


}  // namespace heatkit::test
