/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "vm-memory/vm-memory.h"

Test(layout, add_and_translate)
{
    VMemMap *m;
    cr_assert_eq(vmem_map_new(&m), 0);
    cr_assert_eq(vmem_map_add_memfd(m, 0x100000, 0x10000, "ram", VMEM_MEMFD_SEAL), 0);
    void *p;
    cr_assert_eq(vmem_translate(m, 0x100000, 0x10000, &p), 0);
    cr_assert_eq(vmem_translate(m, 0x100000, 0x10001, &p), -EFAULT);
    vmem_map_free(m);
}
