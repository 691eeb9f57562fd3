/* conv.c — 2-D convolution (im2col + SGEMM), upsampling and pooling, all NCHW.
 *
 * The convolution unrolls each input image into a column matrix (C·K·K, OH·OW) so that
 * the convolution is one GEMM with the (OC, C·K·K) weight. Small images (7×7, 14×14)
 * give thin GEMMs, so `group` samples are unrolled side by side into one wider column
 * matrix. Chunks of `group` samples are spread over OpenMP threads, each with its own
 * slice of the scratch buffer; the weight gradient is accumulated per thread and summed
 * in thread order afterwards, so results are reproducible for a fixed thread count.
 *
 * Each input plane is first copied into a zero-padded buffer, so no tap tests bounds.
 *
 * A convolution to very few channels (the generator's last layer: 32 → 1) would make the
 * GEMM one row tall while im2col still copies the input K·K times; those (stride 1) run
 * as direct loops over the padded plane instead (see "direct path" below).
 */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "drift/error.h"
#include "drift/nn.h"

/* Columns a GEMM should have at least for OpenBLAS to run near its peak. */
enum { CONV_MIN_GEMM_COLS = 512 };
/* Up to this many output channels a stride-1 conv runs as direct loops. */
enum { CONV_DIRECT_MAX_OC = 4 };

int drift_conv2d_shape_init(drift_conv2d_shape *s, int C, int H, int W, int OC, int K, int stride,
                            int pad)
{
    if (C <= 0 || H <= 0 || W <= 0 || OC <= 0)
        return drift_error(DRIFT_EINVAL, "conv2d: sizes must be positive (C=%d H=%d W=%d OC=%d)",
                           C, H, W, OC);
    if (K <= 0 || stride <= 0 || pad < 0)
        return drift_error(DRIFT_EINVAL, "conv2d: bad kernel %d / stride %d / padding %d", K,
                           stride, pad);
    if (H + 2 * pad < K || W + 2 * pad < K)
        return drift_error(DRIFT_EINVAL, "conv2d: kernel %d larger than padded input %dx%d", K,
                           H + 2 * pad, W + 2 * pad);
    s->C = C, s->H = H, s->W = W, s->OC = OC, s->K = K, s->stride = stride, s->pad = pad;
    s->OH = (H + 2 * pad - K) / stride + 1;
    s->OW = (W + 2 * pad - K) / stride + 1;
    int ohw = s->OH * s->OW;
    s->group = (CONV_MIN_GEMM_COLS + ohw - 1) / ohw;
    s->direct = OC <= CONV_DIRECT_MAX_OC && stride == 1;
    return DRIFT_OK;
}

/* ---- scratch ----
 * Every path copies each input plane into a zero-padded buffer first (PH × PW, plus a few
 * floats of slack for the flattened loops below), so the K×K taps never test bounds. */
static size_t pad_in_floats(const drift_conv2d_shape *s)
{
    return (size_t)(s->H + 2 * s->pad) * (s->W + 2 * s->pad) + (size_t)s->K;
}
/* direct path: the output gradient padded by K−1 on every side, per output channel */
static size_t pad_out_floats(const drift_conv2d_shape *s)
{
    return (size_t)(s->OH + 2 * (s->K - 1)) * (s->OW + 2 * (s->K - 1)) + (size_t)s->K;
}

/* Per-thread scratch, in this order: the weight-gradient accumulator (OC × CKK), the bias
 * one (OC), the padded input plane, then
 *   GEMM path:   columns (CKK × group·OHW) and a gathered output block (OC × group·OHW);
 *   direct path: OC output planes in padded-width geometry (OH × PW), OC padded gradient
 *                planes, one input-gradient plane in padded-gradient width (H × GW). */
static size_t conv_thread_floats(const drift_conv2d_shape *s)
{
    size_t ckk = (size_t)s->C * s->K * s->K, cols = (size_t)s->group * s->OH * s->OW;
    size_t n = (size_t)s->OC * ckk + (size_t)s->OC + pad_in_floats(s);
    if (s->direct) {
        size_t pw = (size_t)s->W + 2 * s->pad, gw = (size_t)s->OW + 2 * (s->K - 1);
        n += (size_t)s->OC * s->OH * pw + (size_t)s->OC * pad_out_floats(s) + (size_t)s->H * gw;
    } else {
        n += ckk * cols + (size_t)s->OC * cols;
    }
    return (n + 15) & ~(size_t)15; /* keep every thread's slice 64-byte aligned */
}

size_t drift_conv2d_work_floats(const drift_conv2d_shape *s, int nthreads)
{
    return conv_thread_floats(s) * (size_t)(nthreads > 0 ? nthreads : 1);
}

static int conv_threads(const drift_conv2d_shape *s, size_t work_floats)
{
    size_t per = conv_thread_floats(s);
    int nt = omp_get_max_threads();
    if ((size_t)nt * per > work_floats) nt = (int)(work_floats / per);
    return nt < 1 ? 1 : nt;
}

/* src (h, w) into dst (h + 2p, w + 2p) with a zero border of p, and `slack` zeros after
 * it (read, times zero or into discarded outputs, by the flattened loops) */
static void pad_plane(float *dst, const float *src, int h, int w, int p, int slack)
{
    const int pw = w + 2 * p;
    memset(dst, 0, (size_t)p * pw * sizeof(float));
    for (int y = 0; y < h; y++) {
        float *d = dst + (size_t)(y + p) * pw;
        for (int x = 0; x < p; x++) d[x] = d[p + w + x] = 0.0f;
        memcpy(d + p, src + (size_t)y * w, (size_t)w * sizeof(float));
    }
    memset(dst + (size_t)(h + p) * pw, 0, ((size_t)p * pw + (size_t)slack) * sizeof(float));
}

/* ---- GEMM path ---- */

/* One image (C, H, W) -> columns: row (c·K + kh)·K + kw, column oh·OW + ow, row stride ld. */
static void im2col(float *col, size_t ld, const float *img, const drift_conv2d_shape *s, float *pad)
{
    const int K = s->K, S = s->stride, OH = s->OH, OW = s->OW, PW = s->W + 2 * s->pad;
    for (int c = 0; c < s->C; c++) {
        pad_plane(pad, img + (size_t)c * s->H * s->W, s->H, s->W, s->pad, s->K);
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                float *dst = col + ((size_t)(c * K + kh) * K + kw) * ld;
                for (int oh = 0; oh < OH; oh++) {
                    const float *src = pad + (size_t)(oh * S + kh) * PW + kw;
                    float *d = dst + (size_t)oh * OW;
                    if (S == 1)
                        for (int ow = 0; ow < OW; ow++) d[ow] = src[ow];
                    else
                        for (int ow = 0; ow < OW; ow++) d[ow] = src[ow * S];
                }
            }
    }
}

/* The adjoint of im2col: scatter-add columns into the padded plane, then its interior
 * into the image gradient (C, H, W). */
static void col2im_add(float *img, const float *col, size_t ld, const drift_conv2d_shape *s,
                       float *pad)
{
    const int K = s->K, S = s->stride, P = s->pad, OH = s->OH, OW = s->OW, PW = s->W + 2 * P;
    for (int c = 0; c < s->C; c++) {
        memset(pad, 0, (size_t)(s->H + 2 * P) * PW * sizeof(float));
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = col + ((size_t)(c * K + kh) * K + kw) * ld;
                for (int oh = 0; oh < OH; oh++) {
                    float *d = pad + (size_t)(oh * S + kh) * PW + kw;
                    const float *g = src + (size_t)oh * OW;
                    if (S == 1)
                        for (int ow = 0; ow < OW; ow++) d[ow] += g[ow];
                    else
                        for (int ow = 0; ow < OW; ow++) d[ow * S] += g[ow];
                }
            }
        float *plane = img + (size_t)c * s->H * s->W;
        for (int h = 0; h < s->H; h++) {
            const float *prow = pad + (size_t)(h + P) * PW + P;
            float *irow = plane + (size_t)h * s->W;
            for (int w = 0; w < s->W; w++) irow[w] += prow[w];
        }
    }
}

/* ---- direct path (few output channels, stride 1) ----
 * "Flattened" loops: over a padded plane of width PW, output (oh, ow) reads the taps at
 * flat index oh·PW + ow + kh·PW + kw, so one loop over i = oh·PW + ow ∈ [0, OH·PW) covers
 * the whole plane, with the PW − OW columns past each row's end computed and thrown
 * away. Long, branch-free, vectorizable loops instead of many short rows. The input
 * gradient is the same correlation of the output gradient (padded by K−1) with the
 * flipped kernel. */

static void direct_forward_one(float *out, const float *img, const float *weight,
                               const float *bias, const drift_conv2d_shape *s, float *scratch)
{
    const int K = s->K, OH = s->OH, OW = s->OW, PW = s->W + 2 * s->pad, n = OH * PW;
    float *pad = scratch, *ow_buf = scratch + pad_in_floats(s); /* OC planes of OH × PW */
    for (int oc = 0; oc < s->OC; oc++)
        for (int i = 0; i < n; i++) ow_buf[(size_t)oc * n + i] = bias ? bias[oc] : 0.0f;
    for (int c = 0; c < s->C; c++) {
        pad_plane(pad, img + (size_t)c * s->H * s->W, s->H, s->W, s->pad, s->K);
        for (int oc = 0; oc < s->OC; oc++) {
            const float *w = weight + (size_t)(oc * s->C + c) * K * K;
            float *o = ow_buf + (size_t)oc * n;
            for (int kh = 0; kh < K; kh++) {
                const float *prow = pad + (size_t)kh * PW, *wk = w + kh * K;
                #pragma omp simd
                for (int i = 0; i < n; i++) {
                    float acc = 0.0f;
                    for (int kw = 0; kw < K; kw++) acc += wk[kw] * prow[i + kw];
                    o[i] += acc;
                }
            }
        }
    }
    for (int oc = 0; oc < s->OC; oc++)
        for (int oh = 0; oh < OH; oh++)
            memcpy(out + ((size_t)oc * OH + oh) * OW, ow_buf + (size_t)oc * n + (size_t)oh * PW,
                   (size_t)OW * sizeof(float));
}

static void direct_backward_one(float *dimg, float *dw, float *db, const float *dout,
                                const float *img, const float *weight,
                                const drift_conv2d_shape *s, float *scratch)
{
    const int K = s->K, P = s->pad, OH = s->OH, OW = s->OW, PW = s->W + 2 * P, n = OH * PW;
    const int Q = K - 1, GW = OW + 2 * Q, nx = s->H * GW;
    float *pad = scratch;
    float *gw = pad + pad_in_floats(s);          /* OC gradient planes, OH × PW, zero tails */
    float *gp = gw + (size_t)s->OC * n;          /* OC gradient planes padded by K−1 */
    float *dxw = gp + (size_t)s->OC * pad_out_floats(s); /* H × GW */
    for (int oc = 0; oc < s->OC; oc++) {
        const float *g = dout + (size_t)oc * OH * OW;
        if (dimg) pad_plane(gp + (size_t)oc * pad_out_floats(s), g, OH, OW, Q, K);
        if (!dw) continue; /* input gradient only */
        float sum = 0.0f;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < OH * OW; i++) sum += g[i];
        db[oc] += sum;
        float *gwo = gw + (size_t)oc * n;
        for (int oh = 0; oh < OH; oh++) {
            memcpy(gwo + (size_t)oh * PW, g + (size_t)oh * OW, (size_t)OW * sizeof(float));
            for (int x = OW; x < PW; x++) gwo[(size_t)oh * PW + x] = 0.0f;
        }
    }
    for (int c = 0; c < s->C; c++) {
        /* dW[oc, c, kh, kw] += Σ_i g_w[i] · x_pad[i + kh·PW + kw] */
        if (dw) pad_plane(pad, img + (size_t)c * s->H * s->W, s->H, s->W, P, K);
        for (int oc = 0; oc < s->OC && dw; oc++) {
            const float *g = gw + (size_t)oc * n;
            float *dwk = dw + (size_t)(oc * s->C + c) * K * K;
            for (int kh = 0; kh < K; kh++)
                for (int kw = 0; kw < K; kw++) {
                    const float *x = pad + (size_t)kh * PW + kw;
                    float acc = 0.0f;
                    #pragma omp simd reduction(+ : acc)
                    for (int i = 0; i < n; i++) acc += g[i] * x[i];
                    dwk[kh * K + kw] += acc;
                }
        }
        if (!dimg) continue;
        /* dX[c][ih][iw] += Σ W[oc, c, K−1−a, K−1−b] · g_pad[ih + P + a][iw + P + b] */
        for (int i = 0; i < nx; i++) dxw[i] = 0.0f;
        for (int oc = 0; oc < s->OC; oc++) {
            const float *w = weight + (size_t)(oc * s->C + c) * K * K;
            for (int a = 0; a < K; a++) {
                const float *grow = gp + (size_t)oc * pad_out_floats(s) + (size_t)(P + a) * GW + P;
                const float *wk = w + (K - 1 - a) * K;
                #pragma omp simd
                for (int i = 0; i < nx; i++) {
                    float acc = 0.0f;
                    for (int b = 0; b < K; b++) acc += wk[K - 1 - b] * grow[i + b];
                    dxw[i] += acc;
                }
            }
        }
        float *dplane = dimg + (size_t)c * s->H * s->W;
        for (int ih = 0; ih < s->H; ih++)
            for (int iw = 0; iw < s->W; iw++) dplane[(size_t)ih * s->W + iw] += dxw[(size_t)ih * GW + iw];
    }
}

void drift_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, const drift_conv2d_shape *s, float *work, size_t work_floats)
{
    const int OC = s->OC, G = s->group, ckk = s->C * s->K * s->K;
    const size_t ohw = (size_t)s->OH * s->OW, in_sz = (size_t)s->C * s->H * s->W;
    const size_t per = conv_thread_floats(s), acc = (size_t)OC * ckk + OC;
    if (s->direct) {
        #pragma omp parallel for schedule(static) num_threads(conv_threads(s, work_floats))
        for (int b = 0; b < B; b++)
            direct_forward_one(out + (size_t)b * OC * ohw, inp + (size_t)b * in_sz, weight, bias, s,
                               work + (size_t)omp_get_thread_num() * per + acc);
        return;
    }
    const int nchunks = (B + G - 1) / G;
    #pragma omp parallel for schedule(static) num_threads(conv_threads(s, work_floats))
    for (int chunk = 0; chunk < nchunks; chunk++) {
        float *pad = work + (size_t)omp_get_thread_num() * per + acc;
        float *col = pad + pad_in_floats(s);
        float *blk = col + (size_t)ckk * G * ohw;
        int b0 = chunk * G, g = B - b0 < G ? B - b0 : G;
        size_t ld = (size_t)g * ohw;
        for (int j = 0; j < g; j++) im2col(col + j * ohw, ld, inp + (size_t)(b0 + j) * in_sz, s, pad);
        if (g == 1) { /* one sample: the GEMM writes the NCHW output directly */
            float *o = out + (size_t)b0 * OC * ohw;
            for (int oc = 0; oc < OC; oc++)
                for (size_t p = 0; p < ohw; p++) o[oc * ohw + p] = bias ? bias[oc] : 0.0f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)ohw, ckk, 1.0f, weight,
                        ckk, col, (int)ld, 1.0f, o, (int)ohw);
        } else { /* several: GEMM into (OC, g·OHW), then scatter to (g, OC, OHW) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, (int)ld, ckk, 1.0f, weight,
                        ckk, col, (int)ld, 0.0f, blk, (int)ld);
            for (int j = 0; j < g; j++)
                for (int oc = 0; oc < OC; oc++) {
                    const float *src = blk + (size_t)oc * ld + j * ohw;
                    float *dst = out + ((size_t)(b0 + j) * OC + oc) * ohw;
                    float bv = bias ? bias[oc] : 0.0f;
                    for (size_t p = 0; p < ohw; p++) dst[p] = src[p] + bv;
                }
        }
    }
}

/* dinp += the input gradient alone, for a layer whose parameters are frozen: per chunk of
 * samples, columns = Wᵀ · dout (one GEMM), folded back by col2im. The direct path runs its
 * per-sample loops with the weight-gradient part left out. */
static void conv_backward_input(float *dinp, const float *dout, const float *weight, int B,
                                const drift_conv2d_shape *s, float *work, size_t work_floats)
{
    const int OC = s->OC, G = s->group, ckk = s->C * s->K * s->K;
    const size_t ohw = (size_t)s->OH * s->OW, in_sz = (size_t)s->C * s->H * s->W;
    const size_t per = conv_thread_floats(s), acc = (size_t)OC * ckk + OC;
    const int nt = conv_threads(s, work_floats);
    if (s->direct) {
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < B; b++) {
            float *dw = work + (size_t)omp_get_thread_num() * per;
            direct_backward_one(dinp + (size_t)b * in_sz, NULL, NULL, dout + (size_t)b * OC * ohw,
                                NULL, weight, s, dw + acc);
        }
        return;
    }
    const int nchunks = (B + G - 1) / G;
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int chunk = 0; chunk < nchunks; chunk++) {
        float *pad = work + (size_t)omp_get_thread_num() * per + acc;
        float *col = pad + pad_in_floats(s), *blk = col + (size_t)ckk * G * ohw;
        int b0 = chunk * G, g = B - b0 < G ? B - b0 : G;
        size_t ld = (size_t)g * ohw;
        const float *dblk = dout + (size_t)b0 * OC * ohw;
        if (g > 1) {
            for (int j = 0; j < g; j++)
                for (int oc = 0; oc < OC; oc++)
                    memcpy(blk + (size_t)oc * ld + j * ohw,
                           dout + ((size_t)(b0 + j) * OC + oc) * ohw, ohw * sizeof(float));
            dblk = blk;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)ld, OC, 1.0f, weight, ckk,
                    dblk, (int)ld, 0.0f, col, (int)ld);
        for (int j = 0; j < g; j++) col2im_add(dinp + (size_t)(b0 + j) * in_sz, col + j * ohw, ld, s, pad);
    }
}

void drift_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B,
                           const drift_conv2d_shape *s, float *work, size_t work_floats)
{
    const int OC = s->OC, G = s->group, ckk = s->C * s->K * s->K;
    const size_t ohw = (size_t)s->OH * s->OW, in_sz = (size_t)s->C * s->H * s->W;
    const size_t per = conv_thread_floats(s), nw = (size_t)OC * ckk, acc = nw + OC;
    const size_t cols = (size_t)G * ohw;
    const int nt = conv_threads(s, work_floats);
    if (!dweight) { /* input gradient only (a frozen layer): no im2col, no weight GEMM */
        if (dinp) conv_backward_input(dinp, dout, weight, B, s, work, work_floats);
        return;
    }
    /* zero every thread's accumulators up front: a thread given no work adds nothing */
    for (int t = 0; t < nt; t++) memset(work + (size_t)t * per, 0, acc * sizeof(float));
    if (s->direct) {
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int b = 0; b < B; b++) {
            float *dw = work + (size_t)omp_get_thread_num() * per;
            direct_backward_one(dinp ? dinp + (size_t)b * in_sz : NULL, dw, dw + nw,
                                dout + (size_t)b * OC * ohw, inp + (size_t)b * in_sz, weight, s,
                                dw + acc);
        }
    } else {
        const int nchunks = (B + G - 1) / G;
        #pragma omp parallel for schedule(static) num_threads(nt)
        for (int chunk = 0; chunk < nchunks; chunk++) {
            float *dw = work + (size_t)omp_get_thread_num() * per, *db = dw + nw;
            float *pad = dw + acc, *col = pad + pad_in_floats(s), *blk = col + (size_t)ckk * cols;
            int b0 = chunk * G, g = B - b0 < G ? B - b0 : G;
            size_t ld = (size_t)g * ohw;
            for (int j = 0; j < g; j++)
                im2col(col + j * ohw, ld, inp + (size_t)(b0 + j) * in_sz, s, pad);
            const float *dblk; /* the output gradient of the chunk as an (OC, g·OHW) matrix */
            if (g == 1) {
                dblk = dout + (size_t)b0 * OC * ohw;
            } else {
                for (int j = 0; j < g; j++)
                    for (int oc = 0; oc < OC; oc++)
                        memcpy(blk + (size_t)oc * ld + j * ohw,
                               dout + ((size_t)(b0 + j) * OC + oc) * ohw, ohw * sizeof(float));
                dblk = blk;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, ckk, (int)ld, 1.0f, dblk,
                        (int)ld, col, (int)ld, 1.0f, dw, ckk);
            for (int oc = 0; oc < OC; oc++) {
                const float *row = dblk + (size_t)oc * ld;
                float sum = 0.0f;
                #pragma omp simd reduction(+ : sum)
                for (size_t p = 0; p < ld; p++) sum += row[p];
                db[oc] += sum;
            }
            if (dinp) { /* column gradient Wᵀ · dout overwrites the columns, then folds back */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)ld, OC, 1.0f, weight,
                            ckk, dblk, (int)ld, 0.0f, col, (int)ld);
                for (int j = 0; j < g; j++)
                    col2im_add(dinp + (size_t)(b0 + j) * in_sz, col + j * ohw, ld, s, pad);
            }
        }
    }
    /* sum the per-thread accumulators in thread order */
    #pragma omp parallel for schedule(static) if (nw > 16384)
    for (size_t i = 0; i < nw; i++) {
        float sum = 0.0f;
        for (int t = 0; t < nt; t++) sum += work[(size_t)t * per + i];
        dweight[i] += sum;
    }
    if (dbias)
        for (int oc = 0; oc < OC; oc++) {
            float sum = 0.0f;
            for (int t = 0; t < nt; t++) sum += work[(size_t)t * per + nw + oc];
            dbias[oc] += sum;
        }
}

void drift_upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W)
{
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * H * W > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *src = inp + pl * H * W;
        float *dst = out + pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            float *r0 = dst + (size_t)(2 * h) * 2 * W, *r1 = r0 + 2 * W;
            for (int w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = src[h * W + w];
            memcpy(r1, r0, (size_t)2 * W * sizeof(float));
        }
    }
}

void drift_upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W)
{
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * H * W > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        float *dst = dinp + pl * H * W;
        const float *src = dout + pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            const float *r0 = src + (size_t)(2 * h) * 2 * W, *r1 = r0 + 2 * W;
            for (int w = 0; w < W; w++)
                dst[h * W + w] += (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
        }
    }
}

void drift_maxpool2x2_forward(float *out, const float *inp, int B, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * H * W > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *src = inp + pl * H * W;
        float *dst = out + pl * OH * OW;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *p = src + (size_t)(2 * oh) * W + 2 * ow;
                float m = p[0];
                if (p[1] > m) m = p[1];
                if (p[W] > m) m = p[W];
                if (p[W + 1] > m) m = p[W + 1];
                dst[oh * OW + ow] = m;
            }
    }
}

void drift_maxpool2x2_backward(float *dinp, const float *dout, const float *inp, int B, int C,
                               int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * H * W > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *src = inp + pl * H * W;
        float *dsrc = dinp + pl * H * W;
        const float *d = dout + pl * OH * OW;
        /* The gradient goes to the window's first maximum (row-major order, as the forward picks
         * it). Selects instead of branches: the argmax of real activations is unpredictable, and
         * the branchy version spent most of its time in mispredictions. */
        for (int oh = 0; oh < OH; oh++) {
            const float *r0 = src + (size_t)(2 * oh) * W, *r1 = r0 + W;
            float *d0 = dsrc + (size_t)(2 * oh) * W, *d1 = d0 + W;
            for (int ow = 0; ow < OW; ow++) {
                const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], e = r1[2 * ow + 1];
                int k = 0;
                float m = a;
                k = b > m ? 1 : k, m = b > m ? b : m;
                k = c > m ? 2 : k, m = c > m ? c : m;
                k = e > m ? 3 : k;
                const float g = d[oh * OW + ow];
                /* x + (−0) is x exactly (signed zeros included): the other three stay as they are */
                d0[2 * ow] += k == 0 ? g : -0.0f;
                d0[2 * ow + 1] += k == 1 ? g : -0.0f;
                d1[2 * ow] += k == 2 ? g : -0.0f;
                d1[2 * ow + 1] += k == 3 ? g : -0.0f;
            }
        }
    }
}

void drift_avgpool_forward(float *out, const float *inp, int B, int C, int HW)
{
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * HW > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *src = inp + pl * HW;
        float sum = 0.0f;
        for (int i = 0; i < HW; i++) sum += src[i];
        out[pl] = sum / (float)HW;
    }
}

void drift_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW)
{
    const size_t planes = (size_t)B * C;
    #pragma omp parallel for schedule(static) if (planes * HW > 16384)
    for (size_t pl = 0; pl < planes; pl++) {
        float g = dout[pl] / (float)HW;
        float *dst = dinp + pl * HW;
        for (int i = 0; i < HW; i++) dst[i] += g;
    }
}
