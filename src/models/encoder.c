/* encoder.c — the frozen feature network of feature-space drifting: a small ResNet, the
 * encoder half of the authors' MAE (lambertae/drifting, models/mae_model.py), scaled down.
 *
 *   conv1  = ReLU(GN(conv3x3(x)))                                     (widths[0], H, W)
 *   stage l = 1 .. n_widths−1, the first block with stride 2, `depth` blocks:
 *       block(h) = ReLU(GN(conv3x3(ReLU(GN(conv3x3_s(h))))) + skip(h)),
 *       skip(h)  = GN(conv1x1_s(h)) when the shape changes, else h
 *   layer<l> = GN(last block's output)                                (widths[l], H/2^l, W/2^l)
 *
 * as the release's _ResNetEncoder, except that every stage strides (the release's first
 * stage keeps the resolution: at 28×28 that would double the cost of the most expensive
 * maps). Convolutions have no bias (a group norm follows each one). The next stage reads the
 * normalized map, as in the release.
 *
 * The model's output row is the maps one after another, each channel-major: forward gathers
 * them straight into the caller's `out` and backward scatters dout into their gradients, so
 * no concatenated copy lives in the activation buffer. Backward with param_grads = 0 is the
 * frozen network's input-gradient pass: the convolutions skip im2col and the weight GEMM, the
 * norms skip their parameter sums, m->grads is not touched.
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "models/model_internal.h"

#define PAR_THRESHOLD 32768

static int add_norm(drift_model *m, const char *prefix, int C, enc_norm *n)
{
    char name[40];
    n->groups = m->cfg.groups;
    snprintf(name, sizeof name, "%s.weight", prefix);
    int st = model_add_param(m, name, 1, C, 0, 0, 0, INIT_ONE, 0, 0, &n->g);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!st) st = model_add_param(m, name, 1, C, 0, 0, 0, INIT_ZERO, 0, 0, &n->b);
    if (!st) st = model_add_act(m, (size_t)n->groups, 0, &n->mean);
    if (!st) st = model_add_act(m, (size_t)n->groups, 0, &n->rstd);
    return st;
}

static int add_conv(drift_model *m, const char *name, drift_conv2d_shape *s, int C, int H, int W,
                    int OC, int K, int stride, size_t *w)
{
    int st = drift_conv2d_shape_init(s, C, H, W, OC, K, stride, K / 2);
    if (!st) st = model_add_param(m, name, 4, OC, C, K, K, INIT_FAN_IN, 0, 1, w);
    model_need_work(m, drift_conv2d_work_floats(s, omp_get_max_threads()));
    return st;
}

int encoder_build(drift_model *m)
{
    const drift_model_config *c = &m->cfg;
    encoder_layout *L = &m->impl->u.enc;
    int C = c->widths[0], H = c->height, W = c->width;
    size_t sz = (size_t)C * H * W;
    int st = model_add_act(m, (size_t)m->in_dim, 0, &L->x);
    if (!st) st = add_conv(m, "conv1.weight", &L->s0, c->channels, H, W, C, 3, 1, &L->w0);
    if (!st) st = add_norm(m, "conv1.norm", C, &L->n0);
    if (!st) st = model_add_act(m, sz, 1, &L->c0);
    if (!st) st = model_add_act(m, sz, 1, &L->g0);
    if (!st) st = model_add_act(m, sz, 1, &L->f0);
    L->map_act[0] = L->f0;
    L->n_maps = 1;
    snprintf(L->maps[0].name, sizeof L->maps[0].name, "conv1");
    L->maps[0].offset = 0, L->maps[0].c = C, L->maps[0].h = H, L->maps[0].w = W;
    size_t offset = sz;
    act cur = L->f0;
    L->n_blocks = 0;
    for (int l = 1; l < c->n_widths && !st; l++) {
        const int OC = c->widths[l];
        for (int d = 0; d < c->depth && !st; d++) {
            enc_block *bk = &L->blocks[L->n_blocks++];
            const int stride = d == 0 ? 2 : 1, OH = H / stride, OW = W / stride;
            const size_t osz = (size_t)OC * OH * OW;
            char name[40];
            bk->in = cur;
            bk->proj = stride != 1 || OC != C;
            snprintf(name, sizeof name, "layer%d.%d.conv1.weight", l, d);
            st = add_conv(m, name, &bk->s1, C, H, W, OC, 3, stride, &bk->w1);
            snprintf(name, sizeof name, "layer%d.%d.norm1", l, d);
            if (!st) st = add_norm(m, name, OC, &bk->n1);
            snprintf(name, sizeof name, "layer%d.%d.conv2.weight", l, d);
            if (!st) st = add_conv(m, name, &bk->s2, OC, OH, OW, OC, 3, 1, &bk->w2);
            snprintf(name, sizeof name, "layer%d.%d.norm2", l, d);
            if (!st) st = add_norm(m, name, OC, &bk->n2);
            if (bk->proj) {
                snprintf(name, sizeof name, "layer%d.%d.proj.weight", l, d);
                if (!st) st = add_conv(m, name, &bk->sp, C, H, W, OC, 1, stride, &bk->wp);
                snprintf(name, sizeof name, "layer%d.%d.proj_norm", l, d);
                if (!st) st = add_norm(m, name, OC, &bk->np);
            }
            if (!st) st = model_add_act(m, osz, 1, &bk->c1);
            if (!st) st = model_add_act(m, osz, 1, &bk->g1);
            if (!st) st = model_add_act(m, osz, 1, &bk->r1);
            if (!st) st = model_add_act(m, osz, 1, &bk->c2);
            if (!st) st = model_add_act(m, osz, 1, &bk->g2);
            if (!st && bk->proj) st = model_add_act(m, osz, 1, &bk->cp);
            if (!st && bk->proj) st = model_add_act(m, osz, 1, &bk->gp);
            if (!st) st = model_add_act(m, osz, 1, &bk->out);
            cur = bk->out, C = OC, H = OH, W = OW;
        }
        char name[40];
        snprintf(name, sizeof name, "layer%d.norm", l);
        if (!st) st = add_norm(m, name, C, &L->stage_norm[l]);
        sz = (size_t)C * H * W;
        if (!st) st = model_add_act(m, sz, 1, &L->map_act[l]);
        drift_feature_map *fm = &L->maps[L->n_maps++];
        snprintf(fm->name, sizeof fm->name, "layer%d", l);
        fm->offset = offset, fm->c = C, fm->h = H, fm->w = W;
        offset += sz;
        cur = L->map_act[l];
    }
    return st;
}

/* out = ReLU(a + b) */
static void add_relu_forward(float *out, const float *a, const float *b, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        out[i] = v > 0.0f ? v : 0.0f;
    }
}

/* da += g, db += g with g = dout where out > 0 (out = ReLU(a + b) > 0 exactly where a + b > 0) */
static void add_relu_backward(float *da, float *db, const float *dout, const float *out, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float g = out[i] > 0.0f ? dout[i] : 0.0f;
        da[i] += g;
        db[i] += g;
    }
}

static void norm_forward(drift_model *m, const enc_norm *n, act out, act in, int B, int C, int HW)
{
    drift_groupnorm_forward(A(m, out), A(m, n->mean), A(m, n->rstd), A(m, in), P(m, n->g),
                            P(m, n->b), B, C, HW, n->groups);
}

static void norm_backward(drift_model *m, const enc_norm *n, act out, act in, int B, int C, int HW,
                          int pg)
{
    drift_groupnorm_backward(D(m, in), pg ? G(m, n->g) : NULL, pg ? G(m, n->b) : NULL, D(m, out),
                             A(m, in), A(m, n->mean), A(m, n->rstd), P(m, n->g), B, C, HW, n->groups);
}

static void conv_forward(drift_model *m, act out, act in, size_t w, const drift_conv2d_shape *s, int B)
{
    drift_conv2d_forward(A(m, out), A(m, in), P(m, w), NULL, B, s, m->impl->work, m->impl->work_floats);
}

/* dinp: where the input gradient goes (NULL: nowhere) */
static void conv_backward(drift_model *m, float *dinp, act out, act in, size_t w,
                          const drift_conv2d_shape *s, int B, int pg)
{
    drift_conv2d_backward(dinp, pg ? G(m, w) : NULL, NULL, D(m, out), A(m, in), P(m, w), B, s,
                          m->impl->work, m->impl->work_floats);
}

void encoder_forward(drift_model *m, const float *input, int B, float *out)
{
    encoder_layout *L = &m->impl->u.enc;
    const drift_model_config *c = &m->cfg;
    const drift_conv2d_shape *s0 = &L->s0;
    memcpy(A(m, L->x), input, (size_t)B * m->in_dim * sizeof(float));
    conv_forward(m, L->c0, L->x, L->w0, s0, B);
    norm_forward(m, &L->n0, L->g0, L->c0, B, s0->OC, s0->OH * s0->OW);
    drift_relu_forward(A(m, L->f0), A(m, L->g0), (size_t)B * L->f0.per);
    int bi = 0;
    for (int l = 1; l < c->n_widths; l++) {
        const enc_block *bk = NULL;
        for (int d = 0; d < c->depth; d++, bi++) {
            bk = &L->blocks[bi];
            const int OC = bk->s1.OC, HW = bk->s1.OH * bk->s1.OW;
            conv_forward(m, bk->c1, bk->in, bk->w1, &bk->s1, B);
            norm_forward(m, &bk->n1, bk->g1, bk->c1, B, OC, HW);
            drift_relu_forward(A(m, bk->r1), A(m, bk->g1), (size_t)B * bk->r1.per);
            conv_forward(m, bk->c2, bk->r1, bk->w2, &bk->s2, B);
            norm_forward(m, &bk->n2, bk->g2, bk->c2, B, OC, HW);
            if (bk->proj) {
                conv_forward(m, bk->cp, bk->in, bk->wp, &bk->sp, B);
                norm_forward(m, &bk->np, bk->gp, bk->cp, B, OC, HW);
            }
            add_relu_forward(A(m, bk->out), A(m, bk->g2), A(m, bk->proj ? bk->gp : bk->in),
                             (size_t)B * bk->out.per);
        }
        norm_forward(m, &L->stage_norm[l], L->map_act[l], bk->out, B, bk->s2.OC,
                     bk->s2.OH * bk->s2.OW);
    }
    if (!out) return;
    /* gather: row b of the output is map 0 of sample b, then map 1, ... */
    const size_t od = (size_t)m->out_dim;
    #pragma omp parallel for schedule(static) if ((size_t)B * od > PAR_THRESHOLD)
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L->n_maps; i++) {
            const size_t per = L->map_act[i].per;
            memcpy(out + (size_t)b * od + L->maps[i].offset, A(m, L->map_act[i]) + (size_t)b * per,
                   per * sizeof(float));
        }
}

void encoder_backward(drift_model *m, const float *dout, int B, float *dinput, int pg)
{
    encoder_layout *L = &m->impl->u.enc;
    const drift_model_config *c = &m->cfg;
    const size_t od = (size_t)m->out_dim;
    /* scatter dout into the maps' gradients (zeroed by the caller: add) */
    #pragma omp parallel for schedule(static) if ((size_t)B * od > PAR_THRESHOLD)
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L->n_maps; i++) {
            const size_t per = L->map_act[i].per;
            float *d = D(m, L->map_act[i]) + (size_t)b * per;
            const float *g = dout + (size_t)b * od + L->maps[i].offset;
            for (size_t k = 0; k < per; k++) d[k] += g[k];
        }
    int bi = L->n_blocks - 1;
    for (int l = c->n_widths - 1; l >= 1; l--) {
        const enc_block *last = &L->blocks[bi];
        norm_backward(m, &L->stage_norm[l], L->map_act[l], last->out, B, last->s2.OC,
                      last->s2.OH * last->s2.OW, pg);
        for (int d = c->depth - 1; d >= 0; d--, bi--) {
            const enc_block *bk = &L->blocks[bi];
            const int OC = bk->s1.OC, HW = bk->s1.OH * bk->s1.OW;
            act skip = bk->proj ? bk->gp : bk->in;
            add_relu_backward(D(m, bk->g2), D(m, skip), D(m, bk->out), A(m, bk->out),
                              (size_t)B * bk->out.per);
            if (bk->proj) {
                norm_backward(m, &bk->np, bk->gp, bk->cp, B, OC, HW, pg);
                conv_backward(m, D(m, bk->in), bk->cp, bk->in, bk->wp, &bk->sp, B, pg);
            }
            norm_backward(m, &bk->n2, bk->g2, bk->c2, B, OC, HW, pg);
            conv_backward(m, D(m, bk->r1), bk->c2, bk->r1, bk->w2, &bk->s2, B, pg);
            drift_relu_backward(D(m, bk->g1), D(m, bk->r1), A(m, bk->g1), (size_t)B * bk->r1.per);
            norm_backward(m, &bk->n1, bk->g1, bk->c1, B, OC, HW, pg);
            conv_backward(m, D(m, bk->in), bk->c1, bk->in, bk->w1, &bk->s1, B, pg);
        }
    }
    const drift_conv2d_shape *s0 = &L->s0;
    drift_relu_backward(D(m, L->g0), D(m, L->f0), A(m, L->g0), (size_t)B * L->f0.per);
    norm_backward(m, &L->n0, L->g0, L->c0, B, s0->OC, s0->OH * s0->OW, pg);
    if (dinput) memset(dinput, 0, (size_t)B * m->in_dim * sizeof(float));
    if (dinput || pg) conv_backward(m, dinput, L->c0, L->x, L->w0, s0, B, pg);
}
