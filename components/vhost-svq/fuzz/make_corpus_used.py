#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-vhost-svq-used (see fuzz_used.c for the
encoding): honest traffic in every shape, each kind of hostile used entry,
parking, hand-backs. Run from this directory: ./make_corpus_used.py"""
import os
import struct

ADD, FORWARD, BE_POP, BE_PUSH, RAW_USED, RAW_INDEX, COMPLETE, COLLECT, HAND_BACK, RESUME = range(10)
PACKED_G, PACKED_S, EVENT_IDX, INDIRECT, BIG_SHADOW = 1, 2, 4, 8, 16


def add(nbufs=2, nin=1, indirect=False, seed=7):
    extra = 0
    if nbufs > 4:
        extra, nbufs = 1, nbufs - 2
    b = (nbufs - 1) | (nin << 2) | (0x10 if indirect else 0) | (extra << 5)
    return bytes([ADD, b, seed])


def push(i=0, length=0xffff):
    return bytes([BE_PUSH, i]) + struct.pack('<H', length)


def raw_split(slot, id_, length):
    return bytes([RAW_USED, slot]) + struct.pack('<II', id_, length)


def raw_packed(slot, id_, length, flags):
    return bytes([RAW_USED, slot]) + struct.pack('<HIH', id_, length, flags)


def idx(v, v2=None):
    return bytes([RAW_INDEX]) + struct.pack('<H', v) + (struct.pack('<H', v2) if v2 is not None else b'')


def hand_back(base):
    return bytes([HAND_BACK]) + struct.pack('<I', base)


def honest(rounds=3):
    s = b''
    for r in range(rounds):
        s += add(2, 1, seed=r) + add(3, 2, seed=r + 1) + add(1, 0) + add(2, 2)
        s += bytes([FORWARD, BE_POP, BE_POP, BE_POP, BE_POP])
        s += push(3, 100) + push(0) + push(1, 1) + push(0, 0)
        s += bytes([COMPLETE, COLLECT])
    return s


def two_in_flight():
    return add(2, 1) + add(2, 1) + bytes([FORWARD, BE_POP, BE_POP])


seeds = {}
for shape in range(32):
    if shape & BIG_SHADOW and shape & (EVENT_IDX | INDIRECT):
        continue
    seeds['honest-%02d' % shape] = bytes([shape]) + honest()
seeds['split-bad-id'] = bytes([0]) + two_in_flight() + raw_split(0, 999, 0) + idx(1) + bytes([COMPLETE, COLLECT])
seeds['split-stale-id'] = bytes([0]) + two_in_flight() + raw_split(0, 5, 0) + idx(1) + bytes([COMPLETE, COLLECT])
seeds['split-duplicate'] = (bytes([0]) + two_in_flight() + raw_split(0, 0, 0) + raw_split(1, 0, 0)
                            + idx(2) + bytes([COMPLETE, COLLECT]))
seeds['split-index-jump'] = bytes([0]) + two_in_flight() + idx(200) + bytes([COMPLETE, COLLECT])
seeds['split-long-length'] = (bytes([0]) + two_in_flight() + raw_split(0, 0, 0xffffffff) + idx(1)
                              + bytes([COMPLETE, COLLECT]))
seeds['split-index-back'] = bytes([4]) + honest(1) + idx(0) + add() + bytes([FORWARD, COMPLETE, COLLECT])
for name, id_, length in (('bad-id', 999, 0), ('stale-id', 6, 0), ('long-length', 0, 0x7fffffff)):
    seeds['packed-' + name] = (bytes([PACKED_S]) + two_in_flight() + raw_packed(0, id_, length, 0x8080)
                               + bytes([COMPLETE, COLLECT]))
seeds['packed-wrong-wrap'] = (bytes([PACKED_S | PACKED_G]) + two_in_flight() + raw_packed(0, 0, 0, 0x0080)
                              + raw_packed(2, 1, 0, 0x8000) + bytes([COMPLETE, COLLECT]))
seeds['packed-event'] = bytes([PACKED_S | EVENT_IDX]) + two_in_flight() + idx(0x8001, 2) + bytes([COMPLETE])
seeds['parking'] = (bytes([INDIRECT]) + add(3, 2, True) * 7
                    + bytes([FORWARD, BE_POP, BE_POP]) + push(0, 9) + bytes([COMPLETE, BE_POP])
                    + push(0) + push(0) + bytes([COMPLETE, BE_POP, BE_POP]) + push(1) + push(0)
                    + bytes([COMPLETE, COLLECT]))
seeds['parking-packed'] = bytes([INDIRECT | PACKED_G | PACKED_S]) + seeds['parking'][1:]
seeds['hand-back'] = (bytes([0]) + add() * 5 + bytes([FORWARD, BE_POP, BE_POP]) + push(0)
                      + bytes([COMPLETE]) + hand_back(2) + push(0) + bytes([COMPLETE]) + hand_back(2)
                      + add() + bytes([FORWARD, BE_POP, BE_POP]) + push(0) + push(0)
                      + bytes([COMPLETE, COLLECT]))
seeds['hand-back-packed'] = (bytes([PACKED_S | PACKED_G | INDIRECT]) + add(3, 2, True) * 6
                             + bytes([FORWARD, BE_POP]) + push(0) + bytes([COMPLETE])
                             + hand_back(0x80008003) + bytes([FORWARD, COLLECT, RESUME]))
seeds['hand-back-wrong'] = bytes([0]) + two_in_flight() + hand_back(9) + bytes([FORWARD, COLLECT])
seeds['resume'] = bytes([PACKED_S]) + two_in_flight() + push(1) + bytes([COMPLETE, RESUME, COLLECT])

os.makedirs('corpus/used', exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join('corpus/used', name), 'wb') as f:
        f.write(data)
print(len(seeds), 'seeds')
