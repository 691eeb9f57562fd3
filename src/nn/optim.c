/* optim.c — AdamW, gradient clipping, learning-rate schedule, EMA of weights.
 * Every loop runs over fixed chunks of CHUNK elements, spread over the threads: an element's
 * arithmetic (vector or scalar) and the reduction's partial sums (one per chunk, added in chunk
 * order) do not depend on how many threads there are, so results are bitwise the same for any
 * thread count. */
#include "drift/optim.h"

#include <math.h>
#include <string.h>

#include "drift/core.h"

#define PAR_THRESHOLD 65536
#define CHUNK 16384 /* floats: 64 KiB, a few per core's L2 */

static size_t n_chunks(size_t n) { return (n + CHUNK - 1) / CHUNK; }

int drift_adamw_init(drift_adamw *opt, size_t n, float beta1, float beta2, float eps,
                     float weight_decay)
{
    memset(opt, 0, sizeof *opt);
    if (n == 0) return drift_error(DRIFT_EINVAL, "adamw: no parameters");
    if (!(beta1 >= 0.0f && beta1 < 1.0f) || !(beta2 >= 0.0f && beta2 < 1.0f))
        return drift_error(DRIFT_EINVAL, "adamw: betas must be in [0, 1), got %g, %g", beta1, beta2);
    if (!(eps > 0.0f) || !isfinite(eps))
        return drift_error(DRIFT_EINVAL, "adamw: eps must be > 0, got %g", eps);
    if (!(weight_decay >= 0.0f) || !isfinite(weight_decay))
        return drift_error(DRIFT_EINVAL, "adamw: weight decay must be >= 0, got %g", weight_decay);
    opt->m = drift_alloc(n, sizeof(float));
    opt->v = drift_alloc(n, sizeof(float));
    if (!opt->m || !opt->v) {
        drift_adamw_free(opt);
        return DRIFT_ENOMEM;
    }
    opt->beta1 = beta1, opt->beta2 = beta2, opt->eps = eps, opt->weight_decay = weight_decay;
    opt->n = n;
    return DRIFT_OK;
}

void drift_adamw_free(drift_adamw *opt)
{
    drift_free(opt->m);
    drift_free(opt->v);
    opt->m = opt->v = NULL;
}

/* One element: decoupled decay (p·keep), moment updates, bias-corrected step. */
static inline void adamw_update(float *p, float *m, float *v, float g, float keep, float b1,
                                float b2, float step_size, float inv_sqrt_bc2, float eps)
{
    *m = b1 * *m + (1.0f - b1) * g;
    *v = b2 * *v + (1.0f - b2) * g * g;
    *p = *p * keep - step_size * *m / (sqrtf(*v) * inv_sqrt_bc2 + eps);
}

int drift_adamw_step(drift_adamw *opt, float *params, const float *grads, float lr,
                     const unsigned char *decay_mask)
{
    if (!(lr >= 0.0f) || !isfinite(lr))
        return drift_error(DRIFT_EINVAL, "adamw: learning rate must be finite and >= 0, got %g", lr);
    opt->step++;
    const double t = (double)opt->step;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    /* fold the bias corrections into the step size and the denominator, as PyTorch does */
    const float step_size = (float)(lr / (1.0 - pow(b1, t)));
    const float inv_sqrt_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, t)));
    const float decay = lr * opt->weight_decay;
    float *m = opt->m, *v = opt->v;
    const size_t n = opt->n, nc = n_chunks(n);
    #pragma omp parallel for schedule(static) if (n > PAR_THRESHOLD)
    for (size_t c = 0; c < nc; c++) {
        const size_t hi = c + 1 < nc ? (c + 1) * CHUNK : n;
        #pragma omp simd
        for (size_t i = c * CHUNK; i < hi; i++) {
            float keep = decay_mask && !decay_mask[i] ? 1.0f : 1.0f - decay;
            adamw_update(params + i, m + i, v + i, grads[i], keep, b1, b2, step_size, inv_sqrt_bc2, eps);
        }
    }
    return DRIFT_OK;
}

static double chunk_sumsq(const float *g, size_t lo, size_t hi)
{
    double s = 0.0;
    #pragma omp simd reduction(+ : s)
    for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
    return s;
}

int drift_clip_grad_norm(float *grads, size_t n, float max_norm, double *norm_out)
{
    /* One partial sum per chunk, added in chunk order. Without memory for the partial sums
     * the same sums are formed one chunk after another: the same number, on one thread. */
    const size_t nc = n_chunks(n);
    double stack_part[256]; /* up to 4M parameters */
    double *part = n <= PAR_THRESHOLD ? NULL : nc <= 256 ? stack_part : drift_alloc(nc, sizeof(double));
    double sumsq = 0.0;
    if (part) {
        #pragma omp parallel for schedule(static)
        for (size_t c = 0; c < nc; c++) part[c] = chunk_sumsq(grads, c * CHUNK, c + 1 < nc ? (c + 1) * CHUNK : n);
        for (size_t c = 0; c < nc; c++) sumsq += part[c];
        if (part != stack_part) drift_free(part);
    } else {
        for (size_t c = 0; c < nc; c++) sumsq += chunk_sumsq(grads, c * CHUNK, c + 1 < nc ? (c + 1) * CHUNK : n);
    }
    double norm = sqrt(sumsq);
    if (norm_out) *norm_out = norm;
    if (!isfinite(norm))
        return drift_error(DRIFT_ENUMERIC, "gradient norm is not finite (%g)", norm);
    if (max_norm > 0.0f && norm > max_norm) {
        float scale = (float)(max_norm / (norm + 1e-6));
        #pragma omp parallel for schedule(static) if (n > PAR_THRESHOLD)
        for (size_t c = 0; c < nc; c++) {
            const size_t hi = c + 1 < nc ? (c + 1) * CHUNK : n;
            #pragma omp simd
            for (size_t i = c * CHUNK; i < hi; i++) grads[i] *= scale;
        }
    }
    return DRIFT_OK;
}

int drift_lr_schedule_check(const drift_lr_schedule *s)
{
    if (!(s->base_lr > 0.0) || !isfinite(s->base_lr))
        return drift_error(DRIFT_EINVAL, "learning rate must be > 0, got %g", s->base_lr);
    if (s->warmup_steps < 0)
        return drift_error(DRIFT_EINVAL, "warm-up steps must be >= 0, got %lld",
                           (long long)s->warmup_steps);
    if (s->decay == DRIFT_LR_COSINE) {
        if (s->total_steps <= s->warmup_steps)
            return drift_error(DRIFT_EINVAL, "cosine schedule: total steps (%lld) must exceed warm-up (%lld)",
                               (long long)s->total_steps, (long long)s->warmup_steps);
        if (!(s->min_lr >= 0.0 && s->min_lr <= s->base_lr))
            return drift_error(DRIFT_EINVAL, "cosine schedule: floor %g must be in [0, lr = %g]",
                               s->min_lr, s->base_lr);
    } else if (s->decay != DRIFT_LR_CONSTANT) {
        return drift_error(DRIFT_EINVAL, "unknown learning-rate decay %d", (int)s->decay);
    }
    return DRIFT_OK;
}

double drift_lr_at(const drift_lr_schedule *s, int64_t step)
{
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return s->base_lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->decay == DRIFT_LR_CONSTANT) return s->base_lr;
    double progress = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    if (progress > 1.0) progress = 1.0;
    return s->min_lr + (s->base_lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * progress));
}

int drift_ema_init(drift_ema *e, const float *params, size_t n, float decay, int warmup)
{
    memset(e, 0, sizeof *e);
    if (n == 0) return drift_error(DRIFT_EINVAL, "ema: no parameters");
    if (!(decay >= 0.0f && decay < 1.0f))
        return drift_error(DRIFT_EINVAL, "ema: decay must be in [0, 1), got %g", decay);
    e->shadow = drift_alloc(n, sizeof(float));
    if (!e->shadow) return DRIFT_ENOMEM;
    memcpy(e->shadow, params, n * sizeof(float));
    e->decay = decay, e->warmup = warmup, e->n = n;
    return DRIFT_OK;
}

void drift_ema_free(drift_ema *e)
{
    drift_free(e->shadow);
    e->shadow = NULL;
}

double drift_ema_next_decay(const drift_ema *e)
{
    double d = e->decay;
    if (e->warmup) {
        double t = (double)e->updates, w = (1.0 + t) / (10.0 + t);
        if (w < d) d = w;
    }
    return d;
}

void drift_ema_update(drift_ema *e, const float *params)
{
    const float d = (float)drift_ema_next_decay(e), keep = 1.0f - d;
    float *s = e->shadow;
    const size_t n = e->n, nc = n_chunks(n);
    #pragma omp parallel for schedule(static) if (n > PAR_THRESHOLD)
    for (size_t c = 0; c < nc; c++) {
        const size_t hi = c + 1 < nc ? (c + 1) * CHUNK : n;
        #pragma omp simd
        for (size_t i = c * CHUNK; i < hi; i++) s[i] = d * s[i] + keep * params[i];
    }
    e->updates++;
}
