/* SPDX-License-Identifier: MIT */
/* RTAS: each call's results and parameter errors, unknown tokens, argument
 * blocks at the edges of RAM and beyond, calls by name, the entry blob. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

#define BLK UINT64_C(0x8000)
#define SENTINEL 0xdeadbeefu

TestSuite(rtas, .init = t_setup_default, .fini = t_teardown_default);

/* Writes token/nargs/nret/args at @addr, fills the results with SENTINEL and
 * runs H_RTAS from @vcpu. */
static int64_t rtas_at(uint32_t vcpu, uint64_t addr, uint32_t token, uint32_t nargs,
                       const uint32_t *args, uint32_t nret)
{
    t_wr32(addr, token);
    t_wr32(addr + 4, nargs);
    t_wr32(addr + 8, nret);
    for (uint32_t i = 0; i < nargs; i++) {
        t_wr32(addr + 12 + 4 * i, args[i]);
    }
    for (uint32_t i = 0; i < nret + 1; i++) { /* one more: must stay untouched */
        if (addr + 12 + 4 * (nargs + i) + 4 <= T_RAM_SIZE) {
            t_wr32(addr + 12 + 4 * (nargs + i), SENTINEL);
        }
    }
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, addr };
    return t_hcall(vcpu, regs);
}

static uint32_t ret_at(uint64_t addr, uint32_t nargs, uint32_t i)
{
    return t_rd32(addr + 12 + 4 * (nargs + i));
}

static int64_t rtas(uint32_t token, uint32_t nargs, const uint32_t *args, uint32_t nret)
{
    return rtas_at(0, BLK, token, nargs, args, nret);
}

static uint32_t ret(uint32_t nargs, uint32_t i)
{
    return ret_at(BLK, nargs, i);
}

Test(rtas, display_character)
{
    const uint32_t c = 'A';
    cr_assert_eq(rtas(SPAPR_RTAS_DISPLAY_CHARACTER, 1, &c, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(1, 0), 0);
    cr_assert_eq(ret(1, 1), SENTINEL);
    const uint32_t d = 0x142; /* only the low byte */
    cr_assert_eq(rtas(SPAPR_RTAS_LEGACY_DISPLAY_CHARACTER, 1, &d, 1), SPAPR_H_SUCCESS);
    cr_assert_str_eq(T.out->str, "AB");
    /* no argument: parameter error, nothing printed */
    cr_assert_eq(rtas(SPAPR_RTAS_DISPLAY_CHARACTER, 0, NULL, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(0, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_str_eq(T.out->str, "AB");
}

Test(rtas, display_character_without_console)
{
    t_teardown();
    t_setup(1);
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    cfg.no_console = true;
    t_setup_cfg(&cfg);
    const uint32_t c = 'A';
    cr_assert_eq(rtas(SPAPR_RTAS_DISPLAY_CHARACTER, 1, &c, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_HW_ERROR);
    cr_assert_eq(T.out->len, 0);
}

static void check_time(uint32_t y, uint32_t mo, uint32_t d, uint32_t h, uint32_t mi, uint32_t s,
                       uint32_t ns)
{
    cr_assert_eq(rtas(SPAPR_RTAS_GET_TIME_OF_DAY, 0, NULL, 8), SPAPR_H_SUCCESS);
    const uint32_t want[8] = { 0, y, mo, d, h, mi, s, ns };
    for (uint32_t i = 0; i < 8; i++) {
        cr_assert_eq(ret(0, i), want[i], "ret %u: %u, want %u", i, ret(0, i), want[i]);
    }
    cr_assert_eq(ret(0, 8), SENTINEL);
}

Test(rtas, get_time_of_day)
{
    check_time(2023, 11, 14, 22, 13, 20, 123456789);
    T.clock = -1; /* one nanosecond before the epoch */
    check_time(1969, 12, 31, 23, 59, 59, 999999999);
    T.clock = INT64_C(951782400) * 1000000000; /* leap day */
    check_time(2000, 2, 29, 0, 0, 0, 0);
    /* wrong shapes */
    const uint32_t a = 0;
    cr_assert_eq(rtas(SPAPR_RTAS_GET_TIME_OF_DAY, 1, &a, 8), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(ret(1, 1), SENTINEL);
    cr_assert_eq(rtas(SPAPR_RTAS_GET_TIME_OF_DAY, 0, NULL, 7), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(0, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
}

Test(rtas, set_time_of_day_moves_the_clock)
{
    const uint32_t when[7] = { 2000, 1, 2, 3, 4, 5, 999 };
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 7, when, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(7, 0), 0);
    check_time(2000, 1, 2, 3, 4, 5, 0);
    T.clock += INT64_C(61) * 1000000000 + 5;
    check_time(2000, 1, 2, 3, 5, 6, 5);
    /* the offset survives a machine reset, as QEMU's RTC does */
    spapr_machine_reset(T.m);
    check_time(2000, 1, 2, 3, 5, 6, 5);

    const uint32_t bad_month[7] = { 2000, 13, 2, 3, 4, 5, 0 };
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 7, bad_month, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(7, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    const uint32_t huge_year[7] = { 0xffffffff, 1, 1, 0, 0, 0, 0 };
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 7, huge_year, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(7, 0), SPAPR_RTAS_OUT_HW_ERROR);
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 6, when, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(6, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    check_time(2000, 1, 2, 3, 5, 6, 5); /* unchanged by the failures */
}

Test(rtas, power_off_and_reboot_are_reported)
{
    const uint32_t a[2] = { 0, 0 };
    cr_assert_eq(rtas(SPAPR_RTAS_POWER_OFF, 1, a, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(rtas(SPAPR_RTAS_POWER_OFF, 2, a, 2), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(2, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(T.power_offs, 0);
    cr_assert_eq(rtas(SPAPR_RTAS_POWER_OFF, 2, a, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(2, 0), 0);
    cr_assert_eq(T.power_offs, 1);

    cr_assert_eq(rtas(SPAPR_RTAS_SYSTEM_REBOOT, 1, a, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(T.reboots, 0);
    cr_assert_eq(rtas(SPAPR_RTAS_SYSTEM_REBOOT, 0, NULL, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(0, 0), 0);
    cr_assert_eq(T.reboots, 1);
}

Test(rtas, cpu_start_stop_and_query)
{
    uint32_t id = 0;
    cr_assert_eq(rtas(SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, 1, &id, 2), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(1, 0), 0);
    cr_assert_eq(ret(1, 1), 2, "vCPU 0 runs");
    id = 1;
    cr_assert_eq(rtas(SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, 1, &id, 2), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(1, 1), 0, "secondaries start stopped");
    id = 2;
    cr_assert_eq(rtas(SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, 1, &id, 2), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(ret(1, 1), SENTINEL);
    cr_assert_eq(rtas(SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, 1, &id, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(1, 0), SPAPR_RTAS_OUT_PARAM_ERROR);

    const uint32_t start[3] = { 1, 0x4000, 0x1234 };
    cr_assert_eq(rtas(SPAPR_RTAS_START_CPU, 2, start, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(2, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    const uint32_t start_bad[3] = { 7, 0x4000, 0 };
    cr_assert_eq(rtas(SPAPR_RTAS_START_CPU, 3, start_bad, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(3, 0), SPAPR_RTAS_OUT_PARAM_ERROR);
    cr_assert_eq(T.nstarts, 0);
    cr_assert_eq(rtas(SPAPR_RTAS_START_CPU, 3, start, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(3, 0), 0);
    cr_assert_eq(T.nstarts, 1);
    cr_assert_eq(T.starts[0].vcpu, 1);
    cr_assert_eq(T.starts[0].entry, 0x4000);
    cr_assert_eq(T.starts[0].r3, 0x1234);
    cr_assert_not(spapr_machine_cpu_stopped(T.m, 1));
    /* starting a running vCPU is a hardware error */
    cr_assert_eq(rtas(SPAPR_RTAS_START_CPU, 3, start, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(3, 0), SPAPR_RTAS_OUT_HW_ERROR);
    cr_assert_eq(T.nstarts, 1);

    /* stop-self from vCPU 1: reported, no result written */
    cr_assert_eq(rtas_at(1, BLK, SPAPR_RTAS_STOP_SELF, 0, NULL, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(0, 0), SENTINEL);
    cr_assert_eq(T.nstops, 1);
    cr_assert_eq(T.stops[0], 1);
    cr_assert(spapr_machine_cpu_stopped(T.m, 1));
    id = 1;
    cr_assert_eq(rtas(SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, 1, &id, 2), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(1, 1), 0);
    /* reset: vCPU 0 runs, the others are stopped */
    cr_assert(spapr_machine_set_cpu_stopped(T.m, 0, true, NULL));
    spapr_machine_reset(T.m);
    cr_assert_not(spapr_machine_cpu_stopped(T.m, 0));
    cr_assert(spapr_machine_cpu_stopped(T.m, 1));
}

Test(rtas, unknown_token)
{
    cr_assert_eq(rtas(0x1234, 0, NULL, 1), SPAPR_H_PARAMETER);
    cr_assert_eq((int32_t)ret(0, 0), -3);
    cr_assert_eq(ret(0, 1), SENTINEL);
    cr_assert_eq(rtas(SPAPR_RTAS_STOP_SELF + 1, 0, NULL, 2), SPAPR_H_PARAMETER);
    cr_assert_eq((int32_t)ret(0, 0), -3);
    cr_assert_eq(ret(0, 1), SENTINEL);
    /* no result word: nothing written */
    cr_assert_eq(rtas(0x1234, 0, NULL, 0), SPAPR_H_PARAMETER);
    cr_assert_eq(ret(0, 0), SENTINEL);
    cr_assert_gt(T.nlogs, 0);
}

Test(rtas, blocks_at_the_end_of_ram)
{
    /* get-time-of-day needs 12 + 8 * 4 = 44 bytes: fits exactly at the end */
    uint64_t addr = T_RAM_SIZE - 44;
    cr_assert_eq(rtas_at(0, addr, SPAPR_RTAS_GET_TIME_OF_DAY, 0, NULL, 8), SPAPR_H_SUCCESS);
    cr_assert_eq(ret_at(addr, 0, 0), 0);
    cr_assert_eq(ret_at(addr, 0, 7), 123456789, "the last word of RAM");

    /* one byte later: the last result would cross the end; nothing written */
    addr = T_RAM_SIZE - 43;
    cr_assert_eq(vmem_fill(T.mem, addr, 0, 43), 0);
    t_wr32(addr, SPAPR_RTAS_GET_TIME_OF_DAY);
    t_wr32(addr + 4, 0);
    t_wr32(addr + 8, 8);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, addr };
    cr_assert_eq(t_hcall(0, regs), SPAPR_H_PARAMETER);
    for (uint64_t a = addr + 12; a < T_RAM_SIZE; a++) {
        uint8_t b;
        cr_assert_eq(vmem_read_u8(T.mem, a, &b), 0);
        cr_assert_eq(b, 0, "byte at 0x%lx written", (unsigned long)a);
    }

    /* a header that crosses the end, or starts beyond it */
    static const uint64_t bad[] = { T_RAM_SIZE - 11, T_RAM_SIZE - 4, T_RAM_SIZE,
                                    T_RAM_SIZE + 0x100, UINT64_C(0x0fffffffffffffff),
                                    UINT64_MAX };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint64_t r[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, bad[i] };
        cr_assert_eq(t_hcall(0, r), SPAPR_H_PARAMETER, "block at 0x%lx", (unsigned long)bad[i]);
    }
    /* a header exactly at the end with nothing else: fits, shape error */
    cr_assert_eq(rtas_at(0, T_RAM_SIZE - 12, SPAPR_RTAS_SYSTEM_REBOOT, 0, NULL, 0),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(T.reboots, 0);
}

Test(rtas, huge_counts_are_refused)
{
    cr_assert_eq(vmem_fill(T.mem, BLK, 0, 64), 0);
    t_wr32(BLK, SPAPR_RTAS_POWER_OFF);
    t_wr32(BLK + 4, 0xffffffff);
    t_wr32(BLK + 8, 1);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, BLK };
    cr_assert_eq(t_hcall(0, regs), SPAPR_H_PARAMETER);
    t_wr32(BLK + 4, 2);
    t_wr32(BLK + 8, 0xffffffff);
    regs[0] = SPAPR_KVMPPC_H_RTAS;
    cr_assert_eq(t_hcall(0, regs), SPAPR_H_PARAMETER);
    cr_assert_eq(T.power_offs, 0);
    cr_assert_eq(t_rd32(BLK + 20), 0, "nothing written");
}

Test(rtas, top_address_bits_are_ignored)
{
    t_wr32(BLK, SPAPR_RTAS_SYSTEM_REBOOT);
    t_wr32(BLK + 4, 0);
    t_wr32(BLK + 8, 1);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, UINT64_C(0xf000000000000000) | BLK };
    cr_assert_eq(t_hcall(0, regs), SPAPR_H_SUCCESS);
    cr_assert_eq(T.reboots, 1);
}

Test(rtas, call_by_name_with_separate_buffers)
{
    GError *err = NULL;
    int64_t hret = 99;
    cr_assert(spapr_rtas_call_by_name(T.m, "get-time-of-day", 0, 0x100, 8, 0x200, &hret, &err));
    cr_assert_eq(hret, SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(0x200 + 4), 2023);
    cr_assert_eq(t_rd32(0x200 + 28), 123456789);

    cr_assert_not(spapr_rtas_call_by_name(T.m, "no-such-call", 0, 0, 1, 0x200, &hret, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND));
    g_clear_error(&err);
    cr_assert_not(spapr_rtas_call_by_name(NULL, "power-off", 0, 0, 1, 0, &hret, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);

    /* results beyond RAM: refused, H_PARAMETER */
    cr_assert(spapr_rtas_call_by_name(T.m, "get-time-of-day", 0, 0, 8, T_RAM_SIZE - 28, &hret,
                                      &err));
    cr_assert_eq(hret, SPAPR_H_PARAMETER);
    cr_assert(spapr_rtas_call(T.m, 1, SPAPR_RTAS_STOP_SELF, 0, 0, 0, 0, &hret, &err));
    cr_assert_eq(hret, SPAPR_H_SUCCESS);
    cr_assert_eq(T.stops[0], 1);
    cr_assert_not(spapr_rtas_call(T.m, 2, SPAPR_RTAS_STOP_SELF, 0, 0, 0, 0, &hret, &err));
    g_clear_error(&err);
}

Test(rtas, names_and_tokens)
{
    static const struct {
        const char *name;
        uint32_t token;
    } calls[] = {
        { "display-character", 0x2000 }, { "get-time-of-day", 0x2001 },
        { "set-time-of-day", 0x2002 },   { "power-off", 0x2003 },
        { "system-reboot", 0x2004 },     { "query-cpu-stopped-state", 0x2005 },
        { "start-cpu", 0x2006 },         { "stop-self", 0x2007 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(calls); i++) {
        cr_assert_eq(spapr_rtas_token(calls[i].name), (int32_t)calls[i].token);
        cr_assert_str_eq(spapr_rtas_name(calls[i].token), calls[i].name);
    }
    cr_assert_eq(spapr_rtas_token("ibm,os-term"), -1);
    cr_assert_eq(spapr_rtas_token(NULL), -1);
    cr_assert_null(spapr_rtas_name(0x2008));
}

Test(rtas, entry_blob_in_ram)
{
    static const uint8_t want[SPAPR_RTAS_BLOB_SIZE] = {
        0x7c, 0x64, 0x1b, 0x78, 0x3c, 0x60, 0x00, 0x00, 0x60, 0x63,
        0xf0, 0x00, 0x44, 0x00, 0x00, 0x22, 0x4e, 0x80, 0x00, 0x20,
    };
    uint8_t blob[SPAPR_RTAS_BLOB_SIZE];
    spapr_rtas_blob(blob);
    cr_assert_arr_eq(blob, want, sizeof(want));
    uint64_t base = spapr_machine_rtas_base(T.m);
    cr_assert_eq(base, T_RAM_SIZE - SPAPR_RTAS_AREA_SIZE);
    cr_assert_eq(vmem_read(T.mem, base, blob, sizeof(blob)), 0);
    cr_assert_arr_eq(blob, want, sizeof(want));
    cr_assert_eq(vmem_fill(T.mem, base, 0, sizeof(blob)), 0);
    spapr_machine_reset(T.m);
    cr_assert_eq(vmem_read(T.mem, base, blob, sizeof(blob)), 0);
    cr_assert_arr_eq(blob, want, sizeof(want));
}

Test(rtas, clock_overflow_is_a_hardware_error)
{
    const uint32_t when[7] = { 2200, 1, 1, 0, 0, 0, 0 }; /* a positive offset */
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 7, when, 1), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(7, 0), 0);
    T.clock = INT64_MAX;
    cr_assert_eq(rtas(SPAPR_RTAS_GET_TIME_OF_DAY, 0, NULL, 8), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(0, 0), SPAPR_RTAS_OUT_HW_ERROR);
    cr_assert_eq(ret(0, 1), SENTINEL);
    T.clock = INT64_MIN; /* and the other way */
    cr_assert_eq(rtas(SPAPR_RTAS_SET_TIME_OF_DAY, 7, when, 1), SPAPR_H_SUCCESS);
    cr_assert_eq((int32_t)ret(7, 0), SPAPR_RTAS_OUT_HW_ERROR);
}

Test(rtas, real_clock_by_default)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    cfg.callbacks.clock_ns = NULL;
    t_setup_cfg(&cfg);
    cr_assert_eq(rtas(SPAPR_RTAS_GET_TIME_OF_DAY, 0, NULL, 8), SPAPR_H_SUCCESS);
    cr_assert_eq(ret(0, 0), 0);
    cr_assert_geq(ret(0, 1), 2024);
    cr_assert_leq(ret(0, 2), 12);
    cr_assert_lt(ret(0, 7), 1000000000);
}
