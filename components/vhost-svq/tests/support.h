/* SPDX-License-Identifier: MIT */
/*
 * Helpers the tests and the benchmarks share (no test framework; functions
 * return 0 or a negative errno): child processes that cannot outlive the
 * process that started them, temporary directories, image files,
 * qemu-storage-daemon, and a small random number generator.
 */
#ifndef VHOST_SVQ_TESTS_SUPPORT_H
#define VHOST_SVQ_TESTS_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhost-svq/vhost-user.h"

/*
 * Starts @argv[0] (a path) with @argv; stdin, stdout and stderr are
 * inherited. The child gets SIGKILL as soon as the calling thread ends
 * (PR_SET_PDEATHSIG, set between fork and exec, and checked against a
 * parent that is already gone), so it cannot outlive the caller however
 * the caller ends: exit, crash, SIGKILL. A failed exec is reported here.
 * Returns 0 with *@ret_pid set, or a negative errno (fork, exec).
 */
int ts_spawn(char *const argv[], pid_t *ret_pid);

/*
 * Waits up to @timeout_ms (< 0: for ever) for the child @pid to end. On
 * timeout the child is killed with SIGKILL and reaped, and -ETIMEDOUT is
 * returned. Returns 0 with the wait status in *@ret_status (may be NULL),
 * or a negative errno (no such child).
 */
int ts_reap(pid_t pid, int timeout_ms, int *ret_status);

/*
 * Stops @pid for certain: sends SIGSTOP and waits until the child is
 * stopped (waitpid WUNTRACED), so that it runs no further instruction
 * before SIGCONT. Returns 0 or a negative errno.
 */
int ts_freeze(pid_t pid);

/*
 * A new directory @base/@prefix-PID-XXXXXX (PID: the caller's); returns it
 * (g_free() it) or NULL with errno set. Directories of the same @prefix whose
 * process is gone (a test that crashed) are removed first.
 */
char *ts_mkdtemp(const char *base, const char *prefix);

/* Removes @dir and everything below it (symbolic links are not followed). */
void ts_rmtree(const char *dir);

/* Creates (or truncates) @path with @bytes bytes: sparse zeroes, or, with
 * @seed non-zero, random data from ts_rand(). */
int ts_make_image(const char *path, uint64_t bytes, uint64_t seed);

/* The qemu-storage-daemon to test against: $VHU_QSD when executable, else
 * /usr/bin/qemu-storage-daemon when installed, else NULL. */
const char *ts_qsd_path(void);

/*
 * Starts qemu-storage-daemon (ts_spawn()) exporting @image read-write as a
 * one-queue vhost-user-blk device on the unix socket @sock (the daemon
 * creates it when it is ready: connect in client mode with retries).
 * Returns 0 with *@ret_pid, -ENOENT if there is no qemu-storage-daemon, or
 * an error of ts_spawn().
 */
int ts_qsd_spawn(const char *image, const char *sock, pid_t *ret_pid);

/* A front-end named @name in @mode on @path with the default options but
 * @reply_timeout_ms and @queue_size (0: the defaults); NULL with @errp set
 * on error. */
VhuDev *ts_dev_new(VhuMode mode, const char *path, const char *name, unsigned reply_timeout_ms,
                   unsigned queue_size, GError **errp);

/* splitmix64: the next value of the sequence in *@state. */
uint64_t ts_rand(uint64_t *state);

#endif /* VHOST_SVQ_TESTS_SUPPORT_H */
