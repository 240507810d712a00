/* SPDX-License-Identifier: MIT */
/* Shared fixtures of the virtio-queue tests. */
#ifndef VQ_TESTS_TST_H
#define VQ_TESTS_TST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio-queue/virtio-queue.h"
#include "virtio-queue/vq-mock.h"

#define RAM_BASE 0x100000ull
#define RAM_SIZE (16ull << 20)
#define RING_GPA RAM_BASE              /* the mock's rings */
#define DATA_GPA (RAM_BASE + (8ull << 20)) /* buffers */

#define FEAT_ALL (VQ_FEATURE(VQ_F_INDIRECT_DESC) | VQ_FEATURE(VQ_F_VERSION_1))
#define FEAT_EVT (FEAT_ALL | VQ_FEATURE(VQ_F_EVENT_IDX))
#define FEAT_PACKED VQ_FEATURE(VQ_F_RING_PACKED)

typedef struct Env {
    VMemMap *map;
    VqMock *mock;
    VqDevQueue *dq;
    VqConfig cfg;
    VqElem elem;
    VqBuf bufs[VQ_MAX_SIZE];
    bool packed;
} Env;

static inline void env_init(Env *e, bool packed, uint32_t size, uint64_t features)
{
    memset(e, 0, sizeof(*e));
    e->packed = packed;
    cr_assert_eq(vmem_map_new(&e->map), 0);
    cr_assert_eq(vmem_map_add_memfd(e->map, RAM_BASE, RAM_SIZE, "ram", 0), 0);
    if (packed) {
        features |= FEAT_PACKED;
    }
    cr_assert_eq(vq_mock_new(e->map, RING_GPA, size, features, &e->mock), 0);
    vq_mock_config(e->mock, &e->cfg);
    cr_assert_eq(vq_dev_new(e->map, &e->dq), 0);
    vq_dev_set_name(e->dq, packed ? "test-packed" : "test-split");
    cr_assert_eq(vq_dev_configure(e->dq, &e->cfg), 0);
    e->elem.bufs = e->bufs;
    e->elem.bufs_cap = VQ_MAX_SIZE;
}

static inline void env_fini(Env *e)
{
    vq_dev_free(e->dq);
    vq_mock_free(e->mock);
    vmem_map_free(e->map);
}

static inline VqBuf rbuf(uint64_t gpa, uint32_t len)
{
    return (VqBuf){ .gpa = gpa, .len = len, .flags = 0 };
}

static inline VqBuf wbuf(uint64_t gpa, uint32_t len)
{
    return (VqBuf){ .gpa = gpa, .len = len, .flags = VQ_BUF_WRITE };
}

/* A ring layout at @base (for queues not built by the mock). */
static inline void ring_layout(bool packed, uint32_t size, uint64_t base, uint64_t features,
                               VqConfig *cfg)
{
    cfg->size = size;
    cfg->desc_addr = base;
    cfg->driver_addr = base + 16ull * size;
    if (packed) {
        cfg->device_addr = cfg->driver_addr + 4;
        cfg->features = features | FEAT_PACKED;
    } else {
        cfg->device_addr = (cfg->driver_addr + vq_split_avail_bytes(size) + 3) & ~3ull;
        cfg->features = features;
    }
}

/* A driver and a device on the same ring (loopback). */
#define LOOP_RING_GPA (RAM_BASE + (4ull << 20))
#define LOOP_IND_GPA (RAM_BASE + (6ull << 20))

typedef struct Loop {
    VMemMap *map;
    VqDrvQueue *drv;
    VqDevQueue *dev;
    VqConfig cfg;
    VqElem elem;
    VqBuf bufs[VQ_MAX_SIZE];
    bool packed;
} Loop;

static inline void loop_init(Loop *l, bool packed, uint32_t size, uint64_t features)
{
    memset(l, 0, sizeof(*l));
    l->packed = packed;
    cr_assert_eq(vmem_map_new(&l->map), 0);
    cr_assert_eq(vmem_map_add_memfd(l->map, RAM_BASE, RAM_SIZE, "ram", 0), 0);
    ring_layout(packed, size, LOOP_RING_GPA, features, &l->cfg);
    cr_assert_eq(vq_drv_new(l->map, &l->drv), 0);
    cr_assert_eq(vq_drv_configure(l->drv, &l->cfg), 0);
    cr_assert_eq(vq_dev_new(l->map, &l->dev), 0);
    cr_assert_eq(vq_dev_configure(l->dev, &l->cfg), 0);
    l->elem.bufs = l->bufs;
    l->elem.bufs_cap = VQ_MAX_SIZE;
}

static inline void loop_fini(Loop *l)
{
    vq_drv_free(l->drv);
    vq_dev_free(l->dev);
    vmem_map_free(l->map);
}

/* Makes one test per layout from a function taking `bool packed`. */
#define BOTH_LAYOUTS(suite, name)                                             \
    static void name##_body(bool packed);                                     \
    Test(suite, name##_split) { name##_body(false); }                         \
    Test(suite, name##_packed) { name##_body(true); }                         \
    static void name##_body(bool packed)

/* Pops and expects error @err, checking that the queue is then broken. */
static inline void expect_violation(Env *e, int err)
{
    int rc = vq_dev_pop(e->dq, &e->elem);
    cr_assert_eq(rc, err, "pop returned %d (%s), expected %d (%s)", rc, vq_strerror(rc), err,
                 vq_strerror(err));
    cr_assert(vq_dev_is_broken(e->dq));
    cr_assert_eq(vq_dev_last_error(e->dq), err);
    rc = vq_dev_pop(e->dq, &e->elem);
    cr_assert_eq(rc, -EIO, "pop on a broken queue: %s", vq_strerror(rc));
}

/* Captures log lines (tests of the rate limit and of messages). */
typedef struct LogCapture {
    unsigned count;
    char last[256];
} LogCapture;

static inline void capture_log(void *opaque, const char *msg)
{
    LogCapture *c = opaque;
    c->count++;
    snprintf(c->last, sizeof(c->last), "%s", msg);
}

#endif
