/* fast_internal.h — the pieces of the float32 fast path; field_fast.c drives them.
 *
 * Data flow for one call of drift_field_compute:
 *   field_fast.c  validates, packs the batch (fast_batch), plans blocks, runs the passes;
 *   fast_dist.c   distance tiles (direct loops for small d, SGEMM + exact fix-up otherwise);
 *   fast_coef.c   per-query coefficient rows: kernel logs, row maxima, vexpf, the family's
 *                 normalization, and deng's column log-sums.
 * The field of a query block is then Σ_j C_ij (t_j − x_i) for every temperature at once:
 * one SGEMM C·T (or, for small d, a direct loop over the same coefficients), whose rows are
 * either one per temperature or, when no V_τ is needed alone, the sum over temperatures.
 */
#ifndef DRIFT_FIELD_FAST_INTERNAL_H
#define DRIFT_FIELD_FAST_INTERNAL_H

#include <stdint.h>

#include "drift/field.h"

/* Up to this dimension distances and displacements are computed by direct loops (exact,
 * and faster than a GEMM whose inner dimension is tiny); above it by SGEMM. */
#define FAST_DIRECT_MAX_D 16
/* A GEMM distance r² = ‖x‖² + ‖t‖² − 2x·t is recomputed directly when r² < this ratio ×
 * (‖x‖² + ‖t‖²): there cancellation would cost more than log2(1/ratio) ≈ 7 bits. The same
 * pairs get their displacement t − x exactly instead of through the GEMM identity. */
#define FAST_NEAR_RATIO 1e-2f
/* Largest spread of deng's column log-sums for the one-exponential row (fast_plan.lc_weight). */
#define FAST_LC_SPREAD 100.0f
/* Kernel logs are clamped here so that differences of them stay finite (never inf − inf). */
#define FAST_LK_MIN (-1e38f)
/* Lost precision (docs/MATH.md §3 in float32 at extreme scales): a row whose largest kernel exponent is
 * known only to more than this (estimated from the rounding of its distance) is checked for a
 * second term within that error (+ 40) of the largest; if there is one, their ratio, and so the
 * field, is unknown in float32 and the call is refused (DRIFT_ENUMERIC) instead of answered. */
#define FAST_EXP_ERR_CHECK 0.1
/* rq kernels with c above this take log(1 + c·z) as log c + log(z + 1/c): c·z can overflow. */
#define FAST_RQ_BIG_C 0x1p40f

/* The batch as the fast path sees it. Targets are [negatives (the queries themselves when
 * self-masked), extra negatives, positives], indexed 0..T−1 and stored as up to three
 * row segments. On the GEMM path these are the caller's arrays when the data sit near the
 * origin; otherwise (and always on the direct path) copies centered on the common mean and
 * scaled by 1/unit, a power of two (exact), so that GEMM distances lose little to
 * cancellation and r² can neither overflow nor underflow. */
typedef struct fast_batch {
    int64_t n, d, q, p, T; /* T = q + p */
    int self_masked;       /* target j < n is query j, excluded from its own row */
    int direct;            /* d ≤ FAST_DIRECT_MAX_D */
    int tile_holds_r;      /* distance tiles hold r (laplace) rather than r² */
    double unit;           /* data units per working-copy unit (1 without a copy) */
    const float *x;        /* n × d queries */
    int nseg;
    const float *seg_rows[3]; /* target segment s holds targets [seg_start[s], seg_start[s+1]) */
    int64_t seg_start[4];
    float *tt;             /* d × T, transposed targets (direct path only) */
    float *xn, *tn;        /* squared norms ‖x_i‖², ‖t_j‖² (GEMM path only) */
    float *w;              /* T target weights */
    float *lw;             /* log of the weights (−inf for 0) */
    double wq_total;       /* Σ negative weights (self rows included) */
    double wq_row;         /* Σ negative weights one query sees (its own row excluded) */
    double wp_total;       /* Σ positive weights */
    /* rounding of distances (fast_row_exp_err): absolute error of r from the working copy's
     * rounding (tile units), the GEMM's relative scale, the largest |log weight| and ‖t‖² */
    double dr_copy, dr_gemm;
    float lw_absmax, tn_max, xn_max;
    /* the caller's rows (not the working copy), for recomputing near-tied terms exactly:
     * queries, and the targets as segments in target order */
    const float *orig_x;
    const float *orig_rows[4];
    int64_t orig_start[5];
} fast_batch;

static inline const float *fast_target_row(const fast_batch *fb, int64_t j)
{
    int s = 0;
    while (j >= fb->seg_start[s + 1]) s++;
    return fb->seg_rows[s] + (j - fb->seg_start[s]) * fb->d;
}

/* Distances for queries [i0, i1) × targets [j0, j1) into z (row stride ldz): r² or r in
 * scaled units, exactly 0 for duplicated points. Runs single-threaded (called inside the
 * engine's parallel loops). */
void fast_dist_tile(const fast_batch *fb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *z,
                    int64_t ldz);

/* Whether the pair (query i, target j) with tile value zij counts as near (see
 * FAST_NEAR_RATIO); only meaningful on the GEMM path. */
static inline int fast_is_near(const fast_batch *fb, int64_t i, int64_t j, float zij)
{
    float r2 = fb->tile_holds_r ? zij * zij : zij;
    return r2 < FAST_NEAR_RATIO * (fb->xn[i] + fb->tn[j]);
}

/* Per-temperature constants, in terms of the tile value z (scaled units):
 *   log κ = −c·z (gaussian: z = r², laplace: z = r),  rq: log κ = −α log(1 + c·z);
 *   κ#/κ = h0 + h1·z (sharp denominators);  g/κ = 1/(g0 + g1·z) (kdegrad, mmd numerators). */
typedef struct fast_tau {
    double tau_w;       /* τ in working units */
    float c, alpha;
    float h0, h1, g0, g1;
    float lk_self;      /* deng soft mask: log κ at the soft self distance */
    double c_d;         /* c in double (error estimates) */
    int rq_big;         /* rq with c > FAST_RQ_BIG_C: log κ = −α (log c + log(z + 1/c)) */
    float rq_log_c, rq_inv_c;
} fast_tau;

/* Everything the coefficient rows need besides the batch. */
typedef struct fast_plan {
    const drift_field_config *cfg;
    const fast_batch *fb;
    int ntau;
    fast_tau tau[DRIFT_MAX_TAU];
    const float *lc;    /* deng both: column log-sums, ntau × T */
    /* deng both: per temperature, exp((lc_j − max lc)/2) for every column, or NULL. Given
     * when max lc − min lc ≤ FAST_LC_SPREAD: then a row's log-sum can be read off the same
     * exponentials as A, its dominant terms staying above e^(−spread/2) of float range. */
    const float *lc_weight[DRIFT_MAX_TAU];
    float lc_max[DRIFT_MAX_TAU];
    int want_phi;       /* potentials requested */
    int want_diag;      /* any of the per-row diagnostics requested */
} fast_plan;

/* What one coefficient row reports besides the coefficients. */
typedef struct fast_row_info {
    double phi;                       /* potential term of this row and temperature */
    double log_pos_mass, log_neg_mass, pos_ess;
    double ill;                       /* > 0: the row's kernel ratios are lost (the exponent error) */
} fast_row_info;

/* The separable families' repair of such a row (one side: targets j0 .. j0 + count − 1 of
 * query i, kernel logs L with largest m, distances z): the terms within the error of the
 * largest get their log differences to it recomputed in double-double from the caller's rows,
 * L[j] := log w_j κ_j − log w_top κ_top, and the rest (below by more than the error + 40:
 * negligible) FAST_LK_MIN. tmp: count floats. Returns 0, or −1 if even that cannot resolve them. */
int fast_refine_ties(const fast_plan *pl, int t, int64_t i, int64_t j0, int64_t count, float *L, const float *z,
                     float m, double err, float *tmp);

/* Whether the kernel logs L[0], L[stride], ... (count of them, largest m, log weights included)
 * have a second term within the rounding error of the largest (|log κ| of the largest being
 * at most |m| + shift): returns that error estimate
 * when they do, else 0. Costs a few flops unless the error exceeds FAST_EXP_ERR_CHECK.
 * xn: the query's squared norm on the GEMM path (for a column, the largest query's). */
double fast_exp_ties(const fast_plan *pl, int t, const float *L, int64_t count, int64_t stride, float m, double shift,
                     float xn);

/* Coefficient row of query i at temperature t: crow[j] = C_ij such that
 * V_t(x_i) = Σ_j C_ij (t_j − x_i). z is the query's distance row (T values); scratch holds
 * 2·T floats. The self entry is left as computed (callers zero it before the GEMM). */
void fast_coef_row(const fast_plan *pl, int t, int64_t i, const float *z, float *crow, float *scratch,
                   fast_row_info *info);

/* Deng's column log-sums for targets [j0, j1) at temperature t from a tile of all n queries
 * (z with row stride ldz): lc[j − j0] = log Σ_i κ_ij (self entries removed or soft). lk is
 * scratch of n·(j1 − j0) floats, sums of (j1 − j0) doubles. */
void fast_deng_column_lse(const fast_plan *pl, int t, int64_t j0, int64_t j1, const float *z, int64_t ldz,
                          float *lk, double *sums, float *lc, double *ill);

#endif
