/* bench_encoder — time the frozen feature encoder as feature-space drifting uses it: a forward
 * pass over the step's images (generated + positives + negatives) and an input-gradient pass
 * over the generated ones, plus the full backward (with parameter gradients) for comparison.
 *
 *   bench_encoder [--forward 800] [--backward 320] [--reps 7] [--widths 16,32,64] [--depth 1]
 *
 * Prints the FLOP count per image (multiply-adds × 2 of the convolutions) and one line of
 * medians: forward_ms, backward_input_ms (the first --backward rows of that forward),
 * backward_full_ms (all rows, parameter gradients on). Random weights: the cost does not
 * depend on their values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/core.h"
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

int main(int argc, char **argv)
{
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
    double *tg = malloc(reps * sizeof(double));
    for (int k = -1; k < reps; k++) { /* k = -1: warm-up */
        double t0 = drift_now();
        if (drift_model_forward(m, x, NULL, NULL, nf, out)) return 1;
        double t1 = drift_now();
        if (drift_model_backward_input_rows(m, out, nb, dx)) return 1;
        double t2 = drift_now();
        drift_model_zero_grad(m);
        if (drift_model_backward(m, out)) return 1;
        double t3 = drift_now();
        if (k >= 0) tf[k] = 1e3 * (t1 - t0), tb[k] = 1e3 * (t2 - t1), tg[k] = 1e3 * (t3 - t2);
    }
    printf("encoder widths");
    for (int i = 0; i < cfg.n_widths; i++) printf("%c%d", i ? ',' : ' ', cfg.widths[i]);
    printf(" depth %d: %zu parameters, %d maps, %d floats per image, %.2f MFLOP per image forward\n",
           cfg.depth, m->n_params, n_maps, m->out_dim, 2 * macs / 1e6);
    printf("forward_rows=%d forward_ms=%.1f backward_input_rows=%d backward_input_ms=%.1f "
           "backward_full_ms=%.1f threads=%d\n", nf, median(tf, reps), nb, median(tb, reps),
           median(tg, reps), drift_get_threads());
    free(x), free(out), free(dx), free(tf), free(tb), free(tg);
    drift_model_free(m);
    return 0;
}
