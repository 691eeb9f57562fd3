/* fastmath.h — branch-free exp/sigmoid/tanh that the compiler can vectorize.
 *
 * glibc's expf is not vectorized without -ffast-math, and activations call it on
 * millions of values per training step. This is the Cephes single-precision expf
 * (range reduction by ln 2, degree-6 polynomial, relative error ~2e-7), written without
 * branches or libm calls so that `#pragma omp simd` loops over it become AVX code. The
 * rounding trick needs round-to-nearest and no -ffast-math reassociation (the project's
 * default flags).
 */
#ifndef DRIFT_NN_FASTMATH_H
#define DRIFT_NN_FASTMATH_H

#include <stdint.h>
#include <string.h>

/* GCC will not if-convert the clamps below (and so not vectorize) while it must assume FP
 * operations can trap; nothing here relies on FP exceptions. Applies to the functions of
 * the including file defined after this point. (Clang vectorizes without being asked.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

static inline float nn_expf(float x)
{
    /* clamp so that 2^n stays a normal float: exp(88) ~ 1.7e38, exp(-87) ~ 1.6e-38.
     * (Each step gets its own variable: GCC if-converts those, not re-assignments.) */
    const float lo = x < -87.0f ? -87.0f : x;
    const float xc = lo > 88.0f ? 88.0f : lo;
    /* round xc·log2(e) to nearest by the 1.5·2^23 trick (floorf would not vectorize) */
    const float fn = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    const float r = xc - fn * 0.693359375f + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* NaN in gives NaN out through p; the exponent comes from a finite stand-in, so the
     * integer conversion and shift stay defined (unsigned shift: no signed overflow) */
    const float fe = fn == fn ? fn : 0.0f;
    const uint32_t bits = (uint32_t)((int32_t)fe + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float nn_sigmoidf(float x) { return 1.0f / (1.0f + nn_expf(-x)); }

/* tanh(x) = 1 − 2/(e^{2x} + 1): exact limits ±1, absolute error ~1e-7 */
static inline float nn_tanhf(float x) { return 1.0f - 2.0f / (nn_expf(2.0f * x) + 1.0f); }

#endif
