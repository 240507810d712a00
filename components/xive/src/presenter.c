/* SPDX-License-Identifier: MIT */
/*
 * Presenter: thread interrupt contexts (four rings per vCPU), CAM matching,
 * exception signalling and the TIMA MMIO views.
 */
#include "xive-internal.h"

#include <errno.h>
#include <string.h>

static inline uint8_t prio_to_ipb(uint8_t prio)
{
    return prio > XIVE_PRIORITY_MAX ? 0 : (uint8_t)(0x80u >> prio);
}

/* Most favoured pending priority, 0xff when nothing is pending. */
static inline uint8_t ipb_to_pipr(uint8_t ipb)
{
    return ipb ? (uint8_t)__builtin_clz((uint32_t)ipb << 24) : 0xff;
}

static inline XiveLine ring_line(uint8_t ring)
{
    return ring == XIVE_TM_QW1_OS ? XIVE_LINE_OS : XIVE_LINE_HV;
}

void xive_line_changed(Xive *x, uint32_t vcpu, XiveLine line, bool level)
{
    XiveTctx *t = &x->tctx[vcpu];

    t->lines ^= (uint8_t)XIVE_LINE_BIT(line);
    if (x->line_fn) {
        x->line_fn(x->line_opaque, vcpu, line, level);
    }
}

/* ------------------------------------------------------------------------ */
/* Ring logic                                                                */

/* Raises the exception of @ring if its PIPR beats its CPPR. The POOL ring
 * signals through the PHYS ring's registers. */
static XIVE_HOT void tctx_notify(Xive *x, uint32_t vcpu, uint8_t ring)
{
    uint8_t *regs = x->tctx[vcpu].regs;
    uint8_t alt = ring == XIVE_TM_QW2_HV_POOL ? XIVE_TM_QW3_HV_PHYS : ring;

    if (regs[alt + XIVE_TM_PIPR] >= regs[alt + XIVE_TM_CPPR]) {
        return;
    }
    switch (ring) {
    case XIVE_TM_QW1_OS:
        regs[ring + XIVE_TM_NSR] = XIVE_TM_QW1_NSR_EO;
        break;
    case XIVE_TM_QW2_HV_POOL:
        regs[alt + XIVE_TM_NSR] = 1u << XIVE_TM_QW3_NSR_HE_SHIFT;
        break;
    default: /* PHYS */
        regs[ring + XIVE_TM_NSR] = 2u << XIVE_TM_QW3_NSR_HE_SHIFT;
        break;
    }
    xive_set_line(x, vcpu, ring_line(ring), true);
}

/* Recomputes the PIPR of @ring from its IPB; the PHYS ring also sees the
 * POOL ring's pending priorities while the pool context is valid. Returns
 * the ring holding the winner. */
static XIVE_HOT uint8_t tctx_recompute_pipr(uint8_t *regs, uint8_t ring)
{
    uint8_t pipr = ipb_to_pipr(regs[ring + XIVE_TM_IPB]);
    uint8_t winner = ring;

    if (ring == XIVE_TM_QW3_HV_PHYS && (regs[XIVE_TM_QW2_HV_POOL + XIVE_TM_WORD2] & 0x80)) {
        uint8_t pool = ipb_to_pipr(regs[XIVE_TM_QW2_HV_POOL + XIVE_TM_IPB]);
        if (pool < pipr) {
            pipr = pool;
            winner = XIVE_TM_QW2_HV_POOL;
        }
    }
    regs[ring + XIVE_TM_PIPR] = pipr;
    return winner;
}

static XIVE_HOT void tctx_set_cppr(Xive *x, uint32_t vcpu, uint8_t ring, uint8_t cppr)
{
    uint8_t *regs = x->tctx[vcpu].regs;

    if (cppr > XIVE_PRIORITY_MAX) {
        cppr = 0xff;
    }
    regs[ring + XIVE_TM_CPPR] = cppr;
    tctx_notify(x, vcpu, tctx_recompute_pipr(regs, ring));
}

/* Records @prio pending on @ring (0xff: none, only re-evaluate). */
static XIVE_HOT void tctx_pipr_update(Xive *x, uint32_t vcpu, uint8_t ring, uint8_t prio)
{
    uint8_t *regs = x->tctx[vcpu].regs;
    uint8_t alt = ring == XIVE_TM_QW2_HV_POOL ? XIVE_TM_QW3_HV_PHYS : ring;

    regs[ring + XIVE_TM_IPB] |= prio_to_ipb(prio);
    regs[alt + XIVE_TM_PIPR] = ipb_to_pipr(regs[ring + XIVE_TM_IPB]);
    tctx_notify(x, vcpu, ring);
}

/* Acknowledge: returns NSR << 8 | CPPR and takes the pending priority. */
static XIVE_HOT uint64_t tctx_accept(Xive *x, uint32_t vcpu, uint8_t ring)
{
    uint8_t *regs = x->tctx[vcpu].regs;
    uint8_t nsr = regs[ring + XIVE_TM_NSR];
    uint8_t mask = ring == XIVE_TM_QW1_OS ? XIVE_TM_QW1_NSR_EO
                                          : 3u << XIVE_TM_QW3_NSR_HE_SHIFT;

    xive_set_line(x, vcpu, ring_line(ring), false);
    if (nsr & mask) {
        uint8_t cppr = regs[ring + XIVE_TM_PIPR];
        uint8_t alt = ring;

        if (ring == XIVE_TM_QW3_HV_PHYS && (nsr >> XIVE_TM_QW3_NSR_HE_SHIFT) == 1) {
            alt = XIVE_TM_QW2_HV_POOL; /* a pool interrupt uses the pool IPB */
        }
        regs[ring + XIVE_TM_CPPR] = cppr;
        regs[alt + XIVE_TM_IPB] &= (uint8_t)~prio_to_ipb(cppr);
        tctx_recompute_pipr(regs, ring);
        regs[ring + XIVE_TM_NSR] = 0;
    }
    return ((uint64_t)nsr << 8) | regs[ring + XIVE_TM_CPPR];
}

/* ------------------------------------------------------------------------ */
/* Reset and CAM lines                                                       */

static inline uint32_t hw_cam_line(uint32_t vcpu)
{
    return (XIVE_SPAPR_BLOCK_ID << 19) | 0x80u | (vcpu & 0x7fu);
}

/*
 * A thread context is "special" when one of its CAM lines could match an NVT
 * other than its own sPAPR NVT (0x400 + vcpu): a valid PHYS or POOL context,
 * or a pushed OS context with another CAM. While none is special, an event
 * for NVT 0x400 + n can only be taken by thread n, and the presenter does not
 * need to scan every thread.
 */
void xive_tctx_update_special(Xive *x, uint32_t vcpu)
{
    XiveTctx *t = &x->tctx[vcpu];
    uint32_t os_w2 = xive_ld_be32(&t->regs[XIVE_TM_QW1_OS + XIVE_TM_WORD2]);
    bool special = (t->regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2] & XIVE_TM_QW3B8_VT) ||
                   (t->regs[XIVE_TM_QW2_HV_POOL + XIVE_TM_WORD2] & 0x80) ||
                   ((os_w2 & XIVE_TM_QW1W2_VO) &&
                    (os_w2 & XIVE_TM_QW1W2_OS_CAM_MASK) != xive_nvt_index(vcpu));

    if (special != t->special) {
        t->special = special;
        x->nr_special += special ? 1 : (uint32_t)-1;
    }
}

void xive_tctx_reset_one(Xive *x, uint32_t vcpu)
{
    uint8_t *regs = x->tctx[vcpu].regs;

    memset(regs, 0, XIVE_TM_REGS_SIZE);
    regs[XIVE_TM_QW1_OS + XIVE_TM_LSMFB] = 0xff;
    regs[XIVE_TM_QW1_OS + XIVE_TM_ACK_CNT] = 0xff;
    regs[XIVE_TM_QW1_OS + XIVE_TM_AGE] = 0xff;
    /* PIPR 0xff so that the first CPPR store raises nothing. */
    regs[XIVE_TM_QW1_OS + XIVE_TM_PIPR] = 0xff;
    regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_PIPR] = 0xff;
    /* The hypervisor (us) dispatches vCPU n as NVT 0x400 + n. */
    xive_st_be32(&regs[XIVE_TM_QW1_OS + XIVE_TM_WORD2],
                 XIVE_TM_QW1W2_VO | xive_nvt_index(vcpu));
    xive_tctx_update_special(x, vcpu);
    xive_set_line(x, vcpu, XIVE_LINE_OS, false);
    xive_set_line(x, vcpu, XIVE_LINE_HV, false);
}

/* Which ring of thread @vcpu, if any, has @cam dispatched (-1: none). */
static XIVE_HOT int tctx_match(const Xive *x, uint32_t vcpu, uint32_t cam)
{
    const uint8_t *regs = x->tctx[vcpu].regs;
    uint32_t pool_w2 = xive_ld_be32(&regs[XIVE_TM_QW2_HV_POOL + XIVE_TM_WORD2]);
    uint32_t os_w2 = xive_ld_be32(&regs[XIVE_TM_QW1_OS + XIVE_TM_WORD2]);

    if ((regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2] & XIVE_TM_QW3B8_VT) &&
        cam == hw_cam_line(vcpu)) {
        return XIVE_TM_QW3_HV_PHYS;
    }
    if ((pool_w2 & XIVE_TM_QW2W2_VP) && cam == (pool_w2 & 0x00ffffffu)) {
        return XIVE_TM_QW2_HV_POOL;
    }
    if ((os_w2 & XIVE_TM_QW1W2_VO) && cam == (os_w2 & XIVE_TM_QW1W2_OS_CAM_MASK)) {
        return XIVE_TM_QW1_OS;
    }
    return -1;
}

bool xive_presenter_notify(Xive *x, uint8_t nvt_blk, uint32_t nvt_idx, uint8_t prio)
{
    uint32_t cam = ((uint32_t)nvt_blk << 19) | nvt_idx;

    if (x->nr_special == 0) {
        /* Only the NVT's own thread can have it dispatched, and only on its
         * OS ring (no thread has a PHYS or POOL context). */
        uint32_t vcpu = nvt_idx - XIVE_SPAPR_NVT_BASE;
        if (nvt_blk != XIVE_SPAPR_BLOCK_ID || nvt_idx < XIVE_SPAPR_NVT_BASE ||
            vcpu >= x->nr_vcpus) {
            return false;
        }
        uint32_t os_w2 = xive_ld_be32(&x->tctx[vcpu].regs[XIVE_TM_QW1_OS + XIVE_TM_WORD2]);
        if ((os_w2 & (XIVE_TM_QW1W2_VO | XIVE_TM_QW1W2_OS_CAM_MASK)) !=
            (XIVE_TM_QW1W2_VO | cam)) {
            return false;
        }
        tctx_pipr_update(x, vcpu, XIVE_TM_QW1_OS, prio);
        return true;
    }

    uint32_t match_vcpu = 0;
    int match_ring = -1;
    for (uint32_t v = 0; v < x->nr_vcpus; v++) {
        int ring = tctx_match(x, v, cam);
        if (ring < 0) {
            continue;
        }
        if (match_ring >= 0) {
            xive_log(x, XIVE_LOG_GUEST_ERROR, "already found a thread context NVT %x/%x",
                     nvt_blk, nvt_idx);
            return false;
        }
        match_ring = ring;
        match_vcpu = v;
    }
    if (match_ring < 0) {
        return false;
    }
    tctx_pipr_update(x, match_vcpu, (uint8_t)match_ring, prio);
    return true;
}

/* ------------------------------------------------------------------------ */
/* TIMA                                                                      */

/*
 * Raw access rights of each ring byte from each page: 'b' read and write,
 * 'r' read only, 'w' write only, '.' none. One string per page, one group of
 * 16 per ring (USER, OS, POOL, PHYS).
 */
static const char tm_rights[XIVE_TM_PAGE_COUNT][XIVE_TM_REGS_SIZE + 1] = {
    [XIVE_TM_HW_PAGE] = "b.......bbbb...." "bbbbbb.rbbbb...." "..bb.bb.bbbb...." "bbbb.b.rb..bbbb.",
    [XIVE_TM_HV_PAGE] = "b.......bbbb...." "bbbbbb.rbbbb...." "..bb.bb..bbb...." "bbbb.b.rb..b....",
    [XIVE_TM_OS_PAGE] = "b.......bbbb...." "rbrrrr.r........" "................" "................",
    [XIVE_TM_USER_PAGE] = "b..............." "................" "................" "................",
};

static inline bool tm_byte_allowed(unsigned page, unsigned reg, bool write)
{
    char c = tm_rights[page][reg];
    return c == 'b' || c == (write ? 'w' : 'r');
}

/* Byte-granular mask of what an access may see or change; 0 if nothing. */
static uint64_t tm_mask(unsigned page, unsigned reg, unsigned size, bool write)
{
    uint64_t mask = 0;
    for (unsigned i = 0; i < size; i++) {
        if (tm_byte_allowed(page, reg + i, write)) {
            mask |= UINT64_C(0xff) << (8 * (size - 1 - i));
        }
    }
    return mask;
}

static bool tm_raw_write(Xive *x, uint32_t vcpu, unsigned page, uint32_t off,
                         unsigned size, uint64_t value)
{
    unsigned reg = off & 0x3f;
    uint64_t mask = tm_mask(page, reg, size, true);
    uint8_t *regs = x->tctx[vcpu].regs;

    if (size < 4 || !mask || (reg & 0x30) == XIVE_TM_QW0_USER) {
        return false;
    }
    for (unsigned i = 0; i < size; i++) {
        unsigned sh = 8 * (size - 1 - i);
        if ((mask >> sh) & 0xff) {
            regs[reg + i] = (uint8_t)(value >> sh);
        }
    }
    xive_tctx_update_special(x, vcpu);
    return true;
}

static bool tm_raw_read(Xive *x, uint32_t vcpu, unsigned page, uint32_t off,
                        unsigned size, uint64_t *value)
{
    unsigned reg = off & 0x3f;
    uint64_t mask = tm_mask(page, reg, size, false);
    const uint8_t *regs = x->tctx[vcpu].regs;
    uint64_t v = 0;

    if (size < 4 || !mask || (reg & 0x30) == XIVE_TM_QW0_USER) {
        return false;
    }
    for (unsigned i = 0; i < size; i++) {
        v = (v << 8) | regs[reg + i];
    }
    *value = v & mask;
    return true;
}

/* Pulls a context: clears the valid bit of its WORD2, returns the old word. */
static uint32_t tm_pull_word2(Xive *x, uint32_t vcpu, uint8_t ring)
{
    uint8_t *w2 = &x->tctx[vcpu].regs[ring + XIVE_TM_WORD2];
    uint32_t old = xive_ld_be32(w2);

    xive_st_be32(w2, old & ~XIVE_PPC_BIT32(0));
    xive_tctx_update_special(x, vcpu);
    return old;
}

/* Pushing an OS context: the NVT's backlogged priorities come back. */
static void tm_push_os_ctx(Xive *x, uint32_t vcpu, uint32_t cam)
{
    uint8_t *regs = x->tctx[vcpu].regs;

    xive_st_be32(&regs[XIVE_TM_QW1_OS + XIVE_TM_WORD2], cam);
    xive_tctx_update_special(x, vcpu);
    if (!(cam & XIVE_TM_QW1W2_VO)) {
        return;
    }
    uint32_t nvt_idx = cam & 0x7ffffu;
    uint32_t owner = nvt_idx - XIVE_SPAPR_NVT_BASE;
    if (((cam >> 19) & 0xf) != XIVE_SPAPR_BLOCK_ID || nvt_idx < XIVE_SPAPR_NVT_BASE ||
        owner >= x->nr_vcpus) {
        xive_log(x, XIVE_LOG_GUEST_ERROR, "invalid NVT %x/%x", (cam >> 19) & 0xf, nvt_idx);
        return;
    }
    regs[XIVE_TM_QW1_OS + XIVE_TM_IPB] |= x->tctx[owner].nvt_ipb;
    x->tctx[owner].nvt_ipb = 0;
    /* Always re-evaluate: the IPB may have been restored by a raw write. */
    tctx_pipr_update(x, vcpu, XIVE_TM_QW1_OS, 0xff);
}

/* Special operations. Each row: the least privileged page allowed. */
enum tm_op {
    TM_OP_NONE,
    TM_OP_SET_OS_CPPR,
    TM_OP_PUSH_OS_CTX,
    TM_OP_SET_HV_CPPR,
    TM_OP_VT_PUSH,
    TM_OP_VT_POLL,
    TM_OP_SET_OS_PENDING,
    TM_OP_ACK_OS_REG,
    TM_OP_PULL_OS_CTX,
    TM_OP_ACK_HV_REG,
    TM_OP_PULL_POOL_CTX,
    TM_OP_PULL_PHYS_CTX,
};

/*
 * Where each operation lives: indexed by [is_write][key], the key folding
 * offsets 0x000-0x03f and 0x800-0x83f (the only ones with operations) into
 * 0-127. sizes: the access sizes accepted (bit values 1, 2, 4, 8); page: the
 * least privileged page allowed.
 */
typedef struct TmOpDesc {
    uint8_t op;
    uint8_t sizes;
    uint8_t page;
} __attribute__((aligned(4))) TmOpDesc; /* a power-of-two stride */

#define TM_KEY(off) ((((off) & 0x800u) >> 5) | ((off) & 0x3fu))

static const TmOpDesc tm_ops[2][128] = {
    [false] = {
        [TM_KEY(XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2)] = { TM_OP_VT_POLL, 1, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_SPC_ACK_OS_REG)] = { TM_OP_ACK_OS_REG, 2, XIVE_TM_OS_PAGE },
        [TM_KEY(XIVE_TM_SPC_PULL_OS_CTX)] = { TM_OP_PULL_OS_CTX, 4 | 8, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_SPC_PULL_POOL_CTX)] = { TM_OP_PULL_POOL_CTX, 4 | 8, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_SPC_ACK_HV_REG)] = { TM_OP_ACK_HV_REG, 2, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_SPC_PULL_PHYS_CTX)] = { TM_OP_PULL_PHYS_CTX, 1, XIVE_TM_HV_PAGE },
    },
    [true] = {
        [TM_KEY(XIVE_TM_QW1_OS + XIVE_TM_CPPR)] = { TM_OP_SET_OS_CPPR, 1, XIVE_TM_OS_PAGE },
        [TM_KEY(XIVE_TM_QW1_OS + XIVE_TM_WORD2)] = { TM_OP_PUSH_OS_CTX, 4, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_QW3_HV_PHYS + XIVE_TM_CPPR)] = { TM_OP_SET_HV_CPPR, 1, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2)] = { TM_OP_VT_PUSH, 1, XIVE_TM_HV_PAGE },
        [TM_KEY(XIVE_TM_SPC_SET_OS_PENDING)] = { TM_OP_SET_OS_PENDING, 1, XIVE_TM_OS_PAGE },
    },
};

/* @size is a valid access size. An operation is allowed from its page or a
 * more privileged one. */
static inline enum tm_op tm_find_op(unsigned page, uint32_t off, unsigned size, bool write)
{
    if (off & 0x7c0u) {
        return TM_OP_NONE;
    }
    const TmOpDesc *d = &tm_ops[write][TM_KEY(off)];
    return (d->sizes & size) && page <= d->page ? (enum tm_op)d->op : TM_OP_NONE;
}

/* Runs a special operation; returns the loaded value (0 for stores). */
static uint64_t tm_run_op(Xive *x, uint32_t vcpu, enum tm_op op, uint64_t value)
{
    uint8_t *regs = x->tctx[vcpu].regs;

    switch (op) {
    case TM_OP_SET_OS_CPPR:
        tctx_set_cppr(x, vcpu, XIVE_TM_QW1_OS, (uint8_t)value);
        return 0;
    case TM_OP_PUSH_OS_CTX:
        tm_push_os_ctx(x, vcpu, (uint32_t)value);
        return 0;
    case TM_OP_SET_HV_CPPR:
        tctx_set_cppr(x, vcpu, XIVE_TM_QW3_HV_PHYS, (uint8_t)value);
        return 0;
    case TM_OP_VT_PUSH:
        regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2] = (uint8_t)value;
        xive_tctx_update_special(x, vcpu);
        return 0;
    case TM_OP_VT_POLL:
        return regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2];
    case TM_OP_SET_OS_PENDING:
        tctx_pipr_update(x, vcpu, XIVE_TM_QW1_OS, (uint8_t)value);
        return 0;
    case TM_OP_ACK_OS_REG:
        return tctx_accept(x, vcpu, XIVE_TM_QW1_OS);
    case TM_OP_PULL_OS_CTX: {
        uint32_t w2 = tm_pull_word2(x, vcpu, XIVE_TM_QW1_OS);
        if (!(w2 & XIVE_TM_QW1W2_VO)) {
            xive_log(x, XIVE_LOG_GUEST_ERROR, "pulling invalid NVT %x/%x",
                     (w2 >> 19) & 0xf, w2 & 0x7ffff);
        }
        xive_set_line(x, vcpu, XIVE_LINE_OS, false);
        return w2;
    }
    case TM_OP_ACK_HV_REG:
        return tctx_accept(x, vcpu, XIVE_TM_QW3_HV_PHYS);
    case TM_OP_PULL_POOL_CTX:
        return tm_pull_word2(x, vcpu, XIVE_TM_QW2_HV_POOL);
    case TM_OP_PULL_PHYS_CTX: {
        uint8_t b = regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2];
        regs[XIVE_TM_QW3_HV_PHYS + XIVE_TM_WORD2] = (uint8_t)(b & ~XIVE_TM_QW3B8_VT);
        xive_tctx_update_special(x, vcpu);
        return b;
    }
    default:
        return 0;
    }
}

int xive_tima_mmio(Xive *x, uint32_t vcpu, XiveTmPage page, uint32_t offset,
                   unsigned size, uint64_t *value, bool is_write)
{
    if (!x || !value || vcpu >= x->nr_vcpus || (unsigned)page >= XIVE_TM_PAGE_COUNT) {
        return -EINVAL;
    }
    if (offset >= XIVE_TM_PAGE_SIZE) {
        return -ERANGE;
    }
    if (xive_access_ok(offset, size)) {
        enum tm_op op = tm_find_op((unsigned)page, offset, size, is_write);
        if (op != TM_OP_NONE) {
            uint64_t ret = tm_run_op(x, vcpu, op, *value);
            if (!is_write) {
                *value = ret & xive_ones(size);
            }
            return 0;
        }
        /* Below 2K, anything else is a raw access to the ring bytes. */
        if (!(offset & XIVE_TM_SPECIAL_OP)) {
            bool ok = is_write ? tm_raw_write(x, vcpu, (unsigned)page, offset, size, *value)
                               : tm_raw_read(x, vcpu, (unsigned)page, offset, size, value);
            if (ok) {
                return 0;
            }
        }
    }
    xive_bad_access(x, "TIMA", (uint64_t)page << XIVE_TM_PAGE_SHIFT | offset, size, value,
                    is_write);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Lines and register snapshots                                              */

void xive_set_line_handler(Xive *x, XiveLineFn fn, void *opaque)
{
    if (x) {
        x->line_fn = fn;
        x->line_opaque = opaque;
    }
}

bool xive_line_level(const Xive *x, uint32_t vcpu, XiveLine line)
{
    if (!x || vcpu >= x->nr_vcpus || (unsigned)line >= _XIVE_LINE_MAX) {
        return false;
    }
    return x->tctx[vcpu].lines & XIVE_LINE_BIT(line);
}

int xive_tctx_regs(const Xive *x, uint32_t vcpu, uint8_t ret_regs[XIVE_TM_REGS_SIZE])
{
    if (!x || !ret_regs || vcpu >= x->nr_vcpus) {
        return -EINVAL;
    }
    memcpy(ret_regs, x->tctx[vcpu].regs, XIVE_TM_REGS_SIZE);
    return 0;
}

int xive_vcpu_reset(Xive *x, uint32_t vcpu)
{
    if (!x || vcpu >= x->nr_vcpus) {
        return -EINVAL;
    }
    xive_tctx_reset_one(x, vcpu);
    return 0;
}
