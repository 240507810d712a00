/* SPDX-License-Identifier: MIT */
/*
 * Event throughput of the model, single thread: each event is what a guest
 * and a device do for one MSI on sPAPR:
 *   trigger-page store -> EAS -> END enqueue (guest memory) -> presenter
 *   (line raised) -> TIMA ACK_OS_REG load -> ESB EOI load -> CPPR store 0xff
 * Baseline, measured in the same run: a loop that only writes the same queue
 * entries (same addresses, same values) the way the model does: translate
 * through vm-memory, one 32-bit big-endian store, dirty logging checked.
 * Each figure is the median of RUNS runs. Prints one figure per line.
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
 * processes on a shared machine do not count; wall-clock figures follow.
 * Optional argument: events per run (default 4 Mi), e.g. small for valgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xive/xive.h"

#define RUNS 7
#define RAM_BASE UINT64_C(0x10000000)
#define RAM_SIZE (UINT64_C(1) << 20)
#define QSHIFT 16u /* 64 KiB queue: what Linux asks QEMU for */
#define PRIO 5u
#define LISN 0x20u

static unsigned raised;
static unsigned EVENTS = 4u << 20;

static void on_line(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    (void)opaque;
    (void)vcpu;
    (void)line;
    raised += level;
}

/* Thread CPU time and wall time, in seconds. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct Rate {
    double cpu;  /* items per CPU second */
    double wall; /* items per wall-clock second */
} Rate;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return v[n / 2];
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench-xive: %s failed: %d\n", what, rc);
    exit(1);
}

/* One run of EVENTS full events. */
static Rate run_events(Xive *x, uint64_t trig, uint64_t mgmt)
{
    uint64_t v;
    unsigned before = raised;
    double c0 = cpu_now(), w0 = wall_now();
    for (unsigned i = 0; i < EVENTS; i++) {
        v = 0;
        xive_esb_mmio(x, trig, 8, &v, true);
        xive_tima_mmio(x, 0, XIVE_TM_OS_PAGE, XIVE_TM_SPC_ACK_OS_REG, 2, &v, false);
        xive_esb_mmio(x, mgmt, 8, &v, false);
        v = 0xff;
        xive_tima_mmio(x, 0, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, &v, true);
    }
    Rate r = { EVENTS / (cpu_now() - c0), EVENTS / (wall_now() - w0) };
    if (raised - before != EVENTS) {
        fprintf(stderr, "bench-xive: %u interrupts for %u events\n", raised - before, EVENTS);
        exit(1);
    }
    return r;
}

/* The same queue writes, and nothing else. */
static Rate run_baseline(VMemMap *mem, uint64_t qpage, uint32_t *index, uint32_t *gen)
{
    const uint32_t mask = (1u << (QSHIFT - 2)) - 1;
    double c0 = cpu_now(), w0 = wall_now();
    for (unsigned i = 0; i < EVENTS; i++) {
        uint64_t gpa = qpage + 4 * (uint64_t)*index;
        uint32_t *host = vmem_translate_ptr(mem, gpa, 4);
        uint32_t be;
        vmem_cpu_to_be32(&be, (*gen << 31) | LISN);
        __atomic_store_n(host, be, __ATOMIC_RELEASE);
        if (vmem_dirty_log_enabled(mem)) {
            vmem_mark_dirty(mem, gpa, 4);
        }
        *index = (*index + 1) & mask;
        *gen ^= *index == 0;
    }
    return (Rate){ EVENTS / (cpu_now() - c0), EVENTS / (wall_now() - w0) };
}

int main(int argc, char **argv)
{
    VMemMap *mem;
    Xive *x;
    int rc;

    if (argc > 1 && (EVENTS = (unsigned)strtoul(argv[1], NULL, 0)) == 0) {
        fprintf(stderr, "usage: %s [events per run]\n", argv[0]);
        return 2;
    }

    if ((rc = vmem_map_new(&mem)) < 0 || (rc = vmem_map_add_anon(mem, RAM_BASE, RAM_SIZE)) < 0) {
        die("guest memory", rc);
    }
    XiveConfig cfg = { .nr_vcpus = 2, .nr_irqs = 0x2000, .mem = mem };
    if ((rc = xive_new(&cfg, &x)) < 0) {
        die("xive_new", rc);
    }
    xive_set_line_handler(x, on_line, NULL);

    /* What Linux does through the hcalls: queue, route, unmask, CPPR. */
    const uint64_t qpage = RAM_BASE;
    if ((rc = xive_queue_configure(x, 0, PRIO, qpage, QSHIFT, XIVE_QUEUE_ALWAYS_NOTIFY)) < 0 ||
        (rc = xive_irq_claim(x, LISN, false)) < 0 ||
        (rc = xive_eas_set(x, LISN, xive_eas_build(true, false, 0, xive_end_index(0, PRIO),
                                                   LISN))) < 0 ||
        (rc = xive_source_set_pq(x, LISN, XIVE_ESB_RESET, NULL)) < 0) {
        die("configuration", rc);
    }
    uint64_t v = 0xff;
    xive_tima_mmio(x, 0, XIVE_TM_OS_PAGE, XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, &v, true);
    XiveSourceInfo info;
    xive_source_info(x, LISN, &info);

    double ev[RUNS], base[RUNS], ratio[RUNS], ev_wall[RUNS], ratio_wall[RUNS];
    uint32_t bindex = 0, bgen = 1;
    for (unsigned r = 0; r < RUNS; r++) {
        Rate e = run_events(x, info.trigger_offset, info.mgmt_offset);
        Rate b = run_baseline(mem, qpage, &bindex, &bgen);
        ev[r] = e.cpu;
        base[r] = b.cpu;
        ratio[r] = e.cpu / b.cpu;
        ev_wall[r] = e.wall;
        ratio_wall[r] = e.wall / b.wall;
    }

    /* Both loops must have left the queue in the same place. */
    XiveQueueState qs;
    xive_queue_state(x, 0, PRIO, &qs);
    if (qs.index != bindex || qs.generation != bgen || xive_guest_error_count(x) != 0) {
        fprintf(stderr, "bench-xive: queue state differs (index %u/%u gen %u/%u)\n", qs.index,
                bindex, qs.generation, bgen);
        return 1;
    }

    double e = median(ev, RUNS), b = median(base, RUNS);
    printf("xive full event (trigger, enqueue, present, ACK, EOI, CPPR): %.2f M events/s\n",
           e / 1e6);
    printf("xive full event: %.1f ns/event\n", 1e9 / e);
    printf("baseline queue write only: %.2f M writes/s\n", b / 1e6);
    printf("ratio event/baseline: %.3f\n", median(ratio, RUNS));
    printf("xive full event, wall clock: %.2f M events/s\n", median(ev_wall, RUNS) / 1e6);
    printf("ratio event/baseline, wall clock: %.3f\n", median(ratio_wall, RUNS));

    xive_free(x);
    vmem_map_free(mem);
    return 0;
}
