/* fastexp.h — the one float32 exp polynomial of drift, for loops the compiler vectorizes.
 *
 * libm's expf is a scalar call, not vectorized without -ffast-math, and both the field engine
 * (kernel values: src/field/vexp.h) and the layers (activations, softmax: src/nn/fastmath.h)
 * call exp on millions of values. This is Cephes' single-precision expf (S. Moshier):
 * n = round(x/ln 2) by the 1.5·2^23 shifter trick, r = x − n ln 2 in two steps (Cody–Waite),
 * a degree-6 minimax polynomial, relative error about 2e-7, written branch-free (integer bit
 * tricks, no libm) so that `#pragma omp simd` loops become AVX code.
 *
 * fastexp_reduced takes x already clamped to [−87.33, 88.37], so that 2^n stays a normal float;
 * the callers clamp with their own policy (the field: below the range is exactly 0; the layers:
 * NaN passes through, which fastexp_reduced keeps: a NaN x gives a NaN result). Internal header
 * (src/ only). */
#ifndef DRIFT_CORE_FASTEXP_H
#define DRIFT_CORE_FASTEXP_H

#include <stdint.h>

/* Type punning through a union (defined in C11; unlike memcpy it is no call in unoptimized
 * and sanitizer builds). */
typedef union {
    float f;
    uint32_t u;
} fastexp_pun;

static inline float fastexp_bits_to_float(uint32_t u)
{
    fastexp_pun p = {.u = u};
    return p.f;
}

static inline uint32_t fastexp_float_to_bits(float f)
{
    fastexp_pun p = {.f = f};
    return p.u;
}

static inline float fastexp_reduced(float xc)
{
    /* n = round(x / ln 2) via the shifter: the integer lands in the low mantissa bits (for a
     * NaN x the bits are garbage, the shift below stays defined, and p carries the NaN) */
    const float shifter = 12582912.0f;
    const float t = xc * 1.44269504088896341f + shifter;
    const uint32_t n = fastexp_float_to_bits(t) - fastexp_float_to_bits(shifter); /* two's complement */
    const float nf = t - shifter;
    /* r = x − n ln 2 in two steps (Cody–Waite), |r| ≤ ln2/2 */
    float r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    return p * fastexp_bits_to_float((n + 127u) << 23);
}

#endif
