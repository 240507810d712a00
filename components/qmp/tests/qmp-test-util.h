/* SPDX-License-Identifier: MIT */
/*
 * Test support: a server on a unix socket in a temporary directory, and a
 * raw socket client that sends bytes (with SCM_RIGHTS descriptors) and reads
 * CRLF-terminated lines. A client made with a server pointer pumps that
 * server from the same thread while it waits; one made without waits on its
 * socket only (for clients in their own threads).
 */
#ifndef QMP_TEST_UTIL_H
#define QMP_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "qmp/qmp.h"

/* Everything waits at most this long before the test fails. */
#define TU_TIMEOUT_MS 10000

typedef struct TuServer {
    QmpServer *srv;
    char *dir;
    char *path;
} TuServer;

/* A server with version 1.2.3 "test-pkg" (unless @cfg says otherwise),
 * listening on a unix socket. */
TuServer *tu_server_new(const QmpServerConfig *cfg);
void tu_server_free(TuServer *ts);

/* One poll() round of the server (at most @timeout_ms). */
void tu_pump(QmpServer *srv, int timeout_ms);

typedef struct TuClient {
    int fd;
    GString *in;
    QmpServer *pump;            /* server to run while waiting, or NULL */
} TuClient;

TuClient *tu_connect(const char *path, QmpServer *pump);
TuClient *tu_client_from_fd(int fd, QmpServer *pump);
void tu_client_free(TuClient *c);

/* Sends all of @data; with descriptors, in one sendmsg() (they travel with
 * the first byte). */
void tu_send(TuClient *c, const char *data, size_t len, const int *fds, size_t nfds);
void tu_send_str(TuClient *c, const char *s);

/* The next line without its CRLF (g_free it); the test fails if none
 * comes or the line does not end with CRLF. */
char *tu_line(TuClient *c);
/* The next line parsed (json_node_unref it). */
JsonNode *tu_json(TuClient *c);
/* Sends @cmd and returns the next line. */
char *tu_cmd(TuClient *c, const char *cmd);
JsonNode *tu_cmd_json(TuClient *c, const char *cmd);
/* Reads the greeting and negotiates. */
void tu_negotiate(TuClient *c);
/* Waits until the server closes the connection; false on timeout. */
bool tu_wait_closed(TuClient *c);
/* Whether a line is ready within @ms (pumping the server if any). */
bool tu_line_ready(TuClient *c, int ms);

/* Error class / desc of a reply, NULL when it is not an error. */
const char *tu_err_class(JsonNode *reply);
const char *tu_err_desc(JsonNode *reply);

/* Sends @cmd and checks the reply is exactly {"error": {"class": C,
 * "desc": D}} (plus the id, if @id_json is not NULL). */
void tu_expect_error(TuClient *c, const char *cmd, const char *cls, const char *desc);

/* Number of open descriptors of the process. */
int tu_fd_count(void);

/* A fresh descriptor to pass (a pipe end; the other end is closed). */
int tu_make_fd(void);

#endif
