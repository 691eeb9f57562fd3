/* drift/rng.h — counter-based random numbers (Philox4x32-10).
 *
 * A generator is (key, counter): the n-th output of stream (seed, stream) is a pure
 * function of (seed, stream, n). So results are reproducible regardless of thread
 * scheduling: give each thread / sample / step its own stream, e.g.
 * drift_rng_init(&r, seed, DRIFT_STREAM(step, row)). The whole state is two uint64s
 * plus a small buffer, and it is saved in checkpoints as such.
 */
#ifndef DRIFT_RNG_H
#define DRIFT_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct drift_rng {
    uint64_t key;      /* seed */
    uint64_t stream;   /* upper 64 bits of the 128-bit counter */
    uint64_t counter;  /* lower 64 bits: number of 128-bit blocks drawn */
    uint32_t buf[4];   /* the current block */
    int used;          /* words of buf consumed (4 = empty) */
} drift_rng;

/* Combine two small integers into one stream id. */
#define DRIFT_STREAM(a, b) (((uint64_t)(a) << 32) ^ (uint64_t)(b))

void drift_rng_init(drift_rng *r, uint64_t seed, uint64_t stream);
uint32_t drift_rng_u32(drift_rng *r);
uint64_t drift_rng_u64(drift_rng *r);
/* Uniform in [0, 1) with 53 (double) / 24 (float) random bits. */
double drift_rng_uniform(drift_rng *r);
float drift_rng_uniformf(drift_rng *r);
/* Uniform integer in [0, n), unbiased. n > 0. */
uint64_t drift_rng_below(drift_rng *r, uint64_t n);
/* Standard normal (Box-Muller on two uniforms). */
double drift_rng_normal(drift_rng *r);
void drift_rng_fill_normal(drift_rng *r, float *out, size_t n, float mean, float std);
void drift_rng_fill_uniform(drift_rng *r, float *out, size_t n, float lo, float hi);
/* In-place Fisher-Yates shuffle of idx[0..n). */
void drift_rng_shuffle(drift_rng *r, int *idx, size_t n);

/* The raw Philox4x32-10 block function (exposed for tests against known answers). */
void drift_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#ifdef __cplusplus
}
#endif
#endif
