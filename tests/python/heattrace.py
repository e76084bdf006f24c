"""A heat trace interpreter (docs/TRACE_FORMAT.md) over the Python Registry
API: what `heatkit replay` prints, computed through heatkit.Registry."""
import re

import heatkit
from heatutil import format_number

HEADERS = ("registry", "cap", "inflight", "policy")
OPERATIONS = ("bump", "touch", "decay", "tick", "commit", "rollback", "remove", "get", "len")
MAX_TIME = 2**63 - 1
DECIMAL = re.compile(r"[0-9]+\Z")
HEX = re.compile(r"[0-9a-fA-F]+\Z")


class Malformed(Exception):
    """A line the format does not allow."""


def parse_time(text):
    if not DECIMAL.match(text) or int(text) > MAX_TIME:
        raise Malformed(text)
    return int(text)


def parse_key(text, blob):
    if blob:
        if len(text) != 64 or not HEX.match(text):
            raise Malformed(text)
        return bytes.fromhex(text)
    if text[:2] in ("0x", "0X"):
        value = int(text[2:], 16) if HEX.match(text[2:]) else None
    else:
        value = int(text) if DECIMAL.match(text) else None
    if value is None or value >= 2**64:
        raise Malformed(text)
    return value


def format_key(key):
    return bytes(key).hex() if isinstance(key, (bytes, bytearray)) else str(int(key))


def parse_policy(fields):
    values = {}
    for field in fields:
        name, eq, value = field.partition("=")
        if not eq or name in values or name not in ("enabled", "ratio", "half_life_ns"):
            raise Malformed(field)
        if name == "enabled":
            if value not in ("true", "false"):
                raise Malformed(field)
            values[name] = value == "true"
        else:
            try:
                values[name] = float(value) if name == "ratio" else int(value)
            except ValueError as e:
                raise Malformed(field) from e
    try:
        return heatkit.Policy(**values)
    except ValueError as e:
        raise Malformed(field) from e


class Interpreter:
    def __init__(self, backend):
        self.backend = backend
        self.header = {"registry": "u64", "cap": 8192, "inflight": None, "policy": heatkit.Policy()}
        self.seen = set()
        self.registry = None
        self.last_tick = None
        self.answers = []

    def header_line(self, word, args):
        if self.registry is not None or word in self.seen:
            raise Malformed(word)
        self.seen.add(word)
        if word == "policy":
            self.header["policy"] = parse_policy(args)
            return
        if len(args) != 1:
            raise Malformed(word)
        choices = {"registry": ("u64", "blob"), "inflight": ("on", "off")}
        if word == "cap":
            if not DECIMAL.match(args[0]):
                raise Malformed(args[0])
            self.header["cap"] = int(args[0])
        elif args[0] not in choices[word]:
            raise Malformed(args[0])
        else:
            self.header[word] = args[0] if word == "registry" else args[0] == "on"

    def open_registry(self):
        h = self.header
        self.blob = h["registry"] == "blob"
        self.policy = h["policy"]
        self.registry = heatkit.Registry(
            key="bytes32" if self.blob else "u64", cap=h["cap"], backend=self.backend,
            track_in_flight=h["inflight"], half_life_ns=self.policy.half_life_ns)

    def operation(self, word, args):
        if self.registry is None:
            self.open_registry()
        counts = {"bump": 2, "touch": 2, "decay": 2, "tick": 1, "rollback": 1, "remove": 1,
                  "get": 1, "len": 0}
        if word != "commit" and len(args) != counts[word]:
            raise Malformed(word)
        keys, time = [], None
        if word in ("bump", "touch", "decay"):
            keys, time = [parse_key(args[0], self.blob)], parse_time(args[1])
        elif word == "tick":
            time = parse_time(args[0])
        elif word != "len":
            keys = [parse_key(a, self.blob) for a in args]
        self.run(word, keys, time)

    def run(self, word, keys, time):
        r = self.registry
        if word in ("bump", "touch", "decay"):
            getattr(r, word)(keys[0], time)
        elif word == "tick":
            self.last_tick = r.tick(self.policy, time)
            candidates = sorted(self.last_tick, key=lambda c: c[0])
            self.answers.append(f"tick {time} {len(candidates)}")
            for key, decision, rate in candidates:
                if decision == heatkit.Decision.EMIT:
                    self.answers.append(f"emit {format_key(key)} {format_number(rate)}")
                else:
                    assert decision == heatkit.Decision.WITHDRAW and rate == 0.0
                    self.answers.append(f"withdraw {format_key(key)}")
        elif word == "commit":
            if self.last_tick is not None:
                r.commit(self.last_tick, only=keys if keys else None)
        elif word in ("rollback", "remove"):
            getattr(r, word)(keys[0])
        elif word == "get":
            state = r.get(keys[0])
            if state is None:
                self.answers.append(f"get {format_key(keys[0])} absent")
            else:
                rate, last_update, last, _ = state
                shown = "none" if last is None else format_number(last)
                self.answers.append(f"get {format_key(keys[0])} {format_number(rate)} {shown} {last_update}")
        else:
            self.answers.append(f"len {len(r)}")


def run_text(text, backend):
    """(answers, line number of the first malformed line or None)."""
    interpreter = Interpreter(backend)
    if text.startswith("\ufeff"):
        text = text[1:]
    for number, line in enumerate(text.split("\n"), 1):
        fields = [f for f in re.split(r"[ \t\r]+", line.split("#", 1)[0]) if f]
        if not fields:
            continue
        word, args = fields[0], fields[1:]
        try:
            if word in HEADERS:
                interpreter.header_line(word, args)
            elif word in OPERATIONS:
                interpreter.operation(word, args)
            else:
                raise Malformed(word)
        except Malformed:
            return interpreter.answers, number
    return interpreter.answers, None


def run_file(path, backend):
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        return run_text(f.read(), backend)
