/* SPDX-License-Identifier: MIT */
/*
 * virtio-queue: split and packed virtqueues (VIRTIO 1.2, 2.7 and 2.8), the
 * device side and the driver side.
 *
 * Device side (VqDevQueue): what a device model or a vhost-user back-end
 * does with a ring the driver (the guest) owns: pop descriptor chains, return
 * them as used, decide whether to notify the driver, suppress kicks.
 *
 * Driver side (VqDrvQueue): what a guest driver, or the shadow virtqueue of a
 * VMM, does: add chains of buffers, decide whether to kick, collect used
 * buffers. The driver side touches ring memory only through its own map; the
 * buffer addresses it puts in descriptors are opaque numbers to it and need
 * not be in that map (the shadow virtqueue passes guest addresses that the
 * back-end translates).
 *
 * Memory: every ring and indirect table access goes through the VMemMap given
 * at creation. Ring areas are translated once, when the queue is configured
 * (each area must lie wholly inside one region), so the hot paths do no region
 * lookup; after a change of the map's layout call vq_dev_remap() /
 * vq_drv_remap(). The map must outlive the queue.
 *
 * Trust: nothing read from shared memory is trusted. Every index, length,
 * flag and next field is validated each time it is read, exactly once (no
 * double fetch). A violation returns a distinct negative errno (see "Errors"
 * below), is logged (rate-limited) and marks the queue broken: the VMM should
 * then set DEVICE_NEEDS_RESET. A broken queue returns -EIO from its data-path
 * calls until it is configured again. Nothing in this library aborts.
 *
 * Concurrency: one queue object is used by one thread at a time (the caller
 * serialises). The device side and the driver side of the same ring may run
 * in two threads or two processes: all shared fields are accessed with
 * acquire/release atomics and full fences where the specification asks for a
 * memory barrier. No function allocates memory on the data path (pop, add
 * used, publish, add, get used, notification decisions).
 *
 * Byte order: all ring fields are little-endian, whatever the host's order.
 *
 * Errors returned for guest (device side) or device (driver side) mistakes:
 *   -ERANGE     a descriptor index (head, next) or a used id out of range
 *   -ELOOP      a chain longer than the queue size (this covers next loops)
 *   -EMLINK     an INDIRECT descriptor inside an indirect table
 *   -EBADMSG    INDIRECT together with NEXT (split), or an INDIRECT
 *               descriptor inside a NEXT chain (packed)
 *   -EMSGSIZE   an indirect table whose length is 0, not a multiple of 16,
 *               or holds more descriptors than the queue size
 *   -EOVERFLOW  the readable or the writable bytes of a chain exceed 2^32 - 1
 *   -EILSEQ     a device-readable descriptor after a device-writable one
 *   -EFAULT     an indirect table outside guest memory
 *   -ENOTSUP    an INDIRECT descriptor while VQ_F_INDIRECT_DESC is off
 *   -EPROTO     split: avail->idx (device side) or used->idx (driver side)
 *               moved further than the queue size / the buffers in flight;
 *               device side, both layouts: the driver offers more chains
 *               (packed: descriptors) than the queue size while the device
 *               still holds them
 *   -ESTALE     driver side: a used id that is not in flight
 * and for the caller's own mistakes or states:
 *   -EAGAIN     nothing available / nothing used yet (not an error)
 *   -EBADFD     the queue is not configured (or remap failed)
 *   -EIO        the queue is broken (a violation was seen earlier)
 *   -EINVAL     a bad argument
 *   -ENOBUFS    the caller's array is too small (nothing consumed)
 *   -ENOSPC     driver side: not enough free descriptors
 * vq_strerror() gives a short text for each.
 */
#ifndef VIRTIO_QUEUE_VIRTIO_QUEUE_H
#define VIRTIO_QUEUE_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vm-memory/vm-memory.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants from the specification                                          */

/** VQ_MAX_SIZE: the largest queue size of either layout (2^15). */
#define VQ_MAX_SIZE 32768u

/* Feature bit numbers (VIRTIO 1.2, 6). Use VQ_FEATURE(bit) for the mask. */
#define VQ_F_INDIRECT_DESC 28
#define VQ_F_EVENT_IDX 29
#define VQ_F_VERSION_1 32
#define VQ_F_RING_PACKED 34
#define VQ_F_IN_ORDER 35
#define VQ_FEATURE(bit) (UINT64_C(1) << (bit))

/* Descriptor flags (both layouts). */
#define VQ_DESC_F_NEXT 0x1u
#define VQ_DESC_F_WRITE 0x2u
#define VQ_DESC_F_INDIRECT 0x4u
/* Packed layout only. */
#define VQ_DESC_F_AVAIL 0x80u
#define VQ_DESC_F_USED 0x8000u

/* Split ring flags. */
#define VQ_AVAIL_F_NO_INTERRUPT 0x1u
#define VQ_USED_F_NO_NOTIFY 0x1u

/* Packed event suppression flags and the wrap bit of its desc field. */
#define VQ_EVENT_F_ENABLE 0x0u
#define VQ_EVENT_F_DISABLE 0x1u
#define VQ_EVENT_F_DESC 0x2u
#define VQ_EVENT_WRAP_BIT 15

/* Little-endian storage types: a reminder at every use that the value must
 * be converted (vmem_le16_to_cpu() and friends). */
typedef uint16_t VqLe16;
typedef uint32_t VqLe32;
typedef uint64_t VqLe64;

/** VqSplitDesc: a split-ring descriptor (16 bytes, table aligned on 16). */
typedef struct __attribute__((packed)) VqSplitDesc {
    VqLe64 addr;
    VqLe32 len;
    VqLe16 flags;
    VqLe16 next;
} VqSplitDesc;

/** VqSplitUsedElem: one used ring entry. */
typedef struct __attribute__((packed)) VqSplitUsedElem {
    VqLe32 id;
    VqLe32 len;
} VqSplitUsedElem;

/*
 * Split ring areas (size n): available ring = le16 flags, le16 idx,
 * le16 ring[n], le16 used_event (6 + 2n bytes, aligned 2); used ring =
 * le16 flags, le16 idx, VqSplitUsedElem ring[n], le16 avail_event
 * (6 + 8n bytes, aligned 4).
 */
#define VQ_SPLIT_AVAIL_FLAGS 0u
#define VQ_SPLIT_AVAIL_IDX 2u
#define VQ_SPLIT_AVAIL_RING 4u
#define VQ_SPLIT_USED_FLAGS 0u
#define VQ_SPLIT_USED_IDX 2u
#define VQ_SPLIT_USED_RING 4u

/** VqPackedDesc: a packed-ring descriptor (16 bytes, ring aligned on 16). */
typedef struct __attribute__((packed)) VqPackedDesc {
    VqLe64 addr;
    VqLe32 len;
    VqLe16 id;
    VqLe16 flags;
} VqPackedDesc;

/** VqPackedEvent: a packed event suppression structure (4 bytes, aligned 4). */
typedef struct __attribute__((packed)) VqPackedEvent {
    VqLe16 desc;  /* bits 0-14 offset, bit 15 wrap counter */
    VqLe16 flags; /* VQ_EVENT_F_* */
} VqPackedEvent;

/** Sizes in bytes of the three areas of a queue of @n entries. */
static inline uint64_t vq_split_desc_bytes(uint32_t n) { return 16ull * n; }
static inline uint64_t vq_split_avail_bytes(uint32_t n) { return 6ull + 2ull * n; }
static inline uint64_t vq_split_used_bytes(uint32_t n) { return 6ull + 8ull * n; }
static inline uint64_t vq_packed_desc_bytes(uint32_t n) { return 16ull * n; }
#define VQ_PACKED_EVENT_BYTES 4u

/**
 * vq_need_event:
 * @event: the event index the other side asked for.
 * @new_idx: the index after the update.
 * @old_idx: the index before the update.
 *
 * The EVENT_IDX rule (VIRTIO 1.2, 2.7.10): true when @event lies in
 * [@old_idx, @new_idx) modulo 2^16.
 */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

/* ------------------------------------------------------------------------ */
/* Configuration shared by both sides                                        */

/**
 * VqConfig: where a queue lives and how it behaves.
 * @size: number of entries. Split: a power of two, 1..32768. Packed: any
 *        value 1..32768.
 * @desc_addr: guest address of the descriptor table (split) or descriptor
 *             ring (packed); aligned on 16.
 * @driver_addr: the driver area: available ring (split, aligned on 2) or
 *               driver event suppression structure (packed, aligned on 4).
 * @device_addr: the device area: used ring (split, aligned on 4) or device
 *               event suppression structure (packed, aligned on 4).
 * @features: negotiated feature bits. The library looks at
 *            VQ_F_RING_PACKED (selects the layout), VQ_F_EVENT_IDX and
 *            VQ_F_INDIRECT_DESC; other bits are ignored.
 *
 * Each area must lie wholly inside one region of the queue's map.
 */
typedef struct VqConfig {
    uint32_t size;
    uint64_t desc_addr;
    uint64_t driver_addr;
    uint64_t device_addr;
    uint64_t features;
} VqConfig;

/** VqLayout: the ring layout. */
typedef enum VqLayout {
    VQ_LAYOUT_SPLIT,
    VQ_LAYOUT_PACKED,
    _VQ_LAYOUT_MAX,
    _VQ_LAYOUT_INVALID = -22, /* -EINVAL */
} VqLayout;

/**
 * vq_config_layout:
 * Returns: VQ_LAYOUT_PACKED if @cfg->features has VQ_F_RING_PACKED, else
 * VQ_LAYOUT_SPLIT; _VQ_LAYOUT_INVALID for NULL.
 */
VqLayout vq_config_layout(const VqConfig *cfg);

/**
 * vq_config_check:
 * @map: the map the rings must be in.
 * @cfg: the configuration.
 *
 * Checks @cfg without creating anything: the size rule of its layout, the
 * alignment of each area, and that each area lies wholly in one region.
 *
 * Returns: 0 if valid; -EINVAL if an argument is NULL, the size is invalid,
 * or an area is misaligned; -EFAULT if an area is not wholly inside one
 * region of @map (or its end wraps around 2^64).
 */
int vq_config_check(VMemMap *map, const VqConfig *cfg);

/* ------------------------------------------------------------------------ */
/* Buffers and elements                                                      */

/** VQ_BUF_WRITE: VqBuf.flags bit of a device-writable buffer (= VQ_DESC_F_WRITE). */
#define VQ_BUF_WRITE VQ_DESC_F_WRITE

/**
 * VqBuf: one buffer of a chain, as the driver described it.
 * @gpa: guest address (not checked against the map by vq_dev_pop(); it is
 *       checked when translated, see vq_bufs_to_iov()).
 * @len: length in bytes (may be 0).
 * @flags: VQ_BUF_WRITE if the device may write it, 0 if it may read it.
 */
typedef struct VqBuf {
    uint64_t gpa;
    uint32_t len;
    uint32_t flags;
} VqBuf;

/**
 * VqElem: a descriptor chain popped by the device side.
 * @id: what vq_dev_add_used() hands back to the driver: the head descriptor
 *      index (split) or the buffer id (packed).
 * @ndescs: ring descriptors the chain occupies (an indirect table counts for
 *          one). The packed layout needs it to skip used descriptors.
 * @nout: number of device-readable buffers, in @bufs[0 .. nout-1].
 * @nin: number of device-writable buffers, in @bufs[nout .. nout+nin-1].
 * @out_len: total bytes of the readable buffers.
 * @in_len: total bytes of the writable buffers.
 * @bufs: storage supplied by the caller, filled by vq_dev_pop().
 * @bufs_cap: number of entries in @bufs. A chain has at most the queue size
 *            of buffers, so @bufs_cap = queue size never gets -ENOBUFS.
 *
 * The caller sets @bufs and @bufs_cap; vq_dev_pop() fills in the rest.
 */
typedef struct VqElem {
    uint16_t id;
    uint16_t ndescs;
    uint16_t nout;
    uint16_t nin;
    uint32_t out_len;
    uint32_t in_len;
    VqBuf *bufs;
    uint32_t bufs_cap;
} VqElem;

/**
 * vq_bufs_to_iov:
 * @map: the guest memory map the buffers are in.
 * @bufs: buffers (for example elem->bufs for the readable ones, or
 *        elem->bufs + elem->nout for the writable ones).
 * @nbufs: number of buffers.
 * @iov: output host iovecs.
 * @iov_cap: entries in @iov.
 *
 * Translates buffers into host memory. A buffer that spans two adjacent
 * regions yields one iovec per region; empty buffers yield none. Writes
 * made through the iovecs are not dirty-logged: use vq_elem_mark_written()
 * or vq_dev_add_used() (which logs them).
 *
 * Returns: the number of iovecs written (>= 0); -EINVAL if @map is NULL or
 * @bufs / @iov is NULL with a non-zero count; -EFAULT if a byte of a buffer
 * is outside guest memory (or gpa + len wraps); -ENOBUFS if @iov_cap is too
 * small. Nothing useful is left in @iov on error.
 */
int vq_bufs_to_iov(VMemMap *map, const VqBuf *bufs, unsigned nbufs,
                   struct iovec *iov, unsigned iov_cap);

/**
 * vq_elem_read:
 * @map: the guest memory map.
 * @elem: a popped element.
 * @offset: byte offset into the concatenation of its readable buffers.
 * @buf: destination.
 * @len: bytes wanted.
 *
 * Copies from the device-readable part of @elem (headers of requests).
 *
 * Returns: the number of bytes copied (less than @len when the readable
 * part is shorter), or -EINVAL (NULL argument), -EFAULT (a buffer outside
 * guest memory; nothing is guaranteed about @buf then).
 */
int64_t vq_elem_read(VMemMap *map, const VqElem *elem, uint64_t offset,
                     void *buf, size_t len);

/**
 * vq_elem_write:
 * Like vq_elem_read() in the other direction: copies @len bytes from @buf
 * into the device-writable part of @elem at @offset, marking pages dirty
 * when logging is on.
 *
 * Returns: bytes copied, -EINVAL or -EFAULT as vq_elem_read().
 */
int64_t vq_elem_write(VMemMap *map, const VqElem *elem, uint64_t offset,
                      const void *buf, size_t len);

/**
 * vq_elem_mark_written:
 * @map: the guest memory map.
 * @elem: a popped element.
 * @len: bytes the device wrote, from the start of the writable part.
 *
 * Marks the pages of the first @len writable bytes dirty (when logging is
 * on; nothing otherwise). vq_dev_add_used() does this itself.
 *
 * Returns: 0; -EINVAL on NULL; -EFAULT if a buffer is outside guest memory.
 */
int vq_elem_mark_written(VMemMap *map, const VqElem *elem, uint32_t len);

/* ------------------------------------------------------------------------ */
/* Device side                                                               */

/** VqDevQueue: opaque device side of one virtqueue. */
typedef struct VqDevQueue VqDevQueue;

/**
 * vq_dev_new:
 * @map: guest memory; must outlive the queue.
 * @ret_q: where to store the new queue (only on success).
 *
 * Creates an unconfigured queue (every data-path call returns -EBADFD).
 *
 * Returns: 0; -EINVAL if an argument is NULL; -ENOMEM.
 */
int vq_dev_new(VMemMap *map, VqDevQueue **ret_q);

/**
 * vq_dev_free:
 * @q: a queue, or NULL. Staged used entries that were not published are
 * dropped.
 */
void vq_dev_free(VqDevQueue *q);

/**
 * vq_dev_set_name:
 * @q: the queue.
 * @name: a label for log messages (copied, truncated to 31 bytes), or NULL.
 */
void vq_dev_set_name(VqDevQueue *q, const char *name);

/**
 * vq_dev_configure:
 * @q: the queue.
 * @cfg: size, area addresses, features.
 *
 * Validates @cfg (vq_config_check()), translates the three areas and makes
 * the queue ready in its initial state: next available and next used index
 * 0, wrap counters 1 (packed), notifications enabled, not broken. It does
 * not write guest memory. Any previous configuration is forgotten.
 *
 * Returns: 0; -EINVAL or -EFAULT as vq_config_check(); -ENOMEM (packed:
 * the staging table); the queue is then unconfigured.
 */
int vq_dev_configure(VqDevQueue *q, const VqConfig *cfg);

/**
 * vq_dev_reset:
 * Makes @q unconfigured again (the guest wrote 0 to the status or reset the
 * queue). Staged used entries are dropped.
 */
void vq_dev_reset(VqDevQueue *q);

/**
 * vq_dev_remap:
 * @q: the queue.
 *
 * Translates the ring areas again after the layout of the map changed
 * (memory hot-plug, a new vhost-user memory table), keeping the state.
 *
 * Returns: 0; -EINVAL if @q is NULL; -EBADFD if not configured; -EFAULT if
 * an area is no longer wholly in one region (the queue becomes
 * unconfigured).
 */
int vq_dev_remap(VqDevQueue *q);

/**
 * vq_dev_is_ready:
 * Returns: true when configured (broken or not).
 */
bool vq_dev_is_ready(const VqDevQueue *q);

/**
 * vq_dev_is_broken:
 * Returns: true after a guest violation, until vq_dev_configure() or
 * vq_dev_reset(). The VMM should then set DEVICE_NEEDS_RESET.
 */
bool vq_dev_is_broken(const VqDevQueue *q);

/**
 * vq_dev_last_error:
 * Returns: the (negative) error of the violation that broke the queue, or 0.
 */
int vq_dev_last_error(const VqDevQueue *q);

/**
 * vq_dev_layout:
 * Returns: the configured layout, or _VQ_LAYOUT_INVALID if not configured.
 */
VqLayout vq_dev_layout(const VqDevQueue *q);

/**
 * vq_dev_size:
 * Returns: the configured queue size, 0 if not configured.
 */
uint32_t vq_dev_size(const VqDevQueue *q);

/**
 * vq_dev_pop:
 * @q: the queue.
 * @elem: @elem->bufs and @elem->bufs_cap set by the caller; the other
 *        fields are written on success.
 *
 * Takes the next available chain, validates all of it (direct and indirect
 * descriptors, see "Errors" at the top) and fills @elem. Readable buffers
 * come first, then writable ones. The buffer addresses are not checked
 * against the map here.
 *
 * With VQ_F_EVENT_IDX and notifications enabled, finding the ring empty
 * publishes the event index (avail_event, or the packed device event) so
 * that the driver kicks for the next chain; a device that pops until
 * -EAGAIN after each kick therefore never misses one.
 *
 * Returns: 0 on success; -EAGAIN if no chain is available; -ENOBUFS if
 * @elem->bufs_cap is smaller than the chain (nothing consumed); -EINVAL
 * (NULL, or @elem->bufs NULL with a non-zero cap); -EBADFD (not
 * configured); -EIO (broken); or one of the violation codes -ERANGE,
 * -ELOOP, -EMLINK, -EBADMSG, -EMSGSIZE, -EOVERFLOW, -EILSEQ, -EFAULT,
 * -ENOTSUP, -EPROTO (the queue is then broken and nothing is consumed).
 */
int vq_dev_pop(VqDevQueue *q, VqElem *elem);

/**
 * vq_dev_pop_batch:
 * @q: the queue.
 * @elems: @n elements, each with its own @bufs and @bufs_cap set.
 * @n: how many chains to pop at most.
 *
 * Pops up to @n chains, as @n calls of vq_dev_pop() would, but faster:
 * chains made of one direct descriptor are taken in a tight loop. Stops at
 * the first chain that cannot be popped. An error met after some chains
 * were popped ends the batch; the next call reports it (a violation has
 * broken the queue by then: -EIO, and vq_dev_last_error() tells which).
 *
 * Returns: the number of chains popped, 0 if none is available; a negative
 * error as vq_dev_pop() (except -EAGAIN) only when the first chain fails.
 *
 * Since: 0.1.0
 */
int vq_dev_pop_batch(VqDevQueue *q, VqElem *elems, unsigned n);

/**
 * vq_dev_set_fast_paths:
 * @q: the queue.
 * @enable: true (the default) to use the fast paths, false to send every
 *          chain through the general chain walker.
 *
 * vq_dev_pop(), vq_dev_pop_batch(), vq_dev_add_used() and
 * vq_dev_add_used_batch() take chains made of one direct descriptor, and
 * split used entries, through short dedicated paths. Those apply the same
 * checks in the same order and give the same results, errors included, as
 * the general code; turning them off (slower) is meant for differential
 * tests and for ruling them out when chasing a problem. The setting belongs
 * to the object: it survives vq_dev_configure() and vq_dev_reset(), and
 * takes effect at the next call.
 *
 * Returns: 0; -EINVAL if @q is NULL.
 *
 * Since: 0.2.0
 */
int vq_dev_set_fast_paths(VqDevQueue *q, bool enable);

/**
 * vq_dev_unpop:
 * @q: the queue.
 * @elem: the element returned by the latest successful vq_dev_pop().
 *
 * Gives the latest popped chain back, as if it had not been popped (for a
 * device that cannot take it now). Calls may be repeated for earlier
 * elements in reverse pop order.
 *
 * Returns: 0; -EINVAL (NULL, nothing in flight, or, packed, @elem->ndescs
 * 0 or more than the descriptors in flight); -EBADFD; -EIO.
 */
int vq_dev_unpop(VqDevQueue *q, const VqElem *elem);

/**
 * vq_dev_has_avail:
 * Returns: 1 if a chain is available (a following vq_dev_pop() finds one,
 * unless it is invalid), 0 if not; -EINVAL, -EBADFD, -EIO, or -EPROTO
 * (split: avail->idx moved beyond the queue size; the queue is broken).
 */
int vq_dev_has_avail(VqDevQueue *q);

/**
 * vq_dev_add_used:
 * @q: the queue.
 * @elem: a popped element.
 * @len: bytes written into its writable buffers (clamped to @elem->in_len).
 *
 * Stages a used entry; the driver sees it after vq_dev_publish(). When dirty
 * logging is on, the pages of the first @len writable bytes are marked.
 * Entries can be staged in any order (out-of-order completion).
 *
 * Returns: 0; -EINVAL (NULL, or an element this queue cannot have produced:
 * id >= size for split, ndescs 0 or above the size for packed); -EBADFD;
 * -EIO; -ENOSPC if this would return more than was popped (split: more
 * used entries than chains in flight; packed: more descriptors than in
 * flight). Nothing is staged on error.
 */
int vq_dev_add_used(VqDevQueue *q, const VqElem *elem, uint32_t len);

/**
 * vq_dev_add_used_id:
 * @q: the queue.
 * @id: the element's id (split head index or packed buffer id).
 * @ndescs: ring descriptors the chain took (packed; ignored for split).
 * @len: bytes written.
 *
 * vq_dev_add_used() from raw values, for elements kept elsewhere (an
 * in-flight table, the shadow virtqueue). No dirty logging of buffers.
 *
 * Returns: as vq_dev_add_used(); also -EINVAL if @id >= size (split) or
 * @ndescs is 0 or larger than the size (packed).
 */
int vq_dev_add_used_id(VqDevQueue *q, uint16_t id, uint16_t ndescs, uint32_t len);

/**
 * vq_dev_add_used_batch:
 * @q: the queue.
 * @elems: @n popped elements.
 * @lens: the bytes written into each (clamped to its in_len), or NULL for 0.
 * @n: number of elements.
 *
 * vq_dev_add_used() for @n elements in one call; all of them are checked
 * before any is staged.
 *
 * Returns: 0; -EINVAL (NULL, an id or ndescs out of range); -ENOSPC (more
 * than in flight); -EBADFD; -EIO. Nothing is staged on error.
 *
 * Since: 0.1.0
 */
int vq_dev_add_used_batch(VqDevQueue *q, const VqElem *elems, const uint32_t *lens,
                          unsigned n);

/**
 * vq_dev_publish:
 * Makes every staged used entry visible to the driver at once (a single
 * release store of used->idx, or of the first packed descriptor's flags),
 * and marks the ring pages dirty when logging is on.
 *
 * Returns: the number of entries published (>= 0); -EINVAL; -EBADFD; -EIO.
 */
int vq_dev_publish(VqDevQueue *q);

/**
 * vq_dev_push:
 * vq_dev_add_used() then vq_dev_publish().
 *
 * Returns: 0 or an error of either.
 */
int vq_dev_push(VqDevQueue *q, const VqElem *elem, uint32_t len);

/**
 * vq_dev_should_notify:
 * @q: the queue.
 *
 * Decides whether to send a used buffer notification (an interrupt, a call
 * eventfd) for the entries published since the previous call: avail flag
 * NO_INTERRUPT, or used_event with EVENT_IDX (split); the driver event
 * suppression structure (packed). Issues the full barrier the specification
 * requires between publishing and reading the suppression fields. Call it
 * after vq_dev_publish(), and notify when it returns 1.
 *
 * Returns: 1 to notify, 0 not to; -EINVAL; -EBADFD; -EIO.
 */
int vq_dev_should_notify(VqDevQueue *q);

/**
 * vq_dev_disable_notify:
 * Asks the driver not to send available buffer notifications (kicks): sets
 * VQ_USED_F_NO_NOTIFY (split without EVENT_IDX) or the device event flags to
 * DISABLE (packed); with split EVENT_IDX it stops updating avail_event.
 * Use while processing a batch, then vq_dev_enable_notify().
 *
 * Returns: 0; -EINVAL; -EBADFD; -EIO.
 */
int vq_dev_disable_notify(VqDevQueue *q);

/**
 * vq_dev_enable_notify:
 * Asks for kicks again (flags cleared, or the event index set to the next
 * chain with EVENT_IDX), then, after a full barrier, checks for chains that
 * arrived meanwhile.
 *
 * Returns: 1 if a chain is available (pop it: no kick will come for it), 0
 * if not; -EINVAL; -EBADFD; -EIO; -EPROTO (as vq_dev_has_avail()).
 */
int vq_dev_enable_notify(VqDevQueue *q);

/**
 * VqState: the device state of a queue, for save/restore and hand-over.
 * @next_avail: split: the free-running index of the next chain to pop
 *              (vhost's last_avail_idx). Packed: ring position 0..size-1 of
 *              the next descriptor to read.
 * @next_used: split: the free-running used index (used->idx once
 *             published). Packed: ring position of the next used write.
 * @avail_wrap: packed: the device's wrap counter for reading (1 at start).
 * @used_wrap: packed: the device's wrap counter for writing (1 at start).
 * @flags: VQ_STATE_F_USED_FROM_RING on restore (split): take @next_used
 *         from used->idx in guest memory instead (vhost-user only passes
 *         the avail index).
 */
typedef struct VqState {
    uint16_t next_avail;
    uint16_t next_used;
    bool avail_wrap;
    bool used_wrap;
    uint32_t flags;
} VqState;

#define VQ_STATE_F_USED_FROM_RING 0x1u

/**
 * vq_dev_get_state:
 * @q: a configured queue with nothing staged.
 * @ret_state: filled on success (@flags = 0).
 *
 * Returns: 0; -EINVAL (NULL); -EBADFD (not configured); -EBUSY if used
 * entries are staged but not published (publish first).
 */
int vq_dev_get_state(const VqDevQueue *q, VqState *ret_state);

/**
 * vq_dev_set_state:
 * @q: a configured queue (broken or not).
 * @state: the state to restore.
 *
 * Validates @state against the ring before adopting it. Split: the chains
 * in flight (next_avail - next_used) and the chains available
 * (avail->idx - next_avail) must each be at most the queue size, and
 * next_used must equal used->idx in memory unless
 * VQ_STATE_F_USED_FROM_RING. Packed: both positions below the size and at
 * most size descriptors in flight between them. On success the queue is
 * no longer broken, nothing is staged, and the next vq_dev_should_notify()
 * answers 1.
 *
 * Returns: 0; -EINVAL (NULL, unknown flag, or an invalid state: the queue
 * keeps its previous state); -EBADFD (not configured).
 */
int vq_dev_set_state(VqDevQueue *q, const VqState *state);

/**
 * vq_state_to_vring_base:
 * @layout: the queue layout.
 * @state: a state.
 *
 * Encodes @state as the vhost-user VRING_BASE number: split, next_avail;
 * packed, next_avail | avail_wrap << 15 | next_used << 16 | used_wrap << 31.
 *
 * Returns: the number (0 for NULL @state).
 */
uint32_t vq_state_to_vring_base(VqLayout layout, const VqState *state);

/**
 * vq_state_from_vring_base:
 * @layout: the queue layout.
 * @base: a vhost-user VRING_BASE number.
 * @ret_state: filled on success; split gets VQ_STATE_F_USED_FROM_RING.
 *
 * Returns: 0; -EINVAL (NULL, bad layout, or split @base above 0xffff).
 */
int vq_state_from_vring_base(VqLayout layout, uint32_t base, VqState *ret_state);

/* ------------------------------------------------------------------------ */
/* Driver side                                                               */

/** VqDrvQueue: opaque driver side of one virtqueue. */
typedef struct VqDrvQueue VqDrvQueue;

/**
 * VqUsed: a used buffer given back by the device.
 * @token: the token passed to vq_drv_add().
 * @len: bytes the device reports written, clamped to the writable bytes
 *       the chain offered (a larger value is logged).
 * @id: the id used in the ring (split head index, packed buffer id).
 */
typedef struct VqUsed {
    uint64_t token;
    uint32_t len;
    uint16_t id;
} VqUsed;

/**
 * vq_drv_new:
 * @map: the memory the rings (and indirect area) live in; must outlive the
 *       queue. Buffer addresses need not be in it.
 * @ret_q: where to store the queue (only on success).
 *
 * Returns: 0; -EINVAL (NULL); -ENOMEM.
 */
int vq_drv_new(VMemMap *map, VqDrvQueue **ret_q);

/**
 * vq_drv_free:
 * @q: a queue, or NULL. Tokens still in flight are forgotten.
 */
void vq_drv_free(VqDrvQueue *q);

/**
 * vq_drv_set_name:
 * As vq_dev_set_name().
 */
void vq_drv_set_name(VqDrvQueue *q, const char *name);

/**
 * vq_drv_configure:
 * @q: the queue.
 * @cfg: size, areas, features (as for the device side).
 *
 * Validates @cfg, translates the areas, zeroes them (the driver owns and
 * initialises the rings) and resets the driver state: all descriptors
 * free, wrap counters 1, callbacks (used notifications) enabled, no
 * indirect area.
 *
 * Returns: 0; -EINVAL or -EFAULT as vq_config_check(); -ENOMEM (per-entry
 * state); the queue is unconfigured on error.
 */
int vq_drv_configure(VqDrvQueue *q, const VqConfig *cfg);

/**
 * vq_drv_reset:
 * Unconfigures @q; tokens in flight are forgotten (use
 * vq_drv_detach_unused() first to get them back).
 */
void vq_drv_reset(VqDrvQueue *q);

/**
 * vq_drv_remap:
 * As vq_dev_remap(), for the rings and the indirect area.
 *
 * Returns: 0; -EINVAL; -EBADFD; -EFAULT (the queue becomes unconfigured).
 */
int vq_drv_remap(VqDrvQueue *q);

/**
 * vq_drv_set_indirect_area:
 * @q: a configured queue with VQ_F_INDIRECT_DESC in its features.
 * @gpa: guest address of an area of size * @max_descs * 16 bytes in the
 *       map, aligned on 16, wholly in one region. Slot i holds the table of
 *       the chain with id i.
 * @max_descs: the largest indirect chain, 1..size.
 *
 * Enables vq_drv_add() with VQ_ADD_INDIRECT. The area is the driver's:
 * nothing else may use it while the queue is configured.
 *
 * Returns: 0; -EINVAL (NULL, @max_descs out of range, misaligned, size
 * overflow); -ENOTSUP (VQ_F_INDIRECT_DESC not negotiated); -EBADFD;
 * -EBUSY (chains in flight); -EFAULT (not wholly in one region).
 */
int vq_drv_set_indirect_area(VqDrvQueue *q, uint64_t gpa, uint32_t max_descs);

/** vq_drv_add() flag: put the buffers in an indirect table. */
#define VQ_ADD_INDIRECT 0x1u

/**
 * vq_drv_add:
 * @q: the queue.
 * @bufs: the buffers, readable ones first, then writable ones.
 * @nbufs: 1..size (with VQ_ADD_INDIRECT, 1..max_descs).
 * @token: an opaque value returned with the used buffer.
 * @flags: 0 or VQ_ADD_INDIRECT.
 *
 * Writes the chain into the ring and makes it available at once (release
 * store of avail->idx, or of the packed head flags). Call
 * vq_drv_should_kick() after one or more adds.
 *
 * Returns: 0; -EINVAL (NULL, @nbufs 0 or above the limit, a readable
 * buffer after a writable one, unknown @flags or a VqBuf flag other than
 * VQ_BUF_WRITE, total length of either part above 2^32 - 1); -ENOSPC (not enough free descriptors: nothing written);
 * -ENOTSUP (VQ_ADD_INDIRECT without an indirect area); -EBADFD; -EIO.
 */
int vq_drv_add(VqDrvQueue *q, const VqBuf *bufs, unsigned nbufs, uint64_t token,
               unsigned flags);

/**
 * vq_drv_should_kick:
 * Decides whether to send an available buffer notification for the chains
 * added since the previous call (after a full barrier): used flag
 * NO_NOTIFY or avail_event with EVENT_IDX (split); the device event
 * suppression structure (packed).
 *
 * Returns: 1 to kick, 0 not to; -EINVAL; -EBADFD; -EIO.
 */
int vq_drv_should_kick(VqDrvQueue *q);

/**
 * vq_drv_get_used:
 * @q: the queue.
 * @ret_used: filled on success.
 *
 * Takes the next used buffer and frees its descriptors. The device is not
 * trusted: its id, the used index and the length are checked. With
 * VQ_F_EVENT_IDX and callbacks enabled, finding nothing publishes the used
 * event for the next entry (then re-checks), so a driver that collects
 * until -EAGAIN after each notification never misses one.
 *
 * Returns: 0; -EAGAIN if none; -EINVAL; -EBADFD; -EIO; violations (the
 * queue becomes broken): -ERANGE (id >= size), -ESTALE (id not in flight),
 * -EPROTO (split: used->idx ahead by more than the chains in flight).
 */
int vq_drv_get_used(VqDrvQueue *q, VqUsed *ret_used);

/**
 * vq_drv_has_used:
 * Returns: 1 if vq_drv_get_used() would return something (or a violation),
 * 0 if not; -EINVAL; -EBADFD; -EIO.
 */
int vq_drv_has_used(VqDrvQueue *q);

/**
 * vq_drv_num_free:
 * Returns: the number of free ring descriptors (a chain of n direct
 * buffers needs n, an indirect chain 1); 0 for NULL or unconfigured.
 */
uint32_t vq_drv_num_free(const VqDrvQueue *q);

/**
 * vq_drv_num_inflight:
 * Returns: the number of chains added and not yet returned by
 * vq_drv_get_used() (0 for NULL or unconfigured).
 */
uint32_t vq_drv_num_inflight(const VqDrvQueue *q);

/**
 * vq_drv_disable_cb:
 * Asks the device not to send used buffer notifications (avail flag
 * NO_INTERRUPT, the used_event moved out of the way with EVENT_IDX, or the
 * driver event flags DISABLE).
 *
 * Returns: 0; -EINVAL; -EBADFD; -EIO.
 */
int vq_drv_disable_cb(VqDrvQueue *q);

/**
 * vq_drv_enable_cb:
 * Asks for used buffer notifications again (flags cleared; with EVENT_IDX
 * the event set to the next used entry), then, after a full barrier,
 * checks for used buffers that arrived meanwhile.
 *
 * Returns: 1 if used buffers are pending (collect them: no notification
 * will come for them), 0 if not; -EINVAL; -EBADFD; -EIO.
 */
int vq_drv_enable_cb(VqDrvQueue *q);

/**
 * vq_drv_detach_unused:
 * @q: the queue (broken or not).
 * @ret_token: the token of one chain still in flight.
 *
 * Forgets one in-flight chain and returns its token, for a driver that
 * gives up on the device (reset, back-end gone). Only meaningful once the
 * device no longer uses the ring: the first call breaks the queue (the
 * data path returns -EIO, vq_drv_last_error() is -ECANCELED) until it is
 * configured again.
 *
 * Returns: 0; -ENOENT if none is left; -EINVAL; -EBADFD.
 */
int vq_drv_detach_unused(VqDrvQueue *q, uint64_t *ret_token);

/**
 * vq_drv_is_broken / vq_drv_last_error: as for the device side.
 */
bool vq_drv_is_broken(const VqDrvQueue *q);
int vq_drv_last_error(const VqDrvQueue *q);

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */

/**
 * VqLogFunc:
 * @opaque: the value given to vq_set_log_func().
 * @msg: one line, without a trailing newline.
 */
typedef void (*VqLogFunc)(void *opaque, const char *msg);

/**
 * vq_set_log_func:
 * @fn: where guest (and device) errors go, or NULL for the default (stderr).
 * @opaque: passed to @fn.
 *
 * The library rate-limits before calling @fn: a burst of 10 messages, then
 * at most 1 per second, and a count of the messages dropped meanwhile. The
 * hook is process-wide; set it before queues are used.
 */
void vq_set_log_func(VqLogFunc fn, void *opaque);

/**
 * vq_strerror:
 * @err: a negative (or positive) errno returned by this library.
 *
 * Returns: a static text saying what that code means for a virtqueue.
 */
const char *vq_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* VIRTIO_QUEUE_VIRTIO_QUEUE_H */
