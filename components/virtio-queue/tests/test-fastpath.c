/* SPDX-License-Identifier: MIT */
/*
 * The fast paths against the general code: two device queues over two
 * identical rings, one with vq_dev_set_fast_paths(q, false), driven through
 * the same calls, must return the same codes, the same elements and leave
 * the same bytes in the rings, including when chains are or become invalid.
 */
#include "tst.h"

/* Two worlds built by the same calls. */
typedef struct Twin {
    Env w[2]; /* w[0]: fast paths (default), w[1]: general code only */
    bool packed;
    uint32_t size;
    uint64_t features;
} Twin;

static Twin tw;

/* Deterministic xorshift generator. */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? (uint32_t)(rng_state % n) : 0;
}

static void twin_init(bool packed, uint32_t size, uint64_t features)
{
    tw.packed = packed;
    tw.size = size;
    tw.features = features;
    for (int k = 0; k < 2; k++) {
        env_init(&tw.w[k], packed, size, features);
    }
    cr_assert_eq(vq_dev_set_fast_paths(tw.w[1].dq, false), 0);
}

static void twin_fini(void)
{
    for (int k = 0; k < 2; k++) {
        env_fini(&tw.w[k]);
    }
}

/* Both rings, byte for byte. */
static void check_rings(const char *when)
{
    uint64_t bytes = vq_mock_footprint(tw.packed, tw.size);
    uint8_t *a = malloc(bytes), *b = malloc(bytes);
    cr_assert(a && b);
    cr_assert_eq(vmem_read(tw.w[0].map, RING_GPA, a, bytes), 0);
    cr_assert_eq(vmem_read(tw.w[1].map, RING_GPA, b, bytes), 0);
    for (uint64_t i = 0; i < bytes; i++) {
        cr_assert_eq(a[i], b[i], "%s: ring byte %llu differs (%#x fast, %#x general)", when,
                     (unsigned long long)i, a[i], b[i]);
    }
    free(a);
    free(b);
}

static void check_elem(const VqElem *x, const VqElem *y, const char *what)
{
    cr_assert_eq(x->id, y->id, "%s: id %u vs %u", what, x->id, y->id);
    cr_assert_eq(x->ndescs, y->ndescs, "%s: ndescs", what);
    cr_assert_eq(x->nout, y->nout, "%s: nout", what);
    cr_assert_eq(x->nin, y->nin, "%s: nin", what);
    cr_assert_eq(x->out_len, y->out_len, "%s: out_len", what);
    cr_assert_eq(x->in_len, y->in_len, "%s: in_len", what);
    for (unsigned i = 0; i < (unsigned)x->nout + x->nin; i++) {
        cr_assert_eq(x->bufs[i].gpa, y->bufs[i].gpa, "%s: buf %u gpa", what, i);
        cr_assert_eq(x->bufs[i].len, y->bufs[i].len, "%s: buf %u len", what, i);
        cr_assert_eq(x->bufs[i].flags, y->bufs[i].flags, "%s: buf %u flags", what, i);
    }
}

static void check_state(const char *what)
{
    VqState s[2];
    int rc[2];
    for (int k = 0; k < 2; k++) {
        memset(&s[k], 0, sizeof(s[k]));
        rc[k] = vq_dev_get_state(tw.w[k].dq, &s[k]);
    }
    cr_assert_eq(rc[0], rc[1], "%s: get_state %d vs %d", what, rc[0], rc[1]);
    cr_assert_eq(memcmp(&s[0], &s[1], sizeof(s[0])), 0, "%s: states differ", what);
    cr_assert_eq(vq_dev_is_broken(tw.w[0].dq), vq_dev_is_broken(tw.w[1].dq), "%s: broken", what);
    cr_assert_eq(vq_dev_last_error(tw.w[0].dq), vq_dev_last_error(tw.w[1].dq), "%s: error",
                 what);
}

/* Elements held by each world, popped and not yet returned. */
#define HELD_MAX 64
static VqElem held[2][HELD_MAX];
static VqBuf held_bufs[2][HELD_MAX][8];
static unsigned nheld;

/* Batch storage: element i has room for cap[i] buffers (0, 1 or 8). */
static VqElem batch[2][32];
static VqBuf batch_bufs[2][32][8];

static void keep(const VqElem *e0, const VqElem *e1)
{
    if (nheld == HELD_MAX) {
        return; /* the element stays in flight for good */
    }
    const VqElem *src[2] = { e0, e1 };
    for (int k = 0; k < 2; k++) {
        held[k][nheld] = *src[k];
        held[k][nheld].bufs = held_bufs[k][nheld];
        unsigned n = (unsigned)src[k]->nout + src[k]->nin;
        memcpy(held_bufs[k][nheld], src[k]->bufs, (n < 8 ? n : 8) * sizeof(VqBuf));
    }
    nheld++;
}

/* --- what the driver does, identically in both worlds --- */

static void drv_add_simple(void)
{
    VqBuf b = { .gpa = DATA_GPA + 0x1000ull * rnd(64), .len = rnd(5) ? rnd(0x2000) : 0,
                .flags = rnd(2) ? VQ_BUF_WRITE : 0 };
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(vq_mock_add_chain(tw.w[k].mock, &b, 1, 0, NULL), 0);
    }
}

static void drv_add_chain(void)
{
    VqBuf b[6];
    unsigned n = 1 + rnd(tw.size < 6 ? tw.size : 6);
    bool ind = (tw.features & VQ_FEATURE(VQ_F_INDIRECT_DESC)) && rnd(2);
    if (ind) {
        n = 1 + rnd(6);
    }
    for (unsigned i = 0; i < n; i++) {
        b[i] = (VqBuf){ .gpa = DATA_GPA + 0x1000ull * rnd(64), .len = 1 + rnd(0x1000),
                        .flags = i >= n / 2 ? VQ_BUF_WRITE : 0 };
    }
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(vq_mock_add_chain(tw.w[k].mock, b, n, ind ? VQ_MOCK_INDIRECT : 0, NULL), 0);
    }
}

/* Garbage in a descriptor (often one that is or will be offered). */
static void drv_corrupt_desc(void)
{
    uint32_t idx = rnd(tw.size);
    static const uint16_t pick[] = { VQ_DESC_F_NEXT, VQ_DESC_F_INDIRECT, VQ_DESC_F_WRITE,
                                     VQ_DESC_F_NEXT | VQ_DESC_F_INDIRECT, 0x8, 0xffff };
    uint16_t flags = pick[rnd(6)];
    if (tw.packed) {
        static const uint16_t lap[] = { VQ_DESC_F_AVAIL, VQ_DESC_F_USED,
                                        VQ_DESC_F_AVAIL | VQ_DESC_F_USED, 0 };
        flags |= lap[rnd(4)];
    }
    uint16_t next = (uint16_t)(rnd(2) ? rnd(tw.size) : rnd(65536));
    uint32_t len = rnd(3) ? 16u * (1 + rnd(4)) : rnd(4) ? rnd(100) : 0xffffffffu;
    uint64_t addr = rnd(2) ? vq_mock_indirect_gpa(tw.w[0].mock, rnd(tw.size))
                           : DATA_GPA + rnd(0x10000);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(vq_mock_write_desc(tw.w[k].mock, idx, addr, len, flags, next), 0);
    }
}

/* Split: an avail entry with any head, in range or not. */
static void drv_push_head(void)
{
    uint16_t head = (uint16_t)(rnd(4) ? rnd(tw.size) : tw.size + rnd(100));
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(vq_mock_split_push_avail(tw.w[k].mock, head), 0);
    }
}

/* --- what the device does, identically in both worlds --- */

static void dev_pop(void)
{
    int rc[2];
    uint32_t cap = rnd(8) ? VQ_MAX_SIZE : rnd(3);
    bool null = rnd(50) == 0; /* the caller's mistake: no storage */
    for (int k = 0; k < 2; k++) {
        tw.w[k].elem.bufs_cap = cap;
        tw.w[k].elem.bufs = null ? NULL : tw.w[k].bufs;
        rc[k] = vq_dev_pop(tw.w[k].dq, &tw.w[k].elem);
        tw.w[k].elem.bufs = tw.w[k].bufs;
    }
    cr_assert_eq(rc[0], rc[1], "pop: %d (%s) fast, %d (%s) general", rc[0], vq_strerror(rc[0]),
                 rc[1], vq_strerror(rc[1]));
    if (rc[0] == 0) {
        check_elem(&tw.w[0].elem, &tw.w[1].elem, "pop");
        keep(&tw.w[0].elem, &tw.w[1].elem);
    }
}

static void dev_pop_batch(void)
{
    unsigned n = rnd(33);
    for (unsigned i = 0; i < n; i++) {
        uint32_t r = rnd(40);
        uint32_t cap = r == 0 ? 0 : r == 1 ? 1 : 8;
        bool null = r == 2;
        for (int k = 0; k < 2; k++) {
            batch[k][i] = (VqElem){ .bufs = null ? NULL : batch_bufs[k][i], .bufs_cap = cap };
        }
    }
    int rc[2];
    for (int k = 0; k < 2; k++) {
        rc[k] = vq_dev_pop_batch(tw.w[k].dq, batch[k], n);
    }
    cr_assert_eq(rc[0], rc[1], "pop_batch(%u): %d fast, %d general", n, rc[0], rc[1]);
    for (int i = 0; i < rc[0]; i++) {
        check_elem(&batch[0][i], &batch[1][i], "pop_batch");
        keep(&batch[0][i], &batch[1][i]);
    }
}

static void drop_held(unsigned i)
{
    for (int k = 0; k < 2; k++) {
        memmove(&held[k][i], &held[k][i + 1], (nheld - i - 1) * sizeof(VqElem));
        memmove(&held_bufs[k][i], &held_bufs[k][i + 1], (nheld - i - 1) * sizeof(held_bufs[k][0]));
        for (unsigned j = i; j + 1 < nheld; j++) {
            held[k][j].bufs = held_bufs[k][j];
        }
    }
    nheld--;
}

static void dev_add_used(void)
{
    int rc[2];
    if (nheld == 0 || rnd(10) == 0) {
        /* raw ids, maybe bogus */
        uint16_t id = (uint16_t)rnd(tw.size + 2);
        uint16_t nd = (uint16_t)rnd(3);
        uint32_t len = rnd(2) ? 0 : 77;
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_add_used_id(tw.w[k].dq, id, nd, len);
        }
        cr_assert_eq(rc[0], rc[1], "add_used_id: %d vs %d", rc[0], rc[1]);
        return;
    }
    unsigned i = rnd(nheld);
    uint32_t len = rnd(3) ? rnd(0x3000) : 0;
    for (int k = 0; k < 2; k++) {
        rc[k] = vq_dev_add_used(tw.w[k].dq, &held[k][i], len);
    }
    cr_assert_eq(rc[0], rc[1], "add_used: %d vs %d", rc[0], rc[1]);
    if (rc[0] == 0) {
        drop_held(i);
    }
}

static void dev_add_used_batch(void)
{
    unsigned n = rnd(nheld + 2);
    if (n > nheld) {
        n = nheld; /* sometimes all of them */
    }
    uint32_t lens[HELD_MAX];
    for (unsigned i = 0; i < n; i++) {
        lens[i] = rnd(0x3000);
    }
    bool with_lens = rnd(2);
    /* sometimes an element this queue cannot have produced */
    unsigned bad = n && rnd(8) == 0 ? rnd(n) : HELD_MAX;
    uint16_t bad_id = (uint16_t)(tw.size + rnd(3));
    uint16_t bad_ndescs = (uint16_t)(rnd(2) ? 0 : tw.size + 1);
    int rc[2];
    for (int k = 0; k < 2; k++) {
        VqElem saved;
        if (bad < n) {
            saved = held[k][bad];
            if (tw.packed) {
                held[k][bad].ndescs = bad_ndescs;
            } else {
                held[k][bad].id = bad_id;
            }
        }
        rc[k] = vq_dev_add_used_batch(tw.w[k].dq, held[k], with_lens ? lens : NULL, n);
        if (bad < n) {
            held[k][bad] = saved;
        }
    }
    cr_assert_eq(rc[0], rc[1], "add_used_batch(%u): %d vs %d", n, rc[0], rc[1]);
    if (rc[0] == 0) {
        while (n--) {
            drop_held(0);
        }
    }
}

static void dev_misc(void)
{
    int rc[2];
    switch (rnd(6)) {
    case 0:
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_publish(tw.w[k].dq);
        }
        break;
    case 1:
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_should_notify(tw.w[k].dq);
        }
        break;
    case 2:
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_disable_notify(tw.w[k].dq);
        }
        break;
    case 3:
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_enable_notify(tw.w[k].dq);
        }
        break;
    case 4:
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_has_avail(tw.w[k].dq);
        }
        break;
    default:
        if (nheld == 0) {
            return;
        }
        for (int k = 0; k < 2; k++) {
            rc[k] = vq_dev_unpop(tw.w[k].dq, &held[k][nheld - 1]);
        }
        if (rc[0] == 0 && rc[1] == 0) {
            nheld--;
        }
        break;
    }
    cr_assert_eq(rc[0], rc[1], "misc op: %d vs %d", rc[0], rc[1]);
}

/* One random scenario until both queues break or @ops calls were made. */
static void scenario(bool packed, uint32_t size, uint64_t features, unsigned ops,
                     unsigned corrupt_per_1000)
{
    twin_init(packed, size, features);
    nheld = 0;
    for (unsigned op = 0; op < ops && !vq_dev_is_broken(tw.w[0].dq); op++) {
        uint32_t r = rnd(1000);
        if (r < corrupt_per_1000) {
            if (!packed && rnd(2)) {
                drv_push_head();
            } else {
                drv_corrupt_desc();
            }
        } else if (r < 300) {
            drv_add_simple();
        } else if (r < 340) {
            drv_add_chain();
        } else if (r < 560) {
            dev_pop();
        } else if (r < 700) {
            dev_pop_batch();
        } else if (r < 820) {
            dev_add_used();
        } else if (r < 870) {
            dev_add_used_batch();
        } else {
            dev_misc();
        }
        check_state("after an op");
    }
    check_rings("end of scenario");
    twin_fini();
}

static void run_scenarios(bool packed, unsigned count, unsigned corrupt)
{
    rng_state = 0x9e3779b97f4a7c15ull ^ (packed ? 0x1234 : 0) ^ corrupt;
    for (unsigned s = 0; s < count; s++) {
        uint32_t size = packed ? 1 + rnd(40) : 1u << rnd(9);
        uint64_t features = (rnd(2) ? FEAT_ALL : VQ_FEATURE(VQ_F_VERSION_1)) |
                            (rnd(2) ? VQ_FEATURE(VQ_F_EVENT_IDX) : 0);
        scenario(packed, size, features, 400, corrupt);
    }
}

/* Valid traffic only: long scenarios that wrap the 16-bit indices. */
BOTH_LAYOUTS(fastpath, same_results_valid_chains)
{
    run_scenarios(packed, 60, 0);
}

/* With garbage: descriptors overwritten, heads out of range, chains that
 * become invalid between pops. */
BOTH_LAYOUTS(fastpath, same_results_with_garbage)
{
    run_scenarios(packed, 300, 15);
}

/* A batch that meets an invalid chain after valid ones: both codes pop the
 * same valid chains and break the queue with the same violation. */
BOTH_LAYOUTS(fastpath, batch_stops_at_invalid_chain)
{
    static const struct {
        int err;
        uint16_t flags;
        uint16_t next;
        bool bad_head;
    } cases[] = {
        { -ERANGE, VQ_DESC_F_NEXT, 999, false },    /* split: next out of range */
        { -ENOTSUP, VQ_DESC_F_INDIRECT, 0, false }, /* indirect not negotiated */
        { -ERANGE, 0, 0, true },                    /* split: head out of range */
    };
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        if (packed && (cases[c].bad_head || cases[c].flags == VQ_DESC_F_NEXT)) {
            continue; /* no head index / next field in the packed layout */
        }
        twin_init(packed, 16, VQ_FEATURE(VQ_F_VERSION_1));
        for (int i = 0; i < 5; i++) {
            drv_add_simple(); /* descriptors (packed: positions) 0..4 */
        }
        for (int k = 0; k < 2; k++) {
            VqMock *m = tw.w[k].mock;
            if (cases[c].bad_head) {
                cr_assert_eq(vq_mock_split_push_avail(m, 16), 0);
                continue;
            }
            uint16_t fl = cases[c].flags | (packed ? VQ_DESC_F_AVAIL : 0);
            cr_assert_eq(vq_mock_write_desc(m, 5, DATA_GPA, 64, fl, cases[c].next), 0);
            if (!packed) {
                cr_assert_eq(vq_mock_split_push_avail(m, 5), 0);
            }
        }
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < 8; i++) {
                batch[k][i] = (VqElem){ .bufs = batch_bufs[k][i], .bufs_cap = 8 };
            }
            cr_assert_eq(vq_dev_pop_batch(tw.w[k].dq, batch[k], 8), 5, "case %u world %d", c,
                         k);
            /* the violation broke the queue during the first call */
            cr_assert_eq(vq_dev_last_error(tw.w[k].dq), cases[c].err, "case %u", c);
            cr_assert_eq(vq_dev_pop_batch(tw.w[k].dq, batch[k], 8), -EIO);
        }
        for (int i = 0; i < 5; i++) {
            check_elem(&batch[0][i], &batch[1][i], "before the bad chain");
        }
        check_state("after the violation");
        check_rings("after the violation");
        twin_fini();
    }
}

/* A chain popped fine, given back (unpop), then made invalid by the driver:
 * the fast path must not reuse what it read before. */
BOTH_LAYOUTS(fastpath, chain_becomes_invalid_after_unpop)
{
    twin_init(packed, 8, VQ_FEATURE(VQ_F_VERSION_1));
    drv_add_simple();
    for (int k = 0; k < 2; k++) {
        Env *e = &tw.w[k];
        cr_assert_eq(vq_dev_pop(e->dq, &e->elem), 0);
        cr_assert_eq(vq_dev_unpop(e->dq, &e->elem), 0);
        /* descriptor 0 now says INDIRECT, which was not negotiated */
        cr_assert_eq(vq_mock_write_desc(e->mock, 0, DATA_GPA, 16,
                                        VQ_DESC_F_INDIRECT | (packed ? VQ_DESC_F_AVAIL : 0), 0),
                     0);
        expect_violation(e, -ENOTSUP);
    }
    check_state("after the violation");
    twin_fini();
}

/* Elements the caller got wrong, in the middle of a batch: the fast run
 * stops there and the next call reports it (no write through NULL). */
BOTH_LAYOUTS(fastpath, batch_with_bad_element)
{
    for (int fast = 0; fast < 2; fast++) {
        Env *e = &tw.w[0];
        env_init(e, packed, 16, FEAT_ALL);
        cr_assert_eq(vq_dev_set_fast_paths(e->dq, fast), 0);
        VqBuf b = wbuf(DATA_GPA, 100);
        for (int i = 0; i < 6; i++) {
            cr_assert_eq(vq_mock_add_chain(e->mock, &b, 1, 0, NULL), 0);
        }
        VqElem el[6];
        VqBuf st[6][2];
        for (int i = 0; i < 6; i++) {
            el[i] = (VqElem){ .bufs = st[i], .bufs_cap = 2 };
        }
        el[3].bufs = NULL; /* cap 2 but no storage */
        cr_assert_eq(vq_dev_pop_batch(e->dq, el, 6), 3);
        cr_assert_eq(vq_dev_pop_batch(e->dq, el + 3, 3), -EINVAL);
        el[3].bufs = st[3];
        el[4].bufs_cap = 0; /* no room: nothing consumed */
        cr_assert_eq(vq_dev_pop_batch(e->dq, el + 3, 3), 1);
        cr_assert_eq(vq_dev_pop_batch(e->dq, el + 4, 2), -ENOBUFS);
        cr_assert_not(vq_dev_is_broken(e->dq));
        el[4].bufs_cap = 2;
        cr_assert_eq(vq_dev_pop_batch(e->dq, el + 4, 2), 2);
        cr_assert_eq(el[5].in_len, 100);
        env_fini(e);
    }
}

/* The setting survives configure and reset, and takes effect at once. */
Test(fastpath, setting)
{
    cr_assert_eq(vq_dev_set_fast_paths(NULL, true), -EINVAL);
    Env *e = &tw.w[0];
    env_init(e, false, 8, FEAT_ALL);
    cr_assert_eq(vq_dev_set_fast_paths(e->dq, false), 0);
    cr_assert_eq(vq_dev_configure(e->dq, &e->cfg), 0);
    VqBuf b = rbuf(DATA_GPA, 10);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(vq_mock_add_chain(e->mock, &b, 1, 0, NULL), 0);
        cr_assert_eq(vq_dev_pop(e->dq, &e->elem), 0);
        cr_assert_eq(e->elem.out_len, 10);
        cr_assert_eq(vq_dev_set_fast_paths(e->dq, i % 2), 0);
    }
    vq_dev_reset(e->dq);
    cr_assert_eq(vq_dev_pop(e->dq, &e->elem), -EBADFD);
    cr_assert_eq(vq_dev_set_fast_paths(e->dq, true), 0);
    cr_assert_eq(vq_dev_pop(e->dq, &e->elem), -EBADFD);
    env_fini(e);
}
