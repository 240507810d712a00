/* SPDX-License-Identifier: MIT */
/* Driver side, alone and against the device side (loopback). */
#include "tst.h"

static Loop lp;

/* Pops one chain on the device side and checks it against @bufs. */
static void expect_chain(const VqBuf *bufs, unsigned n)
{
    int rc = vq_dev_pop(lp.dev, &lp.elem);
    cr_assert_eq(rc, 0, "pop: %s", vq_strerror(rc));
    cr_assert_eq((unsigned)lp.elem.nout + lp.elem.nin, n);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(lp.bufs[i].gpa, bufs[i].gpa, "buffer %u", i);
        cr_assert_eq(lp.bufs[i].len, bufs[i].len, "buffer %u", i);
        cr_assert_eq(lp.bufs[i].flags, bufs[i].flags, "buffer %u", i);
    }
}

BOTH_LAYOUTS(driver, loopback)
{
    loop_init(&lp, packed, 16, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 12), wbuf(DATA_GPA + 0x1000, 200), wbuf(DATA_GPA + 0x2000, 300) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 3, 0xabc, 0), 0);
    cr_assert_eq(vq_drv_add(lp.drv, b, 1, 0xdef, 0), 0);
    cr_assert_eq(vq_drv_num_inflight(lp.drv), 2);
    cr_assert_eq(vq_drv_num_free(lp.drv), 12);
    cr_assert_eq(vq_drv_has_used(lp.drv), 0);
    VqUsed u;
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EAGAIN);
    expect_chain(b, 3);
    VqElem first = lp.elem;
    VqBuf keep[3];
    memcpy(keep, lp.bufs, sizeof(keep));
    first.bufs = keep;
    expect_chain(b, 1);
    /* complete the second one first */
    cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 0), 0);
    cr_assert_eq(vq_dev_push(lp.dev, &first, 450), 0);
    cr_assert_eq(vq_drv_has_used(lp.drv), 1);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
    cr_assert_eq(u.token, 0xdef);
    cr_assert_eq(u.len, 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
    cr_assert_eq(u.token, 0xabc);
    cr_assert_eq(u.len, 450);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EAGAIN);
    cr_assert_eq(vq_drv_num_free(lp.drv), 16);
    cr_assert_eq(vq_drv_num_inflight(lp.drv), 0);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, accounting_and_full_ring)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA, 2), wbuf(DATA_GPA, 3) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 3, 1, 0), 0);
    cr_assert_eq(vq_drv_add(lp.drv, b, 3, 2, 0), 0);
    cr_assert_eq(vq_drv_num_free(lp.drv), 2);
    cr_assert_eq(vq_drv_add(lp.drv, b, 3, 3, 0), -ENOSPC);
    cr_assert_eq(vq_drv_num_free(lp.drv), 2);
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 3, 0), 0);
    cr_assert_eq(vq_drv_num_free(lp.drv), 0);
    cr_assert_eq(vq_drv_add(lp.drv, b, 1, 4, 0), -ENOSPC);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
        cr_assert_eq(vq_dev_add_used(lp.dev, &lp.elem, 1), 0);
    }
    cr_assert_eq(vq_dev_publish(lp.dev), 3);
    VqUsed u;
    for (uint64_t t = 1; t <= 3; t++) {
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
        cr_assert_eq(u.token, t);
    }
    cr_assert_eq(vq_drv_num_free(lp.drv), 8);
    /* the ring is usable again, including wrap of the packed ring */
    cr_assert_eq(vq_drv_add(lp.drv, b, 3, 5, 0), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(lp.elem.nout, 2);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, bad_arguments)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b[9];
    for (int i = 0; i < 9; i++) {
        b[i] = rbuf(DATA_GPA, 1);
    }
    cr_assert_eq(vq_drv_add(lp.drv, b, 0, 0, 0), -EINVAL);
    cr_assert_eq(vq_drv_add(lp.drv, b, 9, 0, 0), -EINVAL);
    cr_assert_eq(vq_drv_add(lp.drv, NULL, 1, 0, 0), -EINVAL);
    cr_assert_eq(vq_drv_add(lp.drv, b, 1, 0, 0x80), -EINVAL);
    VqBuf wr[2] = { wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_drv_add(lp.drv, wr, 2, 0, 0), -EINVAL);
    VqBuf big[2] = { wbuf(DATA_GPA, 0xffffffffu), wbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_drv_add(lp.drv, big, 2, 0, 0), -EINVAL);
    VqBuf odd = { .gpa = DATA_GPA, .len = 1, .flags = 0x4 };
    cr_assert_eq(vq_drv_add(lp.drv, &odd, 1, 0, 0), -EINVAL);
    cr_assert_eq(vq_drv_num_free(lp.drv), 8);
    VqUsed u;
    cr_assert_eq(vq_drv_get_used(lp.drv, NULL), -EINVAL);
    cr_assert_eq(vq_drv_get_used(NULL, &u), -EINVAL);
    vq_drv_reset(lp.drv);
    cr_assert_eq(vq_drv_add(lp.drv, b, 1, 0, 0), -EBADFD);
    cr_assert_eq(vq_drv_should_kick(lp.drv), -EBADFD);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EBADFD);
    cr_assert_eq(vq_drv_num_free(lp.drv), 0);
    cr_assert_eq(vq_drv_remap(lp.drv), -EBADFD);
    VqConfig c = lp.cfg;
    c.desc_addr = 8;
    cr_assert_eq(vq_drv_configure(lp.drv, &c), -EINVAL);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, indirect)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b[5] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA + 1, 2), wbuf(DATA_GPA + 2, 3),
                   wbuf(DATA_GPA + 3, 4), wbuf(DATA_GPA + 4, 5) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 5, 7, VQ_ADD_INDIRECT), -ENOTSUP);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA + 8, 8), -EINVAL);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 0), -EINVAL);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 9), -EINVAL);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, RAM_BASE + RAM_SIZE - 512, 8), -EFAULT);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 6), 0);
    cr_assert_eq(vq_drv_add(lp.drv, b, 5, 7, VQ_ADD_INDIRECT), 0);
    cr_assert_eq(vq_drv_num_free(lp.drv), 7);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 6), -EBUSY);
    VqBuf many[7];
    for (int i = 0; i < 7; i++) {
        many[i] = rbuf(DATA_GPA, 1);
    }
    cr_assert_eq(vq_drv_add(lp.drv, many, 7, 8, VQ_ADD_INDIRECT), -EINVAL);
    expect_chain(b, 5);
    cr_assert_eq(lp.elem.ndescs, 1);
    cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 12), 0);
    VqUsed u;
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
    cr_assert_eq(u.token, 7);
    cr_assert_eq(u.len, 12);
    cr_assert_eq(vq_drv_num_free(lp.drv), 8);
    loop_fini(&lp);

    loop_init(&lp, packed, 8, VQ_FEATURE(VQ_F_VERSION_1));
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 4), -ENOTSUP);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, buffers_outside_its_map)
{
    /* The shadow virtqueue case: the ring is in the driver's map, the
     * buffers are guest addresses it cannot (and need not) translate. */
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b[2] = { rbuf(0xdead00000000ull, 64), wbuf(0xbeef00000000ull, 4096) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 99, 0), 0);
    expect_chain(b, 2);
    struct iovec iov[2];
    cr_assert_eq(vq_bufs_to_iov(lp.map, lp.bufs, 2, iov, 2), -EFAULT);
    loop_fini(&lp);
}

/* ------------------------------------------------------------------------ */
/* Notifications between the two sides                                       */

BOTH_LAYOUTS(driver, kick_with_flags)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b = rbuf(DATA_GPA, 1);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 0); /* nothing added */
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 1);
    cr_assert_eq(vq_dev_disable_notify(lp.dev), 0);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 2, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 0);
    cr_assert_eq(vq_dev_enable_notify(lp.dev), 1); /* chains are waiting */
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 3, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 1);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, kick_with_event_idx)
{
    loop_init(&lp, packed, 8, FEAT_EVT);
    VqBuf b = rbuf(DATA_GPA, 1);
    /* The device pops until empty: that arms the event for the next chain. */
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), -EAGAIN);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 1);
    /* the device has not looked yet: no second kick */
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 2, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), -EAGAIN);
    /* several adds in a batch: one kick */
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 3, 0), 0);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 4, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 1);
    /* a device that disabled notifications gets no kick */
    cr_assert_eq(vq_dev_disable_notify(lp.dev), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), -EAGAIN);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 5, 0), 0);
    cr_assert_eq(vq_drv_should_kick(lp.drv), 0);
    cr_assert_eq(vq_dev_enable_notify(lp.dev), 1);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, callbacks)
{
    for (int evt = 0; evt < 2; evt++) {
        loop_init(&lp, packed, 8, evt ? FEAT_EVT : FEAT_ALL);
        VqBuf b = wbuf(DATA_GPA, 8);
        VqUsed u;
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(vq_drv_add(lp.drv, &b, 1, (uint64_t)i, 0), 0);
        }
        cr_assert_eq(vq_drv_disable_cb(lp.drv), 0);
        cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
        cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 1), 0);
        cr_assert_eq(vq_dev_should_notify(lp.dev), 0, "evt %d", evt);
        cr_assert_eq(vq_drv_enable_cb(lp.drv), 1); /* pending: collect it */
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EAGAIN); /* arms with EVENT_IDX */
        cr_assert_eq(vq_drv_enable_cb(lp.drv), 0);
        cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
        cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 1), 0);
        cr_assert_eq(vq_dev_should_notify(lp.dev), 1, "evt %d", evt);
        cr_assert_eq(vq_dev_should_notify(lp.dev), 0, "nothing new");
        cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
        cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 1), 0);
        /* without EVENT_IDX every publish notifies; with it only the
         * first one until the driver looks again */
        cr_assert_eq(vq_dev_should_notify(lp.dev), evt ? 0 : 1, "evt %d", evt);
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
        cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EAGAIN);
        cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
        cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 1), 0);
        cr_assert_eq(vq_dev_should_notify(lp.dev), 1, "evt %d", evt);
        loop_fini(&lp);
    }
}

/*
 * A randomised interleaving of both sides on one thread, with a model of
 * who is asleep: whenever a side goes to sleep (it found nothing and
 * re-enabled notifications), the other side must decide to notify it the
 * next time it publishes. A missed wake-up fails the test.
 */
BOTH_LAYOUTS(driver, no_lost_wakeup_model)
{
    for (int evt = 0; evt < 2; evt++) {
        uint32_t size = packed ? 7 : 8;
        loop_init(&lp, packed, size, evt ? FEAT_EVT : FEAT_ALL);
        unsigned seed = 12345u + (unsigned)evt;
        bool dev_sleeping = false, drv_sleeping = false;
        uint64_t added = 0, completed = 0;
        VqElem held[8];
        VqBuf held_bufs[8][3];
        unsigned nheld = 0;
        for (int step = 0; step < 200000; step++) {
            unsigned r = rand_r(&seed) % 6;
            if (r == 0) { /* driver adds (new requests come at any time) */
                VqBuf b[3] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA, 2), wbuf(DATA_GPA, 3) };
                if (vq_drv_add(lp.drv, b, 1 + rand_r(&seed) % 3, added, 0) == 0) {
                    added++;
                }
                int k = vq_drv_should_kick(lp.drv);
                cr_assert_geq(k, 0);
                if (dev_sleeping && vq_dev_has_avail(lp.dev) > 0) {
                    cr_assert_eq(k, 1, "lost kick at step %d", step);
                }
                if (k) {
                    dev_sleeping = false;
                }
            } else if (r == 1 && !dev_sleeping) { /* device pops */
                if (nheld < 8) {
                    held[nheld] = (VqElem){ .bufs = held_bufs[nheld], .bufs_cap = 3 };
                    int rc = vq_dev_pop(lp.dev, &held[nheld]);
                    cr_assert(rc == 0 || rc == -EAGAIN, "%s", vq_strerror(rc));
                    if (rc == 0) {
                        nheld++;
                    } else if (rand_r(&seed) % 2) {
                        /* goes to sleep: enable and re-check */
                        int e = vq_dev_enable_notify(lp.dev);
                        cr_assert_geq(e, 0);
                        dev_sleeping = e == 0;
                    }
                }
            } else if (r == 2 && nheld) { /* device completes (I/O done: any time) */
                unsigned k = 1 + rand_r(&seed) % nheld;
                for (unsigned i = 0; i < k; i++) {
                    cr_assert_eq(vq_dev_add_used(lp.dev, &held[--nheld], 0), 0);
                }
                cr_assert_geq(vq_dev_publish(lp.dev), 1);
                int nt = vq_dev_should_notify(lp.dev);
                cr_assert_geq(nt, 0);
                if (drv_sleeping) {
                    cr_assert_eq(nt, 1, "lost notification at step %d (evt %d)", step, evt);
                }
                if (nt) {
                    drv_sleeping = false;
                }
            } else if (r == 3 && !drv_sleeping) { /* driver collects */
                VqUsed u;
                int rc = vq_drv_get_used(lp.drv, &u);
                cr_assert(rc == 0 || rc == -EAGAIN, "%s", vq_strerror(rc));
                if (rc == 0) {
                    completed++;
                } else if (rand_r(&seed) % 2) {
                    int e = vq_drv_enable_cb(lp.drv);
                    cr_assert_geq(e, 0);
                    drv_sleeping = e == 0;
                }
            } else if (r == 4 && !dev_sleeping) {
                cr_assert_eq(vq_dev_disable_notify(lp.dev), 0);
            } else if (r == 5 && !drv_sleeping) {
                cr_assert_eq(vq_drv_disable_cb(lp.drv), 0);
            }
        }
        cr_assert_gt(completed, 10000, "completed %llu", (unsigned long long)completed);
        loop_fini(&lp);
    }
}

/* ------------------------------------------------------------------------ */
/* A device that lies                                                        */

static uint8_t *ring_host(uint64_t gpa)
{
    return vmem_translate_ptr(lp.map, gpa, 1);
}

Test(driver, split_malicious_used_ring)
{
    loop_init(&lp, false, 8, FEAT_ALL);
    VqBuf b = wbuf(DATA_GPA, 10);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 2, 0), 0);
    uint64_t used = lp.cfg.device_addr;
    VqUsed u;
    /* used->idx jumps beyond what is in flight */
    cr_assert_eq(vmem_write_le16(lp.map, used + 2, 3), 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EPROTO);
    cr_assert(vq_drv_is_broken(lp.drv));
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -EIO);
    cr_assert_eq(vq_drv_last_error(lp.drv), -EPROTO);
    /* id out of range */
    loop_fini(&lp);
    loop_init(&lp, false, 8, FEAT_ALL);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    used = lp.cfg.device_addr;
    cr_assert_eq(vmem_write_le32(lp.map, used + 4, 8), 0);
    cr_assert_eq(vmem_write_le16(lp.map, used + 2, 1), 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -ERANGE);
    loop_fini(&lp);
    /* id not in flight, and an id returned twice */
    loop_init(&lp, false, 8, FEAT_ALL);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 2, 0), 0);
    used = lp.cfg.device_addr;
    cr_assert_eq(vmem_write_le32(lp.map, used + 4, 0), 0);
    cr_assert_eq(vmem_write_le32(lp.map, used + 12, 0), 0);
    cr_assert_eq(vmem_write_le16(lp.map, used + 2, 2), 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
    cr_assert_eq(u.token, 1);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -ESTALE);
    loop_fini(&lp);
    (void)ring_host;
}

Test(driver, packed_malicious_used_ring)
{
    loop_init(&lp, true, 8, FEAT_ALL);
    VqBuf b = wbuf(DATA_GPA, 10);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    VqUsed u;
    uint64_t d0 = lp.cfg.desc_addr;
    /* a used descriptor with an id out of range */
    cr_assert_eq(vmem_write_le16(lp.map, d0 + 12, 9), 0);
    cr_assert_eq(vmem_write_le16(lp.map, d0 + 14, VQ_DESC_F_AVAIL | VQ_DESC_F_USED), 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -ERANGE);
    loop_fini(&lp);
    loop_init(&lp, true, 8, FEAT_ALL);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), 0);
    d0 = lp.cfg.desc_addr;
    cr_assert_eq(vmem_write_le16(lp.map, d0 + 12, 3), 0); /* never handed out */
    cr_assert_eq(vmem_write_le16(lp.map, d0 + 14, VQ_DESC_F_AVAIL | VQ_DESC_F_USED), 0);
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), -ESTALE);
    cr_assert(vq_drv_is_broken(lp.drv));
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, used_length_clamped_and_logged)
{
    LogCapture cap = {0};
    vq_set_log_func(capture_log, &cap);
    loop_init(&lp, packed, 8, FEAT_ALL);
    vq_drv_set_name(lp.drv, "shadow");
    VqBuf b[2] = { rbuf(DATA_GPA, 10), wbuf(DATA_GPA, 10) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 1, 0), 0);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    /* add_used_id does not clamp: the device side of a back-end might lie */
    cr_assert_eq(vq_dev_add_used_id(lp.dev, lp.elem.id, lp.elem.ndescs, 1000), 0);
    cr_assert_eq(vq_dev_publish(lp.dev), 1);
    VqUsed u;
    cr_assert_eq(vq_drv_get_used(lp.drv, &u), 0);
    cr_assert_eq(u.len, 10);
    cr_assert_eq(cap.count, 1);
    cr_assert(strstr(cap.last, "shadow") != NULL, "%s", cap.last);
    cr_assert_not(vq_drv_is_broken(lp.drv));
    vq_set_log_func(NULL, NULL);
    loop_fini(&lp);
}

BOTH_LAYOUTS(driver, detach_unused)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    VqBuf b[2] = { rbuf(DATA_GPA, 10), wbuf(DATA_GPA, 10) };
    for (uint64_t t = 1; t <= 3; t++) {
        cr_assert_eq(vq_drv_add(lp.drv, b, 2, t * 100, 0), 0);
    }
    uint64_t seen = 0, tok;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_drv_detach_unused(lp.drv, &tok), 0);
        cr_assert(tok == 100 || tok == 200 || tok == 300);
        cr_assert_eq(seen & (1ull << (tok / 100)), 0, "token %llu twice", (unsigned long long)tok);
        seen |= 1ull << (tok / 100);
    }
    cr_assert_eq(vq_drv_detach_unused(lp.drv, &tok), -ENOENT);
    cr_assert(vq_drv_is_broken(lp.drv));
    cr_assert_eq(vq_drv_last_error(lp.drv), -ECANCELED);
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 1, 0), -EIO);
    cr_assert_eq(vq_drv_configure(lp.drv, &lp.cfg), 0);
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 1, 0), 0);
    loop_fini(&lp);
}

Test(driver, remap)
{
    loop_init(&lp, false, 8, FEAT_ALL);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 4), 0);
    cr_assert_eq(vmem_map_add_anon(lp.map, 0x40000000, 0x10000), 0);
    cr_assert_eq(vq_drv_remap(lp.drv), 0);
    cr_assert_eq(vmem_map_remove(lp.map, RAM_BASE), 0);
    cr_assert_eq(vq_drv_remap(lp.drv), -EFAULT);
    VqBuf b = rbuf(DATA_GPA, 1);
    cr_assert_eq(vq_drv_add(lp.drv, &b, 1, 1, 0), -EBADFD);
    loop_fini(&lp);
}

/* ------------------------------------------------------------------------ */
/* 16-bit wrap-around: well past 65536 chains                                */

BOTH_LAYOUTS(wrap, loopback_past_65536)
{
    uint32_t size = packed ? 7 : 8; /* packed: not a power of two */
    loop_init(&lp, packed, size, FEAT_EVT);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 4), 0);
    unsigned seed = 7;
    uint64_t next_token = 0, expect = 0;
    const uint64_t total = 140000;
    VqBuf b[4] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA + 0x10, 2), wbuf(DATA_GPA + 0x20, 3),
                   wbuf(DATA_GPA + 0x30, 4) };
    while (expect < total) {
        /* fill */
        while (next_token < total) {
            unsigned n = 1 + rand_r(&seed) % 3;
            unsigned fl = rand_r(&seed) % 4 == 0 ? VQ_ADD_INDIRECT : 0;
            int rc = vq_drv_add(lp.drv, b, n, next_token, fl);
            if (rc == -ENOSPC) {
                break;
            }
            cr_assert_eq(rc, 0);
            next_token++;
        }
        /* the device completes everything in order, in one batch */
        int rc;
        unsigned popped = 0;
        while ((rc = vq_dev_pop(lp.dev, &lp.elem)) == 0) {
            cr_assert_eq(lp.elem.nout, 1);
            cr_assert_eq(vq_dev_add_used(lp.dev, &lp.elem, lp.elem.in_len), 0);
            popped++;
        }
        cr_assert_eq(rc, -EAGAIN);
        cr_assert_eq(vq_dev_publish(lp.dev), (int)popped);
        VqUsed u;
        while ((rc = vq_drv_get_used(lp.drv, &u)) == 0) {
            cr_assert_eq(u.token, expect, "token %llu, expected %llu",
                         (unsigned long long)u.token, (unsigned long long)expect);
            expect++;
        }
        cr_assert_eq(rc, -EAGAIN);
    }
    VqState s;
    cr_assert_eq(vq_dev_get_state(lp.dev, &s), 0);
    if (!packed) {
        cr_assert_eq(s.next_avail, (uint16_t)total);
        cr_assert_eq(s.next_used, (uint16_t)total);
    }
    cr_assert_eq(vq_drv_num_free(lp.drv), size);
    loop_fini(&lp);
}

BOTH_LAYOUTS(wrap, mock_past_65536)
{
    static Env env;
    env_init(&env, packed, packed ? 5 : 16, FEAT_ALL);
    VqBuf b = wbuf(DATA_GPA, 4);
    for (uint32_t i = 0; i < 70000; i++) {
        uint16_t id, got_id;
        uint32_t len;
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, (i % 3) ? 0 : VQ_MOCK_INDIRECT, &id), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0, "chain %u", i);
        cr_assert_eq(env.elem.id, id);
        cr_assert_eq(vq_dev_push(env.dq, &env.elem, i & 3), 0);
        cr_assert_eq(vq_mock_get_used(env.mock, &got_id, &len), 0);
        cr_assert_eq(got_id, id);
        cr_assert_eq(len, i & 3);
    }
    env_fini(&env);
}

BOTH_LAYOUTS(driver, dirty_logging_of_its_rings)
{
    loop_init(&lp, packed, 8, FEAT_ALL);
    cr_assert_eq(vq_drv_set_indirect_area(lp.drv, LOOP_IND_GPA, 4), 0);
    cr_assert_eq(vmem_dirty_log_start(lp.map), 0);
    VqBuf b[2] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_drv_add(lp.drv, b, 2, 1, VQ_ADD_INDIRECT), 0);
    uint64_t bm[1];
    cr_assert_eq(vmem_dirty_get_and_clear(lp.map, LOOP_RING_GPA, 1, bm), 0);
    cr_assert_eq(bm[0], 1);
    cr_assert_eq(vmem_dirty_get_and_clear(lp.map, LOOP_IND_GPA, 1, bm), 0);
    cr_assert_eq(bm[0], 1);
    cr_assert_eq(vmem_dirty_get_and_clear(lp.map, DATA_GPA, 1, bm), 0);
    cr_assert_eq(bm[0], 0, "buffers are not the driver's to mark");
    loop_fini(&lp);
}
