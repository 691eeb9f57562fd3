/* classes.c — per-class row lists and sampling without replacement (see drift/data.h).
 *
 * Shuffles here are Fisher-Yates over int64 rows driven by drift_rng_below, so a seed fixes
 * every draw on every machine.
 */
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"

/* Shuffle the first k positions of a[0..n): afterwards a[0..k) is a uniform random ordered
 * k-subset of the original contents. */
static void partial_shuffle(drift_rng *rng, int64_t *a, int64_t n, int64_t k)
{
    for (int64_t i = 0; i < k; i++) {
        int64_t j = i + (int64_t)drift_rng_below(rng, (uint64_t)(n - i));
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int drift_class_index_build(const int32_t *labels, int64_t n, int n_classes, drift_class_index *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "drift_class_index_build: output is NULL");
    memset(out, 0, sizeof *out);
    if (n < 0 || (n > 0 && !labels))
        return drift_error(DRIFT_EINVAL, "drift_class_index_build: no labels");
    if (n_classes < 1)
        return drift_error(DRIFT_EINVAL, "class index needs n_classes >= 1, got %d", n_classes);
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes)
            return drift_error(DRIFT_EINVAL, "label %d at row %lld is outside [0, %d)",
                               (int)labels[i], (long long)i, n_classes);
    out->start = drift_alloc((size_t)n_classes + 1, sizeof(int64_t));
    out->rows = drift_alloc((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    if (!out->start || !out->rows) {
        drift_class_index_free(out);
        return DRIFT_ENOMEM;
    }
    /* counting sort: start[c+1] counts class c, prefix sums give offsets, a second pass
     * places rows in ascending order within each class */
    for (int64_t i = 0; i < n; i++) out->start[labels[i] + 1]++;
    for (int c = 0; c < n_classes; c++) out->start[c + 1] += out->start[c];
    int64_t *next = drift_alloc((size_t)n_classes, sizeof(int64_t));
    if (!next) {
        drift_class_index_free(out);
        return DRIFT_ENOMEM;
    }
    memcpy(next, out->start, sizeof(int64_t) * (size_t)n_classes);
    for (int64_t i = 0; i < n; i++) out->rows[next[labels[i]]++] = i;
    drift_free(next);
    out->n_classes = n_classes;
    out->n = n;
    return DRIFT_OK;
}

void drift_class_index_free(drift_class_index *ci)
{
    if (!ci) return;
    drift_free(ci->start);
    drift_free(ci->rows);
    memset(ci, 0, sizeof *ci);
}

int drift_class_sample(const drift_class_index *ci, int c, int64_t k, drift_rng *rng, int64_t *out)
{
    if (!ci || !rng || (k > 0 && !out))
        return drift_error(DRIFT_EINVAL, "drift_class_sample: NULL argument");
    if (c < 0 || c >= ci->n_classes)
        return drift_error(DRIFT_EINVAL, "class %d is outside [0, %d)", c, ci->n_classes);
    int64_t m = ci->start[c + 1] - ci->start[c];
    if (k < 0 || k > m)
        return drift_error(DRIFT_EINVAL,
                           "cannot draw %lld distinct rows of class %d: it has %lld",
                           (long long)k, c, (long long)m);
    if (k == 0) return DRIFT_OK;
    int64_t *tmp = drift_alloc((size_t)m, sizeof(int64_t));
    if (!tmp) return DRIFT_ENOMEM;
    memcpy(tmp, ci->rows + ci->start[c], sizeof(int64_t) * (size_t)m);
    partial_shuffle(rng, tmp, m, k);
    memcpy(out, tmp, sizeof(int64_t) * (size_t)k);
    drift_free(tmp);
    return DRIFT_OK;
}
