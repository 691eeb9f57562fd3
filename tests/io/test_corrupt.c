/* Robustness regression for the file parsers (the fuzzers' findings, kept as a test):
 * every truncation of a valid .npy / safetensors / PNG image, and thousands of random
 * byte corruptions (fixed seed), must give a clean error status — never a crash, never a
 * success with inconsistent contents. Run under ASan (DRIFT_SANITIZE=ON) to check
 * memory safety too; fuzz/run.sh explores further. */
#include <unistd.h>

#include "drift/core.h"
#include "drift/image.h"
#include "drift/npy.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "test.h"

static unsigned char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

typedef int (*parse_fn)(const unsigned char *buf, size_t len);

/* Parsers wrapped to "status, after checking a successful result is self-consistent". */
static int parse_npy(const unsigned char *buf, size_t len)
{
    drift_array a;
    int st = drift_npy_parse(buf, len, "c.npy", &a);
    if (st) return a.data ? 1 : st;
    size_t count = 1;
    for (int i = 0; i < a.ndim; i++) count *= (size_t)a.shape[i];
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < count * drift_dtype_size(a.dtype); i++)
        sink ^= ((unsigned char *)a.data)[i];
    (void)sink;
    st = count == a.count ? 0 : 1;
    drift_array_free(&a);
    return st;
}

static int parse_st(const unsigned char *buf, size_t len)
{
    drift_safetensors *s;
    int st = drift_safetensors_parse(buf, len, "c.safetensors", &s);
    if (st) return s ? 1 : st;
    size_t total = 0;
    for (size_t i = 0; i < drift_safetensors_count(s); i++) {
        const drift_st_tensor *t = drift_safetensors_tensor(s, i);
        size_t n = drift_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
        volatile unsigned char sink = 0;
        for (size_t b = 0; b < n; b++) sink ^= ((const unsigned char *)t->data)[b];
        (void)sink;
        total += n;
    }
    /* tensors tile the data section exactly */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    st = total == len - 8 - hlen ? 0 : 1;
    drift_safetensors_free(s);
    return st;
}

static int parse_png(const unsigned char *buf, size_t len)
{
    int w, h, c;
    uint8_t *px;
    int st = drift_png_decode(buf, len, "c.png", &w, &h, &c, &px);
    if (st) return px ? 1 : st;
    volatile unsigned char sink = 0;
    for (size_t i = 0; i < (size_t)w * h * c; i++) sink ^= px[i];
    (void)sink;
    drift_free(px);
    return (w >= 1 && h >= 1 && c >= 1 && c <= 4) ? 0 : 1;
}

static void hammer(const char *what, parse_fn parse, const unsigned char *good, size_t len,
                   uint64_t seed)
{
    CHECK_MSG(parse(good, len) == 0, "%s: the valid image must parse: %s", what,
              drift_last_error());
    /* Every strict prefix is truncated: always EFORMAT. */
    unsigned char *buf = malloc(len);
    int truncations_ok = 1;
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *exact = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        memcpy(exact, good, cut);
        int st = parse(exact, cut);
        free(exact);
        if (st != DRIFT_EFORMAT) {
            truncations_ok = 0;
            fprintf(stderr, "%s: cut at %zu gave %d (%s)\n", what, cut, st, drift_last_error());
        }
    }
    CHECK(truncations_ok);
    /* Random corruption of 1-4 bytes: OK, EFORMAT or EUNSUPPORTED, never anything else. */
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    int flips_ok = 1, failures = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(buf, good, len);
        int k = 1 + (int)(drift_rng_u32(&r) % 4);
        for (int j = 0; j < k; j++) buf[drift_rng_u32(&r) % len] = (unsigned char)drift_rng_u32(&r);
        int st = parse(buf, len);
        if (st != 0 && st != DRIFT_EFORMAT && st != DRIFT_EUNSUPPORTED) {
            flips_ok = 0;
            fprintf(stderr, "%s: trial %d gave %d (%s)\n", what, trial, st, drift_last_error());
        }
        failures += st != 0;
    }
    CHECK(flips_ok);
    CHECK(failures > 100); /* the corruption is actually noticed */
    free(buf);
}

static void test_npy_corruption(void)
{
    char path[] = "/tmp/drift_corrupt_XXXXXX";
    close(mkstemp(path));
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
    CHECK_OK(drift_npy_write_f32(path, x, 3, 4));
    size_t len;
    unsigned char *good = file_bytes(path, &len);
    hammer("npy", parse_npy, good, len, 1);
    free(good);
    unlink(path);
}

static void test_safetensors_corruption(void)
{
    char path[] = "/tmp/drift_corrupt_XXXXXX";
    close(mkstemp(path));
    float w[6] = {1, 2, 3, 4, 5, 6};
    int64_t step = 42;
    uint8_t m[3] = {7, 8, 9};
    drift_st_tensor ts[3] = {
        {.name = "w", .dtype = DRIFT_DTYPE_F32, .ndim = 2, .shape = {2, 3}, .data = w},
        {.name = "step", .dtype = DRIFT_DTYPE_I64, .ndim = 0, .data = &step},
        {.name = "mask", .dtype = DRIFT_DTYPE_U8, .ndim = 1, .shape = {3}, .data = m},
    };
    drift_st_meta meta[1] = {{"format", "drift"}};
    CHECK_OK(drift_safetensors_write(path, ts, 3, meta, 1));
    size_t len;
    unsigned char *good = file_bytes(path, &len);
    hammer("safetensors", parse_st, good, len, 2);
    free(good);
    unlink(path);
}

static void test_png_corruption(void)
{
    uint8_t px[8 * 6 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 7 + (i / 24) * 3);
    unsigned char *png;
    size_t len;
    CHECK_OK(drift_png_encode(8, 6, 3, px, &png, &len));
    hammer("png", parse_png, png, len, 3);
    drift_free(png);
}

int main(void)
{
    RUN(test_npy_corruption);
    RUN(test_safetensors_corruption);
    RUN(test_png_corruption);
    return TEST_SUMMARY();
}
