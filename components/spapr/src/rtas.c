/* SPDX-License-Identifier: MIT */
/* RTAS: calls through H_RTAS (or by name, for a qtest-like protocol). The
 * argument and result words are big-endian u32 in guest RAM; the whole
 * block is checked against RAM before anything is read or written, results
 * beyond nret are never written and arguments beyond nargs never read. */
#include "spapr-internal.h"

#include <inttypes.h>
#include <string.h>
#include <time.h>

#define NS_PER_SEC INT64_C(1000000000)

typedef struct RtasCall {
    uint32_t token;
    uint32_t nargs;
    uint64_t args;
    uint32_t nret;
    uint64_t rets;
} RtasCall;

static uint32_t rtas_arg(SpaprMachine *m, const RtasCall *c, uint32_t i)
{
    uint32_t v = 0;
    if (i < c->nargs) {
        (void)spapr_ram_read_be32(m, c->args + 4 * (uint64_t)i, &v); /* block checked */
    }
    return v;
}

static void rtas_ret(SpaprMachine *m, const RtasCall *c, uint32_t i, int64_t v)
{
    if (i < c->nret) {
        (void)spapr_ram_write_be32(m, c->rets + 4 * (uint64_t)i, (uint32_t)v);
    }
}

static bool rtas_shape(SpaprMachine *m, const RtasCall *c, uint32_t nargs, uint32_t nret,
                       const char *name)
{
    if (c->nargs == nargs && c->nret == nret) {
        return true;
    }
    spapr_log(m, SPAPR_LOG_GUEST_ERROR, "RTAS %s with %" PRIu32 " args, %" PRIu32
              " rets (wants %" PRIu32 ", %" PRIu32 ")", name, c->nargs, c->nret, nargs, nret);
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
    return false;
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */

static void rtas_display_character(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (c->nargs < 1) { /* QEMU would read past the arguments */
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
        return;
    }
    if (!m->console) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_HW_ERROR);
        return;
    }
    uint8_t ch = (uint8_t)rtas_arg(m, c, 0);
    spapr_console_write(m, &ch, 1);
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static int64_t clock_now_ns(SpaprMachine *m)
{
    if (m->cb.clock_ns) {
        return m->cb.clock_ns(m->opaque);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (the
 * era-based algorithm: 400-year eras of 146097 days, March-based years). */
static int64_t days_from_civil(int64_t y, unsigned mon, unsigned d)
{
    y -= mon <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *ret_d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *ret_m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *ret_y = yoe + era * 400 + (*ret_m <= 2);
}

static void rtas_get_time_of_day(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 0, 8, "get-time-of-day")) {
        return;
    }
    int64_t t;
    if (__builtin_add_overflow(clock_now_ns(m), m->rtc_offset_ns, &t)) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_HW_ERROR);
        return;
    }
    int64_t secs = t / NS_PER_SEC, ns = t % NS_PER_SEC;
    if (ns < 0) {
        ns += NS_PER_SEC;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t year;
    unsigned mon, mday;
    civil_from_days(days, &year, &mon, &mday);
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
    rtas_ret(m, c, 1, year);
    rtas_ret(m, c, 2, mon);
    rtas_ret(m, c, 3, mday);
    rtas_ret(m, c, 4, sod / 3600);
    rtas_ret(m, c, 5, sod / 60 % 60);
    rtas_ret(m, c, 6, sod % 60);
    rtas_ret(m, c, 7, ns);
}

static void rtas_set_time_of_day(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 7, 1, "set-time-of-day")) {
        return;
    }
    uint32_t year = rtas_arg(m, c, 0), mon = rtas_arg(m, c, 1), mday = rtas_arg(m, c, 2);
    uint32_t hour = rtas_arg(m, c, 3), min = rtas_arg(m, c, 4), sec = rtas_arg(m, c, 5);
    /* args[6] (nanoseconds) is ignored, as by QEMU. QEMU does not check the
     * fields either; a date that is not one is a parameter error here. */
    if (mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 59) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "RTAS set-time-of-day: invalid date");
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
        return;
    }
    int64_t secs = days_from_civil(year, mon, mday) * 86400 + hour * 3600 + min * 60 + sec;
    int64_t ns, offset;
    if (__builtin_mul_overflow(secs, NS_PER_SEC, &ns) ||
        __builtin_sub_overflow(ns, clock_now_ns(m), &offset)) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_HW_ERROR);
        return;
    }
    m->rtc_offset_ns = offset;
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static void rtas_power_off(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 2, 1, "power-off")) {
        return;
    }
    if (m->cb.power_off) {
        m->cb.power_off(m->opaque);
    }
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static void rtas_system_reboot(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 0, 1, "system-reboot")) {
        return;
    }
    if (m->cb.reboot) {
        m->cb.reboot(m->opaque);
    }
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static void rtas_query_cpu_stopped_state(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 1, 2, "query-cpu-stopped-state")) {
        return;
    }
    uint32_t id = rtas_arg(m, c, 0);
    if (id >= m->nr_vcpus) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
        return;
    }
    rtas_ret(m, c, 1, m->stopped[id] ? 0 : 2);
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static void rtas_start_cpu(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)vcpu;
    if (!rtas_shape(m, c, 3, 1, "start-cpu")) {
        return;
    }
    uint32_t id = rtas_arg(m, c, 0), entry = rtas_arg(m, c, 1), r3 = rtas_arg(m, c, 2);
    if (id >= m->nr_vcpus) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
        return;
    }
    if (!m->stopped[id]) {
        rtas_ret(m, c, 0, SPAPR_RTAS_OUT_HW_ERROR);
        return;
    }
    m->stopped[id] = false;
    if (m->cb.start_cpu) {
        m->cb.start_cpu(m->opaque, id, entry, r3);
    }
    rtas_ret(m, c, 0, SPAPR_RTAS_OUT_SUCCESS);
}

static void rtas_stop_self(SpaprMachine *m, uint32_t vcpu, const RtasCall *c)
{
    (void)c; /* no result: the caller does not come back */
    m->stopped[vcpu] = true;
    if (m->cb.stop_self) {
        m->cb.stop_self(m->opaque, vcpu);
    }
}

/* ------------------------------------------------------------------------ */
/* Table and dispatch                                                        */

typedef void (*RtasFn)(SpaprMachine *m, uint32_t vcpu, const RtasCall *c);

/* Two parallel tables: the names (also used for the device tree) and the
 * functions, in the same order. */
static const SpaprRtasName rtas_names[] = {
    { SPAPR_RTAS_DISPLAY_CHARACTER, "display-character" },
    { SPAPR_RTAS_GET_TIME_OF_DAY, "get-time-of-day" },
    { SPAPR_RTAS_SET_TIME_OF_DAY, "set-time-of-day" },
    { SPAPR_RTAS_POWER_OFF, "power-off" },
    { SPAPR_RTAS_SYSTEM_REBOOT, "system-reboot" },
    { SPAPR_RTAS_QUERY_CPU_STOPPED_STATE, "query-cpu-stopped-state" },
    { SPAPR_RTAS_START_CPU, "start-cpu" },
    { SPAPR_RTAS_STOP_SELF, "stop-self" },
};

static const RtasFn rtas_fns[] = {
    rtas_display_character, rtas_get_time_of_day, rtas_set_time_of_day,
    rtas_power_off,         rtas_system_reboot,   rtas_query_cpu_stopped_state,
    rtas_start_cpu,         rtas_stop_self,
};

G_STATIC_ASSERT(G_N_ELEMENTS(rtas_names) == G_N_ELEMENTS(rtas_fns));

const SpaprRtasName *spapr_rtas_names(size_t *ret_count)
{
    *ret_count = G_N_ELEMENTS(rtas_names);
    return rtas_names;
}

static RtasFn rtas_lookup(uint32_t token)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rtas_names); i++) {
        if (rtas_names[i].token == token) {
            return rtas_fns[i];
        }
    }
    return token == SPAPR_RTAS_LEGACY_DISPLAY_CHARACTER ? rtas_display_character : NULL;
}

int32_t spapr_rtas_token(const char *name)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(rtas_names); i++) {
        if (strcmp(rtas_names[i].name, name) == 0) {
            return (int32_t)rtas_names[i].token;
        }
    }
    return -1;
}

const char *spapr_rtas_name(uint32_t token)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rtas_names); i++) {
        if (rtas_names[i].token == token) {
            return rtas_names[i].name;
        }
    }
    return NULL;
}

int64_t spapr_rtas_dispatch(SpaprMachine *m, uint32_t vcpu, uint32_t token, uint32_t nargs,
                            uint64_t args, uint32_t nret, uint64_t rets)
{
    /* As QEMU's rtas_ld/rtas_st: real addresses, top 4 bits ignored. */
    args &= SPAPR_REAL_ADDR_MASK;
    rets &= SPAPR_REAL_ADDR_MASK;
    RtasCall c = { .token = token, .nargs = nargs, .args = args, .nret = nret, .rets = rets };

    if (!spapr_ram_range_ok(m, args, 4 * (uint64_t)nargs) ||
        !spapr_ram_range_ok(m, rets, 4 * (uint64_t)nret)) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "RTAS call 0x%" PRIx32 " with %" PRIu32 " args at 0x%"
                  PRIx64 ", %" PRIu32 " rets at 0x%" PRIx64 ": not in RAM",
                  token, nargs, args, nret, rets);
        return SPAPR_H_PARAMETER;
    }
    RtasFn fn = rtas_lookup(token);
    if (!fn) {
        spapr_log(m, SPAPR_LOG_GUEST_ERROR, "Unknown RTAS token 0x%" PRIx32, token);
        rtas_ret(m, &c, 0, SPAPR_RTAS_OUT_PARAM_ERROR);
        return SPAPR_H_PARAMETER;
    }
    fn(m, vcpu, &c);
    return SPAPR_H_SUCCESS;
}

gboolean spapr_rtas_call(SpaprMachine *m, uint32_t vcpu, uint32_t token, uint32_t nargs,
                         uint64_t args, uint32_t nret, uint64_t rets, int64_t *ret_hret,
                         GError **error)
{
    if (!m || vcpu >= m->nr_vcpus) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID,
                    "no machine or vCPU %" PRIu32 " out of range", vcpu);
        return FALSE;
    }
    int64_t hret = spapr_rtas_dispatch(m, vcpu, token, nargs, args, nret, rets);
    if (ret_hret) {
        *ret_hret = hret;
    }
    return TRUE;
}

gboolean spapr_rtas_call_by_name(SpaprMachine *m, const char *name, uint32_t nargs,
                                 uint64_t args, uint32_t nret, uint64_t rets,
                                 int64_t *ret_hret, GError **error)
{
    if (!m || !name) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_INVALID, "no machine or name");
        return FALSE;
    }
    int32_t token = spapr_rtas_token(name);
    if (token < 0) {
        g_set_error(error, SPAPR_ERROR, SPAPR_ERROR_NOT_FOUND, "no RTAS call \"%s\"", name);
        return FALSE;
    }
    return spapr_rtas_call(m, 0, (uint32_t)token, nargs, args, nret, rets, ret_hret, error);
}

/* ------------------------------------------------------------------------ */
/* The RTAS entry the guest branches to                                      */

static uint32_t ppc_d_form(unsigned op, unsigned rt, unsigned ra, uint16_t imm)
{
    return (uint32_t)op << 26 | rt << 21 | ra << 16 | imm;
}

void spapr_rtas_blob(uint8_t ret_blob[SPAPR_RTAS_BLOB_SIZE])
{
    const uint32_t insns[SPAPR_RTAS_BLOB_SIZE / 4] = {
        /* or r4,r3,r3 (mr r4,r3): X-form, opcode 31, XO 444 */
        (uint32_t)31 << 26 | 3u << 21 | 4u << 16 | 3u << 11 | 444u << 1,
        ppc_d_form(15, 3, 0, 0),                    /* addis r3,0,0 (lis) */
        ppc_d_form(24, 3, 3, SPAPR_KVMPPC_H_RTAS),  /* ori r3,r3,0xf000 */
        (uint32_t)17 << 26 | 1u << 5 | 2u,          /* sc 1 */
        (uint32_t)19 << 26 | 20u << 21 | 16u << 1,  /* bclr 20,0 (blr) */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(insns); i++) {
        vmem_cpu_to_be32(ret_blob + 4 * i, insns[i]);
    }
}

void spapr_rtas_write_blob(SpaprMachine *m)
{
    uint8_t blob[SPAPR_RTAS_BLOB_SIZE];
    spapr_rtas_blob(blob);
    (void)spapr_ram_write(m, m->rtas_base, blob, sizeof(blob)); /* checked at creation */
}
