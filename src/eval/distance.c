/* distance.c — pairwise distances in blocks, and the statistics built from all pairs:
 * the median heuristic, unbiased MMD² with a gaussian kernel, and the energy distance.
 *
 * An (n, m) distance matrix of two 10000-row sets would take 400 MB, so every pass walks it
 * in row blocks of bounded size. Row sums are kept per row and added up serially, so that
 * results are bitwise reproducible whatever the OpenMP scheduling. */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "drift/core.h"
#include "drift/eval.h"
#include "eval/eval_internal.h"

/* Block budget: 4 Mi floats (16 MiB) of distances at a time. */
#define BLOCK_FLOATS ((int64_t)1 << 22)
/* Below this many features the distances are computed directly as Σ (a − b)², which is
 * exact to rounding (a point's distance to itself is exactly 0) and as fast as a GEMM. */
#define DIRECT_MAX_DIM 16

int eval_check_set(const float *x, int64_t n, int dim, int64_t min_rows, const char *what)
{
    if (dim < 1) return drift_error(DRIFT_ESHAPE, "%s: dimension must be >= 1, got %d", what, dim);
    if (n < min_rows)
        return drift_error(DRIFT_ESHAPE, "%s: needs at least %lld rows, got %lld", what,
                           (long long)min_rows, (long long)n);
    if (!x) return drift_error(DRIFT_EINVAL, "%s: data pointer is NULL", what);
    for (int64_t i = 0; i < n; i++)
        if (!drift_all_finite_f32(x + (size_t)i * dim, (size_t)dim))
            return drift_error(DRIFT_ENUMERIC, "%s: row %lld holds NaN or Inf", what,
                               (long long)i);
    return DRIFT_OK;
}

void eval_row_sqnorms(const float *x, int64_t n, int dim, float *out)
{
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float *r = x + (size_t)i * dim;
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)r[j] * r[j];
        out[i] = (float)s;
    }
}

int64_t eval_block_rows(int64_t ncols)
{
    int64_t rows = BLOCK_FLOATS / (ncols > 0 ? ncols : 1);
    return rows < 1 ? 1 : rows;
}

void eval_sqdist_block(float *out, const float *a, const float *an2, int64_t na, const float *b,
                       const float *bn2, int64_t nb, int dim)
{
    if (dim <= DIRECT_MAX_DIM) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < na; i++) {
            const float *ai = a + (size_t)i * dim;
            float *o = out + (size_t)i * nb;
            for (int64_t j = 0; j < nb; j++) {
                const float *bj = b + (size_t)j * dim;
                float s = 0;
                for (int k = 0; k < dim; k++) {
                    float t = ai[k] - bj[k];
                    s += t * t;
                }
                o[j] = s;
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, dim, -2.0f, a, dim, b,
                dim, 0.0f, out, (int)nb);
    /* ‖a‖² + ‖b‖² − 2 a·b cancels for nearby rows: a row against its own copy comes out as
     * rounding noise (±1e-4 at 784 pixels) instead of 0. Distances that small next to the
     * norms are recomputed directly, so copies are exactly 0 and near-copies exact. */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < na; i++) {
        float *o = out + (size_t)i * nb;
        for (int64_t j = 0; j < nb; j++) {
            float v = o[j] + an2[i] + bn2[j];
            if (v < 1e-3f * (an2[i] + bn2[j])) {
                const float *ai = a + (size_t)i * dim, *bj = b + (size_t)j * dim;
                double s = 0;
                for (int k = 0; k < dim; k++) {
                    double t = (double)ai[k] - bj[k];
                    s += t * t;
                }
                v = (float)s;
            }
            o[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* Walks all (i, j) pairs of a × b block by block, calling row_sum on each distance row.
 * row_sum(row, nb, skip, param) returns the row's contribution, skipping column `skip`
 * (-1: none). Fills *sum. */
typedef double (*row_sum_fn)(const float *d2, int64_t nb, int64_t skip, double param);

static int pair_sum(const float *a, int64_t na, const float *b, int64_t nb, int dim, int same,
                    row_sum_fn fn, double param, double *sum)
{
    int64_t br = eval_block_rows(nb);
    if (br > na) br = na;
    float *an2 = drift_alloc((size_t)na, sizeof(float));
    float *bn2 = drift_alloc((size_t)nb, sizeof(float));
    float *d2 = drift_alloc((size_t)br * nb, sizeof(float));
    double *rows = drift_alloc((size_t)br, sizeof(double));
    if (!an2 || !bn2 || !d2 || !rows) {
        drift_free(an2), drift_free(bn2), drift_free(d2), drift_free(rows);
        return DRIFT_ENOMEM;
    }
    eval_row_sqnorms(a, na, dim, an2);
    eval_row_sqnorms(b, nb, dim, bn2);
    double total = 0;
    for (int64_t i0 = 0; i0 < na; i0 += br) {
        int64_t m = na - i0 < br ? na - i0 : br;
        eval_sqdist_block(d2, a + (size_t)i0 * dim, an2 + i0, m, b, bn2, nb, dim);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++)
            rows[i] = fn(d2 + (size_t)i * nb, nb, same ? i0 + i : -1, param);
        for (int64_t i = 0; i < m; i++) total += rows[i];
    }
    *sum = total;
    drift_free(an2), drift_free(bn2), drift_free(d2), drift_free(rows);
    return DRIFT_OK;
}

static double gaussian_row(const float *d2, int64_t nb, int64_t skip, double neg_inv_2h2)
{
    const float c = (float)neg_inv_2h2;
    double s = 0;
    for (int64_t j = 0; j < nb; j++) s += expf(c * d2[j]);
    if (skip >= 0) s -= expf(c * d2[skip]);
    return s;
}

static double distance_row(const float *d2, int64_t nb, int64_t skip, double unused)
{
    double s = 0;
    for (int64_t j = 0; j < nb; j++) s += sqrtf(d2[j]);
    return s;
}

int eval_gaussian_kernel_sum(const float *a, int64_t na, const float *b, int64_t nb, int dim,
                             double h2, int same, double *sum)
{
    return pair_sum(a, na, b, nb, dim, same, gaussian_row, -0.5 / h2, sum);
}

int eval_distance_sum(const float *a, int64_t na, const float *b, int64_t nb, int dim,
                      double *sum)
{
    return pair_sum(a, na, b, nb, dim, 0, distance_row, 0.0, sum);
}

/* k-th smallest of v[0..n) (0-based), reordering v: quickselect with a median-of-three
 * pivot, deterministic. */
static float select_kth(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        float x = v[lo], y = v[mid], z = v[hi];
        float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return v[k];
    }
    return v[k];
}

int drift_median_sqdist(const float *x, int64_t n, int dim, double *median_sqdist)
{
    if (!median_sqdist) return drift_error(DRIFT_EINVAL, "median distance: output is NULL");
    int st = eval_check_set(x, n, dim, 2, "median distance");
    if (st) return st;
    int64_t m = n < DRIFT_MEDIAN_ROWS ? n : DRIFT_MEDIAN_ROWS;
    float *sub = drift_alloc((size_t)m * dim, sizeof(float));
    float *n2 = drift_alloc((size_t)m, sizeof(float));
    float *d2 = drift_alloc((size_t)m * m, sizeof(float));
    float *pairs = drift_alloc((size_t)m * (m - 1) / 2, sizeof(float));
    if (!sub || !n2 || !d2 || !pairs) {
        drift_free(sub), drift_free(n2), drift_free(d2), drift_free(pairs);
        return DRIFT_ENOMEM;
    }
    for (int64_t i = 0; i < m; i++) /* evenly spaced rows: i · n / m */
        memcpy(sub + (size_t)i * dim, x + (size_t)(i * n / m) * dim, (size_t)dim * sizeof(float));
    eval_row_sqnorms(sub, m, dim, n2);
    eval_sqdist_block(d2, sub, n2, m, sub, n2, m, dim);
    int64_t np = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) pairs[np++] = d2[(size_t)i * m + j];
    /* The median of an even count is the mean of the two middle values. */
    double med = select_kth(pairs, np, np / 2);
    if (np % 2 == 0) {
        float below = pairs[0];
        for (int64_t i = 1; i < np / 2; i++)
            if (pairs[i] > below) below = pairs[i];
        med = 0.5 * (med + below);
    }
    *median_sqdist = med;
    drift_free(sub), drift_free(n2), drift_free(d2), drift_free(pairs);
    return DRIFT_OK;
}

static int check_pair(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                      int64_t min_rows, const char *metric)
{
    int st = eval_check_set(x, nx, dim, min_rows, "first set");
    if (st == DRIFT_OK) st = eval_check_set(y, ny, dim, min_rows, "second set");
    return st ? drift_error_context(st, "%s", metric) : DRIFT_OK;
}

int drift_mmd2_unbiased(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                        double h2, double *mmd2)
{
    if (!mmd2) return drift_error(DRIFT_EINVAL, "MMD: output is NULL");
    if (!(h2 > 0) || !isfinite(h2))
        return drift_error(DRIFT_EINVAL, "MMD: squared bandwidth must be > 0, got %g", h2);
    int st = check_pair(x, nx, y, ny, dim, 2, "MMD");
    if (st) return st;
    double sxx, syy, sxy;
    if ((st = eval_gaussian_kernel_sum(x, nx, x, nx, dim, h2, 1, &sxx)) ||
        (st = eval_gaussian_kernel_sum(y, ny, y, ny, dim, h2, 1, &syy)) ||
        (st = eval_gaussian_kernel_sum(x, nx, y, ny, dim, h2, 0, &sxy)))
        return st;
    *mmd2 = sxx / ((double)nx * (nx - 1)) + syy / ((double)ny * (ny - 1)) -
            2.0 * sxy / ((double)nx * ny);
    if (!isfinite(*mmd2)) return drift_error(DRIFT_ENUMERIC, "MMD: not finite");
    return DRIFT_OK;
}

int drift_energy_distance(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                          double *energy)
{
    if (!energy) return drift_error(DRIFT_EINVAL, "energy distance: output is NULL");
    int st = check_pair(x, nx, y, ny, dim, 1, "energy distance");
    if (st) return st;
    /* E is 1-homogeneous, E(s x, s y) = s E(x, y): sets far from unit size (1e19 squares to
     * 1e38, at the edge of float) are measured scaled by a power of two, which is exact. */
    float amax = 0;
    for (size_t i = 0; i < (size_t)nx * dim; i++) amax = fmaxf(amax, fabsf(x[i]));
    for (size_t i = 0; i < (size_t)ny * dim; i++) amax = fmaxf(amax, fabsf(y[i]));
    int ex = 0;
    if (amax > 0) frexpf(amax, &ex);
    const int rescale = ex > 20 || ex < -20;
    float *xs = NULL, *ys = NULL;
    if (rescale) {
        xs = drift_alloc((size_t)nx * dim, sizeof(float));
        ys = drift_alloc((size_t)ny * dim, sizeof(float));
        if (!xs || !ys) {
            drift_free(xs), drift_free(ys);
            return DRIFT_ENOMEM;
        }
        for (size_t i = 0; i < (size_t)nx * dim; i++) xs[i] = ldexpf(x[i], -ex);
        for (size_t i = 0; i < (size_t)ny * dim; i++) ys[i] = ldexpf(y[i], -ex);
        x = xs, y = ys;
    }
    double sxx, syy, sxy;
    if ((st = eval_distance_sum(x, nx, x, nx, dim, &sxx)) ||
        (st = eval_distance_sum(y, ny, y, ny, dim, &syy)) ||
        (st = eval_distance_sum(x, nx, y, ny, dim, &sxy))) {
        drift_free(xs), drift_free(ys);
        return st;
    }
    drift_free(xs), drift_free(ys);
    double e = 2.0 * sxy / ((double)nx * ny) - sxx / ((double)nx * nx) - syy / ((double)ny * ny);
    if (rescale) e = ldexp(e, ex);
    if (!isfinite(e))
        return drift_error(DRIFT_ENUMERIC, "energy distance: not finite (values up to %g)", amax);
    *energy = e > 0 ? e : 0.0; /* a V-statistic is >= 0; rounding may leave -1e-17 */
    return DRIFT_OK;
}
