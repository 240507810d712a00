/* SPDX-License-Identifier: MIT */
/*
 * A GSource running a QmpServer in any GMainContext: the server's watch
 * callbacks become g_source_add/modify/remove_unix_fd() calls, its timers
 * the source's timeout.
 */
#include "qmp-priv.h"

typedef struct QmpSource {
    GSource base;
    QmpServer *server;          /* NULL once the server is gone */
    GHashTable *tags;           /* fd -> tag */
} QmpSource;

static GIOCondition to_condition(short events)
{
    GIOCondition c = 0;

    if (events & POLLIN) {
        c |= G_IO_IN;
    }
    if (events & POLLOUT) {
        c |= G_IO_OUT;
    }
    return c;
}

static short to_events(GIOCondition c)
{
    short e = 0;

    if (c & G_IO_IN) {
        e |= POLLIN;
    }
    if (c & G_IO_OUT) {
        e |= POLLOUT;
    }
    if (c & G_IO_HUP) {
        e |= POLLHUP;
    }
    if (c & G_IO_ERR) {
        e |= POLLERR;
    }
    return e;
}

static void source_update(void *opaque, int fd, short events)
{
    QmpSource *qs = opaque;
    gpointer tag = g_hash_table_lookup(qs->tags, GINT_TO_POINTER(fd));

    if (tag) {
        g_source_modify_unix_fd(&qs->base, tag, to_condition(events));
    } else {
        tag = g_source_add_unix_fd(&qs->base, fd, to_condition(events));
        g_hash_table_insert(qs->tags, GINT_TO_POINTER(fd), tag);
    }
}

static void source_remove(void *opaque, int fd)
{
    QmpSource *qs = opaque;
    gpointer tag = g_hash_table_lookup(qs->tags, GINT_TO_POINTER(fd));

    if (tag) {
        g_source_remove_unix_fd(&qs->base, tag);
        g_hash_table_remove(qs->tags, GINT_TO_POINTER(fd));
    }
}

static gboolean source_prepare(GSource *src, gint *timeout)
{
    QmpSource *qs = (QmpSource *)src;

    *timeout = qs->server ? qmp_server_timeout_ms(qs->server) : -1;
    return *timeout == 0;
}

static gboolean source_check(GSource *src)
{
    QmpSource *qs = (QmpSource *)src;
    GHashTableIter it;
    gpointer tag;

    if (!qs->server) {
        return FALSE;
    }
    g_hash_table_iter_init(&it, qs->tags);
    while (g_hash_table_iter_next(&it, NULL, &tag)) {
        if (g_source_query_unix_fd(src, tag)) {
            return TRUE;
        }
    }
    return qmp_server_timeout_ms(qs->server) == 0;
}

static gboolean source_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    QmpSource *qs = (QmpSource *)src;
    GHashTableIter it;
    gpointer key, tag;
    GArray *ready;

    (void)cb;
    (void)data;
    if (!qs->server) {
        return G_SOURCE_REMOVE;
    }
    /* Collect first: dispatching adds and removes fds. */
    ready = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
    g_hash_table_iter_init(&it, qs->tags);
    while (g_hash_table_iter_next(&it, &key, &tag)) {
        GIOCondition c = g_source_query_unix_fd(src, tag);
        if (c) {
            struct pollfd p = { .fd = GPOINTER_TO_INT(key), .revents = to_events(c) };
            g_array_append_val(ready, p);
        }
    }
    qmp_server_dispatch_pollfds(qs->server, (const struct pollfd *)(void *)ready->data,
                                ready->len);
    g_array_free(ready, TRUE);
    return G_SOURCE_CONTINUE;
}

static void source_finalize(GSource *src)
{
    QmpSource *qs = (QmpSource *)src;

    if (qs->server) {
        qmp_server_set_watch(qs->server, NULL, NULL);
        qmp_server_set_source(qs->server, NULL);
        qs->server = NULL;
    }
    g_hash_table_unref(qs->tags);
}

static GSourceFuncs source_funcs = {
    .prepare = source_prepare,
    .check = source_check,
    .dispatch = source_dispatch,
    .finalize = source_finalize,
};

GSource *qmp_server_create_source(QmpServer *server)
{
    static const QmpWatchFuncs funcs = { source_update, source_remove };
    GSource *src = g_source_new(&source_funcs, sizeof(QmpSource));
    QmpSource *qs = (QmpSource *)src;

    g_source_set_name(src, "qmp-server");
    qs->server = server;
    qs->tags = g_hash_table_new(g_direct_hash, g_direct_equal);
    qmp_server_set_source(server, src);
    qmp_server_set_watch(server, &funcs, qs);
    return src;
}

guint qmp_server_attach(QmpServer *server, GMainContext *context)
{
    GSource *src = qmp_server_create_source(server);
    guint id = g_source_attach(src, context);

    g_source_unref(src);
    return id;
}

void qmp_source_server_gone(GSource *src)
{
    QmpSource *qs = (QmpSource *)src;
    GHashTableIter it;
    gpointer tag;

    g_hash_table_iter_init(&it, qs->tags);
    while (g_hash_table_iter_next(&it, NULL, &tag)) {
        g_source_remove_unix_fd(src, tag);
    }
    g_hash_table_remove_all(qs->tags);
    qs->server = NULL;
    g_source_destroy(src);
}
