/* evaluator.c — image samples scored against a dataset's test split in classifier features.
 *
 * Everything that depends only on the reference set is computed once when the evaluator is
 * opened; drift_eval_images then costs one forward pass over the samples plus the metrics'
 * sample-dependent parts. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/json.h"
#include "drift/models.h"
#include "eval/eval_internal.h"

struct drift_evaluator {
    drift_classifier *clf;
    char clf_path[4096];
    char dataset[64];
    char key[64];                /* own reference: the cached feature network's key (ownref.c) */
    int own;                     /* the reference is the user's own (a path), not a named test split */
    int labelled;                /* the reference has classes: class accuracy can be measured */
    int h, w, c, dim;            /* image shape the samples must have */
    int k;
    int64_t n_ref;
    int feat_dim;
    float *ref_feats;            /* (n_ref, feat_dim) */
    drift_feature_stats ref_stats;
    double *ref_sqrt_cov;        /* (feat_dim, feat_dim): C_ref^½ for FID */
    double mmd_h2;               /* squared bandwidth: median of reference squared distances */
    double mmd_ref_sum;          /* Σ_{i≠i'} k(ref_i, ref_i') */
    eval_collapse_ref collapse;  /* the reference images' spreads and near-copy distance, in
                                    pixels (collapse check) */
    /* The k-NN metrics' reference pool: the test images the feature network accepts as
     * images of the dataset (all but a handful). */
    int64_t *pool;
    int64_t n_pool;
    /* The precision/recall reference subset for the last sample count m. */
    int64_t prdc_m;
    float *prdc_ref;             /* (prdc_m, feat_dim) */
    float *prdc_radii;           /* (prdc_m) */
};

static void say(const drift_evaluator_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(const drift_evaluator_opts *o, const char *fmt, ...)
{
    if (!o->log) return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    o->log(o->log_ctx, line);
}

void drift_evaluator_free(drift_evaluator *ev)
{
    if (!ev) return;
    drift_classifier_free(ev->clf);
    drift_free(ev->ref_feats);
    drift_feature_stats_free(&ev->ref_stats);
    drift_free(ev->ref_sqrt_cov);
    drift_free(ev->prdc_ref);
    drift_free(ev->prdc_radii);
    drift_free(ev->pool);
    eval_collapse_ref_free(&ev->collapse);
    drift_free(ev);
}

drift_classifier *drift_evaluator_classifier(drift_evaluator *ev) { return ev ? ev->clf : NULL; }

const char *drift_evaluator_classifier_path(const drift_evaluator *ev)
{
    return ev ? ev->clf_path : "";
}

void drift_evaluator_image_shape(const drift_evaluator *ev, int *h, int *w, int *c)
{
    *h = ev->h, *w = ev->w, *c = ev->c;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The classifier from the cache, or a freshly trained one when allowed. An own reference (ref
 * loaded) keys the cache by its content and trains on itself (ownref.c). */
static int get_classifier(const drift_evaluator_opts *o, drift_evaluator *ev, const drift_dataset *ref)
{
    int st;
    if (ev->own) {
        if (o->classifier_path) {
            if (snprintf(ev->clf_path, sizeof ev->clf_path, "%s", o->classifier_path) >= (int)sizeof ev->clf_path)
                return drift_error(DRIFT_EINVAL, "classifier path too long");
            say(o, "loading classifier %s", ev->clf_path);
            return drift_classifier_load(ev->clf_path, NULL, &ev->clf);
        }
        if ((st = drift_classifier_path(o->cache_dir, ev->key, ev->clf_path, sizeof ev->clf_path))) return st;
        if (access(ev->clf_path, F_OK) == 0) {
            say(o, "loading the feature network of %s: %s", ev->dataset, ev->clf_path);
            return drift_classifier_load(ev->clf_path, ev->key, &ev->clf);
        }
        if (!o->train_if_missing)
            return drift_error(DRIFT_EIO, "no feature network for the reference %s in %s (drift eval trains one on "
                                          "first use)", ev->dataset, ev->clf_path);
        say(o, "no feature network for %s yet: training one on its %lld images (%s), saved to %s", ev->dataset,
            (long long)ref->n, ev->labelled ? "their labels" : "no labels: which way each image is turned",
            ev->clf_path);
        double t0 = drift_now();
        if ((st = eval_own_train(ref, ev->key, o->train_opts, &ev->clf))) return st;
        if ((st = drift_classifier_save(ev->clf, ev->clf_path))) return st;
        say(o, "trained the feature network of %s in %.0f s: %s accuracy %.2f%% on the reference itself", ev->dataset,
            drift_now() - t0, ev->labelled ? "class" : "orientation", 100 * ev->clf->test_accuracy);
        return DRIFT_OK;
    }
    if (o->classifier_path) {
        /* the user's own choice of file: used as it is, even without an outlier class */
        if (snprintf(ev->clf_path, sizeof ev->clf_path, "%s", o->classifier_path) >=
            (int)sizeof ev->clf_path)
            return drift_error(DRIFT_EINVAL, "classifier path too long");
        say(o, "loading classifier %s", ev->clf_path);
        if ((st = drift_classifier_load(ev->clf_path, o->dataset, &ev->clf))) return st;
        if (ev->clf->outlier_class < 0)
            say(o, "warning: %s was trained without outlier exposure: noise and flat images can "
                   "score as realistic in its features (docs/EVALUATION.md)", ev->clf_path);
        return DRIFT_OK;
    }
    if ((st = drift_classifier_path(o->cache_dir, o->dataset, ev->clf_path, sizeof ev->clf_path)))
        return st;
    const char *why = "no classifier";
    if (access(ev->clf_path, F_OK) == 0) {
        say(o, "loading classifier %s", ev->clf_path);
        if ((st = drift_classifier_load(ev->clf_path, o->dataset, &ev->clf))) return st;
        if (ev->clf->outlier_class >= 0) return DRIFT_OK;
        /* A cached classifier from before outlier exposure grades noise as realistic: the
         * cache is drift's own, so it is replaced rather than trusted. */
        drift_classifier_free(ev->clf);
        ev->clf = NULL;
        why = "only a classifier without outlier exposure (an older drift)";
    }
    if (!o->train_if_missing)
        return drift_error(DRIFT_EIO, "%s for %s in %s: train one with "
                                      "'drift classifier train --data %s'", why, o->dataset,
                           ev->clf_path, o->dataset);
    drift_classifier_opts defaults;
    const drift_classifier_opts *to = o->train_opts;
    if (!to) {
        drift_classifier_opts_default(&defaults, o->dataset);
        defaults.data_dir = o->data_dir;
        to = &defaults;
    }
    say(o, "%s for %s in %s: training one now (%d epochs, a minute or two on 2 cores)", why,
        o->dataset, ev->clf_path, to->epochs);
    double t0 = drift_now();
    if ((st = drift_classifier_train(to, &ev->clf))) return st;
    if ((st = drift_classifier_save(ev->clf, ev->clf_path))) return st;
    say(o, "trained the %s classifier in %.0f s: test accuracy %.2f%%, saved to %s", o->dataset,
        drift_now() - t0, 100 * ev->clf->test_accuracy, ev->clf_path);
    return DRIFT_OK;
}

static int evaluator_open(const drift_evaluator_opts *o, const drift_dataset *given, drift_evaluator **out);

int drift_evaluator_open(const drift_evaluator_opts *o, drift_evaluator **out)
{
    return evaluator_open(o, NULL, out);
}

int drift_evaluator_open_ref(const drift_evaluator_opts *o, const drift_dataset *ref, drift_evaluator **out)
{
    if (!ref) return drift_error(DRIFT_EINVAL, "evaluator: no reference set");
    return evaluator_open(o, ref, out);
}

static int evaluator_open(const drift_evaluator_opts *o, const drift_dataset *given, drift_evaluator **out)
{
    if (!o || !out || !o->dataset) return drift_error(DRIFT_EINVAL, "evaluator: no dataset");
    *out = NULL;
    if (o->n_ref < 0) return drift_error(DRIFT_EINVAL, "evaluator: n_ref must be >= 0");
    if (o->k < 0) return drift_error(DRIFT_EINVAL, "evaluator: k must be >= 0");
    drift_evaluator *ev = drift_alloc(1, sizeof *ev);
    if (!ev) return DRIFT_ENOMEM;
    ev->own = given || (strcmp(o->dataset, "mnist") && strcmp(o->dataset, "fashion-mnist"));
    {
        const char *base = ev->own ? strrchr(o->dataset, '/') : NULL;
        snprintf(ev->dataset, sizeof ev->dataset, "%s", base && base[1] ? base + 1 : o->dataset);
    }
    ev->k = o->k ? o->k : DRIFT_PRDC_K;
    drift_dataset test = {0};
    drift_dataset_opts dopts = {.split = "test", .data_dir = o->data_dir, .n = o->n_ref,
                                .labels_path = ev->own ? o->labels_path : NULL};
    int st = DRIFT_OK;
    if (given) test = *given; /* borrowed: not freed below */
    else st = drift_dataset_open(o->dataset, &dopts, &test);
    if (st) goto done;
    if (test.h <= 0) {
        st = drift_error(DRIFT_EINVAL, "evaluator: %s is not an image dataset (for toy data use "
                                       "drift_eval_toy)", o->dataset);
        goto done;
    }
    if (ev->own && ((test.c != 1 && test.c != 3) || test.h % 2 || test.w % 2 || test.h < 4 || test.w < 4)) {
        st = drift_error(DRIFT_EUNSUPPORTED, "evaluator: %s has %dx%dx%d images; the feature network takes gray or "
                                             "RGB images with even sides of at least 4", o->dataset, test.h, test.w, test.c);
        goto done;
    }
    ev->labelled = ev->own ? eval_own_labelled(&test) : test.labels != NULL;
    if (ev->own && (st = eval_own_key(&test, ev->key, sizeof ev->key))) goto done;
    if ((st = get_classifier(o, ev, &test))) goto done;
    drift_model *m = ev->clf->model;
    if (m->in_dim != test.dim) {
        st = drift_error(DRIFT_ESHAPE, "%s: the classifier takes %d values per image, the %s "
                                       "test images have %" PRId64, ev->clf_path, m->in_dim,
                         o->dataset, test.dim);
        goto done;
    }
    ev->h = test.h, ev->w = test.w, ev->c = test.c, ev->dim = (int)test.dim;
    ev->n_ref = test.n;
    ev->feat_dim = m->feature_dim;
    if (test.n < ev->k + 1) {
        st = drift_error(DRIFT_ESHAPE, "evaluator: %" PRId64 " reference images, k = %d needs more",
                         test.n, ev->k);
        goto done;
    }
    say(o, "computing reference statistics of %" PRId64 " %s %s images", test.n, ev->dataset,
        ev->own ? "reference" : "test");
    const int f = ev->feat_dim;
    ev->ref_feats = drift_alloc((size_t)test.n * f, sizeof(float));
    ev->ref_sqrt_cov = drift_alloc((size_t)f * f, sizeof(double));
    if (!ev->ref_feats || !ev->ref_sqrt_cov) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    /* Outlier-class test images are left out of the k-NN metrics' reference: a real image
     * the network calls "not an image of this dataset" lies next to the outlier region, far
     * from every other real image, so its k-NN ball is among the largest and covers noise and
     * flat images (Fashion-MNIST: the 6 of 10,000 test images it assigns to the outlier class
     * held black and grey images in their balls, precision 1.0; at 2,000 reference images one
     * more, with p(outlier) 0.09, still did). Left out: p(outlier) ≥ 1 %, about 0.3 % of the
     * test images. FID and MMD keep the whole test split. */
    float *ref_logits = drift_alloc((size_t)test.n * m->out_dim, sizeof(float));
    ev->pool = drift_alloc((size_t)test.n, sizeof(int64_t));
    if (!ref_logits || !ev->pool) {
        drift_free(ref_logits);
        st = DRIFT_ENOMEM;
        goto done;
    }
    st = drift_classifier_features(ev->clf, test.x, test.n, ev->ref_feats, ref_logits);
    /* p(outlier) of each test image (0 without an outlier class) */
    float *p_out = st == DRIFT_OK ? drift_alloc((size_t)test.n * 2, sizeof(float)) : NULL;
    if (st == DRIFT_OK && !p_out) st = DRIFT_ENOMEM;
    for (int64_t i = 0; i < test.n && st == DRIFT_OK; i++) {
        const float *l = ref_logits + (size_t)i * m->out_dim;
        p_out[i] = 0;
        if (ev->clf->outlier_class >= 0) {
            float mx = l[0];
            for (int j = 1; j < m->out_dim; j++) mx = fmaxf(mx, l[j]);
            double z = 0;
            for (int j = 0; j < m->out_dim; j++) z += exp((double)l[j] - mx);
            p_out[i] = (float)(exp((double)l[ev->clf->outlier_class] - mx) / z);
        }
    }
    /* Left out: p(outlier) >= 1 %, but never more than the 1 % most outlying images (a barely
     * trained network is unsure of every image). */
    if (st == DRIFT_OK) {
        float *sorted = p_out + test.n, cut = (float)DRIFT_EVAL_REF_MAX_OUTLIER_P;
        memcpy(sorted, p_out, (size_t)test.n * sizeof(float));
        /* descending; sorted[k] is the largest value that must stay (k = n/100 may go) */
        qsort(sorted, (size_t)test.n, sizeof(float), cmp_desc);
        const int64_t k = test.n / 100;
        if (sorted[k] >= cut) cut = nextafterf(sorted[k], INFINITY);
        for (int64_t i = 0; i < test.n; i++)
            if (!(p_out[i] >= cut)) ev->pool[ev->n_pool++] = i;
    }
    drift_free(p_out);
    drift_free(ref_logits);
    if (st == DRIFT_OK && ev->n_pool < ev->k + 1)
        st = drift_error(DRIFT_ENUMERIC, "evaluator: the classifier calls all but %" PRId64
                                         " of the %" PRId64 " reference images outliers",
                         ev->n_pool, test.n);
    if (st ||
        (st = drift_feature_stats_compute(ev->ref_feats, test.n, f, &ev->ref_stats)) ||
        (st = drift_sqrtm_psd(ev->ref_stats.cov, f, ev->ref_sqrt_cov)) ||
        (st = drift_median_sqdist(ev->ref_feats, test.n, f, &ev->mmd_h2)))
        goto done;
    if (!(ev->mmd_h2 > 0)) {
        st = drift_error(DRIFT_ENUMERIC, "evaluator: the reference features are all equal");
        goto done;
    }
    st = eval_gaussian_kernel_sum(ev->ref_feats, test.n, ev->ref_feats, test.n, f, ev->mmd_h2, 1,
                                  &ev->mmd_ref_sum);
    if (st == DRIFT_OK && ev->labelled && test.n_classes > ev->clf->n_classes)
        st = drift_error(DRIFT_ESHAPE, "%s: the classifier knows %d classes, the %s test split "
                                       "has %d", ev->clf_path, ev->clf->n_classes, o->dataset,
                         test.n_classes);
    if (st == DRIFT_OK)
        st = eval_collapse_ref_init(&ev->collapse, test.x, ev->labelled ? test.labels : NULL, test.n, ev->dim,
                                    ev->labelled ? ev->clf->n_classes : 0);

done:
    if (!given) drift_dataset_free(&test);
    if (st) {
        drift_evaluator_free(ev);
        return st;
    }
    *out = ev;
    return DRIFT_OK;
}

/* The reference subset and its radii for m samples: m evenly spaced reference rows. */
static int prepare_prdc(drift_evaluator *ev, int64_t m)
{
    if (ev->prdc_m == m) return DRIFT_OK;
    const int f = ev->feat_dim;
    drift_free(ev->prdc_ref), drift_free(ev->prdc_radii);
    ev->prdc_m = 0;
    ev->prdc_ref = drift_alloc((size_t)m * f, sizeof(float));
    ev->prdc_radii = drift_alloc((size_t)m, sizeof(float));
    if (!ev->prdc_ref || !ev->prdc_radii) return DRIFT_ENOMEM;
    for (int64_t i = 0; i < m; i++)
        memcpy(ev->prdc_ref + (size_t)i * f, ev->ref_feats + (size_t)ev->pool[i * ev->n_pool / m] * f,
               (size_t)f * sizeof(float));
    int st = drift_knn_sqradii(ev->prdc_ref, m, f, ev->k, ev->prdc_radii);
    if (st == DRIFT_OK) ev->prdc_m = m;
    return st;
}

int drift_eval_images(drift_evaluator *ev, const float *samples, int64_t dim,
                      const int32_t *labels, int64_t n, drift_image_metrics *out)
{
    if (!ev || !out) return drift_error(DRIFT_EINVAL, "eval images: NULL argument");
    memset(out, 0, sizeof *out);
    if (dim != ev->dim)
        return drift_error(DRIFT_ESHAPE, "samples have %" PRId64 " values per row, but %s images "
                                         "are %dx%dx%d = %d", dim, ev->dataset, ev->h, ev->w,
                           ev->c, ev->dim);
    int st = eval_check_set(samples, n, (int)dim, (int64_t)ev->k + 1, "samples");
    if (st) return st;
    drift_model *model = ev->clf->model;
    const int f = ev->feat_dim, nc = model->out_dim, classes = ev->clf->n_classes;
    if (labels && !ev->labelled)
        return drift_error(DRIFT_EINVAL, "sample labels given, but the reference %s has none: class accuracy needs "
                                         "a labelled reference (drift eval --ref-labels)", ev->dataset);
    if (labels)
        for (int64_t i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= classes)
                return drift_error(DRIFT_EINVAL, "label %d of sample %" PRId64 " is outside "
                                                 "[0, %d) (%s has %d classes)", labels[i], i,
                                   classes, ev->dataset, classes);
    float *feats = drift_alloc((size_t)n * f, sizeof(float));
    float *logits = drift_alloc((size_t)n * nc, sizeof(float));
    drift_feature_stats fs = {0};
    if (!feats || !logits) {
        st = DRIFT_ENOMEM;
        goto done;
    }
    if ((st = drift_classifier_features(ev->clf, samples, n, feats, logits))) goto done;
    if ((st = drift_feature_stats_compute(feats, n, f, &fs)) ||
        (st = eval_fid_with_sqrt(&ev->ref_stats, ev->ref_sqrt_cov, &fs, &out->fid)))
        goto done;

    const int64_t m = n < ev->n_pool ? n : ev->n_pool;
    drift_prdc p;
    if ((st = prepare_prdc(ev, m)) ||
        (st = drift_prdc_compute(ev->prdc_ref, m, ev->prdc_radii, feats, m, f, ev->k, &p)))
        goto done;

    double syy, sxy;
    if ((st = eval_gaussian_kernel_sum(feats, n, feats, n, f, ev->mmd_h2, 1, &syy)) ||
        (st = eval_gaussian_kernel_sum(ev->ref_feats, ev->n_ref, feats, n, f, ev->mmd_h2, 0, &sxy)))
        goto done;
    const double nr = (double)ev->n_ref, ns = (double)n;
    out->mmd2 = ev->mmd_ref_sum / (nr * (nr - 1)) + syy / (ns * (ns - 1)) - 2 * sxy / (nr * ns);
    out->mmd_bandwidth = sqrt(ev->mmd_h2);

    /* Arg-max over every output, the outlier class included: a sample the network calls
     * "not an image of this dataset" is not of its intended class either. */
    out->has_labels = labels != NULL;
    out->class_accuracy = NAN;
    out->outlier_fraction = NAN;
    int64_t correct = 0, outliers = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * nc;
        int best = 0;
        for (int j = 1; j < nc; j++)
            if (l[j] > l[best]) best = j;
        if (labels) correct += best == labels[i];
        outliers += best == ev->clf->outlier_class;
    }
    if (labels) out->class_accuracy = (double)correct / ns;
    if (ev->clf->outlier_class >= 0) out->outlier_fraction = (double)outliers / ns;

    drift_collapse col;
    if ((st = eval_collapse_score(&ev->collapse, samples, labels, n, (int)dim, &col))) goto done;
    out->diversity = col.diversity;
    out->dup_frac = col.dup_frac;
    out->n_samples = n;
    out->n_reference = ev->n_ref;
    out->n_prdc = m;
    out->n_reference_outliers = ev->n_ref - ev->n_pool;
    out->k = ev->k;
    out->precision = p.precision;
    out->recall = p.recall;
    out->density = p.density;
    out->coverage = p.coverage;
    out->classifier_test_accuracy = ev->clf->test_accuracy;
    out->feature_dim = f;
done:
    drift_free(feats);
    drift_free(logits);
    drift_feature_stats_free(&fs);
    return st;
}

int drift_image_metrics_write_json(const drift_image_metrics *m, drift_jsonw *w)
{
    drift_jsonw_key(w, "fid"), drift_jsonw_double(w, m->fid);
    drift_jsonw_key(w, "precision"), drift_jsonw_double(w, m->precision);
    drift_jsonw_key(w, "recall"), drift_jsonw_double(w, m->recall);
    drift_jsonw_key(w, "density"), drift_jsonw_double(w, m->density);
    drift_jsonw_key(w, "coverage"), drift_jsonw_double(w, m->coverage);
    drift_jsonw_key(w, "mmd2"), drift_jsonw_double(w, m->mmd2);
    drift_jsonw_key(w, "mmd_bandwidth"), drift_jsonw_double(w, m->mmd_bandwidth);
    drift_jsonw_key(w, "class_accuracy");
    if (m->has_labels) drift_jsonw_double(w, m->class_accuracy);
    else drift_jsonw_null(w);
    drift_jsonw_key(w, "outlier_fraction");
    if (isnan(m->outlier_fraction)) drift_jsonw_null(w);
    else drift_jsonw_double(w, m->outlier_fraction);
    drift_jsonw_key(w, "pixel_diversity"), drift_jsonw_double(w, m->diversity);
    drift_jsonw_key(w, "pixel_dup_frac"), drift_jsonw_double(w, m->dup_frac);
    drift_jsonw_key(w, "n_samples"), drift_jsonw_int(w, m->n_samples);
    drift_jsonw_key(w, "n_reference"), drift_jsonw_int(w, m->n_reference);
    drift_jsonw_key(w, "n_prdc"), drift_jsonw_int(w, m->n_prdc);
    drift_jsonw_key(w, "n_reference_outliers"), drift_jsonw_int(w, m->n_reference_outliers);
    drift_jsonw_key(w, "k"), drift_jsonw_int(w, m->k);
    drift_jsonw_key(w, "feature_dim"), drift_jsonw_int(w, m->feature_dim);
    drift_jsonw_key(w, "classifier_test_accuracy"), drift_jsonw_double(w, m->classifier_test_accuracy);
    return w->status;
}
