/* embed.c — lookup-table embeddings and sinusoidal features of a scalar. */
#include <math.h>
#include <string.h>

#include "drift/nn.h"

void drift_embedding_forward(float *out, const int *idx, const float *table, int B, int D)
{
    for (int b = 0; b < B; b++)
        memcpy(out + (size_t)b * D, table + (size_t)idx[b] * D, (size_t)D * sizeof(float));
}

void drift_embedding_backward(float *dtable, const float *dout, const int *idx, int B, int D)
{
    /* serial over rows: two rows may share an index (same class), so no races */
    for (int b = 0; b < B; b++) {
        float *row = dtable + (size_t)idx[b] * D;
        const float *g = dout + (size_t)b * D;
        for (int d = 0; d < D; d++) row[d] += g[d];
    }
}

static float sinusoid_freq(int k, int F, float max_freq)
{
    return F == 1 ? 1.0f : powf(max_freq, (float)k / (float)(F - 1));
}

void drift_sinusoidal_forward(float *out, const float *x, int B, int F, float max_freq)
{
    for (int k = 0; k < F; k++) {
        float f = sinusoid_freq(k, F, max_freq);
        for (int b = 0; b < B; b++) {
            out[(size_t)b * 2 * F + k] = sinf(f * x[b]);
            out[(size_t)b * 2 * F + F + k] = cosf(f * x[b]);
        }
    }
}

void drift_sinusoidal_backward(float *dx, const float *dout, const float *x, int B, int F,
                               float max_freq)
{
    for (int b = 0; b < B; b++) {
        float g = 0.0f;
        for (int k = 0; k < F; k++) {
            float f = sinusoid_freq(k, F, max_freq);
            g += f * (dout[(size_t)b * 2 * F + k] * cosf(f * x[b]) -
                      dout[(size_t)b * 2 * F + F + k] * sinf(f * x[b]));
        }
        dx[b] += g;
    }
}
