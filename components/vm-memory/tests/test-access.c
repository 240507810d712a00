/* SPDX-License-Identifier: MIT */
/* Translation, byte access across regions, fixed-width and atomic accessors. */
#include <stdlib.h>

#include "common.h"

/*
 * The layout every test here uses, in host pages P:
 *   A = [16P, 20P) anonymous      B = [20P, 24P) memfd (adjacent to A)
 *   gap [24P, 32P)                C = [32P, 33P) anonymous
 *   T = [2^64 - 2P, 2^64) memfd, ending exactly at the top of the space
 */
static uint64_t P, A, B, GAP, C, T;
static VMemMap *m;

static void setup(void)
{
    P = ps();
    A = 16 * P;
    B = 20 * P;
    GAP = 24 * P;
    C = 32 * P;
    T = (uint64_t)0 - 2 * P;
    m = new_map();
    cr_assert_eq(vmem_map_add_anon(m, A, 4 * P), 0);
    cr_assert_eq(vmem_map_add_memfd(m, B, 4 * P, NULL, VMEM_MEMFD_SEAL), 0);
    cr_assert_eq(vmem_map_add_anon(m, C, P), 0);
    cr_assert_eq(vmem_map_add_memfd(m, T, 2 * P, NULL, 0), 0);
}

static void teardown(void)
{
    vmem_map_free(m);
}

TestSuite(access, .init = setup, .fini = teardown);

static int tr(uint64_t gpa, uint64_t len)
{
    void *h = (void *)0x1;
    int rc = vmem_translate(m, gpa, len, &h);
    if (rc == 0) {
        cr_assert_eq(h, vmem_translate_ptr(m, gpa, len));
        cr_assert_eq((uint8_t *)h, host_of(m, gpa));
    } else {
        cr_assert_eq(h, (void *)0x1, "ret_host written on failure");
        cr_assert_null(vmem_translate_ptr(m, gpa, len));
    }
    return rc;
}

Test(access, translate_edges)
{
    cr_assert_eq(tr(A, 1), 0, "first byte");
    cr_assert_eq(tr(B - 1, 1), 0, "last byte");
    cr_assert_eq(tr(A, 4 * P), 0, "whole region");
    cr_assert_eq(tr(A, 4 * P + 1), -EFAULT, "one past the end (into B)");
    cr_assert_eq(tr(B - 1, 2), -EFAULT, "spans A and B");
    cr_assert_eq(tr(A - 1, 1), -EFAULT, "one before the start");
    cr_assert_eq(tr(A - 1, 2), -EFAULT, "starts before the region");
    cr_assert_eq(tr(GAP - 1, 1), 0, "last byte of B");
    cr_assert_eq(tr(GAP - 1, 2), -EFAULT, "runs into the gap");
    cr_assert_eq(tr(GAP, 1), -EFAULT, "in the gap");
    cr_assert_eq(tr(C + P, 1), -EFAULT, "one past C");
    cr_assert_eq(tr(0, 1), -EFAULT, "below every region");
    /* Zero length translates the address alone. */
    cr_assert_eq(tr(A, 0), 0);
    cr_assert_eq(tr(B - 1, 0), 0);
    cr_assert_eq(tr(GAP, 0), -EFAULT);
    cr_assert_eq(tr(A - 1, 0), -EFAULT);
    /* Bad arguments. */
    void *h;
    cr_assert_eq(vmem_translate(NULL, A, 1, &h), -EINVAL);
    cr_assert_eq(vmem_translate(m, A, 1, NULL), -EINVAL);
    cr_assert_null(vmem_translate_ptr(NULL, A, 1));
}

Test(access, translate_wrap_around)
{
    cr_assert_eq(tr(T, 2 * P), 0, "region ending exactly at 2^64");
    cr_assert_eq(tr(UINT64_MAX, 1), 0, "the very last byte");
    cr_assert_eq(tr(UINT64_MAX, 0), 0);
    cr_assert_eq(tr(UINT64_MAX, 2), -EFAULT, "last byte + 1 wraps to 0");
    cr_assert_eq(tr(T, 2 * P + 1), -EFAULT);
    cr_assert_eq(tr(T, UINT64_MAX), -EFAULT);
    cr_assert_eq(tr(A, UINT64_MAX), -EFAULT);
    cr_assert_eq(tr(A, (uint64_t)0 - A + 1), -EFAULT, "gpa + len == 1");
    cr_assert_eq(tr(UINT64_MAX - 7, 16), -EFAULT);
    cr_assert_eq(vmem_check_range(m, T, 2 * P), 0);
    cr_assert_eq(vmem_check_range(m, UINT64_MAX, 2), -EFAULT);
    cr_assert_eq(vmem_check_range(m, T, UINT64_MAX), -EFAULT);
    cr_assert_eq(vmem_check_range(m, A, (uint64_t)0 - A + 1), -EFAULT);

    /* Reads and writes that would wrap fail before touching anything. */
    uint8_t buf[32];
    memset(buf, 0xab, sizeof(buf));
    cr_assert_eq(vmem_read(m, UINT64_MAX - 7, buf, 16), -EFAULT);
    cr_assert_eq(vmem_read(m, T, buf, SIZE_MAX), -EFAULT);
    cr_assert_eq(vmem_read(m, A, buf, SIZE_MAX), -EFAULT);
    for (size_t i = 0; i < sizeof(buf); i++) {
        cr_assert_eq(buf[i], 0xab, "destination untouched");
    }
    cr_assert_eq(vmem_write(m, UINT64_MAX - 7, buf, 16), -EFAULT);
    cr_assert_eq(vmem_fill(m, UINT64_MAX - 7, 0xff, 16), -EFAULT);
    cr_assert_eq(vmem_fill(m, T, 0xff, SIZE_MAX), -EFAULT);
    uint64_t v;
    cr_assert_eq(vmem_read_le64(m, UINT64_MAX - 3, &v), -EFAULT);
    cr_assert_eq(vmem_write_be64(m, UINT64_MAX - 3, 1), -EFAULT);
    cr_assert_eq(vmem_copy(m, UINT64_MAX - 7, T, 16), -EFAULT);
    cr_assert_eq(vmem_copy(m, T, UINT64_MAX - 7, 16), -EFAULT);
    cr_assert_eq(vmem_mark_dirty(m, UINT64_MAX - 7, 16), -EFAULT);
    uint8_t *top = host_of(m, T);
    for (uint64_t i = 0; i < 2 * P; i++) {
        cr_assert_eq(top[i], 0, "T untouched at %llu", (unsigned long long)i);
    }
    /* The top bytes work normally. */
    cr_assert_eq(vmem_write_be64(m, UINT64_MAX - 7, 0x0102030405060708), 0);
    cr_assert_eq(vmem_read_le64(m, UINT64_MAX - 7, &v), 0);
    cr_assert_eq(v, 0x0807060504030201);
    cr_assert_eq(top[2 * P - 1], 0x08);
}

Test(access, check_range_spans_adjacent_regions)
{
    cr_assert_eq(vmem_check_range(m, A, 8 * P), 0, "A and B together");
    cr_assert_eq(vmem_check_range(m, B - 1, 2), 0);
    cr_assert_eq(vmem_check_range(m, A, 8 * P + 1), -EFAULT, "into the gap");
    cr_assert_eq(vmem_check_range(m, A - 1, 2), -EFAULT);
    cr_assert_eq(vmem_check_range(m, A, 25 * P), -EFAULT, "over the gap to C");
    cr_assert_eq(vmem_check_range(m, GAP, 0), 0, "zero length is always valid");
    cr_assert_eq(vmem_check_range(NULL, A, 1), -EINVAL);
}

Test(access, translate_iov)
{
    struct iovec iov[3];
    unsigned n = 99;
    cr_assert_eq(vmem_translate_iov(m, B - 10, 30, iov, 3, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq((uint8_t *)iov[0].iov_base, host_of(m, B - 10));
    cr_assert_eq(iov[0].iov_len, 10);
    cr_assert_eq((uint8_t *)iov[1].iov_base, host_of(m, B));
    cr_assert_eq(iov[1].iov_len, 20);
    cr_assert_eq(vmem_translate_iov(m, A + 5, 7, iov, 3, &n), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(iov[0].iov_len, 7);
    cr_assert_eq(vmem_translate_iov(m, A, 8 * P, iov, 3, &n), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(iov[0].iov_len, 4 * P);
    cr_assert_eq(iov[1].iov_len, 4 * P);
    /* Zero length: no entry, even with no array. */
    cr_assert_eq(vmem_translate_iov(m, GAP, 0, NULL, 0, &n), 0);
    cr_assert_eq(n, 0);
    /* Errors leave the outputs alone. */
    n = 99;
    iov[0].iov_len = 12345;
    cr_assert_eq(vmem_translate_iov(m, B - 10, 30, iov, 1, &n), -ENOBUFS);
    cr_assert_eq(vmem_translate_iov(m, B - 10, 30, NULL, 0, &n), -ENOBUFS);
    cr_assert_eq(vmem_translate_iov(m, GAP - 1, 2, iov, 3, &n), -EFAULT);
    cr_assert_eq(vmem_translate_iov(m, UINT64_MAX, 2, iov, 3, &n), -EFAULT);
    cr_assert_eq(vmem_translate_iov(m, A, UINT64_MAX, iov, 3, &n), -EFAULT);
    cr_assert_eq(n, 99);
    cr_assert_eq(iov[0].iov_len, 12345);
    cr_assert_eq(vmem_translate_iov(NULL, A, 1, iov, 3, &n), -EINVAL);
    cr_assert_eq(vmem_translate_iov(m, A, 1, iov, 3, NULL), -EINVAL);
    cr_assert_eq(vmem_translate_iov(m, A, 1, NULL, 3, &n), -EINVAL);
}

Test(access, read_write_fill_across_regions)
{
    enum { LEN = 1000 };
    uint8_t pat[LEN], got[LEN];
    for (size_t i = 0; i < LEN; i++) {
        pat[i] = pattern(1, i);
    }
    uint64_t at = B - 300;
    cr_assert_eq(vmem_write(m, at, pat, LEN), 0);
    cr_assert_arr_eq(host_of(m, at), pat, 300, "A's part");
    cr_assert_arr_eq(host_of(m, B), pat + 300, LEN - 300, "B's part");
    memset(got, 0, sizeof(got));
    cr_assert_eq(vmem_read(m, at, got, LEN), 0);
    cr_assert_arr_eq(got, pat, LEN);

    /* Whole of A and B in one call. */
    size_t all = (size_t)(8 * P);
    uint8_t *big = malloc(all), *back = malloc(all);
    for (size_t i = 0; i < all; i++) {
        big[i] = pattern(2, i);
    }
    cr_assert_eq(vmem_write(m, A, big, all), 0);
    cr_assert_eq(vmem_read(m, A, back, all), 0);
    cr_assert_arr_eq(back, big, all);

    /* Fill across the boundary; bytes next to it stay. */
    cr_assert_eq(vmem_fill(m, B - 3, 0xee, 6), 0);
    for (int i = -4; i < 4; i++) {
        uint8_t want = (i >= -3 && i < 3) ? 0xee : big[(size_t)(4 * P) + (size_t)(long)i];
        cr_assert_eq(*host_of(m, B + (uint64_t)(int64_t)i), want, "offset %d", i);
    }

    /* Into the gap: nothing is read or written. */
    memcpy(back, big, all);
    memset(got, 0x5c, sizeof(got));
    cr_assert_eq(vmem_read(m, GAP - 10, got, 20), -EFAULT);
    cr_assert_eq(got[0], 0x5c);
    cr_assert_eq(vmem_write(m, GAP - 10, pat, 20), -EFAULT);
    cr_assert_eq(vmem_fill(m, GAP - 10, 0, 20), -EFAULT);
    cr_assert_eq(vmem_write(m, A - 1, pat, 20), -EFAULT);
    cr_assert_eq(vmem_write(m, A, pat, (size_t)(25 * P)), -EFAULT, "over the gap");
    uint8_t *now = malloc(all);
    cr_assert_eq(vmem_read(m, A, now, all), 0);
    memcpy(back + 4 * P - 3, "\xee\xee\xee\xee\xee\xee", 6);
    cr_assert_arr_eq(now, back, all, "failed writes changed nothing");

    /* Zero length and bad arguments. */
    cr_assert_eq(vmem_read(m, GAP, NULL, 0), 0);
    cr_assert_eq(vmem_write(m, GAP, NULL, 0), 0);
    cr_assert_eq(vmem_fill(m, GAP, 1, 0), 0);
    cr_assert_eq(vmem_read(m, A, NULL, 1), -EINVAL);
    cr_assert_eq(vmem_write(m, A, NULL, 1), -EINVAL);
    cr_assert_eq(vmem_read(NULL, A, got, 1), -EINVAL);
    cr_assert_eq(vmem_write(NULL, A, got, 1), -EINVAL);
    cr_assert_eq(vmem_fill(NULL, A, 0, 1), -EINVAL);
    free(big);
    free(back);
    free(now);
}

/* Checks vmem_copy() against memmove() on a model of A+B (8P contiguous). */
static void copy_and_compare(uint8_t *model, uint64_t dst, uint64_t src, size_t len)
{
    size_t all = (size_t)(8 * P);
    cr_assert_eq(vmem_copy(m, dst, src, len), 0, "copy %#llx <- %#llx, %zu",
                 (unsigned long long)dst, (unsigned long long)src, len);
    memmove(model + (dst - A), model + (src - A), len);
    uint8_t *now = malloc(all);
    cr_assert_eq(vmem_read(m, A, now, all), 0);
    cr_assert_arr_eq(now, model, all, "copy %#llx <- %#llx, %zu",
                     (unsigned long long)dst, (unsigned long long)src, len);
    free(now);
}

Test(access, copy_across_regions_and_overlapping)
{
    size_t all = (size_t)(8 * P);
    uint8_t *model = malloc(all);
    for (size_t i = 0; i < all; i++) {
        model[i] = pattern(4, i);
    }
    cr_assert_eq(vmem_write(m, A, model, all), 0);

    /* Disjoint, source across the boundary, destination inside A. */
    copy_and_compare(model, A + 10, B - 100, 300);
    /* Overlapping, destination below the source, across the boundary. */
    copy_and_compare(model, B - 3000, B - 1000, 5000);
    /* Overlapping, destination above the source (backwards copy). */
    copy_and_compare(model, B - 1000, B - 3000, 5000);
    /* Off by one in both directions, longer than a page on each side. */
    copy_and_compare(model, A + 1, A, (size_t)(8 * P) - 1);
    copy_and_compare(model, A, A + 1, (size_t)(8 * P) - 1);
    /* Source and destination in different regions, each crossing. */
    copy_and_compare(model, B - 7, A + 2 * P - 5, (size_t)(2 * P));
    /* Same place: a no-op. */
    copy_and_compare(model, B - 50, B - 50, 100);
    /* Random copies, sizes up to the whole span. */
    uint64_t seed = 42;
    for (int i = 0; i < 200; i++) {
        size_t len = (size_t)(rnd(&seed) % (i % 4 ? 600 : all));
        uint64_t s = A + rnd(&seed) % (all - len + 1);
        uint64_t d = A + rnd(&seed) % (all - len + 1);
        copy_and_compare(model, d, s, len);
    }

    /* Into C (separate region) and back. */
    cr_assert_eq(vmem_copy(m, C, B - 20, 40), 0);
    cr_assert_arr_eq(host_of(m, C), model + 4 * P - 20, 40);

    /* Uncovered source or destination: nothing written. */
    cr_assert_eq(vmem_copy(m, A, GAP - 10, 20), -EFAULT);
    cr_assert_eq(vmem_copy(m, GAP - 10, A, 20), -EFAULT);
    cr_assert_eq(vmem_copy(m, A, C, (size_t)(2 * P)), -EFAULT);
    cr_assert_eq(vmem_copy(m, A, B, SIZE_MAX), -EFAULT);
    cr_assert_eq(vmem_copy(NULL, A, B, 1), -EINVAL);
    cr_assert_eq(vmem_copy(m, GAP, GAP, 0), 0, "zero length");
    uint8_t *now = malloc(all);
    cr_assert_eq(vmem_read(m, A, now, all), 0);
    cr_assert_arr_eq(now, model, all);
    free(now);
    free(model);
}

Test(access, endian_store_byte_patterns)
{
    /* Every store at an odd address and across the A/B boundary. */
    uint64_t at[] = { A + 1, B - 3, B - 1 };
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        uint64_t g = at[k];
        uint8_t b[8];
#define EXPECT_BYTES(call, ...)                                                 \
    do {                                                                        \
        static const uint8_t want[] = { __VA_ARGS__ };                          \
        cr_assert_eq(call, 0, #call);                                           \
        cr_assert_eq(vmem_read(m, g, b, sizeof(want)), 0);                      \
        cr_assert_arr_eq(b, want, sizeof(want), #call " at %#llx",              \
                         (unsigned long long)g);                                \
    } while (0)
        EXPECT_BYTES(vmem_write_u8(m, g, 0x9c), 0x9c);
        EXPECT_BYTES(vmem_write_le16(m, g, 0xa1b2), 0xb2, 0xa1);
        EXPECT_BYTES(vmem_write_be16(m, g, 0xa1b2), 0xa1, 0xb2);
        EXPECT_BYTES(vmem_write_le32(m, g, 0x11223344), 0x44, 0x33, 0x22, 0x11);
        EXPECT_BYTES(vmem_write_be32(m, g, 0x11223344), 0x11, 0x22, 0x33, 0x44);
        EXPECT_BYTES(vmem_write_le64(m, g, 0x0102030405060708),
                     0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01);
        EXPECT_BYTES(vmem_write_be64(m, g, 0x0102030405060708),
                     0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08);
#undef EXPECT_BYTES
    }
}

Test(access, endian_load_byte_patterns)
{
    static const uint8_t bytes[8] = { 0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88 };
    uint64_t at[] = { A + 3, B - 5, B - 1, C + P - 8 };
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        uint64_t g = at[k];
        cr_assert_eq(vmem_write(m, g, bytes, 8), 0);
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        cr_assert_eq(vmem_read_u8(m, g, &u8), 0);
        cr_assert_eq(u8, 0xf1);
        cr_assert_eq(vmem_read_le16(m, g, &u16), 0);
        cr_assert_eq(u16, 0xe2f1);
        cr_assert_eq(vmem_read_be16(m, g, &u16), 0);
        cr_assert_eq(u16, 0xf1e2);
        cr_assert_eq(vmem_read_le32(m, g, &u32), 0);
        cr_assert_eq(u32, 0xc4d3e2f1);
        cr_assert_eq(vmem_read_be32(m, g, &u32), 0);
        cr_assert_eq(u32, 0xf1e2d3c4);
        cr_assert_eq(vmem_read_le64(m, g, &u64), 0);
        cr_assert_eq(u64, 0x8897a6b5c4d3e2f1);
        cr_assert_eq(vmem_read_be64(m, g, &u64), 0);
        cr_assert_eq(u64, 0xf1e2d3c4b5a69788);
    }
}

Test(access, accessors_outside_memory)
{
    uint8_t u8 = 1;
    uint16_t u16 = 2;
    uint32_t u32 = 3;
    uint64_t u64 = 4;
    /* The last byte of B is inside, the next one in the gap. */
    cr_assert_eq(vmem_read_u8(m, GAP, &u8), -EFAULT);
    cr_assert_eq(vmem_read_le16(m, GAP - 1, &u16), -EFAULT);
    cr_assert_eq(vmem_read_be16(m, GAP - 1, &u16), -EFAULT);
    cr_assert_eq(vmem_read_le32(m, GAP - 3, &u32), -EFAULT);
    cr_assert_eq(vmem_read_be32(m, GAP - 1, &u32), -EFAULT);
    cr_assert_eq(vmem_read_le64(m, GAP - 7, &u64), -EFAULT);
    cr_assert_eq(vmem_read_be64(m, A - 1, &u64), -EFAULT);
    cr_assert_eq(u8, 1, "outputs written only on success");
    cr_assert_eq(u16, 2);
    cr_assert_eq(u32, 3);
    cr_assert_eq(u64, 4);
    cr_assert_eq(vmem_write_u8(m, GAP, 1), -EFAULT);
    cr_assert_eq(vmem_write_le16(m, GAP - 1, 1), -EFAULT);
    cr_assert_eq(vmem_write_be16(m, A - 1, 1), -EFAULT);
    cr_assert_eq(vmem_write_le32(m, GAP - 2, 1), -EFAULT);
    cr_assert_eq(vmem_write_be32(m, GAP - 3, 1), -EFAULT);
    cr_assert_eq(vmem_write_le64(m, GAP - 7, 1), -EFAULT);
    cr_assert_eq(vmem_write_be64(m, GAP - 1, 1), -EFAULT);
    cr_assert_eq(*host_of(m, GAP - 1), 0, "partial stores never happen");
    cr_assert_eq(*host_of(m, A), 0);
    /* NULLs. */
    cr_assert_eq(vmem_read_u8(NULL, A, &u8), -EINVAL);
    cr_assert_eq(vmem_read_le16(m, A, NULL), -EINVAL);
    cr_assert_eq(vmem_read_be32(m, A, NULL), -EINVAL);
    cr_assert_eq(vmem_read_le64(NULL, A, &u64), -EINVAL);
    cr_assert_eq(vmem_write_le32(NULL, A, 1), -EINVAL);
    cr_assert_eq(vmem_write_u8(NULL, A, 1), -EINVAL);
}

Test(access, inline_byte_order_helpers)
{
    uint8_t b[8];
    vmem_cpu_to_le16(b, 0xa1b2);
    cr_assert(b[0] == 0xb2 && b[1] == 0xa1);
    vmem_cpu_to_be16(b, 0xa1b2);
    cr_assert(b[0] == 0xa1 && b[1] == 0xb2);
    vmem_cpu_to_le32(b, 0x11223344);
    cr_assert_arr_eq(b, "\x44\x33\x22\x11", 4);
    vmem_cpu_to_be32(b, 0x11223344);
    cr_assert_arr_eq(b, "\x11\x22\x33\x44", 4);
    vmem_cpu_to_le64(b, 0x0102030405060708);
    cr_assert_arr_eq(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    vmem_cpu_to_be64(b, 0x0102030405060708);
    cr_assert_arr_eq(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    static const uint8_t x[9] = { 0, 0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7 };
    cr_assert_eq(vmem_le16_to_cpu(x + 1), 0x9180);
    cr_assert_eq(vmem_be16_to_cpu(x + 1), 0x8091);
    cr_assert_eq(vmem_le32_to_cpu(x + 1), 0xb3a29180);
    cr_assert_eq(vmem_be32_to_cpu(x + 1), 0x8091a2b3);
    cr_assert_eq(vmem_le64_to_cpu(x + 1), 0xf7e6d5c4b3a29180);
    cr_assert_eq(vmem_be64_to_cpu(x + 1), 0x8091a2b3c4d5e6f7);
}

Test(access, atomic_accessors)
{
    uint16_t v16 = 7;
    uint32_t v32 = 7;
    /* Release stores put little-endian bytes in guest memory. */
    cr_assert_eq(vmem_store_release_le16(m, A + 2, 0xa1b2), 0);
    cr_assert_arr_eq(host_of(m, A + 2), "\xb2\xa1", 2);
    cr_assert_eq(vmem_store_release_le32(m, B - 4, 0x11223344), 0);
    cr_assert_arr_eq(host_of(m, B - 4), "\x44\x33\x22\x11", 4);
    /* Acquire loads read what any writer stored. */
    cr_assert_eq(vmem_load_acquire_le16(m, A + 2, &v16), 0);
    cr_assert_eq(v16, 0xa1b2);
    cr_assert_eq(vmem_load_acquire_le32(m, B - 4, &v32), 0);
    cr_assert_eq(v32, 0x11223344);
    cr_assert_eq(vmem_write_le16(m, UINT64_MAX - 1, 0xbeef), 0);
    cr_assert_eq(vmem_load_acquire_le16(m, UINT64_MAX - 1, &v16), 0, "top of space");
    cr_assert_eq(v16, 0xbeef);
    cr_assert_eq(vmem_write_le32(m, B, 0xcafef00d), 0);
    cr_assert_eq(vmem_load_acquire_le32(m, B, &v32), 0);
    cr_assert_eq(v32, 0xcafef00d);

    /* Misaligned: -EINVAL, even where a plain access would work. */
    v16 = 7;
    v32 = 7;
    cr_assert_eq(vmem_load_acquire_le16(m, A + 1, &v16), -EINVAL);
    cr_assert_eq(vmem_load_acquire_le32(m, A + 2, &v32), -EINVAL);
    cr_assert_eq(vmem_load_acquire_le32(m, A + 1, &v32), -EINVAL);
    cr_assert_eq(vmem_store_release_le16(m, A + 3, 1), -EINVAL);
    cr_assert_eq(vmem_store_release_le32(m, B - 2, 1), -EINVAL);
    cr_assert_eq(v16, 7);
    cr_assert_eq(v32, 7);
    /* Outside memory: -EFAULT. */
    cr_assert_eq(vmem_load_acquire_le16(m, GAP, &v16), -EFAULT);
    cr_assert_eq(vmem_load_acquire_le32(m, A - 4, &v32), -EFAULT);
    cr_assert_eq(vmem_store_release_le16(m, GAP, 1), -EFAULT);
    cr_assert_eq(vmem_store_release_le32(m, C + P, 1), -EFAULT);
    /* NULLs. */
    cr_assert_eq(vmem_load_acquire_le16(NULL, A, &v16), -EINVAL);
    cr_assert_eq(vmem_load_acquire_le16(m, A, NULL), -EINVAL);
    cr_assert_eq(vmem_load_acquire_le32(m, A, NULL), -EINVAL);
    cr_assert_eq(vmem_store_release_le16(NULL, A, 1), -EINVAL);
    cr_assert_eq(vmem_store_release_le32(NULL, A, 1), -EINVAL);
    cr_assert_eq(v16, 7);
    cr_assert_eq(v32, 7);
}
