/* SPDX-License-Identifier: MIT */
/*
 * Front-end unit tests against a scripted back-end on a socketpair: the
 * replies are written into the socket before the front-end asks, and the
 * requests it sent are read back and checked. Covers option checking, the
 * handshake, every kind of malformed reply, the state restore sequence,
 * the event-loop glue, client back-off, and the caller's mistakes.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass/fdpass.h"

#define PROTO_BIT (UINT64_C(1) << VHU_F_PROTOCOL_FEATURES)
#define V1 VQ_FEATURE(VQ_F_VERSION_1)

/* ------------------------------------------------------------------------ */
/* Scripted back-end                                                         */

typedef struct Sent {
    VhuMsgHeader hdr;
    uint8_t payload[512];
    int fds[VHU_MAX_FDS];
    size_t nfds;
} Sent;

/* A message whose header claims @size bytes, followed by @len bytes. */
static void put_raw(int be, uint32_t req, uint32_t flags, uint32_t size, const void *payload,
                    uint32_t len, const int *fds, size_t nfds)
{
    uint8_t buf[1024];
    VhuMsgHeader h = { req, flags, size };

    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), payload, len);
    cr_assert_eq(fdpass_send(be, buf, sizeof(h) + len, fds, nfds), 0);
}

static void put(int be, uint32_t req, uint32_t flags, const void *payload, uint32_t size,
                const int *fds, size_t nfds)
{
    put_raw(be, req, flags, size, payload, size, fds, nfds);
}

static void put_u64(int be, uint32_t req, uint64_t v)
{
    put(be, req, VHU_FLAG_VERSION | VHU_FLAG_REPLY, &v, sizeof(v), NULL, 0);
}

/* Reads the next request the front-end sent; false if none is pending. */
static bool take(int be, Sent *m)
{
    size_t more = 0;
    int rc;

    memset(m, 0, sizeof(*m));
    rc = fdpass_recv_full(be, &m->hdr, sizeof(m->hdr), m->fds, VHU_MAX_FDS, &m->nfds);
    if (rc == -EAGAIN) {
        return false;
    }
    cr_assert_eq(rc, 0, "reading a request: %s", strerror(-rc));
    cr_assert(m->hdr.size <= sizeof(m->payload));
    if (m->hdr.size) {
        cr_assert_eq(fdpass_recv_full(be, m->payload, m->hdr.size, m->fds + m->nfds,
                                      VHU_MAX_FDS - m->nfds, &more), 0);
        m->nfds += more;
    }
    return true;
}

static void take_expect(int be, uint32_t req, Sent *m)
{
    cr_assert(take(be, m), "expected %s, nothing sent", vhu_request_name(req));
    cr_assert_eq(m->hdr.request, req, "expected %s, got %s", vhu_request_name(req),
                 vhu_request_name(m->hdr.request));
    cr_assert_eq(m->hdr.flags & VHU_FLAG_VERSION_MASK, VHU_FLAG_VERSION);
}

static void sent_close(Sent *m)
{
    fdpass_close_all(m->fds, m->nfds);
}

static uint64_t sent_u64(const Sent *m)
{
    uint64_t v;

    cr_assert_eq(m->hdr.size, 8u);
    memcpy(&v, m->payload, 8);
    return v;
}

static void expect_none(int be)
{
    Sent m;

    cr_assert_not(take(be, &m), "unexpected %s", vhu_request_name(m.hdr.request));
}

typedef struct Pair {
    VhuDev *dev;
    int be;
    TEvents ev;
} Pair;

static VhuDev *fd_dev(unsigned timeout_ms, uint64_t proto_allowed, unsigned queues)
{
    VhuOptions o;
    VhuDev *dev = NULL;
    GError *err = NULL;

    vhu_options_init(&o);
    o.mode = VHU_MODE_FD;
    o.name = "fake0";
    o.reply_timeout_ms = timeout_ms;
    o.protocol_features = proto_allowed;
    o.num_queues = queues;
    cr_assert(vhu_new(&o, &dev, &err), "%s", err ? err->message : "");
    return dev;
}

/* A socketpair; the back-end end is non-blocking. */
static void pair_sockets(int *fe, int *be)
{
    int sv[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *fe = sv[0];
    *be = sv[1];
    cr_assert_eq(fcntl(*be, F_SETFL, O_NONBLOCK), 0);
}

/* A front-end connected to a back-end that offers @features and no
 * protocol features (so no request but the GETs has a reply). */
static void pair_simple(Pair *p, uint64_t features)
{
    GError *err = NULL;
    int fe;
    Sent m;

    p->dev = fd_dev(200, VHU_PROTOCOL_FEATURES_SUPPORTED, 1);
    t_dev_listen(p->dev, &p->ev);
    pair_sockets(&fe, &p->be);
    put_u64(p->be, VHU_REQ_GET_FEATURES, features);
    cr_assert(vhu_attach_fd(p->dev, fe, &err), "%s", err ? err->message : "");
    take_expect(p->be, VHU_REQ_GET_FEATURES, &m);
    take_expect(p->be, VHU_REQ_SET_OWNER, &m);
    expect_none(p->be);
}

static void pair_free(Pair *p)
{
    vhu_free(p->dev);
    close(p->be);
}

/* A front-end allowed protocol features @proto (no REPLY_ACK among them)
 * connected to a back-end that offers them all; the handshake is read.
 * @sndbuf: the front-end's socket send buffer, 0 for the default. */
static void pair_proto(Pair *p, uint64_t proto, int sndbuf)
{
    GError *err = NULL;
    int fe;
    Sent m;

    p->dev = fd_dev(200, proto, 1);
    pair_sockets(&fe, &p->be);
    if (sndbuf) {
        cr_assert_eq(setsockopt(fe, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
    }
    put_u64(p->be, VHU_REQ_GET_FEATURES, V1 | PROTO_BIT);
    put_u64(p->be, VHU_REQ_GET_PROTOCOL_FEATURES, VHU_PROTOCOL_FEATURES_SUPPORTED);
    cr_assert(vhu_attach_fd(p->dev, fe, &err), "%s", err ? err->message : "");
    take_expect(p->be, VHU_REQ_GET_FEATURES, &m);
    take_expect(p->be, VHU_REQ_GET_PROTOCOL_FEATURES, &m);
    take_expect(p->be, VHU_REQ_SET_PROTOCOL_FEATURES, &m);
    cr_assert_eq(sent_u64(&m), proto);
    take_expect(p->be, VHU_REQ_SET_OWNER, &m);
    expect_none(p->be);
}

/* Guest RAM with a split ring of 64 entries at 0x1000. */
static VMemMap *small_guest(VqConfig *cfg)
{
    VMemMap *map = NULL;

    cr_assert_eq(vmem_map_new(&map), 0);
    cr_assert_eq(vmem_map_add_memfd(map, 0, 0x40000, "ram", 0), 0);
    *cfg = (VqConfig){ .size = 64, .desc_addr = 0x1000, .driver_addr = 0x2000,
                       .device_addr = 0x3000, .features = V1 };
    return map;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */

/* Temporary directories are removed whatever way a test ends. */
TestSuite(frontend, .fini = t_cleanup);

Test(frontend, options)
{
    VhuOptions o;
    VhuDev *dev = NULL;
    GError *err = NULL;
    char longpath[200];

    vhu_options_init(&o);
    cr_assert_eq(o.mode, VHU_MODE_CLIENT);
    cr_assert_eq(o.num_queues, 1u);
    cr_assert_eq(o.queue_size, 256u);
    cr_assert_eq(o.protocol_features, VHU_PROTOCOL_FEATURES_SUPPORTED);

    cr_assert_not(vhu_new(NULL, &dev, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert_not(vhu_new(&o, &dev, &err)); /* client without a path */
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    o.path = longpath;
    cr_assert_not(vhu_new(&o, &dev, &err));
    cr_assert(strstr(err->message, "longer than"), "%s", err->message);
    g_clear_error(&err);
    o.path = "/tmp/x.sock";
    o.num_queues = 0;
    cr_assert_not(vhu_new(&o, &dev, &err));
    g_clear_error(&err);
    o.num_queues = VHU_MAX_QUEUES + 1;
    cr_assert_not(vhu_new(&o, &dev, &err));
    g_clear_error(&err);
    o.num_queues = 1;
    o.queue_size = 40000;
    cr_assert_not(vhu_new(&o, &dev, &err));
    g_clear_error(&err);
    o.queue_size = 256;
    o.mode = (VhuMode)7;
    cr_assert_not(vhu_new(&o, &dev, &err));
    g_clear_error(&err);
    cr_assert_null(dev);
    o.mode = VHU_MODE_CLIENT;
    cr_assert(vhu_new(&o, &dev, &err));
    cr_assert_str_eq(vhu_get_name(dev), "vhost-user");
    cr_assert_not(vhu_is_up(dev));
    cr_assert_eq(vhu_get_fd(dev, NULL), -1);
    cr_assert_eq(vhu_get_timeout(dev), -1);
    vhu_free(dev);
    vhu_free(NULL);
}

/* ------------------------------------------------------------------------ */
/* Handshake                                                                 */

Test(frontend, handshake_without_protocol_features)
{
    Pair p;

    pair_simple(&p, V1);
    cr_assert(vhu_is_up(p.dev));
    cr_assert_eq(p.ev.ups, 1);
    cr_assert_eq(vhu_get_backend_features(p.dev), V1);
    cr_assert_eq(vhu_get_protocol_features(p.dev), 0);
    cr_assert_eq(vhu_get_backend_queue_num(p.dev), 1u);
    pair_free(&p);
}

Test(frontend, handshake_with_protocol_features)
{
    VhuDev *dev = fd_dev(200, VHU_PROTOCOL_FEATURES_SUPPORTED, 2);
    uint64_t offered = VHU_PROTOCOL_FEATURES_SUPPORTED | (1u << VHU_PROTOCOL_F_LOG_SHMFD) |
                       (1u << VHU_PROTOCOL_F_BACKEND_REQ);
    GError *err = NULL;
    int fe, be;
    Sent m;

    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1 | PROTO_BIT);
    put_u64(be, VHU_REQ_GET_PROTOCOL_FEATURES, offered);
    put_u64(be, VHU_REQ_GET_QUEUE_NUM, 4);
    put_u64(be, VHU_REQ_SET_OWNER, 0); /* REPLY_ACK */
    cr_assert(vhu_attach_fd(dev, fe, &err), "%s", err ? err->message : "");
    take_expect(be, VHU_REQ_GET_FEATURES, &m);
    take_expect(be, VHU_REQ_GET_PROTOCOL_FEATURES, &m);
    take_expect(be, VHU_REQ_SET_PROTOCOL_FEATURES, &m);
    /* Only what both sides support; SET_PROTOCOL_FEATURES is never acked. */
    cr_assert_eq(sent_u64(&m), VHU_PROTOCOL_FEATURES_SUPPORTED);
    cr_assert_eq(m.hdr.flags, VHU_FLAG_VERSION);
    take_expect(be, VHU_REQ_GET_QUEUE_NUM, &m);
    take_expect(be, VHU_REQ_SET_OWNER, &m);
    cr_assert_eq(m.hdr.flags, VHU_FLAG_VERSION | VHU_FLAG_NEED_REPLY);
    expect_none(be);
    cr_assert_eq(vhu_get_protocol_features(dev), VHU_PROTOCOL_FEATURES_SUPPORTED);
    cr_assert_eq(vhu_get_backend_queue_num(dev), 4u);
    vhu_free(dev);
    close(be);
}

Test(frontend, status_and_reset)
{
    Pair p;
    GError *err = NULL;
    uint8_t st = 0;
    Sent m;

    pair_proto(&p, (UINT64_C(1) << VHU_PROTOCOL_F_STATUS) |
                   (UINT64_C(1) << VHU_PROTOCOL_F_RESET_DEVICE), 0);

    /* SET_STATUS goes out; GET_STATUS reads the byte back. */
    cr_assert(vhu_set_status(p.dev, 0x0f, &err), "%s", err ? err->message : "");
    take_expect(p.be, VHU_REQ_SET_STATUS, &m);
    cr_assert_eq(sent_u64(&m), 0x0fu);
    put_u64(p.be, VHU_REQ_GET_STATUS, 0x0f);
    cr_assert(vhu_get_status(p.dev, &st, &err), "%s", err ? err->message : "");
    cr_assert_eq(st, 0x0f);
    take_expect(p.be, VHU_REQ_GET_STATUS, &m);
    cr_assert_not(vhu_get_status(p.dev, NULL, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    expect_none(p.be);

    /* A reset sends RESET_DEVICE and forgets the features: they can be set again. */
    cr_assert(vhu_set_features(p.dev, V1, &err), "%s", err ? err->message : "");
    take_expect(p.be, VHU_REQ_SET_FEATURES, &m);
    cr_assert(vhu_reset(p.dev, &err), "%s", err ? err->message : "");
    take_expect(p.be, VHU_REQ_RESET_DEVICE, &m);
    cr_assert_eq(m.hdr.size, 0u);
    cr_assert(vhu_set_features(p.dev, V1, &err), "%s", err ? err->message : "");
    take_expect(p.be, VHU_REQ_SET_FEATURES, &m);
    cr_assert_not(vhu_reset(NULL, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    expect_none(p.be);

    /* A status that is not a byte is a protocol error: the connection ends. */
    put_u64(p.be, VHU_REQ_GET_STATUS, 0x100);
    st = 0x5a;
    cr_assert_not(vhu_get_status(p.dev, &st, &err));
    cr_assert_eq(err->code, VHU_ERROR_PROTOCOL, "%s", err->message);
    cr_assert(strstr(err->message, "GET_STATUS: 0x100 is not a byte"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_eq(st, 0x5a, "nothing stored on error");
    cr_assert_not(vhu_is_up(p.dev));
    cr_assert_not(vhu_set_status(p.dev, 1, &err));
    g_clear_error(&err);
    pair_free(&p);
}

Test(frontend, backend_that_does_not_read)
{
    Pair p;
    GError *err = NULL;
    unsigned sent = 0;

    pair_proto(&p, UINT64_C(1) << VHU_PROTOCOL_F_STATUS, 4096);
    /* Requests that need no reply, until the socket is full: the send
     * waits for the reply timeout, then gives up and the link goes down. */
    while (sent < 100000 && vhu_set_status(p.dev, (uint8_t)sent, &err)) {
        sent++;
    }
    cr_assert_not_null(err, "%u requests sent to a back-end that reads none", sent);
    cr_assert(sent > 0);
    cr_assert_eq(err->code, VHU_ERROR_TIMEOUT, "%s", err->message);
    cr_assert(strstr(err->message, "SET_STATUS: back-end does not read its socket (200 ms)"),
              "%s", err->message);
    g_clear_error(&err);
    cr_assert_not(vhu_is_up(p.dev));
    pair_free(&p);
}

Test(frontend, protocol_features_limited_by_options)
{
    VhuDev *dev = fd_dev(200, UINT64_C(1) << VHU_PROTOCOL_F_CONFIG, 1);
    GError *err = NULL;
    int fe, be;
    Sent m;

    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1 | PROTO_BIT);
    put_u64(be, VHU_REQ_GET_PROTOCOL_FEATURES, VHU_PROTOCOL_FEATURES_SUPPORTED);
    cr_assert(vhu_attach_fd(dev, fe, &err), "%s", err ? err->message : "");
    take_expect(be, VHU_REQ_GET_FEATURES, &m);
    take_expect(be, VHU_REQ_GET_PROTOCOL_FEATURES, &m);
    take_expect(be, VHU_REQ_SET_PROTOCOL_FEATURES, &m);
    cr_assert_eq(sent_u64(&m), UINT64_C(1) << VHU_PROTOCOL_F_CONFIG);
    take_expect(be, VHU_REQ_SET_OWNER, &m);
    cr_assert_eq(m.hdr.flags, VHU_FLAG_VERSION, "no REPLY_ACK, no need_reply");
    vhu_free(dev);
    close(be);
}

Test(frontend, too_few_queues)
{
    VhuDev *dev = fd_dev(200, VHU_PROTOCOL_FEATURES_SUPPORTED, 4);
    GError *err = NULL;
    int fe, be;

    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1 | PROTO_BIT);
    put_u64(be, VHU_REQ_GET_PROTOCOL_FEATURES, UINT64_C(1) << VHU_PROTOCOL_F_MQ);
    put_u64(be, VHU_REQ_GET_QUEUE_NUM, 2);
    cr_assert_not(vhu_attach_fd(dev, fe, &err));
    cr_assert_eq(err->code, VHU_ERROR_FEATURE);
    cr_assert(strstr(err->message, "fake0: back-end refused: it has 2 queue(s), the device needs 4"),
              "%s", err->message);
    g_clear_error(&err);
    cr_assert_not(vhu_is_up(dev));
    vhu_free(dev);
    close(be);
}

/* ------------------------------------------------------------------------ */
/* Malformed replies                                                         */

typedef struct Bad {
    const char *what;
    uint32_t request, flags, size;
    unsigned nfds;
    int code; /* VhuError */
    const char *text;
} Bad;

static const Bad bad_replies[] = {
    { "no reply bit", 1, 0x1, 8, 0, VHU_ERROR_PROTOCOL, "flags 0x1" },
    { "version 2", 1, 0x6, 8, 0, VHU_ERROR_PROTOCOL, "flags 0x6" },
    { "version 0", 1, 0x4, 8, 0, VHU_ERROR_PROTOCOL, "flags 0x4" },
    { "need_reply set", 1, 0xd, 8, 0, VHU_ERROR_PROTOCOL, "flags 0xd" },
    { "unknown flag", 1, 0x105, 8, 0, VHU_ERROR_PROTOCOL, "flags 0x105" },
    { "other request", 2, 0x5, 8, 0, VHU_ERROR_PROTOCOL, "request 2 (SET_FEATURES)" },
    { "request 0", 0, 0x5, 8, 0, VHU_ERROR_PROTOCOL, "request 0" },
    { "huge request", 0xffffffff, 0x5, 8, 0, VHU_ERROR_PROTOCOL, "UNKNOWN" },
    { "empty", 1, 0x5, 0, 0, VHU_ERROR_PROTOCOL, "payload of 0 bytes, expected 8" },
    { "short", 1, 0x5, 4, 0, VHU_ERROR_PROTOCOL, "payload of 4 bytes" },
    { "long", 1, 0x5, 16, 0, VHU_ERROR_PROTOCOL, "payload of 16 bytes" },
    { "4 GiB", 1, 0x5, 0xffffffff, 0, VHU_ERROR_PROTOCOL, "payload of 4294967295 bytes" },
    { "one fd", 1, 0x5, 8, 1, VHU_ERROR_PROTOCOL, "carries 1 file descriptor(s)" },
    { "eight fds", 1, 0x5, 8, 8, VHU_ERROR_PROTOCOL, "carries 8 file descriptor(s)" },
    { "nine fds", 1, 0x5, 8, 9, VHU_ERROR_PROTOCOL, "more than 8 file descriptors" },
    { "sixteen fds", 1, 0x5, 8, 16, VHU_ERROR_PROTOCOL, "more than 8 file descriptors" },
};

Test(frontend, malformed_replies)
{
    int fds0 = t_count_fds();

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_replies); i++) {
        const Bad *b = &bad_replies[i];
        VhuDev *dev = fd_dev(100, VHU_PROTOCOL_FEATURES_SUPPORTED, 1);
        uint8_t payload[16] = { 0 };
        int fds[16];
        GError *err = NULL;
        int fe, be;

        for (unsigned k = 0; k < b->nfds; k++) {
            fds[k] = eventfd(0, EFD_CLOEXEC);
        }
        pair_sockets(&fe, &be);
        put_raw(be, b->request, b->flags, b->size, payload, b->size > 16 ? 16 : b->size, fds,
                b->nfds);
        fdpass_close_all(fds, b->nfds);
        cr_assert_not(vhu_attach_fd(dev, fe, &err), "%s: accepted", b->what);
        cr_assert_eq(err->domain, VHU_ERROR);
        cr_assert_eq(err->code, b->code, "%s: %s", b->what, err->message);
        cr_assert(strstr(err->message, b->text), "%s: \"%s\"", b->what, err->message);
        cr_assert(strstr(err->message, "fake0: GET_FEATURES: "), "%s", err->message);
        cr_assert_not(vhu_is_up(dev));
        cr_assert_eq(vhu_get_fd(dev, NULL), -1, "%s: connection kept", b->what);
        g_clear_error(&err);
        vhu_free(dev);
        close(be);
        cr_assert_eq(t_count_fds(), fds0, "%s: fd leak", b->what);
    }
}

/* A front-end (reply timeout @timeout_ms) attached to a socket whose peer
 * wrote @len bytes of @bytes and, with @hangup, closed its side: the
 * handshake fails with @code and a message containing @text. */
static void attach_fails(unsigned timeout_ms, const void *bytes, size_t len, bool hangup,
                         int code, const char *text)
{
    VhuDev *dev = fd_dev(timeout_ms, VHU_PROTOCOL_FEATURES_SUPPORTED, 1);
    GError *err = NULL;
    int fe, be;

    pair_sockets(&fe, &be);
    if (len) {
        cr_assert_eq(write(be, bytes, len), (ssize_t)len);
    }
    if (hangup) {
        shutdown(be, SHUT_WR);
    }
    cr_assert_not(vhu_attach_fd(dev, fe, &err));
    cr_assert_eq(err->code, code, "%s", err->message);
    cr_assert(strstr(err->message, text), "%s", err->message);
    g_clear_error(&err);
    vhu_free(dev);
    close(be);
}

Test(frontend, timeout_and_hangup)
{
    GError *err = NULL;
    VhuDev *dev;
    VhuMsgHeader h = { 1, 5, 8 };
    uint8_t half_payload[sizeof(h) + 4];

    /* Nothing at all: timeout. */
    attach_fails(50, NULL, 0, false, VHU_ERROR_TIMEOUT, "within 50 ms");
    /* Half a header, then nothing: timeout, not a hang. */
    attach_fails(50, "\1\0\0\0\5", 5, false, VHU_ERROR_TIMEOUT, "within 50 ms");
    /* Half a payload then hang-up: I/O error. */
    memcpy(half_payload, &h, sizeof(h));
    memcpy(half_payload + sizeof(h), "abcd", 4);
    attach_fails(1000, half_payload, sizeof(half_payload), true, VHU_ERROR_IO, "hung up");

    /* Not a socket at all. */
    dev = fd_dev(50, VHU_PROTOCOL_FEATURES_SUPPORTED, 1);
    cr_assert_not(vhu_attach_fd(dev, -1, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    vhu_free(dev);
}

/* ------------------------------------------------------------------------ */
/* Operations and their checks                                               */

Test(frontend, caller_mistakes)
{
    Pair p;
    GError *err = NULL;
    VqConfig qc;
    VMemMap *map = small_guest(&qc);
    VhuVringConfig c;
    int efd = eventfd(0, EFD_CLOEXEC);

    /* Before any connection. */
    p.dev = fd_dev(200, VHU_PROTOCOL_FEATURES_SUPPORTED, 1);
    cr_assert_not(vhu_set_features(p.dev, V1, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert_not(vhu_get_config(p.dev, 0, &c, 4, &err));
    cr_assert_eq(err->code, VHU_ERROR_DISCONNECTED);
    g_clear_error(&err);
    vhu_free(p.dev);

    pair_simple(&p, V1);
    cr_assert_not(vhu_set_features(p.dev, V1 | VQ_FEATURE(VQ_F_EVENT_IDX), &err));
    cr_assert_eq(err->code, VHU_ERROR_FEATURE);
    cr_assert(strstr(err->message, "does not offer features 0x20000000"), "%s", err->message);
    g_clear_error(&err);
    cr_assert(vhu_vring_config_from_guest(map, &qc, 0, &c, &err));
    cr_assert_not(vhu_vring_start(p.dev, 0, &c, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE, "%s", err->message);
    g_clear_error(&err);
    cr_assert(vhu_set_features(p.dev, V1, &err));
    cr_assert(vhu_set_mem_table(p.dev, map, &err), "%s", err ? err->message : "");
    cr_assert_not(vhu_vring_start(p.dev, 1, &c, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    c.num = 48; /* not a power of two */
    cr_assert_not(vhu_vring_start(p.dev, 0, &c, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    c.num = 64;
    c.used_uaddr += 0x40000; /* outside the table */
    cr_assert_not(vhu_vring_start(p.dev, 0, &c, &err));
    cr_assert(strstr(err->message, "outside the memory table"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_not(vhu_vring_stop(p.dev, 0, NULL, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert(vhu_vring_config_from_guest(map, &qc, 0, &c, &err));
    cr_assert(vhu_vring_set_kick(p.dev, 0, efd, &err));
    cr_assert_not(vhu_vring_set_kick(p.dev, 0, 9999, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert(vhu_vring_start(p.dev, 0, &c, &err), "%s", err ? err->message : "");
    cr_assert_not(vhu_vring_start(p.dev, 0, &c, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert_not(vhu_vring_set_kick(p.dev, 0, efd, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert_not(vhu_set_features(p.dev, V1, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    /* No CONFIG, no STATUS: refused locally; SET_STATUS is a no-op. */
    {
        uint8_t b[4], st;

        cr_assert_not(vhu_get_config(p.dev, 0, b, 4, &err));
        cr_assert_eq(err->code, VHU_ERROR_UNSUPPORTED);
        g_clear_error(&err);
        cr_assert_not(vhu_get_config(p.dev, 250, b, 8, &err));
        cr_assert_eq(err->code, VHU_ERROR_INVALID);
        g_clear_error(&err);
        cr_assert(vhu_set_status(p.dev, 0xf, &err));
        cr_assert_not(vhu_get_status(p.dev, &st, &err));
        cr_assert_eq(err->code, VHU_ERROR_UNSUPPORTED);
        g_clear_error(&err);
    }
    close(efd);
    pair_free(&p);
    vmem_map_free(map);
}

Test(frontend, memory_table_checks)
{
    Pair p;
    GError *err = NULL;
    VMemMap *map = NULL;
    int mfd = memfd_create("extra", MFD_CLOEXEC);
    void *host;
    VhuMemRegion r;

    pair_simple(&p, V1);
    cr_assert(vhu_set_features(p.dev, V1, &err));
    {
        Sent m;

        take_expect(p.be, VHU_REQ_SET_FEATURES, &m);
    }
    /* An anonymous region cannot be shared. */
    cr_assert_eq(vmem_map_new(&map), 0);
    cr_assert_eq(vmem_map_add_anon(map, 0, 0x10000), 0);
    cr_assert_not(vhu_set_mem_table(p.dev, map, &err));
    cr_assert(strstr(err->message, "not backed by a file descriptor"), "%s", err->message);
    g_clear_error(&err);
    vmem_map_free(map);
    /* Nine regions do not fit in one table. */
    cr_assert_eq(vmem_map_new(&map), 0);
    for (unsigned i = 0; i < 9; i++) {
        cr_assert_eq(vmem_map_add_memfd(map, i * 0x100000ull, 0x10000, NULL, 0), 0);
    }
    cr_assert_not(vhu_set_mem_table(p.dev, map, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert_eq(vmem_map_remove(map, 8 * 0x100000ull), 0);
    cr_assert(vhu_set_mem_table(p.dev, map, &err), "%s", err ? err->message : "");
    {
        Sent m;

        take_expect(p.be, VHU_REQ_SET_MEM_TABLE, &m);
        cr_assert_eq(m.nfds, 8u);
        cr_assert_eq(m.hdr.size, VHU_MEM_TABLE_SIZE(8));
        sent_close(&m);
    }
    /* Extra regions: the table is full now; overlaps are refused. */
    cr_assert_eq(ftruncate(mfd, 0x10000), 0);
    host = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
    cr_assert_neq(host, MAP_FAILED);
    r = (VhuMemRegion){ .gpa = 0x1000000000ull, .size = 0x10000, .host = host, .fd = mfd };
    cr_assert_not(vhu_add_mem_region(p.dev, &r, &err));
    cr_assert(strstr(err->message, "table full"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_eq(vmem_map_remove(map, 7 * 0x100000ull), 0);
    cr_assert(vhu_set_mem_table(p.dev, map, &err));
    {
        Sent m;

        take_expect(p.be, VHU_REQ_SET_MEM_TABLE, &m);
        sent_close(&m);
    }
    r.gpa = 0x8000; /* overlaps guest RAM */
    cr_assert_not(vhu_add_mem_region(p.dev, &r, &err));
    cr_assert(strstr(err->message, "overlaps"), "%s", err->message);
    g_clear_error(&err);
    r.gpa = 0x1000000000ull;
    r.fd = -1;
    cr_assert_not(vhu_add_mem_region(p.dev, &r, &err));
    g_clear_error(&err);
    r.fd = mfd;
    cr_assert(vhu_add_mem_region(p.dev, &r, &err), "%s", err ? err->message : "");
    {
        Sent m;
        VhuMemTableMsg t;

        take_expect(p.be, VHU_REQ_SET_MEM_TABLE, &m);
        cr_assert_eq(m.nfds, 8u);
        memcpy(&t, m.payload, m.hdr.size);
        cr_assert_eq(t.nregions, 8u);
        cr_assert_eq(t.regions[7].gpa, 0x1000000000ull);
        cr_assert_eq(t.regions[7].uaddr, (uint64_t)(uintptr_t)host);
        sent_close(&m);
    }
    cr_assert_not(vhu_remove_mem_region(p.dev, 0x42, &err));
    g_clear_error(&err);
    cr_assert(vhu_remove_mem_region(p.dev, 0x1000000000ull, &err));
    {
        Sent m;

        take_expect(p.be, VHU_REQ_SET_MEM_TABLE, &m);
        cr_assert_eq(m.nfds, 7u);
        sent_close(&m);
    }
    munmap(host, 0x10000);
    close(mfd);
    vmem_map_free(map);
    pair_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Server mode: restore on reconnection                                      */

typedef struct LoopLog {
    int watched;
    unsigned adds, removes, timers;
    int64_t last_timer;
} LoopLog;

static void log_add(int fd, unsigned events, void *opaque)
{
    LoopLog *l = opaque;

    cr_assert(events & VHU_EVENT_IN);
    cr_assert_eq(l->watched, -1, "add_watch while %d is watched", l->watched);
    l->watched = fd;
    l->adds++;
}

static void log_remove(int fd, void *opaque)
{
    LoopLog *l = opaque;

    cr_assert_eq(l->watched, fd, "remove_watch(%d) while %d is watched", fd, l->watched);
    cr_assert(fcntl(fd, F_GETFD) >= 0, "fd %d closed before remove_watch", fd);
    l->watched = -1;
    l->removes++;
}

static void log_timer(int64_t ms, void *opaque)
{
    LoopLog *l = opaque;

    l->timers++;
    l->last_timer = ms;
}

static const VhuLoop log_loop = { log_add, log_remove, log_timer };

static int connect_to(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    strcpy(sun.sun_path, path);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    return fd;
}

/* Reads the restore sequence after a (re)connection; returns the base. */
static uint32_t expect_ring_restore(int be, unsigned nregions)
{
    static const uint32_t seq[] = { VHU_REQ_SET_VRING_CALL, VHU_REQ_SET_VRING_NUM,
                                    VHU_REQ_SET_VRING_BASE, VHU_REQ_SET_VRING_ADDR,
                                    VHU_REQ_SET_VRING_KICK };
    uint32_t base = 0;
    Sent m;

    take_expect(be, VHU_REQ_SET_FEATURES, &m);
    cr_assert_eq(sent_u64(&m), V1);
    take_expect(be, VHU_REQ_SET_MEM_TABLE, &m);
    cr_assert_eq(m.nfds, nregions);
    sent_close(&m);
    for (unsigned i = 0; i < G_N_ELEMENTS(seq); i++) {
        take_expect(be, seq[i], &m);
        if (seq[i] == VHU_REQ_SET_VRING_BASE) {
            VhuVringStateMsg st;

            memcpy(&st, m.payload, sizeof(st));
            cr_assert_eq(st.index, 0u);
            base = st.num;
        }
        if (seq[i] == VHU_REQ_SET_VRING_CALL || seq[i] == VHU_REQ_SET_VRING_KICK) {
            cr_assert_eq(m.nfds, 1u, "%s without its fd", vhu_request_name(seq[i]));
            cr_assert_eq(sent_u64(&m), 0u);
        }
        sent_close(&m);
    }
    expect_none(be);
    return base;
}

Test(frontend, server_restore_sequence)
{
    char *dir = t_tmpdir();
    char *path = g_strdup_printf("%s/s.sock", dir);
    VhuDev *dev = t_dev_new(VHU_MODE_SERVER, path, 200);
    LoopLog log = { .watched = -1 };
    TEvents ev;
    GError *err = NULL;
    VqConfig qc;
    VMemMap *map = small_guest(&qc);
    VhuVringConfig c;
    int efd = eventfd(0, EFD_CLOEXEC), listen_fd, be, fds_up;
    Sent m;

    t_dev_listen(dev, &ev);
    vhu_set_loop(dev, &log_loop, &log);
    cr_assert(vhu_open(dev, &err), "%s", err ? err->message : "");
    listen_fd = log.watched;
    cr_assert(listen_fd >= 0 && listen_fd == vhu_get_fd(dev, NULL));

    /* First back-end. */
    be = connect_to(path);
    put_u64(be, VHU_REQ_GET_FEATURES, V1);
    vhu_dispatch(dev, listen_fd, VHU_EVENT_IN);
    cr_assert(vhu_is_up(dev));
    cr_assert_neq(log.watched, listen_fd, "the connection should be watched now");
    take_expect(be, VHU_REQ_GET_FEATURES, &m);
    take_expect(be, VHU_REQ_SET_OWNER, &m);
    cr_assert(vhu_set_features(dev, V1, &err));
    cr_assert(vhu_set_mem_table(dev, map, &err));
    cr_assert(vhu_vring_set_kick(dev, 0, efd, &err));
    cr_assert(vhu_vring_set_call(dev, 0, efd, &err));
    cr_assert(vhu_vring_config_from_guest(map, &qc, 5, &c, &err));
    cr_assert(vhu_vring_start(dev, 0, &c, &err));
    cr_assert_eq(expect_ring_restore(be, 1), 5u);
    fds_up = t_count_fds();

    /* The back-end dies with requests in flight: used->idx is 3. */
    cr_assert_eq(vmem_write_le16(map, qc.device_addr + 2, 3), 0);
    close(be);
    vhu_dispatch(dev, log.watched, VHU_EVENT_HUP);
    cr_assert_eq(ev.downs, 1);
    cr_assert_eq(ev.last_down_code, VHU_ERROR_IO);
    cr_assert(strstr(ev.last_down_msg, "back-end hung up"), "%s", ev.last_down_msg);
    cr_assert_eq(log.watched, listen_fd, "not listening again");
    cr_assert(vhu_vring_is_started(dev, 0), "the ring must survive the disconnection");

    /* A back-end lacking VERSION_1 is refused; the front-end keeps listening. */
    be = connect_to(path);
    put_u64(be, VHU_REQ_GET_FEATURES, 0);
    vhu_dispatch(dev, listen_fd, VHU_EVENT_IN);
    cr_assert_not(vhu_is_up(dev));
    cr_assert_eq(ev.fails, 1);
    cr_assert_eq(ev.last_fail_code, VHU_ERROR_FEATURE);
    cr_assert(strstr(ev.last_fail_msg, "lacks feature bit(s) 32 accepted before"), "%s",
              ev.last_fail_msg);
    cr_assert_eq(log.watched, listen_fd);
    close(be);

    /* A good one: everything is restored, the ring from used->idx. */
    be = connect_to(path);
    put_u64(be, VHU_REQ_GET_FEATURES, V1);
    vhu_dispatch(dev, listen_fd, VHU_EVENT_IN);
    cr_assert(vhu_is_up(dev));
    cr_assert_eq(ev.ups, 2);
    take_expect(be, VHU_REQ_GET_FEATURES, &m);
    take_expect(be, VHU_REQ_SET_OWNER, &m);
    cr_assert_eq(expect_ring_restore(be, 1), 3u);
    cr_assert_eq(t_count_fds(), fds_up, "fd leak across the reconnection");

    /* An unsolicited message while idle ends the link. */
    put_u64(be, VHU_REQ_GET_FEATURES, V1);
    vhu_dispatch(dev, log.watched, VHU_EVENT_IN);
    cr_assert_eq(ev.downs, 2);
    cr_assert_eq(ev.last_down_code, VHU_ERROR_PROTOCOL);
    close(be);
    /* A stale fd is ignored. */
    vhu_dispatch(dev, 1000, VHU_EVENT_IN);

    vhu_free(dev);
    cr_assert_eq(log.watched, -1, "the loop still watches an fd after vhu_free");
    cr_assert_neq(access(path, F_OK), 0, "socket file left behind");
    close(efd);
    vmem_map_free(map);
    g_free(path);
    t_rmtree(dir);
}

Test(frontend, server_refuses_to_replace_a_file)
{
    char *dir = t_tmpdir();
    char *path = g_strdup_printf("%s/not-a-socket", dir);
    VhuDev *dev;
    GError *err = NULL;
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

    close(fd);
    dev = t_dev_new(VHU_MODE_SERVER, path, 200);
    cr_assert_not(vhu_open(dev, &err));
    cr_assert_eq(err->code, VHU_ERROR_SOCKET, "%s", err->message);
    cr_assert(strstr(err->message, "bind"), "%s", err->message);
    g_clear_error(&err);
    cr_assert_eq(access(path, F_OK), 0, "a regular file was removed");
    vhu_free(dev);
    g_free(path);
    t_rmtree(dir);
}

Test(frontend, open_and_attach_mistakes)
{
    char *dir = t_tmpdir();
    char *file = g_strdup_printf("%s/file", dir);
    char *below_file = g_strdup_printf("%s/file/vhu.sock", dir);
    char *sock = g_strdup_printf("%s/vhu.sock", dir);
    int fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    GError *err = NULL;
    VhuDev *dev;
    int fe, be, fe2, be2;

    close(fd);
    cr_assert_not(vhu_open(NULL, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);

    /* Client mode: a path that cannot become a socket is an error at once
     * (no retry); a path where nobody listens yet is retried. */
    dev = t_dev_new(VHU_MODE_CLIENT, below_file, 200);
    cr_assert_not(vhu_open(dev, &err));
    cr_assert_eq(err->code, VHU_ERROR_SOCKET, "%s", err->message);
    cr_assert(strstr(err->message, "Not a directory"), "%s", err->message);
    g_clear_error(&err);
    vhu_free(dev);
    dev = t_dev_new(VHU_MODE_CLIENT, sock, 200);
    cr_assert(vhu_open(dev, &err), "%s", err ? err->message : "");
    cr_assert_not(vhu_is_up(dev));
    vhu_free(dev);

    /* Server mode: opening twice. */
    dev = t_dev_new(VHU_MODE_SERVER, sock, 200);
    cr_assert(vhu_open(dev, &err), "%s", err ? err->message : "");
    cr_assert_not(vhu_open(dev, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    vhu_free(dev);

    /* Handing over descriptors: bad arguments, and a second back-end while
     * one is connected (the descriptor handed over is closed either way). */
    dev = fd_dev(200, 0, 1);
    cr_assert_not(vhu_attach_fd(NULL, -1, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    cr_assert_not(vhu_attach_fd(dev, -1, &err));
    cr_assert_eq(err->code, VHU_ERROR_INVALID);
    g_clear_error(&err);
    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1);
    cr_assert(vhu_attach_fd(dev, fe, &err), "%s", err ? err->message : "");
    pair_sockets(&fe2, &be2);
    cr_assert_not(vhu_attach_fd(dev, fe2, &err));
    cr_assert_eq(err->code, VHU_ERROR_STATE);
    g_clear_error(&err);
    cr_assert_eq(fcntl(fe2, F_GETFD), -1, "the refused descriptor is closed");
    cr_assert_eq(errno, EBADF);
    cr_assert(vhu_is_up(dev));
    vhu_free(dev);
    close(be);
    close(be2);
    g_free(file);
    g_free(below_file);
    g_free(sock);
    t_rmtree(dir);
}

/* ------------------------------------------------------------------------ */
/* Client mode back-off                                                      */

Test(frontend, client_backoff_and_give_up)
{
    char *dir = t_tmpdir();
    char *path = g_strdup_printf("%s/nobody.sock", dir);
    VhuOptions o;
    VhuDev *dev = NULL;
    LoopLog log = { .watched = -1 };
    TEvents ev;
    GError *err = NULL;
    int64_t delays[4];

    vhu_options_init(&o);
    o.path = path;
    o.retry_initial_ms = 5;
    o.retry_max_ms = 15;
    o.retry_max_attempts = 4;
    cr_assert(vhu_new(&o, &dev, &err));
    t_dev_listen(dev, &ev);
    vhu_set_loop(dev, &log_loop, &log);
    cr_assert(vhu_open(dev, &err), "nobody listening is not an error");
    for (unsigned i = 0; i < 3; i++) {
        int64_t t = vhu_get_timeout(dev);

        cr_assert(t >= 0, "attempt %u: no retry pending", i);
        delays[i] = log.last_timer;
        /* A bounded wait for the timer the front-end asked for. */
        poll(NULL, 0, (int)t + 1);
        vhu_dispatch_timer(dev);
    }
    cr_assert_eq(ev.fails, 1, "gave up after 4 attempts");
    cr_assert_eq(ev.last_fail_code, VHU_ERROR_GAVE_UP);
    cr_assert(strstr(ev.last_fail_msg, "after 4 attempts"), "%s", ev.last_fail_msg);
    cr_assert_eq(vhu_get_timeout(dev), -1);
    cr_assert_eq(log.last_timer, -1, "timer not cancelled");
    cr_assert_not(vhu_wait_link_up(dev, 10, &err));
    cr_assert_eq(err->code, VHU_ERROR_GAVE_UP);
    g_clear_error(&err);
    /* Back-off: 5, 10, 15 (capped), exactly as scheduled. */
    cr_assert_eq(delays[0], 5);
    cr_assert_eq(delays[1], 10);
    cr_assert_eq(delays[2], 15);
    /* vhu_reconnect starts again. */
    vhu_reconnect(dev);
    cr_assert(vhu_get_timeout(dev) >= 0);
    vhu_free(dev);
    g_free(path);
    t_rmtree(dir);
}

/* ------------------------------------------------------------------------ */
/* Rings: stop, base checks, inflight, restore hook                          */

static bool hook_base(VhuDev *dev, unsigned index, uint32_t *ret, void *opaque)
{
    (void)dev;
    (void)index;
    *ret = *(uint32_t *)opaque;
    return true;
}

static void started_pair(Pair *p, VMemMap **map, VqConfig *qc, uint32_t base)
{
    GError *err = NULL;
    VhuVringConfig c;
    Sent m;

    pair_simple(p, V1);
    *map = small_guest(qc);
    cr_assert(vhu_set_features(p->dev, V1, &err));
    cr_assert(vhu_set_mem_table(p->dev, *map, &err));
    cr_assert(vhu_vring_config_from_guest(*map, qc, base, &c, &err));
    cr_assert(vhu_vring_start(p->dev, 0, &c, &err));
    while (take(p->be, &m)) {
        sent_close(&m);
    }
}

Test(frontend, vring_stop_checks_the_base)
{
    static const struct {
        uint32_t index, num;
        const char *text;
    } cases[] = {
        { 1, 10, "reply for ring 1, expected 0" },
        { 0, 10 + 65, "inconsistent" },  /* used 10, ring of 64 */
        { 0, 9, "inconsistent" },        /* behind used */
        { 0, 0x10000 + 10, "inconsistent" },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        Pair p;
        VMemMap *map;
        VqConfig qc;
        GError *err = NULL;
        uint32_t base = 0;
        VhuVringStateMsg st = { cases[i].index, cases[i].num };

        started_pair(&p, &map, &qc, 0);
        cr_assert_eq(vmem_write_le16(map, qc.device_addr + 2, 10), 0);
        put(p.be, VHU_REQ_GET_VRING_BASE, 5, &st, sizeof(st), NULL, 0);
        cr_assert(vhu_vring_stop(p.dev, 0, &base, &err), "%s", err ? err->message : "");
        cr_assert_eq(base, 10u, "case %u: fallback base %u", i, base);
        cr_assert_eq(p.ev.downs, 1, "case %u: link kept", i);
        cr_assert(strstr(p.ev.last_down_msg, cases[i].text), "case %u: %s", i,
                  p.ev.last_down_msg);
        pair_free(&p);
        vmem_map_free(map);
    }
    {
        /* A sane reply: 10 + 64 is the most a ring of 64 can be ahead. */
        Pair p;
        VMemMap *map;
        VqConfig qc;
        GError *err = NULL;
        uint32_t base = 0;
        VhuVringStateMsg st = { 0, 74 };

        started_pair(&p, &map, &qc, 0);
        cr_assert_eq(vmem_write_le16(map, qc.device_addr + 2, 10), 0);
        put(p.be, VHU_REQ_GET_VRING_BASE, 5, &st, sizeof(st), NULL, 0);
        cr_assert(vhu_vring_stop(p.dev, 0, &base, &err));
        cr_assert_eq(base, 74u);
        cr_assert(vhu_is_up(p.dev));
        pair_free(&p);
        vmem_map_free(map);
    }
}

Test(frontend, vring_stop_disconnected)
{
    Pair p;
    VMemMap *map;
    VqConfig qc;
    GError *err = NULL;
    uint32_t base = 0, hooked = 0x8123;
    VhuListener l = { .restore_vring_base = hook_base };
    VhuVringConfig c;

    started_pair(&p, &map, &qc, 0);
    cr_assert_eq(vmem_write_le16(map, qc.device_addr + 2, 77), 0);
    close(p.be);
    vhu_dispatch(p.dev, vhu_get_fd(p.dev, NULL), VHU_EVENT_HUP);
    cr_assert_eq(p.ev.downs, 1);
    cr_assert(vhu_vring_stop(p.dev, 0, &base, &err));
    cr_assert_eq(base, 77u);
    /* A listener decides instead. */
    cr_assert(vhu_vring_config_from_guest(map, &qc, 0, &c, &err));
    cr_assert(vhu_vring_start(p.dev, 0, &c, &err), "start while disconnected is recorded");
    cr_assert(vhu_add_listener(p.dev, &l, &hooked) > 0);
    cr_assert(vhu_vring_stop(p.dev, 0, &base, &err));
    cr_assert_eq(base, hooked);
    vhu_free(p.dev);
    vmem_map_free(map);
}

Test(frontend, inflight_region)
{
    VhuDev *dev = fd_dev(200, UINT64_C(1) << VHU_PROTOCOL_F_INFLIGHT_SHMFD, 1);
    GError *err = NULL;
    VqConfig qc;
    VMemMap *map = small_guest(&qc);
    VhuVringConfig c;
    VhuInflightMsg in = { 0 };
    int fe, be, mfd = memfd_create("inflight", MFD_CLOEXEC);
    Sent m;
    VhuStats st;

    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1 | PROTO_BIT);
    put_u64(be, VHU_REQ_GET_PROTOCOL_FEATURES, UINT64_C(1) << VHU_PROTOCOL_F_INFLIGHT_SHMFD);
    cr_assert(vhu_attach_fd(dev, fe, &err), "%s", err ? err->message : "");
    cr_assert(vhu_set_features(dev, V1, &err));
    cr_assert(vhu_set_mem_table(dev, map, &err));
    cr_assert_eq(ftruncate(mfd, 8192), 0);
    in.mmap_size = 8192;
    put(be, VHU_REQ_GET_INFLIGHT_FD, 5, &in, sizeof(in), &mfd, 1);
    cr_assert(vhu_vring_config_from_guest(map, &qc, 0, &c, &err));
    cr_assert(vhu_vring_start(dev, 0, &c, &err), "%s", err ? err->message : "");
    vhu_get_stats(dev, &st);
    cr_assert(st.has_inflight);
    do {
        cr_assert(take(be, &m), "SET_MEM_TABLE never sent");
        sent_close(&m);
    } while (m.hdr.request != VHU_REQ_SET_MEM_TABLE);
    take_expect(be, VHU_REQ_GET_INFLIGHT_FD, &m);
    memcpy(&in, m.payload, sizeof(in));
    cr_assert_eq(m.hdr.size, 24u, "the inflight payload is 24 bytes on the wire");
    cr_assert_eq(in.num_queues, 1);
    cr_assert_eq(in.queue_size, 256);
    take_expect(be, VHU_REQ_SET_INFLIGHT_FD, &m);
    memcpy(&in, m.payload, sizeof(in));
    cr_assert_eq(m.nfds, 1u);
    cr_assert_eq(in.mmap_size, 8192u);
    sent_close(&m);
    take_expect(be, VHU_REQ_SET_VRING_CALL, &m);
    cr_assert_eq(sent_u64(&m), VHU_VRING_NOFD_MASK, "no call fd: the NOFD bit");
    cr_assert_eq(m.nfds, 0u);
    vhu_free(dev);
    close(be);
    close(mfd);
    vmem_map_free(map);
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

typedef struct Rm {
    VhuDev *dev;
    unsigned self, other, calls;
} Rm;

static void rm_up(VhuDev *dev, void *opaque)
{
    Rm *r = opaque;

    (void)dev;
    r->calls++;
    vhu_remove_listener(r->dev, r->self);
    vhu_remove_listener(r->dev, r->other);
}

static void counter_up(VhuDev *dev, void *opaque)
{
    (void)dev;
    (*(unsigned *)opaque)++;
}

Test(frontend, listener_removed_in_callback)
{
    VhuDev *dev = fd_dev(200, 0, 1);
    VhuListener l1 = { .link_up = rm_up }, l2 = { .link_up = counter_up };
    Rm r = { .dev = dev };
    unsigned other_calls = 0;
    GError *err = NULL;
    int fe, be;

    r.self = vhu_add_listener(dev, &l1, &r);
    r.other = vhu_add_listener(dev, &l2, &other_calls);
    cr_assert(r.self && r.other && r.self != r.other);
    cr_assert_eq(vhu_add_listener(dev, NULL, NULL), 0u);
    pair_sockets(&fe, &be);
    put_u64(be, VHU_REQ_GET_FEATURES, V1);
    cr_assert(vhu_attach_fd(dev, fe, &err));
    cr_assert_eq(r.calls, 1u);
    cr_assert_eq(other_calls, 0u, "a listener removed by an earlier one was called");
    vhu_free(dev);
    close(be);
}
