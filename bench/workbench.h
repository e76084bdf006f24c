// Prepared workloads and key sequences shared by heatkit_bench's benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench/subjects.h"
#include "bench/workload_cache.h"
#include "math/random.h"
#include "sim/zipf.h"

namespace heatkit::bench {

inline Workbench& workbench() {
  static Workbench bench;
  return bench;
}

// Bump key sequences: drawn before any clock starts, so every subject reads
// the same precomputed keys and no RNG cost is timed.
inline constexpr std::size_t kSequenceLength = std::size_t{1} << 22;
inline constexpr double kZipfExponent = 1.1;

enum class KeyChoice { kUniform, kZipf };

inline std::vector<std::uint64_t> make_key_sequence(KeyChoice choice, std::size_t n) {
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

// The sequence for (choice, n) as keys of kind Key (subjects.h as_key),
// cached while n stays the same.
template <class Key = std::uint64_t>
const std::vector<Key>& key_sequence(KeyChoice choice, std::size_t n) {
  static std::size_t cached_n = 0;
  static std::map<KeyChoice, std::vector<Key>> cache;
  if (n != cached_n) {
    cache.clear();
    cached_n = n;
  }
  auto it = cache.find(choice);
  if (it == cache.end()) {
    std::vector<std::uint64_t> ids = make_key_sequence(choice, n);
    if constexpr (std::is_same_v<Key, std::uint64_t>) {
      it = cache.emplace(choice, std::move(ids)).first;
    } else {
      std::vector<Key> keys(ids.size());
      for (std::size_t j = 0; j < ids.size(); ++j) keys[j] = as_key<Key>(ids[j]);
      it = cache.emplace(choice, std::move(keys)).first;
    }
  }
  return it->second;
}

}  // namespace heatkit::bench
