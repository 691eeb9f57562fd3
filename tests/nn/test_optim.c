/* Tests for drift/optim.h: AdamW against a float64 reference of the update rule,
 * gradient clipping, the learning-rate schedule and the EMA of weights. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/optim.h"
#include "drift/rng.h"
#include "test.h"

/* AdamW written out in float64, straight from the paper / torch.optim.AdamW docs. */
typedef struct {
    double *p, *m, *v;
    int t;
} ref_adamw;

static void ref_step(ref_adamw *r, const float *g, size_t n, double lr, double b1, double b2,
                     double eps, double wd, const unsigned char *mask)
{
    r->t++;
    for (size_t i = 0; i < n; i++) {
        if (!mask || mask[i]) r->p[i] -= lr * wd * r->p[i];
        r->m[i] = b1 * r->m[i] + (1 - b1) * g[i];
        r->v[i] = b2 * r->v[i] + (1 - b2) * (double)g[i] * g[i];
        double mhat = r->m[i] / (1 - pow(b1, r->t)), vhat = r->v[i] / (1 - pow(b2, r->t));
        r->p[i] -= lr * mhat / (sqrt(vhat) + eps);
    }
}

static void test_adamw_matches_reference(void)
{
    /* large enough for the threaded loop; three steps with different gradients and lrs */
    enum { N = 70000 };
    float *p = drift_alloc(N, 4), *g = drift_alloc(N, 4);
    unsigned char *mask = drift_alloc(N, 1);
    ref_adamw r = {drift_alloc(N, 8), drift_alloc(N, 8), drift_alloc(N, 8), 0};
    drift_rng rng;
    drift_rng_init(&rng, 7, 0);
    drift_rng_fill_normal(&rng, p, N, 0, 1);
    for (size_t i = 0; i < N; i++) r.p[i] = p[i], mask[i] = i % 3 != 0;
    drift_adamw opt;
    CHECK_OK(drift_adamw_init(&opt, N, 0.9f, 0.95f, 1e-8f, 0.01f));
    const float lrs[3] = {1e-3f, 2e-4f, 5e-2f};
    for (int s = 0; s < 3; s++) {
        drift_rng_fill_normal(&rng, g, N, 0, s == 1 ? 1e-3f : 1.0f);
        CHECK_OK(drift_adamw_step(&opt, p, g, lrs[s], mask));
        ref_step(&r, g, N, lrs[s], 0.9, 0.95, 1e-8, 0.01, mask);
    }
    CHECK(opt.step == 3);
    double maxerr = 0, maxmove = 0;
    for (size_t i = 0; i < N; i++) {
        maxerr = fmax(maxerr, fabs(p[i] - r.p[i]));
        maxmove = fmax(maxmove, fabs(r.p[i]));
    }
    CHECK_MSG(maxerr < 1e-6 * maxmove, "max error %g", maxerr);
    /* the moments match too (they are saved in checkpoints) */
    double merr = 0, verr = 0, mmax = 0;
    for (size_t i = 0; i < N; i++) {
        merr = fmax(merr, fabs(opt.m[i] - r.m[i]));
        verr = fmax(verr, fabs(opt.v[i] - r.v[i]) / r.v[i]); /* v > 0: relative per entry */
        mmax = fmax(mmax, fabs(r.m[i]));
    }
    merr /= mmax;
    CHECK_MSG(merr < 1e-6 && verr < 1e-5, "m error %g, v error %g", merr, verr);
    drift_adamw_free(&opt);
    drift_free(p), drift_free(g), drift_free(mask);
    drift_free(r.p), drift_free(r.m), drift_free(r.v);
}

static void test_adamw_hand_values(void)
{
    /* first step, no decay: bias correction makes the step lr·g/(|g| + eps) ≈ ±lr */
    float p[4] = {1.0f, -2.0f, 0.5f, 3.0f}, g[4] = {0.3f, -1e-3f, 50.0f, 0.0f};
    drift_adamw opt;
    CHECK_OK(drift_adamw_init(&opt, 4, 0.9f, 0.999f, 1e-8f, 0.0f));
    CHECK_OK(drift_adamw_step(&opt, p, g, 0.1f, NULL));
    CHECK_CLOSE(p[0], 0.9, 1e-6, 0);
    CHECK_CLOSE(p[1], -1.9, 1e-5, 0);
    CHECK_CLOSE(p[2], 0.4, 1e-6, 0);
    CHECK(p[3] == 3.0f); /* zero gradient, no decay: untouched */
    drift_adamw_free(&opt);

    /* decay only (zero gradient): p ← p·(1 − lr·wd), masked elements untouched */
    float q[2] = {2.0f, 2.0f}, z[2] = {0, 0};
    unsigned char mask[2] = {1, 0};
    CHECK_OK(drift_adamw_init(&opt, 2, 0.9f, 0.999f, 1e-8f, 0.5f));
    CHECK_OK(drift_adamw_step(&opt, q, z, 0.1f, mask));
    CHECK_CLOSE(q[0], 2.0 * (1 - 0.05), 1e-7, 0);
    CHECK(q[1] == 2.0f);
    CHECK(drift_adamw_step(&opt, q, z, NAN, NULL) == DRIFT_EINVAL);
    CHECK(drift_adamw_step(&opt, q, z, -1.0f, NULL) == DRIFT_EINVAL);
    drift_adamw_free(&opt);

    CHECK(drift_adamw_init(&opt, 4, 1.0f, 0.999f, 1e-8f, 0) == DRIFT_EINVAL);
    CHECK(drift_adamw_init(&opt, 4, 0.9f, 0.999f, 0.0f, 0) == DRIFT_EINVAL);
    CHECK(drift_adamw_init(&opt, 4, 0.9f, 0.999f, 1e-8f, -1) == DRIFT_EINVAL);
    CHECK(drift_adamw_init(&opt, 0, 0.9f, 0.999f, 1e-8f, 0) == DRIFT_EINVAL);
}

static void test_clip_grad_norm(void)
{
    enum { N = 100000 };
    float *g = drift_alloc(N, 4), *g0 = drift_alloc(N, 4);
    drift_rng rng;
    drift_rng_init(&rng, 9, 0);
    drift_rng_fill_normal(&rng, g, N, 0, 0.1f);
    memcpy(g0, g, N * 4);
    double ref = 0;
    for (size_t i = 0; i < N; i++) ref += (double)g[i] * g[i];
    ref = sqrt(ref);
    double norm;
    /* above the threshold: scaled to max_norm, direction kept */
    CHECK_OK(drift_clip_grad_norm(g, N, 2.0f, &norm));
    CHECK_CLOSE(norm, ref, 0, 1e-12);
    double after = 0;
    for (size_t i = 0; i < N; i++) after += (double)g[i] * g[i];
    CHECK_CLOSE(sqrt(after), 2.0, 0, 1e-5);
    CHECK_CLOSE(g[123] / g0[123], 2.0 / ref, 0, 1e-5);
    /* below the threshold, or no threshold: untouched */
    memcpy(g, g0, N * 4);
    CHECK_OK(drift_clip_grad_norm(g, N, 1000.0f, &norm));
    CHECK(memcmp(g, g0, N * 4) == 0);
    CHECK_OK(drift_clip_grad_norm(g, N, 0.0f, &norm));
    CHECK(memcmp(g, g0, N * 4) == 0);
    /* NaN: error, untouched */
    g[777] = NAN;
    CHECK(drift_clip_grad_norm(g, N, 1.0f, &norm) == DRIFT_ENUMERIC);
    CHECK(isnan(norm));
    CHECK(g[0] == g0[0]);
    drift_free(g), drift_free(g0);
}

static void test_lr_schedule(void)
{
    drift_lr_schedule s = {.base_lr = 1e-3, .warmup_steps = 10, .decay = DRIFT_LR_CONSTANT};
    CHECK_OK(drift_lr_schedule_check(&s));
    CHECK_CLOSE(drift_lr_at(&s, 0), 1e-4, 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&s, 4), 5e-4, 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&s, 9), 1e-3, 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&s, 100000), 1e-3, 1e-15, 0);

    drift_lr_schedule c = {.base_lr = 1e-3, .warmup_steps = 10, .decay = DRIFT_LR_COSINE,
                           .total_steps = 110, .min_lr = 1e-5};
    CHECK_OK(drift_lr_schedule_check(&c));
    CHECK_CLOSE(drift_lr_at(&c, 9), 1e-3, 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&c, 10), 1e-3, 1e-15, 0);                  /* cos(0) */
    CHECK_CLOSE(drift_lr_at(&c, 60), 1e-5 + (1e-3 - 1e-5) * 0.5, 1e-15, 0); /* halfway */
    CHECK_CLOSE(drift_lr_at(&c, 35), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + cos(M_PI / 4)), 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&c, 110), 1e-5, 1e-15, 0);
    CHECK_CLOSE(drift_lr_at(&c, 5000), 1e-5, 1e-15, 0);
    /* monotone after warm-up */
    int mono = 1;
    for (int t = 10; t < 120; t++) mono &= drift_lr_at(&c, t + 1) <= drift_lr_at(&c, t);
    CHECK(mono);

    drift_lr_schedule none = {.base_lr = 2e-4, .warmup_steps = 0};
    CHECK_OK(drift_lr_schedule_check(&none));
    CHECK(drift_lr_at(&none, 0) == 2e-4);

    drift_lr_schedule bad = c;
    bad.total_steps = 10;
    CHECK(drift_lr_schedule_check(&bad) == DRIFT_EINVAL);
    bad = c, bad.min_lr = 1.0;
    CHECK(drift_lr_schedule_check(&bad) == DRIFT_EINVAL);
    bad = c, bad.base_lr = 0;
    CHECK(drift_lr_schedule_check(&bad) == DRIFT_EINVAL);
    bad = c, bad.warmup_steps = -1;
    CHECK(drift_lr_schedule_check(&bad) == DRIFT_EINVAL);
}

static void test_ema(void)
{
    float p[3] = {1.0f, 2.0f, -4.0f};
    drift_ema e;
    CHECK_OK(drift_ema_init(&e, p, 3, 0.9f, 0));
    CHECK(memcmp(e.shadow, p, sizeof p) == 0);
    float q[3] = {2.0f, 0.0f, 0.0f};
    drift_ema_update(&e, q);
    CHECK_CLOSE(e.shadow[0], 0.9 * 1 + 0.1 * 2, 1e-6, 0);
    CHECK_CLOSE(e.shadow[2], 0.9 * -4, 1e-6, 0);
    drift_ema_update(&e, q);
    CHECK_CLOSE(e.shadow[1], 0.81 * 2, 1e-6, 0);
    CHECK(e.updates == 2);
    /* constant parameters: the shadow converges to them */
    for (int i = 0; i < 300; i++) drift_ema_update(&e, q);
    CHECK_CLOSE(e.shadow[0], 2.0, 1e-6, 0);
    CHECK_CLOSE(e.shadow[2], 0.0, 1e-6, 0);
    drift_ema_free(&e);

    /* warm-up: d_t = min(decay, (1 + t)/(10 + t)) */
    float a[1] = {0.0f}, one[1] = {1.0f};
    CHECK_OK(drift_ema_init(&e, a, 1, 0.999f, 1));
    CHECK_CLOSE(drift_ema_next_decay(&e), 0.1, 1e-12, 0);
    drift_ema_update(&e, one);
    CHECK_CLOSE(e.shadow[0], 0.9, 1e-6, 0);
    CHECK_CLOSE(drift_ema_next_decay(&e), 2.0 / 11.0, 1e-12, 0);
    drift_ema_update(&e, one);
    CHECK_CLOSE(e.shadow[0], 1 - 0.1 * (2.0 / 11.0), 1e-6, 0);
    e.updates = 100000;
    CHECK_CLOSE(drift_ema_next_decay(&e), 0.999, 1e-7, 0);
    drift_ema_free(&e);

    /* a large buffer takes the threaded loop and gives the same numbers */
    enum { N = 100000 };
    float *x = drift_alloc(N, 4), *y = drift_alloc(N, 4);
    for (size_t i = 0; i < N; i++) x[i] = (float)i, y[i] = -(float)i;
    CHECK_OK(drift_ema_init(&e, x, N, 0.75f, 0));
    drift_ema_update(&e, y);
    int ok = 1;
    for (size_t i = 0; i < N; i++) ok &= fabsf(e.shadow[i] - 0.5f * (float)i) <= 1e-6f * i;
    CHECK(ok);
    drift_ema_free(&e);
    drift_free(x), drift_free(y);

    CHECK(drift_ema_init(&e, p, 3, 1.0f, 0) == DRIFT_EINVAL);
    CHECK(drift_ema_init(&e, p, 3, -0.1f, 0) == DRIFT_EINVAL);
}

/* Clipping, AdamW and the EMA give the same bytes on 1, 2, 3 and 4 threads: a size that is not
 * a multiple of the chunk, gradients large enough to clip, three steps. */
static void test_thread_count_invariance(void)
{
    enum { N = 300007, T = 4 };
    float *p[T], *g = drift_alloc(N, 4), *g0 = drift_alloc(N, 4), *p0 = drift_alloc(N, 4);
    float *shadow[T];
    double norms[T][3];
    unsigned char *mask = drift_alloc(N, 1);
    drift_rng rng;
    drift_rng_init(&rng, 11, 0);
    drift_rng_fill_normal(&rng, p0, N, 0, 1);
    drift_rng_fill_normal(&rng, g0, N, 0, 0.1f);
    for (size_t i = 0; i < N; i++) mask[i] = i % 5 != 0;
    const int saved = drift_get_threads();
    for (int t = 0; t < T; t++) {
        drift_set_threads(t + 1);
        p[t] = drift_alloc(N, 4);
        memcpy(p[t], p0, N * sizeof(float));
        drift_adamw opt;
        drift_ema ema;
        CHECK_OK(drift_adamw_init(&opt, N, 0.9f, 0.95f, 1e-8f, 0.01f));
        CHECK_OK(drift_ema_init(&ema, p[t], N, 0.99f, 1));
        for (int s = 0; s < 3; s++) {
            for (size_t i = 0; i < N; i++) g[i] = g0[i] * (float)(s + 1) + 1e-3f * (float)(i % 7);
            CHECK_OK(drift_clip_grad_norm(g, N, 2.0f, &norms[t][s]));
            CHECK_OK(drift_adamw_step(&opt, p[t], g, 1e-3f, mask));
            drift_ema_update(&ema, p[t]);
        }
        shadow[t] = drift_alloc(N, 4);
        memcpy(shadow[t], ema.shadow, N * sizeof(float));
        drift_adamw_free(&opt);
        drift_ema_free(&ema);
    }
    drift_set_threads(saved);
    CHECK(norms[0][0] > 2.0); /* the clipping path ran */
    for (int t = 1; t < T; t++) {
        CHECK_MSG(!memcmp(norms[t], norms[0], sizeof norms[0]), "norm on %d threads %.17g vs %.17g", t + 1,
                  norms[t][0], norms[0][0]);
        CHECK_MSG(!memcmp(p[t], p[0], N * sizeof(float)), "parameters differ on %d threads", t + 1);
        CHECK_MSG(!memcmp(shadow[t], shadow[0], N * sizeof(float)), "EMA differs on %d threads", t + 1);
    }
    for (int t = 0; t < T; t++) drift_free(p[t]), drift_free(shadow[t]);
    drift_free(g), drift_free(g0), drift_free(p0), drift_free(mask);
}

int main(void)
{
    RUN(test_adamw_matches_reference);
    RUN(test_adamw_hand_values);
    RUN(test_clip_grad_norm);
    RUN(test_lr_schedule);
    RUN(test_ema);
    RUN(test_thread_count_invariance);
    return TEST_SUMMARY();
}
