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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NBLOCKS 4096u /* 16 MiB image */
#define NSLOTS 64
#define QSIZE 256
#define DEPTH 32

typedef struct Qsd {
    char *dir;
    char *sock;
    char *image;
    pid_t pid;
} Qsd;

static void qsd_start(Qsd *q)
{
    char *blockdev, *export;

    q->dir = t_tmpdir();
    q->sock = g_strdup_printf("%s/qsd.sock", q->dir);
    q->image = t_make_image(q->dir, (uint64_t)NBLOCKS * T_BLOCK);
    blockdev = g_strdup_printf("driver=file,node-name=file0,filename=%s", q->image);
    export = g_strdup_printf("type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,"
                             "addr.path=%s,writable=on,num-queues=1",
                             q->sock);
    {
        char *argv[] = { (char *)t_qsd_path(), "--blockdev", blockdev, "--export", export, NULL };

        q->pid = t_spawn(argv);
    }
    g_free(blockdev);
    g_free(export);
}

static void qsd_stop(Qsd *q)
{
    if (q->pid > 0) {
        kill(q->pid, SIGTERM);
        if (t_reap(q->pid, 10000) < 0) {
            cr_log_warn("qemu-storage-daemon did not stop on SIGTERM");
        }
    }
    g_free(q->sock);
    g_free(q->image);
    t_rmtree(q->dir);
}

static void qsd_workload(SvqPath *p, unsigned rounds)
{
    Qsd q;
    VhuDev *dev;
    TGuest *g;
    TEvents ev;
    TBlk *b;
    GError *err = NULL;
    SvqStats st;

    qsd_start(&q);
    dev = t_dev_new(VHU_MODE_CLIENT, q.sock, 5000);
    t_dev_listen(dev, &ev);
    cr_assert(vhu_open(dev, &err), "open: %s", err ? err->message : "");
    cr_assert(vhu_wait_link_up(dev, 10000, &err), "%s", err ? err->message : "");
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
        cr_assert(p->inflight_at_toggles >= p->toggles, "toggled with nothing in flight");
        cr_assert(st.completed > 0 && st.completed < tblk_completed(b));
    } else {
        cr_assert_eq(st.completed, p->start_enabled ? tblk_completed(b) : 0);
    }
    cr_log_info("%s: %llu requests verified, %llu relayed, %llu handed back, %u toggles with"
                " %llu requests in flight in all",
                p->path.name, (unsigned long long)tblk_completed(b),
                (unsigned long long)st.completed, (unsigned long long)st.handed_back,
                p->toggles, (unsigned long long)p->inflight_at_toggles);
    p->path.stop(&p->path, dev, g);
    tblk_free(b);
    vhu_free(dev);
    tg_free(g);
    qsd_stop(&q);
}

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
    struct criterion_test_set *tests;
    int result = 0;

    if (!t_qsd_path()) {
        fprintf(stderr, "qemu-storage-daemon not found: SKIP\n");
        return 77;
    }
    tests = criterion_initialize();
    if (criterion_handle_args(argc, argv, true)) {
        result = !criterion_run_all_tests(tests);
    }
    criterion_finalize(tests);
    return result;
}
