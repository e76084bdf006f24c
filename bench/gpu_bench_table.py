#!/usr/bin/env python3
"""Markdown tables for docs/PERFORMANCE.md from one heatkit_gpu_bench JSON file.

    python3 bench/gpu_bench_table.py gpu-results.json

Prints, from that one file (so from one run on one GPU):
  - the device, as the binary recorded it in the benchmark context;
  - every tick beside the device-to-device copy floor at the same size, and
    the Thrust version beside the hand-written passes;
  - the transfers, the store's end-to-end tick, the bumps and commit + prune;
  - the GPU targets at 100,000,000 counters, met or missed.
Values are medians over the repetitions (the `median` aggregates; a run with
one repetition uses its only row); ratios are the binary's own counters,
computed against medians of the same run. Standard library only.
"""
import argparse
import json
import sys

TARGET_N = 100_000_000
TARGET_COPY_RATIO = 0.8   # tick GB/s / copy GB/s, at least
TARGET_THRUST_SPEEDUP = 5.0  # thrust time / cuda time, at least
# The forward-decayed fast tick told the shared half-life: its time / the
# copy of the literal tick's 49 B per counter, at most.
TARGET_FORWARD_COPY_TIME = 0.45

TICK_IMPLS = ["cuda_forward", "cuda_forward_shared", "cuda_relayout", "thrust_forward", "cuda", "cuda_tile256x8", "cuda_tile128x8", "cuda_tile512x2", "cuda_tile256x2_pairs",
              "cuda_tile256x4_streaming", "cuda_tile256x2_pairs_streaming", "cuda_two_pass", "thrust"]


def parse_name(run_name):
    """'tick_kernels/cuda/1000000/repeats:5/manual_time' -> (op, impl, n)."""
    parts = run_name.split("/")
    if len(parts) < 3:
        return None
    try:
        return parts[0], parts[1], int(parts[2])
    except ValueError:
        return None


class Results:
    def __init__(self, data):
        self.context = data.get("context", {})
        self.rows = {}    # (op, impl, n) -> the median row (or the only one)
        self.errors = {}  # (op, impl, n) -> message
        singles = {}
        for b in data.get("benchmarks", []):
            key = parse_name(b.get("run_name", b.get("name", "")))
            if key is None:
                continue
            if b.get("error_occurred"):
                self.errors[key] = b.get("error_message", "error")
                continue
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    self.rows[key] = b
            else:
                singles.setdefault(key, []).append(b)
        for key, runs in singles.items():
            if key not in self.rows and len(runs) == 1:
                self.rows[key] = runs[0]

    def get(self, op, impl, n, field):
        row = self.rows.get((op, impl, n))
        if row is None:
            return None
        if field == "time_us":
            return to_us(row.get("real_time"), row.get("time_unit", "ns"))
        return row.get(field)

    def sizes(self):
        return sorted({n for (_, _, n) in list(self.rows) + list(self.errors)})

    def has(self, op, impl, n):
        return (op, impl, n) in self.rows or (op, impl, n) in self.errors


def to_us(value, unit):
    if value is None:
        return None
    scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}.get(unit, 1.0)
    return value * scale


def fmt(value, digits=2, suffix=""):
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def cell(results, op, impl, n, field, digits=2, suffix=""):
    if (op, impl, n) in results.errors:
        return "skipped"
    return fmt(results.get(op, impl, n, field), digits, suffix)


def device_lines(ctx):
    name = ctx.get("gpu_name", "unknown GPU")
    parts = [
        f"compute capability {ctx.get('gpu_compute_capability', '?')}",
        f"{ctx.get('gpu_sm_count', '?')} SMs",
        f"{ctx.get('gpu_memory_GB', '?')} GB",
        f"L2 {ctx.get('gpu_l2_MB', '?')} MB",
        f"memory {ctx.get('gpu_memory_clock_MHz', '?')} MHz x {ctx.get('gpu_memory_bus_bits', '?')} bits"
        f" = {ctx.get('gpu_theoretical_GBps', '?')} GB/s theoretical",
    ]
    return [
        f"Device: **{name}** ({', '.join(parts)}); CUDA runtime {ctx.get('cuda_runtime_version', '?')},"
        f" driver {ctx.get('cuda_driver_version', '?')}; run {ctx.get('date', '?')};"
        f" L2 before each timed kernel: {ctx.get('heatkit_l2_before_timing', '?')};"
        f" stream hold: {ctx.get('heatkit_stream_hold', '?')}.",
        "",
    ]


def tick_table(results):
    out = [
        "Ticks beside the device-to-device copy floor (49 B per counter read + written; "
        "GB/s = 1e9 B/s; copy ratio = tick GB/s / copy GB/s; speedups = Thrust time / this time):",
        "",
        "| counters | row | time (us) | ns / counter | GB/s | copy ratio | candidates | Thrust / this |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in results.sizes():
        rows = [("copy_floor", "d2d")] + [("tick_kernels", i) for i in TICK_IMPLS]
        for op, impl in rows:
            if not results.has(op, impl, n):
                continue
            share = results.get(op, impl, n, "candidate_share")
            speedup = None
            if op == "tick_kernels" and impl != "thrust":
                thrust = results.get("tick_kernels", "thrust", n, "time_us")
                mine = results.get(op, impl, n, "time_us")
                if thrust and mine:
                    speedup = thrust / mine
            out.append(
                f"| {n:,} | `{op}/{impl}` | {cell(results, op, impl, n, 'time_us', 1)} "
                f"| {cell(results, op, impl, n, 'ns_per_counter', 4)} "
                f"| {cell(results, op, impl, n, 'GBps', 0)} "
                f"| {cell(results, op, impl, n, 'copy_ratio', 3) if op != 'copy_floor' else '1'} "
                f"| {fmt(100 * share, 2, '%') if share is not None else ''} "
                f"| {fmt(speedup, 2, 'x') if speedup is not None else ''} |")
    out.append("")
    return out


def simple_table(results, title, rows, columns):
    """rows: [(op, impl)]; columns: [(header, field, digits)]."""
    out = [title, "", "| counters | row | " + " | ".join(h for h, _, _ in columns) + " |",
           "|---:|---|" + "---:|" * len(columns)]
    for n in results.sizes():
        for op, impl in rows:
            if not results.has(op, impl, n):
                continue
            cells = []
            for _, field, digits in columns:
                if field == "candidate_pct":
                    v = results.get(op, impl, n, "candidate_share")
                    cells.append(fmt(100 * v, 2, "%") if v is not None else "")
                elif field in ("time_us",) or results.get(op, impl, n, field) is not None:
                    cells.append(cell(results, op, impl, n, field, digits))
                else:
                    cells.append("skipped" if (op, impl, n) in results.errors else "")
            out.append(f"| {n:,} | `{op}/{impl}` | " + " | ".join(cells) + " |")
    out.append("")
    return out


def targets(results):
    n = TARGET_N
    out = [
        f"Targets at {n:,} counters:",
        "",
        "| target | limit | measured | verdict |",
        "|---|---:|---:|---|",
    ]
    copy_gbps = results.get("copy_floor", "d2d", n, "GBps")
    forward = results.get("tick_kernels", "cuda_forward_shared", n, "copy_time_ratio")
    if forward is None:
        out.append(f"| `tick_kernels/cuda_forward_shared` time / copy time | <= {TARGET_FORWARD_COPY_TIME} | n/a | not measured |")
    else:
        verdict = "met" if forward <= TARGET_FORWARD_COPY_TIME else f"MISSED ({forward / TARGET_FORWARD_COPY_TIME:.2f}x the limit)"
        out.append(f"| `tick_kernels/cuda_forward_shared` time / copy time | <= {TARGET_FORWARD_COPY_TIME} "
                   f"| {forward:.3f} | {verdict} |")
    thrust_us = results.get("tick_kernels", "thrust", n, "time_us")
    for impl in ("cuda", "cuda_two_pass"):
        ratio = results.get("tick_kernels", impl, n, "copy_ratio")
        gbps = results.get("tick_kernels", impl, n, "GBps")
        if ratio is None:
            out.append(f"| `tick_kernels/{impl}` GB/s / copy GB/s | >= {TARGET_COPY_RATIO} | n/a | not measured |")
        else:
            verdict = "met" if ratio >= TARGET_COPY_RATIO else f"MISSED ({ratio / TARGET_COPY_RATIO:.2f} of the limit)"
            out.append(f"| `tick_kernels/{impl}` GB/s / copy GB/s | >= {TARGET_COPY_RATIO} "
                       f"| {ratio:.3f} ({fmt(gbps, 0)} / {fmt(copy_gbps, 0)} GB/s) | {verdict} |")
        mine = results.get("tick_kernels", impl, n, "time_us")
        if thrust_us and mine:
            speedup = thrust_us / mine
            verdict = "met" if speedup >= TARGET_THRUST_SPEEDUP else f"MISSED ({speedup / TARGET_THRUST_SPEEDUP:.2f} of the limit)"
            out.append(f"| `tick_kernels/thrust` time / `tick_kernels/{impl}` time | >= {TARGET_THRUST_SPEEDUP:g}x "
                       f"| {speedup:.2f}x ({thrust_us:,.0f} / {mine:,.0f} us) | {verdict} |")
        else:
            out.append(f"| `tick_kernels/thrust` time / `tick_kernels/{impl}` time | >= {TARGET_THRUST_SPEEDUP:g}x | n/a | not measured |")
    out.append("")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="heatkit_gpu_bench --benchmark_out=... --benchmark_out_format=json")
    args = parser.parse_args()
    try:
        with open(args.json) as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"gpu_bench_table.py: cannot read {args.json}: {e}", file=sys.stderr)
        return 1
    results = Results(data)
    if not results.rows and not results.errors:
        print(f"gpu_bench_table.py: no heatkit_gpu_bench rows in {args.json}", file=sys.stderr)
        return 1

    out = device_lines(results.context)
    out += tick_table(results)
    out += simple_table(
        results,
        "Transfers, counted apart from the kernels (GB/s = 1e9 B/s of payload):",
        [("tick_transfer", "d2h_pageable"), ("tick_transfer", "d2h_pinned"),
         ("bump_batch_upload", "h2d_pageable"), ("bump_batch_upload", "h2d_pinned")],
        [("time (us)", "time_us", 1), ("GB/s", "GBps", 1), ("candidates", "candidates", 0),
         ("ns / bump", "ns_per_bump", 3)])
    out += simple_table(
        results,
        "The store's tick end to end (DeviceCounterStore::tick, host clock), and the share of it "
        "that the same passes' kernels take:",
        [("tick_store", "cuda"), ("tick_store", "thrust")],
        [("time (us)", "time_us", 1), ("ns / counter", "ns_per_counter", 3),
         ("kernels share", "kernels_share", 3), ("candidates", "candidate_pct", 2)])
    out += simple_table(
        results,
        "Bumps (1,048,576 per batch; kernels only, ops or reads already on the device):",
        [("bump_batch", "cuda"), ("bump_timed_uniform", "cuda"), ("bump_timed_zipf", "cuda")],
        [("time (us)", "time_us", 1), ("ns / bump", "ns_per_bump", 3),
         ("distinct slots / reads", "distinct_share", 3)])
    out += simple_table(
        results,
        "Commit + prune after a quiet gap (90% withdrawn: their record ops, then the prune selection):",
        [("commit_prune", "cuda")],
        [("time (us)", "time_us", 1), ("ns / counter", "ns_per_counter", 4), ("ns / op", "ns_per_op", 4),
         ("pruned", "pruned_share", 2)])
    out += targets(results)
    if results.errors:
        out.append("Skipped rows:")
        out.append("")
        for (op, impl, n), message in sorted(results.errors.items()):
            out.append(f"- `{op}/{impl}/{n}`: {message}")
        out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
