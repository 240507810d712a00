/* SPDX-License-Identifier: MIT */
/* Transport: fdpass_send / fdpass_recv / fdpass_recv_full. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "helpers.h"

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static void make_memfds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = make_memfd();
    }
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    cr_assert_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void set_bufsizes(int sender, int receiver, int bytes)
{
    cr_assert_eq(setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes)), 0);
    cr_assert_eq(setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)), 0);
}

/* Checks that @got are fresh cloexec descriptors of the same files as @sent. */
static void check_fds(const int *sent, const int *got, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_assert_neq(got[i], sent[i], "fd %zu was not duplicated", i);
        cr_assert(same_file(sent[i], got[i]), "fd %zu refers to another file", i);
        cr_assert_eq(fcntl(got[i], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "fd %zu lacks cloexec", i);
    }
}

/* Sends @nfds descriptors over @type with @len bytes; receives them with
 * fdpass_recv (or fdpass_recv_full); checks everything and that no
 * descriptor is left behind. */
static void roundtrip(int type, size_t nfds, size_t len, bool full)
{
    int sv[2], fds[FDPASS_MAX_FDS], got[FDPASS_MAX_FDS];
    uint8_t *out = malloc(len), *in = calloc(1, len);
    size_t n = 99;
    int before;

    cr_assert(out && in);
    make_socketpair(type, sv);
    before = count_open_fds();
    make_memfds(fds, nfds);
    fill_pattern(out, len, (unsigned)(nfds + len));

    cr_assert_eq(fdpass_send(sv[0], out, len, fds, nfds), 0);
    if (full) {
        cr_assert_eq(fdpass_recv_full(sv[1], in, len, got, FDPASS_MAX_FDS, &n), 0);
    } else {
        cr_assert_eq(fdpass_recv(sv[1], in, len, got, FDPASS_MAX_FDS, &n), (ssize_t)len,
                     "type %d nfds %zu", type, nfds);
    }
    cr_assert_eq(n, nfds);
    cr_assert_arr_eq(in, out, len, "payload differs (type %d, %zu fds)", type, nfds);
    check_fds(fds, got, nfds);

    fdpass_close_all(got, nfds);
    fdpass_close_all(fds, nfds);
    cr_assert_eq(count_open_fds(), before, "descriptor leak (type %d, %zu fds)", type, nfds);
    close(sv[0]);
    close(sv[1]);
    free(out);
    free(in);
}

static const size_t nfds_cases[] = { 0, 1, FDPASS_MAX_FDS };

Test(transport, roundtrip_stream)
{
    for (size_t i = 0; i < 3; i++) {
        roundtrip(SOCK_STREAM, nfds_cases[i], 100, false);
        roundtrip(SOCK_STREAM, nfds_cases[i], 1, false);
        roundtrip(SOCK_STREAM, nfds_cases[i], 100, true);
    }
}

Test(transport, roundtrip_seqpacket)
{
    for (size_t i = 0; i < 3; i++) {
        roundtrip(SOCK_SEQPACKET, nfds_cases[i], 100, false);
        roundtrip(SOCK_SEQPACKET, nfds_cases[i], 1, false);
        roundtrip(SOCK_SEQPACKET, nfds_cases[i], 100, true);
    }
}

Test(transport, bad_arguments)
{
    int sv[2], fds[FDPASS_MAX_FDS + 1], got[FDPASS_MAX_FDS];
    char buf[8] = "abcdefg";
    size_t n = 7;

    make_socketpair(SOCK_STREAM, sv);
    open_devnulls(fds, FDPASS_MAX_FDS + 1);
    cr_assert_eq(fdpass_send(sv[0], buf, 1, fds, FDPASS_MAX_FDS + 1), -EINVAL);
    cr_assert_eq(fdpass_send(sv[0], buf, 0, fds, 1), -EINVAL);
    cr_assert_eq(fdpass_send(sv[0], NULL, 1, NULL, 0), -EINVAL);
    cr_assert_eq(fdpass_send(sv[0], buf, 1, NULL, 1), -EINVAL);
    int bad[2] = { fds[0], -1 };
    cr_assert_eq(fdpass_send(sv[0], buf, 1, bad, 2), -EINVAL);
    /* Nothing to send: no record, no error. */
    cr_assert_eq(fdpass_send(sv[0], buf, 0, NULL, 0), 0);
    cr_assert_eq(fdpass_send(-1, buf, 1, NULL, 0), -EBADF);
    cr_assert_eq(fdpass_send(fds[0], buf, 1, NULL, 0), -ENOTSOCK);

    cr_assert_eq(fdpass_recv(sv[1], NULL, 1, NULL, 0, NULL), -EINVAL);
    cr_assert_eq(fdpass_recv(sv[1], buf, 0, NULL, 0, NULL), -EINVAL);
    cr_assert_eq(fdpass_recv(sv[1], buf, 1, got, FDPASS_MAX_FDS + 1, &n), -EINVAL);
    cr_assert_eq(n, 0, "ret_nfds is reset on error");
    cr_assert_eq(fdpass_recv(sv[1], buf, 1, NULL, 1, &n), -EINVAL);
    cr_assert_eq(fdpass_recv(sv[1], buf, 1, got, 1, NULL), -EINVAL);
    cr_assert_eq(fdpass_recv_full(sv[1], buf, 0, NULL, 0, NULL), -EINVAL);
    cr_assert_eq(fdpass_recv_full(sv[1], buf, 1, got, FDPASS_MAX_FDS + 1, &n), -EINVAL);
    cr_assert_eq(fdpass_recv(-1, buf, 1, NULL, 0, NULL), -EBADF);

    /* None of the above sent anything. */
    set_nonblock(sv[1]);
    cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got, FDPASS_MAX_FDS, &n), -EAGAIN);
    fdpass_close_all(fds, FDPASS_MAX_FDS + 1);
    close(sv[0]);
    close(sv[1]);
}

Test(transport, close_all)
{
    int fds[4] = { -1, open_devnull(O_RDONLY), -5, open_devnull(O_RDONLY) };
    int a = fds[1], b = fds[3];

    fdpass_close_all(fds, 4);
    cr_assert(fds[0] == -1 && fds[1] == -1 && fds[3] == -1);
    cr_assert_eq(fds[2], -5, "negative entries are left alone");
    cr_assert(!fd_is_open(a) && !fd_is_open(b));
    fdpass_close_all(NULL, 3);
}

Test(transport, closed_peer_is_epipe_not_sigpipe)
{
    int sv[2], fd = open_devnull(O_RDONLY);

    make_socketpair(SOCK_STREAM, sv);
    close(sv[1]);
    cr_assert_eq(fdpass_send(sv[0], "x", 1, &fd, 1), -EPIPE);
    cr_assert_eq(fdpass_send(sv[0], "x", 1, NULL, 0), -EPIPE);
    close(sv[0]);
    close(fd);
}

/* ------------------------------------------------------------------------ */
/* Partial writes, large payloads, non-blocking sockets                      */

typedef struct Reader {
    int sock;
    uint8_t *buf;
    size_t len;
    int fds[FDPASS_MAX_FDS];
    size_t nfds;
    bool wait_first; /* poll for the first byte (non-blocking socket) */
    atomic_int tid;
    int rc;
} Reader;

static void *reader_main(void *opaque)
{
    Reader *r = opaque;

    atomic_store(&r->tid, (int)gettid());
    if (r->wait_first) {
        struct pollfd pfd = { .fd = r->sock, .events = POLLIN };

        poll(&pfd, 1, -1);
    }
    r->rc = fdpass_recv_full(r->sock, r->buf, r->len, r->fds, FDPASS_MAX_FDS, &r->nfds);
    return NULL;
}

static void large_payload(bool nonblock_sender, bool nonblock_receiver)
{
    const size_t len = 4u << 20;
    uint8_t *out = malloc(len);
    Reader r = { .len = len, .buf = calloc(1, len), .wait_first = nonblock_receiver };
    int sv[2], fds[FDPASS_MAX_FDS], before;
    pthread_t th;

    cr_assert(out && r.buf);
    make_socketpair(SOCK_STREAM, sv);
    before = count_open_fds();
    set_bufsizes(sv[0], sv[1], 4096);
    if (nonblock_sender) {
        set_nonblock(sv[0]);
    }
    if (nonblock_receiver) {
        set_nonblock(sv[1]);
    }
    make_memfds(fds, FDPASS_MAX_FDS);
    fill_pattern(out, len, 42);
    r.sock = sv[1];

    cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    cr_assert_eq(fdpass_send(sv[0], out, len, fds, FDPASS_MAX_FDS), 0);
    pthread_join(th, NULL);

    cr_assert_eq(r.rc, 0, "recv_full: %s", strerror(-r.rc));
    cr_assert_eq(r.nfds, FDPASS_MAX_FDS);
    cr_assert(memcmp(out, r.buf, len) == 0, "payload corrupted");
    check_fds(fds, r.fds, FDPASS_MAX_FDS);
    fdpass_close_all(r.fds, FDPASS_MAX_FDS);
    fdpass_close_all(fds, FDPASS_MAX_FDS);
    cr_assert_eq(count_open_fds(), before);
    close(sv[0]);
    close(sv[1]);
    free(out);
    free(r.buf);
}

Test(partial, large_payload_blocking)
{
    large_payload(false, false);
}

Test(partial, large_payload_nonblocking_sender)
{
    large_payload(true, false);
}

Test(partial, large_payload_nonblocking_receiver)
{
    large_payload(false, true);
}

Test(partial, eagain_only_when_nothing_sent)
{
    int sv[2], fd = open_devnull(O_RDONLY), got[FDPASS_MAX_FDS];
    char chunk[512], sink[4096];
    size_t filled = 0, drained = 0, n;
    ssize_t r;

    make_socketpair(SOCK_STREAM, sv);
    set_bufsizes(sv[0], sv[1], 4096);
    set_nonblock(sv[0]);
    set_nonblock(sv[1]);
    memset(chunk, 'f', sizeof(chunk));
    for (int i = 0; i < 100000; i++) {
        r = send(sv[0], chunk, sizeof(chunk), MSG_DONTWAIT);
        if (r < 0) {
            cr_assert_eq(errno, EAGAIN);
            break;
        }
        filled += (size_t)r;
    }
    cr_assert_gt(filled, 0);
    cr_assert_eq(fdpass_send(sv[0], "x", 1, &fd, 1), -EAGAIN);

    /* The receiver sees the filler only: no byte and no fd of the refused message. */
    for (;;) {
        r = fdpass_recv(sv[1], sink, sizeof(sink), got, FDPASS_MAX_FDS, &n);
        if (r == -EAGAIN) {
            break;
        }
        cr_assert_gt(r, 0);
        cr_assert_eq(n, 0);
        for (ssize_t i = 0; i < r; i++) {
            cr_assert_eq(sink[i], 'f');
        }
        drained += (size_t)r;
    }
    cr_assert_eq(drained, filled);
    close(fd);
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* EINTR                                                                     */

static atomic_int signals_seen;

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&signals_seen, 1);
}

static void install_handler_without_restart(void)
{
    struct sigaction sa = { .sa_handler = on_signal };

    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls fail with EINTR */
    cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
}

static pid_t wait_tid(atomic_int *tid)
{
    for (int i = 0; i < 10000 && atomic_load(tid) == 0; i++) {
        poll(NULL, 0, 1);
    }
    cr_assert_neq(atomic_load(tid), 0, "thread did not start");
    return atomic_load(tid);
}

/* Interrupts @th (thread id @tid) three times while it sleeps in the kernel. */
static void interrupt_sleeper(pthread_t th, pid_t tid)
{
    for (int k = 1; k <= 3; k++) {
        cr_assert(wait_thread_sleeping(tid), "thread never blocked");
        cr_assert_eq(pthread_kill(th, SIGUSR1), 0);
        for (int i = 0; i < 10000 && atomic_load(&signals_seen) < k; i++) {
            poll(NULL, 0, 1);
        }
        cr_assert_eq(atomic_load(&signals_seen), k, "signal %d not delivered", k);
    }
}

Test(eintr, recv_retries)
{
    Reader r = { .len = 10, .buf = calloc(1, 10) };
    int sv[2], fd = make_memfd();
    pthread_t th;

    install_handler_without_restart();
    make_socketpair(SOCK_STREAM, sv);
    r.sock = sv[1];
    cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    interrupt_sleeper(th, wait_tid(&r.tid));

    cr_assert_eq(fdpass_send(sv[0], "0123456789", 10, &fd, 1), 0);
    pthread_join(th, NULL);
    cr_assert_eq(r.rc, 0, "recv_full gave %s instead of retrying", strerror(-r.rc));
    cr_assert_eq(r.nfds, 1);
    cr_assert_arr_eq(r.buf, "0123456789", 10);
    cr_assert(same_file(fd, r.fds[0]));
    close(r.fds[0]);
    close(fd);
    free(r.buf);
}

typedef struct Sender {
    int sock;
    const uint8_t *buf;
    size_t len;
    int fds[2];
    atomic_int tid;
    int rc;
} Sender;

static void *sender_main(void *opaque)
{
    Sender *s = opaque;

    atomic_store(&s->tid, (int)gettid());
    s->rc = fdpass_send(s->sock, s->buf, s->len, s->fds, 2);
    return NULL;
}

Test(eintr, send_retries_and_finishes)
{
    const size_t len = 1u << 20;
    uint8_t *out = malloc(len), *in = calloc(1, len);
    Sender s = { .buf = out, .len = len };
    int sv[2], got[FDPASS_MAX_FDS];
    size_t n;
    pthread_t th;

    cr_assert(out && in);
    install_handler_without_restart();
    make_socketpair(SOCK_STREAM, sv);
    set_bufsizes(sv[0], sv[1], 4096);
    fill_pattern(out, len, 7);
    make_memfds(s.fds, 2);
    s.sock = sv[0];
    cr_assert_eq(pthread_create(&th, NULL, sender_main, &s), 0);
    /* The sender blocks in sendmsg() once the socket buffer is full. */
    interrupt_sleeper(th, wait_tid(&s.tid));

    cr_assert_eq(fdpass_recv_full(sv[1], in, len, got, FDPASS_MAX_FDS, &n), 0);
    pthread_join(th, NULL);
    cr_assert_eq(s.rc, 0, "send gave %s", strerror(-s.rc));
    cr_assert_eq(n, 2);
    cr_assert(memcmp(in, out, len) == 0, "payload corrupted");
    check_fds(s.fds, got, 2);
    fdpass_close_all(got, 2);
    fdpass_close_all(s.fds, 2);
    free(out);
    free(in);
}

/* ------------------------------------------------------------------------ */
/* Truncated control data and payloads: nothing may leak                     */

/* Sends @sent descriptors (closing the sender's copies), receives with room
 * for @room, expects -EMSGSIZE and the descriptor count unchanged. */
static void truncated(int type, size_t sent, size_t room)
{
    int sv[2], fds[FDPASS_MAX_FDS], got[FDPASS_MAX_FDS];
    char buf[8];
    size_t n = 99;
    int before;

    make_socketpair(type, sv);
    make_memfds(fds, sent);
    cr_assert_eq(fdpass_send(sv[0], "payload!", 8, fds, sent), 0);
    fdpass_close_all(fds, sent);
    before = count_open_fds();
    memset(got, -1, sizeof(got));

    cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), room ? got : NULL, room,
                             room ? &n : NULL),
                 -EMSGSIZE, "type %d sent %zu room %zu", type, sent, room);
    if (room) {
        cr_assert_eq(n, 0);
    }
    for (size_t i = 0; i < FDPASS_MAX_FDS; i++) {
        cr_assert_eq(got[i], -1, "slot %zu handed out", i);
    }
    cr_assert_eq(count_open_fds(), before, "leak: type %d sent %zu room %zu", type, sent,
                 room);
    close(sv[0]);
    close(sv[1]);
}

Test(truncation, fewer_slots_than_fds)
{
    static const size_t cases[][2] = {
        { FDPASS_MAX_FDS, 4 }, { FDPASS_MAX_FDS, FDPASS_MAX_FDS - 1 }, { 2, 1 }, { 1, 0 },
        { FDPASS_MAX_FDS, 0 },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        truncated(SOCK_STREAM, cases[i][0], cases[i][1]);
        truncated(SOCK_SEQPACKET, cases[i][0], cases[i][1]);
    }
}

/* Sends @n descriptors (more than fdpass_send allows) with a raw sendmsg. */
static void raw_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n)
{
    char control[CMSG_SPACE(sizeof(int) * 64)];
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                          .msg_controllen = CMSG_SPACE(sizeof(int) * n) };
    struct cmsghdr *c;

    cr_assert_leq(n, 64);
    memset(control, 0, sizeof(control));
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    cr_assert_eq(sendmsg(sock, &msg, 0), (ssize_t)len, "sendmsg: %s", strerror(errno));
}

Test(truncation, kernel_truncates_control)
{
    int types[2] = { SOCK_STREAM, SOCK_SEQPACKET };

    for (int t = 0; t < 2; t++) {
        for (size_t room = 0; room <= FDPASS_MAX_FDS; room += 4) {
            int sv[2], fds[40], got[FDPASS_MAX_FDS];
            char buf[4];
            size_t n;
            int before;

            make_socketpair(types[t], sv);
            make_memfds(fds, 40);
            raw_send_fds(sv[0], "abcd", 4, fds, 40);
            fdpass_close_all(fds, 40);
            before = count_open_fds();
            cr_assert_eq(fdpass_recv(sv[1], buf, 4, room ? got : NULL, room, room ? &n : NULL),
                         -EMSGSIZE);
            cr_assert_eq(count_open_fds(), before, "leak with room %zu", room);
            close(sv[0]);
            close(sv[1]);
        }
    }
}

Test(truncation, seqpacket_payload_too_long)
{
    int sv[2], fds[3], got[FDPASS_MAX_FDS];
    char out[100], in[10];
    size_t n;
    int before;

    memset(out, 'p', sizeof(out));
    make_socketpair(SOCK_SEQPACKET, sv);
    make_memfds(fds, 3);
    cr_assert_eq(fdpass_send(sv[0], out, sizeof(out), fds, 3), 0);
    fdpass_close_all(fds, 3);
    before = count_open_fds();
    cr_assert_eq(fdpass_recv(sv[1], in, sizeof(in), got, FDPASS_MAX_FDS, &n), -EMSGSIZE);
    cr_assert_eq(n, 0);
    cr_assert_eq(count_open_fds(), before);
    close(sv[0]);
    close(sv[1]);
}

Test(truncation, credentials_leave_room_for_all_fds)
{
    int sv[2], fds[FDPASS_MAX_FDS], got[FDPASS_MAX_FDS], one = 1;
    char buf[4];
    size_t n;

    make_socketpair(SOCK_STREAM, sv);
    cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
    /* SO_PASSSEC may be refused without an LSM; it is only extra room. */
    (void)setsockopt(sv[1], SOL_SOCKET, SO_PASSSEC, &one, sizeof(one));
    make_memfds(fds, FDPASS_MAX_FDS);
    cr_assert_eq(fdpass_send(sv[0], "abcd", 4, fds, FDPASS_MAX_FDS), 0);
    cr_assert_eq(fdpass_recv(sv[1], buf, 4, got, FDPASS_MAX_FDS, &n), 4);
    cr_assert_eq(n, FDPASS_MAX_FDS);
    check_fds(fds, got, FDPASS_MAX_FDS);
    fdpass_close_all(got, FDPASS_MAX_FDS);
    fdpass_close_all(fds, FDPASS_MAX_FDS);
    close(sv[0]);
    close(sv[1]);
}

Test(truncation, empty_seqpacket_record_with_fds)
{
    int sv[2], fds[2], got[FDPASS_MAX_FDS];
    char buf[4];
    size_t n = 5;
    int before;

    make_socketpair(SOCK_SEQPACKET, sv);
    make_memfds(fds, 2);
    raw_send_fds(sv[0], "", 0, fds, 2);
    fdpass_close_all(fds, 2);
    before = count_open_fds();
    cr_assert_eq(fdpass_recv(sv[1], buf, sizeof(buf), got, FDPASS_MAX_FDS, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(count_open_fds(), before);
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------------ */
/* fdpass_recv_full                                                          */

static void pieces(int type)
{
    int sv[2], a[2], b[1], got[FDPASS_MAX_FDS];
    char buf[12];
    size_t n;

    make_socketpair(type, sv);
    make_memfds(a, 2);
    make_memfds(b, 1);
    cr_assert_eq(fdpass_send(sv[0], "abcd", 4, a, 2), 0);
    cr_assert_eq(fdpass_send(sv[0], "efg", 3, NULL, 0), 0);
    cr_assert_eq(fdpass_send(sv[0], "hijkl", 5, b, 1), 0);
    cr_assert_eq(fdpass_recv_full(sv[1], buf, 12, got, FDPASS_MAX_FDS, &n), 0);
    cr_assert_arr_eq(buf, "abcdefghijkl", 12);
    cr_assert_eq(n, 3);
    check_fds(a, got, 2);
    check_fds(b, got + 2, 1);
    fdpass_close_all(got, 3);
    fdpass_close_all(a, 2);
    fdpass_close_all(b, 1);
    close(sv[0]);
    close(sv[1]);
}

Test(recv_full, short_reads_stream)
{
    pieces(SOCK_STREAM);
}

Test(recv_full, short_reads_seqpacket)
{
    pieces(SOCK_SEQPACKET);
}

static void eof_mid_message(int type, size_t sent_bytes)
{
    int sv[2], fds[2], got[FDPASS_MAX_FDS];
    char buf[10];
    size_t n = 9;
    int before;

    make_socketpair(type, sv);
    make_memfds(fds, 2);
    if (sent_bytes) {
        cr_assert_eq(fdpass_send(sv[0], "abcdefghij", sent_bytes, fds, 2), 0);
    }
    fdpass_close_all(fds, 2);
    cr_assert_eq(shutdown(sv[0], SHUT_WR), 0);
    before = count_open_fds();
    cr_assert_eq(fdpass_recv_full(sv[1], buf, sizeof(buf), got, FDPASS_MAX_FDS, &n),
                 -ECONNRESET, "type %d after %zu bytes", type, sent_bytes);
    cr_assert_eq(n, 0);
    cr_assert_eq(count_open_fds(), before, "leak after EOF");
    close(sv[0]);
    close(sv[1]);
}

Test(recv_full, eof_mid_message_is_econnreset)
{
    eof_mid_message(SOCK_STREAM, 3);
    eof_mid_message(SOCK_SEQPACKET, 3);
    eof_mid_message(SOCK_STREAM, 9);
}

Test(recv_full, eof_before_message_is_econnreset)
{
    eof_mid_message(SOCK_STREAM, 0);
    eof_mid_message(SOCK_SEQPACKET, 0);
}

Test(recv_full, fds_over_room_across_chunks)
{
    int sv[2], a[2], b[2], got[3];
    char buf[8];
    size_t n;
    int before;

    make_socketpair(SOCK_SEQPACKET, sv);
    make_memfds(a, 2);
    make_memfds(b, 2);
    cr_assert_eq(fdpass_send(sv[0], "abcd", 4, a, 2), 0);
    cr_assert_eq(fdpass_send(sv[0], "efgh", 4, b, 2), 0);
    fdpass_close_all(a, 2);
    fdpass_close_all(b, 2);
    before = count_open_fds();
    cr_assert_eq(fdpass_recv_full(sv[1], buf, 8, got, 3, &n), -EMSGSIZE);
    cr_assert_eq(n, 0);
    cr_assert_eq(count_open_fds(), before);
    close(sv[0]);
    close(sv[1]);
}

Test(recv_full, nonblocking_nothing_is_eagain)
{
    int sv[2];
    char buf[4];

    make_socketpair(SOCK_STREAM, sv);
    set_nonblock(sv[1]);
    cr_assert_eq(fdpass_recv_full(sv[1], buf, 4, NULL, 0, NULL), -EAGAIN);
    close(sv[0]);
    close(sv[1]);
}

Test(recv_full, nonblocking_waits_for_the_rest)
{
    Reader r = { .len = 8, .buf = calloc(1, 8) };
    int sv[2], fds[2];
    pthread_t th;

    make_socketpair(SOCK_STREAM, sv);
    set_nonblock(sv[1]);
    make_memfds(fds, 2);
    r.sock = sv[1];
    cr_assert_eq(fdpass_send(sv[0], "abc", 3, fds, 1), 0);
    cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    /* The reader got "abc" and now sleeps in poll() for the rest. */
    cr_assert(wait_thread_sleeping(wait_tid(&r.tid)));
    cr_assert_eq(fdpass_send(sv[0], "defgh", 5, fds + 1, 1), 0);
    pthread_join(th, NULL);
    cr_assert_eq(r.rc, 0, "%s", strerror(-r.rc));
    cr_assert_eq(r.nfds, 2);
    cr_assert_arr_eq(r.buf, "abcdefgh", 8);
    check_fds(fds, r.fds, 2);
    fdpass_close_all(r.fds, 2);
    fdpass_close_all(fds, 2);
    free(r.buf);
    close(sv[0]);
    close(sv[1]);
}
