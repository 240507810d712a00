/* SPDX-License-Identifier: MIT */
/* Commands the tests register on top of the built-ins. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "qmp-test-cmds.h"

static bool cmd_echo(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    (void)req; (void)opaque; (void)errp;
    *ret = json_node_new(JSON_NODE_OBJECT);
    json_node_set_object(*ret, args);
    return true;
}

static bool cmd_fail(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    const char *cls = json_object_get_string_member(args, "class");
    static const struct { const char *name; int code; } map[] = {
        { "GenericError", QMP_ERROR_GENERIC },
        { "CommandNotFound", QMP_ERROR_COMMAND_NOT_FOUND },
        { "DeviceNotActive", QMP_ERROR_DEVICE_NOT_ACTIVE },
        { "DeviceNotFound", QMP_ERROR_DEVICE_NOT_FOUND },
        { "KVMMissingCap", QMP_ERROR_KVM_MISSING_CAP },
    };

    (void)req; (void)opaque; (void)ret;
    for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
        if (!strcmp(cls, map[i].name)) {
            g_set_error(errp, QMP_ERROR, map[i].code, "failed with %s", cls);
            return false;
        }
    }
    /* Another domain: reported as GenericError. */
    g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT, "foreign error");
    return false;
}

static bool cmd_fd_count(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                         GError **errp)
{
    (void)args; (void)opaque; (void)errp;
    *ret = json_node_new(JSON_NODE_VALUE);
    json_node_set_int(*ret, (gint64)qmp_request_fd_count(req));
    return true;
}

static bool cmd_take_fd(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                        GError **errp)
{
    int fd = qmp_request_take_fd(req);

    (void)args; (void)opaque; (void)errp;
    *ret = json_node_new(JSON_NODE_VALUE);
    json_node_set_boolean(*ret, fd >= 0);
    if (fd >= 0) {
        close(fd);
    }
    return true;
}

static bool cmd_disconnect(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                           GError **errp)
{
    (void)args; (void)opaque; (void)ret; (void)errp;
    qmp_monitor_disconnect(qmp_request_get_monitor(req));
    return true;
}

static bool cmd_emit(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                     GError **errp)
{
    (void)opaque; (void)ret;
    return qmp_server_emit_event(qmp_request_get_server(req),
                                 json_object_get_string_member(args, "name"), NULL, errp);
}

static bool cmd_silent_fail(QmpRequest *req, JsonObject *args, void *opaque, JsonNode **ret,
                            GError **errp)
{
    (void)req; (void)args; (void)opaque; (void)ret; (void)errp;
    return false;               /* a buggy handler: no error set */
}

void tc_register(QmpServer *srv)
{
    static const char *const colors[] = { "red", "green" };
    static const QmpMember point[] = { { "x", "int", false }, { "y", "int", true } };
    static const QmpMember types_args[] = {
        { "s", "str", true }, { "i", "int", true }, { "i8", "int8", true },
        { "i16", "int16", true }, { "i32", "int32", true }, { "i64", "int64", true },
        { "u8", "uint8", true }, { "u16", "uint16", true }, { "u32", "uint32", true },
        { "u64", "uint64", true }, { "sz", "size", true }, { "n", "number", true },
        { "b", "bool", true }, { "nul", "null", true }, { "a", "any", true },
        { "color", "TestColor", true }, { "pt", "TestPoint", true },
        { "pts", "[TestPoint]", true }, { "ints", "[int8]", true }, { "req", "str", false },
    };
    static const QmpMember fail_args[] = { { "class", "str", false } };
    static const QmpMember emit_args[] = { { "name", "str", false } };
    static const QmpCommand cmds[] = {
        { "test-types", types_args, G_N_ELEMENTS(types_args), "any", cmd_echo, NULL, 0 },
        { "test-echo", NULL, 0, NULL, cmd_echo, NULL, QMP_COMMAND_ALLOW_OOB },
        { "test-fail", fail_args, G_N_ELEMENTS(fail_args), NULL, cmd_fail, NULL, 0 },
        { "test-pre", NULL, 0, NULL, cmd_echo, NULL, QMP_COMMAND_BEFORE_NEGOTIATION },
        { "test-fd-count", NULL, 0, "int", cmd_fd_count, NULL, 0 },
        { "test-take-fd", NULL, 0, "bool", cmd_take_fd, NULL, 0 },
        { "test-disconnect", NULL, 0, NULL, cmd_disconnect, NULL, 0 },
        { "test-emit", emit_args, G_N_ELEMENTS(emit_args), NULL, cmd_emit, NULL, 0 },
        { "test-silent-fail", NULL, 0, NULL, cmd_silent_fail, NULL, 0 },
    };
    GError *err = NULL;

    cr_assert(qmp_server_add_enum_type(srv, "TestColor", colors, 2, &err), "%s",
              err ? err->message : "");
    cr_assert(qmp_server_add_object_type(srv, "TestPoint", point, 2, &err), "%s",
              err ? err->message : "");
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        cr_assert(qmp_server_add_command(srv, &cmds[i], &err), "%s: %s", cmds[i].name,
                  err ? err->message : "");
    }
}
