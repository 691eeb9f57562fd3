/* collapse.c — the collapse checks of training (diversity, near-duplicates) for any samples.
 *
 * Training logs, per class group, how spread out the generated samples are next to the data
 * and how many are near-copies of one another (src/train/loss.c). The same two figures here
 * work on a whole sample file, so samples from anywhere (another framework's .npy too) get
 * the check: a generator that draws one image per class can have a fine FID per class mean,
 * but not a diversity near 1. Distances are Euclidean in the samples' own space (pixels). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/eval.h"
#include "eval/eval_internal.h"

/* Mean distance over the pairs i < j of m evenly spaced rows (at most DRIFT_COLLAPSE_ROWS)
 * of the n rows listed in idx (NULL: rows 0..n-1) of x. 0 when fewer than 2 rows. */
static int mean_pair_distance(const float *x, const int64_t *idx, int64_t n, int dim, double *out)
{
    *out = 0;
    int64_t m = n < DRIFT_COLLAPSE_ROWS ? n : DRIFT_COLLAPSE_ROWS;
    if (m < 2) return DRIFT_OK;
    float *sub = drift_alloc((size_t)m * dim, sizeof(float));
    float *n2 = drift_alloc((size_t)m, sizeof(float));
    float *d2 = drift_alloc((size_t)m * m, sizeof(float));
    if (!sub || !n2 || !d2) {
        drift_free(sub), drift_free(n2), drift_free(d2);
        return DRIFT_ENOMEM;
    }
    for (int64_t i = 0; i < m; i++) {
        int64_t r = i * n / m;
        memcpy(sub + (size_t)i * dim, x + (size_t)(idx ? idx[r] : r) * dim, (size_t)dim * sizeof(float));
    }
    eval_row_sqnorms(sub, m, dim, n2);
    eval_sqdist_block(d2, sub, n2, m, sub, n2, m, dim);
    double s = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) s += sqrt((double)d2[(size_t)i * m + j]);
    *out = s / ((double)m * (m - 1) / 2);
    drift_free(sub), drift_free(n2), drift_free(d2);
    return DRIFT_OK;
}

/* Rows of x whose label is c, into idx; returns their count. */
static int64_t rows_of_class(const int32_t *labels, int64_t n, int c, int64_t *idx)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] == c) idx[k++] = i;
    return k;
}

/* nn[i] = squared distance from row q_i to its nearest other row of x (n, dim), for m ≤ n
 * evenly spaced query rows q_i = i·n/m, in row blocks (GEMM-shaped for large dim). */
static int nearest_sqdist(const float *x, int64_t n, int64_t m, int dim, float *nn)
{
    int64_t br = eval_block_rows(n);
    if (br > m) br = m;
    float *n2 = drift_alloc((size_t)n, sizeof(float));
    float *d2 = drift_alloc((size_t)br * n, sizeof(float));
    float *q = drift_alloc((size_t)br * dim, sizeof(float));
    float *qn2 = drift_alloc((size_t)br, sizeof(float));
    int64_t *qi = drift_alloc((size_t)br, sizeof(int64_t));
    if (!n2 || !d2 || !q || !qn2 || !qi) {
        drift_free(n2), drift_free(d2), drift_free(q), drift_free(qn2), drift_free(qi);
        return DRIFT_ENOMEM;
    }
    eval_row_sqnorms(x, n, dim, n2);
    for (int64_t i0 = 0; i0 < m; i0 += br) {
        int64_t b = m - i0 < br ? m - i0 : br;
        for (int64_t i = 0; i < b; i++) {
            qi[i] = (i0 + i) * n / m;
            memcpy(q + (size_t)i * dim, x + (size_t)qi[i] * dim, (size_t)dim * sizeof(float));
            qn2[i] = n2[qi[i]];
        }
        eval_sqdist_block(d2, q, qn2, b, x, n2, n, dim);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < b; i++) {
            const float *row = d2 + (size_t)i * n;
            float best = INFINITY;
            for (int64_t j = 0; j < n; j++)
                if (j != qi[i] && row[j] < best) best = row[j];
            nn[i0 + i] = best;
        }
    }
    drift_free(n2), drift_free(d2), drift_free(q), drift_free(qn2), drift_free(qi);
    return DRIFT_OK;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (reorders v); the lower middle value for even n. */
static float median_of(float *v, int64_t n)
{
    qsort(v, (size_t)n, sizeof(float), cmp_float);
    return v[(n - 1) / 2];
}

int drift_collapse_check(const float *samples, const int32_t *labels, int64_t n, const float *ref,
                         const int32_t *ref_labels, int64_t n_ref, int dim, int n_classes,
                         drift_collapse *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "collapse check: output is NULL");
    memset(out, 0, sizeof *out);
    int st = eval_check_set(samples, n, dim, 2, "samples");
    if (st == DRIFT_OK) st = eval_check_set(ref, n_ref, dim, 2, "reference set");
    if (st) return drift_error_context(st, "collapse check");
    const int by_class = labels && ref_labels && n_classes > 0;
    if (by_class)
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= n_classes)
                return drift_error(DRIFT_EINVAL, "collapse check: label %d of sample %lld is "
                                                 "outside [0, %d)", labels[i], (long long)i, n_classes);

    /* Both figures are ratios of distances: unchanged when both sets are scaled by one
     * factor. Sets far from unit size are measured scaled by a power of two (exact), so that
     * squared distances stay inside float range. */
    float amax = 0;
    for (size_t i = 0; i < (size_t)n * dim; i++) amax = fmaxf(amax, fabsf(samples[i]));
    for (size_t i = 0; i < (size_t)n_ref * dim; i++) amax = fmaxf(amax, fabsf(ref[i]));
    int ex = 0;
    if (amax > 0) frexpf(amax, &ex);
    if (ex > 20 || ex < -20) {
        float *xs = drift_alloc((size_t)n * dim, sizeof(float));
        float *rs = drift_alloc((size_t)n_ref * dim, sizeof(float));
        if (xs && rs) {
            for (size_t i = 0; i < (size_t)n * dim; i++) xs[i] = ldexpf(samples[i], -ex);
            for (size_t i = 0; i < (size_t)n_ref * dim; i++) rs[i] = ldexpf(ref[i], -ex);
            st = drift_collapse_check(xs, labels, n, rs, ref_labels, n_ref, dim, n_classes, out);
            if (st == DRIFT_OK) {
                out->ref_spread = ldexp(out->ref_spread, ex);
                out->close = ldexp(out->close, ex);
            }
        } else {
            st = DRIFT_ENOMEM;
        }
        drift_free(xs), drift_free(rs);
        return st;
    }

    eval_collapse_ref r;
    if ((st = eval_collapse_ref_init(&r, ref, ref_labels, n_ref, dim, by_class ? n_classes : 0)))
        return st;
    st = eval_collapse_score(&r, samples, by_class ? labels : NULL, n, dim, out);
    eval_collapse_ref_free(&r);
    return st;
}

int eval_collapse_ref_init(eval_collapse_ref *r, const float *ref, const int32_t *ref_labels,
                           int64_t n_ref, int dim, int n_classes)
{
    memset(r, 0, sizeof *r);
    int st = mean_pair_distance(ref, NULL, n_ref, dim, &r->spread);
    if (st) return st;
    if (!(r->spread > 0))
        return drift_error(DRIFT_ENUMERIC, "collapse check: the reference rows are all equal");
    if (ref_labels && n_classes > 0) {
        r->n_classes = n_classes;
        r->class_spread = drift_alloc((size_t)n_classes, sizeof(double));
        int64_t *idx = drift_alloc((size_t)n_ref, sizeof(int64_t));
        if (!r->class_spread || !idx) {
            drift_free(idx);
            eval_collapse_ref_free(r);
            return DRIFT_ENOMEM;
        }
        for (int c = 0; c < n_classes && !st; c++) {
            int64_t k = rows_of_class(ref_labels, n_ref, c, idx);
            r->class_spread[c] = 0; /* fewer than 2 rows: the class is not compared */
            if (k >= 2) st = mean_pair_distance(ref, idx, k, dim, &r->class_spread[c]);
        }
        drift_free(idx);
        if (st) {
            eval_collapse_ref_free(r);
            return st;
        }
    }
    /* Near-copies: much closer than real rows are to their nearest neighbours. */
    const int64_t mr = n_ref < DRIFT_COLLAPSE_DUP_ROWS ? n_ref : DRIFT_COLLAPSE_DUP_ROWS;
    float *nn = drift_alloc((size_t)mr, sizeof(float));
    if (!nn || (st = nearest_sqdist(ref, n_ref, mr, dim, nn))) {
        drift_free(nn);
        eval_collapse_ref_free(r);
        return nn ? st : DRIFT_ENOMEM;
    }
    r->close = DRIFT_COLLAPSE_CLOSE * sqrt((double)median_of(nn, mr));
    if (!(r->close > 0)) r->close = 0.01 * r->spread; /* a reference full of copies itself */
    drift_free(nn);
    return DRIFT_OK;
}

void eval_collapse_ref_free(eval_collapse_ref *r)
{
    drift_free(r->class_spread);
    r->class_spread = NULL;
}

int eval_collapse_score(const eval_collapse_ref *r, const float *samples, const int32_t *labels,
                        int64_t n, int dim, drift_collapse *out)
{
    memset(out, 0, sizeof *out);
    int st = DRIFT_OK;
    /* Diversity: per class (mean over the classes both sets have two rows of), else global. */
    if (labels && r->class_spread) {
        int64_t *idx = drift_alloc((size_t)n, sizeof(int64_t));
        if (!idx) return DRIFT_ENOMEM;
        double sum = 0;
        int groups = 0;
        for (int c = 0; c < r->n_classes && !st; c++) {
            double gs = 0;
            int64_t ks = rows_of_class(labels, n, c, idx);
            if (ks < 2 || !(r->class_spread[c] > 0)) continue;
            if ((st = mean_pair_distance(samples, idx, ks, dim, &gs))) break;
            sum += gs / r->class_spread[c], groups++;
        }
        drift_free(idx);
        if (st) return st;
        out->diversity = groups ? sum / groups : 0;
        out->groups = groups;
    } else {
        double gs = 0;
        if ((st = mean_pair_distance(samples, NULL, n, dim, &gs))) return st;
        out->diversity = gs / r->spread;
        out->groups = 1;
    }
    const int64_t ms = n < DRIFT_COLLAPSE_DUP_ROWS ? n : DRIFT_COLLAPSE_DUP_ROWS;
    float *nn = drift_alloc((size_t)ms, sizeof(float));
    if (!nn) return DRIFT_ENOMEM;
    if ((st = nearest_sqdist(samples, n, ms, dim, nn))) {
        drift_free(nn);
        return st;
    }
    int64_t dups = 0;
    for (int64_t i = 0; i < ms; i++) dups += (double)nn[i] < r->close * r->close;
    drift_free(nn);
    out->close = r->close;
    out->dup_frac = (double)dups / (double)ms;
    out->ref_spread = r->spread;
    return DRIFT_OK;
}
