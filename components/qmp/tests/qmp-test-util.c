/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-test-util.h"

TuServer *tu_server_new(const QmpServerConfig *cfg)
{
    TuServer *ts = g_new0(TuServer, 1);
    QmpServerConfig def = {
        .version_major = 1, .version_minor = 2, .version_micro = 3,
        .version_package = "test-pkg",
    };
    GError *err = NULL;

    ts->dir = g_dir_make_tmp("qmp-test-XXXXXX", &err);
    cr_assert_not_null(ts->dir, "mkdtemp: %s", err ? err->message : "?");
    ts->path = g_build_filename(ts->dir, "qmp.sock", NULL);
    cr_assert(qmp_server_new(cfg ? cfg : &def, &ts->srv, &err), "qmp_server_new: %s",
              err ? err->message : "?");
    cr_assert(qmp_server_listen_unix(ts->srv, ts->path, &err), "listen: %s",
              err ? err->message : "?");
    return ts;
}

void tu_server_free(TuServer *ts)
{
    qmp_server_free(ts->srv);
    cr_assert_eq(access(ts->path, F_OK), -1, "socket file removed on free");
    rmdir(ts->dir);
    g_free(ts->path);
    g_free(ts->dir);
    g_free(ts);
}

void tu_pump(QmpServer *srv, int timeout_ms)
{
    struct pollfd pfds[256];
    size_t n = qmp_server_fill_pollfds(srv, pfds, G_N_ELEMENTS(pfds));
    int t = qmp_server_timeout_ms(srv);

    cr_assert_leq(n, G_N_ELEMENTS(pfds));
    if (t < 0 || t > timeout_ms) {
        t = timeout_ms;
    }
    if (poll(pfds, n, t) < 0 && errno != EINTR) {
        cr_assert_fail("poll: %s", strerror(errno));
    }
    qmp_server_dispatch_pollfds(srv, pfds, n);
}

TuClient *tu_client_from_fd(int fd, QmpServer *pump)
{
    TuClient *c = g_new0(TuClient, 1);

    c->fd = fd;
    c->in = g_string_new(NULL);
    c->pump = pump;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return c;
}

TuClient *tu_connect(const char *path, QmpServer *pump)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    return tu_client_from_fd(fd, pump);
}

void tu_client_free(TuClient *c)
{
    if (!c) {
        return;
    }
    close(c->fd);
    g_string_free(c->in, TRUE);
    g_free(c);
}

static gint64 deadline(void)
{
    return g_get_monotonic_time() + (gint64)TU_TIMEOUT_MS * 1000;
}

/* Waits for @events on the client socket, running the server meanwhile. */
static bool wait_fd(TuClient *c, short events, gint64 until)
{
    /* At least one look, even when @until has passed. */
    do {
        struct pollfd p = { .fd = c->fd, .events = events };
        if (poll(&p, 1, c->pump ? 0 : 50) > 0) {
            return true;
        }
        if (c->pump) {
            tu_pump(c->pump, until > g_get_monotonic_time() ? 20 : 0);
            if (poll(&p, 1, 0) > 0) {
                return true;
            }
        }
    } while (g_get_monotonic_time() < until);
    return false;
}

void tu_send(TuClient *c, const char *data, size_t len, const int *fds, size_t nfds)
{
    gint64 until = deadline();
    size_t off = 0;

    while (off < len) {
        ssize_t n;
        if (nfds) {
            /* One sendmsg() for the whole message, as clients do. */
            int rc = fdpass_send(c->fd, data, len, fds, nfds);
            if (rc == -EAGAIN) {
                cr_assert(wait_fd(c, POLLOUT, until), "send timed out");
                continue;
            }
            cr_assert_eq(rc, 0, "fdpass_send: %s", strerror(-rc));
            return;
        }
        n = send(c->fd, data + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            cr_assert(wait_fd(c, POLLOUT, until), "send timed out");
            continue;
        }
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
}

void tu_send_str(TuClient *c, const char *s)
{
    tu_send(c, s, strlen(s), NULL, 0);
}

static bool fill(TuClient *c)
{
    char buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n > 0) {
        g_string_append_len(c->in, buf, n);
        return true;
    }
    return false;
}

bool tu_line_ready(TuClient *c, int ms)
{
    gint64 until = g_get_monotonic_time() + (gint64)ms * 1000;

    while (!strstr(c->in->str, "\n")) {
        if (!wait_fd(c, POLLIN, until)) {
            return false;
        }
        if (!fill(c)) {
            return false;       /* EOF or error */
        }
    }
    return true;
}

char *tu_line(TuClient *c)
{
    char *nl, *line;
    size_t len;

    cr_assert(tu_line_ready(c, TU_TIMEOUT_MS), "no line from the server (have '%.200s')",
              c->in->str);
    nl = strchr(c->in->str, '\n');
    len = (size_t)(nl - c->in->str);
    cr_assert(len > 0 && c->in->str[len - 1] == '\r', "line not CRLF-terminated: '%.*s'",
              (int)MIN(len, 200u), c->in->str);
    line = g_strndup(c->in->str, len - 1);
    g_string_erase(c->in, 0, (gssize)len + 1);
    for (const char *p = line; *p; p++) {
        cr_assert((unsigned char)*p < 0x80, "non-ASCII output: %s", line);
    }
    return line;
}

static JsonNode *parse(const char *line)
{
    JsonParser *p = json_parser_new();
    GError *err = NULL;
    JsonNode *root;

    cr_assert(json_parser_load_from_data(p, line, -1, &err), "bad JSON '%s': %s", line,
              err ? err->message : "?");
    root = json_parser_steal_root(p);
    g_object_unref(p);
    return root;
}

JsonNode *tu_json(TuClient *c)
{
    char *line = tu_line(c);
    JsonNode *n = parse(line);

    g_free(line);
    return n;
}

char *tu_cmd(TuClient *c, const char *cmd)
{
    tu_send_str(c, cmd);
    return tu_line(c);
}

JsonNode *tu_cmd_json(TuClient *c, const char *cmd)
{
    tu_send_str(c, cmd);
    return tu_json(c);
}

void tu_negotiate(TuClient *c)
{
    char *greeting = tu_line(c);
    char *r;

    cr_assert(g_str_has_prefix(greeting, "{\"QMP\": "), "greeting: %s", greeting);
    g_free(greeting);
    r = tu_cmd(c, "{\"execute\": \"qmp_capabilities\"}");
    cr_assert_str_eq(r, "{\"return\": {}}");
    g_free(r);
}

bool tu_wait_closed(TuClient *c)
{
    gint64 until = deadline();

    for (;;) {
        char buf[65536];
        ssize_t n;
        if (!wait_fd(c, POLLIN, until)) {
            return false;
        }
        n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return true;
        }
    }
}

static JsonObject *error_obj(JsonNode *reply)
{
    JsonObject *o;

    if (!reply || !JSON_NODE_HOLDS_OBJECT(reply)) {
        return NULL;
    }
    o = json_node_get_object(reply);
    if (!json_object_has_member(o, "error")) {
        return NULL;
    }
    return json_object_get_object_member(o, "error");
}

const char *tu_err_class(JsonNode *reply)
{
    JsonObject *e = error_obj(reply);
    return e ? json_object_get_string_member(e, "class") : NULL;
}

const char *tu_err_desc(JsonNode *reply)
{
    JsonObject *e = error_obj(reply);
    return e ? json_object_get_string_member(e, "desc") : NULL;
}

void tu_expect_error(TuClient *c, const char *cmd, const char *cls, const char *desc)
{
    JsonNode *r = tu_cmd_json(c, cmd);
    JsonObject *e = error_obj(r);

    cr_assert_not_null(e, "no error for %s", cmd);
    cr_expect_str_eq(json_object_get_string_member(e, "class"), cls, "class for %s", cmd);
    cr_expect_str_eq(json_object_get_string_member(e, "desc"), desc, "desc for %s", cmd);
    cr_expect_eq(json_object_get_size(e), 2u, "error has class and desc only");
    json_node_unref(r);
}

int tu_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1;               /* the directory's own descriptor */
}

int tu_make_fd(void)
{
    int p[2];

    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    return p[0];
}
