/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: random region layouts and random access sequences, checked
 * against a reference model.
 *
 * The model keeps its own list of regions and its own copy of every byte of
 * guest memory (per backing object, so that two regions mapping the same
 * memfd share bytes as they do in the library). For every call the model
 * computes, independently and by the simplest possible means (linear scans),
 * whether the call must succeed, the error it must return otherwise, the
 * bytes a load must return and the dirty bits a get-and-clear must report.
 * Any difference traps. At the end of every input, each region's host bytes
 * are compared with the model, so a write that strayed into another region
 * or past a region's end is caught as well (ASan catches strays elsewhere).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vm-memory/vm-memory.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

#define MAX_OPS 256
#define MAX_REGION_BYTES (UINT64_C(128) << 12)
#define SCRATCH (1u << 20)
#define DPG VMEM_PAGE_SIZE

/* ------------------------------------------------------------------------ */
/* Input                                                                     */

typedef struct {
    const uint8_t *p;
    size_t left;
} Input;

static uint8_t in_u8(Input *in)
{
    if (!in->left) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

static uint64_t in_bytes(Input *in, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)in_u8(in) << (8 * i);
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* Model                                                                     */

typedef struct {
    uint8_t *data;
    uint64_t size;
    unsigned refs;
} Backing;

typedef struct {
    uint64_t gpa, size;
    uint8_t *host;   /* from vmem_map_find_region() right after the add */
    Backing *b;
    uint64_t boff;   /* offset of the region's first byte in b */
    int fd;          /* the region's fd as the map reports it, or -1 */
    uint64_t *dirty; /* one bit per 4 KiB page */
} Region;

static uint64_t P; /* host page size */
static Region reg[VMEM_MAX_REGIONS];
static unsigned nreg;
static bool logging;
static uint8_t scratch[SCRATCH], scratch2[SCRATCH];

static Backing *backing_new(uint64_t size)
{
    Backing *b = calloc(1, sizeof(*b));
    b->data = calloc(1, size);
    CHECK(b && b->data);
    b->size = size;
    b->refs = 1;
    return b;
}

static void backing_unref(Backing *b)
{
    if (--b->refs == 0) {
        free(b->data);
        free(b);
    }
}

/* Region index holding @g, by linear scan; -1 if none. */
static int model_find(uint64_t g)
{
    for (unsigned i = 0; i < nreg; i++) {
        if (g >= reg[i].gpa && g - reg[i].gpa < reg[i].size) {
            return (int)i;
        }
    }
    return -1;
}

static bool wraps(uint64_t g, uint64_t len)
{
    return len && g + (len - 1) < g;
}

/* Whether every byte of [g, g + len) is in some region (len 0: true). */
static bool model_covered(uint64_t g, uint64_t len)
{
    if (wraps(g, len)) {
        return false;
    }
    while (len) {
        int i = model_find(g);
        if (i < 0) {
            return false;
        }
        uint64_t avail = reg[i].size - (g - reg[i].gpa);
        if (len <= avail) {
            return true;
        }
        g += avail;
        len -= avail;
    }
    return true;
}

static uint8_t *model_byte(uint64_t g)
{
    int i = model_find(g);
    return &reg[i].b->data[reg[i].boff + (g - reg[i].gpa)];
}

static bool dirty_test_clear(Region *r, uint64_t page, bool clear)
{
    uint64_t bit = UINT64_C(1) << (page % 64);
    bool was = r->dirty[page / 64] & bit;
    if (clear) {
        r->dirty[page / 64] &= ~bit;
    }
    return was;
}

static void dirty_clear_all(Region *r)
{
    memset(r->dirty, 0, (size_t)((r->size / DPG + 63) / 64) * 8);
}

static void model_mark(uint64_t g, uint64_t len)
{
    if (!logging) {
        return;
    }
    /* Byte by byte would be slow for long ranges: one step per page. */
    while (len) {
        int i = model_find(g);
        uint64_t off = g - reg[i].gpa;
        reg[i].dirty[off / DPG / 64] |= UINT64_C(1) << (off / DPG % 64);
        uint64_t step = DPG - off % DPG;
        if (step >= len) {
            break;
        }
        g += step;
        len -= step;
    }
}

/* Copies between the model and @buf, piece by piece; the range is covered. */
static void model_xfer(uint64_t g, uint8_t *buf, uint64_t len, bool to_model)
{
    while (len) {
        int i = model_find(g);
        uint64_t off = g - reg[i].gpa, avail = reg[i].size - off;
        size_t c = (size_t)(len < avail ? len : avail);
        uint8_t *mb = reg[i].b->data + reg[i].boff + off;
        memmove(to_model ? mb : buf, to_model ? buf : mb, c);
        buf += c;
        g += c;
        len -= c;
    }
}

static void model_read(uint64_t g, uint8_t *out, uint64_t len)
{
    model_xfer(g, out, len, false);
}

static void model_write(uint64_t g, const uint8_t *src, uint64_t len)
{
    model_xfer(g, (uint8_t *)(uintptr_t)src, len, true);
    model_mark(g, len);
}

/* After a write the model cannot predict (aliased copy), take the bytes of
 * the range from the host mappings. */
static void model_resync(uint64_t g, uint64_t len)
{
    for (uint64_t k = 0; k < len; k++) {
        int i = model_find(g + k);
        *model_byte(g + k) = reg[i].host[g + k - reg[i].gpa];
    }
    model_mark(g, len);
}

/* Indices of the regions a covered range touches, in order; returns how many. */
static unsigned model_touched(uint64_t g, uint64_t len, int *idx)
{
    unsigned n = 0;
    while (len) {
        int i = model_find(g);
        uint64_t avail = reg[i].size - (g - reg[i].gpa);
        uint64_t c = len < avail ? len : avail;
        idx[n++] = i;
        g += c;
        len -= c;
    }
    return n;
}

/* Whether a copy's two (covered) ranges go through two different regions
 * that share a backing file: then the host bytes may overlap in a way that
 * guest addresses do not show, and the result is not modelled. */
static bool aliased(uint64_t d, uint64_t s, uint64_t len)
{
    int di[VMEM_MAX_REGIONS], si[VMEM_MAX_REGIONS];
    unsigned nd = model_touched(d, len, di), ns = model_touched(s, len, si);
    for (unsigned a = 0; a < nd; a++) {
        for (unsigned b = 0; b < ns; b++) {
            if (di[a] != si[b] && reg[di[a]].b == reg[si[b]].b) {
                return true;
            }
        }
    }
    return false;
}

/* The whole-state check: every region's host bytes equal the model's. */
static void check_all(VMemMap *m)
{
    CHECK(vmem_map_num_regions(m) == nreg);
    for (unsigned i = 0; i < nreg; i++) {
        VMemRegionInfo info;
        CHECK(vmem_map_region_info(m, i, &info) == 0);
        CHECK(info.gpa == reg[i].gpa && info.size == reg[i].size);
        CHECK((uint8_t *)info.host == reg[i].host && info.fd == reg[i].fd);
        CHECK(memcmp(reg[i].host, reg[i].b->data + reg[i].boff, reg[i].size) == 0);
    }
    uint64_t count = 0;
    for (unsigned i = 0; i < nreg; i++) {
        for (uint64_t w = 0; w < (reg[i].size / DPG + 63) / 64; w++) {
            count += (uint64_t)__builtin_popcountll(reg[i].dirty[w]);
        }
    }
    CHECK(vmem_dirty_count(m) == count);
}

/* ------------------------------------------------------------------------ */
/* Generators                                                                */

/* A region base: a low slot (fine or coarse), a slot ending at or below
 * 2^64, or anything. */
static uint64_t gen_base(Input *in)
{
    uint8_t sel = in_u8(in);
    uint64_t slot = sel & 63;
    switch (sel >> 6) {
    case 0:
        return slot * P;
    case 1:
        return slot * 16 * P;
    case 2:
        return (uint64_t)0 - (slot + 1) * P;
    default:
        return in_bytes(in, 8);
    }
}

/* An access address, biased towards region edges. */
static uint64_t gen_gpa(Input *in)
{
    uint8_t sel = in_u8(in);
    int8_t delta = (int8_t)in_u8(in);
    switch (sel % 4) {
    case 0:
    case 1:
        if (nreg) {
            const Region *r = &reg[((sel >> 2) & 31) % nreg];
            return (sel & 0x80) ? r->gpa + r->size + (uint64_t)(int64_t)delta
                                : r->gpa + (uint64_t)(int64_t)delta;
        }
        return (uint64_t)(int64_t)delta;
    case 2:
        return gen_base(in) + (uint64_t)(int64_t)delta;
    default:
        return in_bytes(in, 8);
    }
}

static uint64_t gen_len(Input *in)
{
    uint8_t sel = in_u8(in);
    switch (sel % 8) {
    case 0:
        return 0;
    case 1:
    case 2:
    case 3:
        return in_u8(in);
    case 4:
        return in_bytes(in, 2) % (3 * P);
    case 5: /* up to 255 dirty pages, give or take a few bytes */
        return in_u8(in) * DPG + (uint64_t)(int64_t)(int8_t)in_u8(in);
    case 6:
        return (uint64_t)0 - in_u8(in); /* wraps */
    default:
        return in_bytes(in, 8);
    }
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

static int expect_new_region(uint64_t g, uint64_t size)
{
    if (size == 0 || g % P || size % P || wraps(g, size)) {
        return -EINVAL;
    }
    if (nreg >= VMEM_MAX_REGIONS) {
        return -ENOSPC;
    }
    for (unsigned i = 0; i < nreg; i++) {
        uint64_t a = reg[i].gpa, al = a + (reg[i].size - 1), bl = g + (size - 1);
        if (!(bl < a || al < g)) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Records a region the library just added. */
static void model_add(VMemMap *m, uint64_t g, uint64_t size, Backing *b, uint64_t boff)
{
    VMemRegionInfo info;
    CHECK(vmem_map_find_region(m, g, &info) == 0);
    CHECK(info.gpa == g && info.size == size);
    unsigned pos = 0;
    while (pos < nreg && reg[pos].gpa < g) {
        pos++;
    }
    memmove(&reg[pos + 1], &reg[pos], (nreg - pos) * sizeof(Region));
    reg[pos] = (Region){ .gpa = g, .size = size, .host = info.host, .b = b,
                         .boff = boff, .fd = info.fd,
                         .dirty = calloc((size_t)((size / DPG + 63) / 64), 8) };
    CHECK(reg[pos].dirty);
    nreg++;
}

static void op_add(VMemMap *m, Input *in, unsigned kind)
{
    uint64_t g = gen_base(in);
    uint8_t s = in_u8(in);
    /* Mostly a few pages; sometimes up to 128 dirty pages, so that one
     * region's bits cross words of the bitmaps. */
    uint64_t size = (s & 0x80) ? ((s & 31) + 1) * 4 * DPG : (1 + s % 4) * P;
    size = (size + P - 1) / P * P;
    if (size > MAX_REGION_BYTES) {
        size = MAX_REGION_BYTES / P * P;
    }
    if (s >= 0xf8) {
        size = (s & 1) ? 0 : P + 1; /* invalid sizes */
    }
    if (s >= 0xf0 && s < 0xf8) {
        g += 1 + (s & 7); /* misaligned base */
    }
    int want = expect_new_region(g, size);
    int rc;
    if (kind == 0) {
        rc = vmem_map_add_anon(m, g, size);
        CHECK(rc == want);
        if (!rc) {
            model_add(m, g, size, backing_new(size), 0);
        }
    } else if (kind == 1) {
        unsigned flags = in_u8(in) & 7; /* bit 2 is not a valid flag */
        if (flags & 4) {
            want = -EINVAL;
        }
        rc = vmem_map_add_memfd(m, g, size, NULL, flags);
        CHECK(rc == want);
        if (!rc) {
            model_add(m, g, size, backing_new(size), 0);
        }
    } else {
        /* Map (part of) an existing memfd region's file a second time. */
        int src = nreg ? (int)(in_u8(in) % nreg) : -1;
        if (src < 0 || reg[src].fd < 0) {
            return;
        }
        Backing *b = reg[src].b;
        uint64_t boff = (in_u8(in) % (b->size / P)) * P;
        if (want == 0 && size > b->size - boff) {
            want = -EINVAL; /* the file is too short */
        }
        rc = vmem_map_add_fd(m, g, size, reg[src].fd, boff);
        CHECK(rc == want);
        if (!rc) {
            b->refs++;
            model_add(m, g, size, b, boff);
        }
    }
}

static void op_remove(VMemMap *m, Input *in)
{
    uint64_t g = (in_u8(in) & 1) && nreg ? reg[in_u8(in) % nreg].gpa : gen_gpa(in);
    int i = model_find(g);
    bool exact = i >= 0 && reg[i].gpa == g;
    CHECK(vmem_map_remove(m, g) == (exact ? 0 : -ENOENT));
    if (exact) {
        backing_unref(reg[i].b);
        free(reg[i].dirty);
        memmove(&reg[i], &reg[i + 1], (nreg - (unsigned)i - 1) * sizeof(Region));
        nreg--;
    }
}

static void op_rw(VMemMap *m, Input *in, unsigned kind)
{
    uint64_t g = gen_gpa(in), len = gen_len(in);
    bool ok = model_covered(g, len);
    if (ok && len > SCRATCH) {
        return; /* valid but larger than our buffers */
    }
    size_t n = (size_t)len;
    int want = ok ? 0 : -EFAULT;
    if (kind == 0) {
        memset(scratch, 0xa5, ok ? n : 64);
        CHECK(vmem_read(m, g, scratch, n) == want);
        if (ok) {
            model_read(g, scratch2, len);
            CHECK(memcmp(scratch, scratch2, n) == 0);
        } else {
            for (int k = 0; k < 64; k++) {
                CHECK(scratch[k] == 0xa5);
            }
        }
    } else if (kind == 1) {
        uint8_t seed = in_u8(in);
        for (size_t k = 0; k < (ok ? n : 64); k++) {
            scratch[k] = (uint8_t)(seed + k * 13);
        }
        CHECK(vmem_write(m, g, scratch, n) == want);
        if (ok) {
            model_write(g, scratch, len);
        }
    } else {
        uint8_t byte = in_u8(in);
        CHECK(vmem_fill(m, g, byte, n) == want);
        if (ok) {
            memset(scratch, byte, n);
            model_write(g, scratch, len);
        }
    }
}

static void op_copy(VMemMap *m, Input *in)
{
    uint64_t s = gen_gpa(in), d, len;
    uint8_t mode = in_u8(in);
    if (mode & 1) {
        /* Overlap edge cases: destination a small distance from the source
         * and a length close to that distance. */
        int16_t delta = (int16_t)in_bytes(in, 2);
        d = s + (uint64_t)(int64_t)delta;
        uint64_t dist = delta < 0 ? (uint64_t)-(int64_t)delta : (uint64_t)delta;
        len = (mode & 2) ? gen_len(in) : dist + (uint64_t)(int64_t)((int8_t)in_u8(in) % 3);
    } else {
        d = gen_gpa(in);
        len = gen_len(in);
    }
    bool ok = len == 0 || (model_covered(d, len) && model_covered(s, len));
    if (ok && len > SCRATCH) {
        return;
    }
    CHECK(vmem_copy(m, d, s, (size_t)len) == (ok ? 0 : -EFAULT));
    if (ok && len) {
        if (aliased(d, s, len)) {
            model_resync(d, len);
        } else {
            model_read(s, scratch, len);
            model_write(d, scratch, len);
        }
    }
}

/* Byte order done the long way, independently of the header's helpers. */
static uint64_t decode(const uint8_t *b, unsigned w, bool be)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < w; k++) {
        v = (v << 8) | b[be ? k : w - 1 - k];
    }
    return v;
}

static void encode(uint8_t *b, uint64_t v, unsigned w, bool be)
{
    for (unsigned k = 0; k < w; k++) {
        b[be ? w - 1 - k : k] = (uint8_t)(v >> (8 * k));
    }
}

static void op_accessor(VMemMap *m, Input *in)
{
    uint8_t sel = in_u8(in);
    uint64_t g = gen_gpa(in);
    unsigned w = 1u << (sel % 4); /* 1, 2, 4, 8 */
    bool be = sel & 4, store = sel & 8;
    bool ok = model_covered(g, w);
    int want = ok ? 0 : -EFAULT;
    uint8_t bytes[8];
    if (store) {
        uint64_t v = in_bytes(in, 8);
        int rc;
        switch (w) {
        case 1: rc = vmem_write_u8(m, g, (uint8_t)v); break;
        case 2: rc = be ? vmem_write_be16(m, g, (uint16_t)v) : vmem_write_le16(m, g, (uint16_t)v); break;
        case 4: rc = be ? vmem_write_be32(m, g, (uint32_t)v) : vmem_write_le32(m, g, (uint32_t)v); break;
        default: rc = be ? vmem_write_be64(m, g, v) : vmem_write_le64(m, g, v); break;
        }
        CHECK(rc == want);
        if (ok) {
            encode(bytes, v, w, be);
            model_write(g, bytes, w);
        }
        return;
    }
    uint64_t got = 0xfeedfacecafebeef, v = got;
    int rc;
    switch (w) {
    case 1: {
        uint8_t x = (uint8_t)v;
        rc = vmem_read_u8(m, g, &x);
        got = x;
        break;
    }
    case 2: {
        uint16_t x = (uint16_t)v;
        rc = be ? vmem_read_be16(m, g, &x) : vmem_read_le16(m, g, &x);
        got = x;
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        rc = be ? vmem_read_be32(m, g, &x) : vmem_read_le32(m, g, &x);
        got = x;
        break;
    }
    default:
        rc = be ? vmem_read_be64(m, g, &got) : vmem_read_le64(m, g, &got);
        break;
    }
    CHECK(rc == want);
    if (ok) {
        model_read(g, bytes, w);
        CHECK(got == decode(bytes, w, be));
    } else {
        uint64_t untouched = w == 8 ? v : v & ((UINT64_C(1) << (8 * w)) - 1);
        CHECK(got == untouched);
    }
}

static void op_atomic(VMemMap *m, Input *in)
{
    uint8_t sel = in_u8(in);
    uint64_t g = gen_gpa(in);
    unsigned w = (sel & 1) ? 4 : 2;
    int want = g % w ? -EINVAL : model_covered(g, w) ? 0 : -EFAULT;
    uint8_t bytes[4];
    if (sel & 2) {
        uint32_t v = (uint32_t)in_bytes(in, 4);
        int rc = w == 4 ? vmem_store_release_le32(m, g, v)
                        : vmem_store_release_le16(m, g, (uint16_t)v);
        CHECK(rc == want);
        if (!rc) {
            encode(bytes, v, w, false);
            model_write(g, bytes, w);
        }
    } else {
        uint32_t v32 = 0x5a5a5a5a;
        uint16_t v16 = 0x5a5a;
        int rc = w == 4 ? vmem_load_acquire_le32(m, g, &v32)
                        : vmem_load_acquire_le16(m, g, &v16);
        CHECK(rc == want);
        if (!rc) {
            model_read(g, bytes, w);
            CHECK((w == 4 ? v32 : v16) == decode(bytes, w, false));
        } else {
            CHECK(v32 == 0x5a5a5a5a && v16 == 0x5a5a);
        }
    }
}

static void op_translate(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in), len = gen_len(in);
    int i = model_find(g);
    bool ok = !wraps(g, len) && i >= 0 && (len ? len : 1) <= reg[i].size - (g - reg[i].gpa);
    void *h = (void *)1;
    CHECK(vmem_translate(m, g, len, &h) == (ok ? 0 : -EFAULT));
    CHECK(vmem_translate_ptr(m, g, len) == (ok ? h : NULL));
    if (!ok) {
        CHECK(h == (void *)1);
        return;
    }
    CHECK((uint8_t *)h == reg[i].host + (g - reg[i].gpa));
    /* Write through the pointer, then tell the map (or not). */
    if (len && (in_u8(in) & 1)) {
        uint8_t v = in_u8(in);
        uint64_t n = len < 16 ? len : 16;
        memset(h, v, (size_t)n);
        for (uint64_t k = 0; k < n; k++) {
            *model_byte(g + k) = v;
        }
        if (in_u8(in) & 1) {
            CHECK(vmem_mark_dirty(m, g, n) == 0);
            model_mark(g, n);
        }
    }
}

static void op_iov(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in), len = gen_len(in);
    unsigned max = in_u8(in) % 6;
    struct iovec iov[8];
    unsigned n = 77;
    int want;
    if (len == 0) {
        want = 0;
    } else if (!model_covered(g, len)) {
        want = -EFAULT;
    } else {
        int idx[VMEM_MAX_REGIONS];
        want = model_touched(g, len, idx) > max ? -ENOBUFS : 0;
    }
    CHECK(vmem_translate_iov(m, g, len, max ? iov : NULL, max, &n) == want);
    if (want) {
        CHECK(n == 77);
        return;
    }
    uint64_t cur = g;
    for (unsigned k = 0; k < n; k++) {
        int i = model_find(cur);
        CHECK(i >= 0 && (uint8_t *)iov[k].iov_base == reg[i].host + (cur - reg[i].gpa));
        cur += iov[k].iov_len;
    }
    CHECK(cur - g == len);
    CHECK(vmem_check_range(m, g, len) == 0);
}

static void op_range_and_lookup(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in), len = gen_len(in);
    CHECK(vmem_check_range(m, g, len) == (model_covered(g, len) ? 0 : -EFAULT));
    VMemRegionInfo info;
    int i = model_find(g);
    CHECK(vmem_map_find_region(m, g, &info) == (i >= 0 ? 0 : -EFAULT));
    if (i >= 0) {
        CHECK(info.gpa == reg[i].gpa && (uint8_t *)info.host == reg[i].host);
    }
    unsigned idx = in_u8(in);
    CHECK(vmem_map_region_info(m, idx, &info) == (idx < nreg ? 0 : -ENOENT));
    if (idx < nreg) {
        CHECK(info.gpa == reg[idx].gpa && info.size == reg[idx].size);
    }
}

static void op_mark(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in), len = gen_len(in);
    bool ok = model_covered(g, len);
    CHECK(vmem_mark_dirty(m, g, len) == (ok ? 0 : -EFAULT));
    if (ok) {
        model_mark(g, len);
    }
}

static void op_get_and_clear(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in);
    if (in_u8(in) & 1) {
        g &= ~(DPG - 1);
    }
    uint8_t sel = in_u8(in);
    uint64_t npages = sel & 0x80 ? in_bytes(in, 8) : sel & 0x40 ? in_bytes(in, 2) : sel;
    int want;
    if (g % DPG) {
        want = -EINVAL;
    } else if (npages == 0) {
        want = 0;
    } else if (npages > UINT64_MAX / DPG || !model_covered(g, npages * DPG)) {
        want = -EFAULT;
    } else {
        want = 0;
    }
    if (want == 0 && npages > (1u << 16)) {
        return;
    }
    /* On success the output is (npages + 63) / 64 words; on failure nothing
     * may be written, which a short heap buffer lets ASan check. */
    size_t words = want == 0 ? (size_t)((npages + 63) / 64) : 1;
    uint64_t *bm = malloc(words * 8 + 8);
    CHECK(bm);
    memset(bm, 0xee, words * 8 + 8);
    CHECK(vmem_dirty_get_and_clear(m, g, npages, bm) == want);
    if (want == 0) {
        for (uint64_t k = 0; k < npages; k++) {
            uint64_t pg = g + k * DPG;
            int i = model_find(pg);
            bool dirty = dirty_test_clear(&reg[i], (pg - reg[i].gpa) / DPG, true);
            CHECK(((bm[k / 64] >> (k % 64)) & 1) == dirty);
        }
        if (npages % 64) {
            CHECK((bm[words - 1] >> (npages % 64)) == 0);
        }
    } else {
        CHECK(bm[0] == 0xeeeeeeeeeeeeeeee);
    }
    CHECK(bm[words] == 0xeeeeeeeeeeeeeeee);
    free(bm);
}

static void op_logging(VMemMap *m, Input *in)
{
    if (in_u8(in) & 1) {
        CHECK(vmem_dirty_log_start(m) == 0);
        if (!logging) {
            for (unsigned i = 0; i < nreg; i++) {
                dirty_clear_all(&reg[i]);
            }
        }
        logging = true;
    } else {
        CHECK(vmem_dirty_log_stop(m) == 0);
        logging = false;
    }
    CHECK(vmem_dirty_log_enabled(m) == logging);
}

static void op_null_args(VMemMap *m, Input *in)
{
    uint64_t g = gen_gpa(in);
    uint8_t b;
    void *h;
    unsigned n;
    CHECK(vmem_read(m, g, NULL, 1) == -EINVAL);
    CHECK(vmem_write(m, g, NULL, 1) == -EINVAL);
    CHECK(vmem_read(NULL, g, &b, 1) == -EINVAL);
    CHECK(vmem_translate(m, g, 1, NULL) == -EINVAL);
    CHECK(vmem_translate_iov(m, g, 1, NULL, 1, &n) == -EINVAL);
    CHECK(vmem_read_u8(m, g, NULL) == -EINVAL);
    CHECK(vmem_load_acquire_le16(m, g & ~UINT64_C(1), NULL) == -EINVAL);
    CHECK(vmem_translate(NULL, g, 1, &h) == -EINVAL);
    CHECK(vmem_dirty_get_and_clear(m, g & ~(DPG - 1), 1, NULL) == -EINVAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!P) {
        P = (uint64_t)sysconf(_SC_PAGESIZE);
    }
    VMemMap *m;
    CHECK(vmem_map_new(&m) == 0);
    nreg = 0;
    logging = false;
    Input in = { data, size };
    for (unsigned ops = 0; in.left && ops < MAX_OPS; ops++) {
        uint8_t op = in_u8(&in);
        switch (op % 20) {
        case 0: case 1: op_add(m, &in, 0); break;
        case 2: case 3: op_add(m, &in, 1); break;
        case 4: op_add(m, &in, 2); break;
        case 5: op_remove(m, &in); break;
        case 6: op_rw(m, &in, 0); break;
        case 7: op_rw(m, &in, 1); break;
        case 8: op_rw(m, &in, 2); break;
        case 9: op_copy(m, &in); break;
        case 10: case 11: op_accessor(m, &in); break;
        case 12: op_atomic(m, &in); break;
        case 13: op_translate(m, &in); break;
        case 14: op_iov(m, &in); break;
        case 15: op_range_and_lookup(m, &in); break;
        case 16: op_mark(m, &in); break;
        case 17: op_get_and_clear(m, &in); break;
        case 18: op_logging(m, &in); break;
        default: op_null_args(m, &in); break;
        }
    }
    check_all(m);
    vmem_map_free(m);
    for (unsigned i = 0; i < nreg; i++) {
        backing_unref(reg[i].b);
        free(reg[i].dirty);
    }
    return 0;
}
