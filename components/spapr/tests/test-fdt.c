/* SPDX-License-Identifier: MIT */
/* The device tree parsed back with libfdt: every node, every property. */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

#define INITRD UINT64_C(0x2000000)
#define INITRD_SIZE UINT64_C(0x100000)
#define VIRTIO0 UINT64_C(0x200000000)
#define VIRTIO1 UINT64_C(0x200001000)
#define XIVE_NODE "/interrupt-controller@60302031b0000"

static GBytes *fdt_bytes;
static const void *fdt;

static void build(void)
{
    GError *err = NULL;
    if (fdt_bytes) {
        g_bytes_unref(fdt_bytes);
    }
    fdt_bytes = spapr_machine_build_fdt(T.m, &err);
    cr_assert_not_null(fdt_bytes, "%s", err ? err->message : "");
    gsize len;
    fdt = g_bytes_get_data(fdt_bytes, &len);
    cr_assert_eq(fdt_check_full(fdt, len), 0);
    cr_assert_eq(fdt_totalsize(fdt), len);
}

static void setup_full(void)
{
    t_setup(1);
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(2);
    cfg.bootargs = "console=hvc0 root=/dev/vda";
    cfg.initrd_start = INITRD;
    cfg.initrd_size = INITRD_SIZE;
    t_setup_cfg(&cfg);
    SpaprVirtioMmio d0 = { .base = VIRTIO0, .size = 0x200 };
    SpaprVirtioMmio d1 = { .base = VIRTIO1, .size = 0x200, .lisn = SPAPR_IRQ_MSI, .msi = true };
    cr_assert(spapr_machine_add_virtio_mmio(T.m, &d0, NULL, NULL));
    cr_assert(spapr_machine_add_virtio_mmio(T.m, &d1, NULL, NULL));
    fdt_bytes = NULL;
    build();
}

static void teardown(void)
{
    g_bytes_unref(fdt_bytes);
    fdt_bytes = NULL;
    t_teardown_default();
}

TestSuite(fdt, .init = setup_full, .fini = teardown);

static int node(const char *path)
{
    int off = fdt_path_offset(fdt, path);
    cr_assert_geq(off, 0, "node %s: %s", path, fdt_strerror(off));
    return off;
}

static const void *prop(const char *path, const char *name, int *ret_len)
{
    int len;
    const void *p = fdt_getprop(fdt, node(path), name, &len);
    cr_assert_not_null(p, "%s:%s missing", path, name);
    if (ret_len) {
        *ret_len = len;
    }
    return p;
}

static void str_is(const char *path, const char *name, const char *want)
{
    int len;
    const char *p = prop(path, name, &len);
    cr_assert_eq(len, (int)strlen(want) + 1, "%s:%s length", path, name);
    cr_assert_str_eq(p, want, "%s:%s", path, name);
}

static void cells_are(const char *path, const char *name, const uint32_t *want, int n)
{
    int len;
    const fdt32_t *p = prop(path, name, &len);
    cr_assert_eq(len, 4 * n, "%s:%s length %d", path, name, len);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(fdt32_to_cpu(p[i]), want[i], "%s:%s[%d] = 0x%x", path, name, i,
                     fdt32_to_cpu(p[i]));
    }
}

static void cell_is(const char *path, const char *name, uint32_t want)
{
    cells_are(path, name, &want, 1);
}

static void u64s_are(const char *path, const char *name, const uint64_t *want, int n)
{
    int len;
    const uint8_t *p = prop(path, name, &len);
    cr_assert_eq(len, 8 * n, "%s:%s length", path, name);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(vmem_be64_to_cpu(p + 8 * i), want[i], "%s:%s[%d]", path, name, i);
    }
}

static void empty_is(const char *path, const char *name)
{
    int len;
    prop(path, name, &len);
    cr_assert_eq(len, 0, "%s:%s", path, name);
}

/* The node has exactly these properties. */
static void props_are(const char *path, const char *const *names, size_t n)
{
    int off = node(path), count = 0, p;
    fdt_for_each_property_offset(p, fdt, off) {
        const char *name;
        cr_assert_not_null(fdt_getprop_by_offset(fdt, p, &name, NULL));
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            found |= strcmp(name, names[i]) == 0;
        }
        cr_assert(found, "unexpected property %s:%s", path, name);
        count++;
    }
    cr_assert_eq(count, (int)n, "%s has %d properties, want %zu", path, count, n);
}

#define PROPS(path, ...)                                                                           \
    do {                                                                                           \
        static const char *const names_[] = { __VA_ARGS__ };                                       \
        props_are(path, names_, G_N_ELEMENTS(names_));                                             \
    } while (0)

Test(fdt, node_list_is_complete)
{
    static const char *const want[] = {
        "/",
        "/chosen",
        "/cpus",
        "/cpus/PowerPC,POWER9@0",
        "/cpus/PowerPC,POWER9@1",
        "/memory@0",
        "/rtas",
        "/vdevice",
        "/vdevice/vty@71000000",
        XIVE_NODE,
        "/virtio_mmio@200000000",
        "/virtio_mmio@200001000",
    };
    char path[256];
    size_t i = 0;
    for (int off = 0; off >= 0; off = fdt_next_node(fdt, off, NULL)) {
        cr_assert_eq(fdt_get_path(fdt, off, path, sizeof(path)), 0);
        cr_assert_lt(i, G_N_ELEMENTS(want), "extra node %s", path);
        cr_assert_str_eq(path, want[i], "node %zu", i);
        i++;
    }
    cr_assert_eq(i, G_N_ELEMENTS(want));
}

Test(fdt, memory_reservations)
{
    uint64_t addr, size;
    cr_assert_eq(fdt_num_mem_rsv(fdt), 2);
    cr_assert_eq(fdt_get_mem_rsv(fdt, 0, &addr, &size), 0);
    cr_assert_eq(addr, spapr_machine_rtas_base(T.m));
    cr_assert_eq(size, SPAPR_RTAS_AREA_SIZE);
    cr_assert_eq(fdt_get_mem_rsv(fdt, 1, &addr, &size), 0);
    cr_assert_eq(addr, INITRD);
    cr_assert_eq(size, INITRD_SIZE);
}

Test(fdt, root)
{
    PROPS("/", "device_type", "model", "compatible", "#address-cells", "#size-cells",
          "ibm,plat-res-int-priorities");
    str_is("/", "device_type", "chrp");
    str_is("/", "model", "IBM pSeries (emulated)");
    str_is("/", "compatible", "qemu,pseries");
    cell_is("/", "#address-cells", 2);
    cell_is("/", "#size-cells", 2);
    const uint32_t prios[] = { 7, 0xf8 };
    cells_are("/", "ibm,plat-res-int-priorities", prios, 2);
}

Test(fdt, chosen)
{
    PROPS("/chosen", "bootargs", "linux,initrd-start", "linux,initrd-end", "linux,stdout-path",
          "stdout-path", "ibm,arch-vec-5-platform-support", "ibm,architecture-vec-5");
    str_is("/chosen", "bootargs", "console=hvc0 root=/dev/vda");
    cell_is("/chosen", "linux,initrd-start", (uint32_t)INITRD);
    cell_is("/chosen", "linux,initrd-end", (uint32_t)(INITRD + INITRD_SIZE));
    str_is("/chosen", "stdout-path", "/vdevice/vty@71000000");
    str_is("/chosen", "linux,stdout-path", "/vdevice/vty@71000000");
    cr_assert_geq(fdt_path_offset(fdt, "/vdevice/vty@71000000"), 0, "stdout-path resolves");
    int len;
    const uint8_t *v = prop("/chosen", "ibm,arch-vec-5-platform-support", &len);
    const uint8_t want[] = { 23, 0x40, 24, 0xc0, 25, 0x00, 26, 0x40 };
    cr_assert_eq(len, (int)sizeof(want));
    cr_assert_arr_eq(v, want, sizeof(want));
    v = prop("/chosen", "ibm,architecture-vec-5", &len);
    cr_assert_eq(len, 2);
    cr_assert_eq(v[0], 0);
    cr_assert_eq(v[1], 0);
}

Test(fdt, cpus)
{
    PROPS("/cpus", "#address-cells", "#size-cells");
    cell_is("/cpus", "#address-cells", 1);
    cell_is("/cpus", "#size-cells", 0);
    for (uint32_t id = 0; id < 2; id++) {
        char p[64];
        snprintf(p, sizeof(p), "/cpus/PowerPC,POWER9@%u", id);
        PROPS(p, "reg", "device_type", "cpu-version", "d-cache-block-size", "d-cache-line-size",
              "i-cache-block-size", "i-cache-line-size", "d-cache-size", "i-cache-size",
              "timebase-frequency", "clock-frequency", "slb-size", "ibm,slb-size", "status",
              "64-bit", "ibm,purr", "ibm,spurr", "ibm,processor-segment-sizes", "ibm,vmx",
              "ibm,dfp", "ibm,pa-features", "ibm,chip-id", "ibm,pft-size",
              "ibm,ppc-interrupt-server#s", "ibm,ppc-interrupt-gserver#s",
              "ibm,processor-radix-AP-encodings");
        cell_is(p, "reg", id);
        str_is(p, "device_type", "cpu");
        cell_is(p, "cpu-version", SPAPR_DEFAULT_PVR);
        cell_is(p, "d-cache-block-size", 128);
        cell_is(p, "d-cache-line-size", 128);
        cell_is(p, "i-cache-block-size", 128);
        cell_is(p, "i-cache-line-size", 128);
        cell_is(p, "d-cache-size", 0x8000);
        cell_is(p, "i-cache-size", 0x8000);
        cell_is(p, "timebase-frequency", 512000000);
        cell_is(p, "clock-frequency", 1000000000);
        cell_is(p, "slb-size", 32);
        cell_is(p, "ibm,slb-size", 32);
        str_is(p, "status", "okay");
        empty_is(p, "64-bit");
        cell_is(p, "ibm,purr", 1);
        cell_is(p, "ibm,spurr", 1);
        const uint32_t segs[] = { 28, 40, 0xffffffff, 0xffffffff };
        cells_are(p, "ibm,processor-segment-sizes", segs, 4);
        cell_is(p, "ibm,vmx", 2);
        cell_is(p, "ibm,dfp", 1);
        int len;
        const uint8_t *pa = prop(p, "ibm,pa-features", &len);
        cr_assert_eq(len, 68);
        cr_assert_eq(pa[0], 66);
        cr_assert_eq(pa[1], 0);
        cr_assert_eq(pa[2], 0xf6);
        cr_assert_eq(pa[2 + 40], 0x80, "radix MMU");
        cr_assert_eq(pa[2 + 22], 0x00, "no HTM");
        cell_is(p, "ibm,chip-id", 0);
        const uint32_t pft[] = { 0, 19 }; /* 64 MiB / 128 = 2^19 */
        cells_are(p, "ibm,pft-size", pft, 2);
        cell_is(p, "ibm,ppc-interrupt-server#s", id);
        const uint32_t gs[] = { id, 0 };
        cells_are(p, "ibm,ppc-interrupt-gserver#s", gs, 2);
        const uint32_t ap[] = { 0x0000000c, 0xa0000010, 0x20000015, 0x4000001e };
        cells_are(p, "ibm,processor-radix-AP-encodings", ap, 4);
    }
}

Test(fdt, memory)
{
    PROPS("/memory@0", "device_type", "reg");
    str_is("/memory@0", "device_type", "memory");
    const uint64_t reg[] = { 0, T_RAM_SIZE };
    u64s_are("/memory@0", "reg", reg, 2);
}

Test(fdt, rtas)
{
    PROPS("/rtas", "ibm,hypertas-functions", "rtas-size", "linux,rtas-base", "linux,rtas-entry",
          "display-character", "get-time-of-day", "set-time-of-day", "power-off",
          "system-reboot", "query-cpu-stopped-state", "start-cpu", "stop-self");
    cell_is("/rtas", "rtas-size", SPAPR_RTAS_AREA_SIZE);
    cell_is("/rtas", "linux,rtas-base", (uint32_t)spapr_machine_rtas_base(T.m));
    cell_is("/rtas", "linux,rtas-entry", (uint32_t)spapr_machine_rtas_base(T.m));
    cell_is("/rtas", "display-character", 0x2000);
    cell_is("/rtas", "get-time-of-day", 0x2001);
    cell_is("/rtas", "set-time-of-day", 0x2002);
    cell_is("/rtas", "power-off", 0x2003);
    cell_is("/rtas", "system-reboot", 0x2004);
    cell_is("/rtas", "query-cpu-stopped-state", 0x2005);
    cell_is("/rtas", "start-cpu", 0x2006);
    cell_is("/rtas", "stop-self", 0x2007);
    int off = node("/rtas");
    cr_assert_eq(fdt_stringlist_count(fdt, off, "ibm,hypertas-functions"), 2);
    cr_assert_geq(fdt_stringlist_search(fdt, off, "ibm,hypertas-functions", "hcall-term"), 0);
    cr_assert_geq(fdt_stringlist_search(fdt, off, "ibm,hypertas-functions", "hcall-set-mode"), 0);
}

Test(fdt, vdevice_and_vty)
{
    PROPS("/vdevice", "device_type", "compatible", "#address-cells", "#size-cells",
          "#interrupt-cells", "interrupt-controller");
    str_is("/vdevice", "device_type", "vdevice");
    str_is("/vdevice", "compatible", "IBM,vdevice");
    cell_is("/vdevice", "#address-cells", 1);
    cell_is("/vdevice", "#size-cells", 0);
    cell_is("/vdevice", "#interrupt-cells", 2);
    empty_is("/vdevice", "interrupt-controller");
    const char *vty = "/vdevice/vty@71000000";
    PROPS(vty, "reg", "device_type", "compatible", "interrupts");
    cell_is(vty, "reg", SPAPR_VTY_REG);
    str_is(vty, "device_type", "serial");
    str_is(vty, "compatible", "hvterm1");
    const uint32_t irq[] = { SPAPR_IRQ_VIO, 0 };
    cells_are(vty, "interrupts", irq, 2);
}

Test(fdt, xive_node)
{
    PROPS(XIVE_NODE, "device_type", "reg", "compatible", "ibm,xive-eq-sizes",
          "ibm,xive-lisn-ranges", "interrupt-controller", "#interrupt-cells", "#address-cells",
          "linux,phandle", "phandle");
    str_is(XIVE_NODE, "device_type", "power-ivpe");
    str_is(XIVE_NODE, "compatible", "ibm,power-ivpe");
    const uint64_t reg[] = { XIVE_SPAPR_TIMA_BASE + 3 * 0x10000, 0x10000,
                             XIVE_SPAPR_TIMA_BASE + 2 * 0x10000, 0x10000 };
    u64s_are(XIVE_NODE, "reg", reg, 4);
    const uint32_t eq[] = { 12, 16, 21, 24 };
    cells_are(XIVE_NODE, "ibm,xive-eq-sizes", eq, 4);
    const uint32_t ranges[] = { 0, 2 };
    cells_are(XIVE_NODE, "ibm,xive-lisn-ranges", ranges, 2);
    empty_is(XIVE_NODE, "interrupt-controller");
    cell_is(XIVE_NODE, "#interrupt-cells", 2);
    cell_is(XIVE_NODE, "#address-cells", 0);
    cell_is(XIVE_NODE, "phandle", SPAPR_PHANDLE_XIVE);
    cell_is(XIVE_NODE, "linux,phandle", SPAPR_PHANDLE_XIVE);
    cr_assert_eq(fdt_node_offset_by_phandle(fdt, SPAPR_PHANDLE_XIVE), node(XIVE_NODE));
    cr_assert_eq(fdt_node_offset_by_compatible(fdt, -1, "ibm,power-ivpe"), node(XIVE_NODE));
}

Test(fdt, virtio_mmio_nodes)
{
    const char *p0 = "/virtio_mmio@200000000", *p1 = "/virtio_mmio@200001000";
    PROPS(p0, "compatible", "reg", "interrupts", "interrupt-parent");
    PROPS(p1, "compatible", "reg", "interrupts", "interrupt-parent");
    str_is(p0, "compatible", "virtio,mmio");
    const uint64_t r0[] = { VIRTIO0, 0x200 }, r1[] = { VIRTIO1, 0x200 };
    u64s_are(p0, "reg", r0, 2);
    u64s_are(p1, "reg", r1, 2);
    const uint32_t i0[] = { SPAPR_IRQ_PCI_LSI, 1 }, i1[] = { SPAPR_IRQ_MSI, 0 };
    cells_are(p0, "interrupts", i0, 2);
    cells_are(p1, "interrupts", i1, 2);
    cell_is(p0, "interrupt-parent", SPAPR_PHANDLE_XIVE);
    cell_is(p1, "interrupt-parent", SPAPR_PHANDLE_XIVE);
    /* the interrupts were claimed with the right type */
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(spapr_machine_xive(T.m), SPAPR_IRQ_PCI_LSI, &info), 0);
    cr_assert(info.lsi);
    cr_assert_eq(xive_source_info(spapr_machine_xive(T.m), SPAPR_IRQ_MSI, &info), 0);
    cr_assert_not(info.lsi);
}

Test(fdt, minimal_machine)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    cfg.no_console = true;
    cfg.model = "test model";
    cfg.cpu_pvr = 0x004e0100;
    t_setup_cfg(&cfg);
    build();
    PROPS("/chosen", "ibm,arch-vec-5-platform-support", "ibm,architecture-vec-5");
    str_is("/", "model", "test model");
    cr_assert_eq(fdt_path_offset(fdt, "/vdevice/vty@71000000"), -FDT_ERR_NOTFOUND);
    cr_assert_geq(fdt_path_offset(fdt, "/vdevice"), 0);
    cr_assert_eq(fdt_path_offset(fdt, "/cpus/PowerPC,POWER9@1"), -FDT_ERR_NOTFOUND);
    cell_is("/cpus/PowerPC,POWER9@0", "cpu-version", 0x004e0100);
    cr_assert_eq(fdt_num_mem_rsv(fdt), 1);
    const uint32_t ranges[] = { 0, 1 };
    cells_are(XIVE_NODE, "ibm,xive-lisn-ranges", ranges, 2);
}

Test(fdt, many_vcpus_and_a_long_command_line)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(SPAPR_MAX_VCPUS);
    char *args = g_strnfill(100000, 'x');
    cfg.bootargs = args;
    t_setup_cfg(&cfg);
    g_free(args);
    build();
    cr_assert_geq(fdt_path_offset(fdt, "/cpus/PowerPC,POWER9@fff"), 0);
    int len;
    prop("/chosen", "bootargs", &len);
    cr_assert_eq(len, 100001);
}

Test(fdt, buffer_grows_for_a_large_model_string)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    char *model = g_strnfill(200000, 'm');
    cfg.model = model;
    t_setup_cfg(&cfg);
    build();
    int len;
    prop("/", "model", &len);
    cr_assert_eq(len, 200001);
    g_free(model);
}

Test(fdt, load_into_ram)
{
    GError *err = NULL;
    uint64_t size = 0;
    cr_assert(spapr_machine_load_fdt(T.m, 0x1000000, &size, &err));
    cr_assert_eq(size, g_bytes_get_size(fdt_bytes));
    static uint8_t copy[0x10000];
    cr_assert_leq(size, sizeof(copy));
    cr_assert_eq(vmem_read(T.mem, 0x1000000, copy, size), 0);
    cr_assert_arr_eq(copy, fdt, size);
    /* a blob that would cross the end of RAM: refused, nothing written */
    cr_assert_not(spapr_machine_load_fdt(T.m, T_RAM_SIZE - 16, &size, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_FAULT));
    g_clear_error(&err);
    cr_assert_eq(t_rd32(T_RAM_SIZE - 16), 0);
}
