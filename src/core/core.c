/* core.c — allocation, clock, thread count, finiteness checks. */
#include "drift/core.h"

#include <math.h>
#include <stdint.h>
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

/* A value is NaN or ±Inf exactly when its exponent bits are all ones. Testing the bits with an
 * OR-reduction over chunks vectorizes (an isfinite loop with an early return does not), and
 * these checks run over every input and output of a field call. */
#define FINITE_CHUNK 4096

int drift_all_finite_f32(const float *x, size_t n)
{
    for (size_t i0 = 0; i0 < n; i0 += FINITE_CHUNK) {
        const size_t i1 = n - i0 < FINITE_CHUNK ? n : i0 + FINITE_CHUNK;
        uint32_t bad = 0;
#pragma omp simd reduction(| : bad)
        for (size_t i = i0; i < i1; i++) {
            uint32_t b;
            memcpy(&b, &x[i], sizeof b);
            bad |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
        }
        if (bad) return 0;
    }
    return 1;
}

int drift_all_finite_f64(const double *x, size_t n)
{
    for (size_t i0 = 0; i0 < n; i0 += FINITE_CHUNK) {
        const size_t i1 = n - i0 < FINITE_CHUNK ? n : i0 + FINITE_CHUNK;
        uint64_t bad = 0;
#pragma omp simd reduction(| : bad)
        for (size_t i = i0; i < i1; i++) {
            uint64_t b;
            memcpy(&b, &x[i], sizeof b);
            bad |= (uint64_t)((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull);
        }
        if (bad) return 0;
    }
    return 1;
}
