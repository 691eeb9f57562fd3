/* bench_comm — the cost of the trainer's per-step gradient sum alone (docs/SCALE.md):
 *
 *   mpirun -np K build/bench_comm [N_FLOATS [REPS]]
 *
 * times drift_comm_allreduce_sum_f32 of N floats (default: 59,633, the parameters of the tiny
 * conv generator; pass drift train's parameter count) REPS times (default 200), each after
 * every rank has arrived (a first small sum), so waiting for a slower rank is not counted.
 * Rank 0 prints the median and the 10th/90th percentiles, and the algorithmic bandwidth of a
 * ring allreduce, 2(K-1)/K x 4N bytes through each rank. Alone it measures the serial no-op. */
#include <stdio.h>
#include <stdlib.h>

#include "drift/comm.h"
#include "drift/core.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atoll(argv[1]) : 59633;
    int reps = argc > 2 ? atoi(argv[2]) : 200;
    if (n < 1 || reps < 1) {
        fprintf(stderr, "usage: bench_comm [N_FLOATS [REPS]]\n");
        return 2;
    }
    drift_comm *c;
    if (drift_comm_init(DRIFT_COMM_AUTO, &c)) {
        fprintf(stderr, "bench_comm: %s\n", drift_last_error());
        return 1;
    }
    const int k = drift_comm_size(c);
    float *buf = drift_alloc(n, sizeof(float));
    double *t = malloc(sizeof(double) * (size_t)reps), sync = 0;
    if (!buf || !t) drift_comm_abort(c, 1);
    for (size_t i = 0; i < n; i++) buf[i] = 1e-3f * (float)(i % 1000);
    for (int r = -5; r < reps; r++) { /* 5 warm-up sums */
        drift_comm_allreduce_sum_f64(c, &sync, 1);
        double t0 = drift_now();
        if (drift_comm_allreduce_sum_f32(c, buf, n)) drift_comm_abort(c, 1);
        if (r >= 0) t[r] = drift_now() - t0;
        for (size_t i = 0; i < n; i++) buf[i] *= 1.0f / (float)k; /* keep the values bounded */
    }
    qsort(t, (size_t)reps, sizeof *t, cmp);
    if (drift_comm_rank(c) == 0) {
        double med = t[reps / 2], bytes = 2.0 * (k - 1) / k * 4.0 * (double)n;
        printf("ranks %d  floats %zu  allreduce median %.3f ms  (p10 %.3f, p90 %.3f)  ring bytes/rank %.0f  %.2f GB/s\n", k,
               n, 1e3 * med, 1e3 * t[reps / 10], 1e3 * t[reps * 9 / 10], bytes, med > 0 ? bytes / med / 1e9 : 0.0);
    }
    drift_free(buf);
    free(t);
    drift_comm_finalize(c);
    return 0;
}
