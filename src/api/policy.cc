#include <heatkit/policy.h>

#include <charconv>
#include <cmath>
#include <sstream>

namespace heatkit {
namespace {

// Ratios are f32: print the shortest text that reads back as the same f32, so
// a user who wrote 1.0099 reads 1.0099 (not the widened 1.00989997).
std::string ratio_text(double ratio) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, static_cast<float>(ratio)).ptr;
  return std::string(buf, end);
}

}  // namespace

std::string PolicyError::message() const {
  std::ostringstream out;
  std::ostringstream range;
  range << '[' << ratio_text(Policy::kMinRatio) << ", " << ratio_text(Policy::kMaxRatio) << ']';
  const std::string bounds = range.str();
  switch (kind) {
    case PolicyErrorKind::kRatioNotFinite:
      out << field << " must be finite, got " << ratio_text(value) << " (allowed range " << bounds
          << ")";
      break;
    case PolicyErrorKind::kRatioOutOfRange:
      out << field << " " << ratio_text(value) << " is out of range " << bounds;
      break;
    case PolicyErrorKind::kHalfLifeZero:
      out << field << " must be non-zero";
      break;
    case PolicyErrorKind::kHalfLifeNegative:
      out << field << " must be positive, got " << static_cast<long long>(value) << " ns";
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
