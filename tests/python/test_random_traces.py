"""Random traces: the Python-API interpreter and heatkit.replay agree."""
import random

import pytest

import heatkit
from heattrace import run_file
from heatutil import FORWARD, assert_answers_agree


def random_trace(seed, blob, operations=3000):
    rng = random.Random(seed)
    keys = [rng.getrandbits(256 if blob else 64) for _ in range(30)]
    keys[:5] = range(5)
    spell = (lambda k: f"{k:064x}") if blob else (lambda k: str(k) if k % 2 else hex(k))
    lines = [f"registry {'blob' if blob else 'u64'}", f"cap {rng.choice([0, 8, 12, 20])}"]
    if rng.random() < 0.7:
        lines.append(f"inflight {rng.choice(['on', 'off'])}")
    lines.append(f"policy ratio={rng.choice(['2.0', '1.5', '3'])} "
                 f"half_life_ns={rng.randint(1, 5) * 1_000_000_000}")
    now, bumped = 1_000_000_000, []
    for _ in range(operations):
        now += rng.randrange(50_000_000)
        if rng.random() < 0.03 and now > 5_000_000_000:
            now -= 3_000_000_000  # time goes backwards
        key, r = rng.choice(keys), rng.randrange(100)
        if r < 40:
            lines.append(f"bump {spell(key)} {now}")
            bumped.append(key)
        elif r < 45:
            for i in range(rng.randint(1, 10)):  # a run of bumps at nearby instants
                each = key if rng.random() < 0.3 else rng.choice(keys)
                lines.append(f"bump {spell(each)} {now + i}")
                bumped.append(each)
        elif r < 50:
            lines.append(f"touch {spell(key)} {now}")
        elif r < 54:
            lines.append(f"decay {spell(key)} {now - rng.randrange(2) * 1_000_000}")
        elif r < 62:
            now += rng.randrange(4) * rng.randrange(40) * 1_000_000_000
            lines.append(f"tick {now}")
        elif r < 67:
            lines.append("commit")
        elif r < 70 and bumped:
            lines.append("commit " + " ".join(spell(rng.choice(bumped)) for _ in range(3)))
        elif r < 75:
            lines.append(f"rollback {spell(key)}")
        elif r < 78:
            lines.append(f"remove {spell(key)}")
        elif r < 95:
            lines.append(f"get {spell(rng.choice(bumped) if bumped and rng.random() < 0.5 else key)}")
        else:
            lines.append("len")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("blob", [False, True], ids=["u64", "blob"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_trace_scalar_exact(tmp_path, seed, blob):
    path = tmp_path / "random.trace"
    path.write_text(random_trace(seed, blob))
    answers, bad_line = run_file(path, "scalar")
    assert bad_line is None
    replayed = heatkit.replay(str(path), backend="scalar")
    assert len(replayed) > 500
    assert answers == replayed


@pytest.mark.parametrize("blob", [False, True], ids=["u64", "blob"])
def test_random_trace_every_backend(tmp_path, backend, blob):
    path = tmp_path / "random.trace"
    path.write_text(random_trace(11, blob))
    answers, _ = run_file(path, backend)
    assert_answers_agree(answers, heatkit.replay(str(path), backend=backend), backend)
    if FORWARD[backend]:
        assert_answers_agree(answers, heatkit.replay(str(path), backend="scalar"), backend)
