/* SPDX-License-Identifier: MIT */
/* The two examples of README.md, compiled and run (keep them in sync). */
#include <sys/uio.h>

#include "tst.h"

static unsigned irqs, resets, completed;
static void raise_irq(void) { irqs++; }
static void set_needs_reset(void) { resets++; }
static uint32_t fill_response(struct iovec *iov, int n)
{
    uint32_t w = 0;
    for (int i = 0; i < n; i++) {
        memset(iov[i].iov_base, 0xab, iov[i].iov_len);
        w += (uint32_t)iov[i].iov_len;
    }
    return w;
}
static void complete(void *req, uint32_t len)
{
    (void)req;
    (void)len;
    completed++;
}

static Env env;

Test(readme, device_side)
{
    env_init(&env, false, 256, FEAT_EVT);
    VMemMap *map = env.map;
    VqBuf rq[2] = { rbuf(DATA_GPA, 16), wbuf(DATA_GPA + 0x1000, 512) };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, rq, 2, 0, NULL), 0);
    }
    uint64_t desc = env.cfg.desc_addr, avail = env.cfg.driver_addr, used = env.cfg.device_addr;
    /* --- README --- */
    VqDevQueue *q;
    vq_dev_new(map, &q);
    VqConfig cfg = { .size = 256, .desc_addr = desc, .driver_addr = avail,
                     .device_addr = used,
                     .features = VQ_FEATURE(VQ_F_EVENT_IDX) | VQ_FEATURE(VQ_F_INDIRECT_DESC) };
    if (vq_dev_configure(q, &cfg) < 0) { cr_assert_fail(); }

    VqBuf bufs[256];
    VqElem e = { .bufs = bufs, .bufs_cap = 256 };
    struct iovec iov[256];
    int rc;
    vq_dev_disable_notify(q);
    do {
        while ((rc = vq_dev_pop(q, &e)) == 0) {
            int n = vq_bufs_to_iov(map, e.bufs + e.nout, e.nin, iov, 256);
            uint32_t written = n < 0 ? 0 : fill_response(iov, n);
            vq_dev_add_used(q, &e, written);
        }
        if (rc != -EAGAIN) { set_needs_reset(); break; }
        vq_dev_publish(q);
        if (vq_dev_should_notify(q) == 1) raise_irq();
    } while (vq_dev_enable_notify(q) == 1);
    /* --- end --- */
    cr_assert_eq(irqs, 1);
    cr_assert_eq(resets, 0);
    for (int i = 0; i < 5; i++) {
        uint16_t id;
        uint32_t len;
        cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
        cr_assert_eq(len, 512);
    }
    uint8_t byte;
    cr_assert_eq(vmem_read_u8(map, DATA_GPA + 0x1000 + 511, &byte), 0);
    cr_assert_eq(byte, 0xab);
    vq_dev_free(q);
    env_fini(&env);
}

Test(readme, driver_side)
{
    static Loop lp;
    loop_init(&lp, false, 256, FEAT_EVT);
    VMemMap *shadow_map = lp.map;
    VqConfig cfg = lp.cfg;
    uint64_t ind_gpa = LOOP_IND_GPA, hdr_gpa = DATA_GPA, data_gpa = DATA_GPA + 0x1000,
             st_gpa = DATA_GPA + 0x3000;
    int my_request_storage;
    void *my_request = &my_request_storage;
    int kicks = 0;
    /* --- README --- */
    VqDrvQueue *d;
    vq_drv_new(shadow_map, &d);
    vq_drv_configure(d, &cfg);
    vq_drv_set_indirect_area(d, ind_gpa, 16);

    VqBuf req[3] = {
        { .gpa = hdr_gpa,  .len = 16 },
        { .gpa = data_gpa, .len = 4096, .flags = VQ_BUF_WRITE },
        { .gpa = st_gpa,   .len = 1,    .flags = VQ_BUF_WRITE },
    };
    if (vq_drv_add(d, req, 3, (uint64_t)(uintptr_t)my_request, 0) == -ENOSPC) { cr_assert_fail(); }
    if (vq_drv_should_kick(d) == 1) kicks++; /* eventfd_write(kick_fd, 1) */
    /* --- end --- */
    cr_assert_eq(kicks, 1);
    cr_assert_eq(vq_dev_pop(lp.dev, &lp.elem), 0);
    cr_assert_eq(lp.elem.nin, 2);
    cr_assert_eq(vq_dev_push(lp.dev, &lp.elem, 4097), 0);
    /* --- README --- */
    VqUsed u;
    do {
        while (vq_drv_get_used(d, &u) == 0)
            complete((void *)(uintptr_t)u.token, u.len);
    } while (vq_drv_enable_cb(d) == 1);
    /* --- end --- */
    cr_assert_eq(completed, 1);
    cr_assert_eq((void *)(uintptr_t)u.token, my_request);
    cr_assert_eq(u.len, 4097);
    vq_drv_free(d);
    loop_fini(&lp);
}
