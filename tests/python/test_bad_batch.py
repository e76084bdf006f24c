"""bump_batch with bad arrays: a clean TypeError/ValueError naming the
argument, and the registry unchanged (nothing of the batch applied)."""
import numpy as np
import pytest

import heatkit
from heatutil import assert_same_columns, snapshot

ARRAY_ERRORS = (TypeError, ValueError)


def registry(key="u64"):
    r = heatkit.Registry(key=key, backend="scalar", half_life_ns=1000)
    r.bump(3 if key == "u64" else bytes(32), 10)
    return r


def raises_unchanged(r, exc, call, name):
    before = snapshot(r)
    with pytest.raises(exc) as info:
        call()
    assert name in str(info.value), str(info.value)
    assert_same_columns(before, snapshot(r))


@pytest.mark.parametrize("keys", [
    np.arange(4, dtype=np.float64),
    np.arange(4, dtype=np.float32),
    np.arange(8, dtype=np.uint64).reshape(4, 2),
    np.arange(4, dtype=np.uint64).reshape(4, 1),
    np.array([1, "x"], dtype=object),
    np.array(["1", "2"]),
], ids=["float64", "float32", "2d", "column", "object", "str"])
def test_u64_keys_bad_dtype_or_shape(keys):
    r = registry()
    raises_unchanged(r, ARRAY_ERRORS, lambda: r.bump_batch(keys, 20), "keys")


def test_u64_keys_not_an_array():
    r = registry()
    raises_unchanged(r, ARRAY_ERRORS, lambda: r.bump_batch("1234", 20), "keys")
    raises_unchanged(r, ARRAY_ERRORS, lambda: r.bump_batch(None, 20), "keys")


@pytest.mark.parametrize("dtype", [np.int64, np.uint32, np.uint8])
def test_u64_keys_other_integer_dtypes_work_or_raise_cleanly(dtype):
    r, looped = registry(), registry()
    keys = np.array([7, 8, 7, 9], dtype=dtype)
    try:
        r.bump_batch(keys, 20)
    except ARRAY_ERRORS as e:
        assert "keys" in str(e)
        assert_same_columns(snapshot(looped), snapshot(r))
    else:
        for k in keys.tolist():
            looped.bump(k, 20)
        assert_same_columns(snapshot(looped), snapshot(r), sort=True)


@pytest.mark.parametrize("keys", [
    np.zeros((3, 31), dtype=np.uint8),
    np.zeros((3, 33), dtype=np.uint8),
    np.zeros((3, 32), dtype=np.int32),
    np.zeros((3, 32), dtype=np.float64),
    np.zeros(32, dtype=np.uint8),
    np.zeros((2, 3, 32), dtype=np.uint8),
    np.arange(3, dtype=np.uint64),
], ids=["31", "33", "int32", "float64", "1d", "3d", "u64"])
def test_bytes32_array_bad_dtype_or_shape(keys):
    r = registry("bytes32")
    raises_unchanged(r, ARRAY_ERRORS, lambda: r.bump_batch(keys, 20), "keys")


@pytest.mark.parametrize("bad,exc", [(b"\1" * 31, ValueError), (b"\1" * 33, ValueError),
                                     ("a" * 32, TypeError), (5, TypeError)])
def test_bytes32_sequence_with_one_bad_key_applies_nothing(bad, exc):
    r = registry("bytes32")
    keys = [b"\2" * 32, b"\3" * 32, bad, b"\4" * 32]
    raises_unchanged(r, exc, lambda: r.bump_batch(keys, 20), "keys")


def test_bytes32_non_contiguous_array_works_or_raises_cleanly():
    r, looped = registry("bytes32"), registry("bytes32")
    wide = np.arange(4 * 64, dtype=np.uint64).astype(np.uint8).reshape(4, 64)
    keys = wide[:, ::2]
    assert keys.shape == (4, 32) and not keys.flags.c_contiguous
    try:
        r.bump_batch(keys, 20)
    except ARRAY_ERRORS as e:
        assert "keys" in str(e)
        assert_same_columns(snapshot(looped), snapshot(r))
    else:
        for row in keys:
            looped.bump(row.tobytes(), 20)
        assert_same_columns(snapshot(looped), snapshot(r), sort=True)


@pytest.mark.parametrize("times,exc", [
    (np.array([20, 21], dtype=np.int64), ValueError),
    (np.array([20, 21, 22, 23], dtype=np.int64), ValueError),
    (np.array([20, -1, 22], dtype=np.int64), ValueError),
    (np.array([20.0, 21.0, 22.0]), ARRAY_ERRORS),
    (np.array([[20, 21, 22]], dtype=np.int64), ARRAY_ERRORS),
    (20.0, TypeError),
    (-5, ValueError),
], ids=["short", "long", "negative", "float", "2d", "float-scalar", "negative-scalar"])
def test_bad_times(times, exc):
    r = registry()
    keys = np.array([4, 5, 6], dtype=np.uint64)
    raises_unchanged(r, exc, lambda: r.bump_batch(keys, times), "now_ns")


def test_bad_half_life():
    r = registry()
    keys = np.array([4, 5], dtype=np.uint64)
    raises_unchanged(r, ValueError, lambda: r.bump_batch(keys, 20, half_life_ns=-1), "half_life_ns")


def test_bytes_keys_for_u64_registry():
    r = registry()
    raises_unchanged(r, ARRAY_ERRORS, lambda: r.bump_batch([b"\1" * 32], 20), "keys")
