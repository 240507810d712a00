/* SPDX-License-Identifier: MIT */
/*
 * vhu-test-backend: command line, sockets and the poll loop.
 *
 *   vhu-test-backend --socket PATH --file IMAGE [--client | --server]
 *       [--no-inflight] [--no-reply-ack] [--no-protocol] [--queues N]
 *       [--batch N] [--drop-feature BIT]... [--drop-protocol-feature BIT]...
 *       [--exit-after N [--exit-point popped|io|used]]
 *       [--fault KIND --fault-at REQUEST [--fault-count N]]
 *       [--once] [--ready-fd FD]
 *
 * Client mode connects (retrying for up to 5 s) and exits when the
 * connection ends. Server mode listens and serves one connection after the
 * other (or one with --once). --batch N > 1 pops up to N requests and
 * completes them in reverse order, which is only safe with INFLIGHT_SHMFD.
 * Exit status: 0 after a normal end, 3 after a misbehaviour that ends the
 * process (--exit-after, truncated, stall), 2 on bad usage or setup errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "vhost-svq/vhost-user.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: vhu-test-backend --socket PATH --file IMAGE [--client|--server]\n"
            "  [--no-inflight] [--no-reply-ack] [--no-protocol] [--queues N] [--batch N]\n"
            "  [--drop-feature BIT] [--drop-protocol-feature BIT]\n"
            "  [--exit-after N [--exit-point popped|io|used]]\n"
            "  [--fault KIND --fault-at REQUEST [--fault-count N]] [--once] [--ready-fd FD]\n");
    exit(2);
}

static uint64_t parse_num(const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end || end == s) {
        usage();
    }
    return v;
}

static uint32_t parse_request(const char *s)
{
    if (s[0] >= '0' && s[0] <= '9') {
        return (uint32_t)parse_num(s);
    }
    for (uint32_t r = 1; r < _VHU_REQ_MAX; r++) {
        if (strcmp(vhu_request_name(r), s) == 0) {
            return r;
        }
    }
    usage();
    return 0;
}

static void parse_args(BeOptions *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->inflight = true;
    o->reply_ack = true;
    o->protocol = true;
    o->queues = 1;
    o->batch = 1;
    o->fault_count = 1;
    o->ready_fd = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

#define NEED_VALUE() do { if (!v) usage(); i++; } while (0)
        if (!strcmp(a, "--socket")) {
            NEED_VALUE();
            o->socket_path = v;
        } else if (!strcmp(a, "--file")) {
            NEED_VALUE();
            o->file = v;
        } else if (!strcmp(a, "--client")) {
            o->client = true;
        } else if (!strcmp(a, "--server")) {
            o->client = false;
        } else if (!strcmp(a, "--no-inflight")) {
            o->inflight = false;
        } else if (!strcmp(a, "--no-reply-ack")) {
            o->reply_ack = false;
        } else if (!strcmp(a, "--no-protocol")) {
            o->protocol = false;
        } else if (!strcmp(a, "--queues")) {
            NEED_VALUE();
            o->queues = (unsigned)parse_num(v);
        } else if (!strcmp(a, "--batch")) {
            NEED_VALUE();
            o->batch = (unsigned)parse_num(v);
        } else if (!strcmp(a, "--drop-feature")) {
            NEED_VALUE();
            o->drop_features |= UINT64_C(1) << (parse_num(v) & 63);
        } else if (!strcmp(a, "--drop-protocol-feature")) {
            NEED_VALUE();
            o->drop_protocol |= UINT64_C(1) << (parse_num(v) & 63);
        } else if (!strcmp(a, "--exit-after")) {
            NEED_VALUE();
            o->exit_after = parse_num(v);
        } else if (!strcmp(a, "--exit-point")) {
            NEED_VALUE();
            if (!strcmp(v, "popped")) {
                o->exit_point = BE_EXIT_POPPED;
            } else if (!strcmp(v, "io")) {
                o->exit_point = BE_EXIT_IO;
            } else if (!strcmp(v, "used")) {
                o->exit_point = BE_EXIT_USED;
            } else {
                usage();
            }
        } else if (!strcmp(a, "--fault")) {
            NEED_VALUE();
            o->fault = be_fault_from_name(v);
            if (o->fault == _BE_FAULT_MAX) {
                usage();
            }
        } else if (!strcmp(a, "--fault-at")) {
            NEED_VALUE();
            o->fault_request = parse_request(v);
        } else if (!strcmp(a, "--fault-count")) {
            NEED_VALUE();
            o->fault_count = (unsigned)parse_num(v);
        } else if (!strcmp(a, "--once")) {
            o->once = true;
        } else if (!strcmp(a, "--ready-fd")) {
            NEED_VALUE();
            o->ready_fd = (int)parse_num(v);
        } else {
            usage();
        }
#undef NEED_VALUE
    }
    if (!o->socket_path || !o->file) {
        usage();
    }
}

static int unix_socket(const char *path, struct sockaddr_un *sun)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        fprintf(stderr, "vhu-test-backend: socket path too long\n");
        exit(2);
    }
    strcpy(sun->sun_path, path);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

static int connect_client(const char *path)
{
    struct sockaddr_un sun;
    struct timespec pause = { 0, 10 * 1000 * 1000 };

    /* The front-end may not listen yet: retry for up to 5 s. */
    for (int attempt = 0; attempt < 500; attempt++) {
        int fd = unix_socket(path, &sun);

        if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            return fd;
        }
        if (fd >= 0) {
            close(fd);
        }
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "vhu-test-backend: cannot connect to %s\n", path);
    exit(2);
}

static int listen_server(const char *path)
{
    struct sockaddr_un sun;
    struct stat st;
    int fd = unix_socket(path, &sun);

    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 4) < 0) {
        fprintf(stderr, "vhu-test-backend: listen on %s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

/* Serves one connection until it ends. */
static void serve(Backend *be)
{
    for (;;) {
        struct pollfd pfd[1 + BE_MAX_QUEUES];
        unsigned ring_of[1 + BE_MAX_QUEUES];
        unsigned n = 1;

        pfd[0] = (struct pollfd){ .fd = be->sock, .events = POLLIN };
        for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
            BeRing *r = &be->rings[i];

            if (r->started && r->enabled && r->kick_fd >= 0) {
                pfd[n] = (struct pollfd){ .fd = r->kick_fd, .events = POLLIN };
                ring_of[n++] = i;
            }
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        if (pfd[0].revents && !be_handle_message(be)) {
            return;
        }
        for (unsigned i = 1; i < n; i++) {
            if (pfd[i].revents & POLLIN) {
                be_ring_process(be, ring_of[i]);
            }
        }
    }
}

static void cleanup(Backend *be)
{
    be_reset_connection(be);
    if (be->inflight_addr) {
        munmap(be->inflight_addr, be->inflight_size);
    }
    vmem_map_free(be->map);
    close(be->file_fd);
}

int main(int argc, char **argv)
{
    Backend be;
    struct stat st;

    memset(&be, 0, sizeof(be));
    parse_args(&be.opt, argc, argv);
    for (unsigned i = 0; i < BE_MAX_QUEUES; i++) {
        be.rings[i].kick_fd = be.rings[i].call_fd = be.rings[i].err_fd = -1;
    }
    be.file_fd = open(be.opt.file, O_RDWR | O_CLOEXEC);
    if (be.file_fd < 0 || fstat(be.file_fd, &st) < 0) {
        fprintf(stderr, "vhu-test-backend: %s: %s\n", be.opt.file, strerror(errno));
        return 2;
    }
    be.capacity = (uint64_t)st.st_size & ~UINT64_C(511);
    if (vmem_map_new(&be.map) < 0) {
        return 2;
    }
    if (be.opt.client) {
        be.sock = connect_client(be.opt.socket_path);
        serve(&be);
        close(be.sock);
        cleanup(&be);
        return 0;
    }
    int lfd = listen_server(be.opt.socket_path);

    if (be.opt.ready_fd >= 0) {
        char c = 'r';

        if (write(be.opt.ready_fd, &c, 1) != 1) {
            return 2;
        }
        close(be.opt.ready_fd);
    }
    for (;;) {
        be.sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (be.sock < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 2;
        }
        serve(&be);
        close(be.sock);
        be_reset_connection(&be);
        if (be.opt.once) {
            break;
        }
    }
    unlink(be.opt.socket_path);
    close(lfd);
    cleanup(&be);
    return 0;
}
