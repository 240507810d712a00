/* SPDX-License-Identifier: MIT */
/*
 * Shared harness of the virtio-queue fuzz targets.
 *
 * Input: a 4-byte header (queue size, features, mode, number of ops), then
 * the ops (3 bytes each), then an image copied over the ring memory. Guest
 * memory is two adjacent regions, [0x10000, 0x20000) and [0x20000, 0x21000),
 * with PROT_NONE guard pages around them when the address space allows, so
 * that a stray access faults. Every op is bounded; the harness checks the
 * library's promises (bounds, counts, iovecs inside guest memory, a state
 * that reads back as written) and aborts when one is broken.
 */
#ifndef VQ_FUZZ_COMMON_H
#define VQ_FUZZ_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "virtio-queue/virtio-queue.h"

#define F_RAM0 0x10000ull
#define F_RAM0_SIZE 0x10000ull
#define F_RAM1 0x20000ull
#define F_RAM1_SIZE 0x1000ull
#define F_RING F_RAM0
#define F_IMAGE_MAX 0x9000u
#define F_HELD 64

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                          \
        }                                                                     \
    } while (0)

typedef struct Fz {
    VMemMap *map;
    VqConfig cfg;
    bool packed;
    uint8_t *host0, *host1;
    void *guards[4];
    /* device side */
    VqDevQueue *dq;
    VqElem held[F_HELD];
    VqBuf *held_bufs;
    unsigned nheld;
    bool last_was_pop;
    /* driver side */
    VqDrvQueue *drq;
    uint64_t next_token;
} Fz;

/* Puts an inaccessible page at @addr if nothing is mapped there (best
 * effort: MAP_FIXED_NOREPLACE fails harmlessly otherwise). */
static void *fz_guard_page(void *addr)
{
    void *g = mmap(addr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    return g == addr ? g : NULL;
}

static void fz_guard(Fz *f)
{
    f->guards[0] = fz_guard_page(f->host0 - 4096);
    f->guards[1] = fz_guard_page(f->host0 + F_RAM0_SIZE);
    f->guards[2] = fz_guard_page(f->host1 - 4096);
    f->guards[3] = fz_guard_page(f->host1 + F_RAM1_SIZE);
}

static void fz_unguard(Fz *f)
{
    for (int i = 0; i < 4; i++) {
        if (f->guards[i]) {
            munmap(f->guards[i], 4096);
        }
    }
}

static uint32_t fz_size(bool packed, uint8_t b)
{
    return packed ? 1u + b % 40u : 1u << (b % 7u);
}

static void fz_layout(Fz *f, bool packed, uint32_t size, uint64_t features)
{
    f->cfg.size = size;
    f->cfg.desc_addr = F_RING;
    f->cfg.driver_addr = F_RING + 16ull * size;
    if (packed) {
        f->cfg.device_addr = f->cfg.driver_addr + 4;
        features |= VQ_FEATURE(VQ_F_RING_PACKED);
    } else {
        f->cfg.device_addr = (f->cfg.driver_addr + vq_split_avail_bytes(size) + 3) & ~3ull;
    }
    f->cfg.features = features;
}

static bool fz_init(Fz *f, bool packed, const uint8_t *hdr)
{
    memset(f, 0, sizeof(*f));
    f->packed = packed;
    if (vmem_map_new(&f->map) < 0) {
        return false;
    }
    if (vmem_map_add_memfd(f->map, F_RAM0, F_RAM0_SIZE, "fuzz", 0) < 0 ||
        vmem_map_add_anon(f->map, F_RAM1, F_RAM1_SIZE) < 0) {
        vmem_map_free(f->map);
        return false;
    }
    VMemRegionInfo ri;
    vmem_map_region_info(f->map, 0, &ri);
    f->host0 = ri.host;
    vmem_map_region_info(f->map, 1, &ri);
    f->host1 = ri.host;
    fz_guard(f);
    uint64_t features = 0;
    if (hdr[1] & 1) {
        features |= VQ_FEATURE(VQ_F_INDIRECT_DESC);
    }
    if (hdr[1] & 2) {
        features |= VQ_FEATURE(VQ_F_EVENT_IDX);
    }
    fz_layout(f, packed, fz_size(packed, hdr[0]), features);
    f->held_bufs = calloc((size_t)F_HELD * f->cfg.size, sizeof(VqBuf));
    return f->held_bufs != NULL;
}

static void fz_fini(Fz *f)
{
    vq_dev_free(f->dq);
    vq_drv_free(f->drq);
    free(f->held_bufs);
    vmem_map_free(f->map);
    fz_unguard(f);
}

static void fz_load_image(Fz *f, const uint8_t *img, size_t len)
{
    if (len > F_IMAGE_MAX) {
        len = F_IMAGE_MAX;
    }
    vmem_write(f->map, F_RING, img, len);
}

/* The iovecs of a popped element must all lie inside the two regions. */
static void fz_check_elem(Fz *f, const VqElem *e)
{
    CHECK((uint32_t)e->nout + e->nin <= f->cfg.size);
    CHECK(e->ndescs >= 1 && e->ndescs <= f->cfg.size);
    uint64_t out = 0, in = 0;
    for (unsigned i = 0; i < (unsigned)e->nout + e->nin; i++) {
        bool w = e->bufs[i].flags & VQ_BUF_WRITE;
        CHECK(w == (i >= e->nout));
        CHECK((e->bufs[i].flags & ~VQ_BUF_WRITE) == 0);
        if (w) {
            in += e->bufs[i].len;
        } else {
            out += e->bufs[i].len;
        }
    }
    CHECK(out == e->out_len && in == e->in_len);
    struct iovec iov[16];
    int n = vq_bufs_to_iov(f->map, e->bufs, (unsigned)e->nout + e->nin, iov, 16);
    for (int i = 0; i < n; i++) {
        uint8_t *p = iov[i].iov_base;
        bool in0 = p >= f->host0 && p + iov[i].iov_len <= f->host0 + F_RAM0_SIZE;
        bool in1 = p >= f->host1 && p + iov[i].iov_len <= f->host1 + F_RAM1_SIZE;
        CHECK(in0 || in1);
        if (iov[i].iov_len) {
            volatile uint8_t touch = p[0];
            touch = p[iov[i].iov_len - 1];
            (void)touch;
        }
    }
}

/* Runs device-side ops on f->dq. */
static void fz_device_ops(Fz *f, const uint8_t *ops, unsigned nops)
{
    VqBuf small[4];
    for (unsigned k = 0; k < nops; k++) {
        uint8_t op = ops[3 * k], a = ops[3 * k + 1], b = ops[3 * k + 2];
        int rc;
        switch (op % 12) {
        case 0:
        case 1: { /* pop */
            if (f->nheld == F_HELD) {
                break;
            }
            VqElem *e = &f->held[f->nheld];
            e->bufs = f->held_bufs + (size_t)f->nheld * f->cfg.size;
            e->bufs_cap = (op & 0x80) ? (a % 4) : f->cfg.size;
            if (op & 0x80) {
                e->bufs = small;
            }
            rc = vq_dev_pop(f->dq, e);
            if (rc == 0) {
                fz_check_elem(f, e);
                if (e->bufs == small) {
                    VqBuf *own = f->held_bufs + (size_t)f->nheld * f->cfg.size;
                    memcpy(own, small, ((size_t)e->nout + e->nin) * sizeof(VqBuf));
                    e->bufs = own;
                    e->bufs_cap = f->cfg.size;
                }
                f->nheld++;
                f->last_was_pop = true;
            } else {
                CHECK(rc == -EAGAIN || rc == -ENOBUFS || rc == -EIO || rc < 0);
                if (rc != -EAGAIN && rc != -ENOBUFS && rc != -EIO) {
                    CHECK(vq_dev_is_broken(f->dq));
                }
            }
            break;
        }
        case 2: /* complete one held element */
            if (f->nheld) {
                unsigned i = a % f->nheld;
                rc = vq_dev_add_used(f->dq, &f->held[i], (uint32_t)b << (a & 15));
                CHECK(rc == 0 || rc == -EIO || rc == -ENOSPC);
                /* move the last element (and its buffers) into slot i */
                VqBuf *slot = f->held_bufs + (size_t)i * f->cfg.size;
                VqElem *last = &f->held[--f->nheld];
                if (last != &f->held[i]) {
                    memcpy(slot, last->bufs, ((size_t)last->nout + last->nin) * sizeof(VqBuf));
                    f->held[i] = *last;
                    f->held[i].bufs = slot;
                }
                f->last_was_pop = false;
            }
            break;
        case 3:
            rc = vq_dev_publish(f->dq);
            CHECK(rc >= 0 || rc == -EIO);
            break;
        case 4:
            rc = vq_dev_should_notify(f->dq);
            CHECK(rc == 0 || rc == 1 || rc == -EIO);
            break;
        case 5:
            rc = vq_dev_enable_notify(f->dq);
            CHECK(rc == 0 || rc == 1 || rc < 0);
            break;
        case 6:
            vq_dev_disable_notify(f->dq);
            break;
        case 7: /* unpop the latest */
            if (f->nheld && f->last_was_pop) {
                rc = vq_dev_unpop(f->dq, &f->held[f->nheld - 1]);
                CHECK(rc == 0 || rc == -EIO);
                f->nheld--;
                f->last_was_pop = false;
            }
            break;
        case 8: { /* state round trip */
            VqState s, s2;
            rc = vq_dev_get_state(f->dq, &s);
            if (rc == 0) {
                if (!vq_dev_is_broken(f->dq)) {
                    rc = vq_dev_set_state(f->dq, &s);
                    /* a split used index in memory may have been scribbled on */
                    CHECK(rc == 0 || rc == -EINVAL);
                    if (rc == 0) {
                        CHECK(vq_dev_get_state(f->dq, &s2) == 0);
                        CHECK(s2.next_avail == s.next_avail && s2.next_used == s.next_used);
                    }
                }
            } else {
                CHECK(rc == -EBUSY);
            }
            break;
        }
        case 9: /* the driver (guest) scribbles on ring memory */
            vmem_write_u8(f->map, F_RING + (((uint64_t)a << 8 | b) % F_IMAGE_MAX), (uint8_t)(op ^ a));
            break;
        case 10:
            rc = vq_dev_has_avail(f->dq);
            CHECK(rc == 0 || rc == 1 || rc < 0);
            break;
        case 11:
            rc = vq_dev_add_used_id(f->dq, (uint16_t)(a | b << 8), (uint16_t)(b % 4), a);
            CHECK(rc == 0 || rc == -EINVAL || rc == -ENOSPC || rc == -EIO);
            f->last_was_pop = false; /* in-flight count changed */
            break;
        }
    }
    /* Drain: must end, within a bound, whatever the ring holds. */
    VqBuf *bufs = f->held_bufs;
    VqElem e = { .bufs = bufs, .bufs_cap = f->cfg.size };
    unsigned popped = 0;
    int rc;
    while ((rc = vq_dev_pop(f->dq, &e)) == 0) {
        fz_check_elem(f, &e);
        CHECK(++popped <= 2 * f->cfg.size);
        if (vq_dev_add_used(f->dq, &e, 0) < 0) {
            break;
        }
    }
    vq_dev_publish(f->dq);
}

/* Driver side against a device that writes garbage (ops 9 scribble). */
static void fz_driver_ops(Fz *f, const uint8_t *ops, unsigned nops)
{
    for (unsigned k = 0; k < nops; k++) {
        uint8_t op = ops[3 * k], a = ops[3 * k + 1], b = ops[3 * k + 2];
        int rc;
        switch (op % 8) {
        case 0:
        case 1: {
            VqBuf bufs[4];
            unsigned n = 1 + a % 4;
            for (unsigned i = 0; i < n; i++) {
                bufs[i].gpa = (uint64_t)b << 12 | i;
                bufs[i].len = a;
                bufs[i].flags = i >= (unsigned)(b % (n + 1)) ? VQ_BUF_WRITE : 0;
            }
            uint32_t before = vq_drv_num_free(f->drq);
            rc = vq_drv_add(f->drq, bufs, n, f->next_token, (op & 0x40) ? VQ_ADD_INDIRECT : 0);
            if (rc == 0) {
                f->next_token++;
                CHECK(vq_drv_num_free(f->drq) < before);
            }
            break;
        }
        case 2: {
            VqUsed u;
            rc = vq_drv_get_used(f->drq, &u);
            if (rc == 0) {
                CHECK(u.token < f->next_token);
            }
            break;
        }
        case 3:
            rc = vq_drv_should_kick(f->drq);
            CHECK(rc == 0 || rc == 1 || rc < 0);
            break;
        case 4:
            vq_drv_enable_cb(f->drq);
            break;
        case 5:
            vq_drv_disable_cb(f->drq);
            break;
        case 6: /* the device scribbles on the rings */
        case 7:
            vmem_write_u8(f->map, F_RING + (((uint64_t)a << 8 | b) % F_IMAGE_MAX), (uint8_t)(op ^ a));
            break;
        }
        CHECK(vq_drv_num_free(f->drq) <= f->cfg.size);
        CHECK(vq_drv_num_inflight(f->drq) <= f->cfg.size);
    }
    uint64_t tok;
    unsigned n = 0;
    while (vq_drv_detach_unused(f->drq, &tok) == 0) {
        CHECK(tok < f->next_token);
        CHECK(++n <= f->cfg.size);
    }
}

/* One input: header, ops, image. */
static __attribute__((unused)) int fz_run(const uint8_t *data, size_t size, bool packed)
{
    if (size < 4) {
        return 0;
    }
    Fz f;
    if (!fz_init(&f, packed, data)) {
        return 0;
    }
    unsigned nops = data[3] % 48;
    size_t ops_len = 3u * nops;
    if (ops_len > size - 4) {
        nops = (unsigned)((size - 4) / 3);
        ops_len = 3u * nops;
    }
    const uint8_t *ops = data + 4;
    if (data[2] & 1) {
        /* driver side */
        if (vq_drv_new(f.map, &f.drq) == 0 && vq_drv_configure(f.drq, &f.cfg) == 0) {
            vq_drv_set_indirect_area(f.drq, F_RAM0 + 0x8000, f.cfg.size < 4 ? f.cfg.size : 4);
            fz_load_image(&f, data + 4 + ops_len, size - 4 - ops_len);
            fz_driver_ops(&f, ops, nops);
        }
    } else {
        fz_load_image(&f, data + 4 + ops_len, size - 4 - ops_len);
        if (vq_dev_new(f.map, &f.dq) == 0 && vq_dev_configure(f.dq, &f.cfg) == 0) {
            fz_device_ops(&f, ops, nops);
        }
    }
    fz_fini(&f);
    return 0;
}

#endif
