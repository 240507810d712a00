/* SPDX-License-Identifier: MIT */
/*
 * A mock driver for tests: writes rings through vm-memory's bounded
 * accessors (not through cached pointers), independently of driver.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio-queue/vq-mock.h"

struct VqMock {
    VMemMap *map;
    uint32_t size;
    bool packed;
    uint64_t features;
    uint64_t desc;
    uint64_t drv;
    uint64_t dev;
    uint64_t pool;
    uint32_t nslots;
    /* split */
    uint16_t avail_idx;
    uint16_t cursor;
    uint16_t last_used;
    /* packed */
    uint16_t pos;
    bool wrap;
    uint16_t next_id;
    uint16_t used_pos;
    bool used_wrap;
    uint16_t *id_ndescs;
    uint32_t npending;
    uint16_t *pend_pos;
    uint16_t *pend_flags;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint32_t pool_slots(uint32_t size)
{
    return size < 256 ? size : 256;
}

/* Offsets of the areas from the base. */
static void layout(bool packed, uint32_t size, uint64_t *drv, uint64_t *dev, uint64_t *pool,
                   uint64_t *end)
{
    uint64_t d = 16ull * size;
    *drv = d;
    if (packed) {
        *dev = d + VQ_PACKED_EVENT_BYTES;
        *pool = align_up(*dev + VQ_PACKED_EVENT_BYTES, 16);
    } else {
        *dev = align_up(d + vq_split_avail_bytes(size), 4);
        *pool = align_up(*dev + vq_split_used_bytes(size), 16);
    }
    *end = *pool + 16ull * VQ_MOCK_INDIRECT_MAX * pool_slots(size);
}

uint64_t vq_mock_footprint(bool packed, uint32_t size)
{
    uint64_t drv, dev, pool, end;
    layout(packed, size, &drv, &dev, &pool, &end);
    return end;
}

int vq_mock_new(VMemMap *map, uint64_t gpa, uint32_t size, uint64_t features,
                VqMock **ret)
{
    bool packed = features & VQ_FEATURE(VQ_F_RING_PACKED);
    if (!map || !ret || (gpa & 15) || size == 0 || size > VQ_MAX_SIZE ||
        (!packed && (size & (size - 1)))) {
        return -EINVAL;
    }
    uint64_t drv, dev, pool, end;
    layout(packed, size, &drv, &dev, &pool, &end);
    if (!vmem_translate_ptr(map, gpa, end)) {
        return -EFAULT;
    }
    VqMock *m = calloc(1, sizeof(*m));
    if (!m) {
        return -ENOMEM;
    }
    m->id_ndescs = calloc(size, sizeof(uint16_t));
    m->pend_pos = calloc(size, sizeof(uint16_t));
    m->pend_flags = calloc(size, sizeof(uint16_t));
    if (!m->id_ndescs || !m->pend_pos || !m->pend_flags) {
        vq_mock_free(m);
        return -ENOMEM;
    }
    m->map = map;
    m->size = size;
    m->packed = packed;
    m->features = features;
    m->desc = gpa;
    m->drv = gpa + drv;
    m->dev = gpa + dev;
    m->pool = gpa + pool;
    m->nslots = pool_slots(size);
    m->wrap = m->used_wrap = true;
    vmem_fill(map, gpa, 0, pool);
    *ret = m;
    return 0;
}

void vq_mock_free(VqMock *m)
{
    if (!m) {
        return;
    }
    free(m->id_ndescs);
    free(m->pend_pos);
    free(m->pend_flags);
    free(m);
}

void vq_mock_config(const VqMock *m, VqConfig *cfg)
{
    if (!m || !cfg) {
        return;
    }
    cfg->size = m->size;
    cfg->desc_addr = m->desc;
    cfg->driver_addr = m->drv;
    cfg->device_addr = m->dev;
    cfg->features = m->features;
}

uint64_t vq_mock_indirect_gpa(const VqMock *m, uint32_t slot)
{
    return m ? m->pool + 16ull * VQ_MOCK_INDIRECT_MAX * (slot % m->nslots) : 0;
}

static int put_desc(VqMock *m, uint64_t at, uint64_t addr, uint32_t len, uint16_t flags,
                    uint16_t next_or_id)
{
    uint8_t b[16];
    vmem_cpu_to_le64(b, addr);
    vmem_cpu_to_le32(b + 8, len);
    if (m->packed) {
        vmem_cpu_to_le16(b + 12, next_or_id);
        vmem_cpu_to_le16(b + 14, flags);
    } else {
        vmem_cpu_to_le16(b + 12, flags);
        vmem_cpu_to_le16(b + 14, next_or_id);
    }
    return vmem_write(m->map, at, b, sizeof(b));
}

int vq_mock_write_desc(VqMock *m, uint32_t index, uint64_t addr, uint32_t len,
                       uint16_t flags, uint16_t next_or_id)
{
    if (!m || index >= m->size) {
        return -EINVAL;
    }
    return put_desc(m, m->desc + 16ull * index, addr, len, flags, next_or_id);
}

int vq_mock_write_table_desc(VqMock *m, uint64_t table_gpa, uint32_t index, uint64_t addr,
                             uint32_t len, uint16_t flags, uint16_t next_or_id)
{
    if (!m) {
        return -EINVAL;
    }
    return put_desc(m, table_gpa + 16ull * index, addr, len, flags, next_or_id);
}

static int split_publish(VqMock *m)
{
    return vmem_store_release_le16(m->map, m->drv + VQ_SPLIT_AVAIL_IDX, m->avail_idx);
}

int vq_mock_split_push_avail(VqMock *m, uint16_t head)
{
    if (!m || m->packed) {
        return -EINVAL;
    }
    int rc = vmem_write_le16(m->map, m->drv + VQ_SPLIT_AVAIL_RING + 2u * (m->avail_idx % m->size),
                             head);
    if (rc < 0) {
        return rc;
    }
    m->avail_idx++;
    return split_publish(m);
}

int vq_mock_split_set_avail_idx(VqMock *m, uint16_t idx)
{
    if (!m || m->packed) {
        return -EINVAL;
    }
    m->avail_idx = idx;
    return split_publish(m);
}

int vq_mock_split_set_avail_flags(VqMock *m, uint16_t flags)
{
    if (!m || m->packed) {
        return -EINVAL;
    }
    return vmem_write_le16(m->map, m->drv + VQ_SPLIT_AVAIL_FLAGS, flags);
}

int vq_mock_split_set_used_event(VqMock *m, uint16_t event)
{
    if (!m || m->packed) {
        return -EINVAL;
    }
    return vmem_write_le16(m->map, m->drv + VQ_SPLIT_AVAIL_RING + 2ull * m->size, event);
}

int vq_mock_split_used_idx(VqMock *m, uint16_t *ret)
{
    if (!m || m->packed || !ret) {
        return -EINVAL;
    }
    return vmem_load_acquire_le16(m->map, m->dev + VQ_SPLIT_USED_IDX, ret);
}

int vq_mock_split_used_flags(VqMock *m, uint16_t *ret)
{
    if (!m || m->packed || !ret) {
        return -EINVAL;
    }
    return vmem_read_le16(m->map, m->dev + VQ_SPLIT_USED_FLAGS, ret);
}

int vq_mock_split_avail_event(VqMock *m, uint16_t *ret)
{
    if (!m || m->packed || !ret) {
        return -EINVAL;
    }
    return vmem_read_le16(m->map, m->dev + VQ_SPLIT_USED_RING + 8ull * m->size, ret);
}

int vq_mock_packed_set_driver_event(VqMock *m, uint16_t flags, uint16_t desc)
{
    if (!m || !m->packed) {
        return -EINVAL;
    }
    int rc = vmem_write_le16(m->map, m->drv, desc);
    return rc < 0 ? rc : vmem_write_le16(m->map, m->drv + 2, flags);
}

int vq_mock_packed_device_event(VqMock *m, uint16_t *ret_flags, uint16_t *ret_desc)
{
    if (!m || !m->packed || !ret_flags || !ret_desc) {
        return -EINVAL;
    }
    int rc = vmem_read_le16(m->map, m->dev, ret_desc);
    return rc < 0 ? rc : vmem_read_le16(m->map, m->dev + 2, ret_flags);
}

void vq_mock_packed_position(const VqMock *m, uint16_t *ret_index, bool *ret_wrap)
{
    if (m && ret_index) {
        *ret_index = m->pos;
    }
    if (m && ret_wrap) {
        *ret_wrap = m->wrap;
    }
}

/* Writes the buffers as a table at @table (indirect). */
static int put_table(VqMock *m, uint64_t table, const VqBuf *bufs, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE);
        uint16_t next = 0;
        if (!m->packed && i + 1 < n) {
            f |= VQ_DESC_F_NEXT;
            next = (uint16_t)(i + 1);
        }
        int rc = put_desc(m, table + 16ull * i, bufs[i].gpa, bufs[i].len, f, next);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

static int split_add(VqMock *m, const VqBuf *bufs, unsigned n, unsigned flags, uint16_t *ret)
{
    uint16_t head = m->cursor;
    int rc;
    if (flags & VQ_MOCK_INDIRECT) {
        uint64_t t = vq_mock_indirect_gpa(m, head);
        rc = put_table(m, t, bufs, n);
        if (rc == 0) {
            rc = vq_mock_write_desc(m, head, t, 16u * n, VQ_DESC_F_INDIRECT, 0);
        }
        m->cursor = (uint16_t)((head + 1) % m->size);
    } else {
        uint32_t idx = head;
        rc = 0;
        for (unsigned i = 0; i < n && rc == 0; i++) {
            uint32_t nxt = (idx + 1) % m->size;
            uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE);
            if (i + 1 < n) {
                f |= VQ_DESC_F_NEXT;
            }
            rc = vq_mock_write_desc(m, idx, bufs[i].gpa, bufs[i].len, f,
                                    i + 1 < n ? (uint16_t)nxt : 0);
            idx = nxt;
        }
        m->cursor = (uint16_t)idx;
    }
    if (rc < 0) {
        return rc;
    }
    rc = vmem_write_le16(m->map, m->drv + VQ_SPLIT_AVAIL_RING + 2u * (m->avail_idx % m->size),
                         head);
    if (rc < 0) {
        return rc;
    }
    m->avail_idx++;
    if (!(flags & VQ_MOCK_NO_PUBLISH)) {
        rc = split_publish(m);
    }
    if (ret) {
        *ret = head;
    }
    return rc;
}

static uint16_t avail_bits(bool wrap)
{
    return wrap ? VQ_DESC_F_AVAIL : VQ_DESC_F_USED;
}

static int packed_add(VqMock *m, const VqBuf *bufs, unsigned n, unsigned flags, uint16_t *ret)
{
    uint16_t id = m->next_id;
    m->next_id = (uint16_t)((id + 1) % m->size);
    uint16_t head_pos = m->pos;
    uint16_t head_flags = 0;
    unsigned ndescs = (flags & VQ_MOCK_INDIRECT) ? 1 : n;
    int rc = 0;
    if (flags & VQ_MOCK_INDIRECT) {
        uint64_t t = vq_mock_indirect_gpa(m, id);
        rc = put_table(m, t, bufs, n);
        head_flags = VQ_DESC_F_INDIRECT | avail_bits(m->wrap);
        if (rc == 0) {
            rc = put_desc(m, m->desc + 16ull * m->pos, t, 16u * n, 0, id);
        }
        if (++m->pos == m->size) {
            m->pos = 0;
            m->wrap = !m->wrap;
        }
    } else {
        for (unsigned i = 0; i < n && rc == 0; i++) {
            uint16_t f = (uint16_t)(bufs[i].flags & VQ_BUF_WRITE) | avail_bits(m->wrap);
            if (i + 1 < n) {
                f |= VQ_DESC_F_NEXT;
            }
            if (i == 0) {
                head_flags = f;
                f = 0; /* written last */
            }
            rc = put_desc(m, m->desc + 16ull * m->pos, bufs[i].gpa, bufs[i].len, f, id);
            if (++m->pos == m->size) {
                m->pos = 0;
                m->wrap = !m->wrap;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    m->id_ndescs[id] = (uint16_t)ndescs;
    if (ret) {
        *ret = id;
    }
    if (flags & VQ_MOCK_NO_PUBLISH) {
        m->pend_pos[m->npending] = head_pos;
        m->pend_flags[m->npending] = head_flags;
        m->npending = (m->npending + 1) % m->size;
        return 0;
    }
    return vmem_store_release_le16(m->map, m->desc + 16ull * head_pos + 14, head_flags);
}

int vq_mock_add_chain(VqMock *m, const VqBuf *bufs, unsigned n, unsigned flags,
                      uint16_t *ret_id)
{
    if (!m || !bufs || n == 0 || (flags & ~(unsigned)(VQ_MOCK_INDIRECT | VQ_MOCK_NO_PUBLISH))) {
        return -EINVAL;
    }
    if ((flags & VQ_MOCK_INDIRECT) ? n > VQ_MOCK_INDIRECT_MAX : n > m->size) {
        return -EINVAL;
    }
    return m->packed ? packed_add(m, bufs, n, flags, ret_id) : split_add(m, bufs, n, flags, ret_id);
}

int vq_mock_publish(VqMock *m)
{
    if (!m) {
        return -EINVAL;
    }
    if (!m->packed) {
        return split_publish(m);
    }
    /* Later heads first, so that the device never sees a gap. */
    for (uint32_t i = m->npending; i-- > 0;) {
        int rc = vmem_store_release_le16(m->map, m->desc + 16ull * m->pend_pos[i] + 14,
                                         m->pend_flags[i]);
        if (rc < 0) {
            return rc;
        }
    }
    m->npending = 0;
    return 0;
}

int vq_mock_get_used(VqMock *m, uint16_t *ret_id, uint32_t *ret_len)
{
    if (!m || !ret_id || !ret_len) {
        return -EINVAL;
    }
    int rc;
    if (!m->packed) {
        uint16_t idx;
        rc = vmem_load_acquire_le16(m->map, m->dev + VQ_SPLIT_USED_IDX, &idx);
        if (rc < 0) {
            return rc;
        }
        if (idx == m->last_used) {
            return -EAGAIN;
        }
        uint64_t e = m->dev + VQ_SPLIT_USED_RING + 8ull * (m->last_used % m->size);
        uint32_t id;
        rc = vmem_read_le32(m->map, e, &id);
        if (rc == 0) {
            rc = vmem_read_le32(m->map, e + 4, ret_len);
        }
        if (rc < 0) {
            return rc;
        }
        m->last_used++;
        *ret_id = (uint16_t)id;
        return 0;
    }
    uint64_t d = m->desc + 16ull * m->used_pos;
    uint16_t flags, id;
    rc = vmem_load_acquire_le16(m->map, d + 14, &flags);
    if (rc < 0) {
        return rc;
    }
    bool a = flags & VQ_DESC_F_AVAIL, u = flags & VQ_DESC_F_USED;
    if (a != m->used_wrap || u != m->used_wrap) {
        return -EAGAIN;
    }
    rc = vmem_read_le16(m->map, d + 12, &id);
    if (rc == 0) {
        rc = vmem_read_le32(m->map, d + 8, ret_len);
    }
    if (rc < 0) {
        return rc;
    }
    if (id >= m->size || m->id_ndescs[id] == 0) {
        return -ERANGE;
    }
    uint32_t pos = m->used_pos + m->id_ndescs[id];
    m->id_ndescs[id] = 0;
    if (pos >= m->size) {
        pos -= m->size;
        m->used_wrap = !m->used_wrap;
    }
    m->used_pos = (uint16_t)pos;
    *ret_id = id;
    return 0;
}
