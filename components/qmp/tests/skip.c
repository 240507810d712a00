/* SPDX-License-Identifier: MIT */
/* Stands in for a test whose peer is missing: meson counts exit 77 as SKIP. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "python3 not found: skipped\n");
    return 77;
}
