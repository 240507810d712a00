/* SPDX-License-Identifier: MIT */
/* What the benchmark programs share (see bench-common.h). */
#include "bench-common.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

static const char *prog_name = "bench";

/* Files and directories to remove, in creation order (removed in reverse);
 * fixed buffers so that a signal handler can use them. */
#define MAX_PATHS 16
#define PATH_BYTES 256
static char paths[MAX_PATHS][PATH_BYTES];
static bool path_is_dir[MAX_PATHS];
static volatile sig_atomic_t npaths;

void bench_cleanup(void)
{
    while (npaths > 0) {
        int i = --npaths;

        if (path_is_dir[i]) {
            rmdir(paths[i]);
        } else {
            unlink(paths[i]);
        }
    }
}

static void on_signal(int sig)
{
    /* unlink() and rmdir() are async-signal-safe; children die with us
     * (PR_SET_PDEATHSIG). */
    bench_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

void bench_init(const char *prog)
{
    prog_name = prog;
    atexit(bench_cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
}

void bench_die(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", prog_name, what, why);
    exit(1);
}

void bench_die_err(const char *what, const GError *err)
{
    bench_die(what, err ? err->message : "?");
}

int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double bench_median(double *v, unsigned n)
{
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------------ */
/* Processes and files                                                       */

pid_t bench_spawn(char *const argv[])
{
    pid_t pid;
    int rc = ts_spawn(argv, &pid);

    if (rc < 0) {
        bench_die(argv[0], strerror(-rc));
    }
    return pid;
}

void bench_stop(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, sig);
        ts_reap(pid, -1, NULL);
    }
}

static void track(const char *path, bool dir)
{
    if (npaths >= MAX_PATHS || strlen(path) >= PATH_BYTES) {
        bench_die(path, "too many files or path too long");
    }
    snprintf(paths[npaths], PATH_BYTES, "%s", path);
    path_is_dir[npaths] = dir;
    npaths++;
}

char *bench_dir(void)
{
    char *d = ts_mkdtemp("/dev/shm", "vhu-bench");

    if (!d) {
        bench_die("mkdtemp in /dev/shm", strerror(errno));
    }
    track(d, true);
    return d;
}

char *bench_path(const char *dir, const char *name)
{
    char *p = g_strdup_printf("%s/%s", dir, name);

    track(p, false);
    return p;
}

char *bench_image(const char *dir, unsigned blocks)
{
    char *path = bench_path(dir, "disk.raw");
    int rc = ts_make_image(path, (uint64_t)blocks * T_BLOCK, 7);

    if (rc < 0) {
        bench_die(path, strerror(-rc));
    }
    return path;
}

bool bench_qsd_start(BenchQsd *q, unsigned blocks)
{
    int rc;

    memset(q, 0, sizeof(*q));
    if (!ts_qsd_path()) {
        return false;
    }
    q->blocks = blocks;
    q->dir = bench_dir();
    q->image = bench_image(q->dir, blocks);
    q->sock = bench_path(q->dir, "qsd.sock");
    rc = ts_qsd_spawn(q->image, q->sock, &q->pid);
    if (rc < 0) {
        bench_die("qemu-storage-daemon", strerror(-rc));
    }
    return true;
}

void bench_qsd_stop(BenchQsd *q)
{
    bench_stop(q->pid, SIGTERM);
    bench_cleanup();
    g_free(q->dir);
    g_free(q->image);
    g_free(q->sock);
    memset(q, 0, sizeof(*q));
}

/* ------------------------------------------------------------------------ */
/* Front-end and guest                                                       */

VhuDev *bench_dev(VhuMode mode, const char *path, unsigned queue_size)
{
    GError *err = NULL;
    VhuDev *dev = ts_dev_new(mode, path, "bench", 0, queue_size, &err);

    if (!dev || !vhu_open(dev, &err)) {
        bench_die_err("front-end", err);
    }
    return dev;
}

TGuest *bench_guest(VhuDev *dev, unsigned qsize, unsigned nslots)
{
    GError *err = NULL;
    TGuest *g = NULL;
    uint64_t f = tg_blk_features(vhu_get_backend_features(dev));
    int rc = tg_create(qsize, nslots, &g);

    if (rc < 0 || (rc = tg_ring_setup(g, f)) < 0) {
        bench_die("guest", strerror(-rc));
    }
    if (!vhu_set_features(dev, f, &err) || !vhu_set_mem_table(dev, g->map, &err)) {
        bench_die_err("set up", err);
    }
    return g;
}

/* ------------------------------------------------------------------------ */
/* Random reads                                                              */

void bench_kick_eventfd(BenchIo *io)
{
    int rc = tg_kick(io->g);

    if (rc < 0) {
        bench_die("kick", vq_strerror(rc));
    }
}

void bench_wait_call_fd(BenchIo *io)
{
    struct pollfd p = { .fd = io->g->call_fd, .events = POLLIN };

    if (poll(&p, 1, 5000) == 0) {
        bench_die("back-end", "no completion within 5 s");
    }
}

unsigned bench_collect(BenchIo *io, unsigned *free_slots, unsigned *nfree)
{
    TGuest *g = io->g;
    unsigned n = 0;
    eventfd_t v;
    VqUsed u;
    int rc;

    if (io->read_call_fd) {
        eventfd_read(g->call_fd, &v);
    }
    while ((rc = vq_drv_get_used(g->drv, &u)) == 0) {
        uint8_t st = 0xff;

        tg_status(g, (unsigned)u.token, &st);
        if (st != 0) {
            bench_die("request", "status not OK");
        }
        free_slots[(*nfree)++] = (unsigned)u.token;
        n++;
    }
    if (rc != -EAGAIN) {
        bench_die("vq_drv_get_used", vq_strerror(rc));
    }
    return n;
}

double bench_random_reads(BenchIo *io, unsigned depth, unsigned count, uint64_t *seed)
{
    unsigned free_slots[256], nfree = 0, issued = 0, done = 0;
    int64_t t0 = bench_now_ns();

    if (depth > io->g->nslots || depth > G_N_ELEMENTS(free_slots)) {
        bench_die("random reads", "depth above the guest's slots");
    }
    for (unsigned i = 0; i < depth; i++) {
        free_slots[nfree++] = i;
    }
    while (done < count) {
        bool added = false;
        unsigned n;

        while (nfree && issued < count) {
            unsigned slot = free_slots[--nfree];
            int rc = tg_submit(io->g, slot, T_BLK_T_IN, ts_rand(seed) % io->blocks, slot);

            if (rc < 0) {
                bench_die("submit", vq_strerror(rc));
            }
            issued++;
            added = true;
        }
        if (added) {
            io->kick(io);
        }
        n = bench_collect(io, free_slots, &nfree);
        if (n == 0) {
            io->wait(io);
        }
        done += n;
    }
    return count / ((bench_now_ns() - t0) / 1e9);
}
