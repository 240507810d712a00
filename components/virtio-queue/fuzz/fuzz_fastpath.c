/* SPDX-License-Identifier: MIT */
/*
 * Differential target: the device side with its fast paths against the
 * same calls with vq_dev_set_fast_paths(q, false), on two copies of the
 * same guest memory. Every return code, every popped element, the state and
 * at the end every byte of guest memory must be the same.
 *
 * Input: header [size, features (bit 0 INDIRECT_DESC, bit 1 EVENT_IDX),
 * layout (bit 0 packed), number of ops], ops of 4 bytes, then the image of
 * the ring memory.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Result {
    int rc;
    unsigned nelem;
    VqElem elems[F_HELD];
} Result;

static void same_elem(const VqElem *x, const VqElem *y)
{
    CHECK(x->id == y->id && x->ndescs == y->ndescs && x->nout == y->nout &&
          x->nin == y->nin && x->out_len == y->out_len && x->in_len == y->in_len);
    for (unsigned i = 0; i < (unsigned)x->nout + x->nin; i++) {
        CHECK(x->bufs[i].gpa == y->bufs[i].gpa && x->bufs[i].len == y->bufs[i].len &&
              x->bufs[i].flags == y->bufs[i].flags);
    }
}

static VqBuf *slot_bufs(Fz *f, unsigned i)
{
    return f->held_bufs + (size_t)i * f->cfg.size;
}

/* Keeps a popped element (its buffers copied to slot nheld). */
static void hold(Fz *f, const VqElem *e)
{
    if (f->nheld == F_HELD) {
        return;
    }
    VqElem *h = &f->held[f->nheld];
    *h = *e;
    h->bufs = slot_bufs(f, f->nheld);
    h->bufs_cap = f->cfg.size;
    if (e->bufs != h->bufs) {
        memmove(h->bufs, e->bufs, ((size_t)e->nout + e->nin) * sizeof(VqBuf));
    }
    f->nheld++;
}

static void unhold(Fz *f, unsigned i)
{
    for (unsigned j = i; j + 1 < f->nheld; j++) {
        const VqElem *next = &f->held[j + 1];
        memcpy(slot_bufs(f, j), next->bufs, ((size_t)next->nout + next->nin) * sizeof(VqBuf));
        f->held[j] = *next;
        f->held[j].bufs = slot_bufs(f, j);
    }
    f->nheld--;
}

/* One op on one world; the same bytes give the same calls in both. */
static void run_op(Fz *f, const uint8_t *op, Result *r)
{
    static VqElem batch[16];
    static VqBuf small[16][2];
    uint8_t a = op[1], b = op[2], c = op[3];
    uint32_t n = f->cfg.size;
    r->rc = 0;
    r->nelem = 0;
    switch (op[0] % 14) {
    case 0: { /* pop, sometimes with too little room */
        VqElem e = { .bufs = f->nheld < F_HELD ? slot_bufs(f, f->nheld) : small[0],
                     .bufs_cap = f->nheld < F_HELD && c % 4 ? n : a % 3 };
        r->rc = vq_dev_pop(f->dq, &e);
        if (r->rc == 0) {
            fz_check_elem(f, &e);
            hold(f, &e);
            r->elems[r->nelem++] = f->held[f->nheld - 1];
        }
        break;
    }
    case 1: { /* pop_batch with elements of 0, 1 or 2 buffers of room */
        unsigned k = a % 17;
        for (unsigned i = 0; i < k; i++) {
            batch[i] = (VqElem){ .bufs = small[i], .bufs_cap = (b >> (i % 8)) & 1 ? 2 : c % 3 };
        }
        r->rc = vq_dev_pop_batch(f->dq, batch, k);
        for (int i = 0; i < r->rc; i++) {
            fz_check_elem(f, &batch[i]);
            r->elems[r->nelem++] = batch[i];
            hold(f, &batch[i]);
        }
        break;
    }
    case 2: /* add_used */
        if (f->nheld) {
            unsigned i = a % f->nheld;
            r->rc = vq_dev_add_used(f->dq, &f->held[i], (uint32_t)b << (c & 15));
            if (r->rc == 0) {
                unhold(f, i);
            }
        }
        break;
    case 3: { /* add_used_batch, sometimes with an element gone bad */
        unsigned k = a % (f->nheld + 1);
        uint32_t lens[F_HELD];
        for (unsigned i = 0; i < k; i++) {
            lens[i] = (uint32_t)b * (i + 1) << (c & 7);
        }
        VqElem saved = { 0 };
        unsigned bad = (c & 0xf0) == 0xe0 && k ? b % k : F_HELD;
        if (bad < k) {
            saved = f->held[bad];
            f->held[bad].id = (uint16_t)(n + (c & 1));
            f->held[bad].ndescs = (c & 2) ? 0 : (uint16_t)(n + 1);
        }
        r->rc = vq_dev_add_used_batch(f->dq, f->held, (b & 1) ? lens : NULL, k);
        if (bad < k) {
            f->held[bad] = saved;
        }
        if (r->rc == 0) {
            while (k--) {
                unhold(f, 0);
            }
        }
        break;
    }
    case 4:
        r->rc = vq_dev_add_used_id(f->dq, (uint16_t)(a % (n + 2)), (uint16_t)(b % 4), c);
        break;
    case 5:
        r->rc = vq_dev_publish(f->dq);
        break;
    case 6:
        r->rc = vq_dev_should_notify(f->dq);
        break;
    case 7:
        r->rc = vq_dev_enable_notify(f->dq);
        break;
    case 8:
        r->rc = vq_dev_disable_notify(f->dq);
        break;
    case 9:
        r->rc = vq_dev_has_avail(f->dq);
        break;
    case 10: /* unpop the latest held element */
        if (f->nheld) {
            r->rc = vq_dev_unpop(f->dq, &f->held[f->nheld - 1]);
            if (r->rc == 0) {
                f->nheld--;
            }
        }
        break;
    case 11: /* the driver scribbles on ring memory */
        vmem_write_u8(f->map, F_RING + (((uint64_t)a << 8 | b) % F_IMAGE_MAX), c);
        break;
    case 12: /* the driver offers a head (split) or flips flags (packed) */
        if (!f->packed) {
            uint16_t idx;
            CHECK(vmem_read_le16(f->map, f->cfg.driver_addr + VQ_SPLIT_AVAIL_IDX, &idx) == 0);
            uint16_t head = (uint16_t)((a | b << 8) % (n + 3));
            vmem_write_le16(f->map, f->cfg.driver_addr + VQ_SPLIT_AVAIL_RING + 2ull * (idx % n),
                            head);
            vmem_write_le16(f->map, f->cfg.driver_addr + VQ_SPLIT_AVAIL_IDX,
                            (uint16_t)(idx + 1 + (c == 0xff)));
        } else {
            vmem_write_le16(f->map, f->cfg.desc_addr + 16ull * (a % n) + 14, (uint16_t)(b | c << 8));
        }
        break;
    default: { /* the driver writes a descriptor: one direct buffer, often */
        uint8_t d[16];
        uint64_t addr = F_RAM0 + ((uint64_t)b << 6);
        uint32_t len = (c & 3) == 0 ? 16u * (1 + b % 4) : (c & 3) == 1 ? b : 0xfffffff0u | b;
        uint16_t flags = (c >> 2) & 7;
        if (f->packed) {
            flags |= (c & 0x20 ? VQ_DESC_F_AVAIL : 0) | (c & 0x40 ? VQ_DESC_F_USED : 0);
        }
        uint16_t other = (uint16_t)(c & 0x80 ? (uint32_t)(b | a << 8) : b % n);
        vmem_cpu_to_le64(d, addr);
        vmem_cpu_to_le32(d + 8, len);
        vmem_cpu_to_le16(d + 12, f->packed ? other : flags);
        vmem_cpu_to_le16(d + 14, f->packed ? flags : other);
        vmem_write(f->map, f->cfg.desc_addr + 16ull * (a % n), d, sizeof(d));
        break;
    }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) {
        return 0;
    }
    bool packed = data[2] & 1;
    Fz w[2];
    if (!fz_init(&w[0], packed, data)) {
        return 0;
    }
    if (!fz_init(&w[1], packed, data)) {
        fz_fini(&w[0]);
        return 0;
    }
    unsigned nops = data[3];
    if (4u * nops > size - 4) {
        nops = (unsigned)((size - 4) / 4);
    }
    const uint8_t *ops = data + 4;
    bool ok = true;
    for (int k = 0; k < 2 && ok; k++) {
        fz_load_image(&w[k], ops + 4u * nops, size - 4 - 4u * nops);
        ok = vq_dev_new(w[k].map, &w[k].dq) == 0 && vq_dev_configure(w[k].dq, &w[k].cfg) == 0;
    }
    if (ok) {
        CHECK(vq_dev_set_fast_paths(w[1].dq, false) == 0);
        static Result r[2];
        for (unsigned i = 0; i < nops; i++) {
            for (int k = 0; k < 2; k++) {
                run_op(&w[k], ops + 4 * i, &r[k]);
            }
            CHECK(r[0].rc == r[1].rc && r[0].nelem == r[1].nelem);
            for (unsigned j = 0; j < r[0].nelem; j++) {
                same_elem(&r[0].elems[j], &r[1].elems[j]);
            }
            VqState s[2] = { { 0 }, { 0 } };
            int rc0 = vq_dev_get_state(w[0].dq, &s[0]);
            CHECK(rc0 == vq_dev_get_state(w[1].dq, &s[1]));
            CHECK(memcmp(&s[0], &s[1], sizeof(s[0])) == 0);
            CHECK(vq_dev_is_broken(w[0].dq) == vq_dev_is_broken(w[1].dq));
            CHECK(vq_dev_last_error(w[0].dq) == vq_dev_last_error(w[1].dq));
        }
        CHECK(memcmp(w[0].host0, w[1].host0, F_RAM0_SIZE) == 0);
        CHECK(memcmp(w[0].host1, w[1].host1, F_RAM1_SIZE) == 0);
    }
    fz_fini(&w[0]);
    fz_fini(&w[1]);
    return 0;
}
