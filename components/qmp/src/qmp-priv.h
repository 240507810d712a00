/* SPDX-License-Identifier: MIT */
/* Internal interfaces shared by the qmp sources. */
#ifndef QMP_PRIV_H
#define QMP_PRIV_H

#include "qmp/qmp.h"

/* ------------------------------------------------------------------------ */
/* JSON output in QEMU's style (qmp-json.c)                                  */

/*
 * Decodes one UTF-8 sequence of at most @n bytes at @s (n >= 1) with the
 * rules QEMU applies to JSON strings: no overlong forms except C0 80 (which
 * decodes to 0, "modified UTF-8"), no surrogates, no noncharacters, nothing
 * above U+10FFFF. Stores the bytes used in *@ret_len (at least 1).
 * Returns the code point, or -1 for an invalid sequence.
 */
int32_t qmp_utf8_decode(const uint8_t *s, size_t n, size_t *ret_len);

/* Whether @cp may appear in a JSON string QEMU accepts. */
bool qmp_unicode_valid(int32_t cp);

/*
 * Appends @s (@len bytes, any content) as a JSON string literal: ASCII only,
 * \uXXXX (upper-case hex, surrogate pairs) for control and non-ASCII
 * characters, U+FFFD for invalid UTF-8.
 */
void qmp_json_append_string(GString *out, const char *s, size_t len);

/* Appends @node compactly with QEMU's separators (", " and ": "). */
void qmp_json_append_node(GString *out, JsonNode *node);

/* Appends {"error": {"class": C, "desc": D}} plus "id" when @id != NULL. */
void qmp_json_append_error(GString *out, int code, const char *desc, JsonNode *id);

/* ------------------------------------------------------------------------ */
/* Input stream splitting (qmp-stream.c)                                     */

typedef struct QmpStream QmpStream;

typedef struct QmpStreamLimits {
    size_t max_size;
    size_t max_tokens;
    unsigned max_depth;
} QmpStreamLimits;

typedef enum QmpStreamKind {
    QMP_STREAM_NONE = 0,   /* more input needed */
    QMP_STREAM_VALUE,      /* a complete JSON value */
    QMP_STREAM_ERROR,      /* a lexical, syntax or limit error (QEMU's desc) */
} QmpStreamKind;

typedef struct QmpStreamItem {
    QmpStreamKind kind;
    JsonNode *value;       /* VALUE: owned */
    GHashTable *u64;       /* VALUE: JsonNode* -> exact uint64 (boxed) of
                            * integers above INT64_MAX (held as doubles), or NULL */
    const char *error;     /* ERROR: owned by the stream, valid until the next feed */
} QmpStreamItem;

QmpStream *qmp_stream_new(const QmpStreamLimits *limits);
void qmp_stream_free(QmpStream *s);

/*
 * Feeds bytes until one item is complete or @len bytes are used. Returns
 * the number of bytes used; @item is filled (kind NONE if nothing complete).
 */
size_t qmp_stream_feed(QmpStream *s, const char *buf, size_t len, QmpStreamItem *item);

/* Forgets any partial message and lexer state. */
void qmp_stream_reset(QmpStream *s);

void qmp_stream_item_clear(QmpStreamItem *item);

/* ------------------------------------------------------------------------ */
/* Types, argument checking, introspection (qmp-schema.c)                   */

typedef struct QmpSchema QmpSchema;
typedef struct QmpType QmpType;

QmpSchema *qmp_schema_new(void);
void qmp_schema_free(QmpSchema *schema);

bool qmp_schema_add_object(QmpSchema *schema, const char *name, const QmpMember *members,
                           size_t n, GError **errp);
bool qmp_schema_add_enum(QmpSchema *schema, const char *name, const char *const *values,
                         size_t n, GError **errp);

/* Resolves a type string ("int8", "[Foo]", "Foo"); NULL + error if unknown. */
const QmpType *qmp_schema_lookup(QmpSchema *schema, const char *type, GError **errp);

/*
 * Builds an anonymous object type for a command's arguments (owned by the
 * caller, freed with qmp_type_free()). Returns NULL with an error if a type
 * is unknown or a name is repeated.
 */
QmpType *qmp_schema_make_args(QmpSchema *schema, const char *cmd, const QmpMember *members,
                              size_t n, GError **errp);
void qmp_type_free(QmpType *type);

/*
 * Checks @args against the object type @t as QEMU's input visitor does.
 * Integers given as doubles above INT64_MAX are looked up in @u64.
 * Returns NULL on success, else the error description (g_free it).
 */
char *qmp_schema_check_args(const QmpType *t, JsonObject *args, GHashTable *u64);

/* One command as the introspection sees it. */
typedef struct QmpSchemaCommand {
    const char *name;
    const QmpType *args;      /* NULL: no arguments */
    const QmpType *ret;       /* NULL: returns nothing */
    bool allow_oob;
} QmpSchemaCommand;

/* Appends the query-qmp-schema return value (a JSON array). */
void qmp_schema_introspect(QmpSchema *schema, const QmpSchemaCommand *cmds, size_t n,
                           GString *out);

/* ------------------------------------------------------------------------ */
/* Built-in commands (qmp-builtins.c)                                        */

bool qmp_builtins_register(QmpServer *server, GError **errp);

/* Server internals the built-ins need (qmp-server.c). */
void qmp_monitor_set_negotiated(QmpMonitor *mon, bool oob);
/* The cached reply value of query-version. */
const char *qmp_server_version_json(QmpServer *server);
/* query-commands / query-qmp-schema values, appended as JSON. */
void qmp_server_append_commands(QmpServer *server, GString *out);
void qmp_server_append_schema(QmpServer *server, GString *out);

/*
 * A handler may return a pre-serialised JSON value instead of a JsonNode:
 * qmp_request_set_raw_return() stores it (ownership of @json passes).
 */
void qmp_request_set_raw_return(QmpRequest *req, GString *json);

/* ------------------------------------------------------------------------ */
/* GSource adapter (qmp-source.c)                                            */

void qmp_source_server_gone(GSource *source);

/* The server remembers its GSource to destroy it on free. */
void qmp_server_set_source(QmpServer *server, GSource *source);

#endif /* QMP_PRIV_H */
