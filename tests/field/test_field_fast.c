/* docs/MATH.md §6 check 6: the float32 fast path (drift_field_compute) agrees with the float64
 * reference (drift_field_compute_f64) — every family × kernel, deng's normalizations and the
 * released-loss options, self-masking / explicit negatives / extra negatives with weights,
 * feature and drift normalization, several temperatures, potentials, diagnostics and the
 * scalars — at sizes that exercise the direct (small d) and the GEMM (large d) paths and
 * several query blocks. The same with skip_tau_rms (temperatures summed into one field
 * product when there is no drift normalization). Then: blocking and thread count do not
 * change the result, numerical edge cases stay finite and right, bad input is refused, and
 * the vectorized exp/log are accurate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/field.h"
#include "drift/rng.h"
#include "field/vexp.h"
#include "test.h"

/* Accuracy targets (float32 against float64): field max error ≤ V_RTOL · RMS(V_ref); log
 * quantities (potentials of log form, log-masses) absolute LOG_ATOL · (1 + scale). */
#define V_RTOL 1e-4
#define LOG_ATOL 2e-5

typedef struct {
    int64_t n, d, p, m, e;
    float *x, *pos, *pw, *neg, *nw, *extra, *ew; /* m = 0: self-masked; e = 0: no extra */
} batch32;

static void batch_free(batch32 *b)
{
    free(b->x); free(b->pos); free(b->pw); free(b->neg); free(b->nw); free(b->extra); free(b->ew);
}

static float *normal_rows(drift_rng *r, int64_t rows, int64_t d, float scale, float shift)
{
    float *a = malloc((size_t)(rows * d + 1) * sizeof(float));
    for (int64_t k = 0; k < rows * d; k++) a[k] = shift + scale * (float)drift_rng_normal(r);
    return a;
}

static float *weights(drift_rng *r, int64_t count, float lo)
{
    float *w = malloc((size_t)(count + 1) * sizeof(float));
    for (int64_t j = 0; j < count; j++) w[j] = lo + (float)drift_rng_uniform(r);
    return w;
}

/* neg_mode 0: self-masked; 1: explicit weighted negatives; 2: self-masked + weighted extras */
static batch32 make_batch(uint64_t seed, int64_t n, int64_t d, int64_t p, int neg_mode)
{
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    batch32 b = {.n = n, .d = d, .p = p};
    b.x = normal_rows(&r, n, d, 1.0f, 0.0f);
    b.pos = normal_rows(&r, p, d, 1.1f, 0.4f);
    b.pw = weights(&r, p, 0.5f);
    if (neg_mode == 1) {
        b.m = n + 2;
        b.neg = normal_rows(&r, b.m, d, 0.9f, -0.2f);
        b.nw = weights(&r, b.m, 0.3f);
    } else if (neg_mode == 2) {
        b.e = 5;
        b.extra = normal_rows(&r, b.e, d, 1.2f, 0.3f);
        b.ew = weights(&r, b.e, 0.1f);
    }
    return b;
}

static double *to64(const float *a, int64_t count)
{
    if (!a) return NULL;
    double *o = malloc((size_t)(count + 1) * sizeof(double));
    for (int64_t k = 0; k < count; k++) o[k] = a[k];
    return o;
}

typedef struct {
    int status;
    double *v, *phi, *lpm, *lnm, *ess;
    drift_field_result res;
} outputs;

static void outputs_free(outputs *o)
{
    free(o->v); free(o->phi); free(o->lpm); free(o->lnm); free(o->ess);
}

/* Run one path with every output requested (the potential where the family has one). */
static outputs run_path(const drift_field_config *c, const batch32 *b, int f64)
{
    outputs o;
    memset(&o, 0, sizeof o);
    const int64_t n = b->n, d = b->d, nt = c->n_tau;
    o.v = calloc((size_t)(n * d), sizeof(double));
    o.lpm = calloc((size_t)(n * nt), sizeof(double));
    o.lnm = calloc((size_t)(n * nt), sizeof(double));
    o.ess = calloc((size_t)(n * nt), sizeof(double));
    if (drift_family_is_conservative(c->family)) o.phi = calloc((size_t)n, sizeof(double));
    o.res.potential = o.phi;
    o.res.log_pos_mass = o.lpm;
    o.res.log_neg_mass = o.lnm;
    o.res.pos_ess = o.ess;
    if (f64) {
        double *x = to64(b->x, n * d), *pos = to64(b->pos, b->p * d), *pw = to64(b->pw, b->p);
        double *neg = to64(b->neg, b->m * d), *nw = to64(b->nw, b->m);
        double *ex = to64(b->extra, b->e * d), *ew = to64(b->ew, b->e);
        drift_field_batch64 bb = {.n = n, .d = d, .x = x, .p = b->p, .pos = pos, .pos_w = pw,
                                  .m = b->m, .neg = neg, .neg_w = nw, .e = b->e, .extra = ex, .extra_w = ew};
        o.res.v = o.v;
        o.status = drift_field_compute_f64(c, &bb, &o.res);
        free(x); free(pos); free(pw); free(neg); free(nw); free(ex); free(ew);
    } else {
        float *v = calloc((size_t)(n * d), sizeof(float));
        drift_field_batch bb = {.n = n, .d = d, .x = b->x, .p = b->p, .pos = b->pos, .pos_w = b->pw,
                                .m = b->m, .neg = b->neg, .neg_w = b->nw, .e = b->e, .extra = b->extra, .extra_w = b->ew};
        o.res.v = v;
        o.status = drift_field_compute(c, &bb, &o.res);
        for (int64_t k = 0; k < n * d; k++) o.v[k] = v[k];
        free(v);
    }
    return o;
}

static double rms_of(const double *a, int64_t count)
{
    double s = 0;
    for (int64_t k = 0; k < count; k++) s += a[k] * a[k];
    return sqrt(s / (double)count);
}

static double worst_field_err = 0; /* largest error / RMS seen, reported at the end */

/* Compare every output of the fast path with the reference; `what` names the case. With
 * c->skip_tau_rms the fast path must report NaN per-temperature RMS, and the reference runs
 * without the option (its per-temperature RMS sets the tolerance). */
static void compare(const drift_field_config *c, const batch32 *b, const char *what)
{
    drift_field_config cref = *c;
    cref.skip_tau_rms = 0;
    outputs f = run_path(c, b, 0), r = run_path(&cref, b, 1);
    CHECK_MSG(f.status == 0 && r.status == 0, "%s: status fast %d ref %d: %s", what, f.status, r.status, drift_last_error());
    if (f.status || r.status) goto done;
    const int64_t n = b->n, d = b->d, nt = c->n_tau;
    double vrms = rms_of(r.v, n * d), err = 0;
    for (int64_t k = 0; k < n * d; k++) err = fmax(err, fabs(f.v[k] - r.v[k]));
    /* V is a sum over temperatures of terms V_τ/λ_τ; rounding is relative to the terms, which
     * can cancel (one query in 1-D with drift normalization: ±s ∓ s = 0 exactly). So the
     * tolerance is relative to Σ_τ RMS(V_τ/λ_τ), which is ≥ RMS(V) and equal to it without
     * cancellation. */
    double terms = 0;
    for (int t = 0; t < nt; t++) {
        double msw = pow(r.res.tau_rms[t] / r.res.feature_scale, 2);
        terms += r.res.tau_rms[t] / (c->drift_norm ? sqrt(fmax(msw, 1e-8)) : 1.0);
    }
    const double tol = V_RTOL * terms + 1e-30; /* a field that is 0 in the reference must be 0 */
    if (vrms > 1e-3 * terms && err / vrms > worst_field_err) worst_field_err = err / vrms;
    CHECK_MSG(err <= tol, "%s: max |V - Vref| = %.3g, RMS(Vref) = %.3g, terms %.3g", what, err, vrms, terms);
    CHECK_MSG(fabs(f.res.rms - r.res.rms) <= tol, "%s: rms %.9g vs %.9g", what, f.res.rms, r.res.rms);
    for (int t = 0; t < nt; t++)
        if (c->skip_tau_rms)
            CHECK_MSG(isnan(f.res.tau_rms[t]), "%s: tau_rms[%d] = %.9g, want NaN (skipped)", what, t, f.res.tau_rms[t]);
        else
            CHECK_MSG(fabs(f.res.tau_rms[t] - r.res.tau_rms[t]) <= V_RTOL * r.res.tau_rms[t] + 1e-30,
                      "%s: tau_rms[%d] %.9g vs %.9g", what, t, f.res.tau_rms[t], r.res.tau_rms[t]);
    CHECK_MSG(fabs(f.res.feature_scale - r.res.feature_scale) <= 1e-6 * r.res.feature_scale, "%s: feature_scale %.9g vs %.9g",
              what, f.res.feature_scale, r.res.feature_scale);
    CHECK_MSG(fabs(f.res.mean_dist - r.res.mean_dist) <= 1e-6 * r.res.mean_dist, "%s: mean_dist %.9g vs %.9g", what,
              f.res.mean_dist, r.res.mean_dist);
    if (f.phi) {
        double scale = 0, perr = 0;
        for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(r.phi[i]));
        for (int64_t i = 0; i < n; i++) perr = fmax(perr, fabs(f.phi[i] - r.phi[i]));
        CHECK_MSG(perr <= LOG_ATOL * (1 + scale), "%s: potential error %.3g (scale %.3g)", what, perr, scale);
    }
    for (int64_t k = 0; k < n * nt; k++) {
        int same_inf = (isinf(f.lpm[k]) && f.lpm[k] == r.lpm[k]);
        CHECK_MSG(same_inf || fabs(f.lpm[k] - r.lpm[k]) <= LOG_ATOL * (1 + fabs(r.lpm[k])), "%s: log_pos_mass[%lld] %.9g vs %.9g",
                  what, (long long)k, f.lpm[k], r.lpm[k]);
        same_inf = (isinf(f.lnm[k]) && f.lnm[k] == r.lnm[k]);
        CHECK_MSG(same_inf || fabs(f.lnm[k] - r.lnm[k]) <= LOG_ATOL * (1 + fabs(r.lnm[k])), "%s: log_neg_mass[%lld] %.9g vs %.9g",
                  what, (long long)k, f.lnm[k], r.lnm[k]);
        CHECK_MSG(fabs(f.ess[k] - r.ess[k]) <= 1e-4 * r.ess[k] + 1e-12, "%s: pos_ess[%lld] %.9g vs %.9g", what, (long long)k,
                  f.ess[k], r.ess[k]);
    }
done:
    outputs_free(&f);
    outputs_free(&r);
}

static const drift_kernel kernels[] = {DRIFT_KERNEL_GAUSSIAN, DRIFT_KERNEL_LAPLACE, DRIFT_KERNEL_RQ};
static const drift_family families[] = {DRIFT_FAMILY_DENG, DRIFT_FAMILY_MEANSHIFT, DRIFT_FAMILY_SHARP,
                                        DRIFT_FAMILY_KDEGRAD, DRIFT_FAMILY_MMD};
/* deng variants: both, row, none, and the released loss (both + soft mask + floor) */
enum { DENG_VARIANTS = 4 };

/* A configuration with two temperatures scaled to the data (raw: fractions of the typical
 * distance √(2d); feature-normalized: fractions of the mean distance). */
static drift_field_config make_config(drift_family f, drift_kernel k, int deng_variant, int fnorm, int dnorm, int64_t d)
{
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = f;
    c.kernel = k;
    c.rq_alpha = 1.7;
    c.n_tau = 2;
    const double typical = fnorm ? 1.0 : sqrt(2.0 * (double)d);
    c.tau[0] = 0.15 * typical;
    c.tau[1] = 0.6 * typical;
    c.feature_norm = fnorm;
    c.drift_norm = dnorm;
    c.pos_scale = 1.0;
    c.neg_scale = 0.8;
    if (f == DRIFT_FAMILY_DENG) {
        c.deng_norm = deng_variant == 3 ? DRIFT_DENG_BOTH : (drift_deng_norm)deng_variant;
        c.deng_soft_mask = c.deng_floor = deng_variant == 3;
    }
    return c;
}

static void describe(char *buf, size_t len, const drift_field_config *c, int64_t n, int64_t d, int neg_mode)
{
    snprintf(buf, len, "n=%lld d=%lld %s/%s%s%s neg=%d fn=%d dn=%d ntau=%d skip=%d", (long long)n, (long long)d,
             drift_family_name(c->family), drift_kernel_name(c->kernel),
             c->family == DRIFT_FAMILY_DENG ? "/" : "", c->family == DRIFT_FAMILY_DENG ? (c->deng_floor ? "released" : drift_deng_norm_name(c->deng_norm)) : "",
             neg_mode, c->feature_norm, c->drift_norm, c->n_tau, c->skip_tau_rms);
}

/* skip_tau_rms without drift normalization: the combined path (one field product for all
 * temperatures). Three temperatures (a third, between the two of make_config), or one. */
static void set_combined(drift_field_config *c, int three_tau)
{
    c->skip_tau_rms = 1;
    c->drift_norm = 0;
    c->n_tau = three_tau ? 3 : 1;
    c->tau[2] = 0.3 * c->tau[1];
}

/* Every combination at a small size: (n, d, p). */
static void sweep_all(int64_t n, int64_t d, int64_t p, uint64_t seed)
{
    for (int neg_mode = 0; neg_mode < 3; neg_mode++) {
        batch32 b = make_batch(seed + (uint64_t)neg_mode, n, d, p, neg_mode);
        for (int fi = 0; fi < 5; fi++)
            for (int ki = 0; ki < 3; ki++)
                for (int dv = 0; dv < (families[fi] == DRIFT_FAMILY_DENG ? DENG_VARIANTS : 1); dv++)
                    for (int opt = 0; opt < 4; opt++) {
                        drift_field_config c = make_config(families[fi], kernels[ki], dv, opt & 1, opt >> 1, d);
                        char what[160];
                        describe(what, sizeof what, &c, n, d, neg_mode);
                        compare(&c, &b, what);
                    }
        batch_free(&b);
    }
}

static void test_all_combinations_small(void)
{
    sweep_all(1, 1, 4, 100);   /* a single query: self-masking leaves only extras */
    sweep_all(7, 3, 9, 200);   /* direct path */
    sweep_all(7, 784, 11, 300); /* GEMM path */
}

/* The combined path at the sizes of sweep_all: every family, kernel, deng variant and
 * negative mode, with and without feature normalization, 3 temperatures and 1. V and the
 * potentials must meet the same tolerances; tau_rms must be NaN. */
static void sweep_combined(int64_t n, int64_t d, int64_t p, uint64_t seed)
{
    for (int neg_mode = 0; neg_mode < 3; neg_mode++) {
        batch32 b = make_batch(seed + (uint64_t)neg_mode, n, d, p, neg_mode);
        for (int fi = 0; fi < 5; fi++)
            for (int ki = 0; ki < 3; ki++)
                for (int dv = 0; dv < (families[fi] == DRIFT_FAMILY_DENG ? DENG_VARIANTS : 1); dv++)
                    for (int opt = 0; opt < 3; opt++) { /* fnorm, 3 τ: (0, yes) (1, yes) (0, no) */
                        drift_field_config c = make_config(families[fi], kernels[ki], dv, opt == 1, 0, d);
                        set_combined(&c, opt < 2);
                        char what[160];
                        describe(what, sizeof what, &c, n, d, neg_mode);
                        compare(&c, &b, what);
                    }
        batch_free(&b);
    }
}

static void test_combined_small(void)
{
    sweep_combined(1, 1, 4, 150);
    sweep_combined(7, 3, 9, 250);
    sweep_combined(7, 784, 11, 350);
}

/* Larger sizes: every family × kernel once (deng: a different normalization per kernel, and
 * the released loss once more), the other options rotating with the case index. */
static void sweep_rotating(int64_t n, int64_t d, int64_t p, uint64_t seed, int block_rows, int combined)
{
    int idx = 0;
    batch32 bs[3];
    for (int neg_mode = 0; neg_mode < 3; neg_mode++) bs[neg_mode] = make_batch(seed + (uint64_t)neg_mode, n, d, p, neg_mode);
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3 + (families[fi] == DRIFT_FAMILY_DENG); ki++, idx++) {
            int neg_mode = idx % 3, opt = (idx / 3 + idx) % 4;
            drift_field_config c = make_config(families[fi], kernels[ki % 3], ki, opt & 1, opt >> 1, d);
            c.block_rows = block_rows;
            if (combined) set_combined(&c, 1);
            char what[160];
            describe(what, sizeof what, &c, n, d, neg_mode);
            compare(&c, &bs[neg_mode], what);
        }
    for (int neg_mode = 0; neg_mode < 3; neg_mode++) batch_free(&bs[neg_mode]);
}

static void test_all_families_larger(void)
{
    sweep_rotating(513, 3, 64, 400, 0, 0);  /* many blocks, direct path */
    sweep_rotating(70, 40, 45, 500, 0, 0);  /* GEMM path, distances cached in automatic mode */
    sweep_rotating(70, 40, 45, 600, 16, 0); /* GEMM path with fixed blocks, distances recomputed */
    /* the same, combined */
    sweep_rotating(513, 3, 64, 410, 0, 1);
    sweep_rotating(70, 40, 45, 510, 0, 1);
    sweep_rotating(70, 40, 45, 610, 16, 1);
}

/* With drift normalization every V_τ is formed anyway: skip_tau_rms changes nothing but
 * the report (the same bytes, on both paths), and tau_rms is NaN. */
static void test_skip_with_drift_norm(void)
{
    const int64_t dims[2] = {3, 40};
    for (int di = 0; di < 2; di++) {
        batch32 b = make_batch(1000 + (uint64_t)di, 40, dims[di], 30, 2);
        const drift_family fams[2] = {DRIFT_FAMILY_DENG, DRIFT_FAMILY_KDEGRAD};
        for (int fi = 0; fi < 2; fi++) {
            drift_field_config c = make_config(fams[fi], DRIFT_KERNEL_LAPLACE, 0, 1, 1, b.d);
            outputs a[2], r[2];
            for (int k = 0; k < 2; k++) {
                c.skip_tau_rms = k;
                a[k] = run_path(&c, &b, 0);
                r[k] = run_path(&c, &b, 1);
                CHECK_OK(a[k].status);
                CHECK_OK(r[k].status);
            }
            const size_t bytes = (size_t)(b.n * b.d) * sizeof(double);
            CHECK_MSG(memcmp(a[0].v, a[1].v, bytes) == 0, "d=%lld %s: fast V changed by skip_tau_rms", (long long)b.d,
                      drift_family_name(fams[fi]));
            CHECK_MSG(memcmp(r[0].v, r[1].v, bytes) == 0, "d=%lld %s: reference V changed by skip_tau_rms", (long long)b.d,
                      drift_family_name(fams[fi]));
            CHECK(a[0].res.rms == a[1].res.rms && r[0].res.rms == r[1].res.rms);
            if (a[0].phi) CHECK(memcmp(a[0].phi, a[1].phi, (size_t)b.n * sizeof(double)) == 0);
            for (int t = 0; t < c.n_tau; t++) {
                CHECK(a[0].res.tau_rms[t] > 0 && r[0].res.tau_rms[t] > 0);
                CHECK(isnan(a[1].res.tau_rms[t]) && isnan(r[1].res.tau_rms[t]));
            }
            for (int k = 0; k < 2; k++) {
                outputs_free(&a[k]);
                outputs_free(&r[k]);
            }
        }
        batch_free(&b);
    }
    /* and the reference honours the option without drift normalization too */
    batch32 b = make_batch(1010, 9, 5, 6, 0);
    drift_field_config c = make_config(DRIFT_FAMILY_SHARP, DRIFT_KERNEL_GAUSSIAN, 0, 0, 0, b.d);
    set_combined(&c, 1);
    outputs r = run_path(&c, &b, 1);
    CHECK_OK(r.status);
    for (int t = 0; t < c.n_tau; t++) CHECK(isnan(r.res.tau_rms[t]));
    CHECK(r.res.rms > 0);
    outputs_free(&r);
    batch_free(&b);
}

static float *run_fast_v(const drift_field_config *c, const batch32 *b, drift_field_result *res)
{
    float *v = calloc((size_t)(b->n * b->d), sizeof(float));
    drift_field_batch bb = {.n = b->n, .d = b->d, .x = b->x, .p = b->p, .pos = b->pos, .pos_w = b->pw,
                            .m = b->m, .neg = b->neg, .neg_w = b->nw, .e = b->e, .extra = b->extra, .extra_w = b->ew};
    memset(res, 0, sizeof *res);
    res->v = v;
    CHECK_OK(drift_field_compute(c, &bb, res));
    return v;
}

/* block_rows 1, 7, 64 and automatic agree, to rounding: on the GEMM path the distance
 * tiles have other shapes (and automatic mode caches them), which moves r² in the last bits
 * and the kernel exponents r/τ by about (r/τ)·1e-7; hence 1e-5 of the RMS. */
static void test_blocking(void)
{
    const int64_t dims[2] = {3, 40};
    for (int di = 0; di < 2; di++) {
        batch32 b = make_batch(700 + (uint64_t)di, 70, dims[di], 50, 2);
        for (int variant = 0; variant < 3; variant++) {
            drift_field_config c = variant == 0 ? make_config(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0, 0, 0, b.d)
                                 : variant == 1 ? make_config(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 3, 1, 1, b.d)
                                                : make_config(DRIFT_FAMILY_SHARP, DRIFT_KERNEL_RQ, 0, 1, 1, b.d);
            drift_field_result r0, r1;
            float *v0 = run_fast_v(&c, &b, &r0);
            const int blocks[3] = {1, 7, 64};
            for (int bi = 0; bi < 3; bi++) {
                c.block_rows = blocks[bi];
                float *v1 = run_fast_v(&c, &b, &r1);
                double err = 0;
                for (int64_t k = 0; k < b.n * b.d; k++) err = fmax(err, fabs((double)v1[k] - v0[k]));
                CHECK_MSG(err <= 1e-5 * r0.rms, "d=%lld variant %d block_rows %d: max diff %.3g (rms %.3g)", (long long)b.d,
                          variant, blocks[bi], err, r0.rms);
                CHECK_CLOSE(r1.tau_rms[1], r0.tau_rms[1], 0, 1e-5);
                free(v1);
            }
            free(v0);
        }
        batch_free(&b);
    }
}

/* Two runs give the same bytes, and so do 1 and 2 threads (exactly: every row, column
 * and block sum is computed by one thread in a fixed order, and the automatic block size
 * does not depend on the thread count). */
static void test_determinism(void)
{
    const int64_t dims[2] = {2, 64};
    const int saved = omp_get_max_threads();
    for (int di = 0; di < 4; di++) { /* 2, 3: the combined path (deng both, as bench/field) */
        batch32 b = make_batch(800 + (uint64_t)di, 300, dims[di % 2], 200, 2);
        drift_field_config c = di < 2 ? make_config(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 3, 1, 1, b.d)
                                      : make_config(DRIFT_FAMILY_DENG, DRIFT_KERNEL_LAPLACE, 0, 0, 0, b.d);
        c.n_tau = 3;
        c.tau[2] = di < 2 ? 0.05 : 0.3 * c.tau[1];
        c.skip_tau_rms = di >= 2;
        drift_field_result r;
        omp_set_num_threads(2);
        float *a = run_fast_v(&c, &b, &r), *a2 = run_fast_v(&c, &b, &r);
        omp_set_num_threads(1);
        float *s1 = run_fast_v(&c, &b, &r);
        omp_set_num_threads(saved);
        size_t bytes = (size_t)(b.n * b.d) * sizeof(float);
        CHECK_MSG(memcmp(a, a2, bytes) == 0, "d=%lld: two runs differ", (long long)b.d);
        CHECK_MSG(memcmp(a, s1, bytes) == 0, "d=%lld: 1 and 2 threads differ", (long long)b.d);
        free(a); free(a2); free(s1);
        batch_free(&b);
    }
}

static batch32 batch_from(int64_t n, int64_t d, const float *x, int64_t p, const float *y)
{
    batch32 b = {.n = n, .d = d, .p = p};
    b.x = malloc((size_t)(n * d) * sizeof(float));
    b.pos = malloc((size_t)(p * d) * sizeof(float));
    memcpy(b.x, x, (size_t)(n * d) * sizeof(float));
    memcpy(b.pos, y, (size_t)(p * d) * sizeof(float));
    return b;
}

/* Far-apart points (distances 1e3 with τ = 0.01), duplicates, a single row, D = 1: finite,
 * and still the reference's answer. */
static void test_edge_cases(void)
{
    float x[2] = {0.0f, 1000.0f}, y[2] = {5000.0f, -3000.0f}, dup[3] = {1.0f, 1.0f, 1.0f};
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3; ki++)
            for (int dv = 0; dv < (families[fi] == DRIFT_FAMILY_DENG ? DENG_VARIANTS : 1); dv++) {
                drift_field_config c = make_config(families[fi], kernels[ki], dv, 0, 0, 1);
                c.n_tau = 1;
                c.tau[0] = 0.01;
                char what[160];
                batch32 far = batch_from(2, 1, x, 2, y), one = batch_from(1, 1, x, 2, y), dd = batch_from(3, 1, dup, 3, dup);
                describe(what, sizeof what, &c, 2, 1, 0);
                compare(&c, &far, what);
                compare(&c, &one, what);
                compare(&c, &dd, what);
                batch_free(&far); batch_free(&one); batch_free(&dd);
            }

    /* duplicates and near-duplicates on the GEMM path, far from the origin: the self
     * pairs and exact duplicates must get r = 0 (laplace kdegrad is 0 there), and the
     * near pairs exact displacements */
    enum { n = 12, d = 48 };
    drift_rng r;
    drift_rng_init(&r, 900, 0);
    float xs[n * d], ys[n * d];
    for (int k = 0; k < n * d; k++) xs[k] = 1000.0f + (float)drift_rng_normal(&r);
    for (int k = 0; k < d; k++) xs[3 * d + k] = xs[2 * d + k];                  /* exact duplicate */
    for (int k = 0; k < d; k++) xs[5 * d + k] = xs[4 * d + k] + 1e-3f * (k % 3); /* near duplicate */
    for (int k = 0; k < n * d; k++) ys[k] = xs[k] + 0.5f * (float)drift_rng_normal(&r);
    for (int k = 0; k < d; k++) ys[k] = xs[7 * d + k]; /* a positive on top of a query */
    for (int fi = 0; fi < 5; fi++)
        for (int ki = 0; ki < 3; ki++) {
            drift_field_config c = make_config(families[fi], kernels[ki], 0, 0, 0, d);
            batch32 b = batch_from(n, d, xs, n, ys);
            char what[160];
            describe(what, sizeof what, &c, n, d, 0);
            strcat(what, " (duplicates at 1e3)");
            compare(&c, &b, what);
            batch_free(&b);
        }
}

static void test_bad_inputs(void)
{
    float x[4] = {0, 1, NAN, 3}, y[4] = {0, 1, 2, 3}, v[4];
    drift_field_config c = make_config(DRIFT_FAMILY_MEANSHIFT, DRIFT_KERNEL_GAUSSIAN, 0, 0, 0, 2);
    drift_field_batch b = {.n = 2, .d = 2, .x = x, .p = 2, .pos = y};
    drift_field_result res;
    memset(&res, 0, sizeof res);
    res.v = v;
    CHECK(drift_field_compute(&c, &b, &res) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "queries contains NaN") != NULL);
    x[2] = 2;
    y[1] = INFINITY;
    CHECK(drift_field_compute(&c, &b, &res) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "positives contains Inf") != NULL);
    y[1] = 1;
    float w[2] = {-1, 1};
    b.pos_w = w;
    CHECK(drift_field_compute(&c, &b, &res) == DRIFT_EINVAL);
    b.pos_w = NULL;
    double phi[2];
    res.potential = phi; /* meanshift has no potential */
    CHECK(drift_field_compute(&c, &b, &res) == DRIFT_EINVAL);
    res.potential = NULL;
    b.n = 0;
    CHECK(drift_field_compute(&c, &b, &res) == DRIFT_ESHAPE);
    CHECK(drift_field_compute(&c, NULL, &res) == DRIFT_EINVAL);
}

/* The vectorized exp and log against libm in double. */
static void test_vexp(void)
{
    double worst = 0;
    for (int k = 0; k <= 200000; k++) {
        float xv = -87.0f + 175.0f * (float)k / 200000.0f;
        double ref = exp((double)xv);
        worst = fmax(worst, fabs(vexpf(xv) - ref) / ref);
    }
    CHECK_MSG(worst < 2.5e-7, "vexpf max relative error %.3g", worst);
    CHECK(vexpf(-INFINITY) == 0.0f && vexpf(-100.0f) == 0.0f && vexpf(0.0f) == 1.0f);
    worst = 0;
    for (int k = 0; k <= 200000; k++) {
        float yv = 1.0f + expf(-20.0f + 100.0f * (float)k / 200000.0f);
        worst = fmax(worst, fabs(vlogf(yv) - log((double)yv)));
    }
    CHECK_MSG(worst < 1e-6 * 50, "vlogf max absolute error %.3g", worst);
    CHECK(vlogf(1.0f) == 0.0f);
}

int main(void)
{
    RUN(test_vexp);
    RUN(test_all_combinations_small);
    RUN(test_combined_small);
    RUN(test_all_families_larger);
    RUN(test_skip_with_drift_norm);
    RUN(test_blocking);
    RUN(test_determinism);
    RUN(test_edge_cases);
    RUN(test_bad_inputs);
    fprintf(stderr, "largest field error seen: %.3g x RMS\n", worst_field_err);
    return TEST_SUMMARY();
}
