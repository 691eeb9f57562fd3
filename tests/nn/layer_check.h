/* layer_check.h — the layer gradient checker shared by the tests of drift/nn.h.
 *
 * A layer_case describes one layer call: its differentiable inputs (data first, then
 * parameters), a plain float64 reference forward, and the library's float32 forward and
 * backward. gradcheck() compares the forward with the reference and the analytic backward
 * with central finite differences of the reference, for every input array (up to ~300
 * entries each). Gradient buffers are pre-filled with random values, so a backward that
 * overwrites instead of accumulating fails. */
#ifndef DRIFT_TEST_LAYER_CHECK_H
#define DRIFT_TEST_LAYER_CHECK_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drift/core.h"
#include "drift/nn.h"
#include "drift/rng.h"
#include "test.h"

#define MAX_IN 6

typedef struct layer_case layer_case;
struct layer_case {
    const char *name;
    int n_in;                      /* differentiable arrays: data first, then parameters */
    size_t len[MAX_IN];
    size_t out_len;
    int p[10];                     /* shape integers, meaning per layer */
    float fp;                      /* a float option (sinusoidal max frequency) */
    const int *idx;                /* indices (embedding rows, class labels) */
    /* float64 reference forward */
    void (*ref)(const layer_case *lc, double *const *in, double *out);
    /* float32 library forward; the backward runs the forward again for its caches */
    void (*fwd)(const layer_case *lc, float *const *in, float *out);
    void (*bwd)(const layer_case *lc, float *const *in, const float *dout, float *const *din);
    double corrupt;                /* checker self-test: scale one gradient entry by this */
    int fd_entries;                /* entries checked per array (0: up to 300) */
};

/* ---------------------------------------------------------------------------------- */
/* The checker. Returns the number of mismatching entries (forward and gradients).      */

static inline size_t idx_max(size_t a, size_t b) { return a > b ? a : b; }

static inline int gradcheck(const layer_case *lc, uint64_t seed, int count_checks)
{
    drift_rng rng;
    drift_rng_init(&rng, seed, 0);
    float *x32[MAX_IN], *din[MAX_IN], *pre[MAX_IN];
    double *x64[MAX_IN];
    for (int i = 0; i < lc->n_in; i++) {
        x32[i] = drift_alloc(lc->len[i], sizeof(float));
        din[i] = drift_alloc(lc->len[i], sizeof(float));
        pre[i] = drift_alloc(lc->len[i], sizeof(float));
        x64[i] = drift_alloc(lc->len[i], sizeof(double));
        drift_rng_fill_normal(&rng, x32[i], lc->len[i], 0.0f, 1.0f);
        drift_rng_fill_normal(&rng, pre[i], lc->len[i], 0.0f, 1.0f);
        for (size_t j = 0; j < lc->len[i]; j++) x64[i][j] = x32[i][j];
    }
    float *out32 = drift_alloc(lc->out_len, sizeof(float));
    float *w32 = drift_alloc(lc->out_len, sizeof(float));
    double *out64 = drift_alloc(lc->out_len, sizeof(double));
    drift_rng_fill_normal(&rng, w32, lc->out_len, 0.0f, 1.0f);
    int bad = 0;

    /* forward against the float64 reference */
    lc->fwd(lc, x32, out32);
    lc->ref(lc, x64, out64);
    double maxref = 0.0, maxerr = 0.0;
    for (size_t k = 0; k < lc->out_len; k++) {
        maxref = fmax(maxref, fabs(out64[k]));
        maxerr = fmax(maxerr, fabs(out32[k] - out64[k]));
    }
    if (!(maxerr <= 2e-5 * (1.0 + maxref))) {
        bad++;
        if (count_checks)
            CHECK_MSG(0, "%s forward: max error %.3g (max |ref| %.3g)", lc->name, maxerr, maxref);
    } else if (count_checks) {
        CHECK(1);
    }

    /* analytic gradients of L = Σ w · out, accumulated on top of random values */
    for (int i = 0; i < lc->n_in; i++) memcpy(din[i], pre[i], lc->len[i] * sizeof(float));
    lc->bwd(lc, x32, w32, din);
    if (lc->corrupt != 0.0) din[lc->n_in - 1][0] = pre[lc->n_in - 1][0] +
                                                   (float)((din[lc->n_in - 1][0] - pre[lc->n_in - 1][0]) * lc->corrupt);

    /* central differences of the float64 reference, at most ~300 entries per array */
    for (int i = 0; i < lc->n_in; i++) {
        size_t n = lc->len[i], stride = idx_max(1, n / (lc->fd_entries ? lc->fd_entries : 300));
        size_t m = (n + stride - 1) / stride;
        double *fd = drift_alloc(m, sizeof(double)), *an = drift_alloc(m, sizeof(double));
        double fdmax = 0.0;
        for (size_t t = 0; t < m; t++) {
            size_t j = t * stride;
            double keep = x64[i][j], h = 1e-6 * fmax(1.0, fabs(keep));
            double lp = 0.0, lm = 0.0;
            x64[i][j] = keep + h;
            lc->ref(lc, x64, out64);
            for (size_t k = 0; k < lc->out_len; k++) lp += w32[k] * out64[k];
            x64[i][j] = keep - h;
            lc->ref(lc, x64, out64);
            for (size_t k = 0; k < lc->out_len; k++) lm += w32[k] * out64[k];
            x64[i][j] = keep;
            fd[t] = (lp - lm) / (2.0 * h);
            an[t] = (double)din[i][j] - (double)pre[i][j];
            fdmax = fmax(fdmax, fabs(fd[t]));
        }
        int arr_bad = 0;
        size_t first = 0;
        for (size_t t = 0; t < m; t++) {
            double tol = 1e-4 * fdmax + 1e-3 * fabs(fd[t]) + 1e-6;
            if (!(fabs(an[t] - fd[t]) <= tol)) {
                if (!arr_bad) first = t;
                arr_bad++;
            }
        }
        if (count_checks)
            CHECK_MSG(arr_bad == 0, "%s d(input %d): %d of %zu entries off, first [%zu] %.8g vs fd %.8g",
                      lc->name, i, arr_bad, m, first * stride, an[first], fd[first]);
        bad += arr_bad;
        drift_free(fd);
        drift_free(an);
    }
    for (int i = 0; i < lc->n_in; i++) {
        drift_free(x32[i]);
        drift_free(din[i]);
        drift_free(pre[i]);
        drift_free(x64[i]);
    }
    drift_free(out32);
    drift_free(w32);
    drift_free(out64);
    return bad;
}

#endif
