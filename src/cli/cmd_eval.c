/* cmd_eval.c — `drift eval`: score generated samples against a dataset's test split. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/data.h"
#include "drift/eval.h"
#include "drift/json.h"
#include "drift/npy.h"

static const char *USAGE =
    "drift eval --samples S.npy [--labels L.npy] --data fashion-mnist|mnist|TOY [--n 10000] [--json]\n"
    "       drift eval --samples S.npy [--labels L.npy] --ref MY_TEST.npy|IDX|PNG_DIR [--ref-labels RL] [--json]\n"
    "       drift eval --sanity --data fashion-mnist|mnist [--n 10000] [--json]";

static const char *DESCRIPTION =
    "Scores generated samples against the test split of a dataset.\n"
    "Images (fashion-mnist, mnist): FID, precision/recall (k-NN, k = 3), density/coverage and\n"
    "unbiased MMD² in the penultimate features of drift's own classifier for that dataset, and\n"
    "with --labels the classifier's accuracy on the intended classes. The classifier is trained\n"
    "on first use (a few minutes) and cached; these FIDs are not comparable with Inception-FIDs\n"
    "of papers (docs/EVALUATION.md). Samples: NPY (n, 28, 28), (n, 784), (n, 28, 28, 1) or\n"
    "(n, 1, 28, 28), float in drift's pixel range [-1, 1] or uint8 0..255.\n"
    "The classifier is trained with an extra \"not an image of this dataset\" class (outlier\n"
    "exposure), so noise and flat images land away from the data; the share of samples it puts\n"
    "there is reported as the outlier fraction. Also reported, in pixel space: diversity (mean\n"
    "pairwise distance of the samples over the test images', per class with --labels; near 0 =\n"
    "mode collapse) and the duplicate fraction (samples with a near-copy among the others).\n"
    "--sanity scores sets made from the dataset itself (real train images, noise, flat images,\n"
    "salt-and-pepper, one image repeated, noise and blur of rising strength), prints what each\n"
    "must score and whether it does, and exits 1 if the feature space can be fooled.\n"
    "Your own images (--ref instead of --data: NPY, IDX or a folder of PNGs, gray or RGB, even\n"
    "sides): the same metrics against that reference set, in the features of a network trained\n"
    "on the reference itself on first use (seconds to minutes) and cached by its content: a\n"
    "classifier of --ref-labels (or of class subfolders), which also gives class accuracy with\n"
    "--labels; without labels, a network trained to tell which way each image is turned (0, 90,\n"
    "180, 270 degrees; flips for non-square images). Either also learns the outlier class. No\n"
    "generator trains against it. Samples must have the reference's image shape.\n"
    "Toy 2-D data (swiss_roll, checkerboard, ...): MMD², energy distance, sliced W2, diversity\n"
    "and duplicate fraction against a fresh sample of the target of the same size; samples are\n"
    "(n, 2).";

typedef struct {
    const char *cmd;
    double t0;
} log_state;

static void log_line(void *ctx, const char *line)
{
    log_state *s = ctx;
    fprintf(stderr, "drift %s: %s\n", s->cmd, line);
}

static void train_progress(void *ctx, int64_t step, int64_t steps, double loss, double acc)
{
    log_state *s = ctx;
    fprintf(stderr, "  step %6" PRId64 "/%" PRId64 "  loss %.4f  train acc %5.1f%%  %6.1f s\n", step,
            steps, loss, 100 * acc, drift_now() - s->t0);
}

static int eval_toy(const char *toy, const char *samples_path, int64_t n_max, uint64_t seed,
                    int json)
{
    float *x = NULL;
    int64_t rows, cols;
    if (drift_npy_read_f32_rows(samples_path, n_max, &x, &rows, &cols, NULL)) return cli_fail("eval", "samples"); /* the rows scored only */
    if (cols != 2) {
        drift_free(x);
        fprintf(stderr, "drift eval: %s has %" PRId64 " values per row, but %s is 2-D data: "
                        "samples must be (n, 2)\n", samples_path, cols, toy);
        return 1;
    }
    int64_t n = rows < n_max ? rows : n_max;
    drift_toy_metrics m;
    int st = drift_eval_toy(toy, x, n, seed, &m);
    drift_free(x);
    if (st) return cli_fail("eval", "toy metrics");
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "dataset"), drift_jsonw_string(&w, toy);
        drift_jsonw_key(&w, "samples"), drift_jsonw_string(&w, samples_path);
        drift_jsonw_key(&w, "seed"), drift_jsonw_int(&w, (int64_t)seed);
        drift_toy_metrics_write_json(&m, &w);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        printf("%" PRId64 " samples vs %" PRId64 " fresh %s points (seed %" PRIu64 ")\n", n, n, toy, seed);
        printf("  MMD²              %12.6g   (unbiased, gaussian kernel, h = %.4g)\n", m.mmd2,
               m.bandwidth);
        printf("  energy distance   %12.6g\n", m.energy);
        printf("  sliced W2         %12.6g   (%d directions)\n", m.sliced_w2,
               DRIFT_EVAL_TOY_PROJECTIONS);
        printf("  diversity         %12.6g   (mean pairwise distance over the target's; ~1 healthy)\n",
               m.diversity);
        printf("  duplicates        %12.4f   (share of samples with a near-copy among the others)\n",
               m.dup_frac);
    }
    return 0;
}

/* The samples as a dataset (uint8 scaled to [-1, 1], channel-first transposed), checked
 * against the image shape and classes of the dataset's test split. This runs before the
 * evaluator opens, so a wrong file is reported at once, not after minutes of training a
 * missing classifier. */
static int load_samples(const char *path, const char *labels_path, const drift_dataset *ref,
                        const char *data, int64_t max_rows, drift_dataset *ds)
{
    if (drift_dataset_from_npy_rows(path, labels_path, max_rows, ds)) return cli_fail("eval", "samples"); /* the rows scored only */
    const int h = ref->h, w = ref->w, c = ref->c;
    int ok = ds->dim == (int64_t)h * w * c && (ds->h == 0 || (ds->h == h && ds->w == w && ds->c == c));
    if (!ok) {
        if (ds->h)
            fprintf(stderr, "drift eval: %s holds %dx%dx%d images, but %s images are %dx%dx%d\n",
                    path, ds->h, ds->w, ds->c, data, h, w, c);
        else
            fprintf(stderr, "drift eval: %s has %" PRId64 " values per row, but %s images are "
                            "%dx%dx%d = %d%s\n", path, ds->dim, data, h, w, c, h * w * c,
                    ds->dim == 2 ? " (for 2-D toy samples pass --data with the toy's name)" : "");
        return 1;
    }
    if (ds->labels)
        for (int64_t i = 0; i < ds->n; i++)
            if (ds->labels[i] < 0 || ds->labels[i] >= ref->n_classes) {
                fprintf(stderr, "drift eval: %s: label %d of sample %" PRId64 " is outside [0, %d) "
                                "(%s has %d classes)\n", labels_path, ds->labels[i], i,
                        ref->n_classes, data, ref->n_classes);
                return 1;
            }
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < (size_t)(ds->n * ds->dim); i++) {
        lo = fminf(lo, ds->x[i]);
        hi = fmaxf(hi, ds->x[i]);
    }
    if (hi > 1.5f || lo > -0.1f)
        fprintf(stderr, "drift eval: warning: sample values span [%g, %g]; drift's pixel range is "
                        "[-1, 1] (uint8 files are scaled automatically)\n", lo, hi);
    return 0;
}

static void sanity_progress(void *ctx, const drift_sanity_row *row)
{
    log_state *s = ctx;
    fprintf(stderr, "drift eval: sanity: %-22s FID %9.2f  precision %.3f  recall %.3f  %6.1f s\n",
            row->name, row->m.fid, row->m.precision, row->m.recall, drift_now() - s->t0);
}

static void print_sanity(const drift_sanity *s, const char *data, const char *clf_path, int64_t n)
{
    printf("sanity sets of %" PRId64 " images made from the %s train split, scored against its "
           "test split\nin the features of %s\n\n", n, data, clf_path);
    printf("| set | FID | precision | recall | density | coverage | outliers | dup | class acc. | must | ok |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
    for (int r = 0; r < s->n_rows; r++) {
        const drift_sanity_row *w = &s->rows[r];
        char acc[16] = "-";
        if (w->m.has_labels) snprintf(acc, sizeof acc, "%.3f", w->m.class_accuracy);
        printf("| %s | %.2f | %.3f | %.3f | %.3f | %.4f | %.3f | %.3f | %s | %s | %s |\n", w->name,
               w->m.fid, w->m.precision, w->m.recall, w->m.density, w->m.coverage,
               w->m.outlier_fraction, w->m.dup_frac, acc,
               *w->expect ? w->expect : (*w->group ? "FID rises" : ""), w->pass ? "yes" : "**NO**");
    }
    printf("\nFID rises with noise sigma: %s; with blur sigma: %s\n",
           s->fid_monotone_noise ? "yes" : "**NO**", s->fid_monotone_blur ? "yes" : "**NO**");
    printf("%s\n", s->pass ? "every rule holds" : "SOME RULES FAIL: these metrics can be fooled");
}

static void sanity_json(const drift_sanity *s, const char *data, const char *clf_path, int64_t n)
{
    drift_jsonw w;
    drift_jsonw_init(&w);
    drift_jsonw_begin_object(&w);
    drift_jsonw_key(&w, "dataset"), drift_jsonw_string(&w, data);
    drift_jsonw_key(&w, "classifier"), drift_jsonw_string(&w, clf_path);
    drift_jsonw_key(&w, "n"), drift_jsonw_int(&w, n);
    drift_jsonw_key(&w, "pass"), drift_jsonw_bool(&w, s->pass);
    drift_jsonw_key(&w, "fid_rises_with_noise"), drift_jsonw_bool(&w, s->fid_monotone_noise);
    drift_jsonw_key(&w, "fid_rises_with_blur"), drift_jsonw_bool(&w, s->fid_monotone_blur);
    drift_jsonw_key(&w, "sets");
    drift_jsonw_begin_array(&w);
    for (int r = 0; r < s->n_rows; r++) {
        const drift_sanity_row *row = &s->rows[r];
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "name"), drift_jsonw_string(&w, row->name);
        drift_jsonw_key(&w, "group"), drift_jsonw_string(&w, row->group);
        drift_jsonw_key(&w, "strength"), drift_jsonw_double(&w, row->strength);
        drift_jsonw_key(&w, "expect"), drift_jsonw_string(&w, row->expect);
        drift_jsonw_key(&w, "pass"), drift_jsonw_bool(&w, row->pass);
        drift_image_metrics_write_json(&row->m, &w);
        drift_jsonw_end_object(&w);
    }
    drift_jsonw_end_array(&w);
    drift_jsonw_end_object(&w);
    printf("%s\n", w.buf);
    drift_jsonw_free(&w);
}

static int eval_sanity(const char *data, const char *data_dir, drift_evaluator *ev, int64_t n,
                       uint64_t seed, int json, log_state *ls)
{
    drift_dataset train = {0};
    drift_dataset_opts o = {.split = "train", .data_dir = data_dir};
    if (drift_dataset_open(data, &o, &train)) return cli_fail("eval", "train split");
    if (n > train.n) n = train.n;
    drift_sanity s;
    ls->t0 = drift_now();
    int st = drift_eval_sanity(ev, &train, n, seed, sanity_progress, ls, &s);
    drift_dataset_free(&train);
    if (st) return cli_fail("eval", "sanity sets");
    const char *clf_path = drift_evaluator_classifier_path(ev);
    if (json) sanity_json(&s, data, clf_path, n);
    else print_sanity(&s, data, clf_path, n);
    return s.pass ? 0 : 1;
}

int cmd_eval(int argc, char **argv)
{
    const char *samples = NULL, *labels = NULL, *data = NULL, *data_dir = NULL, *cache_dir = NULL;
    const char *classifier = NULL, *ref_path = NULL, *ref_labels = NULL;
    int n = 10000, n_ref = 0, k = DRIFT_PRDC_K, json = 0, seed = 0, no_train = 0, sanity = 0;
    cli_opt opts[] = {
        {"--samples", OPT_STRING, &samples, "S.npy", "generated samples  [required]", 0},
        {"--labels", OPT_STRING, &labels, "L.npy", "classes the samples were generated for, shape (n,)", 0},
        {"--data", OPT_STRING, &data, "NAME", "fashion-mnist | mnist | a toy name  [required]", 0},
        {"--ref", OPT_STRING, &ref_path, "FILE|DIR", "your own reference images (NPY, IDX, folder of PNGs) instead of --data", 0},
        {"--ref-labels", OPT_STRING, &ref_labels, "FILE", "labels of --ref (integer .npy or idx1; optional)", 0},
        {"--n", OPT_INT, &n, "N", "score at most the first N samples (default 10000)", 0},
        {"--n-ref", OPT_INT, &n_ref, "N", "use only the first N test images as reference (default: all)", 0},
        {"--k", OPT_INT, &k, "K", "neighbours of precision/recall/density/coverage (default 3)", 0},
        {"--seed", OPT_INT, &seed, "S", "toys: seed of the fresh target sample (default 0)", 0},
        {"--data-dir", OPT_STRING, &data_dir, "DIR", "where the dataset lives (default: search)", 0},
        {"--cache-dir", OPT_STRING, &cache_dir, "DIR", "classifier cache (default $DRIFT_CACHE_DIR or ~/.cache/drift)", 0},
        {"--classifier", OPT_STRING, &classifier, "FILE", "measure in this classifier's features instead of the cache's", 0},
        {"--no-train", OPT_FLAG, &no_train, NULL, "fail instead of training a missing classifier", 0},
        {"--sanity", OPT_FLAG, &sanity, NULL, "score the sanity sets instead of samples (see above)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print the metrics as one JSON object on stdout", 0},
    };
    int r = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof *opts), USAGE, DESCRIPTION);
    if (r) return r > 0 ? 0 : 2;
    if (ref_path && data) {
        fprintf(stderr, "drift eval: give --data (a named dataset's test split) or --ref (your own reference "
                        "images), not both\n");
        return 2;
    }
    if (ref_labels && !ref_path) {
        fprintf(stderr, "drift eval: --ref-labels goes with --ref\n");
        return 2;
    }
    if (ref_path && sanity) {
        fprintf(stderr, "drift eval: --sanity needs a named dataset (--data fashion-mnist|mnist): its sets are "
                        "made from the train split\n");
        return 2;
    }
    if (ref_path) data = ref_path;
    if (!data || (!samples && !sanity) || (samples && sanity)) {
        fprintf(stderr, "drift eval: give --data (or --ref) and either --samples or --sanity (see --help)\n");
        return 2;
    }
    if (n < 2 || n_ref < 0 || k < 1 || seed < 0) {
        fprintf(stderr, "drift eval: --n must be >= 2, --n-ref >= 0, --k >= 1, --seed >= 0\n");
        return 2;
    }
    const drift_toy *toy;
    if (!ref_path && drift_toy_find(data, &toy) == DRIFT_OK) {
        if (labels || sanity || classifier) {
            fprintf(stderr, "drift eval: --%s applies to image datasets, not to %s\n",
                    labels ? "labels" : sanity ? "sanity" : "classifier", data);
            return 2;
        }
        return eval_toy(data, samples, n, (uint64_t)seed, json);
    }

    /* The test split's first image tells the shape and classes the samples must have. */
    drift_dataset ref = {0}, ds = {0};
    drift_dataset_opts ro = {.split = "test", .data_dir = data_dir, .n = 1};
    if (ref_path) { /* own reference: all of it (or --n-ref rows), kept for the evaluator */
        ro.n = n_ref;
        ro.labels_path = ref_labels;
    }
    if (drift_dataset_open(data, &ro, &ref)) return cli_fail("eval", ref_path ? "reference" : "dataset");
    if (ref_path && ref.h <= 0) {
        fprintf(stderr, "drift eval: %s is not image data (shape (n, h, w[, c]), IDX images or PNGs); for points "
                        "or vectors compare with MMD yourself, or train on them (drift train reports MMD²)\n", data);
        drift_dataset_free(&ref);
        return 2;
    }
    if (!ref_path && (ref.h <= 0 || !ref.labels)) {
        fprintf(stderr, "drift eval: %s is neither an image dataset with labels (mnist, "
                        "fashion-mnist) nor a toy; for your own reference images give --ref %s\n", data, data);
        drift_dataset_free(&ref);
        return 2;
    }
    if (sanity && labels) {
        fprintf(stderr, "drift eval: --labels goes with --samples, not --sanity\n");
        drift_dataset_free(&ref);
        return 2;
    }
    if (ref_path && labels && !ref.labels) {
        fprintf(stderr, "drift eval: --labels needs a labelled reference: give --ref-labels (or class subfolders)\n");
        drift_dataset_free(&ref);
        return 2;
    }
    int rc = sanity ? 0 : load_samples(samples, labels, &ref, data, n, &ds);
    if (!ref_path) drift_dataset_free(&ref);
    if (rc) {
        drift_dataset_free(&ds);
        drift_dataset_free(&ref);
        return rc;
    }

    log_state ls = {"eval", drift_now()};
    drift_classifier_opts topts;
    drift_classifier_opts_default(&topts, data);
    topts.data_dir = data_dir;
    topts.progress = train_progress;
    topts.progress_ctx = &ls;
    topts.progress_every = 200;
    drift_evaluator_opts eo = {.dataset = data, .data_dir = data_dir, .cache_dir = cache_dir,
                               .n_ref = n_ref, .k = k, .train_if_missing = !no_train, .train_opts = &topts,
                               .classifier_path = classifier, .log = log_line, .log_ctx = &ls};
    drift_evaluator *ev = NULL;
    const int ref_labelled = ref.labels && ref.n_classes >= 2;
    int est = ref_path ? drift_evaluator_open_ref(&eo, &ref, &ev) : drift_evaluator_open(&eo, &ev);
    drift_dataset_free(&ref);
    if (est) {
        drift_dataset_free(&ds);
        return cli_fail("eval", "cannot set up the evaluation");
    }
    if (sanity) {
        rc = eval_sanity(data, data_dir, ev, n, (uint64_t)seed, json, &ls);
        drift_evaluator_free(ev);
        return rc;
    }
    int64_t used = ds.n < n ? ds.n : n;
    drift_image_metrics m;
    double t0 = drift_now();
    if (drift_eval_images(ev, ds.x, ds.dim, ds.labels, used, &m)) {
        drift_dataset_free(&ds);
        drift_evaluator_free(ev);
        return cli_fail("eval", "scoring failed");
    }
    double secs = drift_now() - t0;
    const char *clf_path = drift_evaluator_classifier_path(ev);
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        drift_jsonw_key(&w, "dataset"), drift_jsonw_string(&w, data);
        drift_jsonw_key(&w, "samples"), drift_jsonw_string(&w, samples);
        drift_jsonw_key(&w, "classifier"), drift_jsonw_string(&w, clf_path);
        drift_image_metrics_write_json(&m, &w);
        drift_jsonw_key(&w, "seconds"), drift_jsonw_double(&w, secs);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        if (ref_path)
            printf("%" PRId64 " samples vs %" PRId64 " reference images of %s, in the features (%d) of\n"
                   "%s (trained on that reference: %s accuracy %.2f%% on it)\n", m.n_samples, m.n_reference, data,
                   m.feature_dim, clf_path, ref_labelled ? "class" : "orientation", 100 * m.classifier_test_accuracy);
        else
            printf("%" PRId64 " samples vs %" PRId64 " %s test images, in the features (%d) of\n"
                   "%s (test accuracy %.2f%%)\n", m.n_samples, m.n_reference, data, m.feature_dim,
                   clf_path, 100 * m.classifier_test_accuracy);
        printf("  FID               %12.4f\n", m.fid);
        printf("  precision         %12.4f   (k = %d, %" PRId64 " samples vs %" PRId64 " %s images)\n",
               m.precision, m.k, m.n_prdc, m.n_prdc, ref_path ? "reference" : "test");
        printf("  recall            %12.4f\n", m.recall);
        printf("  density           %12.4f\n", m.density);
        printf("  coverage          %12.4f\n", m.coverage);
        printf("  MMD²              %12.6f   (unbiased, gaussian kernel, h = %.4g)\n", m.mmd2,
               m.mmd_bandwidth);
        if (m.has_labels)
            printf("  class accuracy    %12.4f   (classifier on the intended labels)\n",
                   m.class_accuracy);
        if (!isnan(m.outlier_fraction))
            printf("  outlier fraction  %12.4f   (samples the classifier calls not %s images)\n",
                   m.outlier_fraction, data);
        printf("  diversity         %12.4f   (pixel-space spread over the %s images'%s; ~1 healthy)\n",
               m.diversity, ref_path ? "reference" : "test", m.has_labels ? ", per class" : "");
        printf("  duplicates        %12.4f   (share of samples with a near-copy among the others)\n",
               m.dup_frac);
    }
    drift_dataset_free(&ds);
    drift_evaluator_free(ev);
    return 0;
}
