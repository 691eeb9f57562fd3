/* convgen.c — the convolutional image generator.
 *
 *   c  = conditioning vector (class embedding + α MLP), cs = SiLU(c)
 *   h0 = linear([noise | c]) viewed as (widths[0], H/2^L, W/2^L)
 *   per level l, depth times (the first block of levels l > 0 upsamples ×2 first):
 *       h = SiLU(FiLM(GroupNorm(conv3x3(h)), linear_l(cs)))
 *   out = tanh(conv3x3(upsample2x(h)))   (to the image channels)
 *
 * Blocks are plain (no residual): the network is shallow, and every block is normalized.
 * Without any conditioning the FiLM steps are left out.
 */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "models/model_internal.h"

static int add_conv(drift_model *m, const char *prefix, const drift_conv2d_shape *s, size_t *w,
                    size_t *b)
{
    char name[40];
    snprintf(name, sizeof name, "%s.weight", prefix);
    int st = model_add_param(m, name, 4, s->OC, s->C, s->K, s->K, INIT_FAN_IN, 0, 1, w);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!st) st = model_add_param(m, name, 1, s->OC, 0, 0, 0, INIT_ZERO, 0, 0, b);
    model_need_work(m, drift_conv2d_work_floats(s, omp_get_max_threads()));
    return st;
}

int convgen_build(drift_model *m)
{
    const drift_model_config *cfg = &m->cfg;
    convgen_layout *L = &m->impl->u.conv;
    const int levels = cfg->n_widths, cd = cfg->cond_dim;
    int H = cfg->height >> levels, W = cfg->width >> levels, C = cfg->widths[0];
    int st = cond_build(m, &L->cond, cd);
    const int cond = L->cond.on, zdim = cfg->noise_dim + (cond ? cd : 0);
    if (!st && cond) st = model_add_act(m, (size_t)cd, 1, &L->cs);
    if (!st) st = model_add_act(m, (size_t)zdim, cond, &L->zin);
    if (!st) st = model_add_param(m, "proj.weight", 2, C * H * W, zdim, 0, 0, INIT_FAN_IN, 0, 1, &L->proj_w);
    if (!st) st = model_add_param(m, "proj.bias", 1, C * H * W, 0, 0, 0, INIT_ZERO, 0, 0, &L->proj_b);
    if (!st) st = model_add_act(m, (size_t)C * H * W, 1, &L->h0);
    act cur = L->h0;
    L->n_blocks = 0;
    for (int l = 0; l < levels && !st; l++) {
        for (int d = 0; d < cfg->depth && !st; d++) {
            conv_block *bk = &L->blocks[L->n_blocks];
            char pre[40];
            int n = L->n_blocks++;
            bk->upsample_before = l > 0 && d == 0;
            if (bk->upsample_before) {
                bk->up_src = cur;
                H *= 2, W *= 2;
                st = model_add_act(m, (size_t)C * H * W, 1, &bk->in);
            } else {
                bk->in = cur;
            }
            const int OC = cfg->widths[l];
            if (!st) st = drift_conv2d_shape_init(&bk->shape, C, H, W, OC, 3, 1, 1);
            snprintf(pre, sizeof pre, "blk%d.conv", n);
            if (!st) st = add_conv(m, pre, &bk->shape, &bk->w, &bk->b);
            bk->groups = cfg->groups;
            snprintf(pre, sizeof pre, "blk%d.norm.weight", n);
            if (!st) st = model_add_param(m, pre, 1, OC, 0, 0, 0, INIT_ONE, 0, 0, &bk->gn_g);
            snprintf(pre, sizeof pre, "blk%d.norm.bias", n);
            if (!st) st = model_add_param(m, pre, 1, OC, 0, 0, 0, INIT_ZERO, 0, 0, &bk->gn_b);
            if (cond) {
                snprintf(pre, sizeof pre, "blk%d.film.weight", n);
                if (!st) st = model_add_param(m, pre, 2, 2 * OC, cd, 0, 0, INIT_ZERO, 0, 1, &bk->film_w);
                snprintf(pre, sizeof pre, "blk%d.film.bias", n);
                if (!st) st = model_add_param(m, pre, 1, 2 * OC, 0, 0, 0, INIT_ZERO, 0, 0, &bk->film_b);
            }
            const size_t sz = (size_t)OC * H * W;
            if (!st) st = model_add_act(m, sz, 1, &bk->conv);
            if (!st) st = model_add_act(m, (size_t)bk->groups, 0, &bk->mean);
            if (!st) st = model_add_act(m, (size_t)bk->groups, 0, &bk->rstd);
            if (!st) st = model_add_act(m, sz, 1, &bk->gn);
            if (!st && cond) st = model_add_act(m, 2 * (size_t)OC, 1, &bk->mod);
            if (!st && cond) st = model_add_act(m, sz, 1, &bk->film);
            if (!st) st = model_add_act(m, sz, 1, &bk->out);
            cur = bk->out, C = OC;
        }
    }
    H *= 2, W *= 2;
    if (!st) st = model_add_act(m, (size_t)C * H * W, 1, &L->up_last);
    if (!st) st = drift_conv2d_shape_init(&L->out_shape, C, H, W, cfg->channels, 3, 1, 1);
    if (!st) st = add_conv(m, "out.conv", &L->out_shape, &L->out_w, &L->out_b);
    if (!st) st = model_add_act(m, (size_t)cfg->out_dim, 1, &L->pre);
    if (!st && cfg->out_tanh) st = model_add_act(m, (size_t)cfg->out_dim, 1, &L->out);
    return st;
}

act convgen_output(const drift_model *m)
{
    const convgen_layout *L = &m->impl->u.conv;
    return m->cfg.out_tanh ? L->out : L->pre;
}

/* the block's activation that feeds its SiLU: FiLM output, or the norm without conditioning */
static act block_preact(const convgen_layout *L, const conv_block *bk)
{
    return L->cond.on ? bk->film : bk->gn;
}

void convgen_forward(drift_model *m, const float *input, const float *alpha, int B)
{
    convgen_layout *L = &m->impl->u.conv;
    const drift_model_config *cfg = &m->cfg;
    const int nz = cfg->noise_dim, cd = cfg->cond_dim, cond = L->cond.on;
    const int zdim = nz + (cond ? cd : 0);
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;
    if (cond) {
        cond_forward(m, &L->cond, alpha, B);
        drift_silu_forward(A(m, L->cs), A(m, L->cond.c), (size_t)B * cd);
    }
    float *z = A(m, L->zin);
    for (int b = 0; b < B; b++) {
        memcpy(z + (size_t)b * zdim, input + (size_t)b * nz, (size_t)nz * sizeof(float));
        if (cond) memcpy(z + (size_t)b * zdim + nz, A(m, L->cond.c) + (size_t)b * cd, (size_t)cd * sizeof(float));
    }
    drift_linear_forward(A(m, L->h0), z, P(m, L->proj_w), P(m, L->proj_b), B, zdim, (int)L->h0.per);
    for (int i = 0; i < L->n_blocks; i++) {
        const conv_block *bk = &L->blocks[i];
        const drift_conv2d_shape *s = &bk->shape;
        const int HW = s->OH * s->OW;
        const size_t n = (size_t)B * s->OC * HW;
        if (bk->upsample_before)
            drift_upsample2x_forward(A(m, bk->in), A(m, bk->up_src), B, s->C, s->H / 2, s->W / 2);
        drift_conv2d_forward(A(m, bk->conv), A(m, bk->in), P(m, bk->w), P(m, bk->b), B, s, work, nwork);
        drift_groupnorm_forward(A(m, bk->gn), A(m, bk->mean), A(m, bk->rstd), A(m, bk->conv),
                                P(m, bk->gn_g), P(m, bk->gn_b), B, s->OC, HW, bk->groups);
        if (cond) {
            drift_linear_forward(A(m, bk->mod), A(m, L->cs), P(m, bk->film_w), P(m, bk->film_b), B,
                                 cd, 2 * s->OC);
            drift_film_forward(A(m, bk->film), A(m, bk->gn), A(m, bk->mod), B, s->OC, HW);
        }
        drift_silu_forward(A(m, bk->out), A(m, block_preact(L, bk)), n);
    }
    const drift_conv2d_shape *os = &L->out_shape;
    const conv_block *lastb = &L->blocks[L->n_blocks - 1];
    drift_upsample2x_forward(A(m, L->up_last), A(m, lastb->out), B, os->C, os->H / 2, os->W / 2);
    drift_conv2d_forward(A(m, L->pre), A(m, L->up_last), P(m, L->out_w), P(m, L->out_b), B, os, work, nwork);
    if (cfg->out_tanh) drift_tanh_forward(A(m, L->out), A(m, L->pre), (size_t)B * cfg->out_dim);
}

void convgen_backward(drift_model *m, int B)
{
    convgen_layout *L = &m->impl->u.conv;
    const drift_model_config *cfg = &m->cfg;
    const int nz = cfg->noise_dim, cd = cfg->cond_dim, cond = L->cond.on;
    const int zdim = nz + (cond ? cd : 0);
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;
    const drift_conv2d_shape *os = &L->out_shape;
    const conv_block *lastb = &L->blocks[L->n_blocks - 1];
    if (cfg->out_tanh) drift_tanh_backward(D(m, L->pre), D(m, L->out), A(m, L->out), (size_t)B * cfg->out_dim);
    drift_conv2d_backward(D(m, L->up_last), G(m, L->out_w), G(m, L->out_b), D(m, L->pre),
                          A(m, L->up_last), P(m, L->out_w), B, os, work, nwork);
    drift_upsample2x_backward(D(m, lastb->out), D(m, L->up_last), B, os->C, os->H / 2, os->W / 2);
    for (int i = L->n_blocks - 1; i >= 0; i--) {
        const conv_block *bk = &L->blocks[i];
        const drift_conv2d_shape *s = &bk->shape;
        const int HW = s->OH * s->OW;
        const act pa = block_preact(L, bk);
        drift_silu_backward(D(m, pa), D(m, bk->out), A(m, pa), (size_t)B * s->OC * HW);
        if (cond) {
            drift_film_backward(D(m, bk->gn), D(m, bk->mod), D(m, bk->film), A(m, bk->gn),
                                A(m, bk->mod), B, s->OC, HW);
            drift_linear_backward(D(m, L->cs), G(m, bk->film_w), G(m, bk->film_b), D(m, bk->mod),
                                  A(m, L->cs), P(m, bk->film_w), B, cd, 2 * s->OC);
        }
        drift_groupnorm_backward(D(m, bk->conv), G(m, bk->gn_g), G(m, bk->gn_b), D(m, bk->gn),
                                 A(m, bk->conv), A(m, bk->mean), A(m, bk->rstd), P(m, bk->gn_g), B,
                                 s->OC, HW, bk->groups);
        drift_conv2d_backward(D(m, bk->in), G(m, bk->w), G(m, bk->b), D(m, bk->conv), A(m, bk->in),
                              P(m, bk->w), B, s, work, nwork);
        if (bk->upsample_before)
            drift_upsample2x_backward(D(m, bk->up_src), D(m, bk->in), B, s->C, s->H / 2, s->W / 2);
    }
    drift_linear_backward(cond ? D(m, L->zin) : NULL, G(m, L->proj_w), G(m, L->proj_b), D(m, L->h0),
                          A(m, L->zin), P(m, L->proj_w), B, zdim, (int)L->h0.per);
    if (cond) {
        float *dc = D(m, L->cond.c);
        const float *dz = D(m, L->zin);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < cd; k++) dc[(size_t)b * cd + k] += dz[(size_t)b * zdim + nz + k];
        drift_silu_backward(dc, D(m, L->cs), A(m, L->cond.c), (size_t)B * cd);
        cond_backward(m, &L->cond, B);
    }
}
