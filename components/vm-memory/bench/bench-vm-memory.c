/* SPDX-License-Identifier: MIT */
/*
 * Benchmark: cost of a guest access through vm-memory compared with a plain
 * memcpy() of the same size from the same host addresses, measured in the
 * same run.
 *
 * For maps of 1, 8 and 64 regions (16 MiB of guest RAM in all, regions
 * separated by gaps), a fixed list of random guest addresses spread over all
 * regions is read in order, again and again: vmem_read() of 8 bytes,
 * vmem_read_le64(), vmem_read() of 4 KiB, vmem_translate_ptr() alone; the
 * baseline is memcpy() from the precomputed host addresses. A "same region"
 * line shows the path where the last-hit hint answers. Each figure is the
 * median of RUNS runs; the baseline of each run is timed right after it.
 *
 * Usage: bench-vm-memory [RUNS]   (default 7; use a release build)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm-memory/vm-memory.h"

#define TOTAL (UINT64_C(16) << 20)
#define NADDR 4096
#define OPS_SMALL (UINT64_C(1) << 21)
#define OPS_PAGE (UINT64_C(1) << 15)
#define MAX_RUNS 51

static volatile uint64_t sink;
/* Read through a volatile so that the compiler cannot specialise memcpy()
 * for a constant size: both sides call the library memcpy. */
static volatile size_t size_8 = 8, size_4k = 4096;

static uint64_t gpas[NADDR];
static uint8_t *hosts[NADDR];
static uint8_t dst[4096];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

/* Builds a map of @n regions of TOTAL / n bytes, each followed by a gap of
 * the same size, and touches every page. */
static VMemMap *build_map(unsigned n)
{
    VMemMap *m;
    if (vmem_map_new(&m) < 0) {
        exit(1);
    }
    uint64_t size = TOTAL / n;
    for (unsigned i = 0; i < n; i++) {
        uint64_t gpa = UINT64_C(0x100000000) + 2 * i * size;
        int rc = i % 2 ? vmem_map_add_anon(m, gpa, size)
                       : vmem_map_add_memfd(m, gpa, size, "bench", 0);
        if (rc < 0 || vmem_fill(m, gpa, (uint8_t)i, (size_t)size) < 0) {
            fprintf(stderr, "cannot build the map: %d\n", rc);
            exit(1);
        }
    }
    return m;
}

/* Fills the address list: random regions (or region 0 only), random offsets
 * aligned to @align with room for @len bytes. */
static void pick_addresses(VMemMap *m, unsigned nreg, bool one_region, uint64_t len,
                           uint64_t align)
{
    uint64_t size = TOTAL / nreg;
    for (unsigned i = 0; i < NADDR; i++) {
        unsigned r = one_region ? 0 : (unsigned)(rnd() % nreg);
        uint64_t off = rnd() % (size - len + 1) / align * align;
        gpas[i] = UINT64_C(0x100000000) + 2 * r * size + off;
        hosts[i] = vmem_translate_ptr(m, gpas[i], len);
        if (!hosts[i]) {
            fprintf(stderr, "bad address\n");
            exit(1);
        }
    }
}

enum kind { K_READ, K_READ_LE64, K_TRANSLATE, K_MEMCPY };

/* Runs @ops operations of @kind over the address list; returns ns per op. */
static double run(VMemMap *m, enum kind kind, size_t len, uint64_t ops)
{
    uint64_t acc = 0;
    double t0 = now_ns();
    for (uint64_t k = 0; k < ops; k++) {
        unsigned i = (unsigned)(k % NADDR);
        switch (kind) {
        case K_READ:
            acc += (uint64_t)vmem_read(m, gpas[i], dst, len);
            acc += dst[0];
            break;
        case K_READ_LE64: {
            uint64_t v;
            acc += (uint64_t)vmem_read_le64(m, gpas[i], &v);
            acc += v;
            break;
        }
        case K_TRANSLATE:
            acc += (uintptr_t)vmem_translate_ptr(m, gpas[i], len);
            break;
        case K_MEMCPY:
            memcpy(dst, hosts[i], len);
            acc += dst[0];
            break;
        }
    }
    double t = now_ns() - t0;
    sink += acc;
    return t / (double)ops;
}

static void report(const char *layout, const char *what, enum kind kind, VMemMap *m,
                   size_t len, uint64_t ops, int runs)
{
    double v[MAX_RUNS], b[MAX_RUNS], r[MAX_RUNS];
    run(m, kind, len, ops / 8); /* warm up caches and the hint */
    run(m, K_MEMCPY, len, ops / 8);
    for (int i = 0; i < runs; i++) {
        v[i] = run(m, kind, len, ops);
        b[i] = run(m, K_MEMCPY, len, ops);
        r[i] = v[i] / b[i];
    }
    double mv = median(v, runs), mb = median(b, runs), mr = median(r, runs);
    printf("%-22s %-26s %8.2f ns/op  %5.2fx memcpy %zu B (%.2f ns/op)\n", layout, what,
           mv, mr, len, mb);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [RUNS (1..%d)]\n", argv[0], MAX_RUNS);
        return 2;
    }
    printf("# vm-memory %d.%d.%d, median of %d runs, %d random addresses, %llu MiB\n",
           VMEM_VERSION_MAJOR, VMEM_VERSION_MINOR, VMEM_VERSION_MICRO, runs, NADDR,
           (unsigned long long)(TOTAL >> 20));
    static const unsigned layouts[] = { 1, 8, 64 };
    size_t s8 = size_8, s4k = size_4k;
    for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
        unsigned n = layouts[l];
        VMemMap *m = build_map(n);
        char name[40];
        snprintf(name, sizeof(name), "regions=%u random", n);
        pick_addresses(m, n, false, 8, 8);
        report(name, "vmem_read 8 B", K_READ, m, s8, OPS_SMALL, runs);
        report(name, "vmem_read_le64", K_READ_LE64, m, s8, OPS_SMALL, runs);
        report(name, "vmem_translate_ptr 8 B", K_TRANSLATE, m, s8, OPS_SMALL, runs);
        pick_addresses(m, n, false, 4096, 64);
        report(name, "vmem_read 4 KiB", K_READ, m, s4k, OPS_PAGE, runs);
        if (n > 1) {
            snprintf(name, sizeof(name), "regions=%u same-region", n);
            pick_addresses(m, n, true, 8, 8);
            report(name, "vmem_read 8 B", K_READ, m, s8, OPS_SMALL, runs);
        }
        vmem_map_free(m);
    }
    return 0;
}
