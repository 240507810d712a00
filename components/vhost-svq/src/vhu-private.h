/* SPDX-License-Identifier: MIT */
/* Private state of the vhost-user front-end, shared by its source files. */
#ifndef VHOST_SVQ_VHU_PRIVATE_H
#define VHOST_SVQ_VHU_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/vhost-user.h"

#define VHU_DEFAULT_NAME "vhost-user"
#define VHU_DEFAULT_QUEUE_SIZE 256u
#define VHU_DEFAULT_REPLY_TIMEOUT_MS 5000u
#define VHU_DEFAULT_RETRY_INITIAL_MS 10u
#define VHU_DEFAULT_RETRY_MAX_MS 1000u
/* Largest inflight region accepted from a back-end (64 queues of 32768
 * entries of 16 bytes would be 32 MiB). */
#define VHU_INFLIGHT_MAX_BYTES (UINT64_C(64) << 20)

typedef struct VhuRing {
    bool started;
    bool enabled;      /* the SET_VRING_ENABLE value wanted */
    VhuVringConfig cfg;
    int kick_fd;       /* our duplicates; -1 for none */
    int call_fd;
    int err_fd;
} VhuRing;

typedef struct VhuListenerEntry {
    unsigned id;
    VhuListener cb;
    void *opaque;
} VhuListenerEntry;

struct VhuDev {
    /* options */
    VhuMode mode;
    char *path;
    char *name;
    unsigned num_queues;
    unsigned queue_size;
    uint64_t proto_allowed;
    unsigned reply_timeout_ms;
    unsigned retry_initial_ms;
    unsigned retry_max_ms;
    unsigned retry_max_attempts;

    /* sockets */
    bool opened;
    int listen_fd;
    bool unlink_path;   /* we created the socket file */
    int conn_fd;
    bool up;            /* link up: handshake and restore done */
    bool in_handshake;

    /* client retries */
    bool retry_pending;
    int64_t retry_due_ns;
    unsigned retry_delay_ms;
    unsigned retry_attempts;
    bool gave_up;

    /* event loop */
    bool has_loop;
    VhuLoop loop;
    void *loop_opaque;
    int watched_fd;     /* what the loop was told to watch, -1 none */
    bool timer_told;    /* the loop has a timer pending */
    GSource *source;    /* from vhu_source_new(), not owned */

    /* what the back-end offered / what was negotiated */
    bool ever_connected;
    uint64_t backend_features;
    uint64_t protocol_features;
    bool protocol_fixed;  /* negotiated once: later back-ends must match */
    unsigned backend_queue_num;

    /* state replayed on every connection */
    bool features_set;
    uint64_t acked_features;
    bool features_sent;   /* on this connection */
    bool mem_set;
    /* memory table entries; the fds are ours */
    VhuMemRegion guest[VHU_MAX_MEM_REGIONS];
    unsigned n_guest;
    VhuMemRegion extra[VHU_MAX_MEM_REGIONS];
    unsigned n_extra;
    bool mem_sent;        /* on this connection */
    int inflight_fd;
    uint64_t inflight_size;
    uint64_t inflight_offset;
    uint16_t inflight_queues;
    uint16_t inflight_qsize;
    bool inflight_sent;   /* on this connection */
    VhuRing rings[VHU_MAX_QUEUES];

    /* listeners */
    GArray *listeners;    /* VhuListenerEntry */
    unsigned next_listener_id;

    VhuStats stats;
    GError *last_error;
};

/* vhu-proto.c: messages on the connection. Each returns false with an error
 * (IO, TIMEOUT, PROTOCOL, BACKEND) and leaves the connection as it is: the
 * caller decides whether to drop it (vhu_conn_fail()). */
typedef struct VhuReply {
    VhuMsgHeader hdr;
    uint8_t payload[VHU_MAX_PAYLOAD];
    int fds[VHU_MAX_FDS];
    unsigned nfds;
} VhuReply;

int64_t vhu_now_ns(void);
bool vhu_send(VhuDev *dev, uint32_t request, bool need_reply, const void *payload,
              uint32_t size, const int *fds, unsigned nfds, GError **errp);
bool vhu_recv_reply(VhuDev *dev, uint32_t request, VhuReply *reply, GError **errp);
void vhu_reply_close_fds(VhuReply *reply);
/* Request with no reply, or with a REPLY_ACK when negotiated. */
bool vhu_request_ack(VhuDev *dev, uint32_t request, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds, GError **errp);
/* Request whose reply is a u64 (GET_FEATURES & co). */
bool vhu_request_u64(VhuDev *dev, uint32_t request, uint64_t *ret, GError **errp);
bool vhu_send_u64(VhuDev *dev, uint32_t request, uint64_t value, GError **errp);
bool vhu_has_proto(const VhuDev *dev, unsigned bit);

/* vhu-dev.c: the handshake and the restore, run on a fresh connection. */
bool vhu_dev_handshake(VhuDev *dev, GError **errp);

/* vhu-conn.c */
/* Drops the connection after a failed request: link down, listeners told,
 * back to listening / retrying. Takes @err's message (not ownership). */
void vhu_conn_fail(VhuDev *dev, const GError *err);
/* Whether @err ends the connection. */
bool vhu_error_is_fatal(const GError *err);
/* Records a request error: drops the connection if fatal, then returns false
 * so that callers can `return vhu_fail(dev, errp, err)`. Takes ownership of
 * @err. */
bool vhu_fail(VhuDev *dev, GError **errp, GError *err);
void vhu_notify_link_up(VhuDev *dev);
void vhu_notify_connect_failed(VhuDev *dev, const GError *err);
bool vhu_listeners_restore_base(VhuDev *dev, unsigned index, uint32_t *ret_base);

/* Sets *@errp (unless @errp is NULL) to "@prefix: " and @fmt formatted, in
 * the VHU_ERROR domain (the svq_ codes follow the vhu_ ones there). */
void vhu_error_vset(GError **errp, int code, const char *prefix, const char *fmt, va_list ap)
    G_GNUC_PRINTF(4, 0);
/* Sets an error prefixed with the device name. */
void vhu_set_error(const VhuDev *dev, GError **errp, VhuError code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* vhu-glib.c */
void vhu_source_detach(VhuDev *dev);

#endif /* VHOST_SVQ_VHU_PRIVATE_H */
