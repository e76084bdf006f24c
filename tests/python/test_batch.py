"""bump_batch is exactly a loop of bump, in order, at one or many instants."""
import numpy as np
import pytest

import heatkit
from heatutil import assert_same_columns

H = 1_000_000


def pair(backend, **kw):
    kw.setdefault("half_life_ns", H)
    return (heatkit.Registry(backend=backend, hash_seed=1, **kw),
            heatkit.Registry(backend=backend, hash_seed=1, **kw))


def random_reads(seed, n=3000, keys=60):
    rng = np.random.default_rng(seed)
    k = rng.integers(0, keys, n).astype(np.uint64)
    steps = rng.integers(-H // 2, 2 * H, n)  # some steps go backwards
    t = np.maximum(np.cumsum(steps) + 10 * H, 0).astype(np.int64)
    return k, t


def assert_registries_equal(a, b, keys):
    for key in keys:
        assert a.get(key) == b.get(key), key
    assert len(a) == len(b)
    assert_same_columns(a.to_numpy(), b.to_numpy(), sort=True)


@pytest.mark.parametrize("cap", [0, 25])
def test_u64_batch_with_per_read_instants_equals_loop(backend, cap):
    looped, batched = pair(backend, cap=cap)
    keys, times = random_reads(1)
    for k, t in zip(keys.tolist(), times.tolist()):
        looped.bump(k, t)
    batched.bump_batch(keys, times)
    assert_registries_equal(looped, batched, range(60))
    policy = heatkit.Policy(half_life_ns=H)
    t_end = int(times.max()) + H
    assert sorted(looped.tick(policy, t_end)) == sorted(batched.tick(policy, t_end))


def test_u64_batch_at_one_instant_equals_loop(backend):
    looped, batched = pair(backend, cap=30)
    keys, _ = random_reads(2)
    for k in keys.tolist():
        looped.bump(k, 5 * H)
    batched.bump_batch(keys, 5 * H)
    assert_registries_equal(looped, batched, range(60))


def test_batch_half_life_argument(backend):
    looped, batched = pair(backend)
    keys, times = random_reads(3, n=500)
    for k, t in zip(keys.tolist(), times.tolist()):
        looped.bump(k, t, half_life_ns=7 * H)
    batched.bump_batch(keys, times, half_life_ns=7 * H)
    assert_registries_equal(looped, batched, range(60))
    assert set(batched.to_numpy()["half_life_ns"].tolist()) == {7 * H}


def test_batches_continue_where_earlier_calls_left(backend):
    looped, batched = pair(backend, cap=40)
    keys, times = random_reads(4)
    for k, t in zip(keys.tolist(), times.tolist()):
        looped.bump(k, t)
    for chunk in np.array_split(np.arange(len(keys)), 7):
        batched.bump_batch(keys[chunk], times[chunk])
    assert_registries_equal(looped, batched, range(60))


def blob_keys(seed, n=2000, distinct=40):
    rng = np.random.default_rng(seed)
    table = rng.integers(0, 256, (distinct, 32), dtype=np.uint8)
    return table, table[rng.integers(0, distinct, n)]


@pytest.mark.parametrize("form", ["array", "bytes"])
def test_bytes32_batch_equals_loop(backend, form):
    looped, batched = pair(backend, key="bytes32", cap=30)
    table, rows = blob_keys(5)
    _, times = random_reads(5, n=len(rows))
    for row, t in zip(rows, times.tolist()):
        looped.bump(row.tobytes(), t)
    batch = rows if form == "array" else [row.tobytes() for row in rows]
    batched.bump_batch(batch, times)
    assert_registries_equal(looped, batched, [row.tobytes() for row in table])


@pytest.mark.parametrize("key", ["u64", "bytes32"])
def test_long_batches_with_per_read_instants_equal_loop(backend, key):
    # Long enough that the reads reach the registry in several pieces.
    looped, batched = pair(backend, key=key, cap=25)
    keys, times = random_reads(7, n=12_000)
    if key == "bytes32":
        table, _ = blob_keys(7)
        keys = table[keys % len(table)]
    for k, t in zip(keys, times.tolist()):
        looped.bump(k.tobytes() if key == "bytes32" else int(k), t)
    batched.bump_batch(keys, times)
    probes = [row.tobytes() for row in table] if key == "bytes32" else range(60)
    assert_registries_equal(looped, batched, probes)


def test_empty_batch_changes_nothing(backend):
    r = heatkit.Registry(backend=backend)
    r.bump(1, 0)
    r.bump_batch(np.array([], dtype=np.uint64), 10)
    r.bump_batch(np.array([], dtype=np.uint64), np.array([], dtype=np.int64))
    assert r.get(1) == (1.0, 0, None, False) and len(r) == 1


def test_non_contiguous_keys_work_or_raise_cleanly(backend):
    looped, batched = pair(backend)
    keys, times = random_reads(6, n=1000)
    strided_keys, strided_times = keys[::3], times[::3]
    assert not strided_keys.flags.c_contiguous
    for k, t in zip(strided_keys.tolist(), strided_times.tolist()):
        looped.bump(k, t)
    try:
        batched.bump_batch(strided_keys, strided_times)
    except (TypeError, ValueError) as e:
        assert "keys" in str(e) or "now_ns" in str(e)
        assert len(batched) == 0
    else:
        assert_registries_equal(looped, batched, range(60))


def test_big_batch_at_one_instant(backend):
    r = heatkit.Registry(backend=backend, cap=0)
    r.bump_batch(np.arange(200_000, dtype=np.uint64), 3)
    r.bump_batch(np.arange(0, 200_000, 2, dtype=np.uint64), 3)
    assert len(r) == 200_000
    columns = r.to_numpy()
    expected = np.where(columns["keys"] % 2 == 0, 2.0, 1.0)
    np.testing.assert_array_equal(columns["rate"], expected)
    assert (columns["last_update_ns"] == 3).all()
