/* SPDX-License-Identifier: MIT */
/*
 * vhu-test-backend: a small vhost-user-blk back-end over a file, for the
 * tests and benchmarks of the vhost-svq component (a tool, not a library).
 * Single-threaded: one poll() loop over the vhost-user socket and the kick
 * eventfds; requests are executed synchronously with pread/pwrite.
 */
#ifndef VHU_TEST_BACKEND_H
#define VHU_TEST_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost-svq/vhost-user-proto.h"
#include "virtio-queue/virtio-queue.h"
#include "vm-memory/vm-memory.h"

#define BE_MAX_QUEUES 8
#define BE_MAX_REGIONS VHU_MAX_MEM_REGIONS

/* Ways to misbehave, chosen on the command line. */
typedef enum BeFault {
    BE_FAULT_NONE,
    BE_FAULT_NO_REPLY_FLAG,   /* reply without the reply bit */
    BE_FAULT_BAD_VERSION,     /* version 2 in the flags */
    BE_FAULT_WRONG_REQUEST,   /* reply carries another request id */
    BE_FAULT_SHORT,           /* payload shorter than the reply needs */
    BE_FAULT_LONG,            /* header claims 64 KiB of payload */
    BE_FAULT_TRUNCATED,       /* half a reply, then hang up */
    BE_FAULT_EXTRA_FD,        /* an fd attached to a reply that has none */
    BE_FAULT_TOO_MANY_FDS,    /* 12 fds attached */
    BE_FAULT_MISSING_FD,      /* GET_INFLIGHT_FD region without its fd */
    BE_FAULT_HUGE_INFLIGHT,   /* GET_INFLIGHT_FD size beyond the fd */
    BE_FAULT_BAD_RING_INDEX,  /* GET_VRING_BASE for another ring */
    BE_FAULT_BAD_BASE,        /* GET_VRING_BASE far beyond used->idx */
    BE_FAULT_NACK,            /* REPLY_ACK with a failure code */
    BE_FAULT_UNSOLICITED,     /* a message nobody asked for */
    BE_FAULT_CONFIG_SIZE,     /* GET_CONFIG reply of the wrong size */
    BE_FAULT_STALL,           /* read the request, never answer */
    _BE_FAULT_MAX,
} BeFault;

/* Where --exit-after kills the process inside request N. */
typedef enum BeExitPoint {
    BE_EXIT_POPPED,   /* popped and marked in flight, nothing done */
    BE_EXIT_IO,       /* I/O done, data in guest memory, not used yet */
    BE_EXIT_USED,     /* used entry published, inflight entry not cleared */
} BeExitPoint;

typedef struct BeOptions {
    const char *socket_path;
    bool client;
    const char *file;
    bool inflight;           /* offer INFLIGHT_SHMFD */
    bool reply_ack;          /* offer REPLY_ACK */
    bool protocol;           /* offer protocol features at all */
    unsigned queues;         /* GET_QUEUE_NUM */
    unsigned batch;          /* chains popped per round, completed in reverse */
    uint64_t drop_features;  /* virtio features not offered */
    uint64_t drop_protocol;  /* protocol features not offered */
    uint64_t exit_after;     /* 0: never; else exit inside request N */
    BeExitPoint exit_point;
    BeFault fault;
    uint32_t fault_request;  /* request the fault applies to */
    unsigned fault_count;    /* which occurrence (1 = first) */
    bool once;               /* server mode: exit after one connection */
    int ready_fd;            /* server mode: write a byte once listening */
} BeOptions;

typedef struct BeRing {
    uint32_t num;
    uint64_t desc_ua, avail_ua, used_ua;
    uint32_t base;
    int kick_fd, call_fd, err_fd;
    bool started;   /* kick fd received, queue configured */
    bool enabled;
    VqDevQueue *q;
    VhuInflightSplit *inflight;  /* this ring's block, or NULL */
    uint64_t counter;
    uint16_t *resubmit;          /* heads to process first, by counter */
    unsigned nresubmit, resubmit_pos;
} BeRing;

typedef struct BeRegion {
    uint64_t gpa, size, uaddr;
} BeRegion;

typedef struct Backend {
    BeOptions opt;
    int file_fd;
    uint64_t capacity;         /* bytes */
    int sock;
    uint64_t features;         /* acked */
    uint64_t protocol;         /* acked */
    bool owner;
    VMemMap *map;
    BeRegion regions[BE_MAX_REGIONS];
    unsigned nregions;
    void *inflight_addr;
    uint64_t inflight_size;
    uint16_t inflight_qsize;
    uint16_t inflight_queues;
    BeRing rings[BE_MAX_QUEUES];
    uint64_t requests_done;
    uint64_t requests_started;
    unsigned request_seen[64]; /* occurrences of each request, for faults */
    uint8_t status;
} Backend;

/* backend-proto.c */
/* Handles one message from the socket. Returns false when the connection
 * must end (hang-up or fatal error). */
bool be_handle_message(Backend *be);
void be_reset_connection(Backend *be);
const char *be_fault_name(BeFault f);
BeFault be_fault_from_name(const char *name);

/* backend-blk.c */
void be_ring_process(Backend *be, unsigned index);
bool be_ring_start(Backend *be, unsigned index);
void be_ring_stop(Backend *be, unsigned index);
uint64_t be_uaddr_to_gpa(const Backend *be, uint64_t uaddr, uint64_t len, bool *ok);
void be_fill_config(const Backend *be, uint8_t *cfg, unsigned len);

#endif /* VHU_TEST_BACKEND_H */
