/* run.c — the training run around the steps: metrics.jsonl, plots, sample grids, evaluation,
 * checkpoints. Everything is written into the run directory; nothing is printed here (the
 * caller's reporter shows progress). */
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drift/core.h"
#include "drift/error.h"
#include "drift/eval.h"
#include "drift/image.h"
#include "drift/json.h"
#include "drift/log.h"
#include "drift/models.h"
#include "drift/plot.h"
#include "drift/train.h"
#include "io/atomic.h"
#include "train/trainer_internal.h"

#define GRID_COLS 10
#define SCATTER_POINTS 2000

enum { H_STEP, H_LOSS, H_VRMS, H_DIV, H_FID, H_COLS };

void drift_trainer_set_reporter(drift_trainer *t, drift_train_reporter fn, void *ctx)
{
    t->report = fn;
    t->report_ctx = ctx;
}

void trainer_outputs_free(drift_trainer *t)
{
    drift_jsonl_close(t->metrics);
    t->metrics = NULL;
    free(t->hist);
    t->hist = NULL;
    drift_model_free(t->sampler);
    t->sampler = NULL;
    drift_evaluator_free(t->evaluator);
    t->evaluator = NULL;
}

static void note(drift_trainer *t, const drift_step_info *info, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(drift_trainer *t, const drift_step_info *info, const char *fmt, ...)
{
    if (!t->report) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    t->report(t->report_ctx, info, t->cfg.steps, line);
}

/* The EMA weights in a model of their own (so training activations stay untouched). */
static int ema_model(drift_trainer *t)
{
    if (!t->sampler) {
        int st = drift_model_create(&t->model->cfg, 256, &t->sampler);
        if (st) return st;
    }
    memcpy(t->sampler->params, t->ema.shadow, t->model->n_params * sizeof(float));
    return DRIFT_OK;
}

/* Samples for grids/evals: n rows, labels cycling through the classes (conditional), α = 1. */
static int sample_rows(drift_trainer *t, int64_t n, int *labels, float *out, uint64_t seed)
{
    int st = ema_model(t);
    if (st) return st;
    const int conditional = t->cfg.conditional;
    if (conditional)
        for (int64_t i = 0; i < n; i++) labels[i] = (int)(i % t->n_classes);
    return drift_generate(t->sampler, n, conditional ? labels : NULL, 1.0f, seed, out);
}

static int write_scatter(drift_trainer *t, const char *path, const float *s, int64_t n)
{
    const int W = 512, H = 512, M = 20;
    drift_canvas cv;
    int st = drift_canvas_init(&cv, W, H, (drift_rgb){255, 255, 255});
    if (st) return st;
    /* view: the data's bounding box with a margin; the data gray, the samples red */
    int64_t nd = t->data.n < SCATTER_POINTS ? t->data.n : SCATTER_POINTS;
    drift_view v;
    drift_view_fit(&v, t->data.x, nd, 2, 0.15);
    drift_canvas_scatter(&cv, M, M, W - 2 * M, H - 2 * M, &v, t->data.x, nd, 2, 1, (drift_rgb){170, 170, 170});
    drift_canvas_scatter(&cv, M, M, W - 2 * M, H - 2 * M, &v, s, n, 2, 1, (drift_rgb){214, 39, 40});
    char title[128];
    snprintf(title, sizeof title, "%s  step %lld  gray: data  red: samples", t->data.name, (long long)t->step);
    drift_canvas_text(&cv, 6, 4, title, 1, (drift_rgb){0, 0, 0});
    st = drift_canvas_write_png(&cv, path);
    drift_canvas_free(&cv);
    return st;
}

int drift_class_grid(const char *path, const float *x, const int *labels, int64_t n, int n_classes,
                     int cols, int h, int w, int c, int scale)
{
    if (!path || !x || !labels || n < 1 || n_classes < 1 || cols < 1 || h < 1 || w < 1 || (c != 1 && c != 3) ||
        scale < 1 || scale > 64)
        return drift_error(DRIFT_EINVAL, "class grid: bad arguments (n=%lld classes=%d cols=%d)", (long long)n,
                           n_classes, cols);
    /* refuse a grid the PNG writer would refuse before allocating its tiles */
    if ((int64_t)cols * (w * (int64_t)scale + 2) + 2 > DRIFT_IMAGE_MAX_SIDE ||
        (int64_t)n_classes * (h * (int64_t)scale + 2) + 2 > DRIFT_IMAGE_MAX_SIDE)
        return drift_error(DRIFT_EINVAL, "class grid of %d x %d tiles of %dx%d pixels is too large (max %d pixels a side)",
                           n_classes, cols, w * scale, h * scale, DRIFT_IMAGE_MAX_SIDE);
    const size_t D = (size_t)h * (size_t)w * (size_t)c, tiles = (size_t)n_classes * (size_t)cols;
    float *g = drift_alloc(tiles * D, sizeof(float));
    int *filled = drift_alloc((size_t)n_classes, sizeof(int));
    if (!g || !filled) {
        drift_free(g); drift_free(filled);
        return DRIFT_ENOMEM;
    }
    int st = DRIFT_OK;
    /* g is zeroed: a tile without a sample is mid gray, like the padding */
    for (int64_t i = 0; i < n && !st; i++) {
        int k = labels[i];
        if (k < 0 || k >= n_classes) st = drift_error(DRIFT_EINVAL, "class grid: label %d of sample %lld outside [0, %d)",
                                                     k, (long long)i, n_classes);
        else if (filled[k] < cols) memcpy(g + ((size_t)k * cols + (size_t)filled[k]++) * D, x + (size_t)i * D, D * sizeof(float));
    }
    drift_grid_opts go = drift_grid_defaults();
    go.cols = cols;
    go.scale = scale;
    if (!st) st = drift_image_grid(path, g, (int)tiles, h, w, c, &go);
    drift_free(g);
    drift_free(filled);
    return st;
}

int drift_trainer_write_samples(drift_trainer *t, const char *path)
{
    const int image = t->data.h > 0;
    int64_t n = image ? (t->cfg.conditional ? (int64_t)t->n_classes * GRID_COLS : 64) : SCATTER_POINTS;
    float *s = drift_alloc((size_t)(n * t->dim), sizeof(float));
    int *labels = drift_alloc((size_t)n, sizeof(int));
    if (!s || !labels) {
        drift_free(s); drift_free(labels);
        return DRIFT_ENOMEM;
    }
    /* one row per class: reorder the cycling labels so that row c holds class c */
    int st = sample_rows(t, n, labels, s, t->cfg.seed ^ 0x5a5a5a5aull);
    if (!st && image) {
        if (t->cfg.conditional) {
            st = drift_class_grid(path, s, labels, n, t->n_classes, GRID_COLS, t->data.h, t->data.w, t->data.c, 2);
        } else {
            drift_grid_opts go = drift_grid_defaults();
            go.cols = 8;
            go.scale = 2;
            st = drift_image_grid(path, s, (int)n, t->data.h, t->data.w, t->data.c, &go);
        }
    } else if (!st) {
        st = t->dim == 2 ? write_scatter(t, path, s, n) : DRIFT_OK;
    }
    drift_free(s);
    drift_free(labels);
    return st;
}

static int append_history(drift_trainer *t, const double *row)
{
    if (t->n_hist == t->cap_hist) {
        int64_t cap = t->cap_hist ? 2 * t->cap_hist : 256;
        double *h = realloc(t->hist, (size_t)cap * H_COLS * sizeof(double));
        if (!h) return drift_error(DRIFT_ENOMEM, "out of memory");
        t->hist = h;
        t->cap_hist = cap;
    }
    memcpy(t->hist + t->n_hist * H_COLS, row, H_COLS * sizeof(double));
    t->n_hist++;
    return DRIFT_OK;
}

static int write_plots(drift_trainer *t)
{
    const int64_t n = t->n_hist;
    if (n < 1) return DRIFT_OK;
    double *x = malloc((size_t)n * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
    double *y2 = malloc((size_t)n * sizeof(double));
    if (!x || !y || !y2) {
        free(x); free(y); free(y2);
        return drift_error(DRIFT_ENOMEM, "out of memory");
    }
    int st = DRIFT_OK;
    char path[1100];
    struct { const char *file, *title, *ylabel; int col, col2; const char *name, *name2; int logy; } plots[] = {
        {"loss", "training loss and raw field size |V|", "value", H_LOSS, H_VRMS, "loss", "|V| (RMS, data units)", 1},
        {"diversity", "sample diversity (generated / data spread; near 0 = mode collapse)", "ratio", H_DIV, -1, "diversity", NULL, 0},
        {"fid", "FID (own classifier features)", "FID", H_FID, -1, "FID", NULL, 1},
    };
    for (size_t p = 0; p < sizeof plots / sizeof plots[0] && !st; p++) {
        size_t m = 0, m2 = 0;
        double *x2 = NULL;
        for (int64_t i = 0; i < n; i++) {
            double v = t->hist[i * H_COLS + plots[p].col];
            if (isfinite(v) && (!plots[p].logy || v > 0)) {
                x[m] = t->hist[i * H_COLS + H_STEP];
                y[m++] = v;
            }
        }
        if (m == 0) continue;
        drift_plot *pl = NULL;
        st = drift_plot_create(&pl, plots[p].title, "step", plots[p].ylabel);
        if (!st) {
            drift_plot_set_log(pl, 0, plots[p].logy);
            st = drift_plot_add_series(pl, plots[p].name, x, y, m, m > 1 ? DRIFT_PLOT_LINE : DRIFT_PLOT_MARKERS);
        }
        if (!st && plots[p].col2 >= 0) {
            x2 = malloc((size_t)n * sizeof(double));
            if (!x2) st = DRIFT_ENOMEM;
            for (int64_t i = 0; !st && i < n; i++) {
                double v = t->hist[i * H_COLS + plots[p].col2];
                if (isfinite(v) && v > 0) {
                    x2[m2] = t->hist[i * H_COLS + H_STEP];
                    y2[m2++] = v;
                }
            }
            if (!st && m2) st = drift_plot_add_series(pl, plots[p].name2, x2, y2, m2, DRIFT_PLOT_DASHED);
        }
        snprintf(path, sizeof path, "%s/%s.svg", t->cfg.out, plots[p].file);
        if (!st) st = drift_plot_write_svg(pl, path);
        snprintf(path, sizeof path, "%s/%s.png", t->cfg.out, plots[p].file);
        if (!st) st = drift_plot_write_png(pl, path);
        drift_plot_free(pl);
        free(x2);
    }
    free(x); free(y); free(y2);
    return st;
}

/* The evaluator's own messages (it may train a classifier first: minutes) reach the user. */
static void evaluator_log(void *ctx, const char *line)
{
    drift_trainer *t = ctx;
    if (t->report && t->eval_info) t->report(t->report_ctx, t->eval_info, t->cfg.steps, line);
}

/* Rows of the user's own training data that evaluations compare with: at most `max`, evenly
 * spaced through the file (a file sorted by class still gives every class), with labels. */
#define OWN_REF_ROWS 10000
static int own_ref_rows(const drift_trainer *t, int64_t max, drift_dataset *ref)
{
    const drift_dataset *d = &t->data;
    *ref = *d;
    ref->n = d->n < max ? d->n : max;
    ref->x = drift_alloc((size_t)ref->n * (size_t)d->dim, sizeof(float));
    ref->labels = d->labels ? drift_alloc((size_t)ref->n, sizeof(int32_t)) : NULL;
    if (!ref->x || (d->labels && !ref->labels)) {
        drift_free(ref->x), drift_free(ref->labels);
        memset(ref, 0, sizeof *ref);
        return DRIFT_ENOMEM;
    }
    for (int64_t i = 0; i < ref->n; i++) {
        int64_t r = (int64_t)((double)i * (double)d->n / (double)ref->n);
        memcpy(ref->x + i * d->dim, d->x + r * d->dim, (size_t)d->dim * sizeof(float));
        if (ref->labels) ref->labels[i] = d->labels[r];
    }
    return DRIFT_OK;
}

static int own_data(const drift_trainer *t)
{
    const drift_toy *toy;
    return strcmp(t->cfg.data, "mnist") && strcmp(t->cfg.data, "fashion-mnist") &&
           drift_toy_find(t->cfg.data, &toy) != DRIFT_OK;
}

static int open_evaluator(drift_trainer *t)
{
    if (t->evaluator) return DRIFT_OK;
    drift_evaluator_opts eo;
    memset(&eo, 0, sizeof eo);
    eo.dataset = t->cfg.data;
    eo.data_dir = t->cfg.data_dir[0] ? t->cfg.data_dir : NULL;
    eo.train_if_missing = 1;
    eo.log = evaluator_log;
    eo.log_ctx = t;
    if (!own_data(t)) return drift_evaluator_open(&eo, &t->evaluator);
    /* own images: up to 10,000 of the training rows are the reference, and the feature network
     * is trained on them on first use (drift_evaluator_open_ref) */
    drift_dataset ref;
    int st = own_ref_rows(t, OWN_REF_ROWS, &ref);
    if (!st) st = drift_evaluator_open_ref(&eo, &ref, &t->evaluator);
    drift_free(ref.x), drift_free(ref.labels);
    return st;
}

/* Evaluate EMA samples; writes the metrics into the JSON object w has open. */
static int evaluate(drift_trainer *t, drift_jsonw *w, double *fid_out, double *score_out, char *summary,
                    size_t ssize)
{
    *fid_out = *score_out = NAN;
    const int64_t n = t->cfg.eval_n;
    float *s = drift_alloc((size_t)(n * t->dim), sizeof(float));
    int *labels = drift_alloc((size_t)n, sizeof(int));
    int32_t *l32 = drift_alloc((size_t)n, sizeof(int32_t));
    int st = (!s || !labels || !l32) ? DRIFT_ENOMEM : DRIFT_OK;
    if (!st) st = sample_rows(t, n, labels, s, t->cfg.seed ^ 0xe7a1ull);
    const int image = t->data.h > 0;
    if (!st && image) {
        if (!(st = open_evaluator(t))) {
            for (int64_t i = 0; i < n; i++) l32[i] = labels[i];
            drift_image_metrics m;
            st = drift_eval_images(t->evaluator, s, t->dim, t->cfg.conditional ? l32 : NULL, n, &m);
            if (!st) {
                st = drift_image_metrics_write_json(&m, w);
                *fid_out = *score_out = m.fid;
                snprintf(summary, ssize, "eval at step %lld: FID %.3f  precision %.3f  recall %.3f%s", (long long)t->step,
                         m.fid, m.precision, m.recall, "");
                if (m.has_labels) {
                    size_t used = strlen(summary);
                    snprintf(summary + used, ssize - used, "  class accuracy %.3f", m.class_accuracy);
                }
                if (!isnan(m.outlier_fraction)) {
                    size_t used = strlen(summary);
                    snprintf(summary + used, ssize - used, "  outliers %.3f", m.outlier_fraction);
                }
            }
        }
    } else if (!st && (t->dim == 2 || own_data(t))) {
        /* toys against a fresh sample of the target; own points and vectors against their rows */
        drift_toy_metrics m;
        if (own_data(t)) {
            drift_dataset ref;
            if (!(st = own_ref_rows(t, n, &ref)))
                st = drift_eval_points(ref.x, ref.n, s, n, (int)t->dim, t->cfg.seed, &m);
            drift_free(ref.x), drift_free(ref.labels);
        } else {
            st = drift_eval_toy(t->cfg.data, s, n, t->cfg.seed, &m);
        }
        if (!st) {
            st = drift_toy_metrics_write_json(&m, w);
            *score_out = m.mmd2;
            snprintf(summary, ssize, "eval at step %lld: MMD² %.5f  energy %.5f  sliced W2 %.4f", (long long)t->step,
                     m.mmd2, m.energy, m.sliced_w2);
        }
    } else {
        summary[0] = 0;
    }
    drift_free(s); drift_free(labels); drift_free(l32);
    return st;
}

/* Writes the metrics line of this step (evaluating first when do_eval); *score gets the
 * evaluation's score for best.safetensors (NAN: none). */
static int log_line(drift_trainer *t, const drift_step_info *info, double steps_per_s, int do_eval, char *eval_note,
                    size_t note_size, double *score)
{
    *score = NAN;
    /* the line goes out in one write(2) on the O_APPEND descriptor (drift_jsonl_end): readers
     * never see half a line; doubles with 9 digits, so float32 values round-trip */
    int st = drift_jsonl_begin(t->metrics);
    if (st) return st;
    drift_jsonw *w = drift_jsonl_writer(t->metrics);
    drift_jsonw_key(w, "step"); drift_jsonw_int(w, t->step);
    drift_jsonw_key(w, "loss"); drift_jsonw_double(w, info->stats.loss);
    drift_jsonw_key(w, "v_rms"); drift_jsonw_double(w, info->stats.v_rms);
    drift_jsonw_key(w, "tau_rms");
    drift_jsonw_begin_array(w);
    for (int k = 0; k < t->cfg.field.n_tau; k++) drift_jsonw_double(w, info->stats.tau_rms[k]);
    drift_jsonw_end_array(w);
    drift_jsonw_key(w, "feature_scale"); drift_jsonw_double(w, info->stats.feature_scale);
    drift_jsonw_key(w, "diversity"); drift_jsonw_double(w, info->stats.diversity);
    drift_jsonw_key(w, "dup_frac"); drift_jsonw_double(w, info->stats.dup_frac);
    drift_jsonw_key(w, "grad_norm"); drift_jsonw_double(w, info->grad_norm);
    drift_jsonw_key(w, "lr"); drift_jsonw_double(w, info->lr);
    drift_jsonw_key(w, "steps_per_s"); drift_jsonw_double(w, steps_per_s);
    if (t->features_on && t->encoder) { /* each feature key's loss (each near the number of temperatures) */
        drift_jsonw_key(w, "key_loss");
        drift_jsonw_begin_object(w);
        for (int k = 0; k < t->fcfg.n_keys; k++) {
            drift_jsonw_key(w, t->keys[k].name);
            drift_jsonw_double(w, t->key_stats[k].loss);
        }
        drift_jsonw_end_object(w);
    }
    drift_jsonw_key(w, "step_seconds"); drift_jsonw_double(w, info->seconds);
    drift_jsonw_key(w, "loss_seconds"); drift_jsonw_double(w, info->loss_seconds);
    double fid = NAN;
    if (do_eval) {
        t->eval_info = info;
        st = evaluate(t, w, &fid, score, eval_note, note_size);
        t->eval_info = NULL;
    }
    if (st)
        drift_jsonl_discard(t->metrics);
    else
        st = drift_jsonl_end(t->metrics);
    double row[H_COLS] = {(double)t->step, info->stats.loss, info->stats.v_rms, info->stats.diversity, fid};
    if (!st) st = append_history(t, row);
    return st;
}

/* The evaluation score of a metrics line (FID for images, MMD² for toy data; NAN: none). */
static double line_score(const char *line)
{
    const char *p = strstr(line, "\"fid\":");
    if (p) return strtod(p + 6, NULL);
    p = strstr(line, "\"toy_mmd2\":");
    return p ? strtod(p + 11, NULL) : NAN;
}

/* A resumed run keeps the metrics of the steps it kept and drops later ones (rewritten
 * atomically; no log yet: nothing to keep). *best gets the lowest evaluation score kept
 * (INFINITY: none), which a later evaluation must beat to replace best.safetensors. */
static int keep_metrics_until(const char *path, int64_t step, double *best)
{
    *best = INFINITY;
    FILE *old;
    if (drift_fopen_input(path, &old, NULL)) {
        drift_clear_error();
        return DRIFT_OK;
    }
    drift_atomic_file af;
    int st = drift_atomic_open(&af, path);
    if (!st) {
        char line[8192];
        while (!st && fgets(line, sizeof line, old)) {
            const char *p = strstr(line, "\"step\":");
            long long s = p ? atoll(p + 7) : 0;
            if (s <= step) st = drift_atomic_printf(&af, "%s", line);
            const double sc = s <= step ? line_score(line) : NAN;
            if (sc < *best) *best = sc;
        }
        if (st) drift_atomic_abort(&af);
        else st = drift_atomic_commit(&af);
    }
    fclose(old);
    return st;
}

int drift_trainer_init_from(drift_trainer *t, const char *ckpt_path)
{
    if (t->step != 0) return drift_error(DRIFT_EINVAL, "init-from: the run has already taken steps");
    drift_checkpoint ck;
    int st = drift_checkpoint_load(ckpt_path, &ck);
    if (st) return st;
    char mine[sizeof ck.model_config];
    st = drift_model_config_format(&t->model->cfg, mine, sizeof mine);
    if (!st && (ck.n_params != t->model->n_params || strcmp(ck.model_config, mine)))
        st = drift_error(DRIFT_ESHAPE, "--init-from %s: its generator (%s, %zu parameters) is not this run's (%s, %zu "
                                       "parameters): the model options and the data's shape and classes must match",
                         ckpt_path, ck.model_config, ck.n_params, mine, t->model->n_params);
    if (!st) {
        /* the weights and the EMA weights; AdamW, the schedule and the step count start afresh.
         * The EMA keeps its update count, so it averages on from the checkpoint's weights rather
         * than restarting from the raw ones. */
        memcpy(t->model->params, ck.params, ck.n_params * sizeof(float));
        memcpy(t->ema.shadow, ck.ema, ck.n_params * sizeof(float));
        t->ema.updates = ck.ema_updates;
    }
    drift_checkpoint_free(&ck);
    return st;
}

/* best.safetensors: a checkpoint like the last one, which is still what the run resumes from and
 * names as its last good checkpoint (drift_trainer_last_checkpoint). */
static int save_best(drift_trainer *t, const char *path)
{
    char last[sizeof t->last_ckpt];
    const int64_t last_step = t->last_ckpt_step;
    memcpy(last, t->last_ckpt, sizeof last);
    int st = drift_trainer_save(t, path);
    memcpy(t->last_ckpt, last, sizeof last);
    t->last_ckpt_step = last_step;
    return st;
}

/* config.json: the resolved configuration of the run (after a resume: the checkpoint's with
 * this session's changes), rewritten atomically at every start. */
static int write_config_json(const drift_train_config *cfg)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", cfg->out);
    drift_jsonw w;
    drift_jsonw_init(&w);
    int st = drift_train_config_write_json(cfg, &w);
    drift_atomic_file af;
    if (!st) st = drift_atomic_open(&af, path);
    if (!st) {
        st = drift_atomic_printf(&af, "%s\n", w.buf);
        if (st) drift_atomic_abort(&af);
        else st = drift_atomic_commit(&af);
    }
    drift_jsonw_free(&w);
    return st;
}

/* A stop request: this process's flag alone; with several ranks, any rank's flag as summed in
 * the last step (every rank then stops after the same step). */
static int stop_requested(const drift_trainer *t)
{
    if (drift_comm_size(t->comm) > 1) return t->stop_all;
    return t->stop && *t->stop;
}

int drift_trainer_run(drift_trainer *t)
{
    const drift_train_config *cfg = &t->cfg;
    /* with several ranks, rank 0 alone writes the run directory (docs/SCALE.md) */
    const int writer = drift_comm_rank(t->comm) == 0;
    char path[1100], ckpt[1100], tmp[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", cfg->out);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", cfg->out);
    if (t->step > cfg->steps)
        return drift_error(DRIFT_EINVAL, "the checkpoint is at step %lld, past the run's %lld steps: nothing to "
                                         "train (give --steps above %lld)", (long long)t->step,
                           (long long)cfg->steps, (long long)t->step);
    /* a missing or bad encoder ends the run before anything is written into its directory */
    int st = t->features_on ? trainer_open_encoder(t) : DRIFT_OK;
    if (st) return st;
    /* one run per directory: a second would tear metrics.jsonl lines and mix the files */
    int lock_fd = -1;
    st = writer ? drift_dir_lock(cfg->out, "drift train", &lock_fd) : DRIFT_OK;
    if (st) return st;
    /* best.safetensors: the state of the lowest evaluation score so far (FID, or MMD² for toy
     * data); a resumed run keeps the best of its kept metrics, if the file is still there */
    char best_path[1100];
    snprintf(best_path, sizeof best_path, "%s/best.safetensors", cfg->out);
    double best = INFINITY;
    st = t->step > 0 && writer ? keep_metrics_until(path, t->step, &best) : DRIFT_OK;
    if (access(best_path, F_OK)) best = INFINITY;
    if (!st && writer) st = write_config_json(cfg);
    /* appended to on a resume, from scratch otherwise; never through a symlink */
    if (!st && writer) st = drift_jsonl_open(&t->metrics, path, t->step == 0);
    if (st) {
        drift_dir_unlock(lock_fd);
        return st;
    }

    double t_start = drift_now(), window_start = t_start;
    int64_t window_steps = 0;
    drift_step_info info;
    memset(&info, 0, sizeof info);
    char eval_note[512];
    while (t->step < cfg->steps) {
        if (stop_requested(t)) { /* SIGINT/SIGTERM (the caller's flag): keep what was done */
            if (!writer) break;
            int64_t at = -1;
            const char *last_ck = drift_trainer_last_checkpoint(t, &at);
            if (!(last_ck && at == t->step && !strcmp(last_ck, ckpt)) && (st = drift_trainer_save(t, ckpt))) break;
            note(t, &info, "stopped at step %lld; checkpoint written: %s", (long long)t->step, ckpt);
            break;
        }
        st = drift_trainer_step(t, &info);
        if (st) break;
        window_steps++;
        const int last = t->step == cfg->steps;
        const int do_log = t->step % cfg->log_every == 0 || last || t->step == 1;
        const int do_eval = cfg->eval_every >= 0 &&
                            ((cfg->eval_every > 0 && t->step % cfg->eval_every == 0) || last);
        if (t->report) t->report(t->report_ctx, &info, cfg->steps, NULL);
        if (!writer) continue;
        /* the checkpoint first: a failing metrics line, evaluation, sample grid or plot (a full
         * disk) must not cost the state of this step */
        if ((cfg->ckpt_every > 0 && t->step % cfg->ckpt_every == 0) || last) {
            if ((st = drift_trainer_save(t, ckpt))) break;
            note(t, &info, "checkpoint written at step %lld: %s", (long long)t->step, ckpt);
        }
        if (do_log || do_eval) {
            double now = drift_now();
            double sps = window_steps / fmax(now - window_start, 1e-9);
            window_start = now;
            window_steps = 0;
            eval_note[0] = 0;
            if (do_eval) note(t, &info, "evaluating %d samples at step %lld ...", cfg->eval_n, (long long)t->step);
            double score;
            st = log_line(t, &info, sps, do_eval, eval_note, sizeof eval_note, &score);
            if (st) break;
            if (eval_note[0]) note(t, &info, "%s", eval_note);
            if (score < best) { /* NAN never is */
                if ((st = save_best(t, best_path))) break;
                best = score;
                note(t, &info, "best so far: %s (step %lld)", best_path, (long long)t->step);
            }
            if (info.stats.diversity < 0.2 && t->step >= 50 && t->step > cfg->warmup)
                note(t, &info, "warning: sample diversity %.3f at step %lld (generated samples are much closer to each "
                               "other than the data: mode collapse?)", info.stats.diversity, (long long)t->step);
        }
        if ((cfg->sample_every > 0 && t->step % cfg->sample_every == 0) || last) {
            snprintf(tmp, sizeof tmp, "%s/samples_%06lld.png", cfg->out, (long long)t->step);
            if (!(st = drift_trainer_write_samples(t, tmp))) {
                snprintf(path, sizeof path, "%s/samples.png", cfg->out);
                st = drift_trainer_write_samples(t, path);
            }
            if (!st) st = write_plots(t);
            if (st) break;
        }
    }
    if (st == DRIFT_OK && t->n_hist) st = write_plots(t);
    if (t->metrics && drift_jsonl_close(t->metrics) && st == DRIFT_OK) st = DRIFT_EIO;
    t->metrics = NULL;
    if (lock_fd >= 0) drift_dir_unlock(lock_fd);
    return st;
}
