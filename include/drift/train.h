/* drift/train.h — training one-step generators with drift fields (docs/MATH.md §4, §7).
 *
 * Two layers:
 *   drift_drift_loss     the objective of one step given the generated samples of each class
 *                        group, their positives and guidance negatives: loss value, dL/dx,
 *                        and the statistics people need to see progress (|V|, per-temperature
 *                        norms, sample diversity). No network involved: testable on its own.
 *   drift_trainer        the loop: data, generator, AdamW + EMA, per-step batching by class,
 *                        guidance, logging, sample grids, checkpoints, resume (trainer.c).
 */
#ifndef DRIFT_TRAIN_H
#define DRIFT_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "drift/field.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DRIFT_OBJECTIVE_DRIFT = 0, /* L = mean ‖x − sg(x + V)‖² / D  → dL/dx = −2V/(s²·D·B) */
    DRIFT_OBJECTIVE_POTENTIAL, /* L = mean [log q̂ − log p̂] = −mean Φ  → dL/dx = −V/B  (conservative only) */
} drift_objective;

int drift_objective_parse(const char *s, drift_objective *out);
const char *drift_objective_name(drift_objective o);

/* One class group of a step: the generated rows of class c (their field is computed
 * against each other: negatives are the group itself, self-masked), the class's positives,
 * and optional unconditional data joining the negatives with weight unc_weight (guidance). */
typedef struct drift_class_group {
    int64_t n_gen;            /* generated rows in this group (consecutive in x / grad) */
    int64_t n_pos;
    const float *pos;         /* n_pos × D */
    int64_t n_unc;
    const float *unc;         /* n_unc × D, may be NULL when n_unc == 0 */
    float unc_weight;         /* kernel weight of each unconditional negative */
} drift_class_group;

typedef struct drift_loss_stats {
    double loss;              /* the objective's value (mean over the batch) */
    double v_rms;             /* raw field size in data units, sqrt(mean ‖V_i‖²/D): of the summed field
                                 without drift normalization, sqrt(Σ_τ tau_rms²) with it */
    double tau_rms[DRIFT_MAX_TAU]; /* per temperature, averaged over groups */
    double feature_scale;     /* mean s over groups (1 without feature normalization) */
    double gen_spread;        /* mean pairwise distance among generated rows of a group */
    double pos_spread;        /* the same among positives */
    double diversity;         /* gen_spread / pos_spread: ≈ 1 healthy, → 0 mode collapse */
    double dup_frac;          /* fraction of generated rows whose nearest generated neighbour is
                                 closer than 1% of pos_spread: near-copies */
} drift_loss_stats;

/* x: the generated batch, groups laid out one after another (Σ n_gen rows × D).
 * grad (same shape) receives dL/dx. field: the field configuration (any family; the
 * potential objective needs a conservative one). */
int drift_drift_loss(const drift_field_config *field, drift_objective obj, const float *x, int64_t d,
                     const drift_class_group *groups, int n_groups, float *grad, drift_loss_stats *stats);

/* Guidance (docs/MATH.md §7): for a sampled α ≥ 1 and N_neg generated, N_unc unconditional negatives,
 * the kernel weight w of each unconditional negative with α = ((N_neg−1) + N_unc·w)/(N_neg−1). */
double drift_guidance_weight(double alpha, int64_t n_neg, int64_t n_unc);
/* α ∈ [1, alpha_max] with density ∝ α^−3, by inverting its CDF at u ∈ [0, 1). */
double drift_guidance_sample_alpha(double u, double alpha_max);

/* ---- training configuration ------------------------------------------------------------
 * One table of named options (config.c) drives the CLI flags (--name value), their --help
 * text, and the config stored in checkpoints: a key added there is everywhere at once. */
typedef struct drift_train_config {
    char data[512];            /* dataset: fashion-mnist | mnist | a toy name | a .npy path */
    char data_dir[512];        /* where fashion-mnist / mnist live ("" = default search) */
    char labels[512];          /* labels .npy for an .npy dataset ("" = none) */
    char model[16];            /* generator: mlp | conv | dit | dit-t | dit-s */
    int noise_dim;             /* dimension of the noise input */
    int width;                 /* mlp: hidden width; conv: base channels */
    int depth;                 /* mlp: hidden layers; conv: blocks per resolution */
    int conditional;           /* class-conditional (needs labels) */
    drift_field_config field;  /* the drift field of the loss */
    drift_objective objective;
    int classes_per_step;      /* N_c: class groups per step (all classes when ≥ n_classes) */
    int n_pos;                 /* N_pos: positives per class group */
    int n_neg;                 /* N_neg: generated samples per class group */
    int n_unc;                 /* N_unc: unconditional data among the negatives (guidance) */
    double alpha_max;          /* guidance α drawn from [1, alpha_max] ∝ α^−3; 1 = off */
    double lr, beta1, beta2, weight_decay, grad_clip, ema_decay;
    int warmup;                /* linear warm-up steps */
    char schedule[16];         /* constant | cosine */
    int64_t steps;
    int log_every, sample_every, ckpt_every, eval_every, eval_n;
    uint64_t seed;
    int threads;
    char out[512];             /* run directory */
    /* feature-space drifting (drift/features.h, docs/TRAINING.md) */
    char features[512];        /* none (pixels) | auto (the dataset's cached encoder) | an encoder file */
    char feature_keys[256];    /* key spec (drift_feature_keys_build) */
    char feature_scope[8];     /* step (one scale and λ per step, the release) | group */
    int keep_zero_neg;         /* unconditional negatives of weight 0 stay in the softmaxes (the release) */
    char feature_hash[40];     /* the encoder's content hash, recorded by the run; a resume refuses another */
} drift_train_config;

/* Defaults for a dataset name and preset ("default" or "quick"): image datasets get the conv
 * generator and the released deng recipe, toys the docs/MATH.md §7 toy demo. */
int drift_train_config_defaults(drift_train_config *cfg, const char *data, const char *preset);
/* Set one option from text ("lr", "2e-4"); unknown keys and bad values are DRIFT_EINVAL. */
int drift_train_config_set(drift_train_config *cfg, const char *key, const char *value);
/* The value of an option as text. */
int drift_train_config_get(const drift_train_config *cfg, const char *key, char *buf, size_t size);
/* Consistency checks across options (after all sets). */
int drift_train_config_check(const drift_train_config *cfg);
/* The whole configuration as one JSON object, every option under its name (numbers as numbers,
 * on/off options as true/false, tau as an array): a run's config.json and `drift info CKPT`. */
struct drift_jsonw;
struct drift_json;
int drift_train_config_write_json(const drift_train_config *cfg, struct drift_jsonw *w);
/* Set the options named in a JSON object (such a config.json or a hand-written subset; `n_pos`
 * and `n-pos` are the same key; "preset" is skipped: it chooses the defaults the caller starts
 * from). Unknown keys and bad values are DRIFT_EINVAL, prefixed with `name` (the file). */
int drift_train_config_apply_json(drift_train_config *cfg, const struct drift_json *obj, const char *name);
/* 1 when the option is an on/off one (0|1; yes|no, true|false, on|off are aliases). */
int drift_train_option_is_bool(const char *key);
/* The option table, for --help: names, value placeholders and help texts. */
typedef struct drift_train_option {
    const char *key, *meta, *help;
} drift_train_option;
const drift_train_option *drift_train_options(int *count);

/* ---- checkpoints ---------------------------------------------------------------------------
 * A safetensors file: tensors "params", "ema", "adam.m", "adam.v" (float32, n_params each) and
 * "state" (int64: step, adam step, ema updates, seed); metadata "format" = "drift-checkpoint-1",
 * "model" (the generator's description) and "config.<key>" for every training option. The
 * random state is (seed, step): every step draws from counter-based streams keyed by its index,
 * so nothing else is needed to continue a run exactly. Written atomically (temp + rename). */
typedef struct drift_checkpoint {
    drift_train_config cfg;
    char model_config[1024];   /* drift_model_config_format text: enough to rebuild the generator */
    int h, w, c, n_classes;    /* sample shape (h = 0: not an image, D = w) and classes (0: none) */
    int64_t step, adam_step, ema_updates;
    size_t n_params;
    float *params, *ema, *adam_m, *adam_v;
} drift_checkpoint;

int drift_checkpoint_save(const char *path, const drift_checkpoint *ck);
/* Loads and validates (format, sizes, config keys); allocates the arrays. */
int drift_checkpoint_load(const char *path, drift_checkpoint *out);
void drift_checkpoint_free(drift_checkpoint *ck);

/* ---- the training loop ----------------------------------------------------------------- */
typedef struct drift_trainer drift_trainer;

/* What one step did, for logs and progress lines. */
typedef struct drift_step_info {
    int64_t step;              /* steps done after this one */
    drift_loss_stats stats;
    double grad_norm;          /* before clipping */
    double lr;
    double seconds;            /* wall time of the step */
    double comm_seconds;       /* of which in the ranks' sums (drift_trainer_set_comm; 0 alone) */
    double loss_seconds;       /* of which in the loss: the fields (and with --features the encoder's
                                  forward and input-gradient passes); the rest is mostly the generator */
} drift_step_info;

/* Loads the data, builds the generator and optimizer. With resume_path, the state and the
 * config come from that checkpoint, except what may change between sessions of one run:
 * `steps` (to extend it), the cadences (log/sample/ckpt/eval_every), `threads`, `out` and
 * `data_dir`. Each of those set to DRIFT_TRAIN_KEEP (data_dir: empty) keeps the checkpoint's. */
#define DRIFT_TRAIN_KEEP (-2147483647 - 1)
int drift_trainer_create(const drift_train_config *cfg, const char *resume_path, drift_trainer **out);
/* Fine-tuning: a new run (step 0, fresh AdamW moments and schedule, its own options) that starts
 * from the weights and EMA weights of a checkpoint of the same generator (same model description
 * and parameter count: DRIFT_ESHAPE otherwise). Call after drift_trainer_create without resume,
 * before the first step. */
int drift_trainer_init_from(drift_trainer *t, const char *ckpt_path);
/* The configuration the trainer runs with (after a resume: the checkpoint's, merged as above). */
const drift_train_config *drift_trainer_config(const drift_trainer *t);
/* One optimization step. A non-finite loss, field or gradient is DRIFT_ENUMERIC and leaves
 * the weights as they were before the step. */
int drift_trainer_step(drift_trainer *t, drift_step_info *info);
/* The whole run: steps with progress on stderr, metrics.jsonl, loss plot, sample grids and
 * checkpoints in cfg->out: checkpoint.safetensors (the last state) and best.safetensors (the
 * state of the best evaluation so far: lowest FID for images, lowest MMD² for toy data; kept
 * across a resume), both written atomically, and config.json (the resolved configuration,
 * drift_train_config_write_json). Stops at cfg->steps, at the stop flag, or on the first error (the
 * last checkpoint written stays; on a step that both checkpoints and writes samples, plots or
 * metrics, the checkpoint is written first, so a failing output cannot cost it). */
int drift_trainer_run(drift_trainer *t);
/* Writes a checkpoint of the current state (atomically) and remembers it as the run's last one. */
int drift_trainer_save(drift_trainer *t, const char *path);
/* The last checkpoint this run wrote (drift_trainer_save), or else the one it resumed from, with
 * its step in *step; NULL when there is none (a run that stopped before its first checkpoint).
 * A run directory may hold an older run's checkpoint: only this says what this run left. */
const char *drift_trainer_last_checkpoint(const drift_trainer *t, int64_t *step);
/* A flag (set by the caller's SIGINT/SIGTERM handler, which should do nothing else) that
 * drift_trainer_run checks between steps: when it is non-zero the run writes a checkpoint of the
 * steps done so far, closes its files and returns DRIFT_OK early (steps_done < steps). NULL: none. */
void drift_trainer_set_stop_flag(drift_trainer *t, const volatile sig_atomic_t *flag);
/* Data-parallel training (docs/SCALE.md): with a communicator of K ranks (drift/comm.h), each
 * rank generates, computes the fields of and back-propagates its block of every step's class
 * groups (rank r: groups [r·N_c/K, (r+1)·N_c/K)); dL/dx is normalized by the whole step's rows,
 * and the parameter gradient is summed over ranks in one allreduce, so every rank takes the
 * same AdamW step and K ranks train the same weights as one process (up to the order of the
 * sums). The step's plan (classes, α, noise, positives) does not depend on K: a checkpoint
 * resumes with any K. Every rank must create its trainer from the same configuration, set the
 * comm before its first step and call drift_trainer_step / drift_trainer_run in lockstep. In
 * drift_trainer_run only rank 0 writes files (checkpoints, metrics, grids, evaluations); a
 * stop flag seen by any rank stops all of them after the same step. A rank whose step or run
 * fails must end the others (drift_comm_abort): they would wait for it. NULL: serial (the default). */
struct drift_comm;
int drift_trainer_set_comm(drift_trainer *t, struct drift_comm *comm);
/* Who hears about progress during drift_trainer_run (the library itself prints nothing):
 * called after every step with what it did, and with a one-line message (`note`, else NULL)
 * when something worth saying happened (an evaluation, a checkpoint, a sample grid, a
 * warning such as a collapsing diversity). */
typedef void (*drift_train_reporter)(void *ctx, const drift_step_info *info, int64_t total_steps, const char *note);
void drift_trainer_set_reporter(drift_trainer *t, drift_train_reporter fn, void *ctx);
/* Write a sample grid now (PNG: one row per class for conditional image models, a scatter of
 * samples over data for 2-D data), from the EMA weights. */
int drift_trainer_write_samples(drift_trainer *t, const char *path);
/* The layout of those grids for any labelled image samples (x: n images of h x w x c in
 * [-1, 1], labels in [0, n_classes)): a PNG with one row per class, row k holding the first
 * `cols` samples of class k in their order; tiles without a sample stay blank (mid gray).
 * `drift sample --grid` uses it too. */
int drift_class_grid(const char *path, const float *x, const int *labels, int64_t n, int n_classes,
                     int cols, int h, int w, int c, int scale);
int64_t drift_trainer_steps_done(const drift_trainer *t);
size_t drift_trainer_param_count(const drift_trainer *t);
const char *drift_trainer_model_description(const drift_trainer *t);
void drift_trainer_free(drift_trainer *t);

/* ---- sampling ------------------------------------------------------------------------------ */
struct drift_model;
/* Rebuilds the generator of a checkpoint with its EMA weights (use_ema) or raw weights. */
int drift_generator_load(const char *ckpt_path, int use_ema, int max_batch, struct drift_model **model,
                         drift_checkpoint *info);
/* n samples in one forward pass each (batched by the model's max batch); labels (n) or NULL
 * (unconditional, or the null class of a conditional model); alpha ≥ 1 for guided models.
 * Sample i uses noise stream (seed, i): the noise does not depend on the batch size (the outputs
 * then agree up to the rounding of differently blocked GEMMs). */
int drift_generate(struct drift_model *m, int64_t n, const int *labels, float alpha, uint64_t seed, float *out);

#ifdef __cplusplus
}
#endif
#endif
