/* SPDX-License-Identifier: MIT */
/*
 * Save/restore of the whole model to a versioned, checksummed byte buffer.
 *
 * Layout (all integers big-endian):
 *   header   "XIVE", u32 version, u32 nr_vcpus, u32 nr_irqs, u32 esb_shift,
 *            u32 flags, u32 payload length, u32 reserved (0)
 *   payload  nr_irqs status bytes (PQ | asserted << 2 | lsi << 3)
 *            nr_irqs EAS (u64)
 *            nr_ends END (8 x u32)
 *            nr_vcpus thread contexts: 64 ring bytes, NVT IPB, line levels
 *   trailer  u32 CRC-32 (IEEE 802.3) of header and payload
 */
#include "xive-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC "XIVE"
#define STATE_HEADER_SIZE 32u
#define STATE_TRAILER_SIZE 4u
#define STATE_TCTX_SIZE (XIVE_TM_REGS_SIZE + 2u)
#define STATE_LINES_RESERVED 0xfcu

/* CRC-32 (IEEE 802.3, reflected 0xedb88320), four bits at a time. */
static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
    static const uint32_t nibble[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t crc = UINT32_MAX;
    while (len--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ nibble[crc & 0xf];
        crc = (crc >> 4) ^ nibble[crc & 0xf];
    }
    return ~crc;
}

static void st_be64(uint8_t *p, uint64_t v)
{
    xive_st_be32(p, (uint32_t)(v >> 32));
    xive_st_be32(p + 4, (uint32_t)v);
}

static uint64_t ld_be64(const uint8_t *p)
{
    return ((uint64_t)xive_ld_be32(p) << 32) | xive_ld_be32(p + 4);
}

static size_t payload_size(const Xive *x)
{
    return (size_t)x->nr_irqs * (1 + 8) + (size_t)x->nr_ends * sizeof(XiveEnd) +
           (size_t)x->nr_vcpus * STATE_TCTX_SIZE;
}

int xive_state_save(const Xive *x, void **ret_buf, size_t *ret_len)
{
    if (!x || !ret_buf || !ret_len) {
        return -EINVAL;
    }
    size_t payload = payload_size(x);
    size_t len = STATE_HEADER_SIZE + payload + STATE_TRAILER_SIZE;
    uint8_t *buf = malloc(len);
    if (!buf) {
        return -ENOMEM;
    }
    uint8_t *p = buf;

    memcpy(p, STATE_MAGIC, 4);
    xive_st_be32(p + 4, XIVE_STATE_VERSION);
    xive_st_be32(p + 8, x->nr_vcpus);
    xive_st_be32(p + 12, x->nr_irqs);
    xive_st_be32(p + 16, x->esb_shift);
    xive_st_be32(p + 20, x->flags);
    xive_st_be32(p + 24, (uint32_t)payload);
    xive_st_be32(p + 28, 0);
    p += STATE_HEADER_SIZE;

    memcpy(p, x->status, x->nr_irqs);
    p += x->nr_irqs;
    for (uint32_t i = 0; i < x->nr_irqs; i++, p += 8) {
        st_be64(p, x->eas[i]);
    }
    for (uint32_t i = 0; i < x->nr_ends; i++) {
        for (unsigned w = 0; w < 8; w++, p += 4) {
            xive_st_be32(p, x->ends[i].w[w]);
        }
    }
    for (uint32_t v = 0; v < x->nr_vcpus; v++) {
        memcpy(p, x->tctx[v].regs, XIVE_TM_REGS_SIZE);
        p[XIVE_TM_REGS_SIZE] = x->tctx[v].nvt_ipb;
        p[XIVE_TM_REGS_SIZE + 1] = x->tctx[v].lines;
        p += STATE_TCTX_SIZE;
    }
    xive_st_be32(p, crc32_ieee(buf, (size_t)(p - buf)));
    *ret_buf = buf;
    *ret_len = len;
    return 0;
}

/* Checks everything before anything is changed. */
static int state_validate(const Xive *x, const uint8_t *b, size_t len)
{
    if (len < 8 || memcmp(b, STATE_MAGIC, 4) != 0) {
        return -EBADMSG;
    }
    if (xive_ld_be32(b + 4) != XIVE_STATE_VERSION) {
        return -EPROTONOSUPPORT;
    }
    if (len < STATE_HEADER_SIZE + STATE_TRAILER_SIZE) {
        return -EBADMSG;
    }
    uint64_t payload = xive_ld_be32(b + 24);
    if (payload != len - STATE_HEADER_SIZE - STATE_TRAILER_SIZE ||
        crc32_ieee(b, len - STATE_TRAILER_SIZE) != xive_ld_be32(b + len - STATE_TRAILER_SIZE) ||
        xive_ld_be32(b + 28) != 0) {
        return -EBADMSG;
    }
    if (xive_ld_be32(b + 8) != x->nr_vcpus || xive_ld_be32(b + 12) != x->nr_irqs ||
        xive_ld_be32(b + 16) != x->esb_shift || xive_ld_be32(b + 20) != x->flags) {
        return -EINVAL;
    }
    if (payload != payload_size(x)) {
        return -EBADMSG;
    }
    const uint8_t *status = b + STATE_HEADER_SIZE;
    for (uint32_t i = 0; i < x->nr_irqs; i++) {
        if (status[i] & XIVE_STATUS_RESERVED) {
            return -EBADMSG;
        }
    }
    const uint8_t *tctx = status + (size_t)x->nr_irqs * 9 + (size_t)x->nr_ends * sizeof(XiveEnd);
    for (uint32_t v = 0; v < x->nr_vcpus; v++, tctx += STATE_TCTX_SIZE) {
        if (tctx[XIVE_TM_REGS_SIZE + 1] & STATE_LINES_RESERVED) {
            return -EBADMSG;
        }
    }
    return 0;
}

int xive_state_load(Xive *x, const void *buf, size_t len)
{
    if (!x || (!buf && len)) {
        return -EINVAL;
    }
    const uint8_t *b = buf;
    int rc = state_validate(x, b, len);
    if (rc < 0) {
        return rc;
    }
    const uint8_t *p = b + STATE_HEADER_SIZE;

    memcpy(x->status, p, x->nr_irqs);
    p += x->nr_irqs;
    for (uint32_t i = 0; i < x->nr_irqs; i++, p += 8) {
        x->eas[i] = ld_be64(p);
    }
    for (uint32_t i = 0; i < x->nr_ends; i++) {
        for (unsigned w = 0; w < 8; w++, p += 4) {
            x->ends[i].w[w] = xive_ld_be32(p);
        }
    }
    for (uint32_t v = 0; v < x->nr_vcpus; v++, p += STATE_TCTX_SIZE) {
        memcpy(x->tctx[v].regs, p, XIVE_TM_REGS_SIZE);
        x->tctx[v].nvt_ipb = p[XIVE_TM_REGS_SIZE];
        xive_tctx_update_special(x, v);
    }
    /* Lines last, once the whole state is in place, as a handler may look. */
    p = b + STATE_HEADER_SIZE + (size_t)x->nr_irqs * 9 + (size_t)x->nr_ends * sizeof(XiveEnd);
    for (uint32_t v = 0; v < x->nr_vcpus; v++, p += STATE_TCTX_SIZE) {
        uint8_t lines = p[XIVE_TM_REGS_SIZE + 1];
        xive_set_line(x, v, XIVE_LINE_OS, lines & XIVE_LINE_BIT(XIVE_LINE_OS));
        xive_set_line(x, v, XIVE_LINE_HV, lines & XIVE_LINE_BIT(XIVE_LINE_HV));
    }
    return 0;
}
