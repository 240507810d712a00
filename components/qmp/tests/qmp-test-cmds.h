/* SPDX-License-Identifier: MIT */
#ifndef QMP_TEST_CMDS_H
#define QMP_TEST_CMDS_H

#include "qmp/qmp.h"

/*
 * Registers the test commands:
 *  test-types {s?, i?, i8?, ..., req}: every argument type; returns args
 *  test-echo: no arguments, allow-oob; returns {}
 *  test-fail {class}: fails with that class (unknown: a foreign GError)
 *  test-pre: allowed before negotiation
 *  test-fd-count: returns the number of descriptors attached
 *  test-take-fd: takes one descriptor, closes it, returns whether it had one
 *  test-disconnect: disconnects its own monitor
 *  test-emit {name}: emits an event without data
 *  test-silent-fail: returns false without an error
 */
void tc_register(QmpServer *srv);

#endif
