/* libFuzzer harness: the JSON reader on arbitrary bytes. A parsed document is written back
 * with the JSON writer and must parse again to the same shape (types and counts). */
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include "drift/json.h"

static void emit(drift_jsonw *w, const drift_json *v)
{
    switch (v->type) {
    case DRIFT_JSON_NULL: drift_jsonw_null(w); break;
    case DRIFT_JSON_BOOL: drift_jsonw_bool(w, v->boolean); break;
    case DRIFT_JSON_NUMBER:
        if (v->is_integer) drift_jsonw_int(w, v->integer);
        else drift_jsonw_double(w, v->number);
        break;
    case DRIFT_JSON_STRING:
        /* the writer takes C strings: cut at an embedded NUL */
        drift_jsonw_string(w, v->string);
        break;
    case DRIFT_JSON_ARRAY:
        drift_jsonw_begin_array(w);
        for (size_t i = 0; i < v->count; i++) emit(w, &v->items[i]);
        drift_jsonw_end_array(w);
        break;
    case DRIFT_JSON_OBJECT:
        drift_jsonw_begin_object(w);
        for (size_t i = 0; i < v->count; i++) {
            drift_jsonw_key(w, v->items[i].key);
            emit(w, &v->items[i]);
        }
        drift_jsonw_end_object(w);
        break;
    }
}

static int has_nul(const drift_json *v)
{
    if (v->string && strlen(v->string) != v->string_len) return 1;
    if (v->key && strlen(v->key) != v->key_len) return 1;
    for (size_t i = 0; i < v->count; i++)
        if (has_nul(&v->items[i])) return 1;
    return 0;
}

/* Same types and counts; a number too large for a double (1e999) is written as null. */
static int same_shape(const drift_json *a, const drift_json *b)
{
    if (a->type == DRIFT_JSON_NUMBER && !isfinite(a->number)) return b->type == DRIFT_JSON_NULL;
    if (a->type != b->type || a->count != b->count) return 0;
    for (size_t i = 0; i < a->count; i++)
        if (!same_shape(&a->items[i], &b->items[i])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    drift_json *v;
    if (drift_json_parse((const char *)data, size, "fuzz.json", &v) != 0) {
        if (v != NULL) __builtin_trap();
        return 0;
    }
    drift_jsonw w;
    drift_jsonw_init(&w);
    emit(&w, v);
    if (drift_jsonw_status(&w) != 0) __builtin_trap();
    drift_json *again;
    int st = drift_json_parse(w.buf, w.len, "again.json", &again);
    /* Strings and keys cut at an embedded NUL could collide or change: skip those. */
    if (!has_nul(v) && (st != 0 || !same_shape(v, again))) __builtin_trap();
    drift_json_free(again);
    drift_jsonw_free(&w);
    drift_json_free(v);
    return 0;
}
