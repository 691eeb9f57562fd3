/* npy.c — NumPy .npy reader and writer (see drift/npy.h).
 *
 * The format (numpy/lib/format.py): the magic "\x93NUMPY", a major and minor version
 * byte, the header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0), then a Python dict
 * literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded
 * with spaces and a final '\n' so that the data starts on a 64-byte boundary, then the
 * raw elements. The header is parsed here by a small strict parser, not an evaluator:
 * anything it does not understand is an error naming the file and the problem.
 */
#include "drift/npy.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/error.h"
#include "io/atomic.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* A header we accept is a few hundred bytes; a bigger one is corrupt or hostile. */
#define NPY_MAX_HEADER (1u << 20)
#define NPY_ALIGN 64

size_t drift_dtype_size(drift_dtype t)
{
    switch (t) {
    case DRIFT_DTYPE_F32: return 4;
    case DRIFT_DTYPE_F64: return 8;
    case DRIFT_DTYPE_I32: return 4;
    case DRIFT_DTYPE_I64: return 8;
    case DRIFT_DTYPE_U8: return 1;
    }
    return 0;
}

const char *drift_dtype_name(drift_dtype t)
{
    switch (t) {
    case DRIFT_DTYPE_F32: return "float32";
    case DRIFT_DTYPE_F64: return "float64";
    case DRIFT_DTYPE_I32: return "int32";
    case DRIFT_DTYPE_I64: return "int64";
    case DRIFT_DTYPE_U8: return "uint8";
    }
    return "unknown";
}

static const char *dtype_descr(drift_dtype t)
{
    switch (t) {
    case DRIFT_DTYPE_F32: return "<f4";
    case DRIFT_DTYPE_F64: return "<f8";
    case DRIFT_DTYPE_I32: return "<i4";
    case DRIFT_DTYPE_I64: return "<i8";
    case DRIFT_DTYPE_U8: return "|u1";
    }
    return NULL;
}

void drift_array_free(drift_array *a)
{
    if (!a) return;
    drift_free(a->data);
    a->data = NULL;
    a->count = 0;
}

/* ---------------------------------------------------------------------------------- */
/* Prefix: magic, version, header length                                              */

/* Reads the fixed prefix from the first `len` bytes. On success *prefix_len is 10 or 12
 * and *header_len the length of the dict text that follows. */
static int parse_prefix(const unsigned char *buf, size_t len, const char *name,
                        size_t *prefix_len, size_t *header_len)
{
    if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return drift_error(DRIFT_EFORMAT, "%s: not a .npy file (bad magic)", name);
    if (len < 8) return drift_error(DRIFT_EFORMAT, "%s: truncated .npy prefix", name);
    int major = buf[6], minor = buf[7];
    if ((major < 1 || major > 3) || minor != 0)
        return drift_error(DRIFT_EUNSUPPORTED, "%s: .npy format version %d.%d is not supported "
                           "(1.0, 2.0, 3.0 are)", name, major, minor);
    size_t need = major == 1 ? 10 : 12;
    if (len < need) return drift_error(DRIFT_EFORMAT, "%s: truncated .npy prefix", name);
    size_t hlen = major == 1 ? (size_t)buf[8] | (size_t)buf[9] << 8
                             : (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
                                   (size_t)buf[11] << 24;
    if (hlen > NPY_MAX_HEADER)
        return drift_error(DRIFT_EFORMAT, "%s: header length %zu exceeds the %u-byte limit",
                           name, hlen, NPY_MAX_HEADER);
    *prefix_len = need;
    *header_len = hlen;
    return DRIFT_OK;
}

/* ---------------------------------------------------------------------------------- */
/* Header: a Python dict literal with exactly the keys descr, fortran_order, shape     */

typedef struct {
    const char *s, *end, *name;
} cursor;

static void skip_space(cursor *c)
{
    while (c->s < c->end && (*c->s == ' ' || *c->s == '\t' || *c->s == '\n' || *c->s == '\r'))
        c->s++;
}

static int expect_char(cursor *c, char ch, const char *what)
{
    skip_space(c);
    if (c->s >= c->end || *c->s != ch)
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: expected '%c' %s", c->name, ch,
                           what);
    c->s++;
    return DRIFT_OK;
}

/* A quoted string without escapes ('...' or "..."), copied into out[cap]. */
static int parse_string(cursor *c, char *out, size_t cap, const char *what)
{
    skip_space(c);
    if (c->s >= c->end || (*c->s != '\'' && *c->s != '"'))
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: expected a string %s", c->name,
                           what);
    char q = *c->s++;
    size_t n = 0;
    while (c->s < c->end && *c->s != q) {
        unsigned char ch = (unsigned char)*c->s;
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f || n + 1 >= cap)
            return drift_error(DRIFT_EFORMAT, "%s: malformed header: bad string %s", c->name,
                               what);
        out[n++] = (char)ch;
        c->s++;
    }
    if (c->s >= c->end)
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: unterminated string %s",
                           c->name, what);
    c->s++;
    out[n] = '\0';
    return DRIFT_OK;
}

static int match_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->end - c->s) >= n && memcmp(c->s, w, n) == 0) {
        c->s += n;
        return 1;
    }
    return 0;
}

/* Maps a descr string to a dtype, or explains why not. */
static int parse_descr(const char *d, const char *name, drift_dtype *t)
{
    static const struct {
        const char *descr;
        drift_dtype t;
    } known[] = {
        {"<f4", DRIFT_DTYPE_F32}, {"<f8", DRIFT_DTYPE_F64}, {"<i4", DRIFT_DTYPE_I32},
        {"<i8", DRIFT_DTYPE_I64}, {"|u1", DRIFT_DTYPE_U8},  {"<u1", DRIFT_DTYPE_U8},
        {">u1", DRIFT_DTYPE_U8}, /* one byte has no byte order */
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(d, known[i].descr) == 0) {
            *t = known[i].t;
            return DRIFT_OK;
        }
    if (d[0] == '>' && (strcmp(d + 1, "f4") == 0 || strcmp(d + 1, "f8") == 0 ||
                        strcmp(d + 1, "i4") == 0 || strcmp(d + 1, "i8") == 0))
        return drift_error(DRIFT_EUNSUPPORTED, "%s: big-endian dtype '%s' is not supported "
                           "(convert with arr.astype('<%s'))", name, d, d + 1);
    if (strchr(d, 'O'))
        return drift_error(DRIFT_EUNSUPPORTED, "%s: object dtype '%s' is not supported", name, d);
    if (strcmp(d, "|b1") == 0)
        return drift_error(DRIFT_EUNSUPPORTED, "%s: bool dtype '|b1' is not supported "
                           "(convert with arr.astype(np.uint8))", name);
    return drift_error(DRIFT_EUNSUPPORTED, "%s: dtype '%s' is not supported (float32, float64, "
                       "int32, int64, uint8 are)", name, d);
}

/* A non-negative integer; a trailing 'L' (Python 2 longs in old files) is allowed. */
static int parse_dim(cursor *c, int64_t *v)
{
    skip_space(c);
    if (c->s < c->end && *c->s == '-')
        return drift_error(DRIFT_EFORMAT, "%s: negative dimension in shape", c->name);
    if (c->s >= c->end || *c->s < '0' || *c->s > '9')
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: expected an integer in shape",
                           c->name);
    int64_t x = 0;
    while (c->s < c->end && *c->s >= '0' && *c->s <= '9') {
        int digit = *c->s - '0';
        if (x > (INT64_MAX - digit) / 10)
            return drift_error(DRIFT_EFORMAT, "%s: dimension in shape overflows int64", c->name);
        x = x * 10 + digit;
        c->s++;
    }
    if (c->s < c->end && *c->s == 'L') c->s++;
    *v = x;
    return DRIFT_OK;
}

/* ( ) | (n,) | (a, b[, ...][,]) — a Python tuple; "(3)" is an int, not a tuple. */
static int parse_shape(cursor *c, drift_array *out)
{
    int st = expect_char(c, '(', "to open the shape tuple");
    if (st) return st;
    int ndim = 0, saw_comma = 0;
    skip_space(c);
    while (c->s < c->end && *c->s != ')') {
        if (ndim == DRIFT_NPY_MAX_DIM)
            return drift_error(DRIFT_EUNSUPPORTED, "%s: more than %d dimensions", c->name,
                               DRIFT_NPY_MAX_DIM);
        if ((st = parse_dim(c, &out->shape[ndim]))) return st;
        ndim++;
        skip_space(c);
        saw_comma = 0;
        if (c->s < c->end && *c->s == ',') {
            c->s++;
            saw_comma = 1;
            skip_space(c);
        } else {
            break;
        }
    }
    if ((st = expect_char(c, ')', "to close the shape tuple"))) return st;
    if (ndim == 1 && !saw_comma)
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: shape (%" PRId64 ") is not a "
                           "tuple", c->name, out->shape[0]);
    out->ndim = ndim;
    return DRIFT_OK;
}

static int parse_header(const char *text, size_t len, const char *name, drift_array *out)
{
    cursor c = {text, text + len, name};
    int have_descr = 0, have_order = 0, have_shape = 0, st;
    if ((st = expect_char(&c, '{', "at the start of the header (not a dict)"))) return st;
    for (;;) {
        skip_space(&c);
        if (c.s < c.end && *c.s == '}') break;
        char key[32], descr[64];
        if ((st = parse_string(&c, key, sizeof key, "as dict key"))) return st;
        if ((st = expect_char(&c, ':', "after a dict key"))) return st;
        skip_space(&c);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (c.s < c.end && (*c.s == '[' || *c.s == '{'))
                return drift_error(DRIFT_EUNSUPPORTED, "%s: structured dtypes are not supported",
                                   name);
            if ((st = parse_string(&c, descr, sizeof descr, "for descr"))) return st;
            if ((st = parse_descr(descr, name, &out->dtype))) return st;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (match_word(&c, "True"))
                return drift_error(DRIFT_EUNSUPPORTED, "%s: fortran_order=True is not supported "
                                   "(save np.ascontiguousarray(arr))", name);
            if (!match_word(&c, "False"))
                return drift_error(DRIFT_EFORMAT, "%s: malformed header: fortran_order must be "
                                   "True or False", name);
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if ((st = parse_shape(&c, out))) return st;
            have_shape = 1;
        } else {
            return drift_error(DRIFT_EFORMAT, "%s: malformed header: unexpected or repeated key "
                               "'%s'", name, key);
        }
        skip_space(&c);
        if (c.s < c.end && *c.s == ',') {
            c.s++;
            continue;
        }
        skip_space(&c);
        if (c.s >= c.end || *c.s != '}')
            return drift_error(DRIFT_EFORMAT, "%s: malformed header: expected ',' or '}'", name);
    }
    c.s++; /* '}' */
    skip_space(&c);
    if (c.s != c.end)
        return drift_error(DRIFT_EFORMAT, "%s: malformed header: trailing characters after the "
                           "dict", name);
    if (!have_descr || !have_order || !have_shape)
        return drift_error(DRIFT_EFORMAT, "%s: header lacks '%s'", name,
                           !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return DRIFT_OK;
}

/* count = prod(shape); *nbytes = count * itemsize, both checked for overflow. */
static int element_count(drift_array *a, const char *name, size_t *nbytes)
{
    size_t count = 1;
    int zero = 0;
    for (int i = 0; i < a->ndim; i++) if (a->shape[i] == 0) zero = 1;
    for (int i = 0; i < a->ndim && !zero; i++) {
        uint64_t d = (uint64_t)a->shape[i];
        if (d > SIZE_MAX / count)
            return drift_error(DRIFT_EFORMAT, "%s: element count of the shape overflows", name);
        count *= (size_t)d;
    }
    if (zero) count = 0;
    size_t item = drift_dtype_size(a->dtype);
    if (count > SIZE_MAX / item)
        return drift_error(DRIFT_EFORMAT, "%s: data size of the shape overflows", name);
    a->count = count;
    *nbytes = count * item;
    return DRIFT_OK;
}

static int check_data_size(const char *name, size_t expected, uint64_t available)
{
    if (available < expected)
        return drift_error(DRIFT_EFORMAT, "%s: truncated data: the shape needs %zu bytes, the "
                           "file has %" PRIu64, name, expected, available);
    if (available > expected)
        return drift_error(DRIFT_EFORMAT, "%s: %" PRIu64 " unexpected bytes after the data "
                           "(shape disagrees with file size)", name, available - expected);
    return DRIFT_OK;
}

int drift_npy_parse(const unsigned char *buf, size_t len, const char *name, drift_array *out)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!buf && len) return drift_error(DRIFT_EINVAL, "%s: NULL buffer", name);
    size_t prefix = 0, hlen = 0, nbytes = 0;
    int st = parse_prefix(buf, len, name, &prefix, &hlen);
    if (st) return st;
    if (len - prefix < hlen)
        return drift_error(DRIFT_EFORMAT, "%s: truncated header (%zu of %zu bytes)", name,
                           len - prefix, hlen);
    drift_array a = {0};
    if ((st = parse_header((const char *)buf + prefix, hlen, name, &a))) return st;
    if ((st = element_count(&a, name, &nbytes))) return st;
    size_t off = prefix + hlen;
    if ((st = check_data_size(name, nbytes, len - off))) return st;
    a.data = drift_alloc(a.count, drift_dtype_size(a.dtype));
    if (!a.data) return drift_error_context(DRIFT_ENOMEM, "%s", name);
    if (nbytes) memcpy(a.data, buf + off, nbytes);
    *out = a;
    return DRIFT_OK;
}

/* The file's header: *a gets dtype, ndim, shape (count not set); *data_off the offset of the
 * data; *file_size the file's size. The file stays open at the data in *fp. */
static int open_npy(const char *path, FILE **fp, drift_array *a, uint64_t *data_off, uint64_t *file_size)
{
    memset(a, 0, sizeof *a);
    FILE *f;
    struct stat sb;
    int st = drift_fopen_input(path, &f, &sb);
    if (st) return st;
    unsigned char pre[12];
    char *header = NULL;
    size_t prefix = 0, hlen = 0;
    size_t got = fread(pre, 1, sizeof pre, f);
    if ((st = parse_prefix(pre, got, path, &prefix, &hlen))) goto done;
    if ((uint64_t)sb.st_size - prefix < hlen) {
        st = drift_error(DRIFT_EFORMAT, "%s: truncated header (%" PRIu64 " of %zu bytes)", path,
                         (uint64_t)sb.st_size - prefix, hlen);
        goto done;
    }
    header = drift_alloc(hlen + 1, 1);
    if (!header) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if (fseek(f, (long)prefix, SEEK_SET) != 0 || fread(header, 1, hlen, f) != hlen) {
        st = drift_error(DRIFT_EIO, "%s: cannot read header", path);
        goto done;
    }
    if ((st = parse_header(header, hlen, path, a))) goto done;
    *data_off = prefix + hlen;
    *file_size = (uint64_t)sb.st_size;
done:
    drift_free(header);
    if (st)
        fclose(f);
    else
        *fp = f;
    return st;
}

/* Header, then at most max_rows rows along the first axis (max_rows < 0: all of them, and the
 * file's size must then match the shape exactly). The returned array's shape[0] is the number
 * of rows read; *total_rows (when not NULL) the header's. */
static int read_rows(const char *path, int64_t max_rows, drift_array *out, int64_t *total_rows)
{
    memset(out, 0, sizeof *out);
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    FILE *f = NULL;
    drift_array a;
    uint64_t off = 0, size = 0;
    size_t nbytes = 0;
    int st = open_npy(path, &f, &a, &off, &size);
    if (st) return st;
    const int64_t total = a.ndim ? a.shape[0] : 1;
    if (total_rows) *total_rows = total;
    const int limited = max_rows >= 0 && a.ndim > 0 && max_rows < total;
    if (limited) {
        /* the size of the whole shape must be representable, as when reading all of it */
        if ((st = element_count(&a, path, &nbytes))) goto done;
        a.shape[0] = max_rows;
    }
    if ((st = element_count(&a, path, &nbytes))) goto done;
    if (limited) {
        if (size - off < nbytes) {
            st = drift_error(DRIFT_EFORMAT, "%s: truncated data: the first %" PRId64 " rows need %zu bytes, the "
                             "file has %" PRIu64, path, max_rows, nbytes, size - off);
            goto done;
        }
    } else if ((st = check_data_size(path, nbytes, size - off))) {
        goto done;
    }
    a.data = drift_alloc(a.count, drift_dtype_size(a.dtype));
    if (!a.data) {
        st = drift_error_context(DRIFT_ENOMEM, "%s", path);
        goto done;
    }
    if (fread(a.data, 1, nbytes, f) != nbytes) {
        st = drift_error(DRIFT_EIO, "%s: read failed (file changed while reading?)", path);
        goto done;
    }
    *out = a;
    a.data = NULL;
done:
    drift_free(a.data);
    fclose(f);
    return st;
}

int drift_npy_read(const char *path, drift_array *out) { return read_rows(path, -1, out, NULL); }

int drift_npy_read_rows(const char *path, int64_t max_rows, drift_array *out, int64_t *total_rows)
{
    if (max_rows < 0) {
        memset(out, 0, sizeof *out);
        return drift_error(DRIFT_EINVAL, "%s: max_rows must be >= 0, got %" PRId64, path ? path : "(null)", max_rows);
    }
    return read_rows(path, max_rows, out, total_rows);
}

/* ---------------------------------------------------------------------------------- */
/* Writing                                                                            */

int drift_npy_write(const char *path, drift_dtype dtype, int ndim, const int64_t *shape,
                    const void *data)
{
    const char *descr = dtype_descr(dtype);
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    if (!descr) return drift_error(DRIFT_EINVAL, "%s: unknown dtype %d", path, (int)dtype);
    if (ndim < 0 || ndim > DRIFT_NPY_MAX_DIM)
        return drift_error(DRIFT_EINVAL, "%s: ndim %d out of range 0..%d", path, ndim,
                           DRIFT_NPY_MAX_DIM);
    if (ndim > 0 && !shape) return drift_error(DRIFT_EINVAL, "%s: NULL shape", path);
    drift_array a = {.dtype = dtype, .ndim = ndim};
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return drift_error(DRIFT_EINVAL, "%s: negative dimension %" PRId64, path, shape[i]);
        a.shape[i] = shape[i];
    }
    size_t nbytes;
    int st = element_count(&a, path, &nbytes);
    if (st) return st;
    if (nbytes && !data) return drift_error(DRIFT_EINVAL, "%s: NULL data", path);

    /* The dict, then spaces and '\n' so that 10 + header length is a multiple of 64. */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < ndim; i++)
        n += snprintf(header + n, sizeof header - n, "%s%" PRId64, i ? ", " : "", shape[i]);
    n += snprintf(header + n, sizeof header - n, "%s), }", ndim == 1 ? "," : "");
    size_t total = (size_t)n + 1 + 10;
    size_t padded = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    memset(header + n, ' ', padded - total);
    n += (int)(padded - total);
    header[n++] = '\n';

    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(n & 0xff);
    pre[9] = (unsigned char)(n >> 8);

    drift_atomic_file af;
    if ((st = drift_atomic_open(&af, path))) return st;
    if ((st = drift_atomic_write(&af, pre, sizeof pre)) ||
        (st = drift_atomic_write(&af, header, (size_t)n)) ||
        (st = drift_atomic_write(&af, data, nbytes))) {
        drift_atomic_abort(&af);
        return st;
    }
    return drift_atomic_commit(&af);
}

int drift_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return drift_npy_write(path, DRIFT_DTYPE_F32, 2, shape, data);
}

int drift_npy_write_f64(const char *path, const double *data, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    return drift_npy_write(path, DRIFT_DTYPE_F64, 2, shape, data);
}

/* ---------------------------------------------------------------------------------- */
/* Matrix and label conveniences                                                      */

static double element_as_double(const drift_array *a, size_t i)
{
    switch (a->dtype) {
    case DRIFT_DTYPE_F32: return ((const float *)a->data)[i];
    case DRIFT_DTYPE_F64: return ((const double *)a->data)[i];
    case DRIFT_DTYPE_I32: return ((const int32_t *)a->data)[i];
    case DRIFT_DTYPE_I64: return (double)((const int64_t *)a->data)[i];
    case DRIFT_DTYPE_U8: return ((const uint8_t *)a->data)[i];
    }
    return 0;
}

/* rows = shape[0] (1 for a scalar), cols = product of the rest (1 for a vector). */
static void matrix_shape(const drift_array *a, int64_t *rows, int64_t *cols)
{
    if (a->ndim == 0) {
        *rows = 1;
        *cols = 1;
        return;
    }
    *rows = a->shape[0];
    *cols = 1;
    for (int i = 1; i < a->ndim; i++) *cols *= a->shape[i];
}

static int read_matrix(const char *path, int want_f64, void **data, int64_t *rows, int64_t *cols)
{
    *data = NULL;
    drift_array a;
    int st = drift_npy_read(path, &a);
    if (st) return st;
    int64_t r, c;
    matrix_shape(&a, &r, &c);
    size_t item = want_f64 ? sizeof(double) : sizeof(float);
    void *out = drift_alloc(a.count, item);
    if (!out) {
        drift_array_free(&a);
        return drift_error_context(DRIFT_ENOMEM, "%s", path);
    }
    for (size_t i = 0; i < a.count; i++) {
        double v = element_as_double(&a, i);
        int finite;
        if (want_f64) {
            ((double *)out)[i] = v;
            finite = isfinite(v);
        } else {
            float f = (float)v;
            ((float *)out)[i] = f;
            finite = isfinite(f);
        }
        if (!finite) {
            int64_t row = c ? (int64_t)(i / (size_t)c) : 0;
            drift_array_free(&a);
            drift_free(out);
            return drift_error(DRIFT_ENUMERIC, "%s: non-finite value (NaN/Inf%s) in row %" PRId64,
                               path, want_f64 ? "" : " or beyond float32 range", row);
        }
    }
    drift_array_free(&a);
    *data = out;
    *rows = r;
    *cols = c;
    return DRIFT_OK;
}

/* At most max_rows rows as float32, converted in chunks as they are read (a float32 file goes
 * straight into the result): the memory is the result's, whatever the file's size. */
int drift_npy_read_f32_rows(const char *path, int64_t max_rows, float **data, int64_t *rows, int64_t *cols,
                            int64_t *total_rows)
{
    *data = NULL;
    if (!path) return drift_error(DRIFT_EINVAL, "NULL path");
    if (max_rows < 0) return drift_error(DRIFT_EINVAL, "%s: max_rows must be >= 0, got %" PRId64, path, max_rows);
    FILE *f = NULL;
    drift_array a;
    uint64_t off = 0, size = 0;
    size_t nbytes = 0;
    int st = open_npy(path, &f, &a, &off, &size);
    if (st) return st;
    const int64_t total = a.ndim ? a.shape[0] : 1;
    const int limited = a.ndim > 0 && max_rows < total;
    float *out = NULL;
    unsigned char *chunk = NULL;
    if ((st = element_count(&a, path, &nbytes))) goto done; /* the whole shape must be sane */
    if (limited) a.shape[0] = max_rows;
    if ((st = element_count(&a, path, &nbytes))) goto done;
    if (limited ? size - off < nbytes : size - off != nbytes) {
        st = limited ? drift_error(DRIFT_EFORMAT, "%s: truncated data: the first %" PRId64 " rows need %zu bytes, "
                                   "the file has %" PRIu64, path, max_rows, nbytes, size - off)
                     : check_data_size(path, nbytes, size - off);
        goto done;
    }
    int64_t r, c;
    matrix_shape(&a, &r, &c);
    out = drift_alloc(a.count ? a.count : 1, sizeof(float));
    const size_t item = drift_dtype_size(a.dtype), per = 1 << 16;
    chunk = a.dtype == DRIFT_DTYPE_F32 ? NULL : drift_alloc(per, item);
    if (!out || (a.dtype != DRIFT_DTYPE_F32 && !chunk)) {
        st = drift_error_context(DRIFT_ENOMEM, "%s", path);
        goto done;
    }
    for (size_t i0 = 0; i0 < a.count; i0 += per) {
        const size_t k = a.count - i0 < per ? a.count - i0 : per;
        drift_array piece = {.dtype = a.dtype, .data = a.dtype == DRIFT_DTYPE_F32 ? (void *)(out + i0) : chunk};
        if (fread(piece.data, item, k, f) != k) {
            st = drift_error(DRIFT_EIO, "%s: read failed (file changed while reading?)", path);
            goto done;
        }
        for (size_t i = 0; i < k; i++) {
            const float v = (float)element_as_double(&piece, i);
            out[i0 + i] = v;
            if (!isfinite(v)) {
                st = drift_error(DRIFT_ENUMERIC, "%s: non-finite value (NaN/Inf or beyond float32 range) in row %" PRId64,
                                 path, c ? (int64_t)((i0 + i) / (size_t)c) : 0);
                goto done;
            }
        }
    }
    *data = out;
    out = NULL;
    *rows = r;
    *cols = c;
    if (total_rows) *total_rows = total;
done:
    drift_free(out);
    drift_free(chunk);
    fclose(f);
    return st;
}

int drift_npy_read_f32(const char *path, float **data, int64_t *rows, int64_t *cols)
{
    return read_matrix(path, 0, (void **)data, rows, cols);
}

int drift_npy_read_f64(const char *path, double **data, int64_t *rows, int64_t *cols)
{
    return read_matrix(path, 1, (void **)data, rows, cols);
}

int drift_npy_read_labels(const char *path, int32_t **labels, int64_t *n)
{
    return drift_npy_read_labels_rows(path, -1, labels, n, NULL);
}

int drift_npy_read_labels_rows(const char *path, int64_t max_rows, int32_t **labels, int64_t *n, int64_t *total_rows)
{
    *labels = NULL;
    drift_array a;
    int st = read_rows(path, max_rows, &a, total_rows);
    if (st) return st;
    if (a.dtype == DRIFT_DTYPE_F32 || a.dtype == DRIFT_DTYPE_F64) {
        drift_array_free(&a);
        return drift_error(DRIFT_EUNSUPPORTED, "%s: labels must be integers, got %s", path,
                           drift_dtype_name(a.dtype));
    }
    if (!(a.ndim == 1 || (a.ndim == 2 && a.shape[1] == 1))) {
        drift_array_free(&a);
        return drift_error(DRIFT_ESHAPE, "%s: labels must have shape (n,) or (n, 1), got %d-d "
                           "array", path, a.ndim);
    }
    int32_t *out = drift_alloc(a.count, sizeof *out);
    if (!out) {
        drift_array_free(&a);
        return drift_error_context(DRIFT_ENOMEM, "%s", path);
    }
    for (size_t i = 0; i < a.count; i++) {
        int64_t v = a.dtype == DRIFT_DTYPE_I64   ? ((const int64_t *)a.data)[i]
                    : a.dtype == DRIFT_DTYPE_I32 ? ((const int32_t *)a.data)[i]
                                                 : ((const uint8_t *)a.data)[i];
        if (v < INT32_MIN || v > INT32_MAX) {
            drift_array_free(&a);
            drift_free(out);
            return drift_error(DRIFT_EFORMAT, "%s: label %" PRId64 " at index %zu does not fit "
                               "in int32", path, v, i);
        }
        out[i] = (int32_t)v;
    }
    *n = a.shape[0];
    drift_array_free(&a);
    *labels = out;
    return DRIFT_OK;
}
