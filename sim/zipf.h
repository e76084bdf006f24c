// Zipf(s) over ranks 0..n-1 (P(k) proportional to 1/(k+1)^s) by Walker's alias
// method. The table is built once on the host in double precision and stored
// as integers, so sampling is integer-only: one 64-bit random word gives the
// same rank on every CPU and GPU.
#pragma once

#include <cstdint>
#include <vector>

#include "math/counter_math.h"  // HEATKIT_HD

namespace heatkit {

// Raw view of an alias table, usable from host and device code.
struct ZipfTableView {
  const std::uint32_t* threshold = nullptr;  // keep column k when low 32 bits < threshold[k]
  const std::uint32_t* alias = nullptr;      // otherwise take alias[k]
  std::uint32_t n = 0;
};

// The rank drawn by the 64 random bits `bits`: the high half picks a column
// uniformly (multiply-shift), the low half accepts it or takes its alias.
HEATKIT_HD inline std::uint32_t zipf_sample(const ZipfTableView& t, std::uint64_t bits) noexcept {
  const auto column = static_cast<std::uint32_t>(((bits >> 32) * static_cast<std::uint64_t>(t.n)) >> 32);
  const auto coin = static_cast<std::uint32_t>(bits);
  return coin < t.threshold[column] ? column : t.alias[column];
}

class ZipfTable {
 public:
  // Throws std::invalid_argument when n == 0 or s is not finite and >= 0.
  ZipfTable(std::uint32_t n, double s);

  ZipfTableView view() const noexcept { return {threshold_.data(), alias_.data(), n_}; }
  std::uint32_t size() const noexcept { return n_; }
  double exponent() const noexcept { return s_; }
  // P(rank k) as the table realizes it (for tests).
  double probability(std::uint32_t k) const;
  const std::vector<std::uint32_t>& thresholds() const noexcept { return threshold_; }
  const std::vector<std::uint32_t>& aliases() const noexcept { return alias_; }

 private:
  std::uint32_t n_;
  double s_;
  std::vector<std::uint32_t> threshold_;
  std::vector<std::uint32_t> alias_;
};

}  // namespace heatkit
