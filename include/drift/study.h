/* drift/study.h — sweeps of ordinary training runs: plans, cells, locks and result tables.
 *
 * A plan (JSON, docs/STUDY.md) names a base configuration — any `drift train` option — and
 * axes to vary; its cells are the full cross product of the axes (the first axis varies
 * slowest) followed by an optional explicit list of cells:
 *
 *   {"name": "small",
 *    "base": {"data": "fashion-mnist", "preset": "quick", "steps": 300},
 *    "axes": {"seed": [0, 1, 2],
 *             "variant": [{"label": "deng", "family": "deng"},
 *                         {"label": "sharp", "family": "sharp", "objective": "potential"}]},
 *    "cells": [{"label": "one-tau", "tau": "0.05"}],
 *    "eval": {"n": 10000}}
 *
 * An axis value is a scalar (the axis is then a train option, and the value its setting) or an
 * object of train options with an optional "label" (a bundle set together). Each cell is an
 * ordinary `drift train` run directory "<study>/<cell>/run"; the cell's name is made from its
 * axis labels ("seed=0,variant=sharp"). This module only describes and bookkeeps: it builds
 * and checks every cell's configuration before anything runs, says which cells are done,
 * takes and releases the per-cell lock files that let several processes (on several machines
 * sharing the study directory) work through one study, and writes the aggregate tables and
 * figures. Running the cells is the caller's business (`drift study` runs `drift train`,
 * `drift sample` and `drift eval` as child processes).
 */
#ifndef DRIFT_STUDY_H
#define DRIFT_STUDY_H

#include <stdint.h>

#include "drift/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DRIFT_STUDY_MAX_AXES 16
#define DRIFT_STUDY_MAX_CELLS 4096

/* One cell: its name (a directory name), its position on each axis and its train options. */
typedef struct drift_study_cell {
    char name[256];                 /* "seed=0,variant=sharp" (explicit cells: "cell=LABEL[,seed=S]") */
    char group[256];                /* the name without the seed: cells of one group differ only in seed */
    int n_labels;
    char axis[DRIFT_STUDY_MAX_AXES][64];   /* axis names, plan order ("cell" for explicit cells) */
    char label[DRIFT_STUDY_MAX_AXES][64];  /* this cell's label on each axis */
    int n_opts;                     /* train options, base first then the axes' (later ones win) */
    char **keys, **vals;
    drift_train_config cfg;         /* the configuration those options give (out = <dir>/<name>/run) */
} drift_study_cell;

typedef struct drift_study_plan {
    char name[128];
    char description[1024];
    int64_t eval_n;                 /* samples drawn and scored per cell (default 10000) */
    uint64_t eval_seed;             /* noise seed of those samples (default 0) */
    int grid_per_class;             /* sample-row figure: samples per class (default 1: one row of classes) */
    int n_cells;
    drift_study_cell *cells;
    char dir[1024];                 /* the study directory the cells' run paths point into */
} drift_study_plan;

/* Parses a plan and builds every cell under study directory `dir` (each cell's config is made
 * with drift_train_config_defaults/set/check, so a misspelt option or bad value in any cell is
 * DRIFT_EINVAL naming the cell, before anything runs). `name` prefixes error messages. The
 * options "out" and "resume" belong to the study and are refused in a plan. */
int drift_study_plan_parse(const char *text, size_t len, const char *name, const char *dir,
                           drift_study_plan **out);
int drift_study_plan_load(const char *path, const char *dir, drift_study_plan **out);
void drift_study_plan_free(drift_study_plan *p);

/* Where a cell stands: DONE (result.json written), PARTIAL (a checkpoint: resume it), NEW. */
typedef enum { DRIFT_STUDY_NEW = 0, DRIFT_STUDY_PARTIAL, DRIFT_STUDY_DONE } drift_study_state;
drift_study_state drift_study_cell_state(const drift_study_plan *p, int i);

/* Paths inside a cell: "<dir>/<cell>/<file>" (file NULL: the cell directory). Returns 0, or
 * DRIFT_EINVAL when it does not fit. */
int drift_study_cell_path(const drift_study_plan *p, int i, const char *file, char *buf, size_t size);

/* Creates the study and cell directories and writes "<cell>/cell.json" (the cell's options);
 * a cell.json that exists with other options is DRIFT_EINVAL ("the plan changed"): a study
 * directory belongs to one plan's cells, and a changed cell needs a new name or directory. */
int drift_study_prepare(const drift_study_plan *p);

/* The lock of one cell: "<cell>/lock", created with O_EXCL and holding "host pid unix-time".
 * Returns 0 when this process now holds it, 1 when another live process does (holder, when
 * not NULL, gets "host:pid"), or a negative status. A lock of this host whose pid is no longer
 * running is stale and reclaimed (under an flock of the old file, so that two reclaimers
 * cannot remove each other's fresh lock); a lock of another host is never reclaimed: remove
 * it by hand when that machine is gone. */
int drift_study_lock(const drift_study_plan *p, int i, char *holder, size_t holder_size);
/* Removes the lock if it is this process's. */
void drift_study_unlock(const drift_study_plan *p, int i);

/* The last "step" logged in a run's metrics.jsonl (0 when there is none). */
int64_t drift_study_last_step(const char *metrics_path);

/* Keeps the first 10 × grid_per_class samples of a cell's samples file (for a conditional
 * generator sampled without --class: classes 0..9 in turn) as "<cell>/row.npy", the cell's row
 * in rows.png, so the full samples file need not be kept. */
int drift_study_save_row(const drift_study_plan *p, int i, const char *samples_path);

/* Writes "<cell>/result.json" atomically from the eval JSON text (drift eval --json) and
 * what the runner measured: {"cell", "group", "seed", "steps", "train_seconds",
 * "eval_seconds", "host", "eval": {...}}. Its presence marks the cell DONE. */
int drift_study_write_result(const drift_study_plan *p, int i, const char *eval_json, double train_seconds,
                             double eval_seconds, const char *host);
/* A cell whose run failed for a reason of its own (the trainer stopped on a non-finite loss, a
 * sampler or evaluator refused its samples): result.json with "failed": reason and no metrics.
 * It counts as finished (a rerun skips it; drift study --retry-failed runs it again) and the
 * tables show it as failed: a variant that cannot train is a result too. */
int drift_study_write_failure(const drift_study_plan *p, int i, const char *reason, double train_seconds,
                              const char *host);
/* Whether a finished cell's result.json records a failure (0 when not, or not finished). */
int drift_study_cell_failed(const drift_study_plan *p, int i);

/* Reads every cell's result and writes into the study directory: results.json (per cell and
 * per group: mean, sd and n over seeds of each metric), results.md (the same as Markdown
 * tables, "mean ± sd"), fid.svg/png (FID at each evaluation logged in metrics.jsonl, one line per
 * cell; image data only), fid_groups.svg/png (the same averaged over each group's seeds) and rows.png (one row of samples per cell, the first
 * grid_per_class × n_classes samples of "<cell>/row.npy", labelled; image data only). Cells
 * without a result are listed as pending. *n_done, when not NULL, gets the finished cells. */
int drift_study_aggregate(const drift_study_plan *p, int *n_done);

#ifdef __cplusplus
}
#endif
#endif
