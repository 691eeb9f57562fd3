/* fastmath.h — branch-free exp/sigmoid/tanh that the compiler can vectorize.
 *
 * glibc's expf is not vectorized without -ffast-math, and activations call it on
 * millions of values per training step. This is the Cephes single-precision expf
 * (range reduction by ln 2, degree-6 polynomial, relative error ~2e-7), written without
 * branches so that `#pragma omp simd` loops over it become AVX code.
 */
#ifndef DRIFT_NN_FASTMATH_H
#define DRIFT_NN_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float nn_expf(float x)
{
    /* clamp so that 2^n stays a normal float: exp(88) ~ 1.7e38, exp(-87) ~ 1.6e-38 */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float fn = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - fn * 0.693359375f + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)fn + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float nn_sigmoidf(float x) { return 1.0f / (1.0f + nn_expf(-x)); }

/* tanh(x) = 1 − 2/(e^{2x} + 1): exact limits ±1, absolute error ~1e-7 */
static inline float nn_tanhf(float x) { return 1.0f - 2.0f / (nn_expf(2.0f * x) + 1.0f); }

#endif
