/* trainer.c — the drifting training loop (docs/MATH.md §4, §7).
 *
 * One step:
 *   1. pick the class groups of the step (conditional: N_c distinct classes; else N_c groups
 *      of the whole dataset), one guidance scale α per group (∝ α^−3 on [1, α_max]);
 *   2. generate N_neg samples per group from fresh noise, in one batched forward pass;
 *   3. draw N_pos positives of the group's class and N_unc unconditional rows (guidance
 *      negatives, kernel weight w(α)) without replacement;
 *   4. the field per group → dL/dx (loss.c), back-propagated through the generator;
 *   5. clip, AdamW, EMA.
 * Every random draw of step k comes from counter-based streams keyed by (seed, k, purpose),
 * so a run resumed from a checkpoint at step k continues exactly as the uninterrupted run.
 * Positives are drawn per step without replacement from the whole class (the data lives in
 * memory), which plays the role of the reference recipe's sample queues without state. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "io/atomic.h"
#include "drift/data.h"
#include "drift/encoder.h"
#include "drift/error.h"
#include "drift/models.h"
#include "drift/optim.h"
#include "drift/rng.h"
#include "drift/train.h"
#include "train/loss_internal.h"
#include "train/trainer_internal.h"

enum { STREAM_CLASSES = 1, STREAM_ALPHA = 2, STREAM_NOISE = 3, STREAM_UNC = 4, STREAM_POS = 16 };

static int build_model_config(const drift_train_config *cfg, const drift_dataset *d, int n_classes,
                              drift_model_config *mc)
{
    int st;
    if (!strcmp(cfg->model, "conv")) {
        if (!d->h || d->h % 4 || d->w % 4)
            return drift_error(DRIFT_EINVAL, "the conv generator needs images whose height and width are multiples of 4 (dataset %s has %dx%d)",
                               d->name, d->h, d->w);
        if ((st = drift_model_config_default(DRIFT_MODEL_CONV, mc))) return st;
        mc->channels = d->c;
        mc->height = d->h;
        mc->width = d->w;
        mc->n_widths = 2;
        mc->widths[0] = 2 * cfg->width;
        mc->widths[1] = cfg->width;
        mc->depth = cfg->depth;
        mc->groups = cfg->width % 8 == 0 ? 8 : cfg->width % 4 == 0 ? 4 : 1;
        mc->out_tanh = 1;
    } else if (!strncmp(cfg->model, "dit", 3)) {
        /* the size comes with the name (dit-t, dit-s); --width, --depth and --noise-dim do not
         * apply: the DiT's noise is an image of the data's shape plus its style values */
        if ((st = drift_model_config_dit(cfg->model, mc))) return st;
        if (!d->h || d->h % mc->patch || d->w % mc->patch)
            return drift_error(DRIFT_EINVAL, "the dit generator needs images whose height and width are multiples of its patch %d (dataset %s has %dx%d)",
                               mc->patch, d->name, d->h, d->w);
        mc->channels = d->c;
        mc->height = d->h;
        mc->width = d->w;
    } else {
        if ((st = drift_model_config_default(DRIFT_MODEL_MLP, mc))) return st;
        mc->out_dim = (int)d->dim;
        mc->n_widths = cfg->depth;
        if (cfg->depth > DRIFT_MODEL_MAX_WIDTHS)
            return drift_error(DRIFT_EINVAL, "mlp depth %d exceeds %d", cfg->depth, DRIFT_MODEL_MAX_WIDTHS);
        for (int i = 0; i < cfg->depth; i++) mc->widths[i] = cfg->width;
        mc->out_tanh = d->h > 0; /* images live in [-1, 1]; toy data is unbounded */
    }
    mc->noise_dim = mc->kind == DRIFT_MODEL_DIT ? 0 : cfg->noise_dim; /* dit: derived */
    mc->n_classes = cfg->conditional ? n_classes : 0;
    mc->use_alpha = cfg->alpha_max > 1.0;
    return DRIFT_OK;
}

void drift_trainer_free(drift_trainer *t)
{
    if (!t) return;
    drift_model_free(t->model);
    drift_adamw_free(&t->opt);
    drift_ema_free(&t->ema);
    drift_dataset_free(&t->data);
    drift_class_index_free(&t->classes);
    drift_class_index_free(&t->everything);
    drift_free(t->decay_mask); drift_free(t->noise); drift_free(t->alpha); drift_free(t->labels);
    drift_free(t->x); drift_free(t->grad); drift_free(t->pos); drift_free(t->unc); drift_free(t->idx);
    drift_free(t->group_class); drift_free(t->group_alpha); drift_free(t->groups); drift_free(t->saved);
    drift_free(t->saved_m); drift_free(t->saved_v);
    drift_free(t->all_rows);
    drift_ctx_free(t->ctx);
    drift_encoder_free(t->encoder);
    trainer_outputs_free(t);
    free(t);
}

int64_t drift_trainer_steps_done(const drift_trainer *t) { return t->step; }
const drift_train_config *drift_trainer_config(const drift_trainer *t) { return &t->cfg; }

size_t drift_trainer_param_count(const drift_trainer *t) { return t->model->n_params; }
const char *drift_trainer_model_description(const drift_trainer *t) { return drift_model_describe(t->model); }

int drift_trainer_create(const drift_train_config *cfg_in, const char *resume_path, drift_trainer **out)
{
    *out = NULL;
    drift_trainer *t = calloc(1, sizeof *t);
    if (!t) return drift_error(DRIFT_ENOMEM, "out of memory");
    drift_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    int st = DRIFT_OK;
    t->cfg = *cfg_in;
    if (resume_path) {
        if ((st = drift_checkpoint_load(resume_path, &ck))) goto fail;
        /* the run continues as it was configured; only its length and cadences may change */
        const drift_train_config given = t->cfg;
        t->cfg = ck.cfg;
        if (given.steps != DRIFT_TRAIN_KEEP) t->cfg.steps = given.steps;
        if (given.log_every != DRIFT_TRAIN_KEEP) t->cfg.log_every = given.log_every;
        if (given.sample_every != DRIFT_TRAIN_KEEP) t->cfg.sample_every = given.sample_every;
        if (given.ckpt_every != DRIFT_TRAIN_KEEP) t->cfg.ckpt_every = given.ckpt_every;
        if (given.eval_every != DRIFT_TRAIN_KEEP) t->cfg.eval_every = given.eval_every;
        if (given.threads != DRIFT_TRAIN_KEEP) t->cfg.threads = given.threads;
        if (given.data_dir[0]) snprintf(t->cfg.data_dir, sizeof t->cfg.data_dir, "%s", given.data_dir);
        snprintf(t->cfg.out, sizeof t->cfg.out, "%s", given.out);
    }
    const drift_train_config *cfg = &t->cfg;
    if ((st = drift_train_config_check(cfg))) goto fail;
    drift_set_threads(cfg->threads);
    {
        drift_ctx_options co;
        drift_ctx_options_init(&co);
        co.threads = cfg->threads;
        if ((st = drift_ctx_create(&co, &t->ctx))) goto fail;
    }

    drift_dataset_opts dopts = {.split = "train", .data_dir = cfg->data_dir[0] ? cfg->data_dir : NULL,
                                .labels_path = cfg->labels[0] ? cfg->labels : NULL, .n = 0, .seed = cfg->seed};
    if ((st = drift_dataset_open(cfg->data, &dopts, &t->data))) goto fail;
    const drift_dataset *d = &t->data;
    if (d->h > 0) {
        /* image generators end in tanh and grids map [-1, 1] to black..white: float images in
         * 0..255 would train to nothing and show white. Refused, not guessed at ([0, 1] passes). */
        for (size_t i = 0; i < (size_t)d->n * (size_t)d->dim; i++)
            if (fabsf(d->x[i]) > 1.5f) {
                st = drift_error(DRIFT_EINVAL, "%s: images must hold pixels in drift's range [-1, 1] (row %lld has %g): "
                                               "save uint8 pixels 0..255 (np.uint8) or scale floats to [-1, 1]; "
                                               "reshape to (n, D) to train on them as vectors",
                                 d->name, (long long)(i / (size_t)d->dim), (double)d->x[i]);
                goto fail;
            }
    }
    if (cfg->conditional < 0) {
        /* own data (drift_train_config_defaults): class-conditional with guidance when it has
         * labels, else unconditional and without guidance (it mixes in other classes' data) */
        t->cfg.conditional = d->labels && d->n_classes > 1;
        if (!t->cfg.conditional) t->cfg.n_unc = 0, t->cfg.alpha_max = 1.0;
    }
    if (cfg->conditional && !d->labels) {
        st = drift_error(DRIFT_EINVAL, "--conditional 1 needs labels, and dataset %s has none", d->name);
        goto fail;
    }
    t->n_classes = cfg->conditional ? d->n_classes : 1;
    t->dim = d->dim;
    if (cfg->conditional) {
        if ((st = drift_class_index_build(d->labels, d->n, d->n_classes, &t->classes))) goto fail;
        for (int c = 0; c < d->n_classes; c++)
            if (t->classes.start[c + 1] - t->classes.start[c] < cfg->n_pos) {
                st = drift_error(DRIFT_EINVAL, "class %d has %lld samples, fewer than n-pos = %d", c,
                                 (long long)(t->classes.start[c + 1] - t->classes.start[c]), cfg->n_pos);
                goto fail;
            }
    }
    if (d->n < cfg->n_pos || d->n < cfg->n_unc) {
        st = drift_error(DRIFT_EINVAL, "dataset %s has %lld samples, fewer than n-pos/n-unc", d->name, (long long)d->n);
        goto fail;
    }
    /* a pool of all rows, for unconditional positives and guidance negatives */
    {
        int32_t *zeros = drift_alloc((size_t)d->n, sizeof(int32_t));
        if (!zeros) { st = DRIFT_ENOMEM; goto fail; }
        st = drift_class_index_build(zeros, d->n, 1, &t->everything);
        drift_free(zeros);
        if (st) goto fail;
    }
    t->n_groups = cfg->conditional ? (cfg->classes_per_step < t->n_classes ? cfg->classes_per_step : t->n_classes)
                                   : cfg->classes_per_step;
    t->batch = t->n_groups * cfg->n_neg;

    drift_model_config mc;
    if ((st = build_model_config(cfg, d, t->n_classes, &mc))) goto fail;
    int max_batch = t->batch > 256 ? t->batch : 256;
    if ((st = drift_model_create(&mc, max_batch, &t->model))) goto fail;
    if ((st = drift_model_init_params(t->model, cfg->seed))) goto fail;
    const size_t np = t->model->n_params;
    t->decay_mask = drift_alloc(np, 1);
    if (!t->decay_mask) { st = DRIFT_ENOMEM; goto fail; }
    if ((st = drift_model_decay_mask(t->model, t->decay_mask))) goto fail;
    if ((st = drift_adamw_init(&t->opt, np, (float)cfg->beta1, (float)cfg->beta2, 1e-8f, (float)cfg->weight_decay))) goto fail;
    if ((st = drift_ema_init(&t->ema, t->model->params, np, (float)cfg->ema_decay, 1))) goto fail;
    t->sched.base_lr = cfg->lr;
    t->sched.warmup_steps = cfg->warmup;
    t->sched.decay = strcmp(cfg->schedule, "cosine") ? DRIFT_LR_CONSTANT : DRIFT_LR_COSINE;
    t->sched.total_steps = cfg->steps > cfg->warmup ? cfg->steps : cfg->warmup + 1;
    t->sched.min_lr = 0.1 * cfg->lr;
    if ((st = drift_lr_schedule_check(&t->sched))) goto fail;

    if (resume_path) {
        if (ck.n_params != np) {
            st = drift_error(DRIFT_ESHAPE, "%s holds %zu parameters but the generator has %zu", resume_path, ck.n_params, np);
            goto fail;
        }
        memcpy(t->model->params, ck.params, np * sizeof(float));
        memcpy(t->ema.shadow, ck.ema, np * sizeof(float));
        memcpy(t->opt.m, ck.adam_m, np * sizeof(float));
        memcpy(t->opt.v, ck.adam_v, np * sizeof(float));
        t->opt.step = ck.adam_step;
        t->ema.updates = ck.ema_updates;
        t->step = ck.step;
        snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", resume_path);
        t->last_ckpt_step = ck.step;
    }

    const int64_t D = t->dim, B = t->batch;
    t->noise = drift_alloc((size_t)(B * t->model->in_dim), sizeof(float)); /* noise per row */
    t->alpha = drift_alloc((size_t)B, sizeof(float));
    t->labels = drift_alloc((size_t)B, sizeof(int));
    t->x = drift_alloc((size_t)(B * D), sizeof(float));
    t->grad = drift_alloc((size_t)(B * D), sizeof(float));
    t->pos = drift_alloc((size_t)(t->n_groups * cfg->n_pos * D), sizeof(float));
    t->unc = drift_alloc((size_t)(t->n_groups * (cfg->n_unc + 1) * D), sizeof(float));
    int64_t nidx = cfg->n_pos > cfg->n_unc ? cfg->n_pos : cfg->n_unc;
    t->idx = drift_alloc((size_t)(nidx + 1), sizeof(int64_t));
    t->group_class = drift_alloc((size_t)t->n_groups, sizeof(int));
    t->group_alpha = drift_alloc((size_t)t->n_groups, sizeof(double));
    t->groups = drift_alloc((size_t)t->n_groups, sizeof(drift_class_group));
    t->saved = drift_alloc(np, sizeof(float));
    t->saved_m = drift_alloc(np, sizeof(float));
    t->saved_v = drift_alloc(np, sizeof(float));
    t->all_rows = drift_alloc((size_t)(t->n_classes > 0 ? t->n_classes : 1), sizeof(int));
    if (!t->noise || !t->alpha || !t->labels || !t->x || !t->grad || !t->pos || !t->unc || !t->idx ||
        !t->group_class || !t->group_alpha || !t->groups || !t->saved || !t->saved_m || !t->saved_v || !t->all_rows) {
        st = drift_error(DRIFT_ENOMEM, "out of memory allocating the training buffers");
        goto fail;
    }
    if ((st = drift_mkdir_p(cfg->out))) goto fail;
    t->features_on = strcmp(cfg->features, "none") != 0;
    drift_trainer_set_comm(t, NULL);
    drift_checkpoint_free(&ck);
    *out = t;
    return DRIFT_OK;
fail:
    drift_checkpoint_free(&ck);
    drift_trainer_free(t);
    return st;
}

/* Classes and guidance scales of a step, from the step's own streams. */
static void pick_groups(drift_trainer *t, int64_t step)
{
    const drift_train_config *cfg = &t->cfg;
    drift_rng r;
    drift_rng_init(&r, cfg->seed, DRIFT_STREAM(step, STREAM_CLASSES));
    if (cfg->conditional) {
        for (int c = 0; c < t->n_classes; c++) t->all_rows[c] = c;
        if (t->n_groups < t->n_classes) drift_rng_shuffle(&r, t->all_rows, (size_t)t->n_classes);
        for (int g = 0; g < t->n_groups; g++) t->group_class[g] = t->all_rows[g];
    } else {
        for (int g = 0; g < t->n_groups; g++) t->group_class[g] = -1;
    }
    drift_rng_init(&r, cfg->seed, DRIFT_STREAM(step, STREAM_ALPHA));
    for (int g = 0; g < t->n_groups; g++)
        t->group_alpha[g] = cfg->alpha_max > 1.0 ? drift_guidance_sample_alpha(drift_rng_uniform(&r), cfg->alpha_max) : 1.0;
}

int drift_trainer_set_comm(drift_trainer *t, drift_comm *comm)
{
    t->comm = comm ? comm : drift_comm_serial();
    const int64_t k = drift_comm_size(t->comm), r = drift_comm_rank(t->comm);
    /* contiguous blocks of groups: with N_c < K some ranks have none (they still sum) */
    t->g0 = (int)(t->n_groups * r / k);
    t->g1 = (int)(t->n_groups * (r + 1) / k);
    return DRIFT_OK;
}

/* The encoder's messages (it may be trained first: minutes) reach the caller's reporter. */
static void encoder_log(void *ctx, const char *line)
{
    drift_trainer *t = ctx;
    if (!t->report) return;
    drift_step_info z;
    memset(&z, 0, sizeof z);
    z.step = t->step;
    t->report(t->report_ctx, &z, t->cfg.steps, line);
}

/* --features: load (or train and cache, for auto) the frozen encoder, check it is the run's,
 * size it for a step, and build the keys. */
int trainer_open_encoder(drift_trainer *t)
{
    if (t->encoder) return DRIFT_OK;
    drift_train_config *cfg = &t->cfg;
    if (t->g1 <= t->g0)
        return drift_error(DRIFT_EINVAL, "--features over %d ranks needs a class group on every rank (classes-per-step "
                                         ">= ranks; this step has %d)", drift_comm_size(t->comm), t->n_groups);
    const int autoenc = !strcmp(cfg->features, "auto");
    drift_encoder_get_opts o;
    memset(&o, 0, sizeof o);
    o.dataset = cfg->data;
    o.data_dir = cfg->data_dir[0] ? cfg->data_dir : NULL;
    o.path = autoenc ? NULL : cfg->features;
    o.train_if_missing = autoenc;
    o.log = encoder_log;
    o.log_ctx = t;
    int st = drift_encoder_get(&o, &t->encoder);
    if (st) return drift_error_context(st, "--features %s", cfg->features);
    if (cfg->feature_hash[0] && strcmp(cfg->feature_hash, t->encoder->hash))
        return drift_error(DRIFT_EINVAL, "this run was trained with the encoder %s, and --features %s is %s, another "
                                         "one: resume with the run's encoder file, or start a new run",
                           cfg->feature_hash, cfg->features, t->encoder->hash);
    snprintf(cfg->feature_hash, sizeof cfg->feature_hash, "%s", t->encoder->hash);
    if (t->encoder->model->in_dim != t->dim)
        return drift_error(DRIFT_ESHAPE, "the encoder takes %d values per image and the data has %lld",
                           t->encoder->model->in_dim, (long long)t->dim);
    const int64_t fixed = t->n_groups * (int64_t)(cfg->n_pos + cfg->n_unc);
    if ((st = drift_encoder_resize(t->encoder, (int)(t->batch > fixed ? t->batch : fixed)))) return st;
    int nm = drift_model_feature_maps(t->encoder->model, t->maps, 16);
    if (nm < 0) return nm;
    int nk = 0;
    if ((st = drift_feature_keys_build(cfg->feature_keys, t->maps, nm, t->dim, t->keys, DRIFT_MAX_FEATURE_KEYS, &nk)))
        return drift_error_context(st, "--feature-keys");
    drift_feature_loss_config *f = &t->fcfg;
    memset(f, 0, sizeof *f);
    f->release.n_r = cfg->field.n_tau;
    for (int i = 0; i < cfg->field.n_tau; i++) f->release.r[i] = cfg->field.tau[i];
    f->release.floor = cfg->field.deng_floor;
    f->release.drop_zero = !cfg->keep_zero_neg;
    f->scope_group = !strcmp(cfg->feature_scope, "group");
    f->keys = t->keys;
    f->n_keys = nk;
    f->maps = t->maps;
    f->n_maps = nm;
    f->comm = t->comm;
    f->step_groups = t->n_groups;
    return DRIFT_OK;
}

int drift_trainer_step(drift_trainer *t, drift_step_info *info)
{
    const drift_train_config *cfg = &t->cfg;
    const int64_t step = t->step, D = t->dim, B = t->batch, ng = t->n_groups;
    /* this rank's share: groups [g0, g1), generated rows [r0, r0 + nloc) (all of them alone) */
    const int64_t g0 = t->g0, g1 = t->g1, r0 = g0 * cfg->n_neg, nloc = (g1 - g0) * cfg->n_neg;
    double t0 = drift_now(), comm0 = drift_comm_seconds(t->comm);
    int st;
    pick_groups(t, step);
    drift_rng r;
    /* the whole step's noise on every rank (one sequential stream), each using its rows: the
     * noise of a row does not depend on the number of ranks */
    drift_rng_init(&r, cfg->seed, DRIFT_STREAM(step, STREAM_NOISE));
    drift_rng_fill_normal(&r, t->noise, (size_t)(B * t->model->in_dim), 0.f, 1.f);
    for (int64_t g = 0; g < ng; g++)
        for (int64_t i = 0; i < cfg->n_neg; i++) {
            t->labels[g * cfg->n_neg + i] = cfg->conditional ? t->group_class[g] : 0;
            t->alpha[g * cfg->n_neg + i] = (float)t->group_alpha[g];
        }
    if (nloc > 0 && (st = drift_model_forward(t->model, t->noise + r0 * t->model->in_dim,
                                              cfg->conditional ? t->labels + r0 : NULL,
                                              t->model->cfg.use_alpha ? t->alpha + r0 : NULL, (int)nloc, t->x + r0 * D)))
        return drift_error_context(st, "generator forward at step %lld", (long long)step);

    /* positives and guidance negatives of each group (of this rank) */
    for (int64_t g = g0; g < g1; g++) {
        const int c = t->group_class[g];
        drift_rng_init(&r, cfg->seed, DRIFT_STREAM(step, STREAM_POS + g));
        st = c >= 0 ? drift_class_sample(&t->classes, c, cfg->n_pos, &r, t->idx)
                    : drift_class_sample(&t->everything, 0, cfg->n_pos, &r, t->idx);
        if (!st) st = drift_dataset_gather(&t->data, t->idx, cfg->n_pos, t->pos + g * cfg->n_pos * D, NULL);
        if (st) return st;
        drift_class_group *G = &t->groups[g];
        G->n_gen = cfg->n_neg;
        G->n_pos = cfg->n_pos;
        G->pos = t->pos + g * cfg->n_pos * D;
        G->n_unc = 0;
        G->unc = NULL;
        G->unc_weight = 0;
        double w = drift_guidance_weight(t->group_alpha[g], cfg->n_neg, cfg->n_unc);
        /* the feature loss keeps a rectangular batch: negatives at every α (weight 0 at α = 1) */
        if (cfg->n_unc > 0 && (w > 0 || t->features_on)) {
            drift_rng_init(&r, cfg->seed, DRIFT_STREAM(step, STREAM_UNC) + (uint64_t)g * 0x10000ull);
            if ((st = drift_class_sample(&t->everything, 0, cfg->n_unc, &r, t->idx))) return st;
            float *u = t->unc + g * (cfg->n_unc + 1) * D;
            if ((st = drift_dataset_gather(&t->data, t->idx, cfg->n_unc, u, NULL))) return st;
            G->n_unc = cfg->n_unc;
            G->unc = u;
            G->unc_weight = (float)w;
        }
    }
    drift_step_info local;
    memset(&local, 0, sizeof local);
    /* the loss of this rank's groups, normalized by the whole step's rows; its statistics, a
     * non-finite flag and the stop flags summed over ranks, so every rank decides alike */
    const double loss_t0 = drift_now();
    if (t->features_on) {
        /* this rank's groups; the loss sums its step-wide scalars and statistics over the ranks */
        if ((st = trainer_open_encoder(t))) return st;
        if ((st = drift_feature_loss(&t->fcfg, t->encoder->model, t->x + r0 * D, D, t->groups + g0, (int)(g1 - g0),
                                     t->grad + r0 * D, &local.stats, t->key_stats)))
            return drift_error_context(st, "step %lld", (long long)step);
        double stop = t->stop && *t->stop;
        if ((st = drift_comm_allreduce_sum_f64(t->comm, &stop, 1))) return st;
        t->stop_all = stop > 0;
    } else {
        double sums[LOSS_SUM_N + 2] = {0};
        if (nloc > 0 && (st = drift_loss_partial(t->ctx, &cfg->field, cfg->objective, t->x + r0 * D, D, t->groups + g0,
                                                 (int)(g1 - g0), B, (int)ng, t->grad + r0 * D, sums)))
            return drift_error_context(st, "step %lld", (long long)step);
        sums[LOSS_SUM_N] = nloc > 0 && !drift_all_finite_f32(t->grad + r0 * D, (size_t)(nloc * D));
        sums[LOSS_SUM_N + 1] = t->stop && *t->stop;
        if ((st = drift_comm_allreduce_sum_f64(t->comm, sums, LOSS_SUM_N + 2))) return st;
        drift_loss_finish(sums, cfg->field.n_tau, B, &local.stats);
        t->stop_all = sums[LOSS_SUM_N + 1] > 0;
        if (!isfinite(local.stats.loss) || sums[LOSS_SUM_N] > 0)
            return drift_error(DRIFT_ENUMERIC, "step %lld: the loss or its gradient is not finite", (long long)step);
    }

    local.loss_seconds = drift_now() - loss_t0;
    drift_model_zero_grad(t->model);
    if (nloc > 0 && (st = drift_model_backward(t->model, t->grad + r0 * D))) return st;
    const size_t np = t->model->n_params;
    /* one sum of the flat gradient buffer over ranks (a no-op alone) */
    if ((st = drift_comm_allreduce_sum_f32(t->comm, t->model->grads, np))) return st;
    if ((st = drift_clip_grad_norm(t->model->grads, np, (float)cfg->grad_clip, &local.grad_norm)))
        return drift_error_context(st, "step %lld: the gradient is not finite", (long long)step);
    local.lr = drift_lr_at(&t->sched, step);
    /* the state before the update, to be put back whole if it diverges: weights, moments, count */
    memcpy(t->saved, t->model->params, np * sizeof(float));
    memcpy(t->saved_m, t->opt.m, np * sizeof(float));
    memcpy(t->saved_v, t->opt.v, np * sizeof(float));
    const int64_t saved_opt_step = t->opt.step;
    if ((st = drift_adamw_step(&t->opt, t->model->params, t->model->grads, (float)local.lr, t->decay_mask))) return st;
    if (!drift_all_finite_f32(t->model->params, np) || !drift_all_finite_f32(t->opt.m, np) ||
        !drift_all_finite_f32(t->opt.v, np)) {
        memcpy(t->model->params, t->saved, np * sizeof(float)); /* keep the last good state */
        memcpy(t->opt.m, t->saved_m, np * sizeof(float));
        memcpy(t->opt.v, t->saved_v, np * sizeof(float));
        t->opt.step = saved_opt_step;
        return drift_error(DRIFT_ENUMERIC, "step %lld: the weights became non-finite (lower --lr?)", (long long)step);
    }
    drift_ema_update(&t->ema, t->model->params);
    t->step++;
    local.step = t->step;
    local.seconds = drift_now() - t0;
    local.comm_seconds = drift_comm_seconds(t->comm) - comm0;
    if (info) *info = local;
    return DRIFT_OK;
}

int drift_trainer_save(drift_trainer *t, const char *path)
{
    drift_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    ck.cfg = t->cfg;
    int st = drift_model_config_format(&t->model->cfg, ck.model_config, sizeof ck.model_config);
    if (st) return st;
    ck.h = t->data.h;
    ck.w = t->data.h ? t->data.w : (int)t->data.dim;
    ck.c = t->data.c;
    ck.n_classes = t->cfg.conditional ? t->n_classes : 0;
    ck.step = t->step;
    ck.adam_step = t->opt.step;
    ck.ema_updates = t->ema.updates;
    ck.n_params = t->model->n_params;
    ck.params = t->model->params;
    ck.ema = t->ema.shadow;
    ck.adam_m = t->opt.m;
    ck.adam_v = t->opt.v;
    int rc = drift_checkpoint_save(path, &ck);
    if (rc == DRIFT_OK) {
        snprintf(t->last_ckpt, sizeof t->last_ckpt, "%s", path);
        t->last_ckpt_step = t->step;
    }
    return rc;
}

const char *drift_trainer_last_checkpoint(const drift_trainer *t, int64_t *step)
{
    if (!t->last_ckpt[0]) return NULL;
    if (step) *step = t->last_ckpt_step;
    return t->last_ckpt;
}

void drift_trainer_set_stop_flag(drift_trainer *t, const volatile sig_atomic_t *flag) { t->stop = flag; }
