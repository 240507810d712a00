/* SPDX-License-Identifier: MIT */
/*
 * A virtio-blk guest for the tests and the benchmark (no test framework):
 * RAM in a memfd region, a virtio-queue driver on the guest ring, the
 * guest's kick and call eventfds, and request slots (header at 0, status
 * byte at 16, one 4 KiB data block at 4096). Functions return 0 or a
 * negative errno.
 */
#ifndef VHOST_SVQ_TESTS_GUEST_H
#define VHOST_SVQ_TESTS_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio-queue/virtio-queue.h"
#include "vm-memory/vm-memory.h"

#define T_BLOCK 4096u
#define T_SECTOR 512u
#define T_BLK_T_IN 0u
#define T_BLK_T_OUT 1u
#define T_BLK_F_FLUSH 9

typedef struct TGuest {
    VMemMap *map;
    uint64_t ram_size;
    uint32_t qsize;
    uint64_t ring_gpa;
    uint64_t slots_gpa;
    unsigned nslots;
    VqConfig cfg;       /* the guest ring, once configured */
    VqDrvQueue *drv;
    int kick_fd;        /* the guest's notify eventfd (ioeventfd) */
    int call_fd;        /* the guest's interrupt eventfd (irqfd) */
} TGuest;

int tg_create(uint32_t qsize, unsigned nslots, TGuest **ret);
void tg_free(TGuest *g);
/* (Re)initialises the guest ring with @features (zeroes it). */
int tg_ring_setup(TGuest *g, uint64_t features);
uint64_t tg_slot_gpa(const TGuest *g, unsigned slot);
uint64_t tg_slot_data(const TGuest *g, unsigned slot);
/* Queues a one-block request of @type for @block in @slot (status set to
 * 0xff first); the data block is device-writable for reads. */
int tg_submit(TGuest *g, unsigned slot, uint32_t type, uint64_t block, uint64_t token);
/* Kicks the back-end if the driver's suppression rules ask for it. */
int tg_kick(TGuest *g);
/* The status byte the device wrote into @slot. */
int tg_status(TGuest *g, unsigned slot, uint8_t *ret);
/* Features a virtio-blk driver accepts from an offer. */
uint64_t tg_blk_features(uint64_t offered);

#endif /* VHOST_SVQ_TESTS_GUEST_H */
