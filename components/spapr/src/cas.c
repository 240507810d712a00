/* SPDX-License-Identifier: MIT */
/* ibm,client-architecture-support (H_CAS), the minimal version a guest
 * needs: the PVR list (to find a compatibility mode and the start of the
 * option vectors), option vector 5 (the interrupt and MMU modes), the
 * negotiated vector for /chosen, and the updated device tree handed back
 * in the caller's buffer as QEMU does for SLOF. */
#include "spapr-internal.h"

#include <inttypes.h>
#include <string.h>

#define CAS_MAX_PVRS 512u
/* Logical PVRs ("architected" compatibility modes) a POWER9 can run in. */
#define PVR_LOGICAL_2_05 0x0f000002u
#define PVR_LOGICAL_3_00 0x0f000005u
/* The header QEMU puts in front of the device tree in the CAS buffer. */
#define CAS_FDT_UPDATE_VERSION 1u

/* What this machine offers in option vector 5. Bits the guest asks for
 * outside this set are not negotiated. */
static bool ov5_platform_bit(unsigned byte, uint8_t bit)
{
    return byte == SPAPR_OV5_INTC_BYTE && bit == SPAPR_OV5_XIVE_EXPLOIT;
}

size_t spapr_ov5_encode(const uint8_t ov5[SPAPR_OV_MAX_BYTES], uint8_t out[SPAPR_OV_MAX_BYTES + 1])
{
    size_t len = 1; /* at least one byte, as QEMU encodes an empty vector */
    for (size_t i = 0; i < SPAPR_OV_MAX_BYTES; i++) {
        if (ov5[i]) {
            len = i + 1;
        }
    }
    out[0] = (uint8_t)(len - 1);
    memcpy(out + 1, ov5, len);
    return len + 1;
}

void spapr_cas_select_xive(SpaprMachine *m)
{
    m->ov5_cas[SPAPR_OV5_INTC_BYTE] |= SPAPR_OV5_XIVE_EXPLOIT;
}

static bool ram_u8(SpaprMachine *m, uint64_t gpa, uint8_t *ret)
{
    return spapr_ram_read(m, gpa, ret, 1);
}

/* Walks the PVR list. Returns false if it runs out of RAM. */
static bool cas_scan_pvrs(SpaprMachine *m, uint64_t *addr, bool *ret_explicit,
                          uint32_t *ret_best)
{
    bool explicit_match = false;
    uint32_t best = 0;

    for (unsigned i = 0; i < CAS_MAX_PVRS; i++) {
        uint32_t mask, pvr;
        if (!spapr_ram_read_be32(m, *addr, &mask) || !spapr_ram_read_be32(m, *addr + 4, &pvr)) {
            return false;
        }
        *addr += 8;
        if (~mask & pvr) {
            break; /* the terminator: a value with bits outside its mask */
        }
        if ((m->cpu_pvr & mask) == (pvr & mask)) {
            explicit_match = true;
        } else if (pvr >= PVR_LOGICAL_2_05 && pvr <= PVR_LOGICAL_3_00 && pvr > best) {
            best = pvr;
        }
    }
    *ret_explicit = explicit_match;
    *ret_best = best;
    return true;
}

/* Finds option vector @vector (1-based) in the table at @table and copies it
 * to @ov (zero-filled). Returns false if it runs out of RAM; an absent vector
 * reads as empty. */
static bool cas_parse_vector(SpaprMachine *m, uint64_t table, unsigned vector,
                             uint8_t ov[SPAPR_OV_MAX_BYTES])
{
    uint8_t count, len;

    memset(ov, 0, SPAPR_OV_MAX_BYTES);
    if (!ram_u8(m, table, &count)) {
        return false;
    }
    if (vector > (unsigned)count + 1) {
        return true;
    }
    uint64_t addr = table + 1;
    for (unsigned i = 1; i < vector; i++) {
        if (!ram_u8(m, addr, &len)) {
            return false;
        }
        addr += (uint64_t)len + 2; /* length byte + len + 1 bytes */
    }
    if (!ram_u8(m, addr, &len)) {
        return false;
    }
    return spapr_ram_read(m, addr + 1, ov, (size_t)len + 1);
}

/* Writes the version header and the device tree of the new state into the
 * guest's buffer (QEMU does so for SLOF). */
static int64_t cas_write_fdt(SpaprMachine *m, uint64_t buf, uint64_t bufsize)
{
    GError *err = NULL;
    GBytes *fdt = spapr_fdt_build(m, &err);
    if (!fdt) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "CAS: %s", err->message);
        g_error_free(err);
        return SPAPR_H_HARDWARE;
    }
    gsize len;
    const uint8_t *data = g_bytes_get_data(fdt, &len);
    uint8_t hdr[4];
    vmem_cpu_to_be32(hdr, CAS_FDT_UPDATE_VERSION);
    int64_t ret = SPAPR_H_SUCCESS;
    if (bufsize < sizeof(hdr) + len || !spapr_ram_range_ok(m, buf, sizeof(hdr) + len)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "CAS buffer 0x%" PRIx64 "+0x%" PRIx64
                  " cannot hold the %zu-byte device tree", buf, bufsize, (size_t)len + 4);
        ret = SPAPR_H_PARAMETER;
    } else if (!spapr_ram_write(m, buf, hdr, sizeof(hdr)) ||
               !spapr_ram_write(m, buf + sizeof(hdr), data, len)) {
        ret = SPAPR_H_PARAMETER;
    }
    g_bytes_unref(fdt);
    return ret;
}

int64_t spapr_h_cas(SpaprMachine *m, uint64_t *args)
{
    uint64_t addr = args[0] & SPAPR_REAL_ADDR_MASK;
    uint64_t buf = args[1], bufsize = args[2];
    uint8_t guest[SPAPR_OV_MAX_BYTES];
    bool explicit_match;
    uint32_t best;

    if (!cas_scan_pvrs(m, &addr, &explicit_match, &best) ||
        !cas_parse_vector(m, addr, 5, guest)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "CAS vector at 0x%" PRIx64 " runs out of RAM",
                  args[0]);
        return SPAPR_H_PARAMETER;
    }
    if (best == 0 && !explicit_match) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "Couldn't negotiate a suitable PVR during CAS");
        return SPAPR_H_HARDWARE;
    }
    if ((guest[SPAPR_OV5_MMU_BYTE] & SPAPR_OV5_MMU_BOTH)) {
        spapr_fatal(m, "guest requested hash and radix MMU, which is invalid.");
        return SPAPR_H_HARDWARE;
    }
    if ((guest[SPAPR_OV5_INTC_BYTE] & SPAPR_OV5_XIVE_BOTH)) {
        spapr_fatal(m, "guest requested an invalid interrupt mode");
        return SPAPR_H_HARDWARE;
    }
    bool guest_radix = guest[SPAPR_OV5_MMU_BYTE] & SPAPR_OV5_MMU_RADIX_300;
    bool guest_xive = guest[SPAPR_OV5_INTC_BYTE] & SPAPR_OV5_XIVE_EXPLOIT;
    if (!guest_xive) {
        spapr_fatal(m, "Guest requested unavailable interrupt mode (XICS), either don't set the "
                       "ic-mode machine property or try ic-mode=xics or ic-mode=dual");
        return SPAPR_H_HARDWARE;
    }

    /* The negotiated vector: what both sides have; the radix bit is the
     * guest's choice (this machine does not restrict the MMU mode). */
    uint8_t negotiated[SPAPR_OV_MAX_BYTES];
    for (unsigned i = 0; i < SPAPR_OV_MAX_BYTES; i++) {
        negotiated[i] = 0;
        for (unsigned b = 0; b < 8; b++) {
            uint8_t bit = (uint8_t)(0x80u >> b);
            if ((guest[i] & bit) && ov5_platform_bit(i, bit)) {
                negotiated[i] |= bit;
            }
        }
    }
    if (guest_radix) {
        negotiated[SPAPR_OV5_MMU_BYTE] |= SPAPR_OV5_MMU_RADIX_300;
    }

    uint8_t old_ov5[SPAPR_OV_MAX_BYTES];
    uint32_t old_compat = m->compat_pvr;
    memcpy(old_ov5, m->ov5_cas, sizeof(old_ov5));
    memcpy(m->ov5_cas, negotiated, sizeof(negotiated));
    m->compat_pvr = best;
    if (bufsize) {
        int64_t ret = cas_write_fdt(m, buf, bufsize);
        if (ret != SPAPR_H_SUCCESS) { /* leave the machine as it was */
            memcpy(m->ov5_cas, old_ov5, sizeof(old_ov5));
            m->compat_pvr = old_compat;
            return ret;
        }
    }
    return SPAPR_H_SUCCESS;
}
