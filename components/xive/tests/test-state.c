/* SPDX-License-Identifier: MIT */
/* "info pic" text, save/restore, corrupted buffers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void setup_state(void)
{
    t_setup(2, 16, XIVE_ESB_64K_2PAGE, 0);
}

TestSuite(state, .init = setup_state, .fini = t_teardown);

/* A known state: vCPU 1 has an event of priority 5 pending from LISN 2. */
static void build_known_state(void)
{
    cr_assert_eq(xive_irq_claim(T.x, 0, false), 0);
    cr_assert_eq(xive_irq_claim(T.x, 3, true), 0);
    cr_assert_eq(xive_source_set_irq(T.x, 3, true), 0);
    t_route(2, 1, 5, 0x1234);
    xive_eas_set(T.x, 5, xive_eas_build(true, false, 0, xive_end_index(1, 6), 5));
    t_tm_store(1, XIVE_TM_OS_PAGE, 0x11, 1, 0xff);
    cr_assert_eq(xive_source_trigger(T.x, 2), 1);
}

static const char known_text[] =
    "CPU[0000]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2\n"
    "CPU[0000]: USER    00   00  00    00   00  00  00   00  00000000\n"
    "CPU[0000]:   OS    00   00  00    ff   ff  00  ff   ff  80000400\n"
    "CPU[0000]: POOL    00   00  00    00   00  00  00   00  00000000\n"
    "CPU[0000]: PHYS    00   00  00    00   00  00  00   ff  00000000\n"
    "CPU[0001]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2\n"
    "CPU[0001]: USER    00   00  00    00   00  00  00   00  00000000\n"
    "CPU[0001]:   OS    80   ff  04    ff   ff  00  ff   05  80000401\n"
    "CPU[0001]: POOL    00   00  00    00   00  00  00   00  00000000\n"
    "CPU[0001]: PHYS    00   00  00    00   00  00  00   ff  00000000\n"
    "  LISN         PQ    EISN     CPU/PRIO EQ\n"
    "  00000000 MSI -Q  M 00000000 \n"
    "  00000002 MSI P-    00001234   1/5      1/ 1024 @10d000 ^1"
    " [ 00000000 00000000 00000000 00000000 80001234 ^00000000 ]\n"
    "  00000003 LSI -QA M 00000000 \n"
    "  00000005 MSI -Q    00000005 \n";

static char *dump(Xive *x)
{
    char *text = NULL;
    cr_assert_eq(xive_info_pic(x, &text), 0);
    cr_assert_not_null(text);
    return text;
}

Test(state, info_pic_reset)
{
    char *text = dump(T.x);
    cr_assert_str_eq(text,
        "CPU[0000]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2\n"
        "CPU[0000]: USER    00   00  00    00   00  00  00   00  00000000\n"
        "CPU[0000]:   OS    00   00  00    ff   ff  00  ff   ff  80000400\n"
        "CPU[0000]: POOL    00   00  00    00   00  00  00   00  00000000\n"
        "CPU[0000]: PHYS    00   00  00    00   00  00  00   ff  00000000\n"
        "CPU[0001]:   QW   NSR CPPR IPB LSMFB ACK# INC AGE PIPR  W2\n"
        "CPU[0001]: USER    00   00  00    00   00  00  00   00  00000000\n"
        "CPU[0001]:   OS    00   00  00    ff   ff  00  ff   ff  80000401\n"
        "CPU[0001]: POOL    00   00  00    00   00  00  00   00  00000000\n"
        "CPU[0001]: PHYS    00   00  00    00   00  00  00   ff  00000000\n"
        "  LISN         PQ    EISN     CPU/PRIO EQ\n");
    free(text);
    cr_assert_eq(xive_info_pic(NULL, &text), -EINVAL);
    cr_assert_eq(xive_info_pic(T.x, NULL), -EINVAL);
}

Test(state, info_pic_known_state)
{
    build_known_state();
    char *text = dump(T.x);
    cr_assert_str_eq(text, known_text, "got:\n%s", text);
    free(text);
}

Test(state, info_pic_after_wrap_and_with_missing_memory)
{
    t_route(1, 0, 7, 0x42);
    for (int i = 0; i < 1030; i++) {
        xive_source_set_pq(T.x, 1, XIVE_ESB_RESET, NULL);
        xive_source_trigger(T.x, 1);
    }
    char *text = dump(T.x);
    cr_assert_not_null(strstr(text, "  00000001 MSI P-    00000042   0/7      6/ 1024 @107000 ^0"
                                    " [ 00000042 00000042 00000042 00000042 00000042 "
                                    "^80000042 ]\n"),
                       "got:\n%s", text);
    free(text);

    /* A queue outside guest memory: the window stops without "]". */
    XiveEnd end;
    xive_end_get(T.x, xive_end_index(0, 7), &end);
    xive_end_set_qaddr(&end, 0x7000000);
    xive_end_set(T.x, xive_end_index(0, 7), &end);
    text = dump(T.x);
    cr_assert_not_null(strstr(text, "@7000000 ^0 [ \n"), "got:\n%s", text);
    free(text);
}

static Xive *new_like_fixture(uint32_t nr_vcpus)
{
    Xive *y = NULL;
    XiveConfig cfg = { .nr_vcpus = nr_vcpus, .nr_irqs = 16, .esb_shift = XIVE_ESB_64K_2PAGE,
                       .mem = T.mem };
    cr_assert_eq(xive_new(&cfg, &y), 0);
    return y;
}

static unsigned restored_lines;
static void count_lines(void *opaque, uint32_t vcpu, XiveLine line, bool level)
{
    (void)opaque;
    if (vcpu == 1 && line == XIVE_LINE_OS && level) {
        restored_lines++;
    }
}

Test(state, restore_reproduces_the_dump)
{
    build_known_state();
    void *buf = NULL;
    size_t len = 0;
    cr_assert_eq(xive_state_save(T.x, &buf, &len), 0);
    cr_assert_eq(len, 32 + 16 * 9 + 16 * 32 + 2 * 66 + 4);

    Xive *y = new_like_fixture(2);
    xive_set_line_handler(y, count_lines, NULL);
    restored_lines = 0;
    cr_assert_eq(xive_state_load(y, buf, len), 0);
    cr_assert_eq(restored_lines, 1, "the raised line is reported");
    cr_assert(xive_line_level(y, 1, XIVE_LINE_OS));

    char *a = dump(T.x), *b = dump(y);
    cr_assert_str_eq(a, b);
    cr_assert_str_eq(b, known_text);
    free(a);
    free(b);

    /* And it behaves the same: ACK, EOI, next event. */
    uint64_t v = 0;
    cr_assert_eq(xive_tima_mmio(y, 1, XIVE_TM_OS_PAGE, 0x810, 2, &v, false), 0);
    cr_assert_eq(v, 0x8005);
    cr_assert_eq(xive_source_eoi(y, 2), 0);
    cr_assert_eq(xive_source_trigger(y, 2), 1);
    cr_assert_eq(t_mem_be32(T_QPAGE(1, 5) + 4), 0x80001234);

    /* A second save of the original is byte-identical. */
    void *buf2 = NULL;
    size_t len2 = 0;
    cr_assert_eq(xive_state_save(T.x, &buf2, &len2), 0);
    cr_assert_eq(len2, len);
    cr_assert_eq(memcmp(buf, buf2, len), 0);
    free(buf2);
    free(buf);
    xive_free(y);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xedb88320u : c >> 1;
        }
    }
    return ~c;
}

static void fix_crc(uint8_t *b, size_t len)
{
    uint32_t c = crc32_ref(b, len - 4);
    b[len - 4] = (uint8_t)(c >> 24);
    b[len - 3] = (uint8_t)(c >> 16);
    b[len - 2] = (uint8_t)(c >> 8);
    b[len - 1] = (uint8_t)c;
}

Test(state, corrupted_buffers_are_rejected)
{
    build_known_state();
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_assert_eq(xive_state_save(T.x, (void **)&buf, &len), 0);

    Xive *y = new_like_fixture(2);
    char *before = dump(y);

    /* Every single-bit flip anywhere. */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = xive_state_load(y, buf, len);
            cr_assert(rc == -EBADMSG || rc == -EPROTONOSUPPORT, "byte %zu bit %d: %d", i, bit, rc);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Every truncation, and one byte too many. */
    for (size_t n = 0; n < len; n++) {
        cr_assert_eq(xive_state_load(y, buf, n), -EBADMSG, "length %zu", n);
    }
    uint8_t *longer = calloc(1, len + 1);
    memcpy(longer, buf, len);
    cr_assert_eq(xive_state_load(y, longer, len + 1), -EBADMSG);
    free(longer);

    /* A future version. */
    buf[7] = 2;
    fix_crc(buf, len);
    cr_assert_eq(xive_state_load(y, buf, len), -EPROTONOSUPPORT);
    buf[7] = 1;
    /* Reserved bits with a good CRC. */
    buf[32 + 3] |= 0x10; /* status of LISN 3 */
    fix_crc(buf, len);
    cr_assert_eq(xive_state_load(y, buf, len), -EBADMSG);
    buf[32 + 3] &= (uint8_t)~0x10;
    buf[len - 4 - 1] |= 0x04; /* line byte of vCPU 1 */
    fix_crc(buf, len);
    cr_assert_eq(xive_state_load(y, buf, len), -EBADMSG);
    buf[len - 4 - 1] &= (uint8_t)~0x04;
    buf[31] = 1; /* header reserved word */
    fix_crc(buf, len);
    cr_assert_eq(xive_state_load(y, buf, len), -EBADMSG);
    buf[31] = 0;
    fix_crc(buf, len);

    /* Nothing of all that reached the instance. */
    char *after = dump(y);
    cr_assert_str_eq(before, after);
    free(after);

    /* Another configuration. */
    Xive *z = new_like_fixture(3);
    cr_assert_eq(xive_state_load(z, buf, len), -EINVAL);
    xive_free(z);

    /* API errors. */
    cr_assert_eq(xive_state_load(NULL, buf, len), -EINVAL);
    cr_assert_eq(xive_state_load(y, NULL, 4), -EINVAL);
    cr_assert_eq(xive_state_load(y, NULL, 0), -EBADMSG);
    cr_assert_eq(xive_state_save(NULL, (void **)&buf, &len), -EINVAL);

    /* The intact buffer still loads. */
    cr_assert_eq(xive_state_load(y, buf, len), 0);
    after = dump(y);
    cr_assert_str_eq(after, known_text);
    free(after);
    free(before);
    free(buf);
    xive_free(y);
}
