/* SPDX-License-Identifier: MIT */
/*
 * The driver side of split and packed virtqueues.
 *
 * The device (a vhost-user back-end, for the shadow virtqueue) is not
 * trusted: all the driver's bookkeeping (free lists, chain lengths, tokens)
 * lives in private memory, never in the shared ring, and what the device
 * writes (used ids, indices, lengths) is checked before use. Buffer
 * addresses are written as given and never dereferenced.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct DrvSlot {
    uint64_t token;
    uint32_t in_len;  /* writable bytes offered: bound for the used length */
    uint16_t ndescs;  /* ring descriptors taken */
    uint16_t last;    /* split: last descriptor of the chain */
    bool busy;
} DrvSlot;

struct VqDrvQueue {
    VMemMap *map;
    VqConfig cfg;
    uint8_t *desc;
    uint8_t *drv;
    uint8_t *dev;
    uint32_t size;
    uint32_t mask;
    bool ready;
    bool packed;
    bool event_idx;
    bool indirect_ok;
    bool broken;
    bool cb_on;        /* used notifications wanted */
    bool avail_wrap;   /* packed */
    bool used_wrap;    /* packed */
    int last_error;
    /* Counters updated together are not adjacent (see device.c). */
    uint32_t num_free; /* free ring descriptors */
    uint16_t free_head; /* split: first free descriptor; packed: first free id */
    uint16_t avail_idx; /* split: next avail->idx; packed: next position */
    uint32_t inflight; /* chains */
    uint16_t last_used; /* split: next used index; packed: next used position */
    uint16_t shadow_used; /* split: used->idx as last read */
    uint32_t added;    /* chains (split) / descriptors (packed) since the last kick decision */
    uint32_t cb_event;  /* last used_event / driver event desc written */
    uint16_t *next;     /* split: descriptor links; packed: free id links */
    DrvSlot *slots;     /* per id */
    uint32_t cap;
    uint8_t *ind;       /* indirect area (host) */
    uint64_t ind_gpa;
    uint32_t ind_max;
    char name[32];
};

#define CB_EVENT_NONE UINT32_MAX

int vq_drv_new(VMemMap *map, VqDrvQueue **ret_q)
{
    if (!map || !ret_q) {
        return -EINVAL;
    }
    VqDrvQueue *q = calloc(1, sizeof(*q));
    if (!q) {
        return -ENOMEM;
    }
    q->map = map;
    *ret_q = q;
    return 0;
}

void vq_drv_free(VqDrvQueue *q)
{
    if (!q) {
        return;
    }
    free(q->next);
    free(q->slots);
    free(q);
}

void vq_drv_set_name(VqDrvQueue *q, const char *name)
{
    if (q) {
        snprintf(q->name, sizeof(q->name), "%s", name ? name : "");
    }
}

int vq_drv_configure(VqDrvQueue *q, const VqConfig *cfg)
{
    if (!q || !cfg) {
        return -EINVAL;
    }
    q->ready = false;
    uint8_t *d, *drv, *dev;
    int rc = vq_config_translate(q->map, cfg, &d, &drv, &dev);
    if (rc < 0) {
        return rc;
    }
    if (q->cap < cfg->size) {
        uint16_t *next = realloc(q->next, cfg->size * sizeof(*next));
        if (next) {
            q->next = next;
        }
        DrvSlot *slots = realloc(q->slots, cfg->size * sizeof(*slots));
        if (slots) {
            q->slots = slots;
        }
        if (!next || !slots) {
            return -ENOMEM;
        }
        q->cap = cfg->size;
    }
    bool packed = vq_config_layout(cfg) == VQ_LAYOUT_PACKED;
    q->cfg = *cfg;
    q->desc = d;
    q->drv = drv;
    q->dev = dev;
    q->size = cfg->size;
    q->mask = cfg->size - 1;
    q->packed = packed;
    q->event_idx = cfg->features & VQ_FEATURE(VQ_F_EVENT_IDX);
    q->indirect_ok = cfg->features & VQ_FEATURE(VQ_F_INDIRECT_DESC);
    memset(d, 0, 16ull * q->size);
    memset(drv, 0, vq_driver_area_bytes(packed, q->size));
    memset(dev, 0, vq_device_area_bytes(packed, q->size));
    for (uint32_t i = 0; i < q->size; i++) {
        q->next[i] = (uint16_t)(i + 1);
    }
    memset(q->slots, 0, q->size * sizeof(*q->slots));
    q->broken = false;
    q->last_error = 0;
    q->cb_on = true;
    q->avail_wrap = q->used_wrap = true;
    q->num_free = q->size;
    q->inflight = 0;
    q->added = 0;
    q->free_head = 0;
    q->avail_idx = q->last_used = q->shadow_used = 0;
    q->cb_event = CB_EVENT_NONE;
    q->ind = NULL;
    q->ind_gpa = 0;
    q->ind_max = 0;
    q->ready = true;
    return 0;
}

void vq_drv_reset(VqDrvQueue *q)
{
    if (q) {
        q->ready = false;
        q->inflight = 0;
    }
}

int vq_drv_remap(VqDrvQueue *q)
{
    if (!q) {
        return -EINVAL;
    }
    if (!q->ready) {
        return -EBADFD;
    }
    uint8_t *d, *drv, *dev, *ind = NULL;
    int rc = vq_config_translate(q->map, &q->cfg, &d, &drv, &dev);
    if (rc == 0 && q->ind_max) {
        ind = vmem_translate_ptr(q->map, q->ind_gpa, 16ull * q->ind_max * q->size);
        rc = ind ? 0 : -EFAULT;
    }
    if (rc < 0) {
        q->ready = false;
        return -EFAULT;
    }
    q->desc = d;
    q->drv = drv;
    q->dev = dev;
    q->ind = ind;
    return 0;
}

static inline int usable(const VqDrvQueue *q)
{
    if (VQ_UNLIKELY(!q)) {
        return -EINVAL;
    }
    if (VQ_UNLIKELY(!q->ready)) {
        return -EBADFD;
    }
    if (VQ_UNLIKELY(q->broken)) {
        return -EIO;
    }
    return 0;
}

static int __attribute__((cold)) violation(VqDrvQueue *q, int err, const char *what,
                                           unsigned a, unsigned b)
{
    q->broken = true;
    q->last_error = err;
    vq_log(q->name, "device error: %s %u (%u): %s", what, a, b, vq_strerror(err));
    return err;
}

int vq_drv_set_indirect_area(VqDrvQueue *q, uint64_t gpa, uint32_t max_descs)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc == -EIO ? -EBADFD : rc;
    }
    if (!q->indirect_ok) {
        return -ENOTSUP;
    }
    if (max_descs == 0 || max_descs > q->size || (gpa & 15)) {
        return -EINVAL;
    }
    if (q->inflight) {
        return -EBUSY;
    }
    uint8_t *p = vmem_translate_ptr(q->map, gpa, 16ull * max_descs * q->size);
    if (!p) {
        return -EFAULT;
    }
    q->ind = p;
    q->ind_gpa = gpa;
    q->ind_max = max_descs;
    return 0;
}

/* Checks the buffers; returns the writable total in *ret_in. */
static int check_bufs(const VqBuf *bufs, unsigned n, uint32_t *ret_in)
{
    uint64_t out = 0, in = 0;
    bool seen_write = false;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].flags & ~(uint32_t)VQ_BUF_WRITE) {
            return -EINVAL;
        }
        if (bufs[i].flags & VQ_BUF_WRITE) {
            seen_write = true;
            in += bufs[i].len;
        } else {
            if (seen_write) {
                return -EINVAL;
            }
            out += bufs[i].len;
        }
    }
    if (out > UINT32_MAX || in > UINT32_MAX) {
        return -EINVAL;
    }
    *ret_in = (uint32_t)in;
    return 0;
}

/* Writes one descriptor (either layout: w12/w14 are flags/next for split and
 * id/flags for packed). */
static inline void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t w12,
                            uint16_t w14)
{
    st_le64(p, addr);
    st_le32(p + 8, len);
    st_le16(p + 12, w12);
    st_le16(p + 14, w14);
}

/* Fills an indirect table of either layout. */
static void put_table(VqDrvQueue *q, uint8_t *t, const VqBuf *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE);
        if (q->packed) {
            put_desc(t + 16ull * i, bufs[i].gpa, bufs[i].len, 0, f);
        } else {
            if (i + 1 < n) {
                f |= VQ_DESC_F_NEXT;
            }
            put_desc(t + 16ull * i, bufs[i].gpa, bufs[i].len, f,
                     (uint16_t)(i + 1 < n ? i + 1 : 0));
        }
    }
}

static void split_add(VqDrvQueue *q, const VqBuf *bufs, unsigned n, bool indirect,
                      DrvSlot *slot_out, uint16_t *ret_head)
{
    uint16_t head = q->free_head;
    uint16_t idx = head;
    if (indirect) {
        uint64_t off = 16ull * q->ind_max * head;
        put_table(q, q->ind + off, bufs, n);
        put_desc(q->desc + 16u * head, q->ind_gpa + off, 16u * n, VQ_DESC_F_INDIRECT, 0);
    } else {
        for (unsigned i = 0;; i++) {
            uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE);
            bool more = i + 1 < n;
            put_desc(q->desc + 16u * idx, bufs[i].gpa, bufs[i].len,
                     more ? (uint16_t)(f | VQ_DESC_F_NEXT) : f, more ? q->next[idx] : 0);
            if (!more) {
                break;
            }
            idx = q->next[idx];
        }
    }
    q->free_head = q->next[idx];
    slot_out->last = idx;
    st_le16(q->drv + VQ_SPLIT_AVAIL_RING + 2u * (q->avail_idx & q->mask), head);
    q->avail_idx++;
    st_le16_release(q->drv + VQ_SPLIT_AVAIL_IDX, q->avail_idx);
    q->added++;
    *ret_head = head;
}

static void packed_add(VqDrvQueue *q, const VqBuf *bufs, unsigned n, bool indirect,
                       uint16_t *ret_id)
{
    uint16_t id = q->free_head;
    q->free_head = q->next[id];
    uint32_t pos = q->avail_idx;
    bool wrap = q->avail_wrap;
    uint8_t *head = q->desc + 16ull * pos;
    uint16_t head_flags;
    if (indirect) {
        uint64_t off = 16ull * q->ind_max * id;
        put_table(q, q->ind + off, bufs, n);
        st_le64(head, q->ind_gpa + off);
        st_le32(head + 8, 16u * n);
        st_le16(head + 12, id);
        head_flags = VQ_DESC_F_INDIRECT | (wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED);
        n = 1;
        if (++pos == q->size) {
            pos = 0;
            wrap = !wrap;
        }
    } else {
        head_flags = 0;
        for (unsigned i = 0; i < n; i++) {
            uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE) |
                         (wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED);
            if (i + 1 < n) {
                f |= VQ_DESC_F_NEXT;
            }
            uint8_t *p = q->desc + 16ull * pos;
            st_le64(p, bufs[i].gpa);
            st_le32(p + 8, bufs[i].len);
            st_le16(p + 12, id);
            if (i == 0) {
                head_flags = f;
            } else {
                st_le16(p + 14, f);
            }
            if (++pos == q->size) {
                pos = 0;
                wrap = !wrap;
            }
        }
    }
    /* The head's flags last: the device sees the whole chain or nothing. */
    st_le16_release(head + 14, head_flags);
    q->avail_idx = (uint16_t)pos;
    q->avail_wrap = wrap;
    q->added += n;
    *ret_id = id;
}

int vq_drv_add(VqDrvQueue *q, const VqBuf *bufs, unsigned nbufs, uint64_t token,
               unsigned flags)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!bufs || nbufs == 0 || (flags & ~VQ_ADD_INDIRECT))) {
        return -EINVAL;
    }
    bool indirect = flags & VQ_ADD_INDIRECT;
    if (indirect) {
        if (!q->ind_max) {
            return -ENOTSUP;
        }
        if (nbufs > q->ind_max) {
            return -EINVAL;
        }
    } else if (nbufs > q->size) {
        return -EINVAL;
    }
    uint32_t in_len;
    rc = check_bufs(bufs, nbufs, &in_len);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    uint32_t need = indirect ? 1 : nbufs;
    if (need > q->num_free) {
        return -ENOSPC;
    }
    DrvSlot s = { .token = token, .in_len = in_len, .ndescs = (uint16_t)need, .busy = true };
    uint16_t id;
    if (q->packed) {
        packed_add(q, bufs, nbufs, indirect, &id);
    } else {
        split_add(q, bufs, nbufs, indirect, &s, &id);
    }
    q->slots[id] = s;
    q->num_free -= need;
    q->inflight++;
    if (VQ_UNLIKELY(vmem_dirty_log_enabled(q->map))) {
        /* The driver's map is normally not logged; keep it exact anyway. */
        vmem_mark_dirty(q->map, q->cfg.desc_addr, 16ull * q->size);
        vmem_mark_dirty(q->map, q->cfg.driver_addr, vq_driver_area_bytes(q->packed, q->size));
        if (indirect) {
            vmem_mark_dirty(q->map, q->ind_gpa + 16ull * q->ind_max * id, 16ull * nbufs);
        }
    }
    return 0;
}

int vq_drv_should_kick(VqDrvQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    uint32_t added = q->added;
    q->added = 0;
    full_fence();
    if (added == 0) {
        return 0;
    }
    if (!q->packed) {
        if (!q->event_idx) {
            return !(ld_le16(q->dev + VQ_SPLIT_USED_FLAGS) & VQ_USED_F_NO_NOTIFY);
        }
        if (added > 0xffffu) {
            return 1;
        }
        uint16_t event = ld_le16(q->dev + VQ_SPLIT_USED_RING + 8ull * q->size);
        return vq_need_event(event, q->avail_idx, (uint16_t)(q->avail_idx - added));
    }
    uint32_t ev = le32toh(__atomic_load_n((const uint32_t *)q->dev, __ATOMIC_RELAXED));
    uint16_t off_wrap = (uint16_t)ev;
    uint16_t flags = (uint16_t)(ev >> 16) & 3;
    if (flags == VQ_EVENT_F_DISABLE) {
        return 0;
    }
    if (flags != VQ_EVENT_F_DESC || !q->event_idx || added >= q->size) {
        return 1;
    }
    uint16_t event = off_wrap & 0x7fffu;
    if (((off_wrap >> VQ_EVENT_WRAP_BIT) != 0) != q->avail_wrap) {
        event = (uint16_t)(event - q->size);
    }
    return vq_need_event(event, q->avail_idx, (uint16_t)(q->avail_idx - added));
}

/* ------------------------------------------------------------------------ */
/* Used buffers                                                              */

static inline bool packed_is_used(uint16_t flags, bool wrap)
{
    return ((flags & VQ_DESC_F_AVAIL) != 0) == wrap && ((flags & VQ_DESC_F_USED) != 0) == wrap;
}

/* Split: returns the number of used entries not yet read, or -EPROTO. */
static int split_used_count(VqDrvQueue *q)
{
    uint16_t idx = ld_le16_acquire(q->dev + VQ_SPLIT_USED_IDX);
    uint16_t n = (uint16_t)(idx - q->last_used);
    if (VQ_UNLIKELY(n > q->inflight)) {
        return violation(q, -EPROTO, "used index jumped to", idx, q->last_used);
    }
    q->shadow_used = idx;
    return n;
}

static inline uint16_t packed_used_flags(VqDrvQueue *q)
{
    return ld_le16_acquire(q->desc + 16ull * q->last_used + 14);
}

static void write_driver_event(VqDrvQueue *q, uint16_t flags, uint16_t desc)
{
    __atomic_store_n((uint32_t *)q->drv, htole32((uint32_t)desc | (uint32_t)flags << 16),
                     __ATOMIC_RELAXED);
}

/* Tells the device to notify for the next used entry (EVENT_IDX), then
 * re-checks; returns whether something is pending (or a violation). */
static int arm_cb(VqDrvQueue *q)
{
    if (!q->packed) {
        st_le16(q->drv + VQ_SPLIT_AVAIL_RING + 2ull * q->size, q->last_used);
        q->cb_event = q->last_used;
        full_fence();
        int n = split_used_count(q);
        return n < 0 ? n : n > 0;
    }
    uint16_t ev = (uint16_t)(q->last_used | (uint16_t)q->used_wrap << VQ_EVENT_WRAP_BIT);
    write_driver_event(q, VQ_EVENT_F_DESC, ev);
    q->cb_event = ev;
    full_fence();
    return packed_is_used(packed_used_flags(q), q->used_wrap);
}

static inline uint32_t cb_event_value(const VqDrvQueue *q)
{
    return q->packed ? (uint16_t)(q->last_used | (uint16_t)q->used_wrap << VQ_EVENT_WRAP_BIT)
                     : q->last_used;
}

/* Frees the slot of @id and returns its content. */
static void release(VqDrvQueue *q, uint16_t id, DrvSlot *s)
{
    *s = q->slots[id];
    q->slots[id].busy = false;
    if (q->packed) {
        q->next[id] = q->free_head;
        q->free_head = id;
    } else {
        q->next[s->last] = q->free_head;
        q->free_head = id;
    }
    q->num_free += s->ndescs;
    q->inflight--;
}

int vq_drv_get_used(VqDrvQueue *q, VqUsed *ret)
{
    int rc = usable(q);
    if (VQ_UNLIKELY(rc < 0)) {
        return rc;
    }
    if (VQ_UNLIKELY(!ret)) {
        return -EINVAL;
    }
    uint16_t id;
    uint32_t len;
    if (!q->packed) {
        if (q->last_used == q->shadow_used) {
            int n = split_used_count(q);
            if (n == 0 && q->event_idx && q->cb_on && q->cb_event != q->last_used) {
                n = arm_cb(q);
            }
            if (n <= 0) {
                return n < 0 ? n : -EAGAIN;
            }
        }
        const uint8_t *e = q->dev + VQ_SPLIT_USED_RING + 8u * (q->last_used & q->mask);
        uint32_t id32 = ld_le32(e);
        len = ld_le32(e + 4);
        if (VQ_UNLIKELY(id32 >= q->size)) {
            return violation(q, -ERANGE, "used id", id32, q->size);
        }
        id = (uint16_t)id32;
        if (VQ_UNLIKELY(!q->slots[id].busy)) {
            return violation(q, -ESTALE, "used id", id, q->last_used);
        }
        q->last_used++;
    } else {
        uint16_t flags = packed_used_flags(q);
        if (!packed_is_used(flags, q->used_wrap)) {
            if (!(q->event_idx && q->cb_on && q->cb_event != cb_event_value(q)) ||
                arm_cb(q) <= 0) {
                return -EAGAIN;
            }
        }
        const uint8_t *p = q->desc + 16ull * q->last_used;
        id = ld_le16(p + 12);
        len = ld_le32(p + 8);
        if (VQ_UNLIKELY(id >= q->size)) {
            return violation(q, -ERANGE, "used id", id, q->size);
        }
        if (VQ_UNLIKELY(!q->slots[id].busy)) {
            return violation(q, -ESTALE, "used id", id, q->last_used);
        }
        uint32_t pos = q->last_used + q->slots[id].ndescs;
        if (pos >= q->size) {
            pos -= q->size;
            q->used_wrap = !q->used_wrap;
        }
        q->last_used = (uint16_t)pos;
    }
    DrvSlot s;
    release(q, id, &s);
    if (VQ_UNLIKELY(len > s.in_len)) {
        vq_log(q->name, "device error: used length %u for id %u exceeds the %u writable bytes",
               len, id, s.in_len);
        len = s.in_len;
    }
    ret->token = s.token;
    ret->len = len;
    ret->id = id;
    return 0;
}

int vq_drv_has_used(VqDrvQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    if (q->packed) {
        return packed_is_used(packed_used_flags(q), q->used_wrap);
    }
    if (q->last_used != q->shadow_used) {
        return 1;
    }
    rc = split_used_count(q);
    return rc < 0 ? rc : rc > 0;
}

uint32_t vq_drv_num_free(const VqDrvQueue *q)
{
    return q && q->ready ? q->num_free : 0;
}

uint32_t vq_drv_num_inflight(const VqDrvQueue *q)
{
    return q && q->ready ? q->inflight : 0;
}

int vq_drv_disable_cb(VqDrvQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    q->cb_on = false;
    if (q->packed) {
        write_driver_event(q, VQ_EVENT_F_DISABLE, 0);
    } else if (q->event_idx) {
        /* An event the device can only reach after 2^16 - 1 more entries. */
        st_le16(q->drv + VQ_SPLIT_AVAIL_RING + 2ull * q->size, (uint16_t)(q->last_used - 1));
    } else {
        st_le16(q->drv + VQ_SPLIT_AVAIL_FLAGS, VQ_AVAIL_F_NO_INTERRUPT);
    }
    q->cb_event = CB_EVENT_NONE;
    return 0;
}

int vq_drv_enable_cb(VqDrvQueue *q)
{
    int rc = usable(q);
    if (rc < 0) {
        return rc;
    }
    q->cb_on = true;
    if (q->event_idx) {
        return arm_cb(q);
    }
    if (q->packed) {
        write_driver_event(q, VQ_EVENT_F_ENABLE, 0);
        full_fence();
        return packed_is_used(packed_used_flags(q), q->used_wrap);
    }
    st_le16(q->drv + VQ_SPLIT_AVAIL_FLAGS, 0);
    full_fence();
    rc = split_used_count(q);
    return rc < 0 ? rc : rc > 0;
}

int vq_drv_detach_unused(VqDrvQueue *q, uint64_t *ret_token)
{
    if (!q || !ret_token) {
        return -EINVAL;
    }
    if (!q->ready) {
        return -EBADFD;
    }
    /* From now on the ring no longer matches our bookkeeping. */
    q->broken = true;
    if (q->last_error == 0) {
        q->last_error = -ECANCELED;
    }
    for (uint32_t i = 0; i < q->size && q->inflight; i++) {
        if (q->slots[i].busy) {
            DrvSlot s;
            release(q, (uint16_t)i, &s);
            *ret_token = s.token;
            return 0;
        }
    }
    return -ENOENT;
}

bool vq_drv_is_broken(const VqDrvQueue *q)
{
    return q && q->broken;
}

int vq_drv_last_error(const VqDrvQueue *q)
{
    return q ? q->last_error : 0;
}
