/* SPDX-License-Identifier: MIT */
/*
 * vm-memory: region map, translation, bounded access and dirty bitmap.
 *
 * Regions are kept sorted by guest address in a flat array; lookups try the
 * region that answered last, then bisect. The layout only changes when the
 * caller guarantees no concurrent access (see the header), so the array needs
 * no lock; the "last hit" hint is a relaxed atomic because accessors on
 * several threads update it, and it sits on a cache line of its own so that
 * those updates do not bounce the line holding the region table.
 *
 * Ranges are [gpa, gpa + len) with len >= 1 and a last byte gpa + len - 1
 * that does not wrap: a region may end exactly at 2^64, a range may not go
 * past it.
 */
#include "vm-memory/vm-memory.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_LINE 64

typedef struct VMemRegion {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
    _Atomic uint64_t *dirty; /* one bit per 4 KiB page */
    uint64_t dirty_words;
    uint64_t fd_offset;
    int fd;
    VMemBacking backing;
} VMemRegion;

struct VMemMap {
    unsigned n;
    atomic_bool logging;
    /* regions[i].gpa again, densely packed for the bisection. */
    uint64_t starts[VMEM_MAX_REGIONS];
    VMemRegion regions[VMEM_MAX_REGIONS];
    /* Written by readers: keep it away from the read-mostly fields. */
    _Alignas(CACHE_LINE) atomic_uint hint;
};

static uint64_t host_page_size(void)
{
    static _Atomic uint64_t cached;
    uint64_t ps = atomic_load_explicit(&cached, memory_order_relaxed);
    if (!ps) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (uint64_t)v : 4096;
        atomic_store_explicit(&cached, ps, memory_order_relaxed);
    }
    return ps;
}

/* True when the range is empty or its last byte does not wrap past 2^64 - 1. */
static inline bool range_ok(uint64_t gpa, uint64_t len)
{
    return len == 0 || gpa + (len - 1) >= gpa;
}

static inline bool region_contains(const VMemRegion *r, uint64_t gpa)
{
    return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* The hint is the only field accessors write; the map is otherwise read only
 * while accessors run, so casting const away for it is sound. */
static inline atomic_uint *hint_of(const VMemMap *map)
{
    return &((VMemMap *)map)->hint;
}

/* find_index() when the hint missed: search all regions. */
static __attribute__((noinline)) int find_index_search(const VMemMap *map, uint64_t gpa)
{
    unsigned n = map->n;
    if (n == 0) {
        return -1;
    }
    /* Last region starting at or below gpa, without branches on the data
     * (the compiler emits conditional moves): random addresses would
     * mispredict a classic bisection at every step. */
    const uint64_t *s = map->starts;
    unsigned lo = 0, len = n;
    while (len > 1) {
        unsigned half = len / 2;
        lo = s[lo + half] <= gpa ? lo + half : lo;
        len -= half;
    }
    if (!region_contains(&map->regions[lo], gpa)) {
        return -1;
    }
    atomic_store_explicit(hint_of(map), lo, memory_order_relaxed);
    return (int)lo;
}

/* Index of the region holding @gpa, or -1. The hint check is inlined in
 * every accessor; the search is not. */
static inline __attribute__((always_inline)) int find_index(const VMemMap *map,
                                                            uint64_t gpa)
{
    unsigned h = atomic_load_explicit(hint_of(map), memory_order_relaxed);
    if (h < map->n && region_contains(&map->regions[h], gpa)) {
        return (int)h;
    }
    return find_index_search(map, gpa);
}

/* Region holding the whole of [gpa, gpa + len), len >= 1, or NULL. */
static inline VMemRegion *find_whole(VMemMap *map, uint64_t gpa, uint64_t len)
{
    int i = find_index(map, gpa);
    if (i < 0) {
        return NULL;
    }
    VMemRegion *r = &map->regions[i];
    if (len > r->size - (gpa - r->gpa)) {
        return NULL;
    }
    return r;
}

/*
 * Checks that [gpa, gpa + len), len >= 1, is covered by adjacent regions.
 * Returns the index of the region holding @gpa, or -1. When @ret_pieces is
 * not NULL it receives the number of regions the range touches.
 */
static int check_span(const VMemMap *map, uint64_t gpa, uint64_t len,
                      unsigned *ret_pieces)
{
    if (len == 0 || !range_ok(gpa, len)) {
        return -1;
    }
    int first = find_index(map, gpa);
    if (first < 0) {
        return -1;
    }
    unsigned i = (unsigned)first;
    uint64_t cur = gpa;
    uint64_t left = len;
    for (;;) {
        const VMemRegion *r = &map->regions[i];
        uint64_t avail = r->size - (cur - r->gpa);
        if (left <= avail) {
            if (ret_pieces) {
                *ret_pieces = i - (unsigned)first + 1;
            }
            return first;
        }
        left -= avail;
        cur += avail; /* cannot wrap: range_ok() held and bytes remain */
        if (++i >= map->n || map->regions[i].gpa != cur) {
            return -1;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Dirty bitmap                                                              */

/* Mask of @nbits bits (1..64) starting at bit @b, with b + nbits <= 64. */
static inline uint64_t bit_mask(unsigned b, uint64_t nbits)
{
    return (nbits >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << nbits) - 1)) << b;
}

/*
 * Sets the bits of the pages of [off, off + len) in region @r. The caller has
 * already stored the guest data.
 *
 * The fence orders those stores before the bitmap is read: without it a
 * store could still sit in this CPU's store buffer when we see the bit set
 * and skip the update, while vmem_dirty_get_and_clear() clears the bit and
 * the migration code copies the page without our data: the write would be
 * lost. With it, either the reader's clear comes after our check (and the
 * reader, whose clear is sequentially consistent, sees our data) or our
 * fetch_or comes after its clear (and the next call reports the page).
 * Skipping the read-modify-write when the bits are already set avoids
 * bouncing the bitmap's cache line between threads writing hot pages.
 */
static void region_mark(VMemRegion *r, uint64_t off, uint64_t len)
{
    if (len == 0) {
        return;
    }
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t p = off >> VMEM_PAGE_SHIFT;
    uint64_t last = (off + (len - 1)) >> VMEM_PAGE_SHIFT;
    while (p <= last) {
        uint64_t w = p / 64;
        unsigned b = (unsigned)(p % 64);
        uint64_t nbits = last - p + 1;
        if (nbits > 64 - b) {
            nbits = 64 - b;
        }
        uint64_t mask = bit_mask(b, nbits);
        if ((atomic_load_explicit(&r->dirty[w], memory_order_relaxed) & mask) != mask) {
            atomic_fetch_or_explicit(&r->dirty[w], mask, memory_order_relaxed);
        }
        p += nbits;
    }
}

static inline bool logging_on(const VMemMap *map)
{
    return atomic_load_explicit(&map->logging, memory_order_relaxed);
}

/* Marks a range already known to be covered by regions starting at index i. */
static void mark_span(VMemMap *map, unsigned i, uint64_t gpa, uint64_t len)
{
    while (len) {
        VMemRegion *r = &map->regions[i++];
        uint64_t off = gpa - r->gpa;
        uint64_t chunk = r->size - off;
        if (chunk > len) {
            chunk = len;
        }
        region_mark(r, off, chunk);
        gpa += chunk;
        len -= chunk;
    }
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */

int vmem_map_new(VMemMap **ret_map)
{
    if (!ret_map) {
        return -EINVAL;
    }
    /* sizeof is a multiple of the alignment because of the _Alignas member. */
    VMemMap *map = aligned_alloc(_Alignof(VMemMap), sizeof(*map));
    if (!map) {
        return -ENOMEM;
    }
    memset(map, 0, sizeof(*map));
    atomic_init(&map->hint, 0);
    atomic_init(&map->logging, false);
    *ret_map = map;
    return 0;
}

static void region_release(VMemRegion *r)
{
    if (r->host) {
        munmap(r->host, r->size);
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    free((void *)r->dirty);
    memset(r, 0, sizeof(*r));
    r->fd = -1;
}

void vmem_map_free(VMemMap *map)
{
    if (!map) {
        return;
    }
    for (unsigned i = 0; i < map->n; i++) {
        region_release(&map->regions[i]);
    }
    free(map);
}

/* Validates a new region and returns its insertion index, or a negative errno. */
static int check_new_region(const VMemMap *map, uint64_t gpa, uint64_t size)
{
    uint64_t ps = host_page_size();
    if (!map || size == 0 || (gpa % ps) || (size % ps) || !range_ok(gpa, size) ||
        size > SIZE_MAX) {
        return -EINVAL;
    }
    if (map->n >= VMEM_MAX_REGIONS) {
        return -ENOSPC;
    }
    /* First region at or above gpa. */
    unsigned lo = 0, hi = map->n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (map->regions[mid].gpa < gpa) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    unsigned pos = lo;
    uint64_t last = gpa + (size - 1);
    if (pos > 0) {
        const VMemRegion *prev = &map->regions[pos - 1];
        if (prev->gpa + (prev->size - 1) >= gpa) {
            return -EINVAL;
        }
    }
    if (pos < map->n && map->regions[pos].gpa <= last) {
        return -EINVAL;
    }
    return (int)pos;
}

/* Maps and inserts a region; on failure nothing is left behind except @fd,
 * which stays the caller's to close. */
static int add_mapping(VMemMap *map, uint64_t gpa, uint64_t size, int fd,
                       uint64_t fd_offset, VMemBacking backing, int mmap_flags)
{
    int pos = check_new_region(map, gpa, size);
    if (pos < 0) {
        return pos;
    }
    /* mmap() first: it rejects absurd sizes before we size a bitmap for them. */
    void *host;
    if (fd < 0) {
        host = mmap(NULL, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | mmap_flags, -1, 0);
    } else {
        host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | mmap_flags, fd,
                    (off_t)fd_offset);
    }
    if (host == MAP_FAILED) {
        return -errno;
    }
    uint64_t words = (size / VMEM_PAGE_SIZE + 63) / 64;
    _Atomic uint64_t *dirty = calloc(words, sizeof(uint64_t));
    if (!dirty) {
        munmap(host, size);
        return -ENOMEM;
    }
    memmove(&map->regions[pos + 1], &map->regions[pos],
            (map->n - (unsigned)pos) * sizeof(VMemRegion));
    memmove(&map->starts[pos + 1], &map->starts[pos],
            (map->n - (unsigned)pos) * sizeof(uint64_t));
    map->starts[pos] = gpa;
    map->regions[pos] = (VMemRegion){
        .gpa = gpa, .size = size, .host = host, .dirty = dirty,
        .dirty_words = words, .fd_offset = fd_offset, .fd = fd,
        .backing = backing,
    };
    map->n++;
    atomic_store_explicit(&map->hint, 0, memory_order_relaxed);
    return 0;
}

int vmem_map_add_anon(VMemMap *map, uint64_t gpa, uint64_t size)
{
    return add_mapping(map, gpa, size, -1, 0, VMEM_BACKING_ANON, 0);
}

int vmem_map_add_memfd(VMemMap *map, uint64_t gpa, uint64_t size,
                       const char *name, unsigned flags)
{
    if (flags & ~(unsigned)(VMEM_MEMFD_SEAL | VMEM_NORESERVE)) {
        return -EINVAL;
    }
    /* Validate before creating anything, so that bad input costs no fd. */
    int rc = check_new_region(map, gpa, size);
    if (rc < 0) {
        return rc;
    }
    if (size > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    int fd = memfd_create(name ? name : "vmem", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        rc = -errno;
        goto fail;
    }
    if ((flags & VMEM_MEMFD_SEAL) &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
        rc = -errno;
        goto fail;
    }
    rc = add_mapping(map, gpa, size, fd, 0, VMEM_BACKING_MEMFD,
                     (flags & VMEM_NORESERVE) ? MAP_NORESERVE : 0);
    if (rc == 0) {
        return 0;
    }
fail:
    close(fd);
    return rc;
}

int vmem_map_add_fd(VMemMap *map, uint64_t gpa, uint64_t size, int fd,
                    uint64_t fd_offset)
{
    if (fd < 0 || (fd_offset % host_page_size()) || fd_offset > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    int rc = check_new_region(map, gpa, size);
    if (rc < 0) {
        return rc;
    }
    if (size > (uint64_t)INT64_MAX - fd_offset) {
        return -EINVAL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    /* Touching a mapped page beyond the end of a regular file raises SIGBUS:
     * refuse a file that is too short rather than crash on first access. */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < fd_offset + size) {
        return -EINVAL;
    }
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
        return -errno;
    }
    rc = add_mapping(map, gpa, size, own, fd_offset, VMEM_BACKING_FD, 0);
    if (rc < 0) {
        close(own);
    }
    return rc;
}

int vmem_map_remove(VMemMap *map, uint64_t gpa)
{
    if (!map) {
        return -EINVAL;
    }
    int i = find_index(map, gpa);
    if (i < 0 || map->regions[i].gpa != gpa) {
        return -ENOENT;
    }
    unsigned u = (unsigned)i;
    region_release(&map->regions[u]);
    memmove(&map->regions[u], &map->regions[u + 1],
            (map->n - u - 1) * sizeof(VMemRegion));
    memmove(&map->starts[u], &map->starts[u + 1], (map->n - u - 1) * sizeof(uint64_t));
    map->n--;
    atomic_store_explicit(&map->hint, 0, memory_order_relaxed);
    return 0;
}

unsigned vmem_map_num_regions(const VMemMap *map)
{
    return map ? map->n : 0;
}

static void fill_info(const VMemRegion *r, VMemRegionInfo *info)
{
    info->gpa = r->gpa;
    info->size = r->size;
    info->host = r->host;
    info->fd = r->fd;
    info->fd_offset = r->fd_offset;
    info->backing = r->backing;
}

int vmem_map_region_info(const VMemMap *map, unsigned index, VMemRegionInfo *ret_info)
{
    if (!map || !ret_info) {
        return -EINVAL;
    }
    if (index >= map->n) {
        return -ENOENT;
    }
    fill_info(&map->regions[index], ret_info);
    return 0;
}

int vmem_map_find_region(const VMemMap *map, uint64_t gpa, VMemRegionInfo *ret_info)
{
    if (!map || !ret_info) {
        return -EINVAL;
    }
    int i = find_index(map, gpa);
    if (i < 0) {
        return -EFAULT;
    }
    fill_info(&map->regions[i], ret_info);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Translation                                                               */

void *vmem_translate_ptr(VMemMap *map, uint64_t gpa, uint64_t len)
{
    if (!map || !range_ok(gpa, len)) {
        return NULL;
    }
    VMemRegion *r = find_whole(map, gpa, len ? len : 1);
    return r ? r->host + (gpa - r->gpa) : NULL;
}

int vmem_translate(VMemMap *map, uint64_t gpa, uint64_t len, void **ret_host)
{
    if (!map || !ret_host) {
        return -EINVAL;
    }
    void *p = vmem_translate_ptr(map, gpa, len);
    if (!p) {
        return -EFAULT;
    }
    *ret_host = p;
    return 0;
}

int vmem_translate_iov(VMemMap *map, uint64_t gpa, uint64_t len,
                       struct iovec *iov, unsigned iov_max, unsigned *ret_niov)
{
    if (!map || !ret_niov || (!iov && iov_max)) {
        return -EINVAL;
    }
    if (len == 0) {
        *ret_niov = 0;
        return 0;
    }
    unsigned pieces;
    int first = check_span(map, gpa, len, &pieces);
    if (first < 0) {
        return -EFAULT;
    }
    if (pieces > iov_max) {
        return -ENOBUFS;
    }
    unsigned i = (unsigned)first;
    for (unsigned k = 0; k < pieces; k++, i++) {
        const VMemRegion *r = &map->regions[i];
        uint64_t off = gpa - r->gpa;
        uint64_t chunk = r->size - off;
        if (chunk > len) {
            chunk = len;
        }
        iov[k].iov_base = r->host + off;
        iov[k].iov_len = (size_t)chunk; /* region sizes fit size_t */
        gpa += chunk;
        len -= chunk;
    }
    *ret_niov = pieces;
    return 0;
}

int vmem_check_range(const VMemMap *map, uint64_t gpa, uint64_t len)
{
    if (!map) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    return check_span(map, gpa, len, NULL) < 0 ? -EFAULT : 0;
}

/* ------------------------------------------------------------------------ */
/* Byte access                                                               */

enum span_op { SPAN_READ, SPAN_WRITE, SPAN_FILL };

/* Moves bytes between one region chunk and the caller's buffer (or fills). */
static inline void chunk_access(uint8_t *host, uint8_t *buf, uint8_t byte,
                                size_t len, enum span_op op)
{
    switch (op) {
    case SPAN_READ:
        memcpy(buf, host, len);
        break;
    case SPAN_WRITE:
        memcpy(host, buf, len);
        break;
    case SPAN_FILL:
        memset(host, byte, len);
        break;
    }
}

static int span_access(VMemMap *map, uint64_t gpa, uint8_t *buf, uint8_t byte,
                       size_t len, enum span_op op)
{
    if (!map || (!buf && len && op != SPAN_FILL)) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    /* Fast path: the whole range in one region. */
    VMemRegion *r = range_ok(gpa, len) ? find_whole(map, gpa, len) : NULL;
    if (r) {
        chunk_access(r->host + (gpa - r->gpa), buf, byte, len, op);
        if (op != SPAN_READ && logging_on(map)) {
            region_mark(r, gpa - r->gpa, len);
        }
        return 0;
    }
    int first = check_span(map, gpa, len, NULL);
    if (first < 0) {
        return -EFAULT;
    }
    unsigned i = (unsigned)first;
    size_t done = 0;
    while (done < len) {
        VMemRegion *reg = &map->regions[i++];
        uint64_t off = gpa + done - reg->gpa;
        size_t chunk = (size_t)(reg->size - off) < len - done ? (size_t)(reg->size - off)
                                                              : len - done;
        chunk_access(reg->host + off, buf ? buf + done : NULL, byte, chunk, op);
        if (op != SPAN_READ && logging_on(map)) {
            region_mark(reg, off, chunk);
        }
        done += chunk;
    }
    return 0;
}

int vmem_read(VMemMap *map, uint64_t gpa, void *buf, size_t len)
{
    return span_access(map, gpa, buf, 0, len, SPAN_READ);
}

int vmem_write(VMemMap *map, uint64_t gpa, const void *buf, size_t len)
{
    /* span_access() only reads *buf for SPAN_WRITE. */
    return span_access(map, gpa, (uint8_t *)(uintptr_t)buf, 0, len, SPAN_WRITE);
}

int vmem_fill(VMemMap *map, uint64_t gpa, uint8_t byte, size_t len)
{
    return span_access(map, gpa, NULL, byte, len, SPAN_FILL);
}

/*
 * Length of the next piece of a copy of @len bytes from @src to @dst: the
 * piece starts at the first byte (forwards) or ends at the last byte
 * (backwards) of the ranges, and lies inside one destination region @rd and
 * one source region @rs. Both ranges are known to be covered.
 */
static uint64_t copy_piece(VMemMap *map, uint64_t dst, uint64_t src, uint64_t len,
                           bool backwards, VMemRegion **rd, VMemRegion **rs)
{
    uint64_t d = backwards ? dst + len - 1 : dst;
    uint64_t s = backwards ? src + len - 1 : src;
    *rd = &map->regions[find_index(map, d)];
    *rs = &map->regions[find_index(map, s)];
    /* Bytes available in each region in the direction of travel. */
    uint64_t ad = backwards ? d - (*rd)->gpa + 1 : (*rd)->size - (d - (*rd)->gpa);
    uint64_t as = backwards ? s - (*rs)->gpa + 1 : (*rs)->size - (s - (*rs)->gpa);
    uint64_t n = ad < as ? ad : as;
    return n < len ? n : len;
}

int vmem_copy(VMemMap *map, uint64_t dst, uint64_t src, size_t len)
{
    if (!map) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    if (check_span(map, dst, len, NULL) < 0 || check_span(map, src, len, NULL) < 0) {
        return -EFAULT;
    }
    /*
     * Copy piece by piece, each piece inside one source and one destination
     * region, with memmove() inside a piece. Walking the pieces from the end
     * when the destination lies above an overlapping source gives memmove()
     * semantics across region boundaries too.
     */
    bool backwards = dst > src && dst - src < len;
    bool log = logging_on(map);
    uint64_t left = len;
    while (left) {
        VMemRegion *rd, *rs;
        uint64_t n, d, s;
        if (backwards) {
            n = copy_piece(map, dst, src, left, true, &rd, &rs);
            d = dst + left - n;
            s = src + left - n;
        } else {
            n = copy_piece(map, dst, src, left, false, &rd, &rs);
            d = dst;
            s = src;
            dst += n;
            src += n;
        }
        memmove(rd->host + (d - rd->gpa), rs->host + (s - rs->gpa), (size_t)n);
        if (log) {
            region_mark(rd, d - rd->gpa, n);
        }
        left -= n;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Fixed-width accessors                                                     */

#define DEFINE_LOAD(name, type, conv)                                         \
    int vmem_read_##name(VMemMap *map, uint64_t gpa, type *ret)               \
    {                                                                         \
        if (!map || !ret) {                                                   \
            return -EINVAL;                                                   \
        }                                                                     \
        uint8_t b[sizeof(type)];                                              \
        VMemRegion *r = range_ok(gpa, sizeof(type))                           \
                            ? find_whole(map, gpa, sizeof(type)) : NULL;      \
        if (r) {                                                              \
            memcpy(b, r->host + (gpa - r->gpa), sizeof(type));                \
        } else {                                                              \
            int rc = vmem_read(map, gpa, b, sizeof(type));                    \
            if (rc < 0) {                                                     \
                return rc;                                                    \
            }                                                                 \
        }                                                                     \
        *ret = conv(b);                                                       \
        return 0;                                                             \
    }

#define DEFINE_STORE(name, type, conv)                                        \
    int vmem_write_##name(VMemMap *map, uint64_t gpa, type val)               \
    {                                                                         \
        uint8_t b[sizeof(type)];                                              \
        conv(b, val);                                                         \
        return vmem_write(map, gpa, b, sizeof(type));                         \
    }

static inline uint8_t load_u8(const void *p) { return *(const uint8_t *)p; }
static inline void store_u8(void *p, uint8_t v) { *(uint8_t *)p = v; }

DEFINE_LOAD(u8, uint8_t, load_u8)
DEFINE_LOAD(le16, uint16_t, vmem_le16_to_cpu)
DEFINE_LOAD(le32, uint32_t, vmem_le32_to_cpu)
DEFINE_LOAD(le64, uint64_t, vmem_le64_to_cpu)
DEFINE_LOAD(be16, uint16_t, vmem_be16_to_cpu)
DEFINE_LOAD(be32, uint32_t, vmem_be32_to_cpu)
DEFINE_LOAD(be64, uint64_t, vmem_be64_to_cpu)

DEFINE_STORE(u8, uint8_t, store_u8)
DEFINE_STORE(le16, uint16_t, vmem_cpu_to_le16)
DEFINE_STORE(le32, uint32_t, vmem_cpu_to_le32)
DEFINE_STORE(le64, uint64_t, vmem_cpu_to_le64)
DEFINE_STORE(be16, uint16_t, vmem_cpu_to_be16)
DEFINE_STORE(be32, uint32_t, vmem_cpu_to_be32)
DEFINE_STORE(be64, uint64_t, vmem_cpu_to_be64)

/*
 * Region and host pointer for an aligned atomic access. An aligned access
 * never straddles regions because regions are page aligned, and the host
 * pointer is as aligned as @gpa because mappings are page aligned.
 */
static int atomic_ptr(VMemMap *map, uint64_t gpa, uint64_t size,
                      VMemRegion **ret_r, void **ret_p)
{
    if (!map || (gpa % size)) {
        return -EINVAL;
    }
    VMemRegion *r = find_whole(map, gpa, size);
    if (!r) {
        return -EFAULT;
    }
    *ret_r = r;
    *ret_p = r->host + (gpa - r->gpa);
    return 0;
}

int vmem_load_acquire_le16(VMemMap *map, uint64_t gpa, uint16_t *ret)
{
    VMemRegion *r;
    void *p;
    int rc = ret ? atomic_ptr(map, gpa, 2, &r, &p) : -EINVAL;
    if (rc < 0) {
        return rc;
    }
    *ret = le16toh(__atomic_load_n((uint16_t *)p, __ATOMIC_ACQUIRE));
    return 0;
}

int vmem_load_acquire_le32(VMemMap *map, uint64_t gpa, uint32_t *ret)
{
    VMemRegion *r;
    void *p;
    int rc = ret ? atomic_ptr(map, gpa, 4, &r, &p) : -EINVAL;
    if (rc < 0) {
        return rc;
    }
    *ret = le32toh(__atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE));
    return 0;
}

int vmem_store_release_le16(VMemMap *map, uint64_t gpa, uint16_t val)
{
    VMemRegion *r;
    void *p;
    int rc = atomic_ptr(map, gpa, 2, &r, &p);
    if (rc < 0) {
        return rc;
    }
    __atomic_store_n((uint16_t *)p, htole16(val), __ATOMIC_RELEASE);
    if (logging_on(map)) {
        region_mark(r, gpa - r->gpa, 2);
    }
    return 0;
}

int vmem_store_release_le32(VMemMap *map, uint64_t gpa, uint32_t val)
{
    VMemRegion *r;
    void *p;
    int rc = atomic_ptr(map, gpa, 4, &r, &p);
    if (rc < 0) {
        return rc;
    }
    __atomic_store_n((uint32_t *)p, htole32(val), __ATOMIC_RELEASE);
    if (logging_on(map)) {
        region_mark(r, gpa - r->gpa, 4);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Dirty logging                                                             */

int vmem_dirty_log_start(VMemMap *map)
{
    if (!map) {
        return -EINVAL;
    }
    if (atomic_load(&map->logging)) {
        return 0;
    }
    for (unsigned i = 0; i < map->n; i++) {
        VMemRegion *r = &map->regions[i];
        for (uint64_t w = 0; w < r->dirty_words; w++) {
            atomic_store_explicit(&r->dirty[w], 0, memory_order_relaxed);
        }
    }
    atomic_store(&map->logging, true);
    return 0;
}

int vmem_dirty_log_stop(VMemMap *map)
{
    if (!map) {
        return -EINVAL;
    }
    atomic_store(&map->logging, false);
    return 0;
}

bool vmem_dirty_log_enabled(const VMemMap *map)
{
    return map && logging_on(map);
}

int vmem_mark_dirty(VMemMap *map, uint64_t gpa, uint64_t len)
{
    if (!map) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    int first = check_span(map, gpa, len, NULL);
    if (first < 0) {
        return -EFAULT;
    }
    if (logging_on(map)) {
        mark_span(map, (unsigned)first, gpa, len);
    }
    return 0;
}

/* ORs the low @nbits bits of @bits into @bitmap at bit position @pos. */
static inline void bitmap_put(uint64_t *bitmap, uint64_t pos, uint64_t bits,
                              uint64_t nbits)
{
    uint64_t w = pos / 64;
    unsigned b = (unsigned)(pos % 64);
    bitmap[w] |= bits << b;
    if (b && nbits > 64 - b) {
        bitmap[w + 1] |= bits >> (64 - b);
    }
}

int vmem_dirty_get_and_clear(VMemMap *map, uint64_t gpa, uint64_t npages,
                             uint64_t *bitmap)
{
    if (!map || !bitmap || (gpa % VMEM_PAGE_SIZE)) {
        return -EINVAL;
    }
    if (npages == 0) {
        return 0;
    }
    if (npages > UINT64_MAX >> VMEM_PAGE_SHIFT) {
        return -EFAULT;
    }
    int first = check_span(map, gpa, npages << VMEM_PAGE_SHIFT, NULL);
    if (first < 0) {
        return -EFAULT;
    }
    memset(bitmap, 0, (size_t)((npages + 63) / 64) * sizeof(uint64_t));
    unsigned ri = (unsigned)first;
    uint64_t page = 0;
    while (page < npages) {
        VMemRegion *r = &map->regions[ri++];
        uint64_t rp = (gpa + (page << VMEM_PAGE_SHIFT) - r->gpa) >> VMEM_PAGE_SHIFT;
        uint64_t rpages = r->size >> VMEM_PAGE_SHIFT;
        while (page < npages && rp < rpages) {
            uint64_t w = rp / 64;
            unsigned b = (unsigned)(rp % 64);
            uint64_t nbits = 64 - b;
            if (nbits > npages - page) {
                nbits = npages - page;
            }
            if (nbits > rpages - rp) {
                nbits = rpages - rp;
            }
            uint64_t mask = bit_mask(b, nbits);
            uint64_t got = 0;
            /* A bit seen clear here and set just after is reported by the
             * next call; a bit we clear is returned by this one. The
             * sequentially consistent RMW pairs with region_mark()'s fence so
             * that the caller's copy of a page reported dirty sees the data. */
            if (atomic_load_explicit(&r->dirty[w], memory_order_relaxed) & mask) {
                got = atomic_fetch_and_explicit(&r->dirty[w], ~mask,
                                                memory_order_seq_cst) & mask;
            }
            bitmap_put(bitmap, page, got >> b, nbits);
            page += nbits;
            rp += nbits;
        }
    }
    return 0;
}

uint64_t vmem_dirty_count(const VMemMap *map)
{
    if (!map) {
        return 0;
    }
    uint64_t n = 0;
    for (unsigned i = 0; i < map->n; i++) {
        const VMemRegion *r = &map->regions[i];
        for (uint64_t w = 0; w < r->dirty_words; w++) {
            n += (uint64_t)__builtin_popcountll(
                atomic_load_explicit(&r->dirty[w], memory_order_relaxed));
        }
    }
    return n;
}
