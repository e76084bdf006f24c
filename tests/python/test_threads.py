"""Long calls release the GIL; one Registry is safe to share between threads."""
import sys
import threading
import time

import numpy as np
import pytest

import heatkit

N = 2_000_000
POLICY = heatkit.Policy(half_life_ns=10**9)


@pytest.fixture
def gil_held_until_released():
    """A long switch interval: a thread holding the GIL keeps it until it
    releases it, so no other Python code runs during a call that holds it."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    yield
    sys.setswitchinterval(old)


def main_thread_progress_during(call):
    """Runs call() in a worker while this thread loops; returns how many loop
    iterations ran between the worker's last step before the call and its
    first step after it."""
    counter, seen, errors = [0], [], []
    done = threading.Event()

    def worker():
        try:
            start = counter[0]
            call()
            seen.append(counter[0] - start)
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    while not done.is_set():
        counter[0] += 1
        time.sleep(1e-6)  # lets the worker take the GIL whenever it asks
    thread.join()
    if errors:
        raise errors[0]
    return seen[0]


def progressed(call, attempts=5):
    """Whether the main thread ran Python code during one of `attempts` calls."""
    return any(main_thread_progress_during(call) > 0 for _ in range(attempts))


@pytest.fixture(scope="module")
def big_registry():
    r = heatkit.Registry(cap=0, threads=1, half_life_ns=10**9)
    r.bump_batch(np.arange(N, dtype=np.uint64), 0)
    return r


def test_tick_releases_the_gil(big_registry, gil_held_until_released):
    now = [0]

    def tick():
        now[0] += 10**8
        assert len(big_registry.tick(POLICY, now[0])) >= 0

    assert progressed(tick)


def test_bump_batch_releases_the_gil(big_registry, gil_held_until_released):
    keys = np.arange(N, dtype=np.uint64)[::-1].copy()
    assert progressed(lambda: big_registry.bump_batch(keys, 5))


def test_commit_releases_the_gil(gil_held_until_released):
    r = heatkit.Registry(cap=0, threads=1, half_life_ns=10**9)
    r.bump_batch(np.arange(N, dtype=np.uint64), 0)
    candidates = r.tick(POLICY, 0)
    assert len(candidates) == N
    assert progressed(lambda: r.commit(candidates))


def test_simulate_releases_the_gil(gil_held_until_released):
    options = dict(keys=100_000, reads_per_second=2_000_000, duration_s=2, tick_interval_s=1,
                   seed=3, threads=1, backend="scalar")
    assert progressed(lambda: heatkit.simulate(**options))


def test_hammering_one_registry_from_threads():
    cap = 5000
    r = heatkit.Registry(cap=cap, half_life_ns=10**6, track_in_flight=True)
    errors, sizes = [], []
    stop = threading.Event()

    def guarded(body):
        def run():
            try:
                body()
            except BaseException as e:  # reported below
                errors.append(e)
                stop.set()
        return threading.Thread(target=run)

    def bumper():
        rng = np.random.default_rng(1)
        for i in range(200):
            r.bump_batch(rng.integers(0, 50_000, 20_000).astype(np.uint64), i * 10**5)
        stop.set()

    def ticker():
        t = 0
        while not stop.is_set():
            t += 10**5
            c = r.tick(heatkit.Policy(half_life_ns=10**6), t)
            r.commit(c, only=c.keys[::2].tolist())
            for k in c.keys[1::4].tolist():
                r.rollback(k)
            sizes.append(len(r))

    def reader():
        while not stop.is_set():
            columns = r.to_numpy()
            sizes.append(len(columns["keys"]))
            r.get(7), r.remove(11), 13 in r

    threads = [guarded(f) for f in (bumper, ticker, reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(r) <= cap and sizes and max(sizes) <= cap


def test_calls_from_threads_run_one_at_a_time():
    r = heatkit.Registry(cap=0)
    zeros = np.zeros(1000, dtype=np.uint64)

    def batches():
        for _ in range(300):
            r.bump_batch(zeros, 0)

    def singles():
        for _ in range(3000):
            r.bump(0, 0)

    def ticks():
        for _ in range(300):
            r.commit(r.tick(POLICY, 0))

    threads = [threading.Thread(target=f) for f in (batches, singles, batches, ticks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert r.get(0).rate == 2 * 300 * 1000 + 3000
