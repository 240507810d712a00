/* SPDX-License-Identifier: MIT */
/*
 * Interrupt sources: the PQ state machine of each ESB, MSI and LSI inputs,
 * and the ESB MMIO pages (trigger and management), plus the END ESB pages.
 */
#include "xive-internal.h"

#include <errno.h>

/* PQ transitions. Both return whether the event goes on to the router. */
bool xive_esb_trigger_pq(uint8_t *pq)
{
    switch (*pq & XIVE_STATUS_PQ) {
    case XIVE_ESB_RESET:
        *pq = (uint8_t)((*pq & ~XIVE_STATUS_PQ) | XIVE_ESB_PENDING);
        return true;
    case XIVE_ESB_PENDING:
    case XIVE_ESB_QUEUED:
        *pq = (uint8_t)((*pq & ~XIVE_STATUS_PQ) | XIVE_ESB_QUEUED);
        return false;
    default: /* off */
        return false;
    }
}

bool xive_esb_eoi_pq(uint8_t *pq)
{
    switch (*pq & XIVE_STATUS_PQ) {
    case XIVE_ESB_RESET:
    case XIVE_ESB_PENDING:
        *pq = (uint8_t)((*pq & ~XIVE_STATUS_PQ) | XIVE_ESB_RESET);
        return false;
    case XIVE_ESB_QUEUED:
        *pq = (uint8_t)((*pq & ~XIVE_STATUS_PQ) | XIVE_ESB_PENDING);
        return true;
    default: /* off */
        return false;
    }
}

static inline uint8_t set_pq(uint8_t *status, uint8_t pq)
{
    uint8_t old = *status & XIVE_STATUS_PQ;
    *status = (uint8_t)((*status & ~XIVE_STATUS_PQ) | (pq & XIVE_STATUS_PQ));
    return old;
}

/* An LSI level going high: only a ready source (00) forwards the event. */
static bool lsi_assert(uint8_t *status)
{
    *status |= XIVE_STATUS_ASSERTED;
    if ((*status & XIVE_STATUS_PQ) == XIVE_ESB_RESET) {
        set_pq(status, XIVE_ESB_PENDING);
        return true;
    }
    return false;
}

static bool source_trigger(Xive *x, uint32_t lisn)
{
    uint8_t *st = &x->status[lisn];
    bool notify = xive_esb_trigger_pq(st);

    if ((*st & XIVE_STATUS_LSI) && (*st & XIVE_STATUS_PQ) == XIVE_ESB_QUEUED) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "queued an event on LSI IRQ %u", lisn);
    }
    return notify;
}

static bool source_eoi(Xive *x, uint32_t lisn)
{
    uint8_t *st = &x->status[lisn];
    bool notify = xive_esb_eoi_pq(st);

    /* An LSI has no Q to remember a new event, but while its level stays
     * high the EOI must present it again. */
    if ((*st & XIVE_STATUS_LSI) && (*st & XIVE_STATUS_ASSERTED)) {
        notify = lsi_assert(st);
    }
    return notify;
}

static inline int forward(Xive *x, uint32_t lisn, bool notify)
{
    if (notify) {
        xive_router_notify(x, lisn);
    }
    return notify ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Source API                                                                */


int xive_source_info(const Xive *x, uint32_t lisn, XiveSourceInfo *ret_info)
{
    if (!x || !ret_info) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    uint8_t st = x->status[lisn];
    bool two = x->esb_mgmt_bit != 0;
    uint64_t base = (uint64_t)lisn << x->esb_shift;

    ret_info->lsi = st & XIVE_STATUS_LSI;
    ret_info->store_eoi = x->flags & XIVE_SRC_STORE_EOI;
    ret_info->two_pages = two;
    ret_info->page_shift = two ? x->esb_shift - 1 : x->esb_shift;
    ret_info->trigger_offset = base;
    ret_info->mgmt_offset = base + x->esb_mgmt_bit;
    ret_info->asserted = st & XIVE_STATUS_ASSERTED;
    ret_info->pq = st & XIVE_STATUS_PQ;
    return 0;
}

int xive_irq_claim(Xive *x, uint32_t lisn, bool lsi)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    if (xive_eas_is_valid(x->eas[lisn])) {
        return -EBUSY;
    }
    x->eas[lisn] |= XIVE_EAS_VALID | XIVE_EAS_MASKED;
    return xive_source_set_lsi(x, lisn, lsi);
}

int xive_irq_free(Xive *x, uint32_t lisn)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    x->eas[lisn] &= ~XIVE_EAS_VALID;
    return 0;
}

int xive_source_set_lsi(Xive *x, uint32_t lisn, bool lsi)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    if (lsi) {
        x->status[lisn] |= XIVE_STATUS_LSI;
    } else {
        x->status[lisn] &= (uint8_t)~(XIVE_STATUS_LSI | XIVE_STATUS_ASSERTED);
    }
    return 0;
}

int xive_source_set_irq(Xive *x, uint32_t lisn, bool level)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    uint8_t *st = &x->status[lisn];
    bool notify = false;

    if (*st & XIVE_STATUS_LSI) {
        if (level) {
            notify = lsi_assert(st);
        } else {
            *st &= (uint8_t)~XIVE_STATUS_ASSERTED;
        }
    } else if (level) {
        notify = source_trigger(x, lisn);
    }
    return forward(x, lisn, notify);
}

int xive_source_trigger(Xive *x, uint32_t lisn)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    return forward(x, lisn, source_trigger(x, lisn));
}

int xive_source_eoi(Xive *x, uint32_t lisn)
{
    if (!x) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    return forward(x, lisn, source_eoi(x, lisn));
}

int xive_source_get_pq(const Xive *x, uint32_t lisn, uint8_t *ret_pq)
{
    if (!x || !ret_pq) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    *ret_pq = x->status[lisn] & XIVE_STATUS_PQ;
    return 0;
}

int xive_source_set_pq(Xive *x, uint32_t lisn, uint8_t pq, uint8_t *ret_old)
{
    if (!x || pq > 3) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    uint8_t old = set_pq(&x->status[lisn], pq);
    if (ret_old) {
        *ret_old = old;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* ESB MMIO                                                                  */

uint64_t xive_esb_region_size(const Xive *x)
{
    return x ? x->esb_size : 0;
}

unsigned xive_esb_shift(const Xive *x)
{
    return x ? x->esb_shift : 0;
}

/* Loads of the management page (offsets repeat every 4 KiB). */
static uint64_t esb_mgmt_load(Xive *x, uint32_t lisn, uint32_t off)
{
    if (off < XIVE_ESB_GET) { /* 0x000-0x7ff: EOI */
        bool notify = source_eoi(x, lisn);
        forward(x, lisn, notify);
        return notify;
    }
    if (off < XIVE_ESB_SET_PQ_00) { /* 0x800-0xbff */
        return x->status[lisn] & XIVE_STATUS_PQ;
    }
    return set_pq(&x->status[lisn], (uint8_t)((off >> 8) & 3));
}

static void esb_mgmt_store(Xive *x, uint32_t lisn, uint32_t off)
{
    bool notify;

    if (off < XIVE_ESB_STORE_EOI) { /* 0x000-0x3ff: trigger */
        notify = source_trigger(x, lisn);
    } else if (off < XIVE_ESB_INJECT) { /* 0x400-0x7ff: StoreEOI */
        if (!(x->flags & XIVE_SRC_STORE_EOI)) {
            xive_log(x, XIVE_LOG_GUEST_ERROR, "invalid Store EOI for IRQ %u", lisn);
            return;
        }
        notify = source_eoi(x, lisn);
    } else if (off < XIVE_ESB_SET_PQ_00) { /* 0x800-0xbff: inject, PQ untouched */
        notify = true;
    } else {
        set_pq(&x->status[lisn], (uint8_t)((off >> 8) & 3));
        notify = false;
    }
    forward(x, lisn, notify);
}

int xive_esb_mmio(Xive *x, uint64_t offset, unsigned size, uint64_t *value, bool is_write)
{
    if (!x || !value) {
        return -EINVAL;
    }
    if (offset >= x->esb_size) {
        return -ERANGE;
    }
    uint32_t lisn = (uint32_t)(offset >> x->esb_shift);

    if (!xive_access_ok(offset, size)) {
        xive_bad_access(x, "ESB", offset, size, value, is_write);
        return 0;
    }
    if (x->esb_mgmt_bit && !(offset & x->esb_mgmt_bit)) {
        /* Even page of a pair: the trigger page. */
        if (is_write) {
            forward(x, lisn, source_trigger(x, lisn));
        } else {
            xive_log(x, XIVE_LOG_GUEST_ERROR,
                     "invalid load on IRQ %u trigger page at 0x%" PRIx64, lisn, offset);
            *value = xive_ones(size);
        }
        return 0;
    }
    uint32_t off = (uint32_t)(offset & 0xfff);
    if (is_write) {
        esb_mgmt_store(x, lisn, off);
    } else {
        *value = esb_mgmt_load(x, lisn, off) & xive_ones(size);
    }
    return 0;
}

int xive_esb_mgmt_access(Xive *x, uint32_t lisn, uint64_t offset, unsigned size,
                         uint64_t *value, bool is_write)
{
    if (!x || !value) {
        return -EINVAL;
    }
    if (lisn >= x->nr_irqs) {
        return -ENOENT;
    }
    XiveSourceInfo info;
    xive_source_info(x, lisn, &info);
    uint64_t page = UINT64_C(1) << info.page_shift;
    if (offset >= page || size > page - offset) {
        return -ERANGE;
    }
    return xive_esb_mmio(x, info.mgmt_offset + offset, size, value, is_write);
}

/* ------------------------------------------------------------------------ */
/* END ESB MMIO: a pair of 64 KiB pages per END, ESn then ESe                */

#define END_ESB_SHIFT 16u

uint64_t xive_end_esb_region_size(const Xive *x)
{
    return x ? (uint64_t)x->nr_ends << (END_ESB_SHIFT + 1) : 0;
}

int xive_end_esb_mmio(Xive *x, uint64_t offset, unsigned size, uint64_t *value, bool is_write)
{
    if (!x || !value) {
        return -EINVAL;
    }
    if (offset >= xive_end_esb_region_size(x)) {
        return -ERANGE;
    }
    uint32_t end_idx = (uint32_t)(offset >> (END_ESB_SHIFT + 1));
    XiveEnd *end = &x->ends[end_idx];

    if (is_write || !xive_access_ok(offset, size) || !xive_end_is_valid(end)) {
        xive_bad_access(x, "END ESB", offset, size, value, is_write);
        return 0;
    }
    unsigned shift = ((offset >> END_ESB_SHIFT) & 1) ? XIVE_END_W1_ESE_SHIFT
                                                      : XIVE_END_W1_ESN_SHIFT;
    uint8_t pq = (uint8_t)((end->w[1] >> shift) & 3);
    uint32_t off = (uint32_t)(offset & 0xfff);
    uint64_t ret;

    if (off < XIVE_ESB_GET) {
        ret = xive_esb_eoi_pq(&pq);
    } else if (off < XIVE_ESB_SET_PQ_00) {
        ret = pq;
    } else {
        ret = set_pq(&pq, (uint8_t)((off >> 8) & 3));
    }
    end->w[1] = (end->w[1] & ~(UINT32_C(3) << shift)) | ((uint32_t)pq << shift);
    *value = ret & xive_ones(size);
    return 0;
}
