"""Bad scalar arguments raise the stated exception, name the argument, and
leave the registry as it was."""
import math

import numpy as np
import pytest

import heatkit
from heatutil import UNAVAILABLE, assert_same_columns, snapshot

BLOB = bytes(range(32))


def registry(key="u64"):
    r = heatkit.Registry(key=key, backend="scalar", half_life_ns=1000, track_in_flight=True)
    first = 5 if key == "u64" else BLOB
    r.bump(first, 10)
    r.touch(6 if key == "u64" else bytes(32), 20)
    r.tick(heatkit.Policy(half_life_ns=1000), 30)  # 5 in flight
    return r


def raises_unchanged(r, exc, call, *names):
    before = snapshot(r)
    with pytest.raises(exc) as info:
        call()
    if names:
        assert any(n in str(info.value) for n in names), str(info.value)
    assert_same_columns(before, snapshot(r))
    return info.value


@pytest.mark.parametrize("ratio", [1.0, 10.5, -2.0, math.nan, math.inf])
def test_policy_ratio_out_of_range(ratio):
    with pytest.raises(ValueError) as info:
        heatkit.Policy(ratio=ratio)
    message = str(info.value)
    assert "ratio" in message and "1.01" in message and "10" in message


@pytest.mark.parametrize("ratio", ["2", None, [2.0]])
def test_policy_ratio_not_a_number(ratio):
    with pytest.raises(TypeError):
        heatkit.Policy(ratio=ratio)


@pytest.mark.parametrize("half_life", [0, -1])
def test_policy_half_life_not_positive(half_life):
    with pytest.raises(ValueError, match="half_life_ns"):
        heatkit.Policy(half_life_ns=half_life)


@pytest.mark.parametrize("field", ["cap", "threads", "half_life_ns"])
def test_registry_negative_sizes(field):
    with pytest.raises(ValueError, match=field):
        heatkit.Registry(backend="scalar", **{field: -1})


def test_registry_unknown_key_kind_and_backend():
    with pytest.raises(ValueError, match="key"):
        heatkit.Registry(key="u32")
    with pytest.raises(ValueError, match="nope"):
        heatkit.Registry(backend="nope")


@pytest.mark.parametrize("info", UNAVAILABLE, ids=[b["name"] for b in UNAVAILABLE])
def test_unavailable_backend_raises_runtime_error_with_reason(info):
    assert info["unavailable_reason"]
    with pytest.raises(RuntimeError) as raised:
        heatkit.Registry(backend=info["name"])
    assert info["unavailable_reason"] in str(raised.value)
    assert not isinstance(raised.value, ValueError)


U64_BAD_KEYS = [(True, TypeError), (False, TypeError), (1.0, TypeError), ("1", TypeError),
                (None, TypeError), (-1, ValueError), (2**64, ValueError)]
BLOB_BAD_KEYS = [(BLOB[:31], ValueError), (BLOB + b"\0", ValueError), (b"", ValueError),
                 (bytearray(33), ValueError), ("a" * 32, TypeError), (5, TypeError)]


def keyed_calls(r, key):
    return {"bump": lambda: r.bump(key, 40), "touch": lambda: r.touch(key, 40),
            "decay": lambda: r.decay(key, 40), "get": lambda: r.get(key),
            "remove": lambda: r.remove(key), "rollback": lambda: r.rollback(key)}


@pytest.mark.parametrize("method", ["bump", "touch", "decay", "get", "remove", "rollback"])
@pytest.mark.parametrize("kind,bad", [("u64", b) for b in U64_BAD_KEYS] + [("bytes32", b) for b in BLOB_BAD_KEYS])
def test_bad_keys(kind, bad, method):
    key, exc = bad
    r = registry(kind)
    raises_unchanged(r, exc, keyed_calls(r, key)[method], "key")


BAD_TIMES = [(-1, ValueError), (2**63, ValueError), (1.0, TypeError),
             ("5", TypeError), (None, TypeError), (np.float64(3), TypeError)]


@pytest.mark.parametrize("method", ["bump", "touch", "decay", "tick"])
@pytest.mark.parametrize("time,exc", BAD_TIMES)
def test_bad_times(method, time, exc):
    r = registry()
    policy = heatkit.Policy()
    call = {"bump": lambda: r.bump(5, time), "touch": lambda: r.touch(7, time),
            "decay": lambda: r.decay(5, time), "tick": lambda: r.tick(policy, time)}[method]
    raises_unchanged(r, exc, call, "now_ns")


@pytest.mark.parametrize("half_life,exc", [(-1, ValueError), (1.5, TypeError)])
def test_bad_half_life_argument(half_life, exc):
    r = registry()
    raises_unchanged(r, exc, lambda: r.bump(9, 40, half_life_ns=half_life), "half_life_ns")
    raises_unchanged(r, exc, lambda: r.touch(9, 40, half_life_ns=half_life), "half_life_ns")


def test_bad_tick_policy():
    r = registry()
    raises_unchanged(r, TypeError, lambda: r.tick("policy", 40))
    raises_unchanged(r, TypeError, lambda: r.tick(None, 40))


def test_bad_commit_arguments():
    r = registry()
    raises_unchanged(r, TypeError, lambda: r.commit("candidates"))
    raises_unchanged(r, TypeError, lambda: r.commit(None))
    blob = heatkit.Registry(key="bytes32", backend="scalar")
    blob.bump(BLOB, 0)
    foreign = blob.tick(heatkit.Policy(), 0)
    raises_unchanged(r, (TypeError, ValueError), lambda: r.commit(foreign))


def test_bad_commit_only_changes_nothing():
    r = heatkit.Registry(backend="scalar", track_in_flight=True)
    for k in (1, 2, 3):
        r.bump(k, 0)
    c = r.tick(heatkit.Policy(), 0)
    raises_unchanged(r, TypeError, lambda: r.commit(c, only=[1, "2"]))
    raises_unchanged(r, ValueError, lambda: r.commit(c, only=[1, -2]))
    raises_unchanged(r, TypeError, lambda: r.commit(c, only=5))
    assert all(r.get(k).in_flight and r.get(k).last_emitted is None for k in (1, 2, 3))
