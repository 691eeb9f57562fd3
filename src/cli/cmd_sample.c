/* cmd_sample.c — `drift sample`: draw samples from a checkpoint's generator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/image.h"
#include "drift/models.h"
#include "drift/npy.h"
#include "drift/train.h"

static const char *USAGE =
    "drift sample --ckpt RUN/checkpoint.safetensors --n 10000 [--class c] [--alpha a] [--seed s]\n"
    "       --out samples.npy [--grid grid.png]";
static const char *DESCRIPTION =
    "Draws n samples, one forward pass each (batched), with the EMA weights (--raw-weights for the\n"
    "last optimizer weights). Writes float32 samples of shape (n, D) in data units ([-1, 1] for\n"
    "images) and, for class-conditional generators, labels (n,) int32 next to them\n"
    "(<out>_labels.npy, or --labels-out). Without --class, a conditional generator cycles through\n"
    "the classes (sample i has class i mod n_classes); --class -1 asks for its unconditional\n"
    "(null) class. --alpha is the guidance scale (>= 1) of generators trained with guidance.\n"
    "Sample i uses noise stream (seed, i): the same seed gives the same noise for any batch size\n"
    "(the samples then agree up to floating-point rounding) and the same bytes for the same command.";

int cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *grid = NULL, *labels_out = NULL;
    int n = 0, cls = -2, raw = 0, batch = 512, threads = 0, seed = 0, cols = 0, grid_n = 0;
    double alpha = 1.0;
    cli_opt opts[] = {
        {"--ckpt", OPT_STRING, &ckpt, "FILE", "checkpoint written by drift train  [required]", 0},
        {"--n", OPT_INT, &n, "N", "number of samples  [required]", 0},
        {"--class", OPT_INT, &cls, "C", "class of every sample (conditional generators; -1 = null class)", 0},
        {"--alpha", OPT_DOUBLE, &alpha, "A", "guidance scale, >= 1 (default 1)", 0},
        {"--seed", OPT_INT, &seed, "S", "noise seed (default 0)", 0},
        {"--out", OPT_STRING, &out, "FILE.npy", "samples, float32 (n, D)  [required]", 0},
        {"--labels-out", OPT_STRING, &labels_out, "FILE.npy", "labels of conditional samples (default <out>_labels.npy)", 0},
        {"--grid", OPT_STRING, &grid, "FILE.png", "also write the samples as an image grid (images) or scatter (2-D)", 0},
        {"--grid-cols", OPT_INT, &cols, "N", "tiles per row of the grid (default: n_classes or sqrt of the tiles)", 0},
        {"--grid-n", OPT_INT, &grid_n, "N", "images in the grid: the first N samples (default 10 rows: 10 x n_classes, else 64; 2-D scatter: all)", 0},
        {"--raw-weights", OPT_FLAG, &raw, NULL, "use the optimizer's weights instead of the EMA", 0},
        {"--batch", OPT_INT, &batch, "B", "forward batch size (default 512)", 0},
        {"--threads", OPT_INT, &threads, "T", "threads (default: all cores)", 0},
    };
    int pr = cli_parse(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), USAGE, DESCRIPTION);
    if (pr) return pr > 0 ? 0 : 2;
    if (!ckpt || !out || n < 1) {
        fprintf(stderr, "drift sample: --ckpt, --out and --n >= 1 are required (see --help)\n");
        return 2;
    }
    if (batch < 1 || threads < 0 || seed < 0 || cols < 0 || grid_n < 0) {
        fprintf(stderr, "drift sample: --batch must be >= 1, --threads, --seed, --grid-cols and --grid-n >= 0\n");
        return 2;
    }
    char lpath[1100];
    if (!labels_out) {
        size_t len = strlen(out);
        if (len > 4 && !strcmp(out + len - 4, ".npy")) snprintf(lpath, sizeof lpath, "%.*s_labels.npy", (int)(len - 4), out);
        else snprintf(lpath, sizeof lpath, "%s_labels.npy", out);
        labels_out = lpath;
    }
    const char *const out_names[] = {"--out", labels_out == lpath ? "the default --labels-out" : "--labels-out", "--grid"};
    const char *const out_paths[] = {out, labels_out, grid};
    if (cli_distinct_outputs("sample", 3, out_names, out_paths)) return 2;
    drift_set_threads(threads);
    drift_model *m = NULL;
    drift_checkpoint info;
    if (drift_generator_load(ckpt, !raw, batch, &m, &info)) return cli_fail("sample", "cannot load the generator");
    int rc = 0;
    const int nc = m->cfg.n_classes;
    int *labels = NULL;
    float *x = drift_alloc((size_t)n * (size_t)m->out_dim, sizeof(float));
    if (cls != -2 && nc == 0) {
        fprintf(stderr, "drift sample: --class given, but this generator is unconditional\n");
        rc = 2;
    } else if (cls != -2 && (cls < -1 || cls >= nc)) {
        fprintf(stderr, "drift sample: --class must be -1 (null) or in [0, %d), got %d\n", nc, cls);
        rc = 2;
    }
    if (!rc && nc) {
        labels = drift_alloc((size_t)n, sizeof(int));
        for (int i = 0; labels && i < n; i++) labels[i] = cls != -2 ? (cls == -1 ? DRIFT_LABEL_NULL : cls) : i % nc;
    }
    if (!rc && (!x || (nc && !labels))) rc = cli_fail("sample", "out of memory");
    double t0 = drift_now();
    if (!rc && drift_generate(m, n, labels, (float)alpha, (uint64_t)seed, x)) rc = cli_fail("sample", "generation failed");
    double dt = drift_now() - t0;
    if (!rc && drift_npy_write_f32(out, x, n, m->out_dim)) rc = cli_fail("sample", "cannot write the samples");
    if (!rc && nc) {
        int32_t *l32 = drift_alloc((size_t)n, sizeof(int32_t));
        for (int i = 0; l32 && i < n; i++) l32[i] = labels[i];
        int64_t shape = n;
        if (!l32 || drift_npy_write(labels_out, DRIFT_DTYPE_I32, 1, &shape, l32)) rc = cli_fail("sample", "cannot write the labels");
        drift_free(l32);
    }
    if (!rc && grid) {
        if (info.h > 0) {
            drift_grid_opts go = drift_grid_defaults();
            go.cols = cols ? cols : (nc && cls == -2 ? nc : 0);
            go.scale = 2;
            /* a grid is for looking at: a few rows, not all of a 10000-sample draw */
            int tiles = grid_n ? grid_n : (go.cols ? 10 * go.cols : 64);
            tiles = tiles < n ? tiles : n;
            /* with cycling labels and n_classes columns, column c holds class c */
            if (drift_image_grid(grid, x, tiles, info.h, info.w, info.c, &go)) rc = cli_fail("sample", "cannot write the grid");
        } else if (m->out_dim == 2) {
            drift_canvas cv;
            int W = 512;
            if (drift_canvas_init(&cv, W, W, (drift_rgb){255, 255, 255})) rc = cli_fail("sample", "grid");
            float lo = 1e30f, hi = -1e30f;
            for (int i = 0; !rc && i < 2 * n; i++) {
                lo = x[i] < lo ? x[i] : lo;
                hi = x[i] > hi ? x[i] : hi;
            }
            float span = (hi - lo) * 1.1f + 1e-6f, c0 = 0.5f * (hi + lo) - span / 2;
            for (int i = 0; !rc && i < n; i++)
                drift_canvas_dot(&cv, (int)((x[2 * i] - c0) / span * (W - 1)), (int)(W - 1 - (x[2 * i + 1] - c0) / span * (W - 1)), 1,
                                 (drift_rgb){214, 39, 40});
            if (!rc && drift_canvas_write_png(&cv, grid)) rc = cli_fail("sample", "cannot write the scatter plot");
            if (!rc) drift_canvas_free(&cv);
        } else {
            fprintf(stderr, "drift sample: --grid needs image or 2-D samples\n");
            rc = 2;
        }
    }
    if (!rc)
        fprintf(stderr, "drift sample: %d samples of dimension %d in %.2f s (%.0f samples/s) -> %s\n", n, m->out_dim, dt,
                n / (dt + 1e-12), out);
    drift_free(x);
    drift_free(labels);
    drift_model_free(m);
    return rc;
}
