/* SPDX-License-Identifier: MIT */
/*
 * A standalone QMP server for tests driven by other programs (the python3
 * client): listens on the unix socket given as argument, prints "READY",
 * serves until a client runs "test-quit", then checks that every
 * descriptor it received was closed and exits 0 (1 on a leak).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "qmp/qmp.h"

static GMainLoop *loop;

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d) {
        return -1;
    }
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n - 1;
}

static bool cmd_quit(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    (void)req; (void)args; (void)opaque; (void)ret; (void)errp;
    g_main_loop_quit(loop);
    return true;
}

static bool cmd_fd_count(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                         GError **errp)
{
    (void)args; (void)opaque; (void)errp;
    *ret = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(*ret, (gint64)qmp_request_fd_count(req));
    return true;
}

int main(int argc, char **argv)
{
    QmpServerConfig cfg = {
        .version_major = 7, .version_minor = 2, .version_micro = 0,
        .version_package = "qmp-test-server",
    };
    static const QmpCommand quit = { .name = "test-quit", .func = cmd_quit };
    static const QmpCommand count = { .name = "test-fd-count", .returns = "int",
                                      .func = cmd_fd_count };
    QmpServer *srv;
    GError *err = NULL;
    int baseline;

    /* The default main context keeps a wakeup descriptor: create it first. */
    loop = g_main_loop_new(NULL, FALSE);
    baseline = fd_count();
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET-PATH\n", argv[0]);
        return 2;
    }
    if (!qmp_server_new(&cfg, &srv, &err) || !qmp_server_add_command(srv, &quit, &err) ||
        !qmp_server_add_command(srv, &count, &err) ||
        !qmp_server_listen_unix(srv, argv[1], &err)) {
        fprintf(stderr, "qmp-test-server: %s\n", err->message);
        return 1;
    }
    qmp_server_attach(srv, NULL);
    printf("READY\n");
    fflush(stdout);
    g_main_loop_run(loop);
    qmp_server_free(srv);
    g_main_loop_unref(loop);
    if (fd_count() != baseline) {
        fprintf(stderr, "qmp-test-server: %d descriptors at exit, %d at start\n", fd_count(),
                baseline);
        return 1;
    }
    return 0;
}
