#!/usr/bin/env python3
"""What the Python binding adds to a registry's bulk calls, at 1,000,000 keys.

For bump_batch (a numpy uint64 array of every resident key, shuffled, at one
instant; and with an int64 array of one instant per key) and tick (every counter, all of them candidates), the same call is
timed from Python (time.perf_counter around the method) and inside C++ (the
module's private _bump_batch_seconds / _tick_seconds, the same registry call
with no conversion around it), in alternating rounds. The ratios are of the
best rounds: noise on a shared machine only adds time, and the medians of
one run moved by 30% here while the best moved by 2-4%. Both are printed
and, with --json, written to a file.

    python bench/python/binding_overhead.py --json docs/bench/python-binding.json

Targets: bump_batch within 1.2x of C++ per key; tick overhead under 5%.
"""

import argparse
import json
import platform
import statistics
import time

import numpy as np

import heatkit
from heatkit import _heatkit


def rounds(python_call, native_call, count, prepare=lambda: None):
    """Alternating Python and C++ timings of the same work, `count` each, on
    an input prepare() makes before each timing: {"python": (best, median),
    "cpp": (best, median)} in seconds."""
    py, native = [], []
    for _ in range(count):
        given = prepare()
        start = time.perf_counter()
        result = python_call(given)
        py.append(time.perf_counter() - start)
        del result  # freed outside the timing, as the C++ side frees its result
        native.append(native_call(prepare()))
    return {"python": (min(py), statistics.median(py)), "cpp": (min(native), statistics.median(native))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--backend", default="highway")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    keys = rng.permutation(np.arange(1, args.keys + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    registry = heatkit.Registry(cap=0, backend=args.backend)
    registry.bump_batch(keys, 0)  # every key resident before timing
    now = [1]

    def next_now():
        now[0] += 1_000
        return now[0]

    bump = rounds(lambda at: registry.bump_batch(keys, at),
                  lambda at: _heatkit._bump_batch_seconds(registry, keys, at), args.rounds, next_now)

    def times():
        start = next_now()
        now[0] += args.keys
        return np.arange(start, start + args.keys, dtype=np.int64)

    bump_each = rounds(lambda each: registry.bump_batch(keys, each),
                       lambda each: _heatkit._bump_batch_seconds(registry, keys, 0, each), args.rounds, times)

    # Never committed, every counter stays a candidate: the tick returns them all.
    policy = heatkit.Policy()
    tick_at = now[0] + 1_000
    candidates = len(registry.tick(policy, tick_at))
    tick = rounds(lambda _: registry.tick(policy, tick_at),
                  lambda _: _heatkit._tick_seconds(registry, policy, tick_at)[0], args.rounds)

    per_key = {side: [t / args.keys * 1e9 for t in times] for side, times in bump.items()}
    per_key_each = {side: [t / args.keys * 1e9 for t in times] for side, times in bump_each.items()}
    ms = {side: [t * 1e3 for t in times] for side, times in tick.items()}
    results = {
        "machine": platform.processor() or platform.machine(),
        "backend": args.backend,
        "keys": args.keys,
        "rounds": args.rounds,
        "bump_batch": {"python_ns_per_key_best_median": per_key["python"], "cpp_ns_per_key_best_median": per_key["cpp"],
                       "ratio": bump["python"][0] / bump["cpp"][0], "target_ratio": 1.2},
        "bump_batch_time_per_key": {"python_ns_per_key_best_median": per_key_each["python"],
                                    "cpp_ns_per_key_best_median": per_key_each["cpp"],
                                    "ratio": bump_each["python"][0] / bump_each["cpp"][0], "target_ratio": 1.2},
        "tick": {"candidates": candidates, "python_ms_best_median": ms["python"], "cpp_ms_best_median": ms["cpp"],
                 "overhead": tick["python"][0] / tick["cpp"][0] - 1, "target_overhead": 0.05},
    }
    b, t = results["bump_batch"], results["tick"]
    print(f"{args.keys:,} resident keys on {args.backend}, best (median) of {args.rounds} alternating rounds")
    print(f"bump_batch  python {per_key['python'][0]:6.2f} ({per_key['python'][1]:6.2f}) ns/key"
          f"   C++ {per_key['cpp'][0]:6.2f} ({per_key['cpp'][1]:6.2f}) ns/key   ratio {b['ratio']:.3f} (target <= 1.2)")
    e = results["bump_batch_time_per_key"]
    print(f"  a time each python {per_key_each['python'][0]:6.2f} ({per_key_each['python'][1]:6.2f}) ns/key"
          f"   C++ {per_key_each['cpp'][0]:6.2f} ({per_key_each['cpp'][1]:6.2f}) ns/key   ratio {e['ratio']:.3f}")
    print(f"tick        python {ms['python'][0]:6.2f} ({ms['python'][1]:6.2f}) ms    "
          f"   C++ {ms['cpp'][0]:6.2f} ({ms['cpp'][1]:6.2f}) ms       overhead {t['overhead'] * 100:+.1f}%"
          f" (target < 5%), {candidates:,} candidates")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=2)
            out.write("\n")


if __name__ == "__main__":
    main()
