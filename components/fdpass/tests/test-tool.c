/* SPDX-License-Identifier: MIT */
/* The fdpass-send command-line helper, run as a child process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "helpers.h"

extern char **environ;

/* The descriptor number the child gets its socket on. */
#define CHILD_SOCK_FD 10

typedef struct Run {
    int status; /* exit code, or -1 if it did not exit normally */
    char out[4096]; /* stdout and stderr together */
} Run;

static const char *tool(void)
{
    const char *p = getenv("FDPASS_SEND");

    if (!p || !*p) {
        cr_skip_test("FDPASS_SEND is not set (run through meson test)");
    }
    return p;
}

/* Runs fdpass-send with @args (NULL-terminated); @child_fd, if >= 0,
 * becomes descriptor CHILD_SOCK_FD in the child. */
static void run(Run *r, int child_fd, const char *const *args)
{
    const char *argv[16];
    posix_spawn_file_actions_t fa;
    int out[2], st;
    size_t len = 0, n = 0;
    pid_t pid;
    /* A cross build run under qemu-user cannot exec the target binary
     * directly: FDPASS_SEND_WRAPPER holds the emulator command line
     * ("qemu-ppc64 -L /usr/powerpc64-linux-gnu"), split at spaces. */
    char wrapper[256] = "";
    const char *w = getenv("FDPASS_SEND_WRAPPER");

    if (w && *w) {
        snprintf(wrapper, sizeof(wrapper), "%s", w);
        for (char *save = NULL, *tok = strtok_r(wrapper, " ", &save); tok && n < 6;
             tok = strtok_r(NULL, " ", &save)) {
            argv[n++] = tok;
        }
    }
    argv[n++] = tool();
    for (size_t i = 0; args[i] && n < 15; i++) {
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    if (child_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, child_fd, CHILD_SOCK_FD);
    }
    cr_assert_eq(posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0,
                 "spawn %s", argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    for (;;) {
        ssize_t k = read(out[0], r->out + len, sizeof(r->out) - 1 - len);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        len += (size_t)k;
    }
    r->out[len] = '\0';
    close(out[0]);
    while (waitpid(pid, &st, 0) < 0) {
        cr_assert_eq(errno, EINTR);
    }
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Receives what the tool sent on @sock and checks it is @path, read-only. */
static void expect_file_fd(int sock, const char *content)
{
    char byte = 0, buf[64] = { 0 };
    int fd = -1;
    size_t n = 0;

    cr_assert_eq(fdpass_recv(sock, &byte, 1, &fd, 1, &n), 1);
    cr_assert_eq(byte, ' ', "the payload is one blank");
    cr_assert_eq(n, 1);
    cr_assert_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    cr_assert_eq(pread(fd, buf, sizeof(buf) - 1, 0), (ssize_t)strlen(content));
    cr_assert_str_eq(buf, content);
    close(fd);
}

static void sends_over_socketpair(int type)
{
    char dir[256], file[512];
    int sv[2];
    Run r;

    make_tempdir(dir, sizeof(dir));
    make_file(file, sizeof(file), dir, "image0", "contents of image0");
    make_socketpair(type, sv);
    run(&r, sv[1], (const char *const[]){ "10", file, NULL });
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.out);
    cr_assert_str_eq(r.out, "");
    close(sv[1]);
    expect_file_fd(sv[0], "contents of image0");
    close(sv[0]);
    remove_dir(dir);
}

Test(tool, sends_over_inherited_stream_socket)
{
    sends_over_socketpair(SOCK_STREAM);
}

Test(tool, sends_over_inherited_seqpacket_socket)
{
    sends_over_socketpair(SOCK_SEQPACKET);
}

static void sends_over_connection(int type)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    char dir[256], file[512];
    int lis, conn;
    struct pollfd pfd;
    Run r;

    make_tempdir(dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/qmp.sock", dir);
    cr_assert_lt(strlen(file), sizeof(addr.sun_path), "temp dir path too long");
    memcpy(addr.sun_path, file, strlen(file) + 1);
    make_file(file, sizeof(file), dir, "disk", "disk bytes");
    lis = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    cr_assert_geq(lis, 0);
    cr_assert_eq(bind(lis, (struct sockaddr *)&addr, sizeof(addr)), 0, "bind: %s",
                 strerror(errno));
    cr_assert_eq(listen(lis, 1), 0);

    /* The backlog holds the connection, so the child can finish first. */
    run(&r, -1, (const char *const[]){ "--connect", addr.sun_path, file, NULL });
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.out);
    pfd = (struct pollfd){ .fd = lis, .events = POLLIN };
    cr_assert_eq(poll(&pfd, 1, 10000), 1, "no connection arrived");
    conn = accept4(lis, NULL, NULL, SOCK_CLOEXEC);
    cr_assert_geq(conn, 0);
    expect_file_fd(conn, "disk bytes");
    close(conn);
    close(lis);
    remove_dir(dir);
}

Test(tool, connect_to_stream_listener)
{
    sends_over_connection(SOCK_STREAM);
}

Test(tool, connect_to_seqpacket_listener)
{
    sends_over_connection(SOCK_SEQPACKET);
}

Test(tool, bad_arguments_print_usage)
{
    static const char *const cases[][5] = {
        { NULL },
        { "10", NULL },
        { "abc", "/dev/null", NULL },
        { "-5", "/dev/null", NULL },
        { "", "/dev/null", NULL },
        { "99999999999", "/dev/null", NULL },
        { "10", "/dev/null", "extra", NULL },
        { "--connect", "/tmp/x", NULL },
        { "--connect", "/tmp/x", "/dev/null", "extra", NULL },
        { "--bogus", "/dev/null", NULL },
        { "--bogus", "/tmp/x", "/dev/null", NULL },
    };
    Run r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&r, -1, cases[i]);
        cr_assert_eq(r.status, 2, "case %zu: exit %d", i, r.status);
        cr_assert_not_null(strstr(r.out, "usage: fdpass-send SOCKET-FD FILE\n"),
                           "case %zu: %s", i, r.out);
        cr_assert_not_null(strstr(r.out, "fdpass-send --connect PATH FILE"));
    }
}

Test(tool, help_exits_zero)
{
    Run r;

    run(&r, -1, (const char *const[]){ "--help", NULL });
    cr_assert_eq(r.status, 0);
    cr_assert_not_null(strstr(r.out, "usage: fdpass-send"));
}

Test(tool, failures_exit_one)
{
    char dir[256], file[512], longpath[300];
    int sv[2], nul = open_devnull(O_RDWR);
    Run r;

    make_tempdir(dir, sizeof(dir));
    make_file(file, sizeof(file), dir, "f", "x");
    make_socketpair(SOCK_STREAM, sv);

    run(&r, sv[1], (const char *const[]){ "10", "/nonexistent/file", NULL });
    cr_assert_eq(r.status, 1, "missing file: exit %d", r.status);
    cr_assert_not_null(strstr(r.out, "cannot open '/nonexistent/file'"), "%s", r.out);

    run(&r, nul, (const char *const[]){ "10", file, NULL });
    cr_assert_eq(r.status, 1, "not a socket: exit %d", r.status);
    cr_assert_not_null(strstr(r.out, "descriptor 10 is not a socket"), "%s", r.out);

    run(&r, -1, (const char *const[]){ "777", file, NULL });
    cr_assert_eq(r.status, 1, "closed descriptor: exit %d", r.status);

    close(sv[0]);
    run(&r, sv[1], (const char *const[]){ "10", file, NULL });
    cr_assert_eq(r.status, 1, "peer gone: exit %d", r.status);
    cr_assert_not_null(strstr(r.out, "cannot send the descriptor"), "%s", r.out);

    snprintf(longpath, sizeof(longpath), "%s/nobody-listens", dir);
    run(&r, -1, (const char *const[]){ "--connect", longpath, file, NULL });
    cr_assert_eq(r.status, 1, "no listener: exit %d", r.status);
    cr_assert_not_null(strstr(r.out, "cannot connect"), "%s", r.out);

    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    run(&r, -1, (const char *const[]){ "--connect", longpath, file, NULL });
    cr_assert_eq(r.status, 1, "long path: exit %d", r.status);
    cr_assert_not_null(strstr(r.out, "too long"), "%s", r.out);

    close(sv[1]);
    close(nul);
    remove_dir(dir);
}
