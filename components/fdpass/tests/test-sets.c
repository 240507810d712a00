/* SPDX-License-Identifier: MIT */
/* Fd sets: add-fd / remove-fd / query-fdsets, /dev/fdset/N, dups, cleanup. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "helpers.h"

/* What fdpass_sets_query() reported, copied out. */
#define MAXQ 16
typedef struct QuerySet {
    int64_t id;
    size_t nfds;
    int fds[MAXQ];
    char opaque[MAXQ][32];
} QuerySet;

typedef struct Query {
    size_t n;
    QuerySet sets[MAXQ];
} Query;

static void record(void *opaque, int64_t id, const FdPassFdInfo *fds, size_t nfds)
{
    Query *q = opaque;
    QuerySet *s;

    cr_assert_lt(q->n, MAXQ);
    s = &q->sets[q->n++];
    s->id = id;
    s->nfds = nfds;
    cr_assert_leq(nfds, MAXQ);
    for (size_t i = 0; i < nfds; i++) {
        s->fds[i] = fds[i].fd;
        snprintf(s->opaque[i], sizeof(s->opaque[i]), "%s", fds[i].opaque ? fds[i].opaque : "(null)");
    }
}

static Query query(FdPassSets *sets)
{
    Query q = { 0 };

    cr_assert_eq(fdpass_sets_query(sets, record, &q), (int)fdpass_sets_count(sets));
    cr_assert_eq(q.n, fdpass_sets_count(sets));
    return q;
}

static FdPassSets *sets_new(void)
{
    FdPassSets *s = NULL;

    cr_assert_eq(fdpass_sets_new(&s), 0);
    cr_assert_not_null(s);
    return s;
}

static void expect_error(const FdPassError *err, int code, const char *msg)
{
    cr_assert_eq(err->code, code, "code %d, wanted %d (%s)", err->code, code, err->msg);
    cr_assert_str_eq(err->msg, msg);
}

static int64_t add(FdPassSets *s, int64_t id, int fd, const char *opaque)
{
    int64_t got = -100;
    FdPassError err = { 0 };

    cr_assert_eq(fdpass_sets_add_fd(s, id >= 0, id, fd, opaque, &got, &err), 0, "%s", err.msg);
    return got;
}

static void check_set(const QuerySet *qs, int64_t id, size_t n, const char *const *opaques)
{
    cr_assert_eq(qs->id, id, "set id %" PRId64 ", wanted %" PRId64, qs->id, id);
    cr_assert_eq(qs->nfds, n, "set %" PRId64 ": %zu fds, wanted %zu", id, qs->nfds, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(qs->opaque[i], opaques[i], "set %" PRId64 " fd %zu", id, i);
    }
}

/* ------------------------------------------------------------------------ */
/* QEMU iotest 045 (TestFdSets), step by step                                */

typedef struct Iotest045 {
    FdPassSets *sets;
    char dir[256];
    int fd[5];
} Iotest045;

static void iotest045_setup(Iotest045 *t)
{
    static const char *const modes[5] = { "r", "w+", "r", "r", "r" };
    static const int64_t set_of[5] = { 1, 1, 0, 2, 2 };
    char path[512], opaque[32];

    t->sets = sets_new();
    make_tempdir(t->dir, sizeof(t->dir));
    for (int i = 0; i < 5; i++) {
        char name[16];

        snprintf(name, sizeof(name), "image%d", i);
        make_file(path, sizeof(path), t->dir, name, "img");
        t->fd[i] = open(path, strcmp(modes[i], "r") == 0 ? O_RDONLY : O_RDWR);
        cr_assert_geq(t->fd[i], 0);
        snprintf(opaque, sizeof(opaque), "image%d:%s", i, modes[i]);
        cr_assert_eq(add(t->sets, set_of[i], t->fd[i], opaque), set_of[i]);
    }
}

static void iotest045_teardown(Iotest045 *t)
{
    fdpass_sets_free(t->sets);
    remove_dir(t->dir);
}

Test(iotest045, query_fdset)
{
    Iotest045 t;
    Query q;

    iotest045_setup(&t);
    q = query(t.sets);
    cr_assert_eq(q.n, 3);
    check_set(&q.sets[0], 2, 2, (const char *const[]){ "image3:r", "image4:r" });
    check_set(&q.sets[1], 1, 2, (const char *const[]){ "image0:r", "image1:w+" });
    check_set(&q.sets[2], 0, 1, (const char *const[]){ "image2:r" });
    cr_assert_eq(q.sets[0].fds[0], t.fd[3]);
    cr_assert_eq(q.sets[0].fds[1], t.fd[4]);
    cr_assert_eq(q.sets[1].fds[0], t.fd[0]);
    cr_assert_eq(q.sets[1].fds[1], t.fd[1]);
    cr_assert_eq(q.sets[2].fds[0], t.fd[2]);
    iotest045_teardown(&t);
}

Test(iotest045, remove_fdset)
{
    Iotest045 t;
    Query q;

    iotest045_setup(&t);
    cr_assert_eq(fdpass_sets_remove_fd(t.sets, 2, false, 0, NULL), 0);
    cr_assert(!fd_is_open(t.fd[3]) && !fd_is_open(t.fd[4]), "removed fds are closed now");
    q = query(t.sets);
    cr_assert_eq(q.n, 2);
    check_set(&q.sets[0], 1, 2, (const char *const[]){ "image0:r", "image1:w+" });
    check_set(&q.sets[1], 0, 1, (const char *const[]){ "image2:r" });
    iotest045_teardown(&t);
}

Test(iotest045, remove_fd)
{
    Iotest045 t;
    Query q;

    iotest045_setup(&t);
    q = query(t.sets);
    cr_assert_eq(fdpass_sets_remove_fd(t.sets, 2, true, q.sets[0].fds[0], NULL), 0);
    cr_assert(!fd_is_open(t.fd[3]));
    cr_assert(fd_is_open(t.fd[4]));
    q = query(t.sets);
    cr_assert_eq(q.n, 3);
    check_set(&q.sets[0], 2, 1, (const char *const[]){ "image4:r" });
    check_set(&q.sets[1], 1, 2, (const char *const[]){ "image0:r", "image1:w+" });
    check_set(&q.sets[2], 0, 1, (const char *const[]){ "image2:r" });
    iotest045_teardown(&t);
}

Test(iotest045, remove_fd_invalid_fdset)
{
    Iotest045 t;
    FdPassError err;
    char want[128];

    iotest045_setup(&t);
    cr_assert_eq(fdpass_sets_remove_fd(t.sets, 3, true, t.fd[3], &err), -ENOENT);
    snprintf(want, sizeof(want), "File descriptor named 'fdset-id:3, fd:%d' not found", t.fd[3]);
    expect_error(&err, -ENOENT, want);
    cr_assert(fd_is_open(t.fd[3]));
    iotest045_teardown(&t);
}

Test(iotest045, remove_fd_invalid_fd)
{
    Iotest045 t;
    FdPassError err;

    iotest045_setup(&t);
    cr_assert_eq(fdpass_sets_remove_fd(t.sets, 2, true, 999, &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 'fdset-id:2, fd:999' not found");
    cr_assert_eq(query(t.sets).n, 3, "nothing removed");
    iotest045_teardown(&t);
}

Test(iotest045, add_fd_invalid_fd)
{
    Iotest045 t;
    FdPassError err;

    iotest045_setup(&t);
    cr_assert_eq(fdpass_sets_add_fd(t.sets, true, 2, -1, NULL, NULL, &err), -EBADF);
    expect_error(&err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");
    iotest045_teardown(&t);
}

/* ------------------------------------------------------------------------ */
/* add-fd / remove-fd                                                        */

Test(sets, lowest_free_id)
{
    FdPassSets *s = sets_new();
    int before = count_open_fds();

    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 0);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 1);
    cr_assert_eq(add(s, 3, open_devnull(O_RDONLY), NULL), 3);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 2);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 4);
    cr_assert_eq(fdpass_sets_remove_fd(s, 1, false, 0, NULL), 0);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 1);
    cr_assert_eq(add(s, INT64_MAX, open_devnull(O_RDONLY), NULL), INT64_MAX);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 5);
    cr_assert_eq(fdpass_sets_count(s), 7);

    Query q = query(s);
    int64_t want[] = { INT64_MAX, 5, 4, 3, 2, 1, 0 };
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(q.sets[i].id, want[i], "position %zu", i);
    }
    fdpass_sets_free(s);
    cr_assert_eq(count_open_fds(), before, "free closes every member");
}

Test(sets, lowest_free_id_when_zero_is_free)
{
    FdPassSets *s = sets_new();

    cr_assert_eq(add(s, 5, open_devnull(O_RDONLY), NULL), 5);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 0);
    cr_assert_eq(add(s, -1, open_devnull(O_RDONLY), NULL), 1);
    /* An existing id is reused, not duplicated. */
    cr_assert_eq(add(s, 5, open_devnull(O_RDONLY), "second"), 5);
    cr_assert_eq(fdpass_sets_count(s), 3);
    Query q = query(s);
    check_set(&q.sets[0], 5, 2, (const char *const[]){ "(null)", "second" });
    fdpass_sets_free(s);
}

Test(sets, add_fd_errors)
{
    FdPassSets *s = sets_new();
    FdPassError err;
    int64_t id = 77;
    int fd = open_devnull(O_RDONLY);

    cr_assert_eq(fdpass_sets_add_fd(s, true, -1, fd, "x", &id, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Parameter 'fdset-id' expects a non-negative value");
    cr_assert(!fd_is_open(fd), "the fd of a refused add-fd is closed");
    cr_assert_eq(id, 77, "ret_fdset_id untouched on error");

    fd = open_devnull(O_RDONLY);
    cr_assert_eq(add(s, 0, fd, NULL), 0);
    int fd2 = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_sets_add_fd(s, true, INT64_MIN, fd2, NULL, NULL, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Parameter 'fdset-id' expects a non-negative value");
    cr_assert(!fd_is_open(fd2));

    cr_assert_eq(fdpass_sets_add_fd(s, false, 0, -1, NULL, NULL, &err), -EBADF);
    expect_error(&err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");

    fd2 = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_sets_add_fd(NULL, false, 0, fd2, NULL, NULL, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Invalid argument");
    cr_assert(!fd_is_open(fd2));

    cr_assert_eq(fdpass_sets_count(s), 1);
    fdpass_sets_free(s);
    cr_assert(!fd_is_open(fd));
}

Test(sets, remove_fd_errors)
{
    FdPassSets *s = sets_new();
    FdPassError err;
    int fd = open_devnull(O_RDONLY);

    cr_assert_eq(fdpass_sets_remove_fd(s, 0, false, 0, &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 'fdset-id:0' not found");
    cr_assert_eq(fdpass_sets_remove_fd(s, -4, true, -7, &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 'fdset-id:-4, fd:-7' not found");
    cr_assert_eq(fdpass_sets_remove_fd(s, INT64_MAX, true, INT64_MIN, &err), -ENOENT);
    expect_error(&err, -ENOENT,
                 "File descriptor named 'fdset-id:9223372036854775807, "
                 "fd:-9223372036854775808' not found");

    cr_assert_eq(add(s, 1, fd, NULL), 1);
    /* An fd number beyond int range never matches a member. */
    cr_assert_eq(fdpass_sets_remove_fd(s, 1, true, (int64_t)fd + ((int64_t)1 << 32), &err),
                 -ENOENT);
    cr_assert(fd_is_open(fd));
    cr_assert_eq(fdpass_sets_remove_fd(NULL, 1, false, 0, &err), -EINVAL);
    cr_assert_eq(fdpass_sets_remove_fd(s, 1, true, fd, &err), 0);
    cr_assert(!fd_is_open(fd));
    cr_assert_eq(fdpass_sets_count(s), 0, "an empty set without dups is freed");
    fdpass_sets_free(s);
}

Test(sets, query_arguments)
{
    FdPassSets *s = sets_new();
    Query q = { 0 };

    cr_assert_eq(fdpass_sets_query(s, record, &q), 0);
    cr_assert_eq(q.n, 0);
    cr_assert_eq(fdpass_sets_query(NULL, record, &q), -EINVAL);
    cr_assert_eq(fdpass_sets_query(s, NULL, &q), -EINVAL);
    cr_assert_eq(fdpass_sets_count(NULL), 0);
    cr_assert_eq(fdpass_sets_new(NULL), -EINVAL);
    fdpass_sets_free(NULL);
    fdpass_sets_free(s);
}

/* ------------------------------------------------------------------------ */
/* Opening /dev/fdset/N                                                      */

typedef struct Files {
    char dir[256];
    char path[512];
    int rd, wr, rw;
} Files;

static void files_open(Files *f)
{
    make_tempdir(f->dir, sizeof(f->dir));
    make_file(f->path, sizeof(f->path), f->dir, "disk", "0123456789");
    f->rd = open(f->path, O_RDONLY);
    f->wr = open(f->path, O_WRONLY);
    f->rw = open(f->path, O_RDWR);
    cr_assert(f->rd >= 0 && f->wr >= 0 && f->rw >= 0);
}

static int accmode(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    cr_assert_geq(fl, 0);
    return fl & O_ACCMODE;
}

static void expect_no_match(FdPassSets *s, const char *path, int flags)
{
    FdPassError err;
    char want[96];

    snprintf(want, sizeof(want), "Failed to find file descriptor with matching flags=0x%x",
             (unsigned)flags);
    cr_assert_eq(fdpass_sets_open(s, path, flags, &err), -EACCES, "flags 0x%x", flags);
    expect_error(&err, -EACCES, want);
}

Test(open, matching_access_modes)
{
    FdPassSets *s = sets_new();
    Files f;
    int modes[3] = { O_RDONLY, O_WRONLY, O_RDWR };

    files_open(&f);
    add(s, 4, f.rd, "rd");
    add(s, 4, f.wr, "wr");
    add(s, 4, f.rw, "rw");
    for (int i = 0; i < 3; i++) {
        int d = fdpass_sets_open(s, "/dev/fdset/4", modes[i], NULL);

        cr_assert_geq(d, 0, "mode %d: %s", modes[i], strerror(-d));
        cr_assert_eq(accmode(d), modes[i]);
        cr_assert(same_file(d, f.rd));
        cr_assert_eq(fcntl(d, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        cr_assert_eq(fdpass_sets_find_dup(s, d), 4);
        cr_assert_eq(fdpass_sets_close(s, d), 0);
        cr_assert(!fd_is_open(d));
        cr_assert_eq(fdpass_sets_find_dup(s, d), -ENOENT);
    }
    cr_assert_eq(fdpass_sets_count(s), 1, "members keep the set");
    fdpass_sets_free(s);
    remove_dir(f.dir);
}

Test(open, non_matching_access_modes)
{
    FdPassSets *s = sets_new();
    Files f;

    files_open(&f);
    add(s, 0, f.rd, "rd");
    expect_no_match(s, "/dev/fdset/0", O_WRONLY);
    expect_no_match(s, "/dev/fdset/0", O_RDWR);
    expect_no_match(s, "/dev/fdset/0", O_RDWR | O_CREAT);
    add(s, 1, f.rw, "rw");
    expect_no_match(s, "/dev/fdset/1", O_RDONLY);
    expect_no_match(s, "/dev/fdset/1", O_WRONLY);
    add(s, 2, f.wr, "wr");
    expect_no_match(s, "/dev/fdset/2", O_RDONLY);
    expect_no_match(s, "/dev/fdset/2", O_RDWR);
    cr_assert_eq(fdpass_sets_count(s), 3);
    fdpass_sets_free(s);
    remove_dir(f.dir);
}

Test(open, o_direct_must_match)
{
    FdPassSets *s = sets_new();
    int plain[2], direct[2];

    /* Pipes take O_DIRECT (packet mode) on every filesystem. */
    cr_assert_eq(pipe2(plain, O_CLOEXEC), 0);
    cr_assert_eq(pipe2(direct, O_CLOEXEC | O_DIRECT), 0);
    cr_assert_eq(fcntl(direct[1], F_GETFL) & O_DIRECT, O_DIRECT);
    /* pipe2() marks only the write end; fcntl() may mark a pipe's read end. */
    cr_assert_eq(fcntl(direct[0], F_SETFL, O_DIRECT), 0);
    cr_assert_eq(fcntl(direct[0], F_GETFL) & O_DIRECT, O_DIRECT);

    add(s, 0, direct[1], "direct");
    expect_no_match(s, "/dev/fdset/0", O_WRONLY);
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_WRONLY | O_DIRECT, NULL);
    cr_assert_geq(d, 0);
    cr_assert(same_file(d, direct[1]));
    cr_assert_eq(fdpass_sets_close(s, d), 0);

    add(s, 1, plain[1], "plain");
    expect_no_match(s, "/dev/fdset/1", O_WRONLY | O_DIRECT);
    /* Both kinds in one set: each open gets its own. */
    add(s, 1, direct[0], "direct-read");
    d = fdpass_sets_open(s, "/dev/fdset/1", O_WRONLY, NULL);
    cr_assert(same_file(d, plain[1]));
    cr_assert_eq(fcntl(d, F_GETFL) & O_DIRECT, 0);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    d = fdpass_sets_open(s, "/dev/fdset/1", O_RDONLY | O_DIRECT, NULL);
    cr_assert(same_file(d, direct[0]));
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    expect_no_match(s, "/dev/fdset/1", O_RDONLY);

    fdpass_sets_free(s);
    close(plain[0]);
    close(direct[1]);
}

Test(open, newest_matching_member_wins)
{
    FdPassSets *s = sets_new();
    int a = make_memfd(), b = make_memfd(), c = open_devnull(O_WRONLY);

    add(s, 0, a, "a");
    add(s, 0, b, "b");
    add(s, 0, c, "c");
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_RDWR, NULL);
    cr_assert(same_file(d, b), "QEMU scans members newest first");
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    cr_assert_eq(fdpass_sets_remove_fd(s, 0, true, b, NULL), 0);
    d = fdpass_sets_open(s, "/dev/fdset/0", O_RDWR, NULL);
    cr_assert(same_file(d, a));
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    fdpass_sets_free(s);
}

Test(open, path_errors)
{
    FdPassSets *s = sets_new();
    FdPassError err;
    static const char *const unparsable[] = {
        "/dev/fdset/", "/dev/fdset/abc", "/dev/fdset/-1", "/dev/fdset/1x",
        "/dev/fdset/2147483648", "/dev/fdset/99999999999999999999", "/dev/fdset/1 ",
    };

    add(s, 0, open_devnull(O_RDONLY), NULL);
    add(s, 1, open_devnull(O_RDONLY), NULL);
    for (size_t i = 0; i < sizeof(unparsable) / sizeof(unparsable[0]); i++) {
        char want[128];

        snprintf(want, sizeof(want), "Could not parse fdset %s", unparsable[i]);
        cr_assert_eq(fdpass_sets_open(s, unparsable[i], O_RDONLY, &err), -EINVAL, "%s",
                     unparsable[i]);
        expect_error(&err, -EINVAL, want);
    }
    /* strtol() rules, as QEMU: leading blanks and a sign are accepted. */
    int d = fdpass_sets_open(s, "/dev/fdset/ +1", O_RDONLY, &err);
    cr_assert_geq(d, 0, "%s", err.msg);
    cr_assert_eq(fdpass_sets_find_dup(s, d), 1);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    d = fdpass_sets_open(s, "/dev/fdset/00", O_RDONLY, &err);
    cr_assert_eq(fdpass_sets_find_dup(s, d), 0);
    cr_assert_eq(fdpass_sets_close(s, d), 0);

    cr_assert_eq(fdpass_sets_open(s, "/dev/fdset/7", O_RDONLY, &err), -ENOENT);
    expect_error(&err, -ENOENT, "Failed to find fdset /dev/fdset/7");
    cr_assert_eq(fdpass_sets_open(s, "/dev/fdset/2147483647", O_RDONLY, &err), -ENOENT);
    expect_error(&err, -ENOENT, "Failed to find fdset /dev/fdset/2147483647");
    cr_assert_eq(fdpass_sets_open(s, "/tmp/disk", O_RDONLY, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Path '/tmp/disk' does not name an fd set");
    cr_assert_eq(fdpass_sets_open(s, "/dev/fdset", O_RDONLY, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Path '/dev/fdset' does not name an fd set");
    cr_assert_eq(fdpass_sets_open(s, NULL, O_RDONLY, &err), -EINVAL);
    cr_assert_eq(fdpass_sets_open(NULL, "/dev/fdset/0", O_RDONLY, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Invalid argument");
    fdpass_sets_free(s);
}

Test(open, dup_gets_open_flags)
{
    FdPassSets *s = sets_new();
    FdPassError err;
    Files f;
    struct stat st;

    files_open(&f);
    add(s, 0, f.rw, "rw");
    close(f.rd);
    close(f.wr);

    /* O_SYNC cannot be set after open(): refused, as QEMU does. */
    cr_assert_eq(fdpass_sets_open(s, "/dev/fdset/0", O_RDWR | O_SYNC, &err), -EINVAL);
    char want[96];
    snprintf(want, sizeof(want), "Failed to dup() given file descriptor fd=%d", f.rw);
    expect_error(&err, -EINVAL, want);
    cr_assert_eq(fdpass_sets_count(s), 1);

    /* Status flags are applied (to the shared open file description). */
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_RDWR | O_NONBLOCK | O_APPEND, &err);
    cr_assert_geq(d, 0, "%s", err.msg);
    cr_assert_eq(fcntl(d, F_GETFL) & (O_NONBLOCK | O_APPEND), O_NONBLOCK | O_APPEND);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    d = fdpass_sets_open(s, "/dev/fdset/0", O_RDWR, &err);
    cr_assert_eq(fcntl(d, F_GETFL) & (O_NONBLOCK | O_APPEND), 0);
    cr_assert_eq(fstat(d, &st), 0);
    cr_assert_eq(st.st_size, 10);
    cr_assert_eq(fdpass_sets_close(s, d), 0);

    /* O_TRUNC truncates, as open() would. */
    d = fdpass_sets_open(s, "/dev/fdset/0", O_RDWR | O_TRUNC, &err);
    cr_assert_geq(d, 0);
    cr_assert_eq(fstat(d, &st), 0);
    cr_assert_eq(st.st_size, 0);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    fdpass_sets_free(s);
    remove_dir(f.dir);
}

Test(open, member_that_is_no_longer_open)
{
    FdPassSets *s = sets_new();
    FdPassError err;
    int fd = open_devnull(O_RDONLY);
    char want[96];

    add(s, 0, fd, NULL);
    close(fd); /* a caller bug: the store still lists it */
    cr_assert_eq(fdpass_sets_open(s, "/dev/fdset/0", O_RDONLY, &err), -EBADF);
    snprintf(want, sizeof(want), "Failed to read file status flags for fd=%d", fd);
    expect_error(&err, -EBADF, want);
    cr_assert_eq(fdpass_sets_remove_fd(s, 0, true, fd, NULL), 0);
    fdpass_sets_free(s);
}

/* ------------------------------------------------------------------------ */
/* Dup tracking and freeing                                                  */

Test(dups, set_outlives_its_members_while_dups_are_open)
{
    FdPassSets *s = sets_new();
    int before = count_open_fds();
    int fd = make_memfd();
    char c = 'z';

    add(s, 3, fd, "only");
    int d1 = fdpass_sets_open(s, "/dev/fdset/3", O_RDWR, NULL);
    int d2 = fdpass_sets_open(s, "/dev/fdset/3", O_RDWR, NULL);
    cr_assert(d1 >= 0 && d2 >= 0 && d1 != d2);

    cr_assert_eq(fdpass_sets_remove_fd(s, 3, true, fd, NULL), 0);
    cr_assert(!fd_is_open(fd), "remove-fd closes the member now, dups or not");
    cr_assert(fd_is_open(d1) && fd_is_open(d2), "dups are independent");
    cr_assert_eq(pwrite(d1, &c, 1, 0), 1);

    Query q = query(s);
    cr_assert_eq(q.n, 1, "the set stays while dups are open");
    check_set(&q.sets[0], 3, 0, NULL);
    cr_assert_eq(fdpass_sets_find_dup(s, d1), 3);

    /* Without members there is nothing to open, and the id is taken. */
    expect_no_match(s, "/dev/fdset/3", O_RDWR);
    cr_assert_eq(fdpass_sets_remove_fd(s, 3, false, 0, NULL), 0, "remove without fd is fine");
    cr_assert_eq(fdpass_sets_count(s), 1);

    cr_assert_eq(fdpass_sets_close(s, d1), 0);
    cr_assert_eq(fdpass_sets_count(s), 1);
    cr_assert_eq(fdpass_sets_close(s, d2), 0);
    cr_assert_eq(fdpass_sets_count(s), 0, "freed with its last dup");
    cr_assert_eq(fdpass_sets_close(s, d2), -ENOENT);
    cr_assert_eq(count_open_fds(), before);
    fdpass_sets_free(s);
}

Test(dups, members_keep_the_set_after_dups_close)
{
    FdPassSets *s = sets_new();
    int fd = open_devnull(O_RDONLY);

    add(s, 0, fd, NULL);
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_RDONLY, NULL);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    cr_assert_eq(fdpass_sets_count(s), 1);
    cr_assert(fd_is_open(fd));
    fdpass_sets_free(s);
    cr_assert(!fd_is_open(fd));
}

Test(dups, close_of_a_foreign_fd)
{
    FdPassSets *s = sets_new();
    int fd = open_devnull(O_RDONLY), other = open_devnull(O_RDONLY);

    add(s, 0, fd, NULL);
    cr_assert_eq(fdpass_sets_close(s, other), -ENOENT);
    cr_assert(fd_is_open(other), "left open");
    cr_assert_eq(fdpass_sets_close(s, fd), -ENOENT, "a member is not a dup");
    cr_assert(fd_is_open(fd));
    cr_assert_eq(fdpass_sets_find_dup(s, fd), -ENOENT);
    cr_assert_eq(fdpass_sets_close(NULL, fd), -EINVAL);
    cr_assert_eq(fdpass_sets_find_dup(NULL, fd), -EINVAL);
    close(other);
    fdpass_sets_free(s);
}

Test(dups, free_leaves_dups_to_their_users)
{
    FdPassSets *s = sets_new();
    int fd = open_devnull(O_RDONLY);

    add(s, 0, fd, NULL);
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_RDONLY, NULL);
    fdpass_sets_free(s);
    cr_assert(!fd_is_open(fd));
    cr_assert(fd_is_open(d));
    close(d);
}

/* ------------------------------------------------------------------------ */
/* Monitor attach / detach                                                   */

Test(monitors, detach_keeps_members_by_default)
{
    FdPassSets *s = sets_new();
    int a = open_devnull(O_RDONLY), b = open_devnull(O_RDONLY);

    fdpass_sets_monitor_attached(s);
    add(s, 0, a, NULL);
    add(s, 1, b, NULL);
    int d = fdpass_sets_open(s, "/dev/fdset/1", O_RDONLY, NULL);
    fdpass_sets_monitor_detached(s);
    fdpass_sets_monitor_detached(s); /* unbalanced: ignored */
    cr_assert_eq(fdpass_sets_count(s), 2, "QEMU >= 9.1 leaves sets to the client");
    cr_assert(fd_is_open(a) && fd_is_open(b));
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    cr_assert_eq(fdpass_sets_count(s), 2);
    fdpass_sets_free(s);
}

Test(monitors, legacy_cleanup_on_last_detach)
{
    FdPassSets *s = sets_new();
    int before = count_open_fds();
    int a = open_devnull(O_RDONLY), b = open_devnull(O_RDONLY), c = open_devnull(O_RDONLY);

    fdpass_sets_set_legacy_cleanup(s, true);
    fdpass_sets_monitor_attached(s);
    fdpass_sets_monitor_attached(s);
    add(s, 0, a, NULL);
    add(s, 1, b, NULL);
    add(s, 1, c, NULL);
    int d = fdpass_sets_open(s, "/dev/fdset/1", O_RDONLY, NULL);

    fdpass_sets_monitor_detached(s);
    cr_assert_eq(fdpass_sets_count(s), 2, "one monitor is still attached");
    cr_assert(fd_is_open(a));

    fdpass_sets_monitor_detached(s);
    cr_assert(!fd_is_open(a), "last detach closes sets without dups");
    cr_assert(fd_is_open(b) && fd_is_open(c), "a set with an open dup is kept");
    Query q = query(s);
    cr_assert_eq(q.n, 1);
    cr_assert_eq(q.sets[0].id, 1);

    /* Closing the last dup while no monitor is attached finishes the job. */
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    cr_assert(!fd_is_open(b) && !fd_is_open(c));
    cr_assert_eq(fdpass_sets_count(s), 0);
    cr_assert_eq(count_open_fds(), before);
    fdpass_sets_free(s);
}

Test(monitors, legacy_cleanup_needs_no_monitor_attached)
{
    FdPassSets *s = sets_new();
    int a = open_devnull(O_RDONLY);

    fdpass_sets_set_legacy_cleanup(s, true);
    fdpass_sets_monitor_attached(s);
    add(s, 0, a, NULL);
    int d = fdpass_sets_open(s, "/dev/fdset/0", O_RDONLY, NULL);
    cr_assert_eq(fdpass_sets_close(s, d), 0);
    cr_assert(fd_is_open(a), "a monitor is attached: members stay");
    fdpass_sets_set_legacy_cleanup(s, false);
    fdpass_sets_monitor_detached(s);
    cr_assert(fd_is_open(a), "policy switched back before the detach");
    fdpass_sets_set_legacy_cleanup(NULL, true);
    fdpass_sets_monitor_attached(NULL);
    fdpass_sets_monitor_detached(NULL);
    fdpass_sets_free(s);
}
