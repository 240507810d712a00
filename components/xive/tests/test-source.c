/* SPDX-License-Identifier: MIT */
/* Sources: PQ state machine (MSI, LSI), every ESB offset on every page shift. */
#include <criterion/criterion.h>
#include <errno.h>

#include "helpers.h"

static const unsigned shifts[] = { XIVE_ESB_4K, XIVE_ESB_4K_2PAGE, XIVE_ESB_64K,
                                   XIVE_ESB_64K_2PAGE };

static void setup_default(void)
{
    t_setup(2, 64, XIVE_ESB_64K_2PAGE, 0);
}

TestSuite(source, .init = setup_default, .fini = t_teardown);

Test(source, new_rejects_bad_configs)
{
    Xive *x = NULL;
    XiveConfig ok = { .nr_vcpus = 1, .nr_irqs = 1 };
    cr_assert_eq(xive_new(NULL, &x), -EINVAL);
    cr_assert_eq(xive_new(&ok, NULL), -EINVAL);
    XiveConfig c = ok;
    c.nr_vcpus = 0;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    c = ok;
    c.nr_vcpus = XIVE_MAX_VCPUS + 1;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    c = ok;
    c.nr_irqs = 0;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    c = ok;
    c.nr_irqs = XIVE_MAX_IRQS + 1;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    c = ok;
    c.esb_shift = 14;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    c = ok;
    c.flags = 2;
    cr_assert_eq(xive_new(&c, &x), -EINVAL);
    cr_assert_null(x);
    cr_assert_eq(xive_new(&ok, &x), 0);
    cr_assert_eq(xive_esb_shift(x), XIVE_ESB_64K_2PAGE, "0 selects the QEMU default");
    cr_assert_eq(xive_nr_ends(x), 8);
    xive_free(x);
    xive_free(NULL);
}

Test(source, reset_state_is_off)
{
    for (uint32_t i = 0; i < 64; i++) {
        uint8_t pq = 0xaa;
        uint64_t eas = 1;
        cr_assert_eq(xive_source_get_pq(T.x, i, &pq), 0);
        cr_assert_eq(pq, XIVE_ESB_OFF);
        cr_assert_eq(xive_eas_get(T.x, i, &eas), 0);
        cr_assert_eq(eas, 0);
    }
    uint8_t pq;
    cr_assert_eq(xive_source_get_pq(T.x, 64, &pq), -ENOENT);
    cr_assert_eq(xive_source_get_pq(NULL, 0, &pq), -EINVAL);
    cr_assert_eq(xive_source_set_pq(T.x, 0, 4, NULL), -EINVAL);
}

/* Expected PQ after a trigger / an EOI, and whether an event goes on. */
struct pq_row {
    uint8_t before;
    uint8_t after_trigger;
    int trigger_notifies;
    uint8_t after_eoi;
    int eoi_notifies;
};

static const struct pq_row msi_table[] = {
    { XIVE_ESB_RESET, XIVE_ESB_PENDING, 1, XIVE_ESB_RESET, 0 },
    { XIVE_ESB_OFF, XIVE_ESB_OFF, 0, XIVE_ESB_OFF, 0 },
    { XIVE_ESB_PENDING, XIVE_ESB_QUEUED, 0, XIVE_ESB_RESET, 0 },
    { XIVE_ESB_QUEUED, XIVE_ESB_QUEUED, 0, XIVE_ESB_PENDING, 1 },
};

Test(source, msi_pq_table)
{
    cr_assert_eq(xive_irq_claim(T.x, 3, false), 0); /* valid + masked: no log */
    for (unsigned i = 0; i < 4; i++) {
        const struct pq_row *r = &msi_table[i];
        uint8_t pq, old;

        cr_assert_eq(xive_source_set_pq(T.x, 3, r->before, &old), 0);
        cr_assert_eq(xive_source_trigger(T.x, 3), r->trigger_notifies, "trigger from %u", i);
        xive_source_get_pq(T.x, 3, &pq);
        cr_assert_eq(pq, r->after_trigger, "trigger from PQ %u gave %u", r->before, pq);

        xive_source_set_pq(T.x, 3, r->before, NULL);
        cr_assert_eq(xive_source_eoi(T.x, 3), r->eoi_notifies, "eoi from %u", i);
        xive_source_get_pq(T.x, 3, &pq);
        cr_assert_eq(pq, r->after_eoi, "eoi from PQ %u gave %u", r->before, pq);

        /* The device-side input of an MSI: high triggers, low does nothing. */
        xive_source_set_pq(T.x, 3, r->before, NULL);
        cr_assert_eq(xive_source_set_irq(T.x, 3, false), 0);
        xive_source_get_pq(T.x, 3, &pq);
        cr_assert_eq(pq, r->before);
        cr_assert_eq(xive_source_set_irq(T.x, 3, true), r->trigger_notifies);
        xive_source_get_pq(T.x, 3, &pq);
        cr_assert_eq(pq, r->after_trigger);
    }
    cr_assert_eq(xive_guest_error_count(T.x), 0);
}

Test(source, lsi_pq_table)
{
    XiveSourceInfo info;
    uint8_t pq;
    cr_assert_eq(xive_irq_claim(T.x, 5, true), 0);
    cr_assert_eq(xive_source_info(T.x, 5, &info), 0);
    cr_assert(info.lsi);

    /* Assert on each PQ: only 00 forwards, and goes to 10. */
    static const uint8_t after_assert[4] = { XIVE_ESB_PENDING, XIVE_ESB_OFF, XIVE_ESB_PENDING,
                                             XIVE_ESB_QUEUED };
    for (uint8_t before = 0; before < 4; before++) {
        xive_source_set_irq(T.x, 5, false);
        xive_source_set_pq(T.x, 5, before, NULL);
        cr_assert_eq(xive_source_set_irq(T.x, 5, true), before == XIVE_ESB_RESET);
        xive_source_get_pq(T.x, 5, &pq);
        cr_assert_eq(pq, after_assert[before], "assert from %u", before);
        xive_source_info(T.x, 5, &info);
        cr_assert(info.asserted);
    }
    /* Already asserted and pending: asserting again forwards nothing. */
    xive_source_set_pq(T.x, 5, XIVE_ESB_PENDING, NULL);
    cr_assert_eq(xive_source_set_irq(T.x, 5, true), 0);

    /* EOI while the level is still high: presented again (00 -> 10). */
    cr_assert_eq(xive_source_eoi(T.x, 5), 1);
    xive_source_get_pq(T.x, 5, &pq);
    cr_assert_eq(pq, XIVE_ESB_PENDING);

    /* Deassert, then EOI: back to 00, nothing forwarded. */
    cr_assert_eq(xive_source_set_irq(T.x, 5, false), 0);
    xive_source_info(T.x, 5, &info);
    cr_assert_not(info.asserted);
    cr_assert_eq(xive_source_eoi(T.x, 5), 0);
    xive_source_get_pq(T.x, 5, &pq);
    cr_assert_eq(pq, XIVE_ESB_RESET);

    /* An LSI off (01) stays off through assert and EOI. */
    xive_source_set_pq(T.x, 5, XIVE_ESB_OFF, NULL);
    cr_assert_eq(xive_source_set_irq(T.x, 5, true), 0);
    cr_assert_eq(xive_source_eoi(T.x, 5), 0);
    xive_source_get_pq(T.x, 5, &pq);
    cr_assert_eq(pq, XIVE_ESB_OFF);
    cr_assert_eq(xive_guest_error_count(T.x), 0);

    /* A trigger-page store that queues an event on an LSI is a guest error. */
    xive_source_set_pq(T.x, 5, XIVE_ESB_PENDING, NULL);
    cr_assert_eq(xive_source_trigger(T.x, 5), 0);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "queued an event on LSI IRQ 5");
}

Test(source, source_info_for_every_shift)
{
    for (unsigned s = 0; s < 4; s++) {
        t_teardown();
        t_setup(1, 16, shifts[s], s == 3 ? XIVE_SRC_STORE_EOI : 0);
        XiveSourceInfo info;
        cr_assert_eq(xive_source_info(T.x, 7, &info), 0);
        bool two = shifts[s] == 13 || shifts[s] == 17;
        cr_assert_eq(info.two_pages, two);
        cr_assert_eq(info.page_shift, two ? shifts[s] - 1 : shifts[s]);
        cr_assert_eq(info.trigger_offset, (uint64_t)7 << shifts[s]);
        cr_assert_eq(info.mgmt_offset,
                     ((uint64_t)7 << shifts[s]) + (two ? 1u << (shifts[s] - 1) : 0));
        cr_assert_eq(info.store_eoi, s == 3);
        cr_assert_eq(info.pq, XIVE_ESB_OFF);
        cr_assert_eq(xive_esb_region_size(T.x), (uint64_t)16 << shifts[s]);
        cr_assert_eq(xive_source_info(T.x, 16, &info), -ENOENT);
    }
}

/* Every management-page offset, loads and stores, on every page shift. */
Test(source, every_esb_offset_every_shift)
{
    for (unsigned s = 0; s < 4; s++) {
        t_teardown();
        t_setup(1, 8, shifts[s], XIVE_SRC_STORE_EOI);
        const uint32_t lisn = 6;
        XiveSourceInfo info;
        uint8_t pq;
        xive_irq_claim(T.x, lisn, false);
        xive_source_info(T.x, lisn, &info);
        uint64_t m = info.mgmt_offset;
        uint64_t page = UINT64_C(1) << info.page_shift;

        /* The operations repeat in every 4 KiB of a page. */
        for (uint64_t rep = 0; rep < page; rep += 0x1000) {
            uint64_t b = m + rep;
            /* 0x000-0x7ff loads: EOI, returning whether Q was set. */
            for (uint64_t off = 0; off < 0x800; off += 0x3f8) {
                xive_source_set_pq(T.x, lisn, XIVE_ESB_QUEUED, NULL);
                cr_assert_eq(t_esb_load(b + off, 8), 1, "shift %u off %#lx", shifts[s],
                             (unsigned long)off);
                xive_source_get_pq(T.x, lisn, &pq);
                cr_assert_eq(pq, XIVE_ESB_PENDING);
                cr_assert_eq(t_esb_load(b + off, 8), 0);
                xive_source_get_pq(T.x, lisn, &pq);
                cr_assert_eq(pq, XIVE_ESB_RESET);
            }
            /* 0x800-0xbff loads: get PQ, no change. */
            for (uint8_t v = 0; v < 4; v++) {
                xive_source_set_pq(T.x, lisn, v, NULL);
                cr_assert_eq(t_esb_load(b + 0x800, 8), v);
                cr_assert_eq(t_esb_load(b + 0xbf8, 8), v);
                xive_source_get_pq(T.x, lisn, &pq);
                cr_assert_eq(pq, v);
            }
            /* 0xc00-0xfff loads and stores: set PQ, a load returns the old. */
            for (uint8_t v = 0; v < 4; v++) {
                xive_source_set_pq(T.x, lisn, (uint8_t)(3 - v), NULL);
                cr_assert_eq(t_esb_load(b + 0xc00 + 0x100 * v, 8), 3 - v);
                xive_source_get_pq(T.x, lisn, &pq);
                cr_assert_eq(pq, v);
                xive_source_set_pq(T.x, lisn, (uint8_t)(3 - v), NULL);
                t_esb_store(b + 0xcf8 + 0x100 * v, 8, 0);
                xive_source_get_pq(T.x, lisn, &pq);
                cr_assert_eq(pq, v);
            }
            /* 0x000-0x3ff stores: trigger. */
            xive_source_set_pq(T.x, lisn, XIVE_ESB_RESET, NULL);
            t_esb_store(b + 0x3f8, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_PENDING);
            /* 0x400-0x7ff stores: StoreEOI. */
            xive_source_set_pq(T.x, lisn, XIVE_ESB_QUEUED, NULL);
            t_esb_store(b + 0x400, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_PENDING);
            t_esb_store(b + 0x7f8, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_RESET);
            /* 0x800-0xbff stores: inject, forwarded whatever the PQ. */
            xive_source_set_pq(T.x, lisn, XIVE_ESB_OFF, NULL);
            t_esb_store(b + 0x800, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_OFF);
        }
        cr_assert_eq(xive_guest_error_count(T.x), 0, "shift %u: %s", shifts[s], T.last_log);

        /* Trigger page (two-page shifts only): loads read all ones, any
         * store triggers. */
        if (info.two_pages) {
            uint64_t t = info.trigger_offset;
            xive_source_set_pq(T.x, lisn, XIVE_ESB_RESET, NULL);
            cr_assert_eq(t_esb_load(t + 0x800, 8), UINT64_MAX);
            cr_assert_eq(t_esb_load(t, 4), UINT32_MAX);
            cr_assert_eq(xive_guest_error_count(T.x), 2);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_RESET, "a trigger-page load changes nothing");
            t_esb_store(t + 0xc00, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_PENDING, "0xc00 of the trigger page triggers");
            t_esb_store(t + page - 8, 8, 0);
            xive_source_get_pq(T.x, lisn, &pq);
            cr_assert_eq(pq, XIVE_ESB_QUEUED);
        }
    }
}

Test(source, store_eoi_without_capability_is_ignored)
{
    XiveSourceInfo info;
    uint8_t pq;
    xive_irq_claim(T.x, 1, false);
    xive_source_info(T.x, 1, &info);
    xive_source_set_pq(T.x, 1, XIVE_ESB_QUEUED, NULL);
    t_esb_store(info.mgmt_offset + 0x400, 8, 0);
    xive_source_get_pq(T.x, 1, &pq);
    cr_assert_eq(pq, XIVE_ESB_QUEUED);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "invalid Store EOI for IRQ 1");
}

Test(source, load_values_follow_access_size)
{
    XiveSourceInfo info;
    xive_irq_claim(T.x, 2, false);
    xive_source_info(T.x, 2, &info);
    xive_source_set_pq(T.x, 2, XIVE_ESB_QUEUED, NULL);
    for (unsigned size = 1; size <= 8; size <<= 1) {
        cr_assert_eq(t_esb_load(info.mgmt_offset + 0x800, size), 3);
        cr_assert_eq(t_esb_load(info.trigger_offset, size),
                     size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1);
    }
}

Test(source, bad_esb_accesses)
{
    XiveSourceInfo info;
    uint8_t pq;
    uint64_t v = 0;
    xive_irq_claim(T.x, 4, false);
    xive_source_info(T.x, 4, &info);
    xive_source_set_pq(T.x, 4, XIVE_ESB_QUEUED, NULL);

    /* Guest errors: size 3, size 16, misaligned. Loads read all ones and
     * nothing changes. */
    cr_assert_eq(t_esb_load(info.mgmt_offset + 0xc00, 3), 0xffffff);
    cr_assert_eq(t_esb_load(info.mgmt_offset + 0xc00, 16), UINT64_MAX);
    cr_assert_eq(t_esb_load(info.mgmt_offset + 0xc04, 8), UINT64_MAX);
    t_esb_store(info.mgmt_offset + 0xc01, 2, 0);
    xive_source_get_pq(T.x, 4, &pq);
    cr_assert_eq(pq, XIVE_ESB_QUEUED);
    cr_assert_eq(xive_guest_error_count(T.x), 4);

    /* API errors. */
    cr_assert_eq(xive_esb_mmio(T.x, xive_esb_region_size(T.x), 8, &v, false), -ERANGE);
    cr_assert_eq(xive_esb_mmio(T.x, UINT64_MAX - 7, 8, &v, true), -ERANGE);
    cr_assert_eq(xive_esb_mmio(NULL, 0, 8, &v, false), -EINVAL);
    cr_assert_eq(xive_esb_mmio(T.x, 0, 8, NULL, false), -EINVAL);
}

Test(source, mgmt_access_by_number)
{
    uint64_t v = 0;
    uint8_t pq;
    xive_irq_claim(T.x, 9, false);
    xive_source_set_pq(T.x, 9, XIVE_ESB_QUEUED, NULL);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0x800, 8, &v, false), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0, 8, &v, false), 0);
    cr_assert_eq(v, 1);
    v = 0;
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0xd00, 8, &v, true), 0);
    xive_source_get_pq(T.x, 9, &pq);
    cr_assert_eq(pq, XIVE_ESB_OFF);
    /* The management page is 64 KiB with shift 17. */
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0xfff8, 8, &v, false), 0);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0xfffc, 8, &v, false), -ERANGE);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0x10000, 8, &v, false), -ERANGE);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 64, 0, 8, &v, false), -ENOENT);
    cr_assert_eq(xive_esb_mgmt_access(T.x, 9, 0, 8, NULL, false), -EINVAL);
}

Test(source, claim_and_free)
{
    uint64_t eas;
    XiveSourceInfo info;
    cr_assert_eq(xive_irq_claim(T.x, 10, true), 0);
    cr_assert_eq(xive_irq_claim(T.x, 10, false), -EBUSY);
    xive_source_info(T.x, 10, &info);
    cr_assert(info.lsi, "a failed claim changes nothing");
    xive_eas_get(T.x, 10, &eas);
    cr_assert_eq(eas, XIVE_EAS_VALID | XIVE_EAS_MASKED);
    cr_assert_eq(xive_irq_free(T.x, 10), 0);
    xive_eas_get(T.x, 10, &eas);
    cr_assert_eq(eas, XIVE_EAS_MASKED);
    cr_assert_eq(xive_irq_claim(T.x, 10, false), 0);
    xive_source_info(T.x, 10, &info);
    cr_assert_not(info.lsi);
    cr_assert_eq(xive_irq_claim(T.x, 64, false), -ENOENT);
    cr_assert_eq(xive_irq_free(T.x, 64), -ENOENT);
    cr_assert_eq(xive_irq_claim(NULL, 0, false), -EINVAL);
    cr_assert_eq(xive_source_set_irq(T.x, 64, true), -ENOENT);
    cr_assert_eq(xive_source_trigger(T.x, 64), -ENOENT);
    cr_assert_eq(xive_source_eoi(T.x, 64), -ENOENT);
}

Test(source, triggers_on_invalid_eas_are_logged)
{
    xive_source_set_pq(T.x, 12, XIVE_ESB_RESET, NULL);
    cr_assert_eq(xive_source_trigger(T.x, 12), 1);
    cr_assert_eq(xive_guest_error_count(T.x), 1);
    cr_assert_str_eq(T.last_log, "invalid LISN c");
}

Test(source, log_is_rate_limited)
{
    uint64_t v;
    for (int i = 0; i < 1000; i++) {
        xive_esb_mmio(T.x, 0, 3, &v, false);
    }
    cr_assert_eq(xive_guest_error_count(T.x), 1000);
    cr_assert_leq(T.nlogs, 32, "%u messages reached the handler", T.nlogs);
    cr_assert_geq(T.nlogs, 16);
}

Test(source, end_esb_pages)
{
    uint64_t v;
    uint32_t idx = xive_end_index(1, 3);
    XiveEnd end;
    cr_assert_eq(xive_end_esb_region_size(T.x), (uint64_t)16 << 17);
    /* Invalid END: all ones. */
    cr_assert_eq(xive_end_esb_mmio(T.x, (uint64_t)idx << 17, 8, &v, false), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(xive_queue_configure(T.x, 1, 3, T_QPAGE(1, 3), 12, 0), 0);
    /* ESn page (even): get (00 after configuration), set 01 (returns the
     * old 00), get again. */
    cr_assert_eq(xive_end_esb_mmio(T.x, ((uint64_t)idx << 17) + 0x800, 8, &v, false), 0);
    cr_assert_eq(v, XIVE_ESB_RESET);
    cr_assert_eq(xive_end_esb_mmio(T.x, ((uint64_t)idx << 17) + 0xd00, 8, &v, false), 0);
    cr_assert_eq(v, XIVE_ESB_RESET);
    cr_assert_eq(xive_end_esb_mmio(T.x, ((uint64_t)idx << 17) + 0xbf8, 8, &v, false), 0);
    cr_assert_eq(v, XIVE_ESB_OFF);
    xive_end_get(T.x, idx, &end);
    cr_assert_eq(xive_end_esn(&end), XIVE_ESB_OFF);
    cr_assert_eq(xive_end_ese(&end), XIVE_ESB_RESET);
    /* ESe page (odd): set 11, then EOI returns 1 and leaves 10. */
    uint64_t ese = ((uint64_t)idx << 17) + 0x10000;
    cr_assert_eq(xive_end_esb_mmio(T.x, ese + 0xf00, 8, &v, false), 0);
    cr_assert_eq(xive_end_esb_mmio(T.x, ese, 8, &v, false), 0);
    cr_assert_eq(v, 1);
    xive_end_get(T.x, idx, &end);
    cr_assert_eq(xive_end_ese(&end), XIVE_ESB_PENDING);
    /* Stores are invalid. */
    uint64_t before = xive_guest_error_count(T.x);
    v = 0;
    cr_assert_eq(xive_end_esb_mmio(T.x, ese + 0xc00, 8, &v, true), 0);
    cr_assert_eq(xive_guest_error_count(T.x), before + 1);
    cr_assert_eq(xive_end_esb_mmio(T.x, xive_end_esb_region_size(T.x), 8, &v, false), -ERANGE);
}
