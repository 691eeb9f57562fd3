/* Tests for the .npy reader/writer: round trips for every dtype and rank, the exact byte
 * layout numpy expects, conversions, and malformed files that must fail with the right
 * status and a message naming the file. */
#include <dirent.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/npy.h"
#include "test.h"

static char tmpdir[64];

static void path_in_tmp(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
}

/* Deterministic element pattern with negative values for the signed types. */
static void fill_pattern(drift_dtype t, void *data, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        switch (t) {
        case DRIFT_DTYPE_F32: ((float *)data)[i] = (float)i * 0.25f - 3.5f; break;
        case DRIFT_DTYPE_F64: ((double *)data)[i] = (double)i * 1e-3 - 1e10; break;
        case DRIFT_DTYPE_I32: ((int32_t *)data)[i] = (int32_t)(i * 7919) - 100000; break;
        case DRIFT_DTYPE_I64: ((int64_t *)data)[i] = (int64_t)i * 4000000000LL - 7; break;
        case DRIFT_DTYPE_U8: ((uint8_t *)data)[i] = (uint8_t)(i * 37 + 5); break;
        }
    }
}

static void test_round_trip_all_dtypes_and_ranks(void)
{
    const int64_t shapes[][3] = {{0, 0, 0}, {5, 0, 0}, {3, 4, 0}, {2, 3, 5}};
    const int64_t empty[2] = {0, 3};
    for (int t = DRIFT_DTYPE_F32; t <= DRIFT_DTYPE_U8; t++) {
        for (int ndim = 0; ndim <= 3; ndim++) {
            size_t count = 1;
            for (int d = 0; d < ndim; d++) count *= (size_t)shapes[ndim][d];
            void *data = drift_alloc(count, drift_dtype_size(t));
            fill_pattern(t, data, count);
            char path[128], name[32];
            snprintf(name, sizeof name, "rt_%d_%d.npy", t, ndim);
            path_in_tmp(path, sizeof path, name);
            CHECK_OK(drift_npy_write(path, t, ndim, shapes[ndim], data));

            /* numpy's layout: data starts at a multiple of 64, header ends in '\n'. */
            size_t len = 0;
            unsigned char *raw = test_read_file(path, &len);
            CHECK(raw && len >= 10);
            size_t hlen = raw[8] | (size_t)raw[9] << 8;
            CHECK(raw[6] == 1 && raw[7] == 0);
            CHECK((10 + hlen) % 64 == 0);
            CHECK(raw[10 + hlen - 1] == '\n');
            CHECK(len == 10 + hlen + count * drift_dtype_size(t));

            drift_array a;
            CHECK_OK(drift_npy_read(path, &a));
            CHECK(a.dtype == (drift_dtype)t);
            CHECK(a.ndim == ndim);
            CHECK(a.count == count);
            for (int d = 0; d < ndim; d++) CHECK(a.shape[d] == shapes[ndim][d]);
            CHECK(memcmp(a.data, data, count * drift_dtype_size(t)) == 0);
            drift_array_free(&a);
            CHECK(a.data == NULL);

            /* The in-memory parser agrees with the file reader. */
            drift_array b;
            CHECK_OK(drift_npy_parse(raw, len, name, &b));
            CHECK(b.count == count && b.ndim == ndim);
            CHECK(memcmp(b.data, data, count * drift_dtype_size(t)) == 0);
            drift_array_free(&b);
            free(raw);
            drift_free(data);
        }
        /* An empty 2-D array. */
        char path[128];
        path_in_tmp(path, sizeof path, "empty.npy");
        CHECK_OK(drift_npy_write(path, t, 2, empty, NULL));
        drift_array a;
        CHECK_OK(drift_npy_read(path, &a));
        CHECK(a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.count == 0);
        drift_array_free(&a);
    }
}

static void test_header_text_matches_numpy(void)
{
    /* numpy 1.24 writes exactly this for np.save(f, np.zeros((2, 3), np.float32)). */
    const char *expect = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    float z[6] = {0};
    char path[128];
    path_in_tmp(path, sizeof path, "hdr.npy");
    int64_t shape[2] = {2, 3};
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_F32, 2, shape, z));
    size_t len;
    unsigned char *raw = test_read_file(path, &len);
    CHECK(len == 128 + 24);
    CHECK(memcmp(raw, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
    CHECK(memcmp(raw + 10, expect, strlen(expect)) == 0);
    for (size_t i = 10 + strlen(expect); i < 127; i++) CHECK(raw[i] == ' ');
    free(raw);

    /* 1-d and 0-d spell their tuples the Python way. */
    int64_t n = 7;
    double s = 2.5, v[7] = {0};
    path_in_tmp(path, sizeof path, "vec.npy");
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_F64, 1, &n, v));
    raw = test_read_file(path, &len);
    CHECK(strstr((char *)raw + 10, "'shape': (7,), }") != NULL);
    free(raw);
    path_in_tmp(path, sizeof path, "scalar.npy");
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_F64, 0, NULL, &s));
    raw = test_read_file(path, &len);
    CHECK(strstr((char *)raw + 10, "'shape': (), }") != NULL);
    free(raw);
}

static void test_atomic_write_leaves_no_temp(void)
{
    char path[128];
    path_in_tmp(path, sizeof path, "atomic.npy");
    float x[4] = {1, 2, 3, 4};
    CHECK_OK(drift_npy_write_f32(path, x, 2, 2));
    CHECK_OK(drift_npy_write_f32(path, x, 1, 4)); /* overwrite in place */
    float *y;
    int64_t r, c;
    CHECK_OK(drift_npy_read_f32(path, &y, &r, &c));
    CHECK(r == 1 && c == 4 && y[3] == 4.f);
    drift_free(y);
    DIR *d = opendir(tmpdir);
    int temps = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) temps++;
    closedir(d);
    CHECK(temps == 0);
    /* A directory that does not exist: EIO naming the path. */
    int st = drift_npy_write_f32("/nonexistent-dir/x.npy", x, 2, 2);
    CHECK(st == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "/nonexistent-dir/x.npy") != NULL);
    int64_t bad[1] = {-1};
    CHECK(drift_npy_write(path, DRIFT_DTYPE_F32, 1, bad, x) == DRIFT_EINVAL);
    CHECK(drift_npy_write(path, DRIFT_DTYPE_F32, 9, bad, x) == DRIFT_EINVAL);
}

static void test_read_f32_f64_conversions(void)
{
    char path[128];
    path_in_tmp(path, sizeof path, "conv.npy");
    /* A (2, 3, 2) int32 stack becomes a (2, 6) matrix. */
    int32_t iv[12];
    for (int i = 0; i < 12; i++) iv[i] = i * 3 - 10;
    int64_t shape[3] = {2, 3, 2};
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_I32, 3, shape, iv));
    float *f;
    double *g;
    int64_t r, c;
    CHECK_OK(drift_npy_read_f32(path, &f, &r, &c));
    CHECK(r == 2 && c == 6);
    int same = 1;
    for (int i = 0; i < 12; i++) same &= f[i] == (float)iv[i];
    CHECK(same);
    drift_free(f);

    /* A 1-D uint8 vector becomes (n, 1). */
    uint8_t u[5] = {0, 1, 128, 254, 255};
    int64_t n = 5;
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_U8, 1, &n, u));
    CHECK_OK(drift_npy_read_f64(path, &g, &r, &c));
    CHECK(r == 5 && c == 1 && g[2] == 128.0 && g[4] == 255.0);
    drift_free(g);

    /* A scalar becomes (1, 1). */
    int64_t big = -9007199254740993LL; /* not exactly representable in float64 */
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_I64, 0, NULL, &big));
    CHECK_OK(drift_npy_read_f64(path, &g, &r, &c));
    CHECK(r == 1 && c == 1 && g[0] == (double)big);
    drift_free(g);

    /* float64 to float32 rounds to nearest. */
    double d[4] = {0.1, -1e-30, 3.0, 1e20};
    CHECK_OK(drift_npy_write_f64(path, d, 2, 2));
    CHECK_OK(drift_npy_read_f32(path, &f, &r, &c));
    CHECK(r == 2 && c == 2);
    for (int i = 0; i < 4; i++) CHECK(f[i] == (float)d[i]);
    drift_free(f);
}

static void test_non_finite_rejected_with_row(void)
{
    char path[128];
    path_in_tmp(path, sizeof path, "nan.npy");
    float x[12] = {0};
    x[7] = NAN; /* row 2 of a (4, 3) matrix */
    x[11] = INFINITY;
    CHECK_OK(drift_npy_write_f32(path, x, 4, 3));
    float *f = (float *)1;
    int64_t r, c;
    CHECK(drift_npy_read_f32(path, &f, &r, &c) == DRIFT_ENUMERIC);
    CHECK(f == NULL);
    CHECK(strstr(drift_last_error(), path) != NULL);
    CHECK(strstr(drift_last_error(), "row 2") != NULL);
    /* A finite float64 beyond float32 range is also refused for float32 output ... */
    double d[4] = {0, 0, 0, 1e300};
    CHECK_OK(drift_npy_write_f64(path, d, 2, 2));
    CHECK(drift_npy_read_f32(path, &f, &r, &c) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "row 1") != NULL);
    /* ... but is fine in float64. */
    double *g;
    CHECK_OK(drift_npy_read_f64(path, &g, &r, &c));
    CHECK(g[3] == 1e300);
    drift_free(g);
}

static void test_labels(void)
{
    char path[128];
    path_in_tmp(path, sizeof path, "labels.npy");
    int64_t lv[4] = {3, 0, 9, 1};
    int64_t n = 4, col[2] = {4, 1}, wide[2] = {2, 2};
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_I64, 1, &n, lv));
    int32_t *l;
    int64_t got;
    CHECK_OK(drift_npy_read_labels(path, &l, &got));
    CHECK(got == 4 && l[0] == 3 && l[2] == 9 && l[3] == 1);
    drift_free(l);
    uint8_t u[4] = {1, 2, 3, 4};
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_U8, 2, col, u));
    CHECK_OK(drift_npy_read_labels(path, &l, &got));
    CHECK(got == 4 && l[3] == 4);
    drift_free(l);
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_U8, 2, wide, u));
    CHECK(drift_npy_read_labels(path, &l, &got) == DRIFT_ESHAPE);
    float fv[4] = {0};
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_F32, 1, &n, fv));
    CHECK(drift_npy_read_labels(path, &l, &got) == DRIFT_EUNSUPPORTED);
    CHECK(strstr(drift_last_error(), "float32") != NULL);
    lv[1] = 1LL << 40;
    CHECK_OK(drift_npy_write(path, DRIFT_DTYPE_I64, 1, &n, lv));
    CHECK(drift_npy_read_labels(path, &l, &got) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "index 1") != NULL);
}

/* Builds an .npy image: prefix for `version`, the header text padded like numpy, then
 * `data_len` bytes of data. */
static size_t build_npy(unsigned char *buf, int version, const char *header, size_t data_len)
{
    size_t pre = version == 1 ? 10 : 12, h = strlen(header);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    size_t hl = h + 1;
    while ((pre + hl) % 64) hl++;
    memset(buf + pre, ' ', hl);
    memcpy(buf + pre, header, h);
    buf[pre + hl - 1] = '\n';
    buf[8] = (unsigned char)hl;
    buf[9] = (unsigned char)(hl >> 8);
    if (version > 1) buf[10] = buf[11] = 0;
    memset(buf + pre + hl, 0x3f, data_len);
    return pre + hl + data_len;
}

struct bad_case {
    const char *name;   /* also the file name */
    int version;
    const char *header; /* NULL: raw bytes below */
    size_t data_len;
    int status;
    const char *says;   /* a substring the message must contain */
};

static void test_malformed_files(void)
{
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const struct bad_case cases[] = {
        {"fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24,
         DRIFT_EUNSUPPORTED, "fortran_order"},
        {"bigendian.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24,
         DRIFT_EUNSUPPORTED, "big-endian"},
        {"object.npy", 1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16,
         DRIFT_EUNSUPPORTED, "object"},
        {"structured.npy", 1,
         "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }", 16,
         DRIFT_EUNSUPPORTED, "structured"},
        {"bool.npy", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", 2,
         DRIFT_EUNSUPPORTED, "bool"},
        {"float16.npy", 1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4,
         DRIFT_EUNSUPPORTED, "'<f2'"},
        {"notdict.npy", 1, "[1, 2, 3]", 0, DRIFT_EFORMAT, "not a dict"},
        {"negative.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", 0,
         DRIFT_EFORMAT, "negative"},
        {"overflow.npy", 1,
         "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0,
         DRIFT_EFORMAT, "overflows"},
        {"bytes_overflow.npy", 1,
         "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", 0,
         DRIFT_EFORMAT, "overflows"},
        {"int64_overflow.npy", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 0,
         DRIFT_EFORMAT, "overflows int64"},
        {"ninedims.npy", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
         DRIFT_EUNSUPPORTED, "more than 8"},
        {"truncated_data.npy", 1, ok, 23, DRIFT_EFORMAT, "truncated data"},
        {"extra_data.npy", 1, ok, 25, DRIFT_EFORMAT, "after the data"},
        {"v2_truncated.npy", 2, ok, 0, DRIFT_EFORMAT, "truncated data"},
        {"missing_shape.npy", 1, "{'descr': '<f4', 'fortran_order': False, }", 0, DRIFT_EFORMAT,
         "lacks 'shape'"},
        {"unknown_key.npy", 1,
         "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, DRIFT_EFORMAT,
         "'x'"},
        {"repeated_key.npy", 1,
         "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
         DRIFT_EFORMAT, "'descr'"},
        {"not_tuple.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8,
         DRIFT_EFORMAT, "not a tuple"},
        {"trailing.npy", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8,
         DRIFT_EFORMAT, "trailing"},
        {"order_word.npy", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8,
         DRIFT_EFORMAT, "True or False"},
        {"unterminated.npy", 1, "{'descr': '<f4", 8,
         DRIFT_EFORMAT, "header"},
        {"version4.npy", 4, ok, 24, DRIFT_EUNSUPPORTED, "version 4.0"},
    };
    unsigned char buf[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bad_case *k = &cases[i];
        size_t len = build_npy(buf, k->version, k->header, k->data_len);
        char path[128];
        path_in_tmp(path, sizeof path, k->name);
        write_all(path, buf, len);
        drift_array a;
        int st = drift_npy_read(path, &a);
        CHECK_MSG(st == k->status, "%s: status %d, want %d (%s)", k->name, st, k->status,
                  drift_last_error());
        CHECK_MSG(strstr(drift_last_error(), path) != NULL, "%s: message '%s' lacks the path",
                  k->name, drift_last_error());
        CHECK_MSG(strstr(drift_last_error(), k->says) != NULL, "%s: message '%s' lacks '%s'",
                  k->name, drift_last_error(), k->says);
        CHECK(a.data == NULL);
        st = drift_npy_parse(buf, len, k->name, &a);
        CHECK_MSG(st == k->status, "parse %s: status %d, want %d", k->name, st, k->status);
        CHECK(strstr(drift_last_error(), k->name) != NULL);
    }

    /* Byte-level damage to the prefix. */
    size_t len = build_npy(buf, 1, ok, 24);
    char path[128];
    drift_array a;
    path_in_tmp(path, sizeof path, "badmagic.npy");
    buf[1] = 'M';
    write_all(path, buf, len);
    CHECK(drift_npy_read(path, &a) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "bad magic") && strstr(drift_last_error(), path));
    buf[1] = 'N';
    path_in_tmp(path, sizeof path, "short.npy");
    write_all(path, buf, 9);
    CHECK(drift_npy_read(path, &a) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "truncated") && strstr(drift_last_error(), path));
    path_in_tmp(path, sizeof path, "short_header.npy");
    write_all(path, buf, 40);
    CHECK(drift_npy_read(path, &a) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "truncated header") && strstr(drift_last_error(), path));
    path_in_tmp(path, sizeof path, "empty_file.npy");
    write_all(path, buf, 0);
    CHECK(drift_npy_read(path, &a) == DRIFT_EFORMAT);
    /* An absurd v2 header length is refused before anything is allocated. */
    len = build_npy(buf, 2, ok, 24);
    buf[11] = 0x7f;
    CHECK(drift_npy_parse(buf, len, "huge_header.npy", &a) == DRIFT_EFORMAT);
    CHECK(strstr(drift_last_error(), "limit") != NULL);
    /* A missing file and a directory: EIO. */
    path_in_tmp(path, sizeof path, "does_not_exist.npy");
    CHECK(drift_npy_read(path, &a) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), path) != NULL);
    CHECK(drift_npy_read(tmpdir, &a) == DRIFT_EIO);
}

static void test_lenient_where_numpy_is(void)
{
    /* Any key order, double quotes, no trailing comma, Python-2 'L' suffixes, '<u1'. */
    unsigned char buf[512];
    size_t len = build_npy(buf, 3,
                           "{\"shape\": (2L, 2L), \"fortran_order\": False, \"descr\": \"<u1\"}",
                           4);
    drift_array a;
    CHECK_OK(drift_npy_parse(buf, len, "lenient.npy", &a));
    CHECK(a.dtype == DRIFT_DTYPE_U8 && a.ndim == 2 && a.shape[0] == 2 && a.count == 4);
    CHECK(((uint8_t *)a.data)[3] == 0x3f);
    drift_array_free(&a);
    drift_array_free(&a); /* freeing twice is harmless */
}

/* Only the rows used: K rows of a file come back whole with the header's total, whatever
 * follows them (garbage, a cut, a sparse gigabyte that is never touched). */
static void test_read_rows(void)
{
    enum { N = 1000, D = 6, K = 37 };
    char path[128];
    path_in_tmp(path, sizeof path, "rows.npy");
    double *x = malloc(sizeof(double) * N * D);
    for (int i = 0; i < N * D; i++) x[i] = 0.25 * i - 7;
    CHECK_OK(drift_npy_write_f64(path, x, N, D));
    drift_array a;
    int64_t total = 0;
    CHECK_OK(drift_npy_read_rows(path, K, &a, &total));
    CHECK(a.dtype == DRIFT_DTYPE_F64 && a.ndim == 2 && a.shape[0] == K && a.shape[1] == D && a.count == (size_t)K * D);
    CHECK(total == N);
    CHECK(a.data && !memcmp(a.data, x, sizeof(double) * K * D));
    drift_array_free(&a);
    CHECK_OK(drift_npy_read_rows(path, 5 * N, &a, &total)); /* more than there are: all */
    CHECK(a.shape[0] == N && total == N && !memcmp(a.data, x, sizeof(double) * N * D));
    drift_array_free(&a);
    float *f = NULL;
    int64_t r = 0, c = 0;
    CHECK_OK(drift_npy_read_f32_rows(path, K, &f, &r, &c, &total));
    CHECK(r == K && c == D && total == N);
    int same = f != NULL;
    for (int i = 0; same && i < K * D; i++) same = f[i] == (float)x[i];
    CHECK(same);
    drift_free(f);
    CHECK(drift_npy_read_rows(path, -1, &a, NULL) == DRIFT_EINVAL);

    /* cut after row K + 3: K rows still load, the whole file does not */
    size_t len = 0;
    char *bytes = test_read_file(path, &len);
    const size_t head = len - sizeof(double) * N * D;
    write_all(path, bytes, head + sizeof(double) * (K + 3) * D);
    CHECK_OK(drift_npy_read_rows(path, K, &a, &total));
    CHECK(a.shape[0] == K && total == N && !memcmp(a.data, x, sizeof(double) * K * D));
    drift_array_free(&a);
    CHECK(drift_npy_read(path, &a) == DRIFT_EFORMAT);
    CHECK(drift_npy_read_rows(path, K + 4, &a, NULL) == DRIFT_EFORMAT); /* a row that is not all there */
    CHECK(strstr(drift_last_error(), "truncated") != NULL);
    /* garbage after the data: K rows load (and NaN bytes after them are not looked at) */
    memset(bytes + head + sizeof(double) * K * D, 0xff, len - head - sizeof(double) * K * D);
    write_all(path, bytes, len + 0);
    CHECK_OK(drift_npy_read_f32_rows(path, K, &f, &r, &c, NULL));
    CHECK(r == K && f[K * D - 1] == (float)x[K * D - 1]);
    drift_free(f);
    CHECK(drift_npy_read_f32(path, &f, &r, &c) == DRIFT_ENUMERIC);
    free(bytes);

    /* a header of 4 Mi rows x 64 float32 (1 GiB, a sparse file): K rows cost K rows of memory */
    path_in_tmp(path, sizeof path, "sparse.npy");
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr, "\x93NUMPY\x01%c%c%c{'descr': '<f4', 'fortran_order': False, 'shape': (4194304, 64), }",
                     0, 0, 0);
    while ((n + 1) % 64) hdr[n++] = ' ';
    hdr[n++] = '\n';
    hdr[8] = (char)((n - 10) & 0xff);
    hdr[9] = (char)((n - 10) >> 8);
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    fwrite(hdr, 1, (size_t)n, fp);
    float row[64];
    for (int k = 0; k < 64; k++) row[k] = (float)k;
    for (int i = 0; i < K; i++) fwrite(row, sizeof row, 1, fp);
    fclose(fp);
    CHECK(truncate(path, (off_t)n + (off_t)4194304 * 64 * 4) == 0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    CHECK_OK(drift_npy_read_f32_rows(path, K, &f, &r, &c, &total));
    getrusage(RUSAGE_SELF, &ru1);
    CHECK(r == K && c == 64 && total == 4194304 && f && f[K * 64 - 1] == 63.0f);
    CHECK_MSG(ru1.ru_maxrss - ru0.ru_maxrss < 64 * 1024, "max RSS grew by %ld KiB reading %d rows",
              ru1.ru_maxrss - ru0.ru_maxrss, K);
    drift_free(f);
    CHECK_OK(drift_npy_read_rows(path, 3, &a, &total));
    CHECK(a.shape[0] == 3 && a.count == 3 * 64 && total == 4194304);
    drift_array_free(&a);
    unlink(path);
    free(x);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/drift_npy_XXXXXX");
    if (!mkdtemp(tmpdir)) return 2;
    RUN(test_round_trip_all_dtypes_and_ranks);
    RUN(test_header_text_matches_numpy);
    RUN(test_atomic_write_leaves_no_temp);
    RUN(test_read_f32_f64_conversions);
    RUN(test_non_finite_rejected_with_row);
    RUN(test_labels);
    RUN(test_malformed_files);
    RUN(test_lenient_where_numpy_is);
    RUN(test_read_rows);
    remove_tmpdir();
    return TEST_SUMMARY();
}
