/* SPDX-License-Identifier: MIT */
/*
 * vhost-user front-end (prefix vhu_): the VMM's side of a vhost-user
 * connection, in client mode (connect to a back-end's socket, retrying with
 * a bounded back-off) or in server mode (listen and accept a back-end that
 * connects as a client, any number of times), or on a socket the caller
 * already holds.
 *
 * State model. The caller describes the device state it wants (accepted
 * features, memory table, rings with their kick/call fds) through the
 * vhu_set_* and vhu_vring_* calls. Each call is sent to the back-end at once
 * when one is connected, and the whole state is replayed on every new
 * connection, so that a restarted back-end continues where the old one
 * stopped:
 *   GET_FEATURES (the back-end must offer every feature accepted before,
 *   otherwise it is refused with VHU_ERROR_FEATURE), GET/SET_PROTOCOL_FEATURES
 *   (same subset as before), GET_QUEUE_NUM (with MQ), SET_OWNER,
 *   SET_FEATURES, SET_MEM_TABLE, SET_INFLIGHT_FD (the region obtained once
 *   with GET_INFLIGHT_FD and kept by the front-end), then per started ring
 *   SET_VRING_CALL, NUM, BASE, ADDR, KICK, ERR and SET_VRING_ENABLE.
 * Requests in flight at the time of a crash are neither lost nor completed
 * twice: with INFLIGHT_SHMFD the back-end resubmits them from the inflight
 * region; without it the ring's base is set to the used index found in the
 * used ring (the ring resumes from used->idx, which is exact for a back-end
 * that completes requests in order; see the README).
 *
 * Event loop. The library creates no thread and owns no loop. At any time it
 * needs at most one file descriptor watched (the listening socket while
 * disconnected in server mode, the connection while connected) and at most
 * one timer (client-mode retries). Either install a VhuLoop with
 * vhu_set_loop() (add/remove-watch and timer callbacks, as libvhost-user
 * does) and call vhu_dispatch() / vhu_dispatch_timer() when they fire, or
 * poll vhu_get_fd() and vhu_get_timeout() yourself, or attach the GSource of
 * vhu_source_new() to a GMainContext.
 *
 * Requests are synchronous: a call that needs a reply sends the request and
 * waits for the reply, at most VhuOptions.reply_timeout_ms. A reply is
 * checked completely before anything in it is used: header flags (version 1
 * and the reply bit, nothing else), request id, payload size, number of file
 * descriptors, and the values (ring index, sizes, offsets). A malformed or
 * hostile reply, a timeout or a hang-up ends the connection (the link goes
 * down, the listeners are told, the front-end returns to listening or
 * retrying) and the call fails; no input from the back-end can crash the
 * front-end, read or write out of bounds, or leak a file descriptor.
 *
 * Dirty logging: the back-end writes guest memory directly and this
 * front-end implements no vhost-user dirty log (SET_LOG_BASE); pages written
 * by the back-end are only tracked while the shadow virtqueue (svq_) relays
 * the ring, since it marks used writable buffers dirty in vm-memory.
 *
 * Errors: functions that can fail return bool and set a GError in the
 * VHU_ERROR domain; the error message names the device
 * ("NAME: GET_FEATURES: ..."). The shadow virtqueue (svq_) functions of this
 * component use the same domain.
 *
 * Threading: one VhuDev is used by one thread at a time.
 */
#ifndef VHOST_SVQ_VHOST_USER_H
#define VHOST_SVQ_VHOST_USER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/vhost-user-proto.h"
#include "virtio-queue/virtio-queue.h"
#include "vm-memory/vm-memory.h"

#ifdef __cplusplus
extern "C" {
#endif

/** VHU_VERSION_*: the version of this header. */
#define VHU_VERSION_MAJOR 0
#define VHU_VERSION_MINOR 1
#define VHU_VERSION_MICRO 0

/** VHU_MAX_QUEUES: the most rings one front-end drives. */
#define VHU_MAX_QUEUES 64

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/** VHU_ERROR: the GError domain of this component (vhu_ and svq_). */
#define VHU_ERROR (vhu_error_quark())
GQuark vhu_error_quark(void);

/**
 * VhuError:
 * @VHU_ERROR_FAILED: an unexpected system error (out of memory, eventfd).
 * @VHU_ERROR_INVALID: a bad argument from the caller.
 * @VHU_ERROR_STATE: the call is not valid in the current state (a ring not
 *     started, features not set yet, a kick fd changed on a running ring).
 * @VHU_ERROR_DISCONNECTED: the call needs a connected back-end and none is.
 * @VHU_ERROR_SOCKET: creating, binding, listening on or connecting to the
 *     socket failed (path too long, permission, address in use...).
 * @VHU_ERROR_IO: sending or receiving failed, or the back-end hung up in
 *     the middle of a request. The connection is closed.
 * @VHU_ERROR_TIMEOUT: the back-end did not reply within reply_timeout_ms.
 *     The connection is closed.
 * @VHU_ERROR_PROTOCOL: a malformed or hostile reply (flags, request id,
 *     size, fd count, or a value out of range), or an unsolicited message.
 *     The connection is closed.
 * @VHU_ERROR_BACKEND: the back-end reported a failure (a non-zero
 *     REPLY_ACK, an empty GET_CONFIG reply). The connection stays up unless
 *     this happened while restoring state after a (re)connection.
 * @VHU_ERROR_FEATURE: the back-end lacks a virtio feature or a protocol
 *     feature accepted before, or has fewer queues than needed; it is
 *     refused (the connection is closed).
 * @VHU_ERROR_UNSUPPORTED: the request needs a protocol feature that was
 *     not negotiated (GET_CONFIG without CONFIG, GET_STATUS without STATUS),
 *     or the state cannot be restored (a packed ring without a base).
 * @VHU_ERROR_GAVE_UP: client mode gave up after retry_max_attempts.
 */
typedef enum VhuError {
    VHU_ERROR_FAILED,
    VHU_ERROR_INVALID,
    VHU_ERROR_STATE,
    VHU_ERROR_DISCONNECTED,
    VHU_ERROR_SOCKET,
    VHU_ERROR_IO,
    VHU_ERROR_TIMEOUT,
    VHU_ERROR_PROTOCOL,
    VHU_ERROR_BACKEND,
    VHU_ERROR_FEATURE,
    VHU_ERROR_UNSUPPORTED,
    VHU_ERROR_GAVE_UP,
    /* codes of the shadow virtqueue follow (svq.h) */
    _VHU_ERROR_MAX,
} VhuError;

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */

/** VhuDev: opaque vhost-user front-end of one device. */
typedef struct VhuDev VhuDev;

/**
 * VhuMode:
 * @VHU_MODE_CLIENT: connect to @path; retry with back-off while the back-end
 *     is absent and after every disconnection.
 * @VHU_MODE_SERVER: bind and listen on @path; accept a back-end, and after a
 *     disconnection accept the next one.
 * @VHU_MODE_FD: no socket of its own: the caller hands connected sockets
 *     with vhu_attach_fd(); after a disconnection the link stays down until
 *     the next one.
 */
typedef enum VhuMode {
    VHU_MODE_CLIENT,
    VHU_MODE_SERVER,
    VHU_MODE_FD,
    _VHU_MODE_MAX,
} VhuMode;

/* The protocol features this front-end implements. */
#define VHU_PROTOCOL_FEATURES_SUPPORTED                                        \
    ((UINT64_C(1) << VHU_PROTOCOL_F_MQ) | (UINT64_C(1) << VHU_PROTOCOL_F_REPLY_ACK) | \
     (UINT64_C(1) << VHU_PROTOCOL_F_CONFIG) |                                  \
     (UINT64_C(1) << VHU_PROTOCOL_F_INFLIGHT_SHMFD) |                          \
     (UINT64_C(1) << VHU_PROTOCOL_F_RESET_DEVICE) |                            \
     (UINT64_C(1) << VHU_PROTOCOL_F_STATUS))

/**
 * VhuOptions: set with vhu_options_init() then adjust.
 * @mode: see VhuMode.
 * @path: the unix socket path (client and server modes; copied).
 * @name: the device name used in error messages (copied; default "vhost-user").
 * @num_queues: rings of the device, 1..VHU_MAX_QUEUES (default 1).
 * @queue_size: the largest ring size, used for GET_INFLIGHT_FD (default 256).
 * @protocol_features: the protocol features the caller allows; the front-end
 *     negotiates their intersection with VHU_PROTOCOL_FEATURES_SUPPORTED and
 *     the back-end's offer (default: all supported).
 * @reply_timeout_ms: how long to wait for a reply (default 5000).
 * @retry_initial_ms: client mode: the first delay between attempts
 *     (default 10); it doubles at each failed attempt...
 * @retry_max_ms: ... up to this cap (default 1000).
 * @retry_max_attempts: client mode: consecutive failed attempts before
 *     giving up (VHU_ERROR_GAVE_UP; vhu_reconnect() starts again), 0 for
 *     no limit (default 0).
 */
typedef struct VhuOptions {
    VhuMode mode;
    const char *path;
    const char *name;
    unsigned num_queues;
    unsigned queue_size;
    uint64_t protocol_features;
    unsigned reply_timeout_ms;
    unsigned retry_initial_ms;
    unsigned retry_max_ms;
    unsigned retry_max_attempts;
} VhuOptions;

/**
 * vhu_options_init:
 * @opts: filled with the defaults above (@path NULL, @mode VHU_MODE_CLIENT).
 */
void vhu_options_init(VhuOptions *opts);

/**
 * vhu_new:
 * @opts: the options.
 * @ret_dev: the new front-end, disconnected (only on success).
 * @errp: error location.
 *
 * Creates the front-end; nothing is opened before vhu_open().
 *
 * Returns: true on success; false with VHU_ERROR_INVALID if an argument is
 * NULL, @mode is unknown, @path is missing (client, server) or longer than a
 * unix socket address allows, @num_queues is out of range, or @queue_size
 * is 0 or above 32768.
 */
bool vhu_new(const VhuOptions *opts, VhuDev **ret_dev, GError **errp);

/**
 * vhu_free:
 * @dev: a front-end, or NULL.
 *
 * Closes the connection without telling the listeners, closes the
 * listening socket and removes its path (server mode), removes the watch
 * and the timer, closes every file descriptor the front-end holds (its
 * copies of the memory, inflight, kick, call and err fds) and frees it.
 * A GSource from vhu_source_new() is destroyed.
 */
void vhu_free(VhuDev *dev);

/**
 * vhu_get_name:
 * Returns: the device name given in the options (never NULL for a valid
 * @dev; NULL for NULL).
 */
const char *vhu_get_name(const VhuDev *dev);

/* ------------------------------------------------------------------------ */
/* Event loop                                                                */

/** Events for VhuLoop.add_watch and vhu_dispatch(). */
enum {
    VHU_EVENT_IN = 1u << 0,  /* readable (G_IO_IN / POLLIN) */
    VHU_EVENT_HUP = 1u << 1, /* hang-up or error (G_IO_HUP|G_IO_ERR / POLLHUP|POLLERR) */
};

/**
 * VhuLoop: how the front-end asks the caller's event loop for service.
 * @add_watch: start watching @fd for @events (VHU_EVENT_*, the hang-up
 *     event is always wanted); when it fires call vhu_dispatch(). At most
 *     one fd is watched at a time: each add_watch follows the remove_watch
 *     of the previous fd.
 * @remove_watch: stop watching @fd (called before the fd is closed).
 * @set_timer: call vhu_dispatch_timer() once after @delay_ms milliseconds;
 *     a new call replaces the previous timer; @delay_ms < 0 cancels it.
 *
 * The callbacks must not call back into the front-end.
 */
typedef struct VhuLoop {
    void (*add_watch)(int fd, unsigned events, void *opaque);
    void (*remove_watch)(int fd, void *opaque);
    void (*set_timer)(int64_t delay_ms, void *opaque);
} VhuLoop;

/**
 * vhu_set_loop:
 * @dev: the front-end.
 * @loop: the callbacks (copied), or NULL to remove them (poll-style use).
 * @opaque: passed to each callback.
 *
 * Installs the event-loop callbacks. If a fd is being watched or a timer is
 * pending, the new loop is told at once (add_watch, set_timer) and the old
 * one is told to forget them.
 */
void vhu_set_loop(VhuDev *dev, const VhuLoop *loop, void *opaque);

/**
 * vhu_get_fd:
 * @dev: the front-end.
 * @ret_events: the VHU_EVENT_* wanted (may be NULL).
 *
 * Returns: the fd that needs watching now (the listening socket or the
 * connection), or -1 if none.
 */
int vhu_get_fd(const VhuDev *dev, unsigned *ret_events);

/**
 * vhu_get_timeout:
 * Returns: milliseconds until vhu_dispatch_timer() is due (0 if already
 * due), or -1 if no timer is pending.
 */
int64_t vhu_get_timeout(const VhuDev *dev);

/**
 * vhu_dispatch:
 * @dev: the front-end.
 * @fd: the fd that fired (a stale fd is ignored).
 * @revents: VHU_EVENT_* that fired.
 *
 * Listening socket: accepts a back-end and brings the link up (the
 * handshake and state restore run synchronously, bounded by the reply
 * timeout). Connection: detects a hang-up (link down, back to listening or
 * retrying) or an unsolicited message (protocol error, link down).
 * Failures are reported through the listeners (VhuListener.link_down,
 * VhuListener.connect_failed), never returned.
 */
void vhu_dispatch(VhuDev *dev, int fd, unsigned revents);

/**
 * vhu_dispatch_timer:
 * @dev: the front-end.
 *
 * Client mode: makes the next connection attempt (a no-op if no retry is
 * pending or the timer is not due yet).
 */
void vhu_dispatch_timer(VhuDev *dev);

/**
 * vhu_source_new:
 * @dev: the front-end; it must outlive the source or free it (vhu_free()
 *     destroys the source).
 *
 * Returns: a new GSource that installs itself as @dev's loop (replacing any
 * VhuLoop) and dispatches the front-end; attach it with g_source_attach()
 * and drop your reference with g_source_unref() when you like. Destroying
 * it removes the loop from @dev.
 */
GSource *vhu_source_new(VhuDev *dev);

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

/**
 * VhuListener: notifications about the link. Every member may be NULL.
 * @link_up: a back-end is connected and the whole state has been restored.
 * @link_down: the link was up and went down (hang-up, protocol error,
 *     timeout); @reason says why. The front-end is already listening or
 *     retrying again when this runs.
 * @connect_failed: a connection attempt failed before the link came up: the
 *     back-end was refused (missing feature), misbehaved during the
 *     handshake or the restore, or (client mode) the retries gave up
 *     (VHU_ERROR_GAVE_UP). Client mode does not report each refused
 *     connect() while retrying.
 * @restore_vring_base: called while restoring a started ring after a new
 *     connection; set *@ret_base to the SET_VRING_BASE value and return true,
 *     or return false to let the next listener or the default decide. The
 *     default, split rings: used->idx read from the ring's used area;
 *     packed rings have no default (the restore fails with
 *     VHU_ERROR_UNSUPPORTED).
 *
 * Callbacks may call any vhu_ function except vhu_free(); a request made
 * from link_down fails with VHU_ERROR_DISCONNECTED; state changes made
 * there are restored on the next connection.
 */
typedef struct VhuListener {
    void (*link_up)(VhuDev *dev, void *opaque);
    void (*link_down)(VhuDev *dev, const GError *reason, void *opaque);
    void (*connect_failed)(VhuDev *dev, const GError *reason, void *opaque);
    bool (*restore_vring_base)(VhuDev *dev, unsigned index, uint32_t *ret_base,
                               void *opaque);
} VhuListener;

/**
 * vhu_add_listener:
 * @dev: the front-end.
 * @listener: the callbacks (copied).
 * @opaque: passed to each callback.
 *
 * Listeners are called in the order they were added.
 *
 * Returns: an id > 0 for vhu_remove_listener(); 0 if @dev or @listener is
 * NULL.
 */
unsigned vhu_add_listener(VhuDev *dev, const VhuListener *listener, void *opaque);

/**
 * vhu_remove_listener:
 * Removes the listener @id (unknown ids are ignored). Safe from inside a
 * callback: a removed listener is not called again.
 */
void vhu_remove_listener(VhuDev *dev, unsigned id);

/* ------------------------------------------------------------------------ */
/* Connection                                                                */

/**
 * vhu_open:
 * @dev: a front-end that is not open yet.
 * @errp: error location.
 *
 * Client mode: one connection attempt now; if the back-end is not there,
 * retries are scheduled (vhu_get_timeout()) and this still succeeds. If a
 * back-end answers, the handshake runs now and link_up is called before this
 * returns. Server mode: removes a stale socket file at the path (only a
 * socket, nothing else), binds, listens and watches the listening socket.
 * FD mode: nothing to do.
 *
 * Returns: true on success; false with VHU_ERROR_STATE if already open,
 * VHU_ERROR_SOCKET if the socket cannot be created, bound or listened on
 * (client mode: only errors other than "nobody listens there yet").
 */
bool vhu_open(VhuDev *dev, GError **errp);

/**
 * vhu_attach_fd:
 * @dev: a front-end without a connection (any mode).
 * @fd: a connected AF_UNIX stream socket; the front-end takes it over in
 *     every case (it is closed on failure).
 * @errp: error location.
 *
 * Runs the handshake and the state restore on @fd; link_up is called on
 * success. In server mode the listening socket is not watched while @fd is
 * connected.
 *
 * Returns: true when the link is up; false with VHU_ERROR_INVALID (@fd < 0),
 * VHU_ERROR_STATE (already connected), or any error of the handshake
 * (VHU_ERROR_IO, TIMEOUT, PROTOCOL, BACKEND, FEATURE, UNSUPPORTED; the
 * connection is then closed and connect_failed is not called).
 */
bool vhu_attach_fd(VhuDev *dev, int fd, GError **errp);

/**
 * vhu_reconnect:
 * @dev: the front-end.
 *
 * Client mode: resets the back-off and makes an attempt now (after giving
 * up, or to skip the wait). If connected, drops the connection first
 * (link_down with a VHU_ERROR_DISCONNECTED reason). Server mode: drops the
 * connection if any and listens again. FD mode: drops the connection.
 */
void vhu_reconnect(VhuDev *dev);

/**
 * vhu_wait_link_up:
 * @dev: an open front-end.
 * @timeout_ms: bound on the wait (>= 0).
 * @errp: error location.
 *
 * Blocks, polling the front-end's own fd and timer (not the caller's loop),
 * until the link is up: for a VMM that must not start without its back-end
 * (and for tests). Listeners are called as usual.
 *
 * Returns: true when the link is up; false with VHU_ERROR_TIMEOUT after
 * @timeout_ms, VHU_ERROR_GAVE_UP if client mode gave up, VHU_ERROR_STATE if
 * the front-end is not open (or, FD mode, has no connection).
 */
bool vhu_wait_link_up(VhuDev *dev, int timeout_ms, GError **errp);

/**
 * vhu_is_up:
 * Returns: true while a back-end is connected and its state restored.
 */
bool vhu_is_up(const VhuDev *dev);

/* ------------------------------------------------------------------------ */
/* Features                                                                  */

/**
 * vhu_get_backend_features:
 * Returns: the virtio features offered by the current (or last) back-end,
 * VHU_F_PROTOCOL_FEATURES included; 0 before the first connection.
 */
uint64_t vhu_get_backend_features(const VhuDev *dev);

/**
 * vhu_get_protocol_features:
 * Returns: the negotiated protocol features (0 before the first connection
 * or when the back-end does not offer VHU_F_PROTOCOL_FEATURES).
 */
uint64_t vhu_get_protocol_features(const VhuDev *dev);

/**
 * vhu_get_backend_queue_num:
 * Returns: the queue count of GET_QUEUE_NUM (with MQ), 1 without MQ, 0
 * before the first connection.
 */
unsigned vhu_get_backend_queue_num(const VhuDev *dev);

/**
 * vhu_set_features:
 * @dev: the front-end.
 * @features: the virtio features the driver accepted; each must be offered
 *     by the back-end. VHU_F_PROTOCOL_FEATURES is added by the front-end
 *     when protocol features were negotiated.
 * @errp: error location.
 *
 * Records the accepted subset (replayed on every connection; a later
 * back-end lacking one of these features is refused) and sends
 * SET_FEATURES if connected. Not allowed while a ring is started.
 *
 * Returns: true on success (also when disconnected: the features are sent
 * on connection); false with VHU_ERROR_FEATURE (a feature the current back-
 * end does not offer), VHU_ERROR_STATE (a ring is started, or no back-end
 * was ever connected), or an error of the request (IO, TIMEOUT, PROTOCOL,
 * BACKEND).
 */
bool vhu_set_features(VhuDev *dev, uint64_t features, GError **errp);

/**
 * vhu_get_acked_features:
 * Returns: the features set with vhu_set_features() (without the
 * VHU_F_PROTOCOL_FEATURES bit), 0 if none.
 */
uint64_t vhu_get_acked_features(const VhuDev *dev);

/* ------------------------------------------------------------------------ */
/* Memory table                                                              */

/**
 * VhuMemRegion: one region of the memory table.
 * @gpa: the address the back-end sees in descriptors (guest-physical, or an
 *     I/O virtual address outside guest RAM for the shadow virtqueue).
 * @size: bytes.
 * @host: where the front-end has it mapped (vhost-user's "userspace
 *     address": ring addresses are given in this address space).
 * @fd: the backing fd (the front-end keeps a duplicate).
 * @fd_offset: offset of the region's first byte in @fd.
 */
typedef struct VhuMemRegion {
    uint64_t gpa;
    uint64_t size;
    void *host;
    int fd;
    uint64_t fd_offset;
} VhuMemRegion;

/**
 * vhu_set_mem_table:
 * @dev: the front-end.
 * @map: guest RAM; every region must be fd-backed (memfd or fd).
 * @errp: error location.
 *
 * Takes the regions of @map (duplicating their fds) as the guest part of the
 * memory table; regions added with vhu_add_mem_region() follow it. Sends
 * SET_MEM_TABLE if connected. Call again after a change of @map's layout.
 *
 * Returns: true on success (also when disconnected); false with
 * VHU_ERROR_INVALID (NULL, an anonymous region, more than
 * VHU_MAX_MEM_REGIONS regions in all, or an overlap with an extra region),
 * VHU_ERROR_FAILED (dup failed), or an error of the request (IO, TIMEOUT,
 * PROTOCOL, BACKEND).
 */
bool vhu_set_mem_table(VhuDev *dev, VMemMap *map, GError **errp);

/**
 * vhu_add_mem_region:
 * @dev: the front-end.
 * @region: a region outside guest RAM (e.g. the shadow rings); its fd is
 *     duplicated.
 * @errp: error location.
 *
 * Adds @region to the memory table and sends the new table if connected
 * and a table was already sent.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID (NULL, size 0,
 * @fd < 0, NULL @host, a range that wraps, overlaps another region by gpa or
 * by host address, or the table is full), VHU_ERROR_FAILED (dup), or an
 * error of the request.
 */
bool vhu_add_mem_region(VhuDev *dev, const VhuMemRegion *region, GError **errp);

/**
 * vhu_remove_mem_region:
 * @dev: the front-end.
 * @gpa: the gpa of a region added with vhu_add_mem_region().
 * @errp: error location.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID (no such extra
 * region), VHU_ERROR_STATE (a started ring lies in it), or an error of the
 * request (the region is removed anyway).
 */
bool vhu_remove_mem_region(VhuDev *dev, uint64_t gpa, GError **errp);

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

/**
 * VhuVringConfig: where a ring is, in the front-end's address space.
 * @num: ring size (1..VhuOptions.queue_size; a power of two for split).
 * @desc_uaddr: host address of the descriptor table / ring.
 * @avail_uaddr: host address of the available ring / driver area.
 * @used_uaddr: host address of the used ring / device area.
 * @base: the SET_VRING_BASE value: split, the index of the next available
 *     entry the back-end takes; packed, vq_state_to_vring_base() encoding.
 *
 * The areas must lie in the memory table, by host address, and stay mapped
 * while the ring is started: the front-end reads used->idx there to restore
 * a split ring after a crash of the back-end.
 */
typedef struct VhuVringConfig {
    uint32_t num;
    uint64_t desc_uaddr;
    uint64_t avail_uaddr;
    uint64_t used_uaddr;
    uint32_t base;
} VhuVringConfig;

/**
 * vhu_vring_config_from_guest:
 * @map: the guest memory the ring is in.
 * @cfg: the ring as the guest configured it (guest addresses).
 * @base: the SET_VRING_BASE value to use.
 * @ret: filled with host addresses on success.
 * @errp: error location.
 *
 * Translates a guest ring into a VhuVringConfig (area sizes per layout).
 *
 * Returns: true on success; false with VHU_ERROR_INVALID if an argument is
 * NULL or vq_config_check() refuses @cfg (bad size, misaligned, outside
 * guest memory).
 */
bool vhu_vring_config_from_guest(VMemMap *map, const VqConfig *cfg, uint32_t base,
                                 VhuVringConfig *ret, GError **errp);

/**
 * vhu_vring_set_kick:
 * @dev: the front-end.
 * @index: the ring, 0..num_queues-1.
 * @fd: the eventfd the back-end waits on (duplicated), or -1 for none (the
 *     back-end then polls the ring).
 * @errp: error location.
 *
 * Records the kick fd; it is sent when the ring starts. Not allowed while
 * the ring is started (stop it, then start it again).
 *
 * Returns: true; false with VHU_ERROR_INVALID (bad index, fd not open),
 * VHU_ERROR_STATE (ring started), VHU_ERROR_FAILED (dup).
 */
bool vhu_vring_set_kick(VhuDev *dev, unsigned index, int fd, GError **errp);

/**
 * vhu_vring_set_call:
 * @dev: the front-end.
 * @index: the ring.
 * @fd: the eventfd the back-end signals when it used buffers (duplicated),
 *     or -1 for none.
 * @errp: error location.
 *
 * Records the call fd and, if the ring is started and connected, sends
 * SET_VRING_CALL at once (to mask, or to let the shadow virtqueue intercept
 * calls).
 *
 * Returns: true on success; false with VHU_ERROR_INVALID, VHU_ERROR_FAILED,
 * or an error of the request (the fd is recorded anyway and sent on the
 * next connection).
 */
bool vhu_vring_set_call(VhuDev *dev, unsigned index, int fd, GError **errp);

/**
 * vhu_vring_set_err:
 * As vhu_vring_set_call() for the error eventfd (SET_VRING_ERR).
 */
bool vhu_vring_set_err(VhuDev *dev, unsigned index, int fd, GError **errp);

/**
 * vhu_vring_start:
 * @dev: the front-end; vhu_set_features() and vhu_set_mem_table() done.
 * @index: the ring.
 * @cfg: where the ring is and its base.
 * @errp: error location.
 *
 * Starts (or re-points) the ring: with INFLIGHT_SHMFD, the first start
 * gets the inflight region (GET_INFLIGHT_FD for num_queues x queue_size)
 * and every connection sends it (SET_INFLIGHT_FD) before any ring starts;
 * then SET_VRING_CALL, NUM, BASE, ADDR, KICK, ERR (when set) and
 * SET_VRING_ENABLE 1 (when protocol features are negotiated, unless the
 * ring was disabled with vhu_vring_enable()). The config is recorded and
 * replayed on each connection, with the base of a restore_vring_base
 * listener or, for split rings, used->idx.
 *
 * Returns: true on success (also when disconnected: the ring starts on
 * connection); false with VHU_ERROR_INVALID (bad index, @cfg NULL, @num out
 * of range, a split base above 65535, an area outside the memory table),
 * VHU_ERROR_STATE (ring
 * already started: stop it first; no features or memory table set),
 * VHU_ERROR_PROTOCOL (a malformed GET_INFLIGHT_FD reply), or another error
 * of a request. On a request error the ring is recorded as started with
 * @cfg (the link went down; it is restored on the next connection) except
 * for VHU_ERROR_BACKEND, after which it is stopped.
 */
bool vhu_vring_start(VhuDev *dev, unsigned index, const VhuVringConfig *cfg,
                     GError **errp);

/**
 * vhu_vring_stop:
 * @dev: the front-end.
 * @index: a started ring.
 * @ret_base: where to store the base (may be NULL): the back-end's
 *     GET_VRING_BASE reply (split: its next available index), or, when
 *     disconnected or when the request fails, the base a restore would use
 *     (a restore_vring_base listener's, else for split rings used->idx).
 * @errp: error location.
 *
 * Stops the ring (GET_VRING_BASE). The reply is checked: same ring index;
 * split: a value below 2^16 that is at most @num entries ahead of used->idx;
 * packed: both positions below @num. If the request fails (I/O error,
 * timeout, or a reply that fails these checks) the link goes down and the
 * call still succeeds with the base a restore would use.
 *
 * Returns: true with *@ret_base set; false with VHU_ERROR_INVALID (bad
 * index), VHU_ERROR_STATE (not started), VHU_ERROR_UNSUPPORTED (a packed
 * ring without a base from the back-end and without a restore_vring_base
 * listener). The ring is stopped in every case but VHU_ERROR_INVALID /
 * VHU_ERROR_STATE.
 */
bool vhu_vring_stop(VhuDev *dev, unsigned index, uint32_t *ret_base, GError **errp);

/**
 * vhu_vring_enable:
 * @dev: the front-end.
 * @index: the ring.
 * @enable: SET_VRING_ENABLE value.
 * @errp: error location.
 *
 * Records the enable state (rings are enabled by default) and sends it if
 * the ring is started, connected and protocol features are negotiated.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID or an error of the
 * request.
 */
bool vhu_vring_enable(VhuDev *dev, unsigned index, bool enable, GError **errp);

/**
 * vhu_vring_is_started:
 * Returns: true if @index is a started ring.
 */
bool vhu_vring_is_started(const VhuDev *dev, unsigned index);

/* ------------------------------------------------------------------------ */
/* Device                                                                    */

/**
 * vhu_get_config:
 * @dev: a connected front-end with the CONFIG protocol feature.
 * @offset: offset in the device configuration space.
 * @buf: destination.
 * @len: bytes, 1..VHU_CONFIG_MAX - @offset.
 * @errp: error location.
 *
 * GET_CONFIG. The reply must echo @offset and @len.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID, DISCONNECTED,
 * UNSUPPORTED (CONFIG not negotiated), BACKEND (the back-end answered with
 * an empty reply: it has no config), or IO, TIMEOUT, PROTOCOL.
 */
bool vhu_get_config(VhuDev *dev, uint32_t offset, void *buf, uint32_t len,
                    GError **errp);

/**
 * vhu_set_config:
 * @dev: a connected front-end with the CONFIG protocol feature.
 * @offset: offset in the device configuration space.
 * @buf: the bytes to write.
 * @len: 1..VHU_CONFIG_MAX - @offset.
 * @flags: VHU_SET_CONFIG_TYPE_*.
 * @errp: error location.
 *
 * Returns: true on success; false as vhu_get_config().
 */
bool vhu_set_config(VhuDev *dev, uint32_t offset, const void *buf, uint32_t len,
                    uint32_t flags, GError **errp);

/**
 * vhu_set_status:
 * @dev: a connected front-end.
 * @status: the virtio device status byte.
 * @errp: error location.
 *
 * SET_STATUS when the STATUS protocol feature is negotiated; otherwise a
 * successful no-op. Not replayed on reconnection.
 *
 * Returns: true on success; false with VHU_ERROR_DISCONNECTED or an error
 * of the request.
 */
bool vhu_set_status(VhuDev *dev, uint8_t status, GError **errp);

/**
 * vhu_get_status:
 * @dev: a connected front-end with the STATUS protocol feature.
 * @ret_status: where to store the status byte.
 * @errp: error location.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID, DISCONNECTED,
 * UNSUPPORTED, or an error of the request (PROTOCOL if the value exceeds a
 * byte).
 */
bool vhu_get_status(VhuDev *dev, uint8_t *ret_status, GError **errp);

/**
 * vhu_reset:
 * @dev: the front-end.
 * @errp: error location.
 *
 * Device reset (the guest wrote 0 to the status): stops every started ring
 * (GET_VRING_BASE, values ignored), forgets the inflight region and the
 * accepted features, and sends RESET_DEVICE when negotiated. The memory
 * table, fds and listeners are kept.
 *
 * Returns: true on success (also when disconnected); false with an error of
 * a request (the local state is reset anyway).
 */
bool vhu_reset(VhuDev *dev, GError **errp);

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */

/**
 * VhuStats:
 * @connections: connections that reached link up.
 * @disconnections: link-up to link-down transitions.
 * @refused: connections dropped before link up (refused back-ends,
 *     handshake errors).
 * @requests: requests sent.
 * @last_accept_ns: CLOCK_MONOTONIC time of the last accept()/connect().
 * @last_link_up_ns: CLOCK_MONOTONIC time the link last came up.
 * @has_inflight: an inflight region is held.
 */
typedef struct VhuStats {
    uint64_t connections;
    uint64_t disconnections;
    uint64_t refused;
    uint64_t requests;
    int64_t last_accept_ns;
    int64_t last_link_up_ns;
    bool has_inflight;
} VhuStats;

/**
 * vhu_get_stats:
 * @dev: the front-end.
 * @ret: filled (zeroed for a NULL @dev).
 */
void vhu_get_stats(const VhuDev *dev, VhuStats *ret);

/**
 * vhu_last_error:
 * Returns: the last connection-level error (the reason of the last link
 * down or failed connection), owned by @dev, or NULL.
 */
const GError *vhu_last_error(const VhuDev *dev);

/**
 * vhu_request_name:
 * Returns: "GET_FEATURES" etc. for a request number, "UNKNOWN" otherwise.
 */
const char *vhu_request_name(uint32_t request);

#ifdef __cplusplus
}
#endif

#endif /* VHOST_SVQ_VHOST_USER_H */
