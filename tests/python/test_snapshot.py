"""Registry.save, Registry.load and inspect_snapshot against
docs/SNAPSHOT_FORMAT.md: round trips on every backend and key type, a loaded
registry answering later calls as the saved one would, nothing in flight
after a load, damaged and unreadable files refused with SnapshotError."""
import os
import threading

import numpy as np
import pytest

import heatkit
from heatutil import FORWARD, assert_same_columns, snapshot
from test_threads import gil_held_until_released, progressed  # noqa: F401 (a fixture)

H = 1000  # half-life in ns
POLICY = heatkit.Policy(ratio=2.0, half_life_ns=H)
KEY_TYPES = ("u64", "bytes32")
HEADER_BYTES = 32


def as_key(key_type, k):
    return int(k) if key_type == "u64" else int(k).to_bytes(32, "little")


def as_batch(key_type, ks):
    ks = np.asarray(ks, dtype=np.uint64)
    if key_type == "u64":
        return ks
    rows = np.zeros((len(ks), 32), dtype=np.uint8)
    rows[:, :8] = ks.view(np.uint8).reshape(-1, 8)  # little-endian, as as_key
    return rows


def random_operations(seed, key_type, steps=300, universe=400, start_ns=0):
    """A reproducible run of bumps, batches, touches, removes, decays, ticks,
    commits (all or some) and rollbacks, as (name, arguments) pairs."""
    rng = np.random.default_rng(seed)
    t = start_ns
    ops = []
    for _ in range(steps):
        t += int(rng.integers(0, 2 * H))
        kind = rng.choice(["bump", "batch", "touch", "remove", "decay", "tick", "rollback"],
                          p=[0.3, 0.2, 0.05, 0.05, 0.05, 0.3, 0.05])
        k = as_key(key_type, rng.integers(0, universe))
        if kind == "batch":
            ks = rng.integers(0, universe, int(rng.integers(1, 50)))
            ops.append(("batch", as_batch(key_type, ks), t))
        elif kind == "tick":
            ops.append(("tick", t, str(rng.choice(["all", "some", "none"]))))
        elif kind in ("remove", "rollback"):
            ops.append((kind, k))
        elif kind == "bump":
            ops.append(("bump", k, t, int(rng.choice([H, 3 * H]))))
        else:
            ops.append((kind, k, t))
    return ops


def apply(registry, ops):
    """Runs `ops` on `registry`; returns each tick's (keys, decisions, rates)."""
    ticks = []
    for op in ops:
        name = op[0]
        if name == "bump":
            registry.bump(op[1], op[2], half_life_ns=op[3])
        elif name == "batch":
            registry.bump_batch(op[1], op[2])
        elif name == "touch":
            registry.touch(op[1], op[2])
        elif name == "decay":
            registry.decay(op[1], op[2])
        elif name == "remove":
            registry.remove(op[1])
        elif name == "rollback":
            registry.rollback(op[1])
        elif name == "tick":
            candidates = registry.tick(POLICY, op[1])
            keys = np.array(candidates.keys, copy=True)
            ticks.append((keys, np.array(candidates.decisions, copy=True), np.array(candidates.rates, copy=True)))
            if op[2] == "all":
                registry.commit(candidates)
            elif op[2] == "some":
                registry.commit(candidates, only=[as_key(registry.key, k) for k in range(0, 400, 2)])
    return ticks


def assert_ticks_agree(actual, expected, backend):
    """Equal ticks: exactly on a literal backend, rates within 1e-12 relative
    on a forward-decayed one (SEMANTICS.md "Numbers")."""
    assert len(actual) == len(expected)
    for (keys_a, decisions_a, rates_a), (keys_e, decisions_e, rates_e) in zip(actual, expected):
        np.testing.assert_array_equal(keys_a, keys_e)
        np.testing.assert_array_equal(decisions_a, decisions_e)
        if FORWARD[backend]:
            np.testing.assert_allclose(rates_a, rates_e, rtol=1e-12, atol=0)
        else:
            np.testing.assert_array_equal(rates_a, rates_e)


def assert_columns_agree(loaded, saved, backend, just_loaded=True):
    """to_numpy equal (rates within 1e-12 on a forward-decayed backend), but
    for in-flight marks, which a registry just loaded never has."""
    assert set(loaded) == set(saved)
    if just_loaded:
        assert not loaded["in_flight"].any()
    for name in saved:
        if name == "in_flight" and just_loaded:
            continue
        if name in ("rate", "last_emitted") and FORWARD[backend]:
            np.testing.assert_allclose(loaded[name], saved[name], rtol=1e-12, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(loaded[name], saved[name], err_msg=name)


def worked_registry(backend, key_type, seed=1):
    """A registry at its cap, with evictions, prunes, free slots, counters
    in flight and some never announced."""
    r = heatkit.Registry(key=key_type, cap=300, backend=backend, half_life_ns=H, track_in_flight=True)
    apply(r, random_operations(seed, key_type))
    return r


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_round_trip_keeps_every_counter_but_in_flight_marks(backend, key_type, tmp_path):
    r = worked_registry(backend, key_type)
    before = snapshot(r)
    assert before["in_flight"].any() and r.stats()["evictions"] > 0
    path = tmp_path / "registry.snap"
    r.save(path)
    assert_same_columns(snapshot(r), before)  # save changes nothing
    loaded = heatkit.Registry.load(path, backend=backend)
    assert isinstance(loaded, heatkit.Registry)
    assert (loaded.key, loaded.cap, loaded.backend, loaded.tracks_in_flight) == (key_type, 300, backend, True)
    assert len(loaded) == len(r) and loaded.stats() == r.stats()
    assert_columns_agree(snapshot(loaded), before, backend)


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_any_backend_loads_a_scalar_snapshot(backend, key_type, tmp_path):
    r = worked_registry("scalar", key_type, seed=2)
    r.save(tmp_path / "s")
    assert_columns_agree(snapshot(heatkit.Registry.load(tmp_path / "s", backend=backend)), snapshot(r), backend)


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("seed", [3, 4])
def test_loaded_registry_answers_later_calls_as_the_saved_one(backend, key_type, seed, tmp_path):
    r = worked_registry(backend, key_type, seed)
    # Settle what is in flight, as a process would before a planned restart:
    # from here on both registries have the same counters to tick.
    columns = r.to_numpy()
    for k in columns["keys"][columns["in_flight"]]:
        r.rollback(int(k) if key_type == "u64" else bytes(k))
    r.save(tmp_path / "s")
    loaded = heatkit.Registry.load(tmp_path / "s", backend=backend, half_life_ns=H)
    later = random_operations(seed + 100, key_type, steps=400, start_ns=int(r.to_numpy()["last_update_ns"].max()))
    expected = apply(r, later)
    assert sum(len(keys) for keys, _, _ in expected) > 50  # the run announces things
    assert_ticks_agree(apply(loaded, later), expected, backend)
    assert_columns_agree(snapshot(loaded), snapshot(r), backend, just_loaded=False)
    assert loaded.stats() == r.stats()


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_next_tick_after_a_load_returns_what_was_in_flight(backend, key_type, tmp_path):
    r = heatkit.Registry(key=key_type, cap=0, backend=backend, half_life_ns=H, track_in_flight=True)
    r.bump_batch(as_batch(key_type, np.repeat(np.arange(50), 3)), 0)
    in_flight = r.tick(POLICY, 10)
    assert len(in_flight) == 50
    r.save(tmp_path / "s")
    loaded = heatkit.Registry.load(tmp_path / "s", backend=backend)
    assert not any(loaded.get(as_key(key_type, k)).in_flight for k in range(50))
    assert len(r.tick(POLICY, 20)) == 0  # still in flight there
    again = loaded.tick(POLICY, 20)
    np.testing.assert_array_equal(again.keys, in_flight.keys)
    np.testing.assert_array_equal(again.decisions, in_flight.decisions)
    np.testing.assert_allclose(again.rates, 3 * 0.5 ** (20 / H), rtol=1e-12)
    assert all(loaded.get(as_key(key_type, k)).in_flight for k in range(50))


def test_load_takes_options_and_the_file_takes_the_rest(tmp_path):
    r = heatkit.Registry(key="u64", cap=77, backend="scalar", track_in_flight=False, half_life_ns=5)
    r.bump(1, 0)
    r.save(str(tmp_path / "s"))  # a str path as well as a pathlib.Path
    loaded = heatkit.Registry.load(str(tmp_path / "s"), backend="highway", threads=1, hash_seed=9)
    assert (loaded.cap, loaded.backend, loaded.tracks_in_flight) == (77, "highway", False)
    assert loaded.half_life_ns == heatkit.Registry().half_life_ns  # the constructor's default, not the saved one's
    assert heatkit.Registry.load(tmp_path / "s", half_life_ns=123).half_life_ns == 123
    loaded.bump(2, 0)
    assert loaded.get(2).rate == 1.0
    with pytest.raises(ValueError, match="backend"):
        heatkit.Registry.load(tmp_path / "s", backend="no-such-backend")
    with pytest.raises(TypeError):
        heatkit.Registry.load(5)


def test_empty_registry_round_trips(backend, tmp_path):
    heatkit.Registry(key="bytes32", backend=backend).save(tmp_path / "s")
    loaded = heatkit.Registry.load(tmp_path / "s", backend=backend)
    assert (len(loaded), loaded.key) == (0, "bytes32")


class PathLike:
    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return str(self.path)


def test_application_bytes_come_back(tmp_path):
    r = heatkit.Registry()
    r.bump(1, 0)
    for application in (b"run 7 at tick 12", bytearray(b"\x00\xff" * 1000), memoryview(b"view")):
        r.save(PathLike(tmp_path / "s"), application)
        loaded, back = heatkit.Registry.load(PathLike(tmp_path / "s"), with_application=True)
        assert back == bytes(application) and isinstance(back, bytes) and len(loaded) == 1
    assert isinstance(heatkit.Registry.load(tmp_path / "s"), heatkit.Registry)
    r.save(tmp_path / "none")
    assert heatkit.Registry.load(tmp_path / "none", with_application=True)[1] == b""
    biggest = bytes(range(256)) * 4096  # 1 MiB
    r.save(tmp_path / "big", application=biggest)
    assert heatkit.Registry.load(tmp_path / "big", with_application=True)[1] == biggest


def test_bad_application_is_refused_before_anything_is_written(tmp_path):
    r = heatkit.Registry()
    with pytest.raises(ValueError, match="application: 1048577 bytes"):
        r.save(tmp_path / "s", b"x" * (2**20 + 1))
    with pytest.raises(TypeError, match="application"):
        r.save(tmp_path / "s", "text")
    with pytest.raises(TypeError, match="application"):
        r.save(tmp_path / "s", memoryview(b"abcdef")[::2])  # not contiguous
    assert os.listdir(tmp_path) == []


def test_inspect_snapshot_says_what_a_file_holds(tmp_path):
    r = heatkit.Registry(key="bytes32", cap=100, half_life_ns=H)
    r.bump_batch(as_batch("bytes32", np.arange(150)), np.arange(150, dtype=np.int64) + 1000)
    r.remove(as_key("bytes32", 149))
    r.save(tmp_path / "s", b"abc")
    info = heatkit.inspect_snapshot(tmp_path / "s")
    assert info == {
        "version": 1, "key": "bytes32", "shards": 1, "counters": 99, "slots": 100, "cap": 100,
        "tracks_in_flight": True, "stats": {"evictions": 50, "pruned": 0, "hash_reseeds": 0},
        "earliest_update_ns": 1050, "latest_update_ns": 1148, "application_bytes": 3,
        "bytes": os.path.getsize(tmp_path / "s"),
    }


def test_save_replaces_the_file_and_leaves_no_temporary_one(tmp_path):
    r = heatkit.Registry()
    r.bump(1, 0)
    r.save(tmp_path / "s")
    r.bump(2, 0)
    r.save(tmp_path / "s")
    assert os.listdir(tmp_path) == ["s"]
    assert len(heatkit.Registry.load(tmp_path / "s")) == 2


def damaged(data, how):
    data = bytearray(data)
    if how == "magic":
        data[0] ^= 0xFF
    elif how == "header":
        data[12] ^= 0x01  # the key type, under the header's checksum
    elif how == "payload":
        data[len(data) // 2] ^= 0x10  # inside the counters' block
    elif how == "truncated":
        del data[len(data) // 2:]
    elif how == "short header":
        del data[HEADER_BYTES - 1:]
    elif how == "empty":
        data.clear()
    elif how == "trailing":
        data += b"\x00"
    return bytes(data)


@pytest.mark.parametrize("how, problem", [
    ("magic", "not a snapshot"), ("header", "checksum"), ("payload", "checksum"), ("truncated", "truncated"),
    ("short header", "truncated"), ("empty", "truncated"), ("trailing", "inconsistent"),
])
@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_damaged_file_is_refused_with_its_problem(key_type, how, problem, tmp_path):
    r = heatkit.Registry(key=key_type, cap=0)
    r.bump_batch(as_batch(key_type, np.arange(2000)), 0)
    r.save(tmp_path / "good")
    (tmp_path / "bad").write_bytes(damaged((tmp_path / "good").read_bytes(), how))
    for read in (heatkit.Registry.load, heatkit.inspect_snapshot):
        with pytest.raises(heatkit.SnapshotError) as caught:
            read(tmp_path / "bad")
        assert caught.value.problem == problem, str(caught.value)
        assert not isinstance(caught.value, OSError)
        assert str(tmp_path / "bad") in str(caught.value)  # names the file


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(OSError) as caught:
        heatkit.Registry.load(tmp_path / "missing")
    assert isinstance(caught.value, heatkit.SnapshotError) and isinstance(caught.value, heatkit.SnapshotIOError)
    assert caught.value.problem == "io" and str(tmp_path / "missing") in str(caught.value)
    with pytest.raises(heatkit.SnapshotIOError):
        heatkit.inspect_snapshot(tmp_path / "missing")


def test_unwritable_place_is_an_os_error_and_the_old_file_stays(tmp_path):
    r = heatkit.Registry()
    r.bump(1, 0)
    (tmp_path / "file").write_bytes(b"not a folder")
    for place in (tmp_path / "no" / "folder" / "s", tmp_path / "file" / "s"):
        with pytest.raises(OSError) as caught:
            r.save(place)
        assert caught.value.problem == "io" and isinstance(caught.value, heatkit.SnapshotError)
    # A folder where the file should go: the rename fails, the folder is as it was.
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inside").write_bytes(b"kept")
    with pytest.raises(heatkit.SnapshotIOError):
        r.save(tmp_path / "folder")
    assert os.listdir(tmp_path / "folder") == ["inside"]
    assert sorted(os.listdir(tmp_path)) == ["file", "folder"]


def test_snapshot_error_is_exported_and_typed():
    assert heatkit.SnapshotError.__module__ == "heatkit" and issubclass(heatkit.SnapshotError, RuntimeError)
    assert issubclass(heatkit.SnapshotIOError, heatkit.SnapshotError)
    assert issubclass(heatkit.SnapshotIOError, OSError)
    assert {"SnapshotError", "SnapshotIOError", "inspect_snapshot"} <= set(heatkit.__all__)
    assert "with_application" in heatkit.Registry.load.__doc__


@pytest.fixture(scope="module")
def big_registry():
    r = heatkit.Registry(cap=0, threads=1, half_life_ns=10**9)
    r.bump_batch(np.arange(1_000_000, dtype=np.uint64), 0)
    return r


def test_save_releases_the_gil(big_registry, gil_held_until_released, tmp_path):  # noqa: F811
    assert progressed(lambda: big_registry.save(tmp_path / "s"))


def test_load_releases_the_gil(big_registry, gil_held_until_released, tmp_path):  # noqa: F811
    big_registry.save(tmp_path / "s")
    assert progressed(lambda: heatkit.Registry.load(tmp_path / "s", threads=1))


def test_save_waits_for_other_calls_on_the_registry(tmp_path):
    r = heatkit.Registry(cap=0)
    r.bump_batch(np.arange(200_000, dtype=np.uint64), 0)
    stop = threading.Event()
    errors = []

    def bumper():
        try:
            t = 0
            while not stop.is_set():
                t += 1
                r.bump_batch(np.arange(200_000, 210_000, dtype=np.uint64), t)
        except BaseException as e:  # reported below
            errors.append(e)

    thread = threading.Thread(target=bumper)
    thread.start()
    try:
        for i in range(5):
            r.save(tmp_path / f"s{i}")
            loaded = heatkit.Registry.load(tmp_path / f"s{i}")
            assert len(loaded) in (200_000, 210_000)  # one moment: a batch is in whole or not at all
    finally:
        stop.set()
        thread.join()
    assert not errors, errors


def test_path_must_be_a_path():
    with pytest.raises(TypeError):
        heatkit.Registry().save(3)
