/* SPDX-License-Identifier: MIT */
/*
 * The front-end in client mode against the real qemu-storage-daemon
 * vhost-user-blk export: thousands of 4 KiB blocks of random data written
 * and read back through a virtio-queue driver on the guest ring, every block
 * verified, the image checked at the end. Exits 77 (SKIP) when
 * qemu-storage-daemon is not installed.
 * test-svq-qsd.c runs the same workload through the shadow virtqueue.
 */
#include "harness.h"

#define NBLOCKS 4096u /* 16 MiB image */
#define NSLOTS 64
#define QSIZE 256
#define DEPTH 32

static void qsd_workload(TPath *path)
{
    TQsd q;
    VhuDev *dev;
    TGuest *g;
    TEvents ev;
    TBlk *b;
    GError *err = NULL;
    uint8_t cfg[8];
    uint32_t base = 0;

    t_qsd_start(&q, (uint64_t)NBLOCKS * T_BLOCK);
    dev = t_qsd_connect(&q, &ev);
    cr_assert(vhu_get_protocol_features(dev) & (1u << VHU_PROTOCOL_F_CONFIG));
    cr_assert(vhu_get_config(dev, 0, cfg, sizeof(cfg), &err), "%s", err ? err->message : "");
    cr_assert_eq(vmem_le64_to_cpu(cfg), (uint64_t)NBLOCKS * T_BLOCK / T_SECTOR,
                 "capacity %llu sectors", (unsigned long long)vmem_le64_to_cpu(cfg));

    g = tg_new(QSIZE, NSLOTS);
    t_blk_setup(dev, g, path, 0);
    b = tblk_new(g, dev, path, q.image, NBLOCKS, 42);
    tblk_round(b, DEPTH);
    tblk_check_image(b);

    /* Reconnect (quiescent): the daemon accepts a new connection and the
     * front-end restores features, memory table and ring. */
    vhu_reconnect(dev);
    cr_assert_eq(ev.downs, 1);
    cr_assert(vhu_wait_link_up(dev, 10000, &err), "%s", err ? err->message : "");
    cr_assert_eq(ev.ups, 2);
    tblk_reads(b, DEPTH, NBLOCKS);
    tblk_check_image(b);

    cr_assert(vhu_vring_stop(dev, 0, &base, &err), "%s", err ? err->message : "");
    cr_assert_eq(base, (uint32_t)(tblk_completed(b) & 0xffff), "GET_VRING_BASE %u after %llu",
                 base, (unsigned long long)tblk_completed(b));
    cr_log_info("%s: %llu requests verified", path->name,
                (unsigned long long)tblk_completed(b));
    tblk_free(b);
    vhu_free(dev);
    tg_free(g);
    t_qsd_stop(&q);
}

/* Whatever way a test ends, the daemon and the directory go with it. */
TestSuite(qsd, .fini = t_cleanup);

Test(qsd, direct)
{
    qsd_workload(&t_path_direct);
}

int main(int argc, char *argv[])
{
    return t_qsd_main(argc, argv);
}
