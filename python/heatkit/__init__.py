"""heatkit: decaying heat counters ticked in batches on SIMD CPUs and GPUs.

A Registry keeps an exponentially decayed read rate per key; tick() decays
them all and returns the candidates to announce or withdraw; commit()
records what was announced. Times are ints, nanoseconds on one clock.

    import numpy as np, heatkit
    registry = heatkit.Registry(cap=1_000_000)
    registry.bump_batch(np.array([1, 2, 2], dtype=np.uint64), now_ns=0)
    candidates = registry.tick(heatkit.Policy(), now_ns=0)
    registry.commit(candidates)

Registry.save(path) writes a registry's state to a checksummed snapshot,
replaced atomically; Registry.load(path) restarts from it (nothing in
flight) and inspect_snapshot(path) says what one holds. A file that is not
a whole snapshot raises SnapshotError.

simulate() and replay() run what the `heatkit simulate` and `heatkit replay`
commands run; backends() lists the backends this build has.
"""

from ._frontends import TraceError, replay, simulate
from ._heatkit import (
    Candidates,
    CounterState,
    Decision,
    Policy,
    Registry,
    SnapshotError,
    SnapshotIOError,
    backends,
    inspect_snapshot,
)

__version__ = "0.1.0"
__all__ = [
    "Candidates",
    "CounterState",
    "Decision",
    "Policy",
    "Registry",
    "SnapshotError",
    "SnapshotIOError",
    "TraceError",
    "backends",
    "inspect_snapshot",
    "replay",
    "simulate",
]
