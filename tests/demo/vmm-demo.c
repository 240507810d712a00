/* SPDX-License-Identifier: MIT */
/*
 * vmm-demo: the workspace's main job until minivmm exists, a VMM skeleton
 * in four stages, each checked:
 *   1. vm-memory + fdpass: guest RAM in a memfd shared with a back-end process
 *   2. virtio-queue: a split virtqueue in that RAM, driver here, device there
 *      (demo-virtq.c)
 *   3. spapr + xive: a pseries machine, its device tree, the XIVE boot hcalls
 *      and one interrupt delivered (demo-spapr.c)
 *   4. qmp: a QMP server and a client passing an fd (demo-qmp.c)
 *
 * Stage 1: guest RAM lives in a memfd region (vm-memory). Its fd is passed to a second
 * process over a unix socket (fdpass), as a VMM passes guest RAM to a
 * vhost-user back-end. That "back-end" maps the fd into its own map, reads a
 * request the VMM wrote in little-endian, and writes a reply. The VMM then
 * sees the reply through its own mapping and records the back-end's write in
 * its dirty bitmap, as it would for a used buffer.
 *
 * Exit status 0 when every check holds, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "fdpass/fdpass.h"

#define RAM_BASE 0x0ULL
#define RAM_SIZE DEMO_RAM_SIZE
#define REQ_GPA 0x1000ULL  /* request: le32 magic, le32 count, le64 values[count] */
#define REPLY_GPA 0x5000ULL /* reply: le64 sum, written by the back-end */
#define MAGIC 0x766d6d21u  /* "vmm!" */

struct region_msg {
    uint64_t gpa, size, offset;
};

int demo_fail(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("vmm-demo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static int fail(const char *what, int rc)
{
    return demo_fail("%s: %s", what, strerror(-rc));
}

/* The second process: maps guest RAM from the fd it receives, answers the
 * stage 1 request, then serves the virtqueue of stage 2. */
static int backend(int sock)
{
    struct region_msg msg;
    int fd;
    size_t nfds;
    int rc = fdpass_recv_full(sock, &msg, sizeof(msg), &fd, 1, &nfds);
    if (rc < 0 || nfds != 1) {
        return fail("back-end: receive region", rc < 0 ? rc : -EPROTO);
    }
    VMemMap *map;
    rc = vmem_map_new(&map);
    if (rc == 0) {
        rc = vmem_map_add_fd(map, msg.gpa, msg.size, fd, msg.offset);
    }
    close(fd);
    if (rc < 0) {
        return fail("back-end: map guest RAM", rc);
    }
    uint32_t magic = 0, count = 0;
    vmem_read_le32(map, REQ_GPA, &magic);
    vmem_read_le32(map, REQ_GPA + 4, &count);
    if (magic != MAGIC || count > 64) {
        fprintf(stderr, "vmm-demo: back-end: bad request header %08x/%u\n", magic, count);
        return 1;
    }
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t v;
        if (vmem_read_le64(map, REQ_GPA + 8 + 8 * i, &v) < 0) {
            return 1;
        }
        sum += v;
    }
    printf("back-end: mapped %" PRIu64 " MiB of guest RAM from fd, request of %u values\n",
           msg.size >> 20, count);
    fflush(stdout);
    rc = vmem_write_le64(map, REPLY_GPA, sum);
    uint8_t done = 1;
    if (rc == 0) {
        rc = fdpass_send(sock, &done, 1, NULL, 0);
    }
    if (rc < 0) {
        vmem_map_free(map);
        return fail("back-end: reply", rc);
    }
    rc = demo_virtq_device(sock, map);
    vmem_map_free(map);
    return rc;
}

int main(void)
{
    VMemMap *ram;
    int rc = vmem_map_new(&ram);
    if (rc == 0) {
        rc = vmem_map_add_memfd(ram, RAM_BASE, RAM_SIZE, "guest-ram", VMEM_MEMFD_SEAL);
    }
    if (rc < 0) {
        return fail("create guest RAM", rc);
    }
    printf("== 1. vm-memory + fdpass: guest RAM in a memfd, shared with a back-end process\n");
    VMemRegionInfo info;
    vmem_map_region_info(ram, 0, &info);
    printf("vmm: guest RAM [0x%" PRIx64 ", 0x%" PRIx64 ") in memfd %d\n", info.gpa,
           info.gpa + info.size, info.fd);

    /* The request, little-endian as virtio would have it. */
    uint64_t expect = 0;
    vmem_write_le32(ram, REQ_GPA, MAGIC);
    vmem_write_le32(ram, REQ_GPA + 4, 10);
    for (uint32_t i = 0; i < 10; i++) {
        uint64_t v = 0x0101010101010101ULL * (i + 1);
        vmem_write_le64(ram, REQ_GPA + 8 + 8 * i, v);
        expect += v;
    }
    uint8_t raw[4];
    vmem_read(ram, REQ_GPA, raw, 4);
    printf("vmm: request magic in guest RAM as bytes: %02x %02x %02x %02x (little-endian)\n",
           raw[0], raw[1], raw[2], raw[3]);
    vmem_dirty_log_start(ram);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        return fail("socketpair", -errno);
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        return fail("fork", -errno);
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the VMM */
        close(sv[0]);
        _exit(backend(sv[1]));
    }
    close(sv[1]);
    struct region_msg msg = { info.gpa, info.size, info.fd_offset };
    rc = fdpass_send(sv[0], &msg, sizeof(msg), &info.fd, 1);
    if (rc < 0) {
        return fail("send region fd", rc);
    }
    uint8_t done = 0;
    size_t nfds = 0;
    ssize_t n = fdpass_recv(sv[0], &done, 1, NULL, 0, &nfds);
    if (n != 1) {
        return demo_fail("back-end failed");
    }
    /* The back-end wrote through its own mapping: record it, as a VMM does
     * when a used buffer comes back. */
    vmem_mark_dirty(ram, REPLY_GPA, 8);
    uint64_t sum = 0;
    vmem_read_le64(ram, REPLY_GPA, &sum);
    uint64_t bitmap[1];
    vmem_dirty_get_and_clear(ram, 0, 64, bitmap);
    printf("vmm: reply 0x%016" PRIx64 " (expected 0x%016" PRIx64 ")\n", sum, expect);
    printf("vmm: dirty pages in the first 256 KiB: 0x%016" PRIx64 " (page %d)\n", bitmap[0],
           __builtin_ctzll(bitmap[0] | (1ULL << 63)));
    if (sum != expect || bitmap[0] != (1ULL << (REPLY_GPA >> VMEM_PAGE_SHIFT))) {
        return demo_fail("stage 1: wrong reply or dirty bitmap");
    }

    unsigned virtq_done = 0;
    rc = demo_virtq_driver(sv[0], ram, &virtq_done);
    close(sv[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        rc = demo_fail("back-end exited with status 0x%x", (unsigned)status);
    }
    if (rc == 0) {
        rc = demo_spapr(ram);
    }
    if (rc == 0) {
        rc = demo_qmp(virtq_done);
    }
    vmem_map_free(ram);
    printf("vmm-demo: %s\n", rc == 0 ? "OK" : "FAILED");
    return rc == 0 ? 0 : 1;
}
