/* SPDX-License-Identifier: MIT */
/* The dispatcher, the console hcalls, H_SET_MODE, H_LOGICAL_CI_LOAD/STORE. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "helpers.h"

#define VTY SPAPR_VTY_REG

TestSuite(hcall, .init = t_setup_default, .fini = t_teardown_default);

Test(hcall, unknown_numbers_answer_h_function)
{
    static const uint64_t ops[] = { 0, 0x4, 0x3, 0x3a4, 0x3d4, 0x3d8, 0xe0, 0xf001, 0xf003,
                                    0xf004, 0xef10, 0x10000, UINT64_MAX };
    for (size_t i = 0; i < G_N_ELEMENTS(ops); i++) {
        uint64_t regs[SPAPR_HCALL_NREGS];
        for (unsigned r = 0; r < SPAPR_HCALL_NREGS; r++) {
            regs[r] = 0x100 + r;
        }
        regs[0] = ops[i];
        cr_assert_eq(t_hcall(0, regs), SPAPR_H_FUNCTION, "hcall 0x%lx", (unsigned long)ops[i]);
        for (unsigned r = 1; r < SPAPR_HCALL_NREGS; r++) {
            cr_assert_eq(regs[r], 0x100 + r, "r%u changed", r + 3);
        }
    }
    cr_assert_eq(T.last_level, SPAPR_LOG_UNIMP);
}

Test(hcall, api_errors)
{
    GError *err = NULL;
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_H_PUT_TERM_CHAR, VTY, 1, 0x41ull << 56 };
    cr_assert_not(spapr_hcall(NULL, 0, regs, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_hcall(T.m, 0, NULL, &err));
    g_clear_error(&err);
    cr_assert_not(spapr_hcall(T.m, 2, regs, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_hcall(T.m, UINT32_MAX, regs, NULL));
    cr_assert_eq(regs[0], SPAPR_H_PUT_TERM_CHAR, "untouched");
    cr_assert_eq(T.out->len, 0);
    cr_assert(spapr_hcall(T.m, 1, regs, NULL));
    cr_assert_str_eq(T.out->str, "A");
}

/* ------------------------------------------------------------------------ */

Test(hcall, put_term_char)
{
    uint64_t o[4];
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, 5, 0x48656c6c6f000000ull, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_str_eq(T.out->str, "Hello");
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, 16, 0x3031323334353637ull,
                          0x38393a3b3c3d3e3full, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_str_eq(T.out->str, "Hello0123456789:;<=>?");
    /* termno 0 is the default vty, as QEMU's early-debug hack */
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, 0, 1, 0x21ull << 56, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, 0, 0x21ull << 56, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_str_eq(T.out->str, "Hello0123456789:;<=>?!");
    /* errors */
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, 17, 0, 0, 0, o), SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, UINT64_MAX, 0, 0, 0, o), SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY + 1, 1, 0x41ull << 56, 0, 0, o),
                 SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, UINT64_C(1) << 32 | VTY, 1, 0, 0, 0, o),
                 SPAPR_H_PARAMETER);
    cr_assert_str_eq(T.out->str, "Hello0123456789:;<=>?!");
}

Test(hcall, get_term_char_from_the_input_buffer)
{
    uint64_t o[4];
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0);
    cr_assert_eq(o[1], 0);
    cr_assert_eq(o[2], 0);

    cr_assert_eq(spapr_console_push_input(T.m, (const uint8_t *)"abc", 3), 3);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 3);
    cr_assert_eq(o[1], 0x6162630000000000ull);
    cr_assert_eq(o[2], 0);

    uint8_t big[300];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (uint8_t)i;
    }
    cr_assert_eq(spapr_console_push_input(T.m, big, sizeof(big)), 256, "the buffer holds 256");
    cr_assert_eq(spapr_console_push_input(T.m, big, 1), 0);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, 0, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 16);
    cr_assert_eq(o[1], 0x0001020304050607ull);
    cr_assert_eq(o[2], 0x08090a0b0c0d0e0full);
    /* a bad termno takes nothing */
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, 5, 0, 0, 0, 0, o), SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[1], 0x1011121314151617ull);
    /* reset empties the buffer */
    spapr_machine_reset(T.m);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0);
    cr_assert_eq(spapr_console_push_input(NULL, big, 1), 0);
    cr_assert_eq(spapr_console_push_input(T.m, NULL, 1), 0);
}

Test(hcall, get_term_char_from_the_callback)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    t_use_get_chars(&cfg);
    t_setup_cfg(&cfg);
    uint64_t o[4];
    g_string_assign(T.in, "0123456789abcdefXY");
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 16);
    cr_assert_eq(o[1], 0x3031323334353637ull);
    cr_assert_eq(o[2], 0x3839616263646566ull);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, VTY, 0, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 2);
    cr_assert_eq(o[1], 0x5859000000000000ull);
    cr_assert_eq(o[2], 0);
}

Test(hcall, console_hcalls_without_console)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    cfg.no_console = true;
    t_setup_cfg(&cfg);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, VTY, 1, 0x41ull << 56, 0, 0, NULL),
                 SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_PUT_TERM_CHAR, 0, 1, 0x41ull << 56, 0, 0, NULL),
                 SPAPR_H_PARAMETER);
    cr_assert_eq(t_hcall6(SPAPR_H_GET_TERM_CHAR, 0, 0, 0, 0, 0, NULL), SPAPR_H_PARAMETER);
    cr_assert_eq(spapr_console_push_input(T.m, (const uint8_t *)"a", 1), 0);
    cr_assert_eq(T.out->len, 0);
    /* and the vty interrupt is free for devices */
    cr_assert(spapr_irq_claim(T.m, SPAPR_IRQ_VIO, false, NULL));
}

/* ------------------------------------------------------------------------ */

Test(hcall, set_mode_endianness)
{
    const uint64_t LE = SPAPR_H_SET_MODE_RESOURCE_LE;
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 1, LE, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    cr_assert_eq(T.endian_calls, 1);
    cr_assert(T.last_little);
    cr_assert(spapr_machine_interrupts_little_endian(T.m));
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 0, LE, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    cr_assert_eq(T.endian_calls, 2);
    cr_assert_not(T.last_little);
    cr_assert_not(spapr_machine_interrupts_little_endian(T.m));
    /* errors, in QEMU's order: value1, value2, then mflags */
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 9, LE, 1, 1, 0, NULL), SPAPR_H_P3);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 9, LE, 0, 1, 0, NULL), SPAPR_H_P4);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 2, LE, 0, 0, 0, NULL), SPAPR_H_UNSUPPORTED_FLAG);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, UINT64_C(1) << 32 | 1, LE, 0, 0, 0, NULL),
                 SPAPR_H_UNSUPPORTED_FLAG);
    cr_assert_eq(T.endian_calls, 2);
    /* unknown resources */
    static const uint64_t res[] = { 0, 1, 2, 5, UINT64_C(1) << 32 | 4, UINT64_MAX };
    for (size_t i = 0; i < G_N_ELEMENTS(res); i++) {
        cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 1, res[i], 0, 0, 0, NULL), SPAPR_H_P2);
    }
    cr_assert_eq(T.endian_calls, 2);

    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 1, LE, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    spapr_machine_reset(T.m);
    cr_assert_not(spapr_machine_interrupts_little_endian(T.m));
}

Test(hcall, set_mode_address_translation)
{
    const uint64_t AT = SPAPR_H_SET_MODE_RESOURCE_ADDR_TRANS_MODE;
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 3, AT, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    cr_assert_eq(spapr_machine_addr_trans_mode(T.m), 3);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 1, AT, 0, 0, 0, NULL), SPAPR_H_UNSUPPORTED_FLAG);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 2, AT, 0, 0, 0, NULL), SPAPR_H_UNSUPPORTED_FLAG);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 4, AT, 0, 0, 0, NULL), SPAPR_H_UNSUPPORTED_FLAG);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 0, AT, 1, 0, 0, NULL), SPAPR_H_P3);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 0, AT, 0, 1, 0, NULL), SPAPR_H_P4);
    cr_assert_eq(spapr_machine_addr_trans_mode(T.m), 3);
    cr_assert_eq(t_hcall6(SPAPR_H_SET_MODE, 0, AT, 0, 0, 0, NULL), SPAPR_H_SUCCESS);
    cr_assert_eq(spapr_machine_addr_trans_mode(T.m), 0);
    cr_assert_eq(T.endian_calls, 0);
}

/* ------------------------------------------------------------------------ */

Test(hcall, logical_ci_on_ram_is_big_endian)
{
    uint64_t o[4];
    const uint8_t bytes[8] = { 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18 };
    cr_assert_eq(vmem_write(T.mem, 0x3000, bytes, 8), 0);
    static const struct {
        uint64_t size, want;
    } loads[] = { { 1, 0x11 }, { 2, 0x1112 }, { 4, 0x11121314 }, { 8, 0x1112131415161718 } };
    for (size_t i = 0; i < G_N_ELEMENTS(loads); i++) {
        cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, loads[i].size, 0x3000, 0, 0, 0, o),
                     SPAPR_H_SUCCESS);
        cr_assert_eq(o[0], loads[i].want);
    }
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, 2, 0x3002, 0xaabbccdd, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(0x3000), 0x1112ccdd, "stores are truncated to their size");
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, 8, T_RAM_SIZE - 8, 0x0102030405060708, 0, 0,
                          o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(T_RAM_SIZE - 4), 0x05060708);
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, 8, T_RAM_SIZE - 8, 0, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0x0102030405060708);
    cr_assert_eq(T.mmio_calls, 0);
    /* bad sizes */
    static const uint64_t sizes[] = { 0, 3, 5, 16, UINT64_MAX };
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, sizes[i], 0x3000, 0, 0, 0, o),
                     SPAPR_H_PARAMETER);
        cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, sizes[i], 0x3000, 0, 0, 0, o),
                     SPAPR_H_PARAMETER);
    }
    cr_assert_eq(t_rd32(0x3000), 0x1112ccdd);
}

Test(hcall, logical_ci_crossing_the_end_of_ram_is_unassigned)
{
    uint64_t o[4];
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, 8, T_RAM_SIZE - 4, 0, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], UINT64_MAX);
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, 8, T_RAM_SIZE - 4, 0, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(t_rd32(T_RAM_SIZE - 4), 0);
    cr_assert_eq(T.mmio_calls, 0);
    cr_assert_eq(T.last_level, SPAPR_LOG_GUEST_ERROR);
}

Test(hcall, logical_ci_beyond_ram_goes_to_the_vmm)
{
    uint64_t o[4];
    T.mmio_load_value = 0x1122334455667788;
    /* the guard region right after RAM is guest memory too, but not RAM */
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, 4, T_RAM_SIZE, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(T.mmio_calls, 1);
    cr_assert_eq(T.mmio_addr, T_RAM_SIZE);
    cr_assert_eq(T.mmio_size, 4);
    cr_assert_not(T.mmio_write);
    cr_assert_eq(o[0], 0x55667788, "truncated to the access size");
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, 2, 0x100000000, 0xabcdef, 0, 0, o),
                 SPAPR_H_SUCCESS);
    cr_assert_eq(T.mmio_calls, 2);
    cr_assert(T.mmio_write);
    cr_assert_eq(T.mmio_value, 0xcdef);
    /* nothing there */
    T.mmio_rc = -ENODEV;
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, 2, 0x100000000, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0xffff);
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_STORE, 1, 0x100000000, 1, 0, 0, o),
                 SPAPR_H_SUCCESS);
}

Test(hcall, logical_ci_without_mmio_callback)
{
    spapr_machine_free(T.m);
    SpaprMachineConfig cfg = t_config(1);
    cfg.callbacks.mmio = NULL;
    t_setup_cfg(&cfg);
    uint64_t o[4];
    cr_assert_eq(t_hcall6(SPAPR_H_LOGICAL_CI_LOAD, 1, UINT64_MAX, 0, 0, 0, o), SPAPR_H_SUCCESS);
    cr_assert_eq(o[0], 0xff);
}
