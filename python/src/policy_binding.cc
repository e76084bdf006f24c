// heatkit.Policy: the emission policy, validated when it is made.
#include <Python.h>

#include <cmath>
#include <string>

#include <nanobind/operators.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include <heatkit/policy.h>

namespace heatkit::python {
namespace {

constexpr const char* kPolicyDoc = R"(The emission policy: when a tick announces a counter.

Policy(ratio=2.0, half_life_ns=1_800_000_000_000, enabled=True)

ratio: emit when a counter's rate moved by this factor (up or down) from the
    rate last announced; a finite number in [1.01, 10].
half_life_ns: the half-life of decay, in nanoseconds, > 0 (30 minutes by
    default). A tick decides with it; counters keep their own half-lives.
enabled: False makes every tick return no candidates.

Raises ValueError naming the field and its range for an invalid value,
TypeError for a value of the wrong type. Immutable; compares by value.)";

double to_ratio(nb::handle value) {
  if (PyBool_Check(value.ptr()) || PyUnicode_Check(value.ptr()) || PyBytes_Check(value.ptr())) {
    throw nb::type_error((std::string("ratio: expected a number, got ") + python_type(value)).c_str());
  }
  const double ratio = PyFloat_AsDouble(value.ptr());
  if (ratio == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw nb::type_error((std::string("ratio: expected a number, got ") + python_type(value)).c_str());
  }
  return ratio;
}

// The Python names of the fields InvalidPolicy names.
std::string python_message(const PolicyError& e, double ratio) {
  switch (e.kind) {
    case PolicyErrorKind::kRatioNotFinite:
    case PolicyErrorKind::kRatioOutOfRange: {
      nb::str text = nb::repr(nb::float_(ratio));
      return std::string("ratio: ") + text.c_str() + " is outside [1.01, 10] (a finite number)";
    }
    case PolicyErrorKind::kHalfLifeZero:
    case PolicyErrorKind::kHalfLifeNegative:
      break;
  }
  return "half_life_ns: " + std::to_string(static_cast<long long>(e.value)) + " is not > 0";
}

Policy make_policy(nb::handle ratio_value, nb::handle half_life_value, bool enabled) {
  const double ratio = to_ratio(ratio_value);
  if (PyBool_Check(half_life_value.ptr()) || !PyIndex_Check(half_life_value.ptr())) {
    throw nb::type_error(
        (std::string("half_life_ns: a half-life in nanoseconds is an int, got ") + python_type(half_life_value)).c_str());
  }
  const long long half_life = PyLong_AsLongLong(half_life_value.ptr());
  if (half_life == -1 && PyErr_Occurred()) {
    PyErr_Clear();
    throw nb::value_error("half_life_ns: outside [1, 2**63 - 1] (nanoseconds)");
  }
  Policy policy;
  policy.enabled = enabled;
  // The CLI and traces read the ratio as a float: out of its range it is
  // refused here rather than rounded to infinity.
  policy.emit_threshold_ratio =
      std::isfinite(ratio) && std::fabs(ratio) <= 1e30 ? static_cast<float>(ratio) : static_cast<float>(NAN);
  policy.decay_half_life = Duration(half_life);
  if (const auto error = validate(policy)) throw nb::value_error(python_message(*error, ratio).c_str());
  return policy;
}

}  // namespace

void bind_policy(nb::module_& m) {
  nb::class_<Policy>(m, "Policy", kPolicyDoc)
      .def(
          "__init__",
          [](Policy* self, nb::handle ratio, nb::handle half_life_ns, bool enabled) {
            new (self) Policy(make_policy(ratio, half_life_ns, enabled));
          },
          nb::arg("ratio") = 2.0, nb::arg("half_life_ns") = 1'800'000'000'000LL, nb::arg("enabled") = true)
      .def_prop_ro(
          "ratio", [](const Policy& p) { return static_cast<double>(p.emit_threshold_ratio); },
          "The emit threshold ratio (stored as a 32-bit float, as the CLI and traces do).")
      .def_prop_ro(
          "half_life_ns", [](const Policy& p) { return to_ns(p.decay_half_life); },
          "The half-life a tick decides with, in nanoseconds.")
      .def_prop_ro(
          "enabled", [](const Policy& p) { return p.enabled; }, "Whether ticks return candidates at all.")
      .def(nb::self == nb::self)
      .def("__hash__",
           [](const Policy& p) {
             return nb::hash(nb::make_tuple(p.emit_threshold_ratio, to_ns(p.decay_half_life), p.enabled));
           })
      .def("__repr__", [](const Policy& p) {
        nb::str ratio = nb::repr(nb::float_(static_cast<double>(p.emit_threshold_ratio)));
        return std::string("Policy(ratio=") + ratio.c_str() + ", half_life_ns=" +
               std::to_string(to_ns(p.decay_half_life)) + ", enabled=" + (p.enabled ? "True" : "False") + ")";
      });
}

}  // namespace heatkit::python
