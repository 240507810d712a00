/* SPDX-License-Identifier: MIT */
/*
 * Stage 4: the VMM's QMP server, with the demo as its client on the other end
 * of a socketpair (what a management tool connected to the QMP socket
 * sees). One thread: each exchange polls the server's fds and the client's
 * socket until a whole reply line has arrived, with a bounded wait.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "demo.h"
#include "fdpass/fdpass.h"
#include "qmp/qmp.h"

#define MAX_POLLFDS 8

typedef struct Client {
    QmpServer *server;
    int sock;
    GString *in;
} Client;

/* Runs the server until the client has a whole line; returns it parsed. */
static JsonObject *receive(Client *c, const char *show)
{
    for (int round = 0; round < 64; round++) {
        char *eol = strstr(c->in->str, "\r\n");
        if (eol) {
            *eol = '\0';
            if (show) {
                printf("%s %s\n", show, c->in->str);
            }
            JsonNode *node = json_from_string(c->in->str, NULL);
            g_string_erase(c->in, 0, eol + 2 - c->in->str);
            JsonObject *obj = node && JSON_NODE_HOLDS_OBJECT(node) ?
                json_object_ref(json_node_get_object(node)) : NULL;
            if (node) {
                json_node_unref(node);
            }
            return obj;
        }
        struct pollfd fds[MAX_POLLFDS + 1];
        size_t n = qmp_server_fill_pollfds(c->server, fds, MAX_POLLFDS);
        if (n > MAX_POLLFDS) {
            return NULL;
        }
        fds[n] = (struct pollfd){ .fd = c->sock, .events = POLLIN };
        if (poll(fds, n + 1, 2000) <= 0) {
            return NULL; /* nothing within 2 s */
        }
        qmp_server_dispatch_pollfds(c->server, fds, n);
        if (fds[n].revents) {
            char buf[4096];
            ssize_t r = read(c->sock, buf, sizeof(buf));
            if (r <= 0) {
                return NULL;
            }
            g_string_append_len(c->in, buf, r);
        }
    }
    return NULL;
}

/* Sends @cmd (with @fd when >= 0) and returns the reply's "return" member,
 * or NULL (and prints why) if the reply is anything else. */
static JsonNode *execute(Client *c, const char *cmd, int fd)
{
    printf("client -> %s%s\n", cmd, fd >= 0 ? "  (+ an fd, SCM_RIGHTS)" : "");
    if (fdpass_send(c->sock, cmd, strlen(cmd), &fd, fd >= 0) < 0) {
        demo_fail("QMP: send %s", cmd);
        return NULL;
    }
    JsonObject *reply = receive(c, "client <-");
    JsonNode *ret = reply ? json_object_dup_member(reply, "return") : NULL;
    if (!ret) {
        demo_fail("QMP: no success reply to %s", cmd);
    }
    if (reply) {
        json_object_unref(reply);
    }
    return ret;
}

static bool execute_ok(Client *c, const char *cmd, int fd)
{
    JsonNode *ret = execute(c, cmd, fd);
    if (ret) {
        json_node_unref(ret);
    }
    return ret != NULL;
}

static int session(Client *c, QmpMonitor *mon, unsigned virtq_done)
{
    JsonObject *greeting = receive(c, "client <-");
    bool ok = greeting && json_object_has_member(greeting, "QMP");
    if (greeting) {
        json_object_unref(greeting);
    }
    if (!ok || !execute_ok(c, "{\"execute\": \"qmp_capabilities\"}", -1)) {
        return demo_fail("QMP: no greeting or negotiation");
    }

    JsonNode *ret = execute(c, "{\"execute\": \"query-version\"}", -1);
    if (!ret) {
        return 1;
    }
    JsonObject *r = JSON_NODE_HOLDS_OBJECT(ret) ? json_node_get_object(ret) : NULL;
    JsonObject *v = r && json_object_has_member(r, "qemu") ?
        json_object_get_object_member(r, "qemu") : NULL;
    ok = v && json_object_get_int_member_with_default(v, "major", -1) == 0 &&
         json_object_get_int_member_with_default(v, "minor", -1) == 1 &&
         json_object_get_int_member_with_default(v, "micro", -1) == 0 &&
         !g_strcmp0(json_object_get_string_member_with_default(r, "package", NULL),
                    "vmm-demo");
    json_node_unref(ret);
    if (!ok) {
        return demo_fail("QMP: query-version did not return 0.1.0 \"vmm-demo\"");
    }

    /* getfd: the fd travels with the command and is kept under its name. */
    int efd = eventfd(0, EFD_CLOEXEC);
    ok = efd >= 0 && execute_ok(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
                                   "\"demo-fd\"}}", efd);
    if (efd >= 0) {
        close(efd);
    }
    FdPassNamed *named = qmp_monitor_get_named_fds(mon);
    size_t held = fdpass_named_count(named);
    ok = ok && held == 1 &&
         execute_ok(c, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"demo-fd\"}}",
                    -1);
    printf("vmm: named fds held for the monitor: %zu after getfd, %zu after closefd\n", held,
           fdpass_named_count(named));
    if (!ok || fdpass_named_count(named) != 0) {
        return demo_fail("QMP: getfd/closefd");
    }

    /* An event, to every negotiated monitor. */
    JsonObject *data = json_object_new();
    json_object_set_string_member(data, "queue", "demo");
    json_object_set_int_member(data, "completed", virtq_done);
    ok = qmp_server_emit_event(c->server, "VIRTQUEUE_DONE", data, NULL);
    json_object_unref(data);
    JsonObject *ev = ok ? receive(c, NULL) : NULL;
    JsonObject *evdata = ev && json_object_has_member(ev, "data") ?
        json_object_get_object_member(ev, "data") : NULL;
    ok = evdata &&
         !g_strcmp0(json_object_get_string_member_with_default(ev, "event", NULL),
                    "VIRTQUEUE_DONE") &&
         json_object_get_int_member_with_default(evdata, "completed", -1) == virtq_done;
    if (ok) {
        printf("client <- event VIRTQUEUE_DONE, data {\"queue\": \"%s\", \"completed\": %u} "
               "(with a timestamp)\n",
               json_object_get_string_member_with_default(evdata, "queue", "?"), virtq_done);
    }
    if (ev) {
        json_object_unref(ev);
    }
    return ok ? 0 : demo_fail("QMP: event not received");
}

int demo_qmp(unsigned virtq_done)
{
    printf("== 4. qmp: the VMM's QMP server, a client on a socketpair\n");
    QmpServerConfig cfg = { .version_major = 0, .version_minor = 1, .version_micro = 0,
                            .version_package = "vmm-demo" };
    Client c = { .sock = -1 };
    QmpMonitor *mon = NULL;
    GError *err = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return demo_fail("socketpair failed");
    }
    c.sock = sv[1];
    int rc;
    if (!qmp_server_new(&cfg, &c.server, &err)) {
        close(sv[0]);
    }
    if (!c.server || !qmp_server_add_client(c.server, sv[0], &mon, &err)) { /* owns sv[0] */
        rc = demo_fail("QMP server: %s", err->message);
        g_error_free(err);
    } else {
        c.in = g_string_new("");
        rc = session(&c, mon, virtq_done);
        g_string_free(c.in, TRUE);
    }
    qmp_server_free(c.server);
    close(c.sock);
    return rc;
}
