/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <criterion/criterion.h>
#include <string.h>

TFixture T;

static void on_put(void *opaque, const uint8_t *buf, size_t len)
{
    g_string_append_len(((TFixture *)opaque)->out, (const char *)buf, (gssize)len);
}

static size_t on_get(void *opaque, uint8_t *buf, size_t max)
{
    TFixture *t = opaque;
    size_t n = MIN(max, t->in->len);
    memcpy(buf, t->in->str, n);
    g_string_erase(t->in, 0, (gssize)n);
    return n;
}

static void on_endian(void *opaque, bool little)
{
    TFixture *t = opaque;
    t->endian_calls++;
    t->last_little = little;
}

static int on_mmio(void *opaque, uint64_t addr, unsigned size, uint64_t *value, bool is_write)
{
    TFixture *t = opaque;
    t->mmio_calls++;
    t->mmio_addr = addr;
    t->mmio_size = size;
    t->mmio_write = is_write;
    if (is_write) {
        t->mmio_value = *value;
    } else if (t->mmio_rc == 0) {
        *value = t->mmio_load_value;
    }
    return t->mmio_rc;
}

static void on_power_off(void *opaque)
{
    ((TFixture *)opaque)->power_offs++;
}

static void on_reboot(void *opaque)
{
    ((TFixture *)opaque)->reboots++;
}

static void on_start(void *opaque, uint32_t vcpu, uint64_t entry, uint64_t r3)
{
    TFixture *t = opaque;
    if (t->nstarts < 8) {
        t->starts[t->nstarts++] = (TStart){ vcpu, entry, r3 };
    }
}

static void on_stop(void *opaque, uint32_t vcpu)
{
    TFixture *t = opaque;
    if (t->nstops < 8) {
        t->stops[t->nstops++] = vcpu;
    }
}

static void on_fatal(void *opaque, const char *msg)
{
    g_ptr_array_add(((TFixture *)opaque)->fatals, g_strdup(msg));
}

static int64_t on_clock(void *opaque)
{
    return ((TFixture *)opaque)->clock;
}

static void on_log(void *opaque, SpaprLogLevel level, const char *msg)
{
    TFixture *t = opaque;
    t->nlogs++;
    t->last_level = level;
    g_strlcpy(t->last_log, msg, sizeof(t->last_log));
}

SpaprMachineConfig t_config(uint32_t nr_vcpus)
{
    return (SpaprMachineConfig){
        .ram_size = T_RAM_SIZE,
        .nr_vcpus = nr_vcpus,
        .mem = T.mem,
        .callbacks = {
            .put_chars = on_put,
            .set_endian = on_endian,
            .mmio = on_mmio,
            .power_off = on_power_off,
            .reboot = on_reboot,
            .start_cpu = on_start,
            .stop_self = on_stop,
            .fatal = on_fatal,
            .clock_ns = on_clock,
            .log = on_log,
        },
        .opaque = &T,
    };
}

void t_use_get_chars(SpaprMachineConfig *cfg)
{
    cfg->callbacks.get_chars = on_get;
}

static void t_mem(void)
{
    memset(&T, 0, sizeof(T));
    T.out = g_string_new(NULL);
    T.in = g_string_new(NULL);
    T.fatals = g_ptr_array_new_with_free_func(g_free);
    T.clock = T_CLOCK_NS;
    cr_assert_eq(vmem_map_new(&T.mem), 0);
    cr_assert_eq(vmem_map_add_anon(T.mem, 0, T_RAM_SIZE), 0);
    cr_assert_eq(vmem_map_add_anon(T.mem, T_RAM_SIZE, T_GUARD_SIZE), 0);
    cr_assert_eq(vmem_fill(T.mem, T_RAM_SIZE, T_GUARD_BYTE, T_GUARD_SIZE), 0);
}

void t_setup_cfg(const SpaprMachineConfig *cfg)
{
    GError *err = NULL;
    SpaprMachineConfig c = *cfg;
    c.mem = T.mem;
    T.m = spapr_machine_new(&c, &err);
    cr_assert_not_null(T.m, "spapr_machine_new: %s", err ? err->message : "?");
}

void t_setup(uint32_t nr_vcpus)
{
    t_mem();
    SpaprMachineConfig cfg = t_config(nr_vcpus);
    t_setup_cfg(&cfg);
}

void t_setup_default(void)
{
    t_setup(2);
}

void t_teardown(void)
{
    spapr_machine_free(T.m);
    vmem_map_free(T.mem);
    g_string_free(T.out, TRUE);
    g_string_free(T.in, TRUE);
    g_ptr_array_free(T.fatals, TRUE);
    memset(&T, 0, sizeof(T));
}

void t_teardown_default(void)
{
    t_assert_guard_intact();
    t_teardown();
}

int64_t t_hcall(uint32_t vcpu, uint64_t regs[SPAPR_HCALL_NREGS])
{
    GError *err = NULL;
    cr_assert(spapr_hcall(T.m, vcpu, regs, &err), "spapr_hcall: %s", err ? err->message : "?");
    return (int64_t)regs[0];
}

int64_t t_hcall6(uint64_t opcode, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                 uint64_t a8, uint64_t out[4])
{
    uint64_t regs[SPAPR_HCALL_NREGS] = { opcode, a4, a5, a6, a7, a8 };
    int64_t rc = t_hcall(0, regs);
    if (out) {
        memcpy(out, regs + 1, 4 * sizeof(uint64_t));
    }
    return rc;
}

void t_wr32(uint64_t gpa, uint32_t v)
{
    cr_assert_eq(vmem_write_be32(T.mem, gpa, v), 0);
}

uint32_t t_rd32(uint64_t gpa)
{
    uint32_t v;
    cr_assert_eq(vmem_read_be32(T.mem, gpa, &v), 0);
    return v;
}

void t_wr8(uint64_t gpa, uint8_t v)
{
    cr_assert_eq(vmem_write_u8(T.mem, gpa, v), 0);
}

void t_assert_guard_intact(void)
{
    static uint8_t buf[T_GUARD_SIZE];
    cr_assert_eq(vmem_read(T.mem, T_RAM_SIZE, buf, sizeof(buf)), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], T_GUARD_BYTE, "guard byte %zu changed to 0x%02x", i, buf[i]);
    }
}

size_t t_write_cas_vector(uint64_t gpa, uint32_t pvr, uint32_t pvr_mask, uint8_t intc, uint8_t mmu)
{
    uint64_t a = gpa;
    /* PVR list: one entry, then the terminator (a value outside its mask) */
    t_wr32(a, pvr_mask), t_wr32(a + 4, pvr), a += 8;
    t_wr32(a, 0xfffffffe), t_wr32(a + 4, 0x0f000001), a += 8;
    t_wr8(a++, 4); /* five vectors */
    for (int v = 1; v <= 4; v++) {
        t_wr8(a++, 1); /* two bytes */
        t_wr8(a++, 0);
        t_wr8(a++, 0);
    }
    t_wr8(a++, 25); /* vector 5: 26 bytes */
    for (int i = 1; i <= 26; i++) {
        t_wr8(a++, i == 23 ? intc : i == 24 ? mmu : 0);
    }
    return (size_t)(a - gpa);
}

void t_cas_xive(void)
{
    t_write_cas_vector(0x10000, 0x0f000005, 0xffffffff, SPAPR_OV5_XIVE_EXPLOIT, 0x40);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_CAS, 0x10000, 0, 0 };
    cr_assert_eq(t_hcall(0, regs), SPAPR_H_SUCCESS);
    cr_assert(spapr_machine_xive_enabled(T.m));
}
