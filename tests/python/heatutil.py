"""Shared helpers of the heatkit Python tests: backends, tolerances, snapshots."""
import decimal
import math
import os
from pathlib import Path

import numpy as np
import pytest

import heatkit

REPO = Path(__file__).resolve().parents[2]
TRACE_DIR = REPO / "tests" / "cli" / "traces"

BACKENDS = heatkit.backends()
AVAILABLE = [b["name"] for b in BACKENDS if b["available"]]
UNAVAILABLE = [b for b in BACKENDS if not b["available"]]
FORWARD = {b["name"]: bool(b["forward_decay"]) for b in BACKENDS}

COLUMNS = ("keys", "rate", "last_update_ns", "last_emitted", "in_flight", "half_life_ns")


def approx(value, backend):
    """A rate as SEMANTICS.md "Numbers" allows: exact on a literal backend,
    within 1e-12 relative on a forward-decayed one."""
    return pytest.approx(value, rel=1e-12 if FORWARD[backend] else 0, abs=0)


def format_number(x):
    """A double as std::to_chars prints it (the CLI's format_number): the
    shortest round-trip digits, fixed or scientific, whichever is shorter
    (fixed on a tie)."""
    if math.isnan(x):
        return "nan" if math.copysign(1.0, x) > 0 else "-nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    _, digit_tuple, exp = decimal.Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exp  # digits before the decimal point
    if exp >= 0:
        fixed = digits + "0" * exp
    elif point > 0:
        fixed = digits[:point] + "." + digits[point:]
    else:
        fixed = "0." + "0" * -point + digits
    e = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sci = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    return sign + (fixed if len(fixed) <= len(sci) else sci)


def assert_answers_agree(actual, expected, backend):
    """Answer lines equal; numbers within 1e-12 relative on forward decay."""
    actual, expected = list(actual), list(expected)
    if not FORWARD[backend]:
        assert actual == expected
        return
    assert len(actual) == len(expected), (actual, expected)
    for a, e in zip(actual, expected):
        a_fields, e_fields = a.split(), e.split()
        assert len(a_fields) == len(e_fields) and a_fields[0] == e_fields[0], (a, e)
        for x, y in zip(a_fields, e_fields):
            if x != y:
                assert math.isclose(float(x), float(y), rel_tol=1e-12, abs_tol=0), (a, e)


def snapshot(registry):
    """to_numpy() copied, for before/after comparisons."""
    return {name: np.array(column, copy=True) for name, column in registry.to_numpy().items()}


def assert_same_columns(a, b, sort=False):
    """Two to_numpy() results hold the same entries (in the same order, or
    sorted by key when `sort`); NaN equals NaN."""
    assert set(a) == set(b)
    order_a = order_b = slice(None)
    if sort:
        order_a, order_b = key_order(a["keys"]), key_order(b["keys"])
    for name in a:
        np.testing.assert_array_equal(np.asarray(a[name])[order_a], np.asarray(b[name])[order_b],
                                      err_msg=name)


def key_order(keys):
    keys = np.asarray(keys)
    if keys.ndim == 1:
        return np.argsort(keys, kind="stable")
    return np.lexsort(keys.T[::-1])  # rows of 32 bytes, bytewise


def cli_path():
    """The heatkit CLI named by HEATKIT_CLI, or None."""
    path = os.environ.get("HEATKIT_CLI")
    return path if path and os.access(path, os.X_OK) else None
