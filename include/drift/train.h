/* drift/train.h — training one-step generators with drift fields (SPEC §4, §7).
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

/* Guidance (SPEC §7): for a sampled α ≥ 1 and N_neg generated, N_unc unconditional negatives,
 * the kernel weight w of each unconditional negative with α = ((N_neg−1) + N_unc·w)/(N_neg−1). */
double drift_guidance_weight(double alpha, int64_t n_neg, int64_t n_unc);
/* α ∈ [1, alpha_max] with density ∝ α^−3, by inverting its CDF at u ∈ [0, 1). */
double drift_guidance_sample_alpha(double u, double alpha_max);

#ifdef __cplusplus
}
#endif
#endif
