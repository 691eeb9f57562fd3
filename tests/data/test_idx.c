/* Tests for the IDX reader/writer: raw and gzip round trips through files and memory, and
 * malformed inputs, each of which must fail with the right status and a message that names
 * the problem (through both the file reader and the in-memory parser). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "drift/core.h"
#include "drift/data.h"
#include "test.h"

static char dir[64];

static const char *tmp_path(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (len) fwrite(buf, 1, len, f);
    fclose(f);
}

/* gzip-compress in memory with zlib; returns the compressed length (0 on failure). */
static size_t gzip_bytes(const unsigned char *in, size_t n, unsigned char *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int r = deflate(&zs, Z_FINISH);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return r == Z_STREAM_END ? len : 0;
}

static void test_round_trip(void)
{
    enum { N = 37, H = 5, W = 3 };
    static uint8_t img[N * H * W], lab[N];
    uint32_t s = 12345;
    for (int i = 0; i < N * H * W; i++) img[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
    for (int i = 0; i < N; i++) lab[i] = (uint8_t)(i % 10);
    int64_t dims[3] = {N, H, W}, ldims[1] = {N};
    const char *names[2] = {"img-idx3-ubyte", "img-idx3-ubyte.gz"};
    for (int g = 0; g < 2; g++) {
        char path[256];
        snprintf(path, sizeof path, "%s", tmp_path(names[g]));
        CHECK_OK(drift_idx_write(path, 3, dims, img));
        size_t len = 0;
        unsigned char *bytes = test_read_file(path, &len);
        CHECK(bytes != NULL);
        if (!bytes) return;
        if (g == 0) {
            /* raw: big-endian header 00 00 08 03, then N, H, W, then the bytes */
            static const unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, N, 0, 0, 0, H, 0, 0, 0, W};
            CHECK(len == 16 + sizeof img);
            CHECK(memcmp(bytes, head, 16) == 0);
            CHECK(memcmp(bytes + 16, img, sizeof img) == 0);
        } else {
            CHECK(len > 10 && bytes[0] == 0x1f && bytes[1] == 0x8b);
        }
        drift_idx a, b;
        CHECK_OK(drift_idx_read(path, &a));
        CHECK_OK(drift_idx_parse(bytes, len, path, &b));
        drift_idx *both[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            drift_idx *x = both[k];
            CHECK(x->ndim == 3 && x->dims[0] == N && x->dims[1] == H && x->dims[2] == W);
            CHECK(x->count == sizeof img);
            CHECK(x->data && memcmp(x->data, img, sizeof img) == 0);
            drift_idx_free(x);
            CHECK(x->data == NULL);
        }
        free(bytes);
    }
    /* labels (idx1), gzip; writing twice gives identical bytes (no timestamp in the header) */
    const char *lp = "lab-idx1-ubyte.gz";
    char p1[256], p2[256];
    snprintf(p1, sizeof p1, "%s", tmp_path(lp));
    snprintf(p2, sizeof p2, "%s", tmp_path("lab2-idx1-ubyte.gz"));
    CHECK_OK(drift_idx_write(p1, 1, ldims, lab));
    CHECK_OK(drift_idx_write(p2, 1, ldims, lab));
    size_t l1, l2;
    unsigned char *b1 = test_read_file(p1, &l1), *b2 = test_read_file(p2, &l2);
    CHECK(b1 && b2 && l1 == l2 && memcmp(b1, b2, l1) == 0);
    free(b1);
    free(b2);
    drift_idx l;
    CHECK_OK(drift_idx_read(p1, &l));
    CHECK(l.ndim == 1 && l.dims[0] == N && l.count == N && memcmp(l.data, lab, N) == 0);
    drift_idx_free(&l);
    /* the temporary file of the atomic write is gone */
    CHECK(access(tmp_path("lab-idx1-ubyte.gz.tmp"), F_OK) != 0);
}

/* A malformed image must fail with `status` and a message containing `want`, both from
 * memory and from a file. */
static void check_bad(const char *what, const unsigned char *buf, size_t len, int status,
                      const char *want)
{
    drift_idx x;
    int st = drift_idx_parse(buf, len, what, &x);
    CHECK_MSG(st == status, "%s (memory): status %d, want %d: %s", what, st, status,
              drift_last_error());
    CHECK_MSG(strstr(drift_last_error(), want) && strstr(drift_last_error(), what),
              "%s (memory): message '%s' lacks '%s'", what, drift_last_error(), want);
    CHECK(x.data == NULL);
    const char *path = tmp_path(what);
    spit(path, buf, len);
    st = drift_idx_read(path, &x);
    CHECK_MSG(st == status, "%s (file): status %d, want %d: %s", what, st, status,
              drift_last_error());
    CHECK_MSG(strstr(drift_last_error(), want) && strstr(drift_last_error(), path),
              "%s (file): message '%s' lacks '%s'", what, drift_last_error(), want);
    CHECK(x.data == NULL);
}

static void test_malformed(void)
{
    /* a valid 2x2x2 image to start from: 16-byte header + 8 bytes */
    unsigned char ok[24] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
    drift_idx x;
    CHECK_OK(drift_idx_parse(ok, sizeof ok, "ok", &x));
    CHECK(x.count == 8 && x.data[7] == 8);
    drift_idx_free(&x);

    unsigned char b[64];
    check_bad("empty", ok, 0, DRIFT_EFORMAT, "too short");
    check_bad("short", ok, 3, DRIFT_EFORMAT, "too short");
    memcpy(b, ok, 24), b[0] = 'P', b[1] = 'K';
    check_bad("bad_magic", b, 24, DRIFT_EFORMAT, "bad magic 0x504b0803");
    memcpy(b, ok, 24), b[2] = 0x0D;
    check_bad("float_type", b, 24, DRIFT_EUNSUPPORTED, "0x0d (float32) is not supported");
    memcpy(b, ok, 24), b[2] = 0x07;
    check_bad("unknown_type", b, 24, DRIFT_EFORMAT, "unknown IDX element type 0x07");
    memcpy(b, ok, 24), b[3] = 0;
    check_bad("zero_ndim", b, 24, DRIFT_EFORMAT, "zero dimensions");
    memcpy(b, ok, 24), b[3] = 9;
    check_bad("many_dims", b, 24, DRIFT_EUNSUPPORTED, "9 dimensions");
    check_bad("short_header", ok, 10, DRIFT_EFORMAT, "truncated header");
    memcpy(b, ok, 24), b[11] = 0;
    check_bad("zero_dim", b, 24, DRIFT_EFORMAT, "dimension 1 is zero");
    check_bad("truncated", ok, 20, DRIFT_EFORMAT, "truncated: dimensions 2x2x2 need 8 bytes");
    memcpy(b, ok, 24), b[24] = 9;
    check_bad("trailing", b, 25, DRIFT_EFORMAT, "file size disagrees with the dimensions");
    memcpy(b, ok, 24), b[7] = 3; /* 3x2x2 = 12 bytes declared, 8 present */
    check_bad("dims_vs_size", b, 24, DRIFT_EFORMAT, "need 12 bytes of data, the file has 8");
    unsigned char huge[16] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9};
    check_bad("absurd", huge, 16, DRIFT_EFORMAT, "absurd size");
    unsigned char big[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    check_bad("no_pixels", big, 16, DRIFT_EFORMAT, "need 47040000 bytes of data, the file has 0");
}

static void test_malformed_gzip(void)
{
    enum { N = 500, D = 64 };
    static uint8_t img[N * D];
    uint32_t s = 7;
    for (int i = 0; i < N * D; i++) img[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
    int64_t dims[2] = {N, D};
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("good.gz"));
    CHECK_OK(drift_idx_write(path, 2, dims, img));
    size_t len;
    unsigned char *gz = test_read_file(path, &len);
    CHECK(gz && len > 1000);
    if (!gz) return;
    /* cut in half: the gzip stream ends before the declared data */
    check_bad("gz_truncated", gz, len / 2, DRIFT_EFORMAT, "truncated");
    /* damage the deflate data: corrupt stream or wrong CRC */
    unsigned char *bad = malloc(len);
    memcpy(bad, gz, len);
    for (size_t i = len / 3; i < len / 3 + 16; i++) bad[i] ^= 0x5a;
    check_bad("gz_corrupt", bad, len, DRIFT_EFORMAT, "corrupt gzip data");
    free(bad);
    free(gz);
    /* a tiny gzip stream whose header claims 47 MB cannot hold it: rejected before allocating */
    unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0xea, 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    unsigned char small[128];
    size_t slen = gzip_bytes(head, sizeof head, small, sizeof small);
    CHECK(slen > 0);
    check_bad("gz_claims_too_much", small, slen, DRIFT_EFORMAT, "compressed bytes can hold");
    /* a 100x28x28 header plus 1000 random bytes: the claim fits the bound, the data end early */
    static unsigned char longer[16 + 1000];
    memcpy(longer, head, 16);
    longer[6] = 0, longer[7] = 100;
    for (int i = 16; i < 16 + 1000; i++) longer[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 24);
    static unsigned char zlong[4096];
    slen = gzip_bytes(longer, sizeof longer, zlong, sizeof zlong);
    CHECK(slen > 0);
    check_bad("gz_ends_early", zlong, slen, DRIFT_EFORMAT, "need 78400 bytes of data, got 1000");
    drift_idx x;
    CHECK(drift_idx_read(tmp_path("does-not-exist.gz"), &x) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "does-not-exist.gz") != NULL);
}

/* Only the rows used: the first K images of a gzip IDX file come back (and the stream is not
 * inflated further), also when the file is cut short after them; the named-dataset loader with a
 * row limit reads only those rows of images and labels. */
static void test_read_rows(void)
{
    enum { N = 3000, H = 28, K = 100 };
    const size_t row = H * H;
    uint8_t *px = malloc((size_t)N * row), lab[N];
    uint32_t v = 12345;
    for (size_t i = 0; i < (size_t)N * row; i++) px[i] = (uint8_t)((v = v * 1664525u + 1013904223u) >> 24);
    for (int i = 0; i < N; i++) lab[i] = (uint8_t)(i % 10);
    const int64_t dims[3] = {N, H, H}, ldims[1] = {N};
    char ipath[256], lpath[256];
    snprintf(ipath, sizeof ipath, "%s", tmp_path("train-images-idx3-ubyte.gz"));
    snprintf(lpath, sizeof lpath, "%s", tmp_path("train-labels-idx1-ubyte.gz"));
    CHECK_OK(drift_idx_write(ipath, 3, dims, px));
    CHECK_OK(drift_idx_write(lpath, 1, ldims, lab));
    drift_idx x;
    int64_t total = 0;
    CHECK_OK(drift_idx_read_rows(ipath, K, &x, &total));
    CHECK(x.ndim == 3 && x.dims[0] == K && x.dims[1] == H && x.count == (size_t)K * row && total == N);
    CHECK(x.data && !memcmp(x.data, px, (size_t)K * row));
    drift_idx_free(&x);
    CHECK_OK(drift_idx_read_rows(ipath, 2 * N, &x, &total)); /* more than there are: all */
    CHECK(x.dims[0] == N && !memcmp(x.data, px, (size_t)N * row));
    drift_idx_free(&x);

    /* cut the compressed file in half (random pixels do not compress: about 1500 rows left) */
    size_t len = 0;
    unsigned char *z = test_read_file(ipath, &len);
    CHECK(z && len > (size_t)N * row / 2);
    if (z) spit(ipath, z, len / 2);
    CHECK(drift_idx_read(ipath, &x) == DRIFT_EFORMAT);
    CHECK_OK(drift_idx_read_rows(ipath, K, &x, &total));
    CHECK(x.dims[0] == K && total == N && !memcmp(x.data, px, (size_t)K * row));
    drift_idx_free(&x);

    /* the dataset loader with a row limit: K rows of images and labels from the cut files */
    drift_dataset_opts o = {.split = "train", .data_dir = dir, .n = K};
    drift_dataset d;
    CHECK_OK(drift_dataset_open("mnist", &o, &d));
    CHECK(d.n == K && d.dim == (int64_t)row && d.labels && d.labels[K - 1] == (K - 1) % 10);
    drift_dataset_free(&d);
    o.n = 0; /* all of it: the cut shows */
    CHECK(drift_dataset_open("mnist", &o, &d) == DRIFT_EFORMAT);
    /* a label file of another length is still an error, however few rows are read */
    CHECK_OK(drift_idx_write(lpath, 1, (const int64_t[1]){N - 1}, lab));
    o.n = K;
    CHECK(drift_dataset_open("mnist", &o, &d) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "labels for") != NULL);
    free(z);
    free(px);
    unlink(ipath);
    unlink(lpath);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/drift_test_idx_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    RUN(test_round_trip);
    RUN(test_malformed);
    RUN(test_malformed_gzip);
    RUN(test_read_rows);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_SUMMARY();
}
