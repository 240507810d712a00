/* SPDX-License-Identifier: MIT */
/* Private state of the sPAPR machine, shared by the src/ files. */
#ifndef SPAPR_INTERNAL_H
#define SPAPR_INTERNAL_H

#include "spapr/spapr.h"

#include <stdarg.h>

/* Option vectors hold at most 256 bytes (their length byte is len - 1). */
#define SPAPR_OV_MAX_BYTES 256u
/* Byte numbers of option vector 5 are 1-based in PAPR; ov[i] is byte i + 1. */
#define SPAPR_OV5_BYTE(n) ((n) - 1u)
#define SPAPR_OV5_INTC_BYTE SPAPR_OV5_BYTE(23)
#define SPAPR_OV5_MMU_BYTE SPAPR_OV5_BYTE(24)
#define SPAPR_OV5_MMU_BOTH 0x80u
#define SPAPR_OV5_MMU_RADIX_300 0x40u

#define SPAPR_CONSOLE_BUF 256u
#define SPAPR_LOG_BURST 16u
#define SPAPR_LOG_WINDOW_NS UINT64_C(1000000000)
/* RTAS and CAS addresses ignore the top 4 bits (ppc64_phys_to_real). */
#define SPAPR_REAL_ADDR_MASK UINT64_C(0x0fffffffffffffff)

typedef struct SpaprDevice {
    SpaprVirtioMmio cfg; /* lisn filled in */
} SpaprDevice;

struct SpaprMachine {
    /* configuration, after defaults */
    uint64_t ram_size;
    uint32_t nr_vcpus;
    VMemMap *mem;
    bool console;
    char *bootargs;
    uint64_t initrd_start;
    uint64_t initrd_size;
    uint32_t cpu_pvr;
    uint64_t rtas_base;
    uint64_t esb_base;
    uint64_t tima_base;
    char *model;
    SpaprCallbacks cb;
    void *opaque;

    Xive *xive;
    GArray *devices; /* SpaprDevice */

    /* firmware state */
    uint8_t ov5_cas[SPAPR_OV_MAX_BYTES]; /* negotiated option vector 5 */
    uint32_t compat_pvr;
    bool little_endian;
    unsigned ail;
    bool *stopped; /* per vCPU */
    int64_t rtc_offset_ns;
    uint8_t cons_buf[SPAPR_CONSOLE_BUF];
    size_t cons_head;
    size_t cons_len;

    /* guest error log */
    uint64_t guest_errors;
    uint64_t log_window_start;
    unsigned log_in_window;
    uint64_t log_suppressed;
};

/* machine.c */
void spapr_log(SpaprMachine *m, SpaprLogLevel level, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
void spapr_fatal(SpaprMachine *m, const char *message);
bool spapr_ram_range_ok(const SpaprMachine *m, uint64_t gpa, uint64_t len);
bool spapr_ram_read(SpaprMachine *m, uint64_t gpa, void *buf, size_t len);
bool spapr_ram_write(SpaprMachine *m, uint64_t gpa, const void *buf, size_t len);
bool spapr_ram_read_be32(SpaprMachine *m, uint64_t gpa, uint32_t *ret);
bool spapr_ram_write_be32(SpaprMachine *m, uint64_t gpa, uint32_t val);
void spapr_console_write(SpaprMachine *m, const uint8_t *buf, size_t len);
size_t spapr_console_read(SpaprMachine *m, uint8_t *buf, size_t max);
bool spapr_xive_selected(const SpaprMachine *m);

/* hcall.c */
int64_t spapr_hcall_rtas(SpaprMachine *m, uint32_t vcpu, uint64_t *args);

/* xive-hcalls.c: args point at r4 */
int64_t spapr_h_int(SpaprMachine *m, uint64_t opcode, uint64_t *args);

/* rtas.c */
int64_t spapr_rtas_dispatch(SpaprMachine *m, uint32_t vcpu, uint32_t token, uint32_t nargs,
                            uint64_t args, uint32_t nret, uint64_t rets);
void spapr_rtas_write_blob(SpaprMachine *m);
typedef struct SpaprRtasName {
    uint32_t token;
    const char *name;
} SpaprRtasName;
const SpaprRtasName *spapr_rtas_names(size_t *ret_count);

/* cas.c */
int64_t spapr_h_cas(SpaprMachine *m, uint64_t *args);
void spapr_cas_select_xive(SpaprMachine *m);
/* The encoded /chosen/ibm,architecture-vec-5 value (length byte first). */
size_t spapr_ov5_encode(const uint8_t ov5[SPAPR_OV_MAX_BYTES], uint8_t out[SPAPR_OV_MAX_BYTES + 1]);

/* fdt.c */
GBytes *spapr_fdt_build(SpaprMachine *m, GError **error);

#endif /* SPAPR_INTERNAL_H */
