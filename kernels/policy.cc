#include "kernels/policy.h"

#include <cmath>
#include <sstream>

namespace heatkit {

std::string PolicyError::message() const {
  std::ostringstream out;
  out.precision(9);
  switch (kind) {
    case PolicyErrorKind::kRatioNotFinite:
      out << field << " must be finite, got " << value;
      break;
    case PolicyErrorKind::kRatioOutOfRange:
      out << field << " " << value << " is out of range [" << Policy::kMinRatio << ", "
          << Policy::kMaxRatio << "]";
      break;
    case PolicyErrorKind::kHalfLifeZero:
      out << field << " must be non-zero";
      break;
    case PolicyErrorKind::kHalfLifeNegative:
      out << field << " must be positive, got " << value << " ns";
      break;
  }
  return out.str();
}

std::optional<PolicyError> validate(const Policy& policy) {
  const float ratio = policy.emit_threshold_ratio;
  if (!std::isfinite(ratio)) {
    return PolicyError{PolicyErrorKind::kRatioNotFinite, "emit_threshold_ratio", ratio};
  }
  if (ratio < Policy::kMinRatio || ratio > Policy::kMaxRatio) {
    return PolicyError{PolicyErrorKind::kRatioOutOfRange, "emit_threshold_ratio", ratio};
  }
  const auto half_life = policy.decay_half_life.count();
  if (half_life == 0) {
    return PolicyError{PolicyErrorKind::kHalfLifeZero, "decay_half_life", 0.0};
  }
  if (half_life < 0) {
    return PolicyError{PolicyErrorKind::kHalfLifeNegative, "decay_half_life",
                       static_cast<double>(half_life)};
  }
  return std::nullopt;
}

InvalidPolicy::InvalidPolicy(PolicyError error)
    : std::invalid_argument("invalid policy: " + error.message()), error_(error) {}

void validate_or_throw(const Policy& policy) {
  if (auto error = validate(policy)) throw InvalidPolicy(*error);
}

}  // namespace heatkit
