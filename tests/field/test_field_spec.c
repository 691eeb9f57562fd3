/* docs/MATH.md §6 checks 1–5 on the float64 reference, for every family × kernel, plus the deng
 * algorithm against a direct transcription of Deng et al.'s Algorithm 2 and of the
 * authors' released loss, and the numerical edge cases. */
#include "drift/error.h"
#include "field_test_util.h"
#include "test.h"

static const drift_kernel kernels[] = {DRIFT_KERNEL_GAUSSIAN, DRIFT_KERNEL_LAPLACE, DRIFT_KERNEL_RQ};
static const drift_family families[] = {DRIFT_FAMILY_DENG, DRIFT_FAMILY_MEANSHIFT, DRIFT_FAMILY_SHARP,
                                        DRIFT_FAMILY_KDEGRAD, DRIFT_FAMILY_MMD};

enum { N = 6, P = 9, M = 7, D = 3 };

/* Check 1: V_{p,q} = −V_{q,p}, with weights, every family (deng: every normalization). */
static void test_antisymmetry(void)
{
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    double x[N * D], a[P * D], b[P * D], wa[P], wb[P], v1[N * D], v2[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, a, P * D, 1.0, 0.3);
    fill_normal64(&r, b, P * D, 1.2, -0.2);
    for (int j = 0; j < P; j++) { wa[j] = 0.5 + drift_rng_uniform(&r); wb[j] = 0.5 + drift_rng_uniform(&r); }
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3; ki++)
            for (int dn = 0; dn < (families[fi] == DRIFT_FAMILY_DENG ? 3 : 1); dn++) {
                drift_field_config c = make_cfg(families[fi], kernels[ki], 0.8);
                c.deng_norm = (drift_deng_norm)dn;
                CHECK_OK(field64(&c, N, D, x, P, a, wa, P, b, wb, v1, NULL));
                CHECK_OK(field64(&c, N, D, x, P, b, wb, P, a, wa, v2, NULL));
                double err = 0;
                for (int k = 0; k < N * D; k++) err = fmax(err, fabs(v1[k] + v2[k]));
                CHECK_MSG(err < 1e-12 * (1 + max_abs(v1, N * D)) && max_abs(v1, N * D) > 1e-6,
                          "%s/%s/%d: |V+V'| = %g", drift_family_name(c.family), drift_kernel_name(c.kernel), dn, err);
            }
}

/* Check 2: identical positives and negatives give V = 0 (also the self-masked default). */
static void test_equilibrium(void)
{
    drift_rng r;
    drift_rng_init(&r, 12, 0);
    double x[N * D], a[P * D], w[P], v[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, a, P * D, 1.0, 0);
    for (int j = 0; j < P; j++) w[j] = 0.2 + drift_rng_uniform(&r);
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3; ki++)
            for (int dn = 0; dn < (families[fi] == DRIFT_FAMILY_DENG ? 3 : 1); dn++) {
                drift_field_config c = make_cfg(families[fi], kernels[ki], 0.7);
                c.deng_norm = (drift_deng_norm)dn;
                CHECK_OK(field64(&c, N, D, x, P, a, w, P, a, w, v, NULL));
                CHECK_MSG(max_abs(v, N * D) < 1e-12, "%s/%s: max |V| = %g", drift_family_name(c.family),
                          drift_kernel_name(c.kernel), max_abs(v, N * D));
            }
}

/* Finite-difference Jacobian of V at one query (explicit negatives, so V(x) depends on x only). */
static double jacobian_asymmetry(const drift_field_config *c, const double *x0, const double *a,
                                 const double *b, const double *w)
{
    double J[D][D], xp[D], xm[D], vp[D], vm[D];
    const double h = 1e-5;
    for (int k = 0; k < D; k++) {
        memcpy(xp, x0, sizeof xp);
        memcpy(xm, x0, sizeof xm);
        xp[k] += h;
        xm[k] -= h;
        field64(c, 1, D, xp, P, a, w, M, b, NULL, vp, NULL);
        field64(c, 1, D, xm, P, a, w, M, b, NULL, vm, NULL);
        for (int o = 0; o < D; o++) J[o][k] = (vp[o] - vm[o]) / (2 * h);
    }
    double asym = 0, norm = 0;
    for (int o = 0; o < D; o++)
        for (int k = 0; k < D; k++) {
            asym += (J[o][k] - J[k][o]) * (J[o][k] - J[k][o]);
            norm += J[o][k] * J[o][k];
        }
    return sqrt(asym) / sqrt(norm);
}

/* Check 3: conservative families have symmetric Jacobians and ∇Φ = V.
 * Check 4: meanshift is not conservative for laplace and rq, but is for the gaussian. */
static void test_conservatism(void)
{
    drift_rng r;
    drift_rng_init(&r, 13, 0);
    double a[P * D], b[M * D], w[P];
    fill_normal64(&r, a, P * D, 1.0, 0.2);
    fill_normal64(&r, b, M * D, 1.0, -0.2);
    for (int j = 0; j < P; j++) w[j] = 0.3 + drift_rng_uniform(&r);
    for (int trial = 0; trial < 4; trial++) {
        double x0[D];
        fill_normal64(&r, x0, D, 0.8, 0);
        for (int ki = 0; ki < 3; ki++) {
            for (int fi = 2; fi <= 4; fi++) { /* sharp, kdegrad, mmd */
                drift_field_config c = make_cfg(families[fi], kernels[ki], 0.9);
                double asym = jacobian_asymmetry(&c, x0, a, b, w);
                CHECK_MSG(asym < 1e-6, "%s/%s asymmetry %g", drift_family_name(c.family), drift_kernel_name(c.kernel), asym);
                /* ∇Φ = V by central differences of the potential */
                double v[D], phip, phim, xp[D], xm[D];
                CHECK_OK(field64(&c, 1, D, x0, P, a, w, M, b, NULL, v, &phip));
                for (int k = 0; k < D; k++) {
                    memcpy(xp, x0, sizeof xp); memcpy(xm, x0, sizeof xm);
                    xp[k] += 1e-5; xm[k] -= 1e-5;
                    double vv[D];
                    field64(&c, 1, D, xp, P, a, w, M, b, NULL, vv, &phip);
                    field64(&c, 1, D, xm, P, a, w, M, b, NULL, vv, &phim);
                    CHECK_CLOSE((phip - phim) / 2e-5, v[k], 1e-7, 1e-6);
                }
            }
            drift_field_config ms = make_cfg(DRIFT_FAMILY_MEANSHIFT, kernels[ki], 0.9);
            double asym = jacobian_asymmetry(&ms, x0, a, b, w);
            if (kernels[ki] == DRIFT_KERNEL_GAUSSIAN)
                CHECK_MSG(asym < 1e-6, "gaussian meanshift asymmetry %g", asym);
            else
                CHECK_MSG(asym > 1e-3, "%s meanshift asymmetry only %g", drift_kernel_name(ms.kernel), asym);
        }
    }
    /* the potential is refused for a non-conservative family */
    drift_field_config c = make_cfg(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_LAPLACE, 1.0);
    double x0[D] = {0}, v[D], phi;
    CHECK(field64(&c, 1, D, x0, P, a, w, M, b, NULL, v, &phi) == DRIFT_EINVAL);
}

/* Check 4b: gaussian meanshift = τ² · kdegrad. */
static void test_gaussian_meanshift_is_scaled_kdegrad(void)
{
    drift_rng r;
    drift_rng_init(&r, 14, 0);
    double x[N * D], a[P * D], b[M * D], v1[N * D], v2[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, a, P * D, 1.0, 0.5);
    fill_normal64(&r, b, M * D, 1.0, 0);
    const double tau = 0.6;
    drift_field_config ms = make_cfg(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, tau);
    drift_field_config kg = make_cfg(DRIFT_FAMILY_KDEGRAD, DRIFT_KERNEL_GAUSSIAN, tau);
    CHECK_OK(field64(&ms, N, D, x, P, a, NULL, M, b, NULL, v1, NULL));
    CHECK_OK(field64(&kg, N, D, x, P, a, NULL, M, b, NULL, v2, NULL));
    for (int k = 0; k < N * D; k++) CHECK_CLOSE(v1[k], tau * tau * v2[k], 1e-12, 1e-10);
}

/* Check 5: sharp with κ equals kdegrad with κ#. kdegrad with κ# is written out here from
 * scratch: ∇ log Σ w κ#(r_j) with κ#'(r) taken by finite differences of κ# in r. This also
 * checks the sharp kernels of §2 (their derivative must be −r κ(r)). */
static void test_sharp_is_kdegrad_of_sharp_kernel(void)
{
    drift_rng r;
    drift_rng_init(&r, 15, 0);
    double x[N * D], a[P * D], w[P], v[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, a, P * D, 1.0, 0.5);
    for (int j = 0; j < P; j++) w[j] = 0.5 + drift_rng_uniform(&r);
    for (int ki = 0; ki < 3; ki++) {
        const double tau = 0.7, al = 2.5;
        drift_field_config c = make_cfg(DRIFT_FAMILY_SHARP, kernels[ki], tau);
        c.rq_alpha = al;
        c.neg_scale = 0; /* attraction side only */
        double xn[D] = {50, 50, 50};
        CHECK_OK(field64(&c, N, D, x, P, a, w, 1, xn, NULL, v, NULL));
        for (int i = 0; i < N; i++) {
            double num[D] = {0}, den = 0;
            for (int j = 0; j < P; j++) {
                double rr = 0;
                for (int k = 0; k < D; k++) rr += (x[i * D + k] - a[j * D + k]) * (x[i * D + k] - a[j * D + k]);
                rr = sqrt(rr);
                double ks = exp(drift_kernel_log_sharp(kernels[ki], rr, tau, al));
                double h = 1e-6;
                double dks = (exp(drift_kernel_log_sharp(kernels[ki], rr + h, tau, al)) -
                              exp(drift_kernel_log_sharp(kernels[ki], rr - h, tau, al))) / (2 * h);
                CHECK_CLOSE(dks, -rr * exp(drift_kernel_log(kernels[ki], rr, tau, al)), 1e-8, 1e-6);
                for (int k = 0; k < D; k++) num[k] += w[j] * (-dks / rr) * (a[j * D + k] - x[i * D + k]);
                den += w[j] * ks;
            }
            for (int k = 0; k < D; k++) CHECK_CLOSE(v[i * D + k], num[k] / den, 1e-8, 1e-6);
        }
    }
    /* and for the gaussian, whose sharp kernel is τ²κ, sharp = kdegrad exactly */
    drift_field_config s = make_cfg(DRIFT_FAMILY_SHARP, DRIFT_KERNEL_GAUSSIAN, 0.5);
    drift_field_config k = make_cfg(DRIFT_FAMILY_KDEGRAD, DRIFT_KERNEL_GAUSSIAN, 0.5);
    double v2[N * D];
    CHECK_OK(field64(&s, N, D, x, P, a, w, 0, NULL, NULL, v, NULL));
    CHECK_OK(field64(&k, N, D, x, P, a, w, 0, NULL, NULL, v2, NULL));
    for (int q = 0; q < N * D; q++) CHECK_CLOSE(v[q], v2[q], 1e-12, 1e-10);
}

/* The rq kernel with α ≤ 1 has no sharp kernel: an error, not a fallback. */
static void test_sharp_needs_a_sharp_kernel(void)
{
    drift_field_config c = make_cfg(DRIFT_FAMILY_SHARP, DRIFT_KERNEL_RQ, 1.0);
    c.rq_alpha = 1.0;
    CHECK(drift_field_config_check(&c) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "no sharp kernel") != NULL);
    c.family = DRIFT_FAMILY_MEANSHIFT;
    CHECK(drift_field_config_check(&c) == DRIFT_OK);
}

/* Deng et al. Algorithm 2, transcribed directly (plain form, docs/MATH.md §3): T = [X; Y⁺], K with the
 * self entries zeroed, A = K / sqrt(rowsum·colsum), and the y_j / x_l form of V. */
static void algorithm2(int n, int p, int d, const double *x, const double *y, double tau, int norm, double *v)
{
    int T = n + p;
    double *K = calloc((size_t)n * T, sizeof(double)), *rs = calloc(n, sizeof(double)), *cs = calloc(T, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < T; j++) {
            const double *t = j < n ? &x[j * d] : &y[(j - n) * d];
            double r2 = 0;
            for (int k = 0; k < d; k++) r2 += (x[i * d + k] - t[k]) * (x[i * d + k] - t[k]);
            K[i * T + j] = (j == i) ? 0.0 : exp(-sqrt(r2) / tau);
            rs[i] += K[i * T + j];
            cs[j] += K[i * T + j];
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < T; j++)
            K[i * T + j] /= norm == 0 ? sqrt(rs[i] * cs[j]) : norm == 1 ? rs[i] : 1.0;
    for (int i = 0; i < n; i++) {
        double sneg = 0, spos = 0;
        for (int l = 0; l < n; l++) sneg += K[i * T + l];
        for (int j = 0; j < p; j++) spos += K[i * T + n + j];
        for (int k = 0; k < d; k++) {
            double s = 0;
            for (int j = 0; j < p; j++) s += K[i * T + n + j] * sneg * y[j * d + k];
            for (int l = 0; l < n; l++) s -= K[i * T + l] * spos * x[l * d + k];
            v[i * d + k] = s;
        }
    }
    free(K); free(rs); free(cs);
}

static void test_deng_matches_algorithm2(void)
{
    drift_rng r;
    drift_rng_init(&r, 16, 0);
    double x[N * D], y[P * D], v[N * D], ref[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, y, P * D, 1.0, 0.5);
    for (int norm = 0; norm < 3; norm++) {
        drift_field_config c = make_cfg(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0.8);
        c.deng_norm = (drift_deng_norm)norm;
        CHECK_OK(field64(&c, N, D, x, P, y, NULL, 0, NULL, NULL, v, NULL));
        algorithm2(N, P, D, x, y, 0.8, norm, ref);
        for (int k = 0; k < N * D; k++) CHECK_CLOSE(v[k], ref[k], 1e-12, 1e-9);
    }
}

/* The authors' released loss (docs/MATH.md §3.1 (a)–(f)), transcribed step by step as their
 * code computes it: targets [gen; extra neg; pos] with weights, distances normalized by the
 * weighted mean, +100 on the gen–gen diagonal, A = sqrt(clip(softmax_row·softmax_col, 1e-6))·w,
 * force per temperature divided by its RMS, summed; returned in data units (× scale_inputs). */
static void released_deng(int n, int e, int p, int d, const double *x, const double *xe, const double *we,
                          const double *y, const double *wy, const double *taus, int ntau, double *v)
{
    int T = n + e + p;
    double *tg = calloc((size_t)T * d, sizeof(double)), *tw = calloc(T, sizeof(double));
    double *dist = calloc((size_t)n * T, sizeof(double)), *lg = calloc((size_t)n * T, sizeof(double));
    double *A = calloc((size_t)n * T, sizeof(double)), *f = calloc((size_t)n * d, sizeof(double));
    memcpy(tg, x, sizeof(double) * n * d);
    memcpy(tg + n * d, xe, sizeof(double) * e * d);
    memcpy(tg + (n + e) * d, y, sizeof(double) * p * d);
    for (int j = 0; j < T; j++) tw[j] = j < n ? 1.0 : j < n + e ? we[j - n] : wy[j - n - e];
    double wsum = 0, wdist = 0;
    for (int j = 0; j < T; j++) wsum += tw[j];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < T; j++) {
            double r2 = 0;
            for (int k = 0; k < d; k++) r2 += (x[i * d + k] - tg[j * d + k]) * (x[i * d + k] - tg[j * d + k]);
            dist[i * T + j] = sqrt(r2);
            wdist += dist[i * T + j] * tw[j];
        }
    double scale = (wdist / ((double)n * T)) / (wsum / T);
    double scale_inputs = scale / sqrt((double)d);
    for (int q = 0; q < n * d; q++) v[q] = 0;
    for (int t = 0; t < ntau; t++) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < T; j++)
                lg[i * T + j] = -(dist[i * T + j] / scale + (j == i ? 100.0 : 0.0)) / taus[t];
        for (int i = 0; i < n; i++) { /* row softmax */
            double mx = -INFINITY, s = 0;
            for (int j = 0; j < T; j++) mx = fmax(mx, lg[i * T + j]);
            for (int j = 0; j < T; j++) s += exp(lg[i * T + j] - mx);
            for (int j = 0; j < T; j++) A[i * T + j] = exp(lg[i * T + j] - mx) / s;
        }
        for (int j = 0; j < T; j++) { /* column softmax, multiplied in, clipped, sqrt, weights */
            double mx = -INFINITY, s = 0;
            for (int i = 0; i < n; i++) mx = fmax(mx, lg[i * T + j]);
            for (int i = 0; i < n; i++) s += exp(lg[i * T + j] - mx);
            for (int i = 0; i < n; i++) {
                double prod = A[i * T + j] * exp(lg[i * T + j] - mx) / s;
                A[i * T + j] = sqrt(fmax(prod, 1e-6)) * tw[j];
            }
        }
        double ms = 0;
        for (int i = 0; i < n; i++) {
            double spos = 0, sneg = 0;
            for (int j = 0; j < n + e; j++) sneg += A[i * T + j];
            for (int j = n + e; j < T; j++) spos += A[i * T + j];
            double tot = 0;
            for (int k = 0; k < d; k++) f[i * d + k] = 0;
            for (int j = 0; j < T; j++) {
                double coef = j < n + e ? -A[i * T + j] * spos : A[i * T + j] * sneg;
                tot += coef;
                for (int k = 0; k < d; k++) f[i * d + k] += coef * tg[j * d + k] / scale_inputs;
            }
            for (int k = 0; k < d; k++) {
                f[i * d + k] -= tot * x[i * d + k] / scale_inputs;
                ms += f[i * d + k] * f[i * d + k];
            }
        }
        ms /= (double)n * d;
        double fs = sqrt(fmax(ms, 1e-8));
        for (int q = 0; q < n * d; q++) v[q] += f[q] / fs;
    }
    for (int q = 0; q < n * d; q++) v[q] *= scale_inputs;
    free(tg); free(tw); free(dist); free(lg); free(A); free(f);
}

static void test_deng_matches_released_loss(void)
{
    drift_rng r;
    drift_rng_init(&r, 17, 0);
    enum { E = 4, DD = 5 };
    double x[N * DD], xe[E * DD], we[E], y[P * DD], wy[P], v[N * DD], ref[N * DD];
    fill_normal64(&r, x, N * DD, 1.0, 0);
    fill_normal64(&r, xe, E * DD, 1.0, 0.3);
    fill_normal64(&r, y, P * DD, 1.0, 0.6);
    for (int j = 0; j < E; j++) we[j] = 0.2 + drift_rng_uniform(&r);
    for (int j = 0; j < P; j++) wy[j] = 0.5 + drift_rng_uniform(&r);
    double taus[3] = {0.02, 0.05, 0.2};
    drift_field_config c = make_cfg(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0.02);
    drift_field_config_deng_released(&c);
    c.n_tau = 3;
    memcpy(c.tau, taus, sizeof taus);
    drift_field_batch64 b = {.n = N, .d = DD, .x = x, .p = P, .pos = y, .pos_w = wy, .e = E, .extra = xe, .extra_w = we};
    drift_field_result res;
    memset(&res, 0, sizeof res);
    res.v = v;
    CHECK_OK(drift_field_compute_f64(&c, &b, &res));
    released_deng(N, E, P, DD, x, xe, we, y, wy, taus, 3, ref);
    for (int k = 0; k < N * DD; k++) CHECK_CLOSE(v[k], ref[k], 1e-12, 1e-9);
    CHECK(res.feature_scale > 0 && res.mean_dist > 0);
}

/* Far-apart points, duplicates, a single row, D = 1: finite results, no NaN. */
static void test_numerical_edge_cases(void)
{
    double x[2] = {0.0, 1000.0}, y[2] = {5000.0, -3000.0}, v[2];
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3; ki++) {
            drift_field_config c = make_cfg(families[fi], kernels[ki], 0.01);
            CHECK_OK(field64(&c, 2, 1, x, 2, y, NULL, 0, NULL, NULL, v, NULL));
            CHECK(isfinite(v[0]) && isfinite(v[1]));
            if (families[fi] == DRIFT_FAMILY_MEANSHIFT || families[fi] == DRIFT_FAMILY_SHARP) {
                /* x0 = 0 sees x1 = 1000 as its only negative (self masked) and y = -3000 as nearest positive */
                CHECK(v[0] < 0);
            }
            /* a single query: self-masking leaves no negatives */
            CHECK_OK(field64(&c, 1, 1, x, 2, y, NULL, 0, NULL, NULL, v, NULL));
            CHECK(isfinite(v[0]));
            /* duplicated points everywhere */
            double dup[3] = {1.0, 1.0, 1.0};
            double v3[3];
            CHECK_OK(field64(&c, 3, 1, dup, 3, dup, NULL, 0, NULL, NULL, v3, NULL));
            CHECK(isfinite(v3[0]) && isfinite(v3[1]) && isfinite(v3[2]));
        }
    /* meanshift far from everything points at the nearest positive, exactly */
    drift_field_config c = make_cfg(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, 0.01);
    double q[1] = {0.0}, pp[2] = {100.0, 300.0}, vv[1], nn[1] = {-1e4};
    CHECK_OK(field64(&c, 1, 1, q, 2, pp, NULL, 1, nn, NULL, vv, NULL));
    CHECK_CLOSE(vv[0], 100.0 - (-1e4 - 0.0), 1e-9, 1e-12);
}

static void test_bad_inputs(void)
{
    double x[4] = {0, 1, NAN, 3}, y[4] = {0, 1, 2, 3}, v[4];
    drift_field_config c = make_cfg(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, 1.0);
    CHECK(field64(&c, 2, 2, x, 2, y, NULL, 0, NULL, NULL, v, NULL) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "NaN") != NULL);
    x[2] = 2;
    double w[2] = {-1, 1};
    CHECK(field64(&c, 2, 2, x, 2, y, w, 0, NULL, NULL, v, NULL) == DRIFT_EINVAL);
    double wz[2] = {0, 0};
    CHECK(field64(&c, 2, 2, x, 2, y, wz, 0, NULL, NULL, v, NULL) == DRIFT_EINVAL);
    c.tau[0] = -1;
    CHECK(field64(&c, 2, 2, x, 2, y, NULL, 0, NULL, NULL, v, NULL) == DRIFT_EINVAL);
    c.tau[0] = 1;
    c.deng_floor = 1;
    CHECK(field64(&c, 2, 2, x, 2, y, NULL, 0, NULL, NULL, v, NULL) == DRIFT_EINVAL);
    drift_family f;
    CHECK(drift_family_parse("meanshif", &f) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "kdegrad") != NULL);
}

/* Multi-temperature fields sum; drift normalization makes each temperature's RMS 1. */
static void test_multi_temperature_and_drift_norm(void)
{
    drift_rng r;
    drift_rng_init(&r, 18, 0);
    double x[N * D], a[P * D], v1[N * D], v2[N * D], vs[N * D];
    fill_normal64(&r, x, N * D, 1.0, 0);
    fill_normal64(&r, a, P * D, 1.0, 1.0);
    drift_field_config c = make_cfg(DRIFT_FAMILY_SHARP, DRIFT_KERNEL_LAPLACE, 0.3);
    CHECK_OK(field64(&c, N, D, x, P, a, NULL, 0, NULL, NULL, v1, NULL));
    c.tau[0] = 1.1;
    CHECK_OK(field64(&c, N, D, x, P, a, NULL, 0, NULL, NULL, v2, NULL));
    c.n_tau = 2; c.tau[0] = 0.3; c.tau[1] = 1.1;
    CHECK_OK(field64(&c, N, D, x, P, a, NULL, 0, NULL, NULL, vs, NULL));
    for (int k = 0; k < N * D; k++) CHECK_CLOSE(vs[k], v1[k] + v2[k], 1e-12, 1e-10);
    c.drift_norm = 1;
    c.n_tau = 1;
    drift_field_batch64 b = {.n = N, .d = D, .x = x, .p = P, .pos = a};
    drift_field_result res;
    memset(&res, 0, sizeof res);
    res.v = vs;
    CHECK_OK(drift_field_compute_f64(&c, &b, &res));
    CHECK_CLOSE(res.rms, 1.0, 1e-12, 1e-10);
    CHECK(res.tau_rms[0] > 0);
}

int main(void)
{
    RUN(test_antisymmetry);
    RUN(test_equilibrium);
    RUN(test_conservatism);
    RUN(test_gaussian_meanshift_is_scaled_kdegrad);
    RUN(test_sharp_is_kdegrad_of_sharp_kernel);
    RUN(test_sharp_needs_a_sharp_kernel);
    RUN(test_deng_matches_algorithm2);
    RUN(test_deng_matches_released_loss);
    RUN(test_numerical_edge_cases);
    RUN(test_bad_inputs);
    RUN(test_multi_temperature_and_drift_norm);
    return TEST_SUMMARY();
}
