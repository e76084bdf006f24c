"""Reads heatkit_bench's JSON output (Google Benchmark's --benchmark_out).

Shared by perf_table.py (Markdown tables for docs/PERFORMANCE.md) and
plot_bench.py (the chart). Standard library only.

Benchmark names are <operation>/<impl>/<counters>, where <impl> may contain
slashes (`highway/t2`, `sharded/t1`); Google Benchmark appends parts such as
`iterations:3` and `manual_time`, which are dropped here.
"""
import json
import statistics
from collections import defaultdict

# operation -> (per-item counter, what one item is); blob_*: the same
# operation with 32-byte keys
OPERATIONS = {
    "floor": ("ns_per_counter", "ns per counter per pass"),
    "floor_shared_hl": ("ns_per_counter", "ns per counter per pass"),
    "floor_forward_read": ("ns_per_counter", "ns per counter per pass"),
    "tick_pass": ("ns_per_counter", "ns per counter per pass"),
    "tick": ("ns_per_counter", "ns per counter per tick"),
    "tick_periodic": ("ns_per_counter", "ns per counter per tick"),
    "tick_quiet": ("ns_per_counter", "ns per counter per tick"),
    "commit_prune": ("ns_per_counter", "ns per resident counter"),
    "bump_uniform": ("ns_per_bump", "ns per bump"),
    "bump_zipf": ("ns_per_bump", "ns per bump"),
    "bump_batch_uniform": ("ns_per_bump", "ns per bumped key"),
    "bump_batch_zipf": ("ns_per_bump", "ns per bumped key"),
    "bump_queued_uniform": ("ns_per_bump", "ns per bump"),
    "bump_queued_zipf": ("ns_per_bump", "ns per bump"),
    "insert_at_cap": ("ns_per_insert", "ns per insert"),
    "bump_mt_uniform": ("ns_per_bump", "ns per bump (wall / all threads' bumps)"),
    "bump_mt_zipf": ("ns_per_bump", "ns per bump (wall / all threads' bumps)"),
    "bump_mt_batch_uniform": ("ns_per_bump", "ns per bumped key (wall / all threads' keys)"),
    "bump_mt_batch_zipf": ("ns_per_bump", "ns per bumped key (wall / all threads' keys)"),
    "blob_tick": ("ns_per_counter", "ns per counter per tick"),
    "blob_bump_uniform": ("ns_per_bump", "ns per bump"),
    "blob_bump_zipf": ("ns_per_bump", "ns per bump"),
    "blob_bump_batch_uniform": ("ns_per_bump", "ns per bumped key"),
    "blob_bump_batch_zipf": ("ns_per_bump", "ns per bumped key"),
    "blob_insert_at_cap": ("ns_per_insert", "ns per insert"),
    "fill": ("ns_per_insert", "ns per insert"),
    "cpu_probe": ("ns_per_step", "ns per step (all threads' steps / wall)"),
}


def parse_name(run_name):
    """'tick/highway/t2/1000000/manual_time' -> ('tick', 'highway/t2', 1000000)."""
    parts = [p for p in run_name.split("/") if ":" not in p and p not in ("manual_time", "real_time")]
    return parts[0], "/".join(parts[1:-1]), int(parts[-1])


def threads_of(impl):
    """Thread count of an impl name ('highway/t2' -> 2, 'port' -> 1)."""
    last = impl.rsplit("/", 1)[-1]
    return int(last[1:]) if last.startswith("t") and last[1:].isdigit() else 1


class Result:
    """One benchmark's repetitions: median counters, and their spread."""

    def __init__(self, op, impl, n):
        self.op, self.impl, self.n = op, impl, n
        self.runs = []        # per-repetition rows
        self.aggregates = {}  # aggregate_name -> row (when Google Benchmark wrote them)

    @property
    def counter(self):
        return OPERATIONS.get(self.op, ("ns_per_counter", ""))[0]

    def value(self, name=None):
        """Median over the repetitions of counter `name` (default: the per-item cost)."""
        name = name or self.counter
        if "median" in self.aggregates and name in self.aggregates["median"]:
            return self.aggregates["median"][name]
        values = [r[name] for r in self.runs if name in r]
        return statistics.median(values) if values else None

    def cv(self, name=None):
        """Coefficient of variation of counter `name` over the repetitions, or None."""
        name = name or self.counter
        if "cv" in self.aggregates and name in self.aggregates["cv"]:
            return self.aggregates["cv"][name]
        values = [r[name] for r in self.runs if name in r]
        if len(values) < 2 or statistics.mean(values) == 0:
            return None
        return statistics.stdev(values) / statistics.mean(values)

    def repetitions(self):
        return len(self.runs) or int(self.aggregates.get("median", {}).get("repetitions", 1))


class Results:
    def __init__(self, path):
        with open(path) as f:
            doc = json.load(f)
        self.context = doc.get("context", {})
        self.errors = []
        found = {}
        for b in doc["benchmarks"]:
            op, impl, n = parse_name(b["run_name"])
            r = found.setdefault((op, impl, n), Result(op, impl, n))
            if b.get("error_occurred"):
                self.errors.append((b["name"], b.get("error_message", "")))
            elif b.get("run_type") == "aggregate":
                r.aggregates[b["aggregate_name"]] = b
            else:
                r.runs.append(b)
        self.by_key = found

    def get(self, op, impl, n):
        return self.by_key.get((op, impl, n))

    def value(self, op, impl, n, counter=None):
        r = self.get(op, impl, n)
        return r.value(counter) if r else None

    def ops(self):
        present = {op for (op, _, _) in self.by_key}
        return [op for op in OPERATIONS if op in present] + sorted(present - set(OPERATIONS))

    def sizes(self, op=None):
        return sorted({n for (o, _, n) in self.by_key if op is None or o == op})

    def impls(self, op):
        """Impls of one operation: the port (and port+mutex) first, then in run order."""
        seen = []
        for (o, impl, _) in self.by_key:
            if o == op and impl not in seen:
                seen.append(impl)
        return sorted(seen, key=lambda i: (not i.startswith("port"), seen.index(i)))

    def floor(self, n, threads, impl=None):
        """The floor's ns per counter at size n on `threads` threads (median):
        the floor of the bytes `impl`'s tick moves, as its tick rows record
        (floor_bytes 41: floor_shared_hl, without the half-life column; 49:
        floor)."""
        if impl is not None and self.floor_bytes(impl, n) == 41:
            return self.value("floor_shared_hl", f"t{threads}", n)
        return self.value("floor", f"t{threads}", n)

    def floor_bytes(self, impl, n):
        """The bytes of the floor `impl`'s tick at size n is set beside: its
        floor_bytes counter (49, the five-column floor, in runs older than
        that counter)."""
        r = self.get("tick", impl, n)
        recorded = r.value("floor_bytes") if r else None
        return recorded if recorded is not None else 49


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.2f} us"
    if ns >= 10:
        return f"{ns:,.1f} ns"
    return f"{ns:,.2f} ns"


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.2f}x"


def fmt_count(n):
    """8192 -> '8,192'; 10000000 -> '10M'."""
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n:,}"
