/* SPDX-License-Identifier: MIT */
/* The flattened device tree, built from scratch with libfdt's sequential
 * writer each time it is asked for (so it always reflects the devices added
 * and the last CAS). Node and property choices follow QEMU's pseries machine
 * (hw/ppc/spapr.c, spapr_vio.c, spapr_xive.c). */
#include "spapr-internal.h"

#include <inttypes.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#define FDT_MAX_SIZE (64u << 20)
#define CACHE_LINE 128u
#define L1_CACHE_SIZE 0x8000u
#define SLB_SIZE 32u

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) {                                                                             \
            return rc_;                                                                            \
        }                                                                                          \
    } while (0)

/* ibm,pa-features of an ISA 3.00 CPU (QEMU's table for POWER9): a 2-byte
 * header (length, 0) then one byte per attribute group. */
static const uint8_t pa_features_300[] = {
    66, 0,
    0xf6, 0x1f, 0xc7, 0xc0, 0x80, 0xf0, /* 0-5: MMU FPU SLB RUN DABR NX, ..., LE CFAR EB LSQ */
    0x80, 0x00, 0x00, 0x00, 0x00, 0x00, /* 6: DS207 */
    0x00, 0x00, 0x00, 0x00, 0x80, 0x00, /* 16: vector */
    0x80, 0x00, 0x80, 0x00, 0x00, 0x00, /* 18: VSX, 20: vector XOR, 22: HTM (off) */
    0x80, 0x00, 0x80, 0x00, 0x80, 0x00, /* 24: large dec, 26: 64-bit, 28: PM */
    0x80, 0x00, 0x80, 0x00, 0xc0, 0x00, /* 30: MMR, 32: LE atomics, 34: EBB */
    0x80, 0x00, 0x80, 0x00, 0x80, 0x00, /* 36: SPR SO, 38: copy/paste, 40: radix */
    0x80, 0x00, 0x80, 0x00, 0x80, 0x00, /* 42: PM, 44: PC RA, 46: SC vectored */
    0x80, 0x00, 0x80, 0x00, 0x80, 0x00, /* 48: SIMD, 50: QP BFP, 52: string */
    0x80, 0x00, 0x80, 0x00, 0x80, 0x00, /* 54: DFP, 56: DecI, 58: SHA */
    0x80, 0x00, 0x80, 0x00, 0x00, 0x00, /* 60: NM atomics, 62: RNG */
};

/* POWER9 radix page sizes: AP encoding in the top 3 bits, shift below. */
static const uint32_t radix_ap_encodings[] = { 0x0000000c, 0xa0000010, 0x20000015, 0x4000001e };

/* Bytes 23-26 of option vector 5 the guest may ask for: XIVE exploitation
 * only; hash or radix MMU with dynamic switching; hash without segment
 * tables or GTSE; radix with GTSE. */
static const uint8_t ov5_platform_support[] = { 23, SPAPR_OV5_XIVE_EXPLOIT, 24, 0xc0, 25, 0x00,
                                                26, 0x40 };

static const char hypertas[] = "hcall-term\0hcall-set-mode";

static int prop_cells(void *fdt, const char *name, const uint32_t *cells, size_t n)
{
    uint32_t be[8];
    g_assert(n <= G_N_ELEMENTS(be));
    for (size_t i = 0; i < n; i++) {
        vmem_cpu_to_be32(&be[i], cells[i]);
    }
    return fdt_property(fdt, name, be, (int)(n * sizeof(be[0])));
}

static int prop_u64s(void *fdt, const char *name, const uint64_t *vals, size_t n)
{
    uint64_t be[4];
    g_assert(n <= G_N_ELEMENTS(be));
    for (size_t i = 0; i < n; i++) {
        vmem_cpu_to_be64(&be[i], vals[i]);
    }
    return fdt_property(fdt, name, be, (int)(n * sizeof(be[0])));
}

/* A 32-bit cell when the value fits, else 64 bits (Linux reads both). */
static int prop_addr(void *fdt, const char *name, uint64_t v)
{
    return v <= UINT32_MAX ? fdt_property_u32(fdt, name, (uint32_t)v)
                           : fdt_property_u64(fdt, name, v);
}

static unsigned hpt_shift_for_ram(uint64_t ram)
{
    unsigned shift = 0;
    while (shift < 63 && (UINT64_C(1) << shift) < ram) {
        shift++;
    }
    /* A hash table of 1/128 of RAM, within the architected 2^18 .. 2^46. */
    shift = shift > 7 ? shift - 7 : 0;
    return CLAMP(shift, 18u, 46u);
}

static int dt_chosen(SpaprMachine *m, void *fdt)
{
    uint8_t vec5[SPAPR_OV_MAX_BYTES + 1];

    TRY(fdt_begin_node(fdt, "chosen"));
    if (m->bootargs && m->bootargs[0]) {
        TRY(fdt_property_string(fdt, "bootargs", m->bootargs));
    }
    if (m->initrd_size) {
        TRY(prop_addr(fdt, "linux,initrd-start", m->initrd_start));
        TRY(prop_addr(fdt, "linux,initrd-end", m->initrd_start + m->initrd_size));
    }
    if (m->console) {
        char *path = g_strdup_printf("/vdevice/vty@%x", SPAPR_VTY_REG);
        int rc = fdt_property_string(fdt, "linux,stdout-path", path);
        if (rc >= 0) {
            rc = fdt_property_string(fdt, "stdout-path", path);
        }
        g_free(path);
        TRY(rc);
    }
    TRY(fdt_property(fdt, "ibm,arch-vec-5-platform-support", ov5_platform_support,
                     sizeof(ov5_platform_support)));
    size_t len = spapr_ov5_encode(m->ov5_cas, vec5);
    TRY(fdt_property(fdt, "ibm,architecture-vec-5", vec5, (int)len));
    return fdt_end_node(fdt);
}

static int dt_cpu(SpaprMachine *m, void *fdt, uint32_t id)
{
    char name[32];
    const uint32_t segs[] = { 28, 40, 0xffffffff, 0xffffffff };
    const uint32_t pft[] = { 0, hpt_shift_for_ram(m->ram_size) };
    const uint32_t gservers[] = { id, 0 };

    snprintf(name, sizeof(name), "PowerPC,POWER9@%" PRIx32, id);
    TRY(fdt_begin_node(fdt, name));
    TRY(fdt_property_u32(fdt, "reg", id));
    TRY(fdt_property_string(fdt, "device_type", "cpu"));
    TRY(fdt_property_u32(fdt, "cpu-version", m->compat_pvr ? m->compat_pvr : m->cpu_pvr));
    TRY(fdt_property_u32(fdt, "d-cache-block-size", CACHE_LINE));
    TRY(fdt_property_u32(fdt, "d-cache-line-size", CACHE_LINE));
    TRY(fdt_property_u32(fdt, "i-cache-block-size", CACHE_LINE));
    TRY(fdt_property_u32(fdt, "i-cache-line-size", CACHE_LINE));
    TRY(fdt_property_u32(fdt, "d-cache-size", L1_CACHE_SIZE));
    TRY(fdt_property_u32(fdt, "i-cache-size", L1_CACHE_SIZE));
    TRY(fdt_property_u32(fdt, "timebase-frequency", SPAPR_TIMEBASE_FREQ));
    TRY(fdt_property_u32(fdt, "clock-frequency", SPAPR_CLOCK_FREQ));
    TRY(fdt_property_u32(fdt, "slb-size", SLB_SIZE));
    TRY(fdt_property_u32(fdt, "ibm,slb-size", SLB_SIZE));
    TRY(fdt_property_string(fdt, "status", "okay"));
    TRY(fdt_property(fdt, "64-bit", NULL, 0));
    TRY(fdt_property_u32(fdt, "ibm,purr", 1));
    TRY(fdt_property_u32(fdt, "ibm,spurr", 1));
    TRY(prop_cells(fdt, "ibm,processor-segment-sizes", segs, G_N_ELEMENTS(segs)));
    TRY(fdt_property_u32(fdt, "ibm,vmx", 2)); /* VMX and VSX */
    TRY(fdt_property_u32(fdt, "ibm,dfp", 1));
    TRY(fdt_property(fdt, "ibm,pa-features", pa_features_300, sizeof(pa_features_300)));
    TRY(fdt_property_u32(fdt, "ibm,chip-id", 0));
    TRY(prop_cells(fdt, "ibm,pft-size", pft, G_N_ELEMENTS(pft)));
    TRY(fdt_property_u32(fdt, "ibm,ppc-interrupt-server#s", id));
    TRY(prop_cells(fdt, "ibm,ppc-interrupt-gserver#s", gservers, G_N_ELEMENTS(gservers)));
    TRY(prop_cells(fdt, "ibm,processor-radix-AP-encodings", radix_ap_encodings,
                   G_N_ELEMENTS(radix_ap_encodings)));
    return fdt_end_node(fdt);
}

static int dt_cpus(SpaprMachine *m, void *fdt)
{
    TRY(fdt_begin_node(fdt, "cpus"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    for (uint32_t i = 0; i < m->nr_vcpus; i++) {
        TRY(dt_cpu(m, fdt, i));
    }
    return fdt_end_node(fdt);
}

static int dt_memory(SpaprMachine *m, void *fdt)
{
    const uint64_t reg[] = { 0, m->ram_size };

    TRY(fdt_begin_node(fdt, "memory@0"));
    TRY(fdt_property_string(fdt, "device_type", "memory"));
    TRY(prop_u64s(fdt, "reg", reg, G_N_ELEMENTS(reg)));
    return fdt_end_node(fdt);
}

static int dt_rtas(SpaprMachine *m, void *fdt)
{
    size_t n;
    const SpaprRtasName *names = spapr_rtas_names(&n);

    TRY(fdt_begin_node(fdt, "rtas"));
    TRY(fdt_property(fdt, "ibm,hypertas-functions", hypertas, sizeof(hypertas)));
    TRY(fdt_property_u32(fdt, "rtas-size", SPAPR_RTAS_AREA_SIZE));
    TRY(fdt_property_u32(fdt, "linux,rtas-base", (uint32_t)m->rtas_base));
    TRY(fdt_property_u32(fdt, "linux,rtas-entry", (uint32_t)m->rtas_base));
    for (size_t i = 0; i < n; i++) {
        TRY(fdt_property_u32(fdt, names[i].name, names[i].token));
    }
    return fdt_end_node(fdt);
}

static int dt_vdevice(SpaprMachine *m, void *fdt)
{
    char name[32];
    const uint32_t irq[] = { SPAPR_IRQ_VIO, 0 /* MSI */ };

    TRY(fdt_begin_node(fdt, "vdevice"));
    TRY(fdt_property_string(fdt, "device_type", "vdevice"));
    TRY(fdt_property_string(fdt, "compatible", "IBM,vdevice"));
    TRY(fdt_property_u32(fdt, "#address-cells", 1));
    TRY(fdt_property_u32(fdt, "#size-cells", 0));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    if (m->console) {
        snprintf(name, sizeof(name), "vty@%x", SPAPR_VTY_REG);
        TRY(fdt_begin_node(fdt, name));
        TRY(fdt_property_u32(fdt, "reg", SPAPR_VTY_REG));
        TRY(fdt_property_string(fdt, "device_type", "serial"));
        TRY(fdt_property_string(fdt, "compatible", "hvterm1"));
        TRY(prop_cells(fdt, "interrupts", irq, G_N_ELEMENTS(irq)));
        TRY(fdt_end_node(fdt));
    }
    return fdt_end_node(fdt);
}

static int dt_xive(SpaprMachine *m, void *fdt)
{
    char name[64];
    uint64_t user = m->tima_base + XIVE_TM_USER_PAGE * XIVE_TM_PAGE_SIZE;
    uint64_t os = m->tima_base + XIVE_TM_OS_PAGE * XIVE_TM_PAGE_SIZE;
    const uint64_t reg[] = { user, XIVE_TM_PAGE_SIZE, os, XIVE_TM_PAGE_SIZE };
    const uint32_t eq_sizes[] = { 12, 16, 21, 24 };
    const uint32_t lisn_ranges[] = { SPAPR_IRQ_IPI, m->nr_vcpus }; /* base, count */

    snprintf(name, sizeof(name), "interrupt-controller@%" PRIx64, user);
    TRY(fdt_begin_node(fdt, name));
    TRY(fdt_property_string(fdt, "device_type", "power-ivpe"));
    TRY(prop_u64s(fdt, "reg", reg, G_N_ELEMENTS(reg)));
    TRY(fdt_property_string(fdt, "compatible", "ibm,power-ivpe"));
    TRY(prop_cells(fdt, "ibm,xive-eq-sizes", eq_sizes, G_N_ELEMENTS(eq_sizes)));
    TRY(prop_cells(fdt, "ibm,xive-lisn-ranges", lisn_ranges, G_N_ELEMENTS(lisn_ranges)));
    TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
    TRY(fdt_property_u32(fdt, "#interrupt-cells", 2));
    /* Not in QEMU's node; dtc wants it on an interrupt provider. */
    TRY(fdt_property_u32(fdt, "#address-cells", 0));
    TRY(fdt_property_u32(fdt, "linux,phandle", SPAPR_PHANDLE_XIVE));
    TRY(fdt_property_u32(fdt, "phandle", SPAPR_PHANDLE_XIVE));
    return fdt_end_node(fdt);
}

static int dt_virtio(void *fdt, const SpaprVirtioMmio *d)
{
    char name[48];
    const uint64_t reg[] = { d->base, d->size };
    const uint32_t irq[] = { d->lisn, d->msi ? 0 : 1 };

    snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, d->base);
    TRY(fdt_begin_node(fdt, name));
    TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
    TRY(prop_u64s(fdt, "reg", reg, G_N_ELEMENTS(reg)));
    TRY(prop_cells(fdt, "interrupts", irq, G_N_ELEMENTS(irq)));
    TRY(fdt_property_u32(fdt, "interrupt-parent", SPAPR_PHANDLE_XIVE));
    return fdt_end_node(fdt);
}

static int dt_build(SpaprMachine *m, void *fdt, int size)
{
    const uint32_t res_prios[] = { 7, 0xf8 }; /* priorities 7 .. 0xfe: the hypervisor's */

    TRY(fdt_create(fdt, size));
    TRY(fdt_add_reservemap_entry(fdt, m->rtas_base, SPAPR_RTAS_AREA_SIZE));
    if (m->initrd_size) {
        TRY(fdt_add_reservemap_entry(fdt, m->initrd_start, m->initrd_size));
    }
    TRY(fdt_finish_reservemap(fdt));

    TRY(fdt_begin_node(fdt, ""));
    TRY(fdt_property_string(fdt, "device_type", "chrp"));
    TRY(fdt_property_string(fdt, "model", m->model));
    TRY(fdt_property_string(fdt, "compatible", "qemu,pseries"));
    TRY(fdt_property_u32(fdt, "#address-cells", 2));
    TRY(fdt_property_u32(fdt, "#size-cells", 2));
    TRY(prop_cells(fdt, "ibm,plat-res-int-priorities", res_prios, G_N_ELEMENTS(res_prios)));
    TRY(dt_chosen(m, fdt));
    TRY(dt_cpus(m, fdt));
    TRY(dt_memory(m, fdt));
    TRY(dt_rtas(m, fdt));
    TRY(dt_vdevice(m, fdt));
    TRY(dt_xive(m, fdt));
    for (guint i = 0; i < m->devices->len; i++) {
        TRY(dt_virtio(fdt, &g_array_index(m->devices, SpaprDevice, i).cfg));
    }
    TRY(fdt_end_node(fdt));
    return fdt_finish(fdt);
}

GBytes *spapr_fdt_build(SpaprMachine *m, GError **error)
{
    size_t size = 8192 + (size_t)m->nr_vcpus * 1024 + (size_t)m->devices->len * 256 +
                  (m->bootargs ? strlen(m->bootargs) : 0);
    size = MIN(size, (size_t)FDT_MAX_SIZE);
    for (;;) {
        void *buf = g_malloc0(size);
        int rc = dt_build(m, buf, (int)size);
        if (rc == 0) {
            size_t total = fdt_totalsize(buf);
            return g_bytes_new_take(g_realloc(buf, total), total);
        }
        g_free(buf);
        if (rc != -FDT_ERR_NOSPACE || size >= FDT_MAX_SIZE) {
            g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_FDT, "building the device tree: %s",
                        fdt_strerror(rc));
            return NULL;
        }
        size = MIN(size * 2, (size_t)FDT_MAX_SIZE);
    }
}
