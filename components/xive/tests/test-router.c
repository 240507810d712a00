/* SPDX-License-Identifier: MIT */
/* Router: full event flow, queue wrap, coalescing, masked/invalid, backlog,
 * escalation, queue configuration. */
#include <criterion/criterion.h>
#include <errno.h>

#include "helpers.h"

static void setup_router(void)
{
    t_setup(2, 64, XIVE_ESB_64K_2PAGE, 0);
}

TestSuite(router, .init = setup_router, .fini = t_teardown);

static uint64_t mgmt(uint32_t lisn)
{
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(T.x, lisn, &info), 0);
    return info.mgmt_offset;
}

static uint64_t trig(uint32_t lisn)
{
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(T.x, lisn, &info), 0);
    return info.trigger_offset;
}

static uint64_t os_ring(uint32_t vcpu)
{
    return t_tm_load(vcpu, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS, 8);
}

/* What a guest does: CPPR 0xff, then the whole cycle of one event. */
Test(router, full_event_flow)
{
    t_route(0x10, 1, 5, 0x1234);
    t_tm_store(1, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, 0xff);
    cr_assert_eq(os_ring(1), 0x00ff00ffff0000ffull);
    cr_assert_eq(T.nlines, 0);

    t_esb_store(trig(0x10), 8, 0);

    /* The queue entry: generation 1, EISN. */
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5)), 0x80001234);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5) + 4), 0);
    XiveQueueState qs;
    cr_assert_eq(xive_queue_state(T.x, 1, 5, &qs), 0);
    cr_assert_eq(qs.index, 1);
    cr_assert_eq(qs.generation, 1);

    /* The OS ring: NSR EO, IPB bit of priority 5, PIPR 5; line raised. */
    cr_assert_eq(os_ring(1), 0x80ff04ffff000005ull, "%#lx", (unsigned long)os_ring(1));
    cr_assert_eq(T.nlines, 1);
    cr_assert_eq(T.lines[0].vcpu, 1);
    cr_assert_eq(T.lines[0].line, XIVE_LINE_OS);
    cr_assert(T.lines[0].level);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));

    /* ACK: NSR << 8 | new CPPR; the ring is clean; the line drops. */
    cr_assert_eq(t_tm_load(1, XIVE_TM_OS_PAGE, XIVE_TM_SPC_ACK_OS_REG, 2), 0x8005);
    cr_assert_eq(os_ring(1), 0x000500ffff0000ffull);
    cr_assert_eq(t_last_line(1, XIVE_LINE_OS), 0);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));

    /* EOI on the source: PQ 10 -> 00, nothing new. */
    cr_assert_eq(t_esb_load(mgmt(0x10), 8), 0);
    uint8_t pq;
    xive_source_get_pq(T.x, 0x10, &pq);
    cr_assert_eq(pq, XIVE_ESB_RESET);
    /* Guest restores its CPPR. */
    t_tm_store(1, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, 0xff);
    cr_assert_eq(os_ring(1), 0x00ff00ffff0000ffull);
    cr_assert_eq(T.nlines, 2);
    cr_assert_eq(xive_guest_error_count(T.x), 0, "%s", T.last_log);
}

Test(router, eoi_with_queued_event_renotifies)
{
    t_route(7, 0, 3, 0x70);
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    t_esb_store(trig(7), 8, 0);
    t_esb_store(trig(7), 8, 0); /* coalesced: PQ 11, no entry */
    uint8_t pq;
    xive_source_get_pq(T.x, 7, &pq);
    cr_assert_eq(pq, XIVE_ESB_QUEUED);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 3) + 4), 0);

    cr_assert_eq(t_tm_load(0, XIVE_TM_OS_PAGE, 0x810, 2), 0x8003);
    /* EOI finds Q: returns 1, a second entry appears, PQ ends at 10. */
    cr_assert_eq(t_esb_load(mgmt(7), 8), 1);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 3) + 4), 0x80000070);
    xive_source_get_pq(T.x, 7, &pq);
    cr_assert_eq(pq, XIVE_ESB_PENDING);
    /* Pending at 3 while CPPR is 3: no exception until CPPR is lowered. */
    cr_assert_eq(os_ring(0), 0x000310ffff000003ull, "%#lx", (unsigned long)os_ring(0));
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    cr_assert_eq(os_ring(0), 0x80ff10ffff000003ull);
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_OS));
}

Test(router, queue_wrap_toggles_generation)
{
    const uint32_t entries = 1024; /* 4 KiB queue */
    t_route(1, 0, 2, 0x100);
    for (uint32_t i = 0; i < entries + 3; i++) {
        xive_source_set_pq(T.x, 1, XIVE_ESB_RESET, NULL);
        cr_assert_eq(xive_source_trigger(T.x, 1), 1);
        XiveQueueState qs;
        xive_queue_state(T.x, 0, 2, &qs);
        cr_assert_eq(qs.index, (i + 1) % entries);
        cr_assert_eq(qs.generation, i + 1 >= entries ? 0 : 1, "event %u", i);
    }
    /* Entries 0-2 were written again with generation 0, the rest keep 1. */
    for (uint32_t i = 0; i < entries; i++) {
        uint32_t want = (i < 3 ? 0 : 0x80000000u) | 0x100;
        cr_assert_eq(t_mem_be32(T_QPAGE(0, 2) + 4 * i), want, "entry %u", i);
    }
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 2) + 4 * entries), 0, "nothing past the queue");
    /* A second wrap brings generation 1 back. */
    for (uint32_t i = 0; i < entries - 3; i++) {
        xive_source_set_pq(T.x, 1, XIVE_ESB_RESET, NULL);
        xive_source_trigger(T.x, 1);
    }
    XiveQueueState qs;
    xive_queue_state(T.x, 0, 2, &qs);
    cr_assert_eq(qs.index, 0);
    cr_assert_eq(qs.generation, 1);
}

Test(router, coalescing_through_esn)
{
    uint32_t idx = xive_end_index(1, 4);
    XiveEnd end;
    t_route(2, 1, 4, 0x22);
    t_route(3, 1, 4, 0x33);
    /* Not "always notify": ESn (ready after configuration) coalesces. */
    cr_assert_eq(xive_queue_configure(T.x, 1, 4, T_QPAGE(1, 4), 12, 0), 0);
    xive_end_get(T.x, idx, &end);
    cr_assert_eq(xive_end_esn(&end), XIVE_ESB_RESET);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);

    xive_source_trigger(T.x, 2);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(t_tm_load(1, XIVE_TM_OS_PAGE, 0x810, 2), 0x8004);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);

    /* Second event: queued, but ESn 10 -> 11 stops the notification. */
    xive_source_trigger(T.x, 3);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 4) + 4), 0x80000033);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(os_ring(1), 0x00ff00ffff0000ffull);
    xive_end_get(T.x, idx, &end);
    cr_assert_eq(xive_end_esn(&end), XIVE_ESB_QUEUED);

    /* With ESn off (01, the reset value), nothing is ever notified. */
    cr_assert_eq(xive_queue_configure(T.x, 1, 4, T_QPAGE(1, 4), 12, 0), 0);
    xive_end_get(T.x, idx, &end);
    end.w[1] = (end.w[1] & ~(3u << 30)) | XIVE_END_W1_ESN_Q;
    xive_end_set(T.x, idx, &end);
    xive_source_set_pq(T.x, 2, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 2);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 4)), 0x80000022);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(xive_guest_error_count(T.x), 0);
}

Test(router, masked_and_invalid)
{
    t_route(4, 0, 1, 0x44);
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);

    /* Masked EAS: silently dropped. */
    uint64_t eas;
    xive_eas_get(T.x, 4, &eas);
    xive_eas_set(T.x, 4, eas | XIVE_EAS_MASKED);
    cr_assert_eq(xive_source_trigger(T.x, 4), 1);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 1)), 0);
    cr_assert_eq(xive_guest_error_count(T.x), 0);

    /* Invalid EAS: dropped with a guest error. */
    xive_eas_set(T.x, 4, eas & ~XIVE_EAS_VALID);
    xive_source_set_pq(T.x, 4, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 4);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 1)), 0);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "invalid LISN 4");

    /* An EAS naming an END that does not exist. */
    xive_eas_set(T.x, 4, xive_eas_build(true, false, 0, 999, 1));
    xive_source_set_pq(T.x, 4, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 4);
    cr_assert_str_eq(T.last_log, "No END 0/3e7");

    /* An invalid END. */
    xive_eas_set(T.x, 4, xive_eas_build(true, false, 0, xive_end_index(0, 6), 1));
    xive_source_set_pq(T.x, 4, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 4);
    cr_assert_str_eq(T.last_log, "END 0/6 is invalid");
    cr_assert_eq(xive_guest_error_count(T.x), 3);

    /* A masked END (priority 0xff): the event is queued, not presented. */
    XiveEnd end;
    xive_end_get(T.x, xive_end_index(0, 1), &end);
    xive_end_set_priority(&end, 0xff);
    xive_end_set(T.x, xive_end_index(0, 1), &end);
    xive_eas_set(T.x, 4, eas);
    xive_source_set_pq(T.x, 4, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 4);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 1)), 0x80000044);
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));
    cr_assert_eq(T.nlines, 0);

    /* A masked source (PQ 01) forwards nothing at all. */
    xive_source_set_pq(T.x, 4, XIVE_ESB_OFF, NULL);
    cr_assert_eq(xive_source_trigger(T.x, 4), 0);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 1) + 4), 0);
    cr_assert_eq(xive_guest_error_count(T.x), 3);
}

Test(router, queue_outside_guest_memory)
{
    XiveEnd end;
    uint32_t idx = xive_end_index(0, 0);
    t_route(5, 0, 0, 0x55);
    xive_end_get(T.x, idx, &end);
    xive_end_set_qaddr(&end, 0x40000000); /* no RAM there */
    xive_end_set(T.x, idx, &end);
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    xive_source_trigger(T.x, 5);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "failed to write END data @0x40000000");
    XiveQueueState qs;
    xive_queue_state(T.x, 0, 0, &qs);
    cr_assert_eq(qs.index, 0, "the index does not move on a failed write");
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_OS), "the event is still presented");
}

Test(router, raw_queue_index_stays_inside_the_queue)
{
    XiveEnd end;
    uint32_t idx = xive_end_index(1, 1);
    t_route(6, 1, 1, 0x66);
    xive_end_get(T.x, idx, &end);
    end.w[1] |= XIVE_END_W1_PAGE_OFF_MASK; /* index far beyond 1024 entries */
    xive_end_set(T.x, idx, &end);
    xive_source_trigger(T.x, 6);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 1) + 4 * 1023), 0x80000066);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 1) + 4 * 1024), 0);
    XiveQueueState qs;
    xive_queue_state(T.x, 1, 1, &qs);
    cr_assert_eq(qs.index, 0);
    cr_assert_eq(qs.generation, 0);
}

/* Pulls vCPU 1's OS context (the hypervisor deschedules it). */
static uint64_t pull_os(uint32_t vcpu)
{
    return t_tm_load(vcpu, XIVE_TM_HV_PAGE, XIVE_TM_SPC_PULL_OS_CTX, 4);
}

Test(router, backlog_into_nvt_ipb)
{
    XiveEnd end;
    uint32_t idx = xive_end_index(1, 5);
    uint8_t ipb = 0xaa;
    t_route(8, 1, 5, 0x88);
    xive_end_get(T.x, idx, &end);
    end.w[0] |= XIVE_END_W0_BACKLOG;
    xive_end_set(T.x, idx, &end);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);

    cr_assert_eq(pull_os(1), 0x80000401);
    cr_assert_eq(t_tm_load(1, XIVE_TM_HV_PAGE, 0x18, 4), 0x00000401);

    /* No thread has NVT 0x401 dispatched: queued, priority remembered. */
    xive_source_trigger(T.x, 8);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5)), 0x80000088);
    cr_assert_eq(xive_nvt_ipb(T.x, 1, &ipb), 0);
    cr_assert_eq(ipb, 0x04);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(os_ring(1), 0x00ff00ffff0000ffull);

    /* Dispatching it again brings the interrupt back. */
    t_tm_store(1, XIVE_TM_HV_PAGE, 0x18, 4, 0x80000401);
    xive_nvt_ipb(T.x, 1, &ipb);
    cr_assert_eq(ipb, 0);
    cr_assert_eq(os_ring(1), 0x80ff04ffff000005ull);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(t_tm_load(1, XIVE_TM_OS_PAGE, 0x810, 2), 0x8005);

    /* Without the backlog bit, nothing is remembered. */
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    pull_os(1);
    xive_end_get(T.x, idx, &end);
    end.w[0] &= ~XIVE_END_W0_BACKLOG;
    xive_end_set(T.x, idx, &end);
    xive_source_set_pq(T.x, 8, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 8);
    xive_nvt_ipb(T.x, 1, &ipb);
    cr_assert_eq(ipb, 0);
    cr_assert_eq(xive_guest_error_count(T.x), 0, "%s", T.last_log);
}

/* END (1, 5) escalates to END (0, 6) with data 0x99 when vCPU 1 is away. */
static void setup_escalation(uint32_t extra_w0, uint8_t ese)
{
    XiveEnd end;
    uint32_t idx = xive_end_index(1, 5);
    t_route(9, 1, 5, 0x90);
    cr_assert_eq(xive_queue_configure(T.x, 0, 6, T_QPAGE(0, 6), 12, XIVE_QUEUE_ALWAYS_NOTIFY), 0);
    xive_end_get(T.x, idx, &end);
    end.w[0] |= XIVE_END_W0_ESCALATE_CTL | extra_w0;
    end.w[1] = (end.w[1] & ~(3u << XIVE_END_W1_ESE_SHIFT)) | ((uint32_t)ese << XIVE_END_W1_ESE_SHIFT);
    xive_end_set_esc_eas(&end, xive_eas_build(true, false, 0, xive_end_index(0, 6), 0x99));
    xive_end_set(T.x, idx, &end);
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
}

Test(router, escalation_through_ese)
{
    setup_escalation(0, XIVE_ESB_RESET);
    /* vCPU 1 dispatched: presented there, no escalation. */
    xive_source_trigger(T.x, 9);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 6)), 0);
    t_tm_load(1, XIVE_TM_OS_PAGE, 0x810, 2);

    /* vCPU 1 away: escalated to vCPU 0's priority 6 queue. */
    pull_os(1);
    xive_source_set_pq(T.x, 9, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 9);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5) + 4), 0x80000090);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 6)), 0x80000099);
    cr_assert_eq(os_ring(0), 0x80ff02ffff000006ull);
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_OS));
    XiveEnd end;
    xive_end_get(T.x, xive_end_index(1, 5), &end);
    cr_assert_eq(xive_end_ese(&end), XIVE_ESB_PENDING);

    /* Next event: ESe 10 -> 11, no second escalation. */
    xive_source_set_pq(T.x, 9, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 9);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5) + 8), 0x80000090);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 6) + 4), 0);
    xive_end_get(T.x, xive_end_index(1, 5), &end);
    cr_assert_eq(xive_end_ese(&end), XIVE_ESB_QUEUED);
    cr_assert_eq(xive_guest_error_count(T.x), 0, "%s", T.last_log);
}

Test(router, unconditional_and_silent_escalation)
{
    setup_escalation(XIVE_END_W0_UNCOND_ESCALATE, XIVE_ESB_OFF);
    pull_os(1);
    for (int i = 0; i < 3; i++) {
        xive_source_set_pq(T.x, 9, XIVE_ESB_RESET, NULL);
        xive_source_trigger(T.x, 9);
    }
    /* ESe is off but "u" skips it: three escalations. */
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 6) + 8), 0x80000099);

    /* Silent escalation: even with vCPU 1 dispatched, only escalate. */
    t_teardown();
    setup_router();
    setup_escalation(XIVE_END_W0_SILENT_ESCALATE, XIVE_ESB_RESET);
    xive_source_trigger(T.x, 9);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5)), 0x80000090);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 6)), 0x80000099);
    cr_assert(xive_line_level(T.x, 0, XIVE_LINE_OS));
}

Test(router, escalation_loop_is_cut)
{
    XiveEnd end;
    uint32_t idx = xive_end_index(0, 2);
    t_route(11, 0, 2, 0xb);
    xive_end_get(T.x, idx, &end);
    end.w[0] |= XIVE_END_W0_ESCALATE_CTL | XIVE_END_W0_UNCOND_ESCALATE |
                XIVE_END_W0_SILENT_ESCALATE;
    xive_end_set_esc_eas(&end, xive_eas_build(true, false, 0, idx, 0xc));
    xive_end_set(T.x, idx, &end);
    xive_source_trigger(T.x, 11);
    /* The source event and 8 escalations were queued, then it stopped. */
    XiveQueueState qs;
    xive_queue_state(T.x, 0, 2, &qs);
    cr_assert_eq(qs.index, 9);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 2)), 0x8000000b);
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 2) + 32), 0x8000000c);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "END 0/2: escalation chain too long, dropped");
}

Test(router, duplicate_cam_is_not_presented)
{
    XiveEnd end;
    uint8_t ipb;
    t_route(12, 0, 3, 0xc);
    xive_end_get(T.x, xive_end_index(0, 3), &end);
    end.w[0] |= XIVE_END_W0_BACKLOG;
    xive_end_set(T.x, xive_end_index(0, 3), &end);
    /* vCPU 1 also claims NVT 0x400. */
    t_tm_store(1, XIVE_TM_HV_PAGE, 0x18, 4, 0x80000400);
    t_tm_store(0, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    xive_source_trigger(T.x, 12);
    cr_assert_str_eq(T.last_log, "already found a thread context NVT 0/400");
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));
    xive_nvt_ipb(T.x, 0, &ipb);
    cr_assert_eq(ipb, 0x10);

    /* Moved: vCPU 1 runs NVT 0x400 only; events follow the CAM line. */
    pull_os(0);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    xive_source_set_pq(T.x, 12, XIVE_ESB_RESET, NULL);
    xive_source_trigger(T.x, 12);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_not(xive_line_level(T.x, 0, XIVE_LINE_OS));
}

Test(router, nvt_without_vcpu)
{
    XiveEnd end;
    t_route(13, 0, 1, 0xd);
    xive_end_get(T.x, xive_end_index(0, 1), &end);
    xive_end_set_nvt(&end, 0, 0x400 + 7);
    xive_end_set(T.x, xive_end_index(0, 1), &end);
    xive_source_trigger(T.x, 13);
    cr_assert_str_eq(T.last_log, "no NVT 0/407");
    cr_assert_eq(t_mem_be32(T_QPAGE(0, 1)), 0x8000000d, "queued before the lookup");
}

Test(router, queue_configure_and_state)
{
    XiveQueueState qs;
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE + 0x10000, 16, 0), 0);
    cr_assert_eq(xive_queue_state(T.x, 0, 1, &qs), 0);
    cr_assert(qs.valid);
    cr_assert(qs.enqueue);
    cr_assert_eq(qs.flags, 0);
    cr_assert_eq(qs.qpage, T_RAM_BASE + 0x10000);
    cr_assert_eq(qs.qshift, 16);
    cr_assert_eq(qs.index, 0);
    cr_assert_eq(qs.generation, 1);
    cr_assert_eq(qs.priority, 1);
    cr_assert_eq(qs.nvt_index, 0x400);
    XiveEnd end;
    xive_end_get(T.x, xive_end_index(0, 1), &end);
    cr_assert_eq(end.w[0], XIVE_END_W0_VALID | XIVE_END_W0_ENQUEUE | (4u << 16));
    cr_assert_eq(end.w[1], XIVE_END_W1_GENERATION, "ESn and ESe ready, as QEMU does");
    cr_assert_eq(end.w[6], 0x400);
    cr_assert_eq(end.w[7], 1u << 16);

    cr_assert_eq(xive_queue_configure(T.x, 1, 7, T_RAM_BASE, 12, XIVE_QUEUE_ALWAYS_NOTIFY), 0);
    xive_queue_state(T.x, 1, 7, &qs);
    cr_assert_eq(qs.flags, XIVE_QUEUE_ALWAYS_NOTIFY);
    cr_assert_eq(qs.nvt_index, 0x401);

    /* Errors leave the END alone. */
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE, 13, 0), -EDOM);
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE + 0x1000, 16, 0), -EFAULT);
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE + T_RAM_SIZE, 12, 0), -EFAULT);
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE, 24, 0), -EFAULT);
    cr_assert_eq(xive_queue_configure(T.x, 0, 8, T_RAM_BASE, 12, 0), -EINVAL);
    cr_assert_eq(xive_queue_configure(T.x, 2, 0, T_RAM_BASE, 12, 0), -EINVAL);
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, T_RAM_BASE, 12, 2), -EINVAL);
    xive_queue_state(T.x, 0, 1, &qs);
    cr_assert_eq(qs.qpage, T_RAM_BASE + 0x10000);

    /* qshift 0 resets the END. */
    cr_assert_eq(xive_queue_configure(T.x, 0, 1, 0, 0, 0), 0);
    xive_queue_state(T.x, 0, 1, &qs);
    cr_assert_not(qs.valid);
    cr_assert_not(qs.enqueue);
    cr_assert_eq(qs.qpage, 0);
    cr_assert_eq(qs.qshift, 0);
    cr_assert_eq(xive_queue_state(T.x, 0, 8, &qs), -EINVAL);
    cr_assert_eq(xive_end_get(T.x, 16, &end), -ENOENT);
    cr_assert_eq(xive_end_set(T.x, 16, &end), -ENOENT);
    cr_assert_eq(xive_eas_set(T.x, 64, 0), -ENOENT);
}

Test(router, reset_and_reset_routing)
{
    t_route(14, 1, 2, 0xe);
    xive_irq_claim(T.x, 15, true);
    xive_source_set_irq(T.x, 15, true);
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    xive_source_trigger(T.x, 14);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS));

    xive_reset_routing(T.x);
    uint64_t eas;
    uint8_t pq;
    XiveSourceInfo info;
    xive_eas_get(T.x, 14, &eas);
    cr_assert_eq(eas, XIVE_EAS_VALID | XIVE_EAS_MASKED);
    xive_source_get_pq(T.x, 14, &pq);
    cr_assert_eq(pq, XIVE_ESB_OFF);
    xive_source_info(T.x, 15, &info);
    cr_assert(info.lsi);
    cr_assert_not(info.asserted);
    XiveQueueState qs;
    xive_queue_state(T.x, 1, 2, &qs);
    cr_assert_not(qs.valid);
    cr_assert(xive_line_level(T.x, 1, XIVE_LINE_OS), "thread contexts untouched");
    cr_assert_eq(os_ring(1), 0x80ff20ffff000002ull);

    xive_reset(T.x);
    cr_assert_not(xive_line_level(T.x, 1, XIVE_LINE_OS));
    cr_assert_eq(t_last_line(1, XIVE_LINE_OS), 0);
    cr_assert_eq(os_ring(1), 0x000000ffff0000ffull);
    cr_assert_eq(t_tm_load(1, XIVE_TM_HV_PAGE, 0x18, 4), 0x80000401);
}
