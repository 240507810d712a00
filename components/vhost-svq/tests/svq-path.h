/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue as a TPath of the test harness: the workload's guest
 * ring reaches the back-end through an SvqDev that starts on or off and can
 * be toggled every N completions while requests are in flight.
 */
#ifndef VHOST_SVQ_TESTS_SVQ_PATH_H
#define VHOST_SVQ_TESTS_SVQ_PATH_H

#include "harness.h"
#include "vhost-svq/svq.h"

typedef struct SvqPath {
    TPath path;          /* first: the harness sees this */
    bool start_enabled;
    unsigned toggle_every; /* 0: never toggle */
    SvqDev *svq;
    uint64_t next_toggle;
    unsigned toggles;
    unsigned breaks;     /* error function calls */
    TGuest *g;
    uint64_t inflight_at_toggles; /* guest requests outstanding, summed */
} SvqPath;

/* A path named @name; zero @toggle_every for a fixed mode. */
void svq_path_init(SvqPath *p, const char *name, bool start_enabled, unsigned toggle_every);
/* Switches now (the test fails on error). */
void svq_path_toggle(SvqPath *p);

#endif /* VHOST_SVQ_TESTS_SVQ_PATH_H */
