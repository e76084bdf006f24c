#!/usr/bin/env python3
"""Markdown tables for docs/PERFORMANCE.md from one heatkit_bench JSON file.

    bench/perf_table.py docs/bench/cpu.json [--backend highway] [--brief]

Prints, from that one file (so from one run):
  - per operation, the median cost per item of every impl at every size, its
    spread over the repetitions and its speedup over the port;
  - every tick beside the memory-bandwidth floor of the columns it reads at
    the same size and thread count, and beside the port;
  - multi-threaded bump scaling;
  - bytes per counter at the cap, for u64 and for 32-byte keys (blob_*);
  - the targets for `--backend`, each met or missed by how much.
With --brief (docs/PERFORMANCE.md's tables): the targets, the compute, every
tick and every other operation in one table each at 1M and 10M counters, the
scaling and the bytes.
Medians over the repetitions; ratios are ratios of medians.
"""
import argparse
import sys

from bench_results import OPERATIONS, Results, fmt_ns, fmt_ratio, threads_of

# The targets.
TICK_N = 10_000_000
TICK_FLOOR_T1 = 1.5     # tick / single-thread floor, at most
TICK_SPEEDUP = 12.0     # port / tick, at least
TICK_FLOOR_TN = 1.3     # tick / all-thread floor, at most
BUMP_N = 1_000_000
BUMP_NS = 60.0          # single bump, at most
BATCH_NS = 25.0         # batch bump per key, at most
MT_SCALING = 1.7        # bumps/s at 2 threads / at 1 thread, uniform keys, at least
BYTES_PER_COUNTER = 64.0
# A forward-decayed backend's tick, beside today's read+write floor without
# the half-life column (floor_shared_hl) and beside its own read-only floor
# (floor_forward_read).
PASS_TODAY_FLOOR = 0.6  # tick_pass / floor_shared_hl, at most (every thread count)
PASS_OWN_FLOOR = 1.3    # tick_pass / floor_forward_read, at most
TICK_TODAY_FLOOR_T1 = 0.9  # tick / floor_shared_hl on one thread, at most
TICK_TODAY_FLOOR_TN = 0.8  # tick / floor_shared_hl on all threads, at most


BLOB = "blob_"  # prefix of the rows with 32-byte keys


def split_keys(op):
    """'blob_bump_zipf' -> ('blob_', 'bump_zipf'); 'tick' -> ('', 'tick')."""
    return (BLOB, op[len(BLOB):]) if op.startswith(BLOB) else ("", op)


def port_reference(results, op, impl, n):
    """The port time this result is compared with, or None (blob_* rows: the
    port keyed by 32 bytes)."""
    if impl.startswith("port") or op == "floor":
        return None
    keys, op = split_keys(op)
    if keys:
        if op.startswith("bump_batch"):
            return results.value(keys + op.replace("_batch", ""), "port", n)
        return results.value(keys + op, "port", n)
    if op.startswith("bump_mt"):
        base = op.replace("_batch", "")
        return results.value(base, f"port+mutex/t{threads_of(impl)}", n)
    if op.startswith("bump_batch") or op.startswith("bump_queued"):
        return results.value(op.replace("_batch", "").replace("_queued", ""), "port", n)
    if op in ("tick_pass", "tick_periodic"):
        return results.value("tick", "port", n)
    return results.value(op, "port", n)


def cell(results, r):
    v = r.value()
    text = fmt_ns(v)
    cv = r.cv()
    if cv is not None:
        text += f" ±{100 * cv:.0f}%"
    port = port_reference(results, r.op, r.impl, r.n)
    if port and v:
        text += f" ({fmt_ratio(port / v)})"
    return text


def operation_tables(results, out):
    out.append("Medians; ± = coefficient of variation over the repetitions; (Nx) = the port's median "
               "time / this one (the port's `tick` for `tick_pass` and `tick_periodic`, its single bumps "
               "for batches and queued bumps, `port+mutex` at the same thread count for `bump_mt_*`).")
    out.append("")
    for op in results.ops():
        if op == "cpu_probe":
            continue
        impls = results.impls(op)
        _, unit = OPERATIONS.get(op, ("", "ns per item"))
        out.append(f"**{op}** ({unit})")
        out.append("")
        out.append("| counters | " + " | ".join(impls) + " |")
        out.append("|---:|" + "---:|" * len(impls))
        for n in results.sizes(op):
            cells = []
            for impl in impls:
                r = results.get(op, impl, n)
                cells.append(cell(results, r) if r else "")
            out.append(f"| {n:,} | " + " | ".join(cells) + " |")
        out.append("")


def tick_table(results, out):
    if results.sizes("floor_shared_hl"):
        out.append("The floor beside each tick is the pass over the columns that tick reads: highway's "
                   "ticks are told the half-life every counter shares and do not read that column "
                   "(`floor_shared_hl`, 41 bytes per counter), the others read all five (`floor`, 49 bytes).")
        out.append("")
    out.append("| tick | counters | impl | ns/counter | floor (same threads) | x floor | port | port / this | candidates |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for op in TICK_OPS:
        for n in results.sizes(op):
            port = results.value(op if op in ("tick_quiet", "blob_tick") else "tick", "port", n)
            for impl in results.impls(op):
                r = results.get(op, impl, n)
                if not r:
                    continue
                v = r.value()
                floor = results.floor(n, threads_of(impl), impl)
                frac = r.value("withdraw_fraction" if op == "tick_quiet" else "emit_fraction")
                speed = "" if impl == "port" else fmt_ratio(port / v) if port and v else "-"
                share = f"{100 * frac:.1f}%" if frac is not None else "-"
                out.append(f"| {op} | {n:,} | {impl} | {fmt_ns(v)} | {fmt_ns(floor)} | "
                           f"{fmt_ratio(v / floor) if floor and v else '-'} | {fmt_ns(port)} | {speed} | "
                           f"{share} |")
    out.append("")
    floor_table(results, out, results.sizes("floor"))


def floor_table(results, out, sizes):
    out.append("| floor | counters | ns/counter | GB/s |")
    out.append("|---|---:|---:|---:|")
    for n in sizes:
        for op in ("floor", "floor_shared_hl", "floor_forward_read"):
            for impl in results.impls(op):
                r = results.get(op, impl, n)
                if r:
                    name = {"floor": impl, "floor_shared_hl": f"{impl}, no half-life column",
                            "floor_forward_read": f"{impl}, read-only over s, last_emitted, flags"}[op]
                    out.append(f"| {name} | {n:,} | {fmt_ns(r.value())} | {r.value('GBps'):.1f} |")
    out.append("")


def cpu_table(results, out):
    sizes = results.sizes("cpu_probe")
    if not sizes:
        return
    impls = results.impls("cpu_probe")
    most = max(impls, key=threads_of)
    out.append(f"| before the benchmarks at | steps/s, t1 | steps/s, {most} | {most} / t1 |")
    out.append("|---:|---:|---:|---:|")
    for n in sizes:
        one, many = results.value("cpu_probe", "t1", n), results.value("cpu_probe", most, n)
        if one and many:
            out.append(f"| {n:,} | {1e3 / one:,.0f} M | {1e3 / many:,.0f} M | {one / many:.2f}x |")
    out.append("")


def mt_table(results, out, sizes=None):
    ops = [op for op in results.ops() if op.startswith("bump_mt")]
    if not ops:
        return
    out.append("| operation | counters | impl | 1 thread | N threads | N | bumps/s N / 1 |")
    out.append("|---|---:|---|---:|---:|---:|---:|")
    for op in ops:
        for n in results.sizes(op):
            if sizes and n not in sizes:
                continue
            bases = []
            for impl in results.impls(op):
                base = impl.rsplit("/", 1)[0]
                if base not in bases:
                    bases.append(base)
            for base in bases:
                counts = sorted(threads_of(i) for i in results.impls(op) if i.rsplit("/", 1)[0] == base)
                one, many = results.value(op, f"{base}/t1", n), results.value(op, f"{base}/t{counts[-1]}", n)
                if one is None or many is None or counts[-1] == 1:
                    continue
                out.append(f"| {op} | {n:,} | {base} | {fmt_ns(one)} | {fmt_ns(many)} | {counts[-1]} | "
                           f"{fmt_ratio(one / many)} |")
    out.append("")


BYTES_OP = "bump_uniform"  # its registry holds exactly its cap of resident keys


def bytes_table(results, out):
    """Bytes per counter at the cap: u64 keys, then 32-byte keys where the run has them."""
    for op, keys in ((BYTES_OP, "u64"), (BLOB + BYTES_OP, "32-byte")):
        if results.sizes(op):
            bytes_rows(results, op, keys, out)


def bytes_rows(results, op, keys, out):
    impls = [i for i in results.impls(op) if i != "port"]
    out.append(f"| {keys} keys, counters | port (requested) | port malloc overhead | "
               + " | ".join(impls) + " | columns / keys / index / LRU / scratch |")
    out.append("|---:|---:|---:|" + "---:|" * len(impls) + "---|")
    for n in results.sizes(op):
        port = results.get(op, "port", n)
        row = [f"{n:,}"]
        row.append(f"{port.value('bytes_per_counter'):.2f}" if port else "-")
        row.append(f"+{port.value('malloc_overhead_B'):.2f}" if port else "-")
        split = "-"
        for impl in impls:
            r = results.get(op, impl, n)
            row.append(f"{r.value('bytes_per_counter'):.2f}" if r else "-")
            if r and split == "-":
                split = " / ".join(f"{r.value(k):.2f}" for k in ("columns_B", "keys_B", "index_B", "lru_B", "scratch_B"))
        row.append(split)
        out.append("| " + " | ".join(row) + " |")
    out.append("")


BRIEF_SIZES = (1_000_000, 10_000_000)
TICK_OPS = ("tick_pass", "tick", "tick_periodic", "tick_quiet", "blob_tick")


def brief_table(results, ops, out, cell_of):
    """One table: a row per (operation, size), a column per impl."""
    impls = []
    for op in ops:
        for impl in results.impls(op):
            if impl not in impls:
                impls.append(impl)
    out.append("| operation | counters | " + " | ".join(impls) + " |")
    out.append("|---|---:|" + "---:|" * len(impls))
    for op in ops:
        for n in BRIEF_SIZES:
            if n not in results.sizes(op):
                continue
            cells = []
            for impl in impls:
                r = results.get(op, impl, n)
                cells.append(cell_of(r) if r else "")
            out.append(f"| {op} | {n:,} | " + " | ".join(cells) + " |")
    out.append("")


def brief_ticks(results, out):
    out.append("ns per counter (x the read+write floor of today's literal columns, same threads: 41 bytes "
               "for the ticks told the shared half-life, 49 for the others).")
    out.append("")

    def cell_of(r):
        floor = results.floor(r.n, threads_of(r.impl), r.impl)
        v = r.value()
        return fmt_ns(v) + (f" ({fmt_ratio(v / floor)})" if floor and v else "")
    brief_table(results, [op for op in TICK_OPS if results.sizes(op)], out, cell_of)
    floor_table(results, out, [n for n in BRIEF_SIZES if n in results.sizes("floor")])


# The results page's operation tables, one per operation (u64 and 32-byte keys together).
BRIEF_GROUPS = (
    ("Single bumps: `entry(key).bump(now)`", ("bump_uniform", "bump_zipf", "blob_bump_uniform", "blob_bump_zipf")),
    ("Batched bumps: `bump_batch` of 1,024 keys, per key",
     ("bump_batch_uniform", "bump_batch_zipf", "blob_bump_batch_uniform", "blob_bump_batch_zipf")),
    ("Queued single bumps: a bump queue of 256", ("bump_queued_uniform", "bump_queued_zipf")),
    ("Inserts at the cap", ("insert_at_cap", "blob_insert_at_cap")),
    ("Commit + prune, per counter resident before", ("commit_prune",)),
)


def brief_operations(results, out):
    def cell_of(r):
        port = port_reference(results, r.op, r.impl, r.n)
        v = r.value()
        return fmt_ns(v) + (f" ({fmt_ratio(port / v)})" if port and v else "")
    grouped = set()
    for title, group in BRIEF_GROUPS:
        ops = [op for op in group if results.sizes(op)]
        grouped.update(group)
        if not ops:
            continue
        out.append(f"#### {title}")
        out.append("")
        out.append("ns per item (the port's time / this one).")
        out.append("")
        brief_table(results, ops, out, cell_of)
    rest = [op for op in results.ops()
            if op not in TICK_OPS and op not in grouped and op not in ("cpu_probe", "floor", "floor_shared_hl")
            and not op.startswith("bump_mt")]
    if rest:
        out.append("#### Other operations")
        out.append("")
        brief_table(results, rest, out, cell_of)


def verdict_at_most(value, limit):
    if value is None:
        return "not measured"
    if value <= limit:
        return "met"
    return f"MISSED: {value / limit:.2f}x the limit"


def verdict_at_least(value, limit):
    if value is None:
        return "not measured"
    if value >= limit:
        return "met"
    return f"MISSED: {value / limit:.2f}x the minimum"


def forward_targets(results, backend, threads, rows):
    """The forward-decayed tick's targets at TICK_N (a backend whose tick rows
    carry own_floor_ratio)."""
    for t in threads:
        today = results.value("floor_shared_hl", f"t{t}", TICK_N)
        own = results.value("floor_forward_read", f"t{t}", TICK_N)
        tick_pass = results.value("tick_pass", f"{backend}/t{t}", TICK_N)
        tick = results.value("tick", f"{backend}/t{t}", TICK_N)
        r = tick_pass / today if tick_pass and today else None
        rows.append((f"tick pass, {TICK_N:,} counters, {backend}/t{t} / floor_shared_hl t{t}",
                     f"<= {PASS_TODAY_FLOOR}x", f"{fmt_ratio(r)} ({fmt_ns(tick_pass)} / {fmt_ns(today)})",
                     verdict_at_most(r, PASS_TODAY_FLOOR)))
        r = tick_pass / own if tick_pass and own else None
        rows.append((f"tick pass, {TICK_N:,} counters, {backend}/t{t} / floor_forward_read t{t}",
                     f"<= {PASS_OWN_FLOOR}x", f"{fmt_ratio(r)} ({fmt_ns(tick_pass)} / {fmt_ns(own)})",
                     verdict_at_most(r, PASS_OWN_FLOOR)))
        limit = TICK_TODAY_FLOOR_T1 if t == 1 else TICK_TODAY_FLOOR_TN
        r = tick / today if tick and today else None
        rows.append((f"tick (keys included), {TICK_N:,} counters, {backend}/t{t} / floor_shared_hl t{t}",
                     f"<= {limit}x", f"{fmt_ratio(r)} ({fmt_ns(tick)} / {fmt_ns(today)})",
                     verdict_at_most(r, limit)))


def targets(results, backend, out):
    threads = sorted({threads_of(i) for i in results.impls("tick") if i.startswith(backend + "/")})
    all_t = threads[-1] if threads else 1
    rows = []

    tick1 = results.value("tick", f"{backend}/t1", TICK_N)
    floor1 = results.floor(TICK_N, 1, f"{backend}/t1")
    port = results.value("tick", "port", TICK_N)
    r = tick1 / floor1 if tick1 and floor1 else None
    shared = results.floor_bytes(f"{backend}/t1", TICK_N) == 41
    floor_name = "floor without the half-life column" if shared else "floor"
    rows.append((f"tick, {TICK_N:,} counters, {backend}/t1 / {floor_name} t1", f"<= {TICK_FLOOR_T1}x",
                 f"{fmt_ratio(r)} ({fmt_ns(tick1)} / {fmt_ns(floor1)})", verdict_at_most(r, TICK_FLOOR_T1)))
    s = port / tick1 if port and tick1 else None
    rows.append((f"tick, {TICK_N:,} counters, port / {backend}/t1", f">= {TICK_SPEEDUP:.0f}x",
                 f"{fmt_ratio(s)} ({fmt_ns(port)} / {fmt_ns(tick1)})", verdict_at_least(s, TICK_SPEEDUP)))
    tickn = results.value("tick", f"{backend}/t{all_t}", TICK_N)
    floorn = results.floor(TICK_N, all_t, f"{backend}/t{all_t}")
    r = tickn / floorn if tickn and floorn else None
    rows.append((f"tick, {TICK_N:,} counters, {backend}/t{all_t} / {floor_name} t{all_t}", f"<= {TICK_FLOOR_TN}x",
                 f"{fmt_ratio(r)} ({fmt_ns(tickn)} / {fmt_ns(floorn)})", verdict_at_most(r, TICK_FLOOR_TN)))
    if results.get("tick_pass", f"{backend}/t1", TICK_N) and results.value("tick", f"{backend}/t1", TICK_N, "own_floor_ratio"):
        forward_targets(results, backend, threads, rows)
    for op in ("bump_uniform", "bump_zipf"):
        v = results.value(op, f"{backend}/t1", BUMP_N)
        rows.append((f"{op}, {BUMP_N:,} resident keys", f"<= {BUMP_NS:.0f} ns", fmt_ns(v), verdict_at_most(v, BUMP_NS)))
    for op in ("bump_queued_uniform", "bump_queued_zipf"):  # single bumps, RegistryOptions::bump_queue
        v = results.value(op, f"{backend}/t1", BUMP_N)
        if v is not None:
            rows.append((f"{op} (single bumps, bump queue on), {BUMP_N:,} resident keys", f"<= {BUMP_NS:.0f} ns",
                         fmt_ns(v), verdict_at_most(v, BUMP_NS)))
    for op in ("bump_batch_uniform", "bump_batch_zipf"):
        v = results.value(op, f"{backend}/t1", BUMP_N)
        rows.append((f"{op}, {BUMP_N:,} resident keys", f"<= {BATCH_NS:.0f} ns/key", fmt_ns(v), verdict_at_most(v, BATCH_NS)))
    for op in ("bump_mt_uniform", "bump_mt_batch_uniform"):
        for impl in ("sharded",):  # heatkit's concurrent registry; the +mutex rows are baselines
            one = results.value(op, f"{impl}/t1", BUMP_N)
            two = results.value(op, f"{impl}/t2", BUMP_N)
            s = one / two if one and two else None
            rows.append((f"{op}, {BUMP_N:,} keys, {impl}: bumps/s at 2 threads / 1 thread",
                         f">= {MT_SCALING}x", fmt_ratio(s), verdict_at_least(s, MT_SCALING)))
    worst = None
    for n in results.sizes(BYTES_OP):
        b = results.value(BYTES_OP, f"{backend}/t1", n, "bytes_per_counter")
        if b is not None:
            worst = b if worst is None else max(worst, b)
    rows.append(("bytes per u64 counter, all-in, at the cap (worst size here)", f"<= {BYTES_PER_COUNTER:.0f}",
                 f"{worst:.2f}" if worst is not None else "-", verdict_at_most(worst, BYTES_PER_COUNTER)))

    out.append("| target | limit | measured | verdict |")
    out.append("|---|---:|---:|---|")
    for row in rows:
        out.append("| " + " | ".join(row) + " |")
    out.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--backend", default="highway", help="backend whose rows the targets are checked on")
    ap.add_argument("--brief", action="store_true", help="the results page's tables only")
    args = ap.parse_args()
    results = Results(args.json)
    out = []
    if results.errors:
        out.append("Benchmarks that reported an error:")
        out += [f"- {name}: {msg}" for name, msg in results.errors]
        out.append("")
    out.append("### Targets")
    out.append("")
    targets(results, args.backend, out)
    out.append("### Compute the machine gave (cpu_probe)")
    out.append("")
    cpu_table(results, out)
    out.append("### Ticks beside the floor and the port")
    out.append("")
    (brief_ticks if args.brief else tick_table)(results, out)
    out.append("### Every operation")
    out.append("")
    (brief_operations if args.brief else operation_tables)(results, out)
    out.append("### Multi-threaded bumps: scaling")
    out.append("")
    mt_table(results, out, BRIEF_SIZES if args.brief else None)
    out.append(f"### Bytes per counter at the cap (the `{BYTES_OP}` and `{BLOB}{BYTES_OP}` registries)")
    out.append("")
    bytes_table(results, out)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
