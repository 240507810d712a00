/* SPDX-License-Identifier: MIT */
/*
 * Random sequences of ESB, END ESB and TIMA MMIO, table configuration,
 * source inputs, resets and save/restore on a small machine. Checks: no
 * crash or sanitizer report, and guest memory is only ever written inside
 * the event queues that were configured (every other byte stays zero).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xive/xive.h"

#define NR_VCPUS 2u
#define NR_IRQS 16u
#define RAM0 UINT64_C(0x0)
#define RAM0_SIZE UINT64_C(0x10000)
#define RAM1 UINT64_C(0x100000)
#define RAM1_SIZE UINT64_C(0x4000)
#define MAX_RANGES 256u

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static uint64_t take(Input *in, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = (v << 8) | (in->left ? (in->left--, *in->p++) : 0);
    }
    return v;
}

typedef struct Ranges {
    uint64_t start[MAX_RANGES];
    uint64_t end[MAX_RANGES];
    unsigned n;
    bool overflow;
} Ranges;

/* Remembers where END @idx may write from now on. */
static void note_queue(Xive *x, Ranges *r, uint32_t idx)
{
    XiveEnd end;
    if (xive_end_get(x, idx, &end) < 0 || !xive_end_is_enqueue(&end)) {
        return;
    }
    if (r->n == MAX_RANGES) {
        r->overflow = true; /* too many to track: skip the final check */
        return;
    }
    r->start[r->n] = xive_end_qaddr(&end);
    r->end[r->n] = xive_end_qaddr(&end) + 4 * (uint64_t)xive_end_qentries(&end);
    r->n++;
}

static bool in_ranges(const Ranges *r, uint64_t gpa)
{
    for (unsigned i = 0; i < r->n; i++) {
        if (gpa >= r->start[i] && gpa < r->end[i]) {
            return true;
        }
    }
    return false;
}

static void check_memory(VMemMap *mem, const Ranges *r, uint64_t base, uint64_t size)
{
    static const uint8_t zero[4096];
    uint8_t *host;
    if (r->overflow || vmem_translate(mem, base, size, (void **)&host) < 0) {
        return;
    }
    /* Page by page with memcmp (fast, uninstrumented); bytes only where
     * something was written. */
    for (uint64_t page = 0; page < size; page += sizeof(zero)) {
        if (memcmp(host + page, zero, sizeof(zero)) == 0) {
            continue;
        }
        for (uint64_t off = page; off < page + sizeof(zero); off++) {
            if (host[off] && !in_ranges(r, base + off)) {
                __builtin_trap(); /* a write outside every configured queue */
            }
        }
    }
}

static void quiet(void *opaque, XiveLogLevel level, const char *msg)
{
    (void)opaque;
    (void)level;
    (void)msg;
}

static unsigned line_changes;
static void on_line(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    (void)opaque;
    if (vcpu >= NR_VCPUS || (unsigned)line > XIVE_LINE_HV) {
        __builtin_trap();
    }
    line_changes += level;
}

static const unsigned sizes[8] = { 1, 2, 4, 8, 8, 4, 3, 16 };
static const unsigned shifts[4] = { 12, 13, 16, 17 };
static const unsigned qshifts[8] = { 0, 12, 12, 16, 21, 24, 13, 12 };

static void restore_roundtrip(Xive *x)
{
    void *buf = NULL;
    size_t len = 0;
    char *a = NULL, *b = NULL;
    if (xive_state_save(x, &buf, &len) < 0) {
        return;
    }
    if (xive_info_pic(x, &a) == 0 && xive_state_load(x, buf, len) == 0 &&
        xive_info_pic(x, &b) == 0 && strcmp(a, b) != 0) {
        __builtin_trap(); /* a restore that changes the state */
    }
    free(a);
    free(b);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    VMemMap *mem;
    Xive *x;
    Ranges ranges = { .n = 0 };

    if (vmem_map_new(&mem) < 0) {
        return 0;
    }
    vmem_map_add_anon(mem, RAM0, RAM0_SIZE);
    vmem_map_add_anon(mem, RAM1, RAM1_SIZE);
    unsigned cfgb = (unsigned)take(&in, 1);
    XiveConfig cfg = { .nr_vcpus = NR_VCPUS, .nr_irqs = NR_IRQS,
                       .esb_shift = shifts[cfgb & 3],
                       .flags = (cfgb & 4) ? XIVE_SRC_STORE_EOI : 0, .mem = mem };
    if (xive_new(&cfg, &x) < 0) {
        vmem_map_free(mem);
        return 0;
    }
    xive_set_log_handler(x, quiet, NULL);
    xive_set_line_handler(x, on_line, NULL);
    uint64_t esb_size = xive_esb_region_size(x);
    unsigned slow_ops = 0; /* save/restore and text dumps: a few per input */

    for (unsigned ops = 0; in.left && ops < 512; ops++) {
        unsigned op = (unsigned)take(&in, 1);
        uint64_t v;
        switch (op % 12) {
        case 0: { /* ESB MMIO, sometimes beyond the region */
            uint64_t off = take(&in, 4) % (esb_size + 0x2000);
            unsigned sz = sizes[(op >> 4) & 7];
            v = take(&in, 8);
            xive_esb_mmio(x, off, sz, &v, op & 0x80);
            break;
        }
        case 1:
        case 2: { /* TIMA MMIO, biased to the interesting offsets */
            uint32_t vcpu = (uint32_t)take(&in, 1) % (NR_VCPUS + 1);
            XiveTmPage page = (XiveTmPage)(take(&in, 1) % 5);
            uint32_t off = (uint32_t)take(&in, 2);
            if (op % 12 == 1) {
                off = (off & 0x83f) | ((off >> 12) << 12);
            } else {
                off |= (uint32_t)take(&in, 1) << 16 & 0x10000;
            }
            unsigned sz = sizes[(op >> 4) & 7];
            v = take(&in, 8);
            xive_tima_mmio(x, vcpu, page, off, sz, &v, op & 0x80);
            break;
        }
        case 3: { /* raw EAS */
            uint32_t lisn = (uint32_t)take(&in, 1) % (NR_IRQS + 1);
            uint64_t eas = take(&in, 8);
            if (op & 0x80) { /* keep the END index small to reach real ENDs */
                eas &= ~((uint64_t)0xfffff0 << XIVE_EAS_END_INDEX_SHIFT);
            }
            xive_eas_set(x, lisn, eas);
            break;
        }
        case 4: { /* raw END; queue sizes kept small, address in or near RAM */
            uint32_t idx = (uint32_t)take(&in, 1) % (NR_VCPUS * 8 + 1);
            XiveEnd end;
            for (unsigned w = 0; w < 8; w++) {
                end.w[w] = (uint32_t)take(&in, 4);
            }
            if (op & 0x80) {
                xive_end_set_qsize(&end, xive_end_qsize(&end) & 3);
                xive_end_set_qaddr(&end, xive_end_qaddr(&end) & 0x1ffffc);
                end.w[4] &= 0x8000ffffu; /* escalation to a small END index */
                end.w[6] &= ~0x7f000u;   /* NVT near 0x400 */
            }
            if (xive_end_set(x, idx, &end) == 0) {
                note_queue(x, &ranges, idx);
            }
            break;
        }
        case 5: { /* H_INT_SET_QUEUE_CONFIG-like */
            uint32_t vcpu = (uint32_t)take(&in, 1) % (NR_VCPUS + 1);
            uint8_t prio = (uint8_t)(take(&in, 1) % 9);
            uint64_t qpage = (take(&in, 3) << 12) & 0x1fffff;
            unsigned qs = qshifts[(op >> 4) & 7];
            if (xive_queue_configure(x, vcpu, prio, qpage, qs, op >> 7) == 0) {
                note_queue(x, &ranges, xive_end_index(vcpu, prio));
            }
            break;
        }
        case 6: { /* device side of the sources */
            uint32_t lisn = (uint32_t)take(&in, 1) % (NR_IRQS + 1);
            switch ((op >> 4) & 7) {
            case 0: xive_source_set_irq(x, lisn, op & 0x80); break;
            case 1: xive_source_trigger(x, lisn); break;
            case 2: xive_source_eoi(x, lisn); break;
            case 3: xive_source_set_pq(x, lisn, (uint8_t)(op >> 7) * 2 + 0, NULL); break;
            case 4: xive_irq_claim(x, lisn, op & 0x80); break;
            case 5: xive_irq_free(x, lisn); break;
            case 6: xive_source_set_lsi(x, lisn, op & 0x80); break;
            default: xive_source_set_pq(x, lisn, 3, NULL); break;
            }
            break;
        }
        case 7: { /* END ESB pages */
            uint64_t off = take(&in, 3) % (xive_end_esb_region_size(x) + 0x1000);
            off = (off & ~UINT64_C(0xffff)) | (take(&in, 2) & 0xff8);
            v = 0;
            xive_end_esb_mmio(x, off, sizes[(op >> 4) & 7], &v, op & 0x80);
            break;
        }
        case 8: /* resets */
            switch ((op >> 4) & 3) {
            case 0: xive_reset(x); break;
            case 1: xive_reset_routing(x); break;
            default: xive_vcpu_reset(x, (uint32_t)take(&in, 1) % (NR_VCPUS + 1)); break;
            }
            break;
        case 9:
            if (slow_ops++ < 4) {
                restore_roundtrip(x);
            }
            break;
        case 10: { /* H_INT_ESB-like */
            uint32_t lisn = (uint32_t)take(&in, 1) % (NR_IRQS + 1);
            uint64_t off = take(&in, 3) & 0x1ffff;
            v = take(&in, 8);
            xive_esb_mgmt_access(x, lisn, off, sizes[(op >> 4) & 7], &v, op & 0x80);
            break;
        }
        default: { /* read back everything a VMM may look at */
            char *text = NULL;
            if (slow_ops++ < 4 && xive_info_pic(x, &text) == 0) {
                free(text);
            }
            uint8_t regs[XIVE_TM_REGS_SIZE];
            XiveQueueState qs;
            XiveSourceInfo si;
            uint8_t ipb;
            xive_tctx_regs(x, (uint32_t)take(&in, 1) % NR_VCPUS, regs);
            xive_queue_state(x, (uint32_t)take(&in, 1) % NR_VCPUS, (uint8_t)(op >> 4) & 7, &qs);
            xive_source_info(x, (uint32_t)take(&in, 1) % NR_IRQS, &si);
            xive_nvt_ipb(x, (uint32_t)take(&in, 1) % NR_VCPUS, &ipb);
            break;
        }
        }
    }
    check_memory(mem, &ranges, RAM0, RAM0_SIZE);
    check_memory(mem, &ranges, RAM1, RAM1_SIZE);
    xive_free(x);
    vmem_map_free(mem);
    return 0;
}
