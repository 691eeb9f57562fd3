/* drift/optim.h — optimization over one flat parameter buffer: AdamW, the learning-rate
 * schedule, global gradient-norm clipping, and an exponential moving average of weights.
 *
 * Everything works on a model's flat `params` / `grads` arrays (drift/models.h), and all
 * state is public flat arrays plus counters, so a checkpoint saves and restores it as is:
 * AdamW = (m, v, step), EMA = (shadow, updates).
 *
 * A training step, in order:
 *     drift_clip_grad_norm(grads, n, clip, &norm);        // skip the step if not finite
 *     lr = drift_lr_at(&schedule, opt.step);
 *     drift_adamw_step(&opt, params, grads, lr, mask);
 *     drift_ema_update(&ema, params);
 *
 * All four run on the library's threads over fixed chunks of the flat arrays, and give bitwise
 * the same results for any thread count (the clipping norm sums one partial per chunk, in
 * chunk order).
 */
#ifndef DRIFT_OPTIM_H
#define DRIFT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- AdamW (Loshchilov & Hutter; the update of torch.optim.AdamW) ----
 * With t = step after incrementing, for every element:
 *     m ← β1·m + (1 − β1)·g            v ← β2·v + (1 − β2)·g²
 *     p ← p − lr·wd·p − lr · (m / (1 − β1^t)) / (sqrt(v / (1 − β2^t)) + eps)
 * Weight decay is decoupled (not added to the gradient) and applied where decay_mask is
 * non-zero (all elements when the mask is NULL); drift_model_decay_mask gives the usual
 * choice (weights of linear/conv layers and embeddings; no biases or norm parameters). */
typedef struct drift_adamw {
    float beta1, beta2, eps, weight_decay;
    size_t n;          /* parameters */
    float *m, *v;      /* first and second moment estimates, n each (zero at start) */
    int64_t step;      /* updates done so far; bias correction uses step + 1 next */
} drift_adamw;

/* Validates 0 <= beta < 1, eps > 0, weight_decay >= 0, n > 0; allocates zeroed m, v. */
int drift_adamw_init(drift_adamw *opt, size_t n, float beta1, float beta2, float eps,
                     float weight_decay);
void drift_adamw_free(drift_adamw *opt);
/* One update of params (n) from grads (n) at learning rate lr (finite, >= 0). */
int drift_adamw_step(drift_adamw *opt, float *params, const float *grads, float lr,
                     const unsigned char *decay_mask);

/* ---- global gradient-norm clipping (as torch.nn.utils.clip_grad_norm_) ----
 * Computes the L2 norm of all n gradients (float64 accumulation) into *norm_out; if
 * max_norm > 0 and the norm exceeds it, scales the gradients by max_norm / (norm + 1e-6).
 * A non-finite norm returns DRIFT_ENUMERIC and leaves the gradients untouched: the caller
 * should skip that step. */
int drift_clip_grad_norm(float *grads, size_t n, float max_norm, double *norm_out);

/* ---- learning-rate schedule: linear warm-up, then constant or cosine to a floor ----
 * For the 0-based update index `step`:
 *     step < warmup:  lr = base · (step + 1) / warmup
 *     constant:       lr = base
 *     cosine:         lr = min + (base − min) · ½ (1 + cos(π · progress)),
 *                     progress = (step − warmup) / (total − warmup), held at 1 (lr = min)
 *                     from step = total on. */
typedef enum { DRIFT_LR_CONSTANT = 0, DRIFT_LR_COSINE = 1 } drift_lr_decay;

typedef struct drift_lr_schedule {
    double base_lr;
    int64_t warmup_steps;   /* 0: no warm-up */
    drift_lr_decay decay;
    int64_t total_steps;    /* cosine only: the step at which lr reaches min_lr */
    double min_lr;          /* cosine only: the floor */
} drift_lr_schedule;

/* Validates (base_lr > 0, warmup >= 0, cosine: total > warmup, 0 <= min_lr <= base_lr). */
int drift_lr_schedule_check(const drift_lr_schedule *s);
/* The learning rate for update `step` (0-based). Pure; assumes a checked schedule. */
double drift_lr_at(const drift_lr_schedule *s, int64_t step);

/* ---- exponential moving average of the weights ----
 * shadow ← d·shadow + (1 − d)·params, with d = decay, or with warm-up
 * d = min(decay, (1 + t) / (10 + t)) for the t-th update (t = 0, 1, ...), so that the
 * average does not remember the random initialization for ~1/(1 − decay) steps. */
typedef struct drift_ema {
    float decay;
    int warmup;        /* non-zero: use the warm-up decay above */
    size_t n;
    float *shadow;     /* the averaged parameters (starts as a copy of params) */
    int64_t updates;   /* updates done so far */
} drift_ema;

/* Validates 0 <= decay < 1 (decay = 0 makes the shadow a copy of the last params). */
int drift_ema_init(drift_ema *e, const float *params, size_t n, float decay, int warmup);
void drift_ema_free(drift_ema *e);
/* The decay the next update will use. */
double drift_ema_next_decay(const drift_ema *e);
void drift_ema_update(drift_ema *e, const float *params);

#ifdef __cplusplus
}
#endif
#endif
