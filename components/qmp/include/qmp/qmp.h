/* SPDX-License-Identifier: MIT */
/*
 * qmp: a QMP server compatible with QEMU's clients.
 *
 * The server speaks the QEMU Machine Protocol exactly as QEMU does: the
 * greeting, capabilities negotiation ("oob"), execute/exec-oob/arguments/id,
 * replies with QEMU's error classes and wording, events with timestamps,
 * CRLF-terminated ASCII output. Input is a byte stream split into JSON
 * objects as QEMU's streamer splits it, with QEMU's limits and messages.
 *
 * The VMM fills a command table (name, arguments with types, handler,
 * flags). Arguments are checked against it before the handler runs, and
 * query-commands / query-qmp-schema are generated from it. File descriptors
 * arriving with a command (SCM_RIGHTS) are attached to that command; those
 * the command does not take are closed after it. getfd/closefd use one
 * fdpass named-fd store per monitor, add-fd/remove-fd/query-fdsets one fd-set
 * store shared by all monitors.
 *
 * No thread is created and no main loop is owned: the server exposes its
 * file descriptors (watch callbacks, or a pollfd array) and dispatch
 * functions, and offers a GSource for GLib main loops. All functions must be
 * called from one thread.
 *
 * Errors: functions taking a GError ** return false and set an error in the
 * QMP_ERROR domain on failure (codes in #QmpErrorCode).
 */
#ifndef QMP_QMP_H
#define QMP_QMP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "fdpass/fdpass.h"

G_BEGIN_DECLS

/** QMP_DEFAULT_MAX_MESSAGE_SIZE: default bound on one input message (1 MiB). */
#define QMP_DEFAULT_MAX_MESSAGE_SIZE (1u << 20)
/** QMP_DEFAULT_MAX_TOKENS: default bound on the tokens of one message (QEMU's). */
#define QMP_DEFAULT_MAX_TOKENS (2u << 20)
/** QMP_DEFAULT_MAX_DEPTH: default nesting bound of one message (QEMU's). */
#define QMP_DEFAULT_MAX_DEPTH 1024u
/** QMP_MAX_DEPTH_LIMIT: the largest max_depth accepted (values are parsed
 * and checked recursively). */
#define QMP_MAX_DEPTH_LIMIT 4096u
/** QMP_DEFAULT_OUTPUT_PAUSE: unsent output above which input is not read. */
#define QMP_DEFAULT_OUTPUT_PAUSE (64u << 10)
/** QMP_DEFAULT_MAX_OUTPUT: unsent output above which a client is dropped. */
#define QMP_DEFAULT_MAX_OUTPUT (1u << 20)
/** QMP_DEFAULT_MAX_PENDING_FDS: received fds a monitor holds at most. */
#define QMP_DEFAULT_MAX_PENDING_FDS 64u

/** QMP_ERROR: the error domain of this library. */
#define QMP_ERROR (qmp_error_quark())

/**
 * qmp_error_quark:
 * Returns: the GQuark of the QMP_ERROR domain.
 */
GQuark qmp_error_quark(void);

/**
 * QmpErrorCode:
 * @QMP_ERROR_GENERIC: reported to clients with class "GenericError".
 * @QMP_ERROR_COMMAND_NOT_FOUND: class "CommandNotFound".
 * @QMP_ERROR_DEVICE_NOT_ACTIVE: class "DeviceNotActive".
 * @QMP_ERROR_DEVICE_NOT_FOUND: class "DeviceNotFound".
 * @QMP_ERROR_KVM_MISSING_CAP: class "KVMMissingCap".
 * @QMP_ERROR_INVALID: an API function was called with an invalid argument.
 * @QMP_ERROR_EXISTS: a command or type of that name is already registered.
 * @QMP_ERROR_NOT_FOUND: no command/type/listener of that name.
 * @QMP_ERROR_SYSTEM: a system call failed; the message names it and errno.
 *
 * A command handler reports a failure with g_set_error(errp, QMP_ERROR,
 * code, ...) where code is one of the first five; an error of another domain
 * or code is reported to the client as "GenericError" with its message.
 */
typedef enum QmpErrorCode {
    QMP_ERROR_GENERIC = 0,
    QMP_ERROR_COMMAND_NOT_FOUND,
    QMP_ERROR_DEVICE_NOT_ACTIVE,
    QMP_ERROR_DEVICE_NOT_FOUND,
    QMP_ERROR_KVM_MISSING_CAP,
    QMP_ERROR_INVALID,
    QMP_ERROR_EXISTS,
    QMP_ERROR_NOT_FOUND,
    QMP_ERROR_SYSTEM,
} QmpErrorCode;

/**
 * qmp_error_class_name:
 * @code: an error code.
 *
 * Returns: the QMP "class" string sent for @code: "GenericError",
 * "CommandNotFound", "DeviceNotActive", "DeviceNotFound" or "KVMMissingCap"
 * ("GenericError" for codes that are not classes).
 */
const char *qmp_error_class_name(int code);

typedef struct QmpServer QmpServer;
typedef struct QmpMonitor QmpMonitor;
typedef struct QmpRequest QmpRequest;

/**
 * QmpServerConfig:
 * @version_major: @version_minor: @version_micro: the version reported in
 *   the greeting and by query-version (as "qemu": {...}).
 * @version_package: the "package" string, NULL for "".
 * @fd_sets: the fd-set store shared by all monitors (add-fd & co). The
 *   caller keeps ownership and must keep it alive until qmp_server_free().
 *   NULL: the server creates its own (see qmp_server_get_fd_sets()).
 * @max_message_size: bound on the token bytes of one input message; 0 for
 *   QMP_DEFAULT_MAX_MESSAGE_SIZE. Exceeding it answers QEMU's
 *   "JSON token size limit exceeded".
 * @max_tokens: bound on the tokens of one message; 0 for the default.
 *   Exceeding it answers "JSON token count limit exceeded".
 * @max_depth: bound on nesting ({ and [ open at once); 0 for the default,
 *   at most QMP_MAX_DEPTH_LIMIT. Exceeding it answers "JSON nesting depth
 *   limit exceeded".
 * @output_pause: while more than this many reply bytes wait to be sent to a
 *   client, its input is not read (it cannot make the server queue more
 *   replies); 0 for the default.
 * @max_output: a client that would have more than this many bytes waiting
 *   after an event is queued is disconnected (it does not read its events);
 *   0 for the default. Replies are always queued: input pauses above
 *   @output_pause, so they cannot pile up. An event larger than the bound
 *   is still queued when nothing else waits.
 * @max_monitors: connections accepted at once, 0 for no bound; connections
 *   beyond it are accepted and closed at once.
 * @max_pending_fds: descriptors a monitor holds before they are attached to
 *   a command; when more arrive the oldest are closed (as QEMU replaces
 *   unclaimed fds by newer ones); 0 for the default.
 *
 * Zero-initialise and set what you need.
 */
typedef struct QmpServerConfig {
    int64_t version_major;
    int64_t version_minor;
    int64_t version_micro;
    const char *version_package;
    FdPassSets *fd_sets;
    size_t max_message_size;
    size_t max_tokens;
    unsigned max_depth;
    size_t output_pause;
    size_t max_output;
    unsigned max_monitors;
    unsigned max_pending_fds;
} QmpServerConfig;

/**
 * qmp_server_new:
 * @cfg: configuration (copied; may be NULL for all defaults, version 0.0.0).
 * @ret: where to store the new server.
 * @errp: error location.
 *
 * Creates a server with the built-in commands registered: qmp_capabilities,
 * query-version, query-commands, query-qmp-schema, getfd, closefd, add-fd,
 * remove-fd and query-fdsets.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID if @ret is NULL or
 * a limit in @cfg is absurd (@output_pause > @max_output, @max_depth >
 * QMP_MAX_DEPTH_LIMIT), or QMP_ERROR_SYSTEM if the fd-set store cannot be
 * created.
 */
bool qmp_server_new(const QmpServerConfig *cfg, QmpServer **ret, GError **errp);

/**
 * qmp_server_free:
 * Closes every connection and listener (removing the unix socket files it
 * created), destroys an attached GSource, frees the server and, if it
 * created it, the fd-set store. Must not be called from a command handler.
 * NULL is a no-op.
 */
void qmp_server_free(QmpServer *server);

/**
 * qmp_server_get_fd_sets:
 * Returns: the fd-set store used by add-fd/remove-fd/query-fdsets (the
 * VMM opens "/dev/fdset/N" through it with fdpass_sets_open()).
 */
FdPassSets *qmp_server_get_fd_sets(QmpServer *server);

/* ------------------------------------------------------------------------ */
/* Listening and connections                                                */

/**
 * qmp_server_listen_unix:
 * @server: the server.
 * @path: a filesystem path for an AF_UNIX stream socket. An existing socket
 *        file there is replaced (as QEMU does); any other existing file is
 *        an error. The file is removed by qmp_server_free().
 * @errp: error location.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (NULL/empty path or
 * longer than sun_path), QMP_ERROR_EXISTS (the path exists and is not a
 * socket) or QMP_ERROR_SYSTEM (socket/bind/listen failed).
 */
bool qmp_server_listen_unix(QmpServer *server, const char *path, GError **errp);

/**
 * qmp_server_listen_fd:
 * @server: the server.
 * @fd: a bound, listening AF_UNIX or loopback TCP stream socket handed over
 *      by the caller; the server owns it from now on (even on failure).
 * @errp: error location.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (negative fd, not
 * a listening stream socket) or QMP_ERROR_SYSTEM.
 */
bool qmp_server_listen_fd(QmpServer *server, int fd, GError **errp);

/**
 * qmp_server_listen_tcp:
 * @server: the server.
 * @host: "127.0.0.1", "::1", "localhost" or NULL (127.0.0.1): only loopback
 *        addresses are accepted; QMP has no authentication.
 * @port: TCP port, 0 to let the kernel choose.
 * @ret_port: where to store the port bound (may be NULL).
 * @errp: error location.
 *
 * TCP clients cannot pass file descriptors: getfd/add-fd answer "No file
 * descriptor supplied via SCM_RIGHTS".
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (a non-loopback
 * or unparsable host) or QMP_ERROR_SYSTEM (socket/bind/listen failed).
 */
bool qmp_server_listen_tcp(QmpServer *server, const char *host, uint16_t port,
                           uint16_t *ret_port, GError **errp);

/**
 * qmp_server_add_client:
 * @server: the server.
 * @fd: a connected stream socket (for instance one end of a socketpair());
 *      the server owns it from now on (even on failure).
 * @ret: where to store the new monitor (may be NULL).
 * @errp: error location.
 *
 * Starts a monitor on @fd as if it had been accepted: the greeting is sent.
 * The monitor pointer stays valid until the connection closes (see
 * qmp_server_set_monitor_funcs() to learn when).
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (negative fd) or
 * QMP_ERROR_SYSTEM (fcntl failed); the fd is closed on failure.
 */
bool qmp_server_add_client(QmpServer *server, int fd, QmpMonitor **ret, GError **errp);

/**
 * QmpMonitorFuncs:
 * @opened: a monitor was created (accepted or added), greeting queued.
 * @closed: the monitor is closing; @mon is valid during the call only.
 * Either may be NULL. They must not free the server.
 */
typedef struct QmpMonitorFuncs {
    void (*opened)(QmpMonitor *mon, void *opaque);
    void (*closed)(QmpMonitor *mon, void *opaque);
} QmpMonitorFuncs;

/**
 * qmp_server_set_monitor_funcs:
 * Installs connection callbacks (NULL @funcs removes them); @opaque is
 * passed to them. Cannot fail.
 */
void qmp_server_set_monitor_funcs(QmpServer *server, const QmpMonitorFuncs *funcs,
                                  void *opaque);

/**
 * qmp_server_monitor_count:
 * Returns: the number of connected monitors.
 */
unsigned qmp_server_monitor_count(const QmpServer *server);

/* ------------------------------------------------------------------------ */
/* Types and commands                                                        */

/**
 * QmpMember:
 * @name: member name (non-empty).
 * @type: its type: a built-in ("str", "int", "int8", "int16", "int32",
 *        "int64", "uint8", "uint16", "uint32", "uint64", "size", "number",
 *        "bool", "null", "any"), a type registered with
 *        qmp_server_add_object_type()/qmp_server_add_enum_type(), or an
 *        array "[T]" of one of those.
 * @optional: whether the member may be absent.
 *
 * Arguments are checked as QEMU checks them, with its messages: "Parameter
 * 'NAME' is missing", "Parameter 'NAME' is unexpected", "Invalid parameter
 * type for 'NAME', expected: TYPE", "Parameter 'NAME' expects int8" (and the
 * other sized integers), "Parameter 'NAME' does not accept value 'V'".
 * Integers of every width appear as "int" in query-qmp-schema, as in QEMU.
 * A checked "uint64"/"size" argument is stored in the args object as a
 * gint64 node with the same 64 bits: read it with
 * (uint64_t)json_object_get_int_member().
 */
typedef struct QmpMember {
    const char *name;
    const char *type;
    bool optional;
} QmpMember;

/**
 * qmp_server_add_object_type:
 * @server: the server.
 * @name: type name (non-empty, not a built-in, not starting with '[').
 * @members: its members (copied); may be NULL when @n_members is 0.
 * @n_members: number of members.
 * @errp: error location.
 *
 * Registers a JSON object type usable as a member type and as a return
 * type. Member types must already be registered (no recursion).
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (bad name, unknown
 * member type, duplicate member) or QMP_ERROR_EXISTS.
 */
bool qmp_server_add_object_type(QmpServer *server, const char *name,
                                const QmpMember *members, size_t n_members,
                                GError **errp);

/**
 * qmp_server_add_enum_type:
 * @server: the server.
 * @name: type name (non-empty, not a built-in, not starting with '[').
 * @values: the accepted strings (copied).
 * @n_values: how many (at least 1).
 * @errp: error location.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (bad name, no or
 * duplicate value) or QMP_ERROR_EXISTS.
 */
bool qmp_server_add_enum_type(QmpServer *server, const char *name,
                              const char *const *values, size_t n_values,
                              GError **errp);

/**
 * QmpCommandFunc:
 * @req: the request being run (fds, monitor).
 * @args: the checked arguments (never NULL; an empty object when the
 *        client gave none). Owned by the server; valid during the call.
 * @opaque: the command's @opaque.
 * @ret: on success, store the return value here (transfer full), or leave
 *       NULL to reply {"return": {}}.
 * @errp: on failure, set an error (see #QmpErrorCode for the class).
 *
 * Returns: true on success, false with @errp set on failure.
 */
typedef bool (*QmpCommandFunc)(QmpRequest *req, JsonObject *args, void *opaque,
                               JsonNode **ret, GError **errp);

/** QMP_COMMAND_BEFORE_NEGOTIATION: may run before qmp_capabilities. */
#define QMP_COMMAND_BEFORE_NEGOTIATION (1u << 0)
/** QMP_COMMAND_ALLOW_OOB: may be run with "exec-oob". */
#define QMP_COMMAND_ALLOW_OOB (1u << 1)

/**
 * QmpCommand:
 * @name: command name (non-empty).
 * @args: argument description, may be NULL when @n_args is 0 (copied).
 * @n_args: number of arguments.
 * @returns: type of the return value for query-qmp-schema, or NULL for a
 *           command returning nothing ({}).
 * @func: the handler.
 * @opaque: passed to @func.
 * @flags: QMP_COMMAND_BEFORE_NEGOTIATION and/or QMP_COMMAND_ALLOW_OOB.
 */
typedef struct QmpCommand {
    const char *name;
    const QmpMember *args;
    size_t n_args;
    const char *returns;
    QmpCommandFunc func;
    void *opaque;
    unsigned flags;
} QmpCommand;

/**
 * qmp_server_add_command:
 * Registers a command (the description is copied).
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (NULL/empty name,
 * NULL @func, unknown argument or return type, duplicate argument name,
 * unknown flag) or QMP_ERROR_EXISTS (a command of that name exists).
 */
bool qmp_server_add_command(QmpServer *server, const QmpCommand *cmd, GError **errp);

/**
 * qmp_server_remove_command:
 * Unregisters a command (built-ins included, except qmp_capabilities).
 *
 * Returns: true on success; false with QMP_ERROR_NOT_FOUND or
 * QMP_ERROR_INVALID (qmp_capabilities, or called from a handler).
 */
bool qmp_server_remove_command(QmpServer *server, const char *name, GError **errp);

/* ------------------------------------------------------------------------ */
/* The request being run (valid only inside a QmpCommandFunc)               */

/** qmp_request_get_monitor: Returns: the monitor the request came from. */
QmpMonitor *qmp_request_get_monitor(QmpRequest *req);

/** qmp_request_get_server: Returns: the server. */
QmpServer *qmp_request_get_server(QmpRequest *req);

/**
 * qmp_request_take_fd:
 * Takes the first descriptor that came with the request and is not taken
 * yet; the caller owns it. Descriptors not taken are closed after the
 * command.
 *
 * Returns: a descriptor, or -1 if none is left.
 */
int qmp_request_take_fd(QmpRequest *req);

/** qmp_request_fd_count: Returns: descriptors attached and not taken yet. */
size_t qmp_request_fd_count(const QmpRequest *req);

/** qmp_request_is_oob: Returns: whether it came as "exec-oob". */
bool qmp_request_is_oob(const QmpRequest *req);

/* ------------------------------------------------------------------------ */
/* Monitors                                                                  */

/**
 * qmp_monitor_get_named_fds:
 * Returns: the monitor's getfd/closefd store (for commands taking an fd by
 * name, with fdpass_named_take()).
 */
FdPassNamed *qmp_monitor_get_named_fds(QmpMonitor *mon);

/** qmp_monitor_is_negotiated: Returns: whether qmp_capabilities succeeded. */
bool qmp_monitor_is_negotiated(const QmpMonitor *mon);

/** qmp_monitor_oob_enabled: Returns: whether "oob" was enabled. */
bool qmp_monitor_oob_enabled(const QmpMonitor *mon);

/** qmp_monitor_get_id: Returns: a number unique to this connection (from 1). */
uint64_t qmp_monitor_get_id(const QmpMonitor *mon);

/**
 * qmp_monitor_disconnect:
 * Closes the connection (after the current command's reply when called
 * from a handler of this monitor; the reply is still sent if the socket
 * takes it at once). The monitor must not be used afterwards.
 */
void qmp_monitor_disconnect(QmpMonitor *mon);

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

/**
 * qmp_server_emit_event:
 * @server: the server.
 * @name: event name (non-empty).
 * @data: the "data" member (not consumed), or NULL to send none.
 * @errp: error location.
 *
 * Sends {"timestamp": {"seconds": S, "microseconds": U}, "event": NAME,
 * "data": DATA} to every negotiated monitor, subject to the rate limit of
 * @name (qmp_server_set_event_rate()): within a period, the last event is
 * kept and sent when the period ends, with the timestamp of its emission.
 * A monitor whose unsent output would exceed max_output is disconnected.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (NULL/empty name).
 */
bool qmp_server_emit_event(QmpServer *server, const char *name, JsonObject *data,
                           GError **errp);

/**
 * qmp_server_set_event_rate:
 * @server: the server.
 * @name: event name.
 * @period_ns: at most one event per period is sent (0 removes the limit,
 *             delayed events still pending are sent at once).
 * @key_member: NULL, or a member of "data" whose value separates the
 *              event into independently limited streams (as QEMU does with
 *              "id" for VSERPORT_CHANGE).
 * @errp: error location.
 *
 * Returns: true on success; false with QMP_ERROR_INVALID (NULL/empty name,
 * negative period).
 */
bool qmp_server_set_event_rate(QmpServer *server, const char *name, int64_t period_ns,
                               const char *key_member, GError **errp);

/**
 * QmpClockFunc:
 * Returns: the current time in nanoseconds of a monotonic clock.
 */
typedef int64_t (*QmpClockFunc)(void *opaque);

/**
 * qmp_server_set_clock:
 * Replaces the monotonic clock used for event rate limits (default
 * g_get_monotonic_time() * 1000); NULL restores the default. For tests.
 */
void qmp_server_set_clock(QmpServer *server, QmpClockFunc now_ns, void *opaque);

/* ------------------------------------------------------------------------ */
/* Event-loop integration                                                    */

/**
 * QmpWatchFuncs:
 * @update: the server wants @events (POLLIN/POLLOUT, possibly 0: keep the
 *          fd registered for errors only) on @fd, which is new or already
 *          known.
 * @remove: the server stops watching @fd and is about to close it.
 *
 * For event loops other than poll() and GLib (epoll and the like): the loop
 * calls qmp_server_dispatch_fd() when a watched fd is ready and arms a timer
 * from qmp_server_timeout_ms().
 */
typedef struct QmpWatchFuncs {
    void (*update)(void *opaque, int fd, short events);
    void (*remove)(void *opaque, int fd);
} QmpWatchFuncs;

/**
 * qmp_server_set_watch:
 * Installs watch callbacks (NULL to remove them); @update is called at once
 * for every fd already open. Replaces the callbacks of an attached GSource:
 * use one integration at a time.
 */
void qmp_server_set_watch(QmpServer *server, const QmpWatchFuncs *funcs, void *opaque);

/**
 * qmp_server_dispatch_fd:
 * Handles readiness @revents (POLLIN, POLLOUT, POLLHUP, POLLERR) of @fd.
 * Unknown fds are ignored. Runs commands and may call the watch callbacks.
 */
void qmp_server_dispatch_fd(QmpServer *server, int fd, short revents);

/**
 * qmp_server_timeout_ms:
 * Returns: milliseconds until qmp_server_dispatch_timers() has work (event
 * rate limits, paused listeners), 0 if it has work now, -1 if none.
 */
int qmp_server_timeout_ms(QmpServer *server);

/** qmp_server_dispatch_timers: Runs the timers that are due. */
void qmp_server_dispatch_timers(QmpServer *server);

/**
 * qmp_server_fill_pollfds:
 * @server: the server.
 * @fds: array to fill (may be NULL when @max is 0).
 * @max: its size.
 *
 * Returns: the number of fds the server watches; only the first @max are
 * stored, so call again with a larger array when the result exceeds @max.
 */
size_t qmp_server_fill_pollfds(QmpServer *server, struct pollfd *fds, size_t max);

/**
 * qmp_server_dispatch_pollfds:
 * Dispatches every entry of @fds with non-zero revents, then the due
 * timers. @fds comes from qmp_server_fill_pollfds() and poll().
 */
void qmp_server_dispatch_pollfds(QmpServer *server, const struct pollfd *fds, size_t n);

/**
 * qmp_server_create_source:
 * Returns: a new GSource (a reference for the caller) that runs the server
 * in whatever GMainContext it is attached to. Installs watch callbacks
 * (replacing any). qmp_server_free() destroys it.
 */
GSource *qmp_server_create_source(QmpServer *server);

/**
 * qmp_server_attach:
 * Creates the server's GSource and attaches it to @context (NULL: the
 * default context).
 *
 * Returns: the source id.
 */
guint qmp_server_attach(QmpServer *server, GMainContext *context);

G_END_DECLS

#endif /* QMP_QMP_H */
