/* trainer_internal.h — the trainer's state, shared by trainer.c (steps) and run.c (the loop
 * with its outputs). */
#ifndef DRIFT_TRAINER_INTERNAL_H
#define DRIFT_TRAINER_INTERNAL_H

#include <signal.h>
#include <stdio.h>

#include "drift/comm.h"
#include "drift/data.h"
#include "drift/features.h"
#include "drift/models.h"
#include "drift/optim.h"
#include "drift/train.h"

struct drift_trainer {
    drift_train_config cfg;
    drift_dataset data;
    drift_class_index classes;     /* per class (conditional runs) */
    drift_class_index everything;  /* one class holding every row */
    int n_classes;                 /* classes of the generator (1 when unconditional) */
    int64_t dim;
    int n_groups;                  /* class groups per step */
    int64_t batch;                 /* generated rows per step */
    drift_model *model;
    drift_ctx *ctx;                /* threads and kept scratch of the step's field calls (drift/ctx.h) */
    drift_adamw opt;
    drift_ema ema;
    drift_lr_schedule sched;
    unsigned char *decay_mask;
    int64_t step;
    /* step buffers */
    float *noise, *alpha, *x, *grad, *pos, *unc, *saved;
    float *saved_m, *saved_v;      /* AdamW's moments before the step (restored with the weights) */
    /* the last checkpoint of this run: written by drift_trainer_save, or resumed from (empty: none) */
    char last_ckpt[1100];
    int64_t last_ckpt_step;
    const volatile sig_atomic_t *stop; /* non-zero: stop between steps (drift_trainer_set_stop_flag) */
    /* data parallelism (drift_trainer_set_comm, docs/SCALE.md): this rank's class groups
     * [g0, g1) of every step; stop_all: some rank's stop flag was set at the last step */
    drift_comm *comm;
    int g0, g1, stop_all;
    int *labels, *group_class, *all_rows;
    double *group_alpha;
    int64_t *idx;
    drift_class_group *groups;
    /* feature-space drifting (--features): the frozen encoder, opened on the first step */
    int features_on;
    struct drift_encoder *encoder;
    drift_feature_map maps[16];
    drift_feature_key keys[DRIFT_MAX_FEATURE_KEYS];
    drift_feature_loss_config fcfg;
    drift_feature_key_stats key_stats[DRIFT_MAX_FEATURE_KEYS]; /* the last step's, for the log */
    /* outputs (run.c) */
    drift_train_reporter report;
    void *report_ctx;
    struct drift_model *sampler;   /* a second model holding the EMA weights, for grids and evals */
    struct drift_evaluator *evaluator;
    const drift_step_info *eval_info; /* the step being evaluated, for the evaluator's log lines */
    struct drift_jsonl *metrics;   /* metrics.jsonl (drift/log.h): one write(2) per line */
    int64_t n_hist, cap_hist;
    double *hist;                  /* logged (step, loss, v_rms, diversity) rows for the plots */
};

void trainer_outputs_free(struct drift_trainer *t);
/* --features: load (or train and cache) the frozen encoder and build the keys; a no-op once done.
 * drift_trainer_run calls it before it writes anything, the first step otherwise. */
int trainer_open_encoder(struct drift_trainer *t);

#endif
