/* SPDX-License-Identifier: MIT */
/*
 * The driver side in one thread, the device side in another, over the same
 * memory, with eventfds for kicks and calls, as a guest and a back-end run.
 * Every chain must come back exactly once with the right length, and
 * neither side may wait forever: a lost notification shows up as a poll()
 * that times out (generous bound, no sleeping otherwise).
 *
 * VQ_TEST_CHAINS overrides the number of chains per configuration.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tst.h"

#define WAIT_MS 60000 /* a notification lost for a minute is lost */

typedef struct Shared {
    VMemMap *map;
    VqConfig cfg;
    int kick_fd;
    int call_fd;
    atomic_bool stop;
    bool batch_api; /* device: vq_dev_pop_batch() and vq_dev_add_used_batch() */
    uint64_t calls;
    char error[200];
} Shared;

static uint64_t chains_per_run(void)
{
    const char *e = getenv("VQ_TEST_CHAINS");
    return e && *e ? strtoull(e, NULL, 0) : 3000000;
}

/* Waits for an eventfd; returns false on timeout. */
static bool wait_fd(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int rc;
    do {
        rc = poll(&p, 1, WAIT_MS);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
        return false;
    }
    uint64_t v;
    return read(fd, &v, sizeof(v)) == sizeof(v);
}

static void signal_fd(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof(one));
    (void)n;
}

/* The buffers of chain @token: a readable header whose address encodes the
 * token, then 0..2 writable buffers. Addresses are not in the map: neither
 * side dereferences them. */
static unsigned max_bufs = 3; /* at most the queue size */

static unsigned chain_for(uint64_t token, VqBuf *b)
{
    unsigned n = 1 + (unsigned)(token % max_bufs);
    b[0] = rbuf(token << 8, (uint32_t)(token & 0xff) + 1);
    for (unsigned i = 1; i < n; i++) {
        b[i] = wbuf((token << 8) | (0x10 * i), 0x8000);
    }
    return n;
}

static uint32_t used_len_for(uint64_t token, uint32_t in_len)
{
    uint32_t want = (uint32_t)(token & 0xffff);
    return want < in_len ? want : in_len;
}

/* Checks a popped chain against what chain_for() made; returns its token,
 * or UINT64_MAX (error recorded). */
static uint64_t check_chain(Shared *sh, const VqElem *e)
{
    uint64_t token = e->bufs[0].gpa >> 8;
    VqBuf want[3];
    unsigned n = chain_for(token, want);
    if ((unsigned)e->nout + e->nin != n || e->bufs[0].len != want[0].len ||
        (n > 1 && e->bufs[n - 1].gpa != want[n - 1].gpa)) {
        snprintf(sh->error, sizeof(sh->error), "device: chain %llu garbled",
                 (unsigned long long)token);
        return UINT64_MAX;
    }
    return token;
}

/* The batch API: up to 32 chains per call, returned with one call. */
static int device_batches(Shared *sh, VqDevQueue *q)
{
    static VqElem el[32];
    static VqBuf eb[32][8];
    uint32_t lens[32];
    int n;
    for (int i = 0; i < 32; i++) {
        el[i] = (VqElem){ .bufs = eb[i], .bufs_cap = 8 };
    }
    while ((n = vq_dev_pop_batch(q, el, 32)) > 0) {
        for (int i = 0; i < n; i++) {
            uint64_t token = check_chain(sh, &el[i]);
            if (token == UINT64_MAX) {
                return -EBADMSG;
            }
            lens[i] = used_len_for(token, el[i].in_len);
        }
        int rc = vq_dev_add_used_batch(q, el, lens, (unsigned)n);
        if (rc < 0) {
            snprintf(sh->error, sizeof(sh->error), "device: add_used_batch %s", vq_strerror(rc));
            return rc;
        }
        vq_dev_publish(q);
        if (vq_dev_should_notify(q) == 1) {
            signal_fd(sh->call_fd);
            sh->calls++;
        }
    }
    return n == 0 ? -EAGAIN : n;
}

static void *device_thread(void *opaque)
{
    Shared *sh = opaque;
    VqDevQueue *q;
    if (vq_dev_new(sh->map, &q) < 0 || vq_dev_configure(q, &sh->cfg) < 0) {
        snprintf(sh->error, sizeof(sh->error), "device setup failed");
        return NULL;
    }
    VqBuf bufs[8];
    VqElem e = { .bufs = bufs, .bufs_cap = 8 };
    for (;;) {
        vq_dev_disable_notify(q);
        for (;;) {
            int rc;
            unsigned batch = 0;
            if (sh->batch_api) {
                rc = device_batches(sh, q);
                if (rc == -EBADMSG) {
                    vq_dev_free(q);
                    return NULL;
                }
            }
            while (!sh->batch_api && (rc = vq_dev_pop(q, &e)) == 0) {
                uint64_t token = check_chain(sh, &e);
                if (token == UINT64_MAX) {
                    vq_dev_free(q);
                    return NULL;
                }
                vq_dev_add_used(q, &e, used_len_for(token, e.in_len));
                if (++batch == 32) {
                    vq_dev_publish(q);
                    if (vq_dev_should_notify(q) == 1) {
                        signal_fd(sh->call_fd);
                        sh->calls++;
                    }
                    batch = 0;
                }
            }
            if (rc != -EAGAIN) {
                if (!sh->error[0]) {
                    snprintf(sh->error, sizeof(sh->error), "device: pop %s", vq_strerror(rc));
                }
                vq_dev_free(q);
                return NULL;
            }
            vq_dev_publish(q);
            if (vq_dev_should_notify(q) == 1) {
                signal_fd(sh->call_fd);
                sh->calls++;
            }
            if (vq_dev_enable_notify(q) == 1) {
                vq_dev_disable_notify(q);
                continue; /* a chain arrived while enabling: no kick for it */
            }
            break;
        }
        if (atomic_load(&sh->stop)) {
            break;
        }
        if (!wait_fd(sh->kick_fd)) {
            snprintf(sh->error, sizeof(sh->error), "device: no kick for %d ms (lost)", WAIT_MS);
            break;
        }
    }
    vq_dev_free(q);
    return NULL;
}

static void run_with(bool packed, uint64_t features, uint32_t size, uint64_t total,
                     bool batch_api)
{
    static Shared sh;
    memset(&sh, 0, sizeof(sh));
    sh.batch_api = batch_api;
    max_bufs = size < 3 ? size : 3;
    cr_assert_eq(vmem_map_new(&sh.map), 0);
    cr_assert_eq(vmem_map_add_memfd(sh.map, RAM_BASE, RAM_SIZE, "ram", 0), 0);
    ring_layout(packed, size, LOOP_RING_GPA, features, &sh.cfg);
    sh.kick_fd = eventfd(0, EFD_CLOEXEC);
    sh.call_fd = eventfd(0, EFD_CLOEXEC);
    cr_assert(sh.kick_fd >= 0 && sh.call_fd >= 0);

    VqDrvQueue *dq;
    cr_assert_eq(vq_drv_new(sh.map, &dq), 0);
    cr_assert_eq(vq_drv_configure(dq, &sh.cfg), 0);
    cr_assert_eq(vq_drv_set_indirect_area(dq, LOOP_IND_GPA, size < 4 ? size : 4), 0);

    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, device_thread, &sh), 0);

    uint8_t *seen = calloc(total / 8 + 1, 1);
    cr_assert_not_null(seen);
    uint64_t next = 0, done = 0, kicks = 0, sleeps = 0;
    bool failed = false;
    while (done < total && !failed && !sh.error[0]) {
        vq_drv_disable_cb(dq);
        while (next < total) {
            VqBuf b[3];
            unsigned n = chain_for(next, b);
            int rc = vq_drv_add(dq, b, n, next, next % 5 == 0 ? VQ_ADD_INDIRECT : 0);
            if (rc == -ENOSPC) {
                break;
            }
            cr_assert_eq(rc, 0, "add: %s", vq_strerror(rc));
            next++;
        }
        if (vq_drv_should_kick(dq) == 1) {
            signal_fd(sh.kick_fd);
            kicks++;
        }
        VqUsed u;
        int rc;
        unsigned got = 0;
        while ((rc = vq_drv_get_used(dq, &u)) == 0) {
            cr_assert_lt(u.token, total);
            cr_assert_eq(seen[u.token / 8] & (1u << (u.token % 8)), 0, "token %llu twice",
                         (unsigned long long)u.token);
            seen[u.token / 8] |= (uint8_t)(1u << (u.token % 8));
            VqBuf b[3];
            unsigned n = chain_for(u.token, b);
            uint32_t in_len = 0;
            for (unsigned i = 1; i < n; i++) {
                in_len += b[i].len;
            }
            cr_assert_eq(u.len, used_len_for(u.token, in_len), "token %llu",
                         (unsigned long long)u.token);
            done++;
            got++;
        }
        cr_assert_eq(rc, -EAGAIN, "get_used: %s", vq_strerror(rc));
        bool can_add = next < total && vq_drv_num_free(dq) > 0;
        if (got == 0 && !can_add && done < total) {
            int en = vq_drv_enable_cb(dq);
            cr_assert_geq(en, 0);
            if (en == 0) {
                sleeps++;
                if (!wait_fd(sh.call_fd)) {
                    failed = true;
                }
            }
        }
    }
    atomic_store(&sh.stop, true);
    signal_fd(sh.kick_fd);
    pthread_join(th, NULL);
    cr_assert_str_empty(sh.error, "%s", sh.error);
    cr_assert_not(failed, "driver: no call for %d ms after %llu of %llu chains (lost)", WAIT_MS,
                  (unsigned long long)done, (unsigned long long)total);
    for (uint64_t t = 0; t < total; t++) {
        cr_assert(seen[t / 8] & (1u << (t % 8)), "token %llu never returned",
                  (unsigned long long)t);
    }
    cr_assert_eq(vq_drv_num_inflight(dq), 0);
    cr_assert_eq(vq_drv_num_free(dq), size);
    cr_log_info("%s%s: %llu chains, %llu kicks, %llu calls, %llu driver sleeps",
                packed ? "packed" : "split", (features & VQ_FEATURE(VQ_F_EVENT_IDX)) ? "+event_idx" : "",
                (unsigned long long)total, (unsigned long long)kicks,
                (unsigned long long)sh.calls, (unsigned long long)sleeps);
    free(seen);
    vq_drv_free(dq);
    close(sh.kick_fd);
    close(sh.call_fd);
    vmem_map_free(sh.map);
}

static void run(bool packed, uint64_t features, uint32_t size, uint64_t total)
{
    run_with(packed, features, size, total, false);
}

Test(threads, split, .timeout = 600) { run(false, FEAT_ALL, 256, chains_per_run()); }
Test(threads, split_event_idx, .timeout = 600) { run(false, FEAT_EVT, 256, chains_per_run()); }
Test(threads, packed, .timeout = 600) { run(true, FEAT_ALL, 256, chains_per_run()); }
Test(threads, packed_event_idx, .timeout = 600) { run(true, FEAT_EVT, 250, chains_per_run()); }
/* Tiny rings: the two sides meet (and notify each other) all the time. */
Test(threads, small_rings, .timeout = 600)
{
    uint64_t n = chains_per_run() / 30;
    run(false, FEAT_EVT, 4, n);
    run(true, FEAT_EVT, 3, n);
    run(false, FEAT_ALL, 2, n);
    run(true, FEAT_ALL, 1, n);
}

/* The device side through the batch API (its fast loops). */
Test(threads, split_batch_api, .timeout = 600)
{
    run_with(false, FEAT_EVT, 256, chains_per_run(), true);
}
Test(threads, packed_batch_api, .timeout = 600)
{
    run_with(true, FEAT_EVT, 256, chains_per_run(), true);
}
