/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of the sPAPR machine, each the median of 7 runs next to a
 * baseline measured in the same run:
 *   - hcall dispatch (H_INT_GET_SOURCE_INFO) vs calling xive directly;
 *   - H_RTAS get-time-of-day vs the guest-memory traffic of the same call;
 *   - H_PUT_TERM_CHAR of 16 bytes vs the console callback alone;
 *   - device tree builds for 4 and 256 vCPUs vs a 1-vCPU machine.
 * Run a release build (-Dbuildtype=release); figures are not checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spapr/spapr.h"

#define RUNS 7
#define RAM (UINT64_C(64) << 20)

static volatile uint64_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef void (*BenchFn)(void *ctx, long iters);

/* Median rate (operations per second) of @fn over RUNS runs. */
static double rate(BenchFn fn, void *ctx, long iters)
{
    double r[RUNS];
    fn(ctx, iters / 10); /* warm up */
    for (int i = 0; i < RUNS; i++) {
        double t0 = now();
        fn(ctx, iters);
        r[i] = (double)iters / (now() - t0);
    }
    qsort(r, RUNS, sizeof(r[0]), cmp_double);
    return r[RUNS / 2];
}

static void report(const char *what, const char *unit, double v, double base, const char *bname)
{
    printf("%-34s %12.0f %s/s  (%.2fx of %s)\n", what, v, unit, v / base, bname);
}

static void on_put(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    uint64_t s = 0;
    for (size_t i = 0; i < len; i++) {
        s += buf[i];
    }
    sink += s;
}

static SpaprMachine *machine(VMemMap *mem, uint32_t vcpus)
{
    GError *err = NULL;
    SpaprMachineConfig cfg = {
        .ram_size = RAM,
        .nr_vcpus = vcpus,
        .mem = mem,
        .bootargs = "console=hvc0 root=/dev/vda",
        .callbacks = { .put_chars = on_put },
    };
    SpaprMachine *m = spapr_machine_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "spapr_machine_new: %s\n", err->message);
        exit(1);
    }
    return m;
}

/* ------------------------------------------------------------------------ */

static void b_source_info_hcall(void *ctx, long n)
{
    SpaprMachine *m = ctx;
    for (long i = 0; i < n; i++) {
        uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_H_INT_GET_SOURCE_INFO, 0, (uint64_t)(i & 3) };
        spapr_hcall(m, 0, regs, NULL);
        sink += regs[1];
    }
}

static void b_source_info_direct(void *ctx, long n)
{
    Xive *x = spapr_machine_xive(ctx);
    for (long i = 0; i < n; i++) {
        uint64_t eas;
        XiveSourceInfo info;
        xive_eas_get(x, (uint32_t)(i & 3), &eas);
        xive_source_info(x, (uint32_t)(i & 3), &info);
        sink += info.mgmt_offset + eas;
    }
}

static void b_rtas_time(void *ctx, long n)
{
    SpaprMachine *m = ctx;
    for (long i = 0; i < n; i++) {
        uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, 0x1000 };
        spapr_hcall(m, 0, regs, NULL);
        sink += regs[0];
    }
}

static void b_rtas_memory(void *ctx, long n)
{
    VMemMap *mem = ctx;
    for (long i = 0; i < n; i++) {
        uint8_t hdr[12];
        vmem_read(mem, 0x1000, hdr, sizeof(hdr));
        for (uint32_t k = 0; k < 8; k++) {
            vmem_write_be32(mem, 0x100c + 4 * k, k + (uint32_t)i);
        }
        sink += hdr[3];
    }
}

static void b_put_term(void *ctx, long n)
{
    SpaprMachine *m = ctx;
    for (long i = 0; i < n; i++) {
        uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_H_PUT_TERM_CHAR, SPAPR_VTY_REG, 16,
                                             0x3031323334353637, 0x3839616263646566 };
        spapr_hcall(m, 0, regs, NULL);
    }
}

static void (*volatile put_fn)(void *, const uint8_t *, size_t) = on_put;

static void b_put_direct(void *ctx, long n)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        uint8_t buf[16];
        vmem_cpu_to_be64(buf, 0x3031323334353637);
        vmem_cpu_to_be64(buf + 8, 0x3839616263646566);
        put_fn(NULL, buf, sizeof(buf)); /* as the machine calls it: through a pointer */
    }
}

static void b_fdt(void *ctx, long n)
{
    for (long i = 0; i < n; i++) {
        GBytes *b = spapr_machine_build_fdt(ctx, NULL);
        sink += g_bytes_get_size(b);
        g_bytes_unref(b);
    }
}

int main(void)
{
    VMemMap *mem;
    if (vmem_map_new(&mem) < 0 || vmem_map_add_anon(mem, 0, RAM) < 0) {
        fprintf(stderr, "guest memory\n");
        return 1;
    }
    SpaprMachine *m = machine(mem, 4);
    spapr_machine_select_xive(m, NULL);
    vmem_write_be32(mem, 0x1000, SPAPR_RTAS_GET_TIME_OF_DAY);
    vmem_write_be32(mem, 0x1004, 0);
    vmem_write_be32(mem, 0x1008, 8);

    double hc = rate(b_source_info_hcall, m, 2000000);
    double hd = rate(b_source_info_direct, m, 2000000);
    report("hcall H_INT_GET_SOURCE_INFO", "calls", hc, hd, "xive direct");
    double rt = rate(b_rtas_time, m, 500000);
    double rm = rate(b_rtas_memory, mem, 500000);
    report("H_RTAS get-time-of-day", "calls", rt, rm, "its memory traffic");
    double pt = rate(b_put_term, m, 2000000);
    double pd = rate(b_put_direct, NULL, 2000000);
    report("H_PUT_TERM_CHAR 16 bytes", "calls", pt, pd, "the callback alone");

    SpaprMachine *m1 = machine(mem, 1), *m256 = machine(mem, 256);
    double f1 = rate(b_fdt, m1, 2000);
    double f4 = rate(b_fdt, m, 2000);
    double f256 = rate(b_fdt, m256, 50);
    report("device tree build, 4 vCPUs", "trees", f4, f1, "1 vCPU");
    report("device tree build, 256 vCPUs", "trees", f256, f1, "1 vCPU");

    spapr_machine_free(m256);
    spapr_machine_free(m1);
    spapr_machine_free(m);
    vmem_map_free(mem);
    return 0;
}
