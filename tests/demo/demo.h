/* SPDX-License-Identifier: MIT */
/*
 * vmm-demo's stages (see vmm-demo.c). Each returns 0 when every check held,
 * 1 after printing what went wrong on stderr.
 */
#ifndef VMM_DEMO_H
#define VMM_DEMO_H

#include <stdint.h>

#include "vm-memory/vm-memory.h"

/* Guest RAM: 16 MiB at guest address 0, in one memfd. Layout:
 *   0x1000  stage 1 request          0x5000   stage 1 reply
 *   0x10000 virtqueue rings           0x20000  virtqueue requests
 *   0x30000 virtqueue replies (a page each)
 *   0x400000 XIVE event queue (64 KiB)  end - 64 KiB: RTAS (spapr) */
#define DEMO_RAM_SIZE (UINT64_C(16) << 20)

/* Prints "vmm-demo: <message>" on stderr and returns 1. */
int demo_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stage 2, back-end process: receives the queue and its eventfds on @sock,
 * serves the requests as the device, reports its dirty log on @sock. */
int demo_virtq_device(int sock, VMemMap *map);
/* Stage 2, VMM process: drives the queue as the guest's driver would.
 * *@ret_done: requests completed. */
int demo_virtq_driver(int sock, VMemMap *ram, unsigned *ret_done);
/* Stage 3: an sPAPR machine over @ram, its device tree, XIVE boot hcalls. */
int demo_spapr(VMemMap *ram);
/* Stage 4: a QMP server and a client in this process. */
int demo_qmp(unsigned virtq_done);

#endif
