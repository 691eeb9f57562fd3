/* safetensors.c — safetensors reader and writer (see drift/safetensors.h). */
#include "drift/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/json.h"
#include "io/atomic.h"

struct drift_safetensors {
    char *name;                /* file name, for messages */
    drift_json *header;        /* owns the tensor names and metadata strings */
    unsigned char *data;       /* the data section, 64-byte aligned */
    size_t data_len;
    drift_st_tensor *tensors;  /* ascending data offsets */
    void **copies;             /* aligned copy of a tensor whose offset was misaligned */
    size_t n;
    drift_st_meta *meta;
    size_t n_meta;
};

static const struct {
    const char *name;
    drift_dtype t;
} st_dtypes[] = {
    {"F32", DRIFT_DTYPE_F32}, {"F64", DRIFT_DTYPE_F64}, {"I32", DRIFT_DTYPE_I32},
    {"I64", DRIFT_DTYPE_I64}, {"U8", DRIFT_DTYPE_U8},
};
/* Valid safetensors dtypes we do not read: named as unsupported rather than malformed. */
static const char *const st_other_dtypes[] = {"BOOL", "I8", "I16", "U16", "U32", "U64", "F16",
                                              "BF16", "F8_E4M3", "F8_E5M2", "C64"};

const char *drift_safetensors_dtype_name(drift_dtype t)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (st_dtypes[i].t == t) return st_dtypes[i].name;
    return NULL;
}

/* prod(shape) * itemsize, or an overflow error. */
static int tensor_bytes(const drift_st_tensor *t, const char *file, size_t *bytes)
{
    size_t count = 1;
    int zero = 0;
    for (int i = 0; i < t->ndim; i++) zero |= t->shape[i] == 0;
    for (int i = 0; i < t->ndim && !zero; i++) {
        if ((uint64_t)t->shape[i] > SIZE_MAX / count)
            return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': element count overflows", file,
                               t->name);
        count *= (size_t)t->shape[i];
    }
    if (zero) count = 0;
    size_t item = drift_dtype_size(t->dtype);
    if (count > SIZE_MAX / item)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': byte size overflows", file, t->name);
    *bytes = count * item;
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Reading                                                                            */

void drift_safetensors_free(drift_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; st->copies && i < st->n; i++) drift_free(st->copies[i]);
    drift_free(st->copies);
    drift_free(st->tensors);
    drift_free(st->meta);
    drift_free(st->data);
    drift_json_free(st->header);
    drift_free(st->name);
    drift_free(st);
}

typedef struct {
    uint64_t begin, end;
} byte_range;

static int parse_tensor_entry(const drift_json *e, const char *file, drift_st_tensor *t,
                              byte_range *r)
{
    t->name = e->key;
    if (strlen(e->key) != e->key_len)
        return drift_error(DRIFT_EFORMAT, "%s: a tensor name contains a NUL character", file);
    if (e->type != DRIFT_JSON_OBJECT)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': entry is not an object", file,
                           t->name);
    const drift_json *dtype = drift_json_get(e, "dtype"), *shape = drift_json_get(e, "shape"),
                     *offs = drift_json_get(e, "data_offsets");
    if (!dtype || !shape || !offs)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': missing '%s'", file, t->name,
                           !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (e->count != 3)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': unexpected fields besides dtype, "
                           "shape, data_offsets", file, t->name);
    if (dtype->type != DRIFT_JSON_STRING)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': dtype is not a string", file,
                           t->name);
    int found = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0] && !found; i++)
        if (strcmp(dtype->string, st_dtypes[i].name) == 0) {
            t->dtype = st_dtypes[i].t;
            found = 1;
        }
    if (!found) {
        for (size_t i = 0; i < sizeof st_other_dtypes / sizeof st_other_dtypes[0]; i++)
            if (strcmp(dtype->string, st_other_dtypes[i]) == 0)
                return drift_error(DRIFT_EUNSUPPORTED, "%s: tensor '%s': dtype %s is not "
                                   "supported (F32, F64, I32, I64, U8 are)", file, t->name,
                                   dtype->string);
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': unknown dtype '%.40s'", file,
                           t->name, dtype->string);
    }
    if (shape->type != DRIFT_JSON_ARRAY)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': shape is not an array", file, t->name);
    if (shape->count > DRIFT_NPY_MAX_DIM)
        return drift_error(DRIFT_EUNSUPPORTED, "%s: tensor '%s': %zu dimensions (at most %d)",
                           file, t->name, shape->count, DRIFT_NPY_MAX_DIM);
    t->ndim = (int)shape->count;
    for (int i = 0; i < t->ndim; i++) {
        const drift_json *d = &shape->items[i];
        if (d->type != DRIFT_JSON_NUMBER || !d->is_integer || d->integer < 0)
            return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': shape[%d] is not a non-negative "
                               "integer", file, t->name, i);
        t->shape[i] = d->integer;
    }
    if (offs->type != DRIFT_JSON_ARRAY || offs->count != 2)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': data_offsets is not [begin, end]",
                           file, t->name);
    for (int i = 0; i < 2; i++) {
        const drift_json *o = &offs->items[i];
        if (o->type != DRIFT_JSON_NUMBER || !o->is_integer || o->integer < 0)
            return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': data_offsets[%d] is not a "
                               "non-negative integer", file, t->name, i);
    }
    r->begin = (uint64_t)offs->items[0].integer;
    r->end = (uint64_t)offs->items[1].integer;
    if (r->begin > r->end)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': data_offsets begin %" PRIu64
                           " > end %" PRIu64, file, t->name, r->begin, r->end);
    size_t bytes;
    int st = tensor_bytes(t, file, &bytes);
    if (st) return st;
    if (r->end - r->begin != bytes)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s': data_offsets span %" PRIu64 " bytes "
                           "but dtype and shape need %zu", file, t->name, r->end - r->begin,
                           bytes);
    return DRIFT_OK;
}

static int parse_metadata(drift_safetensors *st, const drift_json *m)
{
    if (m->type != DRIFT_JSON_OBJECT)
        return drift_error(DRIFT_EFORMAT, "%s: __metadata__ is not an object", st->name);
    st->meta = drift_alloc(m->count, sizeof *st->meta);
    if (!st->meta) return DRIFT_ENOMEM;
    for (size_t i = 0; i < m->count; i++) {
        const drift_json *v = &m->items[i];
        if (v->type != DRIFT_JSON_STRING)
            return drift_error(DRIFT_EFORMAT, "%s: __metadata__ value for '%.100s' is not a "
                               "string", st->name, v->key);
        if (strlen(v->key) != v->key_len || strlen(v->string) != v->string_len)
            return drift_error(DRIFT_EFORMAT, "%s: __metadata__ entry '%.100s' contains a NUL "
                               "character", st->name, v->key);
        st->meta[i].key = v->key;
        st->meta[i].value = v->string;
    }
    st->n_meta = m->count;
    return DRIFT_OK;
}

typedef struct {
    byte_range r;
    size_t index;
} ordered_range;

static int compare_ranges(const void *a, const void *b)
{
    const ordered_range *x = a, *y = b;
    if (x->r.begin != y->r.begin) return x->r.begin < y->r.begin ? -1 : 1;
    if (x->r.end != y->r.end) return x->r.end < y->r.end ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Validates the header against the data section already in st->data and builds the
 * tensor table in ascending offset order. */
static int build_table(drift_safetensors *st, const char *header, size_t hlen)
{
    int rc = drift_json_parse(header, hlen, st->name, &st->header);
    if (rc) return drift_error_context(rc, "header");
    const drift_json *root = st->header;
    if (root->type != DRIFT_JSON_OBJECT)
        return drift_error(DRIFT_EFORMAT, "%s: header is not a JSON object", st->name);

    size_t n = 0;
    for (size_t i = 0; i < root->count; i++)
        if (strcmp(root->items[i].key, "__metadata__") != 0 || root->items[i].key_len != 12) n++;
    drift_st_tensor *parsed = drift_alloc(n, sizeof *parsed);
    ordered_range *order = drift_alloc(n, sizeof *order);
    st->tensors = drift_alloc(n, sizeof *st->tensors);
    st->copies = drift_alloc(n, sizeof *st->copies);
    if (!parsed || !order || !st->tensors || !st->copies) {
        rc = DRIFT_ENOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < root->count; i++) {
        const drift_json *e = &root->items[i];
        if (e->key_len == 12 && strcmp(e->key, "__metadata__") == 0) {
            if ((rc = parse_metadata(st, e))) goto done;
            continue;
        }
        if ((rc = parse_tensor_entry(e, st->name, &parsed[k], &order[k].r))) goto done;
        order[k].index = k;
        k++;
    }
    qsort(order, n, sizeof *order, compare_ranges);
    /* The byte ranges, in order, must tile [0, data_len) exactly. */
    uint64_t expected = 0;
    for (size_t i = 0; i < n; i++) {
        const char *tname = parsed[order[i].index].name;
        if (order[i].r.begin < expected) {
            rc = drift_error(DRIFT_EFORMAT, "%s: tensor '%s' overlaps the previous tensor "
                             "(begins at %" PRIu64 ", previous ends at %" PRIu64 ")", st->name,
                             tname, order[i].r.begin, expected);
            goto done;
        }
        if (order[i].r.begin > expected) {
            rc = drift_error(DRIFT_EFORMAT, "%s: gap of %" PRIu64 " bytes before tensor '%s'",
                             st->name, order[i].r.begin - expected, tname);
            goto done;
        }
        if (order[i].r.end > st->data_len) {
            rc = drift_error(DRIFT_EFORMAT, "%s: tensor '%s' ends at byte %" PRIu64 " of a %zu-"
                             "byte data section (truncated file?)", st->name, tname,
                             order[i].r.end, st->data_len);
            goto done;
        }
        expected = order[i].r.end;
    }
    if (expected != st->data_len) {
        rc = drift_error(DRIFT_EFORMAT, "%s: data section has %zu bytes but the tensors cover %"
                         PRIu64, st->name, st->data_len, expected);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        drift_st_tensor *t = &st->tensors[i];
        *t = parsed[order[i].index];
        size_t item = drift_dtype_size(t->dtype), bytes = order[i].r.end - order[i].r.begin;
        const unsigned char *src = st->data + order[i].r.begin;
        if (order[i].r.begin % item != 0) { /* another writer's packing: copy to align */
            st->copies[i] = drift_alloc(bytes, 1);
            if (!st->copies[i]) {
                rc = DRIFT_ENOMEM;
                goto done;
            }
            memcpy(st->copies[i], src, bytes);
            src = st->copies[i];
        }
        t->data = src;
    }
    st->n = n;
done:
    drift_free(parsed);
    drift_free(order);
    return rc;
}

static drift_safetensors *new_handle(const char *name)
{
    drift_safetensors *st = drift_alloc(1, sizeof *st);
    if (!st) return NULL;
    size_t n = strlen(name);
    st->name = drift_alloc(n + 1, 1);
    if (!st->name) {
        drift_free(st);
        return NULL;
    }
    memcpy(st->name, name, n + 1);
    return st;
}

static uint64_t read_u64le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* Checks the 8-byte length prefix against the bytes available after it. */
static int check_header_len(const char *name, uint64_t hlen, uint64_t after_prefix)
{
    if (hlen > DRIFT_ST_MAX_HEADER)
        return drift_error(DRIFT_EFORMAT, "%s: header length %" PRIu64 " exceeds the %u-byte "
                           "limit (not a safetensors file?)", name, hlen, DRIFT_ST_MAX_HEADER);
    if (hlen > after_prefix)
        return drift_error(DRIFT_EFORMAT, "%s: truncated header (%" PRIu64 " of %" PRIu64
                           " bytes)", name, after_prefix, hlen);
    if (hlen < 2)
        return drift_error(DRIFT_EFORMAT, "%s: header of %" PRIu64 " bytes is too short", name,
                           hlen);
    return DRIFT_OK;
}

int drift_safetensors_parse(const unsigned char *buf, size_t len, const char *name,
                            drift_safetensors **out)
{
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len) return drift_error(DRIFT_EINVAL, "%s: NULL buffer", name);
    if (len < 8) return drift_error(DRIFT_EFORMAT, "%s: too short for a safetensors file", name);
    uint64_t hlen = read_u64le(buf);
    int rc = check_header_len(name, hlen, len - 8);
    if (rc) return rc;
    drift_safetensors *st = new_handle(name);
    if (!st) return DRIFT_ENOMEM;
    st->data_len = len - 8 - (size_t)hlen;
    st->data = drift_alloc(st->data_len, 1);
    if (!st->data) {
        drift_safetensors_free(st);
        return DRIFT_ENOMEM;
    }
    if (st->data_len) memcpy(st->data, buf + 8 + hlen, st->data_len);
    if ((rc = build_table(st, (const char *)buf + 8, (size_t)hlen))) {
        drift_safetensors_free(st);
        return rc;
    }
    *out = st;
    return DRIFT_OK;
}

int drift_safetensors_read(const char *path, drift_safetensors **out)
{
    *out = NULL;
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    FILE *f;
    struct stat sb;
    int rc = drift_fopen_input(path, &f, &sb);
    if (rc) return rc;
    drift_safetensors *st = NULL;
    char *header = NULL;
    unsigned char pre[8];
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8 || fread(pre, 1, 8, f) != 8) {
        rc = drift_error(DRIFT_EFORMAT, "%s: too short for a safetensors file", path);
        goto done;
    }
    uint64_t hlen = read_u64le(pre);
    if ((rc = check_header_len(path, hlen, size - 8))) goto done;
    if (!(st = new_handle(path)) || !(header = drift_alloc((size_t)hlen, 1))) {
        rc = DRIFT_ENOMEM;
        goto done;
    }
    st->data_len = (size_t)(size - 8 - hlen);
    if (!(st->data = drift_alloc(st->data_len, 1))) {
        rc = drift_error_context(DRIFT_ENOMEM, "%s", path);
        goto done;
    }
    if (fread(header, 1, (size_t)hlen, f) != hlen ||
        fread(st->data, 1, st->data_len, f) != st->data_len) {
        rc = drift_error(DRIFT_EIO, "%s: read failed (file changed while reading?)", path);
        goto done;
    }
    if ((rc = build_table(st, header, (size_t)hlen))) goto done;
    *out = st;
    st = NULL;
done:
    drift_safetensors_free(st);
    drift_free(header);
    fclose(f);
    return rc;
}

size_t drift_safetensors_count(const drift_safetensors *st) { return st ? st->n : 0; }

const drift_st_tensor *drift_safetensors_tensor(const drift_safetensors *st, size_t i)
{
    return st && i < st->n ? &st->tensors[i] : NULL;
}

int drift_safetensors_find(const drift_safetensors *st, const char *name,
                           const drift_st_tensor **out)
{
    *out = NULL;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0) {
            *out = &st->tensors[i];
            return DRIFT_OK;
        }
    return drift_error(DRIFT_EINVAL, "%s: no tensor named '%s'", st->name, name);
}

int drift_safetensors_copy(const drift_safetensors *st, const char *name, drift_dtype dtype,
                           void *dst, size_t count)
{
    const drift_st_tensor *t;
    int rc = drift_safetensors_find(st, name, &t);
    if (rc) return rc;
    if (t->dtype != dtype)
        return drift_error(DRIFT_EFORMAT, "%s: tensor '%s' is %s, expected %s", st->name, name,
                           drift_safetensors_dtype_name(t->dtype),
                           drift_safetensors_dtype_name(dtype));
    size_t have = 1;
    for (int i = 0; i < t->ndim; i++) have *= (size_t)t->shape[i];
    if (have != count) {
        char dims[160] = "";
        size_t k = 0;
        for (int i = 0; i < t->ndim && k < sizeof dims - 24; i++)
            k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%" PRId64, i ? ", " : "",
                                  t->shape[i]);
        return drift_error(DRIFT_ESHAPE, "%s: tensor '%s' has shape (%s) = %zu elements, "
                           "expected %zu", st->name, name, dims, have, count);
    }
    if (count) memcpy(dst, t->data, count * drift_dtype_size(dtype));
    return DRIFT_OK;
}

size_t drift_safetensors_meta_count(const drift_safetensors *st) { return st ? st->n_meta : 0; }

const drift_st_meta *drift_safetensors_meta_at(const drift_safetensors *st, size_t i)
{
    return st && i < st->n_meta ? &st->meta[i] : NULL;
}

const char *drift_safetensors_meta(const drift_safetensors *st, const char *key)
{
    for (size_t i = 0; st && i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* Writing                                                                            */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when two of the n strings are equal (sorting a copy of the pointers). */
static int find_duplicate(const char **names, size_t n, const char **dup)
{
    qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            *dup = names[i];
            return 1;
        }
    return 0;
}

/* Reference writer order: larger alignment first, then by name. */
static int compare_for_layout(const void *a, const void *b)
{
    const drift_st_tensor *x = *(const drift_st_tensor *const *)a,
                          *y = *(const drift_st_tensor *const *)b;
    size_t ax = drift_dtype_size(x->dtype), ay = drift_dtype_size(y->dtype);
    if (ax != ay) return ax > ay ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int validate_inputs(const char *path, const drift_st_tensor *tensors, size_t n,
                           const drift_st_meta *meta, size_t n_meta)
{
    if (n && !tensors) return drift_error(DRIFT_EINVAL, "%s: NULL tensor list", path);
    if (n_meta && !meta) return drift_error(DRIFT_EINVAL, "%s: NULL metadata list", path);
    for (size_t i = 0; i < n; i++) {
        const drift_st_tensor *t = &tensors[i];
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0)
            return drift_error(DRIFT_EINVAL, "%s: tensor %zu has an empty or reserved name", path,
                               i);
        if (!drift_safetensors_dtype_name(t->dtype))
            return drift_error(DRIFT_EINVAL, "%s: tensor '%s': unknown dtype %d", path, t->name,
                               (int)t->dtype);
        if (t->ndim < 0 || t->ndim > DRIFT_NPY_MAX_DIM)
            return drift_error(DRIFT_EINVAL, "%s: tensor '%s': ndim %d out of range 0..%d", path,
                               t->name, t->ndim, DRIFT_NPY_MAX_DIM);
        for (int d = 0; d < t->ndim; d++)
            if (t->shape[d] < 0)
                return drift_error(DRIFT_EINVAL, "%s: tensor '%s': negative dimension", path,
                                   t->name);
        size_t bytes;
        int rc = tensor_bytes(t, path, &bytes);
        if (rc) return rc;
        if (bytes && !t->data)
            return drift_error(DRIFT_EINVAL, "%s: tensor '%s': NULL data", path, t->name);
    }
    for (size_t i = 0; i < n_meta; i++)
        if (!meta[i].key || !meta[i].value)
            return drift_error(DRIFT_EINVAL, "%s: metadata entry %zu has a NULL key or value",
                               path, i);
    size_t most = n > n_meta ? n : n_meta;
    const char **names = drift_alloc(most, sizeof *names), *dup = NULL;
    if (!names) return DRIFT_ENOMEM;
    for (size_t i = 0; i < n; i++) names[i] = tensors[i].name;
    int has_dup = find_duplicate(names, n, &dup);
    int rc = has_dup ? drift_error(DRIFT_EINVAL, "%s: two tensors named '%s'", path, dup) : 0;
    if (!rc) {
        for (size_t i = 0; i < n_meta; i++) names[i] = meta[i].key;
        if (find_duplicate(names, n_meta, &dup))
            rc = drift_error(DRIFT_EINVAL, "%s: metadata key '%s' given twice", path, dup);
    }
    drift_free(names);
    return rc;
}

int drift_safetensors_write(const char *path, const drift_st_tensor *tensors, size_t n,
                            const drift_st_meta *meta, size_t n_meta)
{
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    int rc = validate_inputs(path, tensors, n, meta, n_meta);
    if (rc) return rc;
    const drift_st_tensor **order = drift_alloc(n, sizeof *order);
    if (!order) return DRIFT_ENOMEM;
    for (size_t i = 0; i < n; i++) order[i] = &tensors[i];
    qsort(order, n, sizeof *order, compare_for_layout);

    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    if (n_meta) {
        drift_jsonw_key(&w, "__metadata__");
        drift_jsonw_begin_object(&w);
        for (size_t i = 0; i < n_meta; i++) {
            drift_jsonw_key(&w, meta[i].key);
            drift_jsonw_string(&w, meta[i].value);
        }
        drift_jsonw_end_object(&w);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const drift_st_tensor *t = order[i];
        size_t bytes = 0;
        tensor_bytes(t, path, &bytes); /* validated above */
        drift_jsonw_key(&w, t->name);
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "dtype");
        drift_jsonw_string(&w, drift_safetensors_dtype_name(t->dtype));
        drift_jsonw_key(&w, "shape");
        drift_jsonw_begin_array(&w);
        for (int d = 0; d < t->ndim; d++) drift_jsonw_int(&w, t->shape[d]);
        drift_jsonw_end_array(&w);
        drift_jsonw_key(&w, "data_offsets");
        drift_jsonw_begin_array(&w);
        drift_jsonw_int(&w, (int64_t)offset);
        drift_jsonw_int(&w, (int64_t)(offset + bytes));
        drift_jsonw_end_array(&w);
        drift_jsonw_end_object(&w);
        offset += bytes;
    }
    drift_jsonw_end_object(&w);
    if ((rc = drift_jsonw_status(&w))) goto done;
    /* Spaces up to a multiple of 8 keep the data section 8-byte aligned in the file. */
    static const char spaces[8] = "        ";
    size_t pad = (8 - w.len % 8) % 8, hlen = w.len + pad;
    if (hlen > DRIFT_ST_MAX_HEADER) {
        rc = drift_error(DRIFT_EINVAL, "%s: header of %zu bytes exceeds the limit", path, hlen);
        goto done;
    }
    unsigned char pre[8];
    for (int i = 0; i < 8; i++) pre[i] = (unsigned char)((uint64_t)hlen >> (8 * i));

    drift_atomic_file af;
    if ((rc = drift_atomic_open(&af, path))) goto done;
    rc = drift_atomic_write(&af, pre, 8);
    if (!rc) rc = drift_atomic_write(&af, w.buf, w.len);
    if (!rc) rc = drift_atomic_write(&af, spaces, pad);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t bytes = 0;
        tensor_bytes(order[i], path, &bytes);
        rc = drift_atomic_write(&af, order[i]->data, bytes);
    }
    if (rc) drift_atomic_abort(&af);
    else rc = drift_atomic_commit(&af);
done:
    drift_jsonw_free(&w);
    drift_free(order);
    return rc;
}
