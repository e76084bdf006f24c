// Both registries against the model of SEMANTICS.md "Registry" in
// tests/unit/contract_model.h: a std::map of plain counters with their own
// decay and gate, bump-order numbers, a full scan for the eviction victim and
// an explicit in-flight flag, none of it the library's code. Random mixed
// operations with small caps, repeated and backwards timestamps; after every
// operation the whole registry must equal the model (rates within SEMANTICS.md
// "Numbers"). Seeds are fixed, and a failure names the seed, the operation
// index and the operation.
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

#include "registry/registry.h"
#include "math/random.h"
#include "tests/unit/contract_model.h"
#include "tests/unit/test_support.h"

namespace heatkit {
namespace {

using namespace std::chrono_literals;
using test::key_text;
using test::Rng;
namespace contract = test::contract;

constexpr int kOpsPerRun = 100'000;

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
      : cap_(cap),
        tracking_(track_in_flight),
        seed_(seed),
        rng_(seed),
        registry_(options()),
        model_(cap, track_in_flight) {
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
    EXPECT_GT(model_.evictions(), 0u) << "no evictions";
    EXPECT_GT(model_.pruned(), 0u) << "no prunes";
    EXPECT_GT(counts_.emits, 0u);
    EXPECT_GT(counts_.withdrawals, 0u);
    if (tracking_) {
      EXPECT_GT(counts_.skipped_in_flight, 0u);
    }
    EXPECT_EQ(registry_.stats().evictions, model_.evictions());
    EXPECT_EQ(registry_.stats().pruned, model_.pruned());
  }

 private:
  struct Counts {
    std::uint64_t emits = 0, withdrawals = 0, skipped_in_flight = 0;
  };

  RegistryOptions options() const {
    RegistryOptions o;
    o.cap = cap_;
    o.track_in_flight = tracking_;
    // The scalar reference: tests/unit/highway_test.cc (and the device
    // tests) hold the other backends to it.
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

  const Key& random_key() { return universe_[rng_.below(universe_.size())]; }

  // ---- one random operation on both ----

  void step() {
    const std::uint64_t r = rng_.below(100);
    const Key k = random_key();
    if (r < 30) {
      op_ = "entry+bump " + key_text(k);
      const Duration half = rng_.half_life();
      const Instant created = near_now();
      const Instant at = near_now();
      registry_.entry(k, half, created).bump(at);
      model_.bump(k, half, created, at);
    } else if (r < 35) {
      op_ = "entry " + key_text(k);
      const Duration half = rng_.half_life();
      const Instant created = near_now();
      registry_.entry(k, half, created);
      model_.entry(k, half, created);
    } else if (r < 43) {
      op_ = "entry+decay_to " + key_text(k);
      const Duration half = rng_.half_life();
      const Instant created = near_now();
      const Instant at = near_now();
      registry_.entry(k, half, created).decay_to(at);
      model_.entry(k, half, created).counter.decay_to(to_ns(at));
    } else if (r < 46) {
      const bool withdraw = rng_.chance(50);
      const double rate = static_cast<double>(rng_.below(8));
      op_ = std::string(withdraw ? "entry+record_withdrawal " : "entry+record_emission ") +
            key_text(k);
      const Duration half = rng_.half_life();
      auto e = registry_.entry(k, half, now_);
      contract::Counter& m = model_.entry(k, half, now_).counter;
      if (withdraw) {
        e.record_withdrawal();
        m.last_emitted = 0.0;
      } else {
        e.record_emission(rate);
        m.last_emitted = rate;
      }
    } else if (r < 58) {
      op_ = "tick";
      const Policy policy = rng_.policy();
      if (tracking_) {
        for (const auto& [key, e] : model_.entries()) counts_.skipped_in_flight += e.in_flight;
      }
      Emissions got = registry_.tick(policy, now_);
      Emissions want = model_.tick(policy, now_);
      // The registry returns slot order; the model key order.
      std::sort(got.begin(), got.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      check_tick(got, want, policy);
      // Each side later commits what it returned, as a caller would: the
      // registry's rates may differ from the model's in the last bits.
      last_tick_ = {std::move(got), std::move(want)};
    } else if (r < 66) {
      op_ = "commit (full)";
      commit(last_tick_);
    } else if (r < 72) {
      op_ = "commit (partial)";
      commit(some_of(last_tick_, 50));
    } else if (r < 75) {
      op_ = "commit (with strangers)";
      Commit mixed = some_of(last_tick_, 30);
      for (int i = 0; i < 3; ++i) {
        static const HeatEmission kKinds[] = {HeatEmission::emit(3.0), HeatEmission::emit(0.5),
                                              HeatEmission::withdraw(), HeatEmission::suppress()};
        const Key& stranger = random_key();
        const HeatEmission kind = rng_.pick(kKinds);
        mixed.registry.emplace_back(stranger, kind);
        mixed.model.emplace_back(stranger, kind);
      }
      commit(mixed);
    } else if (r < 82) {
      op_ = "rollback " + key_text(k);
      registry_.rollback(k);
      model_.rollback(k);
    } else if (r < 89) {
      op_ = "remove " + key_text(k);
      registry_.remove(k);
      model_.remove(k);
    } else {
      op_ = "get " + key_text(k);
      const auto got = registry_.get(k);
      const bool in_model = model_.find(k) != nullptr;
      if (got.has_value() != in_model) {
        error_ = "get: present " + std::to_string(got.has_value()) + ", model " +
                 std::to_string(in_model);
      }
    }
  }

  // What each side commits: the same keys and kinds, each side's own rates.
  struct Commit {
    Emissions registry, model;
  };

  // The same random choice of the last tick's candidates from both sides
  // (they agree on keys and kinds, check_tick saw to it).
  Commit some_of(const Commit& all, std::uint64_t percent) {
    Commit some;
    for (std::size_t i = 0; i < all.model.size(); ++i) {
      if (!rng_.chance(percent)) continue;
      some.registry.push_back(all.registry[i]);
      some.model.push_back(all.model[i]);
    }
    return some;
  }

  void commit(const Commit& c) {
    registry_.commit(c.registry);
    model_.commit(c.model);
  }

  // `got` sorted by key.
  void check_tick(const Emissions& got, const Emissions& want, const Policy& policy) {
    for (const auto& [k, e] : want) {
      if (e.is_emit()) ++counts_.emits;
      if (e.is_withdraw()) ++counts_.withdrawals;
    }
    const auto tie_note = [&](const Key& k) -> std::string {
      const auto* e = model_.find(k);
      return e != nullptr && contract::at_a_tie(e->counter.rate, e->counter.last_emitted, policy)
                 ? " (a tie SEMANTICS.md allows either way: change the seed)"
                 : "";
    };
    for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
      if (i == got.size() || i == want.size() || got[i].first != want[i].first) {
        const Key& k = i == got.size() ? want[i].first
                       : i == want.size() ? got[i].first
                                          : std::min(got[i].first, want[i].first);
        error_ = "tick returned " + std::to_string(got.size()) + " candidates, model " +
                 std::to_string(want.size()) + "; the first differing key " + key_text(k) + tie_note(k);
        return;
      }
      if (got[i].second.kind != want[i].second.kind ||
          !contract::rates_agree(got[i].second.rate, want[i].second.rate)) {
        error_ = "tick candidate " + key_text(got[i].first) + ": got " + emission_text(got[i].second) +
                 ", model " + emission_text(want[i].second) + tie_note(got[i].first);
        return;
      }
    }
  }

  // The whole registry against the model; an empty string when they agree.
  std::string compare() {
    if (!error_.empty()) return std::exchange(error_, {});
    std::ostringstream out;
    if (registry_.size() != model_.size()) {
      out << "size " << registry_.size() << ", model " << model_.size();
      registry_.for_each([&](const Key& k, const HeatCounter&) {
        if (model_.find(k) == nullptr) out << "; registry also holds " << key_text(k);
      });
      for (const auto& [k, e] : model_.entries()) {
        if (!registry_.contains(k)) out << "; model also holds " << key_text(k);
      }
      return out.str();
    }
    for (const auto& [k, e] : model_.entries()) {
      const auto got = registry_.get(k);
      if (!got) {
        out << "key " << key_text(k) << " missing (evicted the wrong entry?)";
        return out.str();
      }
      if (const std::string diff = contract::counter_mismatch(*got, e.counter); !diff.empty()) {
        out << "key " << key_text(k) << ": " << diff;
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
  contract::Registry<Key> model_;
  std::vector<Key> universe_;
  Commit last_tick_;  // the last tick's candidates, as each side returned them
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
