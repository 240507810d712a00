/* SPDX-License-Identifier: MIT */
/*
 * fdpass-send: opens a file read-only and sends its descriptor over a unix
 * socket with a one-byte payload (a blank), as QEMU's socket_scm_helper did
 * for the iotests: the peer (a QMP monitor) then runs getfd or add-fd.
 *
 *   fdpass-send SOCKET-FD FILE          use an inherited connected socket
 *   fdpass-send --connect PATH FILE     connect to the unix socket at PATH
 *
 * Exit status: 0 sent; 1 failure (open, connect, send); 2 bad arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdpass/fdpass.h"

enum { EXIT_SENT = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s SOCKET-FD FILE\n"
            "       %s --connect PATH FILE\n"
            "Opens FILE read-only and sends its descriptor (SCM_RIGHTS) with a\n"
            "one-byte payload over the connected unix socket SOCKET-FD, or over a\n"
            "new connection to the unix socket at PATH.\n"
            "Exit status: 0 sent, 1 failure, 2 bad arguments.\n",
            prog, prog);
}

/* A whole decimal number in 0..INT_MAX, else -1. */
static int parse_fd(const char *s)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > INT_MAX) {
        return -1;
    }
    return (int)v;
}

static int connect_unix(const char *path)
{
    static const int types[] = { SOCK_STREAM, SOCK_SEQPACKET };
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    size_t len = strlen(path);
    int err = 0;

    if (len == 0 || len >= sizeof(addr.sun_path)) {
        fprintf(stderr, "fdpass-send: socket path '%s' is empty or too long (max %zu bytes)\n",
                path, sizeof(addr.sun_path) - 1);
        return -1;
    }
    memcpy(addr.sun_path, path, len + 1);

    /* A listener of the other type refuses with EPROTOTYPE: try both. */
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        int s = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);

        if (s < 0) {
            err = errno;
            break;
        }
        if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            return s;
        }
        err = errno;
        close(s);
        if (err != EPROTOTYPE) {
            break;
        }
    }
    fprintf(stderr, "fdpass-send: cannot connect to '%s': %s\n", path, strerror(err));
    return -1;
}

static int check_socket(int fd)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        fprintf(stderr, "fdpass-send: descriptor %d: %s\n", fd, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "fdpass-send: descriptor %d is not a socket\n", fd);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *prog = "fdpass-send";
    const char *file;
    int sock, fd, rc;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout, prog);
        return EXIT_SENT;
    }
    if (argc == 4 && strcmp(argv[1], "--connect") == 0) {
        file = argv[3];
        sock = -2; /* connect after the file opened */
    } else if (argc == 3 && argv[1][0] != '-') {
        file = argv[2];
        sock = parse_fd(argv[1]);
        if (sock < 0) {
            fprintf(stderr, "%s: SOCKET-FD '%s' is not a descriptor number\n", prog, argv[1]);
            usage(stderr, prog);
            return EXIT_USAGE;
        }
    } else {
        usage(stderr, prog);
        return EXIT_USAGE;
    }

    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open '%s': %s\n", prog, file, strerror(errno));
        return EXIT_FAILED;
    }
    if (sock == -2) {
        sock = connect_unix(argv[2]);
    } else if (check_socket(sock) < 0) {
        sock = -1;
    }
    if (sock < 0) {
        close(fd);
        return EXIT_FAILED;
    }

    rc = fdpass_send(sock, " ", 1, &fd, 1);
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot send the descriptor: %s\n", prog, strerror(-rc));
        close(sock);
        return EXIT_FAILED;
    }
    if (close(sock) < 0 && errno != EINTR) {
        fprintf(stderr, "%s: close: %s\n", prog, strerror(errno));
        return EXIT_FAILED;
    }
    return EXIT_SENT;
}
