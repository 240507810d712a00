/* SPDX-License-Identifier: MIT */
/* The sequence Linux's XIVE sPAPR driver (arch/powerpc/sysdev/xive/spapr.c)
 * performs at boot, then an IPI from vCPU 0 to vCPU 1, driven through the
 * hcalls and the xive component's ESB and TIMA MMIO entry points. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

#define NCPU 4u
#define PRIO 6u /* Linux takes the highest priority not reserved */
#define QSHIFT 16u
#define QPAGE(cpu) (UINT64_C(0x400000) + (uint64_t)(cpu) * (UINT64_C(1) << QSHIFT))
#define EISN(cpu) (16u + (cpu)) /* Linux's virtual IRQ number of the IPI */

typedef struct LineEvent {
    uint32_t vcpu;
    XiveLine line;
    bool level;
} LineEvent;

static LineEvent events[32];
static unsigned nevents;

static void on_line(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    (void)opaque;
    if (nevents < G_N_ELEMENTS(events)) {
        events[nevents++] = (LineEvent){ vcpu, line, level };
    }
}

static struct {
    uint64_t eoi_page, trig_page;
    unsigned shift;
} ipi[NCPU];

static void setup(void)
{
    t_setup(NCPU);
    nevents = 0;
    memset(ipi, 0, sizeof(ipi));
    xive_set_line_handler(spapr_machine_xive(T.m), on_line, NULL);
}

TestSuite(boot, .init = setup, .fini = t_teardown_default);

static uint64_t esb_load(uint64_t gpa, unsigned size)
{
    uint64_t v = 0;
    cr_assert_eq(xive_esb_mmio(spapr_machine_xive(T.m), gpa - spapr_machine_esb_base(T.m), size,
                               &v, false), 0);
    return v;
}

static void esb_store(uint64_t gpa, uint64_t v)
{
    cr_assert_eq(xive_esb_mmio(spapr_machine_xive(T.m), gpa - spapr_machine_esb_base(T.m), 8, &v,
                               true), 0);
}

static uint64_t tima_load(uint32_t cpu, uint32_t off, unsigned size)
{
    uint64_t v = 0;
    cr_assert_eq(xive_tima_mmio(spapr_machine_xive(T.m), cpu, XIVE_TM_OS_PAGE, off, size, &v,
                                false), 0);
    return v;
}

static void tima_store8(uint32_t cpu, uint32_t off, uint8_t val)
{
    uint64_t v = val;
    cr_assert_eq(xive_tima_mmio(spapr_machine_xive(T.m), cpu, XIVE_TM_OS_PAGE, off, 1, &v, true),
                 0);
}

/* xive_spapr_init() + xive_core_init() + the per-CPU setup of each CPU. */
static void linux_xive_boot(void)
{
    uint64_t o[4];

    t_cas_xive();
    for (uint32_t cpu = 0; cpu < NCPU; cpu++) {
        /* xive_spapr_get_ipi + populate_irq_data: the IPI of this CPU */
        cr_assert_eq(t_hcall6(SPAPR_H_INT_GET_SOURCE_INFO, 0, cpu, 0, 0, 0, o), SPAPR_H_SUCCESS);
        cr_assert_eq(o[0] & (SPAPR_XIVE_SRC_H_INT_ESB | SPAPR_XIVE_SRC_LSI), 0);
        ipi[cpu].eoi_page = o[1];
        ipi[cpu].trig_page = o[2];
        ipi[cpu].shift = (unsigned)o[3];
        cr_assert_neq(ipi[cpu].trig_page, UINT64_MAX, "two-page sources: a trigger page");

        /* xive_spapr_configure_queue: queue info, then the queue, always notify */
        cr_assert_eq(t_hcall6(SPAPR_H_INT_GET_QUEUE_INFO, 0, cpu, PRIO, 0, 0, o),
                     SPAPR_H_SUCCESS);
        cr_assert_eq(vmem_fill(T.mem, QPAGE(cpu), 0, UINT64_C(1) << QSHIFT), 0);
        cr_assert_eq(t_hcall6(SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, cpu,
                              PRIO, QPAGE(cpu), QSHIFT, o),
                     SPAPR_H_SUCCESS);

        /* xive_spapr_configure_irq: route the IPI to its CPU with its EISN */
        cr_assert_eq(t_hcall6(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, cpu, cpu,
                              PRIO, EISN(cpu), o),
                     SPAPR_H_SUCCESS);
        /* xive_do_source_set_mask(false): ESB load at 0xc00 sets PQ 00 */
        cr_assert_eq(esb_load(ipi[cpu].eoi_page + XIVE_ESB_SET_PQ_00, 8), XIVE_ESB_OFF);

        /* xive_setup_cpu: CPPR 0xff accepts every priority */
        tima_store8(cpu, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 0xff);
    }
    cr_assert_eq(nevents, 0, "nothing pending after boot");
}

Test(boot, ipi_reaches_the_right_vcpu)
{
    linux_xive_boot();

    /* vCPU 0 sends an IPI to vCPU 1: a store to the trigger page */
    esb_store(ipi[1].trig_page, 0);

    cr_assert_eq(nevents, 1);
    cr_assert_eq(events[0].vcpu, 1);
    cr_assert_eq(events[0].line, XIVE_LINE_OS);
    cr_assert(events[0].level);
    for (uint32_t cpu = 0; cpu < NCPU; cpu++) {
        cr_assert_eq(xive_line_level(spapr_machine_xive(T.m), cpu, XIVE_LINE_OS), cpu == 1);
    }
    /* the event is in vCPU 1's queue, with generation 1 */
    cr_assert_eq(t_rd32(QPAGE(1)), 0x80000000u | EISN(1));
    cr_assert_eq(t_rd32(QPAGE(1) + 4), 0);
    cr_assert_eq(t_rd32(QPAGE(0)), 0, "nothing for vCPU 0");
    /* the OS ring: NSR EO, CPPR ff, IPB of priority 6, PIPR 6 */
    cr_assert_eq(tima_load(1, XIVE_TM_QW1_OS, 8), UINT64_C(0x80ff02ffff000006));

    /* xive_spapr_update_pending: ACK_OS_REG */
    cr_assert_eq(tima_load(1, XIVE_TM_SPC_ACK_OS_REG, 2), 0x8006);
    cr_assert_eq(nevents, 2);
    cr_assert_eq(events[1].vcpu, 1);
    cr_assert_not(events[1].level, "ACK lowers the line");
    cr_assert_eq(tima_load(1, XIVE_TM_QW1_OS, 8), UINT64_C(0x000600ffff0000ff),
                 "CPPR 6, nothing pending");

    /* the driver EOIs the source with a load from the EOI page: no Q, 0 */
    cr_assert_eq(esb_load(ipi[1].eoi_page + XIVE_ESB_LOAD_EOI, 8), 0);
    cr_assert_eq(esb_load(ipi[1].eoi_page + XIVE_ESB_GET, 8), XIVE_ESB_RESET);
    /* back to CPPR 0xff at the end of the interrupt */
    tima_store8(1, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 0xff);
    cr_assert_eq(nevents, 2);
}

Test(boot, coalesced_ipi_is_replayed_by_eoi)
{
    linux_xive_boot();

    esb_store(ipi[2].trig_page, 0);
    esb_store(ipi[2].trig_page, 0); /* P already set: coalesced into Q */
    cr_assert_eq(esb_load(ipi[2].eoi_page + XIVE_ESB_GET, 8), XIVE_ESB_QUEUED);
    cr_assert_eq(t_rd32(QPAGE(2) + 4), 0, "one queue entry only");
    cr_assert_eq(tima_load(2, XIVE_TM_SPC_ACK_OS_REG, 2), 0x8006);

    /* EOI finds Q: returns 1, the source is notified again */
    cr_assert_eq(esb_load(ipi[2].eoi_page + XIVE_ESB_LOAD_EOI, 8), 1);
    cr_assert_eq(t_rd32(QPAGE(2) + 4), 0x80000000u | EISN(2));
    cr_assert_eq(esb_load(ipi[2].eoi_page + XIVE_ESB_GET, 8), XIVE_ESB_PENDING);
    /* priority 6 is not below CPPR 6: no new exception until CPPR goes up */
    cr_assert_not(xive_line_level(spapr_machine_xive(T.m), 2, XIVE_LINE_OS));
    tima_store8(2, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 0xff);
    cr_assert(xive_line_level(spapr_machine_xive(T.m), 2, XIVE_LINE_OS));
}

Test(boot, masked_ipi_does_not_reach_the_queue)
{
    uint64_t o[4];
    linux_xive_boot();
    cr_assert_eq(t_hcall6(SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_MASK, 3, 3, PRIO, 0, o),
                 SPAPR_H_SUCCESS);
    esb_store(ipi[3].trig_page, 0);
    cr_assert_eq(t_rd32(QPAGE(3)), 0);
    cr_assert_eq(nevents, 0);
}

Test(boot, machine_reset_returns_to_power_on)
{
    linux_xive_boot();
    esb_store(ipi[1].trig_page, 0);
    cr_assert(xive_line_level(spapr_machine_xive(T.m), 1, XIVE_LINE_OS));

    spapr_machine_reset(T.m);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    cr_assert_not(xive_line_level(spapr_machine_xive(T.m), 1, XIVE_LINE_OS));
    cr_assert_eq(esb_load(ipi[1].eoi_page + XIVE_ESB_GET, 8), XIVE_ESB_OFF);
    /* the OS ring reads as at power-on: 0x000000ffff0000ff */
    cr_assert_eq(tima_load(1, XIVE_TM_QW1_OS, 8), UINT64_C(0x000000ffff0000ff));
    uint64_t eas;
    cr_assert_eq(xive_eas_get(spapr_machine_xive(T.m), 1, &eas), 0);
    cr_assert_eq(eas, XIVE_EAS_VALID | XIVE_EAS_MASKED, "still claimed, unrouted");
    /* and the guest can boot again */
    nevents = 0;
    linux_xive_boot();
    esb_store(ipi[0].trig_page, 0);
    cr_assert(xive_line_level(spapr_machine_xive(T.m), 0, XIVE_LINE_OS));
}
