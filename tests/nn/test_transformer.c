/* Tests for the transformer layers of drift/nn.h (transformer.c, attention.c): RMS norm,
 * adaLN, gated residual, SwiGLU, rotary embedding, patchify / unpatchify and multi-head
 * attention, each against a plain float64 reference forward written here and with its
 * backward against central finite differences of that reference (layer_check.h). Plus
 * properties that pin the conventions: RoPE scores depend only on the position offset,
 * unpatchify inverts patchify, and attention with fewer work threads gives the same bits. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/nn.h"
#include "drift/rng.h"
#include "test.h"

#include "layer_check.h"

/* ---------------------------------------------------------------------------------- */
/* RMS norm: p = {N, C, has_weight}; x, (w)                                             */

static void rms_ref(const layer_case *lc, double *const *in, double *out)
{
    int N = lc->p[0], C = lc->p[1];
    for (int r = 0; r < N; r++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += in[0][r * C + i] * in[0][r * C + i];
        double rs = 1.0 / sqrt(ss / C + DRIFT_RMS_EPS);
        for (int i = 0; i < C; i++) out[r * C + i] = in[0][r * C + i] * rs * (lc->p[2] ? in[1][i] : 1.0);
    }
}
static void rms_fwd(const layer_case *lc, float *const *in, float *out)
{
    float *rstd = drift_alloc((size_t)lc->p[0], 4);
    drift_rmsnorm_forward(out, rstd, in[0], lc->p[2] ? in[1] : NULL, lc->p[0], lc->p[1]);
    drift_free(rstd);
}
static void rms_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    int N = lc->p[0], C = lc->p[1];
    float *rstd = drift_alloc((size_t)N, 4), *o = drift_alloc((size_t)N * C, 4);
    drift_rmsnorm_forward(o, rstd, in[0], lc->p[2] ? in[1] : NULL, N, C);
    drift_rmsnorm_backward(din[0], lc->p[2] ? din[1] : NULL, dout, in[0], rstd,
                           lc->p[2] ? in[1] : NULL, N, C);
    drift_free(rstd), drift_free(o);
}
static layer_case rms_case(int N, int C, int w)
{
    layer_case lc = {.name = w ? "rmsnorm" : "rmsnorm (no weight)", .n_in = w ? 2 : 1,
                     .out_len = (size_t)N * C, .p = {N, C, w}, .ref = rms_ref, .fwd = rms_fwd,
                     .bwd = rms_bwd};
    lc.len[0] = (size_t)N * C, lc.len[1] = (size_t)C;
    return lc;
}

/* ---------------------------------------------------------------------------------- */
/* adaLN: p = {B, T, C, ld, shift_off, scale_off}; x, mod (B, ld)                       */

static void adaln_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], T = lc->p[1], C = lc->p[2], ld = lc->p[3], so = lc->p[4], co = lc->p[5];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const double *x = in[0] + (b * T + t) * C;
            double ss = 0;
            for (int i = 0; i < C; i++) ss += x[i] * x[i];
            double rs = 1.0 / sqrt(ss / C + DRIFT_RMS_EPS);
            for (int i = 0; i < C; i++)
                out[(b * T + t) * C + i] = x[i] * rs * (1 + in[1][b * ld + co + i]) + in[1][b * ld + so + i];
        }
}
static void adaln_fwd(const layer_case *lc, float *const *in, float *out)
{
    float *rstd = drift_alloc((size_t)lc->p[0] * lc->p[1], 4);
    drift_adaln_forward(out, rstd, in[0], in[1] + lc->p[4], in[1] + lc->p[5], lc->p[3], lc->p[0],
                        lc->p[1], lc->p[2]);
    drift_free(rstd);
}
static void adaln_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    int B = lc->p[0], T = lc->p[1], C = lc->p[2], ld = lc->p[3];
    float *rstd = drift_alloc((size_t)B * T, 4), *o = drift_alloc((size_t)B * T * C, 4);
    drift_adaln_forward(o, rstd, in[0], in[1] + lc->p[4], in[1] + lc->p[5], ld, B, T, C);
    drift_adaln_backward(din[0], din[1] + lc->p[4], din[1] + lc->p[5], dout, in[0], rstd,
                         in[1] + lc->p[5], ld, B, T, C);
    drift_free(rstd), drift_free(o);
}
static layer_case adaln_case(int B, int T, int C)
{
    const int ld = 6 * C;
    layer_case lc = {.name = "adaln", .n_in = 2, .out_len = (size_t)B * T * C,
                     .p = {B, T, C, ld, 3 * C, 4 * C}, .ref = adaln_ref, .fwd = adaln_fwd,
                     .bwd = adaln_bwd};
    lc.len[0] = (size_t)B * T * C, lc.len[1] = (size_t)B * ld;
    return lc;
}

/* ---------------------------------------------------------------------------------- */
/* gated residual: p = {B, T, C, ld, gate_off}; x, y, mod                              */

static void gres_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], T = lc->p[1], C = lc->p[2], ld = lc->p[3], go = lc->p[4];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < C; i++) {
                int j = (b * T + t) * C + i;
                out[j] = in[0][j] + in[2][b * ld + go + i] * in[1][j];
            }
}
static void gres_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_gated_residual_forward(out, in[0], in[1], in[2] + lc->p[4], lc->p[3], lc->p[0], lc->p[1], lc->p[2]);
}
static void gres_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_gated_residual_backward(din[0], din[1], din[2] + lc->p[4], dout, in[1], in[2] + lc->p[4],
                                  lc->p[3], lc->p[0], lc->p[1], lc->p[2]);
}
static layer_case gres_case(int B, int T, int C)
{
    layer_case lc = {.name = "gated residual", .n_in = 3, .out_len = (size_t)B * T * C,
                     .p = {B, T, C, 6 * C, 2 * C}, .ref = gres_ref, .fwd = gres_fwd, .bwd = gres_bwd};
    lc.len[0] = lc.len[1] = (size_t)B * T * C, lc.len[2] = (size_t)B * 6 * C;
    return lc;
}

/* ---------------------------------------------------------------------------------- */
/* SwiGLU: p = {n}; a, g                                                                */

static void swiglu_ref(const layer_case *lc, double *const *in, double *out)
{
    for (int i = 0; i < lc->p[0]; i++) out[i] = in[0][i] / (1 + exp(-in[0][i])) * in[1][i];
}
static void swiglu_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_swiglu_forward(out, in[0], in[1], (size_t)lc->p[0]);
}
static void swiglu_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_swiglu_backward(din[0], din[1], dout, in[0], in[1], (size_t)lc->p[0]);
}

/* ---------------------------------------------------------------------------------- */
/* RoPE: p = {B, T, NH, HD}; x; the table in a static buffer                            */

static float rope_cos[4096], rope_sin[4096];

static void rope_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], T = lc->p[1], NH = lc->p[2], HD = lc->p[3], P = HD / 2;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++)
                for (int k = 0; k < P; k++) {
                    int o = ((b * T + t) * NH + h) * HD + 2 * k;
                    double c = rope_cos[t * P + k], s = rope_sin[t * P + k];
                    out[o] = in[0][o] * c - in[0][o + 1] * s;
                    out[o + 1] = in[0][o] * s + in[0][o + 1] * c;
                }
}
static void rope_fwd(const layer_case *lc, float *const *in, float *out)
{
    drift_rope_forward(out, in[0], rope_cos, rope_sin, lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}
static void rope_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    drift_rope_backward(din[0], dout, rope_cos, rope_sin, lc->p[0], lc->p[1], lc->p[2], lc->p[3]);
}

/* ---------------------------------------------------------------------------------- */
/* patchify / unpatchify: p = {B, C, H, W, patch, S, t0, unpatch}                        */

static void patch_index(const layer_case *lc, int b, int c, int y, int x, size_t *pix, size_t *tok)
{
    int C = lc->p[1], H = lc->p[2], W = lc->p[3], pp = lc->p[4], S = lc->p[5], t0 = lc->p[6];
    int t = (y / pp) * (W / pp) + x / pp;
    *pix = (((size_t)b * C + c) * H + y) * W + x;
    *tok = ((size_t)b * S + t0 + t) * (C * pp * pp) + ((size_t)c * pp + y % pp) * pp + x % pp;
}
static void patch_ref(const layer_case *lc, double *const *in, double *out)
{
    memset(out, 0, lc->out_len * sizeof(double));
    for (int b = 0; b < lc->p[0]; b++)
        for (int c = 0; c < lc->p[1]; c++)
            for (int y = 0; y < lc->p[2]; y++)
                for (int x = 0; x < lc->p[3]; x++) {
                    size_t pix, tok;
                    patch_index(lc, b, c, y, x, &pix, &tok);
                    if (lc->p[7]) out[pix] = in[0][tok];
                    else out[tok] = in[0][pix];
                }
}
static void patch_fwd(const layer_case *lc, float *const *in, float *out)
{
    const int *p = lc->p;
    memset(out, 0, lc->out_len * sizeof(float));
    if (p[7]) drift_unpatchify_forward(out, in[0], p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    else drift_patchify_forward(out, in[0], p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
}
static void patch_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    const int *p = lc->p;
    if (p[7]) drift_unpatchify_backward(din[0], dout, p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
    else drift_patchify_backward(din[0], dout, p[0], p[1], p[2], p[3], p[4], p[5], p[6]);
}
static layer_case patch_case(int B, int C, int H, int W, int pp, int extra, int unpatch)
{
    int T = (H / pp) * (W / pp), S = T + extra;
    size_t img = (size_t)B * C * H * W, tok = (size_t)B * S * C * pp * pp;
    layer_case lc = {.name = unpatch ? "unpatchify" : "patchify", .n_in = 1,
                     .out_len = unpatch ? img : tok, .p = {B, C, H, W, pp, S, extra, unpatch},
                     .ref = patch_ref, .fwd = patch_fwd, .bwd = patch_bwd};
    lc.len[0] = unpatch ? tok : img;
    return lc;
}

/* ---------------------------------------------------------------------------------- */
/* attention: p = {B, T, NH, HD, ld_qkv, ld_out, threads}; one array holding q | k | v     */

static void attn_ref(const layer_case *lc, double *const *in, double *out)
{
    int B = lc->p[0], T = lc->p[1], NH = lc->p[2], HD = lc->p[3], ld = lc->p[4], ldo = lc->p[5];
    int D = NH * HD;
    double s[64];
    memset(out, 0, lc->out_len * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const double *q = in[0] + (size_t)(b * T + i) * ld + h * HD;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < T; j++) {
                    const double *k = in[0] + (size_t)(b * T + j) * ld + D + h * HD;
                    double d = 0;
                    for (int c = 0; c < HD; c++) d += q[c] * k[c];
                    s[j] = d / sqrt((double)HD);
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j < T; j++) sum += (s[j] = exp(s[j] - mx));
                for (int c = 0; c < HD; c++) {
                    double o = 0;
                    for (int j = 0; j < T; j++) o += s[j] / sum * in[0][(size_t)(b * T + j) * ld + 2 * D + h * HD + c];
                    out[(size_t)(b * T + i) * ldo + h * HD + c] = o;
                }
            }
}
static void attn_run(const layer_case *lc, float *const *in, float *out, float *lse, float **work,
                     size_t *nw)
{
    int B = lc->p[0], T = lc->p[1], NH = lc->p[2], HD = lc->p[3], ld = lc->p[4], ldo = lc->p[5];
    int D = NH * HD;
    *nw = drift_attention_work_floats(T, lc->p[6]);
    *work = drift_alloc(*nw, 4);
    drift_attention_forward(out, lse, in[0], in[0] + D, in[0] + 2 * D, B, T, NH, HD, ld, ld, ld, ldo,
                            *work, *nw);
}
static void attn_fwd(const layer_case *lc, float *const *in, float *out)
{
    float *lse = drift_alloc((size_t)lc->p[0] * lc->p[1] * lc->p[2], 4), *work;
    size_t nw;
    attn_run(lc, in, out, lse, &work, &nw);
    drift_free(lse), drift_free(work);
}
static void attn_bwd(const layer_case *lc, float *const *in, const float *dout, float *const *din)
{
    int B = lc->p[0], T = lc->p[1], NH = lc->p[2], HD = lc->p[3], ld = lc->p[4], ldo = lc->p[5];
    int D = NH * HD;
    float *lse = drift_alloc((size_t)B * T * NH, 4), *o = drift_alloc(lc->out_len, 4), *work;
    size_t nw;
    attn_run(lc, in, o, lse, &work, &nw);
    drift_attention_backward(din[0], din[0] + D, din[0] + 2 * D, dout, in[0], in[0] + D, in[0] + 2 * D,
                             o, lse, B, T, NH, HD, ld, ld, ld, ldo, work, nw);
    drift_free(lse), drift_free(o), drift_free(work);
}
static layer_case attn_case(int B, int T, int NH, int HD, int pad, int threads)
{
    int D = NH * HD, ld = 3 * D + pad;
    layer_case lc = {.name = "attention", .n_in = 1, .out_len = (size_t)B * T * D,
                     .p = {B, T, NH, HD, ld, D, threads}, .ref = attn_ref, .fwd = attn_fwd,
                     .bwd = attn_bwd, .fd_entries = 200};
    lc.len[0] = (size_t)B * T * ld;
    return lc;
}

/* ---------------------------------------------------------------------------------- */

static void test_rmsnorm(void)
{
    layer_case a = rms_case(7, 12, 1), b = rms_case(5, 8, 0), c = rms_case(2100, 16, 1);
    gradcheck(&a, 1, 1);
    gradcheck(&b, 2, 1);
    gradcheck(&c, 3, 1); /* threaded, per-thread weight-gradient parts */
}

static void test_adaln_and_gate(void)
{
    layer_case a = adaln_case(3, 5, 8), b = adaln_case(4, 130, 40), g = gres_case(3, 4, 6);
    layer_case g2 = gres_case(5, 100, 40);
    gradcheck(&a, 10, 1);
    gradcheck(&b, 11, 1); /* threaded */
    gradcheck(&g, 12, 1);
    gradcheck(&g2, 13, 1);
}

static void test_swiglu(void)
{
    layer_case a = {.name = "swiglu", .n_in = 2, .out_len = 50, .p = {50}, .ref = swiglu_ref,
                    .fwd = swiglu_fwd, .bwd = swiglu_bwd};
    a.len[0] = a.len[1] = 50;
    layer_case b = a;
    b.out_len = b.len[0] = b.len[1] = 70000, b.p[0] = 70000; /* threaded */
    gradcheck(&a, 20, 1);
    gradcheck(&b, 21, 1);
}

static void test_rope(void)
{
    /* a 2-D table for a 3×2 grid after one unrotated token, HD = 8 */
    const int T = 7, HD = 8, P = HD / 2;
    int row[7] = {0, 1, 1, 2, 2, 3, 3}, col[7] = {0, 1, 2, 1, 2, 1, 2};
    drift_rope2d_table(rope_cos, rope_sin, row, col, T, HD, 100.0f);
    /* the table: pairs 0, 1 turn with the row at 1 and 1/10, pairs 2, 3 with the column */
    const double f[4] = {1, 0.1, 1, 0.1};
    double err = 0;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < P; k++) {
            double ang = (k < 2 ? row[t] : col[t]) * f[k];
            err = fmax(err, fabs(rope_cos[t * P + k] - cos(ang)) + fabs(rope_sin[t * P + k] - sin(ang)));
        }
    CHECK_MSG(err < 1e-6, "rope2d table off by %g", err);
    layer_case a = {.name = "rope", .n_in = 1, .out_len = (size_t)2 * T * 3 * HD, .p = {2, T, 3, HD},
                    .ref = rope_ref, .fwd = rope_fwd, .bwd = rope_bwd};
    a.len[0] = a.out_len;
    gradcheck(&a, 30, 1);

    /* relative positions: q·k after rotation depends only on (Δrow, Δcol). Tokens 1→4 and
     * 2→5 are both (+1, 0) apart; 1→2 is (0, +1) and must differ. */
    drift_rng r;
    drift_rng_init(&r, 31, 0);
    float q[8], k[8], x[7 * 8], y[7 * 8];
    drift_rng_fill_normal(&r, q, 8, 0, 1);
    drift_rng_fill_normal(&r, k, 8, 0, 1);
    for (int t = 0; t < T; t++) memcpy(x + t * 8, t % 2 ? q : k, sizeof q);
    drift_rope_forward(y, x, rope_cos, rope_sin, 1, T, 1, HD);
    /* q at token 1 (1,1) · k at token 4 (2,2) and q at token 3 (2,1) · k at token 6 (3,2)
     * are both (+1, +1) apart; q at 1 · k at token 2 (1,2) is (0, +1) */
    double d14 = 0, d36 = 0, d12 = 0;
    for (int c = 0; c < 8; c++) {
        d14 += (double)y[1 * 8 + c] * y[4 * 8 + c];
        d36 += (double)y[3 * 8 + c] * y[6 * 8 + c];
        d12 += (double)y[1 * 8 + c] * y[2 * 8 + c];
    }
    CHECK_CLOSE(d14, d36, 1e-5, 1e-5);
    CHECK_MSG(fabs(d12 - d14) > 1e-3, "different offsets gave the same score %g", d12);
}

static void test_patchify(void)
{
    layer_case a = patch_case(2, 3, 6, 4, 2, 0, 0), b = patch_case(2, 2, 4, 6, 2, 3, 1);
    layer_case c = patch_case(3, 1, 28, 28, 7, 4, 1), d = patch_case(50, 1, 28, 28, 4, 0, 0);
    gradcheck(&a, 40, 1);
    gradcheck(&b, 41, 1);
    gradcheck(&c, 42, 1);
    gradcheck(&d, 43, 1); /* threaded */
    /* unpatchify ∘ patchify is the identity */
    const int B = 2, C = 2, H = 12, W = 8, p = 4, T = 6, S = T + 2;
    float img[2 * 2 * 12 * 8], tok[2 * 8 * 2 * 16], back[2 * 2 * 12 * 8];
    for (int i = 0; i < B * C * H * W; i++) img[i] = (float)i;
    drift_patchify_forward(tok, img, B, C, H, W, p, S, 2);
    drift_unpatchify_forward(back, tok, B, C, H, W, p, S, 2);
    CHECK(memcmp(img, back, sizeof img) == 0);
    /* token 1 of sample 0 (after 2 leading tokens) starts with pixel (c 0, y 0, x 4) */
    CHECK(tok[(0 * S + 2 + 1) * C * p * p] == 4.0f);
}

static void test_attention(void)
{
    layer_case a = attn_case(2, 5, 2, 4, 0, 1), b = attn_case(3, 9, 3, 8, 5, 2);
    layer_case c = attn_case(2, 40, 2, 16, 1, 4);
    gradcheck(&a, 50, 1);
    gradcheck(&b, 51, 1);
    gradcheck(&c, 52, 1);

    /* fewer work threads: the same bits (each (sample, head) is computed by one thread) */
    const int B = 4, T = 33, NH = 4, HD = 8, D = NH * HD, ld = 3 * D;
    drift_rng r;
    drift_rng_init(&r, 53, 0);
    float *x = drift_alloc((size_t)B * T * ld, 4), *o1 = drift_alloc((size_t)B * T * D, 4);
    float *o2 = drift_alloc((size_t)B * T * D, 4), *l1 = drift_alloc((size_t)B * NH * T, 4);
    float *l2 = drift_alloc((size_t)B * NH * T, 4), *dout = drift_alloc((size_t)B * T * D, 4);
    float *g1 = drift_alloc((size_t)B * T * ld, 4), *g2 = drift_alloc((size_t)B * T * ld, 4);
    drift_rng_fill_normal(&r, x, (size_t)B * T * ld, 0, 2);
    drift_rng_fill_normal(&r, dout, (size_t)B * T * D, 0, 1);
    size_t n1 = drift_attention_work_floats(T, 1), n4 = drift_attention_work_floats(T, 4);
    float *w = drift_alloc(n4, 4);
    drift_attention_forward(o1, l1, x, x + D, x + 2 * D, B, T, NH, HD, ld, ld, ld, D, w, n1);
    drift_attention_backward(g1, g1 + D, g1 + 2 * D, dout, x, x + D, x + 2 * D, o1, l1, B, T, NH, HD,
                             ld, ld, ld, D, w, n1);
    drift_attention_forward(o2, l2, x, x + D, x + 2 * D, B, T, NH, HD, ld, ld, ld, D, w, n4);
    drift_attention_backward(g2, g2 + D, g2 + 2 * D, dout, x, x + D, x + 2 * D, o2, l2, B, T, NH, HD,
                             ld, ld, ld, D, w, n4);
    CHECK(memcmp(o1, o2, (size_t)B * T * D * 4) == 0);
    CHECK(memcmp(g1, g2, (size_t)B * T * ld * 4) == 0);
    CHECK(drift_all_finite_f32(o1, (size_t)B * T * D) && drift_all_finite_f32(g1, (size_t)B * T * ld));
    drift_free(x), drift_free(o1), drift_free(o2), drift_free(l1), drift_free(l2), drift_free(dout);
    drift_free(g1), drift_free(g2), drift_free(w);
}

int main(void)
{
    RUN(test_rmsnorm);
    RUN(test_adaln_and_gate);
    RUN(test_swiglu);
    RUN(test_rope);
    RUN(test_patchify);
    RUN(test_attention);
    return TEST_SUMMARY();
}
