/* SPDX-License-Identifier: MIT */
/*
 * Router: EAS lookup, END event queues in guest memory, ESn/ESe coalescing,
 * presentation, backlog and escalation.
 */
#include "xive-internal.h"

#include <errno.h>
#include <string.h>

void xive_end_reset_one(XiveEnd *end)
{
    memset(end, 0, sizeof(*end));
    /* Both event state buffers off. */
    end->w[1] = XIVE_END_W1_ESN_Q | XIVE_END_W1_ESE_Q;
}

/*
 * Stores one queue entry. The guest may be polling its queue on another
 * vCPU: the generation bit and the data must appear together, so an aligned
 * entry is written with one 32-bit store (release: what the guest sees after
 * it is visible too). Returns 0 or -EFAULT.
 */
static int queue_store(VMemMap *mem, uint64_t gpa, uint32_t value)
{
    uint8_t *host = mem ? vmem_translate_ptr(mem, gpa, 4) : NULL;
    if (!host) {
        return -EFAULT;
    }
    uint32_t be;
    vmem_cpu_to_be32(&be, value);
    if (((uintptr_t)host & 3) == 0) {
        __atomic_store_n((uint32_t *)(void *)host, be, __ATOMIC_RELEASE);
    } else {
        memcpy(host, &be, 4); /* a raw END may name a misaligned queue */
    }
    if (vmem_dirty_log_enabled(mem)) {
        vmem_mark_dirty(mem, gpa, 4);
    }
    return 0;
}

/* Writes one event into the END's queue and moves the index on. */
static void end_enqueue(Xive *x, XiveEnd *end, uint32_t data)
{
    uint32_t qentries = xive_end_qentries(end);
    uint32_t qindex = xive_end_qindex(end) & (qentries - 1);
    uint32_t qgen = xive_end_qgen(end);
    uint64_t qaddr = xive_end_qaddr(end) + ((uint64_t)qindex << 2);

    if (queue_store(x->mem, qaddr, (qgen << 31) | (data & 0x7fffffffu)) < 0) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "failed to write END data @0x%" PRIx64, qaddr);
        return;
    }
    qindex = (qindex + 1) & (qentries - 1);
    if (qindex == 0) {
        qgen ^= 1;
    }
    end->w[1] = (end->w[1] & ~(XIVE_END_W1_GENERATION | XIVE_END_W1_PAGE_OFF_MASK)) |
                (qgen ? XIVE_END_W1_GENERATION : 0) | qindex;
}

/* Runs a trigger through one of the END's event state buffers. Returns
 * whether the notification goes on. */
static bool end_es_notify(XiveEnd *end, unsigned shift)
{
    uint8_t pq = (uint8_t)((end->w[1] >> shift) & 3);
    bool notify = xive_esb_trigger_pq(&pq);

    end->w[1] = (end->w[1] & ~(UINT32_C(3) << shift)) | ((uint32_t)pq << shift);
    return notify;
}

/* The END trigger: from an EAS, or from an END's escalation EAS. */
static void end_notify(Xive *x, uint64_t eas, unsigned depth)
{
    uint8_t end_blk = xive_eas_end_block(eas);
    uint32_t end_idx = xive_eas_end_index(eas);
    uint32_t end_data = xive_eas_end_data(eas);

    /* sPAPR has a single block: the block number is not looked at. */
    if (end_idx >= x->nr_ends) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "No END %x/%x", end_blk, end_idx);
        return;
    }
    XiveEnd *end = &x->ends[end_idx];
    if (!xive_end_is_valid(end)) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "END %x/%x is invalid", end_blk, end_idx);
        return;
    }
    if (xive_end_is_enqueue(end)) {
        end_enqueue(x, end, end_data);
    }
    if (!(end->w[0] & XIVE_END_W0_SILENT_ESCALATE)) {
        bool format1 = end->w[6] & XIVE_END_W6_FORMAT_BIT;
        uint8_t prio = xive_end_priority(end);

        if (!format1 && prio == 0xff) {
            return; /* masked END */
        }
        if (!xive_end_is_notify(end) && !end_es_notify(end, XIVE_END_W1_ESN_SHIFT)) {
            return; /* coalesced: ESn was already pending */
        }
        uint8_t nvt_blk = xive_end_nvt_block(end);
        uint32_t nvt_idx = xive_end_nvt_index(end);
        uint32_t vcpu = nvt_idx - XIVE_SPAPR_NVT_BASE;

        /* sPAPR has an NVT per vCPU and nothing else. */
        if (nvt_idx < XIVE_SPAPR_NVT_BASE || vcpu >= x->nr_vcpus) {
            xive_log(x, XIVE_LOG_GUEST_ERROR, "no NVT %x/%x", nvt_blk, nvt_idx);
            return;
        }
        bool found = false;
        if (format1) {
            xive_log(x, XIVE_LOG_UNIMP, "no support for EBB notification, END %x/%x",
                     end_blk, end_idx);
        } else if (end->w[7] & XIVE_END_W7_F0_IGNORE) {
            xive_log(x, XIVE_LOG_UNIMP, "no support for LS NVT %x/%x", nvt_blk, nvt_idx);
        } else {
            found = xive_presenter_notify(x, nvt_blk, nvt_idx, prio);
        }
        if (found) {
            return;
        }
        /* No thread runs the NVT: remember the priority for when one does. */
        if (xive_end_is_backlog(end)) {
            if (format1) {
                xive_log(x, XIVE_LOG_GUEST_ERROR, "END %x/%x invalid config: F1 & backlog",
                         end_blk, end_idx);
                return;
            }
            if (prio <= XIVE_PRIORITY_MAX) {
                x->tctx[vcpu].nvt_ipb |= (uint8_t)(0x80u >> prio);
            }
        }
    }

    if (!xive_end_is_escalate(end)) {
        return;
    }
    if (!(end->w[0] & XIVE_END_W0_UNCOND_ESCALATE) &&
        !end_es_notify(end, XIVE_END_W1_ESE_SHIFT)) {
        return; /* coalesced: ESe was already pending */
    }
    if (depth >= XIVE_ESCALATION_DEPTH_MAX) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "END %x/%x: escalation chain too long, dropped",
                 end_blk, end_idx);
        return;
    }
    end_notify(x, xive_end_esc_eas(end), depth + 1);
}

void xive_router_notify(Xive *x, uint32_t lisn)
{
    uint64_t eas = x->eas[lisn];

    if (!xive_eas_is_valid(eas)) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "invalid LISN %x", lisn);
        return;
    }
    if (xive_eas_is_masked(eas)) {
        return;
    }
    end_notify(x, eas, 0);
}

/* ------------------------------------------------------------------------ */
/* Table access                                                              */

int xive_eas_get(const Xive *x, uint32_t lisn, uint64_t *ret_eas)
{
    if (!x || !ret_eas) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    *ret_eas = x->eas[lisn];
    return 0;
}

int xive_eas_set(Xive *x, uint32_t lisn, uint64_t eas)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    x->eas[lisn] = eas;
    return 0;
}

int xive_end_get(const Xive *x, uint32_t end_idx, XiveEnd *ret_end)
{
    if (!x || !ret_end) {
        return -EINVAL;
    }
    if (end_idx >= x->nr_ends) {
        return -ENOENT;
    }
    *ret_end = x->ends[end_idx];
    return 0;
}

int xive_end_set(Xive *x, uint32_t end_idx, const XiveEnd *end)
{
    if (!x || !end) {
        return -EINVAL;
    }
    if (end_idx >= x->nr_ends) {
        return -ENOENT;
    }
    x->ends[end_idx] = *end;
    return 0;
}

int xive_queue_configure(Xive *x, uint32_t vcpu, uint8_t prio, uint64_t qpage,
                         unsigned qshift, unsigned flags)
{
    if (!x || vcpu >= x->nr_vcpus || prio > XIVE_PRIORITY_MAX ||
        (flags & ~XIVE_QUEUE_ALWAYS_NOTIFY)) {
        return -EINVAL;
    }
    XiveEnd *slot = &x->ends[xive_end_index(vcpu, prio)];
    XiveEnd end = *slot;

    switch (qshift) {
    case 0:
        xive_end_reset_one(slot);
        return 0;
    case 12:
    case 16:
    case 21:
    case 24:
        break;
    default:
        return -EDOM;
    }
    uint64_t qbytes = UINT64_C(1) << qshift;
    if ((qpage & (qbytes - 1)) || (qpage >> 60) || !x->mem ||
        vmem_check_range(x->mem, qpage, qbytes) < 0) {
        return -EFAULT;
    }
    xive_end_set_qaddr(&end, qpage);
    xive_end_set_qsize(&end, qshift - 12);
    end.w[0] |= XIVE_END_W0_VALID | XIVE_END_W0_ENQUEUE;
    if (flags & XIVE_QUEUE_ALWAYS_NOTIFY) {
        end.w[0] |= XIVE_END_W0_UCOND_NOTIFY;
    } else {
        end.w[0] &= ~XIVE_END_W0_UCOND_NOTIFY;
    }
    end.w[6] = 0;
    xive_end_set_nvt(&end, XIVE_SPAPR_BLOCK_ID, xive_nvt_index(vcpu));
    end.w[7] = 0;
    xive_end_set_priority(&end, prio);
    /* The generation starts at 1 and the index at 0; as on QEMU, the whole
     * word is rewritten, so ESn and ESe start ready (00). The other control
     * bits and the escalation words are left as they were. */
    end.w[1] = XIVE_END_W1_GENERATION;
    *slot = end;
    return 0;
}

int xive_queue_state(const Xive *x, uint32_t vcpu, uint8_t prio, XiveQueueState *ret)
{
    if (!x || !ret || vcpu >= x->nr_vcpus || prio > XIVE_PRIORITY_MAX) {
        return -EINVAL;
    }
    const XiveEnd *end = &x->ends[xive_end_index(vcpu, prio)];

    memset(ret, 0, sizeof(*ret));
    ret->valid = xive_end_is_valid(end);
    ret->enqueue = xive_end_is_enqueue(end);
    ret->flags = xive_end_is_notify(end) ? XIVE_QUEUE_ALWAYS_NOTIFY : 0;
    if (ret->enqueue) {
        ret->qpage = xive_end_qaddr(end);
        ret->qshift = xive_end_qsize(end) + 12;
    }
    ret->index = xive_end_qindex(end);
    ret->generation = xive_end_qgen(end);
    ret->priority = xive_end_priority(end);
    ret->nvt_index = xive_end_nvt_index(end);
    return 0;
}

int xive_nvt_ipb(const Xive *x, uint32_t vcpu, uint8_t *ret_ipb)
{
    if (!x || !ret_ipb || vcpu >= x->nr_vcpus) {
        return -EINVAL;
    }
    *ret_ipb = x->tctx[vcpu].nvt_ipb;
    return 0;
}
