/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: arbitrary back-end replies (bytes and file descriptors) into
 * the vhost-user front-end, during the handshake and during operation, over
 * one connection and then a second one (the state restore path).
 *
 * Input: one option byte, then chunks {u8 ctl, u16 len (LE), len bytes}.
 * ctl bits 0-2: number of fds sent with the chunk (6 and 7 mean 9 and 12,
 * beyond what a message may carry); bit 3: the fds are 64 KiB memfds
 * rather than eventfds; bit 7: this chunk and the following ones go to the
 * second connection. Every chunk is written into the back-end's end of a
 * socketpair before the front-end runs (one sendmsg each), and that end is
 * then shut for writing, so the front-end never waits: it reads the replies
 * it finds, then end of file.
 *
 * The front-end then runs a fixed sequence of operations (features, memory
 * table, ring start with the inflight region, config, status, ring stop,
 * reset, restart, enable) whatever happens. Checks: no crash, no leak (ASan),
 * and no file descriptor left open at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "vhost-svq/vhost-user.h"

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            __builtin_trap();                                                  \
        }                                                                      \
    } while (0)

#define RAM_BYTES 0x20000u
#define MAX_QUEUED (48 * 1024) /* stays well below the socket buffer */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d) {
        return -1;
    }
    while ((e = readdir(d))) {
        n += e->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static int make_fd(bool memfd)
{
    int fd;

    if (!memfd) {
        return eventfd(0, EFD_CLOEXEC);
    }
    fd = memfd_create("fuzz-inflight", MFD_CLOEXEC);
    if (fd >= 0 && ftruncate(fd, 0x10000) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Writes the chunks of one connection; returns where the next one starts. */
static size_t feed(int be, const uint8_t *data, size_t size, size_t pos, bool second)
{
    size_t queued = 0;

    while (pos + 3 <= size) {
        uint8_t ctl = data[pos];
        size_t len = data[pos + 1] | ((size_t)data[pos + 2] << 8);
        unsigned nfds = ctl & 7;
        int fds[12];

        if (!second && (ctl & 0x80)) {
            return pos;
        }
        pos += 3;
        if (len > size - pos) {
            len = size - pos;
        }
        if (nfds >= 6) {
            nfds = nfds == 6 ? 9 : 12;
        }
        if (len == 0 || queued + len > MAX_QUEUED) {
            pos += len;
            continue;
        }
        for (unsigned i = 0; i < nfds; i++) {
            fds[i] = make_fd(ctl & 8);
            if (fds[i] < 0) {
                nfds = i;
                break;
            }
        }
        /* fdpass carries at most 16 fds; a short write is fine too. */
        fdpass_send(be, data + pos, len, fds, nfds);
        fdpass_close_all(fds, nfds);
        queued += len;
        pos += len;
    }
    return size;
}

static int attach(VhuDev *dev, const uint8_t *data, size_t size, size_t *pos, bool second)
{
    int sv[2];
    GError *err = NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        return -1;
    }
    *pos = feed(sv[1], data, size, *pos, second);
    shutdown(sv[1], SHUT_WR);
    if (!vhu_attach_fd(dev, sv[0], &err)) {
        CHECK(err && err->domain == VHU_ERROR && err->message);
        g_error_free(err);
    }
    return sv[1];
}

static void operate(VhuDev *dev, VMemMap *map, const VqConfig *qc, uint8_t opt, int efd)
{
    uint64_t mask = VQ_FEATURE(VQ_F_VERSION_1) | VQ_FEATURE(VQ_F_EVENT_IDX) |
                    VQ_FEATURE(VQ_F_INDIRECT_DESC) |
                    ((opt & 1) ? VQ_FEATURE(VQ_F_RING_PACKED) : 0);
    VhuVringConfig c;
    uint8_t cfg[24], st;
    uint32_t base;

    /* Errors are expected; each call must leave a consistent state. */
    vhu_set_features(dev, vhu_get_backend_features(dev) & mask, NULL);
    vhu_set_mem_table(dev, map, NULL);
    vhu_vring_set_kick(dev, 0, efd, NULL);
    vhu_vring_set_call(dev, 0, efd, NULL);
    if (opt & 2) {
        vhu_vring_set_err(dev, 0, efd, NULL);
    }
    if (vhu_vring_config_from_guest(map, qc, 0, &c, NULL)) {
        vhu_vring_start(dev, 0, &c, NULL);
    }
    if (vhu_get_config(dev, opt & 4 ? 8 : 0, cfg, sizeof(cfg), NULL)) {
        vhu_set_config(dev, 0, cfg, 8, 0, NULL);
    }
    vhu_get_status(dev, &st, NULL);
    vhu_set_status(dev, 0xf, NULL);
    vhu_vring_enable(dev, 0, false, NULL);
    vhu_vring_stop(dev, 0, &base, NULL);
    if (opt & 8) {
        vhu_reset(dev, NULL);
        vhu_set_features(dev, vhu_get_backend_features(dev) & mask, NULL);
    }
    vhu_vring_enable(dev, 0, true, NULL);
    if (vhu_vring_config_from_guest(map, qc, 0, &c, NULL)) {
        vhu_vring_start(dev, 0, &c, NULL);
    }
    /* Whatever is left on the socket is unsolicited, or end of file. */
    if (vhu_get_fd(dev, NULL) >= 0) {
        vhu_dispatch(dev, vhu_get_fd(dev, NULL), VHU_EVENT_IN);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds_before;
    VhuOptions o;
    VhuDev *dev = NULL;
    VMemMap *map = NULL;
    VqConfig qc = { .size = 64, .desc_addr = 0x1000, .driver_addr = 0x2000,
                    .device_addr = 0x3000, .features = VQ_FEATURE(VQ_F_VERSION_1) };
    size_t pos = 1;
    uint8_t opt;
    int be1, be2, efd;

    if (size < 1) {
        return 0;
    }
    /* Counted for each input: libFuzzer opens files of its own now and then. */
    fds_before = count_fds();
    opt = data[0];
    vhu_options_init(&o);
    o.mode = VHU_MODE_FD;
    o.name = "fuzz";
    o.reply_timeout_ms = 1000; /* never reached: the replies are queued */
    o.num_queues = (opt & 0x10) ? 2 : 1;
    o.queue_size = (opt & 0x20) ? 64 : 256;
    if (opt & 0x40) {
        o.protocol_features &= ~(UINT64_C(1) << VHU_PROTOCOL_F_REPLY_ACK);
    }
    CHECK(vhu_new(&o, &dev, NULL));
    CHECK(vmem_map_new(&map) == 0);
    CHECK(vmem_map_add_memfd(map, 0, RAM_BYTES, "fuzz-ram", 0) == 0);
    if (opt & 1) {
        qc.features |= VQ_FEATURE(VQ_F_RING_PACKED);
    }
    efd = eventfd(0, EFD_CLOEXEC);

    be1 = attach(dev, data, size, &pos, false);
    if (vhu_get_fd(dev, NULL) >= 0) {
        vhu_dispatch(dev, vhu_get_fd(dev, NULL), VHU_EVENT_IN);
    }
    operate(dev, map, &qc, opt, efd);
    /* The second connection: the restore path, then the same operations. */
    vhu_reconnect(dev);
    be2 = attach(dev, data, size, &pos, true);
    operate(dev, map, &qc, (uint8_t)(opt >> 1), efd);

    vhu_free(dev);
    vmem_map_free(map);
    if (be1 >= 0) {
        close(be1);
    }
    if (be2 >= 0) {
        close(be2);
    }
    close(efd);
    CHECK(count_fds() == fds_before);
    return 0;
}
