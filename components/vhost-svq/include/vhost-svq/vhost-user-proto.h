/* SPDX-License-Identifier: MIT */
/*
 * vhost-user-proto: the vhost-user wire format (QEMU docs/interop/
 * vhost-user.rst), shared by the front-end, the test back-end and the fuzz
 * targets of this component.
 *
 * Every message is a 12-byte header (u32 request, u32 flags, u32 size)
 * followed by @size bytes of payload, with up to VHU_MAX_FDS file
 * descriptors attached (SCM_RIGHTS). All fields are in the host's native
 * byte order: both ends run on the same host. The layouts below are packed
 * and have no implicit padding.
 */
#ifndef VHOST_SVQ_VHOST_USER_PROTO_H
#define VHOST_SVQ_VHOST_USER_PROTO_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Requests (front-end to back-end)                                          */

typedef enum VhuRequest {
    VHU_REQ_NONE = 0,
    VHU_REQ_GET_FEATURES = 1,
    VHU_REQ_SET_FEATURES = 2,
    VHU_REQ_SET_OWNER = 3,
    VHU_REQ_RESET_OWNER = 4,
    VHU_REQ_SET_MEM_TABLE = 5,
    VHU_REQ_SET_LOG_BASE = 6,
    VHU_REQ_SET_LOG_FD = 7,
    VHU_REQ_SET_VRING_NUM = 8,
    VHU_REQ_SET_VRING_ADDR = 9,
    VHU_REQ_SET_VRING_BASE = 10,
    VHU_REQ_GET_VRING_BASE = 11,
    VHU_REQ_SET_VRING_KICK = 12,
    VHU_REQ_SET_VRING_CALL = 13,
    VHU_REQ_SET_VRING_ERR = 14,
    VHU_REQ_GET_PROTOCOL_FEATURES = 15,
    VHU_REQ_SET_PROTOCOL_FEATURES = 16,
    VHU_REQ_GET_QUEUE_NUM = 17,
    VHU_REQ_SET_VRING_ENABLE = 18,
    VHU_REQ_GET_CONFIG = 24,
    VHU_REQ_SET_CONFIG = 25,
    VHU_REQ_GET_INFLIGHT_FD = 31,
    VHU_REQ_SET_INFLIGHT_FD = 32,
    VHU_REQ_RESET_DEVICE = 34,
    VHU_REQ_GET_MAX_MEM_SLOTS = 36,
    VHU_REQ_ADD_MEM_REG = 37,
    VHU_REQ_REM_MEM_REG = 38,
    VHU_REQ_SET_STATUS = 39,
    VHU_REQ_GET_STATUS = 40,
    _VHU_REQ_MAX,
} VhuRequest;

/* Header flags. */
#define VHU_FLAG_VERSION_MASK 0x3u
#define VHU_FLAG_VERSION 0x1u
#define VHU_FLAG_REPLY 0x4u
#define VHU_FLAG_NEED_REPLY 0x8u

/* Virtio feature bit 30: the back-end supports protocol features. */
#define VHU_F_PROTOCOL_FEATURES 30

/* Protocol feature bits (GET/SET_PROTOCOL_FEATURES). */
#define VHU_PROTOCOL_F_MQ 0
#define VHU_PROTOCOL_F_LOG_SHMFD 1
#define VHU_PROTOCOL_F_RARP 2
#define VHU_PROTOCOL_F_REPLY_ACK 3
#define VHU_PROTOCOL_F_MTU 4
#define VHU_PROTOCOL_F_BACKEND_REQ 5
#define VHU_PROTOCOL_F_CROSS_ENDIAN 6
#define VHU_PROTOCOL_F_CONFIG 9
#define VHU_PROTOCOL_F_INFLIGHT_SHMFD 12
#define VHU_PROTOCOL_F_RESET_DEVICE 13
#define VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15
#define VHU_PROTOCOL_F_STATUS 16

/** VHU_MAX_FDS: the most file descriptors one message carries. */
#define VHU_MAX_FDS 8
/** VHU_MAX_MEM_REGIONS: regions in one SET_MEM_TABLE message. */
#define VHU_MAX_MEM_REGIONS 8
/** VHU_CONFIG_MAX: the largest device configuration space (bytes). */
#define VHU_CONFIG_MAX 256
/** SET_VRING_KICK/CALL/ERR payload: ring index mask and "no fd" bit. */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD_MASK 0x100u
/** SET_VRING_ADDR flags: log writes to the used ring (not supported here). */
#define VHU_VRING_F_LOG 0x1u
/** SET_CONFIG flags. */
#define VHU_SET_CONFIG_TYPE_FRONTEND 0u
#define VHU_SET_CONFIG_TYPE_MIGRATION 1u

typedef struct __attribute__((packed)) VhuMsgHeader {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
} VhuMsgHeader;

typedef struct __attribute__((packed)) VhuVringStateMsg {
    uint32_t index;
    uint32_t num;
} VhuVringStateMsg;

typedef struct __attribute__((packed)) VhuVringAddrMsg {
    uint32_t index;
    uint32_t flags;
    uint64_t desc_uaddr;
    uint64_t used_uaddr;
    uint64_t avail_uaddr;
    uint64_t log_gpa;
} VhuVringAddrMsg;

typedef struct __attribute__((packed)) VhuMemRegionMsg {
    uint64_t gpa;
    uint64_t size;
    uint64_t uaddr;
    uint64_t mmap_offset;
} VhuMemRegionMsg;

typedef struct __attribute__((packed)) VhuMemTableMsg {
    uint32_t nregions;
    uint32_t padding;
    VhuMemRegionMsg regions[VHU_MAX_MEM_REGIONS];
} VhuMemTableMsg;

/* Size of a SET_MEM_TABLE payload with @n regions: QEMU sends the header
 * plus the regions in use, libvhost-user accepts any size that covers them. */
#define VHU_MEM_TABLE_SIZE(n) (8u + 32u * (unsigned)(n))

/* 24 bytes on the wire: QEMU and libvhost-user declare this structure
 * without packing, so it carries 4 bytes of tail padding. */
typedef struct __attribute__((packed)) VhuInflightMsg {
    uint64_t mmap_size;
    uint64_t mmap_offset;
    uint16_t num_queues;
    uint16_t queue_size;
    uint32_t padding;
} VhuInflightMsg;

typedef struct __attribute__((packed)) VhuConfigMsg {
    uint32_t offset;
    uint32_t size;
    uint32_t flags;
    uint8_t region[VHU_CONFIG_MAX];
} VhuConfigMsg;

#define VHU_CONFIG_HDR_SIZE 12u

/* The largest payload of any message this component sends or accepts. */
#define VHU_MAX_PAYLOAD (sizeof(VhuConfigMsg))

/*
 * Inflight region, split rings (one block per queue, each block aligned on
 * 64 bytes by this component's test back-end): u64 features, u16 version
 * (1), u16 desc_num, u16 last_batch_head, u16 used_idx, then desc_num
 * entries of 16 bytes {u8 inflight, u8 pad[5], u16 next, u64 counter}.
 */
typedef struct __attribute__((packed)) VhuInflightDescSplit {
    uint8_t inflight;
    uint8_t padding[5];
    uint16_t next;
    uint64_t counter;
} VhuInflightDescSplit;

typedef struct __attribute__((packed)) VhuInflightSplit {
    uint64_t features;
    uint16_t version;
    uint16_t desc_num;
    uint16_t last_batch_head;
    uint16_t used_idx;
    VhuInflightDescSplit desc[];
} VhuInflightSplit;

#define VHU_INFLIGHT_VERSION 1

#ifdef __cplusplus
}
#endif

#endif /* VHOST_SVQ_VHOST_USER_PROTO_H */
