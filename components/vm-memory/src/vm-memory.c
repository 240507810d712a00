/* SPDX-License-Identifier: MIT */
/*
 * vm-memory: region map, translation, bounded access and dirty bitmap.
 *
 * Regions are kept sorted by guest address in a flat array; lookups try the
 * region that answered last, then bisect. The layout only changes when the
 * caller guarantees no concurrent access (see the header), so the array needs
 * no lock; the "last hit" hint is a relaxed atomic because accessors on
 * several threads update it.
 */
#include "vm-memory/vm-memory.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct VMemRegion {
    uint64_t gpa;
    uint64_t size;
    uint8_t *host;
    int fd;
    uint64_t fd_offset;
    VMemBacking backing;
    _Atomic uint64_t *dirty; /* one bit per 4 KiB page */
    uint64_t dirty_words;
} VMemRegion;

struct VMemMap {
    VMemRegion regions[VMEM_MAX_REGIONS];
    unsigned n;
    atomic_uint hint;
    atomic_bool logging;
};

static uint64_t host_page_size(void)
{
    static uint64_t cached;
    if (!cached) {
        long ps = sysconf(_SC_PAGESIZE);
        cached = ps > 0 ? (uint64_t)ps : 4096;
    }
    return cached;
}

/* True when [gpa, gpa + len) is non-empty and does not wrap. */
static inline bool range_ok(uint64_t gpa, uint64_t len)
{
    return len == 0 || gpa + (len - 1) >= gpa;
}

static inline bool region_contains(const VMemRegion *r, uint64_t gpa)
{
    return gpa >= r->gpa && gpa - r->gpa < r->size;
}

/* Index of the region holding @gpa, or -1. */
static int find_index(const VMemMap *map, uint64_t gpa)
{
    unsigned n = map->n;
    unsigned h = atomic_load_explicit(&((VMemMap *)map)->hint, memory_order_relaxed);

    if (h < n && region_contains(&map->regions[h], gpa)) {
        return (int)h;
    }
    unsigned lo = 0, hi = n;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        const VMemRegion *r = &map->regions[mid];
        if (gpa < r->gpa) {
            hi = mid;
        } else if (gpa - r->gpa >= r->size) {
            lo = mid + 1;
        } else {
            atomic_store_explicit(&((VMemMap *)map)->hint, mid, memory_order_relaxed);
            return (int)mid;
        }
    }
    return -1;
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
 * Checks that [gpa, gpa + len) is covered by adjacent regions. Returns the
 * index of the first region, or -1.
 */
static int check_span(const VMemMap *map, uint64_t gpa, uint64_t len)
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
            return first;
        }
        left -= avail;
        cur += avail; /* cannot wrap: range_ok() held */
        if (++i >= map->n || map->regions[i].gpa != cur) {
            return -1;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Dirty bitmap                                                              */

static void region_mark(VMemRegion *r, uint64_t off, uint64_t len)
{
    if (len == 0 || !r->dirty) {
        return;
    }
    uint64_t first = off >> VMEM_PAGE_SHIFT;
    uint64_t last = (off + len - 1) >> VMEM_PAGE_SHIFT;
    for (uint64_t p = first; p <= last;) {
        uint64_t w = p / 64;
        unsigned b = (unsigned)(p % 64);
        uint64_t nbits = last - p + 1;
        uint64_t mask;
        if (b == 0 && nbits >= 64) {
            mask = ~UINT64_C(0);
            nbits = 64;
        } else {
            if (nbits > 64 - b) {
                nbits = 64 - b;
            }
            mask = (nbits == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << nbits) - 1)) << b;
        }
        /* Avoid the atomic RMW (and the cache line bounce) when the bits are
         * already set, the common case for hot ring pages. */
        if ((atomic_load_explicit(&r->dirty[w], memory_order_relaxed) & mask) != mask) {
            atomic_fetch_or_explicit(&r->dirty[w], mask, memory_order_relaxed);
        }
        p += nbits;
    }
}

static inline bool logging_on(const VMemMap *map)
{
    return atomic_load_explicit(&((VMemMap *)map)->logging, memory_order_relaxed);
}

/* Marks a range already known to be covered by regions starting at index i. */
static void mark_span(VMemMap *map, unsigned i, uint64_t gpa, uint64_t len)
{
    while (len) {
        VMemRegion *r = &map->regions[i];
        uint64_t off = gpa - r->gpa;
        uint64_t chunk = r->size - off;
        if (chunk > len) {
            chunk = len;
        }
        region_mark(r, off, chunk);
        gpa += chunk;
        len -= chunk;
        i++;
    }
}

/* ------------------------------------------------------------------------ */
/* Layout                                                                    */

int vmem_map_new(VMemMap **ret_map)
{
    if (!ret_map) {
        return -EINVAL;
    }
    VMemMap *map = calloc(1, sizeof(*map));
    if (!map) {
        return -ENOMEM;
    }
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
    if (!map || size == 0 || (gpa % ps) || (size % ps) || !range_ok(gpa, size)) {
        return -EINVAL;
    }
    if (map->n >= VMEM_MAX_REGIONS) {
        return -ENOSPC;
    }
    if (size / VMEM_PAGE_SIZE / 64 + 1 > SIZE_MAX / sizeof(uint64_t)) {
        return -EINVAL;
    }
    unsigned pos = 0;
    while (pos < map->n && map->regions[pos].gpa < gpa) {
        pos++;
    }
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

static int insert_region(VMemMap *map, unsigned pos, VMemRegion *r)
{
    r->dirty_words = (r->size / VMEM_PAGE_SIZE + 63) / 64;
    r->dirty = calloc(r->dirty_words ? r->dirty_words : 1, sizeof(uint64_t));
    if (!r->dirty) {
        return -ENOMEM;
    }
    memmove(&map->regions[pos + 1], &map->regions[pos],
            (map->n - pos) * sizeof(VMemRegion));
    map->regions[pos] = *r;
    map->n++;
    atomic_store_explicit(&map->hint, 0, memory_order_relaxed);
    return 0;
}

static int add_mapping(VMemMap *map, uint64_t gpa, uint64_t size, int fd,
                       uint64_t fd_offset, VMemBacking backing, int mmap_flags)
{
    int pos = check_new_region(map, gpa, size);
    if (pos < 0) {
        return pos;
    }
    if (size > SIZE_MAX) {
        return -EINVAL;
    }
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
    VMemRegion r = {
        .gpa = gpa, .size = size, .host = host, .fd = fd,
        .fd_offset = fd_offset, .backing = backing,
    };
    int rc = insert_region(map, (unsigned)pos, &r);
    if (rc < 0) {
        munmap(host, size);
        return rc;
    }
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
    for (unsigned i = 0; i < map->n; i++) {
        if (map->regions[i].gpa == gpa) {
            region_release(&map->regions[i]);
            memmove(&map->regions[i], &map->regions[i + 1],
                    (map->n - i - 1) * sizeof(VMemRegion));
            map->n--;
            atomic_store_explicit(&map->hint, 0, memory_order_relaxed);
            return 0;
        }
    }
    return -ENOENT;
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

int vmem_check_range(const VMemMap *map, uint64_t gpa, uint64_t len)
{
    if (!map) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    return check_span(map, gpa, len) < 0 ? -EFAULT : 0;
}

/* ------------------------------------------------------------------------ */
/* Byte access                                                               */

/* Walks a checked span; op copies between guest chunk and buffer offset. */
enum span_op { SPAN_READ, SPAN_WRITE, SPAN_FILL };

static int span_access(VMemMap *map, uint64_t gpa, void *buf, uint8_t byte,
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
        uint8_t *host = r->host + (gpa - r->gpa);
        switch (op) {
        case SPAN_READ:
            memcpy(buf, host, len);
            return 0;
        case SPAN_WRITE:
            memcpy(host, buf, len);
            break;
        case SPAN_FILL:
            memset(host, byte, len);
            break;
        }
        if (logging_on(map)) {
            region_mark(r, gpa - r->gpa, len);
        }
        return 0;
    }
    int first = check_span(map, gpa, len);
    if (first < 0) {
        return -EFAULT;
    }
    unsigned i = (unsigned)first;
    uint64_t cur = gpa;
    size_t done = 0;
    while (done < len) {
        VMemRegion *reg = &map->regions[i++];
        uint64_t off = cur - reg->gpa;
        uint64_t chunk = reg->size - off;
        if (chunk > len - done) {
            chunk = len - done;
        }
        switch (op) {
        case SPAN_READ:
            memcpy((uint8_t *)buf + done, reg->host + off, chunk);
            break;
        case SPAN_WRITE:
            memcpy(reg->host + off, (const uint8_t *)buf + done, chunk);
            break;
        case SPAN_FILL:
            memset(reg->host + off, byte, chunk);
            break;
        }
        if (op != SPAN_READ && logging_on(map)) {
            region_mark(reg, off, chunk);
        }
        done += chunk;
        cur += chunk;
    }
    return 0;
}

int vmem_read(VMemMap *map, uint64_t gpa, void *buf, size_t len)
{
    return span_access(map, gpa, buf, 0, len, SPAN_READ);
}

int vmem_write(VMemMap *map, uint64_t gpa, const void *buf, size_t len)
{
    return span_access(map, gpa, (void *)buf, 0, len, SPAN_WRITE);
}

int vmem_fill(VMemMap *map, uint64_t gpa, uint8_t byte, size_t len)
{
    return span_access(map, gpa, NULL, byte, len, SPAN_FILL);
}

int vmem_copy(VMemMap *map, uint64_t dst, uint64_t src, size_t len)
{
    if (!map) {
        return -EINVAL;
    }
    if (len == 0) {
        return 0;
    }
    if (check_span(map, dst, len) < 0 || check_span(map, src, len) < 0) {
        return -EFAULT;
    }
    VMemRegion *rd = find_whole(map, dst, len);
    VMemRegion *rs = find_whole(map, src, len);
    if (rd && rs) {
        memmove(rd->host + (dst - rd->gpa), rs->host + (src - rs->gpa), len);
        if (logging_on(map)) {
            region_mark(rd, dst - rd->gpa, len);
        }
        return 0;
    }
    /* Crossing regions: bounce through a bounded buffer, choosing the copy
     * direction so that overlapping ranges behave like memmove(). */
    uint8_t tmp[4096];
    bool backwards = dst > src && dst - src < len;
    size_t done = 0;
    while (done < len) {
        size_t chunk = len - done < sizeof(tmp) ? len - done : sizeof(tmp);
        size_t off = backwards ? len - done - chunk : done;
        int rc = vmem_read(map, src + off, tmp, chunk);
        if (rc == 0) {
            rc = vmem_write(map, dst + off, tmp, chunk);
        }
        if (rc < 0) {
            return rc; /* cannot happen: both spans were checked */
        }
        done += chunk;
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

/* Aligned, in one region (an aligned access never straddles regions because
 * regions are page aligned). */
static void *atomic_ptr(VMemMap *map, uint64_t gpa, uint64_t size, int *rc)
{
    if (!map) {
        *rc = -EINVAL;
        return NULL;
    }
    if (gpa % size) {
        *rc = -EINVAL;
        return NULL;
    }
    void *p = vmem_translate_ptr(map, gpa, size);
    *rc = p ? 0 : -EFAULT;
    return p;
}

int vmem_load_acquire_le16(VMemMap *map, uint64_t gpa, uint16_t *ret)
{
    int rc;
    uint16_t *p = ret ? atomic_ptr(map, gpa, 2, &rc) : (rc = -EINVAL, NULL);
    if (!p) {
        return rc;
    }
    *ret = le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
    return 0;
}

int vmem_load_acquire_le32(VMemMap *map, uint64_t gpa, uint32_t *ret)
{
    int rc;
    uint32_t *p = ret ? atomic_ptr(map, gpa, 4, &rc) : (rc = -EINVAL, NULL);
    if (!p) {
        return rc;
    }
    *ret = le32toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
    return 0;
}

int vmem_store_release_le16(VMemMap *map, uint64_t gpa, uint16_t val)
{
    int rc;
    uint16_t *p = atomic_ptr(map, gpa, 2, &rc);
    if (!p) {
        return rc;
    }
    __atomic_store_n(p, htole16(val), __ATOMIC_RELEASE);
    if (logging_on(map)) {
        vmem_mark_dirty(map, gpa, 2);
    }
    return 0;
}

int vmem_store_release_le32(VMemMap *map, uint64_t gpa, uint32_t val)
{
    int rc;
    uint32_t *p = atomic_ptr(map, gpa, 4, &rc);
    if (!p) {
        return rc;
    }
    __atomic_store_n(p, htole32(val), __ATOMIC_RELEASE);
    if (logging_on(map)) {
        vmem_mark_dirty(map, gpa, 4);
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
    int first = check_span(map, gpa, len);
    if (first < 0) {
        return -EFAULT;
    }
    if (logging_on(map)) {
        mark_span(map, (unsigned)first, gpa, len);
    }
    return 0;
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
    uint64_t len = npages << VMEM_PAGE_SHIFT;
    int first = check_span(map, gpa, len);
    if (first < 0) {
        return -EFAULT;
    }
    memset(bitmap, 0, ((npages + 63) / 64) * sizeof(uint64_t));
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
            uint64_t mask = (nbits == 64 ? ~UINT64_C(0) : ((UINT64_C(1) << nbits) - 1)) << b;
            uint64_t got = 0;
            if (atomic_load_explicit(&r->dirty[w], memory_order_relaxed) & mask) {
                got = atomic_fetch_and_explicit(&r->dirty[w], ~mask,
                                                memory_order_acq_rel) & mask;
            }
            got >>= b;
            /* Scatter nbits bits into the output at position `page`. */
            uint64_t ow = page / 64;
            unsigned ob = (unsigned)(page % 64);
            bitmap[ow] |= got << ob;
            if (ob && nbits > 64 - ob) {
                bitmap[ow + 1] |= got >> (64 - ob);
            }
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
