/* cmd_encoder.c — `drift encoder train|info`: the frozen feature encoder of feature-space
 * drifting (drift/encoder.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/encoder.h"
#include "drift/json.h"
#include "drift/models.h"

static const char *USAGE =
    "drift encoder train --data mnist|fashion-mnist [--cache-dir DIR] [--out FILE] [options]\n"
    "       drift encoder info [--data mnist|fashion-mnist [--cache-dir DIR] | --file FILE | FILE] [--json]";

static const char *DESCRIPTION =
    "Trains the small ResNet encoder whose feature maps feature-space drifting compares images\n"
    "in (drift train --features), self-supervised on the TRAIN split of the dataset, without\n"
    "labels: patches of each image (--patch pixels square, each with probability --mask-ratio)\n"
    "are blanked, the encoder sees the masked image, a small U-Net decoder used only during\n"
    "training reconstructs it, and the loss is the squared error on the masked pixels (a masked\n"
    "autoencoder, as the authors' MAE-ResNet). The encoder's maps are conv1 (full resolution)\n"
    "and layer1, layer2, ... (each stage halves it); --widths sets their channels.\n"
    "It is saved as <cache dir>/encoder-<dataset>.safetensors with its architecture, training\n"
    "options, a hash of the training pixels and a content hash; the cache directory is\n"
    "--cache-dir, else $DRIFT_CACHE_DIR, else ~/.cache/drift. It is never the evaluation\n"
    "network (drift classifier). `info` shows what a saved encoder is and checks it. The\n"
    "defaults take about 3 minutes of CPU time on Fashion-MNIST (docs/ENCODER.md).";

typedef struct {
    double t0;
} progress_state;

static void print_progress(void *ctx, int64_t step, int64_t steps, double loss)
{
    progress_state *p = ctx;
    fprintf(stderr, "  step %6" PRId64 "/%" PRId64 "  masked MSE %.4f  %6.1f s\n", step, steps, loss,
            drift_now() - p->t0);
}

/* argv[0] "encoder", argv[1] the action: parse the rest under the name "encoder ACTION". */
static int parse_action(int argc, char **argv, cli_opt *opts, int n, char *name, size_t size)
{
    snprintf(name, size, "encoder %s", argv[1]);
    char *saved = argv[1];
    argv[1] = name;
    int r = cli_parse(argc - 1, argv + 1, opts, n, USAGE, DESCRIPTION);
    argv[1] = saved;
    return r;
}

static void encoder_json_fields(drift_jsonw *w, const drift_encoder *e, const char *path)
{
    char arch[512] = "";
    drift_model_config_format(&e->model->cfg, arch, sizeof arch);
    drift_jsonw_key(w, "dataset"), drift_jsonw_string(w, e->dataset);
    drift_jsonw_key(w, "path"), drift_jsonw_string(w, path);
    drift_jsonw_key(w, "data_hash"), drift_jsonw_string(w, e->data_hash);
    drift_jsonw_key(w, "hash"), drift_jsonw_string(w, e->hash);
    drift_jsonw_key(w, "train_images"), drift_jsonw_int(w, e->train_images);
    drift_jsonw_key(w, "steps"), drift_jsonw_int(w, e->steps);
    drift_jsonw_key(w, "training"), drift_jsonw_string(w, e->training);
    drift_jsonw_key(w, "loss_start"), drift_jsonw_double(w, e->loss_start);
    drift_jsonw_key(w, "loss_end"), drift_jsonw_double(w, e->loss_end);
    drift_jsonw_key(w, "train_seconds"), drift_jsonw_double(w, e->seconds);
    drift_jsonw_key(w, "architecture"), drift_jsonw_string(w, arch);
    drift_jsonw_key(w, "parameters"), drift_jsonw_int(w, (int64_t)e->model->n_params);
    drift_jsonw_key(w, "out_dim"), drift_jsonw_int(w, e->model->out_dim);
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
    int n = drift_model_feature_maps(e->model, maps, DRIFT_MODEL_MAX_WIDTHS);
    drift_jsonw_key(w, "maps"), drift_jsonw_begin_array(w);
    for (int i = 0; i < n; i++) {
        drift_jsonw_begin_object(w);
        drift_jsonw_key(w, "name"), drift_jsonw_string(w, maps[i].name);
        drift_jsonw_key(w, "offset"), drift_jsonw_int(w, (int64_t)maps[i].offset);
        drift_jsonw_key(w, "c"), drift_jsonw_int(w, maps[i].c);
        drift_jsonw_key(w, "h"), drift_jsonw_int(w, maps[i].h);
        drift_jsonw_key(w, "w"), drift_jsonw_int(w, maps[i].w);
        drift_jsonw_end_object(w);
    }
    drift_jsonw_end_array(w);
}

static void print_text(const drift_encoder *e, const char *path)
{
    char arch[512] = "";
    drift_model_config_format(&e->model->cfg, arch, sizeof arch);
    printf("%s\n  dataset         %s\n  training data   %" PRId64 " images of the train split, %s\n"
           "  trained         %s (%.0f s)\n  masked MSE      %.4f first 5%% of steps -> %.4f last 5%%\n"
           "  parameters      %zu\n  architecture    %s\n  content hash    %s\n  maps           ",
           path, e->dataset, e->train_images, e->data_hash, e->training, e->seconds, e->loss_start,
           e->loss_end, e->model->n_params, arch, e->hash);
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
    int n = drift_model_feature_maps(e->model, maps, DRIFT_MODEL_MAX_WIDTHS);
    for (int i = 0; i < n; i++)
        printf("%s %s %dx%dx%d", i ? "," : "", maps[i].name, maps[i].c, maps[i].h, maps[i].w);
    printf(" (%d floats per image)\n", e->model->out_dim);
}

static int train(int argc, char **argv)
{
    const char *data = NULL, *data_dir = NULL, *cache_dir = NULL, *out = NULL, *widths = NULL;
    int steps = 0, batch = 0, n_train = 0, seed = 0, json = 0, depth = 0, patch = 0, groups = 0;
    double lr = 0, mask_ratio = 0;
    cli_opt opts[] = {
        {"--data", OPT_STRING, &data, "NAME", "mnist | fashion-mnist  [required]", 0},
        {"--data-dir", OPT_STRING, &data_dir, "DIR", "where the dataset lives (default: search)", 0},
        {"--cache-dir", OPT_STRING, &cache_dir, "DIR", "cache directory (default $DRIFT_CACHE_DIR or ~/.cache/drift)", 0},
        {"--out", OPT_STRING, &out, "FILE", "save here instead of the cache", 0},
        {"--steps", OPT_INT, &steps, "N", "optimizer steps (default 1500)", 0},
        {"--batch", OPT_INT, &batch, "B", "images per step (default 64)", 0},
        {"--lr", OPT_DOUBLE, &lr, "LR", "peak AdamW learning rate, cosine to lr/20 (default 2e-3)", 0},
        {"--mask-ratio", OPT_DOUBLE, &mask_ratio, "R", "chance of each patch being masked (default 0.75)", 0},
        {"--patch", OPT_INT, &patch, "P", "masked patch side in pixels, must divide the image (default 4)", 0},
        {"--widths", OPT_STRING, &widths, "LIST", "channels of conv1, then of each stride-2 stage (default 8,16,32)", 0},
        {"--depth", OPT_INT, &depth, "D", "basic blocks per stage (default 1)", 0},
        {"--groups", OPT_INT, &groups, "G", "group-norm groups, must divide every width (default: 8, or the largest divisor of 8 that divides every --widths value)", 0},
        {"--n-train", OPT_INT, &n_train, "N", "use only the first N training images (default: all)", 0},
        {"--seed", OPT_INT, &seed, "S", "seed of init, batches and masks (default 0)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print the result as JSON on stdout", 0},
    };
    char name[64];
    int r = parse_action(argc, argv, opts, (int)(sizeof opts / sizeof *opts), name, sizeof name);
    if (r) return r > 0 ? 0 : 2;
    if (!data) {
        fprintf(stderr, "drift %s: --data is required (mnist or fashion-mnist)\n", name);
        return 2;
    }
    if (steps < 0 || batch < 0 || n_train < 0 || seed < 0 || lr < 0 || depth < 0 || patch < 0 ||
        mask_ratio < 0 || groups < 0) {
        fprintf(stderr, "drift %s: numeric options must be >= 0\n", name);
        return 2;
    }
    drift_encoder_opts o;
    drift_encoder_opts_default(&o, data);
    if (widths) {
        int w[DRIFT_MODEL_MAX_WIDTHS + 1];
        int n = cli_parse_int_list(widths, w, DRIFT_MODEL_MAX_WIDTHS + 1);
        if (n < 1 || n > DRIFT_MODEL_MAX_WIDTHS) {
            fprintf(stderr, "drift %s: --widths takes 1..%d positive integers, got '%s'\n", name,
                    DRIFT_MODEL_MAX_WIDTHS, widths);
            return 2;
        }
        o.arch.n_widths = n;
        for (int i = 0; i < n; i++) o.arch.widths[i] = w[i];
        while (o.arch.groups > 1) { /* the default 8 halved until it divides every width */
            int ok = 1;
            for (int i = 0; i < n; i++) ok &= w[i] % o.arch.groups == 0;
            if (ok) break;
            o.arch.groups /= 2;
        }
    }
    if (groups) o.arch.groups = groups;
    char path[4096];
    if (out) snprintf(path, sizeof path, "%s", out);
    else if (drift_encoder_path(cache_dir, data, path, sizeof path)) return cli_fail(name, "cache");
    o.data_dir = data_dir;
    if (steps) o.steps = steps;
    if (batch) o.batch = batch;
    if (lr > 0) o.lr = lr;
    if (mask_ratio > 0) o.mask_ratio = mask_ratio;
    if (patch) o.patch = patch;
    if (depth) o.arch.depth = depth;
    o.train_limit = n_train;
    o.seed = (uint64_t)seed;
    progress_state ps = {drift_now()};
    o.progress = print_progress;
    o.progress_ctx = &ps;
    o.progress_every = 100;
    fprintf(stderr, "drift %s: masked-autoencoder training on the %s train split (%" PRId64
                    " steps, batch %d, lr %g, mask ratio %g of %dx%d patches)\n",
            name, data, o.steps, o.batch, o.lr, o.mask_ratio, o.patch, o.patch);
    drift_encoder *e = NULL;
    if (drift_encoder_train(&o, &e)) return cli_fail(name, "training failed");
    if (drift_encoder_save(e, path)) {
        drift_encoder_free(e);
        return cli_fail(name, "saving failed");
    }
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        encoder_json_fields(&w, e, path);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        printf("encoder for %s: masked MSE %.4f -> %.4f after %" PRId64 " steps (%.0f s)\nsaved to %s\n",
               e->dataset, e->loss_start, e->loss_end, e->steps, e->seconds, path);
    }
    drift_encoder_free(e);
    return 0;
}

static int info(int argc, char **argv)
{
    const char *data = NULL, *cache_dir = NULL, *file = NULL;
    int json = 0;
    /* a trailing FILE (not the value of an option) is the same as --file FILE */
    if (argc >= 3 && argv[argc - 1][0] != '-' &&
        (argc == 3 || (strcmp(argv[argc - 2], "--data") && strcmp(argv[argc - 2], "--cache-dir") &&
                       strcmp(argv[argc - 2], "--file")))) {
        file = argv[argc - 1];
        argc--;
    }
    const char *file_opt = NULL;
    cli_opt opts[] = {
        {"--data", OPT_STRING, &data, "NAME", "mnist | fashion-mnist: the cache's encoder (checked to be for it)", 0},
        {"--cache-dir", OPT_STRING, &cache_dir, "DIR", "cache directory (default $DRIFT_CACHE_DIR or ~/.cache/drift)", 0},
        {"--file", OPT_STRING, &file_opt, "FILE", "an encoder file instead of the cache's (also as the last argument)", 0},
        {"--json", OPT_FLAG, &json, NULL, "print JSON on stdout", 0},
    };
    char name[64];
    int r = parse_action(argc, argv, opts, (int)(sizeof opts / sizeof *opts), name, sizeof name);
    if (r) return r > 0 ? 0 : 2;
    if (file_opt) {
        if (file) {
            fprintf(stderr, "drift %s: give the file once (--file or as the last argument)\n", name);
            return 2;
        }
        file = file_opt;
    }
    if (!data && !file) {
        fprintf(stderr, "drift %s: give --data or a FILE\n", name);
        return 2;
    }
    char path[4096];
    if (file) snprintf(path, sizeof path, "%s", file);
    else if (drift_encoder_path(cache_dir, data, path, sizeof path)) return cli_fail(name, "cache");
    if (!file && access(path, F_OK) != 0) {
        fprintf(stderr, "drift %s: no encoder for %s at %s (train one with 'drift encoder train "
                        "--data %s')\n", name, data, path, data);
        return 1;
    }
    drift_encoder *e = NULL;
    if (drift_encoder_load(path, data, NULL, &e)) return cli_fail(name, "cannot load the encoder");
    if (json) {
        drift_jsonw w;
        drift_jsonw_init(&w);
        drift_jsonw_begin_object(&w);
        encoder_json_fields(&w, e, path);
        drift_jsonw_end_object(&w);
        printf("%s\n", w.buf);
        drift_jsonw_free(&w);
    } else {
        print_text(e, path);
    }
    drift_encoder_free(e);
    return 0;
}

int cmd_encoder(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "train")) return train(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "info")) return info(argc, argv);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: %s\n\n%s\n\nSee 'drift encoder train --help' and 'drift encoder info --help' "
               "for the options.\n", USAGE, DESCRIPTION);
        return 0;
    }
    fprintf(stderr, "usage: %s\n", USAGE);
    return 2;
}
