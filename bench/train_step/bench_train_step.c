/* bench_train_step — time one training step of a generator (the conv generator, or a DiT):
 * forward, backward from a given dL/dx, gradient clipping and an AdamW update.
 *
 *   bench_train_step [--batch 256,640] [--steps 10] [--threads 2] [--widths 64,32] [--depth 1]
 *                    [--model conv | dit-t | dit-s] [--patch P]
 *
 * Prints one line per batch size: "drift batch=B median_ms=... forward_ms=... backward_ms=...
 * update_ms=... cpu_ms=... params=N" (cpu_ms: the median CPU time of a step, all threads). The PyTorch peer (peer.py) builds the same network and prints
 * the same kind of line; run.sh runs both and prints the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drift/core.h"
#include "drift/models.h"
#include "drift/optim.h"
#include "drift/rng.h"

/* CPU seconds of the whole process (all threads): on a machine shared with other jobs the wall
 * time of a step mostly measures the wait for a core, its CPU time much less so */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || x <= 0) return -1;
        v[n++] = (int)x;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_train_step: %s: %s\n", what, drift_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int batches[8] = {256, 640}, nb = 2, steps = 10, threads = 2, depth = 1;
    int widths[DRIFT_MODEL_MAX_WIDTHS] = {64, 32}, nw = 2, patch = 0;
    const char *model = "conv";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "usage: bench_train_step [--batch LIST] [--steps N] [--threads N] "
                            "[--widths LIST] [--depth N] [--model conv|dit-t|dit-s] [--patch P]\n");
            return 2;
        }
        if (!strcmp(a, "--batch")) nb = parse_list(v, batches, 8);
        else if (!strcmp(a, "--widths")) nw = parse_list(v, widths, DRIFT_MODEL_MAX_WIDTHS);
        else if (!strcmp(a, "--steps")) steps = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--depth")) depth = atoi(v);
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--patch")) patch = atoi(v);
        else {
            fprintf(stderr, "bench_train_step: unknown option %s\n", a);
            return 2;
        }
        i++;
        if (nb <= 0 || nw <= 0 || steps <= 0 || threads <= 0 || depth <= 0) {
            fprintf(stderr, "bench_train_step: bad value for %s\n", a);
            return 2;
        }
    }
    drift_set_threads(threads);

    for (int bi = 0; bi < nb; bi++) {
        const int B = batches[bi];
        drift_model_config cfg;
        if (!strcmp(model, "conv")) {
            drift_model_config_default(DRIFT_MODEL_CONV, &cfg);
            cfg.depth = depth, cfg.n_widths = nw;
            memcpy(cfg.widths, widths, sizeof widths);
        } else if (drift_model_config_dit(model, &cfg)) {
            return fail("model");
        } else if (patch > 0) {
            cfg.patch = patch;
        }
        cfg.n_classes = 10, cfg.use_alpha = 1;
        drift_model *m;
        if (drift_model_create(&cfg, B, &m)) return fail("create");
        if (drift_model_init_params(m, 1)) return fail("init");
        drift_adamw opt;
        if (drift_adamw_init(&opt, m->n_params, 0.9f, 0.95f, 1e-8f, 0.01f)) return fail("adamw");
        unsigned char *mask = drift_alloc(m->n_params, 1);
        float *noise = drift_alloc((size_t)B * m->in_dim, sizeof(float));
        float *dout = drift_alloc((size_t)B * m->out_dim, sizeof(float));
        float *out = drift_alloc((size_t)B * m->out_dim, sizeof(float));
        float *alpha = drift_alloc((size_t)B, sizeof(float));
        int *labels = drift_alloc((size_t)B, sizeof(int));
        if (!mask || !noise || !dout || !out || !alpha || !labels) return fail("alloc");
        drift_model_decay_mask(m, mask);
        drift_rng r;
        drift_rng_init(&r, 2, 0);
        drift_rng_fill_normal(&r, noise, (size_t)B * m->in_dim, 0, 1);
        drift_rng_fill_normal(&r, dout, (size_t)B * m->out_dim, 0, 1e-3f);
        drift_rng_fill_uniform(&r, alpha, (size_t)B, 1, 4);
        for (int b = 0; b < B; b++) labels[b] = b % 10;

        double *t_all = drift_alloc((size_t)steps, sizeof(double));
        double *t_fwd = drift_alloc((size_t)steps, sizeof(double));
        double *t_bwd = drift_alloc((size_t)steps, sizeof(double));
        double *t_upd = drift_alloc((size_t)steps, sizeof(double));
        double *t_cpu = drift_alloc((size_t)steps, sizeof(double));
        for (int s = -2; s < steps; s++) { /* two warm-up steps */
            double t0 = drift_now(), c0 = cpu_now();
            drift_model_zero_grad(m);
            if (drift_model_forward(m, noise, labels, alpha, B, out)) return fail("forward");
            double t1 = drift_now();
            if (drift_model_backward(m, dout)) return fail("backward");
            double t2 = drift_now(), norm;
            if (drift_clip_grad_norm(m->grads, m->n_params, 2.0f, &norm)) return fail("clip");
            if (drift_adamw_step(&opt, m->params, m->grads, 2e-4f, mask)) return fail("adamw step");
            double t3 = drift_now(), c3 = cpu_now();
            if (s >= 0) {
                t_all[s] = t3 - t0, t_fwd[s] = t1 - t0, t_bwd[s] = t2 - t1, t_upd[s] = t3 - t2;
                t_cpu[s] = c3 - c0;
            }
        }
        printf("drift batch=%d median_ms=%.2f forward_ms=%.2f backward_ms=%.2f update_ms=%.2f "
               "cpu_ms=%.2f params=%zu threads=%d\n",
               B, 1e3 * median(t_all, steps), 1e3 * median(t_fwd, steps), 1e3 * median(t_bwd, steps),
               1e3 * median(t_upd, steps), 1e3 * median(t_cpu, steps), m->n_params, threads);
        fflush(stdout);
        drift_free(t_all), drift_free(t_fwd), drift_free(t_bwd), drift_free(t_upd), drift_free(t_cpu);
        drift_free(mask), drift_free(noise), drift_free(dout), drift_free(out), drift_free(alpha);
        drift_free(labels);
        drift_adamw_free(&opt);
        drift_model_free(m);
    }
    return 0;
}
