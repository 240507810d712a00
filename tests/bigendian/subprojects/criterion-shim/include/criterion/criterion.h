/* SPDX-License-Identifier: MIT */
/*
 * A small stand-in for the subset of criterion's API that the data-plane test
 * suites use, so that they can be cross-built for a big-endian target where
 * Debian has no criterion package, and run there under qemu-user. It is used
 * only by tests/bigendian; normal builds use the real criterion.
 *
 * Each test runs in its own child process (as criterion does), with the
 * suite's and the test's .init/.fini fixtures around it. A failed assertion
 * prints its location and message and ends that child with status 1;
 * cr_skip_test() ends it with status 77.
 */
#ifndef CRITERION_SHIM_CRITERION_H
#define CRITERION_SHIM_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* criterion's own macros compare mixed signedness without a warning; the
 * suites rely on it (e.g. a uint64_t against a literal). */
#pragma GCC diagnostic ignored "-Wsign-compare"

typedef struct CrShimOptions {
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    bool disabled;
    const char *description;
    int exit_code;
    int signal;
} CrShimOptions;

typedef struct CrShimTest {
    const char *suite;
    const char *name;
    void (*fn)(void);
    CrShimOptions opts;
    struct CrShimTest *next;
} CrShimTest;

typedef struct CrShimSuite {
    const char *name;
    CrShimOptions opts;
    struct CrShimSuite *next;
} CrShimSuite;

void cr_shim_register_test(CrShimTest *t);
void cr_shim_register_suite(CrShimSuite *s);
/* No format attribute: the message may be absent (an empty format). */
__attribute__((noreturn))
void cr_shim_fail(const char *file, int line, const char *expr, const char *fmt, ...);
__attribute__((noreturn))
void cr_shim_skip(const char *fmt, ...);
__attribute__((format(printf, 2, 3)))
void cr_shim_log(const char *level, const char *fmt, ...);

#define Test(suite_, name_, ...)                                                  \
    static void suite_##_##name_##_impl(void);                                    \
    static CrShimTest suite_##_##name_##_desc = {                                 \
        .suite = #suite_, .name = #name_, .fn = suite_##_##name_##_impl,          \
        .opts = { __VA_ARGS__ } };                                                \
    __attribute__((constructor)) static void suite_##_##name_##_reg(void)         \
    {                                                                             \
        cr_shim_register_test(&suite_##_##name_##_desc);                          \
    }                                                                             \
    static void suite_##_##name_##_impl(void)

#define TestSuite(suite_, ...)                                                    \
    static CrShimSuite suite_##_suite_desc = { .name = #suite_,                   \
                                               .opts = { __VA_ARGS__ } };         \
    __attribute__((constructor)) static void suite_##_suite_reg(void)             \
    {                                                                             \
        cr_shim_register_suite(&suite_##_suite_desc);                             \
    }

/* The message arguments are optional; when given they start with a format
 * string literal, which the "" concatenation relies on. */
#define CR_SHIM_CHECK(cond, expr, ...)                                            \
    do {                                                                          \
        if (!(cond)) {                                                            \
            cr_shim_fail(__FILE__, __LINE__, expr, "" __VA_ARGS__);               \
        }                                                                         \
    } while (0)

#define cr_assert(c, ...) CR_SHIM_CHECK((c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) CR_SHIM_CHECK(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) CR_SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) CR_SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) CR_SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) CR_SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) CR_SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) CR_SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) CR_SHIM_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) CR_SHIM_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                               \
    CR_SHIM_CHECK(strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                              \
    CR_SHIM_CHECK(strcmp((a), (b)) != 0, #a " differs from " #b, __VA_ARGS__)
#define cr_assert_str_empty(s, ...) CR_SHIM_CHECK((s)[0] == '\0', #s " is empty", __VA_ARGS__)
#define cr_assert_arr_eq(a, b, n, ...)                                            \
    CR_SHIM_CHECK(memcmp((a), (b), (n)) == 0, #a " and " #b " hold the same bytes", \
                  __VA_ARGS__)
#define cr_assert_fail(...) cr_shim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_skip_test(...) cr_shim_skip("" __VA_ARGS__)

#define cr_log_info(...) cr_shim_log("INFO", __VA_ARGS__)
#define cr_log_warn(...) cr_shim_log("WARN", __VA_ARGS__)
#define cr_log_error(...) cr_shim_log("ERR ", __VA_ARGS__)

#endif /* CRITERION_SHIM_CRITERION_H */
