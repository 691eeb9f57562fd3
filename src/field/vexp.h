/* vexp.h — float32 exp and log written so that the compiler vectorizes loops that call them.
 *
 * libm's expf/logf are scalar calls: a loop over a row of kernel values would run one
 * element at a time. These are branch-free (selects, integer bit tricks, polynomials), so
 * GCC turns `for (j...) y[j] = vexpf(x[j])` into 8-wide AVX2 code under -march=x86-64-v3.
 * Polynomials are Cephes' (S. Moshier) minimax fits; accuracy is about 1–2 ulp over the
 * ranges used here (the tests compare against exp/log in double). The exp polynomial is the
 * project's one (core/fastexp.h, shared with the layers); what is the field's own is the
 * clamping: below −87.33 the result is exactly 0.
 */
#ifndef DRIFT_FIELD_VEXP_H
#define DRIFT_FIELD_VEXP_H

#include <math.h>
#include <stdint.h>

#ifdef __AVX__
#include <immintrin.h>
#endif

#include "core/fastexp.h"

static inline float vexp_bits_to_float(uint32_t u) { return fastexp_bits_to_float(u); }
static inline uint32_t vexp_float_to_bits(float f) { return fastexp_float_to_bits(f); }

/* exp(x). Inputs below -87.33 (including -inf) give exactly 0 (no denormals): callers
 * subtract a row maximum first, so these are kernel values 1e-38 below the largest one.
 * Inputs above 88.37 saturate near 2^127 (never reached: arguments are ≤ 0 here). NaN is
 * not expected (the engine rejects non-finite inputs) and gives an arbitrary value. */
static inline float vexpf(float x)
{
    /* clamp to [−87.33, 88.37] on the bit patterns (see the note at the end) */
    uint32_t xb = vexp_float_to_bits(x);
    const uint32_t lo_bits = 0xc2aea8f6u /* −87.33f */, hi_bits = 0x42b0bd71u /* 88.37f */;
    uint32_t cb = xb > lo_bits ? lo_bits : xb;                       /* x < lo (as unsigned) */
    cb = (int32_t)cb > (int32_t)hi_bits ? hi_bits : cb;              /* x > hi (as signed) */
    const float y = fastexp_reduced(vexp_bits_to_float(cb)); /* core/fastexp.h */
    /* x < lo (−inf included) → exactly 0. The comparisons are made on the bit patterns:
     * integer selects keep the loop branch-free under the default -ftrapping-math, where
     * GCC does not if-convert a float compare-and-select followed by arithmetic. As
     * unsigned integers, negative floats order by magnitude above every positive float,
     * so bits(x) > bits(lo) ⇔ x < lo; as signed integers, x > hi ⇔ bits(x) > bits(hi). */
    uint32_t keep = xb > lo_bits ? 0u : 0xffffffffu;
    return vexp_bits_to_float(vexp_float_to_bits(y) & keep);
}

/* log(y) for finite normal y > 0 (callers pass 1 + u with u ≥ 0, clamped below 1e37). */
static inline float vlogf(float y)
{
    uint32_t bits = vexp_float_to_bits(y);
    int32_t e = (int32_t)(bits >> 23) - 127;
    uint32_t mbits = (bits & 0x007fffffu) | 0x3f800000u; /* m in [1, 2) */
    /* move m into [√½, √2) so the polynomial argument f = m − 1 stays small; compared and
     * halved on the bits (integer selects vectorize, float ones do not: see vexpf) */
    int32_t big = mbits > 0x3fb504f3u; /* bits(√2) */
    float m = vexp_bits_to_float(mbits - ((uint32_t)big << 23));
    e += big;
    float f = m - 1.0f;
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    p = p * f * z;
    float ef = (float)e;
    p = p + ef * -2.12194440e-4f;
    p = p - 0.5f * z;
    return f + p + ef * 0.693359375f;
}

/* Selects written on the bit patterns, for the same reason (branch-free under the default
 * -ftrapping-math). */

/* max(v, 0), with −0 → +0: a set sign bit means v ≤ 0. */
static inline float vposf(float v)
{
    uint32_t b = vexp_float_to_bits(v);
    return vexp_bits_to_float((int32_t)b < 0 ? 0u : b);
}

/* max(a, b) for a, b ≥ 0 (non-negative floats order like their bit patterns). */
static inline float vmax_nonnegf(float a, float b)
{
    uint32_t x = vexp_float_to_bits(a), y = vexp_float_to_bits(b);
    return vexp_bits_to_float(x > y ? x : y);
}

/* min(a, b) for a, b ≥ 0 (+inf included). */
static inline float vmin_nonnegf(float a, float b)
{
    uint32_t x = vexp_float_to_bits(a), y = vexp_float_to_bits(b);
    return vexp_bits_to_float(x < y ? x : y);
}

/* max(v, lo) for v ≤ 0 and lo < 0 (negative floats order by magnitude, as unsigned). */
static inline float vmax_negf(float v, float lo)
{
    uint32_t x = vexp_float_to_bits(v), l = vexp_float_to_bits(lo);
    return vexp_bits_to_float(x > l ? l : x);
}

/* v where keep is non-zero, else +0. */
static inline float vkeepf(float v, int32_t keep)
{
    return vexp_bits_to_float(vexp_float_to_bits(v) & (keep ? 0xffffffffu : 0u));
}

/* y[j] = √y[j] for y ≥ 0. sqrtf itself does not vectorize under the default -fmath-errno
 * (it may set errno), so the AVX instruction is named where the target has it. */
static inline void vsqrt_row(float *y, int64_t count)
{
    int64_t j = 0;
#ifdef __AVX__
    for (; j + 8 <= count; j += 8) _mm256_storeu_ps(y + j, _mm256_sqrt_ps(_mm256_loadu_ps(y + j)));
#endif
    for (; j < count; j++) y[j] = sqrtf(y[j]);
}

#endif
