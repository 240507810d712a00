/* SPDX-License-Identifier: MIT */
/*
 * Arbitrary byte streams, with arbitrary descriptor attachments, into one
 * monitor over a socketpair. The input is a sequence of records:
 *   byte 0: bits 0-1 number of descriptors (0-3) sent with the record,
 *           bit 2 run the server after this record, bit 3 emit an event,
 *           bit 4 advance the rate-limit clock;
 *   bytes 1-2: length of the record's data (little endian, capped by what
 *           is left);
 *   then the data.
 * If the very first byte has bit 7 set, the monitor is negotiated first.
 * After the input, the client closes its side and the server runs until
 * the monitor is gone; then every descriptor must be closed and all
 * memory freed (LeakSanitizer). One server serves every input (creating it
 * costs more than most inputs); what an input leaves in it (fd sets, held
 * events) is cleared before the next.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/qmp.h"

static int64_t fake_now;

static int64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_now;
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d) {
        abort();
    }
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static bool cmd_echo(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    int fd;

    (void)opaque; (void)errp;
    if ((fd = qmp_request_take_fd(req)) >= 0) {
        close(fd);
    }
    *ret = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(*ret, args);
    return true;
}

static bool cmd_fail(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    (void)req; (void)args; (void)opaque; (void)ret;
    g_set_error(errp, QMP_ERROR, QMP_ERROR_DEVICE_NOT_FOUND, "no such device");
    return false;
}

static bool cmd_bye(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                    GError **errp)
{
    (void)args; (void)opaque; (void)ret; (void)errp;
    qmp_monitor_disconnect(qmp_request_get_monitor(req));
    return true;
}

static QmpServer *make_server(void)
{
    static const char *const colors[] = { "red", "green" };
    static const QmpMember point[] = { { "x", "int", false }, { "y", "uint8", true } };
    static const QmpMember args[] = {
        { "s", "str", true }, { "i8", "int8", true }, { "u64", "uint64", true },
        { "sz", "size", true }, { "n", "number", true }, { "b", "bool", true },
        { "nul", "null", true }, { "a", "any", true }, { "c", "Color", true },
        { "p", "Point", true }, { "ps", "[Point]", true }, { "u16s", "[uint16]", true },
    };
    QmpServerConfig cfg = {
        .version_major = 7, .version_minor = 2,
        .max_message_size = 4096, .max_tokens = 256, .max_depth = 24,
        .output_pause = 2048, .max_output = 8192, .max_pending_fds = 8,
    };
    QmpCommand echo = { .name = "echo", .args = args, .n_args = G_N_ELEMENTS(args),
                        .returns = "any", .func = cmd_echo, .flags = QMP_COMMAND_ALLOW_OOB };
    QmpCommand fail = { .name = "fail", .func = cmd_fail,
                        .flags = QMP_COMMAND_BEFORE_NEGOTIATION };
    QmpCommand bye = { .name = "bye", .func = cmd_bye };
    QmpServer *srv = NULL;

    if (!qmp_server_new(&cfg, &srv, NULL) ||
        !qmp_server_add_enum_type(srv, "Color", colors, 2, NULL) ||
        !qmp_server_add_object_type(srv, "Point", point, 2, NULL) ||
        !qmp_server_add_command(srv, &echo, NULL) || !qmp_server_add_command(srv, &fail, NULL) ||
        !qmp_server_add_command(srv, &bye, NULL) ||
        !qmp_server_set_event_rate(srv, "RATED", 1000, "id", NULL)) {
        abort();
    }
    qmp_server_set_clock(srv, fake_clock, NULL);
    return srv;
}

/* Runs the server until it has nothing to do, discarding its output. */
static void run(QmpServer *srv, int client)
{
    for (int round = 0; round < 64; round++) {
        struct pollfd pfds[4];
        size_t n = qmp_server_fill_pollfds(srv, pfds, 4);
        char sink[65536];
        bool busy;

        if (n > 4) {
            abort();
        }
        busy = poll(pfds, n, 0) > 0;
        qmp_server_dispatch_pollfds(srv, pfds, n);
        while (recv(client, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
            busy = true;
        }
        if (!busy && qmp_server_timeout_ms(srv) != 0) {
            return;
        }
    }
}

static void send_record(QmpServer *srv, int client, const uint8_t *data, size_t len,
                        unsigned nfds)
{
    int fds[3];

    for (unsigned i = 0; i < nfds; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) {
            abort();
        }
        close(p[1]);
        fds[i] = p[0];
    }
    for (int tries = 0; tries < 64; tries++) {
        int rc = fdpass_send(client, data, len, nfds ? fds : NULL, nfds);
        if (rc != -EAGAIN) {
            break;              /* sent, or the server hung up */
        }
        run(srv, client);
    }
    fdpass_close_all(fds, nfds);
}

static QmpServer *srv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    srv = make_server();
    return 0;
}

static void collect_set(void *opaque, int64_t id, const FdPassFdInfo *fds, size_t n)
{
    (void)fds;
    (void)n;
    g_array_append_val((GArray *)opaque, id);
}

/* Forgets what an input left in the shared server. */
static void clear_server_state(void)
{
    FdPassSets *sets = qmp_server_get_fd_sets(srv);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));

    fdpass_sets_query(sets, collect_set, ids);
    for (guint i = 0; i < ids->len; i++) {
        fdpass_sets_remove_fd(sets, g_array_index(ids, int64_t, i), false, 0, NULL);
    }
    g_array_free(ids, TRUE);
    if (!qmp_server_set_event_rate(srv, "RATED", 0, NULL, NULL) ||
        !qmp_server_set_event_rate(srv, "RATED", 1000, "id", NULL)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char negotiate[] = "{\"execute\": \"qmp_capabilities\", "
                                    "\"arguments\": {\"enable\": [\"oob\"]}}";
    /*
     * Counted per input, not once at start-up: between inputs libFuzzer
     * itself may open descriptors (the sanitizer's symbolizer pipes when
     * it reports a new function), and those are not the server's.
     */
    int baseline = fd_count();
    int sv[2];
    size_t pos = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
        !qmp_server_add_client(srv, sv[0], NULL, NULL)) {
        abort();
    }
    if (size && (data[0] & 0x80)) {
        send_record(srv, sv[1], (const uint8_t *)negotiate, strlen(negotiate), 0);
    }
    while (pos < size) {
        uint8_t flags = data[pos++];
        size_t len = 0;

        if (pos + 2 <= size) {
            len = data[pos] | (size_t)data[pos + 1] << 8;
            pos += 2;
        } else {
            pos = size;
        }
        len = len < size - pos ? len : size - pos;
        if (len) {
            send_record(srv, sv[1], data + pos, len, flags & 3);
        }
        pos += len;
        if (flags & 8) {
            JsonObject *o = json_object_new();
            json_object_set_int_member(o, "id", flags >> 5);
            qmp_server_emit_event(srv, "RATED", o, NULL);
            qmp_server_emit_event(srv, "PLAIN", NULL, NULL);
            json_object_unref(o);
        }
        if (flags & 16) {
            fake_now += 600;
        }
        if (flags & 4) {
            run(srv, sv[1]);
        }
    }
    /* The client leaves; the server answers what it has and closes. */
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 64 && qmp_server_monitor_count(srv); i++) {
        run(srv, sv[1]);
        fake_now += 1000;
        qmp_server_dispatch_timers(srv);
    }
    close(sv[1]);
    run(srv, -1);
    if (qmp_server_monitor_count(srv)) {
        abort();                /* the monitor outlived its closed client */
    }
    clear_server_state();
    if (fd_count() != baseline) {
        __builtin_trap();       /* a descriptor leaked */
    }
    return 0;
}
