/* SPDX-License-Identifier: MIT */
/*
 * Shadow virtqueue (prefix svq_): a relay the VMM puts between a guest ring
 * and a vhost-user back-end, and can switch on and off at run time.
 *
 * Without the shadow virtqueue the back-end reads and writes the guest ring
 * itself: the VMM sees nothing of the traffic, and the pages the back-end
 * writes are not in the VMM's dirty bitmap. With it, each queue has two
 * rings:
 *
 *   guest driver --(guest ring)--> SvqRelay --(shadow ring)--> back-end
 *                 device side                 driver side
 *
 * The relay is the device of the guest ring (virtio-queue device side) and
 * the driver of a shadow ring (virtio-queue driver side) that lives in a
 * memfd region owned by the VMM, outside guest RAM, added to the back-end's
 * memory table. A guest kick pops the guest's chains and adds their buffers
 * to the shadow ring as they are (descriptors only: the data stays in guest
 * RAM, and the back-end translates the guest addresses with the guest part
 * of its memory table); the back-end is kicked when its suppression rules
 * ask for it. A back-end call takes the used entries of the shadow ring,
 * returns them to the guest ring with the guest's ids and the back-end's
 * lengths, marks the written pages dirty in vm-memory (exactly the first
 * "used length" bytes of the chain's writable buffers), and notifies the
 * guest when its suppression rules ask for it. When the shadow ring is full
 * the guest chain is parked and the relay resumes when the back-end frees
 * descriptors. Either ring may be split or packed, in any combination.
 *
 * The back-end is not trusted: a used entry with an id out of range or not
 * in flight, a used index that jumps, a length above the writable bytes of
 * the chain, or a packed ring in an impossible state breaks the queue: the
 * relay stops, the error is kept (and reported once to the error handler),
 * and no completion is ever given to the guest twice or for a chain that
 * is not in flight. The guest is not trusted either (the device side
 * validates every chain). Nothing here aborts.
 *
 * Two layers:
 *  - SvqRelay, one queue's relay, data path only (return 0 / negative
 *    errno): usable with any transport (tests, fuzzing, benchmarks, a
 *    vhost-vdpa VMM).
 *  - SvqDev, the shadow virtqueues of one vhost-user device (a VhuDev):
 *    starts the device's rings directly or shadowed, switches between the
 *    two at run time, owns the shadow memory region and the eventfds, and
 *    integrates with the caller's event loop (GError, VHU_ERROR domain).
 *    SvqRegistry finds a device by name for a QMP command.
 *
 * Switching at run time, per started queue:
 *  - on: let the back-end complete what the guest made available (until
 *    the guest ring has nothing in flight, or no completion came for
 *    SvqOptions.quiet_ms),
 *    GET_VRING_BASE on the guest ring (vhu_vring_stop()), wait (bounded)
 *    for requests it still had, point it at a fresh shadow ring (kick and
 *    call eventfds of the relay) and continue from the guest's last
 *    available index;
 *  - off: stop forwarding, let the back-end complete the shadow ring's
 *    chains (same rule), GET_VRING_BASE on the shadow ring, wait (bounded)
 *    for requests it still had, hand the chains it never took (and a parked
 *    one) back to the guest ring (the guest ring is rewound: the back-end
 *    takes them from there), and point the back-end at the guest ring with
 *    the guest's kick and call fds.
 * The back-end is stopped only once it has nothing in flight, when that
 * can be arranged, because back-ends may complete requests after
 * GET_VRING_BASE (libvhost-user then signals a call fd it has closed and
 * gives up on the device). No completion is lost, duplicated or reordered.
 * If the back-end does not complete its requests within
 * SvqOptions.drain_timeout_ms, or the link fails, the previous mode is
 * restored and the call fails. Errors read "Can't enable shadow vq on NAME:
 * CAUSE" or "Can't disable shadow vq on NAME: CAUSE".
 *
 * Threading: no thread is created; one SvqDev (and its VhuDev) is used by
 * one thread at a time. The back-end runs in another process and shares the
 * rings through memory only.
 */
#ifndef VHOST_SVQ_SVQ_H
#define VHOST_SVQ_SVQ_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/vhost-user.h"
#include "virtio-queue/virtio-queue.h"
#include "vm-memory/vm-memory.h"

#ifdef __cplusplus
extern "C" {
#endif

/** SVQ_VERSION_*: the version of this header (the component's version). */
#define SVQ_VERSION_MAJOR 0
#define SVQ_VERSION_MINOR 3
#define SVQ_VERSION_MICRO 0

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/**
 * SvqError: codes of the shadow virtqueue in the VHU_ERROR domain, after
 * the front-end's own (VhuError); errors of the front-end's requests keep
 * their VhuError code.
 * @SVQ_ERROR_NOT_FOUND: no device of that name in the registry.
 * @SVQ_ERROR_NOT_STARTED: the device has no started queue (the guest has
 *     not set DRIVER_OK yet), or the queue is not started.
 * @SVQ_ERROR_BUSY: the back-end kept requests in flight beyond
 *     SvqOptions.drain_timeout_ms; the previous mode is restored.
 * @SVQ_ERROR_BROKEN: a queue is broken (the guest or the back-end broke the
 *     rules); the device needs a reset.
 * @SVQ_ERROR_INCOMPATIBLE: the guest ring cannot be handed to the back-end
 *     directly (its layout or notification features differ from those the
 *     back-end accepted), or a packed guest ring had requests in flight in
 *     the back-end when it was stopped (their number is unknowable).
 */
typedef enum SvqError {
    SVQ_ERROR_NOT_FOUND = _VHU_ERROR_MAX,
    SVQ_ERROR_NOT_STARTED,
    SVQ_ERROR_BUSY,
    SVQ_ERROR_BROKEN,
    SVQ_ERROR_INCOMPATIBLE,
    _SVQ_ERROR_MAX,
} SvqError;

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */

/**
 * SvqStats: counters of one queue's relay (they survive a stop and start).
 * @forwarded: guest chains added to the shadow ring.
 * @completed: used entries returned to the guest.
 * @parked: times a guest chain had to wait for room in the shadow ring.
 * @kicks: back-end kicks asked for.
 * @notifies: guest notifications asked for.
 * @handed_back: chains given back to the guest ring on hand-over.
 * @dirty_bytes: bytes of writable buffers marked dirty.
 * @switches: enable plus disable transitions (SvqDev only).
 */
typedef struct SvqStats {
    uint64_t forwarded;
    uint64_t completed;
    uint64_t parked;
    uint64_t kicks;
    uint64_t notifies;
    uint64_t handed_back;
    uint64_t dirty_bytes;
    uint64_t switches;
} SvqStats;

/* ------------------------------------------------------------------------ */
/* SvqRelay: one queue                                                       */

/** SvqRelay: opaque relay of one queue. */
typedef struct SvqRelay SvqRelay;

/** Bits returned by svq_relay_forward() and svq_relay_complete(). */
enum {
    SVQ_KICK_BACKEND = 1u << 0, /* send an available buffer notification */
    SVQ_NOTIFY_GUEST = 1u << 1, /* send a used buffer notification */
};

/**
 * svq_relay_new:
 * @guest_map: guest memory (the guest ring, the buffers, the dirty bitmap);
 *     must outlive the relay.
 * @shadow_map: the memory the shadow rings live in (normally one region,
 *     outside guest RAM); must outlive the relay.
 * @ret_relay: the new relay, stopped (only on success).
 *
 * Returns: 0; -EINVAL if an argument is NULL; -ENOMEM.
 */
int svq_relay_new(VMemMap *guest_map, VMemMap *shadow_map, SvqRelay **ret_relay);

/**
 * svq_relay_free:
 * @relay: a relay, or NULL. Chains in flight are forgotten.
 */
void svq_relay_free(SvqRelay *relay);

/**
 * svq_relay_set_name:
 * @relay: the relay.
 * @name: a label for error texts and the rings' log messages (copied,
 *     truncated to 31 bytes), or NULL.
 */
void svq_relay_set_name(SvqRelay *relay, const char *name);

/**
 * svq_relay_start:
 * @relay: a stopped relay.
 * @guest: the guest ring as the guest configured it (in @guest_map).
 * @guest_state: where the guest ring stands (vq_dev_set_state() rules;
 *     split: VQ_STATE_F_USED_FROM_RING takes next_used from the ring), or
 *     NULL for a fresh ring (everything at 0, wrap counters 1).
 * @shadow: the shadow ring (in @shadow_map); its areas are zeroed. Its
 *     size must be at least the guest's (a guest chain never needs more
 *     descriptors than the guest ring has); its features select its layout
 *     and EVENT_IDX (VQ_F_INDIRECT_DESC is ignored: chains are copied as
 *     direct descriptors).
 *
 * Starts relaying; the relay is not paused.
 *
 * Returns: 0; -EINVAL (NULL, @relay already started, a shadow smaller than
 * the guest ring, an invalid @guest_state); -EFAULT (a ring outside its
 * map); another error of vq_dev_configure() / vq_drv_configure(); -ENOMEM.
 * The relay stays stopped on error.
 */
int svq_relay_start(SvqRelay *relay, const VqConfig *guest, const VqState *guest_state,
                    const VqConfig *shadow);

/**
 * svq_relay_stop:
 * @relay: the relay, started or not.
 *
 * Stops relaying and forgets the chains in flight and a parked chain (for
 * a device reset; use svq_relay_hand_back() to keep them). The rings are
 * left as they are.
 */
void svq_relay_stop(SvqRelay *relay);

/**
 * svq_relay_is_started:
 * Returns: true between a successful svq_relay_start() and the stop (a
 * broken relay is still started).
 */
bool svq_relay_is_started(const SvqRelay *relay);

/**
 * svq_relay_forward:
 * @relay: a started relay.
 *
 * After a guest kick (or at any time): pops the guest's available chains
 * and adds them to the shadow ring until the guest ring is empty or the
 * shadow ring is full (the chain that does not fit is parked, and guest
 * kicks are suppressed until it is forwarded). Does nothing while paused.
 *
 * Returns: a mask of SVQ_KICK_BACKEND (>= 0): kick the back-end; -EBADFD
 * (not started); -EIO (broken earlier); or a violation of the guest
 * (an error of vq_dev_pop(): the relay is broken now; chains forwarded
 * before it stay valid, so kick the back-end anyway).
 */
int svq_relay_forward(SvqRelay *relay);

/**
 * svq_relay_complete:
 * @relay: a started relay.
 *
 * After a back-end call (or at any time): takes every used entry of the
 * shadow ring, marks the written pages dirty, returns the entries to the
 * guest ring and publishes them; then, unless paused, forwards a parked
 * chain and what the guest added meanwhile.
 *
 * Returns: a mask of SVQ_NOTIFY_GUEST and SVQ_KICK_BACKEND (>= 0); -EBADFD;
 * -EIO (broken earlier); or a violation of the back-end, after which the
 * relay is broken (entries validated before it are returned to the guest,
 * so notify the guest anyway): -ERANGE (used id out of range), -ESTALE (id
 * not in flight), -EPROTO (split: used index jumped beyond the chains in
 * flight), -EMSGSIZE (a used length above the writable bytes of the chain).
 */
int svq_relay_complete(SvqRelay *relay);

/**
 * svq_relay_set_paused:
 * @relay: the relay.
 * @paused: true to stop forwarding guest chains (completions are still
 *     relayed), false to resume (call svq_relay_forward() then).
 */
void svq_relay_set_paused(SvqRelay *relay, bool paused);

/**
 * svq_relay_in_flight:
 * Returns: the chains in the shadow ring not yet used by the back-end (0
 * for NULL or stopped).
 */
uint32_t svq_relay_in_flight(const SvqRelay *relay);

/**
 * svq_relay_is_parked:
 * Returns: true while a guest chain waits for room in the shadow ring.
 */
bool svq_relay_is_parked(const SvqRelay *relay);

/**
 * svq_relay_hand_back:
 * @relay: a started relay that is not broken.
 * @backend: where the back-end stopped on the shadow ring (decoded from
 *     its GET_VRING_BASE reply with vq_state_from_vring_base() in the
 *     shadow's layout): split, next_avail only; packed, next_avail and
 *     avail_wrap.
 * @ret_guest: the guest ring's state after the hand-back: a back-end that
 *     takes the guest ring over starts from here (vq_state_to_vring_base()
 *     in the guest's layout). Written only on success.
 *
 * Gives the chains the back-end did not take (those after @backend in the
 * shadow ring) and a parked chain back to the guest ring, as if they had
 * never been popped, and stops the relay. The back-end must have completed
 * every chain it took: call svq_relay_complete() until this stops
 * returning -EBUSY.
 *
 * Returns: 0 (stopped, no chain of the guest in flight); -EINVAL (NULL);
 * -EBADFD (not started); -EIO (broken); -EBUSY (chains the back-end took
 * are still in flight; nothing changed); -EPROTO (@backend does not match
 * what was added to the shadow ring, or the back-end used a chain it had
 * not taken: the relay is broken).
 */
int svq_relay_hand_back(SvqRelay *relay, const VqState *backend, VqState *ret_guest);

/**
 * svq_relay_remap:
 * @relay: a started relay.
 *
 * Translates the guest ring again after the layout of the guest map
 * changed (vq_dev_remap()); the shadow map is the relay's own.
 *
 * Returns: 0; -EINVAL (NULL); -EBADFD (not started); -EFAULT (the guest
 * ring is no longer wholly in one region: the relay is broken).
 */
int svq_relay_remap(SvqRelay *relay);

/**
 * svq_relay_resume_state:
 * @relay: a started relay.
 * @ret: the shadow ring state a new back-end should resume from after a
 *     reconnection without inflight tracking: the position of the oldest
 *     chain in flight (exact for a back-end that completes in order), or
 *     the next free position if none; next_used equals next_avail.
 *
 * Returns: 0; -EINVAL (NULL); -EBADFD (not started).
 */
int svq_relay_resume_state(const SvqRelay *relay, VqState *ret);

/**
 * svq_relay_is_broken:
 * Returns: true after a violation, until the next svq_relay_start().
 */
bool svq_relay_is_broken(const SvqRelay *relay);

/**
 * svq_relay_last_error:
 * Returns: the negative errno of the violation that broke the relay, or 0.
 */
int svq_relay_last_error(const SvqRelay *relay);

/**
 * svq_relay_error_text:
 * Returns: what broke the relay ("back-end: used id 7 is not in flight"),
 * or "" (never NULL for a valid @relay; "" for NULL). Owned by @relay.
 */
const char *svq_relay_error_text(const SvqRelay *relay);

/**
 * svq_relay_get_stats:
 * @relay: the relay.
 * @ret: filled (zeroed for NULL @relay).
 */
void svq_relay_get_stats(const SvqRelay *relay, SvqStats *ret);

/* ------------------------------------------------------------------------ */
/* SvqDev: the shadow virtqueues of one vhost-user device                    */

/** SvqDev: opaque shadow virtqueue set of one vhost-user device. */
typedef struct SvqDev SvqDev;

/** SVQ_DEFAULT_SHADOW_GPA: where the shadow region goes in the back-end's
 * memory table by default (above any guest RAM of this VMM). */
#define SVQ_DEFAULT_SHADOW_GPA (UINT64_C(1) << 48)

/**
 * SvqOptions: set with svq_options_init() then adjust.
 * @vhu: the front-end (not owned; must outlive the SvqDev). Its memory
 *     table gets the shadow region.
 * @guest_map: guest RAM (not owned; must outlive the SvqDev).
 * @num_queues: queues of the device, 1..VHU_MAX_QUEUES (default 1).
 * @max_queue_size: the largest guest ring, 1..32768 (default 256): sizes
 *     the shadow region (a split shadow ring is rounded up to a power of
 *     two, and must fit the front-end's VhuOptions.queue_size).
 * @shadow_gpa: guest-physical address of the shadow region in the
 *     back-end's memory table; page aligned, outside guest RAM (default
 *     SVQ_DEFAULT_SHADOW_GPA).
 * @drain_timeout_ms: how long a switch waits for the back-end to complete
 *     the requests it took (default 5000).
 * @enabled: queues start shadowed (default false); needed when the guest
 *     ring's layout differs from the back-end's.
 * @quiet_ms: a switch stops waiting for the back-end to complete its
 *     requests before GET_VRING_BASE once none completed for this long
 *     (default 50: a back-end may hold buffers it never completes, such as
 *     a network receive ring); 0 waits until none is in flight, at most
 *     @drain_timeout_ms (block devices, whose requests all complete).
 */
typedef struct SvqOptions {
    VhuDev *vhu;
    VMemMap *guest_map;
    unsigned num_queues;
    uint32_t max_queue_size;
    uint64_t shadow_gpa;
    unsigned drain_timeout_ms;
    bool enabled;
    unsigned quiet_ms;
} SvqOptions;

/**
 * svq_options_init:
 * @opts: filled with the defaults above (@vhu and @guest_map NULL).
 */
void svq_options_init(SvqOptions *opts);

/**
 * svq_new:
 * @opts: the options.
 * @ret_svq: the new set (only on success).
 * @errp: error location.
 *
 * Creates the shadow region (a sealed memfd holding one shadow ring slot per
 * queue), adds it to @vhu's memory table (vhu_add_mem_region(): create the
 * SvqDev before starting rings, so that no SET_MEM_TABLE reaches a back-end
 * that is processing requests), creates each queue's kick and call
 * eventfds, and installs a listener on @vhu (kicks the shadow rings after a
 * reconnection; gives the resume position of packed shadow rings).
 *
 * Returns: true on success; false with VHU_ERROR_INVALID (NULL @opts, @vhu
 * or @guest_map, @num_queues or @max_queue_size out of range, a misaligned
 * @shadow_gpa, a region that wraps or overlaps guest RAM), VHU_ERROR_FAILED
 * (memfd or eventfd creation, mapping), or an error of
 * vhu_add_mem_region().
 */
bool svq_new(const SvqOptions *opts, SvqDev **ret_svq, GError **errp);

/**
 * svq_free:
 * @svq: a set, or NULL.
 *
 * Stops the shadowed rings (GET_VRING_BASE; their chains are forgotten: use
 * svq_disable() first to hand them back to the guest ring), removes the
 * listener, the watches and the shadow region from the memory table,
 * closes every fd it holds and frees it. A GSource from svq_source_new() is
 * destroyed. Removes it from the registry it belongs to. Rings started
 * directly are left running.
 *
 * A back-end built on libvhost-user (qemu-storage-daemon) remaps every ring
 * it has seen on SET_MEM_TABLE, stopped or not, and drops the connection
 * when one of them is no longer in the table: if the front-end outlives the
 * set, free the set while its rings are direct (after svq_disable()), not
 * right after stopping them shadowed.
 */
void svq_free(SvqDev *svq);

/**
 * svq_get_name:
 * Returns: the device name (vhu_get_name() of the front-end); NULL for NULL.
 */
const char *svq_get_name(const SvqDev *svq);

/**
 * svq_queue_start:
 * @svq: the set.
 * @index: the queue, 0..num_queues-1.
 * @guest: the guest ring (guest addresses, the guest's features).
 * @state: where the guest ring stands (from svq_queue_stop(), a migration
 *     stream, or vq_state_from_vring_base()), or NULL for a fresh ring.
 * @kick_fd: the guest's notify eventfd (duplicated).
 * @call_fd: the guest's interrupt eventfd (duplicated).
 * @errp: error location.
 *
 * Starts the queue shadowed when the set is enabled, otherwise directly
 * (the back-end gets the guest ring, vq_state_to_vring_base() of @state,
 * and the guest's fds). Call it instead of vhu_vring_start() for the queues
 * the shadow virtqueue may switch; vhu_set_features() and
 * vhu_set_mem_table() must be done.
 *
 * Returns: true on success (also when the back-end is disconnected: the
 * ring starts on connection); false with VHU_ERROR_INVALID (bad index, NULL
 * @guest, a ring larger than max_queue_size or outside guest memory, an
 * invalid @state, fds not open), VHU_ERROR_STATE (already started, or the
 * front-end's ring was started by someone else), SVQ_ERROR_INCOMPATIBLE (a
 * direct start of a ring whose layout or notification features the
 * back-end did not accept: enable the set first), SVQ_ERROR_BROKEN (a
 * shadowed start on a guest ring that vq_dev_set_state() refuses), or an
 * error of the front-end's requests.
 */
bool svq_queue_start(SvqDev *svq, unsigned index, const VqConfig *guest, const VqState *state,
                     int kick_fd, int call_fd, GError **errp);

/**
 * svq_queue_stop:
 * @svq: the set.
 * @index: a started queue.
 * @ret_state: where the guest ring stands, to restart it from (may be
 *     NULL; written only on success).
 * @errp: error location.
 *
 * Stops the queue. Shadowed: GET_VRING_BASE on the shadow ring, waits for
 * the requests the back-end took, relays their completions and hands the
 * other chains back to the guest ring, so that *@ret_state accounts for
 * every completion the guest has seen and nothing else; directly:
 * vhu_vring_stop() (split: next_used is then to be read from the ring,
 * VQ_STATE_F_USED_FROM_RING).
 *
 * The queue is stopped in every case but VHU_ERROR_INVALID and
 * SVQ_ERROR_NOT_STARTED: when the chains cannot be handed back (a broken
 * queue, no back-end, requests still in flight after the drain timeout)
 * they are forgotten, which is what a device reset wants.
 *
 * Returns: true on success; false with VHU_ERROR_INVALID (bad index),
 * SVQ_ERROR_NOT_STARTED, SVQ_ERROR_BROKEN, VHU_ERROR_DISCONNECTED,
 * SVQ_ERROR_BUSY, or an error of vhu_vring_stop().
 */
bool svq_queue_stop(SvqDev *svq, unsigned index, VqState *ret_state, GError **errp);

/**
 * svq_remap:
 * @svq: the set.
 *
 * Call after the layout of the guest map changed (and vhu_set_mem_table()):
 * the shadowed queues translate their guest rings again. A queue whose ring
 * is no longer in guest memory breaks (the error function is called).
 */
void svq_remap(SvqDev *svq);

/**
 * svq_enable:
 * @svq: the set.
 * @errp: error location.
 *
 * Switches every started queue to the shadow ring (see the top of this
 * file) and makes later starts shadowed. A no-op when already enabled.
 * All or nothing: a queue that fails to switch makes the ones switched
 * before it switch back.
 *
 * Returns: true on success; false with an error "Can't enable shadow vq on
 * NAME: CAUSE": SVQ_ERROR_NOT_STARTED ("device not started": no queue
 * started), VHU_ERROR_DISCONNECTED (no back-end connected, or it went away
 * during the switch), SVQ_ERROR_BUSY (requests still in flight in the
 * back-end after drain_timeout_ms), SVQ_ERROR_INCOMPATIBLE (a packed guest
 * ring with requests in flight in the back-end), SVQ_ERROR_BROKEN (the
 * guest ring is invalid), or an error of the front-end's requests.
 */
bool svq_enable(SvqDev *svq, GError **errp);

/**
 * svq_disable:
 * @svq: the set.
 * @errp: error location.
 *
 * Hands every shadowed queue back to the back-end directly (see the top of
 * this file). A no-op when already disabled. All or nothing, as
 * svq_enable().
 *
 * Returns: true on success; false with an error "Can't disable shadow vq
 * on NAME: CAUSE": SVQ_ERROR_NOT_STARTED, VHU_ERROR_DISCONNECTED,
 * SVQ_ERROR_BUSY, SVQ_ERROR_INCOMPATIBLE (the guest ring's layout or
 * EVENT_IDX differs from what the back-end accepted, or it uses indirect
 * descriptors the back-end did not accept), SVQ_ERROR_BROKEN (a queue is
 * broken: reset the device), or an error of the front-end's requests.
 */
bool svq_disable(SvqDev *svq, GError **errp);

/**
 * svq_is_enabled:
 * Returns: whether the set is enabled (false for NULL).
 */
bool svq_is_enabled(const SvqDev *svq);

/**
 * svq_queue_is_shadowed:
 * Returns: true if queue @index is started and relayed through its shadow
 * ring.
 */
bool svq_queue_is_shadowed(const SvqDev *svq, unsigned index);

/**
 * svq_queue_get_error:
 * Returns: why queue @index broke (owned by @svq, valid until the queue
 * starts again), or NULL.
 */
const GError *svq_queue_get_error(const SvqDev *svq, unsigned index);

/**
 * svq_queue_get_stats:
 * @ret: filled with queue @index's counters (zeroed for a bad index).
 */
void svq_queue_get_stats(const SvqDev *svq, unsigned index, SvqStats *ret);

/**
 * SvqErrorFunc:
 * @svq: the set.
 * @index: the queue that broke.
 * @error: why (SVQ_ERROR_BROKEN; "NAME: queue N: back-end: ...").
 * @opaque: the value given to svq_set_error_func().
 *
 * Called once when a queue breaks during dispatch (the VMM then sets
 * DEVICE_NEEDS_RESET). Must not free @svq.
 */
typedef void (*SvqErrorFunc)(SvqDev *svq, unsigned index, const GError *error, void *opaque);

/** svq_set_error_func: installs (or with NULL removes) the error callback. */
void svq_set_error_func(SvqDev *svq, SvqErrorFunc fn, void *opaque);

/* ------------------------------------------------------------------------ */
/* Event loop                                                                */

/**
 * SvqLoop: how the set asks the caller's event loop for service.
 * @add_watch: start watching @fd for readability; when it is readable call
 *     svq_dispatch().
 * @remove_watch: stop watching @fd (called before the fd is closed).
 *
 * A shadowed queue needs two fds watched: the guest's kick eventfd and the
 * shadow ring's call eventfd. The callbacks must not call back into the set.
 */
typedef struct SvqLoop {
    void (*add_watch)(int fd, void *opaque);
    void (*remove_watch)(int fd, void *opaque);
} SvqLoop;

/**
 * svq_set_loop:
 * @svq: the set.
 * @loop: the callbacks (copied), or NULL (poll-style use with
 *     svq_get_fds()).
 * @opaque: passed to each callback.
 *
 * The new loop is told about the fds watched now; the old one is told to
 * forget them.
 */
void svq_set_loop(SvqDev *svq, const SvqLoop *loop, void *opaque);

/**
 * svq_get_fds:
 * @svq: the set.
 * @fds: where to store the fds to watch for readability (may be NULL when
 *     @max is 0).
 * @max: entries in @fds.
 *
 * Returns: the number of fds that need watching now (it may exceed @max;
 * only @max are stored). At most 2 * num_queues.
 */
unsigned svq_get_fds(const SvqDev *svq, int *fds, unsigned max);

/**
 * svq_dispatch:
 * @svq: the set.
 * @fd: a watched fd that is readable (other fds are ignored).
 *
 * Guest kick: reads the eventfd and forwards chains (kicking the back-end
 * as needed). Back-end call: reads the eventfd, relays completions
 * (notifying the guest as needed). A queue that breaks stops being watched
 * and the error function is called.
 */
void svq_dispatch(SvqDev *svq, int fd);

/**
 * svq_queue_kick:
 * @svq: the set.
 * @index: the queue.
 *
 * The guest notified queue @index. A VMM that traps the guest's notify
 * itself (an MMIO or PIO write handler) calls this from the handler
 * instead of writing the guest's kick eventfd, and so saves the eventfd
 * round trip through its event loop: shadowed, the guest's chains are
 * forwarded at once and the back-end is kicked when its suppression rules
 * ask for it; direct, the guest's kick eventfd (the back-end's) is
 * signalled. Nothing happens for a bad index, a queue that is not started
 * or one that is broken. Same thread rules as svq_dispatch().
 */
void svq_queue_kick(SvqDev *svq, unsigned index);

/**
 * SvqNotifyFunc:
 * @svq: the set.
 * @index: the queue.
 * @opaque: the value given to svq_set_notify_func().
 *
 * A used buffer notification for the guest on a shadowed queue (raise its
 * interrupt). Called from svq_dispatch(), svq_queue_kick(),
 * svq_queue_poll() and the switches; it must not call back into @svq.
 */
typedef void (*SvqNotifyFunc)(SvqDev *svq, unsigned index, void *opaque);

/**
 * svq_set_notify_func:
 * @svq: the set.
 * @fn: the function, or NULL to go back to the eventfd.
 * @opaque: passed to @fn.
 *
 * Shadowed queues notify the guest by calling @fn instead of writing the
 * guest's call eventfd (a VMM that injects the interrupt itself saves the
 * eventfd round trip). Direct queues are not affected: their back-end
 * writes the guest's call eventfd.
 */
void svq_set_notify_func(SvqDev *svq, SvqNotifyFunc fn, void *opaque);

/**
 * svq_queue_poll:
 * @svq: the set.
 * @index: a queue.
 *
 * Relays in both directions without reading the eventfds (for a VMM that
 * polls, and after a missed wake-up). Does nothing unless shadowed.
 */
void svq_queue_poll(SvqDev *svq, unsigned index);

/**
 * svq_source_new:
 * @svq: the set; it must outlive the source or free it (svq_free()
 *     destroys the source).
 *
 * Returns: a GSource that installs itself as @svq's loop and dispatches it;
 * attach it with g_source_attach(). Destroying it removes the loop.
 */
GSource *svq_source_new(SvqDev *svq);

/* ------------------------------------------------------------------------ */
/* Registry                                                                  */

/** SvqRegistry: the VMM's table of shadow virtqueue sets, by device name. */
typedef struct SvqRegistry SvqRegistry;

/** svq_registry_new: Returns: an empty registry. */
SvqRegistry *svq_registry_new(void);

/**
 * svq_registry_free:
 * @reg: a registry, or NULL. The sets in it are not freed (they forget it).
 */
void svq_registry_free(SvqRegistry *reg);

/**
 * svq_registry_add:
 * @reg: the registry.
 * @svq: a set in no registry; found by svq_get_name().
 * @errp: error location.
 *
 * Returns: true; false with VHU_ERROR_INVALID (NULL, @svq already in a
 * registry, or another set has the same name).
 */
bool svq_registry_add(SvqRegistry *reg, SvqDev *svq, GError **errp);

/**
 * svq_registry_remove:
 * Removes @svq from @reg (a set not in @reg is ignored).
 */
void svq_registry_remove(SvqRegistry *reg, SvqDev *svq);

/**
 * svq_registry_lookup:
 * Returns: the set of device @name, or NULL.
 */
SvqDev *svq_registry_lookup(const SvqRegistry *reg, const char *name);

/**
 * svq_registry_set_enabled:
 * @reg: the registry.
 * @name: the device name (a QMP argument).
 * @enable: svq_enable() or svq_disable().
 * @errp: error location.
 *
 * Returns: true on success; false with SVQ_ERROR_NOT_FOUND ("Can't enable
 * shadow vq on NAME: device not found") or an error of svq_enable() /
 * svq_disable().
 */
bool svq_registry_set_enabled(SvqRegistry *reg, const char *name, bool enable,
                              GError **errp);

#ifdef __cplusplus
}
#endif

#endif /* VHOST_SVQ_SVQ_H */
