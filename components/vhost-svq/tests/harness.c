/* SPDX-License-Identifier: MIT */
/* Test support for vhost-svq (see harness.h). */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "support.h"

#define STALL_MS 20000

uint64_t t_rand(uint64_t *s)
{
    return ts_rand(s);
}

/* ------------------------------------------------------------------------ */
/* Guest                                                                     */

TGuest *tg_new(uint32_t qsize, unsigned nslots)
{
    TGuest *g = NULL;
    int rc = tg_create(qsize, nslots, &g);

    cr_assert_eq(rc, 0, "guest: %s", strerror(-rc));
    return g;
}

void tg_ring_configure(TGuest *g, uint64_t features)
{
    int rc = tg_ring_setup(g, features);

    cr_assert_eq(rc, 0, "vq_drv_configure: %s", vq_strerror(rc));
}

VhuVringConfig tg_vring_config(TGuest *g, uint32_t base)
{
    VhuVringConfig c;
    GError *err = NULL;

    cr_assert(vhu_vring_config_from_guest(g->map, &g->cfg, base, &c, &err), "%s",
              err ? err->message : "");
    return c;
}

/* ------------------------------------------------------------------------ */
/* Processes and files                                                       */

/* What the running test started and has not reaped or removed yet. */
#define MAX_CHILDREN 16
#define MAX_DIRS 8
static pid_t children[MAX_CHILDREN];
static char *dirs[MAX_DIRS];

static void child_forget(pid_t pid)
{
    for (unsigned i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] == pid) {
            children[i] = 0;
        }
    }
}

void t_cleanup(void)
{
    for (unsigned i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            ts_reap(children[i], -1, NULL);
            children[i] = 0;
        }
    }
    for (unsigned i = 0; i < MAX_DIRS; i++) {
        if (dirs[i]) {
            ts_rmtree(dirs[i]);
            g_free(dirs[i]);
            dirs[i] = NULL;
        }
    }
}

const char *t_backend_path(void)
{
    const char *p = getenv("VHU_TEST_BACKEND");

    cr_assert(p && *p, "VHU_TEST_BACKEND is not set (run through meson test)");
    return p;
}

const char *t_qsd_path(void)
{
    return ts_qsd_path();
}

static void child_register(pid_t pid)
{
    for (unsigned i = 0; i < MAX_CHILDREN; i++) {
        if (children[i] <= 0) {
            children[i] = pid;
            return;
        }
    }
    kill(pid, SIGKILL);
    ts_reap(pid, -1, NULL);
    cr_assert_fail("more than %d processes at once", MAX_CHILDREN);
}

pid_t t_spawn(char *const argv[])
{
    pid_t pid = -1;
    int rc = ts_spawn(argv, &pid);

    cr_assert_eq(rc, 0, "spawn %s: %s", argv[0], strerror(-rc));
    child_register(pid);
    return pid;
}

pid_t t_spawn_backendv(const char *socket, const char *image, bool client,
                       const char *const *extra)
{
    char *argv[48];
    unsigned n = 0;

    argv[n++] = (char *)t_backend_path();
    argv[n++] = "--socket";
    argv[n++] = (char *)socket;
    argv[n++] = "--file";
    argv[n++] = (char *)image;
    argv[n++] = client ? "--client" : "--server";
    for (unsigned i = 0; extra && extra[i]; i++) {
        cr_assert(n < G_N_ELEMENTS(argv) - 1, "too many back-end arguments");
        argv[n++] = (char *)extra[i];
    }
    argv[n] = NULL;
    return t_spawn(argv);
}

pid_t t_spawn_backend(const char *socket, const char *image, int client, ...)
{
    const char *extra[40];
    unsigned n = 0;
    va_list ap;
    const char *a;

    va_start(ap, client);
    while ((a = va_arg(ap, const char *)) && n < G_N_ELEMENTS(extra) - 1) {
        extra[n++] = a;
    }
    va_end(ap);
    extra[n] = NULL;
    return t_spawn_backendv(socket, image, client, extra);
}

int t_reap(pid_t pid, int timeout_ms)
{
    int status = -1, rc = ts_reap(pid, timeout_ms, &status);

    if (rc != -ECHILD) {
        child_forget(pid);
    }
    return rc < 0 ? -1 : status;
}

void t_kill(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGKILL);
        t_reap(pid, 5000);
    }
}

void t_freeze(pid_t pid)
{
    int rc = ts_freeze(pid);

    cr_assert_eq(rc, 0, "stopping process %d: %s", (int)pid, strerror(-rc));
}

char *t_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *d = ts_mkdtemp(base && *base ? base : "/tmp", "vhu-test");

    cr_assert_not_null(d, "mkdtemp: %s", strerror(errno));
    for (unsigned i = 0; i < MAX_DIRS; i++) {
        if (!dirs[i]) {
            dirs[i] = d;
            return d;
        }
    }
    ts_rmtree(d);
    g_free(d);
    cr_assert_fail("more than %d temporary directories at once", MAX_DIRS);
    return NULL;
}

void t_rmtree(char *dir)
{
    if (!dir) {
        return;
    }
    for (unsigned i = 0; i < MAX_DIRS; i++) {
        if (dirs[i] == dir) {
            dirs[i] = NULL;
        }
    }
    ts_rmtree(dir);
    g_free(dir);
}

char *t_make_image(const char *dir, uint64_t size)
{
    char *path = g_strdup_printf("%s/disk.raw", dir);
    int rc = ts_make_image(path, size, 0);

    cr_assert_eq(rc, 0, "image %s: %s", path, strerror(-rc));
    return path;
}

void t_qsd_start(TQsd *q, uint64_t image_bytes)
{
    int rc;

    q->dir = t_tmpdir();
    q->sock = g_strdup_printf("%s/qsd.sock", q->dir);
    q->image = t_make_image(q->dir, image_bytes);
    rc = ts_qsd_spawn(q->image, q->sock, &q->pid);
    cr_assert_eq(rc, 0, "qemu-storage-daemon: %s", strerror(-rc));
    child_register(q->pid);
}

VhuDev *t_qsd_connect(TQsd *q, TEvents *ev)
{
    VhuDev *dev = t_dev_new(VHU_MODE_CLIENT, q->sock, 5000);
    GError *err = NULL;

    t_dev_listen(dev, ev);
    /* The daemon creates its socket when it is ready: the client retries. */
    cr_assert(vhu_open(dev, &err), "open: %s", err ? err->message : "");
    cr_assert(vhu_wait_link_up(dev, 10000, &err), "%s", err ? err->message : "");
    return dev;
}

void t_qsd_stop(TQsd *q)
{
    if (q->pid > 0) {
        kill(q->pid, SIGTERM);
        if (t_reap(q->pid, 10000) < 0) {
            cr_log_warn("qemu-storage-daemon did not stop on SIGTERM");
        }
        q->pid = -1;
    }
    g_free(q->sock);
    g_free(q->image);
    t_rmtree(q->dir);
    q->sock = q->image = q->dir = NULL;
}

int t_qsd_main(int argc, char *argv[])
{
    struct criterion_test_set *tests;
    int result = 0;

    if (!t_qsd_path()) {
        fprintf(stderr, "qemu-storage-daemon not found: SKIP\n");
        return 77;
    }
    tests = criterion_initialize();
    if (criterion_handle_args(argc, argv, true)) {
        result = !criterion_run_all_tests(tests);
    }
    criterion_finalize(tests);
    return result;
}

int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1;
}

size_t t_heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

/* ------------------------------------------------------------------------ */
/* Front-end                                                                 */

VhuDev *t_dev_new(VhuMode mode, const char *path, unsigned reply_timeout_ms)
{
    GError *err = NULL;
    VhuDev *dev = ts_dev_new(mode, path, "vub0", reply_timeout_ms, 0, &err);

    cr_assert_not_null(dev, "vhu_new: %s", err ? err->message : "");
    return dev;
}

static void ev_up(VhuDev *dev, void *opaque)
{
    TEvents *ev = opaque;

    (void)dev;
    ev->ups++;
}

static void ev_down(VhuDev *dev, const GError *reason, void *opaque)
{
    TEvents *ev = opaque;

    (void)dev;
    ev->downs++;
    ev->last_down_code = reason ? reason->code : -1;
    snprintf(ev->last_down_msg, sizeof(ev->last_down_msg), "%s", reason ? reason->message : "");
}

static void ev_failed(VhuDev *dev, const GError *reason, void *opaque)
{
    TEvents *ev = opaque;

    (void)dev;
    ev->fails++;
    ev->last_fail_code = reason ? reason->code : -1;
    snprintf(ev->last_fail_msg, sizeof(ev->last_fail_msg), "%s", reason ? reason->message : "");
}

void t_dev_listen(VhuDev *dev, TEvents *ev)
{
    static const VhuListener l = {
        .link_up = ev_up,
        .link_down = ev_down,
        .connect_failed = ev_failed,
    };

    memset(ev, 0, sizeof(*ev));
    cr_assert(vhu_add_listener(dev, &l, ev) > 0);
}

/* One pass over the front-end's fd and timer, waiting at most @max_ms. */
static void dev_pass(VhuDev *dev, struct pollfd *extra, int nextra, int max_ms)
{
    struct pollfd pfd[16];
    int64_t t = vhu_get_timeout(dev);
    int n = 0, fd = vhu_get_fd(dev, NULL), ms = max_ms, rc;

    if (fd >= 0) {
        pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
    }
    for (int i = 0; i < nextra && n < 16; i++) {
        pfd[n++] = extra[i];
    }
    if (t >= 0 && t < ms) {
        ms = (int)t;
    }
    do {
        rc = poll(pfd, (nfds_t)n, ms);
    } while (rc < 0 && errno == EINTR);
    for (int i = 0; i < nextra; i++) {
        extra[i].revents = pfd[i + (fd >= 0)].revents;
    }
    if (fd >= 0 && pfd[0].revents) {
        vhu_dispatch(dev, fd,
                     (pfd[0].revents & POLLIN ? VHU_EVENT_IN : 0) |
                         (pfd[0].revents & (POLLHUP | POLLERR) ? VHU_EVENT_HUP : 0));
    }
    if (vhu_get_timeout(dev) == 0) {
        vhu_dispatch_timer(dev);
    }
}

void t_dev_poll_until(VhuDev *dev, bool (*cond)(void *), void *arg, int timeout_ms,
                      const char *what)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)timeout_ms * 1000;

    while (!cond(arg)) {
        int64_t left = (deadline - g_get_monotonic_time()) / 1000;

        cr_assert(left > 0, "timed out waiting for %s", what);
        dev_pass(dev, NULL, 0, (int)MIN(left, 100));
    }
}

bool t_dev_is_up(void *dev)
{
    return vhu_is_up(dev);
}

bool t_dev_is_down(void *dev)
{
    return !vhu_is_up(dev);
}

void t_fx_init(TFixture *f, VhuMode mode, unsigned reply_timeout_ms, uint32_t qsize,
               unsigned nslots, uint64_t image_bytes)
{
    memset(f, 0, sizeof(*f));
    f->dir = t_tmpdir();
    f->sock = g_strdup_printf("%s/vhu.sock", f->dir);
    f->image = t_make_image(f->dir, image_bytes);
    f->dev = t_dev_new(mode, f->sock, reply_timeout_ms);
    t_dev_listen(f->dev, &f->ev);
    f->g = tg_new(qsize, nslots);
    f->pid = -1;
}

void t_fx_backend_up(TFixture *f, const char *const *extra)
{
    GError *err = NULL;

    cr_assert(vhu_open(f->dev, &err), "open: %s", err ? err->message : "");
    f->pid = t_spawn_backendv(f->sock, f->image, true, extra);
    t_dev_poll_until(f->dev, t_dev_is_up, f->dev, 10000, "link up");
}

void t_fx_fini(TFixture *f)
{
    vhu_free(f->dev);
    t_kill(f->pid);
    tg_free(f->g);
    g_free(f->sock);
    g_free(f->image);
    t_rmtree(f->dir);
    memset(f, 0, sizeof(*f));
    f->pid = -1;
}

static void direct_start(TPath *p, VhuDev *dev, TGuest *g)
{
    VhuVringConfig c = tg_vring_config(g, 0);
    GError *err = NULL;

    (void)p;
    cr_assert(vhu_vring_set_kick(dev, 0, g->kick_fd, &err), "%s", err ? err->message : "");
    cr_assert(vhu_vring_set_call(dev, 0, g->call_fd, &err), "%s", err ? err->message : "");
    cr_assert(vhu_vring_start(dev, 0, &c, &err), "vring start: %s", err ? err->message : "");
}

static void direct_stop(TPath *p, VhuDev *dev, TGuest *g)
{
    (void)p;
    (void)g;
    if (vhu_vring_is_started(dev, 0)) {
        vhu_vring_stop(dev, 0, NULL, NULL);
    }
}

TPath t_path_direct = {
    .name = "direct",
    .start = direct_start,
    .stop = direct_stop,
};

void t_blk_setup(VhuDev *dev, TGuest *g, TPath *path, uint64_t drop)
{
    uint64_t f = t_blk_features(vhu_get_backend_features(dev)) & ~drop;
    GError *err = NULL;

    cr_assert(vhu_set_features(dev, f, &err), "set features: %s", err ? err->message : "");
    tg_ring_configure(g, f);
    cr_assert(vhu_set_mem_table(dev, g->map, &err), "mem table: %s", err ? err->message : "");
    path->start(path, dev, g);
}

/* ------------------------------------------------------------------------ */
/* Block workload                                                            */

typedef struct TSlot {
    bool busy;
    bool write;
    unsigned block;
    uint64_t token;
} TSlot;

struct TBlk {
    TGuest *g;
    VhuDev *dev;
    TPath *path;
    char *image;
    unsigned nblocks;
    uint64_t rng;
    uint8_t *expected;
    bool *written;
    TSlot *slots;
    uint64_t seq;
    uint64_t completed;
    int64_t last_progress_us;
    TBlkHooks hooks;
};

TBlk *tblk_new(TGuest *g, VhuDev *dev, TPath *path, const char *image, unsigned nblocks,
               uint64_t seed)
{
    TBlk *b = calloc(1, sizeof(*b));

    cr_assert_not_null(b);
    b->g = g;
    b->dev = dev;
    b->path = path;
    b->image = strdup(image);
    b->nblocks = nblocks;
    b->rng = seed;
    b->expected = calloc(nblocks, T_BLOCK);
    b->written = calloc(nblocks, sizeof(bool));
    b->slots = calloc(g->nslots, sizeof(TSlot));
    cr_assert(b->expected && b->written && b->slots && b->image);
    return b;
}

void tblk_free(TBlk *b)
{
    if (b) {
        free(b->image);
        free(b->expected);
        free(b->written);
        free(b->slots);
        free(b);
    }
}

void tblk_set_hooks(TBlk *b, const TBlkHooks *hooks)
{
    b->hooks = *hooks;
}

uint64_t tblk_completed(const TBlk *b)
{
    return b->completed;
}

static void submit(TBlk *b, unsigned slot, unsigned block, bool write)
{
    TSlot *s = &b->slots[slot];
    uint64_t data = tg_slot_data(b->g, slot);
    int rc;

    if (write) {
        uint8_t *exp = b->expected + (uint64_t)block * T_BLOCK;

        for (unsigned i = 0; i < T_BLOCK; i += 8) {
            uint64_t v = t_rand(&b->rng);

            memcpy(exp + i, &v, 8);
        }
        cr_assert_eq(vmem_write(b->g->map, data, exp, T_BLOCK), 0);
    } else {
        cr_assert_eq(vmem_fill(b->g->map, data, 0x5a, T_BLOCK), 0);
    }
    s->busy = true;
    s->write = write;
    s->block = block;
    s->token = (++b->seq << 16) | slot;
    rc = tg_submit(b->g, slot, write ? T_BLK_T_OUT : T_BLK_T_IN, block, s->token);
    cr_assert_eq(rc, 0, "submit: %s", vq_strerror(rc));
}

static void kick(TBlk *b)
{
    int rc = tg_kick(b->g);

    cr_assert_eq(rc, 0, "kick: %s", vq_strerror(rc));
}

static unsigned collect(TBlk *b)
{
    unsigned n = 0;
    eventfd_t v;
    VqUsed u;
    int rc;

    eventfd_read(b->g->call_fd, &v);
    while ((rc = vq_drv_get_used(b->g->drv, &u)) == 0) {
        unsigned slot = (unsigned)(u.token & 0xffff);
        TSlot *s;
        uint8_t status = 0xee;

        cr_assert(slot < b->g->nslots, "token %#llx: bad slot", (unsigned long long)u.token);
        s = &b->slots[slot];
        cr_assert(s->busy && s->token == u.token,
                  "completion of token %#llx that is not in flight (duplicate)",
                  (unsigned long long)u.token);
        cr_assert_eq(tg_status(b->g, slot, &status), 0);
        cr_assert_eq(status, 0, "block %u %s: status %u", s->block, s->write ? "write" : "read",
                     status);
        if (s->write) {
            b->written[s->block] = true;
        } else {
            uint8_t data[T_BLOCK];

            cr_assert_eq(u.len, T_BLOCK + 1, "read of block %u: used length %u", s->block,
                         u.len);
            cr_assert_eq(vmem_read(b->g->map, tg_slot_data(b->g, slot), data, T_BLOCK), 0);
            cr_assert(memcmp(data, b->expected + (uint64_t)s->block * T_BLOCK, T_BLOCK) == 0,
                      "block %u read back differs from what was written", s->block);
        }
        s->busy = false;
        b->completed++;
        n++;
    }
    cr_assert_eq(rc, -EAGAIN, "vq_drv_get_used: %s (lost or duplicated completion?)",
                 vq_strerror(rc));
    if (n) {
        b->last_progress_us = g_get_monotonic_time();
    }
    return n;
}

/* Runs requests from @order[0 .. count) (blocks; @write or read) with at
 * most @depth in flight, until all completed. */
static void run(TBlk *b, const unsigned *order, uint64_t count, bool write, unsigned depth)
{
    uint64_t next = 0, inflight = 0;

    if (depth > b->g->nslots) {
        depth = b->g->nslots;
    }
    b->last_progress_us = g_get_monotonic_time();
    while (next < count || inflight) {
        struct pollfd extra[8];
        int nextra = 0;
        bool added = false;

        for (unsigned slot = 0; slot < depth && next < count; slot++) {
            if (!b->slots[slot].busy) {
                submit(b, slot, order[next++], write);
                inflight++;
                added = true;
            }
        }
        if (added) {
            kick(b);
        }
        if (b->path->progress && inflight) {
            /* Requests are outstanding for certain here: none is reaped
             * before the next collect(). */
            b->path->progress(b->path, b->completed, (unsigned)inflight);
        }
        extra[nextra++] = (struct pollfd){ .fd = b->g->call_fd, .events = POLLIN };
        if (b->path->pollfds) {
            nextra += b->path->pollfds(b->path, extra + nextra, 8 - nextra);
        }
        dev_pass(b->dev, extra, nextra, 50);
        if (b->path->dispatch) {
            b->path->dispatch(b->path, extra + 1, nextra - 1);
        }
        inflight -= collect(b);
        if (b->hooks.progress) {
            b->hooks.progress(b, b->hooks.opaque);
        }
        cr_assert(g_get_monotonic_time() - b->last_progress_us < (int64_t)STALL_MS * 1000,
                  "no completion for %d ms (%llu in flight, %llu done)", STALL_MS,
                  (unsigned long long)inflight, (unsigned long long)b->completed);
    }
}

static unsigned *permutation(TBlk *b)
{
    unsigned *p = malloc(sizeof(unsigned) * b->nblocks);

    cr_assert_not_null(p);
    for (unsigned i = 0; i < b->nblocks; i++) {
        p[i] = i;
    }
    for (unsigned i = b->nblocks; i > 1; i--) {
        unsigned j = (unsigned)(t_rand(&b->rng) % i), t = p[i - 1];

        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

void tblk_round(TBlk *b, unsigned depth)
{
    unsigned *order = permutation(b);

    run(b, order, b->nblocks, true, depth);
    free(order);
    order = permutation(b);
    run(b, order, b->nblocks, false, depth);
    free(order);
}

void tblk_reads(TBlk *b, unsigned depth, uint64_t count)
{
    unsigned *order = malloc(sizeof(unsigned) * count);

    cr_assert_not_null(order);
    for (uint64_t i = 0; i < count; i++) {
        order[i] = (unsigned)(t_rand(&b->rng) % b->nblocks);
        cr_assert(b->written[order[i]], "reads of blocks never written");
    }
    run(b, order, count, false, depth);
    free(order);
}

void tblk_check_image(TBlk *b)
{
    int fd = open(b->image, O_RDONLY | O_CLOEXEC);
    uint8_t data[T_BLOCK];

    cr_assert(fd >= 0, "open %s: %s", b->image, strerror(errno));
    for (unsigned i = 0; i < b->nblocks; i++) {
        if (!b->written[i]) {
            continue;
        }
        cr_assert_eq(pread(fd, data, T_BLOCK, (off_t)i * T_BLOCK), (ssize_t)T_BLOCK);
        cr_assert(memcmp(data, b->expected + (uint64_t)i * T_BLOCK, T_BLOCK) == 0,
                  "image block %u differs from what was written", i);
    }
    close(fd);
}
