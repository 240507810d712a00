/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fdpass-private.h"

int fdpass_error(FdPassError *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;

        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

int fdpass_reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    size_t ncap;
    void *p;

    if (need <= *cap) {
        return 0;
    }
    ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            return -ENOMEM;
        }
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem) {
        return -ENOMEM;
    }
    p = realloc(*arr, ncap * elem);
    if (!p) {
        return -ENOMEM;
    }
    *arr = p;
    *cap = ncap;
    return 0;
}

void fdpass_close_quiet(int fd)
{
    int saved = errno;

    if (fd >= 0) {
        /* On Linux the descriptor is released even when close() says EINTR. */
        (void)close(fd);
    }
    errno = saved;
}

int fdpass_wait(int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    for (;;) {
        int n = poll(&pfd, 1, -1);

        if (n > 0) {
            /* Errors and hang-ups are reported by the next send/recv. */
            return (pfd.revents & POLLNVAL) ? -EBADF : 0;
        }
        if (n < 0 && errno != EINTR) {
            return -errno;
        }
    }
}

void fdpass_close_all(int *fds, size_t n)
{
    if (!fds) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            fdpass_close_quiet(fds[i]);
            fds[i] = -1;
        }
    }
}
