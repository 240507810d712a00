/* SPDX-License-Identifier: MIT */
/*
 * 32 clients at once, each in its own thread with a blocking socket, run
 * thousands of commands passing real descriptors (getfd/closefd,
 * add-fd/remove-fd) while the server runs in a GMainContext in the test's
 * main thread. Every reply is checked, and at the end the process has
 * exactly the descriptors it had before.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-test-util.h"

#define CLIENTS 32
#define ROUNDS 1500

typedef struct Client {
    const char *path;
    int index;
    char error[256];
    GString *in;
    int fd;
    unsigned commands;
} Client;

static atomic_int finished;

static bool fail(Client *cl, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(Client *cl, const char *fmt, ...)
{
    va_list ap;

    if (!cl->error[0]) {
        va_start(ap, fmt);
        vsnprintf(cl->error, sizeof(cl->error), fmt, ap);
        va_end(ap);
    }
    return false;
}

/* Reads one CRLF line (blocking, bounded); NULL on failure. */
static char *read_line(Client *cl)
{
    char *nl;

    while (!(nl = strstr(cl->in->str, "\r\n"))) {
        char buf[4096];
        struct pollfd p = { .fd = cl->fd, .events = POLLIN };
        ssize_t n;
        if (poll(&p, 1, TU_TIMEOUT_MS) <= 0) {
            fail(cl, "no reply in time");
            return NULL;
        }
        n = recv(cl->fd, buf, sizeof(buf), 0);
        if (n <= 0) {
            fail(cl, "connection closed: %s", n < 0 ? strerror(errno) : "EOF");
            return NULL;
        }
        g_string_append_len(cl->in, buf, n);
    }
    char *line = g_strndup(cl->in->str, (gsize)(nl - cl->in->str));
    g_string_erase(cl->in, 0, nl - cl->in->str + 2);
    return line;
}

/* Sends @cmd (with @fd if >= 0, closed afterwards) and compares the reply. */
static bool roundtrip(Client *cl, const char *cmd, int fd, const char *want_prefix)
{
    char *line;
    int rc = fd >= 0 ? fdpass_send(cl->fd, cmd, strlen(cmd), &fd, 1)
                     : fdpass_send(cl->fd, cmd, strlen(cmd), NULL, 0);
    bool ok;

    if (fd >= 0) {
        close(fd);
    }
    if (rc < 0) {
        return fail(cl, "send: %s", strerror(-rc));
    }
    cl->commands++;
    line = read_line(cl);
    if (!line) {
        return false;
    }
    ok = g_str_has_prefix(line, want_prefix);
    if (!ok) {
        fail(cl, "'%s' -> '%s' (wanted '%s...')", cmd, line, want_prefix);
    }
    g_free(line);
    return ok;
}

static int new_fd(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    close(p[1]);
    return p[0];
}

static void *client_main(void *opaque)
{
    Client *cl = opaque;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char cmd[256], want[128];
    char *line;

    cl->in = g_string_new(NULL);
    cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    g_strlcpy(sa.sun_path, cl->path, sizeof(sa.sun_path));
    if (connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fail(cl, "connect: %s", strerror(errno));
        goto out;
    }
    line = read_line(cl);
    if (!line || !g_str_has_prefix(line, "{\"QMP\":")) {
        fail(cl, "bad greeting");
        g_free(line);
        goto out;
    }
    g_free(line);
    if (!roundtrip(cl, "{\"execute\": \"qmp_capabilities\"}", -1, "{\"return\": {}}")) {
        goto out;
    }
    for (int i = 0; i < ROUNDS; i++) {
        int64_t set = 1000 + cl->index;

        snprintf(cmd, sizeof(cmd), "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                 "\"fd%d\"}, \"id\": %d}", i % 3, i);
        snprintf(want, sizeof(want), "{\"return\": {}, \"id\": %d}", i);
        if (!roundtrip(cl, cmd, new_fd(), want)) {
            goto out;
        }
        snprintf(cmd, sizeof(cmd), "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": "
                 "\"fd%d\"}}", i % 3);
        if (!roundtrip(cl, cmd, -1, "{\"return\": {}}")) {
            goto out;
        }
        if (i % 10 == 0) {
            snprintf(cmd, sizeof(cmd), "{\"execute\": \"add-fd\", \"arguments\": "
                     "{\"fdset-id\": %" G_GINT64_FORMAT ", \"opaque\": \"c%d\"}}", set, cl->index);
            snprintf(want, sizeof(want), "{\"return\": {\"fdset-id\": %" G_GINT64_FORMAT
                     ", \"fd\": ", set);
            if (!roundtrip(cl, cmd, new_fd(), want)) {
                goto out;
            }
            snprintf(cmd, sizeof(cmd), "{\"execute\": \"remove-fd\", \"arguments\": "
                     "{\"fdset-id\": %" G_GINT64_FORMAT "}}", set);
            if (!roundtrip(cl, cmd, -1, "{\"return\": {}}")) {
                goto out;
            }
        }
        if (i % 7 == 0 && !roundtrip(cl, "{\"execute\": \"query-version\"}", new_fd(),
                                     "{\"return\": {\"qemu\": ")) {
            goto out;
        }
    }
    /* The fd named last round was closed: nothing is left on the server. */
    if (!roundtrip(cl, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"fd0\"}}", -1,
                   "{\"error\": {\"class\": \"GenericError\", \"desc\": \"File descriptor named "
                   "'fd0' not found\"}}")) {
        goto out;
    }
out:
    close(cl->fd);
    g_string_free(cl->in, TRUE);
    atomic_fetch_add(&finished, 1);
    return NULL;
}

static gboolean tick(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

Test(stress, clients_32_with_fds)
{
    int baseline = tu_fd_count();
    GMainContext *ctx = g_main_context_new();
    TuServer *ts = tu_server_new(NULL);
    GSource *wake = g_timeout_source_new(10);
    Client clients[CLIENTS];
    pthread_t threads[CLIENTS];
    gint64 until = g_get_monotonic_time() + 240 * G_USEC_PER_SEC;
    unsigned total = 0;

    g_source_set_callback(wake, tick, NULL, NULL);
    g_source_attach(wake, ctx);
    qmp_server_attach(ts->srv, ctx);
    atomic_store(&finished, 0);
    memset(clients, 0, sizeof(clients));
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].path = ts->path;
        clients[i].index = i;
        cr_assert_eq(pthread_create(&threads[i], NULL, client_main, &clients[i]), 0);
    }
    while (atomic_load(&finished) < CLIENTS && g_get_monotonic_time() < until) {
        g_main_context_iteration(ctx, TRUE);
    }
    cr_assert_eq(atomic_load(&finished), CLIENTS, "clients did not finish in time");
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        cr_expect_str_empty(clients[i].error, "client %d: %s", i, clients[i].error);
        total += clients[i].commands;
    }
    cr_expect_geq(total, CLIENTS * ROUNDS * 2u, "commands run");
    while (qmp_server_monitor_count(ts->srv) && g_get_monotonic_time() < until) {
        g_main_context_iteration(ctx, TRUE);
    }
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 0u);
    cr_expect_eq(fdpass_sets_count(qmp_server_get_fd_sets(ts->srv)), 0u, "no set left");
    tu_server_free(ts);
    g_source_destroy(wake);
    g_source_unref(wake);
    g_main_context_unref(ctx);
    cr_expect_eq(tu_fd_count(), baseline, "every descriptor closed");
}
