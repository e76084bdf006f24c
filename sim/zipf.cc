#include "sim/zipf.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace heatkit {

ZipfTable::ZipfTable(std::uint32_t n, double s) : n_(n), s_(s) {
  if (n == 0) throw std::invalid_argument("zipf: key count must be positive");
  if (!std::isfinite(s) || s < 0.0) {
    throw std::invalid_argument("zipf: exponent must be finite and >= 0, got " + std::to_string(s));
  }
  // Column weights scaled so the mean is 1 (Vose's alias construction).
  std::vector<double> weight(n);
  double total = 0.0;
  for (std::uint32_t k = 0; k < n; ++k) total += weight[k] = std::pow(static_cast<double>(k) + 1.0, -s);
  for (double& w : weight) w *= static_cast<double>(n) / total;

  threshold_.assign(n, 0);
  alias_.resize(n);
  for (std::uint32_t k = 0; k < n; ++k) alias_[k] = k;
  std::vector<std::uint32_t> small, large;
  for (std::uint32_t k = 0; k < n; ++k) (weight[k] < 1.0 ? small : large).push_back(k);
  constexpr double kScale = 4294967296.0;  // 2^32
  auto to_threshold = [](double p) -> std::uint32_t {
    if (p >= 1.0) return UINT32_MAX;  // always keep (off by 2^-32 at most)
    return static_cast<std::uint32_t>(p * kScale);
  };
  while (!small.empty() && !large.empty()) {
    const std::uint32_t lo = small.back();
    small.pop_back();
    const std::uint32_t hi = large.back();
    threshold_[lo] = to_threshold(weight[lo]);
    alias_[lo] = hi;
    weight[hi] -= 1.0 - weight[lo];
    if (weight[hi] < 1.0) {
      large.pop_back();
      small.push_back(hi);
    }
  }
  // Leftovers are 1 up to rounding: keep them always.
  for (std::uint32_t k : large) threshold_[k] = UINT32_MAX;
  for (std::uint32_t k : small) threshold_[k] = UINT32_MAX;
}

double ZipfTable::probability(std::uint32_t k) const {
  constexpr double kScale = 4294967296.0;
  double p = 0.0;
  for (std::uint32_t c = 0; c < n_; ++c) {
    const double keep = threshold_[c] == UINT32_MAX ? 1.0 : threshold_[c] / kScale;
    if (c == k) p += keep;
    if (alias_[c] == k && c != k) p += 1.0 - keep;
  }
  return p / n_;
}

}  // namespace heatkit
