/* SPDX-License-Identifier: MIT */
/* dtc (Debian's device-tree-compiler) decompiles the machine's device tree
 * without a warning. Exits 77 (meson's SKIP) when dtc is not installed. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "spapr/spapr.h"

#define RAM (UINT64_C(256) << 20)

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "FAIL: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

/* Decompiles @fdt; returns 0 if dtc exits 0 and prints nothing on stderr. */
static int check_with_dtc(const char *dtc, GBytes *fdt, const char *label, const char *must)
{
    GError *err = NULL;
    char *dir = g_dir_make_tmp("spapr-dtc-XXXXXX", &err);
    if (!dir) {
        return fail("mkdtemp", err->message);
    }
    char *dtb = g_build_filename(dir, "machine.dtb", NULL);
    char *dts = g_build_filename(dir, "machine.dts", NULL);
    int rc = 1;
    gsize len;
    const char *data = g_bytes_get_data(fdt, &len);
    if (!g_file_set_contents(dtb, data, (gssize)len, &err)) {
        fail("writing the blob", err->message);
        goto out;
    }
    char *argv[] = { (char *)dtc, "-I", "dtb", "-O", "dts", "-o", dts, dtb, NULL };
    char *out = NULL, *errout = NULL;
    int status;
    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errout, &status,
                      &err)) {
        fail("running dtc", err->message);
        goto out;
    }
    if (!g_spawn_check_wait_status(status, NULL) || (errout && errout[0])) {
        fprintf(stderr, "dtc on the %s machine:\n%s", label, errout ? errout : "");
        fail("dtc reported a problem", label);
    } else {
        char *text = NULL;
        if (!g_file_get_contents(dts, &text, NULL, &err)) {
            fail("reading the source", err->message);
        } else if (!strstr(text, must)) {
            fail("decompiled source lacks", must);
        } else {
            printf("%s machine: dtc clean, %zu bytes of source\n", label, strlen(text));
            rc = 0;
        }
        g_free(text);
    }
    g_free(out);
    g_free(errout);
out:
    g_clear_error(&err);
    g_unlink(dts);
    g_unlink(dtb);
    g_rmdir(dir);
    g_free(dts);
    g_free(dtb);
    g_free(dir);
    return rc;
}

static SpaprMachine *make(VMemMap *mem, uint32_t vcpus, bool full)
{
    GError *err = NULL;
    SpaprMachineConfig cfg = {
        .ram_size = RAM,
        .nr_vcpus = vcpus,
        .mem = mem,
        .no_console = !full,
        .bootargs = full ? "console=hvc0 root=/dev/vda rw" : NULL,
        .initrd_start = 0x4000000,
        .initrd_size = full ? 0x123000 : 0,
    };
    SpaprMachine *m = spapr_machine_new(&cfg, &err);
    if (!m) {
        fail("spapr_machine_new", err->message);
        g_error_free(err);
        return NULL;
    }
    for (uint32_t i = 0; full && i < 4; i++) {
        SpaprVirtioMmio d = { .base = UINT64_C(0x200000000) + i * 0x1000, .size = 0x200,
                              .msi = i == 3 };
        if (!spapr_machine_add_virtio_mmio(m, &d, NULL, &err)) {
            fail("adding a device", err->message);
            g_error_free(err);
            spapr_machine_free(m);
            return NULL;
        }
    }
    return m;
}

int main(void)
{
    char *dtc = g_find_program_in_path("dtc");
    if (!dtc) {
        printf("SKIP: dtc not found (Debian: device-tree-compiler)\n");
        return 77;
    }
    VMemMap *mem = NULL;
    if (vmem_map_new(&mem) < 0 || vmem_map_add_anon(mem, 0, RAM) < 0) {
        return fail("guest memory", NULL);
    }
    int rc = 0;
    static const struct {
        uint32_t vcpus;
        bool full, cas;
        const char *label, *must;
    } cases[] = {
        { 4, true, false, "full", "virtio,mmio" },
        { 4, true, true, "after-CAS", "ibm,architecture-vec-5 = <0x16000000 0x00 0x00 0x00 0x00 0x40>" },
        { 1, false, false, "minimal", "ibm,power-ivpe" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        SpaprMachine *m = make(mem, cases[i].vcpus, cases[i].full);
        if (!m) {
            rc = 1;
            continue;
        }
        if (cases[i].cas) {
            spapr_machine_select_xive(m, NULL);
        }
        GError *err = NULL;
        GBytes *fdt = spapr_machine_build_fdt(m, &err);
        if (!fdt) {
            rc |= fail("building the device tree", err->message);
            g_error_free(err);
        } else {
            rc |= check_with_dtc(dtc, fdt, cases[i].label, cases[i].must);
            g_bytes_unref(fdt);
        }
        spapr_machine_free(m);
    }
    vmem_map_free(mem);
    g_free(dtc);
    return rc;
}
