/* Tests for the layers of drift/nn.h.
 *
 * Every layer is checked against a plain float64 reference forward written here (naive
 * loops, independent of the library code): the float32 forward must agree with it, and
 * the analytic float32 backward must agree with central finite differences of the float64
 * reference, for every differentiable input (data and parameters). The gradient buffers
 * are pre-filled with random values before the backward, so a backward that overwrites
 * instead of accumulating fails too. A deliberately corrupted backward must be caught,
 * which shows the checker can fail.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/nn.h"
#include "drift/rng.h"
#include "test.h"

#include "layer_check.h"

/* ---------------------------------------------------------------------------------- */
/* linear: p = {B, C, OC, has_bias}; inputs x, W, (b)                                    */

static void linear_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], OC = lc->p[2];
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            double s = lc->p[3] ? in[2][o] : 0.0;
            for (int c = 0; c < C; c++) s += in[0][b * C + c] * in[1][o * C + c];
            out[b * OC + o] = s;
        }
}
static void linear_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_linear_forward(out, in[0], in[1], lc->p[3] ? in[2] : NULL, lc->p[0], lc->p[1], lc->p[2]);
}
static void linear_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_linear_backward(din[0], din[1], lc->p[3] ? din[2] : NULL, dout, in[0], in[1], lc->p[0],
                          lc->p[1], lc->p[2]);
}

static layer_case linear_case(int B, int C, int OC, int has_bias)
{
    layer_case lc = {.name = "linear", .n_in = has_bias ? 3 : 2, .out_len = (size_t)B * OC,
                     .p = {B, C, OC, has_bias}, .ref = linear_ref, .fwd = linear_fwd,
                     .bwd = linear_bwd};
    lc.len[0] = (size_t)B * C, lc.len[1] = (size_t)OC * C, lc.len[2] = OC;
    return lc;
}

static void test_linear(void)
{
    layer_case a = linear_case(5, 7, 4, 1), b = linear_case(3, 9, 6, 0), c = linear_case(130, 3, 70, 1);
    gradcheck(&a, 1, 1);
    gradcheck(&b, 2, 1);
    gradcheck(&c, 3, 1); /* large enough for the threaded bias sum */
}

/* ---------------------------------------------------------------------------------- */
/* conv2d: p = {B, C, H, W, OC, K, stride, pad, has_bias, nthreads_work}; x, W, (b)     */

static void conv_geom(const layer_case *lc, int *OH, int *OW)
{
    *OH = (lc->p[2] + 2 * lc->p[7] - lc->p[5]) / lc->p[6] + 1;
    *OW = (lc->p[3] + 2 * lc->p[7] - lc->p[5]) / lc->p[6] + 1;
}
static void conv_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], H = lc->p[2], W = lc->p[3], OC = lc->p[4], K = lc->p[5];
    int S = lc->p[6], P = lc->p[7], OH, OW;
    conv_geom(lc, &OH, &OW);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = lc->p[8] ? in[2][o] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * S - P + kh, iw = ow * S - P + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                s += in[0][((b * C + c) * H + ih) * W + iw] *
                                     in[1][((o * C + c) * K + kh) * K + kw];
                            }
                    out[((b * OC + o) * OH + oh) * OW + ow] = s;
                }
}
static float *conv_work(const layer_case *lc, drift_conv2d_shape *s, size_t *nwork)
{
    int st = drift_conv2d_shape_init(s, lc->p[1], lc->p[2], lc->p[3], lc->p[4], lc->p[5], lc->p[6],
                                     lc->p[7]);
    *nwork = 0;
    if (st != 0) return NULL;
    *nwork = drift_conv2d_work_floats(s, lc->p[9]);
    return drift_alloc(*nwork, sizeof(float));
}
static void conv_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_conv2d_shape s;
    size_t nw;
    float *work = conv_work(lc, &s, &nw);
    drift_conv2d_forward(out, in[0], in[1], lc->p[8] ? in[2] : NULL, lc->p[0], &s, work, nw);
    drift_free(work);
}
static void conv_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_conv2d_shape s;
    size_t nw;
    float *work = conv_work(lc, &s, &nw);
    drift_conv2d_backward(din[0], din[1], lc->p[8] ? din[2] : NULL, dout, in[0], in[1], lc->p[0],
                          &s, work, nw);
    drift_free(work);
}
static layer_case conv_case(int B, int C, int H, int W, int OC, int K, int S, int P, int bias, int nt)
{
    layer_case lc = {.name = "conv2d", .n_in = bias ? 3 : 2, .p = {B, C, H, W, OC, K, S, P, bias, nt},
                     .ref = conv_ref, .fwd = conv_fwd, .bwd = conv_bwd};
    int OH, OW;
    conv_geom(&lc, &OH, &OW);
    lc.len[0] = (size_t)B * C * H * W, lc.len[1] = (size_t)OC * C * K * K, lc.len[2] = OC;
    lc.out_len = (size_t)B * OC * OH * OW;
    return lc;
}

static void test_conv2d(void)
{
    /* OC <= 4 with stride 1 runs the direct loops, everything else im2col + SGEMM */
    layer_case cases[] = {
        conv_case(3, 3, 7, 6, 6, 3, 1, 1, 1, 2),   /* GEMM: 3×3 same padding, samples grouped */
        conv_case(3, 3, 8, 7, 5, 3, 2, 1, 1, 2),   /* GEMM: stride 2, odd width */
        conv_case(2, 2, 6, 6, 3, 3, 2, 0, 0, 2),   /* GEMM: stride 2, no padding, no bias */
        conv_case(2, 3, 5, 5, 6, 1, 1, 0, 1, 2),   /* GEMM: 1×1 */
        conv_case(2, 2, 24, 24, 5, 3, 1, 1, 1, 2), /* GEMM: one sample per GEMM (576 columns) */
        conv_case(5, 2, 24, 23, 6, 3, 1, 1, 1, 1), /* GEMM: scratch for one thread only */
        conv_case(2, 1, 4, 4, 6, 5, 1, 2, 1, 2),   /* GEMM: kernel larger than half the image */
        conv_case(3, 2, 7, 6, 4, 3, 1, 1, 1, 2),   /* direct: 3×3 same padding */
        conv_case(2, 3, 5, 5, 2, 1, 1, 0, 1, 2),   /* direct: 1×1 */
        conv_case(5, 4, 9, 8, 1, 3, 1, 0, 0, 1),   /* direct: no padding, one output channel */
        conv_case(2, 1, 4, 4, 2, 5, 1, 2, 1, 2),   /* direct: kernel larger than half the image */
        conv_case(3, 3, 6, 7, 3, 5, 1, 1, 1, 2),   /* direct: padding smaller than K/2 */
    };
    int direct = 0, gemm = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        drift_conv2d_shape sh;
        const int *p = cases[i].p;
        CHECK_OK(drift_conv2d_shape_init(&sh, p[1], p[2], p[3], p[4], p[5], p[6], p[7]));
        direct += sh.direct, gemm += !sh.direct;
        gradcheck(&cases[i], 10 + i, 1);
    }
    CHECK(direct == 5 && gemm == 7);
}

/* The same conv on one thread's scratch and on four threads' gives the same numbers. */
static void conv_threads_agree(int OC, int stride)
{
    enum { B = 23, C = 4, H = 14 };
    drift_conv2d_shape s;
    CHECK_OK(drift_conv2d_shape_init(&s, C, H, H, OC, 3, stride, 1));
    size_t nin = (size_t)B * C * H * H, nw = (size_t)OC * C * 9;
    size_t nout = (size_t)B * OC * s.OH * s.OW;
    float *x = drift_alloc(nin, 4), *w = drift_alloc(nw, 4), *bias = drift_alloc(OC, 4);
    float *y1 = drift_alloc(nout, 4), *y2 = drift_alloc(nout, 4);
    float *dx1 = drift_alloc(nin, 4), *dx2 = drift_alloc(nin, 4);
    float *dw1 = drift_alloc(nw, 4), *dw2 = drift_alloc(nw, 4), *db1 = drift_alloc(OC, 4),
          *db2 = drift_alloc(OC, 4);
    drift_rng r;
    drift_rng_init(&r, 5, 0);
    drift_rng_fill_normal(&r, x, nin, 0, 1);
    drift_rng_fill_normal(&r, w, nw, 0, 1);
    drift_rng_fill_normal(&r, bias, OC, 0, 1);
    size_t n1 = drift_conv2d_work_floats(&s, 1), n4 = drift_conv2d_work_floats(&s, 4);
    CHECK(n4 == 4 * n1);
    float *work = drift_alloc(n4, 4);
    drift_conv2d_forward(y1, x, w, bias, B, &s, work, n1);
    drift_conv2d_forward(y2, x, w, bias, B, &s, work, n4);
    drift_conv2d_backward(dx1, dw1, db1, y1, x, w, B, &s, work, n1);
    drift_conv2d_backward(dx2, dw2, db2, y1, x, w, B, &s, work, n4);
    double e = 0, ew = 0;
    for (size_t i = 0; i < nout; i++) e = fmax(e, fabs(y1[i] - y2[i]));
    for (size_t i = 0; i < nin; i++) e = fmax(e, fabs(dx1[i] - dx2[i]));
    for (size_t i = 0; i < nw; i++) ew = fmax(ew, fabs(dw1[i] - dw2[i]) / (1 + fabs(dw1[i])));
    CHECK(e == 0.0);  /* per-sample work is identical whatever the split */
    CHECK(ew < 1e-5); /* the weight gradient is summed in a different order */
    drift_free(x), drift_free(w), drift_free(bias), drift_free(y1), drift_free(y2);
    drift_free(dx1), drift_free(dx2), drift_free(dw1), drift_free(dw2), drift_free(db1);
    drift_free(db2), drift_free(work);
}

static void test_conv2d_shape_errors_and_threads(void)
{
    drift_conv2d_shape s;
    CHECK(drift_conv2d_shape_init(&s, 0, 5, 5, 2, 3, 1, 1) == DRIFT_EINVAL);
    CHECK(drift_conv2d_shape_init(&s, 1, 2, 2, 2, 5, 1, 1) == DRIFT_EINVAL);
    CHECK(drift_conv2d_shape_init(&s, 1, 5, 5, 2, 3, 0, 1) == DRIFT_EINVAL);
    CHECK(strstr(drift_last_error(), "stride") != NULL);
    CHECK_OK(drift_conv2d_shape_init(&s, 4, 14, 14, 8, 3, 2, 1));
    CHECK(s.OH == 7 && s.OW == 7 && s.group * 49 >= 512 && !s.direct);
    conv_threads_agree(8, 2); /* GEMM path */
    conv_threads_agree(2, 1); /* direct path */
}

/* ---------------------------------------------------------------------------------- */
/* upsample, max pool, average pool: p = {B, C, H, W}; one input                        */

static void up_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], H = lc->p[2], W = lc->p[3];
    for (int pl = 0; pl < B * C; pl++)
        for (int h = 0; h < 2 * H; h++)
            for (int w = 0; w < 2 * W; w++)
                out[(pl * 2 * H + h) * 2 * W + w] = in[0][(pl * H + h / 2) * W + w / 2];
}
static void up_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_upsample2x_forward(out, in[0], lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void up_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_upsample2x_backward(din[0], dout, lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void maxpool_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], H = lc->p[2], W = lc->p[3], OH = H / 2, OW = W / 2;
    for (int pl = 0; pl < B * C; pl++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double m = -INFINITY;
                for (int dh = 0; dh < 2; dh++)
                    for (int dw = 0; dw < 2; dw++)
                        m = fmax(m, in[0][(pl * H + 2 * oh + dh) * W + 2 * ow + dw]);
                out[(pl * OH + oh) * OW + ow] = m;
            }
}
static void maxpool_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_maxpool2x2_forward(out, in[0], lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void maxpool_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_maxpool2x2_backward(din[0], dout, in[0], lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void avg_ref(const layer_case *lc, double *const *in, double *out)
{
    int BC = lc->p[0] * lc->p[1], HW = lc->p[2] * lc->p[3];
    for (int pl = 0; pl < BC; pl++) {
        double s = 0;
        for (int i = 0; i < HW; i++) s += in[0][pl * HW + i];
        out[pl] = s / HW;
    }
}
static void avg_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_avgpool_forward(out, in[0], lc->p[0], lc->p[1], lc->p[2] * lc->p[3]);
}
static void avg_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_avgpool_backward(din[0], dout, lc->p[0], lc->p[1], lc->p[2] * lc->p[3]);
}

static void test_resampling(void)
{
    int B = 2, C = 3, H = 5, W = 4;
    size_t n = (size_t)B * C * H * W;
    layer_case up = {.name = "upsample2x", .n_in = 1, .len = {n}, .out_len = 4 * n,
                     .p = {B, C, H, W}, .ref = up_ref, .fwd = up_fwd, .bwd = up_bwd};
    layer_case mp = {.name = "maxpool2x2", .n_in = 1, .len = {n}, .out_len = (size_t)B * C * 2 * 2,
                     .p = {B, C, H, W}, .ref = maxpool_ref, .fwd = maxpool_fwd, .bwd = maxpool_bwd};
    layer_case mp2 = {.name = "maxpool2x2 even", .n_in = 1, .len = {(size_t)B * C * 36},
                      .out_len = (size_t)B * C * 9, .p = {B, C, 6, 6}, .ref = maxpool_ref,
                      .fwd = maxpool_fwd, .bwd = maxpool_bwd};
    layer_case ap = {.name = "avgpool", .n_in = 1, .len = {n}, .out_len = (size_t)B * C,
                     .p = {B, C, H, W}, .ref = avg_ref, .fwd = avg_fwd, .bwd = avg_bwd};
    gradcheck(&up, 20, 1);
    gradcheck(&mp, 21, 1);
    gradcheck(&mp2, 22, 1);
    gradcheck(&ap, 23, 1);
}

/* ---------------------------------------------------------------------------------- */
/* group norm: p = {B, C, HW, G}; x, gamma, beta. layer norm: p = {B, C}                 */

static void gn_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], HW = lc->p[2], G = lc->p[3], cg = C / G, n = cg * HW;
    for (int b = 0; b < B; b++)
        for (int g = 0; g < G; g++) {
            const double *x = in[0] + (size_t)(b * C + g * cg) * HW;
            double mu = 0, var = 0;
            for (int i = 0; i < n; i++) mu += x[i];
            mu /= n;
            for (int i = 0; i < n; i++) var += (x[i] - mu) * (x[i] - mu);
            var /= n;
            for (int c = 0; c < cg; c++)
                for (int i = 0; i < HW; i++) {
                    int ch = g * cg + c;
                    out[(size_t)(b * C + ch) * HW + i] =
                        (x[c * HW + i] - mu) / sqrt(var + DRIFT_NORM_EPS) * in[1][ch] + in[2][ch];
                }
        }
}
static void gn_fwd(const layer_case *lc, float *const *in, float *out)
{
    float mean[256], rstd[256];
    drift_groupnorm_forward(out, mean, rstd, in[0], in[1], in[2], lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void gn_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    float mean[256], rstd[256];
    size_t n = (size_t)lc->p[0] * lc->p[1] * lc->p[2];
    float *tmp = drift_alloc(n, sizeof(float));
    drift_groupnorm_forward(tmp, mean, rstd, in[0], in[1], in[2], lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
    drift_groupnorm_backward(din[0], din[1], din[2], dout, in[0], mean, rstd, in[1], lc->p[0],
                             lc->p[1], lc->p[2], lc->p[3]);
    drift_free(tmp);
}
static void ln_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1];
    for (int b = 0; b < B; b++) {
        const double *x = in[0] + (size_t)b * C;
        double mu = 0, var = 0;
        for (int i = 0; i < C; i++) mu += x[i];
        mu /= C;
        for (int i = 0; i < C; i++) var += (x[i] - mu) * (x[i] - mu);
        var /= C;
        for (int i = 0; i < C; i++)
            out[(size_t)b * C + i] = (x[i] - mu) / sqrt(var + DRIFT_NORM_EPS) * in[1][i] + in[2][i];
    }
}
static void ln_fwd(const layer_case *lc, float *const *in, float *out)
{
    float mean[256], rstd[256];
    drift_layernorm_forward(out, mean, rstd, in[0], in[1], in[2], lc->p[0], lc->p[1]);
}
static void ln_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    float mean[256], rstd[256];
    float *tmp = drift_alloc((size_t)lc->p[0] * lc->p[1], sizeof(float));
    drift_layernorm_forward(tmp, mean, rstd, in[0], in[1], in[2], lc->p[0], lc->p[1]);
    drift_layernorm_backward(din[0], din[1], din[2], dout, in[0], mean, rstd, in[1], lc->p[0], lc->p[1]);
    drift_free(tmp);
}

static void test_norms(void)
{
    int B = 3, C = 6, HW = 10;
    layer_case gn = {.name = "groupnorm", .n_in = 3, .len = {(size_t)B * C * HW, C, C},
                     .out_len = (size_t)B * C * HW, .p = {B, C, HW, 3}, .ref = gn_ref,
                     .fwd = gn_fwd, .bwd = gn_bwd};
    layer_case gn1 = gn;
    gn1.name = "groupnorm G=1", gn1.p[3] = 1;
    layer_case gnc = gn;
    gnc.name = "groupnorm G=C", gnc.p[3] = C;
    /* big enough to run threaded: 40 samples × 8 channels × 64 pixels */
    layer_case gnt = {.name = "groupnorm threaded", .n_in = 3, .len = {40 * 8 * 64, 8, 8},
                      .out_len = 40 * 8 * 64, .p = {40, 8, 64, 4}, .ref = gn_ref, .fwd = gn_fwd,
                      .bwd = gn_bwd, .fd_entries = 60};
    layer_case ln = {.name = "layernorm", .n_in = 3, .len = {(size_t)4 * 9, 9, 9}, .out_len = 36,
                     .p = {4, 9}, .ref = ln_ref, .fwd = ln_fwd, .bwd = ln_bwd};
    layer_case lnt = {.name = "layernorm threaded", .n_in = 3, .len = {(size_t)200 * 100, 100, 100},
                      .out_len = 20000, .p = {200, 100}, .ref = ln_ref, .fwd = ln_fwd, .bwd = ln_bwd,
                      .fd_entries = 60};
    gradcheck(&gn, 30, 1);
    gradcheck(&gn1, 31, 1);
    gradcheck(&gnc, 32, 1);
    gradcheck(&gnt, 33, 1);
    gradcheck(&ln, 34, 1);
    gradcheck(&lnt, 35, 1);
}

/* ---------------------------------------------------------------------------------- */
/* FiLM: p = {B, C, HW}; x, mod                                                          */

static void film_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], C = lc->p[1], HW = lc->p[2];
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < HW; i++) {
                size_t k = (size_t)(b * C + c) * HW + i;
                out[k] = in[0][k] * (1.0 + in[1][b * 2 * C + c]) + in[1][b * 2 * C + C + c];
            }
}
static void film_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_film_forward(out, in[0], in[1], lc->p[0], lc->p[1], lc->p[2]);
}
static void film_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_film_backward(din[0], din[1], dout, in[0], in[1], lc->p[0], lc->p[1], lc->p[2]);
}

static void test_film(void)
{
    layer_case f = {.name = "film", .n_in = 2, .len = {3 * 4 * 5, 3 * 8}, .out_len = 60,
                    .p = {3, 4, 5}, .ref = film_ref, .fwd = film_fwd, .bwd = film_bwd};
    layer_case v = {.name = "film vectors", .n_in = 2, .len = {6 * 7, 6 * 14}, .out_len = 42,
                    .p = {6, 7, 1}, .ref = film_ref, .fwd = film_fwd, .bwd = film_bwd};
    gradcheck(&f, 40, 1);
    gradcheck(&v, 41, 1);

    /* a zero modulation is the identity, bit for bit */
    float x[12] = {1, -2, 3.5f, 0.25f, 9, -7, 1e-3f, 5, 6, -1, 2, 4}, mod[8] = {0}, y[12];
    drift_film_forward(y, x, mod, 2, 2, 3);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

/* ---------------------------------------------------------------------------------- */
/* elementwise activations: p = {n, kind}                                               */

enum { ACT_SILU, ACT_RELU, ACT_GELU, ACT_TANH };

static double act_ref1(int kind, double x)
{
    switch (kind) {
    case ACT_SILU: return x / (1.0 + exp(-x));
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_GELU: return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    default: return tanh(x);
    }
}
static void act_ref(const layer_case *lc, double *const *in, double *out)
{
    for (int i = 0; i < lc->p[0]; i++) out[i] = act_ref1(lc->p[1], in[0][i]);
}
static void act_fwd(const layer_case *lc, float *const *in, float *out)
{
    size_t n = (size_t)lc->p[0];
    switch (lc->p[1]) {
    case ACT_SILU: drift_silu_forward(out, in[0], n); break;
    case ACT_RELU: drift_relu_forward(out, in[0], n); break;
    case ACT_GELU: drift_gelu_forward(out, in[0], n); break;
    default: drift_tanh_forward(out, in[0], n);
    }
}
static void act_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    size_t n = (size_t)lc->p[0];
    float *y = drift_alloc(n, sizeof(float));
    switch (lc->p[1]) {
    case ACT_SILU: drift_silu_backward(din[0], dout, in[0], n); break;
    case ACT_RELU: drift_relu_backward(din[0], dout, in[0], n); break;
    case ACT_GELU: drift_gelu_backward(din[0], dout, in[0], n); break;
    default:
        drift_tanh_forward(y, in[0], n);
        drift_tanh_backward(din[0], dout, y, n);
    }
    drift_free(y);
}

static void test_activations(void)
{
    const char *names[] = {"silu", "relu", "gelu", "tanh"};
    for (int kind = 0; kind < 4; kind++) {
        /* small, then large enough to take the threaded path */
        int sizes[2] = {97, 40001};
        for (int s = 0; s < 2; s++) {
            layer_case a = {.name = names[kind], .n_in = 1, .len = {(size_t)sizes[s]},
                            .out_len = (size_t)sizes[s], .p = {sizes[s], kind}, .ref = act_ref,
                            .fwd = act_fwd, .bwd = act_bwd, .fd_entries = s ? 40 : 0};
            gradcheck(&a, 50 + kind * 2 + s, 1);
        }
    }
    /* the fast exp behind them: wide range, extreme inputs stay finite */
    float xs[] = {-200.f, -90.f, -30.f, -5.f, -1e-4f, 0.f, 1e-4f, 3.f, 20.f, 87.f, 200.f};
    float ys[11], yt[11];
    drift_silu_forward(ys, xs, 11);
    drift_tanh_forward(yt, xs, 11);
    int ok = 1;
    for (int i = 0; i < 11; i++) {
        ok &= isfinite(ys[i]) && isfinite(yt[i]);
        ok &= fabs(ys[i] - act_ref1(ACT_SILU, xs[i])) <= 1e-6 * (1 + fabs(xs[i]));
        ok &= fabs(yt[i] - tanh(xs[i])) <= 3e-7;
    }
    CHECK(ok);
    CHECK(yt[0] == -1.0f && yt[10] == 1.0f && fabsf(ys[0]) < 1e-30f);
}

/* ---------------------------------------------------------------------------------- */
/* embedding: p = {B, V, D}; table. sinusoidal: p = {B, F}, fp = max_freq; x            */

static void emb_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], D = lc->p[2];
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++) out[b * D + d] = in[0][lc->idx[b] * D + d];
}
static void emb_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_embedding_forward(out, lc->idx, in[0], lc->p[0], lc->p[2]);
}
static void emb_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_embedding_backward(din[0], dout, lc->idx, lc->p[0], lc->p[2]);
}
static void sin_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], F = lc->p[1];
    for (int b = 0; b < B; b++)
        for (int k = 0; k < F; k++) {
            double f = F == 1 ? 1.0 : pow(lc->fp, (double)k / (F - 1));
            out[b * 2 * F + k] = sin(f * in[0][b]);
            out[b * 2 * F + F + k] = cos(f * in[0][b]);
        }
}
static void sin_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_sinusoidal_forward(out, in[0], lc->p[0], lc->p[1], lc->fp);
}
static void sin_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_sinusoidal_backward(din[0], dout, in[0], lc->p[0], lc->p[1], lc->fp);
}

static void test_embeddings(void)
{
    static const int idx[7] = {2, 0, 4, 2, 2, 1, 4}; /* repeats: gradients must add up */
    layer_case e = {.name = "embedding", .n_in = 1, .len = {5 * 3}, .out_len = 7 * 3,
                    .p = {7, 5, 3}, .idx = idx, .ref = emb_ref, .fwd = emb_fwd, .bwd = emb_bwd};
    layer_case s = {.name = "sinusoidal", .n_in = 1, .len = {6}, .out_len = 6 * 8, .p = {6, 4},
                    .fp = 8.0f, .ref = sin_ref, .fwd = sin_fwd, .bwd = sin_bwd};
    layer_case s1 = {.name = "sinusoidal F=1", .n_in = 1, .len = {3}, .out_len = 3 * 2, .p = {3, 1},
                     .fp = 8.0f, .ref = sin_ref, .fwd = sin_fwd, .bwd = sin_bwd};
    gradcheck(&e, 60, 1);
    gradcheck(&s, 61, 1);
    gradcheck(&s1, 62, 1);
}

/* ---------------------------------------------------------------------------------- */
/* softmax cross-entropy: p = {B, K}; logits -> one number (the mean loss)               */

static void xent_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], K = lc->p[1];
    double total = 0;
    for (int b = 0; b < B; b++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += exp(in[0][b * K + k]);
        total += log(s) - in[0][b * K + lc->idx[b]];
    }
    out[0] = total / B;
}
static void xent_fwd(const layer_case *lc, float *const *in, float *out)
{
    float probs[64];
    double loss;
    drift_softmax_xent_forward(probs, &loss, in[0], lc->idx, lc->p[0], lc->p[1]);
    out[0] = (float)loss;
}
static void xent_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    float probs[64];
    double loss;
    drift_softmax_xent_forward(probs, &loss, in[0], lc->idx, lc->p[0], lc->p[1]);
    drift_softmax_xent_backward(din[0], probs, lc->idx, lc->p[0], lc->p[1], dout[0]);
}

static void test_softmax_xent(void)
{
    static const int labels[5] = {1, 0, 3, 3, 2};
    layer_case x = {.name = "softmax_xent", .n_in = 1, .len = {5 * 4}, .out_len = 1, .p = {5, 4},
                    .idx = labels, .ref = xent_ref, .fwd = xent_fwd, .bwd = xent_bwd};
    gradcheck(&x, 70, 1);
    /* huge logits: stable, the right class with a margin of 1000 costs nothing */
    float z[2] = {1000.0f, 0.0f}, p[2];
    int y = 0;
    double loss;
    drift_softmax_xent_forward(p, &loss, z, &y, 1, 2);
    CHECK(loss == 0.0 && p[0] == 1.0f && p[1] == 0.0f);
    y = 1;
    drift_softmax_xent_forward(p, &loss, z, &y, 1, 2);
    CHECK_CLOSE(loss, 1000.0, 1e-9, 0);
}

/* ---------------------------------------------------------------------------------- */
/* The checker itself must fail on a wrong gradient and on a non-accumulating backward.  */

static void film_bwd_overwrites(const layer_case *lc, float *const *in, const float *dout,
                                float *const *din)
{
    memset(din[0], 0, (size_t)lc->p[0] * lc->p[1] * lc->p[2] * sizeof(float));
    film_bwd(lc, in, dout, din);
}

static void test_checker_catches_bugs(void)
{
    layer_case lin = linear_case(4, 5, 3, 1);
    lin.corrupt = 1.01; /* one bias gradient 1 % off */
    CHECK(gradcheck(&lin, 80, 0) > 0);
    layer_case f = {.name = "film overwrite", .n_in = 2, .len = {2 * 3 * 4, 2 * 6}, .out_len = 24,
                    .p = {2, 3, 4}, .ref = film_ref, .fwd = film_fwd, .bwd = film_bwd_overwrites};
    CHECK(gradcheck(&f, 81, 0) > 0);
    layer_case ok = linear_case(4, 5, 3, 1);
    CHECK(gradcheck(&ok, 80, 0) == 0);
}

int main(void)
{
    RUN(test_linear);
    RUN(test_conv2d);
    RUN(test_conv2d_shape_errors_and_threads);
    RUN(test_resampling);
    RUN(test_norms);
    RUN(test_film);
    RUN(test_activations);
    RUN(test_embeddings);
    RUN(test_softmax_xent);
    RUN(test_checker_catches_bugs);
    return TEST_SUMMARY();
}
