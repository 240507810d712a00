/* SPDX-License-Identifier: MIT */
/*
 * What the two benchmark programs share: fatal errors, time and medians,
 * processes and files that never outlive the program (children get SIGKILL
 * when it ends, however it ends; its files in /dev/shm are removed at exit
 * and on SIGINT/SIGTERM/SIGHUP), qemu-storage-daemon on an image in
 * /dev/shm, and the 4 KiB random-read loop of a guest.
 */
#ifndef VHOST_SVQ_BENCH_COMMON_H
#define VHOST_SVQ_BENCH_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"
#include "vhost-svq/vhost-user.h"

#define BENCH_RUNS 7

/* Names the program in error messages; installs the exit-time cleanup. */
void bench_init(const char *prog);
G_GNUC_NORETURN void bench_die(const char *what, const char *why);
G_GNUC_NORETURN void bench_die_err(const char *what, const GError *err);
int64_t bench_now_ns(void);
/* Sorts @v. */
double bench_median(double *v, unsigned n);

/* Starts @argv (support.h: ts_spawn()); dies on failure. */
pid_t bench_spawn(char *const argv[]);
/* Sends @sig to @pid and reaps it. */
void bench_stop(pid_t pid, int sig);

/* A new directory in /dev/shm, removed with its files at exit. */
char *bench_dir(void);
/* @dir/@name, removed at exit (a file the program or its children
 * create); g_free() it. */
char *bench_path(const char *dir, const char *name);
/* @dir/disk.raw with @blocks blocks of random data. */
char *bench_image(const char *dir, unsigned blocks);
/* Removes what bench_dir() and bench_path() registered, now. */
void bench_cleanup(void);

/* qemu-storage-daemon exporting bench_image() of @blocks blocks. */
typedef struct BenchQsd {
    char *dir;
    char *image;
    char *sock;
    unsigned blocks;
    pid_t pid;
} BenchQsd;

/* False when qemu-storage-daemon is not installed. */
bool bench_qsd_start(BenchQsd *q, unsigned blocks);
void bench_qsd_stop(BenchQsd *q);

/* A front-end ("bench") in @mode on @path, opened. */
VhuDev *bench_dev(VhuMode mode, const char *path, unsigned queue_size);
/* A guest of @nslots slots whose features and memory table are set on
 * @dev (ring not started). */
TGuest *bench_guest(VhuDev *dev, unsigned qsize, unsigned nslots);

/* How the random-read loop reaches the device. */
typedef struct BenchIo {
    TGuest *g;
    unsigned blocks;          /* reads pick a block below this */
    /* After adding chains: notify the device if the driver's rules ask. */
    void (*kick)(struct BenchIo *io);
    /* Nothing to collect: block until something may have completed. */
    void (*wait)(struct BenchIo *io);
    /* Whether collecting reads the guest's call eventfd first (false when
     * the device notifies the guest without it). */
    bool read_call_fd;
    void *opaque;
} BenchIo;

/* @count random 4 KiB reads with @depth in flight (slots 0..depth-1; the
 * token is the slot); every status checked. Returns IOPS. */
double bench_random_reads(BenchIo *io, unsigned depth, unsigned count, uint64_t *seed);
/* Takes the used entries (token = slot) into @free_slots; returns their
 * number. */
unsigned bench_collect(BenchIo *io, unsigned *free_slots, unsigned *nfree);
/* io->kick for a guest whose device watches its kick eventfd. */
void bench_kick_eventfd(BenchIo *io);
/* io->wait for a device that writes the guest's call eventfd. */
void bench_wait_call_fd(BenchIo *io);

#endif /* VHOST_SVQ_BENCH_COMMON_H */
