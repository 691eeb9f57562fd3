/* Tests for the encoder kind of drift/models.h: the forward pass against a plain float64
 * reference (every map, at its offset of the output row), the feature-map table, the
 * parameter and input gradients against finite differences, the input-gradient-only pass
 * against the full backward (same numbers, parameter gradients untouched), the row-limited
 * pass, batch independence, the config text and its validation. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/models.h"
#include "drift/rng.h"
#include "models/model_internal.h"
#include "test.h"

static drift_model_config enc_cfg(int ch, int h, int w, int nw, const int *widths, int depth, int groups)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_ENCODER, &c);
    c.channels = ch, c.height = h, c.width = w, c.n_widths = nw;
    for (int i = 0; i < nw; i++) c.widths[i] = widths[i];
    c.depth = depth, c.groups = groups;
    return c;
}

static const float *param(const drift_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return m->params + m->tensors[i].offset;
    CHECK_MSG(0, "no tensor %s", name);
    return NULL;
}

/* ---- float64 reference ------------------------------------------------------------------ */

/* out (OC, OH, OW) = conv(in (C, H, W)), zero padding K/2, no bias */
static void ref_conv(double *out, const double *in, const float *w, int C, int H, int W, int OC,
                     int K, int S, int *OHp, int *OWp)
{
    const int p = K / 2, OH = (H + 2 * p - K) / S + 1, OW = (W + 2 * p - K) / S + 1;
    for (int o = 0; o < OC; o++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++) {
                double s = 0;
                for (int c = 0; c < C; c++)
                    for (int a = 0; a < K; a++)
                        for (int b = 0; b < K; b++) {
                            int iy = y * S + a - p, ix = x * S + b - p;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            s += (double)w[((o * C + c) * K + a) * K + b] * in[(c * H + iy) * W + ix];
                        }
                out[(o * OH + y) * OW + x] = s;
            }
    *OHp = OH, *OWp = OW;
}

static void ref_gn(double *x, int C, int HW, int G, const float *gamma, const float *beta)
{
    const int cg = C / G;
    for (int g = 0; g < G; g++) {
        double *v = x + (size_t)g * cg * HW, mu = 0, var = 0;
        for (int i = 0; i < cg * HW; i++) mu += v[i];
        mu /= cg * HW;
        for (int i = 0; i < cg * HW; i++) var += (v[i] - mu) * (v[i] - mu);
        var /= cg * HW;
        for (int c = 0; c < cg; c++)
            for (int i = 0; i < HW; i++)
                v[c * HW + i] = (v[c * HW + i] - mu) / sqrt(var + 1e-5) * gamma[g * cg + c] + beta[g * cg + c];
    }
}

static void ref_relu(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

/* The whole output row of one image, as the header describes the architecture. */
static void ref_encoder(const drift_model *m, const float *img, double *row)
{
    const drift_model_config *c = &m->cfg;
    const int G = c->groups;
    size_t big = (size_t)64 * c->height * c->width * 16;
    double *h = malloc(big * sizeof(double)), *t1 = malloc(big * sizeof(double));
    double *t2 = malloc(big * sizeof(double)), *sk = malloc(big * sizeof(double));
    double *in = malloc((size_t)m->in_dim * sizeof(double));
    for (int i = 0; i < m->in_dim; i++) in[i] = img[i];
    int C = c->channels, H = c->height, W = c->width, OH, OW;
    ref_conv(h, in, param(m, "conv1.weight"), C, H, W, c->widths[0], 3, 1, &OH, &OW);
    C = c->widths[0];
    ref_gn(h, C, H * W, G, param(m, "conv1.norm.weight"), param(m, "conv1.norm.bias"));
    ref_relu(h, (size_t)C * H * W);
    size_t off = 0;
    memcpy(row, h, (size_t)C * H * W * sizeof(double));
    off += (size_t)C * H * W;
    char n[64], n2[64];
    for (int l = 1; l < c->n_widths; l++) {
        const int OC = c->widths[l];
        for (int d = 0; d < c->depth; d++) {
            const int S = d == 0 ? 2 : 1;
            snprintf(n, sizeof n, "layer%d.%d.conv1.weight", l, d);
            ref_conv(t1, h, param(m, n), C, H, W, OC, 3, S, &OH, &OW);
            snprintf(n, sizeof n, "layer%d.%d.norm1.weight", l, d);
            snprintf(n2, sizeof n2, "layer%d.%d.norm1.bias", l, d);
            ref_gn(t1, OC, OH * OW, G, param(m, n), param(m, n2));
            ref_relu(t1, (size_t)OC * OH * OW);
            int h2, w2;
            snprintf(n, sizeof n, "layer%d.%d.conv2.weight", l, d);
            ref_conv(t2, t1, param(m, n), OC, OH, OW, OC, 3, 1, &h2, &w2);
            snprintf(n, sizeof n, "layer%d.%d.norm2.weight", l, d);
            snprintf(n2, sizeof n2, "layer%d.%d.norm2.bias", l, d);
            ref_gn(t2, OC, OH * OW, G, param(m, n), param(m, n2));
            if (S != 1 || OC != C) {
                snprintf(n, sizeof n, "layer%d.%d.proj.weight", l, d);
                ref_conv(sk, h, param(m, n), C, H, W, OC, 1, S, &h2, &w2);
                snprintf(n, sizeof n, "layer%d.%d.proj_norm.weight", l, d);
                snprintf(n2, sizeof n2, "layer%d.%d.proj_norm.bias", l, d);
                ref_gn(sk, OC, OH * OW, G, param(m, n), param(m, n2));
            } else {
                memcpy(sk, h, (size_t)OC * OH * OW * sizeof(double));
            }
            for (size_t i = 0; i < (size_t)OC * OH * OW; i++) h[i] = t2[i] + sk[i];
            ref_relu(h, (size_t)OC * OH * OW);
            C = OC, H = OH, W = OW;
        }
        snprintf(n, sizeof n, "layer%d.norm.weight", l);
        snprintf(n2, sizeof n2, "layer%d.norm.bias", l);
        ref_gn(h, C, H * W, G, param(m, n), param(m, n2));
        memcpy(row + off, h, (size_t)C * H * W * sizeof(double));
        off += (size_t)C * H * W;
    }
    CHECK(off == (size_t)m->out_dim);
    free(h), free(t1), free(t2), free(sk), free(in);
}

/* A model with parameters moved away from their special initial values (unit norms). */
static drift_model *make(const drift_model_config *cfg, int B, uint64_t seed)
{
    drift_model *m = NULL;
    int st = drift_model_create(cfg, B, &m);
    CHECK_MSG(st == 0, "create: %s", drift_last_error());
    if (st) return NULL;
    CHECK_OK(drift_model_init_params(m, seed));
    drift_rng r;
    drift_rng_init(&r, seed, 2);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.2f * (float)drift_rng_normal(&r);
    return m;
}

static float *images(const drift_model *m, int B, uint64_t seed)
{
    float *x = drift_alloc((size_t)B * m->in_dim, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, seed, 3);
    drift_rng_fill_uniform(&r, x, (size_t)B * m->in_dim, -1, 1);
    return x;
}

static void test_forward_reference_and_maps(void)
{
    const int w3[3] = {4, 8, 8}, w2[2] = {6, 4};
    drift_model_config cfgs[3] = {enc_cfg(1, 12, 8, 3, w3, 1, 2), enc_cfg(2, 8, 8, 2, w2, 2, 2),
                                  enc_cfg(1, 28, 28, 3, (const int[]){16, 32, 64}, 1, 8)};
    for (int k = 0; k < 3; k++) {
        const int B = 3;
        drift_model *m = make(&cfgs[k], B, 40 + k);
        if (!m) continue;
        float *x = images(m, B, 5), *out = drift_alloc((size_t)B * m->out_dim, sizeof(float));
        double *ref = drift_alloc((size_t)m->out_dim, sizeof(double));
        CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, out));
        double worst = 0;
        for (int b = 0; b < B; b++) {
            ref_encoder(m, x + (size_t)b * m->in_dim, ref);
            for (int i = 0; i < m->out_dim; i++) {
                double e = fabs(out[(size_t)b * m->out_dim + i] - ref[i]) / (1 + fabs(ref[i]));
                if (e > worst) worst = e;
            }
        }
        CHECK_MSG(worst < 2e-5, "config %d: forward vs float64 reference: worst error %.3g", k, worst);
        /* the map table tiles the row in order: conv1 at full size, then each stage halved */
        drift_feature_map maps[8];
        int n = drift_model_feature_maps(m, maps, 8);
        CHECK(n == cfgs[k].n_widths);
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            char want[24];
            snprintf(want, sizeof want, i ? "layer%d" : "conv1", i);
            CHECK_MSG(!strcmp(maps[i].name, want), "map %d is %s", i, maps[i].name);
            CHECK(maps[i].offset == off);
            CHECK(maps[i].c == cfgs[k].widths[i]);
            CHECK(maps[i].h == cfgs[k].height >> i && maps[i].w == cfgs[k].width >> i);
            off += (size_t)maps[i].c * maps[i].h * maps[i].w;
        }
        CHECK(off == (size_t)m->out_dim);
        CHECK(drift_model_feature_maps(m, NULL, 0) == n);
        CHECK(drift_model_feature_maps(m, maps, 1) == n && !strcmp(maps[0].name, "conv1"));
        drift_free(x), drift_free(out), drift_free(ref);
        drift_model_free(m);
    }
    /* other kinds have no maps */
    drift_model_config g;
    drift_model_config_default(DRIFT_MODEL_CONV, &g);
    drift_model *m = NULL;
    CHECK_OK(drift_model_create(&g, 2, &m));
    if (m) CHECK(drift_model_feature_maps(m, NULL, 0) == 0);
    drift_model_free(m);
}

/* L = Σ w · f(x) in float64 */
static double loss_at(drift_model *m, const float *x, const float *w, float *out, int B)
{
    if (drift_model_forward(m, x, NULL, NULL, B, out)) return NAN;
    double L = 0;
    for (size_t i = 0; i < (size_t)B * m->out_dim; i++) L += (double)w[i] * out[i];
    return L;
}

/* Directional derivative of L along v, moving `target` (params or inputs): central
 * differences with one Richardson step; *kink = |right slope − left slope| (ReLU kinks). */
static double fd(drift_model *m, float *target, const float *base, const float *v, size_t n,
                 const float *x, const float *w, float *out, int B, double eps, double *kink)
{
    double L[5];
    for (int k = -2; k <= 2; k++) {
        for (size_t i = 0; i < n; i++) target[i] = base[i] + (float)(k * eps) * v[i];
        L[k + 2] = loss_at(m, x, w, out, B);
    }
    memcpy(target, base, n * sizeof(float));
    *kink = fabs((L[3] - L[2]) - (L[2] - L[1])) / eps;
    double d1 = (L[3] - L[1]) / (2 * eps), d2 = (L[4] - L[0]) / (4 * eps);
    return (4 * d1 - d2) / 3;
}

/* Checks the parameter gradient (full backward) tensor by tensor and the input gradient
 * (backward_input) along random directions. corrupt: scale the input gradient by 1.03 and
 * count mismatches (a 3 % error must be caught). Returns the number of mismatches. */
static int gradcheck(const drift_model_config *cfg, int B, uint64_t seed, const char *what, int corrupt)
{
    drift_model *m = make(cfg, B, seed);
    if (!m) return 1;
    float *x = images(m, B, seed), *out = drift_alloc((size_t)B * m->out_dim, sizeof(float));
    float *w = drift_alloc((size_t)B * m->out_dim, sizeof(float));
    float *dx = drift_alloc((size_t)B * m->in_dim, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, seed, 4);
    drift_rng_fill_normal(&r, w, (size_t)B * m->out_dim, 0, 1);
    loss_at(m, x, w, out, B);
    double sum_abs = 0;
    for (size_t i = 0; i < (size_t)B * m->out_dim; i++) sum_abs += fabs((double)w[i] * out[i]);
    drift_model_zero_grad(m);
    CHECK_OK(drift_model_backward(m, w));
    CHECK_OK(drift_model_backward_input(m, w, dx));
    if (corrupt)
        for (size_t i = 0; i < (size_t)B * m->in_dim; i++) dx[i] *= 1.03f;
    int bad = 0, skipped = 0;
    const double eps = 1e-4;
    const double noise = 1.5 * 6e-8 * sum_abs / eps;
    /* t = -1: the input; t >= 0: one parameter tensor */
    for (int t = -1; t < m->n_tensors; t++) {
        size_t n = t < 0 ? (size_t)B * m->in_dim : m->tensors[t].count;
        float *target = t < 0 ? x : m->params + m->tensors[t].offset;
        const float *grad = t < 0 ? dx : m->grads + m->tensors[t].offset;
        float *base = drift_alloc(n, sizeof(float)), *v = drift_alloc(n, sizeof(float));
        memcpy(base, target, n * sizeof(float));
        double gn = 0;
        for (size_t i = 0; i < n; i++) gn += (double)grad[i] * grad[i];
        int compared = 0;
        for (int tries = 0; tries < 8 && !compared; tries++) {
            drift_rng_fill_normal(&r, v, n, 0, 1);
            double an = 0, kink;
            for (size_t i = 0; i < n; i++) an += (double)grad[i] * v[i];
            double f = fd(m, target, base, v, n, x, w, out, B, eps, &kink);
            double tol = 3e-3 * fabs(f) + 3e-4 * sqrt(gn * n) + noise;
            if (kink > 0.5 * tol + 0.02 * fabs(f)) {
                skipped++;
                continue;
            }
            compared = 1;
            if (!(fabs(an - f) <= tol)) {
                bad++;
                if (!corrupt)
                    CHECK_MSG(0, "%s: %s: grad·v %.8g vs finite difference %.8g (tol %.3g)", what,
                              t < 0 ? "input" : m->tensors[t].name, an, f, tol);
            }
        }
        if (!compared) bad++;
        if (!corrupt)
            CHECK_MSG(compared, "%s: %s: no smooth direction", what, t < 0 ? "input" : m->tensors[t].name);
        drift_free(base), drift_free(v);
        if (corrupt) break; /* only the input gradient was corrupted */
    }
    if (!corrupt) CHECK_MSG(bad == 0, "%s: %d mismatches (%d kinked directions skipped)", what, bad, skipped);
    drift_free(x), drift_free(out), drift_free(w), drift_free(dx);
    drift_model_free(m);
    return bad;
}

static void test_gradcheck(void)
{
    const int w3[3] = {4, 8, 8}, w2[2] = {4, 4};
    drift_model_config a = enc_cfg(1, 8, 8, 3, w3, 1, 2);
    drift_model_config b = enc_cfg(2, 8, 4, 2, w2, 2, 2); /* depth 2: an identity skip */
    drift_model_config c = enc_cfg(1, 6, 6, 1, w2, 1, 4); /* conv1 alone */
    gradcheck(&a, 3, 1, "encoder 3 maps", 0);
    gradcheck(&b, 2, 2, "encoder depth 2", 0);
    gradcheck(&c, 2, 3, "encoder conv1 only", 0);
    CHECK(gradcheck(&a, 3, 4, "encoder corrupted", 1) > 0);
}

/* backward_input gives the numbers the full backward computes for the input (the internal
 * pass with parameter gradients and an input gradient), leaves m->grads alone, and the
 * row-limited pass equals the first rows of the whole one. */
static void test_backward_input_vs_full(void)
{
    const int w3[3] = {8, 16, 16};
    drift_model_config cfg = enc_cfg(1, 16, 16, 3, w3, 1, 4);
    const int B = 40; /* several GEMM chunks */
    drift_model *m = make(&cfg, B, 7);
    if (!m) return;
    float *x = images(m, B, 8), *w = drift_alloc((size_t)B * m->out_dim, sizeof(float));
    float *d_in = drift_alloc((size_t)B * m->in_dim, sizeof(float));
    float *d_full = drift_alloc((size_t)B * m->in_dim, sizeof(float));
    float *d_rows = drift_alloc((size_t)B * m->in_dim, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 9, 1);
    drift_rng_fill_normal(&r, w, (size_t)B * m->out_dim, 0, 1);
    CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, NULL));
    for (size_t i = 0; i < m->n_params; i++) m->grads[i] = 0.25f;
    CHECK_OK(drift_model_backward_input(m, w, d_in));
    int untouched = 1;
    for (size_t i = 0; i < m->n_params; i++) untouched &= m->grads[i] == 0.25f;
    CHECK_MSG(untouched, "backward_input changed the parameter gradients");
    /* the full pass (parameter gradients on) with the input gradient requested */
    memset(m->impl->dacts, 0, m->act_floats * sizeof(float));
    drift_model_zero_grad(m);
    encoder_backward(m, w, B, d_full, 1);
    CHECK(memcmp(d_in, d_full, (size_t)B * m->in_dim * sizeof(float)) == 0);
    double gsum = 0;
    for (size_t i = 0; i < m->n_params; i++) gsum += fabs(m->grads[i]);
    CHECK(gsum > 0);
    /* rows: the first 13 rows alone */
    const int R = 13;
    CHECK_OK(drift_model_backward_input_rows(m, w, R, d_rows));
    double worst = 0, scale = 0;
    for (size_t i = 0; i < (size_t)R * m->in_dim; i++) {
        double e = fabs(d_rows[i] - d_in[i]);
        if (e > worst) worst = e;
        if (fabs(d_in[i]) > scale) scale = fabs(d_in[i]);
    }
    /* equal up to rounding: the GEMMs may block a smaller batch differently */
    CHECK_MSG(worst <= 1e-5 * scale, "rows pass vs whole batch: worst error %.3g of max %.3g", worst, scale);
    /* errors */
    CHECK(drift_model_backward_input_rows(m, w, 0, d_rows) == DRIFT_EINVAL);
    CHECK(drift_model_backward_input_rows(m, w, B + 1, d_rows) == DRIFT_EINVAL);
    CHECK(drift_model_backward_input(m, NULL, d_rows) == DRIFT_EINVAL);
    drift_model_config g;
    drift_model_config_default(DRIFT_MODEL_MLP, &g);
    drift_model *mlp = NULL;
    CHECK_OK(drift_model_create(&g, 2, &mlp));
    float noise[64] = {0}, o[4], dn[64];
    if (mlp) {
        CHECK_OK(drift_model_forward(mlp, noise, NULL, NULL, 2, o));
        CHECK(drift_model_backward_input(mlp, o, dn) == DRIFT_EINVAL);
        CHECK(strstr(drift_last_error(), "only the encoder") != NULL);
    }
    drift_model_free(mlp);
    drift_model *fresh = make(&cfg, 2, 1);
    if (fresh) CHECK(drift_model_backward_input(fresh, w, d_rows) == DRIFT_EINVAL);
    drift_model_free(fresh);
    drift_free(x), drift_free(w), drift_free(d_in), drift_free(d_full), drift_free(d_rows);
    drift_model_free(m);
}

/* Each output row depends on its own image only, and repeated runs are bitwise equal. */
static void test_batch_independence(void)
{
    drift_model_config cfg;
    drift_model_config_default(DRIFT_MODEL_ENCODER, &cfg);
    const int B = 20;
    drift_model *m = make(&cfg, B, 11);
    if (!m) return;
    float *x = images(m, B, 12), *o1 = drift_alloc((size_t)B * m->out_dim, sizeof(float));
    float *o2 = drift_alloc((size_t)B * m->out_dim, sizeof(float));
    CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, o1));
    CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, o2));
    CHECK(memcmp(o1, o2, (size_t)B * m->out_dim * sizeof(float)) == 0);
    CHECK_OK(drift_model_forward(m, x + (size_t)7 * m->in_dim, NULL, NULL, 1, o2));
    double worst = 0;
    for (int i = 0; i < m->out_dim; i++) {
        double e = fabs(o2[i] - o1[(size_t)7 * m->out_dim + i]);
        if (e > worst) worst = e;
    }
    CHECK_MSG(worst < 1e-5, "row 7 alone vs in a batch: %.3g", worst);
    CHECK(m->out_dim == 8 * 28 * 28 + 16 * 14 * 14 + 32 * 7 * 7);
    CHECK(strstr(drift_model_describe(m), "layer2 32x7x7") != NULL);
    drift_free(x), drift_free(o1), drift_free(o2);
    drift_model_free(m);
}

static void test_config(void)
{
    drift_model_config c, back;
    CHECK_OK(drift_model_config_default(DRIFT_MODEL_ENCODER, &c));
    drift_model_kind k;
    CHECK_OK(drift_model_kind_parse("encoder", &k));
    CHECK(k == DRIFT_MODEL_ENCODER);
    CHECK(!strcmp(drift_model_kind_name(DRIFT_MODEL_ENCODER), "encoder"));
    CHECK(drift_model_kind_parse("resnet", &k) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "encoder") != NULL);
    char text[512];
    c.widths[0] = 12, c.depth = 2, c.groups = 4;
    CHECK_OK(drift_model_config_format(&c, text, sizeof text));
    CHECK_OK(drift_model_config_parse(text, &back));
    CHECK(back.kind == DRIFT_MODEL_ENCODER && back.widths[0] == 12 && back.depth == 2 &&
          back.groups == 4 && back.n_widths == 3 && back.out_dim == 12 * 784 + 16 * 196 + 32 * 49);
    /* validation: each message names the problem */
    drift_model *m = NULL;
    drift_model_config bad = c;
    bad.groups = 3;
    CHECK(drift_model_create(&bad, 1, &m) == DRIFT_EINVAL && strstr(drift_last_error(), "groups"));
    bad = c, bad.n_widths = 4; /* 28 is not divisible by 8 */
    bad.widths[3] = 64;
    CHECK(drift_model_create(&bad, 1, &m) == DRIFT_EINVAL && strstr(drift_last_error(), "divisible"));
    bad = c, bad.n_classes = 10;
    CHECK(drift_model_create(&bad, 1, &m) == DRIFT_EINVAL && strstr(drift_last_error(), "classes"));
    bad = c, bad.channels = bad.height = bad.width = 0;
    CHECK(drift_model_create(&bad, 1, &m) == DRIFT_EINVAL && strstr(drift_last_error(), "image"));
    bad = c, bad.out_dim = 5;
    CHECK(drift_model_create(&bad, 1, &m) == DRIFT_EINVAL && strstr(drift_last_error(), "out_dim"));
    CHECK(m == NULL);
    /* labels and alpha are refused */
    CHECK_OK(drift_model_create(&c, 2, &m));
    if (m) {
        float x[2 * 784] = {0};
        int y[2] = {0, 1};
        float a[2] = {1, 1};
        CHECK(drift_model_forward(m, x, y, NULL, 2, NULL) == DRIFT_EINVAL);
        CHECK(drift_model_forward(m, x, NULL, a, 2, NULL) == DRIFT_EINVAL);
        CHECK_OK(drift_model_forward(m, x, NULL, NULL, 2, NULL));
    }
    drift_model_free(m);
}

int main(void)
{
    RUN(test_forward_reference_and_maps);
    RUN(test_gradcheck);
    RUN(test_backward_input_vs_full);
    RUN(test_batch_independence);
    RUN(test_config);
    return TEST_SUMMARY();
}
