/* drift/nn.h — neural-network layers as plain forward/backward function pairs.
 *
 * The llm.c style: a layer is two functions over explicit float32 arrays, no objects,
 * no graph. A model (drift/models.h) owns one flat parameter buffer, one flat gradient
 * buffer and one activation buffer sized for its largest batch, and calls these in order.
 *
 * Conventions shared by every layer:
 * - Arrays are float32, row-major, batch first: a (B, C) matrix is B rows of C values,
 *   an image batch is NCHW (B, C, H, W). B is the batch size.
 * - Weights follow PyTorch's layout, so checkpoints and the PyTorch peer line up:
 *   linear (OC, C), conv (OC, C, K, K).
 * - Every backward ACCUMULATES (+=) into its outputs: parameter gradients and the input
 *   gradient `dinp` alike. The caller zeroes gradient buffers before a backward pass.
 *   Accumulation makes fan-out (one tensor read by several layers) need no extra code.
 *   A NULL `dinp` skips the input gradient (e.g. for the network's own input).
 * - Layers cannot fail: shapes are the caller's contract, validated once where the model
 *   is built (drift_conv2d_shape_init validates conv geometry). That is why these return
 *   void, unlike the rest of the library, and why they never allocate: scratch space is
 *   passed in (conv). Inputs must be finite; nothing here checks per element.
 * - Parallelism: OpenMP over batch/channels/elements; GEMMs via cblas_sgemm. A GEMM
 *   issued inside one of our parallel regions runs on one thread (OpenBLAS, OpenMP flavour).
 *   For a fixed thread count every result is bitwise reproducible.
 */
#ifndef DRIFT_NN_H
#define DRIFT_NN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear: out (B, OC) = inp (B, C) · weightᵀ + bias; weight (OC, C), bias (OC) or NULL ---- */
void drift_linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, int C, int OC);
/* dinp (B, C) += dout · weight; dweight (OC, C) += doutᵀ · inp; dbias (OC) += Σ_rows dout.
 * dbias may be NULL (no bias), dinp may be NULL. */
void drift_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B, int C, int OC);

/* ---- conv2d, NCHW, square kernel, via im2col + SGEMM ----
 * inp (B, C, H, W) -> out (B, OC, OH, OW), weight (OC, C, K, K), bias (OC) or NULL,
 * OH = (H + 2·pad − K) / stride + 1 (likewise OW). Zero padding. */
typedef struct drift_conv2d_shape {
    int C, H, W;       /* input channels, height, width */
    int OC, K;         /* output channels, kernel size (K × K) */
    int stride, pad;
    int OH, OW;        /* output height, width: filled by drift_conv2d_shape_init */
    int group;         /* samples per GEMM (small images are batched so the GEMM is wide) */
    int direct;        /* few output channels, stride 1: direct loops instead of im2col */
} drift_conv2d_shape;

/* Validates the geometry (positive sizes, kernel fits the padded input) and fills OH, OW,
 * group, direct. Returns 0 or DRIFT_EINVAL naming the bad value. */
int drift_conv2d_shape_init(drift_conv2d_shape *s, int C, int H, int W, int OC, int K, int stride,
                            int pad);
/* Scratch floats the conv needs when run on `nthreads` threads (im2col columns, a
 * per-thread weight-gradient accumulator). Forward and backward use fewer threads if
 * given less. */
size_t drift_conv2d_work_floats(const drift_conv2d_shape *s, int nthreads);
void drift_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                          int B, const drift_conv2d_shape *s, float *work, size_t work_floats);
/* dweight NULL: the input gradient alone (a frozen layer), no weight-gradient GEMM; dbias and
 * inp are then not used (may be NULL). */
void drift_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                           const float *inp, const float *weight, int B,
                           const drift_conv2d_shape *s, float *work, size_t work_floats);

/* ---- nearest-neighbour upsampling ×2: inp (B, C, H, W) -> out (B, C, 2H, 2W) ---- */
void drift_upsample2x_forward(float *out, const float *inp, int B, int C, int H, int W);
void drift_upsample2x_backward(float *dinp, const float *dout, int B, int C, int H, int W);

/* ---- 2×2 max pooling, stride 2: inp (B, C, H, W) -> out (B, C, H/2, W/2) (floor) ----
 * The backward recomputes the arg-max from inp (first maximum wins on ties). */
void drift_maxpool2x2_forward(float *out, const float *inp, int B, int C, int H, int W);
void drift_maxpool2x2_backward(float *dinp, const float *dout, const float *inp, int B, int C,
                               int H, int W);

/* ---- global average pooling: inp (B, C, HW) -> out (B, C) ---- */
void drift_avgpool_forward(float *out, const float *inp, int B, int C, int HW);
void drift_avgpool_backward(float *dinp, const float *dout, int B, int C, int HW);

/* ---- normalization. Variance is the biased (1/n) one, as in PyTorch; eps below. ---- */
#define DRIFT_NORM_EPS 1e-5f

/* Group norm over (C/G channels × HW) per sample and group, then per-channel affine.
 * inp (B, C, HW); gamma, beta (C); mean, rstd (B, G) are written for the backward.
 * The backward takes dgamma = dbeta = NULL for the input gradient alone (a frozen layer). */
void drift_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *gamma, const float *beta, int B, int C, int HW, int G);
void drift_groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const float *inp, const float *mean, const float *rstd,
                              const float *gamma, int B, int C, int HW, int G);

/* Layer norm over the C features of each row: inp (B, C); gamma, beta (C); mean, rstd (B). */
void drift_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *gamma, const float *beta, int B, int C);
void drift_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const float *inp, const float *mean, const float *rstd,
                              const float *gamma, int B, int C);

/* ---- adaptive modulation (FiLM / adaLN): out = inp · (1 + scale) + shift ----
 * inp (B, C, HW) (HW = 1 for vectors); mod (B, 2C) holds scale in [0, C) and shift in
 * [C, 2C) of each row. mod comes from a linear layer on the conditioning vector; a
 * zero-initialized linear makes the modulation start as the identity. */
void drift_film_forward(float *out, const float *inp, const float *mod, int B, int C, int HW);
void drift_film_backward(float *dinp, float *dmod, const float *dout, const float *inp,
                         const float *mod, int B, int C, int HW);

/* ---- elementwise activations over n values ----
 * SiLU x·σ(x); ReLU max(x, 0) (gradient 0 at 0); GELU in the tanh approximation
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), as PyTorch's approximate='tanh'. */
void drift_silu_forward(float *out, const float *inp, size_t n);
void drift_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void drift_relu_forward(float *out, const float *inp, size_t n);
void drift_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void drift_gelu_forward(float *out, const float *inp, size_t n);
void drift_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* tanh: outputs in (−1, 1). The backward needs only the forward's output. */
void drift_tanh_forward(float *out, const float *inp, size_t n);
void drift_tanh_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- embedding: out (B, D) = table[idx[b]]; table (V, D); every idx in [0, V) ---- */
void drift_embedding_forward(float *out, const int *idx, const float *table, int B, int D);
void drift_embedding_backward(float *dtable, const float *dout, const int *idx, int B, int D);

/* ---- sinusoidal features of a scalar (e.g. log α): out (B, 2F) ----
 * out[b, k] = sin(f_k·x[b]), out[b, F + k] = cos(f_k·x[b]), with frequencies
 * f_k = max_freq^(k/(F−1)) spaced geometrically from 1 to max_freq (f_0 = 1 when F = 1).
 * No parameters; a small MLP on top learns what to do with them. */
void drift_sinusoidal_forward(float *out, const float *x, int B, int F, float max_freq);
void drift_sinusoidal_backward(float *dx, const float *dout, const float *x, int B, int F,
                               float max_freq);

/* ---- softmax cross-entropy over K classes, mean over the batch ----
 * logits (B, K), labels in [0, K). probs (B, K) is written for the backward; the mean
 * loss (float64, computed stably with the row maximum subtracted) goes to *mean_loss. */
void drift_softmax_xent_forward(float *probs, double *mean_loss, const float *logits,
                                const int *labels, int B, int K);
/* dlogits += dloss · (probs − onehot(labels)) / B: the gradient of dloss · mean loss. */
void drift_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, int B,
                                 int K, float dloss);

/* ---- transformer layers (transformer.c, attention.c) ----
 * Token tensors are (B, T, C): T tokens of C features per sample, feature-contiguous (the
 * transpose of the NCHW image layout). Per-sample modulation vectors (shift, scale, gate)
 * are rows of a (B, ·) array read with a row stride `ld`, so one linear layer's output
 * (B, 6C) holds all six of a block's vectors side by side. */
#define DRIFT_RMS_EPS 1e-6f

/* RMS norm over the C features of each of N rows: out = inp · rstd · weight, rstd =
 * 1 / sqrt(mean(inp²) + DRIFT_RMS_EPS) written per row (N) for the backward; weight (C)
 * or NULL (no affine; dweight must then be NULL too). */
void drift_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                           int C);
void drift_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                            const float *rstd, const float *weight, int N, int C);

/* adaLN: RMS norm without affine, then the per-sample modulation of DiT:
 *     out[b, t, :] = rmsnorm(inp[b, t, :]) · (1 + scale[b, :]) + shift[b, :]
 * inp, out (B, T, C); shift, scale rows of stride ld (e.g. pointers into a (B, 6C) array);
 * rstd (B·T). The backward recomputes the normalized input from inp and rstd, so only rstd
 * is kept. dshift and dscale share the stride ld. */
void drift_adaln_forward(float *out, float *rstd, const float *inp, const float *shift,
                         const float *scale, int ld, int B, int T, int C);
void drift_adaln_backward(float *dinp, float *dshift, float *dscale, const float *dout,
                          const float *inp, const float *rstd, const float *scale, int ld, int B,
                          int T, int C);

/* Gated residual (adaLN-zero): out[b, t, :] = x[b, t, :] + gate[b, :] ⊙ y[b, t, :],
 * gate rows of stride ld. A zero gate (its projection initialized to zero) makes the block
 * start as the identity. dx and dy may be NULL. */
void drift_gated_residual_forward(float *out, const float *x, const float *y, const float *gate,
                                  int ld, int B, int T, int C);
void drift_gated_residual_backward(float *dx, float *dy, float *dgate, const float *dout,
                                   const float *y, const float *gate, int ld, int B, int T, int C);

/* SwiGLU gate over n values: out = SiLU(a) ⊙ g (a, g: the two linear projections). */
void drift_swiglu_forward(float *out, const float *a, const float *g, size_t n);
void drift_swiglu_backward(float *da, float *dg, const float *dout, const float *a, const float *g,
                           size_t n);

/* Rotary position embedding, interleaved pairs: for every token t, head h and pair k < HD/2,
 *     (x[2k], x[2k+1]) -> (x[2k]·cos − x[2k+1]·sin, x[2k]·sin + x[2k+1]·cos),
 * cos = cosv[t·HD/2 + k], sin = sinv[t·HD/2 + k]. inp, out (B, T, NH·HD); out may be inp.
 * The backward rotates by the negative angle (accumulating into dinp). */
void drift_rope_forward(float *out, const float *inp, const float *cosv, const float *sinv, int B,
                        int T, int NH, int HD);
void drift_rope_backward(float *dinp, const float *dout, const float *cosv, const float *sinv,
                         int B, int T, int NH, int HD);
/* The 2-D table: the first HD/4 pairs turn with the token's row, the last HD/4 with its
 * column, pair k at frequency base^(−k/(HD/4)): angle = pos · base^(−4k/HD). HD must be a
 * multiple of 4. row, col (T) are positions (any integers; 0 = no rotation). */
void drift_rope2d_table(float *cosv, float *sinv, const int *row, const int *col, int T, int HD,
                        float base);

/* Patches: images (B, C, H, W) <-> tokens. Token i·(W/p) + j of a sample holds the p×p patch
 * at (i·p, j·p), its C·p·p values ordered (channel, row, column) — PyTorch's
 * x.view(B, C, H/p, p, W/p, p).permute(0, 2, 4, 1, 3, 5). H and W multiples of p. The token
 * array holds S tokens per sample and the patch tokens are rows [t0, t0 + (H/p)(W/p)) of each
 * (S = (H/p)(W/p), t0 = 0 for a plain patch array). */
void drift_patchify_forward(float *tok, const float *img, int B, int C, int H, int W, int p, int S,
                            int t0);
void drift_patchify_backward(float *dimg, const float *dtok, int B, int C, int H, int W, int p,
                             int S, int t0);
void drift_unpatchify_forward(float *img, const float *tok, int B, int C, int H, int W, int p,
                              int S, int t0);
void drift_unpatchify_backward(float *dtok, const float *dimg, int B, int C, int H, int W, int p,
                               int S, int t0);

/* Multi-head self-attention (no masking), softmax(q·kᵀ / sqrt(HD)) · v per sample and head.
 * Element (b, t, h, d) of q is q[(b·T + t)·ldq + h·HD + d] (likewise k, v, out with their row
 * strides ldk, ldv, ldo): heads are column blocks of the projections, used in place. Every
 * product is one SGEMM per (sample, head); (sample, head) pairs run in parallel, each thread
 * holding one T×T matrix (two in the backward: P and dP). Nothing of size T×T is kept: the
 * forward stores the log-sum-exp of each score row, lse (B, NH, T), and the backward
 * recomputes the probabilities from it (as FlashAttention does).
 * work: drift_attention_work_floats(T, nthreads) floats; fewer threads run if given less. */
size_t drift_attention_work_floats(int T, int nthreads);
void drift_attention_forward(float *out, float *lse, const float *q, const float *k,
                             const float *v, int B, int T, int NH, int HD, int ldq, int ldk,
                             int ldv, int ldo, float *work, size_t work_floats);
/* dq, dk, dv (+=) with the strides of q, k, v. out is the forward's output. */
void drift_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                              const float *k, const float *v, const float *out, const float *lse,
                              int B, int T, int NH, int HD, int ldq, int ldk, int ldv, int ldo,
                              float *work, size_t work_floats);

#ifdef __cplusplus
}
#endif
#endif
