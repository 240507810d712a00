/* SPDX-License-Identifier: MIT */
/*
 * The named store and the fd sets driven by random command sequences
 * (getfd, closefd, take, add-fd, remove-fd, query, open, close, find-dup,
 * attach, detach, policy switch), checked after every step against a simple
 * model of QEMU's rules: the set list and order query-fdsets reports, which
 * member an open picks, which descriptors an operation closes, the exact
 * error codes, and at the end that not one descriptor leaked.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpass/fdpass.h"
#include "fuzz-util.h"

#define MAX_OPS 64
#define MAX_SETS 12
#define MAX_MEMBERS 16
#define MAX_DUPS 16
#define NAMES 4

typedef struct MMember {
    int fd;
    ino_t ino;
    int flags; /* access mode | O_DIRECT */
    char opaque[8];
    bool has_opaque;
} MMember;

typedef struct MSet {
    int64_t id;
    MMember m[MAX_MEMBERS];
    size_t nm;
    int dups[MAX_DUPS];
    size_t nd;
} MSet;

typedef struct Model {
    MSet sets[MAX_SETS]; /* ascending id */
    size_t ns;
    int named[NAMES]; /* -1: none */
    unsigned monitors;
    bool legacy;
} Model;

static const char *const names[NAMES] = { "a", "disk", "0bad", "" };

/* A fresh descriptor of a new file (its own inode) with access mode @kind:
 * 0 read, 1 write, 2 read-write (a memfd reopened), 3 write + O_DIRECT (pipe). */
static int new_member_fd(unsigned kind, ino_t *ino, int *flags)
{
    struct stat st;
    int fd;

    if (kind == 3) {
        int p[2];

        if (pipe2(p, O_CLOEXEC | O_DIRECT) < 0) {
            return -1;
        }
        close(p[0]);
        fd = p[1];
    } else {
        static const int modes[3] = { O_RDONLY, O_WRONLY, O_RDWR };
        char path[64];
        int mfd = memfd_create("fuzz", MFD_CLOEXEC);

        if (mfd < 0) {
            return -1;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
        fd = open(path, modes[kind] | O_CLOEXEC);
        close(mfd);
        if (fd < 0) {
            return -1;
        }
    }
    if (fstat(fd, &st) < 0) {
        abort();
    }
    *ino = st.st_ino;
    *flags = fcntl(fd, F_GETFL) & (O_ACCMODE | O_DIRECT);
    return fd;
}

static bool is_closed(int fd)
{
    return fcntl(fd, F_GETFD) < 0 && errno == EBADF;
}

static MSet *model_find(Model *m, int64_t id, size_t *pos)
{
    size_t i;

    for (i = 0; i < m->ns && m->sets[i].id < id; i++) {
    }
    *pos = i;
    return i < m->ns && m->sets[i].id == id ? &m->sets[i] : NULL;
}

static void model_drop_set(Model *m, size_t pos)
{
    memmove(&m->sets[pos], &m->sets[pos + 1], (m->ns - pos - 1) * sizeof(m->sets[0]));
    m->ns--;
}

/* The model's cleanup; the closed members are checked closed. */
static void model_cleanup(Model *m, size_t pos)
{
    MSet *s = &m->sets[pos];

    if (m->legacy && m->monitors == 0 && s->nd == 0) {
        for (size_t i = 0; i < s->nm; i++) {
            FUZZ_CHECK(is_closed(s->m[i].fd));
        }
        s->nm = 0;
    }
    if (s->nm == 0 && s->nd == 0) {
        model_drop_set(m, pos);
    }
}

typedef struct Cmp {
    const Model *m;
    size_t next; /* index from the top (descending ids) */
} Cmp;

static void compare_set(void *opaque, int64_t id, const FdPassFdInfo *fds, size_t nfds)
{
    Cmp *c = opaque;
    const MSet *s;

    FUZZ_CHECK(c->next < c->m->ns);
    s = &c->m->sets[c->m->ns - 1 - c->next++];
    FUZZ_CHECK(s->id == id && s->nm == nfds);
    for (size_t i = 0; i < nfds; i++) {
        FUZZ_CHECK(fds[i].fd == s->m[i].fd);
        FUZZ_CHECK(s->m[i].has_opaque ? (fds[i].opaque && !strcmp(fds[i].opaque, s->m[i].opaque))
                                       : fds[i].opaque == NULL);
    }
}

static void check_all(FdPassSets *sets, FdPassNamed *named, const Model *m)
{
    Cmp c = { m, 0 };
    size_t nnamed = 0;

    FUZZ_CHECK(fdpass_sets_query(sets, compare_set, &c) == (int)m->ns);
    FUZZ_CHECK(c.next == m->ns && fdpass_sets_count(sets) == m->ns);
    for (int i = 0; i < NAMES; i++) {
        nnamed += m->named[i] >= 0;
    }
    FUZZ_CHECK(fdpass_named_count(named) == nnamed);
}

static int64_t pick_id(FuzzIn *in)
{
    uint8_t b = fuzz_u8(in);

    switch (b >> 6) {
    case 0:
        return -(int64_t)(b & 3) - 1;
    case 1:
        return INT64_MAX - (b & 1);
    default:
        return b % 8;
    }
}

static void op_getfd(FuzzIn *in, FdPassNamed *named, Model *m)
{
    unsigned n = fuzz_u8(in) % NAMES;
    bool with_fd = fuzz_u8(in) % 4 != 0;
    ino_t ino;
    int fl, fd = with_fd ? new_member_fd(0, &ino, &fl) : -1;
    FdPassError err;
    int rc = fdpass_named_getfd(named, names[n], fd, &err);

    if (fd < 0) {
        FUZZ_CHECK(rc == -EBADF && err.code == -EBADF);
    } else if (names[n][0] >= '0' && names[n][0] <= '9') {
        FUZZ_CHECK(rc == -EINVAL && is_closed(fd));
    } else {
        FUZZ_CHECK(rc == 0);
        if (m->named[n] >= 0) {
            FUZZ_CHECK(is_closed(m->named[n]));
        }
        m->named[n] = fd;
    }
}

static void op_closefd_or_take(FuzzIn *in, FdPassNamed *named, Model *m, bool take)
{
    unsigned n = fuzz_u8(in) % NAMES;
    FdPassError err;
    int rc = take ? fdpass_named_take(named, names[n], &err)
                  : fdpass_named_closefd(named, names[n], &err);

    if (m->named[n] < 0) {
        FUZZ_CHECK(rc == -ENOENT && err.code == -ENOENT);
        return;
    }
    if (take) {
        FUZZ_CHECK(rc == m->named[n]);
        close(rc);
    } else {
        FUZZ_CHECK(rc == 0 && is_closed(m->named[n]));
    }
    m->named[n] = -1;
}

static void op_add_fd(FuzzIn *in, FdPassSets *sets, Model *m)
{
    uint8_t b = fuzz_u8(in);
    bool has_id = b & 1, with_fd = (b & 6) != 0, with_opaque = b & 8;
    int64_t id = has_id ? pick_id(in) : 0, got = -100;
    MMember mm = { .fd = -1, .has_opaque = with_opaque };
    FdPassError err;
    size_t pos;
    MSet *s;
    int rc;

    if (with_opaque) {
        snprintf(mm.opaque, sizeof(mm.opaque), "o%u", fuzz_u8(in));
    }
    if (with_fd) {
        mm.fd = new_member_fd((b >> 4) & 3, &mm.ino, &mm.flags);
    }
    if (has_id && id >= 0) {
        s = model_find(m, id, &pos);
    } else {
        s = NULL;
        if (!has_id) {
            for (pos = 0; pos < m->ns && m->sets[pos].id == (int64_t)pos; pos++) {
            }
            id = (int64_t)pos;
        }
    }
    /* Keep the model bounded: skip an add that would overflow it. */
    if (mm.fd >= 0 && ((!s && m->ns == MAX_SETS) || (s && s->nm == MAX_MEMBERS))) {
        close(mm.fd);
        return;
    }

    rc = fdpass_sets_add_fd(sets, has_id, id, mm.fd, with_opaque ? mm.opaque : NULL, &got, &err);
    if (mm.fd < 0) {
        FUZZ_CHECK(rc == -EBADF && !strcmp(err.msg, "No file descriptor supplied via SCM_RIGHTS"));
        return;
    }
    if (id < 0) {
        FUZZ_CHECK(rc == -EINVAL && is_closed(mm.fd));
        return;
    }
    FUZZ_CHECK(rc == 0 && got == id);
    if (!s) {
        memmove(&m->sets[pos + 1], &m->sets[pos], (m->ns - pos) * sizeof(m->sets[0]));
        m->ns++;
        s = &m->sets[pos];
        s->id = id;
        s->nm = s->nd = 0;
    }
    s->m[s->nm++] = mm;
}

static void op_remove_fd(FuzzIn *in, FdPassSets *sets, Model *m)
{
    uint8_t b = fuzz_u8(in);
    int64_t id = (b & 1) && m->ns ? m->sets[fuzz_u8(in) % m->ns].id : pick_id(in);
    bool has_fd = b & 2;
    int64_t fd = -1;
    size_t pos;
    MSet *s = model_find(m, id, &pos);
    FdPassError err;
    char want[128];
    int rc;

    if (has_fd) {
        fd = (b & 4) && s && s->nm ? s->m[fuzz_u8(in) % s->nm].fd : (int64_t)fuzz_u8(in) - 8;
    }
    rc = fdpass_sets_remove_fd(sets, id, has_fd, fd, &err);

    size_t idx = 0;
    if (s && has_fd) {
        while (idx < s->nm && s->m[idx].fd != fd) {
            idx++;
        }
    }
    if (!s || (has_fd && idx == s->nm)) {
        if (has_fd) {
            snprintf(want, sizeof(want),
                     "File descriptor named 'fdset-id:%" PRId64 ", fd:%" PRId64 "' not found", id,
                     fd);
        } else {
            snprintf(want, sizeof(want), "File descriptor named 'fdset-id:%" PRId64 "' not found",
                     id);
        }
        FUZZ_CHECK(rc == -ENOENT && !strcmp(err.msg, want));
        return;
    }
    FUZZ_CHECK(rc == 0);
    if (has_fd) {
        FUZZ_CHECK(is_closed(s->m[idx].fd));
        memmove(&s->m[idx], &s->m[idx + 1], (s->nm - idx - 1) * sizeof(s->m[0]));
        s->nm--;
    } else {
        for (size_t i = 0; i < s->nm; i++) {
            FUZZ_CHECK(is_closed(s->m[i].fd));
        }
        s->nm = 0;
    }
    model_cleanup(m, pos);
}

static void op_open(FuzzIn *in, FdPassSets *sets, Model *m)
{
    static const int modes[3] = { O_RDONLY, O_WRONLY, O_RDWR };
    uint8_t b = fuzz_u8(in);
    int64_t id = (b & 1) && m->ns ? m->sets[fuzz_u8(in) % m->ns].id : (int64_t)(fuzz_u8(in) % 9);
    int flags = modes[(b >> 1) % 3] | ((b & 8) ? O_DIRECT : 0) | ((b & 16) ? O_NONBLOCK : 0);
    size_t pos;
    MSet *s = model_find(m, id, &pos);
    const MMember *want = NULL;
    char path[48];
    FdPassError err;
    int d;

    snprintf(path, sizeof(path), "/dev/fdset/%" PRId64, id);
    d = fdpass_sets_open(sets, path, flags, &err);
    if (id > INT_MAX) {
        /* add-fd takes any int64 id, but a path only names 0..INT_MAX. */
        FUZZ_CHECK(d == -EINVAL);
        return;
    }
    if (!s) {
        FUZZ_CHECK(d == -ENOENT);
        return;
    }
    for (size_t i = s->nm; i-- > 0;) {
        if (s->m[i].flags == (flags & (O_ACCMODE | O_DIRECT))) {
            want = &s->m[i];
            break;
        }
    }
    if (!want) {
        FUZZ_CHECK(d == -EACCES);
        return;
    }
    if (s->nd == MAX_DUPS) {
        /* The model is full: undo through the library. */
        FUZZ_CHECK(d >= 0 && fdpass_sets_close(sets, d) == 0);
        return;
    }
    struct stat st;
    FUZZ_CHECK(d >= 0 && fstat(d, &st) == 0 && st.st_ino == want->ino);
    FUZZ_CHECK((fcntl(d, F_GETFL) & O_ACCMODE) == (flags & O_ACCMODE));
    s->dups[s->nd++] = d;
}

/* Closes a dup through the library (or tries a descriptor that is none). */
static void op_close(FuzzIn *in, FdPassSets *sets, Model *m)
{
    uint8_t b = fuzz_u8(in);
    size_t with_dups[MAX_SETS], n = 0;

    for (size_t i = 0; i < m->ns; i++) {
        if (m->sets[i].nd) {
            with_dups[n++] = i;
        }
    }
    if (n == 0 || (b & 1)) {
        int fd = (int)fuzz_u8(in);

        for (size_t i = 0; i < m->ns; i++) {
            for (size_t k = 0; k < m->sets[i].nd; k++) {
                if (m->sets[i].dups[k] == fd) {
                    return; /* happens to be a dup: the other branch covers it */
                }
            }
        }
        FUZZ_CHECK(fdpass_sets_close(sets, fd) == -ENOENT);
        FUZZ_CHECK(fdpass_sets_find_dup(sets, fd) == -ENOENT);
        return;
    }

    size_t pos = with_dups[fuzz_u8(in) % n];
    MSet *s = &m->sets[pos];
    size_t k = fuzz_u8(in) % s->nd;
    int d = s->dups[k];

    FUZZ_CHECK(fdpass_sets_find_dup(sets, d) == s->id);
    FUZZ_CHECK(fdpass_sets_close(sets, d) == 0 && is_closed(d));
    s->dups[k] = s->dups[--s->nd];
    if (s->nd == 0) {
        model_cleanup(m, pos);
    }
}

static void op_detach(Model *m, FdPassSets *sets)
{
    fdpass_sets_monitor_detached(sets);
    if (m->monitors) {
        m->monitors--;
    }
    for (size_t i = 0; i < m->ns;) {
        size_t before = m->ns;

        model_cleanup(m, i);
        if (m->ns == before) {
            i++;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size };
    FdPassNamed *named;
    FdPassSets *sets;
    Model m = { .ns = 0 };
    int before = fuzz_count_fds();

    for (int i = 0; i < NAMES; i++) {
        m.named[i] = -1;
    }
    if (fdpass_named_new(&named) < 0 || fdpass_sets_new(&sets) < 0) {
        abort();
    }

    for (int op = 0; op < MAX_OPS && !fuzz_done(&in); op++) {
        switch (fuzz_u8(&in) % 12) {
        case 0:
            op_getfd(&in, named, &m);
            break;
        case 1:
            op_closefd_or_take(&in, named, &m, false);
            break;
        case 2:
            op_closefd_or_take(&in, named, &m, true);
            break;
        case 3:
        case 4:
            op_add_fd(&in, sets, &m);
            break;
        case 5:
            op_remove_fd(&in, sets, &m);
            break;
        case 6:
        case 7:
            op_open(&in, sets, &m);
            break;
        case 8:
            op_close(&in, sets, &m);
            break;
        case 9:
            fdpass_sets_monitor_attached(sets);
            m.monitors++;
            break;
        case 10:
            op_detach(&m, sets);
            break;
        default:
            m.legacy = !m.legacy;
            fdpass_sets_set_legacy_cleanup(sets, m.legacy);
            break;
        }
        check_all(sets, named, &m);
    }

    /* Dups belong to their users: the library leaves them open on free. */
    fdpass_sets_free(sets);
    fdpass_named_free(named);
    for (size_t i = 0; i < m.ns; i++) {
        for (size_t k = 0; k < m.sets[i].nd; k++) {
            FUZZ_CHECK(close(m.sets[i].dups[k]) == 0);
        }
    }
    FUZZ_CHECK(fuzz_count_fds() == before);
    return 0;
}
