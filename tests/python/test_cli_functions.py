"""heatkit.simulate, heatkit.backends and heatkit.replay against the CLI."""
import json
import math
import subprocess

import pytest

import heatkit
from heatutil import AVAILABLE, TRACE_DIR, cli_path

SMALL = dict(keys=1000, duration_s=2, tick_interval_s=1, reads_per_second=10000, seed=7)
COUNTS = ("ticks", "reads_per_tick", "bumps", "emits_committed", "emits_rolled_back",
          "withdrawals_committed", "withdrawals_rolled_back", "prunes", "evictions",
          "counters_live", "counters_peak", "counters_ticked")
BACKEND_KEYS = {"name", "description", "available", "unavailable_reason",
                "tick_uses_shared_half_life", "device_columns", "forward_decay"}


def cli(*args):
    path = cli_path()
    if path is None:
        pytest.skip("HEATKIT_CLI does not name the heatkit executable to compare with")
    return subprocess.run([path, *args], capture_output=True, text=True, check=False)


def not_timing(name):
    return not (name.endswith("_s") or name in ("tick_s_per_tick", "ns_per_counter_tick", "memory"))


def test_simulate_returns_the_summary():
    summary = heatkit.simulate(backend="scalar", **SMALL)
    assert isinstance(summary, dict)
    assert summary["backend"] == "scalar"
    assert summary["bumps"] == 20000 and summary["ticks"] == 2
    for name, value in SMALL.items():
        assert summary["config"][name] == value
    assert all(isinstance(summary[c], int) for c in COUNTS)


def test_simulate_matches_cli_json():
    run = cli("simulate", "--json", "--backend", "scalar",
              *[f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()])
    assert run.returncode == 0, run.stderr
    expected = json.loads(run.stdout)
    summary = heatkit.simulate(backend="scalar", **SMALL)
    assert set(summary) == set(expected)
    for name in filter(not_timing, expected):
        assert summary[name] == expected[name], name
    assert set(summary["memory"]) == set(expected["memory"])


@pytest.mark.parametrize("other", [b for b in AVAILABLE if b != "scalar"])
def test_simulate_counts_do_not_depend_on_backend(other):
    reference = heatkit.simulate(backend="scalar", **SMALL)
    summary = heatkit.simulate(backend=other, **SMALL)
    assert summary["backend"] == other
    assert {c: summary[c] for c in COUNTS} == {c: reference[c] for c in COUNTS}


def test_simulate_seed_decides_the_workload():
    a = heatkit.simulate(backend="scalar", **SMALL)
    b = heatkit.simulate(backend="scalar", **SMALL)
    assert {c: a[c] for c in COUNTS} == {c: b[c] for c in COUNTS}


def test_simulate_unknown_option_is_type_error():
    with pytest.raises(TypeError, match="no_such_option"):
        heatkit.simulate(no_such_option=1, **SMALL)


@pytest.mark.parametrize("name,value", [
    ("reads_per_second", -5), ("ratio", 12.0), ("zipf", math.nan), ("commit_failure_rate", 2.0),
    ("half_life_s", 0.0), ("tick_interval_s", 0.0), ("threads", 5000), ("backend", "nope"),
])
def test_simulate_bad_value_names_the_option(name, value):
    options = dict(SMALL, backend="scalar")
    options[name] = value
    with pytest.raises(ValueError) as info:
        heatkit.simulate(**options)
    message = str(info.value)
    assert name in message and "--" + name.replace("_", "-") not in message


def test_backends_list():
    backends = heatkit.backends()
    assert isinstance(backends, list) and backends
    for b in backends:
        assert set(b) == BACKEND_KEYS
        assert isinstance(b["available"], bool) and isinstance(b["forward_decay"], bool)
        assert b["available"] or b["unavailable_reason"]
    by_name = {b["name"]: b for b in backends}
    assert by_name["scalar"]["available"] and not by_name["scalar"]["forward_decay"]
    assert by_name["highway"]["available"]


def test_backends_match_cli():
    run = cli("backends")
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()[1:] if line.strip()]
    listed = {row[0]: row[1] == "yes" for row in rows}
    assert listed == {b["name"]: b["available"] for b in heatkit.backends()}


@pytest.mark.parametrize("path", sorted(TRACE_DIR.glob("*.trace")), ids=lambda p: p.stem)
def test_replay_matches_cli(path):
    run = cli("replay", str(path), "--backend", "scalar")
    try:
        lines = heatkit.replay(str(path), backend="scalar")
    except heatkit.TraceError as e:
        assert run.returncode == 2 and run.stderr.strip() == f"error: {e}"
        lines = list(e.lines)
    else:
        assert run.returncode == 0, run.stderr
    assert lines == run.stdout.splitlines()


def test_replay_unknown_backend():
    with pytest.raises(ValueError):
        heatkit.replay(str(TRACE_DIR / "format_example.trace"), backend="nope")
