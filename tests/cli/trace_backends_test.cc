// Randomized traces replayed on every available backend print the same
// answers as the scalar reference: the same lines and words, with numbers
// agreeing within SEMANTICS.md's 1e-12 relative tolerance. The registries are
// large enough (hundreds of keys) that the vector paths, not only the scalar
// tails, decide the ticks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "tests/cli/answers.h"
#include "tools/replay.h"

namespace heatkit::trace {
namespace {

using test::words;
using test::words_agree;

std::string random_trace(std::uint64_t seed, bool blob) {
  std::mt19937_64 rng(seed);
  auto below = [&](std::uint64_t n) { return rng() % n; };
  std::ostringstream t;
  t << "registry " << (blob ? "blob" : "u64") << "\n";
  t << "cap " << (100 + below(300)) << "\n";
  t << "inflight " << (below(2) ? "on" : "off") << "\n";
  t << "policy ratio=" << (below(2) ? "2.0" : "1.5") << " half_life_ns=" << (1 + below(5)) * 1'000'000'000
    << "\n";
  auto key = [&] {
    const std::uint64_t k = below(500);
    if (!blob) return std::to_string(k);
    char hex[65];
    std::snprintf(hex, sizeof hex, "%016llx%048d", static_cast<unsigned long long>(k * 0x9e3779b97f4a7c15ULL), 0);
    return std::string(hex);
  };
  std::int64_t now = 1'000'000'000;
  std::vector<std::string> recent;
  for (int op = 0; op < 4000; ++op) {
    now += static_cast<std::int64_t>(below(50'000'000));
    if (below(50) == 0 && now > 5'000'000'000) now -= 3'000'000'000;  // time goes backwards
    const std::uint64_t r = below(100);
    const std::string k = key();
    if (r < 55) {
      t << "bump " << k << ' ' << now << '\n';
      recent.push_back(k);
    } else if (r < 60) {
      t << "touch " << k << ' ' << now << '\n';
    } else if (r < 64) {
      t << "decay " << k << ' ' << now << '\n';
    } else if (r < 70) {
      now += static_cast<std::int64_t>(below(4)) * static_cast<std::int64_t>(below(40)) * 1'000'000'000;
      t << "tick " << now << '\n';
    } else if (r < 75) {
      t << "commit\n";
    } else if (r < 78 && !recent.empty()) {
      t << "commit";
      for (int i = 0; i < 3; ++i) t << ' ' << recent[below(recent.size())];
      t << '\n';
    } else if (r < 82) {
      t << "rollback " << k << '\n';
    } else if (r < 84) {
      t << "remove " << k << '\n';
    } else if (r < 98) {
      t << "get " << k << '\n';
    } else {
      t << "len\n";
    }
  }
  return t.str();
}


std::string replay_on(const std::string& trace, const std::string& backend) {
  std::istringstream in(trace);
  std::ostringstream out;
  ReplayOptions options;
  options.backend = backend;
  replay(in, out, options);
  return out.str();
}

void expect_backends_agree(bool blob) {
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    const std::string trace = random_trace(seed, blob);
    const std::string want = replay_on(trace, "scalar");
    const auto want_words = words(want);
    ASSERT_GT(want_words.size(), 1000u);
    ASSERT_NE(want.find("emit"), std::string::npos);
    ASSERT_NE(want.find("withdraw"), std::string::npos);
    for (const BackendInfo& b : list_backends()) {
      if (!b.available || b.name == "scalar") continue;
      const auto got_words = words(replay_on(trace, b.name));
      ASSERT_EQ(want_words.size(), got_words.size()) << b.name << " seed " << seed;
      for (std::size_t i = 0; i < want_words.size(); ++i) {
        ASSERT_TRUE(words_agree(want_words[i], got_words[i]))
            << b.name << " seed " << seed << " word " << i << ": " << want_words[i] << " vs "
            << got_words[i];
      }
    }
  }
}

TEST(TraceBackends, u64_random_traces_print_the_same_answers_on_every_backend) {
  expect_backends_agree(false);
}

TEST(TraceBackends, blob_random_traces_print_the_same_answers_on_every_backend) {
  expect_backends_agree(true);
}

}  // namespace
}  // namespace heatkit::trace
