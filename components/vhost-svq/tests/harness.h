/* SPDX-License-Identifier: MIT */
/*
 * Test support for vhost-svq: a guest (RAM in memfds, a virtio-queue driver
 * on the guest ring, kick/call eventfds), back-end processes, and a
 * virtio-blk workload that writes and reads back 4 KiB blocks of random data
 * and checks every one.
 *
 * The workload reaches the back-end through a TPath: the direct path hands
 * the guest ring and the guest's eventfds to the front-end; the shadow
 * virtqueue adds paths of its own (on, off, toggled) with the same
 * workload.
 */
#ifndef VHOST_SVQ_TESTS_HARNESS_H
#define VHOST_SVQ_TESTS_HARNESS_H

#include <criterion/criterion.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "guest.h"
#include "vhost-svq/vhost-user.h"
#include "virtio-queue/virtio-queue.h"
#include "vm-memory/vm-memory.h"

/* ------------------------------------------------------------------------ */
/* Guest (guest.h), with the test failing on errors                          */

/* A guest with @nslots request slots and a ring of @qsize entries. */
TGuest *tg_new(uint32_t qsize, unsigned nslots);
/* (Re)initialises the guest ring with @features (zeroes it). */
void tg_ring_configure(TGuest *g, uint64_t features);
/* The guest ring as a front-end ring config with @base. */
VhuVringConfig tg_vring_config(TGuest *g, uint32_t base);

/* ------------------------------------------------------------------------ */
/* Processes, files, resources                                               */

/*
 * Every process started with t_spawn() is SIGKILLed when the test process
 * ends, however it ends (support.h: ts_spawn()), and t_cleanup() kills and
 * reaps what the test left running and removes the directories of
 * t_tmpdir(): it is the .fini of every suite that starts processes
 * (TestSuite(name, .fini = t_cleanup)), and criterion runs it after a
 * failed assertion too.
 */
void t_cleanup(void);

const char *t_backend_path(void); /* VHU_TEST_BACKEND */
const char *t_qsd_path(void);     /* VHU_QSD, or NULL when absent */
/* Spawns @argv (NULL-terminated); fails the test on error. */
pid_t t_spawn(char *const argv[]);
/* Waits up to @timeout_ms for @pid; returns its wait status, or -1 after
 * killing it with SIGKILL on timeout. */
int t_reap(pid_t pid, int timeout_ms);
/* SIGKILL and reap (nothing for @pid <= 0). */
void t_kill(pid_t pid);
/* Stops @pid and returns once it is stopped (SIGCONT resumes it). */
void t_freeze(pid_t pid);
/* A fresh directory (removed with t_rmtree, or by t_cleanup), and a file
 * of @size bytes in it. */
char *t_tmpdir(void);
void t_rmtree(char *dir);
char *t_make_image(const char *dir, uint64_t size);
int t_count_fds(void);
size_t t_heap_in_use(void);
uint64_t t_rand(uint64_t *state);

/* Spawns the test back-end with @extra arguments appended (NULL-terminated
 * list of strings; NULL for none). */
pid_t t_spawn_backendv(const char *socket, const char *image, bool client,
                       const char *const *extra);
/* The same with the extra arguments as a NULL-terminated argument list. */
pid_t t_spawn_backend(const char *socket, const char *image, int client, ...)
    __attribute__((sentinel));

/* qemu-storage-daemon exporting a fresh image as vhost-user-blk. */
typedef struct TQsd {
    char *dir;
    char *sock;
    char *image;
    pid_t pid;
} TQsd;

void t_qsd_start(TQsd *q, uint64_t image_bytes);
/* SIGTERM, then reaps it (SIGKILL after 10 s); removes the directory. */
void t_qsd_stop(TQsd *q);
/* main() of a criterion program that needs qemu-storage-daemon: exits 77
 * (SKIP) when it is not installed, else runs the tests. */
int t_qsd_main(int argc, char *argv[]);

/* ------------------------------------------------------------------------ */
/* Front-end                                                                 */

typedef struct TEvents {
    unsigned ups;
    unsigned downs;
    unsigned fails;
    int last_down_code;
    int last_fail_code;
    char last_fail_msg[512];
    char last_down_msg[512];
} TEvents;

VhuDev *t_dev_new(VhuMode mode, const char *path, unsigned reply_timeout_ms);
void t_dev_listen(VhuDev *dev, TEvents *ev);
/* Polls @dev's own fd/timer until @cond(@arg) holds, for at most
 * @timeout_ms; fails the test on timeout. */
void t_dev_poll_until(VhuDev *dev, bool (*cond)(void *), void *arg, int timeout_ms,
                      const char *what);
/* A client-mode front-end ("vub0") connected to qemu-storage-daemon, link
 * up, its events counted in @ev. */
VhuDev *t_qsd_connect(TQsd *q, TEvents *ev);
/* Conditions for t_dev_poll_until() on a VhuDev. */
bool t_dev_is_up(void *dev);
bool t_dev_is_down(void *dev);
/* Features the workload accepts from a virtio-blk back-end. */
#define t_blk_features tg_blk_features

/*
 * What most tests against the test back-end start from: a temporary
 * directory with an image and a socket path, a front-end with a listener,
 * a guest; the back-end is started by the test (@pid, -1 for none).
 */
typedef struct TFixture {
    char *dir;
    char *sock;
    char *image;
    VhuDev *dev;
    TGuest *g;
    TEvents ev;
    pid_t pid;
} TFixture;

void t_fx_init(TFixture *f, VhuMode mode, unsigned reply_timeout_ms, uint32_t qsize,
               unsigned nslots, uint64_t image_bytes);
/* Server mode: opens the front-end, spawns the back-end as a client with
 * @extra arguments (NULL-terminated, or NULL) and waits for the link. */
void t_fx_backend_up(TFixture *f, const char *const *extra);
void t_fx_fini(TFixture *f);

/* ------------------------------------------------------------------------ */
/* Paths from the guest ring to the back-end                                 */

typedef struct TPath TPath;
struct TPath {
    const char *name;
    /* Wires ring 0 of @dev to the guest (after features and memory table). */
    void (*start)(TPath *p, VhuDev *dev, TGuest *g);
    /* Unwires it (before the front-end is freed). */
    void (*stop)(TPath *p, VhuDev *dev, TGuest *g);
    /* Extra fds for the workload's poll loop, and their dispatch. */
    int (*pollfds)(TPath *p, struct pollfd *pfd, int max);
    void (*dispatch)(TPath *p, const struct pollfd *pfd, int n);
    /* Called after each batch of submissions (kicked), before completions
     * are reaped: @outstanding (>= 1) requests are submitted and not
     * reaped yet, so a mode toggled here has requests outstanding. */
    void (*progress)(TPath *p, uint64_t completed, unsigned outstanding);
    void *priv;
};

/* The guest ring handed to the back-end as is. */
extern TPath t_path_direct;

/* Sets features (t_blk_features of the offer, minus @drop), the memory
 * table and the guest ring, and starts the path. */
void t_blk_setup(VhuDev *dev, TGuest *g, TPath *path, uint64_t drop);

/* ------------------------------------------------------------------------ */
/* Block workload                                                            */

typedef struct TBlk TBlk;

typedef struct TBlkHooks {
    /* Called after each pass of the poll loop (e.g. to kill and restart a
     * back-end). The loop fails after 20 s without a completion. */
    void (*progress)(TBlk *b, void *opaque);
    void *opaque;
} TBlkHooks;

/* A workload over @nblocks blocks of @image through @dev and @path. */
TBlk *tblk_new(TGuest *g, VhuDev *dev, TPath *path, const char *image, unsigned nblocks,
               uint64_t seed);
void tblk_free(TBlk *b);
void tblk_set_hooks(TBlk *b, const TBlkHooks *hooks);
/* One round: writes every block with fresh random data, then reads every
 * block back and compares; @depth requests in flight; blocks in random
 * order. Fails the test on any error, lost or duplicated completion. */
void tblk_round(TBlk *b, unsigned depth);
/* Reads only (the blocks must have been written): random 4 KiB reads. */
void tblk_reads(TBlk *b, unsigned depth, uint64_t count);
/* Compares the image file with what was written. */
void tblk_check_image(TBlk *b);
uint64_t tblk_completed(const TBlk *b);

#endif /* VHOST_SVQ_TESTS_HARNESS_H */
