/* SPDX-License-Identifier: MIT */
/* A GSource that drives a VhuDev from a GMainContext. */
#include "vhu-private.h"

typedef struct VhuSource {
    GSource base;
    VhuDev *dev;     /* NULL once detached */
    gpointer tag;    /* the watched fd */
    int fd;
} VhuSource;

static void source_add_watch(int fd, unsigned events, void *opaque)
{
    VhuSource *s = opaque;
    GIOCondition cond = G_IO_HUP | G_IO_ERR;

    if (g_source_is_destroyed(&s->base)) {
        return;
    }
    if (events & VHU_EVENT_IN) {
        cond |= G_IO_IN;
    }
    if (s->tag) {
        g_source_remove_unix_fd(&s->base, s->tag);
    }
    s->tag = g_source_add_unix_fd(&s->base, fd, cond);
    s->fd = fd;
}

static void source_remove_watch(int fd, void *opaque)
{
    VhuSource *s = opaque;

    if (s->tag && s->fd == fd && !g_source_is_destroyed(&s->base)) {
        g_source_remove_unix_fd(&s->base, s->tag);
    }
    if (s->fd == fd) {
        s->tag = NULL;
        s->fd = -1;
    }
}

static void source_set_timer(int64_t delay_ms, void *opaque)
{
    VhuSource *s = opaque;

    if (g_source_is_destroyed(&s->base)) {
        return;
    }
    g_source_set_ready_time(&s->base,
                            delay_ms < 0 ? -1 : g_get_monotonic_time() + delay_ms * 1000);
}

static gboolean source_dispatch(GSource *base, GSourceFunc cb, gpointer data)
{
    VhuSource *s = (VhuSource *)base;
    gint64 ready = g_source_get_ready_time(base);

    (void)cb;
    (void)data;
    if (!s->dev) {
        return G_SOURCE_REMOVE;
    }
    if (s->tag) {
        GIOCondition rev = g_source_query_unix_fd(base, s->tag);

        if (rev) {
            vhu_dispatch(s->dev, s->fd,
                         (rev & G_IO_IN ? VHU_EVENT_IN : 0) |
                             (rev & (G_IO_HUP | G_IO_ERR) ? VHU_EVENT_HUP : 0));
        }
    }
    if (s->dev && ready >= 0 && ready <= g_get_monotonic_time()) {
        g_source_set_ready_time(base, -1);
        vhu_dispatch_timer(s->dev);
    }
    return G_SOURCE_CONTINUE;
}

static void source_finalize(GSource *base)
{
    VhuSource *s = (VhuSource *)base;

    if (s->dev) {
        VhuDev *dev = s->dev;

        s->dev = NULL;
        dev->source = NULL;
        vhu_set_loop(dev, NULL, NULL);
    }
}

static GSourceFuncs vhu_source_funcs = {
    .dispatch = source_dispatch,
    .finalize = source_finalize,
};

GSource *vhu_source_new(VhuDev *dev)
{
    static const VhuLoop loop = {
        .add_watch = source_add_watch,
        .remove_watch = source_remove_watch,
        .set_timer = source_set_timer,
    };
    VhuSource *s;

    if (!dev) {
        return NULL;
    }
    vhu_source_detach(dev);
    s = (VhuSource *)g_source_new(&vhu_source_funcs, sizeof(VhuSource));
    g_source_set_name(&s->base, "vhost-user front-end");
    s->dev = dev;
    s->fd = -1;
    dev->source = &s->base;
    vhu_set_loop(dev, &loop, s);
    return &s->base;
}

void vhu_source_detach(VhuDev *dev)
{
    VhuSource *s = (VhuSource *)dev->source;

    if (!s) {
        return;
    }
    /* Forget the loop while the source is certainly alive, then let go. */
    vhu_set_loop(dev, NULL, NULL);
    dev->source = NULL;
    s->dev = NULL;
    g_source_destroy(&s->base);
}
