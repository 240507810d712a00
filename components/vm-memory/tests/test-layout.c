/* SPDX-License-Identifier: MIT */
/* Region map: adding, removing, describing regions, memfd sharing, bad input. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "common.h"

Test(layout, version_matches_project)
{
    char v[32];
    snprintf(v, sizeof(v), "%d.%d.%d", VMEM_VERSION_MAJOR, VMEM_VERSION_MINOR,
             VMEM_VERSION_MICRO);
    cr_assert_str_eq(v, VMEM_PROJECT_VERSION);
}

Test(layout, new_and_free)
{
    cr_assert_eq(vmem_map_new(NULL), -EINVAL);
    vmem_map_free(NULL);
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_num_regions(m), 0);
    cr_assert_eq(vmem_map_num_regions(NULL), 0);
    VMemRegionInfo info;
    cr_assert_eq(vmem_map_region_info(m, 0, &info), -ENOENT);
    cr_assert_eq(vmem_map_find_region(m, 0, &info), -EFAULT);
    cr_assert_null(vmem_translate_ptr(m, 0, 1));
    vmem_map_free(m);
}

Test(layout, add_each_backing_and_describe)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_anon(m, 8 * p, 2 * p), 0);
    cr_assert_eq(vmem_map_add_memfd(m, 0, 4 * p, "ram", 0), 0);
    int fd = memfd_create("ext", MFD_CLOEXEC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (off_t)(8 * p)), 0);
    cr_assert_eq(vmem_map_add_fd(m, 16 * p, 4 * p, fd, 4 * p), 0);
    cr_assert_eq(vmem_map_num_regions(m), 3);

    VMemRegionInfo a, b, c;
    cr_assert_eq(vmem_map_region_info(m, 0, &a), 0);
    cr_assert_eq(vmem_map_region_info(m, 1, &b), 0);
    cr_assert_eq(vmem_map_region_info(m, 2, &c), 0);
    cr_assert_eq(vmem_map_region_info(m, 3, &c), -ENOENT);
    cr_assert_eq(a.gpa, 0);
    cr_assert_eq(a.size, 4 * p);
    cr_assert_eq(a.backing, VMEM_BACKING_MEMFD);
    cr_assert_geq(a.fd, 0);
    cr_assert_eq(a.fd_offset, 0);
    cr_assert_eq(b.gpa, 8 * p);
    cr_assert_eq(b.backing, VMEM_BACKING_ANON);
    cr_assert_eq(b.fd, -1);
    cr_assert_eq(c.gpa, 16 * p);
    cr_assert_eq(c.backing, VMEM_BACKING_FD);
    cr_assert_eq(c.fd_offset, 4 * p);
    cr_assert_neq(c.fd, fd, "the map must own a duplicate");
    cr_assert(fcntl(c.fd, F_GETFD) & FD_CLOEXEC);
    for (unsigned i = 0; i < 3; i++) {
        VMemRegionInfo x;
        cr_assert_eq(vmem_map_region_info(m, i, &x), 0);
        cr_assert_eq((uintptr_t)x.host % p, 0, "host mapping page aligned");
    }

    /* find_region: first byte, last byte, gap. */
    VMemRegionInfo f;
    cr_assert_eq(vmem_map_find_region(m, 8 * p, &f), 0);
    cr_assert_eq(f.gpa, 8 * p);
    cr_assert_eq(vmem_map_find_region(m, 10 * p - 1, &f), 0);
    cr_assert_eq(f.gpa, 8 * p);
    cr_assert_eq(vmem_map_find_region(m, 10 * p, &f), -EFAULT);
    cr_assert_eq(vmem_map_find_region(m, 4 * p, &f), -EFAULT);
    cr_assert_eq(vmem_map_find_region(NULL, 0, &f), -EINVAL);
    cr_assert_eq(vmem_map_find_region(m, 0, NULL), -EINVAL);
    cr_assert_eq(vmem_map_region_info(NULL, 0, &f), -EINVAL);
    cr_assert_eq(vmem_map_region_info(m, 0, NULL), -EINVAL);

    /* The caller's fd stays its own and stays open after the map goes. */
    vmem_map_free(m);
    cr_assert_eq(fcntl(fd, F_GETFD) >= 0, true);
    close(fd);
}

Test(layout, bad_arguments)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_anon(NULL, 0, p), -EINVAL);
    cr_assert_eq(vmem_map_add_memfd(NULL, 0, p, NULL, 0), -EINVAL);
    cr_assert_eq(vmem_map_add_fd(NULL, 0, p, 0, 0), -EINVAL);
    cr_assert_eq(vmem_map_add_anon(m, 0, 0), -EINVAL, "zero size");
    cr_assert_eq(vmem_map_add_memfd(m, 0, 0, NULL, 0), -EINVAL, "zero size");
    cr_assert_eq(vmem_map_add_anon(m, p / 2, p), -EINVAL, "misaligned gpa");
    cr_assert_eq(vmem_map_add_anon(m, 0, p + 1), -EINVAL, "misaligned size");
    cr_assert_eq(vmem_map_add_memfd(m, 1, p, NULL, 0), -EINVAL, "misaligned gpa");
    cr_assert_eq(vmem_map_add_anon(m, UINT64_MAX - p + 1, 2 * p), -EINVAL, "wraps");
    cr_assert_eq(vmem_map_add_memfd(m, UINT64_MAX - p + 1, 2 * p, NULL, 0), -EINVAL);
    /* Valid but too big to map: mmap()'s error comes back, nothing is added. */
    cr_assert_eq(vmem_map_add_anon(m, 0, UINT64_MAX - p + 1), -ENOMEM);
    cr_assert_eq(vmem_map_add_memfd(m, 0, UINT64_MAX - p + 1, NULL, 0), -EINVAL,
                 "beyond what ftruncate() takes");
    cr_assert_eq(vmem_map_add_memfd(m, 0, p, NULL, 1u << 7), -EINVAL, "unknown flag");
    cr_assert_eq(vmem_map_remove(NULL, 0), -EINVAL);
    cr_assert_eq(vmem_map_remove(m, 0), -ENOENT);
    cr_assert_eq(vmem_map_num_regions(m), 0);

    /* A region ending exactly at 2^64 is valid. */
    cr_assert_eq(vmem_map_add_anon(m, UINT64_MAX - p + 1, p), 0);
    cr_assert_eq(vmem_map_num_regions(m), 1);
    vmem_map_free(m);
}

Test(layout, remove)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_anon(m, 0, 2 * p), 0);
    cr_assert_eq(vmem_map_add_memfd(m, 2 * p, 2 * p, NULL, 0), 0);
    cr_assert_eq(vmem_map_add_anon(m, 8 * p, p), 0);
    cr_assert_eq(vmem_map_remove(m, p), -ENOENT, "inside a region, not its base");
    cr_assert_eq(vmem_map_remove(m, 5 * p), -ENOENT, "in a gap");
    cr_assert_eq(vmem_write_u8(m, 2 * p, 0x5a), 0);
    cr_assert_eq(vmem_map_remove(m, 2 * p), 0);
    cr_assert_eq(vmem_map_num_regions(m), 2);
    cr_assert_null(vmem_translate_ptr(m, 2 * p, 1));
    cr_assert_eq(vmem_check_range(m, 0, 3 * p), -EFAULT, "no longer adjacent");
    cr_assert_eq(vmem_map_remove(m, 2 * p), -ENOENT, "already removed");
    /* Re-adding at the same place gives fresh zeroed memory. */
    cr_assert_eq(vmem_map_add_memfd(m, 2 * p, 2 * p, NULL, 0), 0);
    uint8_t v = 1;
    cr_assert_eq(vmem_read_u8(m, 2 * p, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(vmem_check_range(m, 0, 4 * p), 0);
    VMemRegionInfo last;
    cr_assert_eq(vmem_map_region_info(m, 2, &last), 0);
    cr_assert_eq(last.gpa, 8 * p);
    cr_assert_eq(vmem_map_remove(m, 0), 0);
    cr_assert_eq(vmem_map_remove(m, 8 * p), 0);
    cr_assert_eq(vmem_map_remove(m, 2 * p), 0);
    cr_assert_eq(vmem_map_num_regions(m), 0);
    vmem_map_free(m);
}

/* Adds a region of the given backing; the fd form maps a fresh memfd. */
static int add_backing(VMemMap *m, int kind, uint64_t gpa, uint64_t size)
{
    switch (kind) {
    case 0:
        return vmem_map_add_anon(m, gpa, size);
    case 1:
        return vmem_map_add_memfd(m, gpa, size, "t", VMEM_MEMFD_SEAL);
    default: {
        int fd = memfd_create("t", MFD_CLOEXEC);
        cr_assert_geq(fd, 0);
        cr_assert_eq(ftruncate(fd, (off_t)size), 0);
        int rc = vmem_map_add_fd(m, gpa, size, fd, 0);
        close(fd);
        return rc;
    }
    }
}

Test(layout, overlap_every_configuration)
{
    uint64_t p = ps();
    /* Existing: A = [10, 14) and B = [20, 24) pages. */
    static const struct {
        uint64_t first, npages;
        int want;
        const char *what;
    } cases[] = {
        { 10, 4, -EINVAL, "identical" },
        { 11, 1, -EINVAL, "inside" },
        { 10, 1, -EINVAL, "same base, shorter" },
        { 13, 1, -EINVAL, "same end, later base" },
        { 9, 6, -EINVAL, "contains A" },
        { 8, 3, -EINVAL, "overlaps A's start" },
        { 13, 3, -EINVAL, "overlaps A's end" },
        { 13, 8, -EINVAL, "bridges A and B" },
        { 0, 40, -EINVAL, "contains both" },
        { 19, 2, -EINVAL, "overlaps B's start" },
        { 23, 5, -EINVAL, "overlaps B's end" },
        { 6, 4, 0, "touches A from below" },
        { 14, 6, 0, "fills the gap exactly" },
        { 24, 1, 0, "touches B from above" },
    };
    for (int kind = 0; kind < 3; kind++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            VMemMap *m = new_map();
            cr_assert_eq(vmem_map_add_anon(m, 10 * p, 4 * p), 0);
            cr_assert_eq(vmem_map_add_memfd(m, 20 * p, 4 * p, NULL, 0), 0);
            int fds = count_fds();
            int rc = add_backing(m, kind, cases[i].first * p, cases[i].npages * p);
            cr_assert_eq(rc, cases[i].want, "backing %d, %s: got %d", kind,
                         cases[i].what, rc);
            cr_assert_eq(vmem_map_num_regions(m), cases[i].want ? 2u : 3u);
            if (rc) {
                cr_assert_eq(count_fds(), fds, "failed add leaks no fd");
            }
            /* The existing regions are untouched. */
            cr_assert_eq(region_at(m, 10 * p).size, 4 * p);
            cr_assert_eq(region_at(m, 20 * p).size, 4 * p);
            vmem_map_free(m);
        }
    }
}

Test(layout, full_map_is_enospc)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    for (unsigned i = 0; i < VMEM_MAX_REGIONS; i++) {
        /* Descending order: every insertion goes to the front. */
        uint64_t gpa = (uint64_t)(VMEM_MAX_REGIONS - 1 - i) * 2 * p;
        cr_assert_eq(vmem_map_add_anon(m, gpa, p), 0, "region %u", i);
    }
    cr_assert_eq(vmem_map_num_regions(m), VMEM_MAX_REGIONS);
    int fds = count_fds();
    uint64_t free_gpa = (uint64_t)VMEM_MAX_REGIONS * 2 * p;
    cr_assert_eq(vmem_map_add_anon(m, free_gpa, p), -ENOSPC);
    cr_assert_eq(vmem_map_add_memfd(m, free_gpa, p, NULL, 0), -ENOSPC);
    int fd = memfd_create("t", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(fd, (off_t)p), 0);
    cr_assert_eq(vmem_map_add_fd(m, free_gpa, p, fd, 0), -ENOSPC);
    close(fd);
    cr_assert_eq(count_fds(), fds);
    /* Order holds; removing one makes room again. */
    for (unsigned i = 0; i < VMEM_MAX_REGIONS; i++) {
        VMemRegionInfo info;
        cr_assert_eq(vmem_map_region_info(m, i, &info), 0);
        cr_assert_eq(info.gpa, (uint64_t)i * 2 * p);
    }
    cr_assert_eq(vmem_map_remove(m, 0), 0);
    cr_assert_eq(vmem_map_add_anon(m, free_gpa, p), 0);
    vmem_map_free(m);
}

Test(layout, many_regions_random_order)
{
    enum { N = 100 };
    uint64_t p = ps();
    unsigned order[N];
    for (unsigned i = 0; i < N; i++) {
        order[i] = i;
    }
    uint64_t seed = 0x1234567;
    for (unsigned i = N - 1; i > 0; i--) {
        unsigned j = (unsigned)(rnd(&seed) % (i + 1));
        unsigned t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    VMemMap *m = new_map();
    /* Region k: base 3k pages, 1 + k % 2 pages, alternately memfd and anon. */
    for (unsigned i = 0; i < N; i++) {
        unsigned k = order[i];
        uint64_t gpa = 3 * (uint64_t)k * p, size = (1 + k % 2) * p;
        int rc = (k % 3) ? vmem_map_add_anon(m, gpa, size)
                         : vmem_map_add_memfd(m, gpa, size, NULL, 0);
        cr_assert_eq(rc, 0);
        cr_assert_eq(vmem_fill(m, gpa, (uint8_t)k, (size_t)size), 0);
    }
    cr_assert_eq(vmem_map_num_regions(m), N);
    for (unsigned k = 0; k < N; k++) {
        VMemRegionInfo info;
        cr_assert_eq(vmem_map_region_info(m, k, &info), 0);
        cr_assert_eq(info.gpa, 3 * (uint64_t)k * p, "sorted by address");
        uint64_t last = info.gpa + info.size - 1;
        uint8_t *first_host = vmem_translate_ptr(m, info.gpa, 1);
        uint8_t *last_host = vmem_translate_ptr(m, last, 1);
        cr_assert_eq(first_host, (uint8_t *)info.host);
        cr_assert_eq(last_host, (uint8_t *)info.host + info.size - 1);
        cr_assert_eq(*first_host, (uint8_t)k);
        cr_assert_eq(*last_host, (uint8_t)k);
        cr_assert_null(vmem_translate_ptr(m, last + 1, 1), "gap after region %u", k);
    }
    vmem_map_free(m);
}

Test(layout, memfd_is_cloexec_and_sealed)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_memfd(m, 0, 4 * p, "guest-ram", VMEM_MEMFD_SEAL), 0);
    cr_assert_eq(vmem_map_add_memfd(m, 8 * p, 4 * p, NULL, VMEM_NORESERVE), 0);
    VMemRegionInfo s = region_at(m, 0), u = region_at(m, 8 * p);

    cr_assert(fcntl(s.fd, F_GETFD) & FD_CLOEXEC);
    cr_assert(fcntl(u.fd, F_GETFD) & FD_CLOEXEC);
    int seals = fcntl(s.fd, F_GET_SEALS);
    cr_assert_geq(seals, 0);
    cr_assert_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
    cr_assert_eq(seals & F_SEAL_SEAL, 0, "further seals are left to the caller");
    cr_assert_eq(ftruncate(s.fd, (off_t)p), -1, "sealed against shrinking");
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(ftruncate(s.fd, (off_t)(8 * p)), -1, "sealed against growing");
    seals = fcntl(u.fd, F_GET_SEALS);
    cr_assert_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW), 0, "unsealed without the flag");

    /* The name shows in /proc (what vhost-user peers and admins see). */
    char link[64], target[256];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", s.fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    cr_assert_gt(n, 0);
    target[n] = 0;
    cr_assert(strstr(target, "memfd:guest-ram"), "%s", target);
    snprintf(link, sizeof(link), "/proc/self/fd/%d", u.fd);
    n = readlink(link, target, sizeof(target) - 1);
    cr_assert_gt(n, 0);
    target[n] = 0;
    cr_assert(strstr(target, "memfd:vmem"), "%s", target);
    vmem_map_free(m);
}

Test(layout, memfd_shared_through_mmap_and_second_map)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    cr_assert_eq(vmem_map_add_memfd(m, 0x100 * p, 4 * p, "shared", VMEM_MEMFD_SEAL), 0);
    VMemRegionInfo info = region_at(m, 0x100 * p);

    /* A second mapping of the same fd, as a vhost-user back-end makes it. */
    uint8_t *peer = mmap(NULL, 4 * p, PROT_READ | PROT_WRITE, MAP_SHARED, info.fd, 0);
    cr_assert_neq(peer, MAP_FAILED);
    cr_assert_neq(peer, (uint8_t *)info.host);
    cr_assert_eq(vmem_write_le32(m, 0x100 * p + 12, 0xdeadbeef), 0);
    cr_assert_eq(vmem_le32_to_cpu(peer + 12), 0xdeadbeef);
    peer[3 * p + 5] = 0x77;
    uint8_t v = 0;
    cr_assert_eq(vmem_read_u8(m, 0x103 * p + 5, &v), 0);
    cr_assert_eq(v, 0x77);

    /* A second map built from the fd (whole, and its second half). */
    VMemMap *m2 = new_map();
    cr_assert_eq(vmem_map_add_fd(m2, 0, 4 * p, info.fd, 0), 0);
    cr_assert_eq(vmem_map_add_fd(m2, 16 * p, 2 * p, info.fd, 2 * p), 0);
    VMemRegionInfo i2 = region_at(m2, 16 * p);
    cr_assert_eq(i2.backing, VMEM_BACKING_FD);
    cr_assert_eq(i2.fd_offset, 2 * p);
    uint8_t pat[300];
    for (size_t i = 0; i < sizeof(pat); i++) {
        pat[i] = pattern(3, i);
    }
    /* Written across the middle of the region, read back in both maps. */
    cr_assert_eq(vmem_write(m, 0x102 * p - 100, pat, sizeof(pat)), 0);
    uint8_t got[300];
    cr_assert_eq(vmem_read(m2, 2 * p - 100, got, sizeof(got)), 0);
    cr_assert_arr_eq(got, pat, sizeof(pat));
    cr_assert_eq(vmem_read(m2, 16 * p, got, 200), 0);
    cr_assert_arr_eq(got, pat + 100, 200);
    cr_assert_arr_eq(peer + 2 * p - 100, pat, sizeof(pat));

    /* The fd outlives the first map through a dup(). */
    int keep = dup(info.fd);
    vmem_map_free(m);
    cr_assert_eq(vmem_read(m2, 2 * p - 100, got, sizeof(got)), 0);
    cr_assert_arr_eq(got, pat, sizeof(pat));
    munmap(peer, 4 * p);
    close(keep);
    vmem_map_free(m2);
}

Test(layout, add_fd_rejects)
{
    uint64_t p = ps();
    VMemMap *m = new_map();
    int fds = count_fds();
    int fd = memfd_create("short", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(fd, (off_t)(2 * p)), 0);
    cr_assert_eq(vmem_map_add_fd(m, 0, 4 * p, fd, 0), -EINVAL, "file too short");
    cr_assert_eq(vmem_map_add_fd(m, 0, 2 * p, fd, p), -EINVAL, "too short past offset");
    cr_assert_eq(vmem_map_add_fd(m, 0, p, fd, 1), -EINVAL, "misaligned offset");
    cr_assert_eq(vmem_map_add_fd(m, 0, p, fd, UINT64_MAX - p + 1), -EINVAL);
    cr_assert_eq(vmem_map_add_fd(m, 0, p, -1, 0), -EINVAL);
    cr_assert_eq(vmem_map_add_fd(m, 0, 0, fd, 0), -EINVAL);
    int closed = dup(fd);
    close(closed);
    cr_assert_eq(vmem_map_add_fd(m, 0, p, closed, 0), -EBADF);

    /* A read-only fd cannot be mapped shared and writable. */
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(ro, 0);
    cr_assert_eq(vmem_map_add_fd(m, 0, p, ro, 0), -EACCES);
    close(ro);

    /* Something that cannot be mapped at all. */
    int pfd[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pfd), 0);
    cr_assert_eq(vmem_map_add_fd(m, 0, p, pfd[0], 0), -ENODEV);
    close(pfd[0]);
    close(pfd[1]);

    cr_assert_eq(vmem_map_num_regions(m), 0);
    cr_assert_eq(vmem_map_add_fd(m, 0, 2 * p, fd, 0), 0, "exact length is fine");
    close(fd);
    vmem_map_free(m);
    cr_assert_eq(count_fds(), fds);
}

Test(layout, no_fd_leak)
{
    uint64_t p = ps();
    int before = count_fds();
    int ext = memfd_create("ext", MFD_CLOEXEC);
    cr_assert_eq(ftruncate(ext, (off_t)(16 * p)), 0);
    for (int round = 0; round < 3; round++) {
        VMemMap *m = new_map();
        for (unsigned i = 0; i < 10; i++) {
            cr_assert_eq(vmem_map_add_memfd(m, 4 * i * p, p, NULL, VMEM_MEMFD_SEAL), 0);
            cr_assert_eq(vmem_map_add_fd(m, (4 * i + 1) * p, p, ext, i * p), 0);
            cr_assert_eq(vmem_map_add_anon(m, (4 * i + 2) * p, p), 0);
            /* Failures on the way. */
            cr_assert_eq(vmem_map_add_memfd(m, 4 * i * p, p, NULL, 0), -EINVAL);
            cr_assert_eq(vmem_map_add_fd(m, (4 * i + 1) * p, p, ext, 0), -EINVAL);
        }
        cr_assert_eq(count_fds(), before + 1 + 20);
        cr_assert_eq(vmem_map_remove(m, 0), 0);
        cr_assert_eq(vmem_map_remove(m, p), 0);
        cr_assert_eq(count_fds(), before + 1 + 18);
        vmem_map_free(m);
        cr_assert_eq(count_fds(), before + 1);
    }
    close(ext);
    cr_assert_eq(count_fds(), before);
}
