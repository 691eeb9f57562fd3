/* fast_dist.c — distance tiles of the fast path.
 *
 * Small d: direct loops over the transposed targets, vectorized across targets; exact up
 * to rounding of the d squared differences.
 * Large d: one SGEMM for the dot products and r² = ‖x‖² + ‖t‖² − 2x·t. The batch is centered
 * on its mean first, which keeps the norms (and so the cancellation) small; pairs whose r²
 * is still small next to ‖x‖² + ‖t‖² are recomputed directly, so duplicated points get
 * exactly 0 (the self pairs of self-masking, and laplace's kdegrad, which is 0 at r = 0). */
#include <math.h>

#include <cblas.h>

#include "field/fast_internal.h"
#include "field/vexp.h"

static void tile_direct(const fast_batch *fb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *z,
                        int64_t ldz)
{
    const int64_t d = fb->d, T = fb->T, J = j1 - j0;
    for (int64_t i = i0; i < i1; i++) {
        float *zr = z + (i - i0) * ldz;
        const float *xi = fb->x + i * d;
        for (int64_t j = 0; j < J; j++) zr[j] = 0.0f;
        for (int64_t k = 0; k < d; k++) {
            const float xk = xi[k];
            const float *tk = fb->tt + k * T + j0;
            for (int64_t j = 0; j < J; j++) {
                float diff = tk[j] - xk;
                zr[j] += diff * diff;
            }
        }
        if (fb->tile_holds_r)
            vsqrt_row(zr, J);
    }
}

static float exact_r2(const float *a, const float *b, int64_t d)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < d; k++) {
        float diff = a[k] - b[k];
        s += diff * diff;
    }
    return s;
}

static void tile_gemm(const fast_batch *fb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *z,
                      int64_t ldz)
{
    const int64_t d = fb->d, B = i1 - i0, J = j1 - j0;
    /* z = −2 X·Tᵀ, one GEMM per target segment that the tile overlaps */
    for (int s = 0; s < fb->nseg; s++) {
        const int64_t a = fb->seg_start[s] > j0 ? fb->seg_start[s] : j0;
        const int64_t b = fb->seg_start[s + 1] < j1 ? fb->seg_start[s + 1] : j1;
        if (a >= b) continue;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)(b - a), (int)d, -2.0f, fb->x + i0 * d,
                    (int)d, fb->seg_rows[s] + (a - fb->seg_start[s]) * d, (int)d, 0.0f, z + (a - j0), (int)ldz);
    }
    for (int64_t i = i0; i < i1; i++) {
        float *zr = z + (i - i0) * ldz;
        const float xn = fb->xn[i];
        const float *tn = fb->tn + j0;
        for (int64_t j = 0; j < J; j++) zr[j] += xn + tn[j];
        /* the rare near pairs: recompute exactly (a scalar scan; the GEMM above costs 2d
         * flops per pair, this one compare) */
        for (int64_t j = 0; j < J; j++)
            if (zr[j] < FAST_NEAR_RATIO * (xn + tn[j])) zr[j] = exact_r2(fb->x + i * d, fast_target_row(fb, j0 + j), d);
        for (int64_t j = 0; j < J; j++) zr[j] = vposf(zr[j]);
        if (fb->tile_holds_r) vsqrt_row(zr, J);
    }
}

void fast_dist_tile(const fast_batch *fb, int64_t i0, int64_t i1, int64_t j0, int64_t j1, float *z, int64_t ldz)
{
    if (i1 <= i0 || j1 <= j0) return;
    if (fb->direct)
        tile_direct(fb, i0, i1, j0, j1, z, ldz);
    else
        tile_gemm(fb, i0, i1, j0, j1, z, ldz);
}
