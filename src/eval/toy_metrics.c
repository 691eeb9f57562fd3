/* toy_metrics.c — samples of a 2-D toy distribution against a fresh sample of its target. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/json.h"
#include "drift/rng.h"
#include "eval/eval_internal.h"

int drift_eval_toy(const char *toy, const float *samples, int64_t n, uint64_t seed,
                   drift_toy_metrics *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "toy metrics: output is NULL");
    memset(out, 0, sizeof *out);
    if (!toy) return drift_error(DRIFT_EINVAL, "toy metrics: no toy name");
    const drift_toy *t;
    int st = drift_toy_find(toy, &t);
    if (st) return st;
    if ((st = eval_check_set(samples, n, 2, 2, "toy samples")))
        return drift_error_context(st, "toy metrics for '%s' (samples must be (n, 2))", toy);
    float *target = drift_alloc((size_t)n * 2, sizeof(float));
    if (!target) return DRIFT_ENOMEM;
    drift_rng rng;
    drift_rng_init(&rng, seed, DRIFT_EVAL_TOY_STREAM);
    double h2 = 0;
    if ((st = t->sample(&rng, n, target, NULL)) ||
        (st = drift_median_sqdist(target, n, 2, &h2)))
        goto done;
    if (!(h2 > 0)) {
        st = drift_error(DRIFT_ENUMERIC, "toy metrics: the target sample of '%s' is degenerate",
                         toy);
        goto done;
    }
    if ((st = drift_mmd2_unbiased(target, n, samples, n, 2, h2, &out->mmd2)) ||
        (st = drift_energy_distance(target, n, samples, n, 2, &out->energy)) ||
        (st = drift_sliced_w2(target, n, samples, n, 2, DRIFT_EVAL_TOY_PROJECTIONS, seed,
                              &out->sliced_w2)))
        goto done;
    drift_collapse col;
    if ((st = drift_collapse_check(samples, NULL, n, target, NULL, n, 2, 0, &col))) goto done;
    out->diversity = col.diversity;
    out->dup_frac = col.dup_frac;
    out->n = n;
    out->bandwidth = sqrt(h2);
done:
    drift_free(target);
    return st;
}

int drift_eval_points(const float *ref, int64_t n_ref, const float *samples, int64_t n, int dim, uint64_t seed,
                      drift_toy_metrics *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "point metrics: output is NULL");
    memset(out, 0, sizeof *out);
    int st;
    if ((st = eval_check_set(ref, n_ref, dim, 2, "reference points")) ||
        (st = eval_check_set(samples, n, dim, 2, "samples")))
        return st;
    double h2 = 0;
    if ((st = drift_median_sqdist(ref, n_ref, dim, &h2))) return st;
    if (!(h2 > 0)) return drift_error(DRIFT_ENUMERIC, "point metrics: the reference points are all equal");
    drift_collapse col;
    if ((st = drift_mmd2_unbiased(ref, n_ref, samples, n, dim, h2, &out->mmd2)) ||
        (st = drift_energy_distance(ref, n_ref, samples, n, dim, &out->energy)) ||
        (st = drift_sliced_w2(ref, n_ref, samples, n, dim, DRIFT_EVAL_TOY_PROJECTIONS, seed, &out->sliced_w2)) ||
        (st = drift_collapse_check(samples, NULL, n, ref, NULL, n_ref, dim, 0, &col)))
        return st;
    out->diversity = col.diversity;
    out->dup_frac = col.dup_frac;
    out->n = n;
    out->bandwidth = sqrt(h2);
    return DRIFT_OK;
}

int drift_toy_metrics_write_json(const drift_toy_metrics *m, drift_jsonw *w)
{
    drift_jsonw_key(w, "toy_mmd2"), drift_jsonw_double(w, m->mmd2);
    drift_jsonw_key(w, "toy_bandwidth"), drift_jsonw_double(w, m->bandwidth);
    drift_jsonw_key(w, "toy_energy"), drift_jsonw_double(w, m->energy);
    drift_jsonw_key(w, "toy_sliced_w2"), drift_jsonw_double(w, m->sliced_w2);
    drift_jsonw_key(w, "toy_diversity"), drift_jsonw_double(w, m->diversity);
    drift_jsonw_key(w, "toy_dup_frac"), drift_jsonw_double(w, m->dup_frac);
    drift_jsonw_key(w, "n_samples"), drift_jsonw_int(w, m->n);
    return w->status;
}
