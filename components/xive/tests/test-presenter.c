/* SPDX-License-Identifier: MIT */
/* Presenter: TIMA byte semantics, per-page access rules, special operations,
 * HV rings. */
#include <criterion/criterion.h>
#include <errno.h>

#include "helpers.h"

static void setup_presenter(void)
{
    t_setup(4, 32, XIVE_ESB_64K_2PAGE, 0);
}

TestSuite(presenter, .init = setup_presenter, .fini = t_teardown);

#define OS XIVE_TM_OS_PAGE
#define HV XIVE_TM_HV_PAGE
#define HW XIVE_TM_HW_PAGE
#define USER XIVE_TM_USER_PAGE

static uint64_t os_ring(uint32_t vcpu)
{
    return t_tm_load(vcpu, OS, XIVE_TM_QW1_OS, 8);
}

static void set_cppr(uint32_t vcpu, uint8_t cppr)
{
    t_tm_store(vcpu, OS, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, cppr);
}

static void set_pending(uint32_t vcpu, uint8_t prio)
{
    t_tm_store(vcpu, OS, XIVE_TM_SPC_SET_OS_PENDING, 1, prio);
}

static uint64_t ack(uint32_t vcpu)
{
    return t_tm_load(vcpu, OS, XIVE_TM_SPC_ACK_OS_REG, 2);
}

Test(presenter, reset_values)
{
    uint8_t regs[XIVE_TM_REGS_SIZE];
    for (uint32_t v = 0; v < 4; v++) {
        /* AGE is 0xff inside but masked in a raw read from the OS page. */
        cr_assert_eq(os_ring(v), 0x000000ffff0000ffull);
        cr_assert_eq(t_tm_load(v, HV, XIVE_TM_QW1_OS, 8), 0x000000ffff0000ffull);
        cr_assert_eq(t_tm_load(v, HV, XIVE_TM_QW1_OS + 8, 4), 0x80000400u + v);
        cr_assert_eq(xive_tctx_regs(T.x, v, regs), 0);
        cr_assert_eq(regs[XIVE_TM_QW1_OS + XIVE_TM_AGE], 0xff);
        cr_assert_eq(regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_PIPR], 0xff);
        cr_assert_eq(regs[XIVE_TM_QW0_USER + XIVE_TM_PIPR], 0);
    }
    cr_assert_eq(xive_guest_error_count(T.x), 0);
}

Test(presenter, word2_not_readable_from_os_page)
{
    cr_assert_eq(t_tm_load(0, OS, 0x18, 4), UINT32_MAX);
    cr_assert_eq(t_tm_load(0, OS, 0x18, 8), UINT64_MAX);
    cr_assert_eq(xive_guest_error_count(T.x), 2);
    /* The 4 bytes at 0x10 are readable from the OS page. */
    cr_assert_eq(t_tm_load(0, OS, 0x10, 4), 0x000000ffu);
    cr_assert_eq(t_tm_load(0, OS, 0x14, 4), 0xff0000ffu);
}

Test(presenter, priority_encodings)
{
    set_cppr(1, 0xff);
    for (uint8_t p = 0; p <= 7; p++) {
        set_pending(1, p);
        cr_assert_eq(os_ring(1), 0x80ff00ffff000000ull | ((uint64_t)(0x80u >> p) << 40) | p,
                     "prio %u: %#lx", p, (unsigned long)os_ring(1));
        cr_assert_eq(ack(1), 0x8000u | p);
        cr_assert_eq(os_ring(1), 0x000000ffff0000ffull | ((uint64_t)p << 48));
        set_cppr(1, 0xff);
    }
}

Test(presenter, pipr_with_several_pending)
{
    set_cppr(0, 0xff);
    set_pending(0, 5);
    set_pending(0, 2);
    set_pending(0, 6);
    cr_assert_eq(os_ring(0), 0x80ff26ffff000002ull);
    cr_assert_eq(ack(0), 0x8002);
    /* CPPR 2 now; 5 and 6 still pending, not signalled (5 > 2). */
    cr_assert_eq(os_ring(0), 0x000206ffff000005ull);
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));
    /* Lower the CPPR to 6: 5 beats it. */
    set_cppr(0, 6);
    cr_assert_eq(os_ring(0), 0x800606ffff000005ull);
    cr_assert_eq(ack(0), 0x8005);
    cr_assert_eq(os_ring(0), 0x000502ffff000006ull);
    set_cppr(0, 0xff);
    cr_assert_eq(ack(0), 0x8006);
    cr_assert_eq(os_ring(0), 0x000600ffff0000ffull);
    /* Nothing pending: ACK returns the CPPR and changes nothing. */
    cr_assert_eq(ack(0), 0x0006);
    cr_assert_eq(os_ring(0), 0x000600ffff0000ffull);
}

Test(presenter, cppr_values)
{
    set_pending(2, 4);
    /* CPPR 0 at reset: pending 4 is not signalled. */
    cr_assert_eq(os_ring(2), 0x000008ffff000004ull);
    cr_assert_not(xive_line_level(T.x, 2, XIVE_LINE_OS));
    set_cppr(2, 4);
    cr_assert_not(xive_line_level(T.x, 2, XIVE_LINE_OS));
    set_cppr(2, 5);
    cr_assert(xive_line_level(T.x, 2, XIVE_LINE_OS));
    cr_assert_eq(os_ring(2), 0x800508ffff000004ull);
    /* Values above 7 read back as 0xff. */
    static const uint8_t big[] = { 8, 0x10, 0x7f, 0x80, 0xfe, 0xff };
    for (unsigned i = 0; i < sizeof(big); i++) {
        set_cppr(2, big[i]);
        cr_assert_eq(t_tm_load(2, OS, 0x10, 4) & 0x00ff0000u, 0x00ff0000u, "cppr %#x", big[i]);
    }
    set_cppr(2, 7);
    cr_assert_eq(t_tm_load(2, OS, 0x10, 4), 0x800708ffu);
    /* A priority > 7 in SET_OS_PENDING sets no bit. */
    set_pending(3, 8);
    set_pending(3, 0xff);
    cr_assert_eq(os_ring(3), 0x000000ffff0000ffull);
    cr_assert_eq(xive_guest_error_count(T.x), 0);
}

Test(presenter, line_handler_sees_changes_only)
{
    set_cppr(0, 0xff);
    set_pending(0, 3);
    set_pending(0, 1);
    cr_assert_eq(T.nlines, 1);
    ack(0);
    cr_assert_eq(T.nlines, 2);
    ack(0);
    cr_assert_eq(T.nlines, 2);
    cr_assert_eq(t_last_line(0, XIVE_LINE_OS), 0);
}

Test(presenter, access_rules)
{
    uint64_t before;
    set_cppr(0, 0xff);
    set_pending(0, 5);
    before = os_ring(0);

    /* CPPR store from the USER page: not allowed. */
    t_tm_store(0, USER, 0x11, 1, 3);
    /* ACK from the USER page: not allowed, all ones. */
    cr_assert_eq(t_tm_load(0, USER, 0x810, 2), 0xffff);
    /* Raw 8-byte read of QW1 from the USER page: all ones. */
    cr_assert_eq(t_tm_load(0, USER, 0x10, 8), UINT64_MAX);
    /* The USER ring is never reachable raw, from any page. */
    cr_assert_eq(t_tm_load(0, HW, 0x00, 8), UINT64_MAX);
    cr_assert_eq(t_tm_load(0, OS, 0x08, 4), UINT32_MAX);
    /* Raw reads must be 4 or 8 bytes. */
    cr_assert_eq(t_tm_load(0, OS, 0x10, 2), 0xffff);
    cr_assert_eq(t_tm_load(0, OS, 0x12, 1), 0xff);
    /* Bad size, misaligned. */
    cr_assert_eq(t_tm_load(0, OS, 0x10, 3), 0xffffff);
    cr_assert_eq(t_tm_load(0, OS, 0x14, 8), UINT64_MAX);
    cr_assert_eq(t_tm_load(0, OS, 0x811, 2), 0xffff);
    /* Unknown special operations. */
    cr_assert_eq(t_tm_load(0, OS, 0x820, 8), UINT64_MAX);
    t_tm_store(0, OS, 0x810, 2, 0);
    t_tm_store(0, OS, 0x812, 2, 1);
    /* PULL_OS_CTX is for the hypervisor. */
    cr_assert_eq(t_tm_load(0, OS, 0x818, 4), UINT32_MAX);
    cr_assert_eq(os_ring(0), before);
    cr_assert_eq(xive_guest_error_count(T.x), 14);
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_OS));

    /* A raw store from the OS page reaches CPPR only, and signals nothing. */
    t_tm_store(0, OS, 0x10, 8, 0x1122334455667788ull);
    cr_assert_eq(os_ring(0), (before & ~0x00ff000000000000ull) | 0x0022000000000000ull);
    t_tm_store(0, OS, 0x10, 4, 0x00ff0000);
    cr_assert_eq(os_ring(0), before);
    cr_assert_eq(xive_guest_error_count(T.x), 14);

    /* More privileged pages may use the OS operations. */
    cr_assert_eq(t_tm_load(0, HV, 0x810, 2), 0x8005);
    t_tm_store(0, HW, 0x812, 1, 4);
    cr_assert_eq(t_tm_load(0, HW, 0x810, 2), 0x8004);
    t_tm_store(0, HV, 0x11, 1, 0xff);
    cr_assert_eq(t_tm_load(0, HW, 0x810, 2), 0x00ff);
    cr_assert_eq(xive_guest_error_count(T.x), 14);

    /* API errors. */
    uint64_t v = 0;
    cr_assert_eq(xive_tima_mmio(T.x, 4, OS, 0x10, 8, &v, false), -EINVAL);
    cr_assert_eq(xive_tima_mmio(T.x, 0, (XiveTmPage)4, 0x10, 8, &v, false), -EINVAL);
    cr_assert_eq(xive_tima_mmio(T.x, 0, OS, 0x10000, 8, &v, false), -ERANGE);
    cr_assert_eq(xive_tima_mmio(T.x, 0, OS, 0x10, 8, NULL, false), -EINVAL);
    cr_assert_eq(xive_tima_mmio(NULL, 0, OS, 0x10, 8, &v, false), -EINVAL);
}

Test(presenter, operations_repeat_every_4k)
{
    set_cppr(1, 0xff);
    t_tm_store(1, OS, 0x3000 + 0x812, 1, 6);
    cr_assert_eq(t_tm_load(1, OS, 0xf000 + 0x10, 8), 0x80ff02ffff000006ull);
    cr_assert_eq(t_tm_load(1, OS, 0x5810, 2), 0x8006);
    /* Below 2K, the ring bytes also repeat every 64 bytes. */
    cr_assert_eq(t_tm_load(1, OS, 0x50, 8), 0x000600ffff0000ffull);
}

Test(presenter, raw_writes_follow_the_page_view)
{
    /* From the HV page: all of QW1 but AGE and the read-only PIPR. */
    t_tm_store(2, HV, 0x10, 8, 0x0102030405060708ull);
    uint8_t regs[XIVE_TM_REGS_SIZE];
    xive_tctx_regs(T.x, 2, regs);
    cr_assert_eq(regs[0x10], 1);
    cr_assert_eq(regs[0x15], 6);
    cr_assert_eq(regs[0x16], 0xff, "AGE is not writable");
    cr_assert_eq(regs[0x17], 0xff, "PIPR is read-only");
    /* A raw write does not signal. */
    cr_assert_not(xive_line_level(T.x, 2, XIVE_LINE_OS));
    /* The HV page may not write the USER ring raw either. */
    t_tm_store(2, HV, 0x00, 8, UINT64_MAX);
    xive_tctx_regs(T.x, 2, regs);
    cr_assert_eq(regs[0x00], 0);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
}

Test(presenter, pull_and_push_os_context)
{
    set_cppr(3, 0xff);
    set_pending(3, 2);
    cr_assert(xive_line_level(T.x, 3, XIVE_LINE_OS));
    cr_assert_eq(t_tm_load(3, HV, 0x818, 8), 0x80000403ull);
    cr_assert_not(xive_line_level(T.x, 3, XIVE_LINE_OS), "pulling lowers the line");
    cr_assert_eq(t_tm_load(3, HV, 0x18, 4), 0x00000403);
    /* Pulling again: an invalid context, logged. */
    cr_assert_eq(t_tm_load(3, HV, 0x818, 4), 0x00000403);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    /* Pushing it back re-evaluates the pending priority. */
    t_tm_store(3, HV, 0x18, 4, 0x80000403);
    cr_assert(xive_line_level(T.x, 3, XIVE_LINE_OS));
    cr_assert_eq(ack(3), 0x8002);
    /* Pushing a CAM of no vCPU is logged. */
    t_tm_store(3, HV, 0x18, 4, 0x80000100);
    cr_assert_eq(xive_guest_error_count(T.x), 2);
    cr_assert_str_eq(T.last_log, "invalid NVT 0/100");
}

Test(presenter, phys_ring)
{
    /* The hypervisor dispatches its own thread (VT) on vCPU 1. */
    t_tm_store(1, HV, 0x38, 1, 0x80);
    cr_assert_eq(t_tm_load(1, HV, 0x38, 1), 0x80);
    t_tm_store(1, HV, 0x31, 1, 0xff);
    /* An END targeting the HW CAM line 0x80 | vcpu. */
    XiveEnd end = { { 0 } };
    end.w[0] = XIVE_END_W0_VALID | XIVE_END_W0_UCOND_NOTIFY;
    xive_end_set_nvt(&end, 0, 0x81);
    xive_end_set_priority(&end, 3);
    xive_end_set(T.x, 0, &end);
    xive_eas_set(T.x, 1, xive_eas_build(true, false, 0, 0, 0));
    xive_source_set_pq(T.x, 1, 0, NULL);
    /* No vCPU owns NVT 0x81 in the sPAPR map: the router stops there. */
    xive_source_trigger(T.x, 1);
    cr_assert_str_eq(T.last_log, "no NVT 0/81");
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_HV));

    /* Present directly through the HV operations instead. */
    uint8_t regs[XIVE_TM_REGS_SIZE];
    t_tm_store(1, HV, 0x30, 4, 0x00ff1000); /* raw: IPB = prio 3 */
    t_tm_store(1, HV, 0x31, 1, 0xff);       /* CPPR store recomputes */
    xive_tctx_regs(T.x, 1, regs);
    cr_assert_eq(regs[0x37], 3);
    cr_assert_eq(regs[0x30], 0x80, "HE_PHYS");
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_HV));
    cr_assert_eq(t_tm_load(1, HV, 0x830, 2), 0x8003);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_HV));
    /* OS page cannot ACK the hypervisor ring. */
    cr_assert_eq(t_tm_load(1, OS, 0x830, 2), 0xffff);
    /* Pull PHYS context: returns the byte, clears VT. */
    cr_assert_eq(t_tm_load(1, HV, 0x838, 1), 0x80);
    cr_assert_eq(t_tm_load(1, HV, 0x38, 1), 0x00);
}

Test(presenter, pool_ring)
{
    /* A pool context for NVT 0x402 pushed (raw, HW page: the HV page cannot
     * write the valid bit) on vCPU 0. */
    t_tm_store(0, HV, 0x28, 4, 0x80000402);
    cr_assert_eq(t_tm_load(0, HW, 0x28, 4), 0x00000402);
    t_tm_store(0, HW, 0x28, 4, 0x80000402);
    t_tm_store(0, HV, 0x31, 1, 0xff);
    /* vCPU 2 is not running NVT 0x402 any more. */
    t_tm_load(2, HV, 0x818, 4);
    cr_assert_eq(xive_queue_configure(T.x, 2, 4, T_QPAGE(2, 4), 12, XIVE_QUEUE_ALWAYS_NOTIFY), 0);
    xive_eas_set(T.x, 3, xive_eas_build(true, false, 0, xive_end_index(2, 4), 3));
    xive_source_set_pq(T.x, 3, 0, NULL);
    xive_source_trigger(T.x, 3);
    uint8_t regs[XIVE_TM_REGS_SIZE];
    xive_tctx_regs(T.x, 0, regs);
    cr_assert_eq(regs[0x22], 0x08, "pool IPB");
    cr_assert_eq(regs[0x37], 4, "PHYS PIPR");
    cr_assert_eq(regs[0x30], 0x40, "HE_POOL");
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_HV));
    cr_assert_eq(t_tm_load(0, HV, 0x830, 2), 0x4004);
    xive_tctx_regs(T.x, 0, regs);
    cr_assert_eq(regs[0x22], 0, "pool IPB taken");
    cr_assert_eq(regs[0x30], 0);
    cr_assert_eq(regs[0x31], 4);
    /* Pull the pool context. */
    cr_assert_eq(t_tm_load(0, HV, 0x828, 4), 0x80000402);
    cr_assert_eq(t_tm_load(0, HW, 0x28, 4), 0x00000402);
}

Test(presenter, vcpu_reset)
{
    set_cppr(1, 0xff);
    set_pending(1, 1);
    t_tm_load(1, HV, 0x818, 4);
    cr_assert_eq(xive_vcpu_reset(T.x, 1), 0);
    cr_assert_eq(os_ring(1), 0x000000ffff0000ffull);
    cr_assert_eq(t_tm_load(1, HV, 0x18, 4), 0x80000401);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(xive_vcpu_reset(T.x, 4), -EINVAL);
    cr_assert_eq(xive_tctx_regs(T.x, 4, NULL), -EINVAL);
}
