"""Registry and Policy properties, key forms, and caps."""
import numpy as np
import pytest

import heatkit


def test_registry_properties(backend):
    u = heatkit.Registry(backend=backend)
    assert (u.key, u.cap, u.backend, u.tracks_in_flight) == ("u64", 8192, backend, False)
    assert u.half_life_ns == 1_800_000_000_000
    b = heatkit.Registry(key="bytes32", cap=5, backend=backend)
    assert (b.key, b.cap, b.tracks_in_flight) == ("bytes32", 5, True)
    assert heatkit.Registry(key="u64", track_in_flight=True, backend=backend).tracks_in_flight
    assert not heatkit.Registry(key="bytes32", track_in_flight=False, backend=backend).tracks_in_flight
    assert heatkit.Registry().backend == "highway"


def test_bytes32_keys_accept_bytes_and_bytearray(backend):
    r = heatkit.Registry(key="bytes32", backend=backend)
    key = bytes(range(32))
    r.bump(key, 0)
    r.bump(bytearray(key), 0)
    assert r.get(key) == (2.0, 0, None, False) and bytearray(key) in r and len(r) == 1
    assert r.to_numpy()["keys"].tolist() == [list(key)]


def test_numpy_integer_keys_and_times(backend):
    r = heatkit.Registry(backend=backend)
    r.bump(np.uint64(2**64 - 1), np.int64(5))
    r.bump(2**64 - 1, 5)
    assert r.get(np.uint64(2**64 - 1)) == (2.0, 5, None, False)


def test_policy_defaults_and_equality():
    p = heatkit.Policy()
    assert (p.ratio, p.half_life_ns, p.enabled) == (2.0, 1_800_000_000_000, True)
    assert p == heatkit.Policy(2.0, 1_800_000_000_000, True)
    assert p != heatkit.Policy(ratio=3.0) and p != heatkit.Policy(enabled=False)
    for name in ("ratio", "half_life_ns", "enabled"):
        with pytest.raises(AttributeError):
            setattr(p, name, getattr(p, name))


def test_huge_cap_allocates_lazily(backend):
    r = heatkit.Registry(cap=2**62, backend=backend)
    r.bump(1, 0)
    assert r.cap == 2**62 and len(r) == 1
