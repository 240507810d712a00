/* SPDX-License-Identifier: MIT */
/*
 * Instance life cycle, resets and the rate-limited guest-error log.
 */
#include "xive-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int xive_new(const XiveConfig *cfg, Xive **ret_xive)
{
    if (!cfg || !ret_xive) {
        return -EINVAL;
    }
    uint32_t shift = cfg->esb_shift ? cfg->esb_shift : XIVE_ESB_64K_2PAGE;
    if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > XIVE_MAX_VCPUS || cfg->nr_irqs == 0 ||
        cfg->nr_irqs > XIVE_MAX_IRQS || (cfg->flags & ~(uint32_t)XIVE_SRC_STORE_EOI)) {
        return -EINVAL;
    }
    if (shift != XIVE_ESB_4K && shift != XIVE_ESB_4K_2PAGE && shift != XIVE_ESB_64K &&
        shift != XIVE_ESB_64K_2PAGE) {
        return -EINVAL;
    }
    Xive *x = calloc(1, sizeof(*x));
    if (!x) {
        return -ENOMEM;
    }
    x->nr_vcpus = cfg->nr_vcpus;
    x->nr_irqs = cfg->nr_irqs;
    x->nr_ends = cfg->nr_vcpus * XIVE_ENDS_PER_VCPU;
    x->esb_shift = shift;
    x->esb_size = (uint64_t)cfg->nr_irqs << shift;
    x->esb_mgmt_bit = (shift == XIVE_ESB_4K_2PAGE || shift == XIVE_ESB_64K_2PAGE)
                          ? UINT64_C(1) << (shift - 1) : 0;
    x->flags = cfg->flags;
    x->mem = cfg->mem;
    x->status = calloc(x->nr_irqs, sizeof(*x->status));
    x->eas = calloc(x->nr_irqs, sizeof(*x->eas));
    x->ends = calloc(x->nr_ends, sizeof(*x->ends));
    /* sizeof(XiveTctx) is a multiple of its alignment, as aligned_alloc()
     * wants; the size cannot overflow (nr_vcpus <= XIVE_MAX_VCPUS). */
    x->tctx = aligned_alloc(_Alignof(XiveTctx), (size_t)x->nr_vcpus * sizeof(*x->tctx));
    if (x->tctx) {
        memset(x->tctx, 0, (size_t)x->nr_vcpus * sizeof(*x->tctx));
    }
    if (!x->status || !x->eas || !x->ends || !x->tctx) {
        xive_free(x);
        return -ENOMEM;
    }
    xive_reset(x);
    *ret_xive = x;
    return 0;
}

void xive_free(Xive *x)
{
    if (!x) {
        return;
    }
    free(x->status);
    free(x->eas);
    free(x->ends);
    free(x->tctx);
    free(x);
}

void xive_reset_routing(Xive *x)
{
    if (!x) {
        return;
    }
    for (uint32_t i = 0; i < x->nr_irqs; i++) {
        /* PQ off, level low; the type (LSI) stays. */
        x->status[i] = (uint8_t)((x->status[i] & XIVE_STATUS_LSI) | XIVE_ESB_OFF);
        x->eas[i] = xive_eas_is_valid(x->eas[i]) ? XIVE_EAS_VALID | XIVE_EAS_MASKED : 0;
    }
    for (uint32_t i = 0; i < x->nr_ends; i++) {
        xive_end_reset_one(&x->ends[i]);
    }
    for (uint32_t v = 0; v < x->nr_vcpus; v++) {
        x->tctx[v].nvt_ipb = 0;
    }
}

void xive_reset(Xive *x)
{
    if (!x) {
        return;
    }
    xive_reset_routing(x);
    for (uint32_t v = 0; v < x->nr_vcpus; v++) {
        xive_tctx_reset_one(x, v);
    }
}

uint32_t xive_nr_vcpus(const Xive *x)
{
    return x ? x->nr_vcpus : 0;
}

uint32_t xive_nr_irqs(const Xive *x)
{
    return x ? x->nr_irqs : 0;
}

uint32_t xive_nr_ends(const Xive *x)
{
    return x ? x->nr_ends : 0;
}

/* ------------------------------------------------------------------------ */
/* Log                                                                       */

void xive_set_log_handler(Xive *x, XiveLogFn fn, void *opaque)
{
    if (x) {
        x->log_fn = fn;
        x->log_opaque = opaque;
    }
}

uint64_t xive_guest_error_count(const Xive *x)
{
    return x ? x->guest_errors : 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

void xive_log(Xive *x, XiveLogLevel level, const char *fmt, ...)
{
    x->guest_errors++;

    uint64_t now = now_ns();
    if (x->log_in_window == 0 || now - x->log_window_start >= XIVE_LOG_WINDOW_NS) {
        x->log_window_start = now;
        x->log_in_window = 0;
    }
    if (x->log_in_window >= XIVE_LOG_BURST) {
        x->log_suppressed++;
        return;
    }
    x->log_in_window++;

    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (x->log_suppressed && (size_t)n < sizeof(msg)) {
        snprintf(msg + n, sizeof(msg) - (size_t)n, " (%" PRIu64 " earlier messages suppressed)",
                 x->log_suppressed);
        x->log_suppressed = 0;
    }
    if (x->log_fn) {
        x->log_fn(x->log_opaque, level, msg);
    } else {
        fprintf(stderr, "xive: %s%s\n", level == XIVE_LOG_UNIMP ? "unimplemented: " : "", msg);
    }
}

void xive_bad_access(Xive *x, const char *where, uint64_t offset, unsigned size,
                     uint64_t *value, bool is_write)
{
    xive_log(x, XIVE_LOG_GUEST_ERROR, "invalid %s %s of size %u at 0x%" PRIx64, where,
             is_write ? "store" : "load", size, offset);
    if (!is_write) {
        *value = xive_ones(size);
    }
}
