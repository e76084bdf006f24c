"""Type stubs of heatkit (see the docstrings of the module for behaviour)."""

import enum
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple, TypedDict, overload

import numpy as np
import numpy.typing as npt

__version__: str

U64Key = int
Bytes32Key = bytes | bytearray | memoryview
Key = U64Key | Bytes32Key
Buffer = bytes | bytearray | memoryview
KeyArray = npt.NDArray[np.uint64] | npt.NDArray[np.uint8] | Sequence[int] | Sequence[bytes]
TimeArray = int | npt.NDArray[np.int64] | Sequence[int]

class Decision(enum.IntEnum):
    EMIT = 1
    WITHDRAW = 2

class CounterState(NamedTuple):
    rate: float
    last_update_ns: int
    last_emitted: float | None
    in_flight: bool

class Policy:
    def __init__(self, ratio: float = 2.0, half_life_ns: int = 1_800_000_000_000, enabled: bool = True) -> None: ...
    @property
    def ratio(self) -> float: ...
    @property
    def half_life_ns(self) -> int: ...
    @property
    def enabled(self) -> bool: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Candidates:
    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> tuple[Any, Decision, float]: ...
    def __iter__(self) -> Iterator[tuple[Any, Decision, float]]: ...
    @property
    def key_type(self) -> Literal["u64", "bytes32"]: ...
    @property
    def keys(self) -> npt.NDArray[np.uint64] | npt.NDArray[np.uint8]: ...
    @property
    def decisions(self) -> npt.NDArray[np.uint8]: ...
    @property
    def rates(self) -> npt.NDArray[np.float64]: ...

class Registry:
    def __init__(
        self,
        key: Literal["u64", "bytes32"] = "u64",
        cap: int = 8192,
        backend: str = "highway",
        threads: int = 0,
        track_in_flight: bool | None = None,
        hash_seed: int | None = None,
        half_life_ns: int = 1_800_000_000_000,
    ) -> None: ...
    def bump(self, key: Key, now_ns: int, half_life_ns: int | None = None) -> None: ...
    def bump_batch(self, keys: KeyArray, now_ns: TimeArray, half_life_ns: int | None = None) -> None: ...
    def touch(self, key: Key, now_ns: int, half_life_ns: int | None = None) -> None: ...
    def decay(self, key: Key, now_ns: int) -> None: ...
    def tick(self, policy: Policy, now_ns: int) -> Candidates: ...
    def commit(self, candidates: Candidates, only: Iterable[Key] | None = None) -> None: ...
    def rollback(self, key: Key) -> None: ...
    def remove(self, key: Key) -> None: ...
    def get(self, key: Key) -> CounterState | None: ...
    def __contains__(self, key: object) -> bool: ...
    def __len__(self) -> int: ...
    def to_numpy(self) -> dict[str, np.ndarray]: ...
    def memory_usage(self) -> dict[str, int]: ...
    def stats(self) -> dict[str, int]: ...
    def save(self, path: str | os.PathLike[str], application: Buffer | None = None) -> None: ...
    @overload
    @staticmethod
    def load(
        path: str | os.PathLike[str],
        backend: str = "highway",
        threads: int = 0,
        hash_seed: int | None = None,
        half_life_ns: int = 1_800_000_000_000,
        with_application: Literal[False] = False,
    ) -> Registry: ...
    @overload
    @staticmethod
    def load(
        path: str | os.PathLike[str],
        backend: str = "highway",
        threads: int = 0,
        hash_seed: int | None = None,
        half_life_ns: int = 1_800_000_000_000,
        *,
        with_application: Literal[True],
    ) -> tuple[Registry, bytes]: ...
    @property
    def key(self) -> Literal["u64", "bytes32"]: ...
    @property
    def cap(self) -> int: ...
    @property
    def backend(self) -> str: ...
    @property
    def tracks_in_flight(self) -> bool: ...
    @property
    def half_life_ns(self) -> int: ...

SnapshotProblem = Literal[
    "io", "not a snapshot", "version", "key type", "registry kind", "truncated", "checksum", "inconsistent"
]

class SnapshotError(RuntimeError):
    problem: SnapshotProblem

class SnapshotIOError(SnapshotError, OSError): ...

class SnapshotInfo(TypedDict):
    version: int
    key: Literal["u64", "bytes32"]
    shards: int
    counters: int
    slots: int
    cap: int
    tracks_in_flight: bool
    stats: dict[str, int]
    earliest_update_ns: int
    latest_update_ns: int
    application_bytes: int
    bytes: int

def inspect_snapshot(path: str | os.PathLike[str]) -> SnapshotInfo: ...

class TraceError(ValueError):
    line: int
    lines: list[str]
    def __init__(self, message: str, line: int, lines: list[str]) -> None: ...

def simulate(
    *,
    keys: int | str = ...,
    zipf: float | str = ...,
    reads_per_second: int | str = ...,
    tick_interval_s: float | str = ...,
    duration_s: float | str = ...,
    half_life_s: float | str = ...,
    ratio: float | str = ...,
    cap: int | str = ...,
    commit_failure_rate: float | str = ...,
    seed: int | str = ...,
    backend: str = ...,
    threads: int | str = ...,
    max_memory: int | str = ...,
    host_reads: bool = ...,
) -> dict[str, Any]: ...
def replay(path: str | os.PathLike[str], backend: str = "highway") -> list[str]: ...
def backends() -> list[dict[str, Any]]: ...
