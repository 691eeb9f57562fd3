/* prdc.c — precision, recall, density and coverage on k-nearest-neighbour balls.
 *
 * Two passes over the (samples × reals) distance matrix, each in row blocks: one with the
 * samples as rows (precision, density: which real balls hold a sample), one with the reals as
 * rows (recall: which sample balls hold a real; coverage: is a real's nearest sample inside
 * its own ball). Walking it twice doubles the GEMM work but needs no cross-thread minimum. */
#include <string.h>

#include "drift/core.h"
#include "drift/eval.h"
#include "eval/eval_internal.h"

/* Larger k would make the insertion list below slow; the papers use 3 and 5. */
#define PRDC_MAX_K 64

int drift_knn_sqradii(const float *x, int64_t n, int dim, int k, float *sqradius)
{
    if (!sqradius) return drift_error(DRIFT_EINVAL, "k-NN radii: output is NULL");
    if (k < 1 || k > PRDC_MAX_K)
        return drift_error(DRIFT_EINVAL, "k-NN radii: k must be in [1, %d], got %d", PRDC_MAX_K, k);
    int st = eval_check_set(x, n, dim, (int64_t)k + 1, "k-NN radii");
    if (st) return drift_error_context(st, "k = %d needs more than k points", k);
    int64_t br = eval_block_rows(n);
    if (br > n) br = n;
    float *n2 = drift_alloc((size_t)n, sizeof(float));
    float *d2 = drift_alloc((size_t)br * n, sizeof(float));
    if (!n2 || !d2) {
        drift_free(n2), drift_free(d2);
        return DRIFT_ENOMEM;
    }
    eval_row_sqnorms(x, n, dim, n2);
    for (int64_t i0 = 0; i0 < n; i0 += br) {
        int64_t m = n - i0 < br ? n - i0 : br;
        eval_sqdist_block(d2, x + (size_t)i0 * dim, n2 + i0, m, x, n2, n, dim);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < m; i++) {
            /* The k smallest distances to other points, kept sorted ascending. */
            float best[PRDC_MAX_K];
            int have = 0;
            const float *row = d2 + (size_t)i * n;
            for (int64_t j = 0; j < n; j++) {
                if (j == i0 + i) continue;
                float v = row[j];
                if (have == k && v >= best[k - 1]) continue;
                int p = have < k ? have++ : k - 1;
                while (p > 0 && best[p - 1] > v) {
                    best[p] = best[p - 1];
                    p--;
                }
                best[p] = v;
            }
            sqradius[i0 + i] = best[k - 1];
        }
    }
    drift_free(n2), drift_free(d2);
    return DRIFT_OK;
}

int drift_prdc_compute(const float *real, int64_t nr, const float *real_sqradii,
                       const float *fake, int64_t nf, int dim, int k, drift_prdc *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "precision/recall: output is NULL");
    memset(out, 0, sizeof *out);
    if (k < 1 || k > PRDC_MAX_K)
        return drift_error(DRIFT_EINVAL, "precision/recall: k must be in [1, %d], got %d",
                           PRDC_MAX_K, k);
    int st = eval_check_set(real, nr, dim, (int64_t)k + 1, "reference set");
    if (st == DRIFT_OK) st = eval_check_set(fake, nf, dim, (int64_t)k + 1, "samples");
    if (st) return drift_error_context(st, "precision/recall with k = %d", k);

    float *rad_r = drift_alloc((size_t)nr, sizeof(float));
    float *rad_f = drift_alloc((size_t)nf, sizeof(float));
    float *rn2 = drift_alloc((size_t)nr, sizeof(float));
    float *fn2 = drift_alloc((size_t)nf, sizeof(float));
    int64_t bf = eval_block_rows(nr), brr = eval_block_rows(nf);
    if (bf > nf) bf = nf;
    if (brr > nr) brr = nr;
    size_t block = (size_t)(bf * nr > brr * nf ? bf * nr : brr * nf);
    float *d2 = drift_alloc(block, sizeof(float));
    if (!rad_r || !rad_f || !rn2 || !fn2 || !d2) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if (real_sqradii) {
        if (!drift_all_finite_f32(real_sqradii, (size_t)nr)) {
            st = drift_error(DRIFT_ENUMERIC, "precision/recall: the given radii hold NaN or Inf");
            goto done;
        }
        memcpy(rad_r, real_sqradii, (size_t)nr * sizeof(float));
    } else if ((st = drift_knn_sqradii(real, nr, dim, k, rad_r))) {
        goto done;
    }
    if ((st = drift_knn_sqradii(fake, nf, dim, k, rad_f))) goto done;
    eval_row_sqnorms(real, nr, dim, rn2);
    eval_row_sqnorms(fake, nf, dim, fn2);

    /* Pass 1: samples as rows. */
    int64_t in_manifold = 0, balls_hit = 0;
    for (int64_t j0 = 0; j0 < nf; j0 += bf) {
        int64_t m = nf - j0 < bf ? nf - j0 : bf;
        eval_sqdist_block(d2, fake + (size_t)j0 * dim, fn2 + j0, m, real, rn2, nr, dim);
#pragma omp parallel for schedule(static) reduction(+ : in_manifold, balls_hit)
        for (int64_t j = 0; j < m; j++) {
            const float *row = d2 + (size_t)j * nr;
            int64_t count = 0;
            for (int64_t i = 0; i < nr; i++) count += row[i] <= rad_r[i];
            in_manifold += count > 0;
            balls_hit += count;
        }
    }
    /* Pass 2: reals as rows. */
    int64_t recalled = 0, covered = 0;
    for (int64_t i0 = 0; i0 < nr; i0 += brr) {
        int64_t m = nr - i0 < brr ? nr - i0 : brr;
        eval_sqdist_block(d2, real + (size_t)i0 * dim, rn2 + i0, m, fake, fn2, nf, dim);
#pragma omp parallel for schedule(static) reduction(+ : recalled, covered)
        for (int64_t i = 0; i < m; i++) {
            const float *row = d2 + (size_t)i * nf;
            int inside = 0;
            float nearest = row[0];
            for (int64_t j = 0; j < nf; j++) {
                inside |= row[j] <= rad_f[j];
                if (row[j] < nearest) nearest = row[j];
            }
            recalled += inside;
            covered += nearest <= rad_r[i0 + i];
        }
    }
    out->precision = (double)in_manifold / (double)nf;
    out->recall = (double)recalled / (double)nr;
    out->density = (double)balls_hit / ((double)k * (double)nf);
    out->coverage = (double)covered / (double)nr;
done:
    drift_free(rad_r), drift_free(rad_f), drift_free(rn2), drift_free(fn2), drift_free(d2);
    return st;
}
