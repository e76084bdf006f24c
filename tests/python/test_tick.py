"""tick, commit, rollback and the emission gate against SEMANTICS.md."""
import numpy as np
import pytest

import heatkit
from heatutil import approx

H = 1000
POLICY = heatkit.Policy(ratio=2.0, half_life_ns=H)


def make(backend, **kw):
    kw.setdefault("half_life_ns", H)
    return heatkit.Registry(backend=backend, **kw)


def bumped(backend, counts, t=0, **kw):
    r = make(backend, **kw)
    for key, n in counts.items():
        for _ in range(n):
            r.bump(key, t)
    return r


def as_dict(candidates):
    return {k: (heatkit.Decision(d), rate) for k, d, rate in candidates}


def test_decision_enum():
    assert issubclass(heatkit.Decision, int)
    assert heatkit.Decision.EMIT == 1 and heatkit.Decision.WITHDRAW == 2


def test_first_tick_emits_every_positive_rate(backend):
    r = bumped(backend, {1: 1, 2: 3})
    r.touch(3, 0)  # rate 0, never emitted: suppressed
    c = r.tick(POLICY, 0)
    assert len(c) == 2
    assert as_dict(c) == {1: (heatkit.Decision.EMIT, 1.0), 2: (heatkit.Decision.EMIT, 3.0)}
    assert all(isinstance(d, heatkit.Decision) for _, d, _ in c)
    assert r.get(1).last_emitted is None  # tick records nothing


def test_tick_decays_to_its_instant(backend):
    r = bumped(backend, {1: 4})
    (key, decision, rate), = r.tick(POLICY, 2 * H)
    assert (key, decision) == (1, heatkit.Decision.EMIT) and rate == approx(1.0, backend)
    assert r.get(1).last_update_ns == 2 * H


def test_disabled_policy_gives_no_candidates(backend):
    r = bumped(backend, {1: 5, 2: 1})
    assert len(r.tick(heatkit.Policy(enabled=False, half_life_ns=H), 0)) == 0


def test_emits_again_only_past_the_ratio(backend):
    r = bumped(backend, {1: 4, 2: 4})
    r.commit(r.tick(POLICY, 0))
    assert r.get(1).last_emitted == 4.0
    r.bump(1, 0)  # 5 / 4 < 2
    for _ in range(4):
        r.bump(2, 0)  # 8 / 4 >= 2
    assert as_dict(r.tick(POLICY, 0)) == {2: (heatkit.Decision.EMIT, 8.0)}
    assert as_dict(r.tick(POLICY, 3 * H)) == {1: (heatkit.Decision.EMIT, approx(0.625, backend)),
                                              2: (heatkit.Decision.EMIT, approx(1.0, backend))}


def test_withdraw_then_commit_prunes(backend):
    r = bumped(backend, {1: 1, 2: 1})
    r.commit(r.tick(POLICY, 0))
    c = r.tick(POLICY, 70 * H)  # past 64 half-lives: rate 0
    assert as_dict(c) == {1: (heatkit.Decision.WITHDRAW, 0.0), 2: (heatkit.Decision.WITHDRAW, 0.0)}
    r.commit(c, only=[1])
    assert 1 not in r and r.get(2) == (0.0, 70 * H, 1.0, False)
    r.commit(c)
    assert len(r) == 0


def test_without_tracking_candidates_repeat(backend):
    r = bumped(backend, {1: 1})
    assert not r.tracks_in_flight
    assert len(r.tick(POLICY, 0)) == 1 and len(r.tick(POLICY, 0)) == 1
    assert r.get(1).in_flight is False


def test_in_flight_tracking(backend):
    r = bumped(backend, {1: 1, 2: 1}, track_in_flight=True)
    c = r.tick(POLICY, 0)
    assert len(c) == 2 and r.get(1).in_flight and r.get(2).in_flight
    assert len(r.tick(POLICY, 0)) == 0
    r.commit(c)
    assert r.get(1) == (1.0, 0, 1.0, False)


def test_rollback_brings_the_candidate_back(backend):
    r = bumped(backend, {1: 1, 2: 1}, track_in_flight=True)
    r.tick(POLICY, 0)
    r.rollback(2)
    r.rollback(99)  # absent: nothing happens
    assert r.get(2).in_flight is False and r.get(1).in_flight is True
    assert as_dict(r.tick(POLICY, 0)) == {2: (heatkit.Decision.EMIT, 1.0)}


def test_commit_only_named_keys(backend):
    r = bumped(backend, {1: 1, 2: 2, 3: 3}, track_in_flight=True)
    c = r.tick(POLICY, 0)
    r.commit(c, only=iter([3, 1, 12345]))  # 12345 has no candidate: ignored
    assert r.get(1) == (1.0, 0, 1.0, False) and r.get(3) == (3.0, 0, 3.0, False)
    assert r.get(2) == (2.0, 0, None, True)
    r.commit(c, only=[])
    assert r.get(2).in_flight


def test_commit_of_removed_key_is_skipped(backend):
    r = bumped(backend, {1: 1, 2: 1}, track_in_flight=True)
    c = r.tick(POLICY, 0)
    r.remove(1)
    r.commit(c)
    assert 1 not in r and r.get(2).last_emitted == 1.0


def test_blob_registry_tracks_in_flight_by_default(backend):
    keys = [bytes([i]) * 32 for i in (3, 1, 2)]
    r = make(backend, key="bytes32")
    for k in keys:
        r.bump(k, 0)
    c = r.tick(POLICY, 0)
    assert sorted(k for k, _, _ in c) == sorted(keys)
    assert all(isinstance(k, bytes) and len(k) == 32 for k, _, _ in c)
    assert c.keys.dtype == np.uint8 and c.keys.shape == (3, 32)
    assert len(r.tick(POLICY, 0)) == 0
    r.commit(c, only=[keys[0]])
    assert r.get(keys[0]).last_emitted == 1.0 and r.get(keys[1]).in_flight


def test_candidate_views_match_iteration_and_slot_order(backend):
    r = make(backend)
    for k in np.random.default_rng(5).permutation(200):
        for _ in range(int(k) % 3):
            r.bump(int(k), 0)
    c = r.tick(POLICY, 0)
    rows = list(c)
    assert len(c) == len(rows) == 133
    assert c.keys.dtype == np.uint64 and c.decisions.dtype == np.uint8 and c.rates.dtype == np.float64
    assert c.keys.tolist() == [k for k, _, _ in rows]
    assert c.decisions.tolist() == [int(d) for _, d, _ in rows]
    assert c.rates.tolist() == [rate for _, _, rate in rows]
    slot_order = [k for k in r.to_numpy()["keys"].tolist() if k in set(c.keys.tolist())]
    assert c.keys.tolist() == slot_order


def test_tick_accepts_policy_only():
    r = heatkit.Registry(backend="scalar")
    with pytest.raises(TypeError):
        r.tick(None, 0)
