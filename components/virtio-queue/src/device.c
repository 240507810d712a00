/* SPDX-License-Identifier: MIT */
/*
 * The device side of split and packed virtqueues.
 *
 * Hot-path design: the three ring areas are translated when the queue is
 * configured, so popping and returning chains touch guest memory through
 * cached host pointers and never look a region up (only indirect tables
 * are translated, once per table). The split avail->idx is read once per
 * batch (the "shadow" index); used entries are staged and published with one
 * release store. Everything read from the ring is validated every time.
 *
 * Chains made of one direct descriptor, the common case of small requests,
 * have fast paths: vq_dev_pop() and vq_dev_add_used() handle them without a
 * stack frame, vq_dev_pop_batch() and vq_dev_add_used_batch() in tight loops.
 * They make the checks of the general code on the same single read of each
 * field and hand anything else to it. vq_dev_set_fast_paths() turns them
 * off, which the differential tests and fuzz target use.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* signal_pending value meaning "unknown, notify to be safe". */
#define PENDING_UNKNOWN UINT32_MAX
/* kick_event value meaning "not written by us yet". */
#define KICK_EVENT_NONE UINT32_MAX

/* VqDevQueue.mode: which fast path applies; MODE_OFF when the queue is not
 * configured or broken (every data-path call then takes the slow path,
 * which returns the error), MODE_GENERAL when vq_dev_set_fast_paths()
 * turned them off (every chain goes through the general walk). */
#define MODE_OFF 0u
#define MODE_SPLIT 1u
#define MODE_PACKED 2u
#define MODE_GENERAL 3u /* usable, fast paths turned off */

/* The functions of the fast paths start on a cache line, so that their
 * speed does not depend on where the linker happens to place them. */
#define HOT __attribute__((aligned(64)))

/*
 * Layout of the state, for the hot paths:
 * - everything a pop or an add_used reads is in the first cache line (the
 *   structure is allocated 64-byte aligned);
 * - ring indices and positions are 16-bit values kept in 32-bit fields: a
 *   plain 32-bit load of a counter that the previous call stored is
 *   forwarded at once on current cores, a 16-bit one costs a full
 *   store-forwarding round trip on the critical path of every call;
 * - counters that can be derived are: split chains in flight are
 *   next_avail - stage_used, staged entries stage_used - next_used; the
 *   packed layout keeps one count of the descriptors the device holds
 *   (popped, not yet published), in flight being that minus the staged ones.
 *   A pop then updates one or two fields, an add_used one or two.
 */
struct VqDevQueue {
    /* --- hot: first cache line --- */
    uint32_t mode;         /* MODE_* */
    uint32_t size;
    uint32_t mask;         /* split: size - 1 */
    uint32_t next_avail;   /* split: free-running 16-bit index; packed: position */
    uint32_t avail_stop;   /* split: next_avail may advance up to here without
                              looking at avail->idx or the room in flight again */
    uint32_t stage_used;   /* split: 16-bit index; packed: position, after the
                              staged entries */
    uint32_t held;         /* packed: descriptors popped and not yet published */
    uint32_t avail_expect; /* packed: the AVAIL/USED bits of an available
                              descriptor in this lap (the avail wrap counter) */
    uint8_t *desc;         /* descriptor table / ring */
    const uint8_t *avail_ring; /* split: avail->ring[] */
    uint8_t *used_ring;    /* split: used->ring[] */
    uint32_t next_used;    /* published used index (split) / position (packed) */
    uint32_t staged;       /* packed: used entries staged, not yet published */
    /* --- the rest --- */
    uint32_t shadow_avail; /* split: avail->idx as last read */
    uint32_t staged_descs; /* packed: descriptors the staged entries return;
                              not next to staged, so that the compiler does
                              not zero both with one wide store that the
                              next add_used then reads half of */
    uint32_t kick_event;   /* last avail_event / packed event desc we wrote */
    uint32_t signal_pending; /* entries (split) / positions (packed) published
                                since the last vq_dev_should_notify() */
    uint8_t *drv;          /* avail ring / driver event suppression */
    uint8_t *dev;          /* used ring / device event suppression */
    VMemMap *map;
    bool ready;
    bool packed;
    bool event_idx;
    bool indirect_ok;
    bool broken;
    bool notify_on;        /* the device wants kicks */
    bool fast_off;         /* vq_dev_set_fast_paths(q, false) */
    bool used_wrap;        /* packed: wrap counter of next_used */
    bool stage_wrap;       /* packed: wrap counter of stage_used */
    int last_error;
    uint32_t stage_cap;
    uint16_t *stage_pos;   /* packed: position of each staged entry */
    uint16_t *stage_flags; /* packed: flags to write there */
    VqConfig cfg;
    char name[32];
};

_Static_assert(offsetof(struct VqDevQueue, staged) + sizeof(uint32_t) <= 64,
               "hot fields of VqDevQueue in one cache line");

static inline void set_mode(VqDevQueue *q)
{
    q->mode = !q->ready || q->broken ? MODE_OFF
              : q->fast_off          ? MODE_GENERAL
              : q->packed            ? MODE_PACKED
                                     : MODE_SPLIT;
}

/* Split: chains popped and not yet returned with add_used, and chains the
 * device holds (popped, not yet published). */
static inline uint32_t split_inflight(const VqDevQueue *q)
{
    return (uint16_t)(q->next_avail - q->stage_used);
}

static inline uint32_t split_busy(const VqDevQueue *q)
{
    return (uint16_t)(q->next_avail - q->next_used);
}

/* Split: recomputes avail_stop from what is known available (shadow) and the
 * room left for chains in flight. Both shrink by one per pop, so a pop keeps
 * it valid. It grows when the shadow index is refreshed (recomputed there)
 * and when used entries are published (not recomputed: a stale, lower
 * avail_stop only sends the next pop to the general path, which does it). */
static inline void split_update_stop(VqDevQueue *q)
{
    uint32_t avail = (uint16_t)(q->shadow_avail - q->next_avail);
    uint32_t busy = split_busy(q);
    uint32_t room = busy < q->size ? q->size - busy : 0;
    q->avail_stop = (q->next_avail + (avail < room ? avail : room)) & 0xffffu;
}

/* Packed: the device's wrap counter for reading. */
static inline bool packed_avail_wrap(const VqDevQueue *q)
{
    return q->avail_expect == VQ_DESC_F_AVAIL;
}

static inline void packed_flip_avail_wrap(VqDevQueue *q)
{
    q->avail_expect ^= VQ_DESC_F_AVAIL | VQ_DESC_F_USED;
}

/* ------------------------------------------------------------------------ */
/* Lifetime and configuration                                                */

int vq_dev_new(VMemMap *map, VqDevQueue **ret_q)
{
    if (!map || !ret_q) {
        return -EINVAL;
    }
    /* Cache-line aligned, so that the hot fields share one line. */
    size_t bytes = (sizeof(VqDevQueue) + 63) & ~(size_t)63;
    VqDevQueue *q = aligned_alloc(64, bytes);
    if (!q) {
        return -ENOMEM;
    }
    memset(q, 0, bytes);
    q->map = map;
    *ret_q = q;
    return 0;
}

void vq_dev_free(VqDevQueue *q)
{
    if (!q) {
        return;
    }
    free(q->stage_pos);
    free(q->stage_flags);
    free(q);
}

void vq_dev_set_name(VqDevQueue *q, const char *name)
{
    if (!q) {
        return;
    }
    snprintf(q->name, sizeof(q->name), "%s", name ? name : "");
}

static void reset_state(VqDevQueue *q)
{
    q->broken = false;
    q->last_error = 0;
    q->notify_on = true;
    q->avail_expect = VQ_DESC_F_AVAIL; /* avail wrap counter 1 */
    q->used_wrap = q->stage_wrap = true;
    q->next_avail = q->shadow_avail = q->avail_stop = 0;
    q->next_used = q->stage_used = 0;
    q->staged = 0;
    q->staged_descs = 0;
    q->held = 0;
    q->signal_pending = PENDING_UNKNOWN;
    q->kick_event = KICK_EVENT_NONE;
    set_mode(q);
}

static void set_areas(VqDevQueue *q, uint8_t *d, uint8_t *drv, uint8_t *dev)
{
    q->desc = d;
    q->drv = drv;
    q->dev = dev;
    q->avail_ring = q->packed ? NULL : drv + VQ_SPLIT_AVAIL_RING;
    q->used_ring = q->packed ? NULL : dev + VQ_SPLIT_USED_RING;
}

int vq_dev_configure(VqDevQueue *q, const VqConfig *cfg)
{
    if (!q || !cfg) {
        return -EINVAL;
    }
    q->ready = false;
    set_mode(q);
    uint8_t *d, *drv, *dev;
    int rc = vq_config_translate(q->map, cfg, &d, &drv, &dev);
    if (rc < 0) {
        return rc;
    }
    bool packed = vq_config_layout(cfg) == VQ_LAYOUT_PACKED;
    if (packed && q->stage_cap < cfg->size) {
        uint16_t *pos = realloc(q->stage_pos, cfg->size * sizeof(uint16_t));
        if (pos) {
            q->stage_pos = pos;
        }
        uint16_t *fl = realloc(q->stage_flags, cfg->size * sizeof(uint16_t));
        if (fl) {
            q->stage_flags = fl;
        }
        if (!pos || !fl) {
            return -ENOMEM;
        }
        q->stage_cap = cfg->size;
    }
    q->cfg = *cfg;
    q->size = cfg->size;
    q->mask = cfg->size - 1;
    q->packed = packed;
    set_areas(q, d, drv, dev);
    q->event_idx = cfg->features & VQ_FEATURE(VQ_F_EVENT_IDX);
    q->indirect_ok = cfg->features & VQ_FEATURE(VQ_F_INDIRECT_DESC);
    q->ready = true;
    reset_state(q);
    q->signal_pending = 0; /* nothing was published before */
    return 0;
}

void vq_dev_reset(VqDevQueue *q)
{
    if (!q) {
        return;
    }
    q->ready = false;
    reset_state(q);
}

int vq_dev_remap(VqDevQueue *q)
{
    if (!q) {
        return -EINVAL;
    }
    if (!q->ready) {
        return -EBADFD;
    }
    uint8_t *d, *drv, *dev;
    int rc = vq_config_translate(q->map, &q->cfg, &d, &drv, &dev);
    if (rc < 0) {
        q->ready = false;
        set_mode(q);
        return -EFAULT;
    }
    set_areas(q, d, drv, dev);
    return 0;
}

bool vq_dev_is_ready(const VqDevQueue *q)
{
    return q && q->ready;
}

bool vq_dev_is_broken(const VqDevQueue *q)
{
    return q && q->broken;
}

int vq_dev_last_error(const VqDevQueue *q)
{
    return q ? q->last_error : 0;
}

VqLayout vq_dev_layout(const VqDevQueue *q)
{
    if (!q || !q->ready) {
        return _VQ_LAYOUT_INVALID;
    }
    return q->packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT;
}

uint32_t vq_dev_size(const VqDevQueue *q)
{
    return q && q->ready ? q->size : 0;
}

int vq_dev_set_fast_paths(VqDevQueue *q, bool enable)
{
    if (!q) {
        return -EINVAL;
    }
    q->fast_off = !enable;
    set_mode(q);
    return 0;
}

/* Common entry check of every data-path call. */
static inline int usable(const VqDevQueue *q)
{
    if (VQ_UNLIKELY(!q)) {
        return -EINVAL;
    }
    if (VQ_LIKELY(q->mode != MODE_OFF)) {
        return 0;
    }
    if (VQ_UNLIKELY(!q->ready)) {
        return -EBADFD;
    }
    if (VQ_UNLIKELY(q->broken)) {
        return -EIO;
    }
    return 0;
}

/* Records a guest violation: the queue is broken from now on. */
static int __attribute__((cold, format(printf, 3, 4)))
violation(VqDevQueue *q, int err, const char *fmt, ...)
{
    q->broken = true;
    q->last_error = err;
    set_mode(q);
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    vq_log(q->name, "%s: %s; queue needs reset", what, vq_strerror(err));
    return err;
}

static inline void mark(VqDevQueue *q, uint64_t gpa, uint64_t len)
{
    if (VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
        vmem_mark_dirty(q->map, gpa, len);
    }
}

/* ------------------------------------------------------------------------ */
/* Chain walking                                                             */

/* Accumulates one buffer; keeps readable-before-writable and the bounds. */
typedef struct Walk {
    VqBuf *bufs;
    uint32_t cap;
    uint32_t nbufs;
    uint32_t nout;
    uint32_t limit; /* most buffers a chain may have: the queue size */
    uint64_t out_len;
    uint64_t in_len;
} Walk;

/* Returns 0, or -ENOBUFS / -ELOOP / -EILSEQ; *what names the rule. */
static inline int walk_add(Walk *w, uint64_t addr, uint32_t len, bool write)
{
    if (VQ_UNLIKELY(w->nbufs >= w->limit)) {
        return -ELOOP;
    }
    if (VQ_UNLIKELY(w->nbufs >= w->cap)) {
        return -ENOBUFS;
    }
    VqBuf *b = &w->bufs[w->nbufs++];
    b->gpa = addr;
    b->len = len;
    if (write) {
        b->flags = VQ_BUF_WRITE;
        w->in_len += len;
    } else {
        b->flags = 0;
        if (VQ_UNLIKELY(w->nbufs - 1 != w->nout)) {
            return -EILSEQ;
        }
        w->nout++;
        w->out_len += len;
    }
    return 0;
}

/* An indirect table: either a host pointer (one region) or, when it spans
 * adjacent regions, read descriptor by descriptor through the map. */
typedef struct Table {
    const uint8_t *host;
    uint64_t gpa;
    uint32_t n;
} Table;

static int table_open(VqDevQueue *q, uint64_t addr, uint32_t len, Table *t)
{
    if (len == 0 || (len & 15) || len / 16 > q->size) {
        return -EMSGSIZE;
    }
    t->n = len / 16;
    t->gpa = addr;
    t->host = vmem_translate_ptr(q->map, addr, len);
    if (!t->host && vmem_check_range(q->map, addr, len) < 0) {
        return -EFAULT;
    }
    return 0;
}

/* Reads entry i of a table; w12/w14 as vq_read_desc(). */
static inline int table_read(VqDevQueue *q, const Table *t, uint32_t i, VqRawDesc *d,
                             uint16_t *w12, uint16_t *w14)
{
    if (VQ_LIKELY(t->host)) {
        vq_read_desc(t->host + 16ull * i, d, w12, w14);
        return 0;
    }
    uint8_t b[16];
    if (vmem_read(q->map, t->gpa + 16ull * i, b, sizeof(b)) < 0) {
        return -EFAULT;
    }
    vq_read_desc(b, d, w12, w14);
    return 0;
}

/* Split: walks the chain at @head. Returns 0 with @elem filled (except
 * id), -ENOBUFS, or a violation code with *ret_at the offending index. */
static int split_walk(VqDevQueue *q, uint16_t head, VqElem *elem, unsigned *ret_at)
{
    Walk w = { .bufs = elem->bufs, .cap = elem->bufs_cap, .limit = q->size };
    Table t = { .host = q->desc, .n = q->size };
    uint32_t idx = head;
    uint32_t steps = 0;  /* descriptors read in the current table */
    uint32_t ndescs = 0; /* descriptors of the ring */
    bool indirect = false;
    int rc;

    for (;;) {
        VqRawDesc d;
        uint16_t flags, next;
        *ret_at = idx;
        if (VQ_UNLIKELY(++steps > t.n)) {
            return -ELOOP;
        }
        rc = table_read(q, &t, idx, &d, &flags, &next);
        if (VQ_UNLIKELY(rc < 0)) {
            return rc;
        }
        if (!indirect) {
            ndescs++;
        }
        if (VQ_UNLIKELY(flags & VQ_DESC_F_INDIRECT)) {
            if (indirect) {
                return -EMLINK;
            }
            if (!q->indirect_ok) {
                return -ENOTSUP;
            }
            if (flags & VQ_DESC_F_NEXT) {
                return -EBADMSG;
            }
            rc = table_open(q, d.addr, d.len, &t);
            if (rc < 0) {
                return rc;
            }
            indirect = true;
            idx = 0;
            steps = 0;
            continue;
        }
        rc = walk_add(&w, d.addr, d.len, flags & VQ_DESC_F_WRITE);
        if (VQ_UNLIKELY(rc < 0)) {
            return rc;
        }
        if (!(flags & VQ_DESC_F_NEXT)) {
            break;
        }
        if (VQ_UNLIKELY(next >= t.n)) {
            *ret_at = next;
            return -ERANGE;
        }
        idx = next;
    }
    if (VQ_UNLIKELY(w.out_len > UINT32_MAX || w.in_len > UINT32_MAX)) {
        return -EOVERFLOW;
    }
    elem->ndescs = (uint16_t)ndescs;
    elem->nout = (uint16_t)w.nout;
    elem->nin = (uint16_t)(w.nbufs - w.nout);
    elem->out_len = (uint32_t)w.out_len;
    elem->in_len = (uint32_t)w.in_len;
    return 0;
}

/* Packed: walks the chain starting at next_avail whose head flags were
 * read already. */
static int packed_walk(VqDevQueue *q, uint16_t head_flags, VqElem *elem, unsigned *ret_at)
{
    Walk w = { .bufs = elem->bufs, .cap = elem->bufs_cap, .limit = q->size };
    uint32_t pos = q->next_avail;
    uint16_t flags = head_flags;
    uint16_t id;
    uint32_t ndescs = 0;
    int rc;

    for (;;) {
        VqRawDesc d;
        uint16_t w14;
        *ret_at = pos;
        if (VQ_UNLIKELY(++ndescs > q->size)) {
            return -ELOOP;
        }
        vq_read_desc(q->desc + 16ull * pos, &d, &id, &w14);
        if (ndescs > 1) {
            flags = w14; /* the head's flags were read with acquire */
        }
        if (VQ_UNLIKELY(flags & VQ_DESC_F_INDIRECT)) {
            if (ndescs > 1 || (flags & VQ_DESC_F_NEXT)) {
                return -EBADMSG;
            }
            if (!q->indirect_ok) {
                return -ENOTSUP;
            }
            Table t;
            rc = table_open(q, d.addr, d.len, &t);
            if (rc < 0) {
                return rc;
            }
            for (uint32_t i = 0; i < t.n; i++) {
                VqRawDesc e;
                uint16_t eid, ef;
                *ret_at = i;
                rc = table_read(q, &t, i, &e, &eid, &ef);
                if (rc < 0) {
                    return rc;
                }
                /* Only WRITE is meaningful in a packed indirect table; NEXT
                 * and the id are ignored, a nested table is refused. */
                if (ef & VQ_DESC_F_INDIRECT) {
                    return -EMLINK;
                }
                rc = walk_add(&w, e.addr, e.len, ef & VQ_DESC_F_WRITE);
                if (rc < 0) {
                    return rc;
                }
            }
            break;
        }
        rc = walk_add(&w, d.addr, d.len, flags & VQ_DESC_F_WRITE);
        if (VQ_UNLIKELY(rc < 0)) {
            return rc;
        }
        if (!(flags & VQ_DESC_F_NEXT)) {
            break;
        }
        if (++pos == q->size) {
            pos = 0;
        }
    }
    if (VQ_UNLIKELY(w.out_len > UINT32_MAX || w.in_len > UINT32_MAX)) {
        return -EOVERFLOW;
    }
    elem->id = id; /* the buffer id is in the last descriptor */
    elem->ndescs = (uint16_t)ndescs;
    elem->nout = (uint16_t)w.nout;
    elem->nin = (uint16_t)(w.nbufs - w.nout);
    elem->out_len = (uint32_t)w.out_len;
    elem->in_len = (uint32_t)w.in_len;
    return 0;
}

static const char *walk_rule(int err)
{
    switch (err) {
    case -ERANGE: return "next index out of range";
    case -ELOOP: return "chain too long";
    case -EMLINK: return "nested indirect table";
    case -EBADMSG: return "indirect descriptor in a chain";
    case -EMSGSIZE: return "bad indirect table length";
    case -EOVERFLOW: return "chain length overflows";
    case -EILSEQ: return "readable after writable";
    case -EFAULT: return "indirect table outside memory";
    case -ENOTSUP: return "indirect descriptor not negotiated";
    default: return "invalid chain";
    }
}

/* Fills @e, whose buffer array @b has room for one entry, with a chain made
 * of one direct descriptor: the common case, handled without the general
 * walk. Little-endian hosts write the element header (id, ndescs, nout,
 * nin; out_len, in_len) and the buffer as four 8-byte words, built without
 * branches from a table indexed by the WRITE flag: the constant bits of the
 * header, the multiplier that puts the length in out_len or in_len, the
 * buffer's flags word (layouts checked below). */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static const struct SimpleFill {
    uint64_t hdr_bits;
    uint64_t len_mul;
    uint64_t buf_flags;
    uint64_t pad;
} simple_fill[2] = {
    { 1ull << 16 | 1ull << 32, 1, 0, 0 },                        /* ndescs 1, nout 1 */
    { 1ull << 16 | 1ull << 48, 1ull << 32, (uint64_t)VQ_BUF_WRITE << 32, 0 }, /* nin 1 */
};

/* @wbit32: the WRITE flag times 16 (0 or 32), the offset of the entry. */
static inline void fill_words(VqElem *e, VqBuf *b, uint16_t id, uint64_t addr, uint32_t len,
                              uint32_t wbit32)
{
    const struct SimpleFill *k =
        (const struct SimpleFill *)(const void *)((const char *)simple_fill + wbit32);
    uint64_t blen = len | k->buf_flags;
    uint64_t hdr = id | k->hdr_bits;
    uint64_t lens = len * k->len_mul;
    memcpy(b, &addr, 8);
    memcpy((uint8_t *)b + 8, &blen, 8);
    memcpy(e, &hdr, 8);
    memcpy((uint8_t *)e + 8, &lens, 8);
}
#endif

static inline void fill_simple(VqElem *e, VqBuf *b, uint16_t id, uint64_t addr, uint32_t len,
                               uint16_t flags)
{
    uint32_t wbit = flags & VQ_DESC_F_WRITE;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    fill_words(e, b, id, addr, len, wbit * 16u);
#else
    uint32_t w = wbit >> 1;
    b->gpa = addr;
    b->len = len;
    b->flags = wbit;
    e->id = id;
    e->ndescs = 1;
    e->nout = (uint16_t)(w ^ 1);
    e->nin = (uint16_t)w;
    e->out_len = w ? 0 : len;
    e->in_len = w ? len : 0;
#endif
}

_Static_assert(offsetof(VqElem, ndescs) == 2 && offsetof(VqElem, nout) == 4 &&
               offsetof(VqElem, nin) == 6 && offsetof(VqElem, out_len) == 8 &&
               offsetof(VqElem, in_len) == 12, "VqElem layout");
_Static_assert(offsetof(VqBuf, len) == 8 && offsetof(VqBuf, flags) == 12, "VqBuf layout");
_Static_assert(VQ_BUF_WRITE == VQ_DESC_F_WRITE && VQ_DESC_F_WRITE == 2,
               "VqBuf flags are descriptor flags");
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
_Static_assert(sizeof(struct SimpleFill) == 32, "simple_fill indexing");
#endif

/* Split descriptors are read as two 8-byte words: addr, and w = len | flags
 * << 32 | next << 48 (the table is 16-byte aligned). SPLIT_W_CHAIN are the
 * flags that need the general walk. */
#define SPLIT_W_CHAIN ((uint64_t)(VQ_DESC_F_NEXT | VQ_DESC_F_INDIRECT) << 32)

static inline void fill_split(VqElem *e, VqBuf *b, uint16_t head, uint64_t addr, uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* The WRITE flag is bit 33 of w: (w >> 28) & 32 is it times 16. */
    fill_words(e, b, head, addr, (uint32_t)w, (uint32_t)(w >> 28) & 32u);
#else
    fill_simple(e, b, head, addr, (uint32_t)w, (uint16_t)(w >> 32));
#endif
}

/* ------------------------------------------------------------------------ */
/* Split ring: available side                                                */

static inline uint8_t *split_avail_event(VqDevQueue *q)
{
    return q->dev + VQ_SPLIT_USED_RING + 8ull * q->size;
}

static inline uint8_t *split_used_event(VqDevQueue *q)
{
    return q->drv + VQ_SPLIT_AVAIL_RING + 2ull * q->size;
}

/* Reads avail->idx; returns the number of chains available, or -EPROTO. */
static int split_avail_count(VqDevQueue *q)
{
    uint16_t idx = ld_le16_acquire(q->drv + VQ_SPLIT_AVAIL_IDX);
    uint16_t n = (uint16_t)(idx - q->next_avail);
    if (VQ_UNLIKELY(n > q->size)) {
        return violation(q, -EPROTO, "avail index jumped from %u to %u", q->next_avail, idx);
    }
    q->shadow_avail = idx;
    split_update_stop(q);
    return n;
}

/* Publishes avail_event = next_avail so that the driver kicks for the next
 * chain; returns the chains available after the barrier. */
static int split_arm_kick(VqDevQueue *q)
{
    if (q->kick_event == q->next_avail) {
        return 0; /* armed, and re-checked after arming, already */
    }
    st_le16(split_avail_event(q), (uint16_t)q->next_avail);
    q->kick_event = q->next_avail;
    mark(q, q->cfg.device_addr + VQ_SPLIT_USED_RING + 8ull * q->size, 2);
    full_fence();
    return split_avail_count(q);
}

static int __attribute__((noinline, cold)) split_bad_head(VqDevQueue *q, uint32_t head)
{
    return violation(q, -ERANGE, "head %u, queue size %u", head, q->size);
}

/* Split: pops the chain at @head (read at next_avail, in range, with room
 * in flight) with the general walk. */
static int __attribute__((noinline)) split_pop_chain(VqDevQueue *q, VqElem *elem, uint16_t head)
{
    unsigned at;
    int rc = split_walk(q, head, elem, &at);
    if (VQ_UNLIKELY(rc < 0)) {
        if (rc == -ENOBUFS) {
            return rc;
        }
        return violation(q, rc, "%s: chain at head %u, descriptor %u", walk_rule(rc), head, at);
    }
    elem->id = head;
    q->next_avail = (q->next_avail + 1) & 0xffffu;
    return 0;
}

/* Split, the general path: refreshes the shadow index when needed and
 * checks everything. */
static int split_pop(VqDevQueue *q, VqElem *elem)
{
    if (q->next_avail == q->shadow_avail) {
        int n = split_avail_count(q);
        if (n == 0 && q->event_idx && q->notify_on) {
            n = split_arm_kick(q);
        }
        if (n <= 0) {
            return n < 0 ? n : -EAGAIN;
        }
    }
    /* Chains returned but not yet published still occupy the driver's
     * descriptors: a driver cannot have offered more than that. */
    if (VQ_UNLIKELY(split_busy(q) >= q->size)) {
        return violation(q, -EPROTO, "%u chains in flight, queue size %u", split_busy(q) + 1,
                         q->size);
    }
    uint16_t head = ld_le16(q->avail_ring + 2u * (q->next_avail & q->mask));
    if (VQ_UNLIKELY(head >= q->size)) {
        return split_bad_head(q, head);
    }
    const uint8_t *d = q->desc + 16u * head;
    uint64_t w = ld_le64(d + 8);
    int rc = 0;
    if (VQ_LIKELY(!(w & SPLIT_W_CHAIN) && elem->bufs_cap && q->mode == MODE_SPLIT)) {
        fill_split(elem, elem->bufs, head, ld_le64(d), w);
        q->next_avail = (q->next_avail + 1) & 0xffffu;
    } else {
        /* The walk reads the descriptor again and uses only that copy. */
        rc = split_pop_chain(q, elem, head);
    }
    split_update_stop(q);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Packed ring: available side                                               */

/* The bits of a packed descriptor's flags that the fast paths compare at
 * once with avail_expect: available in this lap, neither NEXT nor INDIRECT. */
#define PACKED_SIMPLE_MASK \
    (VQ_DESC_F_AVAIL | VQ_DESC_F_USED | VQ_DESC_F_NEXT | VQ_DESC_F_INDIRECT)

static inline bool packed_is_avail(const VqDevQueue *q, uint16_t flags)
{
    return (flags & (VQ_DESC_F_AVAIL | VQ_DESC_F_USED)) == q->avail_expect;
}

static inline uint16_t packed_head_flags(VqDevQueue *q)
{
    return ld_le16_acquire(q->desc + 16ull * q->next_avail + 14);
}

static void packed_write_dev_event(VqDevQueue *q, uint16_t flags, uint16_t desc)
{
    __atomic_store_n((uint32_t *)q->dev, htole32((uint32_t)desc | (uint32_t)flags << 16),
                     __ATOMIC_RELAXED);
    mark(q, q->cfg.device_addr, 4);
}

static inline uint16_t packed_avail_event_value(VqDevQueue *q)
{
    return (uint16_t)(q->next_avail | (uint32_t)packed_avail_wrap(q) << VQ_EVENT_WRAP_BIT);
}

/* Returns 1 if the chain at next_avail is available after arming. */
static int packed_arm_kick(VqDevQueue *q)
{
    uint16_t ev = packed_avail_event_value(q);
    if (q->kick_event == ev) {
        return 0;
    }
    packed_write_dev_event(q, VQ_EVENT_F_DESC, ev);
    q->kick_event = ev;
    full_fence();
    return packed_is_avail(q, packed_head_flags(q));
}

/* Packed: pops the available chain at next_avail whose head flags (read
 * with acquire) are @flags. */
static int __attribute__((noinline)) packed_pop_flags(VqDevQueue *q, VqElem *elem,
                                                      uint16_t flags)
{
    if (VQ_LIKELY(!(flags & (VQ_DESC_F_NEXT | VQ_DESC_F_INDIRECT)) && elem->bufs_cap &&
                  q->held < q->size && q->mode == MODE_PACKED)) {
        const uint8_t *d = q->desc + 16ull * q->next_avail;
        fill_simple(elem, elem->bufs, ld_le16(d + 12), ld_le64(d), ld_le32(d + 8), flags);
        if (VQ_UNLIKELY(++q->next_avail == q->size)) {
            q->next_avail = 0;
            packed_flip_avail_wrap(q);
        }
        q->held++;
        return 0;
    }
    unsigned at;
    int rc = packed_walk(q, flags, elem, &at);
    if (VQ_UNLIKELY(rc < 0)) {
        if (rc == -ENOBUFS) {
            return rc;
        }
        return violation(q, rc, "%s: chain at %u, descriptor %u", walk_rule(rc), q->next_avail, at);
    }
    if (VQ_UNLIKELY(q->held + elem->ndescs > q->size)) {
        return violation(q, -EPROTO, "%u descriptors in flight, queue size %u",
                         q->held + elem->ndescs, q->size);
    }
    uint32_t pos = q->next_avail + elem->ndescs;
    if (pos >= q->size) {
        pos -= q->size;
        packed_flip_avail_wrap(q);
    }
    q->next_avail = pos;
    q->held += elem->ndescs;
    return 0;
}

static int packed_pop(VqDevQueue *q, VqElem *elem)
{
    uint16_t flags = packed_head_flags(q);
    if (!packed_is_avail(q, flags)) {
        if (!(q->event_idx && q->notify_on) || !packed_arm_kick(q)) {
            return -EAGAIN;
        }
        flags = packed_head_flags(q);
    }
    return packed_pop_flags(q, elem, flags);
}

/* ------------------------------------------------------------------------ */
/* Public: available side                                                    */

/* Everything but the fast paths of vq_dev_pop(): argument and state errors,
 * an empty ring (refresh, kick arming), other chains, violations. */
static int __attribute__((noinline)) pop_slow(VqDevQueue *q, VqElem *elem)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!elem || (!elem->bufs && elem->bufs_cap))) {
        return -EINVAL;
    }
    return q->packed ? packed_pop(q, elem) : split_pop(q, elem);
}

/*
 * The fast paths take a chain of one direct descriptor with the checks of
 * the general path, in the same order, on the same single read of each
 * field: split, next_avail below avail_stop (a chain known available and
 * room in flight), head in range, neither NEXT nor INDIRECT; packed, the
 * head descriptor available in this lap and neither NEXT nor INDIRECT (one
 * compare), room in flight. Anything else goes to the general path, which
 * re-reads and re-validates on its own, or continues from the head already
 * read.
 */
HOT int vq_dev_pop(VqDevQueue *q, VqElem *elem)
{
    if (VQ_LIKELY(q && elem)) {
        VqBuf *b = elem->bufs;
        if (VQ_LIKELY(q->mode == MODE_SPLIT && b && elem->bufs_cap)) {
            uint32_t na = q->next_avail;
            if (VQ_LIKELY(na != q->avail_stop)) {
                uint16_t head = ld_le16(q->avail_ring + (size_t)(na & q->mask) * 2);
                if (VQ_UNLIKELY(head >= q->size)) {
                    return split_bad_head(q, head);
                }
                const uint8_t *d = q->desc + (size_t)head * 16;
                uint64_t w = ld_le64(d + 8);
                if (VQ_UNLIKELY(w & SPLIT_W_CHAIN)) {
                    return split_pop_chain(q, elem, head);
                }
                q->next_avail = (na + 1) & 0xffffu;
                fill_split(elem, b, head, ld_le64(d), w);
                return 0;
            }
        } else if (q->mode == MODE_PACKED && b && elem->bufs_cap) {
            uint32_t pos = q->next_avail;
            uint32_t held = q->held;
            const uint8_t *d = q->desc + (size_t)pos * 16;
            uint16_t flags = ld_le16_acquire(d + 14);
            if (VQ_LIKELY((flags & PACKED_SIMPLE_MASK) == q->avail_expect && held < q->size)) {
                uint16_t id = ld_le16(d + 12);
                uint64_t addr = ld_le64(d);
                uint32_t len = ld_le32(d + 8);
                if (VQ_UNLIKELY(++pos == q->size)) {
                    pos = 0;
                    packed_flip_avail_wrap(q);
                }
                q->next_avail = pos;
                q->held = held + 1;
                fill_simple(elem, b, id, addr, len, flags);
                return 0;
            }
            if (packed_is_avail(q, flags)) {
                return packed_pop_flags(q, elem, flags);
            }
        }
    }
    return pop_slow(q, elem);
}

/* Split: pops chains of one direct descriptor while next_avail is below
 * avail_stop, walking the avail ring by pointer (in segments up to its end)
 * with everything in registers; stops at anything else. */
static unsigned HOT __attribute__((noinline)) split_pop_simple_run(VqDevQueue *q, VqElem *elems, unsigned n)
{
    const uint32_t na = q->next_avail;
    uint32_t todo = (uint16_t)(q->avail_stop - na);
    if (todo > n) {
        todo = n;
    }
    const uint32_t size = q->size;
    const uint8_t *const ring = q->avail_ring;
    const uint8_t *const desc = q->desc;
    uint32_t slot = na & q->mask;
    VqElem *e = elems;
    VqElem *const end = elems + todo;
    while (e != end) {
        uint32_t seg = size - slot;
        VqElem *seg_end = (size_t)(end - e) < seg ? end : e + seg;
        const uint8_t *rp = ring + 2u * slot;
        for (; e != seg_end; e++, rp += 2) {
            VqBuf *b = e->bufs;
            if (VQ_UNLIKELY(!b || !e->bufs_cap)) {
                goto out;
            }
            uint16_t head = ld_le16(rp);
            if (VQ_UNLIKELY(head >= size)) {
                goto out;
            }
            const uint8_t *d = desc + (size_t)head * 16;
            uint64_t w = ld_le64(d + 8);
            if (VQ_UNLIKELY(w & SPLIT_W_CHAIN)) {
                goto out;
            }
            fill_split(e, b, head, ld_le64(d), w);
        }
        slot = 0;
    }
out:;
    unsigned i = (unsigned)(e - elems);
    q->next_avail = (na + i) & 0xffffu;
    return i;
}

/* Packed: the same for chains of one direct descriptor. */
static unsigned HOT __attribute__((noinline)) packed_pop_simple_run(VqDevQueue *q, VqElem *elems, unsigned n)
{
    uint32_t pos = q->next_avail;
    uint32_t expect = q->avail_expect;
    const uint32_t size = q->size;
    const uint8_t *desc = q->desc;
    uint32_t room = q->held < size ? size - q->held : 0;
    if (n > room) {
        n = room;
    }
    unsigned i = 0;
    for (; i < n; i++) {
        VqElem *e = &elems[i];
        VqBuf *b = e->bufs;
        if (VQ_UNLIKELY(!b || !e->bufs_cap)) {
            break;
        }
        const uint8_t *d = desc + (size_t)pos * 16;
        uint16_t flags = ld_le16_acquire(d + 14);
        if ((flags & PACKED_SIMPLE_MASK) != expect) {
            break;
        }
        fill_simple(e, b, ld_le16(d + 12), ld_le64(d), ld_le32(d + 8), flags);
        if (VQ_UNLIKELY(++pos == size)) {
            pos = 0;
            expect ^= VQ_DESC_F_AVAIL | VQ_DESC_F_USED;
        }
    }
    q->next_avail = pos;
    q->avail_expect = expect;
    q->held += i;
    return i;
}

HOT int vq_dev_pop_batch(VqDevQueue *q, VqElem *elems, unsigned n)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!elems && n)) {
        return -EINVAL;
    }
    if (n > INT32_MAX) {
        n = INT32_MAX;
    }
    unsigned i = 0;
    while (i < n) {
        if (q->mode == MODE_PACKED) {
            i += packed_pop_simple_run(q, elems + i, n - i);
        } else if (q->mode == MODE_SPLIT) {
            i += split_pop_simple_run(q, elems + i, n - i);
        }
        if (i == n) {
            break;
        }
        VqElem *e = &elems[i];
        if (VQ_UNLIKELY(!e->bufs && e->bufs_cap)) {
            rc = -EINVAL;
        } else {
            rc = q->packed ? packed_pop(q, e) : split_pop(q, e);
        }
        if (rc < 0) {
            if (i == 0 && rc != -EAGAIN) {
                return rc;
            }
            break;
        }
        i++;
    }
    return (int)i;
}

int vq_dev_unpop(VqDevQueue *q, const VqElem *elem)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    if (!elem) {
        return -EINVAL;
    }
    if (!q->packed) {
        if (split_inflight(q) < 1) {
            return -EINVAL;
        }
        q->next_avail = (q->next_avail - 1) & 0xffffu;
        split_update_stop(q);
        return 0;
    }
    if (elem->ndescs == 0 || elem->ndescs > q->held - q->staged_descs) {
        return -EINVAL;
    }
    if (q->next_avail >= elem->ndescs) {
        q->next_avail -= elem->ndescs;
    } else {
        q->next_avail = q->next_avail + q->size - elem->ndescs;
        packed_flip_avail_wrap(q);
    }
    q->held -= elem->ndescs;
    return 0;
}

int vq_dev_has_avail(VqDevQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    if (q->packed) {
        return packed_is_avail(q, packed_head_flags(q));
    }
    if (q->next_avail != q->shadow_avail) {
        return 1;
    }
    rc = split_avail_count(q);
    return rc < 0 ? rc : rc > 0;
}

int vq_dev_disable_notify(VqDevQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    q->notify_on = false;
    if (q->packed) {
        packed_write_dev_event(q, VQ_EVENT_F_DISABLE, 0);
        q->kick_event = KICK_EVENT_NONE;
    } else if (!q->event_idx) {
        st_le16(q->dev + VQ_SPLIT_USED_FLAGS, VQ_USED_F_NO_NOTIFY);
        mark(q, q->cfg.device_addr, 2);
    }
    /* Split with EVENT_IDX: simply stop moving avail_event. */
    return 0;
}

int vq_dev_enable_notify(VqDevQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    q->notify_on = true;
    if (q->packed) {
        if (q->event_idx) {
            uint16_t ev = packed_avail_event_value(q);
            packed_write_dev_event(q, VQ_EVENT_F_DESC, ev);
            q->kick_event = ev;
        } else {
            packed_write_dev_event(q, VQ_EVENT_F_ENABLE, 0);
        }
        full_fence();
        return packed_is_avail(q, packed_head_flags(q));
    }
    if (q->event_idx) {
        st_le16(split_avail_event(q), (uint16_t)q->next_avail);
        q->kick_event = q->next_avail;
        mark(q, q->cfg.device_addr + VQ_SPLIT_USED_RING + 8ull * q->size, 2);
    } else {
        st_le16(q->dev + VQ_SPLIT_USED_FLAGS, 0);
        mark(q, q->cfg.device_addr, 2);
    }
    full_fence();
    rc = split_avail_count(q);
    return rc < 0 ? rc : rc > 0;
}

/* ------------------------------------------------------------------------ */
/* Used side                                                                 */

/* Writes a split used entry. It becomes visible only through the release
 * store of used->idx, so it needs no atomicity: one 8-byte store (the entry
 * is only 4-byte aligned) on little-endian hosts. */
static inline void put_used_elem(uint8_t *p, uint32_t id, uint32_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v = id | (uint64_t)len << 32;
    memcpy(p, &v, 8);
#else
    st_le32(p, id);
    st_le32(p + 4, len);
#endif
}

/* Stages one used entry, all checks included. Split: a chain must be in
 * flight (next_avail != stage_used); then fewer than size entries are
 * staged, since pops keep next_avail - next_used <= size. */
static int add_used(VqDevQueue *q, uint16_t id, uint16_t ndescs, uint32_t len)
{
    if (!q->packed) {
        if (VQ_UNLIKELY(id >= q->size)) {
            return -EINVAL;
        }
        if (VQ_UNLIKELY(split_inflight(q) == 0)) {
            return -ENOSPC;
        }
        put_used_elem(q->used_ring + 8u * (q->stage_used & q->mask), id, len);
        q->stage_used = (q->stage_used + 1) & 0xffffu;
        return 0;
    }
    if (VQ_UNLIKELY(ndescs == 0 || ndescs > q->size)) {
        return -EINVAL;
    }
    /* Counters read once and written back with plain stores: the stores
     * below may alias them for the compiler, which then cannot turn the
     * updates into read-modify-writes of memory (slow to chain). */
    uint32_t staged = q->staged, staged_descs = q->staged_descs;
    if (VQ_UNLIKELY(ndescs > q->held - staged_descs || staged >= q->size)) {
        return -ENOSPC;
    }
    uint8_t *d = q->desc + 16ull * q->stage_used;
    st_le32(d + 8, len);
    st_le16(d + 12, id);
    uint16_t flags = q->stage_wrap ? (VQ_DESC_F_AVAIL | VQ_DESC_F_USED) : 0;
    if (len) {
        flags |= VQ_DESC_F_WRITE;
    }
    q->stage_pos[staged] = (uint16_t)q->stage_used;
    q->stage_flags[staged] = flags;
    q->staged = staged + 1;
    uint32_t pos = q->stage_used + ndescs;
    if (pos >= q->size) {
        pos -= q->size;
        q->stage_wrap = !q->stage_wrap;
    }
    q->stage_used = pos;
    q->staged_descs = staged_descs + ndescs;
    return 0;
}

HOT int vq_dev_add_used_id(VqDevQueue *q, uint16_t id, uint16_t ndescs, uint32_t len)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    return add_used(q, id, ndescs, len);
}

static int __attribute__((noinline)) add_used_slow(VqDevQueue *q, const VqElem *elem,
                                                   uint32_t len)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!elem)) {
        return -EINVAL;
    }
    if (len > elem->in_len) {
        len = elem->in_len;
    }
    rc = add_used(q, elem->id, elem->ndescs, len);
    if (rc == 0 && len && VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
        vq_elem_mark_written(q->map, elem, len);
    }
    return rc;
}

/* Dirty logging of the written part of an element just staged. */
static int __attribute__((noinline)) add_used_log(VqDevQueue *q, const VqElem *elem,
                                                  uint32_t len)
{
    if (VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
        vq_elem_mark_written(q->map, elem, len);
    }
    return 0;
}

HOT int vq_dev_add_used(VqDevQueue *q, const VqElem *elem, uint32_t len)
{
    /* Fast path, split: the checks of add_used() on the same values. */
    if (VQ_LIKELY(q && elem && q->mode == MODE_SPLIT)) {
        uint32_t id = elem->id;
        uint32_t su = q->stage_used;
        if (VQ_LIKELY(id < q->size && q->next_avail != su)) {
            if (len > elem->in_len) {
                len = elem->in_len;
            }
            q->stage_used = (su + 1) & 0xffffu;
            put_used_elem(q->used_ring + (size_t)(su & q->mask) * 8, id, len);
            return len ? add_used_log(q, elem, len) : 0;
        }
    }
    return add_used_slow(q, elem, len);
}

HOT int vq_dev_add_used_batch(VqDevQueue *q, const VqElem *elems, const uint32_t *lens,
                              unsigned n)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!elems && n)) {
        return -EINVAL;
    }
    bool log = vmem_dirty_log_enabled(q->map);
    if (q->mode == MODE_SPLIT) {
        /* Room: n chains in flight (then fewer than size - n are staged). */
        uint32_t su = q->stage_used;
        if (n > split_inflight(q)) {
            return -ENOSPC;
        }
        /* Entries beyond the published index are invisible to the driver:
         * write them while checking, and commit the index only at the end. */
        const uint32_t size = q->size;
        uint8_t *const ring = q->used_ring;
        uint32_t slot = su & q->mask;
        const VqElem *e = elems;
        const VqElem *const end = elems + n;
        const uint32_t *lp = lens;
        while (e != end) { /* in segments up to the end of the ring */
            uint32_t seg = size - slot;
            const VqElem *seg_end = (size_t)(end - e) < seg ? end : e + seg;
            uint8_t *up = ring + 8u * slot;
            if (lp) {
                for (; e != seg_end; e++, lp++, up += 8) {
                    uint32_t id = e->id;
                    if (VQ_UNLIKELY(id >= size)) {
                        return -EINVAL;
                    }
                    put_used_elem(up, id, *lp < e->in_len ? *lp : e->in_len);
                }
            } else {
                for (; e != seg_end; e++, up += 8) {
                    uint32_t id = e->id;
                    if (VQ_UNLIKELY(id >= size)) {
                        return -EINVAL;
                    }
                    put_used_elem(up, id, 0);
                }
            }
            slot = 0;
        }
        q->stage_used = (su + n) & 0xffffu;
    } else if (!q->packed) {
        /* Split without the fast path: one add_used() per entry; on a bad
         * id, the index goes back, leaving what the loop above leaves. */
        if (n > split_inflight(q)) {
            return -ENOSPC;
        }
        uint32_t start = q->stage_used;
        for (unsigned i = 0; i < n; i++) {
            uint32_t len = lens ? lens[i] : 0;
            if (len > elems[i].in_len) {
                len = elems[i].in_len;
            }
            if (add_used(q, elems[i].id, 0, len) < 0) {
                q->stage_used = start;
                return -EINVAL;
            }
        }
    } else {
        /* All or nothing: check everything before staging anything. */
        uint64_t need = 0;
        for (unsigned i = 0; i < n; i++) {
            if (elems[i].ndescs == 0 || elems[i].ndescs > q->size) {
                return -EINVAL;
            }
            need += elems[i].ndescs;
        }
        if (need > q->held - q->staged_descs || n > q->size - q->staged) {
            return -ENOSPC;
        }
        for (unsigned i = 0; i < n; i++) {
            uint32_t len = lens ? lens[i] : 0;
            if (len > elems[i].in_len) {
                len = elems[i].in_len;
            }
            add_used(q, elems[i].id, elems[i].ndescs, len); /* cannot fail: checked */
        }
    }
    if (VQ_UNLIKELY(log) && lens) {
        for (unsigned i = 0; i < n; i++) {
            vq_elem_mark_written(q->map, &elems[i], lens[i]);
        }
    }
    return 0;
}

HOT int vq_dev_publish(VqDevQueue *q)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (!q->packed) {
        uint32_t n = (uint16_t)(q->stage_used - q->next_used);
        if (n == 0) {
            return 0;
        }
        st_le16_release(q->dev + VQ_SPLIT_USED_IDX, (uint16_t)q->stage_used);
        if (VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
            vq_mark_ring(q->map, q->cfg.device_addr + VQ_SPLIT_USED_RING, q->size, 8,
                         q->next_used & q->mask, n);
            vmem_mark_dirty(q->map, q->cfg.device_addr + VQ_SPLIT_USED_IDX, 2);
        }
        q->signal_pending = q->signal_pending == PENDING_UNKNOWN ? PENDING_UNKNOWN
                                                                 : q->signal_pending + n;
        q->next_used = q->stage_used;
        /* avail_stop stays: publishing only adds room, and the pop that
         * reaches avail_stop recomputes it (slow path). */
        return (int)n;
    }
    uint32_t n = q->staged;
    if (n == 0) {
        return 0;
    }
    uint32_t held = q->held; /* read before the stores, see add_used() */
    /* Later entries first, the first one last: the driver polls the first
     * position only, so it sees the whole batch at once. */
    for (uint32_t i = 1; i < n; i++) {
        st_le16_release(q->desc + 16ull * q->stage_pos[i] + 14, q->stage_flags[i]);
    }
    st_le16_release(q->desc + 16ull * q->stage_pos[0] + 14, q->stage_flags[0]);
    uint32_t span = q->staged_descs; /* positions the batch covers */
    if (VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
        vq_mark_ring(q->map, q->cfg.desc_addr, q->size, 16, q->next_used, span);
    }
    if (q->signal_pending != PENDING_UNKNOWN) {
        q->signal_pending += span;
    }
    q->next_used = q->stage_used;
    q->used_wrap = q->stage_wrap;
    q->held = held - span;
    q->staged = 0;
    q->staged_descs = 0;
    return (int)n;
}

int vq_dev_push(VqDevQueue *q, const VqElem *elem, uint32_t len)
{
    int rc = vq_dev_add_used(q, elem, len);
    if (rc < 0) {
        return rc;
    }
    rc = vq_dev_publish(q);
    return rc < 0 ? rc : 0;
}

int vq_dev_should_notify(VqDevQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    uint32_t pending = q->signal_pending;
    q->signal_pending = 0;
    /* Order the used publication before reading the driver's fields. */
    full_fence();
    uint16_t next_used = (uint16_t)q->next_used;
    if (!q->packed) {
        if (!q->event_idx) {
            uint16_t flags = ld_le16(q->drv + VQ_SPLIT_AVAIL_FLAGS);
            return pending != 0 && !(flags & VQ_AVAIL_F_NO_INTERRUPT);
        }
        if (pending == PENDING_UNKNOWN || pending > 0xffffu) {
            return 1;
        }
        uint16_t event = ld_le16(split_used_event(q));
        return vq_need_event(event, next_used, (uint16_t)(next_used - pending));
    }
    uint32_t ev = le32toh(__atomic_load_n((const uint32_t *)q->drv, __ATOMIC_RELAXED));
    uint16_t off_wrap = (uint16_t)ev;
    uint16_t flags = (uint16_t)(ev >> 16) & 3;
    if (pending == 0) {
        return 0;
    }
    if (flags == VQ_EVENT_F_DISABLE) {
        return 0;
    }
    if (flags != VQ_EVENT_F_DESC || !q->event_idx || pending >= q->size) {
        return 1; /* ENABLE, the reserved value 3, or DESC we cannot judge */
    }
    uint16_t event = off_wrap & 0x7fffu;
    if (((off_wrap >> VQ_EVENT_WRAP_BIT) != 0) != q->used_wrap) {
        event = (uint16_t)(event - q->size);
    }
    return vq_need_event(event, next_used, (uint16_t)(next_used - pending));
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */

int vq_dev_get_state(const VqDevQueue *q, VqState *ret)
{
    if (!q || !ret) {
        return -EINVAL;
    }
    if (!q->ready) {
        return -EBADFD;
    }
    if (q->packed ? q->staged != 0 : q->stage_used != q->next_used) {
        return -EBUSY;
    }
    VqState s = {
        .next_avail = (uint16_t)q->next_avail,
        .next_used = (uint16_t)q->next_used,
        .avail_wrap = q->packed ? packed_avail_wrap(q) : false,
        .used_wrap = q->packed ? q->used_wrap : false,
    };
    *ret = s;
    return 0;
}

int vq_dev_set_state(VqDevQueue *q, const VqState *s)
{
    if (!q || !s || (s->flags & ~VQ_STATE_F_USED_FROM_RING)) {
        return -EINVAL;
    }
    if (!q->ready) {
        return -EBADFD;
    }
    uint32_t inflight;
    uint16_t used = s->next_used;
    if (!q->packed) {
        uint16_t ring_used = ld_le16_acquire(q->dev + VQ_SPLIT_USED_IDX);
        if (s->flags & VQ_STATE_F_USED_FROM_RING) {
            used = ring_used;
        } else if (ring_used != used) {
            vq_log(q->name, "restore: used index %u but the ring has %u", used, ring_used);
            return -EINVAL;
        }
        uint16_t avail = ld_le16_acquire(q->drv + VQ_SPLIT_AVAIL_IDX);
        inflight = (uint16_t)(s->next_avail - used);
        if (inflight > q->size || (uint16_t)(avail - s->next_avail) > q->size) {
            vq_log(q->name, "restore: inconsistent indices (avail %u, next %u, used %u)",
                   avail, s->next_avail, used);
            return -EINVAL;
        }
    } else {
        if (s->next_avail >= q->size || s->next_used >= q->size) {
            vq_log(q->name, "restore: position beyond the size (%u, %u)", s->next_avail,
                   s->next_used);
            return -EINVAL;
        }
        /* Positions on a circle of two laps: wrap counter 1 is an even lap. */
        uint32_t a = s->next_avail + (s->avail_wrap ? 0 : q->size);
        uint32_t u = s->next_used + (s->used_wrap ? 0 : q->size);
        inflight = (a + 2 * q->size - u) % (2 * q->size);
        if (inflight > q->size) {
            vq_log(q->name, "restore: %u descriptors in flight", inflight);
            return -EINVAL;
        }
    }
    reset_state(q);
    q->next_avail = q->shadow_avail = s->next_avail;
    q->next_used = q->stage_used = used;
    if (q->packed) {
        q->avail_expect = s->avail_wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED;
        q->used_wrap = q->stage_wrap = s->used_wrap;
        q->held = inflight; /* nothing staged */
    } else {
        split_update_stop(q); /* in flight: next_avail - used */
    }
    return 0;
}
