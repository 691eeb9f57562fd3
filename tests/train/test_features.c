/* Feature-space drifting: the batched released loss against a float64 transcription of the
 * authors' drift_loss.py (B problems sharing one scale and one λ per temperature), against drift's
 * own validated field engine for one problem, the feature keys (spec, shapes, pooling backward by
 * finite differences), and thread-count independence. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "drift/core.h"
#include "drift/features.h"
#include "drift/models.h"
#include "drift/rng.h"
#include "drift/train.h"
#include "test.h"

/* drift_loss.py in float64, line by line: gen (B,G,S), neg (B,N,S) with weight w[b], pos (B,P,S).
 * Returns the mean loss over B; grad = ∂(mean loss)/∂gen (the goal under stop-gradient). */
static double ref_release(int B, int G, int N, int P, int S, const float *gen, const float *neg,
                          const float *w, const float *pos, const double *R, int nr, int floor,
                          double *grad)
{
    const int T = G + N + P;
    double *dist = calloc((size_t)B * G * T, sizeof(double));
    double *tw = calloc((size_t)B * T, sizeof(double));
    double *tgt = calloc((size_t)B * T * S, sizeof(double));
    double *force = calloc((size_t)nr * B * G * S, sizeof(double));
    for (int b = 0; b < B; b++)
        for (int j = 0; j < T; j++) {
            const float *t = j < G ? gen + ((size_t)b * G + j) * S
                             : j < G + N ? neg + ((size_t)b * N + (j - G)) * S
                                         : pos + ((size_t)b * P + (j - G - N)) * S;
            for (int s = 0; s < S; s++) tgt[((size_t)b * T + j) * S + s] = t[s];
            tw[b * T + j] = (j >= G && j < G + N) ? w[b] : 1.0;
        }
    /* cdist and the scale: weighted_dist.mean() / targets_w.mean() */
    double sum_dw = 0, sum_w = 0;
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < T; j++) sum_w += tw[b * T + j];
        for (int i = 0; i < G; i++)
            for (int j = 0; j < T; j++) {
                double s2 = 0;
                for (int s = 0; s < S; s++) {
                    double d = (double)gen[((size_t)b * G + i) * S + s] - tgt[((size_t)b * T + j) * S + s];
                    s2 += d * d;
                }
                double d = sqrt(s2 > 1e-8 ? s2 : 1e-8);
                dist[((size_t)b * G + i) * T + j] = d;
                sum_dw += d * tw[b * T + j];
            }
    }
    double scale = (sum_dw / ((double)B * G * T)) / (sum_w / ((double)B * T));
    double s_in = scale / sqrt((double)S);
    if (s_in < 1e-3) s_in = 1e-3;
    double sc = scale > 1e-3 ? scale : 1e-3;
    double *lam = calloc((size_t)nr, sizeof(double));
    double *aff = calloc((size_t)G * T, sizeof(double));
    for (int r = 0; r < nr; r++) {
        double fsq = 0;
        for (int b = 0; b < B; b++) {
            double *lg = calloc((size_t)G * T, sizeof(double));
            for (int i = 0; i < G; i++)
                for (int j = 0; j < T; j++)
                    lg[i * T + j] = -(dist[((size_t)b * G + i) * T + j] / sc + (i == j ? 100.0 : 0.0)) / R[r];
            for (int i = 0; i < G; i++)
                for (int j = 0; j < T; j++) {
                    double mr = -INFINITY, mc = -INFINITY, zr = 0, zc = 0;
                    for (int k = 0; k < T; k++) mr = fmax(mr, lg[i * T + k]);
                    for (int k = 0; k < T; k++) zr += exp(lg[i * T + k] - mr);
                    for (int k = 0; k < G; k++) mc = fmax(mc, lg[k * T + j]);
                    for (int k = 0; k < G; k++) zc += exp(lg[k * T + j] - mc);
                    double p = exp(lg[i * T + j] - mr) / zr * exp(lg[i * T + j] - mc) / zc;
                    if (floor && p < 1e-6) p = 1e-6;
                    aff[i * T + j] = sqrt(p) * tw[b * T + j];
                }
            for (int i = 0; i < G; i++) {
                double sp = 0, sn = 0;
                for (int j = 0; j < T; j++) {
                    if (j < G + N) sn += aff[i * T + j];
                    else sp += aff[i * T + j];
                }
                double tot = 0;
                double *f = force + (((size_t)r * B + b) * G + i) * S;
                for (int j = 0; j < T; j++) {
                    double c = j < G + N ? -aff[i * T + j] * sp : aff[i * T + j] * sn;
                    tot += c;
                    for (int s = 0; s < S; s++) f[s] += c * tgt[((size_t)b * T + j) * S + s] / s_in;
                }
                for (int s = 0; s < S; s++) {
                    f[s] -= tot * gen[((size_t)b * G + i) * S + s] / s_in;
                    fsq += f[s] * f[s];
                }
            }
            free(lg);
        }
        double fn = fsq / ((double)B * G * S);
        lam[r] = sqrt(fn > 1e-8 ? fn : 1e-8);
    }
    double loss = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < G; i++)
            for (int s = 0; s < S; s++) {
                double tot = 0;
                for (int r = 0; r < nr; r++) tot += force[(((size_t)r * B + b) * G + i) * S + s] / lam[r];
                /* diff = x/s_in − (x/s_in + tot) = −tot */
                loss += tot * tot / ((double)G * S) / B;
                grad[((size_t)b * G + i) * S + s] = -2.0 * tot / (s_in * G * S * B);
            }
    free(dist); free(tw); free(tgt); free(force); free(lam); free(aff);
    return loss;
}

static void fill(drift_rng *r, float *a, size_t n, float mean, float sd)
{
    drift_rng_fill_normal(r, a, n, mean, sd);
}

static void run_case(int B, int G, int N, int P, int S, int floor, float wval, uint64_t seed)
{
    drift_rng r;
    drift_rng_init(&r, seed, 0);
    float *gen = drift_alloc((size_t)B * G * S, sizeof(float));
    float *neg = drift_alloc((size_t)B * N * S + 1, sizeof(float));
    float *pos = drift_alloc((size_t)B * P * S, sizeof(float));
    float *grad = drift_alloc((size_t)B * G * S, sizeof(float));
    float w[16];
    double *rg = drift_alloc((size_t)B * G * S, sizeof(double));
    fill(&r, gen, (size_t)B * G * S, 0, 1);
    fill(&r, neg, (size_t)B * N * S, 0.3f, 1.2f);
    fill(&r, pos, (size_t)B * P * S, 1.0f, 0.8f);
    for (int b = 0; b < B; b++) w[b] = wval * (float)(b % 3);
    drift_release_opts o = {.n_r = 3, .r = {0.02, 0.05, 0.2}, .floor = floor};
    drift_release_result res;
    CHECK_OK(drift_release_loss(&o, B, B, G, N, P, S, gen, N ? neg : NULL, N ? w : NULL, pos, grad, &res));
    double ref = ref_release(B, G, N, P, S, gen, neg, w, pos, o.r, 3, floor, rg);
    CHECK_CLOSE(res.loss, ref, 1e-6, 1e-4);
    double err = 0, mx = 0;
    for (size_t k = 0; k < (size_t)B * G * S; k++) {
        err = fmax(err, fabs(grad[k] - rg[k]));
        mx = fmax(mx, fabs(rg[k]));
    }
    CHECK_MSG(err <= 1e-4 * mx, "B %d G %d N %d P %d S %d floor %d: max |grad - ref| %.3g of %.3g", B, G, N, P,
              S, floor, err, mx);
    /* per-block scope: each block equals the reference run on that block alone (the mean over B
     * problems scales each block's gradient by block/B) */
    if (B % 2 == 0 && B >= 2) {
        CHECK_OK(drift_release_loss(&o, B, B / 2, G, N, P, S, gen, N ? neg : NULL, N ? w : NULL, pos, grad, &res));
        double tot = 0;
        for (int h = 0; h < 2; h++) {
            size_t og = (size_t)h * (B / 2) * G * S;
            tot += ref_release(B / 2, G, N, P, S, gen + og, neg + (size_t)h * (B / 2) * N * S, w + h * (B / 2),
                               pos + (size_t)h * (B / 2) * P * S, o.r, 3, floor, rg + og) / 2;
        }
        CHECK_CLOSE(res.loss, tot, 1e-6, 1e-4);
        err = 0;
        for (size_t k = 0; k < (size_t)B * G * S; k++) err = fmax(err, fabs(grad[k] - rg[k] / 2));
        CHECK_MSG(err <= 1e-4 * mx, "per-block scope: max err %.3g", err);
    }
    drift_free(gen); drift_free(neg); drift_free(pos); drift_free(grad); drift_free(rg);
}

static void test_release_loss_matches_float64_transcription(void)
{
    run_case(1, 8, 0, 10, 5, 1, 0, 1);
    run_case(4, 8, 5, 10, 3, 1, 0.7f, 2);   /* weights 0, 0.7, 1.4: zero-weight negatives stay in */
    run_case(6, 5, 4, 7, 12, 0, 0.5f, 3);   /* no floor */
    run_case(3, 16, 0, 16, 64, 1, 0, 4);
    run_case(2, 1, 0, 3, 2, 1, 0, 5);       /* a single generated row */
}

/* One problem, nonzero negative weight: drift's own deng field with the released options (checked
 * against the authors' loss in tests/field) gives the same gradient −2V/(s²·S·G). */
static void test_release_loss_matches_field_engine(void)
{
    enum { G = 12, N = 6, P = 9, S = 7 };
    drift_rng r;
    drift_rng_init(&r, 9, 0);
    float gen[G * S], neg[N * S], pos[P * S], grad[G * S], v[G * S], w[N];
    fill(&r, gen, G * S, 0, 1);
    fill(&r, neg, N * S, 0, 1);
    fill(&r, pos, P * S, 0.5f, 1);
    for (int j = 0; j < N; j++) w[j] = 0.8f;
    drift_release_opts o = {.n_r = 2, .r = {0.05, 0.2}, .floor = 1};
    drift_release_result res;
    CHECK_OK(drift_release_loss(&o, 1, 1, G, N, P, S, gen, neg, w, pos, grad, &res));
    drift_field_config c;
    drift_field_config_init(&c);
    drift_field_config_deng_released(&c);
    c.kernel = DRIFT_KERNEL_LAPLACE; /* the release's logits are −d/R */
    c.n_tau = 2; c.tau[0] = 0.05; c.tau[1] = 0.2;
    drift_field_batch b = {.n = G, .d = S, .x = gen, .p = P, .pos = pos, .e = N, .extra = neg, .extra_w = w};
    drift_field_result fr;
    memset(&fr, 0, sizeof fr);
    fr.v = v;
    CHECK_OK(drift_field_compute(&c, &b, &fr));
    const double s = fr.feature_scale;
    for (int k = 0; k < G * S; k++) CHECK_CLOSE(grad[k], -2.0 * v[k] / (s * s * S * G), 1e-7, 1e-3);
}

static void test_release_loss_thread_independent(void)
{
    enum { B = 7, G = 9, N = 3, P = 11, S = 6 };
    drift_rng r;
    drift_rng_init(&r, 4, 0);
    float gen[B * G * S], neg[B * N * S], pos[B * P * S], g1[B * G * S], g2[B * G * S], w[B];
    fill(&r, gen, B * G * S, 0, 1);
    fill(&r, neg, B * N * S, 0, 1);
    fill(&r, pos, B * P * S, 1, 1);
    for (int b = 0; b < B; b++) w[b] = 0.3f * b;
    drift_release_opts o = {.n_r = 3, .r = {0.02, 0.05, 0.2}, .floor = 1};
    drift_release_result r1, r2;
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(drift_release_loss(&o, B, B, G, N, P, S, gen, neg, w, pos, g1, &r1));
    omp_set_num_threads(nt > 1 ? nt : 2);
    CHECK_OK(drift_release_loss(&o, B, B, G, N, P, S, gen, neg, w, pos, g2, &r2));
    omp_set_num_threads(nt);
    CHECK(memcmp(g1, g2, sizeof g1) == 0);
    CHECK(r1.loss == r2.loss);
}

static void test_release_loss_refuses_bad_input(void)
{
    float x[4] = {0}, gr[4];
    drift_release_opts o = {.n_r = 1, .r = {0.1}, .floor = 1};
    drift_release_result res;
    CHECK(drift_release_loss(&o, 2, 3, 1, 0, 1, 2, x, NULL, NULL, x, gr, &res) == DRIFT_EINVAL); /* block ∤ B */
    CHECK(drift_release_loss(&o, 1, 1, 0, 0, 1, 2, x, NULL, NULL, x, gr, &res) == DRIFT_EINVAL);
    o.r[0] = -1;
    CHECK(drift_release_loss(&o, 1, 1, 1, 0, 1, 2, x, NULL, NULL, x, gr, &res) == DRIFT_EINVAL);
    o.r[0] = 0.1;
    o.n_r = 0;
    CHECK(drift_release_loss(&o, 1, 1, 1, 0, 1, 2, x, NULL, NULL, x, gr, &res) == DRIFT_EINVAL);
}

/* drop_zero: negatives of weight 0 leave the softmaxes, as if absent (drift's pixel rule); kept
 * (the release) they change the field (weight-0 columns still take softmax mass). */
static void test_release_loss_drop_zero_weight(void)
{
    enum { G = 6, N = 4, P = 7, S = 5 };
    drift_rng r;
    drift_rng_init(&r, 31, 0);
    float gen[G * S], neg[N * S], pos[P * S], g1[G * S], g2[G * S], w = 0;
    fill(&r, gen, G * S, 0, 1);
    fill(&r, neg, N * S, 0, 1);
    fill(&r, pos, P * S, 1, 1);
    drift_release_opts o = {.n_r = 2, .r = {0.05, 0.2}, .floor = 1, .drop_zero = 1};
    drift_release_result a, b;
    CHECK_OK(drift_release_loss(&o, 1, 1, G, N, P, S, gen, neg, &w, pos, g1, &a));
    CHECK_OK(drift_release_loss(&o, 1, 1, G, 0, P, S, gen, NULL, NULL, pos, g2, &b));
    for (int k = 0; k < G * S; k++) CHECK_CLOSE(g1[k], g2[k], 1e-7, 1e-5);
    o.drop_zero = 0;
    CHECK_OK(drift_release_loss(&o, 1, 1, G, N, P, S, gen, neg, &w, pos, g1, &a));
    double diff = 0;
    for (int k = 0; k < G * S; k++) diff = fmax(diff, fabs(g1[k] - g2[k]));
    CHECK(diff > 1e-4);
}

static const drift_feature_map maps[] = {{"conv1", 0, 3, 8, 8}, {"layer1", 192, 4, 4, 4}, {"layer2", 256, 5, 2, 2}};
#define ROW_LEN 276

static void test_keys_spec(void)
{
    drift_feature_key k[DRIFT_MAX_FEATURE_KEYS];
    int n = 0;
    CHECK_OK(drift_feature_keys_build(DRIFT_FEATURE_KEYS_RELEASE, maps, 3, 64, k, DRIFT_MAX_FEATURE_KEYS, &n));
    /* global; conv1 (8×8): 7 pools; layer1 (4×4): 7; layer2 (2×2): tokens, mean, std, mean2, std2 */
    CHECK(n == 1 + 7 + 7 + 5);
    CHECK(!strcmp(k[0].name, "global") && k[0].map == -1 && k[0].tokens == 1 && k[0].dim == 64);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(k[i].name, "conv1")) { found++; CHECK(k[i].tokens == 64 && k[i].dim == 3); }
        if (!strcmp(k[i].name, "conv1_std_4")) { found++; CHECK(k[i].tokens == 4 && k[i].std == 1 && k[i].win == 4); }
        if (!strcmp(k[i].name, "layer2_mean")) { found++; CHECK(k[i].tokens == 1 && k[i].dim == 5); }
        if (!strcmp(k[i].name, "layer2_mean_4")) found += 100;
    }
    CHECK(found == 3);
    CHECK_OK(drift_feature_keys_build("layer1.mean2,global,layer1.mean2", maps, 3, 64, k, 8, &n));
    CHECK(n == 2 && k[0].tokens == 4 && !strcmp(k[0].name, "layer1_mean_2"));
    int nr = 0;
    CHECK_OK(drift_feature_keys_build("release", maps, 3, 64, k, DRIFT_MAX_FEATURE_KEYS, &nr));
    CHECK(nr == 20);
    CHECK_OK(drift_feature_keys_build("light", maps, 3, 64, k, DRIFT_MAX_FEATURE_KEYS, &nr));
    CHECK(nr == 1 + 6 + 2 + 1); /* global, 3 maps × mean/std, layer1 mean2/std2, layer2 tokens */
    CHECK(drift_feature_keys_build("layer2.mean4", maps, 3, 64, k, 8, &n) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "do not tile") != NULL);
    CHECK(drift_feature_keys_build("layer9.mean", maps, 3, 64, k, 8, &n) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "layer9") != NULL);
    CHECK(drift_feature_keys_build("conv1.max", maps, 3, 64, k, 8, &n) == DRIFT_EINVAL);
    CHECK(drift_feature_keys_build("pixels", maps, 3, 64, k, 8, &n) == DRIFT_EINVAL);
    CHECK(drift_feature_keys_build("*.tokens", maps, 3, 64, k, 2, &n) == DRIFT_EINVAL); /* too many */
}

/* Pooling values against a direct float64 evaluation, and the backward pass against central
 * differences of Σ out·g. */
static void test_keys_forward_backward(void)
{
    drift_feature_key k[DRIFT_MAX_FEATURE_KEYS];
    int n = 0;
    CHECK_OK(drift_feature_keys_build(DRIFT_FEATURE_KEYS_RELEASE, maps, 3, ROW_LEN, k, DRIFT_MAX_FEATURE_KEYS, &n));
    enum { R = 2 };
    drift_rng r;
    drift_rng_init(&r, 11, 0);
    float rows[R * ROW_LEN];
    fill(&r, rows, R * ROW_LEN, 0.2f, 1);
    for (int ki = 0; ki < n; ki++) {
        const drift_feature_key *K = &k[ki];
        size_t no = (size_t)R * K->tokens * K->dim;
        float *out = drift_alloc(no, sizeof(float)), *g = drift_alloc(no, sizeof(float));
        float *dr = drift_alloc(R * ROW_LEN, sizeof(float));
        fill(&r, g, no, 0, 1);
        drift_feature_key_forward(K, maps, rows, ROW_LEN, R, out);
        /* spot-check one token per row directly */
        if (K->map >= 0) {
            const drift_feature_map *f = &maps[K->map];
            int64_t t = K->tokens - 1, c = K->dim - 1;
            int win = K->win == 0 ? f->h : K->win;
            int per_row = K->win == 0 ? 1 : f->w / win;
            int y0 = (int)(t / per_row) * win, x0 = (int)(t % per_row) * win;
            double s = 0, s2 = 0, cnt = (double)win * (K->win == 0 ? f->w : win);
            for (int y = y0; y < y0 + win; y++)
                for (int x = x0; x < x0 + (K->win == 0 ? f->w : win); x++) {
                    double v = rows[ROW_LEN + f->offset + (size_t)c * f->h * f->w + (size_t)y * f->w + x];
                    s += v;
                    s2 += v * v;
                }
            double mean = s / cnt, want = K->std ? sqrt(s2 / cnt - mean * mean + 1e-6) : mean;
            CHECK_CLOSE(out[(K->tokens + t) * K->dim + c], want, 1e-5, 1e-4);
        }
        drift_feature_key_backward(K, maps, rows, ROW_LEN, R, g, dr);
        double worst = 0;
        for (int e = 0; e < R * ROW_LEN; e += 7) {
            float keep = rows[e];
            double lp = 0, lm = 0;
            const float h = 1e-2f;
            rows[e] = keep + h;
            drift_feature_key_forward(K, maps, rows, ROW_LEN, R, out);
            for (size_t q = 0; q < no; q++) lp += (double)out[q] * g[q];
            rows[e] = keep - h;
            drift_feature_key_forward(K, maps, rows, ROW_LEN, R, out);
            for (size_t q = 0; q < no; q++) lm += (double)out[q] * g[q];
            rows[e] = keep;
            double fd = (lp - lm) / (2 * h);
            worst = fmax(worst, fabs(fd - dr[e]) / (1e-2 + fabs(fd)));
        }
        CHECK_MSG(worst < 2e-2, "key %s: finite-difference mismatch %.3g", K->name, worst);
        drift_free(out); drift_free(g); drift_free(dr);
    }
}


/* A small encoder on 8×8 images and a step of 3 class groups. */
enum { FG = 3, FGEN = 6, FPOS = 7, FUNC = 4, FD = 64 };

static drift_model *small_encoder(void)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_ENCODER, &c);
    c.channels = 1, c.height = 8, c.width = 8, c.n_widths = 3;
    c.widths[0] = 4, c.widths[1] = 8, c.widths[2] = 8;
    c.depth = 1, c.groups = 2;
    drift_model *m = NULL;
    CHECK_OK(drift_model_create(&c, FG * (FPOS + FUNC), &m));
    if (m) CHECK_OK(drift_model_init_params(m, 5));
    return m;
}

static void make_step(drift_rng *r, float *x, float *pos, float *unc, drift_class_group *g, float w0)
{
    fill(r, x, FG * FGEN * FD, 0, 0.5f);
    fill(r, pos, FG * FPOS * FD, 0.2f, 0.5f);
    fill(r, unc, FG * FUNC * FD, 0, 0.6f);
    for (int i = 0; i < FG; i++)
        g[i] = (drift_class_group){FGEN, FPOS, pos + i * FPOS * FD, FUNC, unc + i * FUNC * FD, w0 * (float)i};
}

/* The multi-key loss is the sum of the single-key losses, and its gradient the sum of theirs
 * (the release sums per-key losses; gradients pass through the pooling and the encoder). */
static void test_feature_loss_is_sum_of_keys(void)
{
    drift_model *enc = small_encoder();
    if (!enc) return;
    drift_feature_map maps[8];
    int nm = drift_model_feature_maps(enc, maps, 8);
    CHECK(nm == 3);
    drift_feature_key keys[DRIFT_MAX_FEATURE_KEYS];
    int nk = 0;
    CHECK_OK(drift_feature_keys_build(DRIFT_FEATURE_KEYS_RELEASE, maps, nm, FD, keys, DRIFT_MAX_FEATURE_KEYS, &nk));
    drift_rng r;
    drift_rng_init(&r, 21, 0);
    static float x[FG * FGEN * FD], pos[FG * FPOS * FD], unc[FG * FUNC * FD], grad[FG * FGEN * FD],
        one[FG * FGEN * FD], sum[FG * FGEN * FD];
    drift_class_group g[FG];
    make_step(&r, x, pos, unc, g, 0.6f); /* weights 0, 0.6, 1.2 */
    drift_feature_loss_config cfg = {.release = {.n_r = 3, .r = {0.02, 0.05, 0.2}, .floor = 1},
                                     .keys = keys, .n_keys = nk, .maps = maps, .n_maps = nm};
    drift_loss_stats st;
    drift_feature_key_stats ks[DRIFT_MAX_FEATURE_KEYS];
    CHECK_OK(drift_feature_loss(&cfg, enc, x, FD, g, FG, grad, &st, ks));
    CHECK(st.loss > 0 && st.feature_scale > 0 && st.v_rms > 0 && st.diversity > 0);
    double tot = 0;
    memset(sum, 0, sizeof sum);
    for (int k = 0; k < nk; k++) {
        drift_feature_loss_config c1 = cfg;
        c1.keys = &keys[k];
        c1.n_keys = 1;
        drift_loss_stats s1;
        CHECK_OK(drift_feature_loss(&c1, enc, x, FD, g, FG, one, &s1, NULL));
        CHECK_CLOSE(s1.loss, ks[k].loss, 0, 1e-12);
        tot += s1.loss;
        for (int i = 0; i < FG * FGEN * FD; i++) sum[i] += one[i];
    }
    CHECK_CLOSE(st.loss, tot, 0, 1e-9);
    double err = 0, mx = 0;
    for (int i = 0; i < FG * FGEN * FD; i++) err = fmax(err, fabs(grad[i] - sum[i])), mx = fmax(mx, fabs(sum[i]));
    CHECK_MSG(mx > 0 && err <= 1e-4 * mx, "sum of keys: %.3g of %.3g", err, mx);
    /* the loss of each key is about the number of temperatures (each normalized to RMS 1) */
    for (int k = 0; k < nk; k++) CHECK_MSG(ks[k].loss > 0.3 && ks[k].loss < 9, "key %s loss %g", keys[k].name, ks[k].loss);
    drift_model_free(enc);
}

/* The global key with per-group scalars is drift's own pixel loss with the released deng field
 * (laplace kernel, feature and drift normalization, soft mask, floor), up to the loss's mean
 * over the groups: drift_drift_loss divides by all rows, the release by the rows of a group and
 * the number of groups. */
static void test_global_key_per_group_equals_pixel_loss(void)
{
    drift_rng r;
    drift_rng_init(&r, 22, 0);
    static float x[FG * FGEN * FD], pos[FG * FPOS * FD], unc[FG * FUNC * FD], grad[FG * FGEN * FD],
        pg[FG * FGEN * FD];
    drift_class_group g[FG];
    make_step(&r, x, pos, unc, g, 0.5f);
    g[0].unc_weight = 0.25f; /* drift's pixel loss drops weight-0 negatives; the release keeps them */
    drift_feature_key key;
    int nk = 0;
    CHECK_OK(drift_feature_keys_build("global", NULL, 0, FD, &key, 1, &nk));
    drift_feature_loss_config cfg = {.release = {.n_r = 2, .r = {0.05, 0.2}, .floor = 1}, .scope_group = 1,
                                     .keys = &key, .n_keys = 1};
    drift_loss_stats st, sp;
    CHECK_OK(drift_feature_loss(&cfg, NULL, x, FD, g, FG, grad, &st, NULL));
    drift_field_config c;
    drift_field_config_init(&c);
    drift_field_config_deng_released(&c);
    c.kernel = DRIFT_KERNEL_LAPLACE;
    c.n_tau = 2; c.tau[0] = 0.05; c.tau[1] = 0.2;
    CHECK_OK(drift_drift_loss(&c, DRIFT_OBJECTIVE_DRIFT, x, FD, g, FG, pg, &sp));
    double err = 0, mx = 0;
    for (int i = 0; i < FG * FGEN * FD; i++) err = fmax(err, fabs(grad[i] - pg[i])), mx = fmax(mx, fabs(pg[i]));
    CHECK_MSG(mx > 0 && err <= 1e-4 * mx, "global key vs pixel loss: %.3g of %.3g", err, mx);
    CHECK_CLOSE(st.loss, sp.loss, 1e-9, 1e-4);
    /* with one step-wide scale the gradient differs (the release's default) */
    cfg.scope_group = 0;
    CHECK_OK(drift_feature_loss(&cfg, NULL, x, FD, g, FG, grad, &st, NULL));
    err = 0;
    for (int i = 0; i < FG * FGEN * FD; i++) err = fmax(err, fabs(grad[i] - pg[i]));
    CHECK(err > 1e-3 * mx);
}

static void test_feature_loss_refuses(void)
{
    drift_rng r;
    drift_rng_init(&r, 23, 0);
    static float x[FG * FGEN * FD], pos[FG * FPOS * FD], unc[FG * FUNC * FD], grad[FG * FGEN * FD];
    drift_class_group g[FG];
    make_step(&r, x, pos, unc, g, 0.5f);
    drift_model *enc = small_encoder();
    if (!enc) return;
    drift_feature_map maps[8];
    int nm = drift_model_feature_maps(enc, maps, 8), nk = 0;
    drift_feature_key keys[4];
    CHECK_OK(drift_feature_keys_build("layer1.mean", maps, nm, FD, keys, 4, &nk));
    drift_feature_loss_config cfg = {.release = {.n_r = 1, .r = {0.1}, .floor = 1}, .keys = keys, .n_keys = nk,
                                     .maps = maps, .n_maps = nm};
    drift_loss_stats st;
    CHECK(drift_feature_loss(&cfg, NULL, x, FD, g, FG, grad, &st, NULL) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "encoder") != NULL);
    g[1].n_pos = FPOS - 1; /* ragged groups */
    CHECK(drift_feature_loss(&cfg, enc, x, FD, g, FG, grad, &st, NULL) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "same numbers") != NULL);
    g[1].n_pos = FPOS;
    x[5] = NAN;
    CHECK(drift_feature_loss(&cfg, enc, x, FD, g, FG, grad, &st, NULL) != DRIFT_OK);
    drift_model_free(enc);
}

int main(void)
{
    RUN(test_release_loss_matches_float64_transcription);
    RUN(test_release_loss_matches_field_engine);
    RUN(test_release_loss_thread_independent);
    RUN(test_release_loss_refuses_bad_input);
    RUN(test_release_loss_drop_zero_weight);
    RUN(test_keys_spec);
    RUN(test_keys_forward_backward);
    RUN(test_feature_loss_is_sum_of_keys);
    RUN(test_global_key_per_group_equals_pixel_loss);
    RUN(test_feature_loss_refuses);
    return TEST_SUMMARY();
}
