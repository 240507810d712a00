/* SPDX-License-Identifier: MIT */
/*
 * The "info pic" text, in the layout QEMU prints for an sPAPR XIVE machine,
 * so that people and scripts used to QEMU can read it.
 */
#include "xive-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const ring_names[4] = { "USER", "OS", "POOL", "PHYS" };

static void print_tctx(FILE *f, const Xive *x, uint32_t vcpu)
{
    const uint8_t *regs = x->tctx[vcpu].regs;

    fprintf(f, "CPU[%04x]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2\n", vcpu);
    for (unsigned i = 0; i < 4; i++) {
        const uint8_t *r = regs + i * XIVE_TM_RING_SIZE;
        fprintf(f, "CPU[%04x]: %4s    %02x   %02x  %02x    %02x   %02x  %02x  %02x   %02x  %08x\n",
                vcpu, ring_names[i], r[XIVE_TM_NSR], r[XIVE_TM_CPPR], r[XIVE_TM_IPB],
                r[XIVE_TM_LSMFB], r[XIVE_TM_ACK_CNT], r[XIVE_TM_INC], r[XIVE_TM_AGE],
                r[XIVE_TM_PIPR], xive_ld_be32(r + XIVE_TM_WORD2));
    }
}

/* The last entries of an event queue: five written ones, then "^" and the
 * slot the next event goes to. Stops (without "]") if memory is missing. */
static void print_queue(FILE *f, Xive *x, const XiveEnd *end)
{
    const unsigned width = 6;
    uint64_t base = xive_end_qaddr(end);
    uint32_t qentries = xive_end_qentries(end);
    uint32_t qindex = (xive_end_qindex(end) - (width - 1)) & (qentries - 1);

    fputs(" [ ", f);
    for (unsigned i = 0; i < width; i++) {
        uint64_t qaddr = base + ((uint64_t)qindex << 2);
        uint32_t qdata = UINT32_MAX;
        if (!x->mem || vmem_read_be32(x->mem, qaddr, &qdata) < 0) {
            xive_log(x, XIVE_LOG_GUEST_ERROR, "failed to read EQ @0x%" PRIx64, qaddr);
            return;
        }
        fprintf(f, "%s%08x ", i == width - 1 ? "^" : "", qdata);
        qindex = (qindex + 1) & (qentries - 1);
    }
    fputc(']', f);
}

static void print_source(FILE *f, Xive *x, uint32_t lisn)
{
    uint64_t eas = x->eas[lisn];
    uint8_t st = x->status[lisn];

    fprintf(f, "  %08x %s %c%c%c %s %08x ", lisn, (st & XIVE_STATUS_LSI) ? "LSI" : "MSI",
            (st & XIVE_ESB_VAL_P) ? 'P' : '-', (st & XIVE_ESB_VAL_Q) ? 'Q' : '-',
            (st & XIVE_STATUS_ASSERTED) ? 'A' : ' ', xive_eas_is_masked(eas) ? "M" : " ",
            xive_eas_end_data(eas));
    uint32_t end_idx = xive_eas_end_index(eas);
    if (!xive_eas_is_masked(eas) && end_idx < x->nr_ends &&
        xive_end_is_valid(&x->ends[end_idx])) {
        const XiveEnd *end = &x->ends[end_idx];
        fprintf(f, "%3d/%d % 6d/%5d @%" PRIx64 " ^%u",
                (int)(xive_end_nvt_index(end) - XIVE_SPAPR_NVT_BASE), xive_end_priority(end),
                (int)xive_end_qindex(end), (int)xive_end_qentries(end), xive_end_qaddr(end),
                xive_end_qgen(end));
        print_queue(f, x, end);
    }
    fputc('\n', f);
}

int xive_info_pic(Xive *x, char **ret_text)
{
    if (!x || !ret_text) {
        return -EINVAL;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        return -ENOMEM;
    }
    for (uint32_t v = 0; v < x->nr_vcpus; v++) {
        print_tctx(f, x, v);
    }
    fputs("  LISN         PQ    EISN     CPU/PRIO EQ\n", f);
    for (uint32_t i = 0; i < x->nr_irqs; i++) {
        if (xive_eas_is_valid(x->eas[i])) {
            print_source(f, x, i);
        }
    }
    bool failed = ferror(f);
    if (fclose(f) != 0 || failed || !text) {
        free(text);
        return -ENOMEM;
    }
    *ret_text = text;
    return 0;
}
