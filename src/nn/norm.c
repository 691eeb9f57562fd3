/* norm.c — group norm, layer norm and FiLM modulation.
 *
 * Statistics are accumulated in float64 (`omp simd` reductions, so still vectorized): a
 * group holds thousands of values and float32 sums would lose digits. Parameter gradients
 * (dgamma, dbeta) are summed per thread into small stack arrays and combined in thread
 * order, so the backward is one pass over the data and reproducible for a fixed thread count.
 */
#include <math.h>
#include <string.h>

#include <omp.h>

#include "drift/nn.h"

#define PAR_THRESHOLD 16384

void drift_groupnorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *gamma, const float *beta, int B, int C, int HW, int G)
{
    const int cg = C / G;
    const size_t n = (size_t)cg * HW;
    #pragma omp parallel for schedule(static) if ((size_t)B * C * HW > PAR_THRESHOLD)
    for (int bg = 0; bg < B * G; bg++) {
        int b = bg / G, g = bg % G;
        const float *x = inp + ((size_t)b * C + (size_t)g * cg) * HW;
        double sum = 0.0;
        #pragma omp simd reduction(+ : sum)
        for (size_t i = 0; i < n; i++) sum += x[i];
        double mu = sum / (double)n, var = 0.0;
        #pragma omp simd reduction(+ : var)
        for (size_t i = 0; i < n; i++) var += (x[i] - mu) * (x[i] - mu);
        float m = (float)mu, rs = (float)(1.0 / sqrt(var / (double)n + DRIFT_NORM_EPS));
        mean[bg] = m, rstd[bg] = rs;
        for (int c = 0; c < cg; c++) {
            int ch = g * cg + c;
            float a = rs * gamma[ch], sh = beta[ch] - m * a;
            const float *xc = x + (size_t)c * HW;
            float *y = out + ((size_t)b * C + ch) * HW;
            #pragma omp simd
            for (int i = 0; i < HW; i++) y[i] = xc[i] * a + sh;
        }
    }
}

void drift_groupnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const float *inp, const float *mean, const float *rstd,
                              const float *gamma, int B, int C, int HW, int G)
{
    const int cg = C / G, nt = omp_get_max_threads();
    const float inv_n = 1.0f / (float)((size_t)cg * HW);
    float part[nt][2 * C]; /* per thread: Σ dy·x̂ then Σ dy, per channel */
    memset(part, 0, sizeof part);
    #pragma omp parallel for schedule(static) if ((size_t)B * C * HW > PAR_THRESHOLD)
    for (int bg = 0; bg < B * G; bg++) {
        int b = bg / G, g = bg % G;
        float *acc = part[omp_get_thread_num()];
        float m = mean[bg], rs = rstd[bg];
        /* first the two group sums the input gradient needs, keeping per-channel parts */
        float s_dxhat = 0.0f, s_dxhat_xhat = 0.0f;
        for (int c = 0; c < cg; c++) {
            int ch = g * cg + c;
            size_t off = ((size_t)b * C + ch) * HW;
            const float *x = inp + off, *dy = dout + off;
            float sdy = 0.0f, sdyx = 0.0f;
            #pragma omp simd reduction(+ : sdy, sdyx)
            for (int i = 0; i < HW; i++) {
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - m) * rs;
            }
            if (dgamma) acc[ch] += sdyx, acc[C + ch] += sdy;
            s_dxhat += gamma[ch] * sdy, s_dxhat_xhat += gamma[ch] * sdyx;
        }
        s_dxhat *= inv_n, s_dxhat_xhat *= inv_n;
        if (!dinp) continue;
        for (int c = 0; c < cg; c++) {
            int ch = g * cg + c;
            size_t off = ((size_t)b * C + ch) * HW;
            const float *x = inp + off, *dy = dout + off;
            float *dx = dinp + off, gm = gamma[ch];
            #pragma omp simd
            for (int i = 0; i < HW; i++) {
                float xhat = (x[i] - m) * rs;
                dx[i] += rs * (gm * dy[i] - s_dxhat - xhat * s_dxhat_xhat);
            }
        }
    }
    if (dgamma)
        for (int t = 0; t < nt; t++)
            for (int ch = 0; ch < C; ch++) dgamma[ch] += part[t][ch], dbeta[ch] += part[t][C + ch];
}

void drift_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                             const float *gamma, const float *beta, int B, int C)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * C > PAR_THRESHOLD)
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * C;
        float *y = out + (size_t)b * C;
        double sum = 0.0, var = 0.0;
        #pragma omp simd reduction(+ : sum)
        for (int i = 0; i < C; i++) sum += x[i];
        double mu = sum / C;
        #pragma omp simd reduction(+ : var)
        for (int i = 0; i < C; i++) var += (x[i] - mu) * (x[i] - mu);
        float m = (float)mu, rs = (float)(1.0 / sqrt(var / C + DRIFT_NORM_EPS));
        mean[b] = m, rstd[b] = rs;
        #pragma omp simd
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rs * gamma[i] + beta[i];
    }
}

void drift_layernorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const float *inp, const float *mean, const float *rstd,
                              const float *gamma, int B, int C)
{
    const int nt = omp_get_max_threads();
    float part[nt][2 * C];
    memset(part, 0, sizeof part);
    #pragma omp parallel for schedule(static) if ((size_t)B * C > PAR_THRESHOLD)
    for (int b = 0; b < B; b++) {
        float *acc = part[omp_get_thread_num()];
        const float *x = inp + (size_t)b * C, *dy = dout + (size_t)b * C;
        float m = mean[b], rs = rstd[b], s1 = 0.0f, s2 = 0.0f;
        #pragma omp simd reduction(+ : s1, s2)
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * rs, dxhat = dy[i] * gamma[i];
            acc[i] += dy[i] * xhat;
            acc[C + i] += dy[i];
            s1 += dxhat;
            s2 += dxhat * xhat;
        }
        s1 /= C, s2 /= C;
        if (!dinp) continue;
        float *dx = dinp + (size_t)b * C;
        #pragma omp simd
        for (int i = 0; i < C; i++) {
            float xhat = (x[i] - m) * rs;
            dx[i] += rs * (dy[i] * gamma[i] - s1 - xhat * s2);
        }
    }
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < C; i++) dgamma[i] += part[t][i], dbeta[i] += part[t][C + i];
}

void drift_film_forward(float *out, const float *inp, const float *mod, int B, int C, int HW)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * C * HW > PAR_THRESHOLD)
    for (int bc = 0; bc < B * C; bc++) {
        int b = bc / C, c = bc % C;
        float scale = 1.0f + mod[(size_t)b * 2 * C + c], shift = mod[(size_t)b * 2 * C + C + c];
        const float *x = inp + (size_t)bc * HW;
        float *y = out + (size_t)bc * HW;
        #pragma omp simd
        for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
    }
}

void drift_film_backward(float *dinp, float *dmod, const float *dout, const float *inp,
                         const float *mod, int B, int C, int HW)
{
    #pragma omp parallel for schedule(static) if ((size_t)B * C * HW > PAR_THRESHOLD)
    for (int bc = 0; bc < B * C; bc++) {
        int b = bc / C, c = bc % C;
        float scale = 1.0f + mod[(size_t)b * 2 * C + c];
        const float *x = inp + (size_t)bc * HW, *dy = dout + (size_t)bc * HW;
        float sdyx = 0.0f, sdy = 0.0f;
        #pragma omp simd reduction(+ : sdyx, sdy)
        for (int i = 0; i < HW; i++) {
            sdyx += dy[i] * x[i];
            sdy += dy[i];
        }
        dmod[(size_t)b * 2 * C + c] += sdyx;
        dmod[(size_t)b * 2 * C + C + c] += sdy;
        if (dinp) {
            float *dx = dinp + (size_t)bc * HW;
            #pragma omp simd
            for (int i = 0; i < HW; i++) dx[i] += dy[i] * scale;
        }
    }
}
