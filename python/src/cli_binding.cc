// What the CLI does, as functions: simulate, replay and backends. The
// Python side (heatkit/_frontends.py) checks option names and raises
// TraceError; this side runs the CLI's own code with the GIL released.
#include <Python.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nanobind/stl/string.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "tools/replay.h"
#include "tools/simulate_options.h"
#include "tools/simulate_report.h"
#include "tools/trace.h"
#include <heatkit/backend.h>

namespace heatkit::python {
namespace {

// The SimulateOptions field of each option name, as the CLI's --flags.
std::string* option_field(cli::SimulateOptions& o, const std::string& name) {
  const std::pair<const char*, std::string*> fields[] = {
      {"keys", &o.keys},
      {"zipf", &o.zipf},
      {"reads_per_second", &o.reads_per_second},
      {"tick_interval_s", &o.tick_interval_s},
      {"duration_s", &o.duration_s},
      {"half_life_s", &o.half_life_s},
      {"ratio", &o.ratio},
      {"cap", &o.cap},
      {"commit_failure_rate", &o.commit_failure_rate},
      {"seed", &o.seed},
      {"backend", &o.backend},
      {"threads", &o.threads},
      {"max_memory", &o.max_memory},
  };
  for (const auto& [field, value] : fields) {
    if (name == field) return value;
  }
  return nullptr;
}

// Runs the simulation the options (text, as the CLI takes them) describe and
// returns its summary as `heatkit simulate --json` prints it.
std::string simulate_json(const std::vector<std::pair<std::string, std::string>>& options, bool host_reads) {
  cli::SimulateOptions o = cli::default_simulate_options();
  for (const auto& [name, value] : options) {
    std::string* field = option_field(o, name);
    if (field == nullptr) throw nb::type_error(("simulate: no option " + name).c_str());
    *field = value;
  }
  o.host_reads = host_reads;
  sim::SimulationSummary summary;
  try {
    nb::gil_scoped_release release;
    summary = cli::run_checked_simulation(o);
  } catch (const cli::UsageError& e) {
    throw nb::value_error(e.what());
  } catch (const cli::OutOfMemory& e) {
    PyErr_SetString(PyExc_MemoryError, e.what());
    throw nb::python_error();
  }
  return cli::summary_json(summary);
}

// Replays the trace at `path`: (answer lines, error message or None, the
// error's line number or 0). A malformed line ends the replay with the
// answers before it kept.
nb::tuple replay(const std::string& path, const std::string& backend) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());
    throw nb::python_error();
  }
  std::ostringstream out;
  std::string error;
  std::size_t error_line = 0;
  bool read_failed = false;
  {
    nb::gil_scoped_release release;
    trace::ReplayOptions options;
    options.backend = backend;
    try {
      trace::replay(in, out, options);
    } catch (const trace::TraceError& e) {
      error = e.what();
      error_line = e.line();
    } catch (const trace::TraceReadError& e) {
      error = e.what();
      read_failed = true;
    }
  }
  if (read_failed) {
    PyErr_SetString(PyExc_OSError, (path + ": " + error).c_str());
    throw nb::python_error();
  }
  std::vector<std::string> lines;
  std::istringstream answers(out.str());
  for (std::string line; std::getline(answers, line);) lines.push_back(std::move(line));
  return nb::make_tuple(lines, error.empty() ? nb::none() : nb::cast(error), error_line);
}

nb::list backends() {
  nb::list list;
  for (const BackendInfo& info : list_backends()) {
    nb::dict d;
    d["name"] = info.name;
    d["description"] = info.description;
    d["available"] = info.available;
    d["unavailable_reason"] = info.unavailable_reason;
    d["tick_uses_shared_half_life"] = info.tick_uses_shared_half_life;
    d["device_columns"] = info.device_columns;
    d["forward_decay"] = info.forward_decay;
    list.append(d);
  }
  return list;
}

}  // namespace

void bind_cli(nb::module_& m) {
  m.def("_simulate_json", &simulate_json, nb::arg("options"), nb::arg("host_reads"),
        "The simulation the options (name, text) describe; its summary as `heatkit simulate --json` prints it.");
  m.def("_replay", &replay, nb::arg("path"), nb::arg("backend"),
        "Replays a trace: (answer lines, error message or None, error line or 0).");
  m.def("backends", &backends, R"(Every backend this build knows, as dicts.

Keys: name, description, available (whether it can run here),
unavailable_reason ("" when available), tick_uses_shared_half_life,
device_columns (its counters live in GPU memory) and forward_decay (its
counters are kept against a landmark; rates agree with scalar's to 1e-12).)");
}

}  // namespace heatkit::python
