/* SPDX-License-Identifier: MIT */
/*
 * Server features: input limits with QEMU's messages, events and their rate
 * limits, slow clients, back-pressure, listeners (unix path, caller's fd,
 * loopback TCP, socketpair), the watch API, the GSource, API misuse.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-test-cmds.h"
#include "qmp-test-util.h"

static int fd_baseline;

static void init(void)
{
    fd_baseline = tu_fd_count();
}

static void fini(void)
{
    cr_expect_eq(tu_fd_count(), fd_baseline, "descriptors back to baseline");
}

TestSuite(server, .init = init, .fini = fini);

static TuServer *start(const QmpServerConfig *cfg, TuClient **ret)
{
    TuServer *ts = tu_server_new(cfg);

    tc_register(ts->srv);
    *ret = tu_connect(ts->path, ts->srv);
    tu_negotiate(*ret);
    return ts;
}

static void expect_reply(TuClient *c, const char *want)
{
    char *r = tu_line(c);
    cr_expect_str_eq(r, want);
    g_free(r);
}

static void expect_echo_ok(TuClient *c)
{
    char *r = tu_cmd(c, "{\"execute\": \"test-echo\", \"id\": \"alive\"}");
    cr_expect_str_eq(r, "{\"return\": {}, \"id\": \"alive\"}");
    g_free(r);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */

static void send_string_array(TuClient *c, size_t k)
{
    GString *m = g_string_new("[\"");
    for (size_t i = 0; i < k; i++) {
        g_string_append_c(m, 'a');
    }
    g_string_append(m, "\"]");
    tu_send(c, m->str, m->len, NULL, 0);
    g_string_free(m, TRUE);
}

Test(server, size_limit_boundary)
{
    QmpServerConfig cfg = { .max_message_size = 64 };
    TuClient *c;
    TuServer *ts = start(&cfg, &c);
    JsonNode *r;

    /* Tokens of ["aaa"] total k + 4 bytes; QEMU refuses when that plus one
     * exceeds the limit. */
    send_string_array(c, 59);
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "QMP input must be a JSON object");
    json_node_unref(r);
    send_string_array(c, 60);
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "JSON token size limit exceeded");
    json_node_unref(r);
    /* One error only: the rest of that message was skipped. */
    expect_echo_ok(c);
    tu_client_free(c);
    tu_server_free(ts);
}

Test(server, default_size_limit_one_mib)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);
    GString *m = g_string_new("{\"execute\": \"test-echo\", \"id\": \"");
    size_t base = m->len;
    JsonNode *r;

    g_string_set_size(m, base + QMP_DEFAULT_MAX_MESSAGE_SIZE - 100);
    memset(m->str + base, 'x', QMP_DEFAULT_MAX_MESSAGE_SIZE - 100);
    g_string_append(m, "\"}");
    tu_send(c, m->str, m->len, NULL, 0);
    r = tu_json(c);
    cr_expect_null(tu_err_class(r), "just below 1 MiB is accepted");
    json_node_unref(r);

    /* 1 MiB + a bit, with commas, brackets and quotes inside the string
     * so that skipping must follow the string to find the end. */
    g_string_truncate(m, base);
    for (size_t i = 0; i < QMP_DEFAULT_MAX_MESSAGE_SIZE / 4; i++) {
        g_string_append(m, "{[,]");
    }
    g_string_append(m, "\", \"arguments\": {\"a\": [1, 2, {\"b\": \"}}}\"}]}}");
    tu_send(c, m->str, m->len, NULL, 0);
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "JSON token size limit exceeded");
    json_node_unref(r);
    expect_echo_ok(c);
    g_string_free(m, TRUE);
    tu_client_free(c);
    tu_server_free(ts);
}

Test(server, nesting_limit)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);
    GString *m = g_string_new(NULL);
    JsonNode *r;

    for (int i = 0; i < 1024; i++) {
        g_string_append_c(m, '[');
    }
    for (int i = 0; i < 1024; i++) {
        g_string_append_c(m, ']');
    }
    tu_send(c, m->str, m->len, NULL, 0);
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "QMP input must be a JSON object", "1024 levels are fine");
    json_node_unref(r);

    g_string_truncate(m, 0);
    g_string_append(m, "{\"execute\": \"test-echo\", \"arguments\": {\"a\": ");
    for (int i = 0; i < 1100; i++) {
        g_string_append(m, i % 2 ? "[" : "{\"k\": ");
    }
    for (int i = 1100; i-- > 0;) {
        g_string_append(m, i % 2 ? "]" : "}");
    }
    g_string_append(m, "}}");
    tu_send(c, m->str, m->len, NULL, 0);
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "JSON nesting depth limit exceeded");
    json_node_unref(r);
    expect_echo_ok(c);
    g_string_free(m, TRUE);
    tu_client_free(c);
    tu_server_free(ts);
}

static void send_int_array(TuClient *c, int n)
{
    GString *m = g_string_new("[");
    for (int i = 0; i < n; i++) {
        g_string_append(m, i ? ",1" : "1");
    }
    g_string_append_c(m, ']');
    tu_send(c, m->str, m->len, NULL, 0);
    g_string_free(m, TRUE);
}

Test(server, token_count_limit)
{
    QmpServerConfig cfg = { .max_tokens = 100 };
    TuClient *c;
    TuServer *ts = start(&cfg, &c);
    JsonNode *r;

    send_int_array(c, 49);      /* 99 tokens */
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "QMP input must be a JSON object");
    json_node_unref(r);
    send_int_array(c, 50);      /* 101 tokens */
    r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "JSON token count limit exceeded");
    json_node_unref(r);
    expect_echo_ok(c);
    tu_client_free(c);
    tu_server_free(ts);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static int64_t fake_now;

static int64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_now;
}

static JsonObject *data_with(const char *key, JsonNode *value)
{
    JsonObject *o = json_object_new();
    json_object_set_member(o, key, value);
    return o;
}

static JsonNode *int_node(gint64 v)
{
    JsonNode *n = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(n, v);
    return n;
}

static void emit(QmpServer *srv, const char *name, JsonObject *data)
{
    GError *err = NULL;
    cr_assert(qmp_server_emit_event(srv, name, data, &err), "%s", err ? err->message : "");
    if (data) {
        json_object_unref(data);
    }
}

/* Reads an event line, checks its shape and returns its "data" member
 * as JSON text ("none" without). */
static char *read_event(TuClient *c, const char *name, gint64 *ret_us)
{
    char *line = tu_line(c);
    JsonNode *n;
    JsonParser *p = json_parser_new();
    JsonObject *o, *ts;
    char *tail, *data;

    cr_assert(json_parser_load_from_data(p, line, -1, NULL), "%s", line);
    n = json_parser_get_root(p);
    o = json_node_get_object(n);
    cr_assert(g_str_has_prefix(line, "{\"timestamp\": {\"seconds\": "), "%s", line);
    tail = g_strdup_printf("}, \"event\": \"%s\"", name);
    cr_assert(strstr(line, tail), "%s", line);
    g_free(tail);
    ts = json_object_get_object_member(o, "timestamp");
    cr_expect_eq(json_object_get_size(ts), 2u);
    gint64 us = json_object_get_int_member(ts, "seconds") * G_USEC_PER_SEC +
                json_object_get_int_member(ts, "microseconds");
    cr_expect_lt(json_object_get_int_member(ts, "microseconds"), G_USEC_PER_SEC);
    if (ret_us) {
        *ret_us = us;
    }
    if (json_object_has_member(o, "data")) {
        JsonGenerator *g = json_generator_new();
        json_generator_set_root(g, json_object_get_member(o, "data"));
        data = json_generator_to_data(g, NULL);
        g_object_unref(g);
    } else {
        data = g_strdup("none");
    }
    g_object_unref(p);
    g_free(line);
    return data;
}

static void expect_event(TuClient *c, const char *name, const char *data)
{
    char *d = read_event(c, name, NULL);
    cr_expect_str_eq(d, data);
    g_free(d);
}

Test(server, events_to_negotiated_monitors_only)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);
    TuClient *fresh = tu_connect(ts->path, ts->srv);
    gint64 before = g_get_real_time(), at;
    char *d;

    g_free(tu_line(fresh));     /* greeting, but no negotiation */
    emit(ts->srv, "TEST_EVENT", data_with("a", int_node(1)));
    d = read_event(c, "TEST_EVENT", &at);
    cr_expect_str_eq(d, "{\"a\":1}");
    g_free(d);
    cr_expect(at >= before - G_USEC_PER_SEC && at <= g_get_real_time() + G_USEC_PER_SEC,
              "timestamp is the wall clock");
    emit(ts->srv, "NO_DATA", NULL);
    expect_event(c, "NO_DATA", "none");
    cr_expect(!tu_line_ready(fresh, 50), "not sent before negotiation");
    /* Events emitted by a command go out before its reply. */
    tu_send_str(c, "{\"execute\": \"test-emit\", \"arguments\": {\"name\": \"FROM_CMD\"}}");
    expect_event(c, "FROM_CMD", "none");
    expect_reply(c, "{\"return\": {}}");
    tu_client_free(fresh);
    tu_client_free(c);
    tu_server_free(ts);
}

Test(server, event_rate_limit)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);
    GError *err = NULL;
    gint64 t3_before, t3_after, at;
    char *d;

    fake_now = 1000000000;
    qmp_server_set_clock(ts->srv, fake_clock, NULL);
    cr_assert(qmp_server_set_event_rate(ts->srv, "RATED", 1000000000, NULL, &err));
    cr_expect_eq(qmp_server_timeout_ms(ts->srv), -1);

    emit(ts->srv, "RATED", data_with("n", int_node(1)));
    expect_event(c, "RATED", "{\"n\":1}");
    cr_expect_eq(qmp_server_timeout_ms(ts->srv), 1000);
    emit(ts->srv, "RATED", data_with("n", int_node(2)));
    t3_before = g_get_real_time();
    emit(ts->srv, "RATED", data_with("n", int_node(3)));
    t3_after = g_get_real_time();
    emit(ts->srv, "OTHER", NULL);
    expect_event(c, "OTHER", "none");       /* other events are not held */

    fake_now += 999999999;
    qmp_server_dispatch_timers(ts->srv);
    cr_expect(!tu_line_ready(c, 20), "nothing before the period ends");
    cr_expect_eq(qmp_server_timeout_ms(ts->srv), 1);
    fake_now += 1;
    qmp_server_dispatch_timers(ts->srv);
    /* Only the last one, with the time it was emitted. */
    d = read_event(c, "RATED", &at);
    cr_expect_str_eq(d, "{\"n\":3}");
    g_free(d);
    cr_expect(at >= t3_before && at <= t3_after);
    cr_expect(!tu_line_ready(c, 20));

    /* A new period started when it was sent. */
    emit(ts->srv, "RATED", data_with("n", int_node(4)));
    cr_expect(!tu_line_ready(c, 20));
    fake_now += 1000000000;
    qmp_server_dispatch_timers(ts->srv);
    expect_event(c, "RATED", "{\"n\":4}");
    /* A period with nothing held ends the throttle. */
    fake_now += 1000000000;
    qmp_server_dispatch_timers(ts->srv);
    cr_expect_eq(qmp_server_timeout_ms(ts->srv), -1);
    emit(ts->srv, "RATED", data_with("n", int_node(5)));
    expect_event(c, "RATED", "{\"n\":5}");

    /* Removing the limit sends what is held at once. */
    emit(ts->srv, "RATED", data_with("n", int_node(6)));
    cr_expect(!tu_line_ready(c, 20));
    cr_assert(qmp_server_set_event_rate(ts->srv, "RATED", 0, NULL, &err));
    expect_event(c, "RATED", "{\"n\":6}");
    emit(ts->srv, "RATED", data_with("n", int_node(7)));
    expect_event(c, "RATED", "{\"n\":7}");
    tu_client_free(c);
    tu_server_free(ts);
}

static JsonNode *str_node(const char *s)
{
    JsonNode *n = json_node_new(JSON_NODE_VALUE);
    json_node_set_string(n, s);
    return n;
}

Test(server, event_rate_limit_per_key)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);

    fake_now = 0;
    qmp_server_set_clock(ts->srv, fake_clock, NULL);
    cr_assert(qmp_server_set_event_rate(ts->srv, "PORT", 100, "id", NULL));
    emit(ts->srv, "PORT", data_with("id", str_node("a")));
    emit(ts->srv, "PORT", data_with("id", str_node("b")));
    emit(ts->srv, "PORT", data_with("id", str_node("a")));
    expect_event(c, "PORT", "{\"id\":\"a\"}");
    expect_event(c, "PORT", "{\"id\":\"b\"}");
    cr_expect(!tu_line_ready(c, 20));
    fake_now = 100;
    cr_expect_eq(qmp_server_timeout_ms(ts->srv), 0);
    qmp_server_dispatch_timers(ts->srv);
    expect_event(c, "PORT", "{\"id\":\"a\"}");
    tu_client_free(c);
    tu_server_free(ts);
}

Test(server, client_not_reading_events_is_dropped)
{
    QmpServerConfig cfg = { .max_output = 64 << 10, .output_pause = 16 << 10 };
    TuClient *slow, *good;
    TuServer *ts = start(&cfg, &slow);
    char big[1024];
    int sent = 0;

    good = tu_connect(ts->path, ts->srv);
    tu_negotiate(good);
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    while (qmp_server_monitor_count(ts->srv) == 2) {
        cr_assert_lt(sent, 100000, "the slow client is never dropped");
        emit(ts->srv, "BIG", data_with("s", str_node(big)));
        sent++;
        while (tu_line_ready(good, 0)) {
            g_free(tu_line(good));
        }
    }
    cr_expect_gt(sent, 64, "dropped only after its buffer filled");
    cr_expect(tu_wait_closed(slow));
    expect_echo_ok(good);
    tu_client_free(slow);
    tu_client_free(good);
    tu_server_free(ts);
}

Test(server, pipelining_client_is_paused_not_dropped)
{
    QmpServerConfig cfg = { .max_output = 64 << 10, .output_pause = 16 << 10 };
    TuClient *c;
    TuServer *ts = start(&cfg, &c);
    const char *cmd = "{\"execute\":\"test-echo\",\"id\":0}";
    size_t len = strlen(cmd);
    int sent = 0, got = 0;

    /* Write without reading until the socket refuses more. */
    for (int stuck = 0; stuck < 50;) {
        ssize_t n = send(c->fd, cmd, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            cr_assert_eq(errno, EAGAIN);
            tu_pump(ts->srv, 1);
            stuck++;
            continue;
        }
        cr_assert_eq((size_t)n, len, "whole command at once");
        sent++;
        if (sent % 64 == 0) {
            tu_pump(ts->srv, 0);
        }
    }
    cr_expect_gt(sent, 2000, "the server read a lot before pausing");
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 1u, "not disconnected");
    /* Now read: every command gets its reply, in order. */
    while (got < sent) {
        char *r = tu_line(c);
        cr_assert_str_eq(r, "{\"return\": {}, \"id\": 0}");
        g_free(r);
        got++;
    }
    cr_expect(!tu_line_ready(c, 20));
    expect_echo_ok(c);
    tu_client_free(c);
    tu_server_free(ts);
}

Test(server, paused_monitor_resumes_after_event_drains_output)
{
    QmpServerConfig cfg = { .max_output = 64 << 10, .output_pause = 16 << 10 };
    TuClient *c;
    TuServer *ts = start(&cfg, &c);
    const char *cmd = "{\"execute\":\"test-echo\",\"id\":0}";
    size_t len = strlen(cmd);
    int sent = 0, got = 0;
    char buf[65536];

    /* Fill everything: the server pauses with input held back. */
    for (int stuck = 0; stuck < 20;) {
        if (send(c->fd, cmd, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            tu_pump(ts->srv, 1);
            stuck++;
            continue;
        }
        sent++;
    }
    /* The client empties its socket without the server running... */
    for (ssize_t n; (n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0;) {
        g_string_append_len(c->in, buf, n);
    }
    /* ...and an event flushes the server's output from outside dispatch. */
    emit(ts->srv, "WAKE", NULL);
    bool woke = false;
    while (got < sent || !woke) {
        char *r = tu_line(c);
        if (g_str_has_prefix(r, "{\"timestamp\"")) {
            woke = true;
            g_free(r);
            continue;
        }
        cr_assert_str_eq(r, "{\"return\": {}, \"id\": 0}", "reply %d of %d", got, sent);
        g_free(r);
        got++;
    }
    expect_echo_ok(c);
    tu_client_free(c);
    tu_server_free(ts);
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

Test(server, loopback_tcp)
{
    QmpServer *srv;
    GError *err = NULL;
    uint16_t port = 0;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    TuClient *c;
    int fd;

    cr_assert(qmp_server_new(NULL, &srv, &err));
    tc_register(srv);
    cr_assert(qmp_server_listen_tcp(srv, NULL, 0, &port, &err), "%s", err ? err->message : "");
    cr_assert_neq(port, 0);
    cr_expect(!qmp_server_listen_tcp(srv, "10.1.2.3", 0, NULL, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_INVALID));
    g_clear_error(&err);
    cr_expect(!qmp_server_listen_tcp(srv, "0.0.0.0", 0, NULL, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_listen_tcp(srv, "not-an-address", 0, NULL, &err));
    g_clear_error(&err);

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    c = tu_client_from_fd(fd, srv);
    char *g = tu_line(c);
    cr_expect_str_eq(g, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, "
                        "\"major\": 0}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}");
    g_free(g);
    g = tu_cmd(c, "{\"execute\": \"qmp_capabilities\"}");
    cr_expect_str_eq(g, "{\"return\": {}}");
    g_free(g);
    tu_expect_error(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}}",
                    "GenericError", "No file descriptor supplied via SCM_RIGHTS");
    tu_client_free(c);
    qmp_server_free(srv);
}

static void count_opened(QmpMonitor *mon, void *opaque)
{
    (void)mon;
    ((int *)opaque)[0]++;
}

static void count_closed(QmpMonitor *mon, void *opaque)
{
    cr_expect_gt(qmp_monitor_get_id(mon), 0u);
    ((int *)opaque)[1]++;
}

Test(server, caller_listening_fd_and_socketpair)
{
    int counts[2] = { 0, 0 };
    QmpMonitorFuncs mf = { count_opened, count_closed };
    QmpServer *srv;
    GError *err = NULL;
    char *dir = g_dir_make_tmp("qmp-test-XXXXXX", NULL);
    char *path = g_build_filename(dir, "s", NULL);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int lfd, sv[2];
    TuClient *c, *p;
    QmpMonitor *mon = NULL;

    cr_assert(qmp_server_new(NULL, &srv, &err));
    qmp_server_set_monitor_funcs(srv, &mf, counts);
    /* Not listening: refused, and closed. */
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    cr_expect(!qmp_server_listen_fd(srv, lfd, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_INVALID));
    g_clear_error(&err);
    cr_expect_eq(fcntl(lfd, F_GETFD), -1, "descriptor closed");

    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    cr_assert(qmp_server_listen_fd(srv, lfd, &err), "%s", err ? err->message : "");
    c = tu_connect(path, srv);
    tu_negotiate(c);

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    cr_assert(qmp_server_add_client(srv, sv[0], &mon, &err));
    cr_assert_not_null(mon);
    cr_expect_eq(qmp_monitor_get_id(mon), 2u);
    cr_expect(!qmp_monitor_is_negotiated(mon));
    p = tu_client_from_fd(sv[1], srv);
    tu_negotiate(p);
    cr_expect(qmp_monitor_is_negotiated(mon));
    cr_expect(!qmp_monitor_oob_enabled(mon));
    cr_expect_eq(qmp_server_monitor_count(srv), 2u);
    cr_expect_eq(counts[0], 2);
    qmp_monitor_disconnect(mon);
    cr_expect_eq(counts[1], 1);
    cr_expect(tu_wait_closed(p));
    cr_expect_eq(qmp_server_monitor_count(srv), 1u);
    cr_expect(!qmp_server_add_client(srv, -1, NULL, &err));
    g_clear_error(&err);

    tu_client_free(p);
    tu_client_free(c);
    qmp_server_free(srv);
    cr_expect_eq(counts[1], 2, "closed on free too");
    unlink(path);
    rmdir(dir);
    g_free(path);
    g_free(dir);
}

Test(server, unix_path_rules)
{
    QmpServer *srv;
    GError *err = NULL;
    char *dir = g_dir_make_tmp("qmp-test-XXXXXX", NULL);
    char *file = g_build_filename(dir, "regular", NULL);
    char *sock = g_build_filename(dir, "sock", NULL);
    char longpath[200];

    cr_assert(qmp_server_new(NULL, &srv, &err));
    cr_assert(g_file_set_contents(file, "x", 1, NULL));
    cr_expect(!qmp_server_listen_unix(srv, file, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_EXISTS));
    g_clear_error(&err);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    cr_expect(!qmp_server_listen_unix(srv, longpath, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_INVALID));
    g_clear_error(&err);
    /* A stale socket file is replaced. */
    cr_assert(qmp_server_listen_unix(srv, sock, &err));
    qmp_server_free(srv);
    cr_expect_eq(access(sock, F_OK), -1, "removed on free");
    cr_assert(qmp_server_new(NULL, &srv, &err));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    g_strlcpy(sa.sun_path, sock, sizeof(sa.sun_path));
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(s);
    cr_expect(qmp_server_listen_unix(srv, sock, &err), "stale socket replaced");
    qmp_server_free(srv);
    unlink(file);
    rmdir(dir);
    g_free(file);
    g_free(sock);
    g_free(dir);
}

Test(server, max_monitors)
{
    QmpServerConfig cfg = { .max_monitors = 2 };
    TuServer *ts = tu_server_new(&cfg);
    TuClient *a = tu_connect(ts->path, ts->srv);
    TuClient *b = tu_connect(ts->path, ts->srv);
    TuClient *x;

    g_free(tu_line(a));
    g_free(tu_line(b));
    x = tu_connect(ts->path, ts->srv);
    cr_expect(tu_wait_closed(x), "third connection refused");
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 2u);
    tu_client_free(x);
    tu_client_free(b);
    for (int i = 0; i < 100 && qmp_server_monitor_count(ts->srv) != 1; i++) {
        tu_pump(ts->srv, 10);
    }
    x = tu_connect(ts->path, ts->srv);
    g_free(tu_line(x));
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 2u);
    tu_client_free(x);
    tu_client_free(a);
    tu_server_free(ts);
}

/* ------------------------------------------------------------------------ */
/* Event-loop integration                                                    */

typedef struct Recorder {
    GHashTable *events;         /* fd -> events + 1 */
    int removed;
} Recorder;

static void rec_update(void *opaque, int fd, short events)
{
    Recorder *r = opaque;
    g_hash_table_insert(r->events, GINT_TO_POINTER(fd), GINT_TO_POINTER(events + 1));
}

static void rec_remove(void *opaque, int fd)
{
    Recorder *r = opaque;
    cr_expect(g_hash_table_remove(r->events, GINT_TO_POINTER(fd)), "removing a known fd");
    r->removed++;
}

Test(server, watch_callbacks)
{
    TuServer *ts = tu_server_new(NULL);
    Recorder rec = { .events = g_hash_table_new(NULL, NULL) };
    QmpWatchFuncs funcs = { rec_update, rec_remove };
    TuClient *c;
    struct pollfd pfds[8];

    qmp_server_set_watch(ts->srv, &funcs, &rec);
    cr_expect_eq(g_hash_table_size(rec.events), 1u, "the listener");
    c = tu_connect(ts->path, NULL);
    /* Drive the server by hand, from the recorded fds only. */
    for (int i = 0; i < 100 && g_hash_table_size(rec.events) < 2; i++) {
        GHashTableIter it;
        gpointer k, v;
        size_t n = 0;
        g_hash_table_iter_init(&it, rec.events);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            pfds[n++] = (struct pollfd){ .fd = GPOINTER_TO_INT(k),
                                         .events = (short)(GPOINTER_TO_INT(v) - 1) };
        }
        poll(pfds, n, 10);
        for (size_t j = 0; j < n; j++) {
            qmp_server_dispatch_fd(ts->srv, pfds[j].fd, pfds[j].revents);
        }
    }
    cr_expect_eq(g_hash_table_size(rec.events), 2u, "listener + monitor");
    g_free(tu_line(c));
    tu_client_free(c);
    for (int i = 0; i < 100 && rec.removed == 0; i++) {
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, rec.events);
        while (g_hash_table_iter_next(&it, &k, NULL)) {
            struct pollfd p = { .fd = GPOINTER_TO_INT(k), .events = POLLIN };
            if (poll(&p, 1, 0) > 0) {
                qmp_server_dispatch_fd(ts->srv, p.fd, p.revents);
                break;
            }
        }
    }
    cr_expect_eq(rec.removed, 1, "the monitor went away");
    qmp_server_dispatch_fd(ts->srv, 9999, POLLIN);     /* unknown: ignored */
    tu_server_free(ts);
    cr_expect_eq(rec.removed, 2, "the listener too");
    g_hash_table_unref(rec.events);
}

/* Runs @ctx until the client has received @want. */
static void run_until(GMainContext *ctx, TuClient *c, const char *want)
{
    for (int i = 0; i < 2000 && !strstr(c->in->str, want); i++) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        char buf[4096];
        g_main_context_iteration(ctx, FALSE);
        if (poll(&p, 1, 5) > 0) {
            ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                g_string_append_len(c->in, buf, n);
            }
        }
    }
    cr_assert(strstr(c->in->str, want), "never received %s", want);
}

Test(server, gsource_in_own_context)
{
    GMainContext *ctx = g_main_context_new();
    TuServer *ts = tu_server_new(NULL);
    guint id = qmp_server_attach(ts->srv, ctx);
    TuClient *c;
    char *r;

    cr_assert_gt(id, 0u);
    tc_register(ts->srv);
    c = tu_connect(ts->path, NULL);
    tu_send_str(c, "{\"execute\": \"qmp_capabilities\"}{\"execute\": \"query-version\"}");
    run_until(ctx, c, "package\": \"test-pkg\"}}\r\n");
    g_free(tu_line(c));         /* greeting */
    r = tu_line(c);
    cr_expect_str_eq(r, "{\"return\": {}}");
    g_free(r);
    r = tu_line(c);
    cr_expect(strstr(r, "\"package\": \"test-pkg\""), "%s", r);
    g_free(r);

    /* A rate-limited event is released by the source's timeout. */
    cr_assert(qmp_server_set_event_rate(ts->srv, "TICK", 20 * 1000 * 1000, NULL, NULL));
    emit(ts->srv, "TICK", data_with("n", int_node(1)));
    emit(ts->srv, "TICK", data_with("n", int_node(2)));
    run_until(ctx, c, "\"n\": 2");
    expect_event(c, "TICK", "{\"n\":1}");
    expect_event(c, "TICK", "{\"n\":2}");

    tu_client_free(c);
    tu_server_free(ts);
    cr_expect_null(g_main_context_find_source_by_id(ctx, id), "source destroyed with the server");
    g_main_context_unref(ctx);
}

Test(server, gsource_dropped_before_server)
{
    TuServer *ts = tu_server_new(NULL);
    GSource *src = qmp_server_create_source(ts->srv);
    GSource *src2;

    g_source_unref(src);        /* never attached: finalised now */
    src2 = qmp_server_create_source(ts->srv);
    src = qmp_server_create_source(ts->srv);   /* replaces src2 */
    g_source_unref(src2);
    tu_server_free(ts);
    g_source_unref(src);
}

/* ------------------------------------------------------------------------ */
/* API misuse                                                                */

static bool dummy(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret, GError **errp)
{
    (void)req; (void)args; (void)opaque; (void)ret; (void)errp;
    return true;
}

Test(server, api_errors)
{
    QmpServer *srv;
    GError *err = NULL;
    QmpServerConfig bad = { .output_pause = 10, .max_output = 5 };
    static const QmpMember unknown[] = { { "x", "NoSuchType", false } };
    static const QmpMember twice[] = { { "x", "int", false }, { "x", "str", false } };
    static const QmpMember nested[] = { { "x", "[[int]]", false } };
    static const char *const dup_values[] = { "a", "a" };
    QmpCommand cmd = { .name = "c", .func = dummy };

    cr_expect(!qmp_server_new(NULL, NULL, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_new(&bad, &srv, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_INVALID));
    g_clear_error(&err);
    bad = (QmpServerConfig){ .max_depth = QMP_MAX_DEPTH_LIMIT + 1 };
    cr_expect(!qmp_server_new(&bad, &srv, &err));
    g_clear_error(&err);
    cr_assert(qmp_server_new(NULL, &srv, &err));

    cr_expect(qmp_server_add_command(srv, &cmd, &err));
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_EXISTS));
    g_clear_error(&err);
    cmd.name = "d";
    cmd.args = unknown;
    cmd.n_args = 1;
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_INVALID), "%s", err->message);
    g_clear_error(&err);
    cmd.args = twice;
    cmd.n_args = 2;
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    g_clear_error(&err);
    cmd.args = nested;
    cmd.n_args = 1;
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    g_clear_error(&err);
    cmd.args = NULL;
    cmd.n_args = 0;
    cmd.returns = "Nope";
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    g_clear_error(&err);
    cmd.returns = NULL;
    cmd.flags = 1u << 7;
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    g_clear_error(&err);
    cmd.flags = 0;
    cmd.func = NULL;
    cr_expect(!qmp_server_add_command(srv, &cmd, &err));
    g_clear_error(&err);

    cr_expect(!qmp_server_remove_command(srv, "qmp_capabilities", &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_remove_command(srv, "nope", &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_NOT_FOUND));
    g_clear_error(&err);
    cr_expect(qmp_server_remove_command(srv, "c", &err));

    cr_expect(!qmp_server_add_object_type(srv, "int", NULL, 0, &err));
    cr_expect(g_error_matches(err, QMP_ERROR, QMP_ERROR_EXISTS));
    g_clear_error(&err);
    cr_expect(!qmp_server_add_object_type(srv, "[x]", NULL, 0, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_add_object_type(srv, "", NULL, 0, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_add_enum_type(srv, "E", dup_values, 2, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_add_enum_type(srv, "E", NULL, 0, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_emit_event(srv, "", NULL, &err));
    g_clear_error(&err);
    cr_expect(!qmp_server_set_event_rate(srv, "E", -1, NULL, &err));
    g_clear_error(&err);
    cr_expect_str_eq(qmp_error_class_name(QMP_ERROR_SYSTEM), "GenericError");
    cr_expect_str_eq(qmp_error_class_name(QMP_ERROR_KVM_MISSING_CAP), "KVMMissingCap");
    qmp_server_free(srv);
    qmp_server_free(NULL);
}

Test(server, removed_builtin_is_gone)
{
    TuClient *c;
    TuServer *ts = start(NULL, &c);

    cr_assert(qmp_server_remove_command(ts->srv, "add-fd", NULL));
    tu_expect_error(c, "{\"execute\": \"add-fd\"}", "CommandNotFound",
                    "The command add-fd has not been found");
    char *r = tu_cmd(c, "{\"execute\": \"query-commands\"}");
    cr_expect(!strstr(r, "\"add-fd\""));
    g_free(r);
    r = tu_cmd(c, "{\"execute\": \"query-qmp-schema\"}");
    cr_expect(!strstr(r, "\"add-fd\""));
    cr_expect(strstr(r, "\"getfd\""));
    g_free(r);
    tu_client_free(c);
    tu_server_free(ts);
}
