/* test_core.c — core helpers: the finiteness scans every field call runs over its inputs and
 * outputs, against the plain isfinite loop, with bad values at chunk edges and every special
 * class of float (subnormals and the largest finite values are finite; NaN and ±Inf are not). */
#include <float.h>
#include <stdint.h>

#include "drift/core.h"
#include "test.h"

static int plain_f32(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static int plain_f64(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void test_finite_scans_match_isfinite(void)
{
    const size_t n = 3 * 4096 + 17;
    float *f = malloc(n * sizeof *f);
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) {
        f[i] = (float)((double)i * 0.37 - 900.0);
        d[i] = (double)i * 0.37 - 900.0;
    }
    /* finite extremes everywhere: still finite */
    f[1] = FLT_MAX, f[2] = -FLT_MAX, f[3] = FLT_MIN / 8, f[4] = -0.0f;
    d[1] = DBL_MAX, d[2] = -DBL_MAX, d[3] = DBL_MIN / 8, d[4] = -0.0;
    CHECK(drift_all_finite_f32(f, n) == 1 && plain_f32(f, n) == 1);
    CHECK(drift_all_finite_f64(d, n) == 1 && plain_f64(d, n) == 1);
    CHECK(drift_all_finite_f32(f, 0) == 1 && drift_all_finite_f64(d, 0) == 1);

    const size_t where[] = {0, 4095, 4096, 8191, 8192, n - 1};
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t w = 0; w < sizeof where / sizeof *where; w++)
        for (size_t b = 0; b < 3; b++) {
            const size_t i = where[w];
            const float fs = f[i];
            const double ds = d[i];
            f[i] = (float)bad[b];
            d[i] = bad[b];
            CHECK_MSG(drift_all_finite_f32(f, n) == 0, "f32 %g at %zu", bad[b], i);
            CHECK_MSG(drift_all_finite_f64(d, n) == 0, "f64 %g at %zu", bad[b], i);
            /* a prefix that ends before the bad value is finite */
            CHECK(drift_all_finite_f32(f, i) == plain_f32(f, i));
            CHECK(drift_all_finite_f64(d, i) == plain_f64(d, i));
            f[i] = fs;
            d[i] = ds;
        }
    free(f);
    free(d);
}

int main(void)
{
    RUN(test_finite_scans_match_isfinite);
    return TEST_SUMMARY();
}
