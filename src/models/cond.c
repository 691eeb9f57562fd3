/* cond.c — the conditioning vector of the generators:
 *     c = class_emb[label] + fc2(SiLU(fc1(sinusoid(log α))))
 * either term present only if the model has class / α input. Taking log α makes the scale
 * multiplicative (α ∈ [1, 4] in practice, log α ∈ [0, 1.39]) and α = 1 (no guidance) zero. */
#include <math.h>
#include <string.h>

#include "models/model_internal.h"

int cond_build(drift_model *m, cond_layout *c, int dim)
{
    const drift_model_config *cfg = &m->cfg;
    memset(c, 0, sizeof *c);
    c->n_classes = cfg->n_classes, c->use_alpha = cfg->use_alpha;
    c->on = c->n_classes > 0 || c->use_alpha;
    if (!c->on) return DRIFT_OK;
    c->dim = dim, c->freqs = cfg->alpha_freqs;
    int st = 0;
    if (c->n_classes > 0)
        st = model_add_param(m, "cond.class_emb", 2, c->n_classes + 1, dim, 0, 0, INIT_NORMAL, 1.0f, 1,
                             &c->emb);
    if (!st && c->use_alpha) {
        int nf = 2 * c->freqs;
        st = model_add_param(m, "cond.alpha.fc1.weight", 2, dim, nf, 0, 0, INIT_FAN_IN, 0, 1, &c->a_w1);
        if (!st) st = model_add_param(m, "cond.alpha.fc1.bias", 1, dim, 0, 0, 0, INIT_ZERO, 0, 0, &c->a_b1);
        if (!st) st = model_add_param(m, "cond.alpha.fc2.weight", 2, dim, dim, 0, 0, INIT_FAN_IN, 0, 1, &c->a_w2);
        if (!st) st = model_add_param(m, "cond.alpha.fc2.bias", 1, dim, 0, 0, 0, INIT_ZERO, 0, 0, &c->a_b2);
        if (!st) st = model_add_act(m, 1, 0, &c->log_alpha);
        if (!st) st = model_add_act(m, (size_t)nf, 0, &c->feat);
        if (!st) st = model_add_act(m, (size_t)dim, 1, &c->h);
        if (!st) st = model_add_act(m, (size_t)dim, 1, &c->hs);
    }
    if (!st) st = model_add_act(m, (size_t)dim, 1, &c->c);
    return st;
}

void cond_forward(drift_model *m, const cond_layout *c, const float *alpha, int B)
{
    const int dim = c->dim;
    const int *labels = m->impl->labels;
    float *out = A(m, c->c);
    if (c->use_alpha) {
        float *la = A(m, c->log_alpha);
        for (int b = 0; b < B; b++) la[b] = alpha ? logf(alpha[b]) : 0.0f;
        drift_sinusoidal_forward(A(m, c->feat), la, B, c->freqs, DRIFT_ALPHA_MAX_FREQ);
        drift_linear_forward(A(m, c->h), A(m, c->feat), P(m, c->a_w1), P(m, c->a_b1), B,
                             2 * c->freqs, dim);
        drift_silu_forward(A(m, c->hs), A(m, c->h), (size_t)B * dim);
        drift_linear_forward(out, A(m, c->hs), P(m, c->a_w2), P(m, c->a_b2), B, dim, dim);
        if (c->n_classes > 0)
            for (int b = 0; b < B; b++) {
                const float *e = P(m, c->emb) + (size_t)labels[b] * dim;
                float *o = out + (size_t)b * dim;
                for (int i = 0; i < dim; i++) o[i] += e[i];
            }
    } else {
        drift_embedding_forward(out, labels, P(m, c->emb), B, dim);
    }
}

void cond_backward(drift_model *m, const cond_layout *c, int B)
{
    const int dim = c->dim;
    const float *dc = D(m, c->c);
    if (c->n_classes > 0) drift_embedding_backward(G(m, c->emb), dc, m->impl->labels, B, dim);
    if (c->use_alpha) {
        drift_linear_backward(D(m, c->hs), G(m, c->a_w2), G(m, c->a_b2), dc, A(m, c->hs),
                              P(m, c->a_w2), B, dim, dim);
        drift_silu_backward(D(m, c->h), D(m, c->hs), A(m, c->h), (size_t)B * dim);
        /* the features of α are not learned: no gradient below fc1 */
        drift_linear_backward(NULL, G(m, c->a_w1), G(m, c->a_b1), D(m, c->h), A(m, c->feat),
                              P(m, c->a_w1), B, 2 * c->freqs, dim);
    }
}
