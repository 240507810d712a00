/* SPDX-License-Identifier: MIT */
/*
 * The receive path against arbitrary control messages. Each input is a
 * script: a socket type and options, up to four sendmsg() calls whose
 * control data is built from the input (SCM_RIGHTS with 0..24 descriptors,
 * bogus descriptor numbers, SCM_CREDENTIALS, other levels and types, raw
 * bytes with any cmsg_len), then receives with input-chosen buffer sizes and
 * max_fds through fdpass_recv() and fdpass_recv_full(). Checked: every
 * descriptor handed out is valid and close-on-exec, never more than asked
 * for, none on error, stream payloads arrive in order, and the process has
 * exactly as many descriptors open afterwards as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "fuzz-util.h"

#define MAX_SENDS 4
#define MAX_RAW_FDS 24
#define STREAM_LOG 2048

/* Descriptors to pass, opened once: /dev/null and both ends of a pipe. */
static int pool[3] = { -1, -1, -1 };

static void pool_init(void)
{
    int p[2];

    if (pool[0] >= 0) {
        return;
    }
    pool[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (pool[0] < 0 || pipe2(p, O_CLOEXEC) < 0) {
        abort();
    }
    pool[1] = p[0];
    pool[2] = p[1];
}

/* Appends one control message built from the input to @ctl; returns its size. */
static size_t build_cmsg(FuzzIn *in, char *ctl, size_t room)
{
    struct cmsghdr h = { .cmsg_level = SOL_SOCKET };
    uint8_t kind = fuzz_u8(in) % 6;
    unsigned char data[MAX_RAW_FDS * sizeof(int)];
    size_t dlen = 0;

    switch (kind) {
    case 0: /* SCM_RIGHTS with descriptors of the pool */
    case 1: {
        size_t n = fuzz_u8(in) % (MAX_RAW_FDS + 1);

        h.cmsg_type = SCM_RIGHTS;
        for (size_t i = 0; i < n; i++) {
            int fd = pool[fuzz_u8(in) % 3];

            memcpy(data + dlen, &fd, sizeof(fd));
            dlen += sizeof(fd);
        }
        break;
    }
    case 2: { /* SCM_RIGHTS with numbers that may not be descriptors */
        size_t n = fuzz_u8(in) % 4;

        h.cmsg_type = SCM_RIGHTS;
        for (size_t i = 0; i < n; i++) {
            int fd = (int)(int8_t)fuzz_u8(in) * 64;

            memcpy(data + dlen, &fd, sizeof(fd));
            dlen += sizeof(fd);
        }
        break;
    }
    case 3: { /* credentials: ours, or altered (refused unless privileged) */
        struct ucred cr = { .pid = getpid(), .uid = getuid(), .gid = getgid() };

        if (fuzz_u8(in) & 1) {
            cr.pid += fuzz_u8(in);
        }
        h.cmsg_type = SCM_CREDENTIALS;
        memcpy(data, &cr, sizeof(cr));
        dlen = sizeof(cr);
        break;
    }
    case 4: /* another level or an unknown type */
        h.cmsg_level = (fuzz_u8(in) & 1) ? SOL_SOCKET : (int)fuzz_u8(in);
        h.cmsg_type = fuzz_u8(in);
        if (h.cmsg_level == SOL_SOCKET && (h.cmsg_type == SCM_RIGHTS)) {
            h.cmsg_type = 0x7f; /* kind 0..2 cover SCM_RIGHTS */
        }
        dlen = fuzz_u8(in) % 16;
        for (size_t i = 0; i < dlen; i++) {
            data[i] = fuzz_u8(in);
        }
        break;
    default: { /* a header with a lying length */
        h.cmsg_type = (fuzz_u8(in) & 1) ? SCM_RIGHTS : SCM_CREDENTIALS;
        dlen = fuzz_u8(in) % 12;
        memset(data, 0xff, dlen);
        size_t space = CMSG_SPACE(dlen);

        if (space > room) {
            return 0;
        }
        memset(ctl, 0, space);
        h.cmsg_len = fuzz_u8(in) % (space + 8);
        memcpy(ctl, &h, sizeof(h));
        memcpy(ctl + CMSG_LEN(0), data, dlen);
        return space;
    }
    }

    size_t space = CMSG_SPACE(dlen);

    if (space > room) {
        return 0;
    }
    memset(ctl, 0, space);
    h.cmsg_len = CMSG_LEN(dlen);
    memcpy(ctl, &h, sizeof(h));
    memcpy(ctl + CMSG_LEN(0), data, dlen);
    return space;
}

typedef struct Stream {
    bool check; /* stream socket, and every step so far succeeded */
    uint8_t sent[STREAM_LOG];
    size_t nsent, nread;
} Stream;

static void do_sends(FuzzIn *in, int sock, Stream *st)
{
    size_t nsends = 1 + fuzz_u8(in) % MAX_SENDS;

    for (size_t s = 0; s < nsends && !fuzz_done(in); s++) {
        union {
            struct cmsghdr align;
            char bytes[512];
        } ctl;
        uint8_t payload[256];
        size_t plen = fuzz_u8(in), clen = 0;
        size_t ncmsg = fuzz_u8(in) % 4;
        struct iovec iov = { .iov_base = payload, .iov_len = plen };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        for (size_t i = 0; i < plen; i++) {
            payload[i] = (uint8_t)(s * 31 + i);
        }
        if (ncmsg == 3) {
            /* Through the library: any nfds, also too many. */
            int fds[FDPASS_MAX_FDS + 2];
            size_t nfds = fuzz_u8(in) % (FDPASS_MAX_FDS + 3);

            for (size_t i = 0; i < nfds; i++) {
                fds[i] = pool[i % 3];
            }
            if (fdpass_send(sock, payload, plen, fds, nfds) == 0) {
                n = (ssize_t)plen;
            } else {
                n = -1;
            }
        } else {
            for (size_t i = 0; i < ncmsg; i++) {
                clen += build_cmsg(in, ctl.bytes + clen, sizeof(ctl.bytes) - clen);
            }
            if (clen) {
                msg.msg_control = ctl.bytes;
                msg.msg_controllen = clen;
            }
            n = sendmsg(sock, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        if (n > 0 && st->nsent + (size_t)n <= STREAM_LOG) {
            memcpy(st->sent + st->nsent, payload, (size_t)n);
            st->nsent += (size_t)n;
        } else if (n > 0) {
            st->check = false;
        }
    }
}

/* Checks and closes what a successful receive handed out. */
static void take_fds(int *fds, size_t nfds, size_t max_fds)
{
    FUZZ_CHECK(nfds <= max_fds);
    for (size_t i = 0; i < nfds; i++) {
        int fl = fcntl(fds[i], F_GETFD);

        FUZZ_CHECK(fl >= 0 && (fl & FD_CLOEXEC));
    }
    fdpass_close_all(fds, nfds);
}

static void do_receives(FuzzIn *in, int sock, Stream *st)
{
    for (int r = 0; r < 8; r++) {
        uint8_t buf[600];
        int fds[FDPASS_MAX_FDS];
        size_t len = 1 + (size_t)fuzz_u8(in) * 2, max_fds = fuzz_u8(in) % (FDPASS_MAX_FDS + 1);
        size_t nfds = 77;
        bool full = fuzz_u8(in) & 1;
        ssize_t got;

        memset(fds, -1, sizeof(fds));
        if (full) {
            int rc = fdpass_recv_full(sock, buf, len, fds, max_fds, &nfds);

            got = rc == 0 ? (ssize_t)len : rc;
        } else {
            got = fdpass_recv(sock, buf, len, fds, max_fds, &nfds);
        }
        if (got <= 0) {
            FUZZ_CHECK(nfds == 0);
            for (size_t i = 0; i < FDPASS_MAX_FDS; i++) {
                FUZZ_CHECK(fds[i] == -1);
            }
            if (got != 0) {
                st->check = false;
            }
            if (got == 0 || got == -ECONNRESET || (got != -EMSGSIZE && got != -EAGAIN)) {
                return;
            }
            continue;
        }
        FUZZ_CHECK((size_t)got <= len);
        take_fds(fds, nfds, max_fds);
        if (st->check) {
            FUZZ_CHECK(st->nread + (size_t)got <= st->nsent);
            FUZZ_CHECK(memcmp(buf, st->sent + st->nread, (size_t)got) == 0);
            st->nread += (size_t)got;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    Stream st = { 0 };
    uint8_t opts;
    int sv[2], before, one = 1;

    pool_init();
    before = fuzz_count_fds();
    opts = fuzz_u8(&in);
    if (socketpair(AF_UNIX, ((opts & 1) ? SOCK_SEQPACKET : SOCK_STREAM) | SOCK_CLOEXEC, 0,
                   sv) < 0) {
        return 0;
    }
    st.check = !(opts & 1);
    if (opts & 2) {
        setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
    }
    if (opts & 4) {
        int small = 2048;

        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    }

    do_sends(&in, sv[0], &st);
    /* Receiving never blocks: after the queued data comes end of file. */
    shutdown(sv[0], SHUT_WR);
    do_receives(&in, sv[1], &st);

    close(sv[0]);
    close(sv[1]);
    FUZZ_CHECK(fuzz_count_fds() == before);
    return 0;
}
