/* SPDX-License-Identifier: MIT */
/*
 * JSON output with QEMU's conventions: compact with ", " and ": "
 * separators, ASCII only (\uXXXX escapes with upper-case hex), invalid
 * UTF-8 replaced by U+FFFD, doubles printed with "%.17g".
 */
#include <math.h>
#include <string.h>

#include "qmp-priv.h"

bool qmp_unicode_valid(int32_t cp)
{
    if (cp < 0 || cp > 0x10FFFF) {
        return false;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        return false;               /* surrogates */
    }
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE) {
        return false;               /* noncharacters */
    }
    return true;
}

int32_t qmp_utf8_decode(const uint8_t *s, size_t n, size_t *ret_len)
{
    uint8_t lead = s[0];
    size_t extra;
    int32_t cp, min;

    *ret_len = 1;
    if (lead < 0x80) {
        return lead;
    }
    if (lead >= 0xC0 && lead < 0xE0) {
        extra = 1;
        cp = lead & 0x1F;
        min = 0x80;
    } else if (lead >= 0xE0 && lead < 0xF0) {
        extra = 2;
        cp = lead & 0x0F;
        min = 0x800;
    } else if (lead >= 0xF0 && lead < 0xF8) {
        extra = 3;
        cp = lead & 0x07;
        min = 0x10000;
    } else {
        return -1;                  /* continuation byte or 0xF8..0xFF */
    }
    for (size_t i = 1; i <= extra; i++) {
        if (i >= n || (s[i] & 0xC0) != 0x80) {
            *ret_len = i;
            return -1;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *ret_len = extra + 1;
    if (cp < min) {
        /* Overlong; C0 80 is how modified UTF-8 writes U+0000. */
        return (extra == 1 && cp == 0) ? 0 : -1;
    }
    return qmp_unicode_valid(cp) ? cp : -1;
}

static const char hexdig[] = "0123456789ABCDEF";

static void append_u16_escape(GString *out, unsigned v)
{
    char e[6] = { '\\', 'u', hexdig[(v >> 12) & 15], hexdig[(v >> 8) & 15],
                  hexdig[(v >> 4) & 15], hexdig[v & 15] };
    g_string_append_len(out, e, sizeof(e));
}

void qmp_json_append_string(GString *out, const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0;

    g_string_append_c(out, '"');
    while (i < len) {
        /* Copy the run of bytes that need no escaping in one go. */
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        if (run > i) {
            g_string_append_len(out, str + i, run - i);
            i = run;
            continue;
        }
        switch (s[i]) {
        case '"':  g_string_append(out, "\\\""); i++; continue;
        case '\\': g_string_append(out, "\\\\"); i++; continue;
        case '\b': g_string_append(out, "\\b"); i++; continue;
        case '\f': g_string_append(out, "\\f"); i++; continue;
        case '\n': g_string_append(out, "\\n"); i++; continue;
        case '\r': g_string_append(out, "\\r"); i++; continue;
        case '\t': g_string_append(out, "\\t"); i++; continue;
        default:
            break;
        }
        size_t used;
        int32_t cp = qmp_utf8_decode(s + i, len - i, &used);
        if (cp < 0) {
            cp = 0xFFFD;
        }
        i += used;
        if (cp > 0xFFFF) {
            append_u16_escape(out, 0xD800 + ((cp - 0x10000) >> 10));
            append_u16_escape(out, 0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            append_u16_escape(out, (unsigned)cp);
        }
    }
    g_string_append_c(out, '"');
}

static void append_double(GString *out, double d)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    if (!isfinite(d)) {
        /* QEMU would print "inf"/"nan", which no JSON parser accepts. */
        g_string_append(out, "null");
        return;
    }
    g_ascii_formatd(buf, sizeof(buf), "%.17g", d);
    g_string_append(out, buf);
}

static void append_value(GString *out, JsonNode *node)
{
    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
    case G_TYPE_INT:
        g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
        append_double(out, json_node_get_double(node));
        break;
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        break;
    case G_TYPE_STRING: {
        const char *s = json_node_get_string(node);
        s = s ? s : "";
        qmp_json_append_string(out, s, strlen(s));
        break;
    }
    default:
        g_string_append(out, "null");
        break;
    }
}

void qmp_json_append_node(GString *out, JsonNode *node)
{
    if (!node) {
        g_string_append(out, "null");
        return;
    }
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObjectIter it;
        const char *name;
        JsonNode *member;
        bool first = true;

        g_string_append_c(out, '{');
        json_object_iter_init_ordered(&it, json_node_get_object(node));
        while (json_object_iter_next_ordered(&it, &name, &member)) {
            if (!first) {
                g_string_append(out, ", ");
            }
            first = false;
            qmp_json_append_string(out, name, strlen(name));
            g_string_append(out, ": ");
            qmp_json_append_node(out, member);
        }
        g_string_append_c(out, '}');
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(node);
        guint n = json_array_get_length(a);

        g_string_append_c(out, '[');
        for (guint i = 0; i < n; i++) {
            if (i) {
                g_string_append(out, ", ");
            }
            qmp_json_append_node(out, json_array_get_element(a, i));
        }
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_VALUE:
        append_value(out, node);
        break;
    case JSON_NODE_NULL:
    default:
        g_string_append(out, "null");
        break;
    }
}

void qmp_json_append_error(GString *out, int code, const char *desc, JsonNode *id)
{
    g_string_append(out, "{\"error\": {\"class\": \"");
    g_string_append(out, qmp_error_class_name(code));
    g_string_append(out, "\", \"desc\": ");
    qmp_json_append_string(out, desc, strlen(desc));
    g_string_append_c(out, '}');
    if (id) {
        g_string_append(out, ", \"id\": ");
        qmp_json_append_node(out, id);
    }
    g_string_append_c(out, '}');
}
