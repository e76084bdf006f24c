"""Candidates own their data: they outlive the registry, their views keep
them alive, and the views are read-only and copy nothing."""
import gc
import weakref

import numpy as np
import pytest

import heatkit

POLICY = heatkit.Policy(half_life_ns=1000)


def ticked(backend, key="u64", n=1000):
    r = heatkit.Registry(key=key, backend=backend, cap=0, half_life_ns=1000)
    if key == "u64":
        r.bump_batch(np.arange(n, dtype=np.uint64), 0)
        r.bump_batch(np.arange(0, n, 2, dtype=np.uint64), 0)
    else:
        r.bump_batch([i.to_bytes(32, "big") for i in range(n)], 0)
    return r, r.tick(POLICY, 500)


def copies(c):
    return c.keys.copy(), c.decisions.copy(), c.rates.copy(), list(c)


@pytest.mark.parametrize("key", ["u64", "bytes32"])
def test_candidates_outlive_the_registry(backend, key):
    r, c = ticked(backend, key, n=300_000 if key == "u64" else 1000)
    before = copies(c)
    ref = weakref.ref(r)
    del r
    gc.collect()
    assert ref() is None  # the registry is gone; its candidates are not
    after = copies(c)
    for a, b in zip(before[:3], after[:3]):
        np.testing.assert_array_equal(a, b)
    assert before[3] == after[3] and len(c) == len(before[3])


def test_views_keep_candidates_alive(backend):
    _, c = ticked(backend, n=300_000)  # big enough to be unmapped when freed
    expected_rates, expected_keys = c.rates.copy(), c.keys.copy()
    rates, keys = c.rates, c.keys
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is not None  # held by its views
    junk = [np.full(len(rates), 7.0) for _ in range(50)]  # reuse freed memory, if any
    np.testing.assert_array_equal(rates, expected_rates)
    np.testing.assert_array_equal(keys, expected_keys)
    del junk, rates, keys
    gc.collect()
    assert ref() is None  # and freed with the last of them


def test_views_are_read_only(backend):
    _, c = ticked(backend)
    for view in (c.keys, c.decisions, c.rates):
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0] = view[1]
        with pytest.raises(ValueError):
            view.flags.writeable = True
    blob = ticked(backend, "bytes32", n=10)[1].keys
    with pytest.raises(ValueError):
        blob[0, 0] = 1


def test_views_are_zero_copy(backend):
    _, c = ticked(backend)
    for name in ("keys", "decisions", "rates"):
        first, second = getattr(c, name), getattr(c, name)
        assert np.shares_memory(first, second), name
        assert not first.flags.owndata, name


def test_commit_after_registry_changes_keeps_candidates_readable(backend):
    r, c = ticked(backend)
    rates = c.rates.copy()
    r.commit(c)
    for k in range(0, 1000, 3):
        r.remove(k)
    r.bump_batch(np.arange(10_000, 20_000, dtype=np.uint64), 600)
    r.tick(POLICY, 700)
    np.testing.assert_array_equal(c.rates, rates)


def test_candidates_from_deleted_registry_survive_many_rounds(backend):
    views = []
    for round_ in range(20):
        r, c = ticked(backend, n=100 + round_)
        views.append((len(c), c.rates))
        del r, c
    gc.collect()
    for n, rates in views:
        assert len(rates) == n
        np.testing.assert_allclose(np.sort(rates), np.repeat([0.5**0.5, 2 * 0.5**0.5],
                                                             [n // 2, n - n // 2]), rtol=1e-12)
