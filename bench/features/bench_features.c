/* bench_features — the released multi-key loss (drift_release_loss) at the shapes of a
 * Fashion-MNIST feature-space step (10 class groups × 32 generated, 32 positives, 16
 * unconditional negatives, 3 temperatures), per key, against the exact arithmetic floor of its
 * GEMM-shaped parts at the machine's SGEMM rate. Median of repeats.
 *
 *   build/bench_features [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drift/blas.h"
#include "drift/core.h"
#include "drift/features.h"
#include "drift/rng.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1) reps = 1;
    const int G = 32, N = 16, P = 32, groups = 10;
    /* (name, tokens per group, values per token): the encoder's maps are conv1 8×28×28,
     * layer1 16×14×14, layer2 32×7×7 */
    const struct { const char *name; int F, S; } keys[] = {
        {"global", 1, 784},        {"conv1 (tokens)", 784, 8}, {"conv1_mean_2", 196, 8},
        {"layer1 (tokens)", 196, 16}, {"layer1_mean_2", 49, 16}, {"layer2 (tokens)", 49, 32},
        {"layer2_mean", 1, 32},
    };
    drift_release_opts o = {.n_r = 3, .r = {0.02, 0.05, 0.2}, .floor = 0};
    double sgemm = 0;
    drift_blas_probe bp;
    if (drift_blas_probe_sgemm(1.0, 1024, &bp) == 0) sgemm = bp.median_gflops;
    printf("released loss per key, %d groups x (%d generated, %d negatives, %d positives), 3 temperatures\n",
           groups, G, N, P);
    printf("%-18s %8s %6s %10s %10s %8s\n", "key", "problems", "S", "ms", "GFLOP", "GFLOP/s");
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const int64_t B = (int64_t)groups * keys[k].F, S = keys[k].S, T = G + N + P;
        float *gen = drift_alloc((size_t)(B * G * S), sizeof(float));
        float *neg = drift_alloc((size_t)(B * N * S), sizeof(float));
        float *pos = drift_alloc((size_t)(B * P * S), sizeof(float));
        float *grad = drift_alloc((size_t)(B * G * S), sizeof(float));
        float *w = drift_alloc((size_t)B, sizeof(float));
        drift_rng r;
        drift_rng_init(&r, 1, k);
        drift_rng_fill_normal(&r, gen, (size_t)(B * G * S), 0, 1);
        drift_rng_fill_normal(&r, neg, (size_t)(B * N * S), 0, 1);
        drift_rng_fill_normal(&r, pos, (size_t)(B * P * S), 0.5f, 1);
        for (int64_t b = 0; b < B; b++) w[b] = 0.5f;
        double *ms = malloc(sizeof(double) * (size_t)reps);
        drift_release_result res;
        for (int i = 0; i < reps; i++) {
            double t0 = drift_now();
            if (drift_release_loss(&o, B, B, G, N, P, S, gen, neg, w, pos, grad, &res)) {
                fprintf(stderr, "bench_features: %s\n", drift_last_error());
                return 1;
            }
            ms[i] = (drift_now() - t0) * 1e3;
        }
        qsort(ms, (size_t)reps, sizeof(double), cmp);
        /* GEMM-shaped work: distances twice (2·G·T·S each) and per temperature the force
         * (2·G·T·S): 2·G·T·S·(2 + n_r) flops per problem */
        double gf = 2.0 * (double)B * G * T * S * (2 + o.n_r) * 1e-9;
        printf("%-18s %8lld %6lld %10.2f %10.3f %8.1f\n", keys[k].name, (long long)B, (long long)S, ms[reps / 2], gf,
               gf / (ms[reps / 2] * 1e-3));
        free(ms);
        drift_free(gen); drift_free(neg); drift_free(pos); drift_free(grad); drift_free(w);
    }
    if (sgemm > 0) printf("machine SGEMM: %.1f GFLOP/s (1024^3, median)\n", sgemm);
    return 0;
}
