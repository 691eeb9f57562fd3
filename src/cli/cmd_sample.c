/* cmd_sample.c — `drift sample`: draw samples from a checkpoint's generator. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "drift/core.h"
#include "drift/image.h"
#include "drift/models.h"
#include "drift/npy.h"
#include "drift/train.h"

static const char *USAGE =
    "drift sample --ckpt RUN/checkpoint.safetensors --n 10000 [--class c] [--alpha a] [--seed s]\n"
    "       --out samples.npy [--grid grid.png] [--png-dir DIR]";
static const char *DESCRIPTION =
    "Draws n samples, one forward pass each (batched), with the EMA weights (--raw-weights for the\n"
    "last optimizer weights). Writes float32 samples of shape (n, D) in data units ([-1, 1] for\n"
    "images) as a NumPy file (--out must end in .npy; --grid draws a PNG) and, for class-conditional\n"
    "generators, their labels (n,) int32 next to them: <out without .npy>_labels.npy, or --labels-out\n"
    "(the summary line names both). Without --class, a conditional generator cycles through the\n"
    "classes (sample i has class i mod n_classes); --class C draws class C only, C in 0..n_classes-1.\n"
    "There is no unconditional class to ask for: training never shows the generator a null label\n"
    "(guidance mixes unconditional data into the negatives instead). --alpha is the guidance scale\n"
    "(>= 1) of generators trained with guidance. The grid of a conditional generator has one row\n"
    "per class, like drift train's samples_<step>.png.\n"
    "--png-dir DIR also writes every sample as its own PNG, DIR/000000.png, DIR/000001.png, ...\n"
    "(8-bit gray or RGB, [-1, 1] mapped to 0..255; sample i's class is row i of the labels file),\n"
    "the folder layout torch-fidelity and clean-fid read. DIR must be new or empty, so that no\n"
    "image of an earlier draw mixes into the set.\n"
    "Sample i uses noise stream (seed, i): the same seed gives the same noise for any batch size\n"
    "(the samples then agree up to floating-point rounding) and the same bytes for the same command.";

/* --png-dir: a new or empty folder (images of an earlier, larger draw would otherwise stay
 * among the new ones and be scored with them). */
static int prepare_png_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0) return 0;
    if (errno != EEXIST) {
        fprintf(stderr, "drift sample: cannot create --png-dir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct stat sb;
    if (lstat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "drift sample: --png-dir %s exists and is not a folder\n", dir);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "drift sample: cannot read --png-dir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    struct dirent *e;
    int n = 0;
    char first[256] = "";
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && !n++) snprintf(first, sizeof first, "%s", e->d_name);
    closedir(d);
    if (n) {
        fprintf(stderr, "drift sample: --png-dir %s is not empty (%d entries, e.g. %s): images of an earlier draw "
                        "would mix into this one; give a new or empty folder\n", dir, n, first);
        return 1;
    }
    return 0;
}

/* Sample i as DIR/<i, zero-padded>.png: bytes round((v + 1) * 127.5), clamped. Each file is
 * created new (O_EXCL, no symlink followed) and written whole; no fsync per file (10,000 of
 * them would take minutes on some disks): the folder is new, not a file being replaced. */
static int write_png_dir(const char *dir, const float *x, int64_t n, int h, int w, int c)
{
    const size_t px = (size_t)h * (size_t)w * (size_t)c;
    uint8_t *bytes = malloc(px);
    if (!bytes) return cli_fail("sample", "out of memory");
    const int digits = n > 1000000 ? (int)snprintf(NULL, 0, "%lld", (long long)(n - 1)) : 6;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        const float *s = x + (size_t)i * px;
        for (size_t p = 0; p < px; p++) {
            float v = (s[p] + 1.0f) * 127.5f;
            bytes[p] = (uint8_t)(v >= 255.0f ? 255 : v > 0.0f ? (int)(v + 0.5f) : 0); /* NaN -> 0 */
        }
        unsigned char *png = NULL;
        size_t len = 0;
        char path[4200];
        snprintf(path, sizeof path, "%s/%0*lld.png", dir, digits, (long long)i);
        if (drift_png_encode(w, h, c, bytes, &png, &len)) {
            rc = cli_fail("sample", "cannot encode a PNG");
            break;
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        ssize_t wr = fd >= 0 ? write(fd, png, len) : -1;
        if (fd < 0 || wr != (ssize_t)len || close(fd)) {
            fprintf(stderr, "drift sample: cannot write %s: %s\n", path, strerror(errno ? errno : EIO));
            rc = 1;
        }
        drift_free(png);
    }
    free(bytes);
    return rc;
}

int cmd_sample(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *grid = NULL, *labels_out = NULL, *png_dir = NULL;
    int n = 0, cls = 0, raw = 0, batch = 512, threads = 0, seed = 0, cols = 0, grid_n = 0;
    double alpha = 1.0;
    cli_opt opts[] = {
        {"--ckpt", OPT_STRING, &ckpt, "FILE", "checkpoint written by drift train  [required]", 0},
        {"--n", OPT_INT, &n, "N", "number of samples  [required]", 0},
        {"--class", OPT_INT, &cls, "C", "class of every sample, 0..n_classes-1 (conditional generators; default: cycle)", 0},
        {"--alpha", OPT_DOUBLE, &alpha, "A", "guidance scale, >= 1 (default 1)", 0},
        {"--seed", OPT_INT, &seed, "S", "noise seed (default 0)", 0},
        {"--out", OPT_STRING, &out, "FILE.npy", "samples, float32 (n, D), NumPy .npy  [required]", 0},
        {"--labels-out", OPT_STRING, &labels_out, "FILE.npy", "labels (n,) int32 of conditional samples (default: FILE_labels.npy for --out FILE.npy)", 0},
        {"--grid", OPT_STRING, &grid, "FILE.png", "also write a PNG: an image grid (conditional: one row per class) or a scatter (2-D)", 0},
        {"--grid-cols", OPT_INT, &cols, "N", "tiles per row of the grid (default: 10 per class row, else sqrt of the tiles)", 0},
        {"--grid-n", OPT_INT, &grid_n, "N", "images in the grid: the first N samples (default 10 per class, else 64; 2-D scatter: all)", 0},
        {"--png-dir", OPT_STRING, &png_dir, "DIR", "also write each sample as DIR/NNNNNN.png (a new or empty folder; for torch-fidelity, clean-fid)", 0},
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
    const int class_given = opts[2].seen; /* --class, whatever its value (-2 was once ignored) */
    /* the samples and labels are NumPy files: a name that promises something else is refused */
    const char *const npy_names[] = {"--out", "--labels-out"};
    const char *const npy_paths[] = {out, labels_out};
    for (int k = 0; k < 2; k++) {
        size_t len = npy_paths[k] ? strlen(npy_paths[k]) : 0;
        if (npy_paths[k] && (len < 5 || strcmp(npy_paths[k] + len - 4, ".npy") || npy_paths[k][len - 5] == '/')) {
            fprintf(stderr, "drift sample: %s must name a .npy file (NumPy float32/int32 arrays), got '%s'%s\n",
                    npy_names[k], npy_paths[k], k == 0 ? "; for a PNG picture of the samples add --grid FILE.png" : "");
            return 2;
        }
    }
    char lpath[1100];
    if (!labels_out) {
        if (snprintf(lpath, sizeof lpath, "%.*s_labels.npy", (int)(strlen(out) - 4), out) >= (int)sizeof lpath) {
            fprintf(stderr, "drift sample: --out path too long for the default --labels-out\n");
            return 2;
        }
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
    if (class_given && nc == 0) {
        fprintf(stderr, "drift sample: --class given, but this generator is unconditional\n");
        rc = 2;
    } else if (class_given && (cls < 0 || cls >= nc)) {
        /* no null class: training never feeds the generator DRIFT_LABEL_NULL, so its embedding
         * is untrained and "unconditional" samples from it would be noise */
        fprintf(stderr, "drift sample: --class must be a class of this generator, 0..%d, got %d (there is no "
                        "unconditional class: omit --class to cycle through the classes)\n", nc - 1, cls);
        rc = 2;
    }
    if (!rc && png_dir) { /* checked before the draw, which may take minutes */
        if (info.h <= 0) {
            fprintf(stderr, "drift sample: --png-dir needs an image generator; this one draws %d-dimensional points\n",
                    m->out_dim);
            rc = 2;
        } else if (prepare_png_dir(png_dir)) {
            rc = 1;
        }
    }
    if (!rc && nc) {
        labels = drift_alloc((size_t)n, sizeof(int));
        for (int i = 0; labels && i < n; i++) labels[i] = class_given ? cls : i % nc;
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
    if (!rc && png_dir) rc = write_png_dir(png_dir, x, n, info.h, info.w, info.c);
    if (!rc && grid) {
        if (info.h > 0) {
            if (nc && !class_given) {
                /* one row per class, as in training's samples_<step>.png: the first tiles
                 * samples (cycling labels), `per_row` of each class */
                int64_t per_row = cols ? cols : 10;
                int64_t tiles = grid_n ? grid_n : per_row * nc;
                tiles = tiles < n ? tiles : n;
                int64_t most = (tiles + nc - 1) / nc; /* samples of a class among the first tiles */
                if (!cols || per_row > most) per_row = most;
                if (drift_class_grid(grid, x, labels, tiles, nc, (int)per_row, info.h, info.w, info.c, 2))
                    rc = cli_fail("sample", "cannot write the grid");
            } else {
                drift_grid_opts go = drift_grid_defaults();
                go.cols = cols;
                go.scale = 2;
                /* a grid is for looking at: a few rows, not all of a 10000-sample draw */
                int64_t tiles = grid_n ? grid_n : (cols ? 10 * (int64_t)cols : 64);
                tiles = tiles < n ? tiles : n;
                if (drift_image_grid(grid, x, (int)tiles, info.h, info.w, info.c, &go)) rc = cli_fail("sample", "cannot write the grid");
            }
        } else if (m->out_dim == 2) {
            drift_canvas cv;
            int W = 512;
            if (drift_canvas_init(&cv, W, W, (drift_rgb){255, 255, 255})) rc = cli_fail("sample", "grid");
            if (!rc) {
                drift_view v;
                drift_view_fit(&v, x, n, 2, 0.1);
                drift_canvas_scatter(&cv, 0, 0, W - 1, W - 1, &v, x, n, 2, 1, (drift_rgb){214, 39, 40});
            }
            if (!rc && drift_canvas_write_png(&cv, grid)) rc = cli_fail("sample", "cannot write the scatter plot");
            if (!rc) drift_canvas_free(&cv);
        } else {
            fprintf(stderr, "drift sample: --grid needs image or 2-D samples\n");
            rc = 2;
        }
    }
    if (!rc)
        fprintf(stderr, "drift sample: %d samples of dimension %d in %.2f s (%.0f samples/s) -> %s%s%s%s%s\n", n,
                m->out_dim, dt, n / (dt + 1e-12), out, nc ? ", labels " : "", nc ? labels_out : "", grid ? ", grid " : "",
                grid ? grid : "");
    if (!rc && png_dir) fprintf(stderr, "drift sample: %d PNG files in %s\n", n, png_dir);
    drift_free(x);
    drift_free(labels);
    drift_model_free(m);
    return rc;
}
