/* SPDX-License-Identifier: MIT */
/*
 * Stage 2: a split virtqueue in the shared guest RAM. The VMM process plays
 * the guest's driver (vq_drv_*), the back-end process the device (vq_dev_*)
 * through its own mapping of the same memfd, as a vhost-user back-end does.
 * Kicks and calls are eventfds handed to the back-end with fdpass; each side
 * blocks on its eventfd. The device's writes are dirty-logged in its map and
 * the log is merged into the VMM's bitmap, as a vhost-user log would be.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "demo.h"
#include "fdpass/fdpass.h"
#include "virtio-queue/virtio-queue.h"

#define QSIZE 8u
#define DESC_GPA 0x10000ULL
#define AVAIL_GPA 0x10800ULL
#define USED_GPA 0x11000ULL
#define REQ_GPA(i) (0x20000ULL + 0x40ULL * (i))   /* device-readable */
#define REPLY_GPA(i) (0x30000ULL + 0x1000ULL * (i)) /* device-writable, a page each */
#define REPLY_LEN 64u

static const char *const requests[] = { "hello", "virtio", "split", "queue" };
#define NREQ (sizeof(requests) / sizeof(requests[0]))

/* VMM -> back-end, with the kick and call eventfds. */
struct queue_msg {
    VqConfig cfg;
    uint32_t nreq;
};

/* back-end -> VMM when it is done: what it saw and its dirty log. */
struct device_report {
    uint32_t kicks, chains;
    uint64_t dirty[1]; /* pages 0..63 of guest RAM */
};

static int device_serve(VMemMap *map, VqDevQueue *q, int kick, int call, uint32_t nreq,
                        struct device_report *rep)
{
    VqBuf bufs[QSIZE];
    VqElem e = { .bufs = bufs, .bufs_cap = QSIZE };
    char heads[64] = "";
    int rc;

    while (rep->chains < nreq) {
        eventfd_t v;
        if (eventfd_read(kick, &v) < 0) {
            return -errno;
        }
        rep->kicks++;
        do {
            while ((rc = vq_dev_pop(q, &e)) == 0) {
                char text[REPLY_LEN] = "";
                int64_t n = vq_elem_read(map, &e, 0, text, sizeof(text) - 1);
                for (int64_t i = 0; i < n; i++) {
                    text[i] = (char)toupper((unsigned char)text[i]);
                }
                n = n < 0 ? n : vq_elem_write(map, &e, 0, text, (size_t)n);
                if (n < 0) {
                    return (int)n;
                }
                rc = vq_dev_add_used(q, &e, (uint32_t)n);
                if (rc < 0) {
                    return rc;
                }
                size_t off = strlen(heads);
                snprintf(heads + off, sizeof(heads) - off, " %u", e.id);
                rep->chains++;
            }
            if (rc != -EAGAIN) {
                return rc; /* a guest error: the queue is broken */
            }
            rc = vq_dev_publish(q);
            if (rc > 0 && vq_dev_should_notify(q) == 1) {
                printf("device: kick %u: popped chains with heads%s, upper-cased the text, "
                       "%d used published, call\n", rep->kicks, heads, rc);
                fflush(stdout); /* before the VMM wakes up and prints */
                heads[0] = '\0';
                eventfd_write(call, 1);
            }
        } while (vq_dev_enable_notify(q) == 1);
    }
    return 0;
}

int demo_virtq_device(int sock, VMemMap *map)
{
    struct queue_msg msg;
    int fds[2];
    size_t nfds = 0;
    int rc = fdpass_recv_full(sock, &msg, sizeof(msg), fds, 2, &nfds);
    if (rc < 0 || nfds != 2) {
        if (rc >= 0) {
            fdpass_close_all(fds, nfds);
        }
        return demo_fail("device: receive queue: %s", rc < 0 ? strerror(-rc) : "2 fds expected");
    }
    struct device_report rep = { 0 };
    VqDevQueue *q = NULL;
    vmem_dirty_log_start(map);
    rc = vq_dev_new(map, &q);
    if (rc == 0) {
        vq_dev_set_name(q, "demo-device");
        rc = vq_dev_configure(q, &msg.cfg);
    }
    if (rc == 0) {
        rc = device_serve(map, q, fds[0], fds[1], msg.nreq, &rep);
    }
    vq_dev_free(q);
    fdpass_close_all(fds, 2);
    if (rc < 0) {
        return demo_fail("device: %s", vq_strerror(rc));
    }
    vmem_dirty_get_and_clear(map, 0, 64, rep.dirty);
    rc = fdpass_send(sock, &rep, sizeof(rep), NULL, 0);
    return rc < 0 ? demo_fail("device: report: %s", strerror(-rc)) : 0;
}

/* Blocks until @fd is readable (an eventfd the back-end writes); bounded so
 * a dead back-end cannot hang the demo. */
static int wait_readable(int fd, const char *what)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n = poll(&p, 1, 5000);
    return n == 1 ? 0 : demo_fail("no %s from the back-end within 5 s", what);
}

static int driver_run(int sock, VMemMap *ram, VqDrvQueue *d, int kick, int call,
                      unsigned *ret_done)
{
    VqConfig cfg = { .size = QSIZE, .desc_addr = DESC_GPA, .driver_addr = AVAIL_GPA,
                     .device_addr = USED_GPA,
                     .features = VQ_FEATURE(VQ_F_VERSION_1) | VQ_FEATURE(VQ_F_EVENT_IDX) };
    int rc = vq_drv_configure(d, &cfg);
    for (unsigned i = 0; rc == 0 && i < NREQ; i++) {
        VqBuf chain[2] = {
            { .gpa = REQ_GPA(i), .len = (uint32_t)strlen(requests[i]) },
            { .gpa = REPLY_GPA(i), .len = REPLY_LEN, .flags = VQ_BUF_WRITE },
        };
        rc = vmem_write(ram, REQ_GPA(i), requests[i], strlen(requests[i]));
        if (rc == 0) {
            rc = vq_drv_add(d, chain, 2, i, 0);
        }
    }
    if (rc < 0) {
        return demo_fail("driver: set up the queue: %s", vq_strerror(rc));
    }
    printf("driver: queue of %u at desc 0x%llx avail 0x%llx used 0x%llx (EVENT_IDX), "
           "%zu chains added: request + %u-byte reply\n", QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA,
           NREQ, REPLY_LEN);
    /* The driver stands in for the guest, whose own writes KVM would log:
     * start from a clean bitmap, to see the device's writes only. */
    uint64_t bitmap[1];
    vmem_dirty_get_and_clear(ram, 0, 64, bitmap);

    struct queue_msg msg;
    memset(&msg, 0, sizeof(msg));
    msg.cfg = cfg;
    msg.nreq = NREQ;
    int fds[2] = { kick, call };
    fflush(stdout); /* the back-end prints next */
    rc = fdpass_send(sock, &msg, sizeof(msg), fds, 2);
    if (rc < 0) {
        return demo_fail("send the queue to the back-end: %s", strerror(-rc));
    }
    if (vq_drv_should_kick(d) == 1) {
        eventfd_write(kick, 1);
    }

    unsigned done = 0;
    while (done < NREQ) {
        eventfd_t v;
        if (wait_readable(call, "call") || eventfd_read(call, &v) < 0) {
            return 1;
        }
        VqUsed u;
        do {
            while ((rc = vq_drv_get_used(d, &u)) == 0) {
                char reply[REPLY_LEN + 1] = "", expect[REPLY_LEN + 1] = "";
                vmem_read(ram, REPLY_GPA(u.token), reply, u.len);
                for (size_t i = 0; requests[u.token][i]; i++) {
                    expect[i] = (char)toupper((unsigned char)requests[u.token][i]);
                }
                printf("driver: used id %u len %u: \"%s\" -> \"%s\"\n", u.id, u.len,
                       requests[u.token], reply);
                if (strcmp(reply, expect) != 0 || u.len != strlen(expect)) {
                    return demo_fail("driver: reply \"%s\", expected \"%s\"", reply, expect);
                }
                done++;
            }
            if (rc != -EAGAIN) {
                return demo_fail("driver: %s", vq_strerror(rc));
            }
        } while (vq_drv_enable_cb(d) == 1);
    }
    *ret_done = done;

    /* The back-end's dirty log, merged as a VMM merges a vhost-user log. */
    struct device_report rep;
    if (wait_readable(sock, "report") ||
        fdpass_recv_full(sock, &rep, sizeof(rep), NULL, 0, NULL) < 0) {
        return demo_fail("no report from the device");
    }
    for (unsigned p = 0; p < 64; p++) {
        if (rep.dirty[0] & (UINT64_C(1) << p)) {
            vmem_mark_dirty(ram, (uint64_t)p << VMEM_PAGE_SHIFT, VMEM_PAGE_SIZE);
        }
    }
    vmem_dirty_get_and_clear(ram, 0, 64, bitmap);
    uint64_t want = UINT64_C(1) << (USED_GPA >> VMEM_PAGE_SHIFT);
    for (unsigned i = 0; i < NREQ; i++) {
        want |= UINT64_C(1) << (REPLY_GPA(i) >> VMEM_PAGE_SHIFT);
    }
    printf("vmm: device's dirty log merged: pages 0x%016" PRIx64 " (used ring 0x%llx, "
           "replies 0x%llx..0x%llx)\n", bitmap[0], USED_GPA >> VMEM_PAGE_SHIFT,
           REPLY_GPA(0) >> VMEM_PAGE_SHIFT, REPLY_GPA(NREQ - 1) >> VMEM_PAGE_SHIFT);
    if (bitmap[0] != want || rep.kicks != 1 || rep.chains != NREQ) {
        return demo_fail("virtqueue: dirty 0x%" PRIx64 " (want 0x%" PRIx64 "), %u kicks, "
                         "%u chains", bitmap[0], want, rep.kicks, rep.chains);
    }
    return 0;
}

int demo_virtq_driver(int sock, VMemMap *ram, unsigned *ret_done)
{
    printf("== 2. virtio-queue: a split virtqueue in that RAM, driver here, device in the "
           "back-end\n");
    int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
    VqDrvQueue *d = NULL;
    int rc = kick < 0 || call < 0 ? -errno : vq_drv_new(ram, &d);
    if (rc == 0) {
        vq_drv_set_name(d, "demo-driver");
        rc = driver_run(sock, ram, d, kick, call, ret_done);
    } else {
        rc = demo_fail("driver: %s", strerror(-rc));
    }
    vq_drv_free(d);
    if (kick >= 0) {
        close(kick);
    }
    if (call >= 0) {
        close(call);
    }
    return rc;
}
