/* SPDX-License-Identifier: MIT */
/*
 * Process-wide fd sets: QMP add-fd / remove-fd / query-fdsets and opening
 * "/dev/fdset/N", with QEMU's monitor/fds.c semantics (see the header for
 * which QEMU release each rule comes from).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdpass-private.h"

#define FDSET_PREFIX "/dev/fdset/"

typedef struct FdSet {
    int64_t id;
    /* In the order added; opaque strings are owned. */
    FdPassFdInfo *members;
    size_t nmembers, members_cap;
    /* Dups handed out by fdpass_sets_open() and not closed yet. */
    int *dups;
    size_t ndups, dups_cap;
} FdSet;

struct FdPassSets {
    FdSet **sets; /* ascending id */
    size_t nsets, sets_cap;
    unsigned monitors;
    bool legacy_cleanup;
};

int fdpass_sets_new(FdPassSets **ret)
{
    FdPassSets *sets;

    if (!ret) {
        return -EINVAL;
    }
    sets = calloc(1, sizeof(*sets));
    if (!sets) {
        return -ENOMEM;
    }
    *ret = sets;
    return 0;
}

static void member_close(FdPassFdInfo *m)
{
    fdpass_close_quiet(m->fd);
    free((char *)m->opaque);
}

static void set_free(FdSet *set)
{
    for (size_t i = 0; i < set->nmembers; i++) {
        member_close(&set->members[i]);
    }
    free(set->members);
    free(set->dups);
    free(set);
}

void fdpass_sets_free(FdPassSets *sets)
{
    if (!sets) {
        return;
    }
    for (size_t i = 0; i < sets->nsets; i++) {
        set_free(sets->sets[i]);
    }
    free(sets->sets);
    free(sets);
}

/* Index of the first set whose id is >= @id (sets->nsets if none). */
static size_t set_lower_bound(const FdPassSets *sets, int64_t id)
{
    size_t lo = 0, hi = sets->nsets;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sets->sets[mid]->id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static FdSet *set_find(const FdPassSets *sets, int64_t id, size_t *ret_pos)
{
    size_t pos = set_lower_bound(sets, id);

    if (ret_pos) {
        *ret_pos = pos;
    }
    return pos < sets->nsets && sets->sets[pos]->id == id ? sets->sets[pos] : NULL;
}

static void set_unlink(FdPassSets *sets, size_t pos)
{
    set_free(sets->sets[pos]);
    memmove(&sets->sets[pos], &sets->sets[pos + 1],
            (sets->nsets - pos - 1) * sizeof(sets->sets[0]));
    sets->nsets--;
}

/*
 * The cleanup run whenever a set may have become unused (QEMU's
 * monitor_fdset_cleanup() / monitor_fdset_free_if_empty()). Returns true if
 * the set at @pos was freed.
 */
static bool set_cleanup(FdPassSets *sets, size_t pos)
{
    FdSet *set = sets->sets[pos];

    if (sets->legacy_cleanup && sets->monitors == 0 && set->ndups == 0) {
        for (size_t i = 0; i < set->nmembers; i++) {
            member_close(&set->members[i]);
        }
        set->nmembers = 0;
    }
    if (set->nmembers == 0 && set->ndups == 0) {
        set_unlink(sets, pos);
        return true;
    }
    return false;
}

int fdpass_sets_add_fd(FdPassSets *sets, bool has_fdset_id, int64_t fdset_id, int fd,
                       const char *opaque, int64_t *ret_fdset_id, FdPassError *err)
{
    FdSet *set = NULL, *fresh = NULL;
    char *opaque_copy = NULL;
    size_t pos;

    if (!sets) {
        fdpass_close_quiet(fd);
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    if (fd < 0) {
        return fdpass_error(err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");
    }
    if (has_fdset_id) {
        if (fdset_id < 0) {
            fdpass_close_quiet(fd);
            return fdpass_error(err, -EINVAL,
                                "Parameter 'fdset-id' expects a non-negative value");
        }
        set = set_find(sets, fdset_id, &pos);
    } else {
        /* Ids are unique, sorted and >= 0: the first index i not holding id i
         * is the lowest free id. */
        for (pos = 0; pos < sets->nsets && sets->sets[pos]->id == (int64_t)pos; pos++) {
        }
        fdset_id = (int64_t)pos;
    }

    /* Allocate everything first so that a failure changes nothing. */
    if (opaque) {
        opaque_copy = strdup(opaque);
        if (!opaque_copy) {
            goto nomem;
        }
    }
    if (!set) {
        fresh = calloc(1, sizeof(*fresh));
        if (!fresh || fdpass_reserve((void **)&sets->sets, &sets->sets_cap, sets->nsets + 1,
                                     sizeof(sets->sets[0])) < 0) {
            goto nomem;
        }
        fresh->id = fdset_id;
        set = fresh;
    }
    if (fdpass_reserve((void **)&set->members, &set->members_cap, set->nmembers + 1,
                       sizeof(set->members[0])) < 0) {
        goto nomem;
    }

    if (fresh) {
        memmove(&sets->sets[pos + 1], &sets->sets[pos],
                (sets->nsets - pos) * sizeof(sets->sets[0]));
        sets->sets[pos] = fresh;
        sets->nsets++;
    }
    set->members[set->nmembers].fd = fd;
    set->members[set->nmembers].opaque = opaque_copy;
    set->nmembers++;
    if (ret_fdset_id) {
        *ret_fdset_id = set->id;
    }
    return 0;

nomem:
    if (fresh) {
        free(fresh->members);
        free(fresh);
    }
    free(opaque_copy);
    fdpass_close_quiet(fd);
    return fdpass_error(err, -ENOMEM, "Out of memory");
}

int fdpass_sets_remove_fd(FdPassSets *sets, int64_t fdset_id, bool has_fd, int64_t fd,
                          FdPassError *err)
{
    FdSet *set;
    size_t pos;

    if (!sets) {
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    set = set_find(sets, fdset_id, &pos);
    if (set && has_fd) {
        size_t i;

        for (i = 0; i < set->nmembers && set->members[i].fd != fd; i++) {
        }
        if (i == set->nmembers) {
            set = NULL;
        } else {
            member_close(&set->members[i]);
            memmove(&set->members[i], &set->members[i + 1],
                    (set->nmembers - i - 1) * sizeof(set->members[0]));
            set->nmembers--;
        }
    } else if (set) {
        for (size_t i = 0; i < set->nmembers; i++) {
            member_close(&set->members[i]);
        }
        set->nmembers = 0;
    }
    if (!set) {
        if (has_fd) {
            return fdpass_error(err, -ENOENT,
                                "File descriptor named 'fdset-id:%" PRId64 ", fd:%" PRId64
                                "' not found",
                                fdset_id, fd);
        }
        return fdpass_error(err, -ENOENT,
                            "File descriptor named 'fdset-id:%" PRId64 "' not found",
                            fdset_id);
    }
    set_cleanup(sets, pos);
    return 0;
}

int fdpass_sets_query(const FdPassSets *sets, FdPassSetVisitor visit, void *opaque)
{
    if (!sets || !visit) {
        return -EINVAL;
    }
    for (size_t i = sets->nsets; i-- > 0;) {
        const FdSet *set = sets->sets[i];

        visit(opaque, set->id, set->members, set->nmembers);
    }
    return (int)sets->nsets;
}

/* QEMU's qemu_parse_fd(): a whole base-10 number in 0..INT_MAX, else -1. */
static int64_t parse_fdset_id(const char *s)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || errno != 0 || *end != '\0' || v < 0 || v > INT_MAX) {
        return -1;
    }
    return v;
}

static bool flags_match(int want, int have)
{
    if ((want & O_ACCMODE) != (have & O_ACCMODE)) {
        return false;
    }
#ifdef O_DIRECT
    if ((want & O_DIRECT) != (have & O_DIRECT)) {
        return false;
    }
#endif
    return true;
}

/*
 * Duplicates @fd and gives the dup what open(@flags) would have given it, as
 * far as that is possible on an open file (QEMU's qemu_dup_flags()).
 * Returns the dup or a negative errno.
 */
static int dup_with_flags(int fd, int flags)
{
    int settable = O_APPEND | O_ASYNC | O_NONBLOCK;
    int dup_fd, cur, rc;

#ifdef O_NOATIME
    settable |= O_NOATIME;
#endif
#ifdef O_DIRECT
    settable |= O_DIRECT;
#endif

    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        return -errno;
    }
    cur = fcntl(dup_fd, F_GETFL);
    if (cur < 0) {
        goto fail_errno;
    }
    if ((flags & O_SYNC) != (cur & O_SYNC)) {
        /* O_SYNC cannot be changed after open(). */
        rc = -EINVAL;
        goto fail;
    }
    if (fcntl(dup_fd, F_SETFL, (cur & ~settable) | (flags & settable)) < 0) {
        goto fail_errno;
    }
    if ((flags & O_TRUNC) || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
        if (ftruncate(dup_fd, 0) < 0) {
            goto fail_errno;
        }
    }
    return dup_fd;

fail_errno:
    rc = -errno;
fail:
    fdpass_close_quiet(dup_fd);
    return rc;
}

int fdpass_sets_open(FdPassSets *sets, const char *path, int flags, FdPassError *err)
{
    const FdPassFdInfo *match = NULL;
    int64_t id;
    FdSet *set;
    int dup_fd;

    if (!sets || !path) {
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    if (strncmp(path, FDSET_PREFIX, strlen(FDSET_PREFIX)) != 0) {
        return fdpass_error(err, -EINVAL, "Path '%s' does not name an fd set", path);
    }
    id = parse_fdset_id(path + strlen(FDSET_PREFIX));
    if (id < 0) {
        return fdpass_error(err, -EINVAL, "Could not parse fdset %s", path);
    }
    set = set_find(sets, id, NULL);
    if (!set) {
        return fdpass_error(err, -ENOENT, "Failed to find fdset /dev/fdset/%" PRId64, id);
    }

    /* QEMU keeps members newest first and takes the first that matches. */
    for (size_t i = set->nmembers; i-- > 0;) {
        int have = fcntl(set->members[i].fd, F_GETFL);

        if (have < 0) {
            return fdpass_error(err, -errno, "Failed to read file status flags for fd=%d",
                                set->members[i].fd);
        }
        if (flags_match(flags, have)) {
            match = &set->members[i];
            break;
        }
    }
    if (!match) {
        return fdpass_error(err, -EACCES,
                            "Failed to find file descriptor with matching flags=0x%x",
                            (unsigned)flags);
    }

    if (fdpass_reserve((void **)&set->dups, &set->dups_cap, set->ndups + 1,
                       sizeof(set->dups[0])) < 0) {
        return fdpass_error(err, -ENOMEM, "Out of memory");
    }
    dup_fd = dup_with_flags(match->fd, flags);
    if (dup_fd < 0) {
        return fdpass_error(err, dup_fd, "Failed to dup() given file descriptor fd=%d",
                            match->fd);
    }
    set->dups[set->ndups++] = dup_fd;
    return dup_fd;
}

/* Finds the set holding dup @fd; returns its index or -1. */
static ssize_t dup_locate(const FdPassSets *sets, int fd, size_t *ret_dup)
{
    for (size_t s = 0; s < sets->nsets; s++) {
        const FdSet *set = sets->sets[s];

        for (size_t d = 0; d < set->ndups; d++) {
            if (set->dups[d] == fd) {
                *ret_dup = d;
                return (ssize_t)s;
            }
        }
    }
    return -1;
}

int fdpass_sets_close(FdPassSets *sets, int fd)
{
    FdSet *set;
    size_t d;
    ssize_t s;

    if (!sets) {
        return -EINVAL;
    }
    s = dup_locate(sets, fd, &d);
    if (s < 0) {
        return -ENOENT;
    }
    set = sets->sets[s];
    set->dups[d] = set->dups[--set->ndups];
    fdpass_close_quiet(fd);
    if (set->ndups == 0) {
        set_cleanup(sets, (size_t)s);
    }
    return 0;
}

int64_t fdpass_sets_find_dup(const FdPassSets *sets, int fd)
{
    size_t d;
    ssize_t s;

    if (!sets) {
        return -EINVAL;
    }
    s = dup_locate(sets, fd, &d);
    return s < 0 ? -ENOENT : sets->sets[s]->id;
}

void fdpass_sets_monitor_attached(FdPassSets *sets)
{
    if (sets && sets->monitors < UINT_MAX) {
        sets->monitors++;
    }
}

void fdpass_sets_monitor_detached(FdPassSets *sets)
{
    if (!sets) {
        return;
    }
    if (sets->monitors > 0) {
        sets->monitors--;
    }
    for (size_t i = 0; i < sets->nsets;) {
        if (!set_cleanup(sets, i)) {
            i++;
        }
    }
}

void fdpass_sets_set_legacy_cleanup(FdPassSets *sets, bool enable)
{
    if (sets) {
        sets->legacy_cleanup = enable;
    }
}

size_t fdpass_sets_count(const FdPassSets *sets)
{
    return sets ? sets->nsets : 0;
}
