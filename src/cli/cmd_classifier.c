/* cmd_classifier.c — `drift classifier train|info`: the feature network of `drift eval`. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/eval.h"
#include "drift/json.h"
#include "drift/models.h"

static const char *USAGE =
    "drift classifier train --data mnist|fashion-mnist [--cache-dir DIR] [--out FILE] [options]\n"
    "       drift classifier info --data mnist|fashion-mnist [--cache-dir DIR | --file FILE] [--json]";

static const char *DESCRIPTION =
    "Trains the small CNN whose penultimate features `drift eval` measures in (FID, precision/\n"
    "recall, MMD), on the train split of the dataset, and reports its accuracy on the test\n"
    "split. Besides the dataset's classes it learns one more, \"not an image of this dataset\",\n"
    "from synthetic outliers mixed into every batch (noise, flat grey, smooth fields, stripes,\n"
    "shuffled tiles, heavily noised or inverted real images): outlier exposure, so that such\n"
    "inputs land away from the data in feature space (docs/EVALUATION.md).\n"
    "It is saved as <cache dir>/classifier-<dataset>.safetensors; the cache directory\n"
    "is --cache-dir, else $DRIFT_CACHE_DIR, else ~/.cache/drift. `info` shows what a saved\n"
    "classifier is. Takes a few minutes on 2 cores (see docs/EVALUATION.md).";

typedef struct {
    double t0;
} progress_state;

static void print_progress(void *ctx, int64_t step, int64_t steps, double loss, double acc)
{
    progress_state *p = ctx;
    fprintf(stderr, "  step %6" PRId64 "/%" PRId64 "  loss %.4f  train acc %5.1f%%  %6.1f s\n", step,
            steps, loss, 100 * acc, drift_now() - p->t0);
}

/* argv[0] "classifier", argv[1] the action: parse the rest under the name "classifier ACTION". */
static int parse_action(int argc, char **argv, cli_opt *opts, int n, char *name, size_t size)
{
    snprintf(name, size, "classifier %s", argv[1]);
    char *saved = argv[1];
    argv[1] = name;
    int r = cli_parse(argc - 1, argv + 1, opts, n, USAGE, DESCRIPTION);
    argv[1] = saved;
    return r;
}

/* The fields both `train --json` and `info --json` print. */
static void classifier_json_fields(drift_jsonw *w, const drift_classifier *c, const char *path)
{
    drift_jsonw_key(w, "dataset"), drift_jsonw_string(w, c->dataset);
    drift_jsonw_key(w, "path"), drift_jsonw_string(w, path);
    drift_jsonw_key(w, "test_accuracy"), drift_jsonw_double(w, c->test_accuracy);
    drift_jsonw_key(w, "steps"), drift_jsonw_int(w, c->steps);
    drift_jsonw_key(w, "train_images"), drift_jsonw_int(w, c->train_images);
    drift_jsonw_key(w, "classes"), drift_jsonw_int(w, c->n_classes);
    drift_jsonw_key(w, "outlier_class"), drift_jsonw_int(w, c->outlier_class);
}

static int train(int argc, char **argv)
{
    const char *data = NULL, *data_dir = NULL, *cache_dir = NULL, *out = NULL;
    int epochs = 0, batch = 0, max_steps = 0, n_train = 0, n_test = 0, seed = 0, json = 0;
    const char *augment = NULL;
    double lr = 0, outliers = -1;
    cli_opt opts[] = {
        {"--data", OPT_STRING, &data, "NAME", "mnist | fashion-mnist  [required]", 0},
        {"--data-dir", OPT_STRING, &data_dir, "DIR", "where the dataset lives (default: search)", 0},
        {"--cache-dir", OPT_STRING, &cache_dir, "DIR", "cache directory (default $DRIFT_CACHE_DIR or ~/.cache/drift)", 0},
        {"--out", OPT_STRING, &out, "FILE", "save here instead of the cache", 0},
        {"--epochs", OPT_INT, &epochs, "N", "passes over the train split (default 5 fashion-mnist, 12 mnist)", 0},
        {"--max-steps", OPT_INT, &max_steps, "N", "stop after N steps (default: no limit)", 0},
        {"--batch", OPT_INT, &batch, "B", "batch size (default 128)", 0},
        {"--lr", OPT_DOUBLE, &lr, "LR", "peak learning rate of AdamW (default 2e-3)", 0},
        {"--n-train", OPT_INT, &n_train, "N", "use only the first N training images (default: all)", 0},
        {"--n-test", OPT_INT, &n_test, "N", "score on only the first N test images (default: all)", 0},
        {"--seed", OPT_INT, &seed, "S", "seed of init, shuffling, augmentation (default 0)", 0},
        {"--augment", OPT_STRING, &augment, "0|1", "random shifts of up to 2 pixels (default: 0 for fashion-mnist, 1 otherwise; yes|no too)", 0},
        {"--outliers", OPT_DOUBLE, &outliers, "F", "synthetic outliers per real image in each batch, 0 = no outlier class (default 0.25)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print the result as JSON on stdout", 0},
    };
    char name[64];
    int r = parse_action(argc, argv, opts, (int)(sizeof opts / sizeof *opts), name, sizeof name);
    if (r) return r > 0 ? 0 : 2;
    if (!data) {
        fprintf(stderr, "drift %s: --data is required (mnist or fashion-mnist)\n", name);
        return 2;
    }
    int augment_on = 0;
    if (augment && cli_parse_onoff(augment, &augment_on)) {
        fprintf(stderr, "drift %s: --augment takes 0 or 1 (yes or no), got '%s'\n", name, augment);
        return 2;
    }
    if (epochs < 0 || batch < 0 || max_steps < 0 || n_train < 0 || n_test < 0 || seed < 0 || lr < 0) {
        fprintf(stderr, "drift %s: numeric options must be >= 0\n", name);
        return 2;
    }
    char path[4096];
    if (out) snprintf(path, sizeof path, "%s", out);
    else if (drift_classifier_path(cache_dir, data, path, sizeof path)) return cli_fail(name, "cache");

    drift_classifier_opts o;
    drift_classifier_opts_default(&o, data);
    o.data_dir = data_dir;
    if (epochs) o.epochs = epochs;
    if (batch) o.batch = batch;
    if (lr > 0) o.lr = lr;
    o.max_steps = max_steps;
    o.train_limit = n_train;
    o.test_limit = n_test;
    o.seed = (uint64_t)seed;
    if (augment) o.augment = augment_on;
    if (outliers >= 0) o.outliers = outliers;
    progress_state ps = {drift_now()};
    o.progress = print_progress;
    o.progress_ctx = &ps;
    o.progress_every = 100;
    fprintf(stderr, "drift %s: training on %s (%d epochs, batch %d, lr %g%s, %g outliers per image)\n",
            name, data, o.epochs, o.batch, o.lr, o.augment ? ", random shifts" : "", o.outliers);
    drift_classifier *c = NULL;
    if (drift_classifier_train(&o, &c)) return cli_fail(name, "training failed");
    double secs = drift_now() - ps.t0;
    if (drift_classifier_save(c, path)) {
        drift_classifier_free(c);
        return cli_fail(name, "saving failed");
    }
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        classifier_json_fields(&w, c, path);
        drift_jsonw_key(&w, "seconds"), drift_jsonw_double(&w, secs);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        printf("classifier for %s: test accuracy %.2f%% after %" PRId64 " steps (%.0f s)\nsaved to %s\n",
               c->dataset, 100 * c->test_accuracy, c->steps, secs, path);
    }
    drift_classifier_free(c);
    return 0;
}

static int info(int argc, char **argv)
{
    const char *data = NULL, *cache_dir = NULL, *file = NULL;
    int json = 0;
    cli_opt opts[] = {
        {"--data", OPT_STRING, &data, "NAME", "mnist | fashion-mnist", 0},
        {"--cache-dir", OPT_STRING, &cache_dir, "DIR", "cache directory (default $DRIFT_CACHE_DIR or ~/.cache/drift)", 0},
        {"--file", OPT_STRING, &file, "FILE", "a classifier file instead of the cache's", 0},
        {"--json", OPT_FLAG, &json, NULL, "print JSON on stdout", 0},
    };
    char name[64];
    int r = parse_action(argc, argv, opts, (int)(sizeof opts / sizeof *opts), name, sizeof name);
    if (r) return r > 0 ? 0 : 2;
    if (!data && !file) {
        fprintf(stderr, "drift %s: give --data or --file\n", name);
        return 2;
    }
    char path[4096];
    if (file) snprintf(path, sizeof path, "%s", file);
    else if (drift_classifier_path(cache_dir, data, path, sizeof path)) return cli_fail(name, "cache");
    if (!file && access(path, F_OK) != 0) {
        fprintf(stderr, "drift %s: no classifier for %s at %s (train one with 'drift classifier "
                        "train --data %s')\n", name, data, path, data);
        return 1;
    }
    drift_classifier *c = NULL;
    if (drift_classifier_load(path, data, &c)) return cli_fail(name, "cannot load the classifier");
    char arch[512] = "";
    drift_model_config_format(&c->model->cfg, arch, sizeof arch);
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        classifier_json_fields(&w, c, path);
        drift_jsonw_key(&w, "feature_dim"), drift_jsonw_int(&w, c->model->feature_dim);
        drift_jsonw_key(&w, "parameters"), drift_jsonw_int(&w, (int64_t)c->model->n_params);
        drift_jsonw_key(&w, "architecture"), drift_jsonw_string(&w, arch);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        printf("%s\n  dataset         %s\n  test accuracy   %.2f%%\n  trained         %" PRId64
               " steps on %" PRId64 " images\n  features        %d\n  parameters      %zu\n"
               "  architecture    %s\n", path, c->dataset, 100 * c->test_accuracy, c->steps,
               c->train_images, c->model->feature_dim, c->model->n_params, arch);
        if (c->outlier_class >= 0)
            printf("  outlier class   %d (outlier exposure: inputs unlike the data are told apart)\n",
                   c->outlier_class);
        else
            printf("  outlier class   none (trained without outlier exposure: noise can look real)\n");
    }
    drift_classifier_free(c);
    return 0;
}

int cmd_classifier(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "train")) return train(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "info")) return info(argc, argv);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s\n\n%s\n\nSee 'drift classifier train --help' for the options.\n", USAGE,
               DESCRIPTION);
        return 0;
    }
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
}
