/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue relay of one queue: the device side of the guest
 * ring and the driver side of the shadow ring, with the bookkeeping that
 * ties a shadow chain to the guest chain it carries.
 *
 * The driver side already refuses used ids out of range or not in flight
 * and used indices that jump; the relay adds the check of the used length
 * against the chain (the driver side only clamps it), by reading the same
 * used entry the driver side just validated: the relay mirrors the driver's
 * used position (one entry per chain for split, the chain's descriptor
 * count for packed), which it can do because it knows every chain it added.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svq-private.h"

static inline int usable(const SvqRelay *r)
{
    if (G_UNLIKELY(!r)) {
        return -EINVAL;
    }
    if (G_UNLIKELY(!r->started)) {
        return -EBADFD;
    }
    if (G_UNLIKELY(r->broken)) {
        return -EIO;
    }
    return 0;
}

void svq_relay_break(SvqRelay *r, int err, const char *fmt, ...)
{
    va_list ap;

    if (r->broken) {
        return;
    }
    r->broken = true;
    r->last_error = err;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

int svq_relay_new(VMemMap *guest_map, VMemMap *shadow_map, SvqRelay **ret_relay)
{
    SvqRelay *r;

    if (!guest_map || !shadow_map || !ret_relay) {
        return -EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        return -ENOMEM;
    }
    r->guest_map = guest_map;
    r->shadow_map = shadow_map;
    if (vq_dev_new(guest_map, &r->guest) < 0 || vq_drv_new(shadow_map, &r->shadow) < 0) {
        vq_dev_free(r->guest);
        free(r);
        return -ENOMEM;
    }
    *ret_relay = r;
    return 0;
}

static void release_records(SvqRelay *r)
{
    for (uint32_t i = 0; i < r->recs_cap; i++) {
        free(r->recs[i].wheap);
    }
    free(r->recs);
    free(r->free_tokens);
    r->recs = NULL;
    r->free_tokens = NULL;
    r->recs_cap = 0;
}

void svq_relay_free(SvqRelay *r)
{
    if (!r) {
        return;
    }
    vq_dev_free(r->guest);
    vq_drv_free(r->shadow);
    release_records(r);
    free(r->bufs);
    free(r);
}

void svq_relay_set_name(SvqRelay *r, const char *name)
{
    char label[40];

    if (!r) {
        return;
    }
    snprintf(r->name, sizeof(r->name), "%s", name ? name : "");
    snprintf(label, sizeof(label), "%.28s/g", r->name);
    vq_dev_set_name(r->guest, label);
    snprintf(label, sizeof(label), "%.28s/s", r->name);
    vq_drv_set_name(r->shadow, label);
}

/* Sizes the per-chain storage for a guest ring of @guest_size and a shadow
 * ring of @shadow_size; keeps what is there (heap buffers of records). */
static int reserve(SvqRelay *r, uint32_t guest_size, uint32_t shadow_size)
{
    if (r->bufs_cap < guest_size) {
        VqBuf *b = realloc(r->bufs, sizeof(*b) * guest_size);

        if (!b) {
            return -ENOMEM;
        }
        r->bufs = b;
        r->bufs_cap = guest_size;
    }
    if (r->recs_cap < shadow_size) {
        uint16_t *tokens = realloc(r->free_tokens, sizeof(*tokens) * shadow_size);
        SvqRecord *recs;

        if (!tokens) {
            return -ENOMEM;
        }
        r->free_tokens = tokens;
        recs = realloc(r->recs, sizeof(*recs) * shadow_size);
        if (!recs) {
            return -ENOMEM;
        }
        memset(recs + r->recs_cap, 0, sizeof(*recs) * (shadow_size - r->recs_cap));
        r->recs = recs;
        r->recs_cap = shadow_size;
    }
    return 0;
}

static void reset_bookkeeping(SvqRelay *r)
{
    for (uint32_t i = 0; i < r->recs_cap; i++) {
        r->recs[i].busy = false;
    }
    /* Tokens are handed out from the end: 0 first. */
    r->nfree = r->shadow_size;
    for (uint32_t i = 0; i < r->shadow_size; i++) {
        r->free_tokens[i] = (uint16_t)(r->shadow_size - 1 - i);
    }
    r->adds = 0;
    r->avail_idx = 0;
    r->avail_pos = 0;
    r->avail_wrap = true;
    r->used_idx = 0;
    r->used_pos = 0;
    r->used_wrap = true;
    r->parked = false;
    r->guest_quiet = false;
    r->paused = false;
    r->broken = false;
    r->last_error = 0;
    r->error[0] = '\0';
}

int svq_relay_start(SvqRelay *r, const VqConfig *guest, const VqState *guest_state,
                    const VqConfig *shadow)
{
    VqConfig scfg;
    bool spacked;
    int rc;

    if (!r || !guest || !shadow || r->started) {
        return -EINVAL;
    }
    if (shadow->size < guest->size || guest->size == 0) {
        return -EINVAL;
    }
    rc = vq_dev_configure(r->guest, guest);
    if (rc < 0) {
        return rc;
    }
    if (guest_state) {
        rc = vq_dev_set_state(r->guest, guest_state);
        if (rc < 0) {
            vq_dev_reset(r->guest);
            return rc;
        }
    }
    scfg = *shadow;
    scfg.features &= ~VQ_FEATURE(VQ_F_INDIRECT_DESC);
    spacked = vq_config_layout(&scfg) == VQ_LAYOUT_PACKED;
    r->shadow_desc = vmem_translate_ptr(r->shadow_map, scfg.desc_addr,
                                        spacked ? vq_packed_desc_bytes(scfg.size)
                                                : vq_split_desc_bytes(scfg.size));
    r->shadow_used = vmem_translate_ptr(r->shadow_map, scfg.device_addr,
                                        spacked ? VQ_PACKED_EVENT_BYTES
                                                : vq_split_used_bytes(scfg.size));
    rc = reserve(r, guest->size, scfg.size);
    if (rc == 0) {
        rc = vq_drv_configure(r->shadow, &scfg);
    }
    if (rc < 0 || !r->shadow_desc || !r->shadow_used) {
        vq_dev_reset(r->guest);
        return rc < 0 ? rc : -EFAULT;
    }
    r->guest_cfg = *guest;
    r->shadow_cfg = scfg;
    r->guest_packed = vq_config_layout(guest) == VQ_LAYOUT_PACKED;
    r->shadow_packed = spacked;
    r->shadow_size = scfg.size;
    r->elem = (VqElem){ .bufs = r->bufs, .bufs_cap = guest->size };
    reset_bookkeeping(r);
    r->started = true;
    return 0;
}

void svq_relay_stop(SvqRelay *r)
{
    if (!r || !r->started) {
        return;
    }
    vq_dev_reset(r->guest);
    vq_drv_reset(r->shadow);
    for (uint32_t i = 0; i < r->recs_cap; i++) {
        r->recs[i].busy = false;
    }
    r->parked = false;
    r->started = false;
}

bool svq_relay_is_started(const SvqRelay *r)
{
    return r && r->started;
}

void svq_relay_set_paused(SvqRelay *r, bool paused)
{
    if (r) {
        r->paused = paused;
    }
}

uint32_t svq_relay_in_flight(const SvqRelay *r)
{
    return r && r->started ? vq_drv_num_inflight(r->shadow) : 0;
}

bool svq_relay_is_parked(const SvqRelay *r)
{
    return r && r->started && r->parked;
}

bool svq_relay_is_broken(const SvqRelay *r)
{
    return r && r->broken;
}

int svq_relay_last_error(const SvqRelay *r)
{
    return r ? r->last_error : 0;
}

const char *svq_relay_error_text(const SvqRelay *r)
{
    return r ? r->error : "";
}

void svq_relay_get_stats(const SvqRelay *r, SvqStats *ret)
{
    if (!ret) {
        return;
    }
    if (!r) {
        memset(ret, 0, sizeof(*ret));
        return;
    }
    *ret = r->stats;
}

/* ------------------------------------------------------------------------ */
/* Guest to back-end                                                         */

static inline const VqBuf *record_wbufs(const SvqRecord *rec)
{
    return rec->nin <= SVQ_INLINE_WBUFS ? rec->winline : rec->wheap;
}

static inline void advance_pos(uint16_t *pos, bool *wrap, uint32_t n, uint32_t size)
{
    uint32_t p = *pos + n;

    if (p >= size) {
        p -= size;
        *wrap = !*wrap;
    }
    *pos = (uint16_t)p;
}

/* Adds the chain in r->elem to the shadow ring. Returns 0, -ENOSPC (no
 * room now: park it), -ENOMEM (park it too), or a fatal error (the relay is
 * broken). */
static int add_chain(SvqRelay *r)
{
    const VqElem *e = &r->elem;
    uint32_t n = (uint32_t)e->nout + e->nin;
    SvqRecord *rec;
    uint16_t token;
    int rc;

    if (G_UNLIKELY(n > r->shadow_size)) {
        svq_relay_break(r, -EMSGSIZE, "guest: chain of %u buffers exceeds the shadow ring (%u)",
                        n, r->shadow_size);
        return -EMSGSIZE;
    }
    if (vq_drv_num_free(r->shadow) < n || r->nfree == 0) {
        return -ENOSPC;
    }
    token = r->free_tokens[r->nfree - 1];
    rec = &r->recs[token];
    if (e->nin > SVQ_INLINE_WBUFS && rec->wcap < e->nin) {
        VqBuf *w = realloc(rec->wheap, sizeof(*w) * e->nin);

        if (!w) {
            return -ENOMEM;
        }
        rec->wheap = w;
        rec->wcap = e->nin;
    }
    rc = vq_drv_add(r->shadow, e->bufs, n, token, 0);
    if (G_UNLIKELY(rc < 0)) {
        if (rc == -ENOSPC) {
            return rc;
        }
        svq_relay_break(r, rc, "shadow ring refused a guest chain: %s", vq_strerror(rc));
        return rc;
    }
    r->nfree--;
    rec->seq = r->adds++;
    rec->in_len = e->in_len;
    rec->guest_id = e->id;
    rec->guest_ndescs = e->ndescs;
    rec->nbufs = (uint16_t)n;
    rec->nin = e->nin;
    memcpy(rec->nin <= SVQ_INLINE_WBUFS ? rec->winline : rec->wheap, e->bufs + e->nout,
           sizeof(VqBuf) * e->nin);
    rec->head_pos = r->avail_pos;
    rec->head_wrap = r->avail_wrap;
    rec->busy = true;
    if (r->shadow_packed) {
        advance_pos(&r->avail_pos, &r->avail_wrap, n, r->shadow_size);
    } else {
        r->avail_idx++;
    }
    r->stats.forwarded++;
    return 0;
}

static int guest_violation(SvqRelay *r, int rc)
{
    if (rc != -EIO || !vq_dev_is_broken(r->guest)) {
        svq_relay_break(r, rc, "guest: %s", vq_strerror(rc));
    } else {
        svq_relay_break(r, vq_dev_last_error(r->guest), "guest: %s",
                        vq_strerror(vq_dev_last_error(r->guest)));
    }
    return r->last_error;
}

static void park(SvqRelay *r)
{
    r->parked = true;
    r->stats.parked++;
    if (!r->guest_quiet && vq_dev_disable_notify(r->guest) == 0) {
        r->guest_quiet = true;
    }
}

int svq_relay_forward(SvqRelay *r)
{
    uint64_t before;
    int rc = usable(r), err = 0, flags = 0;

    if (rc < 0) {
        return rc;
    }
    if (r->paused) {
        return 0;
    }
    before = r->adds;
    if (r->parked) {
        rc = add_chain(r);
        if (rc == -ENOSPC || rc == -ENOMEM) {
            goto out;
        }
        if (rc < 0) {
            err = rc;
            goto out;
        }
        r->parked = false;
    }
    for (;;) {
        rc = vq_dev_pop(r->guest, &r->elem);
        if (rc == 0) {
            rc = add_chain(r);
            if (rc == 0) {
                continue;
            }
            if (rc == -ENOSPC || rc == -ENOMEM) {
                park(r);
            } else {
                err = rc;
            }
            break;
        }
        if (rc != -EAGAIN) {
            err = guest_violation(r, rc);
            break;
        }
        if (!r->guest_quiet) {
            break;
        }
        /* Kicks were off while a chain was parked: turn them on again and
         * look once more for chains added meanwhile. */
        r->guest_quiet = false;
        rc = vq_dev_enable_notify(r->guest);
        if (rc == 0) {
            break;
        }
        if (rc < 0) {
            err = guest_violation(r, rc);
            break;
        }
    }
out:
    if (r->adds != before && vq_drv_should_kick(r->shadow) == 1) {
        flags |= SVQ_KICK_BACKEND;
        r->stats.kicks++;
    }
    return err ? err : flags;
}

/* ------------------------------------------------------------------------ */
/* Back-end to guest                                                         */

static inline uint32_t load_le32(const uint8_t *p)
{
    uint32_t raw = __atomic_load_n((const uint32_t *)(uintptr_t)p, __ATOMIC_RELAXED);

    return vmem_le32_to_cpu(&raw);
}

/* The length field of the used entry the driver side just took, and the
 * mirror advanced past it. */
static uint32_t take_used_len(SvqRelay *r, const SvqRecord *rec)
{
    uint32_t len;

    if (r->shadow_packed) {
        len = load_le32(r->shadow_desc + 16u * r->used_pos + 8);
        advance_pos(&r->used_pos, &r->used_wrap, rec->nbufs, r->shadow_size);
    } else {
        uint32_t slot = r->used_idx & (r->shadow_size - 1);

        len = load_le32(r->shadow_used + VQ_SPLIT_USED_RING + 8u * slot + 4);
        r->used_idx++;
    }
    return len;
}

static void mark_written(SvqRelay *r, const SvqRecord *rec, uint32_t len)
{
    const VqBuf *w = record_wbufs(rec);

    for (uint32_t i = 0; i < rec->nin && len; i++) {
        uint32_t chunk = w[i].len < len ? w[i].len : len;

        /* A buffer outside guest RAM was the guest's mistake: the back-end
         * could not write it either. */
        if (chunk && vmem_mark_dirty(r->guest_map, w[i].gpa, chunk) == 0) {
            r->stats.dirty_bytes += chunk;
        }
        len -= chunk;
    }
}

static void free_record(SvqRelay *r, uint16_t token)
{
    r->recs[token].busy = false;
    r->free_tokens[r->nfree++] = token;
}

static int backend_violation(SvqRelay *r, int rc)
{
    int err = rc == -EIO ? vq_drv_last_error(r->shadow) : rc;

    if (err == 0) {
        err = rc;
    }
    svq_relay_break(r, err, "back-end: %s", vq_strerror(err));
    return err;
}

int svq_relay_complete(SvqRelay *r)
{
    bool log;
    unsigned done = 0;
    int rc = usable(r), err = 0, flags = 0;

    if (rc < 0) {
        return rc;
    }
    log = vmem_dirty_log_enabled(r->guest_map);
    for (;;) {
        VqUsed u;
        SvqRecord *rec;
        uint32_t raw;

        rc = vq_drv_get_used(r->shadow, &u);
        if (rc == -EAGAIN) {
            break;
        }
        if (rc < 0) {
            err = backend_violation(r, rc);
            break;
        }
        if (G_UNLIKELY(u.token >= r->shadow_size || !r->recs[u.token].busy)) {
            svq_relay_break(r, -EPROTO, "shadow ring returned an unknown token");
            err = -EPROTO;
            break;
        }
        rec = &r->recs[u.token];
        raw = take_used_len(r, rec);
        if (G_UNLIKELY(raw > rec->in_len)) {
            free_record(r, (uint16_t)u.token);
            svq_relay_break(r, -EMSGSIZE,
                            "back-end: used length %u exceeds the %u writable bytes of the chain",
                            raw, rec->in_len);
            err = -EMSGSIZE;
            break;
        }
        if (log) {
            mark_written(r, rec, u.len);
        }
        rc = vq_dev_add_used_id(r->guest, rec->guest_id, rec->guest_ndescs, u.len);
        free_record(r, (uint16_t)u.token);
        if (G_UNLIKELY(rc < 0)) {
            err = guest_violation(r, rc);
            break;
        }
        done++;
    }
    if (done) {
        /* Entries validated before a violation still reach the guest. */
        rc = vq_dev_publish(r->guest);
        if (rc > 0) {
            r->stats.completed += (uint64_t)rc;
            if (vq_dev_should_notify(r->guest) == 1) {
                flags |= SVQ_NOTIFY_GUEST;
                r->stats.notifies++;
            }
        }
    }
    if (err) {
        return err;
    }
    if (r->parked && !r->paused) {
        rc = svq_relay_forward(r);
        if (rc < 0) {
            return rc;
        }
        flags |= rc;
    }
    return flags;
}

/* ------------------------------------------------------------------------ */
/* Hand-over                                                                 */

/* Fills @order[j] with the token of the chain added j-th from the newest,
 * for the @k newest chains. Returns false unless each is still in flight. */
static bool newest_tokens(const SvqRelay *r, uint64_t k, uint16_t *order)
{
    uint64_t found = 0;

    for (uint32_t i = 0; i < r->shadow_size; i++) {
        const SvqRecord *rec = &r->recs[i];

        if (rec->busy && r->adds - rec->seq <= k) {
            order[r->adds - 1 - rec->seq] = (uint16_t)i;
            found++;
        }
    }
    return found == k;
}

/* How many chains, counted from the newest, the back-end did not take.
 * Returns the count or -EPROTO. */
static int64_t untaken(SvqRelay *r, const VqState *be)
{
    uint32_t inflight = vq_drv_num_inflight(r->shadow);

    if (!r->shadow_packed) {
        uint16_t k = (uint16_t)(r->avail_idx - be->next_avail);

        return k <= inflight ? k : -EPROTO;
    }
    if (be->next_avail == r->avail_pos && be->avail_wrap == r->avail_wrap) {
        return 0;
    }
    for (uint32_t i = 0; i < r->shadow_size; i++) {
        const SvqRecord *rec = &r->recs[i];

        if (rec->busy && rec->head_pos == be->next_avail && rec->head_wrap == be->avail_wrap) {
            return (int64_t)(r->adds - rec->seq);
        }
    }
    return -EPROTO;
}

int svq_relay_hand_back(SvqRelay *r, const VqState *be, VqState *ret_guest)
{
    int64_t k;
    uint16_t *order;
    VqState st;
    int rc;

    if (!r || !be || !ret_guest) {
        return -EINVAL;
    }
    rc = usable(r);
    if (rc < 0) {
        return rc;
    }
    k = untaken(r, be);
    if (k < 0) {
        svq_relay_break(r, -EPROTO,
                        "back-end: its stop position does not match the shadow ring");
        return -EPROTO;
    }
    if (vq_drv_num_inflight(r->shadow) > (uint64_t)k) {
        return -EBUSY;
    }
    /* Every chain in flight now must be one of the @k newest: the back-end
     * cannot have used a chain it never took. */
    order = malloc(sizeof(*order) * (k ? (size_t)k : 1));
    if (!order) {
        return -ENOMEM;
    }
    if (!newest_tokens(r, (uint64_t)k, order)) {
        free(order);
        svq_relay_break(r, -EPROTO, "back-end: used a chain it had not taken");
        return -EPROTO;
    }
    /* Reverse pop order: the parked chain was popped last. */
    rc = r->parked ? vq_dev_unpop(r->guest, &r->elem) : 0;
    for (int64_t j = 0; j < k && rc == 0; j++) {
        const SvqRecord *rec = &r->recs[order[j]];
        VqElem e = { .id = rec->guest_id, .ndescs = rec->guest_ndescs };

        rc = vq_dev_unpop(r->guest, &e);
    }
    free(order);
    if (rc == 0) {
        rc = vq_dev_get_state(r->guest, &st);
    }
    if (rc == 0 && (st.next_avail != st.next_used || st.avail_wrap != st.used_wrap)) {
        rc = -EPROTO;
    }
    if (rc < 0) {
        svq_relay_break(r, rc, "hand-back of %lld chains failed: %s", (long long)k,
                        vq_strerror(rc));
        return rc;
    }
    r->stats.handed_back += (uint64_t)k + (r->parked ? 1 : 0);
    svq_relay_stop(r);
    *ret_guest = st;
    return 0;
}

int svq_relay_remap(SvqRelay *r)
{
    int rc;

    if (!r) {
        return -EINVAL;
    }
    if (!r->started) {
        return -EBADFD;
    }
    rc = vq_dev_remap(r->guest);
    if (rc < 0) {
        svq_relay_break(r, -EFAULT, "guest: the ring is no longer in guest memory");
        return -EFAULT;
    }
    return 0;
}

int svq_relay_resume_state(const SvqRelay *r, VqState *ret)
{
    const SvqRecord *oldest = NULL;

    if (!r || !ret) {
        return -EINVAL;
    }
    if (!r->started) {
        return -EBADFD;
    }
    memset(ret, 0, sizeof(*ret));
    if (!r->shadow_packed) {
        ret->next_avail = (uint16_t)(r->avail_idx - vq_drv_num_inflight(r->shadow));
        ret->next_used = ret->next_avail;
        return 0;
    }
    for (uint32_t i = 0; i < r->shadow_size; i++) {
        const SvqRecord *rec = &r->recs[i];

        if (rec->busy && (!oldest || rec->seq < oldest->seq)) {
            oldest = rec;
        }
    }
    ret->next_avail = oldest ? oldest->head_pos : r->avail_pos;
    ret->avail_wrap = oldest ? oldest->head_wrap : r->avail_wrap;
    ret->next_used = ret->next_avail;
    ret->used_wrap = ret->avail_wrap;
    return 0;
}
