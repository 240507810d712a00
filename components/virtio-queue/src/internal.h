/* SPDX-License-Identifier: MIT */
/*
 * Private helpers shared by the device side, the driver side and the mock.
 *
 * Every access to ring memory goes through the ld_ and st_ helpers below:
 * they are single-copy atomic (so a field the other side changes under us is
 * read exactly once and cannot be re-fetched by the compiler after it was
 * validated), little-endian on any host, and carry the ordering their name
 * says. Ring fields are naturally aligned because the areas are.
 */
#ifndef VIRTIO_QUEUE_INTERNAL_H
#define VIRTIO_QUEUE_INTERNAL_H

#include <endian.h>
#include <stdarg.h>
#include <stdint.h>

#include "virtio-queue/virtio-queue.h"

#define VQ_LIKELY(x) __builtin_expect(!!(x), 1)
#define VQ_UNLIKELY(x) __builtin_expect(!!(x), 0)

static inline uint16_t ld_le16(const void *p)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED));
}
static inline uint16_t ld_le16_acquire(const void *p)
{
    return le16toh(__atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE));
}
static inline uint32_t ld_le32(const void *p)
{
    return le32toh(__atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED));
}
static inline uint64_t ld_le64(const void *p)
{
    return le64toh(__atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED));
}
static inline void st_le16(void *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}
static inline void st_le16_release(void *p, uint16_t v)
{
    __atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}
static inline void st_le32(void *p, uint32_t v)
{
    __atomic_store_n((uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}
static inline void st_le64(void *p, uint64_t v)
{
    __atomic_store_n((uint64_t *)p, htole64(v), __ATOMIC_RELAXED);
}
/* The "memory barrier" of the specification between publishing and reading
 * the other side's suppression fields (a store-load ordering). */
static inline void full_fence(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* A descriptor as read from memory, both layouts (next_or_id is next for
 * split, id for packed). */
typedef struct VqRawDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next_or_id;
} VqRawDesc;

/* Reads a 16-byte descriptor at host address p, each field exactly once.
 * Both layouts share offsets 0 (addr) and 8 (len); split has flags at 12 and
 * next at 14, packed id at 12 and flags at 14: the caller swaps. Indirect
 * tables need not be aligned, so an unaligned table is read byte by byte
 * through a volatile pointer (still a single fetch of every byte). */
static inline void vq_read_desc(const uint8_t *p, VqRawDesc *d, uint16_t *w12, uint16_t *w14)
{
    if (VQ_LIKELY(((uintptr_t)p & 7) == 0)) {
        d->addr = ld_le64(p);
        d->len = ld_le32(p + 8);
        *w12 = ld_le16(p + 12);
        *w14 = ld_le16(p + 14);
    } else {
        uint8_t b[16];
        const volatile uint8_t *v = (const volatile uint8_t *)p;
        for (unsigned i = 0; i < 16; i++) {
            b[i] = v[i];
        }
        d->addr = vmem_le64_to_cpu(b);
        d->len = vmem_le32_to_cpu(b + 8);
        *w12 = vmem_le16_to_cpu(b + 12);
        *w14 = vmem_le16_to_cpu(b + 14);
    }
}

/* Validates a configuration and returns the three translated areas. */
int vq_config_translate(VMemMap *map, const VqConfig *cfg, uint8_t **ret_desc,
                        uint8_t **ret_driver, uint8_t **ret_device);

/* Area sizes of a configuration (by layout). */
uint64_t vq_driver_area_bytes(bool packed, uint32_t size);
uint64_t vq_device_area_bytes(bool packed, uint32_t size);

/* Rate-limited log of a guest (or peer) error; @who is the queue's name. */
void vq_log(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks [start, start + count) entries of @entry bytes of a ring of @size
 * entries at @base dirty, wrapping around the end. */
void vq_mark_ring(VMemMap *map, uint64_t base, uint32_t size, uint32_t entry,
                  uint32_t start, uint32_t count);

#endif /* VIRTIO_QUEUE_INTERNAL_H */
