// heatkit._heatkit: the Python module behind the heatkit package
// (python/heatkit/__init__.py re-exports it with simulate and replay).
#include "bindings.h"

NB_MODULE(_heatkit, m) {
  namespace python = heatkit::python;
  m.doc() = "heatkit's C++ core: Policy, Registry, Candidates, Decision, CounterState, backends(), snapshots.";
  python::bind_policy(m);
  python::bind_candidates(m);
  python::bind_registry(m);
  python::bind_snapshot(m);
  python::bind_cli(m);
  python::bind_native_timing(m);
}
