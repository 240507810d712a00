/* SPDX-License-Identifier: MIT */
/*
 * An in-process rig for the shadow virtqueue relay (tests, fuzzing,
 * benchmarks; no test framework): guest RAM and a shadow region in memfds,
 * a guest driver (virtio-queue driver side) on the guest ring, the relay,
 * and an in-process back-end (virtio-queue device side) on the shadow ring
 * that maps both memfds again, as a back-end process would. Functions
 * return 0 or a negative errno.
 */
#ifndef VHOST_SVQ_TESTS_SVQ_RIG_H
#define VHOST_SVQ_TESTS_SVQ_RIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/svq.h"

#define RIG_RAM_BYTES (UINT64_C(4) << 20)
#define RIG_GUEST_RING UINT64_C(0x1000)
#define RIG_INDIRECT UINT64_C(0x100000)   /* guest indirect tables */
#define RIG_DATA UINT64_C(0x200000)       /* data buffers */
#define RIG_SHADOW_GPA (UINT64_C(1) << 48)
#define RIG_SHADOW_BYTES (UINT64_C(2) << 20)
#define RIG_INDIRECT_MAX 16u

typedef struct RigShape {
    uint32_t guest_size;
    uint32_t shadow_size;
    bool guest_packed;
    bool shadow_packed;
    bool event_idx;     /* on both rings */
    bool indirect;      /* the guest may use indirect tables */
} RigShape;

typedef struct SvqRig {
    RigShape shape;
    VMemMap *guest;     /* guest RAM at 0 */
    VMemMap *shadow;    /* the shadow region only (the relay's driver map) */
    VMemMap *backend;   /* both, as the back-end maps them */
    VqConfig gcfg;
    VqConfig scfg;
    VqDrvQueue *drv;    /* the guest driver */
    VqDevQueue *dev;    /* the back-end */
    SvqRelay *relay;
} SvqRig;

/* Builds the memory and the queues; rings not configured. */
int rig_new(const RigShape *shape, SvqRig **ret);
void rig_free(SvqRig *rig);
/* Configures the guest ring, the relay and the back-end's view of the
 * shadow ring (all rings zeroed, relay started). */
int rig_start(SvqRig *rig);
/* Host pointer to the shadow ring's used area (split) or descriptors
 * (packed), for writing hostile entries. */
uint8_t *rig_shadow_ptr(SvqRig *rig, uint64_t gpa_offset_in_region, uint64_t len);

#endif /* VHOST_SVQ_TESTS_SVQ_RIG_H */
