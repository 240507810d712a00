/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdint.h>
#include "vm-memory/vm-memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VMemMap *m;
    if (vmem_map_new(&m) < 0) {
        return 0;
    }
    vmem_map_add_anon(m, 0x1000, 0x2000);
    uint8_t buf[64];
    if (size >= 9) {
        uint64_t gpa = 0;
        for (int i = 0; i < 8; i++) {
            gpa = gpa << 8 | data[i];
        }
        vmem_read(m, gpa, buf, data[8] % sizeof(buf));
    }
    vmem_map_free(m);
    return 0;
}
