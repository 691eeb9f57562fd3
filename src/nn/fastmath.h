/* fastmath.h — branch-free exp/sigmoid/tanh that the compiler can vectorize.
 *
 * glibc's expf is not vectorized without -ffast-math, and activations call it on
 * millions of values per training step. The polynomial is the project's one (core/fastexp.h,
 * Cephes' expf, relative error ~2e-7, shared with the field engine); what is the layers' own
 * is the clamping (to [−87, 88], NaN passing through) and the functions built on it. The
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

#include "core/fastexp.h" /* after the pragma: its copy in these files gets the same flags */

static inline float nn_expf(float x)
{
    /* clamp so that 2^n stays a normal float: exp(88) ~ 1.7e38, exp(-87) ~ 1.6e-38.
     * (Each step gets its own variable: GCC if-converts those, not re-assignments.) */
    const float lo = x < -87.0f ? -87.0f : x;
    const float xc = lo > 88.0f ? 88.0f : lo;
    return fastexp_reduced(xc); /* core/fastexp.h; a NaN x gives NaN */
}

static inline float nn_sigmoidf(float x) { return 1.0f / (1.0f + nn_expf(-x)); }

/* tanh(x) = 1 − 2/(e^{2x} + 1): exact limits ±1, absolute error ~1e-7 */
static inline float nn_tanhf(float x) { return 1.0f - 2.0f / (nn_expf(2.0f * x) + 1.0f); }

#endif
