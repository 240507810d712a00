/* SPDX-License-Identifier: MIT */
/*
 * Private state of a Xive instance, shared by the source files of the
 * library (never installed).
 */
#ifndef XIVE_INTERNAL_H
#define XIVE_INTERNAL_H

#include "xive/xive.h"

#include <inttypes.h>
#include <stdarg.h>

/* Small functions of the event path, inlined so that the ring (a constant at
 * most call sites) folds away. */
#define XIVE_HOT inline __attribute__((always_inline))

/* Source status byte: PQ in bits 0-1, then the LSI level and type. */
#define XIVE_STATUS_PQ 0x3u
#define XIVE_STATUS_ASSERTED 0x4u
#define XIVE_STATUS_LSI 0x8u
#define XIVE_STATUS_RESERVED 0xf0u

/* Line bits in XiveTctx.lines. */
#define XIVE_LINE_BIT(l) (1u << (l))

/* Escalation chains longer than this are cut (a guest can build loops). */
#define XIVE_ESCALATION_DEPTH_MAX 8u

/* Rate limit of log messages: a burst per window. */
#define XIVE_LOG_BURST 16u
#define XIVE_LOG_WINDOW_NS UINT64_C(1000000000)

/* Cache-line aligned: a vCPU thread touches only its own context, and the
 * array index becomes a shift. */
typedef struct XiveTctx {
    uint8_t regs[XIVE_TM_REGS_SIZE];
    uint8_t nvt_ipb; /* backlog of the NVT whose default thread this is */
    uint8_t lines;   /* XIVE_LINE_BIT(XIVE_LINE_OS) | ... */
    bool special;    /* a CAM line that the sPAPR fast match cannot skip */
} __attribute__((aligned(64))) XiveTctx;

struct Xive {
    uint32_t nr_vcpus;
    uint32_t nr_irqs;
    uint32_t nr_ends;
    uint32_t esb_shift;
    uint32_t flags;
    uint64_t esb_size;     /* nr_irqs << esb_shift */
    uint64_t esb_mgmt_bit; /* offset bit of the management page; 0: one page */
    VMemMap *mem;

    uint8_t *status; /* per source */
    uint64_t *eas;   /* per source */
    XiveEnd *ends;   /* nr_ends */
    XiveTctx *tctx;  /* nr_vcpus */
    uint32_t nr_special; /* thread contexts with tctx.special set */

    XiveLineFn line_fn;
    void *line_opaque;

    XiveLogFn log_fn;
    void *log_opaque;
    uint64_t guest_errors;
    uint64_t log_window_start;
    uint32_t log_in_window;
    uint64_t log_suppressed;
};

/* Logging (xive.c). */
void xive_log(Xive *x, XiveLogLevel level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold));

/* An access the guest should not have made: logged, ignored, and a load
 * reads all ones. @where names the MMIO region. */
void xive_bad_access(Xive *x, const char *where, uint64_t offset, unsigned size,
                     uint64_t *value, bool is_write) __attribute__((cold, noinline));

/* Presenter (presenter.c). */
void xive_tctx_reset_one(Xive *x, uint32_t vcpu);
void xive_tctx_update_special(Xive *x, uint32_t vcpu);
void xive_line_changed(Xive *x, uint32_t vcpu, XiveLine line, bool level);
/* Sets a line's level; the handler hears of changes only. */
static inline void xive_set_line(Xive *x, uint32_t vcpu, XiveLine line, bool level)
{
    if (((x->tctx[vcpu].lines >> line) & 1) != level) {
        xive_line_changed(x, vcpu, line, level);
    }
}
/* Presents an event of @prio for NVT (blk, idx). Returns true if a thread
 * context matched and took it. */
bool xive_presenter_notify(Xive *x, uint8_t nvt_blk, uint32_t nvt_idx, uint8_t prio);

/* Router (router.c). */
void xive_router_notify(Xive *x, uint32_t lisn);
void xive_end_reset_one(XiveEnd *end);

/* ESB PQ machine (source.c). */
bool xive_esb_trigger_pq(uint8_t *pq);
bool xive_esb_eoi_pq(uint8_t *pq);

static inline uint32_t xive_ld_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void xive_st_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* All ones, as wide as an access of @size bytes (8 for anything larger). */
static inline uint64_t xive_ones(unsigned size)
{
    return size >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * size)) - 1;
}

/* A 1, 2, 4 or 8-byte access, naturally aligned. */
static inline bool xive_access_ok(uint64_t offset, unsigned size)
{
    return size <= 8 && ((0x116u >> size) & 1) && !(offset & (size - 1));
}

#endif /* XIVE_INTERNAL_H */
