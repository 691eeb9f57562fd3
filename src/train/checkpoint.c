/* checkpoint.c — save/load training state as safetensors (see drift/train.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/safetensors.h"
#include "drift/train.h"

#define CKPT_FORMAT "drift-checkpoint-1"
/* No run takes more steps than this (2^40, ~35 years at 1000 steps/s); larger counters are corrupt. */
#define CKPT_MAX_STEP ((int64_t)1 << 40)

int drift_checkpoint_save(const char *path, const drift_checkpoint *ck)
{
    int count;
    const drift_train_option *opts = drift_train_options(&count);
    drift_st_meta *meta = calloc((size_t)count + 3, sizeof *meta);
    char *keys = calloc((size_t)count, 64), *vals = calloc((size_t)count, 600);
    if (!meta || !keys || !vals) {
        free(meta); free(keys); free(vals);
        return drift_error(DRIFT_ENOMEM, "out of memory writing %s", path);
    }
    int st = DRIFT_OK;
    for (int i = 0; i < count && !st; i++) {
        snprintf(keys + 64 * i, 64, "config.%s", opts[i].key);
        st = drift_train_config_get(&ck->cfg, opts[i].key, vals + 600 * i, 600);
        meta[i].key = keys + 64 * i;
        meta[i].value = vals + 600 * i;
    }
    meta[count].key = "format";
    meta[count].value = CKPT_FORMAT;
    meta[count + 1].key = "model";
    meta[count + 1].value = ck->model_config;
    char shape[128];
    snprintf(shape, sizeof shape, "%d %d %d %d", ck->h, ck->w, ck->c, ck->n_classes);
    meta[count + 2].key = "data.shape";
    meta[count + 2].value = shape;
    int64_t state[4] = {ck->step, ck->adam_step, ck->ema_updates, (int64_t)ck->cfg.seed};
    const int64_t n = (int64_t)ck->n_params;
    drift_st_tensor t[5] = {
        {"params", DRIFT_DTYPE_F32, 1, {n}, ck->params},
        {"ema", DRIFT_DTYPE_F32, 1, {n}, ck->ema},
        {"adam.m", DRIFT_DTYPE_F32, 1, {n}, ck->adam_m},
        {"adam.v", DRIFT_DTYPE_F32, 1, {n}, ck->adam_v},
        {"state", DRIFT_DTYPE_I64, 1, {4}, state},
    };
    if (!st) st = drift_safetensors_write(path, t, 5, meta, (size_t)count + 3);
    free(meta); free(keys); free(vals);
    return st;
}

void drift_checkpoint_free(drift_checkpoint *ck)
{
    drift_free(ck->params); drift_free(ck->ema); drift_free(ck->adam_m); drift_free(ck->adam_v);
    ck->params = ck->ema = ck->adam_m = ck->adam_v = NULL;
}

int drift_checkpoint_load(const char *path, drift_checkpoint *out)
{
    memset(out, 0, sizeof *out);
    drift_safetensors *st = NULL;
    int rc = drift_safetensors_read(path, &st);
    if (rc) return rc;
    const char *fmt = drift_safetensors_meta(st, "format");
    if (!fmt || strcmp(fmt, CKPT_FORMAT)) {
        /* the message first: fmt points into st */
        drift_error(DRIFT_EFORMAT, "%s: not a drift training checkpoint (metadata format is '%.100s', expected '%s')",
                    path, fmt ? fmt : "missing", CKPT_FORMAT);
        drift_safetensors_free(st);
        return DRIFT_EFORMAT;
    }
    /* the config: defaults of the stored dataset first, then every stored key */
    const char *data = drift_safetensors_meta(st, "config.data");
    rc = drift_train_config_defaults(&out->cfg, data ? data : "", "default");
    int count;
    const drift_train_option *opts = drift_train_options(&count);
    for (int i = 0; i < count && !rc; i++) {
        char key[64];
        snprintf(key, sizeof key, "config.%s", opts[i].key);
        const char *v = drift_safetensors_meta(st, key);
        /* options added with feature-space drifting: older checkpoints trained in pixels */
        if (!v && !strncmp(opts[i].key, "feature", 7)) continue;
        if (!v && !strcmp(opts[i].key, "keep-zero-neg")) continue;
        if (!v) {
            rc = drift_error(DRIFT_EFORMAT, "%s: checkpoint lacks the option '%s'", path, opts[i].key);
            break;
        }
        rc = drift_train_config_set(&out->cfg, opts[i].key, v);
        if (rc) drift_error_context(rc, "%s: stored option %s", path, opts[i].key);
    }
    const char *model = drift_safetensors_meta(st, "model"), *shape = drift_safetensors_meta(st, "data.shape");
    if (!rc && (!model || strlen(model) >= sizeof out->model_config))
        rc = drift_error(DRIFT_EFORMAT, "%s: missing or oversized model description", path);
    if (!rc) snprintf(out->model_config, sizeof out->model_config, "%s", model);
    if (!rc && (!shape || sscanf(shape, "%d %d %d %d", &out->h, &out->w, &out->c, &out->n_classes) != 4 ||
                out->h < 0 || out->w < 1 || out->c < 0 || out->n_classes < 0))
        rc = drift_error(DRIFT_EFORMAT, "%s: missing or bad data.shape metadata", path);
    const drift_st_tensor *tp = NULL;
    if (!rc) rc = drift_safetensors_find(st, "params", &tp);
    if (!rc && (tp->ndim != 1 || tp->shape[0] < 1)) rc = drift_error(DRIFT_EFORMAT, "%s: params must be a non-empty vector", path);
    int64_t state[4];
    if (!rc) {
        out->n_params = (size_t)tp->shape[0];
        out->params = drift_alloc(out->n_params, sizeof(float));
        out->ema = drift_alloc(out->n_params, sizeof(float));
        out->adam_m = drift_alloc(out->n_params, sizeof(float));
        out->adam_v = drift_alloc(out->n_params, sizeof(float));
        if (!out->params || !out->ema || !out->adam_m || !out->adam_v) rc = DRIFT_ENOMEM;
    }
    if (!rc) rc = drift_safetensors_copy(st, "params", DRIFT_DTYPE_F32, out->params, out->n_params);
    if (!rc) rc = drift_safetensors_copy(st, "ema", DRIFT_DTYPE_F32, out->ema, out->n_params);
    if (!rc) rc = drift_safetensors_copy(st, "adam.m", DRIFT_DTYPE_F32, out->adam_m, out->n_params);
    if (!rc) rc = drift_safetensors_copy(st, "adam.v", DRIFT_DTYPE_F32, out->adam_v, out->n_params);
    if (!rc) rc = drift_safetensors_copy(st, "state", DRIFT_DTYPE_I64, state, 4);
    if (!rc) {
        out->step = state[0];
        out->adam_step = state[1];
        out->ema_updates = state[2];
        if (out->step < 0 || out->adam_step < 0 || out->ema_updates < 0)
            rc = drift_error(DRIFT_EFORMAT, "%s: negative step counters", path);
        else if (out->step > out->cfg.steps || out->step > CKPT_MAX_STEP)
            rc = drift_error(DRIFT_EFORMAT, "%s: the checkpoint claims step %lld, beyond its run's %lld steps "
                                            "(corrupt or not from this run)", path, (long long)out->step,
                             (long long)out->cfg.steps);
        else if (out->adam_step > CKPT_MAX_STEP || out->ema_updates > CKPT_MAX_STEP)
            rc = drift_error(DRIFT_EFORMAT, "%s: absurd optimizer/EMA step counters (%lld, %lld)", path,
                             (long long)out->adam_step, (long long)out->ema_updates);
    }
    /* every tensor is used: NaN/Inf anywhere is refused here, not found later in the samples */
    if (!rc && !drift_all_finite_f32(out->params, out->n_params))
        rc = drift_error(DRIFT_ENUMERIC, "%s: the weights contain NaN or Inf", path);
    if (!rc && !drift_all_finite_f32(out->ema, out->n_params))
        rc = drift_error(DRIFT_ENUMERIC, "%s: the EMA weights contain NaN or Inf", path);
    if (!rc && (!drift_all_finite_f32(out->adam_m, out->n_params) || !drift_all_finite_f32(out->adam_v, out->n_params)))
        rc = drift_error(DRIFT_ENUMERIC, "%s: the optimizer state contains NaN or Inf", path);
    drift_safetensors_free(st);
    if (rc) drift_checkpoint_free(out);
    return rc;
}
