/* idx.c — IDX files (the MNIST format), raw or gzip, read and written (see drift/data.h).
 *
 * Files and in-memory images go through one parser that pulls bytes from a "source": a zlib
 * gzFile (which reads raw and gzip files alike), a raw memory buffer, or a gzip memory buffer
 * inflated on the fly. The parser reads the header, checks the declared size against what
 * the source can possibly hold before allocating (so a 12-byte file claiming 4 GiB of pixels
 * fails at once), then reads the payload and insists that nothing follows it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"
#include "io/atomic.h"

/* Deflate cannot expand data by more than 1032:1 (a 258-byte match costs at least 2 bits);
 * 1040 leaves room for block and member overheads. */
#define DEFLATE_MAX_RATIO 1040

typedef struct {
    const char *name;
    gzFile gz;                   /* file source, or NULL */
    const unsigned char *mem;    /* memory source */
    size_t len, pos;
    int inflating;               /* memory source is gzip */
    z_stream zs;
    int ended;                   /* gzip stream finished (or ran out of input) */
    int truncated_gzip;          /* the gzip stream stopped before its end marker */
    int exact;                   /* raw data: `size` is exactly header + payload */
    size_t size;                 /* bytes in the file / buffer (compressed size for gzip) */
} source;

/* Read up to n bytes; *got < n means the data ended. Fails only on corrupt compressed data. */
static int source_read(source *s, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    if (s->gz) {
        while (*got < n) {
            size_t want = n - *got;
            unsigned chunk = want > (1u << 30) ? (1u << 30) : (unsigned)want;
            int r = gzread(s->gz, dst + *got, chunk);
            if (r < 0) {
                int zerr;
                const char *msg = gzerror(s->gz, &zerr);
                return drift_error(DRIFT_EFORMAT, "%s: corrupt gzip data: %s", s->name, msg);
            }
            *got += (size_t)r;
            if ((unsigned)r < chunk) {
                int zerr;
                gzerror(s->gz, &zerr);
                if (zerr == Z_BUF_ERROR) s->truncated_gzip = 1;
                break;
            }
        }
        return DRIFT_OK;
    }
    if (!s->inflating) {
        size_t avail = s->len - s->pos, take = n < avail ? n : avail;
        memcpy(dst, s->mem + s->pos, take);
        s->pos += take;
        *got = take;
        return DRIFT_OK;
    }
    while (*got < n && !s->ended) {
        size_t want = n - *got;
        s->zs.next_out = dst + *got;
        s->zs.avail_out = want > (1u << 30) ? (1u << 30) : (uInt)want;
        uInt before = s->zs.avail_out;
        int r = inflate(&s->zs, Z_NO_FLUSH);
        *got += before - s->zs.avail_out;
        if (r == Z_STREAM_END) {
            s->ended = 1;
        } else if (r == Z_BUF_ERROR) { /* no input left before the end marker */
            s->ended = 1;
            s->truncated_gzip = 1;
        } else if (r != Z_OK) {
            return drift_error(DRIFT_EFORMAT, "%s: corrupt gzip data: %s", s->name,
                               s->zs.msg ? s->zs.msg : zError(r));
        }
    }
    return DRIFT_OK;
}

static const char *type_name(int code)
{
    switch (code) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* "60000x28x28" */
static void format_dims(const int64_t *dims, int ndim, char *buf, size_t size)
{
    buf[0] = '\0';
    for (int i = 0; i < ndim; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%lld", i ? "x" : "", (long long)dims[i]);
    }
}

/* max_rows >= 0: only the first max_rows entries along dims[0] are read (the source is not
 * inflated further, and whatever follows them is not looked at); *total_rows gets dims[0]. */
static int parse(source *s, int64_t max_rows, drift_idx *out, int64_t *total_rows)
{
    memset(out, 0, sizeof *out);
    unsigned char head[4 + 4 * DRIFT_IDX_MAX_DIM];
    size_t got;
    int st = source_read(s, head, 4, &got);
    if (st) return st;
    if (got < 4)
        return drift_error(DRIFT_EFORMAT, "%s: %zu bytes: too short for an IDX header", s->name,
                           got);
    unsigned magic = (unsigned)head[0] << 24 | (unsigned)head[1] << 16 | (unsigned)head[2] << 8 |
                     head[3];
    if (head[0] != 0 || head[1] != 0)
        return drift_error(DRIFT_EFORMAT,
                           "%s: bad magic 0x%08x: not an IDX file (expected 0x00000803 for "
                           "images, 0x00000801 for labels)",
                           s->name, magic);
    int type = head[2], ndim = head[3];
    if (type != 0x08) {
        if (type_name(type))
            return drift_error(DRIFT_EUNSUPPORTED,
                               "%s: IDX element type 0x%02x (%s) is not supported: only unsigned "
                               "bytes (0x08)",
                               s->name, type, type_name(type));
        return drift_error(DRIFT_EFORMAT, "%s: bad magic 0x%08x: unknown IDX element type 0x%02x",
                           s->name, magic, type);
    }
    if (ndim == 0)
        return drift_error(DRIFT_EFORMAT, "%s: bad magic 0x%08x: zero dimensions", s->name, magic);
    if (ndim > DRIFT_IDX_MAX_DIM)
        return drift_error(DRIFT_EUNSUPPORTED, "%s: %d dimensions: at most %d are supported",
                           s->name, ndim, DRIFT_IDX_MAX_DIM);
    st = source_read(s, head + 4, 4 * (size_t)ndim, &got);
    if (st) return st;
    if (got < 4 * (size_t)ndim)
        return drift_error(DRIFT_EFORMAT, "%s: truncated header: %d dimensions need %d bytes, got %zu",
                           s->name, ndim, 4 * ndim, got);
    size_t count = 1;
    int64_t dims[DRIFT_IDX_MAX_DIM];
    for (int i = 0; i < ndim; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        dims[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
        if (dims[i] == 0)
            return drift_error(DRIFT_EFORMAT, "%s: dimension %d is zero", s->name, i);
        if (count > DRIFT_IDX_MAX_BYTES / (size_t)dims[i]) {
            char d[128];
            format_dims(dims, i + 1, d, sizeof d);
            return drift_error(DRIFT_EFORMAT,
                               "%s: absurd size: dimensions %s%s exceed the %zu-byte limit",
                               s->name, d, i + 1 < ndim ? "x..." : "", DRIFT_IDX_MAX_BYTES);
        }
        count *= (size_t)dims[i];
    }
    char dstr[128];
    format_dims(dims, ndim, dstr, sizeof dstr);
    if (total_rows) *total_rows = dims[0];
    const int limited = max_rows >= 0 && max_rows < dims[0];
    if (limited) { /* the first rows only: fewer bytes, and nothing after them is checked */
        count = count / (size_t)dims[0] * (size_t)max_rows;
        dims[0] = max_rows;
        format_dims(dims, ndim, dstr, sizeof dstr);
    }
    /* Check the declared size against the source before allocating anything. */
    size_t hlen = 4 + 4 * (size_t)ndim;
    if (s->exact && limited) {
        if (count > s->size - hlen)
            return drift_error(DRIFT_EFORMAT,
                               "%s: truncated: the first rows %s need %zu bytes of data, the file has "
                               "%zu after its %zu-byte header",
                               s->name, dstr, count, s->size - hlen, hlen);
    } else if (s->exact) {
        size_t have = s->size - hlen;
        if (count > have)
            return drift_error(DRIFT_EFORMAT,
                               "%s: truncated: dimensions %s need %zu bytes of data, the file has "
                               "%zu after its %zu-byte header",
                               s->name, dstr, count, have, hlen);
        if (count < have)
            return drift_error(DRIFT_EFORMAT,
                               "%s: file size disagrees with the dimensions: %s need %zu bytes of "
                               "data, the file has %zu after its %zu-byte header",
                               s->name, dstr, count, have, hlen);
    } else if (count / DEFLATE_MAX_RATIO > s->size) {
        return drift_error(DRIFT_EFORMAT,
                           "%s: truncated: dimensions %s need %zu bytes of data, more than %zu "
                           "compressed bytes can hold",
                           s->name, dstr, count, s->size);
    }
    uint8_t *data = drift_alloc(count, 1);
    if (!data) return drift_error_context(DRIFT_ENOMEM, "%s", s->name);
    st = source_read(s, data, count, &got);
    if (st) {
        drift_free(data);
        return st;
    }
    if (got < count) {
        drift_free(data);
        return drift_error(DRIFT_EFORMAT, "%s: truncated: dimensions %s need %zu bytes of data, got %zu%s",
                           s->name, dstr, count, got,
                           s->truncated_gzip ? " (the gzip stream ends early)" : "");
    }
    unsigned char extra;
    st = limited ? DRIFT_OK : source_read(s, &extra, 1, &got);
    if (st) {
        drift_free(data);
        return st;
    }
    if (!limited && got) {
        drift_free(data);
        return drift_error(DRIFT_EFORMAT,
                           "%s: data continues past the %zu bytes that dimensions %s describe "
                           "(wrong dimensions?)",
                           s->name, count, dstr);
    }
    out->ndim = ndim;
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)ndim);
    out->count = count;
    out->data = data;
    return DRIFT_OK;
}

int drift_idx_read(const char *path, drift_idx *out) { return drift_idx_read_rows(path, -1, out, NULL); }

int drift_idx_read_rows(const char *path, int64_t max_rows, drift_idx *out, int64_t *total_rows)
{
    if (!path || !out) return drift_error(DRIFT_EINVAL, "drift_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    struct stat sb;
    int fd;
    int st = drift_open_input(path, &fd, &sb);
    if (st) return st;
    gzFile gz = gzdopen(fd, "rb");
    if (!gz) {
        close(fd);
        return drift_error(DRIFT_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    gzbuffer(gz, 1 << 17);
    source s = {.name = path, .gz = gz};
    s.size = (size_t)sb.st_size;
    s.exact = gzdirect(gz); /* looks ahead: 1 for a raw (uncompressed) file */
    st = parse(&s, max_rows, out, total_rows);
    gzclose_r(gz);
    return st;
}

int drift_idx_parse(const unsigned char *buf, size_t len, const char *name, drift_idx *out)
{
    if (!out || (!buf && len)) return drift_error(DRIFT_EINVAL, "drift_idx_parse: NULL argument");
    source s = {.name = name ? name : "(memory)", .mem = buf, .len = len};
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        s.inflating = 1;
        if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK)
            return drift_error(DRIFT_ENOMEM, "%s: cannot start zlib", s.name);
        s.zs.next_in = (Bytef *)buf;
        s.zs.avail_in = len > UINT_MAX ? UINT_MAX : (uInt)len;
    } else {
        s.exact = 1;
    }
    s.size = len;
    int st = parse(&s, -1, out, NULL);
    if (s.inflating) inflateEnd(&s.zs);
    return st;
}

void drift_idx_free(drift_idx *idx)
{
    if (!idx) return;
    drift_free(idx->data);
    memset(idx, 0, sizeof *idx);
}

/* ---- writer ---------------------------------------------------------------------------- */

/* Deflate `n` bytes into the gzip stream, writing compressed output as it comes. */
static int deflate_write(z_stream *zs, drift_atomic_file *af, const unsigned char *in, size_t n,
                         int finish)
{
    unsigned char buf[1 << 16];
    zs->next_in = (Bytef *)in;
    for (;;) {
        size_t take = n > (1u << 30) ? (1u << 30) : n;
        zs->avail_in = (uInt)take;
        int flush = finish && take == n ? Z_FINISH : Z_NO_FLUSH;
        int r;
        do {
            zs->next_out = buf;
            zs->avail_out = sizeof buf;
            r = deflate(zs, flush);
            if (r == Z_STREAM_ERROR)
                return drift_error(DRIFT_EIO, "%s: zlib deflate failed", af->path);
            int st = drift_atomic_write(af, buf, sizeof buf - zs->avail_out);
            if (st) return st;
        } while (zs->avail_out == 0 || (flush == Z_FINISH && r != Z_STREAM_END));
        n -= take;
        if (n == 0) return DRIFT_OK;
    }
}

int drift_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data)
{
    if (!path || !dims) return drift_error(DRIFT_EINVAL, "drift_idx_write: NULL argument");
    if (ndim < 1 || ndim > DRIFT_IDX_MAX_DIM)
        return drift_error(DRIFT_EINVAL, "%s: IDX needs 1..%d dimensions, got %d", path,
                           DRIFT_IDX_MAX_DIM, ndim);
    unsigned char head[4 + 4 * DRIFT_IDX_MAX_DIM] = {0, 0, 0x08, (unsigned char)ndim};
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 1 || dims[i] > (int64_t)UINT32_MAX)
            return drift_error(DRIFT_EINVAL, "%s: IDX dimension %d must be in 1..2^32-1, got %lld",
                               path, i, (long long)dims[i]);
        if (count > DRIFT_IDX_MAX_BYTES / (size_t)dims[i])
            return drift_error(DRIFT_EINVAL, "%s: IDX data larger than %zu bytes", path,
                               DRIFT_IDX_MAX_BYTES);
        count *= (size_t)dims[i];
        uint32_t d = (uint32_t)dims[i];
        unsigned char *p = head + 4 + 4 * i;
        p[0] = d >> 24, p[1] = d >> 16 & 0xff, p[2] = d >> 8 & 0xff, p[3] = d & 0xff;
    }
    if (!data) return drift_error(DRIFT_EINVAL, "%s: data is NULL", path);
    size_t hlen = 4 + 4 * (size_t)ndim, plen = strlen(path);
    int gzip = plen >= 3 && strcmp(path + plen - 3, ".gz") == 0;

    drift_atomic_file af;
    int st = drift_atomic_open(&af, path);
    if (st) return st;
    if (!gzip) {
        st = drift_atomic_write(&af, head, hlen);
        if (!st) st = drift_atomic_write(&af, data, count);
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        /* 16 + MAX_WBITS: a gzip wrapper with a zero timestamp, so equal data give equal files */
        if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            drift_atomic_abort(&af);
            return drift_error(DRIFT_ENOMEM, "%s: cannot start zlib", path);
        }
        st = deflate_write(&zs, &af, head, hlen, 0);
        if (!st) st = deflate_write(&zs, &af, data, count, 1);
        deflateEnd(&zs);
    }
    if (st) {
        drift_atomic_abort(&af);
        return st;
    }
    return drift_atomic_commit(&af);
}
