/* SPDX-License-Identifier: MIT */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    cr_assert_not_null(d, "opendir /proc/self/fd: %s", strerror(errno));
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int open_devnull(int flags)
{
    int fd = open("/dev/null", flags | O_CLOEXEC);

    cr_assert_geq(fd, 0, "open /dev/null: %s", strerror(errno));
    return fd;
}

void open_devnulls(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fds[i] = open_devnull(O_RDWR);
    }
}

bool same_file(int a, int b)
{
    struct stat sa, sb;

    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0) {
        return false;
    }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void make_socketpair(int type, int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0, "socketpair: %s",
                 strerror(errno));
}

bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

bool wait_thread_sleeping(pid_t tid)
{
    char path[64], buf[512];

    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    for (int i = 0; i < 10000; i++) {
        FILE *f = fopen(path, "r");
        char *p;
        size_t n;

        if (!f) {
            return false;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* "tid (comm) S ...": the state follows the last ')'. */
        p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'S') {
            return true;
        }
        poll(NULL, 0, 1);
    }
    return false;
}

void make_tempdir(char *buf, size_t size)
{
    const char *base = getenv("TMPDIR");

    snprintf(buf, size, "%s/fdpass-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert_not_null(mkdtemp(buf), "mkdtemp: %s", strerror(errno));
}

void make_file(char *buf, size_t size, const char *dir, const char *name, const char *content)
{
    int fd;

    snprintf(buf, size, "%s/%s", dir, name);
    fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0, "create %s: %s", buf, strerror(errno));
    cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    rmdir(dir);
}

int make_memfd(void)
{
    int fd = memfd_create("fdpass-test", MFD_CLOEXEC);

    cr_assert_geq(fd, 0, "memfd_create: %s", strerror(errno));
    return fd;
}
