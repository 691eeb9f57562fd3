/* loss.c — softmax cross-entropy (the classifier's training loss). */
#include <math.h>

#include "drift/nn.h"

void drift_softmax_xent_forward(float *probs, double *mean_loss, const float *logits,
                                const int *labels, int B, int K)
{
    double total = 0.0; /* serial: K is small, and the sum stays in a fixed order */
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        float *p = probs + (size_t)b * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double sum = 0.0;
        for (int k = 0; k < K; k++) sum += exp((double)z[k] - mx);
        for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - mx) / sum);
        /* −log softmax(z)[y] = log Σ exp(z − max) − (z_y − max) */
        total += log(sum) - ((double)z[labels[b]] - mx);
    }
    *mean_loss = total / B;
}

void drift_softmax_xent_backward(float *dlogits, const float *probs, const int *labels, int B,
                                 int K, float dloss)
{
    const float scale = dloss / (float)B;
    for (int b = 0; b < B; b++) {
        float *d = dlogits + (size_t)b * K;
        const float *p = probs + (size_t)b * K;
        for (int k = 0; k < K; k++) d[k] += scale * (p[k] - (k == labels[b] ? 1.0f : 0.0f));
    }
}
