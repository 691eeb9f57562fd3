/* Tests for the feature network and the image evaluator, on real Fashion-MNIST (Debian's
 * dataset-fashion-mnist) with a tiny classifier (20 steps of 25 on 300 images, under a second):
 * training is deterministic, files round-trip, batched features equal row-by-row ones,
 * FID(test, test) = 0 and P = R = 1,
 * a train subset is far closer than noise, the class accuracy matches the classifier's own
 * accuracy, and bad shapes, labels, files and dataset mismatches are clear errors. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "drift/rng.h"
#include "drift/safetensors.h"
#include "test.h"

/* Images of each split used throughout: the classifier's train / test data, the reference. */
#define N_IMAGES 300

static char cache[64];
static char path[4200];

static void tiny_opts(drift_classifier_opts *o)
{
    drift_classifier_opts_default(o, "fashion-mnist");
    o->train_limit = N_IMAGES;
    o->test_limit = N_IMAGES;
    o->max_steps = 20;
    o->batch = 25;
    o->augment = 1; /* exercise the shifts too */
    o->seed = 7;
}

static int progress_calls;
static void count_progress(void *ctx, int64_t step, int64_t steps, double loss, double acc)
{
    progress_calls++;
    CHECK(step >= 1 && step <= steps && steps == 20 && loss > 0 && acc >= 0 && acc <= 1);
}

static drift_classifier *clf; /* the tiny classifier, shared by the tests below */
static drift_dataset train, test; /* the first N_IMAGES of each split, loaded once */

static void test_train_is_deterministic_and_learns(void)
{
    drift_classifier_opts o;
    tiny_opts(&o);
    o.progress = count_progress;
    o.progress_every = 5;
    CHECK_OK(drift_classifier_train_on(&train, &test, &o, &clf));
    if (!clf) return;
    CHECK(progress_calls == 4);
    CHECK(clf->steps == 20 && clf->train_images == N_IMAGES);
    CHECK(!strcmp(clf->dataset, "fashion-mnist"));
    CHECK_MSG(clf->test_accuracy > 0.4 && clf->test_accuracy <= 1, "accuracy %g", clf->test_accuracy);
    CHECK(clf->model->feature_dim > 0);
    /* outlier exposure (the default): one output more than the data has classes */
    CHECK(clf->n_classes == 10 && clf->outlier_class == 10 && clf->model->out_dim == 11);
    drift_classifier *again = NULL;
    o.progress = NULL;
    CHECK_OK(drift_classifier_train_on(&train, &test, &o, &again));
    if (again) {
        CHECK(!memcmp(again->model->params, clf->model->params, clf->model->n_params * sizeof(float)));
        CHECK(again->test_accuracy == clf->test_accuracy);
    }
    drift_classifier_free(again);
    again = NULL;
    o.outliers = 0; /* without: the data's classes only */
    CHECK_OK(drift_classifier_train_on(&train, &test, &o, &again));
    if (again) CHECK(again->n_classes == 10 && again->outlier_class == -1 && again->model->out_dim == 10);
    drift_classifier_free(again);
    o.outliers = -0.5;
    CHECK(drift_classifier_train_on(&train, &test, &o, &again) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "outliers") != NULL);
    o.outliers = 0.25;
    o.epochs = 0;
    CHECK(drift_classifier_train_on(&train, &test, &o, &again) == DRIFT_EINVAL);
    o.epochs = 1;
    drift_dataset toy;
    CHECK_OK(drift_dataset_toy("swiss_roll", 100, 1, 0, &toy));
    CHECK(drift_classifier_train_on(&toy, &test, &o, &again) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "images") != NULL);
    drift_dataset_free(&toy);
}

static void test_paths(void)
{
    char buf[256];
    CHECK_OK(drift_classifier_path("/some/dir", "mnist", buf, sizeof buf));
    CHECK(!strcmp(buf, "/some/dir/classifier-mnist.safetensors"));
    setenv("DRIFT_CACHE_DIR", "/env/dir", 1);
    CHECK_OK(drift_cache_dir(NULL, buf, sizeof buf));
    CHECK(!strcmp(buf, "/env/dir"));
    unsetenv("DRIFT_CACHE_DIR");
    setenv("HOME", "/home/someone", 1);
    CHECK_OK(drift_cache_dir(NULL, buf, sizeof buf));
    CHECK(!strcmp(buf, "/home/someone/.cache/drift"));
    CHECK(drift_classifier_path("/d", "../x", buf, sizeof buf) == DRIFT_EINVAL);
    CHECK(drift_classifier_path("/d", "mnist", buf, 10) == DRIFT_EINVAL);
}

static void test_save_load_round_trip(void)
{
    if (!clf) return;
    /* Saving creates the missing directories of the path. */
    char nested[4200];
    snprintf(nested, sizeof nested, "%s/a/b/c.safetensors", cache);
    CHECK_OK(drift_classifier_save(clf, nested));
    drift_classifier *back = NULL;
    CHECK_OK(drift_classifier_load(nested, "fashion-mnist", &back));
    if (back) {
        CHECK(back->model->n_params == clf->model->n_params);
        CHECK(!memcmp(back->model->params, clf->model->params, clf->model->n_params * sizeof(float)));
        CHECK_CLOSE(back->test_accuracy, clf->test_accuracy, 1e-6, 0);
        CHECK(back->steps == 20 && back->train_images == N_IMAGES);
        CHECK(back->n_classes == 10 && back->outlier_class == 10);
        /* Same features from the loaded copy. */
        float img[2 * 784], f1[2 * 512], f2[2 * 512];
        drift_rng r;
        drift_rng_init(&r, 1, 0);
        drift_rng_fill_uniform(&r, img, 2 * 784, -1, 1);
        CHECK_OK(drift_classifier_features(clf, img, 2, f1, NULL));
        CHECK_OK(drift_classifier_features(back, img, 2, f2, NULL));
        CHECK(!memcmp(f1, f2, 2 * (size_t)clf->model->feature_dim * sizeof(float)));
    }
    drift_classifier_free(back);
    back = NULL;
    CHECK(drift_classifier_load(nested, "mnist", &back) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "trained on fashion-mnist, not mnist") != NULL);
    CHECK(back == NULL);
    /* A file that is no classifier. */
    char junk[4200];
    snprintf(junk, sizeof junk, "%s/junk.safetensors", cache);
    FILE *f = fopen(junk, "wb");
    fputs("not a safetensors file at all", f);
    fclose(f);
    CHECK(drift_classifier_load(junk, NULL, &back) != DRIFT_OK);
    CHECK(strstr(drift_last_error(), "junk.safetensors") != NULL);
    unlink(junk);
    unlink(nested);
    snprintf(nested, sizeof nested, "%s/a/b", cache);
    rmdir(nested);
    snprintf(nested, sizeof nested, "%s/a", cache);
    rmdir(nested);
}

/* Features are computed in internal batches; rows across batch boundaries must come out the
 * same as when each is scored alone, and the accuracy must count every row once. */
static void test_features_batching(void)
{
    if (!clf) return;
    const int n = 150, f = clf->model->feature_dim, k = clf->model->out_dim;
    float *all = drift_alloc((size_t)n * f, sizeof(float)), *lg = drift_alloc((size_t)n * k, sizeof(float));
    float one[512], one_lg[16];
    CHECK_OK(drift_classifier_features(clf, train.x, n, all, lg));
    int rows[5] = {0, 63, 64, 128, 149}, same = 1;
    for (int r = 0; r < 5; r++) {
        CHECK_OK(drift_classifier_features(clf, train.x + (size_t)rows[r] * 784, 1, one, one_lg));
        for (int j = 0; j < f; j++) same &= fabsf(one[j] - all[(size_t)rows[r] * f + j]) <= 1e-5f * (1 + fabsf(one[j]));
        for (int j = 0; j < k; j++) same &= fabsf(one_lg[j] - lg[(size_t)rows[r] * k + j]) <= 1e-5f * (1 + fabsf(one_lg[j]));
    }
    CHECK(same);
    int64_t correct = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (lg[(size_t)i * k + j] > lg[(size_t)i * k + best]) best = j;
        correct += best == train.labels[i];
    }
    double acc;
    CHECK_OK(drift_classifier_accuracy(clf, train.x, train.labels, n, &acc));
    CHECK_CLOSE(acc, (double)correct / n, 1e-12, 0);
    drift_free(all), drift_free(lg);
}

static void test_evaluator(void)
{
    if (!clf) return;
    drift_evaluator_opts o = {.dataset = "fashion-mnist", .cache_dir = cache, .n_ref = N_IMAGES};
    drift_evaluator *ev = NULL;
    /* Nothing in the cache, training not allowed: a clear error telling what to do. */
    CHECK(drift_evaluator_open(&o, &ev) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "drift classifier train --data fashion-mnist") != NULL);

    CHECK_OK(drift_classifier_path(cache, "fashion-mnist", path, sizeof path));
    CHECK_OK(drift_classifier_save(clf, path));
    CHECK_OK(drift_evaluator_open(&o, &ev));
    if (!ev) return;
    int h, w, c;
    drift_evaluator_image_shape(ev, &h, &w, &c);
    CHECK(h == 28 && w == 28 && c == 1);

    /* The reference set against itself. */
    drift_image_metrics m;
    CHECK_OK(drift_eval_images(ev, test.x, test.dim, test.labels, test.n, &m));
    CHECK(m.fid >= 0 && m.fid < 1e-6);
    /* The k-NN metrics' reference leaves out the test images the classifier calls outliers:
     * count them independently from the logits. */
    {
        const int k = clf->model->out_dim, f = clf->model->feature_dim;
        float *fe = drift_alloc((size_t)N_IMAGES * f, sizeof(float)), *lg = drift_alloc((size_t)N_IMAGES * k, sizeof(float));
        CHECK_OK(drift_classifier_features(clf, test.x, N_IMAGES, fe, lg));
        /* left out: p(outlier) >= 1 %, at most the 1 % most outlying (3 of 300) */
        int64_t above = 0;
        for (int i = 0; i < N_IMAGES; i++) {
            const float *l = lg + (size_t)i * k;
            double mx = l[0], z = 0;
            for (int j = 1; j < k; j++) mx = fmax(mx, l[j]);
            for (int j = 0; j < k; j++) z += exp(l[j] - mx);
            above += exp(l[clf->outlier_class] - mx) / z >= 0.01;
        }
        int64_t rejected = m.n_reference_outliers;
        CHECK_MSG(rejected <= N_IMAGES / 100 && rejected <= above, "%lld left out, %lld above 1 %%",
                  (long long)rejected, (long long)above);
        CHECK(m.n_prdc == N_IMAGES - rejected);
        if (rejected == 0) CHECK(m.precision == 1 && m.recall == 1 && m.coverage == 1);
        else CHECK(m.precision > 0.9 && m.recall > 0.9 && m.coverage > 0.9);
        drift_free(fe), drift_free(lg);
    }
    CHECK(m.n_samples == N_IMAGES && m.n_reference == N_IMAGES && m.k == 3);
    CHECK(m.has_labels && m.class_accuracy == clf->test_accuracy); /* the same images */
    /* Unbiased MMD² of a set with itself is −(2/n)(1 − mean off-diagonal kernel). */
    CHECK(m.mmd2 < 0 && m.mmd2 > -2.0 / N_IMAGES && m.mmd_bandwidth > 0);

    /* The reference against itself, in pixels: per-class spread equal, no near-copies. */
    CHECK_CLOSE(m.diversity, 1.0, 1e-12, 0);
    CHECK(m.dup_frac == 0);
    CHECK(m.outlier_fraction >= 0 && m.outlier_fraction <= 0.1);

    /* Train images are close, noise is far, on every metric. */
    drift_image_metrics mt, mn;
    CHECK_OK(drift_eval_images(ev, train.x, train.dim, NULL, train.n, &mt));
    float *noise = drift_alloc(N_IMAGES * 784, sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 3, 0);
    drift_rng_fill_uniform(&r, noise, N_IMAGES * 784, -1, 1);
    CHECK_OK(drift_eval_images(ev, noise, 784, NULL, N_IMAGES, &mn));
    CHECK_MSG(mn.fid > 10 * mt.fid, "noise %g vs train %g", mn.fid, mt.fid);
    CHECK(mt.recall > 0.5 && mn.recall < 0.1 && mt.coverage > 3 * mn.coverage);
    CHECK(mn.mmd2 > 10 * fabs(mt.mmd2));
    CHECK(!mt.has_labels && isnan(mt.class_accuracy));
    /* Even 20 steps of outlier exposure tell uniform noise from clothes. */
    CHECK_MSG(mn.outlier_fraction > 0.9 && mt.outlier_fraction < 0.1, "outliers: noise %g, train %g",
              mn.outlier_fraction, mt.outlier_fraction);

    /* One image repeated: every sample has a copy, no spread at all. */
    float *copies = drift_alloc(N_IMAGES * 784, sizeof(float));
    int32_t *copy_labels = drift_alloc(N_IMAGES, sizeof(int32_t));
    for (int i = 0; i < N_IMAGES; i++) {
        memcpy(copies + (size_t)i * 784, train.x + 5 * 784, 784 * sizeof(float));
        copy_labels[i] = train.labels[5];
    }
    drift_image_metrics mc;
    CHECK_OK(drift_eval_images(ev, copies, 784, copy_labels, N_IMAGES, &mc));
    CHECK(mc.dup_frac == 1 && mc.diversity == 0 && mc.recall <= 0.02 && mc.coverage <= 0.02);
    CHECK(mt.dup_frac == 0 && mt.diversity > 0.8 && mt.diversity < 1.25);
    drift_free(copies), drift_free(copy_labels);

    /* Fewer samples than reference images: precision/recall on equal-sized sets. */
    CHECK_OK(drift_eval_images(ev, train.x, train.dim, NULL, 100, &m));
    CHECK(m.n_prdc == 100 && m.n_samples == 100 && m.n_reference == N_IMAGES);

    /* Bad input: clear errors. */
    CHECK(drift_eval_images(ev, train.x, 783, NULL, 100, &m) == DRIFT_ESHAPE);
    CHECK(strstr(drift_last_error(), "28x28x1") != NULL);
    CHECK(drift_eval_images(ev, train.x, 784, NULL, 3, &m) == DRIFT_ESHAPE);
    int32_t bad_labels[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10};
    CHECK(drift_eval_images(ev, train.x, 784, bad_labels, 10, &m) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "sample 9") != NULL);
    noise[5 * 784 + 3] = NAN;
    CHECK(drift_eval_images(ev, noise, 784, NULL, 100, &m) == DRIFT_ENUMERIC);
    CHECK(strstr(drift_last_error(), "row 5") != NULL);
    drift_evaluator_free(ev);
    ev = NULL;

    /* A classifier of another dataset under this dataset's name: a dataset mismatch. */
    snprintf(clf->dataset, sizeof clf->dataset, "mnist");
    CHECK_OK(drift_classifier_save(clf, path));
    snprintf(clf->dataset, sizeof clf->dataset, "fashion-mnist");
    CHECK(drift_evaluator_open(&o, &ev) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "trained on mnist, not fashion-mnist") != NULL);
    /* A toy is no image dataset. */
    o.dataset = "moons";
    CHECK(drift_evaluator_open(&o, &ev) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "not an image dataset") != NULL);
    unlink(path);
    drift_free(noise);
}

/* A file of format 1 (before outlier exposure): still readable, used when asked for by path,
 * but replaced (or refused, when training is not allowed) when it is the cache's. */
static void test_format1_classifier(void)
{
    drift_classifier_opts to;
    tiny_opts(&to);
    to.outliers = 0;
    drift_classifier *old = NULL;
    CHECK_OK(drift_classifier_train_on(&train, &test, &to, &old));
    if (!old) return;
    const drift_model *m = old->model;
    drift_st_tensor *t = drift_alloc((size_t)m->n_tensors, sizeof *t);
    for (int i = 0; i < m->n_tensors; i++) {
        const drift_param_tensor *p = &m->tensors[i];
        t[i].name = p->name;
        t[i].dtype = DRIFT_DTYPE_F32;
        t[i].ndim = p->ndim;
        for (int j = 0; j < p->ndim; j++) t[i].shape[j] = p->shape[j];
        t[i].data = m->params + p->offset;
    }
    char arch[512];
    CHECK_OK(drift_model_config_format(&m->cfg, arch, sizeof arch));
    drift_st_meta meta[] = {{"format", DRIFT_CLASSIFIER_FORMAT_V1}, {"dataset", "fashion-mnist"},
                            {"test_accuracy", "0.5"}, {"architecture", arch}, {"steps", "20"},
                            {"train_images", "300"}};
    CHECK_OK(drift_classifier_path(cache, "fashion-mnist", path, sizeof path));
    CHECK_OK(drift_safetensors_write(path, t, (size_t)m->n_tensors, meta, 6));
    drift_free(t);
    drift_classifier *back = NULL;
    CHECK_OK(drift_classifier_load(path, "fashion-mnist", &back));
    if (back) CHECK(back->n_classes == 10 && back->outlier_class == -1);
    drift_classifier_free(back);

    drift_evaluator_opts o = {.dataset = "fashion-mnist", .cache_dir = cache, .n_ref = N_IMAGES};
    drift_evaluator *ev = NULL;
    CHECK(drift_evaluator_open(&o, &ev) == DRIFT_EIO);
    CHECK(strstr(drift_last_error(), "without outlier exposure") != NULL);
    o.classifier_path = path; /* the user's explicit choice: used as it is */
    CHECK_OK(drift_evaluator_open(&o, &ev));
    if (ev) {
        drift_image_metrics mm;
        CHECK_OK(drift_eval_images(ev, test.x, test.dim, NULL, test.n, &mm));
        CHECK(isnan(mm.outlier_fraction) && mm.fid < 1e-6);
    }
    drift_evaluator_free(ev);
    unlink(path);
    drift_classifier_free(old);
}

static int log_lines, log_said_training;
static void count_log(void *ctx, const char *line)
{
    log_lines++;
    if (strstr(line, "training one now")) log_said_training = 1;
}

static void test_evaluator_trains_when_missing(void)
{
    drift_classifier_opts to;
    tiny_opts(&to);
    drift_evaluator_opts o = {.dataset = "fashion-mnist", .cache_dir = cache, .n_ref = 200,
                              .train_if_missing = 1, .train_opts = &to, .log = count_log};
    drift_evaluator *ev = NULL;
    CHECK_OK(drift_evaluator_open(&o, &ev));
    CHECK(log_said_training && log_lines >= 2);
    CHECK(access(drift_evaluator_classifier_path(ev), F_OK) == 0);
    CHECK(drift_evaluator_classifier(ev) && drift_evaluator_classifier(ev)->steps == 20);
    drift_evaluator_free(ev);
    unlink(path);
}

int main(void)
{
    snprintf(cache, sizeof cache, "/tmp/drift-eval-test-XXXXXX");
    if (!mkdtemp(cache)) {
        perror("mkdtemp");
        return 1;
    }
    drift_dataset_opts dt = {.split = "test", .n = N_IMAGES}, dtr = {.split = "train", .n = N_IMAGES};
    if (drift_dataset_open("fashion-mnist", &dt, &test) ||
        drift_dataset_open("fashion-mnist", &dtr, &train)) {
        fprintf(stderr, "Fashion-MNIST is needed: %s\n", drift_last_error());
        return 1;
    }
    RUN(test_train_is_deterministic_and_learns);
    RUN(test_paths);
    RUN(test_save_load_round_trip);
    RUN(test_features_batching);
    RUN(test_evaluator);
    RUN(test_format1_classifier);
    RUN(test_evaluator_trains_when_missing);
    drift_classifier_free(clf);
    drift_dataset_free(&train);
    drift_dataset_free(&test);
    rmdir(cache);
    return TEST_SUMMARY();
}
