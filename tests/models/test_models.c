/* Tests for drift/models.h: whole-model gradients against finite differences (every kind,
 * conditional and not), determinism, parameter counts against closed formulas, input
 * validation, config round trips, and a short classifier training run. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/models.h"
#include "drift/nn.h"
#include "drift/optim.h"
#include "drift/rng.h"
#include "test.h"

static drift_model_config mlp_cfg(int nz, int w0, int w1, int out, int classes, int alpha, int tanh_out)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_MLP, &c);
    c.noise_dim = nz, c.n_widths = 2, c.widths[0] = w0, c.widths[1] = w1, c.out_dim = out;
    c.n_classes = classes, c.use_alpha = alpha, c.alpha_freqs = 3, c.out_tanh = tanh_out;
    return c;
}

static drift_model_config conv_cfg(int ch, int h, int w, int nw, const int *widths, int depth,
                                   int groups, int classes, int alpha)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_CONV, &c);
    c.noise_dim = 6, c.channels = ch, c.height = h, c.width = w, c.n_widths = nw;
    for (int i = 0; i < nw; i++) c.widths[i] = widths[i];
    c.depth = depth, c.groups = groups, c.n_classes = classes, c.use_alpha = alpha;
    c.cond_dim = 5, c.alpha_freqs = 3;
    return c;
}

static drift_model_config clf_cfg(int h, int w, int w0, int w1, int w2, int classes)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_CLASSIFIER, &c);
    c.height = h, c.width = w, c.widths[0] = w0, c.widths[1] = w1, c.widths[2] = w2;
    c.n_classes = classes;
    return c;
}

/* Inputs for a model: noise (or images in [-1, 1]), labels with some nulls, α in [1, 4]. */
typedef struct {
    float *x, *alpha, *w, *out;
    int *labels;
} batch_data;

static batch_data make_batch(const drift_model *m, int B, uint64_t seed)
{
    batch_data d;
    drift_rng r;
    drift_rng_init(&r, seed, 1);
    d.x = drift_alloc((size_t)B * m->in_dim, 4);
    d.w = drift_alloc((size_t)B * m->out_dim, 4);
    d.out = drift_alloc((size_t)B * m->out_dim, 4);
    d.alpha = drift_alloc((size_t)B, 4);
    d.labels = drift_alloc((size_t)B, sizeof(int));
    if (m->cfg.kind == DRIFT_MODEL_CLASSIFIER)
        drift_rng_fill_uniform(&r, d.x, (size_t)B * m->in_dim, -1, 1);
    else
        drift_rng_fill_normal(&r, d.x, (size_t)B * m->in_dim, 0, 1);
    drift_rng_fill_normal(&r, d.w, (size_t)B * m->out_dim, 0, 1);
    drift_rng_fill_uniform(&r, d.alpha, (size_t)B, 1, 4);
    int K = m->cfg.n_classes;
    for (int b = 0; b < B; b++) d.labels[b] = K > 0 && b % (K + 1) == K ? DRIFT_LABEL_NULL : (K ? b % K : 0);
    return d;
}

static void free_batch(batch_data *d)
{
    drift_free(d->x), drift_free(d->alpha), drift_free(d->w), drift_free(d->out);
    drift_free(d->labels);
}

/* L = Σ w · f(x), accumulated in float64 */
static double loss_at(drift_model *m, const batch_data *d, int B)
{
    const int *y = m->cfg.kind != DRIFT_MODEL_CLASSIFIER && m->cfg.n_classes ? d->labels : NULL;
    const float *a = m->cfg.kind != DRIFT_MODEL_CLASSIFIER && m->cfg.use_alpha ? d->alpha : NULL;
    int st = drift_model_forward(m, d->x, y, a, B, d->out);
    if (st) return NAN;
    double L = 0;
    for (size_t i = 0; i < (size_t)B * m->out_dim; i++) L += (double)d->w[i] * d->out[i];
    return L;
}

/* One directional derivative by central differences with one Richardson step:
 * D(h) = (L(θ + hv) − L(θ − hv)) / 2h, estimate (4·D(ε) − D(2ε)) / 3, whose error is
 * O(ε⁴) (group norm and tanh make the O(ε²) term of plain differences visible in
 * float32-friendly steps). Also reports whether L looks smooth there (left and right
 * one-sided slopes agree): ReLU / max-pool networks have kinks, and moving every parameter
 * at once crosses one often enough that such a direction is discarded, not compared. */
static double directional_fd(drift_model *m, const batch_data *d, int B, const float *theta,
                             const float *v, size_t lo, size_t hi, double eps, double *kink)
{
    double L[5];
    for (int k = -2; k <= 2; k++) {
        for (size_t i = lo; i < hi; i++) m->params[i] = theta[i] + (float)(k * eps) * v[i];
        L[k + 2] = loss_at(m, d, B);
    }
    memcpy(m->params + lo, theta + lo, (hi - lo) * sizeof(float));
    *kink = fabs((L[3] - L[2]) - (L[2] - L[1])) / eps; /* |right slope − left slope| */
    double d1 = (L[3] - L[1]) / (2 * eps), d2 = (L[4] - L[0]) / (4 * eps);
    return (4 * d1 - d2) / 3;
}

/* Directional finite differences for the whole parameter vector and for each tensor
 * alone: grad · v must match the finite difference. Returns the number of mismatches. */
static int model_gradcheck(const drift_model_config *cfg, int B, double eps, double rtol,
                           int kinks, uint64_t seed, const char *what, int corrupt)
{
    drift_model *m = NULL;
    int st = drift_model_create(cfg, B, &m);
    CHECK_MSG(st == 0, "%s: create: %s", what, drift_last_error());
    if (st) return 1;
    CHECK_OK(drift_model_init_params(m, seed));
    drift_rng r;
    drift_rng_init(&r, seed, 2);
    /* move away from the special initial values (zero FiLM, unit norms, zero biases) */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += 0.3f * (float)drift_rng_normal(&r);
    batch_data d = make_batch(m, B, seed);

    loss_at(m, &d, B);
    /* float32 rounding of the loss, ~half an ulp per output term, through the estimate */
    double sum_abs = 0;
    for (size_t i = 0; i < (size_t)B * m->out_dim; i++) sum_abs += fabs((double)d.w[i] * d.out[i]);
    const double noise = 1.5 * 6e-8 * sum_abs / eps;
    drift_model_zero_grad(m);
    CHECK_OK(drift_model_backward(m, d.w));
    if (corrupt) m->grads[m->tensors[m->n_tensors - 1].offset] *= 1.05f;
    double gnorm = 0;
    for (size_t i = 0; i < m->n_params; i++) gnorm += (double)m->grads[i] * m->grads[i];
    gnorm = sqrt(gnorm);

    float *theta = drift_alloc(m->n_params, 4), *v = drift_alloc(m->n_params, 4);
    memcpy(theta, m->params, m->n_params * 4);
    int bad = 0, skipped = 0;
    for (int t = -1; t < m->n_tensors; t++) { /* t = -1: all parameters at once */
        size_t lo = t < 0 ? 0 : m->tensors[t].offset;
        size_t hi = t < 0 ? m->n_params : lo + m->tensors[t].count;
        double tol0 = 2e-4 * gnorm * sqrt((double)(hi - lo) / m->n_params) + noise;
        int tries = 0, compared = 0;
        for (; tries < 8 && !compared; tries++) {
            memset(v, 0, m->n_params * 4);
            drift_rng_fill_normal(&r, v + lo, hi - lo, 0, 1);
            double an = 0, kink;
            for (size_t i = lo; i < hi; i++) an += (double)m->grads[i] * v[i];
            double fd = directional_fd(m, &d, B, theta, v, lo, hi, eps, &kink);
            double tol = rtol * fabs(fd) + tol0;
            if (kinks && kink > 0.5 * tol + 0.02 * fabs(fd)) {
                skipped++;
                continue; /* a kink inside [−ε, ε]: this direction says nothing */
            }
            compared = 1;
            if (!(fabs(an - fd) <= tol)) {
                bad++;
                if (!corrupt)
                    CHECK_MSG(0, "%s: %s: grad·v %.8g vs finite difference %.8g", what,
                              t < 0 ? "all parameters" : m->tensors[t].name, an, fd);
            }
        }
        if (!compared) {
            bad++;
            CHECK_MSG(corrupt, "%s: %s: no smooth direction in 8 tries", what,
                      t < 0 ? "all parameters" : m->tensors[t].name);
        }
    }
    if (!corrupt) CHECK_MSG(bad == 0, "%s: %d mismatches", what, bad);
    /* kinks are rare: most directions must have been usable */
    CHECK_MSG(skipped <= m->n_tensors / 2 + 1, "%s: %d kinked directions", what, skipped);
    if (getenv("DRIFT_TEST_VERBOSE"))
        fprintf(stderr, "  %s: %d parameters, %d tensors, %d kinked directions skipped, fd noise %.2g\n",
                what, (int)m->n_params, m->n_tensors, skipped, noise);
    drift_free(theta), drift_free(v);
    free_batch(&d);
    drift_model_free(m);
    return bad;
}

static void test_gradcheck_mlp(void)
{
    drift_model_config a = mlp_cfg(5, 7, 6, 3, 0, 0, 0);
    drift_model_config b = mlp_cfg(5, 8, 6, 4, 3, 1, 1);
    drift_model_config c = mlp_cfg(4, 6, 5, 2, 4, 0, 0);
    drift_model_config d = mlp_cfg(4, 6, 5, 2, 0, 1, 1);
    model_gradcheck(&a, 5, 3e-3, 2e-3, 0, 1, "mlp unconditional", 0);
    model_gradcheck(&b, 6, 3e-3, 2e-3, 0, 2, "mlp classes+alpha", 0);
    model_gradcheck(&c, 6, 3e-3, 2e-3, 0, 3, "mlp classes", 0);
    model_gradcheck(&d, 4, 3e-3, 2e-3, 0, 4, "mlp alpha", 0);
}

static void test_gradcheck_conv(void)
{
    const int w2[2] = {8, 4}, w3[3] = {4, 6, 4};
    drift_model_config a = conv_cfg(1, 8, 8, 2, w2, 1, 2, 0, 0);
    drift_model_config b = conv_cfg(2, 8, 8, 2, w2, 2, 2, 3, 1);
    drift_model_config c = conv_cfg(1, 16, 8, 3, w3, 1, 2, 0, 1);
    drift_model_config d = conv_cfg(1, 8, 8, 2, w2, 1, 4, 2, 0);
    d.out_tanh = 0;
    model_gradcheck(&a, 3, 3e-3, 2e-3, 0, 11, "conv unconditional", 0);
    model_gradcheck(&b, 4, 3e-3, 2e-3, 0, 12, "conv classes+alpha depth 2", 0);
    model_gradcheck(&c, 3, 3e-3, 2e-3, 0, 13, "conv alpha, 3 levels", 0);
    model_gradcheck(&d, 3, 3e-3, 2e-3, 0, 14, "conv classes, no tanh", 0);
}

static void test_gradcheck_classifier(void)
{
    /* ReLU and max pool have kinks: a small step keeps crossings rare, and the checker
     * skips the directions that still cross one */
    drift_model_config a = clf_cfg(12, 12, 4, 6, 10, 5);
    drift_model_config b = clf_cfg(13, 11, 3, 4, 7, 3);
    model_gradcheck(&a, 4, 1e-4, 5e-3, 1, 21, "classifier 12x12", 0);
    model_gradcheck(&b, 3, 1e-4, 5e-3, 1, 22, "classifier 13x11", 0);
}

static void test_gradcheck_can_fail(void)
{
    /* a 5 % error in one tensor's gradient must be caught */
    const int w2[2] = {8, 4};
    drift_model_config a = mlp_cfg(5, 7, 6, 3, 2, 1, 0);
    drift_model_config b = conv_cfg(1, 8, 8, 2, w2, 1, 2, 3, 1);
    CHECK(model_gradcheck(&a, 4, 3e-3, 2e-3, 0, 31, "mlp corrupted", 1) > 0);
    CHECK(model_gradcheck(&b, 3, 3e-3, 2e-3, 0, 32, "conv corrupted", 1) > 0);
    drift_model_config c = clf_cfg(12, 12, 4, 6, 10, 5);
    CHECK(model_gradcheck(&c, 4, 1e-4, 5e-3, 1, 33, "classifier corrupted", 1) > 0);
}

/* ---- DiT ------------------------------------------------------------------------- */

static drift_model_config dit_cfg(int ch, int h, int w, int patch, int dim, int hidden, int heads,
                                  int depth, int tokens, int style, int classes, int alpha)
{
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_DIT, &c);
    c.channels = ch, c.height = h, c.width = w, c.patch = patch;
    c.widths[0] = dim, c.widths[1] = hidden, c.heads = heads, c.depth = depth;
    c.tokens = tokens, c.style = style, c.style_vocab = 5;
    c.n_classes = classes, c.use_alpha = alpha, c.alpha_freqs = 3;
    return c;
}

/* closed-form parameter count of a DiT config */
static size_t dit_params(const drift_model_config *c)
{
    size_t D = c->widths[0], F = c->widths[1], PD = (size_t)c->channels * c->patch * c->patch;
    size_t n = 0;
    if (c->n_classes) n += (c->n_classes + 1) * D;
    if (c->use_alpha) n += D * 2 * c->alpha_freqs + D + D * D + D;
    if (c->style) n += (size_t)c->style_vocab * D;
    n += (size_t)c->tokens * D + D * PD + D;                          /* ctx, patch embedding */
    n += (size_t)c->depth * (6 * D * D + 6 * D + 4 * D * D + 2 * (D / c->heads) + 3 * D * F);
    n += 2 * D * D + 2 * D + PD * D + PD;                             /* final adaLN, linear */
    return n;
}

static void test_gradcheck_dit(void)
{
    /* 8×8 image, patch 4: 4 patch tokens + 2 in-context tokens, 2 heads of 4, 2 blocks */
    drift_model_config a = dit_cfg(1, 8, 8, 4, 8, 12, 2, 2, 2, 3, 3, 1);
    /* no conditioning at all (c = 0: the modulation is its bias), 2 channels, 4×6, patch 2 */
    drift_model_config b = dit_cfg(2, 4, 6, 2, 8, 8, 1, 1, 0, 0, 0, 0);
    b.out_tanh = 0;
    /* style only, one in-context token */
    drift_model_config c = dit_cfg(1, 6, 6, 3, 8, 4, 2, 1, 1, 4, 0, 0);
    model_gradcheck(&a, 3, 3e-3, 2e-3, 0, 41, "dit classes+alpha+style", 0);
    model_gradcheck(&b, 3, 3e-3, 2e-3, 0, 42, "dit unconditional, no tanh", 0);
    model_gradcheck(&c, 4, 3e-3, 2e-3, 0, 43, "dit style only", 0);
    CHECK(model_gradcheck(&a, 3, 3e-3, 2e-3, 0, 44, "dit corrupted", 1) > 0);
}

static void test_dit_model(void)
{
    /* the sizes, their parameter counts (closed form), derived dims, the config text */
    drift_model_config t, s, back;
    CHECK_OK(drift_model_config_dit("dit-t", &t));
    CHECK_OK(drift_model_config_dit("dit-s", &s));
    CHECK(drift_model_config_dit("dit-xl", &back) == DRIFT_EINVAL);
    t.n_classes = s.n_classes = 10, t.use_alpha = s.use_alpha = 1;
    drift_model *mt = NULL, *ms = NULL;
    CHECK_OK(drift_model_create(&t, 2, &mt));
    CHECK_OK(drift_model_create(&s, 2, &ms));
    if (!mt || !ms) return;
    CHECK(mt->in_dim == 784 + 32 && mt->out_dim == 784 && mt->cfg.cond_dim == 128);
    CHECK(mt->n_params == dit_params(&mt->cfg) && ms->n_params == dit_params(&ms->cfg));
    CHECK_MSG(mt->n_params > 1000000 && mt->n_params < 2000000, "dit-t has %zu parameters", mt->n_params);
    CHECK_MSG(ms->n_params > 6000000 && ms->n_params < 10000000, "dit-s has %zu parameters", ms->n_params);
    CHECK(strstr(drift_model_describe(mt), "dit generator") != NULL);
    char buf[1024];
    CHECK_OK(drift_model_config_format(&mt->cfg, buf, sizeof buf));
    CHECK(strstr(buf, "kind=dit") && strstr(buf, "patch=4") && strstr(buf, "style=32"));
    CHECK_OK(drift_model_config_parse(buf, &back));
    CHECK(memcmp(&mt->cfg, &back, sizeof back) == 0);

    /* adaLN-zero: at init every block is the identity and the gates get gradient, the
     * blocks' weights none; the output depends on the noise image and on the style values */
    CHECK_OK(drift_model_init_params(mt, 5));
    enum { B = 2 };
    float z[B * 816], out[B * 784], out2[B * 784], dout[B * 784];
    drift_rng r;
    drift_rng_init(&r, 6, 0);
    drift_rng_fill_normal(&r, z, B * 816, 0, 1);
    drift_rng_fill_normal(&r, dout, B * 784, 0, 1);
    int labels[B] = {3, DRIFT_LABEL_NULL};
    float alpha[B] = {1.5f, 2.0f};
    CHECK_OK(drift_model_forward(mt, z, labels, alpha, B, out));
    drift_model_zero_grad(mt);
    CHECK_OK(drift_model_backward(mt, dout));
    double g_ada = 0, g_q = 0;
    for (int i = 0; i < mt->n_tensors; i++) {
        const drift_param_tensor *pt = &mt->tensors[i];
        double n2 = 0;
        for (size_t j = 0; j < pt->count; j++) n2 += (double)mt->grads[pt->offset + j] * mt->grads[pt->offset + j];
        if (!strcmp(pt->name, "blk0.ada.weight")) g_ada = n2;
        if (!strcmp(pt->name, "blk0.attn.q.weight")) g_q = n2;
    }
    CHECK(g_ada > 0 && g_q == 0);
    float z2[B * 816];
    memcpy(z2, z, sizeof z);
    for (int j = 0; j < 32; j++) z2[784 + j] = -z2[784 + j]; /* other style indices */
    CHECK_OK(drift_model_forward(mt, z2, labels, alpha, B, out2));
    CHECK(memcmp(out, out2, sizeof out) == 0); /* c reaches the output only through the gates */
    mt->params[mt->tensors[mt->n_tensors - 4].offset + 5] = 0.5f; /* final.ada.weight: c matters */
    CHECK_OK(drift_model_forward(mt, z, labels, alpha, B, out));
    CHECK_OK(drift_model_forward(mt, z2, labels, alpha, B, out2));
    CHECK(memcmp(out, out2, sizeof out) != 0);
    CHECK(drift_model_config_parse("kind=dit patch=5", &back) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "patch") != NULL);
    CHECK(drift_model_config_parse("kind=dit heads=3", &back) == DRIFT_EINVAL);
    CHECK(drift_model_config_parse("kind=dit noise_dim=64", &back) == DRIFT_EINVAL);
    drift_model_free(mt);
    drift_model_free(ms);
}

/* ---------------------------------------------------------------------------------- */

static size_t expected_params(const drift_model_config *c)
{
    size_t n = 0, cd = (size_t)c->cond_dim, F = (size_t)c->alpha_freqs;
    int cond = c->n_classes > 0 || c->use_alpha;
    if (c->kind == DRIFT_MODEL_CLASSIFIER) {
        size_t w0 = c->widths[0], w1 = c->widths[1], w2 = c->widths[2], K = c->n_classes;
        size_t oh = (c->height / 2 + 2 - 3) / 2 + 1, ow = (c->width / 2 + 2 - 3) / 2 + 1;
        return c->channels * w0 * 9 + w0 + w0 * w1 * 9 + w1 + w1 * oh * ow * w2 + w2 + w2 * K + K;
    }
    if (c->kind == DRIFT_MODEL_MLP) cd = cond ? (size_t)c->widths[0] : 0;
    if (c->n_classes) n += (size_t)(c->n_classes + 1) * cd;
    if (c->use_alpha) n += cd * 2 * F + cd + cd * cd + cd;
    if (c->kind == DRIFT_MODEL_MLP) {
        size_t prev = c->noise_dim;
        for (int i = 0; i < c->n_widths; i++) n += prev * c->widths[i] + c->widths[i], prev = c->widths[i];
        return n + prev * c->out_dim + c->out_dim;
    }
    int L = c->n_widths;
    size_t hw0 = (size_t)(c->height >> L) * (c->width >> L), C = c->widths[0];
    n += C * hw0 * (c->noise_dim + (cond ? cd : 0)) + C * hw0;
    for (int l = 0; l < L; l++)
        for (int k = 0; k < c->depth; k++) {
            size_t oc = c->widths[l];
            n += C * oc * 9 + oc + 2 * oc + (cond ? 2 * oc * cd + 2 * oc : 0);
            C = oc;
        }
    return n + C * c->channels * 9 + c->channels;
}

static void test_param_counts(void)
{
    const int w2[2] = {8, 4}, w3[3] = {4, 6, 4};
    drift_model_config cfgs[10];
    int n = 0;
    drift_model_config_default(DRIFT_MODEL_MLP, &cfgs[n++]);
    drift_model_config_default(DRIFT_MODEL_CONV, &cfgs[n++]);
    drift_model_config_default(DRIFT_MODEL_CLASSIFIER, &cfgs[n++]);
    cfgs[n] = cfgs[1], cfgs[n].n_classes = 10, cfgs[n++].use_alpha = 1;
    cfgs[n++] = mlp_cfg(5, 8, 6, 4, 3, 1, 1);
    cfgs[n++] = conv_cfg(2, 8, 8, 2, w2, 2, 2, 3, 1);
    cfgs[n++] = conv_cfg(1, 16, 8, 3, w3, 1, 2, 0, 0);
    cfgs[n++] = clf_cfg(13, 11, 3, 4, 7, 3);
    for (int i = 0; i < n; i++) {
        drift_model *m;
        CHECK_OK(drift_model_create(&cfgs[i], 2, &m));
        if (!m) continue;
        CHECK_MSG(m->n_params == expected_params(&m->cfg), "config %d: %zu vs formula %zu", i,
                  m->n_params, expected_params(&m->cfg));
        CHECK(drift_model_param_count(m) == m->n_params);
        /* the tensor table tiles the flat buffer exactly */
        size_t off = 0;
        int tiled = 1, named = 1;
        const char *desc = drift_model_describe(m);
        for (int t = 0; t < m->n_tensors; t++) {
            tiled &= m->tensors[t].offset == off;
            size_t cnt = 1;
            for (int k = 0; k < m->tensors[t].ndim; k++) cnt *= (size_t)m->tensors[t].shape[k];
            tiled &= cnt == m->tensors[t].count;
            off += m->tensors[t].count;
            named &= strstr(desc, m->tensors[t].name) != NULL;
        }
        CHECK(tiled && off == m->n_params && named);
        CHECK(strstr(desc, "parameters") != NULL);
        drift_model_free(m);
    }
    /* the default toy MLP is exactly Deng et al.'s 32→256→256→256→2 */
    drift_model *m;
    CHECK_OK(drift_model_create(&cfgs[0], 1, &m));
    CHECK(m->n_params == 32 * 256 + 256 + 2 * (256 * 256 + 256) + 256 * 2 + 2);
    drift_model_free(m);
}

static void test_init(void)
{
    const int w2[2] = {8, 4};
    drift_model_config c = conv_cfg(1, 8, 8, 2, w2, 1, 2, 3, 1);
    drift_model *m;
    CHECK_OK(drift_model_create(&c, 2, &m));
    CHECK_OK(drift_model_init_params(m, 5));
    int film_zero = 1, norm_one = 1, bias_zero = 1, weights_bounded = 1, weights_nonzero = 1;
    for (int t = 0; t < m->n_tensors; t++) {
        const drift_param_tensor *T = &m->tensors[t];
        const float *p = m->params + T->offset;
        size_t fan_in = T->count / (size_t)T->shape[0];
        double mx = 0;
        for (size_t i = 0; i < T->count; i++) mx = fmax(mx, fabs(p[i]));
        if (strstr(T->name, ".film.")) film_zero &= mx == 0;
        else if (strstr(T->name, "norm.weight")) norm_one &= p[0] == 1.0f && p[T->count - 1] == 1.0f;
        else if (strstr(T->name, ".bias")) bias_zero &= mx == 0;
        else if (strstr(T->name, "weight")) {
            weights_bounded &= mx <= 1.0 / sqrt((double)fan_in);
            weights_nonzero &= mx > 0.1 / sqrt((double)fan_in);
        }
        CHECK(T->decay == (strstr(T->name, "weight") && !strstr(T->name, "norm")) ||
              strstr(T->name, "emb"));
    }
    CHECK(film_zero && norm_one && bias_zero && weights_bounded && weights_nonzero);
    /* same seed, same bytes; another seed, other bytes */
    float *p1 = drift_alloc(m->n_params, 4);
    memcpy(p1, m->params, m->n_params * 4);
    CHECK_OK(drift_model_init_params(m, 5));
    CHECK(memcmp(p1, m->params, m->n_params * 4) == 0);
    CHECK_OK(drift_model_init_params(m, 6));
    CHECK(memcmp(p1, m->params, m->n_params * 4) != 0);
    unsigned char *mask = drift_alloc(m->n_params, 1);
    CHECK_OK(drift_model_decay_mask(m, mask));
    size_t ndecay = 0, expect = 0;
    for (size_t i = 0; i < m->n_params; i++) ndecay += mask[i];
    for (int t = 0; t < m->n_tensors; t++) expect += m->tensors[t].decay ? m->tensors[t].count : 0;
    CHECK(ndecay == expect && ndecay > 0 && ndecay < m->n_params);
    drift_free(mask), drift_free(p1);
    drift_model_free(m);
}

static void test_determinism_and_batch_independence(void)
{
    const int w2[2] = {16, 8};
    drift_model_config c = conv_cfg(1, 16, 16, 2, w2, 1, 4, 10, 1);
    enum { B = 37 };
    drift_model *m, *m2;
    CHECK_OK(drift_model_create(&c, B, &m));
    CHECK_OK(drift_model_create(&c, B, &m2));
    CHECK_OK(drift_model_init_params(m, 9));
    CHECK_OK(drift_model_init_params(m2, 9));
    drift_rng r;
    drift_rng_init(&r, 4, 0);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = m2->params[i] += 0.05f * (float)drift_rng_normal(&r);
    batch_data d = make_batch(m, B, 77);
    float *o1 = drift_alloc((size_t)B * m->out_dim, 4), *o2 = drift_alloc((size_t)B * m->out_dim, 4);
    CHECK_OK(drift_model_forward(m, d.x, d.labels, d.alpha, B, o1));
    CHECK_OK(drift_model_forward(m2, d.x, d.labels, d.alpha, B, o2));
    CHECK(memcmp(o1, o2, (size_t)B * m->out_dim * 4) == 0);
    CHECK_OK(drift_model_forward(m, d.x, d.labels, d.alpha, B, o2));
    CHECK(memcmp(o1, o2, (size_t)B * m->out_dim * 4) == 0);
    int inrange = 1;
    for (size_t i = 0; i < (size_t)B * m->out_dim; i++) inrange &= o1[i] > -1 && o1[i] < 1;
    CHECK(inrange); /* tanh output */
    /* gradients too */
    drift_model_zero_grad(m), drift_model_zero_grad(m2);
    CHECK_OK(drift_model_backward(m, d.w));
    CHECK_OK(drift_model_forward(m2, d.x, d.labels, d.alpha, B, NULL));
    CHECK_OK(drift_model_backward(m2, d.w));
    CHECK(memcmp(m->grads, m2->grads, m->n_params * 4) == 0);
    /* a second backward adds the same gradient again */
    CHECK_OK(drift_model_backward(m2, d.w));
    double err = 0;
    for (size_t i = 0; i < m->n_params; i++) err = fmax(err, fabs(m2->grads[i] - 2 * m->grads[i]));
    CHECK(err < 1e-5);
    /* rows 5..11 alone give what they gave inside the full batch */
    CHECK_OK(drift_model_forward(m2, d.x + 5 * m->in_dim, d.labels + 5, d.alpha + 5, 7, o2));
    double e = 0;
    for (size_t i = 0; i < 7 * (size_t)m->out_dim; i++) e = fmax(e, fabs(o2[i] - o1[5 * m->out_dim + i]));
    CHECK_MSG(e < 1e-5, "batch dependence %g", e);
    /* conditioning matters: another class or α changes the output */
    int lab[1] = {(d.labels[0] + 1) % 10};
    float al[1] = {d.alpha[0] + 1.0f};
    m->params[m->tensors[m->n_tensors - 1].offset] += 0; /* (params unchanged) */
    CHECK_OK(drift_model_forward(m, d.x, lab, d.alpha, 1, o2));
    CHECK(memcmp(o1, o2, m->out_dim * 4) != 0);
    CHECK_OK(drift_model_forward(m, d.x, d.labels, al, 1, o2));
    CHECK(memcmp(o1, o2, m->out_dim * 4) != 0);
    /* NULL labels = all null; NULL alpha = α of 1 */
    int nul[2] = {DRIFT_LABEL_NULL, DRIFT_LABEL_NULL};
    float ones[2] = {1, 1};
    float *o3 = drift_alloc(2 * (size_t)m->out_dim, 4);
    CHECK_OK(drift_model_forward(m, d.x, NULL, NULL, 2, o2));
    CHECK_OK(drift_model_forward(m, d.x, nul, ones, 2, o3));
    CHECK(memcmp(o2, o3, 2 * (size_t)m->out_dim * 4) == 0);
    drift_free(o1), drift_free(o2), drift_free(o3);
    free_batch(&d);
    drift_model_free(m), drift_model_free(m2);
}

static void test_errors(void)
{
    drift_model *m = NULL;
    drift_model_config c;
    drift_model_config_default(DRIFT_MODEL_CONV, &c);
    c.groups = 3;
    CHECK(drift_model_create(&c, 4, &m) == DRIFT_EINVAL && m == NULL);
    CHECK(strstr(drift_last_error(), "groups") != NULL);
    drift_model_config_default(DRIFT_MODEL_CONV, &c);
    c.height = 30;
    CHECK(drift_model_create(&c, 4, &m) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "divisible") != NULL);
    drift_model_config_default(DRIFT_MODEL_CLASSIFIER, &c);
    c.n_widths = 2;
    CHECK(drift_model_create(&c, 4, &m) == DRIFT_EINVAL);
    drift_model_config_default(DRIFT_MODEL_MLP, &c);
    c.noise_dim = 0;
    CHECK(drift_model_create(&c, 4, &m) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "noise_dim") != NULL);
    drift_model_config_default(DRIFT_MODEL_MLP, &c);
    CHECK(drift_model_create(&c, 0, &m) == DRIFT_EINVAL);
    c.kind = (drift_model_kind)7;
    CHECK(drift_model_create(&c, 4, &m) == DRIFT_EINVAL);

    /* forward / backward misuse */
    drift_model_config_default(DRIFT_MODEL_MLP, &c);
    c.n_classes = 3;
    CHECK_OK(drift_model_create(&c, 4, &m));
    float x[4 * 32] = {0}, out[4 * 2], a[4] = {1, 1, 1, 1};
    int y[4] = {0, 1, 2, 3};
    CHECK(drift_model_backward(m, out) == DRIFT_EINVAL); /* before any forward */
    CHECK(drift_model_forward(m, x, y, NULL, 4, out) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "label 3 of row 3") != NULL);
    y[3] = -2;
    CHECK(drift_model_forward(m, x, y, NULL, 4, out) == DRIFT_EINVAL);
    y[3] = DRIFT_LABEL_NULL;
    CHECK_OK(drift_model_forward(m, x, y, NULL, 4, out));
    CHECK(drift_model_forward(m, x, y, a, 4, out) == DRIFT_EINVAL); /* no α input */
    CHECK(drift_model_forward(m, x, y, NULL, 5, out) == DRIFT_EINVAL);
    CHECK(drift_model_forward(m, x, y, NULL, 0, out) == DRIFT_EINVAL);
    x[7] = NAN;
    CHECK(drift_model_forward(m, x, y, NULL, 4, out) == DRIFT_ENUMERIC);
    x[7] = 0;
    float feats[4 * 256];
    CHECK(drift_model_features(m, x, 4, feats, NULL) == DRIFT_EINVAL);
    drift_model_free(m);

    c.n_classes = 0, c.use_alpha = 1;
    CHECK_OK(drift_model_create(&c, 4, &m));
    CHECK(drift_model_forward(m, x, y, NULL, 4, out) == DRIFT_EINVAL); /* labels, unconditional */
    a[2] = 0.0f;
    CHECK(drift_model_forward(m, x, NULL, a, 4, out) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "alpha") != NULL);
    a[2] = INFINITY;
    CHECK(drift_model_forward(m, x, NULL, a, 4, out) == DRIFT_EINVAL);
    a[2] = 2.5f;
    CHECK_OK(drift_model_forward(m, x, NULL, a, 4, out));
    drift_model_free(m);
}

static void test_config_text(void)
{
    drift_model_config c, back;
    drift_model_config_default(DRIFT_MODEL_CONV, &c);
    c.n_classes = 10, c.use_alpha = 1, c.widths[1] = 48, c.depth = 2;
    c.out_dim = 784;
    char buf[512];
    CHECK_OK(drift_model_config_format(&c, buf, sizeof buf));
    CHECK(strstr(buf, "kind=conv") && strstr(buf, "widths=64,48") && strstr(buf, "image=1x28x28"));
    CHECK_OK(drift_model_config_parse(buf, &back));
    CHECK(memcmp(&c, &back, sizeof c) == 0);
    CHECK(drift_model_config_format(&c, buf, 20) == DRIFT_EINVAL);
    CHECK_OK(drift_model_config_parse("kind=mlp out_dim=784 image=1x28x28 tanh=1 widths=512,512", &back));
    CHECK(back.kind == DRIFT_MODEL_MLP && back.n_widths == 2 && back.widths[1] == 512 &&
          back.noise_dim == 32 && back.out_tanh == 1);
    CHECK(drift_model_config_parse("kind=mlp colour=blue", &back) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "colour") != NULL);
    CHECK(drift_model_config_parse("noise_dim=3", &back) == DRIFT_EINVAL);
    CHECK(drift_model_config_parse("kind=conv widths=64,x", &back) == DRIFT_EINVAL);
    CHECK(drift_model_config_parse("kind=conv depth=two", &back) == DRIFT_EINVAL);
    CHECK(drift_model_config_parse("kind=conv groups=5", &back) == DRIFT_EINVAL);
    drift_model_kind k;
    CHECK(drift_model_kind_parse("classifier", &k) == 0 && k == DRIFT_MODEL_CLASSIFIER);
    CHECK(drift_model_kind_parse("dit", &k) == 0 && k == DRIFT_MODEL_DIT);
    CHECK(drift_model_kind_parse("vit", &k) == DRIFT_EINVAL);
}

/* The classifier learns a trivially separable task: the class is which quadrant is lit. */
static void test_classifier_trains(void)
{
    drift_model_config c = clf_cfg(12, 12, 8, 8, 16, 4);
    enum { B = 32 };
    drift_model *m;
    CHECK_OK(drift_model_create(&c, B, &m));
    CHECK_OK(drift_model_init_params(m, 1));
    CHECK(m->feature_dim == 16 && m->out_dim == 4 && m->in_dim == 144);
    drift_adamw opt;
    CHECK_OK(drift_adamw_init(&opt, m->n_params, 0.9f, 0.999f, 1e-8f, 0.0f));
    float x[B * 144], logits[B * 4], probs[B * 4], dl[B * 4], feats[B * 16];
    int y[B];
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    double first = 0, last = 0;
    for (int step = 0; step < 60; step++) {
        drift_rng_fill_uniform(&r, x, B * 144, -0.3f, 0.3f);
        for (int b = 0; b < B; b++) {
            y[b] = (int)drift_rng_below(&r, 4);
            int qh = y[b] / 2, qw = y[b] % 2;
            for (int h = 0; h < 6; h++)
                for (int w = 0; w < 6; w++) x[b * 144 + (qh * 6 + h) * 12 + qw * 6 + w] += 0.7f;
        }
        double loss;
        CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, logits));
        drift_softmax_xent_forward(probs, &loss, logits, y, B, 4);
        if (step == 0) first = loss;
        last = loss;
        memset(dl, 0, sizeof dl);
        drift_softmax_xent_backward(dl, probs, y, B, 4, 1.0f);
        drift_model_zero_grad(m);
        CHECK_OK(drift_model_backward(m, dl));
        CHECK_OK(drift_adamw_step(&opt, m->params, m->grads, 3e-3f, NULL));
    }
    CHECK_MSG(first > 1.0 && last < 0.1, "loss %g -> %g", first, last);
    /* features + logits from the same pass agree with the plain forward */
    float logits2[B * 4];
    CHECK_OK(drift_model_features(m, x, B, feats, logits2));
    CHECK_OK(drift_model_forward(m, x, NULL, NULL, B, logits));
    CHECK(memcmp(logits, logits2, sizeof logits) == 0);
    int nonneg = 1, correct = 0;
    for (int i = 0; i < B * 16; i++) nonneg &= feats[i] >= 0; /* post-ReLU */
    for (int b = 0; b < B; b++) {
        int arg = 0;
        for (int k = 1; k < 4; k++) arg = logits[b * 4 + k] > logits[b * 4 + arg] ? k : arg;
        correct += arg == y[b];
    }
    CHECK(nonneg);
    CHECK(correct == B);
    drift_adamw_free(&opt);
    drift_model_free(m);
}

int main(void)
{
    RUN(test_gradcheck_mlp);
    RUN(test_gradcheck_conv);
    RUN(test_gradcheck_classifier);
    RUN(test_gradcheck_can_fail);
    RUN(test_gradcheck_dit);
    RUN(test_dit_model);
    RUN(test_param_counts);
    RUN(test_init);
    RUN(test_determinism_and_batch_independence);
    RUN(test_errors);
    RUN(test_config_text);
    RUN(test_classifier_trains);
    return TEST_SUMMARY();
}
