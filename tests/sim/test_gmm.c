/* test_gmm.c — gaussian mixtures: the exact smoothed score against finite differences of the
 * smoothed log density, the smoothing itself against numerical convolution, sampling, and
 * the named distributions of dist.c. */
#include "test.h"

#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/npy.h"
#include "drift/rng.h"
#include "drift/sim.h"

/* A 3-component mixture in 3-D with unequal weights and diagonal variances. */
static void make_mixture(drift_gmm *g)
{
    CHECK_OK(drift_gmm_init(g, 3, 3));
    const double w[3] = {0.5, 0.3, 0.2};
    const double mu[9] = {0, 0, 0, 1.5, -0.5, 0.2, -1, 1, 2};
    const double var[9] = {1, 0.5, 2, 0.3, 0.3, 0.3, 0.8, 1.2, 0.1};
    for (int j = 0; j < 3; j++) g->weight[j] = w[j];
    for (int t = 0; t < 9; t++) { g->mean[t] = mu[t]; g->var[t] = var[t]; }
}

static void test_score_matches_finite_differences(void)
{
    drift_gmm g;
    make_mixture(&g);
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    const double hs[3] = {0.0, 0.3, 1.0};
    double worst = 0;
    for (int hi = 0; hi < 3; hi++)
        for (int i = 0; i < 20; i++) {
            double x[3], s[3];
            for (int t = 0; t < 3; t++) x[t] = 1.5 * drift_rng_normal(&r);
            CHECK_OK(drift_gmm_score(&g, hs[hi], x, 1, s));
            for (int t = 0; t < 3; t++) {
                const double e = 1e-5;
                double xp[3] = {x[0], x[1], x[2]}, xm[3] = {x[0], x[1], x[2]}, lp, lm;
                xp[t] += e;
                xm[t] -= e;
                CHECK_OK(drift_gmm_log_density(&g, hs[hi], xp, 1, &lp));
                CHECK_OK(drift_gmm_log_density(&g, hs[hi], xm, 1, &lm));
                double fd = (lp - lm) / (2 * e), err = fabs(fd - s[t]) / (1.0 + fabs(s[t]));
                if (err > worst) worst = err;
            }
        }
    CHECK_MSG(worst < 1e-8, "worst relative error %.3g", worst);
    drift_gmm_free(&g);
}

/* p * K_h by trapezoid quadrature in 1-D equals the closed form exp(log_density(h)). */
static void test_smoothing_is_convolution(void)
{
    drift_gmm g;
    CHECK_OK(drift_gmm_init(&g, 2, 1));
    g.weight[0] = 0.7; g.weight[1] = 0.3;
    g.mean[0] = -1; g.mean[1] = 2;
    g.var[0] = 0.25; g.var[1] = 1.0;
    const double h = 0.4, xq[3] = {-1.3, 0.4, 2.5};
    for (int q = 0; q < 3; q++) {
        double sum = 0;
        const double lo = -12, hi = 12, dy = 1e-3;
        int bad = 0;
        for (double y = lo; y <= hi; y += dy) {
            double py;
            bad |= drift_gmm_log_density(&g, 0.0, &y, 1, &py);
            double k = exp(-(xq[q] - y) * (xq[q] - y) / (2 * h * h)) / sqrt(2 * M_PI * h * h);
            sum += exp(py) * k * dy;
        }
        CHECK(bad == 0);
        double lp;
        CHECK_OK(drift_gmm_log_density(&g, h, &xq[q], 1, &lp));
        CHECK_CLOSE(sum, exp(lp), 1e-9, 1e-7);
    }
    drift_gmm_free(&g);
}

static void test_far_points_are_finite(void)
{
    drift_gmm g;
    make_mixture(&g);
    double x[3] = {1e3, -2e3, 5e2}, s[3], lp;
    CHECK_OK(drift_gmm_score(&g, 0.1, x, 1, s));
    CHECK(drift_all_finite_f64(s, 3));
    CHECK_OK(drift_gmm_log_density(&g, 0.1, x, 1, &lp));
    CHECK(isfinite(lp) && lp < -1e5);
    /* there the most responsible component dominates: the score is nearly its own */
    drift_gmm_free(&g);
}

static void test_sampling_moments(void)
{
    drift_gmm g;
    CHECK_OK(drift_gmm_init(&g, 2, 2));
    g.weight[0] = 0.25; g.weight[1] = 0.75;
    g.mean[0] = -2; g.mean[1] = 0; g.mean[2] = 2; g.mean[3] = 1;
    for (int t = 0; t < 4; t++) g.var[t] = 0.04;
    const int64_t n = 40000;
    float *x = drift_alloc((size_t)(n * 2), sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    CHECK_OK(drift_gmm_sample(&g, &r, n, x));
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; i++) { mx += x[2 * i]; my += x[2 * i + 1]; }
    mx /= n; my /= n;
    CHECK_CLOSE(mx, 0.25 * -2 + 0.75 * 2, 0.03, 0);
    CHECK_CLOSE(my, 0.75, 0.02, 0);
    drift_free(x);
    g.weight[0] = 0.5; /* no longer sums to 1 */
    CHECK(drift_gmm_check(&g) == DRIFT_EINVAL);
    g.weight[0] = 0.25; g.var[1] = 0;
    CHECK(drift_gmm_check(&g) == DRIFT_EINVAL);
    drift_gmm_free(&g);
}

static void test_named_distributions(void)
{
    drift_sim_dist d;
    CHECK_OK(drift_sim_dist_open("gaussian:2:1.5", 3, &d));
    CHECK(d.kind == DRIFT_DIST_MIXTURE && d.gmm.k == 1 && d.d == 3);
    CHECK_CLOSE(d.gmm.mean[0], 1.5, 0, 0);
    CHECK_CLOSE(d.gmm.mean[1], 0.0, 0, 0);
    CHECK_CLOSE(d.gmm.var[2], 4.0, 0, 0);
    drift_sim_dist_free(&d);

    CHECK_OK(drift_sim_dist_open("mixture:3", 2, &d));
    CHECK(d.gmm.k == 3);
    CHECK_CLOSE(d.gmm.mean[0], 2.0, 0, 0);   /* +2 e1 */
    CHECK_CLOSE(d.gmm.mean[2], -2.0, 0, 0);  /* -2 e1 */
    CHECK_CLOSE(d.gmm.mean[5], 2.0, 0, 0);   /* +2 e2 */
    CHECK_CLOSE(d.gmm.var[0], 0.25, 0, 0);
    drift_sim_dist_free(&d);

    CHECK_OK(drift_sim_dist_open("two_mode", 2, &d));
    CHECK(d.kind == DRIFT_DIST_MIXTURE && d.gmm.k == 2);
    CHECK_CLOSE(d.gmm.mean[0], -0.6, 1e-12, 0);
    CHECK_CLOSE(d.gmm.var[0], 0.15 * 0.15, 1e-12, 0);
    drift_sim_dist_free(&d);

    CHECK_OK(drift_sim_dist_open("swiss_roll", 2, &d));
    CHECK(d.kind == DRIFT_DIST_TOY);
    float pts[20];
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    CHECK_OK(drift_sim_dist_sample(&d, &r, 10, pts));
    CHECK(drift_all_finite_f32(pts, 20));
    drift_sim_dist_free(&d);

    CHECK(drift_sim_dist_open("mixture:5", 2, &d) == DRIFT_EINVAL);
    CHECK(drift_sim_dist_open("mixture:2:-1", 2, &d) == DRIFT_EINVAL);
    CHECK(drift_sim_dist_open("gaussian:x", 2, &d) == DRIFT_EINVAL);
    CHECK(drift_sim_dist_open("swiss_roll", 3, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "2-D") != NULL);
    CHECK(drift_sim_dist_open("spiral", 2, &d) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "mixture:K") != NULL);
    CHECK(drift_sim_dist_open("/nonexistent/points.npy", 2, &d) != DRIFT_OK);

    /* an NPY file: its rows, all of them in file order when all are asked for */
    char path[64];
    snprintf(path, sizeof path, "/tmp/drift_test_sim_%d.npy", (int)getpid());
    const float rows[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_OK(drift_npy_write_f32(path, rows, 4, 2));
    CHECK(drift_sim_dist_open(path, 3, &d) == DRIFT_ESHAPE);
    CHECK_OK(drift_sim_dist_open(path, 2, &d));
    CHECK(d.kind == DRIFT_DIST_SAMPLES && d.n_rows == 4);
    float got[8];
    CHECK_OK(drift_sim_dist_sample(&d, &r, 4, got));
    CHECK(memcmp(got, rows, sizeof rows) == 0);
    CHECK_OK(drift_sim_dist_sample(&d, &r, 2, got)); /* two distinct rows */
    CHECK(got[0] != got[2] && (int)got[0] % 2 == 0 && got[1] == got[0] + 1);
    CHECK(drift_sim_dist_sample(&d, &r, 5, got) == DRIFT_EINVAL);
    drift_sim_dist_free(&d);
    remove(path);
}

int main(void)
{
    RUN(test_score_matches_finite_differences);
    RUN(test_smoothing_is_convolution);
    RUN(test_far_points_are_finite);
    RUN(test_sampling_moments);
    RUN(test_named_distributions);
    return TEST_SUMMARY();
}
