/* SPDX-License-Identifier: MIT */
/*
 * Splitting the QMP input stream into JSON values.
 *
 * Behaviour follows QEMU's JSON lexer and streamer (qobject/json-lexer.c,
 * json-streamer.c, json-parser.c):
 *  - tokens: structural characters, strings in double or single quotes,
 *    numbers, lower-case keywords; whitespace separates them;
 *  - a lexical error answers "JSON parse error, stray 'TOKEN'" at once,
 *    drops the partial message and skips input until a structural
 *    character, a control character other than TAB, or byte 0xFE/0xFF;
 *  - a message is complete when its braces and brackets balance (with
 *    QEMU's counting), and only then are syntax errors reported, with the
 *    message QEMU's recursive-descent parser gives for the first bad token;
 *  - the limits (bytes of tokens, number of tokens, nesting) are checked at
 *    every token with QEMU's messages.
 * Where this differs from QEMU (documented in README.md): after a limit
 * error the rest of the offending message is skipped up to its end instead
 * of being parsed as new input (which gives one error, not a cascade), and
 * U+0000 in a string is refused.
 *
 * The grammar is only validated here; json-glib builds the values from a
 * compact canonical copy of the tokens (single-quoted strings and \'
 * escapes rewritten, integers beyond 64 bits written as doubles).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qmp-priv.h"

enum lex_state {
    L_START,
    L_RECOVERY,
    L_DQ,
    L_DQ_ESC,
    L_SQ,
    L_SQ_ESC,
    L_ZERO,
    L_SIGN,
    L_DIGITS,
    L_MANT,
    L_MANT_DIGITS,
    L_EXP_E,
    L_EXP_SIGN,
    L_EXP_DIGITS,
    L_KEYWORD,
};

enum tok_type {
    T_LCURLY,
    T_RCURLY,
    T_LSQUARE,
    T_RSQUARE,
    T_COLON,
    T_COMMA,
    T_INTEGER,
    T_FLOAT,
    T_KEYWORD,
    T_STRING,
};

/* Where the grammar is inside an object or array. */
enum frame_state {
    F_OBJ_FIRST,   /* after '{': a key or '}' */
    F_OBJ_KEY,     /* after ',': a key */
    F_OBJ_COLON,   /* after a key */
    F_OBJ_VALUE,   /* after ':' */
    F_OBJ_NEXT,    /* after a member: ',' or '}' */
    F_ARR_FIRST,   /* after '[': a value or ']' */
    F_ARR_VALUE,   /* after ',' */
    F_ARR_NEXT,    /* after an element: ',' or ']' */
};

/* Keys of an object kept in the frame itself before a hash table is made. */
#define FRAME_SMALL_KEYS 8

typedef struct Frame {
    enum frame_state state;
    unsigned nsmall;
    char *pending_key;          /* key waiting for its value (objects) */
    char *small[FRAME_SMALL_KEYS];  /* the first keys seen */
    GHashTable *keys;           /* the others, lazily */
} Frame;

typedef struct U64Literal {
    unsigned index;             /* among the number tokens of the message */
    guint64 value;
} U64Literal;

/* Stray tokens longer than this are cut in the error message. */
#define STRAY_MAX 1024

struct QmpStream {
    QmpStreamLimits lim;

    enum lex_state lex;
    GString *tok;               /* text of the token being lexed */

    /* The message being assembled. */
    int64_t braces;             /* QEMU's raw counters */
    int64_t brackets;
    size_t ntokens;
    size_t token_bytes;
    bool skipping;              /* after a limit error, up to the message end */
    char *syntax_err;           /* first syntax error, reported at the end */
    bool top_done;              /* the top-level value is complete */
    GArray *frames;             /* of Frame */
    GString *msg;               /* canonical text for json-glib */
    GArray *u64;                /* of U64Literal */
    unsigned nnumbers;

    GString *scratch;           /* decoded string contents */
    GString *errbuf;            /* the text of the last error item */
    JsonParser *parser;
};

QmpStream *qmp_stream_new(const QmpStreamLimits *limits)
{
    QmpStream *s = g_new0(QmpStream, 1);

    s->lim = *limits;
    s->lex = L_START;
    s->tok = g_string_sized_new(64);
    s->frames = g_array_new(FALSE, FALSE, sizeof(Frame));
    s->msg = g_string_sized_new(256);
    s->u64 = g_array_new(FALSE, FALSE, sizeof(U64Literal));
    s->scratch = g_string_sized_new(64);
    s->errbuf = g_string_sized_new(128);
    s->parser = json_parser_new();
    return s;
}

static void frame_clear(Frame *f)
{
    g_free(f->pending_key);
    for (unsigned i = 0; i < f->nsmall; i++) {
        g_free(f->small[i]);
    }
    if (f->keys) {
        g_hash_table_unref(f->keys);
    }
}

static bool frame_has_key(const Frame *f, const char *key)
{
    for (unsigned i = 0; i < f->nsmall; i++) {
        if (!strcmp(f->small[i], key)) {
            return true;
        }
    }
    return f->keys && g_hash_table_contains(f->keys, key);
}

/* Takes ownership of @key. */
static void frame_add_key(Frame *f, char *key)
{
    if (f->nsmall < FRAME_SMALL_KEYS) {
        f->small[f->nsmall++] = key;
        return;
    }
    if (!f->keys) {
        f->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    g_hash_table_add(f->keys, key);
}

static void message_reset(QmpStream *s)
{
    for (guint i = 0; i < s->frames->len; i++) {
        frame_clear(&g_array_index(s->frames, Frame, i));
    }
    g_array_set_size(s->frames, 0);
    g_string_truncate(s->msg, 0);
    g_array_set_size(s->u64, 0);
    g_clear_pointer(&s->syntax_err, g_free);
    s->braces = 0;
    s->brackets = 0;
    s->ntokens = 0;
    s->token_bytes = 0;
    s->skipping = false;
    s->top_done = false;
    s->nnumbers = 0;
    /* Do not let one huge message pin its buffer for the connection's life. */
    if (s->msg->allocated_len > (64u << 10)) {
        g_string_free(s->msg, TRUE);
        s->msg = g_string_sized_new(256);
    }
}

void qmp_stream_reset(QmpStream *s)
{
    message_reset(s);
    g_string_truncate(s->tok, 0);
    s->lex = L_START;
}

void qmp_stream_free(QmpStream *s)
{
    if (!s) {
        return;
    }
    message_reset(s);
    g_array_free(s->frames, TRUE);
    g_array_free(s->u64, TRUE);
    g_string_free(s->msg, TRUE);
    g_string_free(s->tok, TRUE);
    g_string_free(s->scratch, TRUE);
    g_string_free(s->errbuf, TRUE);
    g_object_unref(s->parser);
    g_free(s);
}

void qmp_stream_item_clear(QmpStreamItem *item)
{
    if (item->value) {
        json_node_unref(item->value);
    }
    if (item->u64) {
        g_hash_table_unref(item->u64);
    }
    memset(item, 0, sizeof(*item));
}

/* Error items point into s->errbuf (no allocation per garbage byte). */
static void set_error(QmpStream *s, QmpStreamItem *item, const char *desc)
{
    g_string_assign(s->errbuf, desc);
    item->kind = QMP_STREAM_ERROR;
    item->error = s->errbuf->str;
}

/* ------------------------------------------------------------------------ */
/* Syntax validation (what QEMU's parser reports, in the order it would)    */

static void syntax_error(QmpStream *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void syntax_error(QmpStream *s, const char *fmt, ...)
{
    va_list ap;
    char *m;

    if (s->syntax_err) {
        return;
    }
    va_start(ap, fmt);
    m = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    s->syntax_err = g_strconcat("JSON parse error, ", m, NULL);
    g_free(m);
}

static int hex4(const char *p, size_t avail)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        if ((size_t)i >= avail || !g_ascii_isxdigit(p[i])) {
            return -1;
        }
        v = (v << 4) | g_ascii_xdigit_value(p[i]);
    }
    return v;
}

/*
 * Decodes the string token @t (quotes included) into s->scratch. Returns
 * false after recording QEMU's error for it.
 */
static bool decode_string(QmpStream *s, const char *t, size_t len)
{
    const char quote = t[0];
    size_t i = 1;
    GString *out = s->scratch;

    g_string_truncate(out, 0);
    while (i < len && t[i] != quote) {
        if (t[i] == '\\') {
            size_t beg = i;
            char c = t[i + 1];
            int32_t cp;

            i += 2;
            switch (c) {
            case '"': case '\'': case '\\': case '/':
                g_string_append_c(out, c);
                continue;
            case 'b': g_string_append_c(out, '\b'); continue;
            case 'f': g_string_append_c(out, '\f'); continue;
            case 'n': g_string_append_c(out, '\n'); continue;
            case 'r': g_string_append_c(out, '\r'); continue;
            case 't': g_string_append_c(out, '\t'); continue;
            case 'u':
                break;
            default:
                syntax_error(s, "invalid escape sequence in string");
                return false;
            }
            cp = hex4(t + i, len - i);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < len && t[i] == '\\' && t[i + 1] == 'u') {
                int lo = hex4(t + i + 2, len - i - 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp & 0x3FF) << 10) + (lo & 0x3FF);
                    i += 6;
                } else {
                    cp = -1;
                }
            }
            /* U+0000 cannot live in the C strings handlers receive. */
            if (cp <= 0 || !qmp_unicode_valid(cp)) {
                size_t shown = MIN(i, len) - beg;
                syntax_error(s, "%.*s is not a valid Unicode character", (int)shown, t + beg);
                return false;
            }
            g_string_append_unichar(out, (gunichar)cp);
        } else {
            size_t used;
            int32_t cp = qmp_utf8_decode((const uint8_t *)t + i, len - 1 - i, &used);
            if (cp <= 0) {
                syntax_error(s, "invalid UTF-8 sequence in string");
                return false;
            }
            g_string_append_len(out, t + i, used);
            i += used;
        }
    }
    return true;
}

/* Appends the decoded s->scratch to the canonical message, quoted. */
static void append_canonical_string(QmpStream *s)
{
    const char *p = s->scratch->str;
    size_t n = s->scratch->len;

    g_string_append_c(s->msg, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            g_string_append_c(s->msg, '\\');
            g_string_append_c(s->msg, (char)c);
        } else if (c < 0x20) {
            g_string_append_printf(s->msg, "\\u%04x", c);
        } else {
            g_string_append_c(s->msg, (char)c);
        }
    }
    g_string_append_c(s->msg, '"');
}

static void append_number(QmpStream *s, enum tok_type type, const char *t, size_t len)
{
    unsigned index = s->nnumbers++;

    if (type == T_INTEGER) {
        char *end;
        errno = 0;
        (void)g_ascii_strtoll(t, &end, 10);
        if (errno == ERANGE) {
            /* json-glib would wrap it: hand it over as a double, and keep
             * the exact value of those that fit in 64 bits unsigned. */
            if (t[0] != '-') {
                guint64 v;
                errno = 0;
                v = g_ascii_strtoull(t, &end, 10);
                if (errno != ERANGE) {
                    U64Literal lit = { index, v };
                    g_array_append_val(s->u64, lit);
                }
            }
            g_string_append_len(s->msg, t, len);
            g_string_append(s->msg, ".0");
            return;
        }
    }
    g_string_append_len(s->msg, t, len);
}

static Frame *top_frame(QmpStream *s)
{
    return s->frames->len ? &g_array_index(s->frames, Frame, s->frames->len - 1) : NULL;
}

/* A value (scalar or closed container) is complete; @key is the decoded
 * string when it was a string, else NULL. */
static void value_done(QmpStream *s, const char *key)
{
    Frame *f = top_frame(s);

    if (!f) {
        s->top_done = true;
        return;
    }
    switch (f->state) {
    case F_OBJ_FIRST:
    case F_OBJ_KEY:
        if (!key) {
            syntax_error(s, "key is not a string in object");
            return;
        }
        f->pending_key = g_strdup(key);
        f->state = F_OBJ_COLON;
        break;
    case F_OBJ_VALUE:
        if (frame_has_key(f, f->pending_key)) {
            syntax_error(s, "duplicate key");
            return;
        }
        frame_add_key(f, f->pending_key);
        f->pending_key = NULL;
        f->state = F_OBJ_NEXT;
        break;
    case F_ARR_FIRST:
    case F_ARR_VALUE:
        f->state = F_ARR_NEXT;
        break;
    default:
        break;
    }
}

static void push_frame(QmpStream *s, enum frame_state state, char c)
{
    Frame f = { .state = state };

    g_array_append_val(s->frames, f);
    g_string_append_c(s->msg, c);
}

static void pop_frame(QmpStream *s, char c)
{
    frame_clear(top_frame(s));
    g_array_set_size(s->frames, s->frames->len - 1);
    g_string_append_c(s->msg, c);
    value_done(s, NULL);
}

/* A token where a value is expected. */
static void value_token(QmpStream *s, enum tok_type type, const char *t, size_t len)
{
    switch (type) {
    case T_LCURLY:
        push_frame(s, F_OBJ_FIRST, '{');
        return;
    case T_LSQUARE:
        push_frame(s, F_ARR_FIRST, '[');
        return;
    case T_STRING:
        if (!decode_string(s, t, len)) {
            return;
        }
        if (t[0] == '"' && !memchr(t, '\\', len)) {
            g_string_append_len(s->msg, t, len);
        } else {
            append_canonical_string(s);
        }
        value_done(s, s->scratch->str);
        return;
    case T_INTEGER:
    case T_FLOAT:
        append_number(s, type, t, len);
        value_done(s, NULL);
        return;
    case T_KEYWORD:
        if (strcmp(t, "true") && strcmp(t, "false") && strcmp(t, "null")) {
            syntax_error(s, "invalid keyword '%s'", t);
            return;
        }
        g_string_append_len(s->msg, t, len);
        value_done(s, NULL);
        return;
    default:
        syntax_error(s, "expecting value");
        return;
    }
}

static void syntax_token(QmpStream *s, enum tok_type type, const char *t, size_t len)
{
    Frame *f = top_frame(s);

    if (!f) {
        if (s->top_done) {
            syntax_error(s, "expecting value");   /* cannot happen: already complete */
        } else {
            value_token(s, type, t, len);
        }
        return;
    }
    switch (f->state) {
    case F_OBJ_FIRST:
        if (type == T_RCURLY) {
            pop_frame(s, '}');
        } else {
            value_token(s, type, t, len);
        }
        break;
    case F_OBJ_KEY:
    case F_OBJ_VALUE:
    case F_ARR_VALUE:
        value_token(s, type, t, len);
        break;
    case F_OBJ_COLON:
        if (type == T_COLON) {
            f->state = F_OBJ_VALUE;
            g_string_append_c(s->msg, ':');
        } else {
            syntax_error(s, "missing : in object pair");
        }
        break;
    case F_OBJ_NEXT:
        if (type == T_RCURLY) {
            pop_frame(s, '}');
        } else if (type == T_COMMA) {
            f->state = F_OBJ_KEY;
            g_string_append_c(s->msg, ',');
        } else {
            syntax_error(s, "expected separator in dict");
        }
        break;
    case F_ARR_FIRST:
        if (type == T_RSQUARE) {
            pop_frame(s, ']');
        } else {
            value_token(s, type, t, len);
        }
        break;
    case F_ARR_NEXT:
        if (type == T_RSQUARE) {
            pop_frame(s, ']');
        } else if (type == T_COMMA) {
            f->state = F_ARR_VALUE;
            g_string_append_c(s->msg, ',');
        } else {
            syntax_error(s, "expected separator in list");
        }
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Completed messages                                                        */

typedef struct NumberWalk {
    unsigned index;
    guint next;                 /* next entry of the U64 list to match */
    GArray *lits;
    GHashTable *map;
} NumberWalk;

static void walk_numbers(JsonNode *node, NumberWalk *w)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObjectIter it;
        const char *name;
        JsonNode *member;

        json_object_iter_init_ordered(&it, json_node_get_object(node));
        while (json_object_iter_next_ordered(&it, &name, &member)) {
            walk_numbers(member, w);
        }
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *a = json_node_get_array(node);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            walk_numbers(json_array_get_element(a, i), w);
        }
        break;
    }
    case JSON_NODE_VALUE: {
        GType t = json_node_get_value_type(node);
        if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) {
            break;
        }
        if (w->next < w->lits->len) {
            U64Literal *lit = &g_array_index(w->lits, U64Literal, w->next);
            if (lit->index == w->index) {
                g_hash_table_insert(w->map, node, g_memdup2(&lit->value, sizeof(lit->value)));
                w->next++;
            }
        }
        w->index++;
        break;
    }
    default:
        break;
    }
}

static void finish_message(QmpStream *s, QmpStreamItem *item)
{
    GError *err = NULL;

    if (s->syntax_err) {
        set_error(s, item, s->syntax_err);
        return;
    }
    if (!json_parser_load_from_data(s->parser, s->msg->str, (gssize)s->msg->len, &err)) {
        /* Not expected: the text was validated. Report rather than abort. */
        set_error(s, item, "JSON parse error, ");
        g_string_append(s->errbuf, err->message);
        item->error = s->errbuf->str;
        g_error_free(err);
        return;
    }
    item->kind = QMP_STREAM_VALUE;
    item->value = json_parser_steal_root(s->parser);
    if (s->u64->len && item->value) {
        NumberWalk w = { .lits = s->u64 };
        w.map = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        walk_numbers(item->value, &w);
        item->u64 = w.map;
    }
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */

static void limit_error(QmpStream *s, QmpStreamItem *item, const char *desc)
{
    set_error(s, item, desc);
    /* Keep the counters: they tell where the offending message ends. */
    s->skipping = true;
    g_string_truncate(s->msg, 0);
    g_clear_pointer(&s->syntax_err, g_free);
}

static void emit_token(QmpStream *s, enum tok_type type, QmpStreamItem *item)
{
    const char *t = s->tok->str;
    size_t len = s->tok->len;

    switch (type) {
    case T_LCURLY:  s->braces++; break;
    case T_RCURLY:  s->braces--; break;
    case T_LSQUARE: s->brackets++; break;
    case T_RSQUARE: s->brackets--; break;
    default: break;
    }

    if (!s->skipping) {
        if (s->token_bytes + len + 1 > s->lim.max_size) {
            limit_error(s, item, "JSON token size limit exceeded");
        } else if (s->ntokens + 1 > s->lim.max_tokens) {
            limit_error(s, item, "JSON token count limit exceeded");
        } else if (s->braces + s->brackets > (int64_t)s->lim.max_depth) {
            limit_error(s, item, "JSON nesting depth limit exceeded");
        } else {
            s->token_bytes += len;
            s->ntokens++;
            if (!s->syntax_err) {
                syntax_token(s, type, t, len);
            }
        }
    }
    g_string_truncate(s->tok, 0);

    /* QEMU's completion test, quirks included. */
    if ((s->braces > 0 || s->brackets > 0) && s->brackets >= 0) {
        return;
    }
    if (s->skipping) {
        message_reset(s);       /* the end of a message already answered */
        return;
    }
    finish_message(s, item);
    message_reset(s);
}

static void lex_error(QmpStream *s, QmpStreamItem *item)
{
    /* Like QEMU, the text stops at a NUL byte. */
    size_t n = strnlen(s->tok->str, s->tok->len);

    set_error(s, item, "JSON parse error, stray '");
    g_string_append_len(s->errbuf, s->tok->str, (gssize)MIN(n, STRAY_MAX));
    g_string_append(s->errbuf, n > STRAY_MAX ? "...'" : "'");
    item->error = s->errbuf->str;
    g_string_truncate(s->tok, 0);
    message_reset(s);
    s->lex = L_RECOVERY;
}

/* Appends a byte of the current token, enforcing the size limit. */
static void tok_add(QmpStream *s, char c, QmpStreamItem *item)
{
    if (s->skipping) {
        if (s->tok->len < STRAY_MAX + 1) {
            g_string_append_c(s->tok, c);
        }
        return;
    }
    g_string_append_c(s->tok, c);
    if (s->token_bytes + s->tok->len + 1 > s->lim.max_size) {
        limit_error(s, item, "JSON token size limit exceeded");
    }
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/*
 * Feeds one byte. Returns whether it was consumed (false: the byte ended
 * the previous token and must be fed again).
 */
static bool lex_byte(QmpStream *s, uint8_t c, QmpStreamItem *item)
{
    switch (s->lex) {
    case L_START:
        switch (c) {
        case ' ': case '\t': case '\r': case '\n':
            return true;
        case '"':
            s->lex = L_DQ;
            break;
        case '\'':
            s->lex = L_SQ;
            break;
        case '0':
            s->lex = L_ZERO;
            break;
        case '-':
            s->lex = L_SIGN;
            break;
        case '{': case '}': case '[': case ']': case ':': case ',': {
            static const enum tok_type types[] = {
                ['{'] = T_LCURLY, ['}'] = T_RCURLY, ['['] = T_LSQUARE,
                [']'] = T_RSQUARE, [':'] = T_COLON, [','] = T_COMMA,
            };
            g_string_append_c(s->tok, (char)c);
            emit_token(s, types[c], item);
            return true;
        }
        default:
            if (c >= '1' && c <= '9') {
                s->lex = L_DIGITS;
            } else if (c >= 'a' && c <= 'z') {
                s->lex = L_KEYWORD;
            } else {
                g_string_append_c(s->tok, (char)c);
                lex_error(s, item);
                return true;
            }
            break;
        }
        tok_add(s, (char)c, item);
        return true;

    case L_RECOVERY:
        if ((c < 0x20 && c != '\t') || c >= 0xFE || c == '[' || c == ']' || c == '{' ||
            c == '}' || c == ':' || c == ',') {
            s->lex = L_START;
            return false;
        }
        return true;

    case L_DQ:
    case L_SQ:
        if (c < 0x20 || c >= 0xFE) {
            break;                              /* error */
        }
        tok_add(s, (char)c, item);
        if (c == '\\') {
            s->lex = s->lex == L_DQ ? L_DQ_ESC : L_SQ_ESC;
        } else if (c == (s->lex == L_DQ ? '"' : '\'')) {
            s->lex = L_START;
            emit_token(s, T_STRING, item);
        }
        return true;

    case L_DQ_ESC:
    case L_SQ_ESC:
        if (c < 0x20 || c >= 0xFE) {
            break;
        }
        tok_add(s, (char)c, item);
        s->lex = s->lex == L_DQ_ESC ? L_DQ : L_SQ;
        return true;

    case L_ZERO:
        if (is_digit(c)) {
            break;
        }
        if (c == '.') {
            s->lex = L_MANT;
            tok_add(s, (char)c, item);
            return true;
        }
        s->lex = L_START;
        emit_token(s, T_INTEGER, item);
        return false;

    case L_SIGN:
        if (c == '0') {
            s->lex = L_ZERO;
        } else if (c >= '1' && c <= '9') {
            s->lex = L_DIGITS;
        } else {
            break;
        }
        tok_add(s, (char)c, item);
        return true;

    case L_DIGITS:
        if (is_digit(c)) {
            tok_add(s, (char)c, item);
            return true;
        }
        if (c == 'e' || c == 'E' || c == '.') {
            s->lex = c == '.' ? L_MANT : L_EXP_E;
            tok_add(s, (char)c, item);
            return true;
        }
        s->lex = L_START;
        emit_token(s, T_INTEGER, item);
        return false;

    case L_MANT:
        if (!is_digit(c)) {
            break;
        }
        s->lex = L_MANT_DIGITS;
        tok_add(s, (char)c, item);
        return true;

    case L_MANT_DIGITS:
        if (is_digit(c)) {
            tok_add(s, (char)c, item);
            return true;
        }
        if (c == 'e' || c == 'E') {
            s->lex = L_EXP_E;
            tok_add(s, (char)c, item);
            return true;
        }
        s->lex = L_START;
        emit_token(s, T_FLOAT, item);
        return false;

    case L_EXP_E:
        if (c == '+' || c == '-') {
            s->lex = L_EXP_SIGN;
        } else if (is_digit(c)) {
            s->lex = L_EXP_DIGITS;
        } else {
            break;
        }
        tok_add(s, (char)c, item);
        return true;

    case L_EXP_SIGN:
        if (!is_digit(c)) {
            break;
        }
        s->lex = L_EXP_DIGITS;
        tok_add(s, (char)c, item);
        return true;

    case L_EXP_DIGITS:
        if (is_digit(c)) {
            tok_add(s, (char)c, item);
            return true;
        }
        s->lex = L_START;
        emit_token(s, T_FLOAT, item);
        return false;

    case L_KEYWORD:
        if (c >= 'a' && c <= 'z') {
            tok_add(s, (char)c, item);
            return true;
        }
        s->lex = L_START;
        emit_token(s, T_KEYWORD, item);
        return false;
    }

    /* A byte that cannot continue the token: it is part of the stray text. */
    if (!s->skipping || s->tok->len <= STRAY_MAX) {
        g_string_append_c(s->tok, (char)c);
    }
    lex_error(s, item);
    return true;
}

/* Inside a string, copies the run of plain bytes at once. */
static size_t string_run(QmpStream *s, const uint8_t *p, size_t len)
{
    const uint8_t quote = s->lex == L_DQ ? '"' : '\'';
    size_t n = 0;

    while (n < len && p[n] >= 0x20 && p[n] < 0xFE && p[n] != quote && p[n] != '\\') {
        n++;
    }
    if (s->skipping) {
        size_t room = s->tok->len <= STRAY_MAX ? STRAY_MAX + 1 - s->tok->len : 0;
        g_string_append_len(s->tok, (const char *)p, MIN(n, room));
        return n;
    }
    /* Never take more than the size limit allows; the byte that crosses
     * it goes through tok_add(), which reports the error. */
    size_t limit = s->lim.max_size - 1 - s->token_bytes;   /* > tok->len here */
    size_t room = limit - s->tok->len;
    n = MIN(n, room);
    g_string_append_len(s->tok, (const char *)p, n);
    return n;
}

size_t qmp_stream_feed(QmpStream *s, const char *buf, size_t len, QmpStreamItem *item)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t i = 0;

    memset(item, 0, sizeof(*item));
    while (i < len) {
        if (s->lex == L_DQ || s->lex == L_SQ) {
            i += string_run(s, p + i, len - i);
            if (i == len) {
                break;
            }
        }
        if (lex_byte(s, p[i], item)) {
            i++;
        }
        if (item->kind != QMP_STREAM_NONE) {
            break;
        }
    }
    return i;
}
