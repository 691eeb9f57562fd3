/* transformer.c — the elementwise and per-row layers of the DiT generator: RMS norm, adaLN
 * (RMS norm + per-sample modulation), gated residuals, SwiGLU, rotary position embedding,
 * and patchify / unpatchify. Attention (the only GEMM-heavy part) is in attention.c.
 *
 * Row statistics are accumulated in float64 like norm.c. Per-sample reductions over tokens
 * (dshift, dscale, dgate) are done by the thread that owns the sample, so there are no
 * races and the result is reproducible for a fixed thread count. */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "drift/nn.h"
#include "nn/fastmath.h"

#define PAR_THRESHOLD 16384

/* ---- RMS norm --------------------------------------------------------------------- */

void drift_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int N,
                           int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_THRESHOLD)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        float *y = out + (size_t)r * C;
        double ss = 0.0;
        #pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += (double)x[i] * x[i];
        float rs = (float)(1.0 / sqrt(ss / C + DRIFT_RMS_EPS));
        rstd[r] = rs;
        if (weight) {
            #pragma omp simd
            for (int i = 0; i < C; i++) y[i] = x[i] * rs * weight[i];
        } else {
            #pragma omp simd
            for (int i = 0; i < C; i++) y[i] = x[i] * rs;
        }
    }
}

void drift_rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                            const float *rstd, const float *weight, int N, int C)
{
    /* x̂ = x·r, y = x̂·w: dx̂ = dy·w, dx = r·(dx̂ − x̂·mean(dx̂·x̂)), dw = Σ dy·x̂ */
    const int nt = omp_get_max_threads();
    const int wc = weight ? C : 1;
    float part[nt][wc];
    memset(part, 0, sizeof part);
    #pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_THRESHOLD)
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C, *dy = dout + (size_t)r * C;
        float *acc = part[omp_get_thread_num()];
        const float rs = rstd[r];
        float s = 0.0f;
        if (weight) {
            #pragma omp simd reduction(+ : s)
            for (int i = 0; i < C; i++) {
                float xh = x[i] * rs;
                acc[i] += dy[i] * xh;
                s += dy[i] * weight[i] * xh;
            }
        } else {
            #pragma omp simd reduction(+ : s)
            for (int i = 0; i < C; i++) s += dy[i] * x[i] * rs;
        }
        s /= C;
        if (!dinp) continue;
        float *dx = dinp + (size_t)r * C;
        #pragma omp simd
        for (int i = 0; i < C; i++)
            dx[i] += rs * ((weight ? weight[i] : 1.0f) * dy[i] - x[i] * rs * s);
    }
    if (dweight)
        for (int t = 0; t < nt; t++)
            for (int i = 0; i < C; i++) dweight[i] += part[t][i];
}

/* ---- adaLN: RMS norm + modulation ------------------------------------------------- */

void drift_adaln_forward(float *out, float *rstd, const float *inp, const float *shift,
                         const float *scale, int ld, int B, int T, int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_THRESHOLD)
    for (int bt = 0; bt < B * T; bt++) {
        const int b = bt / T;
        const float *x = inp + (size_t)bt * C, *sh = shift + (size_t)b * ld, *sc = scale + (size_t)b * ld;
        float *y = out + (size_t)bt * C;
        double ss = 0.0;
        #pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++) ss += (double)x[i] * x[i];
        float rs = (float)(1.0 / sqrt(ss / C + DRIFT_RMS_EPS));
        rstd[bt] = rs;
        #pragma omp simd
        for (int i = 0; i < C; i++) y[i] = x[i] * rs * (1.0f + sc[i]) + sh[i];
    }
}

void drift_adaln_backward(float *dinp, float *dshift, float *dscale, const float *dout,
                          const float *inp, const float *rstd, const float *scale, int ld, int B,
                          int T, int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_THRESHOLD)
    for (int b = 0; b < B; b++) {
        const float *sc = scale + (size_t)b * ld;
        float *dsh = dshift + (size_t)b * ld, *dsc = dscale + (size_t)b * ld;
        for (int t = 0; t < T; t++) {
            const size_t r = (size_t)b * T + t;
            const float *x = inp + r * C, *dy = dout + r * C;
            const float rs = rstd[r];
            float s = 0.0f;
            #pragma omp simd reduction(+ : s)
            for (int i = 0; i < C; i++) {
                float xh = x[i] * rs;
                dsh[i] += dy[i];
                dsc[i] += dy[i] * xh;
                s += dy[i] * (1.0f + sc[i]) * xh;
            }
            s /= C;
            if (!dinp) continue;
            float *dx = dinp + r * C;
            #pragma omp simd
            for (int i = 0; i < C; i++) dx[i] += rs * ((1.0f + sc[i]) * dy[i] - x[i] * rs * s);
        }
    }
}

/* ---- gated residual --------------------------------------------------------------- */

void drift_gated_residual_forward(float *out, const float *x, const float *y, const float *gate,
                                  int ld, int B, int T, int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_THRESHOLD)
    for (int bt = 0; bt < B * T; bt++) {
        const float *g = gate + (size_t)(bt / T) * ld, *xr = x + (size_t)bt * C, *yr = y + (size_t)bt * C;
        float *o = out + (size_t)bt * C;
        #pragma omp simd
        for (int i = 0; i < C; i++) o[i] = xr[i] + g[i] * yr[i];
    }
}

void drift_gated_residual_backward(float *dx, float *dy, float *dgate, const float *dout,
                                   const float *y, const float *gate, int ld, int B, int T, int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_THRESHOLD)
    for (int b = 0; b < B; b++) {
        const float *g = gate + (size_t)b * ld;
        float *dg = dgate + (size_t)b * ld;
        for (int t = 0; t < T; t++) {
            const size_t off = ((size_t)b * T + t) * C;
            const float *d = dout + off, *yr = y + off;
            #pragma omp simd
            for (int i = 0; i < C; i++) dg[i] += d[i] * yr[i];
            if (dy) {
                float *o = dy + off;
                #pragma omp simd
                for (int i = 0; i < C; i++) o[i] += g[i] * d[i];
            }
            if (dx) {
                float *o = dx + off;
                #pragma omp simd
                for (int i = 0; i < C; i++) o[i] += d[i];
            }
        }
    }
}

/* ---- SwiGLU ----------------------------------------------------------------------- */

void drift_swiglu_forward(float *out, const float *a, const float *g, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > 2 * PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) out[i] = a[i] * nn_sigmoidf(a[i]) * g[i];
}

void drift_swiglu_backward(float *da, float *dg, const float *dout, const float *a, const float *g,
                           size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > 2 * PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float s = nn_sigmoidf(a[i]);
        da[i] += dout[i] * g[i] * s * (1.0f + a[i] * (1.0f - s));
        dg[i] += dout[i] * a[i] * s;
    }
}

/* ---- rotary position embedding ---------------------------------------------------- */

void drift_rope_forward(float *out, const float *inp, const float *cosv, const float *sinv, int B,
                        int T, int NH, int HD)
{
    const int P = HD / 2;
    #pragma omp parallel for schedule(static) if ((size_t)B * T * NH * HD > PAR_THRESHOLD)
    for (int bt = 0; bt < B * T; bt++) {
        const float *cs = cosv + (size_t)(bt % T) * P, *sn = sinv + (size_t)(bt % T) * P;
        for (int h = 0; h < NH; h++) {
            const size_t off = ((size_t)bt * NH + h) * HD;
            const float *x = inp + off;
            float *y = out + off;
            for (int k = 0; k < P; k++) {
                float x0 = x[2 * k], x1 = x[2 * k + 1];
                y[2 * k] = x0 * cs[k] - x1 * sn[k];
                y[2 * k + 1] = x0 * sn[k] + x1 * cs[k];
            }
        }
    }
}

void drift_rope_backward(float *dinp, const float *dout, const float *cosv, const float *sinv,
                         int B, int T, int NH, int HD)
{
    const int P = HD / 2;
    #pragma omp parallel for schedule(static) if ((size_t)B * T * NH * HD > PAR_THRESHOLD)
    for (int bt = 0; bt < B * T; bt++) {
        const float *cs = cosv + (size_t)(bt % T) * P, *sn = sinv + (size_t)(bt % T) * P;
        for (int h = 0; h < NH; h++) {
            const size_t off = ((size_t)bt * NH + h) * HD;
            const float *d = dout + off;
            float *dx = dinp + off;
            for (int k = 0; k < P; k++) {
                float d0 = d[2 * k], d1 = d[2 * k + 1];
                dx[2 * k] += d0 * cs[k] + d1 * sn[k];
                dx[2 * k + 1] += -d0 * sn[k] + d1 * cs[k];
            }
        }
    }
}

void drift_rope2d_table(float *cosv, float *sinv, const int *row, const int *col, int T, int HD,
                        float base)
{
    const int Q = HD / 4, P = HD / 2;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < P; k++) {
            int kk = k < Q ? k : k - Q;
            double freq = pow((double)base, -(double)kk / Q);
            double ang = (k < Q ? row[t] : col[t]) * freq;
            cosv[(size_t)t * P + k] = (float)cos(ang);
            sinv[(size_t)t * P + k] = (float)sin(ang);
        }
}

/* ---- patchify / unpatchify -------------------------------------------------------- */

/* One copy loop for all four directions: dir 0 image -> tokens, 1 tokens -> image;
 * acc: += instead of =. */
static void patch_copy(float *dst, const float *src, int B, int C, int H, int W, int p, int S,
                       int t0, int to_image, int acc)
{
    const int GW = W / p, T = (H / p) * GW, D = C * p * p;
    #pragma omp parallel for schedule(static) if ((size_t)B * C * H * W > PAR_THRESHOLD)
    for (int bt = 0; bt < B * T; bt++) {
        const int b = bt / T, t = bt % T, i = t / GW, j = t % GW;
        const size_t tok = ((size_t)b * S + t0 + t) * D;
        for (int c = 0; c < C; c++)
            for (int di = 0; di < p; di++) {
                const size_t pix = (((size_t)b * C + c) * H + (size_t)i * p + di) * W + (size_t)j * p;
                const size_t tk = tok + ((size_t)c * p + di) * p;
                float *d = to_image ? dst + pix : dst + tk;
                const float *s = to_image ? src + tk : src + pix;
                if (acc)
                    for (int dj = 0; dj < p; dj++) d[dj] += s[dj];
                else
                    memcpy(d, s, (size_t)p * sizeof(float));
            }
    }
}

void drift_patchify_forward(float *tok, const float *img, int B, int C, int H, int W, int p, int S,
                            int t0)
{
    patch_copy(tok, img, B, C, H, W, p, S, t0, 0, 0);
}

void drift_patchify_backward(float *dimg, const float *dtok, int B, int C, int H, int W, int p,
                             int S, int t0)
{
    patch_copy(dimg, dtok, B, C, H, W, p, S, t0, 1, 1);
}

void drift_unpatchify_forward(float *img, const float *tok, int B, int C, int H, int W, int p,
                              int S, int t0)
{
    patch_copy(img, tok, B, C, H, W, p, S, t0, 1, 0);
}

void drift_unpatchify_backward(float *dtok, const float *dimg, int B, int C, int H, int W, int p,
                               int S, int t0)
{
    patch_copy(dtok, dimg, B, C, H, W, p, S, t0, 0, 1);
}
