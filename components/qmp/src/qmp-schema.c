/* SPDX-License-Identifier: MIT */
/*
 * Types of command arguments: registration, checking with the messages of
 * QEMU's QObject input visitor, and query-qmp-schema in QEMU's
 * introspection format (SchemaInfo: meta-types builtin, enum, array, object,
 * command; non-builtin type names replaced by numbers in order of use;
 * every integer type shown as "int").
 */
#include <string.h>

#include "qmp-priv.h"

typedef enum Kind {
    K_STR,
    K_INT,
    K_NUMBER,
    K_BOOL,
    K_NULL,
    K_ANY,
    K_ENUM,
    K_OBJECT,
    K_ARRAY,
} Kind;

typedef enum IntKind {
    I_INT64,
    I_INT8,
    I_INT16,
    I_INT32,
    I_UINT8,
    I_UINT16,
    I_UINT32,
    I_UINT64,
    I_SIZE,
} IntKind;

typedef struct Member {
    char *name;
    const QmpType *type;
    bool optional;
} Member;

struct QmpType {
    Kind kind;
    char *name;
    bool builtin;
    IntKind ik;
    char **values;              /* K_ENUM */
    size_t n_values;
    Member *members;            /* K_OBJECT */
    size_t n_members;
    const QmpType *elem;        /* K_ARRAY */
};

struct QmpSchema {
    GHashTable *types;          /* name -> QmpType*, owned */
    QmpType *empty;             /* QEMU's q_empty */
};

static const struct {
    const char *name;
    Kind kind;
    IntKind ik;
} builtins[] = {
    { "str", K_STR, 0 },
    { "int", K_INT, I_INT64 },
    { "int8", K_INT, I_INT8 },
    { "int16", K_INT, I_INT16 },
    { "int32", K_INT, I_INT32 },
    { "int64", K_INT, I_INT64 },
    { "uint8", K_INT, I_UINT8 },
    { "uint16", K_INT, I_UINT16 },
    { "uint32", K_INT, I_UINT32 },
    { "uint64", K_INT, I_UINT64 },
    { "size", K_INT, I_SIZE },
    { "number", K_NUMBER, 0 },
    { "bool", K_BOOL, 0 },
    { "null", K_NULL, 0 },
    { "any", K_ANY, 0 },
};

void qmp_type_free(QmpType *t)
{
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_members; i++) {
        g_free(t->members[i].name);
    }
    g_free(t->members);
    g_strfreev(t->values);
    g_free(t->name);
    g_free(t);
}

QmpSchema *qmp_schema_new(void)
{
    QmpSchema *s = g_new0(QmpSchema, 1);

    s->types = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                     (GDestroyNotify)qmp_type_free);
    for (size_t i = 0; i < G_N_ELEMENTS(builtins); i++) {
        QmpType *t = g_new0(QmpType, 1);
        t->kind = builtins[i].kind;
        t->ik = builtins[i].ik;
        t->name = g_strdup(builtins[i].name);
        t->builtin = true;
        g_hash_table_insert(s->types, t->name, t);
    }
    s->empty = g_new0(QmpType, 1);
    s->empty->kind = K_OBJECT;
    s->empty->name = g_strdup("q_empty");
    return s;
}

void qmp_schema_free(QmpSchema *s)
{
    if (!s) {
        return;
    }
    g_hash_table_unref(s->types);
    qmp_type_free(s->empty);
    g_free(s);
}

const QmpType *qmp_schema_lookup(QmpSchema *s, const char *type, GError **errp)
{
    QmpType *t;
    size_t len;

    if (!type || !*type) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Missing type name");
        return NULL;
    }
    t = g_hash_table_lookup(s->types, type);
    if (t) {
        return t;
    }
    len = strlen(type);
    if (type[0] == '[' && len > 2 && type[len - 1] == ']' && type[1] != '[') {
        char *elem_name = g_strndup(type + 1, len - 2);
        const QmpType *elem = qmp_schema_lookup(s, elem_name, errp);
        g_free(elem_name);
        if (!elem) {
            return NULL;
        }
        t = g_new0(QmpType, 1);
        t->kind = K_ARRAY;
        t->name = g_strdup(type);
        t->elem = elem;
        g_hash_table_insert(s->types, t->name, t);
        return t;
    }
    g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Unknown type '%s'", type);
    return NULL;
}

static bool check_new_type_name(QmpSchema *s, const char *name, GError **errp)
{
    if (!name || !*name || name[0] == '[' || !strcmp(name, "q_empty")) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Invalid type name '%s'",
                    name ? name : "(null)");
        return false;
    }
    if (g_hash_table_contains(s->types, name)) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_EXISTS, "Type '%s' already exists", name);
        return false;
    }
    return true;
}

static QmpType *build_object(QmpSchema *s, const char *name, const QmpMember *members,
                             size_t n, GError **errp)
{
    QmpType *t = g_new0(QmpType, 1);

    t->kind = K_OBJECT;
    t->name = g_strdup(name);
    t->members = g_new0(Member, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        const QmpMember *m = &members[i];
        const QmpType *mt;

        if (!m->name || !*m->name) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Member %zu of '%s' has no name",
                        i, name);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(members[j].name, m->name)) {
                g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                            "Member '%s' of '%s' is repeated", m->name, name);
                goto fail;
            }
        }
        mt = qmp_schema_lookup(s, m->type, errp);
        if (!mt) {
            g_prefix_error(errp, "Member '%s' of '%s': ", m->name, name);
            goto fail;
        }
        t->members[i].name = g_strdup(m->name);
        t->members[i].type = mt;
        t->members[i].optional = m->optional;
        t->n_members++;
    }
    return t;

fail:
    qmp_type_free(t);
    return NULL;
}

bool qmp_schema_add_object(QmpSchema *s, const char *name, const QmpMember *members,
                           size_t n, GError **errp)
{
    QmpType *t;

    if (!check_new_type_name(s, name, errp)) {
        return false;
    }
    if (n && !members) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No members given for '%s'", name);
        return false;
    }
    t = build_object(s, name, members, n, errp);
    if (!t) {
        return false;
    }
    g_hash_table_insert(s->types, t->name, t);
    return true;
}

bool qmp_schema_add_enum(QmpSchema *s, const char *name, const char *const *values,
                         size_t n, GError **errp)
{
    QmpType *t;

    if (!check_new_type_name(s, name, errp)) {
        return false;
    }
    if (!n || !values) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Enum '%s' has no value", name);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!values[i] || !*values[i]) {
            g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "Value %zu of enum '%s' is empty",
                        i, name);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(values[i], values[j])) {
                g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID,
                            "Value '%s' of enum '%s' is repeated", values[i], name);
                return false;
            }
        }
    }
    t = g_new0(QmpType, 1);
    t->kind = K_ENUM;
    t->name = g_strdup(name);
    t->values = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        t->values[i] = g_strdup(values[i]);
    }
    t->n_values = n;
    g_hash_table_insert(s->types, t->name, t);
    return true;
}

QmpType *qmp_schema_make_args(QmpSchema *s, const char *cmd, const QmpMember *members,
                              size_t n, GError **errp)
{
    char *name = g_strdup_printf("q_obj_%s-arg", cmd);
    QmpType *t = NULL;

    if (n && !members) {
        g_set_error(errp, QMP_ERROR, QMP_ERROR_INVALID, "No arguments given for '%s'", cmd);
    } else {
        t = build_object(s, name, members, n, errp);
    }
    g_free(name);
    return t;
}

/* ------------------------------------------------------------------------ */
/* Checking (messages of QEMU's qobject input visitor)                      */

typedef struct Checker {
    GHashTable *u64;
    GString *path;              /* full name of the value being checked */
    char *err;
} Checker;

static bool fail(Checker *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(Checker *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    c->err = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return false;
}

static bool wrong_type(Checker *c, const char *expected)
{
    return fail(c, "Invalid parameter type for '%s', expected: %s", c->path->str, expected);
}

static bool node_is(JsonNode *n, GType t)
{
    return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == t;
}

static bool get_uint64(Checker *c, JsonNode *n, guint64 *v)
{
    if (node_is(n, G_TYPE_INT64)) {
        /* Negative values are accepted, as QEMU does for compatibility. */
        *v = (guint64)json_node_get_int(n);
        return true;
    }
    if (node_is(n, G_TYPE_DOUBLE) && c->u64) {
        guint64 *exact = g_hash_table_lookup(c->u64, n);
        if (exact) {
            *v = *exact;
            /* Hand it to the handler as 64 bits in an int node. */
            json_node_set_int(n, (gint64)*v);
            return true;
        }
    }
    return false;
}

static bool check_int(Checker *c, const QmpType *t, JsonNode *n, const char *name)
{
    static const struct {
        const char *name;
        gint64 min;
        guint64 max;
    } range[] = {
        [I_INT64] = { "int64", G_MININT64, G_MAXINT64 },
        [I_INT8] = { "int8", G_MININT8, G_MAXINT8 },
        [I_INT16] = { "int16", G_MININT16, G_MAXINT16 },
        [I_INT32] = { "int32", G_MININT32, G_MAXINT32 },
        [I_UINT8] = { "uint8", 0, G_MAXUINT8 },
        [I_UINT16] = { "uint16", 0, G_MAXUINT16 },
        [I_UINT32] = { "uint32", 0, G_MAXUINT32 },
        [I_UINT64] = { "uint64", 0, G_MAXUINT64 },
        [I_SIZE] = { "size", 0, G_MAXUINT64 },
    };
    /* The range check of sized integers names the member only, as QEMU's
     * visit_type_intN() does; list elements have no name ("null"). */
    const char *short_name = name ? name : "null";

    switch (t->ik) {
    case I_INT64:
    case I_INT8:
    case I_INT16:
    case I_INT32: {
        gint64 v;
        if (!node_is(n, G_TYPE_INT64)) {
            return wrong_type(c, "integer");
        }
        v = json_node_get_int(n);
        if (v < range[t->ik].min || v > (gint64)range[t->ik].max) {
            return fail(c, "Parameter '%s' expects %s", short_name, range[t->ik].name);
        }
        return true;
    }
    default: {
        guint64 v;
        if (!get_uint64(c, n, &v)) {
            return fail(c, "Parameter '%s' expects uint64", c->path->str);
        }
        if (v > range[t->ik].max) {
            return fail(c, "Parameter '%s' expects %s", short_name, range[t->ik].name);
        }
        return true;
    }
    }
}

static bool check_object(Checker *c, const QmpType *t, JsonObject *obj);

static bool check_value(Checker *c, const QmpType *t, JsonNode *n, const char *name)
{
    switch (t->kind) {
    case K_ANY:
        return true;
    case K_STR:
        return node_is(n, G_TYPE_STRING) || wrong_type(c, "string");
    case K_BOOL:
        return node_is(n, G_TYPE_BOOLEAN) || wrong_type(c, "boolean");
    case K_NULL:
        return JSON_NODE_HOLDS_NULL(n) || wrong_type(c, "null");
    case K_NUMBER:
        return node_is(n, G_TYPE_INT64) || node_is(n, G_TYPE_DOUBLE) || wrong_type(c, "number");
    case K_INT:
        return check_int(c, t, n, name);
    case K_ENUM: {
        const char *v;
        if (!node_is(n, G_TYPE_STRING)) {
            return wrong_type(c, "string");
        }
        v = json_node_get_string(n);
        for (size_t i = 0; i < t->n_values; i++) {
            if (!strcmp(v, t->values[i])) {
                return true;
            }
        }
        return fail(c, "Parameter '%s' does not accept value '%s'", name ? name : "null", v);
    }
    case K_OBJECT:
        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            return wrong_type(c, "object");
        }
        return check_object(c, t, json_node_get_object(n));
    case K_ARRAY: {
        JsonArray *a;
        size_t base = c->path->len;
        if (!JSON_NODE_HOLDS_ARRAY(n)) {
            return wrong_type(c, "array");
        }
        a = json_node_get_array(n);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            g_string_append_printf(c->path, "[%u]", i);
            if (!check_value(c, t->elem, json_array_get_element(a, i), NULL)) {
                return false;
            }
            g_string_truncate(c->path, base);
        }
        return true;
    }
    }
    return true;
}

static void path_push(Checker *c, const char *name)
{
    if (c->path->len) {
        g_string_append_c(c->path, '.');
    }
    g_string_append(c->path, name);
}

static bool check_object(Checker *c, const QmpType *t, JsonObject *obj)
{
    size_t base = c->path->len;
    JsonObjectIter it;
    const char *key;
    JsonNode *value;

    for (size_t i = 0; i < t->n_members; i++) {
        const Member *m = &t->members[i];
        JsonNode *n = json_object_get_member(obj, m->name);

        if (!n && m->optional) {
            continue;
        }
        path_push(c, m->name);
        if (!n) {
            return fail(c, "Parameter '%s' is missing", c->path->str);
        }
        if (!check_value(c, m->type, n, m->name)) {
            return false;
        }
        g_string_truncate(c->path, base);
    }
    /* Members nobody asked for, first one in input order. */
    json_object_iter_init_ordered(&it, obj);
    while (json_object_iter_next_ordered(&it, &key, &value)) {
        bool known = false;
        for (size_t i = 0; i < t->n_members && !known; i++) {
            known = !strcmp(key, t->members[i].name);
        }
        if (!known) {
            path_push(c, key);
            return fail(c, "Parameter '%s' is unexpected", c->path->str);
        }
    }
    return true;
}

char *qmp_schema_check_args(const QmpType *t, JsonObject *args, GHashTable *u64)
{
    Checker c = { .u64 = u64, .path = g_string_new(NULL) };

    check_object(&c, t, args);
    g_string_free(c.path, TRUE);
    return c.err;
}

/* ------------------------------------------------------------------------ */
/* Introspection                                                             */

typedef struct Intro {
    QmpSchema *schema;
    GString *out;
    GHashTable *names;          /* QmpType* -> char* (masked or builtin name) */
    GHashTable *queued;         /* introspection name -> present */
    GPtrArray *queue;           /* QmpType* to describe, in order of use */
    unsigned next_number;
    bool first;
} Intro;

static const char *json_type_of(Kind k)
{
    switch (k) {
    case K_STR: return "string";
    case K_INT: return "int";
    case K_NUMBER: return "number";
    case K_BOOL: return "boolean";
    case K_NULL: return "null";
    default: return "value";
    }
}

static const char *use_type(Intro *in, const QmpType *t)
{
    const char *name = g_hash_table_lookup(in->names, t);
    char *owned;

    if (name) {
        return name;
    }
    if (t->kind == K_INT && t->ik != I_INT64) {
        /* Every integer type is introspected as "int". */
        return use_type(in, qmp_schema_lookup(in->schema, "int", NULL));
    }
    if (t->kind == K_INT && strcmp(t->name, "int")) {
        return use_type(in, qmp_schema_lookup(in->schema, "int", NULL));
    }
    if (t->builtin) {
        owned = g_strdup(t->name);
    } else if (t->kind == K_ARRAY) {
        owned = g_strdup_printf("[%s]", use_type(in, t->elem));
    } else {
        owned = g_strdup_printf("%u", in->next_number++);
    }
    g_hash_table_insert(in->names, (gpointer)t, owned);
    if (!g_hash_table_contains(in->queued, owned)) {
        g_hash_table_add(in->queued, owned);
        g_ptr_array_add(in->queue, (gpointer)t);
    }
    return owned;
}

static void entry_start(Intro *in, const char *name, const char *meta)
{
    if (!in->first) {
        g_string_append(in->out, ", ");
    }
    in->first = false;
    g_string_append(in->out, "{\"name\": ");
    qmp_json_append_string(in->out, name, strlen(name));
    g_string_append(in->out, ", \"meta-type\": \"");
    g_string_append(in->out, meta);
    g_string_append_c(in->out, '"');
}

static void append_kv(GString *out, const char *key, const char *value)
{
    g_string_append(out, ", \"");
    g_string_append(out, key);
    g_string_append(out, "\": ");
    qmp_json_append_string(out, value, strlen(value));
}

static void describe_type(Intro *in, const QmpType *t)
{
    const char *name = g_hash_table_lookup(in->names, t);

    switch (t->kind) {
    case K_ARRAY:
        entry_start(in, name, "array");
        append_kv(in->out, "element-type", use_type(in, t->elem));
        break;
    case K_ENUM:
        entry_start(in, name, "enum");
        g_string_append(in->out, ", \"members\": [");
        for (size_t i = 0; i < t->n_values; i++) {
            g_string_append(in->out, i ? ", {\"name\": " : "{\"name\": ");
            qmp_json_append_string(in->out, t->values[i], strlen(t->values[i]));
            g_string_append_c(in->out, '}');
        }
        g_string_append(in->out, "], \"values\": [");
        for (size_t i = 0; i < t->n_values; i++) {
            if (i) {
                g_string_append(in->out, ", ");
            }
            qmp_json_append_string(in->out, t->values[i], strlen(t->values[i]));
        }
        g_string_append_c(in->out, ']');
        break;
    case K_OBJECT:
        entry_start(in, name, "object");
        g_string_append(in->out, ", \"members\": [");
        for (size_t i = 0; i < t->n_members; i++) {
            const Member *m = &t->members[i];
            g_string_append(in->out, i ? ", {\"name\": " : "{\"name\": ");
            qmp_json_append_string(in->out, m->name, strlen(m->name));
            append_kv(in->out, "type", use_type(in, m->type));
            if (m->optional) {
                g_string_append(in->out, ", \"default\": null");
            }
            g_string_append_c(in->out, '}');
        }
        g_string_append_c(in->out, ']');
        break;
    default:
        entry_start(in, name, "builtin");
        append_kv(in->out, "json-type", json_type_of(t->kind));
        break;
    }
    g_string_append_c(in->out, '}');
}

void qmp_schema_introspect(QmpSchema *s, const QmpSchemaCommand *cmds, size_t n, GString *out)
{
    Intro in = {
        .schema = s,
        .out = out,
        .names = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free),
        .queued = g_hash_table_new(g_str_hash, g_str_equal),
        .queue = g_ptr_array_new(),
        .first = true,
    };

    g_string_append_c(out, '[');
    for (size_t i = 0; i < n; i++) {
        const char *arg = use_type(&in, cmds[i].args ? cmds[i].args : s->empty);
        const char *ret = use_type(&in, cmds[i].ret ? cmds[i].ret : s->empty);

        entry_start(&in, cmds[i].name, "command");
        append_kv(out, "arg-type", arg);
        append_kv(out, "ret-type", ret);
        if (cmds[i].allow_oob) {
            g_string_append(out, ", \"allow-oob\": true");
        }
        g_string_append_c(out, '}');
    }
    /* The queue grows while it is walked: types used by types. */
    for (guint i = 0; i < in.queue->len; i++) {
        describe_type(&in, g_ptr_array_index(in.queue, i));
    }
    g_string_append_c(out, ']');

    g_ptr_array_free(in.queue, TRUE);
    g_hash_table_unref(in.queued);
    g_hash_table_unref(in.names);
}
