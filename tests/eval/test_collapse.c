/* Tests for the collapse checks (diversity, duplicate fraction) against plain float64
 * evaluations, for the corruptions of the sanity sets and the outlier exposure (blur weights,
 * salt-and-pepper rate, noise strength, every outlier type in range), and for toy metrics that
 * must call samples 1e19 times too large far off. */
#include <float.h>
#include <stdint.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"
#include "test.h"

/* float64 mean distance over pairs i < j of the rows listed in idx. */
static double ref_mean_pair(const float *x, const int64_t *idx, int64_t m, int dim)
{
    double s = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) {
            double d2 = 0;
            for (int k = 0; k < dim; k++) {
                double t = (double)x[idx[i] * dim + k] - x[idx[j] * dim + k];
                d2 += t * t;
            }
            s += sqrt(d2);
        }
    return s / ((double)m * (m - 1) / 2);
}

static void test_diversity_matches_float64(void)
{
    enum { N = 300, R = 200, D = 40, C = 3 };
    float *x = drift_alloc(N * D, sizeof(float)), *ref = drift_alloc(R * D, sizeof(float));
    int32_t lx[N], lr[R];
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    drift_rng_fill_normal(&r, x, N * D, 0, 0.7f); /* samples narrower than the reference */
    drift_rng_fill_normal(&r, ref, R * D, 0, 1.0f);
    for (int i = 0; i < N; i++) lx[i] = i % C;
    for (int i = 0; i < R; i++) lr[i] = (i * 7) % C;
    /* global */
    drift_collapse c;
    CHECK_OK(drift_collapse_check(x, NULL, N, ref, NULL, R, D, 0, &c));
    int64_t all[N];
    for (int i = 0; i < N; i++) all[i] = i;
    double want = ref_mean_pair(x, all, N, D) / ref_mean_pair(ref, all, R, D);
    CHECK_CLOSE(c.diversity, want, 0, 1e-5);
    CHECK(c.groups == 1 && c.dup_frac == 0);
    CHECK_CLOSE(c.diversity, 0.7, 0, 0.05); /* a 0.7 scale reads as 0.7 */
    /* per class: the mean over classes of the per-class ratios */
    CHECK_OK(drift_collapse_check(x, lx, N, ref, lr, R, D, C, &c));
    double sum = 0;
    for (int k = 0; k < C; k++) {
        int64_t ix[N], ir[R], nx = 0, nr = 0;
        for (int i = 0; i < N; i++)
            if (lx[i] == k) ix[nx++] = i;
        for (int i = 0; i < R; i++)
            if (lr[i] == k) ir[nr++] = i;
        sum += ref_mean_pair(x, ix, nx, D) / ref_mean_pair(ref, ir, nr, D);
    }
    CHECK_CLOSE(c.diversity, sum / C, 0, 1e-5);
    CHECK(c.groups == C);
    /* a label outside the classes is an error naming the sample */
    lx[17] = C;
    CHECK(drift_collapse_check(x, lx, N, ref, lr, R, D, C, &c) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "sample 17") != NULL);
    drift_free(x), drift_free(ref);
}

static void test_duplicates(void)
{
    enum { N = 500, D = 784 };
    float *x = drift_alloc((size_t)N * D, sizeof(float)), *ref = drift_alloc((size_t)N * D, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 9, 0);
    drift_rng_fill_uniform(&r, ref, (size_t)N * D, -1, 1);
    drift_rng_fill_uniform(&r, x, (size_t)N * D, -1, 1);
    /* rows 0..99 pair up as exact copies (50 pairs), rows 100..149 get a near-copy partner
     * (0.001 × the spread away), everything else is independent */
    for (int i = 0; i < 50; i++) memcpy(x + (size_t)(2 * i + 1) * D, x + (size_t)(2 * i) * D, D * sizeof(float));
    for (int i = 100; i < 150; i += 2)
        for (int k = 0; k < D; k++) x[(size_t)(i + 1) * D + k] = x[(size_t)i * D + k] + (k == 0 ? 0.01f : 0);
    drift_collapse c;
    CHECK_OK(drift_collapse_check(x, NULL, N, ref, NULL, N, D, 0, &c));
    CHECK_MSG(c.dup_frac == 150.0 / N, "dup %g", c.dup_frac);
    /* one image repeated: all duplicates, zero spread */
    for (int i = 1; i < N; i++) memcpy(x + (size_t)i * D, x, D * sizeof(float));
    CHECK_OK(drift_collapse_check(x, NULL, N, ref, NULL, N, D, 0, &c));
    CHECK(c.dup_frac == 1 && c.diversity == 0);
    drift_free(x), drift_free(ref);
}

/* Both figures are ratios of distances: a common scale of 1e19 changes nothing. */
static void test_collapse_scale_invariant(void)
{
    enum { N = 400 };
    float x[N * 2], ref[N * 2], xs[N * 2], rs[N * 2];
    drift_rng r;
    drift_rng_init(&r, 2, 0);
    drift_rng_fill_normal(&r, x, N * 2, 0, 1);
    drift_rng_fill_normal(&r, ref, N * 2, 0, 2);
    memcpy(x + 2, x, 2 * sizeof(float)); /* one duplicate pair */
    for (int i = 0; i < N * 2; i++) xs[i] = x[i] * 1e19f, rs[i] = ref[i] * 1e19f;
    drift_collapse a, b;
    CHECK_OK(drift_collapse_check(x, NULL, N, ref, NULL, N, 2, 0, &a));
    CHECK_OK(drift_collapse_check(xs, NULL, N, rs, NULL, N, 2, 0, &b));
    CHECK(isfinite(b.diversity) && isfinite(b.ref_spread));
    CHECK_CLOSE(b.diversity, a.diversity, 0, 1e-6);
    CHECK(a.dup_frac == b.dup_frac && a.dup_frac >= 2.0 / N && a.dup_frac < 0.05);
    CHECK_CLOSE(b.close, a.close * 1e19, 0, 1e-6);
    CHECK_CLOSE(b.ref_spread, a.ref_spread * 1e19, 0, 1e-6);
}

/* Samples 1e19 times too large are far from the target on every toy metric (the energy
 * distance once overflowed to NaN and was clipped to 0: "identical"). */
static void test_toy_metrics_far_samples(void)
{
    enum { N = 1000 };
    float *s = drift_alloc(N * 2, sizeof(float)), *big = drift_alloc(N * 2, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 4, 0);
    CHECK_OK(drift_toy_sample("swiss_roll", &r, N, s, NULL));
    for (int i = 0; i < N * 2; i++) big[i] = s[i] * 1e19f;
    drift_toy_metrics good, bad;
    CHECK_OK(drift_eval_toy("swiss_roll", s, N, 0, &good));
    CHECK_OK(drift_eval_toy("swiss_roll", big, N, 0, &bad));
    CHECK_MSG(bad.energy > 1e18 && bad.sliced_w2 > 1e18, "energy %g sw2 %g", bad.energy, bad.sliced_w2);
    CHECK_MSG(bad.mmd2 > 100 * fabs(good.mmd2) && bad.mmd2 > 0.05, "mmd %g vs %g", bad.mmd2, good.mmd2);
    CHECK(bad.diversity > 1e17 && good.diversity > 0.9 && good.diversity < 1.1);
    CHECK_MSG(good.dup_frac < 0.03, "dup %g", good.dup_frac); /* about 0.5 * 0.1^2 in 2-D */
    /* the energy distance is 1-homogeneous: E(2^40 x, 2^40 y) = 2^40 E(x, y), exactly scaled */
    float *y = drift_alloc(N * 2, sizeof(float)), *xs = drift_alloc(N * 2, sizeof(float)),
          *ys = drift_alloc(N * 2, sizeof(float));
    drift_rng_fill_normal(&r, y, N * 2, 0.3f, 1);
    for (int i = 0; i < N * 2; i++) xs[i] = ldexpf(s[i], 40), ys[i] = ldexpf(y[i], 40);
    double e1, e2;
    CHECK_OK(drift_energy_distance(s, N, y, N, 2, &e1));
    CHECK_OK(drift_energy_distance(xs, N, ys, N, 2, &e2));
    CHECK_CLOSE(e2, ldexp(e1, 40), 0, 1e-6);
    /* one copy point far out: a finite, huge distance, never NaN clipped to 0 */
    float far[4] = {3e19f, -3e19f, 0, 0};
    CHECK_OK(drift_energy_distance(far, 2, s, N, 2, &e1));
    CHECK(isfinite(e1) && e1 > 1e19);
    drift_free(s), drift_free(big), drift_free(y), drift_free(xs), drift_free(ys);
}

static void test_blur(void)
{
    enum { H = 28, W = 28 };
    float img[H * W];
    /* a constant image is unchanged */
    for (int i = 0; i < H * W; i++) img[i] = 0.3f;
    CHECK_OK(eval_blur(img, H, W, 1, 1.5));
    int same = 1;
    for (int i = 0; i < H * W; i++) same &= fabsf(img[i] - 0.3f) < 1e-6f;
    CHECK(same);
    /* an impulse in the middle becomes the product of two normalized 1-D gaussians */
    const double sigma = 1.0;
    memset(img, 0, sizeof img);
    img[14 * W + 14] = 1;
    CHECK_OK(eval_blur(img, H, W, 1, sigma));
    double z = 0;
    for (int t = -3; t <= 3; t++) z += exp(-0.5 * t * t / (sigma * sigma));
    double err = 0, total = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int dy = y - 14, dx = x - 14;
            double want = abs(dy) <= 3 && abs(dx) <= 3
                              ? exp(-0.5 * (dy * dy + dx * dx) / (sigma * sigma)) / (z * z)
                              : 0;
            err = fmax(err, fabs(img[y * W + x] - want));
            total += img[y * W + x];
        }
    CHECK_MSG(err < 1e-6, "max error %g", err);
    CHECK_CLOSE(total, 1.0, 1e-5, 0);
    /* sigma 0: nothing happens */
    img[0] = 0.77f;
    CHECK_OK(eval_blur(img, H, W, 1, 0));
    CHECK(img[0] == 0.77f);
}

static void test_noise_and_salt_pepper(void)
{
    enum { D = 100000 };
    float *img = drift_alloc(D, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    /* mid-grey plus noise of σ = 0.1 in [0, 1] units = 0.2 in [-1, 1] units */
    for (int i = 0; i < D; i++) img[i] = 0;
    eval_add_noise(img, D, 0.1, &r);
    double s = 0, s2 = 0;
    for (int i = 0; i < D; i++) s += img[i], s2 += (double)img[i] * img[i];
    double sd = sqrt(s2 / D - (s / D) * (s / D));
    CHECK_CLOSE(sd, 0.2, 0, 0.02);
    /* strong noise stays in the pixel range */
    eval_add_noise(img, D, 2.0, &r);
    int in_range = 1;
    for (int i = 0; i < D; i++) in_range &= img[i] >= -1 && img[i] <= 1;
    CHECK(in_range);
    /* salt-and-pepper 30 %: that share of pixels black or white, half each */
    for (int i = 0; i < D; i++) img[i] = 0.25f;
    eval_salt_pepper(img, D, 0.3, &r);
    int64_t white = 0, black = 0, kept = 0;
    for (int i = 0; i < D; i++) white += img[i] == 1, black += img[i] == -1, kept += img[i] == 0.25f;
    CHECK(white + black + kept == D);
    CHECK_CLOSE((double)(white + black) / D, 0.3, 0.01, 0);
    CHECK_CLOSE((double)white / (white + black), 0.5, 0.02, 0);
    drift_free(img);
}

/* Every outlier type: finite, in range, and not a copy of the real image it started from. */
static void test_outliers_in_range(void)
{
    enum { H = 28, W = 28 };
    float real[H * W], out[H * W];
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    for (int i = 0; i < H * W; i++) real[i] = (i / W) % 7 < 3 ? 0.8f : -1.0f;
    for (int type = 0; type < EVAL_OUTLIER_TYPES; type++)
        for (int rep = 0; rep < 20; rep++) {
            eval_synth_outlier(out, type, real, H, W, 1, &r);
            int ok = 1, differs = 0;
            for (int i = 0; i < H * W; i++) {
                ok &= isfinite(out[i]) && out[i] >= -1 && out[i] <= 1;
                differs |= out[i] != real[i];
            }
            CHECK_MSG(ok, "type %d (%s) out of range", type, eval_outlier_name(type));
            if (type != 5) /* shuffled tiles of this striped image can reproduce it */
                CHECK_MSG(differs, "type %d (%s) returned the real image", type, eval_outlier_name(type));
        }
    CHECK(!strcmp(eval_outlier_name(2), "constant") && !strcmp(eval_outlier_name(99), "?"));
}

int main(void)
{
    RUN(test_diversity_matches_float64);
    RUN(test_duplicates);
    RUN(test_collapse_scale_invariant);
    RUN(test_toy_metrics_far_samples);
    RUN(test_blur);
    RUN(test_noise_and_salt_pepper);
    RUN(test_outliers_in_range);
    return TEST_SUMMARY();
}
