/* bench_field — times drift_field_compute (the float32 fast path) on the configuration of
 * bench/field/peer.py: Deng et al.'s plain algorithm (deng family, laplace kernel, both
 * normalizations, self-masked negatives, τ ∈ {0.02, 0.05, 0.2}, no feature or drift
 * normalization). Not a test; bench/field/run.sh drives it and the PyTorch peer together.
 *
 *   bench_field --sgemm [--threads T]
 *       the machine's SGEMM rate: median of 5 cblas_sgemm 2048³ calls on T threads, and the
 *       OpenBLAS kernel that ran them (run it under several OPENBLAS_CORETYPE values to find the
 *       best rate this machine offers: bench/field/run.sh does).
 *   bench_field --kernels
 *       the kernel OpenBLAS chose, the one drift would choose instead (drift/blas.h; empty when
 *       OpenBLAS's is right), and the kernels this CPU runs (the candidates for the best SGEMM).
 *   bench_field --n N --p P --d D [--repeats R] [--threads T] [--out DIR] [--seed S] [--per-tau]
 *       median time of R calls; writes DIR/x.npy, DIR/y.npy (inputs) and DIR/v.npy (our V)
 *       for the peer to check against. --per-tau asks for the per-temperature RMS, as
 *       training does (one field product per temperature), to time that path.
 *       --groups G cuts the queries and positives into G independent batches (the class groups
 *       of a training step) computed by one drift_field_compute_many call; --backend cuda runs
 *       them on the GPU (a build with -DDRIFT_CUDA=ON; the CUDA field computes every V_τ, so
 *       its flop count is the CPU's with --per-tau).
 *
 * Data: queries and positives ~ N(0, I/(2D)), positives shifted by 0.25/√(2D) in every
 * coordinate, so the mean query–target distance is about 1 and the raw τ values are
 * fractions of it (the kernels are neither flat nor all underflowing).
 *
 * The per-temperature RMS is waived (cfg.skip_tau_rms; the peer does not compute it
 * either), so without drift normalization the engine sums the temperatures' coefficient
 * rows and runs one field product for all of them.
 *
 * GEMM flops counted, the products the engine actually runs: the distance product once,
 * 2·N·(N+P)·D (the engine keeps the distance table between its two passes at these sizes),
 * plus the one field product, 2·N·(N+P)·D. For D ≤ 16 the engine uses direct loops instead
 * of GEMMs; the same count is reported there as the equivalent work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "drift/blas.h"
#include "drift/core.h"
#include "drift/ctx.h"
#include "drift/error.h"
#include "drift/field.h"
#include "drift/npy.h"
#include "drift/rng.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int count)
{
    qsort(v, (size_t)count, sizeof *v, cmp_double);
    return count % 2 ? v[count / 2] : 0.5 * (v[count / 2 - 1] + v[count / 2]);
}

static int bench_sgemm(void)
{
    const int s = 2048, reps = 5;
    float *a = drift_alloc((size_t)s * s, sizeof(float)), *b = drift_alloc((size_t)s * s, sizeof(float));
    float *c = drift_alloc((size_t)s * s, sizeof(float));
    if (!a || !b || !c) return 1;
    drift_rng r;
    drift_rng_init(&r, 1, 0);
    drift_rng_fill_normal(&r, a, (size_t)s * s, 0.0f, 1.0f);
    drift_rng_fill_normal(&r, b, (size_t)s * s, 0.0f, 1.0f);
    double t[5];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, s, s, 1.0f, a, s, b, s, 0.0f, c, s); /* warm-up */
    for (int k = 0; k < reps; k++) {
        double t0 = drift_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, s, s, 1.0f, a, s, b, s, 0.0f, c, s);
        t[k] = drift_now() - t0;
    }
    double med = median(t, reps);
    printf("sgemm_gflops=%.1f size=%d threads=%d ms=%.2f kernel=%s\n", 2.0 * s * (double)s * s / med * 1e-9, s,
           drift_get_threads(), med * 1e3, openblas_get_corename());
    drift_free(a); drift_free(b); drift_free(c);
    return 0;
}

static int list_kernels(void)
{
    static const char *names[] = {"PRESCOTT", "NEHALEM", "SANDYBRIDGE", "HASWELL", "ZEN", "SKYLAKEX", "COOPERLAKE"};
    drift_cpu_info cpu;
    drift_cpu_detect(&cpu);
    const char *rec = drift_blas_recommended_coretype();
    printf("kernel=%s recommended=%s candidates=", openblas_get_corename(), rec ? rec : "");
    int first = 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (drift_blas_coretype_runnable(&cpu, names[i])) printf("%s%s", first ? "" : ",", names[i]), first = 0;
    printf("\n");
    return 0;
}

static int write_or_warn(const char *dir, const char *name, const float *a, int64_t rows, int64_t cols)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (drift_npy_write_f32(path, a, rows, cols) != DRIFT_OK) {
        fprintf(stderr, "bench_field: %s\n", drift_last_error());
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = 512, p = 512, d = 784, repeats = 5, threads = 2, seed = 7, groups = 1;
    const char *out = NULL, *backend = "cpu";
    int sgemm = 0, per_tau = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sgemm")) { sgemm = 1; continue; }
        if (!strcmp(a, "--kernels")) return list_kernels();
        if (!strcmp(a, "--per-tau")) { per_tau = 1; continue; }
        if (!val) { fprintf(stderr, "bench_field: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--n")) n = atol(val);
        else if (!strcmp(a, "--p")) p = atol(val);
        else if (!strcmp(a, "--d")) d = atol(val);
        else if (!strcmp(a, "--repeats")) repeats = atol(val);
        else if (!strcmp(a, "--threads")) threads = atol(val);
        else if (!strcmp(a, "--seed")) seed = atol(val);
        else if (!strcmp(a, "--out")) out = val;
        else if (!strcmp(a, "--backend")) backend = val;
        else if (!strcmp(a, "--groups")) groups = atol(val);
        else { fprintf(stderr, "bench_field: unknown option %s\n", a); return 2; }
        i++;
    }
    if (n < 1 || p < 1 || d < 1 || repeats < 1 || repeats > 100 || threads < 1 || groups < 1 || groups > n ||
        groups > p) {
        fprintf(stderr, "bench_field: bad sizes\n");
        return 2;
    }
    drift_set_threads((int)threads);
    if (sgemm) return bench_sgemm();

    float *x = drift_alloc((size_t)(n * d), sizeof(float)), *y = drift_alloc((size_t)(p * d), sizeof(float));
    float *v = drift_alloc((size_t)(n * d), sizeof(float));
    if (!x || !y || !v) { fprintf(stderr, "bench_field: out of memory\n"); return 1; }
    drift_rng r;
    drift_rng_init(&r, (uint64_t)seed, 0);
    const float sigma = (float)(1.0 / sqrt(2.0 * (double)d));
    drift_rng_fill_normal(&r, x, (size_t)(n * d), 0.0f, sigma);
    drift_rng_fill_normal(&r, y, (size_t)(p * d), 0.25f * sigma, sigma);

    drift_field_config cfg;
    drift_field_config_init(&cfg);
    cfg.family = DRIFT_FAMILY_DENG;
    cfg.kernel = DRIFT_KERNEL_LAPLACE;
    cfg.deng_norm = DRIFT_DENG_BOTH;
    cfg.n_tau = 3;
    cfg.tau[0] = 0.02; cfg.tau[1] = 0.05; cfg.tau[2] = 0.2;
    cfg.skip_tau_rms = !per_tau;
    /* --groups G: the queries and positives cut into G independent batches (class groups of a
     * training step), computed by one drift_field_compute_many call */
    drift_ctx_options co;
    drift_ctx_options_init(&co);
    co.threads = (int)threads;
    co.fallback = 0;
    drift_ctx *ctx = NULL;
    if (drift_backend_parse(backend, &co.backend) != DRIFT_OK || drift_ctx_create(&co, &ctx) != DRIFT_OK) {
        fprintf(stderr, "bench_field: %s\n", drift_last_error());
        return 1;
    }
    drift_field_batch b[4096];
    drift_field_result res[4096];
    if (groups > 4096) groups = 4096;
    for (long g = 0; g < groups; g++) {
        const long q0 = n * g / groups, q1 = n * (g + 1) / groups, p0 = p * g / groups, p1 = p * (g + 1) / groups;
        b[g] = (drift_field_batch){.n = q1 - q0, .d = d, .x = x + q0 * d, .p = p1 - p0, .pos = y + p0 * d};
        memset(&res[g], 0, sizeof res[g]);
        res[g].v = v + q0 * d;
    }

    double t[100];
    if (drift_field_compute_many(ctx, &cfg, (int)groups, b, res) != DRIFT_OK) { /* warm-up (and the checked result) */
        fprintf(stderr, "bench_field: %s\n", drift_last_error());
        return 1;
    }
    for (long k = 0; k < repeats; k++) {
        double t0 = drift_now();
        drift_field_compute_many(ctx, &cfg, (int)groups, b, res);
        t[k] = drift_now() - t0;
    }
    drift_ctx_info info;
    drift_ctx_get_info(ctx, &info);
    drift_ctx_free(ctx);
    double rms_all = 0;
    for (long k = 0; k < n * d; k++) rms_all += (double)v[k] * v[k];
    rms_all = sqrt(rms_all / (double)(n * d));
    const double med = median(t, (int)repeats), T = (double)(n + p) / (double)groups;
    const int field_products = cfg.skip_tau_rms && !cfg.drift_norm ? 1 : cfg.n_tau;
    const double flops = 2.0 * n * T * d * (1 + field_products);
    printf("n=%ld p=%ld d=%ld groups=%ld threads=%ld backend=%s repeats=%ld field_products=%d ms=%.3f gflops=%.2f "
           "rms=%.6g device=\"%s\"\n", n, p, d, groups, threads, backend, repeats, field_products, med * 1e3,
           flops / med * 1e-9, rms_all, info.device);
    if (out && (write_or_warn(out, "x.npy", x, n, d) || write_or_warn(out, "y.npy", y, p, d) ||
                write_or_warn(out, "v.npy", v, n, d)))
        return 1;
    drift_free(x); drift_free(y); drift_free(v);
    return 0;
}
