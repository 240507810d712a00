/* SPDX-License-Identifier: MIT */
/*
 * vhost-user front-end: life cycle, sockets (client with back-off, server
 * with accept, caller-supplied fds), disconnect detection, the event-loop
 * glue and the listeners.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhu-private.h"

void vhu_options_init(VhuOptions *opts)
{
    if (!opts) {
        return;
    }
    memset(opts, 0, sizeof(*opts));
    opts->mode = VHU_MODE_CLIENT;
    opts->num_queues = 1;
    opts->queue_size = VHU_DEFAULT_QUEUE_SIZE;
    opts->protocol_features = VHU_PROTOCOL_FEATURES_SUPPORTED;
    opts->reply_timeout_ms = VHU_DEFAULT_REPLY_TIMEOUT_MS;
    opts->retry_initial_ms = VHU_DEFAULT_RETRY_INITIAL_MS;
    opts->retry_max_ms = VHU_DEFAULT_RETRY_MAX_MS;
}

bool vhu_new(const VhuOptions *opts, VhuDev **ret_dev, GError **errp)
{
    struct sockaddr_un sun;
    VhuDev *dev;

    if (!opts || !ret_dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "vhu_new: NULL argument");
        return false;
    }
    if ((unsigned)opts->mode >= _VHU_MODE_MAX) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "unknown mode %d", (int)opts->mode);
        return false;
    }
    if (opts->mode != VHU_MODE_FD &&
        (!opts->path || !opts->path[0] || strlen(opts->path) >= sizeof(sun.sun_path))) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID,
                      "socket path missing or longer than %zu bytes",
                      sizeof(sun.sun_path) - 1);
        return false;
    }
    if (opts->num_queues < 1 || opts->num_queues > VHU_MAX_QUEUES) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "num_queues %u out of range 1..%u",
                      opts->num_queues, VHU_MAX_QUEUES);
        return false;
    }
    if (opts->queue_size < 1 || opts->queue_size > VQ_MAX_SIZE) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "queue_size %u out of range 1..%u",
                      opts->queue_size, VQ_MAX_SIZE);
        return false;
    }

    dev = g_new0(VhuDev, 1);
    dev->mode = opts->mode;
    dev->path = g_strdup(opts->path);
    dev->name = g_strdup(opts->name && opts->name[0] ? opts->name : VHU_DEFAULT_NAME);
    dev->num_queues = opts->num_queues;
    dev->queue_size = opts->queue_size;
    dev->proto_allowed = opts->protocol_features & VHU_PROTOCOL_FEATURES_SUPPORTED;
    dev->reply_timeout_ms = opts->reply_timeout_ms ? opts->reply_timeout_ms
                                                   : VHU_DEFAULT_REPLY_TIMEOUT_MS;
    dev->retry_initial_ms = opts->retry_initial_ms ? opts->retry_initial_ms
                                                   : VHU_DEFAULT_RETRY_INITIAL_MS;
    dev->retry_max_ms = opts->retry_max_ms ? opts->retry_max_ms : VHU_DEFAULT_RETRY_MAX_MS;
    if (dev->retry_max_ms < dev->retry_initial_ms) {
        dev->retry_max_ms = dev->retry_initial_ms;
    }
    dev->retry_max_attempts = opts->retry_max_attempts;
    dev->retry_delay_ms = dev->retry_initial_ms;
    dev->listen_fd = -1;
    dev->conn_fd = -1;
    dev->watched_fd = -1;
    dev->inflight_fd = -1;
    for (unsigned i = 0; i < VHU_MAX_QUEUES; i++) {
        dev->rings[i].enabled = true;
        dev->rings[i].kick_fd = -1;
        dev->rings[i].call_fd = -1;
        dev->rings[i].err_fd = -1;
    }
    dev->listeners = g_array_new(FALSE, TRUE, sizeof(VhuListenerEntry));
    dev->next_listener_id = 1;
    *ret_dev = dev;
    return true;
}

const char *vhu_get_name(const VhuDev *dev)
{
    return dev ? dev->name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Event-loop glue                                                           */

static int wanted_fd(const VhuDev *dev)
{
    if (dev->conn_fd >= 0) {
        return dev->conn_fd;
    }
    if (dev->mode == VHU_MODE_SERVER && dev->opened) {
        return dev->listen_fd;
    }
    return -1;
}

/* Tells the loop about the fd to watch now. Call before closing an fd that
 * may be watched (the loop must forget it while its number is valid). */
static void update_watch(VhuDev *dev)
{
    int fd = wanted_fd(dev);

    if (fd == dev->watched_fd) {
        return;
    }
    if (dev->has_loop && dev->watched_fd >= 0 && dev->loop.remove_watch) {
        dev->loop.remove_watch(dev->watched_fd, dev->loop_opaque);
    }
    dev->watched_fd = fd;
    if (dev->has_loop && fd >= 0 && dev->loop.add_watch) {
        dev->loop.add_watch(fd, VHU_EVENT_IN | VHU_EVENT_HUP, dev->loop_opaque);
    }
}

/* Tells the loop about the retry timer: @delay_ms is the delay just
 * scheduled, or -1 to tell it what is left of the pending one. */
static void update_timer(VhuDev *dev, int64_t delay_ms)
{
    if (!dev->has_loop || !dev->loop.set_timer) {
        dev->timer_told = dev->retry_pending;
        return;
    }
    if (dev->retry_pending) {
        /* The delay as scheduled, not as read back from the clock: a
         * caller preempted in between must not see it shrink. */
        dev->loop.set_timer(delay_ms >= 0 ? delay_ms : vhu_get_timeout(dev), dev->loop_opaque);
        dev->timer_told = true;
    } else if (dev->timer_told) {
        dev->loop.set_timer(-1, dev->loop_opaque);
        dev->timer_told = false;
    }
}

void vhu_set_loop(VhuDev *dev, const VhuLoop *loop, void *opaque)
{
    if (!dev) {
        return;
    }
    if (dev->has_loop) {
        if (dev->watched_fd >= 0 && dev->loop.remove_watch) {
            dev->loop.remove_watch(dev->watched_fd, dev->loop_opaque);
        }
        if (dev->timer_told && dev->loop.set_timer) {
            dev->loop.set_timer(-1, dev->loop_opaque);
        }
    }
    dev->watched_fd = -1;
    dev->timer_told = false;
    dev->has_loop = loop != NULL;
    if (loop) {
        dev->loop = *loop;
    } else {
        memset(&dev->loop, 0, sizeof(dev->loop));
    }
    dev->loop_opaque = opaque;
    update_watch(dev);
    update_timer(dev, -1);
}

int vhu_get_fd(const VhuDev *dev, unsigned *ret_events)
{
    int fd = dev ? wanted_fd(dev) : -1;

    if (ret_events) {
        *ret_events = fd >= 0 ? VHU_EVENT_IN | VHU_EVENT_HUP : 0;
    }
    return fd;
}

int64_t vhu_get_timeout(const VhuDev *dev)
{
    int64_t left;

    if (!dev || !dev->retry_pending) {
        return -1;
    }
    left = dev->retry_due_ns - vhu_now_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

unsigned vhu_add_listener(VhuDev *dev, const VhuListener *listener, void *opaque)
{
    VhuListenerEntry e;

    if (!dev || !listener) {
        return 0;
    }
    e.id = dev->next_listener_id++;
    e.cb = *listener;
    e.opaque = opaque;
    g_array_append_val(dev->listeners, e);
    return e.id;
}

void vhu_remove_listener(VhuDev *dev, unsigned id)
{
    if (!dev) {
        return;
    }
    for (guint i = 0; i < dev->listeners->len; i++) {
        if (g_array_index(dev->listeners, VhuListenerEntry, i).id == id) {
            g_array_remove_index(dev->listeners, i);
            return;
        }
    }
}

/* Looks a listener up by id: callbacks may remove listeners (themselves or
 * others) while we iterate over a snapshot of the ids. */
static bool find_listener(VhuDev *dev, unsigned id, VhuListenerEntry *ret)
{
    for (guint i = 0; i < dev->listeners->len; i++) {
        VhuListenerEntry *e = &g_array_index(dev->listeners, VhuListenerEntry, i);

        if (e->id == id) {
            *ret = *e;
            return true;
        }
    }
    return false;
}

static GArray *listener_ids(VhuDev *dev)
{
    GArray *ids = g_array_sized_new(FALSE, FALSE, sizeof(unsigned), dev->listeners->len);

    for (guint i = 0; i < dev->listeners->len; i++) {
        g_array_append_val(ids, g_array_index(dev->listeners, VhuListenerEntry, i).id);
    }
    return ids;
}

typedef enum { EV_UP, EV_DOWN, EV_FAILED } ListenerEvent;

static void notify(VhuDev *dev, ListenerEvent ev, const GError *err)
{
    GArray *ids = listener_ids(dev);

    for (guint i = 0; i < ids->len; i++) {
        VhuListenerEntry e;

        if (!find_listener(dev, g_array_index(ids, unsigned, i), &e)) {
            continue;
        }
        if (ev == EV_UP && e.cb.link_up) {
            e.cb.link_up(dev, e.opaque);
        } else if (ev == EV_DOWN && e.cb.link_down) {
            e.cb.link_down(dev, err, e.opaque);
        } else if (ev == EV_FAILED && e.cb.connect_failed) {
            e.cb.connect_failed(dev, err, e.opaque);
        }
    }
    g_array_free(ids, TRUE);
}

void vhu_notify_link_up(VhuDev *dev)
{
    notify(dev, EV_UP, NULL);
}

void vhu_notify_connect_failed(VhuDev *dev, const GError *err)
{
    notify(dev, EV_FAILED, err);
}

bool vhu_listeners_restore_base(VhuDev *dev, unsigned index, uint32_t *ret_base)
{
    GArray *ids = listener_ids(dev);
    bool done = false;

    for (guint i = 0; i < ids->len && !done; i++) {
        VhuListenerEntry e;

        if (find_listener(dev, g_array_index(ids, unsigned, i), &e) &&
            e.cb.restore_vring_base) {
            done = e.cb.restore_vring_base(dev, index, ret_base, e.opaque);
        }
    }
    g_array_free(ids, TRUE);
    return done;
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */

static void remember_error(VhuDev *dev, const GError *err)
{
    g_clear_error(&dev->last_error);
    if (err) {
        dev->last_error = g_error_copy(err);
    }
}

static void schedule_retry(VhuDev *dev, unsigned delay_ms)
{
    dev->retry_pending = true;
    dev->retry_due_ns = vhu_now_ns() + (int64_t)delay_ms * 1000000;
    update_timer(dev, delay_ms);
}

static void cancel_retry(VhuDev *dev)
{
    dev->retry_pending = false;
    update_timer(dev, -1);
}

/* Closes the connection socket (the loop forgets it first) and the state
 * that lives only as long as one connection. */
static void close_conn(VhuDev *dev)
{
    int fd = dev->conn_fd;

    if (fd < 0) {
        return;
    }
    dev->conn_fd = -1;
    dev->up = false;
    dev->features_sent = false;
    dev->mem_sent = false;
    dev->inflight_sent = false;
    update_watch(dev);
    close(fd);
}

/* A client-mode attempt failed (connect refused, or the back-end refused
 * by us): back off, or give up. Returns true if another attempt is due. */
static void client_backoff(VhuDev *dev)
{
    unsigned delay = dev->retry_delay_ms;

    dev->retry_attempts++;
    if (dev->retry_max_attempts && dev->retry_attempts >= dev->retry_max_attempts) {
        GError *err = NULL;

        dev->gave_up = true;
        cancel_retry(dev);
        vhu_set_error(dev, &err, VHU_ERROR_GAVE_UP,
                      "no usable back-end at %s after %u attempts", dev->path,
                      dev->retry_attempts);
        remember_error(dev, err);
        vhu_notify_connect_failed(dev, err);
        g_error_free(err);
        return;
    }
    dev->retry_delay_ms = MIN(dev->retry_delay_ms * 2, dev->retry_max_ms);
    schedule_retry(dev, delay);
}

/* Runs the handshake on the new connection @fd (ours now). */
static bool start_connection(VhuDev *dev, int fd, GError **errp)
{
    GError *err = NULL;

    dev->conn_fd = fd;
    dev->stats.last_accept_ns = vhu_now_ns();
    dev->in_handshake = true;
    if (!vhu_dev_handshake(dev, &err)) {
        dev->in_handshake = false;
        dev->stats.refused++;
        close_conn(dev);
        remember_error(dev, err);
        g_propagate_error(errp, err);
        return false;
    }
    dev->in_handshake = false;
    dev->up = true;
    dev->ever_connected = true;
    dev->protocol_fixed = true;
    dev->stats.connections++;
    dev->stats.last_link_up_ns = vhu_now_ns();
    dev->retry_attempts = 0;
    dev->retry_delay_ms = dev->retry_initial_ms;
    update_watch(dev);
    vhu_notify_link_up(dev);
    return true;
}

static bool set_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
           fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

static void fill_addr(const VhuDev *dev, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, dev->path, strlen(dev->path));
}

/* One client-mode attempt. Returns false (with @errp) only on errors that
 * retrying cannot fix. */
static bool client_attempt(VhuDev *dev, GError **errp)
{
    struct sockaddr_un sun;
    GError *err = NULL;
    int fd, e;

    cancel_retry(dev);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_SOCKET, "socket: %s", g_strerror(errno));
        return false;
    }
    fill_addr(dev, &sun);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        if (start_connection(dev, fd, &err)) {
            return true;
        }
        vhu_notify_connect_failed(dev, err);
        g_error_free(err);
        client_backoff(dev);
        return true;
    }
    e = errno;
    close(fd);
    switch (e) {
    case ENOENT:
    case ECONNREFUSED:
    case EAGAIN:
    case EINPROGRESS:
    case EINTR:
        /* Nobody listens there (yet), or its backlog is full: retry. */
        client_backoff(dev);
        return true;
    default:
        vhu_set_error(dev, errp, VHU_ERROR_SOCKET, "connect to %s: %s", dev->path,
                      g_strerror(e));
        return false;
    }
}

static bool server_listen(VhuDev *dev, GError **errp)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd;

    /* Remove a socket left by an earlier run, but never another file. */
    if (lstat(dev->path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(dev->path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_SOCKET, "socket: %s", g_strerror(errno));
        return false;
    }
    fill_addr(dev, &sun);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_SOCKET, "bind %s: %s", dev->path,
                      g_strerror(errno));
        close(fd);
        return false;
    }
    if (listen(fd, 16) < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_SOCKET, "listen on %s: %s", dev->path,
                      g_strerror(errno));
        close(fd);
        unlink(dev->path);
        return false;
    }
    dev->listen_fd = fd;
    dev->unlink_path = true;
    return true;
}

bool vhu_open(VhuDev *dev, GError **errp)
{
    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "vhu_open: NULL device");
        return false;
    }
    if (dev->opened) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE, "already open");
        return false;
    }
    switch (dev->mode) {
    case VHU_MODE_SERVER:
        if (!server_listen(dev, errp)) {
            return false;
        }
        dev->opened = true;
        update_watch(dev);
        return true;
    case VHU_MODE_CLIENT:
        dev->opened = true;
        if (!client_attempt(dev, errp)) {
            dev->opened = false;
            return false;
        }
        return true;
    default:
        dev->opened = true;
        return true;
    }
}

bool vhu_attach_fd(VhuDev *dev, int fd, GError **errp)
{
    if (!dev || fd < 0) {
        if (fd >= 0) {
            close(fd);
        }
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "vhu_attach_fd: bad argument");
        return false;
    }
    if (dev->conn_fd >= 0) {
        close(fd);
        vhu_set_error(dev, errp, VHU_ERROR_STATE, "a back-end is already connected");
        return false;
    }
    if (!set_nonblock_cloexec(fd)) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "fd %d: %s", fd, g_strerror(errno));
        close(fd);
        return false;
    }
    dev->opened = true;
    cancel_retry(dev);
    return start_connection(dev, fd, errp);
}

/* The link went down (or the connection was dropped during a request). */
static void link_lost(VhuDev *dev, const GError *err)
{
    bool was_up = dev->up;

    close_conn(dev);
    remember_error(dev, err);
    if (was_up) {
        dev->stats.disconnections++;
    }
    if (dev->mode == VHU_MODE_CLIENT && dev->opened && !dev->gave_up) {
        dev->retry_delay_ms = dev->retry_initial_ms;
        dev->retry_attempts = 0;
        schedule_retry(dev, dev->retry_initial_ms);
    }
    update_watch(dev);
    if (was_up) {
        notify(dev, EV_DOWN, err);
    }
}

bool vhu_error_is_fatal(const GError *err)
{
    return err && err->domain == VHU_ERROR &&
           (err->code == VHU_ERROR_IO || err->code == VHU_ERROR_TIMEOUT ||
            err->code == VHU_ERROR_PROTOCOL);
}

void vhu_conn_fail(VhuDev *dev, const GError *err)
{
    if (dev->conn_fd < 0 || dev->in_handshake) {
        /* The handshake reports its own failure (start_connection). */
        return;
    }
    link_lost(dev, err);
}

bool vhu_fail(VhuDev *dev, GError **errp, GError *err)
{
    if (vhu_error_is_fatal(err)) {
        vhu_conn_fail(dev, err);
    }
    g_propagate_error(errp, err);
    return false;
}

static void server_accept(VhuDev *dev)
{
    GError *err = NULL;
    int fd;

    do {
        fd = accept4(dev->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        /* EAGAIN: a spurious wake-up; a connection reset before accept;
         * EMFILE & co: try again on the next wake-up. */
        return;
    }
    if (!start_connection(dev, fd, &err)) {
        update_watch(dev);
        vhu_notify_connect_failed(dev, err);
        g_error_free(err);
    }
}

/* The connection is readable while no request is pending: either the
 * back-end hung up, or it sent something it should not have. */
static void check_conn(VhuDev *dev)
{
    GError *err = NULL;
    char c;
    ssize_t n;

    do {
        n = recv(dev->conn_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n == 0) {
        vhu_set_error(dev, &err, VHU_ERROR_IO, "back-end hung up");
    } else if (n > 0) {
        vhu_set_error(dev, &err, VHU_ERROR_PROTOCOL, "unsolicited message from the back-end");
    } else {
        vhu_set_error(dev, &err, VHU_ERROR_IO, "connection error: %s", g_strerror(errno));
    }
    link_lost(dev, err);
    g_error_free(err);
}

void vhu_dispatch(VhuDev *dev, int fd, unsigned revents)
{
    if (!dev || fd < 0 || !(revents & (VHU_EVENT_IN | VHU_EVENT_HUP))) {
        return;
    }
    if (fd == dev->conn_fd) {
        check_conn(dev);
    } else if (fd == dev->listen_fd && dev->conn_fd < 0 && dev->mode == VHU_MODE_SERVER) {
        server_accept(dev);
    }
}

void vhu_dispatch_timer(VhuDev *dev)
{
    GError *err = NULL;

    if (!dev || !dev->retry_pending || dev->conn_fd >= 0) {
        return;
    }
    if (vhu_get_timeout(dev) > 0) {
        update_timer(dev, -1);
        return;
    }
    if (!client_attempt(dev, &err)) {
        /* A socket error retrying cannot fix now (fd exhaustion...): keep
         * trying at the capped rate and report it. */
        remember_error(dev, err);
        vhu_notify_connect_failed(dev, err);
        g_error_free(err);
        schedule_retry(dev, dev->retry_max_ms);
    }
}

void vhu_reconnect(VhuDev *dev)
{
    GError *err = NULL;

    if (!dev) {
        return;
    }
    if (dev->conn_fd >= 0) {
        vhu_set_error(dev, &err, VHU_ERROR_DISCONNECTED, "reconnection requested");
        link_lost(dev, err);
        g_clear_error(&err);
    }
    if (dev->mode == VHU_MODE_CLIENT && dev->opened && dev->conn_fd < 0) {
        dev->gave_up = false;
        dev->retry_attempts = 0;
        dev->retry_delay_ms = dev->retry_initial_ms;
        if (!client_attempt(dev, &err)) {
            remember_error(dev, err);
            vhu_notify_connect_failed(dev, err);
            g_error_free(err);
            schedule_retry(dev, dev->retry_max_ms);
        }
    }
}

bool vhu_wait_link_up(VhuDev *dev, int timeout_ms, GError **errp)
{
    int64_t deadline;

    if (!dev || timeout_ms < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "vhu_wait_link_up: bad argument");
        return false;
    }
    deadline = vhu_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int64_t left_ms, timer;
        unsigned events;
        int fd, rc;

        if (dev->up) {
            return true;
        }
        if (!dev->opened || (dev->mode == VHU_MODE_FD && dev->conn_fd < 0)) {
            vhu_set_error(dev, errp, VHU_ERROR_STATE, "not open, nothing to wait for");
            return false;
        }
        if (dev->mode == VHU_MODE_CLIENT && dev->gave_up) {
            vhu_set_error(dev, errp, VHU_ERROR_GAVE_UP, "gave up connecting to %s",
                          dev->path);
            return false;
        }
        left_ms = (deadline - vhu_now_ns() + 999999) / 1000000;
        if (left_ms <= 0) {
            vhu_set_error(dev, errp, VHU_ERROR_TIMEOUT, "no back-end within %d ms",
                          timeout_ms);
            return false;
        }
        timer = vhu_get_timeout(dev);
        if (timer >= 0 && timer < left_ms) {
            left_ms = timer;
        }
        fd = vhu_get_fd(dev, &events);
        if (fd >= 0) {
            struct pollfd pfd = { .fd = fd, .events = POLLIN };

            rc = poll(&pfd, 1, (int)left_ms);
            if (rc > 0) {
                vhu_dispatch(dev, fd,
                             (pfd.revents & POLLIN ? VHU_EVENT_IN : 0) |
                                 (pfd.revents & (POLLHUP | POLLERR) ? VHU_EVENT_HUP : 0));
            }
        } else if (left_ms > 0) {
            poll(NULL, 0, (int)left_ms);
        }
        if (vhu_get_timeout(dev) == 0) {
            vhu_dispatch_timer(dev);
        }
    }
}

bool vhu_is_up(const VhuDev *dev)
{
    return dev && dev->up;
}

void vhu_get_stats(const VhuDev *dev, VhuStats *ret)
{
    if (!ret) {
        return;
    }
    if (!dev) {
        memset(ret, 0, sizeof(*ret));
        return;
    }
    *ret = dev->stats;
    ret->has_inflight = dev->inflight_fd >= 0;
}

const GError *vhu_last_error(const VhuDev *dev)
{
    return dev ? dev->last_error : NULL;
}

static void close_ring_fds(VhuRing *r)
{
    int *fds[] = { &r->kick_fd, &r->call_fd, &r->err_fd };

    for (unsigned i = 0; i < G_N_ELEMENTS(fds); i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

void vhu_free(VhuDev *dev)
{
    if (!dev) {
        return;
    }
    vhu_source_detach(dev);
    vhu_set_loop(dev, NULL, NULL);
    close_conn(dev);
    if (dev->listen_fd >= 0) {
        close(dev->listen_fd);
        if (dev->unlink_path) {
            unlink(dev->path);
        }
    }
    for (unsigned i = 0; i < dev->n_guest; i++) {
        close(dev->guest[i].fd);
    }
    for (unsigned i = 0; i < dev->n_extra; i++) {
        close(dev->extra[i].fd);
    }
    if (dev->inflight_fd >= 0) {
        close(dev->inflight_fd);
    }
    for (unsigned i = 0; i < VHU_MAX_QUEUES; i++) {
        close_ring_fds(&dev->rings[i]);
    }
    g_array_free(dev->listeners, TRUE);
    g_clear_error(&dev->last_error);
    g_free(dev->path);
    g_free(dev->name);
    g_free(dev);
}
