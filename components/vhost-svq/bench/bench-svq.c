/* SPDX-License-Identifier: MIT */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-common.h"
#include "svq-rig.h"
#include "vhost-svq/svq.h"

#define RUNS BENCH_RUNS
#define READS_PER_RUN 20000u
#define IMAGE_BLOCKS 16384u /* 64 MiB */
#define QSIZE 256u
#define BATCH 32u
#define RELAY_CHAINS 200000u

/* ------------------------------------------------------------------------ */
/* qemu-storage-daemon                                                       */

typedef enum Mode {
    MODE_OFF,       /* the back-end on the guest ring */
    MODE_EVENTFD,   /* shadowed; guest kick and call eventfds via the loop */
    MODE_CALLS,     /* shadowed; the VMM calls in, and is called */
    N_MODES,
} Mode;

static const char *const mode_names[N_MODES] = {
    "svq off (baseline)",
    "svq on, eventfd relay",
    "svq on, VMM calls in",
};

typedef struct Shadow {
    BenchIo io;
    SvqDev *svq;
    Mode mode;
} Shadow;

/* Polls the guest's call fd (unless the relay calls the VMM) and the
 * shadow virtqueue's fds, and dispatches the latter. */
static void shadow_wait(BenchIo *io)
{
    Shadow *sh = io->opaque;
    struct pollfd p[1 + 2 * VHU_MAX_QUEUES];
    int fds[2 * VHU_MAX_QUEUES];
    unsigned n = svq_get_fds(sh->svq, fds, G_N_ELEMENTS(fds)), np = 0;

    if (io->read_call_fd) {
        p[np++] = (struct pollfd){ .fd = io->g->call_fd, .events = POLLIN };
    }
    for (unsigned i = 0; i < n; i++) {
        p[np++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    }
    if (poll(p, np, 5000) <= 0) {
        bench_die("back-end", "no event within 5 s");
    }
    for (unsigned i = io->read_call_fd; i < np; i++) {
        if (p[i].revents) {
            svq_dispatch(sh->svq, p[i].fd);
        }
    }
}

/* The guest's notify handler of a VMM that calls in. */
static void shadow_kick_call(BenchIo *io)
{
    Shadow *sh = io->opaque;

    if (vq_drv_should_kick(io->g->drv) == 1) {
        svq_queue_kick(sh->svq, 0);
    }
}

/* The interrupt a VMM would inject: the loop collects after each wait. */
static void on_notify(SvqDev *svq, unsigned index, void *opaque)
{
    (void)svq;
    (void)index;
    (void)opaque;
}

static void set_mode(Shadow *sh, Mode mode)
{
    GError *err = NULL;
    bool on = mode != MODE_OFF;

    if (!(on ? svq_enable(sh->svq, &err) : svq_disable(sh->svq, &err))) {
        bench_die_err("switch", err);
    }
    sh->mode = mode;
    sh->io.read_call_fd = mode != MODE_CALLS;
    sh->io.kick = mode == MODE_CALLS ? shadow_kick_call : bench_kick_eventfd;
    svq_set_notify_func(sh->svq, mode == MODE_CALLS ? on_notify : NULL, sh);
}

static void bench_qsd(void)
{
    static const unsigned depths[] = { 32, 1 };
    BenchQsd q;
    SvqOptions so;
    VhuDev *dev;
    Shadow sh = { .io.wait = shadow_wait, .io.blocks = IMAGE_BLOCKS };
    GError *err = NULL;
    uint64_t seed = 1;

    if (!bench_qsd_start(&q, IMAGE_BLOCKS)) {
        printf("qsd randread-4k: skipped (qemu-storage-daemon not found)\n");
        return;
    }
    sh.io.opaque = &sh;
    dev = bench_dev(VHU_MODE_CLIENT, q.sock, QSIZE);
    if (!vhu_wait_link_up(dev, 10000, &err)) {
        bench_die_err("qemu-storage-daemon", err);
    }
    sh.io.g = bench_guest(dev, QSIZE, 64);
    svq_options_init(&so);
    so.vhu = dev;
    so.guest_map = sh.io.g->map;
    so.max_queue_size = QSIZE;
    so.quiet_ms = 0; /* a block device completes every request */
    if (!svq_new(&so, &sh.svq, &err) ||
        !svq_queue_start(sh.svq, 0, &sh.io.g->cfg, NULL, sh.io.g->kick_fd,
                         sh.io.g->call_fd, &err)) {
        bench_die_err("shadow virtqueue", err);
    }
    for (unsigned d = 0; d < G_N_ELEMENTS(depths); d++) {
        double iops[N_MODES][RUNS], med[N_MODES];
        unsigned count = READS_PER_RUN / (depths[d] == 1 ? 4 : 1);

        for (unsigned m = 0; m < N_MODES; m++) {
            set_mode(&sh, (Mode)m);
            bench_random_reads(&sh.io, depths[d], READS_PER_RUN / 8, &seed); /* warm-up */
        }
        for (unsigned r = 0; r < RUNS; r++) {
            /* Interleaved, rotating which mode goes first. */
            for (unsigned k = 0; k < N_MODES; k++) {
                Mode m = (Mode)((r + k) % N_MODES);

                set_mode(&sh, m);
                iops[m][r] = bench_random_reads(&sh.io, depths[d], count, &seed);
            }
        }
        for (unsigned m = 0; m < N_MODES; m++) {
            med[m] = bench_median(iops[m], RUNS);
            printf("qsd randread-4k qd%u %s: %.0f IOPS (median of %d)\n", depths[d],
                   mode_names[m], med[m], RUNS);
        }
        for (unsigned m = 1; m < N_MODES; m++) {
            printf("qsd randread-4k qd%u %s / off: %.3f\n", depths[d], mode_names[m],
                   med[m] / med[MODE_OFF]);
        }
    }
    set_mode(&sh, MODE_OFF);
    svq_queue_stop(sh.svq, 0, NULL, NULL);
    svq_free(sh.svq);
    vhu_free(dev);
    tg_free(sh.io.g);
    bench_qsd_stop(&q);
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
            bench_die("guest", "add");
        }
    }
    vq_drv_should_kick(l->rig->drv);
}

static void backend_batch(Loop *l, VqDevQueue *q)
{
    int n = vq_dev_pop_batch(q, l->elems, BATCH);

    if (n != (int)BATCH) {
        bench_die("back-end", n < 0 ? vq_strerror(n) : "short batch");
    }
    if (vq_dev_add_used_batch(q, l->elems, l->lens, BATCH) < 0 || vq_dev_publish(q) < 0) {
        bench_die("back-end", "add used");
    }
    vq_dev_should_notify(q);
}

static void guest_collect_batch(Loop *l)
{
    VqUsed u;

    for (unsigned i = 0; i < BATCH; i++) {
        if (vq_drv_get_used(l->rig->drv, &u) < 0) {
            bench_die("guest", "missing completion");
        }
    }
}

/* ns per chain of @iters batches, with or without the relay. */
static double relay_loop(Loop *l, bool relay, unsigned iters)
{
    int64_t t0 = bench_now_ns();

    for (unsigned it = 0; it < iters; it++) {
        guest_add_batch(l);
        if (relay) {
            if (svq_relay_forward(l->rig->relay) < 0) {
                bench_die("relay", svq_relay_error_text(l->rig->relay));
            }
            backend_batch(l, l->rig->dev);
            if (svq_relay_complete(l->rig->relay) < 0) {
                bench_die("relay", svq_relay_error_text(l->rig->relay));
            }
        } else {
            backend_batch(l, l->direct);
        }
        guest_collect_batch(l);
    }
    return (double)(bench_now_ns() - t0) / ((double)iters * BATCH);
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
        bench_die("rig", strerror(-rc));
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
            bench_die("rig", "start");
        }
        relay_loop(&l, false, iters / 10);
        without[r] = relay_loop(&l, false, iters);
        if (rig_start(l.rig) < 0) {
            bench_die("rig", "start");
        }
        relay_loop(&l, true, iters / 10);
        with[r] = relay_loop(&l, true, iters);
    }
    m_with = bench_median(with, RUNS);
    m_without = bench_median(without, RUNS);
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
    bench_init("bench-vhost-svq-shadow");
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
