/* SPDX-License-Identifier: MIT */
/*
 * spapr: the sPAPR ("pseries") machine model a VMM drives: hypercalls, RTAS,
 * client-architecture-support (CAS) and the flattened device tree, on top of
 * the xive interrupt controller and vm-memory guest RAM. It behaves as QEMU's
 * pseries machine does for the same inputs (hw/ppc/spapr*.c), with the
 * differences listed in README.md.
 *
 * A SpaprMachine holds:
 *   - the machine description (RAM size, vCPUs, console, virtio-mmio devices,
 *     bootargs, initrd) and the device tree built from it with libfdt;
 *   - a Xive instance (created and owned by the machine) with QEMU's IRQ
 *     number map: one IPI per vCPU from LISN 0, then device interrupts
 *     (VIO from 0x1100, LSIs from 0x1200, MSIs from 0x1300, 0x2000 in all);
 *   - the guest-visible firmware state: the CAS result (interrupt mode),
 *     the interrupt endianness chosen with H_SET_MODE, the stopped state of
 *     each vCPU for RTAS, the RTAS clock offset, the vty input buffer.
 *
 * The VMM keeps the CPUs: on `sc 1` it passes r3..r12 to spapr_hcall() and
 * writes them back; it forwards MMIO in the XIVE windows to
 * spapr_machine_mmio() (or straight to the xive component); it is told about
 * side effects (console output, power-off, endianness, secondary CPU start)
 * through SpaprCallbacks, called synchronously from inside the call that
 * caused them.
 *
 * Errors: this is a GLib component. API misuse (NULL machine, vCPU out of
 * range, bad configuration) is reported with FALSE/NULL and a GError in the
 * SPAPR_ERROR domain. A guest mistake is never an API error: the hcall gets
 * the return code PAPR defines (H_PARAMETER, H_P2, ...), the RTAS call its
 * status word, and a rate-limited message goes to the log callback. Nothing
 * here aborts, exits or asserts on guest input, and no guest access ever
 * reaches memory outside [0, ram_size).
 *
 * Concurrency: a machine is not internally locked; the caller serialises all
 * calls on one machine (as QEMU does with its big lock). No thread is
 * created, no main loop is owned.
 *
 * Numbers: hcall arguments and results are register values. Guest memory
 * structures (RTAS argument blocks, CAS vectors, the device tree) are
 * big-endian, whatever the host's byte order.
 */
#ifndef SPAPR_SPAPR_H
#define SPAPR_SPAPR_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm-memory/vm-memory.h"
#include "xive/xive.h"

G_BEGIN_DECLS

#define SPAPR_VERSION_MAJOR 0
#define SPAPR_VERSION_MINOR 1
#define SPAPR_VERSION_MICRO 0

/* ------------------------------------------------------------------------ */
/* PAPR numbers                                                              */

/** hcall numbers (r3). */
#define SPAPR_H_LOGICAL_CI_LOAD 0x3cu
#define SPAPR_H_LOGICAL_CI_STORE 0x40u
#define SPAPR_H_GET_TERM_CHAR 0x54u
#define SPAPR_H_PUT_TERM_CHAR 0x58u
#define SPAPR_H_SET_MODE 0x31cu
#define SPAPR_H_INT_GET_SOURCE_INFO 0x3a8u
#define SPAPR_H_INT_SET_SOURCE_CONFIG 0x3acu
#define SPAPR_H_INT_GET_SOURCE_CONFIG 0x3b0u
#define SPAPR_H_INT_GET_QUEUE_INFO 0x3b4u
#define SPAPR_H_INT_SET_QUEUE_CONFIG 0x3b8u
#define SPAPR_H_INT_GET_QUEUE_CONFIG 0x3bcu
#define SPAPR_H_INT_SET_OS_REPORTING_LINE 0x3c0u
#define SPAPR_H_INT_GET_OS_REPORTING_LINE 0x3c4u
#define SPAPR_H_INT_ESB 0x3c8u
#define SPAPR_H_INT_SYNC 0x3ccu
#define SPAPR_H_INT_RESET 0x3d0u
#define SPAPR_KVMPPC_H_RTAS 0xf000u
#define SPAPR_KVMPPC_H_CAS 0xf002u

/** hcall return codes (r3 after the call, as a signed 64-bit value). */
#define SPAPR_H_SUCCESS 0
#define SPAPR_H_HARDWARE (-1)
#define SPAPR_H_FUNCTION (-2)
#define SPAPR_H_PARAMETER (-4)
#define SPAPR_H_P2 (-55)
#define SPAPR_H_P3 (-56)
#define SPAPR_H_P4 (-57)
#define SPAPR_H_P5 (-58)
#define SPAPR_H_UNSUPPORTED_FLAG (-256)

/** Flags of the H_INT_* family (PPC bit numbering: bit 63 == 0x1). */
#define SPAPR_XIVE_SRC_H_INT_ESB XIVE_PPC_BIT64(60) /* out: use H_INT_ESB */
#define SPAPR_XIVE_SRC_LSI XIVE_PPC_BIT64(61)       /* out: level source */
#define SPAPR_XIVE_SRC_TRIGGER XIVE_PPC_BIT64(62)   /* out: one page does both */
#define SPAPR_XIVE_SRC_STORE_EOI XIVE_PPC_BIT64(63) /* out: StoreEOI */
#define SPAPR_XIVE_SRC_SET_EISN XIVE_PPC_BIT64(62)  /* in: SET_SOURCE_CONFIG */
#define SPAPR_XIVE_SRC_MASK XIVE_PPC_BIT64(63)      /* in: SET_SOURCE_CONFIG */
#define SPAPR_XIVE_END_ALWAYS_NOTIFY XIVE_PPC_BIT64(63)
#define SPAPR_XIVE_END_DEBUG XIVE_PPC_BIT64(63)      /* in: GET_QUEUE_CONFIG */
#define SPAPR_XIVE_END_GENERATION XIVE_PPC_BIT64(62) /* out, with DEBUG */
#define SPAPR_XIVE_ESB_STORE XIVE_PPC_BIT64(63)

/** H_SET_MODE resources and endianness mflags. */
#define SPAPR_H_SET_MODE_RESOURCE_ADDR_TRANS_MODE 3u
#define SPAPR_H_SET_MODE_RESOURCE_LE 4u
#define SPAPR_H_SET_MODE_ENDIAN_BIG 0u
#define SPAPR_H_SET_MODE_ENDIAN_LITTLE 1u

/** RTAS tokens (QEMU's numbering) and status words. */
#define SPAPR_RTAS_TOKEN_BASE 0x2000u
#define SPAPR_RTAS_DISPLAY_CHARACTER 0x2000u
#define SPAPR_RTAS_GET_TIME_OF_DAY 0x2001u
#define SPAPR_RTAS_SET_TIME_OF_DAY 0x2002u
#define SPAPR_RTAS_POWER_OFF 0x2003u
#define SPAPR_RTAS_SYSTEM_REBOOT 0x2004u
#define SPAPR_RTAS_QUERY_CPU_STOPPED_STATE 0x2005u
#define SPAPR_RTAS_START_CPU 0x2006u
#define SPAPR_RTAS_STOP_SELF 0x2007u
/* Early Linux debug code calls display-character with token 0xa. */
#define SPAPR_RTAS_LEGACY_DISPLAY_CHARACTER 0xau
#define SPAPR_RTAS_OUT_SUCCESS 0
#define SPAPR_RTAS_OUT_HW_ERROR (-1)
#define SPAPR_RTAS_OUT_PARAM_ERROR (-3)
#define SPAPR_RTAS_OUT_NOT_SUPPORTED (-3)

/** IRQ number map (QEMU's spapr_irq.c) and limits. */
#define SPAPR_IRQ_IPI 0x0u
#define SPAPR_IRQ_EPOW 0x1000u
#define SPAPR_IRQ_HOTPLUG 0x1001u
#define SPAPR_IRQ_VIO 0x1100u
#define SPAPR_IRQ_PCI_LSI 0x1200u
#define SPAPR_IRQ_MSI 0x1300u
#define SPAPR_NR_IRQS 0x2000u
/** SPAPR_MAX_VCPUS: one IPI per vCPU must fit below SPAPR_IRQ_EPOW. */
#define SPAPR_MAX_VCPUS 0x1000u

/** Device tree constants. */
#define SPAPR_VTY_REG 0x71000000u
#define SPAPR_TIMEBASE_FREQ 512000000u
#define SPAPR_CLOCK_FREQ 1000000000u
#define SPAPR_PHANDLE_XIVE 0x1111u
#define SPAPR_DEFAULT_PVR 0x004e1202u /* POWER9 DD2.2 */
#define SPAPR_RTAS_BLOB_SIZE 20u
/** Default RTAS base: min(ram_size, 2 GiB) - 64 KiB. */
#define SPAPR_RTAS_AREA_SIZE 0x10000u

/** CAS option vector 5, byte 23 (interrupt mode). */
#define SPAPR_OV5_XIVE_LEGACY 0x00u
#define SPAPR_OV5_XIVE_EXPLOIT 0x40u
#define SPAPR_OV5_XIVE_BOTH 0x80u

/** SPAPR_HCALL_NREGS: the register file of spapr_hcall(): r3 .. r12. */
#define SPAPR_HCALL_NREGS 10u

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/**
 * SPAPR_ERROR: the GError domain of this component (codes: SpaprError).
 * spapr_error_quark: Returns: the quark of that domain.
 */
#define SPAPR_ERROR (spapr_error_quark())
GQuark spapr_error_quark(void);

/**
 * SpaprError:
 * @SPAPR_ERROR_INVALID: an argument or a configuration field is invalid.
 * @SPAPR_ERROR_BUSY: the LISN is already claimed, or a device overlaps
 *                    another device or RAM.
 * @SPAPR_ERROR_NO_SPACE: no free LISN left in the requested range.
 * @SPAPR_ERROR_NOT_FOUND: no such RTAS call, or the LISN is not claimed.
 * @SPAPR_ERROR_FAULT: a guest range lies (partly) outside RAM.
 * @SPAPR_ERROR_UNSUPPORTED: a mode this model does not implement (XICS).
 * @SPAPR_ERROR_FDT: libfdt failed (the message carries fdt_strerror()).
 * @SPAPR_ERROR_XIVE: the xive component refused (the message carries the
 *                    errno text).
 */
typedef enum SpaprError {
    SPAPR_ERROR_INVALID,
    SPAPR_ERROR_BUSY,
    SPAPR_ERROR_NO_SPACE,
    SPAPR_ERROR_NOT_FOUND,
    SPAPR_ERROR_FAULT,
    SPAPR_ERROR_UNSUPPORTED,
    SPAPR_ERROR_FDT,
    SPAPR_ERROR_XIVE,
} SpaprError;

/* ------------------------------------------------------------------------ */
/* Machine description                                                       */

/**
 * SpaprIrqMode:
 * @SPAPR_IRQ_MODE_XIVE: XIVE exploitation mode, the only mode modelled.
 * @SPAPR_IRQ_MODE_XICS: legacy XICS; refused by spapr_machine_new().
 */
typedef enum SpaprIrqMode {
    SPAPR_IRQ_MODE_XIVE = 0,
    SPAPR_IRQ_MODE_XICS = 1,
    _SPAPR_IRQ_MODE_MAX,
    _SPAPR_IRQ_MODE_INVALID = -22,
} SpaprIrqMode;

/** SpaprLogLevel: kinds of message sent to SpaprCallbacks.log. */
typedef enum SpaprLogLevel {
    SPAPR_LOG_GUEST_ERROR = 0, /* the guest did something invalid */
    SPAPR_LOG_UNIMP = 1,       /* valid request, not modelled */
    SPAPR_LOG_FATAL = 2,       /* the guest asked for what the machine lacks */
    _SPAPR_LOG_MAX,
    _SPAPR_LOG_INVALID = -22,
} SpaprLogLevel;

/**
 * SpaprCallbacks: what the machine tells or asks the VMM. Every member may
 * be NULL; the effect of a NULL member is given with it. All are called
 * synchronously from the spapr_*() call that triggered them, with
 * SpaprMachineConfig.opaque.
 * @put_chars: console output (H_PUT_TERM_CHAR, display-character). NULL:
 *             output is dropped.
 * @get_chars: console input for H_GET_TERM_CHAR: copy at most @max bytes to
 *             @buf and return how many (0 when none is waiting; never
 *             block). NULL: the machine's own input buffer is used, fed with
 *             spapr_console_push_input().
 * @set_endian: H_SET_MODE changed the interrupt endianness of every vCPU
 *              (LPCR[ILE]): the VMM applies it to its CPUs. NULL: recorded
 *              only (spapr_machine_interrupts_little_endian()).
 * @mmio: H_LOGICAL_CI_LOAD/STORE outside RAM: perform a cache-inhibited
 *        access of @size bytes at @addr (a load stores its result in
 *        *@value). Return 0, or a negative errno when nothing answers there:
 *        the load then reads all ones and the store is dropped, as for
 *        unassigned memory. NULL: every such access is unassigned.
 * @power_off: RTAS power-off was called. The machine does nothing else.
 * @reboot: RTAS system-reboot was called. The VMM resets (see
 *          spapr_machine_reset()).
 * @start_cpu: RTAS start-cpu started stopped vCPU @vcpu: the VMM sets its
 *             NIA to @entry, r3 to @r3 and MSR to SF|ME (plus LE handling as
 *             the interrupt endianness says) and runs it.
 * @stop_self: RTAS stop-self was called by @vcpu: the VMM stops running it
 *             until a start-cpu.
 * @fatal: the guest asked for something this machine cannot provide (CAS
 *         for XICS only, an invalid interrupt or MMU mode): @message is
 *         QEMU's wording; QEMU exits at this point. The hcall itself fails
 *         with H_HARDWARE and the machine state is unchanged.
 * @clock_ns: the RTAS time of day: nanoseconds since the Unix epoch, UTC.
 *            NULL: CLOCK_REALTIME. Injectable for tests.
 * @log: receives guest-error messages (no trailing newline), rate limited to
 *       16 per second (the number suppressed is added to the next one);
 *       xive's messages are forwarded here too, prefixed "xive: ". NULL:
 *       printed on stderr, prefixed "spapr: ".
 */
typedef struct SpaprCallbacks {
    void (*put_chars)(void *opaque, const uint8_t *buf, size_t len);
    size_t (*get_chars)(void *opaque, uint8_t *buf, size_t max);
    void (*set_endian)(void *opaque, bool little_endian);
    int (*mmio)(void *opaque, uint64_t addr, unsigned size, uint64_t *value, bool is_write);
    void (*power_off)(void *opaque);
    void (*reboot)(void *opaque);
    void (*start_cpu)(void *opaque, uint32_t vcpu, uint64_t entry, uint64_t r3);
    void (*stop_self)(void *opaque, uint32_t vcpu);
    void (*fatal)(void *opaque, const char *message);
    int64_t (*clock_ns)(void *opaque);
    void (*log)(void *opaque, SpaprLogLevel level, const char *msg);
} SpaprCallbacks;

/**
 * SpaprMachineConfig: a machine description. Zero is a valid default for
 * every field but @ram_size, @nr_vcpus and @mem.
 * @ram_size: guest RAM size, [0, ram_size) guest-physical; non-zero,
 *            a multiple of 64 KiB, wholly covered by @mem, below the XIVE
 *            windows.
 * @nr_vcpus: 1 .. SPAPR_MAX_VCPUS. vCPU ids (device tree "reg", hcall
 *            targets, RTAS ids) are 0 .. nr_vcpus - 1.
 * @irq_mode: must be SPAPR_IRQ_MODE_XIVE.
 * @mem: guest memory (borrowed; must outlive the machine).
 * @no_console: no vty device (console hcalls then answer H_PARAMETER and
 *              display-character -1; no /vdevice/vty node).
 * @bootargs: kernel command line for /chosen/bootargs, or NULL (copied).
 * @initrd_start: guest address of the initrd, when @initrd_size != 0.
 * @initrd_size: size of the initrd; it must lie inside RAM.
 * @cpu_pvr: processor version register value; 0 selects SPAPR_DEFAULT_PVR.
 * @rtas_base: where the 20-byte RTAS entry blob is written at reset; 0
 *             selects min(ram_size, 2 GiB) - SPAPR_RTAS_AREA_SIZE. Must leave
 *             SPAPR_RTAS_AREA_SIZE bytes inside RAM below 4 GiB and be 4-byte
 *             aligned.
 * @esb_base: guest address of the XIVE ESB window; 0 selects
 *            XIVE_SPAPR_ESB_BASE.
 * @tima_base: guest address of the TIMA; 0 selects XIVE_SPAPR_TIMA_BASE.
 * @model: root "model" string, or NULL for "IBM pSeries (emulated)".
 * @callbacks: see SpaprCallbacks (copied).
 * @opaque: passed to every callback.
 */
typedef struct SpaprMachineConfig {
    uint64_t ram_size;
    uint32_t nr_vcpus;
    SpaprIrqMode irq_mode;
    VMemMap *mem;
    bool no_console;
    const char *bootargs;
    uint64_t initrd_start;
    uint64_t initrd_size;
    uint32_t cpu_pvr;
    uint64_t rtas_base;
    uint64_t esb_base;
    uint64_t tima_base;
    const char *model;
    SpaprCallbacks callbacks;
    void *opaque;
} SpaprMachineConfig;

/** SpaprMachine: opaque machine instance. */
typedef struct SpaprMachine SpaprMachine;

/**
 * spapr_machine_new:
 * @cfg: the description (copied; strings duplicated).
 * @error: return location for a GError, or NULL.
 *
 * Creates the machine and its Xive instance, claims the IPIs (LISN n for
 * vCPU n, MSI) and the vty interrupt (SPAPR_IRQ_VIO, MSI). The machine is in
 * the state spapr_machine_reset() gives (the RTAS blob is written to guest
 * RAM at rtas_base).
 *
 * Returns: (transfer full): the machine, or NULL with @error set:
 * SPAPR_ERROR_INVALID for a NULL @cfg or @mem, a @ram_size of 0, not a
 * multiple of 64 KiB, not covered by @mem or reaching the XIVE windows, a
 * @nr_vcpus of 0 or above SPAPR_MAX_VCPUS, an initrd or RTAS area outside
 * RAM, a misaligned @rtas_base, or XIVE windows that overlap each other;
 * SPAPR_ERROR_UNSUPPORTED for SPAPR_IRQ_MODE_XICS or an unknown @irq_mode;
 * SPAPR_ERROR_XIVE if xive_new() failed.
 */
SpaprMachine *spapr_machine_new(const SpaprMachineConfig *cfg, GError **error);

/**
 * spapr_machine_free:
 * @m: a machine, or NULL. Frees the Xive instance as well. No callback is
 *     called.
 */
void spapr_machine_free(SpaprMachine *m);

/**
 * spapr_machine_reset:
 * @m: the machine (NULL is ignored).
 *
 * Machine reset to power-on values: xive_reset() (sources off, EAS masked,
 * END and thread contexts reset; claimed LISNs stay claimed), CAS forgotten
 * (H_INT_* answer H_FUNCTION again, /chosen/ibm,architecture-vec-5 empty),
 * big-endian interrupts, vCPU 0 running and the others stopped, the
 * console input buffer emptied, the RTAS blob rewritten at rtas_base. The
 * RTAS clock offset survives (as QEMU's RTC does). The VMM resets its CPUs.
 * No callback is called.
 */
void spapr_machine_reset(SpaprMachine *m);

/**
 * spapr_machine_xive:
 * Returns: (transfer none): the machine's Xive instance, for the VMM's
 * MMIO routing and line handler (xive_set_line_handler()); NULL for NULL.
 */
Xive *spapr_machine_xive(SpaprMachine *m);

/** spapr_machine_nr_vcpus, _ram_size, _esb_base, _tima_base: configuration
 * values after defaults (0 for NULL). spapr_machine_end_esb_base: where the
 * END ESB pages start (H_INT_GET_QUEUE_INFO), right after the ESB window. */
uint32_t spapr_machine_nr_vcpus(const SpaprMachine *m);
uint64_t spapr_machine_ram_size(const SpaprMachine *m);
uint64_t spapr_machine_esb_base(const SpaprMachine *m);
uint64_t spapr_machine_end_esb_base(const SpaprMachine *m);
uint64_t spapr_machine_tima_base(const SpaprMachine *m);
uint64_t spapr_machine_rtas_base(const SpaprMachine *m);

/**
 * spapr_machine_mmio:
 * @m: the machine.
 * @vcpu: the vCPU doing the access (the TIMA is per vCPU).
 * @addr: guest-physical address.
 * @size: 1, 2, 4 or 8.
 * @value: the value stored, or receives the value loaded (a number, see
 *         xive_esb_mmio()).
 * @is_write: true for a store.
 *
 * Routes an access inside the ESB window to xive_esb_mmio() and one inside
 * the TIMA to xive_tima_mmio(). The END ESB window is not mapped for sPAPR
 * guests (as in QEMU). Guest errors are handled inside xive.
 *
 * Returns: TRUE if @addr fell in a XIVE window and the access was done;
 * FALSE with SPAPR_ERROR_NOT_FOUND if it is in no window (nothing done),
 * SPAPR_ERROR_INVALID for NULL @m/@value or @vcpu out of range.
 */
gboolean spapr_machine_mmio(SpaprMachine *m, uint32_t vcpu, uint64_t addr, unsigned size,
                            uint64_t *value, bool is_write, GError **error);

/* ------------------------------------------------------------------------ */
/* Interrupt numbers                                                         */

/**
 * SpaprIrqRange: where spapr_irq_alloc() looks for a free LISN.
 * @SPAPR_IRQ_RANGE_VIO: 0x1100 .. 0x11ff (VIO devices).
 * @SPAPR_IRQ_RANGE_LSI: 0x1200 .. 0x12ff (level interrupts of devices).
 * @SPAPR_IRQ_RANGE_MSI: 0x1300 .. 0x1fff (message interrupts).
 */
typedef enum SpaprIrqRange {
    SPAPR_IRQ_RANGE_VIO,
    SPAPR_IRQ_RANGE_LSI,
    SPAPR_IRQ_RANGE_MSI,
    _SPAPR_IRQ_RANGE_MAX,
    _SPAPR_IRQ_RANGE_INVALID = -22,
} SpaprIrqRange;

/**
 * spapr_irq_claim:
 * @m: the machine.
 * @lisn: 0 .. SPAPR_NR_IRQS - 1.
 * @lsi: TRUE for a level-sensitive source, FALSE for an MSI.
 *
 * Claims a LISN in xive (xive_irq_claim(): EAS valid and masked, type set).
 *
 * Returns: TRUE on success; FALSE with SPAPR_ERROR_INVALID (NULL @m, @lisn
 * out of range) or SPAPR_ERROR_BUSY (already claimed; nothing changed).
 */
gboolean spapr_irq_claim(SpaprMachine *m, uint32_t lisn, bool lsi, GError **error);

/**
 * spapr_irq_alloc:
 * @m: the machine.
 * @range: which range to take the lowest free LISN from.
 * @lsi: the type to claim it with.
 * @ret_lisn: receives the LISN (written only on success).
 *
 * Returns: TRUE on success; FALSE with SPAPR_ERROR_INVALID (NULL argument,
 * unknown @range) or SPAPR_ERROR_NO_SPACE (the range is full).
 */
gboolean spapr_irq_alloc(SpaprMachine *m, SpaprIrqRange range, bool lsi, uint32_t *ret_lisn,
                         GError **error);

/**
 * spapr_irq_free:
 * Releases a claimed LISN (xive_irq_free(): its EAS stops being valid).
 *
 * Returns: TRUE on success; FALSE with SPAPR_ERROR_INVALID (NULL @m, @lisn
 * out of range, or an IPI / the vty interrupt, which the machine owns) or
 * SPAPR_ERROR_NOT_FOUND (not claimed).
 */
gboolean spapr_irq_free(SpaprMachine *m, uint32_t lisn, GError **error);

/**
 * spapr_irq_set_level:
 * @m: the machine.
 * @lisn: a claimed LISN.
 * @level: the device's line level (see xive_source_set_irq()).
 *
 * Returns: TRUE on success; FALSE with SPAPR_ERROR_INVALID (NULL @m, @lisn
 * out of range) or SPAPR_ERROR_NOT_FOUND (not claimed).
 */
gboolean spapr_irq_set_level(SpaprMachine *m, uint32_t lisn, bool level, GError **error);

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */

/**
 * SpaprVirtioMmio: a virtio-mmio transport the VMM emulates.
 * @base: guest-physical base of its register window.
 * @size: window size (non-zero; 0x200 is usual).
 * @lisn: its interrupt; 0 lets the machine allocate one (from the LSI
 *        range, or the MSI range when @msi is set).
 * @msi: claim the interrupt as an MSI instead of an LSI (virtio-mmio's
 *       interrupt is a level, so LSI is the default).
 */
typedef struct SpaprVirtioMmio {
    uint64_t base;
    uint64_t size;
    uint32_t lisn;
    bool msi;
} SpaprVirtioMmio;

/**
 * spapr_machine_add_virtio_mmio:
 * @m: the machine.
 * @dev: the device (copied).
 * @ret_lisn: if not NULL, receives the LISN used (on success only).
 *
 * Adds a "virtio,mmio" node (reg, interrupts <lisn 1-if-LSI>,
 * interrupt-parent the XIVE node) to later device trees and claims its LISN.
 *
 * Returns: TRUE on success; FALSE with SPAPR_ERROR_INVALID (NULL argument,
 * @size 0, a range that wraps, a @lisn below SPAPR_IRQ_EPOW or beyond
 * SPAPR_NR_IRQS), SPAPR_ERROR_BUSY (the window overlaps RAM, a XIVE window
 * or another device, or @lisn is claimed) or SPAPR_ERROR_NO_SPACE (no free
 * LISN). Nothing changes on error.
 */
gboolean spapr_machine_add_virtio_mmio(SpaprMachine *m, const SpaprVirtioMmio *dev,
                                       uint32_t *ret_lisn, GError **error);

/* ------------------------------------------------------------------------ */
/* Device tree                                                               */

/**
 * spapr_machine_build_fdt:
 * @m: the machine.
 *
 * Builds the flattened device tree of the current state with libfdt:
 * the root (device_type "chrp", model, compatible "qemu,pseries",
 * #address-cells/#size-cells 2, ibm,plat-res-int-priorities <7 0xf8>),
 * /cpus with one "PowerPC,POWER9@n" node per vCPU, /memory@0, /chosen
 * (bootargs, stdout-path, linux,initrd-start/end, ibm,arch-vec-5-platform-
 * support, ibm,architecture-vec-5 from the last CAS), /rtas (one property per
 * token, rtas-size, linux,rtas-base/entry), /vdevice with vty@71000000, the
 * XIVE interrupt-controller node and one virtio_mmio@base node per device;
 * memory reservations for the RTAS area and the initrd.
 *
 * Returns: (transfer full): the packed blob, or NULL with SPAPR_ERROR_INVALID
 * (NULL @m) or SPAPR_ERROR_FDT.
 */
GBytes *spapr_machine_build_fdt(SpaprMachine *m, GError **error);

/**
 * spapr_machine_load_fdt:
 * @m: the machine.
 * @gpa: where to write the blob in guest RAM.
 * @ret_size: if not NULL, receives the blob size.
 *
 * Builds the device tree and writes it at @gpa (the VMM then passes @gpa to
 * the kernel in r3).
 *
 * Returns: TRUE on success; FALSE with the errors of
 * spapr_machine_build_fdt(), or SPAPR_ERROR_FAULT if the blob does not fit
 * in RAM at @gpa (nothing written).
 */
gboolean spapr_machine_load_fdt(SpaprMachine *m, uint64_t gpa, uint64_t *ret_size,
                                GError **error);

/* ------------------------------------------------------------------------ */
/* Hypercalls                                                                */

/**
 * spapr_hcall:
 * @m: the machine.
 * @vcpu: the calling vCPU.
 * @regs: r3 .. r12: regs[0] is the hcall number on entry and the return
 *        code on exit; regs[1..] are the arguments (r4 ..) on entry and the
 *        outputs on exit. Registers an hcall does not output are left as
 *        they were.
 *
 * Runs one hypercall. Unknown numbers answer H_FUNCTION. Implemented:
 * H_INT_* (all eleven, QEMU's argument checks in QEMU's order; H_FUNCTION
 * until CAS selected XIVE), H_PUT_TERM_CHAR / H_GET_TERM_CHAR (termno 0 or
 * SPAPR_VTY_REG; len <= 16), H_SET_MODE (endianness, address translation
 * mode), H_LOGICAL_CI_LOAD / STORE (RAM big-endian, else the mmio callback),
 * H_RTAS (r4 = argument block) and H_CAS (r4 = vector, r5/r6 = optional
 * buffer for the updated device tree). The top 4 bits of the RTAS and CAS
 * addresses are ignored, as on QEMU.
 *
 * Returns: TRUE when the call was run (whatever its return code); FALSE
 * with SPAPR_ERROR_INVALID for a NULL @m or @regs, or @vcpu out of range
 * (then @regs is untouched).
 */
gboolean spapr_hcall(SpaprMachine *m, uint32_t vcpu, uint64_t regs[SPAPR_HCALL_NREGS],
                     GError **error);

/* ------------------------------------------------------------------------ */
/* RTAS                                                                      */

/**
 * spapr_rtas_call:
 * @m: the machine.
 * @vcpu: the calling vCPU (stop-self stops it).
 * @token: RTAS token.
 * @nargs: number of 32-bit arguments at @args.
 * @args: guest address of the arguments (big-endian u32 each).
 * @nret: number of 32-bit results at @rets.
 * @rets: guest address of the results.
 * @ret_hret: if not NULL, receives what H_RTAS would return: H_SUCCESS for a
 *            known token, H_PARAMETER for an unknown one (rets[0] = -3) or a
 *            block outside RAM (nothing read or written).
 *
 * The RTAS call behind H_RTAS, with the arguments and results anywhere in
 * RAM (the qtest "rtas" command). Results beyond @nret are never written;
 * arguments beyond @nargs are never read (such a call is a -3 error). The
 * top 4 bits of @args and @rets are ignored, as QEMU's rtas_ld() does.
 *
 * Returns: TRUE when run; FALSE with SPAPR_ERROR_INVALID (NULL @m, @vcpu out
 * of range).
 */
gboolean spapr_rtas_call(SpaprMachine *m, uint32_t vcpu, uint32_t token, uint32_t nargs,
                         uint64_t args, uint32_t nret, uint64_t rets, int64_t *ret_hret,
                         GError **error);

/**
 * spapr_rtas_call_by_name:
 * @name: an RTAS call name ("power-off", "get-time-of-day", ...).
 *
 * As spapr_rtas_call() from vCPU 0 with the token of @name: what the qtest
 * command "rtas NAME nargs args nret rets" does.
 *
 * Returns: TRUE when run; FALSE with SPAPR_ERROR_INVALID (NULL argument) or
 * SPAPR_ERROR_NOT_FOUND (no call of that name; QEMU answers H_PARAMETER).
 */
gboolean spapr_rtas_call_by_name(SpaprMachine *m, const char *name, uint32_t nargs,
                                 uint64_t args, uint32_t nret, uint64_t rets,
                                 int64_t *ret_hret, GError **error);

/**
 * spapr_rtas_token:
 * Returns: the token of the RTAS call @name, or -1 if there is none.
 */
int32_t spapr_rtas_token(const char *name);

/**
 * spapr_rtas_name:
 * Returns: the name of RTAS token @token, or NULL.
 */
const char *spapr_rtas_name(uint32_t token);

/**
 * spapr_rtas_blob:
 * @ret_blob: receives the 20 bytes the machine writes at rtas_base: the
 *            big-endian instructions "mr r4,r3; li r3,0xf000 (H_RTAS);
 *            sc 1; blr".
 */
void spapr_rtas_blob(uint8_t ret_blob[SPAPR_RTAS_BLOB_SIZE]);

/* ------------------------------------------------------------------------ */
/* Firmware state                                                            */

/**
 * spapr_machine_select_xive:
 * @m: the machine.
 *
 * What a successful CAS asking for XIVE exploitation does (the H_INT_*
 * family becomes available and /chosen/ibm,architecture-vec-5 says so), for
 * guests that boot from a flat device tree without calling CAS.
 *
 * Returns: TRUE; FALSE with SPAPR_ERROR_INVALID for a NULL @m.
 */
gboolean spapr_machine_select_xive(SpaprMachine *m, GError **error);

/** spapr_machine_xive_enabled: whether CAS (or spapr_machine_select_xive())
 * selected XIVE exploitation since the last reset (FALSE for NULL). */
gboolean spapr_machine_xive_enabled(const SpaprMachine *m);

/** spapr_machine_compat_pvr: the logical PVR CAS negotiated (0 for raw mode,
 * before CAS, or NULL). */
uint32_t spapr_machine_compat_pvr(const SpaprMachine *m);

/** spapr_machine_interrupts_little_endian: the H_SET_MODE endianness (FALSE
 * after reset and for NULL). */
gboolean spapr_machine_interrupts_little_endian(const SpaprMachine *m);

/** spapr_machine_addr_trans_mode: the H_SET_MODE address translation mode
 * (AIL), 0 after reset and for NULL. */
unsigned spapr_machine_addr_trans_mode(const SpaprMachine *m);

/**
 * spapr_machine_cpu_stopped:
 * Returns: whether @vcpu is stopped in the RTAS sense (after reset only vCPU
 * 0 runs); FALSE for NULL or out of range.
 */
gboolean spapr_machine_cpu_stopped(const SpaprMachine *m, uint32_t vcpu);

/**
 * spapr_machine_set_cpu_stopped:
 * Lets the VMM record a vCPU it stopped or started itself.
 *
 * Returns: TRUE; FALSE with SPAPR_ERROR_INVALID (NULL @m, @vcpu out of range).
 */
gboolean spapr_machine_set_cpu_stopped(SpaprMachine *m, uint32_t vcpu, bool stopped,
                                       GError **error);

/**
 * spapr_console_push_input:
 * @m: the machine.
 * @buf: bytes typed on the console.
 * @len: their number.
 *
 * Queues console input for H_GET_TERM_CHAR when SpaprCallbacks.get_chars is
 * NULL (a 256-byte buffer; what does not fit is not taken).
 *
 * Returns: the number of bytes queued (0 for NULL @m or @buf, no console,
 * or a full buffer).
 */
size_t spapr_console_push_input(SpaprMachine *m, const uint8_t *buf, size_t len);

/**
 * spapr_machine_guest_error_count:
 * Returns: the number of guest errors seen since creation (logged or
 * suppressed by the rate limit; xive's not included); 0 for NULL.
 */
uint64_t spapr_machine_guest_error_count(const SpaprMachine *m);

G_END_DECLS

#endif /* SPAPR_SPAPR_H */
