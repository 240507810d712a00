/* SPDX-License-Identifier: MIT */
/*
 * vhost-user front-end: feature negotiation, memory table, inflight region,
 * rings, configuration space, and the state restore after a (re)connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu-private.h"

#define PROTOCOL_BIT (UINT64_C(1) << VHU_F_PROTOCOL_FEATURES)

/* Whether SET_VRING_ENABLE is understood: protocol features negotiated. */
static bool has_protocol(const VhuDev *dev)
{
    return (dev->backend_features & PROTOCOL_BIT) != 0;
}

static bool ring_is_packed(const VhuDev *dev)
{
    return (dev->acked_features & VQ_FEATURE(VQ_F_RING_PACKED)) != 0;
}

static bool check_index(const VhuDev *dev, unsigned index, GError **errp)
{
    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "NULL device");
        return false;
    }
    if (index >= dev->num_queues) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "ring %u out of range (device has %u)",
                      index, dev->num_queues);
        return false;
    }
    return true;
}

static int dup_fd(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* ------------------------------------------------------------------------ */
/* Memory table                                                              */

static unsigned table_regions(const VhuDev *dev, VhuMemRegion *out)
{
    unsigned n = 0;

    for (unsigned i = 0; i < dev->n_guest; i++) {
        out[n++] = dev->guest[i];
    }
    for (unsigned i = 0; i < dev->n_extra; i++) {
        out[n++] = dev->extra[i];
    }
    return n;
}

static bool send_mem_table(VhuDev *dev, GError **errp)
{
    VhuMemRegion regions[2 * VHU_MAX_MEM_REGIONS];
    VhuMemTableMsg msg;
    int fds[VHU_MAX_MEM_REGIONS];
    unsigned n = table_regions(dev, regions);

    memset(&msg, 0, sizeof(msg));
    msg.nregions = n;
    for (unsigned i = 0; i < n; i++) {
        msg.regions[i].gpa = regions[i].gpa;
        msg.regions[i].size = regions[i].size;
        msg.regions[i].uaddr = (uint64_t)(uintptr_t)regions[i].host;
        msg.regions[i].mmap_offset = regions[i].fd_offset;
        fds[i] = regions[i].fd;
    }
    if (!vhu_request_ack(dev, VHU_REQ_SET_MEM_TABLE, &msg, VHU_MEM_TABLE_SIZE(n), fds, n,
                         errp)) {
        return false;
    }
    dev->mem_sent = true;
    return true;
}

/* Whether the host range [@uaddr, @uaddr + @len) lies in one region. */
static bool host_range_in(const VhuMemRegion *regions, unsigned n, uint64_t uaddr,
                          uint64_t len)
{
    for (unsigned i = 0; i < n; i++) {
        uint64_t start = (uint64_t)(uintptr_t)regions[i].host;

        if (uaddr >= start && uaddr - start <= regions[i].size &&
            len <= regions[i].size - (uaddr - start)) {
            return true;
        }
    }
    return false;
}

static void ring_area_sizes(bool packed, uint32_t num, uint64_t sizes[3])
{
    sizes[0] = packed ? vq_packed_desc_bytes(num) : vq_split_desc_bytes(num);
    sizes[1] = packed ? VQ_PACKED_EVENT_BYTES : vq_split_avail_bytes(num);
    sizes[2] = packed ? VQ_PACKED_EVENT_BYTES : vq_split_used_bytes(num);
}

static bool ring_in_table(const VhuDev *dev, const VhuMemRegion *regions, unsigned n,
                          const VhuVringConfig *cfg)
{
    uint64_t sizes[3];

    ring_area_sizes(ring_is_packed(dev), cfg->num, sizes);
    return host_range_in(regions, n, cfg->desc_uaddr, sizes[0]) &&
           host_range_in(regions, n, cfg->avail_uaddr, sizes[1]) &&
           host_range_in(regions, n, cfg->used_uaddr, sizes[2]);
}

/* Checks that the started rings still lie in a table made of @regions. */
static bool rings_still_mapped(const VhuDev *dev, const VhuMemRegion *regions, unsigned n,
                               GError **errp)
{
    for (unsigned i = 0; i < dev->num_queues; i++) {
        if (dev->rings[i].started && !ring_in_table(dev, regions, n, &dev->rings[i].cfg)) {
            vhu_set_error(dev, errp, VHU_ERROR_STATE,
                          "started ring %u would no longer be in the memory table", i);
            return false;
        }
    }
    return true;
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* Checks @r against @others (gpa and host ranges must not overlap). */
static bool region_conflicts(const VhuMemRegion *r, const VhuMemRegion *others, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (ranges_overlap(r->gpa, r->size, others[i].gpa, others[i].size) ||
            ranges_overlap((uint64_t)(uintptr_t)r->host, r->size,
                           (uint64_t)(uintptr_t)others[i].host, others[i].size)) {
            return true;
        }
    }
    return false;
}

static void close_regions(VhuMemRegion *regions, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (regions[i].fd >= 0) {
            close(regions[i].fd);
        }
    }
}

bool vhu_set_mem_table(VhuDev *dev, VMemMap *map, GError **errp)
{
    VhuMemRegion guest[VHU_MAX_MEM_REGIONS], all[2 * VHU_MAX_MEM_REGIONS];
    unsigned n, nall;
    GError *err = NULL;

    if (!dev || !map) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "vhu_set_mem_table: NULL argument");
        return false;
    }
    n = vmem_map_num_regions(map);
    if (n + dev->n_extra > VHU_MAX_MEM_REGIONS) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                      "%u guest and %u extra regions exceed the %u of a memory table", n,
                      dev->n_extra, VHU_MAX_MEM_REGIONS);
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        VMemRegionInfo info;

        if (vmem_map_region_info(map, i, &info) < 0 || info.fd < 0) {
            vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                          "guest region %u is not backed by a file descriptor", i);
            return false;
        }
        guest[i] = (VhuMemRegion){ .gpa = info.gpa, .size = info.size, .host = info.host,
                                   .fd = info.fd, .fd_offset = info.fd_offset };
        if (region_conflicts(&guest[i], dev->extra, dev->n_extra)) {
            vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                          "guest region at %#" PRIx64 " overlaps an extra region",
                          info.gpa);
            return false;
        }
    }
    memcpy(all, guest, n * sizeof(guest[0]));
    memcpy(all + n, dev->extra, dev->n_extra * sizeof(all[0]));
    nall = n + dev->n_extra;
    if (!rings_still_mapped(dev, all, nall, errp)) {
        return false;
    }
    for (unsigned i = 0; i < n; i++) {
        guest[i].fd = dup_fd(guest[i].fd);
        if (guest[i].fd < 0) {
            vhu_set_error(dev, errp, VHU_ERROR_FAILED, "dup: %s", g_strerror(errno));
            close_regions(guest, i);
            return false;
        }
    }
    close_regions(dev->guest, dev->n_guest);
    memcpy(dev->guest, guest, n * sizeof(guest[0]));
    dev->n_guest = n;
    dev->mem_set = true;
    if (dev->up && !send_mem_table(dev, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_add_mem_region(VhuDev *dev, const VhuMemRegion *region, GError **errp)
{
    VhuMemRegion r;
    GError *err = NULL;

    if (!dev || !region) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "vhu_add_mem_region: NULL argument");
        return false;
    }
    r = *region;
    if (r.size == 0 || r.fd < 0 || !r.host || r.gpa + r.size - 1 < r.gpa ||
        (uint64_t)(uintptr_t)r.host + r.size - 1 < (uint64_t)(uintptr_t)r.host ||
        r.fd_offset + r.size - 1 < r.fd_offset) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                      "region at %#" PRIx64 ": empty, wrapping, or without fd or host address",
                      r.gpa);
        return false;
    }
    if (dev->n_guest + dev->n_extra >= VHU_MAX_MEM_REGIONS) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "memory table full (%u regions)",
                      VHU_MAX_MEM_REGIONS);
        return false;
    }
    if (region_conflicts(&r, dev->guest, dev->n_guest) ||
        region_conflicts(&r, dev->extra, dev->n_extra)) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                      "region at %#" PRIx64 " overlaps another region", r.gpa);
        return false;
    }
    r.fd = dup_fd(region->fd);
    if (r.fd < 0) {
        vhu_set_error(dev, errp, VHU_ERROR_FAILED, "dup: %s", g_strerror(errno));
        return false;
    }
    dev->extra[dev->n_extra++] = r;
    if (dev->up && dev->mem_sent && !send_mem_table(dev, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_remove_mem_region(VhuDev *dev, uint64_t gpa, GError **errp)
{
    VhuMemRegion all[2 * VHU_MAX_MEM_REGIONS];
    GError *err = NULL;
    unsigned i, n = 0;

    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "NULL device");
        return false;
    }
    for (i = 0; i < dev->n_extra && dev->extra[i].gpa != gpa; i++) {
    }
    if (i == dev->n_extra) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "no extra region at %#" PRIx64, gpa);
        return false;
    }
    for (unsigned j = 0; j < dev->n_guest; j++) {
        all[n++] = dev->guest[j];
    }
    for (unsigned j = 0; j < dev->n_extra; j++) {
        if (j != i) {
            all[n++] = dev->extra[j];
        }
    }
    if (!rings_still_mapped(dev, all, n, errp)) {
        return false;
    }
    close(dev->extra[i].fd);
    memmove(&dev->extra[i], &dev->extra[i + 1], (dev->n_extra - i - 1) * sizeof(dev->extra[0]));
    dev->n_extra--;
    if (dev->up && dev->mem_sent && !send_mem_table(dev, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Features                                                                  */

static bool send_features(VhuDev *dev, GError **errp)
{
    uint64_t f = dev->acked_features | (dev->backend_features & PROTOCOL_BIT);

    if (!vhu_send_u64(dev, VHU_REQ_SET_FEATURES, f, errp)) {
        return false;
    }
    dev->features_sent = true;
    return true;
}

static bool any_ring_started(const VhuDev *dev)
{
    for (unsigned i = 0; i < dev->num_queues; i++) {
        if (dev->rings[i].started) {
            return true;
        }
    }
    return false;
}

bool vhu_set_features(VhuDev *dev, uint64_t features, GError **errp)
{
    GError *err = NULL;
    uint64_t missing;

    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "NULL device");
        return false;
    }
    if (!dev->ever_connected) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE,
                      "features set before any back-end offered its features");
        return false;
    }
    if (any_ring_started(dev)) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE, "features changed while a ring runs");
        return false;
    }
    features &= ~PROTOCOL_BIT;
    missing = features & ~dev->backend_features;
    if (missing) {
        vhu_set_error(dev, errp, VHU_ERROR_FEATURE,
                      "back-end does not offer features %#" PRIx64 " (offers %#" PRIx64 ")",
                      missing, dev->backend_features);
        return false;
    }
    dev->acked_features = features;
    dev->features_set = true;
    if (dev->up && !send_features(dev, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

uint64_t vhu_get_acked_features(const VhuDev *dev)
{
    return dev && dev->features_set ? dev->acked_features : 0;
}

uint64_t vhu_get_backend_features(const VhuDev *dev)
{
    return dev ? dev->backend_features : 0;
}

uint64_t vhu_get_protocol_features(const VhuDev *dev)
{
    return dev ? dev->protocol_features : 0;
}

unsigned vhu_get_backend_queue_num(const VhuDev *dev)
{
    return dev ? dev->backend_queue_num : 0;
}

/* ------------------------------------------------------------------------ */
/* Inflight region                                                           */

static bool send_inflight(VhuDev *dev, GError **errp)
{
    VhuInflightMsg msg = {
        .mmap_size = dev->inflight_size,
        .mmap_offset = dev->inflight_offset,
        .num_queues = dev->inflight_queues,
        .queue_size = dev->inflight_qsize,
    };

    if (!vhu_request_ack(dev, VHU_REQ_SET_INFLIGHT_FD, &msg, sizeof(msg), &dev->inflight_fd, 1,
                         errp)) {
        return false;
    }
    dev->inflight_sent = true;
    return true;
}

/* GET_INFLIGHT_FD: the back-end allocates the region, we keep it. */
static bool get_inflight(VhuDev *dev, GError **errp)
{
    VhuInflightMsg msg = {
        .num_queues = (uint16_t)dev->num_queues,
        .queue_size = (uint16_t)MIN(dev->queue_size, UINT16_MAX),
    };
    VhuReply reply;
    struct stat st;

    if (!vhu_send(dev, VHU_REQ_GET_INFLIGHT_FD, false, &msg, sizeof(msg), NULL, 0, errp) ||
        !vhu_recv_reply(dev, VHU_REQ_GET_INFLIGHT_FD, &reply, errp)) {
        return false;
    }
    memcpy(&msg, reply.payload, sizeof(msg));
    if (msg.mmap_size == 0) {
        /* QEMU's answer as well: the back-end cannot track this device. */
        if (reply.nfds) {
            vhu_reply_close_fds(&reply);
            vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                          "GET_INFLIGHT_FD: an fd with an empty region");
            return false;
        }
        return true;
    }
    if (reply.nfds != 1) {
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "GET_INFLIGHT_FD: region of %" PRIu64 " bytes without an fd",
                      msg.mmap_size);
        return false;
    }
    if (msg.mmap_size > VHU_INFLIGHT_MAX_BYTES || msg.mmap_offset > INT64_MAX - msg.mmap_size ||
        fstat(reply.fds[0], &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size < msg.mmap_offset + msg.mmap_size) {
        vhu_reply_close_fds(&reply);
        vhu_set_error(dev, errp, VHU_ERROR_PROTOCOL,
                      "GET_INFLIGHT_FD: bad region (size %" PRIu64 ", offset %" PRIu64
                      ", not a file that large)",
                      msg.mmap_size, msg.mmap_offset);
        return false;
    }
    dev->inflight_fd = reply.fds[0];
    dev->inflight_size = msg.mmap_size;
    dev->inflight_offset = msg.mmap_offset;
    dev->inflight_queues = (uint16_t)dev->num_queues;
    dev->inflight_qsize = (uint16_t)MIN(dev->queue_size, UINT16_MAX);
    return true;
}

/* Before a ring starts on this connection: the inflight region. */
static bool prepare_inflight(VhuDev *dev, GError **errp)
{
    if (!vhu_has_proto(dev, VHU_PROTOCOL_F_INFLIGHT_SHMFD)) {
        return true;
    }
    if (dev->inflight_fd < 0 && !get_inflight(dev, errp)) {
        return false;
    }
    if (dev->inflight_fd >= 0 && !dev->inflight_sent) {
        return send_inflight(dev, errp);
    }
    return true;
}

static void drop_inflight(VhuDev *dev)
{
    if (dev->inflight_fd >= 0) {
        close(dev->inflight_fd);
    }
    dev->inflight_fd = -1;
    dev->inflight_size = 0;
    dev->inflight_offset = 0;
    dev->inflight_sent = false;
}

/* ------------------------------------------------------------------------ */
/* Rings                                                                     */

static bool send_vring_state(VhuDev *dev, uint32_t request, unsigned index, uint32_t num,
                             GError **errp)
{
    VhuVringStateMsg st = { .index = index, .num = num };

    return vhu_request_ack(dev, request, &st, sizeof(st), NULL, 0, errp);
}

static bool send_vring_fd(VhuDev *dev, uint32_t request, unsigned index, int fd,
                          GError **errp)
{
    uint64_t v = index | (fd < 0 ? VHU_VRING_NOFD_MASK : 0);

    return vhu_request_ack(dev, request, &v, sizeof(v), fd < 0 ? NULL : &fd, fd < 0 ? 0 : 1,
                           errp);
}

/* The whole start sequence of one ring, with @base. The call fd goes first
 * (DPDK's order), the kick fd last but for err/enable: a back-end starts
 * the ring on the kick. */
static bool send_ring(VhuDev *dev, unsigned index, uint32_t base, GError **errp)
{
    VhuRing *r = &dev->rings[index];
    VhuVringAddrMsg addr = {
        .index = index,
        .desc_uaddr = r->cfg.desc_uaddr,
        .used_uaddr = r->cfg.used_uaddr,
        .avail_uaddr = r->cfg.avail_uaddr,
    };

    if (!send_vring_fd(dev, VHU_REQ_SET_VRING_CALL, index, r->call_fd, errp) ||
        !send_vring_state(dev, VHU_REQ_SET_VRING_NUM, index, r->cfg.num, errp) ||
        !send_vring_state(dev, VHU_REQ_SET_VRING_BASE, index, base, errp) ||
        !vhu_request_ack(dev, VHU_REQ_SET_VRING_ADDR, &addr, sizeof(addr), NULL, 0, errp) ||
        !send_vring_fd(dev, VHU_REQ_SET_VRING_KICK, index, r->kick_fd, errp)) {
        return false;
    }
    if (r->err_fd >= 0 && !send_vring_fd(dev, VHU_REQ_SET_VRING_ERR, index, r->err_fd, errp)) {
        return false;
    }
    if (has_protocol(dev) &&
        !send_vring_state(dev, VHU_REQ_SET_VRING_ENABLE, index, r->enabled ? 1 : 0, errp)) {
        return false;
    }
    return true;
}

static uint16_t read_used_idx(const VhuRing *r)
{
    const uint16_t *p = (const uint16_t *)(uintptr_t)(r->cfg.used_uaddr + VQ_SPLIT_USED_IDX);
    uint16_t raw = __atomic_load_n(p, __ATOMIC_ACQUIRE);

    return vmem_le16_to_cpu(&raw);
}

/* The base a ring resumes from when the back-end cannot tell us. */
static bool fallback_base(VhuDev *dev, unsigned index, uint32_t *ret, GError **errp)
{
    if (vhu_listeners_restore_base(dev, index, ret)) {
        return true;
    }
    if (ring_is_packed(dev)) {
        vhu_set_error(dev, errp, VHU_ERROR_UNSUPPORTED,
                      "packed ring %u: no state to resume from (no restore_vring_base)",
                      index);
        return false;
    }
    *ret = read_used_idx(&dev->rings[index]);
    return true;
}

bool vhu_vring_config_from_guest(VMemMap *map, const VqConfig *cfg, uint32_t base,
                                 VhuVringConfig *ret, GError **errp)
{
    bool packed;
    uint64_t sizes[3];
    void *desc, *drv, *devarea;

    if (!map || !cfg || !ret) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID,
                      "vhu_vring_config_from_guest: NULL argument");
        return false;
    }
    if (vq_config_check(map, cfg) < 0) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID,
                      "ring of %u entries at %#" PRIx64 ": bad size, alignment or address",
                      cfg->size, cfg->desc_addr);
        return false;
    }
    packed = vq_config_layout(cfg) == VQ_LAYOUT_PACKED;
    ring_area_sizes(packed, cfg->size, sizes);
    if (vmem_translate(map, cfg->desc_addr, sizes[0], &desc) < 0 ||
        vmem_translate(map, cfg->driver_addr, sizes[1], &drv) < 0 ||
        vmem_translate(map, cfg->device_addr, sizes[2], &devarea) < 0) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "ring areas outside guest memory");
        return false;
    }
    ret->num = cfg->size;
    ret->desc_uaddr = (uint64_t)(uintptr_t)desc;
    ret->avail_uaddr = (uint64_t)(uintptr_t)drv;
    ret->used_uaddr = (uint64_t)(uintptr_t)devarea;
    ret->base = base;
    return true;
}

static bool set_ring_fd(VhuDev *dev, int *slot, int fd, GError **errp)
{
    int copy = -1;

    if (fd >= 0) {
        if (fcntl(fd, F_GETFD) < 0) {
            vhu_set_error(dev, errp, VHU_ERROR_INVALID, "fd %d is not open", fd);
            return false;
        }
        copy = dup_fd(fd);
        if (copy < 0) {
            vhu_set_error(dev, errp, VHU_ERROR_FAILED, "dup: %s", g_strerror(errno));
            return false;
        }
    }
    if (*slot >= 0) {
        close(*slot);
    }
    *slot = copy;
    return true;
}

bool vhu_vring_set_kick(VhuDev *dev, unsigned index, int fd, GError **errp)
{
    if (!check_index(dev, index, errp)) {
        return false;
    }
    if (dev->rings[index].started) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE,
                      "ring %u: kick fd changed while started (stop the ring first)", index);
        return false;
    }
    return set_ring_fd(dev, &dev->rings[index].kick_fd, fd, errp);
}

static bool set_notifier(VhuDev *dev, unsigned index, int fd, uint32_t request, GError **errp)
{
    VhuRing *r;
    GError *err = NULL;
    int *slot;

    if (!check_index(dev, index, errp)) {
        return false;
    }
    r = &dev->rings[index];
    slot = request == VHU_REQ_SET_VRING_CALL ? &r->call_fd : &r->err_fd;
    if (!set_ring_fd(dev, slot, fd, errp)) {
        return false;
    }
    if (r->started && dev->up && !send_vring_fd(dev, request, index, *slot, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_vring_set_call(VhuDev *dev, unsigned index, int fd, GError **errp)
{
    return set_notifier(dev, index, fd, VHU_REQ_SET_VRING_CALL, errp);
}

bool vhu_vring_set_err(VhuDev *dev, unsigned index, int fd, GError **errp)
{
    return set_notifier(dev, index, fd, VHU_REQ_SET_VRING_ERR, errp);
}

bool vhu_vring_start(VhuDev *dev, unsigned index, const VhuVringConfig *cfg, GError **errp)
{
    VhuMemRegion regions[2 * VHU_MAX_MEM_REGIONS];
    VhuRing *r;
    GError *err = NULL;
    unsigned n;

    if (!check_index(dev, index, errp)) {
        return false;
    }
    r = &dev->rings[index];
    if (!cfg) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "ring %u: NULL config", index);
        return false;
    }
    if (r->started) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE, "ring %u already started", index);
        return false;
    }
    if (!dev->features_set || !dev->mem_set) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE,
                      "ring %u started before the features and the memory table", index);
        return false;
    }
    if (cfg->num < 1 || cfg->num > dev->queue_size ||
        (!ring_is_packed(dev) && (cfg->num & (cfg->num - 1)))) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "ring %u: bad size %u (at most %u%s)",
                      index, cfg->num, dev->queue_size,
                      ring_is_packed(dev) ? "" : ", a power of two");
        return false;
    }
    if (!ring_is_packed(dev) && cfg->base > UINT16_MAX) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "ring %u: split base %u above 65535",
                      index, cfg->base);
        return false;
    }
    n = table_regions(dev, regions);
    if (!ring_in_table(dev, regions, n, cfg)) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID,
                      "ring %u: an area is outside the memory table", index);
        return false;
    }
    r->cfg = *cfg;
    r->started = true;
    if (!dev->up) {
        return true;
    }
    if (!prepare_inflight(dev, &err) || !send_ring(dev, index, cfg->base, &err)) {
        if (!vhu_error_is_fatal(err)) {
            r->started = false;
        }
        return vhu_fail(dev, errp, err);
    }
    return true;
}

/* Checks a GET_VRING_BASE value against the ring. */
static bool base_is_sane(const VhuDev *dev, const VhuRing *r, uint32_t base)
{
    if (ring_is_packed(dev)) {
        VqState st;

        return vq_state_from_vring_base(VQ_LAYOUT_PACKED, base, &st) == 0 &&
               st.next_avail < r->cfg.num && st.next_used < r->cfg.num;
    }
    return base <= UINT16_MAX && (uint16_t)(base - read_used_idx(r)) <= r->cfg.num;
}

bool vhu_vring_stop(VhuDev *dev, unsigned index, uint32_t *ret_base, GError **errp)
{
    VhuVringStateMsg st = { .index = index };
    VhuRing *r;
    GError *err = NULL;
    VhuReply reply;
    uint32_t base;

    if (!check_index(dev, index, errp)) {
        return false;
    }
    r = &dev->rings[index];
    if (!r->started) {
        vhu_set_error(dev, errp, VHU_ERROR_STATE, "ring %u is not started", index);
        return false;
    }
    if (dev->up) {
        if (vhu_send(dev, VHU_REQ_GET_VRING_BASE, false, &st, sizeof(st), NULL, 0, &err) &&
            vhu_recv_reply(dev, VHU_REQ_GET_VRING_BASE, &reply, &err)) {
            memcpy(&st, reply.payload, sizeof(st));
            if (st.index != index) {
                vhu_set_error(dev, &err, VHU_ERROR_PROTOCOL,
                              "GET_VRING_BASE: reply for ring %u, expected %u", st.index,
                              index);
            } else if (!base_is_sane(dev, r, st.num)) {
                vhu_set_error(dev, &err, VHU_ERROR_PROTOCOL,
                              "GET_VRING_BASE: ring %u base %#x is inconsistent with the ring"
                              " (size %u)",
                              index, st.num, r->cfg.num);
            }
        }
        if (!err) {
            r->started = false;
            if (ret_base) {
                *ret_base = st.num;
            }
            return true;
        }
        /* The link is down now (or the reply was unusable and the link
         * dropped): fall through to what a restore would use. */
        vhu_fail(dev, NULL, err);
    }
    if (!fallback_base(dev, index, &base, errp)) {
        r->started = false;
        return false;
    }
    r->started = false;
    if (ret_base) {
        *ret_base = base;
    }
    return true;
}

bool vhu_vring_enable(VhuDev *dev, unsigned index, bool enable, GError **errp)
{
    VhuRing *r;
    GError *err = NULL;

    if (!check_index(dev, index, errp)) {
        return false;
    }
    r = &dev->rings[index];
    r->enabled = enable;
    if (r->started && dev->up && has_protocol(dev) &&
        !send_vring_state(dev, VHU_REQ_SET_VRING_ENABLE, index, enable ? 1 : 0, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_vring_is_started(const VhuDev *dev, unsigned index)
{
    return dev && index < dev->num_queues && dev->rings[index].started;
}

/* ------------------------------------------------------------------------ */
/* Configuration space, status, reset                                        */

static bool check_connected(VhuDev *dev, GError **errp)
{
    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "NULL device");
        return false;
    }
    if (!dev->up) {
        vhu_set_error(dev, errp, VHU_ERROR_DISCONNECTED, "no back-end connected");
        return false;
    }
    return true;
}

/* Checks a config access and starts its message (@msg zeroed, offset
 * and size set). */
static bool config_msg_init(VhuDev *dev, VhuConfigMsg *msg, uint32_t offset, const void *buf,
                            uint32_t len, GError **errp)
{
    if (!check_connected(dev, errp)) {
        return false;
    }
    if (!buf || len == 0 || offset > VHU_CONFIG_MAX || len > VHU_CONFIG_MAX - offset) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "config access %u+%u out of 0..%u",
                      offset, len, VHU_CONFIG_MAX);
        return false;
    }
    if (!vhu_has_proto(dev, VHU_PROTOCOL_F_CONFIG)) {
        vhu_set_error(dev, errp, VHU_ERROR_UNSUPPORTED,
                      "the back-end does not offer its configuration space (no CONFIG)");
        return false;
    }
    memset(msg, 0, sizeof(*msg));
    msg->offset = offset;
    msg->size = len;
    return true;
}

bool vhu_get_config(VhuDev *dev, uint32_t offset, void *buf, uint32_t len, GError **errp)
{
    VhuConfigMsg msg;
    VhuReply reply;
    GError *err = NULL;

    if (!config_msg_init(dev, &msg, offset, buf, len, errp)) {
        return false;
    }
    if (!vhu_send(dev, VHU_REQ_GET_CONFIG, false, &msg, VHU_CONFIG_HDR_SIZE + len, NULL, 0,
                  &err) ||
        !vhu_recv_reply(dev, VHU_REQ_GET_CONFIG, &reply, &err)) {
        return vhu_fail(dev, errp, err);
    }
    if (reply.hdr.size == 0) {
        vhu_set_error(dev, errp, VHU_ERROR_BACKEND, "GET_CONFIG: back-end reports failure");
        return false;
    }
    memcpy(&msg, reply.payload, MIN(reply.hdr.size, sizeof(msg)));
    if (reply.hdr.size != VHU_CONFIG_HDR_SIZE + len || msg.offset != offset || msg.size != len) {
        vhu_set_error(dev, &err, VHU_ERROR_PROTOCOL,
                      "GET_CONFIG: reply of %u bytes for %u+%u, expected %u bytes for %u+%u",
                      reply.hdr.size, msg.offset, msg.size, VHU_CONFIG_HDR_SIZE + len, offset,
                      len);
        return vhu_fail(dev, errp, err);
    }
    memcpy(buf, msg.region, len);
    return true;
}

bool vhu_set_config(VhuDev *dev, uint32_t offset, const void *buf, uint32_t len,
                    uint32_t flags, GError **errp)
{
    VhuConfigMsg msg;
    GError *err = NULL;

    if (!config_msg_init(dev, &msg, offset, buf, len, errp)) {
        return false;
    }
    msg.flags = flags;
    memcpy(msg.region, buf, len);
    if (!vhu_request_ack(dev, VHU_REQ_SET_CONFIG, &msg, VHU_CONFIG_HDR_SIZE + len, NULL, 0,
                         &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_set_status(VhuDev *dev, uint8_t status, GError **errp)
{
    GError *err = NULL;

    if (!check_connected(dev, errp)) {
        return false;
    }
    if (!vhu_has_proto(dev, VHU_PROTOCOL_F_STATUS)) {
        return true;
    }
    if (!vhu_send_u64(dev, VHU_REQ_SET_STATUS, status, &err)) {
        return vhu_fail(dev, errp, err);
    }
    return true;
}

bool vhu_get_status(VhuDev *dev, uint8_t *ret_status, GError **errp)
{
    GError *err = NULL;
    uint64_t v;

    if (!check_connected(dev, errp)) {
        return false;
    }
    if (!ret_status) {
        vhu_set_error(dev, errp, VHU_ERROR_INVALID, "vhu_get_status: NULL argument");
        return false;
    }
    if (!vhu_has_proto(dev, VHU_PROTOCOL_F_STATUS)) {
        vhu_set_error(dev, errp, VHU_ERROR_UNSUPPORTED, "STATUS not negotiated");
        return false;
    }
    if (!vhu_request_u64(dev, VHU_REQ_GET_STATUS, &v, &err)) {
        return vhu_fail(dev, errp, err);
    }
    if (v > UINT8_MAX) {
        vhu_set_error(dev, &err, VHU_ERROR_PROTOCOL, "GET_STATUS: %#" PRIx64 " is not a byte",
                      v);
        return vhu_fail(dev, errp, err);
    }
    *ret_status = (uint8_t)v;
    return true;
}

bool vhu_reset(VhuDev *dev, GError **errp)
{
    GError *err = NULL;

    if (!dev) {
        vhu_set_error(NULL, errp, VHU_ERROR_INVALID, "NULL device");
        return false;
    }
    for (unsigned i = 0; i < dev->num_queues; i++) {
        GError *e = NULL;

        if (dev->rings[i].started && !vhu_vring_stop(dev, i, NULL, &e)) {
            /* Only UNSUPPORTED (packed, disconnected): the ring is stopped. */
            if (!err) {
                err = e;
            } else {
                g_error_free(e);
            }
        }
    }
    drop_inflight(dev);
    if (dev->up && vhu_has_proto(dev, VHU_PROTOCOL_F_RESET_DEVICE)) {
        GError *e = NULL;

        if (!vhu_request_ack(dev, VHU_REQ_RESET_DEVICE, NULL, 0, NULL, 0, &e)) {
            vhu_fail(dev, NULL, g_error_copy(e));
            if (!err) {
                err = e;
            } else {
                g_error_free(e);
            }
        }
    }
    dev->features_set = false;
    dev->acked_features = 0;
    dev->features_sent = false;
    if (err) {
        g_propagate_error(errp, err);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Handshake and restore                                                     */

static char *bits_text(uint64_t bits)
{
    GString *s = g_string_new(NULL);

    for (unsigned b = 0; b < 64; b++) {
        if (bits & (UINT64_C(1) << b)) {
            g_string_append_printf(s, "%s%u", s->len ? "," : "", b);
        }
    }
    return g_string_free(s, FALSE);
}

static bool negotiate(VhuDev *dev, GError **errp)
{
    uint64_t features, offered, proto;

    if (!vhu_request_u64(dev, VHU_REQ_GET_FEATURES, &features, errp)) {
        return false;
    }
    if (dev->features_set && (dev->acked_features & ~features)) {
        char *bits = bits_text(dev->acked_features & ~features);

        vhu_set_error(dev, errp, VHU_ERROR_FEATURE,
                      "back-end refused: it lacks feature bit(s) %s accepted before", bits);
        g_free(bits);
        return false;
    }
    if (dev->protocol_fixed && dev->protocol_features && !(features & PROTOCOL_BIT)) {
        vhu_set_error(dev, errp, VHU_ERROR_FEATURE,
                      "back-end refused: it lacks protocol features (feature bit 30) "
                      "negotiated before");
        return false;
    }
    dev->backend_features = features;
    proto = 0;
    if (features & PROTOCOL_BIT) {
        if (!vhu_request_u64(dev, VHU_REQ_GET_PROTOCOL_FEATURES, &offered, errp)) {
            return false;
        }
        if (dev->protocol_fixed) {
            if (dev->protocol_features & ~offered) {
                char *bits = bits_text(dev->protocol_features & ~offered);

                vhu_set_error(dev, errp, VHU_ERROR_FEATURE,
                              "back-end refused: it lacks protocol feature bit(s) %s "
                              "negotiated before",
                              bits);
                g_free(bits);
                return false;
            }
            proto = dev->protocol_features;
        } else {
            proto = offered & dev->proto_allowed;
        }
        /* Never acknowledged: REPLY_ACK applies from the next message. */
        if (!vhu_send(dev, VHU_REQ_SET_PROTOCOL_FEATURES, false, &proto, sizeof(proto), NULL,
                      0, errp)) {
            return false;
        }
    }
    dev->protocol_features = proto;
    dev->backend_queue_num = 1;
    if (vhu_has_proto(dev, VHU_PROTOCOL_F_MQ)) {
        uint64_t n;

        if (!vhu_request_u64(dev, VHU_REQ_GET_QUEUE_NUM, &n, errp)) {
            return false;
        }
        dev->backend_queue_num = (unsigned)MIN(n, (uint64_t)UINT_MAX);
    }
    if (dev->backend_queue_num < dev->num_queues) {
        vhu_set_error(dev, errp, VHU_ERROR_FEATURE,
                      "back-end refused: it has %u queue(s), the device needs %u",
                      dev->backend_queue_num, dev->num_queues);
        return false;
    }
    return vhu_request_ack(dev, VHU_REQ_SET_OWNER, NULL, 0, NULL, 0, errp);
}

static bool restore(VhuDev *dev, GError **errp)
{
    if (dev->features_set && !send_features(dev, errp)) {
        return false;
    }
    if (dev->mem_set && !send_mem_table(dev, errp)) {
        return false;
    }
    if (!any_ring_started(dev)) {
        return true;
    }
    if (!prepare_inflight(dev, errp)) {
        return false;
    }
    for (unsigned i = 0; i < dev->num_queues; i++) {
        uint32_t base;

        if (!dev->rings[i].started) {
            continue;
        }
        if (!fallback_base(dev, i, &base, errp) || !send_ring(dev, i, base, errp)) {
            return false;
        }
    }
    return true;
}

bool vhu_dev_handshake(VhuDev *dev, GError **errp)
{
    dev->features_sent = false;
    dev->mem_sent = false;
    dev->inflight_sent = false;
    return negotiate(dev, errp) && restore(dev, errp);
}
