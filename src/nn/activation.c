/* activation.c — elementwise activations. Each loop is `omp simd` over the fast exp of
 * fastmath.h and split over threads only when the array is large enough to pay. */
#include <math.h>

#include "drift/nn.h"
#include "nn/fastmath.h"

#define PAR_THRESHOLD 32768
#define GELU_K0 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_K1 0.044715f

void drift_silu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * nn_sigmoidf(inp[i]);
}

void drift_silu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    /* d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))) */
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float s = nn_sigmoidf(inp[i]);
        dinp[i] += dout[i] * s * (1.0f + inp[i] * (1.0f - s));
    }
}

void drift_relu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void drift_relu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void drift_gelu_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = nn_tanhf(GELU_K0 * (x + GELU_K1 * x * x * x));
        out[i] = 0.5f * x * (1.0f + t);
    }
}

void drift_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = nn_tanhf(GELU_K0 * (x + GELU_K1 * x * x * x));
        float du = GELU_K0 * (1.0f + 3.0f * GELU_K1 * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
    }
}

void drift_tanh_forward(float *out, const float *inp, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) out[i] = nn_tanhf(inp[i]);
}

void drift_tanh_backward(float *dinp, const float *dout, const float *out, size_t n)
{
    #pragma omp parallel for simd schedule(static) if (n > PAR_THRESHOLD)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}
