"""Heat of the hottest keys over time, from a Zipf read workload driven from Python.

Each tick draws Zipf-distributed reads with numpy, feeds them to a
heatkit.Registry with bump_batch, ticks it and commits every candidate, as a
caller announcing heat would. The script then prints the hottest keys with
their final rates and Zipf ranks, plots their rates against simulated time
(with the emits per tick below), and runs heatkit.simulate() with the same
options to show the built-in engine's totals beside the script's own.

    python python/examples/hottest_keys.py --ticks 30
    python python/examples/hottest_keys.py --top 5 --log-y --csv heat.csv

matplotlib is optional: without it the plot is skipped (the CSV is still
written when asked). Install it with `apt install python3-matplotlib` on
Debian, or `pip install matplotlib` in the virtual environment.
"""
import argparse
import time

import numpy as np

import heatkit

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--keys", type=int, default=100_000)
p.add_argument("--zipf", type=float, default=1.1)
p.add_argument("--reads-per-tick", type=int, default=200_000)
p.add_argument("--ticks", type=int, default=60)
p.add_argument("--tick-interval-s", type=float, default=1.0)
p.add_argument("--half-life-s", type=float, default=10.0)
p.add_argument("--top", type=int, default=8)
p.add_argument("--backend", default="highway")
p.add_argument("--seed", type=int, default=1)
p.add_argument("--out", default="hottest_keys.png", help="PNG to write")
p.add_argument("--csv", help="also write the top keys' rates per tick here")
p.add_argument("--log-y", action="store_true", help="log scale for the rates")
args = p.parse_args()

rng = np.random.default_rng(args.seed)
interval_ns = round(args.tick_interval_s * 1e9)
half_life_ns = round(args.half_life_s * 1e9)

# rng.zipf is unbounded; we want Zipf over exactly `keys` ranks (rank 0 the
# hottest, P(k) ~ 1/(k+1)^s), so sample by inverting the cumulative table.
weights = 1.0 / np.arange(1, args.keys + 1) ** args.zipf
cdf = np.cumsum(weights) / weights.sum()
# Random, distinct 64-bit keys per rank, so keys are not their own ranks.
key_of_rank = np.unique(rng.integers(0, 2**64, size=args.keys, dtype=np.uint64, endpoint=False))
assert len(key_of_rank) == args.keys, "64-bit key collision; try another --seed"
rng.shuffle(key_of_rank)
by_key = np.argsort(key_of_rank)  # key -> rank lookups via searchsorted
sorted_keys = key_of_rank[by_key]
# Reads spread evenly over each interval, in order (as `heatkit simulate` does).
offsets = np.arange(args.reads_per_tick, dtype=np.int64) * interval_ns // args.reads_per_tick

# cap=0: unbounded, so no key is evicted and every rank's history is complete.
registry = heatkit.Registry(cap=0, backend=args.backend, half_life_ns=half_life_ns)
policy = heatkit.Policy(ratio=2.0, half_life_ns=half_life_ns)
history = np.zeros((args.ticks, args.keys), dtype=np.float32)  # [tick, rank]
emits = np.zeros(args.ticks, dtype=np.int64)
withdrawals = np.zeros(args.ticks, dtype=np.int64)
bump_s = tick_s = 0.0

for t in range(args.ticks):
    ranks = np.minimum(np.searchsorted(cdf, rng.random(args.reads_per_tick), side="right"), args.keys - 1)
    times = t * interval_ns + offsets
    now = (t + 1) * interval_ns  # a tick closes its interval
    start = time.perf_counter()
    registry.bump_batch(key_of_rank[ranks], times)
    bump_s += time.perf_counter() - start
    start = time.perf_counter()
    candidates = registry.tick(policy, now)
    tick_s += time.perf_counter() - start
    registry.commit(candidates)  # every announcement "succeeds" here
    decisions = candidates.decisions
    emits[t] = np.count_nonzero(decisions == heatkit.Decision.EMIT)
    withdrawals[t] = np.count_nonzero(decisions == heatkit.Decision.WITHDRAW)
    # After tick() every counter is decayed to `now`, so the snapshot is coherent.
    snap = registry.to_numpy()
    history[t, by_key[np.searchsorted(sorted_keys, snap["keys"])]] = snap["rate"]

top = np.argsort(history[-1])[::-1][: args.top]  # ranks of the hottest at the end
seconds = (np.arange(args.ticks) + 1) * args.tick_interval_s
# A key read at rate r (reads/s) settles at r * half_life / ln 2 after a few half-lives.
tau = args.half_life_s / np.log(2)
settled = 1 - 0.5 ** (seconds[-1] / args.half_life_s)
expected = args.reads_per_tick / args.tick_interval_s * (weights / weights.sum()) * tau * settled

print(f"{'key':>18}  {'zipf rank':>9}  {'final rate':>10}  {'expected':>10}")
for rank in top:
    print(f"{int(key_of_rank[rank]):#018x}  {rank + 1:>9}  {history[-1, rank]:>10.1f}  {expected[rank]:>10.1f}")
reads = args.ticks * args.reads_per_tick
print(f"\nreads {reads:,}  emits {emits.sum():,}  withdrawals {withdrawals.sum():,}  "
      f"counters live {len(registry):,}")
print(f"bump_batch {bump_s:.3f} s ({bump_s / reads * 1e9:.1f} ns/read), tick {tick_s:.3f} s "
      f"({tick_s / args.ticks * 1e3:.2f} ms/tick), backend {registry.backend}")

# The built-in engine, same options (its own random draws, so totals differ a
# little). commit_failure_rate=0 because this script commits every candidate.
sim = heatkit.simulate(keys=args.keys, zipf=args.zipf,
                       reads_per_second=round(args.reads_per_tick / args.tick_interval_s),
                       tick_interval_s=args.tick_interval_s, duration_s=args.ticks * args.tick_interval_s,
                       half_life_s=args.half_life_s, ratio=2.0, cap=0, commit_failure_rate=0.0,
                       seed=args.seed, backend=args.backend)
print(f"\n{'':>16}{'this script':>14}{'simulate()':>14}")
for name, ours, theirs in [("reads", reads, sim["bumps"]),
                           ("emits_committed", emits.sum(), sim["emits_committed"]),
                           ("counters_live", len(registry), sim["counters_live"])]:
    print(f"{name:>16}{ours:>14,}{theirs:>14,}")

if args.csv:
    header = "seconds,emits,withdrawals," + ",".join(f"{int(key_of_rank[r]):#018x}" for r in top)
    table = np.column_stack([seconds, emits, withdrawals, history[:, top]])
    np.savetxt(args.csv, table, delimiter=",", header=header, comments="", fmt="%.10g")
    print(f"wrote {args.csv}")

try:
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib not found: plot skipped")
else:
    fig, (ax, ax_emits) = plt.subplots(2, 1, figsize=(9, 6), sharex=True,
                                       gridspec_kw={"height_ratios": [3, 1]})
    for rank in top:
        ax.plot(seconds, history[:, rank], lw=1.8, label=f"rank {rank + 1} ({int(key_of_rank[rank]):#x})")
    if args.log_y:
        ax.set_yscale("log")
    ax.set_ylabel("heat (decayed reads)")
    ax.set_title(f"Hottest {args.top} of {args.keys:,} keys, Zipf {args.zipf}, "
                 f"half-life {args.half_life_s:g} s ({registry.backend})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    ax_emits.bar(seconds, emits, width=args.tick_interval_s * 0.8, color="tab:gray")
    ax_emits.set_ylabel("emits / tick")
    ax_emits.set_xlabel("simulated seconds")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
