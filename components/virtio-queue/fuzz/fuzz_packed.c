/* SPDX-License-Identifier: MIT */
/* The packed ring, device side (guest garbage) or driver side (device garbage). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_run(data, size, true);
}
