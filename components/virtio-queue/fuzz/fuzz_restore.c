/* SPDX-License-Identifier: MIT */
/*
 * Restoring arbitrary device state over arbitrary ring memory, both layouts:
 * the restore either refuses or yields a queue that works within its bounds.
 * Input: the common 4-byte header (bit 7 of byte 2 picks packed), 8 bytes of
 * state (or a vhost-user VRING_BASE number when bit 6 of byte 2 is set),
 * then ops and the ring image.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12) {
        return 0;
    }
    bool packed = data[2] & 0x80;
    Fz f;
    if (!fz_init(&f, packed, data)) {
        return 0;
    }
    const uint8_t *st = data + 4;
    const uint8_t *rest = data + 12;
    size_t rest_len = size - 12;
    unsigned nops = data[3] % 32;
    if (3u * nops > rest_len) {
        nops = (unsigned)(rest_len / 3);
    }
    fz_load_image(&f, rest + 3u * nops, rest_len - 3u * nops);
    if (vq_dev_new(f.map, &f.dq) == 0 && vq_dev_configure(f.dq, &f.cfg) == 0) {
        VqState s;
        int rc = 0;
        if (data[2] & 0x40) {
            uint32_t base = (uint32_t)st[0] | (uint32_t)st[1] << 8 | (uint32_t)st[2] << 16 |
                            (uint32_t)st[3] << 24;
            VqLayout lay = packed ? VQ_LAYOUT_PACKED : VQ_LAYOUT_SPLIT;
            rc = vq_state_from_vring_base(lay, base, &s);
            if (rc == 0) {
                CHECK(vq_state_to_vring_base(lay, &s) == (packed ? base : (base & 0xffff)));
            }
        } else {
            s.next_avail = (uint16_t)(st[0] | st[1] << 8);
            s.next_used = (uint16_t)(st[2] | st[3] << 8);
            s.avail_wrap = st[4] & 1;
            s.used_wrap = st[5] & 1;
            s.flags = st[6] & 0x81;
        }
        if (rc == 0 && vq_dev_set_state(f.dq, &s) == 0) {
            VqState back;
            CHECK(vq_dev_get_state(f.dq, &back) == 0);
            CHECK(back.next_avail == s.next_avail);
            if (!(s.flags & VQ_STATE_F_USED_FROM_RING)) {
                CHECK(back.next_used == s.next_used);
            }
            if (packed) {
                CHECK(back.next_avail < f.cfg.size && back.next_used < f.cfg.size);
                CHECK(back.avail_wrap == s.avail_wrap && back.used_wrap == s.used_wrap);
            }
            fz_device_ops(&f, rest, nops);
        }
    }
    fz_fini(&f);
    return 0;
}
