/* drift/eval.h — how good are the samples? Distances between two point sets.
 *
 * Users judge a generator by numbers. The image metrics of the papers (FID, precision and
 * recall) are defined on features of a pretrained network; no pretrained Inception weights
 * can be had here, so drift trains its own small classifier per dataset and measures in its
 * penultimate feature space (docs/EVALUATION.md says why the numbers are therefore not
 * comparable to published Inception-FIDs). This header holds the metrics themselves, which
 * work on any (n, dim) float32 feature matrices, one source file per family:
 *
 *   stats.c     mean / covariance in float64, the PSD matrix square root, FID;
 *   prdc.c      k-nearest-neighbour manifolds: precision, recall, density, coverage;
 *   distance.c  pairwise squared distances in row blocks, unbiased MMD² (gaussian kernel),
 *               energy distance;
 *   sliced.c    sliced Wasserstein-2;
 *   toy_metrics.c  the toy-2D metrics against a fresh sample of the target.
 *
 * Conventions: the first set is the reference ("real"), the second the samples ("fake").
 * Sizes are checked (too few rows for the metric, dim < 1 or mismatched: DRIFT_ESHAPE /
 * DRIFT_EINVAL with a message saying which); NaN/Inf inputs are DRIFT_ENUMERIC. Large sets
 * are processed in row blocks, so memory stays O(block · n), never O(n²).
 */
#ifndef DRIFT_EVAL_H
#define DRIFT_EVAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Gaussian statistics and FID ---------------------------------------------------------
 *
 * FID (Heusel et al. 2017) is the Fréchet distance between the gaussians fitted to the two
 * feature sets:
 *     FID = ‖μ1 − μ2‖² + Tr(C1) + Tr(C2) − 2 Tr((C1^½ C2 C1^½)^½).
 * C1^½ C2 C1^½ is symmetric positive semi-definite and has the same eigenvalues as C1 C2, so
 * the trace term is Σ √λi over its eigenvalues: two symmetric eigendecompositions (LAPACK
 * dsyevd), no general (complex) matrix square root, and eigenvalues that rounding pushes
 * slightly below zero are clipped to 0. The trace part is the squared Bures distance, which
 * is ≥ 0; the result is clipped at 0 so that FID(x, x) reads 0, never −1e-13. */

typedef struct drift_feature_stats {
    int64_t n;      /* rows the statistics were computed from (≥ 2) */
    int dim;
    double *mean;   /* (dim) */
    double *cov;    /* (dim, dim), unbiased (divides by n − 1, like numpy.cov) */
} drift_feature_stats;

/* Mean and covariance of x (n, dim), accumulated in float64. n < 2: DRIFT_ESHAPE. */
int drift_feature_stats_compute(const float *x, int64_t n, int dim, drift_feature_stats *out);
void drift_feature_stats_free(drift_feature_stats *s);

/* out (n, n) = A^½ for a symmetric positive semi-definite A (n, n), through A = V Λ Vᵀ:
 * A^½ = V max(Λ, 0)^½ Vᵀ. A is read as symmetric (its upper triangle is used). out may
 * alias A. A clearly indefinite input (an eigenvalue below −1e-6 · the largest |λ|) is
 * DRIFT_ENUMERIC: it is not a covariance. */
int drift_sqrtm_psd(const double *A, int n, double *out);

/* FID between two sets of statistics of the same dim. */
int drift_fid_from_stats(const drift_feature_stats *a, const drift_feature_stats *b,
                         double *fid);
/* FID between two feature matrices (na, dim) and (nb, dim). */
int drift_fid(const float *a, int64_t na, const float *b, int64_t nb, int dim, double *fid);

/* ---- Precision, recall, density, coverage ------------------------------------------------
 *
 * Each point's neighbourhood is the ball reaching its k-th nearest neighbour within its own
 * set (the point itself not counted). With real points r_i (radius ρ_i) and samples f_j:
 *   precision = share of f_j inside some real ball            (Kynkäänniemi et al. 2019)
 *   recall    = share of r_i inside some sample ball
 *   density   = Σ_j #{i : f_j inside ball i} / (k · n_fake)   (Naeem et al. 2020)
 *   coverage  = share of r_i whose nearest sample lies inside ball i
 * "Inside" is ‖f − r‖ ≤ ρ (closed ball, Kynkäänniemi's definition). precision, recall and
 * coverage are in [0, 1]; density is ≈ 1 when the samples match the data and may exceed 1.
 * Identical sets give precision = recall = coverage = 1. Distances are Euclidean on the raw
 * features; k = 3 is the paper default for precision/recall (DRIFT_PRDC_K). */

#define DRIFT_PRDC_K 3

typedef struct drift_prdc {
    double precision, recall, density, coverage;
} drift_prdc;

/* sqradius[i] = squared distance from row i of x (n, dim) to its k-th nearest other row.
 * Needs 1 ≤ k ≤ 64 and k < n. */
int drift_knn_sqradii(const float *x, int64_t n, int dim, int k, float *sqradius);

/* real (nr, dim), fake (nf, dim). real_sqradii: the reals' k-NN squared radii from
 * drift_knn_sqradii with the same k, or NULL to compute them here (pass them when the same
 * reference set is compared against many sample sets). Needs k < nr and k < nf. */
int drift_prdc_compute(const float *real, int64_t nr, const float *real_sqradii,
                       const float *fake, int64_t nf, int dim, int k, drift_prdc *out);

/* ---- Kernel and distance statistics ------------------------------------------------------ */

/* The median of the pairwise squared distances between distinct rows of x (n, dim), n ≥ 2.
 * At most DRIFT_MEDIAN_ROWS rows take part, evenly spaced through x, so the cost stays
 * bounded and the result is deterministic. Its square root is the "median heuristic"
 * bandwidth of the gaussian kernel. */
#define DRIFT_MEDIAN_ROWS 2000
int drift_median_sqdist(const float *x, int64_t n, int dim, double *median_sqdist);

/* Unbiased MMD² (Gretton et al. 2012) with k(u, v) = exp(−‖u − v‖² / (2 h²)):
 *   MMD² = mean_{i≠i'} k(x_i, x_i') + mean_{j≠j'} k(y_j, y_j') − 2 mean_{i,j} k(x_i, y_j).
 * h2 = h² > 0. Unbiased means its expectation is the population MMD²: it is ≈ 0 (and may
 * be slightly negative) for two samples of one distribution. nx, ny ≥ 2. */
int drift_mmd2_unbiased(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                        double h2, double *mmd2);

/* Energy distance (Székely & Rizzo), the V-statistic
 *   E = 2 mean_{i,j} ‖x_i − y_j‖ − mean_{i,i'} ‖x_i − x_i'‖ − mean_{j,j'} ‖y_j − y_j'‖,
 * which is ≥ 0 and exactly 0 for identical sets. (scipy.stats.energy_distance returns √E
 * for 1-D data.) */
int drift_energy_distance(const float *x, int64_t nx, const float *y, int64_t ny, int dim,
                          double *energy);

/* Sliced Wasserstein-2: SW2 = (mean over directions θ of W2²(θᵀx, θᵀy))^½, with the exact
 * 1-D W2 between the two empirical distributions (any sizes: their quantile functions are
 * integrated piece by piece). In 2-D the n_proj directions are equally spaced angles
 * π (l + ½) / n_proj, a quadrature with no randomness; in other dims they are gaussian
 * directions drawn from drift_rng (seed, stream 0). A translation of a set by m gives
 * exactly ‖m‖ / √2 in 2-D (n_proj ≥ 2). */
int drift_sliced_w2(const float *x, int64_t nx, const float *y, int64_t ny, int dim, int n_proj,
                    uint64_t seed, double *sw2);

/* ---- Toy 2-D metrics ------------------------------------------------------------------------
 *
 * Samples of a toy distribution (drift/data.h) against a fresh sample of the target of the
 * same size, drawn with drift_rng (seed, stream DRIFT_EVAL_TOY_STREAM) so that it is
 * independent of the training data (streams 0 and 1). The MMD bandwidth is the median
 * heuristic on the target sample, so it is the same for every model compared with one seed
 * and size. */
#define DRIFT_EVAL_TOY_STREAM 7
#define DRIFT_EVAL_TOY_PROJECTIONS 64

typedef struct drift_toy_metrics {
    int64_t n;           /* samples compared (both sets) */
    double mmd2;         /* unbiased MMD², gaussian kernel */
    double bandwidth;    /* h of that kernel */
    double energy;       /* energy distance (V-statistic) */
    double sliced_w2;    /* sliced Wasserstein-2, DRIFT_EVAL_TOY_PROJECTIONS directions */
} drift_toy_metrics;

/* samples (n, 2), n ≥ 2; toy: a name from drift_toy_list(). */
int drift_eval_toy(const char *toy, const float *samples, int64_t n, uint64_t seed,
                   drift_toy_metrics *out);

#ifdef __cplusplus
}
#endif
#endif
