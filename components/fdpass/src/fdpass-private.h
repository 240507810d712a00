/* SPDX-License-Identifier: MIT */
/* Helpers shared by the fdpass sources; not installed. */
#ifndef FDPASS_PRIVATE_H
#define FDPASS_PRIVATE_H

#include <stddef.h>

#include "fdpass/fdpass.h"

/*
 * Fills @err (if not NULL) with @code and the formatted message, and returns
 * @code, so that error paths read "return fdpass_error(err, -ENOENT, ...)".
 */
int fdpass_error(FdPassError *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Makes room for at least @need elements of @elem bytes in *@arr, whose
 * capacity is *@cap elements. Returns 0 or -ENOMEM (then nothing changed).
 */
int fdpass_reserve(void **arr, size_t *cap, size_t need, size_t elem);

/* Closes @fd keeping errno, ignoring the result (EINTR still closes it). */
void fdpass_close_quiet(int fd);

/*
 * Waits (without a time limit) until @fd reports one of @events or an error
 * condition; EINTR is retried. Returns 0 or a negative errno of poll().
 */
int fdpass_wait(int fd, short events);

#endif /* FDPASS_PRIVATE_H */
