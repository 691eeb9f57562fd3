/* test_particles.c — particle flows (docs/MATH.md §5): the velocity against a plain float64
 * transcription (exact smoothed score minus the particles' KDE score, self term in or out),
 * a flow started on its target stays near equilibrium, a flow started off target converges,
 * the MMD (eval's) and occupancy statistics, determinism, and a small sweep. */
#include "test.h"

#include "drift/core.h"
#include "drift/error.h"
#include "drift/rng.h"
#include "drift/sim.h"

/* v_i = ∇ log (p * K_h)(x_i) − Σ_j K(x_i − x_j)(x_j − x_i) / (h² Σ_j K), j over all particles
 * (self included) or j ≠ i, for the standard normal target: p * K_h = N(0, (1 + h²) I). */
static void reference_velocity(const float *x, int64_t n, int64_t d, double h, int self, double *v)
{
    for (int64_t i = 0; i < n; i++) {
        double num[8] = {0}, den = 0;
        for (int64_t j = 0; j < n; j++) {
            if (!self && j == i) continue;
            double r2 = 0;
            for (int64_t t = 0; t < d; t++) r2 += ((double)x[j * d + t] - x[i * d + t]) * ((double)x[j * d + t] - x[i * d + t]);
            double k = exp(-r2 / (2 * h * h));
            den += k;
            for (int64_t t = 0; t < d; t++) num[t] += k * ((double)x[j * d + t] - x[i * d + t]);
        }
        for (int64_t t = 0; t < d; t++) v[i * d + t] = -x[i * d + t] / (1 + h * h) - num[t] / (h * h * den);
    }
}

static void test_velocity_matches_reference(void)
{
    const int64_t n = 40, d = 3;
    drift_sim_dist target;
    CHECK_OK(drift_sim_dist_open("gaussian", d, &target));
    float x[40 * 3], v[40 * 3];
    double ref[40 * 3];
    drift_rng r;
    drift_rng_init(&r, 9, 0);
    drift_rng_fill_normal(&r, x, (size_t)(n * d), 0.5f, 1.2f);
    drift_particles_config cfg;
    drift_particles_config_init(&cfg);
    cfg.field.tau[0] = 0.4;
    CHECK(drift_particles_exact(&cfg, &target));
    for (int self = 0; self <= 1; self++)
        for (int f64 = 0; f64 <= 1; f64++) {
            cfg.self_term = self;
            cfg.precision_f64 = f64;
            CHECK_OK(drift_particles_velocity(&cfg, &target, NULL, 0, x, n, d, v));
            reference_velocity(x, n, d, 0.4, self, ref);
            double worst = 0;
            for (int64_t k = 0; k < n * d; k++) {
                double e = fabs(v[k] - ref[k]) / (1 + fabs(ref[k]));
                if (e > worst) worst = e;
            }
            CHECK_MSG(worst < (f64 ? 1e-6 : 1e-4), "self=%d f64=%d: worst %.3g", self, f64, worst);
        }
    /* the self term changes the velocity: it adds K(0) to each particle's own KDE */
    cfg.self_term = 1;
    CHECK_OK(drift_particles_velocity(&cfg, &target, NULL, 0, x, n, d, v));
    float v0[40 * 3];
    cfg.self_term = 0;
    CHECK_OK(drift_particles_velocity(&cfg, &target, NULL, 0, x, n, d, v0));
    double diff = 0;
    for (int64_t k = 0; k < n * d; k++) diff += fabs(v[k] - v0[k]);
    CHECK(diff > 1e-3);
    /* without the exact score the target samples are the positives: with the laplace
     * meanshift family that is the engine's field toward them */
    cfg.field.family = DRIFT_FAMILY_MEANSHIFT;
    cfg.field.kernel = DRIFT_KERNEL_LAPLACE;
    CHECK(!drift_particles_exact(&cfg, &target));
    CHECK(drift_particles_velocity(&cfg, &target, NULL, 0, x, n, d, v) == DRIFT_EINVAL);
    CHECK_OK(drift_particles_velocity(&cfg, &target, x, n, x, n, d, v));
    /* positives = negatives = the particles, self masked on the negative side only:
     * not zero; with the self term in, both sides are the same cloud: exactly zero */
    cfg.self_term = 1;
    CHECK_OK(drift_particles_velocity(&cfg, &target, x, n, x, n, d, v));
    CHECK(fabs(v[0]) + fabs(v[1]) + fabs(v[2]) < 1e-6);
    drift_sim_dist_free(&target);
}

static double run_flow(const char *init_spec, int64_t n, int64_t d, int steps, drift_particles_trace *tr)
{
    drift_sim_dist target, init;
    CHECK_OK(drift_sim_dist_open("gaussian", d, &target));
    CHECK_OK(drift_sim_dist_open(init_spec, d, &init));
    float *x = drift_alloc((size_t)(n * d), sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    CHECK_OK(drift_sim_dist_sample(&init, &r, n, x));
    drift_particles_config cfg;
    drift_particles_config_init(&cfg);
    cfg.field.tau[0] = 0.4;
    cfg.eta = 0.2 * 0.4 * 0.4;
    cfg.steps = steps;
    cfg.log_every = 10;
    cfg.n_snapshots = 3;
    cfg.n_target = 256;
    CHECK_OK(drift_particles_run(&cfg, &target, x, n, d, 1, tr));
    /* the last snapshot is the final state */
    CHECK(memcmp(&tr->snapshots[2 * n * d], x, (size_t)(n * d) * sizeof(float)) == 0);
    drift_free(x);
    drift_sim_dist_free(&target);
    drift_sim_dist_free(&init);
    return tr->residual[tr->rows - 1];
}

static void test_flow_on_target_stays_at_equilibrium(void)
{
    drift_particles_trace on, off;
    run_flow("gaussian", 200, 2, 100, &on);
    run_flow("gaussian:0.5:3", 200, 2, 200, &off);
    CHECK(on.rows == 11 && on.step[0] == 0 && on.step[10] == 100);
    CHECK(on.exact == 1 && on.n_target == 256);
    CHECK(on.snapshot_step[0] == 0 && on.snapshot_step[1] == 50 && on.snapshot_step[2] == 100);
    /* started on the target: R is small from the start and never grows */
    double rmax = 0;
    for (int64_t k = 0; k < on.rows; k++)
        if (on.residual[k] > rmax) rmax = on.residual[k];
    CHECK_MSG(on.residual[0] < 0.3 * off.residual[0], "R0 on %.3g off %.3g", on.residual[0], off.residual[0]);
    CHECK_MSG(rmax <= on.residual[0] * 1.0001, "R max %.3g vs R0 %.3g", rmax, on.residual[0]);
    CHECK_MSG(on.residual[on.rows - 1] < 0.5 * on.residual[0], "R final %.3g R0 %.3g", on.residual[on.rows - 1], on.residual[0]);
    CHECK(fabs(on.mmd2[on.rows - 1]) < 1e-2);
    /* started off target (mean 3 away): converges, R and the MMD fall by a lot */
    CHECK_MSG(off.residual[off.rows - 1] < 0.05 * off.residual[0], "R %.3g -> %.3g", off.residual[0], off.residual[off.rows - 1]);
    CHECK_MSG(off.mmd2[off.rows - 1] < 0.01 * off.mmd2[0], "MMD² %.3g -> %.3g", off.mmd2[0], off.mmd2[off.rows - 1]);
    for (int64_t k = 0; k < off.rows; k++) CHECK(off.min_occupancy[k] >= 0 && off.min_occupancy[k] < 200);
    drift_particles_trace_free(&on);
    drift_particles_trace_free(&off);
}

static void test_deterministic(void)
{
    drift_particles_trace a, b;
    run_flow("gaussian:0.5:1", 64, 3, 20, &a);
    run_flow("gaussian:0.5:1", 64, 3, 20, &b);
    CHECK(a.rows == b.rows);
    CHECK(memcmp(a.residual, b.residual, (size_t)a.rows * sizeof(double)) == 0);
    CHECK(memcmp(a.snapshots, b.snapshots, (size_t)(3 * 64 * 3) * sizeof(float)) == 0);
    drift_particles_trace_free(&a);
    drift_particles_trace_free(&b);
}

static void test_occupancy(void)
{
    float x[5 * 2] = {0, 0, 1, 0, 0, 1, 2, 2, -1, 0.5f};
    int64_t occ;
    CHECK_OK(drift_min_occupancy(x, 5, 2, 1.0, &occ));
    CHECK(occ == 0); /* (2, 2) has nobody within 1 */
    CHECK_OK(drift_min_occupancy(x, 4, 2, 1.0, &occ));
    CHECK(occ == 0);
    CHECK_OK(drift_min_occupancy(x, 3, 2, 1.0, &occ));
    CHECK(occ == 1); /* (1,0) and (0,1) are sqrt 2 apart: each has only the origin */
    CHECK_OK(drift_min_occupancy(x, 3, 2, 1.5, &occ));
    CHECK(occ == 2);
}

static void test_sweep_small(void)
{
    drift_sim_dist target, init;
    CHECK_OK(drift_sim_dist_open("gaussian", 1, &target));
    CHECK_OK(drift_sim_dist_open("gaussian:0.5:2", 1, &init));
    drift_sweep_config sc;
    memset(&sc, 0, sizeof sc);
    drift_particles_config_init(&sc.flow);
    sc.n_sizes = 3;
    sc.sizes[0] = 32; sc.sizes[1] = 64; sc.sizes[2] = 128;
    sc.n_seeds = 2;
    sc.seed0 = 4;
    sc.bw_c = 1.0;
    sc.eta_h2 = 0.2;
    sc.time = 2.0;
    drift_sweep_result res;
    CHECK_OK(drift_particles_sweep(&sc, &target, &init, 1, NULL, NULL, &res));
    CHECK(res.n_sizes == 3 && res.n_seeds == 2 && res.fit.n == 6);
    CHECK_CLOSE(res.h[1], pow(64.0, -0.2), 1e-12, 0);
    CHECK_CLOSE(res.eta[1], 0.2 * pow(64.0, -0.4), 1e-12, 0);
    CHECK(res.steps[1] == (int)ceil(2.0 / res.eta[1] - 1e-9));
    CHECK_CLOSE(res.theory, -0.2, 1e-15, 0);
    {   /* the fit is of these runs: least squares of log R on log N over all 6, recomputed here,
         * with the interval half-width t(0.975, 4) · se (scipy.stats.t.ppf(0.975, 4)) */
        double mx = 0, my = 0, sxx = 0, sxy = 0, sse = 0, lx[6], ly[6];
        for (int k = 0; k < 6; k++) {
            lx[k] = log((double)sc.sizes[k / 2]);
            ly[k] = log(res.residual[k]);
            mx += lx[k] / 6, my += ly[k] / 6;
        }
        for (int k = 0; k < 6; k++) sxx += (lx[k] - mx) * (lx[k] - mx), sxy += (lx[k] - mx) * (ly[k] - my);
        const double b = sxy / sxx, a = my - b * mx;
        for (int k = 0; k < 6; k++) sse += (ly[k] - a - b * lx[k]) * (ly[k] - a - b * lx[k]);
        const double half = 2.7764451051977987 * sqrt(sse / 4 / sxx);
        CHECK_CLOSE(res.fit.slope, b, 1e-12, 1e-9);
        CHECK_CLOSE(res.fit.slope_hi - res.fit.slope, half, 1e-12, 1e-9);
        CHECK_CLOSE(res.fit.slope - res.fit.slope_lo, half, 1e-12, 1e-9);
        /* more particles, a smaller residual: the fitted exponent is negative (theory −0.2) */
        CHECK_MSG(b < 0, "slope %.3f", b);
    }
    for (int k = 0; k < 6; k++) CHECK(res.residual[k] > 0 && res.residual[k] < 0.5);

    /* run (N = 64, seed 5) by hand: the same final residual */
    drift_particles_config fc = sc.flow;
    fc.field.tau[0] = res.h[1];
    fc.eta = res.eta[1];
    fc.steps = res.steps[1];
    fc.log_every = fc.steps;
    float x[64];
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    CHECK_OK(drift_sim_dist_sample(&init, &r, 64, x));
    drift_particles_trace tr;
    CHECK_OK(drift_particles_run(&fc, &target, x, 64, 1, 5, &tr));
    CHECK(tr.residual[tr.rows - 1] == res.residual[1 * 2 + 1]);
    drift_particles_trace_free(&tr);
    drift_sweep_result_free(&res);

    /* a flow time ∝ 1/h² (displacement fields): T = ceil(time_h2 / h² / η) */
    sc.time = 0;
    sc.time_h2 = 0.05;
    sc.n_seeds = 1;
    CHECK_OK(drift_particles_sweep(&sc, &target, &init, 1, NULL, NULL, &res));
    for (int s = 0; s < 3; s++) CHECK(res.steps[s] == (int)ceil(0.05 / (res.h[s] * res.h[s]) / res.eta[s] - 1e-9));
    drift_sweep_result_free(&res);
    sc.time = 1.0;
    CHECK(drift_particles_sweep(&sc, &target, &init, 1, NULL, NULL, &res) == DRIFT_EINVAL);
    sc.time_h2 = 0;
    sc.n_seeds = 2;

    sc.sizes[2] = 64;
    CHECK(drift_particles_sweep(&sc, &target, &init, 1, NULL, NULL, &res) == DRIFT_EINVAL);
    sc.sizes[2] = 128;
    sc.n_sizes = 1;
    CHECK(drift_particles_sweep(&sc, &target, &init, 1, NULL, NULL, &res) == DRIFT_EINVAL);
    drift_sim_dist_free(&target);
    drift_sim_dist_free(&init);
}

static void test_config_errors(void)
{
    drift_particles_config c;
    drift_particles_config_init(&c);
    CHECK_OK(drift_particles_config_check(&c));
    c.eta = 0;
    CHECK(drift_particles_config_check(&c) == DRIFT_EINVAL);
    drift_particles_config_init(&c);
    c.field.n_tau = 2;
    c.field.tau[1] = 1;
    CHECK(drift_particles_config_check(&c) == DRIFT_EINVAL);
    drift_particles_config_init(&c);
    c.n_snapshots = 1;
    CHECK(drift_particles_config_check(&c) == DRIFT_EINVAL);
    drift_particles_config_init(&c);
    c.field.drift_norm = 1;
    CHECK(drift_particles_config_check(&c) == DRIFT_EINVAL);

    /* divergence is reported, not returned as NaN */
    drift_particles_config_init(&c);
    c.field.tau[0] = 0.05;
    c.eta = 1e6;
    c.steps = 50;
    drift_sim_dist target;
    CHECK_OK(drift_sim_dist_open("gaussian", 2, &target));
    float x[16 * 2];
    drift_rng r;
    drift_rng_init(&r, 2, 0);
    drift_rng_fill_normal(&r, x, 32, 0, 1);
    drift_particles_trace tr;
    int st = drift_particles_run(&c, &target, x, 16, 2, 0, &tr);
    CHECK(st == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "reduce eta") != NULL);
    CHECK(drift_particles_run(&c, &target, x, 16, 3, 0, &tr) == DRIFT_ESHAPE);
    drift_sim_dist_free(&target);
}

int main(void)
{
    RUN(test_velocity_matches_reference);
    RUN(test_flow_on_target_stays_at_equilibrium);
    RUN(test_deterministic);
    RUN(test_occupancy);
    RUN(test_sweep_small);
    RUN(test_config_errors);
    return TEST_SUMMARY();
}
