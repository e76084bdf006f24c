// The straightforward port: the seed's design (heat.rs) written in C++ the way
// a user would write it first. It is the baseline every heatkit benchmark is
// compared with, so it keeps the seed's costs on purpose:
//  - one struct per counter in a std::unordered_map (a heap node per key);
//  - std::pow(0.5, h) per decay;
//  - a full scan for the smallest last_update on every insert at the cap;
//  - commit records each emission by lookup, then erase_if over the whole map.
// Behaviour follows SEMANTICS.md (the gate is heatkit's emission_decision, the
// same rows the seed calls); only eviction ties differ, as in the seed, where
// they go to hash-map order. The map's allocator counts its bytes, so bytes
// per counter are exact rather than estimated.
#pragma once

#include <malloc.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/heat_counter.h"
#include "math/counter_math.h"
#include <heatkit/policy.h>

namespace heatkit::bench {

// Bytes a container holds through CountingAllocator.
struct AllocationTally {
  std::size_t requested_bytes = 0;  // what the container asked for
  std::size_t heap_bytes = 0;       // what malloc spent on it: rounding and chunk headers included
};

// std::allocator that adds every allocation to a tally. Rebound copies (node
// and bucket allocators) share the tally.
template <class T>
class CountingAllocator {
 public:
  using value_type = T;

  explicit CountingAllocator(AllocationTally* tally) noexcept : tally_(tally) {}
  template <class U>
  CountingAllocator(const CountingAllocator<U>& other) noexcept : tally_(other.tally()) {}

  T* allocate(std::size_t n) {
    T* p = std::allocator<T>{}.allocate(n);
    tally_->requested_bytes += n * sizeof(T);
    tally_->heap_bytes += heap_size(p);
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    tally_->requested_bytes -= n * sizeof(T);
    tally_->heap_bytes -= heap_size(p);
    std::allocator<T>{}.deallocate(p, n);
  }

  AllocationTally* tally() const noexcept { return tally_; }
  template <class U>
  bool operator==(const CountingAllocator<U>& other) const noexcept {
    return tally_ == other.tally();
  }

 private:
  // glibc's chunk: the usable size plus one size word of header.
  static std::size_t heap_size(void* p) noexcept { return malloc_usable_size(p) + sizeof(std::size_t); }

  AllocationTally* tally_;
};

// The seed's HeatCounter with int64 nanosecond times.
struct PortCounter {
  double rate = 0.0;
  std::int64_t last_update = 0;
  std::optional<double> last_emitted;
  std::int64_t half_life = 0;

  void decay_to(std::int64_t now) {
    if (half_life == 0 || rate == 0.0) {
      last_update = now;
      return;
    }
    const double elapsed_s = now > last_update ? static_cast<double>(now - last_update) * 1e-9 : 0.0;
    const double half_lives = elapsed_s / (static_cast<double>(half_life) * 1e-9);
    if (half_lives > 64.0) {
      rate = 0.0;
    } else {
      rate *= std::pow(0.5, half_lives);
      if (rate < kRateEpsilon) rate = 0.0;
    }
    last_update = now;
  }
  void bump(std::int64_t now) {
    decay_to(now);
    rate += 1.0;
  }
};

// A 32-byte key hashed the way a C++ user would write it first: the
// standard library's hash of its bytes (the seed's map hashes its [u8; 32]
// keys with SipHash).
struct PortBlobHash {
  std::size_t operator()(const std::array<std::uint8_t, 32>& key) const noexcept {
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
  }
};

// The seed's HeatRegistry (no in-flight tracking), for u64 keys
// (StraightforwardRegistry) or 32-byte keys (BlobStraightforwardRegistry).
template <class Key, class Hash = std::hash<Key>>
class BasicStraightforwardRegistry {
 public:
  using Emissions = std::vector<std::pair<Key, HeatEmission>>;

  explicit BasicStraightforwardRegistry(std::size_t cap)
      : cap_(cap),
        tally_(std::make_unique<AllocationTally>()),
        counters_(0, Hash{}, std::equal_to<Key>{}, Allocator(tally_.get())) {}

  // Get-or-create; a new key at the cap first evicts the oldest last_update.
  PortCounter& entry(const Key& key, std::int64_t half_life, std::int64_t now) {
    if (!counters_.contains(key) && cap_ > 0 && counters_.size() >= cap_) evict_oldest();
    return counters_.try_emplace(key, PortCounter{0.0, now, std::nullopt, half_life}).first->second;
  }

  // Decays every counter to `now` and returns the Emit/Withdraw candidates.
  Emissions tick(const Policy& policy, std::int64_t now) {
    const double ratio = static_cast<double>(policy.emit_threshold_ratio);
    Emissions out;
    for (auto& [key, counter] : counters_) {
      counter.decay_to(now);
      const Decision d =
          emission_decision(counter.rate, counter.last_emitted.has_value(),
                            counter.last_emitted.value_or(0.0), policy.enabled, ratio);
      if (d == Decision::kEmit) out.emplace_back(key, HeatEmission::emit(counter.rate));
      if (d == Decision::kWithdraw) out.emplace_back(key, HeatEmission::withdraw());
    }
    return out;
  }

  // Records the emissions, then prunes fully decayed, withdrawn counters.
  void commit(std::span<const std::pair<Key, HeatEmission>> emissions) {
    for (const auto& [key, emission] : emissions) {
      const auto it = counters_.find(key);
      if (it == counters_.end()) continue;
      if (emission.is_emit()) it->second.last_emitted = emission.rate;
      if (emission.is_withdraw()) it->second.last_emitted = 0.0;
    }
    std::erase_if(counters_, [](const auto& kv) {
      const PortCounter& c = kv.second;
      return c.rate <= 0.0 && c.last_emitted.has_value() && *c.last_emitted <= 0.0;
    });
  }

  std::size_t size() const noexcept { return counters_.size(); }
  // Calls f(counter) for every counter, in map order (benchmark set-up).
  template <class F>
  void for_each(F&& f) {
    for (auto& entry : counters_) f(entry.second);
  }
  // Bytes the map asked for (nodes and bucket array).
  std::size_t requested_bytes() const noexcept { return tally_->requested_bytes; }
  // Bytes malloc spent on them, headers and rounding included.
  std::size_t heap_bytes() const noexcept { return tally_->heap_bytes; }
  std::size_t bucket_bytes() const noexcept { return counters_.bucket_count() * sizeof(void*); }

 private:
  using Allocator = CountingAllocator<std::pair<const Key, PortCounter>>;
  using Map = std::unordered_map<Key, PortCounter, Hash, std::equal_to<Key>, Allocator>;

  // The seed's evict_lru: O(n) over every counter.
  void evict_oldest() {
    auto victim = counters_.begin();
    for (auto it = counters_.begin(); it != counters_.end(); ++it) {
      if (it->second.last_update < victim->second.last_update) victim = it;
    }
    if (victim != counters_.end()) counters_.erase(victim);
  }

  std::size_t cap_;
  std::unique_ptr<AllocationTally> tally_;  // stable address for the allocator
  Map counters_;
};

using StraightforwardRegistry = BasicStraightforwardRegistry<std::uint64_t>;
using BlobStraightforwardRegistry =
    BasicStraightforwardRegistry<std::array<std::uint8_t, 32>, PortBlobHash>;

}  // namespace heatkit::bench
