/* stats.c — gaussian statistics of feature sets, the PSD matrix square root, and FID.
 *
 * Everything here is float64: FID subtracts traces of similar size, so float32 would leave
 * only a few significant digits of a small FID. */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "drift/core.h"
#include "drift/eval.h"
#include "eval/eval_internal.h"

/* Rows converted to float64 and centred per block, so the memory is O(block · dim). */
#define STATS_BLOCK_ROWS 1024

void drift_feature_stats_free(drift_feature_stats *s)
{
    if (!s) return;
    drift_free(s->mean);
    drift_free(s->cov);
    memset(s, 0, sizeof *s);
}

int drift_feature_stats_compute(const float *x, int64_t n, int dim, drift_feature_stats *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "feature stats: output is NULL");
    memset(out, 0, sizeof *out);
    int st = eval_check_set(x, n, dim, 2, "features");
    if (st) return st;
    const size_t d = (size_t)dim;
    double *mean = drift_alloc(d, sizeof(double));
    double *cov = drift_alloc(d * d, sizeof(double));
    double *block = drift_alloc((size_t)STATS_BLOCK_ROWS * d, sizeof(double));
    if (!mean || !cov || !block) {
        drift_free(mean), drift_free(cov), drift_free(block);
        return DRIFT_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) mean[j] += x[(size_t)i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;

    /* cov = Σ (x_i − μ)(x_i − μ)ᵀ / (n − 1), accumulated block by block with DSYRK into the
     * upper triangle, then mirrored. */
    for (int64_t r0 = 0; r0 < n; r0 += STATS_BLOCK_ROWS) {
        int64_t rows = n - r0 < STATS_BLOCK_ROWS ? n - r0 : STATS_BLOCK_ROWS;
        for (int64_t i = 0; i < rows; i++)
            for (size_t j = 0; j < d; j++)
                block[(size_t)i * d + j] = (double)x[(size_t)(r0 + i) * d + j] - mean[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, dim, (int)rows, 1.0, block, dim,
                    1.0, cov, dim);
    }
    const double inv = 1.0 / (double)(n - 1);
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) cov[j * d + i] = cov[i * d + j] *= inv;
    drift_free(block);
    out->n = n;
    out->dim = dim;
    out->mean = mean;
    out->cov = cov;
    return DRIFT_OK;
}

/* Eigenvalues (ascending) and, when vecs != NULL, eigenvectors (columns of vecs, row-major)
 * of the symmetric matrix A (upper triangle read). */
static int sym_eig(const double *A, int n, double *evals, double *vecs)
{
    double *w = vecs ? vecs : drift_alloc((size_t)n * n, sizeof(double));
    if (!w) return DRIFT_ENOMEM;
    if (w != A) memcpy(w, A, (size_t)n * n * sizeof(double));
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vecs ? 'V' : 'N', 'U', n, w, n, evals);
    if (!vecs) drift_free(w);
    if (info < 0) return drift_error(DRIFT_EINVAL, "dsyevd: bad argument %d", (int)-info);
    if (info > 0)
        return drift_error(DRIFT_ENUMERIC, "dsyevd: the eigendecomposition did not converge");
    return DRIFT_OK;
}

int drift_sqrtm_psd(const double *A, int n, double *out)
{
    if (!A || !out) return drift_error(DRIFT_EINVAL, "sqrtm: NULL matrix");
    if (n < 1) return drift_error(DRIFT_ESHAPE, "sqrtm: matrix size must be >= 1, got %d", n);
    const size_t nn = (size_t)n * n;
    if (!drift_all_finite_f64(A, nn))
        return drift_error(DRIFT_ENUMERIC, "sqrtm: the matrix holds NaN or Inf");
    double *vecs = drift_alloc(nn, sizeof(double));
    double *evals = drift_alloc((size_t)n, sizeof(double));
    if (!vecs || !evals) {
        drift_free(vecs), drift_free(evals);
        return DRIFT_ENOMEM;
    }
    int st = sym_eig(A, n, evals, vecs);
    if (st == DRIFT_OK) {
        double largest = fmax(fabs(evals[0]), fabs(evals[n - 1]));
        if (evals[0] < -1e-6 * largest) {
            st = drift_error(DRIFT_ENUMERIC,
                             "sqrtm: the matrix is not positive semi-definite (eigenvalue %.3g, "
                             "largest %.3g)", evals[0], largest);
        } else {
            /* A^½ = V Λ^½ Vᵀ = B Bᵀ with B = V Λ^¼: scale each column, one DSYRK. */
            for (int j = 0; j < n; j++) {
                double s = sqrt(sqrt(fmax(evals[j], 0.0)));
                for (int i = 0; i < n; i++) vecs[(size_t)i * n + j] *= s;
            }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, n, 1.0, vecs, n, 0.0, out, n);
            for (int i = 0; i < n; i++)
                for (int j = i + 1; j < n; j++) out[(size_t)j * n + i] = out[(size_t)i * n + j];
        }
    }
    drift_free(vecs);
    drift_free(evals);
    return st;
}

static int check_stats(const drift_feature_stats *s, const char *which)
{
    if (!s || !s->mean || !s->cov || s->dim < 1)
        return drift_error(DRIFT_EINVAL, "FID: %s statistics are empty", which);
    if (!drift_all_finite_f64(s->mean, (size_t)s->dim) ||
        !drift_all_finite_f64(s->cov, (size_t)s->dim * s->dim))
        return drift_error(DRIFT_ENUMERIC, "FID: %s statistics hold NaN or Inf", which);
    return DRIFT_OK;
}

int eval_fid_with_sqrt(const drift_feature_stats *a, const double *sqrt_cov_a,
                       const drift_feature_stats *b, double *fid)
{
    int st;
    if ((st = check_stats(a, "first")) || (st = check_stats(b, "second"))) return st;
    if (a->dim != b->dim)
        return drift_error(DRIFT_ESHAPE, "FID: feature dimensions differ (%d vs %d)", a->dim,
                           b->dim);
    const int d = a->dim;
    const size_t dd = (size_t)d * d;
    double *t = drift_alloc(dd, sizeof(double));
    double *m = drift_alloc(dd, sizeof(double));
    double *evals = drift_alloc((size_t)d, sizeof(double));
    if (!t || !m || !evals) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    /* M = S C2 S with S = C1^½; symmetrised against rounding before the eigensolver. */
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, d, d, 1.0, sqrt_cov_a, d, b->cov, d, 0.0,
                t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, sqrt_cov_a, d,
                0.0, m, d);
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double s = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]);
            m[(size_t)i * d + j] = m[(size_t)j * d + i] = s;
        }
    if ((st = sym_eig(m, d, evals, NULL))) goto done;
    double tr_sqrt = 0, tr_a = 0, tr_b = 0, mean_sq = 0;
    for (int i = 0; i < d; i++) {
        tr_sqrt += sqrt(fmax(evals[i], 0.0));
        tr_a += a->cov[(size_t)i * d + i];
        tr_b += b->cov[(size_t)i * d + i];
        double diff = a->mean[i] - b->mean[i];
        mean_sq += diff * diff;
    }
    *fid = fmax(0.0, mean_sq + tr_a + tr_b - 2.0 * tr_sqrt);
done:
    drift_free(t);
    drift_free(m);
    drift_free(evals);
    return st;
}

int drift_fid_from_stats(const drift_feature_stats *a, const drift_feature_stats *b, double *fid)
{
    if (!fid) return drift_error(DRIFT_EINVAL, "FID: output is NULL");
    int st = check_stats(a, "first");
    if (st) return st;
    double *s = drift_alloc((size_t)a->dim * a->dim, sizeof(double));
    if (!s) return DRIFT_ENOMEM;
    st = drift_sqrtm_psd(a->cov, a->dim, s);
    if (st == DRIFT_OK) st = eval_fid_with_sqrt(a, s, b, fid);
    drift_free(s);
    return st;
}

int drift_fid(const float *a, int64_t na, const float *b, int64_t nb, int dim, double *fid)
{
    if (!fid) return drift_error(DRIFT_EINVAL, "FID: output is NULL");
    drift_feature_stats sa, sb;
    int st = drift_feature_stats_compute(a, na, dim, &sa);
    if (st) return drift_error_context(st, "FID, first set");
    st = drift_feature_stats_compute(b, nb, dim, &sb);
    if (st) {
        drift_feature_stats_free(&sa);
        return drift_error_context(st, "FID, second set");
    }
    st = drift_fid_from_stats(&sa, &sb, fid);
    drift_feature_stats_free(&sa);
    drift_feature_stats_free(&sb);
    return st;
}
