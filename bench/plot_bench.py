#!/usr/bin/env python3
"""Chart of one heatkit_bench JSON file: throughput against counters.

    bench/plot_bench.py docs/bench/cpu.json -o docs/bench/cpu-throughput.svg

One panel per operation, one line per impl (backend and thread count, the
port, the multi-threaded rows), log-log; the tick panels also show the
memory-bandwidth floors at 1 and N threads (grey; lighter: the floor without
the half-life column, which highway's ticks do not read). Throughput is items
per second from the median cost per item: counters per second for ticks,
commit and the floor; bumps or inserts per second for the rest. The output
format follows the file name (.svg, .png, .pdf).

Needs matplotlib (Debian: apt-get install python3-matplotlib); nothing else
in the build or the tests does.
"""
import argparse
import os
import sys

from bench_results import Results, fmt_count, threads_of

DEFAULT_OPS = [
    "tick_pass", "tick", "tick_periodic", "tick_quiet", "commit_prune",
    "bump_uniform", "bump_zipf", "bump_batch_uniform",
    "bump_batch_zipf", "bump_queued_uniform", "bump_queued_zipf", "insert_at_cap", "bump_mt_uniform",
    "bump_mt_zipf", "bump_mt_batch_uniform", "bump_mt_batch_zipf",
]
FLOOR_OPS = {"tick_pass", "tick", "tick_periodic", "tick_quiet"}


def style_for(impl, palette):
    """Colour per implementation family, dashes for more than one thread."""
    family = impl.rsplit("/", 1)[0] if threads_of(impl) > 1 or impl.endswith("/t1") else impl
    if family not in palette:
        used = set(palette.values())
        free = [f"C{k}" for k in range(10) if f"C{k}" not in used]
        palette[family] = free[0] if free else "C7"
    return {"color": palette[family], "linestyle": "--" if threads_of(impl) > 1 else "-", "marker": "o",
            "markersize": 3.5, "linewidth": 1.4}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("-o", "--output", required=True, help="chart file: .svg, .png or .pdf")
    ap.add_argument("--ops", default=",".join(DEFAULT_OPS), help="comma-separated operations, one panel each")
    ap.add_argument("--columns", type=int, default=3)
    args = ap.parse_args()

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import EngFormatter, LogLocator, NullLocator
    except ImportError:
        print("plot_bench.py needs matplotlib: apt-get install python3-matplotlib", file=sys.stderr)
        return 2

    results = Results(args.json)
    ops = [op for op in args.ops.split(",") if op in results.ops()]
    if not ops:
        print(f"none of the operations {args.ops} is in {args.json}", file=sys.stderr)
        return 1
    cols = min(args.columns, len(ops))
    rows = (len(ops) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.0 * cols, 3.6 * rows), squeeze=False)
    palette = {"port": "C3", "port+mutex": "C3"}

    for k, op in enumerate(ops):
        ax = axes[k // cols][k % cols]
        for impl in results.impls(op):
            points = [(n, results.value(op, impl, n)) for n in results.sizes(op)]
            points = [(n, 1e9 / v) for n, v in points if v]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=impl, **style_for(impl, palette))
        if op in FLOOR_OPS:
            for floor_op, color in (("floor", "0.45"), ("floor_shared_hl", "0.7")):
                for impl in results.impls(floor_op):
                    points = [(n, results.value(floor_op, impl, n)) for n in results.sizes(op)]
                    points = [(n, 1e9 / v) for n, v in points if v]
                    if points:
                        xs, ys = zip(*points)
                        label = f"floor {impl}" + ("" if floor_op == "floor" else ", no half-life column")
                        ax.plot(xs, ys, label=label, color=color,
                                linestyle=":" if threads_of(impl) == 1 else "-.", linewidth=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(op, fontsize=10)
        sizes = results.sizes(op)
        ax.set_xticks(sizes)
        ax.set_xticklabels([fmt_count(n) for n in sizes], fontsize=8)
        ax.xaxis.set_minor_locator(NullLocator())
        low, high = ax.get_ylim()
        wide = high / low > 1e3  # over three decades: one tick per decade
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0,) if wide else (1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_xlabel("counters", fontsize=8)
        ax.set_ylabel("bumps/s" if "bump" in op else "inserts/s" if op == "insert_at_cap"
                      else "counters/s", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(True, which="major", linewidth=0.4, alpha=0.5)
        ax.legend(fontsize=7, loc="best")
    for k in range(len(ops), rows * cols):
        axes[k // cols][k % cols].axis("off")

    ctx = results.context
    fig.suptitle(f"heatkit_bench: throughput vs counters (median of repetitions; higher is better)\n"
                 f"{ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz, {ctx.get('date', '')}",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    fig.savefig(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
