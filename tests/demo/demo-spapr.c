/* SPDX-License-Identifier: MIT */
/*
 * Stage 3: an sPAPR (pseries) machine over the same guest RAM. The VMM
 * builds its device tree, then plays the guest's vCPUs: the console hcall,
 * and the hcalls Linux's XIVE driver makes at boot to route the interrupt
 * of a virtio-mmio device to vCPU 1. The interrupt is then triggered through
 * its ESB page (what an MSI write does), lands in the event queue in guest
 * RAM, raises vCPU 1's line, is acknowledged through the TIMA and EOI'd.
 * Guest loads and stores to the XIVE windows go through spapr_machine_mmio(),
 * as the VMM's MMIO exit handler would send them.
 */
#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"
#include "spapr/spapr.h"

#define VIRTIO_BASE 0x200000000ULL
#define PRIO 6u    /* the priority Linux uses */
#define TARGET 1u  /* vCPU the interrupt is routed to */
#define EISN 0x33u /* the number Linux gives it, returned in the queue */
#define QPAGE 0x400000ULL
#define QSHIFT 16u

typedef struct Demo {
    SpaprMachine *m;
    VMemMap *ram;
    char console[128];
    size_t console_len;
    int line_changes;
    bool line;
} Demo;

static void put_chars(void *opaque, const uint8_t *buf, size_t len)
{
    Demo *d = opaque;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || d->console_len == sizeof(d->console) - 1) {
            printf("console: %.*s\n", (int)d->console_len, d->console);
            d->console_len = 0;
        } else if (buf[i] != '\r') {
            d->console[d->console_len++] = (char)buf[i];
        }
    }
}

static void on_line(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    Demo *d = opaque;
    d->line_changes++;
    d->line = level;
    printf("vmm: vCPU %u %s line %s\n", vcpu,
           line == XIVE_LINE_OS ? "external interrupt" : "hypervisor interrupt",
           level ? "raised" : "lowered");
}

/* vCPU @vcpu executes "sc 1": r3 = opcode, r4.. = args; r4..r7 out. */
static int64_t hcall(Demo *d, uint32_t vcpu, uint64_t op, uint64_t a4, uint64_t a5, uint64_t a6,
                     uint64_t a7, uint64_t a8, uint64_t out[4])
{
    uint64_t regs[SPAPR_HCALL_NREGS] = { op, a4, a5, a6, a7, a8 };
    if (!spapr_hcall(d->m, vcpu, regs, NULL)) {
        return SPAPR_H_HARDWARE;
    }
    if (out) {
        memcpy(out, regs + 1, 4 * sizeof(uint64_t));
    }
    return (int64_t)regs[0];
}

/* A guest load or store of 1..8 bytes in a XIVE window. */
static uint64_t mmio(Demo *d, uint32_t vcpu, uint64_t gpa, unsigned size, uint64_t val,
                     bool write)
{
    if (!spapr_machine_mmio(d->m, vcpu, gpa, size, &val, write, NULL)) {
        return UINT64_MAX;
    }
    return val;
}

/* H_PUT_TERM_CHAR takes up to 16 bytes in r6, r7, big-endian. */
static int64_t guest_puts(Demo *d, const char *s)
{
    int64_t rc = SPAPR_H_SUCCESS;
    for (size_t n; rc == SPAPR_H_SUCCESS && (n = strnlen(s, 16)) > 0; s += n) {
        uint8_t b[16] = { 0 };
        memcpy(b, s, n);
        rc = hcall(d, 0, SPAPR_H_PUT_TERM_CHAR, SPAPR_VTY_REG, n, vmem_be64_to_cpu(b),
                   vmem_be64_to_cpu(b + 8), 0, NULL);
    }
    return rc;
}

static int show_fdt(SpaprMachine *m, uint32_t lisn)
{
    GError *err = NULL;
    GBytes *blob = spapr_machine_build_fdt(m, &err);
    if (!blob) {
        int rc = demo_fail("device tree: %s", err->message);
        g_error_free(err);
        return rc;
    }
    const void *fdt = g_bytes_get_data(blob, NULL);
    int cpus = 0, node, off = fdt_path_offset(fdt, "/cpus");
    fdt_for_each_subnode(node, fdt, off) {
        cpus++;
    }
    const char *model = fdt_getprop(fdt, 0, "model", NULL);
    const char *args = fdt_getprop(fdt, fdt_path_offset(fdt, "/chosen"), "bootargs", NULL);
    printf("vmm: device tree %u bytes: model \"%s\", %d cpus under /cpus, bootargs \"%s\"\n",
           fdt_totalsize(fdt), model ? model : "?", cpus, args ? args : "?");
    char path[64] = "?";
    int len = 0;
    off = fdt_node_offset_by_compatible(fdt, -1, "virtio,mmio");
    const fdt32_t *irq = off < 0 ? NULL : fdt_getprop(fdt, off, "interrupts", &len);
    if (off >= 0) {
        fdt_get_path(fdt, off, path, sizeof(path));
    }
    printf("vmm: %s: interrupts <0x%x %u>\n", path, irq && len == 8 ? fdt32_to_cpu(irq[0]) : 0,
           irq && len == 8 ? fdt32_to_cpu(irq[1]) : 0);
    bool ok = cpus == 2 && model && args && irq && len == 8 && fdt32_to_cpu(irq[0]) == lisn;
    g_bytes_unref(blob);
    return ok ? 0 : demo_fail("device tree: unexpected contents");
}

/* What arch/powerpc/sysdev/xive/spapr.c does for one interrupt at boot,
 * then one interrupt delivered and handled. */
static int xive_demo(Demo *d, uint32_t lisn)
{
    uint64_t o[4] = { 0 };
    int64_t rc = hcall(d, 0, SPAPR_H_INT_GET_SOURCE_INFO, 0, lisn, 0, 0, 0, o);
    uint64_t eoi_page = o[1], trig_page = o[2];
    printf("guest: H_INT_GET_SOURCE_INFO(0x%x) = %" PRId64 ": eoi page 0x%" PRIx64
           ", trigger page 0x%" PRIx64 ", 2^%" PRIu64 " bytes\n", lisn, rc, eoi_page, trig_page,
           o[3]);
    if (rc != SPAPR_H_SUCCESS || trig_page == UINT64_MAX) {
        return demo_fail("H_INT_GET_SOURCE_INFO: %" PRId64, rc);
    }
    rc = hcall(d, 0, SPAPR_H_INT_GET_QUEUE_INFO, 0, TARGET, PRIO, 0, 0, o);
    int64_t rc2 = hcall(d, 0, SPAPR_H_INT_SET_QUEUE_CONFIG, SPAPR_XIVE_END_ALWAYS_NOTIFY, TARGET,
                        PRIO, QPAGE, QSHIFT, NULL);
    int64_t rc3 = hcall(d, 0, SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_XIVE_SRC_SET_EISN, lisn,
                        TARGET, PRIO, EISN, NULL);
    printf("guest: queue of vCPU %u prio %u at 0x%llx (64 KiB), source 0x%x routed there "
           "with EISN 0x%x: rc %" PRId64 " %" PRId64 " %" PRId64 "\n", TARGET, PRIO, QPAGE, lisn,
           EISN, rc, rc2, rc3);
    /* unmask (ESB PQ=00), then vCPU 1 accepts every priority (CPPR 0xff) */
    uint64_t old_pq = mmio(d, 0, eoi_page + XIVE_ESB_SET_PQ_00, 8, 0, false);
    uint64_t tima_os = spapr_machine_tima_base(d->m) + XIVE_TM_OS_PAGE * XIVE_TM_PAGE_SIZE;
    mmio(d, TARGET, tima_os + XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, 0xff, true);
    if (rc || rc2 || rc3 || old_pq != XIVE_ESB_OFF || d->line_changes) {
        return demo_fail("XIVE setup: PQ was %" PRIu64 ", %d line changes", old_pq,
                         d->line_changes);
    }

    /* The device's interrupt: a store to the trigger page. */
    printf("vmm: virtio-mmio interrupt: store to the trigger page 0x%" PRIx64 "\n", trig_page);
    mmio(d, 0, trig_page, 8, 0, true);
    uint32_t entry = 0;
    vmem_read_be32(d->ram, QPAGE, &entry);
    printf("guest: event queue entry 0x%08x: generation 1, EISN 0x%x\n", entry,
           entry & 0x7fffffffu);
    /* vCPU 1 takes the exception: ACK, EOI the source, restore CPPR. */
    printf("guest: vCPU %u takes the exception, ACKs it (TIMA load at 0x%x)\n", TARGET,
           XIVE_TM_SPC_ACK_OS_REG);
    uint64_t ack = mmio(d, TARGET, tima_os + XIVE_TM_SPC_ACK_OS_REG, 2, 0, false);
    uint64_t eoi = mmio(d, TARGET, eoi_page + XIVE_ESB_LOAD_EOI, 8, 0, false);
    uint64_t pq = mmio(d, TARGET, eoi_page + XIVE_ESB_GET, 8, 0, false);
    mmio(d, TARGET, tima_os + XIVE_TM_QW1_OS + XIVE_TM_CPPR, 1, 0xff, true);
    printf("guest: ACK = 0x%04" PRIx64 " (OS exception, priority %" PRIu64 "), EOI (ESB load) = "
           "%" PRIu64 ", PQ now %" PRIu64 ", CPPR back to 0xff\n", ack, ack & 0xff, eoi, pq);
    if (entry != (0x80000000u | EISN) || ack != (0x8000u | PRIO) || eoi != 0 ||
        pq != XIVE_ESB_RESET || d->line_changes != 2 || d->line) {
        return demo_fail("XIVE delivery: entry 0x%08x ack 0x%" PRIx64 " eoi %" PRIu64 " pq %" PRIu64
                         ", %d line changes, line %d (want 0x%08x 0x%x 0 0, 2, 0)", entry, ack,
                         eoi, pq, d->line_changes, d->line, 0x80000000u | EISN, 0x8000u | PRIO);
    }
    return 0;
}

int demo_spapr(VMemMap *ram)
{
    printf("== 3. spapr + xive: a pseries machine on that RAM, its device tree, an interrupt\n");
    Demo d = { .ram = ram };
    GError *err = NULL;
    SpaprMachineConfig cfg = { .ram_size = DEMO_RAM_SIZE, .nr_vcpus = 2, .mem = ram,
                               .bootargs = "console=hvc0", .opaque = &d,
                               .callbacks.put_chars = put_chars };
    SpaprVirtioMmio dev = { .base = VIRTIO_BASE, .size = 0x200, .msi = true };
    uint32_t lisn = 0;
    int rc = 0;
    d.m = spapr_machine_new(&cfg, &err);
    if (!d.m || !spapr_machine_add_virtio_mmio(d.m, &dev, &lisn, &err)) {
        rc = demo_fail("machine: %s", err->message);
        g_error_free(err);
        spapr_machine_free(d.m);
        return rc;
    }
    printf("vmm: %" PRIu64 " MiB RAM, 2 vCPUs, RTAS at 0x%" PRIx64 ", ESB window 0x%" PRIx64
           ", TIMA 0x%" PRIx64 "\n", DEMO_RAM_SIZE >> 20, spapr_machine_rtas_base(d.m),
           spapr_machine_esb_base(d.m), spapr_machine_tima_base(d.m));
    rc = show_fdt(d.m, lisn);
    if (rc == 0 && guest_puts(&d, "Linux/ppc64 booting, console hvc0\n") != SPAPR_H_SUCCESS) {
        rc = demo_fail("H_PUT_TERM_CHAR failed");
    }
    if (rc == 0) {
        /* A kernel booted from this device tree without CAS: select XIVE. */
        spapr_machine_select_xive(d.m, NULL);
        xive_set_line_handler(spapr_machine_xive(d.m), on_line, &d);
        rc = xive_demo(&d, lisn);
    }
    spapr_machine_free(d.m);
    return rc;
}
