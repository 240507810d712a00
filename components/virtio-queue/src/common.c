/* SPDX-License-Identifier: MIT */
/*
 * Configuration checks, buffer helpers, state encoding and the rate-limited
 * log shared by the device side and the driver side.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */

VqLayout vq_config_layout(const VqConfig *cfg)
{
    if (!cfg) {
        return _VQ_LAYOUT_INVALID;
    }
    return (cfg->features & VQ_FEATURE(VQ_F_RING_PACKED)) ? VQ_LAYOUT_PACKED
                                                           : VQ_LAYOUT_SPLIT;
}

uint64_t vq_driver_area_bytes(bool packed, uint32_t size)
{
    return packed ? VQ_PACKED_EVENT_BYTES : vq_split_avail_bytes(size);
}

uint64_t vq_device_area_bytes(bool packed, uint32_t size)
{
    return packed ? VQ_PACKED_EVENT_BYTES : vq_split_used_bytes(size);
}

int vq_config_translate(VMemMap *map, const VqConfig *cfg, uint8_t **ret_desc,
                        uint8_t **ret_driver, uint8_t **ret_device)
{
    if (!map || !cfg) {
        return -EINVAL;
    }
    bool packed = vq_config_layout(cfg) == VQ_LAYOUT_PACKED;
    uint32_t n = cfg->size;
    if (n == 0 || n > VQ_MAX_SIZE || (!packed && (n & (n - 1)))) {
        return -EINVAL;
    }
    if ((cfg->desc_addr & 15) || (cfg->driver_addr & (packed ? 3 : 1)) ||
        (cfg->device_addr & 3)) {
        return -EINVAL;
    }
    uint8_t *d = vmem_translate_ptr(map, cfg->desc_addr, 16ull * n);
    uint8_t *drv = vmem_translate_ptr(map, cfg->driver_addr, vq_driver_area_bytes(packed, n));
    uint8_t *dev = vmem_translate_ptr(map, cfg->device_addr, vq_device_area_bytes(packed, n));
    if (!d || !drv || !dev) {
        return -EFAULT;
    }
    if (ret_desc) {
        *ret_desc = d;
        *ret_driver = drv;
        *ret_device = dev;
    }
    return 0;
}

int vq_config_check(VMemMap *map, const VqConfig *cfg)
{
    return vq_config_translate(map, cfg, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */

int vq_bufs_to_iov(VMemMap *map, const VqBuf *bufs, unsigned nbufs,
                   struct iovec *iov, unsigned iov_cap)
{
    if (!map || (nbufs && !bufs) || (iov_cap && !iov)) {
        return -EINVAL;
    }
    unsigned n = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        if (bufs[i].len == 0) {
            continue;
        }
        /* Common case: the whole buffer in one region, one lookup. */
        void *p = vmem_translate_ptr(map, bufs[i].gpa, bufs[i].len);
        if (VQ_LIKELY(p)) {
            if (n >= iov_cap) {
                return -ENOBUFS;
            }
            iov[n].iov_base = p;
            iov[n].iov_len = bufs[i].len;
            n++;
            continue;
        }
        unsigned got;
        int rc = vmem_translate_iov(map, bufs[i].gpa, bufs[i].len, iov + n,
                                    iov_cap - n, &got);
        if (rc < 0) {
            return rc;
        }
        n += got;
    }
    return (int)n;
}

/* Walks the readable (write == false) or writable part of @elem from byte
 * @offset, calling the copy for each piece. */
static int64_t elem_copy(VMemMap *map, const VqElem *elem, bool write, uint64_t offset,
                         uint8_t *buf, size_t len)
{
    if (!map || !elem || (len && !buf) || (!elem->bufs && elem->nout + elem->nin)) {
        return -EINVAL;
    }
    unsigned first = write ? elem->nout : 0;
    unsigned end = write ? (unsigned)elem->nout + elem->nin : elem->nout;
    if (end > elem->bufs_cap) {
        return -EINVAL;
    }
    size_t done = 0;
    for (unsigned i = first; i < end && done < len; i++) {
        const VqBuf *b = &elem->bufs[i];
        if (offset >= b->len) {
            offset -= b->len;
            continue;
        }
        size_t chunk = b->len - offset;
        if (chunk > len - done) {
            chunk = len - done;
        }
        int rc = write ? vmem_write(map, b->gpa + offset, buf + done, chunk)
                       : vmem_read(map, b->gpa + offset, buf + done, chunk);
        if (rc < 0) {
            return rc;
        }
        done += chunk;
        offset = 0;
    }
    return (int64_t)done;
}

int64_t vq_elem_read(VMemMap *map, const VqElem *elem, uint64_t offset, void *buf,
                     size_t len)
{
    return elem_copy(map, elem, false, offset, buf, len);
}

int64_t vq_elem_write(VMemMap *map, const VqElem *elem, uint64_t offset,
                      const void *buf, size_t len)
{
    return elem_copy(map, elem, true, offset, (uint8_t *)buf, len);
}

int vq_elem_mark_written(VMemMap *map, const VqElem *elem, uint32_t len)
{
    if (!map || !elem || (!elem->bufs && elem->nin) ||
        (unsigned)elem->nout + elem->nin > elem->bufs_cap) {
        return -EINVAL;
    }
    if (!vmem_dirty_log_enabled(map)) {
        return 0;
    }
    for (unsigned i = elem->nout; i < (unsigned)elem->nout + elem->nin && len; i++) {
        uint32_t chunk = elem->bufs[i].len < len ? elem->bufs[i].len : len;
        int rc = vmem_mark_dirty(map, elem->bufs[i].gpa, chunk);
        if (rc < 0) {
            return rc;
        }
        len -= chunk;
    }
    return 0;
}

void vq_mark_ring(VMemMap *map, uint64_t base, uint32_t size, uint32_t entry,
                  uint32_t start, uint32_t count)
{
    if (count > size) {
        count = size;
    }
    start %= size;
    uint32_t first = size - start < count ? size - start : count;
    vmem_mark_dirty(map, base + (uint64_t)start * entry, (uint64_t)first * entry);
    if (count > first) {
        vmem_mark_dirty(map, base, (uint64_t)(count - first) * entry);
    }
}

/* ------------------------------------------------------------------------ */
/* State encoding                                                            */

uint32_t vq_state_to_vring_base(VqLayout layout, const VqState *s)
{
    if (!s) {
        return 0;
    }
    if (layout != VQ_LAYOUT_PACKED) {
        return s->next_avail;
    }
    uint32_t avail = (s->next_avail & 0x7fffu) | ((uint32_t)s->avail_wrap << 15);
    uint32_t used = (s->next_used & 0x7fffu) | ((uint32_t)s->used_wrap << 15);
    return avail | used << 16;
}

int vq_state_from_vring_base(VqLayout layout, uint32_t base, VqState *ret)
{
    if (!ret || (layout != VQ_LAYOUT_SPLIT && layout != VQ_LAYOUT_PACKED)) {
        return -EINVAL;
    }
    VqState s = {0};
    if (layout == VQ_LAYOUT_SPLIT) {
        if (base > 0xffffu) {
            return -EINVAL;
        }
        s.next_avail = (uint16_t)base;
        s.flags = VQ_STATE_F_USED_FROM_RING;
    } else {
        s.next_avail = base & 0x7fffu;
        s.avail_wrap = (base >> 15) & 1;
        s.next_used = (base >> 16) & 0x7fffu;
        s.used_wrap = (base >> 31) & 1;
    }
    *ret = s;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Errors and logging                                                        */

const char *vq_strerror(int err)
{
    switch (err < 0 ? -err : err) {
    case 0: return "success";
    case ERANGE: return "descriptor index or used id out of range";
    case ELOOP: return "descriptor chain longer than the queue size (loop)";
    case EMLINK: return "indirect descriptor inside an indirect table";
    case EBADMSG: return "indirect descriptor combined with a next chain";
    case EMSGSIZE: return "indirect table length invalid";
    case EOVERFLOW: return "chain length exceeds 2^32 - 1 bytes";
    case EILSEQ: return "device-readable descriptor after a device-writable one";
    case EFAULT: return "address outside guest memory";
    case ENOTSUP: return "indirect descriptor without VIRTIO_F_INDIRECT_DESC";
    case EPROTO: return "ring index moved beyond the queue size";
    case ESTALE: return "used id not in flight";
    case EAGAIN: return "nothing available";
    case EBADFD: return "queue not configured";
    case EIO: return "queue broken (needs reset)";
    case EINVAL: return "invalid argument";
    case ENOBUFS: return "caller's array too small";
    case ENOSPC: return "no room in the ring";
    case EBUSY: return "used entries staged but not published";
    case ECANCELED: return "queue detached";
    case ENOMEM: return "out of memory";
    case ENOENT: return "nothing left";
    default: return "unknown error";
    }
}

/* Token bucket: a burst of 10 messages, then one per second. */
#define LOG_BURST 10
#define LOG_INTERVAL_NS 1000000000ll

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static VqLogFunc log_fn;
static void *log_opaque;
static long long log_tokens_ns = -1; /* time when the bucket was refilled */
static unsigned log_tokens = LOG_BURST;
static unsigned long log_dropped;

void vq_set_log_func(VqLogFunc fn, void *opaque)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_opaque = opaque;
    log_tokens = LOG_BURST;
    log_dropped = 0;
    pthread_mutex_unlock(&log_lock);
}

static void log_emit(const char *msg)
{
    if (log_fn) {
        log_fn(log_opaque, msg);
    } else {
        fprintf(stderr, "virtio-queue: %s\n", msg);
    }
}

void vq_log(const char *who, const char *fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000000000ll + ts.tv_nsec;

    pthread_mutex_lock(&log_lock);
    if (log_tokens_ns < 0) {
        log_tokens_ns = now;
    }
    while (now - log_tokens_ns >= LOG_INTERVAL_NS && log_tokens < LOG_BURST) {
        log_tokens++;
        log_tokens_ns += LOG_INTERVAL_NS;
    }
    if (log_tokens == LOG_BURST) {
        log_tokens_ns = now;
    }
    if (log_tokens == 0) {
        log_dropped++;
        pthread_mutex_unlock(&log_lock);
        return;
    }
    log_tokens--;
    char msg[256];
    if (log_dropped) {
        snprintf(msg, sizeof(msg), "%lu messages suppressed", log_dropped);
        log_dropped = 0;
        log_emit(msg);
    }
    int off = snprintf(msg, sizeof(msg), "%s: ", who && who[0] ? who : "queue");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
    va_end(ap);
    log_emit(msg);
    pthread_mutex_unlock(&log_lock);
}
