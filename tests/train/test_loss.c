/* The step objective: dL/dx against the field and against finite differences of the
 * potential loss, guidance weights, and the mode-collapse statistics. */
#include <string.h>

#include "drift/core.h"
#include "drift/rng.h"
#include "drift/train.h"
#include "test.h"

enum { D = 3, NG = 8, NP = 10, NU = 5 };

static void fill(drift_rng *r, float *a, int n, float shift)
{
    drift_rng_fill_normal(r, a, (size_t)n, shift, 1.0f);
}

static void test_drift_objective_gradient_is_scaled_field(void)
{
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    float x[2 * NG * D], pos[2][NP * D], unc[NU * D], grad[2 * NG * D], v[NG * D];
    fill(&r, x, 2 * NG * D, 0);
    fill(&r, pos[0], NP * D, 1);
    fill(&r, pos[1], NP * D, -1);
    fill(&r, unc, NU * D, 0);
    drift_class_group g[2] = {{NG, NP, pos[0], NU, unc, 0.7f}, {NG, NP, pos[1], 0, NULL, 0}};
    drift_field_config c;
    drift_field_config_init(&c);
    drift_field_config_deng_released(&c);
    c.kernel = DRIFT_KERNEL_LAPLACE;
    c.n_tau = 2; c.tau[0] = 0.05; c.tau[1] = 0.2;
    drift_loss_stats st;
    CHECK_OK(drift_drift_loss(&c, DRIFT_OBJECTIVE_DRIFT, x, D, g, 2, grad, &st));
    /* recompute group 0's field directly */
    float w[NU];
    for (int j = 0; j < NU; j++) w[j] = 0.7f;
    drift_field_batch b = {.n = NG, .d = D, .x = x, .p = NP, .pos = pos[0], .e = NU, .extra = unc, .extra_w = w};
    drift_field_result res;
    memset(&res, 0, sizeof res);
    res.v = v;
    CHECK_OK(drift_field_compute(&c, &b, &res));
    double s = res.feature_scale;
    CHECK(s > 0 && s != 1.0);
    for (int k = 0; k < NG * D; k++) CHECK_CLOSE(grad[k], -2.0 * v[k] / (s * s * D * 2 * NG), 1e-9, 1e-5);
    CHECK(st.loss > 0 && isfinite(st.loss));
    CHECK(st.v_rms > 0 && st.tau_rms[0] > 0 && st.tau_rms[1] > 0);
    /* the objective value, mean over the rows of both groups and the dims of (V/s)², computed
     * here in float64 from the float64 reference fields of the two groups */
    double ref = 0;
    for (int gi = 0; gi < 2; gi++) {
        double xd[NG * D], pd[NP * D], ud[NU * D], wd[NU], vd[NG * D];
        for (int k = 0; k < NG * D; k++) xd[k] = x[gi * NG * D + k];
        for (int k = 0; k < NP * D; k++) pd[k] = pos[gi][k];
        for (int k = 0; k < NU * D; k++) ud[k] = unc[k];
        for (int j = 0; j < NU; j++) wd[j] = 0.7f;
        drift_field_batch64 b64 = {.n = NG, .d = D, .x = xd, .p = NP, .pos = pd};
        if (gi == 0) b64.e = NU, b64.extra = ud, b64.extra_w = wd;
        drift_field_result r64;
        memset(&r64, 0, sizeof r64);
        r64.v = vd;
        CHECK_OK(drift_field_compute_f64(&c, &b64, &r64));
        for (int k = 0; k < NG * D; k++) ref += vd[k] * vd[k] / (r64.feature_scale * r64.feature_scale * D);
    }
    ref /= 2 * NG;
    CHECK_CLOSE(st.loss, ref, 0, 1e-4); /* float32 field against float64 */
    CHECK(ref > 0.1); /* not a vanishing field compared with a vanishing one */
}

/* potential objective: dL/dx_i = −V_i/B, checked against central differences of
 * L = −(1/B) Σ Φ_i where Φ_i treats the other generated rows as fixed centres. */
static void test_potential_objective_matches_finite_differences(void)
{
    drift_rng r;
    drift_rng_init(&r, 2, 0);
    float xf[NG * D], pos[NP * D], grad[NG * D];
    fill(&r, xf, NG * D, 0);
    fill(&r, pos, NP * D, 0.5f);
    drift_class_group g = {NG, NP, pos, 0, NULL, 0};
    const drift_family fams[2] = {DRIFT_FAMILY_SHARP, DRIFT_FAMILY_KDEGRAD};
    for (int fi = 0; fi < 2; fi++) {
        drift_field_config c;
        drift_field_config_init(&c);
        c.family = fams[fi];
        c.kernel = DRIFT_KERNEL_LAPLACE;
        c.tau[0] = 0.8;
        drift_loss_stats st;
        CHECK_OK(drift_drift_loss(&c, DRIFT_OBJECTIVE_POTENTIAL, xf, D, &g, 1, grad, &st));
        double xd[NG * D], pd[NP * D];
        for (int k = 0; k < NG * D; k++) xd[k] = xf[k];
        for (int k = 0; k < NP * D; k++) pd[k] = pos[k];
        for (int i = 0; i < NG; i++) {
            double others[(NG - 1) * D];
            for (int l = 0, o = 0; l < NG; l++)
                if (l != i) { memcpy(&others[o * D], &xd[l * D], sizeof(double) * D); o++; }
            for (int k = 0; k < D; k++) {
                double phi[2], q[D], vv[D];
                for (int sgn = 0; sgn < 2; sgn++) {
                    memcpy(q, &xd[i * D], sizeof q);
                    q[k] += sgn ? -1e-5 : 1e-5;
                    drift_field_batch64 b = {.n = 1, .d = D, .x = q, .p = NP, .pos = pd, .m = NG - 1, .neg = others};
                    drift_field_result res;
                    memset(&res, 0, sizeof res);
                    res.v = vv;
                    res.potential = &phi[sgn];
                    CHECK_OK(drift_field_compute_f64(&c, &b, &res));
                }
                double dl = -(phi[0] - phi[1]) / 2e-5 / NG;
                CHECK_CLOSE(grad[i * D + k], dl, 1e-6, 1e-3);
            }
        }
    }
    drift_field_config ms;
    drift_field_config_init(&ms);
    drift_loss_stats st;
    CHECK(drift_drift_loss(&ms, DRIFT_OBJECTIVE_POTENTIAL, xf, D, &g, 1, grad, &st) == DRIFT_EINVAL);
}

static void test_guidance(void)
{
    /* the weight reproduces α through α = ((N−1) + N_unc w)/(N−1) */
    for (double a = 1.0; a <= 4.0; a += 0.5) {
        double w = drift_guidance_weight(a, 64, 32);
        CHECK_CLOSE(((64 - 1) + 32 * w) / (64 - 1), a, 1e-12, 1e-12);
    }
    CHECK(drift_guidance_weight(1.0, 64, 32) == 0.0);
    /* α ~ α^−3 on [1, 4]: E[α] = ∫ α·α^−3 / ∫ α^−3 = (1 − 1/4)/((1 − 1/16)/2) = 1.6 */
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    double m = 0, lo = 5, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double a = drift_guidance_sample_alpha(drift_rng_uniform(&r), 4.0);
        m += a;
        lo = fmin(lo, a);
        hi = fmax(hi, a);
    }
    CHECK_CLOSE(m / 100000, 1.6, 0.01, 0);
    CHECK(lo >= 1.0 && hi <= 4.0);
}

static void test_mode_collapse_is_visible(void)
{
    drift_rng r;
    drift_rng_init(&r, 4, 0);
    float x[NG * D], pos[NP * D], grad[NG * D];
    fill(&r, pos, NP * D, 0);
    for (int i = 0; i < NG; i++)
        for (int k = 0; k < D; k++) x[i * D + k] = 0.3f + 1e-4f * (float)i; /* near-copies */
    drift_class_group g = {NG, NP, pos, 0, NULL, 0};
    drift_field_config c;
    drift_field_config_init(&c);
    drift_loss_stats st;
    CHECK_OK(drift_drift_loss(&c, DRIFT_OBJECTIVE_DRIFT, x, D, &g, 1, grad, &st));
    CHECK(st.diversity < 0.01);
    CHECK(st.dup_frac == 1.0);
    fill(&r, x, NG * D, 0);
    CHECK_OK(drift_drift_loss(&c, DRIFT_OBJECTIVE_DRIFT, x, D, &g, 1, grad, &st));
    CHECK(st.diversity > 0.5 && st.diversity < 2.0);
    CHECK(st.dup_frac == 0.0);
}

int main(void)
{
    RUN(test_drift_objective_gradient_is_scaled_field);
    RUN(test_potential_objective_matches_finite_differences);
    RUN(test_guidance);
    RUN(test_mode_collapse_is_visible);
    return TEST_SUMMARY();
}
