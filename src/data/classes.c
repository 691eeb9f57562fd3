/* classes.c — per-class row lists, sampling without replacement, and the sample queues of
 * the reference recipe (see drift/data.h).
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

/* ---- queues ------------------------------------------------------------------------------ */

void drift_index_queue_free(drift_index_queue *q)
{
    if (!q) return;
    drift_free(q->pool);
    drift_free(q->ring);
    drift_free(q->scratch);
    memset(q, 0, sizeof *q);
}

int drift_index_queue_push(drift_index_queue *q, int64_t k)
{
    if (!q || k < 0) return drift_error(DRIFT_EINVAL, "drift_index_queue_push: bad arguments");
    if (q->pool_n == 0) return DRIFT_OK; /* an empty pool has nothing to push */
    for (int64_t i = 0; i < k; i++) {
        if (q->pool_pos == q->pool_n) { /* pass over the pool done: a new order */
            partial_shuffle(&q->rng, q->pool, q->pool_n, q->pool_n);
            q->pool_pos = 0;
            q->epoch++;
        }
        q->ring[q->head] = q->pool[q->pool_pos++];
        q->head = (q->head + 1) % q->capacity;
        if (q->fill < q->capacity) q->fill++;
    }
    return DRIFT_OK;
}

int drift_index_queue_init(drift_index_queue *q, const int64_t *pool, int64_t pool_n,
                           int64_t capacity, uint64_t seed, uint64_t stream)
{
    if (!q) return drift_error(DRIFT_EINVAL, "drift_index_queue_init: queue is NULL");
    memset(q, 0, sizeof *q);
    if (capacity < 1)
        return drift_error(DRIFT_EINVAL, "queue capacity must be >= 1, got %lld", (long long)capacity);
    if (pool_n < 0 || (pool_n > 0 && !pool))
        return drift_error(DRIFT_EINVAL, "drift_index_queue_init: bad pool");
    q->pool = drift_alloc((size_t)(pool_n > 0 ? pool_n : 1), sizeof(int64_t));
    q->ring = drift_alloc((size_t)capacity, sizeof(int64_t));
    q->scratch = drift_alloc((size_t)capacity, sizeof(int64_t));
    if (!q->pool || !q->ring || !q->scratch) {
        drift_index_queue_free(q);
        return DRIFT_ENOMEM;
    }
    if (pool_n > 0) memcpy(q->pool, pool, sizeof(int64_t) * (size_t)pool_n);
    q->pool_n = pool_n;
    q->capacity = capacity;
    drift_rng_init(&q->rng, seed, stream);
    partial_shuffle(&q->rng, q->pool, pool_n, pool_n);
    return drift_index_queue_push(q, capacity);
}

int drift_index_queue_draw(drift_index_queue *q, int64_t k, drift_rng *rng, int64_t *out)
{
    if (!q || (k > 0 && !out)) return drift_error(DRIFT_EINVAL, "drift_index_queue_draw: NULL argument");
    if (k < 0 || k > q->fill)
        return drift_error(DRIFT_EINVAL, "cannot draw %lld distinct entries from a queue holding %lld%s",
                           (long long)k, (long long)q->fill,
                           q->pool_n == 0 ? " (its pool is empty)" : "");
    memcpy(q->scratch, q->ring, sizeof(int64_t) * (size_t)q->fill);
    partial_shuffle(rng ? rng : &q->rng, q->scratch, q->fill, k);
    memcpy(out, q->scratch, sizeof(int64_t) * (size_t)k);
    return DRIFT_OK;
}

void drift_class_queues_free(drift_class_queues *q)
{
    if (!q) return;
    for (int c = 0; q->cls && c < q->n_classes; c++) drift_index_queue_free(&q->cls[c]);
    drift_free(q->cls);
    drift_index_queue_free(&q->global);
    memset(q, 0, sizeof *q);
}

int drift_class_queues_init(drift_class_queues *q, const drift_class_index *ci, int64_t per_class,
                            int64_t global, uint64_t seed)
{
    if (!q || !ci) return drift_error(DRIFT_EINVAL, "drift_class_queues_init: NULL argument");
    memset(q, 0, sizeof *q);
    q->cls = drift_alloc((size_t)ci->n_classes, sizeof(drift_index_queue));
    if (!q->cls) return DRIFT_ENOMEM;
    q->n_classes = ci->n_classes;
    int st = DRIFT_OK;
    for (int c = 0; c < ci->n_classes && !st; c++)
        st = drift_index_queue_init(&q->cls[c], ci->rows + ci->start[c],
                                    ci->start[c + 1] - ci->start[c], per_class, seed, (uint64_t)c);
    /* the global pool: every row, i.e. ci->rows in any order (it is shuffled anyway) */
    if (!st)
        st = drift_index_queue_init(&q->global, ci->rows, ci->n, global, seed,
                                    (uint64_t)ci->n_classes);
    if (st) drift_class_queues_free(q);
    return st;
}

int drift_class_queues_push(drift_class_queues *q, int64_t per_class_k, int64_t global_k)
{
    if (!q) return drift_error(DRIFT_EINVAL, "drift_class_queues_push: queue is NULL");
    for (int c = 0; c < q->n_classes; c++) {
        int st = drift_index_queue_push(&q->cls[c], per_class_k);
        if (st) return st;
    }
    return drift_index_queue_push(&q->global, global_k);
}

int drift_class_queues_draw(drift_class_queues *q, int c, int64_t k, drift_rng *rng, int64_t *out)
{
    if (!q) return drift_error(DRIFT_EINVAL, "drift_class_queues_draw: queue is NULL");
    if (c == -1) return drift_index_queue_draw(&q->global, k, rng, out);
    if (c < 0 || c >= q->n_classes)
        return drift_error(DRIFT_EINVAL, "class %d is outside [0, %d) (or -1 for the global queue)",
                           c, q->n_classes);
    int st = drift_index_queue_draw(&q->cls[c], k, rng, out);
    if (st) return drift_error_context(st, "class %d", c);
    return DRIFT_OK;
}
