/* SPDX-License-Identifier: MIT */
/* H_CAS: option vector 5 parsing, interrupt mode selection, refusal of
 * XICS-only guests with QEMU's wording, /chosen and the CAS buffer. */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <string.h>

#include "helpers.h"

#define VEC UINT64_C(0x10000)
#define BUF UINT64_C(0x100000)

static const char xics_msg[] =
    "Guest requested unavailable interrupt mode (XICS), either don't set the ic-mode machine "
    "property or try ic-mode=xics or ic-mode=dual";

TestSuite(cas, .init = t_setup_default, .fini = t_teardown_default);

static int64_t cas(uint64_t vec, uint64_t buf, uint64_t size)
{
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_CAS, vec, buf, size };
    return t_hcall(0, regs);
}

/* The /chosen/ibm,architecture-vec-5 of the current device tree. */
static GBytes *chosen_vec5(void)
{
    GBytes *fdt = spapr_machine_build_fdt(T.m, NULL);
    cr_assert_not_null(fdt);
    const void *blob = g_bytes_get_data(fdt, NULL);
    int off = fdt_path_offset(blob, "/chosen");
    cr_assert_geq(off, 0);
    int len;
    const void *p = fdt_getprop(blob, off, "ibm,architecture-vec-5", &len);
    cr_assert_not_null(p);
    GBytes *v = g_bytes_new(p, (gsize)len);
    g_bytes_unref(fdt);
    return v;
}

Test(cas, xive_guest_is_accepted)
{
    GBytes *before = chosen_vec5();
    cr_assert_eq(g_bytes_get_size(before), 2, "empty vector: length byte 0 and one zero byte");
    cr_assert_eq(((const uint8_t *)g_bytes_get_data(before, NULL))[0], 0);
    g_bytes_unref(before);

    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0x40);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_SUCCESS);
    cr_assert(spapr_machine_xive_enabled(T.m));
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0x0f000005);
    cr_assert_eq(T.fatals->len, 0);

    GBytes *after = chosen_vec5();
    const uint8_t *v = g_bytes_get_data(after, NULL);
    cr_assert_eq(g_bytes_get_size(after), 25, "bytes up to 24 (radix) plus the length byte");
    cr_assert_eq(v[0], 23);
    cr_assert_eq(v[23], SPAPR_OV5_XIVE_EXPLOIT);
    cr_assert_eq(v[24], 0x40);
    for (int i = 1; i < 23; i++) {
        cr_assert_eq(v[i], 0, "byte %d", i);
    }
    g_bytes_unref(after);

    /* reset forgets it */
    spapr_machine_reset(T.m);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0);
}

Test(cas, only_offered_bits_are_negotiated)
{
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0);
    t_wr8(VEC + 16 + 1 + 4 * 3 + 1 + 4, 0xff); /* vector 5 byte 5: not offered */
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_SUCCESS);
    GBytes *after = chosen_vec5();
    const uint8_t *v = g_bytes_get_data(after, NULL);
    cr_assert_eq(g_bytes_get_size(after), 24);
    cr_assert_eq(v[5], 0);
    cr_assert_eq(v[23], SPAPR_OV5_XIVE_EXPLOIT);
    g_bytes_unref(after);
}

Test(cas, xics_only_guest_is_refused_with_qemus_words)
{
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_LEGACY, 0);
    cr_assert_eq(cas(VEC, BUF, 0x10000), SPAPR_H_HARDWARE);
    cr_assert_eq(T.fatals->len, 1);
    cr_assert_str_eq(g_ptr_array_index(T.fatals, 0), xics_msg);
    cr_assert_eq(T.last_level, SPAPR_LOG_FATAL);
    cr_assert_str_eq(T.last_log, xics_msg);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0);
    cr_assert_eq(t_rd32(BUF), 0, "no device tree handed back");
    /* H_INT_* stay unavailable */
    cr_assert_eq(t_hcall6(SPAPR_H_INT_GET_SOURCE_INFO, 0, 0, 0, 0, 0, NULL), SPAPR_H_FUNCTION);
}

Test(cas, missing_vector_5_means_xics)
{
    uint64_t a = VEC;
    t_wr32(a, 0xffffffff), t_wr32(a + 4, 0x0f000005), a += 8;
    t_wr32(a, 0xfffffffe), t_wr32(a + 4, 0x0f000001), a += 8;
    t_wr8(a, 0);     /* one vector only */
    t_wr8(a + 1, 0); /* of one byte */
    t_wr8(a + 2, 0xff);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_HARDWARE);
    cr_assert_eq(T.fatals->len, 1);
    cr_assert_str_eq(g_ptr_array_index(T.fatals, 0), xics_msg);
}

Test(cas, invalid_modes_are_refused)
{
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_BOTH, 0);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_HARDWARE);
    cr_assert_str_eq(g_ptr_array_index(T.fatals, 0), "guest requested an invalid interrupt mode");
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0x80);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_HARDWARE);
    cr_assert_str_eq(g_ptr_array_index(T.fatals, 1),
                     "guest requested hash and radix MMU, which is invalid.");
    cr_assert_not(spapr_machine_xive_enabled(T.m));
}

Test(cas, pvr_negotiation)
{
    /* the real PVR (masked) matches: raw mode */
    t_write_cas_vector(VEC, 0x004e0000, 0xffff0000, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0);
    spapr_machine_reset(T.m);

    /* a POWER8 only kernel: no match, no logical PVR */
    T.nlogs = 0;
    t_write_cas_vector(VEC, 0x004d0000, 0xffff0000, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_HARDWARE);
    cr_assert_str_eq(T.last_log, "Couldn't negotiate a suitable PVR during CAS");
    cr_assert_eq(T.fatals->len, 0);
    cr_assert_not(spapr_machine_xive_enabled(T.m));

    /* ISA 3.1 is beyond POWER9: not chosen */
    t_write_cas_vector(VEC, 0x0f000006, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_HARDWARE);
}

Test(cas, pvr_list_is_bounded)
{
    uint64_t a = VEC;
    for (int i = 0; i < 512; i++, a += 8) { /* no terminator at all */
        t_wr32(a, 0xffffffff);
        t_wr32(a + 4, i % 2 ? 0x0f000004 : 0x0f000005);
    }
    /* after 512 entries the option vectors start */
    t_wr8(a++, 4);
    for (int v = 1; v <= 4; v++) {
        t_wr8(a++, 0), t_wr8(a++, 0);
    }
    t_wr8(a++, 22);
    for (int i = 1; i <= 23; i++) {
        t_wr8(a++, i == 23 ? SPAPR_OV5_XIVE_EXPLOIT : 0);
    }
    cr_assert_eq(cas(VEC, 0, 0), SPAPR_H_SUCCESS);
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0x0f000005, "the best logical PVR");
}

Test(cas, vectors_outside_ram_are_refused)
{
    /* the vector runs past the end of RAM */
    uint64_t at = T_RAM_SIZE - 40;
    cr_assert_eq(vmem_fill(T.mem, at, 0, 40), 0);
    t_wr32(at, 0xffffffff), t_wr32(at + 4, 0x0f000005);
    t_wr32(at + 8, 0xfffffffe), t_wr32(at + 12, 0x0f000001);
    t_wr8(at + 16, 4);
    for (int v = 0; v < 4; v++) {
        t_wr8(at + 17 + 2 * v, 0);
    }
    t_wr8(at + 25, 25); /* vector 5 claims 26 bytes, only 14 are left */
    cr_assert_eq(cas(at, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(T_RAM_SIZE, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(T_RAM_SIZE - 4, 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(UINT64_C(0x0ff0000000000000), 0, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(T.fatals->len, 0);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    /* top address bits are ignored, as QEMU's ppc64_phys_to_real() does */
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(UINT64_C(0xf000000000000000) | VEC, 0, 0), SPAPR_H_SUCCESS);
}

Test(cas, buffer_receives_the_updated_device_tree)
{
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(VEC, BUF, 0x20000), SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(BUF), 1, "update header version 1");
    static uint8_t blob[0x20000];
    cr_assert_eq(vmem_read(T.mem, BUF + 4, blob, sizeof(blob) - 4), 0);
    cr_assert_eq(fdt_check_header(blob), 0);
    cr_assert_leq(fdt_totalsize(blob), sizeof(blob) - 4);
    int off = fdt_path_offset(blob, "/chosen");
    cr_assert_geq(off, 0);
    int len;
    const uint8_t *v = fdt_getprop(blob, off, "ibm,architecture-vec-5", &len);
    cr_assert_not_null(v);
    cr_assert_eq(len, 24);
    cr_assert_eq(v[23], SPAPR_OV5_XIVE_EXPLOIT);
    /* bootargs and the rest of /chosen are kept */
    cr_assert_not_null(fdt_getprop(blob, off, "stdout-path", NULL));
    const fdt32_t *cpuver = fdt_getprop(blob, fdt_path_offset(blob, "/cpus/PowerPC,POWER9@0"),
                                        "cpu-version", &len);
    cr_assert_not_null(cpuver);
    cr_assert_eq(fdt32_to_cpu(*cpuver), 0x0f000005, "the compatibility PVR");
}

Test(cas, buffer_too_small_or_outside_ram)
{
    t_write_cas_vector(VEC, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0);
    cr_assert_eq(cas(VEC, BUF, 3), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(VEC, BUF, 64), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(VEC, T_RAM_SIZE - 64, 0x10000), SPAPR_H_PARAMETER);
    cr_assert_eq(cas(VEC, UINT64_MAX - 8, 0x10000), SPAPR_H_PARAMETER);
    cr_assert_not(spapr_machine_xive_enabled(T.m), "state unchanged on failure");
    cr_assert_eq(spapr_machine_compat_pvr(T.m), 0);
    cr_assert_eq(t_rd32(BUF), 0);
}

Test(cas, select_xive_without_cas)
{
    GError *err = NULL;
    cr_assert_not(spapr_machine_select_xive(NULL, &err));
    g_clear_error(&err);
    cr_assert(spapr_machine_select_xive(T.m, &err));
    cr_assert(spapr_machine_xive_enabled(T.m));
    cr_assert_eq(t_hcall6(SPAPR_H_INT_GET_SOURCE_INFO, 0, 0, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    GBytes *v = chosen_vec5();
    cr_assert_eq(((const uint8_t *)g_bytes_get_data(v, NULL))[23], SPAPR_OV5_XIVE_EXPLOIT);
    g_bytes_unref(v);
}
