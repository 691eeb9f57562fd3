/* gmm.c — gaussian mixtures with diagonal covariances: sampling, and the exact density and
 * score of the mixture smoothed by a gaussian kernel (docs/MATH.md §5).
 *
 * Smoothing a component N(μ, diag σ²) by K_h = N(0, h² I) gives N(μ, diag(σ² + h²)), so the
 * smoothed mixture is again a mixture and everything below is closed form. All sums over
 * components are taken in log space with the largest term subtracted, so a point far from
 * every component still gets a finite score (that of its most responsible component). */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/sim.h"

int drift_gmm_init(drift_gmm *g, int k, int64_t d)
{
    if (!g) return drift_error(DRIFT_EINVAL, "gmm is NULL");
    memset(g, 0, sizeof *g);
    if (k < 1 || d < 1) return drift_error(DRIFT_EINVAL, "a mixture needs k >= 1 and d >= 1 (got k=%d, d=%lld)", k, (long long)d);
    g->k = k;
    g->d = d;
    g->weight = drift_alloc((size_t)k, sizeof(double));
    g->mean = drift_alloc((size_t)k * (size_t)d, sizeof(double));
    g->var = drift_alloc((size_t)k * (size_t)d, sizeof(double));
    if (!g->weight || !g->mean || !g->var) {
        drift_gmm_free(g);
        return drift_error(DRIFT_ENOMEM, "out of memory for a %d-component mixture in %lld dimensions", k, (long long)d);
    }
    for (int j = 0; j < k; j++) g->weight[j] = 1.0 / k;
    for (int64_t t = 0; t < (int64_t)k * d; t++) g->var[t] = 1.0;
    return DRIFT_OK;
}

void drift_gmm_free(drift_gmm *g)
{
    if (!g) return;
    drift_free(g->weight);
    drift_free(g->mean);
    drift_free(g->var);
    g->weight = g->mean = g->var = NULL;
    g->k = 0;
}

int drift_gmm_check(const drift_gmm *g)
{
    if (!g || g->k < 1 || g->d < 1 || !g->weight || !g->mean || !g->var)
        return drift_error(DRIFT_EINVAL, "gaussian mixture is empty or not initialized");
    double sum = 0;
    for (int j = 0; j < g->k; j++) {
        if (!(g->weight[j] >= 0) || !isfinite(g->weight[j]))
            return drift_error(DRIFT_EINVAL, "mixture weight %d is %g (must be finite and >= 0)", j, g->weight[j]);
        sum += g->weight[j];
        for (int64_t t = 0; t < g->d; t++) {
            if (!isfinite(g->mean[j * g->d + t]))
                return drift_error(DRIFT_EINVAL, "mixture mean %d is not finite", j);
            double v = g->var[j * g->d + t];
            if (!(v > 0) || !isfinite(v))
                return drift_error(DRIFT_EINVAL, "mixture variance %d is %g (must be finite and > 0)", j, v);
        }
    }
    if (fabs(sum - 1.0) > 1e-9) return drift_error(DRIFT_EINVAL, "mixture weights sum to %.12g, not 1", sum);
    return DRIFT_OK;
}

int drift_gmm_sample(const drift_gmm *g, drift_rng *rng, int64_t n, float *out)
{
    int st = drift_gmm_check(g);
    if (st) return st;
    if (!rng || (n > 0 && !out) || n < 0) return drift_error(DRIFT_EINVAL, "gmm sample: bad arguments (n=%lld)", (long long)n);
    const int64_t d = g->d;
    for (int64_t i = 0; i < n; i++) {
        int j = 0;
        if (g->k > 1) {
            double u = drift_rng_uniform(rng), acc = 0.0;
            for (j = 0; j < g->k - 1; j++) {
                acc += g->weight[j];
                if (u < acc) break;
            }
        }
        for (int64_t t = 0; t < d; t++)
            out[i * d + t] = (float)(g->mean[j * d + t] + sqrt(g->var[j * d + t]) * drift_rng_normal(rng));
    }
    return DRIFT_OK;
}

/* log π_j + log N(x; μ_j, diag(σ_j² + h²)) for every component j, into lc[0..k). */
static void component_logs(const drift_gmm *g, double h2, const double *x, double *lc)
{
    const int64_t d = g->d;
    for (int j = 0; j < g->k; j++) {
        double s = g->weight[j] > 0 ? log(g->weight[j]) : -INFINITY;
        for (int64_t t = 0; t < d; t++) {
            double var = g->var[j * d + t] + h2, diff = x[t] - g->mean[j * d + t];
            s -= 0.5 * (diff * diff / var + log(2.0 * M_PI * var));
        }
        lc[j] = s;
    }
}

static double max_of(const double *a, int k)
{
    double m = -INFINITY;
    for (int j = 0; j < k; j++)
        if (a[j] > m) m = a[j];
    return m;
}

static int check_query(const drift_gmm *g, double h, const double *x, int64_t n, const double *out)
{
    int st = drift_gmm_check(g);
    if (st) return st;
    if (!(h >= 0) || !isfinite(h)) return drift_error(DRIFT_EINVAL, "smoothing bandwidth h must be finite and >= 0, got %g", h);
    if (n < 0 || (n > 0 && (!x || !out))) return drift_error(DRIFT_EINVAL, "gmm: bad query arguments (n=%lld)", (long long)n);
    return DRIFT_OK;
}

int drift_gmm_log_density(const drift_gmm *g, double h, const double *x, int64_t n, double *out)
{
    int st = check_query(g, h, x, n, out);
    if (st) return st;
    double *lc = drift_alloc((size_t)g->k, sizeof(double));
    if (!lc) return DRIFT_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        component_logs(g, h * h, &x[i * g->d], lc);
        double mx = max_of(lc, g->k), s = 0;
        for (int j = 0; j < g->k; j++) s += exp(lc[j] - mx);
        out[i] = mx + log(s);
    }
    drift_free(lc);
    return DRIFT_OK;
}

int drift_gmm_score(const drift_gmm *g, double h, const double *x, int64_t n, double *out)
{
    int st = check_query(g, h, x, n, out);
    if (st) return st;
    const int64_t d = g->d;
    const double h2 = h * h;
    double *lc = drift_alloc((size_t)g->k, sizeof(double));
    if (!lc) return DRIFT_ENOMEM;
    for (int64_t i = 0; i < n; i++) {
        const double *xi = &x[i * d];
        double *si = &out[i * d];
        component_logs(g, h2, xi, lc);
        double mx = max_of(lc, g->k), z = 0;
        for (int j = 0; j < g->k; j++) z += exp(lc[j] - mx);
        memset(si, 0, (size_t)d * sizeof *si);
        for (int j = 0; j < g->k; j++) {
            double r = exp(lc[j] - mx) / z; /* responsibility of component j */
            if (r == 0) continue;
            for (int64_t t = 0; t < d; t++)
                si[t] += r * (g->mean[j * d + t] - xi[t]) / (g->var[j * d + t] + h2);
        }
    }
    drift_free(lc);
    return DRIFT_OK;
}
