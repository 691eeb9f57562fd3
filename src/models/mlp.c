/* mlp.c — the MLP generator: noise → [linear → SiLU]×n → linear (→ tanh).
 * The conditioning vector c (width of the first hidden layer) is added to the first
 * pre-activation: h1 = SiLU(W1·z + b1 + c). */
#include <stdio.h>
#include <string.h>

#include "models/model_internal.h"

int mlp_build(drift_model *m)
{
    const drift_model_config *cfg = &m->cfg;
    mlp_layout *L = &m->impl->u.mlp;
    L->n_layers = cfg->n_widths + 1;
    L->dims[0] = cfg->noise_dim;
    for (int i = 0; i < cfg->n_widths; i++) L->dims[i + 1] = cfg->widths[i];
    L->dims[L->n_layers] = cfg->out_dim;
    int st = cond_build(m, &L->cond, cfg->widths[0]);
    for (int i = 0; i < L->n_layers && !st; i++) {
        char name[40];
        snprintf(name, sizeof name, "fc%d.weight", i);
        st = model_add_param(m, name, 2, L->dims[i + 1], L->dims[i], 0, 0, INIT_FAN_IN, 0, 1, &L->w[i]);
        snprintf(name, sizeof name, "fc%d.bias", i);
        if (!st) st = model_add_param(m, name, 1, L->dims[i + 1], 0, 0, 0, INIT_ZERO, 0, 0, &L->b[i]);
    }
    if (!st) st = model_add_act(m, (size_t)cfg->noise_dim, 0, &L->x);
    for (int i = 0; i < L->n_layers && !st; i++) {
        st = model_add_act(m, (size_t)L->dims[i + 1], 1, &L->pre[i]);
        if (!st && i < cfg->n_widths) st = model_add_act(m, (size_t)L->dims[i + 1], 1, &L->post[i]);
    }
    if (!st && cfg->out_tanh) st = model_add_act(m, (size_t)cfg->out_dim, 1, &L->out);
    return st;
}

act mlp_output(const drift_model *m)
{
    const mlp_layout *L = &m->impl->u.mlp;
    return m->cfg.out_tanh ? L->out : L->pre[L->n_layers - 1];
}

void mlp_forward(drift_model *m, const float *input, const float *alpha, int B)
{
    mlp_layout *L = &m->impl->u.mlp;
    memcpy(A(m, L->x), input, (size_t)B * L->dims[0] * sizeof(float));
    if (L->cond.on) cond_forward(m, &L->cond, alpha, B);
    for (int i = 0; i < L->n_layers; i++) {
        const float *in = i == 0 ? A(m, L->x) : A(m, L->post[i - 1]);
        float *pre = A(m, L->pre[i]);
        drift_linear_forward(pre, in, P(m, L->w[i]), P(m, L->b[i]), B, L->dims[i], L->dims[i + 1]);
        if (i == 0 && L->cond.on) {
            const float *c = A(m, L->cond.c);
            for (size_t k = 0; k < (size_t)B * L->dims[1]; k++) pre[k] += c[k];
        }
        if (i < L->n_layers - 1)
            drift_silu_forward(A(m, L->post[i]), pre, (size_t)B * L->dims[i + 1]);
    }
    if (m->cfg.out_tanh)
        drift_tanh_forward(A(m, L->out), A(m, L->pre[L->n_layers - 1]), (size_t)B * m->cfg.out_dim);
}

void mlp_backward(drift_model *m, int B)
{
    mlp_layout *L = &m->impl->u.mlp;
    const int last = L->n_layers - 1;
    if (m->cfg.out_tanh)
        drift_tanh_backward(D(m, L->pre[last]), D(m, L->out), A(m, L->out), (size_t)B * m->cfg.out_dim);
    for (int i = last; i >= 0; i--) {
        const float *in = i == 0 ? A(m, L->x) : A(m, L->post[i - 1]);
        float *din = i == 0 ? NULL : D(m, L->post[i - 1]);
        drift_linear_backward(din, G(m, L->w[i]), G(m, L->b[i]), D(m, L->pre[i]), in, P(m, L->w[i]),
                              B, L->dims[i], L->dims[i + 1]);
        if (i > 0)
            drift_silu_backward(D(m, L->pre[i - 1]), D(m, L->post[i - 1]), A(m, L->pre[i - 1]),
                                (size_t)B * L->dims[i]);
    }
    if (L->cond.on) { /* c was added to the first pre-activation: same gradient */
        memcpy(D(m, L->cond.c), D(m, L->pre[0]), (size_t)B * L->dims[1] * sizeof(float));
        cond_backward(m, &L->cond, B);
    }
}
