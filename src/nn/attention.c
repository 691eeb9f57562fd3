/* attention.c — multi-head self-attention over strided head blocks, every product an SGEMM.
 *
 * Per (sample b, head h), with Q, K, V the T×HD column blocks of the projections (used in
 * place through the row strides, no copies):
 *     S = Q·Kᵀ / sqrt(HD)            (T×T, one thread's scratch)
 *     lse_i = log Σ_j exp(S_ij)      (kept: T floats)
 *     P = exp(S − lse), O = P·V
 * Backward, recomputing P from lse:
 *     dV += Pᵀ·dO,  dP = dO·Vᵀ,  D_i = Σ_d dO_id·O_id  (= Σ_j P_ij dP_ij)
 *     dS = P ⊙ (dP − D) / sqrt(HD),  dQ += dS·K,  dK += dSᵀ·Q
 * The (b, h) pairs are independent and write disjoint blocks of every output, so they run
 * in parallel with no reduction; each GEMM inside runs on its thread alone (OpenBLAS,
 * OpenMP flavour), like the grouped GEMMs of conv.c. Softmax rows use the vectorizable
 * exp of fastmath.h. */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "drift/nn.h"
#include "nn/fastmath.h"

/* per thread: P (T×T), dP (T×T), D (T) */
static size_t per_thread(int T) { return 2 * (size_t)T * T + (size_t)T + 16; }

size_t drift_attention_work_floats(int T, int nthreads)
{
    return per_thread(T) * (size_t)(nthreads > 0 ? nthreads : 1);
}

static int threads_for(int T, size_t work_floats, int pairs)
{
    int nt = (int)(work_floats / per_thread(T));
    int max = omp_get_max_threads();
    if (nt > max) nt = max;
    if (nt > pairs) nt = pairs;
    return nt < 1 ? 1 : nt;
}

void drift_attention_forward(float *out, float *lse, const float *q, const float *k,
                             const float *v, int B, int T, int NH, int HD, int ldq, int ldk,
                             int ldv, int ldo, float *work, size_t work_floats)
{
    const float scale = 1.0f / sqrtf((float)HD);
    const int pairs = B * NH, nt = threads_for(T, work_floats, pairs);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int bh = 0; bh < pairs; bh++) {
        const int b = bh / NH, h = bh % NH;
        float *S = work + per_thread(T) * (size_t)omp_get_thread_num();
        const float *Q = q + (size_t)b * T * ldq + (size_t)h * HD;
        const float *K = k + (size_t)b * T * ldk + (size_t)h * HD;
        const float *V = v + (size_t)b * T * ldv + (size_t)h * HD;
        float *O = out + (size_t)b * T * ldo + (size_t)h * HD;
        float *L = lse + (size_t)bh * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, scale, Q, ldq, K, ldk, 0.0f,
                    S, T);
        for (int i = 0; i < T; i++) {
            float *row = S + (size_t)i * T, mx = row[0], sum = 0.0f;
            for (int j = 1; j < T; j++) mx = row[j] > mx ? row[j] : mx;
            #pragma omp simd reduction(+ : sum)
            for (int j = 0; j < T; j++) {
                row[j] = nn_expf(row[j] - mx);
                sum += row[j];
            }
            const float inv = 1.0f / sum;
            #pragma omp simd
            for (int j = 0; j < T; j++) row[j] *= inv;
            L[i] = mx + logf(sum);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, 1.0f, S, T, V, ldv, 0.0f,
                    O, ldo);
    }
}

void drift_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              int B, int T, int NH, int HD, int ldq, int ldk, int ldv, int ldo,
                              float *work, size_t work_floats)
{
    const float scale = 1.0f / sqrtf((float)HD);
    const int pairs = B * NH, nt = threads_for(T, work_floats, pairs);
    #pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int bh = 0; bh < pairs; bh++) {
        const int b = bh / NH, h = bh % NH;
        float *P = work + per_thread(T) * (size_t)omp_get_thread_num();
        float *dP = P + (size_t)T * T, *Dr = dP + (size_t)T * T;
        const size_t oq = (size_t)b * T * ldq + (size_t)h * HD, ok = (size_t)b * T * ldk + (size_t)h * HD;
        const size_t ov = (size_t)b * T * ldv + (size_t)h * HD, oo = (size_t)b * T * ldo + (size_t)h * HD;
        const float *Q = q + oq, *K = k + ok, *V = v + ov, *O = out + oo, *dO = dout + oo;
        const float *L = lse + (size_t)bh * T;
        /* P = exp(S − lse) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, scale, Q, ldq, K, ldk, 0.0f,
                    P, T);
        for (int i = 0; i < T; i++) {
            float *row = P + (size_t)i * T;
            const float li = L[i];
            #pragma omp simd
            for (int j = 0; j < T; j++) row[j] = nn_expf(row[j] - li);
            const float *a = dO + (size_t)i * ldo, *o = O + (size_t)i * ldo;
            float d = 0.0f;
            #pragma omp simd reduction(+ : d)
            for (int c = 0; c < HD; c++) d += a[c] * o[c];
            Dr[i] = d;
        }
        /* dV += Pᵀ·dO; dP = dO·Vᵀ */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, 1.0f, P, T, dO, ldo, 1.0f,
                    dv + ov, ldv);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HD, 1.0f, dO, ldo, V, ldv, 0.0f,
                    dP, T);
        /* dS = P ⊙ (dP − D), into dP; the 1/sqrt(HD) goes into the GEMMs' alpha */
        for (int i = 0; i < T; i++) {
            float *ds = dP + (size_t)i * T;
            const float *p = P + (size_t)i * T, di = Dr[i];
            #pragma omp simd
            for (int j = 0; j < T; j++) ds[j] = p[j] * (ds[j] - di);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HD, T, scale, dP, T, K, ldk, 1.0f,
                    dq + oq, ldq);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HD, T, scale, dP, T, Q, ldq, 1.0f,
                    dk + ok, ldk);
    }
}
