/* eval_internal.h — helpers shared by the metric files of src/eval (not public API). */
#ifndef DRIFT_EVAL_INTERNAL_H
#define DRIFT_EVAL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Checks one input set: non-NULL, n ≥ min_rows, dim ≥ 1, every value finite. `what` names
 * the set in the message ("samples", "reference set", ...). */
int eval_check_set(const float *x, int64_t n, int dim, int64_t min_rows, const char *what);

/* out[i] = ‖x_i‖² for the n rows of x (n, dim), summed in float64, stored as float. */
void eval_row_sqnorms(const float *x, int64_t n, int dim, float *out);

/* Rows of a block whose (rows, ncols) distance matrix stays within a fixed budget of
 * floats (16 MiB): the metrics walk an (n, m) distance matrix block by block. */
int64_t eval_block_rows(int64_t ncols);

/* out (na, nb): out[i, j] = max(0, ‖a_i − b_j‖²) computed as ‖a‖² + ‖b‖² − 2 a·b with one
 * SGEMM (directly for dim ≤ 16), and directly again where that is below 1e-3 of the norms
 * (cancellation: copies come out exactly 0); an2, bn2 from eval_row_sqnorms. */
void eval_sqdist_block(float *out, const float *a, const float *an2, int64_t na, const float *b,
                       const float *bn2, int64_t nb, int dim);

/* Σ k(a_i, b_j) over all pairs (same == 0) or over pairs i ≠ j when a and b are the same
 * set (same == 1, na == nb), with k the gaussian kernel exp(−d² / (2 h2)). */
int eval_gaussian_kernel_sum(const float *a, int64_t na, const float *b, int64_t nb, int dim,
                             double h2, int same, double *sum);

/* Σ ‖a_i − b_j‖ over all pairs. */
int eval_distance_sum(const float *a, int64_t na, const float *b, int64_t nb, int dim,
                      double *sum);

/* FID with the first set's covariance square root already known (the evaluator computes
 * it once for the reference set). */
struct drift_feature_stats;
int eval_fid_with_sqrt(const struct drift_feature_stats *a, const double *sqrt_cov_a,
                       const struct drift_feature_stats *b, double *fid);

/* ---- collapse.c: the reference half of drift_collapse_check, computed once per reference
 * (the evaluator scores many sample sets against one test split). */
typedef struct eval_collapse_ref {
    double spread;          /* mean pairwise distance of the reference rows */
    double close;           /* the near-copy distance */
    int n_classes;          /* 0: no per-class spreads */
    double *class_spread;   /* (n_classes); 0 for a class with fewer than 2 rows */
} eval_collapse_ref;
struct drift_collapse;
int eval_collapse_ref_init(eval_collapse_ref *r, const float *ref, const int32_t *ref_labels,
                           int64_t n_ref, int dim, int n_classes);
void eval_collapse_ref_free(eval_collapse_ref *r);
/* labels NULL: global diversity. Labels must be in [0, r->n_classes) (checked by callers). */
int eval_collapse_score(const eval_collapse_ref *r, const float *samples, const int32_t *labels,
                        int64_t n, int dim, struct drift_collapse *out);

/* ---- corrupt.c: images that are not data (outlier exposure, sanity sets) ----------------
 * Images are rows of h·w·c floats in [-1, 1]; noise strengths are in [0, 1] pixel units. */
struct drift_rng;
#define EVAL_OUTLIER_TYPES 8
/* One synthetic outlier of the given type (0 .. EVAL_OUTLIER_TYPES-1) into out; `real` is a
 * real image the real-derived types (shuffled tiles, heavy noise, inverted) start from.
 * Salt-and-pepper noise and blur are deliberately not among them: the sanity sets test them
 * as corruptions the feature network never saw. */
void eval_synth_outlier(float *out, int type, const float *real, int h, int w, int c,
                        struct drift_rng *rng);
const char *eval_outlier_name(int type);
/* img += N(0, sigma01²) (in [0, 1] units), clipped to the pixel range. */
void eval_add_noise(float *img, int64_t dim, double sigma01, struct drift_rng *rng);
/* Each pixel, with probability rate, set to black or white (equally likely). */
void eval_salt_pepper(float *img, int64_t dim, double rate, struct drift_rng *rng);
/* Gaussian blur of standard deviation sigma pixels, in place (separable, edges replicated). */
int eval_blur(float *img, int h, int w, int c, double sigma);

/* ---- ownref.c: the feature network of a user's own reference images ---------------------- */
struct drift_dataset;
struct drift_classifier;
struct drift_classifier_opts;
/* "own-<16 hex>[-unlabelled]": FNV-1a over the reference's shape, pixels and labels; names the
 * cached feature network (classifier-<key>.safetensors), so other data never reuses it. */
int eval_own_key(const struct drift_dataset *ref, char *key, size_t size);
/* 1 when the reference has labels of 2 or more classes (a classifier on them), else 0 (the
 * orientation task). */
int eval_own_labelled(const struct drift_dataset *ref);
/* The orientation task's set: 4 rows per image (rotations by 0..3 quarter turns when square,
 * flips otherwise), labelled with the transform. */
int eval_own_pretext_set(const struct drift_dataset *ref, struct drift_dataset *out);
/* Trains the feature network on the reference itself (its labels, or the orientation task),
 * with an outlier class; opts NULL: defaults (12 epochs of the images). */
int eval_own_train(const struct drift_dataset *ref, const char *key, const struct drift_classifier_opts *opts,
                   struct drift_classifier **out);

#endif
