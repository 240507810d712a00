/* SPDX-License-Identifier: MIT */
/* Dirty logging: every write path, bitmap layout, atomic get-and-clear. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common.h"

/*
 * Two adjacent regions, sizes multiples of 64 KiB so that any host page size
 * up to that works: R1 = 80 dirty pages, R2 = 48 dirty pages; 128 in all.
 */
#define PG VMEM_PAGE_SIZE
#define R1 UINT64_C(0x100000)
#define R2 (R1 + 80 * PG)
#define NPAGES 128

static VMemMap *two_regions(bool logging)
{
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_memfd(m, R1, 80 * PG, NULL, 0), 0);
    cr_assert_eq(vmem_map_add_anon(m, R2, 48 * PG), 0);
    if (logging) {
        cr_assert_eq(vmem_dirty_log_start(m), 0);
        cr_assert(vmem_dirty_log_enabled(m));
    }
    return m;
}

/* Reads and clears all 128 pages and checks that exactly @pages were dirty. */
static void expect_dirty(VMemMap *m, const char *what, const unsigned *pages, size_t n)
{
    uint64_t want[2] = { 0, 0 }, got[2] = { ~UINT64_C(0), ~UINT64_C(0) };
    for (size_t i = 0; i < n; i++) {
        want[pages[i] / 64] |= UINT64_C(1) << (pages[i] % 64);
    }
    cr_assert_eq(vmem_dirty_count(m), n, "%s: count", what);
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, NPAGES, got), 0);
    cr_assert(got[0] == want[0] && got[1] == want[1],
              "%s: got %016llx %016llx, want %016llx %016llx", what,
              (unsigned long long)got[1], (unsigned long long)got[0],
              (unsigned long long)want[1], (unsigned long long)want[0]);
    cr_assert_eq(vmem_dirty_count(m), 0, "%s: cleared", what);
}

/* One write path: performs a write at @gpa and says how many bytes it wrote. */
typedef uint64_t (*write_fn)(VMemMap *m, uint64_t gpa);

static uint64_t w_write(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write(m, g, "0123456789", 10), 0);
    return 10;
}
static uint64_t w_fill(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_fill(m, g, 0xaa, 6), 0);
    return 6;
}
static uint64_t w_copy(VMemMap *m, uint64_t g)
{
    /* The source (the last page of R2) must not be marked. */
    cr_assert_eq(vmem_copy(m, g, R2 + 47 * PG, 12), 0);
    return 12;
}
static uint64_t w_u8(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_u8(m, g, 1), 0);
    return 1;
}
static uint64_t w_le16(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_le16(m, g, 1), 0);
    return 2;
}
static uint64_t w_be16(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_be16(m, g, 1), 0);
    return 2;
}
static uint64_t w_le32(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_le32(m, g, 1), 0);
    return 4;
}
static uint64_t w_be32(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_be32(m, g, 1), 0);
    return 4;
}
static uint64_t w_le64(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_le64(m, g, 1), 0);
    return 8;
}
static uint64_t w_be64(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_write_be64(m, g, 1), 0);
    return 8;
}
static uint64_t w_rel16(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_store_release_le16(m, g & ~UINT64_C(1), 1), 0);
    return 2;
}
static uint64_t w_rel32(VMemMap *m, uint64_t g)
{
    cr_assert_eq(vmem_store_release_le32(m, g & ~UINT64_C(3), 1), 0);
    return 4;
}
static uint64_t w_mark(VMemMap *m, uint64_t g)
{
    /* The pattern of a write through a translated pointer. */
    struct iovec iov[2];
    unsigned n;
    cr_assert_eq(vmem_translate_iov(m, g, 9, iov, 2, &n), 0);
    for (unsigned i = 0; i < n; i++) {
        memset(iov[i].iov_base, 3, iov[i].iov_len);
    }
    cr_assert_eq(vmem_mark_dirty(m, g, 9), 0);
    return 9;
}

static const struct {
    const char *name;
    write_fn fn;
    uint64_t len;
    bool aligned; /* atomic stores: address rounded down, cannot straddle */
} paths[] = {
    { "vmem_write", w_write, 10, false },
    { "vmem_fill", w_fill, 6, false },
    { "vmem_copy", w_copy, 12, false },
    { "vmem_write_u8", w_u8, 1, false },
    { "vmem_write_le16", w_le16, 2, false },
    { "vmem_write_be16", w_be16, 2, false },
    { "vmem_write_le32", w_le32, 4, false },
    { "vmem_write_be32", w_be32, 4, false },
    { "vmem_write_le64", w_le64, 8, false },
    { "vmem_write_be64", w_be64, 8, false },
    { "vmem_store_release_le16", w_rel16, 2, true },
    { "vmem_store_release_le32", w_rel32, 4, true },
    { "vmem_mark_dirty", w_mark, 9, false },
};

Test(dirty, every_write_path_marks)
{
    for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
        VMemMap *m = two_regions(true);
        /* In one page, across a page boundary, across the region boundary,
         * ending on the very last byte, starting on the very first. */
        uint64_t len = paths[k].len;
        const uint64_t at[] = { R1 + 5 * PG + 100, R1 + 3 * PG - 1, R2 - 1,
                                R2 + 48 * PG - len, R1 };
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
            uint64_t g = at[i];
            cr_assert_eq(paths[k].fn(m, g), len);
            if (paths[k].aligned) {
                g &= ~(len - 1);
            }
            uint64_t last = g + len - 1;
            unsigned pages[2] = { (unsigned)((g - R1) / PG), (unsigned)((last - R1) / PG) };
            expect_dirty(m, paths[k].name, pages, pages[0] == pages[1] ? 1 : 2);
        }
        vmem_map_free(m);
    }
}

Test(dirty, write_paths_mark_nothing_when_logging_is_off)
{
    for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++) {
        VMemMap *m = two_regions(false);
        cr_assert_not(vmem_dirty_log_enabled(m));
        paths[k].fn(m, R2 - 1);
        expect_dirty(m, paths[k].name, NULL, 0);
        /* Started and stopped again: still nothing new. */
        cr_assert_eq(vmem_dirty_log_start(m), 0);
        cr_assert_eq(vmem_dirty_log_stop(m), 0);
        cr_assert_not(vmem_dirty_log_enabled(m));
        paths[k].fn(m, R1 + 7);
        expect_dirty(m, paths[k].name, NULL, 0);
        vmem_map_free(m);
    }
}

Test(dirty, reads_mark_nothing)
{
    VMemMap *m = two_regions(true);
    uint8_t buf[64];
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    void *h;
    cr_assert_eq(vmem_read(m, R2 - 10, buf, sizeof(buf)), 0);
    cr_assert_eq(vmem_read_u8(m, R1, &u8), 0);
    cr_assert_eq(vmem_read_le16(m, R2 - 1, &u16), 0);
    cr_assert_eq(vmem_read_be16(m, R2 - 1, &u16), 0);
    cr_assert_eq(vmem_read_le32(m, R2 - 1, &u32), 0);
    cr_assert_eq(vmem_read_be32(m, R2 - 1, &u32), 0);
    cr_assert_eq(vmem_read_le64(m, R2 - 1, &u64), 0);
    cr_assert_eq(vmem_read_be64(m, R2 - 1, &u64), 0);
    cr_assert_eq(vmem_load_acquire_le16(m, R2, &u16), 0);
    cr_assert_eq(vmem_load_acquire_le32(m, R2, &u32), 0);
    cr_assert_eq(vmem_translate(m, R1, 100, &h), 0);
    cr_assert_eq(vmem_check_range(m, R1, NPAGES * PG), 0);
    expect_dirty(m, "reads", NULL, 0);
    vmem_map_free(m);
}

Test(dirty, failed_writes_mark_nothing)
{
    VMemMap *m = two_regions(true);
    uint64_t end = R2 + 48 * PG;
    cr_assert_eq(vmem_write(m, end - 4, "12345678", 8), -EFAULT);
    cr_assert_eq(vmem_fill(m, end - 4, 0, 8), -EFAULT);
    cr_assert_eq(vmem_copy(m, end - 4, R1, 8), -EFAULT);
    cr_assert_eq(vmem_write_le64(m, end - 4, 1), -EFAULT);
    cr_assert_eq(vmem_store_release_le32(m, end, 1), -EFAULT);
    cr_assert_eq(vmem_store_release_le32(m, R1 + 2, 1), -EINVAL);
    cr_assert_eq(vmem_mark_dirty(m, end - 4, 8), -EFAULT);
    cr_assert_eq(vmem_mark_dirty(m, R1 - 1, 2), -EFAULT);
    cr_assert_eq(vmem_mark_dirty(m, R1, UINT64_MAX), -EFAULT);
    cr_assert_eq(vmem_mark_dirty(NULL, R1, 1), -EINVAL);
    cr_assert_eq(vmem_mark_dirty(m, end, 0), 0, "zero length marks nothing");
    expect_dirty(m, "failed writes", NULL, 0);
    /* mark_dirty checks the range even when logging is off. */
    cr_assert_eq(vmem_dirty_log_stop(m), 0);
    cr_assert_eq(vmem_mark_dirty(m, end - 4, 8), -EFAULT);
    cr_assert_eq(vmem_mark_dirty(m, R1, 8), 0);
    vmem_map_free(m);
}

Test(dirty, mark_ranges_across_words_and_regions)
{
    VMemMap *m = two_regions(true);
    /* Pages 60..69 cross the first bitmap word of R1. */
    cr_assert_eq(vmem_mark_dirty(m, R1 + 60 * PG + 5, 10 * PG - 10), 0);
    unsigned a[] = { 60, 61, 62, 63, 64, 65, 66, 67, 68, 69 };
    expect_dirty(m, "60..69", a, 10);
    /* Pages 78..81: two in R1, two in R2. */
    cr_assert_eq(vmem_mark_dirty(m, R1 + 78 * PG, 4 * PG), 0);
    unsigned b[] = { 78, 79, 80, 81 };
    expect_dirty(m, "78..81", b, 4);
    /* Every page of both regions in one call. */
    cr_assert_eq(vmem_mark_dirty(m, R1, NPAGES * PG), 0);
    unsigned all[NPAGES];
    for (unsigned i = 0; i < NPAGES; i++) {
        all[i] = i;
    }
    expect_dirty(m, "everything", all, NPAGES);
    /* A whole aligned word and a bit more. */
    cr_assert_eq(vmem_mark_dirty(m, R1, 65 * PG), 0);
    expect_dirty(m, "0..64", all, 65);
    vmem_map_free(m);
}

Test(dirty, bitmap_layout_offset_and_spanning)
{
    VMemMap *m = two_regions(true);
    const unsigned marked[] = { 0, 1, 63, 64, 65, 79, 80, 127 };
    for (size_t i = 0; i < sizeof(marked) / sizeof(marked[0]); i++) {
        cr_assert_eq(vmem_mark_dirty(m, R1 + marked[i] * PG + 17, 1), 0);
    }
    /* Starting at page 1, 126 pages: bit i is page i + 1, so page 127 is out
     * of range and page 0 stays dirty. Bits past npages are cleared. */
    uint64_t bm[3] = { ~UINT64_C(0), ~UINT64_C(0), ~UINT64_C(0) };
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + PG, 126, bm), 0);
    uint64_t w0 = (UINT64_C(1) << 0) | (UINT64_C(1) << 62) | (UINT64_C(1) << 63);
    uint64_t w1 = (UINT64_C(1) << (64 - 64)) | (UINT64_C(1) << (78 - 64)) |
                  (UINT64_C(1) << (79 - 64));
    cr_assert_eq(bm[0], w0, "%016llx", (unsigned long long)bm[0]);
    cr_assert_eq(bm[1], w1, "%016llx", (unsigned long long)bm[1]);
    cr_assert_eq(bm[2], ~UINT64_C(0), "beyond the bitmap: untouched");
    cr_assert_eq(vmem_dirty_count(m), 2, "pages 0 and 127 remain");
    /* Again: the range is clean now. */
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + PG, 126, bm), 0);
    cr_assert(bm[0] == 0 && bm[1] == 0);

    /* A range starting mid-word in R1 (page 70) and mid-word in R2: the
     * output bits are shifted relative to both bitmaps. */
    const unsigned more[] = { 70, 71, 79, 80, 100, 117 };
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        cr_assert_eq(vmem_mark_dirty(m, R1 + more[i] * PG, PG), 0);
    }
    uint64_t one = ~UINT64_C(0);
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + 70 * PG, 48, &one), 0);
    uint64_t want = (UINT64_C(1) << 0) | (UINT64_C(1) << 1) | (UINT64_C(1) << 9) |
                    (UINT64_C(1) << 10) | (UINT64_C(1) << 30) | (UINT64_C(1) << 47);
    cr_assert_eq(one, want, "%016llx", (unsigned long long)one);
    unsigned rest[] = { 0, 127 };
    expect_dirty(m, "rest", rest, 2);

    /* Single pages at both ends of both regions. */
    const unsigned ends[] = { 0, 79, 80, 127 };
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(vmem_mark_dirty(m, R1 + ends[i] * PG + PG - 1, 1), 0);
        uint64_t b = 0;
        cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + ends[i] * PG, 1, &b), 0);
        cr_assert_eq(b, 1, "page %u", ends[i]);
    }
    cr_assert_eq(vmem_dirty_count(m), 0);
    vmem_map_free(m);
}

Test(dirty, get_and_clear_bad_input)
{
    VMemMap *m = two_regions(true);
    cr_assert_eq(vmem_mark_dirty(m, R1, NPAGES * PG), 0);
    uint64_t bm[3] = { 7, 7, 7 };
    cr_assert_eq(vmem_dirty_get_and_clear(NULL, R1, 1, bm), -EINVAL);
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, 1, NULL), -EINVAL);
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + 1, 1, bm), -EINVAL, "misaligned");
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 + 8, 1, bm), -EINVAL, "misaligned");
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1 - PG, 2, bm), -EFAULT, "starts before");
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, NPAGES + 1, bm), -EFAULT, "runs past");
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, UINT64_MAX, bm), -EFAULT);
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, UINT64_MAX >> 12, bm), -EFAULT);
    cr_assert_eq(vmem_dirty_get_and_clear(m, UINT64_MAX - PG + 1, 1, bm), -EFAULT);
    cr_assert_eq(bm[0], 7, "bitmap untouched on error");
    cr_assert_eq(vmem_dirty_count(m), NPAGES, "nothing cleared on error");
    cr_assert_eq(vmem_dirty_get_and_clear(m, R1, 0, bm), 0, "zero pages");
    cr_assert_eq(bm[0], 7);
    cr_assert_eq(vmem_dirty_count(NULL), 0);
    cr_assert_eq(vmem_dirty_log_start(NULL), -EINVAL);
    cr_assert_eq(vmem_dirty_log_stop(NULL), -EINVAL);
    cr_assert_not(vmem_dirty_log_enabled(NULL));
    vmem_map_free(m);
}

Test(dirty, start_clears_stop_keeps_new_regions_logged)
{
    VMemMap *m = two_regions(true);
    cr_assert_eq(vmem_write_u8(m, R1, 1), 0);
    cr_assert_eq(vmem_dirty_log_start(m), 0, "already on: no-op");
    cr_assert_eq(vmem_dirty_count(m), 1, "a second start does not clear");
    cr_assert_eq(vmem_dirty_log_stop(m), 0);
    cr_assert_eq(vmem_dirty_count(m), 1, "stop keeps the bits");
    cr_assert_eq(vmem_dirty_log_stop(m), 0);
    cr_assert_eq(vmem_dirty_log_start(m), 0);
    cr_assert_eq(vmem_dirty_count(m), 0, "start clears");

    /* A region added while logging is on is logged; removing a region drops
     * its bits. */
    uint64_t r3 = R1 + 0x100000;
    cr_assert_eq(vmem_map_add_anon(m, r3, 64 * PG), 0);
    cr_assert_eq(vmem_write_le32(m, r3 + 63 * PG, 5), 0);
    uint64_t b = 0;
    cr_assert_eq(vmem_dirty_get_and_clear(m, r3 + 63 * PG, 1, &b), 0);
    cr_assert_eq(b, 1);
    cr_assert_eq(vmem_write_le32(m, r3, 5), 0);
    cr_assert_eq(vmem_dirty_count(m), 1);
    cr_assert_eq(vmem_map_remove(m, r3), 0);
    cr_assert_eq(vmem_dirty_count(m), 0);
    vmem_map_free(m);
}

/*
 * Writers keep dirtying pages while a "migration" thread repeatedly reads and
 * clears the bitmap and copies every page it is told about. At the end, one
 * last pass after the writers stop must leave the copy identical to guest
 * memory: if a single dirty bit had been lost, the copy would hold stale data.
 * Also, no page that was never written is ever reported.
 */
#define MT_WRITERS 3
#define MT_ROUNDS 400
#define MT_PAGES 192 /* four regions of 48 pages, adjacent */
#define MT_BASE UINT64_C(0x40000000)

struct mt {
    VMemMap *m;
    unsigned id;
    atomic_uint *running;
};

/* Pages a writer owns: p % 4 == id; pages with p % 4 == 3 are never written. */
static void *mt_writer(void *arg)
{
    struct mt *w = arg;
    for (unsigned r = 1; r <= MT_ROUNDS; r++) {
        for (unsigned p = w->id; p < MT_PAGES; p += 4) {
            uint64_t g = MT_BASE + p * PG + (r * 8) % PG;
            uint64_t v = ((uint64_t)r << 32) | p;
            int rc;
            switch ((p / 4 + r) % 4) {
            case 0:
                rc = vmem_write_le64(w->m, g, v);
                break;
            case 1: {
                uint8_t le[8]; /* guest memory holds little-endian values */
                vmem_cpu_to_le64(le, v);
                rc = vmem_write(w->m, g, le, sizeof(le));
                break;
            }
            case 2: {
                uint8_t *h = vmem_translate_ptr(w->m, g, 8);
                rc = h ? 0 : -EFAULT;
                if (h) {
                    vmem_cpu_to_le64(h, v);
                    rc = vmem_mark_dirty(w->m, g, 8);
                }
                break;
            }
            default:
                rc = vmem_store_release_le32(w->m, g, (uint32_t)v);
                if (rc == 0) {
                    rc = vmem_store_release_le32(w->m, g + 4, (uint32_t)(v >> 32));
                }
                break;
            }
            if (rc) {
                atomic_fetch_sub(w->running, 1);
                return (void *)(intptr_t)rc;
            }
        }
    }
    atomic_fetch_sub(w->running, 1);
    return NULL;
}

Test(dirty, concurrent_get_and_clear_loses_nothing)
{
    VMemMap *m = new_map();
    for (unsigned i = 0; i < 4; i++) {
        uint64_t g = MT_BASE + i * 48 * PG;
        int rc = i % 2 ? vmem_map_add_anon(m, g, 48 * PG)
                       : vmem_map_add_memfd(m, g, 48 * PG, NULL, 0);
        cr_assert_eq(rc, 0);
    }
    cr_assert_eq(vmem_dirty_log_start(m), 0);

    size_t bytes = (size_t)(MT_PAGES * PG);
    uint8_t *shadow = calloc(1, bytes), *final = malloc(bytes);
    cr_assert(shadow && final);
    uint64_t seen[3] = { 0, 0, 0 }, bm[3];
    atomic_uint running = MT_WRITERS;
    struct mt w[MT_WRITERS];
    pthread_t th[MT_WRITERS];
    for (unsigned i = 0; i < MT_WRITERS; i++) {
        w[i] = (struct mt){ .m = m, .id = i, .running = &running };
        cr_assert_eq(pthread_create(&th[i], NULL, mt_writer, &w[i]), 0);
    }
    unsigned passes = 0;
    bool last = false;
    while (!last) {
        /* Decide before reading: the pass after the writers stopped is the
         * final one. */
        last = atomic_load(&running) == 0;
        cr_assert_eq(vmem_dirty_get_and_clear(m, MT_BASE, MT_PAGES, bm), 0);
        for (unsigned p = 0; p < MT_PAGES; p++) {
            if (bm[p / 64] >> (p % 64) & 1) {
                cr_assert_eq(vmem_read(m, MT_BASE + p * PG, shadow + p * PG, PG), 0);
            }
        }
        for (unsigned i = 0; i < 3; i++) {
            seen[i] |= bm[i];
        }
        passes++;
    }
    for (unsigned i = 0; i < MT_WRITERS; i++) {
        void *ret;
        cr_assert_eq(pthread_join(th[i], &ret), 0);
        cr_assert_null(ret, "writer %u failed: %d", i, (int)(intptr_t)ret);
    }
    cr_assert_eq(vmem_dirty_count(m), 0, "the final pass cleared everything");
    cr_assert_eq(vmem_read(m, MT_BASE, final, bytes), 0);
    for (unsigned p = 0; p < MT_PAGES; p++) {
        bool reported = seen[p / 64] >> (p % 64) & 1;
        cr_assert_eq(reported, p % 4 != 3, "page %u reported %d", p, reported);
        cr_assert_arr_eq(shadow + p * PG, final + p * PG, PG,
                         "page %u: the migrated copy is stale (after %u passes)", p,
                         passes);
        uint64_t v = vmem_le64_to_cpu(final + p * PG + (MT_ROUNDS * 8) % PG);
        if (p % 4 != 3) {
            cr_assert_eq(v, ((uint64_t)MT_ROUNDS << 32) | p, "page %u last value", p);
        }
    }
    free(shadow);
    free(final);
    vmem_map_free(m);
}

/*
 * Exact accounting: every mark is reported exactly once. Two writers own the
 * even and the odd pages of both regions, so they share every bitmap word
 * (and cross the region boundary), and they mark their pages round-robin. A
 * page is only marked again after the reader has reported its previous mark,
 * so reports can neither merge nor be lost: at the end, reports == marks for
 * every page. A lost bit shows up as a writer waiting for a report that never
 * comes; the wait is bounded and then fails the test.
 */
#define MK_WRITERS 2
#define MK_MARKS 8000 /* per page */
#define MK_SPIN_LIMIT 200000000u

struct mark_ctx {
    VMemMap *m;
    unsigned id;
    _Atomic unsigned *reports; /* per page, written by the reader */
    atomic_bool *stop;
};

static void *mark_writer(void *arg)
{
    struct mark_ctx *c = arg;
    for (unsigned k = 0; k < MK_MARKS; k++) {
        for (unsigned p = c->id; p < NPAGES; p += MK_WRITERS) {
            unsigned spins = 0;
            while (atomic_load(&c->reports[p]) < k) {
                if (++spins > MK_SPIN_LIMIT || atomic_load(c->stop)) {
                    return (void *)(uintptr_t)(p + 1); /* the lost page */
                }
                sched_yield();
            }
            if (vmem_mark_dirty(c->m, R1 + p * PG + (k % PG), 1) < 0) {
                return (void *)(uintptr_t)(NPAGES + 1);
            }
        }
    }
    return NULL;
}

Test(dirty, concurrent_mark_and_clear_exact)
{
    VMemMap *m = two_regions(true);
    _Atomic unsigned reports[NPAGES];
    for (unsigned p = 0; p < NPAGES; p++) {
        atomic_init(&reports[p], 0);
    }
    atomic_bool stop = false;
    struct mark_ctx c[MK_WRITERS];
    pthread_t th[MK_WRITERS];
    for (unsigned i = 0; i < MK_WRITERS; i++) {
        c[i] = (struct mark_ctx){ .m = m, .id = i, .reports = reports, .stop = &stop };
        cr_assert_eq(pthread_create(&th[i], NULL, mark_writer, &c[i]), 0);
    }
    /* Read until every mark is reported, or until nothing new arrives for a
     * long time (a lost bit). */
    uint64_t total = 0, idle = 0;
    while (total < (uint64_t)NPAGES * MK_MARKS && idle < MK_SPIN_LIMIT / 100) {
        uint64_t bm[2];
        cr_assert_eq(vmem_dirty_get_and_clear(m, R1, NPAGES, bm), 0);
        unsigned got = 0;
        for (unsigned p = 0; p < NPAGES; p++) {
            if (bm[p / 64] >> (p % 64) & 1) {
                atomic_fetch_add(&reports[p], 1);
                got++;
            }
        }
        total += got;
        idle = got ? 0 : idle + 1;
        if (!got) {
            sched_yield();
        }
    }
    atomic_store(&stop, true);
    for (unsigned i = 0; i < MK_WRITERS; i++) {
        void *ret;
        cr_assert_eq(pthread_join(th[i], &ret), 0);
        cr_assert_null(ret, "writer %u: page %u never reported (lost dirty bit)", i,
                       (unsigned)(uintptr_t)ret - 1);
    }
    for (unsigned p = 0; p < NPAGES; p++) {
        cr_assert_eq(atomic_load(&reports[p]), MK_MARKS, "page %u", p);
    }
    cr_assert_eq(vmem_dirty_count(m), 0);
    vmem_map_free(m);
}
