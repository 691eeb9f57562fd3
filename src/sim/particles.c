/* particles.c — finite-particle drifting without a network (docs/MATH.md §5; Balasubramanian).
 *
 * N particles move by explicit Euler steps x ← x + η v(x), where v is a drift field of any
 * family with the target on the positive side and the particles themselves on the negative
 * side. With the particle's own kernel term included (the default, as in the analysis:
 * q_N = (1/N) Σ_j δ_{x_j}, j = i included) the negatives are all particles, unmasked; with it
 * excluded they are the engine's self-masked batch.
 *
 * For the KDE-gradient velocity (kdegrad family, gaussian kernel) toward a gaussian mixture
 * the data side ∇ log (p * K_h) is evaluated exactly (drift_gmm_score), so the only error
 * left is the particles' own: this is the setting of the N^(−1/(d+4)) rate. Other families
 * and targets use target samples as positives.
 *
 * The sweep runs the flow for several N with h = c·N^(−1/(d+4)), η = C·h² and the same flow
 * time η·T for every N (or a time ∝ 1/h² for displacement fields, whose speed is ∝ h²), then
 * fits the slope of log R_final against log N. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/eval.h"
#include "drift/sim.h"

void drift_particles_config_init(drift_particles_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    drift_field_config_init(&cfg->field);
    cfg->field.family = DRIFT_FAMILY_KDEGRAD;
    cfg->field.kernel = DRIFT_KERNEL_GAUSSIAN;
    cfg->field.tau[0] = 0.3;
    cfg->steps = 500;
    cfg->eta = 0.01;
    cfg->self_term = 1;
    cfg->exact_score = 1;
}

int drift_particles_config_check(const drift_particles_config *cfg)
{
    if (!cfg) return drift_error(DRIFT_EINVAL, "particles config is NULL");
    int st = drift_field_config_check(&cfg->field);
    if (st) return st;
    if (cfg->field.n_tau != 1)
        return drift_error(DRIFT_EINVAL, "particle flows use one bandwidth h (got %d temperatures)", cfg->field.n_tau);
    if (cfg->field.feature_norm || cfg->field.drift_norm)
        return drift_error(DRIFT_EINVAL, "particle flows use the raw field: feature and drift normalization are not supported");
    if (cfg->steps < 0) return drift_error(DRIFT_EINVAL, "steps must be >= 0, got %d", cfg->steps);
    if (!(cfg->eta > 0) || !isfinite(cfg->eta)) return drift_error(DRIFT_EINVAL, "step size eta must be finite and > 0, got %g", cfg->eta);
    if (cfg->log_every < 0) return drift_error(DRIFT_EINVAL, "log_every must be >= 0, got %d", cfg->log_every);
    if (cfg->n_target < 0) return drift_error(DRIFT_EINVAL, "n_target must be >= 0");
    if (cfg->mmd_bandwidth < 0 || !isfinite(cfg->mmd_bandwidth)) return drift_error(DRIFT_EINVAL, "MMD bandwidth must be >= 0 (0: median heuristic)");
    if (cfg->n_snapshots < 0 || cfg->n_snapshots == 1 || cfg->n_snapshots > 64)
        return drift_error(DRIFT_EINVAL, "snapshots: 0 or 2..64, got %d", cfg->n_snapshots);
    return DRIFT_OK;
}

int drift_particles_exact(const drift_particles_config *cfg, const drift_sim_dist *target)
{
    return cfg->exact_score && target && target->kind == DRIFT_DIST_MIXTURE &&
           cfg->field.family == DRIFT_FAMILY_KDEGRAD && cfg->field.kernel == DRIFT_KERNEL_GAUSSIAN &&
           cfg->field.n_tau == 1;
}

static double *to_f64(const float *a, int64_t count)
{
    double *o = drift_alloc((size_t)count, sizeof(double));
    if (o)
        for (int64_t i = 0; i < count; i++) o[i] = a[i];
    return o;
}

/* The engine's field for queries x, positives pos (p rows), negatives = the particles. */
static int engine_field(drift_ctx *ctx, const drift_field_config *fc, int f64, int self_term, const float *x,
                        int64_t n, int64_t d, const float *pos, int64_t p, float *v)
{
    drift_field_result res;
    memset(&res, 0, sizeof res);
    if (!f64) {
        drift_field_batch b = {.n = n, .d = d, .x = x, .p = p, .pos = pos};
        if (self_term) { b.m = n; b.neg = x; }
        res.v = v;
        return drift_field_compute_ctx(ctx, fc, &b, &res);
    }
    double *x64 = to_f64(x, n * d), *p64 = to_f64(pos, p * d), *v64 = drift_alloc((size_t)(n * d), sizeof(double));
    int st = DRIFT_ENOMEM;
    if (x64 && p64 && v64) {
        drift_field_batch64 b = {.n = n, .d = d, .x = x64, .p = p, .pos = p64};
        if (self_term) { b.m = n; b.neg = x64; }
        res.v = v64;
        st = drift_field_compute_f64(fc, &b, &res);
        for (int64_t k = 0; st == DRIFT_OK && k < n * d; k++) v[k] = (float)v64[k];
    }
    drift_free(x64); drift_free(p64); drift_free(v64);
    return st;
}

/* drift_particles_velocity with a context: a flow keeps one for all its steps (the field's
 * scratch memory is then allocated once). */
static int particles_velocity(drift_ctx *ctx, const drift_particles_config *cfg, const drift_sim_dist *target,
                              const float *target_samples, int64_t n_target, const float *x, int64_t n, int64_t d,
                              float *v)
{
    int st = drift_particles_config_check(cfg);
    if (st) return st;
    if (!x || !v || n < 1 || d < 1) return drift_error(DRIFT_EINVAL, "particle velocity: bad arguments (n=%lld, d=%lld)", (long long)n, (long long)d);
    if (!cfg->self_term && n < 2) return drift_error(DRIFT_EINVAL, "a single particle without its own term has no negatives");
    if (!drift_particles_exact(cfg, target)) {
        if (!target_samples || n_target < 1) return drift_error(DRIFT_EINVAL, "particle velocity: this family/target needs target samples");
        return engine_field(ctx, &cfg->field, cfg->precision_f64, cfg->self_term, x, n, d, target_samples, n_target, v);
    }
    if (target->gmm.d != d) return drift_error(DRIFT_ESHAPE, "target mixture has dimension %lld, particles %lld", (long long)target->gmm.d, (long long)d);
    /* particle side from the engine (positive side switched off: one dummy row, scale 0) */
    drift_field_config fc = cfg->field;
    fc.pos_scale = 0.0;
    if ((st = engine_field(ctx, &fc, cfg->precision_f64, cfg->self_term, x, n, d, x, 1, v))) return st;
    /* data side: the exact score of the smoothed mixture */
    double *x64 = to_f64(x, n * d), *s = drift_alloc((size_t)(n * d), sizeof(double));
    if (!x64 || !s) st = DRIFT_ENOMEM;
    else st = drift_gmm_score(&target->gmm, cfg->field.tau[0], x64, n, s);
    for (int64_t k = 0; st == DRIFT_OK && k < n * d; k++) v[k] = (float)(cfg->field.pos_scale * s[k] + v[k]);
    drift_free(x64);
    drift_free(s);
    return st;
}

int drift_particles_velocity(const drift_particles_config *cfg, const drift_sim_dist *target,
                             const float *target_samples, int64_t n_target, const float *x,
                             int64_t n, int64_t d, float *v)
{
    return particles_velocity(NULL, cfg, target, target_samples, n_target, x, n, d, v);
}

void drift_particles_trace_free(drift_particles_trace *t)
{
    if (!t) return;
    drift_free(t->step); drift_free(t->residual); drift_free(t->mmd2); drift_free(t->min_occupancy);
    drift_free(t->snapshot_step); drift_free(t->snapshots); drift_free(t->target);
    memset(t, 0, sizeof *t);
}

int drift_particles_run(const drift_particles_config *cfg, const drift_sim_dist *target,
                        float *x, int64_t n, int64_t d, uint64_t seed, drift_particles_trace *tr)
{
    if (!tr) return drift_error(DRIFT_EINVAL, "particles: trace is NULL");
    memset(tr, 0, sizeof *tr);
    int st = drift_particles_config_check(cfg);
    if (st) return st;
    if (!target || !x || n < 2 || d < 1)
        return drift_error(DRIFT_EINVAL, "particles: need a target and at least 2 particles (got n=%lld, d=%lld)", (long long)n, (long long)d);
    if (target->d != d)
        return drift_error(DRIFT_ESHAPE, "target '%s' has dimension %lld but the particles %lld", target->name, (long long)target->d, (long long)d);
    if (!drift_all_finite_f32(x, (size_t)(n * d))) return drift_error(DRIFT_ENUMERIC, "initial particles contain NaN or Inf");
    const double t0 = drift_now();
    const int T = cfg->steps;
    const int every = cfg->log_every > 0 ? cfg->log_every : (T >= 20 ? T / 20 : 1);
    const double h = cfg->field.tau[0];

    /* target samples: the positives (when not exact) and the MMD's reference */
    int64_t nt = cfg->n_target ? cfg->n_target : (n > 1024 ? n : 1024);
    if (target->kind == DRIFT_DIST_SAMPLES && (nt > target->n_rows || !cfg->n_target)) nt = target->n_rows;
    if (nt < 2) return drift_error(DRIFT_EINVAL, "need at least 2 target samples, got %lld", (long long)nt);
    tr->n = n; tr->d = d; tr->n_target = nt;
    tr->exact = drift_particles_exact(cfg, target);
    int64_t rows = T / every + 1 + (T % every ? 1 : 0);
    tr->step = drift_alloc((size_t)rows, sizeof(int64_t));
    tr->residual = drift_alloc((size_t)rows, sizeof(double));
    tr->mmd2 = drift_alloc((size_t)rows, sizeof(double));
    tr->min_occupancy = drift_alloc((size_t)rows, sizeof(int64_t));
    tr->target = drift_alloc((size_t)(nt * d), sizeof(float));
    tr->n_snapshots = cfg->n_snapshots;
    if (cfg->n_snapshots) {
        tr->snapshot_step = drift_alloc((size_t)cfg->n_snapshots, sizeof(int64_t));
        tr->snapshots = drift_alloc((size_t)cfg->n_snapshots * (size_t)(n * d), sizeof(float));
    }
    float *v = drift_alloc((size_t)(n * d), sizeof(float));
    drift_ctx *ctx = NULL;
    if ((st = drift_ctx_create(NULL, &ctx))) goto done;
    if (!tr->step || !tr->residual || !tr->mmd2 || !tr->min_occupancy || !tr->target || !v ||
        (cfg->n_snapshots && (!tr->snapshot_step || !tr->snapshots))) {
        st = drift_error(DRIFT_ENOMEM, "out of memory for %lld particles", (long long)n);
        goto done;
    }
    for (int k = 0; k < cfg->n_snapshots; k++)
        tr->snapshot_step[k] = (int64_t)llround((double)k * T / (cfg->n_snapshots - 1));
    drift_rng rng;
    drift_rng_init(&rng, seed, 1);
    if ((st = drift_sim_dist_sample(target, &rng, nt, tr->target))) goto done;
    if (cfg->mmd_bandwidth > 0) {
        tr->mmd_bandwidth = cfg->mmd_bandwidth;
    } else { /* the median heuristic on the target samples */
        double med2;
        if ((st = drift_median_sqdist(tr->target, nt, (int)d, &med2))) goto done;
        tr->mmd_bandwidth = med2 > 0 ? sqrt(med2) : 1.0;
    }
    int snap = 0;
    for (int t = 0; t <= T; t++) {
        if ((st = particles_velocity(ctx, cfg, target, tr->target, nt, x, n, d, v))) {
            if (st == DRIFT_ENUMERIC && t > 0)
                drift_error_context(st, "the flow diverged at step %d: reduce eta (now %g)", t, cfg->eta);
            goto done;
        }
        if (!drift_all_finite_f32(v, (size_t)(n * d))) {
            st = drift_error(DRIFT_ENUMERIC, "the flow diverged at step %d (velocity not finite): reduce eta (now %g)", t, cfg->eta);
            goto done;
        }
        if (t % every == 0 || t == T) {
            int64_t r = tr->rows++;
            double ms = 0;
            for (int64_t k = 0; k < n * d; k++) ms += (double)v[k] * v[k];
            tr->step[r] = t;
            tr->residual[r] = sqrt(ms / (double)n);
            if ((st = drift_mmd2_unbiased(x, n, tr->target, nt, (int)d, tr->mmd_bandwidth * tr->mmd_bandwidth, &tr->mmd2[r])))
                goto done;
            if ((st = drift_min_occupancy(x, n, d, h, &tr->min_occupancy[r]))) goto done;
        }
        while (snap < cfg->n_snapshots && tr->snapshot_step[snap] == t) {
            memcpy(&tr->snapshots[(size_t)snap * (size_t)(n * d)], x, (size_t)(n * d) * sizeof(float));
            snap++;
        }
        if (t < T) {
            for (int64_t k = 0; k < n * d; k++) x[k] += (float)(cfg->eta * v[k]);
            if (!drift_all_finite_f32(x, (size_t)(n * d))) {
                st = drift_error(DRIFT_ENUMERIC, "the flow diverged at step %d (positions not finite): reduce eta (now %g)", t + 1, cfg->eta);
                goto done;
            }
        }
    }
    tr->seconds = drift_now() - t0;
done:
    drift_free(v);
    drift_ctx_free(ctx);
    if (st) drift_particles_trace_free(tr);
    return st;
}

/* ---- the N sweep ---------------------------------------------------------------------------- */

void drift_sweep_result_free(drift_sweep_result *r)
{
    if (!r) return;
    drift_free(r->residual);
    drift_free(r->mmd2);
    drift_free(r->residual_mean);
    r->residual = r->mmd2 = r->residual_mean = NULL;
}

int drift_particles_sweep(const drift_sweep_config *cfg, const drift_sim_dist *target,
                          const drift_sim_dist *init, int64_t d, drift_sweep_progress progress,
                          void *ctx, drift_sweep_result *out)
{
    if (!cfg || !target || !init || !out) return drift_error(DRIFT_EINVAL, "sweep: NULL argument");
    memset(out, 0, sizeof *out);
    int st = drift_particles_config_check(&cfg->flow);
    if (st) return st;
    if (cfg->n_sizes < 2 || cfg->n_sizes > DRIFT_SWEEP_MAX_SIZES)
        return drift_error(DRIFT_EINVAL, "sweep needs 2..%d particle counts, got %d", DRIFT_SWEEP_MAX_SIZES, cfg->n_sizes);
    if (cfg->n_seeds < 1) return drift_error(DRIFT_EINVAL, "sweep needs at least one seed");
    if (cfg->n_sizes * cfg->n_seeds < 3) return drift_error(DRIFT_EINVAL, "sweep needs at least 3 runs for a slope and its interval");
    if (cfg->bw_c < 0 || cfg->eta_h2 < 0 || cfg->time < 0 || cfg->time_h2 < 0 || !isfinite(cfg->bw_c) ||
        !isfinite(cfg->eta_h2) || !isfinite(cfg->time) || !isfinite(cfg->time_h2))
        return drift_error(DRIFT_EINVAL, "sweep: bandwidth constant, eta/h^2 and times must be finite and >= 0");
    if (cfg->time > 0 && cfg->time_h2 > 0) return drift_error(DRIFT_EINVAL, "sweep: give a flow time or a time per h^2, not both");
    const double conf = cfg->conf > 0 ? cfg->conf : 0.95;
    if (!(conf < 1)) return drift_error(DRIFT_EINVAL, "confidence level must be < 1, got %g", conf);
    for (int s = 0; s < cfg->n_sizes; s++) {
        if (cfg->sizes[s] < 2) return drift_error(DRIFT_EINVAL, "particle count %lld is < 2", (long long)cfg->sizes[s]);
        for (int u = 0; u < s; u++)
            if (cfg->sizes[u] == cfg->sizes[s]) return drift_error(DRIFT_EINVAL, "particle count %lld is listed twice", (long long)cfg->sizes[s]);
    }
    if (init->d != d || target->d != d) return drift_error(DRIFT_ESHAPE, "sweep: init and target must have dimension %lld", (long long)d);

    const double t0 = drift_now();
    const int ns = cfg->n_sizes, nr = cfg->n_seeds;
    out->n_sizes = ns; out->n_seeds = nr; out->d = d;
    out->theory = -1.0 / ((double)d + 4.0);
    out->residual = drift_alloc((size_t)(ns * nr), sizeof(double));
    out->mmd2 = drift_alloc((size_t)(ns * nr), sizeof(double));
    out->residual_mean = drift_alloc((size_t)ns, sizeof(double));
    double *xs = drift_alloc((size_t)(ns * nr), sizeof(double));
    if (!out->residual || !out->mmd2 || !out->residual_mean || !xs) {
        st = drift_error(DRIFT_ENOMEM, "out of memory for the sweep");
        goto done;
    }
    for (int s = 0; s < ns && st == DRIFT_OK; s++) {
        const int64_t n = cfg->sizes[s];
        drift_particles_config fc = cfg->flow;
        double h = cfg->bw_c > 0 ? cfg->bw_c * pow((double)n, -1.0 / ((double)d + 4.0)) : cfg->flow.field.tau[0];
        double eta = cfg->eta_h2 > 0 ? cfg->eta_h2 * h * h : cfg->flow.eta;
        double flow_time = cfg->time > 0 ? cfg->time : cfg->time_h2 / (h * h);
        double steps = flow_time > 0 ? ceil(flow_time / eta - 1e-9) : (double)cfg->flow.steps;
        if (steps > 1e8) { st = drift_error(DRIFT_EINVAL, "sweep: %g steps for N = %lld is too many", steps, (long long)n); break; }
        fc.field.tau[0] = h;
        fc.eta = eta;
        fc.steps = (int)steps;
        fc.log_every = fc.steps > 0 ? fc.steps : 1; /* only the first and last step */
        fc.n_snapshots = 0;
        out->sizes[s] = n; out->h[s] = h; out->eta[s] = eta; out->steps[s] = fc.steps;
        double log_sum = 0;
        float *x = drift_alloc((size_t)(n * d), sizeof(float));
        if (!x) { st = DRIFT_ENOMEM; break; }
        for (int r = 0; r < nr && st == DRIFT_OK; r++) {
            const uint64_t seed = cfg->seed0 + (uint64_t)r;
            drift_rng rng;
            drift_rng_init(&rng, seed, 0);
            drift_particles_trace tr;
            double t1 = drift_now();
            if ((st = drift_sim_dist_sample(init, &rng, n, x))) break;
            if ((st = drift_particles_run(&fc, target, x, n, d, seed, &tr))) {
                drift_error_context(st, "sweep N = %lld, seed %llu", (long long)n, (unsigned long long)seed);
                break;
            }
            double R = tr.residual[tr.rows - 1];
            out->residual[s * nr + r] = R;
            out->mmd2[s * nr + r] = tr.mmd2[tr.rows - 1];
            xs[s * nr + r] = (double)n;
            log_sum += log(R > 0 ? R : 1e-300);
            drift_particles_trace_free(&tr);
            if (progress && progress(ctx, n, seed, R, drift_now() - t1)) st = drift_error(DRIFT_EINVAL, "sweep interrupted");
        }
        out->residual_mean[s] = exp(log_sum / nr);
        drift_free(x);
    }
    if (st == DRIFT_OK) st = drift_fit_power_law(xs, out->residual, ns * nr, conf, &out->fit);
    out->seconds = drift_now() - t0;
done:
    drift_free(xs);
    if (st) drift_sweep_result_free(out);
    return st;
}
