/* SPDX-License-Identifier: MIT */
/* Named fds: QMP getfd / closefd and monitor_get_fd(). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "helpers.h"

static FdPassNamed *named_new(void)
{
    FdPassNamed *s = NULL;

    cr_assert_eq(fdpass_named_new(&s), 0);
    cr_assert_not_null(s);
    return s;
}

static void expect_error(const FdPassError *err, int code, const char *msg)
{
    cr_assert_eq(err->code, code, "code %d, wanted %d", err->code, code);
    cr_assert_str_eq(err->msg, msg);
}

Test(named, getfd_closefd)
{
    FdPassNamed *s = named_new();
    FdPassError err = { 0 };
    int before = count_open_fds();
    int fd = open_devnull(O_RDONLY);

    cr_assert_eq(fdpass_named_getfd(s, "image0:r", fd, &err), 0);
    cr_assert_eq(fdpass_named_count(s), 1);
    cr_assert(fd_is_open(fd), "the store keeps the descriptor open");
    cr_assert_eq(fdpass_named_closefd(s, "image0:r", &err), 0);
    cr_assert_eq(fdpass_named_count(s), 0);
    cr_assert(!fd_is_open(fd), "closefd closes");
    cr_assert_eq(count_open_fds(), before);
    fdpass_named_free(s);
}

Test(named, getfd_replaces_and_closes_old)
{
    FdPassNamed *s = named_new();
    int a = open_devnull(O_RDONLY), b = open_devnull(O_WRONLY);

    cr_assert_eq(fdpass_named_getfd(s, "disk", a, NULL), 0);
    cr_assert_eq(fdpass_named_getfd(s, "disk", b, NULL), 0);
    cr_assert_eq(fdpass_named_count(s), 1);
    cr_assert(!fd_is_open(a), "the replaced descriptor is closed");
    cr_assert_eq(fdpass_named_take(s, "disk", NULL), b);
    cr_assert_eq(fdpass_named_count(s), 0);
    close(b);
    fdpass_named_free(s);
}

Test(named, getfd_same_fd_twice_keeps_it_open)
{
    FdPassNamed *s = named_new();
    int a = open_devnull(O_RDONLY);

    cr_assert_eq(fdpass_named_getfd(s, "x", a, NULL), 0);
    cr_assert_eq(fdpass_named_getfd(s, "x", a, NULL), 0);
    cr_assert(fd_is_open(a));
    fdpass_named_free(s);
    cr_assert(!fd_is_open(a), "free closes what the store holds");
}

Test(named, getfd_errors)
{
    FdPassNamed *s = named_new();
    FdPassError err = { 0 };
    int fd;

    cr_assert_eq(fdpass_named_getfd(s, "image0:r", -1, &err), -EBADF);
    expect_error(&err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");

    fd = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_named_getfd(s, "0image0:r", fd, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Parameter 'fdname' expects a name not starting with a digit");
    cr_assert(!fd_is_open(fd), "the fd of a refused getfd is closed");

    for (char c = '0'; c <= '9'; c++) {
        char name[3] = { c, 'x', 0 };

        fd = open_devnull(O_RDONLY);
        cr_assert_eq(fdpass_named_getfd(s, name, fd, NULL), -EINVAL, "name %s", name);
        cr_assert(!fd_is_open(fd));
    }

    fd = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_named_getfd(s, NULL, fd, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Parameter 'fdname' is missing");
    cr_assert(!fd_is_open(fd));

    /* No fd and a bad name: the fd is checked first, as in QEMU. */
    cr_assert_eq(fdpass_named_getfd(s, "0bad", -1, &err), -EBADF);
    expect_error(&err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");

    fd = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_named_getfd(NULL, "x", fd, &err), -EINVAL);
    expect_error(&err, -EINVAL, "Invalid argument");
    cr_assert(!fd_is_open(fd));

    cr_assert_eq(fdpass_named_count(s), 0);
    fdpass_named_free(s);
}

Test(named, names_that_are_accepted)
{
    FdPassNamed *s = named_new();
    const char *names[] = { "", "a", "_0", " 1", "image0:r", "\xc3\xa9t\xc3\xa9" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cr_assert_eq(fdpass_named_getfd(s, names[i], open_devnull(O_RDONLY), NULL), 0,
                     "name '%s'", names[i]);
    }
    cr_assert_eq(fdpass_named_count(s), sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        cr_assert_eq(fdpass_named_closefd(s, names[i], NULL), 0, "name '%s'", names[i]);
    }
    cr_assert_eq(fdpass_named_count(s), 0);
    fdpass_named_free(s);
}

Test(named, closefd_take_not_found)
{
    FdPassNamed *s = named_new();
    FdPassError err = { 0 };

    cr_assert_eq(fdpass_named_closefd(s, "image0:r", &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 'image0:r' not found");
    cr_assert_eq(fdpass_named_take(s, "image0:r", &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 'image0:r' has not been found");

    /* A taken fd is gone from the store. */
    int fd = open_devnull(O_RDONLY);
    cr_assert_eq(fdpass_named_getfd(s, "t", fd, NULL), 0);
    cr_assert_eq(fdpass_named_take(s, "t", &err), fd);
    cr_assert(fd_is_open(fd), "take hands the fd over open");
    cr_assert_eq(fdpass_named_closefd(s, "t", &err), -ENOENT);
    expect_error(&err, -ENOENT, "File descriptor named 't' not found");
    close(fd);

    cr_assert_eq(fdpass_named_closefd(NULL, "x", &err), -EINVAL);
    expect_error(&err, -EINVAL, "Invalid argument");
    cr_assert_eq(fdpass_named_closefd(s, NULL, &err), -EINVAL);
    cr_assert_eq(fdpass_named_take(NULL, "x", &err), -EINVAL);
    cr_assert_eq(fdpass_named_take(s, NULL, NULL), -EINVAL);
    fdpass_named_free(s);
}

Test(named, success_leaves_err_untouched)
{
    FdPassNamed *s = named_new();
    FdPassError err = { .code = 1234, .msg = "unchanged" };

    cr_assert_eq(fdpass_named_getfd(s, "a", open_devnull(O_RDONLY), &err), 0);
    cr_assert_eq(fdpass_named_closefd(s, "a", &err), 0);
    cr_assert_eq(err.code, 1234);
    cr_assert_str_eq(err.msg, "unchanged");
    fdpass_named_free(s);
}

Test(named, long_name_message_is_cut_and_terminated)
{
    FdPassNamed *s = named_new();
    FdPassError err;
    char name[1000];

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    cr_assert_eq(fdpass_named_closefd(s, name, &err), -ENOENT);
    cr_assert_eq(strlen(err.msg), sizeof(err.msg) - 1);
    cr_assert(strncmp(err.msg, "File descriptor named 'nnn", 26) == 0);
    fdpass_named_free(s);
}

Test(named, many_and_free)
{
    FdPassNamed *s = named_new();
    int before = count_open_fds();
    char name[16];

    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof(name), "fd%d", i);
        cr_assert_eq(fdpass_named_getfd(s, name, open_devnull(O_RDONLY), NULL), 0);
    }
    cr_assert_eq(fdpass_named_count(s), 200);
    cr_assert_eq(fdpass_named_closefd(s, "fd100", NULL), 0);
    cr_assert_eq(fdpass_named_count(s), 199);
    fdpass_named_free(s);
    cr_assert_eq(count_open_fds(), before);
    fdpass_named_free(NULL);
    cr_assert_eq(fdpass_named_count(NULL), 0);
    cr_assert_eq(fdpass_named_new(NULL), -EINVAL);
}
