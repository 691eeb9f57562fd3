/* conv.c — 2-D convolution (im2col + SGEMM), upsampling and pooling, all NCHW.
 *
 * The convolution unrolls each input image into a column matrix (C·K·K, OH·OW) so that
 * the convolution is one GEMM with the (OC, C·K·K) weight. Small images (7×7, 14×14)
 * give thin GEMMs, so `group` samples are unrolled side by side into one wider column
 * matrix. Chunks of `group` samples are spread over OpenMP threads, each with its own
 * slice of the scratch buffer; the weight gradient is accumulated per thread and summed
 * in thread order afterwards, so results are reproducible for a fixed thread count.
 */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "drift/error.h"
#include "drift/nn.h"

/* Columns a GEMM should have at least for OpenBLAS to run near its peak. */
enum { CONV_MIN_GEMM_COLS = 512 };

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
    return DRIFT_OK;
}

/* Per-thread scratch: columns (CKK × group·OHW), a gathered output/gradient block
 * (OC × group·OHW), a weight-gradient accumulator (OC × CKK) and a bias one (OC). */
static size_t conv_thread_floats(const drift_conv2d_shape *s)
{
    size_t ckk = (size_t)s->C * s->K * s->K, cols = (size_t)s->group * s->OH * s->OW;
    size_t n = ckk * cols + (size_t)s->OC * cols + (size_t)s->OC * ckk + (size_t)s->OC;
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

/* Valid output range [lo, hi) along one axis for kernel offset k: the outputs whose input
 * coordinate o·stride − pad + k lies inside [0, n). */
static void valid_range(int n, int out_n, int stride, int pad, int k, int *lo, int *hi)
{
    int a = pad - k; /* need o·stride >= a */
    int l = a <= 0 ? 0 : (a + stride - 1) / stride;
    int b = n + pad - k; /* need o·stride < b */
    int h = b <= 0 ? 0 : (b + stride - 1) / stride;
    if (h > out_n) h = out_n;
    if (l > h) l = h;
    *lo = l, *hi = h;
}

/* One image (C, H, W) -> columns: row (c·K + kh)·K + kw, column oh·OW + ow, row stride ld. */
static void im2col(float *col, size_t ld, const float *img, const drift_conv2d_shape *s)
{
    const int K = s->K, S = s->stride, P = s->pad, H = s->H, W = s->W, OH = s->OH, OW = s->OW;
    for (int c = 0; c < s->C; c++) {
        const float *plane = img + (size_t)c * H * W;
        for (int kh = 0; kh < K; kh++) {
            int oh_lo, oh_hi;
            valid_range(H, OH, S, P, kh, &oh_lo, &oh_hi);
            for (int kw = 0; kw < K; kw++) {
                int ow_lo, ow_hi;
                valid_range(W, OW, S, P, kw, &ow_lo, &ow_hi);
                float *dst = col + ((size_t)(c * K + kh) * K + kw) * ld;
                if (oh_lo > 0) memset(dst, 0, (size_t)oh_lo * OW * sizeof(float));
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    float *d = dst + (size_t)oh * OW;
                    const float *srow = plane + (size_t)(oh * S - P + kh) * W;
                    for (int ow = 0; ow < ow_lo; ow++) d[ow] = 0.0f;
                    if (ow_lo >= ow_hi) {
                        /* the whole row is padding */
                    } else if (S == 1) {
                        memcpy(d + ow_lo, srow + (ow_lo + kw - P),
                               (size_t)(ow_hi - ow_lo) * sizeof(float));
                    } else {
                        for (int ow = ow_lo; ow < ow_hi; ow++) d[ow] = srow[ow * S + kw - P];
                    }
                    for (int ow = ow_hi; ow < OW; ow++) d[ow] = 0.0f;
                }
                if (oh_hi < OH) memset(dst + (size_t)oh_hi * OW, 0, (size_t)(OH - oh_hi) * OW * sizeof(float));
            }
        }
    }
}

/* The adjoint of im2col: scatter-add columns back into one image gradient (C, H, W). */
static void col2im_add(float *img, const float *col, size_t ld, const drift_conv2d_shape *s)
{
    const int K = s->K, S = s->stride, P = s->pad, H = s->H, W = s->W, OH = s->OH, OW = s->OW;
    for (int c = 0; c < s->C; c++) {
        float *plane = img + (size_t)c * H * W;
        for (int kh = 0; kh < K; kh++) {
            int oh_lo, oh_hi;
            valid_range(H, OH, S, P, kh, &oh_lo, &oh_hi);
            for (int kw = 0; kw < K; kw++) {
                int ow_lo, ow_hi;
                valid_range(W, OW, S, P, kw, &ow_lo, &ow_hi);
                if (ow_lo >= ow_hi) continue;
                const float *src = col + ((size_t)(c * K + kh) * K + kw) * ld;
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    const float *d = src + (size_t)oh * OW;
                    float *prow = plane + (size_t)(oh * S - P + kh) * W + (kw - P + ow_lo * S);
                    for (int ow = ow_lo; ow < ow_hi; ow++) prow[(ow - ow_lo) * S] += d[ow];
                }
            }
        }
    }
}

void drift_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, const drift_conv2d_shape *s, float *work, size_t work_floats)
{
    const int OC = s->OC, G = s->group, ckk = s->C * s->K * s->K;
    const size_t ohw = (size_t)s->OH * s->OW, in_sz = (size_t)s->C * s->H * s->W;
    const size_t per = conv_thread_floats(s);
    const int nchunks = (B + G - 1) / G;
    #pragma omp parallel for schedule(static) num_threads(conv_threads(s, work_floats))
    for (int chunk = 0; chunk < nchunks; chunk++) {
        float *col = work + (size_t)omp_get_thread_num() * per;
        float *blk = col + (size_t)ckk * G * ohw;
        int b0 = chunk * G, g = B - b0 < G ? B - b0 : G;
        size_t ld = (size_t)g * ohw;
        for (int j = 0; j < g; j++) im2col(col + j * ohw, ld, inp + (size_t)(b0 + j) * in_sz, s);
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

void drift_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B,
                           const drift_conv2d_shape *s, float *work, size_t work_floats)
{
    const int OC = s->OC, G = s->group, ckk = s->C * s->K * s->K;
    const size_t ohw = (size_t)s->OH * s->OW, in_sz = (size_t)s->C * s->H * s->W;
    const size_t per = conv_thread_floats(s);
    const size_t cols = (size_t)G * ohw;
    const int nt = conv_threads(s, work_floats);
    const int nchunks = (B + G - 1) / G;
    /* zero every thread's accumulators up front: a thread given no chunk adds nothing */
    for (int t = 0; t < nt; t++) {
        float *acc = work + (size_t)t * per + (size_t)ckk * cols + (size_t)OC * cols;
        memset(acc, 0, ((size_t)OC * ckk + OC) * sizeof(float));
    }
    #pragma omp parallel for schedule(static) num_threads(nt)
    for (int chunk = 0; chunk < nchunks; chunk++) {
        float *col = work + (size_t)omp_get_thread_num() * per;
        float *blk = col + (size_t)ckk * cols;
        float *dw = blk + (size_t)OC * cols, *db = dw + (size_t)OC * ckk;
        int b0 = chunk * G, g = B - b0 < G ? B - b0 : G;
        size_t ld = (size_t)g * ohw;
        for (int j = 0; j < g; j++) im2col(col + j * ohw, ld, inp + (size_t)(b0 + j) * in_sz, s);
        const float *dblk; /* the output gradient of the chunk as an (OC, g·OHW) matrix */
        if (g == 1) {
            dblk = dout + (size_t)b0 * OC * ohw;
        } else {
            for (int j = 0; j < g; j++)
                for (int oc = 0; oc < OC; oc++)
                    memcpy(blk + (size_t)oc * ld + j * ohw, dout + ((size_t)(b0 + j) * OC + oc) * ohw,
                           ohw * sizeof(float));
            dblk = blk;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, ckk, (int)ld, 1.0f, dblk, (int)ld,
                    col, (int)ld, 1.0f, dw, ckk);
        for (int oc = 0; oc < OC; oc++) {
            float sum = 0.0f;
            for (size_t p = 0; p < ld; p++) sum += dblk[oc * ld + p];
            db[oc] += sum;
        }
        if (dinp) { /* column gradient Wᵀ · dout overwrites the columns, then folds back */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)ld, OC, 1.0f, weight,
                        ckk, dblk, (int)ld, 0.0f, col, (int)ld);
            for (int j = 0; j < g; j++)
                col2im_add(dinp + (size_t)(b0 + j) * in_sz, col + j * ohw, ld, s);
        }
    }
    /* sum the per-thread accumulators in thread order */
    const size_t nw = (size_t)OC * ckk;
    #pragma omp parallel for schedule(static) if (nw > 16384)
    for (size_t i = 0; i < nw; i++) {
        float sum = 0.0f;
        for (int t = 0; t < nt; t++) sum += work[(size_t)t * per + (size_t)(ckk + OC) * cols + i];
        dweight[i] += sum;
    }
    if (dbias)
        for (int oc = 0; oc < OC; oc++) {
            float sum = 0.0f;
            for (int t = 0; t < nt; t++)
                sum += work[(size_t)t * per + (size_t)(ckk + OC) * cols + nw + oc];
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
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                size_t base = (size_t)(2 * oh) * W + 2 * ow, arg = base;
                const size_t cand[3] = {base + 1, base + W, base + W + 1};
                for (int k = 0; k < 3; k++)
                    if (src[cand[k]] > src[arg]) arg = cand[k];
                dsrc[arg] += d[oh * OW + ow];
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
