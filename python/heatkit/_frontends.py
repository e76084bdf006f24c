"""simulate() and replay(): the CLI's commands as functions."""

import json
import os
import re

from . import _heatkit

# The options of `heatkit simulate`, with underscores for dashes.
_TEXT_OPTIONS = (
    "keys", "zipf", "reads_per_second", "tick_interval_s", "duration_s", "half_life_s", "ratio",
    "cap", "commit_failure_rate", "seed", "threads", "max_memory",
)


class TraceError(ValueError):
    """A malformed trace line: replay stopped before it.

    str(error) is "line L: WHAT"; `line` is L; `lines` holds the answers the
    lines before it printed (what `heatkit replay` printed before failing).
    """

    def __init__(self, message, line, lines):
        super().__init__(message)
        self.line = line
        self.lines = lines


def _option_text(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"simulate: {name} must be a number (or text as the CLI takes it), "
                        f"got {type(value).__name__}")
    return repr(value) if isinstance(value, float) else str(value)


def _python_names(message):
    # The CLI's messages name its --flags; say the keyword arguments instead.
    return re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), message)


def simulate(**options):
    """Runs a synthetic read workload; returns its summary as a dict.

    The options are `heatkit simulate`'s, with underscores: keys, zipf,
    reads_per_second, tick_interval_s, duration_s, half_life_s, ratio, cap,
    commit_failure_rate, seed, backend, threads, max_memory (bytes, or text
    with a K/M/G/T suffix) and host_reads (bool); the defaults are the CLI's.
    The dict is what `heatkit simulate --json` prints. Raises TypeError for
    an unknown option, ValueError naming the option for a bad value or a run
    that would not fit in memory, RuntimeError for a backend that cannot run
    here. The GIL is released while it runs.
    """
    host_reads = options.pop("host_reads", False)
    if not isinstance(host_reads, bool):
        raise TypeError(f"simulate: host_reads must be a bool, got {type(host_reads).__name__}")
    texts = []
    for name, value in options.items():
        if name == "backend":
            if not isinstance(value, str):
                raise TypeError(f"simulate: backend must be a str, got {type(value).__name__}")
            texts.append((name, value))
        elif name in _TEXT_OPTIONS:
            texts.append((name, _option_text(name, value)))
        else:
            known = ", ".join(sorted(_TEXT_OPTIONS + ("backend", "host_reads")))
            raise TypeError(f"simulate() got an unexpected keyword argument '{name}' (options: {known})")
    try:
        summary = _heatkit._simulate_json(texts, host_reads)
    except ValueError as error:
        raise ValueError(_python_names(str(error))) from None
    return json.loads(summary)


def replay(path, backend="highway"):
    """Replays a heat trace; returns the answer lines `heatkit replay` prints.

    path: a trace file (docs/TRACE_FORMAT.md). backend: the registry's
    backend. Raises TraceError (a ValueError) at the first malformed line,
    with the answers before it in `.lines`; OSError when the file cannot be
    read; ValueError / RuntimeError for an unknown / unavailable backend. The
    GIL is released while it runs.
    """
    lines, error, line = _heatkit._replay(os.fspath(path), backend)
    if error is not None:
        raise TraceError(error, line, lines)
    return lines
