/* SPDX-License-Identifier: MIT */
/* Save/restore and hand-over of the device state. */
#include "tst.h"

static Env env;

static bool state_eq(const VqState *a, const VqState *b)
{
    return a->next_avail == b->next_avail && a->next_used == b->next_used &&
           a->avail_wrap == b->avail_wrap && a->used_wrap == b->used_wrap &&
           a->flags == b->flags;
}

BOTH_LAYOUTS(state, roundtrip_to_a_new_queue)
{
    env_init(&env, packed, 8, FEAT_ALL);
    VqBuf b[2] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA + 0x100, 64) };
    uint16_t ids[4];
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, &ids[i]), 0);
    }
    VqElem el[3];
    VqBuf store[3][2];
    for (int i = 0; i < 3; i++) {
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 2 };
        cr_assert_eq(vq_dev_pop(env.dq, &el[i]), 0);
    }
    cr_assert_eq(vq_dev_push(env.dq, &el[1], 7), 0);
    VqState s;
    cr_assert_eq(vq_dev_get_state(env.dq, &s), 0);
    cr_assert_eq(s.flags, 0);
    if (packed) {
        cr_assert_eq(s.next_avail, 6);
        cr_assert_eq(s.next_used, 2);
        cr_assert(s.avail_wrap && s.used_wrap);
    } else {
        cr_assert_eq(s.next_avail, 3);
        cr_assert_eq(s.next_used, 1);
    }
    /* A second device takes over (migration, or a back-end hand-over). */
    VqDevQueue *q2;
    cr_assert_eq(vq_dev_new(env.map, &q2), 0);
    cr_assert_eq(vq_dev_configure(q2, &env.cfg), 0);
    cr_assert_eq(vq_dev_set_state(q2, &s), 0);
    VqState back;
    cr_assert_eq(vq_dev_get_state(q2, &back), 0);
    cr_assert(state_eq(&back, &s));
    cr_assert_eq(vq_dev_pop(q2, &env.elem), 0);
    cr_assert_eq(env.elem.id, ids[3]);
    /* the chains in flight before the hand-over complete on the new queue */
    cr_assert_eq(vq_dev_add_used_id(q2, el[0].id, el[0].ndescs, 1), 0);
    cr_assert_eq(vq_dev_add_used_id(q2, el[2].id, el[2].ndescs, 2), 0);
    cr_assert_eq(vq_dev_add_used(q2, &env.elem, 3), 0);
    cr_assert_eq(vq_dev_publish(q2), 3);
    uint16_t id;
    uint32_t len;
    uint16_t want[4] = { ids[1], ids[0], ids[2], ids[3] };
    uint32_t wlen[4] = { 7, 1, 2, 3 };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
        cr_assert_eq(id, want[i]);
        cr_assert_eq(len, wlen[i]);
    }
    /* nothing more in flight than was popped */
    cr_assert_eq(vq_dev_add_used_id(q2, 0, 2, 0), -ENOSPC);
    vq_dev_free(q2);
    env_fini(&env);
}

BOTH_LAYOUTS(state, vring_base_handover)
{
    env_init(&env, packed, 8, FEAT_ALL);
    VqBuf b = wbuf(DATA_GPA, 64);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    }
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 1), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    VqState s, r;
    cr_assert_eq(vq_dev_get_state(env.dq, &s), 0);
    VqLayout lay = packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT;
    uint32_t base = vq_state_to_vring_base(lay, &s);
    cr_assert_eq(vq_state_from_vring_base(lay, base, &r), 0);
    if (packed) {
        cr_assert_eq(base, 2u | 1u << 15 | 1u << 16 | 1u << 31, "%#x", base);
        cr_assert_eq(r.flags, 0);
    } else {
        cr_assert_eq(base, 2);
        cr_assert_eq(r.flags, VQ_STATE_F_USED_FROM_RING);
    }
    VqDevQueue *q2;
    cr_assert_eq(vq_dev_new(env.map, &q2), 0);
    cr_assert_eq(vq_dev_configure(q2, &env.cfg), 0);
    cr_assert_eq(vq_dev_set_state(q2, &r), 0);
    VqState got;
    cr_assert_eq(vq_dev_get_state(q2, &got), 0);
    cr_assert_eq(got.next_used, s.next_used, "used index taken from the ring");
    cr_assert_eq(vq_dev_pop(q2, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(q2, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(q2, &env.elem), -EAGAIN);
    vq_dev_free(q2);
    env_fini(&env);
}

Test(state, vring_base_encoding)
{
    VqState s = { .next_avail = 0x1234, .next_used = 0x7fff, .avail_wrap = false, .used_wrap = true };
    uint32_t b = vq_state_to_vring_base(VQ_LAYOUT_PACKED, &s);
    cr_assert_eq(b, 0x1234u | 0xffffu << 16);
    VqState r;
    cr_assert_eq(vq_state_from_vring_base(VQ_LAYOUT_PACKED, b, &r), 0);
    cr_assert_eq(r.next_avail, 0x1234);
    cr_assert_eq(r.next_used, 0x7fff);
    cr_assert_not(r.avail_wrap);
    cr_assert(r.used_wrap);
    cr_assert_eq(vq_state_from_vring_base(VQ_LAYOUT_SPLIT, 0x10000, &r), -EINVAL);
    cr_assert_eq(vq_state_from_vring_base(VQ_LAYOUT_SPLIT, 0xffff, &r), 0);
    cr_assert_eq(r.next_avail, 0xffff);
    cr_assert_eq(vq_state_from_vring_base(_VQ_LAYOUT_INVALID, 0, &r), -EINVAL);
    cr_assert_eq(vq_state_from_vring_base(VQ_LAYOUT_SPLIT, 0, NULL), -EINVAL);
    cr_assert_eq(vq_state_to_vring_base(VQ_LAYOUT_SPLIT, NULL), 0);
}

/* A restore that fails must leave the previous state alone. */
static void expect_rejected(const VqState *bad, const VqState *before)
{
    cr_assert_eq(vq_dev_set_state(env.dq, bad), -EINVAL,
                 "state avail %u/%d used %u/%d flags %#x accepted", bad->next_avail,
                 bad->avail_wrap, bad->next_used, bad->used_wrap, bad->flags);
    VqState now;
    cr_assert_eq(vq_dev_get_state(env.dq, &now), 0);
    cr_assert(state_eq(&now, before));
}

Test(state, split_corrupted)
{
    env_init(&env, false, 8, FEAT_ALL);
    VqBuf b = wbuf(DATA_GPA, 64);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    }
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 1), 0);
    VqState before;
    cr_assert_eq(vq_dev_get_state(env.dq, &before), 0);
    /* used index different from the ring's */
    expect_rejected(&(VqState){ .next_avail = 1, .next_used = 0 }, &before);
    /* more in flight than the size */
    expect_rejected(&(VqState){ .next_avail = 10, .next_used = 1 }, &before);
    expect_rejected(&(VqState){ .next_avail = 0, .next_used = 1 }, &before);
    /* more available than the size: avail idx 3, next_avail far behind */
    cr_assert_eq(vmem_write_le16(env.map, env.cfg.device_addr + VQ_SPLIT_USED_IDX, 60000), 0);
    expect_rejected(&(VqState){ .next_avail = 60000, .next_used = 60000 }, &before);
    cr_assert_eq(vmem_write_le16(env.map, env.cfg.device_addr + VQ_SPLIT_USED_IDX, 1), 0);
    /* unknown flag */
    expect_rejected(&(VqState){ .next_avail = 1, .next_used = 1, .flags = 0x80 }, &before);
    /* from the ring, but the ring's used index is garbage */
    cr_assert_eq(vmem_write_le16(env.map, env.cfg.device_addr + VQ_SPLIT_USED_IDX, 30), 0);
    expect_rejected(&(VqState){ .next_avail = 1, .flags = VQ_STATE_F_USED_FROM_RING }, &before);
    cr_assert_eq(vmem_write_le16(env.map, env.cfg.device_addr + VQ_SPLIT_USED_IDX, 1), 0);
    /* valid: all of avail still to do, or everything in flight */
    cr_assert_eq(vq_dev_set_state(env.dq, &(VqState){ .next_avail = 1, .next_used = 1 }), 0);
    cr_assert_eq(vq_dev_set_state(env.dq, &(VqState){ .next_avail = 3, .next_used = 1 }), 0);
    cr_assert_eq(vq_dev_set_state(env.dq, NULL), -EINVAL);
    cr_assert_eq(vq_dev_get_state(env.dq, NULL), -EINVAL);
    env_fini(&env);
}

Test(state, packed_corrupted)
{
    env_init(&env, true, 8, FEAT_ALL);
    VqState before;
    cr_assert_eq(vq_dev_get_state(env.dq, &before), 0);
    expect_rejected(&(VqState){ .next_avail = 8, .avail_wrap = 1, .used_wrap = 1 }, &before);
    expect_rejected(&(VqState){ .next_used = 8, .avail_wrap = 1, .used_wrap = 1 }, &before);
    expect_rejected(&(VqState){ .next_avail = 0xffff, .next_used = 0xffff }, &before);
    /* used ahead of avail on the same lap: 15 descriptors in flight */
    expect_rejected(&(VqState){ .next_avail = 0, .next_used = 1, .avail_wrap = 1, .used_wrap = 1 },
                    &before);
    /* avail two laps ahead of used is impossible: 9 in flight */
    expect_rejected(&(VqState){ .next_avail = 1, .next_used = 0, .avail_wrap = 0, .used_wrap = 1 },
                    &before);
    expect_rejected(&(VqState){ .flags = VQ_STATE_F_USED_FROM_RING << 3 }, &before);
    /* full ring in flight is fine */
    cr_assert_eq(vq_dev_set_state(env.dq, &(VqState){ .next_avail = 3, .next_used = 3,
                                                       .avail_wrap = 0, .used_wrap = 1 }), 0);
    cr_assert_eq(vq_dev_add_used_id(env.dq, 0, 8, 0), 0);
    cr_assert_eq(vq_dev_add_used_id(env.dq, 0, 1, 0), -ENOSPC);
    env_fini(&env);
}

BOTH_LAYOUTS(state, restore_clears_broken_and_unconfigured)
{
    env_init(&env, packed, 8, FEAT_ALL);
    VqBuf b[2] = { wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
    VqState s;
    cr_assert_eq(vq_dev_get_state(env.dq, &s), 0);
    expect_violation(&env, -EILSEQ);
    /* the broken chain is still there: restoring to it breaks again */
    cr_assert_eq(vq_dev_set_state(env.dq, &s), 0);
    cr_assert_not(vq_dev_is_broken(env.dq));
    expect_violation(&env, -EILSEQ);
    vq_dev_reset(env.dq);
    cr_assert_eq(vq_dev_set_state(env.dq, &s), -EBADFD);
    env_fini(&env);
}
