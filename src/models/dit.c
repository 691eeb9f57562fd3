/* dit.c — the diffusion-transformer-style image generator (Deng et al.'s generator at MNIST
 * scale): one forward pass from noise to an image.
 *
 *   noise row = [ z (C·H·W, an image of N(0, 1) values) | u (style values, N(0, 1)) ]
 *   style indices  s_j = min(V − 1, floor(V · Φ(u_j)))   (Φ the normal CDF: uniform on 0..V−1)
 *   c  = class_emb[y] + alpha_mlp(log α) + Σ_j style_emb[s_j],   cs = SiLU(c)
 *   x0 = [ ctx_tokens + c  (n_ctx rows) | patch_embed(patchify(z))  (T rows) ]    (S = n_ctx + T)
 *   per block (adaLN-zero, all six vectors from one linear of cs, zero at init):
 *       h = RMSNorm(x)·(1 + scale1) + shift1
 *       q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  q, k ← RoPE2d(RMSNorm_head(q), RMSNorm_head(k))
 *       x = x + gate1 ⊙ (MHSA(q, k, v)·Woᵀ)
 *       h = RMSNorm(x)·(1 + scale2) + shift2
 *       x = x + gate2 ⊙ (W2·(SiLU(W1·h) ⊙ W3·h))
 *   out = tanh(unpatchify(linear(RMSNorm(x)·(1 + scale) + shift)))   (patch rows only)
 *
 * 2-D RoPE: a patch token at grid cell (i, j) has position (i + 1, j + 1), in-context tokens
 * (0, 0) (no rotation), so every patch is distinguishable from them; base DIT_ROPE_BASE.
 * The final linear is NOT zero-initialized (DiT's is): with a zero output every initial
 * sample would be the same image and the field's sample-to-sample distances would all be 0.
 * The gates are, so every block starts as the identity. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "drift/core.h"
#include "models/model_internal.h"

#define DIT_ROPE_BASE 100.0f

static int add_lin(drift_model *m, const char *fmt, int i, int out, int in, int init, size_t *w)
{
    char name[40];
    snprintf(name, sizeof name, fmt, i);
    return model_add_param(m, name, 2, out, in, 0, 0, init, 0, 1, w);
}

int dit_build(drift_model *m)
{
    const drift_model_config *cfg = &m->cfg;
    dit_layout *L = &m->impl->u.dit;
    const int DM = cfg->widths[0], F = cfg->widths[1], p = cfg->patch;
    const int GH = cfg->height / p, GW = cfg->width / p;
    L->DM = DM, L->F = F, L->NH = cfg->heads, L->HD = DM / cfg->heads, L->p = p;
    L->T = GH * GW, L->n_ctx = cfg->tokens, L->S = L->n_ctx + L->T;
    L->PD = cfg->channels * p * p, L->n_style = cfg->style, L->vocab = cfg->style_vocab;
    L->n_blocks = cfg->depth;
    const int S = L->S, NH = L->NH;
    int st = cond_build(m, &L->cond, DM);
    if (!st && L->n_style)
        st = model_add_param(m, "style_emb", 2, L->vocab, DM, 0, 0, INIT_NORMAL,
                             1.0f / sqrtf((float)L->n_style), 1, &L->style_emb);
    if (!st && L->n_ctx)
        st = model_add_param(m, "ctx_tokens", 2, L->n_ctx, DM, 0, 0, INIT_NORMAL, 0.02f, 0, &L->ctx);
    if (!st) st = model_add_param(m, "patch_embed.weight", 2, DM, L->PD, 0, 0, INIT_FAN_IN, 0, 1, &L->pe_w);
    if (!st) st = model_add_param(m, "patch_embed.bias", 1, DM, 0, 0, 0, INIT_ZERO, 0, 0, &L->pe_b);
    if (!st) st = model_add_act(m, (size_t)L->n_style, 0, &L->sidx);
    if (!st) st = model_add_act(m, (size_t)DM, 1, &L->c);
    if (!st) st = model_add_act(m, (size_t)DM, 1, &L->cs);
    if (!st) st = model_add_act(m, (size_t)L->T * L->PD, 0, &L->pz);
    if (!st) st = model_add_act(m, (size_t)L->T * DM, 1, &L->e);
    if (!st) st = model_add_act(m, (size_t)S * DM, 1, &L->x0);
    const size_t SD = (size_t)S * DM;
    for (int i = 0; i < L->n_blocks && !st; i++) {
        dit_block *bk = &L->blocks[i];
        char name[40];
        st = add_lin(m, "blk%d.ada.weight", i, 6 * DM, DM, INIT_ZERO, &bk->ada_w);
        snprintf(name, sizeof name, "blk%d.ada.bias", i);
        if (!st) st = model_add_param(m, name, 1, 6 * DM, 0, 0, 0, INIT_ZERO, 0, 0, &bk->ada_b);
        if (!st) st = add_lin(m, "blk%d.attn.q.weight", i, DM, DM, INIT_FAN_IN, &bk->wq);
        if (!st) st = add_lin(m, "blk%d.attn.k.weight", i, DM, DM, INIT_FAN_IN, &bk->wk);
        if (!st) st = add_lin(m, "blk%d.attn.v.weight", i, DM, DM, INIT_FAN_IN, &bk->wv);
        if (!st) st = add_lin(m, "blk%d.attn.o.weight", i, DM, DM, INIT_FAN_IN, &bk->wo);
        snprintf(name, sizeof name, "blk%d.attn.q_norm", i);
        if (!st) st = model_add_param(m, name, 1, L->HD, 0, 0, 0, INIT_ONE, 0, 0, &bk->qn);
        snprintf(name, sizeof name, "blk%d.attn.k_norm", i);
        if (!st) st = model_add_param(m, name, 1, L->HD, 0, 0, 0, INIT_ONE, 0, 0, &bk->kn);
        if (!st) st = add_lin(m, "blk%d.mlp.w1.weight", i, F, DM, INIT_FAN_IN, &bk->w1);
        if (!st) st = add_lin(m, "blk%d.mlp.w3.weight", i, F, DM, INIT_FAN_IN, &bk->w3);
        if (!st) st = add_lin(m, "blk%d.mlp.w2.weight", i, DM, F, INIT_FAN_IN, &bk->w2);
        if (!st) st = model_add_act(m, 6 * (size_t)DM, 1, &bk->mod);
        if (!st) st = model_add_act(m, SD, 1, &bk->h1);
        if (!st) st = model_add_act(m, (size_t)S, 0, &bk->rstd1);
        if (!st) st = model_add_act(m, SD, 1, &bk->q);
        if (!st) st = model_add_act(m, SD, 1, &bk->k);
        if (!st) st = model_add_act(m, SD, 1, &bk->v);
        if (!st) st = model_add_act(m, (size_t)S * NH, 0, &bk->qrs);
        if (!st) st = model_add_act(m, (size_t)S * NH, 0, &bk->krs);
        if (!st) st = model_add_act(m, SD, 1, &bk->qr);
        if (!st) st = model_add_act(m, SD, 1, &bk->kr);
        if (!st) st = model_add_act(m, SD, 1, &bk->o);
        if (!st) st = model_add_act(m, (size_t)NH * S, 0, &bk->lse);
        if (!st) st = model_add_act(m, SD, 1, &bk->a);
        if (!st) st = model_add_act(m, SD, 1, &bk->x1);
        if (!st) st = model_add_act(m, SD, 1, &bk->h2);
        if (!st) st = model_add_act(m, (size_t)S, 0, &bk->rstd2);
        if (!st) st = model_add_act(m, (size_t)S * F, 1, &bk->u);
        if (!st) st = model_add_act(m, (size_t)S * F, 1, &bk->g);
        if (!st) st = model_add_act(m, (size_t)S * F, 1, &bk->s);
        if (!st) st = model_add_act(m, SD, 1, &bk->y);
        if (!st) st = model_add_act(m, SD, 1, &bk->x2);
    }
    if (!st) st = model_add_param(m, "final.ada.weight", 2, 2 * DM, DM, 0, 0, INIT_ZERO, 0, 1, &L->fada_w);
    if (!st) st = model_add_param(m, "final.ada.bias", 1, 2 * DM, 0, 0, 0, INIT_ZERO, 0, 0, &L->fada_b);
    if (!st) st = model_add_param(m, "final.linear.weight", 2, L->PD, DM, 0, 0, INIT_FAN_IN, 0, 1, &L->out_w);
    if (!st) st = model_add_param(m, "final.linear.bias", 1, L->PD, 0, 0, 0, INIT_ZERO, 0, 0, &L->out_b);
    if (!st) st = model_add_act(m, 2 * (size_t)DM, 1, &L->modf);
    if (!st) st = model_add_act(m, SD, 1, &L->hf);
    if (!st) st = model_add_act(m, (size_t)S, 0, &L->rstdf);
    if (!st) st = model_add_act(m, (size_t)S * L->PD, 1, &L->otok);
    if (!st) st = model_add_act(m, (size_t)cfg->out_dim, 1, &L->img);
    if (!st && cfg->out_tanh) st = model_add_act(m, (size_t)cfg->out_dim, 1, &L->out);
    if (st) return st;
    model_need_work(m, drift_attention_work_floats(S, omp_get_max_threads()));

    /* the rotary tables: cos, sin and −sin (the inverse rotation, for the backward) */
    const size_t P2 = (size_t)S * (L->HD / 2);
    L->rope = drift_alloc(3 * P2, sizeof(float));
    int *pos = drift_alloc(2 * (size_t)S, sizeof(int));
    if (!L->rope || !pos) {
        drift_free(pos);
        return DRIFT_ENOMEM;
    }
    for (int t = 0; t < S; t++) {
        int pt = t - L->n_ctx;
        pos[t] = pt < 0 ? 0 : pt / GW + 1;
        pos[S + t] = pt < 0 ? 0 : pt % GW + 1;
    }
    drift_rope2d_table(L->rope, L->rope + P2, pos, pos + S, S, L->HD, DIT_ROPE_BASE);
    for (size_t i = 0; i < P2; i++) L->rope[2 * P2 + i] = -L->rope[P2 + i];
    drift_free(pos);
    return DRIFT_OK;
}

void dit_free(drift_model *m)
{
    drift_free(m->impl->u.dit.rope);
    m->impl->u.dit.rope = NULL;
}

act dit_output(const drift_model *m)
{
    const dit_layout *L = &m->impl->u.dit;
    return m->cfg.out_tanh ? L->out : L->img;
}

/* floor(V · Φ(u)) in 0..V−1, in float64 so that C and the PyTorch peer agree */
static int style_index(float u, int V)
{
    double phi = 0.5 * erfc(-(double)u / sqrt(2.0));
    int s = (int)floor(V * phi);
    return s < 0 ? 0 : s >= V ? V - 1 : s;
}

void dit_forward(drift_model *m, const float *input, const float *alpha, int B)
{
    dit_layout *L = &m->impl->u.dit;
    const drift_model_config *cfg = &m->cfg;
    const int DM = L->DM, F = L->F, S = L->S, T = L->T, NH = L->NH, HD = L->HD, nc = L->n_ctx;
    const int in = m->in_dim, chw = cfg->channels * cfg->height * cfg->width, N = B * S;
    const size_t P2 = (size_t)S * (HD / 2);
    const float *cosv = L->rope, *sinv = L->rope + P2;
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;

    /* conditioning: class + α + style */
    float *c = A(m, L->c), *sidx = A(m, L->sidx);
    if (L->cond.on) {
        cond_forward(m, &L->cond, alpha, B);
        memcpy(c, A(m, L->cond.c), (size_t)B * DM * sizeof(float));
    } else {
        memset(c, 0, (size_t)B * DM * sizeof(float));
    }
    for (int b = 0; b < B; b++)
        for (int j = 0; j < L->n_style; j++) {
            int s = style_index(input[(size_t)b * in + chw + j], L->vocab);
            sidx[(size_t)b * L->n_style + j] = (float)s;
            const float *e = P(m, L->style_emb) + (size_t)s * DM;
            float *cb = c + (size_t)b * DM;
            for (int i = 0; i < DM; i++) cb[i] += e[i];
        }
    drift_silu_forward(A(m, L->cs), c, (size_t)B * DM);

    /* tokens: in-context tokens + c, then the embedded patches of the noise image */
    float *pz = A(m, L->pz), *x0 = A(m, L->x0), *e = A(m, L->e);
    for (int b = 0; b < B; b++) /* the noise rows are (in_dim) apart: patchify each image */
        drift_patchify_forward(pz + (size_t)b * T * L->PD, input + (size_t)b * in, 1, cfg->channels,
                               cfg->height, cfg->width, L->p, T, 0);
    drift_linear_forward(e, pz, P(m, L->pe_w), P(m, L->pe_b), B * T, L->PD, DM);
    for (int b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * S * DM;
        for (int k = 0; k < nc; k++)
            for (int i = 0; i < DM; i++) xb[(size_t)k * DM + i] = P(m, L->ctx)[(size_t)k * DM + i] + c[(size_t)b * DM + i];
        memcpy(xb + (size_t)nc * DM, e + (size_t)b * T * DM, (size_t)T * DM * sizeof(float));
    }

    act x = L->x0;
    for (int i = 0; i < L->n_blocks; i++) {
        const dit_block *bk = &L->blocks[i];
        float *mod = A(m, bk->mod);
        drift_linear_forward(mod, A(m, L->cs), P(m, bk->ada_w), P(m, bk->ada_b), B, DM, 6 * DM);
        drift_adaln_forward(A(m, bk->h1), A(m, bk->rstd1), A(m, x), mod, mod + DM, 6 * DM, B, S, DM);
        drift_linear_forward(A(m, bk->q), A(m, bk->h1), P(m, bk->wq), NULL, N, DM, DM);
        drift_linear_forward(A(m, bk->k), A(m, bk->h1), P(m, bk->wk), NULL, N, DM, DM);
        drift_linear_forward(A(m, bk->v), A(m, bk->h1), P(m, bk->wv), NULL, N, DM, DM);
        drift_rmsnorm_forward(A(m, bk->qr), A(m, bk->qrs), A(m, bk->q), P(m, bk->qn), N * NH, HD);
        drift_rmsnorm_forward(A(m, bk->kr), A(m, bk->krs), A(m, bk->k), P(m, bk->kn), N * NH, HD);
        drift_rope_forward(A(m, bk->qr), A(m, bk->qr), cosv, sinv, B, S, NH, HD);
        drift_rope_forward(A(m, bk->kr), A(m, bk->kr), cosv, sinv, B, S, NH, HD);
        drift_attention_forward(A(m, bk->o), A(m, bk->lse), A(m, bk->qr), A(m, bk->kr), A(m, bk->v),
                                B, S, NH, HD, DM, DM, DM, DM, work, nwork);
        drift_linear_forward(A(m, bk->a), A(m, bk->o), P(m, bk->wo), NULL, N, DM, DM);
        drift_gated_residual_forward(A(m, bk->x1), A(m, x), A(m, bk->a), mod + 2 * DM, 6 * DM, B, S, DM);
        drift_adaln_forward(A(m, bk->h2), A(m, bk->rstd2), A(m, bk->x1), mod + 3 * DM, mod + 4 * DM,
                            6 * DM, B, S, DM);
        drift_linear_forward(A(m, bk->u), A(m, bk->h2), P(m, bk->w1), NULL, N, DM, F);
        drift_linear_forward(A(m, bk->g), A(m, bk->h2), P(m, bk->w3), NULL, N, DM, F);
        drift_swiglu_forward(A(m, bk->s), A(m, bk->u), A(m, bk->g), (size_t)N * F);
        drift_linear_forward(A(m, bk->y), A(m, bk->s), P(m, bk->w2), NULL, N, F, DM);
        drift_gated_residual_forward(A(m, bk->x2), A(m, bk->x1), A(m, bk->y), mod + 5 * DM, 6 * DM, B, S, DM);
        x = bk->x2;
    }
    L->last = x;
    float *modf = A(m, L->modf);
    drift_linear_forward(modf, A(m, L->cs), P(m, L->fada_w), P(m, L->fada_b), B, DM, 2 * DM);
    drift_adaln_forward(A(m, L->hf), A(m, L->rstdf), A(m, x), modf, modf + DM, 2 * DM, B, S, DM);
    drift_linear_forward(A(m, L->otok), A(m, L->hf), P(m, L->out_w), P(m, L->out_b), N, DM, L->PD);
    drift_unpatchify_forward(A(m, L->img), A(m, L->otok), B, cfg->channels, cfg->height, cfg->width,
                             L->p, S, nc);
    if (cfg->out_tanh) drift_tanh_forward(A(m, L->out), A(m, L->img), (size_t)B * cfg->out_dim);
}

void dit_backward(drift_model *m, int B)
{
    dit_layout *L = &m->impl->u.dit;
    const drift_model_config *cfg = &m->cfg;
    const int DM = L->DM, F = L->F, S = L->S, T = L->T, NH = L->NH, HD = L->HD, nc = L->n_ctx;
    const int N = B * S;
    const size_t P2 = (size_t)S * (HD / 2);
    const float *cosv = L->rope, *nsinv = L->rope + 2 * P2;
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;

    if (cfg->out_tanh) drift_tanh_backward(D(m, L->img), D(m, L->out), A(m, L->out), (size_t)B * cfg->out_dim);
    drift_unpatchify_backward(D(m, L->otok), D(m, L->img), B, cfg->channels, cfg->height, cfg->width,
                              L->p, S, nc);
    drift_linear_backward(D(m, L->hf), G(m, L->out_w), G(m, L->out_b), D(m, L->otok), A(m, L->hf),
                          P(m, L->out_w), N, DM, L->PD);
    const float *modf = A(m, L->modf);
    float *dmodf = D(m, L->modf);
    drift_adaln_backward(D(m, L->last), dmodf, dmodf + DM, D(m, L->hf), A(m, L->last), A(m, L->rstdf),
                         modf + DM, 2 * DM, B, S, DM);
    drift_linear_backward(D(m, L->cs), G(m, L->fada_w), G(m, L->fada_b), dmodf, A(m, L->cs),
                          P(m, L->fada_w), B, DM, 2 * DM);

    for (int i = L->n_blocks - 1; i >= 0; i--) {
        const dit_block *bk = &L->blocks[i];
        const act x = i ? L->blocks[i - 1].x2 : L->x0;
        const float *mod = A(m, bk->mod);
        float *dmod = D(m, bk->mod);
        drift_gated_residual_backward(D(m, bk->x1), D(m, bk->y), dmod + 5 * DM, D(m, bk->x2), A(m, bk->y),
                                      mod + 5 * DM, 6 * DM, B, S, DM);
        drift_linear_backward(D(m, bk->s), G(m, bk->w2), NULL, D(m, bk->y), A(m, bk->s), P(m, bk->w2), N, F, DM);
        drift_swiglu_backward(D(m, bk->u), D(m, bk->g), D(m, bk->s), A(m, bk->u), A(m, bk->g), (size_t)N * F);
        drift_linear_backward(D(m, bk->h2), G(m, bk->w1), NULL, D(m, bk->u), A(m, bk->h2), P(m, bk->w1), N, DM, F);
        drift_linear_backward(D(m, bk->h2), G(m, bk->w3), NULL, D(m, bk->g), A(m, bk->h2), P(m, bk->w3), N, DM, F);
        drift_adaln_backward(D(m, bk->x1), dmod + 3 * DM, dmod + 4 * DM, D(m, bk->h2), A(m, bk->x1),
                             A(m, bk->rstd2), mod + 4 * DM, 6 * DM, B, S, DM);
        drift_gated_residual_backward(D(m, x), D(m, bk->a), dmod + 2 * DM, D(m, bk->x1), A(m, bk->a),
                                      mod + 2 * DM, 6 * DM, B, S, DM);
        drift_linear_backward(D(m, bk->o), G(m, bk->wo), NULL, D(m, bk->a), A(m, bk->o), P(m, bk->wo), N, DM, DM);
        drift_attention_backward(D(m, bk->qr), D(m, bk->kr), D(m, bk->v), D(m, bk->o), A(m, bk->qr),
                                 A(m, bk->kr), A(m, bk->v), A(m, bk->o), A(m, bk->lse), B, S, NH, HD,
                                 DM, DM, DM, DM, work, nwork);
        /* the rotation's backward is the rotation by −angle: done in place on the gradient */
        drift_rope_forward(D(m, bk->qr), D(m, bk->qr), cosv, nsinv, B, S, NH, HD);
        drift_rope_forward(D(m, bk->kr), D(m, bk->kr), cosv, nsinv, B, S, NH, HD);
        drift_rmsnorm_backward(D(m, bk->q), G(m, bk->qn), D(m, bk->qr), A(m, bk->q), A(m, bk->qrs),
                               P(m, bk->qn), N * NH, HD);
        drift_rmsnorm_backward(D(m, bk->k), G(m, bk->kn), D(m, bk->kr), A(m, bk->k), A(m, bk->krs),
                               P(m, bk->kn), N * NH, HD);
        drift_linear_backward(D(m, bk->h1), G(m, bk->wq), NULL, D(m, bk->q), A(m, bk->h1), P(m, bk->wq), N, DM, DM);
        drift_linear_backward(D(m, bk->h1), G(m, bk->wk), NULL, D(m, bk->k), A(m, bk->h1), P(m, bk->wk), N, DM, DM);
        drift_linear_backward(D(m, bk->h1), G(m, bk->wv), NULL, D(m, bk->v), A(m, bk->h1), P(m, bk->wv), N, DM, DM);
        drift_adaln_backward(D(m, x), dmod, dmod + DM, D(m, bk->h1), A(m, x), A(m, bk->rstd1), mod + DM,
                             6 * DM, B, S, DM);
        drift_linear_backward(D(m, L->cs), G(m, bk->ada_w), G(m, bk->ada_b), dmod, A(m, L->cs),
                              P(m, bk->ada_w), B, DM, 6 * DM);
    }

    /* tokens: patch rows to the patch embedding, in-context rows to ctx_tokens and c */
    const float *dx0 = D(m, L->x0);
    float *de = D(m, L->e), *dc = D(m, L->c);
    for (int b = 0; b < B; b++) {
        const float *db = dx0 + (size_t)b * S * DM;
        memcpy(de + (size_t)b * T * DM, db + (size_t)nc * DM, (size_t)T * DM * sizeof(float));
        for (int k = 0; k < nc; k++)
            for (int i = 0; i < DM; i++) {
                G(m, L->ctx)[(size_t)k * DM + i] += db[(size_t)k * DM + i];
                dc[(size_t)b * DM + i] += db[(size_t)k * DM + i];
            }
    }
    drift_linear_backward(NULL, G(m, L->pe_w), G(m, L->pe_b), de, A(m, L->pz), P(m, L->pe_w), B * T, L->PD, DM);
    drift_silu_backward(dc, D(m, L->cs), A(m, L->c), (size_t)B * DM);
    const float *sidx = A(m, L->sidx);
    for (int b = 0; b < B; b++)
        for (int j = 0; j < L->n_style; j++) {
            float *g = G(m, L->style_emb) + (size_t)sidx[(size_t)b * L->n_style + j] * DM;
            for (int i = 0; i < DM; i++) g[i] += dc[(size_t)b * DM + i];
        }
    if (L->cond.on) {
        float *dcc = D(m, L->cond.c);
        for (size_t i = 0; i < (size_t)B * DM; i++) dcc[i] += dc[i];
        cond_backward(m, &L->cond, B);
    }
}
