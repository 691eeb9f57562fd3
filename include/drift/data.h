/* drift/data.h — where training data comes from.
 *
 * Four things, each in its own source file:
 *   toy.c      2-D toy distributions (swiss roll, checkerboard, ...) sampled with a drift_rng,
 *              so that the same seed gives the same points on every machine;
 *   idx.c      the IDX file format of MNIST / Fashion-MNIST (raw or gzip), read and written;
 *   dataset.c  drift_dataset: a float32 (n, D) matrix plus optional int32 labels, loaded from
 *              Fashion-MNIST, MNIST, NPY or IDX files or a toy distribution by name;
 *   pngdir.c   a folder of PNG images (flat, or one subfolder per class) as a dataset;
 *   classes.c  per-class index lists and sampling without replacement (the trainer's positives;
 *              docs/MATH.md §7 says how they stand in for the reference recipe's queues).
 *
 * Images are stored as rows of D = h*w*c floats in (h, w, c) order (channel last), pixel
 * values v in 0..255 mapped to v/127.5 - 1, i.e. into [-1, 1]: generators end in no squashing
 * nonlinearity, and a symmetric range keeps the data centred for the drift field's kernels.
 */
#ifndef DRIFT_DATA_H
#define DRIFT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "drift/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Toy 2-D distributions ------------------------------------------------------------
 *
 * Every sampler writes n points as an (n, 2) row-major float32 matrix `xy` and, when `labels`
 * is not NULL, n labels (the mode / square / moon a point came from; 0 for the unlabelled
 * toys). Points are drawn one after another from `rng`, so the first m points of an n-point
 * draw equal an m-point draw from the same rng state. The exact definitions:
 *
 * swiss_roll    u ~ U[0,1), t = pi/2 + 4 pi u, x = (t cos t, t sin t) / M + 0.03 N(0, I),
 *               M = 9 pi / 2 = max over t in [pi/2, 9 pi/2] of max(|t cos t|, |t sin t|)
 *               (reached by the y coordinate at the outer end). M is a constant, not the
 *               maximum of the drawn batch, so samples do not depend on n. The noiseless curve
 *               lies in [-1, 1]^2 with radius t/M in [1/9, 1]. Unlabelled.
 * checkerboard  [-1, 1]^2 cut into a 4x4 grid of squares of side 0.5; the 8 squares with
 *               (column + row) even are filled, counting from the bottom-left square (which is
 *               filled). A square is chosen uniformly, then a point uniformly inside it.
 *               Label: the square, 0..7 in row-major order from the bottom row.
 * 8gaussians    8 equal-weight isotropic gaussians, std 0.02, centred on the unit circle at
 *               angles 2 pi k / 8. Label: k.
 * moons         the two interleaved half circles of scikit-learn's make_moons, shifted by
 *               (-0.5, -0.25) and scaled by 1/1.5 so they span x in [-1, 1], y in [-0.5, 0.5],
 *               plus 0.05 N(0, I). Upper moon: centre (-1/3, -1/6), angle s ~ U[0, pi); lower
 *               moon: centre (1/3, 1/6), angle pi + s; radius 2/3. Label: 0 upper, 1 lower.
 * two_mode      two isotropic gaussians, weights 0.5 / 0.5, means (-0.6, 0) and (0.6, 0),
 *               std 0.15. Label: the component.
 * gaussian      the standard normal N(0, I). Unlabelled.
 */

#define DRIFT_SWISS_ROLL_SCALE 14.137166941154069 /* 9 pi / 2 */
#define DRIFT_TOY_MAX_MODES 8

typedef int (*drift_toy_sampler)(drift_rng *rng, int64_t n, float *xy, int32_t *labels);

typedef struct drift_toy {
    const char *name;         /* "swiss_roll", ... */
    const char *description;  /* one line, for --help texts */
    int n_classes;            /* number of distinct labels the sampler emits; 0 = unlabelled */
    drift_toy_sampler sample;
} drift_toy;

int drift_toy_swiss_roll(drift_rng *rng, int64_t n, float *xy, int32_t *labels);
int drift_toy_checkerboard(drift_rng *rng, int64_t n, float *xy, int32_t *labels);
int drift_toy_8gaussians(drift_rng *rng, int64_t n, float *xy, int32_t *labels);
int drift_toy_moons(drift_rng *rng, int64_t n, float *xy, int32_t *labels);
int drift_toy_two_mode(drift_rng *rng, int64_t n, float *xy, int32_t *labels);
int drift_toy_gaussian(drift_rng *rng, int64_t n, float *xy, int32_t *labels);

/* All toys, in a fixed order; *count receives their number. */
const drift_toy *drift_toy_list(int *count);
/* Look a toy up by name. Unknown name: DRIFT_EINVAL, the message lists the valid names. */
int drift_toy_find(const char *name, const drift_toy **out);
/* drift_toy_find + sample. */
int drift_toy_sample(const char *name, drift_rng *rng, int64_t n, float *xy, int32_t *labels);

/* The exact parameters of the toys that are gaussian mixtures (gaussian, two_mode,
 * 8gaussians): the single source of truth, used by the samplers themselves, so that code
 * computing exact densities or scores (sim/) agrees with the samples. Other names:
 * DRIFT_EINVAL. */
typedef struct drift_toy_mixture {
    int k;                                 /* components */
    double weight[DRIFT_TOY_MAX_MODES];    /* sum to 1 */
    double mean[DRIFT_TOY_MAX_MODES][2];
    double std[DRIFT_TOY_MAX_MODES];       /* isotropic standard deviation */
} drift_toy_mixture;

int drift_toy_mixture_params(const char *name, drift_toy_mixture *out);

/* ---- IDX files (MNIST, Fashion-MNIST) -------------------------------------------------
 *
 * Layout: a 4-byte magic 00 00 TT NN (TT the element type, NN the number of dimensions),
 * NN big-endian uint32 dimensions, then the elements in row-major order. Only unsigned bytes
 * (TT = 0x08) are read: images are idx3 (magic 0x00000803: n, rows, cols) and labels idx1
 * (0x00000801: n). Other valid type codes (int8, int16, int32, float32, float64) are
 * DRIFT_EUNSUPPORTED; a bad magic, zero or overflowing dimensions, a payload shorter or longer
 * than the dimensions say, or a corrupt gzip stream are DRIFT_EFORMAT, with a message naming
 * the file and the problem. Files may be raw or gzip-compressed (detected from the content,
 * not the name). A header that claims more than DRIFT_IDX_MAX_BYTES of data, or more than the
 * file could hold even at deflate's maximum compression ratio, is rejected before anything
 * is allocated.
 */

#define DRIFT_IDX_MAX_DIM 4
#define DRIFT_IDX_MAX_BYTES ((size_t)1 << 34) /* 16 GiB: far beyond any dataset we read */

typedef struct drift_idx {
    int ndim;                          /* 1..DRIFT_IDX_MAX_DIM */
    int64_t dims[DRIFT_IDX_MAX_DIM];   /* each >= 1 */
    size_t count;                      /* product of dims */
    uint8_t *data;                     /* count bytes, owned; free with drift_idx_free */
} drift_idx;

int drift_idx_read(const char *path, drift_idx *out);
/* Only the first max_rows entries along dims[0] (all when there are fewer; max_rows < 0: all):
 * a gzip file is inflated only as far as they go, and what follows them is not read or checked.
 * out->dims[0] is the number of rows read, *total_rows (may be NULL) the header's. */
int drift_idx_read_rows(const char *path, int64_t max_rows, drift_idx *out, int64_t *total_rows);
/* Parse an in-memory IDX image, raw or gzip (used by the fuzzer and tests); `name` is used in
 * messages. */
int drift_idx_parse(const unsigned char *buf, size_t len, const char *name, drift_idx *out);
/* Write unsigned-byte IDX: gzip-compressed when path ends in ".gz", raw otherwise. Atomic
 * (written to a temporary file in the same directory, then renamed). */
int drift_idx_write(const char *path, int ndim, const int64_t *dims, const uint8_t *data);
void drift_idx_free(drift_idx *idx);

/* ---- Datasets -------------------------------------------------------------------------- */

typedef struct drift_dataset {
    char name[96];          /* "fashion-mnist/train", "swiss_roll", "digits.npy", ... */
    int64_t n;              /* samples (rows of x) */
    int64_t dim;            /* D: floats per sample */
    int h, w, c;            /* image shape, h*w*c == dim, channel last; 0,0,0: not an image */
    float *x;               /* (n, dim) row-major, owned */
    int32_t *labels;        /* (n) values in [0, n_classes), owned; NULL when unlabelled */
    int n_classes;          /* 0 when unlabelled */
    const char *const *class_names; /* n_classes static strings, or NULL */
} drift_dataset;

/* Options of drift_dataset_open; zero-initialize, then set what you need. */
typedef struct drift_dataset_opts {
    const char *split;       /* "train" (NULL means train) or "test" */
    const char *data_dir;    /* where to look for fashion-mnist / mnist; NULL: default search */
    const char *labels_path; /* for NPY / IDX data given by path: a labels file, or NULL */
    int64_t n;               /* toys: points to draw (0: 10000); files: keep the first n (0: all) */
    uint64_t seed;           /* toys: the seed; "train" draws stream 0, "test" stream 1 */
} drift_dataset_opts;

/* Open a dataset by name:
 *   "fashion-mnist"       60000 train / 10000 test images 28x28x1, 10 classes
 *   "mnist"               9000 train / 1000 test digits 28x28x1 made by scripts/fetch_mnist
 *   a toy name            see above; dim 2
 *   a path "*.npy"        NPY file (n, D), (n, h, w), (n, h, w, c) or (n, c, h, w) with c <= 4
 *   a path "*-ubyte[.gz]" an IDX image file
 *   a folder              PNG images: DIR/NAME.png (unlabelled) or DIR/CLASS/NAME.png (labelled)
 * Unknown names: DRIFT_EINVAL, the message lists the valid ones. */
int drift_dataset_open(const char *name, const drift_dataset_opts *opts, drift_dataset *out);

/* Where the files of "fashion-mnist" or "mnist" live. With data_dir given, the files are
 * looked for in <data_dir>/<name>/ and then in <data_dir>/ itself; otherwise in
 * $DRIFT_DATA_DIR/<name>/, ./data/<name>/ and, for fashion-mnist, /usr/share/datasets/
 * fashion-mnist (Debian's dataset-fashion-mnist). A directory qualifies when it holds
 * train-images-idx3-ubyte(.gz). Not found: DRIFT_EIO with the message telling how to install
 * the dataset. */
int drift_dataset_find_dir(const char *name, const char *data_dir, char *dir, size_t dir_size);

/* Fashion-MNIST / MNIST from {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in the
 * directory found by drift_dataset_find_dir. split: "train" or "test". */
int drift_dataset_fashion_mnist(const char *data_dir, const char *split, drift_dataset *out);
int drift_dataset_mnist(const char *data_dir, const char *split, drift_dataset *out);

/* An IDX image file (idx2 (n, D), idx3 (n, h, w) or idx4 (n, h, w, c)) with an optional idx1
 * label file (NULL: unlabelled; n_classes = largest label + 1). */
int drift_dataset_from_idx(const char *images_path, const char *labels_path, drift_dataset *out);

/* An NPY file with an optional labels NPY (any integer dtype, shape (n,) or (n, 1), values
 * >= 0; n_classes = largest label + 1). uint8 arrays are pixels and are scaled to [-1, 1];
 * every other dtype is taken as float values unchanged. Shapes: (n, D) is not an image;
 * (n, h, w) is a grayscale image; (n, h, w, c) with c <= 4 is channel last; (n, c, h, w) with
 * c <= 4 < w is channel first and is transposed to channel last. NaN/Inf: DRIFT_ENUMERIC.
 * (drift_trainer_create refuses image-shaped data far outside [-1, 1]: its generators end in
 * tanh.) */
int drift_dataset_from_npy(const char *x_path, const char *labels_path, drift_dataset *out);
/* The same with only the first max_rows samples (and labels) read (drift_npy_read_rows: memory
 * for the rows used, not the file); max_rows < 0: all. The label file must still hold as many
 * labels as the sample file has rows. */
int drift_dataset_from_npy_rows(const char *x_path, const char *labels_path, int64_t max_rows, drift_dataset *out);

/* A folder of PNG images: DIR/NAME.png (unlabelled), or, when DIR holds no PNG itself,
 * DIR/CLASS/NAME.png with one subfolder per class (ImageFolder layout; classes are the
 * subfolders in byte order of their names, labels 0, 1, ...). Files are read in byte order of
 * their names; all must have the first image's size; gray (+alpha) gives c = 1, RGB(A) c = 3
 * (alpha dropped; a gray image in an RGB folder is repeated into the channels). Pixels map to
 * [-1, 1] as above. max_rows >= 0: only the first max_rows files are decoded. */
int drift_dataset_from_png_dir(const char *dir, int64_t max_rows, drift_dataset *out);
/* 1 when path is a directory (drift_dataset_open then reads it as a PNG folder), else 0. */
int drift_dataset_is_png_dir(const char *path);

/* n points of a toy distribution drawn from drift_rng stream (seed, stream); labelled when
 * the toy has labels. */
int drift_dataset_toy(const char *name, int64_t n, uint64_t seed, uint64_t stream,
                      drift_dataset *out);

/* Copy rows idx[0..k) into x (k, dim) and, when both are non-NULL, their labels. Indices out
 * of range: DRIFT_EINVAL. */
int drift_dataset_gather(const drift_dataset *d, const int64_t *idx, int64_t k, float *x,
                         int32_t *labels);

void drift_dataset_free(drift_dataset *d);

/* ---- Classes: index lists, sampling without replacement ------------------------------ */

/* The rows of each class: class c owns rows[start[c] .. start[c+1]), ascending. */
typedef struct drift_class_index {
    int n_classes;
    int64_t n;          /* total rows */
    int64_t *start;     /* n_classes + 1 offsets into rows */
    int64_t *rows;      /* n dataset rows grouped by class */
} drift_class_index;

/* Labels outside [0, n_classes): DRIFT_EINVAL naming the row. */
int drift_class_index_build(const int32_t *labels, int64_t n, int n_classes,
                            drift_class_index *out);
void drift_class_index_free(drift_class_index *ci);

/* k distinct rows of class c, uniformly at random, in random order. k larger than the class:
 * DRIFT_EINVAL. Costs O(size of the class) (a partial Fisher-Yates shuffle of a copy). */
int drift_class_sample(const drift_class_index *ci, int c, int64_t k, drift_rng *rng,
                       int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
