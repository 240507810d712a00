/* SPDX-License-Identifier: MIT */
/* Helpers shared by the tests and the benchmarks (see support.h). */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t ts_rand(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* ------------------------------------------------------------------------ */
/* Processes                                                                 */

int ts_spawn(char *const argv[], pid_t *ret_pid)
{
    pid_t parent = getpid(), pid;
    int pipefd[2], err = 0;
    ssize_t n;

    if (!argv || !argv[0] || !ret_pid) {
        return -EINVAL;
    }
    /* The child reports a failed exec through a close-on-exec pipe: EOF
     * without data means the exec succeeded. */
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        return -errno;
    }
    pid = fork();
    if (pid < 0) {
        err = -errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return err;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. The death signal is
         * tied to the thread that forked; if that parent is already gone,
         * the signal will never come: give up instead of running orphaned. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
            err = errno;
        } else if (getppid() != parent) {
            err = ESRCH;
        } else {
            execv(argv[0], argv);
            err = errno;
        }
        n = write(pipefd[1], &err, sizeof(err));
        (void)n;
        _exit(127);
    }
    close(pipefd[1]);
    do {
        n = read(pipefd[0], &err, sizeof(err));
    } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    if (n == (ssize_t)sizeof(err)) {
        waitpid(pid, NULL, 0);
        return -err;
    }
    *ret_pid = pid;
    return 0;
}

int ts_reap(pid_t pid, int timeout_ms, int *ret_status)
{
    int status = 0, pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    pid_t rc;

    if (pfd >= 0) {
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int ready;

        do {
            ready = poll(&p, 1, timeout_ms);
        } while (ready < 0 && errno == EINTR);
        close(pfd);
        if (ready == 0) {
            kill(pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
            return -ETIMEDOUT;
        }
    } else if (timeout_ms >= 0) {
        /* No pidfd (old kernel): look every millisecond, bounded. */
        struct timespec ms = { 0, 1000000 };

        for (int waited = 0; (rc = waitpid(pid, &status, WNOHANG)) == 0; waited++) {
            if (waited >= timeout_ms) {
                kill(pid, SIGKILL);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
                }
                return -ETIMEDOUT;
            }
            nanosleep(&ms, NULL);
        }
        if (rc < 0) {
            return -errno;
        }
        if (ret_status) {
            *ret_status = status;
        }
        return 0;
    }
    do {
        rc = waitpid(pid, &status, 0);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        return -errno;
    }
    if (ret_status) {
        *ret_status = status;
    }
    return 0;
}

int ts_freeze(pid_t pid)
{
    int status;
    pid_t rc;

    if (kill(pid, SIGSTOP) < 0) {
        return -errno;
    }
    do {
        rc = waitpid(pid, &status, WUNTRACED);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        return -errno;
    }
    return WIFSTOPPED(status) ? 0 : -ESRCH;
}

/* ------------------------------------------------------------------------ */
/* Directories and files                                                     */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void ts_rmtree(const char *dir)
{
    if (dir) {
        nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
}

/* Removes @base/@prefix-PID-* directories of ours whose process is gone. */
static void remove_stale(const char *base, const char *prefix)
{
    size_t plen = strlen(prefix);
    DIR *d = opendir(base);
    struct dirent *e;

    if (!d) {
        return;
    }
    while ((e = readdir(d))) {
        char *end, path[4096];
        unsigned long pid;
        struct stat st;

        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '-') {
            continue;
        }
        errno = 0;
        pid = strtoul(e->d_name + plen + 1, &end, 10);
        if (errno || *end != '-' || pid == 0 || pid > INT32_MAX) {
            continue;
        }
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid()) {
            ts_rmtree(path);
        }
    }
    closedir(d);
}

char *ts_mkdtemp(const char *base, const char *prefix)
{
    char *tmpl;

    remove_stale(base, prefix);
    tmpl = g_strdup_printf("%s/%s-%ld-XXXXXX", base, prefix, (long)getpid());
    if (!mkdtemp(tmpl)) {
        int e = errno;

        g_free(tmpl);
        errno = e;
        return NULL;
    }
    return tmpl;
}

int ts_make_image(const char *path, uint64_t bytes, uint64_t seed)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), rc = 0;

    if (fd < 0) {
        return -errno;
    }
    if (ftruncate(fd, (off_t)bytes) < 0) {
        rc = -errno;
    }
    for (uint64_t off = 0; rc == 0 && seed && off < bytes; off += 4096) {
        uint64_t buf[512];
        size_t len = bytes - off < sizeof(buf) ? (size_t)(bytes - off) : sizeof(buf);

        for (unsigned i = 0; i < 512; i++) {
            buf[i] = ts_rand(&seed);
        }
        if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
            rc = errno ? -errno : -EIO;
        }
    }
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* qemu-storage-daemon                                                       */

const char *ts_qsd_path(void)
{
    const char *p = getenv("VHU_QSD");

    if (p && *p && access(p, X_OK) == 0) {
        return p;
    }
    return access("/usr/bin/qemu-storage-daemon", X_OK) == 0 ? "/usr/bin/qemu-storage-daemon"
                                                             : NULL;
}

int ts_qsd_spawn(const char *image, const char *sock, pid_t *ret_pid)
{
    const char *qsd = ts_qsd_path();
    char *blockdev, *export;
    int rc;

    if (!qsd) {
        return -ENOENT;
    }
    blockdev = g_strdup_printf("driver=file,node-name=file0,filename=%s", image);
    export = g_strdup_printf("type=vhost-user-blk,id=exp0,node-name=file0,addr.type=unix,"
                             "addr.path=%s,writable=on,num-queues=1",
                             sock);
    {
        char *argv[] = { (char *)qsd, "--blockdev", blockdev, "--export", export, NULL };

        rc = ts_spawn(argv, ret_pid);
    }
    g_free(blockdev);
    g_free(export);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Front-end                                                                 */

VhuDev *ts_dev_new(VhuMode mode, const char *path, const char *name, unsigned reply_timeout_ms,
                   unsigned queue_size, GError **errp)
{
    VhuOptions o;
    VhuDev *dev = NULL;

    vhu_options_init(&o);
    o.mode = mode;
    o.path = path;
    o.name = name;
    if (reply_timeout_ms) {
        o.reply_timeout_ms = reply_timeout_ms;
    }
    if (queue_size) {
        o.queue_size = queue_size;
    }
    return vhu_new(&o, &dev, errp) ? dev : NULL;
}
