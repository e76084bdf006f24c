"""An allocation that fails raises MemoryError, and the registry stays usable."""
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import resource, numpy as np, heatkit
    r = heatkit.Registry(cap=0, threads=1, backend=BACKEND)
    r.bump_batch(np.arange(1000, dtype=np.uint64), 0)
    r.commit(r.tick(heatkit.Policy(), 0))
    new_keys = np.arange(1000, 30_000_000, dtype=np.uint64)  # ~2 GB of counters
    with open("/proc/self/statm") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (in_use + (400 << 20), hard))
    try:
        r.bump_batch(new_keys, 1)
        raise SystemExit("bump_batch did not fail")
    except MemoryError:
        pass
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    # What was there before is intact, and the registry goes on working.
    assert r.get(5).rate == 1.0, r.get(5)
    r.bump(5, 2)
    assert r.get(5).rate > 1.9
    columns = r.to_numpy()
    assert len(columns["keys"]) == len(r) >= 1000
    r.commit(r.tick(heatkit.Policy(), 3))
    r.bump_batch(np.arange(2000, dtype=np.uint64), 4)
    assert len(r) >= 2000
    print("ok")
""")


@pytest.mark.parametrize("backend", ["scalar", "highway"])
def test_allocation_failure_raises_memory_error_and_keeps_the_registry(backend):
    result = subprocess.run([sys.executable, "-c", f"BACKEND = {backend!r}\n" + SCRIPT],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", (result.returncode, result.stdout,
                                                                      result.stderr[-2000:])
