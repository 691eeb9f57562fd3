/* field_cuda.cu — the deng drift field on an NVIDIA GPU (contract: cuda/cuda_backend.h).
 *
 * The same mathematics as field_ref.c's deng_field (docs/MATH.md §3), for one batch at a time:
 *
 *   upload    queries X (n × d) and targets T = [negatives (X itself when self-masked);
 *             extra negatives; positives] (T × d), all centred on the queries' mean (the
 *             field is translation invariant, and centred values keep float32's digits), and
 *             the target weights;
 *   R         the exact distances ‖x_i − t_j‖, a tiled kernel (differences first, no
 *             |x|² + |t|² − 2x·t cancellation);
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
 * batch. The batch's buffers live in a workspace kept in the device state and grown on demand. */
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
#define TILE 16

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

/* R[i, j] = ‖x_i − t_j‖: TILE × TILE outputs per block, the dimension in TILE-wide slices */
__global__ void k_dist(const float *X, const float *T, int n, int nt, int d, float *R)
{
    __shared__ float xs[TILE][TILE + 1], ts[TILE][TILE + 1];
    const int i = blockIdx.y * TILE + threadIdx.y, j = blockIdx.x * TILE + threadIdx.x;
    float acc = 0.0f;
    for (int k0 = 0; k0 < d; k0 += TILE) {
        const int ix = blockIdx.y * TILE + threadIdx.y, kx = k0 + threadIdx.x;
        xs[threadIdx.y][threadIdx.x] = ix < n && kx < d ? X[(size_t)ix * d + kx] : 0.0f;
        const int jt = blockIdx.x * TILE + threadIdx.y;
        ts[threadIdx.y][threadIdx.x] = jt < nt && kx < d ? T[(size_t)jt * d + kx] : 0.0f;
        __syncthreads();
        const int kmax = d - k0 < TILE ? d - k0 : TILE;
        for (int k = 0; k < kmax; k++) {
            const float t = xs[threadIdx.y][k] - ts[threadIdx.x][k];
            acc = fmaf(t, t, acc);
        }
        __syncthreads();
    }
    if (i < n && j < nt) R[(size_t)i * nt + j] = sqrtf(acc);
}

/* Σ_ij w_j R_ij into *out (double) */
__global__ void k_weighted_sum(const float *R, const float *w, int n, int nt, double *out)
{
    __shared__ float sh[32];
    const int i = blockIdx.x;
    float s = 0.0f;
    for (int j = threadIdx.x; j < nt; j += THREADS) s += w[j] * R[(size_t)i * nt + j];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) atomicAdd(out, (double)s);
}

__device__ __forceinline__ float kernel_log(int kernel, float r, float tau, float alpha)
{
    if (kernel == DRIFT_KERNEL_GAUSSIAN) return -r * r / (2.0f * tau * tau);
    if (kernel == DRIFT_KERNEL_LAPLACE) return -r / tau;
    return -alpha * log1pf(r * r / (2.0f * alpha * tau * tau));
}

/* kernel logs of one temperature in working units (r / s), self entries removed or soft-masked */
__global__ void k_logk(const float *R, int n, int nt, int self_masked, int soft, float inv_s, float tau,
                       float alpha, float soft_add, int kernel, float *L)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)n * nt) return;
    const int i = (int)(idx / nt), j = (int)(idx % nt);
    const float r = R[idx] * inv_s;
    float l;
    if (self_masked && j == i)
        l = soft ? kernel_log(kernel, r + soft_add, tau, alpha) : -INFINITY;
    else
        l = kernel_log(kernel, r, tau, alpha);
    L[idx] = l;
}

/* per row: the largest log and log Σ exp(l − max) */
__global__ void k_row_lse(const float *L, int nt, float *mx_out, float *lse_out)
{
    __shared__ float sh[32];
    const float *row = L + (size_t)blockIdx.x * nt;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < nt; j += THREADS) m = fmaxf(m, row[j]);
    m = block_max(m, sh);
    float s = 0.0f;
    if (m > -INFINITY)
        for (int j = threadIdx.x; j < nt; j += THREADS) s += expf(row[j] - m);
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        mx_out[blockIdx.x] = m;
        lse_out[blockIdx.x] = m > -INFINITY ? logf(s) : 0.0f;
    }
}

/* per column: the same over the rows, one thread per column (reads of a row are coalesced
 * across the threads), as an online log-sum-exp: one pass */
__global__ void k_col_lse(const float *L, int n, int nt, float *mx_out, float *lse_out)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= nt) return;
    float m = -INFINITY, s = 0.0f;
    for (int i = 0; i < n; i++) {
        const float l = L[(size_t)i * nt + j];
        if (l == -INFINITY) continue;
        if (l > m) {
            s = s * expf(m - l) + 1.0f;
            m = l;
        } else {
            s += expf(l - m);
        }
    }
    mx_out[j] = m;
    lse_out[j] = m > -INFINITY ? logf(s) : 0.0f;
}

/* the queries' mean, one thread per coordinate (double sums), then every row centred on it */
__global__ void k_colmean(const float *X, int n, int d, float *mean)
{
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= d) return;
    double s = 0;
    for (int i = 0; i < n; i++) s += X[(size_t)i * d + k];
    mean[k] = (float)(s / n);
}

__global__ void k_center(float *A, size_t rows, int d, const float *mean)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < rows * (size_t)d) A[idx] -= mean[idx % d];
}

/* One row of coefficients: A_ij (normalized affinities times the weights), Σ over negatives
 * and positives, then C_ij in place of L and its row sum. */
__global__ void k_coef(float *LC, const float *w, int nt, int q, const float *rmx, const float *rlse,
                       const float *cmx, const float *clse, int norm, int floor_on, float pos_scale,
                       float neg_scale, float *csum)
{
    __shared__ float sh[32];
    const int i = blockIdx.x;
    float *row = LC + (size_t)i * nt;
    float sneg = 0.0f, spos = 0.0f;
    for (int j = threadIdx.x; j < nt; j += THREADS) {
        const float lk = row[j];
        float a = 0.0f;
        if (lk > -INFINITY) {
            const float lrow = (lk - rmx[i]) - rlse[i];
            if (norm == DRIFT_DENG_BOTH) {
                const float lcol = (lk - cmx[j]) - clse[j];
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
        a *= w[j];
        row[j] = a;
        if (j < q) sneg += a; else spos += a;
    }
    sneg = block_sum(sneg, sh);
    spos = block_sum(spos, sh);
    float cs = 0.0f;
    for (int j = threadIdx.x; j < nt; j += THREADS) {
        const float c = j < q ? -neg_scale * spos * row[j] : pos_scale * sneg * row[j];
        row[j] = c;
        cs += c;
    }
    cs = block_sum(cs, sh);
    if (threadIdx.x == 0) csum[i] = cs;
}

/* V_τ = (G − csum_i x_i)/s in place of G, and Σ V_τ² (double) */
__global__ void k_epilogue(float *G, const float *X, const float *csum, int n, int d, float inv_s, double *ms)
{
    __shared__ float sh[32];
    const int i = blockIdx.x;
    float acc = 0.0f;
    for (int k = threadIdx.x; k < d; k += THREADS) {
        const size_t o = (size_t)i * d + k;
        const float v = (G[o] - csum[i] * X[o]) * inv_s;
        G[o] = v;
        acc += v * v;
    }
    acc = block_sum(acc, sh);
    if (threadIdx.x == 0) atomicAdd(ms, (double)acc);
}

__global__ void k_axpy(float *y, const float *x, float a, size_t count, int first)
{
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < count) y[idx] = first ? a * x[idx] : y[idx] + a * x[idx];
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

static size_t al(size_t floats) { return (floats + 63) & ~(size_t)63; }

static int one_batch(cuda_dev *dv, const drift_field_config *cfg, const drift_field_batch *b, drift_field_result *res,
                     char *msg, size_t msglen)
{
    const int n = (int)b->n, d = (int)b->d, p = (int)b->p;
    const int self = b->neg == NULL;
    const int m = self ? n : (int)b->m, e = (int)b->e, q = m + e, nt = q + p;
    /* device layout: X, T, w, R, L (=C), rmx, rlse, cmx, clse, csum, G, vsum, mean */
    const size_t oX = 0, oT = oX + al((size_t)n * d), ow = oT + al((size_t)nt * d), oR = ow + al(nt),
                 oL = oR + al((size_t)n * nt), ormx = oL + al((size_t)n * nt), orl = ormx + al(n),
                 ocmx = orl + al(n), ocl = ocmx + al(nt), ocs = ocl + al(nt), oG = ocs + al(n),
                 oV = oG + al((size_t)n * d), omean = oV + al((size_t)n * d), total = omean + al(d);
    int st = grow(dv, total * sizeof(float), msg, msglen);
    if (st) return st;
    float *W = (float *)dv->ws;
    float *X = W + oX, *Tg = W + oT, *w = W + ow, *R = W + oR, *L = W + oL, *rmx = W + ormx, *rl = W + orl,
          *cmx = W + ocmx, *cl = W + ocl, *csum = W + ocs, *G = W + oG, *V = W + oV, *mean = W + omean;

    /* upload: queries; targets = negatives (the queries when self-masked), extras, positives;
     * weights. From the caller's (pageable) memory: the copies have read it when they return. */
    float *hw = (float *)malloc((size_t)nt * sizeof(float));
    if (!hw) {
        snprintf(msg, msglen, "out of host memory");
        return DRIFT_ENOMEM;
    }
    double wsum = 0;
    for (int j = 0; j < nt; j++) {
        hw[j] = j < m ? (!self && b->neg_w ? b->neg_w[j] : 1.0f)
              : j < q ? (b->extra_w ? b->extra_w[j - m] : 1.0f)
                      : (b->pos_w ? b->pos_w[j - q] : 1.0f);
        wsum += hw[j];
    }
    cudaStream_t s = dv->stream;
    const float *negrows = self ? b->x : b->neg;
    cudaMemcpyAsync(X, b->x, (size_t)n * d * sizeof(float), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(Tg, negrows, (size_t)m * d * sizeof(float), cudaMemcpyHostToDevice, s);
    if (e) cudaMemcpyAsync(Tg + (size_t)m * d, b->extra, (size_t)e * d * sizeof(float), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(Tg + (size_t)q * d, b->pos, (size_t)p * d * sizeof(float), cudaMemcpyHostToDevice, s);
    cudaMemcpyAsync(w, hw, (size_t)nt * sizeof(float), cudaMemcpyHostToDevice, s);
    cudaStreamSynchronize(s);
    free(hw);
    /* centred on the queries' mean: the field is translation invariant, and G − (Σ_j C_ij) x_i
     * below then subtracts numbers of the data's spread, not of its offset */
    k_colmean<<<(unsigned)((d + THREADS - 1) / THREADS), THREADS, 0, s>>>(X, n, d, mean);
    k_center<<<(unsigned)(((size_t)n * d + THREADS - 1) / THREADS), THREADS, 0, s>>>(X, (size_t)n, d, mean);
    k_center<<<(unsigned)(((size_t)nt * d + THREADS - 1) / THREADS), THREADS, 0, s>>>(Tg, (size_t)nt, d, mean);

    dim3 tb(TILE, TILE), tg((unsigned)((nt + TILE - 1) / TILE), (unsigned)((n + TILE - 1) / TILE));
    k_dist<<<tg, tb, 0, s>>>(X, Tg, n, nt, d, R);

    double scale = 1.0, mu = 0.0;
    if (cfg->feature_norm) {
        double hsum = 0;
        cudaMemsetAsync(dv->dsum, 0, sizeof(double), s);
        k_weighted_sum<<<n, THREADS, 0, s>>>(R, w, n, nt, dv->dsum);
        cudaMemcpyAsync(&hsum, dv->dsum, sizeof(double), cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
        mu = hsum / ((double)n * wsum);
        scale = (mu > CU_FEATURE_NORM_FLOOR ? mu : CU_FEATURE_NORM_FLOOR) / sqrt((double)d);
    }
    const double root_d = sqrt((double)d);
    const float inv_s = (float)(1.0 / scale);
    const float soft_add = (float)(CU_DENG_SOFT_MASK * (cfg->feature_norm ? root_d : 1.0));
    const size_t nT = (size_t)n * nt, nd = (size_t)n * d;
    const unsigned eblocks = (unsigned)((nT + THREADS - 1) / THREADS), vblocks = (unsigned)((nd + THREADS - 1) / THREADS);
    const float one = 1.0f, zero = 0.0f;
    int first = 1;
    for (int t = 0; t < cfg->n_tau; t++) {
        const float tau = (float)(cfg->feature_norm ? cfg->tau[t] * root_d : cfg->tau[t]);
        k_logk<<<eblocks, THREADS, 0, s>>>(R, n, nt, self, cfg->deng_soft_mask, inv_s, tau, (float)cfg->rq_alpha,
                                            soft_add, (int)cfg->kernel, L);
        k_row_lse<<<n, THREADS, 0, s>>>(L, nt, rmx, rl);
        if (cfg->deng_norm == DRIFT_DENG_BOTH)
            k_col_lse<<<(unsigned)((nt + THREADS - 1) / THREADS), THREADS, 0, s>>>(L, n, nt, cmx, cl);
        k_coef<<<n, THREADS, 0, s>>>(L, w, nt, q, rmx, rl, cmx, cl, (int)cfg->deng_norm, cfg->deng_floor,
                                      (float)cfg->pos_scale, (float)cfg->neg_scale, csum);
        /* G (n × d, row-major) = C (n × T) · T (T × d): column-major Gᵀ = Tᵀ · Cᵀ */
        if (cublasSgemm(dv->blas, CUBLAS_OP_N, CUBLAS_OP_N, d, n, nt, &one, Tg, d, L, nt, &zero, G, d) !=
            CUBLAS_STATUS_SUCCESS) {
            snprintf(msg, msglen, "cublasSgemm failed (%d x %d x %d)", n, d, nt);
            return DRIFT_EIO;
        }
        double ms = 0;
        cudaMemsetAsync(dv->dsum, 0, sizeof(double), s);
        k_epilogue<<<n, THREADS, 0, s>>>(G, X, csum, n, d, inv_s, dv->dsum);
        cudaMemcpyAsync(&ms, dv->dsum, sizeof(double), cudaMemcpyDeviceToHost, s);
        cudaStreamSynchronize(s);
        ms /= (double)nd;
        res->tau_rms[t] = cfg->skip_tau_rms ? NAN : scale * sqrt(ms);
        const double lambda = cfg->drift_norm ? sqrt(ms > CU_DRIFT_NORM_FLOOR ? ms : CU_DRIFT_NORM_FLOOR) : 1.0;
        k_axpy<<<vblocks, THREADS, 0, s>>>(V, G, (float)(scale / lambda), nd, first);
        first = 0;
    }
    float *out = (float *)res->v;
    cudaMemcpyAsync(out, V, nd * sizeof(float), cudaMemcpyDeviceToHost, s);
    cudaError_t ce = cudaStreamSynchronize(s);
    if (ce == cudaSuccess) ce = cudaGetLastError();
    if (ce != cudaSuccess) return fail(msg, msglen, DRIFT_EIO, "CUDA field", ce);
    double sq = 0;
    int finite = 1;
    for (size_t k = 0; k < nd; k++) {
        sq += (double)out[k] * out[k];
        finite = finite && isfinite(out[k]);
    }
    res->rms = sqrt(sq / (double)nd);
    res->feature_scale = scale;
    res->mean_dist = mu;
    if (!finite) {
        snprintf(msg, msglen, "the field is not finite (inputs too extreme for float32)");
        return DRIFT_ENUMERIC;
    }
    return 0;
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
    for (int k = 0; k < count; k++) {
        if (res[k].log_pos_mass || res[k].log_neg_mass || res[k].pos_ess || res[k].potential) {
            snprintf(msg, msglen, "the CUDA field computes no potentials or per-row diagnostics");
            return DRIFT_EUNSUPPORTED;
        }
        if (b[k].n > (1 << 30) / 2 || b[k].d > (1 << 30) / 2) {
            snprintf(msg, msglen, "batch %d is too large for the CUDA field", k);
            return DRIFT_EUNSUPPORTED;
        }
    }
    cudaSetDevice(dv->device);
    for (int k = 0; k < count; k++) {
        int st = one_batch(dv, cfg, &b[k], &res[k], msg, msglen);
        if (st) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "batch %d: %s", k, msg);
            snprintf(msg, msglen, "%s", tmp);
            return st;
        }
    }
    return 0;
}
