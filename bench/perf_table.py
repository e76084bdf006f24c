#!/usr/bin/env python3
"""Markdown tables for docs/PERFORMANCE.md from one heatkit_bench JSON file.

    bench/perf_table.py docs/bench/issue2-scalar-vs-port.json [--backend scalar]

Every ratio is port / backend from the same file, so from the same run. With
repetitions the median aggregate is used (and its coefficient of variation
shown); without, the single run.
"""
import argparse
import json
import sys
from collections import defaultdict

# operation -> (per-item counter, what one item is)
OPERATIONS = {
    "tick": ("ns_per_counter", "ns per counter per tick"),
    "bump_uniform": ("ns_per_bump", "ns per bump"),
    "bump_zipf": ("ns_per_bump", "ns per bump"),
    "insert_at_cap": ("ns_per_insert", "ns per insert"),
    "commit_prune": ("ns_per_counter", "ns per resident counter"),
    "fill": ("ns_per_insert", "ns per insert"),
}

# Targets of issue 2, all at 1,000,000 counters.
TARGET_N = 1_000_000
TICK_SPEEDUP = 3.0
INSERT_SPEEDUP = 10_000.0
BYTES_PER_COUNTER = 64.0


def load(path):
    """{(op, impl, n): {"median": row, "cv": row}} from the JSON's runs."""
    with open(path) as f:
        doc = json.load(f)
    runs = defaultdict(dict)
    singles = defaultdict(list)
    for b in doc["benchmarks"]:
        parts = b["run_name"].split("/")
        key = (parts[0], parts[1], int(parts[2]))
        if b.get("run_type") == "aggregate":
            runs[key][b["aggregate_name"]] = b
        elif not b.get("error_occurred"):
            singles[key].append(b)
    for key, rows in singles.items():
        if "median" not in runs[key]:
            rows = sorted(rows, key=lambda r: r[OPERATIONS[key[0]][0]])
            runs[key]["median"] = rows[len(rows) // 2]
    return doc["context"], runs


def fmt_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.2f} us"
    return f"{ns:,.1f} ns"


def fmt_ratio(r):
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"


def cv_of(run, counter):
    cv = run.get("cv")
    return f"{100 * cv[counter]:.0f}%" if cv and counter in cv else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--backend", default="scalar")
    args = ap.parse_args()
    context, runs = load(args.json)
    sizes = sorted({n for (_, _, n) in runs})
    out = []

    out.append(f"| operation | counters | port | {args.backend} | port / {args.backend} | CV port / {args.backend} |")
    out.append("|---|---:|---:|---:|---:|---:|")
    ratios = {}
    for op, (counter, _) in OPERATIONS.items():
        for n in sizes:
            port, ours = runs.get((op, "port", n)), runs.get((op, args.backend, n))
            if not port or not ours:
                continue
            p, o = port["median"][counter], ours["median"][counter]
            ratios[(op, n)] = p / o
            out.append(f"| {op} ({counter}) | {n:,} | {fmt_ns(p)} | {fmt_ns(o)} | {fmt_ratio(p / o)} | "
                       f"{cv_of(port, counter)} / {cv_of(ours, counter)} |")
    out.append("")

    out.append(f"| counters | port bytes/counter (requested) | port malloc overhead | {args.backend} bytes/counter | "
               f"{args.backend} columns / keys / index / LRU / scratch |")
    out.append("|---:|---:|---:|---:|---|")
    bytes_at = {}
    for n in sizes:
        port, ours = runs.get(("fill", "port", n)), runs.get(("fill", args.backend, n))
        if not port or not ours:
            continue
        p, o = port["median"], ours["median"]
        bytes_at[n] = o["bytes_per_counter"]
        split = " / ".join(f"{o[k]:.2f}" for k in ("columns_B", "keys_B", "index_B", "lru_B", "scratch_B"))
        out.append(f"| {n:,} | {p['bytes_per_counter']:.2f} | +{p['malloc_overhead_B']:.2f} | "
                   f"{o['bytes_per_counter']:.2f} | {split} |")
    out.append("")

    def verdict(ok):
        return "met" if ok else "MISSED"

    if ("tick", TARGET_N) in ratios:
        r = ratios[("tick", TARGET_N)]
        out.append(f"- tick at 1,000,000: {fmt_ratio(r)} faster per counter (target >= {TICK_SPEEDUP:.0f}x): {verdict(r >= TICK_SPEEDUP)}")
    if ("insert_at_cap", TARGET_N) in ratios:
        r = ratios[("insert_at_cap", TARGET_N)]
        out.append(f"- insert at the cap at 1,000,000: {fmt_ratio(r)} faster (target >= {INSERT_SPEEDUP:,.0f}x): {verdict(r >= INSERT_SPEEDUP)}")
    if bytes_at:
        worst = max(bytes_at.values())
        out.append(f"- bytes per u64 counter, all-in: at most {worst:.2f} over the sizes here (target <= {BYTES_PER_COUNTER:.0f}): {verdict(worst <= BYTES_PER_COUNTER)}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
