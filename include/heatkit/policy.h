// The emission policy (net-mesh `DataGravityPolicy`) and its validation.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

#include <heatkit/time.h>

namespace heatkit {

struct Policy {
  static constexpr float kMinRatio = 1.01f;
  static constexpr float kMaxRatio = 10.0f;

  bool enabled = true;
  float emit_threshold_ratio = 2.0f;
  Duration decay_half_life = std::chrono::minutes(30);

  friend bool operator==(const Policy&, const Policy&) = default;
};

// Why a policy is invalid. Each kind names one field.
enum class PolicyErrorKind {
  kRatioNotFinite,    // emit_threshold_ratio is NaN or infinite
  kRatioOutOfRange,   // emit_threshold_ratio outside [kMinRatio, kMaxRatio]
  kHalfLifeZero,      // decay_half_life == 0
  kHalfLifeNegative,  // decay_half_life < 0 (a Rust Duration cannot be; ours can)
};

struct PolicyError {
  PolicyErrorKind kind;
  const char* field;  // "emit_threshold_ratio" or "decay_half_life"
  double value;       // the offending value (ratio, or half-life in ns)

  // "emit_threshold_ratio 12.5 is out of range [1.01, 10]" and the like.
  std::string message() const;
  friend bool operator==(const PolicyError&, const PolicyError&) = default;
};

// The first problem with `policy`, or nothing when it is valid.
std::optional<PolicyError> validate(const Policy& policy);

// Thrown where an invalid policy reaches an operation (tick, the CLI).
class InvalidPolicy : public std::invalid_argument {
 public:
  explicit InvalidPolicy(PolicyError error);
  const PolicyError& error() const noexcept { return error_; }

 private:
  PolicyError error_;
};

// Throws InvalidPolicy when `policy` is invalid.
void validate_or_throw(const Policy& policy);

}  // namespace heatkit
