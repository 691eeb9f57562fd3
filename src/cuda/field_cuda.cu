/* field_cuda.cu — the deng drift field on an NVIDIA GPU (contract: cuda/cuda_backend.h).
 *
 * The same mathematics as field_ref.c's deng_field (docs/MATH.md §3), for every batch of a
 * drift_field_compute_many call at once: each stage is one kernel launch whose grid spans the
 * batches (a descriptor per batch says where its rows are), the field products one
 * strided-batched SGEMM when the batches share a shape (a training step's class groups), and
 * the host waits once, for the download. Per batch:
 *
 *   upload    queries X (n × d) and targets T = [negatives (X itself when self-masked);
 *             extra negatives; positives] (T × d), all centred on the queries' mean (the
 *             field is translation invariant, and centred values keep float32's digits), and
 *             the target weights;
 *   R         the distances ‖x_i − t_j‖: the products x_i·t_j by SGEMM and r² = |x|² + |t|² −
 *             2x·t, except for the near pairs (r² under half of |x|² + |t|², where that
 *             identity cancels), whose differences are summed directly;
 *   μ, s      feature normalization: the weighted mean distance over all pairs (self pairs
 *             included, as the release), s = μ/√d; working units are data / s;
 *   per τ     kernel logs with the self entries removed or soft-masked; row and column
 *             log-sum-exps; the affinities A (row, column, both, floor) times the weights;
 *             per row the sums of A over negatives and positives; the coefficients
 *             C_ij = −neg_scale·Σ⁺_i·A_ij (negatives) or pos_scale·Σ⁻_i·A_ij (positives);
 *             G = C·T by cuBLAS SGEMM; V_τ = (G − (Σ_j C_ij) x_i)/s; its mean square (the
 *             per-temperature RMS and the drift normalization's λ_τ);
 *   finish    V = s · Σ_τ V_τ/λ_τ, downloaded; its RMS.
 *
 * Reductions run in float within a row or column (one block each) and in double across the
 * batch; the scalars (μ, s, Σ V_τ²) stay on the device and the kernels that need them read them
 * there. The buffers live in a workspace kept in the device state and grown on demand. */
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_backend.h"
#include "drift/error.h"
#include "drift/field.h"

/* the constants of field_internal.h (not included: it declares host functions of the field module) */
#define CU_DENG_SOFT_MASK 100.0
#define CU_DENG_AFFINITY_FLOOR 1e-6
#define CU_DRIFT_NORM_FLOOR 1e-8
#define CU_FEATURE_NORM_FLOOR 1e-12

#define THREADS 256

typedef struct cuda_dev {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    /* workspace (device) */
    void *ws;
    size_t ws_bytes;
    double *dsum; /* device: double accumulators */
} cuda_dev;

static int fail(char *msg, size_t len, int code, const char *what, cudaError_t e)
{
    snprintf(msg, len, "%s: %s", what, cudaGetErrorString(e));
    return code;
}

extern "C" int cuda_backend_open(int device, void **out, char *name, size_t namelen, char *msg, size_t msglen)
{
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return fail(msg, msglen, DRIFT_EUNSUPPORTED, "no CUDA device (cudaGetDeviceCount)", e);
    if (device < 0 || device >= count) {
        snprintf(msg, msglen, "device %d does not exist (this machine has %d CUDA device%s)", device, count,
                 count == 1 ? "" : "s");
        return DRIFT_EUNSUPPORTED;
    }
    if ((e = cudaSetDevice(device)) != cudaSuccess) return fail(msg, msglen, DRIFT_EUNSUPPORTED, "cudaSetDevice", e);
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess)
        return fail(msg, msglen, DRIFT_EUNSUPPORTED, "cudaGetDeviceProperties", e);
    cuda_dev *d = (cuda_dev *)calloc(1, sizeof *d);
    if (!d) {
        snprintf(msg, msglen, "out of host memory");
        return DRIFT_ENOMEM;
    }
    d->device = device;
    if ((e = cudaStreamCreate(&d->stream)) != cudaSuccess) {
        free(d);
        return fail(msg, msglen, DRIFT_EUNSUPPORTED, "cudaStreamCreate", e);
    }
    if (cublasCreate(&d->blas) != CUBLAS_STATUS_SUCCESS) {
        cudaStreamDestroy(d->stream);
        free(d);
        snprintf(msg, msglen, "cublasCreate failed");
        return DRIFT_EUNSUPPORTED;
    }
    cublasSetStream(d->blas, d->stream);
    /* full float32 products: no TF32 (the field is checked against float64 to 1e-4) */
    cublasSetMathMode(d->blas, CUBLAS_PEDANTIC_MATH);
    if ((e = cudaMalloc(&d->dsum, 8 * sizeof(double))) != cudaSuccess) {
        cublasDestroy(d->blas);
        cudaStreamDestroy(d->stream);
        free(d);
        return fail(msg, msglen, DRIFT_ENOMEM, "cudaMalloc", e);
    }
    snprintf(name, namelen, "%s (CUDA device %d, compute capability %d.%d)", prop.name, device, prop.major, prop.minor);
    *out = d;
    return 0;
}

extern "C" void cuda_backend_close(void *p)
{
    cuda_dev *d = (cuda_dev *)p;
    if (!d) return;
    cudaSetDevice(d->device);
    cudaFree(d->ws);
    cudaFree(d->dsum);
    cublasDestroy(d->blas);
    cudaStreamDestroy(d->stream);
    free(d);
}

/* ---- device code ------------------------------------------------------------------ */

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    return v;
}

/* block-wide sum / max over THREADS threads; every thread gets the result */
__device__ float block_sum(float v, float *sh)
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    float t = threadIdx.x < THREADS / 32 ? sh[threadIdx.x] : 0.0f;
    if (wid == 0) t = warp_sum(t);
    if (threadIdx.x == 0) sh[0] = t;
    __syncthreads();
    return sh[0];
}

__device__ float block_max(float v, float *sh)
{
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    float t = threadIdx.x < THREADS / 32 ? sh[threadIdx.x] : -INFINITY;
    if (wid == 0) t = warp_max(t);
    if (threadIdx.x == 0) sh[0] = t;
    __syncthreads();
    return sh[0];
}

/* One batch of a call: its sizes and where its rows start in the call's concatenated buffers
 * (X, G, V and the per-query vectors by query rows; T, w and the per-target vectors by target
 * rows; R and L by the batch's n·T block). Kernels take the batch from blockIdx.z (or .y). */
typedef struct bdesc {
    int n, nt, q, self;
    long long xrow, trow, rl;
} bdesc;

/* per batch, in device memory: [0] Σ w·r, [1] s, [2] μ, [3 + t] Σ V_τ² */
#define SC_STRIDE (3 + DRIFT_MAX_TAU)

/* squared norms of the (centred) query rows (targets = 0) or target rows (1) of each batch */
__global__ void k_sqnorm(const bdesc *bd, const float *A, int targets, int d, float *out)
{
    const bdesc B = bd[blockIdx.y];
    const int i = blockIdx.x;
    if (i >= (targets ? B.nt : B.n)) return;
    __shared__ float sh[32];
    const long long row = (targets ? B.trow : B.xrow) + i;
    const float *a = A + row * d;
    float s = 0.0f;
    for (int k = threadIdx.x; k < d; k += THREADS) s = fmaf(a[k], a[k], s);
    s = block_sum(s, sh);
    if (threadIdx.x == 0) out[row] = s;
}

/* R_ij = ‖x_i − t_j‖ from the GEMM's x_i·t_j: r² = |x|² + |t|² − 2 x·t, except where that
 * identity cancels (r² below DIST_EXACT of |x|² + |t|²: the near pairs, which dominate the
 * small-τ kernels): there the differences are summed directly */
#define DIST_EXACT 0.5f
__global__ void k_dist_finish(const bdesc *bd, const float *X, const float *T, const float *nx, const float *nt_,
                              int d, float *R)
{
    const bdesc B = bd[blockIdx.y];
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B.n * B.nt) return;
    const int i = (int)(idx / B.nt), j = (int)(idx % B.nt);
    const float a = nx[B.xrow + i], b = nt_[B.trow + j];
    float r2 = a + b - 2.0f * R[B.rl + idx];
    if (r2 < DIST_EXACT * (a + b)) {
        const float *x = X + (B.xrow + i) * (long long)d, *t = T + (B.trow + j) * (long long)d;
        float acc = 0.0f;
        for (int k = 0; k < d; k++) {
            const float u = x[k] - t[k];
            acc = fmaf(u, u, acc);
        }
        r2 = acc;
    }
    R[B.rl + idx] = sqrtf(fmaxf(r2, 0.0f));
}

/* Σ_ij w_j R_ij of each batch into sc[0] */
__global__ void k_weighted_sum(const bdesc *bd, const float *R, const float *w, double *sc)
{
    const bdesc B = bd[blockIdx.y];
    const int i = blockIdx.x;
    if (i >= B.n) return;
    __shared__ float sh[32];
    const float *row = R + B.rl + (size_t)i * B.nt, *wb = w + B.trow;
    float s = 0.0f;
    for (int j = threadIdx.x; j < B.nt; j += THREADS) s += wb[j] * row[j];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) atomicAdd(&sc[blockIdx.y * SC_STRIDE], (double)s);
}

/* s and μ of each batch (feature normalization), or s = 1 */
__global__ void k_scale(const bdesc *bd, const double *wsum, int count, int d, int feature_norm, double *sc)
{
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= count) return;
    double *c = sc + k * SC_STRIDE;
    if (!feature_norm) {
        c[1] = 1.0;
        c[2] = 0.0;
        return;
    }
    const double mu = c[0] / ((double)bd[k].n * wsum[k]);
    c[2] = mu;
    c[1] = (mu > CU_FEATURE_NORM_FLOOR ? mu : CU_FEATURE_NORM_FLOOR) / sqrt((double)d);
}

__device__ __forceinline__ float kernel_log(int kernel, float r, float tau, float alpha)
{
    if (kernel == DRIFT_KERNEL_GAUSSIAN) return -r * r / (2.0f * tau * tau);
    if (kernel == DRIFT_KERNEL_LAPLACE) return -r / tau;
    return -alpha * log1pf(r * r / (2.0f * alpha * tau * tau));
}

/* kernel logs of one temperature in working units (r / s), self entries removed or soft-masked */
__global__ void k_logk(const bdesc *bd, const float *R, const double *sc, int soft, float tau, float alpha,
                       float soft_add, int kernel, float *L)
{
    const bdesc B = bd[blockIdx.y];
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B.n * B.nt) return;
    const int i = (int)(idx / B.nt), j = (int)(idx % B.nt);
    const float r = R[B.rl + idx] * (float)(1.0 / sc[blockIdx.y * SC_STRIDE + 1]);
    float l;
    if (B.self && j == i)
        l = soft ? kernel_log(kernel, r + soft_add, tau, alpha) : -INFINITY;
    else
        l = kernel_log(kernel, r, tau, alpha);
    L[B.rl + idx] = l;
}

/* per row: the largest log and log Σ exp(l − max) */
__global__ void k_row_lse(const bdesc *bd, const float *L, float *mx_out, float *lse_out)
{
    const bdesc B = bd[blockIdx.y];
    const int i = blockIdx.x;
    if (i >= B.n) return;
    __shared__ float sh[32];
    const float *row = L + B.rl + (size_t)i * B.nt;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < B.nt; j += THREADS) m = fmaxf(m, row[j]);
    m = block_max(m, sh);
    float s = 0.0f;
    if (m > -INFINITY)
        for (int j = threadIdx.x; j < B.nt; j += THREADS) s += expf(row[j] - m);
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        mx_out[B.xrow + i] = m;
        lse_out[B.xrow + i] = m > -INFINITY ? logf(s) : 0.0f;
    }
}

/* per column: the same over the rows, one thread per column (reads of a row are coalesced
 * across the threads), as an online log-sum-exp: one pass */
__global__ void k_col_lse(const bdesc *bd, const float *L, float *mx_out, float *lse_out)
{
    const bdesc B = bd[blockIdx.y];
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= B.nt) return;
    const float *Lb = L + B.rl;
    float m = -INFINITY, s = 0.0f;
    for (int i = 0; i < B.n; i++) {
        const float l = Lb[(size_t)i * B.nt + j];
        if (l == -INFINITY) continue;
        if (l > m) {
            s = s * expf(m - l) + 1.0f;
            m = l;
        } else {
            s += expf(l - m);
        }
    }
    mx_out[B.trow + j] = m;
    lse_out[B.trow + j] = m > -INFINITY ? logf(s) : 0.0f;
}

/* each batch's query mean, one thread per coordinate (double sums) */
__global__ void k_colmean(const bdesc *bd, const float *X, int d, float *mean)
{
    const bdesc B = bd[blockIdx.y];
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= d) return;
    const float *Xb = X + B.xrow * d;
    double s = 0;
    for (int i = 0; i < B.n; i++) s += Xb[(size_t)i * d + k];
    mean[(size_t)blockIdx.y * d + k] = (float)(s / B.n);
}

/* every query (targets = 0) or target row (1) of each batch centred on the batch's mean */
__global__ void k_center(const bdesc *bd, float *A, int targets, int d, const float *mean)
{
    const bdesc B = bd[blockIdx.y];
    const size_t rows = targets ? (size_t)B.nt : (size_t)B.n;
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= rows * (size_t)d) return;
    A[(targets ? B.trow : B.xrow) * d + idx] -= mean[(size_t)blockIdx.y * d + idx % d];
}

/* One row of coefficients: A_ij (normalized affinities times the weights), Σ over negatives
 * and positives, then C_ij in place of L and its row sum. */
__global__ void k_coef(const bdesc *bd, float *LC, const float *w, const float *rmx, const float *rlse,
                       const float *cmx, const float *clse, int norm, int floor_on, float pos_scale,
                       float neg_scale, float *csum)
{
    const bdesc B = bd[blockIdx.y];
    const int i = blockIdx.x;
    if (i >= B.n) return;
    __shared__ float sh[32];
    float *row = LC + B.rl + (size_t)i * B.nt;
    const float *wb = w + B.trow, *cm = cmx + B.trow, *cl = clse + B.trow;
    const float rm = rmx[B.xrow + i], rs = rlse[B.xrow + i];
    float sneg = 0.0f, spos = 0.0f;
    for (int j = threadIdx.x; j < B.nt; j += THREADS) {
        const float lk = row[j];
        float a = 0.0f;
        if (lk > -INFINITY) {
            const float lrow = (lk - rm) - rs;
            if (norm == DRIFT_DENG_BOTH) {
                const float lcol = (lk - cm[j]) - cl[j];
                if (floor_on) {
                    const float prod = expf(lrow) * expf(lcol);
                    a = sqrtf(prod > (float)CU_DENG_AFFINITY_FLOOR ? prod : (float)CU_DENG_AFFINITY_FLOOR);
                } else {
                    a = expf(0.5f * (lrow + lcol));
                }
            } else if (norm == DRIFT_DENG_ROW) {
                a = expf(lrow);
            } else {
                a = expf(lk);
            }
        }
        a *= wb[j];
        row[j] = a;
        if (j < B.q) sneg += a; else spos += a;
    }
    sneg = block_sum(sneg, sh);
    spos = block_sum(spos, sh);
    float cs = 0.0f;
    for (int j = threadIdx.x; j < B.nt; j += THREADS) {
        const float c = j < B.q ? -neg_scale * spos * row[j] : pos_scale * sneg * row[j];
        row[j] = c;
        cs += c;
    }
    cs = block_sum(cs, sh);
    if (threadIdx.x == 0) csum[B.xrow + i] = cs;
}

/* V_τ = (G − csum_i x_i)/s in place of G, and Σ V_τ² into sc[3 + t] */
__global__ void k_epilogue(const bdesc *bd, float *G, const float *X, const float *csum, int d, int t, double *sc)
{
    const bdesc B = bd[blockIdx.y];
    const int i = blockIdx.x;
    if (i >= B.n) return;
    __shared__ float sh[32];
    const float inv_s = (float)(1.0 / sc[blockIdx.y * SC_STRIDE + 1]), cs = csum[B.xrow + i];
    float acc = 0.0f;
    for (int k = threadIdx.x; k < d; k += THREADS) {
        const size_t o = (size_t)(B.xrow + i) * d + k;
        const float v = (G[o] - cs * X[o]) * inv_s;
        G[o] = v;
        acc += v * v;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) atomicAdd(&sc[blockIdx.y * SC_STRIDE + 3 + t], (double)acc);
}

/* V += (s/λ_τ)·V_τ (V = that on the first temperature); λ_τ from the batch's Σ V_τ² */
__global__ void k_accumulate(const bdesc *bd, float *V, const float *G, const double *sc, int d, int t,
                             int drift_norm, int first)
{
    const bdesc B = bd[blockIdx.y];
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B.n * d) return;
    const double *c = sc + blockIdx.y * SC_STRIDE;
    double lambda = 1.0;
    if (drift_norm) {
        const double ms = c[3 + t] / ((double)B.n * d);
        lambda = sqrt(ms > CU_DRIFT_NORM_FLOOR ? ms : CU_DRIFT_NORM_FLOOR);
    }
    const float a = (float)(c[1] / lambda);
    const size_t o = (size_t)B.xrow * d + idx;
    V[o] = first ? a * G[o] : V[o] + a * G[o];
}

/* ---- host side -------------------------------------------------------------------- */

static int grow(cuda_dev *d, size_t dev_bytes, char *msg, size_t msglen)
{
    if (d->ws_bytes >= dev_bytes) return 0;
    cudaFree(d->ws);
    d->ws = NULL;
    d->ws_bytes = 0;
    cudaError_t e = cudaMalloc(&d->ws, dev_bytes);
    if (e != cudaSuccess) return fail(msg, msglen, DRIFT_ENOMEM, "cudaMalloc of the field's workspace", e);
    d->ws_bytes = dev_bytes;
    return 0;
}

static size_t al(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

/* Every batch of the call at once: one launch per stage with a grid over the batches, the
 * field products as one strided-batched GEMM when the batches have one shape (a training
 * step's groups) and one GEMM each otherwise, one synchronization at the end. */
static int all_batches(cuda_dev *dv, const drift_field_config *cfg, int count, const drift_field_batch *b,
                       drift_field_result *res, char *msg, size_t msglen)
{
    const int d = (int)b[0].d;
    bdesc *hd = (bdesc *)calloc((size_t)count, sizeof *hd);
    double *hwsum = (double *)calloc((size_t)count, sizeof(double));
    long long N = 0, NT = 0, RL = 0;
    int maxn = 0, maxnt = 0, uniform = 1;
    if (!hd || !hwsum) {
        free(hd); free(hwsum);
        snprintf(msg, msglen, "out of host memory");
        return DRIFT_ENOMEM;
    }
    for (int k = 0; k < count; k++) {
        const int self = b[k].neg == NULL, n = (int)b[k].n, m = self ? n : (int)b[k].m, q = m + (int)b[k].e;
        hd[k] = (bdesc){n, q + (int)b[k].p, q, self, N, NT, RL};
        N += n;
        NT += hd[k].nt;
        RL += (long long)n * hd[k].nt;
        maxn = n > maxn ? n : maxn;
        maxnt = hd[k].nt > maxnt ? hd[k].nt : maxnt;
        uniform = uniform && hd[k].n == hd[0].n && hd[k].nt == hd[0].nt;
    }
    /* device layout (bytes, 256-aligned): X, T, w, R, L (= C), G, V, mean, rmx, rlse, csum, cmx,
     * clse, desc, wsum, sc */
    size_t off = 0;
    const size_t oX = off; off += al((size_t)N * d * 4);
    const size_t oT = off; off += al((size_t)NT * d * 4);
    const size_t ow = off; off += al((size_t)NT * 4);
    const size_t oR = off; off += al((size_t)RL * 4);
    const size_t oL = off; off += al((size_t)RL * 4);
    const size_t oG = off; off += al((size_t)N * d * 4);
    const size_t oV = off; off += al((size_t)N * d * 4);
    const size_t om = off; off += al((size_t)count * d * 4);
    const size_t ormx = off; off += al((size_t)N * 4);
    const size_t orl = off; off += al((size_t)N * 4);
    const size_t ocs = off; off += al((size_t)N * 4);
    const size_t ocmx = off; off += al((size_t)NT * 4);
    const size_t ocl = off; off += al((size_t)NT * 4);
    const size_t obd = off; off += al((size_t)count * sizeof(bdesc));
    const size_t ows = off; off += al((size_t)count * 8);
    const size_t osc = off; off += al((size_t)count * SC_STRIDE * 8);
    int st = grow(dv, off, msg, msglen);
    if (st) {
        free(hd); free(hwsum);
        return st;
    }
    char *W = (char *)dv->ws;
    float *X = (float *)(W + oX), *T = (float *)(W + oT), *w = (float *)(W + ow), *R = (float *)(W + oR),
          *L = (float *)(W + oL), *G = (float *)(W + oG), *V = (float *)(W + oV), *mean = (float *)(W + om),
          *rmx = (float *)(W + ormx), *rl = (float *)(W + orl), *csum = (float *)(W + ocs),
          *cmx = (float *)(W + ocmx), *cl = (float *)(W + ocl);
    bdesc *bd = (bdesc *)(W + obd);
    double *wsum = (double *)(W + ows), *sc = (double *)(W + osc);
    cudaStream_t s = dv->stream;

    /* upload from the caller's (pageable) memory: each copy has read it when it returns */
    float *hw = (float *)malloc((size_t)NT * sizeof(float));
    if (!hw) {
        free(hd); free(hwsum);
        snprintf(msg, msglen, "out of host memory");
        return DRIFT_ENOMEM;
    }
    for (int k = 0; k < count; k++) {
        const drift_field_batch *B = &b[k];
        const int n = hd[k].n, q = hd[k].q, self = hd[k].self, m = self ? n : (int)B->m;
        float *hwk = hw + hd[k].trow;
        for (int j = 0; j < hd[k].nt; j++) {
            hwk[j] = j < m ? (!self && B->neg_w ? B->neg_w[j] : 1.0f)
                   : j < q ? (B->extra_w ? B->extra_w[j - m] : 1.0f)
                           : (B->pos_w ? B->pos_w[j - q] : 1.0f);
            hwsum[k] += hwk[j];
        }
        float *Tk = T + hd[k].trow * d;
        cudaMemcpyAsync(X + hd[k].xrow * d, B->x, (size_t)n * d * 4, cudaMemcpyHostToDevice, s);
        cudaMemcpyAsync(Tk, self ? B->x : B->neg, (size_t)m * d * 4, cudaMemcpyHostToDevice, s);
        if (B->e)
            cudaMemcpyAsync(Tk + (size_t)m * d, B->extra, (size_t)B->e * d * 4, cudaMemcpyHostToDevice, s);
        cudaMemcpyAsync(Tk + (size_t)q * d, B->pos, (size_t)B->p * d * 4, cudaMemcpyHostToDevice, s);
    }
    cudaMemcpyAsync(w, hw, (size_t)NT * 4, cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(bd, hd, (size_t)count * sizeof(bdesc), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(wsum, hwsum, (size_t)count * 8, cudaMemcpyHostToDevice, s);
    cudaMemsetAsync(sc, 0, (size_t)count * SC_STRIDE * 8, s);
    cudaStreamSynchronize(s); /* hw, hd, hwsum may go */
    free(hw);

    const unsigned C = (unsigned)count;
    /* centred on each batch's query mean: the field is translation invariant, and
     * G − (Σ_j C_ij) x_i below then subtracts numbers of the data's spread, not its offset */
    k_colmean<<<dim3((unsigned)((d + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(bd, X, d, mean);
    k_center<<<dim3((unsigned)(((size_t)maxn * d + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(bd, X, 0, d, mean);
    k_center<<<dim3((unsigned)(((size_t)maxnt * d + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(bd, T, 1, d, mean);
    /* distances: the products x_i·t_j by SGEMM (R_b = X_b T_bᵀ, row-major n × T: column-major
     * Rᵀ = Tᵀ... as op(T)ᵀ·X), then r from the norms, near pairs exactly (k_dist_finish). The
     * per-row vectors rmx (queries) and cmx (targets) hold the squared norms until the first
     * temperature overwrites them. */
    k_sqnorm<<<dim3((unsigned)maxn, C), THREADS, 0, s>>>(bd, X, 0, d, rmx);
    k_sqnorm<<<dim3((unsigned)maxnt, C), THREADS, 0, s>>>(bd, T, 1, d, cmx);
    {
        const float one = 1.0f, zero = 0.0f;
        cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
        if (uniform && count > 1)
            bs = cublasSgemmStridedBatched(dv->blas, CUBLAS_OP_T, CUBLAS_OP_N, hd[0].nt, hd[0].n, d, &one, T, d,
                                           (long long)hd[0].nt * d, X, d, (long long)hd[0].n * d, &zero, R,
                                           hd[0].nt, (long long)hd[0].n * hd[0].nt, count);
        else
            for (int k = 0; k < count && bs == CUBLAS_STATUS_SUCCESS; k++)
                bs = cublasSgemm(dv->blas, CUBLAS_OP_T, CUBLAS_OP_N, hd[k].nt, hd[k].n, d, &one, T + hd[k].trow * d, d,
                                 X + hd[k].xrow * d, d, &zero, R + hd[k].rl, hd[k].nt);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            free(hd); free(hwsum);
            snprintf(msg, msglen, "cuBLAS SGEMM (distances) failed (status %d)", (int)bs);
            return DRIFT_EIO;
        }
    }
    k_dist_finish<<<dim3((unsigned)(((size_t)maxn * maxnt + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(
        bd, X, T, rmx, cmx, d, R);
    if (cfg->feature_norm) k_weighted_sum<<<dim3((unsigned)maxn, C), THREADS, 0, s>>>(bd, R, w, sc);
    k_scale<<<(C + 63) / 64, 64, 0, s>>>(bd, wsum, count, d, cfg->feature_norm, sc);

    const double root_d = sqrt((double)d);
    const float soft_add = (float)(CU_DENG_SOFT_MASK * (cfg->feature_norm ? root_d : 1.0));
    const float one = 1.0f, zero = 0.0f;
    for (int t = 0; t < cfg->n_tau; t++) {
        const float tau = (float)(cfg->feature_norm ? cfg->tau[t] * root_d : cfg->tau[t]);
        k_logk<<<dim3((unsigned)(((size_t)maxn * maxnt + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(
            bd, R, sc, cfg->deng_soft_mask, tau, (float)cfg->rq_alpha, soft_add, (int)cfg->kernel, L);
        k_row_lse<<<dim3((unsigned)maxn, C), THREADS, 0, s>>>(bd, L, rmx, rl);
        if (cfg->deng_norm == DRIFT_DENG_BOTH)
            k_col_lse<<<dim3((unsigned)((maxnt + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(bd, L, cmx, cl);
        k_coef<<<dim3((unsigned)maxn, C), THREADS, 0, s>>>(bd, L, w, rmx, rl, cmx, cl, (int)cfg->deng_norm,
                                                            cfg->deng_floor, (float)cfg->pos_scale,
                                                            (float)cfg->neg_scale, csum);
        /* G (n × d, row-major) = C (n × T) · T (T × d): column-major Gᵀ = Tᵀ · Cᵀ */
        cublasStatus_t bs = CUBLAS_STATUS_SUCCESS;
        if (uniform && count > 1) {
            const int n = hd[0].n, nt = hd[0].nt;
            bs = cublasSgemmStridedBatched(dv->blas, CUBLAS_OP_N, CUBLAS_OP_N, d, n, nt, &one, T, d,
                                           (long long)nt * d, L, nt, (long long)n * nt, &zero, G, d,
                                           (long long)n * d, count);
        } else {
            for (int k = 0; k < count && bs == CUBLAS_STATUS_SUCCESS; k++)
                bs = cublasSgemm(dv->blas, CUBLAS_OP_N, CUBLAS_OP_N, d, hd[k].n, hd[k].nt, &one, T + hd[k].trow * d, d,
                                 L + hd[k].rl, hd[k].nt, &zero, G + hd[k].xrow * d, d);
        }
        if (bs != CUBLAS_STATUS_SUCCESS) {
            free(hd); free(hwsum);
            snprintf(msg, msglen, "cuBLAS SGEMM failed (status %d)", (int)bs);
            return DRIFT_EIO;
        }
        k_epilogue<<<dim3((unsigned)maxn, C), THREADS, 0, s>>>(bd, G, X, csum, d, t, sc);
        k_accumulate<<<dim3((unsigned)(((size_t)maxn * d + THREADS - 1) / THREADS), C), THREADS, 0, s>>>(
            bd, V, G, sc, d, t, cfg->drift_norm, t == 0);
    }
    /* download: the fields (one copy, then to each batch's result) and the scalars */
    float *hv = (float *)malloc((size_t)N * d * 4);
    double *hsc = (double *)malloc((size_t)count * SC_STRIDE * 8);
    if (!hv || !hsc) {
        free(hv); free(hsc); free(hd); free(hwsum);
        snprintf(msg, msglen, "out of host memory");
        return DRIFT_ENOMEM;
    }
    cudaMemcpyAsync(hv, V, (size_t)N * d * 4, cudaMemcpyDeviceToHost, s);
    cudaMemcpyAsync(hsc, sc, (size_t)count * SC_STRIDE * 8, cudaMemcpyDeviceToHost, s);
    cudaError_t ce = cudaStreamSynchronize(s);
    if (ce == cudaSuccess) ce = cudaGetLastError();
    st = 0;
    if (ce != cudaSuccess) st = fail(msg, msglen, DRIFT_EIO, "CUDA field", ce);
    for (int k = 0; k < count && !st; k++) {
        const size_t nd = (size_t)hd[k].n * d;
        float *out = (float *)res[k].v;
        memcpy(out, hv + hd[k].xrow * d, nd * 4);
        const double *c = hsc + k * SC_STRIDE;
        for (int t = 0; t < cfg->n_tau; t++) res[k].tau_rms[t] = cfg->skip_tau_rms ? NAN : c[1] * sqrt(c[3 + t] / (double)nd);
        double sq = 0;
        int finite = 1;
        for (size_t i = 0; i < nd; i++) {
            sq += (double)out[i] * out[i];
            finite = finite && isfinite(out[i]);
        }
        res[k].rms = sqrt(sq / (double)nd);
        res[k].feature_scale = c[1];
        res[k].mean_dist = c[2];
        if (!finite) {
            snprintf(msg, msglen, "batch %d: the field is not finite (inputs too extreme for float32)", k);
            st = DRIFT_ENUMERIC;
        }
    }
    free(hv); free(hsc); free(hd); free(hwsum);
    return st;
}

extern "C" int cuda_backend_field_many(void *p, const struct drift_field_config *cfg, int count,
                                       const struct drift_field_batch *b, struct drift_field_result *res, char *msg,
                                       size_t msglen)
{
    cuda_dev *dv = (cuda_dev *)p;
    if (cfg->family != DRIFT_FAMILY_DENG) {
        snprintf(msg, msglen, "the CUDA field implements the deng family only (family %d asked for)", (int)cfg->family);
        return DRIFT_EUNSUPPORTED;
    }
    long long cells = 0;
    for (int k = 0; k < count; k++) {
        if (res[k].log_pos_mass || res[k].log_neg_mass || res[k].pos_ess || res[k].potential) {
            snprintf(msg, msglen, "the CUDA field computes no potentials or per-row diagnostics");
            return DRIFT_EUNSUPPORTED;
        }
        const long long nt = (b[k].neg ? b[k].m : b[k].n) + b[k].e + b[k].p;
        cells += b[k].n * nt;
        if (b[k].n > (1 << 24) || nt > (1 << 24) || b[k].d > (1 << 24) || b[k].n * b[k].d > (1LL << 31)) {
            snprintf(msg, msglen, "batch %d is too large for the CUDA field", k);
            return DRIFT_EUNSUPPORTED;
        }
    }
    if (cells > (1LL << 31)) {
        snprintf(msg, msglen, "the call's distance tables (%lld entries) are too large for the CUDA field", cells);
        return DRIFT_EUNSUPPORTED;
    }
    cudaSetDevice(dv->device);
    return all_batches(dv, cfg, count, b, res, msg, msglen);
}
