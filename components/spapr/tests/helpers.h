/* SPDX-License-Identifier: MIT */
/* Test fixture: a machine over 64 MiB of RAM followed by a guard region
 * the machine must never touch, and callbacks that record what they see. */
#ifndef SPAPR_TEST_HELPERS_H
#define SPAPR_TEST_HELPERS_H

#include <stdint.h>

#include "spapr/spapr.h"

#define T_RAM_SIZE (UINT64_C(64) << 20)
#define T_GUARD_SIZE UINT64_C(0x10000)
#define T_GUARD_BYTE 0xa5
#define T_CLOCK_NS INT64_C(1700000000123456789) /* 2023-11-14 22:13:20.123456789 UTC */

typedef struct TStart {
    uint32_t vcpu;
    uint64_t entry, r3;
} TStart;

typedef struct TFixture {
    VMemMap *mem;
    SpaprMachine *m;
    GString *out;          /* console output */
    GString *in;           /* what get_chars hands out (when enabled) */
    int endian_calls;
    bool last_little;
    int power_offs, reboots;
    TStart starts[8];
    int nstarts;
    uint32_t stops[8];
    int nstops;
    GPtrArray *fatals;     /* char * */
    int nlogs;
    char last_log[512];
    SpaprLogLevel last_level;
    int64_t clock;
    /* mmio callback */
    int mmio_calls;
    uint64_t mmio_addr, mmio_value;
    unsigned mmio_size;
    bool mmio_write;
    int mmio_rc;
    uint64_t mmio_load_value;
} TFixture;

extern TFixture T;

/* Fills in a configuration with the fixture's callbacks and memory. */
SpaprMachineConfig t_config(uint32_t nr_vcpus);
/* Creates the fixture's memory and, with the configuration, its machine. */
void t_setup_cfg(const SpaprMachineConfig *cfg);
void t_setup(uint32_t nr_vcpus);
/* Uses get_chars instead of the machine's input buffer. */
void t_use_get_chars(SpaprMachineConfig *cfg);
void t_teardown(void);
void t_teardown_default(void);
void t_setup_default(void);

/* Runs an hcall on vCPU 0 or @vcpu; returns r3 and leaves r3..r12 in @regs. */
int64_t t_hcall(uint32_t vcpu, uint64_t regs[SPAPR_HCALL_NREGS]);
int64_t t_hcall6(uint64_t opcode, uint64_t a4, uint64_t a5, uint64_t a6, uint64_t a7,
                 uint64_t a8, uint64_t out[4]);

void t_wr32(uint64_t gpa, uint32_t v);
uint32_t t_rd32(uint64_t gpa);
void t_wr8(uint64_t gpa, uint8_t v);
/* The guard region after RAM still holds its pattern. */
void t_assert_guard_intact(void);

/* Writes a CAS vector (PVR list + 5 option vectors with byte 23 = @intc and
 * byte 24 = @mmu) at @gpa and returns its size. */
size_t t_write_cas_vector(uint64_t gpa, uint32_t pvr, uint32_t pvr_mask, uint8_t intc, uint8_t mmu);
/* CAS for XIVE through H_CAS; asserts success. */
void t_cas_xive(void);

#endif
