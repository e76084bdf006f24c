// The docstrings of heatkit.Registry and its methods.
#pragma once

namespace heatkit::python {

inline constexpr const char* kRegistryDoc = R"(Decaying heat counters by key, with a cap and exact LRU eviction.

Registry(key="u64", cap=8192, backend="highway", threads=0,
         track_in_flight=None, hash_seed=None,
         half_life_ns=1_800_000_000_000)

key: "u64" (int keys, 0 to 2**64 - 1) or "bytes32" (32-byte keys).
cap: the most counters kept; a new key at the cap evicts the least recently
    updated one. 0: unbounded.
backend: where the counters live and how ticks run (heatkit.backends()).
    An unknown name raises ValueError; one that cannot run here (no GPU)
    raises RuntimeError with the reason.
threads: threads for the tick and prune passes; 0: every hardware thread.
track_in_flight: mark a tick's candidates until commit or rollback, and
    skip them in later ticks; None: on for bytes32, off for u64.
hash_seed: the secret of the key index's hash; None draws one from the OS
    (answers never depend on it).
half_life_ns: the half-life of counters a bump, touch or bump_batch creates
    when the call names none.

Times are ints, nanoseconds on one monotonic clock, 0 to 2**63 - 1. The
answers are those of docs/SEMANTICS.md on every backend.

Threads: a registry is not thread-safe in C++; this object serializes its
own calls with a lock, so threads may share it, but calls run one at a time.
bump_batch, tick and commit release the GIL while they run, so other Python
threads (and other registries) run meanwhile.)";

inline constexpr const char* kBumpDoc = R"(Records one read of `key` at `now_ns`.

Get-or-create the counter (a new one gets `half_life_ns`, default the
registry's; an existing one keeps its own), decay it to `now_ns`, add one.)";

inline constexpr const char* kBumpBatchDoc = R"(Records a read of each key, in order.

keys: a 1-D numpy uint64 array (u64), or an (n, 32) uint8 array or a
    sequence of 32-byte keys (bytes32). A sequence of ints works for u64.
now_ns: one int for every read, or an int64 array with one time per key
    (times may go backwards).
Exactly bump(key, t, half_life_ns) for each key in order, faster: arrays in
the registry's layout are read in place, and the GIL is released. Bad input
raises before anything changes.)";

inline constexpr const char* kTouchDoc = R"(Get-or-create `key` at `now_ns` without a read.

A new counter starts at rate 0 with `half_life_ns` (default the
registry's); an existing one is left as it is.)";

inline constexpr const char* kDecayDoc = R"(Decays `key`'s counter to `now_ns`, if present; never creates one.)";

inline constexpr const char* kTickDoc = R"(Decays every counter to `now_ns` and returns the candidates.

policy: a heatkit.Policy. Returns heatkit.Candidates: the counters to
announce (Decision.EMIT, with their rates) or withdraw (Decision.WITHDRAW),
in slot order. Records nothing: commit() does. With in-flight tracking,
counters in flight are skipped and the returned ones are marked. The GIL is
released while it runs.)";

inline constexpr const char* kCommitDoc = R"(Records the candidates as announced, then prunes.

Each candidate still present gets its announcement recorded (its rate, or
0 for a withdrawal) and its in-flight mark cleared; then every fully decayed,
withdrawn counter is removed. only: an iterable of keys; when given, only
those keys' candidates are committed (keys without one are ignored). The
GIL is released while it runs.)";

inline constexpr const char* kRollbackDoc = R"(Clears `key`'s in-flight mark without committing (the announcement failed): its candidate comes back next tick.)";

inline constexpr const char* kRemoveDoc = R"(Removes `key`'s counter and its in-flight mark; nothing when absent.)";

inline constexpr const char* kGetDoc = R"(`key`'s counter as a CounterState, or None when absent.

CounterState(rate, last_update_ns, last_emitted, in_flight): last_emitted
is None when the counter was never announced. Reading does not decay.)";

inline constexpr const char* kToNumpyDoc = R"(Every counter as numpy columns (copies), in slot order.

A dict of equal-length arrays that pandas.DataFrame takes as it is:
keys (uint64, or uint8 (n, 32) for bytes32), rate (float64),
last_update_ns (int64), last_emitted (float64, NaN when never announced),
in_flight (bool), half_life_ns (int64).)";

inline constexpr const char* kMemoryUsageDoc = R"(Bytes the registry holds: a dict of columns, keys, index, lru, other and total.)";

inline constexpr const char* kStatsDoc = R"(Counts of what the registry did: a dict of evictions, pruned and hash_reseeds.)";

inline constexpr const char* kSaveDoc = R"(Writes the registry's state to `path` (str or os.PathLike).

Every counter (its rate, last update, last announcement, half-life), the
eviction order, the free slots and the counts of stats() are written; no
in-flight mark is (a restarted process has lost its announcements). The
file is replaced atomically: a crash leaves the old snapshot or the new one,
whole. application: bytes of your own (bytes, bytearray or memoryview, at
most 1 MiB), saved with the registry and checksummed; Registry.load gives
them back. Changes nothing. Raises SnapshotError (SnapshotIOError, also an
OSError, when the file cannot be written: the old file is then as it was).
The GIL is released while it writes; other calls on this registry wait.)";

inline constexpr const char* kLoadDoc = R"(A Registry with the snapshot's counters, none of them in flight.

Registry.load(path, backend="highway", threads=0, hash_seed=None,
              half_life_ns=1_800_000_000_000, with_application=False)

path: a file Registry.save wrote (str or os.PathLike), of either key type:
    the registry has the file's key type, cap and in-flight tracking.
backend, threads, hash_seed: as Registry(); any backend loads any snapshot.
half_life_ns: the half-life of counters a bump creates when the call names
    none (a snapshot keeps each counter's own, not this default).
with_application: return (registry, application) instead, the bytes given
    to save (b"" when none).

Every later call answers as on the saved registry, except that counters in
flight then are not: the next tick returns them again if the gate still
passes them. Raises SnapshotError, whose `problem` says why ("checksum",
"truncated", ...), for a file that is not a whole, consistent snapshot;
SnapshotIOError (also an OSError) when it cannot be read. The GIL is
released while it reads.)";

}  // namespace heatkit::python
