/* json.c — strict recursive-descent JSON reader and a streaming writer (drift/json.h). */
#include "drift/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"

/* ---------------------------------------------------------------------------------- */
/* Reader                                                                             */

typedef struct {
    const unsigned char *s, *start, *end;
    const char *name;
    int depth;
} parser;

static int fail(parser *p, const char *what)
{
    return drift_error(DRIFT_EFORMAT, "%s: invalid JSON at byte %zu: %s", p->name,
                       (size_t)(p->s - p->start), what);
}

static void skip_ws(parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static void free_node(drift_json *v)
{
    drift_free(v->string);
    drift_free(v->key);
    for (size_t i = 0; i < v->count; i++) free_node(&v->items[i]);
    drift_free(v->items);
}

void drift_json_free(drift_json *root)
{
    if (!root) return;
    free_node(root);
    drift_free(root);
}

static int hex4(parser *p, unsigned *out)
{
    if (p->end - p->s < 4) return fail(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p->s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return fail(p, "bad hex digit in \\u escape");
        v = v << 4 | d;
    }
    p->s += 4;
    *out = v;
    return DRIFT_OK;
}

static size_t put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (0 if invalid: overlong, surrogate, > U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
{
    unsigned c = s[0], cp, n;
    if (c < 0xC2) return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) { n = 2; cp = c & 0x1F; }
    else if (c < 0xF0) { n = 3; cp = c & 0x0F; }
    else if (c < 0xF5) { n = 4; cp = c & 0x07; }
    else return 0;
    if ((size_t)(end - s) < n) return 0;
    for (unsigned i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A string literal at p->s (on the opening quote) into a fresh NUL-terminated buffer. */
static int parse_string(parser *p, char **out, size_t *out_len)
{
    p->s++; /* '"' */
    const unsigned char *q = p->s;
    while (q < p->end && *q != '"') q += (*q == '\\' && q + 1 < p->end) ? 2 : 1;
    if (q >= p->end) return fail(p, "unterminated string");
    /* Decoded text is never longer than the raw text. */
    unsigned char *buf = drift_alloc((size_t)(q - p->s) + 1, 1);
    if (!buf) return DRIFT_ENOMEM;
    size_t n = 0;
    int st = DRIFT_OK;
    while (*p->s != '"') {
        unsigned c = *p->s;
        if (c < 0x20) { st = fail(p, "control character in string"); break; }
        if (c >= 0x80) {
            size_t k = utf8_seq(p->s, p->end);
            if (!k) { st = fail(p, "invalid UTF-8 in string"); break; }
            memcpy(buf + n, p->s, k);
            n += k;
            p->s += k;
            continue;
        }
        if (c != '\\') {
            buf[n++] = (unsigned char)c;
            p->s++;
            continue;
        }
        p->s++;
        unsigned e = *p->s++, cp;
        switch (e) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u':
            if ((st = hex4(p, &cp))) break;
            if (cp >= 0xDC00 && cp <= 0xDFFF) { st = fail(p, "lone low surrogate"); break; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u') {
                    st = fail(p, "high surrogate without its pair");
                    break;
                }
                p->s += 2;
                if ((st = hex4(p, &lo))) break;
                if (lo < 0xDC00 || lo > 0xDFFF) { st = fail(p, "bad surrogate pair"); break; }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(buf + n, cp);
            break;
        default: p->s--; st = fail(p, "bad escape in string"); break;
        }
        if (st) break;
    }
    if (st) {
        drift_free(buf);
        return st;
    }
    p->s++; /* closing quote */
    buf[n] = '\0';
    *out = (char *)buf;
    *out_len = n;
    return DRIFT_OK;
}

/* RFC 8259 number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(parser *p, drift_json *v)
{
    const unsigned char *b = p->s, *s = p->s;
    int integral = 1;
    if (s < p->end && *s == '-') s++;
    if (s >= p->end || *s < '0' || *s > '9') return fail(p, "bad number");
    if (*s == '0') s++;
    else while (s < p->end && *s >= '0' && *s <= '9') s++;
    if (s < p->end && *s == '.') {
        integral = 0;
        s++;
        if (s >= p->end || *s < '0' || *s > '9') return fail(p, "bad fraction in number");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        integral = 0;
        s++;
        if (s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') return fail(p, "bad exponent in number");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    char tmp[512];
    size_t n = (size_t)(s - b);
    if (n >= sizeof tmp) return fail(p, "number literal too long");
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    v->type = DRIFT_JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (integral) {
        /* Exact int64 when it fits: offsets and shapes must not pass through a double. */
        const char *d = tmp + (tmp[0] == '-');
        uint64_t mag = 0, limit = tmp[0] == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (; *d; d++) {
            unsigned digit = (unsigned)(*d - '0');
            if (mag > (limit - digit) / 10) { fits = 0; break; }
            mag = mag * 10 + digit;
        }
        if (fits) {
            v->is_integer = 1;
            v->integer = tmp[0] == '-' ? (int64_t)(0 - mag) : (int64_t)mag;
        }
    }
    p->s = s;
    return DRIFT_OK;
}

static int match_literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0)
        return fail(p, "unexpected character");
    p->s += n;
    return DRIFT_OK;
}

/* Appends a zeroed slot to v->items, growing by doubling. */
static drift_json *push_item(drift_json *v, size_t *cap)
{
    if (v->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        drift_json *items = drift_alloc(ncap, sizeof *items);
        if (!items) return NULL;
        if (v->count) memcpy(items, v->items, v->count * sizeof *items);
        drift_free(v->items);
        v->items = items;
        *cap = ncap;
    }
    return &v->items[v->count++];
}

static int compare_keys(const void *a, const void *b)
{
    const drift_json *x = *(const drift_json *const *)a, *y = *(const drift_json *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Sorting member pointers finds a repeated key in O(n log n), whatever the header size. */
static int check_duplicate_keys(parser *p, const drift_json *obj)
{
    if (obj->count < 2) return DRIFT_OK;
    const drift_json **sorted = drift_alloc(obj->count, sizeof *sorted);
    if (!sorted) return DRIFT_ENOMEM;
    for (size_t i = 0; i < obj->count; i++) sorted[i] = &obj->items[i];
    qsort(sorted, obj->count, sizeof *sorted, compare_keys);
    int st = DRIFT_OK;
    for (size_t i = 1; i < obj->count && !st; i++)
        if (compare_keys(&sorted[i - 1], &sorted[i]) == 0)
            st = drift_error(DRIFT_EFORMAT, "%s: invalid JSON: duplicate key \"%.100s\"", p->name,
                             sorted[i]->key);
    drift_free(sorted);
    return st;
}

static int parse_value(parser *p, drift_json *v);

static int parse_container(parser *p, drift_json *v, int is_object)
{
    if (++p->depth > DRIFT_JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    v->type = is_object ? DRIFT_JSON_OBJECT : DRIFT_JSON_ARRAY;
    char close = is_object ? '}' : ']';
    size_t cap = 0;
    int st;
    p->s++;
    skip_ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        p->depth--;
        return DRIFT_OK;
    }
    for (;;) {
        drift_json *item = push_item(v, &cap);
        if (!item) return DRIFT_ENOMEM;
        skip_ws(p);
        if (is_object) {
            if (p->s >= p->end || *p->s != '"') return fail(p, "expected a string key");
            if ((st = parse_string(p, &item->key, &item->key_len))) return st;
            skip_ws(p);
            if (p->s >= p->end || *p->s != ':') return fail(p, "expected ':' after key");
            p->s++;
        }
        if ((st = parse_value(p, item))) return st;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',') {
            p->s++;
            continue;
        }
        if (p->s < p->end && *p->s == close) {
            p->s++;
            break;
        }
        return fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    p->depth--;
    return is_object ? check_duplicate_keys(p, v) : DRIFT_OK;
}

static int parse_value(parser *p, drift_json *v)
{
    skip_ws(p);
    if (p->s >= p->end) return fail(p, "unexpected end of input");
    switch (*p->s) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"': v->type = DRIFT_JSON_STRING; return parse_string(p, &v->string, &v->string_len);
    case 't': v->type = DRIFT_JSON_BOOL; v->boolean = 1; return match_literal(p, "true");
    case 'f': v->type = DRIFT_JSON_BOOL; return match_literal(p, "false");
    case 'n': v->type = DRIFT_JSON_NULL; return match_literal(p, "null");
    default: return parse_number(p, v);
    }
}

int drift_json_parse(const char *text, size_t len, const char *name, drift_json **out)
{
    *out = NULL;
    if (!name) name = "<json>";
    if (!text && len) return drift_error(DRIFT_EINVAL, "%s: NULL JSON text", name);
    parser p = {(const unsigned char *)text, (const unsigned char *)text,
                (const unsigned char *)text + len, name, 0};
    drift_json *root = drift_alloc(1, sizeof *root);
    if (!root) return DRIFT_ENOMEM;
    int st = parse_value(&p, root);
    if (!st) {
        skip_ws(&p);
        if (p.s != p.end) st = fail(&p, "trailing characters after the value");
    }
    if (st) {
        drift_json_free(root);
        return st;
    }
    *out = root;
    return DRIFT_OK;
}

const drift_json *drift_json_get(const drift_json *obj, const char *key)
{
    if (!obj || obj->type != DRIFT_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->items[i].key_len == n && memcmp(obj->items[i].key, key, n) == 0)
            return &obj->items[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Writer                                                                             */

void drift_jsonw_init(drift_jsonw *w)
{
    memset(w, 0, sizeof *w);
    w->double_digits = 17;
}

void drift_jsonw_free(drift_jsonw *w)
{
    drift_free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

void drift_jsonw_reset(drift_jsonw *w)
{
    int digits = w->double_digits;
    char *buf = w->buf;
    size_t cap = w->cap;
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    w->double_digits = digits;
    if (buf) buf[0] = '\0';
}

static int w_fail(drift_jsonw *w, int code, const char *what)
{
    if (!w->status) w->status = drift_error(code, "JSON writer: %s", what);
    return w->status;
}

static int w_append(drift_jsonw *w, const char *s, size_t n)
{
    if (w->status) return w->status;
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap < w->len + n + 1) {
            if (ncap > SIZE_MAX / 2) return w_fail(w, DRIFT_ENOMEM, "document too large");
            ncap *= 2;
        }
        char *nb = drift_alloc(ncap, 1);
        if (!nb) return w_fail(w, DRIFT_ENOMEM, "out of memory");
        if (w->len) memcpy(nb, w->buf, w->len);
        drift_free(w->buf);
        w->buf = nb;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
    return DRIFT_OK;
}

/* Writes the separator a new value needs and checks that a value may go here. */
static int w_value_slot(drift_jsonw *w)
{
    if (w->status) return w->status;
    if (w->depth == 0) {
        if (w->len) return w_fail(w, DRIFT_EINVAL, "a second top-level value");
        return DRIFT_OK;
    }
    if (w->stack[w->depth - 1] == 'o') {
        if (!w->after_key) return w_fail(w, DRIFT_EINVAL, "value inside an object without a key");
        w->after_key = 0;
        return DRIFT_OK;
    }
    if (w->count[w->depth - 1]++) return w_append(w, ",", 1);
    return DRIFT_OK;
}

static int w_quoted(drift_jsonw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    int st = w_append(w, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c && !st; c++) {
        char esc[7] = {'\\', 0};
        switch (*c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (*c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*c >> 4];
                esc[5] = hex[*c & 15];
                st = w_append(w, esc, 6);
            } else {
                st = w_append(w, (const char *)c, 1);
            }
            continue;
        }
        st = w_append(w, esc, 2);
    }
    return st ? st : w_append(w, "\"", 1);
}

static int w_open(drift_jsonw *w, char kind)
{
    int st = w_value_slot(w);
    if (st) return st;
    if (w->depth == DRIFT_JSON_MAX_DEPTH) return w_fail(w, DRIFT_EINVAL, "nesting too deep");
    w->stack[w->depth] = kind;
    w->count[w->depth] = 0;
    w->depth++;
    return w_append(w, kind == 'o' ? "{" : "[", 1);
}

static int w_close(drift_jsonw *w, char kind)
{
    if (w->status) return w->status;
    if (w->depth == 0 || w->stack[w->depth - 1] != kind || w->after_key)
        return w_fail(w, DRIFT_EINVAL, kind == 'o' ? "end_object does not match"
                                                   : "end_array does not match");
    w->depth--;
    return w_append(w, kind == 'o' ? "}" : "]", 1);
}

int drift_jsonw_begin_object(drift_jsonw *w) { return w_open(w, 'o'); }
int drift_jsonw_end_object(drift_jsonw *w) { return w_close(w, 'o'); }
int drift_jsonw_begin_array(drift_jsonw *w) { return w_open(w, 'a'); }
int drift_jsonw_end_array(drift_jsonw *w) { return w_close(w, 'a'); }

int drift_jsonw_key(drift_jsonw *w, const char *key)
{
    if (w->status) return w->status;
    if (w->depth == 0 || w->stack[w->depth - 1] != 'o' || w->after_key)
        return w_fail(w, DRIFT_EINVAL, "key outside an object or after another key");
    if (!key) return w_fail(w, DRIFT_EINVAL, "NULL key");
    int st = w->count[w->depth - 1]++ ? w_append(w, ",", 1) : DRIFT_OK;
    if (!st) st = w_quoted(w, key);
    if (!st) st = w_append(w, ":", 1);
    w->after_key = 1;
    return st;
}

int drift_jsonw_string(drift_jsonw *w, const char *s)
{
    if (!s) return drift_jsonw_null(w);
    int st = w_value_slot(w);
    return st ? st : w_quoted(w, s);
}

int drift_jsonw_int(drift_jsonw *w, int64_t v)
{
    char tmp[32];
    int st = w_value_slot(w);
    return st ? st : w_append(w, tmp, (size_t)snprintf(tmp, sizeof tmp, "%" PRId64, v));
}

int drift_jsonw_double(drift_jsonw *w, double v)
{
    if (!isfinite(v)) return drift_jsonw_null(w);
    char tmp[40];
    int st = w_value_slot(w);
    return st ? st : w_append(w, tmp, (size_t)snprintf(tmp, sizeof tmp, "%.*g", w->double_digits, v));
}

int drift_jsonw_bool(drift_jsonw *w, int v)
{
    int st = w_value_slot(w);
    return st ? st : w_append(w, v ? "true" : "false", v ? 4 : 5);
}

int drift_jsonw_null(drift_jsonw *w)
{
    int st = w_value_slot(w);
    return st ? st : w_append(w, "null", 4);
}

int drift_jsonw_status(const drift_jsonw *w)
{
    if (w->status) return w->status;
    if (w->depth || w->after_key)
        return drift_error(DRIFT_EINVAL, "JSON writer: document has %d unclosed container(s)",
                           w->depth);
    return DRIFT_OK;
}
