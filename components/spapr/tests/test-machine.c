/* SPDX-License-Identifier: MIT */
/* Machine creation and its checks, IRQ numbers, devices, MMIO routing,
 * the guest-error log. */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"

TestSuite(machine, .init = t_setup_default, .fini = t_teardown_default);

static void expect_new_fails(SpaprMachineConfig cfg, int code)
{
    GError *err = NULL;
    SpaprMachine *m = spapr_machine_new(&cfg, &err);
    cr_assert_null(m);
    cr_assert_not_null(err);
    cr_assert(g_error_matches(err, SPAPR_ERROR, code), "got %d: %s", err->code, err->message);
    g_error_free(err);
}

Test(machine, configuration_is_checked)
{
    GError *err = NULL;
    cr_assert_null(spapr_machine_new(NULL, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);

    SpaprMachineConfig c = t_config(1);
    c.mem = NULL;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.ram_size = 0;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.ram_size = T_RAM_SIZE - 0x1000;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.ram_size = T_RAM_SIZE + 2 * T_GUARD_SIZE; /* not all backed */
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(0);
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(SPAPR_MAX_VCPUS + 1);
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.irq_mode = SPAPR_IRQ_MODE_XICS;
    expect_new_fails(c, SPAPR_ERROR_UNSUPPORTED);
    c = t_config(1), c.irq_mode = (SpaprIrqMode)7;
    expect_new_fails(c, SPAPR_ERROR_UNSUPPORTED);
    c = t_config(1), c.initrd_start = T_RAM_SIZE - 0x1000, c.initrd_size = 0x1001;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.initrd_start = 0x1000, c.initrd_size = UINT64_MAX;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.rtas_base = 0x1002;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.rtas_base = T_RAM_SIZE - 0x100;
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.esb_base = XIVE_SPAPR_TIMA_BASE; /* ESB over the TIMA */
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.tima_base = 0x100000; /* inside RAM */
    expect_new_fails(c, SPAPR_ERROR_INVALID);
    c = t_config(1), c.esb_base = UINT64_MAX - 0x1000; /* wraps */
    expect_new_fails(c, SPAPR_ERROR_INVALID);

    /* an RTAS area above 4 GiB cannot be described in one cell */
    VMemMap *big;
    cr_assert_eq(vmem_map_new(&big), 0);
    cr_assert_eq(vmem_map_add_anon(big, 0, UINT64_C(8) << 30), 0);
    c = t_config(1), c.mem = big, c.ram_size = UINT64_C(8) << 30;
    c.rtas_base = UINT64_C(5) << 30;
    SpaprMachine *m = spapr_machine_new(&c, &err);
    cr_assert_null(m);
    g_clear_error(&err);
    c.rtas_base = 0; /* default: below 2 GiB */
    m = spapr_machine_new(&c, &err);
    cr_assert_not_null(m);
    cr_assert_eq(spapr_machine_rtas_base(m), 0x80000000 - SPAPR_RTAS_AREA_SIZE);
    spapr_machine_free(m);
    vmem_map_free(big);
}

Test(machine, defaults_and_accessors)
{
    cr_assert_eq(spapr_machine_nr_vcpus(T.m), 2);
    cr_assert_eq(spapr_machine_ram_size(T.m), T_RAM_SIZE);
    cr_assert_eq(spapr_machine_esb_base(T.m), XIVE_SPAPR_ESB_BASE);
    cr_assert_eq(spapr_machine_tima_base(T.m), XIVE_SPAPR_TIMA_BASE);
    cr_assert_eq(spapr_machine_rtas_base(T.m), T_RAM_SIZE - SPAPR_RTAS_AREA_SIZE);
    Xive *x = spapr_machine_xive(T.m);
    cr_assert_not_null(x);
    cr_assert_eq(xive_nr_vcpus(x), 2);
    cr_assert_eq(xive_nr_irqs(x), SPAPR_NR_IRQS);
    cr_assert_eq(xive_esb_shift(x), XIVE_ESB_64K_2PAGE);
    cr_assert_not(spapr_machine_xive_enabled(T.m));
    cr_assert_not(spapr_machine_cpu_stopped(T.m, 0));
    cr_assert(spapr_machine_cpu_stopped(T.m, 1));
    cr_assert_not(spapr_machine_cpu_stopped(T.m, 2));
    /* the IPIs and the vty interrupt are claimed as MSIs */
    for (uint32_t lisn = 0; lisn < SPAPR_NR_IRQS; lisn++) {
        uint64_t eas;
        cr_assert_eq(xive_eas_get(x, lisn, &eas), 0);
        bool want = lisn < 2 || lisn == SPAPR_IRQ_VIO;
        cr_assert_eq(xive_eas_is_valid(eas), want, "LISN 0x%x", lisn);
    }
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(x, SPAPR_IRQ_VIO, &info), 0);
    cr_assert_not(info.lsi);

    /* NULL is harmless everywhere */
    spapr_machine_free(NULL);
    spapr_machine_reset(NULL);
    cr_assert_null(spapr_machine_xive(NULL));
    cr_assert_eq(spapr_machine_nr_vcpus(NULL), 0);
    cr_assert_eq(spapr_machine_ram_size(NULL), 0);
    cr_assert_eq(spapr_machine_esb_base(NULL), 0);
    cr_assert_eq(spapr_machine_end_esb_base(NULL), 0);
    cr_assert_eq(spapr_machine_tima_base(NULL), 0);
    cr_assert_eq(spapr_machine_rtas_base(NULL), 0);
    cr_assert_not(spapr_machine_xive_enabled(NULL));
    cr_assert_eq(spapr_machine_compat_pvr(NULL), 0);
    cr_assert_not(spapr_machine_interrupts_little_endian(NULL));
    cr_assert_eq(spapr_machine_addr_trans_mode(NULL), 0);
    cr_assert_not(spapr_machine_cpu_stopped(NULL, 0));
    cr_assert_eq(spapr_machine_guest_error_count(NULL), 0);
    cr_assert_not(spapr_machine_set_cpu_stopped(NULL, 0, true, NULL));
    cr_assert_not(spapr_machine_set_cpu_stopped(T.m, 2, true, NULL));
    cr_assert_null(spapr_machine_build_fdt(NULL, NULL));
}

/* ------------------------------------------------------------------------ */

Test(machine, irq_claim_alloc_free)
{
    GError *err = NULL;
    uint32_t lisn = 0;

    cr_assert_not(spapr_irq_claim(T.m, 0, false, &err), "IPI of vCPU 0");
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_BUSY));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_claim(T.m, SPAPR_IRQ_VIO, false, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_BUSY));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_claim(T.m, SPAPR_NR_IRQS, false, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_claim(NULL, 5, false, NULL));

    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_VIO, false, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_VIO + 1, "0x1100 is the vty's");
    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_LSI, true, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_PCI_LSI);
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(spapr_machine_xive(T.m), lisn, &info), 0);
    cr_assert(info.lsi);
    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_LSI, true, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_PCI_LSI + 1);
    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_MSI, false, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_MSI);
    cr_assert_not(spapr_irq_alloc(T.m, (SpaprIrqRange)3, false, &lisn, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_MSI, false, NULL, NULL));

    /* fill the VIO range */
    for (uint32_t i = SPAPR_IRQ_VIO + 2; i < SPAPR_IRQ_PCI_LSI; i++) {
        cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_VIO, false, &lisn, NULL));
        cr_assert_eq(lisn, i);
    }
    lisn = 42;
    cr_assert_not(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_VIO, false, &lisn, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NO_SPACE));
    cr_assert_eq(lisn, 42, "untouched on error");
    g_clear_error(&err);

    /* free */
    cr_assert_not(spapr_irq_free(T.m, 1, &err), "an IPI");
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_free(T.m, SPAPR_IRQ_VIO, &err), "the vty's");
    g_clear_error(&err);
    cr_assert_not(spapr_irq_free(T.m, SPAPR_IRQ_MSI + 1, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_free(T.m, SPAPR_NR_IRQS, &err));
    g_clear_error(&err);
    cr_assert(spapr_irq_free(T.m, SPAPR_IRQ_VIO + 5, &err));
    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_VIO, false, &lisn, NULL));
    cr_assert_eq(lisn, SPAPR_IRQ_VIO + 5, "freed numbers are reused");
}

Test(machine, irq_set_level)
{
    GError *err = NULL;
    cr_assert_not(spapr_irq_set_level(T.m, SPAPR_IRQ_MSI, true, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND));
    g_clear_error(&err);
    cr_assert_not(spapr_irq_set_level(T.m, SPAPR_NR_IRQS, true, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert(spapr_irq_claim(T.m, SPAPR_IRQ_PCI_LSI, true, NULL));
    cr_assert(spapr_irq_set_level(T.m, SPAPR_IRQ_PCI_LSI, true, &err));
    XiveSourceInfo info;
    cr_assert_eq(xive_source_info(spapr_machine_xive(T.m), SPAPR_IRQ_PCI_LSI, &info), 0);
    cr_assert(info.asserted);
}

Test(machine, virtio_mmio_devices)
{
    GError *err = NULL;
    uint32_t lisn = 0;
    SpaprVirtioMmio d = { .base = 0x100000000, .size = 0x200 };

    cr_assert(spapr_machine_add_virtio_mmio(T.m, &d, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_PCI_LSI);
    d.base = 0x100000200, d.msi = true;
    cr_assert(spapr_machine_add_virtio_mmio(T.m, &d, &lisn, &err));
    cr_assert_eq(lisn, SPAPR_IRQ_MSI);
    d.base = 0x100000400, d.msi = false, d.lisn = 0x1500;
    cr_assert(spapr_machine_add_virtio_mmio(T.m, &d, &lisn, &err));
    cr_assert_eq(lisn, 0x1500);
    cr_assert_not(spapr_irq_free(T.m, 0x1500, &err), "owned by the device");
    g_clear_error(&err);

    static const struct {
        SpaprVirtioMmio d;
        int code;
    } bad[] = {
        { { 0x200000000, 0, 0, false }, SPAPR_ERROR_INVALID },          /* no size */
        { { UINT64_MAX - 0xff, 0x200, 0, false }, SPAPR_ERROR_INVALID }, /* wraps */
        { { 0x200000000, 0x200, 5, false }, SPAPR_ERROR_INVALID },      /* an IPI number */
        { { 0x200000000, 0x200, SPAPR_NR_IRQS, false }, SPAPR_ERROR_INVALID },
        { { 0x200000000, 0x200, SPAPR_IRQ_VIO, false }, SPAPR_ERROR_BUSY }, /* claimed */
        { { T_RAM_SIZE - 0x100, 0x200, 0, false }, SPAPR_ERROR_BUSY },  /* RAM */
        { { 0x1000000, 0x200, 0, false }, SPAPR_ERROR_BUSY },
        { { XIVE_SPAPR_ESB_BASE + 0x1000, 0x200, 0, false }, SPAPR_ERROR_BUSY },
        { { XIVE_SPAPR_ESB_BASE + ((uint64_t)SPAPR_NR_IRQS << 17), 0x200, 0, false },
          SPAPR_ERROR_BUSY }, /* END ESB pages */
        { { XIVE_SPAPR_TIMA_BASE + 0x3fff0, 0x200, 0, false }, SPAPR_ERROR_BUSY },
        { { 0x100000100, 0x200, 0, false }, SPAPR_ERROR_BUSY },         /* another device */
        { { 0xfffff000, 0x100000000, 0, false }, SPAPR_ERROR_BUSY },    /* all of them */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        lisn = 77;
        cr_assert_not(spapr_machine_add_virtio_mmio(T.m, &bad[i].d, &lisn, &err), "case %zu", i);
        cr_assert(g_error_matches(err, SPAPR_ERROR, bad[i].code), "case %zu: %s", i,
                  err->message);
        cr_assert_eq(lisn, 77);
        g_clear_error(&err);
    }
    cr_assert_not(spapr_machine_add_virtio_mmio(T.m, NULL, &lisn, &err));
    g_clear_error(&err);
    cr_assert_not(spapr_machine_add_virtio_mmio(NULL, &d, &lisn, &err));
    g_clear_error(&err);
    /* the failed adds claimed nothing */
    cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_LSI, true, &lisn, NULL));
    cr_assert_eq(lisn, SPAPR_IRQ_PCI_LSI + 1);
}

Test(machine, virtio_lisn_range_exhausted)
{
    GError *err = NULL;
    uint32_t lisn;
    for (uint32_t i = 0; i < 0x100; i++) {
        cr_assert(spapr_irq_alloc(T.m, SPAPR_IRQ_RANGE_LSI, true, &lisn, NULL));
    }
    SpaprVirtioMmio d = { .base = 0x100000000, .size = 0x200 };
    cr_assert_not(spapr_machine_add_virtio_mmio(T.m, &d, &lisn, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NO_SPACE));
    g_clear_error(&err);
}

/* ------------------------------------------------------------------------ */

Test(machine, mmio_routing)
{
    GError *err = NULL;
    uint64_t v = 0;
    const uint64_t esb = XIVE_SPAPR_ESB_BASE, tima = XIVE_SPAPR_TIMA_BASE;

    /* ESB: the management page of IPI 1, get PQ */
    cr_assert(spapr_machine_mmio(T.m, 0, esb + (1 << 17) + 0x10000 + XIVE_ESB_GET, 8, &v, false,
                                 &err));
    cr_assert_eq(v, XIVE_ESB_OFF);
    v = 0;
    cr_assert(spapr_machine_mmio(T.m, 0, esb + (1 << 17) + 0x10000 + XIVE_ESB_SET_PQ_00, 8, &v,
                                 false, &err));
    cr_assert(spapr_machine_mmio(T.m, 0, esb + (1 << 17), 8, &v, true, &err), "trigger");
    uint8_t pq;
    cr_assert_eq(xive_source_get_pq(spapr_machine_xive(T.m), 1, &pq), 0);
    cr_assert_eq(pq, XIVE_ESB_PENDING);
    /* TIMA: each vCPU its own thread context */
    v = 0xff;
    cr_assert(spapr_machine_mmio(T.m, 1, tima + 2 * 0x10000 + 0x11, 1, &v, true, &err));
    uint8_t regs[XIVE_TM_REGS_SIZE];
    cr_assert_eq(xive_tctx_regs(spapr_machine_xive(T.m), 1, regs), 0);
    cr_assert_eq(regs[XIVE_TM_QW1_OS + XIVE_TM_CPPR], 0xff);
    cr_assert_eq(xive_tctx_regs(spapr_machine_xive(T.m), 0, regs), 0);
    cr_assert_eq(regs[XIVE_TM_QW1_OS + XIVE_TM_CPPR], 0);
    cr_assert(spapr_machine_mmio(T.m, 0, tima + 2 * 0x10000 + 0x10, 8, &v, false, &err));
    cr_assert_eq(v, UINT64_C(0x000000ffff0000ff));
    /* the last byte of the TIMA, the END ESB window is not mapped */
    cr_assert(spapr_machine_mmio(T.m, 0, tima + 4 * 0x10000 - 1, 1, &v, false, &err));
    cr_assert_not(spapr_machine_mmio(T.m, 0, tima + 4 * 0x10000, 1, &v, false, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND));
    g_clear_error(&err);
    cr_assert_not(spapr_machine_mmio(T.m, 0, spapr_machine_end_esb_base(T.m), 8, &v, false,
                                     &err));
    g_clear_error(&err);
    cr_assert_not(spapr_machine_mmio(T.m, 0, 0x1000, 8, &v, false, &err));
    g_clear_error(&err);
    cr_assert_not(spapr_machine_mmio(T.m, 2, tima, 8, &v, false, &err));
    cr_assert(g_error_matches(err, SPAPR_ERROR, SPAPR_ERROR_INVALID));
    g_clear_error(&err);
    cr_assert_not(spapr_machine_mmio(T.m, 0, tima, 8, NULL, false, &err));
    g_clear_error(&err);
}

Test(machine, xive_messages_reach_the_log_callback)
{
    uint64_t v = 0;
    T.nlogs = 0;
    /* a misaligned ESB load is a guest error inside xive */
    cr_assert(spapr_machine_mmio(T.m, 0, XIVE_SPAPR_ESB_BASE + 0x10003, 8, &v, false, NULL));
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_geq(T.nlogs, 1);
    cr_assert(g_str_has_prefix(T.last_log, "xive: "), "%s", T.last_log);
}

Test(machine, guest_errors_are_counted_and_rate_limited)
{
    uint64_t before = spapr_machine_guest_error_count(T.m);
    T.nlogs = 0;
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(t_hcall6(0x4, 0, 0, 0, 0, 0, NULL), SPAPR_H_FUNCTION);
    }
    cr_assert_eq(spapr_machine_guest_error_count(T.m) - before, 1000);
    cr_assert_leq(T.nlogs, 32, "%d messages got through", T.nlogs);
    cr_assert_geq(T.nlogs, 1);
}
