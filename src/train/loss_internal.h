/* loss_internal.h — the drift loss over a share of a step's class groups, for data-parallel
 * training (docs/SCALE.md): each rank computes its groups' fields and dL/dx normalized by the
 * whole step's counts, the ranks sum the additive statistics, and drift_loss_finish turns the
 * sums into drift_loss_stats. drift_drift_loss is partial + finish over every group at once. */
#ifndef DRIFT_LOSS_INTERNAL_H
#define DRIFT_LOSS_INTERNAL_H

#include <stdint.h>

#include "drift/train.h"

/* The additive statistics of a share: sums over its groups (per-group means already divided by
 * the step's group count, so that summing over ranks gives the step's mean). */
enum {
    LOSS_SUM_LOSS,   /* Σ loss terms (divided by the step's rows in finish) */
    LOSS_SUM_VSQ,    /* Σ ‖V‖²/D per row */
    LOSS_SUM_DUPS,   /* near-copy rows */
    LOSS_SUM_SCALE,  /* Σ feature scale / groups */
    LOSS_SUM_GEN,    /* Σ generated spread / groups */
    LOSS_SUM_POS,    /* Σ positive spread / groups */
    LOSS_SUM_ROWS,   /* generated rows of this share */
    LOSS_SUM_TAU,    /* DRIFT_MAX_TAU slots: Σ per-temperature RMS / groups */
    LOSS_SUM_N = LOSS_SUM_TAU + DRIFT_MAX_TAU
};

/* groups: this share's n_groups groups (their rows consecutive in x and grad); step_rows and
 * step_groups: the whole step's. No finiteness check (the caller checks the summed loss). */
/* ctx: the trainer's compute context (NULL: one for the call). */
int drift_loss_partial(drift_ctx *ctx, const drift_field_config *field, drift_objective obj, const float *x, int64_t d,
                       const drift_class_group *groups, int n_groups, int64_t step_rows, int step_groups,
                       float *grad, double *sums);
void drift_loss_finish(const double *sums, int n_tau, int64_t step_rows, drift_loss_stats *stats);

/* Mean pairwise distance among n rows of x (n × d), and in *n_close (may be NULL) the rows whose
 * nearest other row is closer than `close` (near-copies): the diversity statistics. */
double loss_spread(const float *x, int64_t n, int64_t d, double close, int64_t *n_close);

#endif
