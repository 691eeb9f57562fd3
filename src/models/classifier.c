/* classifier.c — the small CNN used for evaluation:
 *   conv3x3(widths[0]) → ReLU → maxpool 2 → conv3x3 stride 2 (widths[1]) → ReLU → flatten
 *   → linear(widths[2]) → ReLU  (= the features) → linear(n_classes) (= the logits)
 * For 28×28: 28 → 14 (pool) → 7 (stride 2), so the flatten has widths[1]·49 values. */
#include <omp.h>
#include <string.h>

#include "models/model_internal.h"

int classifier_build(drift_model *m)
{
    const drift_model_config *c = &m->cfg;
    classifier_layout *L = &m->impl->u.clf;
    const int w0 = c->widths[0], w1 = c->widths[1], w2 = c->widths[2], K = c->n_classes;
    int st = drift_conv2d_shape_init(&L->s1, c->channels, c->height, c->width, w0, 3, 1, 1);
    L->pool_h = c->height / 2, L->pool_w = c->width / 2;
    if (!st) st = drift_conv2d_shape_init(&L->s2, w0, L->pool_h, L->pool_w, w1, 3, 2, 1);
    if (st) return st;
    const int flat = w1 * L->s2.OH * L->s2.OW;
    model_need_work(m, drift_conv2d_work_floats(&L->s1, omp_get_max_threads()));
    model_need_work(m, drift_conv2d_work_floats(&L->s2, omp_get_max_threads()));
    st = model_add_param(m, "conv1.weight", 4, w0, c->channels, 3, 3, INIT_FAN_IN, 0, 1, &L->w1);
    if (!st) st = model_add_param(m, "conv1.bias", 1, w0, 0, 0, 0, INIT_ZERO, 0, 0, &L->b1);
    if (!st) st = model_add_param(m, "conv2.weight", 4, w1, w0, 3, 3, INIT_FAN_IN, 0, 1, &L->w2);
    if (!st) st = model_add_param(m, "conv2.bias", 1, w1, 0, 0, 0, INIT_ZERO, 0, 0, &L->b2);
    if (!st) st = model_add_param(m, "fc1.weight", 2, w2, flat, 0, 0, INIT_FAN_IN, 0, 1, &L->w3);
    if (!st) st = model_add_param(m, "fc1.bias", 1, w2, 0, 0, 0, INIT_ZERO, 0, 0, &L->b3);
    if (!st) st = model_add_param(m, "fc2.weight", 2, K, w2, 0, 0, INIT_FAN_IN, 0, 1, &L->w4);
    if (!st) st = model_add_param(m, "fc2.bias", 1, K, 0, 0, 0, INIT_ZERO, 0, 0, &L->b4);
    const size_t hw1 = (size_t)c->height * c->width, hwp = (size_t)L->pool_h * L->pool_w;
    if (!st) st = model_add_act(m, (size_t)m->in_dim, 0, &L->x);
    if (!st) st = model_add_act(m, w0 * hw1, 1, &L->c1);
    if (!st) st = model_add_act(m, w0 * hw1, 1, &L->r1);
    if (!st) st = model_add_act(m, w0 * hwp, 1, &L->p1);
    if (!st) st = model_add_act(m, (size_t)flat, 1, &L->c2);
    if (!st) st = model_add_act(m, (size_t)flat, 1, &L->r2);
    if (!st) st = model_add_act(m, (size_t)w2, 1, &L->f);
    if (!st) st = model_add_act(m, (size_t)w2, 1, &L->feat);
    if (!st) st = model_add_act(m, (size_t)K, 1, &L->logits);
    return st;
}

act classifier_output(const drift_model *m) { return m->impl->u.clf.logits; }

void classifier_forward(drift_model *m, const float *input, int B)
{
    classifier_layout *L = &m->impl->u.clf;
    const drift_model_config *c = &m->cfg;
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;
    const int w0 = c->widths[0], w2 = c->widths[2], flat = (int)L->c2.per;
    memcpy(A(m, L->x), input, (size_t)B * m->in_dim * sizeof(float));
    drift_conv2d_forward(A(m, L->c1), A(m, L->x), P(m, L->w1), P(m, L->b1), B, &L->s1, work, nwork);
    drift_relu_forward(A(m, L->r1), A(m, L->c1), (size_t)B * L->c1.per);
    drift_maxpool2x2_forward(A(m, L->p1), A(m, L->r1), B, w0, c->height, c->width);
    drift_conv2d_forward(A(m, L->c2), A(m, L->p1), P(m, L->w2), P(m, L->b2), B, &L->s2, work, nwork);
    drift_relu_forward(A(m, L->r2), A(m, L->c2), (size_t)B * flat);
    drift_linear_forward(A(m, L->f), A(m, L->r2), P(m, L->w3), P(m, L->b3), B, flat, w2);
    drift_relu_forward(A(m, L->feat), A(m, L->f), (size_t)B * w2);
    drift_linear_forward(A(m, L->logits), A(m, L->feat), P(m, L->w4), P(m, L->b4), B, w2, c->n_classes);
}

void classifier_backward(drift_model *m, int B)
{
    classifier_layout *L = &m->impl->u.clf;
    const drift_model_config *c = &m->cfg;
    float *work = m->impl->work;
    const size_t nwork = m->impl->work_floats;
    const int w0 = c->widths[0], w2 = c->widths[2], flat = (int)L->c2.per;
    drift_linear_backward(D(m, L->feat), G(m, L->w4), G(m, L->b4), D(m, L->logits), A(m, L->feat),
                          P(m, L->w4), B, w2, c->n_classes);
    drift_relu_backward(D(m, L->f), D(m, L->feat), A(m, L->f), (size_t)B * w2);
    drift_linear_backward(D(m, L->r2), G(m, L->w3), G(m, L->b3), D(m, L->f), A(m, L->r2), P(m, L->w3),
                          B, flat, w2);
    drift_relu_backward(D(m, L->c2), D(m, L->r2), A(m, L->c2), (size_t)B * flat);
    drift_conv2d_backward(D(m, L->p1), G(m, L->w2), G(m, L->b2), D(m, L->c2), A(m, L->p1), P(m, L->w2),
                          B, &L->s2, work, nwork);
    drift_maxpool2x2_backward(D(m, L->r1), D(m, L->p1), A(m, L->r1), B, w0, c->height, c->width);
    drift_relu_backward(D(m, L->c1), D(m, L->r1), A(m, L->c1), (size_t)B * L->c1.per);
    drift_conv2d_backward(NULL, G(m, L->w1), G(m, L->b1), D(m, L->c1), A(m, L->x), P(m, L->w1), B,
                          &L->s1, work, nwork);
}
