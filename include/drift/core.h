/* drift/core.h — small shared utilities: checked allocation, time, threads. */
#ifndef DRIFT_CORE_H
#define DRIFT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "drift/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Allocate n*size bytes (64-byte aligned, zeroed). Returns NULL and sets the error
 * message on overflow or failure. Free with drift_free. */
void *drift_alloc(size_t n, size_t size);
void drift_free(void *p);

/* n*size without overflow; returns 0 and sets *out, or DRIFT_ENOMEM. */
int drift_mul_size(size_t n, size_t size, size_t *out);

/* Monotonic wall clock in seconds. */
double drift_now(void);

/* Threads used by the library's parallel loops and BLAS (0 = all cores). */
void drift_set_threads(int n);
int drift_get_threads(void);

/* 1 if every value is finite. */
int drift_all_finite_f32(const float *x, size_t n);
int drift_all_finite_f64(const double *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif
