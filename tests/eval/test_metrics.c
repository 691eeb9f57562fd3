/* Tests for the metric math of src/eval: statistics, matrix square root, FID, precision /
 * recall / density / coverage, MMD², energy distance, sliced W2 and the toy metrics, each
 * against a plain float64 reference or a closed form. */
#include <stdint.h>
#include <stdlib.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/rng.h"
#include "test.h"

static float *random_set(uint64_t seed, int64_t n, int dim, float mean, float std)
{
    float *x = drift_alloc((size_t)n * dim, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    drift_rng_fill_normal(&r, x, (size_t)n * dim, mean, std);
    return x;
}

/* Correlated features: x = z · W with a fixed random W, so covariances are not diagonal. */
static float *correlated_set(uint64_t seed, int64_t n, int dim, float shift)
{
    float *z = random_set(seed, n, dim, 0, 1), *w = random_set(999, dim, dim, 0, 0.5f);
    float *x = drift_alloc((size_t)n * dim, sizeof(float));
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < dim; j++) {
            double s = shift;
            for (int k = 0; k < dim; k++) s += (double)z[i * dim + k] * w[k * dim + j];
            x[i * dim + j] = (float)s;
        }
    drift_free(z), drift_free(w);
    return x;
}

static double ref_sqdist(const float *a, const float *b, int dim)
{
    double s = 0;
    for (int k = 0; k < dim; k++) s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return s;
}

static void test_stats_match_reference(void)
{
    const int n = 300, d = 7;
    float *x = correlated_set(1, n, d, 0.5f);
    drift_feature_stats s;
    CHECK_OK(drift_feature_stats_compute(x, n, d, &s));
    double mean[7] = {0};
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += x[i * d + j] / (double)n;
    double worst_mean = 0, worst_cov = 0;
    for (int j = 0; j < d; j++) {
        worst_mean = fmax(worst_mean, fabs(mean[j] - s.mean[j]));
        for (int k = 0; k < d; k++) {
            double c = 0;
            for (int i = 0; i < n; i++)
                c += ((double)x[i * d + j] - mean[j]) * ((double)x[i * d + k] - mean[k]);
            c /= n - 1;
            worst_cov = fmax(worst_cov, fabs(c - s.cov[j * d + k]));
        }
    }
    CHECK(s.n == n && s.dim == d);
    CHECK_CLOSE(worst_mean, 0, 1e-12, 0);
    CHECK_CLOSE(worst_cov, 0, 1e-12, 0);
    drift_feature_stats_free(&s);
    CHECK(drift_feature_stats_compute(x, 1, d, &s) == DRIFT_ESHAPE);
    CHECK(drift_feature_stats_compute(x, n, 0, &s) == DRIFT_ESHAPE);
    x[5 * d + 3] = NAN;
    CHECK(drift_feature_stats_compute(x, n, d, &s) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "row 5") != NULL);
    drift_free(x);
}

static void test_sqrtm(void)
{
    /* A = B Bᵀ + 0.1 I is symmetric positive definite; A^½ A^½ must give A back. */
    const int n = 12;
    float *b = random_set(2, n, n, 0, 1);
    double a[144], s[144];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = i == j ? 0.1 : 0;
            for (int k = 0; k < n; k++) v += (double)b[i * n + k] * b[j * n + k];
            a[i * n + j] = v;
        }
    CHECK_OK(drift_sqrtm_psd(a, n, s));
    double worst = 0, asym = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = 0;
            for (int k = 0; k < n; k++) v += s[i * n + k] * s[k * n + j];
            worst = fmax(worst, fabs(v - a[i * n + j]));
            asym = fmax(asym, fabs(s[i * n + j] - s[j * n + i]));
        }
    CHECK_CLOSE(worst, 0, 1e-10, 0);
    CHECK(asym == 0);
    /* A diagonal matrix: the square root of each entry; in place (out aliases A). */
    double d[9] = {4, 0, 0, 0, 9, 0, 0, 0, 0};
    CHECK_OK(drift_sqrtm_psd(d, 3, d));
    CHECK_CLOSE(d[0], 2, 1e-12, 0);
    CHECK_CLOSE(d[4], 3, 1e-12, 0);
    CHECK_CLOSE(d[8], 0, 1e-12, 0);
    CHECK_CLOSE(d[1], 0, 1e-12, 0);
    /* An indefinite matrix is no covariance. */
    double bad[4] = {1, 2, 2, 1}; /* eigenvalues 3 and -1 */
    CHECK(drift_sqrtm_psd(bad, 2, s) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "positive semi-definite") != NULL);
    drift_free(b);
}

static void test_fid_closed_forms(void)
{
    /* Diagonal covariances: FID = ‖μ1 − μ2‖² + Σ (√a_i − √b_i)². */
    double m1[3] = {0, 1, 2}, m2[3] = {1, 1, 0};
    double c1[9] = {4, 0, 0, 0, 1, 0, 0, 0, 9}, c2[9] = {1, 0, 0, 0, 1, 0, 0, 0, 0.25};
    drift_feature_stats a = {10, 3, m1, c1}, b = {10, 3, m2, c2};
    double fid = -1;
    CHECK_OK(drift_fid_from_stats(&a, &b, &fid));
    CHECK_CLOSE(fid, 1 + 4 + 1 + 0 + 2.5 * 2.5, 1e-10, 0);
    CHECK_OK(drift_fid_from_stats(&b, &a, &fid)); /* symmetric */
    CHECK_CLOSE(fid, 12.25, 1e-10, 0);

    /* A set against itself reads 0; against a copy shifted by m, exactly ‖m‖². */
    const int n = 500, d = 16;
    float *x = correlated_set(3, n, d, 0), *y = correlated_set(3, n, d, 0.25f);
    CHECK_OK(drift_fid(x, n, x, n, d, &fid));
    CHECK(fid >= 0 && fid < 1e-9);
    CHECK_OK(drift_fid(x, n, y, n, d, &fid));
    CHECK_CLOSE(fid, d * 0.0625, 1e-5, 0);

    /* Two samples of one distribution are close; a different one is far; never negative. */
    float *x2 = correlated_set(4, n, d, 0), *noise = random_set(5, n, d, 0, 3);
    double same, other;
    CHECK_OK(drift_fid(x, n, x2, n, d, &same));
    CHECK_OK(drift_fid(x, n, noise, n, d, &other));
    CHECK(same >= 0 && other > 20 * same);

    /* Rank-deficient covariances (fewer rows than features) still give FID >= 0. */
    CHECK_OK(drift_fid(x, 5, x2, 6, d, &fid));
    CHECK(fid >= 0);

    CHECK(drift_fid(x, n, y, n, 0, &fid) == DRIFT_ESHAPE);
    CHECK(drift_fid(x, 1, y, n, d, &fid) == DRIFT_ESHAPE);
    drift_feature_stats s3, s4;
    CHECK_OK(drift_feature_stats_compute(x, n, 4, &s3));
    CHECK_OK(drift_feature_stats_compute(x, n, 5, &s4));
    CHECK(drift_fid_from_stats(&s3, &s4, &fid) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "4 vs 5") != NULL);
    drift_feature_stats_free(&s3), drift_feature_stats_free(&s4);
    drift_free(x), drift_free(y), drift_free(x2), drift_free(noise);
}

/* Reference k-NN squared radius of row i of x, in float64. */
static double ref_radius(const float *x, int n, int dim, int i, int k)
{
    double best[8];
    int have = 0;
    for (int j = 0; j < n; j++) {
        if (j == i) continue;
        double v = ref_sqdist(x + i * dim, x + j * dim, dim);
        if (have == k && v >= best[k - 1]) continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && best[p - 1] > v) {
            best[p] = best[p - 1];
            p--;
        }
        best[p] = v;
    }
    return best[k - 1];
}

static void ref_prdc(const float *r, int nr, const float *f, int nf, int dim, int k,
                     drift_prdc *out)
{
    double *rr = malloc(nr * sizeof(double)), *rf = malloc(nf * sizeof(double));
    for (int i = 0; i < nr; i++) rr[i] = ref_radius(r, nr, dim, i, k);
    for (int j = 0; j < nf; j++) rf[j] = ref_radius(f, nf, dim, j, k);
    int prec = 0, rec = 0, cov = 0;
    long dens = 0;
    for (int j = 0; j < nf; j++) {
        int c = 0;
        for (int i = 0; i < nr; i++) c += ref_sqdist(f + j * dim, r + i * dim, dim) <= rr[i];
        prec += c > 0;
        dens += c;
    }
    for (int i = 0; i < nr; i++) {
        int in = 0;
        double nearest = INFINITY;
        for (int j = 0; j < nf; j++) {
            double v = ref_sqdist(f + j * dim, r + i * dim, dim);
            in |= v <= rf[j];
            nearest = fmin(nearest, v);
        }
        rec += in;
        cov += nearest <= rr[i];
    }
    out->precision = (double)prec / nf;
    out->recall = (double)rec / nr;
    out->density = (double)dens / ((double)k * nf);
    out->coverage = (double)cov / nr;
    free(rr), free(rf);
}

static void test_knn_radii(void)
{
    /* Both distance paths: direct (dim <= 16) and GEMM (dim > 16). */
    int dims[2] = {3, 40};
    for (int t = 0; t < 2; t++) {
        const int n = 150, d = dims[t], k = 3;
        float *x = random_set(6 + t, n, d, 0, 1);
        float rad[150];
        CHECK_OK(drift_knn_sqradii(x, n, d, k, rad));
        double worst = 0;
        for (int i = 0; i < n; i++) {
            double ref = ref_radius(x, n, d, i, k);
            worst = fmax(worst, fabs(rad[i] - ref) / ref);
        }
        CHECK_CLOSE(worst, 0, 1e-4, 0);
        CHECK(drift_knn_sqradii(x, 3, d, 3, rad) == DRIFT_ESHAPE);
        CHECK(drift_knn_sqradii(x, n, d, 0, rad) == DRIFT_EINVAL);
        drift_free(x);
    }
}

static void test_prdc_matches_reference(void)
{
    int dims[2] = {4, 32};
    for (int t = 0; t < 2; t++) {
        const int nr = 200, nf = 170, d = dims[t], k = 3;
        /* Samples: a shifted, narrower distribution, so no metric sits at 0 or 1. */
        float *r = random_set(10 + t, nr, d, 0, 1), *f = random_set(20 + t, nf, d, 0.3f, 0.8f);
        drift_prdc got, ref;
        CHECK_OK(drift_prdc_compute(r, nr, NULL, f, nf, d, k, &got));
        ref_prdc(r, nr, f, nf, d, k, &ref);
        CHECK_CLOSE(got.precision, ref.precision, 1e-12, 0);
        CHECK_CLOSE(got.recall, ref.recall, 1e-12, 0);
        CHECK_CLOSE(got.density, ref.density, 1e-12, 0);
        CHECK_CLOSE(got.coverage, ref.coverage, 1e-12, 0);
        CHECK(got.precision > 0.05 && got.precision < 1 && got.recall > 0.05 && got.recall < 1);
        /* Radii given from outside give the same answer. */
        float *rad = drift_alloc(nr, sizeof(float));
        drift_prdc again;
        CHECK_OK(drift_knn_sqradii(r, nr, d, k, rad));
        CHECK_OK(drift_prdc_compute(r, nr, rad, f, nf, d, k, &again));
        CHECK(again.precision == got.precision && again.recall == got.recall &&
              again.density == got.density && again.coverage == got.coverage);
        drift_free(r), drift_free(f), drift_free(rad);
    }
}

static void test_prdc_extremes(void)
{
    const int n = 300, d = 24;
    float *x = random_set(30, n, d, 0, 1), *far = random_set(31, n, d, 50, 1);
    drift_prdc p;
    CHECK_OK(drift_prdc_compute(x, n, NULL, x, n, d, DRIFT_PRDC_K, &p));
    CHECK(p.precision == 1 && p.recall == 1 && p.coverage == 1);
    CHECK(p.density > 0.5 && p.density < 2);
    CHECK_OK(drift_prdc_compute(x, n, NULL, far, n, d, DRIFT_PRDC_K, &p));
    CHECK(p.precision == 0 && p.recall == 0 && p.coverage == 0 && p.density == 0);
    /* Mode collapse: data in two far clusters, samples only from the first: precise, but
     * half of the data is neither recalled nor covered. */
    for (int i = n / 2; i < n; i++)
        for (int j = 0; j < d; j++) x[i * d + j] += 20;
    CHECK_OK(drift_prdc_compute(x, n, NULL, x, n / 2, d, DRIFT_PRDC_K, &p));
    CHECK(p.precision == 1 && p.recall == 0.5 && p.coverage == 0.5);
    CHECK(drift_prdc_compute(x, n, NULL, x, 3, d, 3, &p) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "samples") != NULL);
    CHECK(drift_prdc_compute(x, n, NULL, x, n, d, 0, &p) == DRIFT_EINVAL);
    drift_free(x), drift_free(far);
}

static double ref_mmd2(const float *x, int nx, const float *y, int ny, int d, double h2)
{
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < nx; j++)
            if (i != j) sxx += exp(-ref_sqdist(x + i * d, x + j * d, d) / (2 * h2));
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < ny; j++)
            if (i != j) syy += exp(-ref_sqdist(y + i * d, y + j * d, d) / (2 * h2));
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) sxy += exp(-ref_sqdist(x + i * d, y + j * d, d) / (2 * h2));
    return sxx / ((double)nx * (nx - 1)) + syy / ((double)ny * (ny - 1)) - 2 * sxy / ((double)nx * ny);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_median_and_mmd(void)
{
    int dims[2] = {2, 20};
    for (int t = 0; t < 2; t++) {
        const int nx = 120, ny = 90, d = dims[t];
        float *x = random_set(40 + t, nx, d, 0, 1), *y = random_set(50 + t, ny, d, 0.4f, 1);
        /* Median over all pairs (n < DRIFT_MEDIAN_ROWS, so every row takes part). */
        int np = nx * (nx - 1) / 2, c = 0;
        double *pairs = malloc(np * sizeof(double));
        for (int i = 0; i < nx; i++)
            for (int j = i + 1; j < nx; j++) pairs[c++] = ref_sqdist(x + i * d, x + j * d, d);
        qsort(pairs, np, sizeof(double), cmp_double);
        double ref_med = np % 2 ? pairs[np / 2] : 0.5 * (pairs[np / 2 - 1] + pairs[np / 2]);
        double med;
        CHECK_OK(drift_median_sqdist(x, nx, d, &med));
        CHECK_CLOSE(med, ref_med, 0, 1e-5);
        double mmd2;
        CHECK_OK(drift_mmd2_unbiased(x, nx, y, ny, d, med, &mmd2));
        CHECK_CLOSE(mmd2, ref_mmd2(x, nx, y, ny, d, med), 1e-6, 1e-4);
        CHECK(mmd2 > 0.005);
        free(pairs);
        drift_free(x), drift_free(y);
    }
    /* Two samples of one distribution: unbiased, so near 0 and far below a shifted pair. */
    const int n = 400, d = 8;
    float *a = random_set(60, n, d, 0, 1), *b = random_set(61, n, d, 0, 1),
          *c = random_set(62, n, d, 0.5f, 1);
    double h2, same, shifted;
    CHECK_OK(drift_median_sqdist(a, n, d, &h2));
    {   /* like with like: the sample median over all pairs, computed here (n < DRIFT_MEDIAN_ROWS) */
        int np = n * (n - 1) / 2, k = 0;
        double *pairs = malloc(np * sizeof(double));
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++) pairs[k++] = ref_sqdist(a + i * d, a + j * d, d);
        qsort(pairs, np, sizeof(double), cmp_double);
        CHECK_CLOSE(h2, np % 2 ? pairs[np / 2] : 0.5 * (pairs[np / 2 - 1] + pairs[np / 2]), 0, 1e-5);
        free(pairs);
    }
    /* and the population median: ‖a − a'‖² = 2χ²_d, median 2·chi2.ppf(0.5, 8) (scipy; the mean
     * 2d = 16 is another number); the sample median of 400 points has sd 2.5 % (measured over
     * 200 seeds), so 10 % is 4 sd */
    CHECK_CLOSE(h2, 14.688242995403588, 0, 0.10);
    CHECK_OK(drift_mmd2_unbiased(a, n, b, n, d, h2, &same));
    CHECK_OK(drift_mmd2_unbiased(a, n, c, n, d, h2, &shifted));
    CHECK(fabs(same) < 0.003 && shifted > 10 * fabs(same));
    CHECK(drift_mmd2_unbiased(a, n, b, n, d, 0, &same) == DRIFT_EINVAL);
    CHECK(drift_mmd2_unbiased(a, 1, b, n, d, h2, &same) == DRIFT_ESHAPE);
    drift_free(a), drift_free(b), drift_free(c);
}

static void test_energy(void)
{
    const int nx = 80, ny = 110, d = 3;
    float *x = random_set(70, nx, d, 0, 1), *y = random_set(71, ny, d, 0.7f, 1.5f);
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) sxy += sqrt(ref_sqdist(x + i * d, y + j * d, d));
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < nx; j++) sxx += sqrt(ref_sqdist(x + i * d, x + j * d, d));
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < ny; j++) syy += sqrt(ref_sqdist(y + i * d, y + j * d, d));
    double ref = 2 * sxy / (nx * ny) - sxx / (nx * nx) - syy / (ny * ny), e;
    CHECK_OK(drift_energy_distance(x, nx, y, ny, d, &e));
    CHECK_CLOSE(e, ref, 1e-6, 1e-5);
    CHECK(e > 0.1);
    CHECK_OK(drift_energy_distance(y, ny, y, ny, d, &e));
    CHECK(e == 0);
    drift_free(x), drift_free(y);
}

static void test_sliced_w2(void)
{
    /* A translation by m in 2-D gives ‖m‖ / √2 exactly. */
    const int n = 500;
    float *x = random_set(80, n, 2, 0, 1), *y = drift_alloc(2 * n, sizeof(float));
    for (int i = 0; i < n; i++) {
        y[2 * i] = x[2 * i] + 0.3f;
        y[2 * i + 1] = x[2 * i + 1] - 0.4f;
    }
    double sw;
    CHECK_OK(drift_sliced_w2(x, n, y, n, 2, 16, 0, &sw));
    CHECK_CLOSE(sw, 0.5 / sqrt(2.0), 1e-5, 0);
    CHECK_OK(drift_sliced_w2(x, n, x, n, 2, 16, 0, &sw));
    CHECK(sw == 0);
    /* Unequal sizes in 1-D: x = {0, 1}, y = {0, 1, 2}. The quantile functions differ by 1 on
     * t in [1/3, 1/2) and [2/3, 1): W2² = 1/6 + 1/3 = 1/2. */
    float a[2] = {1, 0}, b[3] = {2, 0, 1};
    CHECK_OK(drift_sliced_w2(a, 2, b, 3, 1, 3, 9, &sw));
    CHECK_CLOSE(sw, sqrt(0.5), 1e-12, 0);
    /* Random directions in 5-D: reproducible from the seed, and mean (u·m)² ≈ ‖m‖²/5. */
    float *p = random_set(81, n, 5, 0, 1), *q = drift_alloc(5 * n, sizeof(float));
    for (int i = 0; i < 5 * n; i++) q[i] = p[i] + 1.0f;
    double s1, s2;
    CHECK_OK(drift_sliced_w2(p, n, q, n, 5, 400, 3, &s1));
    CHECK_OK(drift_sliced_w2(p, n, q, n, 5, 400, 3, &s2));
    CHECK(s1 == s2);
    CHECK_CLOSE(s1 * s1, 5.0 / 5, 0, 0.25); /* E (u·m)² = ‖m‖² / d = 1 */
    CHECK(drift_sliced_w2(x, n, y, n, 2, 0, 0, &sw) == DRIFT_EINVAL);
    drift_free(x), drift_free(y), drift_free(p), drift_free(q);
}

static void test_toy_metrics(void)
{
    const int n = 1000;
    float *same = drift_alloc(2 * n, sizeof(float)), *other = drift_alloc(2 * n, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 123, 0);
    CHECK_OK(drift_toy_sample("checkerboard", &r, n, same, NULL));
    CHECK_OK(drift_toy_sample("gaussian", &r, n, other, NULL));
    drift_toy_metrics good, bad;
    CHECK_OK(drift_eval_toy("checkerboard", same, n, 5, &good));
    CHECK_OK(drift_eval_toy("checkerboard", other, n, 5, &bad));
    CHECK(good.n == n && good.bandwidth > 0.3 && good.bandwidth < 2);
    CHECK(fabs(good.mmd2) < 0.003 && bad.mmd2 > 0.03);
    CHECK(good.energy < 0.005 && bad.energy > 0.05);
    CHECK(good.sliced_w2 < 0.05 && bad.sliced_w2 > 0.3);
    /* The same seed draws the same target: same numbers. */
    drift_toy_metrics again;
    CHECK_OK(drift_eval_toy("checkerboard", same, n, 5, &again));
    CHECK(again.mmd2 == good.mmd2 && again.energy == good.energy &&
          again.sliced_w2 == good.sliced_w2);
    CHECK(drift_eval_toy("nonesuch", same, n, 5, &good) == DRIFT_EINVAL);
    CHECK(drift_eval_toy("checkerboard", same, 1, 5, &good) == DRIFT_ESHAPE);
    drift_free(same), drift_free(other);
}

int main(void)
{
    RUN(test_stats_match_reference);
    RUN(test_sqrtm);
    RUN(test_fid_closed_forms);
    RUN(test_knn_radii);
    RUN(test_prdc_matches_reference);
    RUN(test_prdc_extremes);
    RUN(test_median_and_mmd);
    RUN(test_energy);
    RUN(test_sliced_w2);
    RUN(test_toy_metrics);
    return TEST_SUMMARY();
}
