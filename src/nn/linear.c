/* linear.c — the fully connected layer: two SGEMMs forward/backward and a bias sum. */
#include <string.h>

#include <cblas.h>

#include "drift/nn.h"

void drift_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, int C, int OC)
{
    /* Start from the bias (or zero) and let the GEMM add inp · weightᵀ (beta = 1). */
    if (bias) {
        #pragma omp parallel for schedule(static) if ((size_t)B * OC > 65536)
        for (int b = 0; b < B; b++) memcpy(out + (size_t)b * OC, bias, (size_t)OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f, inp, C, weight, C,
                bias ? 1.0f : 0.0f, out, OC);
}

void drift_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B, int C, int OC)
{
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC, 1.0f, dout, OC, weight, C,
                    1.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f, dout, OC, inp, C, 1.0f,
                dweight, C);
    if (dbias) {
        /* Blocks of 64 output features in parallel; within a block rows are summed in
         * order (deterministic) with a contiguous, vectorizable inner loop. */
        int nblocks = (OC + 63) / 64;
        #pragma omp parallel for schedule(static) if ((size_t)B * OC > 65536)
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
            float acc[64] = {0};
            for (int b = 0; b < B; b++) {
                const float *row = dout + (size_t)b * OC;
                for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
            }
            for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
        }
    }
}
