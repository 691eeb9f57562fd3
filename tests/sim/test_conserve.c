/* test_conserve.c — curl, Jacobian asymmetry and circulation (docs/MATH.md §6 checks 3–4):
 * ≈ 0 (< 1e-6 relative) for the conservative families and the gaussian meanshift, clearly
 * non-zero for laplace/rq meanshift and deng; the three measurements agree with each other in
 * 2-D; the deng single-query convention matches a hand evaluation. */
#include "test.h"

#include "drift/core.h"
#include "drift/error.h"
#include "drift/rng.h"
#include "drift/sim.h"

#define NP 24
#define NM 20

static double pos2[NP * 2], neg2[NM * 2], pos5[NP * 5], neg5[NM * 5];

static void make_clouds(void)
{
    drift_rng r;
    drift_rng_init(&r, 42, 0);
    for (int i = 0; i < NP * 2; i++) pos2[i] = 0.8 * drift_rng_normal(&r) + (i % 2 ? 0.3 : -0.4);
    for (int i = 0; i < NM * 2; i++) neg2[i] = 0.6 * drift_rng_normal(&r) + (i % 2 ? -0.2 : 0.5);
    for (int i = 0; i < NP * 5; i++) pos5[i] = drift_rng_normal(&r);
    for (int i = 0; i < NM * 5; i++) neg5[i] = 0.7 * drift_rng_normal(&r) + 0.3;
}

static drift_field_config cfg_of(drift_family f, drift_kernel k, double tau)
{
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = f;
    c.kernel = k;
    c.tau[0] = tau;
    return c;
}

static drift_sim_clouds clouds(int d)
{
    drift_sim_clouds c = {.d = d, .p = NP, .pos = d == 2 ? pos2 : pos5, .m = NM, .neg = d == 2 ? neg2 : neg5};
    return c;
}

static void asym_of(drift_family f, drift_kernel k, int d, drift_asym_stats *s)
{
    drift_field_config c = cfg_of(f, k, 0.6);
    drift_sim_clouds cl = clouds(d);
    drift_asym_options o;
    drift_asym_options_init(&o);
    o.n_probes = 16;
    o.seed = 5;
    CHECK_OK(drift_sim_asymmetry(&c, &cl, &o, s, NULL, NULL));
}

static void test_conservative_families_are_symmetric(void)
{
    const drift_family fams[3] = {DRIFT_FAMILY_SHARP, DRIFT_FAMILY_KDEGRAD, DRIFT_FAMILY_MMD};
    for (int d = 2; d <= 5; d += 3)
        for (int f = 0; f < 3; f++)
            for (int k = 0; k < DRIFT_KERNEL_COUNT; k++) {
                drift_asym_stats s;
                asym_of(fams[f], (drift_kernel)k, d, &s);
                CHECK_MSG(s.asym_max < 1e-6 && s.circ_max < 1e-6, "%s/%s d=%d: asym %.3g circ %.3g",
                          drift_family_name(fams[f]), drift_kernel_name((drift_kernel)k), d, s.asym_max, s.circ_max);
                CHECK(s.jnorm_median > 0 && s.n_probes == 16);
            }
    /* meanshift with the gaussian kernel is τ² kdegrad: conservative too */
    drift_asym_stats s;
    asym_of(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, 5, &s);
    CHECK_MSG(s.asym_max < 1e-6 && s.circ_max < 1e-6, "meanshift/gaussian: %.3g %.3g", s.asym_max, s.circ_max);
}

static void test_non_conservative_families(void)
{
    const drift_kernel ks[2] = {DRIFT_KERNEL_LAPLACE, DRIFT_KERNEL_RQ};
    for (int d = 2; d <= 5; d += 3)
        for (int k = 0; k < 2; k++) {
            drift_asym_stats s;
            asym_of(DRIFT_FAMILY_MEANSHIFT, ks[k], d, &s);
            CHECK_MSG(s.asym_median > 1e-3 && s.circ_median > 1e-4, "meanshift/%s d=%d: asym %.3g circ %.3g",
                      drift_kernel_name(ks[k]), d, s.asym_median, s.circ_median);
            asym_of(DRIFT_FAMILY_DENG, ks[k], d, &s);
            CHECK_MSG(s.asym_median > 1e-3, "deng/%s d=%d: asym %.3g", drift_kernel_name(ks[k]), d, s.asym_median);
        }
}

/* In 2-D the three measurements describe one number: ‖J − Jᵀ‖_F = √2 |curl|, and the mean
 * curl through a small circle is the curl at its centre (up to O(ρ²)). */
static void test_measurements_agree_in_2d(void)
{
    drift_field_config c = cfg_of(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_LAPLACE, 0.5);
    drift_sim_clouds cl = clouds(2);
    drift_curl_grid g;
    CHECK_OK(drift_curl_grid_compute(&c, &cl, -1.0, 1.0, -0.5, 0.5, 5, 3, 0, &g));
    CHECK(g.nx == 5 && g.ny == 3);
    double probes[15 * 2];
    for (int iy = 0; iy < 3; iy++)
        for (int ix = 0; ix < 5; ix++) {
            probes[(iy * 5 + ix) * 2] = -1.0 + 0.5 * ix;
            probes[(iy * 5 + ix) * 2 + 1] = -0.5 + 0.5 * iy;
        }
    drift_asym_options o;
    drift_asym_options_init(&o);
    o.n_probes = 15;
    o.probes = probes;
    o.loop_radius = 1e-3;
    double asym[15], circ[15], vp[15 * 2];
    drift_asym_stats s;
    CHECK_OK(drift_sim_asymmetry(&c, &cl, &o, &s, asym, circ));
    CHECK_OK(drift_sim_field_at(&c, &cl, probes, 15, vp));
    CHECK_CLOSE(s.length_scale, 0.5, 1e-15, 0);
    for (int k = 0; k < 15; k++) {
        /* both are relative to S = ‖J‖_F + ‖V‖/L */
        double scale = g.jnorm[k] + hypot(vp[2 * k], vp[2 * k + 1]) / 0.5, rel = fabs(g.curl[k]) / scale;
        CHECK_CLOSE(asym[k], sqrt(2.0) * rel, 1e-7, 1e-5);
        CHECK_CLOSE(circ[k], rel, 1e-6, 1e-3);
    }
    /* the grid's field is the field */
    double v[2];
    CHECK_OK(drift_sim_field_at(&c, &cl, probes + 2 * 7, 1, v));
    CHECK_CLOSE(g.v[7 * 2], v[0], 1e-15, 0);
    CHECK_CLOSE(g.v[7 * 2 + 1], v[1], 1e-15, 0);
    drift_curl_grid_free(&g);
}

/* Where one positive and one negative point dominate a gaussian field, V ≈ (y⁺ − y⁻)/τ² is
 * nearly constant: the two sides' Jacobians cancel and ‖J‖_F is ~0. The asymmetry must still
 * read as rounding-level for the conservative families (dividing by ‖J‖_F alone gave ~1 for
 * sparse 8-D clouds at τ = 0.3), and stay clearly non-zero for laplace meanshift. */
static void test_cancelling_jacobians(void)
{
    enum { D = 8, P = 48 };
    static double pos[P * D], neg[P * D];
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    for (int i = 0; i < P * D; i++) pos[i] = (i % D == 0 ? (i / D % 2 ? 2.0 : -2.0) : 0.0) + 0.5 * drift_rng_normal(&r);
    for (int i = 0; i < P * D; i++) neg[i] = drift_rng_normal(&r);
    drift_sim_clouds cl = {.d = D, .p = P, .pos = pos, .m = P, .neg = neg};
    const double one_pos[D] = {0}, one_neg[D] = {1.0, 0.5};
    drift_sim_clouds pair = {.d = D, .p = 1, .pos = one_pos, .m = 1, .neg = one_neg};
    drift_asym_options o;
    drift_asym_options_init(&o);
    o.n_probes = 48;
    const drift_family fams[3] = {DRIFT_FAMILY_KDEGRAD, DRIFT_FAMILY_SHARP, DRIFT_FAMILY_MEANSHIFT};
    for (int f = 0; f < 3; f++) {
        drift_field_config c = cfg_of(fams[f], DRIFT_KERNEL_GAUSSIAN, 0.3);
        drift_asym_stats s;
        CHECK_OK(drift_sim_asymmetry(&c, &cl, &o, &s, NULL, NULL));
        CHECK_MSG(s.asym_max < 1e-6 && s.circ_max < 1e-6, "%s/gaussian 8-D: asym %.3g circ %.3g",
                  drift_family_name(fams[f]), s.asym_max, s.circ_max);
        CHECK_OK(drift_sim_asymmetry(&c, &pair, &o, &s, NULL, NULL));
        CHECK_MSG(s.asym_max < 1e-6 && s.circ_max < 1e-6, "%s/gaussian one pair: asym %.3g circ %.3g",
                  drift_family_name(fams[f]), s.asym_max, s.circ_max);
    }
    drift_field_config c = cfg_of(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_LAPLACE, 0.3);
    drift_asym_stats s;
    CHECK_OK(drift_sim_asymmetry(&c, &cl, &o, &s, NULL, NULL));
    CHECK_MSG(s.asym_median > 1e-3, "meanshift/laplace 8-D: asym %.3g", s.asym_median);
}

static void test_curl_grid_zero_and_nonzero(void)
{
    drift_sim_clouds cl = clouds(2);
    struct { drift_family f; drift_kernel k; int conservative; } cases[] = {
        {DRIFT_FAMILY_KDEGRAD, DRIFT_KERNEL_LAPLACE, 1}, {DRIFT_FAMILY_SHARP, DRIFT_KERNEL_RQ, 1},
        {DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, 1}, {DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_LAPLACE, 0},
        {DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_RQ, 0}, {DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        drift_field_config c = cfg_of(cases[i].f, cases[i].k, 0.5);
        drift_curl_grid g;
        CHECK_OK(drift_curl_grid_compute(&c, &cl, -2, 2, -2, 2, 9, 9, 0, &g));
        if (cases[i].conservative)
            CHECK_MSG(g.max_rel_curl < 1e-6, "%s/%s: %.3g", drift_family_name(cases[i].f), drift_kernel_name(cases[i].k), g.max_rel_curl);
        else
            CHECK_MSG(g.max_rel_curl > 1e-2, "%s/%s: %.3g", drift_family_name(cases[i].f), drift_kernel_name(cases[i].k), g.max_rel_curl);
        drift_curl_grid_free(&g);
    }
}

/* deng at one probe x is a batch of one query: A_t = K_t / sqrt(rowsum · K_t) = sqrt(K_t / rowsum),
 * V = Σ_pos A_j (Σ_neg A) (y_j − x) − Σ_neg A_l (Σ_pos A) (y_l − x). */
static void test_deng_single_query_convention(void)
{
    drift_field_config c = cfg_of(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0.7);
    drift_sim_clouds cl = clouds(2);
    const double x[4] = {0.1, -0.3, 1.2, 0.4};
    double v[4];
    CHECK_OK(drift_sim_field_at(&c, &cl, x, 2, v));
    for (int q = 0; q < 2; q++) {
        const double *xi = &x[2 * q];
        double kp[NP], kn[NM], row = 0;
        for (int j = 0; j < NP; j++) row += kp[j] = exp(-hypot(pos2[2 * j] - xi[0], pos2[2 * j + 1] - xi[1]) / 0.7);
        for (int l = 0; l < NM; l++) row += kn[l] = exp(-hypot(neg2[2 * l] - xi[0], neg2[2 * l + 1] - xi[1]) / 0.7);
        double sp = 0, sn = 0, ref[2] = {0, 0};
        for (int j = 0; j < NP; j++) sp += kp[j] = sqrt(kp[j] / row);
        for (int l = 0; l < NM; l++) sn += kn[l] = sqrt(kn[l] / row);
        for (int t = 0; t < 2; t++) {
            for (int j = 0; j < NP; j++) ref[t] += kp[j] * sn * (pos2[2 * j + t] - xi[t]);
            for (int l = 0; l < NM; l++) ref[t] -= kn[l] * sp * (neg2[2 * l + t] - xi[t]);
            CHECK_CLOSE(v[2 * q + t], ref[t], 1e-13, 1e-10);
        }
    }
}

static void test_errors(void)
{
    drift_field_config c = cfg_of(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_LAPLACE, 0.5);
    drift_sim_clouds c5 = clouds(5), c2 = clouds(2);
    drift_curl_grid g;
    CHECK(drift_curl_grid_compute(&c, &c5, -1, 1, -1, 1, 4, 4, 0, &g) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "2-D") != NULL);
    CHECK(drift_curl_grid_compute(&c, &c2, 1, -1, -1, 1, 4, 4, 0, &g) == DRIFT_EINVAL);
    CHECK(drift_curl_grid_compute(&c, &c2, -1, 1, -1, 1, 1, 4, 0, &g) == DRIFT_EINVAL);
    drift_sim_clouds none = c2;
    none.neg = NULL;
    none.m = 0;
    double v[2], x[2] = {0, 0};
    CHECK(drift_sim_field_at(&c, &none, x, 1, v) == DRIFT_EINVAL);
    drift_asym_options o;
    drift_asym_options_init(&o);
    o.n_probes = 0;
    drift_asym_stats s;
    CHECK(drift_sim_asymmetry(&c, &c2, &o, &s, NULL, NULL) == DRIFT_EINVAL);
    o.n_probes = 1;
    double nanprobe[2] = {NAN, 0};
    o.probes = nanprobe;
    CHECK(drift_sim_asymmetry(&c, &c2, &o, &s, NULL, NULL) == DRIFT_ENUMERIC);
    c.tau[0] = -1;
    CHECK(drift_curl_grid_compute(&c, &c2, -1, 1, -1, 1, 4, 4, 0, &g) == DRIFT_EINVAL);
}

int main(void)
{
    make_clouds();
    RUN(test_conservative_families_are_symmetric);
    RUN(test_non_conservative_families);
    RUN(test_measurements_agree_in_2d);
    RUN(test_cancelling_jacobians);
    RUN(test_curl_grid_zero_and_nonzero);
    RUN(test_deng_single_query_convention);
    RUN(test_errors);
    return TEST_SUMMARY();
}
