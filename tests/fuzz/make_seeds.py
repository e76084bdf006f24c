#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets that are not plain text.

fuzz_registries (tests/fuzz/corpus_registries/): each seed is a short
program in the byte layout fuzz_registries.cc reads (a header choosing the
registries, then one operation per code byte), aimed at one region the
fuzzer would take long to reach from nothing: a full emit / withdraw /
prune cycle, an index flooded until it rehashes under a fresh secret,
eviction ties with time going backwards, instants and half-lives at their
extremes, a bump queue that flushes often, blob keys with in-flight
tracking, many shards.

fuzz_trace_parser (tests/fuzz/corpus/expanded_*): traces in the expanded
form fuzz_trace_parser.cc describes (a few bytes standing for a megabyte):
lines at and just past the line limit, tens of thousands of keys under an
unbounded or huge cap, long commit lists of u64 and blob keys. The plain
.trace seeds there are written by hand.

Run it again after changing either layout: python3 tests/fuzz/make_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus_registries")
TRACE_OUT = os.path.join(HERE, "corpus")

# Operation codes (the low 5 bits, Run::kOps in fuzz_registries.cc; the top
# 3 are flags).
BUMP, TOUCH, DECAY, BATCH, TIMED, TICK = 0, 5, 7, 9, 11, 13
COMMIT_ALL, COMMIT_SOME, COMMIT_MADE_UP = 17, 19, 21
ROLLBACK, REMOVE, GET, TIME, TRACK, QUEUE, FLOOD = 22, 24, 26, 27, 29, 30, 31
BUMP_AT_OTHER_INSTANT, BUMP_AS_BATCH, BUMP_CONCURRENT_DIRECT = 32, 64, 128
FLOOD_MAGIC = 0xF1

NOW = 0        # read_instant: the run's current instant
DEFAULT_HL = 0  # read_half_life: the header's default half-life
FRESH_FLOOD = 208  # read_key: the flood pool's next fresh key


def header(blob=False, track=None, seed="flood", shards=1, cap_byte=0, fast=0,
           queue_fast=False, queue_limit=0, concurrent_fast=False, policy=0,
           half_life=DEFAULT_HL, small_keys=8, start=0):
    track_bits = {None: 0, True: 1, False: 2}[track]
    seed_bits = {"random": 0, "flood": 1, "input": 3}[seed]
    b0 = int(blob) | track_bits << 1 | seed_bits << 3 | {1: 0, 2: 1, 4: 2, 8: 3}[shards] << 5
    b2 = fast | int(queue_fast) << 1 | queue_limit << 2 | int(concurrent_fast) << 4
    out = bytes([b0])
    if seed == "input":
        out += struct.pack("<Q", 0x0123456789ABCDEF)
    out += bytes([cap_byte, b2, policy, half_life, small_keys - 1, start])
    return out


def small(i):
    return bytes([i])


def step_seconds(s):  # read_step: +s seconds, s < 32
    return bytes([32 | s])


def step_back_ns(n):  # read_step: -n ns, n < 32
    return bytes([96 | n])


def at_step(step):  # read_instant: now + step
    return bytes([192 | 3]) + step


def hl(k):  # read_half_life: entry k of its table (0: zero, 1: 1 ns, 6: the largest)
    return 176 + (k - 176 % 12) % 12


def bump(key, hl=DEFAULT_HL, instant=bytes([NOW]), flags=0, bump_instant=None):
    out = bytes([BUMP | flags]) + key + bytes([hl]) + instant
    if bump_instant is not None:
        out += bump_instant
    return out


def tick(policy=0, instant=bytes([NOW])):
    return bytes([TICK, policy]) + instant


def time(step):
    return bytes([TIME]) + step


def batch(keys, hl=DEFAULT_HL, instant=bytes([NOW])):
    assert len(keys) <= 64
    return bytes([BATCH, len(keys)]) + b"".join(keys) + bytes([hl]) + instant


def write(name, data, folder=OUT):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# The expanded trace form (fuzz_trace_parser.cc).
EXPAND, REPEAT, MARK, INDEX, HEX_INDEX = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
CAP_16, CAP_AS_GIVEN, CAP_4096, CAP_1 = b"\x00", b"\x01", b"\x02", b"\x03"
LINE_LIMIT = 1 << 20


def repeat(segment, copies):
    """The segment, then `copies` more copies of it (copies < 65536)."""
    return MARK + segment + REPEAT + struct.pack("<H", copies)


def write_trace_seeds():
    # One line of exactly the limit (a comment: accepted), then one a byte
    # longer (refused on its own line).
    at_limit = b"#" + b"a" * 15 + repeat(b"a" * 16, 65535 - 1)
    write("expanded_line_at_limit", EXPAND + CAP_16 + b"len\n" + at_limit + b"\nlen\n", TRACE_OUT)
    over = b"bump 1 0" + b" " * 8 + repeat(b" " * 16, 65535)
    write("expanded_line_over_limit", EXPAND + CAP_16 + b"len\n" + over + b"\nlen\n", TRACE_OUT)
    # 16,000 distinct keys under an unbounded cap, a tick emitting all of
    # them, a commit naming 1,000, then a second tick withdrawing nothing yet.
    many = b"cap 0\npolicy half_life_ns=1000000000\n" + repeat(b"bump " + INDEX + b" 5\n", 15999)
    many += b"tick 5\ncommit " + repeat(INDEX + b" ", 999) + b"\ntick 6\nlen\n"
    write("expanded_many_keys", EXPAND + CAP_AS_GIVEN + many, TRACE_OUT)
    # Blob keys under the largest cap, with a long commit list.
    blobs = b"registry blob\ncap 18446744073709551615\n" + repeat(b"bump " + HEX_INDEX + b" 7\n", 1999)
    blobs += b"tick 9\ncommit " + repeat(HEX_INDEX + b" ", 1999) + b"\ntick 10\nlen\n"
    write("expanded_blob_keys", EXPAND + CAP_AS_GIVEN + blobs, TRACE_OUT)
    # Eviction at cap 1 over 4,000 keys.
    evict = repeat(b"bump " + INDEX + b" " + INDEX + b"\nget " + INDEX + b"\n", 3999) + b"len\n"
    write("expanded_evict_at_cap_1", EXPAND + CAP_1 + evict, TRACE_OUT)


def main():
    os.makedirs(OUT, exist_ok=True)

    # Emit, re-emit at twice the rate (an exact ratio tie), decay past 64
    # half-lives, withdraw, prune; in-flight tracking on, two shards, cap 4.
    prog = header(track=True, shards=2, cap_byte=4)
    prog += bump(small(0)) + bump(small(1)) + bump(small(1)) + tick() + bytes([COMMIT_ALL])
    prog += bump(small(0)) + tick() + bytes([COMMIT_SOME]) + struct.pack("<Q", 1)
    prog += bytes([ROLLBACK]) + small(0) + bytes([GET]) + small(0)
    prog += time(step_seconds(31)) + time(step_seconds(31)) + time(step_seconds(31))
    prog += tick() + bytes([COMMIT_ALL]) + bytes([GET]) + small(1)
    write("emit_withdraw_prune", prog)

    # Colliding keys: a run of fresh ones read one by one and in a batch,
    # look-ups, removes (backward shift through the run), then the flood
    # operation, past kLongProbe: the index rehashes under a fresh secret
    # in the middle of a batch and of the queue's application.
    for blob in (False, True):
        prog = header(blob=blob, seed="flood", cap_byte=0)
        prog += batch([bytes([FRESH_FLOOD])] * 64) + bump(bytes([FRESH_FLOOD]))
        prog += bytes([GET, 144, REMOVE, 150, REMOVE, 192]) + bump(bytes([193]))
        prog += bump(bytes([1])) + bump(bytes([2])) + bytes([TOUCH, 3, DEFAULT_HL, NOW])
        prog += bytes([FLOOD, FLOOD_MAGIC]) + bump(bytes([FRESH_FLOOD])) + bytes([REMOVE, 151])
        prog += batch([bytes([144 + i]) for i in range(48)])
        prog += tick() + bytes([COMMIT_ALL])
        write("flood_blob" if blob else "flood_u64", prog)

    # Eviction at cap 3 among equal instants and with time going backwards:
    # the tie-break by earliest bump decides.
    prog = header(cap_byte=3, shards=4, small_keys=6)
    for i in range(6):
        prog += bump(small(i))
    prog += tick() + time(step_back_ns(5))
    for i in (2, 0, 4, 1, 5, 3):
        prog += bump(small(i), instant=at_step(step_back_ns(i)))
    prog += bytes([TOUCH]) + small(3) + bytes([DEFAULT_HL, NOW])
    prog += bytes([DECAY]) + small(2) + bytes([DEFAULT_HL, NOW]) + at_step(step_back_ns(9))
    prog += batch([small(i % 6) for i in range(20)]) + tick()
    write("evict_ties_backwards", prog)

    # Instants at the ends of int64 and half-lives 0, 1 ns and huge; commits
    # of made-up emissions (NaN, infinities, negative, subnormal).
    prog = header(start=2 | 3 << 2, half_life=hl(1))  # start near the largest instant; 1 ns
    prog += bump(small(0), hl=hl(0)) + bump(small(1), hl=hl(6)) + bump(small(2))
    prog += bump(small(3), instant=bytes([192 | 1]))  # near the smallest instant
    prog += tick() + bytes([COMMIT_ALL]) + time(bytes([192]) + struct.pack("<Q", 2**63 + 5))
    prog += bytes([COMMIT_MADE_UP, 5]) + small(0) + bytes([18]) + small(1) + bytes([3 * 7]) + \
        small(2) + bytes([1]) + small(3) + bytes([3 * 9]) + small(0) + bytes([2])
    prog += tick() + bytes([COMMIT_ALL]) + tick(policy=192 | 4)  # an invalid policy
    write("extremes", prog)

    # A bump queue of 1 on the fast backend: entries, bumps at other
    # instants, touches and decays interleaved; the limit changes midway.
    prog = header(queue_fast=True, queue_limit=1, small_keys=4)
    for i in range(12):
        prog += bump(small(i % 4), instant=at_step(step_seconds(i % 3)),
                     flags=BUMP_AT_OTHER_INSTANT, bump_instant=at_step(step_back_ns(i)))
        prog += bytes([TOUCH]) + small((i + 1) % 4) + bytes([DEFAULT_HL, NOW])
    prog += bytes([QUEUE, 5]) + bytes([BATCH | 0, 3]) + small(0) + small(1) + small(2) + \
        bytes([DEFAULT_HL, NOW]) + tick() + bytes([QUEUE, 0]) + bump(small(3)) + tick()
    write("bump_queue", prog)

    # Blob keys (tracking on by default), a timed batch going back and
    # forth, tracking switched off and on.
    prog = header(blob=True, cap_byte=5, small_keys=12, concurrent_fast=True, shards=8)
    prog += bytes([TIMED, 10]) + b"".join(small(i) for i in range(10)) + bytes([DEFAULT_HL]) + \
        bytes([200, 130, 10, 180, 250, 5, 128, 160, 220, 0, 0])
    prog += tick() + bytes([TRACK, 0]) + tick() + bytes([TRACK, 1]) + tick()
    prog += bytes([COMMIT_SOME]) + struct.pack("<Q", 0xAAAA) + bytes([ROLLBACK]) + small(3)
    prog += bump(bytes([224, 3]) + struct.pack("<Q", 0xFEEDFACE)) + tick()
    write("blob_tracking_shards", prog)

    write_trace_seeds()


if __name__ == "__main__":
    main()
