#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-vm-memory-access (fuzz/corpus/access/).

The encoding mirrors fuzz_access.c: one opcode byte (op % 20), then the
operation's arguments. Run from the component directory:
    python3 fuzz/gen_corpus.py
"""
import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "access")

ADD_ANON, ADD_MEMFD, ADD_FD, REMOVE = 0, 2, 4, 5
READ, WRITE, FILL, COPY = 6, 7, 8, 9
ACCESSOR, ATOMIC, TRANSLATE, IOV, RANGE = 10, 12, 13, 14, 15
MARK, GET_CLEAR, LOGGING, NULLS = 16, 17, 18, 19


def low(slot):            # region base: slot * page
    return bytes([slot & 31])


def coarse(slot):         # region base: slot * 16 pages
    return bytes([0x40 | (slot & 63)])


def top(slot):            # region base: 2^64 - (slot + 1) * page
    return bytes([0x80 | (slot & 31)])


def start_of(idx, delta=0):   # access address: region idx base + delta
    return bytes([(idx << 2) & 0x7c, delta & 0xff])


def end_of(idx, delta=0):     # access address: region idx end + delta
    return bytes([0x80 | ((idx << 2) & 0x7c), delta & 0xff])


def raw_gpa(v):
    return bytes([3, 0]) + struct.pack("<Q", v & (2**64 - 1))


def ln_small(n):
    return bytes([1, n & 0xff])


def ln_mid(n):
    return bytes([4]) + struct.pack("<H", n)


def ln_wrap(n):
    return bytes([6, n & 0xff])


def ln_raw(v):
    return bytes([7]) + struct.pack("<Q", v & (2**64 - 1))


def add_anon(base, pages):
    return bytes([ADD_ANON]) + base + bytes([pages - 1])


def add_memfd(base, pages, flags=1):
    return bytes([ADD_MEMFD]) + base + bytes([pages - 1, flags])


def add_fd(base, pages, src, off_pages):
    return bytes([ADD_FD]) + base + bytes([pages - 1, src, off_pages])


def two_adjacent():
    return add_anon(low(2), 2) + add_memfd(low(4), 2)


def copy(dst, src, n):
    """Independent addresses: source, mode 0, destination, length."""
    return bytes([COPY]) + src + b"\x00" + dst + n


def copy_near(src, delta, n_adjust):
    """Destination = source + delta, length = |delta| + n_adjust (-2..2)."""
    return bytes([COPY]) + src + b"\x01" + struct.pack("<h", delta) + bytes([n_adjust & 0xff])


def log_on():
    return bytes([LOGGING, 1])


def get_clear(gpa, npages, align=1):
    if npages < 0x40:
        return bytes([GET_CLEAR]) + gpa + bytes([align, npages])
    return bytes([GET_CLEAR]) + gpa + bytes([align, 0x40]) + struct.pack("<H", npages)


def seeds():
    s = {}
    s["empty-map-read"] = bytes([READ]) + raw_gpa(0) + ln_small(8)
    s["adjacent-write-read"] = (two_adjacent() + bytes([WRITE]) + end_of(0, -5)
                                + ln_small(10) + b"\x33" + bytes([READ])
                                + end_of(0, -8) + ln_small(16))
    s["adjacent-dirty"] = (two_adjacent() + log_on() + bytes([WRITE]) + end_of(0, -5)
                           + ln_small(10) + b"\x01" + get_clear(start_of(0), 4))
    s["fill-across"] = two_adjacent() + bytes([FILL]) + end_of(0, -100) + ln_small(200) + b"\xee"
    s["copy-overlap-fwd"] = (two_adjacent() + bytes([WRITE]) + start_of(0, 0) + ln_mid(9000)
                             + b"\x07" + copy(end_of(0, -100), end_of(0, -60), ln_small(200)))
    s["copy-overlap-back"] = (two_adjacent() + bytes([WRITE]) + start_of(0, 0) + ln_mid(9000)
                              + b"\x09" + copy(end_of(0, -60), end_of(0, -100), ln_small(200)))
    s["copy-near"] = (two_adjacent() + bytes([WRITE]) + start_of(0, 0) + ln_mid(12000)
                      + b"\x0b" + b"".join(copy_near(end_of(0, -d), dl, a)
                                             for d in (1, 50) for dl in (-60, -1, 1, 60)
                                             for a in (-1, 0, 1)))
    s["top-region-wrap"] = (add_memfd(top(0), 1) + bytes([READ]) + end_of(0, -4) + ln_small(8)
                            + bytes([WRITE]) + end_of(0, -8) + ln_small(8) + b"\x11"
                            + bytes([TRANSLATE]) + start_of(0) + ln_wrap(1))
    s["top-two"] = add_anon(top(1), 1) + add_memfd(top(0), 1) + bytes([READ]) + start_of(0) + ln_mid(8192)
    s["overlap-attempts"] = (add_anon(low(4), 4) + add_anon(low(5), 1) + add_memfd(low(2), 3)
                             + add_anon(low(7), 2) + add_anon(low(8), 1))
    s["misaligned-add"] = bytes([ADD_ANON]) + low(3) + b"\xf3" + bytes([ADD_ANON]) + low(3) + b"\xf9"
    s["bad-flags"] = bytes([ADD_MEMFD]) + low(1) + b"\x00\x07"
    s["alias-fd"] = (add_memfd(low(0), 4) + add_fd(low(8), 2, 0, 1) + bytes([WRITE])
                     + start_of(1, 3) + ln_small(40) + b"\x42" + bytes([READ])
                     + start_of(0, 0) + ln_mid(16384))
    s["alias-copy"] = (add_memfd(low(0), 4) + add_fd(low(4), 4, 0, 0) + bytes([WRITE])
                       + start_of(0) + ln_mid(12000) + b"\x05"
                       + copy(start_of(1, 10), start_of(0, 0), ln_mid(6000)))
    # 128 + 64 dirty pages, adjacent: bits cross words in both bitmaps.
    s["big-regions"] = (bytes([ADD_MEMFD]) + low(0) + b"\x9f\x01" + bytes([ADD_ANON]) + coarse(8)
                        + b"\x8f" + log_on() + bytes([MARK]) + start_of(0, 0) + ln_raw(600 * 4096)
                        + get_clear(start_of(0, 0), 190) + bytes([MARK]) + start_of(0, 0)
                        + ln_raw(190 * 4096) + get_clear(raw_gpa(61 * 4096), 100))
    s["fd-too-short"] = add_memfd(low(0), 1) + add_fd(low(8), 4, 0, 0)
    s["remove-readd"] = (two_adjacent() + bytes([REMOVE, 1, 0]) + bytes([READ]) + start_of(0)
                         + ln_small(4) + add_memfd(low(2), 2) + bytes([REMOVE, 0]) + raw_gpa(12345))
    s["accessors"] = two_adjacent() + b"".join(
        bytes([ACCESSOR, sel]) + end_of(0, -3) + (struct.pack("<Q", 0x0102030405060708)
                                                   if sel & 8 else b"")
        for sel in range(16))
    s["atomics"] = two_adjacent() + log_on() + b"".join(
        bytes([ATOMIC, sel]) + end_of(0, d) + (b"\x44\x33\x22\x11" if sel & 2 else b"")
        for sel in range(4) for d in (-4, -2, -1, 0))
    s["translate-mark"] = (two_adjacent() + log_on() + bytes([TRANSLATE]) + start_of(1, 7)
                           + ln_small(12) + b"\x01\x99\x01" + get_clear(start_of(0), 4))
    s["translate-edges"] = two_adjacent() + b"".join(
        bytes([TRANSLATE]) + end_of(i, d) + ln_small(n) + b"\x00"
        for i in (0, 1) for d in (-1, 0, 1) for n in (0, 1, 2))
    s["iov"] = two_adjacent() + b"".join(
        bytes([IOV]) + end_of(0, -10) + ln_small(30) + bytes([mx]) for mx in range(4))
    s["range-lookup"] = two_adjacent() + b"".join(
        bytes([RANGE]) + end_of(i, d) + ln_mid(4097) + bytes([i]) for i in (0, 1) for d in (-1, 0))
    s["mark-get"] = (two_adjacent() + log_on() + bytes([MARK]) + start_of(0, 1) + ln_mid(12000)
                     + get_clear(start_of(0), 1) + get_clear(start_of(1), 2)
                     + get_clear(start_of(0), 100) + bytes([LOGGING, 0]) + bytes([MARK])
                     + start_of(0) + ln_small(5))
    s["get-misaligned"] = two_adjacent() + bytes([GET_CLEAR]) + start_of(0, 3) + b"\x00\x02"
    s["get-huge"] = two_adjacent() + bytes([GET_CLEAR]) + start_of(0) + b"\x01\x80" + b"\xff" * 8
    s["wrap-lengths"] = two_adjacent() + b"".join(
        bytes([op]) + start_of(0) + ln_raw(v) + b"\x00"
        for op in (READ, WRITE, FILL, MARK) for v in (2**64 - 1, 2**63, 2**64 - 4095))
    s["nulls"] = two_adjacent() + bytes([NULLS]) + start_of(0) + bytes([NULLS]) + raw_gpa(2**64 - 1)
    s["log-toggle"] = (two_adjacent() + log_on() + bytes([WRITE]) + start_of(1) + ln_small(3)
                       + b"\x00" + bytes([LOGGING, 0, LOGGING, 1]) + get_clear(start_of(0), 4))
    many = b""
    for i in range(32):
        many += (add_anon if i % 2 else add_memfd)(low(i), 1)
    s["many-adjacent"] = many + bytes([READ]) + start_of(0) + ln_mid(3 * 4096 - 1) + log_on() + \
        bytes([FILL]) + start_of(3, 5) + ln_mid(9000) + b"\x01" + get_clear(start_of(0), 40)
    rnd = random.Random(7)
    for k in range(6):
        s[f"random-{k}"] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40, 300)))
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
