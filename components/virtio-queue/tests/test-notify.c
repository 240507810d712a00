/* SPDX-License-Identifier: MIT */
/* Device-side notification suppression: flags, EVENT_IDX edges, packed. */
#include "tst.h"

static Env env;

/* Pops and pushes @n single-descriptor chains in one batch. */
static void complete(unsigned n)
{
    VqBuf b = wbuf(DATA_GPA, 8);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    }
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
        cr_assert_eq(vq_dev_add_used(env.dq, &env.elem, 1), 0);
    }
    cr_assert_eq(vq_dev_publish(env.dq), (int)n);
    uint16_t id;
    uint32_t len;
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
    }
}

Test(notify, split_avail_flags)
{
    env_init(&env, false, 16, FEAT_ALL);
    complete(1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "nothing published since");
    cr_assert_eq(vq_mock_split_set_avail_flags(env.mock, VQ_AVAIL_F_NO_INTERRUPT), 0);
    complete(2);
    cr_assert_eq(vq_dev_should_notify(env.dq), 0);
    cr_assert_eq(vq_mock_split_set_avail_flags(env.mock, 0), 0);
    complete(1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    /* used_event is ignored without EVENT_IDX */
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 1000), 0);
    complete(1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    env_fini(&env);
}

Test(notify, split_event_idx_edges)
{
    env_init(&env, false, 16, FEAT_EVT);
    /* NO_INTERRUPT is ignored with EVENT_IDX */
    cr_assert_eq(vq_mock_split_set_avail_flags(env.mock, VQ_AVAIL_F_NO_INTERRUPT), 0);
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 0), 0);
    complete(1); /* used 0 -> 1 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "event == old");
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 1), 0);
    complete(1); /* 1 -> 2 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 5), 0);
    complete(1); /* 2 -> 3 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "event ahead");
    complete(2); /* 3 -> 5 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "event == new");
    complete(1); /* 5 -> 6 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "event == old");
    complete(3); /* 6 -> 9: event 5 behind */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "event behind");
    /* several publishes before one decision: the range covers them all */
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 10), 0);
    complete(1); /* 9 -> 10 */
    complete(2); /* 10 -> 12 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "event inside [9, 12)");
    env_fini(&env);
}

/* Pops and pushes @n chains, publishing once, without reading them back. */
static void batch(unsigned n)
{
    VqBuf b = wbuf(DATA_GPA, 8);
    for (unsigned i = 0; i < n; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
        cr_assert_eq(vq_dev_add_used(env.dq, &env.elem, 1), 0);
    }
    cr_assert_eq(vq_dev_publish(env.dq), (int)n);
}

Test(notify, split_event_idx_wraps_16_bits)
{
    env_init(&env, false, 16, FEAT_EVT);
    /* Put the ring at index 65530, as after a long run, and restore. */
    cr_assert_eq(vmem_write_le16(env.map, env.cfg.device_addr + VQ_SPLIT_USED_IDX, 65530), 0);
    cr_assert_eq(vq_mock_split_set_avail_idx(env.mock, 65530), 0);
    VqState s = { .next_avail = 65530, .next_used = 65530 };
    cr_assert_eq(vq_dev_set_state(env.dq, &s), 0);
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 40000), 0);
    batch(1); /* 65530 -> 65531 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "first decision after a restore");
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 65535), 0);
    batch(3); /* 65531 -> 65534 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0);
    batch(4); /* 65534 -> 2, across the wrap */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "65535 in [65534, 2)");
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 1), 0);
    batch(1); /* 2 -> 3 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "event 1 behind");
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 65535), 0);
    batch(1); /* 3 -> 4 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "event 65535 behind");
    cr_assert_eq(vq_mock_split_set_used_event(env.mock, 4), 0);
    batch(1); /* 4 -> 5 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    env_fini(&env);
}

Test(notify, split_need_event_formula)
{
    /* vring_need_event over the whole 16-bit space, against a direct
     * definition: event in [old, new) modulo 2^16. */
    unsigned seed = 3;
    for (int i = 0; i < 200000; i++) {
        uint16_t old = (uint16_t)rand_r(&seed);
        uint16_t d = (uint16_t)(rand_r(&seed) % 40);
        uint16_t nw = (uint16_t)(old + d);
        uint16_t ev = (uint16_t)(old + (rand_r(&seed) % 60) - 10);
        bool in = (uint16_t)(ev - old) < d;
        cr_assert_eq(vq_need_event(ev, nw, old), in, "ev %u new %u old %u", ev, nw, old);
    }
}

Test(notify, split_enable_disable_kicks)
{
    env_init(&env, false, 16, FEAT_ALL);
    uint16_t v;
    cr_assert_eq(vq_dev_disable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_split_used_flags(env.mock, &v), 0);
    cr_assert_eq(v, VQ_USED_F_NO_NOTIFY);
    cr_assert_eq(vq_dev_enable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_split_used_flags(env.mock, &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(vq_dev_disable_notify(env.dq), 0);
    VqBuf b = rbuf(DATA_GPA, 1);
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_enable_notify(env.dq), 1, "a chain arrived while disabled");
    env_fini(&env);

    env_init(&env, false, 16, FEAT_EVT);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    }
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_mock_split_avail_event(env.mock, &v), 0);
    cr_assert_eq(v, 0, "not written while chains are available");
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    cr_assert_eq(vq_mock_split_avail_event(env.mock, &v), 0);
    cr_assert_eq(v, 3, "armed for the next chain at empty");
    cr_assert_eq(vq_dev_disable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    cr_assert_eq(vq_mock_split_avail_event(env.mock, &v), 0);
    cr_assert_eq(v, 3, "disabled: not moved");
    cr_assert_eq(vq_mock_split_used_flags(env.mock, &v), 0);
    cr_assert_eq(v, 0, "flags untouched with EVENT_IDX");
    cr_assert_eq(vq_dev_enable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_split_avail_event(env.mock, &v), 0);
    cr_assert_eq(v, 4);
    env_fini(&env);
}

Test(notify, packed_driver_event)
{
    env_init(&env, true, 4, FEAT_EVT);
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DISABLE, 0), 0);
    complete(1); /* position 0 -> 1 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0);
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_ENABLE, 0), 0);
    complete(1); /* 1 -> 2 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "nothing new");
    /* DESC: notify when position 2 of lap 1 (wrap 1) is used */
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DESC, 2 | 0x8000), 0);
    complete(1); /* 2 -> 3 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DESC, 0 | 0x0000), 0);
    complete(1); /* 3 -> 0, device wrap counter now 0 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0, "position 0 of the next lap not reached");
    complete(1); /* 0 -> 1 on lap 2 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "position 0 of lap 2 used");
    /* an event of the previous lap is behind */
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DESC, 3 | 0x8000), 0);
    complete(1); /* 1 -> 2 */
    cr_assert_eq(vq_dev_should_notify(env.dq), 0);
    /* event at the end of a lap, crossed by a batch that wraps */
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DESC, 3), 0);
    complete(3); /* 2 -> 1 (lap 3, wrap 1) */
    cr_assert_eq(vq_dev_should_notify(env.dq), 1, "3 of lap 2 inside the batch");
    /* reserved flags value 3: notify (safe) */
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, 3, 0), 0);
    complete(1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    env_fini(&env);

    /* without EVENT_IDX, DESC is not allowed: treated as ENABLE */
    env_init(&env, true, 4, FEAT_ALL);
    cr_assert_eq(vq_mock_packed_set_driver_event(env.mock, VQ_EVENT_F_DESC, 3), 0);
    complete(1);
    cr_assert_eq(vq_dev_should_notify(env.dq), 1);
    env_fini(&env);
}

Test(notify, packed_device_event)
{
    env_init(&env, true, 5, FEAT_ALL);
    uint16_t fl, desc;
    cr_assert_eq(vq_dev_disable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(fl, VQ_EVENT_F_DISABLE);
    cr_assert_eq(vq_dev_enable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(fl, VQ_EVENT_F_ENABLE);
    env_fini(&env);

    env_init(&env, true, 5, FEAT_EVT);
    VqBuf b[2] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA, 1) };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
        cr_assert_eq(vq_dev_push(env.dq, &env.elem, 0), 0);
    }
    /* 6 descriptors used on a ring of 5: next chain at 1, wrap 0 */
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(fl, VQ_EVENT_F_DESC);
    cr_assert_eq(desc, 1, "desc %#x", desc);
    cr_assert_eq(vq_dev_disable_notify(env.dq), 0);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(fl, VQ_EVENT_F_DISABLE);
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_enable_notify(env.dq), 1);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(fl, VQ_EVENT_F_DESC);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    cr_assert_eq(vq_mock_packed_device_event(env.mock, &fl, &desc), 0);
    cr_assert_eq(desc, 2, "desc %#x", desc);
    env_fini(&env);
}
