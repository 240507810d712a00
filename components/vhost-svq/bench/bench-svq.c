/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the shadow virtqueue (run with a release build; never run
 * as tests). One figure per line, each the median of RUNS runs, next to a
 * ratio against a baseline measured in the same run:
 *
 *  - 4 KiB random reads against qemu-storage-daemon's vhost-user-blk export
 *    on a file in /dev/shm, through one front-end whose shadow virtqueue is
 *    switched on and off between runs (interleaved, so both see the same
 *    machine): IOPS on, IOPS off, ratio on/off (goal >= 0.9);
 *  - the relay's cost per chain with an in-process back-end (a
 *    virtio-queue device side): guest driver -> relay -> back-end and
 *    back, against the same loop with the back-end on the guest ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "svq-rig.h"
#include "vhost-svq/svq.h"

#define RUNS 7
#define READS_PER_RUN 20000u
#define IMAGE_BLOCKS 16384u /* 64 MiB */
#define QSIZE 256u
#define BATCH 32u
#define RELAY_CHAINS 200000u

extern char **environ;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench-vhost-svq-shadow: %s: %s\n", what, why);
    exit(1);
}

static void die_err(const char *what, GError *err)
{
    die(what, err ? err->message : "?");
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------------ */
/* qemu-storage-daemon                                                       */

static const char *qsd_path(void)
{
    const char *p = getenv("VHU_QSD");

    if (p && access(p, X_OK) == 0) {
        return p;
    }
    return access("/usr/bin/qemu-storage-daemon", X_OK) == 0 ? "/usr/bin/qemu-storage-daemon"
                                                             : NULL;
}

typedef struct Qsd {
    char *dir;
    char *image;
    char *sock;
    pid_t pid;
} Qsd;

static void qsd_start(Qsd *q, const char *qsd)
{
    char *blockdev, *export, *argv[6];
    uint64_t s = 7, buf[T_BLOCK / 8];
    char *tmpl = g_strdup("/dev/shm/svq-bench-XXXXXX");
    int fd, rc;

    if (!mkdtemp(tmpl)) {
        die("mkdtemp", strerror(errno));
    }
    q->dir = tmpl;
    q->image = g_strdup_printf("%s/disk.raw", q->dir);
    q->sock = g_strdup_printf("%s/qsd.sock", q->dir);
    fd = open(q->image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        die(q->image, strerror(errno));
    }
    for (unsigned b = 0; b < IMAGE_BLOCKS; b++) {
        for (unsigned i = 0; i < T_BLOCK / 8; i++) {
            buf[i] = rnd(&s);
        }
        if (write(fd, buf, T_BLOCK) != (ssize_t)T_BLOCK) {
            die(q->image, "short write");
        }
    }
    close(fd);
    blockdev = g_strdup_printf("driver=file,node-name=file0,filename=%s", q->image);
    export = g_strdup_printf("type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,"
                             "addr.path=%s,writable=on,num-queues=1", q->sock);
    argv[0] = (char *)qsd;
    argv[1] = "--blockdev";
    argv[2] = blockdev;
    argv[3] = "--export";
    argv[4] = export;
    argv[5] = NULL;
    rc = posix_spawn(&q->pid, argv[0], NULL, NULL, argv, environ);
    if (rc) {
        die(qsd, strerror(rc));
    }
    g_free(blockdev);
    g_free(export);
}

static void qsd_stop(Qsd *q)
{
    kill(q->pid, SIGTERM);
    waitpid(q->pid, NULL, 0);
    unlink(q->sock);
    unlink(q->image);
    rmdir(q->dir);
    g_free(q->dir);
    g_free(q->image);
    g_free(q->sock);
}

/* Waits for an event on the guest's call fd or the shadow virtqueue's fds
 * and dispatches the latter. */
static void wait_events(TGuest *g, SvqDev *svq)
{
    struct pollfd p[1 + 2 * VHU_MAX_QUEUES];
    int fds[2 * VHU_MAX_QUEUES];
    unsigned n = svq_get_fds(svq, fds, G_N_ELEMENTS(fds));

    p[0] = (struct pollfd){ .fd = g->call_fd, .events = POLLIN };
    for (unsigned i = 0; i < n; i++) {
        p[1 + i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    }
    if (poll(p, 1 + n, 5000) <= 0) {
        die("back-end", "no event within 5 s");
    }
    for (unsigned i = 0; i < n; i++) {
        if (p[1 + i].revents) {
            svq_dispatch(svq, p[1 + i].fd);
        }
    }
}

static unsigned collect(TGuest *g, unsigned *free_slots, unsigned *nfree)
{
    VqUsed u;
    eventfd_t v;
    unsigned n = 0;
    int rc;

    eventfd_read(g->call_fd, &v);
    while ((rc = vq_drv_get_used(g->drv, &u)) == 0) {
        uint8_t st = 0xff;

        tg_status(g, (unsigned)u.token, &st);
        if (st != 0) {
            die("request", "status not OK");
        }
        free_slots[(*nfree)++] = (unsigned)u.token;
        n++;
    }
    if (rc != -EAGAIN) {
        die("vq_drv_get_used", vq_strerror(rc));
    }
    return n;
}

/* @count random 4 KiB reads at @depth; returns IOPS. */
static double random_reads(TGuest *g, SvqDev *svq, unsigned depth, unsigned count,
                           uint64_t *seed)
{
    unsigned free_slots[256], nfree = 0, issued = 0, done = 0;
    int64_t t0 = now_ns();

    for (unsigned i = 0; i < depth; i++) {
        free_slots[nfree++] = i;
    }
    while (done < count) {
        bool added = false;
        unsigned n;

        while (nfree && issued < count) {
            unsigned slot = free_slots[--nfree];
            int rc = tg_submit(g, slot, T_BLK_T_IN, rnd(seed) % IMAGE_BLOCKS, slot);

            if (rc < 0) {
                die("submit", vq_strerror(rc));
            }
            issued++;
            added = true;
        }
        if (added) {
            tg_kick(g);
        }
        n = collect(g, free_slots, &nfree);
        if (n == 0) {
            wait_events(g, svq);
        }
        done += n;
    }
    return count / ((now_ns() - t0) / 1e9);
}

static void set_mode(SvqDev *svq, bool on)
{
    GError *err = NULL;

    if (!(on ? svq_enable(svq, &err) : svq_disable(svq, &err))) {
        die_err("switch", err);
    }
}

static void bench_qsd(void)
{
    static const unsigned depths[] = { 32, 1 };
    const char *qsd = qsd_path();
    VhuOptions vo;
    SvqOptions so;
    VhuDev *dev = NULL;
    SvqDev *svq = NULL;
    TGuest *g = NULL;
    GError *err = NULL;
    uint64_t f, seed = 1;
    Qsd q;
    int rc;

    if (!qsd) {
        printf("qsd randread-4k: skipped (qemu-storage-daemon not found)\n");
        return;
    }
    qsd_start(&q, qsd);
    vhu_options_init(&vo);
    vo.mode = VHU_MODE_CLIENT;
    vo.path = q.sock;
    vo.name = "bench";
    vo.queue_size = QSIZE;
    if (!vhu_new(&vo, &dev, &err) || !vhu_open(dev, &err) ||
        !vhu_wait_link_up(dev, 10000, &err)) {
        die_err("front-end", err);
    }
    f = tg_blk_features(vhu_get_backend_features(dev));
    rc = tg_create(QSIZE, 64, &g);
    if (rc < 0 || (rc = tg_ring_setup(g, f)) < 0) {
        die("guest", strerror(-rc));
    }
    if (!vhu_set_features(dev, f, &err) || !vhu_set_mem_table(dev, g->map, &err)) {
        die_err("set up", err);
    }
    svq_options_init(&so);
    so.vhu = dev;
    so.guest_map = g->map;
    so.max_queue_size = QSIZE;
    if (!svq_new(&so, &svq, &err) ||
        !svq_queue_start(svq, 0, &g->cfg, NULL, g->kick_fd, g->call_fd, &err)) {
        die_err("shadow virtqueue", err);
    }
    for (unsigned d = 0; d < G_N_ELEMENTS(depths); d++) {
        double on[RUNS], off[RUNS], m_on, m_off;

        set_mode(svq, true);
        random_reads(g, svq, depths[d], READS_PER_RUN / 4, &seed); /* warm-up */
        for (unsigned r = 0; r < RUNS; r++) {
            /* Interleaved, alternating which goes first. */
            for (unsigned k = 0; k < 2; k++) {
                bool shadow = (r + k) % 2;

                set_mode(svq, shadow);
                (shadow ? on : off)[r] =
                    random_reads(g, svq, depths[d], READS_PER_RUN / (depths[d] == 1 ? 4 : 1),
                                 &seed);
            }
        }
        m_on = median(on, RUNS);
        m_off = median(off, RUNS);
        printf("qsd randread-4k qd%u svq off (baseline): %.0f IOPS (median of %d)\n",
               depths[d], m_off, RUNS);
        printf("qsd randread-4k qd%u svq on: %.0f IOPS (median of %d)\n", depths[d], m_on,
               RUNS);
        printf("qsd randread-4k qd%u svq on / off: %.3f\n", depths[d], m_on / m_off);
    }
    set_mode(svq, false);
    svq_queue_stop(svq, 0, NULL, NULL);
    svq_free(svq);
    vhu_free(dev);
    tg_free(g);
    qsd_stop(&q);
}

/* ------------------------------------------------------------------------ */
/* Relay cost in one process                                                 */

typedef struct Loop {
    SvqRig *rig;
    VqDevQueue *direct; /* the back-end on the guest ring (baseline) */
    VqElem elems[BATCH];
    VqBuf store[BATCH][4];
    uint32_t lens[BATCH];
} Loop;

/* The guest adds BATCH virtio-blk shaped chains (header, 4 KiB, status). */
static void guest_add_batch(Loop *l)
{
    for (unsigned i = 0; i < BATCH; i++) {
        uint64_t base = RIG_DATA + (uint64_t)i * 0x2000;
        VqBuf bufs[3] = {
            { base, 16, 0 },
            { base + 0x1000, 4096, VQ_BUF_WRITE },
            { base + 16, 1, VQ_BUF_WRITE },
        };

        if (vq_drv_add(l->rig->drv, bufs, 3, i, 0) < 0) {
            die("guest", "add");
        }
    }
    vq_drv_should_kick(l->rig->drv);
}

static void backend_batch(Loop *l, VqDevQueue *q)
{
    int n = vq_dev_pop_batch(q, l->elems, BATCH);

    if (n != (int)BATCH) {
        die("back-end", n < 0 ? vq_strerror(n) : "short batch");
    }
    if (vq_dev_add_used_batch(q, l->elems, l->lens, BATCH) < 0 || vq_dev_publish(q) < 0) {
        die("back-end", "add used");
    }
    vq_dev_should_notify(q);
}

static void guest_collect_batch(Loop *l)
{
    VqUsed u;

    for (unsigned i = 0; i < BATCH; i++) {
        if (vq_drv_get_used(l->rig->drv, &u) < 0) {
            die("guest", "missing completion");
        }
    }
}

/* ns per chain of @iters batches, with or without the relay. */
static double relay_loop(Loop *l, bool relay, unsigned iters)
{
    int64_t t0 = now_ns();

    for (unsigned it = 0; it < iters; it++) {
        guest_add_batch(l);
        if (relay) {
            if (svq_relay_forward(l->rig->relay) < 0) {
                die("relay", svq_relay_error_text(l->rig->relay));
            }
            backend_batch(l, l->rig->dev);
            if (svq_relay_complete(l->rig->relay) < 0) {
                die("relay", svq_relay_error_text(l->rig->relay));
            }
        } else {
            backend_batch(l, l->direct);
        }
        guest_collect_batch(l);
    }
    return (double)(now_ns() - t0) / ((double)iters * BATCH);
}

static void bench_relay(const char *name, RigShape shape, bool dirty_log)
{
    Loop l;
    double with[RUNS], without[RUNS], m_with, m_without;
    unsigned iters = RELAY_CHAINS / BATCH;
    int rc;

    memset(&l, 0, sizeof(l));
    rc = rig_new(&shape, &l.rig);
    if (rc == 0) {
        rc = vq_dev_new(l.rig->backend, &l.direct);
    }
    if (rc < 0) {
        die("rig", strerror(-rc));
    }
    for (unsigned i = 0; i < BATCH; i++) {
        l.elems[i].bufs = l.store[i];
        l.elems[i].bufs_cap = 4;
        l.lens[i] = 4097;
    }
    if (dirty_log) {
        vmem_dirty_log_start(l.rig->guest);
    }
    for (unsigned r = 0; r < RUNS; r++) {
        /* Fresh rings for each measurement; the warm-up is not timed. */
        if (rig_start(l.rig) < 0 || vq_dev_configure(l.direct, &l.rig->gcfg) < 0) {
            die("rig", "start");
        }
        relay_loop(&l, false, iters / 10);
        without[r] = relay_loop(&l, false, iters);
        if (rig_start(l.rig) < 0) {
            die("rig", "start");
        }
        relay_loop(&l, true, iters / 10);
        with[r] = relay_loop(&l, true, iters);
    }
    m_with = median(with, RUNS);
    m_without = median(without, RUNS);
    printf("relay %s: back-end on the guest ring (baseline): %.1f ns/chain (median of %d)\n",
           name, m_without, RUNS);
    printf("relay %s: through the shadow virtqueue: %.1f ns/chain (median of %d)\n", name,
           m_with, RUNS);
    printf("relay %s: relay cost: %.1f ns/chain\n", name, m_with - m_without);
    printf("relay %s: with / without relay: %.2f\n", name, m_with / m_without);
    vq_dev_free(l.direct);
    rig_free(l.rig);
}

int main(int argc, char **argv)
{
    bool qsd = true, relay = true;

    if (argc > 1) {
        qsd = strcmp(argv[1], "relay") != 0;
        relay = strcmp(argv[1], "qsd") != 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (relay) {
        bench_relay("split/split", (RigShape){ .guest_size = 256, .shadow_size = 256,
                                               .event_idx = true }, false);
        bench_relay("packed/packed", (RigShape){ .guest_size = 256, .shadow_size = 256,
                                                 .guest_packed = true, .shadow_packed = true,
                                                 .event_idx = true }, false);
        bench_relay("split/packed", (RigShape){ .guest_size = 256, .shadow_size = 256,
                                                .shadow_packed = true, .event_idx = true },
                    false);
        bench_relay("split/split dirty-log", (RigShape){ .guest_size = 256, .shadow_size = 256,
                                                         .event_idx = true }, true);
    }
    if (qsd) {
        bench_qsd();
    }
    return 0;
}
