/* SPDX-License-Identifier: MIT */
/*
 * QMP server benchmark.
 *
 * The server runs in its own thread (a poll() loop over
 * qmp_server_fill_pollfds()/qmp_server_dispatch_pollfds()); clients are
 * threads with blocking unix sockets. Measured:
 *  - query-version round trips/s, 1 client, one command at a time;
 *  - the same, 16 clients at once (total);
 *  - the same, 1 client keeping 8 commands in flight (QMP's in-band bound);
 *  - getfd+closefd pairs/s, a descriptor passed with every getfd;
 *  - p50/p99 latency of the 1-client round trips.
 * Baseline, same run, same threads and sockets: a raw echo server that
 * answers each request with as many bytes as the QMP reply has (and takes
 * and closes the passed descriptor). Each figure is the median of RUNS runs.
 * Everything is measured with two placements: the server thread on CPU 0
 * and the clients on CPU 1 (each round trip costs two cross-CPU wakeups,
 * which dominate on a VM), and every thread on CPU 0 (a round trip is two
 * context switches). Baseline and QMP runs alternate.
 *
 * Usage: bench-qmp [seconds-per-run (0.5)] [runs (5)]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"

#define QEMU_ANCHOR_1 5972.0       /* QEMU 7.2, performance-anchors.md */
#define QEMU_ANCHOR_16 5649.0
#define QEMU_ANCHOR_FD 2028.0
#define MAX_CLIENTS 16

/* Requests end with a newline (whitespace to QMP) so that the echo server
 * can find their ends. */
static const char QV[] = "{\"execute\": \"query-version\"}\n";
static const char GETFD[] = "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"b\"}}\n";
static const char CLOSEFD[] = "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"b\"}}\n";
static size_t qv_reply_len, empty_reply_len;
/* CPUs for the server thread and the client threads (-1: anywhere). */
static int server_cpu = -1, client_cpu = -1;

static void pin(pthread_t t, int cpu)
{
    cpu_set_t set;

    if (cpu < 0) {
        return;
    }
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(t, sizeof(set), &set);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-qmp: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ------------------------------------------------------------------------ */
/* Servers: QMP, or a raw echo of fixed-size replies                        */

typedef struct Server {
    bool echo;
    int stop;                   /* eventfd */
    QmpServer *qmp;
    int conns[MAX_CLIENTS];     /* echo: connected sockets */
    size_t got[MAX_CLIENTS];    /* echo: bytes of the current request */
    int nconns;
    pthread_t thread;
} Server;

/* Echo: a request is recognised by its length; the reply has the length
 * the QMP reply to it has. */
static size_t echo_reply_len(size_t req_len)
{
    return req_len == strlen(QV) ? qv_reply_len : empty_reply_len;
}

static void echo_serve(Server *s, int i)
{
    static char out[4096];
    char buf[4096];
    int fds[FDPASS_MAX_FDS];
    size_t nfds = 0;
    ssize_t n = fdpass_recv(s->conns[i], buf, sizeof(buf), fds, FDPASS_MAX_FDS, &nfds);

    if (n <= 0) {
        return;
    }
    fdpass_close_all(fds, nfds);        /* the "server" consumed the fd */
    if (!out[0]) {
        memset(out, 'x', sizeof(out));
    }
    for (ssize_t k = 0; k < n; k++) {
        s->got[i]++;
        if (buf[k] == '\n') {
            size_t len = echo_reply_len(s->got[i]);
            s->got[i] = 0;
            if (send(s->conns[i], out, len, MSG_NOSIGNAL) != (ssize_t)len) {
                return;
            }
        }
    }
}

static void *server_main(void *opaque)
{
    Server *s = opaque;
    struct pollfd pfds[MAX_CLIENTS + 8];

    for (;;) {
        size_t n;
        if (s->echo) {
            for (int i = 0; i < s->nconns; i++) {
                pfds[i] = (struct pollfd){ .fd = s->conns[i], .events = POLLIN };
            }
            n = (size_t)s->nconns;
        } else {
            n = qmp_server_fill_pollfds(s->qmp, pfds, MAX_CLIENTS + 7);
        }
        pfds[n] = (struct pollfd){ .fd = s->stop, .events = POLLIN };
        if (poll(pfds, n + 1, -1) < 0 && errno != EINTR) {
            die("poll");
        }
        if (pfds[n].revents) {
            return NULL;
        }
        if (s->echo) {
            for (size_t i = 0; i < n; i++) {
                if (pfds[i].revents) {
                    echo_serve(s, (int)i);
                }
            }
        } else {
            qmp_server_dispatch_pollfds(s->qmp, pfds, n);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */

typedef enum Mode { M_QV, M_QV_PIPELINED, M_FD_PAIR } Mode;

typedef struct Client {
    int fd;
    Mode mode;
    atomic_bool *stop;
    uint64_t count;
    double *lat;                /* per round trip, 1-client mode */
    size_t nlat, cap;
    pthread_t thread;
} Client;

static void read_exact(int fd, size_t len)
{
    char buf[8192];

    while (len) {
        ssize_t n = recv(fd, buf, len < sizeof(buf) ? len : sizeof(buf), 0);
        if (n <= 0) {
            die("recv");
        }
        len -= (size_t)n;
    }
}

static void send_all(int fd, const char *s, int pass_fd)
{
    int rc = pass_fd >= 0 ? fdpass_send(fd, s, strlen(s), &pass_fd, 1)
                          : fdpass_send(fd, s, strlen(s), NULL, 0);
    if (rc < 0) {
        errno = -rc;
        die("send");
    }
}

static void *client_main(void *opaque)
{
    Client *c = opaque;
    int pass = -1;

    if (c->mode == M_FD_PAIR) {
        int p[2];
        if (pipe(p) < 0) {
            die("pipe");
        }
        close(p[1]);
        pass = p[0];
    }
    if (c->mode == M_QV_PIPELINED) {
        for (int i = 0; i < 8; i++) {
            send_all(c->fd, QV, -1);
        }
    }
    while (!atomic_load_explicit(c->stop, memory_order_relaxed)) {
        double t0 = c->lat ? now_s() : 0;
        switch (c->mode) {
        case M_QV:
            send_all(c->fd, QV, -1);
            read_exact(c->fd, qv_reply_len);
            break;
        case M_QV_PIPELINED:
            read_exact(c->fd, qv_reply_len);
            send_all(c->fd, QV, -1);
            break;
        case M_FD_PAIR:
            send_all(c->fd, GETFD, pass);
            read_exact(c->fd, empty_reply_len);
            send_all(c->fd, CLOSEFD, -1);
            read_exact(c->fd, empty_reply_len);
            break;
        }
        c->count++;
        if (c->lat && c->nlat < c->cap) {
            c->lat[c->nlat++] = now_s() - t0;
        }
    }
    if (c->mode == M_QV_PIPELINED) {
        read_exact(c->fd, 8 * qv_reply_len);
    }
    if (pass >= 0) {
        close(pass);
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* One run                                                                   */

static char sock_path[108];

static int connect_qmp(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    strcpy(sa.sun_path, sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        die("connect");
    }
    return fd;
}

/* Reads one CRLF line byte by byte (setup only). */
static size_t read_line(int fd)
{
    size_t n = 0;
    char ch, prev = 0;

    for (;;) {
        if (recv(fd, &ch, 1, 0) != 1) {
            die("recv line");
        }
        n++;
        if (prev == '\r' && ch == '\n') {
            return n;
        }
        prev = ch;
    }
}

typedef struct Result {
    double rate;
    double p50_us, p99_us;
} Result;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static Result run_once(bool echo, Mode mode, int nclients, double seconds)
{
    Server s = { .echo = echo };
    Client cl[MAX_CLIENTS];
    atomic_bool stop = false;
    Result r = { 0 };
    uint64_t total = 0;
    double t0, t1;
    GError *err = NULL;

    s.stop = eventfd(0, EFD_CLOEXEC);
    if (!echo) {
        if (!qmp_server_new(NULL, &s.qmp, &err) ||
            !qmp_server_listen_unix(s.qmp, sock_path, &err)) {
            fprintf(stderr, "bench-qmp: %s\n", err->message);
            exit(1);
        }
    }
    memset(cl, 0, sizeof(cl));
    for (int i = 0; i < nclients; i++) {
        cl[i].mode = mode;
        cl[i].stop = &stop;
        if (echo) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                die("socketpair");
            }
            s.conns[s.nconns++] = sv[0];
            cl[i].fd = sv[1];
        } else {
            cl[i].fd = connect_qmp();
        }
    }
    if (pthread_create(&s.thread, NULL, server_main, &s)) {
        die("pthread_create");
    }
    pin(s.thread, server_cpu);
    if (!echo) {
        for (int i = 0; i < nclients; i++) {
            read_line(cl[i].fd);                        /* greeting */
            send_all(cl[i].fd, "{\"execute\": \"qmp_capabilities\"}", -1);
            read_line(cl[i].fd);
        }
    }
    if (nclients == 1 && mode == M_QV) {
        cl[0].cap = 4u << 20;
        cl[0].lat = malloc(cl[0].cap * sizeof(double));
    }
    t0 = now_s();
    for (int i = 0; i < nclients; i++) {
        pthread_create(&cl[i].thread, NULL, client_main, &cl[i]);
        pin(cl[i].thread, client_cpu);
    }
    while (now_s() - t0 < seconds) {
        usleep(10000);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < nclients; i++) {
        pthread_join(cl[i].thread, NULL);
        total += cl[i].count;
    }
    t1 = now_s();
    r.rate = (double)total / (t1 - t0);
    if (cl[0].lat && cl[0].nlat) {
        qsort(cl[0].lat, cl[0].nlat, sizeof(double), cmp_double);
        r.p50_us = cl[0].lat[cl[0].nlat / 2] * 1e6;
        r.p99_us = cl[0].lat[cl[0].nlat * 99 / 100] * 1e6;
    }
    free(cl[0].lat);

    if (eventfd_write(s.stop, 1) < 0) {
        die("eventfd_write");
    }
    pthread_join(s.thread, NULL);
    for (int i = 0; i < nclients; i++) {
        close(cl[i].fd);
    }
    for (int i = 0; i < s.nconns; i++) {
        close(s.conns[i]);
    }
    qmp_server_free(s.qmp);
    close(s.stop);
    return r;
}

static void median_of(Result *runs_r, int runs, Result *out)
{
    double rate[64], p50[64], p99[64];

    for (int i = 0; i < runs; i++) {
        rate[i] = runs_r[i].rate;
        p50[i] = runs_r[i].p50_us;
        p99[i] = runs_r[i].p99_us;
    }
    qsort(rate, runs, sizeof(double), cmp_double);
    qsort(p50, runs, sizeof(double), cmp_double);
    qsort(p99, runs, sizeof(double), cmp_double);
    out->rate = rate[runs / 2];
    out->p50_us = p50[runs / 2];
    out->p99_us = p99[runs / 2];
}

/* Medians over @runs runs, baseline and QMP alternating so that the load
 * of a shared machine falls on both alike. */
static void measure(Mode mode, int nclients, double seconds, int runs, Result *ret_base,
                    Result *ret_qmp)
{
    Result b[64], q[64];

    for (int i = 0; i < runs; i++) {
        b[i] = run_once(true, mode, nclients, seconds);
        q[i] = run_once(false, mode, nclients, seconds);
    }
    median_of(b, runs, ret_base);
    median_of(q, runs, ret_qmp);
}

/* Learns the reply lengths from the real server. */
static void measure_reply_lengths(void)
{
    QmpServer *srv;
    int fd;
    Server s = { .echo = false };

    if (!qmp_server_new(NULL, &srv, NULL) || !qmp_server_listen_unix(srv, sock_path, NULL)) {
        exit(1);
    }
    s.qmp = srv;
    s.stop = eventfd(0, EFD_CLOEXEC);
    pthread_create(&s.thread, NULL, server_main, &s);
    fd = connect_qmp();
    read_line(fd);
    send_all(fd, "{\"execute\": \"qmp_capabilities\"}", -1);
    empty_reply_len = read_line(fd);
    send_all(fd, QV, -1);
    qv_reply_len = read_line(fd);
    eventfd_write(s.stop, 1);
    pthread_join(s.thread, NULL);
    close(fd);
    close(s.stop);
    qmp_server_free(srv);
}

static void report(double seconds, int runs, const char *where)
{
    Result b, q;

    measure(M_QV, 1, seconds, runs, &b, &q);
    printf("query-version, 1 client%s: %.0f round trips/s (baseline %.0f/s, ratio %.2f; "
           "%.1fx QEMU 7.2's %.0f/s)\n", where, q.rate, b.rate, q.rate / b.rate,
           q.rate / QEMU_ANCHOR_1, QEMU_ANCHOR_1);
    printf("query-version latency p50%s: %.1f us (baseline %.1f us, ratio %.2f)\n", where,
           q.p50_us, b.p50_us, q.p50_us / b.p50_us);
    printf("query-version latency p99%s: %.1f us (baseline %.1f us, ratio %.2f)\n", where,
           q.p99_us, b.p99_us, q.p99_us / b.p99_us);

    measure(M_QV, 16, seconds, runs, &b, &q);
    printf("query-version, 16 clients%s: %.0f round trips/s in total (baseline %.0f/s, "
           "ratio %.2f; %.1fx QEMU 7.2's %.0f/s)\n", where, q.rate, b.rate, q.rate / b.rate,
           q.rate / QEMU_ANCHOR_16, QEMU_ANCHOR_16);

    measure(M_QV_PIPELINED, 1, seconds, runs, &b, &q);
    printf("query-version, 1 client, 8 in flight%s: %.0f commands/s (baseline %.0f/s, "
           "ratio %.2f)\n", where, q.rate, b.rate, q.rate / b.rate);

    measure(M_FD_PAIR, 1, seconds, runs, &b, &q);
    printf("getfd+closefd with a passed fd, 1 client%s: %.0f pairs/s (baseline %.0f/s, "
           "ratio %.2f; %.1fx QEMU 7.2's %.0f/s)\n", where, q.rate, b.rate, q.rate / b.rate,
           q.rate / QEMU_ANCHOR_FD, QEMU_ANCHOR_FD);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    char *dir = g_dir_make_tmp("bench-qmp-XXXXXX", NULL);

    if (runs < 1 || runs > 64 || seconds <= 0 || !dir) {
        fprintf(stderr, "usage: %s [seconds-per-run] [runs 1-64]\n", argv[0]);
        return 2;
    }
    snprintf(sock_path, sizeof(sock_path), "%s/qmp.sock", dir);
    measure_reply_lengths();
    printf("# medians of %d runs of %.2f s, baseline and QMP alternating; baseline: raw echo\n"
           "# of the same bytes over the same sockets and threads\n", runs, seconds);

    /* Server on CPU 0, clients on CPU 1: every round trip crosses CPUs. */
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        server_cpu = 0;
        client_cpu = 1;
        report(seconds, runs, " (server CPU 0, clients CPU 1)");
    }
    /* All on CPU 0: a round trip is two context switches. */
    server_cpu = 0;
    client_cpu = 0;
    report(seconds, runs, " (all on CPU 0)");

    unlink(sock_path);
    rmdir(dir);
    g_free(dir);
    return 0;
}
