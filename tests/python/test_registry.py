"""Counter and registry operations against SEMANTICS.md: decay, bump,
touch, decay of absent keys, remove, eviction, properties."""
import pytest

import heatkit
from heatutil import approx

H = 1000  # half-life in ns: every H halves a rate


def make(backend, **kw):
    kw.setdefault("half_life_ns", H)
    return heatkit.Registry(backend=backend, **kw)


def test_single_bump_has_rate_one(backend):
    r = make(backend)
    r.bump(7, 100)
    state = r.get(7)
    assert isinstance(state, heatkit.CounterState) and isinstance(state, tuple)
    assert state == (1.0, 100, None, False)
    assert (state.rate, state.last_update_ns, state.last_emitted, state.in_flight) == tuple(state)


def test_rate_halves_each_half_life(backend):
    r = make(backend)
    r.bump(1, 0)
    r.decay(1, H)
    assert r.get(1).rate == approx(0.5, backend) and r.get(1).last_update_ns == H
    r.decay(1, 3 * H)
    assert r.get(1).rate == approx(0.125, backend)


def test_bump_decays_then_adds_one(backend):
    r = make(backend)
    r.bump(1, 0)
    r.bump(1, 0)
    r.bump(1, H)
    assert r.get(1).rate == approx(2 * 0.5 + 1, backend)


def test_earlier_time_counts_as_no_elapsed_time(backend):
    r = make(backend)
    r.bump(1, 5 * H)
    r.bump(1, H)  # earlier: no decay, but last_update moves back
    assert r.get(1)[:2] == (2.0, H)
    r.decay(1, 2 * H)
    assert r.get(1).rate == approx(1.0, backend)


def test_rate_below_epsilon_snaps_to_zero(backend):
    r = make(backend, half_life_ns=1)
    r.bump(1, 0)
    r.bump(2, 0)
    r.decay(1, 53)  # 2^-53 < f64 epsilon
    r.decay(2, 51)  # 2^-51 > f64 epsilon
    assert r.get(1).rate == 0.0
    assert r.get(2).rate == approx(2.0**-51, backend)


def test_past_64_half_lives_rate_is_zero(backend):
    r = make(backend, half_life_ns=10**9)
    for _ in range(10**3):
        r.bump(1, 0)
    r.decay(1, 65 * 10**9)
    assert r.get(1).rate == 0.0 and 1 in r


def test_half_life_argument_and_existing_key_keeps_its_own(backend):
    r = make(backend, half_life_ns=10**12)
    assert r.half_life_ns == 10**12
    r.bump(1, 0, half_life_ns=H)
    r.bump(1, H, half_life_ns=10**12)  # existing key: its half-life stays H
    assert r.get(1).rate == approx(1.5, backend)
    r.decay(1, 2 * H)
    assert r.get(1).rate == approx(0.75, backend)
    r.bump(2, 0)  # the registry's half-life
    r.decay(2, 2 * H)
    assert r.get(2).rate == pytest.approx(0.5 ** (2 * H / 10**12), rel=1e-12, abs=0)
    columns = r.to_numpy()
    by_key = dict(zip(columns["keys"].tolist(), columns["half_life_ns"].tolist()))
    assert by_key == {1: H, 2: 10**12}


def test_touch_creates_with_rate_zero_and_does_not_bump(backend):
    r = make(backend)
    r.touch(3, 50)
    assert r.get(3) == (0.0, 50, None, False)
    r.bump(3, 50)
    r.touch(3, 50)
    assert r.get(3).rate == 1.0 and len(r) == 1


def test_decay_never_creates(backend):
    r = make(backend)
    r.decay(5, 10)
    assert r.get(5) is None and 5 not in r and len(r) == 0


def test_remove_len_contains(backend):
    r = make(backend)
    for k in (1, 2, 3):
        r.bump(k, 0)
    assert len(r) == 3 and 2 in r and 4 not in r
    r.remove(2)
    r.remove(4)  # absent: nothing happens
    assert len(r) == 2 and 2 not in r and r.get(2) is None
    assert sorted(r.to_numpy()["keys"].tolist()) == [1, 3]


def test_eviction_at_cap_takes_oldest_last_update(backend):
    r = make(backend, cap=3)
    for k, t in ((1, 10), (2, 20), (3, 30)):
        r.bump(k, t)
    r.bump(4, 40)
    assert 1 not in r and len(r) == 3
    r.bump(2, 50)
    r.bump(5, 60)  # 3 now has the oldest last_update
    assert sorted(r.to_numpy()["keys"].tolist()) == [2, 4, 5]


def test_eviction_tie_goes_to_least_recently_bumped(backend):
    r = make(backend, cap=3)
    for k in (1, 2, 3):
        r.bump(k, 0)
    r.bump(1, 0)
    r.bump(4, 0)  # all at 0: 2 was bumped earliest
    assert sorted(r.to_numpy()["keys"].tolist()) == [1, 3, 4]


def test_unbounded_cap_zero_keeps_everything(backend):
    r = make(backend, cap=0)
    for k in range(10_000):
        r.bump(k, k)
    assert len(r) == 10_000 and r.cap == 0
