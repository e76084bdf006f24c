// Helpers shared by the unit tests: fixed instants, the seed's key makers, and
// the typed-test plumbing that runs one test body over both registries.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <barrier>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/backend.h"
#include "math/counter_math.h"
#include "math/random.h"
#include "registry/concurrent_registry.h"
#include "registry/registry.h"
#include "store/counter_store.h"
#include "store/heat_counter.h"
#include <heatkit/heatkit.h>

namespace heatkit::test {

using namespace std::chrono_literals;

// A fixed origin. The seed used Instant::now(); every test only looks at
// differences, and a fixed value makes failures reproduce exactly.
inline Instant t0() { return instant_from_ns(1'000'000'000'000'000); }

// The seed's stable per-"channel" identifier.
inline std::uint64_t channel(std::uint64_t seed) { return 0xCAFE'BABE'0000'0000ULL | seed; }

// The seed's blob hash: the seed byte first, zeros after.
inline BlobKey hash(std::uint8_t seed) {
  BlobKey h{};
  h[0] = seed;
  return h;
}

// A distinct key of either kind for `seed`: channel(seed) for u64 keys, the
// little-endian bytes of seed for blob keys (so hash(s) == make_key<BlobKey>(s)).
template <class Key>
Key make_key(std::uint64_t seed) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return channel(seed);
  } else {
    Key k{};
    std::memcpy(k.data(), &seed, sizeof seed);
    return k;
  }
}

// A well-spread random key of either kind for index i: mix64(i) for u64
// keys, four words of counter_random(i, word, stream) for blob keys.
template <class Key>
Key random_key(std::uint64_t i, std::uint64_t stream) {
  if constexpr (std::is_same_v<Key, std::uint64_t>) {
    return mix64(i);
  } else {
    Key k{};
    for (std::size_t w = 0; w < 4; ++w) {
      const std::uint64_t word = counter_random(i, w, stream);
      std::memcpy(k.data() + 8 * w, &word, 8);
    }
    return k;
  }
}

// gtest names for the typed suites: Registry/HeatRegistry.<test>.
struct RegistryNames {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, HeatRegistry> ? "HeatRegistry" : "BlobHeatRegistry";
  }
};

// Draws from a fixed-seed engine. `below` uses a plain modulo (the bias is
// irrelevant here) because std::uniform_int_distribution differs between
// standard libraries and the seeds must reproduce everywhere.
struct Rng {
  std::mt19937_64 engine;
  explicit Rng(std::uint64_t seed) : engine(seed) {}
  std::uint64_t below(std::uint64_t n) { return engine() % n; }
  bool chance(std::uint64_t percent) { return below(100) < percent; }
  template <class T, std::size_t N>
  T pick(const T (&values)[N]) {
    return values[below(N)];
  }

  // A random workload's half-life: mostly a minute, sometimes a second, zero
  // (never decays) or an hour.
  Duration half_life() {
    using namespace std::chrono_literals;
    static const Duration kHalfLives[] = {60s, 60s, 60s, 1s, 0s, 3600s};
    return pick(kHalfLives);
  }
  // A random workload's policy: mostly the default, 5% disabled, 15% with
  // a ratio at the edges of its range or inside it.
  Policy policy() {
    Policy p;
    const std::uint64_t r = below(100);
    if (r < 5) {
      p.enabled = false;
    } else if (r < 20) {
      static const float kRatios[] = {1.01f, 1.1f, 3.0f, 10.0f};
      p.emit_threshold_ratio = pick(kRatios);
    }
    return p;
  }
};

// Doubles compared as the same value: bit-equal sign for zeros, NaN == NaN.
inline bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

// Two tick results are the same list: keys, decisions and rates (same_double).
template <class Key>
bool same_emissions(const std::vector<std::pair<Key, HeatEmission>>& a,
                    const std::vector<std::pair<Key, HeatEmission>>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.kind != b[i].second.kind ||
        !same_double(a[i].second.rate, b[i].second.rate)) {
      return false;
    }
  }
  return true;
}

// A key for messages: the number, or a blob's first four bytes in hex.
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

// Two counter snapshots (or their absence) hold the same state, doubles
// compared with same_double.
inline bool same_counter(const std::optional<HeatCounter>& a, const std::optional<HeatCounter>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return true;
  if (!same_double(a->rate(), b->rate()) || a->last_update() != b->last_update() ||
      a->half_life() != b->half_life() ||
      a->last_emitted().has_value() != b->last_emitted().has_value()) {
    return false;
  }
  return !a->last_emitted() || same_double(*a->last_emitted(), *b->last_emitted());
}

// Runs body(thread index) on `threads` threads released together by one
// barrier (so they race from the same instant), and joins them all.
template <class Body>
void run_together(std::size_t threads, Body body) {
  std::barrier start(static_cast<std::ptrdiff_t>(threads));
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      start.arrive_and_wait();
      body(t);
    });
  }
  for (auto& w : workers) w.join();
}

}  // namespace heatkit::test
