/* SPDX-License-Identifier: MIT */
/* The hypercall dispatcher and the small hcalls: console, H_SET_MODE,
 * H_LOGICAL_CI_LOAD/STORE and the H_RTAS entry. */
#include "spapr-internal.h"

#include <inttypes.h>
#include <string.h>

#define H_TERM_MAX 16u

/* ------------------------------------------------------------------------ */
/* Console: the vty answers to its reg and, like QEMU's early-debug hack,
 * to termno 0.                                                              */

static bool vty_lookup(SpaprMachine *m, uint64_t reg)
{
    if (m->console && (reg == SPAPR_VTY_REG || reg == 0)) {
        return true;
    }
    spapr_log(m, SPAPR_LOG_GUEST_ERROR, "no vty with reg 0x%" PRIx64, reg);
    return false;
}

static int64_t h_put_term_char(SpaprMachine *m, uint64_t *args)
{
    uint64_t len = args[1];
    uint8_t buf[H_TERM_MAX];

    if (!vty_lookup(m, args[0])) {
        return SPAPR_H_PARAMETER;
    }
    if (len > H_TERM_MAX) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "H_PUT_TERM_CHAR of %" PRIu64 " bytes", len);
        return SPAPR_H_PARAMETER;
    }
    vmem_cpu_to_be64(buf, args[2]);
    vmem_cpu_to_be64(buf + 8, args[3]);
    spapr_console_write(m, buf, (size_t)len);
    return SPAPR_H_SUCCESS;
}

static int64_t h_get_term_char(SpaprMachine *m, uint64_t *args)
{
    uint8_t buf[H_TERM_MAX] = { 0 };

    if (!vty_lookup(m, args[0])) {
        return SPAPR_H_PARAMETER;
    }
    size_t n = spapr_console_read(m, buf, sizeof(buf));
    args[0] = n;
    args[1] = vmem_be64_to_cpu(buf);
    args[2] = vmem_be64_to_cpu(buf + 8);
    return SPAPR_H_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* H_SET_MODE                                                                */

static int64_t set_mode_le(SpaprMachine *m, uint64_t mflags, uint64_t value1, uint64_t value2)
{
    if (value1) {
        return SPAPR_H_P3;
    }
    if (value2) {
        return SPAPR_H_P4;
    }
    if (mflags != SPAPR_H_SET_MODE_ENDIAN_BIG && mflags != SPAPR_H_SET_MODE_ENDIAN_LITTLE) {
        return SPAPR_H_UNSUPPORTED_FLAG;
    }
    m->little_endian = mflags == SPAPR_H_SET_MODE_ENDIAN_LITTLE;
    if (m->cb.set_endian) {
        m->cb.set_endian(m->opaque, m->little_endian);
    }
    return SPAPR_H_SUCCESS;
}

static int64_t set_mode_addr_trans(SpaprMachine *m, uint64_t mflags, uint64_t value1,
                                   uint64_t value2)
{
    if (value1) {
        return SPAPR_H_P3;
    }
    if (value2) {
        return SPAPR_H_P4;
    }
    /* AIL 1 is not architected and AIL 2 is not supported (as QEMU). */
    if (mflags != 0 && mflags != 3) {
        return SPAPR_H_UNSUPPORTED_FLAG;
    }
    m->ail = (unsigned)mflags;
    return SPAPR_H_SUCCESS;
}

static int64_t h_set_mode(SpaprMachine *m, uint64_t *args)
{
    switch (args[1]) {
    case SPAPR_H_SET_MODE_RESOURCE_LE:
        return set_mode_le(m, args[0], args[2], args[3]);
    case SPAPR_H_SET_MODE_RESOURCE_ADDR_TRANS_MODE:
        return set_mode_addr_trans(m, args[0], args[2], args[3]);
    default:
        spapr_log(m, SPAPR_LOG_UNIMP, "H_SET_MODE resource %" PRIu64, args[1]);
        return SPAPR_H_P2;
    }
}

/* ------------------------------------------------------------------------ */
/* H_LOGICAL_CI_LOAD / STORE: big-endian RAM, else the VMM's MMIO             */

static bool ci_size_ok(uint64_t size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static uint64_t ones(unsigned size)
{
    return size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static int64_t h_logical_ci(SpaprMachine *m, uint64_t *args, bool is_write)
{
    uint64_t size = args[0];
    uint64_t addr = args[1];
    uint64_t value = is_write ? args[2] : 0;
    uint8_t b[8];

    if (!ci_size_ok(size)) {
        return SPAPR_H_PARAMETER;
    }
    unsigned n = (unsigned)size;
    if (is_write) {
        value &= ones(n);
    }
    if (addr < m->ram_size) {
        if (is_write) {
            for (unsigned i = 0; i < n; i++) {
                b[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
            }
            if (spapr_ram_write(m, addr, b, n)) {
                return SPAPR_H_SUCCESS;
            }
        } else if (spapr_ram_read(m, addr, b, n)) {
            for (unsigned i = 0; i < n; i++) {
                value = value << 8 | b[i];
            }
            args[0] = value;
            return SPAPR_H_SUCCESS;
        }
    } else if (m->cb.mmio && m->cb.mmio(m->opaque, addr, n, &value, is_write) == 0) {
        if (!is_write) {
            args[0] = value & ones(n);
        }
        return SPAPR_H_SUCCESS;
    }
    spapr_log(m, SPAPR_LOG_GUEST_ERROR, "H_LOGICAL_CI_%s of %u bytes at unassigned 0x%" PRIx64,
              is_write ? "STORE" : "LOAD", n, addr);
    if (!is_write) {
        args[0] = ones(n);
    }
    return SPAPR_H_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* H_RTAS                                                                    */

int64_t spapr_hcall_rtas(SpaprMachine *m, uint32_t vcpu, uint64_t *args)
{
    uint64_t addr = args[0] & SPAPR_REAL_ADDR_MASK;
    uint8_t hdr[12];

    if (!spapr_ram_read(m, addr, hdr, sizeof(hdr))) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "RTAS argument block at 0x%" PRIx64
                  " is not in RAM", addr);
        return SPAPR_H_PARAMETER;
    }
    uint32_t token = vmem_be32_to_cpu(hdr);
    uint32_t nargs = vmem_be32_to_cpu(hdr + 4);
    uint32_t nret = vmem_be32_to_cpu(hdr + 8);
    uint64_t args_gpa = addr + sizeof(hdr);
    return spapr_rtas_dispatch(m, vcpu, token, nargs, args_gpa, nret,
                               args_gpa + 4 * (uint64_t)nargs);
}

/* ------------------------------------------------------------------------ */
/* Dispatcher                                                                */

gboolean spapr_hcall(SpaprMachine *m, uint32_t vcpu, uint64_t regs[SPAPR_HCALL_NREGS],
                     GError **error)
{
    if (!m || !regs || vcpu >= m->nr_vcpus) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or registers, or vCPU %" PRIu32 " out of range", vcpu);
        return FALSE;
    }
    uint64_t opcode = regs[0];
    uint64_t *args = regs + 1; /* r4 .. r12 */
    int64_t ret;

    switch (opcode) {
    case SPAPR_H_PUT_TERM_CHAR:
        ret = h_put_term_char(m, args);
        break;
    case SPAPR_H_GET_TERM_CHAR:
        ret = h_get_term_char(m, args);
        break;
    case SPAPR_H_SET_MODE:
        ret = h_set_mode(m, args);
        break;
    case SPAPR_H_LOGICAL_CI_LOAD:
        ret = h_logical_ci(m, args, false);
        break;
    case SPAPR_H_LOGICAL_CI_STORE:
        ret = h_logical_ci(m, args, true);
        break;
    case SPAPR_H_INT_GET_SOURCE_INFO:
    case SPAPR_H_INT_SET_SOURCE_CONFIG:
    case SPAPR_H_INT_GET_SOURCE_CONFIG:
    case SPAPR_H_INT_GET_QUEUE_INFO:
    case SPAPR_H_INT_SET_QUEUE_CONFIG:
    case SPAPR_H_INT_GET_QUEUE_CONFIG:
    case SPAPR_H_INT_SET_OS_REPORTING_LINE:
    case SPAPR_H_INT_GET_OS_REPORTING_LINE:
    case SPAPR_H_INT_ESB:
    case SPAPR_H_INT_SYNC:
    case SPAPR_H_INT_RESET:
        ret = spapr_h_int(m, opcode, args);
        break;
    case SPAPR_KVMPPC_H_RTAS:
        ret = spapr_hcall_rtas(m, vcpu, args);
        break;
    case SPAPR_KVMPPC_H_CAS:
        ret = spapr_h_cas(m, args);
        break;
    default:
        spapr_log(m, SPAPR_LOG_UNIMP, "unimplemented hcall 0x%" PRIx64, opcode);
        ret = SPAPR_H_FUNCTION;
        break;
    }
    regs[0] = (uint64_t)ret;
    return TRUE;
}
