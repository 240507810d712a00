/* SPDX-License-Identifier: MIT */
/* A GSource that drives an SvqDev from a GMainContext. */
#include "svq-private.h"

typedef struct SvqWatch {
    int fd;
    gpointer tag;
} SvqWatch;

typedef struct SvqSource {
    GSource base;
    SvqDev *svq;     /* NULL once detached */
    GArray *watches; /* SvqWatch */
} SvqSource;

static void source_add_watch(int fd, void *opaque)
{
    SvqSource *s = opaque;
    SvqWatch w = { .fd = fd };

    if (g_source_is_destroyed(&s->base)) {
        return;
    }
    w.tag = g_source_add_unix_fd(&s->base, fd, G_IO_IN);
    g_array_append_val(s->watches, w);
}

static void source_remove_watch(int fd, void *opaque)
{
    SvqSource *s = opaque;

    for (guint i = 0; i < s->watches->len; i++) {
        SvqWatch *w = &g_array_index(s->watches, SvqWatch, i);

        if (w->fd == fd) {
            if (!g_source_is_destroyed(&s->base)) {
                g_source_remove_unix_fd(&s->base, w->tag);
            }
            g_array_remove_index_fast(s->watches, i);
            return;
        }
    }
}

static gboolean source_dispatch(GSource *base, GSourceFunc cb, gpointer data)
{
    SvqSource *s = (SvqSource *)base;
    int ready[2 * VHU_MAX_QUEUES];
    unsigned n = 0;

    (void)cb;
    (void)data;
    if (!s->svq) {
        return G_SOURCE_REMOVE;
    }
    /* Collect first: dispatching may change the watches. */
    for (guint i = 0; i < s->watches->len && n < G_N_ELEMENTS(ready); i++) {
        SvqWatch *w = &g_array_index(s->watches, SvqWatch, i);

        if (g_source_query_unix_fd(base, w->tag) & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
            ready[n++] = w->fd;
        }
    }
    for (unsigned i = 0; i < n && s->svq; i++) {
        svq_dispatch(s->svq, ready[i]);
    }
    return G_SOURCE_CONTINUE;
}

static void source_finalize(GSource *base)
{
    SvqSource *s = (SvqSource *)base;

    if (s->svq) {
        SvqDev *svq = s->svq;

        s->svq = NULL;
        svq->source = NULL;
        svq_set_loop(svq, NULL, NULL);
    }
    g_array_free(s->watches, TRUE);
}

static GSourceFuncs svq_source_funcs = {
    .dispatch = source_dispatch,
    .finalize = source_finalize,
};

GSource *svq_source_new(SvqDev *svq)
{
    static const SvqLoop loop = {
        .add_watch = source_add_watch,
        .remove_watch = source_remove_watch,
    };
    SvqSource *s;

    if (!svq) {
        return NULL;
    }
    svq_source_detach(svq);
    s = (SvqSource *)g_source_new(&svq_source_funcs, sizeof(SvqSource));
    g_source_set_name(&s->base, "shadow virtqueue");
    s->svq = svq;
    s->watches = g_array_new(FALSE, FALSE, sizeof(SvqWatch));
    svq->source = &s->base;
    svq_set_loop(svq, &loop, s);
    return &s->base;
}

void svq_source_detach(SvqDev *svq)
{
    SvqSource *s = (SvqSource *)svq->source;

    if (!s) {
        return;
    }
    svq_set_loop(svq, NULL, NULL);
    svq->source = NULL;
    s->svq = NULL;
    g_source_destroy(&s->base);
}
