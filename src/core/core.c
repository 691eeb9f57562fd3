/* core.c — allocation, clock, thread count, finiteness checks. */
#include "drift/core.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#include <omp.h>

int drift_mul_size(size_t n, size_t size, size_t *out)
{
    if (size != 0 && n > SIZE_MAX / size)
        return drift_error(DRIFT_ENOMEM, "size overflow: %zu x %zu bytes", n, size);
    *out = n * size;
    return DRIFT_OK;
}

void *drift_alloc(size_t n, size_t size)
{
    size_t bytes;
    if (drift_mul_size(n, size, &bytes) != DRIFT_OK) return NULL;
    if (bytes == 0) bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes) != 0) {
        drift_error(DRIFT_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

void drift_free(void *p) { free(p); }

double drift_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void drift_set_threads(int n)
{
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int drift_get_threads(void) { return omp_get_max_threads(); }

int drift_all_finite_f32(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int drift_all_finite_f64(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}
