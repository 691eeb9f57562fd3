/* bench_encoder — time the frozen feature encoder as feature-space drifting uses it: a forward
 * pass over the step's images (generated + positives + negatives) and an input-gradient pass
 * over the generated ones, plus the full backward (with parameter gradients) for comparison.
 *
 *   bench_encoder [--forward 800] [--backward 320] [--reps 7] [--widths 8,16,32] [--depth 1]
 *   bench_encoder --probe FILE --data fashion-mnist [--n-train 10000] [--n-test 2000]
 *
 * Prints the FLOP count per image (multiply-adds × 2 of the convolutions) and one line of
 * medians: forward_ms, backward_input_ms (the first --backward rows of that forward),
 * backward_full_ms (all rows, parameter gradients on), and the CPU time (all threads) of the
 * first two, which a machine shared with other jobs changes less than the wall time. Random weights: the cost does not
 * depend on their values.
 *
 * --probe: is there class information in a trained encoder's maps (which it never saw labels
 * for)? 1-nearest-neighbour accuracy on the first n-test test images against the first n-train
 * train images, in raw pixels, in each map of the encoder in FILE and in each map of the same
 * architecture with random weights (seed 0). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drift/core.h"
#include "drift/data.h"
#include "drift/encoder.h"
#include "drift/eval.h"
#include "drift/models.h"
#include "drift/rng.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* CPU time of the process (all threads), seconds: on a machine shared with other jobs the
 * wall time says little, the CPU time what the work costs */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 1-NN accuracy of test rows against train rows, squared Euclidean distance */
static double nn_accuracy(const float *tr, const int32_t *ytr, int64_t ntr, const float *te,
                          const int32_t *yte, int64_t nte, int64_t dim)
{
    int64_t correct = 0;
    #pragma omp parallel for reduction(+ : correct) schedule(dynamic, 16)
    for (int64_t i = 0; i < nte; i++) {
        double best = 1e300;
        int32_t lab = -1;
        for (int64_t j = 0; j < ntr; j++) {
            double d = 0;
            for (int64_t k = 0; k < dim; k++) {
                double t = (double)te[i * dim + k] - tr[j * dim + k];
                d += t * t;
            }
            if (d < best) best = d, lab = ytr[j];
        }
        correct += lab == yte[i];
    }
    return (double)correct / (double)nte;
}

/* the rows of one map of every image: (n, c·h·w) */
static float *map_rows(drift_model *m, const float *x, int64_t n, const drift_feature_map *fm)
{
    const size_t per = (size_t)fm->c * fm->h * fm->w;
    float *out = malloc((size_t)n * per * sizeof(float));
    float *row = malloc((size_t)m->max_batch * m->out_dim * sizeof(float));
    for (int64_t i = 0; i < n; i += m->max_batch) {
        int b = (int)(n - i < m->max_batch ? n - i : m->max_batch);
        if (drift_model_forward(m, x + (size_t)i * m->in_dim, NULL, NULL, b, row)) exit(1);
        for (int r = 0; r < b; r++)
            memcpy(out + (size_t)(i + r) * per, row + (size_t)r * m->out_dim + fm->offset, per * sizeof(float));
    }
    free(row);
    return out;
}

static float *pooled(const float *rows, int64_t n, int c, int hw)
{
    float *out = malloc((size_t)n * 2 * c * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *v = rows + ((size_t)i * c + ch) * hw;
            double mu = 0, var = 0;
            for (int j = 0; j < hw; j++) mu += v[j];
            mu /= hw;
            for (int j = 0; j < hw; j++) var += (v[j] - mu) * (v[j] - mu);
            out[(size_t)i * 2 * c + ch] = (float)mu;
            out[(size_t)i * 2 * c + c + ch] = (float)sqrt(var / hw + 1e-6);
        }
    return out;
}

static int probe(const char *file, const char *data, int64_t ntr, int64_t nte)
{
    drift_dataset tr = {0}, te = {0};
    drift_dataset_opts o1 = {.split = "train", .n = ntr}, o2 = {.split = "test", .n = nte};
    drift_encoder *e = NULL;
    if (drift_dataset_open(data, &o1, &tr) || drift_dataset_open(data, &o2, &te) ||
        drift_encoder_load(file, data, NULL, &e) || drift_encoder_resize(e, 256)) {
        fprintf(stderr, "bench_encoder: %s\n", drift_last_error());
        return 1;
    }
    printf("1-NN accuracy, %s, %" PRId64 " test against %" PRId64 " train images\n", data, te.n, tr.n);
    printf("  pixels                %.4f\n", nn_accuracy(tr.x, tr.labels, tr.n, te.x, te.labels, te.n, tr.dim));
    drift_model *rnd = NULL;
    if (drift_model_create(&e->model->cfg, 256, &rnd) || drift_model_init_params(rnd, 0)) return 1;
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
    int n = drift_model_feature_maps(e->model, maps, DRIFT_MODEL_MAX_WIDTHS);
    for (int k = 0; k < n; k++) {
        const int64_t dim = (int64_t)maps[k].c * maps[k].h * maps[k].w;
        for (int t = 0; t < 2; t++) {
            drift_model *m = t ? rnd : e->model;
            float *a = map_rows(m, tr.x, tr.n, &maps[k]), *b = map_rows(m, te.x, te.n, &maps[k]);
            double acc = nn_accuracy(a, tr.labels, tr.n, b, te.labels, te.n, dim);
            /* the per-channel mean and standard deviation over the map (the *_mean, *_std keys) */
            const int c = maps[k].c, hw = maps[k].h * maps[k].w;
            float *pa = pooled(a, tr.n, c, hw), *pb = pooled(b, te.n, c, hw);
            double accp = nn_accuracy(pa, tr.labels, tr.n, pb, te.labels, te.n, 2 * c);
            printf("  %-7s %-12s tokens %.4f   mean+std %.4f\n", maps[k].name, t ? "random init" : "trained", acc, accp);
            free(a), free(b), free(pa), free(pb);
        }
    }
    drift_model_free(rnd);
    drift_encoder_free(e);
    drift_dataset_free(&tr), drift_dataset_free(&te);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--probe")) {
            const char *data = "fashion-mnist";
            int64_t ntr = 10000, nte = 2000;
            for (int j = 1; j + 1 < argc; j += 2) {
                if (!strcmp(argv[j], "--data")) data = argv[j + 1];
                if (!strcmp(argv[j], "--n-train")) ntr = atoll(argv[j + 1]);
                if (!strcmp(argv[j], "--n-test")) nte = atoll(argv[j + 1]);
            }
            return probe(argv[i + 1], data, ntr, nte);
        }
    int nf = 800, nb = 320, reps = 7;
    drift_model_config cfg;
    drift_model_config_default(DRIFT_MODEL_ENCODER, &cfg);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--forward")) nf = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backward")) nb = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--depth")) cfg.depth = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--widths")) {
            int n = 0;
            for (char *p = argv[i + 1]; *p && n < DRIFT_MODEL_MAX_WIDTHS;) {
                cfg.widths[n++] = (int)strtol(p, &p, 10);
                if (*p == ',') p++;
            }
            cfg.n_widths = n;
        } else {
            fprintf(stderr, "usage: bench_encoder [--forward N] [--backward N] [--reps R] [--widths LIST] [--depth D]\n");
            return 2;
        }
    }
    if (nf < 1 || nb < 1 || nb > nf || reps < 1) {
        fprintf(stderr, "bench_encoder: need 1 <= backward <= forward, reps >= 1\n");
        return 2;
    }
    drift_model *m = NULL;
    if (drift_model_create(&cfg, nf, &m) || drift_model_init_params(m, 1)) {
        fprintf(stderr, "bench_encoder: %s\n", drift_last_error());
        return 1;
    }
    /* multiply-adds per image: every conv weight is applied once per output location */
    double macs = 0;
    drift_feature_map maps[DRIFT_MODEL_MAX_WIDTHS];
    int n_maps = drift_model_feature_maps(m, maps, DRIFT_MODEL_MAX_WIDTHS);
    for (int t = 0; t < m->n_tensors; t++) {
        const drift_param_tensor *p = &m->tensors[t];
        if (p->ndim != 4) continue;
        int h = cfg.height, w = cfg.width; /* output size of this conv: its stage's map */
        if (!strncmp(p->name, "layer", 5)) {
            int l = atoi(p->name + 5);
            h = maps[l].h, w = maps[l].w;
        }
        macs += (double)p->count * h * w;
    }
    float *x = malloc((size_t)nf * m->in_dim * sizeof(float));
    float *out = malloc((size_t)nf * m->out_dim * sizeof(float));
    float *dx = malloc((size_t)nf * m->in_dim * sizeof(float));
    drift_rng r;
    drift_rng_init(&r, 2, 0);
    drift_rng_fill_uniform(&r, x, (size_t)nf * m->in_dim, -1, 1);
    drift_rng_fill_normal(&r, out, (size_t)nf * m->out_dim, 0, 1e-3f);
    double *tf = malloc(reps * sizeof(double)), *tb = malloc(reps * sizeof(double));
    double *tg = malloc(reps * sizeof(double)), *cf = malloc(reps * sizeof(double));
    double *cb = malloc(reps * sizeof(double));
    for (int k = -1; k < reps; k++) { /* k = -1: warm-up */
        double t0 = drift_now(), c0 = cpu_now();
        if (drift_model_forward(m, x, NULL, NULL, nf, out)) return 1;
        double t1 = drift_now(), c1 = cpu_now();
        if (drift_model_backward_input_rows(m, out, nb, dx)) return 1;
        double t2 = drift_now(), c2 = cpu_now();
        drift_model_zero_grad(m);
        if (drift_model_backward(m, out)) return 1;
        double t3 = drift_now();
        if (k >= 0) {
            tf[k] = 1e3 * (t1 - t0), tb[k] = 1e3 * (t2 - t1), tg[k] = 1e3 * (t3 - t2);
            cf[k] = 1e3 * (c1 - c0), cb[k] = 1e3 * (c2 - c1);
        }
    }
    printf("encoder widths");
    for (int i = 0; i < cfg.n_widths; i++) printf("%c%d", i ? ',' : ' ', cfg.widths[i]);
    printf(" depth %d: %zu parameters, %d maps, %d floats per image, %.2f MFLOP per image forward\n",
           cfg.depth, m->n_params, n_maps, m->out_dim, 2 * macs / 1e6);
    printf("forward_rows=%d forward_ms=%.1f backward_input_rows=%d backward_input_ms=%.1f "
           "backward_full_ms=%.1f threads=%d forward_cpu_ms=%.1f backward_input_cpu_ms=%.1f\n", nf,
           median(tf, reps), nb, median(tb, reps), median(tg, reps), drift_get_threads(),
           median(cf, reps), median(cb, reps));
    free(x), free(out), free(dx), free(tf), free(tb), free(tg), free(cf), free(cb);
    drift_model_free(m);
    return 0;
}
