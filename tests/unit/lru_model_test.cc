// Both registries against a naive model of SEMANTICS.md "Registry": a std::map
// of HeatCounter with bump-order numbers, a full scan for the eviction victim
// and an explicit in-flight flag. Random mixed operations with small caps,
// repeated and backwards timestamps; after every operation the whole registry
// must equal the model. Seeds are fixed, and a failure names the seed, the
// operation index and the operation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "host/registry.h"
#include "kernels/random.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::Rng;
using test::same_double;

constexpr int kOpsPerRun = 100'000;

// The emission gate written out from SEMANTICS.md, independent of
// counter_math.h's emission_decision.
std::optional<HeatEmission> model_gate(double rate, std::optional<double> prev,
                                       const Policy& policy) {
  if (!policy.enabled) return std::nullopt;
  if (!std::isfinite(rate) || rate < 0.0) return std::nullopt;
  if (!prev) {
    if (rate > 0.0) return HeatEmission::emit(rate);
    return std::nullopt;
  }
  if (rate == 0.0) {
    if (*prev > 0.0) return HeatEmission::withdraw();
    return std::nullopt;
  }
  if (*prev <= 0.0) return HeatEmission::emit(rate);
  const double ratio = static_cast<double>(policy.emit_threshold_ratio);
  if (rate / *prev >= ratio || *prev / rate >= ratio) return HeatEmission::emit(rate);
  return std::nullopt;
}

template <class Key>
Key key_of(std::uint64_t i) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return i % 3 == 0 ? i : mix64(i);  // small dense keys and spread ones
  } else {
    Key k{};
    for (std::size_t w = 0; w < 4; ++w) {
      const std::uint64_t word = counter_random(i, w, 0);
      std::memcpy(k.data() + 8 * w, &word, 8);
    }
    return k;
  }
}

template <class Key>
std::string key_text(const Key& k) {
  std::ostringstream out;
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    out << k;
  } else {
    out << std::hex;
    for (int i = 0; i < 4; ++i) out << static_cast<int>(k[static_cast<std::size_t>(i)]);
    out << "..";
  }
  return out.str();
}

std::string emission_text(const HeatEmission& e) {
  std::ostringstream out;
  out.precision(17);
  switch (e.kind) {
    case Decision::kEmit:
      out << "Emit(" << e.rate << ")";
      break;
    case Decision::kWithdraw:
      out << "Withdraw";
      break;
    case Decision::kSuppress:
      out << "Suppress";
      break;
  }
  return out.str();
}

template <class Registry>
class ModelRun {
 public:
  using Key = typename Registry::key_type;
  using Emissions = typename Registry::Emissions;

  ModelRun(std::size_t cap, std::uint64_t seed, bool track_in_flight)
      : cap_(cap), tracking_(track_in_flight), seed_(seed), rng_(seed), registry_(options()) {
    const std::size_t universe = cap == 0 ? 40 : 2 * cap + 3;
    for (std::size_t i = 0; i < universe; ++i) universe_.push_back(key_of<Key>(seed * 1000 + i));
  }

  void run(int ops) {
    ASSERT_EQ(registry_.tracks_in_flight(), tracking_);
    for (op_index_ = 0; op_index_ < ops; ++op_index_) {
      move_time();
      step();
      if (const std::string error = compare(); !error.empty()) {
        FAIL() << "seed " << seed_ << ", op #" << op_index_ << " (" << op_ << "), cap " << cap_
               << ", tracking " << tracking_ << ": " << error;
      }
    }
    // The run must have exercised what it claims to.
    EXPECT_GT(counts_.evictions, 0u) << "no evictions";
    EXPECT_GT(counts_.prunes, 0u) << "no prunes";
    EXPECT_GT(counts_.emits, 0u);
    EXPECT_GT(counts_.withdrawals, 0u);
    if (tracking_) {
      EXPECT_GT(counts_.skipped_in_flight, 0u);
    }
    EXPECT_EQ(registry_.stats().evictions, counts_.evictions);
    EXPECT_EQ(registry_.stats().pruned, counts_.prunes);
  }

 private:
  struct ModelEntry {
    HeatCounter counter;
    std::uint64_t order;  // call order of the last bump or the creation
    bool in_flight;
  };
  struct Counts {
    std::uint64_t evictions = 0, prunes = 0, emits = 0, withdrawals = 0, skipped_in_flight = 0;
  };

  RegistryOptions options() const {
    RegistryOptions o;
    o.cap = cap_;
    o.track_in_flight = tracking_;
    // The model is the scalar reference itself, so rates compare exactly;
    // tests/unit/highway_test.cc holds the other backends to it.
    o.backend = "scalar";
    return o;
  }

  // ---- time ----

  void move_time() {
    const std::uint64_t r = rng_.below(100);
    if (r < 35) return;  // repeated timestamp
    if (r < 65) {
      now_ += Duration(static_cast<std::int64_t>(rng_.below(2'000'000'000)));
    } else if (r < 80) {
      now_ -= Duration(static_cast<std::int64_t>(rng_.below(500'000'000)));  // backwards
    } else if (r < 90) {
      static const std::int64_t kHalfLives[] = {1, 2, 10, 63, 64, 65, 100};
      now_ += 60s * rng_.pick(kHalfLives);
    } else if (r < 93) {
      now_ -= 60s * static_cast<std::int64_t>(rng_.below(70));  // far backwards
    } else {
      now_ += Duration(static_cast<std::int64_t>(rng_.below(3)));  // a nanosecond or two
    }
  }

  // An instant near now for a single operation (creation and the operation
  // itself may differ).
  Instant near_now() {
    const std::uint64_t r = rng_.below(10);
    if (r < 6) return now_;
    if (r < 8) return now_ - Duration(static_cast<std::int64_t>(rng_.below(1'000'000'000)));
    return now_ + Duration(static_cast<std::int64_t>(rng_.below(1'000'000'000)));
  }

  Duration random_half_life() {
    static const Duration kHalfLives[] = {60s, 60s, 60s, 1s, 0s, 3600s};
    return rng_.pick(kHalfLives);
  }

  const Key& random_key() { return universe_[rng_.below(universe_.size())]; }

  Policy random_policy() {
    Policy p;
    const std::uint64_t r = rng_.below(100);
    if (r < 5) {
      p.enabled = false;
    } else if (r < 20) {
      static const float kRatios[] = {1.01f, 1.1f, 3.0f, 10.0f};
      p.emit_threshold_ratio = rng_.pick(kRatios);
    }
    return p;
  }

  // ---- the model ----

  // Get-or-create, evicting the smallest (last_update, order) at the cap.
  ModelEntry& model_entry(const Key& k, Duration half_life, Instant now) {
    if (auto it = model_.find(k); it != model_.end()) return it->second;
    if (cap_ > 0 && model_.size() >= cap_) {
      auto victim = model_.begin();
      for (auto it = model_.begin(); it != model_.end(); ++it) {
        const Instant lu = it->second.counter.last_update();
        const Instant best = victim->second.counter.last_update();
        if (lu < best || (lu == best && it->second.order < victim->second.order)) victim = it;
      }
      model_.erase(victim);
      ++counts_.evictions;
    }
    return model_.emplace(k, ModelEntry{HeatCounter(half_life, now), next_order_++, false})
        .first->second;
  }

  Emissions model_tick(const Policy& policy, Instant now) {
    Emissions out;
    for (auto& [k, e] : model_) {
      e.counter.decay_to(now);
      if (tracking_ && e.in_flight) {
        ++counts_.skipped_in_flight;
        continue;
      }
      if (auto emission = model_gate(e.counter.rate(), e.counter.last_emitted(), policy)) {
        out.emplace_back(k, *emission);
        if (tracking_) e.in_flight = true;
      }
    }
    return out;  // key order
  }

  void model_commit(const Emissions& emissions) {
    for (const auto& [k, emission] : emissions) {
      const auto it = model_.find(k);
      if (it == model_.end()) continue;
      if (emission.is_emit()) it->second.counter.record_emission(emission.rate);
      if (emission.is_withdraw()) it->second.counter.record_withdrawal();
      it->second.in_flight = false;
    }
    for (auto it = model_.begin(); it != model_.end();) {
      const HeatCounter& c = it->second.counter;
      if (c.rate() <= 0.0 && c.last_emitted() && *c.last_emitted() <= 0.0) {
        it = model_.erase(it);
        ++counts_.prunes;
      } else {
        ++it;
      }
    }
  }

  // ---- one random operation on both ----

  void step() {
    const std::uint64_t r = rng_.below(100);
    const Key k = random_key();
    if (r < 30) {
      op_ = "entry+bump " + key_text(k);
      const Duration half = random_half_life();
      const Instant created = near_now();
      const Instant at = near_now();
      registry_.entry(k, half, created).bump(at);
      model_entry(k, half, created).counter.bump(at);
      model_.at(k).order = next_order_++;
    } else if (r < 35) {
      op_ = "entry " + key_text(k);
      const Duration half = random_half_life();
      const Instant created = near_now();
      registry_.entry(k, half, created);
      model_entry(k, half, created);
    } else if (r < 43) {
      op_ = "entry+decay_to " + key_text(k);
      const Duration half = random_half_life();
      const Instant created = near_now();
      const Instant at = near_now();
      registry_.entry(k, half, created).decay_to(at);
      model_entry(k, half, created).counter.decay_to(at);
    } else if (r < 46) {
      const bool withdraw = rng_.chance(50);
      const double rate = static_cast<double>(rng_.below(8));
      op_ = std::string(withdraw ? "entry+record_withdrawal " : "entry+record_emission ") +
            key_text(k);
      const Duration half = random_half_life();
      auto e = registry_.entry(k, half, now_);
      ModelEntry& m = model_entry(k, half, now_);
      if (withdraw) {
        e.record_withdrawal();
        m.counter.record_withdrawal();
      } else {
        e.record_emission(rate);
        m.counter.record_emission(rate);
      }
    } else if (r < 58) {
      op_ = "tick";
      const Policy policy = random_policy();
      Emissions got = registry_.tick(policy, now_);
      const Emissions want = model_tick(policy, now_);
      check_tick(std::move(got), want);
      last_tick_ = want;
    } else if (r < 66) {
      op_ = "commit (full)";
      commit(last_tick_);
    } else if (r < 72) {
      op_ = "commit (partial)";
      Emissions some;
      for (const auto& e : last_tick_) {
        if (rng_.chance(50)) some.push_back(e);
      }
      commit(some);
    } else if (r < 75) {
      op_ = "commit (with strangers)";
      Emissions mixed;
      for (const auto& e : last_tick_) {
        if (rng_.chance(30)) mixed.push_back(e);
      }
      for (int i = 0; i < 3; ++i) {
        static const HeatEmission kKinds[] = {HeatEmission::emit(3.0), HeatEmission::emit(0.5),
                                              HeatEmission::withdraw(), HeatEmission::suppress()};
        mixed.emplace_back(random_key(), rng_.pick(kKinds));
      }
      commit(mixed);
    } else if (r < 82) {
      op_ = "rollback " + key_text(k);
      registry_.rollback(k);
      if (auto it = model_.find(k); it != model_.end()) it->second.in_flight = false;
    } else if (r < 89) {
      op_ = "remove " + key_text(k);
      registry_.remove(k);
      model_.erase(k);
    } else {
      op_ = "get " + key_text(k);
      const auto got = registry_.get(k);
      const auto it = model_.find(k);
      if (got.has_value() != (it != model_.end())) {
        error_ = "get: present " + std::to_string(got.has_value()) + ", model " +
                 std::to_string(it != model_.end());
      }
    }
  }

  void commit(const Emissions& emissions) {
    registry_.commit(emissions);
    model_commit(emissions);
  }

  void check_tick(Emissions got, const Emissions& want) {
    for (const auto& [k, e] : want) {
      if (e.is_emit()) ++counts_.emits;
      if (e.is_withdraw()) ++counts_.withdrawals;
    }
    // The registry returns slot order; compare in key order.
    std::sort(got.begin(), got.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    if (got.size() != want.size()) {
      error_ = "tick returned " + std::to_string(got.size()) + " candidates, model " +
               std::to_string(want.size());
      return;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (got[i].first != want[i].first || got[i].second.kind != want[i].second.kind ||
          !same_double(got[i].second.rate, want[i].second.rate)) {
        error_ = "tick candidate " + std::to_string(i) + ": got " + key_text(got[i].first) + " " +
                 emission_text(got[i].second) + ", model " + key_text(want[i].first) + " " +
                 emission_text(want[i].second);
        return;
      }
    }
  }

  // The whole registry against the model; an empty string when they agree.
  std::string compare() {
    if (!error_.empty()) return std::exchange(error_, {});
    std::ostringstream out;
    out.precision(17);
    if (registry_.size() != model_.size()) {
      out << "size " << registry_.size() << ", model " << model_.size();
      registry_.for_each([&](const Key& k, const HeatCounter&) {
        if (!model_.count(k)) out << "; registry also holds " << key_text(k);
      });
      for (const auto& [k, e] : model_) {
        if (!registry_.contains(k)) out << "; model also holds " << key_text(k);
      }
      return out.str();
    }
    for (const auto& [k, e] : model_) {
      const auto got = registry_.get(k);
      if (!got) {
        out << "key " << key_text(k) << " missing (evicted the wrong entry?)";
        return out.str();
      }
      const HeatCounter& want = e.counter;
      if (!same_double(got->rate(), want.rate())) {
        out << "key " << key_text(k) << " rate " << got->rate() << ", model " << want.rate();
      } else if (got->last_update() != want.last_update()) {
        out << "key " << key_text(k) << " last_update " << to_ns(got->last_update()) << ", model "
            << to_ns(want.last_update());
      } else if (got->last_emitted() != want.last_emitted()) {
        out << "key " << key_text(k) << " last_emitted " << got->last_emitted().value_or(-999)
            << " (has " << got->last_emitted().has_value() << "), model "
            << want.last_emitted().value_or(-999);
      } else if (got->half_life() != want.half_life()) {
        out << "key " << key_text(k) << " half_life " << got->half_life().count() << ", model "
            << want.half_life().count();
      } else if (registry_.in_flight(k) != e.in_flight) {
        out << "key " << key_text(k) << " in_flight " << registry_.in_flight(k) << ", model "
            << e.in_flight;
      }
      if (!out.str().empty()) return out.str();
    }
    return {};
  }

  std::size_t cap_;
  bool tracking_;
  std::uint64_t seed_;
  Rng rng_;
  Registry registry_;
  std::map<Key, ModelEntry> model_;
  std::uint64_t next_order_ = 0;
  std::vector<Key> universe_;
  Emissions last_tick_;
  Instant now_ = test::t0();
  int op_index_ = 0;
  std::string op_;
  std::string error_;  // a mismatch found inside an operation
  Counts counts_;
};

struct RunParams {
  bool blob;
  std::size_t cap;
  std::uint64_t seed;
  bool tracking;
};

// Shown by gtest for a failing run instead of the struct's bytes.
void PrintTo(const RunParams& p, std::ostream* os) {
  *os << (p.blob ? "BlobHeatRegistry" : "HeatRegistry") << ", cap " << p.cap << ", seed " << p.seed
      << ", in-flight tracking " << (p.tracking ? "on" : "off");
}

std::string run_name(const ::testing::TestParamInfo<RunParams>& info) {
  const RunParams& p = info.param;
  return std::string(p.blob ? "Blob" : "U64") + "_cap" + std::to_string(p.cap) + "_seed" +
         std::to_string(p.seed) + (p.tracking ? "_tracking" : "_untracked");
}

std::vector<RunParams> all_runs() {
  std::vector<RunParams> runs;
  for (const bool blob : {false, true}) {
    for (const std::size_t cap : {1u, 2u, 3u, 8u, 64u}) {
      for (const std::uint64_t seed : {1u, 2u, 3u}) {
        for (const bool tracking : {false, true}) runs.push_back({blob, cap, seed, tracking});
      }
    }
  }
  return runs;
}

class RegistryVsModel : public ::testing::TestWithParam<RunParams> {};

TEST_P(RegistryVsModel, agrees_after_every_operation) {
  const RunParams& p = GetParam();
  if (p.blob) {
    ModelRun<BlobHeatRegistry>(p.cap, p.seed, p.tracking).run(kOpsPerRun);
  } else {
    ModelRun<HeatRegistry>(p.cap, p.seed, p.tracking).run(kOpsPerRun);
  }
}

INSTANTIATE_TEST_SUITE_P(Runs, RegistryVsModel, ::testing::ValuesIn(all_runs()), run_name);

}  // namespace
}  // namespace heatkit
