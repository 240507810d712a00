/* SPDX-License-Identifier: MIT */
/* The README example, checked. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "xive/xive.h"

static int line_level[2] = { -1, -1 };

static void raise_cpu_irq(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    cr_assert_eq(opaque, (void *)line_level);
    cr_assert_eq(line, XIVE_LINE_OS);
    line_level[vcpu] = level;
}

Test(example, readme_full_event_flow)
{
    void *vm = line_level;
    VMemMap *mem;
    cr_assert_eq(vmem_map_new(&mem), 0);
    cr_assert_eq(vmem_map_add_anon(mem, 0, 1 << 20), 0);
    XiveConfig cfg = { .nr_vcpus = 2, .nr_irqs = 0x2000, .mem = mem };
    Xive *x;
    cr_assert_eq(xive_new(&cfg, &x), 0);
    xive_set_line_handler(x, raise_cpu_irq, vm);

    cr_assert_eq(xive_queue_configure(x, 1, 5, 0x10000, 16, XIVE_QUEUE_ALWAYS_NOTIFY), 0);
    cr_assert_eq(xive_irq_claim(x, 0x1300, false), 0);
    cr_assert_eq(xive_eas_set(x, 0x1300,
                              xive_eas_build(true, false, 0, xive_end_index(1, 5), 0x42)), 0);
    XiveSourceInfo si;
    cr_assert_eq(xive_source_info(x, 0x1300, &si), 0);
    uint64_t v;
    cr_assert_eq(xive_esb_mmio(x, si.mgmt_offset + XIVE_ESB_SET_PQ_00, 8, &v, false), 0);
    cr_assert_eq(v, XIVE_ESB_OFF);
    v = 0xff;
    cr_assert_eq(xive_tima_mmio(x, 1, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, &v,
                                true), 0);

    cr_assert_eq(xive_esb_mmio(x, si.trigger_offset, 8, &(uint64_t){ 0 }, true), 0);
    uint32_t entry;
    cr_assert_eq(vmem_read_be32(mem, 0x10000, &entry), 0);
    cr_assert_eq(entry, 0x80000042);
    cr_assert_eq(line_level[1], 1);

    cr_assert_eq(xive_tima_mmio(x, 1, XIVE_TM_OS_PAGE, XIVE_TM_SPC_ACK_OS_REG, 2, &v, false), 0);
    cr_assert_eq(v, 0x8005);
    cr_assert_eq(line_level[1], 0);
    cr_assert_eq(xive_esb_mmio(x, si.mgmt_offset + XIVE_ESB_LOAD_EOI, 8, &v, false), 0);
    cr_assert_eq(v, 0);
    uint8_t pq;
    xive_source_get_pq(x, 0x1300, &pq);
    cr_assert_eq(pq, XIVE_ESB_RESET);

    char *text;
    cr_assert_eq(xive_info_pic(x, &text), 0);
    cr_assert_not_null(strstr(text, "  00001300 MSI --    00000042   1/5      1/16384 @10000 ^1"));
    free(text);
    cr_assert_eq(line_level[0], -1, "vCPU 0 never saw a change");
    cr_assert_eq(xive_guest_error_count(x), 0);
    xive_free(x);
    vmem_map_free(mem);
}
