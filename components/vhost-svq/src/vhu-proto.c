/* SPDX-License-Identifier: MIT */
/*
 * vhost-user messages on the front-end's connection: sending requests and
 * receiving replies with a deadline, and checking every reply before use.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "vhu-private.h"

G_DEFINE_QUARK(vhost-svq-error-quark, vhu_error)

static const char *const request_names[_VHU_REQ_MAX] = {
    [VHU_REQ_NONE] = "NONE",
    [VHU_REQ_GET_FEATURES] = "GET_FEATURES",
    [VHU_REQ_SET_FEATURES] = "SET_FEATURES",
    [VHU_REQ_SET_OWNER] = "SET_OWNER",
    [VHU_REQ_RESET_OWNER] = "RESET_OWNER",
    [VHU_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VHU_REQ_SET_LOG_BASE] = "SET_LOG_BASE",
    [VHU_REQ_SET_LOG_FD] = "SET_LOG_FD",
    [VHU_REQ_SET_VRING_NUM] = "SET_VRING_NUM",
    [VHU_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VHU_REQ_SET_VRING_BASE] = "SET_VRING_BASE",
    [VHU_REQ_GET_VRING_BASE] = "GET_VRING_BASE",
    [VHU_REQ_SET_VRING_KICK] = "SET_VRING_KICK",
    [VHU_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
    [VHU_REQ_SET_VRING_ERR] = "SET_VRING_ERR",
    [VHU_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VHU_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VHU_REQ_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VHU_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VHU_REQ_GET_CONFIG] = "GET_CONFIG",
    [VHU_REQ_SET_CONFIG] = "SET_CONFIG",
    [VHU_REQ_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VHU_REQ_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VHU_REQ_RESET_DEVICE] = "RESET_DEVICE",
    [VHU_REQ_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VHU_REQ_ADD_MEM_REG] = "ADD_MEM_REG",
    [VHU_REQ_REM_MEM_REG] = "REM_MEM_REG",
    [VHU_REQ_SET_STATUS] = "SET_STATUS",
    [VHU_REQ_GET_STATUS] = "GET_STATUS",
};

const char *vhu_request_name(uint32_t request)
{
    if (request < _VHU_REQ_MAX && request_names[request]) {
        return request_names[request];
    }
    return "UNKNOWN";
}

int64_t vhu_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void vhu_error_vset(GError **errp, int code, const char *prefix, const char *fmt, va_list ap)
{
    char *msg;

    if (!errp) {
        return;
    }
    msg = g_strdup_vprintf(fmt, ap);
    g_set_error(errp, VHU_ERROR, code, "%s: %s", prefix, msg);
    g_free(msg);
}

void vhu_set_error(const VhuDev *dev, GError **errp, VhuError code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vhu_error_vset(errp, code, dev ? dev->name : VHU_DEFAULT_NAME, fmt, ap);
    va_end(ap);
}

bool vhu_has_proto(const VhuDev *dev, unsigned bit)
{
    return (dev->protocol_features >> bit) & 1;
}

/* Waits until @fd is ready for @events or @deadline_ns passes.
 * Returns 1 when ready, 0 on timeout, a negative errno on failure. */
static int wait_fd(int fd, short events, int64_t deadline_ns)
{
    for (;;) {
        int64_t left = deadline_ns - vhu_now_ns();
        struct pollfd pfd = { .fd = fd, .events = events };
        int ms, rc;

        if (left <= 0) {
            return 0;
        }
        ms = (int)((left + 999999) / 1000000);
        rc = poll(&pfd, 1, ms);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (rc > 0) {
            return 1;
        }
    }
}

static int64_t reply_deadline(const VhuDev *dev)
{
    return vhu_now_ns() + (int64_t)dev->reply_timeout_ms * 1000000;
}

bool vhu_send(VhuDev *dev, uint32_t request, bool need_reply, const void *payload,
              uint32_t size, const int *fds, unsigned nfds, GError **errp)
{
    uint8_t buf[sizeof(VhuMsgHeader) + VHU_MAX_PAYLOAD];
    VhuMsgHeader hdr = {
        .request = request,
        .flags = VHU_FLAG_VERSION | (need_reply ? VHU_FLAG_NEED_REPLY : 0),
        .size = size,
    };
    int64_t deadline = reply_deadline(dev);

    if (dev->conn_fd < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_DISCONNECTED, "%s: no back-end connected",
                      vhu_request_name(request));
        return false;
    }
    if (size > VHU_MAX_PAYLOAD || nfds > VHU_MAX_FDS) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "%s: message too large",
                      vhu_request_name(request));
        return false;
    }
    memcpy(buf, &hdr, sizeof(hdr));
    if (size) {
        memcpy(buf + sizeof(hdr), payload, size);
    }
    dev->stats.requests++;
    for (;;) {
        int rc = fdpass_send(dev->conn_fd, buf, sizeof(hdr) + size, fds, nfds);

        if (rc == 0) {
            return true;
        }
        if (rc == -EAGAIN) {
            rc = wait_fd(dev->conn_fd, POLLOUT, deadline);
            if (rc > 0) {
                continue;
            }
            if (rc == 0) {
                vhu_set_error(dev, errp, VHU_ERROR_TIMEOUT,
                              "%s: back-end does not read its socket (%u ms)",
                              vhu_request_name(request), dev->reply_timeout_ms);
                return false;
            }
        }
        vhu_set_error(dev, errp, VHU_ERROR_IO, "%s: send failed: %s",
                      vhu_request_name(request), g_strerror(-rc));
        return false;
    }
}

void vhu_reply_close_fds(VhuReply *reply)
{
    for (unsigned i = 0; i < reply->nfds; i++) {
        if (reply->fds[i] >= 0) {
            close(reply->fds[i]);
        }
        reply->fds[i] = -1;
    }
    reply->nfds = 0;
}

/* Reads exactly @len bytes (and any fds that come with them) before
 * @deadline. */
static bool recv_bytes(VhuDev *dev, uint32_t request, void *buf, size_t len,
                       VhuReply *reply, int64_t deadline, GError **errp)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < len) {
        size_t nfds = 0;
        ssize_t n = fdpass_recv(dev->conn_fd, p + got, len - got, reply->fds + reply->nfds,
                                VHU_MAX_FDS - reply->nfds, &nfds);

        if (n > 0) {
            got += (size_t)n;
            reply->nfds += (unsigned)nfds;
            continue;
        }
        if (n == -EAGAIN) {
            int rc = wait_fd(dev->conn_fd, POLLIN, deadline);

            if (rc > 0) {
                continue;
            }
            if (rc == 0) {
                vhu_set_error(dev, errp, VHU_ERROR_TIMEOUT,
                              "%s: no reply from the back-end within %u ms",
                              vhu_request_name(request), dev->reply_timeout_ms);
                return false;
            }
            n = rc;
        }
        if (n == 0) {
            vhu_set_error(dev, errp, VHU_ERROR_IO,
                          "%s: back-end hung up before replying", vhu_request_name(request));
        } else if (n == -EMSGSIZE) {
            vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                          "%s: reply carries more than %u file descriptors",
                          vhu_request_name(request), VHU_MAX_FDS);
        } else {
            vhu_set_error(dev, errp, VHU_ERROR_IO, "%s: receive failed: %s",
                          vhu_request_name(request), g_strerror((int)-n));
        }
        return false;
    }
    return true;
}

/* The payload size a reply to @request must have, or 0 if it varies. */
static uint32_t expected_reply_size(uint32_t request)
{
    switch (request) {
    case VHU_REQ_GET_VRING_BASE:
        return sizeof(VhuVringStateMsg);
    case VHU_REQ_GET_INFLIGHT_FD:
        return sizeof(VhuInflightMsg);
    case VHU_REQ_GET_CONFIG:
        return 0;
    default:
        return sizeof(uint64_t);
    }
}

bool vhu_recv_reply(VhuDev *dev, uint32_t request, VhuReply *reply, GError **errp)
{
    const char *name = vhu_request_name(request);
    int64_t deadline = reply_deadline(dev);
    uint32_t want;

    memset(&reply->hdr, 0, sizeof(reply->hdr));
    reply->nfds = 0;
    for (unsigned i = 0; i < VHU_MAX_FDS; i++) {
        reply->fds[i] = -1;
    }
    if (dev->conn_fd < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_DISCONNECTED, "%s: no back-end connected", name);
        return false;
    }
    if (!recv_bytes(dev, request, &reply->hdr, sizeof(reply->hdr), reply, deadline, errp)) {
        goto fail;
    }
    if (reply->hdr.flags != (VHU_FLAG_VERSION | VHU_FLAG_REPLY)) {
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "%s: reply has flags %#x, expected %#x (version 1, reply)", name,
                      reply->hdr.flags, VHU_FLAG_VERSION | VHU_FLAG_REPLY);
        goto fail;
    }
    if (reply->hdr.request != request) {
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "%s: reply is for request %u (%s), expected %u", name,
                      reply->hdr.request, vhu_request_name(reply->hdr.request), request);
        goto fail;
    }
    want = expected_reply_size(request);
    if (want ? reply->hdr.size != want : reply->hdr.size > VHU_MAX_PAYLOAD) {
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "%s: reply payload of %u bytes, expected %u", name, reply->hdr.size,
                      want ? want : (unsigned)VHU_MAX_PAYLOAD);
        goto fail;
    }
    if (reply->hdr.size &&
        !recv_bytes(dev, request, reply->payload, reply->hdr.size, reply, deadline, errp)) {
        goto fail;
    }
    /* Only GET_INFLIGHT_FD replies may carry a descriptor; its count is
     * checked against the payload by the caller. */
    if (reply->nfds > (request == VHU_REQ_GET_INFLIGHT_FD ? 1u : 0u)) {
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "%s: reply carries %u file descriptor(s), expected %s", name,
                      reply->nfds, request == VHU_REQ_GET_INFLIGHT_FD ? "at most 1" : "none");
        goto fail;
    }
    return true;

fail:
    vhu_reply_close_fds(reply);
    return false;
}

static bool recv_u64(VhuDev *dev, uint32_t request, uint64_t *ret, GError **errp)
{
    VhuReply reply;

    if (!vhu_recv_reply(dev, request, &reply, errp)) {
        return false;
    }
    memcpy(ret, reply.payload, sizeof(*ret));
    return true;
}

bool vhu_request_ack(VhuDev *dev, uint32_t request, const void *payload, uint32_t size,
                     const int *fds, unsigned nfds, GError **errp)
{
    bool ack = vhu_has_proto(dev, VHU_PROTOCOL_F_REPLY_ACK);
    uint64_t status;

    if (!vhu_send(dev, request, ack, payload, size, fds, nfds, errp)) {
        return false;
    }
    if (!ack) {
        return true;
    }
    if (!recv_u64(dev, request, &status, errp)) {
        return false;
    }
    if (status != 0) {
        vhu_set_error(dev, errp, VHU_ERROR_BACKEND, "%s: back-end reports failure (%llu)",
                      vhu_request_name(request), (unsigned long long)status);
        return false;
    }
    return true;
}

bool vhu_request_u64(VhuDev *dev, uint32_t request, uint64_t *ret, GError **errp)
{
    return vhu_send(dev, request, false, NULL, 0, NULL, 0, errp) &&
           recv_u64(dev, request, ret, errp);
}

bool vhu_send_u64(VhuDev *dev, uint32_t request, uint64_t value, GError **errp)
{
    return vhu_request_ack(dev, request, &value, sizeof(value), NULL, 0, errp);
}
