/* SPDX-License-Identifier: MIT */
/*
 * vq-mock: a mock driver that writes rings directly into a VMemMap, for tests,
 * fuzzers and benchmarks of code that uses the device side (the role of
 * rust-vmm's mock.rs). Built as the separate static library
 * "virtio-queue-mock" (dependency vq_mock_dep); not meant for production.
 *
 * It is written independently of the library's driver side so that each can
 * check the other, and it has raw writers to build every kind of broken
 * ring. It trusts nothing it reads back either, but does not validate what
 * it is asked to write: that is the point.
 *
 * Layout of a mock at @gpa (see vq_mock_footprint()): descriptor area,
 * driver area, device area (each aligned as the specification asks), then
 * an indirect pool of @size slots of VQ_MOCK_INDIRECT_MAX descriptors each.
 */
#ifndef VIRTIO_QUEUE_VQ_MOCK_H
#define VIRTIO_QUEUE_VQ_MOCK_H

#include "virtio-queue/virtio-queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/** VQ_MOCK_INDIRECT_MAX: descriptors per indirect slot of the mock. */
#define VQ_MOCK_INDIRECT_MAX 256u

/** VqMock: opaque mock driver. */
typedef struct VqMock VqMock;

/**
 * vq_mock_footprint:
 * @packed: the layout.
 * @size: queue size.
 *
 * Returns: the bytes a mock of this shape uses from its base address.
 */
uint64_t vq_mock_footprint(bool packed, uint32_t size);

/**
 * vq_mock_new:
 * @map: guest memory; [@gpa, @gpa + footprint) must be in one region.
 * @gpa: base, aligned on 16.
 * @size: queue size (1..32768; a power of two for split).
 * @features: VQ_FEATURE() bits; VQ_F_RING_PACKED picks the layout.
 * @ret_mock: the mock (only on success).
 *
 * Zeroes the rings. Driver state: next descriptor 0, avail idx 0, wrap 1.
 *
 * Returns: 0; -EINVAL (NULL, bad size or alignment); -EFAULT (not in one
 * region); -ENOMEM.
 */
int vq_mock_new(VMemMap *map, uint64_t gpa, uint32_t size, uint64_t features,
                VqMock **ret_mock);

/** vq_mock_free: frees @mock (NULL is fine). Guest memory is left as is. */
void vq_mock_free(VqMock *mock);

/** vq_mock_config: the VqConfig describing the mock's rings. */
void vq_mock_config(const VqMock *mock, VqConfig *ret_cfg);

/** vq_mock_indirect_gpa: address of indirect slot @slot (mod size). */
uint64_t vq_mock_indirect_gpa(const VqMock *mock, uint32_t slot);

/** Flags of vq_mock_add_chain(). */
enum {
    VQ_MOCK_INDIRECT = 1u << 0,   /* buffers in an indirect table */
    VQ_MOCK_NO_PUBLISH = 1u << 1, /* split: do not move avail->idx;
                                     packed: do not write the head flags
                                     (call vq_mock_publish()) */
};

/**
 * vq_mock_add_chain:
 * @mock: the mock.
 * @bufs: the buffers (VQ_BUF_WRITE taken from their flags, order kept as
 *        given: a test may put writable before readable on purpose).
 * @n: number of buffers (direct: 1..size; indirect: 1..VQ_MOCK_INDIRECT_MAX).
 * @flags: VQ_MOCK_*.
 * @ret_id: the id the device will report (split head, packed buffer id);
 *          may be NULL.
 *
 * Split: takes descriptors sequentially from an internal cursor (wrapping;
 * the mock does not track what the device still holds) and appends the head
 * to the available ring. Packed: writes at the driver position, buffer id =
 * a counter modulo size, head flags last with release.
 *
 * Returns: 0; -EINVAL (bad arguments); -EFAULT (guest memory).
 */
int vq_mock_add_chain(VqMock *mock, const VqBuf *bufs, unsigned n, unsigned flags,
                      uint16_t *ret_id);

/**
 * vq_mock_publish:
 * Makes chains added with VQ_MOCK_NO_PUBLISH available (split: stores the
 * avail idx; packed: writes the pending head flags in order).
 *
 * Returns: 0; -EINVAL; -EFAULT.
 */
int vq_mock_publish(VqMock *mock);

/**
 * vq_mock_get_used:
 * @mock: the mock.
 * @ret_id: the id of the next used entry.
 * @ret_len: its length.
 *
 * Reads the next used entry the device published (split: used ring at the
 * mock's last used index; packed: the descriptor at the used position,
 * which then advances by the number of descriptors the mock recorded for
 * that id).
 *
 * Returns: 0; -EAGAIN if none; -EINVAL; -EFAULT; -ERANGE (packed id the
 * mock never added).
 */
int vq_mock_get_used(VqMock *mock, uint16_t *ret_id, uint32_t *ret_len);

/* Raw access for crafting rings, good and bad. Each returns 0, -EINVAL
 * (NULL mock, index out of the table) or -EFAULT. */

/** Descriptor @index of the descriptor area; @next_or_id is next (split) or id (packed). */
int vq_mock_write_desc(VqMock *mock, uint32_t index, uint64_t addr, uint32_t len,
                       uint16_t flags, uint16_t next_or_id);
/** Descriptor @index of a table at @table_gpa (indirect tables), same layout as the ring. */
int vq_mock_write_table_desc(VqMock *mock, uint64_t table_gpa, uint32_t index,
                             uint64_t addr, uint32_t len, uint16_t flags,
                             uint16_t next_or_id);
/** Split: ring[avail_idx % size] = @head, then avail_idx++ (store-release). */
int vq_mock_split_push_avail(VqMock *mock, uint16_t head);
/** Split: stores avail->idx (and the mock's copy) without writing entries. */
int vq_mock_split_set_avail_idx(VqMock *mock, uint16_t idx);
/** Split: avail->flags and used_event. */
int vq_mock_split_set_avail_flags(VqMock *mock, uint16_t flags);
int vq_mock_split_set_used_event(VqMock *mock, uint16_t event);
/** Split: used->idx, used->flags and avail_event as the device left them. */
int vq_mock_split_used_idx(VqMock *mock, uint16_t *ret);
int vq_mock_split_used_flags(VqMock *mock, uint16_t *ret);
int vq_mock_split_avail_event(VqMock *mock, uint16_t *ret);
/** Packed: the driver event suppression structure (read by the device). */
int vq_mock_packed_set_driver_event(VqMock *mock, uint16_t flags, uint16_t desc);
/** Packed: the device event suppression structure (written by the device). */
int vq_mock_packed_device_event(VqMock *mock, uint16_t *ret_flags, uint16_t *ret_desc);
/** Packed: the driver position and wrap counter the next chain goes to. */
void vq_mock_packed_position(const VqMock *mock, uint16_t *ret_index, bool *ret_wrap);

#ifdef __cplusplus
}
#endif

#endif /* VIRTIO_QUEUE_VQ_MOCK_H */
