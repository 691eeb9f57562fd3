/* check.c — validation of field batches, shared by both paths. */
#include <math.h>

#include "drift/core.h"
#include "drift/error.h"
#include "field/field_internal.h"

int field_check_batch_shape(const drift_field_config *cfg, int64_t n, int64_t d, int64_t p,
                            int64_t m, int64_t e, int has_x, int has_pos, int has_neg, int has_extra,
                            const drift_field_result *res)
{
    int st = drift_field_config_check(cfg);
    if (st) return st;
    if (!res || !res->v) return drift_error(DRIFT_EINVAL, "no output buffer for the field");
    if (n < 1 || d < 1) return drift_error(DRIFT_ESHAPE, "queries must have at least one row and one column (got %lld x %lld)", (long long)n, (long long)d);
    if (p < 1) return drift_error(DRIFT_ESHAPE, "need at least one positive sample (got %lld)", (long long)p);
    if (!has_x || !has_pos) return drift_error(DRIFT_EINVAL, "queries or positives are NULL");
    if (has_neg && m < 1) return drift_error(DRIFT_ESHAPE, "negatives given with %lld rows", (long long)m);
    if (e < 0 || (e > 0 && !has_extra)) return drift_error(DRIFT_EINVAL, "extra negatives: count %lld but no data", (long long)e);
    if (n > (int64_t)1 << 31 || p > (int64_t)1 << 31 || m > (int64_t)1 << 31 || e > (int64_t)1 << 31 || d > (int64_t)1 << 31)
        return drift_error(DRIFT_ESHAPE, "batch too large");
    if (res->potential && !drift_family_is_conservative(cfg->family))
        return drift_error(DRIFT_EINVAL, "the %s field has no potential (only sharp, kdegrad and mmd are conservative)",
                           drift_family_name(cfg->family));
    return DRIFT_OK;
}

#define DEFINE_CHECKS(suffix, type)                                                            \
    int field_check_values_##suffix(const char *what, const type *a, int64_t count)            \
    {                                                                                          \
        if (drift_all_finite_##suffix(a, (size_t)count)) return DRIFT_OK; /* the fast scan */  \
        for (int64_t i = 0; i < count; i++) /* then where, for the message */                  \
            if (!isfinite(a[i]))                                                               \
                return drift_error(DRIFT_ENUMERIC, "%s contains %s at element %lld", what,     \
                                   isnan(a[i]) ? "NaN" : "Inf", (long long)i);                 \
        return DRIFT_OK;                                                                       \
    }                                                                                          \
    int field_check_weights_##suffix(const char *what, const type *w, int64_t count, int need_pos) \
    {                                                                                          \
        if (!w) return DRIFT_OK;                                                               \
        double sum = 0;                                                                        \
        for (int64_t i = 0; i < count; i++) {                                                  \
            if (!isfinite(w[i]) || w[i] < 0)                                                   \
                return drift_error(DRIFT_EINVAL, "%s must be finite and >= 0 (element %lld is %g)", \
                                   what, (long long)i, (double)w[i]);                          \
            sum += w[i];                                                                       \
        }                                                                                      \
        if (need_pos && !(sum > 0)) return drift_error(DRIFT_EINVAL, "%s sum to zero", what);  \
        return DRIFT_OK;                                                                       \
    }

DEFINE_CHECKS(f32, float)
DEFINE_CHECKS(f64, double)
