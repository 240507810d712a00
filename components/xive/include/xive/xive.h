/* SPDX-License-Identifier: MIT */
/*
 * xive: a model of the POWER9 XIVE interrupt controller as an sPAPR (pseries)
 * guest sees it, behaving as QEMU's model (hw/intc/xive.c, spapr_xive.c) does
 * for the same inputs.
 *
 * One Xive instance holds:
 *   - sources: N interrupt sources (LISN 0 .. N-1), each MSI or LSI, each with
 *     an ESB (event state buffer: the PQ bits) managed through MMIO pages;
 *   - the router: one EAS per source (LISN -> END + data) and 8 ENDs per vCPU
 *     (END index = vcpu * 8 + priority), each END an event queue in guest
 *     memory written through vm-memory, big-endian;
 *   - the presenter: one thread context per vCPU with the four TIMA rings
 *     (USER, OS, POOL, PHYS) and an output line per vCPU.
 *
 * Address map, for the VMM (QEMU's sPAPR defaults in brackets):
 *   - ESB region [XIVE_SPAPR_ESB_BASE]: xive_esb_region_size() bytes, source
 *     n at offset n << esb_shift. With a two-page shift (13 or 17) the even
 *     half is the trigger page and the odd half the management page; with a
 *     one-page shift (12 or 16) one page does both. The VMM forwards each
 *     access inside the region to xive_esb_mmio() with the offset from the
 *     region's start.
 *   - END ESB region, right after the ESB region: xive_end_esb_region_size()
 *     bytes, two 64 KiB pages per END (ESn, ESe), see xive_end_esb_mmio().
 *     QEMU keeps it unmapped for sPAPR guests; it is offered for completeness.
 *   - TIMA [XIVE_SPAPR_TIMA_BASE]: XIVE_TM_PAGE_COUNT pages of
 *     XIVE_TM_PAGE_SIZE bytes, page 0 HW, 1 HV, 2 OS, 3 USER. Every vCPU sees
 *     its own thread context there: the VMM forwards an access at tima_base +
 *     p * 64K + off from vCPU v to xive_tima_mmio(x, v, p, off, ...). An sPAPR
 *     guest is given the USER and OS pages only.
 *
 * MMIO values are numbers: the byte at the lowest address of a big-endian
 * access is the most significant byte of the value, whatever the host's byte
 * order. The VMM converts from/to the guest's access as for any big-endian
 * device.
 *
 * Guest mistakes (bad access size or alignment, loads from a trigger page,
 * StoreEOI without the capability, a queue outside guest memory, ...) are
 * not errors of the API: the access is ignored as hardware does, a load
 * returns all ones, and a rate-limited message goes to the log handler
 * (xive_set_log_handler()). API errors are negative errno values; nothing in
 * this library aborts or asserts on input.
 *
 * Concurrency: an instance is not internally locked. The caller serialises
 * every call on one instance (a VMM typically holds one lock around each
 * MMIO or hcall dispatch, as QEMU does with its big lock). The line handler is
 * called synchronously, from inside the call that changed the line.
 *
 * Bit numbering: as in the XIVE architecture, PPC bit 0 is the most
 * significant bit of a word (XIVE_PPC_BIT32(31) == 1).
 */
#ifndef XIVE_XIVE_H
#define XIVE_XIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm-memory/vm-memory.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XIVE_VERSION_MAJOR 0
#define XIVE_VERSION_MINOR 1
#define XIVE_VERSION_MICRO 0

#define XIVE_PPC_BIT64(b) (UINT64_C(1) << (63 - (b)))
#define XIVE_PPC_BIT32(b) (UINT32_C(1) << (31 - (b)))

/* ------------------------------------------------------------------------ */
/* Limits and sPAPR constants                                                */

/** XIVE_MAX_VCPUS: the most vCPUs (thread contexts) one instance models. */
#define XIVE_MAX_VCPUS 65536u
/** XIVE_MAX_IRQS: the most sources one instance models. */
#define XIVE_MAX_IRQS (1u << 20)
/** XIVE_PRIORITY_MAX: priorities are 0 (most favoured) .. 7. */
#define XIVE_PRIORITY_MAX 7u
/** XIVE_ENDS_PER_VCPU: one END per priority; END index = vcpu * 8 + prio. */
#define XIVE_ENDS_PER_VCPU 8u

/** Default guest-physical bases QEMU uses for a pseries machine. */
#define XIVE_SPAPR_ESB_BASE UINT64_C(0x0006010000000000)
#define XIVE_SPAPR_TIMA_BASE UINT64_C(0x0006030203180000)
/** sPAPR NVT identifiers: NVT index of vCPU n is 0x400 + n, block 0. */
#define XIVE_SPAPR_NVT_BASE 0x400u
#define XIVE_SPAPR_BLOCK_ID 0u

/** ESB page shifts (log2 of the per-source ESB stride). */
#define XIVE_ESB_4K 12u        /* one 4 KiB page: trigger + management */
#define XIVE_ESB_4K_2PAGE 13u  /* 4 KiB trigger page, then 4 KiB management page */
#define XIVE_ESB_64K 16u       /* one 64 KiB page */
#define XIVE_ESB_64K_2PAGE 17u /* 64 KiB trigger, 64 KiB management (QEMU default) */

/** ESB PQ values (P = 0x2, Q = 0x1). */
#define XIVE_ESB_VAL_P 0x2u
#define XIVE_ESB_VAL_Q 0x1u
#define XIVE_ESB_RESET 0x0u   /* 00: ready */
#define XIVE_ESB_OFF 0x1u     /* 01: off (the reset state of a source) */
#define XIVE_ESB_PENDING 0x2u /* 10: an event was forwarded */
#define XIVE_ESB_QUEUED 0x3u  /* 11: another event arrived while pending */

/** ESB management-page offsets (within each 4 KiB of a page). */
#define XIVE_ESB_LOAD_EOI 0x000u   /* load: EOI, returns 1 if re-notified */
#define XIVE_ESB_STORE_TRIGGER 0x000u /* store: trigger */
#define XIVE_ESB_STORE_EOI 0x400u  /* store: EOI (needs XIVE_SRC_STORE_EOI) */
#define XIVE_ESB_GET 0x800u        /* load: returns PQ */
#define XIVE_ESB_INJECT 0x800u     /* store: forward an event, PQ untouched */
#define XIVE_ESB_SET_PQ_00 0xc00u  /* load or store: set PQ, a load returns the old */
#define XIVE_ESB_SET_PQ_01 0xd00u
#define XIVE_ESB_SET_PQ_10 0xe00u
#define XIVE_ESB_SET_PQ_11 0xf00u

/* ------------------------------------------------------------------------ */
/* EAS: 64-bit Event Assignment Structure, one per source                    */

#define XIVE_EAS_VALID XIVE_PPC_BIT64(0)
#define XIVE_EAS_END_BLOCK_SHIFT 56 /* bits 4-7 */
#define XIVE_EAS_END_BLOCK_MASK 0xfu
#define XIVE_EAS_END_INDEX_SHIFT 32 /* bits 8-31 */
#define XIVE_EAS_END_INDEX_MASK 0xffffffu
#define XIVE_EAS_MASKED XIVE_PPC_BIT64(32)
#define XIVE_EAS_END_DATA_MASK 0x7fffffffu /* bits 33-63: the EISN */

static inline uint64_t xive_eas_build(bool valid, bool masked, uint8_t end_blk,
                                      uint32_t end_idx, uint32_t end_data)
{
    return (valid ? XIVE_EAS_VALID : 0) | (masked ? XIVE_EAS_MASKED : 0) |
           ((uint64_t)(end_blk & XIVE_EAS_END_BLOCK_MASK) << XIVE_EAS_END_BLOCK_SHIFT) |
           ((uint64_t)(end_idx & XIVE_EAS_END_INDEX_MASK) << XIVE_EAS_END_INDEX_SHIFT) |
           (end_data & XIVE_EAS_END_DATA_MASK);
}
static inline bool xive_eas_is_valid(uint64_t eas) { return eas & XIVE_EAS_VALID; }
static inline bool xive_eas_is_masked(uint64_t eas) { return eas & XIVE_EAS_MASKED; }
static inline uint8_t xive_eas_end_block(uint64_t eas)
{
    return (uint8_t)((eas >> XIVE_EAS_END_BLOCK_SHIFT) & XIVE_EAS_END_BLOCK_MASK);
}
static inline uint32_t xive_eas_end_index(uint64_t eas)
{
    return (uint32_t)((eas >> XIVE_EAS_END_INDEX_SHIFT) & XIVE_EAS_END_INDEX_MASK);
}
static inline uint32_t xive_eas_end_data(uint64_t eas)
{
    return (uint32_t)(eas & XIVE_EAS_END_DATA_MASK);
}

/* ------------------------------------------------------------------------ */
/* END: Event Notification Descriptor, 8 x 32-bit words                     */

/**
 * XiveEnd: an END as eight numbers (w[0] is word 0; PPC bit 0 of a word is its
 * most significant bit). The END table is not guest-visible on sPAPR, so the
 * words are kept as host values; xive_state_save() stores them big-endian.
 */
typedef struct XiveEnd {
    uint32_t w[8];
} XiveEnd;

/* word 0 */
#define XIVE_END_W0_VALID XIVE_PPC_BIT32(0)            /* v */
#define XIVE_END_W0_ENQUEUE XIVE_PPC_BIT32(1)          /* q */
#define XIVE_END_W0_UCOND_NOTIFY XIVE_PPC_BIT32(2)     /* n: skip ESn coalescing */
#define XIVE_END_W0_BACKLOG XIVE_PPC_BIT32(3)          /* b */
#define XIVE_END_W0_PRECL_ESC_CTL XIVE_PPC_BIT32(4)    /* p */
#define XIVE_END_W0_ESCALATE_CTL XIVE_PPC_BIT32(5)     /* e */
#define XIVE_END_W0_UNCOND_ESCALATE XIVE_PPC_BIT32(6)  /* u: skip ESe coalescing */
#define XIVE_END_W0_SILENT_ESCALATE XIVE_PPC_BIT32(7)  /* s: escalate only */
#define XIVE_END_W0_QSIZE_SHIFT 16                     /* bits 12-15 */
#define XIVE_END_W0_QSIZE_MASK 0xfu                    /* 1 << (QSIZE + 10) entries */
#define XIVE_END_W0_FIRMWARE XIVE_PPC_BIT32(16)
/* word 1 */
#define XIVE_END_W1_ESN_SHIFT 30 /* bits 0-1: ESn PQ */
#define XIVE_END_W1_ESN_P XIVE_PPC_BIT32(0)
#define XIVE_END_W1_ESN_Q XIVE_PPC_BIT32(1)
#define XIVE_END_W1_ESE_SHIFT 28 /* bits 2-3: ESe PQ */
#define XIVE_END_W1_ESE_P XIVE_PPC_BIT32(2)
#define XIVE_END_W1_ESE_Q XIVE_PPC_BIT32(3)
#define XIVE_END_W1_GENERATION XIVE_PPC_BIT32(9)
#define XIVE_END_W1_PAGE_OFF_MASK 0x3fffffu /* bits 10-31: queue index */
/* words 2, 3: queue address, bits 4-31 of w2 are address bits 32-59 */
#define XIVE_END_W2_QADDR_HI_MASK 0x0fffffffu
/* words 4, 5: the escalation EAS (w4 = EAS bits 0-31, w5 = bits 32-63) */
/* word 6 */
#define XIVE_END_W6_FORMAT_BIT XIVE_PPC_BIT32(8)
#define XIVE_END_W6_NVT_BLOCK_SHIFT 19 /* bits 9-12 */
#define XIVE_END_W6_NVT_BLOCK_MASK 0xfu
#define XIVE_END_W6_NVT_INDEX_MASK 0x7ffffu /* bits 13-31 */
/* word 7 (format 0) */
#define XIVE_END_W7_F0_IGNORE XIVE_PPC_BIT32(0)
#define XIVE_END_W7_F0_PRIORITY_SHIFT 16 /* bits 8-15; 0xff masks the END */

static inline bool xive_end_is_valid(const XiveEnd *e) { return e->w[0] & XIVE_END_W0_VALID; }
static inline bool xive_end_is_enqueue(const XiveEnd *e) { return e->w[0] & XIVE_END_W0_ENQUEUE; }
static inline bool xive_end_is_notify(const XiveEnd *e) { return e->w[0] & XIVE_END_W0_UCOND_NOTIFY; }
static inline bool xive_end_is_backlog(const XiveEnd *e) { return e->w[0] & XIVE_END_W0_BACKLOG; }
static inline bool xive_end_is_escalate(const XiveEnd *e) { return e->w[0] & XIVE_END_W0_ESCALATE_CTL; }

static inline uint64_t xive_end_qaddr(const XiveEnd *e)
{
    return ((uint64_t)(e->w[2] & XIVE_END_W2_QADDR_HI_MASK) << 32) | e->w[3];
}
static inline void xive_end_set_qaddr(XiveEnd *e, uint64_t qaddr)
{
    e->w[2] = (e->w[2] & ~XIVE_END_W2_QADDR_HI_MASK) |
              ((uint32_t)(qaddr >> 32) & XIVE_END_W2_QADDR_HI_MASK);
    e->w[3] = (uint32_t)qaddr;
}
/** xive_end_qsize: the QSIZE field; the queue holds 1 << (QSIZE + 10) entries. */
static inline unsigned xive_end_qsize(const XiveEnd *e)
{
    return (e->w[0] >> XIVE_END_W0_QSIZE_SHIFT) & XIVE_END_W0_QSIZE_MASK;
}
static inline void xive_end_set_qsize(XiveEnd *e, unsigned qsize)
{
    e->w[0] = (e->w[0] & ~(XIVE_END_W0_QSIZE_MASK << XIVE_END_W0_QSIZE_SHIFT)) |
              ((qsize & XIVE_END_W0_QSIZE_MASK) << XIVE_END_W0_QSIZE_SHIFT);
}
static inline uint32_t xive_end_qentries(const XiveEnd *e)
{
    return UINT32_C(1) << (xive_end_qsize(e) + 10);
}
/** xive_end_qindex: PAGE_OFF, the index of the next entry to write. */
static inline uint32_t xive_end_qindex(const XiveEnd *e) { return e->w[1] & XIVE_END_W1_PAGE_OFF_MASK; }
static inline unsigned xive_end_qgen(const XiveEnd *e) { return !!(e->w[1] & XIVE_END_W1_GENERATION); }
static inline uint8_t xive_end_esn(const XiveEnd *e) { return (e->w[1] >> XIVE_END_W1_ESN_SHIFT) & 3; }
static inline uint8_t xive_end_ese(const XiveEnd *e) { return (e->w[1] >> XIVE_END_W1_ESE_SHIFT) & 3; }
static inline uint8_t xive_end_priority(const XiveEnd *e)
{
    return (uint8_t)(e->w[7] >> XIVE_END_W7_F0_PRIORITY_SHIFT);
}
static inline void xive_end_set_priority(XiveEnd *e, uint8_t prio)
{
    e->w[7] = (e->w[7] & ~(UINT32_C(0xff) << XIVE_END_W7_F0_PRIORITY_SHIFT)) |
              ((uint32_t)prio << XIVE_END_W7_F0_PRIORITY_SHIFT);
}
static inline uint8_t xive_end_nvt_block(const XiveEnd *e)
{
    return (e->w[6] >> XIVE_END_W6_NVT_BLOCK_SHIFT) & XIVE_END_W6_NVT_BLOCK_MASK;
}
static inline uint32_t xive_end_nvt_index(const XiveEnd *e) { return e->w[6] & XIVE_END_W6_NVT_INDEX_MASK; }
static inline void xive_end_set_nvt(XiveEnd *e, uint8_t blk, uint32_t idx)
{
    e->w[6] = (e->w[6] & XIVE_END_W6_FORMAT_BIT) |
              ((uint32_t)(blk & XIVE_END_W6_NVT_BLOCK_MASK) << XIVE_END_W6_NVT_BLOCK_SHIFT) |
              (idx & XIVE_END_W6_NVT_INDEX_MASK);
}
/** xive_end_esc_eas: the escalation EAS held in words 4 and 5. */
static inline uint64_t xive_end_esc_eas(const XiveEnd *e)
{
    return ((uint64_t)e->w[4] << 32) | e->w[5];
}
static inline void xive_end_set_esc_eas(XiveEnd *e, uint64_t eas)
{
    e->w[4] = (uint32_t)(eas >> 32);
    e->w[5] = (uint32_t)eas;
}

/** xive_end_index: sPAPR END index of (vcpu, priority). */
static inline uint32_t xive_end_index(uint32_t vcpu, uint8_t prio)
{
    return (vcpu << 3) + prio;
}
/** xive_nvt_index: sPAPR NVT index (and OS CAM value) of a vCPU. */
static inline uint32_t xive_nvt_index(uint32_t vcpu) { return XIVE_SPAPR_NVT_BASE + vcpu; }

/* ------------------------------------------------------------------------ */
/* TIMA layout                                                               */

#define XIVE_TM_PAGE_SHIFT 16
#define XIVE_TM_PAGE_SIZE (UINT64_C(1) << XIVE_TM_PAGE_SHIFT)
#define XIVE_TM_PAGE_COUNT 4u
#define XIVE_TIMA_SIZE (XIVE_TM_PAGE_COUNT * XIVE_TM_PAGE_SIZE)

/**
 * XiveTmPage: the four TIMA views. A lower number is more privileged; an
 * operation is allowed from its own page or a more privileged one.
 */
typedef enum XiveTmPage {
    XIVE_TM_HW_PAGE = 0,
    XIVE_TM_HV_PAGE = 1,
    XIVE_TM_OS_PAGE = 2,
    XIVE_TM_USER_PAGE = 3,
    _XIVE_TM_PAGE_MAX,
    _XIVE_TM_PAGE_INVALID = -22, /* -EINVAL */
} XiveTmPage;

/* Rings (quad words) and the bytes in a ring. */
#define XIVE_TM_RING_SIZE 0x10u
#define XIVE_TM_REGS_SIZE 0x40u /* 4 rings */
#define XIVE_TM_QW0_USER 0x00u
#define XIVE_TM_QW1_OS 0x10u
#define XIVE_TM_QW2_HV_POOL 0x20u
#define XIVE_TM_QW3_HV_PHYS 0x30u
#define XIVE_TM_NSR 0x0u
#define XIVE_TM_CPPR 0x1u
#define XIVE_TM_IPB 0x2u
#define XIVE_TM_LSMFB 0x3u
#define XIVE_TM_ACK_CNT 0x4u
#define XIVE_TM_INC 0x5u
#define XIVE_TM_AGE 0x6u
#define XIVE_TM_PIPR 0x7u
#define XIVE_TM_WORD2 0x8u
#define XIVE_TM_QW1W2_VO XIVE_PPC_BIT32(0)      /* OS context valid */
#define XIVE_TM_QW1W2_OS_CAM_MASK 0x00ffffffu   /* bits 8-31 */
#define XIVE_TM_QW2W2_VP XIVE_PPC_BIT32(0)
#define XIVE_TM_QW3B8_VT 0x80u                  /* byte 8 of QW3 */
#define XIVE_TM_QW1_NSR_EO 0x80u                /* OS exception pending */
#define XIVE_TM_QW3_NSR_HE_SHIFT 6              /* 1 POOL, 2 PHYS, 3 LSI */

/* Special operations (offsets within each 4 KiB of a page). */
#define XIVE_TM_SPECIAL_OP 0x800u
#define XIVE_TM_SPC_ACK_EBB 0x800u
#define XIVE_TM_SPC_ACK_OS_REG 0x810u    /* load 16, OS page */
#define XIVE_TM_SPC_SET_OS_PENDING 0x812u /* store 8, OS page */
#define XIVE_TM_SPC_PULL_OS_CTX 0x818u   /* load 32/64, HV page */
#define XIVE_TM_SPC_PULL_POOL_CTX 0x828u /* load 32/64, HV page */
#define XIVE_TM_SPC_ACK_HV_REG 0x830u    /* load 16, HV page */
#define XIVE_TM_SPC_PULL_PHYS_CTX 0x838u /* load 8, HV page */

/* ------------------------------------------------------------------------ */
/* Instance                                                                  */

/** Xive: opaque XIVE instance (sources + router + presenter). */
typedef struct Xive Xive;

/** Source flags (XiveConfig.flags). */
enum {
    /* Stores at 0x400-0x7ff of a management page are EOIs (StoreEOI). */
    XIVE_SRC_STORE_EOI = 1u << 0,
};

/**
 * XiveConfig:
 * @nr_vcpus: number of thread contexts, 1 .. XIVE_MAX_VCPUS. vCPU n has the
 *            sPAPR NVT 0x400 + n and ENDs n * 8 .. n * 8 + 7.
 * @nr_irqs: number of sources, 1 .. XIVE_MAX_IRQS (QEMU's sPAPR: 0x2000).
 * @esb_shift: XIVE_ESB_4K, XIVE_ESB_4K_2PAGE, XIVE_ESB_64K or
 *             XIVE_ESB_64K_2PAGE; 0 selects XIVE_ESB_64K_2PAGE.
 * @flags: XIVE_SRC_STORE_EOI or 0.
 * @mem: guest memory the event queues live in; borrowed, must outlive the
 *       instance. May be NULL: every enqueue then fails as a guest error.
 */
typedef struct XiveConfig {
    uint32_t nr_vcpus;
    uint32_t nr_irqs;
    uint32_t esb_shift;
    uint32_t flags;
    VMemMap *mem;
} XiveConfig;

/**
 * xive_new:
 * @cfg: the configuration (copied).
 * @ret_xive: where to store the instance (written only on success).
 *
 * Creates an instance in its reset state (see xive_reset()): every source
 * MSI with PQ 01 and an invalid EAS, every END zero but ESn = ESe = 01, every
 * thread context reset with its OS CAM line pushed (0x80000400 + vcpu).
 *
 * Returns: 0 on success; -EINVAL if @cfg or @ret_xive is NULL, nr_vcpus or
 * nr_irqs is 0 or above its maximum, esb_shift is not one of the four
 * shifts, or flags has unknown bits; -ENOMEM.
 */
int xive_new(const XiveConfig *cfg, Xive **ret_xive);

/**
 * xive_free:
 * @x: an instance, or NULL. The line handler is not called.
 */
void xive_free(Xive *x);

/**
 * xive_reset:
 * @x: the instance.
 *
 * Machine reset. Sources: PQ = 01, LSI levels deasserted (the MSI/LSI type is
 * kept). EAS: a valid EAS becomes VALID | MASKED (no END, data 0), others 0.
 * END: all zero except ESn = ESe = 01. Backlogged NVT IPBs cleared. Every
 * thread context reset as xive_vcpu_reset() does; lines that were raised are
 * lowered through the line handler.
 */
void xive_reset(Xive *x);

/**
 * xive_reset_routing:
 * @x: the instance.
 *
 * Resets what a guest configures through the XIVE hcalls (H_INT_RESET):
 * sources, EAS, END and backlogged NVT IPBs as xive_reset() does, thread
 * contexts left alone.
 */
void xive_reset_routing(Xive *x);

/**
 * xive_vcpu_reset:
 * @x: the instance.
 * @vcpu: 0 .. nr_vcpus - 1.
 *
 * Resets one thread context as QEMU's sPAPR CPU reset does: all ring bytes
 * 0 except OS LSMFB, ACK_CNT and AGE = 0xff, OS and PHYS PIPR = 0xff; then
 * the OS CAM line (QW1 WORD2) = VO | (0x400 + vcpu). Its lines are lowered.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL or @vcpu is out of range.
 */
int xive_vcpu_reset(Xive *x, uint32_t vcpu);

/** xive_nr_vcpus, xive_nr_irqs, xive_nr_ends: sizes (0 for NULL). */
uint32_t xive_nr_vcpus(const Xive *x);
uint32_t xive_nr_irqs(const Xive *x);
uint32_t xive_nr_ends(const Xive *x); /* nr_vcpus * 8 */

/* ------------------------------------------------------------------------ */
/* Logging of guest errors                                                   */

typedef enum XiveLogLevel {
    XIVE_LOG_GUEST_ERROR = 0, /* the guest did something invalid */
    XIVE_LOG_UNIMP = 1,       /* valid but not modelled */
    _XIVE_LOG_MAX,
    _XIVE_LOG_INVALID = -22,
} XiveLogLevel;

/**
 * XiveLogFn: receives one message (no trailing newline).
 */
typedef void (*XiveLogFn)(void *opaque, XiveLogLevel level, const char *msg);

/**
 * xive_set_log_handler:
 * @x: the instance.
 * @fn: the handler, or NULL for the default (stderr, prefixed "xive: ").
 * @opaque: passed to @fn.
 *
 * Messages are rate limited before they reach the handler: at most 16 per
 * second; the number suppressed is reported with the next one let through.
 */
void xive_set_log_handler(Xive *x, XiveLogFn fn, void *opaque);

/**
 * xive_guest_error_count:
 * Returns: the number of guest errors and unimplemented requests seen since
 * creation, logged or suppressed (0 for NULL). For tests and statistics.
 */
uint64_t xive_guest_error_count(const Xive *x);

/* ------------------------------------------------------------------------ */
/* Sources                                                                   */

/**
 * XiveSourceInfo: what H_INT_GET_SOURCE_INFO reports, and where the pages are.
 * @lsi: level-sensitive source.
 * @store_eoi: StoreEOI is supported (XIVE_SRC_STORE_EOI).
 * @two_pages: separate trigger and management pages.
 * @page_shift: log2 of each ESB page (esb_shift - 1 with two pages).
 * @mgmt_offset: offset of the management page in the ESB region.
 * @trigger_offset: offset of the trigger page in the ESB region (the
 *                  management page itself with one page).
 * @asserted: an LSI whose level is currently high.
 * @pq: current PQ bits.
 */
typedef struct XiveSourceInfo {
    bool lsi;
    bool store_eoi;
    bool two_pages;
    unsigned page_shift;
    uint64_t mgmt_offset;
    uint64_t trigger_offset;
    bool asserted;
    uint8_t pq;
} XiveSourceInfo;

/**
 * xive_source_info:
 * @x: the instance.
 * @lisn: source number.
 * @ret_info: filled on success.
 *
 * Returns: 0 on success; -EINVAL if @x or @ret_info is NULL; -ENOENT if
 * @lisn >= nr_irqs.
 */
int xive_source_info(const Xive *x, uint32_t lisn, XiveSourceInfo *ret_info);

/**
 * xive_irq_claim:
 * @x: the instance.
 * @lisn: source number.
 * @lsi: true for a level-sensitive source, false for an MSI.
 *
 * Allocates a source as QEMU's sPAPR claim does: its EAS becomes VALID |
 * MASKED and its type is set. PQ is not changed.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL; -ENOENT if @lisn >= nr_irqs;
 * -EBUSY if its EAS is already valid (nothing changed).
 */
int xive_irq_claim(Xive *x, uint32_t lisn, bool lsi);

/**
 * xive_irq_free:
 * Clears the VALID bit of the source's EAS (the rest is kept, as QEMU does).
 *
 * Returns: 0 on success; -EINVAL if @x is NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_irq_free(Xive *x, uint32_t lisn);

/**
 * xive_source_set_lsi:
 * Sets the type of a source without touching its EAS.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_source_set_lsi(Xive *x, uint32_t lisn, bool lsi);

/**
 * xive_source_set_irq:
 * @x: the instance.
 * @lisn: source number.
 * @level: the input level from a device.
 *
 * The device-side input of a source. MSI: a high level is a trigger (PQ
 * 00 -> 10 and notify, 10/11 -> 11, 01 stays), a low level does nothing.
 * LSI: a high level marks the source asserted and notifies only on 00 -> 10;
 * a low level deasserts it.
 *
 * Returns: 1 if an event was forwarded to the router, 0 if not; -EINVAL if
 * @x is NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_source_set_irq(Xive *x, uint32_t lisn, bool level);

/**
 * xive_source_trigger:
 * An ESB trigger (what a store to the trigger page does), for MSI and LSI.
 *
 * Returns: 1 if an event was forwarded to the router, 0 if coalesced or off;
 * -EINVAL if @x is NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_source_trigger(Xive *x, uint32_t lisn);

/**
 * xive_source_eoi:
 * An ESB EOI (what a load at 0x000 of the management page does): PQ 00/10
 * -> 00, 11 -> 10 and a new notification, 01 stays. An LSI still asserted is
 * triggered again.
 *
 * Returns: 1 if an event was forwarded again, 0 if not; -EINVAL if @x is
 * NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_source_eoi(Xive *x, uint32_t lisn);

/**
 * xive_source_get_pq:
 * Returns: 0 and the PQ bits in *@ret_pq; -EINVAL if @x or @ret_pq is NULL;
 * -ENOENT if @lisn >= nr_irqs.
 */
int xive_source_get_pq(const Xive *x, uint32_t lisn, uint8_t *ret_pq);

/**
 * xive_source_set_pq:
 * @x: the instance.
 * @lisn: source number.
 * @pq: new PQ bits, 0 .. 3. Nothing is notified.
 * @ret_old: if not NULL, receives the previous PQ bits.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL or @pq > 3; -ENOENT if
 * @lisn >= nr_irqs.
 */
int xive_source_set_pq(Xive *x, uint32_t lisn, uint8_t pq, uint8_t *ret_old);

/* ------------------------------------------------------------------------ */
/* ESB MMIO                                                                  */

/**
 * xive_esb_region_size:
 * Returns: the size of the ESB region, nr_irqs << esb_shift (0 for NULL).
 */
uint64_t xive_esb_region_size(const Xive *x);

/**
 * xive_esb_shift:
 * Returns: the per-source ESB stride shift (12, 13, 16 or 17; 0 for NULL).
 */
unsigned xive_esb_shift(const Xive *x);

/**
 * xive_esb_mmio:
 * @x: the instance.
 * @offset: offset of the access from the start of the ESB region.
 * @size: access size in bytes (1, 2, 4 or 8 are valid).
 * @value: for a store, the value written; for a load, receives the value
 *         (all ones, truncated to @size, for an invalid load).
 * @is_write: true for a store.
 *
 * The source is @offset >> esb_shift; the operation is chosen by @offset &
 * 0xfff on the management page (see the XIVE_ESB_* offsets). Loads from a
 * trigger page return all ones; any store to it triggers. A misaligned
 * access or an invalid size is a guest error: ignored, loads read all ones.
 *
 * Returns: 0 when the access was handled, including guest errors; -EINVAL if
 * @x or @value is NULL; -ERANGE if @offset is outside the region (nothing
 * done, *@value untouched).
 */
int xive_esb_mmio(Xive *x, uint64_t offset, unsigned size, uint64_t *value, bool is_write);

/**
 * xive_esb_mgmt_access:
 * @x: the instance.
 * @lisn: source number.
 * @offset: offset inside the source's management page.
 * @size: access size (as xive_esb_mmio()).
 * @value: as xive_esb_mmio().
 * @is_write: true for a store.
 *
 * An access to a source's management page by number, for H_INT_ESB and for
 * sources without MMIO. Same semantics as xive_esb_mmio().
 *
 * Returns: 0 when handled; -EINVAL if @x or @value is NULL; -ENOENT if
 * @lisn >= nr_irqs; -ERANGE if @offset + @size is beyond the management page.
 */
int xive_esb_mgmt_access(Xive *x, uint32_t lisn, uint64_t offset, unsigned size,
                         uint64_t *value, bool is_write);

/**
 * xive_end_esb_region_size:
 * Returns: the size of the END ESB region: nr_ends pairs of 64 KiB pages
 * (even page: ESn, odd page: ESe); 0 for NULL.
 */
uint64_t xive_end_esb_region_size(const Xive *x);

/**
 * xive_end_esb_mmio:
 * @x: the instance.
 * @offset: offset from the start of the END ESB region; END n owns
 *          [n << 17, (n + 1) << 17).
 * @size, @value, @is_write: as xive_esb_mmio().
 *
 * Loads manage the END's ESn (even page) or ESe (odd page) PQ bits with the
 * ESB load offsets (EOI, get, set PQ), as QEMU's END source does; stores and
 * accesses to an invalid END are guest errors (loads read all ones).
 *
 * Returns: 0 when handled; -EINVAL if @x or @value is NULL; -ERANGE if
 * @offset is outside the region.
 */
int xive_end_esb_mmio(Xive *x, uint64_t offset, unsigned size, uint64_t *value,
                      bool is_write);

/* ------------------------------------------------------------------------ */
/* Router tables                                                             */

/**
 * xive_eas_get:
 * Returns: 0 and the EAS of @lisn in *@ret_eas; -EINVAL if @x or @ret_eas is
 * NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_eas_get(const Xive *x, uint32_t lisn, uint64_t *ret_eas);

/**
 * xive_eas_set:
 * @x: the instance.
 * @lisn: source number.
 * @eas: the new EAS (see xive_eas_build()); any value is accepted. An EAS
 *       naming an END that does not exist is reported as a guest error when
 *       an event uses it.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL; -ENOENT if @lisn >= nr_irqs.
 */
int xive_eas_set(Xive *x, uint32_t lisn, uint64_t eas);

/**
 * xive_end_get:
 * Returns: 0 and a copy of END @end_idx in *@ret_end; -EINVAL if @x or
 * @ret_end is NULL; -ENOENT if @end_idx >= nr_ends.
 */
int xive_end_get(const Xive *x, uint32_t end_idx, XiveEnd *ret_end);

/**
 * xive_end_set:
 * @x: the instance.
 * @end_idx: END index (xive_end_index()).
 * @end: the eight words; any value is accepted. The queue index is used
 *       modulo the queue size, so an event never lands outside
 *       [qaddr, qaddr + 4 * entries).
 *
 * Returns: 0 on success; -EINVAL if @x or @end is NULL; -ENOENT if
 * @end_idx >= nr_ends.
 */
int xive_end_set(Xive *x, uint32_t end_idx, const XiveEnd *end);

/** Flags of xive_queue_configure() and XiveQueueState. */
enum {
    /* END "n" bit: notify on every event, no coalescing through ESn. */
    XIVE_QUEUE_ALWAYS_NOTIFY = 1u << 0,
};

/**
 * xive_queue_configure:
 * @x: the instance.
 * @vcpu: the target vCPU.
 * @prio: 0 .. 7.
 * @qpage: guest-physical address of the queue.
 * @qshift: log2 of the queue size in bytes: 12, 16, 21 or 24; or 0 to reset
 *          the END (queueing off, invalid, ESn = ESe = 01).
 * @flags: XIVE_QUEUE_ALWAYS_NOTIFY or 0.
 *
 * Sets the END (vcpu, prio) as H_INT_SET_QUEUE_CONFIG does on QEMU, after
 * its hcall-level checks: VALID | ENQUEUE, QSIZE = qshift - 12, the queue
 * address, NVT = 0x400 + vcpu, the priority, the n bit from @flags, word 1
 * = generation 1, index 0, ESn = ESe = 00. Other word 0 bits (backlog,
 * escalation) and the escalation EAS are kept.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL, @vcpu >= nr_vcpus, @prio > 7
 * or @flags has unknown bits; -EDOM if @qshift is not 0, 12, 16, 21 or 24;
 * -EFAULT if @qpage is not aligned to 1 << @qshift or the queue is not wholly
 * inside guest memory. Nothing changes on error.
 */
int xive_queue_configure(Xive *x, uint32_t vcpu, uint8_t prio, uint64_t qpage,
                         unsigned qshift, unsigned flags);

/**
 * XiveQueueState: an END seen as a guest event queue.
 * @valid: END VALID bit.
 * @enqueue: END ENQUEUE bit; when false, qpage and qshift are 0.
 * @flags: XIVE_QUEUE_ALWAYS_NOTIFY if the n bit is set.
 * @qpage: queue address.
 * @qshift: log2 of the queue size in bytes (QSIZE + 12).
 * @index: next entry to be written (H_INT_GET_QUEUE_CONFIG with DEBUG).
 * @generation: generation bit of that entry (ditto).
 * @priority: END priority byte.
 * @nvt_index: target NVT (0x400 + vcpu when configured on sPAPR).
 */
typedef struct XiveQueueState {
    bool valid;
    bool enqueue;
    unsigned flags;
    uint64_t qpage;
    unsigned qshift;
    uint32_t index;
    unsigned generation;
    uint8_t priority;
    uint32_t nvt_index;
} XiveQueueState;

/**
 * xive_queue_state:
 * Returns: 0 and the state of END (vcpu, prio) in *@ret; -EINVAL if @x or
 * @ret is NULL, @vcpu >= nr_vcpus or @prio > 7.
 */
int xive_queue_state(const Xive *x, uint32_t vcpu, uint8_t prio, XiveQueueState *ret);

/**
 * xive_nvt_ipb:
 * Returns: 0 and the backlogged IPB of the vCPU's NVT (priorities recorded
 * while no thread context matched) in *@ret_ipb; -EINVAL if @x or @ret_ipb
 * is NULL or @vcpu >= nr_vcpus.
 */
int xive_nvt_ipb(const Xive *x, uint32_t vcpu, uint8_t *ret_ipb);

/* ------------------------------------------------------------------------ */
/* Presenter: thread contexts and the TIMA                                   */

/**
 * XiveLine: the two outputs of a thread context.
 * @XIVE_LINE_OS: the external interrupt of the OS (POWER9 "INT"), raised by
 *                the OS ring.
 * @XIVE_LINE_HV: the hypervisor virtualization interrupt ("HINT"), raised by
 *                the POOL and PHYS rings; unused by sPAPR guests.
 */
typedef enum XiveLine {
    XIVE_LINE_OS = 0,
    XIVE_LINE_HV = 1,
    _XIVE_LINE_MAX,
    _XIVE_LINE_INVALID = -22,
} XiveLine;

/**
 * XiveLineFn: called when a line of @vcpu changes level (only on changes).
 */
typedef void (*XiveLineFn)(void *opaque, uint32_t vcpu, XiveLine line, bool level);

/**
 * xive_set_line_handler:
 * @x: the instance.
 * @fn: the handler, or NULL for none (poll with xive_line_level()).
 * @opaque: passed to @fn.
 */
void xive_set_line_handler(Xive *x, XiveLineFn fn, void *opaque);

/**
 * xive_line_level:
 * Returns: the current level of a line (false for NULL or out of range).
 */
bool xive_line_level(const Xive *x, uint32_t vcpu, XiveLine line);

/**
 * xive_tima_mmio:
 * @x: the instance.
 * @vcpu: the vCPU doing the access (each sees its own thread context).
 * @page: which TIMA page the address falls in.
 * @offset: offset inside that page, 0 .. 0xffff. The view repeats every
 *          4 KiB: below 0x800 of each 4 KiB are the ring bytes (repeating
 *          every 64 bytes), from 0x800 the special operations.
 * @size: access size (1, 2, 4 or 8 are valid; the access must be aligned).
 * @value: for a store, the value; for a load, receives the result (all ones,
 *         truncated to @size, for an invalid load).
 * @is_write: true for a store.
 *
 * Special operations: byte store to OS CPPR (0x11, values > 7 become 0xff),
 * ACK_OS_REG (0x810 load16: returns NSR << 8 | CPPR, then CPPR = PIPR, the
 * IPB bit cleared, NSR = 0, line lowered), SET_OS_PENDING (0x812 store8),
 * PULL_OS_CTX (0x818 load32/64 from the HV page: returns QW1 WORD2 as a
 * number and clears its valid bit), push of the OS context (store32 at 0x18
 * from the HV page: merges the NVT's backlog), HV CPPR (0x31 store8),
 * ACK_HV_REG (0x830), PULL_POOL_CTX (0x828), PULL_PHYS_CTX (0x838 load8),
 * QW3 byte 8 (0x38 load8/store8). Other accesses below 2K are raw 4- or
 * 8-byte accesses to the ring bytes, filtered by the page's access rules;
 * never the USER ring. Anything else is a guest error.
 *
 * Returns: 0 when handled, including guest errors; -EINVAL if @x or @value
 * is NULL, @vcpu >= nr_vcpus or @page is not a XiveTmPage; -ERANGE if
 * @offset >= XIVE_TM_PAGE_SIZE.
 */
int xive_tima_mmio(Xive *x, uint32_t vcpu, XiveTmPage page, uint32_t offset,
                   unsigned size, uint64_t *value, bool is_write);

/**
 * xive_tctx_regs:
 * @ret_regs: receives the 64 ring bytes (QW0 USER at 0 .. QW3 PHYS at 0x30).
 *
 * Returns: 0 on success; -EINVAL if @x or @ret_regs is NULL or @vcpu >=
 * nr_vcpus.
 */
int xive_tctx_regs(const Xive *x, uint32_t vcpu, uint8_t ret_regs[XIVE_TM_REGS_SIZE]);

/* ------------------------------------------------------------------------ */
/* Monitor text                                                              */

/**
 * xive_info_pic:
 * @x: the instance.
 * @ret_text: receives a NUL-terminated string to free() with free().
 *
 * The XIVE part of QEMU's "info pic" for an sPAPR machine: for each vCPU a
 * "CPU[%04x]:" ring table (QW NSR CPPR IPB LSMFB ACK# INC AGE PIPR W2), then
 * "  LISN         PQ    EISN     CPU/PRIO EQ" and one line per source with a
 * valid EAS: LISN, MSI/LSI, PQ, asserted, masked, EISN and, when routed to a
 * valid END, "cpu/prio index/entries @qaddr ^generation [ last 6 entries ]"
 * read from guest memory.
 *
 * Returns: 0 on success; -EINVAL if @x or @ret_text is NULL; -ENOMEM.
 */
int xive_info_pic(Xive *x, char **ret_text);

/* ------------------------------------------------------------------------ */
/* Save / restore                                                            */

/** XIVE_STATE_VERSION: version of the buffer xive_state_save() writes. */
#define XIVE_STATE_VERSION 1u

/**
 * xive_state_save:
 * @x: the instance.
 * @ret_buf: receives a malloc()ed buffer (free() it).
 * @ret_len: receives its length.
 *
 * Serialises all state: configuration (checked on restore), sources (PQ,
 * type, asserted), EAS, END, NVT backlog, thread contexts and line levels,
 * big-endian, with a version and a CRC-32. Guest memory is not included.
 *
 * Returns: 0 on success; -EINVAL if an argument is NULL; -ENOMEM.
 */
int xive_state_save(const Xive *x, void **ret_buf, size_t *ret_len);

/**
 * xive_state_load:
 * @x: an instance created with the same configuration (nr_vcpus, nr_irqs,
 *     esb_shift, flags).
 * @buf: a buffer from xive_state_save().
 * @len: its length.
 *
 * Validates the whole buffer, then replaces all state at once; on any error
 * nothing changes. Lines whose level differs from the restored one are
 * reported through the line handler.
 *
 * Returns: 0 on success; -EINVAL if @x is NULL, or @buf is NULL with a
 * non-zero @len, or the buffer describes another configuration;
 * -EPROTONOSUPPORT if its version is not XIVE_STATE_VERSION; -EBADMSG if it is
 * truncated, too long, has a bad magic or CRC, or a reserved bit set.
 */
int xive_state_load(Xive *x, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* XIVE_XIVE_H */
