/* SPDX-License-Identifier: MIT */
/* Shared by the fdpass fuzz targets: input reader, descriptor counting. */
#ifndef FDPASS_FUZZ_UTIL_H
#define FDPASS_FUZZ_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reads the fuzz input a byte at a time; zeroes once it is used up. */
typedef struct FuzzIn {
    const uint8_t *p;
    size_t left;
} FuzzIn;

static inline uint8_t fuzz_u8(FuzzIn *in)
{
    if (in->left == 0) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

static inline int fuzz_done(const FuzzIn *in)
{
    return in->left == 0;
}

/*
 * Number of open descriptors, from /proc/self/fd. The directory stays open
 * between calls (it is counted too, consistently).
 */
static inline int fuzz_count_fds(void)
{
    static int dirfd = -1;
    char buf[4096];
    int n = 0;

    if (dirfd < 0) {
        dirfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            abort();
        }
    }
    if (lseek(dirfd, 0, SEEK_SET) < 0) {
        abort();
    }
    for (;;) {
        long got = syscall(SYS_getdents64, dirfd, buf, sizeof(buf));

        if (got < 0) {
            abort();
        }
        if (got == 0) {
            break;
        }
        for (long off = 0; off < got;) {
            /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name */
            uint16_t reclen;
            const char *name = buf + off + 19;

            __builtin_memcpy(&reclen, buf + off + 16, sizeof(reclen));
            if (name[0] != '.') {
                n++;
            }
            off += reclen;
        }
    }
    return n;
}

/* Stops the fuzzer with a crash the engine records, saying what failed. */
#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
