/* SPDX-License-Identifier: MIT */
/* A virtio-blk guest for the tests and the benchmark (see guest.h). */
#include "guest.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RING_GPA 0x10000u
#define SLOTS_GPA 0x100000u
#define SLOT_BYTES 8192u

int tg_create(uint32_t qsize, unsigned nslots, TGuest **ret)
{
    TGuest *g;
    int rc;

    if (!ret || qsize < 1 || qsize > VQ_MAX_SIZE || nslots < 1 || nslots > 0xffff) {
        return -EINVAL;
    }
    g = calloc(1, sizeof(*g));
    if (!g) {
        return -ENOMEM;
    }
    g->qsize = qsize;
    g->nslots = nslots;
    g->ring_gpa = RING_GPA;
    g->slots_gpa = SLOTS_GPA;
    g->ram_size = (SLOTS_GPA + (uint64_t)nslots * SLOT_BYTES + 0xfffff) & ~UINT64_C(0xfffff);
    g->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g->kick_fd < 0 || g->call_fd < 0) {
        rc = -errno;
        goto fail;
    }
    rc = vmem_map_new(&g->map);
    if (rc == 0) {
        rc = vmem_map_add_memfd(g->map, 0, g->ram_size, "guest-ram", VMEM_MEMFD_SEAL);
    }
    if (rc == 0) {
        rc = vq_drv_new(g->map, &g->drv);
    }
    if (rc < 0) {
        goto fail;
    }
    *ret = g;
    return 0;
fail:
    tg_free(g);
    return rc;
}

void tg_free(TGuest *g)
{
    if (!g) {
        return;
    }
    vq_drv_free(g->drv);
    vmem_map_free(g->map);
    if (g->kick_fd >= 0) {
        close(g->kick_fd);
    }
    if (g->call_fd >= 0) {
        close(g->call_fd);
    }
    free(g);
}

int tg_ring_setup(TGuest *g, uint64_t features)
{
    bool packed = features & VQ_FEATURE(VQ_F_RING_PACKED);
    uint64_t desc = g->ring_gpa;
    uint64_t drv = desc + (packed ? vq_packed_desc_bytes(g->qsize) : vq_split_desc_bytes(g->qsize));
    uint64_t dev = (drv + (packed ? VQ_PACKED_EVENT_BYTES : vq_split_avail_bytes(g->qsize)) + 63) &
                   ~UINT64_C(63);

    g->cfg = (VqConfig){ .size = g->qsize, .desc_addr = desc, .driver_addr = drv,
                         .device_addr = dev, .features = features };
    return vq_drv_configure(g->drv, &g->cfg);
}

uint64_t tg_slot_gpa(const TGuest *g, unsigned slot)
{
    return g->slots_gpa + (uint64_t)slot * SLOT_BYTES;
}

uint64_t tg_slot_data(const TGuest *g, unsigned slot)
{
    return tg_slot_gpa(g, slot) + T_BLOCK;
}

int tg_submit(TGuest *g, unsigned slot, uint32_t type, uint64_t block, uint64_t token)
{
    uint64_t base = tg_slot_gpa(g, slot);
    uint8_t hdr[16];
    VqBuf bufs[3] = {
        { base, 16, 0 },
        { base + T_BLOCK, T_BLOCK, type == T_BLK_T_IN ? VQ_BUF_WRITE : 0 },
        { base + 16, 1, VQ_BUF_WRITE },
    };
    int rc;

    if (slot >= g->nslots) {
        return -EINVAL;
    }
    vmem_cpu_to_le32(hdr, type);
    vmem_cpu_to_le32(hdr + 4, 0);
    vmem_cpu_to_le64(hdr + 8, block * (T_BLOCK / T_SECTOR));
    rc = vmem_write(g->map, base, hdr, sizeof(hdr));
    if (rc == 0) {
        rc = vmem_write_u8(g->map, base + 16, 0xff);
    }
    return rc < 0 ? rc : vq_drv_add(g->drv, bufs, 3, token, 0);
}

int tg_kick(TGuest *g)
{
    int rc = vq_drv_should_kick(g->drv);

    if (rc == 1 && eventfd_write(g->kick_fd, 1) < 0) {
        return -errno;
    }
    return rc < 0 ? rc : 0;
}

int tg_status(TGuest *g, unsigned slot, uint8_t *ret)
{
    return vmem_read_u8(g->map, tg_slot_gpa(g, slot) + 16, ret);
}

uint64_t tg_blk_features(uint64_t offered)
{
    return offered & (VQ_FEATURE(VQ_F_VERSION_1) | VQ_FEATURE(VQ_F_EVENT_IDX) |
                      VQ_FEATURE(VQ_F_INDIRECT_DESC) | (UINT64_C(1) << T_BLK_F_FLUSH));
}
