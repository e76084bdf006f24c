// Before timing anything: both sides of every ratio must do the same work.
// Replays one schedule on the port and on a backend (evictions without ties,
// bumps, ticks with commits, a quiet gap that prunes everything) and compares
// every tick's candidates and the sizes, for either key kind.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "bench/cpu/operations.h"

namespace heatkit::bench {
namespace {

template <class Emissions>
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

template <class Heatkit, class Port>
std::string disagreement(const std::string& backend, unsigned threads) {
  using Key = typename Heatkit::Key;
  using Emissions = typename Heatkit::Emissions;
  constexpr std::size_t kCap = 1000;
  Heatkit heatkit(backend, kCap);
  heatkit.set_threads(threads);
  Port port(kCap);
  const Policy policy = default_policy();
  std::int64_t now = kStart;
  // 1500 inserts at distinct instants: the first 500 are evicted, no ties.
  for (std::uint64_t i = 0; i < 1500; ++i) {
    heatkit.touch(as_key<Key>(resident_key(i)), now);
    port.touch(as_key<Key>(resident_key(i)), now);
    now += kBumpStep;
  }
  for (std::uint64_t j = 0; j < 3000; j += 100) {
    // Half single bumps, half batches: both must match the port.
    std::vector<Key> batch;
    for (std::uint64_t k = j; k < j + 100; ++k) {
      batch.push_back(as_key<Key>(resident_key(500 + counter_random(kSeed, kChoiceStream, k) % 1000)));
    }
    if (j % 200 == 0) {
      heatkit.touch_batch(batch, now);
    } else {
      for (const Key& key : batch) heatkit.touch(key, now);
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

}  // namespace

std::string port_disagreement(const std::string& backend, unsigned threads, KeyKind keys) {
  return keys == KeyKind::kBlob ? disagreement<BlobHeatkitSubject, BlobPortSubject>(backend, threads)
                                : disagreement<HeatkitSubject, PortSubject>(backend, threads);
}

}  // namespace heatkit::bench
