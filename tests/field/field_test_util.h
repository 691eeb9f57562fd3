/* field_test_util.h — helpers shared by the field tests: random batches and float64 calls. */
#ifndef FIELD_TEST_UTIL_H
#define FIELD_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/field.h"
#include "drift/rng.h"

static void fill_normal64(drift_rng *r, double *a, int64_t count, double scale, double shift)
{
    for (int64_t i = 0; i < count; i++) a[i] = shift + scale * drift_rng_normal(r);
}

static drift_field_config make_cfg(drift_family f, drift_kernel k, double tau)
{
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = f;
    c.kernel = k;
    c.tau[0] = tau;
    c.rq_alpha = 2.0;
    return c;
}

/* V (and optionally Φ) with explicit negatives (neg may be NULL for self-masking). */
static int field64(const drift_field_config *c, int64_t n, int64_t d, const double *x, int64_t p,
                   const double *pos, const double *pw, int64_t m, const double *neg, const double *nw,
                   double *v, double *phi)
{
    drift_field_batch64 b = {.n = n, .d = d, .x = x, .p = p, .pos = pos, .pos_w = pw,
                             .m = m, .neg = neg, .neg_w = nw};
    drift_field_result r;
    memset(&r, 0, sizeof r);
    r.v = v;
    r.potential = phi;
    return drift_field_compute_f64(c, &b, &r);
}

static double max_abs(const double *a, int64_t count)
{
    double m = 0;
    for (int64_t i = 0; i < count; i++)
        if (fabs(a[i]) > m) m = fabs(a[i]);
    return m;
}

#endif
