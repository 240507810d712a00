/* SPDX-License-Identifier: MIT */
/* The H_INT_* family: the sPAPR interface of XIVE exploitation mode, with
 * QEMU's argument checks in QEMU's order (hw/intc/spapr_xive.c). Terms:
 * target = vCPU id, EQ = event queue (an END), LISN = source number, EISN =
 * the number the guest wants to find in its queue. */
#include "spapr-internal.h"

#include <errno.h>
#include <inttypes.h>

/* Priority 7 is the hypervisor's (ibm,plat-res-int-priorities <7 0xf8>).
 * Priorities are checked on the full register value: 0x105 is not 5. */
static bool prio_reserved(SpaprMachine *m, uint64_t prio)
{
    if (prio <= 6) {
        return false;
    }
    spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: priority %" PRId64 " is reserved", (int64_t)prio);
    return true;
}

static bool target_ok(SpaprMachine *m, uint64_t target)
{
    if (target < m->nr_vcpus) {
        return true;
    }
    spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: invalid target 0x%" PRIx64, target);
    return false;
}

/* The LISN checks every source hcall starts with; *ret_eas on success. */
static bool lisn_ok(SpaprMachine *m, uint64_t lisn, uint64_t *ret_eas)
{
    if (lisn >= xive_nr_irqs(m->xive)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: Unknown LISN 0x%" PRIx64, lisn);
        return false;
    }
    if (xive_eas_get(m->xive, (uint32_t)lisn, ret_eas) < 0 || !xive_eas_is_valid(*ret_eas)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: Invalid LISN 0x%" PRIx64, lisn);
        return false;
    }
    return true;
}

static uint32_t end_of(uint64_t target, uint64_t prio)
{
    return xive_end_index((uint32_t)target, (uint8_t)prio);
}

static int64_t h_int_get_source_info(SpaprMachine *m, uint64_t *args)
{
    uint64_t eas;
    XiveSourceInfo info;

    if (args[0]) {
        return SPAPR_H_PARAMETER;
    }
    if (!lisn_ok(m, args[1], &eas) || xive_source_info(m->xive, (uint32_t)args[1], &info) < 0) {
        return SPAPR_H_P2;
    }
    uint64_t flags = 0;
    if (!info.two_pages) {
        flags |= SPAPR_XIVE_SRC_TRIGGER;
    }
    if (info.store_eoi) {
        flags |= SPAPR_XIVE_SRC_STORE_EOI;
    }
    /* LSIs go through H_INT_ESB so that an EOI re-triggers a level still up. */
    if (info.lsi) {
        flags |= SPAPR_XIVE_SRC_H_INT_ESB | SPAPR_XIVE_SRC_LSI;
    }
    bool by_hcall = flags & SPAPR_XIVE_SRC_H_INT_ESB;
    args[0] = flags;
    args[1] = by_hcall ? UINT64_MAX : m->esb_base + info.mgmt_offset;
    args[2] = (info.two_pages && !by_hcall) ? m->esb_base + info.trigger_offset : UINT64_MAX;
    args[3] = info.page_shift;
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_set_source_config(SpaprMachine *m, uint64_t *args)
{
    uint64_t flags = args[0], lisn = args[1], target = args[2], prio = args[3], eisn = args[4];
    uint64_t eas, new_eas;

    if (flags & ~(SPAPR_XIVE_SRC_SET_EISN | SPAPR_XIVE_SRC_MASK)) {
        return SPAPR_H_PARAMETER;
    }
    if (!lisn_ok(m, lisn, &eas)) {
        return SPAPR_H_P2;
    }
    if (prio == 0xff) { /* reset the EAS */
        new_eas = XIVE_EAS_VALID | XIVE_EAS_MASKED;
    } else {
        new_eas = (flags & SPAPR_XIVE_SRC_MASK) ? eas | XIVE_EAS_MASKED : eas & ~XIVE_EAS_MASKED;
        if (prio_reserved(m, prio)) {
            return SPAPR_H_P4;
        }
        if (!target_ok(m, target)) {
            return SPAPR_H_P3;
        }
        new_eas &= ~(((uint64_t)XIVE_EAS_END_BLOCK_MASK << XIVE_EAS_END_BLOCK_SHIFT) |
                     ((uint64_t)XIVE_EAS_END_INDEX_MASK << XIVE_EAS_END_INDEX_SHIFT));
        new_eas |= ((uint64_t)XIVE_SPAPR_BLOCK_ID << XIVE_EAS_END_BLOCK_SHIFT) |
                   ((uint64_t)end_of(target, prio) << XIVE_EAS_END_INDEX_SHIFT);
        if (flags & SPAPR_XIVE_SRC_SET_EISN) {
            new_eas = (new_eas & ~(uint64_t)XIVE_EAS_END_DATA_MASK) |
                      (eisn & XIVE_EAS_END_DATA_MASK);
        }
    }
    xive_eas_set(m->xive, (uint32_t)lisn, new_eas);
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_get_source_config(SpaprMachine *m, uint64_t *args)
{
    uint64_t eas;
    XiveEnd end = { { 0 } };

    if (args[0]) {
        return SPAPR_H_PARAMETER;
    }
    if (!lisn_ok(m, args[1], &eas)) {
        return SPAPR_H_P2;
    }
    /* The target comes from the END the EAS points at, as on QEMU: for a
     * source never configured that is END 0, and a never configured END
     * gives NVT 0, i.e. target 0 - 0x400 as a 32-bit number. */
    (void)xive_end_get(m->xive, xive_eas_end_index(eas), &end);
    args[0] = (uint32_t)(xive_end_nvt_index(&end) - XIVE_SPAPR_NVT_BASE);
    args[1] = xive_eas_is_masked(eas) ? 0xff : xive_end_priority(&end);
    args[2] = xive_eas_end_data(eas);
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_get_queue_info(SpaprMachine *m, uint64_t *args)
{
    uint64_t target = args[1], prio = args[2];
    XiveEnd end;

    if (args[0]) {
        return SPAPR_H_PARAMETER;
    }
    if (prio_reserved(m, prio)) {
        return SPAPR_H_P3;
    }
    if (!target_ok(m, target)) {
        return SPAPR_H_P2;
    }
    uint32_t idx = end_of(target, prio);
    if (xive_end_get(m->xive, idx, &end) < 0) {
        return SPAPR_H_HARDWARE;
    }
    /* Two 64 KiB pages (ESn, ESe) per END after the source ESBs. */
    args[0] = spapr_machine_end_esb_base(m) + ((uint64_t)idx << (XIVE_TM_PAGE_SHIFT + 1));
    args[1] = xive_end_is_enqueue(&end) ? xive_end_qsize(&end) + 12 : 0;
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_set_queue_config(SpaprMachine *m, uint64_t *args)
{
    uint64_t flags = args[0], target = args[1], prio = args[2], qpage = args[3], qsize = args[4];

    if (flags & ~SPAPR_XIVE_END_ALWAYS_NOTIFY) {
        return SPAPR_H_PARAMETER;
    }
    if (prio_reserved(m, prio)) {
        return SPAPR_H_P3;
    }
    if (!target_ok(m, target)) {
        return SPAPR_H_P2;
    }
    switch (qsize) {
    case 12:
    case 16:
    case 21:
    case 24:
        if (qpage & ((UINT64_C(1) << qsize) - 1)) {
            spapr_log(m, SPAPR_LOG_GUEST_ERROR,
                      "XIVE: EQ @0x%" PRIx64 " is not naturally aligned with %" PRIx64, qpage,
                      UINT64_C(1) << qsize);
            return SPAPR_H_P4;
        }
        if (!spapr_ram_range_ok(m, qpage, UINT64_C(1) << qsize)) {
            spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: failed to map EQ @0x%" PRIx64, qpage);
            return SPAPR_H_P4;
        }
        break;
    case 0: /* reset the queue, queueing off */
        qpage = 0;
        flags = 0;
        break;
    default:
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: invalid EQ size %" PRIx64, qsize);
        return SPAPR_H_P5;
    }
    int rc = xive_queue_configure(m->xive, (uint32_t)target, (uint8_t)prio, qpage, (unsigned)qsize,
                                  (flags & SPAPR_XIVE_END_ALWAYS_NOTIFY) ? XIVE_QUEUE_ALWAYS_NOTIFY
                                                                         : 0);
    switch (rc) {
    case 0:
        return SPAPR_H_SUCCESS;
    case -EDOM:
        return SPAPR_H_P5;
    case -EFAULT: /* guest memory does not back that part of RAM */
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: failed to map EQ @0x%" PRIx64, qpage);
        return SPAPR_H_P4;
    default:
        return SPAPR_H_HARDWARE;
    }
}

static int64_t h_int_get_queue_config(SpaprMachine *m, uint64_t *args)
{
    uint64_t flags = args[0], target = args[1], prio = args[2];
    XiveQueueState qs;

    if (flags & ~SPAPR_XIVE_END_DEBUG) {
        return SPAPR_H_PARAMETER;
    }
    if (prio_reserved(m, prio)) {
        return SPAPR_H_P3;
    }
    if (!target_ok(m, target)) {
        return SPAPR_H_P2;
    }
    if (xive_queue_state(m->xive, (uint32_t)target, (uint8_t)prio, &qs) < 0) {
        return SPAPR_H_HARDWARE;
    }
    args[0] = (qs.flags & XIVE_QUEUE_ALWAYS_NOTIFY) ? SPAPR_XIVE_END_ALWAYS_NOTIFY : 0;
    args[1] = qs.enqueue ? qs.qpage : 0;
    args[2] = qs.enqueue ? qs.qshift : 0;
    if (flags & SPAPR_XIVE_END_DEBUG) {
        args[0] |= (uint64_t)qs.generation << 62;
        args[3] = qs.index;
    } else {
        args[3] = 0;
    }
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_esb(SpaprMachine *m, uint64_t *args)
{
    uint64_t flags = args[0], lisn = args[1], offset = args[2], data = args[3];
    uint64_t eas;
    XiveSourceInfo info;

    if (flags & ~SPAPR_XIVE_ESB_STORE) {
        return SPAPR_H_PARAMETER;
    }
    if (!lisn_ok(m, lisn, &eas) || xive_source_info(m->xive, (uint32_t)lisn, &info) < 0) {
        return SPAPR_H_P2;
    }
    /* The 8-byte access must stay inside the management page. */
    if (offset > (UINT64_C(1) << info.page_shift) - 8) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: ESB offset 0x%" PRIx64 " beyond the page",
                  offset);
        return SPAPR_H_P3;
    }
    bool store = flags & SPAPR_XIVE_ESB_STORE;
    if (xive_esb_mgmt_access(m->xive, (uint32_t)lisn, offset, 8, &data, store) < 0) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "XIVE: failed to access ESB of LISN 0x%" PRIx64, lisn);
        return SPAPR_H_HARDWARE;
    }
    args[0] = store ? UINT64_MAX : data;
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_sync(SpaprMachine *m, uint64_t *args)
{
    uint64_t eas;

    if (args[0]) {
        return SPAPR_H_PARAMETER;
    }
    if (!lisn_ok(m, args[1], &eas)) {
        return SPAPR_H_P2;
    }
    /* Events reach their queue synchronously here: nothing is in flight. */
    return SPAPR_H_SUCCESS;
}

static int64_t h_int_reset(SpaprMachine *m, uint64_t *args)
{
    if (args[0]) {
        return SPAPR_H_PARAMETER;
    }
    xive_reset_routing(m->xive);
    return SPAPR_H_SUCCESS;
}

int64_t spapr_h_int(SpaprMachine *m, uint64_t opcode, uint64_t *args)
{
    if (!spapr_xive_selected(m)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "hcall 0x%" PRIx64 " before CAS selected XIVE",
                  opcode);
        return SPAPR_H_FUNCTION;
    }
    switch (opcode) {
    case SPAPR_H_INT_GET_SOURCE_INFO:
        return h_int_get_source_info(m, args);
    case SPAPR_H_INT_SET_SOURCE_CONFIG:
        return h_int_set_source_config(m, args);
    case SPAPR_H_INT_GET_SOURCE_CONFIG:
        return h_int_get_source_config(m, args);
    case SPAPR_H_INT_GET_QUEUE_INFO:
        return h_int_get_queue_info(m, args);
    case SPAPR_H_INT_SET_QUEUE_CONFIG:
        return h_int_set_queue_config(m, args);
    case SPAPR_H_INT_GET_QUEUE_CONFIG:
        return h_int_get_queue_config(m, args);
    case SPAPR_H_INT_ESB:
        return h_int_esb(m, args);
    case SPAPR_H_INT_SYNC:
        return h_int_sync(m, args);
    case SPAPR_H_INT_RESET:
        return h_int_reset(m, args);
    default: /* SET/GET_OS_REPORTING_LINE: not implemented by QEMU either */
        spapr_log(m, SPAPR_LOG_UNIMP, "XIVE: hcall 0x%" PRIx64 " not implemented", opcode);
        return SPAPR_H_FUNCTION;
    }
}
