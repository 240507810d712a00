/* SPDX-License-Identifier: MIT */
/* In-process rig for the shadow virtqueue relay (see svq-rig.h). */
#include "svq-rig.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void ring_areas(bool packed, uint32_t n, uint64_t base, VqConfig *cfg)
{
    uint64_t desc = (packed ? vq_packed_desc_bytes(n) : vq_split_desc_bytes(n));
    uint64_t drv = packed ? VQ_PACKED_EVENT_BYTES : vq_split_avail_bytes(n);

    cfg->size = n;
    cfg->desc_addr = base;
    cfg->driver_addr = base + ((desc + 63) & ~UINT64_C(63));
    cfg->device_addr = (cfg->driver_addr + drv + 63) & ~UINT64_C(63);
}

static int map_again(VMemMap *from, VMemMap *to)
{
    VMemRegionInfo info;
    int rc = vmem_map_region_info(from, 0, &info);

    return rc < 0 ? rc : vmem_map_add_fd(to, info.gpa, info.size, info.fd, info.fd_offset);
}

int rig_new(const RigShape *shape, SvqRig **ret)
{
    SvqRig *rig;
    uint64_t f = VQ_FEATURE(VQ_F_VERSION_1);
    int rc;

    if (!shape || !ret || shape->guest_size == 0 || shape->shadow_size < shape->guest_size ||
        shape->guest_size > 1024 || shape->shadow_size > 4096) {
        return -EINVAL;
    }
    rig = calloc(1, sizeof(*rig));
    if (!rig) {
        return -ENOMEM;
    }
    rig->shape = *shape;
    if (shape->event_idx) {
        f |= VQ_FEATURE(VQ_F_EVENT_IDX);
    }
    ring_areas(shape->guest_packed, shape->guest_size, RIG_GUEST_RING, &rig->gcfg);
    rig->gcfg.features = f | (shape->guest_packed ? VQ_FEATURE(VQ_F_RING_PACKED) : 0) |
                         (shape->indirect ? VQ_FEATURE(VQ_F_INDIRECT_DESC) : 0);
    ring_areas(shape->shadow_packed, shape->shadow_size, RIG_SHADOW_GPA, &rig->scfg);
    rig->scfg.features = f | (shape->shadow_packed ? VQ_FEATURE(VQ_F_RING_PACKED) : 0);
    rc = vmem_map_new(&rig->guest);
    if (rc == 0) {
        rc = vmem_map_add_memfd(rig->guest, 0, RIG_RAM_BYTES, "rig-ram", VMEM_MEMFD_SEAL);
    }
    if (rc == 0) {
        rc = vmem_map_new(&rig->shadow);
    }
    if (rc == 0) {
        rc = vmem_map_add_memfd(rig->shadow, RIG_SHADOW_GPA, RIG_SHADOW_BYTES, "rig-shadow",
                                VMEM_MEMFD_SEAL);
    }
    if (rc == 0) {
        rc = vmem_map_new(&rig->backend);
    }
    if (rc == 0) {
        rc = map_again(rig->guest, rig->backend);
    }
    if (rc == 0) {
        rc = map_again(rig->shadow, rig->backend);
    }
    if (rc == 0) {
        rc = vq_drv_new(rig->guest, &rig->drv);
    }
    if (rc == 0) {
        rc = vq_dev_new(rig->backend, &rig->dev);
    }
    if (rc == 0) {
        rc = svq_relay_new(rig->guest, rig->shadow, &rig->relay);
    }
    if (rc < 0) {
        rig_free(rig);
        return rc;
    }
    vq_drv_set_name(rig->drv, "rig-guest");
    vq_dev_set_name(rig->dev, "rig-backend");
    svq_relay_set_name(rig->relay, "rig");
    *ret = rig;
    return 0;
}

void rig_free(SvqRig *rig)
{
    if (!rig) {
        return;
    }
    svq_relay_free(rig->relay);
    vq_dev_free(rig->dev);
    vq_drv_free(rig->drv);
    vmem_map_free(rig->backend);
    vmem_map_free(rig->shadow);
    vmem_map_free(rig->guest);
    free(rig);
}

int rig_start(SvqRig *rig)
{
    int rc;

    svq_relay_stop(rig->relay);
    rc = vq_drv_configure(rig->drv, &rig->gcfg);
    if (rc == 0 && rig->shape.indirect) {
        rc = vq_drv_set_indirect_area(rig->drv, RIG_INDIRECT,
                                      MIN(RIG_INDIRECT_MAX, rig->shape.guest_size));
    }
    if (rc == 0) {
        rc = svq_relay_start(rig->relay, &rig->gcfg, NULL, &rig->scfg);
    }
    if (rc == 0) {
        rc = vq_dev_configure(rig->dev, &rig->scfg);
    }
    return rc;
}

uint8_t *rig_shadow_ptr(SvqRig *rig, uint64_t offset, uint64_t len)
{
    return vmem_translate_ptr(rig->backend, RIG_SHADOW_GPA + offset, len);
}
