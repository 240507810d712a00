/* SPDX-License-Identifier: MIT */
/*
 * virtio-queue benchmarks. The shapes of rust-vmm virtio-queue's benches
 * (queue size 256: one chain of 128 descriptors, direct and indirect; 128
 * chains of one descriptor, direct and indirect; 128 add_used), each in the
 * rust-vmm "cached" layout (every chain reuses descriptor 0 / one indirect
 * table) and in a realistic one (distinct descriptors and tables), for both
 * ring layouts; full device cycles; a driver+device loopback; and the
 * two-thread ping-pong with eventfds.
 *
 * Every figure is the median of RUNS runs, printed next to its ratio to the
 * reference loop measured in the same process: a loop that only moves
 * 16-bit indices through the same ring memory (read avail->idx, copy each
 * head from the avail ring to the used ring, publish used->idx), our stand-in
 * for the hardware limit of a split device.
 *
 * Build with -Dbuildtype=release. Usage: bench-virtio-queue [runs]
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "virtio-queue/virtio-queue.h"
#include "virtio-queue/vq-mock.h"

#define QSZ 256
#define BATCH 128
#define RAM_BASE 0x100000ull
#define RAM_SIZE (64ull << 20)
#define RING_GPA RAM_BASE
#define RING2_GPA (RAM_BASE + (8ull << 20))
#define REF_GPA (RAM_BASE + (16ull << 20))
#define DATA_GPA (RAM_BASE + (32ull << 20))

static int RUNS = 7;
static volatile uint64_t sink;
static VMemMap *map;
static VqBuf bufs[QSZ];
static double ref_ns;

#define DIE(...)                                                              \
    do {                                                                      \
        fprintf(stderr, __VA_ARGS__);                                         \
        fputc('\n', stderr);                                                  \
        exit(1);                                                              \
    } while (0)
#define TRY(x)                                                                \
    do {                                                                      \
        int rc_ = (x);                                                        \
        if (rc_ < 0) {                                                        \
            DIE("%s:%d: %s: %s", __FILE__, __LINE__, #x, vq_strerror(rc_));   \
        }                                                                     \
    } while (0)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A measured body: runs @iters iterations, returns the number of items. */
typedef uint64_t (*Body)(void *ctx, uint64_t iters);

/* Iterations of @body that take about 30 ms (the calibration warms up). */
static uint64_t calibrate(Body body, void *ctx)
{
    uint64_t iters = 1;
    for (;;) {
        double t0 = now_ns();
        body(ctx, iters);
        double dt = now_ns() - t0;
        if (dt > 20e6 || iters > (1ull << 30)) {
            return (uint64_t)((double)iters * 30e6 / (dt > 1 ? dt : 1)) + 1;
        }
        iters *= 4;
    }
}

static double run_once(Body body, void *ctx, uint64_t iters)
{
    double t0 = now_ns();
    uint64_t items = body(ctx, iters);
    return (now_ns() - t0) / (double)items;
}

static Body ref_fn;
static void *ref_ctx;
static uint64_t ref_iters;
static double row_ref_ns; /* the reference measured next to the last row */

/* Median over RUNS runs of ns per item. Each run of the row alternates with
 * a run of the reference loop, so that a slow phase of a shared machine
 * weighs on both; the row's ratio uses that interleaved reference. */
static double measure(Body body, void *ctx)
{
    uint64_t iters = calibrate(body, ctx);
    double v[64], r[64];
    for (int k = 0; k < RUNS; k++) {
        r[k] = ref_fn ? run_once(ref_fn, ref_ctx, ref_iters) : 1;
        v[k] = run_once(body, ctx, iters);
    }
    row_ref_ns = median(r, RUNS);
    return median(v, RUNS);
}

/* VQ_BENCH_FILTER=substring runs only the rows whose name contains it. */
static bool wanted(const char *name)
{
    const char *f = getenv("VQ_BENCH_FILTER");
    return !f || !*f || strstr(name, f);
}

static void print_row(const char *name, double ns, const char *unit)
{
    printf("%-58s %8.2f ns/%-5s  %6.2fx ref\n", name, ns, unit, ns / row_ref_ns);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* The reference loop                                                        */

typedef struct RefCtx {
    uint8_t *avail;
    uint8_t *used;
    uint16_t avail_idx; /* the "driver" */
    uint16_t last;      /* the "device" */
} RefCtx;

static uint64_t ref_body(void *opaque, uint64_t iters)
{
    RefCtx *c = opaque;
    for (uint64_t it = 0; it < iters; it++) {
        c->avail_idx += BATCH;
        __atomic_store_n((uint16_t *)(c->avail + 2), htole16(c->avail_idx), __ATOMIC_RELEASE);
        uint16_t end = le16toh(__atomic_load_n((uint16_t *)(c->avail + 2), __ATOMIC_ACQUIRE));
        uint16_t i = c->last;
        for (; i != end; i++) {
            uint16_t head = le16toh(__atomic_load_n(
                (uint16_t *)(c->avail + 4 + 2 * (i & (QSZ - 1))), __ATOMIC_RELAXED));
            __atomic_store_n((uint32_t *)(c->used + 4 + 8 * (i & (QSZ - 1))), htole32(head),
                             __ATOMIC_RELAXED);
            __atomic_store_n((uint32_t *)(c->used + 8 + 8 * (i & (QSZ - 1))), 0,
                             __ATOMIC_RELAXED);
        }
        c->last = i;
        __atomic_store_n((uint16_t *)(c->used + 2), htole16(i), __ATOMIC_RELEASE);
    }
    return iters * BATCH;
}

/* ------------------------------------------------------------------------ */
/* Device-side pop benchmarks (rust-vmm shapes)                              */

typedef struct PopCtx {
    VqDevQueue *q;
    VqMock *mock;
    VqState start;
    unsigned expect_descs;
    bool per_desc; /* report per descriptor instead of per chain */
} PopCtx;

/* Elements for the batch API: each with its own 4 buffers. */
static VqElem belems[BATCH];
static VqBuf bbufs[BATCH][4];
static uint32_t blens[BATCH];

static void batch_init(void)
{
    for (unsigned i = 0; i < BATCH; i++) {
        belems[i] = (VqElem){ .bufs = bbufs[i], .bufs_cap = 4 };
    }
}

static uint64_t pop_batch_body(void *opaque, uint64_t iters)
{
    PopCtx *c = opaque;
    uint64_t descs = 0, sum = 0;
    for (uint64_t it = 0; it < iters; it++) {
        vq_dev_set_state(c->q, &c->start);
        int n;
        while ((n = vq_dev_pop_batch(c->q, belems, BATCH)) > 0) {
            for (int k = 0; k < n; k++) {
                for (unsigned i = 0; i < (unsigned)belems[k].nout + belems[k].nin; i++) {
                    sum += belems[k].bufs[i].len;
                }
                descs += (unsigned)belems[k].nout + belems[k].nin;
            }
        }
    }
    sink += sum;
    if (descs != iters * c->expect_descs) {
        DIE("pop batch bench: %llu descriptors", (unsigned long long)descs);
    }
    return descs;
}

static uint64_t pop_body(void *opaque, uint64_t iters)
{
    PopCtx *c = opaque;
    VqElem e = { .bufs = bufs, .bufs_cap = QSZ };
    uint64_t descs = 0, chains = 0, sum = 0;
    for (uint64_t it = 0; it < iters; it++) {
        vq_dev_set_state(c->q, &c->start); /* rewind, as a fresh queue */
        while (vq_dev_pop(c->q, &e) == 0) {
            for (unsigned i = 0; i < (unsigned)e.nout + e.nin; i++) {
                sum += bufs[i].len; /* walk every descriptor, as rust-vmm does */
            }
            descs += (unsigned)e.nout + e.nin;
            chains++;
        }
    }
    sink += sum;
    if (descs != iters * c->expect_descs) {
        DIE("pop bench: %llu descriptors, expected %llu", (unsigned long long)descs,
            (unsigned long long)(iters * c->expect_descs));
    }
    return c->per_desc ? descs : chains;
}

/* Builds a mock ring with @nchains chains of @len descriptors. cached: the
 * rust-vmm layout (every one-descriptor chain is descriptor 0, every
 * indirect chain the same table); otherwise distinct ones. */
static void pop_setup(PopCtx *c, bool packed, unsigned nchains, unsigned len, bool indirect,
                      bool cached)
{
    uint64_t features = VQ_FEATURE(VQ_F_INDIRECT_DESC) |
                        (packed ? VQ_FEATURE(VQ_F_RING_PACKED) : 0);
    TRY(vq_mock_new(map, RING_GPA, QSZ, features, &c->mock));
    VqBuf b[BATCH];
    for (unsigned i = 0; i < len; i++) {
        b[i] = (VqBuf){ .gpa = DATA_GPA + 0x1000ull * i, .len = 0x1000,
                        .flags = i >= len / 2 ? VQ_BUF_WRITE : 0 };
    }
    if (cached && !packed && len == 1) {
        /* one descriptor (or one indirect table) for every chain */
        uint64_t t = vq_mock_indirect_gpa(c->mock, 0);
        if (indirect) {
            TRY(vq_mock_write_table_desc(c->mock, t, 0, b[0].gpa, b[0].len, b[0].flags, 0));
            TRY(vq_mock_write_desc(c->mock, 0, t, 16, VQ_DESC_F_INDIRECT, 0));
        } else {
            TRY(vq_mock_write_desc(c->mock, 0, b[0].gpa, b[0].len, b[0].flags, 0));
        }
        for (unsigned i = 0; i < nchains; i++) {
            TRY(vq_mock_split_push_avail(c->mock, 0));
        }
    } else if (cached && packed && indirect && len == 1) {
        /* packed descriptors cannot be shared, but the table can */
        uint64_t t = vq_mock_indirect_gpa(c->mock, 0);
        TRY(vq_mock_write_table_desc(c->mock, t, 0, b[0].gpa, b[0].len, b[0].flags, 0));
        for (unsigned i = 0; i < nchains; i++) {
            TRY(vq_mock_write_desc(c->mock, i, t, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_AVAIL,
                                   (uint16_t)i));
        }
    } else {
        for (unsigned i = 0; i < nchains; i++) {
            TRY(vq_mock_add_chain(c->mock, b, len, indirect ? VQ_MOCK_INDIRECT : 0, NULL));
        }
    }
    VqConfig cfg;
    vq_mock_config(c->mock, &cfg);
    TRY(vq_dev_new(map, &c->q));
    TRY(vq_dev_configure(c->q, &cfg));
    TRY(vq_dev_get_state(c->q, &c->start));
    c->expect_descs = nchains * len;
    c->per_desc = nchains == 1;
}

static void pop_teardown(PopCtx *c)
{
    vq_dev_free(c->q);
    vq_mock_free(c->mock);
}

static void bench_pop(bool packed, unsigned nchains, unsigned len, bool indirect, bool cached,
                      const char *name)
{
    if (!wanted(name)) {
        return;
    }
    PopCtx c = {0};
    pop_setup(&c, packed, nchains, len, indirect, cached);
    print_row(name, measure(pop_body, &c), c.per_desc ? "desc" : "chain");
    pop_teardown(&c);
}

static void bench_pop_batch(bool packed, bool cached, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    PopCtx c = {0};
    pop_setup(&c, packed, BATCH, 1, false, cached);
    print_row(name, measure(pop_batch_body, &c), "chain");
    pop_teardown(&c);
}

/* Diagnostic rows for the 1-descriptor pop rows: the library alone (no
 * consumer loop), and the consumer loop alone over 128 popped chains. The
 * pop rows above include both (overlapped: their sum is an upper bound). */
static uint64_t pop_body_no_consumer(void *opaque, uint64_t iters)
{
    PopCtx *c = opaque;
    VqElem e = { .bufs = bufs, .bufs_cap = QSZ };
    uint64_t chains = 0;
    for (uint64_t it = 0; it < iters; it++) {
        vq_dev_set_state(c->q, &c->start);
        while (vq_dev_pop(c->q, &e) == 0) {
            chains++;
        }
    }
    if (chains != iters * BATCH) {
        DIE("pop bench: %llu chains", (unsigned long long)chains);
    }
    return chains;
}

static uint64_t pop_batch_body_no_consumer(void *opaque, uint64_t iters)
{
    PopCtx *c = opaque;
    uint64_t chains = 0;
    for (uint64_t it = 0; it < iters; it++) {
        vq_dev_set_state(c->q, &c->start);
        int n;
        while ((n = vq_dev_pop_batch(c->q, belems, BATCH)) > 0) {
            chains += (unsigned)n;
        }
    }
    if (chains != iters * BATCH) {
        DIE("pop batch bench: %llu chains", (unsigned long long)chains);
    }
    return chains;
}

static void bench_pop_no_consumer(bool packed, bool batch, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    PopCtx c = {0};
    pop_setup(&c, packed, BATCH, 1, false, false);
    print_row(name, measure(batch ? pop_batch_body_no_consumer : pop_body_no_consumer, &c),
              "chain");
    pop_teardown(&c);
}

/* The consumer loop of pop_batch_body(), over elements popped once. */
static uint64_t consume_body(void *opaque, uint64_t iters)
{
    (void)opaque;
    uint64_t descs = 0, sum = 0;
    for (uint64_t it = 0; it < iters; it++) {
        for (int k = 0; k < BATCH; k++) {
            for (unsigned i = 0; i < (unsigned)belems[k].nout + belems[k].nin; i++) {
                sum += belems[k].bufs[i].len;
            }
            descs += (unsigned)belems[k].nout + belems[k].nin;
        }
        __asm__ volatile("" ::: "memory"); /* as if the elements had changed */
    }
    sink += sum;
    if (descs != iters * BATCH) {
        DIE("consumer bench: %llu descriptors", (unsigned long long)descs);
    }
    return descs;
}

static void bench_consumer(const char *name)
{
    if (!wanted(name)) {
        return;
    }
    PopCtx c = {0};
    pop_setup(&c, false, BATCH, 1, false, false);
    if (vq_dev_pop_batch(c.q, belems, BATCH) != BATCH) {
        DIE("consumer bench: pop_batch");
    }
    print_row(name, measure(consume_body, &c), "chain");
    pop_teardown(&c);
}

/* ------------------------------------------------------------------------ */
/* add_used                                                                  */

typedef struct UsedCtx {
    VqDevQueue *q;
    VqMock *mock;
    bool packed;
    bool batch;
    uint8_t *avail_idx; /* split: host pointer to avail->idx */
} UsedCtx;

static uint64_t used_body(void *opaque, uint64_t iters)
{
    UsedCtx *c = opaque;
    for (uint64_t it = 0; it < iters; it++) {
        /* pretend 128 chains were popped */
        VqState s;
        vq_dev_get_state(c->q, &s);
        if (c->packed) {
            s.next_avail = (uint16_t)((s.next_used + BATCH) % QSZ);
            s.avail_wrap = (s.next_used + BATCH >= QSZ) ? !s.used_wrap : s.used_wrap;
        } else {
            s.next_avail = (uint16_t)(s.next_used + BATCH);
            __atomic_store_n((uint16_t *)c->avail_idx, htole16(s.next_avail), __ATOMIC_RELAXED);
        }
        vq_dev_set_state(c->q, &s);
        for (unsigned i = 0; i < BATCH; i++) {
            vq_dev_add_used_id(c->q, 123, 1, 0x1000);
            if (!c->batch) {
                vq_dev_publish(c->q);
            }
        }
        if (c->batch) {
            vq_dev_publish(c->q);
        }
    }
    return iters * BATCH;
}

static void bench_used(bool packed, bool batch, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    UsedCtx c = { .packed = packed, .batch = batch };
    TRY(vq_mock_new(map, RING_GPA, QSZ, packed ? VQ_FEATURE(VQ_F_RING_PACKED) : 0, &c.mock));
    VqConfig cfg;
    vq_mock_config(c.mock, &cfg);
    TRY(vq_dev_new(map, &c.q));
    TRY(vq_dev_configure(c.q, &cfg));
    c.avail_idx = vmem_translate_ptr(map, cfg.driver_addr + 2, 2);
    print_row(name, measure(used_body, &c), "call");
    vq_dev_free(c.q);
    vq_mock_free(c.mock);
}

/* ------------------------------------------------------------------------ */
/* Full device cycle on a split ring: pop 128, add_used 128, one publish     */

typedef struct CycleCtx {
    VqDevQueue *q;
    uint8_t *avail_idx;
    uint16_t idx;
    bool notify;
    bool batch;
} CycleCtx;

static uint64_t cycle_batch_body(void *opaque, uint64_t iters)
{
    CycleCtx *c = opaque;
    uint64_t n = 0;
    for (uint64_t it = 0; it < iters; it++) {
        c->idx += BATCH;
        __atomic_store_n((uint16_t *)c->avail_idx, htole16(c->idx), __ATOMIC_RELEASE);
        int k;
        while ((k = vq_dev_pop_batch(c->q, belems, BATCH)) > 0) {
            vq_dev_add_used_batch(c->q, belems, blens, (unsigned)k);
            n += (unsigned)k;
        }
        vq_dev_publish(c->q);
        if (c->notify) {
            sink += (uint64_t)vq_dev_should_notify(c->q);
        }
    }
    if (n != iters * BATCH) {
        DIE("cycle: %llu chains", (unsigned long long)n);
    }
    return n;
}

static uint64_t cycle_body(void *opaque, uint64_t iters)
{
    CycleCtx *c = opaque;
    VqElem e = { .bufs = bufs, .bufs_cap = QSZ };
    uint64_t n = 0;
    for (uint64_t it = 0; it < iters; it++) {
        c->idx += BATCH; /* the driver makes 128 more chains available */
        __atomic_store_n((uint16_t *)c->avail_idx, htole16(c->idx), __ATOMIC_RELEASE);
        while (vq_dev_pop(c->q, &e) == 0) {
            vq_dev_add_used(c->q, &e, 0);
            n++;
        }
        vq_dev_publish(c->q);
        if (c->notify) {
            sink += (uint64_t)vq_dev_should_notify(c->q);
        }
    }
    if (n != iters * BATCH) {
        DIE("cycle: %llu chains", (unsigned long long)n);
    }
    return n;
}

static void bench_cycle(bool notify, bool batch, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    VqMock *m;
    TRY(vq_mock_new(map, RING_GPA, QSZ, VQ_FEATURE(VQ_F_EVENT_IDX), &m));
    for (unsigned i = 0; i < BATCH; i++) {
        TRY(vq_mock_write_desc(m, i, DATA_GPA + 0x1000ull * i, 0x1000, VQ_DESC_F_WRITE, 0));
    }
    for (unsigned s = 0; s < QSZ; s++) { /* every slot: heads 0..127, twice */
        TRY(vq_mock_split_push_avail(m, (uint16_t)(s % BATCH)));
    }
    VqConfig cfg;
    vq_mock_config(m, &cfg);
    CycleCtx c = { .notify = notify, .batch = batch };
    TRY(vq_dev_new(map, &c.q));
    TRY(vq_mock_split_set_avail_idx(m, 0));
    TRY(vq_dev_configure(c.q, &cfg));
    c.avail_idx = vmem_translate_ptr(map, cfg.driver_addr + 2, 2);
    print_row(name, measure(batch ? cycle_batch_body : cycle_body, &c), "chain");
    vq_dev_free(c.q);
    vq_mock_free(m);
}

/* ------------------------------------------------------------------------ */
/* Driver + device in one thread (the shadow virtqueue's work per chain)     */

typedef struct LoopCtx {
    VqDrvQueue *drv;
    VqDevQueue *dev;
} LoopCtx;

static uint64_t loop_body(void *opaque, uint64_t iters)
{
    LoopCtx *c = opaque;
    VqElem e = { .bufs = bufs, .bufs_cap = QSZ };
    VqBuf b = { .gpa = DATA_GPA, .len = 0x1000, .flags = VQ_BUF_WRITE };
    uint64_t n = 0;
    for (uint64_t it = 0; it < iters; it++) {
        for (unsigned i = 0; i < BATCH; i++) {
            vq_drv_add(c->drv, &b, 1, i, 0);
        }
        sink += (uint64_t)vq_drv_should_kick(c->drv);
        while (vq_dev_pop(c->dev, &e) == 0) {
            vq_dev_add_used(c->dev, &e, 0x100);
        }
        vq_dev_publish(c->dev);
        sink += (uint64_t)vq_dev_should_notify(c->dev);
        VqUsed u;
        while (vq_drv_get_used(c->drv, &u) == 0) {
            n++;
        }
    }
    if (n != iters * BATCH) {
        DIE("loopback: %llu chains", (unsigned long long)n);
    }
    return n;
}

static void ring_cfg(bool packed, uint64_t gpa, VqConfig *cfg)
{
    cfg->size = QSZ;
    cfg->desc_addr = gpa;
    cfg->driver_addr = gpa + 16ull * QSZ;
    cfg->device_addr = packed ? cfg->driver_addr + 4
                              : (cfg->driver_addr + vq_split_avail_bytes(QSZ) + 3) & ~3ull;
    cfg->features = VQ_FEATURE(VQ_F_EVENT_IDX) | VQ_FEATURE(VQ_F_INDIRECT_DESC) |
                    (packed ? VQ_FEATURE(VQ_F_RING_PACKED) : 0);
}

static void bench_loopback(bool packed, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    LoopCtx c;
    VqConfig cfg;
    ring_cfg(packed, RING2_GPA, &cfg);
    TRY(vq_drv_new(map, &c.drv));
    TRY(vq_drv_configure(c.drv, &cfg));
    TRY(vq_dev_new(map, &c.dev));
    TRY(vq_dev_configure(c.dev, &cfg));
    print_row(name, measure(loop_body, &c), "chain");
    vq_drv_free(c.drv);
    vq_dev_free(c.dev);
}

/* ------------------------------------------------------------------------ */
/* Two threads, eventfds                                                     */

typedef struct PingPong {
    VqConfig cfg;
    int kick_fd, call_fd;
    atomic_bool stop;
} PingPong;

static void wait_fd(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 10000) <= 0) {
        DIE("ping-pong: no notification for 10 s");
    }
    uint64_t v;
    if (read(fd, &v, sizeof(v)) != sizeof(v)) {
        DIE("ping-pong: read");
    }
}

static void kick(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof(one)) != sizeof(one)) {
        DIE("ping-pong: write");
    }
}

static void *pp_device(void *opaque)
{
    PingPong *p = opaque;
    VqDevQueue *q;
    TRY(vq_dev_new(map, &q));
    TRY(vq_dev_configure(q, &p->cfg));
    VqBuf b[4];
    VqElem e = { .bufs = b, .bufs_cap = 4 };
    while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
        vq_dev_disable_notify(q);
        do {
            while (vq_dev_pop(q, &e) == 0) {
                vq_dev_add_used(q, &e, 0);
            }
            vq_dev_publish(q);
            if (vq_dev_should_notify(q) == 1) {
                kick(p->call_fd);
            }
        } while (vq_dev_enable_notify(q) == 1);
        if (atomic_load(&p->stop)) {
            break;
        }
        wait_fd(p->kick_fd);
    }
    vq_dev_free(q);
    return NULL;
}

/* Returns ns per chain for @total chains through two threads. */
static double pingpong_once(bool packed, uint64_t total)
{
    PingPong p = {0};
    ring_cfg(packed, RING2_GPA, &p.cfg);
    p.kick_fd = eventfd(0, EFD_CLOEXEC);
    p.call_fd = eventfd(0, EFD_CLOEXEC);
    VqDrvQueue *d;
    TRY(vq_drv_new(map, &d));
    TRY(vq_drv_configure(d, &p.cfg));
    pthread_t th;
    if (pthread_create(&th, NULL, pp_device, &p) != 0) {
        DIE("pthread_create");
    }
    VqBuf b = { .gpa = DATA_GPA, .len = 64, .flags = VQ_BUF_WRITE };
    uint64_t added = 0, done = 0;
    double t0 = now_ns();
    while (done < total) {
        vq_drv_disable_cb(d);
        while (added < total && vq_drv_add(d, &b, 1, added, 0) == 0) {
            added++;
        }
        if (vq_drv_should_kick(d) == 1) {
            kick(p.kick_fd);
        }
        VqUsed u;
        unsigned got = 0;
        while (vq_drv_get_used(d, &u) == 0) {
            got++;
        }
        done += got;
        if (got == 0 && (added == total || vq_drv_num_free(d) == 0) && done < total &&
            vq_drv_enable_cb(d) == 0) {
            wait_fd(p.call_fd);
        }
    }
    double dt = now_ns() - t0;
    atomic_store(&p.stop, true);
    kick(p.kick_fd);
    pthread_join(th, NULL);
    vq_drv_free(d);
    close(p.kick_fd);
    close(p.call_fd);
    return dt / (double)total;
}

static void bench_pingpong(bool packed, const char *name)
{
    if (!wanted(name)) {
        return;
    }
    double v[64];
    pingpong_once(packed, 200000); /* warm-up */
    for (int r = 0; r < RUNS; r++) {
        v[r] = pingpong_once(packed, 2000000);
    }
    double ns = median(v, RUNS);
    printf("%-58s %8.2f ns/%-5s  %6.2fx ref  (%.2f M chains/s)\n", name, ns, "chain",
           ns / ref_ns, 1e3 / ns);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        RUNS = atoi(argv[1]);
        if (RUNS < 1 || RUNS > 64) {
            DIE("usage: %s [runs 1..64]", argv[0]);
        }
    }
    batch_init();
    TRY(vmem_map_new(&map));
    TRY(vmem_map_add_memfd(map, RAM_BASE, RAM_SIZE, "bench", 0));

    VqMock *m;
    TRY(vq_mock_new(map, REF_GPA, QSZ, 0, &m)); /* its own ring, same region */
    VqConfig cfg;
    vq_mock_config(m, &cfg);
    RefCtx rc = { .avail = vmem_translate_ptr(map, cfg.driver_addr, 4 + 2 * QSZ),
                  .used = vmem_translate_ptr(map, cfg.device_addr, 4 + 8 * QSZ) };
    for (unsigned s = 0; s < QSZ; s++) {
        TRY(vq_mock_split_push_avail(m, (uint16_t)(s % BATCH)));
    }
    vq_mock_free(m);
    printf("virtio-queue benchmarks: queue size %u, median of %d runs, ns per item\n", QSZ, RUNS);
    ref_ns = measure(ref_body, &rc);
    row_ref_ns = ref_ns;
    print_row("reference: move 16-bit indices avail -> used (split)", ref_ns, "chain");
    ref_fn = ref_body;
    ref_ctx = &rc;
    ref_iters = calibrate(ref_body, &rc);

    bench_pop(false, 1, 128, false, true, "split pop 1 chain x 128 desc, direct");
    bench_pop(false, 1, 128, true, true, "split pop 1 chain x 128 desc, indirect");
    bench_pop(false, 128, 1, false, true, "split pop 128 chains x 1 desc, direct, cached");
    bench_pop(false, 128, 1, false, false, "split pop 128 chains x 1 desc, direct, distinct");
    bench_pop(false, 128, 1, true, true, "split pop 128 chains x 1 desc, indirect, cached");
    bench_pop(false, 128, 1, true, false, "split pop 128 chains x 1 desc, indirect, distinct");
    bench_used(false, false, "split add_used x 128, publish each");
    bench_used(false, true, "split add_used x 128, one publish");
    bench_pop_batch(false, true, "split pop_batch 128 chains x 1 desc, direct, cached");
    bench_pop_batch(false, false, "split pop_batch 128 chains x 1 desc, direct, distinct");
    bench_pop_no_consumer(false, false, "split pop 128 chains x 1 desc, distinct, no consumer");
    bench_pop_no_consumer(false, true, "split pop_batch 128 x 1 desc, distinct, no consumer");
    bench_consumer("bench consumer loop alone (128 popped 1-desc chains)");
    bench_cycle(false, false, "split device cycle: pop+add_used, 1 publish/128");
    bench_cycle(true, false, "split device cycle + should_notify/128");
    bench_cycle(true, true, "split device cycle, batch API + should_notify/128");

    bench_pop(true, 1, 128, false, false, "packed pop 1 chain x 128 desc, direct");
    bench_pop(true, 1, 128, true, false, "packed pop 1 chain x 128 desc, indirect");
    bench_pop(true, 128, 1, false, false, "packed pop 128 chains x 1 desc, direct");
    bench_pop_batch(true, false, "packed pop_batch 128 chains x 1 desc, direct");
    bench_pop_no_consumer(true, false, "packed pop 128 chains x 1 desc, direct, no consumer");
    bench_pop_no_consumer(true, true, "packed pop_batch 128 x 1 desc, direct, no consumer");
    bench_pop(true, 128, 1, true, true, "packed pop 128 chains x 1 desc, indirect, cached");
    bench_pop(true, 128, 1, true, false, "packed pop 128 chains x 1 desc, indirect, distinct");
    bench_used(true, false, "packed add_used x 128, publish each");
    bench_used(true, true, "packed add_used x 128, one publish");

    bench_loopback(false, "split loopback: drv add+kick, dev pop+push, drv get");
    bench_loopback(true, "packed loopback: drv add+kick, dev pop+push, drv get");
    bench_pingpong(false, "split two threads, eventfds (2M chains)");
    bench_pingpong(true, "packed two threads, eventfds (2M chains)");
    vmem_map_free(map);
    return 0;
}
