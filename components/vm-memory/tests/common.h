/* SPDX-License-Identifier: MIT */
/* Helpers shared by the vm-memory test files. */
#ifndef VMEM_TESTS_COMMON_H
#define VMEM_TESTS_COMMON_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "vm-memory/vm-memory.h"

/* The host page size: region bases and sizes must be multiples of it. */
static inline uint64_t ps(void)
{
    return (uint64_t)sysconf(_SC_PAGESIZE);
}

static inline VMemMap *new_map(void)
{
    VMemMap *m = NULL;
    int rc = vmem_map_new(&m);
    cr_assert_eq(rc, 0, "vmem_map_new: %s", strerror(-rc));
    cr_assert_not_null(m);
    return m;
}

static inline VMemRegionInfo region_at(VMemMap *m, uint64_t gpa)
{
    VMemRegionInfo info;
    int rc = vmem_map_find_region(m, gpa, &info);
    cr_assert_eq(rc, 0, "no region at %#llx: %s", (unsigned long long)gpa,
                 strerror(-rc));
    return info;
}

/* Host address of @gpa, looked up through the region table (not through
 * vmem_translate, which is what several tests check). */
static inline uint8_t *host_of(VMemMap *m, uint64_t gpa)
{
    VMemRegionInfo info = region_at(m, gpa);
    return (uint8_t *)info.host + (gpa - info.gpa);
}

/* Number of open file descriptors of this process. */
static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d, "opendir /proc/self/fd: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static inline uint64_t rnd(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* The byte a test pattern holds at position @i of a buffer seeded @seed. */
static inline uint8_t pattern(uint64_t seed, uint64_t i)
{
    return (uint8_t)((i * 131 + seed * 7 + (i >> 8)) ^ (i >> 16));
}

#endif
