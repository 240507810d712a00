/* SPDX-License-Identifier: MIT */
/*
 * The QMP server: listeners, monitors (one per connection), input and
 * output buffering, dispatch with QEMU's rules and messages, events with
 * rate limits, and the event-loop hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp-priv.h"

G_DEFINE_QUARK(qmp-error-quark, qmp_error)

/* Bytes read from a connection at a time. */
#define READ_CHUNK (64u << 10)
/* How long a listener rests after accept() ran out of descriptors. */
#define ACCEPT_BACKOFF_NS (100 * 1000 * 1000LL)
/* Connections accepted per readiness notification (fairness). */
#define ACCEPT_BURST 16

const char *qmp_error_class_name(int code)
{
    switch (code) {
    case QMP_ERROR_COMMAND_NOT_FOUND: return "CommandNotFound";
    case QMP_ERROR_DEVICE_NOT_ACTIVE: return "DeviceNotActive";
    case QMP_ERROR_DEVICE_NOT_FOUND: return "DeviceNotFound";
    case QMP_ERROR_KVM_MISSING_CAP: return "KVMMissingCap";
    default: return "GenericError";
    }
}

typedef struct Listener {
    int fd;
    char *unlink_path;          /* unix socket file we created */
    bool is_unix;
    bool paused;
    int64_t resume_ns;
} Listener;

typedef struct FdBatch {
    uint64_t end;               /* attach to the first message ending at or after */
    size_t n;
    int fds[FDPASS_MAX_FDS];
} FdBatch;

struct QmpMonitor {
    QmpServer *server;
    uint64_t id;
    int fd;
    bool is_unix;
    bool negotiated;
    bool oob;
    bool dead;
    bool eof;                   /* the peer will send nothing more */
    bool running;               /* a command of this monitor is running */
    bool close_after;           /* disconnect requested while running */
    short events;               /* what the watch currently asks for */
    FdPassNamed *named;
    QmpStream *stream;
    uint64_t in_offset;         /* bytes fed to the stream so far */
    GByteArray *in_pending;     /* read but not fed (input paused) */
    size_t in_pos;
    GString *out;               /* output; bytes before out_pos are sent */
    size_t out_pos;
    GQueue batches;             /* FdBatch*, oldest first */
    size_t pending_fds;
};

struct QmpRequest {
    QmpMonitor *mon;
    int *fds;
    size_t nfds;
    size_t next_fd;
    bool oob;
    GString *raw_ret;
};

typedef struct Command {
    char *name;
    QmpType *args;              /* always set (possibly no member) */
    size_t n_args;
    const QmpType *ret;
    QmpCommandFunc func;
    void *opaque;
    unsigned flags;
} Command;

typedef struct EventRate {
    int64_t period_ns;
    char *key_member;
} EventRate;

typedef struct Throttle {
    char *event;
    int64_t deadline_ns;
    GString *pending;           /* the newest event held back, or NULL */
} Throttle;

typedef enum WatchKind { WATCH_LISTENER, WATCH_MONITOR } WatchKind;

typedef struct Watch {
    WatchKind kind;
    void *ptr;
} Watch;

struct QmpServer {
    QmpServerConfig cfg;
    FdPassSets *sets;
    bool own_sets;
    QmpSchema *schema;
    GHashTable *commands;       /* name -> Command* */
    GPtrArray *command_order;   /* Command*, registration order */
    GString *schema_cache;
    GString *commands_cache;
    char *version_json;
    GString *greeting;

    GPtrArray *listeners;       /* Listener* */
    GPtrArray *monitors;        /* live QmpMonitor* */
    GPtrArray *zombies;         /* closed monitors to free after dispatch */
    GHashTable *by_fd;          /* fd -> Watch* */
    uint64_t next_monitor_id;
    unsigned depth;             /* nesting of dispatch entry points */
    unsigned in_handler;

    QmpWatchFuncs watch;
    void *watch_opaque;
    QmpMonitorFuncs mon_funcs;
    void *mon_opaque;
    GSource *source;

    GHashTable *rates;          /* event name -> EventRate* */
    GHashTable *throttles;      /* event "\n" key value -> Throttle* */
    QmpClockFunc clock;
    void *clock_opaque;

    char *rbuf;
};

static void monitor_close(QmpMonitor *m);
static void monitor_update_watch(QmpMonitor *m);
static void monitor_feed(QmpMonitor *m, const char *data, size_t len);
static void flush_throttle(QmpServer *s, Throttle *th);

static int64_t now_ns(QmpServer *s)
{
    if (s->clock) {
        return s->clock(s->clock_opaque);
    }
    return g_get_monotonic_time() * 1000;
}

static bool set_system_error(GError **errp, const char *what, int err)
{
    g_set_error(errp, QMP_ERROR, QMP_ERROR_SYSTEM, "%s: %s", what, g_strerror(err));
    return false;
}

/* ------------------------------------------------------------------------ */
/* Entering and leaving: monitors closed during a dispatch are freed at its
 * end, so that nobody up the stack holds a dangling pointer. */

static void free_monitor(QmpMonitor *m)
{
    qmp_stream_free(m->stream);
    g_string_free(m->out, TRUE);
    if (m->in_pending) {
        g_byte_array_unref(m->in_pending);
    }
    g_free(m);
}

static void enter(QmpServer *s)
{
    s->depth++;
}

static void leave(QmpServer *s)
{
    if (--s->depth) {
        return;
    }
    for (guint i = 0; i < s->zombies->len; i++) {
        free_monitor(g_ptr_array_index(s->zombies, i));
    }
    g_ptr_array_set_size(s->zombies, 0);
}

/* ------------------------------------------------------------------------ */
/* Watches                                                                   */

static void watch_add(QmpServer *s, int fd, WatchKind kind, void *ptr, short events)
{
    Watch *w = g_new(Watch, 1);

    w->kind = kind;
    w->ptr = ptr;
    g_hash_table_insert(s->by_fd, GINT_TO_POINTER(fd), w);
    if (s->watch.update) {
        s->watch.update(s->watch_opaque, fd, events);
    }
}

static void watch_remove(QmpServer *s, int fd)
{
    if (s->watch.remove) {
        s->watch.remove(s->watch_opaque, fd);
    }
    g_hash_table_remove(s->by_fd, GINT_TO_POINTER(fd));
}

static short listener_events(const Listener *l)
{
    return l->paused ? 0 : POLLIN;
}

void qmp_server_set_watch(QmpServer *s, const QmpWatchFuncs *funcs, void *opaque)
{
    if (funcs) {
        s->watch = *funcs;
    } else {
        memset(&s->watch, 0, sizeof(s->watch));
    }
    s->watch_opaque = opaque;
    if (!s->watch.update) {
        return;
    }
    for (guint i = 0; i < s->listeners->len; i++) {
        Listener *l = g_ptr_array_index(s->listeners, i);
        s->watch.update(opaque, l->fd, listener_events(l));
    }
    for (guint i = 0; i < s->monitors->len; i++) {
        QmpMonitor *m = g_ptr_array_index(s->monitors, i);
        s->watch.update(opaque, m->fd, m->events);
    }
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

static size_t out_pending(const QmpMonitor *m)
{
    return m->out->len - m->out_pos;
}

static void monitor_flush(QmpMonitor *m)
{
    while (!m->dead && out_pending(m)) {
        ssize_t n = send(m->fd, m->out->str + m->out_pos, out_pending(m),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            g_debug("qmp: monitor %" G_GUINT64_FORMAT ": send: %s", m->id, g_strerror(errno));
            monitor_close(m);
            return;
        }
        m->out_pos += (size_t)n;
    }
    if (!out_pending(m)) {
        g_string_truncate(m->out, 0);
        m->out_pos = 0;
        if (m->out->allocated_len > (256u << 10)) {
            g_string_free(m->out, TRUE);
            m->out = g_string_sized_new(1024);
        }
    } else if (m->out_pos > (64u << 10) && m->out_pos > m->out->len / 2) {
        g_string_erase(m->out, 0, (gssize)m->out_pos);
        m->out_pos = 0;
    }
}

/* Events may not grow a slow client's buffer without bound. */
static void monitor_queue_event(QmpMonitor *m, const GString *line)
{
    size_t pending = out_pending(m);

    if (pending && pending + line->len > m->server->cfg.max_output) {
        g_debug("qmp: monitor %" G_GUINT64_FORMAT ": %zu bytes unread, disconnecting",
                m->id, pending);
        monitor_close(m);
        return;
    }
    g_string_append_len(m->out, line->str, (gssize)line->len);
}

/* ------------------------------------------------------------------------ */
/* Monitors                                                                  */

static bool monitor_input_paused(const QmpMonitor *m)
{
    return out_pending(m) > m->server->cfg.output_pause;
}

static void monitor_update_watch(QmpMonitor *m)
{
    short events = 0;

    if (m->dead) {
        return;
    }
    if (m->eof && !out_pending(m) && (!m->in_pending || m->in_pos == m->in_pending->len)) {
        /* Everything the peer sent is answered and delivered. */
        monitor_close(m);
        return;
    }
    /* Held-back input is resumed from the POLLOUT handler: a socket that
     * took all the output is writable at once. */
    if (out_pending(m) || (m->in_pending && m->in_pos < m->in_pending->len)) {
        events |= POLLOUT;
    }
    if (!m->eof && !m->in_pending && !monitor_input_paused(m)) {
        events |= POLLIN;
    }
    if (events != m->events) {
        m->events = events;
        if (m->server->watch.update) {
            m->server->watch.update(m->server->watch_opaque, m->fd, events);
        }
    }
}

static void close_batches(QmpMonitor *m)
{
    FdBatch *b;

    while ((b = g_queue_pop_head(&m->batches))) {
        fdpass_close_all(b->fds, b->n);
        g_free(b);
    }
    m->pending_fds = 0;
}

static void monitor_close(QmpMonitor *m)
{
    QmpServer *s = m->server;

    if (m->dead) {
        return;
    }
    if (m->running) {
        /* Its command is still running: close once the reply is queued. */
        m->close_after = true;
        return;
    }
    m->dead = true;
    if (s->mon_funcs.closed) {
        s->mon_funcs.closed(m, s->mon_opaque);
    }
    watch_remove(s, m->fd);
    close(m->fd);
    m->fd = -1;
    close_batches(m);
    fdpass_named_free(m->named);
    m->named = NULL;
    fdpass_sets_monitor_detached(s->sets);
    g_ptr_array_remove(s->monitors, m);
    g_ptr_array_add(s->zombies, m);
}

static bool set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return false;
    }
    fl = fcntl(fd, F_GETFD);
    return fl >= 0 && fcntl(fd, F_SETFD, fl | FD_CLOEXEC) >= 0;
}

static bool socket_is_unix(int fd)
{
    int domain = 0;
    socklen_t len = sizeof(domain);

    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

static QmpMonitor *monitor_new(QmpServer *s, int fd)
{
    QmpMonitor *m = g_new0(QmpMonitor, 1);
    QmpStreamLimits lim = {
        .max_size = s->cfg.max_message_size,
        .max_tokens = s->cfg.max_tokens,
        .max_depth = s->cfg.max_depth,
    };

    if (fdpass_named_new(&m->named) < 0) {
        g_free(m);
        close(fd);
        return NULL;
    }
    m->server = s;
    m->id = ++s->next_monitor_id;
    m->fd = fd;
    m->is_unix = socket_is_unix(fd);
    m->stream = qmp_stream_new(&lim);
    m->out = g_string_sized_new(1024);
    g_queue_init(&m->batches);
    g_ptr_array_add(s->monitors, m);
    fdpass_sets_monitor_attached(s->sets);

    g_string_append_len(m->out, s->greeting->str, (gssize)s->greeting->len);
    m->events = POLLIN;
    watch_add(s, fd, WATCH_MONITOR, m, m->events);
    if (s->mon_funcs.opened) {
        s->mon_funcs.opened(m, s->mon_opaque);
    }
    monitor_flush(m);
    monitor_update_watch(m);
    return m;
}

void qmp_server_set_monitor_funcs(QmpServer *s, const QmpMonitorFuncs *funcs, void *opaque)
{
    if (funcs) {
        s->mon_funcs = *funcs;
    } else {
        memset(&s->mon_funcs, 0, sizeof(s->mon_funcs));
    }
    s->mon_opaque = opaque;
}

bool qmp_server_add_client(QmpServer *s, int fd, QmpMonitor **ret, GError **errp)
{
    QmpMonitor *m;

    if (!s || fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid client descriptor");
        return false;
    }
    if (!set_nonblock_cloexec(fd)) {
        int err = errno;
        close(fd);
        return set_system_error(errp, "fcntl", err);
    }
    enter(s);
    m = monitor_new(s, fd);
    if (!m) {
        leave(s);
        g_set_error(errp, QMP_ERROR, QMP_ERROR_SYSTEM, "Out of memory");
        return false;
    }
    if (ret) {
        *ret = m->dead ? NULL : m;
    }
    leave(s);
    return true;
}

unsigned qmp_server_monitor_count(const QmpServer *s)
{
    return s ? s->monitors->len : 0;
}

FdPassNamed *qmp_monitor_get_named_fds(QmpMonitor *m)
{
    return m->named;
}

bool qmp_monitor_is_negotiated(const QmpMonitor *m)
{
    return m->negotiated;
}

bool qmp_monitor_oob_enabled(const QmpMonitor *m)
{
    return m->oob;
}

uint64_t qmp_monitor_get_id(const QmpMonitor *m)
{
    return m->id;
}

void qmp_monitor_set_negotiated(QmpMonitor *m, bool oob)
{
    m->negotiated = true;
    m->oob = oob;
}

void qmp_monitor_disconnect(QmpMonitor *m)
{
    QmpServer *s = m->server;

    enter(s);
    monitor_close(m);
    leave(s);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

QmpMonitor *qmp_request_get_monitor(QmpRequest *req)
{
    return req->mon;
}

QmpServer *qmp_request_get_server(QmpRequest *req)
{
    return req->mon->server;
}

int qmp_request_take_fd(QmpRequest *req)
{
    while (req->next_fd < req->nfds) {
        int fd = req->fds[req->next_fd];
        req->fds[req->next_fd++] = -1;
        if (fd >= 0) {
            return fd;
        }
    }
    return -1;
}

size_t qmp_request_fd_count(const QmpRequest *req)
{
    return req->nfds - req->next_fd;
}

bool qmp_request_is_oob(const QmpRequest *req)
{
    return req->oob;
}

void qmp_request_set_raw_return(QmpRequest *req, GString *json)
{
    if (req->raw_ret) {
        g_string_free(req->raw_ret, TRUE);
    }
    req->raw_ret = json;
}

/* ------------------------------------------------------------------------ */
/* Dispatch (QEMU's qmp_dispatch() and monitor_qmp_dispatch() rules)        */

static void reply_error(QmpMonitor *m, int code, const char *desc, JsonNode *id)
{
    qmp_json_append_error(m->out, code, desc, id);
    g_string_append(m->out, "\r\n");
}

static bool error_is_class(const GError *e)
{
    return e->domain == QMP_ERROR && e->code >= QMP_ERROR_GENERIC &&
           e->code <= QMP_ERROR_KVM_MISSING_CAP;
}

/* Checks the request members; returns the error text or NULL. */
static char *check_request(JsonObject *obj, bool allow_oob, const char **ret_name, bool *ret_oob,
                           JsonObject **ret_args)
{
    JsonObjectIter it;
    const char *key;
    JsonNode *value;
    const char *exec_key = NULL;

    *ret_args = NULL;
    json_object_iter_init_ordered(&it, obj);
    while (json_object_iter_next_ordered(&it, &key, &value)) {
        if (!strcmp(key, "execute") || (allow_oob && !strcmp(key, "exec-oob"))) {
            if (!JSON_NODE_HOLDS_VALUE(value) || json_node_get_value_type(value) != G_TYPE_STRING) {
                return g_strdup_printf("QMP input member '%s' must be a string", key);
            }
            if (exec_key) {
                return g_strdup_printf("QMP input member '%s' clashes with '%s'", key, exec_key);
            }
            exec_key = key;
            *ret_name = json_node_get_string(value);
            *ret_oob = strcmp(key, "execute") != 0;
        } else if (!strcmp(key, "arguments")) {
            if (!JSON_NODE_HOLDS_OBJECT(value)) {
                return g_strdup("QMP input member 'arguments' must be an object");
            }
            *ret_args = json_node_get_object(value);
        } else if (strcmp(key, "id")) {
            return g_strdup_printf("QMP input member '%s' is unexpected", key);
        }
    }
    if (!exec_key) {
        return g_strdup("QMP input lacks member 'execute'");
    }
    return NULL;
}

static void dispatch_request(QmpMonitor *m, JsonNode *root, GHashTable *u64, QmpRequest *req)
{
    QmpServer *s = m->server;
    JsonObject *obj, *args;
    JsonNode *id;
    const char *name = NULL;
    bool oob = false;
    char *desc;
    Command *cmd;
    int code = QMP_ERROR_GENERIC;
    GError *err = NULL;
    JsonNode *ret = NULL;
    bool ok;

    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        reply_error(m, QMP_ERROR_GENERIC, "QMP input must be a JSON object", NULL);
        return;
    }
    obj = json_node_get_object(root);
    id = json_object_get_member(obj, "id");

    desc = check_request(obj, m->oob, &name, &oob, &args);
    if (desc) {
        goto fail;
    }
    cmd = g_hash_table_lookup(s->commands, name);
    if (cmd && !m->negotiated && !(cmd->flags & QMP_COMMAND_BEFORE_NEGOTIATION)) {
        cmd = NULL;             /* not in the negotiation-mode table */
    }
    if (!cmd) {
        code = QMP_ERROR_COMMAND_NOT_FOUND;
        desc = g_strdup_printf("The command %s has not been found", name);
        goto fail;
    }
    if (oob && !(cmd->flags & QMP_COMMAND_ALLOW_OOB)) {
        desc = g_strdup_printf("The command %s does not support OOB", name);
        goto fail;
    }

    if (args) {
        json_object_ref(args);
    } else {
        args = json_object_new();
    }
    desc = qmp_schema_check_args(cmd->args, args, u64);
    if (desc) {
        json_object_unref(args);
        goto fail;
    }

    req->oob = oob;
    m->running = true;
    s->in_handler++;
    ok = cmd->func(req, args, cmd->opaque, &ret, &err);
    s->in_handler--;
    m->running = false;
    json_object_unref(args);

    if (!ok) {
        if (!err) {
            desc = g_strdup_printf("The command %s failed", name);
        } else {
            code = error_is_class(err) ? err->code : QMP_ERROR_GENERIC;
            desc = g_strdup(err->message);
            g_error_free(err);
        }
        if (ret) {
            json_node_unref(ret);
        }
        if (req->raw_ret) {
            g_string_free(req->raw_ret, TRUE);
            req->raw_ret = NULL;
        }
        goto fail;
    }
    g_clear_error(&err);

    g_string_append(m->out, "{\"return\": ");
    if (req->raw_ret) {
        g_string_append_len(m->out, req->raw_ret->str, (gssize)req->raw_ret->len);
        g_string_free(req->raw_ret, TRUE);
        req->raw_ret = NULL;
    } else if (ret) {
        qmp_json_append_node(m->out, ret);
    } else {
        g_string_append(m->out, "{}");
    }
    if (ret) {
        json_node_unref(ret);
    }
    if (id) {
        g_string_append(m->out, ", \"id\": ");
        qmp_json_append_node(m->out, id);
    }
    g_string_append(m->out, "}\r\n");
    return;

fail:
    if (!m->negotiated && code == QMP_ERROR_COMMAND_NOT_FOUND) {
        /* QEMU's more useful message in capabilities negotiation mode. */
        g_free(desc);
        desc = g_strdup("Expecting capabilities negotiation with 'qmp_capabilities'");
    }
    reply_error(m, code, desc, id);
    g_free(desc);
}

/* Moves the descriptors that arrived up to stream offset @end. */
static void take_batches(QmpMonitor *m, uint64_t end, GArray *fds)
{
    FdBatch *b;

    while ((b = g_queue_peek_head(&m->batches)) && b->end <= end) {
        g_queue_pop_head(&m->batches);
        g_array_append_vals(fds, b->fds, (guint)b->n);
        m->pending_fds -= b->n;
        g_free(b);
    }
}

static void handle_item(QmpMonitor *m, QmpStreamItem *item)
{
    GArray *fds = NULL;
    QmpRequest req = { .mon = m };

    if (!g_queue_is_empty(&m->batches)) {
        fds = g_array_new(FALSE, FALSE, sizeof(int));
        take_batches(m, m->in_offset, fds);
        req.fds = (int *)(void *)fds->data;
        req.nfds = fds->len;
    }
    if (item->kind == QMP_STREAM_ERROR) {
        reply_error(m, QMP_ERROR_GENERIC, item->error, NULL);
    } else {
        dispatch_request(m, item->value, item->u64, &req);
    }
    if (fds) {
        /* Whatever the command did not take is closed now. */
        fdpass_close_all(req.fds, req.nfds);
        g_array_free(fds, TRUE);
    }
    if (m->close_after) {
        monitor_flush(m);
        monitor_close(m);
    }
}

static void monitor_feed(QmpMonitor *m, const char *data, size_t len)
{
    size_t i = 0;

    while (i < len && !m->dead) {
        QmpStreamItem item;
        size_t used;

        if (monitor_input_paused(m)) {
            /* The client is not reading: keep the rest for later. */
            if (!m->in_pending) {
                m->in_pending = g_byte_array_sized_new((guint)(len - i));
                m->in_pos = 0;
            }
            g_byte_array_append(m->in_pending, (const guint8 *)data + i, (guint)(len - i));
            break;
        }
        used = qmp_stream_feed(m->stream, data + i, len - i, &item);
        i += used;
        m->in_offset += used;
        if (item.kind != QMP_STREAM_NONE) {
            handle_item(m, &item);
            qmp_stream_item_clear(&item);
        }
    }
}

/* Feeds input held back while the output was full. */
static void monitor_resume(QmpMonitor *m)
{
    while (!m->dead && m->in_pending && !monitor_input_paused(m)) {
        GByteArray *buf = m->in_pending;
        size_t pos = m->in_pos;

        m->in_pending = NULL;
        m->in_pos = 0;
        monitor_feed(m, (const char *)buf->data + pos, buf->len - pos);
        g_byte_array_unref(buf);
        monitor_flush(m);
    }
}

static void add_batch(QmpMonitor *m, const int *fds, size_t n, uint64_t end)
{
    FdBatch *b = g_new(FdBatch, 1);
    size_t max = m->server->cfg.max_pending_fds;

    b->end = end;
    b->n = n;
    memcpy(b->fds, fds, n * sizeof(int));
    g_queue_push_tail(&m->batches, b);
    m->pending_fds += n;
    /* Newer descriptors replace unclaimed older ones, as in QEMU. */
    while (m->pending_fds > max && g_queue_get_length(&m->batches) > 1) {
        FdBatch *old = g_queue_pop_head(&m->batches);
        fdpass_close_all(old->fds, old->n);
        m->pending_fds -= old->n;
        g_free(old);
    }
}

static void monitor_readable(QmpMonitor *m)
{
    QmpServer *s = m->server;
    int fds[FDPASS_MAX_FDS];
    size_t nfds = 0;
    ssize_t n;

    if (m->eof || m->in_pending || monitor_input_paused(m)) {
        return;
    }
    n = fdpass_recv(m->fd, s->rbuf, READ_CHUNK, fds, m->is_unix ? FDPASS_MAX_FDS : 0,
                    m->is_unix ? &nfds : NULL);
    if (n == -EAGAIN || n == -EINTR) {
        return;
    }
    if (n == -EMSGSIZE) {
        /* More descriptors than one message may carry: they were closed,
         * and the bytes that came with them are lost. Start afresh. */
        qmp_stream_reset(m->stream);
        reply_error(m, QMP_ERROR_GENERIC,
                    "Too many file descriptors in one message, input discarded", NULL);
        return;
    }
    if (n <= 0) {
        if (n < 0) {
            g_debug("qmp: monitor %" G_GUINT64_FORMAT ": recv: %s", m->id, g_strerror((int)-n));
            monitor_close(m);
        } else {
            m->eof = true;
        }
        return;
    }
    if (nfds) {
        /* The kernel ends a read with the bytes that carried descriptors,
         * so they belong to the message holding the last non-blank byte
         * read (trailing CR/LF sent with a command is common); if all is
         * blank, to the next message (QEMU's test library sends the fd
         * with a lone space). See README, "Descriptors". */
        size_t last = (size_t)n;
        while (last > 0 && strchr(" \t\r\n", s->rbuf[last - 1])) {
            last--;
        }
        add_batch(m, fds, nfds, m->in_offset + last);
    }
    monitor_feed(m, s->rbuf, (size_t)n);
}

static void monitor_dispatch(QmpMonitor *m, short revents)
{
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        /* Readiness may be stale (fd reused): recv() decides. */
        monitor_readable(m);
    }
    if (!m->dead && (revents & (POLLOUT | POLLHUP | POLLERR) || out_pending(m))) {
        monitor_flush(m);
        monitor_resume(m);
    }
    if (!m->dead) {
        monitor_flush(m);
        monitor_update_watch(m);
    }
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

static void add_listener(QmpServer *s, int fd, bool is_unix, char *unlink_path)
{
    Listener *l = g_new0(Listener, 1);

    l->fd = fd;
    l->is_unix = is_unix;
    l->unlink_path = unlink_path;
    g_ptr_array_add(s->listeners, l);
    watch_add(s, fd, WATCH_LISTENER, l, listener_events(l));
}

static void listener_set_paused(QmpServer *s, Listener *l, bool paused)
{
    l->paused = paused;
    l->resume_ns = paused ? now_ns(s) + ACCEPT_BACKOFF_NS : 0;
    if (s->watch.update) {
        s->watch.update(s->watch_opaque, l->fd, listener_events(l));
    }
}

static void listener_accept(QmpServer *s, Listener *l)
{
    for (int i = 0; i < ACCEPT_BURST && !l->paused; i++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                g_debug("qmp: accept: %s, pausing", g_strerror(errno));
                listener_set_paused(s, l, true);
            }
            return;
        }
        if (s->cfg.max_monitors && s->monitors->len >= s->cfg.max_monitors) {
            close(fd);
            continue;
        }
        if (!l->is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        monitor_new(s, fd);
    }
}

static bool make_listener(QmpServer *s, int fd, bool is_unix, char *unlink_path, GError **errp)
{
    if (listen(fd, SOMAXCONN) < 0) {
        int err = errno;
        close(fd);
        if (unlink_path) {
            unlink(unlink_path);
            g_free(unlink_path);
        }
        return set_system_error(errp, "listen", err);
    }
    add_listener(s, fd, is_unix, unlink_path);
    return true;
}

bool qmp_server_listen_unix(QmpServer *s, const char *path, GError **errp)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    int fd;

    if (!s || !path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid unix socket path");
        return false;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_EXISTS, "'%s' exists and is not a socket",
                        path);
            return false;
        }
        unlink(path);
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return set_system_error(errp, "socket", errno);
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int err = errno;
        close(fd);
        return set_system_error(errp, "bind", err);
    }
    return make_listener(s, fd, true, g_strdup(path), errp);
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

bool qmp_server_listen_fd(QmpServer *s, int fd, GError **errp)
{
    int type = 0, acc = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    bool is_unix;

    if (!s || fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid listening descriptor");
        return false;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM ||
        (len = sizeof(acc), getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) < 0) || !acc ||
        getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        close(fd);
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                    "Descriptor is not a listening stream socket");
        return false;
    }
    is_unix = ss.ss_family == AF_UNIX;
    if (!is_unix && !addr_is_loopback(&ss)) {
        close(fd);
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                    "Only unix and loopback TCP sockets are served");
        return false;
    }
    if (!set_nonblock_cloexec(fd)) {
        int err = errno;
        close(fd);
        return set_system_error(errp, "fcntl", err);
    }
    add_listener(s, fd, is_unix, NULL);
    return true;
}

bool qmp_server_listen_tcp(QmpServer *s, const char *host, uint16_t port, uint16_t *ret_port,
                           GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (!host || !strcmp(host, "localhost")) {
        host = "127.0.0.1";
    }
    if (!s) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No server");
        return false;
    }
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
        sslen = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
        sslen = sizeof(struct sockaddr_in6);
    } else {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Cannot parse address '%s'", host);
        return false;
    }
    if (!addr_is_loopback(&ss)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                    "'%s' is not a loopback address; QMP has no authentication", host);
        return false;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return set_system_error(errp, "socket", errno);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
        int err = errno;
        close(fd);
        return set_system_error(errp, "bind", err);
    }
    if (ret_port) {
        struct sockaddr_storage bound;
        socklen_t blen = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
            int err = errno;
            close(fd);
            return set_system_error(errp, "getsockname", err);
        }
        *ret_port = ntohs(bound.ss_family == AF_INET
                              ? ((struct sockaddr_in *)&bound)->sin_port
                              : ((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    return make_listener(s, fd, false, NULL, errp);
}

/* ------------------------------------------------------------------------ */
/* Event loop entry points                                                   */

void qmp_server_dispatch_fd(QmpServer *s, int fd, short revents)
{
    Watch *w = g_hash_table_lookup(s->by_fd, GINT_TO_POINTER(fd));

    if (!w || !revents) {
        return;
    }
    enter(s);
    if (w->kind == WATCH_LISTENER) {
        listener_accept(s, w->ptr);
    } else {
        monitor_dispatch(w->ptr, revents);
    }
    leave(s);
}

static int64_t next_deadline(QmpServer *s)
{
    int64_t d = -1;
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, s->throttles);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Throttle *th = value;
        if (d < 0 || th->deadline_ns < d) {
            d = th->deadline_ns;
        }
    }
    for (guint i = 0; i < s->listeners->len; i++) {
        Listener *l = g_ptr_array_index(s->listeners, i);
        if (l->paused && (d < 0 || l->resume_ns < d)) {
            d = l->resume_ns;
        }
    }
    return d;
}

int qmp_server_timeout_ms(QmpServer *s)
{
    int64_t d = next_deadline(s), now;

    if (d < 0) {
        return -1;
    }
    now = now_ns(s);
    if (d <= now) {
        return 0;
    }
    d = (d - now + 999999) / 1000000;
    return d > G_MAXINT ? G_MAXINT : (int)d;
}

void qmp_server_dispatch_timers(QmpServer *s)
{
    int64_t now;
    GHashTableIter it;
    gpointer value;
    GPtrArray *due;

    enter(s);
    now = now_ns(s);
    for (guint i = 0; i < s->listeners->len; i++) {
        Listener *l = g_ptr_array_index(s->listeners, i);
        if (l->paused && l->resume_ns <= now) {
            listener_set_paused(s, l, false);
        }
    }
    due = g_ptr_array_new();
    g_hash_table_iter_init(&it, s->throttles);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        Throttle *th = value;
        if (th->deadline_ns <= now) {
            g_ptr_array_add(due, th);
        }
    }
    for (guint i = 0; i < due->len; i++) {
        flush_throttle(s, g_ptr_array_index(due, i));
    }
    g_ptr_array_free(due, TRUE);
    leave(s);
}

size_t qmp_server_fill_pollfds(QmpServer *s, struct pollfd *fds, size_t max)
{
    size_t n = 0;

    for (guint i = 0; i < s->listeners->len; i++, n++) {
        Listener *l = g_ptr_array_index(s->listeners, i);
        if (n < max) {
            fds[n] = (struct pollfd){ .fd = l->fd, .events = listener_events(l) };
        }
    }
    for (guint i = 0; i < s->monitors->len; i++, n++) {
        QmpMonitor *m = g_ptr_array_index(s->monitors, i);
        if (n < max) {
            fds[n] = (struct pollfd){ .fd = m->fd, .events = m->events };
        }
    }
    return n;
}

void qmp_server_dispatch_pollfds(QmpServer *s, const struct pollfd *fds, size_t n)
{
    enter(s);
    for (size_t i = 0; i < n; i++) {
        if (fds[i].revents) {
            qmp_server_dispatch_fd(s, fds[i].fd, fds[i].revents);
        }
    }
    if (qmp_server_timeout_ms(s) == 0) {
        qmp_server_dispatch_timers(s);
    }
    leave(s);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static void send_event_line(QmpServer *s, const GString *line)
{
    /* Copy: closing a monitor edits the array. */
    GPtrArray *mons = g_ptr_array_copy(s->monitors, NULL, NULL);

    for (guint i = 0; i < mons->len; i++) {
        QmpMonitor *m = g_ptr_array_index(mons, i);
        if (m->dead || !m->negotiated) {
            continue;
        }
        monitor_queue_event(m, line);
        if (!m->dead) {
            monitor_flush(m);
            monitor_update_watch(m);
        }
    }
    g_ptr_array_free(mons, TRUE);
}

static void throttle_free(gpointer p)
{
    Throttle *th = p;

    g_free(th->event);
    if (th->pending) {
        g_string_free(th->pending, TRUE);
    }
    g_free(th);
}

static void event_rate_free(gpointer p)
{
    EventRate *r = p;

    g_free(r->key_member);
    g_free(r);
}

/* A throttle period ended: send what it held back, or forget it. */
static void flush_throttle(QmpServer *s, Throttle *th)
{
    EventRate *rate = g_hash_table_lookup(s->rates, th->event);
    GHashTableIter it;
    gpointer key, value;

    if (th->pending && rate) {
        GString *line = th->pending;
        th->pending = NULL;
        th->deadline_ns = now_ns(s) + rate->period_ns;
        send_event_line(s, line);
        g_string_free(line, TRUE);
        return;
    }
    if (th->pending) {
        send_event_line(s, th->pending);
    }
    g_hash_table_iter_init(&it, s->throttles);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        if (value == th) {
            g_hash_table_iter_remove(&it);
            break;
        }
    }
}

bool qmp_server_emit_event(QmpServer *s, const char *name, JsonObject *data, GError **errp)
{
    gint64 t = g_get_real_time();
    EventRate *rate;
    GString *line;

    if (!s || !name || !*name) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid event name");
        return false;
    }
    line = g_string_sized_new(128);
    g_string_append_printf(line, "{\"timestamp\": {\"seconds\": %" G_GINT64_FORMAT
                           ", \"microseconds\": %" G_GINT64_FORMAT "}, \"event\": ",
                           t / G_USEC_PER_SEC, t % G_USEC_PER_SEC);
    qmp_json_append_string(line, name, strlen(name));
    if (data) {
        JsonNode *n = json_node_new(JSON_NODE_OBJECT);
        json_node_set_object(n, data);
        g_string_append(line, ", \"data\": ");
        qmp_json_append_node(line, n);
        json_node_unref(n);
    }
    g_string_append(line, "}\r\n");

    enter(s);
    rate = g_hash_table_lookup(s->rates, name);
    if (!rate) {
        send_event_line(s, line);
        g_string_free(line, TRUE);
    } else {
        GString *key = g_string_new(name);
        Throttle *th;

        g_string_append_c(key, '\n');
        if (rate->key_member && data) {
            JsonNode *kv = json_object_get_member(data, rate->key_member);
            if (kv) {
                qmp_json_append_node(key, kv);
            }
        }
        th = g_hash_table_lookup(s->throttles, key->str);
        if (th) {
            /* Within the period: keep only the newest. */
            if (th->pending) {
                g_string_free(th->pending, TRUE);
            }
            th->pending = line;
            g_string_free(key, TRUE);
        } else {
            send_event_line(s, line);
            g_string_free(line, TRUE);
            th = g_new0(Throttle, 1);
            th->event = g_strdup(name);
            th->deadline_ns = now_ns(s) + rate->period_ns;
            g_hash_table_insert(s->throttles, g_string_free(key, FALSE), th);
        }
    }
    leave(s);
    return true;
}

bool qmp_server_set_event_rate(QmpServer *s, const char *name, int64_t period_ns,
                               const char *key_member, GError **errp)
{
    if (!s || !name || !*name || period_ns < 0) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid event rate");
        return false;
    }
    if (period_ns == 0) {
        GHashTableIter it;
        gpointer value;
        GPtrArray *mine = g_ptr_array_new();

        g_hash_table_remove(s->rates, name);
        g_hash_table_iter_init(&it, s->throttles);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            if (!strcmp(((Throttle *)value)->event, name)) {
                g_ptr_array_add(mine, value);
            }
        }
        enter(s);
        for (guint i = 0; i < mine->len; i++) {
            flush_throttle(s, g_ptr_array_index(mine, i));
        }
        leave(s);
        g_ptr_array_free(mine, TRUE);
        return true;
    }
    EventRate *r = g_new0(EventRate, 1);
    r->period_ns = period_ns;
    r->key_member = g_strdup(key_member);
    g_hash_table_insert(s->rates, g_strdup(name), r);
    return true;
}

void qmp_server_set_clock(QmpServer *s, QmpClockFunc fn, void *opaque)
{
    s->clock = fn;
    s->clock_opaque = opaque;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */

static void command_free(gpointer p)
{
    Command *c = p;

    qmp_type_free(c->args);
    g_free(c->name);
    g_free(c);
}

static void gstring_free(GString *g)
{
    g_string_free(g, TRUE);
}

static void invalidate_caches(QmpServer *s)
{
    g_clear_pointer(&s->schema_cache, gstring_free);
    g_clear_pointer(&s->commands_cache, gstring_free);
}

bool qmp_server_add_command(QmpServer *s, const QmpCommand *desc, GError **errp)
{
    Command *c;

    if (!s || !desc || !desc->name || !*desc->name || !desc->func ||
        (desc->flags & ~(QMP_COMMAND_BEFORE_NEGOTIATION | QMP_COMMAND_ALLOW_OOB))) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid command description");
        return false;
    }
    if (g_hash_table_contains(s->commands, desc->name)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_EXISTS, "Command '%s' already exists",
                    desc->name);
        return false;
    }
    c = g_new0(Command, 1);
    c->args = qmp_schema_make_args(s->schema, desc->name, desc->args, desc->n_args, errp);
    if (!c->args) {
        g_free(c);
        return false;
    }
    if (desc->returns) {
        c->ret = qmp_schema_lookup(s->schema, desc->returns, errp);
        if (!c->ret) {
            g_prefix_error(errp, "Return type of '%s': ", desc->name);
            command_free(c);
            return false;
        }
    }
    c->name = g_strdup(desc->name);
    c->n_args = desc->n_args;
    c->func = desc->func;
    c->opaque = desc->opaque;
    c->flags = desc->flags;
    g_hash_table_insert(s->commands, c->name, c);
    g_ptr_array_add(s->command_order, c);
    invalidate_caches(s);
    return true;
}

bool qmp_server_remove_command(QmpServer *s, const char *name, GError **errp)
{
    Command *c;

    if (!s || !name || !strcmp(name, "qmp_capabilities") || s->in_handler) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Cannot remove command '%s'",
                    name ? name : "(null)");
        return false;
    }
    c = g_hash_table_lookup(s->commands, name);
    if (!c) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_NOT_FOUND, "No command '%s'", name);
        return false;
    }
    g_ptr_array_remove(s->command_order, c);
    g_hash_table_remove(s->commands, name);
    invalidate_caches(s);
    return true;
}

bool qmp_server_add_object_type(QmpServer *s, const char *name, const QmpMember *members,
                                size_t n, GError **errp)
{
    if (!s) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No server");
        return false;
    }
    return qmp_schema_add_object(s->schema, name, members, n, errp);
}

bool qmp_server_add_enum_type(QmpServer *s, const char *name, const char *const *values,
                              size_t n, GError **errp)
{
    if (!s) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No server");
        return false;
    }
    return qmp_schema_add_enum(s->schema, name, values, n, errp);
}

const char *qmp_server_version_json(QmpServer *s)
{
    return s->version_json;
}

void qmp_server_append_commands(QmpServer *s, GString *out)
{
    if (!s->commands_cache) {
        GString *c = g_string_new("[");
        /* QEMU lists the most recently registered first. */
        for (guint i = s->command_order->len; i-- > 0;) {
            Command *cmd = g_ptr_array_index(s->command_order, i);
            g_string_append(c, i + 1 == s->command_order->len ? "{\"name\": " : ", {\"name\": ");
            qmp_json_append_string(c, cmd->name, strlen(cmd->name));
            g_string_append_c(c, '}');
        }
        g_string_append_c(c, ']');
        s->commands_cache = c;
    }
    g_string_append_len(out, s->commands_cache->str, (gssize)s->commands_cache->len);
}

void qmp_server_append_schema(QmpServer *s, GString *out)
{
    if (!s->schema_cache) {
        QmpSchemaCommand *cmds = g_new0(QmpSchemaCommand, s->command_order->len + 1);
        for (guint i = 0; i < s->command_order->len; i++) {
            Command *c = g_ptr_array_index(s->command_order, i);
            cmds[i].name = c->name;
            cmds[i].args = c->n_args ? c->args : NULL;
            cmds[i].ret = c->ret;
            cmds[i].allow_oob = c->flags & QMP_COMMAND_ALLOW_OOB;
        }
        s->schema_cache = g_string_new(NULL);
        qmp_schema_introspect(s->schema, cmds, s->command_order->len, s->schema_cache);
        g_free(cmds);
    }
    g_string_append_len(out, s->schema_cache->str, (gssize)s->schema_cache->len);
}

/* ------------------------------------------------------------------------ */
/* Creation and destruction                                                  */

bool qmp_server_new(const QmpServerConfig *cfg, QmpServer **ret, GError **errp)
{
    QmpServer *s;
    GString *v;

    if (!ret) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No result pointer");
        return false;
    }
    s = g_new0(QmpServer, 1);
    if (cfg) {
        s->cfg = *cfg;
    }
    s->cfg.version_package = NULL;     /* not kept: copied into the JSON */
    if (!s->cfg.max_message_size) {
        s->cfg.max_message_size = QMP_DEFAULT_MAX_MESSAGE_SIZE;
    }
    if (!s->cfg.max_tokens) {
        s->cfg.max_tokens = QMP_DEFAULT_MAX_TOKENS;
    }
    if (!s->cfg.max_depth) {
        s->cfg.max_depth = QMP_DEFAULT_MAX_DEPTH;
    }
    if (!s->cfg.output_pause) {
        s->cfg.output_pause = QMP_DEFAULT_OUTPUT_PAUSE;
    }
    if (!s->cfg.max_output) {
        s->cfg.max_output = QMP_DEFAULT_MAX_OUTPUT;
    }
    if (!s->cfg.max_pending_fds) {
        s->cfg.max_pending_fds = QMP_DEFAULT_MAX_PENDING_FDS;
    }
    if (s->cfg.output_pause > s->cfg.max_output || s->cfg.max_depth > QMP_MAX_DEPTH_LIMIT) {
        g_free(s);
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                    "output_pause exceeds max_output, or max_depth exceeds %u",
                    QMP_MAX_DEPTH_LIMIT);
        return false;
    }
    if (cfg && cfg->fd_sets) {
        s->sets = cfg->fd_sets;
    } else {
        int rc = fdpass_sets_new(&s->sets);
        if (rc < 0) {
            g_free(s);
            return set_system_error(errp, "fdpass_sets_new", -rc);
        }
        s->own_sets = true;
    }

    v = g_string_new(NULL);
    g_string_append_printf(v, "{\"qemu\": {\"micro\": %" G_GINT64_FORMAT ", \"minor\": %"
                           G_GINT64_FORMAT ", \"major\": %" G_GINT64_FORMAT "}, \"package\": ",
                           s->cfg.version_micro, s->cfg.version_minor, s->cfg.version_major);
    qmp_json_append_string(v, cfg && cfg->version_package ? cfg->version_package : "",
                           cfg && cfg->version_package ? strlen(cfg->version_package) : 0);
    g_string_append_c(v, '}');
    s->version_json = g_string_free(v, FALSE);
    s->greeting = g_string_new("{\"QMP\": {\"version\": ");
    g_string_append(s->greeting, s->version_json);
    g_string_append(s->greeting, ", \"capabilities\": [\"oob\"]}}\r\n");

    s->schema = qmp_schema_new();
    s->commands = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, command_free);
    s->command_order = g_ptr_array_new();
    s->listeners = g_ptr_array_new();
    s->monitors = g_ptr_array_new();
    s->zombies = g_ptr_array_new();
    s->by_fd = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    s->rates = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, event_rate_free);
    s->throttles = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, throttle_free);
    s->rbuf = g_malloc(READ_CHUNK);

    if (!qmp_builtins_register(s, errp)) {
        qmp_server_free(s);
        return false;
    }
    *ret = s;
    return true;
}

void qmp_server_set_source(QmpServer *s, GSource *source)
{
    if (source && s->source && s->source != source) {
        /* A second source replaces the first, which goes idle. */
        GSource *old = s->source;
        s->source = NULL;
        qmp_source_server_gone(old);
    }
    s->source = source;
}

void qmp_server_free(QmpServer *s)
{
    if (!s) {
        return;
    }
    enter(s);
    while (s->monitors->len) {
        QmpMonitor *m = g_ptr_array_index(s->monitors, 0);
        m->running = false;
        monitor_close(m);
    }
    for (guint i = 0; i < s->listeners->len; i++) {
        Listener *l = g_ptr_array_index(s->listeners, i);
        watch_remove(s, l->fd);
        close(l->fd);
        if (l->unlink_path) {
            unlink(l->unlink_path);
            g_free(l->unlink_path);
        }
        g_free(l);
    }
    g_ptr_array_set_size(s->listeners, 0);
    leave(s);
    if (s->source) {
        GSource *src = s->source;
        s->source = NULL;
        qmp_source_server_gone(src);
    }
    if (s->own_sets) {
        fdpass_sets_free(s->sets);
    }
    g_hash_table_unref(s->throttles);
    g_hash_table_unref(s->rates);
    g_hash_table_unref(s->by_fd);
    g_ptr_array_free(s->zombies, TRUE);
    g_ptr_array_free(s->monitors, TRUE);
    g_ptr_array_free(s->listeners, TRUE);
    g_ptr_array_free(s->command_order, TRUE);
    g_hash_table_unref(s->commands);
    qmp_schema_free(s->schema);
    invalidate_caches(s);
    g_string_free(s->greeting, TRUE);
    g_free(s->version_json);
    g_free(s->rbuf);
    g_free(s);
}

FdPassSets *qmp_server_get_fd_sets(QmpServer *s)
{
    return s->sets;
}
