/* SPDX-License-Identifier: MIT */
/* The H_INT_* family: every success and error path, with QEMU's order of
 * checks and exact return codes. */
#include <criterion/criterion.h>

#include "helpers.h"

#define ESB T_ESB_BASE
#define T_ESB_BASE XIVE_SPAPR_ESB_BASE
#define QPAGE UINT64_C(0x200000)

static uint64_t o[4];

static void setup(void)
{
    t_setup(2);
    t_cas_xive();
}

TestSuite(xive_hcalls, .init = setup, .fini = t_teardown_default);

static int64_t h(uint64_t op, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
    return t_hcall6(op, a, b, c, d, e, o);
}

Test(xive_hcalls, all_answer_h_function_before_cas)
{
    static const uint64_t ops[] = {
        SPAPR_H_INT_GET_SOURCE_INFO,     SPAPR_H_INT_SET_SOURCE_CONFIG,
        SPAPR_H_INT_GET_SOURCE_CONFIG,   SPAPR_H_INT_GET_QUEUE_INFO,
        SPAPR_H_INT_SET_QUEUE_CONFIG,    SPAPR_H_INT_GET_QUEUE_CONFIG,
        SPAPR_H_INT_SET_OS_REPORTING_LINE, SPAPR_H_INT_GET_OS_REPORTING_LINE,
        SPAPR_H_INT_ESB,                 SPAPR_H_INT_SYNC,
        SPAPR_H_INT_RESET,
    };
    spapr_machine_reset(T.m);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        uint64_t regs[SPAPR_HCALL_NREGS] = { ops[i], 0, 0, 0, 0x10000, 12, 0, 0, 0, 0 };
        cr_assert_eq(t_hcall(0, regs), SPAPR_H_FUNCTION, "hcall 0x%lx", (unsigned long)ops[i]);
        cr_assert_eq(regs[1], 0, "outputs untouched");
    }
    /* nothing was configured by the refused calls */
    XiveQueueState qs;
    cr_assert_eq(xive_queue_state(spapr_machine_xive(T.m), 0, 0, &qs), 0);
    cr_assert_not(qs.valid);
}

Test(xive_hcalls, os_reporting_line_is_not_implemented)
{
    cr_assert_eq(h(SPAPR_H_INT_SET_OS_REPORTING_LINE, 0, 0x1000, 0, 0, 0), SPAPR_H_FUNCTION);
    cr_assert_eq(h(SPAPR_H_INT_GET_OS_REPORTING_LINE, 0, 0, 0x1000, 0, 0), SPAPR_H_FUNCTION);
}

/* ------------------------------------------------------------------------ */

Test(xive_hcalls, get_source_info)
{
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 1, 0, 0, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, SPAPR_NR_IRQS, 0, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, UINT64_C(1) << 40, 0, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, SPAPR_IRQ_MSI, 0, 0, 0), SPAPR_H_P2,
                 "unclaimed");
    /* flags are checked before the LISN */
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 1, SPAPR_NR_IRQS, 0, 0, 0), SPAPR_H_PARAMETER);

    for (uint64_t lisn = 0; lisn < 2; lisn++) {
        cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, lisn, 0, 0, 0), SPAPR_H_SUCCESS);
        cr_assert_eq(o[0], 0, "MSI, two pages, no StoreEOI");
        cr_assert_eq(o[1], ESB + (lisn << 17) + 0x10000, "EOI (management) page");
        cr_assert_eq(o[2], ESB + (lisn << 17), "trigger page");
        cr_assert_eq(o[3], 16);
    }
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, SPAPR_IRQ_VIO, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0);
    cr_assert_eq(o[2], ESB + ((uint64_t)SPAPR_IRQ_VIO << 17));

    cr_assert(spapr_irq_claim(T.m, SPAPR_IRQ_PCI_LSI, true, NULL));
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, SPAPR_IRQ_PCI_LSI, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], SPAPR_XIVE_SRC_H_INT_ESB | SPAPR_XIVE_SRC_LSI);
    cr_assert_eq(o[0], 0xc);
    cr_assert_eq(o[1], UINT64_MAX);
    cr_assert_eq(o[2], UINT64_MAX);
    cr_assert_eq(o[3], 16);
}

Test(xive_hcalls, set_source_config_checks_in_qemu_order)
{
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0x4, 0, 0, 5, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0x4, SPAPR_NR_IRQS, 9, 7, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, SPAPR_NR_IRQS, 9, 7, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0x1500, 0, 5, 0), SPAPR_H_P2, "unclaimed");
    /* reserved priority (H_P4) is reported before a bad target (H_P3) */
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0, 99, 7, 0), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0, 0, 7, 0), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0, 0, 0x105, 0), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0, 2, 5, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, 0, 0, UINT64_C(1) << 32, 5, 0), SPAPR_H_P3);
    /* nothing changed */
    uint64_t eas;
    cr_assert_eq(xive_eas_get(spapr_machine_xive(T.m), 0, &eas), 0);
    cr_assert_eq(eas, XIVE_EAS_VALID | XIVE_EAS_MASKED);
}

Test(xive_hcalls, set_source_config_routes_and_get_reads_back)
{
    Xive *x = spapr_machine_xive(T.m);
    uint64_t eas;

    /* an unconfigured source reads back prio 0xff, QEMU's target 0 - 0x400 */
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0xfffffc00);
    cr_assert_eq(o[1], 0xff);
    cr_assert_eq(o[2], 0);

    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 1, 5, QPAGE, 16), SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, 1, 1, 5, 0x1234),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(xive_eas_get(x, 1, &eas), 0);
    cr_assert(xive_eas_is_valid(eas));
    cr_assert_not(xive_eas_is_masked(eas));
    cr_assert_eq(xive_eas_end_index(eas), 1 * 8 + 5);
    cr_assert_eq(xive_eas_end_data(eas), 0x1234);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 1);
    cr_assert_eq(o[1], 5);
    cr_assert_eq(o[2], 0x1234);

    /* without SET_EISN the EISN is kept; MASK masks (prio reads 0xff) */
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_MASK, 1, 1, 5, 0x999),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[1], 0xff);
    cr_assert_eq(o[2], 0x1234);
    cr_assert_eq(xive_eas_get(x, 1, &eas), 0);
    cr_assert(xive_eas_is_masked(eas));

    /* the EISN is 31 bits */
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, 1, 1, 5, 0xffffffff),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[2], 0x7fffffff);

    /* priority 0xff resets the EAS, whatever the target */
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, 1, 77, 0xff, 5),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(xive_eas_get(x, 1, &eas), 0);
    cr_assert_eq(eas, XIVE_EAS_VALID | XIVE_EAS_MASKED);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[1], 0xff);
    cr_assert_eq(o[2], 0);
}

Test(xive_hcalls, get_source_config_errors)
{
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 1, 0, 0, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, SPAPR_NR_IRQS, 0, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 0x1f00, 0, 0, 0), SPAPR_H_P2);
}

/* ------------------------------------------------------------------------ */

Test(xive_hcalls, get_queue_info)
{
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 1, 0, 0, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 0, 0, 7, 0, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 0, 5, 7, 0, 0), SPAPR_H_P3, "prio before target");
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 0, 2, 6, 0, 0), SPAPR_H_P2);

    uint64_t end_base = spapr_machine_end_esb_base(T.m);
    cr_assert_eq(end_base, ESB + ((uint64_t)SPAPR_NR_IRQS << 17));
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 0, 1, 6, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], end_base + ((uint64_t)(1 * 8 + 6) << 17));
    cr_assert_eq(o[1], 0, "no queue yet");
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 1, 6, QPAGE, 21), SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_INFO, 0, 1, 6, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[1], 21);
}

Test(xive_hcalls, set_queue_config_errors)
{
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 2, 0, 6, QPAGE, 16), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 3, 0, 6, QPAGE, 16), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 7, QPAGE, 16), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 9, 7, 1, 13), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 9, 6, 1, 13), SPAPR_H_P2);
    /* size is checked before the page */
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, 1, 13), SPAPR_H_P5);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, QPAGE, 11), SPAPR_H_P5);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, QPAGE, 25), SPAPR_H_P5);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, QPAGE, UINT64_C(1) << 32 | 16),
                 SPAPR_H_P5);
    /* misaligned, or not wholly in RAM */
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, QPAGE + 0x800, 12), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, QPAGE + 0x1000, 16), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, T_RAM_SIZE, 12), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, T_RAM_SIZE, 24), SPAPR_H_P4);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 0, 6, UINT64_MAX & ~UINT64_C(0xfff), 12),
                 SPAPR_H_P4);
    XiveQueueState qs;
    cr_assert_eq(xive_queue_state(spapr_machine_xive(T.m), 0, 6, &qs), 0);
    cr_assert_not(qs.valid, "no failed call configured the END");
}

Test(xive_hcalls, set_queue_config_sizes_and_edges)
{
    static const unsigned sizes[] = { 12, 16, 21, 24 };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        /* the last naturally aligned queue that ends exactly at the end of RAM */
        uint64_t qpage = T_RAM_SIZE - (UINT64_C(1) << sizes[i]);
        cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 1, (uint64_t)i, qpage, sizes[i]),
                     SPAPR_H_SUCCESS, "qsize %u", sizes[i]);
        cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 1, (uint64_t)i, 0, 0), SPAPR_H_SUCCESS);
        cr_assert_eq(o[0], 0);
        cr_assert_eq(o[1], qpage);
        cr_assert_eq(o[2], sizes[i]);
        cr_assert_eq(o[3], 0);
    }
}

Test(xive_hcalls, get_queue_config_debug_reports_generation_and_index)
{
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 2, 0, 6, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 0, 0xff, 0, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 3, 6, 0, 0), SPAPR_H_P2);

    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, 0, 6, QPAGE, 12),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, SPAPR_XIVE_END_DEBUG, 0, 6, 0, 0),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], UINT64_C(0x4000000000000001), "generation 1 + always notify");
    cr_assert_eq(o[1], QPAGE);
    cr_assert_eq(o[2], 12);
    cr_assert_eq(o[3], 0);

    /* route IPI 0 there and push 1024 + 3 events: the index wraps once */
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, 0, 0, 6, 0x42),
                 SPAPR_H_SUCCESS);
    Xive *x = spapr_machine_xive(T.m);
    cr_assert_eq(xive_source_set_pq(x, 0, XIVE_ESB_RESET, NULL), 0);
    for (int i = 0; i < 1024 + 3; i++) {
        cr_assert_eq(xive_source_trigger(x, 0), 1);
        cr_assert_eq(xive_source_eoi(x, 0), 0);
    }
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, SPAPR_XIVE_END_DEBUG, 0, 6, 0, 0),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], UINT64_C(1), "generation toggled to 0");
    cr_assert_eq(o[3], 3);
    /* without DEBUG: no generation, r7 = 0 */
    o[3] = 77;
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 0, 6, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 1);
    cr_assert_eq(o[3], 0);
    /* entries: the first three of the second pass carry generation 0 */
    cr_assert_eq(t_rd32(QPAGE), 0x42);
    cr_assert_eq(t_rd32(QPAGE + 3 * 4), 0x80000042, "an entry of the first pass");
}

Test(xive_hcalls, set_queue_config_size_0_resets)
{
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, 1, 3, QPAGE, 16),
                 SPAPR_H_SUCCESS);
    /* size 0 ignores the page and the flags */
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, 1, 3, 0x123, 0),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 1, 3, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0);
    cr_assert_eq(o[1], 0);
    cr_assert_eq(o[2], 0);
    XiveQueueState qs;
    cr_assert_eq(xive_queue_state(spapr_machine_xive(T.m), 1, 3, &qs), 0);
    cr_assert_not(qs.valid);
    cr_assert_not(qs.enqueue);
}

/* ------------------------------------------------------------------------ */

Test(xive_hcalls, esb)
{
    cr_assert_eq(h(SPAPR_H_INT_ESB, 2, 0, XIVE_ESB_GET, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, SPAPR_NR_IRQS, XIVE_ESB_GET, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 0x1234, XIVE_ESB_GET, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 0, 0x10000, 0, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 0, 0xfff9, 0, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 0, UINT64_MAX, 0, 0), SPAPR_H_P3);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 0, 0xfff8, 0, 0), SPAPR_H_SUCCESS, "last 8 bytes");

    /* a source comes out of reset off (PQ 01) */
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 1, XIVE_ESB_GET, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], XIVE_ESB_OFF);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 1, XIVE_ESB_SET_PQ_00, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], XIVE_ESB_OFF, "set-PQ loads return the old value");
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 1, XIVE_ESB_GET, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], XIVE_ESB_RESET);
    /* a store answers -1 in r4 */
    cr_assert_eq(h(SPAPR_H_INT_ESB, SPAPR_XIVE_ESB_STORE, 1, XIVE_ESB_SET_PQ_10, 0, 0),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], UINT64_MAX);
    uint8_t pq;
    cr_assert_eq(xive_source_get_pq(spapr_machine_xive(T.m), 1, &pq), 0);
    cr_assert_eq(pq, XIVE_ESB_PENDING);
}

Test(xive_hcalls, esb_eoi_retriggers_an_asserted_lsi)
{
    const uint32_t lsi = SPAPR_IRQ_PCI_LSI;
    cr_assert(spapr_irq_claim(T.m, lsi, true, NULL));
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, 0, 6, QPAGE, 12),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, lsi, 0, 6, 0x77),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, lsi, XIVE_ESB_SET_PQ_00, 0, 0), SPAPR_H_SUCCESS);
    cr_assert(spapr_irq_set_level(T.m, lsi, true, NULL));
    cr_assert_eq(t_rd32(QPAGE), 0x80000077);
    /* EOI while still asserted: a second event */
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, lsi, XIVE_ESB_LOAD_EOI, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(QPAGE + 4), 0x80000077);
    cr_assert(spapr_irq_set_level(T.m, lsi, false, NULL));
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, lsi, XIVE_ESB_LOAD_EOI, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(QPAGE + 8), 0, "no third event once deasserted");
}

Test(xive_hcalls, sync)
{
    cr_assert_eq(h(SPAPR_H_INT_SYNC, 1, 0, 0, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SYNC, 0, SPAPR_NR_IRQS, 0, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_SYNC, 0, 0x1300, 0, 0, 0), SPAPR_H_P2);
    cr_assert_eq(h(SPAPR_H_INT_SYNC, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
}

Test(xive_hcalls, reset)
{
    cr_assert_eq(h(SPAPR_H_INT_RESET, 1, 0, 0, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(h(SPAPR_H_INT_SET_QUEUE_CONFIG, 0, 1, 6, QPAGE, 16), SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, 1, 1, 6, 9),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 1, XIVE_ESB_SET_PQ_00, 0, 0), SPAPR_H_SUCCESS);

    cr_assert_eq(h(SPAPR_H_INT_RESET, 0, 0, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_CONFIG, 0, 1, 0, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[1], 0xff);
    cr_assert_eq(o[2], 0);
    cr_assert_eq(h(SPAPR_H_INT_GET_QUEUE_CONFIG, 0, 1, 6, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[2], 0);
    cr_assert_eq(h(SPAPR_H_INT_ESB, 0, 1, XIVE_ESB_GET, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], XIVE_ESB_OFF);
    /* claims survive, and XIVE stays selected */
    cr_assert_eq(h(SPAPR_H_INT_GET_SOURCE_INFO, 0, SPAPR_IRQ_VIO, 0, 0, 0), SPAPR_H_SUCCESS);
}
