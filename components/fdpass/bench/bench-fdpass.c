/* SPDX-License-Identifier: MIT */
/*
 * Round trip cost of fdpass_send + fdpass_recv over a unix stream socketpair
 * with 0, 1 and 16 descriptors and a 64-byte payload, against a plain
 * send() + recv() of the same payload measured in the same run. The
 * receiver closes the descriptors it gets (part of every real use; without
 * it the process runs out of descriptors). Each figure is the median of
 * RUNS runs of ITERS messages.
 *
 * Usage: bench-fdpass [iterations per run]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdpass/fdpass.h"

#define RUNS 7
#define PAYLOAD 64

static int sv[2];
static int fds[FDPASS_MAX_FDS];
static char out[PAYLOAD], in[PAYLOAD];

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench-fdpass: %s failed\n", what);
    exit(1);
}

/* ns per message for plain send()/recv(). */
static double run_plain(long iters)
{
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        if (send(sv[0], out, PAYLOAD, 0) != PAYLOAD || recv(sv[1], in, PAYLOAD, 0) != PAYLOAD) {
            die("plain send/recv");
        }
    }
    return (now_ns() - t0) / (double)iters;
}

/* ns per message for fdpass with @nfds descriptors. */
static double run_fdpass(long iters, size_t nfds)
{
    int got[FDPASS_MAX_FDS];
    size_t n;
    double t0 = now_ns();

    for (long i = 0; i < iters; i++) {
        if (fdpass_send(sv[0], out, PAYLOAD, fds, nfds) != 0 ||
            fdpass_recv(sv[1], in, PAYLOAD, got, FDPASS_MAX_FDS, &n) != PAYLOAD || n != nfds) {
            die("fdpass send/recv");
        }
        fdpass_close_all(got, n);
    }
    return (now_ns() - t0) / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof(v[0]), cmp_double);
    return v[RUNS / 2];
}

int main(int argc, char **argv)
{
    static const size_t cases[] = { 0, 1, FDPASS_MAX_FDS };
    enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    double plain[RUNS], fd[NCASES][RUNS];

    if (iters <= 0) {
        fprintf(stderr, "usage: bench-fdpass [iterations per run]\n");
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        die("socketpair");
    }
    for (size_t i = 0; i < FDPASS_MAX_FDS; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) {
            die("open /dev/null");
        }
    }
    memset(out, 'b', sizeof(out));

    /* Warm up, then interleave the baseline and the cases in every run so
     * that machine noise hits them alike. */
    run_plain(iters / 10 + 1);
    run_fdpass(iters / 10 + 1, FDPASS_MAX_FDS);
    for (int r = 0; r < RUNS; r++) {
        plain[r] = run_plain(iters);
        for (size_t c = 0; c < NCASES; c++) {
            fd[c][r] = run_fdpass(iters, cases[c]);
        }
    }

    double base = median(plain);

    printf("plain send+recv %d B: %.0f ns/msg (baseline, median of %d runs x %ld)\n", PAYLOAD,
           base, RUNS, iters);
    for (size_t c = 0; c < NCASES; c++) {
        double m = median(fd[c]);

        printf("fdpass send+recv %d B + %2zu fds: %.0f ns/msg, %.2fx baseline\n", PAYLOAD,
               cases[c], m, m / base);
    }
    fdpass_close_all(fds, FDPASS_MAX_FDS);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
