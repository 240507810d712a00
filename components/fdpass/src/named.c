/* SPDX-License-Identifier: MIT */
/* Per-monitor named descriptors: QMP getfd / closefd, monitor_get_fd(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fdpass-private.h"

typedef struct NamedFd {
    char *name;
    int fd;
} NamedFd;

struct FdPassNamed {
    NamedFd *entries;
    size_t n, cap;
};

int fdpass_named_new(FdPassNamed **ret)
{
    FdPassNamed *store;

    if (!ret) {
        return -EINVAL;
    }
    store = calloc(1, sizeof(*store));
    if (!store) {
        return -ENOMEM;
    }
    *ret = store;
    return 0;
}

void fdpass_named_free(FdPassNamed *store)
{
    if (!store) {
        return;
    }
    for (size_t i = 0; i < store->n; i++) {
        fdpass_close_quiet(store->entries[i].fd);
        free(store->entries[i].name);
    }
    free(store->entries);
    free(store);
}

static NamedFd *named_find(const FdPassNamed *store, const char *name)
{
    for (size_t i = 0; i < store->n; i++) {
        if (strcmp(store->entries[i].name, name) == 0) {
            return &store->entries[i];
        }
    }
    return NULL;
}

/* Forgets @entry (a member of @store) and returns its descriptor. */
static int named_remove(FdPassNamed *store, NamedFd *entry)
{
    size_t i = (size_t)(entry - store->entries);
    int fd = entry->fd;

    free(entry->name);
    memmove(&store->entries[i], &store->entries[i + 1],
            (store->n - i - 1) * sizeof(store->entries[0]));
    store->n--;
    return fd;
}

int fdpass_named_getfd(FdPassNamed *store, const char *name, int fd, FdPassError *err)
{
    NamedFd *old;
    char *copy;

    if (!store) {
        fdpass_close_quiet(fd);
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    if (fd < 0) {
        return fdpass_error(err, -EBADF, "No file descriptor supplied via SCM_RIGHTS");
    }
    if (!name) {
        fdpass_close_quiet(fd);
        return fdpass_error(err, -EINVAL, "Parameter 'fdname' is missing");
    }
    if (name[0] >= '0' && name[0] <= '9') {
        fdpass_close_quiet(fd);
        return fdpass_error(err, -EINVAL,
                            "Parameter 'fdname' expects a name not starting with a digit");
    }

    old = named_find(store, name);
    if (old) {
        int prev = old->fd;

        old->fd = fd;
        if (prev != fd) {
            fdpass_close_quiet(prev);
        }
        return 0;
    }

    copy = strdup(name);
    if (!copy || fdpass_reserve((void **)&store->entries, &store->cap, store->n + 1,
                                sizeof(store->entries[0])) < 0) {
        free(copy);
        fdpass_close_quiet(fd);
        return fdpass_error(err, -ENOMEM, "Out of memory");
    }
    store->entries[store->n].name = copy;
    store->entries[store->n].fd = fd;
    store->n++;
    return 0;
}

int fdpass_named_closefd(FdPassNamed *store, const char *name, FdPassError *err)
{
    NamedFd *entry;

    if (!store || !name) {
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    entry = named_find(store, name);
    if (!entry) {
        return fdpass_error(err, -ENOENT, "File descriptor named '%s' not found", name);
    }
    fdpass_close_quiet(named_remove(store, entry));
    return 0;
}

int fdpass_named_take(FdPassNamed *store, const char *name, FdPassError *err)
{
    NamedFd *entry;

    if (!store || !name) {
        return fdpass_error(err, -EINVAL, "Invalid argument");
    }
    entry = named_find(store, name);
    if (!entry) {
        return fdpass_error(err, -ENOENT, "File descriptor named '%s' has not been found",
                            name);
    }
    return named_remove(store, entry);
}

size_t fdpass_named_count(const FdPassNamed *store)
{
    return store ? store->n : 0;
}
