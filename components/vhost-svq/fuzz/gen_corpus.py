#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-vhost-svq-replies (fuzz/corpus/replies/).

Each seed is the option byte followed by chunks {u8 ctl, u16 len, bytes}
(see fuzz_replies.c); the chunks are the replies a back-end gives to the
fixed sequence of operations of the target, well-formed or bent.
"""
import os
import struct
import sys

REPLY = 0x5
F_PROTO = 1 << 30
V1 = 1 << 32
EVENT_IDX = 1 << 29
INDIRECT = 1 << 28
PACKED = 1 << 34
P_MQ, P_REPLY_ACK, P_CONFIG, P_INFLIGHT, P_RESET, P_STATUS = 0, 3, 9, 12, 13, 16
ALL_PROTO = sum(1 << b for b in (P_MQ, P_REPLY_ACK, P_CONFIG, P_INFLIGHT, P_RESET, P_STATUS))

GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_CONFIG, SET_CONFIG, GET_INFLIGHT_FD, SET_INFLIGHT_FD = 24, 25, 31, 32
RESET_DEVICE, SET_STATUS, GET_STATUS = 34, 39, 40


def msg(req, payload, flags=REPLY, size=None):
    return struct.pack("<III", req, flags, len(payload) if size is None else size) + payload


def u64(req, v, **kw):
    return msg(req, struct.pack("<Q", v), **kw)


def chunk(data, nfds=0, memfd=False, second=False):
    ctl = nfds | (8 if memfd else 0) | (0x80 if second else 0)
    return struct.pack("<BH", ctl, len(data)) + data


def ack(req):
    return chunk(u64(req, 0))


def handshake(features, proto, queues=1):
    out = [chunk(u64(GET_FEATURES, features))]
    if features & F_PROTO:
        out.append(chunk(u64(GET_PROTOCOL_FEATURES, proto)))
        if proto & (1 << P_MQ):
            out.append(chunk(u64(GET_QUEUE_NUM, queues)))
    acked = bool(features & F_PROTO) and bool(proto & (1 << P_REPLY_ACK))
    if acked:
        out.append(ack(SET_OWNER))
    return out, acked


def ring_start(acked, inflight, enable=True, err=False):
    out = []
    if inflight:
        out.append(chunk(msg(GET_INFLIGHT_FD, struct.pack("<QQHHI", 0x10000, 0, 1, 256, 0)),
                         nfds=1, memfd=True))
        if acked:
            out.append(ack(SET_INFLIGHT_FD))
    if acked:
        reqs = [SET_VRING_CALL, SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR, SET_VRING_KICK]
        if err:
            reqs.append(SET_VRING_ERR)
        if enable:
            reqs.append(SET_VRING_ENABLE)
        out += [ack(r) for r in reqs]
    return out


def full_session(features=V1 | F_PROTO | EVENT_IDX | INDIRECT, proto=ALL_PROTO, second=False):
    hs, acked = handshake(features, proto)
    out = hs
    if acked:
        out += [ack(SET_FEATURES), ack(SET_MEM_TABLE)]
    out += ring_start(acked, bool(proto & (1 << P_INFLIGHT)))
    cfg = struct.pack("<III", 0, 24, 0) + struct.pack("<Q", 32768) + bytes(16)
    out.append(chunk(msg(GET_CONFIG, cfg)))
    if acked:
        out.append(ack(SET_CONFIG))
    out.append(chunk(u64(GET_STATUS, 0xf)))
    if acked:
        out += [ack(SET_STATUS), ack(SET_VRING_ENABLE)]
    out.append(chunk(msg(GET_VRING_BASE, struct.pack("<II", 0, 0))))
    if second:
        out = [bytes([out[0][0] | 0x80]) + out[0][1:]] + out[1:]
    return out


def write(dirpath, name, opt, chunks):
    with open(os.path.join(dirpath, name), "wb") as f:
        f.write(bytes([opt]) + b"".join(chunks))


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus",
                                                          "replies")
    os.makedirs(d, exist_ok=True)
    hs, _ = handshake(V1, 0)
    write(d, "minimal", 0, hs)
    write(d, "full-session", 0, full_session())
    write(d, "full-session-twice", 0, full_session() + full_session(second=True))
    write(d, "no-reply-ack", 0x40, full_session(proto=ALL_PROTO & ~(1 << P_REPLY_ACK)))
    write(d, "no-inflight", 0, full_session(proto=ALL_PROTO & ~(1 << P_INFLIGHT)))
    write(d, "packed", 1, full_session(features=V1 | F_PROTO | PACKED))
    write(d, "reset", 8, full_session() + [ack(RESET_DEVICE), ack(SET_FEATURES)])
    write(d, "two-queues", 0x10, handshake(V1 | F_PROTO, ALL_PROTO, queues=2)[0])
    write(d, "too-few-queues", 0x10, handshake(V1 | F_PROTO, ALL_PROTO, queues=1)[0])
    write(d, "second-lacks-feature", 0,
          full_session() + [chunk(u64(GET_FEATURES, V1), second=True)])
    # Bent replies.
    write(d, "no-reply-bit", 0, [chunk(u64(GET_FEATURES, V1, flags=1))])
    write(d, "wrong-request", 0, [chunk(u64(GET_PROTOCOL_FEATURES, V1))])
    write(d, "short", 0, [chunk(msg(GET_FEATURES, b"\0\0\0\0"))])
    write(d, "huge-size", 0, [chunk(msg(GET_FEATURES, b"\0" * 8, size=0xffffffff))])
    write(d, "extra-fd", 0, [chunk(u64(GET_FEATURES, V1), nfds=1)])
    write(d, "nine-fds", 0, [chunk(u64(GET_FEATURES, V1), nfds=6)])
    write(d, "split-header", 0, [chunk(u64(GET_FEATURES, V1)[:5]), chunk(u64(GET_FEATURES, V1)[5:])])
    hs, acked = handshake(V1 | F_PROTO, ALL_PROTO)
    write(d, "nack-mem-table", 0, hs + [ack(SET_FEATURES), chunk(u64(SET_MEM_TABLE, 1))])
    write(d, "inflight-no-fd", 0, hs + [ack(SET_FEATURES), ack(SET_MEM_TABLE),
                                        chunk(msg(GET_INFLIGHT_FD,
                                                  struct.pack("<QQHHI", 0x10000, 0, 1, 256, 0)))])
    write(d, "inflight-huge", 0, hs + [ack(SET_FEATURES), ack(SET_MEM_TABLE),
                                       chunk(msg(GET_INFLIGHT_FD,
                                                 struct.pack("<QQHHI", 1 << 40, 0, 1, 256, 0)),
                                             nfds=1, memfd=True)])
    write(d, "inflight-empty", 0, hs + [ack(SET_FEATURES), ack(SET_MEM_TABLE),
                                        chunk(msg(GET_INFLIGHT_FD, bytes(24)))])
    bad_base = full_session()[:-1] + [chunk(msg(GET_VRING_BASE, struct.pack("<II", 0, 0x9000)))]
    write(d, "bad-vring-base", 0, bad_base)
    bad_cfg = full_session()
    write(d, "config-empty", 0, [c if c[3:7] != struct.pack("<I", GET_CONFIG) else
                                 chunk(msg(GET_CONFIG, b"")) for c in bad_cfg])
    write(d, "unsolicited", 0, hs + [chunk(u64(GET_FEATURES, V1))])


if __name__ == "__main__":
    main()
