/* SPDX-License-Identifier: MIT */
/*
 * The commands every QMP server has: qmp_capabilities, query-version,
 * query-commands, query-qmp-schema, and the fd commands of QEMU's
 * monitor/fds.c (getfd, closefd, add-fd, remove-fd, query-fdsets), which
 * forward to fdpass and its QEMU wording.
 */
#include <string.h>

#include "qmp-priv.h"

static bool fdpass_failed(GError **errp, int rc, const FdPassError *e)
{
    g_set_error_literal(errp, QMP_ERROR, QMP_ERROR_GENERIC,
                        e->msg[0] ? e->msg : g_strerror(-rc));
    return false;
}

static bool cmd_qmp_capabilities(QmpRequest *req, JsonObject *args, void *opaque,
                                 JsonNode **ret, GError **errp)
{
    QmpMonitor *mon = qmp_request_get_monitor(req);
    bool oob = false;

    (void)opaque;
    (void)ret;
    if (qmp_monitor_is_negotiated(mon)) {
        g_set_error_literal(errp, QMP_ERROR, QMP_ERROR_COMMAND_NOT_FOUND,
                            "Capabilities negotiation is already complete, command ignored");
        return false;
    }
    if (json_object_has_member(args, "enable")) {
        /* The only capability is "oob", always offered; the argument
         * check already refused any other value. */
        oob = json_array_get_length(json_object_get_array_member(args, "enable")) > 0;
    }
    qmp_monitor_set_negotiated(mon, oob);
    return true;
}

static bool cmd_query_version(QmpRequest *req, JsonObject *args, void *opaque,
                              JsonNode **ret, GError **errp)
{
    (void)args; (void)opaque; (void)ret; (void)errp;
    qmp_request_set_raw_return(req, g_string_new(qmp_server_version_json(qmp_request_get_server(req))));
    return true;
}

static bool cmd_query_commands(QmpRequest *req, JsonObject *args, void *opaque,
                               JsonNode **ret, GError **errp)
{
    GString *out = g_string_new(NULL);

    (void)args; (void)opaque; (void)ret; (void)errp;
    qmp_server_append_commands(qmp_request_get_server(req), out);
    qmp_request_set_raw_return(req, out);
    return true;
}

static bool cmd_query_qmp_schema(QmpRequest *req, JsonObject *args, void *opaque,
                                 JsonNode **ret, GError **errp)
{
    GString *out = g_string_new(NULL);

    (void)args; (void)opaque; (void)ret; (void)errp;
    qmp_server_append_schema(qmp_request_get_server(req), out);
    qmp_request_set_raw_return(req, out);
    return true;
}

static bool cmd_getfd(QmpRequest *req, JsonObject *args, void *opaque,
                      JsonNode **ret, GError **errp)
{
    FdPassError e = { 0 };
    int rc;
    int fd = qmp_request_take_fd(req);

    (void)opaque; (void)ret;
    if ((rc = fdpass_named_getfd(qmp_monitor_get_named_fds(qmp_request_get_monitor(req)),
                           json_object_get_string_member(args, "fdname"), fd, &e)) < 0) {
        return fdpass_failed(errp, rc, &e);
    }
    return true;
}

static bool cmd_closefd(QmpRequest *req, JsonObject *args, void *opaque,
                        JsonNode **ret, GError **errp)
{
    FdPassError e = { 0 };
    int rc;

    (void)opaque; (void)ret;
    if ((rc = fdpass_named_closefd(qmp_monitor_get_named_fds(qmp_request_get_monitor(req)),
                             json_object_get_string_member(args, "fdname"), &e)) < 0) {
        return fdpass_failed(errp, rc, &e);
    }
    return true;
}

static bool cmd_add_fd(QmpRequest *req, JsonObject *args, void *opaque,
                       JsonNode **ret, GError **errp)
{
    FdPassError e = { 0 };
    int rc;
    int fd = qmp_request_take_fd(req);
    bool has_id = json_object_has_member(args, "fdset-id");
    int64_t id = has_id ? json_object_get_int_member(args, "fdset-id") : 0;
    const char *opaque_str = json_object_has_member(args, "opaque")
                                 ? json_object_get_string_member(args, "opaque") : NULL;
    int64_t used_id = -1;
    GString *out;

    (void)opaque; (void)ret;
    if ((rc = fdpass_sets_add_fd(qmp_server_get_fd_sets(qmp_request_get_server(req)), has_id, id, fd,
                           opaque_str, &used_id, &e)) < 0) {
        return fdpass_failed(errp, rc, &e);
    }
    out = g_string_new(NULL);
    g_string_printf(out, "{\"fdset-id\": %" G_GINT64_FORMAT ", \"fd\": %d}", used_id, fd);
    qmp_request_set_raw_return(req, out);
    return true;
}

static bool cmd_remove_fd(QmpRequest *req, JsonObject *args, void *opaque,
                          JsonNode **ret, GError **errp)
{
    FdPassError e = { 0 };
    int rc;
    bool has_fd = json_object_has_member(args, "fd");

    (void)opaque; (void)ret;
    if ((rc = fdpass_sets_remove_fd(qmp_server_get_fd_sets(qmp_request_get_server(req)),
                              json_object_get_int_member(args, "fdset-id"), has_fd,
                              has_fd ? json_object_get_int_member(args, "fd") : 0, &e)) < 0) {
        return fdpass_failed(errp, rc, &e);
    }
    return true;
}

typedef struct FdsetsJson {
    GString *out;
    bool first;
} FdsetsJson;

static void append_fdset(void *opaque, int64_t fdset_id, const FdPassFdInfo *fds, size_t n)
{
    FdsetsJson *j = opaque;

    g_string_append_printf(j->out, "%s{\"fdset-id\": %" G_GINT64_FORMAT ", \"fds\": [",
                           j->first ? "" : ", ", fdset_id);
    j->first = false;
    for (size_t i = 0; i < n; i++) {
        g_string_append_printf(j->out, "%s{\"fd\": %d", i ? ", " : "", fds[i].fd);
        if (fds[i].opaque) {
            g_string_append(j->out, ", \"opaque\": ");
            qmp_json_append_string(j->out, fds[i].opaque, strlen(fds[i].opaque));
        }
        g_string_append_c(j->out, '}');
    }
    g_string_append(j->out, "]}");
}

static bool cmd_query_fdsets(QmpRequest *req, JsonObject *args, void *opaque,
                             JsonNode **ret, GError **errp)
{
    FdsetsJson j = { .out = g_string_new("["), .first = true };

    (void)args; (void)opaque; (void)ret; (void)errp;
    fdpass_sets_query(qmp_server_get_fd_sets(qmp_request_get_server(req)), append_fdset, &j);
    g_string_append_c(j.out, ']');
    qmp_request_set_raw_return(req, j.out);
    return true;
}

/* The types the built-ins use, named as in QEMU's schema. */
static bool register_types(QmpServer *s, GError **errp)
{
    static const char *const capabilities[] = { "oob" };
    static const char *const meta_types[] = {
        "builtin", "enum", "array", "object", "alternate", "command", "event",
    };
    static const QmpMember version_triple[] = {
        { "major", "int", false }, { "minor", "int", false }, { "micro", "int", false },
    };
    static const QmpMember version_info[] = {
        { "qemu", "VersionTriple", false }, { "package", "str", false },
    };
    static const QmpMember command_info[] = { { "name", "str", false } };
    static const QmpMember schema_info[] = {
        { "name", "str", false }, { "meta-type", "SchemaMetaType", false },
    };
    static const QmpMember addfd_info[] = {
        { "fdset-id", "int", false }, { "fd", "int", false },
    };
    static const QmpMember fdset_fd_info[] = {
        { "fd", "int", false }, { "opaque", "str", true },
    };
    static const QmpMember fdset_info[] = {
        { "fdset-id", "int", false }, { "fds", "[FdsetFdInfo]", false },
    };

    return qmp_server_add_enum_type(s, "QMPCapability", capabilities,
                                    G_N_ELEMENTS(capabilities), errp) &&
           qmp_server_add_enum_type(s, "SchemaMetaType", meta_types,
                                    G_N_ELEMENTS(meta_types), errp) &&
           qmp_server_add_object_type(s, "VersionTriple", version_triple,
                                      G_N_ELEMENTS(version_triple), errp) &&
           qmp_server_add_object_type(s, "VersionInfo", version_info,
                                      G_N_ELEMENTS(version_info), errp) &&
           qmp_server_add_object_type(s, "CommandInfo", command_info,
                                      G_N_ELEMENTS(command_info), errp) &&
           qmp_server_add_object_type(s, "SchemaInfo", schema_info,
                                      G_N_ELEMENTS(schema_info), errp) &&
           qmp_server_add_object_type(s, "AddfdInfo", addfd_info,
                                      G_N_ELEMENTS(addfd_info), errp) &&
           qmp_server_add_object_type(s, "FdsetFdInfo", fdset_fd_info,
                                      G_N_ELEMENTS(fdset_fd_info), errp) &&
           qmp_server_add_object_type(s, "FdsetInfo", fdset_info,
                                      G_N_ELEMENTS(fdset_info), errp);
}

bool qmp_builtins_register(QmpServer *s, GError **errp)
{
    static const QmpMember caps_args[] = { { "enable", "[QMPCapability]", true } };
    static const QmpMember fdname_args[] = { { "fdname", "str", false } };
    static const QmpMember add_fd_args[] = {
        { "fdset-id", "int", true }, { "opaque", "str", true },
    };
    static const QmpMember remove_fd_args[] = {
        { "fdset-id", "int", false }, { "fd", "int", true },
    };
    static const QmpCommand cmds[] = {
        { "qmp_capabilities", caps_args, G_N_ELEMENTS(caps_args), NULL,
          cmd_qmp_capabilities, NULL, QMP_COMMAND_BEFORE_NEGOTIATION },
        { "query-version", NULL, 0, "VersionInfo", cmd_query_version, NULL, 0 },
        { "query-commands", NULL, 0, "[CommandInfo]", cmd_query_commands, NULL, 0 },
        { "query-qmp-schema", NULL, 0, "[SchemaInfo]", cmd_query_qmp_schema, NULL, 0 },
        { "getfd", fdname_args, G_N_ELEMENTS(fdname_args), NULL, cmd_getfd, NULL, 0 },
        { "closefd", fdname_args, G_N_ELEMENTS(fdname_args), NULL, cmd_closefd, NULL, 0 },
        { "add-fd", add_fd_args, G_N_ELEMENTS(add_fd_args), "AddfdInfo", cmd_add_fd, NULL, 0 },
        { "remove-fd", remove_fd_args, G_N_ELEMENTS(remove_fd_args), NULL, cmd_remove_fd,
          NULL, 0 },
        { "query-fdsets", NULL, 0, "[FdsetInfo]", cmd_query_fdsets, NULL, 0 },
    };

    if (!register_types(s, errp)) {
        return false;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        if (!qmp_server_add_command(s, &cmds[i], errp)) {
            return false;
        }
    }
    return true;
}
