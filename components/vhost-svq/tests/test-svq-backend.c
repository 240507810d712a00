/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue against the test back-end (tests/backend): the block
 * workload shadowed, toggled every few hundred requests while requests are
 * in flight, through back-end restarts; the dirty bitmap holds exactly the
 * pages the back-end wrote; parking when the shadow ring is full; split and
 * packed rings on either side; the error shapes; fd and memory leaks
 * around enable/disable cycles.
 */
#include "svq-path.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NSLOTS 32
#define QSIZE 128
#define NBLOCKS 512
#define TIMEOUT_MS 10000

/* The reply timeout: long enough for any honest reply on a loaded
 * machine; shorter where the back-end is frozen on purpose. */
#define REPLY_MS 5000
#define FROZEN_REPLY_MS 2000

typedef TFixture Fixture;

/* A server-mode front-end with the test back-end connected as a client
 * (with @extra arguments, NULL-terminated). */
static void fx_init_timeout(Fixture *f, uint32_t qsize, unsigned nslots,
                            const char *const *extra, unsigned reply_ms)
{
    t_fx_init(f, VHU_MODE_SERVER, reply_ms, qsize, nslots, (uint64_t)NBLOCKS * T_BLOCK);
    t_fx_backend_up(f, extra);
}

static void fx_init(Fixture *f, uint32_t qsize, unsigned nslots, const char *const *extra)
{
    fx_init_timeout(f, qsize, nslots, extra, REPLY_MS);
}

/* Whatever way a test ends, its back-ends and directories go with it. */
TestSuite(svq_backend, .fini = t_cleanup);

static void check_stats(SvqPath *p, uint64_t requests)
{
    SvqStats st;

    svq_queue_get_stats(p->svq, 0, &st);
    cr_assert_eq(p->breaks, 0);
    cr_assert_eq(svq_queue_get_error(p->svq, 0), NULL);
    cr_assert(st.completed <= requests && st.forwarded >= st.completed,
              "relayed %llu of %llu requests (%llu forwarded)",
              (unsigned long long)st.completed, (unsigned long long)requests,
              (unsigned long long)st.forwarded);
    cr_log_info("%s: %llu requests, %llu relayed, %llu handed back, %llu parked, %llu switches",
                p->path.name, (unsigned long long)requests, (unsigned long long)st.completed,
                (unsigned long long)st.handed_back, (unsigned long long)st.parked,
                (unsigned long long)st.switches);
}

/* ------------------------------------------------------------------------ */
/* The block workload                                                        */

static void workload(const char *const *extra, bool start_enabled, unsigned toggle_every,
                     unsigned rounds, uint64_t seed)
{
    Fixture f;
    SvqPath p;
    TBlk *b;
    SvqStats st;

    fx_init(&f, QSIZE, NSLOTS, extra);
    svq_path_init(&p, toggle_every ? "toggled" : start_enabled ? "on" : "off", start_enabled,
                  toggle_every);
    t_blk_setup(f.dev, f.g, &p.path, 0);
    b = tblk_new(f.g, f.dev, &p.path, f.image, NBLOCKS, seed);
    for (unsigned r = 0; r < rounds; r++) {
        tblk_round(b, 16);
    }
    tblk_check_image(b);
    check_stats(&p, tblk_completed(b));
    svq_queue_get_stats(p.svq, 0, &st);
    if (start_enabled && !toggle_every) {
        cr_assert_eq(st.completed, tblk_completed(b), "every request goes through the relay");
    }
    if (toggle_every) {
        cr_assert(p.toggles >= tblk_completed(b) / (2 * toggle_every), "%u toggles", p.toggles);
        cr_assert_eq(st.switches, p.toggles);
        cr_assert(st.completed > 0 && st.completed < tblk_completed(b));
    }
    p.path.stop(&p.path, f.dev, f.g);
    tblk_free(b);
    t_fx_fini(&f);
}

Test(svq_backend, on)
{
    workload(NULL, true, 0, 2, 1);
}

Test(svq_backend, toggled_with_inflight)
{
    /* Out-of-order completion in batches of 4, toggled every 150
     * completions with up to 16 requests in flight. */
    static const char *const extra[] = { "--batch", "4", NULL };

    workload(extra, false, 150, 4, 2);
}

Test(svq_backend, toggled_without_inflight)
{
    static const char *const extra[] = { "--no-inflight", NULL };

    workload(extra, true, 97, 4, 3);
}

Test(svq_backend, toggled_without_protocol_features)
{
    /* No SET_VRING_ENABLE, no REPLY_ACK: rings run from their kick. */
    static const char *const extra[] = { "--no-protocol", NULL };

    workload(extra, false, 211, 3, 4);
}

/* ------------------------------------------------------------------------ */
/* Split and packed rings on either side                                     */

static void layouts(bool guest_packed, bool backend_packed, unsigned toggle_every)
{
    Fixture f;
    SvqPath p;
    TBlk *b;
    GError *err = NULL;
    uint64_t fb, fg;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fb = t_blk_features(vhu_get_backend_features(f.dev));
    fg = fb;
    if (backend_packed) {
        fb |= VQ_FEATURE(VQ_F_RING_PACKED);
    }
    if (guest_packed) {
        fg |= VQ_FEATURE(VQ_F_RING_PACKED);
    }
    cr_assert(vhu_set_features(f.dev, fb, &err), "%s", err ? err->message : "");
    tg_ring_configure(f.g, fg);
    cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err), "%s", err ? err->message : "");
    /* Different layouts need the relay from the start. */
    svq_path_init(&p, "layouts", true, toggle_every);
    p.path.start(&p.path, f.dev, f.g);
    b = tblk_new(f.g, f.dev, &p.path, f.image, NBLOCKS, 5);
    tblk_round(b, 16);
    tblk_round(b, 16);
    tblk_check_image(b);
    check_stats(&p, tblk_completed(b));
    if (guest_packed != backend_packed) {
        /* The back-end cannot take this guest ring. */
        cr_assert(!svq_disable(p.svq, &err));
        cr_assert_eq(err->code, SVQ_ERROR_INCOMPATIBLE, "%s", err->message);
        cr_assert(g_str_has_prefix(err->message, "Can't disable shadow vq on vub0: "), "%s",
                  err->message);
        g_clear_error(&err);
        cr_assert(svq_queue_is_shadowed(p.svq, 0));
        tblk_round(b, 8);
        tblk_check_image(b);
    }
    p.path.stop(&p.path, f.dev, f.g);
    tblk_free(b);
    t_fx_fini(&f);
}

Test(svq_backend, split_guest_packed_backend)
{
    layouts(false, true, 0);
}

Test(svq_backend, packed_guest_split_backend)
{
    layouts(true, false, 0);
}

Test(svq_backend, packed_both_toggled)
{
    layouts(true, true, 173);
}

/* ------------------------------------------------------------------------ */
/* A small driver of our own, for the dirty bitmap and parking               */

typedef struct Mini {
    Fixture *f;
    SvqDev *svq;
    unsigned inflight;
    uint64_t done;
} Mini;

static void pump(Mini *m)
{
    struct pollfd pfd[8];
    int fds[8], n = 0, vfd = vhu_get_fd(m->f->dev, NULL);
    unsigned ns = svq_get_fds(m->svq, fds, 6);

    pfd[n++] = (struct pollfd){ .fd = m->f->g->call_fd, .events = POLLIN };
    for (unsigned i = 0; i < ns; i++) {
        pfd[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    }
    if (vfd >= 0) {
        pfd[n++] = (struct pollfd){ .fd = vfd, .events = POLLIN };
    }
    cr_assert(poll(pfd, (nfds_t)n, TIMEOUT_MS) > 0, "nothing happened for %d ms", TIMEOUT_MS);
    for (int i = 1; i < n; i++) {
        if (!pfd[i].revents) {
            continue;
        }
        if (pfd[i].fd == vfd) {
            vhu_dispatch(m->f->dev, vfd,
                         VHU_EVENT_IN | (pfd[i].revents & POLLHUP ? VHU_EVENT_HUP : 0));
        } else {
            svq_dispatch(m->svq, pfd[i].fd);
        }
    }
}

/* Collects completions, checking the status byte at @status_off of the
 * slot (the token is the slot). */
static unsigned mini_collect(Mini *m, uint64_t status_off)
{
    TGuest *g = m->f->g;
    unsigned n = 0;
    eventfd_t v;
    VqUsed u;
    int rc;

    eventfd_read(g->call_fd, &v);
    while ((rc = vq_drv_get_used(g->drv, &u)) == 0) {
        uint8_t st = 0xee;

        cr_assert_eq(vmem_read_u8(g->map, tg_slot_gpa(g, (unsigned)u.token) + status_off, &st),
                     0);
        cr_assert_eq(st, 0, "slot %llu: status %u", (unsigned long long)u.token, st);
        n++;
    }
    cr_assert_eq(rc, -EAGAIN, "guest: %s", vq_strerror(rc));
    m->inflight -= n;
    m->done += n;
    return n;
}

/* Runs the loop until every request in flight is completed and checked. */
static void mini_drain(Mini *m, uint64_t status_off)
{
    while (m->inflight) {
        pump(m);
        mini_collect(m, status_off);
    }
}

/* @n reads of blocks 0..n-1 into slots 0..n-1, and a kick. */
static void submit_reads(Mini *m, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(tg_submit(m->f->g, i, T_BLK_T_IN, i, i), 0);
    }
    m->inflight += n;
    cr_assert_eq(tg_kick(m->f->g), 0);
}

/* submit_reads(), then the loop runs until every one is completed. */
static void run_reads(Mini *m, unsigned n)
{
    submit_reads(m, n);
    mini_drain(m, 16);
}

/* An SvqDev on ring 0 of @f, started; @tune (may be NULL) adjusts the
 * options first. */
static SvqDev *mini_svq_with(Fixture *f, bool enabled, void (*tune)(SvqOptions *o))
{
    GError *err = NULL;
    SvqOptions o;
    SvqDev *svq;

    svq_options_init(&o);
    o.vhu = f->dev;
    o.guest_map = f->g->map;
    o.max_queue_size = f->g->qsize;
    o.enabled = enabled;
    if (tune) {
        tune(&o);
    }
    cr_assert(svq_new(&o, &svq, &err), "%s", err ? err->message : "");
    cr_assert(svq_queue_start(svq, 0, &f->g->cfg, NULL, f->g->kick_fd, f->g->call_fd, &err),
              "%s", err ? err->message : "");
    return svq;
}

static SvqDev *mini_svq(Fixture *f, bool enabled)
{
    return mini_svq_with(f, enabled, NULL);
}

/* Slot pairs of 16 KiB: header page, data page, status page, a page
 * nobody writes. The guest fills them through a host pointer, so that
 * only the relay marks pages dirty. */
#define PAIR_BYTES 0x4000u
#define P_DATA 0x1000u
#define P_STATUS 0x2000u

static void dirty_submit(TGuest *g, unsigned i, bool read, uint64_t block)
{
    uint64_t base = tg_slot_gpa(g, 2 * i);
    uint8_t *host = vmem_translate_ptr(g->map, base, PAIR_BYTES);
    VqBuf bufs[3] = {
        { base, 16, 0 },
        { base + P_DATA, T_BLOCK, read ? VQ_BUF_WRITE : 0 },
        { base + P_STATUS, 1, VQ_BUF_WRITE },
    };

    cr_assert_not_null(host);
    vmem_cpu_to_le32(host, read ? T_BLK_T_IN : T_BLK_T_OUT);
    vmem_cpu_to_le32(host + 4, 0);
    vmem_cpu_to_le64(host + 8, block * (T_BLOCK / T_SECTOR));
    host[P_STATUS] = 0xff;
    if (!read) {
        memset(host + P_DATA, (int)(0x40 + i), T_BLOCK);
    }
    cr_assert_eq(vq_drv_add(g->drv, bufs, 3, 2 * i, 0), 0);
}

/* 16 requests (8 reads, 8 writes) and the dirty pages of the slot area. */
static uint64_t dirty_round(Mini *m)
{
    TGuest *g = m->f->g;
    uint64_t bitmap = 0;

    cr_assert_eq(vmem_dirty_get_and_clear(g->map, tg_slot_gpa(g, 0), 64, &bitmap), 0);
    for (unsigned i = 0; i < 16; i++) {
        dirty_submit(g, i, i < 8, i);
    }
    m->inflight += 16;
    cr_assert_eq(tg_kick(g), 0);
    mini_drain(m, P_STATUS);
    cr_assert_eq(vmem_dirty_get_and_clear(g->map, tg_slot_gpa(g, 0), 64, &bitmap), 0);
    return bitmap;
}

/* Features, guest ring and memory table, without starting the ring. */
static void fx_setup(Fixture *f, uint64_t more)
{
    uint64_t feat = t_blk_features(vhu_get_backend_features(f->dev)) | more;
    GError *err = NULL;

    cr_assert(vhu_set_features(f->dev, feat, &err), "%s", err ? err->message : "");
    tg_ring_configure(f->g, feat);
    cr_assert(vhu_set_mem_table(f->dev, f->g->map, &err), "%s", err ? err->message : "");
}

Test(svq_backend, dirty_pages_exact)
{
    Fixture f;
    Mini m = { .f = &f };
    uint64_t want = 0, got;
    GError *err = NULL;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, false);
    cr_assert_eq(vmem_dirty_log_start(f.g->map), 0);

    /* Directly, the back-end's writes are invisible to the VMM. */
    got = dirty_round(&m);
    cr_assert_eq(got, 0, "direct: dirty pages %#llx", (unsigned long long)got);

    /* Shadowed: reads dirty their data and status pages, writes their
     * status page; headers and the spare pages stay clean. */
    cr_assert(svq_enable(m.svq, &err), "%s", err ? err->message : "");
    for (unsigned i = 0; i < 16; i++) {
        unsigned page = 4 * i;

        if (i < 8) {
            want |= UINT64_C(1) << (page + 1);
        }
        want |= UINT64_C(1) << (page + 2);
    }
    got = dirty_round(&m);
    cr_assert_eq(got, want, "shadowed: dirty pages %#llx, expected %#llx",
                 (unsigned long long)got, (unsigned long long)want);
    got = dirty_round(&m);
    cr_assert_eq(got, want, "second round: %#llx", (unsigned long long)got);
    cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
    got = dirty_round(&m);
    cr_assert_eq(got, 0, "direct again: dirty pages %#llx", (unsigned long long)got);
    cr_assert_eq(m.done, 64);
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Parking                                                                   */

#define IND_GPA 0x1ff000u

Test(svq_backend, parking)
{
    Fixture f;
    Mini m = { .f = &f };
    TGuest *g;
    SvqStats st;
    GError *err = NULL;
    unsigned next_slot = 0;
    const uint64_t total = 600;

    /* An 8-entry guest ring of indirect chains of 3 buffers: the guest
     * keeps 8 requests in flight, the 8-entry shadow ring holds 2. */
    fx_init(&f, 8, 16, NULL);
    g = f.g;
    cr_assert(vhu_get_backend_features(f.dev) & VQ_FEATURE(VQ_F_INDIRECT_DESC));
    fx_setup(&f, 0);
    cr_assert_eq(vq_drv_set_indirect_area(g->drv, IND_GPA, 4), 0);
    m.svq = mini_svq(&f, true);
    while (m.done < total) {
        bool added = false;

        while (m.inflight < 8 && m.done + m.inflight < total) {
            uint64_t base = tg_slot_gpa(g, next_slot);
            uint8_t hdr[16];
            VqBuf bufs[3] = {
                { base, 16, 0 },
                { base + T_BLOCK, T_BLOCK, VQ_BUF_WRITE },
                { base + 16, 1, VQ_BUF_WRITE },
            };

            vmem_cpu_to_le32(hdr, T_BLK_T_IN);
            vmem_cpu_to_le32(hdr + 4, 0);
            vmem_cpu_to_le64(hdr + 8, (uint64_t)(next_slot % NBLOCKS) * 8);
            cr_assert_eq(vmem_write(g->map, base, hdr, sizeof(hdr)), 0);
            cr_assert_eq(vmem_write_u8(g->map, base + 16, 0xff), 0);
            cr_assert_eq(vq_drv_add(g->drv, bufs, 3, next_slot, VQ_ADD_INDIRECT), 0);
            next_slot = (next_slot + 1) % 16;
            m.inflight++;
            added = true;
        }
        if (added) {
            cr_assert_eq(tg_kick(g), 0);
        }
        pump(&m);
        mini_collect(&m, 16);
    }
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.completed, total);
    cr_assert(st.parked > 0, "the shadow ring never filled up");
    cr_assert(svq_queue_get_error(m.svq, 0) == NULL);
    cr_log_info("parking: %llu requests, parked %llu times", (unsigned long long)total,
                (unsigned long long)st.parked);
    /* Handing the ring back with the guest ring full works too. */
    cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

Test(svq_backend, error_shapes)
{
    Fixture f;
    GError *err = NULL;
    SvqRegistry *reg = svq_registry_new();
    SvqOptions o;
    SvqDev *svq, *other;
    VhuDev *lonely;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);

    /* Bad options. */
    svq_options_init(&o);
    cr_assert(!svq_new(&o, &svq, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    o.vhu = f.dev;
    o.guest_map = f.g->map;
    o.shadow_gpa = 0x1000; /* inside guest RAM */
    cr_assert(!svq_new(&o, &svq, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID, "%s", err->message);
    g_clear_error(&err);
    o.shadow_gpa = SVQ_DEFAULT_SHADOW_GPA + 1;
    cr_assert(!svq_new(&o, &svq, &err));
    g_clear_error(&err);
    o.shadow_gpa = SVQ_DEFAULT_SHADOW_GPA;
    o.max_queue_size = 0;
    cr_assert(!svq_new(&o, &svq, &err));
    g_clear_error(&err);
    o.max_queue_size = QSIZE;
    cr_assert(svq_new(&o, &svq, &err), "%s", err ? err->message : "");

    /* The registry, by name. */
    cr_assert(svq_registry_add(reg, svq, &err));
    cr_assert(!svq_registry_add(reg, svq, &err));
    g_clear_error(&err);
    cr_assert_eq(svq_registry_lookup(reg, "vub0"), svq);
    cr_assert_null(svq_registry_lookup(reg, "nosuch"));
    cr_assert(!svq_registry_set_enabled(reg, "nosuch", true, &err));
    cr_assert_eq(err->code, SVQ_ERROR_NOT_FOUND);
    cr_assert_str_eq(err->message, "Can't enable shadow vq on nosuch: device not found");
    g_clear_error(&err);
    cr_assert(!svq_registry_set_enabled(reg, "nosuch", false, &err));
    cr_assert_str_eq(err->message, "Can't disable shadow vq on nosuch: device not found");
    g_clear_error(&err);

    /* No queue started yet. */
    cr_assert(!svq_registry_set_enabled(reg, "vub0", true, &err));
    cr_assert_eq(err->code, SVQ_ERROR_NOT_STARTED);
    cr_assert_str_eq(err->message, "Can't enable shadow vq on vub0: device not started");
    g_clear_error(&err);
    cr_assert(!svq_is_enabled(svq));

    /* Bad queue starts. */
    cr_assert(!svq_queue_start(svq, 1, &f.g->cfg, NULL, f.g->kick_fd, f.g->call_fd, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert(!svq_queue_start(svq, 0, &f.g->cfg, NULL, -1, f.g->call_fd, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    {
        VqConfig big = f.g->cfg;

        big.size = 2 * QSIZE;
        cr_assert(!svq_queue_start(svq, 0, &big, NULL, f.g->kick_fd, f.g->call_fd, &err));
        cr_assert_eq(err->code, VHU_ERROR_INVALID);
        g_clear_error(&err);
    }
    cr_assert(!svq_queue_stop(svq, 0, NULL, &err));
    cr_assert_eq(err->code, SVQ_ERROR_NOT_STARTED);
    g_clear_error(&err);

    /* Started: the switch works through the registry, and twice is fine. */
    cr_assert(svq_queue_start(svq, 0, &f.g->cfg, NULL, f.g->kick_fd, f.g->call_fd, &err), "%s",
              err ? err->message : "");
    cr_assert(!svq_queue_start(svq, 0, &f.g->cfg, NULL, f.g->kick_fd, f.g->call_fd, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert(svq_registry_set_enabled(reg, "vub0", true, &err), "%s", err ? err->message : "");
    cr_assert(svq_registry_set_enabled(reg, "vub0", true, &err));
    cr_assert(svq_queue_is_shadowed(svq, 0));

    /* The back-end goes away: switching needs it. */
    kill(f.pid, SIGKILL);
    t_reap(f.pid, TIMEOUT_MS);
    f.pid = -1;
    t_dev_poll_until(f.dev, t_dev_is_down, f.dev, TIMEOUT_MS, "link down");
    cr_assert(!svq_disable(svq, &err));
    cr_assert_eq(err->code, VHU_ERROR_DISCONNECTED);
    cr_assert_str_eq(err->message, "Can't disable shadow vq on vub0: back-end not connected");
    g_clear_error(&err);
    cr_assert(svq_queue_is_shadowed(svq, 0));

    /* A front-end that never connected: no features, so nothing starts. */
    lonely = t_dev_new(VHU_MODE_SERVER, f.sock, 1000);
    svq_options_init(&o);
    o.vhu = lonely;
    o.guest_map = f.g->map;
    cr_assert(svq_new(&o, &other, &err), "%s", err ? err->message : "");
    cr_assert(!svq_queue_start(other, 0, &f.g->cfg, NULL, f.g->kick_fd, f.g->call_fd, &err));
    g_clear_error(&err);

    /* Registry rules: one set per name, NULLs refused, remove and add again. */
    cr_assert(!svq_registry_add(reg, other, &err)); /* also "vub0" */
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    cr_assert_str_eq(err->message, "vub0: another device has this name");
    g_clear_error(&err);
    cr_assert(!svq_registry_add(NULL, other, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert(!svq_registry_add(reg, NULL, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    svq_registry_remove(reg, other); /* not in it: ignored */
    cr_assert_eq(svq_registry_lookup(reg, "vub0"), svq);
    svq_registry_remove(reg, svq);
    cr_assert_null(svq_registry_lookup(reg, "vub0"));
    cr_assert(svq_registry_add(reg, other, &err), "%s", err ? err->message : "");
    cr_assert_eq(svq_registry_lookup(reg, "vub0"), other);
    cr_assert(svq_registry_add(reg, svq, &err) == false);
    g_clear_error(&err);

    /* A registry freed with a set in it: the set forgets it and can join another. */
    svq_registry_free(reg);
    reg = svq_registry_new();
    cr_assert(svq_registry_add(reg, other, &err), "%s", err ? err->message : "");
    cr_assert(svq_registry_add(reg, svq, &err) == false);
    g_clear_error(&err);

    /* Freed while in the registry: it leaves it. */
    svq_free(other);
    cr_assert_null(svq_registry_lookup(reg, "vub0"));
    cr_assert(svq_registry_add(reg, svq, &err), "%s", err ? err->message : "");
    svq_free(svq);
    cr_assert_null(svq_registry_lookup(reg, "vub0"));
    svq_registry_free(reg);
    vhu_free(lonely);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Leaks                                                                     */

Test(svq_backend, no_leaks_across_cycles)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    int fds0 = -1;
    size_t heap0 = 0;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    for (unsigned cycle = 0; cycle < 40; cycle++) {
        VqState st;

        m.svq = mini_svq(&f, cycle % 2);
        for (unsigned t = 0; t < 6; t++) {
            /* Requests in flight across each switch. */
            submit_reads(&m, 4);
            if (svq_is_enabled(m.svq)) {
                cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
            } else {
                cr_assert(svq_enable(m.svq, &err), "%s", err ? err->message : "");
            }
            mini_drain(&m, 16);
        }
        cr_assert(svq_queue_stop(m.svq, 0, &st, &err), "%s", err ? err->message : "");
        cr_assert_eq(st.next_avail, (uint16_t)(m.done), "state after stop: %u, %llu done",
                     st.next_avail, (unsigned long long)m.done);
        svq_free(m.svq);
        /* The next cycle restarts the guest ring from scratch. */
        tg_ring_configure(f.g, f.g->cfg.features);
        m.done = 0;
        if (cycle == 1) {
            fds0 = t_count_fds();
            heap0 = t_heap_in_use();
        } else if (cycle > 1) {
            cr_assert_eq(t_count_fds(), fds0, "fd leak after cycle %u", cycle);
            cr_assert(t_heap_in_use() <= heap0 + 32 * 1024, "heap grew from %zu to %zu",
                      heap0, t_heap_in_use());
        }
    }
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Back-end restarts while shadowed                                          */

typedef struct Restarts {
    Fixture *f;
    unsigned seen;
    unsigned kills;
    uint64_t next_kill;
    uint64_t rng;
} Restarts;

static void restarts_progress(TBlk *b, void *opaque)
{
    Restarts *r = opaque;
    Fixture *f = r->f;

    if (f->ev.downs > r->seen) {
        r->seen = f->ev.downs;
        t_reap(f->pid, TIMEOUT_MS);
        f->pid = t_spawn_backend(f->sock, f->image, true, NULL);
    } else if (tblk_completed(b) >= r->next_kill && vhu_is_up(f->dev)) {
        kill(f->pid, SIGKILL);
        r->kills++;
        r->next_kill = tblk_completed(b) + 50 + t_rand(&r->rng) % 200;
    }
}

Test(svq_backend, restarts_while_shadowed)
{
    Fixture f;
    SvqPath p;
    TBlk *b;
    Restarts r = { .f = &f, .next_kill = 100, .rng = 9 };
    TBlkHooks hooks = { .progress = restarts_progress, .opaque = &r };

    fx_init(&f, QSIZE, NSLOTS, NULL);
    svq_path_init(&p, "restarts", true, 0);
    t_blk_setup(f.dev, f.g, &p.path, 0);
    b = tblk_new(f.g, f.dev, &p.path, f.image, NBLOCKS, 7);
    tblk_set_hooks(b, &hooks);
    while (r.kills < 20) {
        tblk_round(b, 16);
    }
    tblk_round(b, 16);
    tblk_check_image(b);
    check_stats(&p, tblk_completed(b));
    cr_log_info("%u kills, %llu requests", r.kills, (unsigned long long)tblk_completed(b));
    p.path.stop(&p.path, f.dev, f.g);
    tblk_free(b);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Event-loop glue                                                           */

typedef struct Watches {
    int fds[8];
    unsigned n;
    unsigned adds;
    unsigned removes;
} Watches;

static void w_add(int fd, void *opaque)
{
    Watches *w = opaque;

    cr_assert(w->n < 8);
    for (unsigned i = 0; i < w->n; i++) {
        cr_assert_neq(w->fds[i], fd, "fd %d watched twice", fd);
    }
    w->fds[w->n++] = fd;
    w->adds++;
}

static void w_remove(int fd, void *opaque)
{
    Watches *w = opaque;

    for (unsigned i = 0; i < w->n; i++) {
        if (w->fds[i] == fd) {
            w->fds[i] = w->fds[--w->n];
            w->removes++;
            return;
        }
    }
    cr_assert_fail("fd %d removed but not watched", fd);
}

Test(svq_backend, loop_callbacks)
{
    static const SvqLoop loop = { .add_watch = w_add, .remove_watch = w_remove };
    Fixture f;
    Watches a = { 0 }, b = { 0 };
    GError *err = NULL;
    SvqDev *svq;
    int fds[4];

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    svq = mini_svq(&f, false);
    svq_set_loop(svq, &loop, &a);
    cr_assert_eq(a.n, 0);
    cr_assert(svq_enable(svq, &err), "%s", err ? err->message : "");
    cr_assert_eq(a.n, 2, "a shadowed queue watches its guest kick and shadow call fds");
    cr_assert_eq(svq_get_fds(svq, fds, 4), 2);
    cr_assert(a.fds[0] == fds[0] || a.fds[1] == fds[0]);
    /* A new loop gets the current watches, the old one forgets them. */
    svq_set_loop(svq, &loop, &b);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(b.n, 2);
    cr_assert(svq_disable(svq, &err), "%s", err ? err->message : "");
    cr_assert_eq(b.n, 0);
    cr_assert_eq(svq_get_fds(svq, fds, 4), 0);
    cr_assert(svq_enable(svq, &err));
    cr_assert_eq(b.n, 2);
    svq_free(svq);
    cr_assert_eq(b.n, 0, "svq_free leaves %u fds watched", b.n);
    t_fx_fini(&f);
}

typedef struct Ctx {
    Mini *m;
    uint64_t want;
} Ctx;

static gboolean on_guest_call(gint fd, GIOCondition cond, gpointer data)
{
    Ctx *c = data;

    (void)fd;
    (void)cond;
    mini_collect(c->m, 16);
    return G_SOURCE_CONTINUE;
}

Test(svq_backend, gsource)
{
    Fixture f;
    Mini m = { .f = &f };
    Ctx c = { .m = &m };
    GMainContext *ctx = g_main_context_new();
    GSource *src, *vsrc, *call;
    GError *err = NULL;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, true);
    src = svq_source_new(m.svq);
    vsrc = vhu_source_new(f.dev);
    g_source_attach(src, ctx);
    g_source_attach(vsrc, ctx);
    call = g_unix_fd_source_new(f.g->call_fd, G_IO_IN);
    g_source_set_callback(call, G_SOURCE_FUNC(on_guest_call), &c, NULL);
    g_source_attach(call, ctx);
    for (unsigned round = 0; round < 20; round++) {
        int64_t deadline = g_get_monotonic_time() + TIMEOUT_MS * 1000;

        submit_reads(&m, 8);
        while (m.inflight) {
            cr_assert(g_get_monotonic_time() < deadline, "GSource: no progress");
            g_main_context_iteration(ctx, TRUE);
        }
        if (round % 5 == 4) {
            /* Switching changes the watched fds under the source. */
            bool ok = svq_is_enabled(m.svq) ? svq_disable(m.svq, &err)
                                            : svq_enable(m.svq, &err);

            cr_assert(ok, "%s", err ? err->message : "");
        }
    }
    cr_assert_eq(m.done, 160);
    g_source_destroy(call);
    g_source_unref(call);
    svq_free(m.svq);         /* destroys its source */
    g_source_unref(src);
    g_source_unref(vsrc);
    t_fx_fini(&f);             /* vhu_free destroys its source */
    g_main_context_unref(ctx);
}

/* ------------------------------------------------------------------------ */
/* A hostile back-end through the whole path                                 */

/* The shadow region as mapped in this process (a memfd named svq-shadow). */
static uint8_t *find_shadow_region(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    uint8_t *found = NULL;

    cr_assert_not_null(maps);
    while (fgets(line, sizeof(line), maps)) {
        unsigned long start;

        if (strstr(line, "memfd:svq-shadow") && sscanf(line, "%lx-", &start) == 1) {
            found = (uint8_t *)start;
            break;
        }
    }
    fclose(maps);
    cr_assert_not_null(found, "no svq-shadow mapping");
    return found;
}

/* The error function: counts the calls (queue 0 broken) and keeps the
 * last message. */
static unsigned broken_calls;
static char broken_message[256];

static void count_broken(SvqDev *svq, unsigned index, const GError *error, void *opaque)
{
    (void)svq;
    (void)opaque;
    cr_assert_eq(index, 0);
    cr_assert_eq(error->code, SVQ_ERROR_BROKEN);
    snprintf(broken_message, sizeof(broken_message), "%s", error->message);
    broken_calls++;
}

Test(svq_backend, hostile_used_entry_breaks_queue)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    uint8_t *shadow;
    uint64_t used_off = ((16u * QSIZE + 63) & ~63u) + 6 + 2 * QSIZE;
    uint16_t guest_used_before, guest_used_after;
    int fds[2];

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, true);
    svq_set_error_func(m.svq, count_broken, NULL);
    /* Some honest traffic first. */
    run_reads(&m, 4);
    /* The back-end freezes; "it" then writes a used entry for an id it was
     * never given, and calls. */
    t_freeze(f.pid);
    shadow = find_shadow_region();
    used_off = (used_off + 63) & ~UINT64_C(63);
    cr_assert_eq(vmem_read_le16(f.g->map, f.g->cfg.device_addr + 2, &guest_used_before), 0);
    vmem_cpu_to_le32(shadow + used_off + 4 + 8 * (4 % QSIZE), 77);
    vmem_cpu_to_le32(shadow + used_off + 4 + 8 * (4 % QSIZE) + 4, 1);
    __atomic_store_n((uint16_t *)(shadow + used_off + 2), GUINT16_TO_LE(5), __ATOMIC_RELEASE);
    cr_assert_eq(svq_get_fds(m.svq, fds, 2), 2);
    eventfd_write(fds[1], 1);
    svq_dispatch(m.svq, fds[1]);
    cr_assert_eq(broken_calls, 1);
    cr_assert(strstr(broken_message, "back-end: ") != NULL, "%s", broken_message);
    cr_assert_not_null(svq_queue_get_error(m.svq, 0));
    cr_assert_eq(svq_get_fds(m.svq, fds, 2), 0, "a broken queue is no longer watched");
    cr_assert_eq(vmem_read_le16(f.g->map, f.g->cfg.device_addr + 2, &guest_used_after), 0);
    cr_assert_eq(guest_used_after, guest_used_before, "the guest ring moved");
    cr_assert_eq(vq_drv_num_inflight(f.g->drv), 0);
    /* Switching off refuses; stopping works (for the device reset). */
    kill(f.pid, SIGCONT);
    cr_assert(!svq_disable(m.svq, &err));
    cr_assert_eq(err->code, SVQ_ERROR_BROKEN, "%s", err->message);
    cr_assert(g_str_has_prefix(err->message, "Can't disable shadow vq on vub0: queue 0 is broken"),
              "%s", err->message);
    g_clear_error(&err);
    cr_assert(!svq_queue_stop(m.svq, 0, NULL, &err));
    cr_assert_eq(err->code, SVQ_ERROR_BROKEN);
    g_clear_error(&err);
    cr_assert(!vhu_vring_is_started(f.dev, 0));
    cr_assert_eq(broken_calls, 1, "the error function is called once");
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* A change of the guest map's layout (svq_remap)                            */

Test(svq_backend, remap_after_layout_change)
{
    const uint64_t hotplug_gpa = UINT64_C(1) << 40;
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    SvqStats st;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, true);
    svq_set_error_func(m.svq, count_broken, NULL);
    svq_remap(NULL); /* ignored */
    run_reads(&m, 4);

    /* Memory hot-plugged and unplugged: the relay follows, nothing breaks. */
    cr_assert_eq(vmem_map_add_memfd(f.g->map, hotplug_gpa, 1 << 20, "hotplug", 0), 0);
    cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err), "%s", err ? err->message : "");
    svq_remap(m.svq);
    run_reads(&m, 4);
    cr_assert_eq(vmem_map_remove(f.g->map, hotplug_gpa), 0);
    cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err), "%s", err ? err->message : "");
    svq_remap(m.svq);
    run_reads(&m, 4);
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.completed, 12);
    cr_assert_eq(broken_calls, 0, "%s", broken_message);
    cr_assert_null(svq_queue_get_error(m.svq, 0));

    /* The RAM that holds the guest ring goes away: the queue breaks, once,
     * and is no longer watched; nothing reads the unmapped ring. */
    cr_assert_eq(vmem_map_remove(f.g->map, 0), 0);
    svq_remap(m.svq);
    svq_remap(m.svq);
    cr_assert_eq(broken_calls, 1);
    cr_assert(g_str_has_prefix(broken_message, "vub0: queue 0: "), "%s", broken_message);
    cr_assert_not_null(svq_queue_get_error(m.svq, 0));
    {
        int fds[2];

        cr_assert_eq(svq_get_fds(m.svq, fds, 2), 0, "a broken queue is no longer watched");
    }
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* A back-end that stops answering during a switch                           */

Test(svq_backend, switch_rolls_back_when_backend_hangs)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    SvqOptions o;
    SvqStats st;

    /* A shorter reply timeout: the frozen back-end is given up sooner. */
    fx_init_timeout(&f, QSIZE, NSLOTS, NULL, FROZEN_REPLY_MS);
    fx_setup(&f, 0);
    svq_options_init(&o);
    o.vhu = f.dev;
    o.guest_map = f.g->map;
    o.max_queue_size = QSIZE;
    o.enabled = true;
    o.drain_timeout_ms = 200;
    cr_assert(svq_new(&o, &m.svq, &err), "%s", err ? err->message : "");
    cr_assert(svq_queue_start(m.svq, 0, &f.g->cfg, NULL, f.g->kick_fd, f.g->call_fd, &err));
    /* Freeze the back-end with 8 requests in the shadow ring. */
    t_freeze(f.pid);
    submit_reads(&m, 8);
    svq_queue_poll(m.svq, 0);
    cr_assert(!svq_disable(m.svq, &err), "switched off with a frozen back-end");
    cr_assert(g_str_has_prefix(err->message, "Can't disable shadow vq on vub0: "), "%s",
              err->message);
    g_clear_error(&err);
    /* Still shadowed; the link went down (no reply). A new back-end takes
     * over the shadow ring and completes every request once. */
    cr_assert(svq_is_enabled(m.svq));
    cr_assert(svq_queue_is_shadowed(m.svq, 0));
    kill(f.pid, SIGKILL);
    t_reap(f.pid, TIMEOUT_MS);
    t_dev_poll_until(f.dev, t_dev_is_down, f.dev, TIMEOUT_MS, "link down");
    f.pid = t_spawn_backend(f.sock, f.image, true, NULL);
    t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up again");
    mini_drain(&m, 16);
    cr_assert_eq(m.done, 8);
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.completed, 8);
    cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Hand-back through the whole path                                          */

Test(svq_backend, hand_back_of_untaken_chains)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    SvqStats st;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, true);
    /* The back-end's ring is disabled: it takes nothing. */
    cr_assert(vhu_vring_enable(f.dev, 0, false, &err), "%s", err ? err->message : "");
    submit_reads(&m, 8);
    svq_queue_poll(m.svq, 0);
    cr_assert_eq(svq_queue_is_shadowed(m.svq, 0), true);
    /* Off: the eight chains sit untaken in the shadow ring and go back to
     * the guest ring. */
    cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.handed_back, 8, "%llu chains handed back", (unsigned long long)st.handed_back);
    cr_assert_eq(st.completed, 0);
    cr_assert_eq(m.done, 0);
    /* The back-end, enabled again, takes them from the guest ring, once. */
    cr_assert(vhu_vring_enable(f.dev, 0, true, &err));
    mini_drain(&m, 16);
    cr_assert_eq(m.done, 8);

    /* On, with untaken chains in the guest ring: the relay takes them. */
    cr_assert(vhu_vring_enable(f.dev, 0, false, &err));
    submit_reads(&m, 8);
    cr_assert(svq_enable(m.svq, &err), "%s", err ? err->message : "");
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.forwarded, 16, "8 handed back before, 8 now");
    cr_assert(vhu_vring_enable(f.dev, 0, true, &err));
    mini_drain(&m, 16);
    cr_assert_eq(m.done, 16);
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.completed, 8);
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* quiet_ms 0: a switch waits for every request the back-end holds, up to
 * the drain timeout, then goes on. Untaken chains in a disabled ring never
 * complete: the switch off takes the whole drain timeout, and still hands
 * them back. */
#define DRAIN_MS 300

static void drain_all(SvqOptions *o)
{
    o->quiet_ms = 0;
    o->drain_timeout_ms = DRAIN_MS;
}

Test(svq_backend, quiet_zero_waits_for_every_request)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    SvqStats st;
    int64_t t0, waited_ms;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq_with(&f, true, drain_all);
    cr_assert(vhu_vring_enable(f.dev, 0, false, &err), "%s", err ? err->message : "");
    submit_reads(&m, 8);
    svq_queue_poll(m.svq, 0);
    t0 = g_get_monotonic_time();
    cr_assert(svq_disable(m.svq, &err), "%s", err ? err->message : "");
    waited_ms = (g_get_monotonic_time() - t0) / 1000;
    cr_assert_geq(waited_ms, DRAIN_MS, "gave up waiting after %lld ms", (long long)waited_ms);
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.handed_back, 8);
    cr_assert(vhu_vring_enable(f.dev, 0, true, &err));
    mini_drain(&m, 16);
    cr_assert_eq(m.done, 8);
    svq_free(m.svq);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* A VMM that calls in (svq_queue_kick) and is called (svq_set_notify_func) */

static void count_notify(SvqDev *svq, unsigned index, void *opaque)
{
    (void)svq;
    cr_assert_eq(index, 0);
    (*(unsigned *)opaque)++;
}

Test(svq_backend, vmm_calls_in)
{
    Fixture f;
    Mini m = { .f = &f };
    GError *err = NULL;
    unsigned notifies = 0;
    SvqStats st;

    fx_init(&f, QSIZE, NSLOTS, NULL);
    fx_setup(&f, 0);
    m.svq = mini_svq(&f, true);
    svq_set_notify_func(m.svq, count_notify, &notifies);
    /* Nothing to do for a bad queue. */
    svq_queue_kick(NULL, 0);
    svq_queue_kick(m.svq, 1);
    for (unsigned round = 0; round < 20; round++) {
        bool shadowed = svq_queue_is_shadowed(m.svq, 0);
        unsigned before = notifies;

        /* The guest's notify: the VMM's handler calls in (no kick eventfd
         * write of its own; direct, svq_queue_kick() writes it for the
         * back-end). */
        for (unsigned i = 0; i < 4; i++) {
            cr_assert_eq(tg_submit(f.g, i, T_BLK_T_IN, round * 4 + i, i), 0);
        }
        m.inflight += 4;
        if (vq_drv_should_kick(f.g->drv) == 1) {
            svq_queue_kick(m.svq, 0);
        }
        while (m.inflight) {
            eventfd_t v;

            pump(&m);
            if (shadowed) {
                cr_assert(eventfd_read(f.g->call_fd, &v) < 0 && errno == EAGAIN,
                          "round %u: the guest's call eventfd was written", round);
            }
            mini_collect(&m, 16);
        }
        if (shadowed) {
            cr_assert_gt(notifies, before, "round %u: the guest was not notified", round);
        } else {
            cr_assert_eq(notifies, before, "round %u: direct rings notify by eventfd", round);
        }
        if (round % 5 == 4) {
            bool ok = shadowed ? svq_disable(m.svq, &err) : svq_enable(m.svq, &err);

            cr_assert(ok, "%s", err ? err->message : "");
        }
    }
    cr_assert_eq(m.done, 80);
    svq_queue_get_stats(m.svq, 0, &st);
    cr_assert_eq(st.completed, 40, "%llu relayed", (unsigned long long)st.completed);
    /* Back to the eventfd. */
    svq_set_notify_func(m.svq, NULL, NULL);
    submit_reads(&m, 4);
    mini_drain(&m, 16);
    svq_free(m.svq);
    t_fx_fini(&f);
}
