/* conserve.c — is a drift field a gradient? (docs/MATH.md §6 checks 3–4; Franz et al.)
 *
 * Three measurements, all from central differences of the float64 reference engine:
 *   - the curl ∂V_y/∂x − ∂V_x/∂y of a 2-D field on a grid (the heatmap of Franz et al. Fig. 1);
 *   - in any dimension, the relative Jacobian asymmetry ‖J − Jᵀ‖_F / (‖J‖_F + ‖V‖/L) at probes;
 *   - the circulation ∮ V·dl around small circles in random 2-planes, divided by the circle's
 *     area (the mean curl through it) and by the same scale ‖J‖_F + ‖V‖/L.
 * A gradient field has a symmetric Jacobian and zero circulation; with a difference step of
 * 1e-5 of the kernel's length scale the difference error of the asymmetry is ~1e-10 (rounding
 * ~1e-16/1e-5, truncation ~(1e-5)²), far below the 1e-6 threshold, while the non-conservative fields give values of order 1e-2 to 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/sim.h"

#define FIELD_CHUNK 256   /* query rows per reference-engine call */
#define DEFAULT_STEP_REL 1e-5
#define PROBE_CLEARANCE 0.1 /* random probes keep this many L from every point */
#define DEFAULT_LOOP_REL 0.05

static int eval_rows(const drift_field_config *cfg, const drift_sim_clouds *c, const double *x,
                     int64_t n, double *v)
{
    drift_field_batch64 b = {.n = n, .d = c->d, .x = x, .p = c->p, .pos = c->pos, .pos_w = c->pos_w,
                             .m = c->m, .neg = c->neg, .neg_w = c->neg_w};
    drift_field_result r;
    memset(&r, 0, sizeof r);
    r.v = v;
    return drift_field_compute_f64(cfg, &b, &r);
}

int drift_sim_field_at(const drift_field_config *cfg, const drift_sim_clouds *c, const double *x,
                       int64_t n, double *v)
{
    if (!cfg || !c || (n > 0 && (!x || !v)) || n < 0) return drift_error(DRIFT_EINVAL, "field_at: bad arguments");
    if (!c->neg || c->m < 1) return drift_error(DRIFT_EINVAL, "field_at: explicit negatives are required (got none)");
    /* deng couples the queries of a batch: one query per batch (see drift/sim.h) */
    const int64_t chunk = cfg->family == DRIFT_FAMILY_DENG ? 1 : FIELD_CHUNK;
    const int64_t nchunks = (n + chunk - 1) / chunk;
    int status = DRIFT_OK;
    char message[256] = "";
#pragma omp parallel for schedule(dynamic)
    for (int64_t ch = 0; ch < nchunks; ch++) {
        int failed;
#pragma omp atomic read
        failed = status;
        if (failed) continue;
        int64_t i0 = ch * chunk, rows = n - i0 < chunk ? n - i0 : chunk;
        int st = eval_rows(cfg, c, &x[i0 * c->d], rows, &v[i0 * c->d]);
        if (st) {
#pragma omp critical(sim_field_error)
            if (!status) {
                status = st;
                strncpy(message, drift_last_error(), sizeof message - 1);
            }
        }
    }
    if (status) return drift_error(status, "%s", message);
    return DRIFT_OK;
}

double drift_sim_length_scale(const drift_field_config *cfg, const drift_sim_clouds *c)
{
    double tau = cfg->tau[0];
    for (int t = 1; t < cfg->n_tau; t++)
        if (cfg->tau[t] < tau) tau = cfg->tau[t];
    if (!cfg->feature_norm || !c || c->p < 1 || c->m < 1) return tau;
    /* feature normalization measures τ in units of the mean distance: estimate it from up to
     * 64 × 64 positive–negative pairs */
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t j = 0; j < c->p && j < 64; j++)
        for (int64_t l = 0; l < c->m && l < 64; l++) {
            double s = 0;
            for (int64_t k = 0; k < c->d; k++) {
                double t = c->pos[j * c->d + k] - c->neg[l * c->d + k];
                s += t * t;
            }
            sum += sqrt(s);
            cnt++;
        }
    return cnt && sum > 0 ? tau * sum / (double)cnt : tau;
}

/* Distance from x to the nearest positive or negative. */
static double nearest_distance(const drift_sim_clouds *c, const double *x)
{
    double best = INFINITY;
    for (int64_t j = 0; j < c->p + c->m; j++) {
        const double *y = j < c->p ? &c->pos[j * c->d] : &c->neg[(j - c->p) * c->d];
        double s = 0;
        for (int64_t k = 0; k < c->d; k++) s += (x[k] - y[k]) * (x[k] - y[k]);
        if (s < best) best = s;
    }
    return sqrt(best);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const double *a, int64_t n)
{
    if (n < 1) return 0;
    double *t = drift_alloc((size_t)n, sizeof(double));
    if (!t) return NAN;
    memcpy(t, a, (size_t)n * sizeof(double));
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    drift_free(t);
    return m;
}

/* ---- 2-D curl on a grid ------------------------------------------------------------------ */

void drift_curl_grid_free(drift_curl_grid *g)
{
    if (!g) return;
    drift_free(g->v);
    drift_free(g->curl);
    drift_free(g->jnorm);
    g->v = g->curl = g->jnorm = NULL;
}

int drift_curl_grid_compute(const drift_field_config *cfg, const drift_sim_clouds *c, double x0,
                            double x1, double y0, double y1, int nx, int ny, double step,
                            drift_curl_grid *out)
{
    if (!out || !c || !cfg) return drift_error(DRIFT_EINVAL, "curl grid: NULL argument");
    memset(out, 0, sizeof *out);
    if (c->d != 2) return drift_error(DRIFT_EINVAL, "the curl grid needs 2-D points, got dimension %lld", (long long)c->d);
    if (nx < 2 || ny < 2) return drift_error(DRIFT_EINVAL, "curl grid needs at least 2 x 2 points, got %d x %d", nx, ny);
    if (!(x1 > x0) || !(y1 > y0) || !isfinite(x0) || !isfinite(x1) || !isfinite(y0) || !isfinite(y1))
        return drift_error(DRIFT_EINVAL, "curl grid range [%g, %g] x [%g, %g] is empty or not finite", x0, x1, y0, y1);
    int st = drift_field_config_check(cfg);
    if (st) return st;
    const double L = drift_sim_length_scale(cfg, c);
    if (step <= 0) step = DEFAULT_STEP_REL * L;

    const int64_t g = (int64_t)nx * ny;
    double *q = drift_alloc((size_t)(5 * g * 2), sizeof(double));
    double *vq = drift_alloc((size_t)(5 * g * 2), sizeof(double));
    out->v = drift_alloc((size_t)(g * 2), sizeof(double));
    out->curl = drift_alloc((size_t)g, sizeof(double));
    out->jnorm = drift_alloc((size_t)g, sizeof(double));
    if (!q || !vq || !out->v || !out->curl || !out->jnorm) {
        st = drift_error(DRIFT_ENOMEM, "out of memory for a %d x %d curl grid", nx, ny);
        goto done;
    }
    out->nx = nx; out->ny = ny; out->x0 = x0; out->x1 = x1; out->y0 = y0; out->y1 = y1;
    /* queries per grid point: the point, then ±step along x, then ±step along y */
    static const double off[5][2] = {{0, 0}, {1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    for (int iy = 0; iy < ny; iy++)
        for (int ix = 0; ix < nx; ix++) {
            int64_t k = (int64_t)iy * nx + ix;
            double px = x0 + (x1 - x0) * ix / (nx - 1), py = y0 + (y1 - y0) * iy / (ny - 1);
            for (int o = 0; o < 5; o++) {
                q[(k * 5 + o) * 2 + 0] = px + step * off[o][0];
                q[(k * 5 + o) * 2 + 1] = py + step * off[o][1];
            }
        }
    if ((st = drift_sim_field_at(cfg, c, q, 5 * g, vq))) goto done;
    for (int64_t k = 0; k < g; k++) {
        const double *vk = &vq[k * 10];
        double dxvx = (vk[2] - vk[4]) / (2 * step), dxvy = (vk[3] - vk[5]) / (2 * step);
        double dyvx = (vk[6] - vk[8]) / (2 * step), dyvy = (vk[7] - vk[9]) / (2 * step);
        out->v[k * 2] = vk[0];
        out->v[k * 2 + 1] = vk[1];
        out->curl[k] = dxvy - dyvx;
        out->jnorm[k] = sqrt(dxvx * dxvx + dxvy * dxvy + dyvx * dyvx + dyvy * dyvy);
        /* the maximum skips grid points next to a cloud point, where a cusp (laplace) makes
         * the difference quotients measure the cusp rather than the curl */
        if (fabs(out->curl[k]) > out->max_abs_curl && nearest_distance(c, &q[k * 10]) >= PROBE_CLEARANCE * L)
            out->max_abs_curl = fabs(out->curl[k]);
    }
    out->median_jnorm = median_of(out->jnorm, g);
    out->max_rel_curl = out->median_jnorm > 0 ? out->max_abs_curl / out->median_jnorm : 0.0;
done:
    drift_free(q);
    drift_free(vq);
    if (st) drift_curl_grid_free(out);
    return st;
}

/* ---- Jacobian asymmetry and circulation in any dimension -------------------------------------- */

void drift_asym_options_init(drift_asym_options *o)
{
    memset(o, 0, sizeof *o);
    o->n_probes = 64;
    o->seed = 0;
}

/* Two orthonormal random directions u, w in R^d (Gram–Schmidt on gaussian vectors). */
static void random_plane(drift_rng *r, int64_t d, double *u, double *w)
{
    double nu = 0, nw = 0, dot = 0;
    do {
        nu = 0;
        for (int64_t k = 0; k < d; k++) { u[k] = drift_rng_normal(r); nu += u[k] * u[k]; }
    } while (nu < 1e-12);
    nu = sqrt(nu);
    for (int64_t k = 0; k < d; k++) u[k] /= nu;
    do {
        for (int64_t k = 0; k < d; k++) w[k] = drift_rng_normal(r);
        dot = 0;
        for (int64_t k = 0; k < d; k++) dot += w[k] * u[k];
        nw = 0;
        for (int64_t k = 0; k < d; k++) { w[k] -= dot * u[k]; nw += w[k] * w[k]; }
    } while (nw < 1e-12);
    nw = sqrt(nw);
    for (int64_t k = 0; k < d; k++) w[k] /= nw;
}

int drift_sim_asymmetry(const drift_field_config *cfg, const drift_sim_clouds *c,
                        const drift_asym_options *o, drift_asym_stats *stats, double *asym,
                        double *circ)
{
    if (!cfg || !c || !o || !stats) return drift_error(DRIFT_EINVAL, "asymmetry: NULL argument");
    memset(stats, 0, sizeof *stats);
    int st = drift_field_config_check(cfg);
    if (st) return st;
    const int64_t d = c->d, np = o->n_probes;
    if (d < 1 || c->p < 1 || c->m < 1 || !c->pos || !c->neg)
        return drift_error(DRIFT_EINVAL, "asymmetry needs positives and negatives (got %lld and %lld rows, d = %lld)",
                           (long long)c->p, (long long)c->m, (long long)d);
    if (np < 1) return drift_error(DRIFT_EINVAL, "asymmetry needs at least one probe point, got %lld", (long long)np);
    if (o->step < 0 || o->loop_radius < 0 || o->loop_points < 0 || (o->loop_points > 0 && o->loop_points < 8))
        return drift_error(DRIFT_EINVAL, "asymmetry: steps and radii must be >= 0, loops need >= 8 points");
    const double L = drift_sim_length_scale(cfg, c);
    const double step = o->step > 0 ? o->step : DEFAULT_STEP_REL * L;
    const double rho = o->loop_radius > 0 ? o->loop_radius : DEFAULT_LOOP_REL * L;
    const int K = d >= 2 ? (o->loop_points ? o->loop_points : 64) : 0;
    const int64_t per = 2 * d + K; /* queries per probe */

    double *probes = drift_alloc((size_t)(np * d), sizeof(double));
    double *planes = drift_alloc((size_t)(np * 2 * d), sizeof(double));
    double *q = drift_alloc((size_t)(np * per * d), sizeof(double));
    double *vq = drift_alloc((size_t)(np * per * d), sizeof(double));
    double *as = drift_alloc((size_t)np, sizeof(double)), *ci = drift_alloc((size_t)np, sizeof(double));
    double *jn = drift_alloc((size_t)np, sizeof(double)), *J = drift_alloc((size_t)(d * d), sizeof(double));
    if (!probes || !planes || !q || !vq || !as || !ci || !jn || !J) {
        st = drift_error(DRIFT_ENOMEM, "out of memory for %lld probes in %lld dimensions", (long long)np, (long long)d);
        goto done;
    }
    drift_rng rp, rl;
    drift_rng_init(&rp, o->seed, 0);
    drift_rng_init(&rl, o->seed, 1);
    for (int64_t i = 0; i < np; i++) {
        double *x = &probes[i * d];
        if (o->probes) {
            memcpy(x, &o->probes[i * d], (size_t)d * sizeof(double));
        } else {
            /* near the data: a random point of either cloud, jittered by L; redrawn while it
             * falls within 0.1 L of a point, where kernels with a cusp at r = 0 (laplace) make
             * difference quotients and loop integrals inaccurate */
            for (int tries = 0; tries < 100; tries++) {
                int64_t j = (int64_t)drift_rng_below(&rp, (uint64_t)(c->p + c->m));
                const double *y = j < c->p ? &c->pos[j * d] : &c->neg[(j - c->p) * d];
                for (int64_t k = 0; k < d; k++) x[k] = y[k] + L * drift_rng_normal(&rp);
                if (nearest_distance(c, x) >= PROBE_CLEARANCE * L) break;
            }
        }
        if (!drift_all_finite_f64(x, (size_t)d)) {
            st = drift_error(DRIFT_ENUMERIC, "probe %lld is not finite", (long long)i);
            goto done;
        }
        double *u = &planes[i * 2 * d], *w = u + d;
        if (K) random_plane(&rl, d, u, w);
        double *qi = &q[i * per * d];
        for (int64_t k = 0; k < d; k++) { /* x + step e_k, x − step e_k */
            memcpy(&qi[(2 * k) * d], x, (size_t)d * sizeof(double));
            memcpy(&qi[(2 * k + 1) * d], x, (size_t)d * sizeof(double));
            qi[(2 * k) * d + k] += step;
            qi[(2 * k + 1) * d + k] -= step;
        }
        for (int t = 0; t < K; t++) {
            double th = 2.0 * M_PI * t / K, cs = cos(th), sn = sin(th);
            double *pt = &qi[(2 * d + t) * d];
            for (int64_t k = 0; k < d; k++) pt[k] = x[k] + rho * (cs * u[k] + sn * w[k]);
        }
    }
    if ((st = drift_sim_field_at(cfg, c, q, np * per, vq))) goto done;

    for (int64_t i = 0; i < np; i++) {
        const double *vi = &vq[i * per * d];
        /* J[a][b] = ∂V_a/∂x_b */
        for (int64_t b = 0; b < d; b++)
            for (int64_t a = 0; a < d; a++)
                J[a * d + b] = (vi[(2 * b) * d + a] - vi[(2 * b + 1) * d + a]) / (2 * step);
        double fro = 0, skew = 0;
        for (int64_t a = 0; a < d; a++)
            for (int64_t b = 0; b < d; b++) {
                fro += J[a * d + b] * J[a * d + b];
                double s = J[a * d + b] - J[b * d + a];
                skew += s * s;
            }
        fro = sqrt(fro);
        jn[i] = fro;
        /* The scale the asymmetry is measured against: ‖J‖_F plus ‖V(x)‖ / L. ‖J‖_F alone
         * fails where the two sides' Jacobians cancel (one positive and one negative point
         * dominating a gaussian field: V ≈ (y⁺ − y⁻)/τ², J ≈ 0 up to rounding), and the
         * ratio would then report rounding noise as asymmetry of order 1. V(x) is the mean of
         * the 2d stencil values (exact up to O(step²)). */
        double vnorm = 0;
        for (int64_t a = 0; a < d; a++) {
            double va = 0;
            for (int64_t b = 0; b < 2 * d; b++) va += vi[b * d + a];
            va /= (double)(2 * d);
            vnorm += va * va;
        }
        const double scale = fro + sqrt(vnorm) / L;
        as[i] = scale > 0 ? sqrt(skew) / scale : 0.0;
        double circulation = 0;
        const double *u = &planes[i * 2 * d], *w = u + d;
        for (int t = 0; t < K; t++) { /* trapezoid rule: V · tangent · ρ dθ */
            double th = 2.0 * M_PI * t / K, cs = cos(th), sn = sin(th), dot = 0;
            const double *vt = &vi[(2 * d + t) * d];
            for (int64_t k = 0; k < d; k++) dot += vt[k] * (-sn * u[k] + cs * w[k]);
            circulation += dot * rho * (2.0 * M_PI / K);
        }
        ci[i] = K && scale > 0 ? fabs(circulation) / (M_PI * rho * rho * scale) : 0.0;
    }
    stats->n_probes = (int)np;
    stats->length_scale = L;
    stats->asym_median = median_of(as, np);
    stats->circ_median = median_of(ci, np);
    stats->jnorm_median = median_of(jn, np);
    for (int64_t i = 0; i < np; i++) {
        if (as[i] > stats->asym_max) stats->asym_max = as[i];
        if (ci[i] > stats->circ_max) stats->circ_max = ci[i];
    }
    if (asym) memcpy(asym, as, (size_t)np * sizeof(double));
    if (circ) memcpy(circ, ci, (size_t)np * sizeof(double));
done:
    drift_free(probes); drift_free(planes); drift_free(q); drift_free(vq);
    drift_free(as); drift_free(ci); drift_free(jn); drift_free(J);
    return st;
}
