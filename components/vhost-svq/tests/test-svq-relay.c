/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue relay in one process: a guest driver on the guest
 * ring, the relay, and a back-end (virtio-queue device side) on the shadow
 * ring mapping the same memfds. Every layout combination, parking, dirty
 * pages, hand-back, and hostile used rings.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "svq-rig.h"

#define SLOT_BYTES 0x4000u
#define MAX_BUFS 8u
#define MAX_TOKENS 4096u

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static SvqRig *mk(RigShape s)
{
    SvqRig *rig = NULL;
    int rc = rig_new(&s, &rig);

    cr_assert_eq(rc, 0, "rig_new: %s", strerror(-rc));
    rc = rig_start(rig);
    cr_assert_eq(rc, 0, "rig_start: %s", vq_strerror(rc));
    return rig;
}

/* A chain the guest added, as the test expects the back-end to see it. */
typedef struct Chain {
    bool busy;
    unsigned nbufs;
    unsigned nout;
    VqBuf bufs[MAX_BUFS];
    uint32_t in_len;
    uint32_t len;       /* what the back-end reported */
    uint8_t fill;
} Chain;

typedef struct World {
    SvqRig *rig;
    Chain chains[MAX_TOKENS];
    uint64_t fifo[MAX_TOKENS * 4]; /* tokens in add order, for the back-end's check */
    unsigned fifo_head, fifo_tail;
    uint64_t next_token;
    uint64_t added, popped, completed;
    uint64_t rng;
} World;

/* Buffers of token @t live in their own data slot. */
static uint64_t data_gpa(uint64_t t, unsigned i)
{
    return RIG_DATA + (t % 96) * SLOT_BYTES + (uint64_t)i * 0x800;
}

/* The guest adds a chain of @nout readable and @nin writable buffers. */
static int guest_add(World *w, unsigned nout, unsigned nin, bool indirect)
{
    uint64_t t = w->next_token % MAX_TOKENS;
    Chain *c = &w->chains[t];
    int rc;

    cr_assert(!c->busy, "token %llu reused while busy", (unsigned long long)t);
    memset(c, 0, sizeof(*c));
    c->nout = nout;
    c->nbufs = nout + nin;
    for (unsigned i = 0; i < c->nbufs; i++) {
        uint32_t len = 1 + (uint32_t)(rnd(&w->rng) % 0x7ff);

        c->bufs[i] = (VqBuf){ data_gpa(t, i), len, i >= nout ? VQ_BUF_WRITE : 0 };
        if (i >= nout) {
            c->in_len += len;
        }
    }
    rc = vq_drv_add(w->rig->drv, c->bufs, c->nbufs, t, indirect ? VQ_ADD_INDIRECT : 0);
    if (rc == 0) {
        c->busy = true;
        w->next_token++;
        w->fifo[w->fifo_tail++ % G_N_ELEMENTS(w->fifo)] = t;
        w->added++;
    }
    return rc;
}

/* The back-end pops one chain and checks it is the next the guest added,
 * buffer for buffer. Returns false if none. */
static bool backend_pop(World *w, VqElem *e, VqBuf *store, uint64_t *ret_token)
{
    int rc;
    uint64_t t;
    Chain *c;

    e->bufs = store;
    e->bufs_cap = 64;
    rc = vq_dev_pop(w->rig->dev, e);
    if (rc == -EAGAIN) {
        return false;
    }
    cr_assert_eq(rc, 0, "back-end pop: %s", vq_strerror(rc));
    cr_assert(w->fifo_head < w->fifo_tail, "the back-end got a chain the guest never added");
    t = w->fifo[w->fifo_head++ % G_N_ELEMENTS(w->fifo)];
    c = &w->chains[t];
    cr_assert_eq(e->nout + e->nin, c->nbufs, "token %llu: %u buffers, expected %u",
                 (unsigned long long)t, e->nout + e->nin, c->nbufs);
    cr_assert_eq(e->nout, c->nout);
    for (unsigned i = 0; i < c->nbufs; i++) {
        cr_assert(e->bufs[i].gpa == c->bufs[i].gpa && e->bufs[i].len == c->bufs[i].len &&
                      e->bufs[i].flags == c->bufs[i].flags,
                  "token %llu buffer %u differs", (unsigned long long)t, i);
    }
    w->popped++;
    *ret_token = t;
    return true;
}

/* The back-end writes @len bytes of a pattern and returns the chain. */
static void backend_complete(World *w, VqElem *e, uint64_t t, uint32_t len)
{
    Chain *c = &w->chains[t];
    uint8_t buf[MAX_BUFS * 0x800];
    int rc;

    c->fill = (uint8_t)(0x11 + t);
    c->len = len;
    memset(buf, c->fill, len);
    cr_assert_eq(vq_elem_write(w->rig->backend, e, 0, buf, len), (int64_t)len);
    rc = vq_dev_push(w->rig->dev, e, len);
    cr_assert_eq(rc, 0, "back-end push: %s", vq_strerror(rc));
}

/* The guest collects; each completion must be a busy token with the length
 * and the data the back-end wrote. */
static unsigned guest_collect(World *w)
{
    unsigned n = 0;
    VqUsed u;
    int rc;

    while ((rc = vq_drv_get_used(w->rig->drv, &u)) == 0) {
        Chain *c;
        uint8_t buf[MAX_BUFS * 0x800];
        uint32_t got = 0;

        cr_assert(u.token < MAX_TOKENS);
        c = &w->chains[u.token];
        cr_assert(c->busy, "completion of token %llu twice or never added",
                  (unsigned long long)u.token);
        cr_assert_eq(u.len, c->len, "token %llu: length %u, back-end said %u",
                     (unsigned long long)u.token, u.len, c->len);
        for (unsigned i = c->nout; i < c->nbufs && got < c->len; i++) {
            uint32_t chunk = MIN(c->bufs[i].len, c->len - got);

            cr_assert_eq(vmem_read(w->rig->guest, c->bufs[i].gpa, buf + got, chunk), 0);
            got += chunk;
        }
        for (uint32_t i = 0; i < c->len; i++) {
            cr_assert_eq(buf[i], c->fill, "token %llu: byte %u not written",
                         (unsigned long long)u.token, i);
        }
        c->busy = false;
        w->completed++;
        n++;
    }
    cr_assert_eq(rc, -EAGAIN, "guest get_used: %s", vq_strerror(rc));
    return n;
}

static int relay_forward(World *w)
{
    int rc = svq_relay_forward(w->rig->relay);

    cr_assert(rc >= 0, "forward: %s (%s)", vq_strerror(rc),
              svq_relay_error_text(w->rig->relay));
    return rc;
}

static int relay_complete(World *w)
{
    int rc = svq_relay_complete(w->rig->relay);

    cr_assert(rc >= 0, "complete: %s (%s)", vq_strerror(rc),
              svq_relay_error_text(w->rig->relay));
    return rc;
}

static World *world_new(RigShape s, uint64_t seed)
{
    World *w = calloc(1, sizeof(*w));

    cr_assert_not_null(w);
    w->rig = mk(s);
    w->rng = seed;
    return w;
}

static void world_free(World *w)
{
    rig_free(w->rig);
    free(w);
}

/* Random traffic: chains of 1-4 buffers (sometimes indirect), completed in
 * a random order with random lengths, for @chains chains. */
static void traffic(World *w, uint64_t chains)
{
    VqElem held[64];
    VqBuf store[64][64];
    uint64_t held_tok[64];
    unsigned nheld = 0;

    while (w->completed < chains) {
        unsigned k = 1 + (unsigned)(rnd(&w->rng) % 4);

        for (unsigned i = 0; i < k && w->added < chains; i++) {
            unsigned nout = (unsigned)(rnd(&w->rng) % 3), nin = (unsigned)(rnd(&w->rng) % 3);
            bool ind = w->rig->shape.indirect && rnd(&w->rng) % 2;

            if (nout + nin == 0) {
                nin = 1;
            }
            if (guest_add(w, nout, nin, ind) == -ENOSPC) {
                break;
            }
        }
        relay_forward(w);
        while (nheld < 64 && backend_pop(w, &held[nheld], store[nheld], &held_tok[nheld])) {
            held[nheld].bufs = store[nheld];
            nheld++;
        }
        /* Complete a random subset, in a random order. */
        for (unsigned m = (unsigned)(rnd(&w->rng) % (nheld + 1)); m; m--) {
            unsigned j = (unsigned)(rnd(&w->rng) % nheld);
            Chain *c = &w->chains[held_tok[j]];
            uint32_t len = c->in_len ? (uint32_t)(rnd(&w->rng) % (c->in_len + 1)) : 0;

            held[j].bufs = store[j];
            backend_complete(w, &held[j], held_tok[j], len);
            nheld--;
            held[j] = held[nheld];
            held_tok[j] = held_tok[nheld];
            memcpy(store[j], store[nheld], sizeof(store[0]));
            held[j].bufs = store[j];
        }
        relay_complete(w);
        guest_collect(w);
        cr_assert(w->added - w->completed <= 64 + w->rig->shape.guest_size);
    }
    cr_assert_eq(w->completed, chains);
    cr_assert_eq(w->popped, chains);
    cr_assert_eq(svq_relay_in_flight(w->rig->relay), 0);
}

Test(relay, layouts)
{
    for (unsigned combo = 0; combo < 16; combo++) {
        RigShape s = {
            .guest_size = 16,
            .shadow_size = 16,
            .guest_packed = combo & 1,
            .shadow_packed = combo & 2,
            .event_idx = combo & 4,
            .indirect = combo & 8,
        };
        World *w = world_new(s, combo + 1);
        SvqStats st;

        /* Enough chains to wrap the 16-bit indices of the split rings. */
        traffic(w, combo == 0 || combo == 15 ? 70000 : 3000);
        svq_relay_get_stats(w->rig->relay, &st);
        cr_assert_eq(st.forwarded, w->added);
        cr_assert_eq(st.completed, w->added);
        world_free(w);
    }
}

Test(relay, odd_sizes)
{
    /* A packed guest ring of 12 entries relayed through a split shadow ring
     * of 16, and the other way round with a packed shadow of 13. */
    RigShape a = { .guest_size = 12, .shadow_size = 16, .guest_packed = true };
    RigShape b = { .guest_size = 8, .shadow_size = 13, .shadow_packed = true, .event_idx = true };
    World *w = world_new(a, 5);

    traffic(w, 5000);
    world_free(w);
    w = world_new(b, 6);
    traffic(w, 5000);
    world_free(w);
}

/* ------------------------------------------------------------------------ */
/* Parking                                                                   */

static void parking(RigShape s)
{
    World *w = world_new(s, 9);
    VqElem e[8];
    VqBuf store[8][64];
    uint64_t tok[8];
    unsigned n = 0;
    int rc;

    /* Seven indirect chains of three buffers: one guest descriptor each,
     * three shadow descriptors each: two fit in the shadow ring. */
    for (unsigned i = 0; i < 7; i++) {
        cr_assert_eq(guest_add(w, 1, 2, true), 0);
    }
    cr_assert_eq(vq_drv_should_kick(w->rig->drv), 1);
    rc = relay_forward(w);
    cr_assert_eq(rc, SVQ_KICK_BACKEND);
    cr_assert(svq_relay_is_parked(w->rig->relay));
    cr_assert_eq(svq_relay_in_flight(w->rig->relay), 2);
    /* While a chain is parked the guest is asked not to kick. */
    cr_assert_eq(guest_add(w, 1, 0, false), 0);
    cr_assert_eq(vq_drv_should_kick(w->rig->drv), 0, "guest kicks not suppressed while parked");
    while (w->completed < 8) {
        while (backend_pop(w, &e[n], store[n], &tok[n])) {
            n++;
        }
        cr_assert(n > 0, "nothing reached the back-end (%llu done)",
                  (unsigned long long)w->completed);
        /* Complete the oldest one: this frees room for the parked chain. */
        e[0].bufs = store[0];
        backend_complete(w, &e[0], tok[0], MIN(1, w->chains[tok[0]].in_len));
        n--;
        memmove(&e[0], &e[1], sizeof(e[0]) * n);
        memmove(&tok[0], &tok[1], sizeof(tok[0]) * n);
        memmove(&store[0], &store[1], sizeof(store[0]) * n);
        relay_complete(w);
        cr_assert_eq(guest_collect(w), 1);
    }
    cr_assert(!svq_relay_is_parked(w->rig->relay));
    {
        SvqStats st;

        svq_relay_get_stats(w->rig->relay, &st);
        cr_assert(st.parked >= 1);
        cr_assert_eq(st.forwarded, 8);
    }
    /* Kicks are wanted again. */
    cr_assert_eq(guest_add(w, 1, 0, false), 0);
    cr_assert_eq(vq_drv_should_kick(w->rig->drv), 1, "guest kicks still suppressed");
    world_free(w);
}

Test(relay, parking_split)
{
    parking((RigShape){ .guest_size = 8, .shadow_size = 8, .indirect = true });
}

Test(relay, parking_packed_guest)
{
    parking((RigShape){ .guest_size = 8, .shadow_size = 8, .guest_packed = true,
                        .indirect = true, .event_idx = true });
}

Test(relay, parking_packed_shadow)
{
    parking((RigShape){ .guest_size = 8, .shadow_size = 8, .shadow_packed = true,
                        .indirect = true });
}

/* ------------------------------------------------------------------------ */
/* Dirty pages                                                               */

static void dirty_exact(RigShape s)
{
    World *w = world_new(s, 11);
    Chain *c;
    VqElem e;
    VqBuf store[64];
    uint64_t t, bitmap[1];
    VqBuf bufs[3] = {
        { RIG_DATA + 0x20000, 0x100, 0 },              /* readable: page 32 */
        { RIG_DATA + 0x0ff0, 0x20, VQ_BUF_WRITE },     /* pages 0 and 1 */
        { RIG_DATA + 0x5000, 0x3000, VQ_BUF_WRITE },   /* pages 5, 6, 7 */
    };
    uint64_t used_page = (w->rig->gcfg.device_addr & ~UINT64_C(0xfff));
    uint64_t ubit = 0;
    SvqStats st;
    int rc;

    cr_assert_eq(vmem_dirty_log_start(w->rig->guest), 0);
    c = &w->chains[0];
    memset(c, 0, sizeof(*c));
    memcpy(c->bufs, bufs, sizeof(bufs));
    c->nbufs = 3;
    c->nout = 1;
    c->in_len = 0x3020;
    rc = vq_drv_add(w->rig->drv, bufs, 3, 0, 0);
    cr_assert_eq(rc, 0);
    c->busy = true;
    w->fifo[w->fifo_tail++] = 0;
    w->next_token = 1;
    relay_forward(w);
    cr_assert(backend_pop(w, &e, store, &t));
    /* The back-end writes the whole first buffer and 0x1001 bytes of the
     * second: pages 0, 1, 5 and 6 of the data area, not 7. */
    backend_complete(w, &e, t, 0x20 + 0x1001);
    relay_complete(w);
    cr_assert_eq(guest_collect(w), 1);
    rc = vmem_dirty_get_and_clear(w->rig->guest, RIG_DATA, 64, bitmap);
    cr_assert_eq(rc, 0);
    cr_assert_eq(bitmap[0], (1u << 0) | (1u << 1) | (1u << 5) | (1u << 6),
                 "dirty pages of the data area: %#llx", (unsigned long long)bitmap[0]);
    /* The used ring the relay wrote is dirty too. */
    cr_assert_eq(vmem_dirty_get_and_clear(w->rig->guest, used_page, 1, &ubit), 0);
    cr_assert_eq(ubit, 1, "guest used ring page not dirty");
    svq_relay_get_stats(w->rig->relay, &st);
    cr_assert_eq(st.dirty_bytes, 0x1021);

    /* With logging off nothing is marked. */
    cr_assert_eq(vmem_dirty_log_stop(w->rig->guest), 0);
    cr_assert_eq(vq_drv_add(w->rig->drv, bufs, 3, 0, 0), 0);
    c->busy = true;
    w->fifo[w->fifo_tail++] = 0;
    relay_forward(w);
    cr_assert(backend_pop(w, &e, store, &t));
    backend_complete(w, &e, t, 0x3020);
    relay_complete(w);
    cr_assert_eq(guest_collect(w), 1);
    cr_assert_eq(vmem_dirty_get_and_clear(w->rig->guest, RIG_DATA, 64, bitmap), 0);
    cr_assert_eq(bitmap[0], 0);
    world_free(w);
}

Test(relay, dirty_exact_split)
{
    dirty_exact((RigShape){ .guest_size = 16, .shadow_size = 16 });
}

Test(relay, dirty_exact_packed)
{
    dirty_exact((RigShape){ .guest_size = 16, .shadow_size = 16, .guest_packed = true,
                            .shadow_packed = true, .event_idx = true });
}

/* ------------------------------------------------------------------------ */
/* Hand-back                                                                 */

static void hand_back(RigShape s, bool with_parked)
{
    World *w = world_new(s, 21);
    VqElem e[2];
    VqBuf store[2][64];
    uint64_t tok[2];
    VqState be, gst;
    VqDevQueue *direct;
    unsigned total = with_parked ? 8 : 6;
    int rc;

    for (unsigned i = 0; i < total; i++) {
        cr_assert_eq(guest_add(w, 1, with_parked ? 2 : 1, with_parked), 0);
    }
    relay_forward(w);
    cr_assert_eq(svq_relay_is_parked(w->rig->relay), with_parked);
    cr_assert(backend_pop(w, &e[0], store[0], &tok[0]));
    cr_assert(backend_pop(w, &e[1], store[1], &tok[1]));
    backend_complete(w, &e[0], tok[0], 3);
    relay_complete(w);
    cr_assert_eq(guest_collect(w), 1);
    /* The back-end stops: it took two chains and completed one. */
    cr_assert_eq(vq_dev_get_state(w->rig->dev, &be), 0);
    rc = svq_relay_hand_back(w->rig->relay, &be, &gst);
    cr_assert_eq(rc, -EBUSY, "hand-back with a chain in the back-end: %s", vq_strerror(rc));
    e[1].bufs = store[1];
    backend_complete(w, &e[1], tok[1], 2);
    relay_complete(w);
    cr_assert_eq(guest_collect(w), 1);
    rc = svq_relay_hand_back(w->rig->relay, &be, &gst);
    cr_assert_eq(rc, 0, "hand-back: %s (%s)", vq_strerror(rc),
                 svq_relay_error_text(w->rig->relay));
    cr_assert(!svq_relay_is_started(w->rig->relay));
    /* A back-end now takes the guest ring itself, from @gst: it sees the
     * remaining chains, in order, once. */
    cr_assert_eq(vq_dev_new(w->rig->backend, &direct), 0);
    cr_assert_eq(vq_dev_configure(direct, &w->rig->gcfg), 0);
    cr_assert_eq(vq_dev_set_state(direct, &gst), 0);
    {
        VqDevQueue *keep = w->rig->dev;

        w->rig->dev = direct;
        for (unsigned i = 2; i < total; i++) {
            VqElem x;
            VqBuf xs[64];
            uint64_t t;

            cr_assert(backend_pop(w, &x, xs, &t), "chain %u not handed back", i);
            backend_complete(w, &x, t, 1);
        }
        {
            VqElem x;
            VqBuf xs[64];
            uint64_t t;

            cr_assert(!backend_pop(w, &x, xs, &t), "a chain was handed back twice");
        }
        w->rig->dev = keep;
    }
    cr_assert_eq(guest_collect(w), total - 2);
    cr_assert_eq(w->completed, total);
    vq_dev_free(direct);
    world_free(w);
}

Test(relay, hand_back_split)
{
    hand_back((RigShape){ .guest_size = 16, .shadow_size = 16 }, false);
}

Test(relay, hand_back_packed)
{
    hand_back((RigShape){ .guest_size = 16, .shadow_size = 16, .guest_packed = true,
                          .shadow_packed = true }, false);
}

Test(relay, hand_back_parked_mixed)
{
    hand_back((RigShape){ .guest_size = 8, .shadow_size = 8, .guest_packed = true,
                          .indirect = true }, true);
    hand_back((RigShape){ .guest_size = 8, .shadow_size = 8, .shadow_packed = true,
                          .indirect = true, .event_idx = true }, true);
}

Test(relay, hand_back_bad_position)
{
    World *w = world_new((RigShape){ .guest_size = 16, .shadow_size = 16 }, 3);
    VqState be = { .next_avail = 9 }, gst;

    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(guest_add(w, 1, 1, false), 0);
    }
    relay_forward(w);
    /* The back-end claims it stopped at 9 when 3 chains were added. */
    cr_assert_eq(svq_relay_hand_back(w->rig->relay, &be, &gst), -EPROTO);
    cr_assert(svq_relay_is_broken(w->rig->relay));
    cr_assert_eq(svq_relay_forward(w->rig->relay), -EIO);
    world_free(w);
}

Test(relay, resume_state)
{
    World *w = world_new((RigShape){ .guest_size = 8, .shadow_size = 8, .shadow_packed = true },
                         4);
    VqElem e[3];
    VqBuf store[3][64];
    uint64_t tok[3];
    VqState st;

    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(guest_add(w, 1, 1, false), 0);
    }
    relay_forward(w);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert(backend_pop(w, &e[i], store[i], &tok[i]));
    }
    backend_complete(w, &e[0], tok[0], 1);
    relay_complete(w);
    /* The oldest chain in flight is the second: it starts at position 2. */
    cr_assert_eq(svq_relay_resume_state(w->rig->relay, &st), 0);
    cr_assert_eq(st.next_avail, 2);
    cr_assert(st.avail_wrap);
    cr_assert_eq(st.next_used, 2);
    world_free(w);
}

/* ------------------------------------------------------------------------ */
/* Hostile back-end                                                          */

/* Bytes of the guest ring, to check a violation leaves it alone. */
static void guest_ring_snapshot(World *w, uint8_t *buf, size_t len)
{
    cr_assert_eq(vmem_read(w->rig->guest, RIG_GUEST_RING, buf, len), 0);
}

typedef enum Hostile {
    BAD_ID,
    STALE_ID,
    DUP_ID,
    IDX_JUMP,
    LONG_LEN,
} Hostile;

/* The guest adds two one-buffer chains, the relay forwards them and the
 * back-end takes both (not completed yet). */
static void two_chains_taken(World *w, VqElem e[2], VqBuf store[2][64], uint64_t tok[2])
{
    cr_assert_eq(guest_add(w, 1, 1, false), 0);
    cr_assert_eq(guest_add(w, 1, 1, false), 0);
    relay_forward(w);
    cr_assert(backend_pop(w, &e[0], store[0], &tok[0]));
    cr_assert(backend_pop(w, &e[1], store[1], &tok[1]));
}

/* Two chains in flight; the back-end writes raw used entries. The first
 * entry (for DUP_ID) is valid and must reach the guest exactly once. */
static void hostile_split(Hostile kind, int want)
{
    World *w = world_new((RigShape){ .guest_size = 8, .shadow_size = 8 }, 13);
    uint8_t before[0x1000], after[0x1000];
    VqElem e[2];
    VqBuf store[2][64];
    uint64_t tok[2];
    uint8_t *used = rig_shadow_ptr(w->rig, w->rig->scfg.device_addr - RIG_SHADOW_GPA,
                                   vq_split_used_bytes(8));
    uint16_t idx = 1;
    int rc;

    two_chains_taken(w, e, store, tok);
    guest_ring_snapshot(w, before, sizeof(before));
    switch (kind) {
    case BAD_ID:
        vmem_cpu_to_le32(used + 4, 999);
        vmem_cpu_to_le32(used + 8, 0);
        break;
    case STALE_ID:
        vmem_cpu_to_le32(used + 4, 5); /* a descriptor index never a head */
        vmem_cpu_to_le32(used + 8, 0);
        break;
    case DUP_ID:
        vmem_cpu_to_le32(used + 4, e[0].id);
        vmem_cpu_to_le32(used + 8, 0);
        vmem_cpu_to_le32(used + 12, e[0].id);
        vmem_cpu_to_le32(used + 16, 0);
        w->chains[tok[0]].len = 0;
        idx = 2;
        break;
    case IDX_JUMP:
        idx = 200;
        break;
    case LONG_LEN:
        vmem_cpu_to_le32(used + 4, e[1].id);
        vmem_cpu_to_le32(used + 8, w->chains[tok[1]].in_len + 1);
        break;
    }
    __atomic_store_n((uint16_t *)(used + 2), GUINT16_TO_LE(idx), __ATOMIC_RELEASE);
    rc = svq_relay_complete(w->rig->relay);
    cr_assert_eq(rc, want, "complete: %s, expected %s (%s)", vq_strerror(rc),
                 vq_strerror(want), svq_relay_error_text(w->rig->relay));
    cr_assert(svq_relay_is_broken(w->rig->relay));
    cr_assert(strstr(svq_relay_error_text(w->rig->relay), "back-end") != NULL, "%s",
              svq_relay_error_text(w->rig->relay));
    if (kind == DUP_ID) {
        /* The valid entry before the violation reached the guest, once. */
        cr_assert_eq(guest_collect(w), 1);
        cr_assert(w->chains[tok[1]].busy);
    } else {
        cr_assert_eq(guest_collect(w), 0, "a completion leaked to the guest");
        guest_ring_snapshot(w, after, sizeof(after));
        cr_assert(memcmp(before, after, sizeof(before)) == 0, "the guest ring changed");
    }
    /* Broken from now on, in both directions. */
    cr_assert_eq(svq_relay_complete(w->rig->relay), -EIO);
    cr_assert_eq(svq_relay_forward(w->rig->relay), -EIO);
    cr_assert_eq(guest_collect(w), 0);
    world_free(w);
}

Test(hostile, split_id_out_of_range) { hostile_split(BAD_ID, -ERANGE); }
Test(hostile, split_id_not_in_flight) { hostile_split(STALE_ID, -ESTALE); }
Test(hostile, split_duplicate_completion) { hostile_split(DUP_ID, -ESTALE); }
Test(hostile, split_used_idx_jump) { hostile_split(IDX_JUMP, -EPROTO); }
Test(hostile, split_length_beyond_chain) { hostile_split(LONG_LEN, -EMSGSIZE); }

/* Packed shadow ring: the back-end writes one used descriptor at position 0. */
static void hostile_packed(Hostile kind, int want)
{
    World *w = world_new((RigShape){ .guest_size = 8, .shadow_size = 8, .shadow_packed = true },
                         17);
    uint8_t *desc = rig_shadow_ptr(w->rig, 0, vq_packed_desc_bytes(8));
    VqElem e[2];
    VqBuf store[2][64];
    uint64_t tok[2];
    uint16_t id = 0;
    uint32_t len = 0;
    int rc;

    two_chains_taken(w, e, store, tok);
    switch (kind) {
    case BAD_ID:
        id = 999;
        break;
    case STALE_ID:
        id = 6;
        break;
    case LONG_LEN:
        id = e[0].id;
        len = w->chains[tok[0]].in_len + 1;
        break;
    default:
        cr_assert_fail("no such case");
    }
    vmem_cpu_to_le32(desc + 8, len);
    vmem_cpu_to_le16(desc + 12, id);
    __atomic_store_n((uint16_t *)(desc + 14),
                     GUINT16_TO_LE(VQ_DESC_F_AVAIL | VQ_DESC_F_USED), __ATOMIC_RELEASE);
    rc = svq_relay_complete(w->rig->relay);
    cr_assert_eq(rc, want, "complete: %s, expected %s", vq_strerror(rc), vq_strerror(want));
    cr_assert(svq_relay_is_broken(w->rig->relay));
    cr_assert_eq(guest_collect(w), 0);
    cr_assert_eq(svq_relay_complete(w->rig->relay), -EIO);
    world_free(w);
}

Test(hostile, packed_id_out_of_range) { hostile_packed(BAD_ID, -ERANGE); }
Test(hostile, packed_id_not_in_flight) { hostile_packed(STALE_ID, -ESTALE); }
Test(hostile, packed_length_beyond_chain) { hostile_packed(LONG_LEN, -EMSGSIZE); }

Test(hostile, exact_length_accepted)
{
    World *w = world_new((RigShape){ .guest_size = 8, .shadow_size = 8 }, 19);
    VqElem e;
    VqBuf store[64];
    uint64_t t;

    cr_assert_eq(guest_add(w, 1, 2, false), 0);
    relay_forward(w);
    cr_assert(backend_pop(w, &e, store, &t));
    backend_complete(w, &e, t, w->chains[t].in_len);
    relay_complete(w);
    cr_assert_eq(guest_collect(w), 1);
    cr_assert(!svq_relay_is_broken(w->rig->relay));
    world_free(w);
}

/* ------------------------------------------------------------------------ */
/* Guest mistakes and arguments                                              */

Test(relay, guest_avail_jump)
{
    World *w = world_new((RigShape){ .guest_size = 8, .shadow_size = 8 }, 23);
    int rc;

    cr_assert_eq(guest_add(w, 1, 1, false), 0);
    /* The guest publishes an available index 100 entries ahead. */
    cr_assert_eq(vmem_write_le16(w->rig->guest, w->rig->gcfg.driver_addr + 2, 100), 0);
    rc = svq_relay_forward(w->rig->relay);
    cr_assert_eq(rc, -EPROTO, "forward: %s", vq_strerror(rc));
    cr_assert(strncmp(svq_relay_error_text(w->rig->relay), "guest:", 6) == 0, "%s",
              svq_relay_error_text(w->rig->relay));
    cr_assert_eq(svq_relay_in_flight(w->rig->relay), 0);
    world_free(w);
}

Test(relay, arguments)
{
    SvqRig *rig = mk((RigShape){ .guest_size = 16, .shadow_size = 16 });
    SvqRelay *r = NULL;
    VqConfig small = rig->scfg;
    VqState st = { 0 };

    cr_assert_eq(svq_relay_new(NULL, rig->shadow, &r), -EINVAL);
    cr_assert_eq(svq_relay_new(rig->guest, NULL, &r), -EINVAL);
    cr_assert_eq(svq_relay_new(rig->guest, rig->shadow, NULL), -EINVAL);
    cr_assert_eq(svq_relay_new(rig->guest, rig->shadow, &r), 0);
    cr_assert_eq(svq_relay_forward(r), -EBADFD);
    cr_assert_eq(svq_relay_complete(r), -EBADFD);
    cr_assert_eq(svq_relay_hand_back(r, &st, &st), -EBADFD);
    cr_assert_eq(svq_relay_hand_back(r, NULL, &st), -EINVAL);
    cr_assert_eq(svq_relay_resume_state(r, &st), -EBADFD);
    small.size = 8;
    cr_assert_eq(svq_relay_start(r, &rig->gcfg, NULL, &small), -EINVAL, "smaller shadow ring");
    small = rig->scfg;
    small.device_addr = RIG_SHADOW_GPA + RIG_SHADOW_BYTES - 4;
    cr_assert_eq(svq_relay_start(r, &rig->gcfg, NULL, &small), -EFAULT, "shadow outside map");
    cr_assert(!svq_relay_is_started(r));
    cr_assert_eq(svq_relay_start(r, &rig->gcfg, NULL, &rig->scfg), 0);
    cr_assert_eq(svq_relay_start(r, &rig->gcfg, NULL, &rig->scfg), -EINVAL, "started twice");
    cr_assert_eq(svq_relay_forward(NULL), -EINVAL);
    cr_assert_eq(svq_relay_in_flight(NULL), 0);
    cr_assert_str_eq(svq_relay_error_text(NULL), "");
    svq_relay_free(r);
    svq_relay_free(NULL);
    rig_free(rig);
}

Test(relay, remap)
{
    World *w = world_new((RigShape){ .guest_size = 16, .shadow_size = 16 }, 29);

    cr_assert_eq(svq_relay_remap(NULL), -EINVAL);
    traffic(w, 100);
    /* Memory hot-plug: the ring stays where it is. */
    cr_assert_eq(vmem_map_add_anon(w->rig->guest, RIG_RAM_BYTES, 0x100000), 0);
    cr_assert_eq(svq_relay_remap(w->rig->relay), 0);
    traffic(w, 200);
    /* The region holding the ring goes away: the relay breaks. */
    cr_assert_eq(vmem_map_remove(w->rig->guest, 0), 0);
    cr_assert_eq(svq_relay_remap(w->rig->relay), -EFAULT);
    cr_assert(svq_relay_is_broken(w->rig->relay));
    cr_assert_eq(svq_relay_forward(w->rig->relay), -EIO);
    svq_relay_stop(w->rig->relay);
    cr_assert_eq(svq_relay_remap(w->rig->relay), -EBADFD);
    world_free(w);
}
