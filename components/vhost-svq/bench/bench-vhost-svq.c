/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the vhost-user front-end (run with a release build; never
 * run as tests):
 *
 *  - 4 KiB random reads against qemu-storage-daemon's vhost-user-blk export
 *    on a file in /dev/shm, through each path of the table `paths` (the
 *    guest ring handed to the back-end directly; the shadow virtqueue adds
 *    its own rows), IOPS as the median of RUNS runs, with the ratio to
 *    4 KiB random pread() calls on the same file measured in the same run;
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
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "vhost-svq/vhost-user.h"

#define RUNS 7
#define READS_PER_RUN 20000u
#define IMAGE_BLOCKS 16384u /* 64 MiB */
#define QSIZE 256u
#define RECONNECTS 21

extern char **environ;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench-vhost-svq: %s: %s\n", what, why);
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

static pid_t spawn(char *const argv[])
{
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);

    if (rc) {
        die(argv[0], strerror(rc));
    }
    return pid;
}

static void stop_process(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

static char *make_dir(const char *base)
{
    char *tmpl = g_strdup_printf("%s/vhu-bench-XXXXXX", base);

    if (!mkdtemp(tmpl)) {
        die("mkdtemp", strerror(errno));
    }
    return tmpl;
}

/* An image of @blocks random 4 KiB blocks. */
static char *make_image(const char *dir, unsigned blocks)
{
    char *path = g_strdup_printf("%s/disk.raw", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint64_t s = 7, buf[T_BLOCK / 8];

    if (fd < 0) {
        die(path, strerror(errno));
    }
    for (unsigned b = 0; b < blocks; b++) {
        for (unsigned i = 0; i < T_BLOCK / 8; i++) {
            buf[i] = rnd(&s);
        }
        if (write(fd, buf, T_BLOCK) != (ssize_t)T_BLOCK) {
            die(path, "short write");
        }
    }
    close(fd);
    return path;
}

/* ------------------------------------------------------------------------ */
/* Paths from the guest ring to the back-end                                 */

typedef struct BenchPath {
    const char *name;
    /* Wires ring 0 of @dev to the guest ring of @g. */
    void (*start)(VhuDev *dev, TGuest *g);
    void (*stop)(VhuDev *dev, TGuest *g);
} BenchPath;

static void direct_start(VhuDev *dev, TGuest *g)
{
    GError *err = NULL;
    VhuVringConfig c;

    if (!vhu_vring_set_kick(dev, 0, g->kick_fd, &err) ||
        !vhu_vring_set_call(dev, 0, g->call_fd, &err) ||
        !vhu_vring_config_from_guest(g->map, &g->cfg, 0, &c, &err) ||
        !vhu_vring_start(dev, 0, &c, &err)) {
        die_err("ring start", err);
    }
}

static void direct_stop(VhuDev *dev, TGuest *g)
{
    (void)g;
    vhu_vring_stop(dev, 0, NULL, NULL);
}

/* The shadow virtqueue adds its rows here ("svq" on; the ratio on/off is
 * then printed from the medians). */
static const BenchPath paths[] = {
    { "direct", direct_start, direct_stop },
};

static VhuDev *new_dev(VhuMode mode, const char *path)
{
    VhuOptions o;
    VhuDev *dev = NULL;
    GError *err = NULL;

    vhu_options_init(&o);
    o.mode = mode;
    o.path = path;
    o.name = "bench";
    o.queue_size = QSIZE;
    if (!vhu_new(&o, &dev, &err) || !vhu_open(dev, &err)) {
        die_err("front-end", err);
    }
    return dev;
}

static TGuest *setup_guest(VhuDev *dev, const BenchPath *path, unsigned nslots)
{
    GError *err = NULL;
    TGuest *g = NULL;
    uint64_t f = tg_blk_features(vhu_get_backend_features(dev));
    int rc = tg_create(QSIZE, nslots, &g);

    if (rc < 0 || (rc = tg_ring_setup(g, f)) < 0) {
        die("guest", strerror(-rc));
    }
    if (!vhu_set_features(dev, f, &err) || !vhu_set_mem_table(dev, g->map, &err)) {
        die_err("set up", err);
    }
    path->start(dev, g);
    return g;
}

/* Collects completions; returns how many (statuses checked). */
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

static void wait_call(TGuest *g)
{
    struct pollfd p = { .fd = g->call_fd, .events = POLLIN };

    if (poll(&p, 1, 5000) == 0) {
        die("back-end", "no completion within 5 s");
    }
}

/* @count random 4 KiB reads at depth @depth; returns IOPS. */
static double random_reads(TGuest *g, unsigned depth, unsigned count, uint64_t *seed)
{
    unsigned free_slots[256], nfree = 0, issued = 0, done = 0;
    int64_t t0 = now_ns();

    for (unsigned i = 0; i < depth; i++) {
        free_slots[nfree++] = i;
    }
    while (done < count) {
        bool added = false;

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
        unsigned n = collect(g, free_slots, &nfree);

        if (n == 0) {
            wait_call(g);
        }
        done += n;
    }
    return count / ((now_ns() - t0) / 1e9);
}

static double pread_reads(const char *image, unsigned count, uint64_t *seed)
{
    int fd = open(image, O_RDONLY | O_CLOEXEC);
    static uint8_t buf[T_BLOCK];
    int64_t t0;

    if (fd < 0) {
        die(image, strerror(errno));
    }
    t0 = now_ns();
    for (unsigned i = 0; i < count; i++) {
        if (pread(fd, buf, T_BLOCK, (off_t)(rnd(seed) % IMAGE_BLOCKS) * T_BLOCK) !=
            (ssize_t)T_BLOCK) {
            die(image, "short read");
        }
    }
    close(fd);
    return count / ((now_ns() - t0) / 1e9);
}

static const char *qsd_path(void)
{
    const char *p = getenv("VHU_QSD");

    if (p && access(p, X_OK) == 0) {
        return p;
    }
    return access("/usr/bin/qemu-storage-daemon", X_OK) == 0 ? "/usr/bin/qemu-storage-daemon"
                                                             : NULL;
}

static void bench_qsd(unsigned depth)
{
    const char *qsd = qsd_path();
    char *dir, *image, *sock, *blockdev, *export;
    double base[RUNS], iops[G_N_ELEMENTS(paths)][RUNS], med_base;
    uint64_t seed = 1;
    pid_t pid;

    if (!qsd) {
        printf("qsd randread-4k qd%u: skipped (qemu-storage-daemon not found)\n", depth);
        return;
    }
    dir = make_dir("/dev/shm");
    image = make_image(dir, IMAGE_BLOCKS);
    sock = g_strdup_printf("%s/qsd.sock", dir);
    blockdev = g_strdup_printf("driver=file,node-name=file0,filename=%s", image);
    export = g_strdup_printf("type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,"
                             "addr.path=%s,writable=on,num-queues=1", sock);
    {
        char *argv[] = { (char *)qsd, "--blockdev", blockdev, "--export", export, NULL };

        pid = spawn(argv);
    }
    for (unsigned p = 0; p < G_N_ELEMENTS(paths); p++) {
        VhuDev *dev = new_dev(VHU_MODE_CLIENT, sock);
        GError *err = NULL;
        TGuest *g;

        if (!vhu_wait_link_up(dev, 10000, &err)) {
            die_err("qemu-storage-daemon", err);
        }
        g = setup_guest(dev, &paths[p], depth);
        random_reads(g, depth, READS_PER_RUN / 4, &seed); /* warm-up */
        for (unsigned r = 0; r < RUNS; r++) {
            iops[p][r] = random_reads(g, depth, READS_PER_RUN, &seed);
            if (p == 0) {
                base[r] = pread_reads(image, READS_PER_RUN, &seed);
            }
        }
        paths[p].stop(dev, g);
        vhu_free(dev);
        tg_free(g);
    }
    med_base = median(base, RUNS);
    printf("pread randread-4k (baseline, 1 thread): %.0f IOPS (median of %d)\n", med_base, RUNS);
    for (unsigned p = 0; p < G_N_ELEMENTS(paths); p++) {
        double m = median(iops[p], RUNS);

        printf("qsd randread-4k qd%u %s: %.0f IOPS (median of %d)\n", depth, paths[p].name, m,
               RUNS);
        printf("qsd randread-4k qd%u %s / pread: %.2f\n", depth, paths[p].name, m / med_base);
    }
    stop_process(pid, SIGTERM);
    unlink(sock);
    unlink(image);
    rmdir(dir);
    g_free(dir);
    g_free(image);
    g_free(sock);
    g_free(blockdev);
    g_free(export);
}

/* ------------------------------------------------------------------------ */
/* Reconnection                                                              */

/* Polls the front-end's fd and the call fd until @done_fn holds. */
static void pump(VhuDev *dev, TGuest *g, bool (*done_fn)(VhuDev *, void *), void *arg)
{
    int64_t deadline = now_ns() + INT64_C(10000000000);

    while (!done_fn(dev, arg)) {
        struct pollfd p[2] = { { .fd = g->call_fd, .events = POLLIN } };
        int fd = vhu_get_fd(dev, NULL), n = 1;

        if (now_ns() > deadline) {
            die("reconnection", "nothing happened for 10 s");
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
    TGuest *g;
    unsigned done;
    int64_t t_done;
} OneRead;

static bool read_done(VhuDev *dev, void *arg)
{
    OneRead *r = arg;
    unsigned slots[4], nfree = 0;

    (void)dev;
    if (collect(r->g, slots, &nfree)) {
        r->done = 1;
        r->t_done = now_ns();
    }
    return r->done;
}

static void bench_reconnect(void)
{
    char *dir = make_dir("/dev/shm");
    char *image = make_image(dir, 256);
    char *sock = g_strdup_printf("%s/vhu.sock", dir);
    char *argv[] = { VHU_TEST_BACKEND_PATH, "--socket", sock, "--file", image, "--client", NULL };
    double rtt[RECONNECTS], rec[RECONNECTS], accept_wait[RECONNECTS];
    VhuDev *dev = new_dev(VHU_MODE_SERVER, sock);
    GError *err = NULL;
    uint64_t seed = 3;
    TGuest *g;
    pid_t pid = spawn(argv);

    if (!vhu_wait_link_up(dev, 10000, &err)) {
        die_err("test back-end", err);
    }
    g = setup_guest(dev, &paths[0], 4);
    for (unsigned i = 0; i < RECONNECTS; i++) {
        OneRead r = { .g = g };
        VhuStats st;
        int64_t t0;

        /* Baseline: one request on the live connection. */
        t0 = now_ns();
        tg_submit(g, 0, T_BLK_T_IN, rnd(&seed) % 256, 0);
        tg_kick(g);
        pump(dev, g, read_done, &r);
        rtt[i] = (r.t_done - t0) / 1e3;

        /* Kill the back-end, queue a request, start another back-end. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pump(dev, g, link_down, NULL);
        r.done = 0;
        tg_submit(g, 0, T_BLK_T_IN, rnd(&seed) % 256, 0);
        tg_kick(g);
        t0 = now_ns();
        pid = spawn(argv);
        pump(dev, g, read_done, &r);
        vhu_get_stats(dev, &st);
        rec[i] = (r.t_done - st.last_accept_ns) / 1e3;
        accept_wait[i] = (st.last_accept_ns - t0) / 1e3;
    }
    {
        double m_rec = median(rec, RECONNECTS), m_rtt = median(rtt, RECONNECTS);

        printf("request round trip, live connection (baseline): %.1f us (median of %d)\n", m_rtt,
               RECONNECTS);
        printf("reconnection, accept to first completed request: %.1f us (median of %d)\n",
               m_rec, RECONNECTS);
        printf("reconnection / round trip: %.1f\n", m_rec / m_rtt);
        printf("back-end spawn to accept (process start, not the front-end): %.1f us (median of"
               " %d)\n", median(accept_wait, RECONNECTS), RECONNECTS);
    }
    vhu_free(dev);
    tg_free(g);
    stop_process(pid, SIGKILL);
    unlink(image);
    rmdir(dir);
    g_free(dir);
    g_free(image);
    g_free(sock);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bench_qsd(32);
    bench_qsd(1);
    bench_reconnect();
    return 0;
}
