/* SPDX-License-Identifier: MIT */
/*
 * The runner behind the criterion stand-in: one child process per test,
 * fixtures around it, a per-test time limit, and a summary. Exit status 0
 * when no test failed (skips allowed), 1 otherwise.
 */
#include "criterion/criterion.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static CrShimTest *tests;
static CrShimSuite *suites;

void cr_shim_register_test(CrShimTest *t)
{
    t->next = tests;
    tests = t;
}

void cr_shim_register_suite(CrShimSuite *s)
{
    s->next = suites;
    suites = s;
}

static const CrShimSuite *find_suite(const char *name)
{
    for (const CrShimSuite *s = suites; s; s = s->next) {
        if (strcmp(s->name, name) == 0) {
            return s;
        }
    }
    return NULL;
}

/* "@prefix<message>\n" on stderr when @fmt is not empty. */
static void print_message(const char *prefix, const char *fmt, va_list ap)
{
    if (fmt && *fmt) {
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    fflush(stderr);
}

void cr_shim_fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "[----] %s:%d: Assertion failed: %s\n", file, line, expr);
    va_start(ap, fmt);
    print_message("[----]   ", fmt, ap);
    va_end(ap);
    _exit(1);
}

void cr_shim_skip(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    print_message("[SKIP] ", fmt, ap);
    va_end(ap);
    _exit(77);
}

void cr_shim_log(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%s] ", level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* Tests register in reverse order of their definition; run them forwards. */
static CrShimTest *reverse(CrShimTest *t)
{
    CrShimTest *out = NULL;
    while (t) {
        CrShimTest *next = t->next;
        t->next = out;
        out = t;
        t = next;
    }
    return out;
}

static int run_one(const CrShimTest *t)
{
    const CrShimSuite *s = find_suite(t->suite);
    double timeout = t->opts.timeout > 0 ? t->opts.timeout
                     : (s && s->opts.timeout > 0) ? s->opts.timeout : 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        if (timeout > 0) {
            /* Emulation is slow: give each test ten times its budget. */
            alarm((unsigned)(timeout * 10) + 1);
        }
        if (s && s->opts.init) {
            s->opts.init();
        }
        if (t->opts.init) {
            t->opts.init();
        }
        t->fn();
        if (t->opts.fini) {
            t->opts.fini();
        }
        if (s && s->opts.fini) {
            s->opts.fini();
        }
        fflush(NULL);
        _exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("waitpid");
            return 1;
        }
    }
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code == t->opts.exit_code && !t->opts.signal) {
            return 0;
        }
        return code == 77 ? 77 : 1;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == t->opts.signal) {
        return 0;
    }
    fprintf(stderr, "[----] %s::%s: killed by signal %d\n", t->suite, t->name,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 1;
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL; /* "suite::name" substring */
    unsigned passed = 0, failed = 0, skipped = 0;
    tests = reverse(tests);
    for (const CrShimTest *t = tests; t; t = t->next) {
        char full[512];
        snprintf(full, sizeof(full), "%s::%s", t->suite, t->name);
        if (t->opts.disabled || (only && !strstr(full, only))) {
            continue;
        }
        int rc = run_one(t);
        if (rc == 0) {
            passed++;
        } else if (rc == 77) {
            skipped++;
            fprintf(stderr, "[SKIP] %s\n", full);
        } else {
            failed++;
            fprintf(stderr, "[FAIL] %s\n", full);
        }
    }
    fprintf(stderr, "[====] Synthesis: Tested: %u | Passing: %u | Failing: %u | Skipped: %u\n",
            passed + failed + skipped, passed, failed, skipped);
    if (passed + failed + skipped == 0) {
        fprintf(stderr, "[FAIL] no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
