"""to_numpy: columns, dtypes, agreement with get(), rebuilding, pandas."""
import math
import random

import numpy as np
import pytest

import heatkit
from heatutil import COLUMNS, assert_same_columns

H = 1000
POLICY = heatkit.Policy(half_life_ns=H)
DTYPES = {"rate": np.float64, "last_update_ns": np.int64, "last_emitted": np.float64,
          "in_flight": np.bool_, "half_life_ns": np.int64}


def populated(backend, key="u64"):
    r = heatkit.Registry(key=key, backend=backend, half_life_ns=H, track_in_flight=True)
    rng = random.Random(9)
    keys = sorted({rng.getrandbits(64) for _ in range(50)})
    if key == "bytes32":
        keys = [k.to_bytes(32, "little") for k in keys]
    for i, k in enumerate(keys):
        for _ in range(i % 4):
            r.bump(k, 10 * i)
        if i % 4 == 0:
            r.touch(k, 10 * i, half_life_ns=3 * H)
    r.commit(r.tick(POLICY, 400), only=keys[:20])  # 21.. stay in flight
    r.bump(keys[-1], 900)
    return r, keys


def key_of(row):
    return row.tobytes() if isinstance(row, np.ndarray) else int(row)


@pytest.mark.parametrize("key", ["u64", "bytes32"])
def test_columns_and_dtypes(backend, key):
    r, keys = populated(backend, key)
    columns = r.to_numpy()
    assert set(columns) == set(COLUMNS)
    assert all(len(c) == len(r) == len(keys) for c in columns.values())
    for name, dtype in DTYPES.items():
        assert columns[name].dtype == dtype and columns[name].ndim == 1, name
    if key == "u64":
        assert columns["keys"].dtype == np.uint64 and columns["keys"].ndim == 1
    else:
        assert columns["keys"].dtype == np.uint8 and columns["keys"].shape == (len(keys), 32)


@pytest.mark.parametrize("key", ["u64", "bytes32"])
def test_columns_equal_get_for_every_key(backend, key):
    r, keys = populated(backend, key)
    columns = r.to_numpy()
    seen = set()
    for i, row in enumerate(columns["keys"]):
        k = key_of(row)
        seen.add(k)
        rate, last_update, last_emitted, in_flight = r.get(k)
        assert columns["rate"][i] == rate and columns["last_update_ns"][i] == last_update
        assert columns["in_flight"][i] == in_flight
        if last_emitted is None:
            assert math.isnan(columns["last_emitted"][i])
        else:
            assert columns["last_emitted"][i] == last_emitted
    assert seen == set(keys)
    assert columns["in_flight"].sum() == sum(r.get(k).in_flight for k in keys) > 0
    assert np.isnan(columns["last_emitted"]).sum() > 0


def test_rebuilt_registry_reproduces_columns(backend):
    original = heatkit.Registry(backend=backend, half_life_ns=H)
    rng = np.random.default_rng(3)
    for k in rng.integers(0, 2**64 - 1, 300, dtype=np.uint64, endpoint=True):
        for _ in range(int(k % 5)):
            original.bump(k, int(k % 1000))
        original.touch(k, int(k % 1000), half_life_ns=int(k % 7) + 1)
    source = original.to_numpy()
    rebuilt = heatkit.Registry(backend=backend, half_life_ns=H)
    for k, rate, t, hl in zip(source["keys"], source["rate"], source["last_update_ns"],
                              source["half_life_ns"]):
        rebuilt.touch(k, int(t), half_life_ns=int(hl))
        for _ in range(int(rate)):
            rebuilt.bump(k, int(t))
    assert_same_columns(source, rebuilt.to_numpy(), sort=True)


def test_empty_registry(backend):
    for key in ("u64", "bytes32"):
        columns = heatkit.Registry(key=key, backend=backend).to_numpy()
        assert set(columns) == set(COLUMNS) and all(len(c) == 0 for c in columns.values())


def test_pandas_dataframe(backend):
    pd = pytest.importorskip("pandas")
    r, keys = populated(backend)
    frame = pd.DataFrame(r.to_numpy())
    assert len(frame) == len(keys) and set(frame.columns) == set(COLUMNS)
    assert frame["last_emitted"].isna().sum() == sum(r.get(k).last_emitted is None for k in keys)
