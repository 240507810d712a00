/* SPDX-License-Identifier: MIT */
/*
 * vhu-test-backend: the virtio-blk device side. Requests are popped with the
 * virtio-queue device side, executed with preadv/pwritev on the image file,
 * and tracked in the inflight region (split rings) the way QEMU's
 * libvhost-user does, so that a restarted back-end resubmits them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "backend.h"

#define BLK_T_IN 0u
#define BLK_T_OUT 1u
#define BLK_T_FLUSH 4u
#define BLK_T_GET_ID 8u
#define BLK_S_OK 0u
#define BLK_S_IOERR 1u
#define BLK_S_UNSUPP 2u
#define BLK_ID_BYTES 20u
#define BLK_MAX_IOV 256u
#define BE_BATCH_MAX 64u

uint64_t be_uaddr_to_gpa(const Backend *be, uint64_t uaddr, uint64_t len, bool *ok)
{
    for (unsigned i = 0; i < be->nregions; i++) {
        const BeRegion *r = &be->regions[i];

        if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size &&
            len <= r->size - (uaddr - r->uaddr)) {
            *ok = true;
            return r->gpa + (uaddr - r->uaddr);
        }
    }
    *ok = false;
    return 0;
}

void be_fill_config(const Backend *be, uint8_t *cfg, unsigned len)
{
    uint8_t full[VHU_CONFIG_MAX];

    memset(full, 0, sizeof(full));
    vmem_cpu_to_le64(full, be->capacity / 512); /* capacity in sectors */
    vmem_cpu_to_le32(full + 20, 512);           /* blk_size */
    memcpy(cfg, full, len > sizeof(full) ? sizeof(full) : len);
}

static bool ring_packed(const Backend *be)
{
    return (be->features & VQ_FEATURE(VQ_F_RING_PACKED)) != 0;
}

/* ------------------------------------------------------------------------ */
/* Inflight tracking (split rings)                                           */

static uint64_t inflight_block_bytes(uint16_t qsize)
{
    return (sizeof(VhuInflightSplit) + sizeof(VhuInflightDescSplit) * (uint64_t)qsize + 63) &
           ~UINT64_C(63);
}

static VhuInflightSplit *inflight_block(Backend *be, unsigned index)
{
    if (!be->inflight_addr || index >= be->inflight_queues) {
        return NULL;
    }
    return (VhuInflightSplit *)((uint8_t *)be->inflight_addr +
                                index * inflight_block_bytes(be->inflight_qsize));
}

static uint16_t ring_used_idx(Backend *be, BeRing *r)
{
    bool ok;
    uint64_t gpa = be_uaddr_to_gpa(be, r->used_ua, 4, &ok);
    uint16_t v = 0;

    if (ok) {
        vmem_load_acquire_le16(be->map, gpa + VQ_SPLIT_USED_IDX, &v);
    }
    return v;
}

static int cmp_counter(const void *a, const void *b, void *arg)
{
    const VhuInflightSplit *inf = arg;
    uint64_t ca = inf->desc[*(const uint16_t *)a].counter;
    uint64_t cb = inf->desc[*(const uint16_t *)b].counter;

    return ca < cb ? -1 : ca > cb;
}

/* Settles the inflight block after a restart and computes the ring state:
 * the entries still marked in flight are resubmitted in counter order. */
static bool inflight_restore(Backend *be, BeRing *r, VqState *st)
{
    VhuInflightSplit *inf = r->inflight;
    uint16_t used = ring_used_idx(be, r);
    uint64_t max_counter = 0;
    unsigned n = 0;

    if (inf->version == 0) {
        /* A fresh region: nothing to resubmit. */
        inf->version = VHU_INFLIGHT_VERSION;
        inf->desc_num = (uint16_t)r->num;
        inf->used_idx = used;
        r->counter = 1;
        return false;
    }
    if (inf->desc_num != r->num || inf->last_batch_head >= r->num) {
        fprintf(stderr, "vhu-test-backend: inflight block does not match the ring\n");
        memset(inf->desc, 0, sizeof(inf->desc[0]) * r->num);
        inf->desc_num = (uint16_t)r->num;
        inf->used_idx = used;
        return false;
    }
    if (inf->used_idx != used) {
        /* We died between publishing the used entry and clearing its
         * inflight mark: that request is complete. */
        inf->desc[inf->last_batch_head].inflight = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        inf->used_idx = used;
    }
    free(r->resubmit);
    r->resubmit = calloc(r->num, sizeof(uint16_t));
    for (unsigned i = 0; i < r->num; i++) {
        if (inf->desc[i].inflight == 1) {
            r->resubmit[n++] = (uint16_t)i;
            if (inf->desc[i].counter > max_counter) {
                max_counter = inf->desc[i].counter;
            }
        }
    }
    qsort_r(r->resubmit, n, sizeof(uint16_t), cmp_counter, inf);
    r->nresubmit = n;
    r->resubmit_pos = 0;
    r->counter = max_counter + 1;
    st->next_avail = (uint16_t)(used + n);
    st->next_used = used;
    st->flags = 0;
    return true;
}

static void inflight_get(BeRing *r, uint16_t head)
{
    if (r->inflight) {
        r->inflight->desc[head].counter = r->counter++;
        __atomic_store_n(&r->inflight->desc[head].inflight, 1, __ATOMIC_RELEASE);
    }
}

static void inflight_pre_put(BeRing *r, uint16_t head)
{
    if (r->inflight) {
        r->inflight->last_batch_head = head;
    }
}

static void inflight_post_put(BeRing *r, uint16_t head, uint16_t used_idx)
{
    if (r->inflight) {
        __atomic_store_n(&r->inflight->desc[head].inflight, 0, __ATOMIC_RELEASE);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        r->inflight->used_idx = used_idx;
    }
}

/* ------------------------------------------------------------------------ */
/* Chains                                                                    */

/* Reads the split chain at @head (for resubmission: it is no longer in the
 * available ring). Every index and length is checked. */
static int read_chain(Backend *be, BeRing *r, uint16_t head, VqElem *e)
{
    bool ok;
    uint64_t table = be_uaddr_to_gpa(be, r->desc_ua, vq_split_desc_bytes(r->num), &ok);
    uint32_t table_n = r->num, count = 0;
    uint16_t i = head;
    bool indirect = false;

    if (!ok) {
        return -EFAULT;
    }
    memset(e, 0, offsetof(VqElem, bufs));
    e->id = head;
    e->ndescs = 1;
    for (;;) {
        VqSplitDesc d;
        uint64_t addr;
        uint32_t len;
        uint16_t flags;

        if (i >= table_n || ++count > table_n) {
            return -ELOOP;
        }
        if (vmem_read(be->map, table + 16ull * i, &d, sizeof(d)) < 0) {
            return -EFAULT;
        }
        addr = vmem_le64_to_cpu(&d.addr);
        len = vmem_le32_to_cpu(&d.len);
        flags = vmem_le16_to_cpu(&d.flags);
        if (flags & VQ_DESC_F_INDIRECT) {
            if (indirect || (flags & VQ_DESC_F_NEXT) || len == 0 || len % 16 ||
                len / 16 > r->num) {
                return -EMSGSIZE;
            }
            indirect = true;
            table = addr;
            table_n = len / 16;
            i = 0;
            count = 0;
            continue;
        }
        if (e->nout + e->nin >= e->bufs_cap) {
            return -ENOBUFS;
        }
        if (flags & VQ_DESC_F_WRITE) {
            e->bufs[e->nout + e->nin] = (VqBuf){ addr, len, VQ_BUF_WRITE };
            e->nin++;
            e->in_len += len;
        } else {
            if (e->nin) {
                return -EILSEQ;
            }
            e->bufs[e->nout] = (VqBuf){ addr, len, 0 };
            e->nout++;
            e->out_len += len;
        }
        if (!(flags & VQ_DESC_F_NEXT)) {
            return 0;
        }
        i = vmem_le16_to_cpu(&d.next);
    }
}

/* Keeps [skip, skip + len) of @iov in place; returns the entries left. */
static unsigned iov_window(struct iovec *iov, unsigned n, uint64_t skip, uint64_t len)
{
    unsigned out = 0;

    for (unsigned i = 0; i < n && len; i++) {
        uint64_t l = iov[i].iov_len;
        uint8_t *b = iov[i].iov_base;

        if (skip >= l) {
            skip -= l;
            continue;
        }
        b += skip;
        l -= skip;
        skip = 0;
        if (l > len) {
            l = len;
        }
        iov[out].iov_base = b;
        iov[out].iov_len = l;
        len -= l;
        out++;
    }
    return out;
}

static bool full_io(int fd, struct iovec *iov, unsigned n, uint64_t off, bool write)
{
    while (n) {
        ssize_t done = write ? pwritev(fd, iov, (int)n, (off_t)off)
                             : preadv(fd, iov, (int)n, (off_t)off);

        if (done < 0 && errno == EINTR) {
            continue;
        }
        if (done <= 0) {
            return false;
        }
        off += (uint64_t)done;
        while (n && (size_t)done >= iov->iov_len) {
            done -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= (size_t)done;
        }
    }
    return true;
}

/* Executes one virtio-blk request; returns the bytes written into the
 * chain's writable part (the used length). */
static uint32_t blk_execute(Backend *be, VqElem *e)
{
    struct iovec iov[BLK_MAX_IOV];
    uint8_t hdr[16], status = BLK_S_OK;
    uint32_t type, written = 1;
    uint64_t off;
    int n;

    if (e->in_len < 1) {
        return 0;
    }
    if (vq_elem_read(be->map, e, 0, hdr, sizeof(hdr)) != (int64_t)sizeof(hdr)) {
        status = BLK_S_IOERR;
        goto done;
    }
    type = vmem_le32_to_cpu(hdr);
    off = vmem_le64_to_cpu(hdr + 8) * 512;
    switch (type) {
    case BLK_T_IN:
    case BLK_T_OUT: {
        bool is_write = type == BLK_T_OUT;
        uint64_t len = is_write ? e->out_len - sizeof(hdr) : e->in_len - 1u;
        unsigned niov;

        if (is_write && e->out_len < sizeof(hdr)) {
            status = BLK_S_IOERR;
            break;
        }
        if (len % 512 || off > be->capacity || len > be->capacity - off) {
            status = BLK_S_IOERR;
            break;
        }
        n = is_write ? vq_bufs_to_iov(be->map, e->bufs, e->nout, iov, BLK_MAX_IOV)
                     : vq_bufs_to_iov(be->map, e->bufs + e->nout, e->nin, iov, BLK_MAX_IOV);
        if (n < 0) {
            status = BLK_S_IOERR;
            break;
        }
        niov = iov_window(iov, (unsigned)n, is_write ? sizeof(hdr) : 0, len);
        if (!full_io(be->file_fd, iov, niov, off, is_write)) {
            status = BLK_S_IOERR;
            break;
        }
        if (!is_write) {
            written = (uint32_t)len + 1;
        }
        break;
    }
    case BLK_T_FLUSH:
        if (fdatasync(be->file_fd) < 0) {
            status = BLK_S_IOERR;
        }
        break;
    case BLK_T_GET_ID: {
        char id[BLK_ID_BYTES] = "vhu-test-backend";
        uint32_t len = e->in_len - 1 < BLK_ID_BYTES ? e->in_len - 1 : BLK_ID_BYTES;

        vq_elem_write(be->map, e, 0, id, len);
        written = len + 1;
        break;
    }
    default:
        status = BLK_S_UNSUPP;
        break;
    }
done:
    vq_elem_write(be->map, e, e->in_len - 1u, &status, 1);
    return written;
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

static void maybe_exit(Backend *be, BeExitPoint point, uint64_t request)
{
    if (be->opt.exit_after && request == be->opt.exit_after && be->opt.exit_point == point) {
        /* Die in the middle of request N, as a crashing back-end does. */
        _exit(3);
    }
}

static void notify(BeRing *r)
{
    if (r->call_fd >= 0) {
        eventfd_write(r->call_fd, 1);
    }
}

typedef struct Pending {
    VqElem elem;
    VqBuf bufs[BLK_MAX_IOV];
    uint64_t seq;
    uint32_t len;
} Pending;

/* Takes the next chain: resubmitted ones first, then the available ring. */
static int next_chain(Backend *be, BeRing *r, Pending *p)
{
    int rc;

    p->elem.bufs = p->bufs;
    p->elem.bufs_cap = BLK_MAX_IOV;
    if (r->resubmit_pos < r->nresubmit) {
        uint16_t head = r->resubmit[r->resubmit_pos++];

        return read_chain(be, r, head, &p->elem);
    }
    rc = vq_dev_pop(r->q, &p->elem);
    if (rc == 0) {
        inflight_get(r, p->elem.id);
    }
    return rc;
}

void be_ring_process(Backend *be, unsigned index)
{
    static Pending batch[BE_BATCH_MAX];
    BeRing *r = &be->rings[index];
    unsigned want = be->opt.batch < 1 ? 1 : be->opt.batch;
    eventfd_t v;

    if (!r->started || !r->enabled || !r->q) {
        return;
    }
    if (want > BE_BATCH_MAX) {
        want = BE_BATCH_MAX;
    }
    if (r->kick_fd >= 0) {
        eventfd_read(r->kick_fd, &v);
    }
    for (;;) {
        unsigned n = 0;
        bool published = false;

        while (n < want) {
            int rc = next_chain(be, r, &batch[n]);

            if (rc == -EAGAIN) {
                break;
            }
            if (rc < 0) {
                fprintf(stderr, "vhu-test-backend: ring %u: %s\n", index, vq_strerror(rc));
                r->started = false;
                return;
            }
            batch[n].seq = ++be->requests_started;
            maybe_exit(be, BE_EXIT_POPPED, batch[n].seq);
            batch[n].len = blk_execute(be, &batch[n].elem);
            maybe_exit(be, BE_EXIT_IO, batch[n].seq);
            n++;
        }
        if (n == 0) {
            break;
        }
        /* Complete in reverse order: out-of-order completion whenever the
         * batch holds more than one request. */
        while (n--) {
            Pending *p = &batch[n];
            VqState st;

            inflight_pre_put(r, p->elem.id);
            if (vq_dev_add_used_id(r->q, p->elem.id, p->elem.ndescs, p->len) < 0 ||
                vq_dev_publish(r->q) < 0 || vq_dev_get_state(r->q, &st) < 0) {
                fprintf(stderr, "vhu-test-backend: ring %u: cannot return %u\n", index,
                        p->elem.id);
                r->started = false;
                return;
            }
            published = true;
            maybe_exit(be, BE_EXIT_USED, p->seq);
            inflight_post_put(r, p->elem.id, st.next_used);
            be->requests_done++;
        }
        if (published && vq_dev_should_notify(r->q) == 1) {
            notify(r);
        }
    }
}

bool be_ring_start(Backend *be, unsigned index)
{
    BeRing *r = &be->rings[index];
    bool packed = ring_packed(be), ok1, ok2, ok3;
    VqConfig cfg = {
        .size = r->num,
        .features = be->features,
    };
    VqState st;
    int rc;

    cfg.desc_addr = be_uaddr_to_gpa(be, r->desc_ua,
                                    packed ? vq_packed_desc_bytes(r->num)
                                           : vq_split_desc_bytes(r->num), &ok1);
    cfg.driver_addr = be_uaddr_to_gpa(be, r->avail_ua,
                                      packed ? VQ_PACKED_EVENT_BYTES
                                             : vq_split_avail_bytes(r->num), &ok2);
    cfg.device_addr = be_uaddr_to_gpa(be, r->used_ua,
                                      packed ? VQ_PACKED_EVENT_BYTES
                                             : vq_split_used_bytes(r->num), &ok3);
    if (!ok1 || !ok2 || !ok3) {
        fprintf(stderr, "vhu-test-backend: ring %u outside the memory table\n", index);
        return false;
    }
    if (!r->q && vq_dev_new(be->map, &r->q) < 0) {
        return false;
    }
    rc = vq_dev_configure(r->q, &cfg);
    if (rc < 0) {
        fprintf(stderr, "vhu-test-backend: ring %u: configure: %s\n", index, vq_strerror(rc));
        return false;
    }
    r->inflight = NULL;
    r->nresubmit = r->resubmit_pos = 0;
    if (!packed && (be->protocol & (UINT64_C(1) << VHU_PROTOCOL_F_INFLIGHT_SHMFD)) &&
        r->num <= be->inflight_qsize) {
        r->inflight = inflight_block(be, index);
    }
    if (!r->inflight || !inflight_restore(be, r, &st)) {
        if (vq_state_from_vring_base(packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT, r->base,
                                     &st) < 0) {
            return false;
        }
    }
    rc = vq_dev_set_state(r->q, &st);
    if (rc < 0) {
        fprintf(stderr, "vhu-test-backend: ring %u: bad base %#x\n", index, r->base);
        return false;
    }
    r->started = true;
    /* A call may have been lost with the previous back-end. */
    notify(r);
    be_ring_process(be, index);
    return true;
}

void be_ring_stop(Backend *be, unsigned index)
{
    BeRing *r = &be->rings[index];

    r->started = false;
    if (r->kick_fd >= 0) {
        close(r->kick_fd);
        r->kick_fd = -1;
    }
    if (r->call_fd >= 0) {
        close(r->call_fd);
        r->call_fd = -1;
    }
}
