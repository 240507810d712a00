/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: random hypercalls (numbers and registers), random RTAS
 * argument blocks and CAS vectors in a small guest RAM, XIVE MMIO and device
 * interrupts, resets and device tree builds, on a fresh machine per input.
 *
 * Guest memory is 64 KiB of RAM followed by a guard region that is guest
 * memory too but not RAM: the machine must never write there (checked after
 * every input) nor crash, leak or loop, whatever the registers say. Every
 * hcall must come back with a PAPR return code.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spapr/spapr.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#define RAM (UINT64_C(64) << 10)
#define GUARD UINT64_C(0x1000)
#define GUARD_BYTE 0x5a /* 0x5a5a5a5a5a5a5a5a as words */
#define MAX_OPS 256

typedef struct Input {
    const uint8_t *p;
    size_t n;
} Input;

static uint8_t u8(Input *in)
{
    if (!in->n) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static uint64_t uN(Input *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v = v << 8 | u8(in);
    }
    return v;
}

static const uint64_t interesting[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 17, 21, 24, 0xff, 0x100, 0x3000, 0xfff8, 0x10000,
    SPAPR_VTY_REG, SPAPR_IRQ_VIO, SPAPR_IRQ_PCI_LSI, SPAPR_IRQ_MSI, SPAPR_NR_IRQS - 1,
    SPAPR_NR_IRQS, RAM - 44, RAM - 12, RAM - 8, RAM - 4, RAM, RAM + 8, RAM + GUARD,
    0x0fffffffffffffffull, 0xf000000000000000ull, 0x8000000000000000ull, UINT64_MAX,
    UINT64_MAX - 7, XIVE_PPC_BIT64(62), XIVE_PPC_BIT64(62) | 1, 0x100000000ull,
};

/* A register value: small numbers, addresses around RAM, raw 64 bits. */
static uint64_t value(Input *in)
{
    uint8_t kind = u8(in);
    switch (kind % 6) {
    case 0:
        return kind >> 3;
    case 1:
        return interesting[u8(in) % (sizeof(interesting) / sizeof(interesting[0]))];
    case 2:
        return (uN(in, 2) << 2) % (RAM + GUARD + 64); /* an address in or near RAM */
    case 3:
        return RAM - (u8(in) & 0x7f);
    case 4:
        return uN(in, 8);
    default:
        return uN(in, 1) << (kind >> 2 & 63);
    }
}

static const uint64_t opcodes[] = {
    SPAPR_H_GET_TERM_CHAR,         SPAPR_H_PUT_TERM_CHAR,          SPAPR_H_SET_MODE,
    SPAPR_H_LOGICAL_CI_LOAD,       SPAPR_H_LOGICAL_CI_STORE,       SPAPR_H_INT_GET_SOURCE_INFO,
    SPAPR_H_INT_SET_SOURCE_CONFIG, SPAPR_H_INT_GET_SOURCE_CONFIG,  SPAPR_H_INT_GET_QUEUE_INFO,
    SPAPR_H_INT_SET_QUEUE_CONFIG,  SPAPR_H_INT_GET_QUEUE_CONFIG,   SPAPR_H_INT_SET_OS_REPORTING_LINE,
    SPAPR_H_INT_GET_OS_REPORTING_LINE, SPAPR_H_INT_ESB,            SPAPR_H_INT_SYNC,
    SPAPR_H_INT_RESET,             SPAPR_KVMPPC_H_RTAS,            SPAPR_KVMPPC_H_CAS,
};

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                 */

typedef struct State {
    Input *in;
    int64_t clock;
    int mmio_rc;
    int fdt_builds; /* a device tree build is slow under libFuzzer's memcmp hooks */
} State;

#define MAX_FDT_BUILDS 1

static void cb_put(void *o, const uint8_t *buf, size_t len)
{
    (void)o;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < len; i++) {
        sink ^= buf[i]; /* touch every byte: ASan checks the length */
    }
    (void)sink;
}

static size_t cb_get(void *o, uint8_t *buf, size_t max)
{
    State *s = o;
    size_t n = u8(s->in) % 20; /* may claim more than max: must be clamped */
    for (size_t i = 0; i < n && i < max; i++) {
        buf[i] = (uint8_t)i;
    }
    return n;
}

static int cb_mmio(void *o, uint64_t addr, unsigned size, uint64_t *value, bool is_write)
{
    State *s = o;
    CHECK(size == 1 || size == 2 || size == 4 || size == 8);
    CHECK(addr >= RAM);
    if (!is_write) {
        *value = addr * 0x9e3779b97f4a7c15ull;
    }
    return s->mmio_rc;
}

static int64_t cb_clock(void *o)
{
    return ((State *)o)->clock;
}

static void cb_log(void *o, SpaprLogLevel level, const char *msg)
{
    (void)o;
    CHECK((unsigned)level < _SPAPR_LOG_MAX);
    CHECK(msg && strlen(msg) < 4096);
}

static void cb_fatal(void *o, const char *msg)
{
    (void)o;
    CHECK(msg && msg[0]);
}

static void cb_start(void *o, uint32_t vcpu, uint64_t entry, uint64_t r3)
{
    (void)o, (void)entry, (void)r3;
    CHECK(vcpu < 4);
}

static void cb_stop(void *o, uint32_t vcpu)
{
    (void)o;
    CHECK(vcpu < 4);
}

/* ------------------------------------------------------------------------ */

static bool rc_is_papr(int64_t rc)
{
    switch (rc) {
    case SPAPR_H_SUCCESS:
    case SPAPR_H_HARDWARE:
    case SPAPR_H_FUNCTION:
    case SPAPR_H_PARAMETER:
    case SPAPR_H_P2:
    case SPAPR_H_P3:
    case SPAPR_H_P4:
    case SPAPR_H_P5:
    case SPAPR_H_UNSUPPORTED_FLAG:
        return true;
    default:
        return false;
    }
}

static void ram_write(VMemMap *mem, uint64_t gpa, const void *buf, size_t len)
{
    if (len <= RAM && gpa <= RAM - len) {
        CHECK(vmem_write(mem, gpa, buf, len) == 0);
    }
}

static void op_hcall(SpaprMachine *m, Input *in, uint32_t nr_vcpus)
{
    uint64_t regs[SPAPR_HCALL_NREGS];
    uint8_t sel = u8(in);
    regs[0] = sel < 0xf0 ? opcodes[sel % (sizeof(opcodes) / sizeof(opcodes[0]))] : uN(in, 2);
    uint32_t vcpu = u8(in) % (nr_vcpus + 1); /* sometimes out of range */
    unsigned nregs = u8(in) % SPAPR_HCALL_NREGS;
    for (unsigned i = 1; i < SPAPR_HCALL_NREGS; i++) {
        regs[i] = i <= nregs ? value(in) : 0;
    }
    bool ok = spapr_hcall(m, vcpu, regs, NULL);
    CHECK(ok == (vcpu < nr_vcpus));
    if (ok) {
        CHECK(rc_is_papr((int64_t)regs[0]));
    }
}

static void op_rtas_block(SpaprMachine *m, VMemMap *mem, Input *in, uint32_t nr_vcpus)
{
    uint64_t addr = value(in);
    uint8_t words[12 + 4 * 16];
    uint8_t sel = u8(in);
    uint32_t token = sel < 0xe0 ? SPAPR_RTAS_TOKEN_BASE + sel % 10 : (uint32_t)uN(in, 4);
    uint32_t nargs = u8(in), nret = u8(in);
    /* mostly sane counts, sometimes huge */
    if (nargs < 0xf0) {
        nargs %= 9;
    } else {
        nargs = (uint32_t)uN(in, 4);
    }
    if (nret < 0xf0) {
        nret %= 10;
    } else {
        nret = (uint32_t)uN(in, 4);
    }
    vmem_cpu_to_be32(words, token);
    vmem_cpu_to_be32(words + 4, nargs);
    vmem_cpu_to_be32(words + 8, nret);
    size_t n = 12;
    for (uint32_t i = 0; i < nargs && i < 16; i++, n += 4) {
        vmem_cpu_to_be32(words + n, u8(in) < 0x80 ? u8(in) : (uint32_t)uN(in, 4));
    }
    ram_write(mem, addr & 0x0fffffffffffffffull, words, n);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_RTAS, addr };
    CHECK(spapr_hcall(m, u8(in) % nr_vcpus, regs, NULL));
    CHECK(rc_is_papr((int64_t)regs[0]));
}

static void op_rtas_by_name(SpaprMachine *m, Input *in)
{
    static const char *const names[] = { "display-character", "get-time-of-day",
                                         "set-time-of-day", "power-off", "system-reboot",
                                         "query-cpu-stopped-state", "start-cpu", "stop-self",
                                         "nope" };
    const char *name = names[u8(in) % (sizeof(names) / sizeof(names[0]))];
    uint32_t nargs = u8(in) % 9, nret = u8(in) % 10;
    uint64_t args = value(in), rets = value(in);
    int64_t hret = 1;
    if (spapr_rtas_call_by_name(m, name, nargs, args, nret, rets, &hret, NULL)) {
        CHECK(hret == SPAPR_H_SUCCESS || hret == SPAPR_H_PARAMETER);
    } else {
        CHECK(strcmp(name, "nope") == 0);
    }
}

static void op_cas(SpaprMachine *m, VMemMap *mem, Input *in, State *s)
{
    uint8_t vec[256];
    size_t n = 0;
    uint64_t addr = value(in) & 0xffff;
    uint8_t shape = u8(in);
    /* PVR list */
    unsigned npvr = shape & 3;
    for (unsigned i = 0; i < npvr; i++, n += 8) {
        uint32_t mask = u8(in) & 1 ? 0xffffffff : 0xffff0000;
        uint32_t pvr = u8(in) & 1 ? 0x0f000002 + (u8(in) & 7) : 0x004e0000;
        vmem_cpu_to_be32(vec + n, mask);
        vmem_cpu_to_be32(vec + n + 4, pvr);
    }
    vmem_cpu_to_be32(vec + n, 0xfffffffe);
    vmem_cpu_to_be32(vec + n + 4, 0x0f000001);
    n += 8;
    vec[n++] = (shape >> 2) & 7; /* vector count - 1 */
    while (n < sizeof(vec) && in->n && u8(in) & 1) {
        vec[n++] = u8(in);
    }
    /* byte 23 and 24 of a canonical vector 5, when the layout has room */
    if (n + 1 + 4 * 2 + 27 <= sizeof(vec) && (shape & 0x20)) {
        for (int v = 0; v < 4; v++) {
            vec[n++] = 0, vec[n++] = 0;
        }
        vec[n++] = 25;
        for (int i = 1; i <= 26; i++) {
            vec[n++] = i == 23 ? (uint8_t)(u8(in) & 0xc0) : i == 24 ? u8(in) : 0;
        }
    }
    ram_write(mem, addr, vec, n);
    uint64_t regs[SPAPR_HCALL_NREGS] = { SPAPR_KVMPPC_H_CAS, addr,
                                         shape & 0x40 ? value(in) : 0, shape & 0x80 ? value(in) : 0 };
    if (regs[3] && s->fdt_builds++ >= MAX_FDT_BUILDS) {
        regs[3] = 0; /* no buffer: no device tree build */
    }
    CHECK(spapr_hcall(m, 0, regs, NULL));
    CHECK(rc_is_papr((int64_t)regs[0]));
}

static void op_mmio(SpaprMachine *m, Input *in, uint32_t nr_vcpus)
{
    uint8_t sel = u8(in);
    uint64_t addr;
    switch (sel % 3) {
    case 0: /* the ESB pages of the first sources */
        addr = spapr_machine_esb_base(m) + (uN(in, 3) & 0x7ffffff);
        break;
    case 1:
        addr = spapr_machine_tima_base(m) + (uN(in, 3) & 0x3ffff);
        break;
    default:
        addr = value(in);
        break;
    }
    static const unsigned sizes[] = { 1, 2, 4, 8, 3, 16 };
    unsigned size = sizes[u8(in) % 6];
    uint64_t v = value(in);
    (void)spapr_machine_mmio(m, u8(in) % nr_vcpus, addr, size, &v, sel & 0x80, NULL);
}

static void op_misc(SpaprMachine *m, Input *in, State *s)
{
    uint8_t sel = u8(in);
    switch (sel % 12) {
    case 0:
        spapr_machine_reset(m);
        break;
    case 1:
        spapr_machine_select_xive(m, NULL);
        break;
    case 2: {
        if (s->fdt_builds++ < MAX_FDT_BUILDS) {
            GBytes *fdt = spapr_machine_build_fdt(m, NULL);
            CHECK(fdt);
            g_bytes_unref(fdt);
        }
        break;
    }
    case 3:
        (void)spapr_irq_set_level(m, (uint32_t)value(in) % (SPAPR_NR_IRQS + 2), sel & 0x80, NULL);
        break;
    case 4: {
        uint8_t buf[8] = { 'h', 'e', 'l', 'l', 'o', '\n', 0, 1 };
        (void)spapr_console_push_input(m, buf, u8(in) % 9);
        break;
    }
    case 5:
        s->clock = (int64_t)value(in);
        break;
    case 6:
        s->mmio_rc = sel & 0x80 ? -19 : 0;
        break;
    case 7:
        if (s->fdt_builds++ < MAX_FDT_BUILDS) {
            (void)spapr_machine_load_fdt(m, value(in), NULL, NULL);
        }
        break;
    default:
        (void)spapr_machine_set_cpu_stopped(m, u8(in) % 5, sel & 0x80, NULL);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static VMemMap *mem;
    static uint8_t guard[GUARD];

    if (!mem) {
        CHECK(vmem_map_new(&mem) == 0);
        CHECK(vmem_map_add_anon(mem, 0, RAM) == 0);
        CHECK(vmem_map_add_anon(mem, RAM, GUARD) == 0);
        memset(guard, GUARD_BYTE, sizeof(guard));
    }
    CHECK(vmem_fill(mem, 0, 0, RAM) == 0);
    CHECK(vmem_write(mem, RAM, guard, sizeof(guard)) == 0);

    Input in = { data, size };
    State s = { .in = &in, .clock = 1700000000000000000ll };
    uint8_t cfgb = u8(&in);
    uint32_t nr_vcpus = 1 + (cfgb & 3);
    SpaprMachineConfig cfg = {
        .ram_size = RAM,
        .nr_vcpus = nr_vcpus,
        .mem = mem,
        .no_console = cfgb & 4,
        .bootargs = cfgb & 8 ? "console=hvc0" : NULL,
        .initrd_start = 0x8000,
        .initrd_size = cfgb & 16 ? 0x1000 : 0,
        .callbacks = {
            .put_chars = cb_put,
            .get_chars = cfgb & 32 ? cb_get : NULL,
            .mmio = cfgb & 64 ? cb_mmio : NULL,
            .clock_ns = cb_clock,
            .log = cb_log,
            .fatal = cb_fatal,
            .start_cpu = cb_start,
            .stop_self = cb_stop,
        },
        .opaque = &s,
    };
    SpaprMachine *m = spapr_machine_new(&cfg, NULL);
    CHECK(m);
    if (cfgb & 128) {
        spapr_machine_select_xive(m, NULL);
    }
    SpaprVirtioMmio dev = { .base = 0x100000000ull, .size = 0x200 };
    CHECK(spapr_machine_add_virtio_mmio(m, &dev, NULL, NULL));

    for (int op = 0; op < MAX_OPS && in.n; op++) {
        switch (u8(&in) % 8) {
        case 0:
        case 1:
            op_hcall(m, &in, nr_vcpus);
            break;
        case 2: {
            uint64_t off = uN(&in, 2) % RAM;
            uint8_t len = u8(&in);
            uint8_t buf[256];
            size_t k;
            for (k = 0; k < len && in.n; k++) {
                buf[k] = u8(&in);
            }
            ram_write(mem, off, buf, k);
            break;
        }
        case 3:
            op_rtas_block(m, mem, &in, nr_vcpus);
            break;
        case 4:
            op_rtas_by_name(m, &in);
            break;
        case 5:
            op_cas(m, mem, &in, &s);
            break;
        case 6:
            op_mmio(m, &in, nr_vcpus);
            break;
        default:
            op_misc(m, &in, &s);
            break;
        }
    }
    spapr_machine_free(m);

    /* The guard is intact (a word-wise difference: memcmp is slow under
     * libFuzzer's hooks). */
    uint64_t check[GUARD / 8], diff = 0;
    CHECK(vmem_read(mem, RAM, check, sizeof(check)) == 0);
    for (size_t i = 0; i < GUARD / 8; i++) {
        diff |= check[i] ^ UINT64_C(0x5a5a5a5a5a5a5a5a);
    }
    CHECK(diff == 0);
    return 0;
}
