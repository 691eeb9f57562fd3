/* Contexts and the batched entry point (drift/ctx.h, drift_field_compute_many):
 *   - many batches in one call give, bit for bit, what one call per batch gives, whether the
 *     batches are spread over threads or run one after another, with or without a context;
 *   - several threads calling the engine at once (each with its own context, or all sharing
 *     one) get exactly the single-thread results: the engine keeps no process-global state;
 *   - a failing batch is named; bad arguments refused; a backend this build lacks refused
 *     with a message; the context counts the batches it ran. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/ctx.h"
#include "drift/error.h"
#include "drift/field.h"
#include "drift/rng.h"
#include "test.h"

#define NB 7
#define D 40

typedef struct {
    int64_t n, p, e;
    float *x, *pos, *extra, *ew;
} group;

static group groups[NB];

static float *rows(drift_rng *r, int64_t count, float shift)
{
    float *a = malloc((size_t)(count * D + 1) * sizeof(float));
    for (int64_t k = 0; k < count * D; k++) a[k] = shift + (float)drift_rng_normal(r);
    return a;
}

/* groups of different sizes: some with weighted extra negatives (training-time guidance) */
static void make_groups(void)
{
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    for (int g = 0; g < NB; g++) {
        group *G = &groups[g];
        G->n = 8 + 5 * g;
        G->p = 12 + 3 * (g % 3);
        G->e = g % 2 ? 6 : 0;
        G->x = rows(&r, G->n, 0.0f);
        G->pos = rows(&r, G->p, 0.5f);
        G->extra = rows(&r, G->e, 0.2f);
        G->ew = malloc((size_t)(G->e + 1) * sizeof(float));
        for (int64_t j = 0; j < G->e; j++) G->ew[j] = 0.3f + 0.1f * (float)j;
    }
}

static void free_groups(void)
{
    for (int g = 0; g < NB; g++) {
        free(groups[g].x); free(groups[g].pos); free(groups[g].extra); free(groups[g].ew);
    }
}

static drift_field_batch batch_of(int g)
{
    const group *G = &groups[g];
    drift_field_batch b = {.n = G->n, .d = D, .x = G->x, .p = G->p, .pos = G->pos};
    if (G->e) { b.e = G->e; b.extra = G->extra; b.extra_w = G->ew; }
    return b;
}

static void config_deng(drift_field_config *c)
{
    drift_field_config_init(c);
    c->family = DRIFT_FAMILY_DENG;
    c->n_tau = 3;
    c->tau[0] = 0.02; c->tau[1] = 0.05; c->tau[2] = 0.2;
    drift_field_config_deng_released(c);
}

static void config_meanshift(drift_field_config *c)
{
    drift_field_config_init(c);
    c->family = DRIFT_FAMILY_MEANSHIFT;
    c->kernel = DRIFT_KERNEL_LAPLACE;
    c->n_tau = 2;
    c->tau[0] = 3.0; c->tau[1] = 8.0;
}

/* the reference: one drift_field_compute per group, on one thread */
static float *ref_v[2][NB];
static double ref_rms[2][NB], ref_tau[2][NB][DRIFT_MAX_TAU];

static void compute_refs(void)
{
    drift_set_threads(1);
    for (int c = 0; c < 2; c++) {
        drift_field_config cfg;
        if (c == 0) config_deng(&cfg); else config_meanshift(&cfg);
        for (int g = 0; g < NB; g++) {
            drift_field_batch b = batch_of(g);
            drift_field_result r;
            memset(&r, 0, sizeof r);
            ref_v[c][g] = calloc((size_t)(groups[g].n * D), sizeof(float));
            r.v = ref_v[c][g];
            CHECK_OK(drift_field_compute(&cfg, &b, &r));
            ref_rms[c][g] = r.rms;
            memcpy(ref_tau[c][g], r.tau_rms, sizeof r.tau_rms);
        }
    }
    drift_set_threads(2);
}

/* every group as a batch, each with a zeroed result writing into its own v[g] (caller frees) */
static void all_batches(drift_field_batch *b, drift_field_result *r, float **v)
{
    for (int g = 0; g < NB; g++) {
        b[g] = batch_of(g);
        memset(&r[g], 0, sizeof r[g]);
        v[g] = calloc((size_t)(groups[g].n * D), sizeof(float));
        r[g].v = v[g];
    }
}

/* run all groups through drift_field_compute_many; 1 when every output equals the reference
 * bit for bit */
static int many_matches(drift_ctx *ctx, int c)
{
    drift_field_config cfg;
    if (c == 0) config_deng(&cfg); else config_meanshift(&cfg);
    drift_field_batch b[NB];
    drift_field_result r[NB];
    float *v[NB];
    all_batches(b, r, v);
    int st = drift_field_compute_many(ctx, &cfg, NB, b, r), same = st == DRIFT_OK;
    for (int g = 0; g < NB; g++) {
        if (same)
            same = !memcmp(v[g], ref_v[c][g], (size_t)(groups[g].n * D) * sizeof(float)) && r[g].rms == ref_rms[c][g] &&
                   !memcmp(r[g].tau_rms, ref_tau[c][g], (size_t)cfg.n_tau * sizeof(double));
        free(v[g]);
    }
    return same;
}

static void test_many_equals_single_calls(void)
{
    for (int c = 0; c < 2; c++) {
        CHECK_MSG(many_matches(NULL, c), "config %d without a context", c);
        for (int threads = 1; threads <= 4; threads++) {
            drift_ctx_options o;
            drift_ctx_options_init(&o);
            o.threads = threads; /* 4 > 2 cores: oversubscribed, still exact */
            drift_ctx *ctx = NULL;
            CHECK_OK(drift_ctx_create(&o, &ctx));
            CHECK_MSG(many_matches(ctx, c), "config %d, %d threads", c, threads);
            CHECK_MSG(many_matches(ctx, c), "config %d, %d threads, second call (scratch kept)", c, threads);
            drift_ctx_info info;
            drift_ctx_get_info(ctx, &info);
            CHECK(info.calls_cpu == 2 * NB && info.calls_backend == 0);
            CHECK(info.threads == threads && info.backend == DRIFT_BACKEND_CPU && !strcmp(info.device, "cpu"));
            CHECK(info.scratch_bytes > 0); /* kept for the next call */
            drift_ctx_free(ctx);
        }
    }
    /* a single batch through the context entry */
    drift_ctx *ctx = NULL;
    CHECK_OK(drift_ctx_create(NULL, &ctx));
    drift_field_config cfg;
    config_deng(&cfg);
    drift_field_batch b = batch_of(3);
    float *v = calloc((size_t)(groups[3].n * D), sizeof(float));
    drift_field_result r;
    memset(&r, 0, sizeof r);
    r.v = v;
    CHECK_OK(drift_field_compute_ctx(ctx, &cfg, &b, &r));
    CHECK(!memcmp(v, ref_v[0][3], (size_t)(groups[3].n * D) * sizeof(float)));
    free(v);
    drift_ctx_free(ctx);
}

/* ---- several threads at once ------------------------------------------------------ */

typedef struct {
    drift_ctx *ctx; /* NULL: make one of its own */
    int id, ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    drift_ctx *own = NULL;
    drift_ctx *ctx = a->ctx;
    if (!ctx) {
        drift_ctx_options o;
        drift_ctx_options_init(&o);
        o.threads = 1 + a->id % 2;
        if (drift_ctx_create(&o, &own) != DRIFT_OK) return NULL;
        ctx = own;
    }
    a->ok = 1;
    for (int rep = 0; rep < 6 && a->ok; rep++) {
        const int c = (rep + a->id) % 2;
        drift_field_config cfg;
        if (c == 0) config_deng(&cfg); else config_meanshift(&cfg);
        const int g = (rep * 3 + a->id) % NB;
        drift_field_batch b = batch_of(g);
        float *v = calloc((size_t)(groups[g].n * D), sizeof(float));
        drift_field_result r;
        memset(&r, 0, sizeof r);
        r.v = v;
        a->ok = drift_field_compute_ctx(ctx, &cfg, &b, &r) == DRIFT_OK &&
                !memcmp(v, ref_v[c][g], (size_t)(groups[g].n * D) * sizeof(float));
        free(v);
        if (a->ok && rep % 3 == 2) a->ok = many_matches(ctx, c);
    }
    drift_ctx_free(own);
    return NULL;
}

static void test_threads_at_once(void)
{
    enum { W = 4 };
    drift_ctx *shared = NULL;
    drift_ctx_options o;
    drift_ctx_options_init(&o);
    o.threads = 2;
    CHECK_OK(drift_ctx_create(&o, &shared));
    for (int mode = 0; mode < 2; mode++) {
        pthread_t th[W];
        worker_arg arg[W];
        for (int w = 0; w < W; w++) {
            arg[w] = (worker_arg){.ctx = mode ? shared : NULL, .id = w, .ok = 0};
            CHECK(pthread_create(&th[w], NULL, worker, &arg[w]) == 0);
        }
        for (int w = 0; w < W; w++) {
            pthread_join(th[w], NULL);
            CHECK_MSG(arg[w].ok, "thread %d, %s context", w, mode ? "a shared" : "its own");
        }
    }
    drift_ctx_free(shared);
}

/* ---- errors ------------------------------------------------------------------------ */

static void test_errors(void)
{
    drift_field_config cfg;
    config_deng(&cfg);
    drift_field_batch b[NB];
    drift_field_result r[NB];
    float *v[NB];
    all_batches(b, r, v);
    CHECK(drift_field_compute_many(NULL, &cfg, 0, b, r) == DRIFT_EINVAL);
    CHECK(drift_field_compute_many(NULL, &cfg, NB, NULL, r) == DRIFT_EINVAL);
    /* a NaN in batch 5: the call fails and names it, on either path */
    float saved = groups[5].x[7];
    groups[5].x[7] = NAN;
    for (int threads = 1; threads <= 2; threads++) {
        drift_ctx_options o;
        drift_ctx_options_init(&o);
        o.threads = threads;
        drift_ctx *ctx = NULL;
        CHECK_OK(drift_ctx_create(&o, &ctx));
        CHECK(drift_field_compute_many(ctx, &cfg, NB, b, r) == DRIFT_ENUMERIC);
        CHECK_MSG(strstr(drift_last_error(), "batch 5") != NULL, "%s", drift_last_error());
        drift_ctx_free(ctx);
    }
    groups[5].x[7] = saved;
    /* a configuration that passes the checks and is refused inside the engine (a τ whose
     * kernel constants do not fit float32): every batch fails, in the threads too, and the
     * message of the first one reaches the caller */
    drift_field_config tiny;
    config_meanshift(&tiny);
    tiny.kernel = DRIFT_KERNEL_GAUSSIAN;
    tiny.tau[0] = 1e-30;
    for (int threads = 1; threads <= 2; threads++) {
        drift_ctx_options o;
        drift_ctx_options_init(&o);
        o.threads = threads;
        drift_ctx *ctx = NULL;
        CHECK_OK(drift_ctx_create(&o, &ctx));
        drift_clear_error();
        const int st = drift_field_compute_many(ctx, &tiny, NB, b, r);
        CHECK_MSG(st == DRIFT_ENUMERIC || st == DRIFT_EINVAL, "status %d", st);
        CHECK_MSG(strstr(drift_last_error(), "batch 0: ") != NULL && strlen(drift_last_error()) > 20, "%s",
                  drift_last_error());
        drift_ctx_free(ctx);
    }
    /* dimensions must agree */
    b[2].d = D / 2;
    CHECK(drift_field_compute_many(NULL, &cfg, NB, b, r) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "batch 2") != NULL);
    for (int g = 0; g < NB; g++) free(v[g]);

    /* contexts */
    drift_ctx *ctx = (drift_ctx *)&cfg; /* must be overwritten with NULL on failure */
    drift_ctx_options o;
    drift_ctx_options_init(&o);
    o.threads = -1;
    CHECK(drift_ctx_create(&o, &ctx) == DRIFT_EINVAL && ctx == NULL);
    CHECK(drift_ctx_create(NULL, NULL) == DRIFT_EINVAL);
    drift_backend be;
    CHECK(drift_backend_parse("cuda", &be) == DRIFT_OK && be == DRIFT_BACKEND_CUDA);
    CHECK(drift_backend_parse("gpu", &be) == DRIFT_EINVAL && strstr(drift_last_error(), "cpu, cuda"));
    CHECK(drift_backend_built(DRIFT_BACKEND_CPU) == 1);
    if (!drift_backend_built(DRIFT_BACKEND_CUDA)) {
        drift_ctx_options_init(&o);
        o.backend = DRIFT_BACKEND_CUDA;
        CHECK(drift_ctx_create(&o, &ctx) == DRIFT_EUNSUPPORTED && ctx == NULL);
        CHECK(strstr(drift_last_error(), "DRIFT_CUDA") != NULL);
    }
    drift_ctx_free(NULL); /* allowed */
    CHECK(drift_ctx_threads(NULL) == drift_get_threads());
}

int main(void)
{
    make_groups();
    compute_refs();
    RUN(test_many_equals_single_calls);
    RUN(test_threads_at_once);
    RUN(test_errors);
    for (int c = 0; c < 2; c++)
        for (int g = 0; g < NB; g++) free(ref_v[c][g]);
    free_groups();
    return TEST_SUMMARY();
}
