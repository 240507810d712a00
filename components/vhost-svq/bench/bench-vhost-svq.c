/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the vhost-user front-end (run with a release build; never
 * run as tests):
 *
 *  - 4 KiB random reads against qemu-storage-daemon's vhost-user-blk export
 *    on a file in /dev/shm, the guest ring handed to the back-end directly
 *    (bench-vhost-svq-shadow measures the shadow virtqueue), IOPS as the
 *    median of RUNS runs, with the ratio to 4 KiB random pread() calls on
 *    the same file measured in the same run;
 *  - reconnection time with the test back-end: from the front-end's
 *    accept() of a restarted back-end to the first completed request, with
 *    the ratio to one request's round trip on a live connection.
 *
 * One figure per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-common.h"
#include "support.h"

#define RUNS BENCH_RUNS
#define READS_PER_RUN 20000u
#define IMAGE_BLOCKS 16384u /* 64 MiB */
#define QSIZE 256u
#define RECONNECTS 21

/* Hands the guest ring to the back-end with the guest's eventfds. */
static void direct_start(VhuDev *dev, TGuest *g)
{
    GError *err = NULL;
    VhuVringConfig c;

    if (!vhu_vring_set_kick(dev, 0, g->kick_fd, &err) ||
        !vhu_vring_set_call(dev, 0, g->call_fd, &err) ||
        !vhu_vring_config_from_guest(g->map, &g->cfg, 0, &c, &err) ||
        !vhu_vring_start(dev, 0, &c, &err)) {
        bench_die_err("ring start", err);
    }
}

static double pread_reads(const char *image, unsigned count, uint64_t *seed)
{
    int fd = open(image, O_RDONLY | O_CLOEXEC);
    static uint8_t buf[T_BLOCK];
    int64_t t0;

    if (fd < 0) {
        bench_die(image, strerror(errno));
    }
    t0 = bench_now_ns();
    for (unsigned i = 0; i < count; i++) {
        if (pread(fd, buf, T_BLOCK, (off_t)(ts_rand(seed) % IMAGE_BLOCKS) * T_BLOCK) !=
            (ssize_t)T_BLOCK) {
            bench_die(image, "short read");
        }
    }
    close(fd);
    return count / ((bench_now_ns() - t0) / 1e9);
}

static void bench_qsd(unsigned depth)
{
    double base[RUNS], iops[RUNS], med_base, med;
    uint64_t seed = 1;
    GError *err = NULL;
    BenchQsd q;
    VhuDev *dev;
    BenchIo io = { .blocks = IMAGE_BLOCKS, .kick = bench_kick_eventfd,
                   .wait = bench_wait_call_fd, .read_call_fd = true };

    if (!bench_qsd_start(&q, IMAGE_BLOCKS)) {
        printf("qsd randread-4k qd%u: skipped (qemu-storage-daemon not found)\n", depth);
        return;
    }
    dev = bench_dev(VHU_MODE_CLIENT, q.sock, QSIZE);
    if (!vhu_wait_link_up(dev, 10000, &err)) {
        bench_die_err("qemu-storage-daemon", err);
    }
    io.g = bench_guest(dev, QSIZE, depth);
    direct_start(dev, io.g);
    bench_random_reads(&io, depth, READS_PER_RUN / 4, &seed); /* warm-up */
    for (unsigned r = 0; r < RUNS; r++) {
        iops[r] = bench_random_reads(&io, depth, READS_PER_RUN, &seed);
        base[r] = pread_reads(q.image, READS_PER_RUN, &seed);
    }
    vhu_vring_stop(dev, 0, NULL, NULL);
    vhu_free(dev);
    tg_free(io.g);
    med_base = bench_median(base, RUNS);
    med = bench_median(iops, RUNS);
    printf("pread randread-4k (baseline, 1 thread): %.0f IOPS (median of %d)\n", med_base, RUNS);
    printf("qsd randread-4k qd%u direct: %.0f IOPS (median of %d)\n", depth, med, RUNS);
    printf("qsd randread-4k qd%u direct / pread: %.2f\n", depth, med / med_base);
    bench_qsd_stop(&q);
}

/* ------------------------------------------------------------------------ */
/* Reconnection                                                              */

/* Polls the front-end's fd and the call fd until @done_fn holds. */
static void pump(VhuDev *dev, TGuest *g, bool (*done_fn)(VhuDev *, void *), void *arg)
{
    int64_t deadline = bench_now_ns() + INT64_C(10000000000);

    while (!done_fn(dev, arg)) {
        struct pollfd p[2] = { { .fd = g->call_fd, .events = POLLIN } };
        int fd = vhu_get_fd(dev, NULL), n = 1;

        if (bench_now_ns() > deadline) {
            bench_die("reconnection", "nothing happened for 10 s");
        }
        if (fd >= 0) {
            p[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }
        poll(p, (nfds_t)n, 100);
        if (n == 2 && p[1].revents) {
            vhu_dispatch(dev, fd, VHU_EVENT_IN | (p[1].revents & POLLHUP ? VHU_EVENT_HUP : 0));
        }
    }
}

static bool link_down(VhuDev *dev, void *arg)
{
    (void)arg;
    return !vhu_is_up(dev);
}

typedef struct OneRead {
    BenchIo io;
    unsigned done;
    int64_t t_done;
} OneRead;

static bool read_done(VhuDev *dev, void *arg)
{
    OneRead *r = arg;
    unsigned slots[4], nfree = 0;

    (void)dev;
    if (bench_collect(&r->io, slots, &nfree)) {
        r->done = 1;
        r->t_done = bench_now_ns();
    }
    return r->done;
}

static void bench_reconnect(void)
{
    char *dir = bench_dir();
    char *image = bench_image(dir, 256);
    char *sock = bench_path(dir, "vhu.sock");
    char *argv[] = { VHU_TEST_BACKEND_PATH, "--socket", sock, "--file", image, "--client", NULL };
    double rtt[RECONNECTS], rec[RECONNECTS], accept_wait[RECONNECTS];
    VhuDev *dev = bench_dev(VHU_MODE_SERVER, sock, QSIZE);
    GError *err = NULL;
    uint64_t seed = 3;
    TGuest *g;
    pid_t pid = bench_spawn(argv);

    if (!vhu_wait_link_up(dev, 10000, &err)) {
        bench_die_err("test back-end", err);
    }
    g = bench_guest(dev, QSIZE, 4);
    direct_start(dev, g);
    for (unsigned i = 0; i < RECONNECTS; i++) {
        OneRead r = { .io = { .g = g, .read_call_fd = true } };
        VhuStats st;
        int64_t t0;

        /* Baseline: one request on the live connection. */
        t0 = bench_now_ns();
        tg_submit(g, 0, T_BLK_T_IN, ts_rand(&seed) % 256, 0);
        tg_kick(g);
        pump(dev, g, read_done, &r);
        rtt[i] = (r.t_done - t0) / 1e3;

        /* Kill the back-end, queue a request, start another back-end. */
        bench_stop(pid, SIGKILL);
        pump(dev, g, link_down, NULL);
        r.done = 0;
        tg_submit(g, 0, T_BLK_T_IN, ts_rand(&seed) % 256, 0);
        tg_kick(g);
        t0 = bench_now_ns();
        pid = bench_spawn(argv);
        pump(dev, g, read_done, &r);
        vhu_get_stats(dev, &st);
        rec[i] = (r.t_done - st.last_accept_ns) / 1e3;
        accept_wait[i] = (st.last_accept_ns - t0) / 1e3;
    }
    {
        double m_rec = bench_median(rec, RECONNECTS), m_rtt = bench_median(rtt, RECONNECTS);

        printf("request round trip, live connection (baseline): %.1f us (median of %d)\n", m_rtt,
               RECONNECTS);
        printf("reconnection, accept to first completed request: %.1f us (median of %d)\n",
               m_rec, RECONNECTS);
        printf("reconnection / round trip: %.1f\n", m_rec / m_rtt);
        printf("back-end spawn to accept (process start, not the front-end): %.1f us (median of"
               " %d)\n", bench_median(accept_wait, RECONNECTS), RECONNECTS);
    }
    vhu_free(dev);
    tg_free(g);
    bench_stop(pid, SIGKILL);
    bench_cleanup();
    g_free(dir);
    g_free(image);
    g_free(sock);
}

int main(void)
{
    bench_init("bench-vhost-svq");
    bench_qsd(32);
    bench_qsd(1);
    bench_reconnect();
    return 0;
}
