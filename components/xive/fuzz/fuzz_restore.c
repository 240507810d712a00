/* SPDX-License-Identifier: MIT */
/*
 * Restore of arbitrary state buffers. The first input byte selects whether
 * the CRC is fixed up first (so that the payload checks and the restored
 * state get exercised, not only the checksum). A buffer that loads must save
 * back byte for byte, and the restored model must survive guest activity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xive/xive.h"

static void quiet(void *opaque, XiveLogLevel level, const char *msg)
{
    (void)opaque;
    (void)level;
    (void)msg;
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 16)) {
        return 0;
    }
    VMemMap *mem;
    Xive *x;
    if (vmem_map_new(&mem) < 0) {
        return 0;
    }
    vmem_map_add_anon(mem, 0, 0x10000);
    XiveConfig cfg = { .nr_vcpus = 2, .nr_irqs = 16, .mem = mem };
    if (xive_new(&cfg, &x) < 0) {
        vmem_map_free(mem);
        return 0;
    }
    xive_set_log_handler(x, quiet, NULL);

    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    memcpy(buf, data + 1, len);
    if ((data[0] & 1) && len >= 4) {
        uint32_t c = crc32_ieee(buf, len - 4);
        buf[len - 4] = (uint8_t)(c >> 24);
        buf[len - 3] = (uint8_t)(c >> 16);
        buf[len - 2] = (uint8_t)(c >> 8);
        buf[len - 1] = (uint8_t)c;
    }
    if (xive_state_load(x, buf, len) == 0) {
        void *again = NULL;
        size_t again_len = 0;
        if (xive_state_save(x, &again, &again_len) == 0 &&
            (again_len != len || memcmp(again, buf, len) != 0)) {
            __builtin_trap(); /* restore did not take the state verbatim */
        }
        free(again);
        /* Whatever was restored, the guest keeps going. */
        uint64_t v = 0;
        for (uint32_t vcpu = 0; vcpu < 2; vcpu++) {
            xive_tima_mmio(x, vcpu, XIVE_TM_OS_PAGE, 0x810, 2, &v, false);
            v = 0xff;
            xive_tima_mmio(x, vcpu, XIVE_TM_OS_PAGE, 0x11, 1, &v, true);
            v = 0;
            xive_tima_mmio(x, vcpu, XIVE_TM_HV_PAGE, 0x18, 4, &v, true);
        }
        for (uint32_t lisn = 0; lisn < 16; lisn++) {
            xive_source_eoi(x, lisn);
            xive_source_trigger(x, lisn);
        }
        char *text = NULL;
        if (xive_info_pic(x, &text) == 0) {
            free(text);
        }
    }
    free(buf);
    xive_free(x);
    vmem_map_free(mem);
    return 0;
}
