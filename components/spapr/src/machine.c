/* SPDX-License-Identifier: MIT */
/* The machine object: configuration, reset, IRQ numbers, devices, MMIO
 * routing, guest RAM helpers, console and the rate-limited guest log. */
#include "spapr-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SPAPR_RAM_ALIGN UINT64_C(0x10000)
#define SPAPR_RTAS_MAX_ADDR UINT64_C(0x80000000)
/* linux,rtas-base is one cell */
#define SPAPR_RTAS_LIMIT UINT64_C(0x100000000)

G_DEFINE_QUARK(spapr-error-quark, spapr_error)

/* ------------------------------------------------------------------------ */
/* Guest error log                                                           */

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void spapr_emit(SpaprMachine *m, SpaprLogLevel level, const char *msg)
{
    if (m->cb.log) {
        m->cb.log(m->opaque, level, msg);
    } else {
        fprintf(stderr, "spapr: %s\n", msg);
    }
}

void spapr_log(SpaprMachine *m, SpaprLogLevel level, const char *fmt, ...)
{
    m->guest_errors++;

    uint64_t now = monotonic_ns();
    if (m->log_in_window == 0 || now - m->log_window_start >= SPAPR_LOG_WINDOW_NS) {
        m->log_window_start = now;
        m->log_in_window = 0;
    }
    if (m->log_in_window >= SPAPR_LOG_BURST) {
        m->log_suppressed++;
        return;
    }
    m->log_in_window++;

    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (m->log_suppressed) {
        char *full = g_strdup_printf("%s (%" PRIu64 " earlier messages suppressed)", msg,
                                     m->log_suppressed);
        g_free(msg);
        msg = full;
        m->log_suppressed = 0;
    }
    spapr_emit(m, level, msg);
    g_free(msg);
}

void spapr_fatal(SpaprMachine *m, const char *message)
{
    m->guest_errors++;
    /* Not rate limited: QEMU exits here, so this happens once per boot
     * attempt unless the guest insists, and the VMM must see it. */
    spapr_emit(m, SPAPR_LOG_FATAL, message);
    if (m->cb.fatal) {
        m->cb.fatal(m->opaque, message);
    }
}

static void xive_log_forward(void *opaque, XiveLogLevel level, const char *msg)
{
    SpaprMachine *m = opaque;
    char *full = g_strdup_printf("xive: %s", msg);
    spapr_emit(m, level == XIVE_LOG_UNIMP ? SPAPR_LOG_UNIMP : SPAPR_LOG_GUEST_ERROR, full);
    g_free(full);
}

uint64_t spapr_machine_guest_error_count(const SpaprMachine *m)
{
    return m ? m->guest_errors : 0;
}

/* ------------------------------------------------------------------------ */
/* Guest RAM: every guest-directed access goes through these, so that none
 * can reach memory outside [0, ram_size), whatever else the map holds.     */

bool spapr_ram_range_ok(const SpaprMachine *m, uint64_t gpa, uint64_t len)
{
    return len <= m->ram_size && gpa <= m->ram_size - len;
}

bool spapr_ram_read(SpaprMachine *m, uint64_t gpa, void *buf, size_t len)
{
    return spapr_ram_range_ok(m, gpa, len) && vmem_read(m->mem, gpa, buf, len) == 0;
}

bool spapr_ram_write(SpaprMachine *m, uint64_t gpa, const void *buf, size_t len)
{
    return spapr_ram_range_ok(m, gpa, len) && vmem_write(m->mem, gpa, buf, len) == 0;
}

bool spapr_ram_read_be32(SpaprMachine *m, uint64_t gpa, uint32_t *ret)
{
    uint8_t b[4];
    if (!spapr_ram_read(m, gpa, b, sizeof(b))) {
        return false;
    }
    *ret = vmem_be32_to_cpu(b);
    return true;
}

bool spapr_ram_write_be32(SpaprMachine *m, uint64_t gpa, uint32_t val)
{
    uint8_t b[4];
    vmem_cpu_to_be32(b, val);
    return spapr_ram_write(m, gpa, b, sizeof(b));
}

/* ------------------------------------------------------------------------ */
/* Console                                                                   */

void spapr_console_write(SpaprMachine *m, const uint8_t *buf, size_t len)
{
    if (len && m->cb.put_chars) {
        m->cb.put_chars(m->opaque, buf, len);
    }
}

size_t spapr_console_read(SpaprMachine *m, uint8_t *buf, size_t max)
{
    if (m->cb.get_chars) {
        size_t n = m->cb.get_chars(m->opaque, buf, max);
        return n > max ? max : n; /* never trust a count beyond the buffer */
    }
    size_t n = 0;
    while (n < max && m->cons_len) {
        buf[n++] = m->cons_buf[m->cons_head];
        m->cons_head = (m->cons_head + 1) % SPAPR_CONSOLE_BUF;
        m->cons_len--;
    }
    return n;
}

size_t spapr_console_push_input(SpaprMachine *m, const uint8_t *buf, size_t len)
{
    if (!m || !buf || !m->console) {
        return 0;
    }
    size_t n = 0;
    while (n < len && m->cons_len < SPAPR_CONSOLE_BUF) {
        m->cons_buf[(m->cons_head + m->cons_len) % SPAPR_CONSOLE_BUF] = buf[n++];
        m->cons_len++;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Creation, reset                                                           */

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    /* Both ranges are known not to wrap. */
    return alen && blen && a < b + blen && b < a + alen;
}

static bool range_wraps(uint64_t base, uint64_t len)
{
    return len && base + (len - 1) < base;
}

static uint64_t end_esb_size(const SpaprMachine *m)
{
    return xive_end_esb_region_size(m->xive);
}

/* The ESB window and the END ESB window that follows it, as one range. */
static uint64_t xive_vc_size(const SpaprMachine *m)
{
    return xive_esb_region_size(m->xive) + end_esb_size(m);
}

static bool check_config(const SpaprMachineConfig *cfg, GError **error)
{
    if (!cfg || !cfg->mem) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "no configuration or no guest memory");
        return false;
    }
    if (cfg->irq_mode == SPAPR_IRQ_MODE_XICS) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_UNSUPPORTED,
                    "XICS interrupt mode is not modelled, only XIVE");
        return false;
    }
    if (cfg->irq_mode != SPAPR_IRQ_MODE_XIVE) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_UNSUPPORTED, "unknown interrupt mode %d",
                    (int)cfg->irq_mode);
        return false;
    }
    if (cfg->ram_size == 0 || cfg->ram_size % SPAPR_RAM_ALIGN) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "RAM size 0x%" PRIx64 " is not a non-zero multiple of 64 KiB", cfg->ram_size);
        return false;
    }
    if (vmem_check_range(cfg->mem, 0, cfg->ram_size) != 0) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "guest memory does not cover RAM [0, 0x%" PRIx64 ")", cfg->ram_size);
        return false;
    }
    if (cfg->nr_vcpus == 0 || cfg->nr_vcpus > SPAPR_MAX_VCPUS) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "%" PRIu32 " vCPUs: must be 1 .. %u", cfg->nr_vcpus, SPAPR_MAX_VCPUS);
        return false;
    }
    if (cfg->initrd_size &&
        (cfg->initrd_size > cfg->ram_size || cfg->initrd_start > cfg->ram_size - cfg->initrd_size)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "initrd is not inside RAM");
        return false;
    }
    if (cfg->rtas_base &&
        (cfg->rtas_base % 4 || SPAPR_RTAS_AREA_SIZE > cfg->ram_size ||
         cfg->rtas_base > cfg->ram_size - SPAPR_RTAS_AREA_SIZE ||
         cfg->rtas_base > SPAPR_RTAS_LIMIT - SPAPR_RTAS_AREA_SIZE)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "RTAS area at 0x%" PRIx64 " is misaligned, not inside RAM or above 4 GiB", cfg->rtas_base);
        return false;
    }
    return true;
}

static bool check_windows(const SpaprMachine *m, GError **error)
{
    uint64_t vc = xive_vc_size(m);
    if (range_wraps(m->esb_base, vc) || range_wraps(m->tima_base, XIVE_TIMA_SIZE) ||
        ranges_overlap(m->esb_base, vc, m->tima_base, XIVE_TIMA_SIZE) ||
        ranges_overlap(0, m->ram_size, m->esb_base, vc) ||
        ranges_overlap(0, m->ram_size, m->tima_base, XIVE_TIMA_SIZE)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "XIVE windows (ESB 0x%" PRIx64 "+0x%" PRIx64 ", TIMA 0x%" PRIx64
                    ") overlap each other or RAM",
                    m->esb_base, vc, m->tima_base);
        return false;
    }
    return true;
}

static void firmware_reset(SpaprMachine *m);

SpaprMachine *spapr_machine_new(const SpaprMachineConfig *cfg, GError **error)
{
    if (!check_config(cfg, error)) {
        return NULL;
    }

    SpaprMachine *m = g_new0(SpaprMachine, 1);
    m->ram_size = cfg->ram_size;
    m->nr_vcpus = cfg->nr_vcpus;
    m->mem = cfg->mem;
    m->console = !cfg->no_console;
    m->bootargs = g_strdup(cfg->bootargs);
    m->initrd_start = cfg->initrd_size ? cfg->initrd_start : 0;
    m->initrd_size = cfg->initrd_size;
    m->cpu_pvr = cfg->cpu_pvr ? cfg->cpu_pvr : SPAPR_DEFAULT_PVR;
    m->rtas_base = cfg->rtas_base ? cfg->rtas_base
                                  : MIN(cfg->ram_size, SPAPR_RTAS_MAX_ADDR) - SPAPR_RTAS_AREA_SIZE;
    m->esb_base = cfg->esb_base ? cfg->esb_base : XIVE_SPAPR_ESB_BASE;
    m->tima_base = cfg->tima_base ? cfg->tima_base : XIVE_SPAPR_TIMA_BASE;
    m->model = g_strdup(cfg->model ? cfg->model : "IBM pSeries (emulated)");
    m->cb = cfg->callbacks;
    m->opaque = cfg->opaque;
    m->devices = g_array_new(FALSE, TRUE, sizeof(SpaprDevice));
    m->stopped = g_new0(bool, m->nr_vcpus);

    XiveConfig xcfg = {
        .nr_vcpus = m->nr_vcpus,
        .nr_irqs = SPAPR_NR_IRQS,
        .esb_shift = XIVE_ESB_64K_2PAGE,
        .flags = 0,
        .mem = m->mem,
    };
    int rc = xive_new(&xcfg, &m->xive);
    if (rc < 0) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_XIVE, "xive_new: %s", g_strerror(-rc));
        spapr_machine_free(m);
        return NULL;
    }
    xive_set_log_handler(m->xive, xive_log_forward, m);
    if (!check_windows(m, error)) {
        spapr_machine_free(m);
        return NULL;
    }

    /* QEMU's map: the IPI of vCPU n is LISN n, then the vty at 0x1100. */
    for (uint32_t i = 0; i <= m->nr_vcpus && rc == 0; i++) {
        if (i < m->nr_vcpus) {
            rc = xive_irq_claim(m->xive, SPAPR_IRQ_IPI + i, false);
        } else if (m->console) {
            rc = xive_irq_claim(m->xive, SPAPR_IRQ_VIO, false);
        }
    }
    if (rc < 0) { /* a fresh instance: cannot happen, but never half-build */
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_XIVE, "xive_irq_claim: %s", g_strerror(-rc));
        spapr_machine_free(m);
        return NULL;
    }

    firmware_reset(m);
    return m;
}

void spapr_machine_free(SpaprMachine *m)
{
    if (!m) {
        return;
    }
    xive_free(m->xive);
    if (m->devices) {
        g_array_free(m->devices, TRUE);
    }
    g_free(m->stopped);
    g_free(m->bootargs);
    g_free(m->model);
    g_free(m);
}

/* Everything but XIVE: a fresh Xive instance already is in its reset state. */
static void firmware_reset(SpaprMachine *m)
{
    memset(m->ov5_cas, 0, sizeof(m->ov5_cas));
    m->compat_pvr = 0;
    m->little_endian = false;
    m->ail = 0;
    for (uint32_t i = 0; i < m->nr_vcpus; i++) {
        m->stopped[i] = i != 0;
    }
    m->cons_head = 0;
    m->cons_len = 0;
    spapr_rtas_write_blob(m);
}

void spapr_machine_reset(SpaprMachine *m)
{
    if (!m) {
        return;
    }
    xive_reset(m->xive);
    firmware_reset(m);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */

Xive *spapr_machine_xive(SpaprMachine *m)
{
    return m ? m->xive : NULL;
}

uint32_t spapr_machine_nr_vcpus(const SpaprMachine *m)
{
    return m ? m->nr_vcpus : 0;
}

uint64_t spapr_machine_ram_size(const SpaprMachine *m)
{
    return m ? m->ram_size : 0;
}

uint64_t spapr_machine_esb_base(const SpaprMachine *m)
{
    return m ? m->esb_base : 0;
}

uint64_t spapr_machine_end_esb_base(const SpaprMachine *m)
{
    return m ? m->esb_base + xive_esb_region_size(m->xive) : 0;
}

uint64_t spapr_machine_tima_base(const SpaprMachine *m)
{
    return m ? m->tima_base : 0;
}

uint64_t spapr_machine_rtas_base(const SpaprMachine *m)
{
    return m ? m->rtas_base : 0;
}

bool spapr_xive_selected(const SpaprMachine *m)
{
    return m->ov5_cas[SPAPR_OV5_INTC_BYTE] & SPAPR_OV5_XIVE_EXPLOIT;
}

gboolean spapr_machine_xive_enabled(const SpaprMachine *m)
{
    return m && spapr_xive_selected(m);
}

uint32_t spapr_machine_compat_pvr(const SpaprMachine *m)
{
    return m ? m->compat_pvr : 0;
}

gboolean spapr_machine_interrupts_little_endian(const SpaprMachine *m)
{
    return m && m->little_endian;
}

unsigned spapr_machine_addr_trans_mode(const SpaprMachine *m)
{
    return m ? m->ail : 0;
}

gboolean spapr_machine_select_xive(SpaprMachine *m, GError **error)
{
    if (!m) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "no machine");
        return FALSE;
    }
    spapr_cas_select_xive(m);
    return TRUE;
}

gboolean spapr_machine_cpu_stopped(const SpaprMachine *m, uint32_t vcpu)
{
    return m && vcpu < m->nr_vcpus && m->stopped[vcpu];
}

gboolean spapr_machine_set_cpu_stopped(SpaprMachine *m, uint32_t vcpu, bool stopped,
                                       GError **error)
{
    if (!m || vcpu >= m->nr_vcpus) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "no machine or vCPU %" PRIu32
                    " out of range", vcpu);
        return FALSE;
    }
    m->stopped[vcpu] = stopped;
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* MMIO routing                                                              */

static gboolean xive_result(int rc, GError **error)
{
    if (rc < 0) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_XIVE, "xive: %s", g_strerror(-rc));
        return FALSE;
    }
    return TRUE;
}

gboolean spapr_machine_mmio(SpaprMachine *m, uint32_t vcpu, uint64_t addr, unsigned size,
                            uint64_t *value, bool is_write, GError **error)
{
    if (!m || !value || vcpu >= m->nr_vcpus) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or value, or vCPU %" PRIu32 " out of range", vcpu);
        return FALSE;
    }
    uint64_t esb_size = xive_esb_region_size(m->xive);
    if (addr >= m->esb_base && addr - m->esb_base < esb_size) {
        int rc = xive_esb_mmio(m->xive, addr - m->esb_base, size, value, is_write);
        return xive_result(rc, error);
    }
    if (addr >= m->tima_base && addr - m->tima_base < XIVE_TIMA_SIZE) {
        uint64_t off = addr - m->tima_base;
        int rc = xive_tima_mmio(m->xive, vcpu, (XiveTmPage)(off >> XIVE_TM_PAGE_SHIFT),
                                (uint32_t)(off & (XIVE_TM_PAGE_SIZE - 1)), size, value, is_write);
        return xive_result(rc, error);
    }
    g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND,
                "0x%" PRIx64 " is not in a XIVE window", addr);
    return FALSE;
}

/* ------------------------------------------------------------------------ */
/* IRQ numbers                                                               */

static bool lisn_claimed(const SpaprMachine *m, uint32_t lisn)
{
    uint64_t eas;
    return xive_eas_get(m->xive, lisn, &eas) == 0 && xive_eas_is_valid(eas);
}

gboolean spapr_irq_claim(SpaprMachine *m, uint32_t lisn, bool lsi, GError **error)
{
    if (!m || lisn >= SPAPR_NR_IRQS) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or LISN 0x%" PRIx32 " out of range", lisn);
        return FALSE;
    }
    int rc = xive_irq_claim(m->xive, lisn, lsi);
    if (rc == -EBUSY) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_BUSY, "IRQ %" PRIu32 " is not free", lisn);
        return FALSE;
    }
    return xive_result(rc, error);
}

static const struct {
    uint32_t first, end;
} irq_ranges[_SPAPR_IRQ_RANGE_MAX] = {
    [SPAPR_IRQ_RANGE_VIO] = { SPAPR_IRQ_VIO, SPAPR_IRQ_PCI_LSI },
    [SPAPR_IRQ_RANGE_LSI] = { SPAPR_IRQ_PCI_LSI, SPAPR_IRQ_MSI },
    [SPAPR_IRQ_RANGE_MSI] = { SPAPR_IRQ_MSI, SPAPR_NR_IRQS },
};

gboolean spapr_irq_alloc(SpaprMachine *m, SpaprIrqRange range, bool lsi, uint32_t *ret_lisn,
                         GError **error)
{
    if (!m || !ret_lisn || (unsigned)range >= _SPAPR_IRQ_RANGE_MAX) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "invalid argument");
        return FALSE;
    }
    for (uint32_t lisn = irq_ranges[range].first; lisn < irq_ranges[range].end; lisn++) {
        if (!lisn_claimed(m, lisn)) {
            if (!xive_result(xive_irq_claim(m->xive, lisn, lsi), error)) {
                return FALSE;
            }
            *ret_lisn = lisn;
            return TRUE;
        }
    }
    g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_NO_SPACE, "no free LISN in 0x%" PRIx32
                " .. 0x%" PRIx32, irq_ranges[range].first, irq_ranges[range].end - 1);
    return FALSE;
}

static const SpaprDevice *device_of_lisn(const SpaprMachine *m, uint32_t lisn)
{
    for (guint i = 0; i < m->devices->len; i++) {
        const SpaprDevice *d = &g_array_index(m->devices, SpaprDevice, i);
        if (d->cfg.lisn == lisn) {
            return d;
        }
    }
    return NULL;
}

gboolean spapr_irq_free(SpaprMachine *m, uint32_t lisn, GError **error)
{
    if (!m || lisn >= SPAPR_NR_IRQS) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or LISN 0x%" PRIx32 " out of range", lisn);
        return FALSE;
    }
    if (lisn < m->nr_vcpus || (m->console && lisn == SPAPR_IRQ_VIO) || device_of_lisn(m, lisn)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "LISN 0x%" PRIx32 " belongs to the machine", lisn);
        return FALSE;
    }
    if (!lisn_claimed(m, lisn)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND, "LISN 0x%" PRIx32 " is not claimed",
                    lisn);
        return FALSE;
    }
    xive_irq_free(m->xive, lisn);
    return TRUE;
}

gboolean spapr_irq_set_level(SpaprMachine *m, uint32_t lisn, bool level, GError **error)
{
    if (!m || lisn >= SPAPR_NR_IRQS) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or LISN 0x%" PRIx32 " out of range", lisn);
        return FALSE;
    }
    if (!lisn_claimed(m, lisn)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND, "LISN 0x%" PRIx32 " is not claimed",
                    lisn);
        return FALSE;
    }
    xive_source_set_irq(m->xive, lisn, level);
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */

gboolean spapr_machine_add_virtio_mmio(SpaprMachine *m, const SpaprVirtioMmio *dev,
                                       uint32_t *ret_lisn, GError **error)
{
    if (!m || !dev || dev->size == 0 || range_wraps(dev->base, dev->size)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "invalid virtio-mmio window");
        return FALSE;
    }
    if (dev->lisn && (dev->lisn < SPAPR_IRQ_EPOW || dev->lisn >= SPAPR_NR_IRQS)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "LISN 0x%" PRIx32 " is not a device interrupt number", dev->lisn);
        return FALSE;
    }
    if (ranges_overlap(dev->base, dev->size, 0, m->ram_size) ||
        ranges_overlap(dev->base, dev->size, m->esb_base, xive_vc_size(m)) ||
        ranges_overlap(dev->base, dev->size, m->tima_base, XIVE_TIMA_SIZE)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_BUSY,
                    "virtio-mmio window 0x%" PRIx64 "+0x%" PRIx64 " overlaps RAM or XIVE",
                    dev->base, dev->size);
        return FALSE;
    }
    for (guint i = 0; i < m->devices->len; i++) {
        const SpaprDevice *d = &g_array_index(m->devices, SpaprDevice, i);
        if (ranges_overlap(dev->base, dev->size, d->cfg.base, d->cfg.size)) {
            g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_BUSY,
                        "virtio-mmio window 0x%" PRIx64 " overlaps the device at 0x%" PRIx64,
                        dev->base, d->cfg.base);
            return FALSE;
        }
    }

    SpaprDevice d = { .cfg = *dev };
    bool lsi = !dev->msi;
    if (dev->lisn == 0) {
        if (!spapr_irq_alloc(m, lsi ? SPAPR_IRQ_RANGE_LSI : SPAPR_IRQ_RANGE_MSI, lsi, &d.cfg.lisn,
                             error)) {
            return FALSE;
        }
    } else if (!spapr_irq_claim(m, dev->lisn, lsi, error)) {
        return FALSE;
    }
    g_array_append_val(m->devices, d);
    if (ret_lisn) {
        *ret_lisn = d.cfg.lisn;
    }
    return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Device tree                                                               */

GBytes *spapr_machine_build_fdt(SpaprMachine *m, GError **error)
{
    if (!m) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "no machine");
        return NULL;
    }
    return spapr_fdt_build(m, error);
}

gboolean spapr_machine_load_fdt(SpaprMachine *m, uint64_t gpa, uint64_t *ret_size,
                                GError **error)
{
    GBytes *fdt = spapr_machine_build_fdt(m, error);
    if (!fdt) {
        return FALSE;
    }
    gsize len;
    const void *data = g_bytes_get_data(fdt, &len);
    if (!spapr_ram_write(m, gpa, data, len)) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_FAULT,
                    "device tree of %zu bytes does not fit in RAM at 0x%" PRIx64, (size_t)len, gpa);
        g_bytes_unref(fdt);
        return FALSE;
    }
    if (ret_size) {
        *ret_size = len;
    }
    g_bytes_unref(fdt);
    return TRUE;
}
