/* field_fast.c — float32 entry point. Placeholder routing through the float64 reference
 * until the blocked GEMM path lands (same contract, same results). */
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "field/field_internal.h"

static double *to_f64(const float *a, int64_t count)
{
    if (!a) return NULL;
    double *o = drift_alloc((size_t)count, sizeof(double));
    if (o)
        for (int64_t i = 0; i < count; i++) o[i] = a[i];
    return o;
}

int drift_field_compute(const drift_field_config *cfg, const drift_field_batch *b, drift_field_result *res)
{
    if (!b || !res || !res->v) return drift_error(DRIFT_EINVAL, "field batch or output is NULL");
    drift_field_batch64 b64 = {.n = b->n, .d = b->d, .p = b->p, .m = b->m, .e = b->e};
    b64.x = to_f64(b->x, b->n * b->d);
    b64.pos = to_f64(b->pos, b->p * b->d);
    b64.pos_w = to_f64(b->pos_w, b->p);
    b64.neg = to_f64(b->neg, b->m * b->d);
    b64.neg_w = to_f64(b->neg_w, b->m);
    b64.extra = to_f64(b->extra, b->e * b->d);
    b64.extra_w = to_f64(b->extra_w, b->e);
    double *v = drift_alloc((size_t)(b->n * b->d), sizeof(double));
    drift_field_result r64 = *res;
    r64.v = v;
    int st = v ? drift_field_compute_f64(cfg, &b64, &r64) : DRIFT_ENOMEM;
    if (st == DRIFT_OK) {
        float *out = res->v;
        for (int64_t k = 0; k < b->n * b->d; k++) out[k] = (float)v[k];
        void *keep = res->v;
        *res = r64;
        res->v = keep;
    }
    drift_free((void *)b64.x); drift_free((void *)b64.pos); drift_free((void *)b64.pos_w);
    drift_free((void *)b64.neg); drift_free((void *)b64.neg_w); drift_free((void *)b64.extra);
    drift_free((void *)b64.extra_w); drift_free(v);
    return st;
}
