/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fdpass tests. */
#ifndef FDPASS_TEST_HELPERS_H
#define FDPASS_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Number of descriptors open in this process (/proc/self/fd). */
int count_open_fds(void);

/* Opens /dev/null with @flags; fails the test on error. */
int open_devnull(int flags);

/* Fills @fds with @n fresh descriptors of /dev/null. */
void open_devnulls(int *fds, size_t n);

/* Whether @a and @b refer to the same file (device and inode). */
bool same_file(int a, int b);

/* A connected AF_UNIX pair of @type (SOCK_STREAM / SOCK_SEQPACKET), cloexec. */
void make_socketpair(int type, int sv[2]);

/* Whether @fd is open. */
bool fd_is_open(int fd);

/*
 * Waits (bounded, polling /proc every millisecond for up to 10 s) until the
 * thread @tid sleeps in the kernel. Returns false on timeout.
 */
bool wait_thread_sleeping(pid_t tid);

/* A temporary directory (mkdtemp under $TMPDIR or /tmp) in @buf. */
void make_tempdir(char *buf, size_t size);

/* Creates @dir/@name with @content and returns its path in @buf. */
void make_file(char *buf, size_t size, const char *dir, const char *name, const char *content);



/* Removes the files in @dir (not recursive), then @dir. */
void remove_dir(const char *dir);

/* A fresh memfd (each has its own inode, unlike /dev/null). */
int make_memfd(void);
#endif
