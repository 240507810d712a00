/* SPDX-License-Identifier: MIT */
/* Payload + SCM_RIGHTS over AF_UNIX stream and seqpacket sockets. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass-private.h"

/*
 * Room for what the kernel may attach to one received message: our
 * descriptors, credentials when the socket has SO_PASSCRED, and a security
 * label when it has SO_PASSSEC. Anything beyond sets MSG_CTRUNC.
 */
#define FDPASS_SECLABEL_ROOM 256
#define FDPASS_RECV_CONTROL \
    (CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred)) + \
     CMSG_SPACE(FDPASS_SECLABEL_ROOM))

int fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
    union {
        struct cmsghdr align;
        char bytes[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
    } control;
    const char *p = buf;
    size_t done = 0;

    if (nfds > FDPASS_MAX_FDS || (nfds > 0 && (!fds || len == 0)) || (!buf && len > 0)) {
        return -EINVAL;
    }
    for (size_t i = 0; i < nfds; i++) {
        if (fds[i] < 0) {
            return -EINVAL;
        }
    }

    while (done < len) {
        struct iovec iov = { .iov_base = (void *)(p + done), .iov_len = len - done };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (done == 0 && nfds > 0) {
            struct cmsghdr *cmsg;

            memset(&control, 0, sizeof(control));
            msg.msg_control = control.bytes;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
            cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
            memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
        }

        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            int e = errno;

            if (e == EINTR) {
                continue;
            }
            if (e == EAGAIN || e == EWOULDBLOCK) {
                int rc;

                if (done == 0) {
                    return -EAGAIN;
                }
                /* Part of the message is out: finish it rather than tear it. */
                rc = fdpass_wait(sock, POLLOUT);
                if (rc < 0) {
                    return rc;
                }
                continue;
            }
            return -e;
        }
        if (n == 0) {
            /* Not seen on AF_UNIX; guards against looping forever. */
            return -EIO;
        }
        done += (size_t)n;
    }
    return 0;
}

/*
 * Takes the descriptors out of a received message: up to @max_fds go into
 * @fds, any beyond are closed at once and reported through *@overflow.
 * Returns how many were stored.
 */
static size_t collect_fds(struct msghdr *msg, int *fds, size_t max_fds, bool *overflow)
{
    const char *end = (const char *)msg->msg_control + msg->msg_controllen;
    size_t stored = 0;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
        const unsigned char *data;
        size_t bytes, count;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        data = CMSG_DATA(c);
        bytes = c->cmsg_len - CMSG_LEN(0);
        /* Never read past what the kernel filled in. */
        if ((const char *)data > end) {
            break;
        }
        if (bytes > (size_t)(end - (const char *)data)) {
            bytes = (size_t)(end - (const char *)data);
        }
        count = bytes / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;

            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (stored < max_fds) {
                fds[stored++] = fd;
            } else {
                fdpass_close_quiet(fd);
                *overflow = true;
            }
        }
    }
    return stored;
}

static bool recv_args_ok(const void *buf, size_t len, const int *fds, size_t max_fds,
                         const size_t *ret_nfds)
{
    if (!buf || len == 0 || max_fds > FDPASS_MAX_FDS) {
        return false;
    }
    return max_fds == 0 || (fds && ret_nfds);
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t max_fds,
                    size_t *ret_nfds)
{
    union {
        struct cmsghdr align;
        char bytes[FDPASS_RECV_CONTROL];
    } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg;
    bool overflow = false, truncated;
    size_t nfds;
    ssize_t n;

    if (ret_nfds) {
        *ret_nfds = 0;
    }
    if (!recv_args_ok(buf, len, fds, max_fds, ret_nfds)) {
        return -EINVAL;
    }

    for (;;) {
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.bytes;
        msg.msg_controllen = sizeof(control.bytes);
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n >= 0) {
            break;
        }
        if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }

    nfds = collect_fds(&msg, fds, max_fds, &overflow);
    truncated = overflow || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC));
    if (truncated || n == 0) {
        /* Nothing is handed out from a message we cannot deliver whole. */
        fdpass_close_all(fds, nfds);
        return truncated ? -EMSGSIZE : 0;
    }
    if (ret_nfds) {
        *ret_nfds = nfds;
    }
    return n;
}

int fdpass_recv_full(int sock, void *buf, size_t len, int *fds, size_t max_fds,
                     size_t *ret_nfds)
{
    char *p = buf;
    size_t got = 0, nfds = 0;
    int rc;

    if (ret_nfds) {
        *ret_nfds = 0;
    }
    if (!recv_args_ok(buf, len, fds, max_fds, ret_nfds)) {
        return -EINVAL;
    }

    while (got < len) {
        size_t chunk_nfds = 0;
        ssize_t n = fdpass_recv(sock, p + got, len - got, fds ? fds + nfds : NULL,
                                max_fds - nfds, &chunk_nfds);

        if (n == -EAGAIN) {
            if (got == 0) {
                rc = -EAGAIN;
                goto fail;
            }
            /* Part of the message is in: wait for the rest. */
            rc = fdpass_wait(sock, POLLIN);
            if (rc < 0) {
                goto fail;
            }
            continue;
        }
        if (n < 0) {
            rc = (int)n;
            goto fail;
        }
        if (n == 0) {
            rc = -ECONNRESET;
            goto fail;
        }
        got += (size_t)n;
        nfds += chunk_nfds;
    }
    if (ret_nfds) {
        *ret_nfds = nfds;
    }
    return 0;

fail:
    fdpass_close_all(fds, nfds);
    return rc;
}
