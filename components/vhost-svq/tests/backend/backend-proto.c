/* SPDX-License-Identifier: MIT */
/*
 * vhu-test-backend: the vhost-user protocol, back-end side, with the
 * misbehaviours the tests ask for (--fault KIND --fault-at REQUEST).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "fdpass/fdpass.h"

#define BLK_F_FLUSH 9

static const char *const fault_names[_BE_FAULT_MAX] = {
    [BE_FAULT_NONE] = "none",
    [BE_FAULT_NO_REPLY_FLAG] = "no-reply-flag",
    [BE_FAULT_BAD_VERSION] = "bad-version",
    [BE_FAULT_WRONG_REQUEST] = "wrong-request",
    [BE_FAULT_SHORT] = "short",
    [BE_FAULT_LONG] = "long",
    [BE_FAULT_TRUNCATED] = "truncated",
    [BE_FAULT_EXTRA_FD] = "extra-fd",
    [BE_FAULT_TOO_MANY_FDS] = "too-many-fds",
    [BE_FAULT_MISSING_FD] = "missing-fd",
    [BE_FAULT_HUGE_INFLIGHT] = "huge-inflight",
    [BE_FAULT_BAD_RING_INDEX] = "bad-ring-index",
    [BE_FAULT_BAD_BASE] = "bad-base",
    [BE_FAULT_NACK] = "nack",
    [BE_FAULT_UNSOLICITED] = "unsolicited",
    [BE_FAULT_CONFIG_SIZE] = "config-size",
    [BE_FAULT_STALL] = "stall",
};

const char *be_fault_name(BeFault f)
{
    return (unsigned)f < _BE_FAULT_MAX ? fault_names[f] : "?";
}

BeFault be_fault_from_name(const char *name)
{
    for (unsigned i = 0; i < _BE_FAULT_MAX; i++) {
        if (strcmp(name, fault_names[i]) == 0) {
            return (BeFault)i;
        }
    }
    return _BE_FAULT_MAX;
}

static uint64_t offered_features(const Backend *be)
{
    uint64_t f = VQ_FEATURE(VQ_F_VERSION_1) | VQ_FEATURE(VQ_F_EVENT_IDX) |
                 VQ_FEATURE(VQ_F_INDIRECT_DESC) | VQ_FEATURE(VQ_F_RING_PACKED) |
                 (UINT64_C(1) << BLK_F_FLUSH);

    if (be->opt.protocol) {
        f |= UINT64_C(1) << VHU_F_PROTOCOL_FEATURES;
    }
    return f & ~be->opt.drop_features;
}

static uint64_t offered_protocol(const Backend *be)
{
    uint64_t p = (UINT64_C(1) << VHU_PROTOCOL_F_MQ) | (UINT64_C(1) << VHU_PROTOCOL_F_CONFIG) |
                 (UINT64_C(1) << VHU_PROTOCOL_F_RESET_DEVICE) |
                 (UINT64_C(1) << VHU_PROTOCOL_F_STATUS);

    if (be->opt.reply_ack) {
        p |= UINT64_C(1) << VHU_PROTOCOL_F_REPLY_ACK;
    }
    if (be->opt.inflight) {
        p |= UINT64_C(1) << VHU_PROTOCOL_F_INFLIGHT_SHMFD;
    }
    return p & ~be->opt.drop_protocol;
}

/* ------------------------------------------------------------------------ */
/* Replies, with faults                                                      */

typedef struct Msg {
    VhuMsgHeader hdr;
    uint8_t payload[sizeof(VhuConfigMsg) + 64];
    int fds[VHU_MAX_FDS];
    size_t nfds;
} Msg;

static bool fault_now(const Backend *be, uint32_t request)
{
    return be->opt.fault != BE_FAULT_NONE && request == be->opt.fault_request &&
           request < 64 && be->request_seen[request] == be->opt.fault_count;
}

static void stall_until_hangup(Backend *be)
{
    struct pollfd pfd = { .fd = be->sock, .events = 0 };

    /* Never read nor answer again; leave once the front-end gives up. */
    while (poll(&pfd, 1, -1) >= 0 && !(pfd.revents & (POLLHUP | POLLERR))) {
    }
    _exit(3);
}

static bool send_raw(Backend *be, const VhuMsgHeader *hdr, const void *payload, size_t len,
                     const int *fds, size_t nfds)
{
    uint8_t buf[sizeof(VhuMsgHeader) + sizeof(VhuConfigMsg) + 64];

    memcpy(buf, hdr, sizeof(*hdr));
    memcpy(buf + sizeof(*hdr), payload, len);
    return fdpass_send(be->sock, buf, sizeof(*hdr) + len, fds, nfds) == 0;
}

/* Sends the reply to @request, bent by the fault if it applies now. */
static bool reply(Backend *be, uint32_t request, const void *payload, uint32_t size,
                  const int *fds, size_t nfds)
{
    VhuMsgHeader hdr = { .request = request, .flags = VHU_FLAG_VERSION | VHU_FLAG_REPLY,
                         .size = size };
    uint8_t body[sizeof(VhuConfigMsg) + 64];
    int extra[12];
    size_t len = size;
    bool ok;

    memcpy(body, payload, size);
    if (!fault_now(be, request)) {
        return send_raw(be, &hdr, body, len, fds, nfds);
    }
    switch (be->opt.fault) {
    case BE_FAULT_NO_REPLY_FLAG:
        hdr.flags = VHU_FLAG_VERSION;
        break;
    case BE_FAULT_BAD_VERSION:
        hdr.flags = 2 | VHU_FLAG_REPLY;
        break;
    case BE_FAULT_WRONG_REQUEST:
        hdr.request = request + 1;
        break;
    case BE_FAULT_SHORT:
        hdr.size = size / 2;
        len = size / 2;
        break;
    case BE_FAULT_LONG:
        hdr.size = 65536;
        break;
    case BE_FAULT_TRUNCATED:
        send_raw(be, &hdr, body, size / 2, fds, nfds);
        _exit(3);
    case BE_FAULT_EXTRA_FD:
    case BE_FAULT_TOO_MANY_FDS: {
        size_t n = be->opt.fault == BE_FAULT_EXTRA_FD ? 1 : 12;

        for (size_t i = 0; i < n; i++) {
            extra[i] = eventfd(0, EFD_CLOEXEC);
        }
        ok = send_raw(be, &hdr, body, len, extra, n);
        fdpass_close_all(extra, n);
        return ok;
    }
    case BE_FAULT_MISSING_FD:
        return send_raw(be, &hdr, body, len, NULL, 0);
    case BE_FAULT_HUGE_INFLIGHT:
        if (size == sizeof(VhuInflightMsg)) {
            VhuInflightMsg *m = (VhuInflightMsg *)body;

            m->mmap_size = UINT64_C(1) << 40;
        }
        break;
    case BE_FAULT_BAD_RING_INDEX:
        if (size == sizeof(VhuVringStateMsg)) {
            ((VhuVringStateMsg *)body)->index += 1;
        }
        break;
    case BE_FAULT_BAD_BASE:
        if (size == sizeof(VhuVringStateMsg)) {
            ((VhuVringStateMsg *)body)->num += 0x8000;
        }
        break;
    case BE_FAULT_NACK:
        if (size == sizeof(uint64_t)) {
            uint64_t one = 1;

            memcpy(body, &one, sizeof(one));
        }
        break;
    case BE_FAULT_CONFIG_SIZE:
        if (size > VHU_CONFIG_HDR_SIZE) {
            hdr.size = size - 1;
            len = size - 1;
        }
        break;
    case BE_FAULT_UNSOLICITED: {
        uint64_t zero = 0;
        VhuMsgHeader u = { .request = VHU_REQ_GET_FEATURES,
                           .flags = VHU_FLAG_VERSION | VHU_FLAG_REPLY, .size = 8 };

        ok = send_raw(be, &hdr, body, len, fds, nfds);
        return ok && send_raw(be, &u, &zero, sizeof(zero), NULL, 0);
    }
    case BE_FAULT_STALL:
        stall_until_hangup(be);
        return false;
    default:
        break;
    }
    return send_raw(be, &hdr, body, len, fds, nfds);
}

static bool reply_u64(Backend *be, uint32_t request, uint64_t v)
{
    return reply(be, request, &v, sizeof(v), NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

static void close_fds(Msg *m)
{
    fdpass_close_all(m->fds, m->nfds);
    m->nfds = 0;
}

static int take_fd(Msg *m)
{
    int fd;

    if (m->nfds != 1) {
        return -1;
    }
    fd = m->fds[0];
    m->fds[0] = -1;
    m->nfds = 0;
    return fd;
}

static bool set_mem_table(Backend *be, Msg *m)
{
    VhuMemTableMsg t;

    memset(&t, 0, sizeof(t));
    memcpy(&t, m->payload, m->hdr.size < sizeof(t) ? m->hdr.size : sizeof(t));
    if (t.nregions > BE_MAX_REGIONS || m->hdr.size < VHU_MEM_TABLE_SIZE(t.nregions) ||
        m->nfds != t.nregions) {
        fprintf(stderr, "vhu-test-backend: bad SET_MEM_TABLE\n");
        return false;
    }
    while (vmem_map_num_regions(be->map)) {
        VMemRegionInfo info;

        vmem_map_region_info(be->map, 0, &info);
        vmem_map_remove(be->map, info.gpa);
    }
    be->nregions = 0;
    for (unsigned i = 0; i < t.nregions; i++) {
        VhuMemRegionMsg *r = &t.regions[i];
        int rc = vmem_map_add_fd(be->map, r->gpa, r->size, m->fds[i], r->mmap_offset);

        if (rc < 0) {
            fprintf(stderr, "vhu-test-backend: region %u: %s\n", i, strerror(-rc));
            return false;
        }
        be->regions[be->nregions++] = (BeRegion){ r->gpa, r->size, r->uaddr };
    }
    for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
        if (be->rings[i].q && vq_dev_is_ready(be->rings[i].q)) {
            vq_dev_remap(be->rings[i].q);
        }
    }
    return true;
}

static bool get_inflight_fd(Backend *be, Msg *m)
{
    VhuInflightMsg in;
    uint64_t block, size;
    void *addr;
    int fd;

    if (m->hdr.size != sizeof(in)) {
        return false;
    }
    memcpy(&in, m->payload, sizeof(in));
    block = (sizeof(VhuInflightSplit) + sizeof(VhuInflightDescSplit) * in.queue_size + 63) &
            ~UINT64_C(63);
    size = block * in.num_queues;
    if (size == 0 || in.num_queues > BE_MAX_QUEUES) {
        in.mmap_size = 0;
        return reply(be, VHU_REQ_GET_INFLIGHT_FD, &in, sizeof(in), NULL, 0);
    }
    fd = memfd_create("vhu-test-inflight", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        return false;
    }
    addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        close(fd);
        return false;
    }
    if (be->inflight_addr) {
        munmap(be->inflight_addr, be->inflight_size);
    }
    be->inflight_addr = addr;
    be->inflight_size = size;
    be->inflight_qsize = in.queue_size;
    be->inflight_queues = in.num_queues;
    in.mmap_size = size;
    in.mmap_offset = 0;
    bool ok = reply(be, VHU_REQ_GET_INFLIGHT_FD, &in, sizeof(in), &fd, 1);
    close(fd);
    return ok;
}

static bool set_inflight_fd(Backend *be, Msg *m)
{
    VhuInflightMsg in;
    void *addr;
    int fd = take_fd(m);

    if (fd < 0 || m->hdr.size != sizeof(in)) {
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    memcpy(&in, m->payload, sizeof(in));
    addr = mmap(NULL, in.mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                (off_t)in.mmap_offset);
    close(fd);
    if (addr == MAP_FAILED) {
        return false;
    }
    if (be->inflight_addr) {
        munmap(be->inflight_addr, be->inflight_size);
    }
    be->inflight_addr = addr;
    be->inflight_size = in.mmap_size;
    be->inflight_qsize = in.queue_size;
    be->inflight_queues = in.num_queues > BE_MAX_QUEUES ? BE_MAX_QUEUES : in.num_queues;
    return true;
}

static bool vring_fd(Backend *be, Msg *m, int **slot_out, unsigned *index_out)
{
    uint64_t v;
    unsigned index;

    if (m->hdr.size != sizeof(v)) {
        return false;
    }
    memcpy(&v, m->payload, sizeof(v));
    index = (unsigned)(v & VHU_VRING_IDX_MASK);
    if (index >= BE_MAX_QUEUES) {
        return false;
    }
    *index_out = index;
    switch (m->hdr.request) {
    case VHU_REQ_SET_VRING_KICK:
        *slot_out = &be->rings[index].kick_fd;
        break;
    case VHU_REQ_SET_VRING_CALL:
        *slot_out = &be->rings[index].call_fd;
        break;
    default:
        *slot_out = &be->rings[index].err_fd;
        break;
    }
    if (**slot_out >= 0) {
        close(**slot_out);
    }
    **slot_out = (v & VHU_VRING_NOFD_MASK) ? -1 : take_fd(m);
    return true;
}

/* Runs @m; returns false on a fatal error. *@replied tells whether a reply
 * was sent (otherwise NEED_REPLY gets an ack of 0). */
static bool execute(Backend *be, Msg *m, bool *replied)
{
    VhuVringStateMsg st;
    VhuVringAddrMsg addr;
    VhuConfigMsg cfg;
    uint64_t v = 0;
    unsigned index;
    int *slot;

    *replied = false;
    if (m->hdr.size >= sizeof(v)) {
        memcpy(&v, m->payload, sizeof(v));
    }
    memcpy(&st, m->payload, sizeof(st));
    switch (m->hdr.request) {
    case VHU_REQ_GET_FEATURES:
        *replied = true;
        return reply_u64(be, m->hdr.request, offered_features(be));
    case VHU_REQ_SET_FEATURES:
        be->features = v & ~(UINT64_C(1) << VHU_F_PROTOCOL_FEATURES);
        if (!(v & (UINT64_C(1) << VHU_F_PROTOCOL_FEATURES))) {
            /* Without protocol features, rings are enabled at once. */
            for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
                be->rings[i].enabled = true;
            }
        }
        return true;
    case VHU_REQ_GET_PROTOCOL_FEATURES:
        *replied = true;
        return reply_u64(be, m->hdr.request, offered_protocol(be));
    case VHU_REQ_SET_PROTOCOL_FEATURES:
        be->protocol = v;
        return true;
    case VHU_REQ_GET_QUEUE_NUM:
        *replied = true;
        return reply_u64(be, m->hdr.request, be->opt.queues);
    case VHU_REQ_SET_OWNER:
        be->owner = true;
        return true;
    case VHU_REQ_RESET_OWNER:
    case VHU_REQ_RESET_DEVICE:
        for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
            be_ring_stop(be, i);
        }
        be->features = 0;
        return true;
    case VHU_REQ_SET_MEM_TABLE:
        return set_mem_table(be, m);
    case VHU_REQ_SET_VRING_NUM:
        if (st.index >= BE_MAX_QUEUES || st.num == 0 || st.num > VQ_MAX_SIZE) {
            return false;
        }
        be->rings[st.index].num = st.num;
        return true;
    case VHU_REQ_SET_VRING_BASE:
        if (st.index >= BE_MAX_QUEUES) {
            return false;
        }
        be->rings[st.index].base = st.num;
        return true;
    case VHU_REQ_SET_VRING_ADDR:
        memcpy(&addr, m->payload, sizeof(addr));
        if (addr.index >= BE_MAX_QUEUES) {
            return false;
        }
        be->rings[addr.index].desc_ua = addr.desc_uaddr;
        be->rings[addr.index].avail_ua = addr.avail_uaddr;
        be->rings[addr.index].used_ua = addr.used_uaddr;
        return true;
    case VHU_REQ_GET_VRING_BASE: {
        BeRing *r;
        VqState s;

        if (st.index >= BE_MAX_QUEUES) {
            return false;
        }
        r = &be->rings[st.index];
        st.num = r->base;
        if (r->q && vq_dev_is_ready(r->q) && vq_dev_get_state(r->q, &s) == 0) {
            st.num = vq_state_to_vring_base(vq_dev_layout(r->q), &s);
        }
        be_ring_stop(be, st.index);
        *replied = true;
        return reply(be, m->hdr.request, &st, sizeof(st), NULL, 0);
    }
    case VHU_REQ_SET_VRING_KICK:
        if (!vring_fd(be, m, &slot, &index)) {
            return false;
        }
        return be_ring_start(be, index);
    case VHU_REQ_SET_VRING_CALL:
        if (!vring_fd(be, m, &slot, &index)) {
            return false;
        }
        if (*slot >= 0) {
            eventfd_write(*slot, 1);
        }
        return true;
    case VHU_REQ_SET_VRING_ERR:
        return vring_fd(be, m, &slot, &index);
    case VHU_REQ_SET_VRING_ENABLE:
        if (st.index >= BE_MAX_QUEUES) {
            return false;
        }
        be->rings[st.index].enabled = st.num != 0;
        be_ring_process(be, st.index);
        return true;
    case VHU_REQ_GET_CONFIG:
        memset(&cfg, 0, sizeof(cfg));
        memcpy(&cfg, m->payload, m->hdr.size < sizeof(cfg) ? m->hdr.size : sizeof(cfg));
        if (m->hdr.size < VHU_CONFIG_HDR_SIZE || cfg.size > VHU_CONFIG_MAX ||
            m->hdr.size != VHU_CONFIG_HDR_SIZE + cfg.size || cfg.offset > VHU_CONFIG_MAX) {
            return false;
        }
        {
            uint8_t full[VHU_CONFIG_MAX];

            be_fill_config(be, full, sizeof(full));
            memset(cfg.region, 0, sizeof(cfg.region));
            memcpy(cfg.region, full + cfg.offset,
                   cfg.size < VHU_CONFIG_MAX - cfg.offset ? cfg.size
                                                          : VHU_CONFIG_MAX - cfg.offset);
        }
        *replied = true;
        return reply(be, m->hdr.request, &cfg, m->hdr.size, NULL, 0);
    case VHU_REQ_SET_CONFIG:
        return true;
    case VHU_REQ_GET_INFLIGHT_FD:
        *replied = true;
        return get_inflight_fd(be, m);
    case VHU_REQ_SET_INFLIGHT_FD:
        return set_inflight_fd(be, m);
    case VHU_REQ_SET_STATUS:
        be->status = (uint8_t)v;
        return true;
    case VHU_REQ_GET_STATUS:
        *replied = true;
        return reply_u64(be, m->hdr.request, be->status);
    default:
        fprintf(stderr, "vhu-test-backend: unhandled request %u\n", m->hdr.request);
        return false;
    }
}

bool be_handle_message(Backend *be)
{
    Msg m;
    bool replied, ok;
    int rc;

    memset(&m, 0, sizeof(m));
    rc = fdpass_recv_full(be->sock, &m.hdr, sizeof(m.hdr), m.fds, VHU_MAX_FDS, &m.nfds);
    if (rc < 0) {
        return false;
    }
    if (m.hdr.size > sizeof(m.payload) ||
        (m.hdr.flags & VHU_FLAG_VERSION_MASK) != VHU_FLAG_VERSION) {
        fprintf(stderr, "vhu-test-backend: bad message header\n");
        close_fds(&m);
        return false;
    }
    if (m.hdr.size) {
        size_t more = 0;

        rc = fdpass_recv_full(be->sock, m.payload, m.hdr.size, m.fds + m.nfds,
                              VHU_MAX_FDS - m.nfds, &more);
        if (rc < 0) {
            close_fds(&m);
            return false;
        }
        m.nfds += more;
    }
    if (m.hdr.request < 64) {
        be->request_seen[m.hdr.request]++;
    }
    if (fault_now(be, m.hdr.request) && be->opt.fault == BE_FAULT_STALL) {
        stall_until_hangup(be);
    }
    ok = execute(be, &m, &replied);
    close_fds(&m);
    if (ok && !replied && (m.hdr.flags & VHU_FLAG_NEED_REPLY)) {
        ok = reply_u64(be, m.hdr.request, 0);
    } else if (!ok && !replied && (m.hdr.flags & VHU_FLAG_NEED_REPLY)) {
        reply_u64(be, m.hdr.request, 1);
        ok = true;
    }
    return ok;
}

void be_reset_connection(Backend *be)
{
    for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
        BeRing *r = &be->rings[i];

        be_ring_stop(be, i);
        if (r->err_fd >= 0) {
            close(r->err_fd);
        }
        r->err_fd = -1;
        r->enabled = false;
        if (r->q) {
            vq_dev_free(r->q);
            r->q = NULL;
        }
        free(r->resubmit);
        r->resubmit = NULL;
        r->nresubmit = r->resubmit_pos = 0;
    }
    be->features = 0;
    be->protocol = 0;
    memset(be->request_seen, 0, sizeof(be->request_seen));
}
