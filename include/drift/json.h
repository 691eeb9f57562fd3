/* drift/json.h — a small strict JSON reader and a streaming JSON writer.
 *
 * Enough JSON for the files drift reads and writes (safetensors headers, metrics.jsonl,
 * run configs), and no more. The reader follows RFC 8259 strictly: no comments, no
 * trailing commas, no NaN literals, valid UTF-8 only, and — stricter than the RFC —
 * no duplicate keys in an object, because for the headers we parse a repeated key is
 * always a corrupt or ambiguous file. Nesting is limited (DRIFT_JSON_MAX_DEPTH) so that
 * hostile input cannot exhaust the stack. Errors are DRIFT_EFORMAT with the byte offset.
 * Numbers go through strtod/printf, so they assume the "C" numeric locale (the default of
 * every C program that does not call setlocale(LC_NUMERIC, ...)).
 */
#ifndef DRIFT_JSON_H
#define DRIFT_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFT_JSON_MAX_DEPTH 64

typedef enum {
    DRIFT_JSON_NULL = 0,
    DRIFT_JSON_BOOL,
    DRIFT_JSON_NUMBER,
    DRIFT_JSON_STRING,
    DRIFT_JSON_ARRAY,
    DRIFT_JSON_OBJECT,
} drift_json_type;

typedef struct drift_json {
    drift_json_type type;
    int boolean;              /* BOOL */
    double number;            /* NUMBER */
    int is_integer;           /* NUMBER written without fraction/exponent and fits int64 */
    int64_t integer;          /* NUMBER, exact when is_integer */
    char *string;             /* STRING: decoded UTF-8, NUL-terminated (may contain NULs) */
    size_t string_len;
    char *key;                /* member of an OBJECT: its key, decoded, NUL-terminated */
    size_t key_len;
    struct drift_json *items; /* ARRAY elements / OBJECT members, in file order */
    size_t count;
} drift_json;

/* Parses exactly one JSON value (surrounding whitespace allowed). `name` prefixes error
 * messages (a file name). On success *out is a tree to release with drift_json_free. */
int drift_json_parse(const char *text, size_t len, const char *name, drift_json **out);
void drift_json_free(drift_json *root);

/* Member of an object by key (NULL if absent or `obj` is not an object). */
const drift_json *drift_json_get(const drift_json *obj, const char *key);

/* ---------------------------------------------------------------------------------- */
/* Writer: builds JSON text in a growing buffer. Calls mirror the document's structure:
 *   begin_object, key, value, key, value, ..., end_object.
 * Errors (misuse such as a value without a key inside an object, or out of memory) are
 * sticky: later calls do nothing and drift_jsonw_status returns the first one. */

typedef struct drift_jsonw {
    char *buf;            /* NUL-terminated text so far */
    size_t len, cap;
    int depth;
    char stack[DRIFT_JSON_MAX_DEPTH]; /* 'o' object / 'a' array at each open level */
    int count[DRIFT_JSON_MAX_DEPTH];  /* items written at each level (for commas) */
    int after_key;        /* a key was written; a value must follow */
    int double_digits;    /* significant digits for doubles: 17 (default, exact) or fewer */
    int status;
} drift_jsonw;

void drift_jsonw_init(drift_jsonw *w);
void drift_jsonw_free(drift_jsonw *w);
/* Empties the buffer for the next document (keeps the allocation and double_digits). */
void drift_jsonw_reset(drift_jsonw *w);
int drift_jsonw_begin_object(drift_jsonw *w);
int drift_jsonw_end_object(drift_jsonw *w);
int drift_jsonw_begin_array(drift_jsonw *w);
int drift_jsonw_end_array(drift_jsonw *w);
int drift_jsonw_key(drift_jsonw *w, const char *key);
int drift_jsonw_string(drift_jsonw *w, const char *s);
int drift_jsonw_int(drift_jsonw *w, int64_t v);
/* NaN and +-Inf have no JSON spelling: they are written as null. */
int drift_jsonw_double(drift_jsonw *w, double v);
int drift_jsonw_bool(drift_jsonw *w, int v);
int drift_jsonw_null(drift_jsonw *w);
/* 0 when every call so far succeeded and all containers are closed. */
int drift_jsonw_status(const drift_jsonw *w);

#ifdef __cplusplus
}
#endif
#endif
