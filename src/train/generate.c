/* generate.c — sampling from a trained generator: one forward pass per sample. */
#include <math.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/models.h"
#include "drift/rng.h"
#include "drift/train.h"

int drift_generator_load(const char *ckpt_path, int use_ema, int max_batch, drift_model **model, drift_checkpoint *info)
{
    *model = NULL;
    drift_checkpoint ck;
    int st = drift_checkpoint_load(ckpt_path, &ck);
    if (st) return st;
    drift_model_config mc;
    st = drift_model_config_parse(ck.model_config, &mc);
    if (st) drift_error_context(st, "%s: model description", ckpt_path);
    if (!st) st = drift_model_create(&mc, max_batch, model);
    if (!st && (*model)->n_params != ck.n_params)
        st = drift_error(DRIFT_EFORMAT, "%s: %zu stored parameters, but the described generator has %zu", ckpt_path,
                         ck.n_params, (*model)->n_params);
    if (!st) memcpy((*model)->params, use_ema ? ck.ema : ck.params, ck.n_params * sizeof(float));
    if (!st && info) {
        *info = ck;
        info->params = info->ema = info->adam_m = info->adam_v = NULL;
    }
    drift_checkpoint_free(&ck);
    if (st) {
        drift_model_free(*model);
        *model = NULL;
    }
    return st;
}

int drift_generate(drift_model *m, int64_t n, const int *labels, float alpha, uint64_t seed, float *out)
{
    if (!m || !out || n < 0) return drift_error(DRIFT_EINVAL, "generate: bad arguments");
    if (m->cfg.kind == DRIFT_MODEL_CLASSIFIER) return drift_error(DRIFT_EINVAL, "generate: the model is a classifier");
    if (!(alpha >= 1.0f) || !isfinite(alpha)) return drift_error(DRIFT_EINVAL, "guidance scale alpha must be >= 1, got %g", alpha);
    if (alpha != 1.0f && !m->cfg.use_alpha)
        return drift_error(DRIFT_EINVAL, "this generator was trained without guidance: alpha must be 1");
    if (labels && m->cfg.n_classes == 0) return drift_error(DRIFT_EINVAL, "this generator is unconditional: no labels");
    for (int64_t i = 0; labels && i < n; i++)
        if (labels[i] != DRIFT_LABEL_NULL && (labels[i] < 0 || labels[i] >= m->cfg.n_classes))
            return drift_error(DRIFT_EINVAL, "class %d out of range [0, %d)", labels[i], m->cfg.n_classes);
    const int nd = m->cfg.noise_dim, bs = m->max_batch;
    float *noise = drift_alloc((size_t)bs * nd, sizeof(float)), *al = drift_alloc((size_t)bs, sizeof(float));
    int *lab = drift_alloc((size_t)bs, sizeof(int));
    if (!noise || !al || !lab) {
        drift_free(noise); drift_free(al); drift_free(lab);
        return DRIFT_ENOMEM;
    }
    int st = DRIFT_OK;
    for (int64_t start = 0; start < n && !st; start += bs) {
        int b = (int)(n - start < bs ? n - start : bs);
        for (int i = 0; i < b; i++) {
            drift_rng r;
            drift_rng_init(&r, seed, (uint64_t)(start + i));
            drift_rng_fill_normal(&r, noise + (size_t)i * nd, (size_t)nd, 0.f, 1.f);
            al[i] = alpha;
            lab[i] = labels ? labels[start + i] : DRIFT_LABEL_NULL;
        }
        st = drift_model_forward(m, noise, m->cfg.n_classes ? lab : NULL, m->cfg.use_alpha ? al : NULL, b,
                                 out + start * m->out_dim);
    }
    drift_free(noise); drift_free(al); drift_free(lab);
    return st;
}
