/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: used rings written by a hostile back-end into the shadow
 * ring, relayed to the guest.
 *
 * The input drives an in-process rig (tests/svq-rig.h): a guest driver on
 * the guest ring, the relay, an honest back-end on the shadow ring, and raw
 * writes of arbitrary used entries, used indices and packed descriptors
 * into the shadow ring, plus hand-backs from arbitrary stop positions.
 *
 * Byte 0 picks the shape (layouts, EVENT_IDX, indirect, shadow size); then
 * each operation is one byte (value % OP_MAX) followed by its operands.
 *
 * Checked: the guest ring is written by the relay only, so the guest
 * driver must never see a violation (an id not in flight would be a
 * duplicated or invented completion); every completion the guest sees is a
 * chain it added and still waits for, with a length within its writable
 * bytes; once the relay is broken the guest's used index does not move.
 * Memory outside the maps is never touched (the maps are bounded mappings:
 * ASan and the guard pages around them catch a stray access), and every
 * operation is bounded (libFuzzer's timeout catches a loop).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "svq-rig.h"

#define CHECK(c)                                                                               \
    do {                                                                                       \
        if (!(c)) {                                                                            \
            __builtin_trap();                                                                  \
        }                                                                                      \
    } while (0)

enum {
    OP_ADD,
    OP_FORWARD,
    OP_BE_POP,
    OP_BE_PUSH,
    OP_RAW_USED,
    OP_RAW_INDEX,
    OP_COMPLETE,
    OP_COLLECT,
    OP_HAND_BACK,
    OP_RESUME,
    OP_MAX,
};

#define NSHAPES 32
#define MAX_HELD 8
#define MAX_TOKENS 256
#define MAX_BUFS 6

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static unsigned take(Input *in, unsigned bytes, uint64_t *ret)
{
    uint64_t v = 0;
    unsigned n = 0;

    for (; n < bytes && in->left; n++, in->p++, in->left--) {
        v |= (uint64_t)*in->p << (8 * n);
    }
    *ret = v;
    return n;
}

static uint64_t get(Input *in, unsigned bytes)
{
    uint64_t v;

    take(in, bytes, &v);
    return v;
}

typedef struct State {
    SvqRig *rig;
    bool busy[MAX_TOKENS];
    uint32_t in_len[MAX_TOKENS];
    uint64_t next_token;
    VqElem held[MAX_HELD];
    VqBuf store[MAX_HELD][64];
    unsigned nheld;
    bool relay_broken_seen;
    uint16_t guest_used_when_broken;
} State;

static SvqRig *rigs[NSHAPES];

static SvqRig *rig_for(uint8_t shape)
{
    unsigned i = shape % NSHAPES;
    RigShape s = {
        .guest_size = 8,
        .shadow_size = (i & 16) ? 13 : 8,
        .guest_packed = i & 1,
        .shadow_packed = i & 2,
        .event_idx = i & 4,
        .indirect = i & 8,
    };

    if ((i & 16) && !s.shadow_packed) {
        s.shadow_size = 16; /* split rings are powers of two */
    }
    if (!rigs[i] && rig_new(&s, &rigs[i]) < 0) {
        return NULL;
    }
    return rigs[i];
}

static uint16_t guest_used_idx(State *st)
{
    uint16_t v = 0;

    if (!st->rig->shape.guest_packed) {
        vmem_read_le16(st->rig->guest, st->rig->gcfg.device_addr + VQ_SPLIT_USED_IDX, &v);
    }
    return v;
}

static void op_add(State *st, Input *in)
{
    uint8_t b = (uint8_t)get(in, 1), seed = (uint8_t)get(in, 1);
    unsigned nbufs = 1 + (b & 3) + ((b >> 5) & 1) * 2;
    unsigned nin = MIN((b >> 2) & 3, nbufs);
    bool indirect = (b & 0x10) && st->rig->shape.indirect;
    uint64_t t = st->next_token % MAX_TOKENS;
    VqBuf bufs[MAX_BUFS];
    uint32_t in_len = 0;

    if (st->busy[t]) {
        return;
    }
    for (unsigned i = 0; i < nbufs; i++) {
        uint32_t len = (uint32_t)((seed * (i + 1) * 37u) % 0x900u);

        bufs[i] = (VqBuf){ RIG_DATA + (t % 32) * 0x8000 + i * 0x900, len,
                           i >= nbufs - nin ? VQ_BUF_WRITE : 0 };
        if (i >= nbufs - nin) {
            in_len += len;
        }
    }
    if (vq_drv_add(st->rig->drv, bufs, nbufs, t, indirect ? VQ_ADD_INDIRECT : 0) == 0) {
        st->busy[t] = true;
        st->in_len[t] = in_len;
        st->next_token++;
    }
}

static void op_be_pop(State *st)
{
    VqElem *e;

    if (st->nheld == MAX_HELD) {
        return;
    }
    e = &st->held[st->nheld];
    e->bufs = st->store[st->nheld];
    e->bufs_cap = 64;
    if (vq_dev_pop(st->rig->dev, e) == 0) {
        st->nheld++;
    }
}

static void op_be_push(State *st, Input *in)
{
    unsigned i = (unsigned)get(in, 1);
    uint32_t len = (uint32_t)get(in, 2);

    if (!st->nheld) {
        return;
    }
    i %= st->nheld;
    st->held[i].bufs = st->store[i];
    /* Lengths are clamped by the device side: an honest back-end. */
    vq_dev_push(st->rig->dev, &st->held[i], len);
    st->nheld--;
    if (i != st->nheld) {
        st->held[i] = st->held[st->nheld];
        memcpy(st->store[i], st->store[st->nheld], sizeof(st->store[0]));
        st->held[i].bufs = st->store[i];
    }
}

/* Arbitrary used entries (split) or descriptors (packed) in the shadow ring. */
static void op_raw_used(State *st, Input *in)
{
    SvqRig *rig = st->rig;
    uint32_t n = rig->scfg.size;
    uint64_t slot = get(in, 1) % n;

    if (!rig->shape.shadow_packed) {
        uint8_t *used = rig_shadow_ptr(rig, rig->scfg.device_addr - RIG_SHADOW_GPA,
                                       vq_split_used_bytes(n));
        uint32_t id = (uint32_t)get(in, 4), len = (uint32_t)get(in, 4);

        vmem_cpu_to_le32(used + VQ_SPLIT_USED_RING + 8 * slot, id);
        vmem_cpu_to_le32(used + VQ_SPLIT_USED_RING + 8 * slot + 4, len);
    } else {
        uint8_t *desc = rig_shadow_ptr(rig, 0, vq_packed_desc_bytes(n));
        uint16_t id = (uint16_t)get(in, 2);
        uint32_t len = (uint32_t)get(in, 4);
        uint16_t flags = (uint16_t)get(in, 2);

        vmem_cpu_to_le32(desc + 16 * slot + 8, len);
        vmem_cpu_to_le16(desc + 16 * slot + 12, id);
        __atomic_store_n((uint16_t *)(desc + 16 * slot + 14), GUINT16_TO_LE(flags),
                         __ATOMIC_RELEASE);
    }
}

/* An arbitrary used index (split) or driver-visible event area (packed). */
static void op_raw_index(State *st, Input *in)
{
    SvqRig *rig = st->rig;
    uint16_t v = (uint16_t)get(in, 2);
    uint8_t *p = rig_shadow_ptr(rig, rig->scfg.device_addr - RIG_SHADOW_GPA, 4);

    if (!rig->shape.shadow_packed) {
        __atomic_store_n((uint16_t *)(p + VQ_SPLIT_USED_IDX), GUINT16_TO_LE(v),
                         __ATOMIC_RELEASE);
    } else {
        vmem_cpu_to_le16(p, v);
        vmem_cpu_to_le16(p + 2, (uint16_t)get(in, 2));
    }
}

/* The guest takes its completions: each must be a chain it is waiting for. */
static void op_collect(State *st)
{
    VqUsed u;
    int rc;

    while ((rc = vq_drv_get_used(st->rig->drv, &u)) == 0) {
        CHECK(u.token < MAX_TOKENS);
        CHECK(st->busy[u.token]);
        CHECK(u.len <= st->in_len[u.token]);
        st->busy[u.token] = false;
    }
    /* Only the relay writes the guest ring: no violation is acceptable. */
    CHECK(rc == -EAGAIN);
}

/* Hand-back from an arbitrary stop position, then a restart from where the
 * guest ring stands, as a switch off and on again would do. */
static void op_hand_back(State *st, Input *in)
{
    SvqRig *rig = st->rig;
    uint32_t base = (uint32_t)get(in, 4);
    VqLayout layout = rig->shape.shadow_packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT;
    VqState be, gst;

    if (!rig->shape.shadow_packed) {
        base &= 0xffff;
    }
    if (vq_state_from_vring_base(layout, base, &be) < 0) {
        return;
    }
    if (svq_relay_hand_back(rig->relay, &be, &gst) != 0) {
        return;
    }
    CHECK(!svq_relay_is_started(rig->relay));
    CHECK(gst.next_avail == gst.next_used && gst.avail_wrap == gst.used_wrap);
    CHECK(svq_relay_start(rig->relay, &rig->gcfg, &gst, &rig->scfg) == 0);
    CHECK(vq_dev_configure(rig->dev, &rig->scfg) == 0);
    st->nheld = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Input in = { data, size };
    State st;

    if (size < 1) {
        return 0;
    }
    memset(&st, 0, sizeof(st));
    st.rig = rig_for((uint8_t)get(&in, 1));
    if (!st.rig || rig_start(st.rig) < 0) {
        return 0;
    }
    while (in.left) {
        unsigned op = (unsigned)get(&in, 1) % OP_MAX;
        VqState rs;

        switch (op) {
        case OP_ADD:
            op_add(&st, &in);
            break;
        case OP_FORWARD:
            svq_relay_forward(st.rig->relay);
            break;
        case OP_BE_POP:
            op_be_pop(&st);
            break;
        case OP_BE_PUSH:
            op_be_push(&st, &in);
            break;
        case OP_RAW_USED:
            op_raw_used(&st, &in);
            break;
        case OP_RAW_INDEX:
            op_raw_index(&st, &in);
            break;
        case OP_COMPLETE:
            svq_relay_complete(st.rig->relay);
            break;
        case OP_COLLECT:
            op_collect(&st);
            break;
        case OP_HAND_BACK:
            op_hand_back(&st, &in);
            break;
        case OP_RESUME:
            if (svq_relay_resume_state(st.rig->relay, &rs) == 0) {
                CHECK(rs.next_avail < 0x8000u || !st.rig->shape.shadow_packed);
            }
            break;
        }
        if (svq_relay_is_broken(st.rig->relay)) {
            uint16_t used = guest_used_idx(&st);

            /* A broken relay leaves the guest ring alone. */
            if (!st.relay_broken_seen) {
                st.relay_broken_seen = true;
                st.guest_used_when_broken = used;
            }
            CHECK(used == st.guest_used_when_broken);
            CHECK(svq_relay_forward(st.rig->relay) == -EIO);
            CHECK(svq_relay_complete(st.rig->relay) == -EIO);
        }
    }
    op_collect(&st);
    return 0;
}
