/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueues of one vhost-user device: the shadow region, the
 * eventfds, starting rings directly or shadowed, switching at run time, and
 * the event-loop glue.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "svq-private.h"

#define DEFAULT_MAX_QUEUE_SIZE 256u
#define DEFAULT_DRAIN_TIMEOUT_MS 5000u
#define DEFAULT_QUIET_MS 50u
#define AREA_ALIGN 64u
#define WAIT_MAX_DELAY_US 1000

void svq_options_init(SvqOptions *o)
{
    if (!o) {
        return;
    }
    memset(o, 0, sizeof(*o));
    o->num_queues = 1;
    o->max_queue_size = DEFAULT_MAX_QUEUE_SIZE;
    o->shadow_gpa = SVQ_DEFAULT_SHADOW_GPA;
    o->drain_timeout_ms = DEFAULT_DRAIN_TIMEOUT_MS;
    o->quiet_ms = DEFAULT_QUIET_MS;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* Sets "Can't enable shadow vq on NAME: CAUSE" (or disable). */
static void G_GNUC_PRINTF(5, 6)
switch_error(const SvqDev *svq, GError **errp, bool enable, int code, const char *fmt, ...)
{
    va_list ap;
    char *prefix;

    if (!errp) {
        return;
    }
    prefix = g_strdup_printf("Can't %s shadow vq on %s", enable ? "enable" : "disable",
                             svq_get_name(svq));
    va_start(ap, fmt);
    vhu_error_vset(errp, code, prefix, fmt, ap);
    va_end(ap);
    g_free(prefix);
}

/* The message of a front-end error without its "NAME: " prefix. */
static const char *bare_message(const SvqDev *svq, const GError *err)
{
    const char *name = svq_get_name(svq);
    size_t n = strlen(name);

    if (strncmp(err->message, name, n) == 0 && strncmp(err->message + n, ": ", 2) == 0) {
        return err->message + n + 2;
    }
    return err->message;
}

/* Wraps a front-end error in the switch shape; frees @err. */
static void switch_error_from(const SvqDev *svq, GError **errp, bool enable, unsigned index,
                              GError *err)
{
    switch_error(svq, errp, enable, err->code, "queue %u: %s", index, bare_message(svq, err));
    g_error_free(err);
}

/* The switch error for a lost back-end (-ENOTCONN, or @rc 0) or one that
 * kept its requests beyond the drain timeout (-ETIMEDOUT). */
static void switch_error_wait(const SvqDev *svq, GError **errp, bool enable, unsigned index,
                              int rc)
{
    if (rc == -ETIMEDOUT) {
        switch_error(svq, errp, enable, SVQ_ERROR_BUSY,
                     "queue %u: the back-end did not complete its requests within %u ms",
                     index, svq->drain_timeout_ms);
    } else {
        switch_error(svq, errp, enable, VHU_ERROR_DISCONNECTED,
                     "queue %u: the back-end went away", index);
    }
}

/* Sets "NAME: MESSAGE". */
static void G_GNUC_PRINTF(4, 5)
dev_error(const SvqDev *svq, GError **errp, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vhu_error_vset(errp, code, svq ? svq_get_name(svq) : "svq", fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Layout of the shadow region                                               */

static uint32_t pow2_ceil(uint32_t n)
{
    uint32_t p = 1;

    while (p < n) {
        p <<= 1;
    }
    return p;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

/* Offsets of the three areas of a ring of @n entries; returns its bytes. */
static uint64_t ring_layout(bool packed, uint32_t n, uint64_t off[3])
{
    uint64_t desc = packed ? vq_packed_desc_bytes(n) : vq_split_desc_bytes(n);
    uint64_t drv = packed ? VQ_PACKED_EVENT_BYTES : vq_split_avail_bytes(n);
    uint64_t dev = packed ? VQ_PACKED_EVENT_BYTES : vq_split_used_bytes(n);

    off[0] = 0;
    off[1] = align_up(desc, AREA_ALIGN);
    off[2] = align_up(off[1] + drv, AREA_ALIGN);
    return off[2] + dev;
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                   */

static void watch(SvqQueue *q, bool on)
{
    SvqDev *svq = q->svq;

    if (q->watched == on) {
        return;
    }
    q->watched = on;
    if (!svq->has_loop) {
        return;
    }
    if (on) {
        svq->loop.add_watch(q->guest_kick, svq->loop_opaque);
        svq->loop.add_watch(q->shadow_call, svq->loop_opaque);
    } else {
        svq->loop.remove_watch(q->guest_kick, svq->loop_opaque);
        svq->loop.remove_watch(q->shadow_call, svq->loop_opaque);
    }
}

void svq_set_loop(SvqDev *svq, const SvqLoop *loop, void *opaque)
{
    if (!svq) {
        return;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (q->watched && svq->has_loop) {
            svq->loop.remove_watch(q->guest_kick, svq->loop_opaque);
            svq->loop.remove_watch(q->shadow_call, svq->loop_opaque);
        }
    }
    svq->has_loop = loop && loop->add_watch && loop->remove_watch;
    if (svq->has_loop) {
        svq->loop = *loop;
        svq->loop_opaque = opaque;
    } else {
        memset(&svq->loop, 0, sizeof(svq->loop));
        svq->loop_opaque = NULL;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (q->watched && svq->has_loop) {
            svq->loop.add_watch(q->guest_kick, svq->loop_opaque);
            svq->loop.add_watch(q->shadow_call, svq->loop_opaque);
        }
    }
}

unsigned svq_get_fds(const SvqDev *svq, int *fds, unsigned max)
{
    unsigned n = 0;

    if (!svq) {
        return 0;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        const SvqQueue *q = &svq->queues[i];

        if (!q->watched) {
            continue;
        }
        if (fds && n < max) {
            fds[n] = q->guest_kick;
        }
        n++;
        if (fds && n < max) {
            fds[n] = q->shadow_call;
        }
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Relaying                                                                  */

static void signal_fd(int fd)
{
    if (fd >= 0) {
        eventfd_write(fd, 1);
    }
}

static void drain_fd(int fd)
{
    eventfd_t v;

    if (fd >= 0) {
        eventfd_read(fd, &v);
    }
}

/* A used buffer notification for the guest: the VMM's function when it
 * installed one, else the guest's call eventfd. */
static void notify_guest(SvqQueue *q)
{
    SvqDev *svq = q->svq;

    if (svq->notify_fn) {
        svq->notify_fn(svq, q->index, svq->notify_opaque);
    } else {
        signal_fd(q->guest_call);
    }
}

/* A queue broke: keep why, stop watching it, tell the VMM once. */
static void report_broken(SvqQueue *q)
{
    SvqDev *svq = q->svq;

    if (q->error) {
        return;
    }
    dev_error(svq, &q->error, SVQ_ERROR_BROKEN, "queue %u: %s", q->index,
              svq_relay_error_text(q->relay));
    watch(q, false);
    if (svq->error_fn) {
        svq->error_fn(svq, q->index, q->error, svq->error_opaque);
    }
}

/* Acts on a result of svq_relay_forward() / svq_relay_complete(). */
static void apply(SvqQueue *q, int rc)
{
    if (rc < 0) {
        if (rc == -EBADFD) {
            return;
        }
        /* What was relayed before the violation is valid: let both sides
         * look (spurious notifications are harmless). */
        signal_fd(q->shadow_kick);
        notify_guest(q);
        if (svq_relay_is_broken(q->relay)) {
            report_broken(q);
        }
        return;
    }
    if (rc & SVQ_KICK_BACKEND) {
        signal_fd(q->shadow_kick);
    }
    if (rc & SVQ_NOTIFY_GUEST) {
        notify_guest(q);
    }
}

void svq_dispatch(SvqDev *svq, int fd)
{
    if (!svq || fd < 0) {
        return;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (!q->watched) {
            continue;
        }
        if (fd == q->guest_kick) {
            drain_fd(fd);
            apply(q, svq_relay_forward(q->relay));
            return;
        }
        if (fd == q->shadow_call) {
            drain_fd(fd);
            apply(q, svq_relay_complete(q->relay));
            return;
        }
    }
}

void svq_queue_kick(SvqDev *svq, unsigned index)
{
    SvqQueue *q;

    if (!svq || index >= svq->num_queues) {
        return;
    }
    q = &svq->queues[index];
    if (!q->started) {
        return;
    }
    if (!q->shadowed) {
        /* The back-end watches the guest's kick eventfd itself. */
        signal_fd(q->guest_kick);
        return;
    }
    if (q->watched) {
        apply(q, svq_relay_forward(q->relay));
    }
}

void svq_set_notify_func(SvqDev *svq, SvqNotifyFunc fn, void *opaque)
{
    if (svq) {
        svq->notify_fn = fn;
        svq->notify_opaque = fn ? opaque : NULL;
    }
}

void svq_queue_poll(SvqDev *svq, unsigned index)
{
    SvqQueue *q;

    if (!svq || index >= svq->num_queues) {
        return;
    }
    q = &svq->queues[index];
    if (!q->shadowed || !q->watched) {
        return;
    }
    apply(q, svq_relay_complete(q->relay));
    if (q->watched) {
        apply(q, svq_relay_forward(q->relay));
    }
}

void svq_remap(SvqDev *svq)
{
    if (!svq) {
        return;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (q->shadowed && svq_relay_is_started(q->relay) && !svq_relay_is_broken(q->relay) &&
            svq_relay_remap(q->relay) < 0) {
            report_broken(q);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Front-end listener                                                        */

static void on_link_up(VhuDev *dev, void *opaque)
{
    SvqDev *svq = opaque;

    (void)dev;
    /* The new back-end has our kick fd again; make sure it looks. */
    for (unsigned i = 0; i < svq->num_queues; i++) {
        if (svq->queues[i].shadowed) {
            signal_fd(svq->queues[i].shadow_kick);
        }
    }
}

static bool on_restore_base(VhuDev *dev, unsigned index, uint32_t *ret_base, void *opaque)
{
    SvqDev *svq = opaque;
    SvqQueue *q;
    VqState st;

    (void)dev;
    if (index >= svq->num_queues) {
        return false;
    }
    q = &svq->queues[index];
    /* Split shadow rings: the front-end's default (used->idx) is the same
     * position. Packed ones have no default. */
    if (!q->shadowed || vq_config_layout(&q->shadow) != VQ_LAYOUT_PACKED ||
        svq_relay_resume_state(q->relay, &st) < 0) {
        return false;
    }
    *ret_base = vq_state_to_vring_base(VQ_LAYOUT_PACKED, &st);
    return true;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */

static bool overlaps_guest(VMemMap *guest, uint64_t gpa, uint64_t size)
{
    for (unsigned i = 0; i < vmem_map_num_regions(guest); i++) {
        VMemRegionInfo info;

        if (vmem_map_region_info(guest, i, &info) == 0 && gpa < info.gpa + info.size &&
            info.gpa < gpa + size) {
            return true;
        }
    }
    return false;
}

static bool check_options(const SvqOptions *o, uint64_t page, GError **errp)
{
    if (!o || !o->vhu || !o->guest_map) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "svq_new: NULL argument");
        return false;
    }
    if (o->num_queues < 1 || o->num_queues > VHU_MAX_QUEUES) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "num_queues %u out of range 1..%u",
                  o->num_queues, VHU_MAX_QUEUES);
        return false;
    }
    if (o->max_queue_size < 1 || o->max_queue_size > VQ_MAX_SIZE) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "max_queue_size %u out of range 1..%u",
                  o->max_queue_size, VQ_MAX_SIZE);
        return false;
    }
    if (o->shadow_gpa % page) {
        dev_error(NULL, errp, VHU_ERROR_INVALID,
                  "shadow_gpa %#" PRIx64 " is not aligned on the page size", o->shadow_gpa);
        return false;
    }
    return true;
}

bool svq_new(const SvqOptions *opts, SvqDev **ret_svq, GError **errp)
{
    static const VhuListener listener = {
        .link_up = on_link_up,
        .restore_vring_base = on_restore_base,
    };
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), off[3];
    VMemRegionInfo info;
    VhuMemRegion region;
    SvqDev *svq;
    int rc;

    if (!check_options(opts, page, errp)) {
        return false;
    }
    if (!ret_svq) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "svq_new: NULL argument");
        return false;
    }
    svq = g_new0(SvqDev, 1);
    svq->vhu = opts->vhu;
    svq->guest_map = opts->guest_map;
    svq->num_queues = opts->num_queues;
    svq->max_queue_size = opts->max_queue_size;
    svq->shadow_gpa = opts->shadow_gpa;
    svq->drain_timeout_ms = opts->drain_timeout_ms ? opts->drain_timeout_ms
                                                   : DEFAULT_DRAIN_TIMEOUT_MS;
    svq->quiet_ms = opts->quiet_ms;
    svq->enabled = opts->enabled;
    /* A split shadow ring is the larger one (rounded to a power of two). */
    svq->slot_bytes = align_up(ring_layout(false, pow2_ceil(opts->max_queue_size), off), page);
    svq->region_bytes = svq->slot_bytes * opts->num_queues;
    svq->queues = g_new0(SvqQueue, opts->num_queues);
    for (unsigned i = 0; i < opts->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        q->svq = svq;
        q->index = i;
        q->guest_kick = q->guest_call = q->shadow_kick = q->shadow_call = -1;
        q->slot_gpa = svq->shadow_gpa + svq->slot_bytes * i;
    }
    for (unsigned i = 0; i < opts->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        q->shadow_kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        q->shadow_call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->shadow_kick < 0 || q->shadow_call < 0) {
            dev_error(svq, errp, VHU_ERROR_FAILED, "eventfd: %s", g_strerror(errno));
            goto fail;
        }
    }
    if (svq->shadow_gpa + svq->region_bytes - 1 < svq->shadow_gpa ||
        overlaps_guest(svq->guest_map, svq->shadow_gpa, svq->region_bytes)) {
        dev_error(svq, errp, VHU_ERROR_INVALID,
                  "shadow region %#" PRIx64 "+%#" PRIx64 " wraps or overlaps guest RAM",
                  svq->shadow_gpa, svq->region_bytes);
        goto fail;
    }
    rc = vmem_map_new(&svq->shadow_map);
    if (rc == 0) {
        rc = vmem_map_add_memfd(svq->shadow_map, svq->shadow_gpa, svq->region_bytes,
                                "svq-shadow", VMEM_MEMFD_SEAL);
    }
    if (rc == 0) {
        rc = vmem_map_region_info(svq->shadow_map, 0, &info);
    }
    if (rc < 0) {
        dev_error(svq, errp, VHU_ERROR_FAILED, "shadow region: %s", g_strerror(-rc));
        goto fail;
    }
    for (unsigned i = 0; i < opts->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];
        char name[48];

        if (svq_relay_new(svq->guest_map, svq->shadow_map, &q->relay) < 0) {
            dev_error(svq, errp, VHU_ERROR_FAILED, "out of memory");
            goto fail;
        }
        snprintf(name, sizeof(name), "%.24s.q%u", svq_get_name(svq), i);
        svq_relay_set_name(q->relay, name);
    }
    region = (VhuMemRegion){ .gpa = info.gpa, .size = info.size, .host = info.host,
                             .fd = info.fd, .fd_offset = info.fd_offset };
    if (!vhu_add_mem_region(svq->vhu, &region, errp)) {
        goto fail;
    }
    svq->region_added = true;
    svq->listener_id = vhu_add_listener(svq->vhu, &listener, svq);
    *ret_svq = svq;
    return true;

fail:
    svq_free(svq);
    return false;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

void svq_free(SvqDev *svq)
{
    if (!svq) {
        return;
    }
    svq_source_detach(svq);
    if (svq->registry) {
        svq_registry_forget(svq->registry, svq);
    }
    for (unsigned i = 0; svq->queues && i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        watch(q, false);
        if (q->shadowed && vhu_vring_is_started(svq->vhu, i)) {
            vhu_vring_stop(svq->vhu, i, NULL, NULL);
        }
        svq_relay_free(q->relay);
        close_fd(&q->guest_kick);
        close_fd(&q->guest_call);
        close_fd(&q->shadow_kick);
        close_fd(&q->shadow_call);
        if (q->error) {
            g_error_free(q->error);
        }
    }
    if (svq->listener_id) {
        vhu_remove_listener(svq->vhu, svq->listener_id);
    }
    if (svq->region_added) {
        vhu_remove_mem_region(svq->vhu, svq->shadow_gpa, NULL);
    }
    vmem_map_free(svq->shadow_map);
    g_free(svq->queues);
    g_free(svq);
}

const char *svq_get_name(const SvqDev *svq)
{
    return svq ? vhu_get_name(svq->vhu) : NULL;
}

bool svq_is_enabled(const SvqDev *svq)
{
    return svq && svq->enabled;
}

bool svq_queue_is_shadowed(const SvqDev *svq, unsigned index)
{
    return svq && index < svq->num_queues && svq->queues[index].shadowed;
}

const GError *svq_queue_get_error(const SvqDev *svq, unsigned index)
{
    return svq && index < svq->num_queues ? svq->queues[index].error : NULL;
}

void svq_queue_get_stats(const SvqDev *svq, unsigned index, SvqStats *ret)
{
    if (!ret) {
        return;
    }
    if (!svq || index >= svq->num_queues) {
        memset(ret, 0, sizeof(*ret));
        return;
    }
    svq_relay_get_stats(svq->queues[index].relay, ret);
    ret->switches = svq->queues[index].switches;
}

void svq_set_error_func(SvqDev *svq, SvqErrorFunc fn, void *opaque)
{
    if (svq) {
        svq->error_fn = fn;
        svq->error_opaque = fn ? opaque : NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* Starting a ring, directly or shadowed                                     */

static bool packed_features(uint64_t f)
{
    return (f & VQ_FEATURE(VQ_F_RING_PACKED)) != 0;
}

/* Whether the back-end can take the guest ring itself; @why says why not. */
static bool direct_compatible(const SvqDev *svq, const VqConfig *guest, const char **why)
{
    uint64_t acked = vhu_get_acked_features(svq->vhu);
    uint64_t g = guest->features;

    if (packed_features(g) != packed_features(acked)) {
        *why = packed_features(g) ? "the guest ring is packed, the back-end accepted split rings"
                                  : "the guest ring is split, the back-end accepted packed rings";
        return false;
    }
    if ((g ^ acked) & VQ_FEATURE(VQ_F_EVENT_IDX)) {
        *why = "the guest and the back-end disagree on EVENT_IDX";
        return false;
    }
    if ((g & VQ_FEATURE(VQ_F_INDIRECT_DESC)) && !(acked & VQ_FEATURE(VQ_F_INDIRECT_DESC))) {
        *why = "the guest uses indirect descriptors, the back-end did not accept them";
        return false;
    }
    return true;
}

static bool direct_start(SvqQueue *q, uint32_t base, GError **errp)
{
    SvqDev *svq = q->svq;
    VhuVringConfig cfg;

    if (!vhu_vring_config_from_guest(svq->guest_map, &q->guest, base, &cfg, errp) ||
        !vhu_vring_set_kick(svq->vhu, q->index, q->guest_kick, errp) ||
        !vhu_vring_set_call(svq->vhu, q->index, q->guest_call, errp)) {
        return false;
    }
    if (!vhu_vring_start(svq->vhu, q->index, &cfg, errp)) {
        /* A lost link leaves the ring recorded: it starts on reconnection. */
        if (!vhu_vring_is_started(svq->vhu, q->index)) {
            return false;
        }
        if (errp) {
            g_clear_error(errp);
        }
    }
    return true;
}

/* The shadow ring of @q for the guest ring in q->guest, in the layout the
 * back-end accepted. */
static void shadow_config(SvqQueue *q, VqConfig *ret)
{
    uint64_t acked = vhu_get_acked_features(q->svq->vhu), off[3];
    bool packed = packed_features(acked);
    uint32_t n = packed ? q->guest.size : pow2_ceil(q->guest.size);

    ring_layout(packed, n, off);
    *ret = (VqConfig){
        .size = n,
        .desc_addr = q->slot_gpa + off[0],
        .driver_addr = q->slot_gpa + off[1],
        .device_addr = q->slot_gpa + off[2],
        .features = acked & (VQ_FEATURE(VQ_F_RING_PACKED) | VQ_FEATURE(VQ_F_EVENT_IDX)),
    };
}

static VhuVringConfig shadow_vring(const SvqQueue *q, uint32_t base)
{
    VMemMap *m = q->svq->shadow_map;
    const VqConfig *s = &q->shadow;

    return (VhuVringConfig){
        .num = s->size,
        .desc_uaddr = (uint64_t)(uintptr_t)vmem_translate_ptr(m, s->desc_addr, 1),
        .avail_uaddr = (uint64_t)(uintptr_t)vmem_translate_ptr(m, s->driver_addr, 1),
        .used_uaddr = (uint64_t)(uintptr_t)vmem_translate_ptr(m, s->device_addr, 1),
        .base = base,
    };
}

/* The base of a fresh shadow ring. */
static uint32_t fresh_base(const VqConfig *shadow)
{
    VqState st = { .avail_wrap = true, .used_wrap = true };

    return vq_state_to_vring_base(vq_config_layout(shadow), &st);
}

/* Points the back-end at a fresh shadow ring for q->guest, which stands at
 * @guest_state. On failure nothing is started (the relay is stopped). */
static bool shadow_start(SvqQueue *q, const VqState *guest_state, GError **errp)
{
    SvqDev *svq = q->svq;
    VhuVringConfig cfg;
    int rc;

    shadow_config(q, &q->shadow);
    if (q->shadow.size > pow2_ceil(svq->max_queue_size)) {
        dev_error(svq, errp, VHU_ERROR_INVALID, "queue %u: ring of %u entries above %u",
                  q->index, q->guest.size, svq->max_queue_size);
        return false;
    }
    rc = svq_relay_start(q->relay, &q->guest, guest_state, &q->shadow);
    if (rc < 0) {
        dev_error(svq, errp, SVQ_ERROR_BROKEN, "queue %u: the guest ring is unusable: %s",
                  q->index, vq_strerror(rc));
        return false;
    }
    if (q->error) {
        g_clear_error(&q->error);
    }
    drain_fd(q->shadow_call);
    cfg = shadow_vring(q, fresh_base(&q->shadow));
    if (!vhu_vring_set_kick(svq->vhu, q->index, q->shadow_kick, errp) ||
        !vhu_vring_set_call(svq->vhu, q->index, q->shadow_call, errp)) {
        svq_relay_stop(q->relay);
        return false;
    }
    if (!vhu_vring_start(svq->vhu, q->index, &cfg, errp)) {
        if (!vhu_vring_is_started(svq->vhu, q->index)) {
            svq_relay_stop(q->relay);
            return false;
        }
        if (errp) {
            g_clear_error(errp);
        }
    }
    q->shadowed = true;
    watch(q, true);
    /* Chains the guest added while the ring changed hands. */
    apply(q, svq_relay_forward(q->relay));
    return true;
}

static int dup_fd(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* The guest ring state a VRING_BASE number stands for. */
static bool guest_state_from_base(const VqConfig *guest, uint32_t base, VqState *st)
{
    return vq_state_from_vring_base(vq_config_layout(guest), base, st) == 0;
}

/* A fresh ring: positions 0, wrap counters 1; split used index from the ring. */
static void fresh_state(const VqConfig *guest, VqState *st)
{
    *st = (VqState){ .avail_wrap = true, .used_wrap = true };
    if (vq_config_layout(guest) == VQ_LAYOUT_SPLIT) {
        st->flags = VQ_STATE_F_USED_FROM_RING;
    }
}

bool svq_queue_start(SvqDev *svq, unsigned index, const VqConfig *guest, const VqState *state,
                     int kick_fd, int call_fd, GError **errp)
{
    const char *why = NULL;
    SvqQueue *q;
    VqState st;
    bool ok;

    if (!svq || index >= svq->num_queues || !guest) {
        dev_error(svq, errp, VHU_ERROR_INVALID, "svq_queue_start: bad queue or NULL ring");
        return false;
    }
    q = &svq->queues[index];
    if (q->started || vhu_vring_is_started(svq->vhu, index)) {
        dev_error(svq, errp, VHU_ERROR_STATE, "queue %u is already started", index);
        return false;
    }
    if (state) {
        st = *state;
    } else {
        fresh_state(guest, &st);
    }
    if (guest->size > svq->max_queue_size || vq_config_check(svq->guest_map, guest) < 0 ||
        (st.flags & ~VQ_STATE_F_USED_FROM_RING) ||
        (vq_config_layout(guest) == VQ_LAYOUT_PACKED &&
         (st.next_avail >= guest->size || st.next_used >= guest->size))) {
        dev_error(svq, errp, VHU_ERROR_INVALID,
                  "queue %u: ring of %u entries at %#" PRIx64
                  " is invalid, outside guest memory or above %u entries, or its state is bad",
                  index, guest->size, guest->desc_addr, svq->max_queue_size);
        return false;
    }
    if (kick_fd < 0 || call_fd < 0 || fcntl(kick_fd, F_GETFD) < 0 ||
        fcntl(call_fd, F_GETFD) < 0) {
        dev_error(svq, errp, VHU_ERROR_INVALID, "queue %u: kick or call fd not open", index);
        return false;
    }
    if (!svq->enabled && !direct_compatible(svq, guest, &why)) {
        dev_error(svq, errp, SVQ_ERROR_INCOMPATIBLE, "queue %u: %s (enable the shadow vq)",
                  index, why);
        return false;
    }
    q->guest = *guest;
    q->guest_kick = dup_fd(kick_fd);
    q->guest_call = dup_fd(call_fd);
    if (q->guest_kick < 0 || q->guest_call < 0) {
        dev_error(svq, errp, VHU_ERROR_FAILED, "dup: %s", g_strerror(errno));
        close_fd(&q->guest_kick);
        close_fd(&q->guest_call);
        return false;
    }
    ok = svq->enabled ? shadow_start(q, &st, errp)
                      : direct_start(q, vq_state_to_vring_base(vq_config_layout(guest), &st),
                                     errp);
    if (!ok) {
        close_fd(&q->guest_kick);
        close_fd(&q->guest_call);
        return false;
    }
    q->started = true;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Waiting for the back-end                                                  */

/*
 * A ring is only taken away from the back-end (GET_VRING_BASE) once the
 * back-end has completed what it took, when that can be arranged: a
 * back-end may complete requests after GET_VRING_BASE, writing them into
 * whatever ring it is pointed at next, and libvhost-user (QEMU 7.2's
 * qemu-storage-daemon) then signals a call fd it has already closed and
 * stops the whole device. So each switch first lets the back-end finish
 * ("quiesce"): until nothing is in flight, or until no completion came for
 * SvqOptions.quiet_ms (a back-end holding buffers it may never complete,
 * such as a network receive ring), or the drain timeout.
 */

typedef bool (*DoneFunc)(SvqQueue *q, void *arg);

/* Waits until @done, at most the drain timeout, watching the front-end's
 * connection for a hang-up and @fd (may be -1) for readability. A back-end
 * signals nothing once its ring is stopped, so this also wakes up with a
 * growing delay. Returns 0, -ETIMEDOUT or -ENOTCONN. */
static int wait_for(SvqQueue *q, int fd, DoneFunc done, void *arg)
{
    SvqDev *svq = q->svq;
    int64_t deadline = g_get_monotonic_time() + (int64_t)svq->drain_timeout_ms * 1000;
    int64_t delay_us = 5;

    for (;;) {
        struct pollfd p[2] = {
            { .fd = vhu_get_fd(svq->vhu, NULL), .events = 0 },
            { .fd = fd, .events = POLLIN },
        };
        int64_t left;
        struct timespec ts;

        if (done(q, arg)) {
            return 0;
        }
        if (!vhu_is_up(svq->vhu)) {
            return -ENOTCONN;
        }
        left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        if (delay_us > left) {
            delay_us = left;
        }
        ts.tv_sec = (time_t)(delay_us / 1000000);
        ts.tv_nsec = (long)(delay_us % 1000000) * 1000;
        if (ppoll(p, 2, &ts, NULL) > 0 && (p[0].revents & (POLLHUP | POLLERR))) {
            return -ENOTCONN;
        }
        delay_us = MIN(delay_us * 2, WAIT_MAX_DELAY_US);
    }
}

static uint16_t guest_ring_u16(SvqQueue *q, uint64_t gpa)
{
    uint16_t v = 0;

    vmem_load_acquire_le16(q->svq->guest_map, gpa, &v);
    return v;
}

static uint16_t guest_used_idx(SvqQueue *q)
{
    return guest_ring_u16(q, q->guest.device_addr + VQ_SPLIT_USED_IDX);
}

static bool guest_used_reached(SvqQueue *q, void *arg)
{
    return guest_used_idx(q) == *(const uint16_t *)arg;
}

/* Progress of a quiesce: the last count seen and when it changed; how
 * long an unchanged count takes to count as quiet (0: never). */
typedef struct Quiet {
    uint32_t last;
    int64_t since_us;
    int64_t quiet_us;
} Quiet;

#define QUIET_INIT(svq) { .last = UINT32_MAX, .quiet_us = (int64_t)(svq)->quiet_ms * 1000 }

/* True when @count is 0, or has not changed for w->quiet_us. */
static bool quiet_reached(Quiet *w, uint32_t count)
{
    int64_t now = g_get_monotonic_time();

    if (count == 0) {
        return true;
    }
    if (count != w->last) {
        w->last = count;
        w->since_us = now;
        return false;
    }
    return w->quiet_us > 0 && now - w->since_us >= w->quiet_us;
}

/* Split guest ring, directly used by the back-end: chains available and
 * not used yet (the guest is the one adding). */
static bool guest_quiet(SvqQueue *q, void *arg)
{
    uint16_t avail = guest_ring_u16(q, q->guest.driver_addr + VQ_SPLIT_AVAIL_IDX);

    return quiet_reached(arg, (uint16_t)(avail - guest_used_idx(q)));
}

/* Shadow ring, forwarding paused: relays completions until none is in
 * flight or the back-end stops completing. */
static bool shadow_quiet(SvqQueue *q, void *arg)
{
    drain_fd(q->shadow_call);
    apply(q, svq_relay_complete(q->relay));
    return svq_relay_is_broken(q->relay) || quiet_reached(arg, svq_relay_in_flight(q->relay));
}

typedef struct HandBack {
    VqState backend;
    VqState guest;
    int rc;
} HandBack;

/* Relays what the back-end completed, then tries the hand-back. */
static bool hand_back_done(SvqQueue *q, void *arg)
{
    HandBack *hb = arg;

    apply(q, svq_relay_complete(q->relay));
    hb->rc = svq_relay_hand_back(q->relay, &hb->backend, &hb->guest);
    return hb->rc != -EBUSY;
}

/* ------------------------------------------------------------------------ */
/* Switching                                                                 */

/* Brings back the direct ring after a failed switch on. */
static void restore_direct(SvqQueue *q, uint32_t base)
{
    GError *err = NULL;

    if (!direct_start(q, base, &err)) {
        /* Nothing else to try: the queue is stopped. */
        dev_error(q->svq, &q->error, SVQ_ERROR_BROKEN, "queue %u: could not restart: %s",
                  q->index, err->message);
        g_error_free(err);
        q->started = false;
    }
}

static bool enable_queue(SvqQueue *q, GError **errp)
{
    SvqDev *svq = q->svq;
    GError *err = NULL;
    uint32_t base;
    VqState st;
    int rc = 0;

    if (vq_config_layout(&q->guest) == VQ_LAYOUT_SPLIT) {
        Quiet w = QUIET_INIT(svq);

        /* The back-end keeps its call fd meanwhile: the guest is notified. */
        rc = wait_for(q, -1, guest_quiet, &w);
        if (rc == -ENOTCONN) {
            switch_error_wait(svq, errp, true, q->index, -ENOTCONN);
            return false;
        }
        rc = 0;
    }
    if (!vhu_vring_stop(svq->vhu, q->index, &base, &err)) {
        if (!vhu_vring_is_started(svq->vhu, q->index)) {
            q->started = false;
        }
        switch_error_from(svq, errp, true, q->index, err);
        return false;
    }
    if (!vhu_is_up(svq->vhu)) {
        restore_direct(q, base);
        switch_error_wait(svq, errp, true, q->index, -ENOTCONN);
        return false;
    }
    if (!guest_state_from_base(&q->guest, base, &st)) {
        restore_direct(q, base);
        switch_error(svq, errp, true, VHU_ERROR_PROTOCOL, "queue %u: bad ring base %#x",
                     q->index, base);
        return false;
    }
    if (vq_config_layout(&q->guest) == VQ_LAYOUT_PACKED) {
        if (st.next_avail != st.next_used || st.avail_wrap != st.used_wrap) {
            restore_direct(q, base);
            switch_error(svq, errp, true, SVQ_ERROR_INCOMPATIBLE,
                         "queue %u: the back-end stopped a packed ring with requests in "
                         "flight",
                         q->index);
            return false;
        }
    } else {
        uint16_t want = (uint16_t)base;

        /* Requests the back-end took complete on the guest ring, without
         * a notification: wait for them. */
        rc = wait_for(q, -1, guest_used_reached, &want);
        st.next_used = want;
        st.flags = 0;
    }
    if (rc < 0) {
        restore_direct(q, base);
        switch_error_wait(svq, errp, true, q->index, rc);
        return false;
    }
    if (!shadow_start(q, &st, &err)) {
        restore_direct(q, base);
        switch_error_from(svq, errp, true, q->index, err);
        return false;
    }
    /* Completions written while we waited were not signalled. */
    notify_guest(q);
    q->switches++;
    return true;
}

/* Restarts the back-end on the shadow ring where it stopped (@base),
 * after a failed switch off. */
static void restore_shadow(SvqQueue *q, uint32_t base)
{
    SvqDev *svq = q->svq;
    VhuVringConfig cfg = shadow_vring(q, base);
    GError *err = NULL;

    svq_relay_set_paused(q->relay, false);
    if (!vhu_vring_start(svq->vhu, q->index, &cfg, &err) &&
        !vhu_vring_is_started(svq->vhu, q->index)) {
        svq_relay_break(q->relay, -EIO, "could not restart the shadow ring: %s",
                        err->message);
        report_broken(q);
    }
    if (err) {
        g_error_free(err);
    }
    apply(q, svq_relay_forward(q->relay));
}

/* Takes the shadow ring away from the back-end and hands the guest's
 * chains back to the guest ring; *@ret_guest is where the guest ring
 * stands. On failure the queue keeps running shadowed (SVQ_ERROR_BUSY,
 * disconnection) or is broken. */
static bool unshadow(SvqQueue *q, bool enable_word, VqState *ret_guest, GError **errp)
{
    SvqDev *svq = q->svq;
    HandBack hb = { .rc = 0 };
    GError *err = NULL;
    uint32_t base;
    int rc;

    if (svq_relay_is_broken(q->relay)) {
        report_broken(q);
        switch_error(svq, errp, enable_word, SVQ_ERROR_BROKEN, "queue %u is broken (%s)",
                     q->index, svq_relay_error_text(q->relay));
        return false;
    }
    svq_relay_set_paused(q->relay, true);
    {
        Quiet w = QUIET_INIT(svq);

        rc = wait_for(q, q->shadow_call, shadow_quiet, &w);
        if (rc == -ENOTCONN || svq_relay_is_broken(q->relay)) {
            svq_relay_set_paused(q->relay, false);
            apply(q, svq_relay_forward(q->relay));
            if (svq_relay_is_broken(q->relay)) {
                switch_error(svq, errp, enable_word, SVQ_ERROR_BROKEN, "queue %u: %s",
                             q->index, svq_relay_error_text(q->relay));
            } else {
                switch_error_wait(svq, errp, enable_word, q->index, -ENOTCONN);
            }
            return false;
        }
    }
    if (!vhu_vring_stop(svq->vhu, q->index, &base, &err)) {
        svq_relay_set_paused(q->relay, false);
        switch_error_from(svq, errp, enable_word, q->index, err);
        return false;
    }
    if (!vhu_is_up(svq->vhu)) {
        restore_shadow(q, base);
        switch_error_wait(svq, errp, enable_word, q->index, -ENOTCONN);
        return false;
    }
    if (vq_state_from_vring_base(vq_config_layout(&q->shadow), base, &hb.backend) < 0) {
        restore_shadow(q, base);
        switch_error(svq, errp, enable_word, VHU_ERROR_PROTOCOL,
                     "queue %u: bad shadow ring base %#x", q->index, base);
        return false;
    }
    rc = wait_for(q, q->shadow_call, hand_back_done, &hb);
    if (rc < 0) {
        restore_shadow(q, base);
        switch_error_wait(svq, errp, enable_word, q->index, rc);
        return false;
    }
    if (hb.rc < 0) {
        report_broken(q);
        switch_error(svq, errp, enable_word, SVQ_ERROR_BROKEN, "queue %u: %s", q->index,
                     svq_relay_error_text(q->relay));
        return false;
    }
    watch(q, false);
    q->shadowed = false;
    *ret_guest = hb.guest;
    return true;
}

static bool disable_queue(SvqQueue *q, GError **errp)
{
    SvqDev *svq = q->svq;
    GError *err = NULL;
    VqState st;

    if (!unshadow(q, false, &st, errp)) {
        return false;
    }
    if (!direct_start(q, vq_state_to_vring_base(vq_config_layout(&q->guest), &st), &err)) {
        /* The back-end refused the guest ring: go back to the shadow ring,
         * from the guest's position (the handed-back chains are taken again). */
        GError *again = NULL;

        if (!shadow_start(q, &st, &again)) {
            dev_error(svq, &q->error, SVQ_ERROR_BROKEN, "queue %u: could not restart: %s",
                      q->index, again->message);
            g_error_free(again);
            q->started = false;
        }
        switch_error_from(svq, errp, false, q->index, err);
        return false;
    }
    /* Chains the guest added during the switch: make the back-end look. */
    signal_fd(q->guest_kick);
    q->switches++;
    return true;
}

static unsigned started_queues(const SvqDev *svq)
{
    unsigned n = 0;

    for (unsigned i = 0; i < svq->num_queues; i++) {
        n += svq->queues[i].started;
    }
    return n;
}

/* The checks both directions share. */
static bool can_switch(SvqDev *svq, bool enable, GError **errp)
{
    if (started_queues(svq) == 0) {
        switch_error(svq, errp, enable, SVQ_ERROR_NOT_STARTED, "device not started");
        return false;
    }
    if (!vhu_is_up(svq->vhu)) {
        switch_error(svq, errp, enable, VHU_ERROR_DISCONNECTED, "back-end not connected");
        return false;
    }
    return true;
}

bool svq_enable(SvqDev *svq, GError **errp)
{
    if (!svq) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "svq_enable: NULL device");
        return false;
    }
    if (svq->enabled) {
        return true;
    }
    if (!can_switch(svq, true, errp)) {
        return false;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (!q->started || q->shadowed) {
            continue;
        }
        if (!enable_queue(q, errp)) {
            /* All or nothing: switch the others back. */
            for (unsigned j = 0; j < i; j++) {
                if (svq->queues[j].shadowed) {
                    disable_queue(&svq->queues[j], NULL);
                }
            }
            return false;
        }
    }
    svq->enabled = true;
    return true;
}

bool svq_disable(SvqDev *svq, GError **errp)
{
    if (!svq) {
        dev_error(NULL, errp, VHU_ERROR_INVALID, "svq_disable: NULL device");
        return false;
    }
    if (!svq->enabled) {
        return true;
    }
    if (!can_switch(svq, false, errp)) {
        return false;
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        const SvqQueue *q = &svq->queues[i];
        const char *why;

        if (q->started && q->shadowed && !direct_compatible(svq, &q->guest, &why)) {
            switch_error(svq, errp, false, SVQ_ERROR_INCOMPATIBLE, "queue %u: %s", i, why);
            return false;
        }
        if (q->started && q->shadowed && svq_relay_is_broken(q->relay)) {
            switch_error(svq, errp, false, SVQ_ERROR_BROKEN, "queue %u is broken (%s)", i,
                         svq_relay_error_text(q->relay));
            return false;
        }
    }
    for (unsigned i = 0; i < svq->num_queues; i++) {
        SvqQueue *q = &svq->queues[i];

        if (!q->started || !q->shadowed) {
            continue;
        }
        if (!disable_queue(q, errp)) {
            for (unsigned j = 0; j < i; j++) {
                if (svq->queues[j].started && !svq->queues[j].shadowed) {
                    enable_queue(&svq->queues[j], NULL);
                }
            }
            return false;
        }
    }
    svq->enabled = false;
    return true;
}

bool svq_queue_stop(SvqDev *svq, unsigned index, VqState *ret_state, GError **errp)
{
    SvqQueue *q;
    VqState st;
    uint32_t base;
    bool ok = true;

    if (!svq || index >= svq->num_queues) {
        dev_error(svq, errp, VHU_ERROR_INVALID, "svq_queue_stop: bad queue");
        return false;
    }
    q = &svq->queues[index];
    if (!q->started) {
        dev_error(svq, errp, SVQ_ERROR_NOT_STARTED, "queue %u is not started", index);
        return false;
    }
    if (!q->shadowed) {
        ok = vhu_vring_stop(svq->vhu, index, &base, errp) &&
             guest_state_from_base(&q->guest, base, &st);
    } else if (!svq_relay_is_broken(q->relay) && vhu_is_up(svq->vhu) &&
               unshadow(q, false, &st, errp)) {
        /* st is where the guest ring stands after the hand-back. */
    } else {
        /* Broken, disconnected or stuck: stop anyway; a reset does not need
         * the chains in flight. */
        if (errp && !*errp) {
            dev_error(svq, errp, svq_relay_is_broken(q->relay) ? SVQ_ERROR_BROKEN
                                                               : VHU_ERROR_DISCONNECTED,
                      "queue %u stopped without hand-back", index);
        }
        ok = false;
        watch(q, false);
        if (vhu_vring_is_started(svq->vhu, index)) {
            vhu_vring_stop(svq->vhu, index, NULL, NULL);
        }
        svq_relay_stop(q->relay);
        q->shadowed = false;
    }
    if (ok && ret_state) {
        *ret_state = st;
    }
    q->started = false;
    close_fd(&q->guest_kick);
    close_fd(&q->guest_call);
    return ok;
}
