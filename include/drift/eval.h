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
 * and the image evaluation built on them:
 *
 *   classifier.c  the feature network: the models module's `classifier` CNN trained with
 *                 AdamW on a dataset's train split, saved to / loaded from a cache directory;
 *   evaluator.c   a loaded classifier plus cached statistics of the test split, so that
 *                 scoring a batch of samples costs one forward pass and the metrics.
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

struct drift_jsonw;
struct drift_model;

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

/* ---- Collapse checks ---------------------------------------------------------------------------
 *
 * The figures training logs (src/train/loss.c), for samples from anywhere, in the samples' own
 * space (pixels, or the 2-D plane):
 *   diversity = mean pairwise distance among the samples / the same among the reference rows;
 *               with labels for both sets, per class and averaged over the classes both have
 *               at least 2 rows of. ≈ 1 healthy, → 0 mode collapse.
 *   dup_frac  = share of samples whose nearest other sample (over all of them) is closer than
 *               DRIFT_COLLAPSE_CLOSE × the median distance of a reference row to its nearest
 *               other reference row: near-copies, much closer than real data ever are. One
 *               image repeated gives 1; a fresh sample of the reference's distribution about
 *               0.5 · 0.1^d in d intrinsic dimensions (0.005 in 2-D, ≈ 0 for images). Training
 *               logs its dup_frac per class group of a few dozen rows, too few for
 *               nearest-neighbour statistics, against 1 % of the mean pairwise distance instead.
 * Mean distances use at most DRIFT_COLLAPSE_ROWS evenly spaced rows per group; nearest
 * neighbours are looked for (among all rows of their set) for at most DRIFT_COLLAPSE_DUP_ROWS
 * evenly spaced rows (O(rows · n · dim), bounded). */
#define DRIFT_COLLAPSE_ROWS 1000
#define DRIFT_COLLAPSE_DUP_ROWS 2000
#define DRIFT_COLLAPSE_CLOSE 0.1

typedef struct drift_collapse {
    double diversity;
    double dup_frac;
    double ref_spread;   /* the reference's mean pairwise distance */
    double close;        /* the near-copy distance used */
    int groups;          /* classes compared (1 without labels) */
} drift_collapse;

/* samples (n, dim) with optional labels (n), reference (n_ref, dim) with optional labels;
 * per-class diversity needs both label arrays and n_classes > 0. n, n_ref ≥ 2. */
int drift_collapse_check(const float *samples, const int32_t *labels, int64_t n, const float *ref,
                         const int32_t *ref_labels, int64_t n_ref, int dim, int n_classes,
                         drift_collapse *out);

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
    double diversity;    /* drift_collapse_check against the target sample */
    double dup_frac;
} drift_toy_metrics;

/* samples (n, 2), n ≥ 2; toy: a name from drift_toy_list(). */
int drift_eval_toy(const char *toy, const float *samples, int64_t n, uint64_t seed,
                   drift_toy_metrics *out);

/* The same figures for samples (n, dim) of any dimension against reference points (n_ref, dim)
 * of the user's own (training on a dataset of 2-D points or vectors given by path): MMD² with
 * the reference's median bandwidth, energy distance, sliced W2 (gaussian directions from seed
 * when dim != 2), diversity and duplicates. n, n_ref >= 2. */
int drift_eval_points(const float *ref, int64_t n_ref, const float *samples, int64_t n, int dim, uint64_t seed,
                      drift_toy_metrics *out);

/* Writes the fields of m as members of the JSON object that w has open
 * ("toy_mmd2", "toy_bandwidth", "toy_energy", "toy_sliced_w2", "toy_diversity",
 * "toy_dup_frac", "n_samples"). The collapse figures are prefixed so that they do not clash
 * with the training log's own "diversity" and "dup_frac" in one metrics.jsonl line. */
int drift_toy_metrics_write_json(const drift_toy_metrics *m, struct drift_jsonw *w);

/* ---- The feature network ----------------------------------------------------------------------
 *
 * A small CNN (drift/models.h, kind `classifier`: two convolutions, one hidden layer whose
 * ReLU outputs are the features, then the logits) trained with softmax cross-entropy and
 * AdamW (cosine schedule, warm-up) on the train split of a 28×28×1 image dataset, and scored
 * on its test split. Outlier exposure: every batch also holds synthetic images that are not
 * data (noise, flat grey, smooth fields, stripes, shuffled tiles, heavily noised or inverted
 * real images) labelled with one extra class, so that inputs unlike the data land away from
 * it in feature space instead of inside a real image's k-NN ball (docs/EVALUATION.md). The
 * file is safetensors: one tensor per parameter (the model's tensor table names) and metadata
 * format = DRIFT_CLASSIFIER_FORMAT, dataset, test_accuracy, architecture
 * (drift_model_config_format), steps, train_images, classes, outlier_class.
 *
 * This network only grades: nothing in drift trains a generator against its features.
 *
 * It lives in a cache directory: the `cache_dir` argument when given, else $DRIFT_CACHE_DIR,
 * else $HOME/.cache/drift, as classifier-<dataset>.safetensors. */

#define DRIFT_CLASSIFIER_FORMAT "drift-classifier-2"
#define DRIFT_CLASSIFIER_FORMAT_V1 "drift-classifier-1" /* no outlier class; still readable */

typedef struct drift_classifier {
    struct drift_model *model;
    char dataset[64];        /* the data it was trained on: "mnist", "fashion-mnist" */
    int n_classes;           /* the data's classes (labels 0 .. n_classes-1) */
    int outlier_class;       /* the output "not an image of this dataset" (== n_classes), or
                                -1 for a classifier trained without outlier exposure */
    double test_accuracy;    /* on that dataset's test split, in [0, 1] */
    int64_t steps;           /* optimizer steps it was trained for */
    int64_t train_images;    /* rows of the train split it saw */
} drift_classifier;

/* Training options; drift_classifier_opts_default fills the defaults (shown in brackets). */
typedef struct drift_classifier_opts {
    const char *dataset;     /* "mnist" or "fashion-mnist" (any 28×28×1 labelled dataset name) */
    const char *data_dir;    /* where the dataset lives (NULL: drift_dataset_find_dir search) */
    int epochs;              /* passes over the train split [fashion-mnist 5, otherwise 12] */
    int64_t max_steps;       /* stop after this many steps, 0: no limit [0] */
    int batch;               /* [128] */
    double lr;               /* peak AdamW learning rate [2e-3]; cosine to lr/20 */
    double weight_decay;     /* [1e-4] */
    int augment;             /* random shifts of up to 2 pixels [fashion-mnist 0, otherwise 1] */
    double outliers;         /* outlier exposure: synthetic non-images per real image in each
                                batch, labelled with an extra class; 0: none [0.25] */
    int64_t train_limit;     /* use only the first rows of the train split, 0: all [0] */
    int64_t test_limit;      /* score on only the first rows of the test split, 0: all [0] */
    uint64_t seed;           /* init, shuffling and augmentation [0] */
    /* Called every `progress_every` steps and after the last one (may be NULL). */
    void (*progress)(void *ctx, int64_t step, int64_t steps, double loss, double train_acc);
    void *progress_ctx;
    int progress_every;      /* [50] */
} drift_classifier_opts;

void drift_classifier_opts_default(drift_classifier_opts *o, const char *dataset);

/* Trains a fresh classifier and measures its test accuracy. Minutes on 2 cores for the full
 * datasets; seconds with a small train_limit / max_steps (tests). */
int drift_classifier_train(const drift_classifier_opts *o, drift_classifier **out);
/* The same on datasets already in memory (image datasets with labels; o->dataset, if set, is
 * the name recorded in the classifier, else train->name; data_dir and the limits are
 * ignored). */
struct drift_dataset;
int drift_classifier_train_on(const struct drift_dataset *train, const struct drift_dataset *test,
                              const drift_classifier_opts *o, drift_classifier **out);
/* Atomic write; creates missing parent directories. */
int drift_classifier_save(const drift_classifier *c, const char *path);
/* Loads a file written by drift_classifier_save. With expect_dataset non-NULL, a classifier
 * trained on another dataset is DRIFT_EINVAL naming both. */
int drift_classifier_load(const char *path, const char *expect_dataset, drift_classifier **out);
void drift_classifier_free(drift_classifier *c);

/* The cache directory (see above) into buf. DRIFT_EINVAL when neither an argument nor
 * $DRIFT_CACHE_DIR nor $HOME is set, or buf is too small. */
int drift_cache_dir(const char *cache_dir, char *buf, size_t size);
/* <cache dir>/classifier-<dataset>.safetensors into buf. */
int drift_classifier_path(const char *cache_dir, const char *dataset, char *buf, size_t size);

/* Features (n, feature_dim) and, unless NULL, logits (n, n_classes) of images (n, 784) in
 * drift's pixel range [-1, 1]; any n ≥ 1 (batched internally). */
int drift_classifier_features(drift_classifier *c, const float *images, int64_t n, float *feats,
                              float *logits);
/* Share of images whose arg-max class equals labels[i]; labels outside [0, n_classes) are
 * DRIFT_EINVAL naming the row. */
int drift_classifier_accuracy(drift_classifier *c, const float *images, const int32_t *labels,
                              int64_t n, double *accuracy);

/* ---- The image evaluator -----------------------------------------------------------------------
 *
 * Opening one loads (or, when asked, trains and saves) the dataset's classifier and computes,
 * once, everything about the reference set (the test split) that does not depend on the
 * samples: its features, their mean and covariance and the covariance's square root (FID),
 * the median-heuristic bandwidth and the reference-reference kernel sum (MMD). Scoring n
 * samples then costs their forward pass plus O(n · n_ref · feature_dim): 2,000 samples
 * against 10,000 test images take about a second on 2 cores.
 *
 * FID and MMD² use the whole reference set. Precision, recall, density and coverage depend
 * on the set sizes (k-NN radii shrink as sets grow), so they compare the samples with an
 * equally large reference subset, m = min(n, n_ref) evenly spaced test images, against the
 * first m samples; the radii for the last m are cached. The few test images the feature
 * network itself gives an outlier probability of DRIFT_EVAL_REF_MAX_OUTLIER_P or more (at most
 * the 1 % most outlying, so a barely trained network keeps its reference) are left out of that
 * subset: an atypical real image lies next to the outlier region, far from the
 * other real images, and its large k-NN ball would accept noise and flat images as realistic. */
#define DRIFT_EVAL_REF_MAX_OUTLIER_P 0.01

typedef struct drift_evaluator_opts {
    const char *dataset;     /* "mnist" or "fashion-mnist" (its test split is the reference), or
                                the path of the user's own reference images (NPY, IDX, a folder
                                of PNGs; gray or RGB, even sides): the feature network is then
                                trained on that reference on first use (on its labels, or without
                                labels on which way each image is turned) and cached under a key
                                of its content (docs/EVALUATION.md, "Your own data") */
    const char *data_dir;    /* NULL: default search */
    const char *cache_dir;   /* NULL: drift_cache_dir's default */
    int64_t n_ref;           /* test images in the reference set, 0: the whole test split */
    int k;                   /* k of the k-NN metrics, 0: DRIFT_PRDC_K */
    int train_if_missing;    /* no classifier in the cache (or one from before outlier exposure,
                                format 1): train one (minutes) and save it; otherwise that is
                                DRIFT_EIO telling how to train one */
    const char *classifier_path; /* use this classifier file as it is instead of the cache's
                                    (NULL: the cache) */
    const drift_classifier_opts *train_opts; /* for that training (NULL: defaults) */
    /* One line at a time about what takes long ("training a classifier for ..."), may be NULL. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    const char *labels_path; /* own reference: its labels file, or NULL (a PNG folder of class
                                subfolders is labelled by them) */
} drift_evaluator_opts;

typedef struct drift_evaluator drift_evaluator;

typedef struct drift_image_metrics {
    int64_t n_samples;       /* samples scored (FID, MMD²) */
    int64_t n_reference;     /* test images in the reference statistics */
    int64_t n_prdc;          /* rows of each set in precision/recall/density/coverage */
    int64_t n_reference_outliers; /* test images the feature network calls outliers, left
                                     out of the k-NN metrics' reference (see above) */
    int k;
    double fid;              /* ≥ 0, in the classifier's feature space */
    double precision, recall, density, coverage;
    double mmd2;             /* unbiased, gaussian kernel with the reference's median bandwidth */
    double mmd_bandwidth;
    int has_labels;
    double class_accuracy;   /* classifier accuracy on the intended labels (NaN without) */
    double classifier_test_accuracy; /* the feature network's own accuracy, for context */
    int feature_dim;
    double outlier_fraction; /* share of samples the feature network calls "not an image of
                                this dataset" (its outlier class); NaN for a classifier
                                without one */
    double diversity, dup_frac; /* drift_collapse_check against the reference images, in pixels
                                   (per class with labels) */
} drift_image_metrics;

int drift_evaluator_open(const drift_evaluator_opts *o, drift_evaluator **out);
/* The same with the reference images already in memory (an own reference: ref's rows and
 * labels; o->dataset only names it in messages). ref is not kept after the call. */
int drift_evaluator_open_ref(const drift_evaluator_opts *o, const struct drift_dataset *ref, drift_evaluator **out);
void drift_evaluator_free(drift_evaluator *ev);
/* The loaded classifier (owned by the evaluator) and the path it came from. */
drift_classifier *drift_evaluator_classifier(drift_evaluator *ev);
const char *drift_evaluator_classifier_path(const drift_evaluator *ev);
/* Expected image shape of the samples: (h, w, c) and dim = h·w·c. */
void drift_evaluator_image_shape(const drift_evaluator *ev, int *h, int *w, int *c);

/* Scores samples (n, dim) in drift's pixel range [-1, 1]. labels (n) the classes the samples
 * were asked for, or NULL. n ≥ k + 1. A dim other than the dataset's is DRIFT_ESHAPE naming
 * both shapes. */
int drift_eval_images(drift_evaluator *ev, const float *samples, int64_t dim,
                      const int32_t *labels, int64_t n, drift_image_metrics *out);

/* Writes the fields of m as members of the JSON object that w has open: "fid", "precision",
 * "recall", "density", "coverage", "mmd2", "mmd_bandwidth", "class_accuracy" (null without
 * labels), "outlier_fraction" (null without an outlier class), "pixel_diversity",
 * "pixel_dup_frac" (prefixed: training logs its own "diversity" beside them), "n_samples", "n_reference", "n_prdc", "n_reference_outliers", "k", "feature_dim",
 * "classifier_test_accuracy". */
int drift_image_metrics_write_json(const drift_image_metrics *m, struct drift_jsonw *w);

/* ---- Sanity sets: can these metrics be fooled? -------------------------------------------------
 *
 * Sets made from the dataset itself, each scored like samples, each with what a trustworthy
 * evaluation must say of it (docs/EVALUATION.md). Pixel strengths in [0, 1] units:
 *   real          n train images (held out from the test reference): precision, recall ≥ 0.6
 *   noise         gaussian N(0.5, 0.25²) and uniform [0, 1] pixels: precision ≤ 0.05
 *   constant      every pixel v, v ∈ {0, 0.25, 0.5, 0.75, 1}, one set each: precision ≤ 0.05
 *   salt-pepper   real images, 30 % of pixels set to 0 or 1: precision ≤ 0.05
 *   copies        one real image n times: recall, coverage ≤ 0.02, dup_frac ≥ 0.99
 *   noise σ       real + N(0, σ²), σ ∈ {0.05, 0.1, 0.2, 0.4}: FID rising with σ (from real's)
 *   blur σ        gaussian blur, σ ∈ {0.5, 1, 2} pixels: FID rising with σ (from real's)
 * Salt-and-pepper and blur are not among the outliers the feature network is trained on. */
#define DRIFT_SANITY_MAX_SETS 24

typedef struct drift_sanity_row {
    char name[48];           /* "gaussian noise", "blur 1", ... */
    char expect[64];         /* the rule, "precision <= 0.05", or "" (none of its own) */
    char group[16];          /* "noise", "blur" for the FID-rises-with-strength rows, else "" */
    double strength;         /* of the corruption in its group */
    int pass;                /* the row's own rule holds (1 when it has none) */
    drift_image_metrics m;
} drift_sanity_row;

typedef struct drift_sanity {
    int n_rows;
    drift_sanity_row rows[DRIFT_SANITY_MAX_SETS];
    int fid_monotone_noise;  /* FID(real) < FID(σ 0.05) < ... < FID(σ 0.4) */
    int fid_monotone_blur;   /* FID(real) < FID(blur 0.5) < ... */
    int pass;                /* every rule */
} drift_sanity;

/* Builds the sets from train (the dataset's train split: images with labels) with n rows each
 * (n ≤ train->n; at least k + 1) and scores them with ev. `progress` (may be NULL) hears each
 * finished row. */
struct drift_dataset;
int drift_eval_sanity(drift_evaluator *ev, const struct drift_dataset *train, int64_t n,
                      uint64_t seed, void (*progress)(void *ctx, const drift_sanity_row *row),
                      void *ctx, drift_sanity *out);

#ifdef __cplusplus
}
#endif
#endif
