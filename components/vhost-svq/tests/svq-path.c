/* SPDX-License-Identifier: MIT */
/* The shadow virtqueue as a TPath of the test harness (see svq-path.h). */
#include "svq-path.h"

#include <string.h>

static void on_error(SvqDev *svq, unsigned index, const GError *error, void *opaque)
{
    SvqPath *p = opaque;

    (void)svq;
    p->breaks++;
    cr_log_error("queue %u broke: %s", index, error->message);
}

static void path_start(TPath *tp, VhuDev *dev, TGuest *g)
{
    SvqPath *p = (SvqPath *)tp;
    GError *err = NULL;
    SvqOptions o;

    svq_options_init(&o);
    o.vhu = dev;
    o.guest_map = g->map;
    o.max_queue_size = g->qsize;
    o.enabled = p->start_enabled;
    if (p->drain_all) {
        o.quiet_ms = 0;
    }
    cr_assert(svq_new(&o, &p->svq, &err), "svq_new: %s", err ? err->message : "");
    svq_set_error_func(p->svq, on_error, p);
    cr_assert(svq_queue_start(p->svq, 0, &g->cfg, NULL, g->kick_fd, g->call_fd, &err),
              "svq_queue_start: %s", err ? err->message : "");
    cr_assert_eq(svq_queue_is_shadowed(p->svq, 0), p->start_enabled);
    p->next_toggle = p->toggle_every;
}

static void path_stop(TPath *tp, VhuDev *dev, TGuest *g)
{
    SvqPath *p = (SvqPath *)tp;

    (void)dev;
    (void)g;
    if (p->svq) {
        /* Hand the ring back first when the back-end can take it: a
         * libvhost-user back-end gives up when the memory table loses a
         * region its stopped ring was in (see svq_free()). */
        if (svq_is_enabled(p->svq)) {
            svq_disable(p->svq, NULL);
        }
        svq_queue_stop(p->svq, 0, NULL, NULL);
        svq_free(p->svq);
        p->svq = NULL;
    }
}

static int path_pollfds(TPath *tp, struct pollfd *pfd, int max)
{
    SvqPath *p = (SvqPath *)tp;
    int fds[2 * VHU_MAX_QUEUES];
    unsigned n = svq_get_fds(p->svq, fds, G_N_ELEMENTS(fds));

    for (unsigned i = 0; i < n && (int)i < max; i++) {
        pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    }
    return (int)MIN(n, (unsigned)max);
}

static void path_dispatch(TPath *tp, const struct pollfd *pfd, int n)
{
    SvqPath *p = (SvqPath *)tp;

    for (int i = 0; i < n; i++) {
        if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
            svq_dispatch(p->svq, pfd[i].fd);
        }
    }
}

/* Switches now, with @outstanding requests submitted and not reaped. */
static void toggle(SvqPath *p, unsigned outstanding)
{
    GError *err = NULL;
    bool on = !svq_is_enabled(p->svq);
    bool ok = on ? svq_enable(p->svq, &err) : svq_disable(p->svq, &err);

    p->outstanding_at_toggles += outstanding;
    cr_assert(ok, "toggle %u: %s", p->toggles, err ? err->message : "");
    cr_assert_eq(svq_is_enabled(p->svq), on);
    cr_assert_eq(svq_queue_is_shadowed(p->svq, 0), on);
    p->toggles++;
}

static void path_progress(TPath *tp, uint64_t completed, unsigned outstanding)
{
    SvqPath *p = (SvqPath *)tp;

    if (p->toggle_every && completed >= p->next_toggle) {
        cr_assert(outstanding > 0, "toggle %u with nothing outstanding", p->toggles);
        toggle(p, outstanding);
        p->next_toggle = completed + p->toggle_every;
    }
}

void svq_path_init(SvqPath *p, const char *name, bool start_enabled, unsigned toggle_every)
{
    memset(p, 0, sizeof(*p));
    p->path = (TPath){
        .name = name,
        .start = path_start,
        .stop = path_stop,
        .pollfds = path_pollfds,
        .dispatch = path_dispatch,
        .progress = path_progress,
    };
    p->start_enabled = start_enabled;
    p->toggle_every = toggle_every;
}
