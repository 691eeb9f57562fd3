/* drift/field.h — the drift-field engine (docs/MATH.md §2–§3).
 *
 * A batch: queries X (n × d, the generated samples), positives Y⁺ (p × d, data, weights
 * w⁺ ≥ 0), negatives Y⁻ (m × d, weights w⁻). When no negatives are given, Y⁻ = X and each
 * query's own row is excluded ("self-masking"). Extra negatives (e × d, own weights) are
 * appended to Y⁻ — unconditional data for training-time guidance.
 *
 * For each temperature τ the engine computes
 *     V_τ(x) = pos_scale · F_{Y⁺}(x) − neg_scale · F_{Y⁻}(x)
 * for the chosen family F (meanshift, sharp, kdegrad, mmd; deng couples both sides through
 * a joint normalization, see docs/MATH.md §3), optionally divides it by its RMS λ_τ, and sums over τ.
 * Conservative families (sharp, kdegrad, mmd) can also return the potential Φ with ∇Φ = V.
 *
 * Two paths with one contract:
 *   drift_field_compute      float32 in/out, GEMM-shaped, blocked and threaded (the fast path);
 *   drift_field_compute_f64  float64 in/out, a plain transcription of the formulas (the reference).
 *
 * Units. Without feature normalization τ is a raw distance. With feature normalization
 * (cfg.feature_norm) distances are divided by their weighted mean μ over query–target pairs, so
 * τ is relative to μ (τ_raw = τ·μ), and the field is evaluated on inputs scaled by
 * s = μ/√d (mean pairwise distance √d, as Deng et al.); the returned V is mapped back to data
 * units (V = s·V_scaled) and s is reported in the result.
 *
 * Numerics: every normalized sum is computed with the row's largest log-weight subtracted
 * (log-sum-exp), so a row whose kernel values all underflow still gets the finite field of
 * its nearest targets; unnormalized families (mmd, deng --deng-norm none) return 0 there.
 * At extreme scales (distances ≫ τ by factors of 1e10 and more) a field is right or refused
 * with DRIFT_ENUMERIC, never quietly wrong: the fast path refuses a τ whose kernel constants do
 * not fit float32 and rows whose kernel ratios its distances cannot resolve (docs/MATH.md).
 */
#ifndef DRIFT_FIELD_H
#define DRIFT_FIELD_H

#include <stddef.h>
#include <stdint.h>

#include "drift/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DRIFT_FAMILY_DENG = 0,   /* Deng et al.'s batch algorithm (joint row/col normalization) */
    DRIFT_FAMILY_MEANSHIFT,  /* Σ wκ(y−x) / Σ wκ */
    DRIFT_FAMILY_SHARP,      /* Σ wκ(y−x) / Σ wκ#  = ∇ log Σ wκ#      (conservative) */
    DRIFT_FAMILY_KDEGRAD,    /* Σ w∇κ / Σ wκ       = ∇ log Σ wκ       (conservative) */
    DRIFT_FAMILY_MMD,        /* Σ w∇κ / Σ w        = ∇ mean κ         (conservative) */
    DRIFT_FAMILY_COUNT
} drift_family;

typedef enum {
    DRIFT_KERNEL_GAUSSIAN = 0, /* exp(−r²/2τ²) */
    DRIFT_KERNEL_LAPLACE,      /* exp(−r/τ) */
    DRIFT_KERNEL_RQ,           /* (1 + r²/(2ατ²))^(−α) */
    DRIFT_KERNEL_COUNT
} drift_kernel;

typedef enum {
    DRIFT_DENG_BOTH = 0,  /* A = K / sqrt(rowsum · colsum) */
    DRIFT_DENG_ROW,       /* A = K / rowsum (softmax over targets) */
    DRIFT_DENG_NONE,      /* A = K */
} drift_deng_norm;

#define DRIFT_MAX_TAU 16

typedef struct drift_field_config {
    drift_family family;
    drift_kernel kernel;
    double rq_alpha;            /* rq shape α (> 0; > 1 for the sharp family). Default 2. */
    int n_tau;                  /* number of temperatures, 1..DRIFT_MAX_TAU */
    double tau[DRIFT_MAX_TAU];  /* bandwidths (> 0); fields are summed over them */
    drift_deng_norm deng_norm;  /* deng only */
    double pos_scale;           /* attraction scale (default 1) */
    double neg_scale;           /* repulsion scale (default 1) */
    int feature_norm;           /* distances / weighted mean distance (docs/MATH.md §3.1 (a)) */
    int drift_norm;             /* each temperature's field divided by its RMS λ_τ (docs/MATH.md §3.1 (e)) */
    /* The authors' released deng loss (docs/MATH.md §3.1); only for the deng family. */
    int deng_soft_mask;         /* (b) self entries get +100 on the normalized distance */
    int deng_floor;             /* (c) A = sqrt(max(softmax_row ⊙ softmax_col, 1e-6)) */
    int block_rows;             /* fast path: queries per block (0 = automatic) */
    /* 1: res->tau_rms is not computed (its n_tau entries set to NaN, on both paths). Without
     * drift_norm the fast path then sums the temperatures' coefficient rows before the field
     * product, one GEMM instead of n_tau (V = Σ_τ V_τ needs no V_τ of its own); with
     * drift_norm each V_τ is still formed (λ_τ needs it) and only the report is dropped.
     * 0 (default, and what a zeroed config means): report each temperature's RMS. */
    int skip_tau_rms;
} drift_field_config;

/* Defaults: meanshift, gaussian, τ = {1}, both, scales 1, no normalizations. */
void drift_field_config_init(drift_field_config *cfg);
/* Turn on options (a)–(e) of the released deng loss (feature_norm, soft mask, floor, drift_norm). */
void drift_field_config_deng_released(drift_field_config *cfg);
/* Checks the configuration (τ > 0, α valid for the family, deng options only with deng, ...). */
int drift_field_config_check(const drift_field_config *cfg);
/* 1 for sharp, kdegrad and mmd (they have a potential). */
int drift_family_is_conservative(drift_family f);

/* Names used by the CLI and configs ("deng", "gaussian", "both", ...). Parsers return
 * DRIFT_EINVAL with a message listing the valid names. */
const char *drift_family_name(drift_family f);
const char *drift_kernel_name(drift_kernel k);
const char *drift_deng_norm_name(drift_deng_norm n);
int drift_family_parse(const char *s, drift_family *out);
int drift_kernel_parse(const char *s, drift_kernel *out);
int drift_deng_norm_parse(const char *s, drift_deng_norm *out);

/* ---- kernels (docs/MATH.md §2), in float64 ---------------------------------------- */
/* log κ(r), log κ#(r), and g(r) = −κ'(r)/r  (so ∇_x κ(‖x−y‖) = g(r)(y − x)). For laplace
 * g(0) is taken as 0 (∇κ is undefined at r = 0; docs/MATH.md §3 sets it to zero). */
double drift_kernel_log(drift_kernel k, double r, double tau, double alpha);
double drift_kernel_log_sharp(drift_kernel k, double r, double tau, double alpha);
double drift_kernel_log_grad(drift_kernel k, double r, double tau, double alpha);

/* ---- batches and results ---------------------------------------------------------- */
typedef struct drift_field_batch {
    int64_t n, d;
    const float *x;                          /* n × d queries */
    int64_t p; const float *pos; const float *pos_w;     /* p × d, weights (NULL = 1) */
    int64_t m; const float *neg; const float *neg_w;     /* NULL neg: X, self-masked */
    int64_t e; const float *extra; const float *extra_w; /* extra negatives (guidance) */
} drift_field_batch;

typedef struct drift_field_batch64 {
    int64_t n, d;
    const double *x;
    int64_t p; const double *pos; const double *pos_w;
    int64_t m; const double *neg; const double *neg_w;
    int64_t e; const double *extra; const double *extra_w;
} drift_field_batch64;

/* Outputs. Only v is required; every other pointer may be NULL. The scalars are always set. */
typedef struct drift_field_result {
    void *v;                 /* n × d field: float* (fast path) or double* (reference) */
    double *potential;       /* n: Φ(x_i) (conservative families only; else DRIFT_EINVAL) */
    /* Per-row diagnostics, n × n_tau, for row i and temperature t at [i*n_tau + t]:   */
    double *log_pos_mass;    /* log Σ_j w⁺_j κ(r_ij): how much data the query sees */
    double *log_neg_mass;    /* log Σ_l w⁻_l κ(r_il) */
    double *pos_ess;         /* effective sample size of the positive weights (Σa)²/Σa² */
    /* Scalars. */
    double tau_rms[DRIFT_MAX_TAU]; /* RMS sqrt(mean_i‖V_τ,i‖²/d) of each temperature's raw field
                                      (NaN with cfg.skip_tau_rms) */
    double feature_scale;    /* s (1 without feature normalization) */
    double mean_dist;        /* μ, the weighted mean query–target distance (0 if not computed) */
    double rms;              /* RMS of the returned V */
} drift_field_result;

int drift_field_compute(const drift_field_config *cfg, const drift_field_batch *b, drift_field_result *res);

/* The same with a context (drift/ctx.h): its threads, its kept scratch memory, its backend.
 * ctx NULL is drift_field_compute. */
int drift_field_compute_ctx(drift_ctx *ctx, const drift_field_config *cfg, const drift_field_batch *b,
                            drift_field_result *res);

/* The batched entry point: `count` independent batches of one configuration and one dimension
 * d (each its own queries, targets and sizes; results res[0..count-1]), e.g. every class group
 * of a training step. Each batch gets exactly what drift_field_compute gives it on its own;
 * the call is what a backend implements (one call for a whole step: what a GPU needs), and on
 * the CPU it spreads whole batches over the threads when there are enough of them. A failing
 * batch fails the call with its index in the message. */
int drift_field_compute_many(drift_ctx *ctx, const drift_field_config *cfg, int count, const drift_field_batch *b,
                             drift_field_result *res);

int drift_field_compute_f64(const drift_field_config *cfg, const drift_field_batch64 *b, drift_field_result *res);

#ifdef __cplusplus
}
#endif
#endif
