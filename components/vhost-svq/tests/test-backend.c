/* SPDX-License-Identifier: MIT */
/*
 * The front-end against the test back-end (tests/backend): I/O in both
 * modes, 100 kill/restart cycles under load with and without
 * INFLIGHT_SHMFD, exits in the middle of a request, features dropped on
 * reconnection, malformed replies, stalls, and fd / memory leaks around
 * every reconnection.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NSLOTS 32
#define QSIZE 128
#define NBLOCKS 256
#define TIMEOUT_MS 10000

/* A reply timeout long enough for any honest reply on a loaded machine,
 * and a short one for the cases where the back-end stalls on purpose. */
#define REPLY_MS 5000
#define STALL_REPLY_MS 2000

typedef TFixture Fixture;

static void fx_init(Fixture *f, VhuMode mode, unsigned reply_timeout_ms)
{
    t_fx_init(f, mode, reply_timeout_ms, QSIZE, NSLOTS, (uint64_t)NBLOCKS * T_BLOCK);
}

typedef struct Count {
    const unsigned *value;
    unsigned target;
} Count;

static bool reached(void *arg)
{
    Count *c = arg;

    return *c->value >= c->target;
}

static void wait_count(Fixture *f, const unsigned *value, unsigned target, const char *what)
{
    Count c = { value, target };

    t_dev_poll_until(f->dev, reached, &c, TIMEOUT_MS, what);
}

/* ------------------------------------------------------------------------ */
/* I/O                                                                       */

Test(backend, server_mode_io)
{
    Fixture f;
    TBlk *b;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    t_fx_backend_up(&f, NULL);
    cr_assert_eq(f.ev.ups, 1);
    cr_assert(vhu_get_protocol_features(f.dev) & (1u << VHU_PROTOCOL_F_INFLIGHT_SHMFD));
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 1);
    tblk_round(b, 16);
    tblk_check_image(b);
    cr_assert_eq(tblk_completed(b), 2 * NBLOCKS);
    {
        VhuStats st;

        vhu_get_stats(f.dev, &st);
        cr_assert(st.has_inflight, "the inflight region was not obtained");
        cr_assert_eq(st.connections, 1);
    }
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, client_mode_io)
{
    Fixture f;
    GError *err = NULL;
    TBlk *b;
    uint8_t cfg[8];

    fx_init(&f, VHU_MODE_CLIENT, REPLY_MS);
    f.pid = t_spawn_backend(f.sock, f.image, false, NULL);
    /* The front-end retries with back-off until the back-end listens. */
    cr_assert(vhu_open(f.dev, &err), "open: %s", err ? err->message : "");
    cr_assert(vhu_wait_link_up(f.dev, TIMEOUT_MS, &err), "%s", err ? err->message : "");
    cr_assert(vhu_get_config(f.dev, 0, cfg, sizeof(cfg), &err), "%s", err ? err->message : "");
    cr_assert_eq(vmem_le64_to_cpu(cfg), (uint64_t)NBLOCKS * T_BLOCK / T_SECTOR);
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 2);
    tblk_round(b, 8);
    tblk_check_image(b);
    /* A client-mode restart: the server back-end accepts the next connection. */
    vhu_reconnect(f.dev);
    cr_assert_eq(f.ev.downs, 1);
    cr_assert(vhu_wait_link_up(f.dev, TIMEOUT_MS, &err), "%s", err ? err->message : "");
    cr_assert_eq(f.ev.ups, 2);
    tblk_round(b, 8);
    tblk_check_image(b);
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, packed_ring_io)
{
    Fixture f;
    GError *err = NULL;
    TBlk *b;
    uint64_t feat;
    uint32_t base = 0;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    t_fx_backend_up(&f, NULL);
    feat = t_blk_features(vhu_get_backend_features(f.dev)) | VQ_FEATURE(VQ_F_RING_PACKED);
    cr_assert(vhu_set_features(f.dev, feat, &err), "%s", err ? err->message : "");
    tg_ring_configure(f.g, feat);
    cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err), "%s", err ? err->message : "");
    {
        VqState st = { .avail_wrap = true, .used_wrap = true };
        VhuVringConfig c = tg_vring_config(f.g, vq_state_to_vring_base(VQ_LAYOUT_PACKED, &st));

        cr_assert(vhu_vring_set_kick(f.dev, 0, f.g->kick_fd, &err));
        cr_assert(vhu_vring_set_call(f.dev, 0, f.g->call_fd, &err));
        cr_assert(vhu_vring_start(f.dev, 0, &c, &err), "%s", err ? err->message : "");
    }
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 3);
    tblk_round(b, 16);
    tblk_check_image(b);
    /* Stopping returns the packed state: both wrap counters and positions. */
    cr_assert(vhu_vring_stop(f.dev, 0, &base, &err), "%s", err ? err->message : "");
    {
        VqState st;

        cr_assert_eq(vq_state_from_vring_base(VQ_LAYOUT_PACKED, base, &st), 0);
        cr_assert_eq(st.next_avail, st.next_used);
        cr_assert_eq(st.next_avail, (2 * NBLOCKS * 3) % QSIZE, "base %#x", base);
    }
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, without_protocol_features)
{
    Fixture f;
    GError *err = NULL;
    TBlk *b;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    cr_assert(vhu_open(f.dev, &err));
    f.pid = t_spawn_backend(f.sock, f.image, true, "--no-protocol", NULL);
    t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up");
    cr_assert_eq(vhu_get_protocol_features(f.dev), 0);
    cr_assert_eq(vhu_get_backend_queue_num(f.dev), 1);
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 4);
    tblk_round(b, 16);
    tblk_check_image(b);
    /* GET_CONFIG needs the CONFIG protocol feature. */
    {
        uint8_t c[8];

        cr_assert_not(vhu_get_config(f.dev, 0, c, sizeof(c), &err));
        cr_assert_eq(err->code, VHU_ERROR_UNSUPPORTED);
        g_clear_error(&err);
    }
    tblk_free(b);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* Kill and restart under load                                               */

typedef struct Chaos {
    Fixture *f;
    uint64_t rng;
    unsigned target;        /* cycles wanted */
    unsigned seen;          /* link-down + failed connections handled */
    uint64_t kill_at;       /* completion count at which to SIGKILL */
    unsigned ups_seen;
    int fds_baseline;
    size_t heap_baseline;
    const char *const *extra;
    unsigned kills, self_exits;
} Chaos;

static void chaos_spawn(Chaos *c, uint64_t completed)
{
    Fixture *f = c->f;
    char exit_after[32];
    const char *points[] = { "popped", "io", "used" };
    const char *extra[16];
    unsigned n = 0;

    for (unsigned i = 0; c->extra[i]; i++) {
        extra[n++] = c->extra[i];
    }
    c->kill_at = UINT64_MAX;
    if (c->seen < c->target) {
        if (t_rand(&c->rng) & 1) {
            /* The back-end dies by itself inside request N. */
            snprintf(exit_after, sizeof(exit_after), "%llu",
                     (unsigned long long)(1 + t_rand(&c->rng) % 30));
            extra[n++] = "--exit-after";
            extra[n++] = exit_after;
            extra[n++] = "--exit-point";
            extra[n++] = points[t_rand(&c->rng) % 3];
            c->self_exits++;
        } else {
            c->kill_at = completed + 1 + t_rand(&c->rng) % 40;
        }
    }
    extra[n] = NULL;
    f->pid = t_spawn_backendv(f->sock, f->image, true, extra);
}

static void chaos_progress(TBlk *b, void *opaque)
{
    Chaos *c = opaque;
    Fixture *f = c->f;
    uint64_t done = tblk_completed(b);

    if (f->ev.ups > c->ups_seen && vhu_is_up(f->dev)) {
        /* Every reconnection: nothing leaked since the first one. */
        int fds = t_count_fds();
        size_t heap = t_heap_in_use();

        c->ups_seen = f->ev.ups;
        if (c->fds_baseline < 0) {
            c->fds_baseline = fds;
            c->heap_baseline = heap;
        }
        cr_assert_eq(fds, c->fds_baseline, "fd leak: %d open after reconnection %u, %d after"
                     " the first", fds, f->ev.ups, c->fds_baseline);
        cr_assert(heap <= c->heap_baseline + 64 * 1024,
                  "heap grew from %zu to %zu bytes over %u reconnections", c->heap_baseline,
                  heap, f->ev.ups);
    }
    if (f->ev.downs + f->ev.fails > c->seen) {
        /* The back-end is gone (killed, or died by itself): start another. */
        c->seen = f->ev.downs + f->ev.fails;
        t_reap(f->pid, TIMEOUT_MS);
        chaos_spawn(c, done);
    } else if (done >= c->kill_at && vhu_is_up(f->dev)) {
        c->kill_at = UINT64_MAX;
        c->kills++;
        kill(f->pid, SIGKILL);
    }
}

static void restarts(const char *const *extra, uint64_t seed)
{
    Fixture f;
    TBlk *b;
    Chaos c = { .f = &f, .rng = seed, .target = 100, .fds_baseline = -1, .extra = extra };
    TBlkHooks hooks = { .progress = chaos_progress, .opaque = &c };
    unsigned rounds = 0;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    t_fx_backend_up(&f, extra);
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, seed);
    tblk_set_hooks(b, &hooks);
    /* The first back-end is killed too. */
    c.kill_at = 1 + t_rand(&c.rng) % 40;
    while (c.seen < c.target || rounds == 0) {
        tblk_round(b, 16);
        rounds++;
        cr_assert(rounds < 200, "only %u restarts after %u rounds", c.seen, rounds);
    }
    /* A last clean round with the final back-end, then the image. */
    tblk_round(b, 16);
    tblk_check_image(b);
    cr_assert(f.ev.downs + f.ev.fails >= 100, "%u restarts", f.ev.downs + f.ev.fails);
    cr_assert(c.kills > 10 && c.self_exits > 10, "kills %u, self exits %u", c.kills,
              c.self_exits);
    cr_log_info("%u link-downs, %u failed connections, %u kills, %u self-exits, %llu"
                " requests in %u rounds",
                f.ev.downs, f.ev.fails, c.kills, c.self_exits,
                (unsigned long long)tblk_completed(b), rounds + 1);
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, restarts_with_inflight)
{
    /* Out-of-order completion (batches of 8 completed in reverse): only the
     * inflight region makes the restarts exact. */
    static const char *const extra[] = { "--batch", "8", NULL };

    restarts(extra, 11);
}

Test(backend, restarts_without_inflight)
{
    /* In-order back-end: the ring resumes from used->idx. */
    static const char *const extra[] = { "--no-inflight", NULL };

    restarts(extra, 12);
}

/* ------------------------------------------------------------------------ */
/* Features that disappear                                                   */

static void refused_on_reconnect(const char *flag, const char *bit, const char *expect)
{
    Fixture f;
    TBlk *b;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    t_fx_backend_up(&f, NULL);
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 5);
    tblk_round(b, 8);
    t_kill(f.pid);
    wait_count(&f, &f.ev.downs, 1, "link down");
    /* The new back-end lacks something accepted before: refused. */
    f.pid = t_spawn_backend(f.sock, f.image, true, flag, bit, NULL);
    wait_count(&f, &f.ev.fails, 1, "refusal");
    cr_assert_eq(f.ev.last_fail_code, VHU_ERROR_FEATURE, "%s", f.ev.last_fail_msg);
    cr_assert(strstr(f.ev.last_fail_msg, expect), "message: %s", f.ev.last_fail_msg);
    cr_assert_not(vhu_is_up(f.dev));
    cr_assert_eq(t_reap(f.pid, TIMEOUT_MS), 0, "the refused back-end should see a hang-up");
    /* A complete one is accepted and the I/O continues. */
    f.pid = t_spawn_backend(f.sock, f.image, true, NULL);
    t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up again");
    tblk_round(b, 8);
    tblk_check_image(b);
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, drop_feature_on_reconnect)
{
    refused_on_reconnect("--drop-feature", "29", "lacks feature bit(s) 29 accepted before");
}

Test(backend, drop_protocol_feature_on_reconnect)
{
    refused_on_reconnect("--drop-protocol-feature", "12",
                         "lacks protocol feature bit(s) 12 negotiated before");
}

/* ------------------------------------------------------------------------ */
/* Exits in the middle of a request                                          */

static void exit_mid_request(const char *point, bool inflight)
{
    Fixture f;
    GError *err = NULL;
    TBlk *b;

    fx_init(&f, VHU_MODE_SERVER, REPLY_MS);
    cr_assert(vhu_open(f.dev, &err));
    f.pid = t_spawn_backend(f.sock, f.image, true, "--exit-after", "37", "--exit-point", point,
                            inflight ? "--batch" : "--no-inflight", inflight ? "4" : NULL, NULL);
    t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up");
    t_blk_setup(f.dev, f.g, &t_path_direct, 0);
    b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 6);
    {
        Chaos c = { .f = &f, .rng = 1, .target = 0, .fds_baseline = -1,
                    .extra = (const char *const[]){ inflight ? "--batch" : "--no-inflight",
                                                    inflight ? "4" : NULL, NULL } };
        TBlkHooks h = { .progress = chaos_progress, .opaque = &c };

        tblk_set_hooks(b, &h);
        tblk_round(b, 16);
        cr_assert_eq(f.ev.downs + f.ev.fails, 1, "the back-end should have died once");
        tblk_check_image(b);
    }
    tblk_free(b);
    t_fx_fini(&f);
}

Test(backend, exit_after_pop_inflight) { exit_mid_request("popped", true); }
Test(backend, exit_after_io_inflight) { exit_mid_request("io", true); }
Test(backend, exit_after_used_inflight) { exit_mid_request("used", true); }
Test(backend, exit_after_pop_no_inflight) { exit_mid_request("popped", false); }
Test(backend, exit_after_io_no_inflight) { exit_mid_request("io", false); }
Test(backend, exit_after_used_no_inflight) { exit_mid_request("used", false); }

/* ------------------------------------------------------------------------ */
/* Malformed replies and stalls                                              */

typedef struct FaultCase {
    const char *fault;
    const char *at;
    int code; /* VhuError */
    const char *text; /* part of the error message */
} FaultCase;

/* Faults during the handshake: the back-end is refused, the front-end
 * listens again and accepts a good back-end afterwards, nothing leaks. */
static const FaultCase handshake_faults[] = {
    { "no-reply-flag", "GET_FEATURES", VHU_ERROR_PROTOCOL, "reply has flags 0x1" },
    { "bad-version", "GET_FEATURES", VHU_ERROR_PROTOCOL, "reply has flags 0x6" },
    { "wrong-request", "GET_PROTOCOL_FEATURES", VHU_ERROR_PROTOCOL, "reply is for request 16" },
    { "short", "GET_FEATURES", VHU_ERROR_PROTOCOL, "reply payload of 4 bytes, expected 8" },
    { "long", "GET_QUEUE_NUM", VHU_ERROR_PROTOCOL, "reply payload of 65536 bytes" },
    { "truncated", "GET_FEATURES", VHU_ERROR_IO, "hung up before replying" },
    { "extra-fd", "GET_FEATURES", VHU_ERROR_PROTOCOL, "carries 1 file descriptor(s)" },
    { "too-many-fds", "GET_FEATURES", VHU_ERROR_PROTOCOL, "more than 8 file descriptors" },
    { "nack", "SET_OWNER", VHU_ERROR_BACKEND, "SET_OWNER: back-end reports failure" },
    { "stall", "GET_PROTOCOL_FEATURES", VHU_ERROR_TIMEOUT, "no reply from the back-end" },
    { "stall", "SET_OWNER", VHU_ERROR_TIMEOUT, "SET_OWNER: no reply" },
};

Test(backend, malformed_replies_in_handshake)
{
    Fixture f;
    GError *err = NULL;

    fx_init(&f, VHU_MODE_SERVER, STALL_REPLY_MS);
    cr_assert(vhu_open(f.dev, &err));
    int fds0 = t_count_fds();

    for (unsigned i = 0; i < G_N_ELEMENTS(handshake_faults); i++) {
        const FaultCase *fc = &handshake_faults[i];

        f.pid = t_spawn_backend(f.sock, f.image, true, "--fault", fc->fault, "--fault-at",
                                fc->at, NULL);
        wait_count(&f, &f.ev.fails, i + 1, fc->fault);
        cr_assert_eq(f.ev.last_fail_code, fc->code, "%s at %s: code %d (%s)", fc->fault, fc->at,
                     f.ev.last_fail_code, f.ev.last_fail_msg);
        cr_assert(strstr(f.ev.last_fail_msg, fc->text), "%s at %s: message \"%s\"", fc->fault,
                  fc->at, f.ev.last_fail_msg);
        cr_assert(strstr(f.ev.last_fail_msg, "vub0: "), "no device name: %s",
                  f.ev.last_fail_msg);
        cr_assert_eq(f.ev.ups, 0);
        t_reap(f.pid, TIMEOUT_MS);
        f.pid = -1;
        cr_assert_eq(t_count_fds(), fds0, "%s: fd leak", fc->fault);
        cr_assert_eq(vhu_get_fd(f.dev, NULL) >= 0, true, "not listening after %s", fc->fault);
    }
    /* A well-behaved back-end is still accepted. */
    f.pid = t_spawn_backend(f.sock, f.image, true, NULL);
    t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up");
    t_fx_fini(&f);
}

/* Starts I/O with a back-end that misbehaves at @at, returns with the link
 * up and the ring started (unless the fault hits during the start). */
static void fault_setup(Fixture *f, const char *fault, const char *at)
{
    const char *extra[] = { "--fault", fault, "--fault-at", at, NULL };

    fx_init(f, VHU_MODE_SERVER, strcmp(fault, "stall") == 0 ? STALL_REPLY_MS : REPLY_MS);
    t_fx_backend_up(f, extra);
}

Test(backend, malformed_vring_base)
{
    static const char *const kinds[] = { "bad-ring-index", "bad-base", "short", "stall" };

    for (unsigned i = 0; i < G_N_ELEMENTS(kinds); i++) {
        Fixture f;
        GError *err = NULL;
        TBlk *b;
        uint32_t base = 0xdead;

        fault_setup(&f, kinds[i], "GET_VRING_BASE");
        t_blk_setup(f.dev, f.g, &t_path_direct, 0);
        b = tblk_new(f.g, f.dev, &t_path_direct, f.image, NBLOCKS, 7);
        tblk_round(b, 8);
        /* A hostile GET_VRING_BASE reply drops the link; the stop still
         * reports where the ring stands: used->idx. */
        cr_assert(vhu_vring_stop(f.dev, 0, &base, &err), "%s: %s", kinds[i],
                  err ? err->message : "");
        cr_assert_eq(base, (2 * NBLOCKS) & 0xffff, "%s: base %u", kinds[i], base);
        cr_assert_eq(f.ev.downs, 1, "%s: link should be down", kinds[i]);
        cr_assert(f.ev.last_down_code == VHU_ERROR_PROTOCOL ||
                      f.ev.last_down_code == VHU_ERROR_TIMEOUT,
                  "%s: %s", kinds[i], f.ev.last_down_msg);
        cr_assert(strstr(f.ev.last_down_msg, "GET_VRING_BASE"), "%s", f.ev.last_down_msg);
        cr_assert_not(vhu_vring_is_started(f.dev, 0));
        tblk_free(b);
        t_fx_fini(&f);
    }
}

Test(backend, malformed_inflight_reply)
{
    static const FaultCase cases[] = {
        { "missing-fd", "GET_INFLIGHT_FD", VHU_ERROR_PROTOCOL, "without an fd" },
        { "huge-inflight", "GET_INFLIGHT_FD", VHU_ERROR_PROTOCOL, "bad region" },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Fixture f;
        GError *err = NULL;
        uint64_t feat;

        fault_setup(&f, cases[i].fault, cases[i].at);
        feat = t_blk_features(vhu_get_backend_features(f.dev));
        cr_assert(vhu_set_features(f.dev, feat, &err));
        tg_ring_configure(f.g, feat);
        cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err));
        {
            VhuVringConfig c = tg_vring_config(f.g, 0);

            cr_assert_not(vhu_vring_start(f.dev, 0, &c, &err), "%s accepted", cases[i].fault);
        }
        cr_assert_eq(err->code, cases[i].code, "%s", err->message);
        cr_assert(strstr(err->message, cases[i].text), "%s", err->message);
        g_clear_error(&err);
        cr_assert_eq(f.ev.downs, 1);
        /* The ring stays recorded as started: it is restored on the next
         * connection, whose back-end behaves. */
        cr_assert(vhu_vring_is_started(f.dev, 0));
        t_reap(f.pid, TIMEOUT_MS);
        f.pid = t_spawn_backend(f.sock, f.image, true, NULL);
        t_dev_poll_until(f.dev, t_dev_is_up, f.dev, TIMEOUT_MS, "link up again");
        {
            VhuStats st;

            vhu_get_stats(f.dev, &st);
            cr_assert(st.has_inflight);
        }
        t_fx_fini(&f);
    }
}

Test(backend, config_and_nack_and_unsolicited)
{
    Fixture f;
    GError *err = NULL;
    uint8_t cfg[16];

    /* GET_CONFIG reply one byte short: protocol error, link down. */
    fault_setup(&f, "config-size", "GET_CONFIG");
    cr_assert_not(vhu_get_config(f.dev, 0, cfg, sizeof(cfg), &err));
    cr_assert_eq(err->code, VHU_ERROR_PROTOCOL, "%s", err->message);
    g_clear_error(&err);
    cr_assert_eq(f.ev.downs, 1);
    t_fx_fini(&f);

    /* A NACK of SET_MEM_TABLE is the back-end's failure: the link stays. */
    fault_setup(&f, "nack", "SET_MEM_TABLE");
    cr_assert(vhu_set_features(f.dev, t_blk_features(vhu_get_backend_features(f.dev)), &err));
    cr_assert_not(vhu_set_mem_table(f.dev, f.g->map, &err));
    cr_assert_eq(err->code, VHU_ERROR_BACKEND, "%s", err->message);
    g_clear_error(&err);
    cr_assert(vhu_is_up(f.dev));
    cr_assert_eq(f.ev.downs, 0);
    t_fx_fini(&f);

    /* A message nobody asked for while idle: protocol error, link down. */
    fault_setup(&f, "unsolicited", "SET_MEM_TABLE");
    cr_assert(vhu_set_features(f.dev, t_blk_features(vhu_get_backend_features(f.dev)), &err));
    cr_assert(vhu_set_mem_table(f.dev, f.g->map, &err), "%s", err ? err->message : "");
    wait_count(&f, &f.ev.downs, 1, "link down");
    cr_assert_eq(f.ev.last_down_code, VHU_ERROR_PROTOCOL, "%s", f.ev.last_down_msg);
    cr_assert(strstr(f.ev.last_down_msg, "unsolicited"), "%s", f.ev.last_down_msg);
    t_fx_fini(&f);
}

/* ------------------------------------------------------------------------ */
/* GLib source                                                               */

static void iterate_until(GMainContext *ctx, bool (*cond)(void *), void *arg)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)TIMEOUT_MS * 1000;

    while (!cond(arg)) {
        cr_assert(g_get_monotonic_time() < deadline, "timed out in the GLib loop");
        g_main_context_iteration(ctx, TRUE);
    }
}

static bool is_down(void *arg)
{
    Fixture *f = arg;

    return f->ev.downs >= 1;
}

/* Whatever way a test ends, its back-ends and directories go with it. */
TestSuite(backend, .fini = t_cleanup);

Test(backend, gsource_client_mode)
{
    Fixture f;
    GError *err = NULL;
    GMainContext *ctx = g_main_context_new();
    GSource *src;

    fx_init(&f, VHU_MODE_CLIENT, REPLY_MS);
    src = vhu_source_new(f.dev);
    g_source_attach(src, ctx);
    g_source_unref(src);
    /* Nobody listens yet: the retry timer runs in the GLib loop. */
    cr_assert(vhu_open(f.dev, &err));
    cr_assert_geq(vhu_get_timeout(f.dev), 0);
    f.pid = t_spawn_backend(f.sock, f.image, false, NULL);
    iterate_until(ctx, t_dev_is_up, f.dev);
    cr_assert_eq(f.ev.ups, 1);
    t_kill(f.pid);
    f.pid = -1;
    iterate_until(ctx, is_down, &f);
    cr_assert_eq(f.ev.last_down_code, VHU_ERROR_IO, "%s", f.ev.last_down_msg);
    cr_assert_geq(vhu_get_timeout(f.dev), 0, "no retry scheduled");
    t_fx_fini(&f);
    g_main_context_unref(ctx);
}
