/* SPDX-License-Identifier: MIT */
/* Private state of the shadow virtqueue, shared by its source files. */
#ifndef VHOST_SVQ_SVQ_PRIVATE_H
#define VHOST_SVQ_SVQ_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/svq.h"

/* Writable buffers kept inside a record; longer chains use the heap. */
#define SVQ_INLINE_WBUFS 4u

/* One guest chain in the shadow ring, indexed by the token given to the
 * driver side. Everything needed to return it is here, in private memory:
 * nothing is read back from the shadow ring but what the back-end writes. */
typedef struct SvqRecord {
    uint64_t seq;          /* add order */
    uint32_t in_len;       /* writable bytes */
    uint16_t guest_id;
    uint16_t guest_ndescs;
    uint16_t nbufs;        /* shadow descriptors taken */
    uint16_t nin;          /* writable buffers, in @wbufs */
    uint16_t head_pos;     /* packed shadow: position of the first descriptor */
    bool head_wrap;        /* packed shadow: the driver's wrap counter there */
    bool busy;
    uint32_t wcap;         /* capacity of @wheap */
    VqBuf *wheap;          /* kept across uses */
    VqBuf winline[SVQ_INLINE_WBUFS];
} SvqRecord;

struct SvqRelay {
    VMemMap *guest_map;
    VMemMap *shadow_map;
    VqDevQueue *guest;
    VqDrvQueue *shadow;
    char name[32];

    bool started;
    bool broken;
    bool paused;
    bool parked;           /* @elem holds a chain waiting for room */
    bool guest_quiet;      /* guest kicks suppressed while parked */
    int last_error;
    char error[192];

    VqConfig guest_cfg;
    VqConfig shadow_cfg;
    bool guest_packed;
    bool shadow_packed;
    uint32_t shadow_size;

    /* pop scratch: the chain being forwarded (or parked) */
    VqElem elem;
    VqBuf *bufs;
    uint32_t bufs_cap;

    /* records, by token */
    SvqRecord *recs;
    uint32_t recs_cap;
    uint16_t *free_tokens;
    uint32_t nfree;

    /* mirrors of the driver side's positions */
    uint64_t adds;         /* chains added since start */
    uint16_t avail_idx;    /* split: avail->idx */
    uint16_t avail_pos;    /* packed: next descriptor position */
    bool avail_wrap;
    uint16_t used_idx;     /* split: used entries taken */
    uint16_t used_pos;     /* packed: position of the next used descriptor */
    bool used_wrap;
    const uint8_t *shadow_desc; /* host views of the shadow ring, for lengths */
    const uint8_t *shadow_used;

    SvqStats stats;
};

/* vhu-proto.c: sets *@errp (unless NULL) to "@prefix: " and @fmt formatted,
 * in the VHU_ERROR domain. */
void vhu_error_vset(GError **errp, int code, const char *prefix, const char *fmt, va_list ap)
    G_GNUC_PRINTF(4, 0);

/* svq-relay.c */
void svq_relay_break(SvqRelay *r, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* svq-dev.c */
typedef struct SvqQueue {
    SvqDev *svq;
    unsigned index;
    bool started;          /* started through svq_queue_start() */
    bool shadowed;         /* the back-end has the shadow ring */
    bool watched;          /* kick and call fds are watched */
    VqConfig guest;
    int guest_kick;        /* our duplicates */
    int guest_call;
    int shadow_kick;       /* ours */
    int shadow_call;
    uint64_t slot_gpa;     /* this queue's part of the shadow region */
    VqConfig shadow;       /* the shadow ring, while shadowed */
    SvqRelay *relay;
    GError *error;         /* why it broke */
    uint64_t switches;
} SvqQueue;

struct SvqDev {
    VhuDev *vhu;
    VMemMap *guest_map;
    unsigned num_queues;
    uint32_t max_queue_size;
    uint64_t shadow_gpa;
    uint64_t slot_bytes;
    uint64_t region_bytes;
    unsigned drain_timeout_ms;
    unsigned quiet_ms;
    bool enabled;
    bool region_added;

    VMemMap *shadow_map;   /* the shadow region only */
    unsigned listener_id;

    bool has_loop;
    SvqLoop loop;
    void *loop_opaque;
    GSource *source;       /* from svq_source_new(), not owned */

    SvqErrorFunc error_fn;
    void *error_opaque;
    SvqNotifyFunc notify_fn;   /* instead of the guest's call eventfd */
    void *notify_opaque;

    SvqRegistry *registry; /* the one it is in, or NULL */
    SvqQueue *queues;
};

/* svq-glib.c */
void svq_source_detach(SvqDev *svq);

/* svq-registry.c */
void svq_registry_forget(SvqRegistry *reg, SvqDev *svq);

#endif /* VHOST_SVQ_SVQ_PRIVATE_H */
