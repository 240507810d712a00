/* SPDX-License-Identifier: MIT */
/*
 * The shadow virtqueue as a TPath of the test harness: the workload's guest
 * ring reaches the back-end through an SvqDev that starts on or off and can
 * be toggled every N completions, always at a point where the workload has
 * requests outstanding (submitted and kicked, not reaped).
 */
#ifndef VHOST_SVQ_TESTS_SVQ_PATH_H
#define VHOST_SVQ_TESTS_SVQ_PATH_H

#include "harness.h"
#include "vhost-svq/svq.h"

typedef struct SvqPath {
    TPath path;          /* first: the harness sees this */
    bool start_enabled;
    unsigned toggle_every; /* 0: never toggle */
    bool drain_all;      /* switches wait for every request (quiet_ms 0) */
    SvqDev *svq;
    uint64_t next_toggle;
    unsigned toggles;
    unsigned breaks;     /* error function calls */
    uint64_t outstanding_at_toggles; /* requests outstanding, summed */
} SvqPath;

/* A path named @name; zero @toggle_every for a fixed mode. */
void svq_path_init(SvqPath *p, const char *name, bool start_enabled, unsigned toggle_every);

#endif /* VHOST_SVQ_TESTS_SVQ_PATH_H */
