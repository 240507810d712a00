/* SPDX-License-Identifier: MIT */
/* Device side: configuration, every chain rule, used entries, iovecs. */
#include "tst.h"

static Env env;

/* A raw descriptor at ring index i; packed gets the avail bits of lap 1. */
static void raw_desc(uint32_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next_or_id)
{
    if (env.packed) {
        flags |= VQ_DESC_F_AVAIL;
    }
    cr_assert_eq(vq_mock_write_desc(env.mock, i, addr, len, flags, next_or_id), 0);
}

/* A raw descriptor of an indirect table. */
static void raw_table(uint64_t table, uint32_t i, uint64_t addr, uint32_t len, uint16_t flags,
                      uint16_t next)
{
    cr_assert_eq(vq_mock_write_table_desc(env.mock, table, i, addr, len, flags, next), 0);
}

/* Makes the chain at descriptor @head available (split); packed chains are
 * available as soon as their head is written. */
static void raw_publish(uint16_t head)
{
    if (!env.packed) {
        cr_assert_eq(vq_mock_split_push_avail(env.mock, head), 0);
    }
}

static void setup(bool packed, uint32_t size, uint64_t features)
{
    env_init(&env, packed, size, features);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */

Test(config, checks)
{
    VMemMap *m;
    cr_assert_eq(vmem_map_new(&m), 0);
    cr_assert_eq(vmem_map_add_anon(m, 0x10000, 0x10000), 0);
    cr_assert_eq(vmem_map_add_anon(m, 0x20000, 0x10000), 0); /* adjacent */
    VqConfig c = { .size = 256, .desc_addr = 0x10000, .driver_addr = 0x11000,
                   .device_addr = 0x12000, .features = 0 };
    cr_assert_eq(vq_config_check(m, &c), 0);
    cr_assert_eq(vq_config_layout(&c), VQ_LAYOUT_SPLIT);
    VqConfig b = c;
    uint32_t bad_split[] = { 0, 3, 100, 65536, 32769 };
    for (unsigned i = 0; i < sizeof(bad_split) / sizeof(bad_split[0]); i++) {
        b.size = bad_split[i];
        cr_assert_eq(vq_config_check(m, &b), -EINVAL, "split size %u", bad_split[i]);
    }
    b.size = 1;
    cr_assert_eq(vq_config_check(m, &b), 0);
    b.size = 32768; /* 512 KiB of descriptors: out of memory */
    cr_assert_eq(vq_config_check(m, &b), -EFAULT);
    b = c;
    b.desc_addr += 8;
    cr_assert_eq(vq_config_check(m, &b), -EINVAL);
    b = c;
    b.driver_addr += 1;
    cr_assert_eq(vq_config_check(m, &b), -EINVAL);
    b = c;
    b.device_addr += 2;
    cr_assert_eq(vq_config_check(m, &b), -EINVAL);
    b = c;
    b.device_addr = 0x40000;
    cr_assert_eq(vq_config_check(m, &b), -EFAULT);
    b = c;
    b.desc_addr = 0x1f800; /* 4 KiB table across the region boundary */
    cr_assert_eq(vq_config_check(m, &b), -EFAULT);
    b = c;
    b.desc_addr = 0xfffffffffffff000ull;
    cr_assert_eq(vq_config_check(m, &b), -EFAULT);

    VqConfig p = c;
    p.features = FEAT_PACKED;
    cr_assert_eq(vq_config_layout(&p), VQ_LAYOUT_PACKED);
    p.size = 100; /* any size for packed */
    cr_assert_eq(vq_config_check(m, &p), 0);
    p.size = 32769;
    cr_assert_eq(vq_config_check(m, &p), -EINVAL);
    p.size = 100;
    p.driver_addr = 0x11002; /* event structures align on 4 */
    cr_assert_eq(vq_config_check(m, &p), -EINVAL);
    p.driver_addr = 0x1fffc; /* 4 bytes at the end of a region: fine */
    cr_assert_eq(vq_config_check(m, &p), 0);
    cr_assert_eq(vq_config_check(NULL, &p), -EINVAL);
    cr_assert_eq(vq_config_check(m, NULL), -EINVAL);
    cr_assert_eq(vq_config_layout(NULL), _VQ_LAYOUT_INVALID);
    vmem_map_free(m);
}

Test(config, unconfigured_queue)
{
    VMemMap *m;
    VqDevQueue *q;
    cr_assert_eq(vmem_map_new(&m), 0);
    cr_assert_eq(vq_dev_new(m, &q), 0);
    cr_assert_eq(vq_dev_new(NULL, &q), -EINVAL);
    VqBuf b[4];
    VqElem e = { .bufs = b, .bufs_cap = 4 };
    VqState s = {0};
    cr_assert_eq(vq_dev_pop(q, &e), -EBADFD);
    cr_assert_eq(vq_dev_add_used_id(q, 0, 1, 0), -EBADFD);
    cr_assert_eq(vq_dev_publish(q), -EBADFD);
    cr_assert_eq(vq_dev_should_notify(q), -EBADFD);
    cr_assert_eq(vq_dev_enable_notify(q), -EBADFD);
    cr_assert_eq(vq_dev_get_state(q, &s), -EBADFD);
    cr_assert_eq(vq_dev_set_state(q, &s), -EBADFD);
    cr_assert_eq(vq_dev_remap(q), -EBADFD);
    cr_assert_not(vq_dev_is_ready(q));
    cr_assert_eq(vq_dev_layout(q), _VQ_LAYOUT_INVALID);
    cr_assert_eq(vq_dev_size(q), 0);
    cr_assert_eq(vq_dev_pop(NULL, &e), -EINVAL);
    VqConfig c = { .size = 16, .desc_addr = 0x1000 };
    cr_assert_eq(vq_dev_configure(q, &c), -EFAULT); /* empty map */
    cr_assert_eq(vq_dev_configure(q, NULL), -EINVAL);
    vq_dev_free(q);
    vq_dev_free(NULL);
    vmem_map_free(m);
}

/* ------------------------------------------------------------------------ */
/* Valid chains                                                              */

BOTH_LAYOUTS(pop, single_direct)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b = rbuf(DATA_GPA, 100);
    uint16_t id;
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, &id), 0);
    cr_assert_eq(vq_dev_has_avail(env.dq), 1);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, id);
    cr_assert_eq(env.elem.ndescs, 1);
    cr_assert_eq(env.elem.nout, 1);
    cr_assert_eq(env.elem.nin, 0);
    cr_assert_eq(env.elem.out_len, 100);
    cr_assert_eq(env.elem.in_len, 0);
    cr_assert_eq(env.bufs[0].gpa, DATA_GPA);
    cr_assert_eq(env.bufs[0].len, 100);
    cr_assert_eq(env.bufs[0].flags, 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    cr_assert_eq(vq_dev_has_avail(env.dq), 0);
    cr_assert_not(vq_dev_is_broken(env.dq));
    env_fini(&env);
}

BOTH_LAYOUTS(pop, mixed_chain)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[5] = { rbuf(DATA_GPA, 16), rbuf(DATA_GPA + 0x1000, 512), wbuf(DATA_GPA + 0x2000, 4096),
                   wbuf(DATA_GPA + 0x4000, 1), wbuf(DATA_GPA + 0x5000, 7) };
    uint16_t id;
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 5, 0, &id), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, id);
    cr_assert_eq(env.elem.ndescs, 5);
    cr_assert_eq(env.elem.nout, 2);
    cr_assert_eq(env.elem.nin, 3);
    cr_assert_eq(env.elem.out_len, 528);
    cr_assert_eq(env.elem.in_len, 4104);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(env.bufs[i].gpa, b[i].gpa);
        cr_assert_eq(env.bufs[i].len, b[i].len);
        cr_assert_eq(env.bufs[i].flags, b[i].flags);
    }
    env_fini(&env);
}

BOTH_LAYOUTS(pop, indirect_chain)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[4] = { rbuf(DATA_GPA, 16), wbuf(DATA_GPA + 0x100, 32), wbuf(DATA_GPA + 0x200, 64),
                   wbuf(DATA_GPA + 0x300, 1) };
    uint16_t id;
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 4, VQ_MOCK_INDIRECT, &id), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, id);
    cr_assert_eq(env.elem.ndescs, 1);
    cr_assert_eq(env.elem.nout, 1);
    cr_assert_eq(env.elem.nin, 3);
    cr_assert_eq(env.elem.in_len, 97);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(env.bufs[i].gpa, b[i].gpa);
        cr_assert_eq(env.bufs[i].flags, b[i].flags);
    }
    env_fini(&env);
}

Test(pop, split_direct_then_indirect)
{
    setup(false, 16, FEAT_ALL);
    uint64_t t = vq_mock_indirect_gpa(env.mock, 3);
    raw_table(t, 0, DATA_GPA + 0x10, 8, VQ_DESC_F_NEXT, 1);
    raw_table(t, 1, DATA_GPA + 0x20, 9, VQ_DESC_F_WRITE, 0);
    raw_desc(5, DATA_GPA, 4, VQ_DESC_F_NEXT, 6);
    /* WRITE on the descriptor of an indirect table is ignored (2.7.5.3.2) */
    raw_desc(6, t, 32, VQ_DESC_F_INDIRECT | VQ_DESC_F_WRITE, 0);
    raw_publish(5);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, 5);
    cr_assert_eq(env.elem.ndescs, 2);
    cr_assert_eq(env.elem.nout, 2);
    cr_assert_eq(env.elem.nin, 1);
    cr_assert_eq(env.bufs[1].gpa, DATA_GPA + 0x10);
    cr_assert_eq(env.bufs[2].len, 9);
    env_fini(&env);
}

BOTH_LAYOUTS(pop, zero_length_and_full_size_chains)
{
    setup(packed, 8, FEAT_ALL);
    VqBuf b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = i < 4 ? rbuf(DATA_GPA + i, 0) : wbuf(DATA_GPA + i, 0);
    }
    /* A chain of exactly the queue size, then an indirect table of it. */
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 8, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.nout, 4);
    cr_assert_eq(env.elem.nin, 4);
    cr_assert_eq(env.elem.out_len, 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 0), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 8, VQ_MOCK_INDIRECT, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.nout + env.elem.nin, 8);
    env_fini(&env);
}

BOTH_LAYOUTS(pop, indirect_spans_regions_and_unaligned)
{
    setup(packed, 16, FEAT_ALL);
    /* A second region right after the first: a table across the seam is
     * read through the map, descriptor by descriptor. */
    uint64_t seam = RAM_BASE + RAM_SIZE;
    cr_assert_eq(vmem_map_add_anon(env.map, seam, 0x10000), 0);
    uint64_t t = seam - 24; /* also unaligned: 8 mod 16 */
    VqBuf b[3] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA + 1, 2), wbuf(DATA_GPA + 2, 3) };
    for (uint32_t i = 0; i < 3; i++) {
        raw_table(t, i, b[i].gpa, b[i].len, (uint16_t)(b[i].flags | (!packed && i < 2 ? VQ_DESC_F_NEXT : 0)),
                  (uint16_t)(packed ? 0 : i + 1));
    }
    raw_desc(0, t, 48, VQ_DESC_F_INDIRECT, 0);
    raw_publish(0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.nout, 2);
    cr_assert_eq(env.elem.nin, 1);
    cr_assert_eq(env.bufs[2].len, 3);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 3), 0);
    /* Unaligned but in one region. */
    t = DATA_GPA + 0x108;
    for (uint32_t i = 0; i < 3; i++) {
        raw_table(t, i, b[i].gpa, b[i].len, (uint16_t)(b[i].flags | (!packed && i < 2 ? VQ_DESC_F_NEXT : 0)),
                  (uint16_t)(packed ? 0 : i + 1));
    }
    raw_desc(1, t, 48, VQ_DESC_F_INDIRECT, 1);
    raw_publish(1);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.nout, 2);
    cr_assert_eq(env.bufs[1].gpa, DATA_GPA + 1);
    env_fini(&env);
}

BOTH_LAYOUTS(pop, enobufs_is_not_fatal)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA, 2), wbuf(DATA_GPA, 3) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 3, 0, NULL), 0);
    VqBuf small[2];
    VqElem e = { .bufs = small, .bufs_cap = 2 };
    cr_assert_eq(vq_dev_pop(env.dq, &e), -ENOBUFS);
    cr_assert_not(vq_dev_is_broken(env.dq));
    e.bufs = NULL;
    cr_assert_eq(vq_dev_pop(env.dq, &e), -EINVAL);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.nin, 1);
    env_fini(&env);
}

BOTH_LAYOUTS(pop, unpop_gives_the_chain_back)
{
    setup(packed, 4, FEAT_ALL);
    VqBuf b[2] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA, 2) };
    uint16_t id1, id2;
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, &id1), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, &id2), 0);
    cr_assert_eq(vq_dev_unpop(env.dq, &env.elem), -EINVAL); /* nothing popped */
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
        cr_assert_eq(env.elem.id, id1);
        cr_assert_eq(vq_dev_unpop(env.dq, &env.elem), 0);
    }
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 2), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, id2);
    /* packed: id2 sits at positions 2..3; unpop across the wrap boundary */
    cr_assert_eq(vq_dev_unpop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.id, id2);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EAGAIN);
    env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Violations: each rule, distinct error, queue broken                       */

BOTH_LAYOUTS(rules, readable_after_writable)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[2] = { wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 2) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
    expect_violation(&env, -EILSEQ);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, readable_after_writable_indirect)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 2) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 3, VQ_MOCK_INDIRECT, NULL), 0);
    expect_violation(&env, -EILSEQ);
    env_fini(&env);
}

Test(rules, split_head_out_of_range)
{
    setup(false, 16, FEAT_ALL);
    raw_publish(16);
    expect_violation(&env, -ERANGE);
    env_fini(&env);
}

Test(rules, split_next_out_of_range)
{
    setup(false, 16, FEAT_ALL);
    raw_desc(0, DATA_GPA, 1, VQ_DESC_F_NEXT, 16);
    raw_publish(0);
    expect_violation(&env, -ERANGE);
    env_fini(&env);
}

Test(rules, split_loops)
{
    setup(false, 16, FEAT_ALL);
    raw_desc(0, DATA_GPA, 1, VQ_DESC_F_NEXT, 1);
    raw_desc(1, DATA_GPA, 1, VQ_DESC_F_NEXT, 0);
    raw_publish(0);
    expect_violation(&env, -ELOOP);
    /* a descriptor pointing at itself */
    cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
    cr_assert_not(vq_dev_is_broken(env.dq));
    raw_desc(2, DATA_GPA, 1, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
    cr_assert_eq(vq_mock_split_set_avail_idx(env.mock, 0), 0);
    raw_publish(2);
    expect_violation(&env, -ELOOP);
    env_fini(&env);
}

Test(rules, split_indirect_loop_and_range)
{
    setup(false, 16, FEAT_ALL);
    uint64_t t = vq_mock_indirect_gpa(env.mock, 0);
    raw_table(t, 0, DATA_GPA, 1, VQ_DESC_F_NEXT, 1);
    raw_table(t, 1, DATA_GPA, 1, VQ_DESC_F_NEXT, 0);
    raw_desc(0, t, 32, VQ_DESC_F_INDIRECT, 0);
    raw_publish(0);
    expect_violation(&env, -ELOOP);
    cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
    raw_table(t, 1, DATA_GPA, 1, VQ_DESC_F_NEXT, 2); /* table has 2 entries */
    cr_assert_eq(vq_mock_split_set_avail_idx(env.mock, 0), 0);
    raw_publish(0);
    expect_violation(&env, -ERANGE);
    env_fini(&env);
}

Test(rules, packed_chain_longer_than_queue)
{
    setup(true, 8, FEAT_ALL);
    for (uint32_t i = 0; i < 8; i++) {
        raw_desc(i, DATA_GPA, 1, VQ_DESC_F_NEXT, 0);
    }
    expect_violation(&env, -ELOOP);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, nested_indirect)
{
    setup(packed, 16, FEAT_ALL);
    uint64_t t = vq_mock_indirect_gpa(env.mock, 0);
    raw_table(t, 0, DATA_GPA, 1, packed ? 0 : VQ_DESC_F_NEXT, 1);
    raw_table(t, 1, vq_mock_indirect_gpa(env.mock, 1), 16, VQ_DESC_F_INDIRECT, 0);
    raw_desc(0, t, 32, VQ_DESC_F_INDIRECT, 0);
    raw_publish(0);
    expect_violation(&env, -EMLINK);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, indirect_with_next)
{
    setup(packed, 16, FEAT_ALL);
    uint64_t t = vq_mock_indirect_gpa(env.mock, 0);
    raw_table(t, 0, DATA_GPA, 1, 0, 0);
    raw_desc(0, t, 16, VQ_DESC_F_INDIRECT | VQ_DESC_F_NEXT, 1);
    raw_desc(1, DATA_GPA, 1, 0, 0);
    raw_publish(0);
    expect_violation(&env, -EBADMSG);
    env_fini(&env);
}

Test(rules, packed_indirect_inside_chain)
{
    setup(true, 16, FEAT_ALL);
    uint64_t t = vq_mock_indirect_gpa(env.mock, 0);
    raw_table(t, 0, DATA_GPA, 1, 0, 0);
    raw_desc(0, DATA_GPA, 1, VQ_DESC_F_NEXT, 0);
    raw_desc(1, t, 16, VQ_DESC_F_INDIRECT, 0);
    expect_violation(&env, -EBADMSG);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, indirect_bad_lengths)
{
    uint32_t lens[] = { 0, 24, 17 * 16, 8 };
    for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        setup(packed, 16, FEAT_ALL);
        raw_desc(0, vq_mock_indirect_gpa(env.mock, 0), lens[i], VQ_DESC_F_INDIRECT, 0);
        raw_publish(0);
        expect_violation(&env, -EMSGSIZE);
        env_fini(&env);
    }
}

BOTH_LAYOUTS(rules, length_overflow)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA, 0xffffffffu), wbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 3, 0, NULL), 0);
    expect_violation(&env, -EOVERFLOW);
    env_fini(&env);
    setup(packed, 16, FEAT_ALL);
    VqBuf r[2] = { rbuf(DATA_GPA, 0x80000000u), rbuf(DATA_GPA, 0x80000000u) };
    cr_assert_eq(vq_mock_add_chain(env.mock, r, 2, VQ_MOCK_INDIRECT, NULL), 0);
    expect_violation(&env, -EOVERFLOW);
    env_fini(&env);
    /* exactly 2^32 - 1 is fine */
    setup(packed, 16, FEAT_ALL);
    VqBuf ok[2] = { wbuf(DATA_GPA, 0x80000000u), wbuf(DATA_GPA, 0x7fffffffu) };
    cr_assert_eq(vq_mock_add_chain(env.mock, ok, 2, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(env.elem.in_len, 0xffffffffu);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, indirect_outside_memory)
{
    setup(packed, 16, FEAT_ALL);
    raw_desc(0, RAM_BASE + RAM_SIZE - 16, 32, VQ_DESC_F_INDIRECT, 0); /* half outside */
    raw_publish(0);
    expect_violation(&env, -EFAULT);
    env_fini(&env);
    setup(packed, 16, FEAT_ALL);
    raw_desc(0, 0xfffffffffffffff0ull, 32, VQ_DESC_F_INDIRECT, 0); /* wraps */
    raw_publish(0);
    expect_violation(&env, -EFAULT);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, indirect_not_negotiated)
{
    setup(packed, 16, VQ_FEATURE(VQ_F_VERSION_1));
    VqBuf b = rbuf(DATA_GPA, 1);
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, VQ_MOCK_INDIRECT, NULL), 0);
    expect_violation(&env, -ENOTSUP);
    env_fini(&env);
}

Test(rules, split_avail_index_jump)
{
    setup(false, 16, FEAT_ALL);
    cr_assert_eq(vq_mock_split_set_avail_idx(env.mock, 17), 0);
    cr_assert_eq(vq_dev_has_avail(env.dq), -EPROTO);
    cr_assert(vq_dev_is_broken(env.dq));
    cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
    expect_violation(&env, -EPROTO);
    env_fini(&env);
}

Test(rules, split_more_in_flight_than_size)
{
    setup(false, 4, FEAT_ALL);
    VqBuf b = rbuf(DATA_GPA, 1);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    }
    /* The driver offers heads that the device still holds. */
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    expect_violation(&env, -EPROTO);
    env_fini(&env);
}

Test(rules, packed_more_in_flight_than_size)
{
    setup(true, 4, FEAT_ALL);
    VqBuf b = rbuf(DATA_GPA, 1);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    }
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0); /* overwrites slot 0 */
    expect_violation(&env, -EPROTO);
    env_fini(&env);
}

BOTH_LAYOUTS(rules, reconfigure_clears_broken)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[2] = { wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 2) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
    expect_violation(&env, -EILSEQ);
    cr_assert_eq(vq_dev_add_used_id(env.dq, 0, 1, 0), -EIO);
    cr_assert_eq(vq_dev_publish(env.dq), -EIO);
    cr_assert_eq(vq_dev_should_notify(env.dq), -EIO);
    vq_dev_reset(env.dq);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EBADFD);
    cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
    cr_assert_not(vq_dev_is_broken(env.dq));
    cr_assert_eq(vq_dev_last_error(env.dq), 0);
    env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Used entries                                                              */

BOTH_LAYOUTS(used, batch_out_of_order)
{
    setup(packed, 8, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA + 0x100, 100), wbuf(DATA_GPA + 0x200, 100) };
    uint16_t ids[3];
    VqElem el[3];
    VqBuf store[3][3];
    unsigned lens[3] = { 2, 1, 3 };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, b, lens[i], 0, &ids[i]), 0);
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 3 };
        cr_assert_eq(vq_dev_pop(env.dq, &el[i]), 0);
        cr_assert_eq(el[i].id, ids[i]);
    }
    /* complete 2, 0, 1; nothing visible before publish */
    cr_assert_eq(vq_dev_add_used(env.dq, &el[2], 150), 0);
    cr_assert_eq(vq_dev_add_used(env.dq, &el[0], 50), 0);
    cr_assert_eq(vq_dev_add_used(env.dq, &el[1], 0), 0);
    uint16_t id;
    uint32_t len;
    cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), -EAGAIN);
    VqState s;
    cr_assert_eq(vq_dev_get_state(env.dq, &s), -EBUSY);
    cr_assert_eq(vq_dev_publish(env.dq), 3);
    cr_assert_eq(vq_dev_publish(env.dq), 0);
    int order[3] = { 2, 0, 1 };
    uint32_t want_len[3] = { 150, 50, 0 };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
        cr_assert_eq(id, ids[order[i]]);
        cr_assert_eq(len, want_len[i]);
    }
    cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), -EAGAIN);
    /* The used position accounts for every descriptor: 6 of 8. */
    cr_assert_eq(vq_dev_get_state(env.dq, &s), 0);
    cr_assert_eq(s.next_used, packed ? 6 : 3);
    env_fini(&env);
}

BOTH_LAYOUTS(used, length_clamped_to_writable)
{
    setup(packed, 8, FEAT_ALL);
    VqBuf b[2] = { rbuf(DATA_GPA, 10), wbuf(DATA_GPA, 100) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 5000), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 10), 0);
    uint16_t id;
    uint32_t len;
    cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
    cr_assert_eq(len, 100);
    cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
    cr_assert_eq(len, 0);
    env_fini(&env);
}

BOTH_LAYOUTS(used, more_than_popped)
{
    setup(packed, 8, FEAT_ALL);
    VqElem fake = { .id = 0, .ndescs = 1 };
    cr_assert_eq(vq_dev_add_used(env.dq, &fake, 0), -ENOSPC);
    VqBuf b[2] = { rbuf(DATA_GPA, 1), rbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 2, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    if (packed) {
        cr_assert_eq(vq_dev_add_used_id(env.dq, env.elem.id, 3, 0), -ENOSPC);
        cr_assert_eq(vq_dev_add_used_id(env.dq, env.elem.id, 0, 0), -EINVAL);
        cr_assert_eq(vq_dev_add_used_id(env.dq, env.elem.id, 9, 0), -EINVAL);
    } else {
        cr_assert_eq(vq_dev_add_used_id(env.dq, 8, 1, 0), -EINVAL);
    }
    cr_assert_eq(vq_dev_add_used(env.dq, &env.elem, 0), 0);
    cr_assert_eq(vq_dev_add_used(env.dq, &env.elem, 0), -ENOSPC);
    cr_assert_eq(vq_dev_add_used(env.dq, NULL, 0), -EINVAL);
    cr_assert_not(vq_dev_is_broken(env.dq));
    env_fini(&env);
}

BOTH_LAYOUTS(used, dirty_logging)
{
    setup(packed, 8, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 0x100), wbuf(DATA_GPA + 0x5000, 0x1000),
                   wbuf(DATA_GPA + 0x6000, 0x2000) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 3, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vmem_dirty_log_start(env.map), 0);
    cr_assert_eq(vq_dev_push(env.dq, &env.elem, 0x1800), 0);
    uint64_t bm[1];
    cr_assert_eq(vmem_dirty_get_and_clear(env.map, DATA_GPA, 64, bm), 0);
    /* pages 5 and 6 written, 0 (readable) and 7 (beyond len) not */
    cr_assert_eq(bm[0], (1ull << 5) | (1ull << 6), "bitmap %#llx", (unsigned long long)bm[0]);
    uint64_t ring_bm[1];
    cr_assert_eq(vmem_dirty_get_and_clear(env.map, RING_GPA, 4, ring_bm), 0);
    cr_assert_neq(ring_bm[0], 0);
    env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Buffers to host memory                                                    */

Test(iov, translation)
{
    setup(false, 8, FEAT_ALL);
    uint64_t seam = RAM_BASE + RAM_SIZE;
    cr_assert_eq(vmem_map_add_anon(env.map, seam, 0x10000), 0);
    VqBuf b[4] = { rbuf(DATA_GPA, 10), rbuf(DATA_GPA, 0), wbuf(seam - 4, 8), wbuf(seam + 8, 1) };
    struct iovec iov[4];
    cr_assert_eq(vq_bufs_to_iov(env.map, b, 4, iov, 4), 4);
    cr_assert_eq(iov[0].iov_len, 10);
    cr_assert_eq(iov[1].iov_len, 4); /* the buffer across the seam: two pieces */
    cr_assert_eq(iov[2].iov_len, 4);
    cr_assert_eq(iov[3].iov_len, 1);
    void *h;
    cr_assert_eq(vmem_translate(env.map, DATA_GPA, 10, &h), 0);
    cr_assert_eq(iov[0].iov_base, h);
    cr_assert_eq(vq_bufs_to_iov(env.map, b, 4, iov, 3), -ENOBUFS);
    cr_assert_eq(vq_bufs_to_iov(env.map, b + 2, 1, iov, 1), -ENOBUFS);
    VqBuf out = rbuf(seam + 0x10000 - 4, 8);
    cr_assert_eq(vq_bufs_to_iov(env.map, &out, 1, iov, 4), -EFAULT);
    out = rbuf(0xfffffffffffffffcull, 8);
    cr_assert_eq(vq_bufs_to_iov(env.map, &out, 1, iov, 4), -EFAULT);
    cr_assert_eq(vq_bufs_to_iov(env.map, NULL, 1, iov, 4), -EINVAL);
    cr_assert_eq(vq_bufs_to_iov(NULL, b, 1, iov, 4), -EINVAL);
    cr_assert_eq(vq_bufs_to_iov(env.map, b, 0, NULL, 0), 0);
    env_fini(&env);
}

BOTH_LAYOUTS(iov, elem_read_write)
{
    setup(packed, 8, FEAT_ALL);
    const char hdr[] = "0123456789abcdef";
    cr_assert_eq(vmem_write(env.map, DATA_GPA, hdr, 8), 0);
    cr_assert_eq(vmem_write(env.map, DATA_GPA + 0x1000, hdr + 8, 8), 0);
    VqBuf b[4] = { rbuf(DATA_GPA, 8), rbuf(DATA_GPA + 0x1000, 8), wbuf(DATA_GPA + 0x2000, 3),
                   wbuf(DATA_GPA + 0x3000, 10) };
    cr_assert_eq(vq_mock_add_chain(env.mock, b, 4, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    char got[20] = {0};
    cr_assert_eq(vq_elem_read(env.map, &env.elem, 5, got, 20), 11);
    cr_assert_str_eq(got, "56789abcdef");
    cr_assert_eq(vq_elem_write(env.map, &env.elem, 1, "WXYZ", 4), 4);
    char w[4] = {0};
    cr_assert_eq(vmem_read(env.map, DATA_GPA + 0x2001, w, 2), 0);
    cr_assert_eq(memcmp(w, "WX", 2), 0);
    cr_assert_eq(vmem_read(env.map, DATA_GPA + 0x3000, w, 2), 0);
    cr_assert_eq(memcmp(w, "YZ", 2), 0);
    cr_assert_eq(vq_elem_write(env.map, &env.elem, 12, "123", 3), 1); /* 13 writable bytes */
    cr_assert_eq(vq_elem_read(env.map, NULL, 0, got, 1), -EINVAL);
    VqElem bad = env.elem;
    env.bufs[0].gpa = 0x10;
    cr_assert_eq(vq_elem_read(env.map, &bad, 0, got, 1), -EFAULT);
    env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Logging                                                                   */

Test(log, rate_limited_with_hook)
{
    LogCapture cap = {0};
    vq_set_log_func(capture_log, &cap);
    setup(false, 16, FEAT_ALL);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
        cr_assert_eq(vq_mock_split_set_avail_idx(env.mock, 100), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EPROTO);
    }
    /* A burst of 10 then one per second: a fast loop cannot get more than
     * a couple beyond the burst. */
    cr_assert_geq(cap.count, 10);
    cr_assert_leq(cap.count, 13, "%u messages", cap.count);
    cr_assert(strstr(cap.last, "test-split") != NULL, "%s", cap.last);
    cr_assert(strstr(cap.last, "needs reset") != NULL, "%s", cap.last);
    vq_set_log_func(NULL, NULL);
    env_fini(&env);
    cr_assert_str_eq(vq_strerror(-ELOOP), "descriptor chain longer than the queue size (loop)");
    cr_assert_str_eq(vq_strerror(12345), "unknown error");
}

/* ------------------------------------------------------------------------ */
/* Remapping                                                                 */

Test(remap, layout_change)
{
    setup(false, 16, FEAT_ALL);
    cr_assert_eq(vmem_map_add_anon(env.map, 0x40000000, 0x10000), 0);
    cr_assert_eq(vq_dev_remap(env.dq), 0);
    VqBuf b = rbuf(DATA_GPA, 1);
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
    cr_assert_eq(vmem_map_remove(env.map, RAM_BASE), 0);
    cr_assert_eq(vq_dev_remap(env.dq), -EFAULT);
    cr_assert_not(vq_dev_is_ready(env.dq));
    cr_assert_eq(vq_dev_pop(env.dq, &env.elem), -EBADFD);
    cr_assert_eq(vq_dev_remap(NULL), -EINVAL);
    env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Batch APIs                                                                */

BOTH_LAYOUTS(batch, pop_and_add_used)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf b[3] = { rbuf(DATA_GPA, 1), wbuf(DATA_GPA + 0x10, 20), wbuf(DATA_GPA + 0x20, 30) };
    uint16_t ids[6];
    /* simple, simple, 3-descriptor, indirect, simple, simple */
    unsigned n[6] = { 1, 1, 3, 3, 1, 1 };
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, i == 4 ? b + 1 : b, n[i],
                                       i == 3 ? VQ_MOCK_INDIRECT : 0, &ids[i]), 0);
    }
    VqElem el[8];
    VqBuf store[8][4];
    for (int i = 0; i < 8; i++) {
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 4 };
    }
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), 4);
    cr_assert_eq(vq_dev_pop_batch(env.dq, el + 4, 4), 2);
    cr_assert_eq(vq_dev_pop_batch(env.dq, el + 6, 2), 0);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(el[i].id, ids[i]);
        cr_assert_eq((unsigned)el[i].nout + el[i].nin, n[i]);
    }
    cr_assert_eq(el[4].nout, 0); /* the writable one-descriptor chain */
    cr_assert_eq(el[4].in_len, 20);
    cr_assert_eq(el[3].ndescs, 1);
    uint32_t lens[6] = { 0, 0, 50, 7, 999, 0 };
    /* all or nothing */
    VqElem bad[2] = { el[0], el[0] };
    bad[1].ndescs = 0;
    bad[1].id = 16;
    cr_assert_eq(vq_dev_add_used_batch(env.dq, bad, lens, 2), -EINVAL);
    cr_assert_eq(vq_dev_add_used_batch(env.dq, el, lens, 6), 0);
    cr_assert_eq(vq_dev_add_used_batch(env.dq, el, lens, 1), -ENOSPC);
    cr_assert_eq(vq_dev_publish(env.dq), 6);
    uint32_t want[6] = { 0, 0, 50, 7, 20, 0 };
    for (int i = 0; i < 6; i++) {
        uint16_t id;
        uint32_t len;
        cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
        cr_assert_eq(id, ids[i]);
        cr_assert_eq(len, want[i]);
    }
    cr_assert_eq(vq_dev_add_used_batch(env.dq, NULL, NULL, 0), 0);
    cr_assert_eq(vq_dev_pop_batch(env.dq, NULL, 1), -EINVAL);
    env_fini(&env);
}

BOTH_LAYOUTS(batch, error_ends_the_batch)
{
    setup(packed, 16, FEAT_ALL);
    VqBuf good = rbuf(DATA_GPA, 1);
    VqBuf bad[2] = { wbuf(DATA_GPA, 1), rbuf(DATA_GPA, 1) };
    cr_assert_eq(vq_mock_add_chain(env.mock, &good, 1, 0, NULL), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, &good, 1, 0, NULL), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, bad, 2, 0, NULL), 0);
    VqElem el[4];
    VqBuf store[4][4];
    for (int i = 0; i < 4; i++) {
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 4 };
    }
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), 2);
    cr_assert(vq_dev_is_broken(env.dq));
    cr_assert_eq(vq_dev_last_error(env.dq), -EILSEQ);
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), -EIO);
    /* a too small element first: -ENOBUFS, nothing consumed */
    cr_assert_eq(vq_dev_configure(env.dq, &env.cfg), 0);
    el[0].bufs_cap = 0;
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), -ENOBUFS);
    el[0].bufs_cap = 4;
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 1), 1);
    env_fini(&env);
}

BOTH_LAYOUTS(batch, wraps_and_logs)
{
    setup(packed, packed ? 5 : 4, FEAT_ALL);
    VqElem el[4];
    VqBuf store[4][2];
    for (int i = 0; i < 4; i++) {
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 2 };
    }
    unsigned seed = 1;
    uint32_t lens[4] = { 0x100, 0x100, 0x100, 0x100 };
    cr_assert_eq(vmem_dirty_log_start(env.map), 0);
    for (int round = 0; round < 3000; round++) {
        unsigned k = 1 + rand_r(&seed) % 4;
        uint16_t ids[4];
        for (unsigned i = 0; i < k; i++) {
            VqBuf b = wbuf(DATA_GPA + 0x1000ull * (round % 64), 0x1000);
            cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, &ids[i]), 0);
        }
        cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), (int)k, "round %d", round);
        for (unsigned i = 0; i < k; i++) {
            cr_assert_eq(el[i].id, ids[i]);
        }
        cr_assert_eq(vq_dev_add_used_batch(env.dq, el, lens, k), 0);
        cr_assert_eq(vq_dev_publish(env.dq), (int)k);
        for (unsigned i = 0; i < k; i++) {
            uint16_t id;
            uint32_t len;
            cr_assert_eq(vq_mock_get_used(env.mock, &id, &len), 0);
            cr_assert_eq(id, ids[i]);
            cr_assert_eq(len, 0x100);
        }
    }
    uint64_t bm[1];
    cr_assert_eq(vmem_dirty_get_and_clear(env.map, DATA_GPA, 64, bm), 0);
    cr_assert_eq(bm[0], ~0ull, "every data page was written: %#llx", (unsigned long long)bm[0]);
    env_fini(&env);
}

/* Found by fuzz-virtio-queue-restore: entries staged but not published
 * still hold the driver's descriptors; a driver that offers more anyway is
 * refused instead of overflowing the staging area. */
BOTH_LAYOUTS(rules, offers_beyond_unpublished_used)
{
    setup(packed, 4, FEAT_ALL);
    VqBuf b = rbuf(DATA_GPA, 1);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(env.dq, &env.elem), 0);
        cr_assert_eq(vq_dev_add_used(env.dq, &env.elem, 0), 0); /* staged only */
    }
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    expect_violation(&env, -EPROTO);
    cr_assert_eq(vq_dev_add_used_id(env.dq, 0, 1, 0), -EIO);
    env_fini(&env);
    /* the same through the batch API */
    setup(packed, 4, FEAT_ALL);
    VqElem el[5];
    VqBuf store[5][1];
    for (int i = 0; i < 5; i++) {
        el[i] = (VqElem){ .bufs = store[i], .bufs_cap = 1 };
    }
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    }
    cr_assert_eq(vq_dev_pop_batch(env.dq, el, 4), 4);
    cr_assert_eq(vq_dev_add_used_batch(env.dq, el, NULL, 4), 0);
    cr_assert_eq(vq_mock_add_chain(env.mock, &b, 1, 0, NULL), 0);
    cr_assert_eq(vq_dev_pop_batch(env.dq, el + 4, 1), -EPROTO);
    env_fini(&env);
}
