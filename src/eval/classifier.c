/* classifier.c — the feature network of the image metrics: training, scoring, the cache file.
 *
 * The network itself is the models module's `classifier` kind; this file only trains it
 * (softmax cross-entropy, AdamW with warm-up and a cosine schedule, random shifts as
 * augmentation), measures its test accuracy, and moves it to and from a safetensors file
 * whose metadata says what it is (dataset, accuracy, architecture). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drift/core.h"
#include "io/atomic.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "drift/nn.h"
#include "drift/optim.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "eval/eval_internal.h"

/* Batch of the forward passes used for scoring (features, accuracy). */
#define SCORE_BATCH 64
/* Augmentation: shifts of up to this many pixels in each direction. */
#define MAX_SHIFT 2

void drift_classifier_opts_default(drift_classifier_opts *o, const char *dataset)
{
    memset(o, 0, sizeof *o);
    o->dataset = dataset;
    /* Measured on 2 cores (docs/EVALUATION.md): Fashion-MNIST's 60k images need no
     * augmentation, 5 epochs reach 92% (shifts cost accuracy at that length); the 9k-image
     * MNIST split overfits without it, 12 epochs with shifts reach 98.8%. */
    int fashion = dataset && !strcmp(dataset, "fashion-mnist");
    o->epochs = fashion ? 5 : 12;
    o->batch = 128;
    o->lr = 2e-3;
    o->weight_decay = 1e-4;
    o->augment = !fashion;
    o->outliers = 0.25;
    o->progress_every = 50;
}

void drift_classifier_free(drift_classifier *c)
{
    if (!c) return;
    drift_model_free(c->model);
    drift_free(c);
}

static int make_classifier(const drift_model_config *cfg, int max_batch, drift_classifier **out)
{
    drift_classifier *c = drift_alloc(1, sizeof *c);
    if (!c) return DRIFT_ENOMEM;
    int st = drift_model_create(cfg, max_batch, &c->model);
    if (st) {
        drift_free(c);
        return st;
    }
    *out = c;
    return DRIFT_OK;
}

/* Shift an h×w single-channel image by (dy, dx), filling with the background value −1
 * (pixel 0 in drift's [-1, 1] range). */
static void shift_image(float *dst, const float *src, int h, int w, int c, int dy, int dx)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int sy = y - dy, sx = x - dx, in = sy >= 0 && sy < h && sx >= 0 && sx < w;
            for (int k = 0; k < c; k++)
                dst[(y * w + x) * c + k] = in ? src[(sy * w + sx) * c + k] : -1.0f;
        }
}

static int argmax(const float *v, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

int drift_classifier_features(drift_classifier *c, const float *images, int64_t n, float *feats,
                              float *logits)
{
    if (!c || !c->model || !images || !feats)
        return drift_error(DRIFT_EINVAL, "classifier features: NULL argument");
    if (n < 1) return drift_error(DRIFT_ESHAPE, "classifier features: n must be >= 1");
    drift_model *m = c->model;
    const int64_t chunk = m->max_batch;
    for (int64_t i = 0; i < n; i += chunk) {
        int b = (int)(n - i < chunk ? n - i : chunk);
        int st = drift_model_features(m, images + (size_t)i * m->in_dim, b,
                                      feats + (size_t)i * m->feature_dim,
                                      logits ? logits + (size_t)i * m->out_dim : NULL);
        if (st) return drift_error_context(st, "classifier features, rows %" PRId64 "..", i);
    }
    return DRIFT_OK;
}

int drift_classifier_accuracy(drift_classifier *c, const float *images, const int32_t *labels,
                              int64_t n, double *accuracy)
{
    if (!c || !c->model || !images || !labels || !accuracy)
        return drift_error(DRIFT_EINVAL, "classifier accuracy: NULL argument");
    if (n < 1) return drift_error(DRIFT_ESHAPE, "classifier accuracy: n must be >= 1");
    drift_model *m = c->model;
    const int k = m->out_dim; /* the data's classes, then the outlier class if there is one */
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c->n_classes)
            return drift_error(DRIFT_EINVAL, "label %d of row %" PRId64 " is outside [0, %d)",
                               labels[i], i, c->n_classes);
    const int64_t chunk = m->max_batch;
    float *feats = drift_alloc((size_t)chunk * m->feature_dim, sizeof(float));
    float *logits = drift_alloc((size_t)chunk * k, sizeof(float));
    if (!feats || !logits) {
        drift_free(feats), drift_free(logits);
        return DRIFT_ENOMEM;
    }
    int64_t correct = 0;
    int st = DRIFT_OK;
    for (int64_t i = 0; i < n && !st; i += chunk) {
        int b = (int)(n - i < chunk ? n - i : chunk);
        st = drift_model_features(m, images + (size_t)i * m->in_dim, b, feats, logits);
        for (int r = 0; r < b && !st; r++) correct += argmax(logits + (size_t)r * k, k) == labels[i + r];
    }
    drift_free(feats), drift_free(logits);
    if (st) return drift_error_context(st, "classifier accuracy");
    *accuracy = (double)correct / (double)n;
    return DRIFT_OK;
}

static int check_image_dataset(const drift_dataset *d)
{
    if (d->h <= 0 || (d->c != 1 && d->c != 3) || d->h % 2 || d->w % 2 || !d->labels || d->n_classes < 2)
        return drift_error(DRIFT_EINVAL,
                           "%s: the classifier needs labelled gray or RGB images of even sides, got %s%s",
                           d->name, d->h > 0 ? "images of another shape" : "non-image data",
                           d->labels ? "" : " without labels");
    return DRIFT_OK;
}

int drift_classifier_train(const drift_classifier_opts *o, drift_classifier **out)
{
    if (!o || !out || !o->dataset) return drift_error(DRIFT_EINVAL, "classifier train: no dataset");
    *out = NULL;
    drift_dataset train = {0}, test = {0};
    drift_dataset_opts dopts = {.split = "train", .data_dir = o->data_dir, .n = o->train_limit};
    int st = drift_dataset_open(o->dataset, &dopts, &train);
    if (st == DRIFT_OK) {
        dopts.split = "test";
        dopts.n = o->test_limit;
        st = drift_dataset_open(o->dataset, &dopts, &test);
    }
    if (st == DRIFT_OK) st = drift_classifier_train_on(&train, &test, o, out);
    drift_dataset_free(&train);
    drift_dataset_free(&test);
    return st;
}

int drift_classifier_train_on(const drift_dataset *train, const drift_dataset *test,
                              const drift_classifier_opts *o, drift_classifier **out)
{
    if (!train || !test || !o || !out)
        return drift_error(DRIFT_EINVAL, "classifier train: NULL argument");
    *out = NULL;
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || o->weight_decay < 0 ||
        o->max_steps < 0 || o->train_limit < 0 || o->test_limit < 0)
        return drift_error(DRIFT_EINVAL, "classifier train: epochs, batch and lr must be > 0 "
                                         "(got %d, %d, %g); limits >= 0", o->epochs, o->batch, o->lr);
    if (!(o->outliers >= 0 && o->outliers <= 4))
        return drift_error(DRIFT_EINVAL, "classifier train: outliers per real image must be in "
                                         "[0, 4], got %g", o->outliers);
    drift_classifier *c = NULL;
    drift_adamw opt = {0};
    float *x = NULL, *aug = NULL, *logits = NULL, *probs = NULL, *dlogits = NULL;
    int32_t *y = NULL;
    int64_t *rows = NULL;
    int *perm = NULL;
    unsigned char *mask = NULL;
    int st = check_image_dataset(train);
    if (st == DRIFT_OK) st = check_image_dataset(test);
    if (st) return st;
    if (test->dim != train->dim || test->n_classes > train->n_classes)
        return drift_error(DRIFT_ESHAPE, "%s and %s differ in image size or classes", train->name,
                           test->name);
    if (train->n > INT32_MAX) return drift_error(DRIFT_EINVAL, "%s: too many rows", train->name);

    drift_model_config cfg;
    if ((st = drift_model_config_default(DRIFT_MODEL_CLASSIFIER, &cfg))) goto done;
    cfg.channels = train->c;
    cfg.height = train->h;
    cfg.width = train->w;
    /* Outlier exposure: one more class, "not an image of this dataset", fed synthetic
     * outliers (corrupt.c) beside every batch of real images. */
    const int with_outliers = o->outliers > 0;
    cfg.n_classes = train->n_classes + with_outliers;
    const int bs = o->batch < train->n ? o->batch : (int)train->n;
    const int n_out = with_outliers ? (int)ceil(o->outliers * bs) : 0;
    const int bt = bs + n_out; /* rows per step */
    if ((st = make_classifier(&cfg, bt > SCORE_BATCH ? bt : SCORE_BATCH, &c))) goto done;
    drift_model *m = c->model;
    c->n_classes = train->n_classes;
    c->outlier_class = with_outliers ? train->n_classes : -1;
    if ((st = drift_model_init_params(m, o->seed))) goto done;
    snprintf(c->dataset, sizeof c->dataset, "%s", o->dataset ? o->dataset : train->name);

    const int64_t steps_per_epoch = (train->n + bs - 1) / bs;
    int64_t total = steps_per_epoch * o->epochs;
    if (o->max_steps > 0 && o->max_steps < total) total = o->max_steps;
    drift_lr_schedule sched = {.base_lr = o->lr, .warmup_steps = total >= 20 ? total / 20 : 0,
                               .decay = DRIFT_LR_COSINE, .total_steps = total,
                               .min_lr = o->lr / 20};
    if (sched.warmup_steps >= total) sched.warmup_steps = 0;
    if ((st = drift_lr_schedule_check(&sched))) goto done;
    if ((st = drift_adamw_init(&opt, m->n_params, 0.9f, 0.999f, 1e-8f, (float)o->weight_decay)))
        goto done;
    const int k = m->out_dim, d = m->in_dim;
    x = drift_alloc((size_t)bs * d, sizeof(float));
    aug = drift_alloc((size_t)bt * d, sizeof(float));
    logits = drift_alloc((size_t)bt * k, sizeof(float));
    probs = drift_alloc((size_t)bt * k, sizeof(float));
    dlogits = drift_alloc((size_t)bt * k, sizeof(float));
    y = drift_alloc((size_t)bt, sizeof(int32_t));
    rows = drift_alloc((size_t)bs, sizeof(int64_t));
    perm = drift_alloc((size_t)train->n, sizeof(int));
    mask = drift_alloc(m->n_params, 1);
    if (!x || !aug || !logits || !probs || !dlogits || !y || !rows || !perm || !mask) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if ((st = drift_model_decay_mask(m, mask))) goto done;

    int64_t step = 0, seen = 0, correct = 0;
    double loss_sum = 0;
    for (int epoch = 0; step < total; epoch++) {
        drift_rng shuffle;
        drift_rng_init(&shuffle, o->seed, DRIFT_STREAM(1, epoch));
        for (int64_t i = 0; i < train->n; i++) perm[i] = (int)i;
        drift_rng_shuffle(&shuffle, perm, (size_t)train->n);
        for (int64_t b0 = 0; b0 < train->n && step < total; b0 += bs, step++) {
            int b = (int)(train->n - b0 < bs ? train->n - b0 : bs);
            for (int r = 0; r < b; r++) rows[r] = perm[b0 + r];
            if ((st = drift_dataset_gather(train, rows, b, x, y))) goto done;
            const float *input = x;
            if (o->augment) {
                drift_rng r;
                drift_rng_init(&r, o->seed, DRIFT_STREAM(2, step));
                for (int s = 0; s < b; s++) {
                    int dy = (int)drift_rng_below(&r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;
                    int dx = (int)drift_rng_below(&r, 2 * MAX_SHIFT + 1) - MAX_SHIFT;
                    shift_image(aug + (size_t)s * d, x + (size_t)s * d, train->h, train->w, train->c, dy, dx);
                }
                input = aug;
            }
            if (n_out) {
                /* outliers after the real rows, each made from a random real row of the batch */
                if (input == x) memcpy(aug, x, (size_t)b * d * sizeof(float));
                drift_rng r;
                drift_rng_init(&r, o->seed, DRIFT_STREAM(3, step));
                for (int s = 0; s < n_out; s++) {
                    int type = (int)drift_rng_below(&r, EVAL_OUTLIER_TYPES);
                    const float *real = x + (size_t)drift_rng_below(&r, (uint64_t)b) * d;
                    eval_synth_outlier(aug + (size_t)(b + s) * d, type, real, train->h, train->w,
                                       train->c, &r);
                    y[b + s] = c->outlier_class;
                }
                input = aug;
                b += n_out;
            }
            if ((st = drift_model_forward(m, input, NULL, NULL, b, logits))) goto done;
            double loss;
            drift_softmax_xent_forward(probs, &loss, logits, y, b, k);
            memset(dlogits, 0, (size_t)b * k * sizeof(float));
            drift_softmax_xent_backward(dlogits, probs, y, b, k, 1.0f);
            drift_model_zero_grad(m);
            if ((st = drift_model_backward(m, dlogits))) goto done;
            double norm;
            if (drift_clip_grad_norm(m->grads, m->n_params, 5.0f, &norm) != DRIFT_OK) {
                st = drift_error(DRIFT_ENUMERIC, "classifier training diverged at step %" PRId64,
                                 step);
                goto done;
            }
            if ((st = drift_adamw_step(&opt, m->params, m->grads,
                                       (float)drift_lr_at(&sched, step), mask)))
                goto done;
            for (int r = 0; r < b; r++) correct += argmax(logits + (size_t)r * k, k) == y[r];
            seen += b;
            loss_sum += loss * b;
            int last = step + 1 == total;
            if (o->progress && ((o->progress_every > 0 && (step + 1) % o->progress_every == 0) || last)) {
                o->progress(o->progress_ctx, step + 1, total, loss_sum / seen,
                            (double)correct / seen);
                seen = correct = 0;
                loss_sum = 0;
            }
        }
    }
    c->steps = total;
    c->train_images = train->n;
    st = drift_classifier_accuracy(c, test->x, test->labels, test->n, &c->test_accuracy);
done:
    if (st) {
        drift_classifier_free(c);
        c = NULL;
    }
    *out = c;
    drift_adamw_free(&opt);
    drift_free(x), drift_free(aug), drift_free(logits), drift_free(probs), drift_free(dlogits);
    drift_free(y), drift_free(rows), drift_free(perm), drift_free(mask);
    return st;
}

int drift_classifier_save(const drift_classifier *c, const char *path)
{
    if (!c || !c->model || !path) return drift_error(DRIFT_EINVAL, "classifier save: NULL argument");
    const drift_model *m = c->model;
    int st = drift_mkdir_parents(path);
    if (st) return st;
    drift_st_tensor *t = drift_alloc((size_t)m->n_tensors, sizeof *t);
    if (!t) return DRIFT_ENOMEM;
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *p = &m->tensors[i];
        t[i].name = p->name;
        t[i].dtype = DRIFT_DTYPE_F32;
        t[i].ndim = p->ndim;
        for (int j = 0; j < p->ndim; j++) t[i].shape[j] = p->shape[j];
        t[i].data = m->params + p->offset;
    }
    char arch[512], acc[32], steps[32], images[32], classes[16], outlier[16];
    if ((st = drift_model_config_format(&m->cfg, arch, sizeof arch))) {
        drift_free(t);
        return st;
    }
    snprintf(acc, sizeof acc, "%.6f", c->test_accuracy);
    snprintf(steps, sizeof steps, "%" PRId64, c->steps);
    snprintf(images, sizeof images, "%" PRId64, c->train_images);
    snprintf(classes, sizeof classes, "%d", c->n_classes);
    snprintf(outlier, sizeof outlier, "%d", c->outlier_class);
    drift_st_meta meta[] = {
        {"format", DRIFT_CLASSIFIER_FORMAT}, {"dataset", c->dataset}, {"test_accuracy", acc},
        {"architecture", arch}, {"steps", steps}, {"train_images", images},
        {"classes", classes}, {"outlier_class", outlier},
    };
    st = drift_safetensors_write(path, t, (size_t)m->n_tensors, meta, sizeof meta / sizeof *meta);
    drift_free(t);
    return st;
}

int drift_classifier_load(const char *path, const char *expect_dataset, drift_classifier **out)
{
    if (!path || !out) return drift_error(DRIFT_EINVAL, "classifier load: NULL argument");
    *out = NULL;
    drift_safetensors *st_file = NULL;
    int st = drift_safetensors_read(path, &st_file);
    if (st) return st;
    drift_classifier *c = NULL;
    const char *format = drift_safetensors_meta(st_file, "format");
    const char *dataset = drift_safetensors_meta(st_file, "dataset");
    const char *arch = drift_safetensors_meta(st_file, "architecture");
    const char *acc = drift_safetensors_meta(st_file, "test_accuracy");
    const char *steps = drift_safetensors_meta(st_file, "steps");
    const char *images = drift_safetensors_meta(st_file, "train_images");
    const char *classes = drift_safetensors_meta(st_file, "classes");
    const char *outlier = drift_safetensors_meta(st_file, "outlier_class");
    /* format 1 (before outlier exposure) had no outlier class: it still loads, and says so */
    int v1 = format && !strcmp(format, DRIFT_CLASSIFIER_FORMAT_V1);
    if (!format || (strcmp(format, DRIFT_CLASSIFIER_FORMAT) && !v1) || !dataset || !arch || !acc ||
        (!v1 && (!classes || !outlier))) {
        st = drift_error(DRIFT_EFORMAT, "%s: not a drift classifier (metadata format \"%s\", "
                                        "expected \"%s\" with dataset, architecture, test_accuracy)",
                         path, format ? format : "(none)", DRIFT_CLASSIFIER_FORMAT);
        goto done;
    }
    if (expect_dataset && strcmp(dataset, expect_dataset)) {
        st = drift_error(DRIFT_EINVAL, "%s: this classifier was trained on %s, not %s", path,
                         dataset, expect_dataset);
        goto done;
    }
    drift_model_config cfg;
    if ((st = drift_model_config_parse(arch, &cfg))) {
        st = drift_error_context(st, "%s: architecture", path);
        goto done;
    }
    if (cfg.kind != DRIFT_MODEL_CLASSIFIER) {
        st = drift_error(DRIFT_EFORMAT, "%s: architecture is a %s, not a classifier", path,
                         drift_model_kind_name(cfg.kind));
        goto done;
    }
    if ((st = make_classifier(&cfg, SCORE_BATCH, &c))) goto done;
    drift_model *m = c->model;
    c->n_classes = v1 ? cfg.n_classes : (int)strtol(classes, NULL, 10);
    c->outlier_class = v1 ? -1 : (int)strtol(outlier, NULL, 10);
    if (c->n_classes < 2 || c->n_classes > cfg.n_classes ||
        (c->outlier_class >= 0 ? c->outlier_class != c->n_classes || cfg.n_classes != c->n_classes + 1
                               : c->outlier_class != -1 || cfg.n_classes != c->n_classes)) {
        st = drift_error(DRIFT_EFORMAT, "%s: classes %d and outlier class %d do not fit the %d "
                                        "outputs of the architecture", path, c->n_classes,
                         c->outlier_class, cfg.n_classes);
        goto done;
    }
    if (drift_safetensors_count(st_file) != (size_t)m->n_tensors) {
        st = drift_error(DRIFT_EFORMAT, "%s: %zu tensors, the architecture has %d", path,
                         drift_safetensors_count(st_file), m->n_tensors);
        goto done;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *p = &m->tensors[i];
        if ((st = drift_safetensors_copy(st_file, p->name, DRIFT_DTYPE_F32, m->params + p->offset,
                                         p->count)))
            goto done;
    }
    if (!drift_all_finite_f32(m->params, m->n_params)) {
        st = drift_error(DRIFT_ENUMERIC, "%s: parameters hold NaN or Inf", path);
        goto done;
    }
    snprintf(c->dataset, sizeof c->dataset, "%s", dataset);
    c->test_accuracy = strtod(acc, NULL);
    c->steps = steps ? strtoll(steps, NULL, 10) : 0;
    c->train_images = images ? strtoll(images, NULL, 10) : 0;
done:
    drift_safetensors_free(st_file);
    if (st) {
        drift_classifier_free(c);
        c = NULL;
    }
    *out = c;
    return st;
}

int drift_cache_dir(const char *cache_dir, char *buf, size_t size)
{
    const char *env = getenv("DRIFT_CACHE_DIR"), *home = getenv("HOME");
    int n;
    if (cache_dir && *cache_dir) n = snprintf(buf, size, "%s", cache_dir);
    else if (env && *env) n = snprintf(buf, size, "%s", env);
    else if (home && *home) n = snprintf(buf, size, "%s/.cache/drift", home);
    else
        return drift_error(DRIFT_EINVAL, "no cache directory: pass one, or set DRIFT_CACHE_DIR "
                                         "or HOME");
    if (n < 0 || (size_t)n >= size) return drift_error(DRIFT_EINVAL, "cache directory path too long");
    return DRIFT_OK;
}

int drift_classifier_path(const char *cache_dir, const char *dataset, char *buf, size_t size)
{
    if (!dataset || !*dataset || strchr(dataset, '/'))
        return drift_error(DRIFT_EINVAL, "classifier path: bad dataset name '%s'",
                           dataset ? dataset : "(null)");
    char dir[4096];
    int st = drift_cache_dir(cache_dir, dir, sizeof dir);
    if (st) return st;
    int n = snprintf(buf, size, "%s/classifier-%s.safetensors", dir, dataset);
    if (n < 0 || (size_t)n >= size) return drift_error(DRIFT_EINVAL, "classifier path too long");
    return DRIFT_OK;
}
