/* SPDX-License-Identifier: MIT */
/* Test fixture: an instance with guest memory, a line recorder and a log
 * recorder. */
#ifndef XIVE_TEST_HELPERS_H
#define XIVE_TEST_HELPERS_H

#include <stdbool.h>
#include <stdint.h>

#include "xive/xive.h"

#define T_RAM_BASE UINT64_C(0x100000)
#define T_RAM_SIZE UINT64_C(0x200000)
#define T_QPAGE(vcpu, prio) (T_RAM_BASE + ((uint64_t)(vcpu) * 8 + (prio)) * 0x1000)

typedef struct TLineEvent {
    uint32_t vcpu;
    XiveLine line;
    bool level;
} TLineEvent;

typedef struct TFixture {
    Xive *x;
    VMemMap *mem;
    TLineEvent lines[256];
    unsigned nlines;
    char last_log[256];
    unsigned nlogs;
} TFixture;

extern TFixture T;

/* Creates T.x (nr_vcpus, nr_irqs, shift, flags) over a fresh guest RAM. */
void t_setup(uint32_t nr_vcpus, uint32_t nr_irqs, uint32_t shift, uint32_t flags);
void t_teardown(void);

/* MMIO shorthands that assert the call itself succeeded. */
uint64_t t_esb_load(uint64_t offset, unsigned size);
void t_esb_store(uint64_t offset, unsigned size, uint64_t value);
uint64_t t_tm_load(uint32_t vcpu, XiveTmPage page, uint32_t offset, unsigned size);
void t_tm_store(uint32_t vcpu, XiveTmPage page, uint32_t offset, unsigned size, uint64_t v);

/* Routes lisn to END (vcpu, prio) with EISN data, queue at T_QPAGE. */
void t_route(uint32_t lisn, uint32_t vcpu, uint8_t prio, uint32_t data);
/* Guest memory word (big-endian) at gpa. */
uint32_t t_mem_be32(uint64_t gpa);
/* Last recorded level change of a line, or -1 if none. */
int t_last_line(uint32_t vcpu, XiveLine line);

#endif
