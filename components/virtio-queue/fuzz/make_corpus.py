#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the virtio-queue fuzz targets (see
fuzz_common.h for the input format). Run from this directory."""
import os
import struct

NEXT, WRITE, INDIRECT, AVAIL, USED = 1, 2, 4, 0x80, 0x8000
RING = 0x10000
TABLE_OFF = 0x200  # image offset of an indirect table (after the rings)

def op(code, a=0, b=0):
    return bytes([code, a, b])

DEV_OPS = op(0) + op(0) + op(2, 0, 64) + op(3) + op(4) + op(5) + op(0) + op(2, 0, 1) + op(3) + op(4) + op(8) + op(6) + op(10)
DRV_OPS = op(0, 2, 1) + op(0x40, 3, 2) + op(3) + op(2) + op(4) + op(0, 1, 0) + op(2) + op(5) + op(6, 1, 0x30) + op(2)

def header(size_byte, feat, mode, ops):
    return bytes([size_byte, feat, mode, len(ops) // 3]) + ops

def image(size=0x9000):
    return bytearray(size)

def split_desc(img, i, addr, ln, flags, nxt, base=0):
    struct.pack_into('<QIHH', img, base + 16 * i, addr, ln, flags, nxt)

def packed_desc(img, i, addr, ln, ident, flags, base=0):
    struct.pack_into('<QIHH', img, base + 16 * i, addr, ln, ident, flags)

def split_rings(n):
    avail = 16 * n
    used = (avail + 6 + 2 * n + 3) & ~3
    return avail, used

def split_seeds():
    seeds = {}
    n = 16
    avail, used = split_rings(n)
    img = image()
    split_desc(img, 0, 0x12000, 64, NEXT, 1)
    split_desc(img, 1, 0x13000, 128, WRITE, 0)
    split_desc(img, 2, RING + TABLE_OFF, 32, INDIRECT, 0)
    split_desc(img, 0, 0x14000, 16, NEXT, 1, TABLE_OFF)
    split_desc(img, 1, 0x1fff0, 0x20, WRITE, 0, TABLE_OFF)  # crosses into region 2
    struct.pack_into('<HHHH', img, avail, 0, 2, 0, 2)
    seeds['two-chains'] = header(4, 3, 0, DEV_OPS) + bytes(img[:0x240])
    loop = image(0x200)
    split_desc(loop, 0, 0x12000, 1, NEXT, 1)
    split_desc(loop, 1, 0x12000, 1, NEXT, 0)
    struct.pack_into('<HHH', loop, avail, 0, 1, 0)
    seeds['loop'] = header(4, 1, 0, op(0) + op(0)) + bytes(loop)
    bad = image(0x200)
    split_desc(bad, 0, 0x13000, 8, WRITE | NEXT, 1)
    split_desc(bad, 1, 0x12000, 8, 0, 0)
    struct.pack_into('<HHH', bad, avail, 0, 1, 0)
    seeds['read-after-write'] = header(4, 1, 0, op(0)) + bytes(bad)
    wrap = image(0x200)
    split_desc(wrap, 3, 0x12000, 8, 0, 0)
    struct.pack_into('<HH', wrap, avail, 0, 0xffff)
    seeds['avail-jump'] = header(4, 3, 0, op(10) + op(0)) + bytes(wrap)
    seeds['driver'] = header(3, 3, 1, DRV_OPS) + bytes(0x100)
    seeds['driver-tiny'] = header(0, 2, 1, DRV_OPS) + bytes(0x40)
    return seeds

def packed_seeds():
    seeds = {}
    n = 16  # size byte 15 -> 1 + 15 % 40
    img = image()
    packed_desc(img, 0, 0x12000, 64, 7, NEXT | AVAIL)
    packed_desc(img, 1, 0x13000, 128, 7, WRITE | AVAIL)
    packed_desc(img, 2, RING + TABLE_OFF, 48, 3, INDIRECT | AVAIL)
    packed_desc(img, 0, 0x14000, 16, 0, 0, TABLE_OFF)
    packed_desc(img, 1, 0x15000, 16, 0, WRITE, TABLE_OFF)
    packed_desc(img, 2, 0x1fff8, 16, 0, WRITE, TABLE_OFF)
    seeds['two-chains'] = header(15, 3, 0, DEV_OPS) + bytes(img[:0x240])
    long = image(0x100)
    for i in range(n):
        packed_desc(long, i, 0x12000, 1, i, NEXT | AVAIL)
    seeds['too-long'] = header(15, 1, 0, op(0)) + bytes(long)
    ev = image(0x120)
    packed_desc(ev, 0, 0x12000, 1, 0, WRITE | AVAIL)
    struct.pack_into('<HH', ev, 16 * n, 0x8001, 2)  # driver event: DESC at 1, wrap 1
    seeds['event'] = header(15, 3, 0, op(0) + op(2, 0, 1) + op(3) + op(4) + op(0) + op(5)) + bytes(ev)
    odd = image(0x80)
    for i in range(7):
        packed_desc(odd, i, 0x12000 + i, 8, i, AVAIL | (WRITE if i > 3 else 0))
    seeds['size7'] = header(6, 0, 0, DEV_OPS) + bytes(odd)
    seeds['driver'] = header(15, 3, 1, DRV_OPS) + bytes(0x100)
    seeds['driver-odd'] = header(4, 1, 1, DRV_OPS * 2) + bytes(0x80)
    return seeds

def restore_seeds():
    seeds = {}
    avail, used = split_rings(16)
    img = image(0x200)
    for i in range(4):
        split_desc(img, i, 0x12000, 8, WRITE, 0)
    struct.pack_into('<HH', img, avail, 0, 4)
    struct.pack_into('<HH', img, avail + 4, 0, 1)
    struct.pack_into('<HH', img, used, 0, 1)
    state = struct.pack('<HHBBBB', 1, 1, 0, 0, 0, 0)
    seeds['split'] = bytes([4, 1, 0, 4]) + state + DEV_OPS[:12] + bytes(img)
    state = struct.pack('<HHBBBB', 3, 1, 0, 0, 0x81, 0)
    seeds['split-from-ring'] = bytes([4, 3, 0, 4]) + state + DEV_OPS[:12] + bytes(img)
    base = struct.pack('<IBBBB', 2, 0, 0, 0, 0)
    seeds['split-vring-base'] = bytes([4, 3, 0x40, 4]) + base + DEV_OPS[:12] + bytes(img)
    pimg = image(0x120)
    for i in range(16):
        packed_desc(pimg, i, 0x12000, 8, i, AVAIL | WRITE)
    state = struct.pack('<HHBBBB', 5, 2, 1, 1, 0, 0)
    seeds['packed'] = bytes([15, 1, 0x80, 4]) + state + DEV_OPS[:12] + bytes(pimg)
    state = struct.pack('<HHBBBB', 2, 14, 0, 1, 0, 0)
    seeds['packed-wrapped'] = bytes([15, 3, 0x80, 4]) + state + DEV_OPS[:12] + bytes(pimg)
    base = struct.pack('<IBBBB', 5 | 1 << 15 | 2 << 16 | 1 << 31, 0, 0, 0, 0)
    seeds['packed-vring-base'] = bytes([15, 3, 0xc0, 4]) + base + DEV_OPS[:12] + bytes(pimg)
    return seeds

def fop(code, a=0, b=0, c=0):
    return bytes([code, a, b, c])

# fuzz_fastpath.c ops: 0 pop, 1 pop_batch, 2 add_used, 3 add_used_batch,
# 4 add_used_id, 5 publish, 6 should_notify, 7 enable, 8 disable, 9 has_avail,
# 10 unpop, 11 scribble, 12 offer head / flip flags, 13 write a descriptor.
FAST_OPS = (fop(0, 0, 0, 1) + fop(1, 5, 0xff, 0) + fop(2, 0, 9, 1) + fop(3, 3, 1, 0) + fop(5) +
            fop(6) + fop(12, 6) + fop(13, 6, 7, 0x0a) + fop(12, 7) + fop(1, 16, 0x0f, 1) +
            fop(3, 64, 0, 0) + fop(5) + fop(7) + fop(0, 0, 0, 2) + fop(10) + fop(0, 0, 0, 3) +
            fop(3, 2, 1, 0xe0) + fop(4, 1, 1, 5) + fop(8) + fop(9))

def fast_header(size_byte, feat, packed, ops):
    return bytes([size_byte, feat, 1 if packed else 0, len(ops) // 4]) + ops

def fastpath_seeds():
    seeds = {}
    n = 16
    avail, used = split_rings(n)
    img = image(0x180)
    for i in range(6):
        split_desc(img, i, 0x12000 + 0x100 * i, 64 * (i + 1), WRITE if i % 2 else 0, 0)
    struct.pack_into('<HH', img, avail, 0, 6)
    for i in range(6):
        struct.pack_into('<H', img, avail + 4 + 2 * i, i)
    seeds['split-simple'] = fast_header(4, 0, False, FAST_OPS) + bytes(img)
    seeds['split-simple-evt'] = fast_header(4, 3, False, FAST_OPS * 2) + bytes(img)
    bad = bytearray(img)
    struct.pack_into('<H', bad, avail + 4 + 2 * 3, 40)  # head out of range
    split_desc(bad, 4, 0x12000, 8, NEXT, 99)             # next out of range
    split_desc(bad, 5, RING + TABLE_OFF, 32, INDIRECT, 0)
    seeds['split-bad'] = fast_header(4, 0, False, FAST_OPS) + bytes(bad)
    seeds['split-indirect'] = fast_header(4, 1, False, FAST_OPS) + bytes(bad[:3 * 16]) + bytes(img[3 * 16:])
    tiny = image(0x40)
    split_desc(tiny, 0, 0x12000, 8, WRITE, 0)
    struct.pack_into('<HHH', tiny, 16, 0, 1, 0)
    seeds['split-size1'] = fast_header(0, 2, False, FAST_OPS * 3) + bytes(tiny)
    pimg = image(0x120)
    for i in range(n):
        packed_desc(pimg, i, 0x12000 + 0x100 * i, 32 * (i + 1), i, AVAIL | (WRITE if i % 3 else 0))
    seeds['packed-simple'] = fast_header(15, 0, True, FAST_OPS) + bytes(pimg)
    seeds['packed-simple-evt'] = fast_header(15, 3, True, FAST_OPS * 3) + bytes(pimg)
    pbad = bytearray(pimg)
    packed_desc(pbad, 2, 0x12000, 8, 2, AVAIL | USED)
    packed_desc(pbad, 4, 0x12000, 8, 4, AVAIL | NEXT)
    packed_desc(pbad, 6, RING + TABLE_OFF, 48, 6, AVAIL | INDIRECT)
    seeds['packed-bad'] = fast_header(15, 1, True, FAST_OPS) + bytes(pbad)
    seeds['packed-size5'] = fast_header(4, 0, True, FAST_OPS * 2) + bytes(pimg[:0x60])
    return seeds

for name, gen in (('split', split_seeds), ('packed', packed_seeds), ('restore', restore_seeds),
                  ('fastpath', fastpath_seeds)):
    d = os.path.join('corpus', name)
    os.makedirs(d, exist_ok=True)
    for seed, data in gen().items():
        with open(os.path.join(d, seed), 'wb') as f:
            f.write(data)
