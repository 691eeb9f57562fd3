/* drift/features.h — drifting in the features of a frozen encoder: the authors' multi-key loss.
 *
 * The released recipe (lambertae/drifting: train.py, drift_loss.py, models/mae_model.py) does not
 * drift in pixels alone. It maps every image (generated, positive, unconditional negative) to a
 * set of *feature keys* and sums one released drift loss per key:
 *
 *   global        the raw image, one token of C·H·W values;
 *   <map>         every spatial location of an encoder feature map (C_l, H_l, W_l) is a token
 *                 of C_l values (H_l·W_l tokens);
 *   <map>_mean    the map's mean over all locations (one token of C_l values);
 *   <map>_std     its standard deviation sqrt(var + 1e-6);
 *   <map>_mean_s, <map>_std_s   the same over each non-overlapping s×s patch (s = 2, 4; only
 *                 where s divides H_l and W_l), (H_l/s)·(W_l/s) tokens.
 *
 * Each token of each class group is its own drift problem (the release's `(b f) x d` layout):
 * the group's generated rows against its positives and unconditional negatives, all in that
 * token's values. A key's loss is the mean over its problems; the step's loss is the sum over
 * keys; the gradient flows back through the pooling and the frozen encoder (its input gradient
 * only) into the generated images.
 *
 * drift_release_loss is drift_loss.py for B problems at once, float32 with float64 sums. Two
 * details of the release differ from drift's single-key pixel loss (src/train/loss.c), and are
 * options here with the release's behaviour as default:
 *   - scope: the feature scale S and each temperature's λ_R are ONE scalar over all B problems
 *     of the call (the release computes `.mean()` over the whole batch); `block` < B computes
 *     them per block of consecutive problems instead (drift's per-class-group rule);
 *   - unconditional negatives of weight 0 (α = 1) stay in both softmaxes with weight 0 (the
 *     trainer draws them at every α when asked; drift's pixel loss drops them).
 */
#ifndef DRIFT_FEATURES_H
#define DRIFT_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "drift/comm.h"
#include "drift/field.h"
#include "drift/models.h"
#include "drift/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the released loss, batched ---------------------------------------------------------- */
typedef struct drift_release_opts {
    int n_r;
    double r[DRIFT_MAX_TAU];  /* temperatures R (relative to the feature scale) */
    int floor;                /* affinity sqrt(max(A_row·A_col, 1e-6)) as released; 0: no floor */
    int drop_zero;            /* negatives of a problem whose weight is 0 leave both softmaxes
                                 (drift's pixel rule); 0: they stay in with weight 0 (the release) */
    /* Data-parallel steps (drift/comm.h): this rank holds B of the step's total_problems problems.
     * With block == B (the step scope) the scale's and λ's sums are summed over the ranks, and
     * the loss is the mean over total_problems (gradient scaled alike), so K ranks compute what
     * one process computes for the whole step. NULL / 0: alone. */
    struct drift_comm *comm;
    int64_t total_problems;
} drift_release_opts;

typedef struct drift_release_result {
    double loss;              /* mean over problems of mean_{i,s} (x/s − goal)²  (the key's loss) */
    double scale;             /* the feature scale S (mean over blocks) */
    double r_rms[DRIFT_MAX_TAU]; /* sqrt(f_norm) per temperature, in scaled units (mean over blocks) */
    double v_rms;             /* RMS of the summed raw field Σ_R F_R in data units (before λ) */
} drift_release_result;

/* B problems of one shape; problem b has G generated rows gen[b] (G×S), N negatives neg[b] (N×S,
 * each of weight neg_w[b]; N may be 0) and P positives pos[b] (P×S), all row-major, problem after
 * problem. block: problems sharing S and λ (B = the release; must divide B).
 * grad[b,i,s] = ∂L/∂gen with L = the mean over the B problems (the released key loss).
 * Deterministic for any thread count. */
int drift_release_loss(const drift_release_opts *o, int64_t B, int64_t block, int64_t G, int64_t N,
                       int64_t P, int64_t S, const float *gen, const float *neg, const float *neg_w,
                       const float *pos, float *grad, drift_release_result *res);

/* ---- feature keys -------------------------------------------------------------------------- */
/* Keys read the encoder's feature maps (drift_feature_map, drift/models.h). */
#define DRIFT_MAX_FEATURE_KEYS 64

typedef struct drift_feature_key {
    char name[48];            /* "global", "layer1", "layer1_mean", "conv1_std_2", ... */
    int map;                  /* index into the maps; -1 = the raw image */
    int win;                  /* pooling window: 1 = every location, 0 = the whole map, s = s×s patches */
    int std;                  /* 0: mean over the window; 1: sqrt(var + 1e-6) over it */
    int64_t tokens, dim;      /* problems per class group (F) and values per token (S) */
} drift_feature_key;

/* Builds the key list from a spec: comma-separated items, each `global` or `MAP.POOL` where MAP is
 * a map name or `*` (every map) and POOL is one of tokens, mean, std, mean2, std2, mean4, std4
 * (meanK/stdK: K×K patches). `*` skips pools whose patch does not divide a map; a named map with
 * such a pool is an error. image_dim: floats per raw image (the global key). The release's keys
 * are DRIFT_FEATURE_KEYS_RELEASE. */
#define DRIFT_FEATURE_KEYS_RELEASE "global,*.tokens,*.mean,*.std,*.mean2,*.std2,*.mean4,*.std4"
/* The trainer's default ("light"): the release's keys without the full-resolution tokens and the
 * 28×28 map's patch statistics — 154 problems per class group instead of 1624 with drift's
 * default encoder (conv1 28×28, layer1 14×14, layer2 7×7), about a tenth of the field cost
 * (docs/TRAINING.md). The spec strings "release" and "light" name these two. */
#define DRIFT_FEATURE_KEYS_LIGHT "global,*.mean,*.std,layer1.mean2,layer1.std2,layer2.tokens"
int drift_feature_keys_build(const char *spec, const drift_feature_map *maps, int n_maps, int64_t image_dim,
                             drift_feature_key *keys, int max_keys, int *n_keys);

/* Token values of one key for n rows: rows of the encoder's output (row_len floats each; the raw
 * images for the global key, row_len = image_dim) → out (n, tokens, dim). */
void drift_feature_key_forward(const drift_feature_key *k, const drift_feature_map *maps, const float *rows,
                               int64_t row_len, int64_t n, float *out);
/* Backward of drift_feature_key_forward: adds ∂L/∂rows for dout (n, tokens, dim), given the same
 * rows (std needs them). */
void drift_feature_key_backward(const drift_feature_key *k, const drift_feature_map *maps, const float *rows,
                                int64_t row_len, int64_t n, const float *dout, float *drows);

/* ---- the step's loss ----------------------------------------------------------------------- */
typedef struct drift_feature_loss_config {
    drift_release_opts release;
    int scope_group;          /* 0: S and λ over the whole step (release); 1: per class group */
    const drift_feature_key *keys;
    int n_keys;
    const drift_feature_map *maps;   /* the encoder's maps (n_maps); NULL / 0 with only the global key */
    int n_maps;
    struct drift_comm *comm;  /* data-parallel: this rank's groups of step_groups (NULL: alone) */
    int step_groups;
} drift_feature_loss_config;

typedef struct drift_feature_key_stats {
    double loss, scale;
} drift_feature_key_stats;

/* The multi-key loss of one step. encoder: the frozen encoder (drift_model_forward gives the
 * maps, drift_model_backward_input the input gradient), or NULL when every key is `global`.
 * Every group must have the same n_gen, n_pos and n_unc (the release's rectangular batch);
 * groups with n_unc > 0 use their unc_weight (0 allowed). x, grad: Σ n_gen rows × d.
 * stats: loss = Σ_keys key loss; tau_rms = per-temperature RMS of the global key (or the first
 * key); feature_scale = its S; v_rms its raw field; spreads as drift_drift_loss.
 * key_stats (optional, n_keys entries): each key's loss and scale. */
int drift_feature_loss(const drift_feature_loss_config *cfg, struct drift_model *encoder, const float *x,
                       int64_t d, const drift_class_group *groups, int n_groups, float *grad,
                       drift_loss_stats *stats, drift_feature_key_stats *key_stats);

#ifdef __cplusplus
}
#endif

#endif
