/* SPDX-License-Identifier: MIT */
/*
 * The protocol as QEMU's clients see it: greeting, negotiation, dispatch
 * errors with their exact classes and wording, id echo, input split and
 * merged arbitrarily, parse errors and the connection surviving them.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp-test-cmds.h"
#include "qmp-test-util.h"

static TuServer *ts;
static TuClient *c;
static int fd_baseline;

static void setup(void)
{
    fd_baseline = tu_fd_count();
    ts = tu_server_new(NULL);
    tc_register(ts->srv);
    c = tu_connect(ts->path, ts->srv);
}

static void setup_negotiated(void)
{
    setup();
    tu_negotiate(c);
}

static void teardown(void)
{
    tu_client_free(c);
    tu_server_free(ts);
    cr_expect_eq(tu_fd_count(), fd_baseline, "descriptors back to baseline");
}

/* Sends @cmd, expects exactly @want as the reply line. */
static void expect_line(const char *cmd, const char *want)
{
    char *r = tu_cmd(c, cmd);
    cr_expect_str_eq(r, want, "reply to %s", cmd);
    g_free(r);
}

/* Expects @want as the next line. */
static void expect_line_only(const char *want)
{
    char *r = tu_line(c);
    cr_expect_str_eq(r, want);
    g_free(r);
}

TestSuite(protocol, .init = setup, .fini = teardown);
TestSuite(negotiated, .init = setup_negotiated, .fini = teardown);

Test(protocol, greeting_exact)
{
    char *g = tu_line(c);

    cr_assert_str_eq(g, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 3, \"minor\": 2, "
                        "\"major\": 1}, \"package\": \"test-pkg\"}, \"capabilities\": [\"oob\"]}}");
    g_free(g);
}

Test(protocol, negotiation_rules)
{
    g_free(tu_line(c));
    tu_expect_error(c, "{\"execute\": \"query-version\"}", "CommandNotFound",
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
    tu_expect_error(c, "{\"execute\": \"no-such-command\"}", "CommandNotFound",
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
    /* The id is echoed even then. */
    expect_line("{\"execute\": \"getfd\", \"id\": 7}",
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Expecting capabilities "
                "negotiation with 'qmp_capabilities'\"}, \"id\": 7}");
    /* A command flagged "before negotiation" runs. */
    expect_line("{\"execute\": \"test-pre\"}", "{\"return\": {}}");
    /* Errors of other classes are not rewritten. */
    tu_expect_error(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": \"oob\"}}",
                    "GenericError", "Invalid parameter type for 'enable', expected: array");
    tu_expect_error(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"foo\"]}}",
                    "GenericError", "Parameter 'null' does not accept value 'foo'");
    tu_expect_error(c, "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"x\": 1}}",
                    "GenericError", "Parameter 'x' is unexpected");
    expect_line("{\"execute\": \"qmp_capabilities\", \"id\": \"neg\"}",
                "{\"return\": {}, \"id\": \"neg\"}");
    tu_expect_error(c, "{\"execute\": \"qmp_capabilities\"}", "CommandNotFound",
                    "Capabilities negotiation is already complete, command ignored");
    expect_line("{\"execute\": \"query-version\"}",
                "{\"return\": {\"qemu\": {\"micro\": 3, \"minor\": 2, \"major\": 1}, "
                "\"package\": \"test-pkg\"}}");
    tu_expect_error(c, "{\"execute\": \"no-such-command\"}", "CommandNotFound",
                    "The command no-such-command has not been found");
}

Test(protocol, oob_rules)
{
    g_free(tu_line(c));
    /* Without "oob" negotiated, exec-oob is not a known member. */
    expect_line("{\"exec-oob\": \"test-echo\", \"id\": 1}",
                "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member "
                "'exec-oob' is unexpected\"}, \"id\": 1}");
    expect_line("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}",
                "{\"return\": {}}");
    expect_line("{\"exec-oob\": \"test-echo\", \"id\": 2}", "{\"return\": {}, \"id\": 2}");
    tu_expect_error(c, "{\"exec-oob\": \"query-version\"}", "GenericError",
                    "The command query-version does not support OOB");
    tu_expect_error(c, "{\"execute\": \"test-echo\", \"exec-oob\": \"test-echo\"}",
                    "GenericError", "QMP input member 'exec-oob' clashes with 'execute'");
    tu_expect_error(c, "{\"exec-oob\": 3}", "GenericError",
                    "QMP input member 'exec-oob' must be a string");
    tu_expect_error(c, "{\"exec-oob\": \"nope\"}", "CommandNotFound",
                    "The command nope has not been found");
}

Test(negotiated, dispatch_errors)
{
    tu_expect_error(c, "[1, 2]", "GenericError", "QMP input must be a JSON object");
    tu_expect_error(c, "\"execute\"", "GenericError", "QMP input must be a JSON object");
    tu_expect_error(c, "{}", "GenericError", "QMP input lacks member 'execute'");
    tu_expect_error(c, "{\"arguments\": {}}", "GenericError", "QMP input lacks member 'execute'");
    tu_expect_error(c, "{\"execute\": 1}", "GenericError",
                    "QMP input member 'execute' must be a string");
    tu_expect_error(c, "{\"execute\": \"test-echo\", \"arguments\": [1]}", "GenericError",
                    "QMP input member 'arguments' must be an object");
    tu_expect_error(c, "{\"execute\": \"test-echo\", \"foo\": 1}", "GenericError",
                    "QMP input member 'foo' is unexpected");
    tu_expect_error(c, "{\"execute\": \"test-echo\", \"arguments\": {\"foo\": 1}}", "GenericError",
                    "Parameter 'foo' is unexpected");
    /* A scalar at top level needs the next byte to end: a newline. */
    tu_expect_error(c, "17\n", "GenericError", "QMP input must be a JSON object");
    tu_expect_error(c, "true\n", "GenericError", "QMP input must be a JSON object");
}

Test(negotiated, every_error_class)
{
    static const char *classes[] = {
        "GenericError", "CommandNotFound", "DeviceNotActive", "DeviceNotFound", "KVMMissingCap",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(classes); i++) {
        char *cmd = g_strdup_printf("{\"execute\": \"test-fail\", \"arguments\": {\"class\": \"%s\"}}",
                                    classes[i]);
        char *desc = g_strdup_printf("failed with %s", classes[i]);
        tu_expect_error(c, cmd, classes[i], desc);
        g_free(cmd);
        g_free(desc);
    }
    tu_expect_error(c, "{\"execute\": \"test-fail\", \"arguments\": {\"class\": \"other\"}}",
                    "GenericError", "foreign error");
    tu_expect_error(c, "{\"execute\": \"test-silent-fail\"}", "GenericError",
                    "The command test-silent-fail failed");
    tu_expect_error(c, "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": \"x\"}}",
                    "GenericError", "File descriptor named 'x' not found");
}

Test(negotiated, id_echo_any_type)
{
    expect_line("{\"execute\": \"test-echo\", \"id\": 1}", "{\"return\": {}, \"id\": 1}");
    expect_line("{\"id\": \"abc\", \"execute\": \"test-echo\"}", "{\"return\": {}, \"id\": \"abc\"}");
    expect_line("{\"execute\": \"test-echo\", \"id\": {\"a\": [1, true, null, \"x\"]}}",
                "{\"return\": {}, \"id\": {\"a\": [1, true, null, \"x\"]}}");
    expect_line("{\"execute\": \"test-echo\", \"id\": null}", "{\"return\": {}, \"id\": null}");
    expect_line("{\"execute\": \"test-echo\", \"id\": 1.5}", "{\"return\": {}, \"id\": 1.5}");
    expect_line("{\"execute\": \"test-echo\", \"id\": -9223372036854775808}",
                "{\"return\": {}, \"id\": -9223372036854775808}");
    /* Non-ASCII and control characters come back escaped. */
    expect_line("{\"execute\": \"test-echo\", \"id\": \"\xc3\xa9\\n\xf0\x9f\x98\x80\"}",
                "{\"return\": {}, \"id\": \"\\u00E9\\n\\uD83D\\uDE00\"}");
    /* Errors echo it too. */
    expect_line("{\"execute\": \"nope\", \"id\": [1]}",
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has "
                "not been found\"}, \"id\": [1]}");
    expect_line("{\"execute\": 5, \"id\": \"e\"}",
                "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input member "
                "'execute' must be a string\"}, \"id\": \"e\"}");
}

Test(negotiated, single_quotes_and_escapes)
{
    expect_line("{'execute': 'test-echo', 'id': 'it\\'s \"q\"'}",
                "{\"return\": {}, \"id\": \"it's \\\"q\\\"\"}");
    expect_line("{\"execute\": \"test-echo\", \"id\": \"a\\'b\\/c\\u0041\\ud83d\\ude00\"}",
                "{\"return\": {}, \"id\": \"a'b/cA\\uD83D\\uDE00\"}");
}

Test(negotiated, split_input_byte_by_byte)
{
    const char *cmd = "{\"execute\": \"query-version\", \"id\": \"split\"}";

    for (size_t i = 0; cmd[i]; i++) {
        tu_send(c, cmd + i, 1, NULL, 0);
        tu_pump(ts->srv, 0);
        if (cmd[i + 1]) {
            cr_assert(!tu_line_ready(c, 0), "no reply before the message is complete");
        }
    }
    char *r = tu_line(c);
    cr_assert_str_eq(r, "{\"return\": {\"qemu\": {\"micro\": 3, \"minor\": 2, \"major\": 1}, "
                        "\"package\": \"test-pkg\"}, \"id\": \"split\"}");
    g_free(r);
}

Test(negotiated, merged_input)
{
    GString *all = g_string_new(NULL);

    for (int i = 0; i < 200; i++) {
        g_string_append_printf(all, "{\"execute\":\"test-echo\",\"id\":%d}%s", i,
                               i % 3 ? "" : "\r\n");
    }
    /* And a parse error and a recovery in the middle of the batch. */
    g_string_append(all, "{\"execute\": @}{\"execute\":\"test-echo\",\"id\":\"after\"}");
    tu_send(c, all->str, all->len, NULL, 0);
    for (int i = 0; i < 200; i++) {
        char *want = g_strdup_printf("{\"return\": {}, \"id\": %d}", i);
        char *r = tu_line(c);
        cr_assert_str_eq(r, want);
        g_free(r);
        g_free(want);
    }
    char *r = tu_line(c);
    cr_assert_str_eq(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
                        "stray '@'\"}}");
    g_free(r);
    /* Recovery skips "}" ... up to the next structural character. */
    r = tu_line(c);
    cr_assert_str_eq(r, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
                        "expecting value\"}}");
    g_free(r);
    r = tu_line(c);
    cr_assert_str_eq(r, "{\"return\": {}, \"id\": \"after\"}");
    g_free(r);
    g_string_free(all, TRUE);
}

/* QEMU's parser messages, each followed by a working command. */
Test(negotiated, parse_errors_keep_connection)
{
    static const struct {
        const char *in;
        const char *desc;
    } cases[] = {
        { "{\"execute\": }", "JSON parse error, expecting value" },
        { "{\"execute\" \"x\"}", "JSON parse error, missing : in object pair" },
        { "{\"a\": 1 \"b\": 2}", "JSON parse error, expected separator in dict" },
        { "[1 2]", "JSON parse error, expected separator in list" },
        { "[1,]", "JSON parse error, expecting value" },
        { "{\"a\": 1,}", "JSON parse error, expecting value" },
        { "{1: 2}", "JSON parse error, key is not a string in object" },
        { "{{}: 2}", "JSON parse error, key is not a string in object" },
        { "{\"a\": tru}", "JSON parse error, invalid keyword 'tru'" },
        { "{\"a\": 1, \"a\": 2}", "JSON parse error, duplicate key" },
        { "{\"a\": \"\\x\"}", "JSON parse error, invalid escape sequence in string" },
        { "{\"a\": \"\\ud800\"}", "JSON parse error, \\ud800 is not a valid Unicode character" },
        { "{\"a\": \"\\uDC00x\"}", "JSON parse error, \\uDC00 is not a valid Unicode character" },
        { "{\"a\": \"\\uFFFF\"}", "JSON parse error, \\uFFFF is not a valid Unicode character" },
        { "{\"a\": \"\\u12G4\"}", "JSON parse error, \\u12G4 is not a valid Unicode character" },
        { "{\"a\": \"\\u0000\"}", "JSON parse error, \\u0000 is not a valid Unicode character" },
        { "{\"a\": \"\xc3\x28\"}", "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\": \"\xe0\x80\xaf\"}", "JSON parse error, invalid UTF-8 sequence in string" },
        { "{\"a\": \"\xef\xbf\xbe\"}", "JSON parse error, invalid UTF-8 sequence in string" },
        { "{]", "JSON parse error, expecting value" },
        { "]", "JSON parse error, expecting value" },
        { "{\"a\": 1]", "JSON parse error, expected separator in dict" },
        { "{\"a\": 01}", "JSON parse error, stray '01'" },
        { "{\"a\": 1.}", "JSON parse error, stray '1.}'" },
        { "{\"a\": -x}", "JSON parse error, stray '-x'" },
        { "{\"a\": True}", "JSON parse error, stray 'T'" },
        { "{\"a\": \"x\x01\"}", "JSON parse error, stray '\"x\x01'" },
        { "\xff", "JSON parse error, stray '\xff'" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        tu_send_str(c, cases[i].in);
        JsonNode *r = tu_json(c);
        cr_expect_str_eq(tu_err_class(r), "GenericError", "class for %s", cases[i].in);
        if (cases[i].desc[strlen(cases[i].desc) - 2] == '\xff') {
            /* Invalid UTF-8 comes back as U+FFFD. */
            cr_expect_str_eq(tu_err_desc(r), "JSON parse error, stray '\xef\xbf\xbd'");
        } else if (strchr(cases[i].in, '\x01')) {
            cr_expect_str_eq(tu_err_desc(r), cases[i].desc, "desc for case %zu", i);
        } else {
            cr_expect_str_eq(tu_err_desc(r), cases[i].desc, "desc for %s", cases[i].in);
        }
        json_node_unref(r);
        /* Resynchronise (a newline ends error recovery) and check. After a
         * lexical error, what follows the stray token up to the next
         * structural character is skipped, and a lone closing brace then
         * gives one more error, as in QEMU. */
        tu_send_str(c, "\n{\"execute\": \"test-echo\", \"id\": \"ok\"}");
        for (int extra = 0;; extra++) {
            char *line = tu_line(c);
            if (!strcmp(line, "{\"return\": {}, \"id\": \"ok\"}")) {
                g_free(line);
                break;
            }
            cr_expect(strstr(cases[i].desc, "stray") && extra == 0, "case %zu: extra line %s",
                      i, line);
            cr_expect_str_eq(line, "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                                   "\"JSON parse error, expecting value\"}}");
            g_free(line);
        }
    }
}

Test(negotiated, duplicate_keys_in_large_objects)
{
    GString *m = g_string_new("{\"execute\": \"test-echo\", \"id\": {");

    for (int i = 0; i < 20; i++) {
        g_string_append_printf(m, "%s\"k%d\": %d", i ? ", " : "", i, i);
    }
    g_string_append(m, "}}");
    char *r = tu_cmd(c, m->str);
    cr_expect(g_str_has_prefix(r, "{\"return\": {}, \"id\": {\"k0\": 0, \"k1\": 1,"), "%s", r);
    g_free(r);
    /* A repeat among the first keys and one among the later ones. */
    g_string_truncate(m, m->len - 2);
    size_t base = m->len;
    g_string_append(m, ", \"k3\": 0}}");
    tu_expect_error(c, m->str, "GenericError", "JSON parse error, duplicate key");
    g_string_truncate(m, base);
    g_string_append(m, ", \"k17\": 0}}");
    tu_expect_error(c, m->str, "GenericError", "JSON parse error, duplicate key");
    /* Escapes do not hide a repeat: the decoded names are compared. */
    tu_expect_error(c, "{\"execute\": \"test-echo\", \"\\u0065xecute\": \"x\"}", "GenericError",
                    "JSON parse error, duplicate key");
    g_string_free(m, TRUE);
}

Test(negotiated, big_integers)
{
    /* Beyond int64 an integer is a number, not an "integer". */
    tu_expect_error(c, "{\"execute\": \"test-types\", \"arguments\": {\"req\": \"\", "
                       "\"i\": 9223372036854775808}}", "GenericError",
                    "Invalid parameter type for 'i', expected: integer");
    expect_line("{\"execute\": \"test-types\", \"arguments\": {\"req\": \"\", "
                "\"u64\": 18446744073709551615, \"n\": 18446744073709551616}}",
                "{\"return\": {\"req\": \"\", \"u64\": -1, \"n\": 1.8446744073709552e+19}}");
    tu_expect_error(c, "{\"execute\": \"test-types\", \"arguments\": {\"req\": \"\", "
                       "\"u64\": 18446744073709551616}}", "GenericError",
                    "Parameter 'u64' expects uint64");
    expect_line("{\"execute\": \"test-echo\", \"id\": -9223372036854775809}",
                "{\"return\": {}, \"id\": -9.2233720368547758e+18}");
}

Test(negotiated, argument_checking)
{
    static const struct {
        const char *args;
        const char *desc;
    } cases[] = {
        { "{}", "Parameter 'req' is missing" },
        { "{\"req\": 1}", "Invalid parameter type for 'req', expected: string" },
        { "{\"req\": \"\", \"zz\": 1}", "Parameter 'zz' is unexpected" },
        { "{\"req\": \"\", \"i\": \"1\"}", "Invalid parameter type for 'i', expected: integer" },
        { "{\"req\": \"\", \"i\": 1.5}", "Invalid parameter type for 'i', expected: integer" },
        { "{\"req\": \"\", \"i8\": 128}", "Parameter 'i8' expects int8" },
        { "{\"req\": \"\", \"i8\": -129}", "Parameter 'i8' expects int8" },
        { "{\"req\": \"\", \"i16\": 32768}", "Parameter 'i16' expects int16" },
        { "{\"req\": \"\", \"i32\": -2147483649}", "Parameter 'i32' expects int32" },
        { "{\"req\": \"\", \"u8\": 256}", "Parameter 'u8' expects uint8" },
        { "{\"req\": \"\", \"u8\": -1}", "Parameter 'u8' expects uint8" },
        { "{\"req\": \"\", \"u8\": \"x\"}", "Parameter 'u8' expects uint64" },
        { "{\"req\": \"\", \"u16\": 65536}", "Parameter 'u16' expects uint16" },
        { "{\"req\": \"\", \"u32\": 4294967296}", "Parameter 'u32' expects uint32" },
        { "{\"req\": \"\", \"u64\": 1.5}", "Parameter 'u64' expects uint64" },
        { "{\"req\": \"\", \"sz\": true}", "Parameter 'sz' expects uint64" },
        { "{\"req\": \"\", \"n\": \"1\"}", "Invalid parameter type for 'n', expected: number" },
        { "{\"req\": \"\", \"b\": 1}", "Invalid parameter type for 'b', expected: boolean" },
        { "{\"req\": \"\", \"nul\": 0}", "Invalid parameter type for 'nul', expected: null" },
        { "{\"req\": \"\", \"s\": null}", "Invalid parameter type for 's', expected: string" },
        { "{\"req\": \"\", \"color\": 1}", "Invalid parameter type for 'color', expected: string" },
        { "{\"req\": \"\", \"color\": \"blue\"}", "Parameter 'color' does not accept value 'blue'" },
        { "{\"req\": \"\", \"pt\": []}", "Invalid parameter type for 'pt', expected: object" },
        { "{\"req\": \"\", \"pt\": {}}", "Parameter 'pt.x' is missing" },
        { "{\"req\": \"\", \"pt\": {\"x\": 1, \"z\": 2}}", "Parameter 'pt.z' is unexpected" },
        { "{\"req\": \"\", \"pt\": {\"x\": \"a\"}}", "Invalid parameter type for 'pt.x', expected: integer" },
        { "{\"req\": \"\", \"pts\": {}}", "Invalid parameter type for 'pts', expected: array" },
        { "{\"req\": \"\", \"pts\": [{\"x\": 1}, {\"y\": 2}]}", "Parameter 'pts[1].x' is missing" },
        { "{\"req\": \"\", \"pts\": [5]}", "Invalid parameter type for 'pts[0]', expected: object" },
        { "{\"req\": \"\", \"ints\": [1, 300]}", "Parameter 'null' expects int8" },
        { "{\"req\": \"\", \"ints\": [1, \"a\"]}", "Invalid parameter type for 'ints[1]', expected: integer" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *cmd = g_strdup_printf("{\"execute\": \"test-types\", \"arguments\": %s}", cases[i].args);
        tu_expect_error(c, cmd, "GenericError", cases[i].desc);
        g_free(cmd);
    }
    /* Everything valid at once, echoed back as the handler saw it. */
    expect_line("{\"execute\": \"test-types\", \"arguments\": {\"req\": \"r\", \"s\": \"s\", "
                "\"i\": -5, \"i8\": -128, \"i16\": 32767, \"i32\": -2147483648, \"i64\": 1, "
                "\"u8\": 255, \"u16\": 0, \"u32\": 4294967295, \"u64\": 9223372036854775808, "
                "\"sz\": 4096, \"n\": 2, \"b\": false, \"nul\": null, \"a\": {\"x\": [1]}, "
                "\"color\": \"green\", \"pt\": {\"x\": 1}, \"pts\": [{\"x\": 1, \"y\": 2}], "
                "\"ints\": [-1, 127]}}",
                "{\"return\": {\"req\": \"r\", \"s\": \"s\", \"i\": -5, \"i8\": -128, \"i16\": 32767, "
                "\"i32\": -2147483648, \"i64\": 1, \"u8\": 255, \"u16\": 0, \"u32\": 4294967295, "
                "\"u64\": -9223372036854775808, \"sz\": 4096, \"n\": 2, \"b\": false, \"nul\": null, "
                "\"a\": {\"x\": [1]}, \"color\": \"green\", \"pt\": {\"x\": 1}, "
                "\"pts\": [{\"x\": 1, \"y\": 2}], \"ints\": [-1, 127]}}");
}

static JsonObject *find_entry(JsonArray *schema, const char *name)
{
    for (guint i = 0; i < json_array_get_length(schema); i++) {
        JsonObject *o = json_array_get_object_element(schema, i);
        if (!strcmp(json_object_get_string_member(o, "name"), name)) {
            return o;
        }
    }
    return NULL;
}

Test(negotiated, query_commands)
{
    JsonNode *r = tu_cmd_json(c, "{\"execute\": \"query-commands\"}");
    JsonArray *a = json_object_get_array_member(json_node_get_object(r), "return");
    static const char *names[] = {
        "qmp_capabilities", "query-version", "query-commands", "query-qmp-schema", "getfd",
        "closefd", "add-fd", "remove-fd", "query-fdsets", "test-types", "test-emit",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        bool found = false;
        for (guint j = 0; j < json_array_get_length(a); j++) {
            JsonObject *o = json_array_get_object_element(a, j);
            cr_assert_eq(json_object_get_size(o), 1u);
            found |= !strcmp(json_object_get_string_member(o, "name"), names[i]);
        }
        cr_expect(found, "%s listed", names[i]);
    }
    /* As QEMU: most recently registered first. */
    cr_expect_str_eq(json_object_get_string_member(json_array_get_object_element(a, 0), "name"),
                     "test-silent-fail");
    json_node_unref(r);
}

Test(negotiated, query_qmp_schema)
{
    JsonNode *r = tu_cmd_json(c, "{\"execute\": \"query-qmp-schema\"}");
    JsonArray *a = json_object_get_array_member(json_node_get_object(r), "return");
    JsonObject *cmd, *args, *t, *m;
    JsonArray *members;

    /* getfd: a command whose arguments are an object with fdname: str. */
    cmd = find_entry(a, "getfd");
    cr_assert_not_null(cmd);
    cr_expect_str_eq(json_object_get_string_member(cmd, "meta-type"), "command");
    args = find_entry(a, json_object_get_string_member(cmd, "arg-type"));
    cr_assert_not_null(args);
    cr_expect_str_eq(json_object_get_string_member(args, "meta-type"), "object");
    members = json_object_get_array_member(args, "members");
    cr_assert_eq(json_array_get_length(members), 1u);
    m = json_array_get_object_element(members, 0);
    cr_expect_str_eq(json_object_get_string_member(m, "name"), "fdname");
    cr_expect_str_eq(json_object_get_string_member(m, "type"), "str");
    cr_expect(!json_object_has_member(m, "default"));
    /* Type names are numbers; no arguments and no return share q_empty. */
    cr_expect(g_ascii_isdigit(json_object_get_string_member(cmd, "arg-type")[0]));
    cr_expect_str_eq(json_object_get_string_member(cmd, "ret-type"),
                     json_object_get_string_member(find_entry(a, "query-fdsets"), "arg-type"));
    cr_expect(!json_object_has_member(cmd, "allow-oob"));
    cr_expect(json_object_get_boolean_member(find_entry(a, "test-echo"), "allow-oob"));

    /* add-fd: optional members carry "default": null. */
    args = find_entry(a, json_object_get_string_member(find_entry(a, "add-fd"), "arg-type"));
    members = json_object_get_array_member(args, "members");
    m = json_array_get_object_element(members, 0);
    cr_expect_str_eq(json_object_get_string_member(m, "name"), "fdset-id");
    cr_expect_str_eq(json_object_get_string_member(m, "type"), "int");
    cr_expect(json_object_has_member(m, "default") &&
              JSON_NODE_HOLDS_NULL(json_object_get_member(m, "default")));

    /* qmp_capabilities: enable is an array of an enum. */
    args = find_entry(a, json_object_get_string_member(find_entry(a, "qmp_capabilities"),
                                                       "arg-type"));
    m = json_array_get_object_element(json_object_get_array_member(args, "members"), 0);
    t = find_entry(a, json_object_get_string_member(m, "type"));
    cr_assert_not_null(t);
    cr_expect_str_eq(json_object_get_string_member(t, "meta-type"), "array");
    t = find_entry(a, json_object_get_string_member(t, "element-type"));
    cr_expect_str_eq(json_object_get_string_member(t, "meta-type"), "enum");
    cr_expect_str_eq(json_array_get_string_element(json_object_get_array_member(t, "values"), 0),
                     "oob");

    /* Every integer width is "int"; builtins have their JSON type. */
    t = find_entry(a, "int");
    cr_assert_not_null(t);
    cr_expect_str_eq(json_object_get_string_member(t, "meta-type"), "builtin");
    cr_expect_str_eq(json_object_get_string_member(t, "json-type"), "int");
    cr_expect_null(find_entry(a, "uint8"));
    cr_expect_not_null(find_entry(a, "[int]"));
    cr_expect_null(find_entry(a, "[int8]"));
    cr_expect_str_eq(json_object_get_string_member(find_entry(a, "str"), "json-type"), "string");
    cr_expect_str_eq(json_object_get_string_member(find_entry(a, "any"), "json-type"), "value");
    cr_expect_str_eq(json_object_get_string_member(find_entry(a, "bool"), "json-type"), "boolean");

    /* Every type referenced is described. */
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        const char *mt = json_object_get_string_member(o, "meta-type");
        if (!strcmp(mt, "command")) {
            cr_expect_not_null(find_entry(a, json_object_get_string_member(o, "arg-type")));
            cr_expect_not_null(find_entry(a, json_object_get_string_member(o, "ret-type")));
        } else if (!strcmp(mt, "object")) {
            JsonArray *ms = json_object_get_array_member(o, "members");
            for (guint j = 0; j < json_array_get_length(ms); j++) {
                const char *ty = json_object_get_string_member(
                    json_array_get_object_element(ms, j), "type");
                cr_expect_not_null(find_entry(a, ty), "type %s described", ty);
            }
        }
    }
    json_node_unref(r);
}

Test(negotiated, unused_fds_closed)
{
    int before = tu_fd_count();
    int fds[3] = { tu_make_fd(), tu_make_fd(), tu_make_fd() };
    const char *cmd = "{\"execute\": \"test-fd-count\"}";

    tu_send(c, cmd, strlen(cmd), fds, 3);
    fdpass_close_all(fds, 3);
    char *r = tu_line(c);
    cr_expect_str_eq(r, "{\"return\": 3}");
    g_free(r);
    cr_expect_eq(tu_fd_count(), before, "the three passed fds were closed");

    /* A command that takes one: the others are closed too. */
    int more[2] = { tu_make_fd(), tu_make_fd() };
    cmd = "{\"execute\": \"test-take-fd\"}";
    tu_send(c, cmd, strlen(cmd), more, 2);
    fdpass_close_all(more, 2);
    r = tu_line(c);
    cr_expect_str_eq(r, "{\"return\": true}");
    g_free(r);
    cr_expect_eq(tu_fd_count(), before);

    /* With a parse error, the fds are closed as well. */
    int one = tu_make_fd();
    tu_send(c, "{\"x\": ]", 7, &one, 1);
    close(one);
    JsonNode *e = tu_json(c);
    cr_expect_str_eq(tu_err_desc(e), "JSON parse error, expecting value");
    json_node_unref(e);
    cr_expect_eq(tu_fd_count(), before);

    /* No fds: the command sees none. */
    expect_line("{\"execute\": \"test-fd-count\"}", "{\"return\": 0}");
}

Test(negotiated, fds_sent_before_the_command)
{
    /* As QEMU's iotests do: the fd travels with a lone space, the command
     * comes in a separate write. */
    int fd = tu_make_fd();

    tu_send(c, " ", 1, &fd, 1);
    close(fd);
    tu_pump(ts->srv, 0);
    expect_line("{\"execute\": \"test-fd-count\"}", "{\"return\": 1}");
    expect_line("{\"execute\": \"test-fd-count\"}", "{\"return\": 0}");
}

Test(negotiated, fds_follow_their_message)
{
    /* A message without fds before one with: each gets its own. */
    int fd = tu_make_fd();
    const char *second = "{\"execute\": \"test-fd-count\", \"id\": 2}";

    tu_send_str(c, "{\"execute\": \"test-fd-count\", \"id\": 1}");
    tu_send(c, second, strlen(second), &fd, 1);
    close(fd);
    char *r1 = tu_line(c), *r2 = tu_line(c);
    cr_expect_str_eq(r1, "{\"return\": 0, \"id\": 1}");
    cr_expect_str_eq(r2, "{\"return\": 1, \"id\": 2}");
    g_free(r1);
    g_free(r2);
}

Test(negotiated, fds_with_trailing_newline)
{
    /* libvirt sends "command\r\n" with the fd in one sendmsg(). */
    int fd = tu_make_fd();
    const char *cmd = "{\"execute\": \"test-fd-count\", \"id\": 1}\r\n";
    const char *two = "{\"execute\": \"test-fd-count\", \"id\": 2}\n"
                      "{\"execute\": \"test-fd-count\", \"id\": 3}\n  \t";

    tu_send(c, cmd, strlen(cmd), &fd, 1);
    expect_line_only("{\"return\": 1, \"id\": 1}");
    /* Two commands in the same write as the fd: the last one gets it. */
    tu_send(c, two, strlen(two), &fd, 1);
    close(fd);
    expect_line_only("{\"return\": 0, \"id\": 2}");
    expect_line_only("{\"return\": 1, \"id\": 3}");
}

Test(negotiated, too_many_fds_in_one_message)
{
    int fds[FDPASS_MAX_FDS + 1];
    int before = tu_fd_count();
    struct msghdr msg = { 0 };
    char cbuf[CMSG_SPACE(sizeof(fds))];
    struct iovec iov = { .iov_base = "{\"execute\": \"test-fd-count\"}",
                         .iov_len = strlen("{\"execute\": \"test-fd-count\"}") };
    struct cmsghdr *cm;

    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = tu_make_fd();
    }
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    cr_assert_eq(sendmsg(c->fd, &msg, 0), (ssize_t)iov.iov_len);
    fdpass_close_all(fds, G_N_ELEMENTS(fds));

    JsonNode *r = tu_json(c);
    cr_expect_str_eq(tu_err_desc(r), "Too many file descriptors in one message, input discarded");
    json_node_unref(r);
    cr_expect_eq(tu_fd_count(), before);
    expect_line("{\"execute\": \"test-fd-count\"}", "{\"return\": 0}");
}

Test(negotiated, disconnect_from_handler)
{
    char *r = tu_cmd(c, "{\"execute\": \"test-disconnect\", \"id\": 9}");
    cr_expect_str_eq(r, "{\"return\": {}, \"id\": 9}");
    g_free(r);
    cr_expect(tu_wait_closed(c));
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 0u);
}

Test(negotiated, eof_flushes_replies_then_closes)
{
    tu_send_str(c, "{\"execute\": \"test-echo\", \"id\": 1}{\"execute\": \"test-echo\", \"id\": 2}");
    shutdown(c->fd, SHUT_WR);
    char *r1 = tu_line(c), *r2 = tu_line(c);
    cr_expect_str_eq(r1, "{\"return\": {}, \"id\": 1}");
    cr_expect_str_eq(r2, "{\"return\": {}, \"id\": 2}");
    g_free(r1);
    g_free(r2);
    cr_expect(tu_wait_closed(c));
}

Test(negotiated, second_monitor_unaffected_by_garbage_and_disconnect)
{
    TuClient *c2 = tu_connect(ts->path, ts->srv);
    TuClient *c3 = tu_connect(ts->path, ts->srv);
    tu_negotiate(c2);
    tu_negotiate(c3);

    /* c sends garbage and half a message, then vanishes. */
    tu_send_str(c, "\x01\x02garbage{\"execute\": \"query-ver");
    tu_pump(ts->srv, 0);
    close(c->fd);
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);    /* keep teardown simple */
    char *r = tu_cmd(c2, "{\"execute\": \"test-echo\", \"id\": \"c2\"}");
    cr_expect_str_eq(r, "{\"return\": {}, \"id\": \"c2\"}");
    g_free(r);
    for (int i = 0; i < 50 && qmp_server_monitor_count(ts->srv) != 2; i++) {
        tu_pump(ts->srv, 10);
    }
    cr_expect_eq(qmp_server_monitor_count(ts->srv), 2u);
    /* c3 negotiated separately; its state is its own. */
    r = tu_cmd(c3, "{\"execute\": \"qmp_capabilities\"}");
    cr_expect(strstr(r, "already complete"));
    g_free(r);
    tu_client_free(c2);
    tu_client_free(c3);
}

Test(protocol, monitors_negotiate_independently)
{
    TuClient *c2 = tu_connect(ts->path, ts->srv);

    tu_negotiate(c);
    g_free(tu_line(c2));
    tu_expect_error(c2, "{\"execute\": \"query-version\"}", "CommandNotFound",
                    "Expecting capabilities negotiation with 'qmp_capabilities'");
    expect_line("{\"execute\": \"test-echo\"}", "{\"return\": {}}");
    tu_client_free(c2);
}
