/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue against the real qemu-storage-daemon vhost-user-blk
 * export: thousands of 4 KiB blocks of random data written and read back by
 * a virtio-queue driver on the guest ring, with the shadow virtqueue off,
 * on, and toggled every few hundred requests while requests are in flight;
 * every block verified and the image file checked at the end. Exits 77
 * (SKIP) when qemu-storage-daemon is not installed.
 */
#include "svq-path.h"

#define NBLOCKS 4096u /* 16 MiB image */
#define NSLOTS 64
#define QSIZE 256
#define DEPTH 32

static void qsd_workload(SvqPath *p, unsigned rounds)
{
    TQsd q;
    VhuDev *dev;
    TGuest *g;
    TEvents ev;
    TBlk *b;
    SvqStats st;

    /* libvhost-user drops the connection when a request completes after
     * GET_VRING_BASE: switches wait for every request, however slow the
     * daemon is on a loaded machine. */
    p->drain_all = true;
    t_qsd_start(&q, (uint64_t)NBLOCKS * T_BLOCK);
    dev = t_qsd_connect(&q, &ev);
    g = tg_new(QSIZE, NSLOTS);
    t_blk_setup(dev, g, &p->path, 0);
    b = tblk_new(g, dev, &p->path, q.image, NBLOCKS, 42);
    for (unsigned r = 0; r < rounds; r++) {
        tblk_round(b, DEPTH);
    }
    tblk_check_image(b);
    svq_queue_get_stats(p->svq, 0, &st);
    cr_assert_eq(p->breaks, 0);
    cr_assert_eq(ev.downs, 0, "the daemon dropped the connection");
    if (p->toggle_every) {
        cr_assert(p->toggles >= 10, "%u toggles", p->toggles);
        /* The path toggles right after a kick, before anything is reaped:
         * every toggle had requests outstanding. */
        cr_assert(p->outstanding_at_toggles >= p->toggles, "%llu requests outstanding at %u"
                  " toggles", (unsigned long long)p->outstanding_at_toggles, p->toggles);
        cr_assert(st.completed > 0 && st.completed < tblk_completed(b));
    } else {
        cr_assert_eq(st.completed, p->start_enabled ? tblk_completed(b) : 0);
    }
    cr_log_info("%s: %llu requests verified, %llu relayed, %llu handed back, %u toggles with"
                " %llu requests in flight in all",
                p->path.name, (unsigned long long)tblk_completed(b),
                (unsigned long long)st.completed, (unsigned long long)st.handed_back,
                p->toggles, (unsigned long long)p->outstanding_at_toggles);
    p->path.stop(&p->path, dev, g);
    tblk_free(b);
    vhu_free(dev);
    tg_free(g);
    t_qsd_stop(&q);
}

TestSuite(svq_qsd, .fini = t_cleanup);

Test(svq_qsd, off)
{
    SvqPath p;

    svq_path_init(&p, "off", false, 0);
    qsd_workload(&p, 1);
}

Test(svq_qsd, on)
{
    SvqPath p;

    svq_path_init(&p, "on", true, 0);
    qsd_workload(&p, 1);
}

Test(svq_qsd, toggled)
{
    SvqPath p;

    svq_path_init(&p, "toggled", false, 300);
    qsd_workload(&p, 2);
}

int main(int argc, char *argv[])
{
    return t_qsd_main(argc, argv);
}
