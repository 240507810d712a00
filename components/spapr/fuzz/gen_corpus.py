#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz-spapr-hcall (fuzz/corpus/hcall/).

The encoding mirrors fuzz_hcall.c: a configuration byte, then operations.
Run from this directory: ./gen_corpus.py
"""
import os
import random
import struct

OPS = ["get_term", "put_term", "set_mode", "ci_load", "ci_store", "get_src_info",
       "set_src_cfg", "get_src_cfg", "get_q_info", "set_q_cfg", "get_q_cfg", "set_rl",
       "get_rl", "esb", "sync", "reset", "rtas", "cas"]
RAM = 64 << 10


def small(v):
    assert 0 <= v < 32
    return bytes([v << 3])


def raw(v):
    return bytes([4]) + struct.pack(">Q", v & (2**64 - 1))


def hcall(name, *args, vcpu=0):
    out = bytes([0, OPS.index(name), vcpu, len(args)])
    for a in args:
        out += small(a) if 0 <= a < 32 else raw(a)
    return out


def write(off, data):
    return bytes([2]) + struct.pack(">H", off) + bytes([len(data)]) + data


def rtas_block(addr, token_index, nargs, nret, args=(), vcpu=0):
    out = bytes([3]) + raw(addr) + bytes([token_index, nargs, nret])
    for a in args:
        out += bytes([0x80]) + struct.pack(">I", a)
    return out + bytes([vcpu])


def by_name(idx, nargs, nret, args, rets):
    return bytes([4, idx, nargs, nret]) + raw(args) + raw(rets)


def cas(addr, intc, mmu, buf=None, size=None):
    shape = 1 | (4 << 2) | 0x20  # one PVR, five vectors, canonical vector 5
    if buf is not None:
        shape |= 0x40
    if size is not None:
        shape |= 0x80
    out = bytes([5]) + raw(addr) + bytes([shape, 1, 1, 3, 0, intc, mmu])
    if buf is not None:
        out += raw(buf)
    if size is not None:
        out += raw(size)
    return out


def mmio(window, offset, size_idx, value, write_, vcpu=0):
    sel = window | (0x80 if write_ else 0)
    return bytes([6, sel]) + offset.to_bytes(3, "big") + bytes([size_idx]) + raw(value) + bytes([vcpu])


def misc(sel, *extra):
    return bytes([7, sel]) + b"".join(extra)


def linux_boot(ncpu=2):
    out = b""
    for cpu in range(ncpu):
        q = 0x4000 + cpu * 0x1000
        out += hcall("get_src_info", 0, cpu)
        out += hcall("get_q_info", 0, cpu, 6)
        out += hcall("set_q_cfg", 1, cpu, 6, q, 12)
        out += hcall("set_src_cfg", 2, cpu, cpu, 6, 16 + cpu)
        out += mmio(0, (cpu << 17) + 0x10000 + 0xc00, 3, 0, False)
        out += mmio(1, 0x20011, 0, 0xff, True, vcpu=cpu)
    out += mmio(0, 1 << 17, 3, 0, True)       # IPI to vCPU 1
    out += mmio(1, 0x20810, 1, 0, False, vcpu=1)  # ACK
    out += mmio(0, (1 << 17) + 0x10000, 3, 0, False)  # EOI
    return out


def main():
    d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "hcall")
    os.makedirs(d, exist_ok=True)
    seeds = {
        "boot-xive": bytes([0x81]) + linux_boot(2),
        "boot-after-cas": bytes([0x03]) + cas(0x100, 0x40, 0x40) + linux_boot(4),
        "cas-xics": bytes([0x01]) + cas(0x100, 0x00, 0x00),
        "cas-both": bytes([0x01]) + cas(0x100, 0x80, 0x80),
        "cas-buffer": bytes([0x01]) + cas(0x100, 0x40, 0, buf=0x2000, size=0x8000),
        "cas-buffer-small": bytes([0x01]) + cas(0x100, 0x40, 0, buf=RAM - 16, size=0x8000),
        "cas-edge": bytes([0x01]) + cas(RAM - 20, 0x40, 0),
        "console": bytes([0x20]) + hcall("put_term", 0x71000000, 5, 0x48656c6c6f000000)
        + misc(4, bytes([6])) + hcall("get_term", 0) + hcall("put_term", 0, 17, 1, 2),
        "set-mode": hcall("set_mode", 1, 4) + hcall("set_mode", 3, 3) + hcall("set_mode", 2, 4)
        + hcall("set_mode", 0, 4, 1) + hcall("set_mode", 0, 9),
        "logical-ci": bytes([0x40]) + hcall("ci_load", 8, RAM - 8) + hcall("ci_load", 8, RAM - 4)
        + hcall("ci_store", 4, 0x1000, 0xdeadbeef) + hcall("ci_load", 2, RAM)
        + misc(6 | 0x80) + hcall("ci_load", 1, 0x100000000) + hcall("ci_load", 3, 0),
        "rtas-time": rtas_block(0x1000, 1, 0, 8) + rtas_block(0x1000, 2, 7, 1, (2000, 1, 2, 3, 4, 5, 0))
        + rtas_block(0x1000, 1, 0, 8) + misc(5, raw(2**63 - 1)) + rtas_block(0x1000, 1, 0, 8),
        "rtas-edge": rtas_block(RAM - 44, 1, 0, 8) + rtas_block(RAM - 43, 1, 0, 8)
        + rtas_block(RAM - 12, 4, 0, 0) + rtas_block(RAM, 3, 2, 1),
        "rtas-cpus": bytes([0x03]) + rtas_block(0x800, 5, 1, 2, (1,)) + rtas_block(0x800, 6, 3, 1, (1, 0x4000, 7))
        + rtas_block(0x800, 7, 0, 0, vcpu=1) + rtas_block(0x800, 6, 3, 1, (9, 0, 0)),
        "rtas-power": rtas_block(0x800, 3, 2, 1, (0, 0)) + rtas_block(0x800, 4, 0, 1)
        + rtas_block(0x800, 0, 1, 1, (0x41,)) + rtas_block(0x800, 9, 0, 1),
        "rtas-huge": bytes([3]) + raw(0x100) + bytes([3, 0xf0]) + struct.pack(">I", 0xffffffff)
        + bytes([1, 0]),
        "rtas-by-name": by_name(1, 0, 8, 0x100, 0x200) + by_name(3, 2, 1, 0x100, RAM - 2)
        + by_name(8, 0, 1, 0, 0),
        "xive-errors": bytes([0x80]) + hcall("set_src_cfg", 0, 0, 9, 7, 0) + hcall("set_q_cfg", 0, 0, 6, 1, 13)
        + hcall("set_q_cfg", 0, 0, 6, RAM, 12) + hcall("esb", 0, 0, 0x10000) + hcall("get_q_cfg", 1, 0, 6)
        + hcall("reset", 0) + hcall("sync", 0, 0x1300) + hcall("get_src_cfg", 0, 1),
        "lsi-level": bytes([0x80]) + hcall("set_q_cfg", 1, 0, 6, 0x4000, 12)
        + hcall("set_src_cfg", 2, 0x1200, 0, 6, 5) + hcall("esb", 0, 0x1200, 0xc00)
        + misc(3 | 0x80, raw(0x1200)) + hcall("esb", 0, 0x1200, 0) + misc(3, raw(0x1200)),
        "reset-fdt": bytes([0x9f]) + misc(2) + misc(0) + misc(2) + misc(7, raw(0x3000))
        + misc(7, raw(RAM - 8)),
    }
    rnd = random.Random(6)
    for i in range(4):
        seeds["random-%d" % i] = bytes(rnd.getrandbits(8) for _ in range(300))
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), d))


if __name__ == "__main__":
    main()
