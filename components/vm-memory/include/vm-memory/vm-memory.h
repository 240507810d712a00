/* SPDX-License-Identifier: MIT */
/*
 * vm-memory: guest physical memory for a VMM.
 *
 * A VMemMap is an ordered set of non-overlapping regions of guest-physical
 * address space. Each region is backed either by a memfd (so that its file
 * descriptor can be handed to another process, e.g. a vhost-user back-end) or
 * by anonymous memory, or by a caller-supplied file descriptor.
 *
 * Every accessor checks bounds: no function of this library ever touches host
 * memory outside a region's mapping, whatever guest address and length come
 * in, including lengths that make gpa + len wrap around 2^64. A range is
 * [gpa, gpa + len); it "wraps" when its last byte, gpa + len - 1, would lie
 * beyond 2^64 - 1. A region may end exactly at 2^64.
 *
 * Concurrency: changing the layout (add/remove) must not run concurrently
 * with anything else on the same map; the caller serialises it, as a VMM
 * does with a memory transaction. All accessors and the dirty-bitmap calls may
 * run concurrently from any number of threads. Plain (non-atomic) accessors
 * give no ordering guarantee between threads; use the _acquire/_release
 * accessors or your own barriers for that.
 *
 * Byte order is part of every accessor's name. Guest memory is addressed as
 * bytes; the _le/_be helpers convert, whatever the host's byte order is.
 *
 * Errors are negative errno values; nothing in this library aborts on input.
 */
#ifndef VM_MEMORY_VM_MEMORY_H
#define VM_MEMORY_VM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** VMEM_VERSION_*: the version of this header (also in the pkg-config file). */
#define VMEM_VERSION_MAJOR 0
#define VMEM_VERSION_MINOR 2
#define VMEM_VERSION_MICRO 0

/** VMEM_MAX_REGIONS: the most regions one map holds. */
#define VMEM_MAX_REGIONS 256

/** VMEM_PAGE_SHIFT: dirty tracking granule (4 KiB pages). */
#define VMEM_PAGE_SHIFT 12
#define VMEM_PAGE_SIZE (UINT64_C(1) << VMEM_PAGE_SHIFT)

/** VMemMap: opaque guest memory map. */
typedef struct VMemMap VMemMap;

/**
 * VMemBacking:
 * @VMEM_BACKING_ANON: private anonymous memory; cannot be shared.
 * @VMEM_BACKING_MEMFD: a memfd created by this library (MFD_CLOEXEC).
 * @VMEM_BACKING_FD: a file descriptor supplied by the caller (duplicated).
 */
typedef enum VMemBacking {
    VMEM_BACKING_ANON,
    VMEM_BACKING_MEMFD,
    VMEM_BACKING_FD,
    _VMEM_BACKING_MAX,
    _VMEM_BACKING_INVALID = -22, /* -EINVAL */
} VMemBacking;

/** Flags for vmem_map_add_memfd(). */
enum {
    /* Seal the memfd against shrinking and growing (F_SEAL_SHRINK |
     * F_SEAL_GROW), so that a peer holding the fd cannot make our mapping
     * fault with SIGBUS. Further seals are left to the caller. */
    VMEM_MEMFD_SEAL = 1u << 0,
    /* Use MAP_NORESERVE for the mapping. */
    VMEM_NORESERVE = 1u << 1,
};

/**
 * VMemRegionInfo: a description of one region.
 * @gpa: guest-physical base address.
 * @size: size in bytes.
 * @host: host address of the mapping (the "userspace address" vhost-user
 *        expects in its memory table).
 * @fd: the backing file descriptor, or -1 for anonymous memory. Owned by the
 *      map: dup() it to keep it beyond the region's life.
 * @fd_offset: offset of the region's first byte in @fd.
 * @backing: what backs the region.
 */
typedef struct VMemRegionInfo {
    uint64_t gpa;
    uint64_t size;
    void *host;
    int fd;
    uint64_t fd_offset;
    VMemBacking backing;
} VMemRegionInfo;

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */

/**
 * vmem_map_new:
 * @ret_map: where to store the new, empty map (written only on success).
 *
 * Returns: 0 on success; -EINVAL if @ret_map is NULL; -ENOMEM.
 */
int vmem_map_new(VMemMap **ret_map);

/**
 * vmem_map_free:
 * @map: a map, or NULL.
 *
 * Unmaps every region and closes every backing fd owned by the map.
 */
void vmem_map_free(VMemMap *map);

/**
 * vmem_map_add_anon:
 * @map: the map.
 * @gpa: guest-physical base; must be a multiple of the host page size.
 * @size: size in bytes; non-zero, a multiple of the host page size.
 *
 * Adds a region of private anonymous memory, zero-filled.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL, @size is 0, @gpa or @size
 * is not page aligned, gpa + size wraps around 2^64, or the region overlaps an
 * existing one; -ENOSPC if the map already holds VMEM_MAX_REGIONS regions;
 * -ENOMEM or another negative errno from mmap().
 */
int vmem_map_add_anon(VMemMap *map, uint64_t gpa, uint64_t size);

/**
 * vmem_map_add_memfd:
 * @map: the map.
 * @gpa: guest-physical base; must be a multiple of the host page size.
 * @size: size in bytes; non-zero, a multiple of the host page size.
 * @name: memfd name (shown in /proc/PID/fd), or NULL for "vmem".
 * @flags: VMEM_MEMFD_SEAL, VMEM_NORESERVE.
 *
 * Adds a region backed by a new memfd (MFD_CLOEXEC | MFD_ALLOW_SEALING),
 * mapped MAP_SHARED, zero-filled. Its fd and offset (0) are available from
 * vmem_map_region_info() so that it can be sent to another process.
 *
 * Returns: 0 on success; -EINVAL as for vmem_map_add_anon(), for unknown
 * @flags, or a @size beyond 2^63 - 1 (the largest file size); -ENOSPC if the
 * map is full; -ENOMEM; a negative errno from memfd_create(), ftruncate(),
 * fcntl(F_ADD_SEALS) or mmap(). On error no fd is left open.
 */
int vmem_map_add_memfd(VMemMap *map, uint64_t gpa, uint64_t size,
                       const char *name, unsigned flags);

/**
 * vmem_map_add_fd:
 * @map: the map.
 * @gpa: guest-physical base; must be a multiple of the host page size.
 * @size: size in bytes; non-zero, a multiple of the host page size.
 * @fd: a file descriptor to map MAP_SHARED read-write (for example a memfd
 *      received from a VMM); it is duplicated, the caller keeps its own.
 * @fd_offset: offset in @fd; a multiple of the host page size.
 *
 * A regular file (memfd included) must already be at least @fd_offset +
 * @size bytes long, since touching a mapped page past its end raises SIGBUS.
 * A peer that holds the same fd can still shrink it later unless it is sealed
 * (F_SEAL_SHRINK): map only files you trust or that are sealed.
 *
 * Returns: 0 on success; -EINVAL as for vmem_map_add_anon(), for a negative
 * @fd, a misaligned @fd_offset, @fd_offset + @size beyond 2^63 - 1, or a
 * regular file shorter than @fd_offset + @size; -EBADF if @fd is not open;
 * -ENOSPC if the map is full; -ENOMEM; a negative errno from fstat(),
 * fcntl(F_DUPFD_CLOEXEC) or mmap() (e.g. -EACCES for a read-only fd, -ENODEV
 * for a file that cannot be mapped).
 */
int vmem_map_add_fd(VMemMap *map, uint64_t gpa, uint64_t size, int fd,
                    uint64_t fd_offset);

/**
 * vmem_map_remove:
 * @map: the map.
 * @gpa: the base address of a region.
 *
 * Removes the region that starts exactly at @gpa, unmaps it and closes its fd
 * (a copy obtained with dup() stays valid). Its dirty bits are discarded.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL; -ENOENT if no region starts
 * at @gpa.
 */
int vmem_map_remove(VMemMap *map, uint64_t gpa);

/**
 * vmem_map_num_regions:
 * @map: the map, or NULL.
 *
 * Returns: the number of regions in @map (0 for NULL).
 */
unsigned vmem_map_num_regions(const VMemMap *map);

/**
 * vmem_map_region_info:
 * @map: the map.
 * @index: 0 .. vmem_map_num_regions() - 1; regions are ordered by address.
 * @ret_info: filled in on success.
 *
 * Returns: 0 on success; -EINVAL if @map or @ret_info is NULL; -ENOENT if
 * @index is out of range.
 */
int vmem_map_region_info(const VMemMap *map, unsigned index,
                         VMemRegionInfo *ret_info);

/**
 * vmem_map_find_region:
 * @map: the map.
 * @gpa: any guest-physical address.
 * @ret_info: filled in with the region containing @gpa, on success.
 *
 * Returns: 0 on success; -EINVAL if @map or @ret_info is NULL; -EFAULT if no
 * region contains @gpa.
 */
int vmem_map_find_region(const VMemMap *map, uint64_t gpa,
                         VMemRegionInfo *ret_info);

/* ------------------------------------------------------------------------ */
/* Translation                                                               */

/**
 * vmem_translate:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @len: length of the range in bytes. A zero length translates @gpa alone
 *       (it must lie inside a region).
 * @ret_host: where to store the host address of @gpa (only on success).
 *
 * Translates a guest range that lies wholly inside one region. Writes made
 * through the returned pointer are not dirty-logged: follow them with
 * vmem_mark_dirty().
 *
 * Returns: 0 on success; -EINVAL if @map or @ret_host is NULL; -EFAULT if
 * any byte of [@gpa, @gpa + @len) is outside every region, the range spans two
 * regions, or @gpa + @len wraps around 2^64.
 */
int vmem_translate(VMemMap *map, uint64_t gpa, uint64_t len, void **ret_host);

/**
 * vmem_translate_ptr:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @len: length of the range, as for vmem_translate().
 *
 * Same as vmem_translate() but returns the host pointer directly. For hot
 * paths that only need a yes/no answer.
 *
 * Returns: the host address of @gpa, or NULL wherever vmem_translate() would
 * fail (NULL @map included).
 */
void *vmem_translate_ptr(VMemMap *map, uint64_t gpa, uint64_t len);

/**
 * vmem_translate_iov:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @len: length of the range; 0 yields no entry.
 * @iov: output, @iov_max entries; may be NULL when @iov_max is 0.
 * @iov_max: number of entries available in @iov.
 * @ret_niov: where to store the number of entries used (only on success).
 *
 * Translates a range that may span several adjacent regions into one host
 * segment per region touched, in guest-address order (for readv/writev or a
 * descriptor buffer that crosses a region boundary). Like vmem_translate(),
 * writes made through the segments are not dirty-logged.
 *
 * Returns: 0 on success; -EINVAL if @map or @ret_niov is NULL, or @iov is
 * NULL with a non-zero @iov_max; -EFAULT if any byte of the range is outside
 * every region or the range wraps; -ENOBUFS if it needs more than @iov_max
 * entries. On error nothing is written.
 *
 * Since: 0.2.0
 */
int vmem_translate_iov(VMemMap *map, uint64_t gpa, uint64_t len,
                       struct iovec *iov, unsigned iov_max, unsigned *ret_niov);

/**
 * vmem_check_range:
 * @map: the map.
 * @gpa: first byte.
 * @len: length; 0 is always valid.
 *
 * Returns: 0 if every byte of [@gpa, @gpa + @len) lies in some region (the
 * range may span several adjacent regions); -EINVAL if @map is NULL; -EFAULT
 * otherwise, including on wrap-around.
 */
int vmem_check_range(const VMemMap *map, uint64_t gpa, uint64_t len);

/* ------------------------------------------------------------------------ */
/* Byte access (may cross region boundaries)                                 */

/**
 * vmem_read:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @buf: destination, @len bytes.
 * @len: number of bytes; 0 is a no-op that succeeds.
 *
 * Copies guest memory that may span several adjacent regions. The whole range
 * is checked before any byte is copied.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL, or @buf is NULL with a
 * non-zero @len; -EFAULT if any byte is outside every region (nothing is
 * copied).
 */
int vmem_read(VMemMap *map, uint64_t gpa, void *buf, size_t len);

/**
 * vmem_write:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @buf: source, @len bytes.
 * @len: number of bytes; 0 is a no-op that succeeds.
 *
 * Copies into guest memory that may span several adjacent regions and marks
 * the pages written dirty when logging is on. The whole range is checked
 * before any byte is written.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL, or @buf is NULL with a
 * non-zero @len; -EFAULT if any byte is outside every region (nothing is
 * written).
 */
int vmem_write(VMemMap *map, uint64_t gpa, const void *buf, size_t len);

/**
 * vmem_fill:
 * @map: the map.
 * @gpa: guest-physical address of the first byte.
 * @byte: the value to store.
 * @len: number of bytes; 0 is a no-op that succeeds.
 *
 * Like vmem_write() with @len copies of @byte (may cross regions, marks the
 * pages dirty, checks the whole range first).
 *
 * Returns: 0 on success; -EINVAL if @map is NULL; -EFAULT if any byte is
 * outside every region (nothing is written).
 */
int vmem_fill(VMemMap *map, uint64_t gpa, uint8_t byte, size_t len);

/**
 * vmem_copy:
 * @map: the map.
 * @dst: destination guest address.
 * @src: source guest address.
 * @len: number of bytes.
 *
 * Copies guest memory to guest memory; both ranges may cross regions and may
 * overlap (memmove semantics). Destination pages are marked dirty. Overlap is
 * judged on guest addresses: two regions that map the same file pages at
 * different guest addresses are treated as distinct memory.
 *
 * Returns: 0 on success (also for @len 0); -EINVAL if @map is NULL; -EFAULT
 * if either range is not wholly covered (nothing is written).
 */
int vmem_copy(VMemMap *map, uint64_t dst, uint64_t src, size_t len);

/* ------------------------------------------------------------------------ */
/* Fixed-width accessors with explicit byte order                            */
/*
 * The value is assembled from guest bytes in the named byte order; the
 * address needs no alignment. Each returns 0 on success, -EINVAL if @map (or
 * @ret for loads) is NULL, -EFAULT if the access is not wholly inside guest
 * memory. Loads write *@ret only on success. Stores mark the page(s) dirty.
 */
int vmem_read_u8(VMemMap *map, uint64_t gpa, uint8_t *ret);
int vmem_read_le16(VMemMap *map, uint64_t gpa, uint16_t *ret);
int vmem_read_le32(VMemMap *map, uint64_t gpa, uint32_t *ret);
int vmem_read_le64(VMemMap *map, uint64_t gpa, uint64_t *ret);
int vmem_read_be16(VMemMap *map, uint64_t gpa, uint16_t *ret);
int vmem_read_be32(VMemMap *map, uint64_t gpa, uint32_t *ret);
int vmem_read_be64(VMemMap *map, uint64_t gpa, uint64_t *ret);

int vmem_write_u8(VMemMap *map, uint64_t gpa, uint8_t val);
int vmem_write_le16(VMemMap *map, uint64_t gpa, uint16_t val);
int vmem_write_le32(VMemMap *map, uint64_t gpa, uint32_t val);
int vmem_write_le64(VMemMap *map, uint64_t gpa, uint64_t val);
int vmem_write_be16(VMemMap *map, uint64_t gpa, uint16_t val);
int vmem_write_be32(VMemMap *map, uint64_t gpa, uint32_t val);
int vmem_write_be64(VMemMap *map, uint64_t gpa, uint64_t val);

/*
 * Atomic accessors, for ring indices shared with another agent (used->idx,
 * avail->idx, packed descriptor flags). The address must be naturally aligned
 * (-EINVAL otherwise, as an unaligned access cannot be single-copy atomic).
 * Loads have acquire semantics and stores release semantics: a store_release
 * of used->idx publishes the used entries written before it, and a
 * load_acquire of avail->idx orders the reads of the ring entries after it.
 * Returns: 0; -EINVAL (NULL, misaligned); -EFAULT (outside guest memory).
 */
int vmem_load_acquire_le16(VMemMap *map, uint64_t gpa, uint16_t *ret);
int vmem_load_acquire_le32(VMemMap *map, uint64_t gpa, uint32_t *ret);
int vmem_store_release_le16(VMemMap *map, uint64_t gpa, uint16_t val);
int vmem_store_release_le32(VMemMap *map, uint64_t gpa, uint32_t val);

/* ------------------------------------------------------------------------ */
/* Byte-order helpers for code that works on translated host pointers        */

static inline uint16_t vmem_le16_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint16_t)(b[0] | (b[1] << 8));
}
static inline uint32_t vmem_le32_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
           ((uint32_t)b[3] << 24);
}
static inline uint64_t vmem_le64_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint64_t)vmem_le32_to_cpu(b) | ((uint64_t)vmem_le32_to_cpu(b + 4) << 32);
}
static inline uint16_t vmem_be16_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint16_t)((b[0] << 8) | b[1]);
}
static inline uint32_t vmem_be32_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) |
           (uint32_t)b[3];
}
static inline uint64_t vmem_be64_to_cpu(const void *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return ((uint64_t)vmem_be32_to_cpu(b) << 32) | (uint64_t)vmem_be32_to_cpu(b + 4);
}
static inline void vmem_cpu_to_le16(void *p, uint16_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}
static inline void vmem_cpu_to_le32(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}
static inline void vmem_cpu_to_le64(void *p, uint64_t v)
{
    vmem_cpu_to_le32(p, (uint32_t)v);
    vmem_cpu_to_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}
static inline void vmem_cpu_to_be16(void *p, uint16_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}
static inline void vmem_cpu_to_be32(void *p, uint32_t v)
{
    uint8_t *b = (uint8_t *)p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}
static inline void vmem_cpu_to_be64(void *p, uint64_t v)
{
    vmem_cpu_to_be32(p, (uint32_t)(v >> 32));
    vmem_cpu_to_be32((uint8_t *)p + 4, (uint32_t)v);
}

/* ------------------------------------------------------------------------ */
/* Dirty page tracking                                                       */

/**
 * vmem_dirty_log_start:
 * @map: the map.
 *
 * Turns dirty logging on: from now on every write helper, and every
 * vmem_mark_dirty() call, sets the bit of each 4 KiB page it touches in the
 * region's bitmap. Bitmaps are cleared when logging starts. Regions added
 * while logging is on are logged too.
 *
 * A write that happens after this call returns (in the happens-before sense:
 * on the same thread, or on a thread that synchronised with the caller since)
 * is logged; a write running concurrently with this call may not be. A VMM
 * therefore starts logging, lets every thread that writes guest memory pass a
 * synchronisation point (as it does for a memory transaction), and only then
 * copies all of RAM.
 *
 * Returns: 0 on success (also when already on); -EINVAL if @map is NULL.
 */
int vmem_dirty_log_start(VMemMap *map);

/**
 * vmem_dirty_log_stop:
 * @map: the map.
 *
 * Turns dirty logging off. Bits already set stay until read and cleared.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL.
 */
int vmem_dirty_log_stop(VMemMap *map);

/**
 * vmem_dirty_log_enabled:
 * @map: the map, or NULL.
 *
 * Returns: whether dirty logging is on (false for NULL).
 */
bool vmem_dirty_log_enabled(const VMemMap *map);

/**
 * vmem_mark_dirty:
 * @map: the map.
 * @gpa: first byte written.
 * @len: number of bytes written; 0 marks nothing.
 *
 * Records a write done through a pointer from vmem_translate() (or by another
 * process, such as a vhost-user back-end, when its used buffers come back).
 * Does nothing, successfully, when logging is off.
 *
 * Returns: 0 on success; -EINVAL if @map is NULL; -EFAULT if any byte of the
 * range is outside every region (no bit is set then).
 */
int vmem_mark_dirty(VMemMap *map, uint64_t gpa, uint64_t len);

/**
 * vmem_dirty_get_and_clear:
 * @map: the map.
 * @gpa: first page; must be 4 KiB aligned.
 * @npages: number of 4 KiB pages; the range may span adjacent regions.
 * @bitmap: output, at least (@npages + 63) / 64 words; bit (i % 64) of word
 *          (i / 64) is page i of the range (@gpa + i * 4096).
 *
 * Atomically reads and clears the dirty bits of the range: a write racing
 * with this call is reported either by this call or by the next one, never
 * lost; and when this call reports a page, a copy of the page made after it
 * returns sees the data of every write whose bit it reported. Bits beyond
 * @npages in the last word are zero. @npages == 0 succeeds and writes nothing.
 *
 * Returns: 0 on success; -EINVAL if @map or @bitmap is NULL, or @gpa is not
 * page aligned; -EFAULT if a page of the range is outside every region
 * (nothing is cleared then).
 */
int vmem_dirty_get_and_clear(VMemMap *map, uint64_t gpa, uint64_t npages,
                             uint64_t *bitmap);

/**
 * vmem_dirty_count:
 * @map: the map, or NULL.
 *
 * Returns: the number of dirty pages in the whole map (a snapshot; 0 for
 * NULL). Bits stay set after logging stops until they are cleared.
 */
uint64_t vmem_dirty_count(const VMemMap *map);

#ifdef __cplusplus
}
#endif

#endif /* VM_MEMORY_VM_MEMORY_H */
