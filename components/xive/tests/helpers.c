/* SPDX-License-Identifier: MIT */
#include "helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

TFixture T;

static void on_line(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    TFixture *t = opaque;
    if (t->nlines < sizeof(t->lines) / sizeof(t->lines[0])) {
        t->lines[t->nlines++] = (TLineEvent){ vcpu, line, level };
    }
}

static void on_log(void *opaque, XiveLogLevel level, const char *msg)
{
    TFixture *t = opaque;
    (void)level;
    snprintf(t->last_log, sizeof(t->last_log), "%s", msg);
    t->nlogs++;
}

void t_setup(uint32_t nr_vcpus, uint32_t nr_irqs, uint32_t shift, uint32_t flags)
{
    memset(&T, 0, sizeof(T));
    cr_assert_eq(vmem_map_new(&T.mem), 0);
    cr_assert_eq(vmem_map_add_anon(T.mem, T_RAM_BASE, T_RAM_SIZE), 0);
    XiveConfig cfg = { .nr_vcpus = nr_vcpus, .nr_irqs = nr_irqs, .esb_shift = shift,
                       .flags = flags, .mem = T.mem };
    cr_assert_eq(xive_new(&cfg, &T.x), 0);
    xive_set_line_handler(T.x, on_line, &T);
    xive_set_log_handler(T.x, on_log, &T);
}

void t_teardown(void)
{
    xive_free(T.x);
    vmem_map_free(T.mem);
    T.x = NULL;
    T.mem = NULL;
}

uint64_t t_esb_load(uint64_t offset, unsigned size)
{
    uint64_t v = 0x5a5a5a5a5a5a5a5aull;
    cr_assert_eq(xive_esb_mmio(T.x, offset, size, &v, false), 0, "esb load @%#lx",
                 (unsigned long)offset);
    return v;
}

void t_esb_store(uint64_t offset, unsigned size, uint64_t value)
{
    cr_assert_eq(xive_esb_mmio(T.x, offset, size, &value, true), 0, "esb store @%#lx",
                 (unsigned long)offset);
}

uint64_t t_tm_load(uint32_t vcpu, XiveTmPage page, uint32_t offset, unsigned size)
{
    uint64_t v = 0x5a5a5a5a5a5a5a5aull;
    cr_assert_eq(xive_tima_mmio(T.x, vcpu, page, offset, size, &v, false), 0);
    return v;
}

void t_tm_store(uint32_t vcpu, XiveTmPage page, uint32_t offset, unsigned size, uint64_t v)
{
    cr_assert_eq(xive_tima_mmio(T.x, vcpu, page, offset, size, &v, true), 0);
}

void t_route(uint32_t lisn, uint32_t vcpu, uint8_t prio, uint32_t data)
{
    cr_assert_eq(xive_queue_configure(T.x, vcpu, prio, T_QPAGE(vcpu, prio), 12,
                                      XIVE_QUEUE_ALWAYS_NOTIFY), 0);
    cr_assert_eq(xive_eas_set(T.x, lisn,
                              xive_eas_build(true, false, 0, xive_end_index(vcpu, prio), data)), 0);
    cr_assert_eq(xive_source_set_pq(T.x, lisn, XIVE_ESB_RESET, NULL), 0);
}

uint32_t t_mem_be32(uint64_t gpa)
{
    uint32_t v = 0;
    cr_assert_eq(vmem_read_be32(T.mem, gpa, &v), 0);
    return v;
}

int t_last_line(uint32_t vcpu, XiveLine line)
{
    for (unsigned i = T.nlines; i-- > 0;) {
        if (T.lines[i].vcpu == vcpu && T.lines[i].line == line) {
            return T.lines[i].level;
        }
    }
    return -1;
}
