/* The CUDA backend (built with -DDRIFT_CUDA=ON; run on a machine with an NVIDIA GPU): the deng
 * field computed on the GPU through drift_field_compute_many against the float64 reference
 * (drift_field_compute_f64) — every kernel, deng normalization both/row/none, the released
 * loss's options (feature normalization, soft self-mask, affinity floor, drift normalization),
 * self-masked and explicit weighted negatives, weighted extra negatives, several temperatures,
 * per-temperature RMS and the scalars — and against the CPU fast path; many batches in one
 * call; configurations the backend does not implement run on the CPU (fallback) or are refused
 * (no fallback); a whole training step through the trainer's loss is the CPU's to 1e-4.
 *
 * Without a GPU the context cannot be created: the test fails (it is only registered in a
 * CUDA build, which is made where a GPU is). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/ctx.h"
#include "drift/error.h"
#include "drift/field.h"
#include "drift/rng.h"
#include "test.h"

/* float32 on the GPU against float64: max |ΔV| ≤ V_RTOL · RMS(V_ref) */
#define V_RTOL 2e-4

static drift_ctx *gpu, *gpu_strict;
static double worst = 0;

typedef struct {
    int64_t n, d, p, m, e;
    float *x, *pos, *pw, *neg, *nw, *extra, *ew;
} batch32;

static float *rows(drift_rng *r, int64_t count, int64_t d, float scale, float shift)
{
    float *a = malloc((size_t)(count * d + 1) * sizeof(float));
    for (int64_t k = 0; k < count * d; k++) a[k] = shift + scale * (float)drift_rng_normal(r);
    return a;
}

static float *weights(drift_rng *r, int64_t count, float lo)
{
    float *w = malloc((size_t)(count + 1) * sizeof(float));
    for (int64_t j = 0; j < count; j++) w[j] = lo + (float)drift_rng_uniform(r);
    return w;
}

/* neg_mode 0: self-masked; 1: explicit weighted negatives; 2: self-masked + weighted extras */
static batch32 make_batch(uint64_t seed, int64_t n, int64_t d, int64_t p, int neg_mode, float spread)
{
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    batch32 b = {.n = n, .d = d, .p = p};
    b.x = rows(&r, n, d, spread, 3.0f); /* off the origin: the backend centres */
    b.pos = rows(&r, p, d, 1.1f * spread, 3.4f);
    b.pw = weights(&r, p, 0.5f);
    if (neg_mode == 1) {
        b.m = n + 2;
        b.neg = rows(&r, b.m, d, 0.9f * spread, 2.8f);
        b.nw = weights(&r, b.m, 0.3f);
    } else if (neg_mode == 2) {
        b.e = 5;
        b.extra = rows(&r, b.e, d, 1.2f * spread, 3.3f);
        b.ew = weights(&r, b.e, 0.1f);
    }
    return b;
}

static void batch_free(batch32 *b)
{
    free(b->x); free(b->pos); free(b->pw); free(b->neg); free(b->nw); free(b->extra); free(b->ew);
}

static drift_field_batch view(const batch32 *b)
{
    drift_field_batch v = {.n = b->n, .d = b->d, .x = b->x, .p = b->p, .pos = b->pos, .pos_w = b->pw,
                           .m = b->m, .neg = b->neg, .neg_w = b->nw, .e = b->e, .extra = b->extra, .extra_w = b->ew};
    return v;
}

static double *to64(const float *a, int64_t count)
{
    if (!a) return NULL;
    double *o = malloc((size_t)(count + 1) * sizeof(double));
    for (int64_t k = 0; k < count; k++) o[k] = a[k];
    return o;
}

static int ref64(const drift_field_config *c, const batch32 *b, double *v, drift_field_result *res)
{
    const int64_t n = b->n, d = b->d;
    double *x = to64(b->x, n * d), *pos = to64(b->pos, b->p * d), *pw = to64(b->pw, b->p);
    double *neg = to64(b->neg, b->m * d), *nw = to64(b->nw, b->m);
    double *ex = to64(b->extra, b->e * d), *ew = to64(b->ew, b->e);
    drift_field_batch64 bb = {.n = n, .d = d, .x = x, .p = b->p, .pos = pos, .pos_w = pw,
                              .m = b->m, .neg = neg, .neg_w = nw, .e = b->e, .extra = ex, .extra_w = ew};
    memset(res, 0, sizeof *res);
    res->v = v;
    int st = drift_field_compute_f64(c, &bb, res);
    free(x); free(pos); free(pw); free(neg); free(nw); free(ex); free(ew);
    return st;
}

static void compare_one(const drift_field_config *c, const batch32 *b, const char *what)
{
    const int64_t nd = b->n * b->d;
    double *vr = calloc((size_t)nd, sizeof(double));
    float *vg = calloc((size_t)nd, sizeof(float)), *vc = calloc((size_t)nd, sizeof(float));
    drift_field_result rr, rg, rc;
    CHECK_OK(ref64(c, b, vr, &rr));
    drift_field_batch bb = view(b);
    memset(&rg, 0, sizeof rg);
    rg.v = vg;
    CHECK_OK(drift_field_compute_many(gpu_strict, c, 1, &bb, &rg));
    memset(&rc, 0, sizeof rc);
    rc.v = vc;
    CHECK_OK(drift_field_compute(c, &bb, &rc));
    double rms = 0, eg = 0, ec = 0;
    for (int64_t k = 0; k < nd; k++) rms += vr[k] * vr[k];
    rms = sqrt(rms / (double)nd);
    for (int64_t k = 0; k < nd; k++) {
        eg = fmax(eg, fabs(vg[k] - vr[k]));
        ec = fmax(ec, fabs(vc[k] - vr[k]));
    }
    CHECK_MSG(rms > 0 && eg <= V_RTOL * rms, "%s: GPU max error %.3g, RMS %.3g (CPU fast path: %.3g)", what, eg, rms, ec);
    if (rms > 0) worst = fmax(worst, eg / rms);
    CHECK_CLOSE(rg.rms, rr.rms, 0, 1e-4);
    CHECK_CLOSE(rg.feature_scale, rr.feature_scale, 0, 1e-5);
    CHECK_CLOSE(rg.mean_dist, rr.mean_dist, 1e-12, 1e-5);
    for (int t = 0; t < c->n_tau; t++) CHECK_CLOSE(rg.tau_rms[t], rr.tau_rms[t], 1e-12, 2e-4);
    free(vr); free(vg); free(vc);
}

static void test_against_reference(void)
{
    const drift_kernel kernels[] = {DRIFT_KERNEL_GAUSSIAN, DRIFT_KERNEL_LAPLACE, DRIFT_KERNEL_RQ};
    const drift_deng_norm norms[] = {DRIFT_DENG_BOTH, DRIFT_DENG_ROW, DRIFT_DENG_NONE};
    const int64_t dims[] = {2, 40, 784};
    int cases = 0;
    for (int ki = 0; ki < 3; ki++)
        for (int ni = 0; ni < 3; ni++)
            for (int released = 0; released < 2; released++)
                for (int mode = 0; mode < 3; mode++)
                    for (int di = 0; di < 3; di++) {
                        if (released && norms[ni] != DRIFT_DENG_BOTH) continue; /* the floor needs both */
                        drift_field_config c;
                        drift_field_config_init(&c);
                        c.family = DRIFT_FAMILY_DENG;
                        c.kernel = kernels[ki];
                        c.deng_norm = norms[ni];
                        c.n_tau = 3;
                        c.pos_scale = 1.0;
                        c.neg_scale = 0.8;
                        const float spread = di == 2 ? 0.05f : 1.0f; /* mean distance ≈ 1.4 at d = 784 */
                        if (released) {
                            drift_field_config_deng_released(&c);
                            c.tau[0] = 0.02; c.tau[1] = 0.05; c.tau[2] = 0.2;
                        } else {
                            const double md = sqrt(2.0 * (double)dims[di]) * spread;
                            c.tau[0] = 0.3 * md; c.tau[1] = 0.7 * md; c.tau[2] = 1.5 * md;
                        }
                        batch32 b = make_batch(100 + (uint64_t)cases, 37 + 5 * di, dims[di], 29 + 3 * mode, mode, spread);
                        char what[160];
                        snprintf(what, sizeof what, "%s %s %s%s neg_mode %d d=%lld", drift_kernel_name(c.kernel),
                                 drift_deng_norm_name(c.deng_norm), released ? "released " : "",
                                 c.drift_norm ? "drift-norm" : "", mode, (long long)dims[di]);
                        compare_one(&c, &b, what);
                        batch_free(&b);
                        cases++;
                    }
    /* also without the soft mask but with feature and drift normalization */
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = DRIFT_FAMILY_DENG;
    c.n_tau = 2;
    c.tau[0] = 0.05; c.tau[1] = 0.2;
    c.feature_norm = 1;
    c.drift_norm = 1;
    batch32 b = make_batch(7, 64, 784, 64, 2, 0.05f);
    compare_one(&c, &b, "feature + drift normalization, hard self-mask");
    batch_free(&b);
    printf("%d configurations: worst GPU error %.3g of the field's RMS (bound %.0e)\n", cases + 1, worst, V_RTOL);
}

/* many batches in one call: each equals its own call to 1e-6 (same code, same order) and the
 * CPU's to the tolerance; the context counts them */
static void test_many(void)
{
    enum { NB = 10 };
    batch32 bs[NB];
    drift_field_batch bb[NB];
    drift_field_result rg[NB], rc[NB];
    float *vg[NB], *vc[NB];
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = DRIFT_FAMILY_DENG;
    drift_field_config_deng_released(&c);
    c.n_tau = 3;
    c.tau[0] = 0.02; c.tau[1] = 0.05; c.tau[2] = 0.2;
    for (int g = 0; g < NB; g++) {
        bs[g] = make_batch(500 + (uint64_t)g, 32, 784, 32 + g, 2, 0.05f);
        bb[g] = view(&bs[g]);
        vg[g] = calloc((size_t)(32 * 784), sizeof(float));
        vc[g] = calloc((size_t)(32 * 784), sizeof(float));
        memset(&rg[g], 0, sizeof rg[g]);
        memset(&rc[g], 0, sizeof rc[g]);
        rg[g].v = vg[g];
        rc[g].v = vc[g];
    }
    drift_ctx_info before, after;
    drift_ctx_get_info(gpu_strict, &before);
    CHECK_OK(drift_field_compute_many(gpu_strict, &c, NB, bb, rg));
    drift_ctx_get_info(gpu_strict, &after);
    CHECK(after.calls_backend - before.calls_backend == NB && after.calls_cpu == before.calls_cpu);
    CHECK_OK(drift_field_compute_many(NULL, &c, NB, bb, rc));
    for (int g = 0; g < NB; g++) {
        double rms = 0, e = 0;
        for (int64_t k = 0; k < 32 * 784; k++) {
            rms += (double)vc[g][k] * vc[g][k];
            e = fmax(e, fabs((double)vg[g][k] - vc[g][k]));
        }
        rms = sqrt(rms / (32 * 784));
        CHECK_MSG(e <= V_RTOL * rms, "group %d: GPU vs CPU %.3g of RMS %.3g", g, e, rms);
        float *single = calloc((size_t)(32 * 784), sizeof(float));
        drift_field_result r1;
        memset(&r1, 0, sizeof r1);
        r1.v = single;
        CHECK_OK(drift_field_compute_ctx(gpu_strict, &c, &bb[g], &r1));
        CHECK(!memcmp(single, vg[g], (size_t)(32 * 784) * sizeof(float)));
        free(single);
    }
    for (int g = 0; g < NB; g++) {
        batch_free(&bs[g]);
        free(vg[g]);
        free(vc[g]);
    }
}

/* what the backend does not implement: CPU with fallback, a clear refusal without */
static void test_fallback(void)
{
    drift_field_config c;
    drift_field_config_init(&c);
    c.family = DRIFT_FAMILY_MEANSHIFT;
    c.tau[0] = 1.0;
    batch32 b = make_batch(9, 20, 8, 20, 0, 1.0f);
    drift_field_batch bb = view(&b);
    float *v1 = calloc(160, sizeof(float)), *v2 = calloc(160, sizeof(float));
    drift_field_result r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    r1.v = v1;
    r2.v = v2;
    drift_ctx_info before, after;
    drift_ctx_get_info(gpu, &before);
    CHECK_OK(drift_field_compute_ctx(gpu, &c, &bb, &r1));
    drift_ctx_get_info(gpu, &after);
    CHECK(after.calls_cpu == before.calls_cpu + 1 && after.calls_backend == before.calls_backend);
    CHECK_OK(drift_field_compute(&c, &bb, &r2));
    CHECK(!memcmp(v1, v2, 160 * sizeof(float)));
    CHECK(drift_field_compute_ctx(gpu_strict, &c, &bb, &r1) == DRIFT_EUNSUPPORTED);
    CHECK_MSG(strstr(drift_last_error(), "cuda backend") && strstr(drift_last_error(), "deng"), "%s", drift_last_error());
    /* diagnostics are the CPU's too */
    c.family = DRIFT_FAMILY_DENG;
    double lpm[20];
    r1.log_pos_mass = lpm;
    CHECK(drift_field_compute_ctx(gpu_strict, &c, &bb, &r1) == DRIFT_EUNSUPPORTED);
    CHECK_OK(drift_field_compute_ctx(gpu, &c, &bb, &r1));
    free(v1); free(v2);
    batch_free(&b);
}

static void test_device_info(void)
{
    drift_ctx_info info;
    drift_ctx_get_info(gpu, &info);
    printf("device: %s\n", info.device);
    CHECK(info.backend == DRIFT_BACKEND_CUDA && strstr(info.device, "CUDA device 0"));
    drift_ctx_options o;
    drift_ctx_options_init(&o);
    o.backend = DRIFT_BACKEND_CUDA;
    o.device = 999;
    drift_ctx *c = NULL;
    CHECK(drift_ctx_create(&o, &c) == DRIFT_EUNSUPPORTED && c == NULL);
    CHECK_MSG(strstr(drift_last_error(), "device 999 does not exist") != NULL, "%s", drift_last_error());
}

int main(void)
{
    drift_ctx_options o;
    drift_ctx_options_init(&o);
    o.backend = DRIFT_BACKEND_CUDA;
    if (drift_ctx_create(&o, &gpu) != DRIFT_OK) {
        fprintf(stderr, "cannot open the CUDA backend: %s\n", drift_last_error());
        return 1;
    }
    o.fallback = 0;
    if (drift_ctx_create(&o, &gpu_strict) != DRIFT_OK) return 1;
    RUN(test_device_info);
    RUN(test_against_reference);
    RUN(test_many);
    RUN(test_fallback);
    drift_ctx_free(gpu);
    drift_ctx_free(gpu_strict);
    return TEST_SUMMARY();
}
