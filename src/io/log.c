/* log.c — JSON-lines and CSV metric logs (see drift/log.h). */
#include "drift/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"
#include "io/atomic.h"

/* ---------------------------------------------------------------------------------- */
/* JSON lines                                                                         */

struct drift_jsonl {
    int fd;
    int open_record;
    drift_jsonw w;
    char path[];
};

int drift_jsonl_open(drift_jsonl **out, const char *path, int truncate)
{
    *out = NULL;
    if (!path || !*path) return drift_error(DRIFT_EINVAL, "empty log path");
    size_t n = strlen(path);
    drift_jsonl *l = drift_alloc(1, sizeof *l + n + 1);
    if (!l) return DRIFT_ENOMEM;
    memcpy(l->path, path, n + 1);
    int st = drift_open_output_stream(path, O_APPEND | (truncate ? O_TRUNC : 0), &l->fd);
    if (st) {
        drift_free(l);
        return st;
    }
    drift_jsonw_init(&l->w);
    l->w.double_digits = 9;
    *out = l;
    return DRIFT_OK;
}

int drift_jsonl_begin(drift_jsonl *l)
{
    if (l->open_record)
        return drift_error(DRIFT_EINVAL, "%s: drift_jsonl_begin inside an open record", l->path);
    drift_jsonw_reset(&l->w);
    l->open_record = 1;
    return drift_jsonw_begin_object(&l->w);
}

static int need_record(drift_jsonl *l, const char *what)
{
    if (!l->open_record)
        return drift_error(DRIFT_EINVAL, "%s: %s outside a record (call drift_jsonl_begin)",
                           l->path, what);
    return DRIFT_OK;
}

int drift_jsonl_int(drift_jsonl *l, const char *key, int64_t v)
{
    int st = need_record(l, "drift_jsonl_int");
    if (!st) st = drift_jsonw_key(&l->w, key);
    return st ? st : drift_jsonw_int(&l->w, v);
}

int drift_jsonl_double(drift_jsonl *l, const char *key, double v)
{
    int st = need_record(l, "drift_jsonl_double");
    if (!st) st = drift_jsonw_key(&l->w, key);
    return st ? st : drift_jsonw_double(&l->w, v);
}

int drift_jsonl_string(drift_jsonl *l, const char *key, const char *v)
{
    int st = need_record(l, "drift_jsonl_string");
    if (!st) st = drift_jsonw_key(&l->w, key);
    return st ? st : drift_jsonw_string(&l->w, v);
}

int drift_jsonl_bool(drift_jsonl *l, const char *key, int v)
{
    int st = need_record(l, "drift_jsonl_bool");
    if (!st) st = drift_jsonw_key(&l->w, key);
    return st ? st : drift_jsonw_bool(&l->w, v);
}

drift_jsonw *drift_jsonl_writer(drift_jsonl *l) { return l->open_record ? &l->w : NULL; }

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

int drift_jsonl_end(drift_jsonl *l)
{
    int st = need_record(l, "drift_jsonl_end");
    if (st) return st;
    l->open_record = 0;
    drift_jsonw_end_object(&l->w);
    if ((st = drift_jsonw_status(&l->w)))
        return drift_error_context(st, "%s: record dropped", l->path);
    /* The newline goes in the same write as the record. */
    char nl = '\n';
    if (l->w.len + 1 < l->w.cap) {
        l->w.buf[l->w.len] = nl;
        if (write_all(l->fd, l->w.buf, l->w.len + 1) != 0)
            return drift_error(DRIFT_EIO, "%s: write failed: %s", l->path, strerror(errno));
        l->w.buf[l->w.len] = '\0';
        return DRIFT_OK;
    }
    if (write_all(l->fd, l->w.buf, l->w.len) != 0 || write_all(l->fd, &nl, 1) != 0)
        return drift_error(DRIFT_EIO, "%s: write failed: %s", l->path, strerror(errno));
    return DRIFT_OK;
}

void drift_jsonl_discard(drift_jsonl *l)
{
    if (!l) return;
    l->open_record = 0;
    drift_jsonw_reset(&l->w);
}

int drift_jsonl_flush(drift_jsonl *l)
{
    if (fsync(l->fd) != 0 && errno != EINVAL) /* EINVAL: a pipe or special file */
        return drift_error(DRIFT_EIO, "%s: fsync failed: %s", l->path, strerror(errno));
    return DRIFT_OK;
}

int drift_jsonl_close(drift_jsonl *l)
{
    if (!l) return DRIFT_OK;
    int st = DRIFT_OK;
    if (l->open_record)
        st = drift_error(DRIFT_EINVAL, "%s: closed with an unfinished record (dropped)", l->path);
    if (close(l->fd) != 0 && !st)
        st = drift_error(DRIFT_EIO, "%s: close failed: %s", l->path, strerror(errno));
    drift_jsonw_free(&l->w);
    drift_free(l);
    return st;
}

/* ---------------------------------------------------------------------------------- */
/* CSV                                                                                */

struct drift_csv {
    FILE *f;
    int ncols, fields;
    char *row;          /* the row being built */
    size_t len, cap;
    int failed;
    char path[];
};

static int row_append(drift_csv *c, const char *s, size_t n)
{
    if (c->len + n + 2 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->len + n + 2) cap *= 2;
        char *grown = drift_alloc(cap, 1);
        if (!grown) {
            c->failed = 1;
            return DRIFT_ENOMEM;
        }
        if (c->len) memcpy(grown, c->row, c->len);
        drift_free(c->row);
        c->row = grown;
        c->cap = cap;
    }
    memcpy(c->row + c->len, s, n);
    c->len += n;
    return DRIFT_OK;
}

static int start_field(drift_csv *c)
{
    if (c->fields == c->ncols) {
        c->failed = 1;
        return drift_error(DRIFT_EINVAL, "%s: more than %d fields in a row", c->path, c->ncols);
    }
    return c->fields++ ? row_append(c, ",", 1) : DRIFT_OK;
}

/* RFC 4180: quote a field holding a comma, quote, CR or LF; double inner quotes. */
static int append_csv_string(drift_csv *c, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) return row_append(c, s, strlen(s));
    int st = row_append(c, "\"", 1);
    for (const char *p = s; *p && !st; p++) {
        st = row_append(c, p, 1);
        if (!st && *p == '"') st = row_append(c, "\"", 1);
    }
    return st ? st : row_append(c, "\"", 1);
}

static void format_double(char *buf, size_t cap, double v)
{
    if (isnan(v)) snprintf(buf, cap, "nan");
    else if (isinf(v)) snprintf(buf, cap, v > 0 ? "inf" : "-inf");
    else snprintf(buf, cap, "%.9g", v);
}

int drift_csv_double(drift_csv *c, double v)
{
    char buf[40];
    int st = start_field(c);
    if (st) return st;
    format_double(buf, sizeof buf, v);
    return row_append(c, buf, strlen(buf));
}

int drift_csv_int(drift_csv *c, int64_t v)
{
    char buf[32];
    int st = start_field(c);
    if (st) return st;
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return row_append(c, buf, strlen(buf));
}

int drift_csv_string(drift_csv *c, const char *s)
{
    int st = start_field(c);
    return st ? st : append_csv_string(c, s ? s : "");
}

int drift_csv_end_row(drift_csv *c)
{
    int st = DRIFT_OK;
    if (c->failed)
        st = drift_error(DRIFT_EINVAL, "%s: row dropped after an earlier error", c->path);
    else if (c->fields != c->ncols)
        st = drift_error(DRIFT_EINVAL, "%s: row has %d fields, the header has %d", c->path,
                         c->fields, c->ncols);
    else if (row_append(c, "\n", 1) != DRIFT_OK || fwrite(c->row, 1, c->len, c->f) != c->len)
        st = drift_error(DRIFT_EIO, "%s: write failed", c->path);
    c->len = 0;
    c->fields = 0;
    c->failed = 0;
    return st;
}

int drift_csv_row(drift_csv *c, const double *values)
{
    for (int i = 0; i < c->ncols; i++) drift_csv_double(c, values[i]);
    return drift_csv_end_row(c);
}

int drift_csv_open(drift_csv **out, const char *path, int ncols, const char *const *header)
{
    *out = NULL;
    if (!path || !*path || ncols < 1 || !header)
        return drift_error(DRIFT_EINVAL, "CSV: need a path and at least one column");
    size_t n = strlen(path);
    drift_csv *c = drift_alloc(1, sizeof *c + n + 1);
    if (!c) return DRIFT_ENOMEM;
    memcpy(c->path, path, n + 1);
    c->ncols = ncols;
    int fd;
    int st = drift_open_output_stream(path, O_TRUNC, &fd);
    if (st) {
        drift_free(c);
        return st;
    }
    c->f = fdopen(fd, "w");
    if (!c->f) {
        int e = errno;
        close(fd);
        drift_free(c);
        return drift_error(DRIFT_EIO, "%s: cannot create: %s", path, strerror(e));
    }
    for (int i = 0; i < ncols; i++) drift_csv_string(c, header[i]);
    st = drift_csv_end_row(c);
    if (st) {
        drift_csv_close(c);
        return st;
    }
    *out = c;
    return DRIFT_OK;
}

int drift_csv_close(drift_csv *c)
{
    if (!c) return DRIFT_OK;
    int st = DRIFT_OK;
    if (c->fields)
        st = drift_error(DRIFT_EINVAL, "%s: closed with an unfinished row (dropped)", c->path);
    if (fclose(c->f) != 0 && !st) st = drift_error(DRIFT_EIO, "%s: write failed", c->path);
    drift_free(c->row);
    drift_free(c);
    return st;
}

int drift_csv_write_table(const char *path, int cols, const char *const *header,
                          const double *values, int64_t rows)
{
    if (!path || cols < 1 || !header || rows < 0 || (rows && !values))
        return drift_error(DRIFT_EINVAL, "CSV table: bad arguments");
    /* Build each row with the same field rules, then write the lot atomically. */
    drift_csv c = {0};
    c.ncols = cols;
    drift_atomic_file af;
    int st = drift_atomic_open(&af, path);
    if (st) return st;
    for (int64_t r = -1; r < rows && !st; r++) {
        c.len = 0;
        c.fields = 0;
        for (int j = 0; j < cols; j++) {
            if (r < 0) drift_csv_string(&c, header[j]);
            else drift_csv_double(&c, values[r * cols + j]);
        }
        if (c.failed || row_append(&c, "\n", 1)) st = DRIFT_ENOMEM;
        else st = drift_atomic_write(&af, c.row, c.len);
    }
    drift_free(c.row);
    if (st) {
        drift_atomic_abort(&af);
        return st;
    }
    return drift_atomic_commit(&af);
}
